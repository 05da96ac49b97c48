/*
 * moe-fabric: settings shared by the topology helpers.
 */
#ifndef MOE_TOPOLOGY_HELPERS_COMMON_H
#define MOE_TOPOLOGY_HELPERS_COMMON_H

#include <cstdint>

namespace ns3
{
namespace moe
{

/// @brief Rate and delay of one tier's links.
struct LinkSpec
{
    uint64_t rateBps{100000000000ull}; ///< 100 Gb/s
    int64_t delayPs{1000000};          ///< 1 us (propagation + switch pipeline)
};

/// @brief Default NVLink: 450 GB/s per direction (H100 NVLink 4, 900 GB/s bidirectional), 100 ns.
inline LinkSpec
DefaultNvLink()
{
    LinkSpec s;
    s.rateBps = 3600000000000ull;
    s.delayPs = 100000;
    return s;
}

} // namespace moe
} // namespace ns3

#endif // MOE_TOPOLOGY_HELPERS_COMMON_H
