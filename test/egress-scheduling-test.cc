/*
 * Egress scheduling across priorities (strict priority, DWRR with weights and strict
 * priorities above it, the pull source under DWRR) and the PFC watchdog (pause storm detection,
 * report and ignore actions).
 */
#include "test-util.h"

#include "ns3/fabric-channel.h"
#include "ns3/fabric-frame.h"
#include "ns3/fabric-helper.h"
#include "ns3/fabric-net-device.h"
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
constexpr uint32_t DATA_FRAME = 4096 + ROCE_DATA_HEADER_BYTES;
constexpr int64_t DATA_TX_PS = 334240;
constexpr int64_t LINK_DELAY_PS = 1000000;

using Sink = moe_test::MacControlSink;

/// A pull source with an endless supply of data frames for one priority.
class EndlessPull : public FabricPullSource
{
  public:
    uint8_t priority{0};

    Ptr<Packet> PullFrame(uint32_t /*port*/, uint8_t p) override
    {
        return p == priority ? Create<Packet>(DATA_FRAME) : nullptr;
    }
};

/// Two devices on one 100 Gb/s link with a 1 us delay; a's egress is logged per priority.
struct Link
{
    Ptr<FabricNetDevice> a;
    Ptr<FabricNetDevice> b;
    Sink sinkA;
    Sink sinkB;
    /// Bytes a started per priority inside [windowStart, windowEnd): data frames as stored, and
    /// all frames (any size) on the wire.
    std::array<uint64_t, NUM_PRIORITIES> windowBytes{};
    std::array<uint64_t, NUM_PRIORITIES> windowWire{};
    int64_t windowStart{0};
    int64_t windowEnd{0};
    std::vector<std::pair<int64_t, Time>> storms; ///< (priority, pausedFor) at a
    std::vector<int64_t> stormAtPs;

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
        a->TraceConnectWithoutContext("PhyTxBegin", MakeCallback(&Link::OnTx, this));
        a->TraceConnectWithoutContext("PfcStorm", MakeCallback(&Link::OnStorm, this));
    }

    ~Link()
    {
        Simulator::Destroy();
    }

    void OnTx(Ptr<const Packet> p)
    {
        const int64_t now = Simulator::Now().GetPicoSeconds();
        if (now < windowStart || now >= windowEnd)
        {
            return;
        }
        // The test frames carry their priority in their first byte (see Fill()).
        uint8_t prio = 0;
        p->CopyData(&prio, 1);
        if (prio >= NUM_PRIORITIES)
        {
            return;
        }
        windowWire[prio] += WireBytes(p->GetSize());
        if (p->GetSize() == DATA_FRAME)
        {
            windowBytes[prio] += p->GetSize();
        }
    }

    void OnStorm(uint8_t priority, Time pausedFor)
    {
        storms.emplace_back(priority, pausedFor);
        stormAtPs.push_back(Simulator::Now().GetPicoSeconds());
    }

    /// Queue @p n frames of @p size bytes on @p priority of a (first byte = priority).
    void Fill(uint8_t priority, uint32_t n, uint32_t size = DATA_FRAME)
    {
        std::vector<uint8_t> data(size, 0);
        data[0] = priority;
        for (uint32_t i = 0; i < n; ++i)
        {
            QueueEntry e;
            e.packet = Create<Packet>(data.data(), size);
            e.bytes = size;
            e.priority = priority;
            a->Enqueue(std::move(e));
        }
    }

    double Share(uint8_t priority) const
    {
        uint64_t total = 0;
        for (auto v : windowBytes)
        {
            total += v;
        }
        return total == 0 ? 0.0
                          : static_cast<double>(windowBytes[priority]) / static_cast<double>(total);
    }
};

/// Both priorities saturated for the whole window: @p frames each (2000 = 668 us at line rate),
/// the window 100 us .. 600 us (about 1496 frames).
void
RunSaturated(Link& link, uint8_t low, uint8_t high, uint32_t frames = 2000)
{
    link.windowStart = 100000000;
    link.windowEnd = 600000000;
    link.Fill(low, frames);
    link.Fill(high, frames);
    Simulator::Stop(PicoSeconds(link.windowEnd));
    Simulator::Run();
}

} // namespace

