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
                            "ns3::moe::ServingLoop::RequestTracedCallback")
            .AddTraceSource("Admission",
                            "An admission cap held back tokens of a request in this step: (id, "
                            "class, kind 0 decode / 1 prefill / 2 admission, wanted, deferred).",
                            MakeTraceSourceAccessor(&ServingLoop::m_admission),
                            "ns3::moe::ServingLoop::AdmissionTracedCallback")
            .AddTraceSource("Feedback",
                            "A feedback admission window ended: (mean signal, state after: 0 "
                            "released, 1 throttled, 2 released by max_throttle).",
                            MakeTraceSourceAccessor(&ServingLoop::m_feedback),
                            "ns3::moe::ServingLoop::FeedbackTracedCallback")
            .AddTraceSource("KvTransfer",
                            "Disaggregation: a request's KV cache is on its decode GPU and its "
                            "prefill is done: (id, source GPU, decode GPU, bytes, time).",
                            MakeTraceSourceAccessor(&ServingLoop::m_kvTransfer),
                            "ns3::moe::ServingLoop::KvTransferTracedCallback");
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
    const auto& adm = m_spec.admission.classes;
    const DisaggregationSpec& dis = m_spec.disaggregation;
    NS_ABORT_MSG_IF(dis.enabled && (dis.prefillGroups == 0 || dis.prefillGroups >= groups),
                    "disaggregation needs prefill and decode groups");
    // Requests enter on the prefill groups (every group when colocated).
    const uint32_t entryGroups = dis.enabled ? dis.prefillGroups : groups;
    std::vector<uint32_t> seen(m_spec.classes.size(), 0);
    for (const ServingRequest& r : requests)
    {
        ServingRequestRecord rec;
        rec.request = r;
        std::vector<uint32_t> gs;
        if (r.cls < adm.size())
        {
            for (uint32_t g : adm[r.cls].groups)
            {
                if (g < entryGroups)
                {
                    gs.push_back(g);
                }
            }
        }
        if (gs.empty())
        {
            // Round-robin over every node GPU of every (prefill) group, in arrival order.
            const uint32_t slot = r.id % (entryGroups * size);
            rec.group = slot / size;
            rec.node = slot % size;
        }
        else
        {
            // Round-robin over the node GPUs of the class's groups, in its arrival order.
            const uint32_t slot = seen[r.cls]++ % (static_cast<uint32_t>(gs.size()) * size);
            rec.group = gs[slot / size];
            rec.node = slot % size;
        }
        if (dis.enabled && r.outputTokens >= 2)
        {
            // A one-token output ends with its prefill: nothing to send.
            rec.kvBytes = static_cast<uint64_t>(r.promptTokens) * dis.kvBytesPerToken;
        }
        NS_ABORT_MSG_IF(rec.group >= groups, "serving class pinned to a missing group");
        rec.gpu = workload->GetGroupNodes(rec.group)[rec.node];
        m_records.push_back(rec);
    }
    m_admissionCounters.assign(m_spec.classes.size(), AdmissionCounters());
    if (m_spec.admission.type == "priority")
    {
        for (uint32_t c = 0; c < adm.size(); ++c)
        {
            if (adm[c].trafficClass < 0)
            {
                continue;
            }
            for (uint32_t g = 0; g < groups; ++g)
            {
                if (adm[c].groups.empty() ||
                    std::find(adm[c].groups.begin(), adm[c].groups.end(), g) != adm[c].groups.end())
                {
                    workload->SetGroupTrafficClass(g, static_cast<uint8_t>(adm[c].trafficClass));
                }
            }
        }
    }
    workload->SetStepDoneCallback(MakeCallback(&ServingLoop::OnStepDone, this));
    m_decodeLoad.assign(dis.enabled ? (groups - dis.prefillGroups) * size : 0, 0);
    const uint64_t kv = dis.enabled ? dis.kvBytesPerToken : 0;
    const MoeWorkloadSpec& ws = workload->GetSpec();
    m_tokenBytes = {TokenBytes(ws.model, ws.layers, kv, false),
                    TokenBytes(ws.model, ws.layers, kv, true)};
    if (dis.enabled)
    {
        workload->SetKvDeliveredCallback(MakeCallback(&ServingLoop::OnKvDelivered, this));
        if (dis.layerWise)
        {
            workload->TraceConnectWithoutContext("UnitEnd",
                                                 MakeCallback(&ServingLoop::OnUnitEnd, this));
        }
    }
}

