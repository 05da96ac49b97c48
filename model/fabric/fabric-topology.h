/*
 * moe-fabric: the built fabric -- its graph, its ns-3 objects and the queries users need.
 */
#ifndef MOE_FABRIC_TOPOLOGY_H
#define MOE_FABRIC_TOPOLOGY_H

#include "fabric-host.h"
#include "fabric-net-device.h"
#include "fabric-routing.h"
#include "fabric-switch.h"

#include "ns3/node-container.h"
#include "ns3/object.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief A topology as a plain graph, before any ns-3 object exists.
 *
 * Topology helpers (fat-tree, leaf-spine, rail-optimized) produce one; FabricHelper turns it
 * into nodes, devices, channels, switches and routes. Hosts are GPUs: host i is GPU i.
 */
struct TopologySpec
{
    /// Node roles.
    enum Role : uint8_t
    {
        HOST = 0,
        SWITCH = 1,
        NVSWITCH = 2,
    };

    /// @brief A node of the graph.
    struct Node
    {
        Role role{SWITCH};
        std::string name;          ///< e.g. "gpu12", "edge3", "core0", "nvswitch2"
        uint32_t level{0};         ///< 0 host, 1 leaf/edge, 2 spine/agg, 3 core; NVSwitch 1
        uint32_t host{UINT32_MAX}; ///< GPU id for hosts
    };

    /// @brief A full-duplex link; the host end (if any) is always @c a.
    struct Link
    {
        uint32_t a{0};
        uint32_t b{0};
        uint32_t tier{0}; ///< index into tierNames
        uint64_t rateBps{0};
        int64_t delayPs{0};
    };

    std::string type; ///< "fat-tree", "leaf-spine", "rail-optimized"
    std::vector<Node> nodes;
    std::vector<Link> links;
    std::vector<std::string> tierNames; ///< e.g. {"host-edge", "edge-agg", "agg-core", "nvlink"}
    std::vector<uint32_t> hostNode;     ///< GPU id -> node index
    std::vector<uint32_t> hostServer;   ///< GPU id -> server (NVSwitch domain) or GPU id if none
    std::vector<uint32_t> hostRail;     ///< GPU id -> rail (rail-optimized), else 0
    uint32_t gpusPerServer{1};          ///< 1 = no NVSwitch domains
    bool railOnly{false};               ///< rail-optimized without spines (implies pxn)
    /// Cross-rail traffic to another server first crosses the NVSwitch to the source server's
    /// GPU on the destination's rail, whose NIC carries it (NCCL's PXN): always on rail-only
    /// fabrics, optional with spines.
    bool pxn{false};

    /// @brief Add a node and return its index.
    uint32_t AddNode(Role role, const std::string& name, uint32_t level);
    /// @brief Add a host node for the next GPU id and return its node index.
    uint32_t AddHost(uint32_t server, uint32_t rail);
    /// @brief Index of tier @p name, adding it if new.
    uint32_t Tier(const std::string& name);
    /// @brief Add a link.
    void AddLink(uint32_t a, uint32_t b, uint32_t tier, uint64_t rateBps, int64_t delayPs);

    uint32_t NumHosts() const;
    uint32_t NumSwitches() const; ///< NVSwitches included
};

/**
 * @brief A fabric built from a TopologySpec: ns-3 nodes and devices, routing, and queries.
 *
 * Port numbering: a node's ports are numbered in the order its links appear in the spec; a host's
 * port 0 is its NIC and port 1 (if any) its NVLink port.
 */
class FabricTopology : public Object
{
  public:
    static TypeId GetTypeId();
    FabricTopology();

    const TopologySpec& GetSpec() const;

    /// @brief Number of GPUs (hosts).
    uint32_t GetNumGpus() const;
    /// @brief All nodes in spec order, the hosts in GPU order, the switches in spec order.
    NodeContainer GetNodes() const;
    NodeContainer GetHostNodes() const;
    NodeContainer GetSwitchNodes() const;
    /// @brief ns-3 node of spec node @p index / of GPU @p gpu.
    Ptr<Node> GetNode(uint32_t index) const;
    Ptr<Node> GetGpuNode(uint32_t gpu) const;
    /// @brief Spec node index of an ns-3 node id (UINT32_MAX if not part of this fabric).
    uint32_t GetNodeIndex(uint32_t nodeId) const;

    Ptr<FabricHost> GetHost(uint32_t gpu) const;
    /// @brief The switch on spec node @p index (null for hosts).
    Ptr<FabricSwitch> GetSwitch(uint32_t index) const;
    /// @brief Port @p port of spec node @p index.
    Ptr<FabricNetDevice> GetPort(uint32_t index, uint32_t port) const;
    uint32_t GetNPorts(uint32_t index) const;
    /// @brief Every fabric device, in spec link order (two per link: a end, b end).
    std::vector<Ptr<FabricNetDevice>> GetAllDevices() const;
    Ptr<FabricRouting> GetRouting() const;

