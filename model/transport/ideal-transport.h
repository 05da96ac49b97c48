/*
 * moe-fabric: the analytic reference transport -- messages as max-min fair fluid flows.
 */
#ifndef MOE_IDEAL_TRANSPORT_H
#define MOE_IDEAL_TRANSPORT_H

#include "message-transport.h"

#include "ns3/event-id.h"
#include "ns3/fabric-topology.h"
#include "ns3/nstime.h"
#include "ns3/ptr.h"

#include <array>
#include <cstdint>
#include <map>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief The analytic reference: what a message would cost on a fabric whose only limits are the
 * hosts' own ports. No packets are simulated.
 *
 * Comparing a workload's times on this transport with its times on the packet-level
 * RdmaTransport answers "how much did the fabric cost?" (queueing, congestion control, PFC,
 * load-balancing collisions, retransmissions).
 *
 * **Resources.** Every host has four: egress and ingress of its NIC (port 0) and of its NVLink
 * port (port 1, if it has one). A message from @c src to @c dst uses two of them: @c src's egress
 * on port GetEgressPort(src, dst) (NVLink inside a server, the NIC otherwise) with capacity
 * GetHostPortRate(src, port), and @c dst's ingress on the same kind of port (NVLink if the two
 * share a server, the NIC otherwise) with the rate of @c dst's port. A message that a relay GPU
 * carries (PXN, FabricTopology::GetRelay) uses two more, the relay's: NVLink ingress and NIC
 * egress, which it shares with the relay's own traffic and with everything else it relays.
 * The core (switches and the links between them) is assumed non-blocking. Traffic classes and
 * priorities are not distinguished: every active flow counts alike.
 *
 * **Amount.** A message is a fluid flow of exactly the wire bytes the RDMA transport puts on the
 * first link for its data: bytes / Mtu packets of WireBytes(Mtu + ROCE_DATA_HEADER_BYTES), one
 * packet of WireBytes(rem + ROCE_DATA_HEADER_BYTES) if rem = bytes % Mtu > 0, and one header-only
 * packet WireBytes(ROCE_DATA_HEADER_BYTES) for a zero-byte message (WireBytes pads to the minimum
 * Ethernet frame and adds FCS, preamble and inter-frame gap).
 *
 * **Sharing.** Messages of one (src, dst, class) are served in order: only the head of each such
 * queue is an active flow, and the next one becomes active the instant the previous one has
 * drained. Active flows share every resource max-min fairly (progressive filling), recomputed
 * whenever the set of active flows changes; all changes at one timestamp (any number of Send()
 * calls, any number of completions) are coalesced into one recomputation.
 *
 * **Times.** With frameBytes = min(bytes, Mtu) + ROCE_DATA_HEADER_BYTES and a flow activated at
 * A that finishes draining at T:
 *  - firstByte = A + serialization of WireBytes(frameBytes) at src's port line rate
 *    + GetPathLatency(src, dst, frameBytes);
 *  - delivered = T + GetPathLatency(src, dst, frameBytes) (link delays plus store-and-forward
 *    of one frame per hop after the first), but never earlier than the previous message of the
 *    same (src, dst, class): a short message right behind a long one has less store-and-forward
 *    latency, and the in-order guarantee wins;
 *  - acked = delivered + GetPathLatency(dst, src, ackFrameBytes) + serialization of the ACK frame
 *    on dst's port, where the ACK frame is Ethernet + IPv4 + UDP + BTH + AETH + ICRC (62 bytes
 *    stored), likewise never earlier than the previous acknowledgement of the same queue.
 *
 * NotifyDelivered and NotifyAcked run in events at exactly those times. A lone message on an idle
 * fabric therefore takes wireBits / the lowest rate among its resources (rounded up to a
 * picosecond) plus the path latency: GetUncongestedTime().
 *
 * **Rounding.** Simulation time is integer picoseconds, rates are doubles (max-min shares are
 * arbitrary fractions of the line rates). Each flow keeps its remaining wire bits as a double,
 * advanced at every recomputation by rate x elapsed time, where the elapsed time is the true
 * (integer) simulation time. A flow's finish time is its exact fluid finish time rounded up to the
 * next picosecond; a value within 1e-6 ps (plus a 1e-13 fraction) above an integer snaps down to
 * it, so that exact results such as 1 MiB at 100 Gb/s are not pushed one picosecond late by
 * floating-point noise. Rounding therefore never accumulates: the finishing flow holds its share
 * for less than one extra picosecond, and every other flow's remaining amount is advanced to the
 * true event time, so each completion is off by less than 1 ps from the exact fluid model. Shares
 * that agree to a 1e-9 fraction get the same (first-computed) rate, so that symmetric flows (an
 * all-to-all) stay bitwise identical and finish in one event instead of being scattered over
 * neighbouring picoseconds by floating-point noise (a resource may thus be over-committed by a
 * 1e-9 fraction).
 *
 * **Cost.** Every change of the active set costs one recomputation over the F active flows:
 * advancing them and computing their finish times is O(F); the max-min rates are O(F log R) for
 * the R resources in use: a compressed resource -> flow adjacency is rebuilt in O(F), then
 * resources are frozen in increasing order of fair share from an indexed min-heap, each frozen
 * flow updating its other resource's share in O(log R). Nothing is O(F^2) per event, but a
 * workload whose F flows all finish at different instants costs O(F^2 log R) in total (exact
 * max-min couples every flow to every other through shared ports). Only the earliest completion
 * is scheduled; deliveries and acknowledgements are grouped into one event per distinct time.
 * Same inputs give the same times: no container whose order reaches events is unordered or
 * pointer-keyed.
 */
