/*
 * The reference documentation in traces/ against the code: every scenario key the parser records
 * in the effective configuration, every key of summary.json and every column of the CSV files
 * (messages.csv of all-to-all and of MoE runs, layer_phases.csv) must be documented, everything
 * documented must exist, and documented defaults and types must be the ones the code uses.
 *
 * Doc format the parser relies on (kept deliberately simple):
 *  - a table is a run of lines starting with '|'; its first line is the header, the second the
 *    separator;
 *  - a table is identified by its first header cell: "Key" (scenario keys, summary.json keys),
 *    "Column (<file>[, <variant>])" (the columns of one CSV file, see CSV_TABLES), "Phase" and
 *    "Kind" (the names behind <phase> and <kind> in summary.json), "Model override" and
 *    "GPU override" (the preset values behind a Default of "preset"); in such a table a row whose
 *    first cell is one backticked token documents that key, column or name;
 *  - '|' inside backticks does not split cells; fenced code blocks are ignored.
 * Key paths: objects joined by '.', arrays are one key in the scenario schema and "name[]" (then
 * the element's keys) in summary.json, tier names are written "<tier>" (and in summary.json
 * phases "<phase>", message kinds "<kind>", GPU ids "<gpu>"), and summary.json's manifest.config
 * is one key (it is the effective configuration, documented in the scenario schema).
 * "Applies to" of a scenario key names values of topology.type, transport.type, the workload
 * (all-to-all / moe), workload.gate.type and workload.deployment.type (see Applies()).
 */
#include "test-util.h"

#include "ns3/fabric-hash.h"
#include "ns3/gpu-compute-model.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-model-spec.h"
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
#include <tuple>
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

/// First header cell of every table of @p markdown (outside fenced code), in document order.
std::vector<std::string>
TableHeaders(const std::string& markdown)
{
    std::vector<std::string> out;
    std::istringstream in(markdown);
    std::string raw;
    bool inFence = false;
    bool inTable = false;
    while (std::getline(in, raw))
    {
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
        if (!inTable)
        {
            const std::vector<std::string> cells = SplitRow(line);
            out.push_back(cells.empty() ? "" : cells[0]);
        }
        inTable = true;
    }
    return out;
}

/// The keys (backticked first cells) of @p doc, in document order.
std::vector<std::string>
Keys(const DocTables& doc)
{
    std::vector<std::string> keys;
    for (const auto& row : doc.rows)
    {
        keys.push_back(row.key);
    }
    return keys;
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

/// What decides whether a scenario key exists: the values of the settings "Applies to" names.
struct Variant
{
    std::string topology;   ///< topology.type
    std::string transport;  ///< transport.type
    std::string workload;   ///< "all-to-all" (no workload section) or "moe"
    std::string gate;       ///< workload.gate.type ("" without a workload)
    std::string deployment; ///< workload.deployment.type ("" without a workload)
    std::string buffer;     ///< switch.buffer.type
    std::string cc;         ///< transport.cc.type ("" with the ideal transport)
    std::string tcpVariant; ///< transport.variant ("" unless transport.type is tcp)
};

/// The words of "Applies to", by the setting they name (values of one setting are alternatives).
const std::vector<std::pair<std::string, std::set<std::string>>> APPLIES_WORDS{
    {"topology", {"fat-tree", "leaf-spine", "rail-optimized"}},
    {"transport", {"rdma", "ideal", "tcp"}},
    {"workload", {"all-to-all", "moe"}},
    {"gate", {"uniform", "zipf", "affinity", "replay"}},
    {"deployment", {"co-located", "disaggregated"}},
    {"buffer", {"tail-drop", "shared"}},
    {"cc", {"none", "dcqcn", "hpcc", "swift"}},
    {"tcp_variant",
     {"dctcp",
      "newreno",
      "linux-reno",
      "cubic",
      "bbr",
      "bic",
      "highspeed",
      "htcp",
      "hybla",
      "illinois",
      "scalable",
      "vegas",
      "veno",
      "yeah"}},
};

/// Whether @p row's "Applies to" cell admits a config of variant @p v: `all`, or for every
/// setting the cell names, v's value is one of the named ones (a setting not named does not
/// restrict). Unknown words are reported in @p problems.
bool
Applies(const DocRow& row, const Variant& v, std::vector<std::string>* problems = nullptr)
{
    auto it = row.cells.find("Applies to");
    const std::string cell = it == row.cells.end() ? "" : it->second;
    std::vector<std::set<std::string>> named(APPLIES_WORDS.size());
    bool all = false;
    bool any = false;
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
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < APPLIES_WORDS.size(); ++k)
        {
            if (APPLIES_WORDS[k].second.count(word) != 0)
            {
                named[k].insert(word);
                known = any = true;
            }
        }
        if (!known && problems != nullptr)
        {
            problems->push_back(std::string(SCENARIO_DOC) + ":" + std::to_string(row.line) + ": `" +
                                row.key + "`: unknown word \"" + word +
                                "\" in Applies to (use all, or values of topology.type, "
                                "transport.type, the workload (all-to-all, moe), "
                                "workload.gate.type, workload.deployment.type or "
                                "switch.buffer.type)");
        }
    }
    if (!all && !any && problems != nullptr)
    {
        problems->push_back(std::string(SCENARIO_DOC) + ":" + std::to_string(row.line) + ": `" +
                            row.key + "`: empty Applies to");
    }
    const std::vector<std::string> values{v.topology,
                                          v.transport,
                                          v.workload,
                                          v.gate,
                                          v.deployment,
                                          v.buffer,
                                          v.cc,
                                          v.tcpVariant};
    for (size_t k = 0; k < named.size(); ++k)
    {
        if (!named[k].empty() && named[k].count(values[k]) == 0)
        {
            return false;
        }
    }
    return true;
}

struct NamedConfig
{
    std::string name;
    Json config;
};

/// The routing trace of traces/samples (16 experts, top-2, 2 iterations, 2 layers, 4 ranks).
std::string
RoutingSample()
{
    return SourcePath("traces/samples/routing-sample.csv");
}

/// The small MoE scenario of the checks: rail-optimized, 2 servers x 4 GPUs, mixtral-8x7b
/// shrunk to hidden 512, 16 experts, top-4, 16 tokens per GPU, one layer (a training step: one
/// forward and one backward stage). A run takes a few tens of milliseconds.
Json
MoeConfig(const std::string& transport = "rdma", const std::string& patch = "{}")
{
    Json c = Json::parse(R"({
      "name": "schema-doc-moe", "seed": 1,
      "topology": { "type": "rail-optimized", "servers": 2, "gpus_per_server": 4 },
      "workload": {
        "type": "moe", "model": "mixtral-8x7b",
        "model_overrides": { "hidden": 512, "routed_experts": 16, "top_k": 4, "expert_ffn": 512,
                             "attention_params": 1048576, "attention_dim": 512 },
        "tokens_per_gpu": 16, "layers": 1 } })");
    c["transport"]["type"] = transport;
    c.merge_patch(Json::parse(patch)); // RFC 7396: objects merge, null deletes
    return c;
}

/// MoeConfig with the replay gate on the sample trace (top-2; its 4 ranks: the first 4 GPUs).
Json
MoeReplayConfig(const std::string& transport = "rdma")
{
    Json c = MoeConfig(transport, R"({"workload": {"model_overrides": {"top_k": 2}, "gpus": 4}})");
    c["workload"]["gate"] = {{"type", "replay"}, {"file", RoutingSample()}};
    return c;
}

/// MoeConfig serving two classes (workload.serving): Poisson with fixed lengths, Gamma with
/// uniform and lognormal lengths; every output at least 2 tokens (so every TPOT cell is filled).
Json
ServingConfig()
{
    return MoeConfig("rdma", R"({"workload": {"mode": "inference", "serving": {
        "max_step_tokens": 64, "max_running": 8, "horizon": "2ms",
        "classes": [
          {"name": "chat", "requests": 12, "arrival": {"type": "poisson", "rate": 20000},
           "prompt_tokens": 48, "output_tokens": 4, "slo": {"ttft": "1ms", "tpot": "100us"}},
          {"name": "bulk", "requests": 4, "arrival": {"type": "gamma", "rate": 5000, "shape": 0.5},
           "prompt_tokens": {"type": "lognormal", "median": 100, "sigma": 0.3, "max": 200},
           "output_tokens": {"type": "uniform", "min": 2, "max": 6}}]}}})");
}

/// ServingConfig with the feedback admission policy throttling bulk (summary's serving.feedback).
Json
ServingFeedbackConfig()
{
    Json c = ServingConfig();
    c["workload"]["serving"]["admission"] = Json::parse(R"({"type": "feedback", "window": "20us",
        "high": "1us", "low": "500ns", "max_throttle": "200us", "classes": [
        {"name": "bulk", "throttle": true, "throttled_prefill_budget": 8}]})");
    return c;
}

/// ServingConfig with prefill/decode disaggregation (4 prefill, 4 decode GPUs, each pool one
/// group; layer-wise KV transfer on traffic class 2): the summary's serving.disaggregation.
Json
ServingDisaggregatedConfig()
{
    Json c = ServingConfig();
    c["workload"]["serving"]["disaggregation"] =
        Json::parse(R"({"transfer": "layer-wise", "traffic_class": 2})");
    return c;
}

