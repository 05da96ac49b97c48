/*
 * The MoE workload end to end: dispatch bytes against the routed tokens for every dispatch
 * variant, barriers, micro-batch overlap, replication and placement seen through a scenario,
 * the fabric tax, determinism and the workload's configuration errors.
 */
#include "test-util.h"

#include "ns3/expert-placement.h"
#include "ns3/fabric-helper.h"
#include "ns3/gpu-compute-engine.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-gate.h"
#include "ns3/moe-scenario.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <set>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{
/// A small MoE on 2 servers x 4 GPUs (rail-optimized): 16 experts, top-4, tiny tensors so the
/// compute is short and the messages are a few packets.
Json
SmallMoe()
{
    return Json::parse(R"({
      "seed": 7,
      "topology": { "type": "rail-optimized", "servers": 2, "gpus_per_server": 4, "spines": 2,
                    "link": { "rate": "100Gbps", "delay": "1us" },
                    "nvlink": { "rate": "400Gbps", "delay": "100ns" } },
      "transport": { "type": "rdma", "mtu": 4096 },
      "workload": {
        "type": "moe", "model": "mixtral-8x7b", "mode": "inference",
        "model_overrides": { "hidden": 512, "routed_experts": 16, "top_k": 4, "expert_ffn": 512,
                             "attention_params": 1048576, "attention_dim": 512 },
        "tokens_per_gpu": 64, "context_tokens": 256, "layers": 2, "iterations": 1,
        "gate": { "type": "zipf", "s": 0.8 },
        "placement": { "type": "round-robin" },
        "gpu": "h100" } })");
}

uint64_t
KindBytes(const Json& s, const std::string& kind)
{
    return s["moe"]["fabric_messages_by_kind"][kind]["bytes"].get<uint64_t>();
}

/// The dispatch traffic of SmallMoe() worked out independently of the workload: route every
/// token with the gate, find the GPU of each expert (round-robin: expert e on GPU e % 8, no
/// replicas), and count copies the way each dispatch variant sends them.
struct Expected
{
    uint64_t directCopies{0};     ///< one per (token, other destination GPU)
    uint64_t lowLatencyCopies{0}; ///< one per (token, expert) on another GPU
    uint64_t relayCopies{0};      ///< hierarchical: one per (token, other server)
    uint64_t forwardCopies{0};    ///< hierarchical: relay -> other GPUs of that server
    uint64_t sameServerCopies{0}; ///< hierarchical: direct NVLink copies in the own server
};

Expected
ExpectedCopies(uint32_t layers, uint32_t tokens)
{
    GateSpec g;
    g.type = "zipf";
    g.zipfS = 0.8;
    g.numExperts = 16;
    g.topK = 4;
    g.seed = 7;
    auto gate = CreateGate(g);
    Expected e;
    std::vector<uint32_t> picks;
    for (uint32_t layer = 0; layer < layers; ++layer)
    {
        for (uint32_t n = 0; n < 8; ++n)
        {
            gate->Route(0, layer, n, tokens, picks);
            for (uint32_t t = 0; t < tokens; ++t)
            {
                std::set<uint32_t> gpus;
                std::set<uint32_t> servers;
                for (uint32_t i = 0; i < 4; ++i)
                {
                    const uint32_t gpu = picks[t * 4 + i] % 8;
                    if (gpu != n)
                    {
                        ++e.lowLatencyCopies;
                        gpus.insert(gpu);
                    }
                }
                e.directCopies += gpus.size();
                for (uint32_t gpu : gpus)
                {
                    if (gpu / 4 == n / 4)
                    {
                        ++e.sameServerCopies;
                        continue;
                    }
                    servers.insert(gpu / 4);
                    // The relay is the GPU of n's rail (local index) in that server.
                    if (gpu % 4 != n % 4)
                    {
                        ++e.forwardCopies;
                    }
                }
                e.relayCopies += servers.size();
            }
        }
    }
    return e;
}
} // namespace

TEST(MoeWorkload, DirectDispatchSendsOneCopyPerTokenAndDestinationGpu)
{
    const Json s = RunScenario(SmallMoe());
    const Expected e = ExpectedCopies(2, 64);
    const uint64_t bpt = s["moe"]["dispatch_bytes_per_token"].get<uint64_t>();
    EXPECT_EQ(bpt, 512u * 2 + 4 * 8); // BF16 payload + (int32 index, fp32 weight) x top-4
    EXPECT_EQ(KindBytes(s, "dispatch"), e.directCopies * bpt);
    const Json& loc = s["moe"]["dispatch_bytes_by_locality"];
    EXPECT_EQ(loc["same_server"].get<uint64_t>() + loc["same_leaf"].get<uint64_t>() +
                  loc["across_spine"].get<uint64_t>(),
              e.directCopies * bpt);
    // Combine mirrors dispatch: one result per token copy, BF16.
    EXPECT_EQ(KindBytes(s, "combine"), e.directCopies * 512 * 2);
    EXPECT_TRUE(s["moe"]["complete"].get<bool>());
    EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(),
              KindBytes(s, "dispatch") + KindBytes(s, "combine"));
    EXPECT_EQ(s["fabric"]["frame_conservation"], "ok");
    // Every routed pick was served: 8 GPUs x 64 tokens x top-4 x 2 layers.
    EXPECT_EQ(s["moe"]["routed_picks"].get<uint64_t>(), 8u * 64 * 4 * 2);
    uint64_t sum = 0;
    for (const auto& t : s["moe"]["expert_tokens"])
    {
        sum += t.get<uint64_t>();
    }
    EXPECT_EQ(sum, 8u * 64 * 4 * 2);
}

