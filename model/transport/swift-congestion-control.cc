#include "swift-congestion-control.h"

#include "rdma-transport.h"

#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("SwiftCongestionControl");

NS_OBJECT_ENSURE_REGISTERED(SwiftCongestionControl);

TypeId
SwiftCongestionControl::GetTypeId()
{
    // Defaults: the Swift paper (Kumar et al., SIGCOMM 2020) where it states a number (the
    // minimum window of 0.001 packets), otherwise values common to public Swift simulators;
    // doc/moe-fabric.rst, "Swift", says which numbers could not be checked against the paper.
    static TypeId tid =
        TypeId("ns3::moe::SwiftCongestionControl")
            .SetParent<RdmaCongestionControl>()
            .SetGroupName("MoeFabric")
            .AddConstructor<SwiftCongestionControl>()
            .AddAttribute("BaseTarget",
                          "Base target delay: the RTT a one-hop path with a few flows may reach "
                          "at full utilization (propagation and serialization included).",
                          TimeValue(MicroSeconds(25)),
                          MakeTimeAccessor(&SwiftCongestionControl::m_baseTarget),
                          MakeTimeChecker(NanoSeconds(1), Seconds(1)))
            .AddAttribute("PerHopScaling",
                          "Target added per switch on the path (topology-based scaling h); "
                          "0: off.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&SwiftCongestionControl::m_perHop),
                          MakeTimeChecker(Time(0), Seconds(1)))
            .AddAttribute("FsRange",
                          "Flow-based scaling: the target added at FsMinCwnd, falling as "
                          "1/sqrt(cwnd) to 0 at FsMaxCwnd; 0: off.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&SwiftCongestionControl::m_fsRange),
                          MakeTimeChecker(Time(0), Seconds(1)))
            .AddAttribute("FsMinCwnd",
                          "Flow-based scaling: window (packets) at which it adds FsRange.",
                          DoubleValue(0.1),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_fsMinCwnd),
                          MakeDoubleChecker<double>(1e-6, 1e6))
            .AddAttribute("FsMaxCwnd",
                          "Flow-based scaling: window (packets) from which it adds nothing.",
                          DoubleValue(100),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_fsMaxCwnd),
                          MakeDoubleChecker<double>(1e-6, 1e6))
            .AddAttribute("Ai",
                          "Additive increase, packets per RTT.",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_ai),
                          MakeDoubleChecker<double>(1e-6, 1e6))
            .AddAttribute("Beta",
                          "Multiplicative decrease constant: cwnd *= 1 - Beta (delay - target) "
                          "/ delay.",
                          DoubleValue(0.8),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_beta),
                          MakeDoubleChecker<double>(1e-6, 1))
            .AddAttribute("MaxMdf",
                          "Largest multiplicative decrease per RTT (cwnd keeps at least "
                          "1 - MaxMdf of itself).",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_maxMdf),
                          MakeDoubleChecker<double>(1e-6, 0.999999))
            .AddAttribute("MinCwnd",
                          "Smallest window, packets (below 1 the QP is paced).",
                          DoubleValue(0.001),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_minCwnd),
                          MakeDoubleChecker<double>(1e-6, 1e6))
            .AddAttribute("MaxCwnd",
                          "Largest window, packets; 0: line rate x (BaseTarget + hop scaling) "
                          "per QP, what fills its link at the target delay.",
                          DoubleValue(0),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_maxCwnd),
                          MakeDoubleChecker<double>(0, 1e9))
            .AddAttribute("InitCwnd",
                          "Window of a new QP, packets; 0: line rate x its path's base RTT "
                          "(line rate without a queue).",
                          DoubleValue(0),
                          MakeDoubleAccessor(&SwiftCongestionControl::m_initCwnd),
                          MakeDoubleChecker<double>(0, 1e9))
            .AddAttribute("RetxResetThreshold",
                          "Retransmission timeouts in a row from which the window drops to "
                          "MinCwnd (fewer cut it by 1 - MaxMdf).",
                          UintegerValue(5),
                          MakeUintegerAccessor(&SwiftCongestionControl::m_retxResetThreshold),
                          MakeUintegerChecker<uint32_t>(1, 1000));
    return tid;
}

SwiftCongestionControl::SwiftCongestionControl()
    : m_baseTarget(MicroSeconds(25)),
      m_perHop(Time(0)),
      m_fsRange(Time(0)),
      m_fsMinCwnd(0.1),
      m_fsMaxCwnd(100),
      m_ai(1.0),
      m_beta(0.8),
      m_maxMdf(0.5),
      m_minCwnd(0.001),
      m_maxCwnd(0),
      m_initCwnd(0),
      m_retxResetThreshold(5)
{
}

uint32_t
SwiftCongestionControl::GetHooks() const
{
    return HOOK_ACK | HOOK_RTT | HOOK_TIMEOUT;
}

