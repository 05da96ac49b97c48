/*
 * Load balancing: ECMP spreads flows evenly, keeps each flow on one path and does not polarize
 * across tiers; spraying uses every path.
 */
#include "test-util.h"

#include "ns3/fabric-frame.h"
#include "ns3/fabric-hash.h"
#include "ns3/fabric-helper.h"
#include "ns3/fabric-switch.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/rdma-transport.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <gtest/gtest.h>
#include <map>
#include <set>

using namespace ns3;
using namespace ns3::moe;

namespace
{
struct Flow
{
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
};

/// Flows from the hosts under edge switch 0 of a k=8 fat-tree to hosts in other pods.
std::vector<Flow>
MakeFlows(uint32_t count)
{
    std::vector<Flow> flows;
    FastRng rng(12345);
    for (uint32_t i = 0; i < count; ++i)
    {
        Flow f;
        f.src = rng.Below(4);             // hosts 0..3 sit under edge 0
        f.dst = 16 + rng.Below(128 - 16); // outside pod 0
        f.sport = static_cast<uint16_t>(0xC000 | rng.Below(0x4000));
        flows.push_back(f);
    }
    return flows;
}

/// Which uplink of edge 0 and then which core uplink of that aggregation switch each flow takes.
void
Classify(Ptr<FabricTopology> topo,
         const std::vector<Flow>& flows,
         std::map<uint32_t, uint32_t>& edgeCounts,
         std::map<uint32_t, std::map<uint32_t, uint32_t>>& aggCounts)
{
    Ptr<FabricRouting> routing = topo->GetRouting();
    const uint32_t edge = topo->GetAttachedSwitch(0);
    for (const auto& f : flows)
    {
        const uint32_t sip = GpuIpv4Address(f.src).Get();
        const uint32_t dip = GpuIpv4Address(f.dst).Get();
        const auto set = routing->Lookup(edge, f.dst);
        EXPECT_EQ(set.count, 4u);
        const uint32_t up = topo->GetSwitch(edge)->SelectEcmpPort(set, sip, dip, f.sport, 4791, 17);
        ++edgeCounts[up];
        const uint32_t agg = routing->GetPeer(edge, up);
        const auto aggSet = routing->Lookup(agg, f.dst);
        EXPECT_EQ(aggSet.count, 4u);
        ++aggCounts[agg][topo->GetSwitch(agg)->SelectEcmpPort(aggSet, sip, dip, f.sport, 4791, 17)];
    }
}
} // namespace

TEST(Ecmp, ThousandFlowsSpreadWithin15PercentOverFourUplinks)
{
    FatTreeHelper ft;
    ft.SetK(8);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    std::map<uint32_t, uint32_t> edgeCounts;
    std::map<uint32_t, std::map<uint32_t, uint32_t>> aggCounts;
    Classify(topo, MakeFlows(1000), edgeCounts, aggCounts);
    ASSERT_EQ(edgeCounts.size(), 4u);
    for (const auto& [port, n] : edgeCounts)
    {
        EXPECT_GE(n, 0.85 * 250) << "uplink " << port;
        EXPECT_LE(n, 1.15 * 250) << "uplink " << port;
    }
    Simulator::Destroy();
}

TEST(Ecmp, NoPolarizationAcrossTiers)
{
    // The flows an edge switch sends up one uplink must spread again over the aggregation
    // switch's core uplinks. With the same hash seed at both tiers they would all take the same
    // core uplink; per-switch seeds prevent that.
    FatTreeHelper ft;
    ft.SetK(8);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    std::map<uint32_t, uint32_t> edgeCounts;
    std::map<uint32_t, std::map<uint32_t, uint32_t>> aggCounts;
    Classify(topo, MakeFlows(4000), edgeCounts, aggCounts);
    ASSERT_EQ(aggCounts.size(), 4u);
    for (const auto& [agg, ports] : aggCounts)
    {
        ASSERT_EQ(ports.size(), 4u) << "aggregation switch " << agg << " uses only some uplinks";
        uint32_t total = 0;
        for (const auto& [p, n] : ports)
        {
            total += n;
        }
        for (const auto& [p, n] : ports)
        {
            EXPECT_GE(n, 0.85 * total / 4) << "agg " << agg << " port " << p;
            EXPECT_LE(n, 1.15 * total / 4) << "agg " << agg << " port " << p;
        }
    }
    Simulator::Destroy();
}

TEST(Ecmp, SameSeedEverywhereWouldPolarize)
{
    // Control for the test above: force every switch to the same hash seed and the aggregation
    // layer only ever uses one core uplink per edge uplink.
    FatTreeHelper ft;
    ft.SetK(8);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    for (uint32_t i = 0; i < topo->GetSpec().nodes.size(); ++i)
    {
        if (topo->GetSwitch(i))
        {
            topo->GetSwitch(i)->SetAttribute("HashSeed", UintegerValue(42));
        }
    }
    std::map<uint32_t, uint32_t> edgeCounts;
    std::map<uint32_t, std::map<uint32_t, uint32_t>> aggCounts;
    Classify(topo, MakeFlows(4000), edgeCounts, aggCounts);
    for (const auto& [agg, ports] : aggCounts)
    {
        EXPECT_EQ(ports.size(), 1u);
    }
    Simulator::Destroy();
}