void
ServingLoop::Start(Time at)
{
    m_start = at;
    if (m_spec.admission.type == "feedback" && !m_records.empty())
    {
        NS_ABORT_MSG_IF(!m_probe, "feedback admission without a congestion probe");
        m_windowStartPs = 0;
        Simulator::Schedule(at + PicoSeconds(m_spec.admission.samplePs),
                            &ServingLoop::FeedbackSample,
                            this);
    }
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
    m_groups[rec.group].waiting[rec.node].push_back(request);
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
        // Caps (static, or feedback while throttled): tokens and prompt tokens of each class on
        // this GPU in this step.
        const bool capped = m_spec.admission.type == "static" ||
                            (m_spec.admission.type == "feedback" && m_throttled);
        std::vector<uint32_t> used(m_spec.classes.size(), 0);
        std::vector<uint32_t> prefillUsed(m_spec.classes.size(), 0);
        std::vector<uint64_t> bytesUsed(m_spec.classes.size(), 0);
        // The part of @p want tokens of request r the caps let into this step (decisions traced
        // and counted; kind 0 decode, 1 prefill chunk, 2 admission).
        auto allow = [&](uint32_t r, uint32_t want, uint32_t kind) -> uint32_t {
            if (!capped || want == 0)
            {
                return want;
            }
            const uint32_t cls = m_records[r].request.cls;
            const AdmissionClassSpec& a = m_spec.admission.classes[cls];
            uint32_t lim = want;
            if (a.tokensInFlight > 0)
            {
                lim = std::min(lim, a.tokensInFlight - used[cls]);
            }
            // A prompt token also counts its KV cache, if its request sends one (with
            // disaggregation; a one-token output ends at prefill and sends none).
            const uint64_t perToken = m_tokenBytes[kind != 0 && m_records[r].kvBytes > 0 ? 1 : 0];
            if (a.bytesInFlight > 0)
            {
                lim = static_cast<uint32_t>(
                    std::min<uint64_t>(lim, (a.bytesInFlight - bytesUsed[cls]) / perToken));
            }
            if (kind != 0 && a.prefillBudget > 0)
            {
                lim = std::min(lim, a.prefillBudget - prefillUsed[cls]);
            }
            if (kind != 0 && a.throttle) // feedback, throttled
            {
                lim = std::min(lim, a.throttledPrefillBudget - prefillUsed[cls]);
            }
            if (lim < want)
            {
                AdmissionCounters& k = m_admissionCounters[cls];
                if (kind == 0)
                {
                    ++k.deferredDecode;
                }
                else if (kind == 1)
                {
                    ++k.deferredPrefill;
                    k.deferredPrefillTokens += want - lim;
                }
                else if (lim == 0)
                {
                    ++k.deferredAdmissions;
                }
                else
                {
                    ++k.deferredPrefill; // admitted with a cut first chunk
                    k.deferredPrefillTokens += want - lim;
                }
                m_admission(m_records[r].request.id, cls, kind, want, want - lim);
            }
            used[cls] += lim;
            bytesUsed[cls] += lim * perToken;
            if (kind != 0)
            {
                prefillUsed[cls] += lim;
            }
            return lim;
        };
        // Decode first: running requests never stall behind prompts.
        for (uint32_t r : running)
        {
            const ServingRequestRecord& rec = m_records[r];
            if (rec.promptDone == rec.request.promptTokens && budget > 0 && allow(r, 1, 0) == 1)
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
            if (m_records[r].promptDone < m_records[r].request.promptTokens)
            {
                const uint32_t c = allow(r, chunkOf(r), 1);
                if (c > 0)
                {
                    batch.push_back({r, c, true});
                    budget -= c;
                }
            }
        }
        // FCFS within a class; a request a cap holds back does not block other classes.
        auto& waiting = g.waiting[n];
        // On a decode group (disaggregation) the waiting requests are prefilled ones whose KV
        // cache has arrived: they join as decode slots.
        for (auto it = waiting.begin();
             it != waiting.end() && budget > 0 && running.size() < m_spec.maxRunning;)
        {
            const uint32_t r = *it;
            ServingRequestRecord& rec = m_records[r];
            const bool handoff = rec.promptDone == rec.request.promptTokens;
            const uint32_t c = handoff ? allow(r, 1, 0) : allow(r, chunkOf(r), 2);
            if (c == 0)
            {
                ++it;
                continue;
            }
            it = waiting.erase(it);
            running.push_back(r);
            if (handoff)
            {
                NS_ASSERT(rec.kvDonePs >= 0);
                rec.decodeStartPs = now;
                batch.push_back({r, 1, false});
                budget -= 1;
                continue;
            }
            rec.admittedPs = now;
            if (m_spec.disaggregation.enabled && rec.request.outputTokens >= 2)
            {
                ChooseDecodeGpu(r);
            }
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
ServingLoop::OnStepDone(uint32_t group, uint32_t step)
{
    GroupState& g = m_groups[group];
    const int64_t now = Simulator::Now().GetPicoSeconds() - m_start.GetPicoSeconds();
    m_steps[g.stepRecord].endPs = now;
    const DisaggregationSpec& dis = m_spec.disaggregation;
    std::vector<uint32_t> handoffs; // prefilled here, decoded on a decode group
    for (uint32_t n = 0; n < g.batch.size(); ++n)
    {
        auto& running = g.running[n];
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
                running.erase(std::find(running.begin(), running.end(), s.request));
                if (rec.decodeGroup >= 0)
                {
                    const uint32_t size = static_cast<uint32_t>(g.running.size());
                    --m_decodeLoad[(rec.decodeGroup - dis.prefillGroups) * size + rec.decodeNode];
                }
                m_requestDone(rec.request.id, rec.request.cls, Simulator::Now());
            }
            else if (s.prefill && rec.decodeGroup >= 0)
            {
                // Prefill done: the request leaves this GPU; its KV cache (all of it, or the
                // layers not yet sent) goes to its decode GPU.
                running.erase(std::find(running.begin(), running.end(), s.request));
                if (!dis.layerWise)
                {
                    SendKv(s.request,
                           rec.kvBytes - rec.kvSentBytes,
                           step,
                           m_workload->GetStagesPerIteration() - 1);
                }
                handoffs.push_back(s.request);
            }
        }
        g.batch[n].clear();
    }
    g.busy = false;
    for (uint32_t r : handoffs)
    {
        MaybeKvDone(r);
    }
    if (m_completed == m_records.size())
    {
        if (m_throttled)
        {
            // Close the open throttle episode at the end of the run.
            const int64_t held = now - m_throttleStartPs;
            m_feedbackCounters.throttledPs += held;
            m_feedbackCounters.longestThrottlePs =
                std::max(m_feedbackCounters.longestThrottlePs, held);
            m_throttled = false;
        }
        m_workload->FinishSteps();
        return;
    }
    TryStep(group);
}

