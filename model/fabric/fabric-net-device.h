/*
 * moe-fabric: a full-duplex fabric port with eight pausable priority queues.
 */
#ifndef MOE_FABRIC_NET_DEVICE_H
#define MOE_FABRIC_NET_DEVICE_H

#include "fabric-admission.h"
#include "fabric-flagged-trace.h"
#include "fabric-frame.h"
#include "fabric-ring-buffer.h"

#include "ns3/callback.h"
#include "ns3/data-rate.h"
#include "ns3/error-model.h"
#include "ns3/event-id.h"
#include "ns3/mac48-address.h"
#include "ns3/net-device.h"
#include "ns3/node.h"
#include "ns3/nstime.h"
#include "ns3/traced-callback.h"

#include <array>
#include <memory>
#include <string>

namespace ns3
{
namespace moe
{

class FabricChannel;

/**
 * @brief The node-side logic a port hands received frames to: a switch, or a GPU's host logic.
 *
 * A plain virtual interface rather than an ns-3 Callback: it is called once per frame per hop.
 */
class FabricFrameSink
{
  public:
    virtual ~FabricFrameSink() = default;
    /**
     * @brief @p packet arrived intact on port @p port of the sink's node; @p info holds its
     * header fields as ParseFrame() reads them (parsed once, where the frame entered the fabric,
     * and carried along so that switches need not read the frame buffer at every hop).
     */
    virtual void ReceiveFrame(const Ptr<Packet>& packet, const FrameInfo& info, uint32_t port) = 0;
};

/**
 * @brief Where a port pulls frames from when a priority is free and nothing is queued (the NIC).
 */
class FabricPullSource
{
  public:
    virtual ~FabricPullSource() = default;
    /// @brief The next frame of @p priority for port @p port, or nullptr if there is none now.
    virtual Ptr<Packet> PullFrame(uint32_t port, uint8_t priority) = 0;
};

/**
 * @brief Counters a port keeps beside its trace sources.
 */
struct FabricPortCounters
{
    // Updated for every frame: first, so that they share a cache line.
    uint64_t txFrames{0};    ///< frames whose transmission started
    uint64_t txBytes{0};     ///< their bytes as buffered (Ethernet header .. payload)
    uint64_t txWireBytes{0}; ///< their bytes on the wire (+ FCS, preamble, IFG, padding)
    uint64_t rxFrames{0};    ///< frames received intact
    uint64_t rxBytes{0};
    uint64_t enqueuedFrames{0};
    uint64_t maxQueueBytes{0}; ///< peak of the sum over priorities
    std::array<uint64_t, static_cast<size_t>(DropReason::COUNT)> dropFrames{}; ///< by reason
    uint64_t dropBytes{0};
    std::array<uint64_t, NUM_PRIORITIES> maxQueueBytesPerPriority{};

    /// @brief All drops, whatever the reason.
    uint64_t TotalDrops() const;
};

/**
 * @brief PFC counters of a port (kept apart from FabricPortCounters, which every frame touches).
 */
struct FabricPfcCounters
{
    uint64_t framesSent{0};     ///< PFC frames this port transmitted
    uint64_t framesReceived{0}; ///< PFC frames this port received (and consumed)
    /// Per priority: transmitted frames that paused (or refreshed the pause of) it, and that
    /// resumed it (zero quanta).
    std::array<uint64_t, NUM_PRIORITIES> pausesSent{};
    std::array<uint64_t, NUM_PRIORITIES> resumesSent{};
    /// Per priority: received frames with nonzero / zero quanta for it.
    std::array<uint64_t, NUM_PRIORITIES> pausesReceived{};
    std::array<uint64_t, NUM_PRIORITIES> resumesReceived{};
    /// Per priority: times this port's egress entered the paused state, and the time it has
    /// spent paused (up to now, an ongoing pause included), in picoseconds.
    std::array<uint64_t, NUM_PRIORITIES> pauseEvents{};
    std::array<int64_t, NUM_PRIORITIES> pausedPs{};
    /// Per priority: pause storms the PFC watchdog detected on this port's egress (one per
    /// continuous pause that outlived PfcWatchdogTimeout with frames waiting), and received
    /// pauses it ignored while restoring a priority (PfcWatchdogAction "ignore").
    std::array<uint64_t, NUM_PRIORITIES> watchdogStorms{};
    std::array<uint64_t, NUM_PRIORITIES> watchdogIgnoredPauses{};

