#include "test-util.h"

#include "ns3/fabric-config-error.h"
#include "ns3/moe-scenario.h"
#include "ns3/simulator.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace moe_test
{

CommandResult
RunCommand(const std::string& command)
{
    CommandResult r;
    FILE* pipe = popen((command + " 2>&1").c_str(), "r");
    if (pipe == nullptr)
    {
        return r;
    }
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0)
    {
        r.output.append(buf.data(), n);
    }
    const int status = pclose(pipe);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

namespace
{
/// Directories made by MakeTempDir, removed when the test process exits.
std::vector<std::string>&
TempDirs()
{
    static std::vector<std::string> dirs;
    return dirs;
}

void
RemoveTempDirs()
{
    std::error_code ec;
    for (const auto& d : TempDirs())
    {
        std::filesystem::remove_all(d, ec);
    }
}
} // namespace

std::string
MakeTempDir(const std::string& stem)
{
    if (TempDirs().empty())
    {
        std::atexit(&RemoveTempDirs);
    }
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/moe-" + stem + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char* dir = mkdtemp(buf.data());
    if (dir == nullptr)
    {
        return std::string();
    }
    TempDirs().emplace_back(dir);
    return TempDirs().back();
}

std::string
ReadFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void
WriteFile(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary);
    out << text;
    EXPECT_TRUE(out.good()) << "cannot write " << path;
}

std::vector<std::map<std::string, std::string>>
ReadCsvRecords(const std::string& path)
{
    std::istringstream in(ReadFile(path));
    auto split = [](std::string line) {
        if (!line.empty() && line.back() == '\r')
        {
            line.pop_back();
        }
        std::vector<std::string> cells;
        std::istringstream fields(line);
        for (std::string cell; std::getline(fields, cell, ',');)
        {
            cells.push_back(cell);
        }
        if (!line.empty() && line.back() == ',')
        {
            cells.emplace_back(); // a trailing empty cell
        }
        return cells;
    };
    std::string line;
    std::vector<std::map<std::string, std::string>> records;
    if (!std::getline(in, line))
    {
        return records;
    }
    const std::vector<std::string> names = split(line);
    while (std::getline(in, line))
    {
        const std::vector<std::string> cells = split(line);
        std::map<std::string, std::string> record;
        for (size_t i = 0; i < names.size() && i < cells.size(); ++i)
        {
            record[names[i]] = cells[i];
        }
        records.push_back(std::move(record));
    }
    return records;
}

std::string
SimBinary()
{
#ifdef MOE_SIM_BINARY
    return MOE_SIM_BINARY;
#else
    return "";
#endif
}

std::string
SourcePath(const std::string& relative)
{
    return std::string(MOE_SOURCE_DIR) + "/" + relative;
}

ns3::moe::Json
RunScenario(const ns3::moe::Json& config)
{
    ns3::moe::Scenario sc(config);
    sc.Build();
    EXPECT_TRUE(sc.Run());
    ns3::moe::Json summary = sc.MakeSummary();
    ns3::Simulator::Destroy();
    return summary;
}

std::string
ScenarioConfigError(const ns3::moe::Json& config)
{
    try
    {
        ns3::moe::Json effective;
        ns3::moe::ParseScenario(config, effective);
    }
    catch (const ns3::moe::ConfigError& e)
    {
        return e.what();
    }
    return "";
}

} // namespace moe_test
