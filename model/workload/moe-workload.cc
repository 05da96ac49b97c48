#include "moe-workload.h"

#include "expert-server-app.h"
#include "gpu-node-app.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <stdexcept>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("MoeWorkload");

NS_OBJECT_ENSURE_REGISTERED(MoeWorkload);

namespace
{
/// Largest number of per-stage records (about 80 bytes each) a workload may keep.
constexpr uint64_t MAX_UNIT_RECORDS = 1ull << 24;
} // namespace

const char*
MoeMessageKindName(MoeMessageKind k)
{
    switch (k)
    {
    case MoeMessageKind::DISPATCH:
        return "dispatch";
    case MoeMessageKind::RELAY_DISPATCH:
        return "relay-dispatch";
    case MoeMessageKind::FORWARD:
        return "forward";
    case MoeMessageKind::COMBINE:
        return "combine";
    case MoeMessageKind::COMBINE_TO_RELAY:
        return "combine-to-relay";
    case MoeMessageKind::ALLREDUCE:
        return "allreduce";
    case MoeMessageKind::KV_CACHE:
        return "kv-cache";
    }
    return "?";
}

TypeId
MoeWorkload::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::MoeWorkload")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddConstructor<MoeWorkload>()
            .AddTraceSource("UnitStart",
                            "A GPU started a stage: (group, node, iteration, stage, micro-batch).",
                            MakeTraceSourceAccessor(&MoeWorkload::m_unitStartTrace),
                            "ns3::moe::MoeWorkload::UnitTracedCallback")
            .AddTraceSource("UnitEnd",
                            "A GPU finished a stage: (group, node, iteration, stage, micro-batch).",
                            MakeTraceSourceAccessor(&MoeWorkload::m_unitEndTrace),
                            "ns3::moe::MoeWorkload::UnitTracedCallback");
    return tid;
}

MoeWorkload::MoeWorkload() = default;

MoeWorkload::~MoeWorkload() = default;

void
MoeWorkload::DoDispose()
{
    m_transport = nullptr;
    m_nodeApps.clear();
    m_expertApps.clear();
    m_engines.clear();
    m_groups.clear();
    m_doneCb = Callback<void>();
    Object::DoDispose();
}

void
MoeWorkload::Configure(const MoeWorkloadSpec& spec, const GpuLayout& layout)
{
    m_spec = spec;
    m_layout = layout;
    const std::string modelProblem = spec.model.Validate();
    if (!modelProblem.empty())
    {
        throw std::invalid_argument(modelProblem);
    }
    if (spec.microBatches < 1 || spec.microBatches > 2)
    {
        throw std::invalid_argument("workload.micro_batches: " + std::to_string(spec.microBatches) +
                                    "; accepted: 1 or 2");
    }
    if (spec.tokensPerGpu % spec.microBatches != 0)
    {
        throw std::invalid_argument(
            "workload.tokens_per_gpu: " + std::to_string(spec.tokensPerGpu) +
            " does not split into " + std::to_string(spec.microBatches) + " equal micro-batches");
    }
    if (spec.nodeGpus.empty())
    {
        throw std::invalid_argument("workload.gpus: no GPU owns tokens");
    }
    if (spec.stepped)
    {
        if (spec.mode != "inference" || spec.microBatches != 1 || spec.allReduce ||
            spec.replanEvery != 0)
        {
            throw std::invalid_argument(
                "workload.serving: serving steps are forward passes of one micro-batch; accepted: "
                "workload.mode \"inference\", schedule.micro_batches 1, no all-reduce, "
                "placement re-planning off");
        }
        m_spec.iterations = 0; // open-ended: counts the steps started (the most of any group)
    }
    m_compute = GpuComputeModel(spec.gpu, spec.model);
    m_stages = spec.mode == "training" ? 2 * spec.layers : spec.layers;
    // Every (GPU, iteration, stage, micro-batch) keeps a record for the outputs: refuse runs
    // whose records alone would not fit comfortably in memory.
    const uint64_t records = static_cast<uint64_t>(spec.iterations) * m_stages * spec.microBatches *
                             spec.nodeGpus.size();
    if (records > MAX_UNIT_RECORDS)
    {
        throw std::invalid_argument(
            "workload.iterations: " + std::to_string(spec.iterations) + " iterations x " +
            std::to_string(m_stages) + " stages x " + std::to_string(spec.microBatches) +
            " micro-batch(es) x " + std::to_string(spec.nodeGpus.size()) +
            " GPUs = " + std::to_string(records) + " per-stage records; accepted: at most " +
            std::to_string(MAX_UNIT_RECORDS) + " (fewer iterations, layers or GPUs)");
    }
    BuildGroups();
}

