/*
 * IdealTransport: the analytic reference. Every expected time below is worked out by hand.
 *
 * Fabric: k=4 fat-tree (16 hosts; host h under edge switch h/2, in pod h/4), every link
 * 100 Gb/s and 1 us. At 100 Gb/s one bit takes 10 ps. Frame arithmetic (bytes):
 *   data header        ROCE_DATA_HEADER_BYTES = 14 Eth + 20 IPv4 + 8 UDP + 12 BTH + 4 ICRC = 58
 *   wire extra         FCS 4 + preamble/SFD 8 + IFG 12 = 24; frames padded to 60 stored bytes
 *   full data frame    4096 + 58 = 4154 stored, 4178 wire = 33424 bits -> 334240 ps
 *   header-only frame  58 -> padded 60 stored, 84 wire = 672 bits -> 6720 ps
 *   ACK frame          14 + 20 + 8 + 12 + 4 AETH + 4 ICRC = 62 stored, 86 wire = 688 bits
 *                      -> 6880 ps
 *   1 MiB              256 full frames = 256 x 33424 = 8556544 bits -> 85565440 ps
 * Path latency of L links for a frame of S ps serialization: L x 1 us + (L - 1) x S
 * (store-and-forward on every link after the first). L = 2 within an edge, 4 within a pod,
 * 6 across pods.
 *   full frame:   same edge 2334240, same pod 5002720, across pods 7671200
 *   header-only:  same edge 2006720
 * ACK overhead (reverse path latency for the ACK frame + its serialization on dst's port):
 *   L x 1 us + (L - 1) x 6880 + 6880 = L x 1006880, i.e. 2013760 / 4027520 / 6041280.
 */
#include "ns3/fabric-frame.h"
#include "ns3/fabric-helper.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/ideal-transport.h"
#include "ns3/rail-optimized-helper.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <map>
#include <vector>

using namespace ns3;
using namespace ns3::moe;

namespace
{

constexpr uint64_t MIB = 1048576;
constexpr int64_t FULL_FRAME_PS = 334240;   // 4178 B x 8 x 10 ps
constexpr int64_t HEADER_FRAME_PS = 6720;   // 84 B x 8 x 10 ps
constexpr int64_t ACK_FRAME_PS = 6880;      // 86 B x 8 x 10 ps
constexpr int64_t DRAIN_1MIB_PS = 85565440; // 8556544 bits x 10 ps

/// Path latency from first principles: L links of 1 us, store-and-forward on L - 1 of them.
constexpr int64_t
LatencyPs(int64_t links, int64_t framePs)
{
    return links * 1000000 + (links - 1) * framePs;
}

/// ACK overhead: reverse path latency of the ACK frame plus its serialization.
constexpr int64_t
AckPs(int64_t links)
{
    return LatencyPs(links, ACK_FRAME_PS) + ACK_FRAME_PS;
}

static_assert(LatencyPs(2, FULL_FRAME_PS) == 2334240, "arithmetic in the file comment");
static_assert(LatencyPs(4, FULL_FRAME_PS) == 5002720, "arithmetic in the file comment");
static_assert(LatencyPs(6, FULL_FRAME_PS) == 7671200, "arithmetic in the file comment");
static_assert(AckPs(2) == 2013760 && AckPs(4) == 4027520 && AckPs(6) == 6041280, "ACK overhead");

/// Links between two hosts of the k=4 fat-tree.
int64_t
Links(uint32_t a, uint32_t b)
{
    return (a / 2 == b / 2) ? 2 : (a / 4 == b / 4) ? 4 : 6;
}

Ptr<FabricTopology>
BuildK4(uint32_t gpusPerServer = 1)
{
    FatTreeHelper ft;
    ft.SetK(4);
    ft.SetGpusPerServer(gpusPerServer);
    FabricHelper fabric;
    return fabric.Install(ft.Build());
}

/// Records every delivery and acknowledgement, checking that each is reported at its own time.
struct Recorder
{
    std::map<uint64_t, MessageRecord> delivered;
    std::map<uint64_t, MessageRecord> acked;
    std::vector<uint64_t> deliveryOrder;
    uint32_t wrongTime{0};

    void Attach(Ptr<IdealTransport> t)
    {
        t->SetDeliveredCallback(MessageTransport::MessageCallback([this](const MessageRecord& r) {
            wrongTime += (Simulator::Now() != r.delivered);
            delivered[r.id] = r;
            deliveryOrder.push_back(r.id);
        }));
        t->SetAckedCallback(MessageTransport::MessageCallback([this](const MessageRecord& r) {
            wrongTime += (Simulator::Now() != r.acked);
            acked[r.id] = r;
        }));
    }

