/*
 * Scenarios end to end: the all-to-all against its bound, conservation, the CLI's outputs,
 * determinism, and every class of configuration error.
 */
#include "test-util.h"

#include "ns3/all-to-all-traffic.h"
#include "ns3/fabric-stats.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/rdma-transport.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <gtest/gtest.h>
#include <tuple>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{
Json
K4Config(const std::string& lb, const std::string& transport, uint64_t bytesPerPair)
{
    Json c = Json::parse(R"({
      "seed": 1,
      "topology": { "type": "fat-tree", "k": 4, "link": { "rate": "100Gbps", "delay": "1us" } },
      "switch": { "load_balancing": "ecmp" },
      "transport": { "type": "rdma", "mtu": 4096 },
      "traffic": { "type": "all-to-all", "bytes_per_pair": 1048576, "rounds": 1 } })");
    c["switch"]["load_balancing"] = lb;
    c["transport"]["type"] = transport;
    c["traffic"]["bytes_per_pair"] = bytesPerPair;
    return c;
}

/// summary.json without its wall-clock and machine-dependent fields.
Json
StripWallClock(Json summary)
{
    summary["sim"].erase("wall_s");
    summary["sim"].erase("wall_s_per_million_packet_hops");
    summary["sim"].erase("peak_rss_mb");
    summary["manifest"].erase("invocation"); // how it was launched: --config or --rerun
    return summary;
}

/// The ConfigError message @p f throws ("" if none).
template <typename F>
std::string
ScenarioErrorOf(F f)
{
    try
    {
        f();
    }
    catch (const ns3::moe::ConfigError& e)
    {
        return e.what();
    }
    return "";
}

std::string
Sim()
{
    return SimBinary();
}

/// Tests that run the moe-fabric-sim program; skipped when it was not built (an ns-3 tree
/// configured with tests but without examples).
class CliTest : public testing::Test
{
  protected:
    void SetUp() override
    {
        if (SimBinary().empty())
        {
            GTEST_SKIP() << "moe-fabric-sim was not built (configure ns-3 with --enable-examples)";
        }
    }
};

using Cli = CliTest;
using CliErrors = CliTest;
using Configs = CliTest;

/// Run the CLI with a config given inline; returns exit code and output.
CommandResult
RunCli(const Json& config, const std::string& extraArgs, const std::string& outDir)
{
    const std::string dir = MakeTempDir("cfg");
    const std::string path = dir + "/config.json";
    WriteFile(path, config.dump(2));
    return RunCommand(Sim() + " --config=" + path + " --out=" + outDir + " " + extraArgs);
}
} // namespace

TEST(AllToAll, K4SprayNeverBeatsTheBoundAndLandsWithin15Percent)
{
    const Json s = RunScenario(K4Config("spray", "rdma", 1 << 20));
    const Json& r = s["rounds"][0];
    EXPECT_TRUE(r["complete"].get<bool>());
    const double ratio = r["completion_over_bound"].get<double>();
    EXPECT_GE(ratio, 1.0);
    EXPECT_LE(ratio, 1.15);
    EXPECT_EQ(s["fabric"]["drops"].get<uint64_t>(), 0u);
    EXPECT_EQ(s["fabric"]["frame_conservation"], "ok");
    EXPECT_EQ(s["fabric"]["queued_frames_at_end"].get<uint64_t>(), 0u);
    EXPECT_EQ(s["messages"]["delivered"].get<uint64_t>(), 240u);
}

TEST(AllToAll, K4EcmpNeverBeatsTheBound)
{
    const Json s = RunScenario(K4Config("ecmp", "rdma", 1 << 20));
    const Json& r = s["rounds"][0];
    EXPECT_GE(r["completion_over_bound"].get<double>(), 1.0);
    // Flows colliding on uplinks make ECMP slower than spraying on the same traffic.
    const Json spray = RunScenario(K4Config("spray", "rdma", 1 << 20));
    EXPECT_GT(r["completion_s"].get<double>(), spray["rounds"][0]["completion_s"].get<double>());
    EXPECT_EQ(s["fabric"]["frame_conservation"], "ok");
    EXPECT_EQ(s["fabric"]["queued_frames_at_end"].get<uint64_t>(), 0u);
    EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(),
              s["messages"]["bytes_started"].get<uint64_t>());
}

TEST(AllToAll, IdealTransportMissesTheBoundOnlyByThePathLatencySpread)
{
    // The ideal transport shares each NIC fairly with no fabric effects: every GPU sends and
    // receives 15 equal messages that all finish serializing together, so the round ends when
    // the farthest (6-link) message lands. The bound lets a NIC send its farthest messages
    // first and end on its nearest (2-link) one: the difference is the two paths' latencies,
    // 7.6712 - 2.33424 us (see BoundIsHandComputable).
    const Json s = RunScenario(K4Config("ecmp", "ideal", 1 << 20));
    const Json& r = s["rounds"][0];
    const int64_t gapPs =
        std::llround((r["completion_s"].get<double>() - r["bound_s"].get<double>()) * 1e12);
    EXPECT_NEAR(gapPs, 7671200 - 2334240, 2); // ps rounding of the fluid model
    EXPECT_EQ(s["sim"]["packet_hops"].get<uint64_t>(), 0u);
}

TEST(AllToAll, BoundIsHandComputable)
{
    // k=4, 16 GPUs, 1 MiB per pair: each NIC sends (and receives) 15 MiB = 3840 full packets of
    // 4178 wire bytes at 100 Gb/s = 1283.4816 us. Its last frame out still has to reach its
    // destination, at best the neighbour under the same edge switch: 1 us, the edge switch's
    // store-and-forward of a 4154-byte frame + 24 wire bytes (334.24 ns), 1 us.
    const Json s = RunScenario(K4Config("spray", "ideal", 1 << 20));
    const int64_t boundPs =
        static_cast<int64_t>(std::llround(s["rounds"][0]["bound_s"].get<double>() * 1e12));
    EXPECT_EQ(boundPs, 3840LL * 4178 * 8 * 10 + 2 * 1000000 + 334240);
}

