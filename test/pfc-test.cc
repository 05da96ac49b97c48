/*
 * 802.1Qbb PFC on the wire: frame layout, pause at the next frame boundary, expiry after
 * quanta x 512 bit times, refresh and resume, and a lossless incast through a shared-buffer
 * switch (zero drops) against the same incast lossy (drops, every byte still delivered).
 */
#include "test-util.h"

#include "ns3/boolean.h"
#include "ns3/fabric-channel.h"
#include "ns3/fabric-frame.h"
#include "ns3/fabric-helper.h"
#include "ns3/fabric-net-device.h"
#include "ns3/fabric-stats.h"
#include "ns3/rdma-transport.h"
#include "ns3/shared-buffer-mmu.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <gtest/gtest.h>
#include <vector>

using namespace ns3;
using namespace ns3::moe;

namespace
{
constexpr uint64_t RATE_BPS = 100000000000ull; // 100 Gb/s
/// A data frame: 4096 payload bytes + RoCE headers, 4178 bytes on the wire, 334.24 ns.
constexpr uint32_t DATA_FRAME = 4096 + ROCE_DATA_HEADER_BYTES;
constexpr int64_t DATA_TX_PS = 334240;
constexpr int64_t PFC_TX_PS = 6720; // 84 wire bytes (64 + preamble + IFG)
constexpr int64_t LINK_DELAY_PS = 1000000;

using PfcTestSink = moe_test::MacControlSink;

/// Two devices on one 100 Gb/s link with a 1 us delay, each with a consuming sink.
struct Link
{
    Ptr<FabricNetDevice> a;
    Ptr<FabricNetDevice> b;
    PfcTestSink sinkA;
    PfcTestSink sinkB;
    std::vector<std::pair<int64_t, uint32_t>> aTx; ///< (start ps, stored bytes) of a's frames
    std::vector<std::pair<int64_t, uint32_t>> bTx;

    Link()
    {
        FabricHelper::EnsurePicosecondResolution();
        Ptr<FabricChannel> channel = CreateObject<FabricChannel>();
        channel->SetDelay(PicoSeconds(LINK_DELAY_PS));
        a = CreateObject<FabricNetDevice>();
        b = CreateObject<FabricNetDevice>();
        for (auto [dev, sink, mac] : {std::make_tuple(a, &sinkA, GpuMacAddress(1, 0)),
                                      std::make_tuple(b, &sinkB, GpuMacAddress(2, 0))})
        {
            dev->SetDataRate(DataRate(RATE_BPS));
            dev->SetNode(CreateObject<Node>());
            dev->SetAddress(mac);
            dev->Attach(channel);
            sink->device = dev;
            dev->SetFrameSink(sink);
        }
        a->TraceConnectWithoutContext("PhyTxBegin", MakeBoundCallback(&Link::OnTx, &aTx));
        b->TraceConnectWithoutContext("PhyTxBegin", MakeBoundCallback(&Link::OnTx, &bTx));
    }

    static void OnTx(std::vector<std::pair<int64_t, uint32_t>>* log, Ptr<const Packet> p)
    {
        log->emplace_back(Simulator::Now().GetPicoSeconds(), p->GetSize());
    }

    /// Queue @p n data frames on priority 0 of @p dev.
    static void Fill(Ptr<FabricNetDevice> dev, uint32_t n)
    {
        for (uint32_t i = 0; i < n; ++i)
        {
            QueueEntry e;
            e.packet = Create<Packet>(DATA_FRAME);
            e.bytes = DATA_FRAME;
            e.priority = 0;
            dev->Enqueue(std::move(e));
        }
    }
};

/// At 1 us, b sends a's priority 0 one PFC frame of @p quanta as plain MAC control traffic
/// (nothing refreshes or resumes it); a's pause state changes are logged to @p log as (ps, paused).
void
SendOnePauseAndLog(Link& link, uint16_t quanta, std::vector<std::pair<int64_t, bool>>& log)
{
    PfcInfo pfc;
    pfc.enableVector = 0x01;
    pfc.quanta[0] = quanta;
    Ptr<Packet> payload = BuildPfcFrame(Mac48Address::ConvertFrom(link.b->GetAddress()), pfc);
    payload->RemoveAtStart(ETH_HEADER_BYTES);
    Ptr<FabricNetDevice> b = link.b;
    Simulator::Schedule(MicroSeconds(1), [b, payload] {
        b->Send(payload, Mac48Address("01:80:c2:00:00:01"), ETHERTYPE_MAC_CONTROL);
    });
    link.a->TraceConnectWithoutContext(
        "PauseState",
        MakeBoundCallback(
            +[](std::vector<std::pair<int64_t, bool>>* out, uint8_t, bool paused) {
                out->emplace_back(Simulator::Now().GetPicoSeconds(), paused);
            },
            &log));
}

/// A star: one shared-buffer switch, @p gpus GPUs on 100 Gb/s links with 100 ns delay.
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
        spec.AddLink(h, sw, tier, RATE_BPS, 100000);
    }
    return spec;
}