void
ServingLoop::ChooseDecodeGpu(uint32_t r)
{
    // Least loaded (requests assigned and not finished) of the class's decode GPUs, the first
    // in group and rank order on a tie: deterministic, and it spreads the decode batches.
    ServingRequestRecord& rec = m_records[r];
    const DisaggregationSpec& dis = m_spec.disaggregation;
    const uint32_t groups = static_cast<uint32_t>(m_groups.size());
    const uint32_t size = static_cast<uint32_t>(m_groups[0].running.size());
    std::vector<uint32_t> candidates;
    const auto& adm = m_spec.admission.classes;
    if (rec.request.cls < adm.size())
    {
        for (uint32_t g : adm[rec.request.cls].groups)
        {
            if (g >= dis.prefillGroups)
            {
                candidates.push_back(g);
            }
        }
        std::sort(candidates.begin(), candidates.end());
    }
    if (candidates.empty())
    {
        for (uint32_t g = dis.prefillGroups; g < groups; ++g)
        {
            candidates.push_back(g);
        }
    }
    uint32_t best = UINT32_MAX;
    for (uint32_t g : candidates)
    {
        for (uint32_t n = 0; n < size; ++n)
        {
            const uint32_t i = (g - dis.prefillGroups) * size + n;
            if (best == UINT32_MAX || m_decodeLoad[i] < m_decodeLoad[best])
            {
                best = i;
            }
        }
    }
    ++m_decodeLoad[best];
    rec.decodeGroup = static_cast<int32_t>(dis.prefillGroups + best / size);
    rec.decodeNode = best % size;
    rec.decodeGpu =
        static_cast<int32_t>(m_workload->GetGroupNodes(rec.decodeGroup)[rec.decodeNode]);
}

void
ServingLoop::SendKv(uint32_t r, uint64_t bytes, uint32_t step, uint32_t stage)
{
    if (bytes == 0)
    {
        return;
    }
    ServingRequestRecord& rec = m_records[r];
    NS_ASSERT(rec.decodeGpu >= 0 && rec.kvSentBytes + bytes <= rec.kvBytes);
    if (rec.kvStartPs < 0)
    {
        rec.kvStartPs = Simulator::Now().GetPicoSeconds() - m_start.GetPicoSeconds();
    }
    rec.kvSentBytes += bytes;
    ++rec.kvMessages;
    ++m_kvMessages;
    m_kvBytes += bytes;
    m_workload->SendKvCache(rec.gpu,
                            static_cast<uint32_t>(rec.decodeGpu),
                            m_spec.disaggregation.trafficClass,
                            bytes,
                            r,
                            rec.group,
                            m_workload->UnitIndex(step, stage, 0));
}

