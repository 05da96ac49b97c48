#include "fabric-heap-scheduler.h"

#include "ns3/assert.h"
#include "ns3/log.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricHeapScheduler");

NS_OBJECT_ENSURE_REGISTERED(FabricHeapScheduler);

namespace
{
/// Alignment of the key array: one cache line.
constexpr std::align_val_t KEY_ALIGNMENT{64};
/// Initial capacity: enough for small simulations without regrowing.
constexpr std::size_t INITIAL_CAPACITY = 1024;
} // namespace

const void* FabricHeapScheduler::s_hint[FabricHeapScheduler::HINTS] = {};

TypeId
FabricHeapScheduler::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::FabricHeapScheduler")
                            .SetParent<Scheduler>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<FabricHeapScheduler>();
    return tid;
}

FabricHeapScheduler::FabricHeapScheduler()
    : m_ring(RING),
      m_ringBits(RING / 64, 0)
{
    NS_LOG_FUNCTION(this);
    // Hints given while another scheduler ran were never consumed: drop them.
    ClearHints();
}

FabricHeapScheduler::~FabricHeapScheduler()
{
    NS_LOG_FUNCTION(this);
    // Pending events belong to the simulator, which drains the scheduler before destroying it.
    if (m_keys != nullptr)
    {
        ::operator delete(m_keys, KEY_ALIGNMENT);
    }
}

void
FabricHeapScheduler::Grow()
{
    const std::size_t capacity = std::max(INITIAL_CAPACITY, 2 * m_capacity);
    Key* keys = static_cast<Key*>(::operator new((PAD + capacity) * sizeof(Key), KEY_ALIGNMENT));
    if (m_keys != nullptr)
    {
        std::memcpy(keys + PAD, m_keys + PAD, m_size * sizeof(Key));
        ::operator delete(m_keys, KEY_ALIGNMENT);
    }
    m_keys = keys;
    m_capacity = capacity;
}

void
FabricHeapScheduler::SiftUp(std::size_t hole, const Key& key)
{
    while (hole > 0)
    {
        const std::size_t parent = (hole - 1) / 4;
        if (!Less(key, At(parent)))
        {
            break;
        }
        At(hole) = At(parent);
        hole = parent;
    }
    At(hole) = key;
}

void
FabricHeapScheduler::SiftDown(std::size_t hole, const Key& key)
{
    for (;;)
    {
        const std::size_t first = 4 * hole + 1;
        if (first >= m_size)
        {
            break;
        }
        const std::size_t end = std::min(first + 4, m_size);
        std::size_t best = first;
        for (std::size_t c = first + 1; c < end; ++c)
        {
            if (Less(At(c), At(best)))
            {
                best = c;
            }
        }
        if (!Less(At(best), key))
        {
            break;
        }
        At(hole) = At(best);
        hole = best;
    }
    At(hole) = key;
}

void
FabricHeapScheduler::HeapPush(const Key& key)
{
    if (m_size == m_capacity)
    {
        Grow();
    }
    SiftUp(m_size, key);
    ++m_size;
}

void
FabricHeapScheduler::HeapPop()
{
    NS_ASSERT(m_size > 0);
    --m_size;
    if (m_size == 0)
    {
        return;
    }
    // Bottom-up deletion: walk the hole down along the smallest children to a leaf, then put
    // the former last element there and sift it up (it rarely moves far).
    const Key last = At(m_size);
    std::size_t hole = 0;
    for (;;)
    {
        const std::size_t first = 4 * hole + 1;
        if (first >= m_size)
        {
            break;
        }
        std::size_t best = first;
        if (first + 4 <= m_size)
        {
            // All four children exist (the common case): a fixed-size tournament.
            const std::size_t a = Less(At(first + 1), At(first)) ? first + 1 : first;
            const std::size_t b = Less(At(first + 3), At(first + 2)) ? first + 3 : first + 2;
            best = Less(At(b), At(a)) ? b : a;
        }
        else
        {
            for (std::size_t c = first + 1; c < m_size; ++c)
            {
                if (Less(At(c), At(best)))
                {
                    best = c;
                }
            }
        }
        At(hole) = At(best);
        hole = best;
    }
    SiftUp(hole, last);
}

