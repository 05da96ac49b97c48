/*
 * The failure-pattern studies of examples/configs: each asserts the pattern on its baseline and
 * the cure against that baseline on the same seed.
 */

#include "test-util.h"

#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

using namespace ns3;
using namespace ns3::moe;

namespace
{
Json
LoadConfig(const std::string& name)
{
    std::ifstream in(moe_test::SourcePath("examples/configs/" + name));
    Json c;
    in >> c;
    return c;
}

struct StudyRun
{
    double acrossSpineBytes{0};
    double dispatchP99S{0};
    double loadMaxOverMean{0};
    double iterationS{0};
    double worstLayerS{0};
    double fabricTax{0};
    double dispatchBytes{0};         ///< all dispatch bytes, every locality
    double offServerBytes{0};        ///< dispatch bytes that leave the server (NIC)
    std::vector<double> stepsS;      ///< every iteration's time, packet-level
    std::vector<double> idealStepsS; ///< the same iterations on the ideal twin
    Json iterationTime;              ///< summary.json's moe.iteration_time
};

/// Coefficient of variation (population standard deviation over mean).
double
Cv(const std::vector<double>& x)
{
    const double mean = std::accumulate(x.begin(), x.end(), 0.0) / x.size();
    double var = 0;
    for (double v : x)
    {
        var += (v - mean) * (v - mean);
    }
    return std::sqrt(var / x.size()) / mean;
}

double
MaxOverMin(const std::vector<double>& x)
{
    return *std::max_element(x.begin(), x.end()) / *std::min_element(x.begin(), x.end());
}

StudyRun
RunStudy(const Json& config)
{
    Scenario sc(config);
    sc.Build();
    EXPECT_TRUE(sc.Run());
    const Json s = sc.MakeSummary();
    Simulator::Destroy();
    StudyRun r;
    const Json& moe = s["moe"];
    r.loadMaxOverMean = moe["gpu_load_max_over_mean"].get<double>();
    r.iterationS = moe["iterations"][0]["completion_s"].get<double>();
    for (const auto& layer : moe["layers"])
    {
        r.worstLayerS = std::max(r.worstLayerS, layer["completion_s"].get<double>());
        r.dispatchP99S =
            std::max(r.dispatchP99S, layer["phases"]["dispatch"]["p99_s"].get<double>());
    }
    const Json& locality = moe["dispatch_bytes_by_locality"];
    r.acrossSpineBytes = locality["across_spine"].get<double>();
    r.offServerBytes = locality["same_leaf"].get<double>() + r.acrossSpineBytes;
    for (const auto& kv : locality.items())
    {
        r.dispatchBytes += kv.value().get<double>();
    }
    r.fabricTax = moe["fabric_tax"]["total"]["tax_fraction"].get<double>();
    r.iterationTime = moe.value("iteration_time", Json());
    for (const auto& it : moe["iterations"])
    {
        r.stepsS.push_back(it["completion_s"].get<double>());
    }
    // The ideal twin reports stage spans; with the stages of an iteration back to back (the
    // layer barrier), their sum is its iteration time.
    std::map<uint32_t, double> ideal;
    for (const auto& layer : moe["fabric_tax"]["layers"])
    {
        ideal[layer["iteration"].get<uint32_t>()] += layer["ideal_s"].get<double>();
    }
    for (const auto& kv : ideal)
    {
        r.idealStepsS.push_back(kv.second);
    }
    return r;
}
} // namespace

TEST(Studies, ExpertHotSpotsAndTheirCureByReplication)
{
    // A Zipf(1.0) router on a round-robin placement: the hottest expert GPU gets about three
    // times the mean load and every GPU waits for it at each layer's collective. Two redundant
    // expert slots per GPU (EPLB from the estimated load) spread the hot experts' replicas and
    // cut the step time; the fabric tax stays near zero in both (the hot spot is a compute
    // problem on a lossless fabric, not a network one).
    Json c = LoadConfig("study-expert-hot-spots.json");
    const StudyRun hot = RunStudy(c);
    c["workload"]["replication"]["redundant_slots_per_gpu"] = 2;
    const StudyRun cured = RunStudy(c);
    std::cout << "hot spots: load max/mean " << hot.loadMaxOverMean << ", step "
              << hot.iterationS * 1e3 << " ms, worst layer " << hot.worstLayerS * 1e3
              << " ms, fabric tax " << 100 * hot.fabricTax << " %; replicated: load max/mean "
              << cured.loadMaxOverMean << ", step " << cured.iterationS * 1e3 << " ms, worst layer "
              << cured.worstLayerS * 1e3 << " ms, fabric tax " << 100 * cured.fabricTax << " %\n";
    EXPECT_GT(hot.loadMaxOverMean, 2.0);
    EXPECT_LT(cured.loadMaxOverMean, 1.5);
    EXPECT_LT(cured.worstLayerS, 0.8 * hot.worstLayerS) << "the cure cuts the worst layer by 20 %";
    EXPECT_LT(cured.iterationS, 0.8 * hot.iterationS);
    EXPECT_LT(std::abs(hot.fabricTax), 0.05);
    RecordProperty("hot_load_max_over_mean_x100", static_cast<int>(100 * hot.loadMaxOverMean));
    RecordProperty("hot_step_us", static_cast<int>(hot.iterationS * 1e6));
    RecordProperty("replicated_step_us", static_cast<int>(cured.iterationS * 1e6));
}