void
MoeWorkload::BuildGroups()
{
    const MoeWorkloadSpec& spec = m_spec;
    const uint32_t total = static_cast<uint32_t>(spec.nodeGpus.size());
    const uint32_t size = spec.groupSize == 0 ? total : spec.groupSize;
    if (total % size != 0)
    {
        throw std::invalid_argument("workload.ep_size: " + std::to_string(size) +
                                    " does not divide the " + std::to_string(total) +
                                    " GPUs of the workload into equal expert-parallel groups");
    }
    const uint32_t numGroups = total / size;
    const bool disaggregated = !spec.expertGpus.empty();
    std::shared_ptr<GateModel> gate(CreateGate(spec.gate).release());
    if (const auto* replay = dynamic_cast<const ReplayGateModel*>(gate.get()))
    {
        // Every (iteration, layer, rank) the run will route must be in the trace: a gap found
        // mid-run could only abort the simulation. Open-ended (stepped) runs may reach every
        // recorded iteration.
        const std::string missing =
            replay->FindMissing(spec.stepped ? 0 : spec.iterations, spec.layers, total);
        if (!missing.empty())
        {
            throw std::invalid_argument("gate.file: " + missing);
        }
    }
    m_groups.clear();
    m_groups.resize(numGroups);
    const uint32_t experts = spec.gate.numExperts;
    for (uint32_t g = 0; g < numGroups; ++g)
    {
        Group& grp = m_groups[g];
        grp.nodeGpus.assign(spec.nodeGpus.begin() + g * size,
                            spec.nodeGpus.begin() + (g + 1) * size);
        grp.gate = gate;
        LayerPlanContext& pc = grp.planCtx;
        pc.gate = gate.get();
        pc.nodeGpus = grp.nodeGpus;
        pc.expertGpus = disaggregated ? spec.expertGpus : grp.nodeGpus;
        pc.layout = &m_layout;
        pc.capacityFactor = spec.model.capacityFactor;
        pc.gateRankOffset = g * size;
        if (experts % pc.expertGpus.size() != 0)
        {
            throw std::invalid_argument(
                "workload.gpus: " + std::to_string(experts) +
                " routed experts do not spread "
                "evenly over " +
                std::to_string(pc.expertGpus.size()) +
                " expert GPUs; accepted: a GPU count that divides the expert count");
        }
        PlacementContext& ctx = grp.placeCtx;
        ctx.gpus = pc.expertGpus;
        const uint32_t ranks = ctx.Size();
        ctx.locality.resize(static_cast<size_t>(ranks) * ranks);
        for (uint32_t a = 0; a < ranks; ++a)
        {
            for (uint32_t b = 0; b < ranks; ++b)
            {
                ctx.locality[static_cast<size_t>(a) * ranks + b] =
                    m_layout.Between(ctx.gpus[a], ctx.gpus[b]);
            }
        }
        pc.selectorRank.resize(size);
        for (uint32_t n = 0; n < size; ++n)
        {
            if (!disaggregated)
            {
                pc.selectorRank[n] = n;
                continue;
            }
            // The nearest pool GPU; nodes that are equally near several share them out
            // (node n takes the (n mod ties)-th), so that no pool GPU is everyone's "own".
            Locality nearest = Locality::ACROSS_SPINE;
            for (uint32_t x = 0; x < ranks; ++x)
            {
                nearest = std::min(nearest, m_layout.Between(grp.nodeGpus[n], ctx.gpus[x]));
            }
            std::vector<uint32_t> ties;
            for (uint32_t x = 0; x < ranks; ++x)
            {
                if (m_layout.Between(grp.nodeGpus[n], ctx.gpus[x]) == nearest)
                {
                    ties.push_back(x);
                }
            }
            pc.selectorRank[n] = ties[n % ties.size()];
        }
        grp.placements.assign(spec.layers, {});
        if (!spec.stepped)
        {
            grp.records.assign(static_cast<size_t>(NumUnits()) * size, MoeUnitRecord());
            grp.unitDoneCount.assign(NumUnits(), 0);
        }
    }
    if (spec.allReduce && (spec.mode != "training" || numGroups < 2))
    {
        throw std::invalid_argument(
            "workload.allreduce.enabled: the data-parallel all-reduce runs in training between "
            "expert-parallel groups; this workload has " +
            std::to_string(numGroups) + " group(s) in " + spec.mode +
            " mode (set workload.ep_size to split the GPUs into at least 2 groups)");
    }
    m_expertTokens.assign(experts, 0);
    m_gpuTokens.assign(m_layout.NumGpus(), 0);
    // Fail on an impossible placement now, not in the middle of the run.
    for (uint32_t g = 0; g < numGroups; ++g)
    {
        GetPlacement(g, 0, 0);
    }
}

const MoeWorkloadSpec&
MoeWorkload::GetSpec() const
{
    return m_spec;
}

