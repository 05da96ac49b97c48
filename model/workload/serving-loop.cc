#include "serving-loop.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/simulator.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("ServingLoop");

NS_OBJECT_ENSURE_REGISTERED(ServingLoop);

TypeId
ServingLoop::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::ServingLoop")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddConstructor<ServingLoop>()
            .AddTraceSource("RequestDone",
                            "A request produced its last output token: (id, class, time).",
                            MakeTraceSourceAccessor(&ServingLoop::m_requestDone),
                            "ns3::moe::ServingLoop::RequestTracedCallback");
    return tid;
}

ServingLoop::ServingLoop() = default;

ServingLoop::~ServingLoop() = default;

void
ServingLoop::DoDispose()
{
    m_workload = nullptr;
    m_groups.clear();
    Object::DoDispose();
}

void
ServingLoop::Setup(const ServingSpec& spec,
                   std::vector<ServingRequest> requests,
                   Ptr<MoeWorkload> workload)
{
    NS_ABORT_MSG_IF(!workload->GetSpec().stepped, "ServingLoop needs a stepped MoeWorkload");
    m_spec = spec;
    m_workload = workload;
    const uint32_t groups = workload->GetNumGroups();
    const uint32_t size = static_cast<uint32_t>(workload->GetGroupNodes(0).size());
    m_groups.assign(groups, GroupState());
    for (auto& g : m_groups)
    {
        g.waiting.assign(size, {});
        g.running.assign(size, {});
        g.batch.assign(size, {});
    }
    m_records.clear();
    m_records.reserve(requests.size());
    for (const ServingRequest& r : requests)
    {
        ServingRequestRecord rec;
        rec.request = r;
        // Round-robin over every node GPU of every group, in arrival order.
        const uint32_t slot = r.id % (groups * size);
        rec.group = slot / size;
        rec.gpu = workload->GetGroupNodes(rec.group)[slot % size];
        m_records.push_back(rec);
    }
    workload->SetStepDoneCallback(MakeCallback(&ServingLoop::OnStepDone, this));
}

void
ServingLoop::Start(Time at)
{
    m_start = at;
    if (m_records.empty())
    {
        Simulator::Schedule(at, &MoeWorkload::FinishSteps, m_workload);
        return;
    }
    for (uint32_t i = 0; i < m_records.size(); ++i)
    {
        Simulator::Schedule(at + PicoSeconds(m_records[i].request.arrivalPs),
                            &ServingLoop::OnArrival,
                            this,
                            i);
    }
}

void
ServingLoop::OnArrival(uint32_t request)
{
    ++m_arrived;
    const ServingRequestRecord& rec = m_records[request];
    const uint32_t size = static_cast<uint32_t>(m_groups[0].waiting.size());
    const uint32_t node = (rec.request.id % (m_groups.size() * size)) % size;
    m_groups[rec.group].waiting[node].push_back(request);
    TryStep(rec.group);
}

