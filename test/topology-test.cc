/*
 * Topology helpers: node and link counts, reachability and hop counts, queries.
 */
#include "ns3/fabric-config-error.h"
#include "ns3/fabric-helper.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/leaf-spine-helper.h"
#include "ns3/rail-optimized-helper.h"
#include "ns3/simulator.h"

#include <gtest/gtest.h>
#include <vector>

using namespace ns3;
using namespace ns3::moe;

TEST(FatTree, NodeAndLinkCountsMatchTheFormulas)
{
    // k=4 -> 16 hosts / 20 switches; k=8 -> 128 / 80; k=16 -> 1024 / 320.
    const uint32_t ks[] = {4, 8, 16};
    const uint32_t hosts[] = {16, 128, 1024};
    const uint32_t switches[] = {20, 80, 320};
    for (int i = 0; i < 3; ++i)
    {
        FatTreeHelper ft;
        ft.SetK(ks[i]);
        TopologySpec spec = ft.Build();
        EXPECT_EQ(spec.NumHosts(), hosts[i]);
        EXPECT_EQ(spec.NumSwitches(), switches[i]);
        // k^3/4 host links + k^3/4 edge-agg + k^3/4 agg-core
        EXPECT_EQ(spec.links.size(), 3u * hosts[i]);
    }
}

TEST(FatTree, EveryPairReachableWithExpectedHopCount)
{
    FatTreeHelper ft;
    ft.SetK(4);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    EXPECT_EQ(Time::GetResolution(), Time::PS);
    EXPECT_DOUBLE_EQ(topo->GetOversubscription(), 1.0);
    for (uint32_t s = 0; s < 16; ++s)
    {
        for (uint32_t d = 0; d < 16; ++d)
        {
            if (s == d)
            {
                continue;
            }
            uint32_t expected = (s / 2 == d / 2) ? 2 : (s / 4 == d / 4) ? 4 : 6;
            EXPECT_EQ(topo->GetHopCount(s, d), expected) << s << "->" << d;
            // Number of equal-cost paths: 1 within an edge, k/2 within a pod, (k/2)^2 across.
            uint32_t paths = (s / 2 == d / 2) ? 1 : (s / 4 == d / 4) ? 2 : 4;
            EXPECT_EQ(topo->GetPaths(s, d).size(), paths) << s << "->" << d;
        }
    }
    Simulator::Destroy();
}

TEST(FatTree, OddKIsAConfigError)
{
    FatTreeHelper ft;
    ft.SetK(5);
    try
    {
        ft.Build();
        FAIL() << "k=5 accepted";
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(e.GetPath(), "topology.k");
        EXPECT_NE(std::string(e.what()).find("even"), std::string::npos);
    }
}

TEST(LeafSpine, CountsOversubscriptionAndParallelLinks)
{
    LeafSpineHelper ls;
    ls.SetHostsPerLeaf(16);
    ls.SetLeaves(8);
    ls.SetSpines(4);
    ls.SetUplinksPerLeaf(8); // two parallel links from every leaf to every spine
    EXPECT_DOUBLE_EQ(ls.GetOversubscription(), 2.0);
    TopologySpec spec = ls.Build();
    EXPECT_EQ(spec.NumHosts(), 128u);
    EXPECT_EQ(spec.NumSwitches(), 12u);
    EXPECT_EQ(spec.links.size(), 128u + 8u * 8u);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(spec);
    EXPECT_DOUBLE_EQ(topo->GetOversubscription(), 2.0);
    // Across leaves: host, leaf, one of 8 uplinks (parallel links count), spine, one of the 2
    // parallel links down, leaf, host: 8 x 2 = 16 distinct link paths.
    EXPECT_EQ(topo->GetHopCount(0, 127), 4u);
    EXPECT_EQ(topo->GetPaths(0, 127).size(), 16u);
    const uint32_t leaf0 = topo->GetAttachedSwitch(0);
    EXPECT_EQ(topo->GetRouting()->Lookup(leaf0, 127).count, 8u);
    // Under one leaf: 2 hops, 1 path.
    EXPECT_EQ(topo->GetHopCount(0, 15), 2u);
    EXPECT_EQ(topo->GetPaths(0, 15).size(), 1u);
    Simulator::Destroy();
}

