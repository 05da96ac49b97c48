#include "rdma-transport.h"

#include "ns3/abort.h"
#include "ns3/boolean.h"
#include "ns3/enum.h"
#include "ns3/fabric-hash.h"
#include "ns3/log.h"
#include "ns3/moe-fabric-ns3-compatibility.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("RdmaTransport");

NS_OBJECT_ENSURE_REGISTERED(RdmaNic);
NS_OBJECT_ENSURE_REGISTERED(RdmaTransport);

namespace
{
/// QPN space: sender QPs even, receiver QPs odd, 0 and 1 reserved as in InfiniBand.
constexpr uint32_t MAX_QP_INDEX = (PSN_MASK - 3) / 2;

inline int64_t
NowPs()
{
    return Simulator::Now().GetPicoSeconds();
}
} // namespace

// =============================================================================================
// RdmaNic

TypeId
RdmaNic::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::RdmaNic")
                            .SetParent<Object>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<RdmaNic>();
    return tid;
}

RdmaNic::RdmaNic()
{
}

void
RdmaNic::DoDispose()
{
    for (auto* port : m_ports)
    {
        port->SetPullSource(nullptr);
    }
    if (m_host)
    {
        m_host->SetFrameReceiver(nullptr);
    }
    m_ports.clear();
    m_host = nullptr;
    m_transport = nullptr;
    if (m_cc)
    {
        m_cc->Dispose();
        m_cc = nullptr;
    }
    m_senders.clear();
    m_rtoFiledPs.clear();
    m_rtoHeap.clear();
    m_receivers.clear();
    Object::DoDispose();
}

uint32_t
RdmaNic::SenderQpn(uint32_t index)
{
    return 2 * index + 2;
}

uint32_t
RdmaNic::ReceiverQpn(uint32_t index)
{
    return 2 * index + 3;
}

void
RdmaNic::Setup(RdmaTransport* transport, Ptr<FabricHost> host)
{
    m_transport = transport;
    m_host = host;
    m_hostId = host->GetHostId();
    m_hostIp = GpuIpv4Address(m_hostId).Get();
    m_active.resize(host->GetNPorts());
    for (uint32_t p = 0; p < host->GetNPorts(); ++p)
    {
        Ptr<FabricNetDevice> dev = host->GetPort(p);
        m_ports.push_back(PeekPointer(dev));
        dev->SetPullSource(this);
    }
    host->SetFrameReceiver(this);
    m_cc = transport->CreateCongestionControl();
    m_cc->Attach(this, m_hostId);
    m_ccHooks = m_cc->GetHooks();
    m_cnpIntervalPs = m_cc->GetCnpIntervalPs();
}

uint32_t
RdmaNic::GetOrCreateSenderQp(uint32_t dst, uint8_t cls)
{
    const uint64_t key = (static_cast<uint64_t>(dst) << 8) | cls;
    auto it = m_senderByKey.find(key);
    if (it != m_senderByKey.end())
    {
        return it->second;
    }
    const uint32_t index = static_cast<uint32_t>(m_senders.size());
    NS_ABORT_MSG_IF(index > MAX_QP_INDEX, "RdmaNic: more than 2^23 queue pairs on one NIC");
    m_senders.emplace_back();
    m_rtoFiledPs.push_back(-1);
    SenderQp& qp = m_senders.back();
    qp.dst = dst;
    qp.cls = cls;
    qp.priority = m_transport->GetClassPriority(cls);
    qp.port = static_cast<uint8_t>(m_host->GetEgressPort(dst));
    // RoCEv2 puts flow entropy in the UDP source port (49152..65535).
    const uint64_t h = Mix64(m_transport->GetSeed() ^ (static_cast<uint64_t>(m_hostId) << 40) ^
                             (static_cast<uint64_t>(dst) << 8) ^ cls);
    qp.udpSrcPort = static_cast<uint16_t>(0xC000 | (h & 0x3FFF));
    const uint32_t remote =
        m_transport->GetNic(dst)->CreateReceiverQp(m_hostId, index, SenderQpn(index));
    qp.remoteQpn = ReceiverQpn(remote);
    m_senderByKey.emplace(key, index);
    ++m_transport->MutableCounters().queuePairs;
    m_cc->OnQpCreated(index, GetQpLineRate(index));
    if (m_transport->GetBdpFlowControl())
    {
        // IRN's BDP-FC: at most a bandwidth-delay product in flight, in whole packets, from the
        // QP's line rate and its path's base round trip.
        const uint64_t mtu = m_transport->GetMtu();
        const double bdpBytes = static_cast<double>(GetQpLineRate(index)) *
                                static_cast<double>(GetQpBaseRttPs(index)) / 8e12;
        const uint64_t packets =
            std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(bdpBytes / mtu)));
        SetQpWindow(index, packets * mtu);
    }
    return index;
}

uint32_t
RdmaNic::CreateReceiverQp(uint32_t src, uint32_t srcQpIndex, uint32_t srcQpn)
{
    const uint32_t index = static_cast<uint32_t>(m_receivers.size());
    NS_ABORT_MSG_IF(index > MAX_QP_INDEX, "RdmaNic: more than 2^23 queue pairs on one NIC");
    m_receivers.emplace_back();
    ReceiverQp& rq = m_receivers.back();
    rq.src = src;
    rq.srcQpIndex = srcQpIndex;
    rq.remoteQpn = srcQpn;
    rq.port = static_cast<uint8_t>(m_host->GetEgressPort(src));
    const uint64_t h = Mix64(m_transport->GetSeed() ^ (static_cast<uint64_t>(m_hostId) << 40) ^
                             (static_cast<uint64_t>(src) << 8) ^ 0xACull);
    rq.udpSrcPort = static_cast<uint16_t>(0xC000 | (h & 0x3FFF));
    return index;
}

SenderQp&
RdmaNic::GetSenderQp(uint32_t index)
{
    return m_senders.at(index);
}

uint32_t
RdmaNic::GetNumSenderQps() const
{
    return static_cast<uint32_t>(m_senders.size());
}

ReceiverQp&
RdmaNic::GetReceiverQp(uint32_t index)
{
    return m_receivers.at(index);
}

uint32_t
RdmaNic::GetNumReceiverQps() const
{
    return static_cast<uint32_t>(m_receivers.size());
}

