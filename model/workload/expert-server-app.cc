#include "expert-server-app.h"

#include "gpu-node-app.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/simulator.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("ExpertServerApp");

NS_OBJECT_ENSURE_REGISTERED(ExpertServerApp);

TypeId
ExpertServerApp::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::ExpertServerApp")
            .SetParent<Application>()
            .SetGroupName("MoeFabric")
            .AddConstructor<ExpertServerApp>()
            .AddTraceSource("Batch",
                            "An expert batch ran: (group, unit, tokens, start, end).",
                            MakeTraceSourceAccessor(&ExpertServerApp::m_batchTrace),
                            "ns3::moe::ExpertServerApp::BatchTracedCallback");
    return tid;
}

ExpertServerApp::ExpertServerApp() = default;

void
ExpertServerApp::Setup(MoeWorkload* workload, uint32_t gpu)
{
    m_workload = workload;
    m_gpu = gpu;
}

void
ExpertServerApp::DoDispose()
{
    m_workload = nullptr;
    m_work.clear();
    m_relay.clear();
    Application::DoDispose();
}

void
ExpertServerApp::StartApplication()
{
}

void
ExpertServerApp::StopApplication()
{
}

uint64_t
ExpertServerApp::Key(uint32_t group, uint32_t unit)
{
    return (static_cast<uint64_t>(group) << 32) | unit;
}

ExpertServerApp::Work&
ExpertServerApp::GetWork(uint32_t group, uint32_t unit, uint32_t rank)
{
    auto it = m_work.find(Key(group, unit));
    if (it != m_work.end())
    {
        return it->second;
    }
    // First part of this unit here: size the queues from the plan.
    const uint32_t stage = m_workload->StageOf(unit);
    const LayerPlan& plan = m_workload->GetUnitPlan(group, unit);
    const bool lowLatency = m_workload->GetSpec().dispatch == DispatchVariant::LOW_LATENCY;
    const uint64_t bpt = m_workload->SendBytesPerToken(stage);
    Work& w = m_work[Key(group, unit)];
    w.plan = &plan;
    w.stage = stage;
    w.nodes = plan.nodes;
    w.slots = plan.slots;
    w.rank = rank;
    w.srcExpected.assign(plan.nodes, 0);
    w.srcArrived.assign(plan.nodes, 0);
    w.srcPicks.assign(plan.nodes, 0);
    w.srcDone.assign(plan.nodes, 0);
    w.srcLast.assign(plan.nodes, -1);
    w.srcFirstStart.assign(plan.nodes, -1);
    w.srcCombined.assign(plan.nodes, false);
    w.pending.assign(plan.slots, {});
    w.windowOpen.assign(plan.slots, false);
    w.queued.assign(plan.slots, false);
    for (uint32_t n = 0; n < plan.nodes; ++n)
    {
        const uint64_t copies = lowLatency ? plan.PairPicks(n, rank) : plan.PairTokens(n, rank);
        w.srcExpected[n] = copies * bpt;
        w.srcPicks[n] = plan.PairPicks(n, rank);
        w.expectedBytes += w.srcExpected[n];
    }
    return w;
}

void
ExpertServerApp::OnDispatchPart(const MoeWorkload::MsgContext& ctx)
{
    Work& w = GetWork(ctx.group, ctx.unit, ctx.dstRank);
    const uint32_t n = ctx.node;
    const uint64_t before = w.srcArrived[n];
    w.srcArrived[n] += ctx.bytes;
    w.arrivedBytes += ctx.bytes;
    NS_ABORT_MSG_IF(w.srcArrived[n] > w.srcExpected[n],
                    "GPU " << m_gpu << " received more dispatch bytes from node " << n
                           << " than the plan holds");
    const int64_t now = Simulator::Now().GetPicoSeconds();
    w.srcLast[n] = now;
    w.lastArrival = now;
    AddTokens(w, ctx.group, ctx.unit, n, before, w.srcArrived[n]);
}

void
ExpertServerApp::AddTokens(Work& w,
                           uint32_t group,
                           uint32_t unit,
                           uint32_t node,
                           uint64_t before,
                           uint64_t after)
{
    const uint32_t* work = w.plan->Work(node, w.rank);
    const uint64_t total = w.srcExpected[node];
    // A part carrying bytes [before, after) of the node's payload brings the same share of each
    // expert's picks (copies of one token for two local experts travel once).
    for (uint32_t s = 0; s < w.slots; ++s)
    {
        if (work[s] == 0)
        {
            continue;
        }
        const auto share = [&](uint64_t b) {
            return static_cast<uint32_t>(static_cast<unsigned __int128>(work[s]) * b / total);
        };
        const uint32_t picks = share(after) - share(before);
        if (picks > 0)
        {
            w.pending[s].emplace_back(node, picks);
        }
    }
    if (!m_workload->GetSpec().eager)
    {
        if (w.arrivedBytes < w.expectedBytes || w.submittedAll)
        {
            return;
        }
        // Collective semantics: every dispatch of the stage is here; one batch per expert.
        w.submittedAll = true;
        for (uint32_t s = 0; s < w.slots; ++s)
        {
            if (!w.pending[s].empty())
            {
                QueueBatch(w, group, unit, s);
            }
        }
        return;
    }
    for (uint32_t s = 0; s < w.slots; ++s)
    {
        if (!w.pending[s].empty())
        {
            OpenWindow(w, group, unit, s);
        }
    }
    // A part may complete a source whose tokens are all computed already (rounding).
    if (w.srcArrived[node] == w.srcExpected[node] && w.srcDone[node] == w.srcPicks[node] &&
        !w.srcCombined[node])
    {
        SendCombine(group, unit, w, node);
    }
}

