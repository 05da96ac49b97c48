/*
 * The TCP transport: ns-3's Internet stack and TCP variants over the fabric's devices and
 * switches. Exact delivery of framed messages, DCTCP reacting to step ECN marking, incast, a
 * NewReno/DCTCP queue comparison, configuration errors, and MoE runs on TCP.
 */
#include "test-util.h"

#include "ns3/fabric-config-error.h"
#include "ns3/fabric-helper.h"
#include "ns3/fabric-host.h"
#include "ns3/fabric-stats.h"
#include "ns3/fabric-switch.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/moe-config-reader.h"
#include "ns3/moe-scenario.h"
#include "ns3/shared-buffer-mmu.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/tcp-socket-base.h"
#include "ns3/tcp-transport.h"
#include "ns3/uinteger.h"

#include <gtest/gtest.h>
#include <map>
#include <sstream>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{
constexpr uint64_t RATE_BPS = 100000000000ull; // 100 Gb/s

/// Records deliveries and acknowledgements by message id.
struct Recorder
{
    std::map<uint64_t, MessageRecord> delivered;
    std::map<uint64_t, MessageRecord> acked;
    uint32_t duplicates{0};
    std::map<uint64_t, uint64_t> lastIdOfFlow; ///< (src, dst, cls) -> last delivered id
    uint32_t outOfOrder{0};

    void Attach(Ptr<MessageTransport> t)
    {
        t->SetDeliveredCallback(MakeCallback(&Recorder::OnDelivered, this));
        t->SetAckedCallback(MakeCallback(&Recorder::OnAcked, this));
    }

    void OnDelivered(const MessageRecord& r)
    {
        duplicates += delivered.count(r.id) ? 1 : 0;
        delivered[r.id] = r;
        const uint64_t flow = (static_cast<uint64_t>(r.src) << 32) | (r.dst << 3) | r.cls;
        if (lastIdOfFlow.count(flow) && lastIdOfFlow[flow] > r.id)
        {
            ++outOfOrder;
        }
        lastIdOfFlow[flow] = r.id;
    }

    void OnAcked(const MessageRecord& r)
    {
        duplicates += acked.count(r.id) ? 1 : 0;
        acked[r.id] = r;
    }
};

/// A star: one switch, @p gpus GPUs on 100 Gb/s, 1 us links.
TopologySpec
Star(uint32_t gpus)
{
    TopologySpec spec;
    spec.type = "star";
    const uint32_t tier = spec.Tier("host-edge");
    std::vector<uint32_t> hosts;
    for (uint32_t g = 0; g < gpus; ++g)
    {
        hosts.push_back(spec.AddHost(g, 0));
    }
    const uint32_t sw = spec.AddNode(TopologySpec::SWITCH, "edge0", 1);
    for (uint32_t h : hosts)
    {
        spec.AddLink(h, sw, tier, RATE_BPS, 1000000);
    }
    return spec;
}

/// Lossy shared-buffer star of @p bufferBytes marking ECN with a step threshold at @p k bytes
/// (k = 0: no marking).
Ptr<FabricTopology>
BuildStar(uint32_t gpus, uint64_t bufferBytes, uint64_t k)
{
    FabricHelper fabric;
    fabric.SetSeed(1);
    fabric.SetSwitchAdmission("ns3::moe::SharedBufferMmu");
    fabric.SetSwitchAdmissionAttribute("BufferSize", UintegerValue(bufferBytes));
    fabric.SetSwitchAdmissionAttribute("LosslessPriorities", UintegerValue(0));
    fabric.SetSwitchAdmissionAttribute("EcnPriorities", UintegerValue(k == 0 ? 0 : 0xff));
    if (k != 0)
    {
        fabric.SetSwitchAdmissionAttribute("EcnKminBytes", StringValue(std::to_string(k)));
        fabric.SetSwitchAdmissionAttribute("EcnKmaxBytes", StringValue(std::to_string(k)));
        fabric.SetSwitchAdmissionAttribute("EcnPmax", StringValue("1"));
    }
    return fabric.Install(Star(gpus));
}