void
ServingLoop::OnUnitEnd(uint32_t group,
                       uint32_t node,
                       uint32_t iteration,
                       uint32_t stage,
                       uint32_t /* mb */)
{
    if (!IsPrefillGroup(group))
    {
        return;
    }
    // Layer `stage` of this step has written the KV of its prompt chunks on this GPU: send that
    // layer's share (the shares of a chunk's layers add up to chunk x kv_bytes_per_token).
    const uint64_t perToken = m_spec.disaggregation.kvBytesPerToken;
    const uint64_t layers = m_workload->GetStagesPerIteration();
    for (const Slot& s : m_groups[group].batch[node])
    {
        if (!s.prefill || m_records[s.request].kvBytes == 0)
        {
            continue;
        }
        const uint64_t total = s.tokens * perToken;
        SendKv(s.request, total * (stage + 1) / layers - total * stage / layers, iteration, stage);
    }
}

void
ServingLoop::OnKvDelivered(uint32_t request, uint64_t bytes)
{
    m_records[request].kvDeliveredBytes += bytes;
    MaybeKvDone(request);
}

void
ServingLoop::MaybeKvDone(uint32_t r)
{
    ServingRequestRecord& rec = m_records[r];
    if (rec.firstTokenPs < 0 || rec.kvDonePs >= 0 || rec.kvDeliveredBytes < rec.kvBytes)
    {
        return; // prefill still running, or KV still in flight
    }
    NS_ASSERT(rec.kvSentBytes == rec.kvBytes && rec.kvDeliveredBytes == rec.kvBytes);
    rec.kvDonePs = Simulator::Now().GetPicoSeconds() - m_start.GetPicoSeconds();
    m_kvTransfer(rec.request.id,
                 rec.gpu,
                 static_cast<uint32_t>(rec.decodeGpu),
                 rec.kvBytes,
                 Simulator::Now());
    m_groups[rec.decodeGroup].waiting[rec.decodeNode].push_back(r);
    TryStep(rec.decodeGroup);
}

uint64_t
ServingLoop::TokenBytes(const MoeModelSpec& model,
                        uint32_t layers,
                        uint64_t kvBytesPerToken,
                        bool prompt)
{
    const uint64_t copies = static_cast<uint64_t>(layers) * model.topK;
    return copies * (model.DispatchBytesPerToken() + model.CombineBytesPerToken()) +
           (prompt ? kvBytesPerToken : 0);
}

bool
ServingLoop::IsPrefillGroup(uint32_t group) const
{
    return m_spec.disaggregation.enabled && group < m_spec.disaggregation.prefillGroups;
}

uint64_t
ServingLoop::GetKvMessages() const
{
    return m_kvMessages;
}

uint64_t
ServingLoop::GetKvBytes() const
{
    return m_kvBytes;
}

void
ServingLoop::SetCongestionProbe(std::function<double()> probe, uint32_t watchedPorts)
{
    m_probe = std::move(probe);
    m_feedbackCounters.watchedPorts = watchedPorts;
}

const FeedbackCounters&
ServingLoop::GetFeedbackCounters() const
{
    return m_feedbackCounters;
}

void
ServingLoop::FeedbackSample()
{
    if (m_completed == m_records.size())
    {
        return; // the run is over: no more samples
    }
    const AdmissionSpec& a = m_spec.admission;
    const int64_t now = Simulator::Now().GetPicoSeconds() - m_start.GetPicoSeconds();
    m_windowSum += m_probe();
    ++m_windowSamples;
    if (now - m_windowStartPs >= a.windowPs)
    {
        FeedbackCounters& f = m_feedbackCounters;
        const double mean = m_windowSum / m_windowSamples;
        f.meanSignal = (f.meanSignal * f.windows + mean) / (f.windows + 1);
        ++f.windows;
        f.maxSignal = std::max(f.maxSignal, mean);
        m_windowSum = 0;
        m_windowSamples = 0;
        m_windowStartPs = now;
        uint32_t state = m_throttled ? 1 : 0;
        if (!m_throttled && mean > a.high && now >= m_holdoffUntilPs)
        {
            m_throttled = true;
            m_throttleStartPs = now;
            ++f.throttles;
            state = 1;
        }
        else if (m_throttled && (mean < a.low || now - m_throttleStartPs >= a.maxThrottlePs))
        {
            const bool forced = mean >= a.low;
            m_throttled = false;
            const int64_t held = now - m_throttleStartPs;
            f.throttledPs += held;
            f.longestThrottlePs = std::max(f.longestThrottlePs, held);
            if (forced)
            {
                // Let the throttled classes run for at least one window.
                ++f.forcedReleases;
                m_holdoffUntilPs = now + a.windowPs;
                state = 2;
            }
            else
            {
                ++f.releases;
                state = 0;
            }
            for (uint32_t g = 0; g < m_groups.size(); ++g)
            {
                TryStep(g); // idle groups may now have prefill to run
            }
        }
        m_feedback(mean, state);
    }
    Simulator::Schedule(PicoSeconds(a.samplePs), &ServingLoop::FeedbackSample, this);
}

const std::vector<AdmissionCounters>&
ServingLoop::GetAdmissionCounters() const
{
    return m_admissionCounters;
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
