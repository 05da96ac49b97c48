#include "ideal-transport.h"

#include "ns3/abort.h"
#include "ns3/fabric-frame.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("IdealTransport");

NS_OBJECT_ENSURE_REGISTERED(IdealTransport);

namespace
{
/// Stored bytes of an RDMA ACK: Ethernet + IPv4 + UDP + BTH + AETH + ICRC.
constexpr uint32_t ACK_FRAME_BYTES =
    ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + AETH_BYTES + ICRC_BYTES;
constexpr double PS_PER_S = 1e12;
/// Fair shares closer than this fraction are treated as one level (see the class comment).
constexpr double LEVEL_EPSILON = 1e-9;
/// A fluid finish time this close to an integer picosecond snaps to it instead of rounding up.
constexpr double SNAP_ABSOLUTE_PS = 1e-6;
constexpr double SNAP_RELATIVE = 1e-13;

/// Exact fluid finish delay, rounded up (with snapping, see the class comment) to a picosecond.
int64_t
FinishDelayPs(double remainingBits, double rateBps)
{
    if (remainingBits <= 0)
    {
        return 0;
    }
    const double x = remainingBits * PS_PER_S / rateBps;
    if (x >= 4e18)
    {
        return INT64_MAX / 2; // effectively never; keeps now + delay from overflowing
    }
    const double c = std::ceil(x - (SNAP_ABSOLUTE_PS + SNAP_RELATIVE * x));
    return c > 0 ? static_cast<int64_t>(c) : 0;
}

/**
 * Indexed binary min-heap of resources keyed by (share, resource index), over storage the
 * transport keeps between recomputations. (A local class rather than member functions: in a
 * shared library the compiler will not inline exported members into the hot loop.)
 */
class ResourceHeap
{
  public:
    ResourceHeap(std::vector<uint32_t>& heap,
                 std::vector<uint32_t>& pos,
                 const std::vector<double>& share)
        : m_heap(heap),
          m_pos(pos),
          m_share(share)
    {
    }

    /// Make a heap of the resources already in the storage.
    void Build()
    {
        for (size_t i = 0; i < m_heap.size(); ++i)
        {
            m_pos[m_heap[i]] = static_cast<uint32_t>(i);
        }
        for (size_t i = m_heap.size() / 2; i-- > 0;)
        {
            SiftDown(i);
        }
    }

    bool Empty() const
    {
        return m_heap.empty();
    }

    uint32_t PopMin()
    {
        const uint32_t r = m_heap.front();
        Remove(0);
        return r;
    }

    /// Resource @p r's share changed: restore the heap order.
    void Update(uint32_t r)
    {
        SiftUp(SiftDown(m_pos[r]));
    }

    void Erase(uint32_t r)
    {
        Remove(m_pos[r]);
    }

  private:
    bool Less(uint32_t a, uint32_t b) const
    {
        return m_share[a] < m_share[b] || (m_share[a] == m_share[b] && a < b);
    }

    void Remove(size_t i)
    {
        const uint32_t last = m_heap.back();
        m_heap.pop_back();
        if (i < m_heap.size())
        {
            Place(i, last);
            SiftUp(SiftDown(i));
        }
    }

    void Place(size_t i, uint32_t r)
    {
        m_heap[i] = r;
        m_pos[r] = static_cast<uint32_t>(i);
    }

    size_t SiftDown(size_t i)
    {
        const size_t n = m_heap.size();
        const uint32_t r = m_heap[i];
        while (true)
        {
            size_t child = 2 * i + 1;
            if (child >= n)
            {
                break;
            }
            if (child + 1 < n && Less(m_heap[child + 1], m_heap[child]))
            {
                ++child;
            }
            if (!Less(m_heap[child], r))
            {
                break;
            }
            Place(i, m_heap[child]);
            i = child;
        }
        Place(i, r);
        return i;
    }

    size_t SiftUp(size_t i)
    {
        const uint32_t r = m_heap[i];
        while (i > 0)
        {
            const size_t parent = (i - 1) / 2;
            if (!Less(r, m_heap[parent]))
            {
                break;
            }
            Place(i, m_heap[parent]);
            i = parent;
        }
        Place(i, r);
        return i;
    }

    std::vector<uint32_t>& m_heap;
    std::vector<uint32_t>& m_pos;
    const std::vector<double>& m_share;
};
} // namespace

