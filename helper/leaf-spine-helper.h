/*
 * moe-fabric: two-tier leaf-spine (Clos) with configurable oversubscription.
 */
#ifndef MOE_LEAF_SPINE_HELPER_H
#define MOE_LEAF_SPINE_HELPER_H

#include "topology-helpers-common.h"

#include "ns3/fabric-topology.h"

namespace ns3
{
namespace moe
{

/**
 * @brief Describes a 2-tier leaf-spine: Leaves leaf switches with HostsPerLeaf hosts each and
 * UplinksPerLeaf uplinks spread evenly over Spines spine switches (uplinks > spines gives
 * parallel links between a leaf and a spine, all of them used by ECMP).
 *
 * Oversubscription = HostsPerLeaf x host rate / (UplinksPerLeaf x uplink rate).
 * Tiers: "host-leaf", "leaf-spine" (and "nvlink" with GpusPerServer > 1).
 */
class LeafSpineHelper
{
  public:
    LeafSpineHelper();

    void SetHostsPerLeaf(uint32_t n);
    void SetLeaves(uint32_t n);
    void SetSpines(uint32_t n);
    /// @brief Uplinks per leaf; a multiple of the number of spines. 0 = one per spine.
    void SetUplinksPerLeaf(uint32_t n);
    void SetGpusPerServer(uint32_t n);
    void SetHostLink(LinkSpec s);
    void SetLeafSpineLink(LinkSpec s);
    void SetNvLink(LinkSpec s);

    /// @brief Host bandwidth over uplink bandwidth per leaf.
    double GetOversubscription() const;

    /// @brief The graph; throws ConfigError for impossible settings.
    TopologySpec Build() const;

  private:
    uint32_t m_hostsPerLeaf{8};
    uint32_t m_leaves{4};
    uint32_t m_spines{4};
    uint32_t m_uplinksPerLeaf{0};
    uint32_t m_gpusPerServer{1};
    LinkSpec m_host;
    LinkSpec m_leafSpine;
    LinkSpec m_nvlink;
};

} // namespace moe
} // namespace ns3

#endif // MOE_LEAF_SPINE_HELPER_H
