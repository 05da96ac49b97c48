/*
 * Shared-buffer switches through the scenario: the MMU is installed, drops carry its reasons,
 * ECN marks are counted per tier, and every switch's accounting drains to zero.
 */
#include "test-util.h"

#include "ns3/fabric-host.h"
#include "ns3/fabric-net-device.h"
#include "ns3/fabric-routing.h"
#include "ns3/fabric-switch.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/partitioned-buffer-mmu.h"
#include "ns3/shared-buffer-mmu.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <gtest/gtest.h>
#include <set>
#include <sstream>

using namespace ns3;
using namespace ns3::moe;

namespace
{
/// A k = 4 fat-tree incast-heavy all-to-all: 16 GPUs, 256 KiB per pair.
Json
Incast(const std::string& buffer)
{
    Json c = Json::parse(R"({ "seed": 3,
      "topology": { "type": "fat-tree", "k": 4, "link": { "rate": "100Gbps", "delay": "1us" } },
      "traffic": { "type": "all-to-all", "bytes_per_pair": "256KiB" } })");
    c["switch"]["buffer"]["type"] = buffer;
    return c;
}
} // namespace

TEST(SwitchBuffer, SharedBufferDropsByItsReasonsMarksAndDrains)
{
    Json c = Incast("shared");
    c["switch"]["buffer"]["size"] = "512KiB";
    Scenario sc(c);
    sc.Build();
    ASSERT_TRUE(sc.Run());
    const Json s = sc.MakeSummary();
    // Every switch of the fabric has an MMU, and its pools are empty once the fabric drained.
    Ptr<FabricTopology> topo = sc.GetTopology();
    uint32_t mmus = 0;
    for (uint32_t i = 0; i < topo->GetSpec().nodes.size(); ++i)
    {
        if (Ptr<FabricSwitch> sw = topo->GetSwitch(i))
        {
            Ptr<SharedBufferMmu> mmu = DynamicCast<SharedBufferMmu>(sw->GetAdmission());
            ASSERT_NE(mmu, nullptr);
            EXPECT_EQ(mmu->CheckAccounting(), "") << "switch " << i;
            ++mmus;
        }
    }
    Simulator::Destroy();
    EXPECT_EQ(mmus, 20u);
    const Json& f = s["fabric"];
    EXPECT_GT(f["drops"].get<uint64_t>(), 0u);
    uint64_t thresholdDrops = 0;
    for (const auto& [name, tier] : f["tiers"].items())
    {
        EXPECT_EQ(tier["drops_by_reason"]["egress_queue_full"].get<uint64_t>(), 0u) << name;
        thresholdDrops += tier["drops_by_reason"]["egress_threshold"].get<uint64_t>() +
                          tier["drops_by_reason"]["pool_full"].get<uint64_t>();
    }
    EXPECT_EQ(thresholdDrops, f["drops"].get<uint64_t>());
    EXPECT_GT(f["ecn_marks"].get<uint64_t>(), 0u);
    EXPECT_LE(f["buffer"]["peak_used_bytes"].get<uint64_t>(), 512u * 1024);
    // Both peaks count whole cells (the lossy pool's was reported in stored frame bytes).
    const uint64_t cell = s["manifest"]["config"]["switch"]["buffer"]["cell_size"].get<uint64_t>();
    const uint64_t lossyPeak = f["buffer"]["peak_lossy_pool_bytes"].get<uint64_t>();
    EXPECT_GT(lossyPeak, 0u);
    EXPECT_EQ(lossyPeak % cell, 0u) << lossyPeak;
    EXPECT_EQ(f["buffer"]["peak_used_bytes"].get<uint64_t>() % cell, 0u);
    // Every byte still arrives (the transport recovers what the switches dropped).
    EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 15 * 256 * 1024);
}