void
RdmaNic::SetQpRate(uint32_t index, uint64_t rateBps)
{
    SenderQp& qp = m_senders.at(index);
    const uint64_t old = qp.rateBps;
    qp.rateBps = rateBps;
    const int64_t now = NowPs();
    if (qp.nextSendPs > now && (rateBps == 0 || (old != 0 && rateBps > old)))
    {
        // Faster now: the wait for the next packet shrinks in proportion (a packet paced at a
        // low rate would otherwise hold the QP back long after the rate went up).
        const int64_t left = qp.nextSendPs - now;
        qp.nextSendPs = rateBps == 0 ? now
                                     : now + static_cast<int64_t>(static_cast<double>(left) *
                                                                  static_cast<double>(old) /
                                                                  static_cast<double>(rateBps));
        if (qp.wakePending)
        {
            // The pending wake-up is too late: wake earlier (the late one then finds the QP
            // listed or sending and does nothing harmful).
            qp.wakePending = false;
        }
    }
    if (rateBps == 0)
    {
        qp.nextSendPs = 0;
    }
    if (index != m_pullingQp)
    {
        Activate(index);
    }
}

void
RdmaNic::SetQpWindow(uint32_t index, uint64_t windowBytes)
{
    m_senders.at(index).windowBytes = windowBytes;
    if (index != m_pullingQp)
    {
        Activate(index);
    }
}

void
RdmaNic::SetCcRate(uint32_t index, uint64_t rateBps, RateEvent event)
{
    SetQpRate(index, rateBps);
    m_transport->ReportRate(m_hostId, SenderQpn(index), rateBps, event);
}

Ptr<RdmaCongestionControl>
RdmaNic::GetCongestionControl() const
{
    return m_cc;
}

uint64_t
RdmaNic::GetQpLineRate(uint32_t index) const
{
    return m_ports[m_senders.at(index).port]->GetDataRate().GetBitRate();
}

int64_t
RdmaNic::GetQpBaseRttPs(uint32_t index) const
{
    const SenderQp& qp = m_senders.at(index);
    Ptr<FabricTopology> topo = m_transport->GetTopology();
    const uint32_t data = m_transport->GetMtu() + ROCE_DATA_HEADER_BYTES +
                          ((m_ccHooks & RdmaCongestionControl::HOOK_TELEMETRY) ? INT_MAX_BYTES : 0);
    const uint32_t ack = ROCE_DATA_HEADER_BYTES + AETH_BYTES;
    const uint64_t rate = GetQpLineRate(index);
    return SerializationPs(WireBytes(data), rate) +
           topo->GetPathLatency(m_hostId, qp.dst, data).GetPicoSeconds() +
           SerializationPs(WireBytes(ack), rate) +
           topo->GetPathLatency(qp.dst, m_hostId, ack).GetPicoSeconds();
}

uint32_t
RdmaNic::GetQpHopCount(uint32_t index) const
{
    return m_transport->GetTopology()->GetHopCount(m_hostId, m_senders.at(index).dst);
}

uint32_t
RdmaNic::GetMtu() const
{
    return m_transport->GetMtu();
}

uint64_t
RdmaNic::GetPendingMessages() const
{
    return m_pendingMessages;
}

void
RdmaNic::PostSend(const MessageRecord& record)
{
    const uint32_t index = GetOrCreateSenderQp(record.dst, record.cls);
    SenderQp& qp = m_senders[index];
    const uint32_t mtu = m_transport->GetMtu();
    RdmaMessage m;
    m.id = record.id;
    m.bytes = record.bytes;
    m.tag = record.tag;
    m.startPsn = qp.postedPsn;
    // A zero-byte message still travels as one header-only packet.
    const uint64_t packets = record.bytes == 0 ? 1 : (record.bytes + mtu - 1) / mtu;
    m.endPsn = m.startPsn + packets;
    m.startPs = record.start.GetPicoSeconds();
    qp.postedPsn = m.endPsn;
    if (qp.msgs.empty())
    {
        qp.frontEndPsn = m.endPsn;
    }
    qp.msgs.push_back(m);
    ++m_pendingMessages;
    Activate(index);
}

bool
RdmaNic::WindowOpen(const SenderQp& qp) const
{
    return qp.windowBytes == 0 ||
           (qp.sndNxt - qp.sndUna) * static_cast<uint64_t>(m_transport->GetMtu()) < qp.windowBytes;
}

bool
RdmaNic::CanSend(const SenderQp& qp) const
{
    return !qp.retx.empty() || (qp.sndNxt < qp.postedPsn && WindowOpen(qp));
}

void
RdmaNic::Activate(uint32_t index)
{
    SenderQp& qp = m_senders[index];
    if (qp.inList || qp.wakePending || !CanSend(qp))
    {
        return;
    }
    qp.inList = true;
    m_active[qp.port][qp.priority].push_back(index);
    m_ports[qp.port]->NotifyPullReady(qp.priority);
}

void
RdmaNic::Wake(uint32_t index)
{
    SenderQp& qp = m_senders[index];
    if (qp.wakePending && NowPs() != qp.nextSendPs)
    {
        return; // superseded by an earlier wake-up after a rate increase (SetQpRate)
    }
    qp.wakePending = false;
    Activate(index);
}

Ptr<Packet>
RdmaNic::PullFrame(uint32_t port, uint8_t priority)
{
    auto& list = m_active[port][priority];
    const int64_t now = NowPs();
    while (!list.empty())
    {
        const uint32_t index = list.front();
        list.pop_front();
        SenderQp& qp = m_senders[index];
        qp.inList = false;
        if (!CanSend(qp))
        {
            continue; // window closed or nothing left; an ACK or a post re-activates it
        }
        if (qp.nextSendPs > now)
        {
            // Paced: come back when the rate allows the next packet.
            qp.wakePending = true;
            Simulator::Schedule(PicoSeconds(qp.nextSendPs - now), &RdmaNic::Wake, this, index);
            continue;
        }
        m_pullingQp = index;
        Ptr<Packet> packet = SendNext(index);
        m_pullingQp = UINT32_MAX;
        if (!qp.inList && !qp.wakePending && CanSend(qp))
        {
            list.push_back(index);
            qp.inList = true;
        }
        return packet;
    }
    return nullptr;
}