TypeId
IdealTransport::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::IdealTransport")
            .SetParent<MessageTransport>()
            .SetGroupName("MoeFabric")
            .AddConstructor<IdealTransport>()
            .AddAttribute("Mtu",
                          "Payload bytes per packet, as for the RDMA transport: sets the wire "
                          "bytes of a message and the frame size of the latency model.",
                          UintegerValue(4096),
                          MakeUintegerAccessor(&IdealTransport::SetMtu, &IdealTransport::GetMtu),
                          MakeUintegerChecker<uint32_t>(256, 9000));
    return tid;
}

IdealTransport::IdealTransport()
{
    NS_LOG_FUNCTION(this);
}

IdealTransport::~IdealTransport()
{
    NS_LOG_FUNCTION(this);
}

void
IdealTransport::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_updateEvent.Cancel();
    m_completionEvent.Cancel();
    for (auto& entry : m_notices)
    {
        entry.second.event.Cancel();
    }
    m_notices.clear();
    m_flows.clear();
    m_queues.clear();
    m_messages.clear();
    m_freeMessages.clear();
    m_topo = nullptr;
    MessageTransport::DoDispose();
}

void
IdealTransport::Install(Ptr<FabricTopology> topo)
{
    NS_LOG_FUNCTION(this << topo);
    NS_ABORT_MSG_IF(topo == nullptr, "IdealTransport::Install: null topology");
    NS_ABORT_MSG_IF(Time::GetResolution() != Time::PS,
                    "IdealTransport needs picosecond time resolution (FabricHelper::Install sets "
                    "it)");
    NS_ABORT_MSG_IF(m_topo != nullptr, "IdealTransport::Install called twice");
    m_topo = topo;
    m_numHosts = topo->GetNumGpus();
    const uint32_t resources = 4 * m_numHosts;
    m_capacity.assign(resources, 0.0);
    const TopologySpec& spec = topo->GetSpec();
    for (uint32_t g = 0; g < m_numHosts; ++g)
    {
        const uint32_t ports = std::min<uint32_t>(2, topo->GetNPorts(spec.hostNode[g]));
        for (uint32_t p = 0; p < ports; ++p)
        {
            // Links are full duplex: a port receives at the rate it sends.
            const double rate = static_cast<double>(topo->GetHostPortRate(g, p));
            m_capacity[ResourceIndex(g, false, p)] = rate;
            m_capacity[ResourceIndex(g, true, p)] = rate;
        }
    }
    m_resCount.assign(resources, 0);
    m_resStart.assign(resources, 0);
    m_resFill.assign(resources, 0);
    m_resShare.assign(resources, 0.0);
    m_heapPos.assign(resources, 0);
    m_resResidual.assign(resources, 0.0);
    m_lastUpdatePs = Simulator::Now().GetPicoSeconds();
}

uint32_t
IdealTransport::GetNumHosts() const
{
    return m_numHosts;
}

void
IdealTransport::SetMtu(uint32_t mtu)
{
    m_mtu = mtu;
}

uint32_t
IdealTransport::GetMtu() const
{
    return m_mtu;
}

uint64_t
IdealTransport::GetWireBytes(uint64_t bytes) const
{
    return RoceMessageWireBytes(bytes, m_mtu);
}

Time
IdealTransport::GetUncongestedTime(uint32_t src, uint32_t dst, uint64_t bytes) const
{
    NS_ABORT_MSG_IF(m_topo == nullptr, "IdealTransport: Install() first");
    NS_ABORT_MSG_IF(src >= m_numHosts || dst >= m_numHosts,
                    "IdealTransport::GetUncongestedTime: host out of range");
    if (src == dst)
    {
        return Time(0);
    }
    std::array<uint32_t, MAX_FLOW_RESOURCES> res;
    const uint32_t numRes = FlowResources(src, dst, res);
    double rate = m_capacity[res[0]];
    for (uint32_t k = 1; k < numRes; ++k)
    {
        rate = std::min(rate, m_capacity[res[k]]);
    }
    NS_ABORT_MSG_IF(rate <= 0, "IdealTransport: no port from " << src << " to " << dst);
    const uint32_t frameBytes =
        static_cast<uint32_t>(std::min<uint64_t>(bytes, m_mtu)) + ROCE_DATA_HEADER_BYTES;
    // The same rounding the fluid model applies to a lone flow, so that the two agree exactly.
    const int64_t drainPs = FinishDelayPs(static_cast<double>(GetWireBytes(bytes) * 8), rate);
    return PicoSeconds(drainPs) + m_topo->GetPathLatency(src, dst, frameBytes);
}

