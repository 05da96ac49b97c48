#include "fabric-switch.h"

#include "fabric-frame.h"

#include "ns3/enum.h"
#include "ns3/log.h"
#include "ns3/moe-fabric-ns3-compatibility.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricSwitch");

NS_OBJECT_ENSURE_REGISTERED(FabricSwitch);

TypeId
FabricSwitch::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::FabricSwitch")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddConstructor<FabricSwitch>()
            .AddAttribute("LoadBalancing",
                          "How a frame picks one of several equal-cost egress ports.",
                          EnumValue(FabricSwitch::ECMP),
                          MoeEnumAccessor<LoadBalancing>(&FabricSwitch::m_loadBalancing),
                          MakeEnumChecker(FabricSwitch::ECMP,
                                          "ecmp",
                                          FabricSwitch::SPRAY,
                                          "spray",
                                          FabricSwitch::ADAPTIVE,
                                          "adaptive",
                                          FabricSwitch::FLOWLET,
                                          "flowlet"))
            .AddAttribute("FlowletGap",
                          "LoadBalancing \"flowlet\": a flow idle this long starts a new "
                          "flowlet, which may take another port.",
                          TimeValue(MicroSeconds(100)),
                          MakeTimeAccessor(&FabricSwitch::m_flowletGap),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("FlowletTableSize",
                          "LoadBalancing \"flowlet\": slots of the flowlet table (a power of "
                          "two); flows hashing to one slot with different tags evict each other.",
                          UintegerValue(65536),
                          MakeUintegerAccessor(&FabricSwitch::m_flowletTableSize),
                          MakeUintegerChecker<uint32_t>(1, 1u << 24))
            .AddAttribute("HashSeed",
                          "Per-switch seed of the ECMP hash and of the spraying generator. "
                          "Different seeds per switch keep tiers from polarizing.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&FabricSwitch::m_hashSeed),
                          MakeUintegerChecker<uint64_t>())
            .AddTraceSource("Forward",
                            "A frame was admitted to an egress queue: (packet, in, out).",
                            MakeTraceSourceAccessor(&FabricSwitch::m_forwardTrace),
                            "ns3::moe::FabricSwitch::ForwardTracedCallback");
    return tid;
}

FabricSwitch::FabricSwitch()
{
}

void
FabricSwitch::DoDispose()
{
    for (auto& port : m_ports)
    {
        port->SetFrameSink(nullptr);
    }
    m_ports.clear();
    m_portPtrs.clear();
    m_routing = nullptr;
    m_admission = nullptr;
    Object::DoDispose();
}

uint32_t
FabricSwitch::AddPort(Ptr<FabricNetDevice> device)
{
    const uint32_t index = static_cast<uint32_t>(m_ports.size());
    m_ports.push_back(device);
    m_portPtrs.push_back(PeekPointer(device));
    device->SetPortIndex(index);
    device->SetFrameSink(this);
    return index;
}

uint32_t
FabricSwitch::GetNPorts() const
{
    return static_cast<uint32_t>(m_ports.size());
}

Ptr<FabricNetDevice>
FabricSwitch::GetPort(uint32_t i) const
{
    return m_ports.at(i);
}

void
FabricSwitch::SetRouting(Ptr<FabricRouting> routing, uint32_t nodeIndex)
{
    m_routing = routing;
    m_nodeIndex = nodeIndex;
    // Seed the spraying generator here: HashSeed is final once routing is installed.
    m_rng = FastRng(m_hashSeed ^ (0x5deece66dull * (nodeIndex + 1)));
}

void
FabricSwitch::SetAdmission(Ptr<FabricAdmission> admission)
{
    m_admission = admission;
    m_admission->Initialize(GetNPorts());
    for (auto& port : m_ports)
    {
        port->SetAdmission(admission);
    }
}

Ptr<FabricAdmission>
FabricSwitch::GetAdmission() const
{
    return m_admission;
}

uint32_t
FabricSwitch::SelectEcmpPort(const FabricRouting::PortSet& set,
                             uint32_t srcIp,
                             uint32_t dstIp,
                             uint16_t srcPort,
                             uint16_t dstPort,
                             uint8_t protocol) const
{
    const uint64_t h = FlowHash(m_hashSeed, srcIp, dstIp, srcPort, dstPort, protocol);
    return set.ports[ReduceHash(h, set.count)];
}