Ptr<Packet>
RdmaNic::SendNext(uint32_t index)
{
    SenderQp& qp = m_senders[index];
    uint64_t psn;
    bool retransmission;
    if (!qp.retx.empty())
    {
        psn = qp.retx.PopFront();
        retransmission = true;
    }
    else
    {
        psn = qp.sndNxt++;
        retransmission = psn < qp.sndMax;
    }
    if (psn >= qp.sndMax)
    {
        qp.sndMax = psn + 1;
    }
    Ptr<Packet> packet = BuildData(qp, psn);
    RdmaCounters& c = m_transport->MutableCounters();
    ++c.dataPackets;
    if (retransmission)
    {
        ++c.retransmittedPackets;
        m_transport->ReportRetransmit(m_hostId, SenderQpn(index), psn);
    }
    if (m_ccHooks != 0)
    {
        if (m_ccHooks & RdmaCongestionControl::HOOK_RTT)
        {
            RecordSendTime(index, qp, psn, retransmission);
        }
        if (m_ccHooks & RdmaCongestionControl::HOOK_PACKET_SENT)
        {
            m_cc->OnPacketSent(index, WireBytes(packet->GetSize()));
        }
    }
    if (qp.rateBps != 0)
    {
        qp.nextSendPs = NowPs() + SerializationPs(WireBytes(packet->GetSize()), qp.rateBps);
    }
    if (qp.rtoDeadlinePs < 0)
    {
        ArmRto(index);
    }
    return packet;
}

void
RdmaNic::RecordSendTime(uint32_t index, const SenderQp& qp, uint64_t psn, bool retransmission)
{
    if (index >= m_sendTimes.size())
    {
        m_sendTimes.resize(index + 1);
    }
    std::vector<int64_t>& ps = m_sendTimes[index].ps;
    // Grow when [sndUna, psn] no longer fits; the entries in flight move to the new ring.
    if (psn - qp.sndUna >= ps.size())
    {
        size_t size = std::max<size_t>(16, 2 * ps.size());
        while (psn - qp.sndUna >= size)
        {
            size *= 2;
        }
        std::vector<int64_t> grown(size, -1);
        for (uint64_t p = qp.sndUna; p < psn && !ps.empty(); ++p)
        {
            grown[p & (grown.size() - 1)] = ps[p & (ps.size() - 1)];
        }
        ps.swap(grown);
    }
    ps[psn & (ps.size() - 1)] = retransmission ? -1 : NowPs();
}

Ptr<Packet>
RdmaNic::BuildData(SenderQp& qp, uint64_t psn)
{
    const size_t index = FindMessageIndex(qp.msgs, psn);
    NS_ASSERT_MSG(index < qp.msgs.size() && qp.msgs[index].startPsn <= psn,
                  "PSN without a message");
    const RdmaMessage& m = qp.msgs[index];
    const uint32_t mtu = m_transport->GetMtu();
    const uint64_t indexInMsg = psn - m.startPsn;
    const uint64_t packets = m.endPsn - m.startPsn;
    const uint32_t payload =
        m.bytes == 0 ? 0
                     : static_cast<uint32_t>(std::min<uint64_t>(mtu, m.bytes - indexInMsg * mtu));
    RoceFrameHeader h;
    if (packets == 1)
    {
        h.m_opcode = BTH_RC_SEND_ONLY;
    }
    else if (indexInMsg == 0)
    {
        h.m_opcode = BTH_RC_SEND_FIRST;
    }
    else if (indexInMsg + 1 == packets)
    {
        h.m_opcode = BTH_RC_SEND_LAST;
    }
    else
    {
        h.m_opcode = BTH_RC_SEND_MIDDLE;
    }
    h.m_destQp = qp.remoteQpn;
    h.m_psn = static_cast<uint32_t>(psn) & PSN_MASK;
    h.m_ackReq = indexInMsg + 1 == packets;
    FillOuterHeaders(h, qp.dst, qp.port, qp.udpSrcPort, qp.priority, ECN_ECT0);
    if (m_ccHooks & RdmaCongestionControl::HOOK_TELEMETRY)
    {
        // An empty INT stack for the switches to fill (int-telemetry.h).
        h.m_intBytes = INT_SHIM_BYTES;
        h.m_int[0] = static_cast<uint8_t>(INT_VERSION << 4);
        h.m_int[1] = 0;
        h.m_int[2] = INT_MAX_HOPS;
        h.m_int[3] = 0;
    }
    Ptr<Packet> packet = Create<Packet>(payload + ICRC_BYTES);
    packet->AddHeader(h);
    return packet;
}

void
RdmaNic::FillOuterHeaders(RoceFrameHeader& h,
                          uint32_t dst,
                          uint32_t port,
                          uint16_t udpSrcPort,
                          uint8_t priority,
                          uint8_t ecn) const
{
    h.SetMacs(GpuMacAddress(m_hostId, static_cast<uint8_t>(port)),
              GpuMacAddress(dst, static_cast<uint8_t>(port)));
    h.m_srcIp = m_hostIp;
    h.m_dstIp = GpuIpv4Address(dst).Get();
    h.m_tos = static_cast<uint8_t>((DscpForPriority(priority) << 2) | ecn);
    h.m_srcPort = udpSrcPort;
}

int64_t
RdmaNic::CurrentRtoPs(const SenderQp& qp) const
{
    // IRN (Mittal et al., SIGCOMM 2018): a short timeout when few packets are in flight, where
    // a tail loss cannot be detected by a NAK, and a long one otherwise.
    return qp.sndMax - qp.sndUna <= m_transport->GetRtoLowPackets() ? m_transport->GetRtoLowPs()
                                                                    : m_transport->GetRtoHighPs();
}

void
RdmaNic::ArmRto(uint32_t index)
{
    SenderQp& qp = m_senders[index];
    qp.rtoDeadlinePs = NowPs() + CurrentRtoPs(qp);
    // One live heap entry per QP with a running timer, due no later than its deadline: progress
    // moves qp.rtoDeadlinePs later and the entry is re-filed when it comes up (lazy). A deadline
    // earlier than the filed entry (the short timeout taking over from the long one) is filed
    // anew and the old entry goes stale (OnRtoTimer skips it).
    if (!qp.rtoPending || qp.rtoDeadlinePs < m_rtoFiledPs[index])
    {
        qp.rtoPending = true;
        m_rtoFiledPs[index] = qp.rtoDeadlinePs;
        m_rtoHeap.push_back(RtoEntry{qp.rtoDeadlinePs, index});
        std::push_heap(m_rtoHeap.begin(), m_rtoHeap.end(), std::greater<>());
        ScheduleRtoTimer();
    }
}

std::size_t
RdmaNic::GetRtoTimerEntries() const
{
    return m_rtoHeap.size();
}

