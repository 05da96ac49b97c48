#include "serving-report.h"

#include "moe-scenario.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace ns3
{
namespace moe
{

namespace
{
constexpr double PS_PER_S = 1e12;

std::string
Sec(int64_t ps)
{
    return ps < 0 ? "" : FormatSeconds(PicoSeconds(ps));
}

/// Time from the first arrival to the last completion (ps; 0 if nothing finished).
int64_t
ServingSpanPs(const ServingLoop& loop)
{
    int64_t first = INT64_MAX;
    int64_t last = -1;
    for (const auto& r : loop.GetRecords())
    {
        first = std::min(first, r.request.arrivalPs);
        last = std::max(last, r.finishPs);
    }
    return last < 0 ? 0 : last - first;
}
} // namespace

int64_t
RequestTpotPs(const ServingRequestRecord& r)
{
    if (r.finishPs < 0 || r.request.outputTokens < 2)
    {
        return -1;
    }
    return (r.finishPs - r.firstTokenPs) / (r.request.outputTokens - 1);
}

bool
RequestMeetsSlo(const ServingRequestRecord& r, const ServingClassSpec& cls)
{
    if (r.finishPs < 0)
    {
        return false;
    }
    const int64_t ttft = r.firstTokenPs - r.request.arrivalPs;
    const int64_t tpot = RequestTpotPs(r);
    return (cls.ttftSloPs == 0 || ttft <= cls.ttftSloPs) &&
           (cls.tpotSloPs == 0 || tpot < 0 || tpot <= cls.tpotSloPs);
}

Json
MakeServingSummary(const ServingLoop& loop)
{
    const ServingSpec& spec = loop.GetSpec();
    const auto& records = loop.GetRecords();
    const int64_t spanPs = ServingSpanPs(loop);
    const double spanS = static_cast<double>(spanPs) / PS_PER_S;
    Json j = Json::object();
    j["requests"] = records.size();
    j["completed"] = loop.GetCompleted();
    j["output_tokens"] = loop.GetTokensGenerated();
    j["span_s"] = spanS;
    j["output_tokens_per_s"] =
        spanS > 0 ? static_cast<double>(loop.GetTokensGenerated()) / spanS : 0.0;
    j["source"] = spec.traceFile.empty() ? "generated" : "trace";

    // Steps: how full the batches were and how long a forward pass took.
    const auto& steps = loop.GetSteps();
    uint64_t decode = 0;
    uint64_t prefill = 0;
    std::vector<int64_t> stepPs;
    for (const auto& s : steps)
    {
        decode += s.decodeTokens;
        prefill += s.prefillTokens;
        if (s.endPs >= 0)
        {
            stepPs.push_back(s.endPs - s.startPs);
        }
    }
    Json js = Json::object();
    js["count"] = steps.size();
    js["decode_tokens"] = decode;
    js["prefill_tokens"] = prefill;
    js["mean_tokens_per_step"] =
        steps.empty() ? 0.0 : static_cast<double>(decode + prefill) / steps.size();
    js["step_time"] = DistributionJson(stepPs);
    j["steps"] = js;

    Json classes = Json::array();
    uint64_t metAll = 0;
    for (uint32_t c = 0; c < spec.classes.size(); ++c)
    {
        const ServingClassSpec& cls = spec.classes[c];
        std::vector<int64_t> ttft;
        std::vector<int64_t> tpot;
        std::vector<int64_t> e2e;
        std::vector<int64_t> queue;
        uint64_t count = 0;
        uint64_t done = 0;
        uint64_t met = 0;
        for (const auto& r : records)
        {
            if (r.request.cls != c)
            {
                continue;
            }
            ++count;
            if (r.finishPs < 0)
            {
                continue;
            }
            ++done;
            ttft.push_back(r.firstTokenPs - r.request.arrivalPs);
            e2e.push_back(r.finishPs - r.request.arrivalPs);
            queue.push_back(r.admittedPs - r.request.arrivalPs);
            if (RequestTpotPs(r) >= 0)
            {
                tpot.push_back(RequestTpotPs(r));
            }
            met += RequestMeetsSlo(r, cls) ? 1 : 0;
        }
        metAll += met;
        Json jc = Json::object();
        jc["name"] = cls.name;
        jc["requests"] = count;
        jc["completed"] = done;
        jc["ttft"] = DistributionJson(ttft);
        jc["tpot"] = DistributionJson(tpot);
        jc["e2e"] = DistributionJson(e2e);
        jc["queue"] = DistributionJson(queue);
        jc["slo_ttft_s"] = static_cast<double>(cls.ttftSloPs) / PS_PER_S;
        jc["slo_tpot_s"] = static_cast<double>(cls.tpotSloPs) / PS_PER_S;
        jc["slo_met"] = met;
        jc["goodput_rps"] = spanS > 0 ? static_cast<double>(met) / spanS : 0.0;
        const AdmissionCounters& ac = loop.GetAdmissionCounters()[c];
        jc["admission"] = {{"deferred_decode", ac.deferredDecode},
                           {"deferred_prefill", ac.deferredPrefill},
                           {"deferred_prefill_tokens", ac.deferredPrefillTokens},
                           {"deferred_admissions", ac.deferredAdmissions}};
        classes.push_back(jc);
    }
    j["classes"] = classes;
    j["admission"] = spec.admission.type;
    if (spec.admission.type == "feedback")
    {
        const FeedbackCounters& f = loop.GetFeedbackCounters();
        j["feedback"] = {
            {"windows", f.windows},
            {"throttles", f.throttles},
            {"releases", f.releases},
            {"forced_releases", f.forcedReleases},
            {"throttled_s", static_cast<double>(f.throttledPs) / PS_PER_S},
            {"longest_throttle_s", static_cast<double>(f.longestThrottlePs) / PS_PER_S},
            {"signal", spec.admission.signal},
            {"watched_ports", f.watchedPorts},
            {"mean_signal", f.meanSignal},
            {"max_signal", f.maxSignal}};
        if (spec.admission.signal == "queueing_delay")
        {
            // The names of earlier releases, in seconds (the same values).
            j["feedback"]["mean_signal_s"] = f.meanSignal;
            j["feedback"]["max_signal_s"] = f.maxSignal;
        }
    }
    const DisaggregationSpec& dis = spec.disaggregation;
    if (dis.enabled)
    {
        std::vector<int64_t> transfer;
        std::vector<int64_t> wait;
        uint64_t transfers = 0;
        for (const auto& r : records)
        {
            if (r.kvDonePs < 0)
            {
                continue;
            }
            ++transfers;
            wait.push_back(r.kvDonePs - r.firstTokenPs);
            if (r.kvStartPs >= 0)
            {
                transfer.push_back(r.kvDonePs - r.kvStartPs);
            }
        }
        Json jd = Json::object();
        jd["prefill_gpus"] = dis.prefillGpus;
        jd["decode_gpus"] = dis.decodeGpus;
        jd["prefill_groups"] = dis.prefillGroups;
        jd["decode_groups"] = dis.decodeGroups;
        jd["transfer"] = dis.layerWise ? "layer-wise" : "whole";
        jd["kv_bytes_per_token"] = dis.kvBytesPerToken;
        jd["traffic_class"] = dis.trafficClass;
        jd["kv_transfers"] = transfers;
        jd["kv_messages"] = loop.GetKvMessages();
        jd["kv_bytes"] = loop.GetKvBytes();
        jd["kv_transfer"] = DistributionJson(transfer);
        jd["kv_wait"] = DistributionJson(wait);
        j["disaggregation"] = jd;
    }
    j["slo_met"] = metAll;
    j["goodput_rps"] = spanS > 0 ? static_cast<double>(metAll) / spanS : 0.0;
    return j;
}

std::string
ServingRequestsCsv(const ServingLoop& loop)
{
    const ServingSpec& spec = loop.GetSpec();
    std::ostringstream csv;
    csv << "id,class,group,gpu,arrival_s,admitted_s,first_token_s,finish_s,prompt_tokens,"
           "output_tokens,generated_tokens,steps,queue_s,ttft_s,tpot_s,e2e_s,slo_met,"
           "decode_group,decode_gpu,kv_start_s,kv_done_s,kv_transfer_s,kv_wait_s,decode_start_s,"
           "kv_messages,kv_bytes\n";
    for (const auto& r : loop.GetRecords())
    {
        const auto& q = r.request;
        const bool done = r.finishPs >= 0;
        csv << q.id << ',' << spec.classes[q.cls].name << ',' << r.group << ',' << r.gpu << ','
            << Sec(q.arrivalPs) << ',' << Sec(r.admittedPs) << ',' << Sec(r.firstTokenPs) << ','
            << Sec(r.finishPs) << ',' << q.promptTokens << ',' << q.outputTokens << ','
            << r.generated << ',' << r.steps << ','
            << (r.admittedPs >= 0 ? Sec(r.admittedPs - q.arrivalPs) : "") << ','
            << (r.firstTokenPs >= 0 ? Sec(r.firstTokenPs - q.arrivalPs) : "") << ','
            << Sec(RequestTpotPs(r)) << ',' << (done ? Sec(r.finishPs - q.arrivalPs) : "") << ','
            << (RequestMeetsSlo(r, spec.classes[q.cls]) ? 1 : 0) << ','
            << (r.decodeGroup >= 0 ? std::to_string(r.decodeGroup) : "") << ','
            << (r.decodeGpu >= 0 ? std::to_string(r.decodeGpu) : "") << ',' << Sec(r.kvStartPs)
            << ',' << Sec(r.kvDonePs) << ','
            << (r.kvStartPs >= 0 && r.kvDonePs >= 0 ? Sec(r.kvDonePs - r.kvStartPs) : "") << ','
            << (r.kvDonePs >= 0 ? Sec(r.kvDonePs - r.firstTokenPs) : "") << ','
            << Sec(r.decodeStartPs) << ',' << r.kvMessages << ',' << r.kvSentBytes << '\n';
    }
    return csv.str();
}

std::string
ServingHumanSummary(const ServingLoop& loop)
{
    const Json j = MakeServingSummary(loop);
    std::ostringstream os;
    os << std::setprecision(4);
    os << "  serving: " << j["completed"].get<uint64_t>() << "/" << j["requests"].get<uint64_t>()
       << " requests in " << j["steps"]["count"].get<uint64_t>() << " steps";
    if (const Json& t = j["steps"]["step_time"]; t.contains("p50_s"))
    {
        os << " (step time p50 " << t["p50_s"].get<double>() * 1e3 << " ms, p99 "
           << t["p99_s"].get<double>() * 1e3 << " ms, max " << t["max_s"].get<double>() * 1e3
           << " ms)";
    }
    os << ", " << j["output_tokens_per_s"].get<double>() << " output tokens/s, goodput "
       << j["goodput_rps"].get<double>() << " req/s, admission "
       << j["admission"].get<std::string>() << "\n";
    if (j.contains("feedback"))
    {
        const Json& f = j["feedback"];
        os << "    feedback: " << f["throttles"].get<uint64_t>() << " throttles in "
           << f["windows"].get<uint64_t>() << " windows, " << f["throttled_s"].get<double>() * 1e3
           << " ms throttled (longest " << f["longest_throttle_s"].get<double>() * 1e3 << " ms), "
           << f["forced_releases"].get<uint64_t>() << " forced releases\n";
    }
    if (j.contains("disaggregation"))
    {
        const Json& d = j["disaggregation"];
        os << "    disaggregated: " << d["prefill_groups"].get<uint32_t>() << " prefill and "
           << d["decode_groups"].get<uint32_t>() << " decode group(s), "
           << d["kv_transfers"].get<uint64_t>() << " KV transfers ("
           << d["transfer"].get<std::string>() << "), "
           << static_cast<double>(d["kv_bytes"].get<uint64_t>()) / (1 << 20) << " MiB";
        if (d["kv_transfer"].contains("p50_s"))
        {
            os << ", transfer p50 " << d["kv_transfer"]["p50_s"].get<double>() * 1e6 << " us p99 "
               << d["kv_transfer"]["p99_s"].get<double>() * 1e6 << " us";
        }
        os << "\n";
    }
    for (const auto& c : j["classes"])
    {
        os << "    " << c["name"].get<std::string>() << ": ";
        for (const char* m : {"ttft", "tpot", "e2e"})
        {
            if (c[m].contains("p50_s"))
            {
                os << m << " p50 " << c[m]["p50_s"].get<double>() * 1e3 << " ms p99 "
                   << c[m]["p99_s"].get<double>() * 1e3 << " ms; ";
            }
        }
        os << c["slo_met"].get<uint64_t>() << " met the SLO\n";
    }
    return os.str();
}

} // namespace moe
} // namespace ns3
