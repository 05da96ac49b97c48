/*
 * SharedBufferMmu: cells, dynamic thresholds, reserves, PFC thresholds and headroom, ECN
 * marking at dequeue, validation; and a lossy incast through a fabric of shared-buffer switches.
 */
#include "ns3/boolean.h"
#include "ns3/data-rate.h"
#include "ns3/double.h"
#include "ns3/ethernet-header.h"
#include "ns3/fabric-channel.h"
#include "ns3/fabric-frame.h"
#include "ns3/fabric-helper.h"
#include "ns3/fabric-stats.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/integer.h"
#include "ns3/ipv4-header.h"
#include "ns3/node.h"
#include "ns3/partitioned-buffer-mmu.h"
#include "ns3/rdma-transport.h"
#include "ns3/roce-frame-header.h"
#include "ns3/shared-buffer-mmu.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <deque>
#include <gtest/gtest.h>
#include <map>

using namespace ns3;
using namespace ns3::moe;

namespace
{
/// Bytes of a stored RoCE frame with a 4096-byte payload (Ethernet .. ICRC): 17 cells of 256.
constexpr uint32_t MTU_FRAME = 4096 + ROCE_DATA_HEADER_BYTES;
constexpr uint32_t MTU_CELLS = 17;

/// A RoCEv2 frame of exactly @p bytes stored bytes, on @p priority, with ECN codepoint @p ecn.
Ptr<Packet>
MakeFrame(uint32_t bytes, uint8_t priority, uint8_t ecn = ECN_ECT0)
{
    RoceFrameHeader h;
    h.SetMacs(GpuMacAddress(1, 0), GpuMacAddress(2, 0));
    h.m_srcIp = GpuIpv4Address(1).Get();
    h.m_dstIp = GpuIpv4Address(2).Get();
    h.m_tos = static_cast<uint8_t>((DscpForPriority(priority) << 2) | ecn);
    Ptr<Packet> packet = Create<Packet>(bytes - h.GetSerializedSize());
    packet->AddHeader(h);
    return packet;
}

QueueEntry
MakeEntry(uint32_t bytes, uint8_t priority, uint16_t inPort, uint8_t ecn = ECN_ECT0)
{
    QueueEntry e;
    e.packet = MakeFrame(bytes, priority, ecn);
    e.bytes = e.packet->GetSize();
    e.priority = priority;
    e.inPort = inPort;
    return e;
}

/// An MMU for @p ports ports, configured by @p attributes, initialized.
Ptr<SharedBufferMmu>
MakeMmu(uint32_t ports, const std::map<std::string, std::string>& attributes)
{
    Ptr<SharedBufferMmu> mmu = CreateObject<SharedBufferMmu>();
    for (const auto& [name, value] : attributes)
    {
        mmu->SetAttribute(name, StringValue(value));
    }
    EXPECT_EQ(mmu->Validate(ports), "");
    mmu->Initialize(ports);
    return mmu;
}

/// Admit MTU frames to (@p port, @p priority) until one is refused; returns the admitted ones.
std::deque<QueueEntry>
FillQueue(Ptr<SharedBufferMmu> mmu, uint32_t port, uint8_t priority, DropReason& reason)
{
    std::deque<QueueEntry> q;
    for (int i = 0; i < 100000; ++i)
    {
        QueueEntry e = MakeEntry(MTU_FRAME, priority, 0);
        if (!mmu->Admit(e, port, reason))
        {
            return q;
        }
        q.push_back(e);
    }
    ADD_FAILURE() << "the queue never filled";
    return q;
}

void
ReleaseAll(Ptr<SharedBufferMmu> mmu, std::deque<QueueEntry>& q, uint32_t port)
{
    while (!q.empty())
    {
        mmu->Release(q.front(), port);
        q.pop_front();
    }
}

/// Fraction of frames marked CE when every dequeue leaves @p heldBytes of 1000-byte frames.
double
MarkedFraction(Ptr<SharedBufferMmu> mmu, uint64_t heldBytes, uint32_t dequeues, uint8_t ecn)
{
    const uint32_t frame = 1000;
    std::deque<QueueEntry> q;
    DropReason reason;
    for (uint64_t b = 0; b <= heldBytes; b += frame)
    {
        q.push_back(MakeEntry(frame, 0, 1, ecn));
        EXPECT_TRUE(mmu->Admit(q.back(), 2, reason));
    }
    uint64_t marked = 0;
    for (uint32_t i = 0; i < dequeues; ++i)
    {
        QueueEntry& head = q.front();
        const uint64_t before = mmu->GetEcnMarks();
        mmu->Release(head, 2);
        EXPECT_EQ(mmu->GetQueueBytes(2, 0), heldBytes);
        marked += mmu->GetEcnMarks() - before;
        q.pop_front();
        q.push_back(MakeEntry(frame, 0, 1, ecn));
        EXPECT_TRUE(mmu->Admit(q.back(), 2, reason));
    }
    ReleaseAll(mmu, q, 2);
    EXPECT_EQ(mmu->CheckAccounting(), "");
    return static_cast<double>(marked) / dequeues;
}

/// Pause/resume requests seen by the pause callback.
struct PauseLog
{
    std::vector<std::tuple<uint32_t, uint8_t, bool>> calls;

    void On(uint32_t port, uint8_t priority, bool pause)
    {
        calls.emplace_back(port, priority, pause);
    }
};
} // namespace