TEST(AllToAll, TheBoundIsALowerBoundForUnevenMatrices)
{
    // Three matrices a single message decides, on both transports: each finishes at its bound,
    // never below (found by a physics audit: the bound once charged zero entries as 84-byte
    // messages, added the longest path between participants that exchange nothing, and counted
    // a store-and-forward at every hop after the first even when the first is NVLink).
    struct Case
    {
        const char* name;
        const char* json;
        int64_t expectPs;
        int64_t rdmaSlackPs; ///< how far above the bound each transport may finish
        int64_t idealSlackPs;
    };

    // 1 MiB = 256 frames of 4178 wire bytes: 85.56544 us at 100 Gb/s; a 4154-byte frame takes
    // 334.24 ns at 100 Gb/s and 9.285 ns (rounded up to the ps) at 3600 Gb/s NVLink.
    const Case cases[] = {
        {"zero entries",
         R"({"topology":{"type":"fat-tree","k":4,"gpus_per_server":2,
              "link":{"rate":"100Gbps","delay":"1us"}},
            "traffic":{"gpus":[0,1,2],"matrix":[[0,1048576,1048576],[0,0,0],[0,0,0]]}})",
         // GPU 1 is GPU 0's NVLink peer, GPU 2 under the next edge switch of the pod: 4 links.
         85565440 + 4000000 + 3 * 334240,
         2,
         2},
        {"a silent far pair",
         R"({"topology":{"type":"fat-tree","k":4,"link":{"rate":"100Gbps","delay":"1us"}},
            "traffic":{"gpus":[0,1,15],"matrix":[[0,1048576,0],[0,0,0],[0,0,0]]}})",
         85565440 + 2000000 + 334240,
         2,
         2},
        {"NVLink relay",
         R"({"topology":{"type":"rail-optimized","servers":2,"gpus_per_server":2,"spines":0,
              "link":{"rate":"100Gbps","delay":"1us"}},
            "traffic":{"gpus":4,"matrix":[[0,0,0,1048576],[0,0,0,0],[0,0,0,0],[0,0,0,0]]}})",
         // Two NVLink hops to the relay (9.285 ns + 100 ns each), its NIC, the rail's leaf.
         2 * (9285 + 100000) + 85565440 + 1000000 + 334240 + 1000000,
         2,
         // The ideal transport charges a relayed message the 100G hop's frame time where the
         // packets pay the NVLink hop's (documented).
         334240 - 9285},
        {"a relay's NIC carrying its own and a relayed message",
         // GPU 0 -> 3 (server 1, rail 1) relays through GPU 1, whose NIC also sends 1 -> 5
         // (server 2, rail 1): 2 MiB leave that NIC. Then the last frame's trip: 1 us, 334.24 ns
         // at the leaf, 1 us.
         R"({"topology":{"type":"rail-optimized","servers":3,"gpus_per_server":2,"spines":0,
              "link":{"rate":"100Gbps","delay":"1us"}},
            "traffic":{"gpus":6,"matrix":[[0,0,0,1048576,0,0],[0,0,0,0,0,1048576],[0,0,0,0,0,0],
                                          [0,0,0,0,0,0],[0,0,0,0,0,0],[0,0,0,0,0,0]]}})",
         2 * 85565440 + 1000000 + 334240 + 1000000,
         2, // the relay's NIC never idles: the packets meet the bound
         // Both flows at 50 Gb/s; the relayed one then has its whole path latency, two NVLink
         // hops included (200 ns + 9.285 ns), and pays a second 334.24 ns frame time at the
         // relay's NIC where the packets' last frame pays 9.285 ns.
         200000 + 9285 + 334240},
    };
    for (const Case& c : cases)
    {
        for (const char* transport : {"rdma", "ideal"})
        {
            Json config = Json::parse(c.json);
            config["transport"]["type"] = transport;
            const Json s = RunScenario(config);
            const Json& r = s["rounds"][0];
            const int64_t boundPs = std::llround(r["bound_s"].get<double>() * 1e12);
            const int64_t donePs = std::llround(r["completion_s"].get<double>() * 1e12);
            EXPECT_EQ(boundPs, c.expectPs) << c.name;
            EXPECT_GE(donePs, boundPs) << c.name << ", " << transport;
            const int64_t slack =
                std::string(transport) == "ideal" ? c.idealSlackPs : c.rdmaSlackPs;
            EXPECT_LE(donePs, boundPs + slack) << c.name << ", " << transport;
        }
    }
}

TEST(AllToAll, MatrixZerosPostNoMessage)
{
    // A permutation as a matrix (GPU i sends 64 KiB to GPU i + 5 only): 16 messages on 16 queue
    // pairs, not 240 with 224 zero-byte ones; and with bytes_per_pair 0 the round posts nothing
    // and ends at once.
    for (const std::string transport : {"rdma", "ideal"})
    {
        Json c = K4Config("ecmp", transport, 0);
        c["traffic"].erase("bytes_per_pair");
        Json m = Json::array();
        for (uint32_t i = 0; i < 16; ++i)
        {
            Json row = Json::array();
            for (uint32_t j = 0; j < 16; ++j)
            {
                row.push_back(j == (i + 5) % 16 ? 65536 : 0);
            }
            m.push_back(row);
        }
        c["traffic"]["matrix"] = m;
        const Json s = RunScenario(c);
        EXPECT_EQ(s["messages"]["delivered"].get<uint64_t>(), 16u) << transport;
        EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 65536) << transport;
        EXPECT_TRUE(s["rounds"][0]["complete"].get<bool>()) << transport;
        if (transport == "rdma")
        {
            EXPECT_EQ(s["transport"]["queue_pairs"].get<uint64_t>(), 16u);
            EXPECT_EQ(s["transport"]["data_packets"].get<uint64_t>(), 16u * 16);
        }
    }
    // Several empty rounds follow each other after the compute gap, and the run completes (the
    // second round never started before: the run stopped on the no-progress watchdog, exit 3).
    Json empty = K4Config("ecmp", "rdma", 0);
    empty["traffic"]["rounds"] = 3;
    empty["traffic"]["compute_gap"] = "2us";
    const Json none = RunScenario(empty);
    EXPECT_EQ(none["messages"]["delivered"].get<uint64_t>(), 0u);
    EXPECT_EQ(none["sim"]["packet_hops"].get<uint64_t>(), 0u);
    EXPECT_TRUE(none["sim"]["complete"].get<bool>());
    EXPECT_EQ(none["sim"]["stop_reason"], "complete");
    ASSERT_EQ(none["rounds"].size(), 3u);
    for (size_t r = 0; r < 3; ++r)
    {
        EXPECT_TRUE(none["rounds"][r]["complete"].get<bool>()) << r;
        EXPECT_EQ(none["rounds"][r]["completion_s"].get<double>(), 0.0) << r;
    }
    EXPECT_NEAR(none["sim"]["sim_time_s"].get<double>(), 4e-6, 1e-12);
}

