#include "fabric-topology.h"

#include "fabric-frame.h"

#include "ns3/abort.h"
#include "ns3/log.h"

#include <algorithm>
#include <utility>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricTopology");

NS_OBJECT_ENSURE_REGISTERED(FabricTopology);

// ---------------------------------------------------------------------------------------------
// TopologySpec

uint32_t
TopologySpec::AddNode(Role role, const std::string& name, uint32_t level)
{
    Node n;
    n.role = role;
    n.name = name;
    n.level = level;
    nodes.push_back(n);
    return static_cast<uint32_t>(nodes.size() - 1);
}

uint32_t
TopologySpec::AddHost(uint32_t server, uint32_t rail)
{
    const uint32_t gpu = static_cast<uint32_t>(hostNode.size());
    const uint32_t index = AddNode(HOST, "gpu" + std::to_string(gpu), 0);
    nodes[index].host = gpu;
    hostNode.push_back(index);
    hostServer.push_back(server);
    hostRail.push_back(rail);
    return index;
}

uint32_t
TopologySpec::Tier(const std::string& name)
{
    auto it = std::find(tierNames.begin(), tierNames.end(), name);
    if (it != tierNames.end())
    {
        return static_cast<uint32_t>(it - tierNames.begin());
    }
    tierNames.push_back(name);
    return static_cast<uint32_t>(tierNames.size() - 1);
}

void
TopologySpec::AddLink(uint32_t a, uint32_t b, uint32_t tier, uint64_t rateBps, int64_t delayPs)
{
    Link l;
    l.a = a;
    l.b = b;
    l.tier = tier;
    l.rateBps = rateBps;
    l.delayPs = delayPs;
    links.push_back(l);
}

uint32_t
TopologySpec::NumHosts() const
{
    return static_cast<uint32_t>(hostNode.size());
}

uint32_t
TopologySpec::NumSwitches() const
{
    return static_cast<uint32_t>(nodes.size() - hostNode.size());
}

// ---------------------------------------------------------------------------------------------
// FabricTopology

TypeId
FabricTopology::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::FabricTopology")
                            .SetParent<Object>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<FabricTopology>();
    return tid;
}

FabricTopology::FabricTopology()
{
}

void
FabricTopology::DoDispose()
{
    m_nodes.clear();
    m_hosts.clear();
    m_switches.clear();
    m_ports.clear();
    m_routing = nullptr;
    Object::DoDispose();
}

const TopologySpec&
FabricTopology::GetSpec() const
{
    return m_spec;
}

void
FabricTopology::SetSpec(TopologySpec spec)
{
    m_spec = std::move(spec);
    const size_t n = m_spec.nodes.size();
    m_hosts.assign(m_spec.NumHosts(), nullptr);
    m_switches.assign(n, nullptr);
    m_ports.assign(n, {});
    m_portLinks.assign(n, {});
    m_nodes.clear();
    m_relayGpu.clear();
    m_relayRails = 0;
    if (m_spec.pxn)
    {
        uint32_t servers = 0;
        for (uint32_t g = 0; g < m_spec.NumHosts(); ++g)
        {
            servers = std::max(servers, m_spec.hostServer.at(g) + 1);
            m_relayRails = std::max(m_relayRails, m_spec.hostRail.at(g) + 1);
        }
        m_relayGpu.assign(static_cast<size_t>(servers) * m_relayRails, NO_RELAY);
        for (uint32_t g = 0; g < m_spec.NumHosts(); ++g)
        {
            m_relayGpu[static_cast<size_t>(m_spec.hostServer[g]) * m_relayRails +
                       m_spec.hostRail[g]] = g;
        }
    }
}

void
FabricTopology::AddBuiltNode(Ptr<Node> node)
{
    const uint32_t index = static_cast<uint32_t>(m_nodes.size());
    m_nodes.push_back(node);
    if (node->GetId() >= m_nodeIdToIndex.size())
    {
        m_nodeIdToIndex.resize(node->GetId() + 1, UINT32_MAX);
    }
    m_nodeIdToIndex[node->GetId()] = index;
}

