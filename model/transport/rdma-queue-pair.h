/*
 * moe-fabric: state of RDMA queue pairs (sender and receiver side).
 */
#ifndef MOE_RDMA_QUEUE_PAIR_H
#define MOE_RDMA_QUEUE_PAIR_H

#include "ns3/fabric-ring-buffer.h"

#include <cstdint>
#include <memory>
#include <set>
#include <vector>

namespace ns3
{
namespace moe
{

/// PSNs are 24 bits on the wire; the transport keeps 64-bit PSNs and folds them.
constexpr uint32_t PSN_MASK = 0xffffff;

/**
 * @brief The 64-bit PSN closest to @p reference whose low 24 bits are @p wire (serial number
 * arithmetic, RFC 1982 style, window of +-2^23).
 */
inline uint64_t
UnfoldPsn(uint32_t wire, uint64_t reference)
{
    const uint32_t refLow = static_cast<uint32_t>(reference) & PSN_MASK;
    int32_t diff = static_cast<int32_t>((wire - refLow) & PSN_MASK);
    if (diff >= (1 << 23))
    {
        diff -= (1 << 24);
    }
    if (diff < 0 && static_cast<uint64_t>(-static_cast<int64_t>(diff)) > reference)
    {
        return 0;
    }
    return reference + static_cast<int64_t>(diff);
}

/**
 * @brief Set of received PSNs ahead of the next expected one, as a growable ring of bits.
 *
 * Valid for PSNs in [base, base + capacity); the caller passes the current base (the receiver's
 * next expected PSN). Memory is proportional to the reordering depth, not to message sizes.
 */
class PsnBitmap
{
  public:
    PsnBitmap();

    /// @brief Is @p psn (>= base) marked?
    bool Test(uint64_t psn, uint64_t base) const;
    /// @brief Mark @p psn (>= base); grows as needed.
    void Set(uint64_t psn, uint64_t base);
    /// @brief Clear marked PSNs starting at @p next while contiguous; returns the new next.
    uint64_t Advance(uint64_t next);
    /// @brief Number of marked PSNs.
    uint64_t Count() const;

  private:
    void Grow(uint64_t needed, uint64_t base);

    std::vector<uint64_t> m_words;
    uint64_t m_capacity; ///< bits, a power of two
    uint64_t m_count{0};
};

/**
 * @brief Index (from the front) of the message of @p msgs holding @p psn: the first whose end is
 * beyond it; msgs.size() if none.
 */
template <typename Msgs>
size_t
FindMessageIndex(const Msgs& msgs, uint64_t psn)
{
    size_t lo = 0;
    size_t hi = msgs.size();
    while (lo < hi)
    {
        const size_t mid = (lo + hi) / 2;
        if (msgs[mid].endPsn <= psn)
        {
            lo = mid + 1;
        }
        else
        {
            hi = mid;
        }
    }
    return lo;
}

/// @brief A message on a sender queue pair.
struct RdmaMessage
{
    uint64_t id{0};
    uint64_t bytes{0};
    uint64_t tag{0};
    uint64_t startPsn{0}; ///< first PSN of the message
    uint64_t endPsn{0};   ///< one past its last PSN
    int64_t startPs{0};
    int64_t firstBytePs{-1};
    int64_t deliveredPs{-1};
};

/**
 * @brief The PSNs a sender queue pair must retransmit (selective repeat), in increasing order.
 *
 * Almost always empty: holding a pointer instead of a std::set (48 bytes) keeps SenderQp, which
 * is touched by every packet sent and every ACK, within two cache lines. The set is allocated at
 * the first NAK and freed when cleared.
 */
class RetxSet
{
  public:
    bool empty() const
    {
        return !m_set || m_set->empty();
    }

    /// @brief Remove and return the lowest PSN (the set must not be empty).
    uint64_t PopFront()
    {
        const auto it = m_set->begin();
        const uint64_t psn = *it;
        m_set->erase(it);
        return psn;
    }

    void insert(uint64_t psn)
    {
        if (!m_set)
        {
            m_set = std::make_unique<std::set<uint64_t>>();
        }
        m_set->insert(psn);
    }