TEST(AllToAll, PeersAreAShiftPatternOfTheMatrix)
{
    // traffic.peers [1, 2] among four GPUs (ranks 0..3 = GPUs 2, 7, 9, 14): rank i sends to
    // ranks i + 1 and i + 2 (mod 4), not i - 1 and i - 2. The run is the one of the same
    // pattern written as a matrix, frame for frame.
    Ptr<AllToAllTraffic> traffic = CreateObject<AllToAllTraffic>();
    traffic->SetAttribute("BytesPerPair", UintegerValue(65536));
    traffic->SetParticipants({2, 7, 9, 14});
    traffic->SetPeerOffsets({1, 2});
    for (uint32_t s = 0; s < 4; ++s)
    {
        for (uint32_t d = 0; d < 4; ++d)
        {
            const bool peer = d == (s + 1) % 4 || d == (s + 2) % 4;
            EXPECT_EQ(traffic->GetPairBytes(s, d), peer ? 65536u : 0u) << s << " -> " << d;
        }
    }
    // The messages a round posts, in posting order (per source: s + 1, s + 2, ...), visiting
    // the offsets only; a matrix with the same entries gives the same sequence.
    using Visit = std::tuple<uint32_t, uint32_t, uint64_t>;
    std::vector<Visit> visited;
    traffic->ForEachMessage(
        [&visited](uint32_t s, uint32_t d, uint64_t b) { visited.emplace_back(s, d, b); });
    const std::vector<Visit> expected{{0, 1, 65536},
                                      {0, 2, 65536},
                                      {1, 2, 65536},
                                      {1, 3, 65536},
                                      {2, 3, 65536},
                                      {2, 0, 65536},
                                      {3, 0, 65536},
                                      {3, 1, 65536}};
    EXPECT_EQ(visited, expected);
    Ptr<AllToAllTraffic> dense = CreateObject<AllToAllTraffic>();
    dense->SetParticipants({2, 7, 9, 14});
    dense->SetMatrix(
        {{0, 65536, 65536, 0}, {0, 0, 65536, 65536}, {65536, 0, 0, 65536}, {65536, 65536, 0, 0}});
    visited.clear();
    dense->ForEachMessage(
        [&visited](uint32_t s, uint32_t d, uint64_t b) { visited.emplace_back(s, d, b); });
    EXPECT_EQ(visited, expected);

    Json peers = K4Config("ecmp", "rdma", 0);
    peers["traffic"]["bytes_per_pair"] = 65536;
    peers["traffic"]["gpus"] = Json::array({2, 7, 9, 14});
    peers["traffic"]["peers"] = Json::array({1, 2});
    Json matrix = peers;
    matrix["traffic"].erase("peers");
    matrix["traffic"].erase("bytes_per_pair");
    matrix["traffic"]["matrix"] =
        Json::parse("[[0,65536,65536,0],[0,0,65536,65536],[65536,0,0,65536],[65536,65536,0,0]]");
    const Json a = RunScenario(peers);
    const Json b = RunScenario(matrix);
    EXPECT_EQ(a["messages"]["delivered"].get<uint64_t>(), 8u);
    EXPECT_EQ(a["transport"]["queue_pairs"].get<uint64_t>(), 8u);
    EXPECT_EQ(a["sim"]["packet_hops"], b["sim"]["packet_hops"]);
    EXPECT_EQ(a["sim"]["events"], b["sim"]["events"]);
    EXPECT_EQ(a["rounds"][0]["completion_s"], b["rounds"][0]["completion_s"]);
    EXPECT_EQ(a["rounds"][0]["bound_s"], b["rounds"][0]["bound_s"]);
    // The effective config keeps the pattern as given, with the message size it uses.
    EXPECT_EQ(a["manifest"]["config"]["traffic"]["peers"], Json::array({1, 2}));
    EXPECT_EQ(a["manifest"]["config"]["traffic"]["bytes_per_pair"].get<uint64_t>(), 65536u);

    // Offsets are ranks 1..N-1, each once, and exclude a matrix.
    Json bad = peers;
    bad["traffic"]["peers"] = Json::array({1, 4});
    EXPECT_EQ(ScenarioConfigError(bad), "traffic.peers[1]: 4 is out of range; accepted 1..3");
    bad["traffic"]["peers"] = Json::array({3, 3});
    EXPECT_EQ(ScenarioConfigError(bad), "traffic.peers[1]: offset 3 is listed twice");
    bad["traffic"]["peers"] = Json::array();
    EXPECT_EQ(ScenarioConfigError(bad), "traffic.peers: expected at least one rank offset in 1..3");
    bad = matrix;
    bad["traffic"]["peers"] = Json::array({1});
    EXPECT_EQ(ScenarioConfigError(bad),
              "traffic.peers: give either traffic.peers or traffic.matrix, not both");
}

TEST(AllToAll, ARaggedMatrixNamesItsRowAndLength)
{
    Json c = K4Config("ecmp", "rdma", 0);
    c["traffic"].erase("bytes_per_pair");
    c["traffic"]["matrix"] = Json::array();
    for (uint32_t i = 0; i < 16; ++i)
    {
        c["traffic"]["matrix"].push_back(Json(std::vector<uint64_t>(i == 1 ? 15 : 16, 4096)));
    }
    EXPECT_EQ(ScenarioConfigError(c),
              "traffic.matrix[1]: expected an array of 16 byte counts (one per GPU), got an array "
              "of 15");
}

TEST(AllToAll, AOneGpuTopologyHasNoAllToAll)
{
    // Asking for more GPUs than a one-GPU topology holds printed an empty range ("2..1").
    Json c = Json::parse(R"({"topology": {"type": "leaf-spine", "hosts_per_leaf": 1,
        "leaves": 1, "spines": 1}, "traffic": {"type": "all-to-all", "gpus": 5}})");
    const std::string expected =
        "traffic.gpus: the topology holds 1 GPU; an all-to-all needs at least 2";
    EXPECT_EQ(ScenarioConfigError(c), expected);
    c["traffic"].erase("gpus");
    EXPECT_EQ(ScenarioConfigError(c), expected);
}

TEST(Watchdog, AFrameStillOnASlowLinkIsNotAStall)
{
    // At 1 Mb/s a 4 KiB frame serializes for 33 ms, longer than the 10 ms no-progress timeout:
    // the watchdog used to stop the run as stalled with the frame on the wire. The wait for the
    // last frames after the traffic is done backs off instead of checking every 100 ns (15 M
    // events for 10 k packet-hops before).
    Json c = K4Config("ecmp", "rdma", 8192);
    c["topology"]["link"]["rate"] = "1Mbps";
    c["simulation"]["no_progress_timeout"] = "10ms";
    const Json s = RunScenario(c);
    EXPECT_EQ(s["sim"]["stop_reason"], "complete");
    EXPECT_EQ(s["messages"]["delivered"].get<uint64_t>(), 240u);
    EXPECT_LT(s["sim"]["events"].get<uint64_t>(), 10 * s["sim"]["packet_hops"].get<uint64_t>());
}