double
IdealTransport::GetFlowRate(uint64_t id) const
{
    for (const Flow& f : m_flows)
    {
        if (m_messages[f.msg].record.id == id)
        {
            return std::max(f.rate, 0.0);
        }
    }
    return 0;
}

uint64_t
IdealTransport::GetFlowsCompleted() const
{
    return m_flowsCompleted;
}

uint32_t
IdealTransport::GetMaxConcurrentFlows() const
{
    return m_maxConcurrent;
}

uint32_t
IdealTransport::GetActiveFlows() const
{
    return static_cast<uint32_t>(m_flows.size());
}

uint64_t
IdealTransport::GetRecomputations() const
{
    return m_recomputations;
}

uint32_t
IdealTransport::ResourceIndex(uint32_t host, bool ingress, uint32_t port)
{
    return 4 * host + (ingress ? 2 : 0) + (port != 0 ? 1 : 0);
}

uint32_t
IdealTransport::FlowResources(uint32_t src,
                              uint32_t dst,
                              std::array<uint32_t, MAX_FLOW_RESOURCES>& res) const
{
    const bool sameServer = m_topo->SameServer(src, dst);
    res[0] = ResourceIndex(src, false, m_topo->GetEgressPort(src, dst));
    res[1] = ResourceIndex(dst, true, sameServer ? 1 : 0);
    const uint32_t relay = m_topo->GetRelay(src, dst);
    if (relay == FabricTopology::NO_RELAY)
    {
        return 2;
    }
    // src -> (NVLink) -> relay -> (the relay's NIC) -> dst: the relay is neither end (it is on
    // another rail than src, in another server than dst), so the four resources are distinct.
    res[2] = ResourceIndex(relay, true, 1);
    res[3] = ResourceIndex(relay, false, 0);
    return 4;
}

uint64_t
IdealTransport::QueueKey(uint32_t src, uint32_t dst, uint8_t cls)
{
    return (static_cast<uint64_t>(src) << 35) | (static_cast<uint64_t>(dst) << 3) | cls;
}

uint32_t
IdealTransport::AllocateMessage()
{
    if (!m_freeMessages.empty())
    {
        const uint32_t idx = m_freeMessages.back();
        m_freeMessages.pop_back();
        return idx;
    }
    m_messages.emplace_back();
    return static_cast<uint32_t>(m_messages.size() - 1);
}

void
IdealTransport::DoSend(const MessageRecord& record)
{
    NS_LOG_FUNCTION(this << record.id << record.src << record.dst << record.bytes);
    NS_ABORT_MSG_IF(m_topo == nullptr, "IdealTransport: Install() before Send()");
    const uint32_t idx = AllocateMessage();
    Message& m = m_messages[idx];
    m.record = record;
    m.next = UINT32_MAX;
    m.frameBytes =
        static_cast<uint32_t>(std::min<uint64_t>(record.bytes, m_mtu)) + ROCE_DATA_HEADER_BYTES;
    m.wireBits = GetWireBytes(record.bytes) * 8;

    const uint64_t key = QueueKey(record.src, record.dst, record.cls);
    Queue& q = m_queues[key];
    q.key = key;
    m.queue = &q;
    ++q.outstanding;
    if (q.tail == UINT32_MAX)
    {
        q.tail = idx;
        Activate(idx, Simulator::Now().GetPicoSeconds());
    }
    else
    {
        m_messages[q.tail].next = idx;
        q.tail = idx;
    }
    RequestUpdate();
}

void
IdealTransport::Activate(uint32_t msg, int64_t nowPs)
{
    Message& m = m_messages[msg];
    const uint32_t src = m.record.src;
    const uint32_t dst = m.record.dst;
    Flow f;
    f.remaining = static_cast<double>(m.wireBits);
    f.numRes = FlowResources(src, dst, f.res);
    f.msg = msg;
    for (uint32_t k = 0; k < f.numRes; ++k)
    {
        NS_ABORT_MSG_IF(m_capacity[f.res[k]] <= 0,
                        "IdealTransport: host " << src << " -> " << dst
                                                << " uses a port that does not exist");
    }
    f.latencyPs = m_topo->GetPathLatency(src, dst, m.frameBytes).GetPicoSeconds();
    // The source egress's capacity is its port's line rate (an integer number of bit/s).
    const uint64_t srcRate = static_cast<uint64_t>(m_capacity[f.res[0]]);
    m.record.firstByte =
        PicoSeconds(nowPs + SerializationPs(WireBytes(m.frameBytes), srcRate) + f.latencyPs);
    m_flows.push_back(f);
}