    int64_t Delivered(uint64_t id) const
    {
        auto it = delivered.find(id);
        return it == delivered.end() ? -1 : it->second.delivered.GetPicoSeconds();
    }

    int64_t Acked(uint64_t id) const
    {
        auto it = acked.find(id);
        return it == acked.end() ? -1 : it->second.acked.GetPicoSeconds();
    }

    int64_t FirstByte(uint64_t id) const
    {
        auto it = acked.find(id);
        return it == acked.end() ? -1 : it->second.firstByte.GetPicoSeconds();
    }
};

Ptr<IdealTransport>
MakeTransport(Ptr<FabricTopology> topo, Recorder& rec)
{
    Ptr<IdealTransport> t = CreateObject<IdealTransport>();
    t->Install(topo);
    rec.Attach(t);
    return t;
}

/// Send at absolute time @p atPs (ids are assigned in Send order, from 1).
void
SendAt(Ptr<IdealTransport> t, int64_t atPs, uint32_t src, uint32_t dst, uint8_t cls, uint64_t bytes)
{
    Simulator::Schedule(PicoSeconds(atPs),
                        [t, src, dst, cls, bytes]() { t->Send(src, dst, cls, bytes, 0); });
}

} // namespace

TEST(IdealTransport, LoneMessagesTakeWireBitsOverLineRatePlusPathLatency)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    ASSERT_EQ(topo->GetHopCount(0, 1), 2u);
    ASSERT_EQ(topo->GetHopCount(4, 6), 4u);
    ASSERT_EQ(topo->GetHopCount(8, 12), 6u);
    // Disjoint sources and destinations: three lone messages of 1 MiB.
    const uint64_t edge = t->Send(0, 1, 0, MIB, 0);   // same edge: 2 links
    const uint64_t pod = t->Send(4, 6, 0, MIB, 0);    // same pod: 4 links
    const uint64_t cross = t->Send(8, 12, 0, MIB, 0); // across pods: 6 links
    Simulator::Run();

    // delivered = 85565440 + 2334240 / 5002720 / 7671200
    EXPECT_EQ(rec.Delivered(edge), 87899680);
    EXPECT_EQ(rec.Delivered(pod), 90568160);
    EXPECT_EQ(rec.Delivered(cross), 93236640);
    // firstByte = one full frame at line rate (334240) + path latency
    EXPECT_EQ(rec.FirstByte(edge), 2668480);
    EXPECT_EQ(rec.FirstByte(pod), 5336960);
    EXPECT_EQ(rec.FirstByte(cross), 8005440);
    // acked = delivered + L x 1006880
    EXPECT_EQ(rec.Acked(edge), 87899680 + 2013760);
    EXPECT_EQ(rec.Acked(pod), 90568160 + 4027520);
    EXPECT_EQ(rec.Acked(cross), 93236640 + 6041280);
    // The closed form agrees with the simulation.
    EXPECT_EQ(t->GetUncongestedTime(0, 1, MIB).GetPicoSeconds(), 87899680);
    EXPECT_EQ(t->GetUncongestedTime(4, 6, MIB).GetPicoSeconds(), 90568160);
    EXPECT_EQ(t->GetUncongestedTime(8, 12, MIB).GetPicoSeconds(), 93236640);
    EXPECT_EQ(t->GetUncongestedTime(3, 3, MIB).GetPicoSeconds(), 0);
    EXPECT_EQ(rec.wrongTime, 0u);
    Simulator::Destroy();
}

TEST(IdealTransport, ZeroByteTinyAndPartialPacketMessages)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    // Wire bytes: 0 B -> one header-only frame 84; 1 B -> 59 stored, padded to 60, 84 wire;
    // 10000 B = 2 x 4096 + 1808 -> 2 x 4178 + (1808 + 58 + 24) = 8356 + 1890 = 10246.
    EXPECT_EQ(t->GetWireBytes(0), 84u);
    EXPECT_EQ(t->GetWireBytes(1), 84u);
    EXPECT_EQ(t->GetWireBytes(10000), 10246u);
    EXPECT_EQ(t->GetWireBytes(MIB), 256u * 4178u);

    const uint64_t zero = t->Send(0, 1, 0, 0, 0);
    const uint64_t one = t->Send(4, 5, 0, 1, 0);
    const uint64_t partial = t->Send(2, 3, 0, 10000, 0);
    Simulator::Run();
    // 0 B: drain 6720, latency for a 58-byte frame 2 x 1 us + 6720 = 2006720 -> 2013440.
    EXPECT_EQ(rec.Delivered(zero), 6720 + 2006720);
    // firstByte: the one frame at line rate + latency: the same instant.
    EXPECT_EQ(rec.FirstByte(zero), 2013440);
    // 1 B: frame of 59 stored bytes is padded to 84 on the wire: same numbers.
    EXPECT_EQ(rec.Delivered(one), 2013440);
    // 10000 B: drain 10246 x 80 = 819680; first frame 4154 -> latency 2334240.
    EXPECT_EQ(rec.Delivered(partial), 819680 + 2334240);
    EXPECT_EQ(rec.Acked(partial), 819680 + 2334240 + 2013760);
    Simulator::Destroy();
}