/// One minimal config per topology variant and transport type, configs that exercise the keys
/// no default config records (traffic.matrix, traffic.peers, a GPU list), and MoE configs
/// covering every gate type, both deployments, the dispatch variants, the all-reduce and both
/// modes.
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
        for (const std::string transport : {"rdma", "ideal", "tcp"})
        {
            Json c = Json::object();
            c["topology"] = t.config;
            c["transport"]["type"] = transport;
            out.push_back({t.name + " / " + transport, c});
        }
    }
    out.push_back({"shared buffer with ECN", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "switch": {"buffer": {"type": "shared"}} })")});
    out.push_back({"shared buffer with a lossless priority", Json::parse(R"({
        "topology": {"type": "fat-tree", "k": 4},
        "switch": {"buffer": {"type": "shared", "lossless_priorities": [0, 3]},
                   "pfc": {"quanta": 1000, "watchdog": {"timeout": "1ms", "action": "ignore"}},
                   "scheduler": {"type": "dwrr", "weights": [4, 1, 1, 1, 1, 1, 1, 1]}} })")});
    out.push_back({"slow receivers pausing a lossless fabric", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "switch": {"buffer": {"type": "shared", "lossless_priorities": [0]},
                   "pfc": {"watchdog": {"timeout": "1ms", "action": "drop"}}},
        "nic": {"rx": {"drain_rate": "50Gbps", "gpus": [1, 2]}} })")});
    out.push_back({"DWRR with default weights, flowlets", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "switch": {"scheduler": {"type": "dwrr"}, "load_balancing": "flowlet"} })")});
    out.push_back({"shared buffer without ECN", Json::parse(R"({
        "topology": {"type": "fat-tree", "k": 4},
        "switch": {"buffer": {"type": "shared", "alpha": 2}, "ecn": {"enabled": false}} })")});
    out.push_back({"dcqcn with every parameter and the rate log", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "switch": {"buffer": {"type": "shared"}},
        "transport": {"cc": {"type": "dcqcn", "g": 0.0625, "initial_alpha": 0.5,
                             "alpha_interval": "1us", "rate_decrease_interval": "50us",
                             "rate_increase_interval": "300us", "byte_counter": "32KiB",
                             "fast_recovery_steps": 1, "rate_ai": "5Mbps",
                             "rate_hai": "50Mbps", "min_rate": "1Mbps",
                             "cnp_interval": "4us"}},
        "output": {"qp_rates_csv": true} })")});
    out.push_back({"hpcc with every parameter and the rate log", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "transport": {"cc": {"type": "hpcc", "eta": 0.9, "max_stage": 3, "window_ai": 80,
                             "base_rtt": "12us", "min_rate": "100Mbps", "fast_react": false}},
        "output": {"qp_rates_csv": true} })")});
    out.push_back({"swift with every parameter and the rate log", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "transport": {"cc": {"type": "swift", "base_target": "15us", "per_hop_scaling": "1us",
                             "fs_range": "10us", "fs_min_cwnd": 0.5, "fs_max_cwnd": 50,
                             "ai": 2, "beta": 0.5, "max_mdf": 0.3, "min_cwnd": 0.01,
                             "max_cwnd": 200, "init_cwnd": 4, "retx_reset_threshold": 3}},
        "output": {"qp_rates_csv": true} })")});
    out.push_back({"tcp cubic with every parameter", Json::parse(R"({
        "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
        "transport": {"type": "tcp", "variant": "cubic", "ecn": true, "min_rto": "5ms",
                      "initial_cwnd": 4, "send_buffer": "1MiB", "recv_buffer": "2MiB",
                      "delayed_ack_count": 1, "delayed_ack_timeout": "10us"} })")});
    out.push_back({"tcp dctcp with g", Json::parse(R"({
        "topology": {"type": "fat-tree", "k": 4},
        "switch": {"buffer": {"type": "shared"}},
        "transport": {"type": "tcp", "dctcp_g": 0.125} })")});
    out.push_back({"moe: uniform gate / tcp", MoeConfig("tcp")});
    out.push_back({"traffic matrix, GPU list, spraying", Json::parse(R"({
        "topology": {"type": "fat-tree", "k": 4},
        "switch": {"load_balancing": "spray"},
        "traffic": {"gpus": [0, 3], "matrix": [[0, "4KiB"], [1024, 0]]} })")});
    out.push_back({"traffic peers (shift pattern)", Json::parse(R"({
        "topology": {"type": "fat-tree", "k": 4},
        "traffic": {"peers": [1, 8], "bytes_per_pair": "4KiB"} })")});

    out.push_back({"moe: uniform gate, training / rdma", MoeConfig("rdma")});
    out.push_back({"moe: zipf gate, inference, fabric tax / ideal",
                   MoeConfig("ideal", R"({"workload": {"mode": "inference", "fabric_tax": true,
                       "gate": {"type": "zipf", "s": 1.2, "permute_per_layer": false}}})")});
    out.push_back({"moe: affinity gate with rank blocks",
                   MoeConfig("rdma", R"({"workload": {"gate": {"type": "affinity",
                       "affinity_group_size": 4, "affinity_strength": 0.7,
                       "affinity_rank_block": 4, "affinity_blocks": 2}}})")});
    out.push_back({"moe: replay gate", MoeReplayConfig("rdma")});
    out.push_back({"moe: serving", ServingConfig()});
    {
        Json c = ServingConfig();
        c["workload"]["serving"]["admission"] = Json::parse(R"({"type": "static", "classes": [
            {"name": "bulk", "tokens_in_flight": 32, "prefill_budget": 16, "groups": [0]}]})");
        out.push_back({"moe: serving with static admission caps", c});
    }
    out.push_back({"moe: serving with feedback admission", ServingFeedbackConfig()});
    out.push_back({"moe: serving, prefill/decode disaggregated", ServingDisaggregatedConfig()});
    out.push_back({"moe: disaggregated on a leaf-spine", MoeConfig("rdma", R"({
                       "topology": {"type": "leaf-spine", "servers": null, "hosts_per_leaf": 4,
                                    "leaves": 2, "spines": 2, "gpus_per_server": null},
                       "workload": {"deployment": {"type": "disaggregated", "expert_gpus": [6, 7]},
                                    "gpus": [0, 1, 2, 3, 4, 5],
                                    "gate": {"type": "zipf", "drift": 0.1}}})")});
    out.push_back(
        {"moe: hierarchical, two groups, all-reduce, micro-batches", MoeConfig("rdma", R"({
                       "topology": {"type": "fat-tree", "k": 4, "servers": null,
                                    "gpus_per_server": 4},
                       "workload": {"ep_size": 8, "iterations": 2,
                                    "model_overrides": {"capacity_factor": 1.25},
                                    "dispatch": {"variant": "hierarchical", "chunk_bytes": "4KiB"},
                                    "experts": {"batching": "eager", "batch_window": "2us",
                                                "streams": 2},
                                    "schedule": {"micro_batches": 2, "overlap": false},
                                    "placement": {"type": "topology-aware"},
                                    "replication": {"redundant_slots_per_gpu": 1,
                                                    "selection": "least-loaded",
                                                    "replan_every": 1},
                                    "allreduce": {"enabled": true},
                                    "classes": {"dispatch": 1, "combine": 2}}})")});
    return out;
}

/// Configs that set nothing but what selects a variant (a type, a preset, and what a variant
/// needs to be valid), so that every other key takes its default.
std::vector<NamedConfig>
DefaultConfigs()
{
    const Json rail8 =
        Json::parse(R"({"type": "rail-optimized", "servers": 2, "gpus_per_server": 4})");
    std::vector<NamedConfig> out{
        {"{}", Json::object()},
        {"leaf-spine defaults", Json::parse(R"({"topology": {"type": "leaf-spine"}})")},
        {"rail-optimized defaults", Json::parse(R"({"topology": {"type": "rail-optimized"}})")},
        {"ideal defaults", Json::parse(R"({"transport": {"type": "ideal"}})")},
        {"dcqcn defaults", Json::parse(R"({"switch": {"buffer": {"type": "shared"}},
                         "transport": {"cc": {"type": "dcqcn"}}})")},
        {"hpcc defaults", Json::parse(R"({"transport": {"cc": {"type": "hpcc"}}})")},
        {"swift defaults", Json::parse(R"({"transport": {"cc": {"type": "swift"}}})")},
        {"tcp defaults", Json::parse(R"({"switch": {"buffer": {"type": "shared"}},
                         "transport": {"type": "tcp"}})")},
        {"tcp newreno defaults",
         Json::parse(R"({"transport": {"type": "tcp", "variant": "newreno"}})")},
        {"moe defaults (deepseek-v3 on h800)", Json::parse(R"({"workload": {}})")},
        {"moe zipf defaults", Json::parse(R"({"workload": {"gate": {"type": "zipf"}}})")},
        {"moe affinity defaults",
         Json::parse(R"({"workload": {"gate": {"type": "affinity", "affinity_rank_block": 4}}})")},
        {"moe disaggregated defaults",
         Json::parse(R"({"workload": {"deployment": {"type": "disaggregated"}}})")},
    };
    for (const auto& [model, gpu] :
         std::vector<std::pair<std::string, std::string>>{{"mixtral-8x7b", "h100"},
                                                          {"qwen3-235b-a22b", "b200"},
                                                          {"dbrx", ""}})
    {
        Json c = Json::object();
        c["topology"] = rail8;
        c["workload"]["model"] = model;
        if (!gpu.empty())
        {
            c["workload"]["gpu"] = gpu;
        }
        out.push_back({"moe " + model + (gpu.empty() ? "" : " on " + gpu) + " defaults", c});
    }
    Json replay = Json::object();
    replay["topology"] = rail8;
    replay["workload"] = {{"model", "mixtral-8x7b"},
                          {"model_overrides", {{"routed_experts", 16}}},
                          {"gpus", 4},
                          {"layers", 2},
                          {"gate", {{"type", "replay"}, {"file", RoutingSample()}}}};
    out.push_back({"moe replay defaults", replay});
    Json allReduce = Json::object();
    allReduce["topology"] = rail8;
    allReduce["workload"] = {{"model", "dbrx"}, {"ep_size", 4}, {"allreduce", {{"enabled", true}}}};
    out.push_back({"moe all-reduce defaults", allReduce});
    return out;
}

struct Parsed
{
    Json effective;
    Variant variant;
};

Parsed
Parse(const Json& config)
{
    Parsed p;
    ParseScenario(config, p.effective);
    p.variant.topology = p.effective["topology"]["type"].get<std::string>();
    p.variant.transport = p.effective["transport"]["type"].get<std::string>();
    p.variant.buffer = p.effective["switch"]["buffer"]["type"].get<std::string>();
    if (p.effective["transport"].contains("cc"))
    {
        p.variant.cc = p.effective["transport"]["cc"]["type"].get<std::string>();
    }
    if (p.variant.transport == "tcp")
    {
        p.variant.tcpVariant = p.effective["transport"]["variant"].get<std::string>();
    }
    if (p.effective.contains("workload"))
    {
        p.variant.workload = "moe";
        p.variant.gate = p.effective["workload"]["gate"]["type"].get<std::string>();
        p.variant.deployment = p.effective["workload"]["deployment"]["type"].get<std::string>();
    }
    else
    {
        p.variant.workload = "all-to-all";
    }
    return p;
}

std::string
Describe(const Variant& v)
{
    std::string s = "topology " + v.topology + ", transport " + v.transport + ", " + v.workload;
    if (!v.gate.empty())
    {
        s += ", gate " + v.gate + ", " + v.deployment;
    }
    return s;
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
        Applies(row, Variant(), &problems);
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
                if (Applies(doc.rows[i], p.variant))
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
                problems.push_back("`" + path + "` (config \"" + nc.name + "\", " +
                                   Describe(p.variant) +
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

/// A preset table: its first header cell, the keys it gives defaults for (prefix + row key) and
/// the effective-config key whose value names the column to use.
struct PresetTable
{
    std::string header;
    std::string prefix;
    std::string selector;
};

const std::vector<PresetTable> PRESET_TABLES{
    {"Model override", "workload.model_overrides.", "workload.model"},
    {"GPU override", "workload.gpu_overrides.", "workload.gpu"},
};

/// With nothing but a variant given, every documented key that applies takes the documented
/// default: the first backticked JSON value of its Default cell, the value of the key named by
/// "same as `key`", or, for "preset", the value of the preset table's row for the key in the
/// column of the chosen preset. A Default cell must be one of those forms, "derived" (computed
/// from other settings: not compared here) or start with "none" (no default: the key is absent
/// unless given). @p checked counts the values compared.
std::vector<std::string>
CheckScenarioDefaults(const std::string& text,
                      const std::vector<NamedConfig>& configs,
                      size_t* checked = nullptr)
{
    const DocTables doc = ParseTables(text, "Key");
    std::map<std::string, DocTables> presets;
    for (const auto& pt : PRESET_TABLES)
    {
        presets[pt.header] = ParseTables(text, pt.header);
    }
    std::vector<std::string> problems;
    for (const auto& nc : configs)
    {
        const Parsed p = Parse(nc.config);
        const auto given = FlattenConfig(nc.config);
        const auto values = FlattenConfig(p.effective);
        for (const auto& row : doc.rows)
        {
            if (!Applies(row, p.variant) || given.count(row.key) != 0)
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
            if (cell.rfind("derived", 0) == 0)
            {
                continue;
            }
            if (cell.rfind("preset", 0) == 0)
            {
                const PresetTable* table = nullptr;
                for (const auto& pt : PRESET_TABLES)
                {
                    if (row.key.rfind(pt.prefix, 0) == 0)
                    {
                        table = &pt;
                    }
                }
                if (table == nullptr)
                {
                    problems.push_back(where + ": Default \"preset\" for a key no preset table "
                                               "covers");
                    continue;
                }
                const auto selector = values.find(table->selector);
                if (selector == values.end())
                {
                    problems.push_back(where + ": the effective configuration has no `" +
                                       table->selector + "` to choose the preset");
                    continue;
                }
                const std::string preset = selector->second.front().get<std::string>();
                const std::string name = row.key.substr(table->prefix.size());
                const auto& rows = presets[table->header].rows;
                const auto prow = std::find_if(rows.begin(), rows.end(), [&](const DocRow& r) {
                    return r.key == name;
                });
                if (prow == rows.end())
                {
                    problems.push_back(where + ": `" + name + "` has no row in the \"" +
                                       table->header + "\" table");
                    continue;
                }
                const auto pcell = prow->cells.find(preset);
                if (pcell == prow->cells.end() || BacktickTokens(pcell->second).empty())
                {
                    problems.push_back(where + ": no value for `" + name + "` and preset " +
                                       preset + " in the \"" + table->header + "\" table");
                    continue;
                }
                try
                {
                    expected = Json::parse(BacktickTokens(pcell->second)[0]);
                }
                catch (const std::exception&)
                {
                    problems.push_back(where + ": preset value `" +
                                       BacktickTokens(pcell->second)[0] + "` is not JSON");
                    continue;
                }
            }
            else if (tokens.empty())
            {
                problems.push_back(where + ": Default cell \"" + cell +
                                   "\" has neither a backticked JSON value, \"same as `key`\", "
                                   "\"preset\", \"derived\" nor \"none\"");
                continue;
            }
            else if (cell.rfind("same as", 0) == 0)
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
                // Keys that exist only in some variants (the leaf-spine tier of a rail-optimized
                // fabric, workload.gate.affinity_blocks) are covered by
                // ScenarioKeysMatchEffectiveConfig.
                continue;
            }
            for (const auto& v : actual->second)
            {
                if (checked != nullptr)
                {
                    ++*checked;
                }
                if (v != expected)
                {
                    problems.push_back(where + ": documented default " + expected.dump() +
                                       ", the code records " + v.dump());
                }
            }
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

/// Objects of summary.json whose keys are names (tiers, phases, message kinds, GPU ids), by their
/// path: in key paths the names are collapsed to the placeholder.
const std::map<std::string, std::string> NAME_PLACEHOLDERS{
    {"fabric.tiers", "<tier>"},
    {"moe.layers[].phases", "<phase>"},
    {"moe.fabric_messages_by_kind", "<kind>"},
    {"moe.gpu_tokens", "<gpu>"},
};

/// Path segment of key @p key of the object at @p prefix.
std::string
SummarySegment(const std::string& prefix, const std::string& key)
{
    const auto it = NAME_PLACEHOLDERS.find(prefix);
    return it == NAME_PLACEHOLDERS.end() ? key : it->second;
}

/// Leaf paths of summary.json with their values: "name[]" for array elements, placeholders for
/// name keys (the names seen go to @p names, by placeholder), manifest.config as one leaf.
void
FlattenSummary(const Json& j,
               const std::string& prefix,
               std::map<std::string, std::vector<Json>>& out,
               std::map<std::string, std::set<std::string>>* names)
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
        const auto placeholder = NAME_PLACEHOLDERS.find(prefix);
        for (auto it = j.begin(); it != j.end(); ++it)
        {
            if (placeholder != NAME_PLACEHOLDERS.end() && names != nullptr)
            {
                (*names)[placeholder->second].insert(it.key());
            }
            FlattenSummary(*it, JoinPath(prefix, SummarySegment(prefix, it.key())), out, names);
        }
        return;
    }
    if (j.is_array() && !j.empty())
    {
        for (const auto& e : j)
        {
            FlattenSummary(e, prefix + "[]", out, names);
        }
        return;
    }
    out[prefix].push_back(j); // a scalar, or an empty array (documented as type array)
}

std::map<std::string, std::vector<Json>>
FlattenSummary(const Json& j, std::map<std::string, std::set<std::string>>* names = nullptr)
{
    std::map<std::string, std::vector<Json>> out;
    FlattenSummary(j, "", out, names);
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

/// The names behind <phase> and <kind> in @p summaries are exactly the rows of the "Phase" and
/// "Kind" tables of @p text; <gpu> names are GPU ids.
std::vector<std::string>
CheckSummaryNames(const std::string& text, const std::vector<Json>& summaries)
{
    std::map<std::string, std::set<std::string>> seen;
    for (const auto& s : summaries)
    {
        FlattenSummary(s, &seen);
    }
    std::vector<std::string> problems;
    for (const auto& [placeholder, header] :
         std::vector<std::pair<std::string, std::string>>{{"<phase>", "Phase"}, {"<kind>", "Kind"}})
    {
        const DocTables table = ParseTables(text, header);
        for (const auto& m : table.malformed)
        {
            problems.push_back(std::string(OUTPUT_DOC) + ": \"" + header +
                               "\" row without a backticked name: " + m);
        }
        const std::vector<std::string> keys = Keys(table);
        const std::set<std::string> documented(keys.begin(), keys.end());
        for (const auto& name : seen[placeholder])
        {
            if (documented.count(name) == 0)
            {
                problems.push_back("summary.json " + placeholder + " name `" + name +
                                   "` is not in the \"" + header + "\" table of " + OUTPUT_DOC);
            }
        }
        for (const auto& row : table.rows)
        {
            if (seen[placeholder].count(row.key) == 0)
            {
                problems.push_back(std::string(OUTPUT_DOC) + ":" + std::to_string(row.line) + ": " +
                                   placeholder + " name `" + row.key +
                                   "` is documented but no summary.json has it (stale row)");
            }
        }
    }
    static const std::regex gpuId("[0-9]+");
    for (const auto& name : seen["<gpu>"])
    {
        if (!std::regex_match(name, gpuId))
        {
            problems.push_back("summary.json <gpu> name `" + name + "` is not a GPU id");
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
            const std::string path = JoinPath(prefix, SummarySegment(prefix, it.key()));
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
// CSV files

/// The column tables of the output schema, by first header cell: one per CSV file variant.
const char* CSV_A2A_MESSAGES = "Column (messages.csv, all-to-all)";
const char* CSV_MOE_MESSAGES = "Column (messages.csv, MoE)";
const char* CSV_LAYER_PHASES = "Column (layer_phases.csv)";
const char* CSV_QUEUE_SAMPLES = "Column (queue_samples.csv)";
const char* CSV_BUFFER_SAMPLES = "Column (buffer_samples.csv)";
const char* CSV_PFC_EVENTS = "Column (pfc_events.csv)";
const char* CSV_QP_RATES = "Column (qp_rates.csv)";
const char* CSV_REQUESTS = "Column (requests.csv)";
const std::vector<std::string> CSV_TABLES{CSV_A2A_MESSAGES,
                                          CSV_MOE_MESSAGES,
                                          CSV_LAYER_PHASES,
                                          CSV_REQUESTS,
                                          CSV_QUEUE_SAMPLES,
                                          CSV_BUFFER_SAMPLES,
                                          CSV_PFC_EVENTS,
                                          CSV_QP_RATES};

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

/// A CSV file split into its header and rows, each row as column name -> field.
struct Csv
{
    std::vector<std::string> header;
    std::vector<std::map<std::string, std::string>> rows;
};

/// Compare CSV @p text with the column table @p table (first header cell @p name): the header is
/// the documented columns in document order, every row has one field per column, and every
/// value has its column's documented form: integer (digits), decimal (exact seconds: digits, '.',
/// 12 digits; exactly the columns whose name ends in "_s") or string (a lower-case word, '-' and
/// '_' allowed). The parsed file goes to @p csv.
std::vector<std::string>
CheckCsv(const DocTables& table, const std::string& name, const std::string& text, Csv* csv)
{
    std::vector<std::string> problems;
    for (const auto& m : table.malformed)
    {
        problems.push_back(std::string(OUTPUT_DOC) + ": \"" + name +
                           "\" row without a backticked column: " + m);
    }
    const std::vector<std::string> documented = Keys(table);
    if (documented.empty())
    {
        problems.push_back(std::string("no \"") + name + "\" table in " + OUTPUT_DOC);
        return problems;
    }
    static const std::map<std::string, std::regex> forms{
        {"integer", std::regex("[0-9]+")},
        {"decimal", std::regex("[0-9]+\\.[0-9]{12}")},
        {"string", std::regex("[a-z][a-z0-9_-]*")}};
    std::vector<const std::regex*> form;
    std::vector<bool> mayBeEmpty; // a column whose Meaning says when it is empty
    for (const auto& row : table.rows)
    {
        const auto meaning = row.cells.find("Meaning");
        mayBeEmpty.push_back(meaning != row.cells.end() &&
                             meaning->second.find("empty") != std::string::npos);
        const auto type = row.cells.find("Type");
        const std::string t = type == row.cells.end() ? "" : type->second;
        const auto f = forms.find(t);
        const bool isTime = row.key.size() > 2 && row.key.compare(row.key.size() - 2, 2, "_s") == 0;
        if (f == forms.end())
        {
            problems.push_back(std::string(OUTPUT_DOC) + ":" + std::to_string(row.line) + ": `" +
                               row.key + "`: Type must be integer, decimal or string");
        }
        else if (isTime != (t == "decimal"))
        {
            problems.push_back(std::string(OUTPUT_DOC) + ":" + std::to_string(row.line) + ": `" +
                               row.key + "`: times (names ending in _s) and only they are decimal");
        }
        form.push_back(f == forms.end() ? nullptr : &f->second);
    }
    std::istringstream in(text);
    std::string line;
    Csv parsed;
    if (!std::getline(in, line))
    {
        problems.push_back(name + ": empty file");
        return problems;
    }
    parsed.header = SplitCsvLine(line);
    if (parsed.header != documented)
    {
        std::string doc;
        for (const auto& c : documented)
        {
            doc += (doc.empty() ? "" : ",") + c;
        }
        problems.push_back(name + ": the file's header is\n  " + line +
                           "\nbut the documented columns are\n  " + doc);
        return problems;
    }
    size_t bad = 0;
    while (std::getline(in, line))
    {
        const std::vector<std::string> fields = SplitCsvLine(line);
        if (fields.size() != documented.size())
        {
            problems.push_back(name + ": row with " + std::to_string(fields.size()) +
                               " fields: " + line);
            continue;
        }
        std::map<std::string, std::string> row;
        for (size_t i = 0; i < fields.size(); ++i)
        {
            row[documented[i]] = fields[i];
            if (form[i] != nullptr && !(fields[i].empty() && mayBeEmpty[i]) &&
                !std::regex_match(fields[i], *form[i]) && ++bad <= 5)
            {
                problems.push_back(name + ": `" + documented[i] + "` = \"" + fields[i] +
                                   "\" is not " + table.rows[i].cells.at("Type") + " in: " + line);
            }
        }
        parsed.rows.push_back(row);
    }
    if (csv != nullptr)
    {
        *csv = parsed;
    }
    return problems;
}

/// Picoseconds of an exact decimal time ("0.000105957230").
int64_t
Ps(const std::string& seconds)
{
    const size_t dot = seconds.find('.');
    return std::stoll(seconds.substr(0, dot)) * 1000000000000LL +
           std::stoll(seconds.substr(dot + 1));
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

/// The MoE scenario with every optional summary part: fat-tree of 16 GPUs in servers of 4, two
/// groups of 8 (so hierarchical dispatch relays across servers and the all-reduce has rings of
/// 2), two iterations, messages.csv on, layer_phases.csv off.
Json
MoeFullConfig()
{
    return MoeConfig("rdma", R"({
      "topology": {"type": "fat-tree", "k": 4, "servers": null, "gpus_per_server": 4},
      "switch": {"buffer": {"type": "shared", "size": "1MiB"}},
      "workload": {"ep_size": 8, "iterations": 2, "fabric_tax": true,
                   "dispatch": {"variant": "hierarchical"},
                   "allreduce": {"enabled": true, "bytes_per_layer": "256KiB"}},
      "output": {"messages_csv": true, "layer_phases_csv": false}})");
}

/// summary.json of a run that stalls (losses wait for a retransmission timeout longer than the
/// no-progress timeout): it carries sim.diagnosis.
Json
StalledSummary()
{
    Json c = SmallConfig("rdma");
    c["traffic"]["bytes_per_pair"] = "1MiB";
    c["simulation"]["no_progress_timeout"] = "20us";
    Scenario sc(c);
    sc.Build();
    EXPECT_FALSE(sc.Run());
    Json summary = sc.MakeSummary();
    Simulator::Destroy();
    EXPECT_EQ(summary["sim"]["stop_reason"], "no_progress");
    return summary;
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

/// Names of the files in @p dir, PCAP files by their pattern.
std::set<std::string>
OutputFiles(const std::string& dir)
{
    static const std::regex pcapName("pcap-[0-9]+-[0-9]+\\.pcap");
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
    {
        const std::string name = entry.path().filename().string();
        names.insert(std::regex_match(name, pcapName) ? "pcap-<node>-<device>.pcap" : name);
    }
    return names;
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

/// The documented arithmetic of layer_phases.csv on every row of @p csv (a complete run of
/// effective configuration @p effective, summary @p summary): the first six phases add up to
/// end_s - start_s, end_s + barrier_wait_s is the start of the GPU's next unit (0 after the last),
/// stage, layer and pass agree, there is one row per (GPU, unit), and moe.layers[].phases.*.max_s
/// are the maxima of the rows.
std::vector<std::string>
CheckLayerPhases(const Csv& csv, const Json& effective, const Json& summary)
{
    std::vector<std::string> problems;
    const Json& w = effective["workload"];
    const uint32_t layers = w["layers"].get<uint32_t>();
    const uint32_t stages = w["mode"] == "training" ? 2 * layers : layers;
    const uint32_t mbs = w["schedule"]["micro_batches"].get<uint32_t>();
    const uint32_t step = w["schedule"]["overlap"].get<bool>() ? mbs : 1;
    const uint32_t iterations = w["iterations"].get<uint32_t>();
    const std::vector<std::string> sum{"attention_s",
                                       "dispatch_s",
                                       "expert_queueing_s",
                                       "expert_compute_s",
                                       "combine_s",
                                       "shared_expert_wait_s"};
    // (group, gpu, unit) -> row
    std::map<std::tuple<uint32_t, uint32_t, uint32_t>, const std::map<std::string, std::string>*>
        units;
    for (const auto& row : csv.rows)
    {
        const uint32_t stage = std::stoul(row.at("stage"));
        const uint32_t unit = (std::stoul(row.at("iteration")) * stages + stage) * mbs +
                              std::stoul(row.at("micro_batch"));
        units[{std::stoul(row.at("group")), std::stoul(row.at("gpu")), unit}] = &row;
        int64_t total = 0;
        for (const auto& c : sum)
        {
            total += Ps(row.at(c));
        }
        if (total != Ps(row.at("end_s")) - Ps(row.at("start_s")))
        {
            problems.push_back("layer_phases.csv: phases add up to " + std::to_string(total) +
                               " ps, end_s - start_s is " +
                               std::to_string(Ps(row.at("end_s")) - Ps(row.at("start_s"))) +
                               " ps (gpu " + row.at("gpu") + ", stage " + row.at("stage") + ")");
        }
        const uint32_t layer = stage < layers ? stage : 2 * layers - 1 - stage;
        if (std::stoul(row.at("layer")) != layer ||
            row.at("pass") != (stage < layers ? "forward" : "backward"))
        {
            problems.push_back("layer_phases.csv: stage " + row.at("stage") + " has layer " +
                               row.at("layer") + " and pass " + row.at("pass"));
        }
    }
    const size_t expected = summary["moe"]["node_gpus"].get<size_t>() * iterations * stages * mbs;
    if (csv.rows.size() != expected || units.size() != expected)
    {
        problems.push_back("layer_phases.csv: " + std::to_string(csv.rows.size()) + " rows (" +
                           std::to_string(units.size()) + " distinct), expected " +
                           std::to_string(expected));
    }
    for (const auto& [key, row] : units)
    {
        const auto next = units.find({std::get<0>(key), std::get<1>(key), std::get<2>(key) + step});
        const int64_t released = Ps(row->at("end_s")) + Ps(row->at("barrier_wait_s"));
        if (next == units.end() ? Ps(row->at("barrier_wait_s")) != 0
                                : Ps(next->second->at("start_s")) != released)
        {
            problems.push_back("layer_phases.csv: gpu " + row->at("gpu") + " unit " +
                               std::to_string(std::get<2>(key)) + ": end_s + barrier_wait_s = " +
                               std::to_string(released) + " ps is not the next unit's start");
        }
    }
    // summary.json's phase maxima are the maxima of the rows of each (iteration, stage).
    for (const auto& layer : summary["moe"]["layers"])
    {
        for (auto it = layer["phases"].begin(); it != layer["phases"].end(); ++it)
        {
            int64_t max = 0;
            for (const auto& row : csv.rows)
            {
                if (std::stoul(row.at("iteration")) == layer["iteration"].get<uint32_t>() &&
                    row.at("layer") == std::to_string(layer["layer"].get<uint32_t>()) &&
                    row.at("pass") == layer["pass"].get<std::string>())
                {
                    max = std::max(max, Ps(row.at(it.key() + "_s")));
                }
            }
            if (std::llround((*it)["max_s"].get<double>() * 1e12) != max)
            {
                problems.push_back("summary.json moe.layers[].phases." + it.key() +
                                   ".max_s differs from the maximum of layer_phases.csv");
            }
        }
    }
    return problems;
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
                           "| `w.s` | number | zipf, affinity |\n"
                           "| `w.pool` | integer | disaggregated |\n"
                           "| `t.r` | integer | all-to-all |\n"
                           "| `o.p` | boolean | moe, ideal |\n"
                           "\n"
                           "| Topology | Tiers |\n"
                           "|---|---|\n"
                           "| `fat-tree` | `host-edge` |\n"
                           "\n"
                           "| Column (x.csv) | Type |\n"
                           "|---|---|\n"
                           "| `id` | integer |\n"
                           "```\n"
                           "| Key | Type |\n"
                           "| `in.code` | x |\n"
                           "```\n";
    const DocTables t = ParseTables(md, "Key");
    ASSERT_EQ(t.rows.size(), 6u);
    EXPECT_EQ(t.rows[0].key, "a.b");
    EXPECT_EQ(t.rows[0].cells.at("Type"), "integer");
    EXPECT_EQ(t.rows[0].line, 5);
    EXPECT_EQ(t.rows[1].key, "c.<tier>.d");
    EXPECT_EQ(t.rows[1].cells.at("Type"), "`x|y` stays one cell");
    const Variant a2a{"fat-tree", "rdma", "all-to-all", "", "", "tail-drop", "none", ""};
    const Variant zipf{"fat-tree", "rdma", "moe", "zipf", "co-located", "tail-drop", "none", ""};
    const Variant uniformPool{"rail-optimized",
                              "ideal",
                              "moe",
                              "uniform",
                              "disaggregated",
                              "shared",
                              "none",
                              ""};
    EXPECT_TRUE(Applies(t.rows[1], a2a));
    EXPECT_TRUE(Applies(t.rows[1], zipf));
    EXPECT_FALSE(
        Applies(t.rows[1], {"leaf-spine", "rdma", "all-to-all", "", "", "tail-drop", "none", ""}));
    EXPECT_FALSE(
        Applies(t.rows[1], {"fat-tree", "ideal", "all-to-all", "", "", "tail-drop", "none", ""}));
    EXPECT_TRUE(Applies(t.rows[0], uniformPool));
    EXPECT_TRUE(Applies(t.rows[2], zipf));
    EXPECT_FALSE(Applies(t.rows[2], uniformPool));
    EXPECT_FALSE(Applies(t.rows[2], a2a));
    EXPECT_TRUE(Applies(t.rows[3], uniformPool));
    EXPECT_FALSE(Applies(t.rows[3], zipf));
    EXPECT_TRUE(Applies(t.rows[4], a2a));
    EXPECT_FALSE(Applies(t.rows[4], zipf));
    EXPECT_TRUE(Applies(t.rows[5], uniformPool));
    EXPECT_FALSE(Applies(t.rows[5], zipf)); // rdma
    EXPECT_FALSE(
        Applies(t.rows[5], {"fat-tree", "ideal", "all-to-all", "", "", "tail-drop", "none", ""}));
    std::vector<std::string> problems;
    for (const auto& row : t.rows)
    {
        Applies(row, a2a, &problems);
    }
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    DocRow odd = t.rows[0];
    odd.cells["Applies to"] = "moe-only";
    Applies(odd, a2a, &problems);
    EXPECT_TRUE(Mentions(problems, "unknown word \"moe-only\"")) << JoinLines(problems);
    ASSERT_EQ(t.malformed.size(), 1u);
    EXPECT_NE(t.malformed[0].find("no backticks"), std::string::npos);
    // Tables are told apart by their first header cell.
    EXPECT_EQ(Keys(ParseTables(md, "Column (x.csv)")), std::vector<std::string>{"id"});
    EXPECT_EQ(TableHeaders(md), (std::vector<std::string>{"Key", "Topology", "Column (x.csv)"}));
}

TEST(SchemaDoc, ScenarioKeysMatchEffectiveConfig)
{
    const DocTables doc = ScenarioDoc();
    ASSERT_GE(doc.rows.size(), 100u) << "the key tables of " << SCENARIO_DOC << " were not found";
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
    // With nothing but a variant given, every documented key that applies takes the documented
    // default (see CheckScenarioDefaults).
    const std::string text = ReadFile(SourcePath(SCENARIO_DOC));
    size_t checked = 0;
    const std::vector<std::string> problems =
        CheckScenarioDefaults(text, DefaultConfigs(), &checked);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    EXPECT_GE(checked, 700u) << "too few defaults were checked; is the Default column there?";
}

TEST(SchemaDoc, PresetTablesCoverEveryPresetAndOverride)
{
    // The preset tables have one column per preset the code knows, in its order, and one row
    // per override key documented with Default "preset" (and no other).
    const std::string text = ReadFile(SourcePath(SCENARIO_DOC));
    const DocTables doc = ParseTables(text, "Key");
    const std::map<std::string, std::vector<std::string>> names{
        {"Model override", ModelPresetNames()},
        {"GPU override", GpuPresetNames()}};
    for (const auto& pt : PRESET_TABLES)
    {
        const DocTables table = ParseTables(text, pt.header);
        EXPECT_TRUE(table.malformed.empty()) << JoinLines(table.malformed);
        ASSERT_FALSE(table.rows.empty()) << "no \"" << pt.header << "\" table in " << SCENARIO_DOC;
        std::vector<std::string> columns;
        std::istringstream in(text);
        std::string line;
        while (std::getline(in, line))
        {
            if (Trim(line).rfind("| " + pt.header + " |", 0) == 0)
            {
                columns = SplitRow(Trim(line));
                columns.erase(columns.begin());
            }
        }
        EXPECT_EQ(columns, names.at(pt.header)) << pt.header << " table columns";
        std::set<std::string> documented;
        for (const auto& row : doc.rows)
        {
            if (row.key.rfind(pt.prefix, 0) == 0)
            {
                EXPECT_EQ(row.cells.at("Default"), "preset") << row.key;
                documented.insert(row.key.substr(pt.prefix.size()));
            }
        }
        const std::vector<std::string> keys = Keys(table);
        EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), documented) << pt.header;
        EXPECT_EQ(keys.size(), documented.size()) << pt.header << ": a row is repeated";
    }
}

TEST(SchemaDoc, DerivedDefaultsAsDocumented)
{
    // The "derived" defaults, computed as the scenario schema describes them.
    const Json coLocated = Parse(Json::parse(R"({"workload": {}})")).effective["workload"];
    EXPECT_EQ(coLocated["gpus"], 16); // k = 4 fat-tree: every GPU, as a count
    const Json pool =
        Parse(Json::parse(R"({"workload": {"deployment": {"type": "disaggregated"}}})"))
            .effective["workload"];
    EXPECT_EQ(pool["deployment"]["expert_gpus"], 4); // the last quarter
    EXPECT_EQ(pool["gpus"], 12);                     // the others
    const Json tiny = Parse(Json::parse(R"({"topology": {"type": "leaf-spine", "leaves": 1,
        "hosts_per_leaf": 2}, "workload": {"model": "mixtral-8x7b",
        "deployment": {"type": "disaggregated"}}})"))
                          .effective["workload"];
    EXPECT_EQ(tiny["deployment"]["expert_gpus"], 1); // at least one
    // TCP: DCTCP where switches mark ECN, NewReno where none does.
    EXPECT_EQ(Parse(Json::parse(R"({"switch": {"buffer": {"type": "shared"}},
        "transport": {"type": "tcp"}})"))
                  .effective["transport"]["variant"],
              "dctcp");
    EXPECT_EQ(
        Parse(Json::parse(R"({"transport": {"type": "tcp"}})")).effective["transport"]["variant"],
        "newreno");
    EXPECT_EQ(
        Parse(Json::parse(R"({"switch": {"buffer": {"type": "shared"}, "ecn": {"enabled": false}},
        "transport": {"type": "tcp"}})"))
            .effective["transport"]["variant"],
        "newreno");
    // All-reduce bytes: the layer's weights a GPU holds, in the combine element size.
    for (const std::string patch :
         {R"({"workload": {"ep_size": 4, "allreduce": {"enabled": true}}})",
          R"({"workload": {"ep_size": 4, "allreduce": {"enabled": true},
              "model_overrides": {"shared_experts": 2, "shared_expert_ffn": 256,
                                  "combine_bytes_per_element": 1.5},
              "replication": {"redundant_slots_per_gpu": 2}}})"})
    {
        const Json w = Parse(MoeConfig("rdma", patch)).effective["workload"];
        const Json& m = w["model_overrides"];
        const double params = m["attention_params"].get<double>() +
                              (m["routed_experts"].get<double>() / 4 +
                               w["replication"]["redundant_slots_per_gpu"].get<double>()) *
                                  3 * m["hidden"].get<double>() * m["expert_ffn"].get<double>() +
                              m["shared_experts"].get<double>() * 3 * m["hidden"].get<double>() *
                                  m["shared_expert_ffn"].get<double>();
        EXPECT_EQ(w["allreduce"]["bytes_per_layer"].get<uint64_t>(),
                  static_cast<uint64_t>(params * m["combine_bytes_per_element"].get<double>()))
            << patch;
    }
}

TEST(SchemaDoc, SummaryKeysMatchOutput)
{
    const DocTables doc = OutputDoc("Key");
    ASSERT_GE(doc.rows.size(), 150u) << "the key tables of " << OUTPUT_DOC << " were not found";
    const std::string rdma = RunCli(SmallConfig("rdma"), "schema-doc-rdma");
    Json idealConfig = SmallConfig("ideal");
    idealConfig["output"]["pcap"] = "hosts";
    const std::string ideal = RunCli(idealConfig, "schema-doc-ideal");
    // MoE with the fabric tax and the default outputs (layer_phases.csv, no messages.csv), and
    // MoE with every optional summary part, messages.csv on and layer_phases.csv off.
    const std::string moe =
        RunCli(MoeConfig("rdma", R"({"workload": {"fabric_tax": true}})"), "schema-doc-moe");
    const std::string moeFull = RunCli(MoeFullConfig(), "schema-doc-moe-full");
    const std::string tcp = RunCli(SmallConfig("tcp"), "schema-doc-tcp");
    const std::string serving = RunCli(ServingConfig(), "schema-doc-serving");
    ASSERT_FALSE(serving.empty());
    const std::string replay = RunCli(MoeReplayConfig(), "schema-doc-replay"); // manifest.inputs
    ASSERT_FALSE(replay.empty());
    const std::string feedback = RunCli(ServingFeedbackConfig(), "schema-doc-serving-feedback");
    ASSERT_FALSE(feedback.empty());
    const std::string disaggregated =
        RunCli(ServingDisaggregatedConfig(), "schema-doc-serving-disaggregated");
    ASSERT_FALSE(disaggregated.empty());
    ASSERT_FALSE(tcp.empty());
    ASSERT_FALSE(rdma.empty());
    ASSERT_FALSE(ideal.empty());
    ASSERT_FALSE(moe.empty());
    ASSERT_FALSE(moeFull.empty());
    const Json stalled = StalledSummary();
    const std::vector<Json> summaries{ReadJson(rdma + "/summary.json"),
                                      ReadJson(ideal + "/summary.json"),
                                      ReadJson(moe + "/summary.json"),
                                      ReadJson(moeFull + "/summary.json"),
                                      stalled,
                                      ReadJson(tcp + "/summary.json"),
                                      ReadJson(serving + "/summary.json"),
                                      ReadJson(feedback + "/summary.json"),
                                      ReadJson(disaggregated + "/summary.json"),
                                      ReadJson(replay + "/summary.json")};
    std::vector<std::string> problems = CheckSummaryKeys(doc, summaries);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    const std::string outputText = ReadFile(SourcePath(OUTPUT_DOC));
    problems = CheckSummaryNames(outputText, summaries);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    for (const auto& s : {summaries[2], summaries[3]})
    {
        EXPECT_TRUE(s["moe"]["complete"].get<bool>());
        EXPECT_FALSE(s.contains("rounds"));
        EXPECT_TRUE(s["moe"]["gpu_tokens"].size() > 0);
    }
    EXPECT_FALSE(summaries[0].contains("moe"));

    // Tier names in summary.json are named in the scenario schema's tier table.
    const std::string scenarioText = ReadFile(SourcePath(SCENARIO_DOC));
    for (const auto& s : summaries)
    {
        for (auto it = s["fabric"]["tiers"].begin(); it != s["fabric"]["tiers"].end(); ++it)
        {
            EXPECT_NE(scenarioText.find("`" + it.key() + "`"), std::string::npos) << it.key();
        }
    }

    // Every run writes the files documented for it, and every file is documented.
    EXPECT_EQ(OutputFiles(rdma),
              (std::set<std::string>{"summary.json", "effective_config.json", "messages.csv"}));
    EXPECT_EQ(OutputFiles(ideal),
              (std::set<std::string>{"summary.json",
                                     "effective_config.json",
                                     "messages.csv",
                                     "pcap-<node>-<device>.pcap"}));
    EXPECT_EQ(OutputFiles(moe),
              (std::set<std::string>{"summary.json", "effective_config.json", "layer_phases.csv"}));
    EXPECT_EQ(OutputFiles(moeFull),
              (std::set<std::string>{"summary.json", "effective_config.json", "messages.csv"}));
    EXPECT_EQ(OutputFiles(serving),
              (std::set<std::string>{"summary.json",
                                     "effective_config.json",
                                     "layer_phases.csv",
                                     "requests.csv"}));
    for (const std::string& dir : {rdma, ideal, moe, moeFull, serving})
    {
        for (const auto& name : OutputFiles(dir))
        {
            EXPECT_NE(outputText.find("`" + name + "`"), std::string::npos)
                << "output file " << name << " is not documented in " << OUTPUT_DOC;
        }
    }
}

TEST(SchemaDoc, OnlyFieldsDocumentedAsNonReproducibleDiffer)
{
    const DocTables doc = OutputDoc("Key");
    const std::set<std::string> volatileKeys = NonReproducible(doc);
    EXPECT_EQ(volatileKeys,
              (std::set<std::string>{"sim.wall_s",
                                     "sim.wall_s_per_million_packet_hops",
                                     "sim.peak_rss_mb",
                                     "manifest.invocation.config_file",
                                     "manifest.invocation.rerun"}))
        << "the wall-clock fields of summary.json changed: update this test and the doc together";
    Json moe = MoeConfig("rdma", R"({"workload": {"fabric_tax": true, "iterations": 2,
        "gate": {"type": "zipf"}}, "output": {"messages_csv": true}})");
    for (const auto& [config, stem] :
         std::vector<std::pair<Json, std::string>>{{SmallConfig("rdma"), "schema-doc-repro"},
                                                   {moe, "schema-doc-repro-moe"}})
    {
        const std::string a = RunCli(config, stem + "-a");
        const std::string b = RunCli(config, stem + "-b");
        ASSERT_FALSE(a.empty());
        ASSERT_FALSE(b.empty());
        Json sa = ReadJson(a + "/summary.json");
        Json sb = ReadJson(b + "/summary.json");
        StripPaths(sa, "", volatileKeys);
        StripPaths(sb, "", volatileKeys);
        EXPECT_EQ(sa.dump(2), sb.dump(2));
        EXPECT_EQ(OutputFiles(a), OutputFiles(b));
        for (const auto& name : OutputFiles(a))
        {
            if (name != "summary.json")
            {
                EXPECT_EQ(ReadFile(a + "/" + name), ReadFile(b + "/" + name))
                    << stem << " " << name;
            }
        }
    }
}

TEST(SchemaDoc, CsvTablesAreTheKnownOnes)
{
    // Every column table of the output schema belongs to a CSV file this test checks, and
    // every such file has its table.
    const std::string text = ReadFile(SourcePath(OUTPUT_DOC));
    std::vector<std::string> columnTables;
    for (const auto& h : TableHeaders(text))
    {
        if (h.rfind("Column", 0) == 0)
        {
            columnTables.push_back(h);
        }
    }
    EXPECT_EQ(columnTables, CSV_TABLES)
        << "a CSV column table was added or renamed: check it in this test";
}

TEST(SchemaDoc, MessagesCsvColumnsMatch)
{
    const std::string out = RunCli(SmallConfig("rdma"), "schema-doc-csv");
    ASSERT_FALSE(out.empty());
    Csv csv;
    const std::vector<std::string> problems = CheckCsv(OutputDoc(CSV_A2A_MESSAGES),
                                                       CSV_A2A_MESSAGES,
                                                       ReadFile(out + "/messages.csv"),
                                                       &csv);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    EXPECT_EQ(csv.rows.size(), 240u); // 16 GPUs, one round
}

TEST(SchemaDoc, SampleAndPfcCsvColumnsMatch)
{
    // A lossless incast on a small shared buffer, sampled every 5 us, with the PFC log.
    Json c = SmallConfig("rdma");
    c["traffic"]["bytes_per_pair"] = "256KiB";
    c["switch"]["buffer"] = Json::parse(R"({"type": "shared", "size": "1MiB",
                                            "lossless_priorities": [0]})");
    c["output"]["sample_interval"] = "5us";
    c["output"]["pfc_events_csv"] = true;
    const std::string out = RunCli(c, "schema-doc-samples");
    ASSERT_FALSE(out.empty());
    for (const char* table : {CSV_QUEUE_SAMPLES, CSV_BUFFER_SAMPLES, CSV_PFC_EVENTS})
    {
        const std::string t = table;
        const std::string file = t.substr(t.find('(') + 1, t.find(')') - t.find('(') - 1);
        Csv csv;
        const std::vector<std::string> problems =
            CheckCsv(OutputDoc(table), table, ReadFile(out + "/" + file), &csv);
        EXPECT_TRUE(problems.empty()) << JoinLines(problems);
        EXPECT_GT(csv.rows.size(), 0u) << file;
    }
}

TEST(SchemaDoc, QpRatesCsvColumnsMatch)
{
    // The all-to-all incast with DCQCN on an ECN-marking shared buffer, with the rate log.
    Json c = SmallConfig("rdma");
    c["traffic"]["bytes_per_pair"] = "256KiB";
    c["switch"]["buffer"] = Json::parse(R"({"type": "shared", "size": "1MiB"})");
    c["transport"]["cc"]["type"] = "dcqcn";
    c["output"]["qp_rates_csv"] = true;
    const std::string out = RunCli(c, "schema-doc-qp-rates");
    ASSERT_FALSE(out.empty());
    Csv csv;
    const std::vector<std::string> problems =
        CheckCsv(OutputDoc(CSV_QP_RATES), CSV_QP_RATES, ReadFile(out + "/qp_rates.csv"), &csv);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    EXPECT_GT(csv.rows.size(), 0u);
    std::set<std::string> events;
    for (const auto& row : csv.rows)
    {
        events.insert(row.at("event"));
    }
    EXPECT_EQ(events.count("decrease"), 1u);
    const Json summary = ReadJson(out + "/summary.json");
    size_t decreases = 0;
    for (const auto& row : csv.rows)
    {
        decreases += row.at("event") == "decrease";
    }
    EXPECT_EQ(summary["transport"]["rate_decreases"].get<uint64_t>(), decreases);
}

TEST(SchemaDoc, RequestsCsvColumnsMatch)
{
    const std::string out = RunCli(ServingConfig(), "schema-doc-requests");
    ASSERT_FALSE(out.empty());
    Csv csv;
    const std::vector<std::string> problems =
        CheckCsv(OutputDoc(CSV_REQUESTS), CSV_REQUESTS, ReadFile(out + "/requests.csv"), &csv);
    EXPECT_TRUE(problems.empty()) << JoinLines(problems);
    EXPECT_EQ(csv.rows.size(), 16u); // 12 chat + 4 bulk requests
    // Disaggregated: every cell filled (every output has at least 2 tokens).
    const std::string dis = RunCli(ServingDisaggregatedConfig(), "schema-doc-requests-disagg");
    ASSERT_FALSE(dis.empty());
    Csv disCsv;
    const std::vector<std::string> disProblems =
        CheckCsv(OutputDoc(CSV_REQUESTS), CSV_REQUESTS, ReadFile(dis + "/requests.csv"), &disCsv);
    EXPECT_TRUE(disProblems.empty()) << JoinLines(disProblems);
    ASSERT_EQ(disCsv.rows.size(), 16u);
    for (const auto& row : disCsv.rows)
    {
        for (const auto& [column, value] : row)
        {
            EXPECT_FALSE(value.empty()) << column << " of request " << row.at("id");
        }
    }
}

TEST(SchemaDoc, MoeCsvColumnsMatch)
{
    // Two training runs with both CSV files: hierarchical dispatch across the two servers, two
    // iterations; micro-batches back to back with a global barrier, then overlapped with eager
    // experts and a per-GPU barrier.
    const std::string text = ReadFile(SourcePath(OUTPUT_DOC));
    const std::vector<std::string> kinds = Keys(ParseTables(text, "Kind"));
    const std::vector<std::string> phases = Keys(ParseTables(text, "Phase"));
    ASSERT_FALSE(kinds.empty());
    ASSERT_EQ(phases.size(), 7u);
    const std::vector<std::string> layerPhaseColumns = Keys(ParseTables(text, CSV_LAYER_PHASES));
    for (const auto& p : phases)
    {
        // Every phase has its column, in the order of the Phase table, after start_s.
        const auto at = std::find(layerPhaseColumns.begin(), layerPhaseColumns.end(), p + "_s");
        EXPECT_NE(at, layerPhaseColumns.end()) << p;
        EXPECT_EQ(at - layerPhaseColumns.begin(),
                  std::find(layerPhaseColumns.begin(), layerPhaseColumns.end(), "start_s") -
                      layerPhaseColumns.begin() + 1 +
                      (std::find(phases.begin(), phases.end(), p) - phases.begin()))
            << p;
    }
    for (const std::string patch : {
             R"({"workload": {"iterations": 2, "dispatch": {"variant": "hierarchical"},
                 "schedule": {"micro_batches": 2, "overlap": false}},
                 "output": {"messages_csv": true}})",
             R"({"workload": {"iterations": 2, "gate": {"type": "zipf"},
                 "experts": {"batching": "eager"},
                 "schedule": {"micro_batches": 2, "barrier": "per-gpu"}},
                 "output": {"messages_csv": true}})"})
    {
        const std::string out = RunCli(MoeConfig("rdma", patch), "schema-doc-moe-csv");
        ASSERT_FALSE(out.empty());
        const Json summary = ReadJson(out + "/summary.json");
        const Json effective = ReadJson(out + "/effective_config.json");
        ASSERT_TRUE(summary["moe"]["complete"].get<bool>());

        Csv phasesCsv;
        std::vector<std::string> problems = CheckCsv(ParseTables(text, CSV_LAYER_PHASES),
                                                     CSV_LAYER_PHASES,
                                                     ReadFile(out + "/layer_phases.csv"),
                                                     &phasesCsv);
        EXPECT_TRUE(problems.empty()) << JoinLines(problems);
        problems = CheckLayerPhases(phasesCsv, effective, summary);
        EXPECT_TRUE(problems.empty()) << patch << "\n" << JoinLines(problems);

        Csv messages;
        problems = CheckCsv(ParseTables(text, CSV_MOE_MESSAGES),
                            CSV_MOE_MESSAGES,
                            ReadFile(out + "/messages.csv"),
                            &messages);
        EXPECT_TRUE(problems.empty()) << JoinLines(problems);
        // One row per fabric message: the counts of moe.fabric_messages_by_kind.
        uint64_t fabricMessages = 0;
        for (const auto& k : summary["moe"]["fabric_messages_by_kind"])
        {
            fabricMessages += k["messages"].get<uint64_t>();
        }
        EXPECT_EQ(messages.rows.size(), fabricMessages);
        std::set<std::string> seen;
        for (const auto& row : messages.rows)
        {
            seen.insert(row.at("kind"));
            EXPECT_NE(row.at("src"), row.at("dst"));
            EXPECT_LE(Ps(row.at("start_s")), Ps(row.at("first_byte_s")));
            EXPECT_LE(Ps(row.at("first_byte_s")), Ps(row.at("end_s")));
        }
        for (const auto& k : seen)
        {
            EXPECT_NE(std::find(kinds.begin(), kinds.end(), k), kinds.end())
                << "kind " << k << " is not in the Kind table";
        }
    }
}

TEST(SchemaDoc, ConfigHashAndEffectiveConfigAsDocumented)
{
    for (const Json& config : {SmallConfig("rdma"), MoeFullConfig()})
    {
        const std::string out = RunCli(config, "schema-doc-hash");
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
        // Feeding the effective configuration back gives the same one (every default filled
        // in, values already normalized).
        Json again;
        ParseScenario(effective, again);
        EXPECT_EQ(again, effective);
    }
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

    // MoE keys: a missing workload key, a gate key narrowed to the wrong gate type, a wrong
    // preset value, a wrong plain default.
    const std::string noDrift = ReplaceLine(scenarioText, "| `workload.gate.drift` |", "");
    problems = CheckScenarioKeys(ParseTables(noDrift, "Key"), configs);
    EXPECT_TRUE(Mentions(problems, "`workload.gate.drift` (config")) << JoinLines(problems);
    const std::string wrongGate =
        ReplaceLine(scenarioText,
                    "| `workload.gate.s` | number | `1.0` |",
                    "| `workload.gate.s` | number | `1.0` | 0..10 | affinity | wrong |");
    problems = CheckScenarioKeys(ParseTables(wrongGate, "Key"), configs);
    EXPECT_TRUE(Mentions(problems, "`workload.gate.s` (config \"moe: zipf gate"))
        << JoinLines(problems);
    const std::vector<NamedConfig> defaults = DefaultConfigs();
    ASSERT_TRUE(CheckScenarioDefaults(scenarioText, defaults).empty());
    const std::string wrongPreset =
        ReplaceLine(scenarioText, "| `top_k` |", "| `top_k` | `8` | `3` | `8` | `4` |");
    problems = CheckScenarioDefaults(wrongPreset, defaults);
    EXPECT_TRUE(Mentions(problems, "documented default 3, the code records 2"))
        << JoinLines(problems);
    const std::string wrongDefault =
        ReplaceLine(scenarioText,
                    "| `workload.tokens_per_gpu` |",
                    "| `workload.tokens_per_gpu` | integer | `2048` | 1..16777216 | moe | wrong |");
    problems = CheckScenarioDefaults(wrongDefault, defaults);
    EXPECT_TRUE(Mentions(problems, "documented default 2048, the code records 4096"))
        << JoinLines(problems);

    const std::string outputText = ReadFile(SourcePath(OUTPUT_DOC));
    const std::string moeDir = RunCli(MoeFullConfig(), "schema-doc-drift-moe");
    ASSERT_FALSE(moeDir.empty());
    const std::string tcpDir = RunCli(SmallConfig("tcp"), "schema-doc-drift-tcp");
    ASSERT_FALSE(tcpDir.empty());
    const std::string servingDir = RunCli(ServingConfig(), "schema-doc-drift-serving");
    ASSERT_FALSE(servingDir.empty());
    const std::string feedbackDir =
        RunCli(ServingFeedbackConfig(), "schema-doc-drift-serving-feedback");
    ASSERT_FALSE(feedbackDir.empty());
    const std::string disaggregatedDir =
        RunCli(ServingDisaggregatedConfig(), "schema-doc-drift-serving-disaggregated");
    ASSERT_FALSE(disaggregatedDir.empty());
    const std::string replayDir = RunCli(MoeReplayConfig(), "schema-doc-drift-replay");
    ASSERT_FALSE(replayDir.empty());
    const std::vector<Json> summaries{InProcessSummary(),
                                      ReadJson(replayDir + "/summary.json"),
                                      ReadJson(moeDir + "/summary.json"),
                                      StalledSummary(),
                                      ReadJson(tcpDir + "/summary.json"),
                                      ReadJson(servingDir + "/summary.json"),
                                      ReadJson(feedbackDir + "/summary.json"),
                                      ReadJson(disaggregatedDir + "/summary.json")};
    ASSERT_TRUE(CheckSummaryKeys(ParseTables(outputText, "Key"), summaries).empty())
        << JoinLines(CheckSummaryKeys(ParseTables(outputText, "Key"), summaries));
    ASSERT_TRUE(CheckSummaryNames(outputText, summaries).empty())
        << JoinLines(CheckSummaryNames(outputText, summaries));

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

    const std::string noExpertTime = ReplaceLine(outputText, "| `moe.gpu_compute.expert_s` |", "");
    problems = CheckSummaryKeys(ParseTables(noExpertTime, "Key"), summaries);
    EXPECT_TRUE(Mentions(problems, "`moe.gpu_compute.expert_s` is not documented"))
        << JoinLines(problems);
    const std::string noForward = ReplaceLine(outputText, "| `forward` |", "");
    problems = CheckSummaryNames(noForward, summaries);
    EXPECT_TRUE(Mentions(problems, "<kind> name `forward` is not in")) << JoinLines(problems);
    const std::string extraPhase =
        ReplaceLine(outputText,
                    "| `attention` |",
                    "| `attention` | a | b | c |\n| `idle` | a | b | c |");
    problems = CheckSummaryNames(extraPhase, summaries);
    EXPECT_TRUE(Mentions(problems, "<phase> name `idle` is documented but")) << JoinLines(problems);

    // CSV columns: a removed column, a time documented as an integer.
    const std::string messagesCsv = ReadFile(moeDir + "/messages.csv");
    ASSERT_TRUE(
        CheckCsv(ParseTables(outputText, CSV_MOE_MESSAGES), CSV_MOE_MESSAGES, messagesCsv, nullptr)
            .empty());
    const std::string noGroup =
        ReplaceLine(outputText, "| `group` | integer | | Expert-parallel group whose", "");
    problems =
        CheckCsv(ParseTables(noGroup, CSV_MOE_MESSAGES), CSV_MOE_MESSAGES, messagesCsv, nullptr);
    EXPECT_TRUE(Mentions(problems, "the documented columns are")) << JoinLines(problems);
    const std::string intTime = ReplaceLine(outputText,
                                            "| `first_byte_s` | decimal | s | Time the first of "
                                            "its data packets to arrive was entirely received. |",
                                            "| `first_byte_s` | integer | s | x |");
    problems =
        CheckCsv(ParseTables(intTime, CSV_MOE_MESSAGES), CSV_MOE_MESSAGES, messagesCsv, nullptr);
    EXPECT_TRUE(Mentions(problems, "`first_byte_s` = \"")) << JoinLines(problems);
    EXPECT_TRUE(Mentions(problems, "only they are decimal")) << JoinLines(problems);
}

namespace
{
/// Section-nesting errors of reStructuredText @p text: a heading more than one level below the
/// one before it. As in docutils, an adornment character gets its level when first used.
std::vector<std::string>
HeadingNestingErrors(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
    {
        lines.push_back(l);
    }
    auto isAdornment = [](const std::string& l) {
        return l.size() >= 3 && std::string("-=*#~^\"+").find(l[0]) != std::string::npos &&
               l.find_first_not_of(l[0]) == std::string::npos;
    };
    std::vector<std::string> errors;
    std::string order; // adornment characters by level
    size_t current = 0;
    for (size_t i = 1; i < lines.size(); ++i)
    {
        const std::string& title = lines[i - 1];
        if (!isAdornment(lines[i]) || title.empty() || title[0] == ' ' || isAdornment(title) ||
            lines[i].size() < title.size())
        {
            continue;
        }
        size_t level = order.find(lines[i][0]);
        if (level == std::string::npos)
        {
            order += lines[i][0];
            level = order.size() - 1;
        }
        if (level > current + 1)
        {
            errors.push_back("line " + std::to_string(i) + " \"" + title + "\" ('" + lines[i][0] +
                             "') is more than one level below the heading before it");
        }
        current = level;
    }
    return errors;
}
} // namespace

TEST(SchemaDoc, DocSectionsNestOneLevelAtATime)
{
    // doc/moe-fabric.rst drops into an ns-3 tree's Sphinx docs: a subsection adorned like the
    // chapter title would become a chapter of its own there.
    EXPECT_TRUE(HeadingNestingErrors("T\n---\n\nA\n***\n\nB\n===\n\nC\n###\n").empty());
    // '#' is level 3 once used so: straight after a level-1 heading it skips level 2.
    EXPECT_EQ(
        HeadingNestingErrors("T\n---\n\nA\n***\n\nB\n===\n\nC\n###\n\nD\n***\n\nE\n###\n").size(),
        1u);
    for (const std::string& e : HeadingNestingErrors(ReadFile(SourcePath("doc/moe-fabric.rst"))))
    {
        ADD_FAILURE() << e;
    }
    // The chapter's own title is the only heading at the top level.
    std::istringstream in(ReadFile(SourcePath("doc/moe-fabric.rst")));
    std::string prev;
    int top = 0;
    for (std::string l; std::getline(in, l); prev = l)
    {
        if (l.size() >= 3 && l.find_first_not_of('-') == std::string::npos && !prev.empty() &&
            prev[0] != ' ' && l.size() >= prev.size())
        {
            ++top;
        }
    }
    EXPECT_EQ(top, 1) << "more than one heading adorned with '-' (the chapter title's)";
}
