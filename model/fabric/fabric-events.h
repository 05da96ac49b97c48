/*
 * moe-fabric: the two events every frame causes on every hop, with pooled allocation.
 */
#ifndef MOE_FABRIC_EVENTS_H
#define MOE_FABRIC_EVENTS_H

#include "ns3/event-impl.h"
#include "ns3/packet.h"

#include <cstddef>
#include <new>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief An EventImpl whose objects come from a per-type free list instead of the heap.
 *
 * ns-3 allocates one EventImpl per scheduled event and frees it after it runs; for the two
 * events each frame causes on each hop (arrival at the next node, end of serialization) that is
 * most of the simulation's allocations. Blocks are recycled, never returned to the heap.
 * Single-threaded, like ns-3's default simulator.
 */
template <typename Derived>
class PooledEventImpl : public EventImpl
{
  public:
    static void* operator new(std::size_t size)
    {
        std::vector<void*>& pool = Pool();
        if (!pool.empty() && size == sizeof(Derived))
        {
            void* block = pool.back();
            pool.pop_back();
            return block;
        }
        return ::operator new(size);
    }

    static void operator delete(void* block, std::size_t size)
    {
        if (size == sizeof(Derived))
        {
            Pool().push_back(block);
            return;
        }
        ::operator delete(block);
    }

  private:
    static std::vector<void*>& Pool()
    {
        // Deliberately never destroyed: events may still be freed during static destruction.
        static auto* pool = new std::vector<void*>();
        return *pool;
    }
};

/**
 * @brief Take over the packet reference @p ptr holds, leaving @p ptr null, without touching the
 * packet's reference count.
 *
 * ns-3.37's Ptr has no move operations, so handing a packet from a queue to the wire with Ptr
 * copies reads and writes the Packet object (its reference count) at a moment when nothing else
 * needs it -- a cache miss per hop in large fabrics. The hand-over uses this and AdoptPacket()
 * instead; the reference is owned by whoever holds the raw pointer until AdoptPacket().
 */
inline Packet*
DetachPacket(Ptr<Packet>& ptr)
{
    Packet* raw = PeekPointer(ptr);
    // End the old Ptr's lifetime without its destructor (which would drop the reference).
    new (&ptr) Ptr<Packet>();
    return raw;
}

/// @brief A Ptr that owns the reference obtained from DetachPacket().
inline Ptr<Packet>
AdoptPacket(Packet* raw)
{
    return Ptr<Packet>(raw, false);
}

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_EVENTS_H