const ExpertPlacement&
MoeWorkload::GetPlacement(uint32_t group, uint32_t layer, uint32_t iteration)
{
    Group& grp = m_groups.at(group);
    const uint32_t epoch = m_spec.replanEvery == 0 ? 0 : iteration / m_spec.replanEvery;
    auto& epochs = grp.placements.at(layer);
    while (epochs.size() <= epoch)
    {
        const uint32_t k = static_cast<uint32_t>(epochs.size());
        const uint32_t experts = m_spec.gate.numExperts;
        if (k == 0)
        {
            // Plan from what the gate is expected to do: loads and co-selections sampled from
            // the gate itself for this layer (first iteration).
            const uint32_t ranks = grp.placeCtx.Size();
            const uint32_t nodes = static_cast<uint32_t>(grp.nodeGpus.size());
            const uint32_t sampleTokens = std::min<uint32_t>(m_spec.tokensPerGpu, 1024);
            const GateModel* gate = grp.gate.get();
            const uint32_t offset = grp.planCtx.gateRankOffset;
            CoSelectionStats stats = SampleCoSelection(
                [gate, offset](uint32_t it,
                               uint32_t l,
                               uint32_t r,
                               uint32_t t,
                               std::vector<uint32_t>& out) {
                    gate->Route(it, l, r + offset, t, out);
                },
                experts,
                gate->GetTopK(),
                nodes,
                sampleTokens,
                0,
                layer,
                m_spec.placement.type == "co-selection" ||
                    m_spec.placement.type == "topology-aware");
            if (nodes != ranks || !m_spec.expertGpus.empty())
            {
                // Disaggregated: attribute each node's picks to its nearest expert GPU.
                std::vector<double> rankLoad(static_cast<size_t>(ranks) * experts, 0.0);
                for (uint32_t n = 0; n < nodes; ++n)
                {
                    const uint32_t r = grp.planCtx.selectorRank[n];
                    for (uint32_t e = 0; e < experts; ++e)
                    {
                        rankLoad[static_cast<size_t>(r) * experts + e] +=
                            stats.rankLoad[static_cast<size_t>(n) * experts + e];
                    }
                }
                stats.rankLoad = std::move(rankLoad);
            }
            PlacementSpec ps = m_spec.placement;
            ps.seed = m_spec.seed * 1000003ull + group * 131ull + layer;
            epochs.push_back(PlaceExperts(ps, experts, grp.placeCtx, stats));
            continue;
        }
        // Re-plan the replicas from the picks measured over the previous window.
        std::vector<double> load(experts, 0.0);
        for (uint32_t it = (k - 1) * m_spec.replanEvery; it < k * m_spec.replanEvery; ++it)
        {
            for (uint32_t mb = 0; mb < m_spec.microBatches; ++mb)
            {
                if (grp.builtPlans.count(PlanKey(it, layer, mb)) == 0)
                {
                    GetPlan(group, it, layer, mb); // its counts are recorded when it is built
                }
            }
            const auto& measured = grp.measured.at(PlanKey(it, layer, 0));
            for (uint32_t e = 0; e < experts; ++e)
            {
                load[e] += static_cast<double>(measured[e]);
            }
        }
        ExpertPlacement next = Replan(grp.placements[layer][k - 1],
                                      m_spec.placement.redundantSlotsPerGpu,
                                      load,
                                      grp.placeCtx);
        grp.placements[layer].push_back(std::move(next));
    }
    return grp.placements[layer][epoch];
}

const LayerPlan&
MoeWorkload::GetPlan(uint32_t group, uint32_t iteration, uint32_t layer, uint32_t mb)
{
    Group& grp = m_groups.at(group);
    const uint64_t key = PlanKey(iteration, layer, mb);
    auto it = grp.plans.find(key);
    if (it != grp.plans.end())
    {
        return *it->second;
    }
    NS_ABORT_MSG_IF(grp.builtPlans.count(key) != 0,
                    "plan of group " << group << " iteration " << iteration << " layer " << layer
                                     << " was released and asked for again");
    const ExpertPlacement& placement = GetPlacement(group, layer, iteration);
    ReplicaSelector selector(m_spec.selection, &placement, &grp.placeCtx);
    // A serving step routes each node's own number of tokens; an iteration the same number
    // on every node, split into micro-batches.
    const std::vector<uint32_t>* nodeTokens = m_spec.stepped ? &grp.step.tokens : nullptr;
    const uint32_t tokensPerNode = m_spec.stepped
                                       ? *std::max_element(nodeTokens->begin(), nodeTokens->end())
                                       : m_spec.tokensPerGpu / m_spec.microBatches;
    auto plan = std::make_shared<LayerPlan>(BuildLayerPlan(grp.planCtx,
                                                           placement,
                                                           selector,
                                                           iteration,
                                                           layer,
                                                           mb,
                                                           tokensPerNode,
                                                           m_spec.stepped ? 0 : m_spec.tokensPerGpu,
                                                           nodeTokens));
    grp.builtPlans.insert(key);
    // Statistics, once per plan (deterministic: independent of timing).
    auto& measured = grp.measured[PlanKey(iteration, layer, 0)];
    measured.resize(plan->numExperts, 0);
    for (uint32_t e = 0; e < plan->numExperts; ++e)
    {
        measured[e] += plan->expertTokens[e];
        m_expertTokens[e] += plan->expertTokens[e];
    }
    for (uint32_t x = 0; x < plan->experts; ++x)
    {
        uint64_t picks = 0;
        for (uint32_t n = 0; n < plan->nodes; ++n)
        {
            picks += plan->PairPicks(n, x);
        }
        m_gpuTokens[grp.planCtx.expertGpus[x]] += picks;
    }
    const auto bytes = DispatchBytesByLocality(*plan,
                                               grp.planCtx,
                                               m_spec.dispatch,
                                               m_spec.model.DispatchBytesPerToken());
    for (size_t l = 0; l < 4; ++l)
    {
        m_localityBytes[l] += bytes[l];
    }
    m_droppedPicks += plan->droppedPicks;
    m_routedPicks += plan->picks;
    return *grp.plans.emplace(key, std::move(plan)).first->second;
}

