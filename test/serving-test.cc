/*
 * MoE serving: request arrivals (Poisson, Gamma, trace replay), continuous batching with chunked
 * prefill over real MoE forward steps, per-request metrics, and the serving configuration errors.
 */
#include "test-util.h"

#include "ns3/fabric-config-error.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/serving-loop.h"
#include "ns3/serving-requests.h"
#include "ns3/simulator.h"

#include <cmath>
#include <gtest/gtest.h>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{
/// A small MoE (2 servers x 4 GPUs, 16 experts, top-4, tiny tensors) serving one class of
/// fixed-length requests.
Json
SmallServing(double rate, uint32_t requests)
{
    Json c = Json::parse(R"({
      "seed": 7,
      "topology": { "type": "rail-optimized", "servers": 2, "gpus_per_server": 4, "spines": 2,
                    "link": { "rate": "100Gbps", "delay": "1us" },
                    "nvlink": { "rate": "400Gbps", "delay": "100ns" } },
      "transport": { "type": "rdma", "mtu": 4096 },
      "workload": {
        "type": "moe", "model": "mixtral-8x7b", "mode": "inference",
        "model_overrides": { "hidden": 512, "routed_experts": 16, "top_k": 4, "expert_ffn": 512,
                             "attention_params": 1048576, "attention_dim": 512 },
        "layers": 2,
        "gate": { "type": "zipf", "s": 0.8 },
        "gpu": "h100",
        "serving": {
          "max_step_tokens": 128, "prefill_chunk": 64, "max_running": 16,
          "classes": [ { "name": "chat", "arrival": { "type": "poisson" },
                         "prompt_tokens": 96, "output_tokens": 16,
                         "slo": { "ttft": "500us", "tpot": "100us" } } ] } } })");
    c["workload"]["serving"]["classes"][0]["arrival"]["rate"] = rate;
    c["workload"]["serving"]["classes"][0]["requests"] = requests;
    return c;
}

/// Build and run @p config in this process; returns the summary (and the records if asked).
Json
RunServing(const Json& config, std::vector<ServingRequestRecord>* records = nullptr)
{
    Scenario sc(config);
    sc.Build();
    EXPECT_TRUE(sc.Run());
    Json summary = sc.MakeSummary();
    if (records != nullptr)
    {
        *records = sc.GetServingLoop()->GetRecords();
    }
    Simulator::Destroy();
    return summary;
}

std::string
ConfigErrorOf(const Json& config)
{
    try
    {
        Json effective;
        ParseScenario(config, effective);
    }
    catch (const ConfigError& e)
    {
        return e.what();
    }
    return "";
}

/// Mean and coefficient of variation of the gaps between consecutive arrivals (from 0).
void
GapStats(const std::vector<ServingRequest>& r, double& meanS, double& cv)
{
    double sum = 0;
    double sq = 0;
    int64_t prev = 0;
    for (const auto& q : r)
    {
        const double gap = static_cast<double>(q.arrivalPs - prev) / 1e12;
        sum += gap;
        sq += gap * gap;
        prev = q.arrivalPs;
    }
    meanS = sum / r.size();
    cv = std::sqrt(sq / r.size() - meanS * meanS) / meanS;
}
} // namespace

TEST(ServingArrivals, PoissonHasTheConfiguredRate)
{
    // 20000 arrivals at 1000/s: the mean gap's standard error is 1/sqrt(20000) = 0.71%; the
    // bounds are 4 standard errors. Exponential gaps have CV 1.
    ServingClassSpec c;
    c.rate = 1000;
    c.requests = 20000;
    c.prompt.value = 10;
    c.output.value = 5;
    for (uint64_t seed : {1, 2, 3})
    {
        const auto r = GenerateRequests({c}, 0, seed);
        ASSERT_EQ(r.size(), 20000u);
        double mean;
        double cv;
        GapStats(r, mean, cv);
        EXPECT_NEAR(1.0 / mean, 1000.0, 1000.0 * 0.0284) << "seed " << seed;
        EXPECT_NEAR(cv, 1.0, 0.04) << "seed " << seed;
    }
}

TEST(ServingArrivals, GammaIsBurstyWithTheSameRate)
{
    // Gamma gaps of shape 0.25 at 1000/s: the same mean rate, CV 1/sqrt(0.25) = 2 (standard
    // error of the mean gap 2/sqrt(20000) = 1.4%; bounds 4 standard errors).
    ServingClassSpec c;
    c.arrival = "gamma";
    c.shape = 0.25;
    c.rate = 1000;
    c.requests = 20000;
    const auto r = GenerateRequests({c}, 0, 1);
    double mean;
    double cv;
    GapStats(r, mean, cv);
    EXPECT_NEAR(1.0 / mean, 1000.0, 1000.0 * 0.057);
    EXPECT_NEAR(cv, 2.0, 0.15);
}

