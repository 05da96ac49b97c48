/*
 * moe-fabric: RoCEv2-style RDMA transport with pull-based NICs.
 */
#ifndef MOE_RDMA_TRANSPORT_H
#define MOE_RDMA_TRANSPORT_H

#include "message-transport.h"
#include "rdma-congestion-control.h"
#include "rdma-queue-pair.h"

#include "ns3/fabric-frame.h"
#include "ns3/fabric-host.h"
#include "ns3/fabric-topology.h"
#include "ns3/nstime.h"
#include "ns3/object-factory.h"
#include "ns3/roce-frame-header.h"

#include <array>
#include <deque>
#include <map>
#include <vector>

namespace ns3
{
namespace moe
{

class RdmaTransport;

/**
 * @brief Counters of the RDMA transport (all NICs together).
 */
struct RdmaCounters
{
    uint64_t dataPackets{0};          ///< data packets sent, retransmissions included
    uint64_t retransmittedPackets{0}; ///< data packets sent again
    uint64_t acksSent{0};
    uint64_t naksSent{0};
    uint64_t timeouts{0};
    uint64_t duplicatePackets{0};     ///< data packets received again (already had them)
    uint64_t outOfOrderPackets{0};    ///< accepted ahead of a gap (selective repeat)
    uint64_t discardedPackets{0};     ///< out-of-order packets dropped by go-back-N receivers
    uint64_t controlFramesDropped{0}; ///< ACK/NAK/CNP frames refused by the host's own queue
    uint64_t queuePairs{0};
    uint64_t cePackets{0};     ///< data packets received with ECN CE
    uint64_t cnpsSent{0};      ///< CNPs sent by receivers (notification points)
    uint64_t cnpsReceived{0};  ///< CNPs received by senders (reaction points)
    uint64_t rateDecreases{0}; ///< congestion-control rate decreases
};

/**
 * @brief The RDMA engine of one GPU's NIC(s): its queue pairs, the pull source of its ports, and
 * the receive side. Created and owned by RdmaTransport.
 *
 * When a port has a free, unpaused priority it calls Pull(port, priority); the NIC takes the next
 * eligible queue pair of that (port, priority) round-robin -- the active list holds only queue
 * pairs with something to send that are not blocked by their window or pacing -- and builds
 * exactly one packet. Nothing is packetized ahead of the wire.
 */
class RdmaNic : public Object, public FabricPullSource, public FabricFrameReceiver
{
  public:
    static TypeId GetTypeId();
    RdmaNic();

    /// @brief Attach to @p host (its ports become pull-driven) on behalf of @p transport.
    void Setup(RdmaTransport* transport, Ptr<FabricHost> host);

    /// @brief Queue a message; creates the queue pair on first use.
    void PostSend(const MessageRecord& record);

    /// @brief Pull source of port @p port: the next frame of @p priority, or nullptr.
    Ptr<Packet> PullFrame(uint32_t port, uint8_t priority) override;

    /// @brief A frame addressed to this GPU arrived.
    void DeliverFrame(const Ptr<Packet>& packet,
                      const FrameInfo& frame,
                      const RoceInfo& roce,
                      uint32_t port) override;

    /// @brief Sender QP index towards (@p dst, @p cls), creating it if needed.
    uint32_t GetOrCreateSenderQp(uint32_t dst, uint8_t cls);
    /// @brief Sender QP by index.
    SenderQp& GetSenderQp(uint32_t index);
    uint32_t GetNumSenderQps() const;
    /// @brief Receiver QP by index.
    ReceiverQp& GetReceiverQp(uint32_t index);
    uint32_t GetNumReceiverQps() const;
    /// @brief Create the receiver side for a sender QP at @p src; returns its index.
    uint32_t CreateReceiverQp(uint32_t src, uint32_t srcQpIndex, uint32_t srcQpn);