TEST(SharedBufferMmu, FramesCostWholeCells)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(4, {{"EgressReservedBytes", "0"}});
    EXPECT_EQ(mmu->GetCellSize(), 256u);
    EXPECT_EQ(mmu->CellsFor(64), 1u);
    EXPECT_EQ(mmu->CellsFor(256), 1u);
    EXPECT_EQ(mmu->CellsFor(257), 2u);
    EXPECT_EQ(mmu->CellsFor(MTU_FRAME), MTU_CELLS);
    // A 64-byte ACK occupies a whole cell of the pool.
    QueueEntry ack = MakeEntry(64, 6, 0, ECN_NOT_ECT);
    DropReason reason;
    ASSERT_TRUE(mmu->Admit(ack, 1, reason));
    EXPECT_EQ(mmu->GetQueueCells(1, 6), 1u);
    EXPECT_EQ(mmu->GetQueueBytes(1, 6), 64u);
    EXPECT_EQ(mmu->GetPoolCells(SharedBufferMmu::LOSSY_POOL), 1u);
    EXPECT_EQ(mmu->GetPoolBytes(SharedBufferMmu::LOSSY_POOL), 64u);
    EXPECT_EQ(mmu->GetUsedCells(), 1u);
    mmu->Release(ack, 1);
    EXPECT_EQ(mmu->CheckAccounting(), "");
    EXPECT_EQ(mmu->GetPeakPoolCells(SharedBufferMmu::LOSSY_POOL), 1u);

    Ptr<SharedBufferMmu> small = MakeMmu(4, {{"CellSize", "64"}});
    EXPECT_EQ(small->CellsFor(MTU_FRAME), 65u); // 4154 / 64 = 64.9
    EXPECT_EQ(small->GetTotalCells(), (16u << 20) / 64);
}

TEST(SharedBufferMmu, OneCongestedQueueSettlesAtAlphaOverOnePlusAlpha)
{
    for (double alpha : {1.0, 4.0})
    {
        // 1 MiB, no reserves: the lossy pool is all 4096 cells.
        Ptr<SharedBufferMmu> mmu = MakeMmu(4,
                                           {{"BufferSize", "1048576"},
                                            {"EgressReservedBytes", "0"},
                                            {"Alpha", std::to_string(alpha)}});
        const double pool = static_cast<double>(mmu->GetPoolSizeCells(SharedBufferMmu::LOSSY_POOL));
        ASSERT_EQ(pool, 4096.0);
        DropReason reason = DropReason::COUNT;
        std::deque<QueueEntry> q = FillQueue(mmu, 1, 0, reason);
        EXPECT_EQ(reason, DropReason::EGRESS_THRESHOLD);
        const double cells = static_cast<double>(mmu->GetQueueCells(1, 0));
        const double expected = alpha / (1 + alpha) * pool; // 2048 (alpha 1), 3276.8 (alpha 4)
        EXPECT_NEAR(cells, expected, MTU_CELLS) << "alpha " << alpha;
        RecordProperty(alpha == 1.0 ? "alpha1_cells" : "alpha4_cells", static_cast<int>(cells));
        EXPECT_EQ(mmu->GetDrops(DropReason::EGRESS_THRESHOLD), 1u);
        ReleaseAll(mmu, q, 1);
        EXPECT_EQ(mmu->CheckAccounting(), "");
    }
}

TEST(SharedBufferMmu, TwoCongestedQueuesEachGetAlphaOverOnePlusTwoAlpha)
{
    for (double alpha : {1.0, 4.0})
    {
        Ptr<SharedBufferMmu> mmu = MakeMmu(4,
                                           {{"BufferSize", "1048576"},
                                            {"EgressReservedBytes", "0"},
                                            {"Alpha", std::to_string(alpha)}});
        const double pool = static_cast<double>(mmu->GetPoolSizeCells(SharedBufferMmu::LOSSY_POOL));
        std::deque<QueueEntry> q1;
        std::deque<QueueEntry> q2;
        bool open1 = true;
        bool open2 = true;
        DropReason reason;
        while (open1 || open2)
        {
            if (open1)
            {
                QueueEntry e = MakeEntry(MTU_FRAME, 0, 0);
                open1 = mmu->Admit(e, 1, reason);
                if (open1)
                {
                    q1.push_back(e);
                }
            }
            if (open2)
            {
                QueueEntry e = MakeEntry(MTU_FRAME, 0, 0);
                open2 = mmu->Admit(e, 2, reason);
                if (open2)
                {
                    q2.push_back(e);
                }
            }
        }
        const double expected = alpha / (1 + 2 * alpha) * pool; // 1365.3 (1), 1820.4 (4)
        EXPECT_NEAR(static_cast<double>(mmu->GetQueueCells(1, 0)), expected, MTU_CELLS);
        EXPECT_NEAR(static_cast<double>(mmu->GetQueueCells(2, 0)), expected, MTU_CELLS);
        RecordProperty(alpha == 1.0 ? "alpha1_q1_cells" : "alpha4_q1_cells",
                       static_cast<int>(mmu->GetQueueCells(1, 0)));
        ReleaseAll(mmu, q1, 1);
        ReleaseAll(mmu, q2, 2);
        EXPECT_EQ(mmu->CheckAccounting(), "");
    }
}