TEST(RailOptimized, RailsSpinesAndNvSwitchDomains)
{
    RailOptimizedHelper rail;
    rail.SetServers(16);
    rail.SetGpusPerServer(8);
    rail.SetSpines(8);
    TopologySpec spec = rail.Build();
    // 128 GPUs; 8 rail leaves + 8 spines + 16 NVSwitches; 128 NIC + 64 uplinks + 128 NVLinks.
    EXPECT_EQ(spec.NumHosts(), 128u);
    EXPECT_EQ(spec.NumSwitches(), 8u + 8u + 16u);
    EXPECT_EQ(spec.links.size(), 128u + 64u + 128u);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(spec);
    EXPECT_EQ(topo->GetServer(13), 1u);
    EXPECT_EQ(topo->GetRail(13), 5u);
    EXPECT_TRUE(topo->SameServer(8, 15));
    EXPECT_FALSE(topo->SameServer(7, 8));
    // Every GPU's NIC hangs off its rail's leaf.
    for (uint32_t g = 0; g < 128; ++g)
    {
        EXPECT_EQ(spec.nodes[topo->GetAttachedSwitch(g)].name,
                  "rail" + std::to_string(g % 8) + "-leaf0");
    }
    // Same server: NVLink (2 hops, port 1); same rail: NIC, leaf, NIC; across rails: via a spine.
    EXPECT_EQ(topo->GetHopCount(0, 5), 2u);
    EXPECT_EQ(topo->GetEgressPort(0, 5), 1u);
    EXPECT_EQ(topo->GetHopCount(0, 8), 2u);
    EXPECT_EQ(topo->GetEgressPort(0, 8), 0u);
    EXPECT_EQ(topo->GetHopCount(0, 9), 4u);
    EXPECT_EQ(topo->GetPaths(0, 9).size(), 8u);
    // The NVLink tier has its own, much higher rate.
    EXPECT_EQ(topo->GetHostPortRate(0, 1), 3600000000000ull);
    EXPECT_EQ(topo->GetHostPortRate(0, 0), 100000000000ull);
    Simulator::Destroy();
}

TEST(RailOptimized, RailOnlyReachesEveryPairThroughARelay)
{
    RailOptimizedHelper rail;
    rail.SetServers(4);
    rail.SetGpusPerServer(4);
    rail.SetSpines(0);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(rail.Build());
    for (uint32_t s = 0; s < 16; ++s)
    {
        for (uint32_t d = 0; d < 16; ++d)
        {
            if (s == d)
            {
                continue;
            }
            const bool sameServer = s / 4 == d / 4;
            const bool sameRail = s % 4 == d % 4;
            // Cross-rail, cross-server: NVLink, NVSwitch -> relay GPU, its NIC, rail leaf -> dst.
            const uint32_t expected = (sameServer || sameRail) ? 2 : 4;
            EXPECT_EQ(topo->GetHopCount(s, d), expected) << s << "->" << d;
            auto paths = topo->GetPaths(s, d);
            ASSERT_EQ(paths.size(), 1u);
            if (!sameServer && !sameRail)
            {
                // The relay is the source server's GPU on the destination's rail.
                const uint32_t relayNode = topo->GetSpec().hostNode[(s / 4) * 4 + d % 4];
                EXPECT_EQ(paths[0].nodes[2], relayNode);
                EXPECT_EQ(topo->GetRelay(s, d), (s / 4) * 4 + d % 4) << s << "->" << d;
            }
            else
            {
                EXPECT_EQ(topo->GetRelay(s, d), FabricTopology::NO_RELAY) << s << "->" << d;
            }
        }
    }
    Simulator::Destroy();
}

TEST(RailOptimized, PxnRefusesTwoGpusOfAServerOnOneRail)
{
    // A hand-edited spec whose server 0 has two GPUs on rail 0: which one would relay?
    RailOptimizedHelper rail;
    rail.SetServers(2);
    rail.SetGpusPerServer(2);
    rail.SetSpines(0);
    TopologySpec spec = rail.Build();
    spec.hostRail[1] = 0;
    FabricHelper fabric;
    try
    {
        fabric.Install(spec);
        FAIL() << "a server with two GPUs on one rail was accepted under PXN";
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(e.GetPath(), "topology.pxn");
        EXPECT_NE(std::string(e.what()).find("two GPUs on rail 0"), std::string::npos) << e.what();
    }
    Simulator::Destroy();
}