TEST(EgressScheduling, StrictGivesTheHigherPriorityEverything)
{
    Link link;
    EXPECT_EQ(link.a->GetScheduler(), "strict");
    RunSaturated(link, 1, 2);
    EXPECT_EQ(link.windowBytes[1], 0u);
    // 500 us / 334.24 ns = 1495.9 frames started in the window.
    EXPECT_NEAR(static_cast<double>(link.windowBytes[2]) / DATA_FRAME, 500e6 / DATA_TX_PS, 1);
}

TEST(EgressScheduling, DwrrWeightsThreeToOneSplitTheLink)
{
    Link link;
    link.a->SetAttribute("Scheduler", StringValue("dwrr"));
    link.a->SetAttribute("DwrrWeights", StringValue("1,3,1,1,1,1,1,1"));
    EXPECT_EQ(link.a->GetDwrrWeights(), "1,3,1,1,1,1,1,1");
    RunSaturated(link, 0, 1);
    const double high = link.Share(1);
    const double low = link.Share(0);
    std::cout << "dwrr 3:1 shares: " << high << " / " << low << "\n";
    EXPECT_NEAR(high, 0.75, 0.05 * 0.75);
    EXPECT_NEAR(low, 0.25, 0.05 * 0.25);
}

TEST(EgressScheduling, DwrrEqualWeightsWithAPullSource)
{
    // Priority 0 comes from an endless pull source (the NIC), priority 1 from the queue.
    Link link;
    link.a->SetAttribute("Scheduler", StringValue("dwrr"));
    EndlessPull pull;
    pull.priority = 0;
    link.a->SetPullSource(&pull);
    link.windowStart = 100000000;
    link.windowEnd = 600000000;
    link.Fill(1, 2000);
    link.a->NotifyPullReady(0);
    // Pulled frames are zero-filled, so OnTx counts them as priority 0.
    Simulator::Stop(PicoSeconds(link.windowEnd));
    Simulator::Run();
    const uint64_t queued = link.windowBytes[1];
    const uint64_t total = link.windowBytes[0] + link.windowBytes[1];
    std::cout << "dwrr 1:1 queue vs pull: " << static_cast<double>(queued) / total << "\n";
    EXPECT_NEAR(static_cast<double>(queued) / total, 0.5, 0.05 * 0.5);
}

TEST(EgressScheduling, StrictPrioritiesStayAboveDwrr)
{
    Link link;
    link.a->SetAttribute("Scheduler", StringValue("dwrr"));
    link.a->SetAttribute("DwrrWeights", StringValue("1,1,1,1,1,1,1,1"));
    link.a->SetAttribute("StrictPriorities", UintegerValue(0xc0));
    RunSaturated(link, 1, 7);
    EXPECT_EQ(link.windowBytes[1], 0u);
    EXPECT_GT(link.windowBytes[7], 0u);
}

TEST(EgressScheduling, PausedDwrrPriorityDoesNotBlockTheOther)
{
    Link link;
    link.a->SetAttribute("Scheduler", StringValue("dwrr"));
    link.a->SetAttribute("DwrrWeights", StringValue("1,3,1,1,1,1,1,1"));
    link.a->SetPaused(1, true);
    RunSaturated(link, 0, 1, 4000);
    EXPECT_EQ(link.windowBytes[1], 0u);
    EXPECT_NEAR(static_cast<double>(link.windowBytes[0]) / DATA_FRAME, 500e6 / DATA_TX_PS, 1);
    // Resumed, the paused priority gets its share back, without a saved-up burst.
    link.windowBytes = {};
    link.windowStart = Simulator::Now().GetPicoSeconds();
    link.windowEnd = link.windowStart + 300000000;
    link.a->SetPaused(1, false);
    Simulator::Stop(PicoSeconds(300000000));
    Simulator::Run();
    std::cout << "after resume: " << link.Share(1) << "\n";
    EXPECT_NEAR(link.Share(1), 0.75, 0.05 * 0.75);
}

TEST(EgressScheduling, DwrrSplitsLinkTimeWhateverTheFrameSizes)
{
    // Equal weights, priority 1 sends 64-byte frames (88 bytes on the wire, 27 % overhead),
    // priority 2 full frames: each gets half of the link's time. Counting stored bytes would
    // give the small frames 57.7 %.
    Link link;
    link.a->SetAttribute("Scheduler", StringValue("dwrr"));
    link.windowStart = 100000000;
    link.windowEnd = 600000000;
    link.Fill(1, 100000, 64);
    link.Fill(2, 2000);
    Simulator::Stop(PicoSeconds(link.windowEnd));
    Simulator::Run();
    const double total = static_cast<double>(link.windowWire[1] + link.windowWire[2]);
    const double small = static_cast<double>(link.windowWire[1]) / total;
    std::cout << "64-byte frames' share of the wire: " << small << "\n";
    EXPECT_NEAR(small, 0.5, 0.05 * 0.5);
    RecordProperty("small_frame_wire_share_permille", static_cast<int>(small * 1000));
}