    /// @brief Pacing rate and window of sender QP @p index (the congestion-control hook).
    void SetQpRate(uint32_t index, uint64_t rateBps);
    void SetQpWindow(uint32_t index, uint64_t windowBytes);
    /// @brief SetQpRate on behalf of congestion control: also reported (trace QpRate, counters).
    void SetCcRate(uint32_t index, uint64_t rateBps, RateEvent event);

    /// @brief This NIC's congestion-control instance.
    Ptr<RdmaCongestionControl> GetCongestionControl() const;
    /// @brief Line rate of sender QP @p index (its port's data rate), bit/s.
    uint64_t GetQpLineRate(uint32_t index) const;
    /// @brief Base RTT of sender QP @p index from the topology, in ps: a full data packet to
    /// the destination (its serialization on the first link, then FabricTopology's path
    /// latency, full telemetry included if the algorithm asks for it) and an ACK back.
    int64_t GetQpBaseRttPs(uint32_t index) const;
    /// @brief Links on the path of sender QP @p index.
    uint32_t GetQpHopCount(uint32_t index) const;
    /// @brief Payload bytes per packet (the transport's MTU).
    uint32_t GetMtu() const;
    /// @brief Entries in this NIC's retransmission-timer heap, live and stale (a diagnostic:
    /// at most one live entry per QP with a running timer, plus stale ones that are skipped
    /// when they come up, a few per QP at most).
    std::size_t GetRtoTimerEntries() const;

    /// @brief Bytes (payload) posted but not yet acknowledged, over all QPs.
    uint64_t GetPendingMessages() const;

    /// @brief QPN on the wire of sender QP @p index / receiver QP @p index.
    static uint32_t SenderQpn(uint32_t index);
    static uint32_t ReceiverQpn(uint32_t index);

  protected:
    void DoDispose() override;

  private:
    bool CanSend(const SenderQp& qp) const;
    bool WindowOpen(const SenderQp& qp) const;
    void Activate(uint32_t index);
    void Wake(uint32_t index);
    Ptr<Packet> SendNext(uint32_t index);
    Ptr<Packet> BuildData(SenderQp& qp, uint64_t psn);
    void FillOuterHeaders(RoceFrameHeader& h,
                          uint32_t dst,
                          uint32_t port,
                          uint16_t udpSrcPort,
                          uint8_t priority,
                          uint8_t ecn) const;
    void ArmRto(uint32_t index);
    void ScheduleRtoTimer();
    void OnRtoTimer();
    int64_t CurrentRtoPs(const SenderQp& qp) const;

    void HandleData(const Ptr<Packet>& packet, const RoceInfo& roce, uint8_t ecn);
    void HandleAck(const Ptr<Packet>& packet, const RoceInfo& roce);
    void HandleCnp(const RoceInfo& roce);
    void SendAck(ReceiverQp& rq, bool nak);
    /// @brief An ACK (naming @p psn, the last received in order) or NAK (naming @p psn).
    void SendAckFrame(ReceiverQp& rq, bool nak, uint64_t psn);
    /// @brief Selective repeat: NAK every missing PSN that ReorderThreshold received PSNs have
    /// overtaken and that was not NAKed yet.
    void NakLostPsns(ReceiverQp& rq);
    void SendCnp(ReceiverQp& rq);
    bool DeliverCompleted(ReceiverQp& rq, SenderQp& sq);
    void CompleteAcked(SenderQp& qp);
    MessageRecord MakeRecord(uint32_t src, const SenderQp& qp, const RdmaMessage& m) const;

    RdmaTransport* m_transport{nullptr};
    Ptr<FabricHost> m_host;
    uint32_t m_hostId{0};
    uint32_t m_hostIp{0}; ///< host byte order
    std::vector<FabricNetDevice*> m_ports;
    // Deques: callbacks fired while a QP reference is held may create new QPs, and deque
    // growth keeps references valid.
    std::deque<SenderQp> m_senders;
    std::deque<ReceiverQp> m_receivers;
    std::map<uint64_t, uint32_t> m_senderByKey; ///< (dst << 8 | cls) -> sender index
    /// Active lists: [port][priority] -> sender QP indices with something to send.
    std::vector<std::array<RingBuffer<uint32_t>, NUM_PRIORITIES>> m_active;
    uint64_t m_pendingMessages{0};

