#include "fabric-host.h"

#include "fabric-channel.h"
#include "shared-buffer-mmu.h"

#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricHost");

NS_OBJECT_ENSURE_REGISTERED(FabricHost);

TypeId
FabricHost::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::FabricHost")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddConstructor<FabricHost>()
            .AddAttribute("RxDrainRate",
                          "Rate at which the host absorbs frames from the NIC's receive buffer "
                          "(PCIe, memory, RDMA engine); 0 delivers frames as they arrive.",
                          DataRateValue(DataRate(0)),
                          MakeDataRateAccessor(&FabricHost::m_rxDrainRate),
                          MakeDataRateChecker())
            .AddAttribute("RxBufferSize",
                          "Bytes of the NIC's receive buffer (used when RxDrainRate > 0); the "
                          "default is a ConnectX port buffer as MLNX_OFED reports it.",
                          UintegerValue(262016),
                          MakeUintegerAccessor(&FabricHost::m_rxBufferBytes),
                          MakeUintegerChecker<uint64_t>(1))
            .AddAttribute("RxXoffBytes",
                          "Buffered bytes of a lossless priority at which the NIC pauses its "
                          "peer; 0 = RxBufferSize minus the headroom of the NIC's link "
                          "(SharedBufferMmu::HeadroomBytes).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&FabricHost::m_rxXoffBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("RxXonBytes",
                          "Buffered bytes of a lossless priority at or below which the NIC "
                          "resumes its peer; 0 = XOFF minus two maximum-size frames.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&FabricHost::m_rxXonBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("RxLosslessPriorities",
                          "Bit mask of the priorities the NIC pauses instead of dropping.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&FabricHost::m_rxLosslessMask),
                          MakeUintegerChecker<uint8_t>())
            .AddTraceSource("RxPause",
                            "The NIC asks its peer to pause (true) or resume a priority because "
                            "of its receive buffer.",
                            MakeTraceSourceAccessor(&FabricHost::m_rxPauseTrace),
                            "ns3::moe::FabricHost::RxPauseTracedCallback");
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
    m_rxDrainEvent.Cancel();
    m_rxQueue.clear();
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

Ptr<FabricAdmission>
FabricHost::GetAdmission() const
{
    return m_admission;
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
    return m_ports[outPort]->Enqueue(std::move(entry)); // false: discarded by a PFC watchdog
}

bool
FabricHost::SendFrame(Ptr<Packet> packet, uint8_t priority, uint32_t port)
{
    return Admit(packet, priority, LOCAL_PORT, port);
}