TEST(PfcWatchdog, ReportsAStormExactlyOnce)
{
    // b keeps a's priority 3 paused forever (its refreshes never stop); a has frames queued.
    Link link;
    link.a->SetAttribute("PfcWatchdogTimeout", TimeValue(MilliSeconds(1)));
    link.Fill(3, 50);
    Simulator::Schedule(MicroSeconds(1), [&link] { link.b->RequestPfc(3, true); });
    Simulator::Stop(MilliSeconds(10));
    Simulator::Run();
    ASSERT_EQ(link.storms.size(), 1u);
    EXPECT_EQ(link.storms[0].first, 3);
    EXPECT_EQ(link.a->GetPfcCounters().watchdogStorms[3], 1u);
    EXPECT_EQ(link.a->GetPfcCounters().TotalWatchdogStorms(), 1u);
    // The pause took effect at 1 us + 6.72 ns (PFC frame) + 1 us (link) + a's response delay;
    // the storm fires exactly one timeout later.
    const int64_t pauseStart =
        1000000 + 6720 + LINK_DELAY_PS + link.a->GetPfcResponseDelay().GetPicoSeconds();
    EXPECT_EQ(link.stormAtPs[0], pauseStart + 1000000000);
    EXPECT_EQ(link.storms[0].second, MilliSeconds(1));
    EXPECT_TRUE(link.a->IsPaused(3));
    // "report" does not act: the frames not yet sent when the pause began are still there.
    EXPECT_GT(link.a->GetQueueFrames(), 30u);
}

TEST(PfcWatchdog, IgnoreDrainsTheQueueThenRestores)
{
    Link link;
    link.a->SetAttribute("PfcWatchdogTimeout", TimeValue(MilliSeconds(1)));
    link.a->SetAttribute("PfcWatchdogAction", StringValue("ignore"));
    link.a->SetAttribute("PfcWatchdogRestore", TimeValue(MilliSeconds(2)));
    link.Fill(3, 50);
    Simulator::Schedule(MicroSeconds(1), [&link] { link.b->RequestPfc(3, true); });
    Simulator::Stop(MilliSeconds(1) + MicroSeconds(100));
    Simulator::Run();
    ASSERT_EQ(link.storms.size(), 1u);
    EXPECT_EQ(link.a->GetQueueFrames(), 0u);
    EXPECT_EQ(link.sinkB.dataFrames, 50u);
    EXPECT_TRUE(link.a->IsPfcIgnored(3));
    EXPECT_FALSE(link.a->IsPaused(3));
    // Restored after 2 ms: the storm pauses again, but with nothing waiting it is no storm.
    Simulator::Stop(MilliSeconds(9));
    Simulator::Run();
    EXPECT_FALSE(link.a->IsPfcIgnored(3));
    EXPECT_TRUE(link.a->IsPaused(3));
    EXPECT_EQ(link.storms.size(), 1u);
    EXPECT_GT(link.a->GetPfcCounters().watchdogIgnoredPauses[3], 0u);
}

TEST(PfcWatchdog, OffByDefault)
{
    Link link;
    link.Fill(3, 10);
    Simulator::Schedule(MicroSeconds(1), [&link] { link.b->RequestPfc(3, true); });
    Simulator::Stop(MilliSeconds(5));
    Simulator::Run();
    EXPECT_TRUE(link.storms.empty());
    EXPECT_TRUE(link.a->IsPaused(3));
}