    Ptr<RdmaCongestionControl> m_cc;
    uint32_t m_ccHooks{0};       ///< RdmaCongestionControl::Hook bits, cached
    int64_t m_cnpIntervalPs{-1}; ///< notification point: < 0 sends no CNPs
    /// QP whose packet is being built in PullFrame: rate changes of it must not re-activate it
    /// (PullFrame re-lists it), or the device would be asked for a frame inside a frame.
    uint32_t m_pullingQp{UINT32_MAX};

    /// Telemetry of the data packet being handled, echoed by the ACKs it triggers
    /// (HOOK_TELEMETRY on the sender's NIC: the data packet says so).
    uint8_t m_echo[INT_MAX_BYTES];
    uint32_t m_echoBytes{0};

    /// RTT sampling (HOOK_RTT only): the send time of every packet in flight, per QP, so that
    /// an ACK's sample is the RTT of the newest packet it acknowledges (the one whose arrival
    /// made the receiver send it), not of an older packet that waited for a coalesced ACK.
    /// A ring indexed by PSN, valid for [sndUna, sndMax); -1 marks a retransmitted PSN (Karn:
    /// its ACK is ambiguous). Its size follows the window, so QPs of algorithms without
    /// HOOK_RTT carry nothing.
    struct SendTimes
    {
        std::vector<int64_t> ps; ///< power-of-two size
    };

    void RecordSendTime(uint32_t index, const SenderQp& qp, uint64_t psn, bool retransmission);
    std::vector<SendTimes> m_sendTimes;

    /// Retransmission timers of all QPs in one min-heap, served by a single pending event per
    /// NIC: an all-to-all has thousands of QPs per NIC, and one simulator event each would make
    /// every event insertion pay for a huge event set.
    struct RtoEntry
    {
        int64_t deadlinePs;
        uint32_t qp;

        bool operator>(const RtoEntry& o) const
        {
            return deadlinePs != o.deadlinePs ? deadlinePs > o.deadlinePs : qp > o.qp;
        }
    };

    std::vector<RtoEntry> m_rtoHeap;
    /// Per sender QP: the deadline of its live heap entry (meaningful while rtoPending). An
    /// entry with another deadline is stale, left behind when the QP was filed again: at an
    /// earlier deadline (the short IRN timeout taking over from the long one) or after a timeout.
    std::vector<int64_t> m_rtoFiledPs;
    int64_t m_rtoTimerPs{-1}; ///< time of the earliest pending timer event, -1 if none
};

/**
 * @brief RoCEv2-style transport: reliable-connected queue pairs per (source, destination,
 * class), MTU segmentation, cumulative ACKs every AckInterval packets (and at every message end),
 * a receiver that tolerates reordering (selective repeat: out-of-order bitmap, NAK for the first
 * missing PSN once ReorderThreshold later PSNs have arrived, retransmission of just that PSN) or
 * classic go-back-N, and retransmission timeouts. Each queue pair has a pacing rate and a window
 * that congestion control drives: one RdmaCongestionControl per NIC, of the type of the
 * CongestionControl attribute (none, i.e. line rate, by default; DCQCN). Receivers send CNPs
 * (BTH opcode 0x81) for CE-marked data when the algorithm asks for a notification point.
 *
 * Frames: Ethernet / IPv4 (DSCP = priority, ECT(0) on data) / UDP 4791 (source port = the
 * QP's ECMP entropy) / BTH (+ AETH on ACK/NAK) / payload / ICRC.
 */
class RdmaTransport : public MessageTransport
{
  public:
    static TypeId GetTypeId();
    RdmaTransport();

    /// Loss recovery modes.
    enum Recovery
    {
        SELECTIVE_REPEAT = 0,
        GO_BACK_N = 1,
    };