const LayerPlan&
MoeWorkload::GetUnitPlan(uint32_t group, uint32_t unit)
{
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    UnitOf(unit, iteration, stage, mb);
    return GetPlan(group, iteration, StageLayer(stage), mb);
}

uint32_t
MoeWorkload::StageOf(uint32_t unit) const
{
    return (unit / m_spec.microBatches) % m_stages;
}

const LayerPlanContext&
MoeWorkload::GetPlanContext(uint32_t group) const
{
    return m_groups.at(group).planCtx;
}

GpuComputeModel&
MoeWorkload::GetComputeModel()
{
    return m_compute;
}

Ptr<GpuComputeEngine>
MoeWorkload::GetEngine(uint32_t gpu) const
{
    return m_engines.at(gpu);
}

Ptr<ExpertServerApp>
MoeWorkload::GetExpertServer(uint32_t gpu) const
{
    return m_expertApps.at(gpu);
}

Ptr<GpuNodeApp>
MoeWorkload::GetNodeApp(uint32_t gpu) const
{
    return m_nodeApps.at(gpu);
}

uint32_t
MoeWorkload::NumUnits() const
{
    return m_spec.iterations * m_stages * m_spec.microBatches;
}

void
MoeWorkload::UnitOf(uint32_t unit, uint32_t& iteration, uint32_t& stage, uint32_t& mb) const
{
    mb = unit % m_spec.microBatches;
    const uint32_t rest = unit / m_spec.microBatches;
    stage = rest % m_stages;
    iteration = rest / m_stages;
}

uint32_t
MoeWorkload::UnitIndex(uint32_t iteration, uint32_t stage, uint32_t mb) const
{
    return (iteration * m_stages + stage) * m_spec.microBatches + mb;
}

uint64_t
MoeWorkload::PlanKey(uint32_t iteration, uint32_t layer, uint32_t mb) const
{
    return (static_cast<uint64_t>(iteration) * m_spec.layers + layer) * m_spec.microBatches + mb;
}

MoeUnitRecord&
MoeWorkload::Record(uint32_t group, uint32_t unit, uint32_t node)
{
    Group& grp = m_groups[group];
    return grp.records[static_cast<size_t>(unit) * grp.nodeGpus.size() + node];
}

const MoeUnitRecord&
MoeWorkload::GetRecord(uint32_t group,
                       uint32_t iteration,
                       uint32_t stage,
                       uint32_t microBatch,
                       uint32_t node) const
{
    const Group& grp = m_groups.at(group);
    const size_t i =
        static_cast<size_t>(UnitIndex(iteration, stage, microBatch)) * grp.nodeGpus.size() + node;
    if (m_spec.stepped && i >= grp.records.size())
    {
        // A step this group never ran (groups run different numbers of steps).
        static const MoeUnitRecord never;
        return never;
    }
    return grp.records.at(i);
}

uint32_t
MoeWorkload::GetNumGroups() const
{
    return static_cast<uint32_t>(m_groups.size());
}

uint32_t
MoeWorkload::GetStagesPerIteration() const
{
    return m_stages;
}

uint32_t
MoeWorkload::StageLayer(uint32_t stage) const
{
    return stage < m_spec.layers ? stage : 2 * m_spec.layers - 1 - stage;
}

bool
MoeWorkload::StageIsBackward(uint32_t stage) const
{
    return stage >= m_spec.layers;
}

const std::vector<uint32_t>&
MoeWorkload::GetGroupNodes(uint32_t group) const
{
    return m_groups.at(group).nodeGpus;
}

uint64_t
MoeWorkload::SendBytesPerToken(uint32_t stage) const
{
    return StageIsBackward(stage) ? m_spec.model.GradientBytesPerToken()
                                  : m_spec.model.DispatchBytesPerToken();
}

uint64_t
MoeWorkload::ReturnBytesPerToken(uint32_t stage) const
{
    return StageIsBackward(stage) ? m_spec.model.GradientBytesPerToken()
                                  : m_spec.model.CombineBytesPerToken();
}

uint32_t
MoeWorkload::Chunks(uint64_t bytes) const
{
    if (m_spec.chunkBytes == 0 || bytes <= m_spec.chunkBytes)
    {
        return 1;
    }
    return static_cast<uint32_t>((bytes + m_spec.chunkBytes - 1) / m_spec.chunkBytes);
}

void
MoeWorkload::Install(const NodeContainer& gpuNodes, Ptr<MessageTransport> transport)
{
    NS_ABORT_MSG_IF(m_groups.empty(), "MoeWorkload::Install needs Configure()");
    m_transport = transport;
    m_transport->SetDeliveredCallback(MakeCallback(&MoeWorkload::OnDelivered, this));
    const uint32_t gpus = m_layout.NumGpus();
    m_engines.assign(gpus, nullptr);
    m_nodeApps.assign(gpus, nullptr);
    m_expertApps.assign(gpus, nullptr);
    auto engine = [&](uint32_t gpu) {
        if (m_engines[gpu] == nullptr)
        {
            m_engines[gpu] = CreateObject<GpuComputeEngine>();
            m_engines[gpu]->SetAttribute("Streams", UintegerValue(m_spec.streams));
        }
    };
    for (uint32_t g = 0; g < m_groups.size(); ++g)
    {
        const Group& grp = m_groups[g];
        for (uint32_t n = 0; n < grp.nodeGpus.size(); ++n)
        {
            const uint32_t gpu = grp.nodeGpus[n];
            engine(gpu);
            Ptr<GpuNodeApp> app = CreateObject<GpuNodeApp>();
            app->Setup(this, g, n, gpu);
            gpuNodes.Get(gpu)->AddApplication(app);
            m_nodeApps[gpu] = app;
        }
        for (uint32_t gpu : grp.planCtx.expertGpus)
        {
            engine(gpu);
            if (m_expertApps[gpu] == nullptr)
            {
                Ptr<ExpertServerApp> app = CreateObject<ExpertServerApp>();
                app->Setup(this, gpu);
                gpuNodes.Get(gpu)->AddApplication(app);
                m_expertApps[gpu] = app;
            }
        }
    }
}

