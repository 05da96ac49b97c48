/*
 * The reference documentation in traces/ against the code: every scenario key the parser records
 * in the effective configuration, every key of summary.json and every column of messages.csv must
 * be documented, everything documented must exist, and documented defaults and types must be the
 * ones the code uses.
 *
 * Doc format the parser relies on (kept deliberately simple):
 *  - a table is a run of lines starting with '|'; its first line is the header, the second the
 *    separator;
 *  - in a table whose first header cell is "Key" (or "Column" for messages.csv), a row whose
 *    first cell is one backticked token documents that key path;
 *  - '|' inside backticks does not split cells; fenced code blocks are ignored.
 * Key paths: objects joined by '.', arrays are one key in the scenario schema and "name[]" (then
 * the element's keys) in summary.json, tier names are written "<tier>", and summary.json's
 * manifest.config is one key (it is the effective configuration, documented in the scenario
 * schema).
 */
#include "test-util.h"

#include "ns3/fabric-hash.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iomanip>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{

const char* SCENARIO_DOC = "traces/scenario-schema.md";
const char* OUTPUT_DOC = "traces/output-schema.md";

// ---------------------------------------------------------------------------------------------
// Markdown tables

/// One documented key: a row of a table whose first header cell is the one asked for.
struct DocRow
{
    std::string key;                          ///< the path, without backticks
    std::map<std::string, std::string> cells; ///< header cell -> cell text
    int line{0};                              ///< 1-based line in the document
};

std::string
Trim(const std::string& s)
{
    const size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos)
    {
        return "";
    }
    const size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

/// Cells of a table line "| a | b |"; '|' inside backticks or escaped as "\|" does not split.
std::vector<std::string>
SplitRow(const std::string& line)
{
    std::vector<std::string> cells;
    std::string cur;
    bool inCode = false;
    const size_t start = line.find('|') + 1;
    for (size_t i = start; i < line.size(); ++i)
    {
        const char c = line[i];
        if (c == '`')
        {
            inCode = !inCode;
        }
        if (c == '|' && !inCode && line[i - 1] != '\\')
        {
            cells.push_back(Trim(cur));
            cur.clear();
        }
        else
        {
            cur += c;
        }
    }
    if (!Trim(cur).empty())
    {
        cells.push_back(Trim(cur));
    }
    return cells;
}

struct DocTables
{
    std::vector<DocRow> rows;
    std::vector<std::string> malformed; ///< rows of a key table without a backticked key
};

/// Rows of every table whose first header cell is @p firstHeader, in document order.
DocTables
ParseTables(const std::string& markdown, const std::string& firstHeader)
{
    static const std::regex keyCell("^`([^`]+)`$");
    static const std::regex separatorCell("^:?-+:?$");
    DocTables out;
    std::istringstream in(markdown);
    std::string raw;
    int lineNo = 0;
    bool inFence = false;
    bool inTable = false;
    std::vector<std::string> header;
    int rowInTable = 0;
    while (std::getline(in, raw))
    {
        ++lineNo;
        const std::string line = Trim(raw);
        if (line.rfind("```", 0) == 0)
        {
            inFence = !inFence;
            inTable = false;
            continue;
        }
        if (inFence || line.empty() || line[0] != '|')
        {
            inTable = false;
            continue;
        }
        const std::vector<std::string> cells = SplitRow(line);
        if (!inTable)
        {
            inTable = true;
            header = cells;
            rowInTable = 0;
            continue;
        }
        ++rowInTable;
        if (rowInTable == 1 && !cells.empty() &&
            std::all_of(cells.begin(), cells.end(), [](const std::string& c) {
                return std::regex_match(c, separatorCell);
            }))
        {
            continue;
        }
        if (header.empty() || header[0] != firstHeader || cells.empty())
        {
            continue;
        }
        std::smatch m;
        if (!std::regex_match(cells[0], m, keyCell))
        {
            out.malformed.push_back("line " + std::to_string(lineNo) + ": " + line);
            continue;
        }
        DocRow row;
        row.key = m[1];
        row.line = lineNo;
        for (size_t i = 0; i < cells.size() && i < header.size(); ++i)
        {
            row.cells[header[i]] = cells[i];
        }
        out.rows.push_back(row);
    }
    return out;
}

/// Backticked tokens of a cell, in order.
std::vector<std::string>
BacktickTokens(const std::string& cell)
{
    std::vector<std::string> tokens;
    size_t pos = 0;
    while (true)
    {
        const size_t a = cell.find('`', pos);
        if (a == std::string::npos)
        {
            break;
        }
        const size_t b = cell.find('`', a + 1);
        if (b == std::string::npos)
        {
            break;
        }
        tokens.push_back(cell.substr(a + 1, b - a - 1));
        pos = b + 1;
    }
    return tokens;
}