TEST(MoeWorkload, LowLatencyDispatchSendsOneMessagePerTokenAndExpert)
{
    Json c = SmallMoe();
    c["workload"]["dispatch"]["variant"] = "low-latency";
    const Json s = RunScenario(c);
    const Expected e = ExpectedCopies(2, 64);
    const uint64_t bpt = s["moe"]["dispatch_bytes_per_token"].get<uint64_t>();
    EXPECT_EQ(KindBytes(s, "dispatch"), e.lowLatencyCopies * bpt);
    EXPECT_EQ(s["moe"]["fabric_messages_by_kind"]["dispatch"]["messages"].get<uint64_t>(),
              e.lowLatencyCopies);
    EXPECT_GT(e.lowLatencyCopies, e.directCopies); // no deduplication
    // One BF16 result per (token, expert) comes back.
    EXPECT_EQ(KindBytes(s, "combine"), e.lowLatencyCopies * 512 * 2);
    EXPECT_TRUE(s["moe"]["complete"].get<bool>());
}

TEST(MoeWorkload, HierarchicalDispatchCrossesServersOncePerTokenThenUsesNvlink)
{
    Json c = SmallMoe();
    c["workload"]["dispatch"]["variant"] = "hierarchical";
    const Json s = RunScenario(c);
    const Expected e = ExpectedCopies(2, 64);
    const uint64_t bpt = s["moe"]["dispatch_bytes_per_token"].get<uint64_t>();
    EXPECT_EQ(KindBytes(s, "relay-dispatch"), e.relayCopies * bpt);
    EXPECT_EQ(KindBytes(s, "forward"), e.forwardCopies * bpt);
    EXPECT_EQ(KindBytes(s, "dispatch"), e.sameServerCopies * bpt);
    // Fewer bytes leave each server than with direct dispatch.
    const Json& loc = s["moe"]["dispatch_bytes_by_locality"];
    EXPECT_EQ(loc["same_leaf"].get<uint64_t>() + loc["across_spine"].get<uint64_t>(),
              e.relayCopies * bpt);
    EXPECT_LT(e.relayCopies, e.directCopies - e.sameServerCopies);
    // Combine mirrors it: results of the relay's server-mates go to the relay over NVLink, the
    // relay returns one summed result per token, own-server GPUs answer directly.
    EXPECT_EQ(KindBytes(s, "combine-to-relay"), e.forwardCopies * 512 * 2);
    EXPECT_EQ(KindBytes(s, "combine"), (e.relayCopies + e.sameServerCopies) * 512 * 2);
    EXPECT_TRUE(s["moe"]["complete"].get<bool>());
}

TEST(MoeWorkload, NoStageStartsBeforeItsGlobalBarrier)
{
    Json c = SmallMoe();
    c["workload"]["mode"] = "training";
    c["workload"]["iterations"] = 2;
    c["workload"]["gate"]["s"] = 1.2;
    Scenario sc(c);
    sc.Build();
    ASSERT_TRUE(sc.Run());
    Ptr<MoeWorkload> w = sc.GetMoeWorkload();
    const uint32_t stages = w->GetStagesPerIteration();
    ASSERT_EQ(stages, 4u);
    int64_t prevEnd = -1;
    for (uint32_t it = 0; it < 2; ++it)
    {
        for (uint32_t st = 0; st < stages; ++st)
        {
            int64_t minStart = INT64_MAX;
            int64_t maxEnd = -1;
            for (uint32_t n = 0; n < 8; ++n)
            {
                const MoeUnitRecord& r = w->GetRecord(0, it, st, 0, n);
                minStart = std::min(minStart, r.start);
                maxEnd = std::max(maxEnd, r.end);
                EXPECT_LE(r.start, r.attentionEnd);
                EXPECT_LE(r.attentionEnd, r.combineDone);
                EXPECT_LE(r.combineDone, r.end);
            }
            EXPECT_GE(minStart, prevEnd) << "iteration " << it << " stage " << st;
            prevEnd = maxEnd;
        }
    }
    Simulator::Destroy();
}

TEST(MoeWorkload, PerGpuProgressLetsFastGpusRunAhead)
{
    Json c = SmallMoe();
    c["workload"]["mode"] = "training";
    c["workload"]["gate"]["s"] = 1.2;
    const Json global = RunScenario(c);
    c["workload"]["schedule"]["barrier"] = "per-gpu";
    const Json perGpu = RunScenario(c);
    const double g = global["moe"]["iterations"][0]["completion_s"].get<double>();
    const double p = perGpu["moe"]["iterations"][0]["completion_s"].get<double>();
    EXPECT_LE(p, g);
    // Without a barrier nobody waits at one.
    for (const auto& l : perGpu["moe"]["layers"])
    {
        EXPECT_EQ(l["phases"]["barrier_wait"]["max_s"].get<double>(), 0.0);
    }
}

TEST(MoeWorkload, MicroBatchOverlapIsNeverSlowerThanBackToBack)
{
    Json c = SmallMoe();
    c["workload"]["mode"] = "training";
    c["workload"]["tokens_per_gpu"] = 128;
    c["workload"]["schedule"]["micro_batches"] = 2;
    c["workload"]["schedule"]["overlap"] = false;
    const Json serial = RunScenario(c);
    c["workload"]["schedule"]["overlap"] = true;
    const Json overlap = RunScenario(c);
    const double a = serial["moe"]["iterations"][0]["completion_s"].get<double>();
    const double b = overlap["moe"]["iterations"][0]["completion_s"].get<double>();
    EXPECT_LT(b, a);
    // ...and no layer (forward or backward) takes longer from its first micro-batch's start to
    // its last one's end.
    ASSERT_EQ(serial["moe"]["layers"].size(), overlap["moe"]["layers"].size());
    for (size_t i = 0; i < serial["moe"]["layers"].size(); ++i)
    {
        EXPECT_LE(overlap["moe"]["layers"][i]["completion_s"].get<double>(),
                  serial["moe"]["layers"][i]["completion_s"].get<double>())
            << "layer pass " << i;
    }
    // Same tokens, same routing: the split into micro-batches does not change the traffic.
    EXPECT_EQ(serial["moe"]["expert_tokens"], overlap["moe"]["expert_tokens"]);
    EXPECT_EQ(KindBytes(serial, "dispatch"), KindBytes(overlap, "dispatch"));
}