    /// @brief Forget every PSN below @p psn (acknowledged).
    void EraseBelow(uint64_t psn)
    {
        if (m_set)
        {
            m_set->erase(m_set->begin(), m_set->lower_bound(psn));
        }
    }

    void clear()
    {
        m_set.reset();
    }

  private:
    std::unique_ptr<std::set<uint64_t>> m_set;
};

/**
 * @brief Sender side of a reliable-connected queue pair (one per source, destination, class).
 *
 * PSN bookkeeping: [sndUna, sndNxt) has been sent and not acknowledged; sndMax is one past the
 * highest PSN ever sent (go-back-N and timeouts move sndNxt back below it); postedPsn is one past
 * the last PSN of the posted messages.
 */
struct alignas(64) SenderQp
{
    // 128 bytes, cache-line aligned: two lines per queue pair. A NIC holds one per destination
    // and class (about a million in a 1024-GPU all-to-all), and every packet sent and every ACK
    // touches one, so the size is what the whole transport's working set scales with.
    uint32_t dst{0};
    uint8_t cls{0};
    uint8_t priority{0};
    uint8_t port{0};         ///< host port the QP sends on (0 NIC, 1 NVLink)
    bool rtoPending{false};  ///< the QP has a live entry in its NIC's timer heap
    uint16_t udpSrcPort{0};  ///< ECMP entropy of this QP
    bool inList{false};      ///< in its (port, priority) active list
    bool wakePending{false}; ///< a pacing wake-up is scheduled
    uint32_t remoteQpn{0};   ///< the receiver QP at dst

    RingBuffer<RdmaMessage> msgs; ///< not yet acknowledged, in PSN order
    /// msgs.front().endPsn, or UINT64_MAX if empty: lets an ACK that completes no message skip
    /// the message list (a cache miss per ACK otherwise)
    uint64_t frontEndPsn{UINT64_MAX};
    uint64_t msgBaseSeq{0}; ///< sequence number of msgs.front()
    uint64_t postedPsn{0};
    uint64_t sndNxt{0};
    uint64_t sndUna{0};
    uint64_t sndMax{0};
    RetxSet retx; ///< PSNs to retransmit (selective repeat), all >= sndUna

    uint64_t rateBps{0};     ///< pacing rate; 0 = line rate (set by congestion control)
    uint64_t windowBytes{0}; ///< in-flight cap; 0 = unlimited (set by congestion control)
    int64_t nextSendPs{0};   ///< pacing: earliest time of the next packet

    int64_t rtoDeadlinePs{-1}; ///< -1: no timer running
};

static_assert(sizeof(SenderQp) == 128, "SenderQp should stay two cache lines");

/// @brief Receiver side of a reliable-connected queue pair.
struct ReceiverQp
{
    uint32_t src{0};
    uint32_t srcQpIndex{0}; ///< index of the sender QP at src
    uint32_t remoteQpn{0};  ///< QPN of that sender QP (destination of ACKs)
    uint8_t port{0};        ///< host port towards src, for ACKs
    uint16_t udpSrcPort{0};

    uint64_t rcvNxt{0};            ///< next PSN expected in order
    PsnBitmap ooo;                 ///< PSNs received beyond rcvNxt
    uint64_t nakedPsn{UINT64_MAX}; ///< rcvNxt value a NAK was last sent for (go-back-N)
    /// Selective repeat: one past the highest PSN received (meaningful while out of order) and
    /// the PSN below which every hole has been NAKed (each lost PSN is NAKed once).
    uint64_t rcvHigh{0};
    uint64_t nakHigh{0};
    uint32_t pktsSinceAck{0};
    uint64_t deliverSeq{0}; ///< sequence number of the next message to deliver
    /// End PSN of message deliverSeq (0: not looked up yet) and whether its first byte has
    /// been seen: most packets then need no look into the sender's message list.
    uint64_t deliverEndPsn{0};
    bool deliverFirstSeen{false};
    int64_t lastCnpPs{-1}; ///< notification point: time of the last CNP sent, -1 none
};

} // namespace moe
} // namespace ns3

#endif // MOE_RDMA_QUEUE_PAIR_H