std::string
JoinLines(const std::vector<std::string>& v)
{
    std::string s;
    for (const auto& x : v)
    {
        s += x + "\n";
    }
    return s;
}

std::string
JoinPath(const std::string& prefix, const std::string& seg)
{
    return prefix.empty() ? seg : prefix + "." + seg;
}

// ---------------------------------------------------------------------------------------------
// Scenario schema

/// Leaf paths of a scenario / effective config with their values: arrays are leaves, tier names
/// under topology.tiers become "<tier>".
void
FlattenConfig(const Json& j,
              const std::string& prefix,
              std::map<std::string, std::vector<Json>>& out)
{
    for (auto it = j.begin(); it != j.end(); ++it)
    {
        const std::string path = JoinPath(prefix, prefix == "topology.tiers" ? "<tier>" : it.key());
        if (it->is_object())
        {
            FlattenConfig(*it, path, out);
        }
        else
        {
            out[path].push_back(*it);
        }
    }
}

std::map<std::string, std::vector<Json>>
FlattenConfig(const Json& j)
{
    std::map<std::string, std::vector<Json>> out;
    if (j.is_object())
    {
        FlattenConfig(j, "", out);
    }
    return out;
}

const std::set<std::string> TOPOLOGY_TYPES{"fat-tree", "leaf-spine", "rail-optimized"};
const std::set<std::string> TRANSPORT_TYPES{"rdma", "ideal"};

/// Whether @p row's "Applies to" cell admits a config of this topology and transport type.
/// Unknown words are reported in @p problems.
bool
Applies(const DocRow& row,
        const std::string& topology,
        const std::string& transport,
        std::vector<std::string>* problems = nullptr)
{
    auto it = row.cells.find("Applies to");
    const std::string cell = it == row.cells.end() ? "" : it->second;
    std::set<std::string> topologies;
    std::set<std::string> transports;
    bool all = false;
    std::string word;
    std::istringstream in(cell);
    while (in >> word)
    {
        while (!word.empty() && (word.back() == ',' || word.back() == ';'))
        {
            word.pop_back();
        }
        if (word == "all")
        {
            all = true;
        }
        else if (TOPOLOGY_TYPES.count(word) != 0)
        {
            topologies.insert(word);
        }
        else if (TRANSPORT_TYPES.count(word) != 0)
        {
            transports.insert(word);
        }
        else if (problems != nullptr)
        {
            problems->push_back(std::string(SCENARIO_DOC) + ":" + std::to_string(row.line) + ": `" +
                                row.key + "`: unknown word \"" + word +
                                "\" in Applies to (use all, a topology.type or a transport.type)");
        }
    }
    if (!all && topologies.empty() && transports.empty() && problems != nullptr)
    {
        problems->push_back(std::string(SCENARIO_DOC) + ":" + std::to_string(row.line) + ": `" +
                            row.key + "`: empty Applies to");
    }
    return (topologies.empty() || topologies.count(topology) != 0) &&
           (transports.empty() || transports.count(transport) != 0);
}

struct NamedConfig
{
    std::string name;
    Json config;
};