TEST(SwitchBuffer, DynamicThresholdsAbsorbWhatPerQueueLimitsDrop)
{
    // The same memory per switch: 4 ports x 256 KiB of per-queue tail drop against a 1 MiB
    // shared buffer whose queues may grow into what the idle ones leave.
    Json tail = Incast("tail-drop");
    tail["switch"]["buffer"]["queue_limit"] = "256KiB";
    Json shared = Incast("shared");
    shared["switch"]["buffer"]["size"] = "1MiB";
    uint64_t drops[2];
    int i = 0;
    for (const Json& c : {tail, shared})
    {
        Scenario sc(c);
        sc.Build();
        EXPECT_TRUE(sc.Run());
        drops[i++] = sc.MakeSummary()["fabric"]["drops"].get<uint64_t>();
        Simulator::Destroy();
    }
    EXPECT_LT(drops[1], drops[0]);
}

TEST(SwitchBuffer, ImpossibleSettingsNameTheField)
{
    auto error = moe_test::ScenarioConfigError;
    Json c = Incast("shared");
    c["switch"]["buffer"]["size"] = "8KiB";
    EXPECT_EQ(error(c).rfind("switch.buffer.egress_reserved:", 0), 0u) << error(c);
    c = Incast("shared");
    c["switch"]["ecn"]["kmin"] = "64KiB";
    c["switch"]["ecn"]["kmax"] = "32KiB";
    EXPECT_EQ(error(c).rfind("switch.ecn.kmax:", 0), 0u) << error(c);
    c = Incast("shared");
    c["switch"]["buffer"]["alpha"] = 0;
    EXPECT_EQ(error(c).rfind("switch.buffer.alpha:", 0), 0u) << error(c);
    c = Incast("tail-drop");
    c["switch"]["buffer"]["alpha"] = 1;
    EXPECT_EQ(error(c).rfind("switch.buffer.alpha: a key of the shared buffer", 0), 0u) << error(c);
    // Headroom: a configured one too small for a frame names switch.buffer.headroom; automatic
    // headroom that does not fit names the buffer.
    c = Incast("shared");
    c["switch"]["buffer"]["lossless_priorities"] = {0};
    c["switch"]["buffer"]["headroom"] = 1000;
    EXPECT_EQ(error(c).rfind("switch.buffer.headroom: headroom of 1024 bytes", 0), 0u) << error(c);
    c["switch"]["buffer"].erase("headroom");
    c["switch"]["buffer"]["size"] = "256KiB";
    EXPECT_EQ(error(c).rfind("switch.buffer.size:", 0), 0u) << error(c);
    c = Incast("shared");
    c["switch"]["pfc"]["watchdog"] = {{"timeout", "1ms"}, {"action", "shut"}};
    EXPECT_EQ(error(c).rfind("switch.pfc.watchdog.action:", 0), 0u) << error(c);
    EXPECT_NE(error(c).find("\"drop\""), std::string::npos) << error(c);
    // The NIC's receive buffer: too small for its link's headroom, XON above XOFF, XOFF above
    // the buffer, a GPU that does not exist.
    c = Incast("shared");
    c["nic"]["rx"] = {{"drain_rate", "50Gbps"}, {"buffer", "16KiB"}};
    EXPECT_EQ(error(c).rfind("nic.rx.buffer:", 0), 0u) << error(c);
    c["nic"]["rx"] = {{"drain_rate", "50Gbps"}, {"xoff", "100KiB"}, {"xon", "120KiB"}};
    EXPECT_EQ(error(c).rfind("nic.rx.xon:", 0), 0u) << error(c);
    c["nic"]["rx"] = {{"drain_rate", "50Gbps"}, {"xoff", "1MiB"}};
    EXPECT_EQ(error(c).rfind("nic.rx.xoff:", 0), 0u) << error(c);
    c["nic"]["rx"] = {{"drain_rate", "50Gbps"}, {"gpus", {16}}};
    EXPECT_EQ(error(c).rfind("nic.rx.gpus[0]:", 0), 0u) << error(c);
    c["nic"]["rx"] = {{"drain_rate", "0Gbps"}};
    EXPECT_EQ(error(c).rfind("nic.rx.drain_rate:", 0), 0u) << error(c);
    // Below 1 Gb/s a full receive buffer drains for seconds while lossy senders retransmit into
    // it (the run crawled for minutes towards stop_time).
    // All of the buffer to the lossless pool: lossy frames (the ACKs on priority 6, here) only
    // have their egress reserves, too small for a frame, so every one would drop (the run
    // never completed; found by fuzzing). Fraction 0 is the mirror error.
    c = Incast("shared");
    c["switch"]["buffer"]["lossless_priorities"] = Json::array({0});
    c["switch"]["buffer"]["lossless_pool_fraction"] = 1;
    EXPECT_EQ(error(c).rfind("switch.buffer.lossless_pool_fraction: the lossy priorities have no "
                             "pool, and their egress reserve (",
                             0),
              0u)
        << error(c);
    c["switch"]["buffer"]["lossless_pool_fraction"] = 0;
    EXPECT_EQ(error(c).rfind("switch.buffer.lossless_pool_fraction:", 0), 0u) << error(c);
    // Lists of priorities or GPUs name each entry once (duplicates were accepted silently).
    c = Incast("shared");
    c["switch"]["buffer"]["lossless_priorities"] = Json::array({0, 3, 0});
    EXPECT_EQ(error(c), "switch.buffer.lossless_priorities[2]: priority 0 is listed twice");
    c = Incast("shared");
    c["switch"]["scheduler"] = Json::parse(R"({"type": "dwrr", "strict_priorities": [6, 6]})");
    EXPECT_EQ(error(c), "switch.scheduler.strict_priorities[1]: priority 6 is listed twice");
    c = Incast("shared");
    c["nic"]["rx"] = {{"drain_rate", "50Gbps"}, {"gpus", {1, 1}}};
    EXPECT_EQ(error(c), "nic.rx.gpus[1]: GPU 1 is listed twice");
    c = Incast("shared");
    c["nic"]["rx"] = {{"drain_rate", "999Mbps"}};
    EXPECT_EQ(error(c).rfind("nic.rx.drain_rate: 999Mbps is too slow; accepted: 1Gbps or more", 0),
              0u)
        << error(c);
    c["nic"]["rx"] = {{"drain_rate", "1Gbps"}};
    EXPECT_EQ(error(c), "");
}

