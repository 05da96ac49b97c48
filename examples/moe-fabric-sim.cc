/*
 * moe-fabric-sim: run a scenario described by a JSON file.
 *
 *   moe-fabric-sim --config=examples/configs/moe-deepseek-v3-decode.json [--set=a.b=value ...]
 *                  [--unset=a.b ...] [--out=DIR] [--dry-run] [--quiet]
 *   moe-fabric-sim --rerun=OUT_DIR [--unset=a.b ...] [--set=a.b=value ...] ...
 *
 * --set may repeat; each overrides one key of the JSON (the value is parsed as JSON, or taken as
 * a string). --unset may repeat; each removes one key (its default applies again), e.g. the old
 * type's keys before another type is set on a --rerun; --set and --unset apply in the order
 * given. --dry-run validates the scenario and prints the topology and traffic summary without
 * simulating. Outputs in DIR (default "out"): summary.json, effective_config.json, and
 * messages.csv and (MoE workloads) layer_phases.csv when enabled.
 *
 * Exit codes: 0 success; 1 command-line usage error (from ns-3's CommandLine); 2 configuration
 * error (message names the JSON path and the accepted values); 3 the simulation stopped before
 * every message completed (simulation.stop_time); 4 the outputs could not be written; 5 an
 * error the configuration checks did not catch, while building or running (message on stderr).
 */

#include "ns3/command-line.h"
#include "ns3/fabric-config-error.h"
#include "ns3/fabric-helper.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/simulator.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <iostream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace ns3;
using namespace ns3::moe;

NS_LOG_COMPONENT_DEFINE("MoeFabricSim");

namespace
{
/// --set and --unset, in the order given: (true for --unset, its text).
std::vector<std::pair<bool, std::string>> g_overrides;

bool
CollectSet(std::string value)
{
    g_overrides.emplace_back(false, value);
    return true;
}

bool
CollectUnset(std::string value)
{
    g_overrides.emplace_back(true, value);
    return true;
}

/// @brief The value at dotted @p key ("workload.gate.file") of @p config, null if absent.
Json*
FindKey(Json& config, const std::string& key)
{
    Json* node = &config;
    size_t start = 0;
    while (true)
    {
        const size_t dot = key.find('.', start);
        const std::string part = key.substr(start, dot - start);
        if (!node->is_object() || !node->contains(part))
        {
            return nullptr;
        }
        node = &(*node)[part];
        if (dot == std::string::npos)
        {
            return node;
        }
        start = dot + 1;
    }
}

/**
 * @brief A rerun reads the files the run read (manifest.inputs): a relative path that does not
 * resolve from here, or resolves to another file, is taken from where the run found it (if that
 * file is unchanged), and a file whose contents changed since is named (the outputs will
 * differ). Only keys the overrides left as recorded.
 */
void
CheckRecordedInputs(const Json& manifest, Json& config)
{
    if (!manifest.contains("inputs") || !manifest["inputs"].is_array())
    {
        return;
    }
    for (const Json& input : manifest["inputs"])
    {
        if (!input.is_object() || !input.contains("key") || !input.contains("path") ||
            !input["key"].is_string() || !input["path"].is_string())
        {
            continue;
        }
        const std::string key = input["key"].get<std::string>();
        Json* value = FindKey(config, key);
        if (value == nullptr || !value->is_string() || *value != input["path"])
        {
            continue; // changed by an override: the user's file
        }
        uint64_t bytes = 0;
        std::string path = value->get<std::string>();
        std::string hash = HashInputFile(path, bytes);
        const std::string recordedHash = input.contains("hash") && input["hash"].is_string()
                                             ? input["hash"].get<std::string>()
                                             : "";
        if (hash != recordedHash && input.contains("absolute_path") &&
            input["absolute_path"].is_string())
        {
            // Not found from here, or another file of that name: the run's own file, if it is
            // still where the run read it, unchanged.
            const std::string recorded = input["absolute_path"].get<std::string>();
            uint64_t recordedBytes = 0;
            if (!recordedHash.empty() && HashInputFile(recorded, recordedBytes) == recordedHash)
            {
                std::cerr << "moe-fabric-sim: note: " << key << ": \"" << path << "\" "
                          << (hash.empty() ? "is not found from here"
                                           : "from here is another file than the run read")
                          << "; reading the run's, \"" << recorded << "\"" << std::endl;
                *value = recorded;
                continue;
            }
        }
        if (!hash.empty() && !recordedHash.empty() && recordedHash != hash)
        {
            std::cerr << "moe-fabric-sim: note: " << key << ": \"" << path
                      << "\" has changed since the run (" << input["hash"].get<std::string>()
                      << ", now " << hash << "); its outputs may differ" << std::endl;
        }
    }
}

/// Delete the files a run writes (and nothing else) from @p dir.
void
RemoveStaleOutputs(const std::string& dir)
{
    for (const char* name : {"summary.json",
                             "messages.csv",
                             "layer_phases.csv",
                             "requests.csv",
                             "effective_config.json"})
    {
        std::remove((dir + "/" + name).c_str());
    }
    if (DIR* d = opendir(dir.c_str()))
    {
        while (const dirent* e = readdir(d))
        {
            const std::string name = e->d_name;
            if (name.rfind("pcap-", 0) == 0 && name.size() > 5 &&
                name.compare(name.size() - 5, 5, ".pcap") == 0)
            {
                std::remove((dir + "/" + name).c_str());
            }
        }
        closedir(d);
    }
}

bool
MakeDirectories(const std::string& path, std::string& error)
{
    std::string partial;
    for (size_t i = 0; i <= path.size(); ++i)
    {
        if (i == path.size() || path[i] == '/')
        {
            partial = path.substr(0, i);
            if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST)
            {
                error = "cannot create directory " + partial + ": " + std::strerror(errno);
                return false;
            }
        }
    }
    return true;
}
} // namespace