void
ExpertServerApp::OpenWindow(Work& w, uint32_t group, uint32_t unit, uint32_t slot)
{
    if (w.windowOpen[slot] || w.queued[slot])
    {
        return; // the tokens join the batch being formed
    }
    w.windowOpen[slot] = true;
    ++m_openWindows;
    Simulator::Schedule(PicoSeconds(m_workload->GetSpec().batchWindowPs),
                        &ExpertServerApp::Flush,
                        this,
                        group,
                        unit,
                        slot);
}

void
ExpertServerApp::Flush(uint32_t group, uint32_t unit, uint32_t slot)
{
    auto it = m_work.find(Key(group, unit));
    NS_ABORT_MSG_IF(it == m_work.end(), "batch window of a released unit");
    Work& w = it->second;
    w.windowOpen[slot] = false;
    --m_openWindows;
    if (!w.pending[slot].empty())
    {
        QueueBatch(w, group, unit, slot);
    }
}

uint32_t
ExpertServerApp::GetOpenBatchWindows() const
{
    return m_openWindows;
}

void
ExpertServerApp::QueueBatch(Work& w, uint32_t group, uint32_t unit, uint32_t slot)
{
    w.queued[slot] = true;
    ++w.outstanding;
    const uint32_t id = w.nextBatch++;
    m_workload->GetEngine(m_gpu)->Submit(
        GpuComputeEngine::EXPERT,
        MakeCallback(&ExpertServerApp::StartBatch, this).Bind(group, unit, slot, id),
        MakeCallback(&ExpertServerApp::OnBatchDone, this).Bind(group, unit, id));
}

Time
ExpertServerApp::StartBatch(uint32_t group, uint32_t unit, uint32_t slot, uint32_t id)
{
    Work& w = m_work.at(Key(group, unit));
    w.queued[slot] = false;
    Composition& batch = w.batches[id];
    batch = std::move(w.pending[slot]);
    w.pending[slot].clear();
    uint64_t tokens = 0;
    const int64_t now = Simulator::Now().GetPicoSeconds();
    for (const auto& [n, picks] : batch)
    {
        tokens += picks;
        if (w.srcFirstStart[n] < 0)
        {
            w.srcFirstStart[n] = now; // batches start in time order: the first is the earliest
        }
    }
    KernelCost cost = m_workload->GetComputeModel().RoutedExpert(tokens);
    if (m_workload->StageIsBackward(w.stage))
    {
        cost.flops *= 2;
        cost.bytes *= 2;
    }
    return m_workload->GetComputeModel().KernelTime(cost,
                                                    1.0 /
                                                        m_workload->GetEngine(m_gpu)->GetStreams());
}

void
ExpertServerApp::OnBatchDone(uint32_t group, uint32_t unit, uint32_t id, Time start, Time end)
{
    m_workload->m_computePs[GpuComputeEngine::EXPERT] += (end - start).GetPicoSeconds();
    Work& w = m_work.at(Key(group, unit));
    --w.outstanding;
    const auto it = w.batches.find(id);
    const Composition batch = std::move(it->second);
    w.batches.erase(it);
    uint32_t tokens = 0;
    for (const auto& [n, picks] : batch)
    {
        tokens += picks;
        w.srcDone[n] += picks;
    }
    m_batchTrace(group, unit, tokens, start, end);
    if (!m_workload->GetSpec().eager)
    {
        if (w.outstanding > 0)
        {
            return;
        }
        for (uint32_t n = 0; n < w.nodes; ++n)
        {
            if (w.srcExpected[n] > 0 && !w.srcCombined[n])
            {
                SendCombine(group, unit, w, n);
            }
        }
        return;
    }
    for (const auto& [n, picks] : batch)
    {
        if (w.srcArrived[n] == w.srcExpected[n] && w.srcDone[n] == w.srcPicks[n] &&
            !w.srcCombined[n])
        {
            SendCombine(group, unit, w, n);
        }
    }
}