struct IncastResult
{
    uint64_t drops{0};
    uint64_t egressThresholdDrops{0};
    uint64_t headroomDrops{0};
    uint64_t pauses{0};
    uint64_t hostPauseEvents{0};
    double pausedSeconds{0};
    uint64_t bytesStarted{0};
    uint64_t bytesDelivered{0};
    uint32_t delivered{0};
    std::string accounting;
    std::string conservation;
    uint64_t queued{0};
    double finishUs{0};
    double victimUs{-1}; ///< delivery time of the victim message (tag 100)
};

struct IncastOptions
{
    bool lossless{true};
    uint64_t headroomBytes{0}; ///< 0: HeadroomAuto (sized by the MMU's formula)
    bool victim{false};        ///< GPU 1 also sends 512 KiB to GPU 9, which nobody else loads
};

/// 8 GPUs each send 256 KiB to GPU 0 through one switch with 600 KiB of shared buffer.
IncastResult
RunIncast(const IncastOptions& o)
{
    FabricHelper fabric;
    fabric.SetSwitchAdmission("ns3::moe::SharedBufferMmu");
    fabric.SetSwitchAdmissionAttribute("BufferSize", UintegerValue(600 * 1024));
    fabric.SetSwitchAdmissionAttribute("LosslessPriorities", UintegerValue(o.lossless ? 1 : 0));
    // The MMU is carved once with these before ConfigurePorts() reads the real links.
    fabric.SetSwitchAdmissionAttribute("HeadroomLinkRate", DataRateValue(DataRate(RATE_BPS)));
    fabric.SetSwitchAdmissionAttribute("HeadroomPropagationDelay", TimeValue(NanoSeconds(100)));
    if (o.headroomBytes != 0)
    {
        fabric.SetSwitchAdmissionAttribute("HeadroomAuto", BooleanValue(false));
        fabric.SetSwitchAdmissionAttribute("HeadroomBytes", UintegerValue(o.headroomBytes));
    }
    Ptr<FabricTopology> topo = fabric.Install(Star(10));
    Ptr<SharedBufferMmu> mmu;
    for (uint32_t i = 0; i < topo->GetNodes().GetN(); ++i)
    {
        if (Ptr<FabricSwitch> sw = topo->GetSwitch(i))
        {
            mmu = DynamicCast<SharedBufferMmu>(sw->GetAdmission());
        }
    }
    EXPECT_TRUE(mmu);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    IncastResult r;
    rdma->SetDeliveredCallback(MakeBoundCallback(
        +[](IncastResult* res, const MessageRecord& m) {
            if (m.tag == 100)
            {
                res->victimUs = m.delivered.GetSeconds() * 1e6;
            }
        },
        &r));
    for (uint32_t s = 1; s <= 8; ++s)
    {
        rdma->Send(s, 0, 0, 256 * 1024, s);
    }
    if (o.victim)
    {
        rdma->Send(1, 9, 0, 512 * 1024, 100);
    }
    Simulator::Run();
    r.finishUs = Simulator::Now().GetSeconds() * 1e6;
    FabricStats stats(topo);
    for (const auto& t : stats.CollectTiers())
    {
        r.drops += t.TotalDrops();
        r.pauses += t.pfcPauses;
        r.pausedSeconds += t.pfcPausedSeconds;
    }
    EXPECT_EQ(r.pauses, stats.GetPfcPauses());
    EXPECT_DOUBLE_EQ(r.pausedSeconds, stats.GetPfcPausedSeconds());
    for (uint32_t g = 1; g <= 8; ++g)
    {
        r.hostPauseEvents += topo->GetHost(g)->GetPort(0)->GetPfcCounters().TotalPauseEvents();
    }
    r.egressThresholdDrops = mmu->GetDrops(DropReason::EGRESS_THRESHOLD);
    r.headroomDrops = mmu->GetDrops(DropReason::HEADROOM_OVERFLOW);
    r.accounting = mmu->CheckAccounting();
    r.conservation = stats.CheckConservation();
    r.queued = stats.GetQueuedFrames();
    r.bytesStarted = rdma->GetBytesStarted();
    r.bytesDelivered = rdma->GetBytesDelivered();
    r.delivered = static_cast<uint32_t>(rdma->GetMessagesDelivered());
    Simulator::Destroy();
    return r;
}
} // namespace