void
IdealTransport::RequestUpdate()
{
    // One recomputation per timestamp however many messages arrive: it runs after every event
    // already queued for now, Send() calls made from them included.
    if (m_updateEvent.IsExpired())
    {
        m_updateEvent = Simulator::ScheduleNow(&IdealTransport::Update, this);
    }
}

void
IdealTransport::Update()
{
    const int64_t nowPs = Simulator::Now().GetPicoSeconds();
    NS_LOG_FUNCTION(this << nowPs << m_flows.size());
    m_updateEvent.Cancel();
    m_completionEvent.Cancel();

    // Advance every flow to now at its current rate; set aside those that have drained.
    const double elapsedPs = static_cast<double>(nowPs - m_lastUpdatePs);
    std::vector<Flow> finished;
    size_t keep = 0;
    for (size_t i = 0; i < m_flows.size(); ++i)
    {
        Flow& f = m_flows[i];
        if (f.finishPs <= nowPs)
        {
            finished.push_back(f);
            continue;
        }
        if (elapsedPs > 0 && f.rate > 0)
        {
            f.remaining -= f.rate * elapsedPs / PS_PER_S;
        }
        m_flows[keep++] = f;
    }
    m_flows.resize(keep);
    m_lastUpdatePs = nowPs;

    // Completions at one instant are reported in Send() order.
    std::sort(finished.begin(), finished.end(), [this](const Flow& a, const Flow& b) {
        return m_messages[a.msg].record.id < m_messages[b.msg].record.id;
    });
    for (const Flow& f : finished)
    {
        CompleteFlow(f, nowPs);
    }

    ComputeRates();

    int64_t next = INT64_MAX;
    for (Flow& f : m_flows)
    {
        f.finishPs = nowPs + FinishDelayPs(f.remaining, f.rate);
        next = std::min(next, f.finishPs);
    }
    m_maxConcurrent = std::max(m_maxConcurrent, static_cast<uint32_t>(m_flows.size()));
    if (next != INT64_MAX)
    {
        m_completionEvent =
            Simulator::Schedule(PicoSeconds(next - nowPs), &IdealTransport::Update, this);
    }
}

void
IdealTransport::CompleteFlow(const Flow& flow, int64_t nowPs)
{
    ++m_flowsCompleted;
    const uint32_t msg = flow.msg;
    const uint32_t src = m_messages[msg].record.src;
    const uint32_t dst = m_messages[msg].record.dst;
    Queue& q = *m_messages[msg].queue;

    const int64_t deliveredPs = std::max(nowPs + flow.latencyPs, q.lastDeliveredPs);
    const uint32_t ackPort = m_topo->GetEgressPort(dst, src);
    const int64_t ackPs =
        m_topo->GetPathLatency(dst, src, ACK_FRAME_BYTES).GetPicoSeconds() +
        SerializationPs(WireBytes(ACK_FRAME_BYTES), m_topo->GetHostPortRate(dst, ackPort));
    const int64_t ackedPs = std::max(deliveredPs + ackPs, q.lastAckedPs);
    q.lastDeliveredPs = deliveredPs;
    q.lastAckedPs = ackedPs;

    MessageRecord& rec = m_messages[msg].record;
    rec.delivered = PicoSeconds(deliveredPs);
    if (rec.firstByte > rec.delivered)
    {
        rec.firstByte = rec.delivered; // only if ceilings disagree; firstByte <= delivered holds
    }
    NS_LOG_LOGIC("message " << rec.id << " drained at " << nowPs << " ps, delivered at "
                            << deliveredPs << " ps, acked at " << ackedPs << " ps");
    AddNotice(deliveredPs, msg, false);
    AddNotice(ackedPs, msg, true);

    const uint32_t next = m_messages[msg].next;
    if (next != UINT32_MAX)
    {
        Activate(next, nowPs);
    }
    else
    {
        q.tail = UINT32_MAX;
    }
}

