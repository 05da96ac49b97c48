#include "rdma-queue-pair.h"

namespace ns3
{
namespace moe
{

PsnBitmap::PsnBitmap()
    : m_words(1, 0),
      m_capacity(64)
{
}

bool
PsnBitmap::Test(uint64_t psn, uint64_t base) const
{
    // m_count first: in-order delivery (the common case) then never reads the words, which
    // live in a separate allocation per receiver queue pair (a cache miss per data packet).
    if (m_count == 0 || psn < base || psn - base >= m_capacity)
    {
        return false;
    }
    const uint64_t bit = psn & (m_capacity - 1);
    return (m_words[bit >> 6] >> (bit & 63)) & 1u;
}

void
PsnBitmap::Grow(uint64_t needed, uint64_t base)
{
    uint64_t cap = m_capacity;
    while (cap <= needed)
    {
        cap *= 2;
    }
    std::vector<uint64_t> words(cap / 64, 0);
    // Re-home the marked PSNs of the old window [base, base + m_capacity).
    for (uint64_t psn = base; psn < base + m_capacity && m_count > 0; ++psn)
    {
        const uint64_t oldBit = psn & (m_capacity - 1);
        if ((m_words[oldBit >> 6] >> (oldBit & 63)) & 1u)
        {
            const uint64_t newBit = psn & (cap - 1);
            words[newBit >> 6] |= (1ull << (newBit & 63));
        }
    }
    m_words.swap(words);
    m_capacity = cap;
}

void
PsnBitmap::Set(uint64_t psn, uint64_t base)
{
    if (psn - base >= m_capacity)
    {
        Grow(psn - base, base);
    }
    const uint64_t bit = psn & (m_capacity - 1);
    uint64_t& w = m_words[bit >> 6];
    const uint64_t mask = 1ull << (bit & 63);
    if ((w & mask) == 0)
    {
        w |= mask;
        ++m_count;
    }
}

uint64_t
PsnBitmap::Advance(uint64_t next)
{
    while (m_count > 0)
    {
        const uint64_t bit = next & (m_capacity - 1);
        uint64_t& w = m_words[bit >> 6];
        const uint64_t mask = 1ull << (bit & 63);
        if ((w & mask) == 0)
        {
            break;
        }
        w &= ~mask;
        --m_count;
        ++next;
    }
    return next;
}

uint64_t
PsnBitmap::Count() const
{
    return m_count;
}

} // namespace moe
} // namespace ns3