void
RdmaNic::ScheduleRtoTimer()
{
    if (m_rtoHeap.empty())
    {
        return;
    }
    const int64_t due = m_rtoHeap.front().deadlinePs;
    if (m_rtoTimerPs >= 0 && m_rtoTimerPs <= due)
    {
        return; // the pending timer event comes first
    }
    // A timer event that is still pending for a later time fires harmlessly and re-arms.
    m_rtoTimerPs = due;
    Simulator::Schedule(PicoSeconds(due - NowPs()), &RdmaNic::OnRtoTimer, this);
}

void
RdmaNic::OnRtoTimer()
{
    const int64_t now = NowPs();
    if (m_rtoTimerPs == now)
    {
        m_rtoTimerPs = -1;
    }
    while (!m_rtoHeap.empty() && m_rtoHeap.front().deadlinePs <= now)
    {
        const RtoEntry entry = m_rtoHeap.front();
        const uint32_t index = entry.qp;
        std::pop_heap(m_rtoHeap.begin(), m_rtoHeap.end(), std::greater<>());
        m_rtoHeap.pop_back();
        SenderQp& qp = m_senders[index];
        if (!qp.rtoPending || entry.deadlinePs != m_rtoFiledPs[index])
        {
            continue; // stale: the QP was filed again since (at an earlier deadline, or anew
                      // after a timeout)
        }
        qp.rtoPending = false;
        if (qp.sndUna >= qp.sndMax || qp.rtoDeadlinePs < 0)
        {
            qp.rtoDeadlinePs = -1; // nothing outstanding any more
            continue;
        }
        if (qp.rtoDeadlinePs > now)
        {
            // Progress moved the deadline: file the QP again at its current deadline.
            qp.rtoPending = true;
            m_rtoFiledPs[index] = qp.rtoDeadlinePs;
            m_rtoHeap.push_back(RtoEntry{qp.rtoDeadlinePs, index});
            std::push_heap(m_rtoHeap.begin(), m_rtoHeap.end(), std::greater<>());
            continue;
        }
        // Timeout: resend everything outstanding (the receiver discards what it already has).
        ++m_transport->MutableCounters().timeouts;
        m_transport->ReportTimeout(m_hostId, SenderQpn(index), qp.sndUna);
        NS_LOG_INFO("host " << m_hostId << " qp " << SenderQpn(index) << ": timeout at psn "
                            << qp.sndUna);
        qp.sndNxt = qp.sndUna;
        qp.retx.clear();
        // The timer restarts when the retransmission is sent (SendNext), as a NIC's transport
        // timer does: a QP waiting for its turn behind many others (or for its pacing rate) must
        // not time out again before it has resent anything. Stopped before anything below can
        // send: congestion control's timeout reaction may start the retransmission at once.
        qp.rtoDeadlinePs = -1;
        if (m_ccHooks & RdmaCongestionControl::HOOK_TIMEOUT)
        {
            m_cc->OnTimeout(index);
        }
        Activate(index);
    }
    if (m_rtoTimerPs < now)
    {
        m_rtoTimerPs = -1;
    }
    ScheduleRtoTimer();
}

void
RdmaNic::DeliverFrame(const Ptr<Packet>& packet,
                      const FrameInfo& frame,
                      const RoceInfo& roce,
                      uint32_t port)
{
    if (!roce.valid)
    {
        m_host->GetPort(port)->RecordDrop(packet, DropReason::NOT_ROUTABLE);
        return;
    }
    switch (roce.opcode)
    {
    case BTH_RC_ACK:
        HandleAck(packet, roce);
        break;
    case BTH_RC_SEND_FIRST:
    case BTH_RC_SEND_MIDDLE:
    case BTH_RC_SEND_LAST:
    case BTH_RC_SEND_ONLY:
        if (roce.telemetry)
        {
            // Echo the records in the ACKs this packet triggers (as a copy, flagged as one).
            m_echoBytes = CopyIntBytes(packet, INT_DATA_OFFSET, m_echo);
            m_echo[0] |= INT_FLAG_ECHO;
        }
        HandleData(packet, roce, frame.ecn);
        m_echoBytes = 0;
        break;
    case BTH_CNP:
        HandleCnp(roce);
        break;
    default:
        // Not an opcode this transport speaks.
        m_host->GetPort(port)->RecordDrop(packet, DropReason::NOT_ROUTABLE);
        break;
    }
}

void
RdmaNic::HandleData(const Ptr<Packet>& packet, const RoceInfo& roce, uint8_t ecn)
{
    const uint32_t qpn = roce.destQp;
    if (qpn < 3 || (qpn & 1) == 0 || (qpn - 3) / 2 >= m_receivers.size())
    {
        NS_LOG_WARN("host " << m_hostId << ": data for unknown QP " << qpn);
        m_host->GetPort(0)->RecordDrop(packet, DropReason::NOT_ROUTABLE);
        return;
    }
    ReceiverQp& rq = m_receivers[(qpn - 3) / 2];
    SenderQp& sq = m_transport->GetNic(rq.src)->GetSenderQp(rq.srcQpIndex);
    RdmaCounters& c = m_transport->MutableCounters();
    if (ecn == ECN_CE)
    {
        ++c.cePackets;
        // Notification point: one CNP per interval per QP, whatever else the packet is.
        if (m_cnpIntervalPs >= 0 && (rq.lastCnpPs < 0 || NowPs() - rq.lastCnpPs >= m_cnpIntervalPs))
        {
            SendCnp(rq);
        }
    }
    const bool selective = m_transport->GetRecovery() == RdmaTransport::SELECTIVE_REPEAT;
    const uint64_t psn = UnfoldPsn(roce.psn, rq.rcvNxt);
    NS_ASSERT_MSG(psn < sq.postedPsn, "data PSN beyond what was posted");

    if (psn < rq.rcvNxt || (selective && rq.ooo.Test(psn, rq.rcvNxt)))
    {
        ++c.duplicatePackets;
        if (++rq.pktsSinceAck >= m_transport->GetAckInterval())
        {
            SendAck(rq, false);
        }
        return;
    }
    const uint64_t before = rq.rcvNxt;
    if (psn != rq.rcvNxt)
    {
        if (!selective)
        {
            // Go-back-N: drop it and ask once for the expected PSN.
            ++c.discardedPackets;
            if (rq.nakedPsn != rq.rcvNxt)
            {
                SendAck(rq, true);
            }
            return;
        }
        rq.ooo.Set(psn, rq.rcvNxt);
        rq.rcvHigh = std::max(rq.rcvHigh, psn + 1);
        ++c.outOfOrderPackets;
    }
    else
    {
        rq.rcvNxt = rq.ooo.Advance(psn + 1);
    }

    // First byte of its message. Usually the packet belongs to the message being received,
    // whose end PSN the receiver caches; otherwise look the message up.
    if (rq.deliverEndPsn != 0 && psn < rq.deliverEndPsn)
    {
        if (!rq.deliverFirstSeen)
        {
            RdmaMessage& m = sq.msgs[rq.deliverSeq - sq.msgBaseSeq];
            if (m.firstBytePs < 0)
            {
                m.firstBytePs = NowPs();
            }
            rq.deliverFirstSeen = true;
        }
    }
    else
    {
        const size_t msgIndex = FindMessageIndex(sq.msgs, psn);
        if (msgIndex < sq.msgs.size() && sq.msgs[msgIndex].firstBytePs < 0)
        {
            sq.msgs[msgIndex].firstBytePs = NowPs();
        }
    }

    const bool jumped = rq.rcvNxt > before + 1;
    const bool completed = DeliverCompleted(rq, sq);
    ++rq.pktsSinceAck;
    if (completed || jumped || rq.pktsSinceAck >= m_transport->GetAckInterval())
    {
        SendAck(rq, false);
    }
    // Selective repeat: a gap that ReorderThreshold later packets have overtaken is a loss.
    if (selective && rq.ooo.Count() >= m_transport->GetReorderThreshold() && psn >= rq.nakHigh)
    {
        NakLostPsns(rq);
    }
}