    /// @brief Sums over priorities.
    uint64_t TotalPausesSent() const;
    uint64_t TotalPauseEvents() const;
    int64_t TotalPausedPs() const;
    uint64_t TotalWatchdogStorms() const;
};

/**
 * @brief One end of a full-duplex fabric link: NIC port, switch port or NVLink port.
 *
 * Egress has NUM_PRIORITIES FIFO queues served in strict priority (7 highest) or, with
 * Scheduler "dwrr", by Deficit Weighted Round Robin (Shreedhar & Varghese, SIGCOMM 1995) below
 * the StrictPriorities, which stay strict above it. Each priority can be paused; a paused
 * priority is skipped at the next frame boundary, so PFC only has to call SetPaused().
 *
 * DWRR: priority p's quantum is DwrrWeights[p] x the wire bytes of one largest frame (Mtu + 14
 * stored bytes plus FCS, preamble/SFD and inter-frame gap). A round visits the backlogged DWRR
 * priorities from 7 down to 0; a visit adds the quantum to the priority's deficit and serves it
 * while the deficit is positive, each frame subtracting its bytes on the wire (so weights split
 * link time whatever the frame sizes). The deficit may thus
 * go negative by less than one frame (the frame's size is not known before it is taken: the pull
 * source hands over a frame, it does not show one), which the next visit repays, so long-run
 * shares follow the weights exactly as in classic DRR. A priority that is not backlogged --
 * empty and its pull source has nothing, or paused -- leaves the round and loses its positive
 * deficit (DRR's reset, so a paused queue does not save up a burst), keeping any debt; it gets a
 * fresh quantum when next visited. A pull-source priority counts as backlogged only when
 * PullFrame() returns a frame.
 *
 * PFC watchdog (PfcWatchdogTimeout > 0): a priority paused without interruption for the timeout
 * while it has frames waiting (queued, or the pull source said it may have some) is a pause
 * storm: PfcStorm fires once for that pause and watchdogStorms counts it. Action "report" does
 * nothing else; "ignore" ends the pause and ignores received pauses of that priority for
 * PfcWatchdogRestore, after which the next received pause takes effect again (a storm still
 * going on is then detected again after another timeout). "drop" (SONiC's default action) does
 * what "ignore" does and, for the same time, discards the priority's queued frames and every
 * frame later enqueued to it (drop reason pfc_watchdog, the admission object told through
 * Discard()); frames of a pull source -- the host's own traffic -- are not dropped. A frame
 * occupies the wire for its serialization time (bytes + FCS + preamble + inter-frame gap, at
 * DataRate, in picoseconds) and reaches the peer after the channel's delay, which also carries the
 * switch pipeline latency. There is no ARP.
 *
 * Frames come from two places: Enqueue() (switch forwarding, control frames, relaying) and a
 * pull source (the RDMA NIC), asked for exactly one frame whenever a priority is free, not paused
 * and has nothing queued -- so messages are never packetized ahead of the wire.
 */
class FabricNetDevice : public NetDevice
{
  public:
    static TypeId GetTypeId();
    FabricNetDevice();
    ~FabricNetDevice() override;

    /// TracedCallback signature for (packet, priority) events.
    typedef void (*PacketPriorityTracedCallback)(Ptr<const Packet> packet, uint8_t priority);
    /// TracedCallback signature for drops.
    typedef void (*DropTracedCallback)(Ptr<const Packet> packet, DropReason reason);
    /// TracedCallback signature for pause state changes of a priority.
    typedef void (*PauseStateTracedCallback)(uint8_t priority, bool paused);
    /// TracedCallback signature for PFC frames sent or received, once per priority they carry.
    typedef void (*PfcTracedCallback)(uint8_t priority, uint16_t quanta);
    /// TracedCallback signature for pause storms the PFC watchdog detected.
    typedef void (*PfcStormTracedCallback)(uint8_t priority, Time pausedFor);

    /// @brief Egress scheduler: "strict" or "dwrr".
    void SetScheduler(std::string name);
    std::string GetScheduler() const;
    /// @brief DWRR weights: 8 comma-separated positive integers, priority 0 first.
    void SetDwrrWeights(std::string weights);
    std::string GetDwrrWeights() const;
    /// @brief PFC watchdog action: "report", "ignore" or "drop".
    void SetPfcWatchdogAction(std::string action);
    std::string GetPfcWatchdogAction() const;
    /// @brief True while the watchdog ignores received pauses of @p priority.
    bool IsPfcIgnored(uint8_t priority) const;
    /// @brief True while the watchdog drops the frames of @p priority (action "drop").
    bool IsPfcDropping(uint8_t priority) const;

