#include "dcqcn-congestion-control.h"

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

NS_LOG_COMPONENT_DEFINE("DcqcnCongestionControl");

NS_OBJECT_ENSURE_REGISTERED(DcqcnCongestionControl);

TypeId
DcqcnCongestionControl::GetTypeId()
{
    // Defaults: the DCQCN paper's (Zhu et al., SIGCOMM 2015) where it gives one, NVIDIA
    // ConnectX firmware's for the rate-decrease interval; doc/moe-fabric.rst lists each source
    // and the vendor and HPCC-simulator alternatives.
    static TypeId tid =
        TypeId("ns3::moe::DcqcnCongestionControl")
            .SetParent<RdmaCongestionControl>()
            .SetGroupName("MoeFabric")
            .AddConstructor<DcqcnCongestionControl>()
            .AddAttribute("G",
                          "Gain g of the alpha EWMA.",
                          DoubleValue(1.0 / 256),
                          MakeDoubleAccessor(&DcqcnCongestionControl::m_g),
                          MakeDoubleChecker<double>(0, 1))
            .AddAttribute("InitialAlpha",
                          "Alpha of a QP at its first CNP.",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&DcqcnCongestionControl::m_initialAlpha),
                          MakeDoubleChecker<double>(0, 1))
            .AddAttribute("AlphaInterval",
                          "Alpha update period (the paper's K).",
                          TimeValue(MicroSeconds(55)),
                          MakeTimeAccessor(&DcqcnCongestionControl::m_alphaInterval),
                          MakeTimeChecker(PicoSeconds(1)))
            .AddAttribute("RateDecreaseInterval",
                          "Minimum time between two rate decreases of a QP (0: every CNP).",
                          TimeValue(MicroSeconds(4)),
                          MakeTimeAccessor(&DcqcnCongestionControl::m_rateDecreaseInterval),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("RateIncreaseInterval",
                          "Period of the rate-increase timer (the paper's T).",
                          TimeValue(MicroSeconds(55)),
                          MakeTimeAccessor(&DcqcnCongestionControl::m_rateIncreaseInterval),
                          MakeTimeChecker(PicoSeconds(1)))
            .AddAttribute("ByteCounter",
                          "Bytes sent (on the wire) per byte-counter increase event (the "
                          "paper's B); 0 disables the byte counter.",
                          UintegerValue(10000000),
                          MakeUintegerAccessor(&DcqcnCongestionControl::m_byteCounter),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("FastRecoverySteps",
                          "Increase events of fast recovery after a decrease (the paper's F).",
                          UintegerValue(5),
                          MakeUintegerAccessor(&DcqcnCongestionControl::m_fastRecoverySteps),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("RateAi",
                          "Additive increase step R_AI of the target rate.",
                          DataRateValue(DataRate("40Mbps")),
                          MakeDataRateAccessor(&DcqcnCongestionControl::m_rateAi),
                          MakeDataRateChecker())
            .AddAttribute("RateHai",
                          "Hyper increase step R_HAI of the target rate.",
                          DataRateValue(DataRate("400Mbps")),
                          MakeDataRateAccessor(&DcqcnCongestionControl::m_rateHai),
                          MakeDataRateChecker())
            .AddAttribute("MinRate",
                          "Lowest rate a decrease goes to.",
                          DataRateValue(DataRate("100Mbps")),
                          MakeDataRateAccessor(&DcqcnCongestionControl::m_minRate),
                          MakeDataRateChecker())
            .AddAttribute("CnpInterval",
                          "Notification point: minimum time between two CNPs of one receiver "
                          "QP (the paper's N; 0: a CNP for every CE-marked packet).",
                          TimeValue(MicroSeconds(50)),
                          MakeTimeAccessor(&DcqcnCongestionControl::m_cnpInterval),
                          MakeTimeChecker(Time(0)));
    return tid;
}

DcqcnCongestionControl::DcqcnCongestionControl()
    : m_g(1.0 / 256),
      m_initialAlpha(1.0),
      m_alphaInterval(MicroSeconds(55)),
      m_rateDecreaseInterval(MicroSeconds(4)),
      m_rateIncreaseInterval(MicroSeconds(55)),
      m_byteCounter(10000000),
      m_fastRecoverySteps(5),
      m_rateAi("40Mbps"),
      m_rateHai("400Mbps"),
      m_minRate("100Mbps"),
      m_cnpInterval(MicroSeconds(50))
{
}

uint32_t
DcqcnCongestionControl::GetHooks() const
{
    return HOOK_CNP | (m_byteCounter > 0 ? static_cast<uint32_t>(HOOK_PACKET_SENT) : 0u);
}

int64_t
DcqcnCongestionControl::GetCnpIntervalPs() const
{
    return m_cnpInterval.GetPicoSeconds();
}

void
DcqcnCongestionControl::OnQpCreated(uint32_t qp, uint64_t lineRateBps)
{
    if (qp >= m_qps.size())
    {
        m_qps.resize(qp + 1);
    }
    QpState& s = m_qps[qp];
    s.lineRate = lineRateBps;
    s.rc = s.rt = static_cast<double>(lineRateBps);
}

const DcqcnCongestionControl::QpState&
DcqcnCongestionControl::GetQpState(uint32_t qp)
{
    QpState& s = m_qps.at(qp);
    AdvanceAlpha(s, Simulator::Now().GetPicoSeconds());
    return s;
}

void
DcqcnCongestionControl::AdvanceAlpha(QpState& s, int64_t now) const
{
    if (s.alphaEpochPs < 0)
    {
        return;
    }
    const int64_t period = m_alphaInterval.GetPicoSeconds();
    const int64_t n = (now - s.alphaEpochPs) / period;
    if (n <= 0)
    {
        return;
    }
    // The first elapsed interval saw the CNPs flagged; the n - 1 after it saw none.
    s.alpha = (1 - m_g) * s.alpha + (s.cnpInInterval ? m_g : 0.0);
    if (n > 1)
    {
        s.alpha *= std::pow(1 - m_g, static_cast<double>(n - 1));
    }
    s.cnpInInterval = false;
    s.alphaEpochPs += n * period;
}

void
DcqcnCongestionControl::OnCnp(uint32_t qp)
{
    QpState& s = m_qps.at(qp);
    const int64_t now = Simulator::Now().GetPicoSeconds();
    if (s.alphaEpochPs < 0)
    {
        s.alpha = m_initialAlpha;
        s.alphaEpochPs = now;
    }
    AdvanceAlpha(s, now);
    s.cnpInInterval = true;
    const int64_t gap = m_rateDecreaseInterval.GetPicoSeconds();
    if (s.lastDecreasePs < 0 || now - s.lastDecreasePs >= gap)
    {
        Decrease(qp, now);
    }
    else if (!s.decreasePending)
    {
        // Served when the interval ends (the timer is armed for it).
        s.decreasePending = true;
        ArmTimer(qp);
    }
}

void
DcqcnCongestionControl::Decrease(uint32_t qp, int64_t now)
{
    QpState& s = m_qps[qp];
    s.decreasePending = false;
    s.lastDecreasePs = now;
    s.rt = s.rc;
    s.rc = std::max(static_cast<double>(m_minRate.GetBitRate()), s.rc * (1 - s.alpha / 2));
    s.timerStage = 0;
    s.byteStage = 0;
    s.bytes = 0;
    s.limited = true;
    s.increaseDeadlinePs = now + m_rateIncreaseInterval.GetPicoSeconds();
    NS_LOG_DEBUG("host " << GetHost() << " qp " << qp << ": decrease, alpha " << s.alpha << ", Rc "
                         << s.rc << ", Rt " << s.rt);
    SetRate(qp, static_cast<uint64_t>(std::llround(s.rc)), RateEvent::DECREASE);
    ArmTimer(qp);
}

void
DcqcnCongestionControl::ArmTimer(uint32_t qp)
{
    const QpState& s = m_qps[qp];
    int64_t due = s.limited ? s.increaseDeadlinePs : -1;
    if (s.decreasePending)
    {
        const int64_t d = s.lastDecreasePs + m_rateDecreaseInterval.GetPicoSeconds();
        due = due < 0 ? d : std::min(due, d);
    }
    SetQpTimer(qp, due);
}

void
DcqcnCongestionControl::OnTimer(uint32_t qp)
{
    QpState& s = m_qps[qp];
    const int64_t now = Simulator::Now().GetPicoSeconds();
    if (s.decreasePending && now >= s.lastDecreasePs + m_rateDecreaseInterval.GetPicoSeconds())
    {
        AdvanceAlpha(s, now);
        Decrease(qp, now); // restarts the increase timer and re-arms
        return;
    }
    if (s.limited && now >= s.increaseDeadlinePs)
    {
        s.increaseDeadlinePs += m_rateIncreaseInterval.GetPicoSeconds();
        ++s.timerStage;
        Increase(qp);
    }
    ArmTimer(qp);
}

void
DcqcnCongestionControl::OnPacketSent(uint32_t qp, uint32_t wireBytes)
{
    QpState& s = m_qps[qp];
    if (!s.limited)
    {
        return;
    }
    s.bytes += wireBytes;
    if (s.bytes >= m_byteCounter)
    {
        s.bytes -= m_byteCounter;
        ++s.byteStage;
        Increase(qp);
        if (!s.limited)
        {
            ArmTimer(qp); // released: drop the increase timer
        }
    }
}

void
DcqcnCongestionControl::Increase(uint32_t qp)
{
    QpState& s = m_qps[qp];
    const double line = static_cast<double>(s.lineRate);
    const uint32_t f = m_fastRecoverySteps;
    RateEvent event;
    if (std::max(s.timerStage, s.byteStage) <= f)
    {
        event = RateEvent::FAST_RECOVERY;
    }
    else if (std::min(s.timerStage, s.byteStage) > f)
    {
        event = RateEvent::HYPER_INCREASE;
        const double i = std::min(s.timerStage, s.byteStage) - f;
        s.rt = std::min(line, s.rt + i * static_cast<double>(m_rateHai.GetBitRate()));
    }
    else
    {
        event = RateEvent::ADDITIVE_INCREASE;
        s.rt = std::min(line, s.rt + static_cast<double>(m_rateAi.GetBitRate()));
    }
    s.rc = (s.rt + s.rc) / 2;
    if (s.rt >= line && line - s.rc <= static_cast<double>(m_rateAi.GetBitRate()))
    {
        // Back at line rate: release the rate limiter (no pacing, no timers) until the next CNP.
        s.rc = s.rt = line;
        s.limited = false;
        SetRate(qp, 0, RateEvent::LINE_RATE);
        return;
    }
    SetRate(qp, static_cast<uint64_t>(std::llround(s.rc)), event);
}

} // namespace moe
} // namespace ns3