TEST(IdealTransport, MtuAttributeChangesPacketisation)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = CreateObject<IdealTransport>();
    EXPECT_FALSE(t->SetAttributeFailSafe("Mtu", UintegerValue(255)));
    EXPECT_FALSE(t->SetAttributeFailSafe("Mtu", UintegerValue(9001)));
    EXPECT_TRUE(t->SetAttributeFailSafe("Mtu", UintegerValue(1024)));
    t->Install(topo);
    rec.Attach(t);
    // 10000 B = 9 x 1024 + 784 -> 9 x (1024 + 82) + (784 + 82) = 9954 + 866 = 10820 wire bytes
    // = 86560 bits -> 865600 ps. First frame 1082 stored, 1106 wire -> 88480 ps per hop, so the
    // same-edge latency is 2 us + 88480 = 2088480.
    EXPECT_EQ(t->GetWireBytes(10000), 10820u);
    const uint64_t id = t->Send(6, 7, 0, 10000, 0);
    Simulator::Run();
    EXPECT_EQ(rec.Delivered(id), 865600 + 2088480);
    EXPECT_EQ(rec.FirstByte(id), 88480 + 2088480);
    Simulator::Destroy();
}

TEST(IdealTransport, OneSourceTwoDestinationsShareTheEgress)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t a = t->Send(0, 1, 0, MIB, 0); // same edge
    const uint64_t b = t->Send(0, 2, 0, MIB, 0); // same pod
    Simulator::Run();
    // 50 Gb/s each: both drain at 2 x 85565440 = 171130880.
    EXPECT_EQ(rec.Delivered(a), 171130880 + 2334240);
    EXPECT_EQ(rec.Delivered(b), 171130880 + 5002720);
    // firstByte assumes the first frame leaves at line rate.
    EXPECT_EQ(rec.FirstByte(a), 334240 + 2334240);
    EXPECT_EQ(t->GetMaxConcurrentFlows(), 2u);
    Simulator::Destroy();
}

TEST(IdealTransport, LateArrivalHalvesTheRateThenTheSurvivorSpeedsUp)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    // 0->1 alone for half its drain (42782720 ps), then 0->2 joins.
    SendAt(t, 0, 0, 1, 0, MIB);        // id 1
    SendAt(t, 42782720, 0, 2, 0, MIB); // id 2
    Simulator::Run();
    // 0->1: half left at 50 Gb/s -> another 85565440 -> drains at 128348160.
    EXPECT_EQ(rec.Delivered(1), 128348160 + 2334240);
    // 0->2: half done by then, the other half alone at 100 Gb/s -> 42782720 more = 171130880.
    EXPECT_EQ(rec.Delivered(2), 171130880 + 5002720);
    EXPECT_EQ(rec.FirstByte(2), 42782720 + 334240 + 5002720);
    Simulator::Destroy();
}

TEST(IdealTransport, IncastSharesTheIngress)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t a = t->Send(1, 0, 0, MIB, 0); // same edge
    const uint64_t b = t->Send(2, 0, 0, MIB, 0); // same pod
    Simulator::Run();
    EXPECT_EQ(rec.Delivered(a), 171130880 + 2334240);
    EXPECT_EQ(rec.Delivered(b), 171130880 + 5002720);
    EXPECT_EQ(rec.Acked(a), 171130880 + 2334240 + 2013760);
    EXPECT_EQ(rec.Acked(b), 171130880 + 5002720 + 4027520);
    Simulator::Destroy();
}

