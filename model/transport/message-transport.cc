#include "message-transport.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/simulator.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("MessageTransport");

NS_OBJECT_ENSURE_REGISTERED(MessageTransport);

TypeId
MessageTransport::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::MessageTransport")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddTraceSource("MessageStart",
                            "Send() was called for a message.",
                            MakeTraceSourceAccessor(&MessageTransport::m_startTrace),
                            "ns3::moe::MessageTransport::MessageTracedCallback")
            .AddTraceSource("MessageDelivered",
                            "A whole message reached its receiver.",
                            MakeTraceSourceAccessor(&MessageTransport::m_deliveredTrace),
                            "ns3::moe::MessageTransport::MessageTracedCallback")
            .AddTraceSource("MessageAcked",
                            "A message's sender learned that it was received.",
                            MakeTraceSourceAccessor(&MessageTransport::m_ackedTrace),
                            "ns3::moe::MessageTransport::MessageTracedCallback");
    return tid;
}

MessageTransport::MessageTransport()
{
    for (uint8_t c = 0; c < NUM_TRAFFIC_CLASSES; ++c)
    {
        m_classPriority[c] = c;
    }
}

uint64_t
MessageTransport::Send(uint32_t src, uint32_t dst, uint8_t cls, uint64_t bytes, uint64_t tag)
{
    NS_ABORT_MSG_IF(src >= GetNumHosts() || dst >= GetNumHosts(),
                    "MessageTransport::Send: host " << (src >= GetNumHosts() ? src : dst)
                                                    << " out of range [0, " << GetNumHosts()
                                                    << ")");
    NS_ABORT_MSG_IF(cls >= NUM_TRAFFIC_CLASSES,
                    "MessageTransport::Send: class " << static_cast<uint32_t>(cls)
                                                     << " out of range [0, 8)");
    MessageRecord record;
    record.id = m_nextId++;
    record.src = src;
    record.dst = dst;
    record.cls = cls;
    record.bytes = bytes;
    record.tag = tag;
    record.start = Simulator::Now();
    record.firstByte = PicoSeconds(-1);
    record.delivered = PicoSeconds(-1);
    record.acked = PicoSeconds(-1);
    ++m_started;
    m_bytesStarted += bytes;
    m_startTrace(record);
    if (src == dst)
    {
        // A local copy: nothing crosses the fabric. Complete in a fresh event so callers see
        // the same re-entrancy as for remote messages.
        Simulator::ScheduleNow(&MessageTransport::CompleteLocal, this, record);
    }
    else
    {
        DoSend(record);
    }
    return record.id;
}

void
MessageTransport::CompleteLocal(MessageRecord record)
{
    record.firstByte = Simulator::Now();
    record.delivered = Simulator::Now();
    NotifyDelivered(record);
    record.acked = Simulator::Now();
    NotifyAcked(record);
}

void
MessageTransport::SetDeliveredCallback(MessageCallback cb)
{
    m_deliveredCb = cb;
}

void
MessageTransport::SetAckedCallback(MessageCallback cb)
{
    m_ackedCb = cb;
}

void
MessageTransport::SetClassPriority(uint8_t cls, uint8_t priority)
{
    NS_ABORT_MSG_IF(cls >= NUM_TRAFFIC_CLASSES || priority >= 8,
                    "MessageTransport::SetClassPriority: class and priority must be < 8");
    m_classPriority[cls] = priority;
}

uint8_t
MessageTransport::GetClassPriority(uint8_t cls) const
{
    return m_classPriority.at(cls);
}

void
MessageTransport::NotifyDelivered(const MessageRecord& record)
{
    ++m_delivered;
    m_bytesDelivered += record.bytes;
    m_deliveredTrace(record);
    if (!m_deliveredCb.IsNull())
    {
        m_deliveredCb(record);
    }
}

void
MessageTransport::NotifyAcked(const MessageRecord& record)
{
    ++m_acked;
    m_ackedTrace(record);
    if (!m_ackedCb.IsNull())
    {
        m_ackedCb(record);
    }
}

uint64_t
MessageTransport::GetMessagesStarted() const
{
    return m_started;
}

uint64_t
MessageTransport::GetMessagesDelivered() const
{
    return m_delivered;
}

uint64_t
MessageTransport::GetMessagesAcked() const
{
    return m_acked;
}

uint64_t
MessageTransport::GetBytesStarted() const
{
    return m_bytesStarted;
}

uint64_t
MessageTransport::GetBytesDelivered() const
{
    return m_bytesDelivered;
}

} // namespace moe
} // namespace ns3
