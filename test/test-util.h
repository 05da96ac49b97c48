/*
 * moe-fabric tests: small shared utilities.
 */
#ifndef MOE_TEST_UTIL_H
#define MOE_TEST_UTIL_H

#include "ns3/fabric-frame.h"
#include "ns3/fabric-net-device.h"
#include "ns3/fabric-topology.h"
#include "ns3/moe-config-reader.h"

#include <map>
#include <string>
#include <vector>

namespace moe_test
{

/// @brief Output and exit code of a shell command.
struct CommandResult
{
    int exitCode{-1};
    std::string output; ///< stdout and stderr, interleaved
};

/// @brief Run @p command through /bin/sh, capturing stdout+stderr.
CommandResult RunCommand(const std::string& command);

/// @brief A fresh empty directory under the system temp dir, removed when the process exits.
std::string MakeTempDir(const std::string& stem);

/// @brief Whole content of a file ("" if it cannot be read).
std::string ReadFile(const std::string& path);

/// @brief Write @p text to @p path (replacing it); fails the current test if it cannot.
void WriteFile(const std::string& path, const std::string& text);

/// @brief The rows of a comma-separated file after its header, each as column name -> cell
/// (simple CSV as the module and its scripts write it: no quoted commas; CR before LF ignored).
std::vector<std::map<std::string, std::string>> ReadCsvRecords(const std::string& path);

/// @brief Path of the moe-fabric-sim program ("" if the build did not provide it).
std::string SimBinary();

/// @brief The ConfigError message the scenario parser gives @p config ("" if it is accepted).
std::string ScenarioConfigError(const ns3::moe::Json& config);

/// @brief Build and run @p config in this process (the run must succeed); its summary.json.
ns3::moe::Json RunScenario(const ns3::moe::Json& config);

/// @brief Path of a file in the source tree (e.g. "examples/configs/fat-tree-k4.json").
std::string SourcePath(const std::string& relative);

/**
 * @brief Frame sink of a bare device in device-level tests: consumes MAC control (PFC) frames as
 * switches and hosts do, and counts the other frames.
 */
class MacControlSink : public ns3::moe::FabricFrameSink
{
  public:
    ns3::Ptr<ns3::moe::FabricNetDevice> device;
    uint32_t dataFrames{0};

    void ReceiveFrame(const ns3::Ptr<ns3::Packet>& packet,
                      const ns3::moe::FrameInfo& info,
                      uint32_t /*port*/) override
    {
        if (info.etherType == ns3::moe::ETHERTYPE_MAC_CONTROL && device->ReceiveMacControl(packet))
        {
            return;
        }
        ++dataFrames;
    }
};

} // namespace moe_test

#endif // MOE_TEST_UTIL_H