void
SwiftCongestionControl::OnQpCreated(uint32_t qp, uint64_t lineRateBps)
{
    if (qp >= m_qps.size())
    {
        m_qps.resize(qp + 1);
    }
    const double fsRangePs = static_cast<double>(m_fsRange.GetPicoSeconds());
    if (fsRangePs > 0)
    {
        // The paper's flow scaling: alpha / sqrt(cwnd) + beta is FsRange at FsMinCwnd and 0 at
        // FsMaxCwnd.
        m_fsAlpha = fsRangePs / (1 / std::sqrt(m_fsMinCwnd) - 1 / std::sqrt(m_fsMaxCwnd));
        m_fsBeta = -m_fsAlpha / std::sqrt(m_fsMaxCwnd);
    }
    QpState& s = m_qps[qp];
    RdmaNic* nic = GetNic();
    const uint32_t links = nic->GetQpHopCount(qp);
    const uint32_t switches = links > 0 ? links - 1 : 0;
    s.fixedTargetPs = m_baseTarget.GetPicoSeconds() + switches * m_perHop.GetPicoSeconds();
    s.lineRate = static_cast<double>(lineRateBps);
    m_mtu = nic->GetMtu();
    s.wireBits = 8.0 * WireBytes(m_mtu + ROCE_DATA_HEADER_BYTES);
    s.rttPs = nic->GetQpBaseRttPs(qp);
    s.maxCwnd = m_maxCwnd > 0 ? m_maxCwnd
                              : std::max(1.0, s.lineRate * s.fixedTargetPs * 1e-12 / s.wireBits);
    const double baseBdp = s.lineRate * static_cast<double>(s.rttPs) * 1e-12 / s.wireBits;
    s.cwnd = std::clamp(m_initCwnd > 0 ? m_initCwnd : baseBdp, m_minCwnd, s.maxCwnd);
    SetWindow(qp, static_cast<uint64_t>(std::ceil(std::max(1.0, s.cwnd) * m_mtu)));
}

const SwiftCongestionControl::QpState&
SwiftCongestionControl::GetQpState(uint32_t qp) const
{
    return m_qps.at(qp);
}

int64_t
SwiftCongestionControl::GetTargetPs(uint32_t qp) const
{
    return TargetPs(m_qps.at(qp));
}

int64_t
SwiftCongestionControl::TargetPs(const QpState& s) const
{
    if (m_fsAlpha <= 0)
    {
        return s.fixedTargetPs;
    }
    const double fs = std::clamp(m_fsAlpha / std::sqrt(s.cwnd) + m_fsBeta,
                                 0.0,
                                 static_cast<double>(m_fsRange.GetPicoSeconds()));
    return s.fixedTargetPs + static_cast<int64_t>(fs);
}

bool
SwiftCongestionControl::CanDecrease(const QpState& s, int64_t now) const
{
    return s.lastDecreasePs < 0 || now - s.lastDecreasePs >= s.rttPs;
}

void
SwiftCongestionControl::OnAck(const RdmaAckEvent& ack)
{
    if (ack.qp >= m_qps.size())
    {
        return;
    }
    QpState& s = m_qps[ack.qp];
    const int64_t now = Simulator::Now().GetPicoSeconds();
    const double previous = s.cwnd;
    if (ack.nak)
    {
        // Fast recovery: a loss the receiver saw.
        s.retransmitCount = 0;
        if (CanDecrease(s, now))
        {
            s.cwnd *= 1 - m_maxMdf;
        }
        Apply(ack.qp, s, previous, now);
        return;
    }
    if (ack.rttPs < 0)
    {
        return; // nothing new acknowledged, or a retransmitted packet's ACK (Karn)
    }
    s.retransmitCount = 0;
    s.rttPs = ack.rttPs;
    const int64_t target = TargetPs(s);
    s.lastTargetPs = target;
    const double acked = static_cast<double>(ack.ackedPackets);
    if (ack.rttPs < target)
    {
        s.cwnd += s.cwnd >= 1 ? m_ai / s.cwnd * acked : m_ai * acked;
    }
    else if (CanDecrease(s, now))
    {
        const double delay = static_cast<double>(ack.rttPs);
        s.cwnd *=
            std::max(1 - m_beta * (delay - static_cast<double>(target)) / delay, 1 - m_maxMdf);
    }
    Apply(ack.qp, s, previous, now);
}

void
SwiftCongestionControl::OnTimeout(uint32_t qp)
{
    if (qp >= m_qps.size())
    {
        return;
    }
    QpState& s = m_qps[qp];
    const int64_t now = Simulator::Now().GetPicoSeconds();
    const double previous = s.cwnd;
    ++s.retransmitCount;
    if (s.retransmitCount >= m_retxResetThreshold)
    {
        s.cwnd = m_minCwnd;
    }
    else if (CanDecrease(s, now))
    {
        s.cwnd *= 1 - m_maxMdf;
    }
    Apply(qp, s, previous, now);
}

void
SwiftCongestionControl::Apply(uint32_t qp, QpState& s, double previous, int64_t now)
{
    s.cwnd = std::clamp(s.cwnd, m_minCwnd, s.maxCwnd);
    const bool decrease = s.cwnd < previous;
    if (decrease)
    {
        s.lastDecreasePs = now;
        ++s.decreases;
    }
    else if (s.cwnd == previous)
    {
        return;
    }
    // At least one packet may be in flight; below one packet the pacing rate spaces them by
    // RTT / cwnd.
    const uint64_t window = static_cast<uint64_t>(std::ceil(std::max(1.0, s.cwnd) * m_mtu));
    uint64_t rate = 0;
    if (s.cwnd < 1)
    {
        const double bps = s.cwnd * s.wireBits / (static_cast<double>(s.rttPs) * 1e-12);
        rate = std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(bps)));
    }
    // Decreases are reported each time; increases (every ACK) at most once per RTT, so that
    // qp_rates.csv stays readable, while the NIC always gets the current window and rate.
    if (decrease || s.lastReportPs < 0 || now - s.lastReportPs >= s.rttPs)
    {
        s.lastReportPs = now;
        SetRateAndWindow(qp,
                         rate,
                         window,
                         decrease ? RateEvent::DECREASE : RateEvent::ADDITIVE_INCREASE);
        return;
    }
    GetNic()->SetQpWindow(qp, window);
    if (rate != 0 || previous < 1)
    {
        GetNic()->SetQpRate(qp, rate);
    }
}

} // namespace moe
} // namespace ns3
