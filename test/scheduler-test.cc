/*
 * FabricHeapScheduler: the same event order as ns-3's MapScheduler, hence the same results.
 */
#include "test-util.h"

#include "ns3/fabric-heap-scheduler.h"
#include "ns3/make-event.h"
#include "ns3/map-scheduler.h"
#include "ns3/moe-scenario.h"
#include "ns3/simulator.h"

#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{
void
Nothing()
{
}

/// Two schedulers driven with the same operations; every event they hand out must match.
class SchedulerPair
{
  public:
    SchedulerPair()
        : m_map(CreateObject<MapScheduler>()),
          m_heap(CreateObject<FabricHeapScheduler>())
    {
    }

    void Insert(uint64_t ts, uint32_t context)
    {
        m_impls.emplace_back(MakeEvent(&Nothing), false);
        Scheduler::Event ev;
        ev.impl = PeekPointer(m_impls.back());
        ev.key.m_ts = ts;
        ev.key.m_uid = m_nextUid++;
        ev.key.m_context = context;
        m_map->Insert(ev);
        m_heap->Insert(ev);
        m_pending.push_back(ev);
    }

    /// Pop from both; returns false if they disagree.
    bool RemoveNextMatches()
    {
        const Scheduler::Event a = m_map->RemoveNext();
        const Scheduler::Event b = m_heap->RemoveNext();
        m_lastTs = a.key.m_ts;
        Forget(a.key.m_uid);
        return a.impl == b.impl && a.key.m_ts == b.key.m_ts && a.key.m_uid == b.key.m_uid &&
               a.key.m_context == b.key.m_context;
    }

    /// Remove the @p i-th pending event (in insertion order) from both.
    void Remove(std::size_t i)
    {
        const Scheduler::Event ev = m_pending[i];
        m_map->Remove(ev);
        m_heap->Remove(ev);
        Forget(ev.key.m_uid);
    }

    bool PeekMatches() const
    {
        const Scheduler::Event a = m_map->PeekNext();
        const Scheduler::Event b = m_heap->PeekNext();
        return a.impl == b.impl && a.key.m_uid == b.key.m_uid && a.key.m_context == b.key.m_context;
    }

    std::size_t Size() const
    {
        return m_pending.size();
    }

    /// Timestamp of the last event removed (the simulation's "now").
    uint64_t LastTs() const
    {
        return m_lastTs;
    }

    bool BothEmptyIff(bool expected) const
    {
        return m_map->IsEmpty() == expected && m_heap->IsEmpty() == expected;
    }

  private:
    void Forget(uint32_t uid)
    {
        for (std::size_t i = 0; i < m_pending.size(); ++i)
        {
            if (m_pending[i].key.m_uid == uid)
            {
                m_pending[i] = m_pending.back();
                m_pending.pop_back();
                return;
            }
        }
    }

    Ptr<MapScheduler> m_map;
    Ptr<FabricHeapScheduler> m_heap;
    std::vector<Ptr<EventImpl>> m_impls;
    std::vector<Scheduler::Event> m_pending;
    uint32_t m_nextUid{4};
    uint64_t m_lastTs{0};
};
} // namespace

TEST(FabricHeapScheduler, OrdersLikeMapSchedulerIncludingTiesAndRemovals)
{
    SchedulerPair s;
    std::mt19937_64 rng(7);
    uint64_t now = 0;
    EXPECT_TRUE(s.BothEmptyIff(true));
    // A discrete-event workload: mostly near-future events, many equal timestamps (FIFO by uid
    // must decide), some far-future timers, occasional removals, and a heap that grows past the
    // initial capacity and shrinks again.
    for (int step = 0; step < 200000; ++step)
    {
        const uint64_t r = rng() % 100;
        const bool grow = (step / 20000) % 2 == 0;
        if (s.Size() == 0 || r < (grow ? 60u : 40u))
        {
            const uint64_t delay = r < 10 ? 1000000 + rng() % 1000000 : (rng() % 8) * 100;
            s.Insert(now + delay, static_cast<uint32_t>(rng() % 64));
        }
        else if (r < 98)
        {
            ASSERT_TRUE(s.PeekMatches()) << "step " << step;
            ASSERT_TRUE(s.RemoveNextMatches()) << "step " << step;
        }
        else
        {
            s.Remove(rng() % s.Size());
        }
        EXPECT_TRUE(s.BothEmptyIff(s.Size() == 0));
    }
    while (s.Size() > 0)
    {
        ASSERT_TRUE(s.RemoveNextMatches());
    }
    EXPECT_TRUE(s.BothEmptyIff(true));
}