TEST(SwitchBuffer, SlowReceiverNicsPauseALosslessFabric)
{
    // GPU 0's host absorbs only 25 Gb/s of its 100 Gb/s link while all 15 others send to it.
    // Lossless, its NIC pauses the edge switch (pauses on the host tier come from it and the
    // switches pausing senders), nothing is dropped; lossy, its receive buffer overflows.
    Json c = Incast("shared");
    c["switch"]["buffer"]["size"] = "4MiB";
    c["nic"]["rx"] = {{"drain_rate", "25Gbps"}, {"gpus", {0}}};
    for (int lossless = 0; lossless < 2; ++lossless)
    {
        c["switch"]["buffer"]["lossless_priorities"] = lossless ? Json::array({0}) : Json::array();
        Scenario sc(c);
        sc.Build();
        EXPECT_TRUE(sc.Run());
        const Json s = sc.MakeSummary();
        Ptr<FabricHost> slow = sc.GetTopology()->GetHost(0);
        const uint64_t nicPauses = slow->GetPort(0)->GetPfcCounters().TotalPausesSent();
        const uint64_t rxDrops =
            s["fabric"]["tiers"]["host-edge"]["drops_by_reason"]["rx_buffer_full"].get<uint64_t>();
        const uint64_t peak = slow->GetRxPeakBytes();
        EXPECT_LE(peak, 262016u);
        EXPECT_EQ(sc.GetTopology()->GetHost(1)->GetRxPeakBytes(), 0u) << "only GPU 0 modelled";
        Simulator::Destroy();
        EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 15 * 256 * 1024);
        if (lossless)
        {
            EXPECT_GT(nicPauses, 0u);
            EXPECT_EQ(rxDrops, 0u);
            EXPECT_EQ(s["fabric"]["drops"].get<uint64_t>(), 0u);
            RecordProperty("lossless_nic_pauses", static_cast<int>(nicPauses));
        }
        else
        {
            EXPECT_EQ(nicPauses, 0u);
            EXPECT_GT(rxDrops, 0u);
            RecordProperty("lossy_rx_buffer_drops", static_cast<int>(rxDrops));
        }
        std::cout << (lossless ? "lossless" : "lossy") << ": NIC pauses " << nicPauses
                  << ", rx_buffer_full drops " << rxDrops << ", peak receive buffer " << peak
                  << " B\n";
    }
}

