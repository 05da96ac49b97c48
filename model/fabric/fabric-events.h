/*
 * moe-fabric: the two events every frame causes on every hop, with pooled allocation.
 */
#ifndef MOE_FABRIC_EVENTS_H
#define MOE_FABRIC_EVENTS_H

#include "ns3/event-impl.h"

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

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_EVENTS_H