TEST(Watchdog, TimeoutsBelowAMicrosecondAreConfigErrors)
{
    // Checked every quarter of the timeout: 1-3 ps made the check re-schedule itself at the
    // same instant forever, and any sub-microsecond value would scan every link every few
    // picoseconds.
    Json c = K4Config("ecmp", "rdma", 8192);
    c["simulation"]["no_progress_timeout"] = "1ps";
    EXPECT_EQ(ScenarioConfigError(c),
              "simulation.no_progress_timeout: 1ps is too short; accepted: 0 (never) or "
              "1us..1000s");
    c["simulation"]["no_progress_timeout"] = "1us";
    EXPECT_EQ(ScenarioConfigError(c), "");
    c["simulation"]["no_progress_timeout"] = "0ps";
    EXPECT_EQ(ScenarioConfigError(c), "");
}

TEST_F(Cli, BacksMallocWithHugePagesUnlessTurnedOff)
{
    // The program re-executes itself once with glibc.malloc.hugetlb=1 when the kernel offers
    // transparent huge pages on request ("madvise") and glibc knows the tunable (2.35+);
    // MOE_FABRIC_HUGE_PAGES=0 turns it off. --dry-run says which applied.
    const std::string config = SourcePath("examples/configs/fat-tree-k4.json");
    const std::string clean = "env -u GLIBC_TUNABLES -u MOE_FABRIC_HUGE_PAGES_REEXECUTED ";
    const std::string line = "malloc huge pages: ";
    const CommandResult off =
        RunCommand(clean + "MOE_FABRIC_HUGE_PAGES=0 " + Sim() + " --dry-run --config=" + config);
    ASSERT_EQ(off.exitCode, 0) << off.output;
    const CommandResult dflt =
        RunCommand(clean + "-u MOE_FABRIC_HUGE_PAGES " + Sim() + " --dry-run --config=" + config);
    ASSERT_EQ(dflt.exitCode, 0) << dflt.output;
    const bool madvise =
        ReadFile("/sys/kernel/mm/transparent_hugepage/enabled").find("[madvise]") !=
        std::string::npos;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
    const bool tunable = true;
#else
    const bool tunable = false;
#endif
    if (madvise && tunable)
    {
        EXPECT_NE(off.output.find(line + "off (MOE_FABRIC_HUGE_PAGES=0)"), std::string::npos)
            << off.output;
        // The program that ran was the re-executed one, with the tunable in its environment.
        EXPECT_NE(dflt.output.find(line + "on (GLIBC_TUNABLES glibc.malloc.hugetlb=1, kernel "
                                          "transparent huge pages 'madvise'), re-executed"),
                  std::string::npos)
            << dflt.output;
    }
    else
    {
        EXPECT_NE(off.output.find(line), std::string::npos) << off.output;
        EXPECT_EQ(dflt.output.find("re-executed"), std::string::npos) << dflt.output;
    }
    // Started through the loader, /proc/self/exe is the loader: no re-execution, and it works.
    const std::string loader = "/lib64/ld-linux-x86-64.so.2";
    if (!ReadFile(loader).empty())
    {
        const CommandResult viaLoader = RunCommand(clean + "-u MOE_FABRIC_HUGE_PAGES " + loader +
                                                   " " + Sim() + " --dry-run --config=" + config);
        EXPECT_EQ(viaLoader.exitCode, 0) << viaLoader.output;
        EXPECT_NE(viaLoader.output.find(line + "off (started without a program interpreter"),
                  std::string::npos)
            << viaLoader.output;
    }
}

TEST_F(Cli, DefaultScenarioWritesOutputsAndASummary)
{
    const std::string out = MakeTempDir("out");
    CommandResult r = RunCommand(
        Sim() + " --config=" + SourcePath("examples/configs/fat-tree-k4.json") + " --out=" + out);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("round 0"), std::string::npos);
    EXPECT_NE(r.output.find(out + "/summary.json"), std::string::npos);
    const Json summary = Json::parse(ReadFile(out + "/summary.json"));
    for (const char* key : {"manifest", "sim", "rounds", "fabric", "topology", "transport"})
    {
        EXPECT_TRUE(summary.contains(key)) << key;
    }
    for (const char* key :
         {"version", "seed", "config_hash", "config", "git_revision", "ns3_version"})
    {
        EXPECT_TRUE(summary["manifest"].contains(key)) << key;
    }
    for (const char* key : {"sim_time_s", "wall_s", "events", "packet_hops", "peak_rss_mb"})
    {
        EXPECT_TRUE(summary["sim"].contains(key)) << key;
    }
    EXPECT_EQ(summary["rounds"].size(), 2u);
    for (const auto& round : summary["rounds"])
    {
        EXPECT_GE(round["completion_s"].get<double>(), round["bound_s"].get<double>());
    }
    for (const char* tier : {"host-edge", "edge-agg", "agg-core"})
    {
        ASSERT_TRUE(summary["fabric"]["tiers"].contains(tier)) << tier;
        for (const char* key : {"tx_bytes", "max_queue_bytes", "drops"})
        {
            EXPECT_TRUE(summary["fabric"]["tiers"][tier].contains(key)) << key;
        }
    }
    // messages.csv: a header and one row per message (2 rounds x 240).
    const std::string csv = ReadFile(out + "/messages.csv");
    EXPECT_EQ(csv.rfind("id,src,dst,bytes,class,round,start_s,first_byte_s,end_s,acked_s\n", 0),
              0u);
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 481);
    // The effective config has every default filled in.
    const Json eff = Json::parse(ReadFile(out + "/effective_config.json"));
    EXPECT_EQ(eff["transport"]["ack_interval"], 1);
    EXPECT_EQ(eff["switch"]["buffer"]["queue_limit"], 1048576);
    EXPECT_EQ(eff, summary["manifest"]["config"]);
}

TEST_F(Cli, SameSeedGivesByteIdenticalOutputs)
{
    const Json c = K4Config("ecmp", "rdma", 256 * 1024);
    const std::string a = MakeTempDir("a");
    const std::string b = MakeTempDir("b");
    ASSERT_EQ(RunCli(c, "--quiet", a).exitCode, 0);
    ASSERT_EQ(RunCli(c, "--quiet", b).exitCode, 0);
    EXPECT_EQ(ReadFile(a + "/messages.csv"), ReadFile(b + "/messages.csv"));
    EXPECT_EQ(ReadFile(a + "/effective_config.json"), ReadFile(b + "/effective_config.json"));
    const Json sa = StripWallClock(Json::parse(ReadFile(a + "/summary.json")));
    const Json sb = StripWallClock(Json::parse(ReadFile(b + "/summary.json")));
    EXPECT_EQ(sa.dump(2), sb.dump(2));
    // A different seed changes the ECMP hashes, hence the outcome.
    Json c2 = c;
    c2["seed"] = 2;
    const std::string d = MakeTempDir("d");
    ASSERT_EQ(RunCli(c2, "--quiet", d).exitCode, 0);
    EXPECT_NE(ReadFile(a + "/messages.csv"), ReadFile(d + "/messages.csv"));
}

