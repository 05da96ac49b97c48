/*
 * moe-fabric: k-ary three-tier fat-tree.
 */
#ifndef MOE_FAT_TREE_HELPER_H
#define MOE_FAT_TREE_HELPER_H

#include "topology-helpers-common.h"

#include "ns3/fabric-topology.h"

namespace ns3
{
namespace moe
{

/**
 * @brief Describes a k-ary fat-tree (Al-Fares et al., SIGCOMM 2008): k pods of k/2 edge and k/2
 * aggregation switches, (k/2)^2 core switches, k^3/4 hosts (GPUs). k = 4 gives 16 hosts and 20
 * switches, k = 8 gives 128 and 80, k = 16 gives 1024 and 320.
 *
 * Optionally, consecutive groups of GpusPerServer hosts form servers joined by an NVSwitch.
 * Tiers: "host-edge", "edge-agg", "agg-core" (and "nvlink").
 */
class FatTreeHelper
{
  public:
    FatTreeHelper();

    /// @brief Switch radix; even, >= 2.
    void SetK(uint32_t k);
    /// @brief GPUs per server (NVSwitch domain); 1 = no servers. Must divide k^3/4.
    void SetGpusPerServer(uint32_t n);
    void SetHostLink(LinkSpec s);
    void SetEdgeAggLink(LinkSpec s);
    void SetAggCoreLink(LinkSpec s);
    void SetNvLink(LinkSpec s);

    /// @brief The graph; throws ConfigError for impossible settings.
    TopologySpec Build() const;

  private:
    uint32_t m_k{4};
    uint32_t m_gpusPerServer{1};
    LinkSpec m_host;
    LinkSpec m_edgeAgg;
    LinkSpec m_aggCore;
    LinkSpec m_nvlink;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FAT_TREE_HELPER_H