Ptr<TcpTransport>
InstallTcp(Ptr<FabricTopology> topo, const std::string& variant)
{
    Ptr<TcpTransport> tcp = CreateObject<TcpTransport>();
    tcp->SetAttribute("Variant", StringValue(variant));
    tcp->Install(topo);
    return tcp;
}

/// Result of an incast: senders 1..n-1 each send @p bytes to GPU 0 at time 0.
struct IncastResult
{
    uint64_t bytesDelivered{0};
    uint32_t messagesDelivered{0};
    uint64_t peakQueueBytes{0}; ///< switch port towards GPU 0
    uint64_t drops{0};
    uint64_t ecnMarks{0};
    TcpCounters counters;
    double completionUs{0};
};

IncastResult
RunIncast(const std::string& variant,
          uint32_t gpus,
          uint64_t bytes,
          uint64_t bufferBytes,
          uint64_t k)
{
    Ptr<FabricTopology> topo = BuildStar(gpus, bufferBytes, k);
    Ptr<TcpTransport> tcp = InstallTcp(topo, variant);
    Recorder rec;
    rec.Attach(tcp);
    for (uint32_t s = 1; s < gpus; ++s)
    {
        tcp->Send(s, 0, 0, bytes, s);
    }
    Simulator::Stop(Seconds(1));
    Simulator::Run();
    IncastResult r;
    r.messagesDelivered = static_cast<uint32_t>(rec.delivered.size());
    for (const auto& [id, m] : rec.delivered)
    {
        r.bytesDelivered += m.bytes;
        r.completionUs = std::max(r.completionUs, m.delivered.GetSeconds() * 1e6);
    }
    Ptr<FabricNetDevice> toSink = topo->GetPort(gpus, 0); // the switch is node `gpus`
    r.peakQueueBytes = toSink->GetCounters().maxQueueBytes;
    for (const TierStats& t : FabricStats(topo).CollectTiers())
    {
        r.drops += t.TotalDrops();
    }
    Ptr<FabricSwitch> sw = topo->GetSwitch(gpus);
    r.ecnMarks = DynamicCast<SharedBufferMmu>(sw->GetAdmission())->GetEcnMarks();
    r.counters = tcp->GetCounters();
    Simulator::Destroy();
    return r;
}
} // namespace