void
RdmaNic::NakLostPsns(ReceiverQp& rq)
{
    // Every missing PSN with at least ReorderThreshold received ones above it is lost: those
    // below the threshold-th highest PSN received. NAK each once, lowest first, so that the
    // sender resends all of a burst's losses in one round trip (as IRN's NACKs with their
    // selective acknowledgements let it), not one per round trip. (A later packet can only
    // raise that PSN when it lands at or above nakHigh: HandleData checks that first.)
    const uint64_t threshold = m_transport->GetReorderThreshold();
    uint64_t lost = std::max(rq.rcvHigh, rq.rcvNxt);
    for (uint64_t seen = 0; seen < threshold;)
    {
        --lost;
        seen += rq.ooo.Test(lost, rq.rcvNxt) ? 1 : 0;
    }
    for (uint64_t psn = std::max(rq.rcvNxt, rq.nakHigh); psn < lost; ++psn)
    {
        if (!rq.ooo.Test(psn, rq.rcvNxt))
        {
            SendAckFrame(rq, true, psn);
        }
    }
    rq.nakHigh = std::max(rq.nakHigh, lost);
}

bool
RdmaNic::DeliverCompleted(ReceiverQp& rq, SenderQp& sq)
{
    if (rq.deliverEndPsn != 0 && rq.rcvNxt < rq.deliverEndPsn)
    {
        return false; // the current message is still incomplete
    }
    bool any = false;
    while (true)
    {
        NS_ASSERT(rq.deliverSeq >= sq.msgBaseSeq);
        const uint64_t i = rq.deliverSeq - sq.msgBaseSeq;
        if (i >= sq.msgs.size() || sq.msgs[i].endPsn > rq.rcvNxt)
        {
            break;
        }
        RdmaMessage& m = sq.msgs[i];
        m.deliveredPs = NowPs();
        if (m.firstBytePs < 0)
        {
            m.firstBytePs = m.deliveredPs;
        }
        ++rq.deliverSeq;
        any = true;
        // The callback may post new messages (even on this QP, which may move its message
        // storage): build the record first and do not touch m afterwards.
        const MessageRecord record = MakeRecord(rq.src, sq, m);
        m_transport->ReportDelivered(record);
    }
    // Cache the next message's end (0 if the sender has not posted it yet).
    const uint64_t next = rq.deliverSeq - sq.msgBaseSeq;
    if (next < sq.msgs.size())
    {
        rq.deliverEndPsn = sq.msgs[next].endPsn;
        rq.deliverFirstSeen = sq.msgs[next].firstBytePs >= 0;
    }
    else
    {
        rq.deliverEndPsn = 0;
        rq.deliverFirstSeen = false;
    }
    return any;
}

void
RdmaNic::SendAck(ReceiverQp& rq, bool nak)
{
    // An ACK names the last PSN received in order; a go-back-N NAK names the PSN expected.
    SendAckFrame(rq, nak, nak ? rq.rcvNxt : rq.rcvNxt - 1);
}

void
RdmaNic::SendAckFrame(ReceiverQp& rq, bool nak, uint64_t psn)
{
    RoceFrameHeader h;
    h.m_opcode = BTH_RC_ACK;
    h.m_destQp = rq.remoteQpn;
    h.m_psn = static_cast<uint32_t>(psn) & PSN_MASK;
    h.m_hasAeth = true;
    h.m_syndrome = nak ? AETH_NAK_PSN_SEQUENCE : AETH_ACK;
    h.m_msn = static_cast<uint32_t>(rq.deliverSeq) & PSN_MASK;
    if (m_echoBytes > 0)
    {
        h.m_intBytes = static_cast<uint8_t>(m_echoBytes);
        std::copy(m_echo, m_echo + m_echoBytes, h.m_int);
    }
    const uint8_t priority = m_transport->GetControlPriority();
    FillOuterHeaders(h, rq.src, rq.port, rq.udpSrcPort, priority, ECN_NOT_ECT);
    Ptr<Packet> packet = Create<Packet>(ICRC_BYTES);
    packet->AddHeader(h);
    RdmaCounters& c = m_transport->MutableCounters();
    if (nak)
    {
        rq.nakedPsn = psn;
        ++c.naksSent;
    }
    else
    {
        ++c.acksSent;
    }
    if (!nak || m_transport->GetRecovery() == RdmaTransport::GO_BACK_N)
    {
        rq.pktsSinceAck = 0; // a selective NAK acknowledges nothing: the ACK count goes on
    }
    if (!m_host->SendFrame(packet, priority, rq.port))
    {
        ++c.controlFramesDropped;
    }
}

void
RdmaNic::SendCnp(ReceiverQp& rq)
{
    // RoCEv2 CNP: BTH opcode 0x81 to the sender's QP, BECN set, 16 reserved bytes, not
    // ECN-capable, at the priority of ACKs so that it overtakes the congested data.
    RoceFrameHeader h;
    h.m_opcode = BTH_CNP;
    h.m_destQp = rq.remoteQpn;
    h.m_becn = true;
    const uint8_t priority = m_transport->GetControlPriority();
    FillOuterHeaders(h, rq.src, rq.port, rq.udpSrcPort, priority, ECN_NOT_ECT);
    Ptr<Packet> packet = Create<Packet>(16 + ICRC_BYTES);
    packet->AddHeader(h);
    rq.lastCnpPs = NowPs();
    RdmaCounters& c = m_transport->MutableCounters();
    ++c.cnpsSent;
    m_transport->ReportCnpSent(m_hostId, rq.remoteQpn);
    if (!m_host->SendFrame(packet, priority, rq.port))
    {
        ++c.controlFramesDropped;
    }
}