    /// TracedCallback signature for (host, qpn, psn) events.
    typedef void (*QpPsnTracedCallback)(uint32_t host, uint32_t qpn, uint64_t psn);
    /// TracedCallback signature for (host, qpn) events.
    typedef void (*QpTracedCallback)(uint32_t host, uint32_t qpn);
    /// TracedCallback signature of rate changes: (host, qpn, rate in bit/s (0 = line rate,
    /// unpaced), RateEvent as an integer).
    typedef void (*QpRateTracedCallback)(uint32_t host,
                                         uint32_t qpn,
                                         uint64_t rateBps,
                                         uint8_t event);

    /// @brief Create a NIC on every GPU of @p topology.
    void Install(Ptr<FabricTopology> topology);

    uint32_t GetNumHosts() const override;
    Ptr<RdmaNic> GetNic(uint32_t host) const;
    Ptr<FabricTopology> GetTopology() const;

    const RdmaCounters& GetCounters() const;
    RdmaCounters& MutableCounters();

    uint32_t GetMtu() const;
    uint32_t GetAckInterval() const;
    Recovery GetRecovery() const;
    uint32_t GetReorderThreshold() const;
    int64_t GetRtoHighPs() const;
    int64_t GetRtoLowPs() const;
    uint32_t GetRtoLowPackets() const;
    bool GetBdpFlowControl() const;
    uint8_t GetControlPriority() const;
    uint64_t GetSeed() const;
    void SetSeed(uint64_t seed);

    /// @brief Congestion control by type name (e.g. "ns3::moe::DcqcnCongestionControl"); the
    /// same as the CongestionControl attribute. Resets the attributes set so far.
    void SetCongestionControl(const std::string& typeName);
    /// @brief Set attribute @p name of every NIC's congestion-control instance (before Install).
    void SetCongestionControlAttribute(const std::string& name, const AttributeValue& value);
    /// @brief A new congestion-control instance (one per NIC).
    Ptr<RdmaCongestionControl> CreateCongestionControl() const;

    /// @brief Messages posted and not yet acknowledged (all NICs).
    uint64_t GetPendingMessages() const;

    // Used by RdmaNic.
    void ReportDelivered(const MessageRecord& record);
    void ReportAcked(const MessageRecord& record);
    void ReportRetransmit(uint32_t host, uint32_t qpn, uint64_t psn);
    void ReportTimeout(uint32_t host, uint32_t qpn, uint64_t psn);
    void ReportRate(uint32_t host, uint32_t qpn, uint64_t rateBps, RateEvent event);
    void ReportCnpSent(uint32_t host, uint32_t qpn);
    void ReportCnpReceived(uint32_t host, uint32_t qpn);

  protected:
    void DoSend(const MessageRecord& record) override;
    void DoDispose() override;

  private:
    void SetCongestionControlTypeId(TypeId tid);
    TypeId GetCongestionControlTypeId() const;

    Ptr<FabricTopology> m_topology;
    std::vector<Ptr<RdmaNic>> m_nics;
    RdmaCounters m_counters;
    uint32_t m_mtu;
    uint32_t m_ackInterval;
    Recovery m_recovery;
    uint32_t m_reorderThreshold;
    Time m_rtoHigh;
    Time m_rtoLow;
    uint32_t m_rtoLowPackets;
    bool m_bdpFlowControl{false};
    uint8_t m_controlPriority;
    uint64_t m_seed{1};
    TracedCallback<uint32_t, uint32_t, uint64_t> m_retransmitTrace;
    TracedCallback<uint32_t, uint32_t, uint64_t> m_timeoutTrace;
    ObjectFactory m_ccFactory;
    TracedCallback<uint32_t, uint32_t, uint64_t, uint8_t> m_rateTrace;
    TracedCallback<uint32_t, uint32_t> m_cnpSentTrace;
    TracedCallback<uint32_t, uint32_t> m_cnpReceivedTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_RDMA_TRANSPORT_H
