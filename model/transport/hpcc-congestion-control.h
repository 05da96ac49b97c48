/*
 * moe-fabric: HPCC (Li et al., SIGCOMM 2019) for the RDMA transport.
 */
#ifndef MOE_HPCC_CONGESTION_CONTROL_H
#define MOE_HPCC_CONGESTION_CONTROL_H

#include "rdma-congestion-control.h"

#include "ns3/data-rate.h"
#include "ns3/nstime.h"

#include <array>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief HPCC's sender, per queue pair, driven by the in-band telemetry the switches append to
 * its data packets and the receiver echoes in every ACK (HOOK_TELEMETRY).
 *
 * Per ACK with telemetry (the paper's Algorithm 1):
 * - MeasureInflight: for every hop i, txRate = (txBytes - txBytes') / (ts - ts') against the
 *   records of the previous ACK, u_i = min(qlen, qlen') / (B_i T) + txRate / B_i; the largest
 *   u_i and its tau = ts - ts' (at most T) update U <- (1 - tau/T) U + (tau/T) u_i;
 * - ComputeWind: if U >= eta or incStage >= MaxStage, W = Wc / (U / eta) + W_AI, else
 *   W = Wc + W_AI; the reference window Wc (and incStage: reset, or + 1) is updated only on
 *   the first ACK beyond the PSN that was next to send at the previous update, i.e. once per
 *   RTT; the ACKs between react at once from the same Wc ("fast reaction");
 * - window W (bytes in flight) and pacing rate W / T, W bounded to [MinRate T, line rate T];
 *   at line rate the QP is unpaced.
 * T is BaseRtt, or per QP its path's base RTT from the topology (RdmaNic::GetQpBaseRttPs). A
 * QP starts at line rate with Wc = line rate x T and U = 1 (no information yet); the first ACK
 * with telemetry only records the hops; a path whose hop count changes starts over likewise.
 */
class HpccCongestionControl : public RdmaCongestionControl
{
  public:
    static TypeId GetTypeId();
    HpccCongestionControl();

    uint32_t GetHooks() const override;
    void OnQpCreated(uint32_t qp, uint64_t lineRateBps) override;
    void OnAck(const RdmaAckEvent& ack) override;

    /// @brief Sender state of a QP (for tests and inspection).
    struct QpState
    {
        double u{1};        ///< EWMA utilization of the most loaded hop
        double wc{0};       ///< reference window, bytes
        double w{0};        ///< current window, bytes
        double rttPs{0};    ///< T of this QP
        double lineRate{0}; ///< bit/s
        uint64_t lastUpdatePsn{0};
        uint32_t incStage{0};
        uint8_t hops{0}; ///< records in @c last (0: none yet)
        std::array<IntHop, INT_MAX_HOPS> last{};
    };

    /// @brief State of QP @p qp.
    const QpState& GetQpState(uint32_t qp) const;

  private:
    double MeasureInflight(QpState& s, const IntStack& stack) const;
    double ComputeWind(QpState& s, double u, bool updateWc) const;

    std::vector<QpState> m_qps;
    double m_eta;
    uint32_t m_maxStage;
    uint64_t m_windowAi;
    Time m_baseRtt;
    DataRate m_minRate;
    bool m_fastReact;
};

} // namespace moe
} // namespace ns3

#endif // MOE_HPCC_CONGESTION_CONTROL_H