void
RdmaNic::HandleCnp(const RoceInfo& roce)
{
    const uint32_t qpn = roce.destQp;
    if (qpn < 2 || (qpn & 1) != 0 || (qpn - 2) / 2 >= m_senders.size())
    {
        NS_LOG_WARN("host " << m_hostId << ": CNP for unknown QP " << qpn);
        return;
    }
    ++m_transport->MutableCounters().cnpsReceived;
    m_transport->ReportCnpReceived(m_hostId, qpn);
    if (m_ccHooks & RdmaCongestionControl::HOOK_CNP)
    {
        m_cc->OnCnp((qpn - 2) / 2);
    }
}

void
RdmaNic::HandleAck(const Ptr<Packet>& packet, const RoceInfo& roce)
{
    const uint32_t qpn = roce.destQp;
    if (qpn < 2 || (qpn & 1) != 0 || (qpn - 2) / 2 >= m_senders.size())
    {
        NS_LOG_WARN("host " << m_hostId << ": ACK for unknown QP " << qpn);
        return;
    }
    const uint32_t index = (qpn - 2) / 2;
    SenderQp& qp = m_senders[index];
    const bool nak = (roce.syndrome & 0xE0) == 0x60;
    const uint64_t una =
        nak ? UnfoldPsn(roce.psn, qp.sndUna) : UnfoldPsn((roce.psn + 1) & PSN_MASK, qp.sndUna);
    if (una > qp.sndMax)
    {
        NS_LOG_WARN("host " << m_hostId << ": ACK beyond what was sent, ignored");
        return;
    }
    const uint64_t oldUna = qp.sndUna;
    // A go-back-N NAK names the PSN expected, so it also acknowledges what lies below; a
    // selective-repeat NAK names one lost PSN, possibly above others still missing, and
    // acknowledges nothing (the ACKs carry the cumulative acknowledgement).
    const bool selective = m_transport->GetRecovery() == RdmaTransport::SELECTIVE_REPEAT;
    if (una > qp.sndUna && !(nak && selective))
    {
        qp.sndUna = una;
        if (qp.sndNxt < una)
        {
            qp.sndNxt = una;
        }
        qp.retx.EraseBelow(una);
        if (qp.sndUna < qp.sndMax)
        {
            // Through ArmRto: after a timeout the QP has no timer entry until it resends, and
            // progress before that must start one (a deadline without an entry never fires).
            ArmRto(index);
        }
        else
        {
            qp.rtoDeadlinePs = -1;
        }
        CompleteAcked(qp);
    }
    // A NAK older than what is already acknowledged (reordered behind a newer ACK) is stale.
    if (nak && una >= qp.sndUna && una < qp.sndMax)
    {
        if (!selective)
        {
            qp.sndNxt = std::min(qp.sndNxt, una);
            qp.retx.clear();
        }
        else
        {
            qp.retx.insert(una);
        }
        if (qp.rtoDeadlinePs < 0)
        {
            ArmRto(index);
        }
    }
    if (m_ccHooks & RdmaCongestionControl::HOOK_ACK)
    {
        RdmaAckEvent ev;
        ev.qp = index;
        ev.nak = nak;
        ev.ackedPackets = qp.sndUna > oldUna ? qp.sndUna - oldUna : 0;
        ev.ackedBytes = ev.ackedPackets * m_transport->GetMtu();
        ev.inFlightPackets = qp.sndNxt > qp.sndUna ? qp.sndNxt - qp.sndUna : 0;
        ev.ackedPsn = qp.sndUna;
        ev.nextPsn = qp.sndNxt;
        IntStack stack;
        if ((m_ccHooks & RdmaCongestionControl::HOOK_TELEMETRY) && roce.telemetry &&
            ReadIntStack(packet, INT_DATA_OFFSET + AETH_BYTES, stack))
        {
            ev.telemetry = &stack;
        }
        if ((m_ccHooks & RdmaCongestionControl::HOOK_RTT) && ev.ackedPackets > 0 &&
            index < m_sendTimes.size())
        {
            // The newest PSN this ACK covers is the packet that triggered it (in order, the
            // receiver acknowledges on arrival): its RTT has no wait for ACK coalescing in it.
            const std::vector<int64_t>& ps = m_sendTimes[index].ps;
            const uint64_t newest = qp.sndUna - 1;
            const int64_t sent = ps.empty() ? -1 : ps[newest & (ps.size() - 1)];
            if (sent >= 0)
            {
                ev.rttPs = NowPs() - sent;
            }
        }
        m_cc->OnAck(ev);
    }
    Activate(index);
}

void
RdmaNic::CompleteAcked(SenderQp& qp)
{
    while (qp.frontEndPsn <= qp.sndUna)
    {
        const RdmaMessage m = qp.msgs.front();
        NS_ASSERT_MSG(m.deliveredPs >= 0, "message acknowledged before it was delivered");
        qp.msgs.pop_front();
        qp.frontEndPsn = qp.msgs.empty() ? UINT64_MAX : qp.msgs.front().endPsn;
        ++qp.msgBaseSeq;
        --m_pendingMessages;
        MessageRecord record = MakeRecord(m_hostId, qp, m);
        record.acked = Simulator::Now();
        m_transport->ReportAcked(record);
    }
}

MessageRecord
RdmaNic::MakeRecord(uint32_t src, const SenderQp& qp, const RdmaMessage& m) const
{
    MessageRecord r;
    r.id = m.id;
    r.src = src;
    r.dst = qp.dst;
    r.cls = qp.cls;
    r.bytes = m.bytes;
    r.tag = m.tag;
    r.start = PicoSeconds(m.startPs);
    r.firstByte = PicoSeconds(m.firstBytePs);
    r.delivered = PicoSeconds(m.deliveredPs);
    r.acked = PicoSeconds(-1);
    return r;
}

// =============================================================================================
// RdmaTransport