class IdealTransport : public MessageTransport
{
  public:
    static TypeId GetTypeId();
    IdealTransport();
    ~IdealTransport() override;

    /// @brief Serve the GPUs of @p topo (must be built, with picosecond time resolution).
    void Install(Ptr<FabricTopology> topo);

    uint32_t GetNumHosts() const override;

    /// @brief Set / get the payload bytes per packet (the Mtu attribute, 256..9000).
    void SetMtu(uint32_t mtu);
    uint32_t GetMtu() const;

    /// @brief Wire bytes a message of @p bytes puts on the first link (see the class comment).
    uint64_t GetWireBytes(uint64_t bytes) const;

    /**
     * @brief delivered - start of a message of @p bytes from @p src to @p dst alone on an idle
     * fabric: serialization of its wire bytes at the lowest rate among its resources (source
     * and destination ports, and a relay's), rounded up to a picosecond, plus GetPathLatency(src,
     * dst, min(bytes, Mtu) + ROCE_DATA_HEADER_BYTES). Zero for src == dst.
     */
    Time GetUncongestedTime(uint32_t src, uint32_t dst, uint64_t bytes) const;

    /**
     * @brief Current max-min rate (bits/s) of message @p id; 0 if it is not an active flow
     * (queued behind another message of its queue, drained, or unknown). A diagnostic: O(F).
     */
    double GetFlowRate(uint64_t id) const;

    /// @brief Flows that finished draining so far.
    uint64_t GetFlowsCompleted() const;
    /// @brief Largest number of simultaneously active flows seen.
    uint32_t GetMaxConcurrentFlows() const;
    /// @brief Flows active right now.
    uint32_t GetActiveFlows() const;
    /// @brief Max-min recomputations performed so far.
    uint64_t GetRecomputations() const;

  protected:
    void DoSend(const MessageRecord& record) override;
    void DoDispose() override;

  private:
    struct Queue;

    /// A message from Send() until its acknowledgement has been reported.
    struct Message
    {
        MessageRecord record;
        uint32_t next{UINT32_MAX}; ///< next message of the same (src, dst, class) queue
        uint32_t frameBytes{0};    ///< stored bytes of its first frame (latency model)
        uint64_t wireBits{0};      ///< amount the flow must move
        Queue* queue{nullptr};     ///< its queue (std::map nodes do not move; see Queue)
    };

    static constexpr uint32_t MAX_FLOW_RESOURCES = 4;