TEST(TcpTransport, MessagesOfEverySizeArriveOnceWithExactBytes)
{
    // k = 4 fat-tree (16 GPUs, 100 Gb/s), DCTCP without marking switches (tail-drop,
    // unlimited): 0 B .. 3 MiB messages, several per connection, several classes, one pair
    // within an edge, others across pods; both directions at once.
    FatTreeHelper ft;
    ft.SetK(4);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    Ptr<TcpTransport> tcp = InstallTcp(topo, "dctcp");
    Recorder rec;
    rec.Attach(tcp);
    const std::vector<uint64_t> sizes{0, 1, 15, 16, 17, 4095, 4096, 4097, 100000, 3 << 20};
    const std::vector<std::pair<uint32_t, uint32_t>> pairs{{0, 1}, {1, 0}, {0, 15}, {7, 8}};
    std::map<uint64_t, uint64_t> sizeOf;
    uint64_t total = 0;
    for (const auto& [s, d] : pairs)
    {
        for (uint8_t cls : {0, 3})
        {
            for (uint64_t b : sizes)
            {
                const uint64_t id = tcp->Send(s, d, cls, b, b);
                sizeOf[id] = b;
                total += b;
            }
        }
    }
    // A second burst later, on a pair not used yet (a ninth connection, opened mid-run).
    Simulator::Schedule(MicroSeconds(50), [&]() {
        for (uint64_t b : {uint64_t{5}, uint64_t{70000}})
        {
            const uint64_t id = tcp->Send(3, 12, 0, b, b);
            sizeOf[id] = b;
            total += b;
        }
    });
    Simulator::Stop(Seconds(1));
    Simulator::Run();
    EXPECT_EQ(rec.delivered.size(), sizeOf.size());
    EXPECT_EQ(rec.acked.size(), sizeOf.size());
    EXPECT_EQ(rec.duplicates, 0u);
    EXPECT_EQ(rec.outOfOrder, 0u);
    for (const auto& [id, bytes] : sizeOf)
    {
        ASSERT_TRUE(rec.delivered.count(id)) << "message " << id;
        const MessageRecord& m = rec.delivered.at(id);
        EXPECT_EQ(m.bytes, bytes);
        EXPECT_EQ(m.tag, bytes);
        EXPECT_GE(m.firstByte, m.start);
        EXPECT_GE(m.delivered, m.firstByte);
        EXPECT_GE(rec.acked.at(id).acked, m.delivered);
    }
    EXPECT_EQ(tcp->GetBytesDelivered(), total);
    EXPECT_EQ(tcp->GetMessagesDelivered(), sizeOf.size());
    const TcpCounters& c = tcp->GetCounters();
    EXPECT_EQ(c.connections, 9u); // 4 pairs x 2 classes + (3, 12, 0)
    EXPECT_EQ(c.retransmittedSegments, 0u);
    EXPECT_EQ(c.timeouts, 0u);
    // 3 MiB on one connection at 100 Gb/s takes > 250 us; the whole run stays well under 10 ms.
    const double lastUs = rec.delivered.rbegin()->second.delivered.GetSeconds() * 1e6;
    EXPECT_LT(lastUs, 10000.0);
    // Frames are real: the switches forwarded IPv4 with DSCP = priority (class 3 -> CS3).
    Ptr<TcpSocketBase> s3 = tcp->GetSenderSocket(0, 1, 3);
    ASSERT_TRUE(s3);
    EXPECT_EQ(s3->GetIpTos() >> 2, DscpForPriority(3));
    const FabricPortCounters& nic0 = topo->GetHost(0)->GetPort(0)->GetCounters();
    EXPECT_GT(nic0.maxQueueBytesPerPriority[3], 0u);
    EXPECT_GT(nic0.maxQueueBytesPerPriority[0], 0u);
    Simulator::Destroy();
}

TEST(TcpTransport, DctcpSeesStepMarksAndCutsItsWindow)
{
    // 4:1 incast of 2 MiB per sender into a 4 MiB lossy shared buffer marking CE above
    // K = 60 KB (step: kmin = kmax, pmax = 1).
    constexpr uint64_t K = 60000;
    const IncastResult r = RunIncast("dctcp", 5, 2 << 20, 4 << 20, K);
    std::cout << "dctcp 4:1: peak queue " << r.peakQueueBytes << " B, " << r.ecnMarks << " marks, "
              << r.counters.ceFrames << " CE frames, " << r.counters.eceAcks << " ECE ACKs, "
              << r.counters.cwrSegments << " CWR, " << r.counters.cwndReductions
              << " cwnd reductions, " << r.counters.retransmittedSegments << " retransmitted, "
              << r.drops << " drops, done at " << r.completionUs << " us\n";
    EXPECT_EQ(r.messagesDelivered, 4u);
    EXPECT_EQ(r.bytesDelivered, 4u * (2 << 20));
    EXPECT_GT(r.ecnMarks, 0u);
    EXPECT_GT(r.counters.ceFrames, 0u);
    EXPECT_GT(r.counters.eceAcks, 0u);
    EXPECT_GT(r.counters.cwrSegments, 0u);
    EXPECT_GT(r.counters.cwndReductions, 0u);
    EXPECT_EQ(r.drops, 0u);
    // The queue stays near K, far below what the buffer would allow.
    EXPECT_LT(r.peakQueueBytes, 4 * K);
    // 8 MiB through one 100 Gb/s port: >= 671 us; DCTCP keeps it busy.
    EXPECT_LT(r.completionUs, 671.0 * 1.3);
}