TEST(Pfc, FrameIsThe8021QbbLayout)
{
    PfcInfo pfc;
    pfc.enableVector = 0x09; // priorities 0 and 3
    pfc.quanta[0] = 0xffff;
    pfc.quanta[3] = 0x1234;
    pfc.quanta[5] = 0x7777; // not in the vector: written as 0
    Ptr<Packet> frame = BuildPfcFrame(Mac48Address("02:4d:00:00:00:07"), pfc);
    ASSERT_EQ(frame->GetSize(), 60u);
    EXPECT_EQ(WireBytes(frame->GetSize()) - ETH_PREAMBLE_BYTES - ETH_IFG_BYTES, 64u);
    uint8_t b[60];
    frame->CopyData(b, 60);
    const uint8_t head[] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x01, // destination
                            0x02, 0x4d, 0x00, 0x00, 0x00, 0x07, // source
                            0x88, 0x08,                         // MAC Control
                            0x01, 0x01,                         // opcode: PFC
                            0x00, 0x09,                         // priority-enable vector
                            0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,  // quanta 0..3
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}; // quanta 4..7
    for (uint32_t i = 0; i < sizeof(head); ++i)
    {
        EXPECT_EQ(b[i], head[i]) << "byte " << i;
    }
    for (uint32_t i = sizeof(head); i < 60; ++i)
    {
        EXPECT_EQ(b[i], 0) << "padding byte " << i;
    }
    PfcInfo back;
    ASSERT_TRUE(ParsePfcFrame(frame, back));
    EXPECT_EQ(back.enableVector, 0x09);
    EXPECT_EQ(back.quanta[0], 0xffff);
    EXPECT_EQ(back.quanta[3], 0x1234);
    EXPECT_EQ(back.quanta[5], 0);
    FrameInfo info;
    ASSERT_TRUE(ParseFrame(frame, info));
    EXPECT_EQ(info.etherType, ETHERTYPE_MAC_CONTROL);
    // Not PFC: an IEEE 802.3x PAUSE (opcode 0x0001), and a short frame.
    b[15] = 0x01;
    b[14] = 0x00;
    EXPECT_FALSE(ParsePfcFrame(Create<Packet>(b, 60), back));
    EXPECT_FALSE(ParsePfcFrame(Create<Packet>(b, 20), back));
    // One quantum is 512 bit times: 0xffff quanta last 335.54 us at 100 Gb/s.
    EXPECT_EQ(PfcQuantaPs(0xffff, RATE_BPS), 335539200);
    EXPECT_EQ(PfcQuantaPs(1000, RATE_BPS), 5120000);
}