void
MoeWorkload::Start(Time at)
{
    for (auto& app : m_nodeApps)
    {
        if (app != nullptr)
        {
            app->SetStartTime(at);
        }
    }
    for (auto& app : m_expertApps)
    {
        if (app != nullptr)
        {
            app->SetStartTime(at);
        }
    }
    uint32_t chains = m_spec.overlapMicroBatches ? m_spec.microBatches : 1;
    m_chainsTotal = 0;
    m_totalNodes = 0;
    for (const Group& grp : m_groups)
    {
        m_chainsTotal += chains * static_cast<uint32_t>(grp.nodeGpus.size());
        m_totalNodes += static_cast<uint32_t>(grp.nodeGpus.size());
    }
    if (m_spec.allReduce)
    {
        const size_t pairs = static_cast<size_t>(m_spec.iterations) * m_spec.layers;
        m_rings.assign(pairs * m_totalNodes, RingState());
        m_ringsDone.assign(static_cast<size_t>(m_spec.iterations) * m_totalNodes, 0);
        m_held.assign(m_totalNodes, {});
        m_allReduceWaitPs.assign(static_cast<size_t>(m_spec.iterations) * m_totalNodes, 0);
        m_allReduceSpanPs.assign(pairs, -1);
        m_allReduceStartPs.assign(pairs, -1);
        m_ringFinished.assign(pairs, 0);
    }
}

void
MoeWorkload::StartOrHold(uint32_t group, uint32_t unit, uint32_t node)
{
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    UnitOf(unit, iteration, stage, mb);
    const uint32_t size = static_cast<uint32_t>(m_groups[0].nodeGpus.size());
    const uint32_t global = group * size + node;
    if (m_spec.allReduce && stage == 0 && iteration > 0 &&
        m_ringsDone[static_cast<size_t>(iteration - 1) * m_totalNodes + global] < m_spec.layers)
    {
        // The optimizer step needs the previous iteration's reduced gradients.
        m_held[global].push_back({unit, Simulator::Now().GetPicoSeconds()});
        return;
    }
    StartUnit(group, unit, node);
}

void
MoeWorkload::StartAllReduce(uint32_t group, uint32_t node, uint32_t iteration, uint32_t layer)
{
    const uint32_t size = static_cast<uint32_t>(m_groups[0].nodeGpus.size());
    const size_t pair = static_cast<size_t>(iteration) * m_spec.layers + layer;
    RingState& r = m_rings[pair * m_totalNodes + group * size + node];
    r.started = true;
    ++m_ringsOutstanding;
    if (m_allReduceStartPs[pair] < 0)
    {
        m_allReduceStartPs[pair] = Simulator::Now().GetPicoSeconds();
    }
    PumpAllReduce(group, node, iteration, layer);
}

void
MoeWorkload::PumpAllReduce(uint32_t group, uint32_t node, uint32_t iteration, uint32_t layer)
{
    const uint32_t size = static_cast<uint32_t>(m_groups[0].nodeGpus.size());
    const uint32_t d = static_cast<uint32_t>(m_groups.size());
    const uint32_t steps = 2 * (d - 1);
    const size_t pair = static_cast<size_t>(iteration) * m_spec.layers + layer;
    const uint32_t global = group * size + node;
    RingState& r = m_rings[pair * m_totalNodes + global];
    const uint64_t total = m_spec.allReduceBytesPerLayer;
    // Ring step s sends one chunk to the next group's GPU of the same rank; step s > 0 forwards
    // (reduced) what step s - 1 brought, so it waits for that chunk.
    while (r.started && r.sent < steps && r.received >= r.sent)
    {
        const uint32_t chunk = (group + d - r.sent % d) % d;
        MsgContext ctx;
        ctx.kind = MoeMessageKind::ALLREDUCE;
        ctx.group = group;
        ctx.unit = static_cast<uint32_t>(pair);
        ctx.node = node;
        ctx.dstRank = (group + 1) % d;
        ctx.bytes = total * (chunk + 1) / d - total * chunk / d;
        ++r.sent;
        SendMessage(m_groups[group].nodeGpus[node], m_groups[ctx.dstRank].nodeGpus[node], ctx);
    }
    if (!r.started || r.sent < steps || r.received < steps)
    {
        return;
    }
    r.started = false; // finished: never counted twice
    --m_ringsOutstanding;
    const int64_t now = Simulator::Now().GetPicoSeconds();
    if (++m_ringFinished[pair] == m_totalNodes)
    {
        m_allReduceSpanPs[pair] = now - m_allReduceStartPs[pair];
    }
    if (++m_ringsDone[static_cast<size_t>(iteration) * m_totalNodes + global] == m_spec.layers)
    {
        auto held = std::move(m_held[global]);
        m_held[global].clear();
        for (const auto& [unit, since] : held)
        {
            m_allReduceWaitPs[static_cast<size_t>(iteration + 1) * m_totalNodes + global] =
                std::max(
                    m_allReduceWaitPs[static_cast<size_t>(iteration + 1) * m_totalNodes + global],
                    now - since);
            StartUnit(group, unit, node);
        }
    }
    CheckAllDone();
}