TEST(IdealTransport, MaxMinWithSharedSenderAndReceiver)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    // A=1, B=2, C=0, D=3: A->C and B->C share C's ingress (50 each); B->C and B->D share B's
    // egress, so B->D also gets 50 even though D's ingress could take 100.
    const uint64_t ac = t->Send(1, 0, 0, MIB, 0);     // same edge
    const uint64_t bc = t->Send(2, 0, 0, MIB, 0);     // same pod
    const uint64_t bd = t->Send(2, 3, 0, 2 * MIB, 0); // same edge
    std::vector<double> rates;
    Simulator::Schedule(PicoSeconds(1), [&]() {
        rates = {t->GetFlowRate(ac), t->GetFlowRate(bc), t->GetFlowRate(bd)};
    });
    Simulator::Run();
    EXPECT_EQ(rates, (std::vector<double>{50e9, 50e9, 50e9}));
    // A->C and B->C drain at 2 x 85565440 = 171130880. B->D has moved 1 MiB of its 2 by then and
    // finishes the rest alone at 100 Gb/s: 171130880 + 85565440 = 256696320.
    EXPECT_EQ(rec.Delivered(ac), 171130880 + 2334240);
    EXPECT_EQ(rec.Delivered(bc), 171130880 + 5002720);
    EXPECT_EQ(rec.Delivered(bd), 256696320 + 2334240);
    Simulator::Destroy();
}

TEST(IdealTransport, MaxMinGivesLeftoverCapacityToTheUnbottleneckedFlow)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    // Four senders into host 0 (1 MiB each): 0's ingress gives 25 Gb/s each. Host 1 also sends
    // 4 MiB to host 3; its egress has 100 - 25 = 75 Gb/s left for it (not min(100/2, 100) = 50).
    const uint64_t i1 = t->Send(1, 0, 0, MIB, 0);      // same edge
    const uint64_t i4 = t->Send(4, 0, 0, MIB, 0);      // across pods
    const uint64_t i8 = t->Send(8, 0, 0, MIB, 0);      // across pods
    const uint64_t i12 = t->Send(12, 0, 0, MIB, 0);    // across pods
    const uint64_t big = t->Send(1, 3, 0, 4 * MIB, 0); // same pod
    std::vector<double> early;
    double late = 0;
    Simulator::Schedule(PicoSeconds(1), [&]() {
        early = {t->GetFlowRate(i1),
                 t->GetFlowRate(i4),
                 t->GetFlowRate(i8),
                 t->GetFlowRate(i12),
                 t->GetFlowRate(big)};
    });
    // Just after the incast has drained, 1->3 has the whole egress.
    Simulator::Schedule(PicoSeconds(342261761), [&]() { late = t->GetFlowRate(big); });
    Simulator::Run();
    EXPECT_EQ(early, (std::vector<double>{25e9, 25e9, 25e9, 25e9, 75e9}));
    EXPECT_EQ(late, 100e9);
    // Incast drains at 8556544 bits / 25e9 = 342261760 ps.
    EXPECT_EQ(rec.Delivered(i1), 342261760 + 2334240);
    EXPECT_EQ(rec.Delivered(i4), 342261760 + 7671200);
    EXPECT_EQ(rec.Delivered(i8), 342261760 + 7671200);
    EXPECT_EQ(rec.Delivered(i12), 342261760 + 7671200);
    // 1->3: 4 MiB = 34226176 bits; by 342261760 ps it moved 75e9 x 342.26176e-6 = 25669632 bits;
    // the remaining 8556544 bits go at 100 Gb/s in 85565440 ps -> drains at 427827200.
    EXPECT_EQ(rec.Delivered(big), 427827200 + 5002720);
    EXPECT_EQ(t->GetMaxConcurrentFlows(), 5u);
    EXPECT_EQ(t->GetFlowsCompleted(), 5u);
    Simulator::Destroy();
}

TEST(IdealTransport, SameQueueCompletesInOrderAndBackToBack)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t m1 = t->Send(0, 1, 0, MIB, 0);
    const uint64_t m2 = t->Send(0, 1, 0, MIB, 0);
    double rate1 = -1;
    double rate2 = -1;
    Simulator::Schedule(PicoSeconds(1), [&]() {
        rate1 = t->GetFlowRate(m1);
        rate2 = t->GetFlowRate(m2);
    });
    Simulator::Run();
    EXPECT_EQ(rate1, 100e9);
    EXPECT_EQ(rate2, 0); // queued, not sharing
    // m2 waits for m1 (no sharing): m1 drains at 85565440, m2 at 171130880.
    EXPECT_EQ(rec.Delivered(m1), 85565440 + 2334240);
    EXPECT_EQ(rec.Delivered(m2), 171130880 + 2334240);
    // m2 starts moving when m1 has drained.
    EXPECT_EQ(rec.FirstByte(m2), 85565440 + 334240 + 2334240);
    ASSERT_EQ(rec.deliveryOrder.size(), 2u);
    EXPECT_EQ(rec.deliveryOrder[0], m1);
    EXPECT_EQ(rec.deliveryOrder[1], m2);
    EXPECT_EQ(t->GetMaxConcurrentFlows(), 1u);
    Simulator::Destroy();
}