TEST(SwitchBuffer, TheSizingSweepWritesItsTable)
{
    if (moe_test::SimBinary().empty())
    {
        GTEST_SKIP() << "moe-fabric-sim was not built";
    }
    const std::string dir = moe_test::MakeTempDir("sweep");
    const auto r = moe_test::RunCommand(
        "python3 " + moe_test::SourcePath("examples/studies/buffer-sizing-sweep.py") + " --sim " +
        moe_test::SimBinary() + " --config " +
        moe_test::SourcePath("examples/configs/moe-buffer-sizing.json") + " --out " + dir +
        " --sizes 1MiB,32MiB --alphas 1 --no-plot");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    std::istringstream csv(moe_test::ReadFile(dir + "/buffer-sweep.csv"));
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header.rfind("buffer_bytes,alpha,headroom_bytes,complete,drops,", 0), 0u) << header;
    std::vector<std::vector<std::string>> rows;
    for (std::string line; std::getline(csv, line);)
    {
        std::vector<std::string> fields;
        std::istringstream in(line);
        for (std::string f; std::getline(in, f, ',');)
        {
            fields.push_back(f);
        }
        rows.push_back(fields);
    }
    ASSERT_EQ(rows.size(), 2u);
    // 1 MiB drops under the dispatch incast, 32 MiB does not; both runs complete.
    EXPECT_EQ(rows[0][3], "1");
    EXPECT_EQ(rows[1][3], "1");
    EXPECT_GT(std::stoull(rows[0][4]), 0u);
    EXPECT_EQ(rows[1][4], "0");

    // Run from another directory with the default config, over a setting the simulator refuses
    // (1 MiB cannot hold the lossless reserves and headroom): that row names the error, the
    // other one still runs (the default config path was relative to the working directory, and
    // one refused setting aborted the whole sweep without a table).
    const std::string lossless = moe_test::MakeTempDir("sweep-lossless");
    const auto l = moe_test::RunCommand(
        "cd / && python3 " + moe_test::SourcePath("examples/studies/buffer-sizing-sweep.py") +
        " --sim " + moe_test::SimBinary() + " --out " + lossless +
        " --sizes 1MiB,2MiB --alphas 1 --no-plot --set 'switch.buffer.lossless_priorities=[0]'");
    ASSERT_EQ(l.exitCode, 0) << l.output;
    EXPECT_NE(l.output.find("configuration error: switch.buffer.size"), std::string::npos)
        << l.output;
    const std::string table = moe_test::ReadFile(lossless + "/buffer-sweep.csv");
    EXPECT_NE(table.find("\n1048576,1.0,0,,"), std::string::npos) << table;
    EXPECT_NE(table.find("\n2097152,1.0,0,1,0,"), std::string::npos) << table;
}

TEST(SwitchBuffer, PauseQuantaTooShortToHoldAPauseAreRejected)
{
    // 100 Gb/s: response 394 quanta (802.3 Annex 31B), a 4178-byte frame 65.3 and a PFC frame
    // 1.3 on the wire; half the pause must cover them: at least 922 quanta. With quanta 1 the
    // pause lapsed before it took effect: 5.9 M PFC frames and 97 k drops on the lossless
    // priority of a two-flow run, which crawled for 27 s (found by fuzzing).
    Json c = Incast("shared");
    c["switch"]["buffer"]["lossless_priorities"] = Json::array({0});
    c["switch"]["pfc"]["quanta"] = 921;
    EXPECT_EQ(moe_test::ScenarioConfigError(c),
              "switch.pfc.quanta: 921 quanta cannot hold a pause: refreshed at half its time, half "
              "must outlast the peer's response time at 100Gbps, a full-size frame at "
              "transport.mtu 4096 and a PFC frame; accepted: 922..65535");
    // At the minimum the lossless priority holds: it pauses, often, and drops nothing.
    c["switch"]["pfc"]["quanta"] = 922;
    c["switch"]["buffer"]["size"] = "1MiB";
    const Json s = moe_test::RunScenario(c);
    EXPECT_EQ(s["fabric"]["drops"].get<uint64_t>(), 0u);
    EXPECT_GT(s["fabric"]["pfc_pauses"].get<uint64_t>(), 0u);
    EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 15 * 256 * 1024);
}