TEST(TcpTransport, IncastDeliversEveryByte)
{
    // 15:1 incast of 1 MiB each, NewReno, into a 1 MiB lossy buffer: drops and retransmissions,
    // yet every byte arrives.
    const IncastResult r = RunIncast("newreno", 16, 1 << 20, 1 << 20, 0);
    std::cout << "newreno 15:1: " << r.drops << " drops, " << r.counters.retransmittedSegments
              << " retransmitted, " << r.counters.timeouts << " timeouts, "
              << r.counters.fastRecoveries << " fast recoveries, done at " << r.completionUs
              << " us\n";
    EXPECT_EQ(r.messagesDelivered, 15u);
    EXPECT_EQ(r.bytesDelivered, 15u * (1 << 20));
    EXPECT_GT(r.drops, 0u);
    EXPECT_GT(r.counters.retransmittedSegments, 0u);
}

TEST(TcpTransport, HostQueueAdmitsTheStacksOwnFrames)
{
    // The TCP stack's frames enter the host's queue through its admission, like relayed and
    // control frames: with an 8 KiB host queue limit the initial window overflows it, the
    // drops are counted at the host's port, TCP recovers, and every admitted byte is released
    // again (dequeue once released frames that were never admitted: the occupancy wrapped
    // below zero, and a limited host queue then refused everything).
    FabricHelper fabric;
    fabric.SetSeed(1);
    fabric.SetHostAdmissionAttribute("QueueLimit", UintegerValue(8 << 10));
    Ptr<FabricTopology> topo = fabric.Install(Star(2));
    Ptr<TcpTransport> tcp = InstallTcp(topo, "newreno");
    Recorder rec;
    rec.Attach(tcp);
    tcp->Send(1, 0, 0, 1 << 20, 1);
    Simulator::Stop(Seconds(1));
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    EXPECT_EQ(rec.delivered.begin()->second.bytes, 1u << 20);
    const FabricPortCounters& nic = topo->GetHost(1)->GetPort(0)->GetCounters();
    EXPECT_GT(nic.dropFrames[static_cast<size_t>(DropReason::EGRESS_QUEUE_FULL)], 0u);
    EXPECT_GT(tcp->GetCounters().retransmittedSegments, 0u);
    for (const uint32_t gpu : {0u, 1u})
    {
        const Ptr<FabricAdmission> adm = topo->GetHost(gpu)->GetAdmission();
        for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
        {
            EXPECT_EQ(DynamicCast<TailDropAdmission>(adm)->GetOccupancy(0, p), 0u)
                << "GPU " << gpu << " priority " << int(p);
        }
    }
    Simulator::Destroy();
}

TEST(TcpTransport, EveryVariantCarriesALossyIncast)
{
    // Every offered variant (transport.variant) builds its sockets and recovers from drops: a
    // 7:1 incast of 256 KiB each into a 256 KiB buffer. BBR aborted at socket creation before
    // (it set a pacing attribute ns-3.37's TcpSocketBase does not have).
    std::vector<std::string> variants;
    std::istringstream names(TcpTransport::VariantNames()); // "dctcp, newreno, ..."
    for (std::string name; std::getline(names >> std::ws, name, ',');)
    {
        variants.push_back(name);
    }
    ASSERT_EQ(variants.size(), 14u) << TcpTransport::VariantNames();
    for (const std::string& variant : variants)
    {
        const IncastResult r = RunIncast(variant, 8, 256 << 10, 256 << 10, 0);
        EXPECT_EQ(r.messagesDelivered, 7u) << variant;
        EXPECT_EQ(r.bytesDelivered, 7u * (256 << 10)) << variant;
        EXPECT_GT(r.drops, 0u) << variant;
    }
}

