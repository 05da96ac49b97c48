/*
 * moe-fabric: messages over ns-3's own TCP (DCTCP, Cubic, NewReno...) on the fabric's devices.
 */
#ifndef MOE_TCP_TRANSPORT_H
#define MOE_TCP_TRANSPORT_H

#include "message-transport.h"

#include "ns3/fabric-host.h"
#include "ns3/fabric-topology.h"
#include "ns3/nstime.h"
#include "ns3/ptr.h"
#include "ns3/sequence-number.h"
#include "ns3/socket.h"
#include "ns3/tcp-socket-state.h"

#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace ns3
{

class TcpHeader;
class TcpSocketBase;

namespace moe
{

/**
 * @brief Counters of a TcpTransport, kept beside its trace sources.
 */
struct TcpCounters
{
    uint64_t connections{0};           ///< TCP connections opened (one per (src, dst, class))
    uint64_t dataSegments{0};          ///< data segments senders transmitted (retransmissions too)
    uint64_t retransmittedSegments{0}; ///< of which retransmissions
    uint64_t timeouts{0};              ///< senders entering the Loss state (an RTO expired)
    uint64_t fastRecoveries{0};        ///< senders entering the Recovery state (fast retransmit)
    uint64_t cwndReductions{0};        ///< congestion-window decreases at senders
    uint64_t ceFrames{0};              ///< frames that reached a host with IPv4 ECN = CE
    uint64_t eceAcks{0};               ///< ACKs carrying ECE that reached a data sender
    uint64_t cwrSegments{0};           ///< segments carrying CWR that data senders transmitted
};

/**
 * @brief The message interface over ns-3's Internet stack and TCP sockets, on the same fabric
 * devices, switches and buffers as RdmaTransport.
 *
 * Install() puts an IPv4 stack (InternetStackHelper, static routing, no IPv6) on every GPU node
 * and one IPv4 interface on each of the host's FabricNetDevices, with the GPU's address
 * GpuIpv4Address(g) (/8 on the NIC, /32 on an NVLink port, plus a host route for every GPU the
 * fabric reaches through that port). No queue disc is installed: the traffic-control layer hands
 * each IPv4 packet straight to the device, whose SendFrom() adds an Ethernet header and queues it
 * at the priority of its DSCP (the TCP window bounds that queue). Frames addressed to the GPU go
 * from its FabricHost to this transport (it is the host's FabricFrameReceiver), which passes them
 * up the stack with FabricNetDevice::ForwardUp().
 *
 * One TCP connection per (source, destination, class), opened at its first message (data written
 * before the handshake completes waits in the send buffer); the listener of class c listens on
 * port PORT_BASE + c. Every message is a record on its connection's byte stream: a 16-byte header
 * (payload length and message id, both big-endian 64-bit) followed by the payload. The receiving
 * application parses the stream; a message is delivered when its last byte is read, acknowledged
 * when TCP at the sender has had every byte of its record acknowledged. IP TOS = DSCP of the
 * class's priority (CSp) << 2, ECT(0) added by TCP when ECN is on; switches mark CE in place.
 */
class TcpTransport : public MessageTransport, public FabricFrameReceiver
{
  public:
    static TypeId GetTypeId();
    TcpTransport();
    ~TcpTransport() override;

    /// First TCP port of the per-class listeners.
    static constexpr uint16_t PORT_BASE = 5000;
    /// Bytes of the record header in front of each message on the byte stream.
    static constexpr uint32_t RECORD_HEADER_BYTES = 16;
    /// IPv4 + TCP header bytes of a data segment (no options: timestamps are off).
    static constexpr uint32_t SEGMENT_HEADER_BYTES = 40;

    /**
     * @brief The ns-3 congestion-control TypeId name of variant @p name ("dctcp" ->
     * "ns3::TcpDctcp"), or "" if the name is not a supported variant.
     */
    static std::string VariantTypeName(const std::string& name);
    /// @brief The supported variant names, comma-separated (for error messages and docs).
    static std::string VariantNames();

    /// @brief Install the IPv4 stack and listeners on every GPU of @p topology (once).
    void Install(Ptr<FabricTopology> topology);

    uint32_t GetNumHosts() const override;

    /// @brief Counters so far.
    const TcpCounters& GetCounters() const;

    /// @brief The sender-side socket of (src, dst, cls), or null if no message used it yet.
    Ptr<TcpSocketBase> GetSenderSocket(uint32_t src, uint32_t dst, uint8_t cls) const;

    // FabricFrameReceiver
    void DeliverFrame(const Ptr<Packet>& packet,
                      const FrameInfo& frame,
                      const RoceInfo& roce,
                      uint32_t port) override;

    /// TracedCallback signature of per-connection events (retransmission, timeout, ECE).
    typedef void (*ConnectionTracedCallback)(uint32_t src, uint32_t dst, uint8_t cls);
    /// TracedCallback signature of congestion-window changes of a sender.
    typedef void (*CwndTracedCallback)(uint32_t src,
                                       uint32_t dst,
                                       uint8_t cls,
                                       uint32_t oldCwnd,
                                       uint32_t newCwnd);

  protected:
    void DoSend(const MessageRecord& record) override;
    void DoDispose() override;

  private:
    struct PendingMessage
    {
        MessageRecord record;
        uint64_t begin; ///< stream offset of the record header
        uint64_t end;   ///< stream offset after the payload
        bool delivered{false};
    };

    struct Connection
    {
        uint32_t src;
        uint32_t dst;
        uint8_t cls;
        Ptr<Socket> tx;                      ///< at src
        Ptr<Socket> rx;                      ///< at dst (accepted)
        std::deque<PendingMessage> messages; ///< not yet acknowledged, in stream order
        size_t writeIndex{0};                ///< first message not fully written to tx
        size_t readIndex{0};                 ///< first message not fully read from rx
        uint64_t queuedEnd{0};               ///< stream bytes of all messages so far
        uint64_t written{0};                 ///< stream bytes written to tx
        // Receive-side parser state.
        uint8_t header[RECORD_HEADER_BYTES];
        uint32_t headerHave{0};
        uint64_t payloadLeft{0};
        bool inPayload{false};
        // Sender statistics.
        SequenceNumber32 highTx{0};
        bool sentData{false};
    };

    uint32_t GetConnection(uint32_t src, uint32_t dst, uint8_t cls);
    Ptr<Socket> CreateSocket(uint32_t gpu);
    void SetClassTos(Ptr<Socket> socket, uint8_t cls) const;
    void Push(uint32_t index);
    void CompleteAcked(uint32_t index);
    void OnSendSpace(Ptr<Socket> socket, uint32_t available);
    void OnAccept(Ptr<Socket> socket, const Address& from);
    void OnRecv(Ptr<Socket> socket);
    void Consume(uint32_t index, Ptr<Packet> packet);

    static void TxSink(TcpTransport* self,
                       uint32_t index,
                       Ptr<const Packet> packet,
                       const TcpHeader& header,
                       Ptr<const TcpSocketBase> socket);
    static void RxSink(TcpTransport* self,
                       uint32_t index,
                       Ptr<const Packet> packet,
                       const TcpHeader& header,
                       Ptr<const TcpSocketBase> socket);
    static void CongStateSink(TcpTransport* self,
                              uint32_t index,
                              TcpSocketState::TcpCongState_t oldState,
                              TcpSocketState::TcpCongState_t newState);
    static void CwndSink(TcpTransport* self, uint32_t index, uint32_t oldCwnd, uint32_t newCwnd);

    // Attributes
    std::string m_variant;
    uint32_t m_segmentSize;
    bool m_useEcn;
    Time m_minRto;
    uint32_t m_initialCwnd;
    uint32_t m_sndBufSize;
    uint32_t m_rcvBufSize;
    uint32_t m_delAckCount;
    Time m_delAckTimeout;
    double m_dctcpG;

    Ptr<FabricTopology> m_topology;
    std::vector<Ptr<FabricHost>> m_hosts;
    std::unordered_map<uint32_t, uint32_t> m_gpuOfNode;    ///< ns-3 node id -> GPU (lookup only)
    std::deque<Connection> m_connections;                  ///< stable references as it grows
    std::unordered_map<uint64_t, uint32_t> m_connectionOf; ///< (src, dst, cls) key (lookup only)
    std::unordered_map<const Socket*, uint32_t> m_connectionOfSocket; ///< lookup only
    std::vector<Ptr<Socket>> m_listeners;
    TypeId m_congestionTypeId;
    TcpCounters m_counters;

    TracedCallback<uint32_t, uint32_t, uint8_t> m_retransmitTrace;
    TracedCallback<uint32_t, uint32_t, uint8_t> m_timeoutTrace;
    TracedCallback<uint32_t, uint32_t, uint8_t> m_eceTrace;
    TracedCallback<uint32_t, uint32_t, uint8_t, uint32_t, uint32_t> m_cwndTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_TCP_TRANSPORT_H