void
FabricTopology::SetHost(uint32_t gpu, Ptr<FabricHost> host)
{
    m_hosts.at(gpu) = host;
}

void
FabricTopology::SetSwitch(uint32_t index, Ptr<FabricSwitch> sw)
{
    m_switches.at(index) = sw;
}

void
FabricTopology::AddBuiltPort(uint32_t index, Ptr<FabricNetDevice> device)
{
    m_ports.at(index).push_back(device);
}

void
FabricTopology::AddPortLink(uint32_t index, uint32_t link)
{
    m_portLinks.at(index).push_back(link);
}

uint32_t
FabricTopology::GetPortLink(uint32_t index, uint32_t port) const
{
    return m_portLinks.at(index).at(port);
}

void
FabricTopology::SetRouting(Ptr<FabricRouting> routing)
{
    m_routing = routing;
}

uint32_t
FabricTopology::GetNumGpus() const
{
    return m_spec.NumHosts();
}

NodeContainer
FabricTopology::GetNodes() const
{
    NodeContainer c;
    for (const auto& n : m_nodes)
    {
        c.Add(n);
    }
    return c;
}

NodeContainer
FabricTopology::GetHostNodes() const
{
    NodeContainer c;
    for (uint32_t g = 0; g < m_spec.NumHosts(); ++g)
    {
        c.Add(m_nodes.at(m_spec.hostNode[g]));
    }
    return c;
}

NodeContainer
FabricTopology::GetSwitchNodes() const
{
    NodeContainer c;
    for (uint32_t i = 0; i < m_nodes.size(); ++i)
    {
        if (m_spec.nodes[i].role != TopologySpec::HOST)
        {
            c.Add(m_nodes[i]);
        }
    }
    return c;
}

Ptr<Node>
FabricTopology::GetNode(uint32_t index) const
{
    return m_nodes.at(index);
}

Ptr<Node>
FabricTopology::GetGpuNode(uint32_t gpu) const
{
    return m_nodes.at(m_spec.hostNode.at(gpu));
}

uint32_t
FabricTopology::GetNodeIndex(uint32_t nodeId) const
{
    return nodeId < m_nodeIdToIndex.size() ? m_nodeIdToIndex[nodeId] : UINT32_MAX;
}

Ptr<FabricHost>
FabricTopology::GetHost(uint32_t gpu) const
{
    return m_hosts.at(gpu);
}

Ptr<FabricSwitch>
FabricTopology::GetSwitch(uint32_t index) const
{
    return m_switches.at(index);
}

Ptr<FabricNetDevice>
FabricTopology::GetPort(uint32_t index, uint32_t port) const
{
    return m_ports.at(index).at(port);
}

uint32_t
FabricTopology::GetNPorts(uint32_t index) const
{
    return static_cast<uint32_t>(m_ports.at(index).size());
}

std::vector<Ptr<FabricNetDevice>>
FabricTopology::GetAllDevices() const
{
    // Two devices per link, in link order: find each link's port at both ends.
    std::vector<Ptr<FabricNetDevice>> out(m_spec.links.size() * 2);
    for (uint32_t n = 0; n < m_portLinks.size(); ++n)
    {
        for (uint32_t p = 0; p < m_portLinks[n].size(); ++p)
        {
            const uint32_t l = m_portLinks[n][p];
            out[2 * l + (m_spec.links[l].a == n ? 0 : 1)] = m_ports[n][p];
        }
    }
    return out;
}

Ptr<FabricRouting>
FabricTopology::GetRouting() const
{
    return m_routing;
}

uint32_t
FabricTopology::GetServer(uint32_t gpu) const
{
    return m_spec.hostServer.at(gpu);
}

uint32_t
FabricTopology::GetRail(uint32_t gpu) const
{
    return m_spec.hostRail.at(gpu);
}