void
IdealTransport::ComputeRates()
{
    const size_t numFlows = m_flows.size();
    if (numFlows == 0)
    {
        return;
    }
    ++m_recomputations;

    // Resource -> flows adjacency (compressed), over the resources that carry flows only.
    m_touched.clear();
    for (const Flow& f : m_flows)
    {
        for (uint32_t k = 0; k < f.numRes; ++k)
        {
            const uint32_t r = f.res[k];
            if (m_resCount[r]++ == 0)
            {
                m_touched.push_back(r);
            }
        }
    }
    uint32_t pos = 0;
    for (uint32_t r : m_touched)
    {
        m_resStart[r] = pos;
        m_resFill[r] = pos;
        pos += m_resCount[r];
    }
    m_adjacency.resize(pos);
    for (size_t i = 0; i < numFlows; ++i)
    {
        const Flow& f = m_flows[i];
        for (uint32_t k = 0; k < f.numRes; ++k)
        {
            m_adjacency[m_resFill[f.res[k]]++] = static_cast<uint32_t>(i);
        }
        m_flows[i].rate = -1; // not frozen yet
    }

    // Progressive filling: repeatedly take the resource with the smallest fair share
    // (residual capacity / unfrozen flows) and freeze its unfrozen flows at that share. The
    // resources sit in an indexed binary min-heap keyed by (share, index), so freezing a flow
    // updates each of its other resources (one, three if relayed) in O(log R).
    m_heap.assign(m_touched.begin(), m_touched.end());
    for (uint32_t r : m_touched)
    {
        m_resResidual[r] = m_capacity[r];
        m_resShare[r] = m_capacity[r] / m_resCount[r];
    }
    ResourceHeap heap(m_heap, m_heapPos, m_resShare);
    heap.Build();
    // A flow of rate @p rate was frozen: resource @p other has that much less to share among
    // one flow fewer.
    auto freezeOn = [this, &heap](uint32_t other, double rate) {
        m_resResidual[other] -= rate;
        if (--m_resCount[other] == 0)
        {
            // Every flow of this resource is frozen: take it out of the heap.
            heap.Erase(other);
        }
        else
        {
            m_resShare[other] = std::max(m_resResidual[other], 0.0) / m_resCount[other];
            // The share can only grow (the flow took at most this share); sift down. Sift up
            // too, in case rounding made it shrink by an ulp.
            heap.Update(other);
        }
    };
    double level = 0;
    while (!heap.Empty())
    {
        const uint32_t r = heap.PopMin();
        const double share = m_resShare[r];
        // Shares equal up to floating-point noise get the same rate: symmetric flows stay
        // identical and finish together.
        if (share > level * (1 + LEVEL_EPSILON))
        {
            level = share;
        }
        const double rate = share < level * (1 - LEVEL_EPSILON) ? share : level;
        for (uint32_t k = m_resStart[r]; k < m_resFill[r]; ++k)
        {
            Flow& f = m_flows[m_adjacency[k]];
            if (f.rate >= 0)
            {
                continue;
            }
            f.rate = rate;
            if (f.numRes == 2)
            {
                freezeOn(f.res[0] == r ? f.res[1] : f.res[0], rate); // the common case
                continue;
            }
            for (uint32_t j = 0; j < f.numRes; ++j)
            {
                if (f.res[j] != r)
                {
                    freezeOn(f.res[j], rate);
                }
            }
        }
        m_resCount[r] = 0;
    }
    for (uint32_t r : m_touched)
    {
        m_resCount[r] = 0;
    }
}

void
IdealTransport::AddNotice(int64_t timePs, uint32_t msg, bool ack)
{
    auto it = m_notices.find(timePs);
    if (it == m_notices.end())
    {
        it = m_notices.emplace(timePs, NoticeBatch()).first;
        it->second.event =
            Simulator::Schedule(PicoSeconds(timePs - Simulator::Now().GetPicoSeconds()),
                                &IdealTransport::FireNotices,
                                this,
                                timePs);
    }
    it->second.notices.push_back(Notice{msg, ack});
}

void
IdealTransport::FireNotices(int64_t timePs)
{
    auto it = m_notices.find(timePs);
    NS_ASSERT(it != m_notices.end());
    const std::vector<Notice> notices = std::move(it->second.notices);
    m_notices.erase(it);
    for (const Notice& n : notices)
    {
        // A copy: callbacks may Send(), which may grow the message pool.
        MessageRecord rec = m_messages[n.msg].record;
        if (!n.ack)
        {
            NotifyDelivered(rec);
            continue;
        }
        Queue* q = m_messages[n.msg].queue;
        rec.acked = PicoSeconds(timePs);
        // Release before notifying, so that a Send() from the callback may reuse the slot.
        m_freeMessages.push_back(n.msg);
        if (--q->outstanding == 0)
        {
            m_queues.erase(q->key);
        }
        NotifyAcked(rec);
    }
}

} // namespace moe
} // namespace ns3