uint32_t
FabricSwitch::SelectLeastLoaded(const FabricRouting::PortSet& set, uint32_t start) const
{
    uint32_t best = set.ports[start % set.count];
    uint64_t bestBytes = m_portPtrs[best]->GetQueueBytes();
    for (uint32_t i = 1; i < set.count && bestBytes != 0; ++i)
    {
        const uint32_t port = set.ports[(start + i) % set.count];
        const uint64_t bytes = m_portPtrs[port]->GetQueueBytes();
        if (bytes < bestBytes)
        {
            best = port;
            bestBytes = bytes;
        }
    }
    return best;
}

uint32_t
FabricSwitch::SelectFlowletPort(const FabricRouting::PortSet& set, const FrameInfo& info)
{
    if (m_flowlets.empty())
    {
        NS_ABORT_MSG_IF((m_flowletTableSize & (m_flowletTableSize - 1)) != 0,
                        "FabricSwitch: FlowletTableSize " << m_flowletTableSize
                                                          << " is not a power of two");
        m_flowlets.resize(m_flowletTableSize);
    }
    const uint64_t h =
        FlowHash(m_hashSeed, info.srcIp, info.dstIp, info.srcPort, info.dstPort, info.protocol);
    FlowletSlot& slot = m_flowlets[h & (m_flowletTableSize - 1)];
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    const int64_t now = Simulator::Now().GetPicoSeconds();
    if (slot.lastPs < 0 || slot.tag != tag || now - slot.lastPs > m_flowletGap.GetPicoSeconds())
    {
        slot.tag = tag;
        slot.port = SelectLeastLoaded(set, ReduceHash(h, set.count));
        ++m_flowletsStarted;
    }
    slot.lastPs = now;
    return slot.port;
}

uint64_t
FabricSwitch::GetFlowletsStarted() const
{
    return m_flowletsStarted;
}

void
FabricSwitch::RequestPfc(uint32_t inPort, uint8_t priority, bool pause)
{
    m_portPtrs.at(inPort)->RequestPfc(priority, pause);
}

void
FabricSwitch::ReceiveFrame(const Ptr<Packet>& packet, const FrameInfo& info, uint32_t inPort)
{
    // The header fields arrive parsed with the frame: forwarding reads no frame bytes.
    if (info.etherType != ETHERTYPE_IPV4 || info.dstGpu == UINT32_MAX ||
        info.dstGpu >= m_routing->GetNumHosts())
    {
        // PFC frames are consumed by the port they arrive on; checked only off the data path.
        if (info.etherType == ETHERTYPE_MAC_CONTROL &&
            m_portPtrs[inPort]->ReceiveMacControl(packet))
        {
            return;
        }
        NS_LOG_WARN("switch " << m_nodeIndex << ": unroutable frame on port " << inPort);
        m_portPtrs[inPort]->RecordDrop(packet, DropReason::NOT_ROUTABLE);
        return;
    }
    const FabricRouting::PortSet set = m_routing->Lookup(m_nodeIndex, info.dstGpu);
    if (set.count == 0)
    {
        NS_LOG_WARN("switch " << m_nodeIndex << ": no route to GPU " << info.dstGpu);
        m_portPtrs[inPort]->RecordDrop(packet, DropReason::NO_ROUTE);
        return;
    }
    uint32_t out;
    if (set.count == 1)
    {
        out = set.ports[0];
    }
    else if (m_loadBalancing == ECMP)
    {
        out =
            SelectEcmpPort(set, info.srcIp, info.dstIp, info.srcPort, info.dstPort, info.protocol);
    }
    else if (m_loadBalancing == SPRAY)
    {
        out = set.ports[m_rng.Below(set.count)];
    }
    else if (m_loadBalancing == ADAPTIVE)
    {
        out = SelectLeastLoaded(set, m_rng.Below(set.count));
    }
    else
    {
        out = SelectFlowletPort(set, info);
    }
    FabricNetDevice* const egress = m_portPtrs[out];
    egress->PrefetchEnqueue(info.priority); // its misses overlap the admission's
    QueueEntry entry;
    entry.bytes = packet->GetSize();
    entry.inPort = static_cast<uint16_t>(inPort);
    entry.priority = info.priority;
    entry.packet = packet;
    entry.infoValid = true;
    entry.info = info;
    DropReason reason;
    if (!m_admission->Admit(entry, out, reason))
    {
        egress->RecordDrop(packet, reason);
        return;
    }
    // Traced once queued: a PFC watchdog in "drop" mode discards the frame instead (counted there).
    if (egress->Enqueue(std::move(entry)) && !m_forwardTrace.IsEmpty())
    {
        m_forwardTrace(packet, inPort, out);
    }
}

} // namespace moe
} // namespace ns3
