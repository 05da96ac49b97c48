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
    const LayerPlan& plan = m_workload->GetUnitPlan(group, unit);
    const uint32_t* work = plan.Work(node, w.rank);
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
    const MoeWorkloadSpec& spec = m_workload->GetSpec();
    if (!spec.eager)
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
                auto composition = std::move(w.pending[s]);
                w.pending[s].clear();
                SubmitBatch(group, unit, s, std::move(composition));
            }
        }
        if (w.running == 0)
        {
            // Nothing to compute (cannot happen for a non-empty plan); still answer.
            for (uint32_t n = 0; n < w.nodes; ++n)
            {
                if (w.srcExpected[n] > 0 && !w.srcCombined[n])
                {
                    SendCombine(group, unit, w, n);
                }
            }
        }
        return;
    }
    for (uint32_t s = 0; s < w.slots; ++s)
    {
        if (!w.pending[s].empty() && !w.windowOpen[s])
        {
            w.windowOpen[s] = true;
            Simulator::Schedule(PicoSeconds(spec.batchWindowPs),
                                &ExpertServerApp::Flush,
                                this,
                                group,
                                unit,
                                s);
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
ExpertServerApp::Flush(uint32_t group, uint32_t unit, uint32_t slot)
{
    auto it = m_work.find(Key(group, unit));
    NS_ABORT_MSG_IF(it == m_work.end(), "batch window of a released unit");
    Work& w = it->second;
    w.windowOpen[slot] = false;
    if (w.pending[slot].empty())
    {
        return;
    }
    auto composition = std::move(w.pending[slot]);
    w.pending[slot].clear();
    SubmitBatch(group, unit, slot, std::move(composition));
}

void
ExpertServerApp::SubmitBatch(uint32_t group,
                             uint32_t unit,
                             uint32_t /* slot */,
                             std::vector<std::pair<uint32_t, uint32_t>> composition)
{
    Work& w = m_work.at(Key(group, unit));
    uint64_t tokens = 0;
    for (const auto& c : composition)
    {
        tokens += c.second;
    }
    const uint32_t stage = m_workload->StageOf(unit);
    KernelCost cost = m_workload->GetComputeModel().RoutedExpert(tokens);
    if (m_workload->StageIsBackward(stage))
    {
        cost.flops *= 2;
        cost.bytes *= 2;
    }
    Ptr<GpuComputeEngine> engine = m_workload->GetEngine(m_gpu);
    const Time t = m_workload->GetComputeModel().KernelTime(cost, 1.0 / engine->GetStreams());
    ++w.running;
    engine->Submit(GpuComputeEngine::EXPERT,
                   t,
                   MakeCallback(&ExpertServerApp::OnBatchDone, this)
                       .Bind(group, unit, std::move(composition)));
}

void
ExpertServerApp::OnBatchDone(uint32_t group,
                             uint32_t unit,
                             std::vector<std::pair<uint32_t, uint32_t>> composition,
                             Time start,
                             Time end)
{
    m_workload->m_computePs[GpuComputeEngine::EXPERT] += (end - start).GetPicoSeconds();
    Work& w = m_work.at(Key(group, unit));
    --w.running;
    uint32_t tokens = 0;
    for (const auto& [n, picks] : composition)
    {
        tokens += picks;
        w.srcDone[n] += picks;
        if (w.srcFirstStart[n] < 0)
        {
            w.srcFirstStart[n] = start.GetPicoSeconds();
        }
    }
    m_batchTrace(group, unit, tokens, start, end);
    if (!m_workload->GetSpec().eager)
    {
        if (w.running > 0)
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
    for (const auto& c : composition)
    {
        const uint32_t n = c.first;
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
    const uint32_t stage = m_workload->StageOf(unit);
    const LayerPlan& plan = m_workload->GetUnitPlan(group, unit);
    const LayerPlanContext& pctx = m_workload->GetPlanContext(group);
    const MoeWorkloadSpec& spec = m_workload->GetSpec();
    const bool lowLatency = spec.dispatch == DispatchVariant::LOW_LATENCY;
    const uint64_t bpt = m_workload->ReturnBytesPerToken(stage);
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
    const uint64_t total = static_cast<uint64_t>(plan.PairTokens(n, x)) * bpt;
    const uint32_t chunks = dst == m_gpu ? 1 : m_workload->Chunks(total);
    for (uint32_t c = 0; c < chunks; ++c)
    {
        ctx.bytes = total * (c + 1) / chunks - total * c / chunks;
        m_workload->SendMessage(m_gpu, dst, ctx);
    }
}

void
ExpertServerApp::OnRelayDispatch(const MoeWorkload::MsgContext& ctx)
{
    const uint32_t stage = m_workload->StageOf(ctx.unit);
    const LayerPlan& plan = m_workload->GetUnitPlan(ctx.group, ctx.unit);
    const LayerPlanContext& pctx = m_workload->GetPlanContext(ctx.group);
    Relay& r = m_relay[Key(ctx.group, ctx.unit)];
    if (r.arrived.empty())
    {
        r.arrived.assign(plan.nodes, 0);
        r.contributions.assign(plan.nodes, 0);
        r.latest.assign(plan.nodes, MoeWorkload::MsgContext());
    }
    const uint32_t n = ctx.node;
    const uint64_t bpt = m_workload->SendBytesPerToken(stage);
    const uint64_t expected = static_cast<uint64_t>(plan.ServerTokens(n, ctx.server)) * bpt;
    r.arrived[n] += ctx.bytes;
    NS_ABORT_MSG_IF(r.arrived[n] > expected, "relay received more than the plan holds");
    if (r.arrived[n] < expected)
    {
        return;
    }
    // Everything for this server is here: hand each GPU of the server its tokens over NVLink.
    MoeWorkload::MsgContext fwd = ctx;
    for (uint32_t x = 0; x < plan.experts; ++x)
    {
        if (plan.serverOfExpertRank[x] != ctx.server || plan.PairTokens(n, x) == 0)
        {
            continue;
        }
        fwd.kind = MoeMessageKind::FORWARD;
        fwd.dstRank = x;
        fwd.bytes = static_cast<uint64_t>(plan.PairTokens(n, x)) * bpt;
        m_workload->SendMessage(m_gpu, pctx.expertGpus[x], fwd);
    }
}

void
ExpertServerApp::OnCombineContribution(const MoeWorkload::MsgContext& ctx)
{
    const uint32_t stage = m_workload->StageOf(ctx.unit);
    const LayerPlan& plan = m_workload->GetUnitPlan(ctx.group, ctx.unit);
    const LayerPlanContext& pctx = m_workload->GetPlanContext(ctx.group);
    Relay& r = m_relay[Key(ctx.group, ctx.unit)];
    NS_ABORT_MSG_IF(r.arrived.empty(), "combine contribution before any relayed dispatch");
    const uint32_t n = ctx.node;
    ++r.contributions[n];
    r.latest[n] = ctx;
    uint32_t expected = 0;
    for (uint32_t x = 0; x < plan.experts; ++x)
    {
        expected += plan.serverOfExpertRank[x] == ctx.server && plan.PairTokens(n, x) > 0;
    }
    if (r.contributions[n] < expected)
    {
        return;
    }
    // The server's results for node n are summed here and travel back as one copy per token.
    MoeWorkload::MsgContext back = r.latest[n];
    back.kind = MoeMessageKind::COMBINE;
    const uint64_t total = static_cast<uint64_t>(plan.ServerTokens(n, ctx.server)) *
                           m_workload->ReturnBytesPerToken(stage);
    const uint32_t dst = pctx.nodeGpus[n];
    const uint32_t chunks = m_workload->Chunks(total);
    for (uint32_t c = 0; c < chunks; ++c)
    {
        back.bytes = total * (c + 1) / chunks - total * c / chunks;
        m_workload->SendMessage(m_gpu, dst, back);
    }
}

void
ExpertServerApp::ReleaseUnit(uint32_t group, uint32_t unit)
{
    m_work.erase(Key(group, unit));
    m_relay.erase(Key(group, unit));
}

} // namespace moe
} // namespace ns3
