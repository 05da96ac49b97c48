/*
 * moe-fabric: Swift (Kumar et al., SIGCOMM 2020) for the RDMA transport.
 */
#ifndef MOE_SWIFT_CONGESTION_CONTROL_H
#define MOE_SWIFT_CONGESTION_CONTROL_H

#include "rdma-congestion-control.h"

#include "ns3/nstime.h"

#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Swift's sender, per queue pair: a congestion window in packets driven by the RTT the
 * NIC measures for every acknowledged packet (HOOK_RTT), against a target delay (the paper's
 * Algorithm 1 and its section on target scaling).
 *
 * The delay is the whole RTT sample: Swift compares the fabric delay, RTT minus the remote
 * NIC's and host's delay, with its target, and the simulated receiver acknowledges a packet
 * the moment it arrives, so that remote delay is zero here (ACK coalescing is excluded by the
 * NIC's sampling: the RTT is that of the packet that triggered the ACK).
 *
 * Per ACK with an RTT sample, target = BaseTarget + hops x PerHopScaling +
 * clamp(alpha / sqrt(cwnd) + beta, 0, FsRange) (flow scaling; hops = the switches on the
 * path, as an IP TTL counts them; FsRange 0 switches flow scaling off):
 * - delay < target: additive increase, cwnd += Ai / cwnd per packet acknowledged (Ai per RTT),
 *   or cwnd += Ai per packet below one packet;
 * - otherwise, at most once per RTT (the latest sample) since the last decrease:
 *   cwnd *= max(1 - Beta (delay - target) / delay, 1 - MaxMdf).
 * A NAK (fast recovery) cuts cwnd by 1 - MaxMdf at most once per RTT; a retransmission timeout
 * does the same, or sets cwnd to MinCwnd from the RetxResetThreshold-th timeout in a row.
 * cwnd stays within [MinCwnd, MaxCwnd]. At cwnd >= 1 the QP may have cwnd packets in flight and
 * is not paced; below one packet it has one packet in flight and is paced at cwnd packets per
 * RTT (the paper's pacing delay RTT / cwnd). A QP starts with the window that fills its link
 * at its path's base RTT (InitCwnd 0) and may grow to the one that fills it at the target
 * (MaxCwnd 0).
 */
class SwiftCongestionControl : public RdmaCongestionControl
{
  public:
    static TypeId GetTypeId();
    SwiftCongestionControl();

    uint32_t GetHooks() const override;
    void OnQpCreated(uint32_t qp, uint64_t lineRateBps) override;
    void OnAck(const RdmaAckEvent& ack) override;
    void OnTimeout(uint32_t qp) override;

    /// @brief Sender state of a QP (for tests and inspection).
    struct QpState
    {
        double cwnd{1};              ///< packets
        double maxCwnd{1};           ///< packets
        double lineRate{0};          ///< bit/s
        double wireBits{0};          ///< bits of a full data frame on the wire
        int64_t rttPs{0};            ///< latest RTT sample (the path's base RTT before one)
        int64_t fixedTargetPs{0};    ///< BaseTarget + hops x PerHopScaling
        int64_t lastDecreasePs{-1};  ///< time of the last decrease, -1 none
        int64_t lastReportPs{-1};    ///< time of the last increase reported, -1 none
        int64_t lastTargetPs{0};     ///< target of the latest ACK with a sample
        uint32_t retransmitCount{0}; ///< timeouts in a row
        uint64_t decreases{0};       ///< multiplicative decreases (delay, NAK, timeout)
    };

    /// @brief State of QP @p qp.
    const QpState& GetQpState(uint32_t qp) const;
    /// @brief The target delay of QP @p qp at its current window, ps.
    int64_t GetTargetPs(uint32_t qp) const;

  private:
    int64_t TargetPs(const QpState& s) const;
    bool CanDecrease(const QpState& s, int64_t now) const;
    /// Clamp, note a decrease, and hand window and pacing rate to the NIC.
    void Apply(uint32_t qp, QpState& s, double previous, int64_t now);

    std::vector<QpState> m_qps;
    Time m_baseTarget;
    Time m_perHop;
    Time m_fsRange;
    double m_fsMinCwnd;
    double m_fsMaxCwnd;
    double m_ai;
    double m_beta;
    double m_maxMdf;
    double m_minCwnd;
    double m_maxCwnd;
    double m_initCwnd;
    uint32_t m_retxResetThreshold;
    uint32_t m_mtu{4096};
    // flow scaling: alpha / sqrt(cwnd) + beta, ps (derived from FsRange, FsMinCwnd, FsMaxCwnd)
    double m_fsAlpha{0};
    double m_fsBeta{0};
};

} // namespace moe
} // namespace ns3

#endif // MOE_SWIFT_CONGESTION_CONTROL_H