TEST(ServingArrivals, DeterministicPerSeedAndHorizonBounded)
{
    ServingClassSpec c;
    c.rate = 5000;
    c.prompt.type = "lognormal";
    c.prompt.median = 200;
    c.prompt.sigma = 1;
    c.prompt.min = 1;
    c.prompt.max = 4096;
    c.output.type = "uniform";
    c.output.min = 4;
    c.output.max = 64;
    const auto a = GenerateRequests({c}, 1000000000LL /* 1 ms */, 9);
    const auto b = GenerateRequests({c}, 1000000000LL, 9);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
    {
        EXPECT_EQ(a[i].arrivalPs, b[i].arrivalPs);
        EXPECT_EQ(a[i].promptTokens, b[i].promptTokens);
        EXPECT_EQ(a[i].outputTokens, b[i].outputTokens);
        EXPECT_LE(a[i].arrivalPs, 1000000000LL);
        EXPECT_GE(a[i].outputTokens, 4u);
        EXPECT_LE(a[i].outputTokens, 64u);
        EXPECT_LE(a[i].promptTokens, 4096u);
    }
    EXPECT_GT(a.size(), 0u);
    EXPECT_NE(GenerateRequests({c}, 1000000000LL, 10)[0].arrivalPs, a[0].arrivalPs);
}

TEST(ServingRun, ReplayedTraceReproducesArrivalTimesExactly)
{
    Json c = SmallServing(1000, 1);
    Json& sv = c["workload"]["serving"];
    sv["trace"] = SourcePath("traces/serving-sample.csv");
    sv["classes"] = Json::parse(R"([ { "name": "chat" }, { "name": "batch" } ])");
    std::vector<ServingRequestRecord> records;
    const Json s = RunServing(c, &records);
    // The rows of traces/serving-sample.csv, in picoseconds.
    const std::vector<int64_t> expected =
        {0, 150000000, 150000000, 420000000, 777000000, 1000000000, 1250000000, 2003000000};
    ASSERT_EQ(records.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i)
    {
        EXPECT_EQ(records[i].request.arrivalPs, expected[i]) << "row " << i;
    }
    EXPECT_EQ(records[2].request.promptTokens, 1024u);
    EXPECT_EQ(records[2].request.cls, 1u);
    EXPECT_EQ(s["serving"]["source"], "trace");
    EXPECT_EQ(s["serving"]["completed"].get<uint32_t>(), 8u);
}

TEST(ServingRun, EveryRequestCompletesWithExactlyItsOutputTokens)
{
    Json c = SmallServing(20000, 60);
    // Mixed lengths: prompts longer than a chunk, single-token outputs.
    c["workload"]["serving"]["classes"][0]["prompt_tokens"] =
        Json::parse(R"({ "type": "uniform", "min": 1, "max": 300 })");
    c["workload"]["serving"]["classes"][0]["output_tokens"] =
        Json::parse(R"({ "type": "uniform", "min": 1, "max": 40 })");
    std::vector<ServingRequestRecord> records;
    const Json s = RunServing(c, &records);
    ASSERT_EQ(records.size(), 60u);
    uint64_t tokens = 0;
    for (const auto& r : records)
    {
        EXPECT_EQ(r.generated, r.request.outputTokens) << "request " << r.request.id;
        EXPECT_EQ(r.promptDone, r.request.promptTokens);
        EXPECT_GE(r.admittedPs, r.request.arrivalPs);
        EXPECT_GT(r.firstTokenPs, r.admittedPs);
        EXPECT_GE(r.finishPs, r.firstTokenPs);
        // Chunks of at most 64 prompt tokens, then one step per further output token.
        EXPECT_GE(r.steps, (r.request.promptTokens + 63) / 64 + r.request.outputTokens - 1);
        tokens += r.request.outputTokens;
    }
    EXPECT_EQ(s["serving"]["completed"].get<uint32_t>(), 60u);
    EXPECT_EQ(s["serving"]["output_tokens"].get<uint64_t>(), tokens);
    // Every step's tokens went through the MoE layers as real dispatch traffic.
    EXPECT_GT(s["moe"]["fabric_messages_by_kind"]["dispatch"]["bytes"].get<uint64_t>(), 0u);
}

