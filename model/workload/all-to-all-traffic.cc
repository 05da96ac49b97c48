#include "all-to-all-traffic.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("AllToAllTraffic");

NS_OBJECT_ENSURE_REGISTERED(AllToAllTraffic);

TypeId
AllToAllTraffic::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::AllToAllTraffic")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddConstructor<AllToAllTraffic>()
            .AddAttribute("Rounds",
                          "Number of all-to-all rounds.",
                          UintegerValue(1),
                          MakeUintegerAccessor(&AllToAllTraffic::m_rounds),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("BytesPerPair",
                          "Bytes every participant sends to every other one per round (0: "
                          "no messages, every round ends at once).",
                          UintegerValue(1 << 20),
                          MakeUintegerAccessor(&AllToAllTraffic::m_bytesPerPair),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("ComputeGap",
                          "Idle time between the end of a round and the start of the next.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&AllToAllTraffic::m_computeGap),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("TrafficClass",
                          "Transport traffic class of the messages.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&AllToAllTraffic::m_class),
                          MakeUintegerChecker<uint8_t>(0, NUM_TRAFFIC_CLASSES - 1))
            .AddTraceSource("RoundStart",
                            "A round started: (round, time).",
                            MakeTraceSourceAccessor(&AllToAllTraffic::m_roundStartTrace),
                            "ns3::moe::AllToAllTraffic::RoundTracedCallback")
            .AddTraceSource("RoundEnd",
                            "A round's last message was delivered: (round, time).",
                            MakeTraceSourceAccessor(&AllToAllTraffic::m_roundEndTrace),
                            "ns3::moe::AllToAllTraffic::RoundTracedCallback");
    return tid;
}

AllToAllTraffic::AllToAllTraffic()
    : m_rounds(1),
      m_bytesPerPair(1 << 20),
      m_computeGap(0),
      m_class(0)
{
}

void
AllToAllTraffic::DoDispose()
{
    m_transport = nullptr;
    m_doneCb = Callback<void>();
    Object::DoDispose();
}

void
AllToAllTraffic::SetParticipants(const std::vector<uint32_t>& gpus)
{
    m_participants = gpus;
}

const std::vector<uint32_t>&
AllToAllTraffic::GetParticipants() const
{
    return m_participants;
}

void
AllToAllTraffic::SetMatrix(const std::vector<std::vector<uint64_t>>& matrix)
{
    m_matrix = matrix;
}

void
AllToAllTraffic::SetPeerOffsets(const std::vector<uint32_t>& offsets)
{
    m_peerOffsets = offsets;
    std::sort(m_peerOffsets.begin(), m_peerOffsets.end());
    m_peerOffsets.erase(std::unique(m_peerOffsets.begin(), m_peerOffsets.end()),
                        m_peerOffsets.end());
}

uint64_t
AllToAllTraffic::GetPairBytes(uint32_t s, uint32_t d) const
{
    if (!m_peerOffsets.empty())
    {
        const auto n = static_cast<uint32_t>(m_participants.size());
        const uint32_t offset = n == 0 ? 0 : (d + n - s) % n; // s, d < n
        return std::binary_search(m_peerOffsets.begin(), m_peerOffsets.end(), offset)
                   ? m_bytesPerPair
                   : 0;
    }
    if (m_matrix.empty())
    {
        return m_bytesPerPair;
    }
    return m_matrix.at(s).at(d);
}

void
AllToAllTraffic::SetRecordMessages(bool record)
{
    m_recordMessages = record;
}

const std::vector<MessageRecord>&
AllToAllTraffic::GetMessageRecords() const
{
    return m_records;
}

const std::vector<int64_t>&
AllToAllTraffic::GetDeliveryTimesPs() const
{
    return m_deliveryPs;
}

const std::vector<int64_t>&
AllToAllTraffic::GetAckTimesPs() const
{
    return m_ackPs;
}

const std::vector<AllToAllTraffic::Round>&
AllToAllTraffic::GetRounds() const
{
    return m_roundLog;
}

uint32_t
AllToAllTraffic::GetNumRounds() const
{
    return m_rounds;
}

bool
AllToAllTraffic::IsDone() const
{
    return m_done;
}

void
AllToAllTraffic::SetDoneCallback(Callback<void> cb)
{
    m_doneCb = cb;
}

void
AllToAllTraffic::Start(Ptr<MessageTransport> transport, Time at)
{
    m_transport = transport;
    if (m_participants.empty())
    {
        for (uint32_t g = 0; g < transport->GetNumHosts(); ++g)
        {
            m_participants.push_back(g);
        }
    }
    for (uint32_t g : m_participants)
    {
        NS_ABORT_MSG_IF(g >= transport->GetNumHosts(),
                        "AllToAllTraffic: participant " << g << " is not a host");
    }
    const size_t n = m_participants.size();
    NS_ABORT_MSG_IF(!m_matrix.empty() &&
                        (m_matrix.size() != n || std::any_of(m_matrix.begin(),
                                                             m_matrix.end(),
                                                             [n](const std::vector<uint64_t>& row) {
                                                                 return row.size() != n;
                                                             })),
                    "AllToAllTraffic: the matrix must be " << n << " x " << n);
    NS_ABORT_MSG_IF(!m_peerOffsets.empty() && !m_matrix.empty(),
                    "AllToAllTraffic: a matrix and peer offsets exclude each other");
    NS_ABORT_MSG_IF(!m_peerOffsets.empty() &&
                        (m_peerOffsets.front() == 0 || m_peerOffsets.back() >= n),
                    "AllToAllTraffic: peer offsets must be in 1.." << n - 1);
    m_transport->SetDeliveredCallback(MakeCallback(&AllToAllTraffic::OnDelivered, this));
    m_transport->SetAckedCallback(MakeCallback(&AllToAllTraffic::OnAcked, this));
    Simulator::Schedule(at - Simulator::Now(), &AllToAllTraffic::StartRound, this);
}

void
AllToAllTraffic::StartRound()
{
    const uint32_t round = static_cast<uint32_t>(m_roundLog.size());
    Round r;
    r.start = Simulator::Now();
    r.end = PicoSeconds(-1);
    m_roundLog.push_back(r);
    m_roundStartTrace(round, r.start);
    NS_LOG_INFO("round " << round << " starts at " << r.start.As(Time::US));
    uint64_t messages = 0;
    uint64_t bytes = 0;
    // Count first so that a message delivered synchronously cannot end the round early. A pair
    // with nothing to send posts no message (a matrix's zeros are the pairs without traffic,
    // not zero-byte messages).
    ForEachMessage([&messages, &bytes](uint32_t, uint32_t, uint64_t b) {
        ++messages;
        bytes += b;
    });
    m_roundLog.back().messages = messages;
    m_roundLog.back().bytes = bytes;
    m_outstandingDeliveries += messages;
    m_outstandingAcks += messages;
    // Every message of the round adds a sample (and a record): room for them now, instead of
    // copying what is there at every doubling (a k = 16 all-to-all has a million messages).
    // Still at least doubling, so that many small rounds do not copy at every round.
    const auto makeRoom = [messages](auto& v) {
        if (v.capacity() < v.size() + messages)
        {
            v.reserve(std::max<size_t>(v.size() + messages, 2 * v.capacity()));
        }
    };
    makeRoom(m_deliveryPs);
    makeRoom(m_ackPs);
    if (m_recordMessages)
    {
        makeRoom(m_records);
    }
    if (messages == 0)
    {
        EndRound(); // nothing to send: the round ends as it starts
        return;
    }
    // Post in a rotated order (rank s sends to s+1, s+2, ...) so that no destination is every
    // source's first choice -- the usual all-to-all schedule.
    ForEachMessage([this, round](uint32_t s, uint32_t d, uint64_t b) {
        m_transport->Send(m_participants[s], m_participants[d], m_class, b, round);
    });
}

void
AllToAllTraffic::OnDelivered(const MessageRecord& record)
{
    NS_ASSERT(m_outstandingDeliveries > 0);
    --m_outstandingDeliveries;
    if (m_outstandingDeliveries == 0)
    {
        NS_ASSERT(record.tag == m_roundLog.size() - 1);
        EndRound();
    }
}

void
AllToAllTraffic::EndRound()
{
    const uint32_t round = static_cast<uint32_t>(m_roundLog.size() - 1);
    m_roundLog.back().end = Simulator::Now();
    m_roundEndTrace(round, Simulator::Now());
    NS_LOG_INFO("round " << round << " ends at " << Simulator::Now().As(Time::US));
    if (m_roundLog.size() < m_rounds)
    {
        Simulator::Schedule(m_computeGap, &AllToAllTraffic::StartRound, this);
    }
    else
    {
        CheckDone();
    }
}

void
AllToAllTraffic::OnAcked(const MessageRecord& record)
{
    NS_ASSERT(m_outstandingAcks > 0);
    --m_outstandingAcks;
    m_deliveryPs.push_back((record.delivered - record.start).GetPicoSeconds());
    m_ackPs.push_back((record.acked - record.start).GetPicoSeconds());
    if (m_recordMessages)
    {
        m_records.push_back(record);
    }
    CheckDone();
}

void
AllToAllTraffic::CheckDone()
{
    if (!m_done && m_outstandingAcks == 0 && m_outstandingDeliveries == 0 &&
        m_roundLog.size() == m_rounds && m_roundLog.back().end >= Time(0))
    {
        m_done = true;
        if (!m_doneCb.IsNull())
        {
            m_doneCb();
        }
    }
}

} // namespace moe
} // namespace ns3