TEST_F(Cli, RerunFromTheManifestReproducesTheRun)
{
    // --rerun takes the configuration a run recorded (summary.json's manifest.config, or the
    // output directory) and reproduces the run byte for byte; --set still applies on top.
    const Json c = K4Config("ecmp", "rdma", 256 * 1024);
    const std::string a = MakeTempDir("first");
    ASSERT_EQ(RunCli(c, "--quiet", a).exitCode, 0);
    for (const std::string& from : {a + "/summary.json", a})
    {
        const std::string b = MakeTempDir("rerun");
        const auto r = RunCommand(Sim() + " --rerun=" + from + " --out=" + b + " --quiet");
        ASSERT_EQ(r.exitCode, 0) << r.output;
        EXPECT_EQ(r.output, "") << "same build: no version note";
        EXPECT_EQ(ReadFile(a + "/messages.csv"), ReadFile(b + "/messages.csv"));
        EXPECT_EQ(ReadFile(a + "/effective_config.json"), ReadFile(b + "/effective_config.json"));
        EXPECT_EQ(StripWallClock(Json::parse(ReadFile(a + "/summary.json"))).dump(2),
                  StripWallClock(Json::parse(ReadFile(b + "/summary.json"))).dump(2));
    }
    const std::string d = MakeTempDir("rerun-set");
    ASSERT_EQ(
        RunCommand(Sim() + " --rerun=" + a + " --set=seed=2 --out=" + d + " --quiet").exitCode,
        0);
    EXPECT_EQ(Json::parse(ReadFile(d + "/effective_config.json"))["seed"], 2);
    // Nothing to rerun, or both --config and --rerun: exit 2 naming --rerun.
    const auto missing = RunCommand(Sim() + " --rerun=" + MakeTempDir("empty") + " --dry-run");
    EXPECT_EQ(missing.exitCode, 2);
    EXPECT_NE(missing.output.find("--rerun: cannot read"), std::string::npos) << missing.output;
    const auto both = RunCli(c, "--rerun=" + a + " --dry-run", MakeTempDir("both"));
    EXPECT_EQ(both.exitCode, 2);
    EXPECT_NE(both.output.find("either --config or --rerun"), std::string::npos) << both.output;
}

TEST(ConfigErrors, AControlCharacterInAValueIsEscapedNotTheEndOfTheMessage)
{
    // A NUL quoted from a JSON string ended what() there, dropping the accepted values.
    Json c = K4Config("ecmp", "rdma", 4096);
    c["transport"]["type"] = std::string("rd\0ma", 5);
    const std::string e = ScenarioConfigError(c);
    EXPECT_NE(e.find("rd\\u0000ma"), std::string::npos) << e;
    EXPECT_NE(e.find("\"ideal\""), std::string::npos) << e; // the accepted values survive
    EXPECT_EQ(std::string(e.c_str()), e);                   // no NUL left inside
}

TEST(Rerun, ASummaryWithoutItsConfigurationIsNamedAsSuch)
{
    // A summary that lost its manifest was read as a scenario ("topology.gpus: unknown key"),
    // and a manifest whose config is no object failed with "(root): expected an object".
    Json summary = RunScenario(K4Config("ecmp", "ideal", 4096));
    const std::string dir = MakeTempDir("rerun-bad");
    Json manifest;
    summary.erase("manifest");
    WriteFile(dir + "/summary.json", summary.dump());
    EXPECT_EQ(
        ScenarioErrorOf([&] { LoadRecordedConfig(dir + "/summary.json", manifest); }),
        "--rerun: \"" + dir +
            "/summary.json\" is a run summary without a manifest, so it holds no configuration "
            "to rerun; accepted: a summary.json with manifest.config, an effective_config.json, "
            "or their directory");
    summary["manifest"] = Json{{"config", 7}};
    WriteFile(dir + "/summary.json", summary.dump());
    EXPECT_EQ(ScenarioErrorOf([&] { LoadRecordedConfig(dir + "/summary.json", manifest); }),
              "--rerun: \"" + dir + "/summary.json\" has no manifest.config (an object) to rerun");
}

TEST_F(Cli, RerunWithAnotherTransportNeedsTheOldKeysUnset)
{
    // A recorded configuration has every default filled in, RDMA's included: on a --rerun,
    // --set=transport.type=ideal alone is refused (an RDMA key is unknown to the ideal
    // transport); --unset removes the old section first, in command-line order.
    const Json c = K4Config("ecmp", "rdma", 64 * 1024);
    const std::string a = MakeTempDir("recorded");
    ASSERT_EQ(RunCli(c, "--quiet", a).exitCode, 0);
    const auto refused =
        RunCommand(Sim() + " --rerun=" + a + " --set=transport.type=ideal --dry-run");
    EXPECT_EQ(refused.exitCode, 2);
    EXPECT_NE(refused.output.find("transport.ack_interval: unknown key"), std::string::npos)
        << refused.output;
    EXPECT_NE(refused.output.find("remove keys that no longer apply with "
                                  "--unset=transport.ack_interval"),
              std::string::npos)
        << refused.output;
    const std::string b = MakeTempDir("ideal");
    const auto r = RunCommand(Sim() + " --rerun=" + a +
                              " --unset=transport --unset=output.qp_rates_csv"
                              " --set=transport.type=ideal --out=" +
                              b + " --quiet");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    const Json eff = Json::parse(ReadFile(b + "/effective_config.json"));
    EXPECT_EQ(eff["transport"]["type"], "ideal");
    EXPECT_FALSE(eff["transport"].contains("ack_interval"));
    EXPECT_EQ(eff["topology"], Json::parse(ReadFile(a + "/effective_config.json"))["topology"]);
    // The other order sets the type, then removes the whole section: back to the default, RDMA.
    const auto reversed = RunCommand(Sim() + " --rerun=" + a +
                                     " --set=transport.type=ideal --unset=transport --dry-run");
    EXPECT_EQ(reversed.exitCode, 0) << reversed.output;
    EXPECT_NE(reversed.output.find("transport: rdma"), std::string::npos) << reversed.output;
    // A key that is not there is an error, not a silent no-op.
    const auto typo = RunCommand(Sim() + " --rerun=" + a + " --unset=transport.rtoo --dry-run");
    EXPECT_EQ(typo.exitCode, 2);
    EXPECT_NE(typo.output.find("--unset: \"transport.rtoo\": there is no transport.rtoo"),
              std::string::npos)
        << typo.output;
    // Not only on a rerun: --set changing a type on a config file that has the old type's keys
    // gets the same hint (switching the rail-optimized example to a fat-tree left
    // topology.servers behind with no word on --unset).
    const auto topology = RunCommand(
        Sim() + " --config=" + SourcePath("examples/configs/moe-deepseek-v3-decode.json") +
        " --set=topology.type=fat-tree --dry-run");
    EXPECT_EQ(topology.exitCode, 2);
    EXPECT_NE(topology.output.find("--set changed a type, and the configuration keeps the old "
                                   "type's keys; remove keys that no longer apply with --unset="
                                   "topology."),
              std::string::npos)
        << topology.output;
    // Setting a type to the value it has changes nothing: a typo elsewhere gets no such hint.
    Json misspelt = K4Config("ecmp", "rdma", 4096);
    misspelt["transport"]["ack_intervall"] = 2;
    const auto same = RunCli(misspelt, "--set=transport.type=rdma --dry-run", MakeTempDir("same"));
    EXPECT_EQ(same.exitCode, 2);
    EXPECT_NE(same.output.find("transport.ack_intervall: unknown key"), std::string::npos)
        << same.output;
    EXPECT_EQ(same.output.find("--set changed a type"), std::string::npos) << same.output;
}