TEST(SharedBufferMmu, ReservedCellsAreAlwaysAvailable)
{
    // Each lossy queue reserves exactly two MTU frames (34 cells); alpha 64 lets a few queues
    // take the whole pool.
    Ptr<SharedBufferMmu> mmu =
        MakeMmu(4,
                {{"BufferSize", "1048576"},
                 {"EgressReservedBytes", std::to_string(2 * MTU_CELLS * 256)},
                 {"Alpha", "64"}});
    EXPECT_EQ(mmu->GetEgressReservedCells(), 2 * MTU_CELLS);
    EXPECT_EQ(mmu->GetPoolSizeCells(SharedBufferMmu::RESERVED_POOL), 4u * 8 * 2 * MTU_CELLS);
    std::vector<std::pair<uint32_t, std::deque<QueueEntry>>> hogs;
    DropReason reason;
    for (uint32_t port : {0u, 1u, 3u})
    {
        for (uint8_t p = 0; p < 3; ++p)
        {
            hogs.emplace_back(port, FillQueue(mmu, port, p, reason));
        }
    }
    const uint64_t pool = mmu->GetPoolSizeCells(SharedBufferMmu::LOSSY_POOL);
    EXPECT_GT(mmu->GetPoolCells(SharedBufferMmu::LOSSY_POOL) + MTU_CELLS, pool);
    // Port 2's queue has nothing in the pool, yet admits its two reserved frames, not a third.
    std::deque<QueueEntry> mine;
    for (int i = 0; i < 2; ++i)
    {
        mine.push_back(MakeEntry(MTU_FRAME, 0, 0));
        EXPECT_TRUE(mmu->Admit(mine.back(), 2, reason)) << "frame " << i;
    }
    QueueEntry third = MakeEntry(MTU_FRAME, 0, 0);
    EXPECT_FALSE(mmu->Admit(third, 2, reason));
    EXPECT_TRUE(reason == DropReason::POOL_FULL || reason == DropReason::EGRESS_THRESHOLD);
    EXPECT_EQ(mmu->GetQueueCells(2, 0), 2 * MTU_CELLS);
    ReleaseAll(mmu, mine, 2);
    for (auto& [port, q] : hogs)
    {
        ReleaseAll(mmu, q, port);
    }
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

TEST(SharedBufferMmu, PoolFullWhenAlphaExceedsThePool)
{
    // With a huge alpha the threshold never binds; the pool runs out first.
    Ptr<SharedBufferMmu> mmu =
        MakeMmu(2, {{"BufferSize", "262144"}, {"EgressReservedBytes", "0"}, {"Alpha", "1000"}});
    DropReason reason = DropReason::COUNT;
    std::deque<QueueEntry> q = FillQueue(mmu, 1, 2, reason);
    EXPECT_EQ(reason, DropReason::POOL_FULL);
    EXPECT_EQ(q.size(), 1024u / MTU_CELLS); // 60 frames fill 1020 of 1024 cells
    ReleaseAll(mmu, q, 1);
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

TEST(SharedBufferMmu, AccountingReturnsToZeroAfterAMixedRun)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(6,
                                       {{"BufferSize", "2097152"},
                                        {"LosslessPriorities", "24"}, // 3 and 4
                                        {"HeadroomAuto", "false"},
                                        {"HeadroomBytes", "40000"},
                                        {"XoffBytes", "30000"},
                                        {"Alpha", "0.5"}});
    FastRng rng(7);
    std::map<std::pair<uint32_t, uint8_t>, std::deque<QueueEntry>> queues;
    DropReason reason;
    uint64_t admitted = 0;
    for (int i = 0; i < 20000; ++i)
    {
        const uint32_t out = rng.Below(6);
        const uint8_t p = static_cast<uint8_t>(rng.Below(8));
        if (rng.Below(3) != 0)
        {
            const uint32_t bytes = 60 + rng.Below(MTU_FRAME - 59);
            const uint16_t in =
                rng.Below(10) == 0 ? LOCAL_PORT : static_cast<uint16_t>(rng.Below(6));
            QueueEntry e = MakeEntry(bytes, p, in);
            if (mmu->Admit(e, out, reason))
            {
                queues[{out, p}].push_back(e);
                ++admitted;
            }
        }
        else
        {
            auto& q = queues[{out, p}];
            if (!q.empty())
            {
                mmu->Release(q.front(), out);
                q.pop_front();
            }
        }
    }
    EXPECT_GT(admitted, 5000u);
    EXPECT_NE(mmu->CheckAccounting(), "");
    EXPECT_GT(mmu->GetPeakPoolCells(SharedBufferMmu::LOSSLESS_POOL), 0u);
    for (auto& [key, q] : queues)
    {
        ReleaseAll(mmu, q, key.first);
    }
    EXPECT_EQ(mmu->CheckAccounting(), "");
    for (uint8_t pool = 0; pool < SharedBufferMmu::NUM_POOLS; ++pool)
    {
        EXPECT_EQ(mmu->GetPoolCells(static_cast<SharedBufferMmu::Pool>(pool)), 0u);
        EXPECT_EQ(mmu->GetPoolBytes(static_cast<SharedBufferMmu::Pool>(pool)), 0u);
    }
    EXPECT_EQ(mmu->GetPauseRequests(), mmu->GetResumeRequests());
}

TEST(SharedBufferMmu, LosslessPausesAtXoffUsesHeadroomAndResumesAtXon)
{
    // Priority 3 lossless. Ingress reserve 1248 B = 5 cells; XOFF 170 cells; XON 170 - 51;
    // headroom 85 cells = 5 MTU frames.
    Ptr<SharedBufferMmu> mmu = MakeMmu(4,
                                       {{"BufferSize", "4194304"},
                                        {"LosslessPriorities", "8"},
                                        {"XoffBytes", std::to_string(170 * 256)},
                                        {"XonOffsetBytes", std::to_string(51 * 256)},
                                        {"HeadroomAuto", "false"},
                                        {"HeadroomBytes", std::to_string(85 * 256)}});
    PauseLog log;
    mmu->SetPauseCallback(MakeCallback(&PauseLog::On, &log));
    uint32_t traced = 0;
    mmu->TraceConnectWithoutContext("PauseRequest",
                                    MakeBoundCallback(
                                        +[](uint32_t* n, uint32_t, uint8_t, bool) { ++*n; },
                                        &traced));
    ASSERT_EQ(mmu->GetIngressReservedCells(), 5u);
    ASSERT_EQ(mmu->GetXoffCells(), 170u);
    std::deque<QueueEntry> frames;
    DropReason reason;
    // Frames 1..10 fit under XOFF: 5 reserve + 12 + 9 x 17 = 165 shared cells.
    for (int i = 0; i < 10; ++i)
    {
        frames.push_back(MakeEntry(MTU_FRAME, 3, 0));
        ASSERT_TRUE(mmu->Admit(frames.back(), 1, reason));
    }
    EXPECT_TRUE(log.calls.empty());
    EXPECT_EQ(mmu->GetHeadroomCells(0, 3), 0u);
    // Frame 11 crosses XOFF: it goes to headroom and a pause is requested, once.
    frames.push_back(MakeEntry(MTU_FRAME, 3, 0));
    ASSERT_TRUE(mmu->Admit(frames.back(), 1, reason));
    ASSERT_EQ(log.calls.size(), 1u);
    EXPECT_EQ(log.calls[0], std::make_tuple(0u, uint8_t(3), true));
    EXPECT_TRUE(mmu->IsPauseRequested(0, 3));
    EXPECT_EQ(mmu->GetHeadroomCells(0, 3), MTU_CELLS);
    // Frames 12..15 fill the headroom exactly; 16 overflows it.
    for (int i = 0; i < 4; ++i)
    {
        frames.push_back(MakeEntry(MTU_FRAME, 3, 0));
        ASSERT_TRUE(mmu->Admit(frames.back(), 2, reason)) << i;
    }
    EXPECT_EQ(mmu->GetHeadroomCells(0, 3), 85u);
    EXPECT_EQ(mmu->GetPoolCells(SharedBufferMmu::HEADROOM_POOL), 85u);
    QueueEntry overflow = MakeEntry(MTU_FRAME, 3, 0);
    EXPECT_FALSE(mmu->Admit(overflow, 1, reason));
    EXPECT_EQ(reason, DropReason::HEADROOM_OVERFLOW);
    EXPECT_EQ(mmu->GetDrops(DropReason::HEADROOM_OVERFLOW), 1u);
    EXPECT_EQ(log.calls.size(), 1u) << "still one pause";
    EXPECT_EQ(mmu->GetPauseRequests(0), 1u);
    // Lossless frames count on their egress queue but no egress threshold refused them.
    EXPECT_EQ(mmu->GetQueueCells(1, 3), 11u * MTU_CELLS);
    EXPECT_EQ(mmu->GetIngressCells(0, 3), 15u * MTU_CELLS);

    // The frames leave in arrival order, as from FIFO queues. Headroom cells go back first,
    // whichever frame leaves: frame 1 returns its 5 reserve cells and 12 headroom cells,
    // frames 2..5 17 headroom cells each (5 left), frame 6 the last 5 and 12 shared cells
    // (shared 153), frame 7 -> 136, frame 8 -> 119 = XON: the 8th release resumes, once. (Had
    // each frame returned its own cells, the headroom -- the last frames -- would empty only
    // with the queue, and XON would wait for the 15th.)
    const std::vector<uint32_t> egressOf{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2};
    for (uint32_t i = 0; i < 7; ++i)
    {
        mmu->Release(frames.front(), egressOf[i]);
        frames.pop_front();
        EXPECT_EQ(log.calls.size(), 1u) << "no resume after release " << i + 1;
        if (i == 4)
        {
            EXPECT_EQ(mmu->GetHeadroomCells(0, 3), 5u);
        }
    }
    EXPECT_EQ(mmu->GetHeadroomCells(0, 3), 0u);
    EXPECT_EQ(mmu->GetPoolCells(SharedBufferMmu::HEADROOM_POOL), 0u);
    EXPECT_EQ(mmu->GetPoolBytes(SharedBufferMmu::HEADROOM_POOL), 0u);
    mmu->Release(frames.front(), 1);
    frames.pop_front();
    ASSERT_EQ(log.calls.size(), 2u);
    EXPECT_EQ(log.calls[1], std::make_tuple(0u, uint8_t(3), false));
    EXPECT_EQ(mmu->GetIngressCells(0, 3), 7u * MTU_CELLS);
    for (uint32_t i = 8; i < 15; ++i)
    {
        mmu->Release(frames.front(), egressOf[i]);
        frames.pop_front();
    }
    EXPECT_EQ(log.calls.size(), 2u);
    EXPECT_EQ(traced, 2u);
    EXPECT_EQ(mmu->GetPauseRequests(), 1u);
    EXPECT_EQ(mmu->GetResumeRequests(), 1u);
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

TEST(SharedBufferMmu, DynamicXoffFollowsTheFreeLosslessPool)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(4,
                                       {{"BufferSize", "1048576"},
                                        {"LosslessPriorities", "255"},
                                        {"IngressReservedBytes", "0"},
                                        {"XoffAlpha", "0.5"},
                                        {"HeadroomAuto", "false"},
                                        {"HeadroomBytes", "16384"}});
    const uint64_t pool = mmu->GetPoolSizeCells(SharedBufferMmu::LOSSLESS_POOL);
    EXPECT_EQ(pool, 4096u - 4 * 8 * 64); // per-PG headroom 64 cells x 32 PGs
    EXPECT_EQ(mmu->GetXoffCells(), pool / 2);
    // One PG alone pauses near alpha/(1+alpha) of the pool (the same fixed point as egress).
    std::deque<QueueEntry> frames;
    DropReason reason;
    while (!mmu->IsPauseRequested(2, 5))
    {
        frames.push_back(MakeEntry(MTU_FRAME, 5, 2));
        ASSERT_TRUE(mmu->Admit(frames.back(), 0, reason));
    }
    const double shared = static_cast<double>(mmu->GetPoolCells(SharedBufferMmu::LOSSLESS_POOL));
    EXPECT_NEAR(shared, pool / 3.0, MTU_CELLS);
    ReleaseAll(mmu, frames, 0);
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

TEST(SharedBufferMmu, SharedHeadroomPoolLimitsAllPriorityGroups)
{
    Ptr<SharedBufferMmu> mmu =
        MakeMmu(4,
                {{"BufferSize", "1048576"},
                 {"LosslessPriorities", "8"},
                 {"IngressReservedBytes", "0"},
                 {"XoffBytes", std::to_string(MTU_CELLS * 256)},
                 {"SharedHeadroomBytes", std::to_string(3 * MTU_CELLS * 256)},
                 {"HeadroomAuto", "false"}});
    EXPECT_EQ(mmu->GetPoolSizeCells(SharedBufferMmu::HEADROOM_POOL), 3u * MTU_CELLS);
    std::deque<QueueEntry> frames;
    DropReason reason;
    // Two PGs (ports 0 and 1): one frame each under XOFF, then they share 3 headroom frames.
    for (uint16_t in : {0, 1, 0, 1, 0})
    {
        frames.push_back(MakeEntry(MTU_FRAME, 3, in));
        ASSERT_TRUE(mmu->Admit(frames.back(), 2, reason));
    }
    QueueEntry late = MakeEntry(MTU_FRAME, 3, 1);
    EXPECT_FALSE(mmu->Admit(late, 2, reason));
    EXPECT_EQ(reason, DropReason::HEADROOM_OVERFLOW);
    EXPECT_TRUE(mmu->IsPauseRequested(0, 3));
    EXPECT_TRUE(mmu->IsPauseRequested(1, 3));
    ReleaseAll(mmu, frames, 2);
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

TEST(SharedBufferMmu, FramesOfTheSwitchItselfChargeOnlyEgress)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(
        4,
        {{"LosslessPriorities", "8"}, {"HeadroomAuto", "false"}, {"HeadroomBytes", "9000"}});
    QueueEntry control = MakeEntry(64, 3, LOCAL_PORT, ECN_NOT_ECT);
    DropReason reason;
    ASSERT_TRUE(mmu->Admit(control, 1, reason));
    EXPECT_EQ(mmu->GetQueueCells(1, 3), 1u);
    EXPECT_EQ(mmu->GetPoolCells(SharedBufferMmu::LOSSLESS_POOL), 1u);
    for (uint32_t port = 0; port < 4; ++port)
    {
        EXPECT_EQ(mmu->GetIngressCells(port, 3), 0u);
    }
    mmu->Release(control, 1);
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

TEST(SharedBufferMmu, HeadroomFormulaMatchesTheHandComputedValue)
{
    // 400 Gb/s, 100 m of fiber (500 ns), 4096-byte frames, 905 quanta response time:
    //   2 x 8 x (4096 + 24) = 65 920 bits  (MTU[R] delaying the PFC frame, MTU[S] in progress)
    //   8 x 84              =    672 bits  (the PFC frame: 64 B + preamble 8 + IFG 12)
    //   2 x 400e9 x 500e-9  = 400 000 bits (cable round trip)
    //   905 x 512           = 463 360 bits (peer response, IEEE 802.3 Annex 31B)
    //   total 929 952 bits  = 116 244 bytes
    EXPECT_EQ(SharedBufferMmu::PauseResponseBits(400000000000ull), 463360u);
    EXPECT_EQ(SharedBufferMmu::PauseResponseBits(100000000000ull), 201728u);
    EXPECT_EQ(SharedBufferMmu::PauseResponseBits(10000000000ull), 30720u);
    EXPECT_EQ(SharedBufferMmu::HeadroomBytes(400000000000ull, 500000, 4096, 463360), 116244u);
    // 100 Gb/s: 65 920 + 672 + 100 000 + 201 728 = 368 320 bits = 46 040 bytes.
    EXPECT_EQ(SharedBufferMmu::HeadroomBytes(100000000000ull, 500000, 4096, 201728), 46040u);

    // Automatic sizing per port: ceil(116 244 / 4 120) = 29 frames of 16 cells (4096 / 256),
    // plus the frame that finds the PG over XOFF: 30.
    Ptr<SharedBufferMmu> mmu = MakeMmu(2,
                                       {{"LosslessPriorities", "8"},
                                        {"MaxFrameBytes", "4096"},
                                        {"HeadroomLinkRate", "400Gbps"},
                                        {"HeadroomPropagationDelay", "500ns"}});
    EXPECT_EQ(mmu->GetHeadroomLimitCells(0), 30u * 16);
    // A slower port gets less: ceil(46 040 / 4 120) + 1 = 13 frames.
    mmu->SetPortLink(1, 100000000000ull, 500000);
    EXPECT_EQ(mmu->GetHeadroomLimitCells(1), 13u * 16);
    EXPECT_EQ(mmu->GetPoolSizeCells(SharedBufferMmu::HEADROOM_POOL), (30u + 13u) * 16);
}

TEST(SharedBufferMmu, MarkingFractionFollowsTheRedCurve)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(4,
                                       {{"Alpha", "8"},
                                        {"EcnKminBytes", "10000"},
                                        {"EcnKmaxBytes", "30000"},
                                        {"EcnPmax", "0.2"},
                                        {"Seed", "42"}});
    // Midpoint: Pmax / 2 = 0.1, within 2% of Pmax (100 000 dequeues: sigma = 0.00095).
    const double mid = MarkedFraction(mmu, 20000, 100000, ECN_ECT0);
    EXPECT_NEAR(mid, 0.1, 0.02 * 0.2);
    RecordProperty("red_midpoint_fraction", std::to_string(mid));
    EXPECT_NEAR(MarkedFraction(mmu, 15000, 20000, ECN_ECT1), 0.05, 0.004);
    EXPECT_NEAR(MarkedFraction(mmu, 25000, 20000, ECN_ECT0), 0.15, 0.006);
    EXPECT_EQ(MarkedFraction(mmu, 10000, 2000, ECN_ECT0), 0.0); // at Kmin: never
    EXPECT_EQ(MarkedFraction(mmu, 31000, 2000, ECN_ECT0), 1.0); // above Kmax: always
    EXPECT_EQ(MarkedFraction(mmu, 40000, 2000, ECN_NOT_ECT), 0.0);
    EXPECT_EQ(mmu->GetEcnMarks(), mmu->GetEcnMarks(2));
}

TEST(SharedBufferMmu, StepThresholdMarksExactlyAboveK)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(4, {{"Alpha", "8"}});
    mmu->SetEcnStep(0, 20000);
    EXPECT_EQ(MarkedFraction(mmu, 20000, 1000, ECN_ECT0), 0.0);
    EXPECT_EQ(MarkedFraction(mmu, 21000, 1000, ECN_ECT0), 1.0);
    EXPECT_EQ(MarkedFraction(mmu, 21000, 1000, ECN_NOT_ECT), 0.0);
    mmu->SetEcnEnabled(0, false);
    EXPECT_EQ(MarkedFraction(mmu, 50000, 1000, ECN_ECT0), 0.0);
}

TEST(SharedBufferMmu, MarkedFramesCarryCeWithAValidChecksum)
{
    Ptr<SharedBufferMmu> mmu = MakeMmu(4, {{"Alpha", "8"}});
    mmu->SetEcnStep(0, 0);
    std::vector<std::tuple<uint32_t, uint8_t, uint64_t>> marks;
    mmu->TraceConnectWithoutContext(
        "EcnMark",
        MakeBoundCallback(
            +[](std::vector<std::tuple<uint32_t, uint8_t, uint64_t>>* v,
                Ptr<const Packet>,
                uint32_t port,
                uint8_t priority,
                uint64_t bytes) { v->emplace_back(port, priority, bytes); },
            &marks));
    DropReason reason;
    for (uint8_t ecn : {ECN_ECT0, ECN_ECT1, ECN_CE, ECN_NOT_ECT})
    {
        QueueEntry a = MakeEntry(1000, 0, 1, ecn);
        QueueEntry b = MakeEntry(1500, 0, 1, ecn);
        ASSERT_TRUE(mmu->Admit(a, 3, reason));
        ASSERT_TRUE(mmu->Admit(b, 3, reason));
        mmu->Release(a, 3); // leaves 1500 bytes > K = 0 behind it
        EXPECT_EQ(a.packet->GetSize(), 1000u);
        FrameInfo info;
        RoceInfo roce;
        ASSERT_TRUE(ParseFrame(a.packet, info, &roce));
        EXPECT_EQ(info.ecn, (ecn == ECN_NOT_ECT) ? ECN_NOT_ECT : ECN_CE) << +ecn;
        EXPECT_EQ(info.dscp, DscpForPriority(0));
        EXPECT_TRUE(roce.valid);
        EthernetHeader eth(false);
        Ptr<Packet> copy = a.packet->Copy();
        copy->RemoveHeader(eth);
        Ipv4Header ip;
        ip.EnableChecksum();
        copy->PeekHeader(ip);
        EXPECT_TRUE(ip.IsChecksumOk()) << +ecn;
        EXPECT_EQ(ip.GetSource(), GpuIpv4Address(1));
        mmu->Release(b, 3); // leaves 0 bytes: not marked
        ParseFrame(b.packet, info);
        EXPECT_EQ(info.ecn, ecn);
    }
    // ECT(0) and ECT(1) were marked; CE stays CE and is not counted; not-ECT is never marked.
    EXPECT_EQ(mmu->GetEcnMarks(), 2u);
    ASSERT_EQ(marks.size(), 2u);
    EXPECT_EQ(marks[0], std::make_tuple(3u, uint8_t(0), uint64_t(1500)));
    EXPECT_EQ(mmu->CheckAccounting(), "");
}

namespace
{
/// Records what arrives at a device: the frame and the header fields that travelled with it.
class RecordingSink : public FabricFrameSink
{
  public:
    std::vector<std::pair<Ptr<Packet>, FrameInfo>> frames;

    void ReceiveFrame(const Ptr<Packet>& packet, const FrameInfo& info, uint32_t) override
    {
        frames.emplace_back(packet, info);
    }
};
} // namespace

TEST(SharedBufferMmu, HeaderFieldsTravellingWithAFrameFollowItsCeMark)
{
    // Switches forward by the header fields parsed once and carried with the frame; a CE mark
    // rewrites the bytes, and the carried fields must say the same as the bytes at the next hop.
    FabricHelper::EnsurePicosecondResolution();
    Ptr<FabricChannel> channel = CreateObject<FabricChannel>();
    Ptr<FabricNetDevice> a = CreateObject<FabricNetDevice>();
    Ptr<FabricNetDevice> b = CreateObject<FabricNetDevice>();
    RecordingSink sink;
    for (const auto& dev : {a, b})
    {
        dev->SetDataRate(DataRate("100Gbps"));
        dev->SetNode(CreateObject<Node>());
        dev->Attach(channel);
    }
    b->SetFrameSink(&sink);
    Ptr<SharedBufferMmu> mmu = MakeMmu(1, {{"Alpha", "8"}});
    mmu->SetEcnStep(0, 0); // mark every frame that leaves another one behind
    a->SetAdmission(mmu);
    DropReason reason;
    for (int i = 0; i < 3; ++i)
    {
        QueueEntry e = MakeEntry(MTU_FRAME, 0, LOCAL_PORT);
        if (i != 2)
        {
            e.infoValid = ParseFrame(e.packet, e.info); // as a switch enqueues it
        }
        ASSERT_TRUE(mmu->Admit(e, 0, reason));
        a->Enqueue(std::move(e));
    }
    Simulator::Run();
    ASSERT_EQ(sink.frames.size(), 3u);
    for (size_t i = 0; i < sink.frames.size(); ++i)
    {
        FrameInfo bytes;
        ASSERT_TRUE(ParseFrame(sink.frames[i].first, bytes));
        const FrameInfo& carried = sink.frames[i].second;
        EXPECT_EQ(carried.etherType, bytes.etherType) << i;
        EXPECT_EQ(carried.dscp, bytes.dscp) << i;
        EXPECT_EQ(carried.ecn, bytes.ecn) << i;
        EXPECT_EQ(carried.priority, bytes.priority) << i;
        EXPECT_EQ(carried.protocol, bytes.protocol) << i;
        EXPECT_EQ(carried.srcIp, bytes.srcIp) << i;
        EXPECT_EQ(carried.dstIp, bytes.dstIp) << i;
        EXPECT_EQ(carried.srcPort, bytes.srcPort) << i;
        EXPECT_EQ(carried.dstPort, bytes.dstPort) << i;
        EXPECT_EQ(carried.dstGpu, bytes.dstGpu) << i;
    }
    // The first frame leaves at once with nothing behind it, the second leaves the third behind
    // (marked: its carried fields were rewritten with it), the third is parsed at dequeue.
    EXPECT_EQ(sink.frames[0].second.ecn, ECN_ECT0);
    EXPECT_EQ(sink.frames[1].second.ecn, ECN_CE);
    EXPECT_EQ(sink.frames[2].second.ecn, ECN_ECT0);
    EXPECT_EQ(mmu->GetEcnMarks(), 1u);
    Simulator::Destroy();
}

TEST(SharedBufferMmu, ImpossibleSettingsNameTheAttribute)
{
    auto error = [](const std::vector<std::pair<std::string, std::string>>& attributes) {
        Ptr<SharedBufferMmu> mmu = CreateObject<SharedBufferMmu>();
        for (const auto& [name, value] : attributes)
        {
            mmu->SetAttribute(name, StringValue(value));
        }
        return mmu->Validate(32);
    };
    auto startsWith = [](const std::string& s, const std::string& prefix) {
        return s.compare(0, prefix.size(), prefix) == 0;
    };
    EXPECT_EQ(error({}), "");
    EXPECT_PRED2(startsWith, error({{"Alpha", "0"}}), "Alpha: must be > 0");
    EXPECT_PRED2(startsWith, error({{"Alpha", "1,1,1,1,1,1,-1,1"}}), "Alpha: must be > 0");
    EXPECT_PRED2(startsWith, error({{"Alpha", "1,2"}}), "Alpha: expected one value or 8");
    EXPECT_PRED2(startsWith, error({{"Alpha", "x"}}), "Alpha: ");
    EXPECT_EQ(error({{"Alpha", "x"}, {"Alpha", "2"}}), "") << "a later valid value clears it";
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"}, {"XonOffsetBytes", "-1"}}),
                 "XonOffsetBytes: XON above XOFF");
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"}, {"XoffAlpha", "0"}}),
                 "XoffAlpha: ");
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"}, {"HeadroomAuto", "false"}}),
                 "HeadroomBytes: lossless priorities have no headroom");
    EXPECT_PRED2(startsWith,
                 error({{"BufferSize", "1000000"}, {"EgressReservedBytes", "10000"}}),
                 "EgressReservedBytes: ");
    EXPECT_PRED2(startsWith,
                 error({{"BufferSize", "4000000"},
                        {"LosslessPriorities", "24"},
                        {"IngressReservedBytes", "100000"}}),
                 "IngressReservedBytes: ");
    // 32 ports x 116 KB of automatic headroom at 400 Gb/s do not fit in 2 MB.
    EXPECT_PRED2(startsWith,
                 error({{"BufferSize", "2000000"}, {"LosslessPriorities", "8"}}),
                 "HeadroomBytes: ");
    EXPECT_PRED2(startsWith,
                 error({{"BufferSize", "2000000"},
                        {"LosslessPriorities", "8"},
                        {"SharedHeadroomBytes", "3000000"}}),
                 "SharedHeadroomBytes: ");
    EXPECT_PRED2(startsWith,
                 error({{"BufferSize", "2000000"}, {"LossyPoolBytes", "3000000"}}),
                 "LossyPoolBytes: ");
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"}, {"LosslessPoolBytes", "30000000"}}),
                 "LosslessPoolBytes: ");
    EXPECT_PRED2(startsWith,
                 error({{"EcnKminBytes", "300000"}, {"EcnKmaxBytes", "200000"}}),
                 "EcnKmaxBytes: ");
    EXPECT_PRED2(startsWith, error({{"EcnPmax", "1.5"}}), "EcnPmax: ");
    EXPECT_PRED2(startsWith, error({{"CellSize", "0"}}), "CellSize: ");
    EXPECT_PRED2(startsWith, error({{"BufferSize", "100"}}), "BufferSize: ");
    EXPECT_PRED2(startsWith, error({{"LosslessPoolFraction", "2"}}), "LosslessPoolFraction: ");
    // Headroom that cannot hold one frame, a lossless class without a pool, a static XOFF the
    // pool never reaches.
    EXPECT_PRED2(
        startsWith,
        error({{"LosslessPriorities", "8"}, {"HeadroomAuto", "false"}, {"HeadroomBytes", "1000"}}),
        "HeadroomBytes: headroom of 1024 bytes cannot hold one frame");
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"},
                        {"HeadroomAuto", "false"},
                        {"SharedHeadroomBytes", "1000"}}),
                 "SharedHeadroomBytes: ");
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"}, {"LosslessPoolFraction", "0"}}),
                 "LosslessPoolBytes: the lossless priorities have no service pool");
    EXPECT_PRED2(startsWith,
                 error({{"LosslessPriorities", "8"},
                        {"LosslessPoolBytes", "100000"},
                        {"XoffBytes", "200000"}}),
                 "XoffBytes: ");
}

