#include "gpu-node-app.h"

#include "expert-server-app.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/simulator.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("GpuNodeApp");

NS_OBJECT_ENSURE_REGISTERED(GpuNodeApp);

TypeId
GpuNodeApp::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::GpuNodeApp")
                            .SetParent<Application>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<GpuNodeApp>();
    return tid;
}

GpuNodeApp::GpuNodeApp() = default;

void
GpuNodeApp::Setup(MoeWorkload* workload, uint32_t group, uint32_t node, uint32_t gpu)
{
    m_workload = workload;
    m_group = group;
    m_node = node;
    m_gpu = gpu;
}

void
GpuNodeApp::DoDispose()
{
    m_workload = nullptr;
    m_units.clear();
    Application::DoDispose();
}

void
GpuNodeApp::StartApplication()
{
    // The first unit of every micro-batch chain starts with the application.
    const MoeWorkloadSpec& spec = m_workload->GetSpec();
    if (spec.stepped)
    {
        return; // a serving driver starts every step
    }
    const uint32_t chains = spec.overlapMicroBatches ? spec.microBatches : 1;
    for (uint32_t mb = 0; mb < chains; ++mb)
    {
        m_workload->StartUnit(m_group, m_workload->UnitIndex(0, 0, mb), m_node);
    }
}

void
GpuNodeApp::StopApplication()
{
}

void
GpuNodeApp::BeginUnit(uint32_t unit)
{
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    m_workload->UnitOf(unit, iteration, stage, mb);
    NS_LOG_FUNCTION(this << m_gpu << iteration << stage << mb);
    MoeUnitRecord& rec = m_workload->Record(m_group, unit, m_node);
    rec.start = Simulator::Now().GetPicoSeconds();
    m_units[unit] = UnitState();
    KernelCost cost = m_workload->UnitAttention(m_group, m_node);
    if (m_workload->StageIsBackward(stage))
    {
        cost.flops *= 2;
        cost.bytes *= 2;
    }
    const Time t = m_workload->GetComputeModel().KernelTime(cost);
    m_workload->GetEngine(m_gpu)->Submit(
        GpuComputeEngine::ATTENTION,
        t,
        MakeCallback(&GpuNodeApp::OnAttentionDone, this).Bind(unit));
}

void
GpuNodeApp::OnAttentionDone(uint32_t unit, Time start, Time end)
{
    m_workload->m_computePs[GpuComputeEngine::ATTENTION] += (end - start).GetPicoSeconds();
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    m_workload->UnitOf(unit, iteration, stage, mb);
    MoeUnitRecord& rec = m_workload->Record(m_group, unit, m_node);
    rec.attentionEnd = end.GetPicoSeconds();
    UnitState& st = m_units[unit];
    st.attentionDone = true;

    const MoeWorkloadSpec& spec = m_workload->GetSpec();
    const LayerPlan& plan =
        m_workload->GetPlan(m_group, iteration, m_workload->StageLayer(stage), mb);
    const LayerPlanContext& pctx = m_workload->GetPlanContext(m_group);
    const bool lowLatency = spec.dispatch == DispatchVariant::LOW_LATENCY;
    const bool hierarchical = spec.dispatch == DispatchVariant::HIERARCHICAL;
    const uint64_t sendBpt = m_workload->SendBytesPerToken(stage);
    const uint64_t returnBpt = m_workload->ReturnBytesPerToken(stage);
    const uint32_t n = m_node;

    if (spec.model.sharedExperts > 0)
    {
        st.sharedPending = true;
        if (spec.sharedExpertOverlap)
        {
            SubmitShared(unit);
        }
    }

    // Dispatch: bucket the routed tokens per destination and post the messages.
    MoeWorkload::MsgContext ctx;
    ctx.group = m_group;
    ctx.unit = unit;
    ctx.node = n;
    for (uint32_t x = 0; x < plan.experts; ++x)
    {
        const uint64_t copies = lowLatency ? plan.PairPicks(n, x) : plan.PairTokens(n, x);
        if (copies == 0)
        {
            continue;
        }
        if (hierarchical && plan.Relay(n, plan.serverOfExpertRank[x]) != UINT32_MAX)
        {
            continue; // through the relay of that server, below
        }
        // What comes back: one result per copy sent directly (per pick for low-latency)...
        st.combineExpected += copies * returnBpt;
        const uint32_t dst = pctx.expertGpus[x];
        ctx.kind = MoeMessageKind::DISPATCH;
        ctx.dstRank = x;
        if (dst != m_gpu)
        {
            rec.dispatchBytes += copies * sendBpt;
        }
        if (lowLatency)
        {
            ctx.bytes = sendBpt;
            for (uint64_t i = 0; i < copies; ++i)
            {
                m_workload->SendMessage(m_gpu, dst, ctx);
            }
            continue;
        }
        m_workload->SendChunked(m_gpu, dst, ctx, copies * sendBpt);
    }
    if (hierarchical)
    {
        for (uint32_t s = 0; s < plan.servers; ++s)
        {
            const uint32_t relay = plan.Relay(n, s);
            const uint64_t copies = plan.ServerTokens(n, s);
            if (relay == UINT32_MAX || copies == 0)
            {
                continue;
            }
            // ...and one per token and relayed server (the relay sums its server's results).
            st.combineExpected += copies * returnBpt;
            ctx.kind = MoeMessageKind::RELAY_DISPATCH;
            ctx.dstRank = relay;
            ctx.server = s;
            rec.dispatchBytes += copies * sendBpt;
            m_workload->SendChunked(m_gpu, pctx.expertGpus[relay], ctx, copies * sendBpt);
        }
    }
    if (st.combineExpected == 0)
    {
        st.combineDone = true;
        rec.combineDone = rec.attentionEnd;
        rec.expertReady = rec.computeStart = rec.combineSent = rec.attentionEnd;
        rec.criticalGpu = m_gpu;
        if (st.sharedPending && !spec.sharedExpertOverlap)
        {
            SubmitShared(unit);
        }
    }
    CheckDone(unit);
}

