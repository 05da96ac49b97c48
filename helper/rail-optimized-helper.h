/*
 * moe-fabric: rail-optimized GPU cluster (servers x GPUs, one leaf per rail).
 */
#ifndef MOE_RAIL_OPTIMIZED_HELPER_H
#define MOE_RAIL_OPTIMIZED_HELPER_H

#include "topology-helpers-common.h"

#include "ns3/fabric-topology.h"

namespace ns3
{
namespace moe
{

/**
 * @brief Describes a rail-optimized cluster: Servers servers of GpusPerServer GPUs; GPU g of
 * every server has its NIC on rail g, whose leaf switch(es) hold ServersPerLeaf servers each.
 * Every server's GPUs share an NVSwitch domain (high rate, tiny delay, lossless).
 *
 * With Spines > 0, every leaf has UplinksPerLeaf uplinks spread evenly over shared spines. With
 * Spines = 0 the cluster is rail-only: there is no spine, and traffic to a GPU on another rail in
 * another server first crosses the NVSwitch to the local GPU on the destination's rail, whose NIC
 * carries it (NCCL's PXN); every rail must then fit on one leaf.
 * Tiers: "host-leaf", "leaf-spine", "nvlink".
 */
class RailOptimizedHelper
{
  public:
    RailOptimizedHelper();

    void SetServers(uint32_t n);
    /// @brief GPUs per server, also the number of rails; >= 2.
    void SetGpusPerServer(uint32_t n);
    /// @brief Servers under one rail leaf; 0 = all servers on one leaf per rail.
    void SetServersPerLeaf(uint32_t n);
    /// @brief Spine switches; 0 = rail-only.
    void SetSpines(uint32_t n);
    /// @brief Uplinks per leaf (multiple of spines); 0 = one per spine.
    void SetUplinksPerLeaf(uint32_t n);
    /// @brief Relay cross-rail traffic over NVLink to the GPU on the destination's rail (NCCL's
    /// PXN) instead of through the spines. Rail-only fabrics (no spines) always do.
    void SetPxn(bool on);
    void SetHostLink(LinkSpec s);
    void SetLeafSpineLink(LinkSpec s);
    void SetNvLink(LinkSpec s);

    /// @brief The graph; throws ConfigError for impossible settings.
    TopologySpec Build() const;

  private:
    uint32_t m_servers{16};
    uint32_t m_gpusPerServer{8};
    uint32_t m_serversPerLeaf{0};
    uint32_t m_spines{4};
    uint32_t m_uplinksPerLeaf{0};
    bool m_pxn{false};
    LinkSpec m_host;
    LinkSpec m_leafSpine;
    LinkSpec m_nvlink;
};

} // namespace moe
} // namespace ns3

#endif // MOE_RAIL_OPTIMIZED_HELPER_H
