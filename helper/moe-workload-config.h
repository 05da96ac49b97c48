/*
 * moe-fabric: the scenario's "workload" section -- an MoE workload, validated.
 */
#ifndef MOE_WORKLOAD_CONFIG_H
#define MOE_WORKLOAD_CONFIG_H

#include "moe-config-reader.h"

#include "ns3/fabric-topology.h"
#include "ns3/moe-layer-plan.h"
#include "ns3/moe-workload.h"
#include "ns3/serving-loop.h"

namespace ns3
{
namespace moe
{

/// @brief Settings of the workload section beyond the MoeWorkloadSpec.
struct MoeWorkloadOptions
{
    bool fabricTax{false}; ///< also run the workload on the ideal transport and compare
    ServingSpec serving;   ///< workload.serving (enabled when the section is present)
    std::vector<ServingRequest> requests; ///< serving: generated or replayed, by arrival
};

/**
 * @brief Read workload.* (type "moe") into a MoeWorkloadSpec. @p raw is the workload object as
 * given (to tell a GPU count from a GPU list). Throws ConfigError naming the JSON path and the
 * accepted values; also checks that the gate, the model and the placement can be built.
 */
MoeWorkloadSpec ParseMoeWorkload(ConfigReader& wl,
                                 const Json& raw,
                                 const TopologySpec& topology,
                                 uint64_t seed,
                                 MoeWorkloadOptions& options);

/// @brief Server, rail (local index in the server unless rail-optimized) and NIC switch of
/// every GPU of @p spec.
GpuLayout MakeGpuLayout(const TopologySpec& spec);

} // namespace moe
} // namespace ns3

#endif // MOE_WORKLOAD_CONFIG_H
