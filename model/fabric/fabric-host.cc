#include "fabric-host.h"

#include "ns3/log.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricHost");

NS_OBJECT_ENSURE_REGISTERED(FabricHost);

TypeId
FabricHost::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::FabricHost")
                            .SetParent<Object>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<FabricHost>();
    return tid;
}

FabricHost::FabricHost()
{
}

void
FabricHost::DoDispose()
{
    for (auto& port : m_ports)
    {
        port->SetFrameSink(nullptr);
    }
    m_ports.clear();
    m_routing = nullptr;
    m_admission = nullptr;
    m_receiver = nullptr;
    Object::DoDispose();
}

void
FabricHost::SetHostId(uint32_t id)
{
    m_hostId = id;
}

uint32_t
FabricHost::GetHostId() const
{
    return m_hostId;
}

uint32_t
FabricHost::AddPort(Ptr<FabricNetDevice> device)
{
    const uint32_t index = static_cast<uint32_t>(m_ports.size());
    m_ports.push_back(device);
    device->SetPortIndex(index);
    device->SetFrameSink(this);
    return index;
}

uint32_t
FabricHost::GetNPorts() const
{
    return static_cast<uint32_t>(m_ports.size());
}

Ptr<FabricNetDevice>
FabricHost::GetPort(uint32_t i) const
{
    return m_ports.at(i);
}

void
FabricHost::SetRouting(Ptr<FabricRouting> routing, uint32_t nodeIndex)
{
    m_routing = routing;
    m_nodeIndex = nodeIndex;
}

Ptr<FabricRouting>
FabricHost::GetRouting() const
{
    return m_routing;
}

uint32_t
FabricHost::GetNodeIndex() const
{
    return m_nodeIndex;
}

void
FabricHost::SetAdmission(Ptr<FabricAdmission> admission)
{
    m_admission = admission;
    m_admission->Initialize(GetNPorts());
    for (auto& port : m_ports)
    {
        port->SetAdmission(admission);
    }
}

void
FabricHost::SetFrameReceiver(FabricFrameReceiver* receiver)
{
    m_receiver = receiver;
}

uint32_t
FabricHost::GetEgressPort(uint32_t dstHost) const
{
    const FabricRouting::PortSet set = m_routing->Lookup(m_nodeIndex, dstHost);
    NS_ABORT_MSG_IF(set.count == 0, "FabricHost " << m_hostId << ": no route to host " << dstHost);
    return set.ports[0];
}

bool
FabricHost::Admit(const Ptr<Packet>& packet, uint8_t priority, uint32_t inPort, uint32_t outPort)
{
    QueueEntry entry;
    entry.bytes = packet->GetSize();
    entry.inPort = static_cast<uint16_t>(inPort);
    entry.priority = priority;
    entry.packet = packet;
    DropReason reason;
    if (!m_admission->Admit(entry, outPort, reason))
    {
        m_ports[outPort]->RecordDrop(packet, reason);
        return false;
    }
    m_ports[outPort]->Enqueue(std::move(entry));
    return true;
}

bool
FabricHost::SendFrame(Ptr<Packet> packet, uint8_t priority, uint32_t port)
{
    return Admit(packet, priority, LOCAL_PORT, port);
}

void
FabricHost::ReceiveFrame(const Ptr<Packet>& packet, uint32_t inPort)
{
    FrameInfo info;
    RoceInfo roce;
    if (!ParseFrame(packet, info, &roce) || info.etherType != ETHERTYPE_IPV4 ||
        info.dstGpu == UINT32_MAX)
    {
        // PFC frames from the switch pause the NIC's egress; consumed by the port.
        if (info.etherType == ETHERTYPE_MAC_CONTROL && m_ports[inPort]->ReceiveMacControl(packet))
        {
            return;
        }
        m_ports[inPort]->RecordDrop(packet, DropReason::NOT_ROUTABLE);
        return;
    }
    if (info.dstGpu == m_hostId)
    {
        if (m_receiver == nullptr)
        {
            // No transport on this host: the frame has nowhere to go, so it is a drop.
            m_ports[inPort]->RecordDrop(packet, DropReason::NOT_ROUTABLE);
            return;
        }
        m_receiver->DeliverFrame(packet, info, roce, inPort);
        return;
    }
    // Relay (rail-only topologies): forward along this host's route.
    if (info.dstGpu >= m_routing->GetNumHosts())
    {
        m_ports[inPort]->RecordDrop(packet, DropReason::NOT_ROUTABLE);
        return;
    }
    const FabricRouting::PortSet set = m_routing->Lookup(m_nodeIndex, info.dstGpu);
    if (set.count == 0)
    {
        m_ports[inPort]->RecordDrop(packet, DropReason::NO_ROUTE);
        return;
    }
    Admit(packet, info.priority, inPort, set.ports[0]);
}

} // namespace moe
} // namespace ns3
