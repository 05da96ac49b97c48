/*
 * Topology helpers: node and link counts, reachability and hop counts, queries.
 */
#include "ns3/fabric-helper.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/leaf-spine-helper.h"
#include "ns3/rail-optimized-helper.h"
#include "ns3/fabric-config-error.h"
#include "ns3/simulator.h"

#include <gtest/gtest.h>

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
