/*
 * RingBuffer: the FIFO behind every egress queue, link and queue pair's message list. Its slots
 * are raw storage (an element is constructed when pushed and destroyed when popped), so these
 * tests check what users of it rely on: FIFO order across wrap-around and growth, and that every
 * element, e.g. a packet reference, is released exactly once.
 */
#include "ns3/fabric-ring-buffer.h"
#include "ns3/packet.h"

#include <gtest/gtest.h>
#include <string>

using namespace ns3;
using namespace ns3::moe;

namespace
{
/// Counts live instances, so a leak or a double destruction shows.
struct Counted
{
    static int live;
    int value{0};
    std::string text; // not trivially copyable: moves must construct, not copy bits

    explicit Counted(int v)
        : value(v),
          text(std::to_string(v))
    {
        ++live;
    }

    Counted(Counted&& o) noexcept
        : value(o.value),
          text(std::move(o.text))
    {
        ++live;
    }

    Counted(const Counted& o)
        : value(o.value),
          text(o.text)
    {
        ++live;
    }

    ~Counted()
    {
        --live;
    }
};

int Counted::live = 0;
} // namespace

TEST(RingBuffer, KeepsFifoOrderAcrossWrapAroundAndGrowth)
{
    RingBuffer<Counted> ring;
    int pushed = 0;
    int popped = 0;
    // Interleave pushes and pops so that the head wraps before each growth.
    for (int round = 0; round < 200; ++round)
    {
        for (int i = 0; i < 3; ++i)
        {
            ring.push_back(Counted(pushed++));
        }
        ASSERT_EQ(ring.front().value, popped);
        ASSERT_EQ(ring.front().text, std::to_string(popped));
        ring.pop_front();
        ++popped;
        ASSERT_EQ(ring.back().value, pushed - 1);
        ASSERT_EQ(ring[ring.size() - 1].value, pushed - 1);
    }
    EXPECT_EQ(ring.size(), static_cast<size_t>(pushed - popped));
    EXPECT_EQ(Counted::live, pushed - popped);
    for (size_t i = 0; i < ring.size(); ++i)
    {
        ASSERT_EQ(ring[i].value, popped + static_cast<int>(i));
    }
    ring.clear();
    EXPECT_TRUE(ring.empty());
    EXPECT_EQ(Counted::live, 0);
}

TEST(RingBuffer, DestroysWhatItHoldsExactlyOnce)
{
    {
        RingBuffer<Counted> a;
        for (int i = 0; i < 5; ++i)
        {
            const Counted c(i);
            a.push_back(c); // copy
        }
        EXPECT_EQ(Counted::live, 5);
        RingBuffer<Counted> b(std::move(a)); // moves the storage, not the elements
        EXPECT_TRUE(a.empty());
        EXPECT_EQ(Counted::live, 5);
        RingBuffer<Counted> c;
        c.push_back(Counted(99));
        c = std::move(b); // c's own element is destroyed, b's taken over
        EXPECT_EQ(Counted::live, 5);
        EXPECT_EQ(c.front().value, 0);
        c.pop_front();
        EXPECT_EQ(Counted::live, 4);
    } // the rest goes with the destructor
    EXPECT_EQ(Counted::live, 0);
}

TEST(RingBuffer, PushingOneOfItsOwnElementsWhileGrowing)
{
    // A full ring grows at this push_back: the element passed in lives in the old storage.
    RingBuffer<Counted> ring;
    for (int i = 0; i < 4; ++i)
    {
        ring.push_back(Counted(i));
    }
    ring.push_back(std::move(ring.front())); // capacity 4 -> 8
    ring.push_back(ring[1]);                 // a copy, not full
    ASSERT_EQ(ring.size(), 6u);
    EXPECT_EQ(ring[4].value, 0);
    EXPECT_EQ(ring[4].text, "0");
    EXPECT_EQ(ring[5].text, "1");
    ring.clear();
    EXPECT_EQ(Counted::live, 0);
}

TEST(RingBuffer, ReleasesPacketReferencesWhenPopped)
{
    Ptr<Packet> packet = Create<Packet>(100);
    {
        RingBuffer<Ptr<Packet>> ring;
        for (int i = 0; i < 10; ++i)
        {
            ring.push_back(packet);
        }
        EXPECT_EQ(packet->GetReferenceCount(), 11u);
        ring.pop_front();
        ring.pop_front();
        EXPECT_EQ(packet->GetReferenceCount(), 9u);
    }
    EXPECT_EQ(packet->GetReferenceCount(), 1u);
}