TEST(Pfc, PausedSenderStopsAtTheFrameBoundaryAndResumesAfterTheQuanta)
{
    Link link;
    link.a->SetAttribute("PfcResponseDelay", TimeValue(Time(0)));
    Link::Fill(link.a, 20);
    // At 1 us, b sends one PFC frame of 1000 quanta (5.12 us at 100 Gb/s) as plain MAC control
    // traffic, so that nothing refreshes or resumes it.
    std::vector<std::pair<int64_t, bool>> pauseState;
    SendOnePauseAndLog(link, 1000, pauseState);
    Simulator::Run();
    // The pause arrives at 1 us + 6.72 ns + 1 us = 2006.72 ns, during a's 7th frame (started
    // at 6 x 334.24 = 2005.44 ns), which completes; the 8th waits until 2006.72 + 5120 ns.
    const int64_t arrival = 1000000 + PFC_TX_PS + LINK_DELAY_PS;
    ASSERT_EQ(pauseState.size(), 2u);
    EXPECT_EQ(pauseState[0], std::make_pair(arrival, true));
    EXPECT_EQ(pauseState[1], std::make_pair(arrival + 5120000, false));
    ASSERT_EQ(link.aTx.size(), 20u);
    EXPECT_EQ(link.aTx[6].first, 6 * DATA_TX_PS);
    EXPECT_EQ(link.aTx[7].first, arrival + 5120000) << "resumes after 1000 x 512 / 100G";
    EXPECT_EQ(link.aTx[8].first, arrival + 5120000 + DATA_TX_PS);
    EXPECT_EQ(link.a->GetPfcCounters().framesReceived, 1u);
    EXPECT_EQ(link.a->GetPausedTime(0), PicoSeconds(5120000));
    EXPECT_EQ(link.sinkA.dataFrames, 0u) << "the PFC frame was consumed";
    EXPECT_EQ(link.sinkB.dataFrames, 20u);
    Simulator::Destroy();
}

TEST(Pfc, RequestedPauseGoesAheadOfDataIsRefreshedAndResumed)
{
    Link link;
    link.b->SetAttribute("PfcPauseQuanta", UintegerValue(1000)); // 5.12 us
    Link::Fill(link.a, 40);
    Link::Fill(link.b, 10);
    std::vector<std::pair<uint8_t, uint16_t>> sent;
    link.b->TraceConnectWithoutContext(
        "PfcSent",
        MakeBoundCallback(
            +[](std::vector<std::pair<uint8_t, uint16_t>>* log, uint8_t p, uint16_t q) {
                log->emplace_back(p, q);
            },
            &sent));
    Simulator::Schedule(NanoSeconds(1000), [&] { link.b->RequestPfc(0, true); });
    Simulator::Schedule(NanoSeconds(12000), [&] { link.b->RequestPfc(0, false); });
    Simulator::Run();
    // b is busy with its 3rd data frame at 1 us: the PFC frame starts at its end (3 x 334.24
    // ns = 1002.72 ns), ahead of the 7 frames still queued.
    ASSERT_GE(link.bTx.size(), 4u);
    EXPECT_EQ(link.bTx[3], std::make_pair(int64_t(3 * DATA_TX_PS), PFC_FRAME_BYTES));
    EXPECT_EQ(link.bTx[4].second, DATA_FRAME);
    // It takes effect at a after 6.72 ns + 1 us + the Annex 31B response time at 100 Gb/s (394
    // quanta = 2017.28 ns): 4026.72 ns. a's 13th frame (started at 4010.88 ns) completes.
    const Time response = link.a->GetPfcResponseDelay();
    EXPECT_EQ(response, PicoSeconds(2017280));
    // Refreshes: every 2.56 us (half of 5.12 us) after the previous pause frame left b, b's
    // data having drained by then (10 x 334.24 ns + 6.72 ns): 3562.72, 6122.72, 8682.72,
    // 11242.72 ns. The resume at 12 us (b idle) takes effect at 12000 + 6.72 + 1000 + 2017.28
    // = 15024 ns: a's 14th frame starts then, although the first pause alone would have
    // expired at 4026.72 + 5120 = 9146.72 ns.
    std::vector<int64_t> pfcTimes;
    for (const auto& [t, bytes] : link.bTx)
    {
        if (bytes == PFC_FRAME_BYTES)
        {
            pfcTimes.push_back(t);
        }
    }
    EXPECT_EQ(pfcTimes,
              (std::vector<int64_t>{1002720, 3562720, 6122720, 8682720, 11242720, 12000000}));
    ASSERT_EQ(sent.size(), 6u);
    for (int i = 0; i < 5; ++i)
    {
        EXPECT_EQ(sent[i], std::make_pair(uint8_t(0), uint16_t(1000))) << i;
    }
    EXPECT_EQ(sent[5], std::make_pair(uint8_t(0), uint16_t(0)));
    ASSERT_EQ(link.aTx.size(), 40u);
    EXPECT_EQ(link.aTx[12].first, 12 * DATA_TX_PS);
    EXPECT_EQ(link.aTx[13].first, 15024000);
    const FabricPfcCounters& bc = link.b->GetPfcCounters();
    EXPECT_EQ(bc.framesSent, 6u);
    EXPECT_EQ(bc.pausesSent[0], 5u);
    EXPECT_EQ(bc.resumesSent[0], 1u);
    const FabricPfcCounters& ac = link.a->GetPfcCounters();
    EXPECT_EQ(ac.framesReceived, 6u);
    EXPECT_EQ(ac.pauseEvents[0], 1u);
    EXPECT_EQ(ac.pausedPs[0], 15024000 - 4026720);
    EXPECT_EQ(link.sinkA.dataFrames, 10u);
    EXPECT_EQ(link.sinkB.dataFrames, 40u);
    Simulator::Destroy();
}

