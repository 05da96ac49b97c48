#include "tcp-transport.h"

#include "ns3/abort.h"
#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/enum.h"
#include "ns3/inet-socket-address.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/ipv4-static-routing-helper.h"
#include "ns3/ipv4.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/tcp-congestion-ops.h"
#include "ns3/tcp-header.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/tcp-socket-factory.h"
#include "ns3/uinteger.h"

#include <utility>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("TcpTransport");

NS_OBJECT_ENSURE_REGISTERED(TcpTransport);

namespace
{
/// Variants offered: ns-3's window-based algorithms that make sense inside a data center. The
/// scavengers (LEDBAT, TCP-LP) and Westwood (renamed after 3.37) are left out.
const std::pair<const char*, const char*> VARIANTS[] = {
    {"dctcp", "ns3::TcpDctcp"},
    {"newreno", "ns3::TcpNewReno"},
    {"linux-reno", "ns3::TcpLinuxReno"},
    {"cubic", "ns3::TcpCubic"},
    {"bbr", "ns3::TcpBbr"},
    {"bic", "ns3::TcpBic"},
    {"highspeed", "ns3::TcpHighSpeed"},
    {"htcp", "ns3::TcpHtcp"},
    {"hybla", "ns3::TcpHybla"},
    {"illinois", "ns3::TcpIllinois"},
    {"scalable", "ns3::TcpScalable"},
    {"vegas", "ns3::TcpVegas"},
    {"veno", "ns3::TcpVeno"},
    {"yeah", "ns3::TcpYeah"},
};

uint64_t
ConnectionKey(uint32_t src, uint32_t dst, uint8_t cls)
{
    return (static_cast<uint64_t>(src) << 35) | (static_cast<uint64_t>(dst) << 3) | cls;
}

void
Write64(uint8_t* p, uint64_t v)
{
    for (int i = 7; i >= 0; --i)
    {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}

uint64_t
Read64(const uint8_t* p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
    {
        v = (v << 8) | p[i];
    }
    return v;
}
} // namespace

std::string
TcpTransport::VariantTypeName(const std::string& name)
{
    for (const auto& [n, type] : VARIANTS)
    {
        if (name == n)
        {
            return type;
        }
    }
    return "";
}

std::string
TcpTransport::VariantNames()
{
    std::string out;
    for (const auto& [n, type] : VARIANTS)
    {
        out += (out.empty() ? "" : ", ") + std::string(n);
    }
    return out;
}

TypeId
TcpTransport::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::TcpTransport")
            .SetParent<MessageTransport>()
            .SetGroupName("MoeFabric")
            .AddConstructor<TcpTransport>()
            .AddAttribute("Variant",
                          "Congestion control: dctcp, newreno, linux-reno, cubic, bbr, bic, "
                          "highspeed, htcp, hybla, illinois, scalable, vegas, veno, yeah.",
                          StringValue("dctcp"),
                          MakeStringAccessor(&TcpTransport::m_variant),
                          MakeStringChecker())
            .AddAttribute("SegmentSize",
                          "TCP payload bytes per segment (MSS); + 40 header bytes must fit the "
                          "device MTU.",
                          UintegerValue(4096),
                          MakeUintegerAccessor(&TcpTransport::m_segmentSize),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("UseEcn",
                          "Negotiate ECN (RFC 3168; DCTCP turns it on whatever this says).",
                          BooleanValue(true),
                          MakeBooleanAccessor(&TcpTransport::m_useEcn),
                          MakeBooleanChecker())
            .AddAttribute("MinRto",
                          "Minimum retransmission timeout (also the SYN timeout).",
                          TimeValue(MilliSeconds(1)),
                          MakeTimeAccessor(&TcpTransport::m_minRto),
                          MakeTimeChecker())
            .AddAttribute("InitialCwnd",
                          "Initial congestion window, in segments.",
                          UintegerValue(10),
                          MakeUintegerAccessor(&TcpTransport::m_initialCwnd),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("SndBufSize",
                          "Send buffer of each connection, bytes.",
                          UintegerValue(4 << 20),
                          MakeUintegerAccessor(&TcpTransport::m_sndBufSize),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("RcvBufSize",
                          "Receive buffer of each connection, bytes.",
                          UintegerValue(4 << 20),
                          MakeUintegerAccessor(&TcpTransport::m_rcvBufSize),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("DelAckCount",
                          "Segments received before an ACK is sent (delayed ACK).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&TcpTransport::m_delAckCount),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("DelAckTimeout",
                          "Longest wait of a delayed ACK.",
                          TimeValue(MicroSeconds(100)),
                          MakeTimeAccessor(&TcpTransport::m_delAckTimeout),
                          MakeTimeChecker())
            .AddAttribute("DctcpG",
                          "DCTCP's estimation gain g (variant dctcp only).",
                          DoubleValue(0.0625),
                          MakeDoubleAccessor(&TcpTransport::m_dctcpG),
                          MakeDoubleChecker<double>(0, 1))
            .AddTraceSource("Retransmit",
                            "A data sender retransmitted a segment.",
                            MakeTraceSourceAccessor(&TcpTransport::m_retransmitTrace),
                            "ns3::moe::TcpTransport::ConnectionTracedCallback")
            .AddTraceSource("Timeout",
                            "A data sender's retransmission timer expired (Loss state entered).",
                            MakeTraceSourceAccessor(&TcpTransport::m_timeoutTrace),
                            "ns3::moe::TcpTransport::ConnectionTracedCallback")
            .AddTraceSource("EcnEcho",
                            "A data sender received an ACK carrying ECE.",
                            MakeTraceSourceAccessor(&TcpTransport::m_eceTrace),
                            "ns3::moe::TcpTransport::ConnectionTracedCallback")
            .AddTraceSource("CongestionWindow",
                            "A data sender's congestion window changed (bytes).",
                            MakeTraceSourceAccessor(&TcpTransport::m_cwndTrace),
                            "ns3::moe::TcpTransport::CwndTracedCallback");
    return tid;
}

TcpTransport::TcpTransport()
{
}

TcpTransport::~TcpTransport()
{
}

void
TcpTransport::DoDispose()
{
    for (auto& host : m_hosts)
    {
        host->SetFrameReceiver(nullptr);
    }
    for (auto& c : m_connections)
    {
        c.tx = nullptr;
        c.rx = nullptr;
    }
    m_connections.clear();
    m_connectionOfSocket.clear();
    m_listeners.clear();
    m_hosts.clear();
    m_topology = nullptr;
    MessageTransport::DoDispose();
}

void
TcpTransport::Install(Ptr<FabricTopology> topology)
{
    NS_ABORT_MSG_IF(m_topology, "TcpTransport::Install called twice");
    const std::string typeName = VariantTypeName(m_variant);
    NS_ABORT_MSG_IF(typeName.empty(),
                    "TcpTransport: unknown Variant \"" << m_variant
                                                       << "\"; accepted: " << VariantNames());
    m_congestionTypeId = TypeId::LookupByName(typeName);
    m_topology = topology;
    const uint32_t n = topology->GetNumGpus();
    NodeContainer nodes;
    for (uint32_t g = 0; g < n; ++g)
    {
        Ptr<Node> node = topology->GetGpuNode(g);
        NS_ABORT_MSG_IF(node->GetObject<Ipv4>(),
                        "TcpTransport: GPU " << g << " already has an IPv4 stack");
        nodes.Add(node);
        m_hosts.push_back(topology->GetHost(g));
        m_gpuOfNode[node->GetId()] = g;
    }
    InternetStackHelper stack;
    stack.SetIpv6StackInstall(false);
    Ipv4StaticRoutingHelper staticRouting;
    stack.SetRoutingHelper(staticRouting);
    stack.Install(nodes);

    for (uint32_t g = 0; g < n; ++g)
    {
        Ptr<FabricHost> host = m_hosts[g];
        Ptr<Ipv4> ipv4 = nodes.Get(g)->GetObject<Ipv4>();
        std::vector<uint32_t> ifOfPort;
        for (uint32_t p = 0; p < host->GetNPorts(); ++p)
        {
            Ptr<FabricNetDevice> dev = host->GetPort(p);
            NS_ABORT_MSG_IF(m_segmentSize + SEGMENT_HEADER_BYTES > dev->GetMtu(),
                            "TcpTransport: SegmentSize "
                                << m_segmentSize << " + " << SEGMENT_HEADER_BYTES
                                << " does not fit the device MTU " << dev->GetMtu());
            const int32_t existing = ipv4->GetInterfaceForDevice(dev);
            const uint32_t ifIndex =
                existing >= 0 ? static_cast<uint32_t>(existing) : ipv4->AddInterface(dev);
            // The NIC owns the GPU's /8 (every GPU is on-link: the fabric routes by address);
            // an NVLink port carries the same address as a /32 and host routes below.
            ipv4->AddAddress(
                ifIndex,
                Ipv4InterfaceAddress(GpuIpv4Address(g),
                                     p == 0 ? Ipv4Mask("255.0.0.0") : Ipv4Mask("255.255.255.255")));
            ipv4->SetUp(ifIndex);
            ifOfPort.push_back(ifIndex);
        }
        if (host->GetNPorts() > 1)
        {
            Ptr<Ipv4StaticRouting> routes = staticRouting.GetStaticRouting(ipv4);
            for (uint32_t d = 0; d < n; ++d)
            {
                if (d == g)
                {
                    continue;
                }
                const uint32_t port = host->GetEgressPort(d);
                if (port != 0)
                {
                    routes->AddHostRouteTo(GpuIpv4Address(d), ifOfPort.at(port));
                }
            }
        }
        host->SetFrameReceiver(this);
        for (uint8_t c = 0; c < NUM_TRAFFIC_CLASSES; ++c)
        {
            Ptr<Socket> listener = CreateSocket(g);
            NS_ABORT_MSG_IF(
                listener->Bind(InetSocketAddress(Ipv4Address::GetAny(), PORT_BASE + c)) != 0,
                "TcpTransport: cannot bind the listener of class " << static_cast<int>(c));
            SetClassTos(listener, c);
            listener->Listen();
            listener->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                        MakeCallback(&TcpTransport::OnAccept, this));
            m_listeners.push_back(listener);
        }
    }
}

Ptr<Socket>
TcpTransport::CreateSocket(uint32_t gpu)
{
    Ptr<Socket> socket =
        Socket::CreateSocket(m_topology->GetGpuNode(gpu), TcpSocketFactory::GetTypeId());
    Ptr<TcpSocketBase> tcp = DynamicCast<TcpSocketBase>(socket);
    NS_ABORT_MSG_IF(!tcp, "TcpTransport: the TCP socket factory made no TcpSocketBase");
    tcp->SetAttribute("SegmentSize", UintegerValue(m_segmentSize));
    tcp->SetAttribute("InitialCwnd", UintegerValue(m_initialCwnd));
    tcp->SetAttribute("SndBufSize", UintegerValue(m_sndBufSize));
    tcp->SetAttribute("RcvBufSize", UintegerValue(m_rcvBufSize));
    tcp->SetAttribute("DelAckCount", UintegerValue(m_delAckCount));
    tcp->SetAttribute("DelAckTimeout", TimeValue(m_delAckTimeout));
    tcp->SetAttribute("MinRto", TimeValue(m_minRto));
    tcp->SetAttribute("ConnTimeout", TimeValue(m_minRto));
    // The default granularity (1 ms) would put a floor under every RTO far above fabric RTTs.
    tcp->SetAttribute("ClockGranularity", TimeValue(MicroSeconds(1)));
    // Timestamps are off: ns-3 takes RTT samples from them at millisecond resolution, and a
    // data segment then carries no options (MSS + 40 bytes of IPv4 and TCP).
    tcp->SetAttribute("Timestamp", BooleanValue(false));
    // A connection gives up after DataRetries timeouts; messages must not be lost that way.
    tcp->SetAttribute("DataRetries", UintegerValue(100));
    tcp->SetAttribute("ConnCount", UintegerValue(100));
    tcp->SetAttribute("UseEcn", EnumValue(m_useEcn ? TcpSocketState::On : TcpSocketState::Off));
    if (m_variant == "bbr")
    {
        tcp->SetPacingStatus(true); // BBR paces; ns-3 leaves pacing off by default
    }
    ObjectFactory cc;
    cc.SetTypeId(m_congestionTypeId);
    if (m_variant == "dctcp")
    {
        cc.Set("DctcpShiftG", DoubleValue(m_dctcpG));
    }
    tcp->SetCongestionControlAlgorithm(cc.Create<TcpCongestionOps>());
    return socket;
}

void
TcpTransport::SetClassTos(Ptr<Socket> socket, uint8_t cls) const
{
    // DSCP = class selector of the class's priority; TCP adds the ECT bits when ECN is on.
    // After Bind()/Connect(): up to ns-3.4x they reset the TOS to that of the address given.
    socket->SetIpTos(static_cast<uint8_t>(DscpForPriority(GetClassPriority(cls)) << 2));
}

uint32_t
TcpTransport::GetConnection(uint32_t src, uint32_t dst, uint8_t cls)
{
    const uint64_t key = ConnectionKey(src, dst, cls);
    auto it = m_connectionOf.find(key);
    if (it != m_connectionOf.end())
    {
        return it->second;
    }
    const uint32_t index = static_cast<uint32_t>(m_connections.size());
    m_connections.emplace_back();
    Connection& c = m_connections.back();
    c.src = src;
    c.dst = dst;
    c.cls = cls;
    m_connectionOf[key] = index;
    ++m_counters.connections;
    c.tx = CreateSocket(src);
    m_connectionOfSocket[PeekPointer(c.tx)] = index;
    Ptr<TcpSocketBase> tcp = DynamicCast<TcpSocketBase>(c.tx);
    tcp->TraceConnectWithoutContext("Tx", MakeBoundCallback(&TcpTransport::TxSink, this, index));
    tcp->TraceConnectWithoutContext("Rx", MakeBoundCallback(&TcpTransport::RxSink, this, index));
    tcp->TraceConnectWithoutContext("CongState",
                                    MakeBoundCallback(&TcpTransport::CongStateSink, this, index));
    tcp->TraceConnectWithoutContext("CongestionWindow",
                                    MakeBoundCallback(&TcpTransport::CwndSink, this, index));
    c.tx->Bind();
    c.tx->SetSendCallback(MakeCallback(&TcpTransport::OnSendSpace, this));
    c.tx->Connect(InetSocketAddress(GpuIpv4Address(dst), PORT_BASE + cls));
    SetClassTos(c.tx, cls); // the SYN has left with TOS 0 (priority 0)
    return index;
}

void
TcpTransport::DoSend(const MessageRecord& record)
{
    NS_ABORT_MSG_IF(!m_topology, "TcpTransport: Send before Install");
    const uint32_t index = GetConnection(record.src, record.dst, record.cls);
    Connection& c = m_connections[index];
    PendingMessage m;
    m.record = record;
    m.begin = c.queuedEnd;
    m.end = c.queuedEnd + RECORD_HEADER_BYTES + record.bytes;
    c.queuedEnd = m.end;
    c.messages.push_back(m);
    Push(index);
}

void
TcpTransport::Push(uint32_t index)
{
    Connection& c = m_connections[index];
    while (c.writeIndex < c.messages.size())
    {
        const PendingMessage& m = c.messages[c.writeIndex];
        const uint32_t available = c.tx->GetTxAvailable();
        if (available == 0)
        {
            return;
        }
        const uint64_t offset = c.written - m.begin; // within the record
        const uint64_t left = m.end - c.written;
        const uint32_t chunk = static_cast<uint32_t>(std::min<uint64_t>(left, available));
        Ptr<Packet> p;
        if (offset < RECORD_HEADER_BYTES)
        {
            uint8_t header[RECORD_HEADER_BYTES];
            Write64(header, m.record.bytes);
            Write64(header + 8, m.record.id);
            const uint32_t h =
                static_cast<uint32_t>(std::min<uint64_t>(RECORD_HEADER_BYTES - offset, chunk));
            p = Create<Packet>(header + offset, h);
            if (chunk > h)
            {
                p->AddAtEnd(Create<Packet>(chunk - h)); // payload: zero bytes, not stored
            }
        }
        else
        {
            p = Create<Packet>(chunk);
        }
        const int sent = c.tx->Send(p);
        NS_ABORT_MSG_IF(sent != static_cast<int>(chunk),
                        "TcpTransport: the socket took " << sent << " of " << chunk << " bytes");
        c.written += chunk;
        if (c.written == m.end)
        {
            ++c.writeIndex;
        }
    }
}

void
TcpTransport::OnSendSpace(Ptr<Socket> socket, uint32_t /*available*/)
{
    const uint32_t index = m_connectionOfSocket.at(PeekPointer(socket));
    CompleteAcked(index);
    Push(index);
}

void
TcpTransport::CompleteAcked(uint32_t index)
{
    Connection& c = m_connections[index];
    // The send buffer holds the written bytes not yet acknowledged.
    const uint64_t unacked = m_sndBufSize - c.tx->GetTxAvailable();
    const uint64_t acked = c.written - unacked;
    while (!c.messages.empty() && c.messages.front().delivered && c.messages.front().end <= acked)
    {
        MessageRecord record = c.messages.front().record;
        c.messages.pop_front();
        --c.writeIndex;
        --c.readIndex;
        record.acked = Simulator::Now();
        NotifyAcked(record);
    }
}

void
TcpTransport::OnAccept(Ptr<Socket> socket, const Address& from)
{
    const uint32_t src = GpuFromIpv4(InetSocketAddress::ConvertFrom(from).GetIpv4().Get());
    Address local;
    socket->GetSockName(local);
    const uint16_t port = InetSocketAddress::ConvertFrom(local).GetPort();
    const uint32_t dst = m_gpuOfNode.at(socket->GetNode()->GetId());
    NS_ABORT_MSG_IF(src == UINT32_MAX || src >= GetNumHosts() || port < PORT_BASE ||
                        port >= PORT_BASE + NUM_TRAFFIC_CLASSES,
                    "TcpTransport: unexpected connection from " << from << " to port " << port);
    const uint8_t cls = static_cast<uint8_t>(port - PORT_BASE);
    auto it = m_connectionOf.find(ConnectionKey(src, dst, cls));
    NS_ABORT_MSG_IF(it == m_connectionOf.end(),
                    "TcpTransport: connection " << src << "->" << dst << " class "
                                                << static_cast<int>(cls) << " has no sender");
    Connection& c = m_connections[it->second];
    NS_ABORT_MSG_IF(c.rx, "TcpTransport: connection accepted twice");
    c.rx = socket;
    m_connectionOfSocket[PeekPointer(socket)] = it->second;
    socket->SetRecvCallback(MakeCallback(&TcpTransport::OnRecv, this));
}

void
TcpTransport::OnRecv(Ptr<Socket> socket)
{
    const uint32_t index = m_connectionOfSocket.at(PeekPointer(socket));
    while (Ptr<Packet> p = socket->Recv())
    {
        if (p->GetSize() == 0)
        {
            break;
        }
        Consume(index, p);
    }
    CompleteAcked(index);
}

void
TcpTransport::Consume(uint32_t index, Ptr<Packet> packet)
{
    Connection& c = m_connections[index];
    const uint32_t size = packet->GetSize();
    uint32_t off = 0;
    while (off < size)
    {
        if (!c.inPayload)
        {
            const uint32_t k = std::min(RECORD_HEADER_BYTES - c.headerHave, size - off);
            if (off == 0)
            {
                packet->CopyData(c.header + c.headerHave, k);
            }
            else
            {
                packet->CreateFragment(off, k)->CopyData(c.header + c.headerHave, k);
            }
            c.headerHave += k;
            off += k;
            if (c.headerHave < RECORD_HEADER_BYTES)
            {
                continue;
            }
            c.headerHave = 0;
            const uint64_t length = Read64(c.header);
            const uint64_t id = Read64(c.header + 8);
            NS_ABORT_MSG_IF(c.readIndex >= c.messages.size(),
                            "TcpTransport: a record arrived that was never sent");
            PendingMessage& m = c.messages[c.readIndex];
            NS_ABORT_MSG_IF(m.record.id != id || m.record.bytes != length,
                            "TcpTransport: framing error on "
                                << c.src << "->" << c.dst << ": record (" << id << ", " << length
                                << "), expected (" << m.record.id << ", " << m.record.bytes << ")");
            m.record.firstByte = Simulator::Now();
            c.payloadLeft = length;
            c.inPayload = true;
        }
        const uint64_t k = std::min<uint64_t>(c.payloadLeft, size - off);
        c.payloadLeft -= k;
        off += static_cast<uint32_t>(k);
        if (c.payloadLeft == 0)
        {
            c.inPayload = false;
            PendingMessage& m = c.messages[c.readIndex];
            ++c.readIndex;
            m.delivered = true;
            m.record.delivered = Simulator::Now();
            NotifyDelivered(m.record);
        }
    }
}

void
TcpTransport::DeliverFrame(const Ptr<Packet>& packet,
                           const FrameInfo& frame,
                           const RoceInfo& /*roce*/,
                           uint32_t port)
{
    if (frame.ecn == ECN_CE)
    {
        ++m_counters.ceFrames;
    }
    m_hosts.at(frame.dstGpu)->GetPort(port)->ForwardUp(packet);
}

void
TcpTransport::TxSink(TcpTransport* self,
                     uint32_t index,
                     Ptr<const Packet> packet,
                     const TcpHeader& header,
                     Ptr<const TcpSocketBase> /*socket*/)
{
    if ((header.GetFlags() & TcpHeader::CWR) != 0)
    {
        ++self->m_counters.cwrSegments;
    }
    const uint32_t bytes = packet->GetSize();
    if (bytes == 0)
    {
        return;
    }
    Connection& c = self->m_connections[index];
    ++self->m_counters.dataSegments;
    const SequenceNumber32 end = header.GetSequenceNumber() + bytes;
    if (c.sentData && end <= c.highTx)
    {
        ++self->m_counters.retransmittedSegments;
        self->m_retransmitTrace(c.src, c.dst, c.cls);
        return;
    }
    if (!c.sentData || end > c.highTx)
    {
        c.highTx = end;
        c.sentData = true;
    }
}

void
TcpTransport::RxSink(TcpTransport* self,
                     uint32_t index,
                     Ptr<const Packet> /*packet*/,
                     const TcpHeader& header,
                     Ptr<const TcpSocketBase> /*socket*/)
{
    const uint8_t flags = header.GetFlags();
    // The ECE of a SYN-ACK negotiates ECN; only later ones echo congestion.
    if ((flags & TcpHeader::ECE) != 0 && (flags & TcpHeader::SYN) == 0)
    {
        ++self->m_counters.eceAcks;
        const Connection& c = self->m_connections[index];
        self->m_eceTrace(c.src, c.dst, c.cls);
    }
}

void
TcpTransport::CongStateSink(TcpTransport* self,
                            uint32_t index,
                            TcpSocketState::TcpCongState_t /*oldState*/,
                            TcpSocketState::TcpCongState_t newState)
{
    if (newState == TcpSocketState::CA_LOSS)
    {
        ++self->m_counters.timeouts;
        const Connection& c = self->m_connections[index];
        self->m_timeoutTrace(c.src, c.dst, c.cls);
    }
    else if (newState == TcpSocketState::CA_RECOVERY)
    {
        ++self->m_counters.fastRecoveries;
    }
}

void
TcpTransport::CwndSink(TcpTransport* self, uint32_t index, uint32_t oldCwnd, uint32_t newCwnd)
{
    if (newCwnd < oldCwnd)
    {
        ++self->m_counters.cwndReductions;
    }
    if (!self->m_cwndTrace.IsEmpty())
    {
        const Connection& c = self->m_connections[index];
        self->m_cwndTrace(c.src, c.dst, c.cls, oldCwnd, newCwnd);
    }
}

uint32_t
TcpTransport::GetNumHosts() const
{
    return static_cast<uint32_t>(m_hosts.size());
}

const TcpCounters&
TcpTransport::GetCounters() const
{
    return m_counters;
}

Ptr<TcpSocketBase>
TcpTransport::GetSenderSocket(uint32_t src, uint32_t dst, uint8_t cls) const
{
    auto it = m_connectionOf.find(ConnectionKey(src, dst, cls));
    if (it == m_connectionOf.end())
    {
        return nullptr;
    }
    return DynamicCast<TcpSocketBase>(m_connections[it->second].tx);
}

} // namespace moe
} // namespace ns3