    /// @brief Connect this device to @p channel (exactly two devices per channel).
    bool Attach(Ptr<FabricChannel> channel);

    /// @brief Port index of this device at its node (set by the node's forwarding logic).
    void SetPortIndex(uint32_t index);
    uint32_t GetPortIndex() const;

    /// @brief Append HPCC telemetry (int-telemetry.h) to the data frames that ask for it when
    /// they leave this port's queues (switch ports; RdmaTransport switches it on for HPCC).
    void SetIntTelemetry(bool enable);
    bool GetIntTelemetry() const;

    /// @brief The admission object to notify at dequeue (Release); may be null.
    void SetAdmission(Ptr<FabricAdmission> admission);

    /// @brief Append an already-admitted frame to its priority queue and start sending if idle.
    /// Returns false if the frame was discarded instead (a PFC watchdog in "drop" mode on its
    /// priority: the admission is told (Discard) and the drop counted and traced).
    bool Enqueue(QueueEntry&& entry);

    /// @brief Install the pull source (at most one per device; nullptr removes it).
    void SetPullSource(FabricPullSource* source);
    /// @brief The pull source has frames for @p priority: ask when that priority is free.
    void NotifyPullReady(uint8_t priority);

    /// @brief Where received frames go (switch or host logic). Without a sink, frames go to the
    /// ns-3 receive callback with the Ethernet header removed.
    void SetFrameSink(FabricFrameSink* sink);

    /// @brief Pause or resume egress of @p priority (takes effect at the next frame boundary).
    void SetPaused(uint8_t priority, bool paused);
    bool IsPaused(uint8_t priority) const;

    /**
     * @brief Ask the peer to stop (@p pause) or resume sending @p priority, with 802.1Qbb PFC
     * frames sent from this port (what the MMU's pause callback ends in).
     *
     * The frame goes out ahead of all queued data at the next frame boundary (a control slot
     * served before every priority, never paused, not admitted through the MMU). A pause
     * carries PfcPauseQuanta and, while it is still requested, is refreshed once
     * PfcRefreshFraction of its quanta time has passed since the last pause frame was sent; a
     * resume sends zero quanta (only if a pause for the priority had been sent). Requests made
     * before the pending frame leaves merge into it; every frame also refreshes all other
     * priorities still requested.
     */
    void RequestPfc(uint8_t priority, bool pause);
    /// @brief Priorities for which RequestPfc() currently asks a pause (bit p = priority p).
    uint8_t GetPfcRequested() const;

    /**
     * @brief Consume a received MAC Control frame: a PFC frame pauses (for quanta x 512 bit
     * times at this port's rate, from PfcResponseDelay after its arrival) or resumes the
     * priorities it names. Called by the node's frame sink for EtherType 0x8808; false if the
     * frame is not PFC (the sink then drops it).
     */
    bool ReceiveMacControl(const Ptr<const Packet>& packet);

    /// @brief PFC counters, paused time up to now included.
    const FabricPfcCounters& GetPfcCounters() const;
    /// @brief Time egress of @p priority has spent paused so far (an ongoing pause included).
    Time GetPausedTime(uint8_t priority) const;
    /// @brief The delay between a PFC frame's arrival and its effect on this port's egress.
    Time GetPfcResponseDelay() const;

    /// @brief Record a frame that this port's node dropped on its way to this egress port.
    void RecordDrop(Ptr<const Packet> packet, DropReason reason);

    /// @brief Bytes queued at @p priority / at all priorities.
    uint64_t GetQueueBytes(uint8_t priority) const;
    uint64_t GetQueueBytes() const;
    /// @brief Frames queued at all priorities.
    uint32_t GetQueueFrames() const;
    /// @brief True while a frame is being serialized.
    bool IsTransmitting() const;

    uint64_t GetBitRate() const;
    void SetDataRate(DataRate rate);
    DataRate GetDataRate() const;
    Ptr<FabricChannel> GetFabricChannel() const;
    /// @brief The device at the other end of the link (null if not attached).
    Ptr<FabricNetDevice> GetPeer() const;
    /// @brief Serialization time of a stored frame of @p packetBytes (picoseconds).
    int64_t GetTxPs(uint32_t packetBytes) const;

    const FabricPortCounters& GetCounters() const;

    /// @brief Tier id of the link (set by the topology helper; used to aggregate statistics).
    void SetTier(uint32_t tier);
    uint32_t GetTier() const;