TEST(Pfc, LosslessIncastHasNoDropsAndLossyIncastDeliversEveryByte)
{
    IncastOptions o;
    const IncastResult lossless = RunIncast(o);
    EXPECT_EQ(lossless.drops, 0u);
    EXPECT_EQ(lossless.headroomDrops, 0u);
    EXPECT_GT(lossless.pauses, 0u);
    EXPECT_GT(lossless.hostPauseEvents, 0u) << "the senders' NICs obeyed pauses";
    EXPECT_GT(lossless.pausedSeconds, 0.0);
    EXPECT_EQ(lossless.delivered, 8u);
    EXPECT_EQ(lossless.bytesStarted, 8u * 256 * 1024);
    EXPECT_EQ(lossless.bytesDelivered, lossless.bytesStarted);
    EXPECT_EQ(lossless.accounting, "");
    EXPECT_EQ(lossless.conservation, "");
    EXPECT_EQ(lossless.queued, 0u);
    RecordProperty("lossless_pauses", static_cast<int>(lossless.pauses));
    RecordProperty("lossless_paused_us", static_cast<int>(lossless.pausedSeconds * 1e6));
    RecordProperty("lossless_finish_us", static_cast<int>(lossless.finishUs));

    o.lossless = false;
    const IncastResult lossy = RunIncast(o);
    EXPECT_GT(lossy.egressThresholdDrops, 0u);
    EXPECT_EQ(lossy.drops, lossy.egressThresholdDrops);
    EXPECT_EQ(lossy.pauses, 0u) << "no lossless priority: no PFC frame";
    EXPECT_EQ(lossy.delivered, 8u);
    EXPECT_EQ(lossy.bytesDelivered, lossy.bytesStarted);
    EXPECT_EQ(lossy.accounting, "");
    RecordProperty("lossy_drops", static_cast<int>(lossy.egressThresholdDrops));
    RecordProperty("lossy_finish_us", static_cast<int>(lossy.finishUs));
    std::cout << "lossless: pauses " << lossless.pauses << " paused "
              << lossless.pausedSeconds * 1e6 << " us, finish " << lossless.finishUs
              << " us; lossy: drops " << lossy.egressThresholdDrops << ", finish " << lossy.finishUs
              << " us\n";
}

TEST(Pfc, PausesSpreadToAVictimFlowSharingTheSendersPort)
{
    // GPU 1 sends 256 KiB into the incast at GPU 0 and 512 KiB to the idle GPU 9 from the same
    // NIC port and priority. Lossless, the switch pauses that port's priority 0 whenever GPU 1's
    // share of the incast crosses XOFF, so the victim flow to GPU 9 stalls too (head-of-line
    // blocking); lossy, only the congested flow suffers.
    IncastOptions o;
    o.victim = true;
    const IncastResult lossless = RunIncast(o);
    o.lossless = false;
    const IncastResult lossy = RunIncast(o);
    ASSERT_GT(lossless.victimUs, 0);
    ASSERT_GT(lossy.victimUs, 0);
    EXPECT_EQ(lossless.drops, 0u);
    EXPECT_GT(lossless.victimUs, 1.5 * lossy.victimUs);
    RecordProperty("victim_lossless_us", static_cast<int>(lossless.victimUs));
    RecordProperty("victim_lossy_us", static_cast<int>(lossy.victimUs));
    std::cout << "victim delivered at " << lossless.victimUs << " us lossless, " << lossy.victimUs
              << " us lossy\n";
}

