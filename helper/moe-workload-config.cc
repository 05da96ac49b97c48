#include "moe-workload-config.h"

#include "fabric-config-error.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace ns3
{
namespace moe
{

namespace
{
constexpr int64_t PS_PER_S = 1000000000000LL;

/// "field: problem" from a model-layer exception -> ConfigError at "<prefix>.field".
[[noreturn]] void
Rethrow(const std::exception& e, const std::string& prefix, const std::string& fallbackPath)
{
    const std::string what = e.what();
    const auto colon = what.find(": ");
    if (colon != std::string::npos && what.find(' ') > colon && colon > 0)
    {
        std::string field = what.substr(0, colon);
        // Model-layer messages name fields by their JSON key inside the workload section.
        if (field.rfind(prefix + ".", 0) != 0)
        {
            field = prefix + "." + field;
        }
        throw ConfigError(field, what.substr(colon + 2));
    }
    throw ConfigError(fallbackPath, what);
}

/// A GPU count (the first N, 0 = @p def) or an explicit list of distinct GPU ids.
std::vector<uint32_t>
ReadGpus(ConfigReader& r,
         const Json& raw,
         const std::string& key,
         uint32_t numGpus,
         const std::vector<uint32_t>& def)
{
    std::vector<uint32_t> out;
    auto it = raw.find(key);
    if (it != raw.end() && it->is_array())
    {
        const Json* list = r.GetArray(key);
        std::set<uint32_t> seen;
        for (size_t i = 0; i < list->size(); ++i)
        {
            const uint32_t g = static_cast<uint32_t>(
                ReadJsonUint((*list)[i], r.ElementPath(key, i), 0, numGpus - 1));
            if (!seen.insert(g).second)
            {
                throw ConfigError(r.ElementPath(key, i),
                                  "GPU " + std::to_string(g) + " is listed twice");
            }
            out.push_back(g);
        }
        if (out.empty())
        {
            throw ConfigError(r.PathOf(key),
                              "an empty list; accepted: a count of GPUs (0 = the default) or a "
                              "list of at least one GPU id");
        }
        return out;
    }
    const uint32_t n = static_cast<uint32_t>(r.GetUint(key, 0, 0, def.size()));
    if (n == 0)
    {
        r.SetEffective(key, Json(def.size()));
        return def;
    }
    return std::vector<uint32_t>(def.begin(), def.begin() + n);
}

/// A token count: an integer (fixed) or {"type": fixed|uniform|lognormal, ...}.
LengthDistribution
ReadLength(ConfigReader& parent, const Json& rawParent, const std::string& key, uint32_t def)
{
    constexpr uint32_t MAX_LEN = 1u << 20;
    LengthDistribution d;
    auto it = rawParent.is_object() ? rawParent.find(key) : rawParent.end();
    if (it == rawParent.end() || !it->is_object())
    {
        d.type = "fixed";
        d.value = static_cast<uint32_t>(parent.GetUint(key, def, 1, MAX_LEN));
        return d;
    }
    ConfigReader r = parent.GetObject(key);
    d.type = r.GetEnum("type", "fixed", {"fixed", "uniform", "lognormal"});
    if (d.type == "fixed")
    {
        d.value = static_cast<uint32_t>(r.GetUint("value", def, 1, MAX_LEN));
    }
    else if (d.type == "uniform")
    {
        d.min = static_cast<uint32_t>(r.GetUint("min", 1, 1, MAX_LEN));
        d.max = static_cast<uint32_t>(r.GetUint("max", def, 1, MAX_LEN));
        if (d.max < d.min)
        {
            throw ConfigError(r.PathOf("max"),
                              std::to_string(d.max) + " is below min " + std::to_string(d.min));
        }
    }
    else
    {
        d.median = r.GetDouble("median", def, 1, MAX_LEN);
        d.sigma = r.GetDouble("sigma", 0.5, 0, 4);
        d.min = static_cast<uint32_t>(r.GetUint("min", 1, 1, MAX_LEN));
        d.max = static_cast<uint32_t>(r.GetUint("max",
                                                16 * static_cast<uint64_t>(d.median) < MAX_LEN
                                                    ? 16 * static_cast<uint64_t>(d.median)
                                                    : MAX_LEN,
                                                1,
                                                MAX_LEN));
        if (d.max < d.min)
        {
            throw ConfigError(r.PathOf("max"),
                              std::to_string(d.max) + " is below min " + std::to_string(d.min));
        }
    }
    r.Finish();
    return d;
}

/// workload.serving: classes, arrivals, lengths, SLOs, batching limits; generates or replays
/// the requests.
/// workload.serving.admission: the policy type and its per-class settings (by class name).
void
ParseAdmission(ConfigReader& sv, uint32_t numGroups, const MoeWorkloadSpec& s, ServingSpec& sp)
{
    ConfigReader ad = sv.GetObject("admission");
    AdmissionSpec& a = sp.admission;
    a.type = ad.GetEnum("type", "none", {"none", "static", "priority", "feedback"});
    if (a.type == "feedback")
    {
        a.samplePs = ad.GetTimePs("sample", "5us", 1000, PS_PER_S);
        a.windowPs = ad.GetTimePs("window", "50us", 1000, 100 * PS_PER_S);
        if (a.windowPs < a.samplePs)
        {
            throw ConfigError(ad.PathOf("window"),
                              "shorter than sample: a window needs at least one sample");
        }
        a.signal = ad.GetEnum("signal",
                              "queueing_delay",
                              {"queueing_delay", "ecn_mark_rate", "pfc_paused_fraction"});
        if (a.signal == "queueing_delay")
        {
            a.high = static_cast<double>(ad.GetTimePs("high", "20us", 0, PS_PER_S)) / PS_PER_S;
            a.low = static_cast<double>(ad.GetTimePs("low", "5us", 0, PS_PER_S)) / PS_PER_S;
        }
        else
        {
            // Shares (0..1) of the frames marked or of the time paused.
            a.high = ad.GetDouble("high", 0.05, 0, 1);
            a.low = ad.GetDouble("low", 0.01, 0, 1);
        }
        a.watchClass = ad.GetString("watch_class", "");
        if (!a.watchClass.empty())
        {
            bool known = false;
            std::string names;
            for (const auto& c : sp.classes)
            {
                known = known || c.name == a.watchClass;
                names += (names.empty() ? "" : ", ") + c.name;
            }
            if (!known)
            {
                throw ConfigError(ad.PathOf("watch_class"),
                                  "'" + a.watchClass +
                                      "' is not a class of workload.serving.classes; accepted: " +
                                      names + ", or \"\" for every switch port");
            }
        }
        if (a.low > a.high)
        {
            throw ConfigError(ad.PathOf("low"),
                              "above high: the release threshold must not exceed the throttle "
                              "threshold (hysteresis)");
        }
        a.maxThrottlePs = ad.GetTimePs("max_throttle", "2ms", a.windowPs, 100 * PS_PER_S);
    }
    a.classes.assign(sp.classes.size(), AdmissionClassSpec());
    const Json* list = ad.GetArray("classes");
    if (list == nullptr || list->empty())
    {
        if (a.type != "none")
        {
            throw ConfigError(ad.PathOf("classes"),
                              "admission type '" + a.type +
                                  "' needs a list of per-class settings "
                                  "([{\"name\": class, ...}])");
        }
        ad.Finish();
        return;
    }
    std::vector<bool> given(sp.classes.size(), false);
    for (size_t i = 0; i < list->size(); ++i)
    {
        ConfigReader c = ad.GetElementObject("classes", i);
        const std::string name = c.GetString("name", "");
        size_t k = 0;
        while (k < sp.classes.size() && sp.classes[k].name != name)
        {
            ++k;
        }
        if (k == sp.classes.size())
        {
            throw ConfigError(c.PathOf("name"),
                              "'" + name + "' is not a class of workload.serving.classes");
        }
        if (given[k])
        {
            throw ConfigError(c.PathOf("name"), "'" + name + "' has two admission entries");
        }
        given[k] = true;
        AdmissionClassSpec& ac = a.classes[k];
        if (a.type == "static")
        {
            ac.tokensInFlight =
                static_cast<uint32_t>(c.GetUint("tokens_in_flight", 0, 0, sp.maxStepTokens));
            ac.prefillBudget =
                static_cast<uint32_t>(c.GetUint("prefill_budget", 0, 0, sp.maxStepTokens));
            ac.bytesInFlight = c.GetBytes("bytes_in_flight", 0, 0, 1ull << 50);
            // A cap must hold one prompt token (the dearer kind), or the class never runs.
            const uint64_t prompt = ServingLoop::TokenBytes(
                s.model,
                s.layers,
                sp.disaggregation.enabled ? sp.disaggregation.kvBytesPerToken : 0,
                true);
            if (ac.bytesInFlight > 0 && ac.bytesInFlight < prompt)
            {
                throw ConfigError(
                    c.PathOf("bytes_in_flight"),
                    std::to_string(ac.bytesInFlight) + " B hold no prompt token (one puts " +
                        std::to_string(prompt) +
                        " B in flight: layers x top_k x (dispatch + combine bytes)" +
                        (sp.disaggregation.enabled ? " + kv_bytes_per_token" : "") +
                        "); accepted: 0 (no cap) or at least " + std::to_string(prompt));
            }
        }
        if (a.type == "feedback")
        {
            ac.throttle = c.GetBool("throttle", true);
            ac.throttledPrefillBudget = static_cast<uint32_t>(
                c.GetUint("throttled_prefill_budget", 0, 0, sp.maxStepTokens));
        }
        if (a.type == "priority")
        {
            ac.trafficClass =
                static_cast<int>(c.GetUint("traffic_class", 0, 0, NUM_TRAFFIC_CLASSES - 1));
        }
        if (const Json* gs = c.GetArray("groups"))
        {
            if (gs->empty())
            {
                // Pinned to no group would serve nothing; "all groups" is the key left out.
                throw ConfigError(c.PathOf("groups"),
                                  "an empty list pins the class to no group; accepted: distinct "
                                  "group indices 0.." +
                                      std::to_string(numGroups - 1) +
                                      ", or leave the key out for all groups");
            }
            for (size_t j = 0; j < gs->size(); ++j)
            {
                const uint32_t g = static_cast<uint32_t>(
                    ReadJsonUint((*gs)[j], c.ElementPath("groups", j), 0, numGroups - 1));
                if (std::find(ac.groups.begin(), ac.groups.end(), g) != ac.groups.end())
                {
                    throw ConfigError(c.ElementPath("groups", j),
                                      "group " + std::to_string(g) + " listed twice");
                }
                ac.groups.push_back(g);
            }
            const DisaggregationSpec& dis = sp.disaggregation;
            if (dis.enabled && !ac.groups.empty())
            {
                const auto prefill =
                    std::count_if(ac.groups.begin(), ac.groups.end(), [&](uint32_t g) {
                        return g < dis.prefillGroups;
                    });
                if (prefill == 0 || prefill == static_cast<long>(ac.groups.size()))
                {
                    throw ConfigError(c.PathOf("groups"),
                                      "with disaggregation a pinned class needs a prefill group "
                                      "(0.." +
                                          std::to_string(dis.prefillGroups - 1) +
                                          ") and a decode group (" +
                                          std::to_string(dis.prefillGroups) + ".." +
                                          std::to_string(numGroups - 1) + ")");
                }
            }
        }
        c.Finish();
    }
    if (a.type == "priority")
    {
        // Isolation needs every group to carry one traffic class: the classes a group serves
        // must agree on it (pin them to separate groups with "groups").
        for (uint32_t g = 0; g < numGroups; ++g)
        {
            bool have = false;
            int cls = -1;
            size_t first = 0;
            for (size_t k = 0; k < a.classes.size(); ++k)
            {
                const auto& gs = a.classes[k].groups;
                if (!gs.empty() && std::find(gs.begin(), gs.end(), g) == gs.end())
                {
                    continue;
                }
                const int t = a.classes[k].trafficClass;
                if (!have)
                {
                    have = true;
                    cls = t;
                    first = k;
                }
                else if (t != cls)
                {
                    throw ConfigError(ad.PathOf("classes"),
                                      "group " + std::to_string(g) + " serves classes '" +
                                          sp.classes[first].name + "' and '" + sp.classes[k].name +
                                          "' on different traffic classes: one step carries "
                                          "both, so it cannot be isolated; pin them to "
                                          "separate groups (\"groups\") or give them one "
                                          "traffic_class");
                }
            }
        }
    }
    ad.Finish();
}

/// workload.serving.disaggregation: the prefill and decode pools, taken from workload.gpus;
/// re-forms @p s's node GPUs as the prefill pool then the decode pool, each split into
/// expert-parallel groups of workload.ep_size.
void
ParseDisaggregation(ConfigReader& sv,
                    const Json& rawServing,
                    ConfigReader& wl,
                    MoeWorkloadSpec& s,
                    DisaggregationSpec& d)
{
    ConfigReader dr = sv.GetObject("disaggregation");
    auto it = rawServing.find("disaggregation");
    const Json empty = Json::object();
    const Json& raw = it != rawServing.end() && it->is_object() ? *it : empty;
    const std::vector<uint32_t>& tokenGpus = s.nodeGpus;
    if (tokenGpus.size() < 2)
    {
        throw ConfigError(dr.GetPath(),
                          "prefill and decode need separate GPUs, but workload.gpus has " +
                              std::to_string(tokenGpus.size()) +
                              "; accepted: at least 2 token-owning GPUs");
    }
    // A count takes the first GPUs of @p from; a list names GPUs of workload.gpus.
    auto readPool = [&](const std::string& key,
                        const std::vector<uint32_t>& from,
                        uint32_t def) -> std::vector<uint32_t> {
        std::vector<uint32_t> out;
        if (raw.contains(key) && raw[key].is_array())
        {
            const Json* list = dr.GetArray(key);
            for (size_t i = 0; i < list->size(); ++i)
            {
                const uint32_t g = static_cast<uint32_t>(
                    ReadJsonUint((*list)[i], dr.ElementPath(key, i), 0, UINT32_MAX));
                if (std::find(tokenGpus.begin(), tokenGpus.end(), g) == tokenGpus.end())
                {
                    throw ConfigError(dr.ElementPath(key, i),
                                      "GPU " + std::to_string(g) +
                                          " is not a token-owning GPU of the workload; "
                                          "accepted: GPUs of workload.gpus");
                }
                if (std::find(out.begin(), out.end(), g) != out.end())
                {
                    throw ConfigError(dr.ElementPath(key, i),
                                      "GPU " + std::to_string(g) + " is listed twice");
                }
                out.push_back(g);
            }
            if (out.empty())
            {
                throw ConfigError(dr.PathOf(key),
                                  "an empty list; accepted: a count of GPUs or a list of at "
                                  "least one GPU of workload.gpus");
            }
            return out;
        }
        if (from.empty())
        {
            throw ConfigError(dr.PathOf(key),
                              "no GPU of workload.gpus is left for this pool; accepted: fewer "
                              "prefill_gpus, or more workload.gpus");
        }
        const uint32_t n = static_cast<uint32_t>(dr.GetUint(key, def, 1, from.size()));
        return std::vector<uint32_t>(from.begin(), from.begin() + n);
    };
    d.enabled = true;
    d.prefillGpus =
        readPool("prefill_gpus", tokenGpus, static_cast<uint32_t>(tokenGpus.size() / 2));
    std::vector<uint32_t> rest;
    for (uint32_t g : tokenGpus)
    {
        if (std::find(d.prefillGpus.begin(), d.prefillGpus.end(), g) == d.prefillGpus.end())
        {
            rest.push_back(g);
        }
    }
    d.decodeGpus = readPool("decode_gpus", rest, static_cast<uint32_t>(rest.size()));
    for (size_t i = 0; i < d.decodeGpus.size(); ++i)
    {
        if (std::find(d.prefillGpus.begin(), d.prefillGpus.end(), d.decodeGpus[i]) !=
            d.prefillGpus.end())
        {
            throw ConfigError(raw.contains("decode_gpus") && raw["decode_gpus"].is_array()
                                  ? dr.ElementPath("decode_gpus", i)
                                  : dr.PathOf("decode_gpus"),
                              "GPU " + std::to_string(d.decodeGpus[i]) +
                                  " is also a prefill GPU; accepted: GPUs disjoint from "
                                  "prefill_gpus");
        }
    }
    // Each pool splits into expert-parallel groups of ep_size (0: each pool is one group).
    const uint32_t p = static_cast<uint32_t>(d.prefillGpus.size());
    const uint32_t q = static_cast<uint32_t>(d.decodeGpus.size());
    uint32_t size = s.groupSize;
    if (size == 0)
    {
        if (p != q)
        {
            throw ConfigError(wl.PathOf("ep_size"),
                              "0 (each pool one group) with " + std::to_string(p) +
                                  " prefill and " + std::to_string(q) +
                                  " decode GPUs: expert-parallel groups have one size; "
                                  "accepted: a common divisor of both counts");
        }
        size = p;
    }
    if (p % size != 0 || q % size != 0)
    {
        throw ConfigError(wl.PathOf("ep_size"),
                          std::to_string(size) + " does not divide the " + std::to_string(p) +
                              " prefill and " + std::to_string(q) +
                              " decode GPUs (workload.serving.disaggregation) into "
                              "expert-parallel groups; accepted: a common divisor of both");
    }
    if (s.expertGpus.empty() && s.model.routedExperts % size != 0)
    {
        throw ConfigError(s.groupSize != 0 ? wl.PathOf("ep_size") : dr.PathOf("prefill_gpus"),
                          std::to_string(s.model.routedExperts) +
                              " routed experts cannot be spread evenly over expert-parallel "
                              "groups of " +
                              std::to_string(size) +
                              " GPUs; accepted: a group size that divides the expert count");
    }
    s.groupSize = size;
    s.nodeGpus = d.prefillGpus;
    s.nodeGpus.insert(s.nodeGpus.end(), d.decodeGpus.begin(), d.decodeGpus.end());
    d.prefillGroups = p / size;
    d.decodeGroups = q / size;
    // Derived from the model: the cache of one token in every simulated layer (the simulated
    // step is a model of workload.layers layers, so its KV cache is too).
    d.kvBytesPerToken = dr.GetUint("kv_bytes_per_token",
                                   static_cast<uint64_t>(s.model.kvBytesPerToken) * s.layers,
                                   0,
                                   1ull << 32);
    d.layerWise = dr.GetEnum("transfer", "whole", {"whole", "layer-wise"}) == "layer-wise";
    d.trafficClass = static_cast<uint8_t>(
        dr.GetUint("traffic_class", s.dispatchClass, 0, NUM_TRAFFIC_CLASSES - 1));
    dr.Finish();
}

void
ParseServing(ConfigReader& sv,
             const Json& raw,
             uint64_t seed,
             ConfigReader& wl,
             MoeWorkloadSpec& s,
             MoeWorkloadOptions& options)
{
    constexpr uint64_t MAX_REQUESTS = 1000000;
    ServingSpec& sp = options.serving;
    sp.enabled = true;
    if (raw.at("serving").is_object() && raw.at("serving").contains("disaggregation"))
    {
        ParseDisaggregation(sv, raw.at("serving"), wl, s, sp.disaggregation);
    }
    const uint32_t numGroups =
        s.groupSize == 0 ? 1 : static_cast<uint32_t>(s.nodeGpus.size()) / s.groupSize;
    sp.maxStepTokens = static_cast<uint32_t>(sv.GetUint("max_step_tokens", 512, 1, 1u << 20));
    sp.prefillChunk =
        static_cast<uint32_t>(sv.GetUint("prefill_chunk", sp.maxStepTokens, 1, 1u << 20));
    sp.maxRunning = static_cast<uint32_t>(sv.GetUint("max_running", 64, 1, 1u << 20));
    if (sp.maxRunning > sp.maxStepTokens)
    {
        throw ConfigError(sv.PathOf("max_running"),
                          std::to_string(sp.maxRunning) + " running requests per GPU would need " +
                              "more decode tokens per step than max_step_tokens (" +
                              std::to_string(sp.maxStepTokens) + "); accepted: 1.." +
                              std::to_string(sp.maxStepTokens));
    }
    sp.horizonPs = sv.GetTimePs("horizon", "0s", 0, 1000000 * PS_PER_S);
    sp.traceFile = sv.GetString("trace", "");
    const Json* list = sv.GetArray("classes");
    if (list == nullptr || list->empty())
    {
        throw ConfigError(sv.PathOf("classes"),
                          "a serving workload needs a list of at least one request class");
    }
    const Json& rawServing = raw.at("serving");
    for (size_t i = 0; i < list->size(); ++i)
    {
        ConfigReader c = sv.GetElementObject("classes", i);
        const Json& rawClass = rawServing.at("classes").at(i);
        ServingClassSpec cs;
        cs.name = c.GetString("name", "class" + std::to_string(i));
        for (const auto& other : sp.classes)
        {
            if (other.name == cs.name)
            {
                throw ConfigError(c.PathOf("name"), "'" + cs.name + "' names two classes");
            }
        }
        cs.requests = static_cast<uint32_t>(c.GetUint("requests", 0, 0, MAX_REQUESTS));
        {
            ConfigReader a = c.GetObject("arrival");
            cs.arrival = a.GetEnum("type", "poisson", {"poisson", "gamma"});
            cs.rate = a.GetDouble("rate", 100, 1e-6, 1e9);
            if (cs.arrival == "gamma")
            {
                cs.shape = a.GetDouble("shape", 1, 1e-3, 1e3);
            }
            a.Finish();
        }
        cs.prompt = ReadLength(c, rawClass, "prompt_tokens", 128);
        cs.output = ReadLength(c, rawClass, "output_tokens", 32);
        {
            ConfigReader slo = c.GetObject("slo");
            cs.ttftSloPs = slo.GetTimePs("ttft", "0s", 0, 100000 * PS_PER_S);
            cs.tpotSloPs = slo.GetTimePs("tpot", "0s", 0, 100000 * PS_PER_S);
            slo.Finish();
        }
        c.Finish();
        if (sp.traceFile.empty() && cs.requests == 0 && sp.horizonPs == 0)
        {
            throw ConfigError(c.PathOf("requests"),
                              "0 (unbounded) with no workload.serving.horizon: the run would "
                              "never end; accepted: 1.." +
                                  std::to_string(MAX_REQUESTS) + ", or set a horizon");
        }
        sp.classes.push_back(cs);
    }
    ParseAdmission(sv, numGroups, s, sp);
    sv.Finish();
    if (!sp.traceFile.empty())
    {
        try
        {
            options.requests = ReadRequestTrace(sp.traceFile, sp.classes, sp.horizonPs);
        }
        catch (const std::runtime_error& e)
        {
            throw ConfigError(sv.PathOf("trace"), e.what());
        }
    }
    else
    {
        // Expected count first, so that a horizon-bounded class cannot run away.
        double expected = 0;
        for (const auto& cs : sp.classes)
        {
            expected += cs.requests > 0 ? cs.requests : cs.rate * sp.horizonPs / PS_PER_S;
        }
        if (expected > MAX_REQUESTS)
        {
            throw ConfigError(sv.PathOf("horizon"),
                              "about " + std::to_string(static_cast<uint64_t>(expected)) +
                                  " requests; accepted: at most " + std::to_string(MAX_REQUESTS) +
                                  " (shorter horizon, lower rates or request counts)");
        }
        options.requests = GenerateRequests(sp.classes, sp.horizonPs, seed);
    }
    if (options.requests.size() > MAX_REQUESTS)
    {
        throw ConfigError(sv.PathOf(sp.traceFile.empty() ? "classes" : "trace"),
                          std::to_string(options.requests.size()) +
                              " requests; accepted: at most " + std::to_string(MAX_REQUESTS));
    }
}
} // namespace

GpuLayout
MakeGpuLayout(const TopologySpec& spec)
{
    GpuLayout layout;
    const uint32_t gpus = spec.NumHosts();
    layout.server = spec.hostServer;
    layout.rail.assign(gpus, 0);
    layout.leaf.assign(gpus, UINT32_MAX);
    const bool rails = spec.type == "rail-optimized";
    std::vector<uint32_t> seenInServer;
    std::vector<uint32_t> serverCount;
    for (uint32_t g = 0; g < gpus; ++g)
    {
        if (rails)
        {
            layout.rail[g] = spec.hostRail[g];
            continue;
        }
        const uint32_t s = spec.hostServer[g];
        if (s >= serverCount.size())
        {
            serverCount.resize(s + 1, 0);
        }
        layout.rail[g] = serverCount[s]++;
    }
    std::vector<uint32_t> hostOfNode(spec.nodes.size(), UINT32_MAX);
    for (uint32_t g = 0; g < gpus; ++g)
    {
        hostOfNode[spec.hostNode[g]] = g;
    }
    for (const auto& l : spec.links)
    {
        if (spec.tierNames[l.tier] == "nvlink")
        {
            continue;
        }
        if (hostOfNode[l.a] != UINT32_MAX && layout.leaf[hostOfNode[l.a]] == UINT32_MAX)
        {
            layout.leaf[hostOfNode[l.a]] = l.b;
        }
        if (hostOfNode[l.b] != UINT32_MAX && layout.leaf[hostOfNode[l.b]] == UINT32_MAX)
        {
            layout.leaf[hostOfNode[l.b]] = l.a;
        }
    }
    return layout;
}

MoeWorkloadSpec
ParseMoeWorkload(ConfigReader& wl,
                 const Json& raw,
                 const TopologySpec& topology,
                 uint64_t seed,
                 MoeWorkloadOptions& options)
{
    MoeWorkloadSpec s;
    s.seed = seed;
    const uint32_t numGpus = topology.NumHosts();

    // --- model ---
    const auto modelNames = ModelPresetNames();
    const std::string modelName = wl.GetEnum("model", "deepseek-v3", modelNames);
    s.model = GetModelPreset(modelName);
    {
        ConfigReader mo = wl.GetObject("model_overrides");
        MoeModelSpec& m = s.model;
        auto u32 = [&](const char* key, uint32_t& field, uint64_t min, uint64_t max) {
            field = static_cast<uint32_t>(mo.GetUint(key, field, min, max));
        };
        u32("hidden", m.hidden, 1, 1u << 20);
        u32("routed_experts", m.routedExperts, 1, 1u << 16);
        u32("shared_experts", m.sharedExperts, 0, 64);
        u32("top_k", m.topK, 1, 1u << 16);
        u32("expert_ffn", m.expertFfn, 1, 1u << 20);
        u32("shared_expert_ffn", m.sharedExpertFfn, 0, 1u << 20);
        u32("dense_ffn", m.denseFfn, 0, 1u << 22);
        u32("layers", m.layers, 1, 4096);
        u32("moe_layers", m.moeLayers, 1, 4096);
        u32("groups", m.numGroups, 0, 1u << 16);
        u32("top_k_groups", m.topKGroups, 0, 1u << 16);
        m.attentionParams = mo.GetUint("attention_params", m.attentionParams, 0, 1ull << 40);
        u32("attention_dim", m.attentionDim, 0, 1u << 20);
        u32("kv_bytes_per_token", m.kvBytesPerToken, 0, 1u << 24);
        m.weightBytesPerElement =
            mo.GetDouble("weight_bytes_per_element", m.weightBytesPerElement, 0.125, 8);
        m.computeBytesPerElement =
            mo.GetDouble("compute_bytes_per_element", m.computeBytesPerElement, 0.125, 8);
        m.dispatchBytesPerElement =
            mo.GetDouble("dispatch_bytes_per_element", m.dispatchBytesPerElement, 0.125, 8);
        u32("dispatch_scale_block", m.dispatchScaleBlock, 0, 1u << 20);
        m.combineBytesPerElement =
            mo.GetDouble("combine_bytes_per_element", m.combineBytesPerElement, 0.125, 8);
        m.metadataBytesPerToken =
            mo.GetInt("metadata_bytes_per_token", m.metadataBytesPerToken, -1, 1 << 20);
        m.capacityFactor = mo.GetDouble("capacity_factor", m.capacityFactor, 0, 1000);
        mo.Finish();
        const std::string problem = m.Validate();
        if (!problem.empty())
        {
            const auto colon = problem.find(": ");
            const std::string key = problem.substr(0, colon);
            throw ConfigError(mo.PathOf(key.rfind("model.", 0) == 0 ? key.substr(6) : key),
                              problem.substr(colon + 2));
        }
    }

    // --- step shape ---
    s.mode = wl.GetEnum("mode", "training", {"training", "inference"});
    s.tokensPerGpu = static_cast<uint32_t>(wl.GetUint("tokens_per_gpu", 4096, 1, 1u << 24));
    s.contextTokens = static_cast<uint32_t>(wl.GetUint("context_tokens", 4096, 0, 1u << 24));
    const uint32_t moeLayers = s.model.moeLayers;
    s.layers = static_cast<uint32_t>(
        wl.GetUint("layers", std::min<uint32_t>(4, std::max<uint32_t>(moeLayers, 1)), 1, 100000));
    if (s.layers > moeLayers)
    {
        throw ConfigError(wl.PathOf("layers"),
                          std::to_string(s.layers) + " MoE layers requested but model '" +
                              s.model.name + "' has " + std::to_string(moeLayers) +
                              "; accepted: 1.." + std::to_string(moeLayers));
    }
    s.iterations = static_cast<uint32_t>(wl.GetUint("iterations", 1, 1, 1000000));

    // --- gate ---
    {
        ConfigReader g = wl.GetObject("gate");
        GateSpec& gs = s.gate;
        gs.type = g.GetEnum("type", "uniform", {"uniform", "zipf", "affinity", "replay"});
        gs.numExperts = s.model.routedExperts;
        gs.topK = s.model.topK;
        gs.seed = seed;
        if (gs.type == "zipf" || gs.type == "affinity")
        {
            gs.zipfS = g.GetDouble("s", gs.type == "zipf" ? 1.0 : 0.0, 0, 10);
            gs.permutePerLayer = g.GetBool("permute_per_layer", true);
        }
        if (gs.type == "affinity")
        {
            // Default: groups of 8, or the largest divisor of the expert count below that.
            uint32_t groupDefault = std::min<uint32_t>(8, gs.numExperts);
            while (gs.numExperts % groupDefault != 0)
            {
                --groupDefault;
            }
            gs.affinityGroupSize = static_cast<uint32_t>(
                g.GetUint("affinity_group_size", groupDefault, 1, gs.numExperts));
            gs.affinityStrength = g.GetDouble("affinity_strength", 0.5, 0, 1);
            gs.affinityRankBlock =
                static_cast<uint32_t>(g.GetUint("affinity_rank_block", 0, 0, numGpus));
            if (gs.affinityRankBlock > 0)
            {
                gs.affinityBlocks = static_cast<uint32_t>(
                    g.GetUint("affinity_blocks", 1, 1, gs.numExperts / gs.affinityGroupSize));
            }
        }
        if (gs.type != "replay")
        {
            gs.numGroups =
                static_cast<uint32_t>(g.GetUint("groups", s.model.numGroups, 0, gs.numExperts));
            gs.topKGroups = static_cast<uint32_t>(
                g.GetUint("top_k_groups", s.model.topKGroups, 0, gs.numExperts));
            gs.driftPerIteration = g.GetDouble("drift", 0, 0, 1);
        }
        else
        {
            gs.replayFile = g.GetString("file", "");
            if (gs.replayFile.empty())
            {
                throw ConfigError(g.PathOf("file"),
                                  "a replay gate needs the path of a routing trace "
                                  "(format: traces/routing-trace.md)");
            }
        }
        g.Finish();
        try
        {
            CreateGate(gs);
        }
        catch (const std::invalid_argument& e)
        {
            Rethrow(e, "workload", g.GetPath());
        }
        catch (const std::runtime_error& e)
        {
            throw ConfigError(g.PathOf("file"), e.what());
        }
    }

    // --- GPUs, groups, deployment ---
    std::vector<uint32_t> all(numGpus);
    for (uint32_t i = 0; i < numGpus; ++i)
    {
        all[i] = i;
    }
    {
        ConfigReader d = wl.GetObject("deployment");
        const std::string type = d.GetEnum("type", "co-located", {"co-located", "disaggregated"});
        if (type == "disaggregated")
        {
            auto it = raw.find("deployment");
            const Json empty = Json::object();
            const Json& draw = it != raw.end() && it->is_object() ? *it : empty;
            // Default pool: the last quarter of the GPUs.
            std::vector<uint32_t> tail(all.end() - std::max<uint32_t>(1, numGpus / 4), all.end());
            if (draw.contains("expert_gpus") && draw["expert_gpus"].is_number_unsigned())
            {
                const uint64_t n = draw["expert_gpus"].get<uint64_t>();
                if (n == 0 || n >= numGpus)
                {
                    throw ConfigError(d.PathOf("expert_gpus"),
                                      std::to_string(n) + " expert GPUs; accepted: 1.." +
                                          std::to_string(numGpus - 1) +
                                          " (the last N GPUs) or a list of GPU ids");
                }
                d.GetUint("expert_gpus", n, 1, numGpus - 1);
                s.expertGpus.assign(all.end() - n, all.end());
            }
            else
            {
                s.expertGpus = ReadGpus(d, draw, "expert_gpus", numGpus, tail);
            }
        }
        d.Finish();
    }
    std::vector<uint32_t> rest;
    for (uint32_t g : all)
    {
        if (std::find(s.expertGpus.begin(), s.expertGpus.end(), g) == s.expertGpus.end())
        {
            rest.push_back(g);
        }
    }
    s.nodeGpus = ReadGpus(wl, raw, "gpus", numGpus, rest);
    for (uint32_t g : s.nodeGpus)
    {
        if (std::find(s.expertGpus.begin(), s.expertGpus.end(), g) != s.expertGpus.end())
        {
            throw ConfigError(wl.PathOf("gpus"),
                              "GPU " + std::to_string(g) +
                                  " is both a token-owning GPU and in the expert pool "
                                  "(workload.deployment.expert_gpus)");
        }
    }
    s.groupSize = static_cast<uint32_t>(wl.GetUint("ep_size", 0, 0, numGpus));
    const uint32_t groupSize =
        s.groupSize == 0 ? static_cast<uint32_t>(s.nodeGpus.size()) : s.groupSize;
    if (s.nodeGpus.size() % groupSize != 0)
    {
        throw ConfigError(wl.PathOf("ep_size"),
                          std::to_string(groupSize) + " does not divide the " +
                              std::to_string(s.nodeGpus.size()) +
                              " token-owning GPUs into equal expert-parallel groups");
    }
    const uint32_t expertRanks =
        s.expertGpus.empty() ? groupSize : static_cast<uint32_t>(s.expertGpus.size());
    if (s.model.routedExperts % expertRanks != 0)
    {
        // Name the key that set the count: the pool, the group size, or the GPU list.
        const std::string path = !s.expertGpus.empty() ? "workload.deployment.expert_gpus"
                                 : s.groupSize != 0    ? wl.PathOf("ep_size")
                                                       : wl.PathOf("gpus");
        // workload.gpus defaults to every GPU of the topology: say so when it was not given.
        const bool derived = s.expertGpus.empty() && s.groupSize == 0 && !raw.contains("gpus");
        throw ConfigError(path,
                          std::to_string(s.model.routedExperts) +
                              " routed experts cannot be spread evenly over " +
                              std::to_string(expertRanks) + " expert GPUs" +
                              (derived ? " (not set: by default every GPU of the topology)" : "") +
                              "; accepted: a GPU count that divides the expert count");
    }

    // --- placement and replication ---
    {
        ConfigReader p = wl.GetObject("placement");
        s.placement.type =
            p.GetEnum("type",
                      "round-robin",
                      {"contiguous", "round-robin", "random", "co-selection", "topology-aware"});
        // Both plan from the experts' pairwise co-selection counts, a dense experts^2 matrix
        // (134 MB at 4096 experts; 65536 experts would need 34 GB).
        if ((s.placement.type == "co-selection" || s.placement.type == "topology-aware") &&
            s.model.routedExperts > MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT)
        {
            throw ConfigError(p.PathOf("type"),
                              "\"" + s.placement.type +
                                  "\" plans from pairwise co-selection "
                                  "counts, limited to " +
                                  std::to_string(MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT) +
                                  " routed experts (the model has " +
                                  std::to_string(s.model.routedExperts) +
                                  "); accepted: \"contiguous\", \"round-robin\", \"random\"");
        }
        s.placement.searchPasses = static_cast<uint32_t>(p.GetUint("search_passes", 8, 0, 1000));
        s.placement.seed = seed;
        p.Finish();
        ConfigReader r = wl.GetObject("replication");
        s.placement.redundantSlotsPerGpu =
            static_cast<uint32_t>(r.GetUint("redundant_slots_per_gpu", 0, 0, 1024));
        s.selection =
            r.GetEnum("selection", "local-first", {"local-first", "least-loaded", "round-robin"});
        s.replanEvery = static_cast<uint32_t>(r.GetUint("replan_every", 0, 0, 1000000));
        r.Finish();
    }

    // --- GPU ---
    {
        const std::string gpuName = wl.GetEnum("gpu", "h800", GpuPresetNames());
        s.gpu = GetGpuPreset(gpuName);
        ConfigReader go = wl.GetObject("gpu_overrides");
        s.gpu.peakFlopsBf16 = go.GetDouble("peak_flops_bf16", s.gpu.peakFlopsBf16, 1e9, 1e18);
        s.gpu.peakFlopsFp8 = go.GetDouble("peak_flops_fp8", s.gpu.peakFlopsFp8, 1e9, 1e18);
        s.gpu.hbmBytesPerSec = go.GetDouble("hbm_bytes_per_s", s.gpu.hbmBytesPerSec, 1e9, 1e15);
        s.gpu.efficiency = go.GetDouble("efficiency", s.gpu.efficiency, 0.01, 1);
        s.gpu.memEfficiency = go.GetDouble("mem_efficiency", s.gpu.memEfficiency, 0.01, 1);
        s.gpu.launchOverheadPs =
            go.GetTimePs("launch_overhead", FormatTimePs(s.gpu.launchOverheadPs), 0, PS_PER_S);
        go.Finish();
    }

    // --- dispatch, experts, schedule ---
    {
        ConfigReader d = wl.GetObject("dispatch");
        s.dispatch = ParseDispatchVariant(
            d.GetEnum("variant", "direct", {"direct", "hierarchical", "low-latency"}));
        s.chunkBytes = d.GetBytes("chunk_bytes", 0, 0, 1ull << 40);
        if (s.dispatch == DispatchVariant::LOW_LATENCY && s.chunkBytes != 0)
        {
            throw ConfigError(d.PathOf("chunk_bytes"),
                              "low-latency dispatch sends one message per (token, expert); "
                              "chunking does not apply (accepted: 0)");
        }
        if (s.dispatch == DispatchVariant::HIERARCHICAL && topology.gpusPerServer < 2)
        {
            throw ConfigError(d.PathOf("variant"),
                              "hierarchical dispatch relays over NVLink inside a server, but "
                              "the topology has one GPU per server (set topology.gpus_per_server)");
        }
        d.Finish();
        ConfigReader e = wl.GetObject("experts");
        s.eager = e.GetEnum("batching", "wait-all", {"wait-all", "eager"}) == "eager";
        s.batchWindowPs = e.GetTimePs("batch_window", "0us", 0, PS_PER_S);
        s.streams = static_cast<uint32_t>(e.GetUint("streams", 1, 1, 1024));
        e.Finish();
        ConfigReader sc = wl.GetObject("schedule");
        s.globalBarrier = sc.GetEnum("barrier", "global", {"global", "per-gpu"}) == "global";
        s.microBatches = static_cast<uint32_t>(sc.GetUint("micro_batches", 1, 1, 2));
        s.overlapMicroBatches = sc.GetBool("overlap", true);
        s.sharedExpertOverlap = sc.GetBool("shared_expert_overlap", true);
        sc.Finish();
        if (s.tokensPerGpu % s.microBatches != 0)
        {
            throw ConfigError(wl.PathOf("tokens_per_gpu"),
                              std::to_string(s.tokensPerGpu) + " tokens do not split into " +
                                  std::to_string(s.microBatches) + " equal micro-batches");
        }
        ConfigReader c = wl.GetObject("classes");
        s.dispatchClass =
            static_cast<uint8_t>(c.GetUint("dispatch", 0, 0, NUM_TRAFFIC_CLASSES - 1));
        s.combineClass = static_cast<uint8_t>(c.GetUint("combine", 0, 0, NUM_TRAFFIC_CLASSES - 1));
        c.Finish();
    }
    {
        // Per GPU and layer: BF16 gradients of the attention weights and of the experts the GPU
        // holds (its slots), as a data-parallel ring would carry them.
        ConfigReader ar = wl.GetObject("allreduce");
        s.allReduce = ar.GetBool("enabled", false);
        if (s.allReduce)
        {
            const MoeModelSpec& m = s.model;
            const uint64_t slots = m.routedExperts / expertRanks + s.placement.redundantSlotsPerGpu;
            const double params =
                static_cast<double>(m.attentionParams) +
                static_cast<double>(slots) * 3.0 * m.hidden * m.expertFfn +
                static_cast<double>(m.sharedExperts) * 3.0 * m.hidden * m.sharedExpertFfn;
            const uint64_t def = static_cast<uint64_t>(params * m.combineBytesPerElement);
            s.allReduceBytesPerLayer = ar.GetBytes("bytes_per_layer", def, 1, 1ull << 44);
            s.allReduceClass =
                static_cast<uint8_t>(ar.GetUint("class", 1, 0, NUM_TRAFFIC_CLASSES - 1));
        }
        ar.Finish();
    }
    options.fabricTax = wl.GetBool("fabric_tax", false);
    if (raw.is_object() && raw.contains("serving"))
    {
        ConfigReader sv = wl.GetObject("serving");
        if (s.mode != "inference")
        {
            throw ConfigError(wl.PathOf("mode"),
                              "'" + s.mode +
                                  "' with workload.serving: serving runs forward "
                                  "steps; accepted: \"inference\"");
        }
        if (s.microBatches != 1)
        {
            throw ConfigError(wl.PathOf("schedule") + ".micro_batches",
                              "serving steps are one batch; accepted: 1");
        }
        if (s.allReduce)
        {
            throw ConfigError(wl.PathOf("allreduce") + ".enabled",
                              "the data-parallel all-reduce is training traffic; accepted: false "
                              "with workload.serving");
        }
        if (s.replanEvery != 0)
        {
            throw ConfigError(wl.PathOf("replication") + ".replan_every",
                              "re-planning counts iterations, not serving steps; accepted: 0 "
                              "with workload.serving");
        }
        if (options.fabricTax)
        {
            throw ConfigError(wl.PathOf("fabric_tax"),
                              "the ideal-transport twin does not run serving; accepted: false "
                              "with workload.serving");
        }
        s.stepped = true;
        ParseServing(sv, raw, seed, wl, s, options);
    }

    // Build the placement once now, so an impossible one is a config error, not a crash later.
    try
    {
        Ptr<MoeWorkload> probe = CreateObject<MoeWorkload>();
        probe->Configure(s, MakeGpuLayout(topology));
        probe->Dispose();
    }
    catch (const std::invalid_argument& e)
    {
        Rethrow(e, "workload", wl.GetPath());
    }
    return s;
}

} // namespace moe
} // namespace ns3
