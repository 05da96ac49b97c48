#include "fat-tree-helper.h"

#include "fabric-config-error.h"

#include "ns3/log.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FatTreeHelper");

FatTreeHelper::FatTreeHelper()
    : m_nvlink(DefaultNvLink())
{
}

void
FatTreeHelper::SetK(uint32_t k)
{
    m_k = k;
}

void
FatTreeHelper::SetGpusPerServer(uint32_t n)
{
    m_gpusPerServer = n;
}

void
FatTreeHelper::SetHostLink(LinkSpec s)
{
    m_host = s;
}

void
FatTreeHelper::SetEdgeAggLink(LinkSpec s)
{
    m_edgeAgg = s;
}

void
FatTreeHelper::SetAggCoreLink(LinkSpec s)
{
    m_aggCore = s;
}

void
FatTreeHelper::SetNvLink(LinkSpec s)
{
    m_nvlink = s;
}

TopologySpec
FatTreeHelper::Build() const
{
    if (m_k < 2 || m_k % 2 != 0 || m_k > 128)
    {
        throw ConfigError("topology.k",
                          "k = " + std::to_string(m_k) + " is invalid; k must be even, 2..128");
    }
    const uint32_t half = m_k / 2;
    const uint32_t hosts = m_k * m_k * m_k / 4;
    if (m_gpusPerServer == 0 || hosts % m_gpusPerServer != 0)
    {
        throw ConfigError("topology.gpus_per_server",
                          std::to_string(m_gpusPerServer) + " does not divide the " +
                              std::to_string(hosts) + " hosts of a k=" + std::to_string(m_k) +
                              " fat-tree");
    }
    TopologySpec spec;
    spec.type = "fat-tree";
    spec.gpusPerServer = m_gpusPerServer;
    const uint32_t tHost = spec.Tier("host-edge");
    const uint32_t tEdgeAgg = spec.Tier("edge-agg");
    const uint32_t tAggCore = spec.Tier("agg-core");

    for (uint32_t h = 0; h < hosts; ++h)
    {
        spec.AddHost(m_gpusPerServer > 1 ? h / m_gpusPerServer : h, 0);
    }
    std::vector<uint32_t> edge(m_k * half);
    std::vector<uint32_t> agg(m_k * half);
    std::vector<uint32_t> core(half * half);
    for (uint32_t p = 0; p < m_k; ++p)
    {
        for (uint32_t e = 0; e < half; ++e)
        {
            edge[p * half + e] =
                spec.AddNode(TopologySpec::SWITCH, "edge" + std::to_string(p * half + e), 1);
        }
    }
    for (uint32_t p = 0; p < m_k; ++p)
    {
        for (uint32_t a = 0; a < half; ++a)
        {
            agg[p * half + a] =
                spec.AddNode(TopologySpec::SWITCH, "agg" + std::to_string(p * half + a), 2);
        }
    }
    for (uint32_t c = 0; c < half * half; ++c)
    {
        core[c] = spec.AddNode(TopologySpec::SWITCH, "core" + std::to_string(c), 3);
    }
    // Host h sits under edge switch h / (k/2).
    for (uint32_t h = 0; h < hosts; ++h)
    {
        spec.AddLink(spec.hostNode[h], edge[h / half], tHost, m_host.rateBps, m_host.delayPs);
    }
    for (uint32_t p = 0; p < m_k; ++p)
    {
        for (uint32_t e = 0; e < half; ++e)
        {
            for (uint32_t a = 0; a < half; ++a)
            {
                spec.AddLink(edge[p * half + e],
                             agg[p * half + a],
                             tEdgeAgg,
                             m_edgeAgg.rateBps,
                             m_edgeAgg.delayPs);
            }
        }
    }
    // Aggregation switch a of every pod connects to core switches a*(k/2) .. a*(k/2)+k/2-1.
    for (uint32_t p = 0; p < m_k; ++p)
    {
        for (uint32_t a = 0; a < half; ++a)
        {
            for (uint32_t c = 0; c < half; ++c)
            {
                spec.AddLink(agg[p * half + a],
                             core[a * half + c],
                             tAggCore,
                             m_aggCore.rateBps,
                             m_aggCore.delayPs);
            }
        }
    }
    if (m_gpusPerServer > 1)
    {
        const uint32_t tNv = spec.Tier("nvlink");
        const uint32_t servers = hosts / m_gpusPerServer;
        for (uint32_t s = 0; s < servers; ++s)
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