namespace
{
/// (switch node index, flow 5-tuple) -> egress ports seen, from the Forward trace.
struct PathLog
{
    uint32_t node;
    std::map<std::tuple<uint32_t, uint32_t, uint32_t, uint16_t>, std::set<uint32_t>>* flows;
    std::map<uint32_t, std::map<uint32_t, uint64_t>>* portCounts;

    static void Forward(PathLog* log, Ptr<const Packet> p, uint32_t /*in*/, uint32_t out)
    {
        FrameInfo info;
        ParseFrame(p, info);
        (*log->flows)[{log->node, info.srcIp, info.dstIp, info.srcPort}].insert(out);
        ++(*log->portCounts)[log->node][out];
    }
};

void
RunAllToAll(Ptr<FabricTopology> topo,
            std::map<std::tuple<uint32_t, uint32_t, uint32_t, uint16_t>, std::set<uint32_t>>& flows,
            std::map<uint32_t, std::map<uint32_t, uint64_t>>& portCounts,
            std::vector<PathLog>& logs)
{
    const auto& spec = topo->GetSpec();
    logs.reserve(spec.nodes.size());
    for (uint32_t i = 0; i < spec.nodes.size(); ++i)
    {
        if (topo->GetSwitch(i))
        {
            logs.push_back(PathLog{i, &flows, &portCounts});
            topo->GetSwitch(i)->TraceConnectWithoutContext(
                "Forward",
                MakeBoundCallback(&PathLog::Forward, &logs.back()));
        }
    }
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    for (uint32_t s = 0; s < 16; ++s)
    {
        for (uint32_t d = 0; d < 16; ++d)
        {
            if (s != d)
            {
                rdma->Send(s, d, 0, 64 * 1024, 0);
            }
        }
    }
    Simulator::Run();
    EXPECT_EQ(rdma->GetMessagesAcked(), 240u);
}
} // namespace

TEST(Ecmp, EveryFlowStaysOnOnePath)
{
    FatTreeHelper ft;
    ft.SetK(4);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    std::map<std::tuple<uint32_t, uint32_t, uint32_t, uint16_t>, std::set<uint32_t>> flows;
    std::map<uint32_t, std::map<uint32_t, uint64_t>> portCounts;
    std::vector<PathLog> logs;
    RunAllToAll(topo, flows, portCounts, logs);
    ASSERT_GT(flows.size(), 240u);
    for (const auto& [key, ports] : flows)
    {
        EXPECT_EQ(ports.size(), 1u) << "a flow was split at switch " << std::get<0>(key);
    }
    Simulator::Destroy();
}

TEST(Spray, UsesEveryEqualCostPath)
{
    FatTreeHelper ft;
    ft.SetK(4);
    FabricHelper fabric;
    fabric.SetSwitchAttribute("LoadBalancing", StringValue("spray"));
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    std::map<std::tuple<uint32_t, uint32_t, uint32_t, uint16_t>, std::set<uint32_t>> flows;
    std::map<uint32_t, std::map<uint32_t, uint64_t>> portCounts;
    std::vector<PathLog> logs;
    RunAllToAll(topo, flows, portCounts, logs);
    // Every port of every switch carried traffic, and flows crossing pods used all their paths
    // at the edge (2 uplinks) and aggregation (2 uplinks) layers.
    const auto& spec = topo->GetSpec();
    for (uint32_t i = 0; i < spec.nodes.size(); ++i)
    {
        if (!topo->GetSwitch(i))
        {
            continue;
        }
        EXPECT_EQ(portCounts[i].size(), topo->GetNPorts(i)) << spec.nodes[i].name;
    }
    uint32_t crossPodSplit = 0;
    uint32_t crossPod = 0;
    for (const auto& [key, ports] : flows)
    {
        const uint32_t node = std::get<0>(key);
        const uint32_t src = GpuFromIpv4(std::get<1>(key));
        const uint32_t dst = GpuFromIpv4(std::get<2>(key));
        if (spec.nodes[node].level == 1 && src / 4 != dst / 4 &&
            node == topo->GetAttachedSwitch(src))
        {
            ++crossPod;
            crossPodSplit += ports.size() == 2 ? 1 : 0;
        }
    }
    EXPECT_GT(crossPod, 0u);
    EXPECT_EQ(crossPodSplit, crossPod);
    Simulator::Destroy();
}