bool
FabricTopology::SameServer(uint32_t a, uint32_t b) const
{
    return m_spec.gpusPerServer > 1 && m_spec.hostServer.at(a) == m_spec.hostServer.at(b);
}

uint32_t
FabricTopology::GetAttachedSwitch(uint32_t gpu) const
{
    return m_routing->GetPeer(m_spec.hostNode.at(gpu), 0);
}

uint32_t
FabricTopology::GetAttachedSwitchPort(uint32_t gpu) const
{
    const uint32_t link = GetPortLink(m_spec.hostNode.at(gpu), 0);
    const uint32_t sw = GetAttachedSwitch(gpu);
    const auto& links = m_portLinks.at(sw);
    for (uint32_t p = 0; p < links.size(); ++p)
    {
        if (links[p] == link)
        {
            return p;
        }
    }
    NS_ABORT_MSG("FabricTopology: inconsistent port/link tables");
    return 0;
}

uint32_t
FabricTopology::GetEgressPort(uint32_t src, uint32_t dst) const
{
    return m_hosts.at(src)->GetEgressPort(dst);
}

uint32_t
FabricTopology::GetRelay(uint32_t src, uint32_t dst) const
{
    // The rule FabricHelper's host and NVSwitch routes follow (see its PXN routes).
    if (!m_spec.pxn || SameServer(src, dst) || m_spec.hostRail.at(src) == m_spec.hostRail.at(dst))
    {
        return NO_RELAY;
    }
    return m_relayGpu.at(static_cast<size_t>(m_spec.hostServer[src]) * m_relayRails +
                         m_spec.hostRail[dst]);
}

uint64_t
FabricTopology::GetHostPortRate(uint32_t gpu, uint32_t port) const
{
    return m_spec.links.at(GetPortLink(m_spec.hostNode.at(gpu), port)).rateBps;
}

std::vector<FabricTopology::Path>
FabricTopology::GetPaths(uint32_t src, uint32_t dst) const
{
    std::vector<Path> out;
    for (const auto& rp : m_routing->EnumeratePaths(src, dst))
    {
        Path p;
        p.nodes = rp.nodes;
        for (size_t i = 0; i < rp.ports.size(); ++i)
        {
            p.links.push_back(GetPortLink(rp.nodes[i], rp.ports[i]));
        }
        out.push_back(std::move(p));
    }
    return out;
}

uint32_t
FabricTopology::GetHopCount(uint32_t src, uint32_t dst) const
{
    return m_routing->HopCount(src, dst);
}

std::vector<uint32_t>
FabricTopology::GetPathLinks(uint32_t src, uint32_t dst) const
{
    std::vector<uint32_t> links;
    if (src == dst)
    {
        return links;
    }
    const uint32_t target = m_spec.hostNode.at(dst);
    uint32_t node = m_spec.hostNode.at(src);
    while (node != target && links.size() <= m_nodes.size())
    {
        const FabricRouting::PortSet set = m_routing->Lookup(node, dst);
        if (set.count == 0)
        {
            return {};
        }
        links.push_back(GetPortLink(node, set.ports[0]));
        node = m_routing->GetPeer(node, set.ports[0]);
    }
    return links;
}

Time
FabricTopology::GetPathLatency(uint32_t src, uint32_t dst, uint32_t frameBytes) const
{
    const std::vector<uint32_t> links = GetPathLinks(src, dst);
    int64_t ps = 0;
    for (size_t i = 0; i < links.size(); ++i)
    {
        const auto& l = m_spec.links[links[i]];
        ps += l.delayPs;
        if (i > 0)
        {
            ps += SerializationPs(WireBytes(frameBytes), l.rateBps);
        }
    }
    return PicoSeconds(ps);
}

Time
FabricTopology::GetMaxPathLatency(uint32_t frameBytes) const
{
    std::vector<uint32_t> gpus(GetNumGpus());
    for (uint32_t g = 0; g < gpus.size(); ++g)
    {
        gpus[g] = g;
    }
    return GetMaxPathLatency(gpus, frameBytes);
}