int
main(int argc, char* argv[])
{
    // Huge pages for malloc before anything is allocated: a re-execution that does not return
    // (large fabrics run about a fifth faster; MOE_FABRIC_HUGE_PAGES=0 turns it off).
    const std::string hugePages = FabricHelper::ReexecWithHugePages(argv);
    // Picoseconds before any Time exists beyond the static defaults ns-3 converts.
    FabricHelper::EnsurePicosecondResolution();

    std::string configPath;
    std::string rerunPath;
    std::string outDir = "out";
    bool dryRun = false;
    bool quiet = false;
    CommandLine cmd(__FILE__);
    cmd.Usage("Simulate an MoE fabric scenario described by a JSON file.");
    cmd.AddValue("config", "scenario JSON file", configPath);
    cmd.AddValue("rerun",
                 "rerun what a run recorded: its summary.json (manifest.config), its "
                 "effective_config.json or its output directory",
                 rerunPath);
    cmd.AddValue("set",
                 "override one key, e.g. --set=topology.k=8 (may repeat)",
                 MakeCallback(&CollectSet));
    cmd.AddValue("unset",
                 "remove one key, e.g. --unset=transport before --set=transport.type=ideal on a "
                 "--rerun (may repeat; applied in order with --set)",
                 MakeCallback(&CollectUnset));
    cmd.AddValue("out", "output directory", outDir);
    cmd.AddValue("dry-run", "validate and describe the scenario without simulating", dryRun);
    cmd.AddValue("quiet", "print nothing but errors (no summary, no progress lines)", quiet);
    cmd.Parse(argc, argv);

    std::unique_ptr<Scenario> scenario;
    Json config;   // the scenario, overrides applied
    Json original; // before the overrides (to tell whether a --set changed a type)
    try
    {
        if (configPath.empty() && rerunPath.empty() && g_overrides.empty())
        {
            throw ConfigError("--config",
                              "no scenario given; use --config=FILE.json "
                              "(see examples/configs/) or --rerun=OUT_DIR");
        }
        if (!configPath.empty() && !rerunPath.empty())
        {
            throw ConfigError("--rerun", "give either --config or --rerun, not both");
        }
        config = configPath.empty() ? Json::object() : LoadJsonFile(configPath);
        Json manifest;
        if (!rerunPath.empty())
        {
            config = LoadRecordedConfig(rerunPath, manifest);
            if (manifest.contains("config_hash") && manifest["config_hash"].is_string() &&
                manifest["config_hash"].get<std::string>() != HashConfig(config))
            {
                std::cerr << "moe-fabric-sim: note: manifest.config is not what the run recorded "
                             "(config_hash "
                          << manifest["config_hash"].get<std::string>() << ", the file's is "
                          << HashConfig(config)
                          << "): it was edited; rerunning the edited configuration" << std::endl;
            }
            // The same outputs need the same code: say so when this build differs.
            for (const auto& [key, mine] :
                 {std::make_pair(std::string("version"), GetModuleVersion()),
                  std::make_pair(std::string("git_revision"), GetModuleGitRevision())})
            {
                if (manifest.contains(key) && manifest[key].is_string() &&
                    manifest[key].get<std::string>() != mine)
                {
                    std::cerr << "moe-fabric-sim: note: the run was made by " << key << " "
                              << manifest[key].get<std::string>() << ", this build is " << mine
                              << "; its outputs may differ" << std::endl;
                }
            }
        }
        original = config;
        Json overrides = Json::array();
        for (const auto& [unset, text] : g_overrides)
        {
            if (unset)
            {
                ApplyUnsetOverride(config, text);
            }
            else
            {
                ApplySetOverride(config, text);
            }
            overrides.push_back((unset ? "--unset=" : "--set=") + text);
        }
        CheckRecordedInputs(manifest, config);
        scenario = std::make_unique<Scenario>(config);
        Json invocation = Json::object();
        invocation["config_file"] = configPath;
        invocation["rerun"] = rerunPath;
        invocation["overrides"] = overrides;
        scenario->SetInvocation(invocation);
    }
    catch (const ConfigError& e)
    {
        std::cerr << "moe-fabric-sim: configuration error: " << e.what() << std::endl;
        const std::string what = e.what();
        // A --set that changes a type keeps the old type's keys (from the file, or every
        // default of a rerun's recorded configuration).
        bool typeChanged = false;
        for (const auto& [unset, text] : g_overrides)
        {
            const std::string key = text.substr(0, text.find('='));
            if (!unset &&
                (key == "type" || (key.size() > 5 && key.compare(key.size() - 5, 5, ".type") == 0)))
            {
                const Json* before = FindKey(original, key);
                const Json* after = FindKey(config, key);
                typeChanged |= before == nullptr || after == nullptr || *before != *after;
            }
        }
        if ((!rerunPath.empty() || typeChanged) && what.find(": unknown key") != std::string::npos)
        {
            // The recorded configuration holds every default of the recorded types: a key of
            // the old type stays behind when --set changes the type.
            std::cerr << "moe-fabric-sim: note: "
                      << (rerunPath.empty() ? "--set changed a type, and the configuration keeps "
                                              "the old type's keys"
                                            : "a rerun's configuration has the recorded types' "
                                              "defaults filled in")
                      << "; remove keys that no longer apply with --unset=" << e.GetPath()
                      << " (or a whole section, e.g. --unset=transport before "
                      << "--set=transport.type=...)" << std::endl;
        }
        return 2;
    }

    std::string error;
    if (!dryRun && !MakeDirectories(outDir, error))
    {
        std::cerr << "moe-fabric-sim: " << error << std::endl;
        return 4;
    }
    if (!dryRun)
    {
        // Outputs of an earlier run in the same directory must not pass for this run's.
        RemoveStaleOutputs(outDir);
    }
    try
    {
        scenario->Build(dryRun ? "" : outDir);
    }
    catch (const ConfigError& e)
    {
        std::cerr << "moe-fabric-sim: configuration error: " << e.what() << std::endl;
        return 2;
    }
    catch (const std::exception& e)
    {
        // Problems the configuration checks should have caught: report, never abort.
        std::cerr << "moe-fabric-sim: error while building the scenario: " << e.what() << std::endl;
        return 5;
    }

    if (dryRun)
    {
        std::cout << scenario->DescribeDryRun();
        std::cout << "malloc huge pages: " << hugePages << "\n";
        Simulator::Destroy();
        return 0;
    }

    if (!quiet)
    {
        // Long runs say how far they are, on stderr so stdout stays the summary.
        scenario->SetProgressOutput(&std::cerr);
    }
    bool complete = false;
    try
    {
        complete = scenario->Run();
    }
    catch (const std::exception& e)
    {
        std::cerr << "moe-fabric-sim: error during the simulation (no outputs written): "
                  << e.what() << std::endl;
        return 5;
    }
    try
    {
        scenario->WriteOutputs(outDir);
    }
    catch (const std::exception& e)
    {
        std::cerr << "moe-fabric-sim: " << e.what() << std::endl;
        Simulator::Destroy();
        return 4;
    }
    if (!quiet)
    {
        std::cout << scenario->HumanSummary();
        std::cout << "  outputs: " << outDir << "/summary.json";
        if (scenario->GetSettings().messagesCsv)
        {
            std::cout << ", " << outDir << "/messages.csv";
        }
        if (scenario->GetSettings().moe && scenario->GetSettings().layerPhasesCsv)
        {
            std::cout << ", " << outDir << "/layer_phases.csv";
        }
        if (scenario->GetServingLoop() != nullptr)
        {
            std::cout << ", " << outDir << "/requests.csv";
        }
        std::cout << ", " << outDir << "/effective_config.json" << std::endl;
    }
    const std::string stopReason = scenario->GetStopReason();
    scenario.reset();
    Simulator::Destroy();
    if (!complete)
    {
        std::cerr << "moe-fabric-sim: the simulation stopped before every message completed ("
                  << (stopReason == "no_progress"
                          ? "nothing moved for simulation.no_progress_timeout; the diagnosis is "
                            "in summary.json, sim.diagnosis"
                          : "see simulation.stop_time")
                  << ")" << std::endl;
        return 3;
    }
    return 0;
}