    /// @brief Called by the channel when a frame has fully arrived; @p info: its parsed header.
    void Receive(const Ptr<Packet>& packet, const FrameInfo& info);
    /**
     * @brief Hand a received frame to the ns-3 protocol stack on this device (the receive and
     * promiscuous callbacks, i.e. Node::ReceiveFromDevice), its Ethernet header removed.
     *
     * Receive() does this itself when the device has no frame sink; a host's frame sink calls it
     * for frames addressed to the host that belong to an ns-3 stack (the TCP transport).
     */
    void ForwardUp(const Ptr<Packet>& packet);
    /// @brief Called when the frame on the wire has been serialized.
    void TransmitComplete();

    // NetDevice
    void SetIfIndex(const uint32_t index) override;
    uint32_t GetIfIndex() const override;
    Ptr<Channel> GetChannel() const override;
    void SetAddress(Address address) override;
    Address GetAddress() const override;
    bool SetMtu(const uint16_t mtu) override;
    uint16_t GetMtu() const override;
    bool IsLinkUp() const override;
    void AddLinkChangeCallback(Callback<void> callback) override;
    bool IsBroadcast() const override;
    Address GetBroadcast() const override;
    bool IsMulticast() const override;
    Address GetMulticast(Ipv4Address multicastGroup) const override;
    Address GetMulticast(Ipv6Address addr) const override;
    bool IsPointToPoint() const override;
    bool IsBridge() const override;
    bool Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber) override;
    bool SendFrom(Ptr<Packet> packet,
                  const Address& source,
                  const Address& dest,
                  uint16_t protocolNumber) override;
    Ptr<Node> GetNode() const override;
    void SetNode(Ptr<Node> node) override;
    bool NeedsArp() const override;
    void SetReceiveCallback(NetDevice::ReceiveCallback cb) override;
    void SetPromiscReceiveCallback(PromiscReceiveCallback cb) override;
    bool SupportsSendFrom() const override;

    /// @brief The first line of the per-frame state (for FabricHeapScheduler::HintNext()).
    const void* GetHotState() const
    {
        return &m_queuedMask;
    }

    /// @brief The per-frame counters, the line after the hot state (for HintNext()).
    const void* GetCounterState() const
    {
        return &m_counters;
    }

    /// @brief Start loading what an Enqueue() of a priority-@p p frame touches (the hot state,
    /// the counters and the queue), so that the misses overlap the caller's work.
    void PrefetchEnqueue(uint8_t p) const
    {
        __builtin_prefetch(&m_queuedMask);
        __builtin_prefetch(&m_counters);
        __builtin_prefetch(&m_queues[p & (NUM_PRIORITIES - 1)]);
    }

  protected:
    void DoDispose() override;

  private:
    void TryTransmit();
    /// TryTransmit() under Scheduler "dwrr" (the control slot already served).
    void TryTransmitDwrr();
    /// Start one frame of @p p (pull source or queue, alternating); its buffered bytes, or 0 if
    /// @p p had nothing after all (the pull source returned no frame and nothing is queued).
    uint32_t ServePriority(uint8_t p);
    void PfcWatchdogCheck(uint8_t priority);
    void PfcWatchdogRestore(uint8_t priority);
    void PfcWatchdogFlush(uint8_t priority);
    void DiscardEntry(QueueEntry& entry);
    /// Put a frame on the wire; takes over the packet reference @p owned (DetachPacket()).
    void StartTransmission(Packet* owned, uint32_t size, uint8_t priority, const FrameInfo& info);
    void UpdateQueuePeak(uint8_t priority);
    /// Transmit the pending PFC frame (m_controlPending is set).
    void SendPendingPfc();
    void PfcRefresh();
    void ApplyPfc(PfcInfo pfc);
    void PfcExpire(uint8_t priority);
    /// The PFC state, created on first use.
    struct PfcState;
    PfcState& Pfc();

    /// @brief One egress priority: its FIFO, the bytes in it and their peak, side by side so
    /// that a frame's enqueue and dequeue touch one place.
    struct PriorityQueue
    {
        RingBuffer<QueueEntry> frames;
        uint64_t bytes{0};
        uint64_t peakBytes{0}; ///< copied to the counters' maxQueueBytesPerPriority on demand
    };