void
MoeWorkload::OnAllReduceChunk(const MsgContext& ctx)
{
    const uint32_t size = static_cast<uint32_t>(m_groups[0].nodeGpus.size());
    const uint32_t group = ctx.dstRank;
    const size_t pair = ctx.unit;
    ++m_rings[pair * m_totalNodes + group * size + ctx.node].received;
    PumpAllReduce(group,
                  ctx.node,
                  static_cast<uint32_t>(pair / m_spec.layers),
                  static_cast<uint32_t>(pair % m_spec.layers));
}

const std::vector<int64_t>&
MoeWorkload::GetAllReduceSpansPs() const
{
    return m_allReduceSpanPs;
}

const std::vector<int64_t>&
MoeWorkload::GetAllReduceWaitPs() const
{
    return m_allReduceWaitPs;
}

void
MoeWorkload::SetDoneCallback(Callback<void> cb)
{
    m_doneCb = cb;
}

bool
MoeWorkload::IsDone() const
{
    return m_done;
}

void
MoeWorkload::SetRecordMessages(bool record)
{
    m_recordMessages = record;
}

void
MoeWorkload::SendMessage(uint32_t srcGpu, uint32_t dstGpu, const MsgContext& ctx)
{
    uint64_t tag;
    if (!m_freeTags.empty())
    {
        tag = m_freeTags.back();
        m_freeTags.pop_back();
        m_msgs[tag] = ctx;
    }
    else
    {
        tag = m_msgs.size();
        m_msgs.push_back(ctx);
    }
    if (srcGpu == dstGpu)
    {
        // A copy inside the GPU: no fabric, completes now (after the current event).
        MessageRecord record;
        record.src = srcGpu;
        record.dst = dstGpu;
        record.bytes = ctx.bytes;
        record.tag = tag;
        Simulator::ScheduleNow(&MoeWorkload::Deliver, this, record, false);
        return;
    }
    const size_t k = static_cast<size_t>(ctx.kind);
    ++m_kindMessages[k];
    m_kindBytes[k] += ctx.bytes;
    const bool combine =
        ctx.kind == MoeMessageKind::COMBINE || ctx.kind == MoeMessageKind::COMBINE_TO_RELAY;
    uint8_t cls = ctx.kind == MoeMessageKind::ALLREDUCE
                      ? m_spec.allReduceClass
                      : (combine ? m_spec.combineClass : m_spec.dispatchClass);
    if (ctx.kind == MoeMessageKind::KV_CACHE)
    {
        cls = ctx.kvClass; // its own class, whatever the group's override
    }
    else if (ctx.kind != MoeMessageKind::ALLREDUCE && ctx.group < m_groupClass.size() &&
             m_groupClass[ctx.group] >= 0)
    {
        cls = static_cast<uint8_t>(m_groupClass[ctx.group]);
    }
    m_transport->Send(srcGpu, dstGpu, cls, ctx.bytes, tag);
}

void
MoeWorkload::SendKvCache(uint32_t srcGpu,
                         uint32_t dstGpu,
                         uint8_t cls,
                         uint64_t bytes,
                         uint32_t request,
                         uint32_t group,
                         uint32_t unit)
{
    MsgContext ctx;
    ctx.kind = MoeMessageKind::KV_CACHE;
    ctx.group = group;
    ctx.unit = unit;
    ctx.bytes = bytes;
    ctx.request = request;
    ctx.kvClass = cls;
    SendMessage(srcGpu, dstGpu, ctx);
}

void
MoeWorkload::SetKvDeliveredCallback(Callback<void, uint32_t, uint64_t> cb)
{
    m_kvDeliveredCb = cb;
}

void
MoeWorkload::SetGroupTrafficClass(uint32_t group, uint8_t cls)
{
    if (m_groupClass.size() <= group)
    {
        m_groupClass.resize(group + 1, -1);
    }
    m_groupClass[group] = cls;
}

void
MoeWorkload::SendChunked(uint32_t srcGpu, uint32_t dstGpu, MsgContext ctx, uint64_t total)
{
    const uint32_t chunks = srcGpu == dstGpu ? 1 : Chunks(total);
    for (uint32_t c = 0; c < chunks; ++c)
    {
        ctx.bytes = total * (c + 1) / chunks - total * c / chunks;
        SendMessage(srcGpu, dstGpu, ctx);
    }
}

void
MoeWorkload::OnDelivered(const MessageRecord& record)
{
    Deliver(record, true);
}