    /// @brief Server (NVSwitch domain) of @p gpu; equals the GPU id when there are no servers.
    uint32_t GetServer(uint32_t gpu) const;
    /// @brief Rail of @p gpu (0 unless rail-optimized).
    uint32_t GetRail(uint32_t gpu) const;
    /// @brief True if @p a and @p b share an NVSwitch domain.
    bool SameServer(uint32_t a, uint32_t b) const;

    /// @brief Where @p gpu's NIC (port 0) is attached: spec node index of the switch...
    uint32_t GetAttachedSwitch(uint32_t gpu) const;
    /// @brief ...and that switch's port index.
    uint32_t GetAttachedSwitchPort(uint32_t gpu) const;

    /// @brief Host port (0 = NIC, 1 = NVLink) @p src uses for traffic to @p dst.
    uint32_t GetEgressPort(uint32_t src, uint32_t dst) const;
    /// @brief The GPU whose NIC carries traffic from @p src to @p dst when it is relayed (PXN:
    /// another server, another rail: @p src's server's GPU on @p dst's rail, reached over
    /// NVLink), or NO_RELAY if that traffic leaves through @p src's own port.
    uint32_t GetRelay(uint32_t src, uint32_t dst) const;
    static constexpr uint32_t NO_RELAY = UINT32_MAX;
    /// @brief Line rate of @p gpu's port @p port (bits/s).
    uint64_t GetHostPortRate(uint32_t gpu, uint32_t port) const;

    /// @brief A routed path as spec node indices and spec link indices.
    struct Path
    {
        std::vector<uint32_t> nodes; ///< source GPU's node first
        std::vector<uint32_t> links; ///< one fewer than nodes
    };

    /// @brief All routed paths from @p src to @p dst (parallel links give distinct paths).
    std::vector<Path> GetPaths(uint32_t src, uint32_t dst) const;
    /// @brief Number of links on the routed path(s) from @p src to @p dst.
    uint32_t GetHopCount(uint32_t src, uint32_t dst) const;
    /// @brief Links along one routed path, as spec link indices.
    std::vector<uint32_t> GetPathLinks(uint32_t src, uint32_t dst) const;

    /**
     * @brief Latency of the routed path from @p src to @p dst for frames of @p frameBytes
     * (stored size): the sum of link delays plus the store-and-forward serialization of one such
     * frame on every link after the first. (The first link's serialization is the message's own
     * transmission time.) Measured along the first routed path: routed paths have equal hop counts
     * and, with the bundled helpers, links of one tier share rate and delay.
     */
    Time GetPathLatency(uint32_t src, uint32_t dst, uint32_t frameBytes) const;
    /// @brief The largest GetPathLatency over all GPU pairs.
    Time GetMaxPathLatency(uint32_t frameBytes) const;
    /// @brief The largest GetPathLatency(a, b, frameBytes) over the GPUs a != b of @p gpus.
    /// Per destination, the remaining latency of every node on the routed paths is computed
    /// once (routing depends on the node and the destination only): O(|gpus| x nodes), not
    /// O(|gpus|^2 x hops) with a path built per pair.
    Time GetMaxPathLatency(const std::vector<uint32_t>& gpus, uint32_t frameBytes) const;

    /**
     * @brief The largest ratio, over leaf/edge switches, of host-facing bandwidth to uplink
     * bandwidth (1 for a fat-tree, 2 for a 2:1 leaf-spine); 0 if leaves have no uplinks
     * (rail-only) or there are none.
     */
    double GetOversubscription() const;

    /// @brief Tier names and the tier of each spec link.
    const std::vector<std::string>& GetTierNames() const;

    // Construction interface used by FabricHelper.
    void SetSpec(TopologySpec spec);
    void AddBuiltNode(Ptr<Node> node);
    void SetHost(uint32_t gpu, Ptr<FabricHost> host);
    void SetSwitch(uint32_t index, Ptr<FabricSwitch> sw);
    void AddBuiltPort(uint32_t index, Ptr<FabricNetDevice> device);
    void SetRouting(Ptr<FabricRouting> routing);
    /// @brief Spec link index behind (@p index, @p port).
    uint32_t GetPortLink(uint32_t index, uint32_t port) const;
    void AddPortLink(uint32_t index, uint32_t link);

  protected:
    void DoDispose() override;

  private:
    TopologySpec m_spec;
    std::vector<Ptr<Node>> m_nodes;
    std::vector<Ptr<FabricHost>> m_hosts;                   ///< by GPU id
    std::vector<Ptr<FabricSwitch>> m_switches;              ///< by spec node index (null for hosts)
    std::vector<std::vector<Ptr<FabricNetDevice>>> m_ports; ///< by spec node index
    std::vector<std::vector<uint32_t>> m_portLinks;         ///< by spec node index
    std::vector<uint32_t> m_nodeIdToIndex;
    /// With PXN: the GPU at (server, rail), as m_relayGpu[server * m_relayRails + rail].
    std::vector<uint32_t> m_relayGpu;
    uint32_t m_relayRails{0};
    Ptr<FabricRouting> m_routing;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_TOPOLOGY_H
