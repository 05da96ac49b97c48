/*
 * RDMA transport: line rate, ordering, zero-byte messages, loss recovery, PSN arithmetic.
 */
#include "ns3/double.h"
#include "ns3/error-model.h"
#include "ns3/fabric-helper.h"
#include "ns3/fabric-stats.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/pointer.h"
#include "ns3/rail-optimized-helper.h"
#include "ns3/rdma-transport.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <functional>
#include <gtest/gtest.h>
#include <list>
#include <map>

using namespace ns3;
using namespace ns3::moe;

namespace
{
/// Collects what a transport reports.
struct Recorder
{
    std::vector<MessageRecord> delivered;
    std::vector<MessageRecord> acked;

    void Attach(Ptr<MessageTransport> t)
    {
        t->SetDeliveredCallback(MakeCallback(&Recorder::OnDelivered, this));
        t->SetAckedCallback(MakeCallback(&Recorder::OnAcked, this));
    }

    void OnDelivered(const MessageRecord& r)
    {
        EXPECT_EQ(r.delivered, Simulator::Now());
        delivered.push_back(r);
    }

    void OnAcked(const MessageRecord& r)
    {
        EXPECT_EQ(r.acked, Simulator::Now());
        acked.push_back(r);
    }
};

Ptr<FabricTopology>
BuildFatTree(uint32_t k,
             const std::string& lb = "ecmp",
             uint64_t queueLimit = 1 << 20,
             uint64_t seed = 1)
{
    FatTreeHelper ft;
    ft.SetK(k);
    FabricHelper fabric;
    fabric.SetSeed(seed);
    fabric.SetSwitchAttribute("LoadBalancing", StringValue(lb));
    fabric.SetSwitchAdmissionAttribute("QueueLimit", UintegerValue(queueLimit));
    return fabric.Install(ft.Build());
}

/// A receive error model on @p device losing a fraction @p rate of the frames it receives (random
/// stream @p stream; -1 keeps ns-3's automatic stream assignment).
void
LoseFrames(Ptr<FabricNetDevice> device, double rate, int64_t stream = -1)
{
    Ptr<RateErrorModel> em = CreateObject<RateErrorModel>();
    em->SetAttribute("ErrorRate", DoubleValue(rate));
    em->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
    if (stream >= 0)
    {
        em->AssignStreams(stream);
    }
    device->SetAttribute("ReceiveErrorModel", PointerValue(em));
}

/// GPU 15's NIC (port 0) loses the frames it receives at these positions (0 = the first).
void
LoseFramesAtGpu15(Ptr<FabricTopology> topo, const std::list<uint32_t>& positions)
{
    Ptr<ReceiveListErrorModel> em = CreateObject<ReceiveListErrorModel>();
    em->SetList(positions);
    topo->GetPort(topo->GetSpec().hostNode[15], 0)
        ->SetAttribute("ReceiveErrorModel", PointerValue(em));
}

/// An RDMA transport whose two retransmission timeouts (IRN's long and short) are both @p rto;
/// not installed yet, so congestion control can still be chosen.
Ptr<RdmaTransport>
RdmaWithTimeout(Time rto)
{
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->SetAttribute("RetransmitTimeout", TimeValue(rto));
    rdma->SetAttribute("RetransmitTimeoutLow", TimeValue(rto));
    return rdma;
}

/// Every frame sent was received or dropped, nothing is queued, nothing is left unacknowledged.
void
ExpectDrained(Ptr<FabricTopology> topo, Ptr<RdmaTransport> rdma)
{
    FabricStats stats(topo);
    EXPECT_EQ(stats.CheckConservation(), "");
    EXPECT_EQ(stats.GetQueuedFrames(), 0u);
    EXPECT_EQ(rdma->GetPendingMessages(), 0u);
    EXPECT_EQ(rdma->GetMessagesStarted(), rdma->GetMessagesDelivered());
    EXPECT_EQ(rdma->GetMessagesStarted(), rdma->GetMessagesAcked());
    EXPECT_EQ(rdma->GetBytesStarted(), rdma->GetBytesDelivered());
}
} // namespace

