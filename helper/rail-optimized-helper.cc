#include "rail-optimized-helper.h"

#include "fabric-config-error.h"

namespace ns3
{
namespace moe
{

RailOptimizedHelper::RailOptimizedHelper()
    : m_nvlink(DefaultNvLink())
{
}

void
RailOptimizedHelper::SetServers(uint32_t n)
{
    m_servers = n;
}

void
RailOptimizedHelper::SetGpusPerServer(uint32_t n)
{
    m_gpusPerServer = n;
}

void
RailOptimizedHelper::SetServersPerLeaf(uint32_t n)
{
    m_serversPerLeaf = n;
}

void
RailOptimizedHelper::SetSpines(uint32_t n)
{
    m_spines = n;
}

void
RailOptimizedHelper::SetUplinksPerLeaf(uint32_t n)
{
    m_uplinksPerLeaf = n;
}

void
RailOptimizedHelper::SetHostLink(LinkSpec s)
{
    m_host = s;
}

void
RailOptimizedHelper::SetLeafSpineLink(LinkSpec s)
{
    m_leafSpine = s;
}

void
RailOptimizedHelper::SetNvLink(LinkSpec s)
{
    m_nvlink = s;
}

void
RailOptimizedHelper::SetPxn(bool on)
{
    m_pxn = on;
}

TopologySpec
RailOptimizedHelper::Build() const
{
    if (m_servers == 0 || m_servers > 65536)
    {
        throw ConfigError("topology.servers", "must be 1..65536");
    }
    if (m_gpusPerServer < 2 || m_gpusPerServer > 64)
    {
        throw ConfigError("topology.gpus_per_server",
                          "must be 2..64 (one rail per GPU of a server)");
    }
    const uint32_t perLeaf = m_serversPerLeaf == 0 ? m_servers : m_serversPerLeaf;
    if (perLeaf > 4096)
    {
        throw ConfigError("topology.servers_per_leaf", "must be 0..4096");
    }
    const uint32_t leavesPerRail = (m_servers + perLeaf - 1) / perLeaf;
    const bool railOnly = m_spines == 0;
    if (railOnly && leavesPerRail > 1)
    {
        throw ConfigError("topology.spines",
                          "rail-only (spines = 0) needs every server of a rail on one leaf, but " +
                              std::to_string(m_servers) + " servers at " + std::to_string(perLeaf) +
                              " per leaf need " + std::to_string(leavesPerRail) +
                              " leaves per rail; add spines or raise servers_per_leaf");
    }
    const uint32_t uplinks = m_uplinksPerLeaf == 0 ? m_spines : m_uplinksPerLeaf;
    if (!railOnly && (uplinks % m_spines != 0 || uplinks > 4096))
    {
        throw ConfigError("topology.uplinks_per_leaf",
                          std::to_string(uplinks) + " uplinks cannot be spread evenly over " +
                              std::to_string(m_spines) +
                              " spines; use a multiple of the number of spines (<= 4096)");
    }
    TopologySpec spec;
    spec.type = "rail-optimized";
    spec.gpusPerServer = m_gpusPerServer;
    spec.railOnly = railOnly;
    spec.pxn = railOnly || m_pxn;
    const uint32_t tHost = spec.Tier("host-leaf");
    const uint32_t tUp = railOnly ? 0 : spec.Tier("leaf-spine");
    const uint32_t tNv = spec.Tier("nvlink");
    for (uint32_t s = 0; s < m_servers; ++s)
    {
        for (uint32_t g = 0; g < m_gpusPerServer; ++g)
        {
            spec.AddHost(s, g);
        }
    }
    // leaf[rail * leavesPerRail + i]
    std::vector<uint32_t> leaf(m_gpusPerServer * leavesPerRail);
    for (uint32_t r = 0; r < m_gpusPerServer; ++r)
    {
        for (uint32_t i = 0; i < leavesPerRail; ++i)
        {
            leaf[r * leavesPerRail + i] =
                spec.AddNode(TopologySpec::SWITCH,
                             "rail" + std::to_string(r) + "-leaf" + std::to_string(i),
                             1);
        }
    }
    std::vector<uint32_t> spine(m_spines);
    for (uint32_t s = 0; s < m_spines; ++s)
    {
        spine[s] = spec.AddNode(TopologySpec::SWITCH, "spine" + std::to_string(s), 2);
    }
    const uint32_t gpus = m_servers * m_gpusPerServer;
    for (uint32_t gpu = 0; gpu < gpus; ++gpu)
    {
        const uint32_t server = gpu / m_gpusPerServer;
        const uint32_t rail = gpu % m_gpusPerServer;
        spec.AddLink(spec.hostNode[gpu],
                     leaf[rail * leavesPerRail + server / perLeaf],
                     tHost,
                     m_host.rateBps,
                     m_host.delayPs);
    }
    if (!railOnly)
    {
        for (uint32_t l : leaf)
        {
            for (uint32_t u = 0; u < uplinks; ++u)
            {
                spec.AddLink(l, spine[u % m_spines], tUp, m_leafSpine.rateBps, m_leafSpine.delayPs);
            }
        }
    }
    for (uint32_t s = 0; s < m_servers; ++s)
    {
        const uint32_t nv = spec.AddNode(TopologySpec::NVSWITCH, "nvswitch" + std::to_string(s), 1);
        for (uint32_t g = 0; g < m_gpusPerServer; ++g)
        {
            spec.AddLink(spec.hostNode[s * m_gpusPerServer + g],
                         nv,
                         tNv,
                         m_nvlink.rateBps,
                         m_nvlink.delayPs);
        }
    }
    return spec;
}

} // namespace moe
} // namespace ns3
