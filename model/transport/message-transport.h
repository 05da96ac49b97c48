/*
 * moe-fabric: the one message interface everything above the transport uses.
 */
#ifndef MOE_MESSAGE_TRANSPORT_H
#define MOE_MESSAGE_TRANSPORT_H

#include "ns3/callback.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <array>
#include <cstdint>

namespace ns3
{
namespace moe
{

/// Number of traffic classes a transport distinguishes (each maps to a fabric priority).
constexpr uint8_t NUM_TRAFFIC_CLASSES = 8;

/**
 * @brief One message's identity and timeline, as reported by a MessageTransport.
 *
 * Times are simulation times; a time not reached yet is -1 ps.
 */
struct MessageRecord
{
    uint64_t id{0};
    uint32_t src{0};
    uint32_t dst{0};
    uint8_t cls{0};
    uint64_t bytes{0};
    uint64_t tag{0}; ///< opaque to the transport, returned to the caller
    Time start;      ///< Send() was called
    Time firstByte;  ///< the first byte reached the receiver
    Time delivered;  ///< the whole message reached the receiver
    Time acked;      ///< the sender learned that the receiver has it
};

/**
 * @brief Send(src, dst, class, bytes, tag) and be told when the message arrived and when it was
 * acknowledged.
 *
 * Semantics every implementation keeps: messages between the same (src, dst, class) complete in
 * order; zero-byte messages are allowed and still travel (one header-only packet for RDMA);
 * src == dst is a local copy that completes at once. Implementations: RdmaTransport (packets on
 * the fabric), IdealTransport (analytic reference).
 */
class MessageTransport : public Object
{
  public:
    static TypeId GetTypeId();
    MessageTransport();

    /// Callback type for delivery / acknowledgement notifications.
    typedef Callback<void, const MessageRecord&> MessageCallback;
    /// TracedCallback signature for message events.
    typedef void (*MessageTracedCallback)(const MessageRecord& record);

    /**
     * @brief Send @p bytes from host @p src to host @p dst in traffic class @p cls.
     * @return the message id (unique within this transport, increasing from 1).
     */
    uint64_t Send(uint32_t src, uint32_t dst, uint8_t cls, uint64_t bytes, uint64_t tag);

    /// @brief Called when a whole message has reached its receiver.
    void SetDeliveredCallback(MessageCallback cb);
    /// @brief Called when the sender learns a message was received.
    void SetAckedCallback(MessageCallback cb);

    /// @brief Fabric priority used by traffic class @p cls (default: priority = class).
    void SetClassPriority(uint8_t cls, uint8_t priority);
    uint8_t GetClassPriority(uint8_t cls) const;

    /// @brief Number of hosts (GPUs) this transport serves.
    virtual uint32_t GetNumHosts() const = 0;

    /// @brief Messages started / delivered / acknowledged so far.
    uint64_t GetMessagesStarted() const;
    uint64_t GetMessagesDelivered() const;
    uint64_t GetMessagesAcked() const;
    /// @brief Payload bytes started / delivered so far.
    uint64_t GetBytesStarted() const;
    uint64_t GetBytesDelivered() const;

  protected:
    /// @brief Move the message described by @p record (src != dst) towards its receiver.
    virtual void DoSend(const MessageRecord& record) = 0;
    /// @brief Report that @p record has fully arrived (fills counters, traces, callback).
    void NotifyDelivered(const MessageRecord& record);
    /// @brief Report that @p record was acknowledged to its sender.
    void NotifyAcked(const MessageRecord& record);

  private:
    void CompleteLocal(MessageRecord record);

    uint64_t m_nextId{1};
    std::array<uint8_t, NUM_TRAFFIC_CLASSES> m_classPriority;
    MessageCallback m_deliveredCb;
    MessageCallback m_ackedCb;
    uint64_t m_started{0};
    uint64_t m_delivered{0};
    uint64_t m_acked{0};
    uint64_t m_bytesStarted{0};
    uint64_t m_bytesDelivered{0};
    TracedCallback<const MessageRecord&> m_startTrace;
    TracedCallback<const MessageRecord&> m_deliveredTrace;
    TracedCallback<const MessageRecord&> m_ackedTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_MESSAGE_TRANSPORT_H