TEST(Pfc, HeadroomFromTheFormulaCoversTheIncastAndAQuarterOfItOverflows)
{
    // The MMU's formula at 100 Gb/s, 100 ns, 4154-byte frames, 394-quanta response: the bytes
    // that still arrive after XOFF (the PFC frame waits for one frame, travels, the peer reacts
    // within the Annex 31B time and finishes its frame), which the devices model exactly.
    const uint64_t full =
        SharedBufferMmu::HeadroomBytes(RATE_BPS,
                                       100000,
                                       4096 + ROCE_DATA_HEADER_BYTES,
                                       SharedBufferMmu::PauseResponseBits(RATE_BPS));
    EXPECT_EQ(full, (8 * 4178 + 8 * 84 + 20000 + 394 * 512 + 8 * 4178) / 8);
    IncastOptions o;
    o.headroomBytes = full;
    const IncastResult sized = RunIncast(o);
    EXPECT_EQ(sized.headroomDrops, 0u);
    EXPECT_EQ(sized.drops, 0u);
    o.headroomBytes = full / 4;
    const IncastResult quarter = RunIncast(o);
    EXPECT_GT(quarter.headroomDrops, 0u);
    EXPECT_EQ(quarter.bytesDelivered, quarter.bytesStarted) << "retransmission recovers them";
    EXPECT_EQ(quarter.accounting, "");
    RecordProperty("headroom_bytes", static_cast<int>(full));
    RecordProperty("quarter_headroom_drops", static_cast<int>(quarter.headroomDrops));
    std::cout << "headroom " << full << " B: " << sized.headroomDrops << " drops; " << full / 4
              << " B: " << quarter.headroomDrops << " drops\n";
}

namespace
{
struct SlowReceiverResult
{
    uint64_t nicPausesSent{0};     ///< PFC pauses sent by GPU 0's NIC
    uint64_t senderPauseEvents{0}; ///< pauses GPU 1's NIC obeyed (spread through the switch)
    uint64_t rxBufferDrops{0};
    uint64_t otherDrops{0};
    uint64_t rxPeakBytes{0};
    uint64_t rxBufferBytes{0};
    uint64_t bytesStarted{0};
    uint64_t bytesDelivered{0};
    double finishUs{0}; ///< delivery of the message
    std::string accounting;
};

/// GPU 1 sends 1 MiB to GPU 0, whose host absorbs frames at 50 Gb/s from a 100 Gb/s link.
SlowReceiverResult
RunSlowReceiver(bool lossless)
{
    FabricHelper fabric;
    fabric.SetSwitchAdmission("ns3::moe::SharedBufferMmu");
    fabric.SetSwitchAdmissionAttribute("BufferSize", UintegerValue(600 * 1024));
    fabric.SetSwitchAdmissionAttribute("LosslessPriorities", UintegerValue(lossless ? 1 : 0));
    fabric.SetSwitchAdmissionAttribute("HeadroomLinkRate", DataRateValue(DataRate(RATE_BPS)));
    fabric.SetSwitchAdmissionAttribute("HeadroomPropagationDelay", TimeValue(NanoSeconds(100)));
    Ptr<FabricTopology> topo = fabric.Install(Star(2));
    Ptr<FabricHost> receiver = topo->GetHost(0);
    receiver->SetAttribute("RxDrainRate", DataRateValue(DataRate("50Gbps")));
    receiver->SetAttribute("RxLosslessPriorities", UintegerValue(lossless ? 1 : 0));
    Ptr<SharedBufferMmu> mmu;
    for (uint32_t i = 0; i < topo->GetNodes().GetN(); ++i)
    {
        if (Ptr<FabricSwitch> sw = topo->GetSwitch(i))
        {
            mmu = DynamicCast<SharedBufferMmu>(sw->GetAdmission());
        }
    }
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    SlowReceiverResult r;
    rdma->SetDeliveredCallback(MakeBoundCallback(
        +[](SlowReceiverResult* res, const MessageRecord& m) {
            res->finishUs = m.delivered.GetSeconds() * 1e6;
        },
        &r));
    rdma->Send(1, 0, 0, 1 << 20, 1);
    Simulator::Run();
    const FabricPfcCounters& nic = receiver->GetPort(0)->GetPfcCounters();
    r.nicPausesSent = nic.TotalPausesSent();
    r.senderPauseEvents = topo->GetHost(1)->GetPort(0)->GetPfcCounters().TotalPauseEvents();
    const FabricPortCounters& rx = receiver->GetPort(0)->GetCounters();
    r.rxBufferDrops = rx.dropFrames[static_cast<size_t>(DropReason::RX_BUFFER_FULL)];
    FabricStats stats(topo);
    for (const auto& t : stats.CollectTiers())
    {
        r.otherDrops += t.TotalDrops();
    }
    r.otherDrops -= r.rxBufferDrops;
    r.rxPeakBytes = receiver->GetRxPeakBytes();
    UintegerValue size;
    receiver->GetAttribute("RxBufferSize", size);
    r.rxBufferBytes = size.Get();
    r.bytesStarted = rdma->GetBytesStarted();
    r.bytesDelivered = rdma->GetBytesDelivered();
    r.accounting = mmu->CheckAccounting();
    EXPECT_TRUE(stats.IsIdle());
    EXPECT_EQ(receiver->GetRxBufferedFrames(), 0u);
    Simulator::Destroy();
    return r;
}
} // namespace