TEST(IdealTransport, DifferentClassesRunConcurrently)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t m1 = t->Send(0, 1, 0, MIB, 0); // class 0, head
    const uint64_t m2 = t->Send(0, 1, 0, MIB, 0); // class 0, behind m1
    const uint64_t m3 = t->Send(0, 1, 1, MIB, 0); // class 1, alongside m1
    Simulator::Run();
    // m1 and m3 share 0's egress: both drain at 171130880; then m2 alone: + 85565440.
    EXPECT_EQ(rec.Delivered(m1), 171130880 + 2334240);
    EXPECT_EQ(rec.Delivered(m3), 171130880 + 2334240);
    EXPECT_EQ(rec.Delivered(m2), 256696320 + 2334240);
    EXPECT_EQ(t->GetMaxConcurrentFlows(), 2u);
    Simulator::Destroy();
}

TEST(IdealTransport, ShortMessageBehindLongOneIsNotDeliveredFirst)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t big = t->Send(0, 1, 0, MIB, 0);
    const uint64_t tiny = t->Send(0, 1, 0, 0, 0);
    Simulator::Run();
    // tiny drains at 85565440 + 6720 = 85572160; its own latency (header-only frame, 2006720)
    // would deliver it at 87578880, before big (87899680): in-order delivery holds it to 87899680.
    EXPECT_EQ(rec.Delivered(big), 87899680);
    EXPECT_EQ(rec.Delivered(tiny), 87899680);
    EXPECT_EQ(rec.FirstByte(tiny), 85565440 + 6720 + 2006720);
    EXPECT_EQ(rec.Acked(tiny), rec.Acked(big));
    ASSERT_EQ(rec.deliveryOrder.size(), 2u);
    EXPECT_EQ(rec.deliveryOrder[0], big);
    EXPECT_EQ(rec.deliveryOrder[1], tiny);
    Simulator::Destroy();
}

TEST(IdealTransport, TimelineIsOrderedAndLocalMessagesCompleteAtOnce)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);

    // A mixed workload: many sizes, shared ports, queues, classes, staggered starts.
    struct Msg
    {
        int64_t at;
        uint32_t src;
        uint32_t dst;
        uint8_t cls;
        uint64_t bytes;
    };

    const std::vector<Msg> msgs = {{0, 0, 5, 0, 300000},
                                   {0, 0, 9, 1, 0},
                                   {0, 3, 5, 0, 70000},
                                   {1000000, 0, 5, 0, 5000},
                                   {1500000, 7, 0, 2, 2 * MIB},
                                   {2000000, 9, 0, 0, 4097},
                                   {2000000, 14, 15, 0, 123},
                                   {5000000, 3, 5, 0, 1}};
    for (const Msg& m : msgs)
    {
        SendAt(t, m.at, m.src, m.dst, m.cls, m.bytes);
    }
    SendAt(t, 6000000, 6, 6, 0, 4096); // local copy: id 9
    Simulator::Run();
    ASSERT_EQ(rec.acked.size(), msgs.size() + 1);
    for (uint64_t id = 1; id <= msgs.size(); ++id)
    {
        const MessageRecord& r = rec.acked.at(id);
        const Msg& m = msgs[id - 1];
        EXPECT_EQ(r.start.GetPicoSeconds(), m.at);
        EXPECT_LE(r.start, r.firstByte) << id;
        EXPECT_LE(r.firstByte, r.delivered) << id;
        // The ACK overhead is L x 1006880 for every message here (no in-order clamping of acks
        // is possible when deliveries are already in order).
        EXPECT_EQ((r.acked - r.delivered).GetPicoSeconds(), AckPs(Links(m.dst, m.src))) << id;
        // Never faster than alone on an idle fabric.
        EXPECT_GE(r.delivered - r.start, t->GetUncongestedTime(m.src, m.dst, m.bytes)) << id;
    }
    const MessageRecord& local = rec.acked.at(9);
    EXPECT_EQ(local.start.GetPicoSeconds(), 6000000);
    EXPECT_EQ(local.firstByte.GetPicoSeconds(), 6000000);
    EXPECT_EQ(local.delivered.GetPicoSeconds(), 6000000);
    EXPECT_EQ(local.acked.GetPicoSeconds(), 6000000);
    EXPECT_EQ(t->GetFlowsCompleted(), msgs.size()); // the local copy is not a flow
    EXPECT_EQ(rec.wrongTime, 0u);
    Simulator::Destroy();
}