void
GpuNodeApp::SubmitShared(uint32_t unit)
{
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    m_workload->UnitOf(unit, iteration, stage, mb);
    KernelCost cost =
        m_workload->GetComputeModel().SharedExperts(m_workload->UnitTokens(m_group, m_node));
    if (m_workload->StageIsBackward(stage))
    {
        cost.flops *= 2;
        cost.bytes *= 2;
    }
    m_workload->GetEngine(m_gpu)->Submit(GpuComputeEngine::SHARED_EXPERT,
                                         m_workload->GetComputeModel().KernelTime(cost),
                                         MakeCallback(&GpuNodeApp::OnSharedDone, this).Bind(unit));
}

void
GpuNodeApp::OnSharedDone(uint32_t unit, Time start, Time end)
{
    m_workload->m_computePs[GpuComputeEngine::SHARED_EXPERT] += (end - start).GetPicoSeconds();
    m_units[unit].sharedPending = false;
    CheckDone(unit);
}

void
GpuNodeApp::OnCombinePart(const MoeWorkload::MsgContext& ctx)
{
    auto it = m_units.find(ctx.unit);
    NS_ABORT_MSG_IF(it == m_units.end(), "combine for a unit GPU " << m_gpu << " is not running");
    UnitState& st = it->second;
    st.combineArrived += ctx.bytes;
    NS_ABORT_MSG_IF(st.combineArrived > st.combineExpected,
                    "GPU " << m_gpu << " received more combine bytes than it expects");
    if (st.combineArrived < st.combineExpected)
    {
        return;
    }
    st.combineDone = true;
    MoeUnitRecord& rec = m_workload->Record(m_group, ctx.unit, m_node);
    rec.combineDone = Simulator::Now().GetPicoSeconds();
    rec.expertReady = ctx.ready;
    rec.computeStart = ctx.computeStart;
    rec.combineSent = ctx.sent;
    rec.criticalGpu = m_workload->GetPlanContext(m_group).expertGpus[ctx.originRank];
    const MoeWorkloadSpec& spec = m_workload->GetSpec();
    if (st.sharedPending && !spec.sharedExpertOverlap)
    {
        SubmitShared(ctx.unit);
    }
    CheckDone(ctx.unit);
}

void
GpuNodeApp::CheckDone(uint32_t unit)
{
    auto it = m_units.find(unit);
    if (it == m_units.end())
    {
        return;
    }
    const UnitState& st = it->second;
    if (!st.attentionDone || !st.combineDone || st.sharedPending)
    {
        return;
    }
    m_units.erase(it);
    MoeUnitRecord& rec = m_workload->Record(m_group, unit, m_node);
    rec.end = Simulator::Now().GetPicoSeconds();
    m_workload->NotifyUnitDone(m_group, unit, m_node);
}

} // namespace moe
} // namespace ns3