TEST(MoeWorkload, FabricTaxIsNearZeroOnAnOversizedFabric)
{
    Json c = SmallMoe();
    c["workload"]["fabric_tax"] = true;
    // Links far faster than the traffic needs: the packet-level run is within a few percent.
    c["topology"]["link"]["rate"] = "800Gbps";
    c["topology"]["nvlink"]["rate"] = "3200Gbps";
    const Json s = RunScenario(c);
    const Json& t = s["moe"]["fabric_tax"]["total"];
    // The ideal transport shares each host port max-min fairly; that fluid schedule is not
    // makespan-optimal, so packets served first-come first-served can beat it by a hair
    // (doc/moe-fabric.rst, "Fabric tax"). Never by more than half a percent here.
    EXPECT_GE(t["tax_fraction"].get<double>(), -0.005);
    EXPECT_LE(t["tax_fraction"].get<double>(), 0.05);
    for (const auto& l : s["moe"]["fabric_tax"]["layers"])
    {
        EXPECT_GE(l["tax_s"].get<double>(), -0.005 * l["ideal_s"].get<double>());
    }
    // A slow, 16:1 oversubscribed fabric pays a visible tax on the same workload.
    Json slow = SmallMoe();
    slow["workload"]["fabric_tax"] = true;
    slow["topology"] = Json::parse(R"({ "type": "leaf-spine", "leaves": 2, "hosts_per_leaf": 4,
        "spines": 1, "link": { "rate": "100Gbps", "delay": "1us" } })");
    slow["topology"]["tiers"]["leaf-spine"]["rate"] = "25Gbps";
    const Json t2 = RunScenario(slow)["moe"]["fabric_tax"]["total"];
    EXPECT_GT(t2["tax_fraction"].get<double>(), 2 * t["tax_fraction"].get<double>());
    EXPECT_GT(t2["tax_fraction"].get<double>(), 0.10);
}

TEST(MoeWorkload, RedundantSlotsCutTheHottestGpuLoad)
{
    // Zipf s = 1.2 over DeepSeek-V3's 256 experts on 32 GPUs: 2 redundant slots per GPU cut
    // max/mean GPU load by at least a quarter.
    Json c = Json::parse(R"({
      "seed": 3,
      "topology": { "type": "rail-optimized", "servers": 4, "gpus_per_server": 8, "spines": 4,
                    "link": { "rate": "400Gbps", "delay": "1us" } },
      "workload": { "type": "moe", "model": "deepseek-v3", "mode": "inference",
                    "tokens_per_gpu": 64, "layers": 1,
                    "gate": { "type": "zipf", "s": 1.2 },
                    "replication": { "redundant_slots_per_gpu": 0, "selection": "least-loaded" } } })");
    const double before = RunScenario(c)["moe"]["gpu_load_max_over_mean"].get<double>();
    c["workload"]["replication"]["redundant_slots_per_gpu"] = 2;
    const double after = RunScenario(c)["moe"]["gpu_load_max_over_mean"].get<double>();
    EXPECT_GT(before, 1.5);
    EXPECT_LE(after, 0.75 * before);
}

TEST(MoeWorkload, CoSelectionPlacementKeepsDispatchInsideServers)
{
    // A strong affinity gate: a token picks 90% of its experts from one home group of 8, and
    // the GPUs of one server (8 consecutive ranks) take their home groups from their own quarter
    // of the groups. The co-selection placement packs each group's experts into the server
    // whose tokens favour them: the same-server share of dispatch bytes (copies to other GPUs
    // of the source's server / all copies to other GPUs) is at least 1.5x round-robin's.
    Json c = Json::parse(R"({
      "seed": 5,
      "topology": { "type": "rail-optimized", "servers": 4, "gpus_per_server": 8, "spines": 4,
                    "link": { "rate": "400Gbps", "delay": "1us" } },
      "workload": { "type": "moe", "model": "deepseek-v3", "mode": "inference",
                    "tokens_per_gpu": 64, "layers": 1,
                    "model_overrides": { "groups": 0, "top_k_groups": 0 },
                    "gate": { "type": "affinity", "affinity_group_size": 8,
                              "affinity_strength": 0.9, "s": 0.0,
                              "affinity_rank_block": 8, "affinity_blocks": 4 },
                    "placement": { "type": "round-robin" } } })");
    auto share = [](const Json& s) {
        const Json& l = s["moe"]["dispatch_bytes_by_locality"];
        const double same = l["same_server"].get<double>();
        return same / (same + l["same_leaf"].get<double>() + l["across_spine"].get<double>());
    };
    const Json rr = RunScenario(c);
    c["workload"]["placement"]["type"] = "co-selection";
    const Json co = RunScenario(c);
    EXPECT_GE(share(co), 1.5 * share(rr)) << share(co) << " vs " << share(rr);
}

TEST(MoeWorkload, SameSeedSameSummary)
{
    Json c = SmallMoe();
    c["workload"]["experts"]["batching"] = "eager";
    c["workload"]["experts"]["batch_window"] = "2us";
    Json a = RunScenario(c);
    Json b = RunScenario(c);
    for (Json* s : {&a, &b})
    {
        (*s)["sim"].erase("wall_s");
        (*s)["sim"].erase("wall_s_per_million_packet_hops");
        (*s)["sim"].erase("peak_rss_mb");
    }
    EXPECT_EQ(a.dump(), b.dump());
}

TEST(MoeWorkload, AnUnevenExpertSpreadSaysWhenTheGpuCountWasDerived)
{
    // 16 experts over 3 servers x 4 GPUs: the error names workload.gpus, which the user never
    // set -- it says that the count is the topology's (found by a user walkthrough).
    Json c = SmallMoe();
    c["topology"]["servers"] = 3;
    EXPECT_EQ(ScenarioConfigError(c),
              "workload.gpus: 16 routed experts cannot be spread evenly over 12 expert GPUs (not "
              "set: by default every GPU of the topology); accepted: a GPU count that divides the "
              "expert count");
    c["workload"]["gpus"] = 12;
    EXPECT_EQ(ScenarioConfigError(c),
              "workload.gpus: 16 routed experts cannot be spread evenly over 12 expert GPUs; "
              "accepted: a GPU count that divides the expert count");
}