TEST(SwitchBuffer, LosslessPriorityPausesInsteadOfDropping)
{
    // The same incast on a small shared buffer: lossy drops, lossless (PFC on priority 0, the
    // data class's) pauses and drops nothing; both deliver every byte.
    Json c = Incast("shared");
    c["switch"]["buffer"]["size"] = "1MiB";
    uint64_t drops[2];
    uint64_t pauses[2];
    double paused[2];
    for (int lossless = 0; lossless < 2; ++lossless)
    {
        c["switch"]["buffer"]["lossless_priorities"] = lossless ? Json::array({0}) : Json::array();
        Scenario sc(c);
        sc.Build();
        EXPECT_TRUE(sc.Run());
        const Json s = sc.MakeSummary();
        Ptr<FabricTopology> topo = sc.GetTopology();
        for (uint32_t i = 0; i < topo->GetSpec().nodes.size(); ++i)
        {
            if (Ptr<FabricSwitch> sw = topo->GetSwitch(i))
            {
                EXPECT_EQ(DynamicCast<SharedBufferMmu>(sw->GetAdmission())->CheckAccounting(), "");
            }
        }
        double longest = 0;
        for (const auto& dev : topo->GetAllDevices())
        {
            longest = std::max(longest, dev->GetPfcCounters().TotalPausedPs() * 1e-12);
        }
        Simulator::Destroy();
        drops[lossless] = s["fabric"]["drops"].get<uint64_t>();
        pauses[lossless] = s["fabric"]["pfc_pauses"].get<uint64_t>();
        paused[lossless] = s["fabric"]["pfc_paused_s"].get<double>();
        EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 15 * 256 * 1024);
        // The longest-paused single port: within each tier's sum, the fabric's the tiers' max,
        // the ports' own maximum.
        double tiersMax = 0;
        for (const auto& [name, tier] : s["fabric"]["tiers"].items())
        {
            const double one = tier["pfc_max_port_paused_s"].get<double>();
            EXPECT_LE(one, tier["pfc_paused_s"].get<double>()) << name;
            tiersMax = std::max(tiersMax, one);
        }
        EXPECT_DOUBLE_EQ(s["fabric"]["pfc_max_port_paused_s"].get<double>(), tiersMax);
        EXPECT_DOUBLE_EQ(tiersMax, longest);
        EXPECT_EQ(longest > 0, lossless == 1);
        // Lossless traffic fills the lossless pool and, after XOFF, the headroom; lossy none.
        const Json& buffer = s["fabric"]["buffer"];
        EXPECT_EQ(buffer["peak_lossless_pool_bytes"].get<uint64_t>() > 0, lossless == 1);
        EXPECT_EQ(buffer["peak_headroom_bytes"].get<uint64_t>() > 0, lossless == 1);
        EXPECT_EQ(buffer["peak_lossless_pool_bytes"].get<uint64_t>() % 256, 0u); // whole cells
    }
    EXPECT_GT(drops[0], 0u);
    EXPECT_EQ(pauses[0], 0u);
    EXPECT_EQ(drops[1], 0u);
    EXPECT_GT(pauses[1], 0u);
    EXPECT_GT(paused[1], 0.0);
}