void
FabricHost::ReceiveFrame(const Ptr<Packet>& packet, const FrameInfo& /*arrived*/, uint32_t inPort)
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
        if (m_rxDrainRate.GetBitRate() != 0 && inPort == 0)
        {
            RxBuffer(packet, info, roce, inPort);
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

void
FabricHost::ResolveRxThresholds()
{
    m_rxThresholdsResolved = true;
    const Ptr<FabricNetDevice>& nic = m_ports.at(0);
    const uint32_t maxFrame = nic->GetMtu() + ETH_HEADER_BYTES;
    if (m_rxXoffBytes == 0)
    {
        const uint64_t rate = nic->GetDataRate().GetBitRate();
        const Ptr<FabricChannel> channel = nic->GetFabricChannel();
        const int64_t delayPs = channel ? channel->GetDelay().GetPicoSeconds() : 0;
        const uint64_t headroom =
            SharedBufferMmu::HeadroomBytes(rate,
                                           delayPs,
                                           maxFrame,
                                           SharedBufferMmu::PauseResponseBits(rate));
        NS_ABORT_MSG_IF(headroom + 2 * maxFrame > m_rxBufferBytes,
                        "FabricHost " << m_hostId << ": RxBufferSize " << m_rxBufferBytes
                                      << " cannot hold the headroom of its link (" << headroom
                                      << " bytes) plus two frames");
        m_rxXoffBytes = m_rxBufferBytes - headroom;
    }
    if (m_rxXonBytes == 0)
    {
        m_rxXonBytes = m_rxXoffBytes > 2 * maxFrame ? m_rxXoffBytes - 2 * maxFrame : 0;
    }
    NS_ABORT_MSG_IF(m_rxXoffBytes > m_rxBufferBytes,
                    "FabricHost " << m_hostId << ": RxXoffBytes " << m_rxXoffBytes
                                  << " exceeds RxBufferSize " << m_rxBufferBytes);
    NS_ABORT_MSG_IF(m_rxXonBytes > m_rxXoffBytes,
                    "FabricHost " << m_hostId << ": RxXonBytes " << m_rxXonBytes
                                  << " exceeds RxXoffBytes " << m_rxXoffBytes);
}

void
FabricHost::RxBuffer(const Ptr<Packet>& packet,
                     const FrameInfo& info,
                     const RoceInfo& roce,
                     uint32_t inPort)
{
    if (!m_rxThresholdsResolved)
    {
        ResolveRxThresholds();
    }
    const uint32_t bytes = packet->GetSize();
    if (m_rxBytes + bytes > m_rxBufferBytes)
    {
        m_ports[inPort]->RecordDrop(packet, DropReason::RX_BUFFER_FULL);
        return;
    }
    const uint8_t p = info.priority;
    m_rxBytes += bytes;
    m_rxPeakBytes = std::max(m_rxPeakBytes, m_rxBytes);
    m_rxPriorityBytes[p] += bytes;
    const uint8_t bit = static_cast<uint8_t>(1u << p);
    if ((m_rxLosslessMask & bit) != 0 && (m_rxPausing & bit) == 0 &&
        m_rxPriorityBytes[p] >= m_rxXoffBytes)
    {
        m_rxPausing |= bit;
        m_rxPauseTrace(p, true);
        m_ports[inPort]->RequestPfc(p, true);
    }
    m_rxQueue.push_back(RxFrame{packet, info, roce, inPort});
    if (m_rxDrainEvent.IsExpired())
    {
        RxStartDrain();
    }
}

void
FabricHost::RxStartDrain()
{
    const RxFrame& head = m_rxQueue.front();
    m_rxDrainEvent = Simulator::Schedule(m_rxDrainRate.CalculateBytesTxTime(head.packet->GetSize()),
                                         &FabricHost::RxDrained,
                                         this);
}

void
FabricHost::RxDrained()
{
    RxFrame f = std::move(m_rxQueue.front());
    m_rxQueue.pop_front();
    const uint32_t bytes = f.packet->GetSize();
    const uint8_t p = f.info.priority;
    m_rxBytes -= bytes;
    m_rxPriorityBytes[p] -= bytes;
    const uint8_t bit = static_cast<uint8_t>(1u << p);
    if ((m_rxPausing & bit) != 0 && m_rxPriorityBytes[p] <= m_rxXonBytes)
    {
        m_rxPausing &= static_cast<uint8_t>(~bit);
        m_rxPauseTrace(p, false);
        m_ports[f.port]->RequestPfc(p, false);
    }
    if (!m_rxQueue.empty())
    {
        RxStartDrain();
    }
    // Last: delivery may send frames (ACKs) or, through callbacks, start new work.
    m_receiver->DeliverFrame(f.packet, f.info, f.roce, f.port);
}

uint32_t
FabricHost::GetRxBufferedFrames() const
{
    return static_cast<uint32_t>(m_rxQueue.size());
}

uint64_t
FabricHost::GetRxBufferedBytes() const
{
    return m_rxBytes;
}

uint64_t
FabricHost::GetRxPeakBytes() const
{
    return m_rxPeakBytes;
}

bool
FabricHost::HasRxPipeline() const
{
    return m_rxDrainRate.GetBitRate() != 0;
}

uint64_t
FabricHost::GetRxXoffBytes()
{
    if (!m_rxThresholdsResolved)
    {
        ResolveRxThresholds();
    }
    return m_rxXoffBytes;
}

uint64_t
FabricHost::GetRxXonBytes()
{
    GetRxXoffBytes();
    return m_rxXonBytes;
}

} // namespace moe
} // namespace ns3