TEST(MoeWorkload, ManyExpertsNeedNoPairwiseMatrixUnlessThePlacementUsesIt)
{
    // Every layer's placement is planned from sampled routing; only co-selection and
    // topology-aware placements need the experts^2 co-selection counts. Building them anyway
    // made 65536 experts (the documented maximum) abort with std::bad_alloc while configuring.
    Json c = SmallMoe();
    c["workload"]["model_overrides"]["routed_experts"] = 65536;
    c["workload"]["model_overrides"]["top_k"] = 8;
    EXPECT_EQ(ScenarioConfigError(c), "");
    for (const char* type : {"co-selection", "topology-aware"})
    {
        c["workload"]["placement"]["type"] = type;
        c["workload"]["model_overrides"]["routed_experts"] = 4104; // a multiple of 8 GPUs
        EXPECT_EQ(ScenarioConfigError(c),
                  std::string("workload.placement.type: \"") + type +
                      "\" plans from pairwise co-selection counts, limited to 4096 routed experts "
                      "(the model has 4104); accepted: \"contiguous\", \"round-robin\", "
                      "\"random\"");
    }
}

TEST(MoeWorkload, AnOpenBatchWindowIsNotAStall)
{
    // Eager batching with a window longer than the no-progress timeout: while the window runs
    // nothing moves, yet a batch will launch when it closes. The watchdog used to stop such
    // runs as stalled (exit 3 with nothing pending).
    Json c = SmallMoe();
    c["workload"]["experts"]["batching"] = "eager";
    c["workload"]["experts"]["batch_window"] = "200us";
    c["simulation"]["no_progress_timeout"] = "20us";
    const Json s = RunScenario(c);
    EXPECT_EQ(s["sim"]["stop_reason"], "complete");
    EXPECT_TRUE(s["moe"]["complete"].get<bool>());
    EXPECT_GT(s["sim"]["sim_time_s"].get<double>(), 200e-6);
}

TEST(MoeWorkload, DisaggregatedPoolServesEveryToken)
{
    Json c = SmallMoe();
    c["workload"]["deployment"] = Json::parse(R"({ "type": "disaggregated", "expert_gpus": 2 })");
    const Json s = RunScenario(c);
    EXPECT_TRUE(s["moe"]["complete"].get<bool>());
    EXPECT_EQ(s["moe"]["node_gpus"].get<uint32_t>(), 6u);
    EXPECT_EQ(s["moe"]["expert_gpus"].get<uint32_t>(), 2u);
    // Only the pool computes experts.
    const Json& tokens = s["moe"]["gpu_tokens"];
    EXPECT_EQ(tokens.size(), 2u);
    EXPECT_EQ(tokens["6"].get<uint64_t>() + tokens["7"].get<uint64_t>(), 6u * 64 * 4 * 2);
    // Nothing stays on a GPU: the node GPUs host no experts.
    EXPECT_EQ(s["moe"]["dispatch_bytes_by_locality"]["same_gpu"].get<uint64_t>(), 0u);
}

TEST(MoeWorkload, CapacityFactorDropsPicksOverCapacity)
{
    Json c = SmallMoe();
    c["workload"]["gate"]["s"] = 2.0;
    c["workload"]["model_overrides"]["capacity_factor"] = 1.0;
    const Json s = RunScenario(c);
    const uint64_t dropped = s["moe"]["dropped_picks"].get<uint64_t>();
    EXPECT_GT(dropped, 0u);
    EXPECT_EQ(s["moe"]["routed_picks"].get<uint64_t>() + dropped, 8u * 64 * 4 * 2);
    // capacity = ceil(1.0 x 64 x 4 / 16) = 16 picks per expert per source batch.
    for (const auto& t : s["moe"]["expert_tokens"])
    {
        EXPECT_LE(t.get<uint64_t>(), 16u * 8 * 2);
    }
}

TEST(MoeWorkload, ChunkedDispatchSplitsMessagesAndEagerExpertsStartEarly)
{
    Json c = SmallMoe();
    const Json whole = RunScenario(c);
    c["workload"]["dispatch"]["chunk_bytes"] = 4096;
    c["workload"]["experts"]["batching"] = "eager";
    const Json chunked = RunScenario(c);
    // Same bytes, more messages: every (source, destination) payload in 4 KiB pieces.
    EXPECT_EQ(KindBytes(chunked, "dispatch"), KindBytes(whole, "dispatch"));
    const uint64_t wholeMsgs =
        whole["moe"]["fabric_messages_by_kind"]["dispatch"]["messages"].get<uint64_t>();
    const uint64_t chunkMsgs =
        chunked["moe"]["fabric_messages_by_kind"]["dispatch"]["messages"].get<uint64_t>();
    EXPECT_GE(chunkMsgs, KindBytes(whole, "dispatch") / 4096);
    EXPECT_GT(chunkMsgs, wholeMsgs);
    EXPECT_TRUE(chunked["moe"]["complete"].get<bool>());
}

namespace
{
/// Number of (GPU, stage) records whose critical expert GPU started computing this GPU's tokens
/// before the last of them had arrived.
uint32_t
EarlyStarts(const Json& config)
{
    Scenario sc(config);
    sc.Build();
    EXPECT_TRUE(sc.Run());
    Ptr<MoeWorkload> w = sc.GetMoeWorkload();
    uint32_t early = 0;
    for (uint32_t st = 0; st < w->GetStagesPerIteration(); ++st)
    {
        for (uint32_t n = 0; n < 8; ++n)
        {
            const MoeUnitRecord& r = w->GetRecord(0, 0, st, 0, n);
            early += r.computeStart < r.expertReady;
        }
    }
    Simulator::Destroy();
    return early;
}
} // namespace

TEST(MoeWorkload, EagerExpertsStartOnTheFirstChunks)
{
    Json c = SmallMoe();
    c["topology"]["link"]["rate"] = "25Gbps"; // slow links: chunks arrive far apart
    c["workload"]["dispatch"]["chunk_bytes"] = 2048;
    EXPECT_EQ(EarlyStarts(c), 0u); // wait-all: nothing before the last part of the stage
    c["workload"]["experts"]["batching"] = "eager";
    EXPECT_GT(EarlyStarts(c), 0u);
}

