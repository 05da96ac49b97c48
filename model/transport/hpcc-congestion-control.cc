#include "hpcc-congestion-control.h"

#include "rdma-transport.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("HpccCongestionControl");

NS_OBJECT_ENSURE_REGISTERED(HpccCongestionControl);

TypeId
HpccCongestionControl::GetTypeId()
{
    // Defaults: the HPCC paper (Li et al., SIGCOMM 2019) and its public ns-3 simulator
    // (alibaba-edu/High-Precision-Congestion-Control: rdma-hw.cc attributes and run.py); see
    // doc/moe-fabric.rst, "HPCC", for each source.
    static TypeId tid =
        TypeId("ns3::moe::HpccCongestionControl")
            .SetParent<RdmaCongestionControl>()
            .SetGroupName("MoeFabric")
            .AddConstructor<HpccCongestionControl>()
            .AddAttribute("Eta",
                          "Target utilization eta of the most loaded link.",
                          DoubleValue(0.95),
                          MakeDoubleAccessor(&HpccCongestionControl::m_eta),
                          MakeDoubleChecker<double>(0.01, 1))
            .AddAttribute("MaxStage",
                          "Additive-increase rounds (once per RTT) before a multiplicative "
                          "step towards eta (the paper's maxStage).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&HpccCongestionControl::m_maxStage),
                          MakeUintegerChecker<uint32_t>(0, 1000))
            .AddAttribute("WindowAi",
                          "Additive increase W_AI of the window, bytes; 0: line rate x T / "
                          "2500 per QP (the simulator's RATE_AI of 10 Mb/s per 25 Gb/s, "
                          "times T).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&HpccCongestionControl::m_windowAi),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("BaseRtt",
                          "Base RTT T; 0: per QP, its path's base RTT from the topology.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&HpccCongestionControl::m_baseRtt),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("MinRate",
                          "Lowest rate (and window MinRate x T) a QP is slowed to.",
                          DataRateValue(DataRate("1Gbps")),
                          MakeDataRateAccessor(&HpccCongestionControl::m_minRate),
                          MakeDataRateChecker())
            .AddAttribute("FastReact",
                          "React to every ACK from the reference window (true), or only once "
                          "per RTT (false).",
                          BooleanValue(true),
                          MakeBooleanAccessor(&HpccCongestionControl::m_fastReact),
                          MakeBooleanChecker());
    return tid;
}

HpccCongestionControl::HpccCongestionControl()
    : m_eta(0.95),
      m_maxStage(5),
      m_windowAi(0),
      m_baseRtt(Time(0)),
      m_minRate("1Gbps"),
      m_fastReact(true)
{
}

uint32_t
HpccCongestionControl::GetHooks() const
{
    return HOOK_ACK | HOOK_TELEMETRY;
}

void
HpccCongestionControl::OnQpCreated(uint32_t qp, uint64_t lineRateBps)
{
    if (qp >= m_qps.size())
    {
        m_qps.resize(qp + 1);
    }
    QpState& s = m_qps[qp];
    s.lineRate = static_cast<double>(lineRateBps);
    s.rttPs = static_cast<double>(m_baseRtt.IsZero() ? GetNic()->GetQpBaseRttPs(qp)
                                                     : m_baseRtt.GetPicoSeconds());
    // W_init = line rate x T: a new QP sends its first RTT at line rate (unpaced).
    s.wc = s.w = s.lineRate * s.rttPs * 1e-12 / 8;
    SetWindow(qp, static_cast<uint64_t>(std::ceil(s.w)));
}

const HpccCongestionControl::QpState&
HpccCongestionControl::GetQpState(uint32_t qp) const
{
    return m_qps.at(qp);
}

double
HpccCongestionControl::MeasureInflight(QpState& s, const IntStack& stack) const
{
    const double tSec = s.rttPs * 1e-12;
    double best = -1;
    double tauNs = 0;
    for (uint32_t i = 0; i < stack.hops; ++i)
    {
        const IntHop& now = stack.hop[i];
        const IntHop& old = s.last[i];
        const uint32_t dt = now.NsSince(old);
        const double b = static_cast<double>(now.rateBps);
        if (dt == 0 || b <= 0)
        {
            continue; // same instant (or no rate): no rate sample from this hop
        }
        const double txRate = static_cast<double>(now.BytesSince(old)) * 8e9 / dt;
        const double qlen = static_cast<double>(std::min(now.QlenBytes(), old.QlenBytes()));
        const double u = qlen * 8 / (b * tSec) + txRate / b;
        if (u > best)
        {
            best = u;
            tauNs = dt;
        }
    }
    if (best < 0)
    {
        return s.u;
    }
    const double tau = std::min(tauNs * 1e-9, tSec);
    s.u = (1 - tau / tSec) * s.u + tau / tSec * best;
    return s.u;
}

double
HpccCongestionControl::ComputeWind(QpState& s, double u, bool updateWc) const
{
    const double wAi =
        m_windowAi > 0 ? static_cast<double>(m_windowAi) : s.lineRate / 2500 * s.rttPs * 1e-12 / 8;
    double w;
    if (u >= m_eta || s.incStage >= m_maxStage)
    {
        w = s.wc / (u / m_eta) + wAi;
        if (updateWc)
        {
            s.incStage = 0;
        }
    }
    else
    {
        w = s.wc + wAi;
        if (updateWc)
        {
            ++s.incStage;
        }
    }
    const double maxW = s.lineRate * s.rttPs * 1e-12 / 8;
    const double minW = static_cast<double>(m_minRate.GetBitRate()) * s.rttPs * 1e-12 / 8;
    w = std::clamp(w, std::min(minW, maxW), maxW);
    if (updateWc)
    {
        s.wc = w;
    }
    return w;
}

void
HpccCongestionControl::OnAck(const RdmaAckEvent& ack)
{
    if (ack.telemetry == nullptr || ack.qp >= m_qps.size())
    {
        return;
    }
    QpState& s = m_qps[ack.qp];
    const IntStack& stack = *ack.telemetry;
    if (stack.hops == 0)
    {
        return; // no switch on the path
    }
    if (s.hops != stack.hops)
    {
        // First telemetry of this QP (or a path of another length): a reference only.
        s.hops = stack.hops;
        std::copy(stack.hop.begin(), stack.hop.begin() + stack.hops, s.last.begin());
        s.lastUpdatePsn = ack.nextPsn;
        return;
    }
    const double u = MeasureInflight(s, stack);
    std::copy(stack.hop.begin(), stack.hop.begin() + stack.hops, s.last.begin());
    const bool newRound = ack.ackedPsn > s.lastUpdatePsn;
    if (!newRound && !m_fastReact)
    {
        return;
    }
    const bool multiplicative = u >= m_eta || s.incStage >= m_maxStage;
    s.w = ComputeWind(s, u, newRound);
    if (newRound)
    {
        s.lastUpdatePsn = ack.nextPsn;
    }
    const double rate = s.w * 8 / (s.rttPs * 1e-12);
    const uint64_t window = static_cast<uint64_t>(std::ceil(s.w));
    const RateEvent event =
        multiplicative ? RateEvent::MULTIPLICATIVE : RateEvent::ADDITIVE_INCREASE;
    SetRateAndWindow(ack.qp,
                     rate >= s.lineRate ? 0 : static_cast<uint64_t>(std::llround(rate)),
                     window,
                     event);
}

} // namespace moe
} // namespace ns3