TEST(AllToAll, TheBoundHoldsForSprayingOverSlowerCoreLinks)
{
    // A code review's counterexamples to the first version of the per-message term: a message
    // sprayed over four 100G spine links between 400G hosts (and the ideal transport, whose
    // core is non-blocking) finished at 26-29 us against a bound of 90 us that charged the whole
    // message to one spine link; a 4097-byte sprayed message's small final frame overtook its
    // first one. Links between switches add no per-message term now, and trips use the
    // smallest frame.
    Json c = Json::parse(R"({
      "topology": { "type": "leaf-spine", "hosts_per_leaf": 1, "leaves": 2, "spines": 4,
                    "link": { "rate": "400Gbps", "delay": "1us" },
                    "tiers": { "leaf-spine": { "rate": "100Gbps" } } },
      "traffic": { "gpus": [0, 1], "matrix": [[0, 1048576], [0, 0]] } })");
    for (const char* lb : {"ecmp", "spray"})
    {
        for (const char* transport : {"rdma", "ideal"})
        {
            c["switch"]["load_balancing"] = lb;
            c["transport"]["type"] = transport;
            const Json summary = RunScenario(c);
            const Json& r = summary["rounds"][0];
            EXPECT_GE(r["completion_s"].get<double>(), r["bound_s"].get<double>())
                << lb << ", " << transport;
        }
    }
    Json small = K4Config("spray", "rdma", 0);
    small["traffic"].erase("bytes_per_pair");
    small["traffic"]["gpus"] = Json::array({0, 15});
    small["traffic"]["matrix"] = Json::parse("[[0, 4097], [0, 0]]");
    for (uint64_t seed = 1; seed <= 6; ++seed)
    {
        small["seed"] = seed;
        const Json summary = RunScenario(small);
        const Json& r = summary["rounds"][0];
        EXPECT_GE(r["completion_s"].get<double>(), r["bound_s"].get<double>()) << seed;
    }
}

TEST(AllToAll, PxnKeepsCrossRailTrafficOffTheSpines)
{
    // topology.pxn on a rail-optimized fabric with spines: the all-to-all's cross-rail
    // traffic is relayed over NVLink and the rail leaves, so the spines carry nothing; without
    // it they carry every cross-rail, cross-server byte. Rail-only fabrics cannot turn it off.
    Json c = Json::parse(R"({
      "topology": { "type": "rail-optimized", "servers": 4, "gpus_per_server": 4, "spines": 2,
                    "link": { "rate": "100Gbps", "delay": "1us" } },
      "traffic": { "bytes_per_pair": 65536 } })");
    for (const bool pxn : {false, true})
    {
        c["topology"]["pxn"] = pxn;
        const Json s = RunScenario(c);
        EXPECT_EQ(s["messages"]["delivered"].get<uint64_t>(), 240u);
        EXPECT_EQ(s["topology"]["pxn"].get<bool>(), pxn);
        const uint64_t spineBytes = s["fabric"]["tiers"]["leaf-spine"]["tx_bytes"].get<uint64_t>();
        if (pxn)
        {
            EXPECT_EQ(spineBytes, 0u);
        }
        else
        {
            EXPECT_GT(spineBytes, 0u);
        }
    }
    c["topology"]["spines"] = 0;
    c["topology"]["pxn"] = false;
    EXPECT_EQ(ScenarioConfigError(c),
              "topology.pxn: a rail-only fabric (spines 0) reaches other rails only through "
              "NVLink relays; accepted with spines 0: true");
}

TEST(AllToAll, BdpFlowControlKeepsASlowReceiverFromDropping)
{
    // 4 MiB into a NIC whose receive buffer (256 KiB) drains at half the line rate, lossy, no
    // congestion control: the sender floods the buffer, and with every loss resent at once the
    // retransmissions too (1733 drops, 1.64 ms). With BDP flow control at most one
    // bandwidth-delay product (a 4.7 us base round trip at 100 Gb/s: 15 packets, 60 KiB) is in
    // flight, which the buffer holds: nothing is dropped and the message takes the drain time,
    // 683.26 us, as on a lossless NIC.
    Json c = Json::parse(R"({
      "topology": { "type": "leaf-spine", "hosts_per_leaf": 2, "leaves": 1, "spines": 1,
                    "link": { "rate": "100Gbps", "delay": "1us" } },
      "nic": { "rx": { "drain_rate": "50Gbps" } },
      "traffic": { "gpus": [0, 1], "matrix": [[0, 4194304], [0, 0]] } })");
    const Json flood = RunScenario(c);
    EXPECT_GT(flood["fabric"]["drops"].get<uint64_t>(), 1000u);
    c["transport"]["bdp_fc"] = true;
    const Json capped = RunScenario(c);
    EXPECT_EQ(capped["fabric"]["drops"].get<uint64_t>(), 0u);
    EXPECT_EQ(capped["transport"]["retransmitted_packets"].get<uint64_t>(), 0u);
    EXPECT_NEAR(capped["rounds"][0]["completion_s"].get<double>(), 683.26e-6, 0.01e-6);
    // HPCC and Swift set windows themselves.
    c["switch"]["buffer"]["type"] = "shared";
    c["transport"]["cc"]["type"] = "hpcc";
    EXPECT_EQ(ScenarioConfigError(c),
              "transport.bdp_fc: \"hpcc\" sets each queue pair's window itself; accepted with "
              "it: false (BDP flow control is for transport.cc.type \"none\" and \"dcqcn\")");
}

