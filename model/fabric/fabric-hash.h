/*
 * moe-fabric: the project's own hash and random mixing, so that ECMP choices and spraying are
 * identical across platforms and standard libraries (std::hash is not).
 */
#ifndef MOE_FABRIC_HASH_H
#define MOE_FABRIC_HASH_H

#include <cstdint>
#include <string>

namespace ns3
{
namespace moe
{

/// @brief SplitMix64 finalizer (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
inline uint64_t
Mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// @brief Hash of an IPv4 5-tuple under a per-switch @p seed.
inline uint64_t
FlowHash(uint64_t seed,
         uint32_t srcIp,
         uint32_t dstIp,
         uint16_t srcPort,
         uint16_t dstPort,
         uint8_t protocol)
{
    uint64_t h = Mix64(seed ^ ((static_cast<uint64_t>(srcIp) << 32) | dstIp));
    h = Mix64(h ^ ((static_cast<uint64_t>(srcPort) << 24) | (static_cast<uint64_t>(dstPort) << 8) |
                   protocol));
    return h;
}

/// @brief Map a 64-bit hash onto [0, n) without a division (Lemire's multiply-shift).
inline uint32_t
ReduceHash(uint64_t h, uint32_t n)
{
    return static_cast<uint32_t>(((h >> 32) * static_cast<uint64_t>(n)) >> 32);
}

/// @brief 64-bit FNV-1a of @p data (used for config hashes in run manifests).
inline uint64_t
Fnv1a64(const std::string& data)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : data)
    {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

/**
 * @brief Small, fast, seedable PRNG (xorshift64*) for per-packet decisions such as spraying.
 * Deterministic for a given seed on every platform.
 */
class FastRng
{
  public:
    explicit FastRng(uint64_t seed = 1)
        : m_state(Mix64(seed) | 1)
    {
    }

    uint64_t Next()
    {
        m_state ^= m_state >> 12;
        m_state ^= m_state << 25;
        m_state ^= m_state >> 27;
        return m_state * 0x2545f4914f6cdd1dull;
    }

    /// @brief Uniform integer in [0, n).
    uint32_t Below(uint32_t n)
    {
        return ReduceHash(Next(), n);
    }

  private:
    uint64_t m_state;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_HASH_H
