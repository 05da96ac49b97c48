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
{
    NS_LOG_FUNCTION(this);
    // Hints given while another scheduler ran were never consumed: drop them.
    s_hint[0] = s_hint[1] = s_hint[2] = s_hint[3] = nullptr;
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
FabricHeapScheduler::Insert(const Scheduler::Event& ev)
{
    uint32_t slot;
    if (!m_freeSlots.empty())
    {
        slot = m_freeSlots.back();
        m_freeSlots.pop_back();
        m_payload[slot] =
            Payload{ev.impl, ev.key.m_context, {s_hint[0], s_hint[1], s_hint[2], s_hint[3]}};
    }
    else
    {
        slot = static_cast<uint32_t>(m_payload.size());
        m_payload.push_back(
            Payload{ev.impl, ev.key.m_context, {s_hint[0], s_hint[1], s_hint[2], s_hint[3]}});
    }
    s_hint[0] = s_hint[1] = s_hint[2] = s_hint[3] = nullptr;
    if (m_size == m_capacity)
    {
        Grow();
    }
    SiftUp(m_size, Key{ev.key.m_ts, (static_cast<uint64_t>(ev.key.m_uid) << 32) | slot});
    ++m_size;
}

bool
FabricHeapScheduler::IsEmpty() const
{
    return m_size == 0;
}

Scheduler::Event
FabricHeapScheduler::PeekNext() const
{
    NS_ASSERT(m_size > 0);
    const Key& root = At(0);
    const Payload& payload = m_payload[static_cast<uint32_t>(root.uidSlot)];
    Scheduler::Event ev;
    ev.impl = payload.impl;
    ev.key.m_ts = root.ts;
    ev.key.m_uid = static_cast<uint32_t>(root.uidSlot >> 32);
    ev.key.m_context = payload.context;
    return ev;
}

Scheduler::Event
FabricHeapScheduler::RemoveNext()
{
    NS_ASSERT(m_size > 0);
    const Scheduler::Event ev = PeekNext();
    m_freeSlots.push_back(static_cast<uint32_t>(At(0).uidSlot));
    --m_size;
    if (m_size > 0)
    {
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
        // Start the next event's misses now (see HintNext()); prefetching null is harmless.
        const Payload& next = m_payload[static_cast<uint32_t>(At(0).uidSlot)];
        __builtin_prefetch(next.impl);
        __builtin_prefetch(next.hint[0]);
        __builtin_prefetch(next.hint[1]);
        __builtin_prefetch(next.hint[2]);
        __builtin_prefetch(next.hint[3]);
        // The event after that is the root's smallest child unless something earlier is
        // scheduled meanwhile: fetch its payload now so that the next call finds it cached.
        const std::size_t end = std::min<std::size_t>(5, m_size);
        std::size_t after = 1;
        for (std::size_t c = 2; c < end; ++c)
        {
            after = Less(At(c), At(after)) ? c : after;
        }
        if (after < m_size)
        {
            __builtin_prefetch(&m_payload[static_cast<uint32_t>(At(after).uidSlot)]);
        }
    }
    return ev;
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