TEST(AllToAll, FramesLeftInAReceiveBufferAreReported)
{
    // A run stopped while a slow NIC's receive buffer (draining at half the line rate) still
    // holds frames reports them: they are neither queued nor on a wire nor delivered, and no
    // other field showed them. A complete run leaves none.
    Json c = Json::parse(R"({
      "topology": { "type": "leaf-spine", "hosts_per_leaf": 2, "leaves": 1, "spines": 1,
                    "link": { "rate": "100Gbps", "delay": "1us" } },
      "nic": { "rx": { "drain_rate": "50Gbps" } },
      "transport": { "bdp_fc": true },
      "simulation": { "stop_time": "100us" },
      "traffic": { "gpus": [0, 1], "matrix": [[0, 4194304], [0, 0]] } })");
    Json stopped;
    {
        Scenario sc(c);
        sc.Build();
        EXPECT_FALSE(sc.Run());
        stopped = sc.MakeSummary();
        Simulator::Destroy();
    }
    EXPECT_GT(stopped["fabric"]["rx_buffered_frames_at_end"].get<uint64_t>(), 0u);
    c["simulation"].erase("stop_time");
    EXPECT_EQ(RunScenario(c)["fabric"]["rx_buffered_frames_at_end"].get<uint64_t>(), 0u);
}

TEST(ConfigErrors, ASharedBufferKeyOnATailDropBufferNamesTheType)
{
    // Every key of switch.buffer that the schema documents, other than type and queue_limit,
    // is a shared-buffer key; on the default tail-drop buffer each says to set the type (it
    // said "unknown key; accepted keys: queue_limit, type").
    const std::string schema = ReadFile(SourcePath("traces/scenario-schema.md"));
    std::set<std::string> documented;
    const std::string prefix = "\n| `switch.buffer."; // key-table rows
    for (size_t at = schema.find(prefix); at != std::string::npos; at = schema.find(prefix, at + 1))
    {
        const size_t start = at + prefix.size();
        const std::string key = schema.substr(start, schema.find('`', start) - start);
        if (key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos)
        {
            documented.insert(key); // not an example such as queue_limit=1KiB
        }
    }
    documented.erase("type");
    documented.erase("queue_limit");
    const std::set<std::string> listed(std::begin(SHARED_BUFFER_KEYS),
                                       std::end(SHARED_BUFFER_KEYS));
    EXPECT_EQ(documented, listed);
    for (const std::string& key : listed)
    {
        Json c = K4Config("ecmp", "rdma", 4096);
        c["switch"]["buffer"][key] = 1;
        EXPECT_EQ(ScenarioConfigError(c),
                  "switch.buffer." + key +
                      ": a key of the shared buffer, and this buffer is \"tail-drop\" (the "
                      "default): set switch.buffer.type to \"shared\"; accepted with "
                      "\"tail-drop\": type, queue_limit");
    }
}

TEST_F(Cli, DryRunDescribesWithoutSimulating)
{
    const std::string out = MakeTempDir("dry") + "/never";
    CommandResult r =
        RunCommand(Sim() + " --config=" + SourcePath("examples/configs/fat-tree-k4.json") +
                   " --dry-run --out=" + out);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("16 GPUs"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("round bound"), std::string::npos) << r.output;
    EXPECT_TRUE(ReadFile(out + "/summary.json").empty());

    // A matrix's zeros post no message, and the description counts what is posted (it said
    // "6 messages" here, all ordered pairs of the three GPUs).
    const std::string config = MakeTempDir("dry-matrix") + "/matrix.json";
    WriteFile(config,
              R"({"topology":{"type":"fat-tree","k":4},
                  "traffic":{"gpus":[0,1,2],"matrix":[[0,4096,4096],[0,0,0],[0,0,0]]}})");
    r = RunCommand(Sim() + " --config=" + config + " --dry-run");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("1 round(s) of 2 messages"), std::string::npos) << r.output;
}

TEST_F(Cli, SetOverridesKeysAndIsRecorded)
{
    const std::string out = MakeTempDir("set");
    CommandResult r =
        RunCommand(Sim() + " --config=" + SourcePath("examples/configs/fat-tree-k4.json") +
                   " --set=traffic.bytes_per_pair=4096 --set=traffic.rounds=1"
                   " --set=switch.load_balancing=spray --quiet --out=" +
                   out);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    const Json eff = Json::parse(ReadFile(out + "/effective_config.json"));
    EXPECT_EQ(eff["traffic"]["bytes_per_pair"], 4096);
    EXPECT_EQ(eff["traffic"]["rounds"], 1);
    EXPECT_EQ(eff["switch"]["load_balancing"], "spray");
}

// Timeouts on a fabric that lost nothing were all unnecessary; the counters alone read like
// losses, so the summary says so (and names the keys to change) — and only then.
TEST_F(Cli, SummaryCallsTimeoutsWithoutAnyDropSpurious)
{
    const std::string base = " --config=" + SourcePath("examples/configs/fat-tree-k4.json") +
                             " --set=traffic.bytes_per_pair=262144 --set=traffic.rounds=1";
    const std::string lossless =
        " --set=switch.buffer.type=shared --set=switch.buffer.lossless_priorities=[0]";
    const std::string note = "timeouts were spurious (no frame was dropped)";
    // Lossless, with timeouts far shorter than the queueing (up to ~2 MiB at 100 Gb/s): every
    // timeout fires although nothing is lost.
    CommandResult shortRto = RunCommand(
        Sim() + base + lossless +
        " --set=transport.rto=15us --set=transport.rto_low=15us --out=" + MakeTempDir("spurious"));
    ASSERT_EQ(shortRto.exitCode, 0) << shortRto.output;
    EXPECT_NE(shortRto.output.find(" 0 drops"), std::string::npos) << shortRto.output;
    EXPECT_NE(shortRto.output.find("note: all "), std::string::npos) << shortRto.output;
    EXPECT_NE(shortRto.output.find(note), std::string::npos) << shortRto.output;
    EXPECT_NE(shortRto.output.find("transport.rto (15us)"), std::string::npos) << shortRto.output;
    // The same lossless run with the default timeouts has none: no note.
    CommandResult defaults = RunCommand(Sim() + base + lossless + " --out=" + MakeTempDir("none"));
    ASSERT_EQ(defaults.exitCode, 0) << defaults.output;
    EXPECT_NE(defaults.output.find(" 0 timeouts"), std::string::npos) << defaults.output;
    EXPECT_EQ(defaults.output.find(note), std::string::npos) << defaults.output;
    // Lossy, with drops: timeouts may be real recoveries, so no note.
    CommandResult lossy = RunCommand(Sim() + base +
                                     " --set=transport.rto=15us"
                                     " --set=transport.rto_low=15us --out=" +
                                     MakeTempDir("lossy"));
    ASSERT_EQ(lossy.exitCode, 0) << lossy.output;
    EXPECT_EQ(lossy.output.find(" 0 drops"), std::string::npos) << lossy.output;
    EXPECT_EQ(lossy.output.find(" 0 timeouts"), std::string::npos) << lossy.output;
    EXPECT_EQ(lossy.output.find(note), std::string::npos) << lossy.output;
}

