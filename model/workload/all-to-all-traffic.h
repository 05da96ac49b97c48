/*
 * moe-fabric: synthetic layer-synchronized all-to-all traffic.
 */
#ifndef MOE_ALL_TO_ALL_TRAFFIC_H
#define MOE_ALL_TO_ALL_TRAFFIC_H

#include "ns3/callback.h"
#include "ns3/message-transport.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <cstdint>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief R rounds of all-to-all among a set of GPUs, each round a barrier.
 *
 * In every round each participant sends BytesPerPair (or the per-pair matrix entry) to every
 * other participant, all messages posted at the round's start (a pair with 0 bytes posts none:
 * a matrix's zeros are the pairs without traffic). A round ends when the last of its
 * messages has been delivered; the next starts ComputeGap later. This is the traffic skeleton of
 * an expert-parallel MoE layer (dispatch, then the next layer), without the router.
 */
class AllToAllTraffic : public Object
{
  public:
    static TypeId GetTypeId();
    AllToAllTraffic();

    /// @brief Timeline and volume of one round.
    struct Round
    {
        Time start;
        Time end; ///< last delivery; -1 ps while running
        uint64_t messages{0};
        uint64_t bytes{0};
    };

    /// TracedCallback signature for round boundaries.
    typedef void (*RoundTracedCallback)(uint32_t round, Time time);

    /// @brief GPUs taking part, in rank order (default: all hosts of the transport).
    void SetParticipants(const std::vector<uint32_t>& gpus);
    const std::vector<uint32_t>& GetParticipants() const;
    /// @brief Per-pair bytes by rank [src][dst] (overrides BytesPerPair; diagonal ignored; 0 =
    /// no message).
    void SetMatrix(const std::vector<std::vector<uint64_t>>& matrix);
    /// @brief Shift pattern (overrides BytesPerPair's every-pair default; not with a matrix):
    /// rank s sends BytesPerPair to rank (s + o) mod N for each offset o in 1..N-1, N the
    /// number of participants. No N x N state: a pair's bytes are computed when asked.
    void SetPeerOffsets(const std::vector<uint32_t>& offsets);
    /// @brief Bytes rank @p s sends to rank @p d in every round.
    uint64_t GetPairBytes(uint32_t s, uint32_t d) const;

    /// @brief Call @p f(s, d, bytes) for every pair of ranks that sends in a round (bytes > 0),
    /// in the order a round posts them: sources in rank order, and per source the destinations
    /// s + 1, s + 2, ... (mod N). A shift pattern visits its offsets only (N x |peers| calls
    /// instead of N x N).
    template <typename F>
    void ForEachMessage(F&& f) const
    {
        const auto n = static_cast<uint32_t>(m_participants.size());
        for (uint32_t s = 0; s < n; ++s)
        {
            if (!m_peerOffsets.empty())
            {
                // Sorted and distinct: the order below. Offsets outside 1..N-1 (which Start()
                // refuses) send nothing.
                for (const uint32_t o : m_peerOffsets)
                {
                    if (o > 0 && o < n && m_bytesPerPair != 0)
                    {
                        f(s, (s + o) % n, m_bytesPerPair);
                    }
                }
                continue;
            }
            for (uint32_t step = 1; step < n; ++step)
            {
                const uint32_t d = (s + step) % n;
                const uint64_t bytes = GetPairBytes(s, d);
                if (bytes != 0)
                {
                    f(s, d, bytes);
                }
            }
        }
    }

    /// @brief Use @p transport and start the first round at @p at.
    void Start(Ptr<MessageTransport> transport, Time at);

    /// @brief Keep a MessageRecord of every delivered-and-acknowledged message.
    void SetRecordMessages(bool record);
    /// @brief Records in completion (acknowledgement) order; tag = round number.
    const std::vector<MessageRecord>& GetMessageRecords() const;

    /// @brief Delivery time (delivered - start) of every message, in picoseconds, in the
    /// order messages were acknowledged. Kept whether or not records are.
    const std::vector<int64_t>& GetDeliveryTimesPs() const;
    /// @brief Acknowledgement time (acked - start) of every message, in picoseconds.
    const std::vector<int64_t>& GetAckTimesPs() const;

    const std::vector<Round>& GetRounds() const;
    uint32_t GetNumRounds() const;
    /// @brief True once every round has completed and every message has been acknowledged.
    bool IsDone() const;
    /// @brief Called once when IsDone() becomes true.
    void SetDoneCallback(Callback<void> cb);

  protected:
    void DoDispose() override;

  private:
    void StartRound();
    void OnDelivered(const MessageRecord& record);
    void OnAcked(const MessageRecord& record);
    /// The current round has delivered everything: start the next one after the compute gap,
    /// or finish.
    void EndRound();
    void CheckDone();

    uint32_t m_rounds;
    uint64_t m_bytesPerPair;
    Time m_computeGap;
    uint8_t m_class;
    std::vector<uint32_t> m_participants;
    std::vector<std::vector<uint64_t>> m_matrix;
    std::vector<uint32_t> m_peerOffsets; ///< sorted, distinct; empty = no shift pattern
    Ptr<MessageTransport> m_transport;
    std::vector<Round> m_roundLog;
    uint64_t m_outstandingDeliveries{0};
    uint64_t m_outstandingAcks{0};
    bool m_recordMessages{false};
    bool m_done{false};
    std::vector<MessageRecord> m_records;
    std::vector<int64_t> m_deliveryPs;
    std::vector<int64_t> m_ackPs;
    Callback<void> m_doneCb;
    TracedCallback<uint32_t, Time> m_roundStartTrace;
    TracedCallback<uint32_t, Time> m_roundEndTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_ALL_TO_ALL_TRAFFIC_H