TEST(MoeWorkload, MicroBatchesDropTheSamePicksAsOneBatch)
{
    Json c = SmallMoe();
    c["workload"]["gate"]["s"] = 2.0;
    c["workload"]["model_overrides"]["capacity_factor"] = 1.0;
    const Json one = RunScenario(c);
    c["workload"]["schedule"]["micro_batches"] = 2;
    const Json two = RunScenario(c);
    EXPECT_GT(one["moe"]["dropped_picks"].get<uint64_t>(), 0u);
    EXPECT_EQ(one["moe"]["dropped_picks"], two["moe"]["dropped_picks"]);
    EXPECT_EQ(one["moe"]["expert_tokens"], two["moe"]["expert_tokens"]);
}

TEST(MoeWorkload, LocalFirstSpreadsEquallyNearPoolGpus)
{
    // Every token-owning GPU is equally far from the 4 pool GPUs (another leaf): local-first
    // must not make one pool GPU everybody's "own" replica.
    Json c = Json::parse(R"({
      "seed": 2,
      "topology": { "type": "leaf-spine", "leaves": 2, "hosts_per_leaf": 8, "spines": 2,
                    "link": { "rate": "400Gbps", "delay": "1us" } },
      "workload": { "type": "moe", "model": "mixtral-8x7b", "mode": "inference",
                    "model_overrides": { "hidden": 512, "routed_experts": 16, "top_k": 4,
                                         "expert_ffn": 512, "attention_params": 1048576,
                                         "attention_dim": 512 },
                    "tokens_per_gpu": 64, "layers": 1,
                    "gate": { "type": "uniform" },
                    "deployment": { "type": "disaggregated", "expert_gpus": [12, 13, 14, 15] },
                    "gpus": [0, 1, 2, 3, 4, 5, 6, 7],
                    "replication": { "redundant_slots_per_gpu": 2, "selection": "local-first" } } })");
    Scenario sc(c);
    sc.Build();
    const LayerPlanContext& ctx = sc.GetMoeWorkload()->GetPlanContext(0);
    // Two token owners call each pool GPU their own.
    std::vector<uint32_t> owners(4, 0);
    for (uint32_t r : ctx.selectorRank)
    {
        ++owners.at(r);
    }
    EXPECT_EQ(owners, (std::vector<uint32_t>{2, 2, 2, 2}));
    Simulator::Destroy();
}

TEST(MoeWorkload, SharedExpertsOverlapTheDispatch)
{
    Json c = SmallMoe();
    c["workload"]["model_overrides"]["shared_experts"] = 1;
    c["workload"]["model_overrides"]["shared_expert_ffn"] = 4096;
    const Json overlapped = RunScenario(c);
    c["workload"]["schedule"]["shared_expert_overlap"] = false;
    const Json serial = RunScenario(c);
    EXPECT_LT(overlapped["moe"]["iterations"][0]["completion_s"].get<double>(),
              serial["moe"]["iterations"][0]["completion_s"].get<double>());
    EXPECT_GT(overlapped["moe"]["gpu_compute"]["shared_expert_s"].get<double>(), 0.0);
}

TEST(GpuComputeEngine, StreamsRunExpertKernelsTogetherAndWholeKernelsAlone)
{
    FabricHelper::EnsurePicosecondResolution();
    Ptr<GpuComputeEngine> e = CreateObject<GpuComputeEngine>();
    e->SetAttribute("Streams", UintegerValue(2));
    std::vector<std::pair<Time, Time>> runs(4);

    struct Sink
    {
        std::vector<std::pair<Time, Time>>* runs;

        void Done(uint32_t i, Time start, Time end)
        {
            (*runs)[i] = {start, end};
        }
    } sink{&runs};

    // Two expert kernels share the GPU, an attention kernel waits for both, and the expert
    // kernel queued behind it waits for it (first come, first served).
    e->Submit(GpuComputeEngine::EXPERT,
              MicroSeconds(10),
              MakeCallback(&Sink::Done, &sink).Bind(0u));
    e->Submit(GpuComputeEngine::EXPERT, MicroSeconds(4), MakeCallback(&Sink::Done, &sink).Bind(1u));
    e->Submit(GpuComputeEngine::ATTENTION,
              MicroSeconds(5),
              MakeCallback(&Sink::Done, &sink).Bind(2u));
    e->Submit(GpuComputeEngine::EXPERT, MicroSeconds(1), MakeCallback(&Sink::Done, &sink).Bind(3u));
    Simulator::Run();
    Simulator::Destroy();
    EXPECT_EQ(runs[0].first, Time(0));
    EXPECT_EQ(runs[1].first, Time(0));
    EXPECT_EQ(runs[2].first, MicroSeconds(10));
    EXPECT_EQ(runs[2].second, MicroSeconds(15));
    EXPECT_EQ(runs[3].first, MicroSeconds(15));
    EXPECT_EQ(runs[3].second, MicroSeconds(16));
}

TEST(MoeWorkload, ReplanningFollowsDriftingHotExperts)
{
    // Hot experts move every iteration (drift); replicas planned once from the first
    // iteration's load go stale, replicas re-planned from the load just measured do not.
    Json c = Json::parse(R"({
      "seed": 11,
      "topology": { "type": "rail-optimized", "servers": 2, "gpus_per_server": 8, "spines": 2,
                    "link": { "rate": "400Gbps", "delay": "1us" } },
      "workload": { "type": "moe", "model": "deepseek-v3", "mode": "inference",
                    "tokens_per_gpu": 64, "layers": 1, "iterations": 6,
                    "model_overrides": { "groups": 0, "top_k_groups": 0 },
                    "gate": { "type": "zipf", "s": 1.2, "drift": 0.3 },
                    "replication": { "redundant_slots_per_gpu": 2, "selection": "least-loaded",
                                     "replan_every": 0 } } })");
    const double stale = RunScenario(c)["moe"]["gpu_load_max_over_mean"].get<double>();
    c["workload"]["replication"]["replan_every"] = 1;
    const double fresh = RunScenario(c)["moe"]["gpu_load_max_over_mean"].get<double>();
    EXPECT_LT(fresh, stale);
}