Time
FabricTopology::GetMaxPathLatency(const std::vector<uint32_t>& gpus, uint32_t frameBytes) const
{
    // As GetPathLatency: every link's delay, and the serialization of every link but the
    // first. The next hop depends on the node and the destination only, so per destination
    // rest[node], the cost from node on with its own outgoing link's delay and serialization,
    // is computed once for every node a path crosses (valid while stamp[node] == dst + 1;
    // UNREACHABLE where a node has no route to dst, where GetPathLatency is 0; a routing loop,
    // which correct routing never has, counts as no path here).
    constexpr int64_t UNREACHABLE = -1;
    const size_t nodes = m_nodes.size();
    std::vector<int64_t> rest(nodes, 0);
    std::vector<uint32_t> stamp(nodes, 0);
    std::vector<std::pair<uint32_t, int64_t>> walk; // nodes not known yet, and their link's cost
    const uint32_t wire = WireBytes(frameBytes);
    int64_t best = 0;
    for (const uint32_t dst : gpus)
    {
        const uint32_t target = m_spec.hostNode.at(dst);
        rest[target] = 0;
        stamp[target] = dst + 1;
        for (const uint32_t src : gpus)
        {
            if (src == dst)
            {
                continue;
            }
            const uint32_t srcNode = m_spec.hostNode.at(src);
            if (srcNode == target)
            {
                continue; // no link to cross: GetPathLatency is 0
            }
            walk.clear();
            uint32_t node = srcNode;
            int64_t known = UNREACHABLE;
            while (walk.size() <= nodes) // bounded: a routing loop ends the walk
            {
                if (stamp[node] == dst + 1)
                {
                    known = rest[node];
                    break;
                }
                const FabricRouting::PortSet set = m_routing->Lookup(node, dst);
                if (set.count == 0)
                {
                    break;
                }
                const auto& l = m_spec.links[GetPortLink(node, set.ports[0])];
                walk.emplace_back(node, l.delayPs + SerializationPs(wire, l.rateBps));
                node = m_routing->GetPeer(node, set.ports[0]);
            }
            for (size_t i = walk.size(); i-- > 0;)
            {
                known = known == UNREACHABLE ? UNREACHABLE : walk[i].second + known;
                rest[walk[i].first] = known;
                stamp[walk[i].first] = dst + 1;
            }
            if (rest[srcNode] != UNREACHABLE)
            {
                // Less the serialization on the source's own link.
                const FabricRouting::PortSet set = m_routing->Lookup(srcNode, dst);
                const auto& l = m_spec.links[GetPortLink(srcNode, set.ports[0])];
                best = std::max(best, rest[srcNode] - SerializationPs(wire, l.rateBps));
            }
        }
    }
    return PicoSeconds(best);
}

double
FabricTopology::GetOversubscription() const
{
    const auto& nodes = m_spec.nodes;
    std::vector<double> down(nodes.size(), 0);
    std::vector<double> up(nodes.size(), 0);
    for (const auto& l : m_spec.links)
    {
        if (nodes[l.b].role != TopologySpec::SWITCH)
        {
            continue;
        }
        if (nodes[l.a].role == TopologySpec::HOST)
        {
            down[l.b] += static_cast<double>(l.rateBps);
        }
        else if (nodes[l.a].level < nodes[l.b].level)
        {
            up[l.a] += static_cast<double>(l.rateBps);
        }
        else if (nodes[l.b].level < nodes[l.a].level)
        {
            up[l.b] += static_cast<double>(l.rateBps);
        }
    }
    double worst = 0;
    for (size_t i = 0; i < nodes.size(); ++i)
    {
        if (nodes[i].role == TopologySpec::SWITCH && down[i] > 0 && up[i] > 0)
        {
            worst = std::max(worst, down[i] / up[i]);
        }
    }
    return worst;
}

const std::vector<std::string>&
FabricTopology::GetTierNames() const
{
    return m_spec.tierNames;
}

} // namespace moe
} // namespace ns3