TEST(SharedBufferMmuDeathTest, InitializeRefusesAnImpossibleConfiguration)
{
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    Ptr<SharedBufferMmu> mmu = CreateObject<SharedBufferMmu>();
    mmu->SetAttribute("Alpha", StringValue("0"));
    EXPECT_DEATH(mmu->Initialize(4), "Alpha: must be > 0");
}

TEST(SharedBufferMmu, LossyIncastThroughSharedBufferSwitchesDeliversEveryByte)
{
    // k = 4 fat-tree, 256 KiB of shared buffer per switch, alpha 1: seven senders into GPU 0.
    FatTreeHelper ft;
    ft.SetK(4);
    FabricHelper fabric;
    fabric.SetSwitchAdmission("ns3::moe::SharedBufferMmu");
    fabric.SetSwitchAdmissionAttribute("BufferSize", UintegerValue(256 * 1024));
    fabric.SetSwitchAdmissionAttribute("Alpha", StringValue("1"));
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    std::vector<Ptr<SharedBufferMmu>> mmus;
    for (uint32_t i = 0; i < topo->GetNodes().GetN(); ++i)
    {
        Ptr<FabricSwitch> sw = topo->GetSwitch(i);
        if (!sw)
        {
            continue;
        }
        Ptr<SharedBufferMmu> mmu = DynamicCast<SharedBufferMmu>(sw->GetAdmission());
        ASSERT_TRUE(mmu);
        EXPECT_EQ(mmu->ConfigurePorts(sw), "");
        mmus.push_back(mmu);
    }
    EXPECT_EQ(mmus.size(), 20u);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    for (uint32_t s = 1; s < 8; ++s)
    {
        rdma->Send(s * 2, 0, 0, 256 * 1024, s);
    }
    Simulator::Run();

    uint64_t threshold = 0;
    uint64_t poolFull = 0;
    uint64_t peakLossy = 0;
    uint64_t marks = 0;
    for (const auto& mmu : mmus)
    {
        EXPECT_EQ(mmu->CheckAccounting(), "");
        marks += mmu->GetEcnMarks();
        threshold += mmu->GetDrops(DropReason::EGRESS_THRESHOLD);
        poolFull += mmu->GetDrops(DropReason::POOL_FULL);
        peakLossy = std::max(peakLossy, mmu->GetPeakPoolCells(SharedBufferMmu::LOSSY_POOL));
    }
    FabricStats stats(topo);
    std::array<uint64_t, static_cast<size_t>(DropReason::COUNT)> byReason{};
    for (const auto& t : stats.CollectTiers())
    {
        for (size_t r = 0; r < byReason.size(); ++r)
        {
            byReason[r] += t.drops[r];
        }
    }
    EXPECT_GT(threshold, 0u) << "the scenario is meant to hit the dynamic threshold";
    EXPECT_GT(marks, 0u) << "data frames are ECT(0) and the congested queue exceeds Kmin";
    EXPECT_EQ(byReason[static_cast<size_t>(DropReason::EGRESS_THRESHOLD)], threshold);
    EXPECT_EQ(byReason[static_cast<size_t>(DropReason::POOL_FULL)], poolFull);
    EXPECT_EQ(byReason[static_cast<size_t>(DropReason::EGRESS_QUEUE_FULL)], 0u);
    RecordProperty("egress_threshold_drops", static_cast<int>(threshold));
    RecordProperty("peak_lossy_cells", static_cast<int>(peakLossy));
    RecordProperty("ecn_marks", static_cast<int>(marks));
    EXPECT_EQ(stats.CheckConservation(), "");
    EXPECT_EQ(stats.GetQueuedFrames(), 0u);
    EXPECT_EQ(rdma->GetMessagesStarted(), 7u);
    EXPECT_EQ(rdma->GetMessagesDelivered(), 7u);
    EXPECT_EQ(rdma->GetBytesStarted(), rdma->GetBytesDelivered());
    EXPECT_GT(rdma->GetCounters().retransmittedPackets, 0u);
    Simulator::Destroy();
}