TEST(FabricHeapScheduler, OrdersLikeMapSchedulerAsTimeAdvances)
{
    // As a simulator uses it: every insert at or after the last removed timestamp. Delays from
    // 0 (same timestamp, FIFO by uid) through sub-bucket and bucket-sized ones to delays around
    // the ring's horizon (8.4 us: either side of it) and far timers, with removals, so events
    // move from the heap into the ring as time advances and buckets are inserted into while
    // being consumed.
    SchedulerPair s;
    std::mt19937_64 rng(11);
    for (int step = 0; step < 300000; ++step)
    {
        const uint64_t r = rng() % 100;
        const bool grow = (step / 30000) % 2 == 0;
        if (s.Size() == 0 || r < (grow ? 55u : 45u))
        {
            const uint64_t kind = rng() % 10;
            const uint64_t delay = kind == 0   ? 0
                                   : kind < 4  ? rng() % 2048
                                   : kind < 8  ? rng() % 3000000
                                   : kind == 8 ? 8000000 + rng() % 1000000
                                               : 50000000 + rng() % 1000000000;
            s.Insert(s.LastTs() + delay, static_cast<uint32_t>(rng() % 64));
        }
        else if (r < 98)
        {
            ASSERT_TRUE(s.PeekMatches()) << "step " << step;
            ASSERT_TRUE(s.RemoveNextMatches()) << "step " << step;
        }
        else
        {
            s.Remove(rng() % s.Size());
        }
        ASSERT_TRUE(s.BothEmptyIff(s.Size() == 0)) << "step " << step;
    }
    while (s.Size() > 0)
    {
        ASSERT_TRUE(s.RemoveNextMatches());
    }
    EXPECT_TRUE(s.BothEmptyIff(true));
}

TEST(FabricHeapScheduler, OrdersLikeMapSchedulerWithABusyNearFuture)
{
    // A busy fabric's event set: well over CROSS_BUCKET_PREFETCH_EVENTS (4096) events within
    // the ring's 8.4 us, one or two per 1 ns bucket, so that PrefetchNext() also looks into the
    // following buckets (and at the end of the ring's window, past its wrap-around).
    SchedulerPair s;
    std::mt19937_64 rng(13);
    for (int i = 0; i < 12000; ++i)
    {
        s.Insert(rng() % 8000000, static_cast<uint32_t>(rng() % 64));
    }
    for (int step = 0; step < 200000; ++step)
    {
        if (rng() % 2 == 0)
        {
            s.Insert(s.LastTs() + rng() % 8000000, static_cast<uint32_t>(rng() % 64));
        }
        else
        {
            ASSERT_TRUE(s.RemoveNextMatches()) << "step " << step;
        }
    }
    while (s.Size() > 0)
    {
        ASSERT_TRUE(s.RemoveNextMatches());
    }
    EXPECT_TRUE(s.BothEmptyIff(true));
}

TEST(FabricHeapScheduler, ScenarioResultsMatchTheMapScheduler)
{
    Json c = Json::parse(R"({
      "seed": 3,
      "topology": { "type": "fat-tree", "k": 4, "link": { "rate": "100Gbps", "delay": "1us" } },
      "switch": { "load_balancing": "spray" },
      "transport": { "type": "rdma", "mtu": 4096 },
      "traffic": { "type": "all-to-all", "bytes_per_pair": 65536, "rounds": 2 } })");
    Json summaries[2];
    const char* schedulers[2] = {"map", "moe-heap"};
    for (int i = 0; i < 2; ++i)
    {
        c["simulation"]["scheduler"] = schedulers[i];
        Scenario sc(c);
        sc.Build();
        ASSERT_TRUE(sc.Run());
        summaries[i] = sc.MakeSummary();
        Simulator::Destroy();
        summaries[i]["sim"].erase("wall_s");
        summaries[i]["sim"].erase("wall_s_per_million_packet_hops");
        summaries[i]["sim"].erase("peak_rss_mb");
        summaries[i]["manifest"].erase("config");
        summaries[i]["manifest"].erase("config_hash");
    }
    EXPECT_GT(summaries[0]["sim"]["events"].get<uint64_t>(), 0u);
    // Events included: both schedulers run exactly the same events in the same order.
    EXPECT_EQ(summaries[0].dump(2), summaries[1].dump(2));
}