namespace
{
class MoeCli : public testing::Test
{
  protected:
    void SetUp() override
    {
        if (SimBinary().empty())
        {
            GTEST_SKIP() << "moe-fabric-sim was not built (configure ns-3 with --enable-examples)";
        }
    }

    /// Run the CLI on @p config with @p args; returns exit code and output.
    CommandResult Run(const Json& config, const std::string& args)
    {
        const std::string dir = MakeTempDir("moecli");
        const std::string path = dir + "/config.json";
        WriteFile(path, config.dump(2));
        return RunCommand(SimBinary() + " --config=" + path + " --out=" + dir + "/out " + args);
    }

    void ExpectConfigError(const Json& config, const std::string& path)
    {
        const CommandResult r = Run(config, "--dry-run");
        EXPECT_EQ(r.exitCode, 2) << r.output;
        EXPECT_NE(r.output.find("configuration error: " + path), std::string::npos) << r.output;
    }
};
} // namespace

TEST_F(MoeCli, TheIssueExampleRunsAsShown)
{
    // The workload section exactly as the feature request shows it (dry run: it validates and
    // builds; the full training run takes minutes).
    const Json c = Json::parse(R"({ "seed": 1,
      "topology": { "type": "rail-optimized", "servers": 4, "gpus_per_server": 8 },
      "workload": { "type": "moe", "model": "deepseek-v3", "mode": "training",
                    "tokens_per_gpu": 4096, "layers": 4, "iterations": 2,
                    "gate": { "type": "zipf", "s": 1.2 },
                    "placement": { "type": "round-robin" },
                    "replication": { "redundant_slots_per_gpu": 0 },
                    "gpu": "h800" } })");
    const CommandResult r = Run(c, "--dry-run");
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("workload: MoE deepseek-v3"), std::string::npos) << r.output;
}

TEST_F(MoeCli, SmallRunWritesTheMoeOutputs)
{
    Json c = SmallMoe();
    c["workload"]["fabric_tax"] = true;
    const std::string dir = MakeTempDir("moeout");
    const std::string path = dir + "/config.json";
    WriteFile(path, c.dump(2));
    const CommandResult r = RunCommand(SimBinary() + " --config=" + path + " --out=" + dir + "/o");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("fabric tax: packet-level"), std::string::npos) << r.output;
    const Json s = Json::parse(ReadFile(dir + "/o/summary.json"));
    EXPECT_EQ(s["moe"]["layers"].size(), 2u);
    EXPECT_TRUE(s["moe"].contains("fabric_tax"));
    const std::string csv = ReadFile(dir + "/o/layer_phases.csv");
    // Header plus 8 GPUs x 2 layers.
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 17);
}