void
FabricHeapScheduler::RingInsert(uint64_t bucket, const Key& key)
{
    const std::size_t index = bucket & (RING - 1);
    Bucket& b = m_ring[index];
    if (b.sorted)
    {
        // The bucket being consumed: keep it sorted, largest first.
        auto greater = [](const Key& x, const Key& y) { return Less(y, x); };
        b.keys.insert(std::upper_bound(b.keys.begin(), b.keys.end(), key, greater), key);
    }
    else
    {
        b.keys.push_back(key);
    }
    m_ringBits[index / 64] |= uint64_t{1} << (index % 64);
    ++m_ringSize;
}

const FabricHeapScheduler::Key&
FabricHeapScheduler::Front() const
{
    if (m_ringSize == 0)
    {
        NS_ASSERT(m_size > 0);
        m_frontBucket = nullptr;
        return At(0);
    }
    // Every ring event lies in buckets m_base .. m_base + RING - 1, so the ring order from
    // m_base's slot onwards (wrapping) is time order; the heap only holds later buckets.
    std::size_t index = m_base & (RING - 1);
    std::size_t word = index / 64;
    uint64_t bits = m_ringBits[word] & (~uint64_t{0} << (index % 64));
    while (bits == 0)
    {
        word = (word + 1) % (RING / 64);
        bits = m_ringBits[word];
    }
    Bucket& b = m_ring[word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))];
    if (!b.sorted)
    {
        auto greater = [](const Key& x, const Key& y) { return Less(y, x); };
        std::sort(b.keys.begin(), b.keys.end(), greater);
        b.sorted = true;
    }
    // Ring events precede heap events, except for events scheduled before the ring's current
    // bucket (a simulator never does that; a plain priority queue may): those wait in the heap.
    if (m_size > 0 && Less(At(0), b.keys.back()))
    {
        m_frontBucket = nullptr;
        return At(0);
    }
    m_frontBucket = &b;
    return b.keys.back();
}

void
FabricHeapScheduler::Insert(const Scheduler::Event& ev)
{
    uint32_t slot;
    if (!m_freeSlots.empty())
    {
        slot = m_freeSlots.back();
        m_freeSlots.pop_back();
        m_payload[slot] =
            Payload{ev.impl,
                    ev.key.m_context,
                    {s_hint[0], s_hint[1], s_hint[2], s_hint[3], s_hint[4], s_hint[5]}};
    }
    else
    {
        slot = static_cast<uint32_t>(m_payload.size());
        m_payload.push_back(
            Payload{ev.impl,
                    ev.key.m_context,
                    {s_hint[0], s_hint[1], s_hint[2], s_hint[3], s_hint[4], s_hint[5]}});
    }
    ClearHints();
    const Key key{ev.key.m_ts, (static_cast<uint64_t>(ev.key.m_uid) << 32) | slot};
    const uint64_t bucket = key.ts >> BUCKET_SHIFT;
    if (bucket >= m_base && bucket < m_base + RING)
    {
        RingInsert(bucket, key);
    }
    else
    {
        HeapPush(key);
    }
}

bool
FabricHeapScheduler::IsEmpty() const
{
    return m_size == 0 && m_ringSize == 0;
}

Scheduler::Event
FabricHeapScheduler::PeekNext() const
{
    NS_ASSERT(!IsEmpty());
    return MakeEvent(Front());
}

Scheduler::Event
FabricHeapScheduler::RemoveNext()
{
    NS_ASSERT(!IsEmpty());
    const Key front = Front(); // also sets m_frontBucket
    const Scheduler::Event ev = MakeEvent(front);
    m_freeSlots.push_back(static_cast<uint32_t>(front.uidSlot));
    if (m_frontBucket != nullptr)
    {
        Bucket& b = const_cast<Bucket&>(*m_frontBucket);
        b.keys.pop_back();
        --m_ringSize;
        if (b.keys.empty())
        {
            b.sorted = false;
            if (b.keys.capacity() > BUCKET_KEEP)
            {
                // A burst's bucket: give the memory back rather than keep it for every lap.
                std::vector<Key>().swap(b.keys);
            }
            const std::size_t index = static_cast<std::size_t>(&b - m_ring.data());
            m_ringBits[index / 64] &= ~(uint64_t{1} << (index % 64));
        }
    }
    else
    {
        HeapPop();
    }
    const uint64_t bucket = front.ts >> BUCKET_SHIFT;
    if (bucket > m_base)
    {
        // Time moved on: the buckets before this one are empty (their slots are those of the
        // buckets the window gains).
        m_base = bucket;
    }
    // Heap events that now fall inside the ring's window move into it.
    while (m_size > 0 && (At(0).ts >> BUCKET_SHIFT) >= m_base &&
           (At(0).ts >> BUCKET_SHIFT) < m_base + RING)
    {
        const Key k = At(0);
        HeapPop();
        RingInsert(k.ts >> BUCKET_SHIFT, k);
    }
    if (!IsEmpty())
    {
        PrefetchNext();
    }
    return ev;
}

