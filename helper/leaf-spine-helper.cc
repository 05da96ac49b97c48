#include "leaf-spine-helper.h"

#include "fabric-config-error.h"

namespace ns3
{
namespace moe
{

LeafSpineHelper::LeafSpineHelper()
    : m_nvlink(DefaultNvLink())
{
}

void
LeafSpineHelper::SetHostsPerLeaf(uint32_t n)
{
    m_hostsPerLeaf = n;
}

void
LeafSpineHelper::SetLeaves(uint32_t n)
{
    m_leaves = n;
}

void
LeafSpineHelper::SetSpines(uint32_t n)
{
    m_spines = n;
}

void
LeafSpineHelper::SetUplinksPerLeaf(uint32_t n)
{
    m_uplinksPerLeaf = n;
}

void
LeafSpineHelper::SetGpusPerServer(uint32_t n)
{
    m_gpusPerServer = n;
}

void
LeafSpineHelper::SetHostLink(LinkSpec s)
{
    m_host = s;
}

void
LeafSpineHelper::SetLeafSpineLink(LinkSpec s)
{
    m_leafSpine = s;
}

void
LeafSpineHelper::SetNvLink(LinkSpec s)
{
    m_nvlink = s;
}

double
LeafSpineHelper::GetOversubscription() const
{
    const uint32_t uplinks = m_uplinksPerLeaf == 0 ? m_spines : m_uplinksPerLeaf;
    return (static_cast<double>(m_hostsPerLeaf) * static_cast<double>(m_host.rateBps)) /
           (static_cast<double>(uplinks) * static_cast<double>(m_leafSpine.rateBps));
}

TopologySpec
LeafSpineHelper::Build() const
{
    if (m_hostsPerLeaf == 0 || m_hostsPerLeaf > 4096)
    {
        throw ConfigError("topology.hosts_per_leaf", "must be 1..4096");
    }
    if (m_leaves == 0 || m_leaves > 4096)
    {
        throw ConfigError("topology.leaves", "must be 1..4096");
    }
    if (m_spines == 0 || m_spines > 4096)
    {
        throw ConfigError("topology.spines", "must be 1..4096");
    }
    const uint32_t uplinks = m_uplinksPerLeaf == 0 ? m_spines : m_uplinksPerLeaf;
    if (uplinks % m_spines != 0 || uplinks > 4096)
    {
        throw ConfigError("topology.uplinks_per_leaf",
                          std::to_string(uplinks) + " uplinks cannot be spread evenly over " +
                              std::to_string(m_spines) +
                              " spines; use a multiple of the number of spines (<= 4096)");
    }
    const uint32_t hosts = m_hostsPerLeaf * m_leaves;
    if (m_gpusPerServer == 0 || hosts % m_gpusPerServer != 0)
    {
        throw ConfigError("topology.gpus_per_server",
                          std::to_string(m_gpusPerServer) + " does not divide the " +
                              std::to_string(hosts) + " hosts");
    }
    TopologySpec spec;
    spec.type = "leaf-spine";
    spec.gpusPerServer = m_gpusPerServer;
    const uint32_t tHost = spec.Tier("host-leaf");
    const uint32_t tUp = spec.Tier("leaf-spine");
    for (uint32_t h = 0; h < hosts; ++h)
    {
        spec.AddHost(m_gpusPerServer > 1 ? h / m_gpusPerServer : h, 0);
    }
    std::vector<uint32_t> leaf(m_leaves);
    std::vector<uint32_t> spine(m_spines);
    for (uint32_t l = 0; l < m_leaves; ++l)
    {
        leaf[l] = spec.AddNode(TopologySpec::SWITCH, "leaf" + std::to_string(l), 1);
    }
    for (uint32_t s = 0; s < m_spines; ++s)
    {
        spine[s] = spec.AddNode(TopologySpec::SWITCH, "spine" + std::to_string(s), 2);
    }
    for (uint32_t h = 0; h < hosts; ++h)
    {
        spec.AddLink(spec.hostNode[h],
                     leaf[h / m_hostsPerLeaf],
                     tHost,
                     m_host.rateBps,
                     m_host.delayPs);
    }
    for (uint32_t l = 0; l < m_leaves; ++l)
    {
        for (uint32_t u = 0; u < uplinks; ++u)
        {
            spec.AddLink(leaf[l],
                         spine[u % m_spines],
                         tUp,
                         m_leafSpine.rateBps,
                         m_leafSpine.delayPs);
        }
    }
    if (m_gpusPerServer > 1)
    {
        const uint32_t tNv = spec.Tier("nvlink");
        for (uint32_t s = 0; s < hosts / m_gpusPerServer; ++s)
        {
            const uint32_t nv =
                spec.AddNode(TopologySpec::NVSWITCH, "nvswitch" + std::to_string(s), 1);
            for (uint32_t g = 0; g < m_gpusPerServer; ++g)
            {
                spec.AddLink(spec.hostNode[s * m_gpusPerServer + g],
                             nv,
                             tNv,
                             m_nvlink.rateBps,
                             m_nvlink.delayPs);
            }
        }
    }
    return spec;
}

} // namespace moe
} // namespace ns3