TEST(SwitchBuffer, AStuckRunNamesItsCyclicBufferDependency)
{
    // Pause, forever, both directions of one edge-aggregation link in the middle of an
    // all-to-all (as a PFC deadlock would): the queues on either side fill and wait for each
    // other. The run cannot complete, and the diagnosis names the two switches.
    Json c = Incast("shared");
    c["simulation"]["stop_time"] = "2ms";
    Scenario sc(c);
    sc.Build();
    Ptr<FabricTopology> topo = sc.GetTopology();
    Ptr<FabricRouting> routing = topo->GetRouting();
    const auto& nodes = topo->GetSpec().nodes;
    uint32_t edge = 0;
    while (nodes[edge].role != TopologySpec::SWITCH || nodes[edge].level != 1)
    {
        ++edge;
    }
    uint32_t up = 0;
    while (nodes[routing->GetPeer(edge, up)].level != 2)
    {
        ++up;
    }
    const uint32_t agg = routing->GetPeer(edge, up);
    uint32_t down = 0;
    while (routing->GetPeer(agg, down) != edge)
    {
        ++down;
    }
    Simulator::Schedule(MicroSeconds(5), [&]() {
        topo->GetPort(edge, up)->SetPaused(0, true);
        topo->GetPort(agg, down)->SetPaused(0, true);
    });
    EXPECT_FALSE(sc.Run());
    const Json d = sc.MakeSummary()["sim"]["diagnosis"];
    Simulator::Destroy();
    EXPECT_GT(d["pending_messages"].get<uint64_t>(), 0u);
    EXPECT_EQ(d["paused_queues"].size(), 2u);
    std::set<std::string> cycle;
    for (const auto& n : d["dependency_cycle"])
    {
        cycle.insert(n.get<std::string>());
    }
    EXPECT_EQ(cycle, (std::set<std::string>{nodes[edge].name, nodes[agg].name}));
}

TEST(SwitchBuffer, SchedulerAndWatchdogKeysReachEveryPort)
{
    Json c = Incast("shared");
    c["switch"]["buffer"]["lossless_priorities"] = Json::array({0});
    c["switch"]["scheduler"] =
        Json::parse(R"({"type": "dwrr", "weights": [3, 1, 1, 1, 1, 1, 1, 1]})");
    c["switch"]["pfc"]["watchdog"] = Json::parse(R"({"timeout": "1ms", "action": "ignore"})");
    Scenario sc(c);
    sc.Build();
    Ptr<FabricTopology> topo = sc.GetTopology();
    for (Ptr<FabricNetDevice> dev : topo->GetAllDevices())
    {
        EXPECT_EQ(dev->GetScheduler(), "dwrr");
        EXPECT_EQ(dev->GetPfcWatchdogAction(), "ignore");
    }
    EXPECT_TRUE(sc.Run());
    const Json s = sc.MakeSummary();
    Simulator::Destroy();
    EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 15 * 256 * 1024);
    EXPECT_EQ(s["fabric"]["drops"].get<uint64_t>(), 0u);

    Json bad = Incast("shared");
    bad["switch"]["scheduler"] = Json::parse(R"({"type": "dwrr", "weights": [1, 2]})");
    try
    {
        Scenario wrong(bad);
        ADD_FAILURE() << "7 weights missing were accepted";
    }
    catch (const ConfigError& e)
    {
        EXPECT_EQ(std::string(e.what()).rfind("switch.scheduler.weights:", 0), 0u) << e.what();
    }
}