TEST(TcpTransport, DctcpKeepsTheIncastQueueFarBelowNewReno)
{
    // The same 8:1 incast of 1 MiB each into a 4 MiB lossy shared buffer; switches mark above
    // 60 KB for DCTCP, and do not mark for NewReno (which ignores ECN anyway).
    const IncastResult reno = RunIncast("newreno", 9, 1 << 20, 4 << 20, 0);
    const IncastResult dctcp = RunIncast("dctcp", 9, 1 << 20, 4 << 20, 60000);
    std::cout << "8:1 peak queue: newreno " << reno.peakQueueBytes << " B (" << reno.drops
              << " drops), dctcp " << dctcp.peakQueueBytes << " B (" << dctcp.drops
              << " drops); completion " << reno.completionUs << " vs " << dctcp.completionUs
              << " us\n";
    EXPECT_EQ(reno.bytesDelivered, 8u * (1 << 20));
    EXPECT_EQ(dctcp.bytesDelivered, 8u * (1 << 20));
    EXPECT_GT(reno.peakQueueBytes, 4 * dctcp.peakQueueBytes);
}

TEST(TcpTransport, BadSettingsAreConfigErrors)
{
    auto expectError =
        [](const std::string& transport, const std::string& path, const std::string& text) {
            // Shared-buffer switches mark ECN, so DCTCP is the default variant.
            Json config = Json::parse(R"({"topology": {"type": "fat-tree", "k": 4},
                                          "switch": {"buffer": {"type": "shared"}}})");
            config["transport"] = Json::parse(transport);
            Json effective;
            try
            {
                ParseScenario(config, effective);
                ADD_FAILURE() << transport << ": accepted";
            }
            catch (const ConfigError& e)
            {
                const std::string what = e.what();
                EXPECT_NE(what.find(path), std::string::npos) << what;
                EXPECT_NE(what.find(text), std::string::npos) << what;
            }
        };
    expectError(R"({"type": "tcp", "variant": "reno2"})",
                "transport.variant",
                "accepted: dctcp, newreno, linux-reno, cubic");
    expectError(R"({"type": "tcp", "ecn": false})", "transport.ecn", "needs ECN");
    expectError(R"({"type": "tcp", "min_rto": "0s"})", "transport.min_rto", "");
    expectError(R"({"type": "tcp", "initial_cwnd": 0})", "transport.initial_cwnd", "");
    expectError(R"({"type": "tcp", "send_buffer": 1000})", "transport.send_buffer", "");
    expectError(R"({"type": "tcp", "recv_buffer": "2GiB"})", "transport.recv_buffer", "");
    expectError(R"({"type": "tcp", "delayed_ack_count": 0})", "transport.delayed_ack_count", "");
    expectError(R"({"type": "tcp", "dctcp_g": 2})", "transport.dctcp_g", "");
    expectError(R"({"type": "tcp", "variant": "cubic", "dctcp_g": 0.5})", "transport.dctcp_g", "");
    expectError(R"({"type": "tcp", "ack_interval": 2})", "transport.ack_interval", "");
    expectError(R"({"type": "udp"})", "transport.type", "\"tcp\"");
    // DCTCP where no switch marks (tail-drop, or ECN off) would silently fall back to loss-driven
    // control: an error; the default there is NewReno.
    for (const char* sw : {R"({"buffer": {"type": "tail-drop"}})",
                           R"({"buffer": {"type": "shared"}, "ecn": {"enabled": false}})"})
    {
        Json config = Json::parse(R"({"topology": {"type": "fat-tree", "k": 4},
                                      "transport": {"type": "tcp", "variant": "dctcp"}})");
        config["switch"] = Json::parse(sw);
        EXPECT_EQ(moe_test::ScenarioConfigError(config),
                  "transport.variant: \"dctcp\" reacts to ECN marks and no switch marks: set "
                  "switch.buffer.type \"shared\" (marking with switch.ecn, on by default); "
                  "accepted without marking: every other variant, e.g. \"newreno\" (the default "
                  "then), \"cubic\"")
            << sw;
        config["transport"].erase("variant");
        Json effective;
        ParseScenario(config, effective);
        EXPECT_EQ(effective["transport"]["variant"], "newreno") << sw;
    }
    // The CLI exits with 2.
    const std::string sim = SimBinary();
    ASSERT_FALSE(sim.empty());
    const CommandResult r =
        RunCommand(sim + " --config=" + SourcePath("examples/configs/fat-tree-k4.json") +
                   " --set=transport.type=tcp --set=transport.variant=reno2");
    EXPECT_EQ(r.exitCode, 2) << r.output;
    EXPECT_NE(r.output.find("transport.variant"), std::string::npos) << r.output;
}