TEST_F(MoeCli, SummaryReportsThroughputAndTheSpreadOfIterationTimes)
{
    // Per-GPU throughput for every fixed-step run; with two or more iterations, the spread of
    // their times, next to the ideal twin's when the fabric tax runs (the batch-instability
    // study reads it there).
    Json c = SmallMoe();
    c["workload"]["fabric_tax"] = true;
    c["workload"]["iterations"] = 3;
    const std::string dir = MakeTempDir("moespread");
    const std::string path = dir + "/config.json";
    WriteFile(path, c.dump(2));
    const CommandResult r = RunCommand(SimBinary() + " --config=" + path + " --out=" + dir + "/o");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("throughput of the simulated layers: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(" k tokens/s per token-owning GPU (64 tokens per GPU per iteration)"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("iteration time over 3 iterations: mean "), std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("(ideal: CV "), std::string::npos) << r.output;
}

TEST_F(MoeCli, TopKAboveTheExpertCount)
{
    Json c = SmallMoe();
    c["workload"]["model_overrides"]["top_k"] = 17;
    ExpectConfigError(c, "workload.model_overrides.top_k");
}

TEST_F(MoeCli, UnknownPresets)
{
    Json c = SmallMoe();
    c["workload"]["model"] = "gpt-9";
    ExpectConfigError(c,
                      "workload.model: \"gpt-9\" is not accepted; accepted values: "
                      "\"deepseek-v3\"");
    c = SmallMoe();
    c["workload"]["gpu"] = "a100";
    ExpectConfigError(c, "workload.gpu");
}

TEST_F(MoeCli, MoreExpertGpusThanTheExpertsSpreadOver)
{
    Json c = SmallMoe();
    c["workload"]["gpus"] = 6; // 16 experts do not spread evenly over 6 GPUs
    ExpectConfigError(c, "workload.gpus");
    c = SmallMoe();
    c["workload"]["deployment"] = Json::parse(R"({ "type": "disaggregated", "expert_gpus": 3 })");
    ExpectConfigError(c, "workload.deployment.expert_gpus");
}

TEST_F(MoeCli, MalformedRoutingTrace)
{
    const std::string dir = MakeTempDir("trace");
    const std::string trace = dir + "/bad.csv";
    FILE* f = fopen(trace.c_str(), "w");
    fputs("# moe-fabric routing trace v1 experts=16 top_k=4\n0,0,0,0,1 2 3\n", f);
    fclose(f);
    Json c = SmallMoe();
    c["workload"]["gate"] = Json::object({{"type", "replay"}, {"file", trace}});
    const CommandResult r = Run(c, "--dry-run");
    EXPECT_EQ(r.exitCode, 2) << r.output;
    EXPECT_NE(r.output.find("workload.gate.file"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("bad.csv:2"), std::string::npos) << r.output;
}

TEST_F(MoeCli, RoutingTraceMustCoverEveryLayerAndRankTheRunRoutes)
{
    // The sample trace records 2 iterations x 2 layers x 4 ranks. A run on 4 GPUs with 2 layers
    // replays it; 8 GPUs or 3 layers would route a (layer, rank) it lacks: a configuration
    // error naming the key, before anything runs (it used to abort the simulation mid-run).
    Json c = SmallMoe();
    c["workload"]["model_overrides"]["top_k"] = 2;
    c["workload"]["gpus"] = 4;
    c["workload"]["gate"] = Json::object(
        {{"type", "replay"}, {"file", SourcePath("traces/samples/routing-sample.csv")}});
    const CommandResult ok = Run(c, "--quiet");
    EXPECT_EQ(ok.exitCode, 0) << ok.output;

    struct Case
    {
        const char* key;
        int value;
        const char* missing;
    };

    for (const Case& k :
         {Case{"gpus", 8, "no tokens for layer 0 rank 4 in recorded iteration 0"},
          Case{"layers", 3, "no tokens for layer 2 rank 0 in recorded iteration 0"}})
    {
        Json bad = c;
        bad["workload"][k.key] = k.value;
        const CommandResult r = Run(bad, "--dry-run");
        EXPECT_EQ(r.exitCode, 2) << r.output;
        EXPECT_NE(r.output.find("configuration error: workload.gate.file: "), std::string::npos)
            << r.output;
        EXPECT_NE(r.output.find(k.missing), std::string::npos) << r.output;
    }
}

TEST_F(MoeCli, RerunReadsTheRecordedTracesAndNamesWhatChanged)
{
    // A reproducibility package reruns a result elsewhere: the manifest records each trace the
    // run read (path as given, absolute path, size, content hash) and how the run was invoked;
    // a rerun from another directory finds a relatively named trace where the run did, and
    // names a trace or a manifest.config edited since (all three used to go unnoticed, or fail
    // with "cannot open").
    const std::string dir = MakeTempDir("rerun-trace");
    const std::string sample = ReadFile(SourcePath("traces/samples/routing-sample.csv"));
    WriteFile(dir + "/trace.csv", sample);
    Json c = SmallMoe();
    c["workload"]["model_overrides"]["top_k"] = 2;
    c["workload"]["gpus"] = 4;
    c["workload"]["gate"] = Json::object({{"type", "replay"}, {"file", "trace.csv"}});
    WriteFile(dir + "/config.json", c.dump(2));
    const CommandResult first = RunCommand("cd " + dir + " && " + SimBinary() +
                                           " --config=config.json --set=seed=7 --quiet --out=a");
    ASSERT_EQ(first.exitCode, 0) << first.output;
    const Json m = Json::parse(ReadFile(dir + "/a/summary.json"))["manifest"];
    ASSERT_EQ(m["inputs"].size(), 1u) << m["inputs"].dump();
    const Json& in = m["inputs"][0];
    EXPECT_EQ(in["key"], "workload.gate.file");
    EXPECT_EQ(in["path"], "trace.csv");
    EXPECT_EQ(in["bytes"].get<uint64_t>(), sample.size());
    EXPECT_EQ(in["hash"].get<std::string>().rfind("fnv1a64:", 0), 0u);
    EXPECT_NE(in["absolute_path"].get<std::string>().find("/trace.csv"), std::string::npos);
    EXPECT_EQ(m["invocation"]["config_file"], "config.json");
    EXPECT_EQ(m["invocation"]["overrides"], Json::array({"--set=seed=7"}));

    const CommandResult moved =
        RunCommand("cd / && " + SimBinary() + " --rerun=" + dir + "/a --quiet --out=" + dir + "/b");
    ASSERT_EQ(moved.exitCode, 0) << moved.output;
    EXPECT_NE(moved.output.find("workload.gate.file: \"trace.csv\" is not found from here; "
                                "reading the run's"),
              std::string::npos)
        << moved.output;
    EXPECT_EQ(ReadFile(dir + "/a/layer_phases.csv"), ReadFile(dir + "/b/layer_phases.csv"));
    // From a directory with another trace.csv (a code review's case: it was read, silently).
    const std::string other = MakeTempDir("rerun-other");
    const size_t header = sample.find('\n') + 1;
    const std::string editedSample =
        sample.substr(0, header) + "# edited\n" + sample.substr(header); // same routing
    WriteFile(other + "/trace.csv", editedSample);
    const CommandResult elsewhere =
        RunCommand("cd " + other + " && " + SimBinary() + " --rerun=" + dir + "/a --dry-run");
    ASSERT_EQ(elsewhere.exitCode, 0) << elsewhere.output;
    EXPECT_NE(elsewhere.output.find("\"trace.csv\" from here is another file than the run "
                                    "read; reading the run's"),
              std::string::npos)
        << elsewhere.output;

    // The trace edited (a comment: same routing, other bytes), then manifest.config edited.
    WriteFile(dir + "/trace.csv", editedSample);
    const CommandResult edited =
        RunCommand("cd " + dir + " && " + SimBinary() + " --rerun=a --dry-run");
    ASSERT_EQ(edited.exitCode, 0) << edited.output;
    EXPECT_NE(edited.output.find("workload.gate.file: \"trace.csv\" has changed since the run"),
              std::string::npos)
        << edited.output;
    Json summary = Json::parse(ReadFile(dir + "/a/summary.json"));
    summary["manifest"]["config"]["seed"] = 8;
    WriteFile(dir + "/a/summary.json", summary.dump());
    const CommandResult config =
        RunCommand("cd " + dir + " && " + SimBinary() + " --rerun=a/summary.json --dry-run");
    ASSERT_EQ(config.exitCode, 0) << config.output;
    EXPECT_NE(config.output.find("manifest.config is not what the run recorded"), std::string::npos)
        << config.output;
}

TEST_F(MoeCli, TheRunSummaryShowsMessageTailsPausesAndMarks)
{
    // The text summary showed neither the message-time tail (where a p99 spike shows when the
    // phases look flat), nor PFC pauses, nor ECN marks that nothing reacts to (found by a user
    // walkthrough): the hot-spot study on a lossless shared buffer has all three.
    const CommandResult r = RunCommand(
        SimBinary() + " --config=" + SourcePath("examples/configs/study-expert-hot-spots.json") +
        " --set='switch.buffer.lossless_priorities=[0]' --out=" + MakeTempDir("lines") + "/o");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("  message time: dispatch mean "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("; combine mean "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(" PFC pauses ("), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(" ECN marks (nothing reacts: transport.cc.type is \"none\")"),
              std::string::npos)
        << r.output;
}

TEST_F(MoeCli, TrafficAndWorkloadAreExclusive)
{
    Json c = SmallMoe();
    c["traffic"] = Json::object({{"type", "all-to-all"}});
    ExpectConfigError(c, "workload: give either traffic");
}

TEST(MoeWorkload, DataParallelAllReduceRingsRunAfterBackwardAndGateTheNextIteration)
{
    // 8 GPUs in 2 expert-parallel groups of 4: four rings of 2 GPUs (same rank in each group).
    Json c = SmallMoe();
    c["workload"]["mode"] = "training";
    c["workload"]["iterations"] = 2;
    c["workload"]["ep_size"] = 4;
    c["workload"]["allreduce"] = Json::parse(R"({ "enabled": true, "bytes_per_layer": "256KiB",
                                                  "class": 2 })");
    const Json s = RunScenario(c);
    ASSERT_TRUE(s["moe"]["complete"].get<bool>());
    // A ring of D = 2 sends 2 (D - 1) chunks of S / D per GPU: S per GPU and layer.
    EXPECT_EQ(KindBytes(s, "allreduce"), 8u * 2 * 2 * 262144u);
    EXPECT_EQ(s["moe"]["fabric_messages_by_kind"]["allreduce"]["messages"].get<uint64_t>(),
              8u * 2 * 2 * 2);
    for (const auto& l : s["moe"]["allreduce"]["layers"])
    {
        EXPECT_TRUE(l["complete"].get<bool>());
        EXPECT_GT(l["span_s"].get<double>(), 0.0);
    }
    // The first stage of iteration 1 starts after the last ring of iteration 0 on that GPU:
    // with a ring per rank, the wait is visible.
    EXPECT_GT(s["moe"]["allreduce"]["iteration_start_wait"]["max_s"].get<double>(), 0.0);
    // Without the all-reduce the same training step is faster.
    c["workload"].erase("allreduce");
    const Json none = RunScenario(c);
    EXPECT_LT(none["moe"]["iterations"][1]["end_s"].get<double>(),
              s["moe"]["iterations"][1]["end_s"].get<double>());
}

TEST_F(MoeCli, AllReduceNeedsTrainingAndTwoGroups)
{
    Json c = SmallMoe();
    c["workload"]["allreduce"] = Json::object({{"enabled", true}});
    ExpectConfigError(c, "workload.allreduce.enabled");
}

TEST_F(MoeCli, EmptyGpuListsAndTinyModels)
{
    Json c = SmallMoe();
    c["workload"]["gpus"] = Json::array();
    ExpectConfigError(c, "workload.gpus: an empty list");
    c = SmallMoe();
    c["workload"]["model_overrides"]["moe_layers"] = 0;
    ExpectConfigError(c, "workload.model_overrides.moe_layers");
    // An affinity gate over 4 experts picks a group size that divides them.
    c = SmallMoe();
    c["workload"]["model_overrides"]["routed_experts"] = 4;
    c["workload"]["model_overrides"]["top_k"] = 2;
    c["workload"]["gpus"] = 4;
    c["workload"]["gate"] = Json::object({{"type", "affinity"}});
    const CommandResult r = Run(c, "--dry-run");
    EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST(MoeWorkload, AStoppedRunReportsWhatDidNotComplete)
{
    Json c = SmallMoe();
    c["workload"]["fabric_tax"] = true;
    c["simulation"]["stop_time"] = "60us"; // inside the first layer
    Scenario sc(c);
    sc.Build();
    EXPECT_FALSE(sc.Run());
    const Json s = sc.MakeSummary();
    Simulator::Destroy();
    EXPECT_FALSE(s["moe"]["complete"].get<bool>());
    EXPECT_FALSE(s["moe"]["iterations"][0]["complete"].get<bool>());
    EXPECT_FALSE(s["moe"]["iterations"][0].contains("completion_s"));
    for (const auto& l : s["moe"]["layers"])
    {
        EXPECT_FALSE(l["complete"].get<bool>());
    }
    EXPECT_FALSE(s["moe"]["fabric_tax"]["total"]["complete"].get<bool>());
    EXPECT_FALSE(s["moe"]["fabric_tax"]["total"].contains("tax_s"));
    EXPECT_FALSE(s["moe"]["fabric_tax"]["layers"][0].contains("packet_s"));
}

TEST_F(MoeCli, AStalledRunStopsWithADiagnosis)
{
    // Lossy ECMP all-to-all: losses wait for a 320 us retransmission timeout, longer than the
    // 20 us no-progress timeout, so the run stops early and says what was pending.
    const Json c = Json::parse(R"({ "topology": { "type": "fat-tree", "k": 4 },
        "traffic": { "type": "all-to-all", "bytes_per_pair": "1MiB" },
        "simulation": { "no_progress_timeout": "20us" } })");
    const std::string dir = MakeTempDir("stall");
    const std::string path = dir + "/config.json";
    WriteFile(path, c.dump(2));
    const CommandResult r = RunCommand(SimBinary() + " --config=" + path + " --out=" + dir + "/o");
    EXPECT_EQ(r.exitCode, 3) << r.output;
    EXPECT_NE(r.output.find("no_progress_timeout"), std::string::npos) << r.output;
    const Json s = Json::parse(ReadFile(dir + "/o/summary.json"));
    EXPECT_EQ(s["sim"]["stop_reason"], "no_progress");
    EXPECT_GT(s["sim"]["diagnosis"]["pending_messages"].get<uint64_t>(), 0u);
    EXPECT_GE(s["sim"]["diagnosis"]["idle_for_s"].get<double>(), 20e-6);
    EXPECT_TRUE(s["sim"]["diagnosis"]["paused_queues"].empty());
}