TEST(IdealTransport, NvLinkInsideAServerNicOutside)
{
    Ptr<FabricTopology> topo = BuildK4(4); // servers of 4 GPUs: 0..3, 4..7, ...
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    ASSERT_EQ(topo->GetEgressPort(0, 1), 1u);
    ASSERT_EQ(topo->GetEgressPort(0, 4), 0u);
    // Both at once from host 0: one over NVLink, one over the NIC; they share nothing.
    const uint64_t nv = t->Send(0, 1, 0, MIB, 0);
    const uint64_t nic = t->Send(0, 4, 0, MIB, 0);
    Simulator::Run();
    // NVLink 3.6 Tb/s, 100 ns, path GPU -> NVSwitch -> GPU (2 links):
    //   drain 8556544 bits / 3.6e12 = 2376817.78 ps -> 2376818
    //   full frame 33424 bits / 3.6e12 = 9284.44 ps -> 9285; latency 2 x 100000 + 9285 = 209285
    //   ACK frame 688 bits / 3.6e12 = 191.1 ps -> 192; ACK overhead 200000 + 192 + 192 = 200384
    EXPECT_EQ(rec.Delivered(nv), 2376818 + 209285);
    EXPECT_EQ(rec.FirstByte(nv), 9285 + 209285);
    EXPECT_EQ(rec.Acked(nv), 2376818 + 209285 + 200384);
    EXPECT_EQ(t->GetUncongestedTime(0, 1, MIB).GetPicoSeconds(), 2376818 + 209285);
    // The NIC message is unaffected: across pods, 85565440 + 7671200.
    EXPECT_EQ(rec.Delivered(nic), 93236640);
    Simulator::Destroy();
}

namespace
{
/// Rail-only cluster of 3 servers x 3 GPUs (GPU id = 3 x server + rail), NIC links @p nicBps,
/// NVLink @p nvBps: traffic to another rail of another server relays through the source
/// server's GPU on the destination's rail (PXN).
Ptr<FabricTopology>
BuildRailOnly(uint64_t nicBps, uint64_t nvBps)
{
    RailOptimizedHelper rail;
    rail.SetServers(3);
    rail.SetGpusPerServer(3);
    rail.SetSpines(0);
    LinkSpec nic;
    nic.rateBps = nicBps;
    rail.SetHostLink(nic);
    LinkSpec nv;
    nv.rateBps = nvBps;
    nv.delayPs = 100000;
    rail.SetNvLink(nv);
    FabricHelper fabric;
    return fabric.Install(rail.Build());
}

/// Delivery of a lone 1 MiB flow that drained at @p drainPs: + its path latency.
int64_t
DeliveredAfterDrain(const Ptr<FabricTopology>& topo, uint32_t src, uint32_t dst, int64_t drainPs)
{
    return drainPs + topo->GetPathLatency(src, dst, 4096 + ROCE_DATA_HEADER_BYTES).GetPicoSeconds();
}
} // namespace

TEST(IdealTransport, RelayedTrafficSharesTheRelaysNic)
{
    // 0 -> 4 (server 1, rail 1) relays through GPU 1, whose NIC also carries 1 -> 7 (server 2,
    // rail 1). The two share nothing else (0 sends over NVLink, 4 and 7 receive on their own
    // NICs), so without charging the relay each would run at 100 Gb/s; charged, 50 each.
    Ptr<FabricTopology> topo = BuildRailOnly(100000000000ull, 3600000000000ull);
    ASSERT_EQ(topo->GetRelay(0, 4), 1u);
    ASSERT_EQ(topo->GetRelay(1, 7), FabricTopology::NO_RELAY);
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t relayed = t->Send(0, 4, 0, MIB, 0);
    const uint64_t own = t->Send(1, 7, 0, MIB, 0);
    std::vector<double> rates;
    Simulator::Schedule(PicoSeconds(1), [&]() {
        rates = {t->GetFlowRate(relayed), t->GetFlowRate(own)};
    });
    Simulator::Run();
    EXPECT_EQ(rates, (std::vector<double>{50e9, 50e9}));
    // Both drain at 2 x 85565440 = 171130880.
    EXPECT_EQ(rec.Delivered(relayed), DeliveredAfterDrain(topo, 0, 4, 171130880));
    EXPECT_EQ(rec.Delivered(own), DeliveredAfterDrain(topo, 1, 7, 171130880));
    // Alone, the relayed message runs at the NIC's 100 Gb/s.
    EXPECT_EQ(t->GetUncongestedTime(0, 4, MIB).GetPicoSeconds(),
              DeliveredAfterDrain(topo, 0, 4, DRAIN_1MIB_PS));
    Simulator::Destroy();
}