TEST(PartitionedBufferMmu, AQueueFedThroughOnePipelineGetsItsPartitionOnly)
{
    // 4 MiB split in 4 partitions over 8 ports (ports 0-1 -> partition 0, 2-3 -> 1, ...), no
    // reserves, alpha 1. A queue filled from ingress port 0 is limited by partition 0's pool
    // (1 MiB = 4096 cells): it settles at 2048 cells, a quarter of what one shared 4 MiB buffer
    // gives it (8192); filled from ports 0 and 2 -- two partitions -- it holds twice as much.
    // The same egress queue can thus hold different amounts depending on where its traffic
    // entered, as on chips whose buffer is split between ingress pipelines.
    ObjectFactory factory;
    factory.SetTypeId(SharedBufferMmu::GetTypeId());
    factory.Set("BufferSize", UintegerValue(4 << 20));
    factory.Set("EgressReservedBytes", UintegerValue(0));
    Ptr<PartitionedBufferMmu> mmu = CreateObject<PartitionedBufferMmu>();
    mmu->SetAttribute("Partitions", UintegerValue(4));
    mmu->SetPartitionFactory(factory);
    mmu->Initialize(8);
    ASSERT_EQ(mmu->GetNPartitions(), 4u);
    EXPECT_EQ(mmu->GetPartitionOf(0), 0u);
    EXPECT_EQ(mmu->GetPartitionOf(3), 1u);
    EXPECT_EQ(mmu->GetPartitionOf(7), 3u);
    EXPECT_EQ(mmu->GetPartition(0)->GetPoolSizeCells(SharedBufferMmu::LOSSY_POOL), 4096u);
    auto fill = [&mmu](uint16_t inPort, std::deque<QueueEntry>& q) {
        DropReason reason = DropReason::COUNT;
        while (true)
        {
            QueueEntry e = MakeEntry(MTU_FRAME, 0, inPort);
            if (!mmu->Admit(e, 5, reason))
            {
                return reason;
            }
            q.push_back(e);
        }
    };
    std::deque<QueueEntry> q;
    EXPECT_EQ(fill(0, q), DropReason::EGRESS_THRESHOLD);
    const uint64_t onePipeline = mmu->GetUsedCells();
    EXPECT_NEAR(static_cast<double>(onePipeline), 2048.0, MTU_CELLS);
    EXPECT_EQ(mmu->GetPartition(1)->GetUsedCells(), 0u);
    EXPECT_EQ(fill(2, q), DropReason::EGRESS_THRESHOLD);
    EXPECT_NEAR(static_cast<double>(mmu->GetUsedCells()), 2.0 * onePipeline, MTU_CELLS);
    EXPECT_EQ(mmu->GetDrops(DropReason::EGRESS_THRESHOLD), 2u);
    EXPECT_EQ(mmu->GetPeakUsedCells(), mmu->GetUsedCells());
    for (auto& e : q)
    {
        mmu->Release(e, 5);
    }
    EXPECT_EQ(mmu->CheckAccounting(), "");
    EXPECT_EQ(mmu->GetUsedCells(), 0u);
}