void
MoeWorkload::Deliver(MessageRecord record, bool fabric)
{
    const MsgContext ctx = m_msgs.at(record.tag);
    m_freeTags.push_back(record.tag);
    const bool combine =
        ctx.kind == MoeMessageKind::COMBINE || ctx.kind == MoeMessageKind::COMBINE_TO_RELAY;
    if (fabric && ctx.kind != MoeMessageKind::ALLREDUCE && ctx.kind != MoeMessageKind::KV_CACHE)
    {
        m_deliveryPs[combine ? 1 : 0].push_back((record.delivered - record.start).GetPicoSeconds());
    }
    if (fabric && m_recordMessages)
    {
        MessageLog log;
        log.record = record;
        log.kind = ctx.kind;
        log.group = ctx.group;
        if (ctx.kind == MoeMessageKind::ALLREDUCE)
        {
            // unit holds (iteration, layer); report the layer's backward stage.
            log.iteration = ctx.unit / m_spec.layers;
            log.stage = 2 * m_spec.layers - 1 - ctx.unit % m_spec.layers;
            log.microBatch = 0;
        }
        else
        {
            UnitOf(ctx.unit, log.iteration, log.stage, log.microBatch);
        }
        m_log.push_back(log);
    }
    switch (ctx.kind)
    {
    case MoeMessageKind::DISPATCH:
    case MoeMessageKind::FORWARD:
        m_expertApps.at(record.dst)->OnDispatchPart(ctx);
        break;
    case MoeMessageKind::RELAY_DISPATCH:
        m_expertApps.at(record.dst)->OnRelayDispatch(ctx);
        break;
    case MoeMessageKind::COMBINE_TO_RELAY:
        m_expertApps.at(record.dst)->OnCombineContribution(ctx);
        break;
    case MoeMessageKind::COMBINE:
        m_nodeApps.at(record.dst)->OnCombinePart(ctx);
        break;
    case MoeMessageKind::ALLREDUCE:
        OnAllReduceChunk(ctx);
        break;
    case MoeMessageKind::KV_CACHE:
        if (!m_kvDeliveredCb.IsNull())
        {
            m_kvDeliveredCb(ctx.request, ctx.bytes);
        }
        break;
    }
}

uint32_t
MoeWorkload::Successor(uint32_t unit) const
{
    if (m_spec.stepped)
    {
        // A serving step ends after its last layer; the driver starts the next one.
        return StageOf(unit) + 1 < m_stages ? unit + 1 : UINT32_MAX;
    }
    // Overlapped micro-batches form independent chains; back to back, micro-batches alternate.
    const uint32_t step = m_spec.overlapMicroBatches ? m_spec.microBatches : 1;
    return unit + step < NumUnits() ? unit + step : UINT32_MAX;
}

void
MoeWorkload::StartUnit(uint32_t group, uint32_t unit, uint32_t node)
{
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    UnitOf(unit, iteration, stage, mb);
    // The previous unit of this chain ends its barrier wait (and any all-reduce hold) now.
    const uint32_t step = m_spec.overlapMicroBatches ? m_spec.microBatches : 1;
    if (unit >= step)
    {
        Record(group, unit - step, node).next = Simulator::Now().GetPicoSeconds();
    }
    m_unitStartTrace(group, node, iteration, stage, mb);
    m_nodeApps[m_groups[group].nodeGpus[node]]->BeginUnit(unit);
}

void
MoeWorkload::NotifyUnitDone(uint32_t group, uint32_t unit, uint32_t node)
{
    Group& grp = m_groups[group];
    const uint32_t nodes = static_cast<uint32_t>(grp.nodeGpus.size());
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    UnitOf(unit, iteration, stage, mb);
    m_unitEndTrace(group, node, iteration, stage, mb);
    if (m_spec.allReduce && StageIsBackward(stage))
    {
        // The layer's gradients are complete on this GPU once every micro-batch's backward
        // pass through it is done.
        const uint32_t units = m_spec.microBatches;
        bool all = true;
        for (uint32_t m = 0; m < units; ++m)
        {
            all = all && Record(group, UnitIndex(iteration, stage, m), node).end >= 0;
        }
        if (all)
        {
            StartAllReduce(group, node, iteration, StageLayer(stage));
        }
    }
    const uint32_t count = ++grp.unitDoneCount[unit];
    const uint32_t next = Successor(unit);
    if (m_spec.stepped && next == UINT32_MAX)
    {
        if (count == nodes)
        {
            ReleaseUnit(group, unit);
            grp.stepRunning = false;
            if (!m_stepDoneCb.IsNull())
            {
                m_stepDoneCb(group, iteration);
            }
        }
        return;
    }
    if (m_spec.globalBarrier)
    {
        if (count == nodes)
        {
            for (uint32_t n = 0; n < nodes; ++n)
            {
                if (next != UINT32_MAX)
                {
                    StartOrHold(group, next, n);
                }
                else
                {
                    ChainDone();
                }
            }
        }
    }
    else if (next != UINT32_MAX)
    {
        StartOrHold(group, next, node);
    }
    else
    {
        ChainDone();
    }
    if (count == nodes)
    {
        ReleaseUnit(group, unit);
    }
}