TEST(IdealTransport, RelayedTrafficSharesTheRelaysNvLinkIngress)
{
    // NVLink at 100 Gb/s, NICs at 400: 0 -> 4 relays through GPU 1, entering it over NVLink,
    // where 2 -> 1 (same server) arrives too. Their sources differ (0's and 2's NVLink ports)
    // and 4's NIC takes 400 Gb/s, so only GPU 1's NVLink ingress couples them: 50 Gb/s each.
    Ptr<FabricTopology> topo = BuildRailOnly(400000000000ull, 100000000000ull);
    ASSERT_EQ(topo->GetRelay(0, 4), 1u);
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    const uint64_t relayed = t->Send(0, 4, 0, MIB, 0);
    const uint64_t local = t->Send(2, 1, 0, MIB, 0);
    std::vector<double> rates;
    Simulator::Schedule(PicoSeconds(1), [&]() {
        rates = {t->GetFlowRate(relayed), t->GetFlowRate(local)};
    });
    Simulator::Run();
    EXPECT_EQ(rates, (std::vector<double>{50e9, 50e9}));
    EXPECT_EQ(rec.Delivered(relayed), DeliveredAfterDrain(topo, 0, 4, 171130880));
    EXPECT_EQ(rec.Delivered(local), DeliveredAfterDrain(topo, 2, 1, 171130880));
    Simulator::Destroy();
}

TEST(IdealTransport, CallbacksTracesAndCountersAgree)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    uint32_t traceDelivered = 0;
    uint32_t traceAcked = 0;
    t->TraceConnectWithoutContext(
        "MessageDelivered",
        Callback<void, const MessageRecord&>(
            [&traceDelivered](const MessageRecord&) { ++traceDelivered; }));
    t->TraceConnectWithoutContext("MessageAcked",
                                  Callback<void, const MessageRecord&>(
                                      [&traceAcked](const MessageRecord&) { ++traceAcked; }));
    t->Send(0, 1, 0, 1000, 7);
    t->Send(0, 1, 0, 2000, 8);
    t->Send(5, 9, 3, 0, 9);
    t->Send(2, 2, 0, 500, 10); // local
    EXPECT_EQ(t->GetMessagesStarted(), 4u);
    EXPECT_EQ(t->GetBytesStarted(), 3500u);
    Simulator::Run();
    EXPECT_EQ(t->GetMessagesDelivered(), 4u);
    EXPECT_EQ(t->GetMessagesAcked(), 4u);
    EXPECT_EQ(t->GetBytesDelivered(), 3500u);
    EXPECT_EQ(rec.delivered.size(), 4u);
    EXPECT_EQ(rec.acked.size(), 4u);
    EXPECT_EQ(traceDelivered, 4u);
    EXPECT_EQ(traceAcked, 4u);
    EXPECT_EQ(rec.wrongTime, 0u);
    EXPECT_EQ(t->GetFlowsCompleted(), 3u);
    EXPECT_EQ(t->GetActiveFlows(), 0u);
    // 0->1 twice (one queue) and 5->9: at most two flows at once.
    EXPECT_EQ(t->GetMaxConcurrentFlows(), 2u);
    for (const auto& entry : rec.acked)
    {
        EXPECT_EQ(entry.second.tag, entry.first + 6); // tags come back untouched
    }
    Simulator::Destroy();
}

TEST(IdealTransport, SymmetricAllToAllFinishesInOneEvent)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder rec;
    Ptr<IdealTransport> t = MakeTransport(topo, rec);
    // 16 x 15 messages of 64 KiB: every egress and ingress carries 15 flows at 100/15 Gb/s.
    // 64 KiB = 16 full frames = 16 x 33424 = 534784 bits; 534784 x 15 / 100e9 s = 80217600 ps.
    for (uint32_t s = 0; s < 16; ++s)
    {
        for (uint32_t d = 0; d < 16; ++d)
        {
            if (s != d)
            {
                t->Send(s, d, 0, 65536, 0);
            }
        }
    }
    // Every flow gets exactly 100e9 / 15 bit/s, bitwise: progressive filling must not let
    // floating-point noise in the residual capacities give some flows a different last ulp.
    uint32_t unequal = 0;
    Simulator::Schedule(PicoSeconds(1), [t, &unequal]() {
        for (uint64_t id = 1; id <= 240; ++id)
        {
            unequal += (t->GetFlowRate(id) != 100e9 / 15);
        }
    });
    Simulator::Run();
    EXPECT_EQ(unequal, 0u);
    ASSERT_EQ(rec.delivered.size(), 240u);
    for (const auto& entry : rec.delivered)
    {
        const MessageRecord& r = entry.second;
        EXPECT_EQ(r.delivered.GetPicoSeconds(),
                  80217600 + LatencyPs(Links(r.src, r.dst), FULL_FRAME_PS))
            << r.src << "->" << r.dst;
    }
    // One recomputation when they start; all drain in the same completion event.
    EXPECT_EQ(t->GetRecomputations(), 1u);
    EXPECT_EQ(t->GetMaxConcurrentFlows(), 240u);
    Simulator::Destroy();
}