TEST(RdmaPsn, UnfoldHandlesWrapAround)
{
    EXPECT_EQ(UnfoldPsn(5, 0), 5u);
    EXPECT_EQ(UnfoldPsn(0, 0x1000000), 0x1000000u);
    EXPECT_EQ(UnfoldPsn(0xfffffe, 0x1000001), 0xfffffeu); // slightly behind across the wrap
    EXPECT_EQ(UnfoldPsn(3, 0xfffffe), 0x1000003u);        // slightly ahead across the wrap
    EXPECT_EQ(UnfoldPsn(0xffffff, 0), 0u);                // "one before 0" clamps at 0
}

TEST(RdmaPsn, BitmapTracksOutOfOrderArrivals)
{
    PsnBitmap b;
    b.Set(3, 0);
    b.Set(1, 0);
    b.Set(1000, 0); // forces growth
    EXPECT_TRUE(b.Test(1, 0));
    EXPECT_TRUE(b.Test(1000, 0));
    EXPECT_FALSE(b.Test(2, 0));
    EXPECT_EQ(b.Count(), 3u);
    EXPECT_EQ(b.Advance(0), 0u); // 0 missing
    EXPECT_EQ(b.Advance(1), 2u); // 1 present, 2 missing
    b.Set(2, 2);
    EXPECT_EQ(b.Advance(2), 4u);
    EXPECT_EQ(b.Count(), 1u);
    EXPECT_TRUE(b.Test(1000, 4));
}

TEST(RdmaTransport, SingleLongMessageReachesThePayloadRate)
{
    // A 64 MiB message across pods of a k=4 fat-tree at 100 Gb/s. Each 4096-byte payload
    // carries Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 + ICRC 4 + FCS 4 + preamble 8 + IFG 12 = 82
    // bytes of overhead, so the payload rate is 100 * 4096 / 4178 = 98.04 Gb/s. ACKs travel on
    // the reverse direction of every link and do not slow the data.
    Ptr<FabricTopology> topo = BuildFatTree(4);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    const uint64_t bytes = 64ull << 20;
    rdma->Send(0, 15, 0, bytes, 7);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    ASSERT_EQ(rec.acked.size(), 1u);
    EXPECT_EQ(rec.delivered[0].tag, 7u);
    const double payloadRate = 100e9 * 4096.0 / (4096.0 + 82.0);
    const double goodput = static_cast<double>(bytes) * 8.0 /
                           (rec.delivered[0].delivered - rec.delivered[0].start).GetSeconds();
    std::cout << "64 MiB message: " << goodput / 1e9 << " of " << payloadRate / 1e9 << " Gb/s\n";
    EXPECT_GE(goodput, 0.95 * payloadRate);
    EXPECT_LE(goodput, payloadRate);
    EXPECT_GT(rec.delivered[0].firstByte, rec.delivered[0].start);
    EXPECT_LT(rec.delivered[0].firstByte, rec.delivered[0].delivered);
    EXPECT_GT(rec.acked[0].acked, rec.acked[0].delivered);
    EXPECT_EQ(rdma->GetCounters().retransmittedPackets, 0u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, MessagesOfOneQueuePairCompleteInOrder)
{
    Ptr<FabricTopology> topo = BuildFatTree(4, "spray");
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    // Sizes chosen so that later messages are shorter: only ordering keeps them in order.
    const std::vector<uint64_t> sizes{1 << 20, 0, 100, 4096, 4097, 1, 65536};
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < sizes.size(); ++i)
    {
        ids.push_back(rdma->Send(3, 12, 2, sizes[i], i));
    }
    // Another class between the same GPUs, on the same priority, is a separate queue pair that
    // the NIC serves round-robin with the first.
    rdma->SetClassPriority(1, rdma->GetClassPriority(2));
    const uint64_t other = rdma->Send(3, 12, 1, 10, 99);
    Simulator::Run();
    std::vector<uint64_t> deliveredOrder;
    std::vector<uint64_t> ackedOrder;
    for (const auto& r : rec.delivered)
    {
        if (r.cls == 2)
        {
            deliveredOrder.push_back(r.id);
            EXPECT_EQ(r.bytes, sizes[r.tag]);
        }
    }
    for (const auto& r : rec.acked)
    {
        if (r.cls == 2)
        {
            ackedOrder.push_back(r.id);
        }
    }
    EXPECT_EQ(deliveredOrder, ids);
    EXPECT_EQ(ackedOrder, ids);
    // The 10-byte message of class 1 finished long before the 1 MiB head of class 2.
    Time otherDone;
    Time firstDone;
    for (const auto& r : rec.delivered)
    {
        if (r.id == other)
        {
            otherDone = r.delivered;
        }
        if (r.id == ids[0])
        {
            firstDone = r.delivered;
        }
    }
    EXPECT_LT(otherDone, firstDone);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, ZeroByteMessageTravelsAsOneHeaderOnlyPacket)
{
    Ptr<FabricTopology> topo = BuildFatTree(4);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    rdma->Send(0, 2, 0, 0, 0);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    EXPECT_EQ(rec.delivered[0].bytes, 0u);
    EXPECT_EQ(rdma->GetCounters().dataPackets, 1u);
    // gpu0 -> edge0 -> agg -> edge1 -> gpu2: 4 store-and-forward hops. The frame holds
    // Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 + ICRC 4 = 58 bytes, padded to 60, plus FCS,
    // preamble and IFG = 84 bytes = 6720 ps at 100 Gb/s; each hop adds 1 us of delay.
    EXPECT_EQ((rec.delivered[0].delivered - rec.delivered[0].start).GetPicoSeconds(),
              4 * (1000000 + 6720));
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, LocalMessageCompletesAtOnce)
{
    Ptr<FabricTopology> topo = BuildFatTree(4);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    Simulator::Schedule(MicroSeconds(3), [rdma]() { rdma->Send(2, 2, 0, 1 << 20, 0); });
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    EXPECT_EQ(rec.delivered[0].delivered, MicroSeconds(3));
    EXPECT_EQ(rec.acked[0].acked, MicroSeconds(3));
    EXPECT_EQ(FabricStats(topo).GetPacketHops(), 0u);
    Simulator::Destroy();
}

