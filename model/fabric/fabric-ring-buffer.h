/*
 * moe-fabric: a compact FIFO for the per-packet and per-message hot paths.
 */
#ifndef MOE_RING_BUFFER_H
#define MOE_RING_BUFFER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>

namespace ns3
{
namespace moe
{

/**
 * @brief A growable ring buffer with deque-like FIFO operations and random access.
 *
 * Unlike std::deque (which allocates a 512-byte block and a map even when empty), an empty
 * RingBuffer allocates nothing and is 24 bytes. The fabric holds thousands of per-priority
 * queues, per-(port, priority) active lists and per-queue-pair message lists, most of them empty
 * or short, so this keeps the simulation's working set small. Capacity is a power of two and
 * only grows. References to elements are invalidated by push_back (growth).
 */
template <typename T>
class RingBuffer
{
  public:
    RingBuffer() = default;
    RingBuffer(const RingBuffer&) = delete;
    RingBuffer& operator=(const RingBuffer&) = delete;

    RingBuffer(RingBuffer&& other) noexcept
        : m_data(std::move(other.m_data)),
          m_head(other.m_head),
          m_size(other.m_size),
          m_mask(other.m_mask)
    {
        other.m_head = other.m_size = 0;
        other.m_mask = 0;
    }

    RingBuffer& operator=(RingBuffer&& other) noexcept
    {
        if (this != &other)
        {
            clear();
            m_data = std::move(other.m_data);
            m_head = other.m_head;
            m_size = other.m_size;
            m_mask = other.m_mask;
            other.m_head = other.m_size = 0;
            other.m_mask = 0;
        }
        return *this;
    }

    ~RingBuffer()
    {
        clear();
    }

    bool empty() const
    {
        return m_size == 0;
    }

    size_t size() const
    {
        return m_size;
    }

    T& front()
    {
        return *At(m_head);
    }

    const T& front() const
    {
        return *At(m_head);
    }

    T& back()
    {
        return *At((m_head + m_size - 1) & m_mask);
    }

    /// @brief Element @p i counted from the front.
    T& operator[](size_t i)
    {
        return *At((m_head + i) & m_mask);
    }

    const T& operator[](size_t i) const
    {
        return *At((m_head + i) & m_mask);
    }

    /// Constructs the element in a free slot, never reading it: on a queue tail that is out
    /// of the caches the write does not stall on a load (an assignment would first read the
    /// slot's old value, e.g. a packet reference to release).
    void push_back(T&& value)
    {
        if (m_size == Capacity())
        {
            GrowAndAppend(std::move(value));
            return;
        }
        new (Slot((m_head + m_size) & m_mask)) T(std::move(value));
        ++m_size;
    }

    void push_back(const T& value)
    {
        T copy(value);
        push_back(std::move(copy));
    }

    void pop_front()
    {
        At(m_head)->~T(); // releases what the element holds (e.g. a packet)
        m_head = (m_head + 1) & m_mask;
        --m_size;
    }

    void clear()
    {
        while (!empty())
        {
            pop_front();
        }
    }

  private:
    /// Raw storage for one element: slots outside [head, head + size) hold no object.
    struct alignas(T) Storage
    {
        unsigned char bytes[sizeof(T)];
    };

    void* Slot(size_t index)
    {
        return &m_data[index];
    }

    T* At(size_t index)
    {
        return std::launder(reinterpret_cast<T*>(&m_data[index]));
    }

    const T* At(size_t index) const
    {
        return std::launder(reinterpret_cast<const T*>(&m_data[index]));
    }

    size_t Capacity() const
    {
        return m_data ? m_mask + 1 : 0;
    }

    /// Double the capacity and append @p value, constructed before the elements move (it may
    /// be one of them).
    void GrowAndAppend(T&& value)
    {
        const size_t cap = Capacity() == 0 ? 1 : 2 * Capacity();
        std::unique_ptr<Storage[]> data(new Storage[cap]);
        new (&data[m_size]) T(std::move(value));
        for (size_t i = 0; i < m_size; ++i)
        {
            T* old = At((m_head + i) & m_mask);
            new (&data[i]) T(std::move(*old));
            old->~T();
        }
        m_data = std::move(data);
        m_head = 0;
        m_mask = cap - 1;
        ++m_size;
    }

    std::unique_ptr<Storage[]> m_data;
    uint32_t m_head{0};
    uint32_t m_size{0};
    size_t m_mask{0};
};

} // namespace moe
} // namespace ns3

#endif // MOE_RING_BUFFER_H