TEST(SwitchBuffer, PresetAndCarvingKeysReachEveryMmu)
{
    // switch.buffer.preset sets the size; alpha per priority, static XOFF, ingress reserve,
    // shared headroom and the lossless share reach each switch's MMU as attributes.
    Json c = Incast("shared");
    c["switch"]["buffer"]["preset"] = "spectrum-2";
    c["switch"]["buffer"]["alpha"] = {0.5, 1, 2, 4, 8, 1, 1, 1};
    c["switch"]["buffer"]["lossless_priorities"] = {3};
    c["switch"]["buffer"]["xoff"] = "200KiB";
    c["switch"]["buffer"]["ingress_reserved"] = 2048;
    c["switch"]["buffer"]["shared_headroom"] = "2MiB";
    c["switch"]["buffer"]["lossless_pool_fraction"] = 0.25;
    Scenario sc(c);
    EXPECT_EQ(sc.GetEffectiveConfig()["switch"]["buffer"]["size"], 42u << 20);
    sc.Build();
    Ptr<FabricTopology> topo = sc.GetTopology();
    uint32_t checked = 0;
    for (uint32_t i = 0; i < topo->GetSpec().nodes.size(); ++i)
    {
        Ptr<FabricSwitch> sw = topo->GetSwitch(i);
        if (!sw)
        {
            continue;
        }
        auto mmu = DynamicCast<SharedBufferMmu>(sw->GetAdmission());
        ASSERT_TRUE(mmu);
        auto attr = [&mmu](const std::string& name) {
            StringValue v;
            mmu->GetAttribute(name, v);
            return v.Get();
        };
        UintegerValue u;
        mmu->GetAttribute("BufferSize", u);
        EXPECT_EQ(u.Get(), 42u << 20);
        EXPECT_EQ(attr("Alpha"), "0.5,1,2,4,8,1,1,1");
        mmu->GetAttribute("XoffBytes", u);
        EXPECT_EQ(u.Get(), 200u * 1024);
        mmu->GetAttribute("IngressReservedBytes", u);
        EXPECT_EQ(u.Get(), 2048u);
        EXPECT_EQ(mmu->GetXoffCells(), 800u);
        ++checked;
    }
    EXPECT_EQ(checked, 20u);
    Simulator::Destroy();
    // Bad values name their key.
    auto error = moe_test::ScenarioConfigError;
    Json bad = Incast("shared");
    bad["switch"]["buffer"]["preset"] = "tomahawk";
    EXPECT_EQ(error(bad).rfind("switch.buffer.preset:", 0), 0u) << error(bad);
    bad = Incast("shared");
    bad["switch"]["buffer"]["alpha"] = {1, 2};
    EXPECT_EQ(error(bad).rfind("switch.buffer.alpha:", 0), 0u) << error(bad);
    bad["switch"]["buffer"]["alpha"] = {1, 1, 1, 1, 1, 1, 1, 0};
    EXPECT_EQ(error(bad).rfind("switch.buffer.alpha[7]:", 0), 0u) << error(bad);
    bad = Incast("shared");
    bad["switch"]["buffer"]["lossless_priorities"] = {3};
    bad["switch"]["buffer"]["lossless_pool_fraction"] = 0;
    EXPECT_EQ(error(bad).rfind("switch.buffer.lossless_pool_fraction:", 0), 0u) << error(bad);
    bad["switch"]["buffer"]["lossless_pool_fraction"] = 0.5;
    bad["switch"]["buffer"]["xoff"] = "64MiB";
    EXPECT_EQ(error(bad).rfind("switch.buffer.xoff:", 0), 0u) << error(bad);
}

TEST(SwitchBuffer, PartitionedBuffersLimitEachPipelineAndDrain)
{
    // The incast with 4 MiB per switch, whole or split in 4 partitions (1 MiB each, by ingress
    // port group): split, no partition ever holds more than its 1 MiB, every byte still
    // arrives, and the switches' accounting drains.
    Json c = Incast("shared");
    c["switch"]["buffer"]["size"] = "4MiB";
    uint64_t drops[2];
    for (int split = 0; split < 2; ++split)
    {
        c["switch"]["buffer"]["partitions"] = split ? 4 : 1;
        Scenario sc(c);
        sc.Build();
        EXPECT_TRUE(sc.Run());
        const Json s = sc.MakeSummary();
        Ptr<FabricTopology> topo = sc.GetTopology();
        uint32_t partitioned = 0;
        for (uint32_t i = 0; i < topo->GetSpec().nodes.size(); ++i)
        {
            Ptr<FabricSwitch> sw = topo->GetSwitch(i);
            if (!sw)
            {
                continue;
            }
            if (auto parts = DynamicCast<PartitionedBufferMmu>(sw->GetAdmission()))
            {
                ++partitioned;
                EXPECT_EQ(parts->GetNPartitions(), 4u);
                EXPECT_EQ(parts->CheckAccounting(), "");
                for (uint32_t p = 0; p < 4; ++p)
                {
                    EXPECT_LE(parts->GetPartition(p)->GetPeakUsedCells() * 256, 1u << 20);
                }
            }
        }
        EXPECT_EQ(partitioned, split ? 20u : 0u);
        drops[split] = s["fabric"]["drops"].get<uint64_t>();
        EXPECT_EQ(s["messages"]["bytes_delivered"].get<uint64_t>(), 16u * 15 * 256 * 1024);
        Simulator::Destroy();
    }
    std::cout << "drops: one 4 MiB buffer " << drops[0] << ", four 1 MiB partitions " << drops[1]
              << "\n";
    EXPECT_GT(drops[1], drops[0]) << "a flow can use only its pipeline's share";
    RecordProperty("drops_whole", static_cast<int>(drops[0]));
    RecordProperty("drops_partitioned", static_cast<int>(drops[1]));
}