    // Hot: everything a frame's visit reads or writes, kept together in the first few cache
    // lines of the object: with thousands of busy ports each visit misses on every line it
    // touches, so the per-frame paths must not reach into the cold part below.
    uint8_t m_queuedMask{0};   ///< bit p set: queue p non-empty
    uint8_t m_pullMask{0};     ///< bit p set: the pull source may have frames for p
    uint8_t m_pausedMask{0};   ///< bit p set: priority p paused
    uint8_t m_lastFromPull{0}; ///< bit p set: last frame of p came from the pull source
    bool m_transmitting{false};
    bool m_controlPending{false}; ///< a PFC frame waits for the next frame boundary
    bool m_tracing{false};        ///< some per-frame trace source has (had) a sink: check them
    bool m_dwrr{false};           ///< Scheduler "dwrr" (fits the padding before m_portIndex)
    uint8_t m_pfcDropMask{0};     ///< PFC watchdog "drop": priorities whose frames are dropped
    bool m_intTelemetry{false};   ///< IntTelemetry: append a hop record at dequeue
    uint32_t m_portIndex{0};
    uint32_t m_nodeId{0};
    uint32_t m_totalQueueFrames{0};
    uint64_t m_bps{0};
    FabricChannel* m_channelRaw{nullptr};
    FabricPullSource* m_pull{nullptr};
    FabricFrameSink* m_sink{nullptr};
    FabricAdmission* m_admissionRaw{nullptr};
    Ptr<ErrorModel> m_receiveErrorModel;
    uint64_t m_totalQueueBytes{0};
    /// Mutable only so that GetCounters() can fill in the per-priority peaks kept in m_queues.
    mutable FabricPortCounters m_counters;
    std::array<PriorityQueue, NUM_PRIORITIES> m_queues;

    // Cold: configuration and ns-3 plumbing.
    Ptr<Node> m_node;
    Ptr<FabricChannel> m_channel;
    Ptr<FabricAdmission> m_admission;
    Mac48Address m_address;
    uint32_t m_ifIndex{0};
    uint32_t m_tier{0};
    uint16_t m_mtu{9000};
    DataRate m_dataRate;
    NetDevice::ReceiveCallback m_rxCallback;
    NetDevice::PromiscReceiveCallback m_promiscCallback;

    // PFC: configuration, counters and (lazily allocated) state.
    uint16_t m_pfcPauseQuanta{0xffff};
    double m_pfcRefreshFraction{0.5};
    Time m_pfcResponseDelay;
    std::array<int64_t, NUM_PRIORITIES> m_pausedSincePs{}; ///< start of the ongoing pause
    std::array<int64_t, NUM_PRIORITIES> m_pausedAccumPs{}; ///< finished pauses
    mutable FabricPfcCounters m_pfcCounters;
    std::unique_ptr<PfcState> m_pfc;

    // Egress scheduling (DWRR) configuration and state.
    uint8_t m_strictMask{0xc0}; ///< priorities served strictly above DWRR in "dwrr" mode
    int8_t m_dwrrCurrent{-1};   ///< the priority whose visit is going on, -1 none
    std::array<uint32_t, NUM_PRIORITIES> m_dwrrWeights{1, 1, 1, 1, 1, 1, 1, 1};
    std::array<int64_t, NUM_PRIORITIES> m_dwrrDeficit{};

    // PFC watchdog configuration and state.
    Time m_pfcWatchdogTimeout;
    Time m_pfcWatchdogRestore;
    enum class WatchdogAction : uint8_t
    {
        REPORT,
        IGNORE,
        DROP
    };
    WatchdogAction m_pfcWatchdogAction{WatchdogAction::REPORT};
    uint8_t m_pfcIgnoredMask{0}; ///< priorities whose received pauses are ignored
    uint8_t m_pfcStormMask{0};   ///< priorities whose ongoing pause was reported a storm
    std::array<EventId, NUM_PRIORITIES> m_pfcWatchdogCheck;
    std::array<EventId, NUM_PRIORITIES> m_pfcWatchdogRestoreEvent;

    // Per-frame trace sources: they raise m_tracing when connected (see FlaggedTracedCallback).
    FlaggedTracedCallback<Ptr<const Packet>, uint8_t> m_enqueueTrace;
    FlaggedTracedCallback<Ptr<const Packet>, uint8_t> m_dequeueTrace;
    FlaggedTracedCallback<Ptr<const Packet>> m_phyTxBeginTrace;
    FlaggedTracedCallback<Ptr<const Packet>> m_phyRxEndTrace;
    FlaggedTracedCallback<Ptr<const Packet>> m_snifferTrace;
    TracedCallback<Ptr<const Packet>, DropReason> m_dropTrace;
    TracedCallback<uint8_t, bool> m_pauseStateTrace;
    TracedCallback<uint8_t, uint16_t> m_pfcSentTrace;
    TracedCallback<uint8_t, uint16_t> m_pfcReceivedTrace;
    TracedCallback<uint8_t, Time> m_pfcStormTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_NET_DEVICE_H