TEST(Studies, RemoteFanOutAndItsCureByCoSelectionPlacement)
{
    // An affinity router (experts picked together in groups of 8, ranks in blocks of 8 sharing
    // preferences) on a placement that ignores it: most copies cross the spine and the dispatch
    // phase is long. The co-selection-aware placement keeps co-picked experts near the ranks
    // that pick them: fewer bytes across the spine, a shorter p99 dispatch, a shorter step.
    Json c = LoadConfig("study-co-selection.json");
    const StudyRun spread = RunStudy(c);
    c["workload"]["placement"]["type"] = "co-selection";
    const StudyRun placed = RunStudy(c);
    std::cout << "fan-out: across-spine " << spread.acrossSpineBytes / (1 << 20) << " MiB, p99 "
              << "dispatch " << spread.dispatchP99S * 1e6 << " us, step " << spread.iterationS * 1e3
              << " ms, fabric tax " << 100 * spread.fabricTax << " %; co-selection: across-spine "
              << placed.acrossSpineBytes / (1 << 20) << " MiB, p99 dispatch "
              << placed.dispatchP99S * 1e6 << " us, step " << placed.iterationS * 1e3
              << " ms, fabric tax " << 100 * placed.fabricTax << " %\n";
    EXPECT_LT(placed.acrossSpineBytes, 0.7 * spread.acrossSpineBytes);
    EXPECT_LT(placed.dispatchP99S, 0.8 * spread.dispatchP99S) << "p99 dispatch cut by 20 %";
    EXPECT_LT(placed.iterationS, spread.iterationS);
    RecordProperty("spread_dispatch_p99_us", static_cast<int>(spread.dispatchP99S * 1e6));
    RecordProperty("placed_dispatch_p99_us", static_cast<int>(placed.dispatchP99S * 1e6));
}

TEST(Studies, BulkTenantPoisonsChatAndPriorityIsolationCuresIt)
{
    // examples/studies/two-tenant-admission.py with no admission and with priority isolation
    // (seed 1): chat's p99 TPOT 741 -> 178 us (-76 %), the fabric tax on it +49 % -> +2 %.
    if (moe_test::SimBinary().empty() || moe_test::RunCommand("command -v python3").exitCode != 0)
    {
        GTEST_SKIP() << "moe-fabric-sim or python3 missing";
    }
    const std::string dir = moe_test::MakeTempDir("two-tenant-study");
    const auto r = moe_test::RunCommand(
        "python3 " + moe_test::SourcePath("examples/studies/two-tenant-admission.py") + " --sim " +
        moe_test::SimBinary() + " --out " + dir + " --policies none,priority --no-plot");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    std::cout << r.output;
    std::map<std::string, std::map<std::string, std::string>> rows; // policy -> column -> value
    for (auto& row : moe_test::ReadCsvRecords(dir + "/two-tenant-admission.csv"))
    {
        rows[row["policy"]] = row;
    }
    ASSERT_EQ(rows.size(), 2u) << r.output;
    auto num = [&](const char* policy, const char* column) {
        return std::stod(rows[policy][column]);
    };
    // Every request of both tenants completes under both policies.
    EXPECT_EQ(rows["none"]["completed"], rows["none"]["requests"]);
    EXPECT_EQ(rows["priority"]["completed"], rows["priority"]["requests"]);
    // The failure: chat's p99 TPOT over 2.5x its 250 us SLO (741 us on seed 1); the cure: at
    // least 20 % lower.
    EXPECT_GT(num("none", "chat_tpot_p99_s"), 2.5 * 250e-6);
    EXPECT_LE(num("priority", "chat_tpot_p99_s"), 0.8 * num("none", "chat_tpot_p99_s"));
    // The cure removes the fabric's share of chat's tail: its fabric tax falls below 10 %.
    EXPECT_GT(num("none", "fabric_tax_chat_tpot_p99"), 0.3);
    EXPECT_LT(num("priority", "fabric_tax_chat_tpot_p99"), 0.1);
    // At a bounded cost to bulk: its median TTFT rises by less than 60 %.
    EXPECT_LT(num("priority", "bulk_ttft_p50_s"), 1.6 * num("none", "bulk_ttft_p50_s"));
}