void
ExpertServerApp::SendCombine(uint32_t group, uint32_t unit, Work& w, uint32_t n)
{
    w.srcCombined[n] = true;
    const LayerPlan& plan = *w.plan;
    const LayerPlanContext& pctx = m_workload->GetPlanContext(group);
    const MoeWorkloadSpec& spec = m_workload->GetSpec();
    const bool lowLatency = spec.dispatch == DispatchVariant::LOW_LATENCY;
    const uint64_t bpt = m_workload->ReturnBytesPerToken(w.stage);
    const uint32_t x = w.rank;

    MoeWorkload::MsgContext ctx;
    ctx.group = group;
    ctx.unit = unit;
    ctx.node = n;
    ctx.originRank = x;
    // The critical-path timeline of this GPU for node n: when it could start (wait-all: the
    // last dispatch of the stage; eager: n's last part), its first batch with n's tokens, now.
    ctx.ready = spec.eager ? w.srcLast[n] : w.lastArrival;
    ctx.computeStart = w.srcFirstStart[n] < 0 ? ctx.ready : w.srcFirstStart[n];
    ctx.sent = Simulator::Now().GetPicoSeconds();

    const uint32_t server = plan.serverOfExpertRank[x];
    const uint32_t relay =
        spec.dispatch == DispatchVariant::HIERARCHICAL ? plan.Relay(n, server) : UINT32_MAX;
    if (relay != UINT32_MAX)
    {
        ctx.server = server;
        ctx.dstRank = relay;
        ctx.bytes = static_cast<uint64_t>(plan.PairTokens(n, x)) * bpt;
        ctx.kind = MoeMessageKind::COMBINE_TO_RELAY;
        m_workload->SendMessage(m_gpu, pctx.expertGpus[relay], ctx);
        return;
    }
    ctx.kind = MoeMessageKind::COMBINE;
    const uint32_t dst = pctx.nodeGpus[n];
    if (lowLatency)
    {
        ctx.bytes = bpt;
        for (uint32_t i = 0; i < plan.PairPicks(n, x); ++i)
        {
            m_workload->SendMessage(m_gpu, dst, ctx);
        }
        return;
    }
    m_workload->SendChunked(m_gpu, dst, ctx, static_cast<uint64_t>(plan.PairTokens(n, x)) * bpt);
}

ExpertServerApp::Relay&
ExpertServerApp::GetRelay(uint32_t group, uint32_t unit)
{
    Relay& r = m_relay[Key(group, unit)];
    if (r.plan == nullptr)
    {
        r.plan = &m_workload->GetUnitPlan(group, unit);
        r.arrived.assign(r.plan->nodes, 0);
        r.contributions.assign(r.plan->nodes, 0);
        r.expected.assign(r.plan->nodes, UINT32_MAX);
        r.latest.assign(r.plan->nodes, MoeWorkload::MsgContext());
    }
    return r;
}

void
ExpertServerApp::OnRelayDispatch(const MoeWorkload::MsgContext& ctx)
{
    Relay& r = GetRelay(ctx.group, ctx.unit);
    const LayerPlan& plan = *r.plan;
    const LayerPlanContext& pctx = m_workload->GetPlanContext(ctx.group);
    const uint32_t n = ctx.node;
    const uint64_t bpt = m_workload->SendBytesPerToken(m_workload->StageOf(ctx.unit));
    const uint64_t expected = static_cast<uint64_t>(plan.ServerTokens(n, ctx.server)) * bpt;
    r.arrived[n] += ctx.bytes;
    NS_ABORT_MSG_IF(r.arrived[n] > expected, "relay received more than the plan holds");
    if (r.arrived[n] < expected)
    {
        return;
    }
    // Everything for this server is here: hand each GPU of the server its tokens over NVLink.
    MoeWorkload::MsgContext fwd = ctx;
    fwd.kind = MoeMessageKind::FORWARD;
    r.expected[n] = 0;
    for (uint32_t x = 0; x < plan.experts; ++x)
    {
        if (plan.serverOfExpertRank[x] != ctx.server || plan.PairTokens(n, x) == 0)
        {
            continue;
        }
        ++r.expected[n];
        fwd.dstRank = x;
        fwd.bytes = static_cast<uint64_t>(plan.PairTokens(n, x)) * bpt;
        m_workload->SendMessage(m_gpu, pctx.expertGpus[x], fwd);
    }
}

void
ExpertServerApp::OnCombineContribution(const MoeWorkload::MsgContext& ctx)
{
    Relay& r = GetRelay(ctx.group, ctx.unit);
    const uint32_t n = ctx.node;
    NS_ABORT_MSG_IF(r.expected[n] == UINT32_MAX,
                    "combine contribution before the relayed dispatch was forwarded");
    ++r.contributions[n];
    r.latest[n] = ctx;
    if (r.contributions[n] < r.expected[n])
    {
        return;
    }
    // The server's results for node n are summed here and travel back as one copy per token.
    MoeWorkload::MsgContext back = r.latest[n];
    back.kind = MoeMessageKind::COMBINE;
    const uint64_t total = static_cast<uint64_t>(r.plan->ServerTokens(n, ctx.server)) *
                           m_workload->ReturnBytesPerToken(m_workload->StageOf(ctx.unit));
    m_workload->SendChunked(m_gpu, m_workload->GetPlanContext(ctx.group).nodeGpus[n], back, total);
}

void
ExpertServerApp::ReleaseUnit(uint32_t group, uint32_t unit)
{
    m_work.erase(Key(group, unit));
    m_relay.erase(Key(group, unit));
}

} // namespace moe
} // namespace ns3