uint32_t
MoeWorkload::BeginStep(uint32_t group, const MoeStepShape& shape)
{
    NS_ABORT_MSG_IF(!m_spec.stepped, "MoeWorkload::BeginStep needs a stepped (serving) workload");
    Group& grp = m_groups.at(group);
    const uint32_t nodes = static_cast<uint32_t>(grp.nodeGpus.size());
    NS_ABORT_MSG_IF(grp.stepRunning, "group " << group << " is still running a step");
    NS_ABORT_MSG_IF(shape.tokens.size() != nodes || shape.attention.size() != nodes,
                    "a step shape needs one token count and attention cost per node");
    const uint32_t step = grp.steps++;
    m_spec.iterations = std::max(m_spec.iterations, grp.steps);
    grp.step = shape;
    grp.stepRunning = true;
    grp.records.resize(static_cast<size_t>(grp.steps) * m_stages * nodes);
    grp.unitDoneCount.resize(static_cast<size_t>(grp.steps) * m_stages, 0);
    if (m_spec.replanEvery == 0)
    {
        grp.measured.clear(); // only re-planning reads it
    }
    const uint32_t first = UnitIndex(step, 0, 0);
    for (uint32_t n = 0; n < nodes; ++n)
    {
        StartUnit(group, first, n);
    }
    return step;
}

void
MoeWorkload::SetStepDoneCallback(Callback<void, uint32_t, uint32_t> cb)
{
    m_stepDoneCb = cb;
}

void
MoeWorkload::FinishSteps()
{
    if (m_done)
    {
        return;
    }
    m_done = true;
    m_endTime = Simulator::Now();
    if (!m_doneCb.IsNull())
    {
        m_doneCb();
    }
}

uint32_t
MoeWorkload::GetStepsStarted(uint32_t group) const
{
    return m_groups.at(group).steps;
}

uint32_t
MoeWorkload::UnitTokens(uint32_t group, uint32_t node) const
{
    if (m_spec.stepped)
    {
        return m_groups.at(group).step.tokens.at(node);
    }
    return m_spec.tokensPerGpu / m_spec.microBatches;
}

KernelCost
MoeWorkload::UnitAttention(uint32_t group, uint32_t node) const
{
    if (m_spec.stepped)
    {
        return m_groups.at(group).step.attention.at(node);
    }
    return m_compute.Attention(m_spec.tokensPerGpu / m_spec.microBatches, m_spec.contextTokens);
}

void
MoeWorkload::ChainDone()
{
    ++m_chainsDone;
    CheckAllDone();
}

void
MoeWorkload::CheckAllDone()
{
    if (m_chainsDone == m_chainsTotal && m_ringsOutstanding == 0 && !m_done)
    {
        m_done = true;
        m_endTime = Simulator::Now();
        if (!m_doneCb.IsNull())
        {
            m_doneCb();
        }
    }
}

void
MoeWorkload::ReleaseUnit(uint32_t group, uint32_t unit)
{
    Group& grp = m_groups[group];
    for (uint32_t gpu : grp.planCtx.expertGpus)
    {
        m_expertApps[gpu]->ReleaseUnit(group, unit);
    }
    uint32_t iteration;
    uint32_t stage;
    uint32_t mb;
    UnitOf(unit, iteration, stage, mb);
    // The backward stage of a layer reuses its forward plan; release after the last user.
    if (m_spec.mode != "training" || StageIsBackward(stage))
    {
        grp.plans.erase(PlanKey(iteration, StageLayer(stage), mb));
    }
}

const std::vector<uint64_t>&
MoeWorkload::GetExpertTokens() const
{
    return m_expertTokens;
}

const std::vector<uint64_t>&
MoeWorkload::GetGpuTokens() const
{
    return m_gpuTokens;
}

const std::array<uint64_t, 4>&
MoeWorkload::GetDispatchBytesByLocality() const
{
    return m_localityBytes;
}

uint64_t
MoeWorkload::GetDroppedPicks() const
{
    return m_droppedPicks;
}

uint64_t
MoeWorkload::GetRoutedPicks() const
{
    return m_routedPicks;
}

const std::array<uint64_t, NUM_MOE_MESSAGE_KINDS>&
MoeWorkload::GetMessagesByKind() const
{
    return m_kindMessages;
}

const std::array<uint64_t, NUM_MOE_MESSAGE_KINDS>&
MoeWorkload::GetBytesByKind() const
{
    return m_kindBytes;
}

const std::array<int64_t, 3>&
MoeWorkload::GetComputePs() const
{
    return m_computePs;
}

bool
MoeWorkload::IsComputing() const
{
    for (const auto& e : m_engines)
    {
        if (e != nullptr && e->IsBusy())
        {
            return true;
        }
    }
    return false;
}

bool
MoeWorkload::IsBatchWindowOpen() const
{
    for (const auto& app : m_expertApps)
    {
        if (app != nullptr && app->GetOpenBatchWindows() > 0)
        {
            return true;
        }
    }
    return false;
}

Time
MoeWorkload::GetEndTime() const
{
    return m_endTime;
}

const std::vector<int64_t>&
MoeWorkload::GetDeliveryTimesPs(bool combine) const
{
    return m_deliveryPs[combine ? 1 : 0];
}

const std::vector<MoeWorkload::MessageLog>&
MoeWorkload::GetMessageLog() const
{
    return m_log;
}

} // namespace moe
} // namespace ns3