TEST(RailOptimized, PxnRelaysCrossRailTrafficAroundTheSpines)
{
    // With spines and PXN, traffic to another rail of another server takes the relay GPU's NIC
    // as on a rail-only fabric (4 links), not the spine (4 links too, but through a spine
    // switch); same-rail traffic still takes its leaf, and no path crosses a spine. Without
    // PXN the same pairs go leaf -> spine -> leaf.
    for (const bool pxn : {false, true})
    {
        RailOptimizedHelper rail;
        rail.SetServers(4);
        rail.SetGpusPerServer(4);
        rail.SetSpines(2);
        rail.SetPxn(pxn);
        FabricHelper fabric;
        Ptr<FabricTopology> topo = fabric.Install(rail.Build());
        const TopologySpec& spec = topo->GetSpec();
        EXPECT_EQ(spec.pxn, pxn);
        EXPECT_FALSE(spec.railOnly);
        for (uint32_t s = 0; s < 16; ++s)
        {
            for (uint32_t d = 0; d < 16; ++d)
            {
                const bool sameServer = s / 4 == d / 4;
                const bool sameRail = s % 4 == d % 4;
                if (s == d || sameServer || sameRail)
                {
                    if (s != d)
                    {
                        EXPECT_EQ(topo->GetRelay(s, d), FabricTopology::NO_RELAY);
                    }
                    continue;
                }
                EXPECT_EQ(topo->GetRelay(s, d),
                          pxn ? (s / 4) * 4 + d % 4 : FabricTopology::NO_RELAY)
                    << s << "->" << d;
                EXPECT_EQ(topo->GetHopCount(s, d), 4u) << s << "->" << d;
                const auto paths = topo->GetPaths(s, d);
                ASSERT_FALSE(paths.empty());
                for (const auto& path : paths)
                {
                    bool viaSpine = false;
                    for (const uint32_t link : path.links)
                    {
                        viaSpine |= spec.tierNames[spec.links[link].tier] == "leaf-spine";
                    }
                    EXPECT_EQ(viaSpine, !pxn) << s << "->" << d;
                    if (pxn)
                    {
                        EXPECT_EQ(path.nodes[2], spec.hostNode[(s / 4) * 4 + d % 4]);
                    }
                }
            }
        }
        Simulator::Destroy();
    }
}

namespace
{
/// GetMaxPathLatency(gpus, frame) against the maximum of GetPathLatency over every pair;
/// returns that maximum for the last frame size.
Time
ExpectMaxPathLatencyOfEveryPair(const Ptr<FabricTopology>& topo, const std::vector<uint32_t>& gpus)
{
    Time expected(0);
    for (const uint32_t frame : {64u, 4154u})
    {
        expected = Time(0);
        for (const uint32_t a : gpus)
        {
            for (const uint32_t b : gpus)
            {
                if (a != b)
                {
                    expected = std::max(expected, topo->GetPathLatency(a, b, frame));
                }
            }
        }
        EXPECT_GT(expected, Time(0));
        EXPECT_EQ(topo->GetMaxPathLatency(gpus, frame), expected) << "frame " << frame;
    }
    return expected;
}
} // namespace

TEST(FabricTopology, MaxPathLatencyIsThatOfTheSlowestPair)
{
    // Tiers of different rates and delays, so that which pair is slowest depends on the path;
    // rail-only paths run through a relay GPU's node, which is also a source.
    LinkSpec host{100000000000ull, 700000};
    LinkSpec fast{400000000000ull, 1300000};
    LinkSpec slow{25000000000ull, 300000};
    {
        FatTreeHelper ft;
        ft.SetK(4);
        ft.SetGpusPerServer(2);
        ft.SetHostLink(host);
        ft.SetEdgeAggLink(slow);
        ft.SetAggCoreLink(fast);
        FabricHelper fabric;
        Ptr<FabricTopology> topo = fabric.Install(ft.Build());
        std::vector<uint32_t> all(16);
        for (uint32_t g = 0; g < 16; ++g)
        {
            all[g] = g;
        }
        const Time longest = ExpectMaxPathLatencyOfEveryPair(topo, all);
        ExpectMaxPathLatencyOfEveryPair(topo, {0, 1, 2, 3}); // one pod: no core hop
        ExpectMaxPathLatencyOfEveryPair(topo, {0, 1});       // one server: NVLink only
        EXPECT_EQ(topo->GetMaxPathLatency(4154), longest);   // all GPUs
        Simulator::Destroy();
    }
    for (const uint32_t spines : {0u, 2u})
    {
        RailOptimizedHelper rail;
        rail.SetServers(4);
        rail.SetGpusPerServer(4);
        rail.SetSpines(spines);
        rail.SetPxn(spines > 0);
        rail.SetHostLink(host);
        rail.SetLeafSpineLink(slow);
        FabricHelper fabric;
        Ptr<FabricTopology> topo = fabric.Install(rail.Build());
        ExpectMaxPathLatencyOfEveryPair(topo,
                                        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
        ExpectMaxPathLatencyOfEveryPair(topo, {3, 5, 10, 12, 3}); // cross-rail, a repeat
        Simulator::Destroy();
    }
}

TEST(FabricHelper, PicosecondResolutionIsSetAndFramesSerializeExactly)
{
    FatTreeHelper ft;
    ft.SetK(4);
    ft.SetHostLink(LinkSpec{400000000000ull, 1000000});
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    EXPECT_EQ(Time::GetResolution(), Time::PS);
    // A 4096-byte RoCE payload is a 4154-byte frame, 4178 bytes on the wire: 83.56 ns at 400G.
    EXPECT_EQ(topo->GetPort(topo->GetSpec().hostNode[0], 0)->GetTxPs(4154), 83560);
    Simulator::Destroy();
}
