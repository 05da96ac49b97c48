/*
 * moe-fabric: the congestion-control plug-in interface of the RDMA transport.
 */
#ifndef MOE_RDMA_CONGESTION_CONTROL_H
#define MOE_RDMA_CONGESTION_CONTROL_H

#include "ns3/int-telemetry.h"
#include "ns3/object.h"

#include <cstdint>
#include <vector>

namespace ns3
{
namespace moe
{

class RdmaNic;

/// @brief What one ACK (or NAK) tells congestion control about a sender queue pair.
struct RdmaAckEvent
{
    uint32_t qp{0};           ///< sender QP index on the NIC
    uint64_t ackedPackets{0}; ///< packets newly acknowledged (0 for a duplicate ACK or a NAK)
    uint64_t ackedBytes{0};   ///< ackedPackets x MTU (an upper bound: a message's last packet
                              ///< may be shorter)
    /// RTT of the newest packet this ACK acknowledges (the one that triggered it), from its
    /// send time to now; -1 if none: HOOK_RTT only, and none for a NAK, a duplicate ACK or a
    /// retransmitted packet (Karn)
    int64_t rttPs{-1};
    uint64_t inFlightPackets{0}; ///< packets sent and not yet acknowledged, after this ACK
    uint64_t ackedPsn{0};        ///< the QP's first unacknowledged PSN after this ACK
    uint64_t nextPsn{0};         ///< the QP's next new PSN to send
    /// Telemetry echoed by the receiver (HOOK_TELEMETRY only; nullptr if the ACK had none):
    /// the records the switches appended to the data packet this ACK answers.
    const IntStack* telemetry{nullptr};
    bool nak{false};
};

/// @brief Why a queue pair's rate changed (a column of qp_rates.csv).
enum class RateEvent : uint8_t
{
    DECREASE = 0,          ///< multiplicative decrease (DCQCN: a CNP)
    FAST_RECOVERY = 1,     ///< DCQCN: Rc <- (Rt + Rc) / 2
    ADDITIVE_INCREASE = 2, ///< DCQCN: Rt += R_AI, then fast-recovery step
    HYPER_INCREASE = 3,    ///< DCQCN: Rt += i R_HAI, then fast-recovery step
    LINE_RATE = 4,         ///< released: back to line rate, no pacing
    MULTIPLICATIVE = 5,    ///< HPCC: W <- Wc / (U / eta) + W_AI (up or down)
};

/// @brief "decrease", "fast-recovery", "additive-increase", "hyper-increase", "line-rate",
/// "multiplicative".
const char* RateEventName(RateEvent e);

/**
 * @brief A congestion-control algorithm of one RDMA NIC, driving the pacing rate and window of
 * that NIC's sender queue pairs (RdmaNic::SetQpRate / SetQpWindow).
 *
 * One instance per NIC manages all its sender QPs by index, so per-QP state is a plain vector
 * entry, not an object: an all-to-all has thousands of QPs per NIC. The NIC calls only the hooks
 * GetHooks() asks for (no virtual call per packet for the line-rate "none"). Per-QP timers go
 * through one heap per instance served by a single pending simulator event (SetQpTimer), so a QP
 * without a timer costs nothing; algorithms arm timers only for rate-limited QPs.
 *
 * The receiver's notification point (a CNP for CE-marked data, at most one per
 * GetCnpIntervalPs() per QP, at the transport's control priority) is the NIC's job, switched on
 * by GetCnpIntervalPs() >= 0 of the receiving NIC's instance.
 *
 * HPCC asks for HOOK_TELEMETRY: the NIC then sends its data with an INT shim that switches fill
 * in (int-telemetry.h), receivers echo the records in their ACKs and OnAck sees them; a
 * delay-based scheme (Swift) uses the ACK hook with RTT samples (HOOK_RTT) and the timeout hook
 * (HOOK_TIMEOUT).
 */
class RdmaCongestionControl : public Object
{
  public:
    static TypeId GetTypeId();
    RdmaCongestionControl();
    ~RdmaCongestionControl() override;