TEST(PartitionedBufferMmu, APortsPauseComesFromItsIngressPartition)
{
    // Lossless priority 3 with a static XOFF of 10 frames per partition: frames from ingress
    // port 0 land in partition 0 only, so partition 0 alone decides port 0's pause (a PG lives
    // in exactly one partition); the switch's callback fires once on XOFF and once on XON.
    ObjectFactory factory;
    factory.SetTypeId(SharedBufferMmu::GetTypeId());
    factory.Set("BufferSize", UintegerValue(8 << 20));
    factory.Set("LosslessPriorities", UintegerValue(8));
    factory.Set("XoffBytes", UintegerValue(10 * MTU_CELLS * 256));
    factory.Set("HeadroomLinkRate", DataRateValue(DataRate("100Gbps")));
    Ptr<PartitionedBufferMmu> mmu = CreateObject<PartitionedBufferMmu>();
    mmu->SetAttribute("Partitions", UintegerValue(2));
    mmu->SetPartitionFactory(factory);
    std::vector<std::tuple<uint32_t, uint8_t, bool>> calls;
    mmu->SetPauseCallback(MakeBoundCallback(
        +[](std::vector<std::tuple<uint32_t, uint8_t, bool>>* log,
            uint32_t port,
            uint8_t priority,
            bool pause) { log->emplace_back(port, priority, pause); },
        &calls));
    mmu->Initialize(4);
    std::deque<QueueEntry> q;
    DropReason reason;
    for (int i = 0; i < 12; ++i)
    {
        QueueEntry e = MakeEntry(MTU_FRAME, 3, 0);
        ASSERT_TRUE(mmu->Admit(e, 3, reason));
        q.push_back(e);
    }
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0], std::make_tuple(0u, uint8_t(3), true));
    EXPECT_TRUE(mmu->IsPauseRequested(0, 3));
    EXPECT_TRUE(mmu->GetPartition(0)->IsPauseRequested(0, 3));
    EXPECT_FALSE(mmu->GetPartition(1)->IsPauseRequested(0, 3));
    while (!q.empty())
    {
        mmu->Release(q.front(), 3);
        q.pop_front();
    }
    ASSERT_EQ(calls.size(), 2u);
    EXPECT_EQ(calls[1], std::make_tuple(0u, uint8_t(3), false));
    EXPECT_EQ(mmu->CheckAccounting(), "");
}
