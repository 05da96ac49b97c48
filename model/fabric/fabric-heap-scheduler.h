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
 * This one is an implicit 4-ary min-heap of 16-byte keys (timestamp, uid, payload slot) in one
 * 64-byte-aligned array, laid out so that the four children of a node share one cache line: a
 * level of the heap costs at most one line. The EventImpl pointer and the context live in a side
 * array indexed by the slot and are only touched at Insert and RemoveNext. RemoveNext moves the
 * hole left by the root down to a leaf along the smallest children and sifts the last element up
 * from there ("bottom-up" deletion), which needs about half the comparisons of the textbook
 * sift-down because the last element almost always belongs near the bottom.
 *
 * Order is exactly ns-3's: by timestamp, then by uid (so events scheduled for the same time run
 * in the order they were scheduled), hence identical results to the other schedulers. Remove()
 * (used only by Simulator::Remove, never on moe-fabric's hot path) is a linear search.
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
                         const void* d = nullptr)
    {
        s_hint[0] = a;
        s_hint[1] = b;
        s_hint[2] = c;
        s_hint[3] = d;
    }

    /// Addresses a hint may name.
    static constexpr std::size_t HINTS = 4;

  private:
    /// @brief Heap entry: the sort key and where the rest of the event is.
    struct Key
    {
        uint64_t ts;      ///< timestamp
        uint64_t uidSlot; ///< ns-3 event uid (high 32 bits; FIFO order among equal timestamps)
                          ///< and index into m_payload (low 32 bits; uids are unique, so it
                          ///< never decides the order)
    };

    /// @brief The part of an event that is not needed for ordering.
    struct Payload
    {
        EventImpl* impl;
        uint32_t context;
        const void* hint[HINTS]; ///< prefetched when the event becomes the root
    };

    /// The hint for the next Insert() (see HintNext()).
    static const void* s_hint[HINTS];

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

    Key* m_keys{nullptr};              ///< PAD + capacity entries, 64-byte aligned
    std::size_t m_size{0};             ///< events in the heap
    std::size_t m_capacity{0};         ///< entries m_keys can hold after the padding
    std::vector<Payload> m_payload;    ///< indexed by the low half of Key::uidSlot
    std::vector<uint32_t> m_freeSlots; ///< unused payload slots (LIFO: reuse what is cached)
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_HEAP_SCHEDULER_H
