/*
 * moe-fabric: DCQCN (Zhu et al., SIGCOMM 2015) for the RDMA transport.
 */
#ifndef MOE_DCQCN_CONGESTION_CONTROL_H
#define MOE_DCQCN_CONGESTION_CONTROL_H

#include "rdma-congestion-control.h"

#include "ns3/data-rate.h"
#include "ns3/nstime.h"

#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief DCQCN's reaction point, per sender queue pair, and the parameters of its notification
 * point (the receiving NIC sends the CNPs).
 *
 * A QP runs at line rate, unpaced and without timers, until its first CNP. Then:
 * - on a CNP, at most once per RateDecreaseInterval (a CNP inside the interval is served at its
 *   end): Rt <- Rc, Rc <- max(MinRate, Rc (1 - alpha/2)); the increase counters restart;
 * - alpha: every AlphaInterval, alpha <- (1 - g) alpha + g if a CNP arrived in that interval,
 *   else (1 - g) alpha (evaluated lazily at the next CNP: exact, and no timer per QP);
 * - increase events, from the rate-increase timer (every RateIncreaseInterval, counter T) and the
 *   byte counter (every ByteCounter bytes sent, counter BC): while max(T, BC) <= F fast recovery
 *   Rc <- (Rt + Rc)/2; once min(T, BC) > F hyper increase Rt += (min(T, BC) - F) R_HAI; otherwise
 *   additive increase Rt += R_AI; each followed by Rc <- (Rt + Rc)/2, Rt capped at line rate;
 * - when Rt is at line rate and Rc within R_AI of it, the QP is released: line rate, no timer.
 */
class DcqcnCongestionControl : public RdmaCongestionControl
{
  public:
    static TypeId GetTypeId();
    DcqcnCongestionControl();

    uint32_t GetHooks() const override;
    int64_t GetCnpIntervalPs() const override;
    void OnQpCreated(uint32_t qp, uint64_t lineRateBps) override;
    void OnPacketSent(uint32_t qp, uint32_t wireBytes) override;
    void OnCnp(uint32_t qp) override;

    /// @brief Reaction-point state of a QP (for tests and inspection).
    struct QpState
    {
        double rc{0};             ///< current rate, bit/s
        double rt{0};             ///< target rate, bit/s
        double alpha{1};          ///< alpha as of alphaEpochPs
        uint64_t lineRate{0};     ///< bit/s
        int64_t alphaEpochPs{-1}; ///< start of the current alpha interval; -1: never had a CNP
        int64_t lastDecreasePs{-1};
        int64_t increaseDeadlinePs{-1};
        uint64_t bytes{0};      ///< byte counter
        uint32_t timerStage{0}; ///< T
        uint32_t byteStage{0};  ///< BC
        bool cnpInInterval{false};
        bool decreasePending{false};
        bool limited{false}; ///< paced below line rate
    };

    /// @brief State of QP @p qp; alpha is brought up to now first.
    const QpState& GetQpState(uint32_t qp);

  protected:
    void OnTimer(uint32_t qp) override;

  private:
    void AdvanceAlpha(QpState& s, int64_t now) const;
    void Decrease(uint32_t qp, int64_t now);
    void Increase(uint32_t qp);
    void ArmTimer(uint32_t qp);

    std::vector<QpState> m_qps;
    double m_g;
    double m_initialAlpha;
    Time m_alphaInterval;
    Time m_rateDecreaseInterval;
    Time m_rateIncreaseInterval;
    uint64_t m_byteCounter;
    uint32_t m_fastRecoverySteps;
    DataRate m_rateAi;
    DataRate m_rateHai;
    DataRate m_minRate;
    Time m_cnpInterval;
};

} // namespace moe
} // namespace ns3

#endif // MOE_DCQCN_CONGESTION_CONTROL_H