TEST(Pfc, SlowReceiverNicPausesTheSwitchAndThePauseSpreadsToTheSender)
{
    // 256 frames of 4178 bytes drain at 50 Gb/s: 171.1 us, the receiver's pace, lossless or not.
    const double drainUs = 256.0 * DATA_FRAME * 8 / 50e9 * 1e6;
    const SlowReceiverResult lossless = RunSlowReceiver(true);
    EXPECT_GT(lossless.nicPausesSent, 0u) << "the NIC sent PFC pauses";
    EXPECT_GT(lossless.senderPauseEvents, 0u) << "the switch's buffer filled and paused GPU 1";
    EXPECT_EQ(lossless.rxBufferDrops, 0u);
    EXPECT_EQ(lossless.otherDrops, 0u);
    EXPECT_LE(lossless.rxPeakBytes, lossless.rxBufferBytes);
    EXPECT_EQ(lossless.bytesDelivered, lossless.bytesStarted);
    EXPECT_EQ(lossless.accounting, "");
    EXPECT_GT(lossless.finishUs, drainUs);
    EXPECT_LT(lossless.finishUs, drainUs * 1.1);

    const SlowReceiverResult lossy = RunSlowReceiver(false);
    EXPECT_EQ(lossy.nicPausesSent, 0u);
    EXPECT_GT(lossy.rxBufferDrops, 0u) << "a lossy priority overflows the NIC's buffer";
    EXPECT_LE(lossy.rxPeakBytes, lossy.rxBufferBytes);
    EXPECT_EQ(lossy.bytesDelivered, lossy.bytesStarted) << "retransmission recovers them";
    EXPECT_GT(lossy.finishUs, lossless.finishUs);
    RecordProperty("lossless_nic_pauses", static_cast<int>(lossless.nicPausesSent));
    RecordProperty("lossless_finish_us", static_cast<int>(lossless.finishUs));
    RecordProperty("lossy_rx_buffer_drops", static_cast<int>(lossy.rxBufferDrops));
    RecordProperty("lossy_finish_us", static_cast<int>(lossy.finishUs));
    std::cout << "slow receiver: lossless " << lossless.nicPausesSent << " NIC pauses, "
              << lossless.senderPauseEvents << " sender pause events, finish " << lossless.finishUs
              << " us (drain " << drainUs << " us); lossy " << lossy.rxBufferDrops
              << " rx_buffer_full drops, finish " << lossy.finishUs << " us\n";
}