TEST(TcpTransport, AllToAllScenarioRunsOnTcp)
{
    const std::string dir = MakeTempDir("tcp-a2a");
    Json config = Json::parse(R"({
      "seed": 1,
      "topology": {"type": "leaf-spine", "hosts_per_leaf": 4, "leaves": 2, "spines": 2},
      "switch": {"buffer": {"type": "shared"}, "ecn": {"kmin": "60KB", "kmax": "60KB", "pmax": 1}},
      "transport": {"type": "tcp", "variant": "dctcp"},
      "traffic": {"type": "all-to-all", "bytes_per_pair": "256KiB", "rounds": 2} })");
    Scenario sc(config);
    sc.Build(dir);
    EXPECT_TRUE(sc.Run());
    sc.WriteOutputs(dir);
    const Json summary = Json::parse(ReadFile(dir + "/summary.json"));
    EXPECT_EQ(summary["messages"]["delivered"], 2 * 8 * 7);
    EXPECT_EQ(summary["messages"]["bytes_delivered"], 2 * 8 * 7 * 256 * 1024);
    EXPECT_EQ(summary["transport"]["type"], "tcp");
    EXPECT_EQ(summary["transport"]["connections"], 8 * 7);
    std::cout << "all-to-all on dctcp: " << summary["transport"].dump() << "\n";
}

TEST(TcpTransport, MoeDecodeExampleRunsOnTcp)
{
    // The DeepSeek-V3 decode example (rail-optimized, 32 GPUs at 400 Gb/s, NVLink inside
    // servers) with --set transport.type=tcp, through the CLI, shrunk to one layer of 16 tokens
    // per GPU so that it takes seconds (the full example: 4 layers x 2 iterations of 128 tokens,
    // about a minute), on shared-buffer switches marking above 100 KB for DCTCP.
    const std::string sim = SimBinary();
    ASSERT_FALSE(sim.empty());
    const std::string dir = MakeTempDir("tcp-moe");
    const CommandResult r =
        RunCommand(sim + " --config=" + SourcePath("examples/configs/moe-deepseek-v3-decode.json") +
                   " --set=transport.type=tcp --set=workload.layers=1 --set=workload.iterations=1"
                   " --set=workload.tokens_per_gpu=16 --set=switch.buffer.type=shared"
                   " --set=switch.ecn.kmin=100KB --set=switch.ecn.kmax=100KB"
                   " --set=switch.ecn.pmax=1 --out=" +
                   dir);
    ASSERT_EQ(r.exitCode, 0) << r.output;
    const Json summary = Json::parse(ReadFile(dir + "/summary.json"));
    EXPECT_TRUE(summary["moe"]["complete"].get<bool>());
    EXPECT_EQ(summary["messages"]["started"], summary["messages"]["delivered"]);
    EXPECT_EQ(summary["messages"]["bytes_started"], summary["messages"]["bytes_delivered"]);
    EXPECT_EQ(summary["transport"]["variant"], "dctcp");
    std::cout << r.output;
}
