/*
 * moe-fabric: a cache-friendly event scheduler (4-ary heap over a compact array).
 */
#ifndef MOE_FABRIC_HEAP_SCHEDULER_H
#define MOE_FABRIC_HEAP_SCHEDULER_H

#include "ns3/scheduler.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief An ns-3 event scheduler built for simulations with tens of thousands of pending events
 * (selected with simulation.scheduler = "moe-heap", or Simulator::SetScheduler with TypeId
 * ns3::moe::FabricHeapScheduler). It depends on ns-3's core module only.
 *
 * ns-3's MapScheduler keeps events in a std::map: every Insert allocates a tree node, and every
 * Insert and RemoveNext walks and rebalances a red-black tree whose nodes are scattered over the
 * heap, a cache miss per level once the event set outgrows the caches. ns-3's own HeapScheduler
 * is a binary heap of 24-byte entries that also compares and moves more than necessary.
 *
 * Events of the next 8.4 us of simulated time -- nearly all of a packet simulation's: link
 * delays and frame times -- go to a ring of 8192 buckets of 1024 ps each: an insert appends to
 * its bucket, a bucket is sorted once when the clock reaches it (tens of keys on a busy fabric)
 * and then popped from its end, so removal is sequential and the buckets written are those of
 * the next microseconds. A bitmap finds the next non-empty bucket. Later events (timers, compute
 * phases, the stop event) wait in a heap and move into the ring as its window reaches them.
 *
 * The heap is an implicit 4-ary min-heap of 16-byte keys (timestamp, uid, payload slot) in one
 * 64-byte-aligned array, laid out so that the four children of a node share one cache line: a
 * level of the heap costs at most one line. The EventImpl pointer and the context live in a side
 * array indexed by the slot and are only touched at Insert and RemoveNext. RemoveNext moves the
 * hole left by the root down to a leaf along the smallest children and sifts the last element up
 * from there ("bottom-up" deletion), which needs about half the comparisons of the textbook
 * sift-down because the last element almost always belongs near the bottom.
 *
 * Order is exactly ns-3's: by timestamp, then by uid (so events scheduled for the same time run
 * in the order they were scheduled), hence identical results to the other schedulers; an event
 * inserted before the ring's current bucket (a simulator never does, a plain priority queue may)
 * waits in the heap, and the front is the smaller of the two. Remove() (used only by
 * Simulator::Remove, never on moe-fabric's hot path) searches the event's bucket, then the heap.
 */
class FabricHeapScheduler : public Scheduler
{
  public:
    /// @brief Register this type.
    static TypeId GetTypeId();

    FabricHeapScheduler();
    ~FabricHeapScheduler() override;

    // Scheduler
    void Insert(const Scheduler::Event& ev) override;
    bool IsEmpty() const override;
    Scheduler::Event PeekNext() const override;
    Scheduler::Event RemoveNext() override;
    void Remove(const Scheduler::Event& ev) override;

    /// @brief Addresses the next scheduled event will read first (at most HINTS; null = none).
    ///
    /// A caller about to schedule an event may name the memory that event will touch first
    /// (the frame, the device, the channel). When the event becomes the next to run, the
    /// scheduler prefetches those lines while the current event still runs, so that on large
    /// fabrics -- whose busy state no longer fits in the caches -- the misses of the next event
    /// overlap the work of this one. Purely a hint: it never changes which event runs or when;
    /// other schedulers ignore it (the next Insert() or a new FabricHeapScheduler clears it; a
    /// stale address is harmless, prefetches never fault). Single-threaded use: callers hint
    /// and schedule from the simulation thread.
    static void HintNext(const void* a,
                         const void* b = nullptr,
                         const void* c = nullptr,
                         const void* d = nullptr,
                         const void* e = nullptr,
                         const void* f = nullptr)
    {
        s_hint[0] = a;
        s_hint[1] = b;
        s_hint[2] = c;
        s_hint[3] = d;
        s_hint[4] = e;
        s_hint[5] = f;
    }

    /// Addresses a hint may name.
    static constexpr std::size_t HINTS = 6;

  private:
    /// @brief Heap entry: the sort key and where the rest of the event is.
    struct Key
    {
        uint64_t ts;      ///< timestamp
        uint64_t uidSlot; ///< ns-3 event uid (high 32 bits; FIFO order among equal timestamps)
                          ///< and index into m_payload (low 32 bits; uids are unique, so it
                          ///< never decides the order)
    };

    /// @brief The part of an event that is not needed for ordering: one aligned cache line.
    struct alignas(64) Payload
    {
        EventImpl* impl;
        uint32_t context;
        const void* hint[HINTS]; ///< prefetched when the event becomes the root
    };

    static_assert(sizeof(Payload) == 64, "an event's payload should stay one cache line");

    /// The hint for the next Insert() (see HintNext()).
    static const void* s_hint[HINTS];

    /// @brief Forget the hint (it was consumed, or belongs to no event of this scheduler).
    static void ClearHints()
    {
        for (const void*& hint : s_hint)
        {
            hint = nullptr;
        }
    }

    /// @brief Strict (ts, uid) order, as Scheduler::EventKey's operator<. One 128-bit compare
    /// (cmp/sbb, no branch): heap order decisions are data-dependent and mispredict often.
    static bool Less(const Key& a, const Key& b)
    {
        using U128 = unsigned __int128;
        return ((static_cast<U128>(a.ts) << 64) | a.uidSlot) <
               ((static_cast<U128>(b.ts) << 64) | b.uidSlot);
    }

    /// @brief The key at heap position @p i (0 = root).
    Key& At(std::size_t i)
    {
        return m_keys[i + PAD];
    }

    /// @brief Read-only key at heap position @p i.
    const Key& At(std::size_t i) const
    {
        return m_keys[i + PAD];
    }

    /// Near-future events live in a ring of buckets, one per 2^BUCKET_SHIFT ps of simulated
    /// time, RING buckets ahead of the current one; later events in the heap.
    static constexpr unsigned BUCKET_SHIFT = 10;
    static constexpr std::size_t RING = 8192;
    /// An emptied bucket keeps its memory up to this many keys (a busy fabric's buckets hold
    /// tens); a larger one, left by a burst, is freed.
    static constexpr std::size_t BUCKET_KEEP = 128;

    /// PrefetchNext() looks for the event after the next one in the following bucket only
    /// with at least this many events in the ring: with fewer, their payloads (64 bytes each)
    /// stay in the caches and the search would be pure overhead.
    static constexpr std::size_t CROSS_BUCKET_PREFETCH_EVENTS = 4096;

    /// @brief One bucket: its keys, sorted (largest first, so the smallest pops off the back)
    /// once the bucket is reached, appended in any order before.
    struct Bucket
    {
        std::vector<Key> keys;
        bool sorted{false};
    };

    /// @brief Put @p key in the ring bucket of absolute index @p bucket.
    void RingInsert(uint64_t bucket, const Key& key);
    /// @brief The smallest key, from the ring if it holds any, else the heap root (sorting the
    /// first non-empty bucket if needed, hence the mutable members).
    const Key& Front() const;
    /// @brief Push @p key on the heap.
    void HeapPush(const Key& key);
    /// @brief Remove the heap root.
    void HeapPop();
    /// @brief Prefetch the payload and hints of the next event (see HintNext()).
    void PrefetchNext() const;

    /// @brief The ns-3 event of @p key and its payload.
    Scheduler::Event MakeEvent(const Key& key) const
    {
        const Payload& payload = m_payload[static_cast<uint32_t>(key.uidSlot)];
        Scheduler::Event ev;
        ev.impl = payload.impl;
        ev.key.m_ts = key.ts;
        ev.key.m_uid = static_cast<uint32_t>(key.uidSlot >> 32);
        ev.key.m_context = payload.context;
        return ev;
    }

    /// @brief Grow the key array (amortized doubling, keeping the 64-byte alignment).
    void Grow();
    /// @brief Move @p key up from the hole at position @p hole to where it belongs.
    void SiftUp(std::size_t hole, const Key& key);
    /// @brief Fill the hole at position @p hole with @p key, moving it down as needed.
    void SiftDown(std::size_t hole, const Key& key);
    /// @brief Remove the entry at position @p pos and return its payload slot to the free list.
    void RemoveAt(std::size_t pos);

    /// Unused entries before the root: puts the children 4i+1..4i+4 of node i at array indices
    /// 4i+4..4i+7, one aligned 64-byte line.
    static constexpr std::size_t PAD = 3;

    mutable std::vector<Bucket> m_ring;           ///< RING buckets, by absolute index % RING
    std::vector<uint64_t> m_ringBits;             ///< bit per bucket: non-empty
    uint64_t m_base{0};                           ///< bucket of the last event removed
    std::size_t m_ringSize{0};                    ///< events in the ring
    mutable const Bucket* m_frontBucket{nullptr}; ///< Front() came from this bucket (or heap)

    Key* m_keys{nullptr};              ///< PAD + capacity entries, 64-byte aligned
    std::size_t m_size{0};             ///< events in the heap
    std::size_t m_capacity{0};         ///< entries m_keys can hold after the padding
    std::vector<Payload> m_payload;    ///< indexed by the low half of Key::uidSlot
    std::vector<uint32_t> m_freeSlots; ///< unused payload slots (LIFO: reuse what is cached)
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_HEAP_SCHEDULER_H
