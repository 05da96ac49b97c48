#include "rdma-congestion-control.h"

#include "rdma-transport.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <functional>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("RdmaCongestionControl");

NS_OBJECT_ENSURE_REGISTERED(RdmaCongestionControl);
NS_OBJECT_ENSURE_REGISTERED(RdmaNoCongestionControl);

const char*
RateEventName(RateEvent e)
{
    switch (e)
    {
    case RateEvent::DECREASE:
        return "decrease";
    case RateEvent::FAST_RECOVERY:
        return "fast-recovery";
    case RateEvent::ADDITIVE_INCREASE:
        return "additive-increase";
    case RateEvent::HYPER_INCREASE:
        return "hyper-increase";
    case RateEvent::LINE_RATE:
        return "line-rate";
    case RateEvent::MULTIPLICATIVE:
        return "multiplicative";
    }
    return "unknown";
}

TypeId
RdmaCongestionControl::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::RdmaCongestionControl").SetParent<Object>().SetGroupName("MoeFabric");
    return tid;
}

RdmaCongestionControl::RdmaCongestionControl()
{
}

RdmaCongestionControl::~RdmaCongestionControl()
{
}

void
RdmaCongestionControl::DoDispose()
{
    m_nic = nullptr;
    m_heap.clear();
    m_deadline.clear();
    m_filed.clear();
    Object::DoDispose();
}

void
RdmaCongestionControl::Attach(RdmaNic* nic, uint32_t host)
{
    m_nic = nic;
    m_host = host;
}

int64_t
RdmaCongestionControl::GetCnpIntervalPs() const
{
    return -1;
}

void
RdmaCongestionControl::OnQpCreated(uint32_t /*qp*/, uint64_t /*lineRateBps*/)
{
}

void
RdmaCongestionControl::OnPacketSent(uint32_t /*qp*/, uint32_t /*wireBytes*/)
{
}

void
RdmaCongestionControl::OnAck(const RdmaAckEvent& /*ack*/)
{
}

void
RdmaCongestionControl::OnCnp(uint32_t /*qp*/)
{
}

void
RdmaCongestionControl::OnTimeout(uint32_t /*qp*/)
{
}

void
RdmaCongestionControl::OnTimer(uint32_t /*qp*/)
{
}

RdmaNic*
RdmaCongestionControl::GetNic() const
{
    return m_nic;
}

uint32_t
RdmaCongestionControl::GetHost() const
{
    return m_host;
}

void
RdmaCongestionControl::SetRate(uint32_t qp, uint64_t rateBps, RateEvent event)
{
    m_nic->SetCcRate(qp, rateBps, event);
}

void
RdmaCongestionControl::SetWindow(uint32_t qp, uint64_t windowBytes)
{
    m_nic->SetQpWindow(qp, windowBytes);
}

void
RdmaCongestionControl::SetRateAndWindow(uint32_t qp,
                                        uint64_t rateBps,
                                        uint64_t windowBytes,
                                        RateEvent event)
{
    m_nic->SetQpWindow(qp, windowBytes);
    m_nic->SetCcRate(qp, rateBps, event);
}

void
RdmaCongestionControl::SetQpTimer(uint32_t qp, int64_t deadlinePs)
{
    if (qp >= m_deadline.size())
    {
        m_deadline.resize(qp + 1, -1);
        m_filed.resize(qp + 1, -1);
    }
    m_deadline[qp] = deadlinePs;
    if (deadlinePs < 0)
    {
        return; // the heap entry, if any, finds no deadline and is dropped
    }
    // Lazy heap: a QP keeps at most one live entry. A later deadline leaves the entry where it
    // is (it is re-filed when it comes up); only an earlier one needs a new entry, which makes
    // the old one stale.
    if (m_filed[qp] < 0 || deadlinePs < m_filed[qp])
    {
        m_filed[qp] = deadlinePs;
        m_heap.push_back(TimerEntry{deadlinePs, qp});
        std::push_heap(m_heap.begin(), m_heap.end(), std::greater<>());
        ScheduleTimerEvent();
    }
}

void
RdmaCongestionControl::ScheduleTimerEvent()
{
    if (m_heap.empty())
    {
        return;
    }
    const int64_t due = m_heap.front().deadlinePs;
    if (m_eventPs >= 0 && m_eventPs <= due)
    {
        return; // the pending event comes first and re-arms
    }
    m_eventPs = due;
    Simulator::Schedule(PicoSeconds(due) - Simulator::Now(),
                        &RdmaCongestionControl::OnTimerEvent,
                        this);
}

void
RdmaCongestionControl::OnTimerEvent()
{
    if (m_nic == nullptr)
    {
        return; // disposed
    }
    const int64_t now = Simulator::Now().GetPicoSeconds();
    if (m_eventPs == now)
    {
        m_eventPs = -1;
    }
    while (!m_heap.empty() && m_heap.front().deadlinePs <= now)
    {
        const TimerEntry e = m_heap.front();
        std::pop_heap(m_heap.begin(), m_heap.end(), std::greater<>());
        m_heap.pop_back();
        if (m_filed[e.qp] != e.deadlinePs)
        {
            continue; // stale: superseded by an earlier entry
        }
        m_filed[e.qp] = -1;
        const int64_t deadline = m_deadline[e.qp];
        if (deadline < 0)
        {
            continue; // cancelled
        }
        if (deadline > now)
        {
            m_filed[e.qp] = deadline; // moved later: file it again
            m_heap.push_back(TimerEntry{deadline, e.qp});
            std::push_heap(m_heap.begin(), m_heap.end(), std::greater<>());
            continue;
        }
        m_deadline[e.qp] = -1;
        OnTimer(e.qp); // may set a new timer
    }
    if (m_eventPs < now)
    {
        m_eventPs = -1;
    }
    ScheduleTimerEvent();
}

// =============================================================================================

TypeId
RdmaNoCongestionControl::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::RdmaNoCongestionControl")
                            .SetParent<RdmaCongestionControl>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<RdmaNoCongestionControl>();
    return tid;
}

uint32_t
RdmaNoCongestionControl::GetHooks() const
{
    return 0;
}

} // namespace moe
} // namespace ns3