TypeId
RdmaTransport::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::RdmaTransport")
            .SetParent<MessageTransport>()
            .SetGroupName("MoeFabric")
            .AddConstructor<RdmaTransport>()
            .AddAttribute("Mtu",
                          "Payload bytes per packet (the RoCE path MTU).",
                          UintegerValue(4096),
                          MakeUintegerAccessor(&RdmaTransport::m_mtu),
                          MakeUintegerChecker<uint32_t>(256, 8956))
            .AddAttribute("AckInterval",
                          "The receiver acknowledges every this many data packets, and at "
                          "every message end and every gap filled.",
                          UintegerValue(1),
                          MakeUintegerAccessor(&RdmaTransport::m_ackInterval),
                          MakeUintegerChecker<uint32_t>(1, 65535))
            .AddAttribute("Recovery",
                          "Loss recovery: selective repeat (out-of-order tolerant receiver) or "
                          "go-back-N (the classic RoCE receiver).",
                          EnumValue(RdmaTransport::SELECTIVE_REPEAT),
                          MoeEnumAccessor<Recovery>(&RdmaTransport::m_recovery),
                          MakeEnumChecker(RdmaTransport::SELECTIVE_REPEAT,
                                          "selective-repeat",
                                          RdmaTransport::GO_BACK_N,
                                          "go-back-n"))
            .AddAttribute("ReorderThreshold",
                          "Selective repeat: a missing PSN is NAKed once this many later "
                          "packets have arrived. Spraying reorders packets by the queue "
                          "differences between paths; 64 avoids spurious retransmissions there, "
                          "while per-flow ECMP never reorders and can use 3.",
                          UintegerValue(64),
                          MakeUintegerAccessor(&RdmaTransport::m_reorderThreshold),
                          MakeUintegerChecker<uint32_t>(1, 1 << 20))
            .AddAttribute("RetransmitTimeout",
                          "Retransmission timeout with more than RtoLowPackets in flight "
                          "(IRN's RTO_high).",
                          TimeValue(MicroSeconds(320)),
                          MakeTimeAccessor(&RdmaTransport::m_rtoHigh),
                          MakeTimeChecker(NanoSeconds(1)))
            .AddAttribute("RetransmitTimeoutLow",
                          "Retransmission timeout with at most RtoLowPackets in flight "
                          "(IRN's RTO_low).",
                          TimeValue(MicroSeconds(100)),
                          MakeTimeAccessor(&RdmaTransport::m_rtoLow),
                          MakeTimeChecker(NanoSeconds(1)))
            .AddAttribute("RtoLowPackets",
                          "In-flight packets up to which RetransmitTimeoutLow applies.",
                          UintegerValue(3),
                          MakeUintegerAccessor(&RdmaTransport::m_rtoLowPackets),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("BdpFlowControl",
                          "Cap every queue pair's packets in flight at its bandwidth-delay "
                          "product (line rate x base round trip, in whole packets), as IRN's "
                          "BDP-FC does. For congestion controls that set no window (none, "
                          "DCQCN); HPCC and Swift manage their own.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&RdmaTransport::m_bdpFlowControl),
                          MakeBooleanChecker())
            .AddAttribute("ControlPriority",
                          "Fabric priority of ACK and NAK frames.",
                          UintegerValue(6),
                          MakeUintegerAccessor(&RdmaTransport::m_controlPriority),
                          MakeUintegerChecker<uint8_t>(0, 7))
            .AddAttribute("CongestionControl",
                          "Congestion-control algorithm, one instance per NIC (a subclass of "
                          "ns3::moe::RdmaCongestionControl; SetCongestionControlAttribute sets "
                          "its attributes).",
                          TypeIdValue(RdmaNoCongestionControl::GetTypeId()),
                          MakeTypeIdAccessor(&RdmaTransport::SetCongestionControlTypeId,
                                             &RdmaTransport::GetCongestionControlTypeId),
                          MakeTypeIdChecker())
            .AddTraceSource("QpRate",
                            "Congestion control changed a queue pair's pacing rate: (host, "
                            "qpn, rate in bit/s with 0 = line rate, RateEvent).",
                            MakeTraceSourceAccessor(&RdmaTransport::m_rateTrace),
                            "ns3::moe::RdmaTransport::QpRateTracedCallback")
            .AddTraceSource("CnpSent",
                            "A receiver sent a CNP: (receiving host, qpn of the sender QP "
                            "it goes to).",
                            MakeTraceSourceAccessor(&RdmaTransport::m_cnpSentTrace),
                            "ns3::moe::RdmaTransport::QpTracedCallback")
            .AddTraceSource("CnpReceived",
                            "A sender received a CNP: (sending host, qpn).",
                            MakeTraceSourceAccessor(&RdmaTransport::m_cnpReceivedTrace),
                            "ns3::moe::RdmaTransport::QpTracedCallback")
            .AddTraceSource("Retransmit",
                            "A data packet was sent again: (host, qpn, psn).",
                            MakeTraceSourceAccessor(&RdmaTransport::m_retransmitTrace),
                            "ns3::moe::RdmaTransport::QpPsnTracedCallback")
            .AddTraceSource("Timeout",
                            "A queue pair's retransmission timer expired: (host, qpn, psn).",
                            MakeTraceSourceAccessor(&RdmaTransport::m_timeoutTrace),
                            "ns3::moe::RdmaTransport::QpPsnTracedCallback");
    return tid;
}

RdmaTransport::RdmaTransport()
    : m_mtu(4096),
      m_ackInterval(1),
      m_recovery(SELECTIVE_REPEAT),
      m_reorderThreshold(64),
      m_rtoHigh(MicroSeconds(320)),
      m_rtoLow(MicroSeconds(100)),
      m_rtoLowPackets(3),
      m_controlPriority(6)
{
    m_ccFactory.SetTypeId(RdmaNoCongestionControl::GetTypeId());
}

void
RdmaTransport::DoDispose()
{
    for (auto& nic : m_nics)
    {
        nic->Dispose();
    }
    m_nics.clear();
    m_topology = nullptr;
    MessageTransport::DoDispose();
}