namespace
{
/// Incast through a tiny switch buffer: 15 senders into GPU 0, 256 KiB each.
void
RunLossyIncast(const std::string& recovery, const std::string& lb)
{
    // 5 frames per queue: the edge switch's port to GPU 0 overflows immediately.
    Ptr<FabricTopology> topo = BuildFatTree(4, lb, 5 * 4154);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->SetAttribute("Recovery", StringValue(recovery));
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    for (uint32_t s = 1; s < 16; ++s)
    {
        rdma->Send(s, 0, 0, 256 * 1024, s);
    }
    Simulator::Run();
    FabricStats stats(topo);
    uint64_t drops = 0;
    for (const auto& t : stats.CollectTiers())
    {
        drops += t.TotalDrops();
    }
    EXPECT_GT(drops, 100u) << "the scenario is meant to drop";
    EXPECT_GT(rdma->GetCounters().retransmittedPackets, 0u);
    EXPECT_EQ(rec.delivered.size(), 15u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}
} // namespace

TEST(RdmaTransport, LossyIncastStillDeliversEveryByteSelectiveRepeat)
{
    RunLossyIncast("selective-repeat", "ecmp");
}

TEST(RdmaTransport, LossyIncastStillDeliversEveryByteGoBackN)
{
    RunLossyIncast("go-back-n", "ecmp");
}

TEST(RdmaTransport, LossyIncastWithSprayingStillDeliversEveryByte)
{
    RunLossyIncast("selective-repeat", "spray");
}

TEST(RdmaTransport, SelectiveRepeatResendsABurstOfLossesInOneRoundTrip)
{
    // 1 MiB (256 packets) from GPU 0 to GPU 15 across the core; GPU 15 loses ten consecutive
    // data frames and two isolated ones. Each lost PSN is NAKed once, as soon as 3 later
    // packets have arrived, and resent once: the message ends within about one round trip of
    // its loss-free time. (Only the lowest hole used to be NAKed, one per round trip: the
    // message took 205 us.)
    // The same message without losses, then with them: recovery may add about one round trip
    // (4.7 us base, more with the queue the retransmissions wait behind), not twelve.
    Time lossFree;
    for (const bool lossy : {false, true})
    {
        Ptr<FabricTopology> topo = BuildFatTree(4);
        if (lossy)
        {
            LoseFramesAtGpu15(topo, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100, 140});
        }
        Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
        rdma->Install(topo);
        Recorder rec;
        rec.Attach(rdma);
        rdma->Send(0, 15, 0, 1 << 20, 1);
        Simulator::Run();
        ASSERT_EQ(rec.delivered.size(), 1u);
        const Time took = rec.delivered[0].delivered - rec.delivered[0].start;
        const RdmaCounters& c = rdma->GetCounters();
        if (!lossy)
        {
            lossFree = took;
            EXPECT_EQ(c.retransmittedPackets, 0u);
        }
        else
        {
            EXPECT_EQ(c.naksSent, 12u);
            EXPECT_EQ(c.retransmittedPackets, 12u);
            EXPECT_EQ(c.timeouts, 0u);
            EXPECT_LT(took, lossFree + MicroSeconds(20)) << took << " vs " << lossFree;
        }
        ExpectDrained(topo, rdma);
        Simulator::Destroy();
    }
}

