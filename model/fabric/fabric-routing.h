/*
 * moe-fabric: destination-based routing tables with all equal-cost next hops.
 */
#ifndef MOE_FABRIC_ROUTING_H
#define MOE_FABRIC_ROUTING_H

#include "ns3/object.h"

#include <cstdint>
#include <map>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Routing state of the whole fabric, computed once from the built topology.
 *
 * For every node and destination host it stores the set of egress ports on equal-cost shortest
 * paths. Parallel links between the same two nodes are separate ports and so separate next hops.
 * Port sets are interned (a fat-tree has a handful of distinct sets per switch), so the state is
 * one 32-bit set id per (node, destination) plus a shared pool; a lookup is two array reads.
 */
class FabricRouting : public Object
{
  public:
    static TypeId GetTypeId();
    FabricRouting();

    /// @brief The graph routes are computed on.
    struct Graph
    {
        /// portPeer[node][port] = node at the other end of that port's link.
        std::vector<std::vector<uint32_t>> portPeer;
        /// hostOfNode[node] = host id, or UINT32_MAX for a switch.
        std::vector<uint32_t> hostOfNode;
        /// nodeOfHost[host] = node index.
        std::vector<uint32_t> nodeOfHost;
    };

    /// @brief A set of egress ports.
    struct PortSet
    {
        const uint16_t* ports;
        uint32_t count;
    };

    /**
     * @brief Compute shortest-path ECMP routes for every (node, destination host) by one BFS per
     * destination. Hosts are never transit nodes; a host's own routes are its ports on shortest
     * paths (topology helpers may override them with SetRoute, e.g. to prefer NVLink).
     */
    void Compute(const Graph& graph);

    /// @brief Intern @p ports (sorted, deduplicated) and return its set id.
    uint32_t InternSet(std::vector<uint16_t> ports);
    /// @brief Route @p node's traffic to @p dstHost through set @p setId.
    void SetRoute(uint32_t node, uint32_t dstHost, uint32_t setId);

    /// @brief Equal-cost egress ports of @p node towards @p dstHost (count 0 = unreachable).
    PortSet Lookup(uint32_t node, uint32_t dstHost) const
    {
        const uint32_t id = m_table[static_cast<size_t>(node) * m_numHosts + dstHost];
        return PortSet{m_pool.data() + m_offsets[id], m_offsets[id + 1] - m_offsets[id]};
    }

    uint32_t GetNumNodes() const;
    uint32_t GetNumHosts() const;
    /// @brief Peer node of (@p node, @p port).
    uint32_t GetPeer(uint32_t node, uint32_t port) const;
    /// @brief Node index of host @p host.
    uint32_t GetHostNode(uint32_t host) const;
    /// @brief Host id of @p node or UINT32_MAX.
    uint32_t GetNodeHost(uint32_t node) const;

    /// @brief One routed path: the nodes it visits and the egress port taken at each.
    struct Path
    {
        std::vector<uint32_t> nodes; ///< source host node first, destination host node last
        std::vector<uint16_t> ports; ///< ports[i] = egress port of nodes[i]; one fewer than nodes
    };

    /**
     * @brief Every path routing can give a frame from @p srcHost to @p dstHost. Parallel links
     * make distinct paths with the same node sequence. Stops after @p limit paths.
     */
    std::vector<Path> EnumeratePaths(uint32_t srcHost,
                                     uint32_t dstHost,
                                     uint32_t limit = 100000) const;
    /// @brief Number of links on the routed path(s) from @p srcHost to @p dstHost (all routed
    /// paths have the same length); 0 if unreachable or equal.
    uint32_t HopCount(uint32_t srcHost, uint32_t dstHost) const;

    /// @brief Distinct port sets stored (a measure of routing state size).
    uint32_t GetNumSets() const;

  private:
    Graph m_graph;
    uint32_t m_numNodes{0};
    uint32_t m_numHosts{0};
    std::vector<uint32_t> m_table;   ///< [node * numHosts + host] -> set id
    std::vector<uint32_t> m_offsets; ///< set id -> start in m_pool; size = sets + 1
    std::vector<uint16_t> m_pool;
    std::map<std::vector<uint16_t>, uint32_t> m_setIds;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_ROUTING_H