TEST(Studies, PoorScaleUpAsExpertParallelismLeavesNvlink)
{
    // A large batch (512 tokens per GPU) of a uniform router, expert parallelism over the first
    // 8, 16 and 32 GPUs of 4 NVSwitch servers joined by a non-blocking 400 Gb/s rail-optimized
    // fabric. At 8 GPUs every copy stays on NVLink; at 32 three quarters of the dispatch bytes
    // leave the server through a NIC 3.2 times slower than NVLink. Expert compute per GPU falls
    // (fewer experts' weights to read), but dispatch and combine grow faster: per-GPU tokens/s
    // falls, and the fabric tax grows with the share of bytes on the scale-out fabric.
    Json c = LoadConfig("study-poor-scale-up.json");
    const double tokens = c["workload"]["tokens_per_gpu"].get<double>();
    std::vector<StudyRun> runs;
    for (uint32_t gpus : {8u, 16u, 32u})
    {
        c["workload"]["gpus"] = gpus;
        runs.push_back(RunStudy(c));
        const StudyRun& r = runs.back();
        std::cout << "scale-up: EP " << gpus << ": " << tokens / r.iterationS / 1e3
                  << " k tokens/s per GPU, step " << r.iterationS * 1e3 << " ms, "
                  << 100 * r.offServerBytes / r.dispatchBytes << " % of dispatch bytes off the "
                  << "server (" << 100 * r.acrossSpineBytes / r.dispatchBytes
                  << " % across the spine), fabric tax " << 100 * r.fabricTax << " %\n";
    }
    const double perGpu8 = tokens / runs[0].iterationS;
    const double perGpu16 = tokens / runs[1].iterationS;
    const double perGpu32 = tokens / runs[2].iterationS;
    EXPECT_EQ(runs[0].offServerBytes, 0.0) << "EP 8 is one NVSwitch server";
    EXPECT_GT(runs[2].offServerBytes, 0.7 * runs[2].dispatchBytes);
    EXPECT_LT(perGpu16, perGpu8);
    EXPECT_LT(perGpu32, 0.75 * perGpu8) << "per-GPU throughput falls by at least 25 %";
    EXPECT_GT(runs[2].fabricTax, runs[0].fabricTax + 0.03);
    RecordProperty("ep8_tokens_per_s_per_gpu", static_cast<int>(perGpu8));
    RecordProperty("ep32_tokens_per_s_per_gpu", static_cast<int>(perGpu32));
}

TEST(Studies, BatchInstabilityOnALossyFabricAndItsCureByPfc)
{
    // Eight decode steps of a Zipf(1.0) router: every batch is a fresh sample of the same
    // router, so every step sends a similar incast to the GPUs of the hot experts. On the ideal
    // transport the steps take the same time to within a few per mille; on a lossy fabric
    // (1 MiB tail-drop queues, no congestion control) the incast overflows queues, and which
    // packets drop and whether a retransmission timeout fires differ from batch to batch, so
    // the step time swings. Making priority 0 lossless (PFC) brings it back to the ideal's; the
    // timeouts are raised with it (4 ms, as real RoCE NICs use) so that PFC-held queues do not
    // fire the IRN-style 320 us / 100 us timers spuriously (doc: "Scope and Limitations").
    Json c = LoadConfig("study-batch-instability.json");
    const StudyRun lossy = RunStudy(c);
    c["switch"]["buffer"] = Json{{"type", "shared"}, {"lossless_priorities", Json::array({0})}};
    c["transport"]["rto"] = "4ms";
    c["transport"]["rto_low"] = "4ms";
    const StudyRun pfc = RunStudy(c);
    std::cout << "batch instability: lossy step CV " << Cv(lossy.stepsS) << " max/min "
              << MaxOverMin(lossy.stepsS) << " (ideal CV " << Cv(lossy.idealStepsS) << " max/min "
              << MaxOverMin(lossy.idealStepsS) << "), fabric tax " << 100 * lossy.fabricTax
              << " %; PFC step CV " << Cv(pfc.stepsS) << " max/min " << MaxOverMin(pfc.stepsS)
              << ", fabric tax " << 100 * pfc.fabricTax << " %\n";
    ASSERT_EQ(lossy.stepsS.size(), 8u);
    ASSERT_EQ(lossy.idealStepsS.size(), 8u);
    EXPECT_LT(Cv(lossy.idealStepsS), 0.01) << "the router alone does not make steps swing";
    EXPECT_GT(Cv(lossy.stepsS), 4 * Cv(lossy.idealStepsS));
    EXPECT_GT(MaxOverMin(lossy.stepsS), 1.1);
    EXPECT_LT(Cv(pfc.stepsS), 0.01);
    EXPECT_LT(std::abs(pfc.fabricTax), 0.05);
    // summary.json reports the same spread (moe.iteration_time), computed on its own.
    const Json& t = lossy.iterationTime;
    ASSERT_TRUE(t.is_object()) << "moe.iteration_time missing";
    EXPECT_EQ(t["count"].get<uint64_t>(), 8u);
    EXPECT_NEAR(t["cv"].get<double>(), Cv(lossy.stepsS), 1e-12);
    EXPECT_NEAR(t["ideal_cv"].get<double>(), Cv(lossy.idealStepsS), 1e-12);
    EXPECT_NEAR(t["max_over_min"].get<double>(), MaxOverMin(lossy.stepsS), 1e-12);
    RecordProperty("lossy_step_cv_x1000", static_cast<int>(1000 * Cv(lossy.stepsS)));
    RecordProperty("ideal_step_cv_x1000", static_cast<int>(1000 * Cv(lossy.idealStepsS)));
}