    /// Hooks an algorithm may ask for (bit mask, see GetHooks()).
    enum Hook : uint32_t
    {
        HOOK_ACK = 1,         ///< OnAck for every ACK and NAK
        HOOK_PACKET_SENT = 2, ///< OnPacketSent for every data packet
        HOOK_CNP = 4,         ///< OnCnp for every CNP received
        HOOK_RTT = 8,         ///< the NIC timestamps every data packet for OnAck's RTT sample
        HOOK_TELEMETRY = 16,  ///< data carries INT, ACKs echo it (RdmaAckEvent::telemetry)
        HOOK_TIMEOUT = 32,    ///< OnTimeout when a QP's retransmission timer expires
    };

    /// @brief Bind to @p nic (called once by the NIC when it is set up).
    void Attach(RdmaNic* nic, uint32_t host);
    /// @brief The Hook bits this algorithm needs.
    virtual uint32_t GetHooks() const = 0;
    /// @brief Notification point: minimum time between two CNPs of one receiver QP, in ps;
    /// negative: the receiver sends no CNPs.
    virtual int64_t GetCnpIntervalPs() const;

    /// @brief Sender QP @p qp was created; it sends at @p lineRateBps (its port's rate).
    virtual void OnQpCreated(uint32_t qp, uint64_t lineRateBps);
    /// @brief QP @p qp sent a data packet of @p wireBytes (HOOK_PACKET_SENT). Rate and window
    /// changes of @p qp made here take effect from its next packet; do not change other QPs.
    virtual void OnPacketSent(uint32_t qp, uint32_t wireBytes);
    /// @brief An ACK or NAK arrived (HOOK_ACK).
    virtual void OnAck(const RdmaAckEvent& ack);
    /// @brief A CNP for QP @p qp arrived (HOOK_CNP).
    virtual void OnCnp(uint32_t qp);
    /// @brief QP @p qp's retransmission timer expired; it resends from its oldest
    /// unacknowledged PSN (HOOK_TIMEOUT).
    virtual void OnTimeout(uint32_t qp);

  protected:
    void DoDispose() override;

    /// @brief Timer of QP @p qp set by SetQpTimer expired (now).
    virtual void OnTimer(uint32_t qp);
    /// @brief Call OnTimer(@p qp) at @p deadlinePs (absolute, > now); -1 cancels. One timer per
    /// QP: a new deadline replaces the previous one.
    void SetQpTimer(uint32_t qp, int64_t deadlinePs);
    /// @brief Pace QP @p qp at @p rateBps (0 = line rate, unpaced), reported as @p event.
    void SetRate(uint32_t qp, uint64_t rateBps, RateEvent event);
    /// @brief Cap QP @p qp's bytes in flight (0 = unlimited).
    void SetWindow(uint32_t qp, uint64_t windowBytes);
    /// @brief SetWindow, then SetRate (one report, with the window).
    void SetRateAndWindow(uint32_t qp, uint64_t rateBps, uint64_t windowBytes, RateEvent event);
    RdmaNic* GetNic() const;
    uint32_t GetHost() const;

  private:
    void ScheduleTimerEvent();
    void OnTimerEvent();

    struct TimerEntry
    {
        int64_t deadlinePs;
        uint32_t qp;

        bool operator>(const TimerEntry& o) const
        {
            return deadlinePs != o.deadlinePs ? deadlinePs > o.deadlinePs : qp > o.qp;
        }
    };

    RdmaNic* m_nic{nullptr};
    uint32_t m_host{0};
    std::vector<TimerEntry> m_heap;  ///< min-heap; entries may be stale (lazy)
    std::vector<int64_t> m_deadline; ///< per QP: current deadline, -1 none
    std::vector<int64_t> m_filed;    ///< per QP: deadline of its live heap entry, -1 none
    int64_t m_eventPs{-1};           ///< time of the pending simulator event, -1 none
};

/**
 * @brief No congestion control: every queue pair sends at line rate (the transport's default).
 */
class RdmaNoCongestionControl : public RdmaCongestionControl
{
  public:
    static TypeId GetTypeId();
    uint32_t GetHooks() const override;
};

} // namespace moe
} // namespace ns3

#endif // MOE_RDMA_CONGESTION_CONTROL_H