namespace
{
/// Expect the CLI to reject @p set with exit code 2 and a message containing every @p needle.
void
ExpectConfigError(const std::string& args, const std::vector<std::string>& needles)
{
    const std::string out = MakeTempDir("err");
    CommandResult r =
        RunCommand(Sim() + " --config=" + SourcePath("examples/configs/fat-tree-k4.json") +
                   " --out=" + out + " " + args);
    EXPECT_EQ(r.exitCode, 2) << args << "\n" << r.output;
    for (const auto& n : needles)
    {
        EXPECT_NE(r.output.find(n), std::string::npos) << "missing '" << n << "' in:\n" << r.output;
    }
    EXPECT_TRUE(ReadFile(out + "/summary.json").empty());
}
} // namespace

TEST_F(CliErrors, UnknownKey)
{
    ExpectConfigError("--set=topology.kk=4", {"topology.kk", "unknown key", "k"});
}

TEST_F(CliErrors, WrongType)
{
    ExpectConfigError("--set=topology.k='\"four\"'", {"topology.k", "integer"});
}

TEST_F(CliErrors, OddK)
{
    ExpectConfigError("--set=topology.k=5", {"topology.k", "even"});
}

TEST_F(CliErrors, ZeroOrMalformedRate)
{
    ExpectConfigError("--set=topology.link.rate=0Gbps", {"topology.link.rate"});
    ExpectConfigError("--set=topology.link.rate=100Gbs", {"topology.link.rate", "Gbps"});
}

TEST_F(CliErrors, BufferSmallerThanOneFrame)
{
    ExpectConfigError("--set=switch.buffer.queue_limit=1000",
                      {"switch.buffer.queue_limit", "4154"});
}

TEST_F(CliErrors, MoreGpusThanTheTopologyHolds)
{
    ExpectConfigError("--set=traffic.gpus=17", {"traffic.gpus", "16"});
}

TEST_F(CliErrors, MalformedSet)
{
    ExpectConfigError("--set=topology.k", {"--set", "a.b.c=value"});
    ExpectConfigError("--set==4", {"--set"});
}

TEST_F(CliErrors, UnknownEnumValue)
{
    ExpectConfigError("--set=switch.load_balancing=rr", {"switch.load_balancing", "ecmp", "spray"});
    ExpectConfigError("--set=topology.type=torus",
                      {"topology.type", "fat-tree", "leaf-spine", "rail-optimized"});
}

TEST_F(CliErrors, ImpossibleTopologies)
{
    ExpectConfigError("--set=topology.gpus_per_server=3", {"topology.gpus_per_server"});
    ExpectConfigError("--set=topology.type=leaf-spine --set=topology.k=4",
                      {"topology.k", "unknown key"});
    ExpectConfigError(R"('--set=topology={"type":"leaf-spine","spines":3,"uplinks_per_leaf":4}')",
                      {"topology.uplinks_per_leaf", "multiple"});
    ExpectConfigError(
        R"('--set=topology={"type":"rail-optimized","spines":0,"servers":8,"servers_per_leaf":4}')",
        {"topology.spines", "rail-only"});
    ExpectConfigError(R"('--set=topology={"type":"fat-tree","k":64}')", {"topology", "too large"});
}

TEST_F(CliErrors, MissingConfigFile)
{
    CommandResult r = RunCommand(Sim() + " --config=/nonexistent/x.json");
    EXPECT_EQ(r.exitCode, 2) << r.output;
    EXPECT_NE(r.output.find("/nonexistent/x.json"), std::string::npos) << r.output;
}

TEST_F(Configs, EveryBundledConfigValidates)
{
    const CommandResult ls = RunCommand("ls " + SourcePath("examples/configs") + "/*.json");
    ASSERT_EQ(ls.exitCode, 0);
    std::istringstream files(ls.output);
    std::string file;
    int count = 0;
    while (std::getline(files, file))
    {
        CommandResult r = RunCommand(Sim() + " --dry-run --config=" + file);
        EXPECT_EQ(r.exitCode, 0) << file << "\n" << r.output;
        ++count;
    }
    EXPECT_GE(count, 3);
}

TEST(Progress, LongRunsReportWithoutChangingTheResults)
{
    // Progress reported at every tick (interval 0): lines with simulated time, wall time,
    // events per second and, for an all-to-all, the share of bytes delivered; the outcome,
    // the event count included, is the same as without reporting.
    const Json c = K4Config("ecmp", "rdma", 256 * 1024);
    Json summaries[2];
    std::ostringstream progress;
    for (int report = 0; report < 2; ++report)
    {
        Scenario sc(c);
        sc.Build();
        if (report)
        {
            sc.SetProgressOutput(&progress, 0.0);
        }
        EXPECT_TRUE(sc.Run());
        summaries[report] = StripWallClock(sc.MakeSummary());
        Simulator::Destroy();
    }
    const std::string text = progress.str();
    EXPECT_NE(text.find("progress: sim "), std::string::npos) << text;
    EXPECT_NE(text.find(" M events/s"), std::string::npos);
    EXPECT_NE(text.find(" % done, about "), std::string::npos);
    EXPECT_EQ(summaries[0].dump(2), summaries[1].dump(2));
}

TEST(Progress, TheShareDoneCountsWhatTheRoundsPost)
{
    // A matrix whose diagonal is not zero: the diagonal posts nothing, so it must not count
    // in the bytes to deliver (it did: 4.75 MiB expected of 768 KiB posted, at most 16 % done).
    Json c = K4Config("ecmp", "rdma", 0);
    c["traffic"].erase("bytes_per_pair");
    c["traffic"]["gpus"] = Json::array({0, 5, 9, 14});
    c["traffic"]["matrix"] = Json::array();
    for (uint32_t i = 0; i < 4; ++i)
    {
        std::vector<uint64_t> row(4, 65536);
        row[i] = 1 << 20;
        c["traffic"]["matrix"].push_back(Json(row));
    }
    std::ostringstream progress;
    Scenario sc(c);
    sc.Build();
    sc.SetProgressOutput(&progress, 0.0);
    EXPECT_TRUE(sc.Run());
    Simulator::Destroy();
    double most = 0;
    std::istringstream lines(progress.str());
    std::string line;
    while (std::getline(lines, line))
    {
        const size_t at = line.find(" % done");
        if (at != std::string::npos)
        {
            const size_t from = line.rfind(", ", at) + 2;
            most = std::max(most, std::stod(line.substr(from, at - from)));
        }
    }
    EXPECT_GT(most, 60.0) << progress.str();
    EXPECT_LE(most, 100.0);
}