TEST(FabricNetDevice, AFrameBeyondTheMtuFromTheStackIsACountedDrop)
{
    // NetDevice::Send of a frame larger than the MTU (an ns-3 stack on a host) refuses it and
    // counts and traces the drop, as every other drop.
    Link link;
    uint32_t traced = 0;
    link.a->TraceConnectWithoutContext(
        "Drop",
        MakeBoundCallback(
            +[](uint32_t* n, Ptr<const Packet>, DropReason) { ++*n; },
            &traced));
    Ptr<Packet> big = Create<Packet>(link.a->GetMtu() + 1);
    EXPECT_FALSE(link.a->Send(big, link.b->GetAddress(), 0x0800));
    EXPECT_EQ(link.a->GetCounters().dropFrames[static_cast<size_t>(DropReason::FRAME_TOO_LARGE)],
              1u);
    EXPECT_EQ(link.a->GetCounters().TotalDrops(), 1u);
    EXPECT_EQ(traced, 1u);
    EXPECT_EQ(link.a->GetQueueFrames(), 0u);
}

TEST(PfcWatchdog, DropDiscardsTheStormingQueueAndItsArrivalsUntilRestored)
{
    // As a switch port: every frame passes a's admission first, so the discarded frames must
    // give their bytes back (the admission's occupancy follows the queue exactly).
    Link link;
    Ptr<TailDropAdmission> admission = CreateObject<TailDropAdmission>();
    admission->Initialize(1);
    link.a->SetAdmission(admission);
    link.a->SetAttribute("PfcWatchdogTimeout", TimeValue(MilliSeconds(1)));
    link.a->SetAttribute("PfcWatchdogAction", StringValue("drop"));
    link.a->SetAttribute("PfcWatchdogRestore", TimeValue(MilliSeconds(2)));
    uint32_t refused = 0; // Enqueue() returned false: the caller learns of the discard
    auto admitted = [&link, admission, &refused](uint32_t n) {
        for (uint32_t i = 0; i < n; ++i)
        {
            QueueEntry e;
            e.packet = Create<Packet>(DATA_FRAME);
            e.bytes = DATA_FRAME;
            e.priority = 3;
            e.inPort = 0;
            DropReason reason;
            ASSERT_TRUE(admission->Admit(e, 0, reason));
            refused += link.a->Enqueue(std::move(e)) ? 0 : 1;
        }
    };
    const auto watchdogDrops = [&link] {
        return link.a->GetCounters().dropFrames[static_cast<size_t>(DropReason::PFC_WATCHDOG)];
    };
    admitted(50);
    Simulator::Schedule(MicroSeconds(1), [&link] { link.b->RequestPfc(3, true); });
    // The storm is detected 1 ms into the pause; 5 more frames arrive during the drop period.
    Simulator::Schedule(MilliSeconds(2), [&admitted] { admitted(5); });
    Simulator::Stop(MilliSeconds(2) + MicroSeconds(10));
    Simulator::Run();
    ASSERT_EQ(link.storms.size(), 1u);
    EXPECT_TRUE(link.a->IsPfcDropping(3));
    EXPECT_EQ(link.a->GetQueueFrames(), 0u);
    EXPECT_EQ(admission->GetOccupancy(0, 3), 0u) << "discarded frames left the admission";
    const uint64_t sent = link.sinkB.dataFrames;
    EXPECT_GT(sent, 0u) << "frames before the pause left";
    EXPECT_LT(sent, 20u);
    EXPECT_EQ(watchdogDrops(), 55u - sent) << "the queue and the later arrivals";
    EXPECT_EQ(refused, 5u) << "the arrivals during the drop period were refused, not queued";
    // Restored 2 ms after the storm (3.004 ms): the peer's refreshes pause the priority again
    // and frames that arrive wait, kept.
    Simulator::Schedule(MicroSeconds(1500), [&admitted] { admitted(5); });
    Simulator::Stop(MicroSeconds(1800));
    Simulator::Run();
    EXPECT_FALSE(link.a->IsPfcDropping(3));
    EXPECT_FALSE(link.a->IsPfcIgnored(3));
    EXPECT_TRUE(link.a->IsPaused(3));
    EXPECT_EQ(link.a->GetQueueFrames(), 5u);
    EXPECT_EQ(admission->GetOccupancy(0, 3), 5u * DATA_FRAME);
    EXPECT_EQ(watchdogDrops(), 55u - sent);
    EXPECT_EQ(refused, 5u);
    // The peer never stops: one detection time after the new pause began, a second storm.
    Simulator::Stop(MilliSeconds(2));
    Simulator::Run();
    EXPECT_EQ(link.storms.size(), 2u);
    EXPECT_EQ(watchdogDrops(), 60u - sent);
    EXPECT_EQ(admission->GetOccupancy(0, 3), 0u);
    EXPECT_EQ(link.sinkB.dataFrames, sent);
}