TEST(ServingRun, TtftAndTpotRiseWithOfferedLoad)
{
    // 200 requests (96-token prompts, 16 output tokens) on 8 GPUs at three offered loads, same
    // seed. Measured (p50 TTFT / mean TPOT): 5000/s 194 / 64 us, 20000/s 246 / 89 us,
    // 60000/s 586 / 134 us. Beyond ~60000/s every GPU runs max_running = 16 requests, so TPOT
    // saturates (131 us at 80000/s and 160000/s) while TTFT keeps rising with the queue.
    double lastTtft = 0;
    double lastTpot = 0;
    double lastGoodput = 1e18;
    for (double rate : {5000.0, 20000.0, 60000.0})
    {
        const Json s = RunServing(SmallServing(rate, 200));
        const Json& cls = s["serving"]["classes"][0];
        ASSERT_EQ(cls["completed"].get<uint32_t>(), 200u);
        const double ttft = cls["ttft"]["p50_s"].get<double>();
        const double tpot = cls["tpot"]["mean_s"].get<double>();
        const double goodput = cls["goodput_rps"].get<double>();
        std::cout << "rate " << rate << "/s: TTFT p50 " << ttft * 1e6 << " us, p99 "
                  << cls["ttft"]["p99_s"].get<double>() * 1e6 << " us; TPOT mean " << tpot * 1e6
                  << " us, p99 " << cls["tpot"]["p99_s"].get<double>() * 1e6 << " us; SLO met "
                  << cls["slo_met"].get<uint32_t>() << ", goodput " << goodput << "/s\n";
        EXPECT_GT(ttft, lastTtft * 1.1) << "rate " << rate;
        EXPECT_GT(tpot, lastTpot * 1.1) << "rate " << rate;
        lastTtft = ttft;
        lastTpot = tpot;
        lastGoodput = goodput;
    }
    // At 60000/s the mean TPOT is above the 100 us target: few requests meet the SLO.
    EXPECT_LT(lastGoodput, 60000.0 / 2);
}

TEST(ServingRun, SameSeedSameRequests)
{
    std::vector<ServingRequestRecord> a;
    std::vector<ServingRequestRecord> b;
    RunServing(SmallServing(20000, 40), &a);
    RunServing(SmallServing(20000, 40), &b);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
    {
        EXPECT_EQ(a[i].request.arrivalPs, b[i].request.arrivalPs);
        EXPECT_EQ(a[i].firstTokenPs, b[i].firstTokenPs);
        EXPECT_EQ(a[i].finishPs, b[i].finishPs);
    }
}

TEST(ServingConfig, BadSettingsNameTheKey)
{
    auto expectError = [](const Json& c, const std::string& path) {
        const std::string what = ConfigErrorOf(c);
        EXPECT_EQ(what.rfind(path + ":", 0), 0u) << "expected " << path << ", got: " << what;
    };
    Json c = SmallServing(1000, 10);
    c["workload"]["serving"].erase("classes");
    expectError(c, "workload.serving.classes");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["classes"][0]["arrival"]["rate"] = 0;
    expectError(c, "workload.serving.classes[0].arrival.rate");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["classes"][0]["arrival"]["type"] = "uniform";
    expectError(c, "workload.serving.classes[0].arrival.type");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["classes"][0]["requests"] = 0;
    expectError(c, "workload.serving.classes[0].requests");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["max_running"] = 200;
    expectError(c, "workload.serving.max_running");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["classes"][0]["prompt_tokens"] =
        Json::parse(R"({ "type": "uniform", "min": 10, "max": 5 })");
    expectError(c, "workload.serving.classes[0].prompt_tokens.max");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["classes"][0]["slo"]["ttft"] = "soon";
    expectError(c, "workload.serving.classes[0].slo.ttft");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["classes"][0]["colour"] = "blue";
    expectError(c, "workload.serving.classes[0].colour");
    c = SmallServing(1000, 10);
    c["workload"]["serving"]["trace"] = "/nonexistent/requests.csv";
    expectError(c, "workload.serving.trace");
    c = SmallServing(1000, 10);
    c["workload"]["mode"] = "training";
    expectError(c, "workload.mode");
    c = SmallServing(1000, 10);
    c["workload"]["schedule"] = Json::parse(R"({ "micro_batches": 2 })");
    expectError(c, "workload.schedule.micro_batches");
}

TEST(ServingConfig, MalformedTraceRowsNameTheLine)
{
    const std::string dir = MakeTempDir("trace");
    const std::string path = dir + "/t.csv";
    FILE* f = fopen(path.c_str(), "w");
    const std::string text = "arrival_s,class,prompt_tokens,output_tokens\n0.001,chat,10,2\n"
                             "0.0005,chat,10,2\n";
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
    Json c = SmallServing(1000, 10);
    c["workload"]["serving"]["trace"] = path;
    const std::string what = ConfigErrorOf(c);
    EXPECT_NE(what.find("workload.serving.trace: " + path + ":3: arrival_s goes backwards"),
              std::string::npos)
        << what;
}

TEST(ServingConfig, CliExitsWith2OnABadServingSetting)
{
    if (SimBinary().empty())
    {
        GTEST_SKIP() << "moe-fabric-sim not built";
    }
    const std::string out = MakeTempDir("out");
    const CommandResult r = RunCommand(
        SimBinary() + " --config=" + SourcePath("examples/configs/moe-serving-decode-heavy.json") +
        " --set=workload.serving.max_step_tokens=0 --dry-run --out=" + out);
    EXPECT_EQ(r.exitCode, 2) << r.output;
    EXPECT_NE(r.output.find("configuration error: workload.serving.max_step_tokens"),
              std::string::npos)
        << r.output;
}
