/*
 * moe-fabric tests: small shared utilities.
 */
#ifndef MOE_TEST_UTIL_H
#define MOE_TEST_UTIL_H

#include "ns3/fabric-topology.h"

#include <string>

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

/// @brief Path of the moe-fabric-sim program ("" if the build did not provide it).
std::string SimBinary();

/// @brief Path of a file in the source tree (e.g. "examples/configs/fat-tree-k4.json").
std::string SourcePath(const std::string& relative);

} // namespace moe_test

#endif // MOE_TEST_UTIL_H