namespace
{
/// Permutation: GPUs 0..7 under leaf 0 each send 2 MiB to GPU i + 8 under leaf 1, over 8 spines
/// (one 100 Gb/s uplink per spine, as fast as the host links: a non-blocking fabric in which
/// only path collisions create queues). Returns the run's simulated time in us.
double
RunPermutation(const std::string& lb, uint64_t* flowlets = nullptr, const std::string& gap = "")
{
    Json c = Json::parse(R"({ "seed": 7,
      "topology": { "type": "leaf-spine", "hosts_per_leaf": 8, "leaves": 2, "spines": 8,
                    "link": { "rate": "100Gbps", "delay": "1us" } },
      "switch": { "buffer": { "type": "tail-drop", "queue_limit": "16MiB" } },
      "output": { "messages_csv": false } })");
    c["switch"]["load_balancing"] = lb;
    if (!gap.empty())
    {
        c["switch"]["flowlet_gap"] = gap;
    }
    Json matrix = Json::array();
    for (uint32_t i = 0; i < 16; ++i)
    {
        Json row = Json::array();
        for (uint32_t j = 0; j < 16; ++j)
        {
            row.push_back(i < 8 && j == i + 8 ? 2 << 20 : 0);
        }
        matrix.push_back(row);
    }
    c["traffic"]["matrix"] = matrix;
    Scenario sc(c);
    sc.Build();
    EXPECT_TRUE(sc.Run());
    const Json s = sc.MakeSummary();
    if (flowlets != nullptr)
    {
        *flowlets = 0;
        Ptr<FabricTopology> topo = sc.GetTopology();
        for (uint32_t i = 0; i < topo->GetSpec().nodes.size(); ++i)
        {
            if (Ptr<FabricSwitch> sw = topo->GetSwitch(i))
            {
                *flowlets += sw->GetFlowletsStarted();
            }
        }
    }
    EXPECT_EQ(s["fabric"]["drops"].get<uint64_t>(), 0u) << lb;
    Simulator::Destroy();
    return s["sim"]["sim_time_s"].get<double>() * 1e6;
}
} // namespace

TEST(AdaptiveRouting, BeatsEcmpOnAPermutationWithHashCollisions)
{
    // 2 MiB at 100 Gb/s takes 171.1 us of serialization (512 frames of 4178 wire bytes); with
    // ECMP two or more of the 8 flows share a spine uplink (8 flows hashed onto 8 ports rarely
    // miss each other), which doubles their time. Adaptive routing sends every packet to the
    // least-queued uplink; flowlets with a tiny gap behave the same, with the default 100 us gap
    // each flow keeps its first port.
    const double ecmp = RunPermutation("ecmp");
    const double adaptive = RunPermutation("adaptive");
    uint64_t tinyGapFlowlets = 0;
    uint64_t defaultFlowlets = 0;
    const double flowletTiny = RunPermutation("flowlet", &tinyGapFlowlets, "1ns");
    const double flowletDefault = RunPermutation("flowlet", &defaultFlowlets);
    std::cout << "permutation: ecmp " << ecmp << " us, adaptive " << adaptive
              << " us, flowlet (1 ns gap) " << flowletTiny << " us / " << tinyGapFlowlets
              << " flowlets, flowlet (100 us) " << flowletDefault << " us / " << defaultFlowlets
              << " flowlets\n";
    constexpr double SERIALIZATION_US = 512 * 4178 * 8 / 100e3;
    EXPECT_GT(ecmp, 1.6 * SERIALIZATION_US)
        << "this seed's ECMP must collide for the test to mean anything";
    EXPECT_LT(adaptive, 0.75 * ecmp);
    EXPECT_LT(adaptive, 1.2 * SERIALIZATION_US + 10);
    EXPECT_LT(flowletTiny, 0.75 * ecmp);
    EXPECT_GT(tinyGapFlowlets, 1000u);
    // With the default gap every flow is one flowlet: 8 flows leave leaf 0 with data and 8
    // leave leaf 1 with their ACKs (the spines have one path down; the matrix's zero entries
    // post nothing).
    EXPECT_EQ(defaultFlowlets, 16u);
    RecordProperty("ecmp_us", static_cast<int>(ecmp));
    RecordProperty("adaptive_us", static_cast<int>(adaptive));
    RecordProperty("flowlet_default_us", static_cast<int>(flowletDefault));
}

TEST(AdaptiveRouting, HpccRefusesPerPacketPaths)
{
    // HPCC compares each hop's telemetry with the same hop's on the previous ACK: per-packet
    // path changes would compare different switches, so the combination is a config error;
    // per-flow and per-flowlet paths are accepted.
    auto error = [](const std::string& lb) {
        Json c = Json::parse(R"({"topology": {"type": "leaf-spine", "hosts_per_leaf": 2,
                                 "leaves": 2, "spines": 2},
                                 "transport": {"cc": {"type": "hpcc"}}})");
        c["switch"]["load_balancing"] = lb;
        return moe_test::ScenarioConfigError(c);
    };
    for (const std::string lb : {"spray", "adaptive"})
    {
        EXPECT_EQ(error(lb).rfind("transport.cc.type: \"hpcc\" compares each hop's", 0), 0u)
            << error(lb);
        EXPECT_NE(error(lb).find("accepted with hpcc: \"ecmp\", \"flowlet\""), std::string::npos);
    }
    EXPECT_EQ(error("ecmp"), "");
    EXPECT_EQ(error("flowlet"), "");
}