void
RdmaTransport::Install(Ptr<FabricTopology> topology)
{
    NS_ABORT_MSG_IF(!m_nics.empty(), "RdmaTransport::Install called twice");
    m_topology = topology;
    const uint32_t n = topology->GetNumGpus();
    const bool telemetry =
        (CreateCongestionControl()->GetHooks() & RdmaCongestionControl::HOOK_TELEMETRY) != 0;
    const uint32_t intBytes = telemetry ? INT_MAX_BYTES : 0;
    for (uint32_t g = 0; g < n; ++g)
    {
        Ptr<FabricHost> host = topology->GetHost(g);
        for (uint32_t p = 0; p < host->GetNPorts(); ++p)
        {
            const uint32_t ipMtu = host->GetPort(p)->GetMtu();
            NS_ABORT_MSG_IF(m_mtu + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + ICRC_BYTES +
                                    intBytes >
                                ipMtu,
                            "RdmaTransport: Mtu " << m_mtu << " (with " << intBytes
                                                  << " telemetry bytes) does not fit the device "
                                                     "MTU "
                                                  << ipMtu);
        }
    }
    if (telemetry)
    {
        // The switches stamp telemetry only when the transport's algorithm reads it: other
        // algorithms leave every port's per-frame path as it was.
        const TopologySpec& spec = topology->GetSpec();
        for (uint32_t i = 0; i < spec.nodes.size(); ++i)
        {
            if (spec.nodes[i].role == TopologySpec::HOST)
            {
                continue;
            }
            for (uint32_t p = 0; p < topology->GetNPorts(i); ++p)
            {
                Ptr<FabricNetDevice> dev = topology->GetPort(i, p);
                NS_ABORT_MSG_IF(IntRateCode(dev->GetBitRate()) == 0,
                                "RdmaTransport: telemetry cannot encode the "
                                    << dev->GetDataRate() << " of " << spec.nodes[i].name
                                    << " port " << p << " (int-telemetry.h lists the rates)");
                dev->SetIntTelemetry(true);
            }
        }
    }
    m_nics.reserve(n);
    for (uint32_t g = 0; g < n; ++g)
    {
        Ptr<RdmaNic> nic = CreateObject<RdmaNic>();
        m_nics.push_back(nic);
    }
    for (uint32_t g = 0; g < n; ++g)
    {
        m_nics[g]->Setup(this, topology->GetHost(g));
        topology->GetGpuNode(g)->AggregateObject(m_nics[g]);
    }
}

void
RdmaTransport::DoSend(const MessageRecord& record)
{
    NS_ABORT_MSG_IF(m_nics.empty(), "RdmaTransport: Send before Install");
    m_nics[record.src]->PostSend(record);
}

uint32_t
RdmaTransport::GetNumHosts() const
{
    return static_cast<uint32_t>(m_nics.size());
}

Ptr<RdmaNic>
RdmaTransport::GetNic(uint32_t host) const
{
    return m_nics.at(host);
}

Ptr<FabricTopology>
RdmaTransport::GetTopology() const
{
    return m_topology;
}

const RdmaCounters&
RdmaTransport::GetCounters() const
{
    return m_counters;
}

RdmaCounters&
RdmaTransport::MutableCounters()
{
    return m_counters;
}

uint32_t
RdmaTransport::GetMtu() const
{
    return m_mtu;
}

uint32_t
RdmaTransport::GetAckInterval() const
{
    return m_ackInterval;
}

RdmaTransport::Recovery
RdmaTransport::GetRecovery() const
{
    return m_recovery;
}

uint32_t
RdmaTransport::GetReorderThreshold() const
{
    return m_reorderThreshold;
}

int64_t
RdmaTransport::GetRtoHighPs() const
{
    return m_rtoHigh.GetPicoSeconds();
}

int64_t
RdmaTransport::GetRtoLowPs() const
{
    return m_rtoLow.GetPicoSeconds();
}

uint32_t
RdmaTransport::GetRtoLowPackets() const
{
    return m_rtoLowPackets;
}

bool
RdmaTransport::GetBdpFlowControl() const
{
    return m_bdpFlowControl;
}

uint8_t
RdmaTransport::GetControlPriority() const
{
    return m_controlPriority;
}

uint64_t
RdmaTransport::GetSeed() const
{
    return m_seed;
}

void
RdmaTransport::SetSeed(uint64_t seed)
{
    m_seed = seed;
}

uint64_t
RdmaTransport::GetPendingMessages() const
{
    uint64_t n = 0;
    for (const auto& nic : m_nics)
    {
        n += nic->GetPendingMessages();
    }
    return n;
}

void
RdmaTransport::ReportDelivered(const MessageRecord& record)
{
    NotifyDelivered(record);
}

void
RdmaTransport::ReportAcked(const MessageRecord& record)
{
    NotifyAcked(record);
}

void
RdmaTransport::ReportRetransmit(uint32_t host, uint32_t qpn, uint64_t psn)
{
    m_retransmitTrace(host, qpn, psn);
}

void
RdmaTransport::ReportTimeout(uint32_t host, uint32_t qpn, uint64_t psn)
{
    m_timeoutTrace(host, qpn, psn);
}

void
RdmaTransport::ReportRate(uint32_t host, uint32_t qpn, uint64_t rateBps, RateEvent event)
{
    if (event == RateEvent::DECREASE)
    {
        ++m_counters.rateDecreases;
    }
    m_rateTrace(host, qpn, rateBps, static_cast<uint8_t>(event));
}

void
RdmaTransport::ReportCnpSent(uint32_t host, uint32_t qpn)
{
    m_cnpSentTrace(host, qpn);
}

void
RdmaTransport::ReportCnpReceived(uint32_t host, uint32_t qpn)
{
    m_cnpReceivedTrace(host, qpn);
}

void
RdmaTransport::SetCongestionControlTypeId(TypeId tid)
{
    NS_ABORT_MSG_IF(!m_nics.empty(), "RdmaTransport: congestion control set after Install");
    NS_ABORT_MSG_UNLESS(tid.IsChildOf(RdmaCongestionControl::GetTypeId()),
                        "RdmaTransport: " << tid.GetName()
                                          << " is not an ns3::moe::RdmaCongestionControl");
    m_ccFactory = ObjectFactory();
    m_ccFactory.SetTypeId(tid);
}

TypeId
RdmaTransport::GetCongestionControlTypeId() const
{
    return m_ccFactory.GetTypeId();
}

void
RdmaTransport::SetCongestionControl(const std::string& typeName)
{
    SetCongestionControlTypeId(TypeId::LookupByName(typeName));
}

void
RdmaTransport::SetCongestionControlAttribute(const std::string& name, const AttributeValue& value)
{
    NS_ABORT_MSG_IF(!m_nics.empty(), "RdmaTransport: congestion control set after Install");
    m_ccFactory.Set(name, value);
}

Ptr<RdmaCongestionControl>
RdmaTransport::CreateCongestionControl() const
{
    return m_ccFactory.Create<RdmaCongestionControl>();
}

} // namespace moe
} // namespace ns3