TEST(RdmaTransport, CorruptedFramesAreCountedAndRecovered)
{
    Ptr<FabricTopology> topo = BuildFatTree(4);
    // Corrupt 1% of the frames arriving at the core layer's first switch and at GPU 15.
    for (uint32_t i = 0; i < topo->GetNPorts(topo->GetSpec().hostNode[15]); ++i)
    {
        LoseFrames(topo->GetPort(topo->GetSpec().hostNode[15], i), 0.01, 7);
    }
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    for (uint32_t s = 0; s < 15; ++s)
    {
        rdma->Send(s, 15, 0, 512 * 1024, s);
    }
    Simulator::Run();
    FabricStats stats(topo);
    uint64_t corrupted = 0;
    for (const auto& t : stats.CollectTiers())
    {
        corrupted += t.drops[static_cast<size_t>(DropReason::RX_ERROR)];
    }
    EXPECT_GT(corrupted, 10u);
    EXPECT_EQ(rec.delivered.size(), 15u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, RailOnlyRelaysCrossRailTrafficThroughNvLink)
{
    RailOptimizedHelper rail;
    rail.SetServers(4);
    rail.SetGpusPerServer(4);
    rail.SetSpines(0);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(rail.Build());
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    // GPU 1 (server 0, rail 1) -> GPU 14 (server 3, rail 2): NVLink to GPU 2, its NIC, rail 2.
    rdma->Send(1, 14, 0, 1 << 20, 0);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    const auto& spec = topo->GetSpec();
    // 256 data packets: over GPU 1's NVLink, out of relay GPU 2's NIC, never GPU 1's NIC.
    EXPECT_EQ(topo->GetPort(spec.hostNode[1], 1)->GetCounters().txFrames, 256u);
    EXPECT_EQ(topo->GetPort(spec.hostNode[2], 0)->GetCounters().txFrames, 256u);
    EXPECT_EQ(topo->GetPort(spec.hostNode[1], 0)->GetCounters().txFrames, 0u);
    // The 256 ACKs come back the same way: GPU 14 -> NVLink -> GPU 13 (rail 1) -> NIC.
    EXPECT_EQ(topo->GetPort(spec.hostNode[14], 1)->GetCounters().txFrames, 256u);
    EXPECT_EQ(topo->GetPort(spec.hostNode[13], 0)->GetCounters().txFrames, 256u);
    EXPECT_EQ(topo->GetHopCount(1, 14), 4u);
    EXPECT_EQ(topo->GetHopCount(1, 13), 2u); // same rail: NIC, rail leaf, NIC
    EXPECT_EQ(topo->GetHopCount(1, 2), 2u);  // same server: NVLink, NVSwitch, NVLink
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, PacingRateHookSlowsAQueuePair)
{
    // Congestion control drives a per-QP pacing rate: at 25 Gb/s a 4 MiB message takes four
    // times as long as at line rate (100 Gb/s), give or take one frame and the path latency.
    Ptr<FabricTopology> topo = BuildFatTree(4);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    const uint32_t qp = rdma->GetNic(0)->GetOrCreateSenderQp(15, 0);
    rdma->GetNic(0)->SetQpRate(qp, 25000000000ull);
    rdma->Send(0, 15, 0, 4 << 20, 0);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    const double seconds = (rec.delivered[0].delivered - rec.delivered[0].start).GetSeconds();
    const double wire = 1024.0 * 4178 * 8; // 1024 full packets
    EXPECT_NEAR(seconds, wire / 25e9, 10e-6);
    Simulator::Destroy();
}

namespace
{
/// GPU 0 sends @p bytes to GPU 15 on a QP paced at 0.5 Gb/s (a frame every 66.8 us) with a
/// 25 us timeout (above the 16 us round trip, well below the pacing gap) while a fraction @p
/// lossRate of the frames reaching GPU 15 is lost. Returns the transport's counters; checks
/// delivery.
RdmaCounters
RunPacedLossyQp(double lossRate, uint32_t bytes)
{
    Ptr<FabricTopology> topo = BuildFatTree(4);
    const uint32_t node = topo->GetSpec().hostNode[15];
    for (uint32_t i = 0; i < topo->GetNPorts(node); ++i)
    {
        LoseFrames(topo->GetPort(node, i), lossRate, 3);
    }
    Ptr<RdmaTransport> rdma = RdmaWithTimeout(MicroSeconds(25));
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    const uint32_t qp = rdma->GetNic(0)->GetOrCreateSenderQp(15, 0);
    rdma->GetNic(0)->SetQpRate(qp, 500000000ull);
    rdma->Send(0, 15, 0, bytes, 0);
    Simulator::Run();
    const RdmaCounters c = rdma->GetCounters();
    EXPECT_EQ(rec.delivered.size(), 1u) << "the message must arrive whatever is lost";
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
    return c;
}
} // namespace

TEST(RdmaTransport, TimerRestartsOnlyWithTheRetransmission)
{
    // After a timeout the retransmission waits for its pacing slot; the timer must not fire
    // again before it has gone out (a NIC restarts its transport timer when it sends), so no
    // loss is counted as several timeouts: timeouts <= retransmitted packets.
    const RdmaCounters c = RunPacedLossyQp(0.05, 256 * 1024);
    EXPECT_GT(c.timeouts, 0u) << "the scenario is meant to time out";
    EXPECT_LE(c.timeouts, c.retransmittedPackets);
}

TEST(RdmaTransport, ProgressAfterATimeoutRestartsTheTimer)
{
    // A lossy all-to-all (tail drop at 20 kB per queue, 20 us timeouts): ACKs often bring
    // progress after a timeout but before the retransmission left, and retransmissions are
    // lost too. The timer must run again from that progress, or a QP whose last packets are
    // lost is never recovered and the run stalls (it did while the timer restart was wrong).
    Ptr<FabricTopology> topo = BuildFatTree(4, "ecmp", 20000);
    Ptr<RdmaTransport> rdma = RdmaWithTimeout(MicroSeconds(20));
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    for (uint32_t s = 0; s < 16; ++s)
    {
        for (uint32_t d = 0; d < 16; ++d)
        {
            if (s != d)
            {
                rdma->Send(s, d, 0, 256 * 1024, s * 16 + d);
            }
        }
    }
    Simulator::Run();
    EXPECT_GT(rdma->GetCounters().timeouts, 100u);
    EXPECT_EQ(rec.delivered.size(), 240u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, RetransmissionSentByCongestionControlsTimeoutReactionIsTimed)
{
    // Swift reacts to a timeout by resetting its window, which lets the retransmission leave
    // inside the timeout handling. GPU 15 loses the original and that first retransmission; the
    // timer must be running for the retransmission, or the one-packet message never arrives.
    Ptr<FabricTopology> topo = BuildFatTree(4);
    LoseFramesAtGpu15(topo, {0, 1});
    Ptr<RdmaTransport> rdma = RdmaWithTimeout(MicroSeconds(25));
    rdma->SetCongestionControl("ns3::moe::SwiftCongestionControl");
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    rdma->Send(0, 15, 0, 1000, 0);
    Simulator::Stop(MilliSeconds(10));
    Simulator::Run();
    EXPECT_EQ(rdma->GetCounters().timeouts, 2u);
    EXPECT_EQ(rdma->GetCounters().retransmittedPackets, 2u);
    EXPECT_EQ(rec.delivered.size(), 1u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, ShortTimeoutTakesOverFromTheLongOne)
{
    // IRN's two timeouts: 320 us while more than 3 packets are in flight, 100 us otherwise. A
    // 2 MiB message (512 packets, ~172 us at 100 Gb/s) loses its last packet: its tail must be
    // recovered 100 us after the last progress (~175 us), not when the long timeout that was
    // running mid-message (filed near 420 us) comes up.
    Ptr<FabricTopology> topo = BuildFatTree(4);
    LoseFramesAtGpu15(topo, {511});
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    rdma->Send(0, 15, 0, 2 << 20, 0);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    EXPECT_EQ(rdma->GetCounters().timeouts, 1u);
    const double us = (rec.delivered[0].delivered - rec.delivered[0].start).GetNanoSeconds() / 1e3;
    std::cout << "2 MiB losing its last packet: delivered after " << us << " us\n";
    EXPECT_GT(us, 270.0);
    EXPECT_LT(us, 300.0);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, TimerHeapStaysSmallWhenShortTimeoutsKeepTakingOver)
{
    // Six 2 MiB messages on one QP, each posted when the previous one is delivered, each
    // losing its last packet: six times the short timeout takes over from a filed long one,
    // leaving a stale heap entry each time. Stale entries must be dropped when they come up,
    // not filed again: the NIC's timer heap stays at a few entries (it would hold one more per
    // takeover otherwise, each firing and re-filing itself for as long as the QP stays busy).
    constexpr uint32_t MESSAGES = 6;
    constexpr uint32_t PACKETS = 512; // per message, plus one retransmission each
    std::list<uint32_t> lost;
    for (uint32_t i = 0; i < MESSAGES; ++i)
    {
        lost.push_back(i * (PACKETS + 1) + PACKETS - 1);
    }
    Ptr<FabricTopology> topo = BuildFatTree(4);
    LoseFramesAtGpu15(topo, lost);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);

    // Each delivery posts the next message.
    struct Chain
    {
        Recorder* rec;
        Ptr<RdmaTransport> rdma;
        uint32_t posted{1};

        void OnDelivered(const MessageRecord& m)
        {
            rec->OnDelivered(m);
            if (posted < MESSAGES)
            {
                ++posted;
                rdma->Send(0, 15, 0, 2 << 20, 0);
            }
        }
    } chain{&rec, rdma};

    rdma->SetDeliveredCallback(MakeCallback(&Chain::OnDelivered, &chain));
    std::size_t maxEntries = 0;
    std::function<void()> probe = [&]() {
        maxEntries = std::max(maxEntries, rdma->GetNic(0)->GetRtoTimerEntries());
        if (rec.delivered.size() < MESSAGES)
        {
            Simulator::Schedule(MicroSeconds(1), probe);
        }
    };
    Simulator::Schedule(NanoSeconds(1), probe);
    rdma->Send(0, 15, 0, 2 << 20, 0);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), MESSAGES);
    EXPECT_EQ(rdma->GetCounters().timeouts, MESSAGES);
    std::cout << "timer heap: at most " << maxEntries << " entries over " << MESSAGES
              << " takeovers\n";
    EXPECT_LE(maxEntries, 3u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}

TEST(RdmaTransport, WindowHookCapsBytesInFlight)
{
    // With a 4-packet window, a sender waits for ACKs: throughput = window / RTT, far below line
    // rate on a 6-hop path with 1 us links (RTT ~ 13 us for 4 x 16 KiB in flight).
    Ptr<FabricTopology> topo = BuildFatTree(4);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    Recorder rec;
    rec.Attach(rdma);
    const uint32_t qp = rdma->GetNic(0)->GetOrCreateSenderQp(15, 0);
    rdma->GetNic(0)->SetQpWindow(qp, 4 * 4096);
    // Watch the in-flight PSN span never exceed the window.
    uint64_t maxInflight = 0;
    SenderQp& sq = rdma->GetNic(0)->GetSenderQp(qp);
    std::function<void()> probe;
    probe = [&]() {
        maxInflight = std::max<uint64_t>(maxInflight, sq.sndNxt - sq.sndUna);
        if (rec.delivered.empty())
        {
            Simulator::Schedule(NanoSeconds(100), probe);
        }
    };
    Simulator::Schedule(NanoSeconds(1), probe);
    rdma->Send(0, 15, 0, 1 << 20, 0);
    Simulator::Run();
    ASSERT_EQ(rec.delivered.size(), 1u);
    EXPECT_LE(maxInflight, 4u);
    EXPECT_GE(maxInflight, 3u);
    const double goodput =
        (1 << 20) * 8.0 / (rec.delivered[0].delivered - rec.delivered[0].start).GetSeconds();
    EXPECT_LT(goodput, 0.5 * 100e9);
    Simulator::Destroy();
}

namespace
{
/// Per-device counts from trace sources (not from the devices' own counters).
struct TraceCounts
{
    std::map<const NetDevice*, uint64_t> tx;
    std::map<const NetDevice*, uint64_t> rx;
    std::map<const NetDevice*, uint64_t> rxErrors;
};

void
CountTx(TraceCounts* c, const NetDevice* d, Ptr<const Packet>)
{
    ++c->tx[d];
}

void
CountRx(TraceCounts* c, const NetDevice* d, Ptr<const Packet>)
{
    ++c->rx[d];
}

void
CountDrop(TraceCounts* c, const NetDevice* d, Ptr<const Packet>, DropReason r)
{
    if (r == DropReason::RX_ERROR)
    {
        ++c->rxErrors[d];
    }
}
} // namespace

TEST(RdmaTransport, EveryLinkConservesFramesByTraceSources)
{
    // Per link direction: frames one end started sending (PhyTxBegin) = frames the other end
    // received intact (PhyRxEnd) + frames its receive error model destroyed (Drop, rx_error),
    // counted by separate trace sinks; and at the end every queue is empty.
    Ptr<FabricTopology> topo = BuildFatTree(4, "spray", 8 * 4154);
    TraceCounts counts;
    for (const auto& dev : topo->GetAllDevices())
    {
        LoseFrames(dev, 0.002);
        const NetDevice* key = PeekPointer(dev);
        dev->TraceConnectWithoutContext("PhyTxBegin", MakeBoundCallback(&CountTx, &counts, key));
        dev->TraceConnectWithoutContext("PhyRxEnd", MakeBoundCallback(&CountRx, &counts, key));
        dev->TraceConnectWithoutContext("Drop", MakeBoundCallback(&CountDrop, &counts, key));
    }
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    for (uint32_t s = 0; s < 16; ++s)
    {
        for (uint32_t d = 0; d < 16; ++d)
        {
            if (s != d)
            {
                rdma->Send(s, d, 0, 128 * 1024, 0);
            }
        }
    }
    Simulator::Run();
    const auto devices = topo->GetAllDevices();
    uint64_t errors = 0;
    for (size_t l = 0; l < devices.size() / 2; ++l)
    {
        for (int dir = 0; dir < 2; ++dir)
        {
            const NetDevice* a = PeekPointer(devices[2 * l + dir]);
            const NetDevice* b = PeekPointer(devices[2 * l + 1 - dir]);
            EXPECT_EQ(counts.tx[a], counts.rx[b] + counts.rxErrors[b]) << "link " << l;
            errors += counts.rxErrors[b];
        }
        EXPECT_EQ(devices[2 * l]->GetQueueFrames(), 0u);
        EXPECT_EQ(devices[2 * l + 1]->GetQueueFrames(), 0u);
    }
    EXPECT_GT(errors, 50u);
    ExpectDrained(topo, rdma);
    Simulator::Destroy();
}
