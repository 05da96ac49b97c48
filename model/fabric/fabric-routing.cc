#include "fabric-routing.h"

#include "ns3/abort.h"
#include "ns3/log.h"

#include <algorithm>
#include <deque>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricRouting");

NS_OBJECT_ENSURE_REGISTERED(FabricRouting);

TypeId
FabricRouting::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::FabricRouting")
                            .SetParent<Object>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<FabricRouting>();
    return tid;
}

FabricRouting::FabricRouting()
{
    // Set id 0 is the empty set (unreachable).
    m_offsets = {0, 0};
    m_setIds[{}] = 0;
}

uint32_t
FabricRouting::InternSet(std::vector<uint16_t> ports)
{
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    auto it = m_setIds.find(ports);
    if (it != m_setIds.end())
    {
        return it->second;
    }
    const uint32_t id = static_cast<uint32_t>(m_offsets.size() - 1);
    m_pool.insert(m_pool.end(), ports.begin(), ports.end());
    m_offsets.push_back(static_cast<uint32_t>(m_pool.size()));
    m_setIds.emplace(std::move(ports), id);
    return id;
}

void
FabricRouting::SetRoute(uint32_t node, uint32_t dstHost, uint32_t setId)
{
    NS_ABORT_MSG_IF(node >= m_numNodes || dstHost >= m_numHosts, "FabricRouting: bad route");
    m_table[static_cast<size_t>(node) * m_numHosts + dstHost] = setId;
}

void
FabricRouting::Compute(const Graph& graph)
{
    m_graph = graph;
    m_numNodes = static_cast<uint32_t>(graph.portPeer.size());
    m_numHosts = static_cast<uint32_t>(graph.nodeOfHost.size());
    NS_ABORT_MSG_IF(graph.hostOfNode.size() != m_numNodes, "FabricRouting: inconsistent graph");
    m_table.assign(static_cast<size_t>(m_numNodes) * m_numHosts, 0);

    // Reverse adjacency is the same as forward (links are bidirectional); BFS from each
    // destination gives every node's distance to it.
    std::vector<uint32_t> dist(m_numNodes);
    std::vector<uint32_t> queue;
    queue.reserve(m_numNodes);
    std::vector<uint16_t> ports;
    for (uint32_t dst = 0; dst < m_numHosts; ++dst)
    {
        std::fill(dist.begin(), dist.end(), UINT32_MAX);
        const uint32_t root = graph.nodeOfHost[dst];
        dist[root] = 0;
        queue.clear();
        queue.push_back(root);
        for (size_t head = 0; head < queue.size(); ++head)
        {
            const uint32_t u = queue[head];
            // Hosts other than the destination do not forward.
            if (u != root && graph.hostOfNode[u] != UINT32_MAX)
            {
                continue;
            }
            for (uint32_t v : graph.portPeer[u])
            {
                if (dist[v] == UINT32_MAX)
                {
                    dist[v] = dist[u] + 1;
                    queue.push_back(v);
                }
            }
        }
        for (uint32_t u = 0; u < m_numNodes; ++u)
        {
            if (u == root || dist[u] == UINT32_MAX)
            {
                continue;
            }
            ports.clear();
            const auto& peers = graph.portPeer[u];
            for (uint32_t p = 0; p < peers.size(); ++p)
            {
                const uint32_t v = peers[p];
                // The next hop must be one step closer and able to forward (or be the root).
                if (dist[v] + 1 == dist[u] && (v == root || graph.hostOfNode[v] == UINT32_MAX))
                {
                    ports.push_back(static_cast<uint16_t>(p));
                }
            }
            m_table[static_cast<size_t>(u) * m_numHosts + dst] = InternSet(ports);
        }
    }
    NS_LOG_INFO("routing: " << m_numNodes << " nodes, " << m_numHosts << " hosts, " << GetNumSets()
                            << " distinct port sets");
}

uint32_t
FabricRouting::GetNumNodes() const
{
    return m_numNodes;
}

uint32_t
FabricRouting::GetNumHosts() const
{
    return m_numHosts;
}

uint32_t
FabricRouting::GetPeer(uint32_t node, uint32_t port) const
{
    return m_graph.portPeer.at(node).at(port);
}

uint32_t
FabricRouting::GetHostNode(uint32_t host) const
{
    return m_graph.nodeOfHost.at(host);
}

uint32_t
FabricRouting::GetNodeHost(uint32_t node) const
{
    return m_graph.hostOfNode.at(node);
}

uint32_t
FabricRouting::GetNumSets() const
{
    return static_cast<uint32_t>(m_offsets.size() - 1);
}

std::vector<FabricRouting::Path>
FabricRouting::EnumeratePaths(uint32_t srcHost, uint32_t dstHost, uint32_t limit) const
{
    std::vector<Path> out;
    if (srcHost >= m_numHosts || dstHost >= m_numHosts || srcHost == dstHost)
    {
        return out;
    }
    const uint32_t target = m_graph.nodeOfHost[dstHost];
    Path path;
    path.nodes.push_back(m_graph.nodeOfHost[srcHost]);
    // Depth-first walk of the routing DAG; the hop bound guards against routing loops.
    std::vector<uint32_t> nextChoice{0}; // per depth: index into that node's port set
    while (!nextChoice.empty() && out.size() < limit)
    {
        const uint32_t node = path.nodes.back();
        if (node == target)
        {
            out.push_back(path);
        }
        const PortSet set = Lookup(node, dstHost);
        uint32_t& idx = nextChoice.back();
        if (node == target || idx >= set.count || path.nodes.size() > m_numNodes)
        {
            nextChoice.pop_back();
            path.nodes.pop_back();
            if (!path.ports.empty())
            {
                path.ports.pop_back();
            }
            continue;
        }
        const uint16_t port = set.ports[idx++];
        path.ports.push_back(port);
        path.nodes.push_back(m_graph.portPeer[node][port]);
        nextChoice.push_back(0);
    }
    return out;
}

uint32_t
FabricRouting::HopCount(uint32_t srcHost, uint32_t dstHost) const
{
    if (srcHost >= m_numHosts || dstHost >= m_numHosts || srcHost == dstHost)
    {
        return 0;
    }
    const uint32_t target = m_graph.nodeOfHost[dstHost];
    uint32_t node = m_graph.nodeOfHost[srcHost];
    uint32_t hops = 0;
    while (node != target)
    {
        const PortSet set = Lookup(node, dstHost);
        if (set.count == 0 || hops > m_numNodes)
        {
            return 0;
        }
        node = m_graph.portPeer[node][set.ports[0]];
        ++hops;
    }
    return hops;
}

} // namespace moe
} // namespace ns3