void
FabricHeapScheduler::PrefetchNext() const
{
    // Start the next event's misses now (see HintNext()); prefetching null is harmless.
    const Key& front = Front();
    const Payload& next = m_payload[static_cast<uint32_t>(front.uidSlot)];
    __builtin_prefetch(next.impl);
    for (const void* hint : next.hint)
    {
        __builtin_prefetch(hint);
    }
    // The event after it, most likely: the next key of the same bucket or, a bucket holding
    // one or two events at a busy fabric's rate, the first keys of the next non-empty bucket.
    if (m_frontBucket == nullptr)
    {
        return;
    }
    const std::vector<Key>& keys = m_frontBucket->keys;
    if (keys.size() >= 2)
    {
        __builtin_prefetch(&m_payload[static_cast<uint32_t>(keys[keys.size() - 2].uidSlot)]);
        return;
    }
    if (m_ringSize < CROSS_BUCKET_PREFETCH_EVENTS)
    {
        return; // few pending events: their payloads stay in the caches
    }
    const std::size_t from = (static_cast<std::size_t>(m_frontBucket - m_ring.data()) + 1) % RING;
    std::size_t word = from / 64;
    uint64_t bits = m_ringBits[word] & (~uint64_t{0} << (from % 64));
    if (bits == 0)
    {
        word = (word + 1) % (RING / 64); // one word further only: at most 127 buckets ahead
        bits = m_ringBits[word];
        if (bits == 0)
        {
            return;
        }
    }
    const Bucket& following = m_ring[word * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))];
    // Unsorted until reached: its smallest key may be any; buckets rarely hold more than two.
    const std::size_t n = std::min<std::size_t>(following.keys.size(), 2);
    for (std::size_t i = 0; i < n; ++i)
    {
        __builtin_prefetch(&m_payload[static_cast<uint32_t>(following.keys[i].uidSlot)]);
    }
}

void
FabricHeapScheduler::RemoveAt(std::size_t pos)
{
    m_freeSlots.push_back(static_cast<uint32_t>(At(pos).uidSlot));
    --m_size;
    if (pos == m_size)
    {
        return;
    }
    const Key last = At(m_size);
    if (pos > 0 && Less(last, At((pos - 1) / 4)))
    {
        SiftUp(pos, last);
    }
    else
    {
        SiftDown(pos, last);
    }
}

void
FabricHeapScheduler::Remove(const Scheduler::Event& ev)
{
    NS_LOG_FUNCTION(this << ev.impl << ev.key.m_ts << ev.key.m_uid);
    const uint64_t bucket = ev.key.m_ts >> BUCKET_SHIFT;
    if (bucket >= m_base && bucket < m_base + RING)
    {
        const std::size_t index = bucket & (RING - 1);
        Bucket& b = m_ring[index];
        for (auto it = b.keys.begin(); it != b.keys.end(); ++it)
        {
            if (static_cast<uint32_t>(it->uidSlot >> 32) == ev.key.m_uid && it->ts == ev.key.m_ts)
            {
                NS_ASSERT(m_payload[static_cast<uint32_t>(it->uidSlot)].impl == ev.impl);
                m_freeSlots.push_back(static_cast<uint32_t>(it->uidSlot));
                b.keys.erase(it); // keeps a sorted bucket sorted
                --m_ringSize;
                if (b.keys.empty())
                {
                    b.sorted = false;
                    m_ringBits[index / 64] &= ~(uint64_t{1} << (index % 64));
                }
                return;
            }
        }
    }
    for (std::size_t i = 0; i < m_size; ++i)
    {
        const Key& key = At(i);
        if (static_cast<uint32_t>(key.uidSlot >> 32) == ev.key.m_uid && key.ts == ev.key.m_ts)
        {
            NS_ASSERT(m_payload[static_cast<uint32_t>(key.uidSlot)].impl == ev.impl);
            RemoveAt(i);
            return;
        }
    }
    NS_ASSERT_MSG(false, "FabricHeapScheduler::Remove: event not found");
}

} // namespace moe
} // namespace ns3