/// One minimal config per topology variant and transport type, plus one that exercises the
/// keys no default config records (traffic.matrix, a GPU list).
std::vector<NamedConfig>
CoverageConfigs()
{
    const std::vector<NamedConfig> topologies{
        {"fat-tree", Json::parse(R"({"type": "fat-tree", "k": 4})")},
        {"fat-tree with servers",
         Json::parse(R"({"type": "fat-tree", "k": 4, "gpus_per_server": 4})")},
        {"leaf-spine",
         Json::parse(R"({"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2})")},
        {"rail-optimized with spines",
         Json::parse(
             R"({"type": "rail-optimized", "servers": 2, "gpus_per_server": 2, "spines": 2})")},
        {"rail-only",
         Json::parse(
             R"({"type": "rail-optimized", "servers": 2, "gpus_per_server": 2, "spines": 0})")},
    };
    std::vector<NamedConfig> out;
    for (const auto& t : topologies)
    {
        for (const std::string transport : {"rdma", "ideal"})
        {
            Json c = Json::object();
            c["topology"] = t.config;
            c["transport"]["type"] = transport;
            out.push_back({t.name + " / " + transport, c});
        }
    }
    out.push_back({"traffic matrix, GPU list, spraying", Json::parse(R"({
        "topology": {"type": "fat-tree", "k": 4},
        "switch": {"load_balancing": "spray"},
        "traffic": {"gpus": [0, 3], "matrix": [[0, "4KiB"], [1024, 0]]} })")});
    return out;
}

/// Configs that set nothing but a type, so that every other key takes its default.
std::vector<NamedConfig>
DefaultConfigs()
{
    return {
        {"{}", Json::object()},
        {"leaf-spine defaults", Json::parse(R"({"topology": {"type": "leaf-spine"}})")},
        {"rail-optimized defaults", Json::parse(R"({"topology": {"type": "rail-optimized"}})")},
        {"ideal defaults", Json::parse(R"({"transport": {"type": "ideal"}})")},
    };
}

struct Parsed
{
    Json effective;
    std::string topology;
    std::string transport;
};

Parsed
Parse(const Json& config)
{
    Parsed p;
    ParseScenario(config, p.effective);
    p.topology = p.effective["topology"]["type"].get<std::string>();
    p.transport = p.effective["transport"]["type"].get<std::string>();
    return p;
}

/// Every effective-config path of every config documented (in a row that applies to it), and
/// every documented row produced by some config it applies to.
std::vector<std::string>
CheckScenarioKeys(const DocTables& doc, const std::vector<NamedConfig>& configs)
{
    std::vector<std::string> problems = doc.malformed;
    for (auto& m : problems)
    {
        m = std::string(SCENARIO_DOC) + ": key-table row without a backticked key: " + m;
    }
    for (const auto& row : doc.rows)
    {
        Applies(row, "", "", &problems);
    }
    std::vector<bool> used(doc.rows.size(), false);
    for (const auto& nc : configs)
    {
        const Parsed p = Parse(nc.config);
        for (const auto& [path, values] : FlattenConfig(p.effective))
        {
            bool documented = false;
            bool applies = false;
            for (size_t i = 0; i < doc.rows.size(); ++i)
            {
                if (doc.rows[i].key != path)
                {
                    continue;
                }
                documented = true;
                if (Applies(doc.rows[i], p.topology, p.transport))
                {
                    applies = true;
                    used[i] = true;
                }
            }
            if (!documented)
            {
                problems.push_back("`" + path + "` (config \"" + nc.name +
                                   "\") is in the effective configuration but not documented in " +
                                   SCENARIO_DOC);
            }
            else if (!applies)
            {
                problems.push_back("`" + path + "` (config \"" + nc.name + "\", topology " +
                                   p.topology + ", transport " + p.transport +
                                   ") is documented only in rows whose Applies to excludes it");
            }
        }
    }
    for (size_t i = 0; i < doc.rows.size(); ++i)
    {
        if (!used[i])
        {
            problems.push_back(std::string(SCENARIO_DOC) + ":" + std::to_string(doc.rows[i].line) +
                               ": `" + doc.rows[i].key +
                               "` is documented but no configuration it applies to records it "
                               "(stale row, or wrong Applies to)");
        }
    }
    return problems;
}

DocTables
ScenarioDoc()
{
    const std::string text = ReadFile(SourcePath(SCENARIO_DOC));
    EXPECT_FALSE(text.empty()) << "cannot read " << SourcePath(SCENARIO_DOC);
    return ParseTables(text, "Key");
}

// ---------------------------------------------------------------------------------------------
// Output schema

/// Leaf paths of summary.json with their values: "name[]" for array elements, "<tier>" under
/// fabric.tiers, manifest.config as one leaf.
void
FlattenSummary(const Json& j,
               const std::string& prefix,
               std::map<std::string, std::vector<Json>>& out)
{
    if (prefix == "manifest.config")
    {
        out[prefix].push_back(j);
        return;
    }
    if (j.is_object() && !prefix.empty() && j.empty())
    {
        out[prefix].push_back(j);
        return;
    }
    if (j.is_object())
    {
        for (auto it = j.begin(); it != j.end(); ++it)
        {
            FlattenSummary(*it,
                           JoinPath(prefix, prefix == "fabric.tiers" ? "<tier>" : it.key()),
                           out);
        }
        return;
    }
    if (j.is_array())
    {
        for (const auto& e : j)
        {
            FlattenSummary(e, prefix + "[]", out);
        }
        return;
    }
    out[prefix].push_back(j);
}

std::map<std::string, std::vector<Json>>
FlattenSummary(const Json& j)
{
    std::map<std::string, std::vector<Json>> out;
    FlattenSummary(j, "", out);
    return out;
}

bool
TypeMatches(const std::string& type, const Json& v)
{
    if (type == "integer")
    {
        return v.is_number_integer();
    }
    if (type == "number")
    {
        return v.is_number();
    }
    if (type == "string")
    {
        return v.is_string();
    }
    if (type == "boolean")
    {
        return v.is_boolean();
    }
    if (type == "object")
    {
        return v.is_object();
    }
    if (type == "array")
    {
        return v.is_array();
    }
    return false;
}

/// Every summary path documented with the right type and a Reproducible of yes/no, and every
/// documented path produced by at least one of @p summaries.
std::vector<std::string>
CheckSummaryKeys(const DocTables& doc, const std::vector<Json>& summaries)
{
    std::vector<std::string> problems = doc.malformed;
    for (auto& m : problems)
    {
        m = std::string(OUTPUT_DOC) + ": key-table row without a backticked key: " + m;
    }
    std::map<std::string, const DocRow*> byKey;
    for (const auto& row : doc.rows)
    {
        const std::string where =
            std::string(OUTPUT_DOC) + ":" + std::to_string(row.line) + ": `" + row.key + "`";
        if (!byKey.emplace(row.key, &row).second)
        {
            problems.push_back(where + " is documented twice");
        }
        const auto type = row.cells.find("Type");
        if (type == row.cells.end() ||
            !std::set<std::string>{"integer", "number", "string", "boolean", "object", "array"}
                 .count(type->second))
        {
            problems.push_back(where + ": Type must be one of integer, number, string, boolean, "
                                       "object, array");
        }
        const auto repro = row.cells.find("Reproducible");
        if (repro == row.cells.end() || (repro->second != "yes" && repro->second != "no"))
        {
            problems.push_back(where + ": Reproducible must be yes or no");
        }
    }
    std::set<std::string> produced;
    for (const auto& summary : summaries)
    {
        for (const auto& [path, values] : FlattenSummary(summary))
        {
            produced.insert(path);
            auto it = byKey.find(path);
            if (it == byKey.end())
            {
                problems.push_back("summary.json key `" + path + "` is not documented in " +
                                   OUTPUT_DOC);
                continue;
            }
            const auto type = it->second->cells.find("Type");
            for (const auto& v : values)
            {
                if (type != it->second->cells.end() && !TypeMatches(type->second, v))
                {
                    problems.push_back("summary.json key `" + path + "` is documented as " +
                                       type->second + " but holds " + v.dump());
                    break;
                }
            }
        }
    }
    for (const auto& row : doc.rows)
    {
        if (produced.count(row.key) == 0)
        {
            problems.push_back(std::string(OUTPUT_DOC) + ":" + std::to_string(row.line) + ": `" +
                               row.key + "` is documented but no run produced it (stale row)");
        }
    }
    return problems;
}

DocTables
OutputDoc(const std::string& firstHeader)
{
    const std::string text = ReadFile(SourcePath(OUTPUT_DOC));
    EXPECT_FALSE(text.empty()) << "cannot read " << SourcePath(OUTPUT_DOC);
    return ParseTables(text, firstHeader);
}

/// Summary paths documented as not reproducible.
std::set<std::string>
NonReproducible(const DocTables& doc)
{
    std::set<std::string> out;
    for (const auto& row : doc.rows)
    {
        auto it = row.cells.find("Reproducible");
        if (it != row.cells.end() && it->second == "no")
        {
            out.insert(row.key);
        }
    }
    return out;
}

/// Remove from @p j every key whose (collapsed) path is in @p drop.
void
StripPaths(Json& j, const std::string& prefix, const std::set<std::string>& drop)
{
    if (prefix == "manifest.config")
    {
        return;
    }
    if (j.is_object())
    {
        for (auto it = j.begin(); it != j.end();)
        {
            const std::string path =
                JoinPath(prefix, prefix == "fabric.tiers" ? "<tier>" : it.key());
            if (drop.count(path) != 0)
            {
                it = j.erase(it);
            }
            else
            {
                StripPaths(*it, path, drop);
                ++it;
            }
        }
    }
    else if (j.is_array())
    {
        for (auto& e : j)
        {
            StripPaths(e, prefix + "[]", drop);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running scenarios

/// The small scenario of the output checks: k = 4 fat-tree, 16 KiB per pair, one round.
Json
SmallConfig(const std::string& transport)
{
    Json c = Json::parse(R"({
      "name": "schema-doc", "seed": 1,
      "topology": { "type": "fat-tree", "k": 4 },
      "traffic": { "type": "all-to-all", "bytes_per_pair": "16KiB", "rounds": 1 } })");
    c["transport"]["type"] = transport;
    return c;
}

/// Run the CLI on @p config; returns the output directory (empty on failure).
std::string
RunCli(const Json& config, const std::string& stem)
{
    const std::string bin = SimBinary();
    EXPECT_FALSE(bin.empty()) << "moe-fabric-sim was not built";
    if (bin.empty())
    {
        return "";
    }
    const std::string dir = MakeTempDir(stem);
    const std::string configPath = dir + "/scenario.json";
    {
        std::ofstream f(configPath);
        f << config.dump(2) << "\n";
    }
    const std::string out = dir + "/out";
    const CommandResult r =
        RunCommand(bin + " --config=" + configPath + " --out=" + out + " --quiet");
    EXPECT_EQ(r.exitCode, 0) << r.output;
    return r.exitCode == 0 ? out : "";
}

Json
ReadJson(const std::string& path)
{
    const std::string text = ReadFile(path);
    EXPECT_FALSE(text.empty()) << "cannot read " << path;
    return text.empty() ? Json() : Json::parse(text);
}

/// summary.json of the small scenario, simulated in this process.
Json
InProcessSummary()
{
    Scenario sc(SmallConfig("rdma"));
    sc.Build();
    EXPECT_TRUE(sc.Run());
    Json summary = sc.MakeSummary();
    Simulator::Destroy();
    return summary;
}

std::vector<std::string>
SplitCsvLine(const std::string& line)
{
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(line);
    while (std::getline(in, cur, ','))
    {
        out.push_back(cur);
    }
    return out;
}

/// Replace the line containing @p marker by @p replacement, or remove it if that is empty.
std::string
ReplaceLine(const std::string& text, const std::string& marker, const std::string& replacement)
{
    const size_t at = text.find(marker);
    EXPECT_NE(at, std::string::npos) << marker;
    if (at == std::string::npos)
    {
        return text;
    }
    const size_t b = text.rfind('\n', at) + 1;
    const size_t e = text.find('\n', at);
    // An empty replacement removes the line (an empty line would end the table).
    return text.substr(0, b) + replacement + text.substr(replacement.empty() ? e + 1 : e);
}

bool
Mentions(const std::vector<std::string>& problems, const std::string& what)
{
    return std::any_of(problems.begin(), problems.end(), [&](const std::string& p) {
        return p.find(what) != std::string::npos;
    });
}

} // namespace

// =============================================================================================

TEST(SchemaDoc, ParserReadsOnlyKeyTables)
{
    const std::string md = "Intro | not a table\n"
                           "\n"
                           "| Key | Type | Applies to |\n"
                           "|---|---|---|\n"
                           "| `a.b` | integer | all |\n"
                           "| `c.<tier>.d` | `x|y` stays one cell | fat-tree, rdma |\n"
                           "| no backticks | x | all |\n"
                           "\n"
                           "| Topology | Tiers |\n"
                           "|---|---|\n"
                           "| `fat-tree` | `host-edge` |\n"
                           "```\n"
                           "| Key | Type |\n"
                           "| `in.code` | x |\n"
                           "```\n";
    const DocTables t = ParseTables(md, "Key");
    ASSERT_EQ(t.rows.size(), 2u);
    EXPECT_EQ(t.rows[0].key, "a.b");
    EXPECT_EQ(t.rows[0].cells.at("Type"), "integer");
    EXPECT_EQ(t.rows[0].line, 5);
    EXPECT_EQ(t.rows[1].key, "c.<tier>.d");
    EXPECT_EQ(t.rows[1].cells.at("Type"), "`x|y` stays one cell");
    EXPECT_TRUE(Applies(t.rows[1], "fat-tree", "rdma"));
    EXPECT_FALSE(Applies(t.rows[1], "leaf-spine", "rdma"));
    EXPECT_FALSE(Applies(t.rows[1], "fat-tree", "ideal"));
    EXPECT_TRUE(Applies(t.rows[0], "rail-optimized", "ideal"));
    ASSERT_EQ(t.malformed.size(), 1u);
    EXPECT_NE(t.malformed[0].find("no backticks"), std::string::npos);
}

TEST(SchemaDoc, ScenarioKeysMatchEffectiveConfig)
{
    const DocTables doc = ScenarioDoc();
    ASSERT_GE(doc.rows.size(), 30u) << "the key tables of " << SCENARIO_DOC << " were not found";
    const std::vector<std::string> problems = CheckScenarioKeys(doc, CoverageConfigs());
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
}

TEST(SchemaDoc, ScenarioTierNamesAreDocumented)
{
    // Every tier name a topology accepts in topology.tiers (and reports in summary.json) is
    // named in the scenario schema.
    const std::string text = ReadFile(SourcePath(SCENARIO_DOC));
    std::set<std::string> tiers;
    for (const auto& nc : CoverageConfigs())
    {
        const Parsed p = Parse(nc.config);
        for (auto it = p.effective["topology"]["tiers"].begin();
             it != p.effective["topology"]["tiers"].end();
             ++it)
        {
            tiers.insert(it.key());
        }
    }
    tiers.insert("nvlink"); // reported in summary.json, configured by topology.nvlink
    EXPECT_GE(tiers.size(), 6u);
    for (const auto& t : tiers)
    {
        EXPECT_NE(text.find("`" + t + "`"), std::string::npos)
            << "tier " << t << " is not named in " << SCENARIO_DOC;
    }
}

TEST(SchemaDoc, ScenarioDefaultsMatchCode)
{
    // With nothing but a type given, every documented key that applies takes the documented
    // default: the first backticked JSON value of its Default cell, or the value of the key
    // named by "same as `key`". A Default cell must be one of those two forms or start with
    // "none" (no default: the key is absent unless given).
    const DocTables doc = ScenarioDoc();
    std::vector<std::string> problems;
    size_t checked = 0;
    for (const auto& nc : DefaultConfigs())
    {
        const Parsed p = Parse(nc.config);
        const auto given = FlattenConfig(nc.config);
        const auto values = FlattenConfig(p.effective);
        for (const auto& row : doc.rows)
        {
            if (!Applies(row, p.topology, p.transport) || given.count(row.key) != 0)
            {
                continue;
            }
            const std::string where = std::string(SCENARIO_DOC) + ":" + std::to_string(row.line) +
                                      ": `" + row.key + "` (config " + nc.name + ")";
            const auto cellIt = row.cells.find("Default");
            const std::string cell = cellIt == row.cells.end() ? "" : cellIt->second;
            const std::vector<std::string> tokens = BacktickTokens(cell);
            Json expected;
            if (cell.rfind("none", 0) == 0)
            {
                if (values.count(row.key) != 0)
                {
                    problems.push_back(where + ": documented without default but recorded as " +
                                       values.at(row.key).front().dump());
                }
                continue;
            }
            if (tokens.empty())
            {
                problems.push_back(where + ": Default cell \"" + cell +
                                   "\" has neither a backticked JSON value, \"same as `key`\" "
                                   "nor \"none\"");
                continue;
            }
            if (cell.rfind("same as", 0) == 0)
            {
                const auto ref = values.find(tokens[0]);
                if (ref == values.end())
                {
                    problems.push_back(where + ": Default refers to `" + tokens[0] +
                                       "`, which the effective configuration does not hold");
                    continue;
                }
                expected = ref->second.front();
            }
            else
            {
                try
                {
                    expected = Json::parse(tokens[0]);
                }
                catch (const std::exception&)
                {
                    problems.push_back(where + ": Default `" + tokens[0] +
                                       "` is not a JSON value (quote strings: `\"ecmp\"`)");
                    continue;
                }
            }
            const auto actual = values.find(row.key);
            if (actual == values.end())
            {
                // Keys that exist only in some variants of a topology (the leaf-spine tier of a
                // rail-optimized fabric) are covered by ScenarioKeysMatchEffectiveConfig.
                continue;
            }
            for (const auto& v : actual->second)
            {
                ++checked;
                if (v != expected)
                {
                    problems.push_back(where + ": documented default " + expected.dump() +
                                       ", the code records " + v.dump());
                }
            }
        }
    }
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    EXPECT_GE(checked, 60u) << "too few defaults were checked; is the Default column there?";
}

TEST(SchemaDoc, SummaryKeysMatchOutput)
{
    const DocTables doc = OutputDoc("Key");
    ASSERT_GE(doc.rows.size(), 60u) << "the key tables of " << OUTPUT_DOC << " were not found";
    const std::string rdma = RunCli(SmallConfig("rdma"), "schema-doc-rdma");
    Json idealConfig = SmallConfig("ideal");
    idealConfig["output"]["pcap"] = "hosts";
    const std::string ideal = RunCli(idealConfig, "schema-doc-ideal");
    ASSERT_FALSE(rdma.empty());
    ASSERT_FALSE(ideal.empty());
    const std::vector<Json> summaries{ReadJson(rdma + "/summary.json"),
                                      ReadJson(ideal + "/summary.json")};
    const std::vector<std::string> problems = CheckSummaryKeys(doc, summaries);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);

    // Tier names in summary.json are named in the scenario schema's tier table.
    const std::string scenarioText = ReadFile(SourcePath(SCENARIO_DOC));
    for (auto it = summaries[0]["fabric"]["tiers"].begin();
         it != summaries[0]["fabric"]["tiers"].end();
         ++it)
    {
        EXPECT_NE(scenarioText.find("`" + it.key() + "`"), std::string::npos) << it.key();
    }

    // Every file of the output directory is documented (PCAP files by their pattern).
    const std::string outputText = ReadFile(SourcePath(OUTPUT_DOC));
    const std::regex pcapName("pcap-[0-9]+-[0-9]+\\.pcap");
    std::set<std::string> names;
    for (const std::string& dir : {rdma, ideal})
    {
        for (const auto& entry : std::filesystem::directory_iterator(dir))
        {
            const std::string name = entry.path().filename().string();
            names.insert(std::regex_match(name, pcapName) ? "pcap-<node>-<device>.pcap" : name);
        }
    }
    EXPECT_EQ(names,
              (std::set<std::string>{"summary.json",
                                     "effective_config.json",
                                     "messages.csv",
                                     "pcap-<node>-<device>.pcap"}));
    for (const auto& name : names)
    {
        EXPECT_NE(outputText.find("`" + name + "`"), std::string::npos)
            << "output file " << name << " is not documented in " << OUTPUT_DOC;
    }
}

TEST(SchemaDoc, OnlyFieldsDocumentedAsNonReproducibleDiffer)
{
    const DocTables doc = OutputDoc("Key");
    const std::set<std::string> volatileKeys = NonReproducible(doc);
    EXPECT_EQ(volatileKeys,
              (std::set<std::string>{"sim.wall_s",
                                     "sim.wall_s_per_million_packet_hops",
                                     "sim.peak_rss_mb"}))
        << "the wall-clock fields of summary.json changed: update this test and the doc together";
    const std::string a = RunCli(SmallConfig("rdma"), "schema-doc-repro-a");
    const std::string b = RunCli(SmallConfig("rdma"), "schema-doc-repro-b");
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    Json sa = ReadJson(a + "/summary.json");
    Json sb = ReadJson(b + "/summary.json");
    StripPaths(sa, "", volatileKeys);
    StripPaths(sb, "", volatileKeys);
    EXPECT_EQ(sa.dump(2), sb.dump(2));
    EXPECT_EQ(ReadFile(a + "/messages.csv"), ReadFile(b + "/messages.csv"));
    EXPECT_EQ(ReadFile(a + "/effective_config.json"), ReadFile(b + "/effective_config.json"));
}

TEST(SchemaDoc, MessagesCsvColumnsMatch)
{
    const DocTables doc = OutputDoc("Column");
    EXPECT_TRUE(doc.malformed.empty()) << JoinLines(doc.malformed);
    std::vector<std::string> documented;
    for (const auto& row : doc.rows)
    {
        documented.push_back(row.key);
    }
    ASSERT_FALSE(documented.empty()) << "no Column table in " << OUTPUT_DOC;

    const std::string out = RunCli(SmallConfig("rdma"), "schema-doc-csv");
    ASSERT_FALSE(out.empty());
    std::istringstream csv(ReadFile(out + "/messages.csv"));
    std::string header;
    ASSERT_TRUE(static_cast<bool>(std::getline(csv, header)));
    EXPECT_EQ(SplitCsvLine(header), documented) << "messages.csv header: " << header;

    // Values have the documented form: integers, and times in exact decimal seconds with 12
    // fractional digits (picoseconds).
    const std::regex integer("[0-9]+");
    const std::regex seconds("[0-9]+\\.[0-9]{12}");
    size_t rows = 0;
    std::string line;
    while (std::getline(csv, line))
    {
        ++rows;
        const std::vector<std::string> fields = SplitCsvLine(line);
        ASSERT_EQ(fields.size(), documented.size()) << line;
        for (size_t i = 0; i < fields.size(); ++i)
        {
            const bool isTime = documented[i].size() > 2 &&
                                documented[i].compare(documented[i].size() - 2, 2, "_s") == 0;
            EXPECT_TRUE(std::regex_match(fields[i], isTime ? seconds : integer))
                << documented[i] << " = \"" << fields[i] << "\" in: " << line;
        }
    }
    EXPECT_EQ(rows, 240u); // 16 GPUs, one round
}

TEST(SchemaDoc, ConfigHashAndEffectiveConfigAsDocumented)
{
    const std::string out = RunCli(SmallConfig("rdma"), "schema-doc-hash");
    ASSERT_FALSE(out.empty());
    const std::string text = ReadFile(out + "/effective_config.json");
    const Json effective = Json::parse(text);
    const Json summary = ReadJson(out + "/summary.json");
    // 2-space indentation, sorted keys, final newline.
    EXPECT_EQ(text, effective.dump(2) + "\n");
    // manifest.config is the effective configuration.
    EXPECT_EQ(summary["manifest"]["config"], effective);
    // manifest.config_hash: FNV-1a 64 of the compact serialization.
    std::ostringstream hash;
    hash << "fnv1a64:" << std::hex << std::setw(16) << std::setfill('0')
         << Fnv1a64(effective.dump());
    EXPECT_EQ(summary["manifest"]["config_hash"].get<std::string>(), hash.str());
    // Feeding the effective configuration back gives the same one (every default filled in,
    // values already normalized).
    Json again;
    ParseScenario(effective, again);
    EXPECT_EQ(again, effective);
}

TEST(SchemaDoc, ChecksFailWhenDocsAndCodeDrift)
{
    // The comparisons above must be able to fail: a removed row is reported as undocumented,
    // an added row as stale, a wrong type or default as a mismatch.
    const std::string scenarioText = ReadFile(SourcePath(SCENARIO_DOC));
    const std::vector<NamedConfig> configs = CoverageConfigs();
    ASSERT_TRUE(CheckScenarioKeys(ParseTables(scenarioText, "Key"), configs).empty());

    const std::string removed = ReplaceLine(scenarioText, "| `transport.rto` |", "");
    auto problems = CheckScenarioKeys(ParseTables(removed, "Key"), configs);
    EXPECT_TRUE(Mentions(problems, "`transport.rto` (config")) << JoinLines(problems);

    const std::string added =
        ReplaceLine(scenarioText,
                    "| `transport.rto` |",
                    "| `transport.rto_high` | time | `\"1ms\"` | 1ns..10s | rdma | stale |");
    problems = CheckScenarioKeys(ParseTables(added, "Key"), configs);
    EXPECT_TRUE(Mentions(problems, "`transport.rto_high` is documented but"))
        << JoinLines(problems);

    const std::string narrowed = ReplaceLine(
        scenarioText,
        "| `transport.mtu` |",
        "| `transport.mtu` | integer | `4096` | 256..8956 | rdma | applies to rdma only |");
    problems = CheckScenarioKeys(ParseTables(narrowed, "Key"), configs);
    EXPECT_TRUE(Mentions(problems, "`transport.mtu` (config")) << JoinLines(problems);

    const std::string outputText = ReadFile(SourcePath(OUTPUT_DOC));
    const std::vector<Json> summaries{InProcessSummary()};
    ASSERT_TRUE(CheckSummaryKeys(ParseTables(outputText, "Key"), summaries).empty())
        << JoinLines(CheckSummaryKeys(ParseTables(outputText, "Key"), summaries));

    const std::string noWall = ReplaceLine(outputText, "| `sim.wall_s` |", "");
    problems = CheckSummaryKeys(ParseTables(noWall, "Key"), summaries);
    EXPECT_TRUE(Mentions(problems, "`sim.wall_s` is not documented")) << JoinLines(problems);

    const std::string staleReason = ReplaceLine(
        outputText,
        "| `fabric.tiers.<tier>.drops_by_reason.rx_error` |",
        "| `fabric.tiers.<tier>.drops_by_reason.pfc_timeout` | integer | frames | yes | always | "
        "x |");
    problems = CheckSummaryKeys(ParseTables(staleReason, "Key"), summaries);
    EXPECT_TRUE(Mentions(problems, "`fabric.tiers.<tier>.drops_by_reason.rx_error` is not"))
        << JoinLines(problems);
    EXPECT_TRUE(Mentions(problems, "`fabric.tiers.<tier>.drops_by_reason.pfc_timeout` is doc"))
        << JoinLines(problems);

    const std::string wrongType =
        ReplaceLine(outputText,
                    "| `sim.events` |",
                    "| `sim.events` | string | events | yes | always | x |");
    problems = CheckSummaryKeys(ParseTables(wrongType, "Key"), summaries);
    EXPECT_TRUE(Mentions(problems, "`sim.events` is documented as string")) << JoinLines(problems);
}