TEST(Pfc, LosslessFlowIntoASlowerLinkKeepsThatLinkBusy)
{
    // One 16 MiB flow from a 400 Gb/s host through a switch onto GPU 0's 100 Gb/s link, with
    // priority 0 lossless: the switch pauses the sender again and again, and must resume it
    // early enough (at XON, while frames still wait) that the 100 Gb/s link never idles. The
    // message then takes its serialization time on that link plus the path's latency.
    TopologySpec spec;
    spec.type = "star";
    const uint32_t tier = spec.Tier("host-edge");
    const uint32_t h0 = spec.AddHost(0, 0);
    const uint32_t h1 = spec.AddHost(1, 0);
    const uint32_t sw = spec.AddNode(TopologySpec::SWITCH, "edge0", 1);
    spec.AddLink(h0, sw, tier, RATE_BPS, 100000);
    spec.AddLink(h1, sw, tier, 4 * RATE_BPS, 100000);
    FabricHelper fabric;
    fabric.SetSwitchAdmission("ns3::moe::SharedBufferMmu");
    fabric.SetSwitchAdmissionAttribute("BufferSize", UintegerValue(4 << 20));
    fabric.SetSwitchAdmissionAttribute("LosslessPriorities", UintegerValue(1));
    Ptr<FabricTopology> topo = fabric.Install(spec);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    double deliveredUs = 0;
    rdma->SetDeliveredCallback(MakeBoundCallback(
        +[](double* t, const MessageRecord& m) { *t = m.delivered.GetSeconds() * 1e6; },
        &deliveredUs));
    const uint64_t bytes = 16 << 20;
    rdma->Send(1, 0, 0, bytes, 1);
    Simulator::Run();
    const uint64_t pauses = topo->GetHost(1)->GetPort(0)->GetPfcCounters().TotalPauseEvents();
    uint64_t drops = 0;
    for (const auto& t : FabricStats(topo).CollectTiers())
    {
        drops += t.TotalDrops();
    }
    Simulator::Destroy();
    const double frames = static_cast<double>(bytes / 4096);
    const double serializationUs = frames * WireBytes(DATA_FRAME) * 8 / 1e11 * 1e6;
    EXPECT_GT(pauses, 10u) << "the sender was paused repeatedly";
    EXPECT_EQ(drops, 0u);
    EXPECT_GT(deliveredUs, serializationUs);
    EXPECT_LT(deliveredUs, serializationUs * 1.005) << "the slow link idled between pauses";
    RecordProperty("delivered_us", static_cast<int>(deliveredUs));
    RecordProperty("sender_pause_events", static_cast<int>(pauses));
    std::cout << "16 MiB lossless 400G -> 100G: " << deliveredUs << " us (serialization "
              << serializationUs << " us), " << pauses << " pauses\n";
}

TEST(Pfc, PauseTimeRunsFromReceptionNotFromTheResponse)
{
    // As above with the default response delay (394 quanta = 2017.28 ns at 100 Gb/s): the
    // 1000-quanta pause stops a 2017.28 ns after it arrived, but its 5.12 us still count from
    // the arrival (802.3 Annex 31B), so a resumes at arrival + 5120 ns, paused 3102.72 ns.
    Link link;
    Link::Fill(link.a, 20);
    std::vector<std::pair<int64_t, bool>> pauseState;
    SendOnePauseAndLog(link, 1000, pauseState);
    Simulator::Run();
    const int64_t arrival = 1000000 + PFC_TX_PS + LINK_DELAY_PS;
    const int64_t response = link.a->GetPfcResponseDelay().GetPicoSeconds();
    ASSERT_EQ(response, 2017280);
    ASSERT_EQ(pauseState.size(), 2u);
    EXPECT_EQ(pauseState[0], std::make_pair(arrival + response, true));
    EXPECT_EQ(pauseState[1], std::make_pair(arrival + 5120000, false));
    EXPECT_EQ(link.a->GetPausedTime(0), PicoSeconds(5120000 - response));
    EXPECT_EQ(link.sinkB.dataFrames, 20u);
    Simulator::Destroy();
}

TEST(Pfc, FormulaHeadroomKeepsTheDefaultDecodeStepLossless)
{
    // The README's PFC variant of the default decode step: priority 0 lossless on shared
    // buffers, headroom sized from each link. The dynamic XOFF falls while other PGs fill the
    // lossless pool, so a PG's next frame can find it over XOFF before any pause was asked for
    // and is stored in headroom; the headroom must hold that frame as well as everything the
    // formula counts after the decision (without it: 2 headroom overflows in this step).
    moe::Json c = moe::Json::parse(
        moe_test::ReadFile(moe_test::SourcePath("examples/configs/moe-deepseek-v3-decode.json")));
    c["switch"]["buffer"]["type"] = "shared";
    c["switch"]["buffer"]["lossless_priorities"] = moe::Json::array({0});
    const moe::Json s = moe_test::RunScenario(c);
    EXPECT_EQ(s["fabric"]["drops"], 0);
    EXPECT_GT(s["fabric"]["tiers"]["leaf-spine"]["pfc_pauses"].get<uint64_t>(), 1000u);
}