void
ServingLoop::TryStep(uint32_t group)
{
    GroupState& g = m_groups[group];
    if (g.busy)
    {
        return; // the request joins the next step
    }
    const uint32_t nodes = static_cast<uint32_t>(g.waiting.size());
    const int64_t now = Simulator::Now().GetPicoSeconds() - m_start.GetPicoSeconds();
    MoeStepShape shape;
    shape.tokens.assign(nodes, 0);
    shape.attention.assign(nodes, KernelCost());
    ServingStepRecord step;
    step.group = group;
    step.startPs = now;
    uint32_t total = 0;
    for (uint32_t n = 0; n < nodes; ++n)
    {
        auto& batch = g.batch[n];
        batch.clear();
        uint32_t budget = m_spec.maxStepTokens;
        auto& running = g.running[n];
        // Decode first: running requests never stall behind prompts.
        for (uint32_t r : running)
        {
            const ServingRequestRecord& rec = m_records[r];
            if (rec.promptDone == rec.request.promptTokens && budget > 0)
            {
                batch.push_back({r, 1, false});
                --budget;
            }
        }
        auto chunkOf = [&](uint32_t r) {
            const ServingRequestRecord& rec = m_records[r];
            return std::min(
                {rec.request.promptTokens - rec.promptDone, m_spec.prefillChunk, budget});
        };
        for (uint32_t r : running)
        {
            const uint32_t c = chunkOf(r);
            if (m_records[r].promptDone < m_records[r].request.promptTokens && c > 0)
            {
                batch.push_back({r, c, true});
                budget -= c;
            }
        }
        auto& waiting = g.waiting[n];
        while (budget > 0 && running.size() < m_spec.maxRunning && !waiting.empty())
        {
            const uint32_t r = waiting.front();
            waiting.pop_front();
            running.push_back(r);
            m_records[r].admittedPs = now;
            const uint32_t c = chunkOf(r);
            batch.push_back({r, c, true});
            budget -= c;
        }
        std::vector<uint64_t> tokens;
        std::vector<uint64_t> context;
        for (const Slot& s : batch)
        {
            const ServingRequestRecord& rec = m_records[s.request];
            tokens.push_back(s.tokens);
            // Each new token attends to everything before it (the chunk's own tokens included).
            context.push_back(s.prefill ? rec.promptDone + s.tokens
                                        : rec.request.promptTokens + rec.generated);
            (s.prefill ? step.prefillTokens : step.decodeTokens) += s.tokens;
            shape.tokens[n] += s.tokens;
        }
        shape.attention[n] = m_workload->GetComputeModel().AttentionBatch(tokens, context);
        step.requests += static_cast<uint32_t>(batch.size());
        step.maxGpuTokens = std::max(step.maxGpuTokens, shape.tokens[n]);
        total += shape.tokens[n];
    }
    if (total == 0)
    {
        return; // nothing to do until the next arrival
    }
    g.busy = true;
    step.step = m_workload->BeginStep(group, shape);
    g.stepRecord = static_cast<uint32_t>(m_steps.size());
    m_steps.push_back(step);
}

void
ServingLoop::OnStepDone(uint32_t group, uint32_t /* step */)
{
    GroupState& g = m_groups[group];
    const int64_t now = Simulator::Now().GetPicoSeconds() - m_start.GetPicoSeconds();
    m_steps[g.stepRecord].endPs = now;
    for (uint32_t n = 0; n < g.batch.size(); ++n)
    {
        for (const Slot& s : g.batch[n])
        {
            ServingRequestRecord& rec = m_records[s.request];
            ++rec.steps;
            if (s.prefill)
            {
                rec.promptDone += s.tokens;
                if (rec.promptDone < rec.request.promptTokens)
                {
                    continue;
                }
                rec.firstTokenPs = now; // the prompt's last chunk yields the first token
            }
            ++rec.generated;
            ++m_tokens;
            if (rec.generated == rec.request.outputTokens)
            {
                rec.finishPs = now;
                ++m_completed;
                auto& running = g.running[n];
                running.erase(std::find(running.begin(), running.end(), s.request));
                m_requestDone(rec.request.id, rec.request.cls, Simulator::Now());
            }
        }
        g.batch[n].clear();
    }
    g.busy = false;
    if (m_completed == m_records.size())
    {
        m_workload->FinishSteps();
        return;
    }
    TryStep(group);
}

const ServingSpec&
ServingLoop::GetSpec() const
{
    return m_spec;
}

const std::vector<ServingRequestRecord>&
ServingLoop::GetRecords() const
{
    return m_records;
}

const std::vector<ServingStepRecord>&
ServingLoop::GetSteps() const
{
    return m_steps;
}

uint32_t
ServingLoop::GetCompleted() const
{
    return m_completed;
}

uint64_t
ServingLoop::GetTokensGenerated() const
{
    return m_tokens;
}

bool
ServingLoop::IsWaitingForArrivals() const
{
    if (m_arrived == m_records.size())
    {
        return false;
    }
    return std::none_of(m_groups.begin(), m_groups.end(), [](const GroupState& g) {
        return g.busy;
    });
}

} // namespace moe
} // namespace ns3