TEST(IdealTransport, SameInputsGiveSameTimes)
{
    Ptr<FabricTopology> topo = BuildK4();
    Recorder recA;
    Recorder recB;
    Ptr<IdealTransport> a = MakeTransport(topo, recA);
    Ptr<IdealTransport> b = MakeTransport(topo, recB);
    // A pseudo-random workload (fixed LCG) sent to two independent transports.
    uint64_t state = 12345;
    auto next = [&state](uint64_t n) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return (state >> 33) % n;
    };
    for (int i = 0; i < 400; ++i)
    {
        const int64_t at = static_cast<int64_t>(next(50)) * 1000000;
        const uint32_t src = static_cast<uint32_t>(next(16));
        const uint32_t dst = static_cast<uint32_t>(next(16));
        const uint8_t cls = static_cast<uint8_t>(next(3));
        const uint64_t bytes = next(4) == 0 ? next(100) : next(600000);
        SendAt(a, at, src, dst, cls, bytes);
        SendAt(b, at, src, dst, cls, bytes);
    }
    Simulator::Run();
    ASSERT_EQ(recA.acked.size(), 400u);
    ASSERT_EQ(recB.acked.size(), 400u);
    for (const auto& entry : recA.acked)
    {
        const MessageRecord& x = entry.second;
        const MessageRecord& y = recB.acked.at(entry.first);
        EXPECT_EQ(x.firstByte, y.firstByte);
        EXPECT_EQ(x.delivered, y.delivered);
        EXPECT_EQ(x.acked, y.acked);
        EXPECT_GE(x.delivered - x.start, a->GetUncongestedTime(x.src, x.dst, x.bytes));
    }
    EXPECT_EQ(recA.deliveryOrder, recB.deliveryOrder);
    EXPECT_EQ(recA.wrongTime + recB.wrongTime, 0u);
    Simulator::Destroy();
}

namespace
{
/// All-to-all on a k-ary fat-tree; prints wall time. For benchmarks, not for ctest. With
/// @p skewed, every pair sends a pseudo-random size in [1, bytes] instead (many completion times).
void
RunAllToAll(uint32_t k, uint64_t bytes, bool skewed = false)
{
    uint64_t state = 42;
    auto size = [&state, bytes, skewed]() {
        if (!skewed)
        {
            return bytes;
        }
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        return 1 + (state >> 33) % bytes;
    };
    const auto t0 = std::chrono::steady_clock::now();
    FatTreeHelper ft;
    ft.SetK(k);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    Ptr<IdealTransport> t = CreateObject<IdealTransport>();
    t->Install(topo);
    const uint32_t n = topo->GetNumGpus();
    const auto t1 = std::chrono::steady_clock::now();
    for (uint32_t s = 0; s < n; ++s)
    {
        for (uint32_t d = 0; d < n; ++d)
        {
            if (s != d)
            {
                t->Send(s, d, 0, size(), 0);
            }
        }
    }
    Simulator::Run();
    const auto t2 = std::chrono::steady_clock::now();
    const double build = std::chrono::duration<double>(t1 - t0).count();
    const double run = std::chrono::duration<double>(t2 - t1).count();
    std::printf("k=%u hosts=%u flows=%llu bytes=%s%llu: fabric build %.2f s, send+run %.2f s, "
                "simulated %.3f us, recomputations %llu\n",
                k,
                n,
                static_cast<unsigned long long>(t->GetFlowsCompleted()),
                skewed ? "1.." : "",
                static_cast<unsigned long long>(bytes),
                build,
                run,
                Simulator::Now().GetPicoSeconds() / 1e6,
                static_cast<unsigned long long>(t->GetRecomputations()));
    EXPECT_EQ(t->GetMessagesAcked(), static_cast<uint64_t>(n) * (n - 1));
    Simulator::Destroy();
}
} // namespace

TEST(IdealTransport, DISABLED_BenchmarkAllToAllK8)
{
    RunAllToAll(8, 256 * 1024);
}

TEST(IdealTransport, DISABLED_BenchmarkAllToAllK16)
{
    RunAllToAll(16, 16 * 1024);
}

TEST(IdealTransport, DISABLED_BenchmarkAllToAllK8Skewed)
{
    RunAllToAll(8, 512 * 1024, true);
}