    /// @brief The resources a message from @p src to @p dst drains through (see the class
    /// comment) into @p res; returns how many.
    uint32_t FlowResources(uint32_t src,
                           uint32_t dst,
                           std::array<uint32_t, MAX_FLOW_RESOURCES>& res) const;

    /// An active flow: the head message of one (src, dst, class) queue.
    struct Flow
    {
        double remaining{0}; ///< wire bits still to move at m_lastUpdatePs
        double rate{0};      ///< bits/s, from the last recomputation (0 before the first)
        int64_t finishPs{INT64_MAX};
        int64_t latencyPs{0}; ///< GetPathLatency(src, dst, frameBytes)
        /// Resource indices (see ResourceIndex): source egress, destination ingress, and for
        /// a relayed message the relay's NVLink ingress and NIC egress.
        std::array<uint32_t, MAX_FLOW_RESOURCES> res{};
        uint32_t numRes{0};
        uint32_t msg{0}; ///< index into m_messages
    };

    /// Per (src, dst, class) state, kept (in m_queues) until the last message of the queue is
    /// acknowledged, so it outlives every Message that points to it.
    struct Queue
    {
        uint64_t key{0};
        uint32_t tail{UINT32_MAX}; ///< last message not yet drained (UINT32_MAX: none)
        uint32_t outstanding{0};   ///< messages sent but not yet acknowledged
        int64_t lastDeliveredPs{0};
        int64_t lastAckedPs{0};
    };

    /// A delivery or acknowledgement to report at some time.
    struct Notice
    {
        uint32_t msg;
        bool ack;
    };

    /// Notices due at one time, and the event that reports them.
    struct NoticeBatch
    {
        EventId event;
        std::vector<Notice> notices;
    };

    /// Resource index: 4 per host -- egress NIC, egress NVLink, ingress NIC, ingress NVLink.
    static uint32_t ResourceIndex(uint32_t host, bool ingress, uint32_t port);
    static uint64_t QueueKey(uint32_t src, uint32_t dst, uint8_t cls);

    uint32_t AllocateMessage();
    void Activate(uint32_t msg, int64_t nowPs);
    void RequestUpdate();
    /// Advance, retire drained flows, activate successors, recompute rates, reschedule.
    void Update();
    void CompleteFlow(const Flow& flow, int64_t nowPs);
    void ComputeRates();
    void AddNotice(int64_t timePs, uint32_t msg, bool ack);
    void FireNotices(int64_t timePs);

    Ptr<FabricTopology> m_topo;
    uint32_t m_mtu{4096};
    uint32_t m_numHosts{0};
    std::vector<double> m_capacity; ///< bits/s per resource (0 if the port does not exist)

    std::vector<Message> m_messages; ///< pool; indices are recycled through m_freeMessages
    std::vector<uint32_t> m_freeMessages;
    std::map<uint64_t, Queue> m_queues;
    std::vector<Flow> m_flows; ///< active flows, in activation order
    std::map<int64_t, NoticeBatch> m_notices;

    int64_t m_lastUpdatePs{0};
    EventId m_updateEvent;     ///< coalesced "something changed now" recomputation
    EventId m_completionEvent; ///< the single next-completion event

    // Water-filling scratch space, kept between recomputations to avoid reallocations.
    std::vector<uint32_t> m_resCount;
    std::vector<uint32_t> m_resStart;
    std::vector<uint32_t> m_resFill;
    std::vector<double> m_resShare;
    std::vector<uint32_t> m_heap;    ///< indexed min-heap of resources by (share, index)
    std::vector<uint32_t> m_heapPos; ///< resource -> position in m_heap
    std::vector<double> m_resResidual;
    std::vector<uint32_t> m_touched;
    std::vector<uint32_t> m_adjacency;

    uint64_t m_flowsCompleted{0};
    uint32_t m_maxConcurrent{0};
    uint64_t m_recomputations{0};
};

} // namespace moe
} // namespace ns3

#endif // MOE_IDEAL_TRANSPORT_H
