#include "fabric-net-device.h"

#include "fabric-channel.h"
#include "fabric-events.h"
#include "fabric-heap-scheduler.h"
#include "int-telemetry.h"
#include "shared-buffer-mmu.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/ethernet-header.h"
#include "ns3/log.h"
#include "ns3/pointer.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <numeric>
#include <sstream>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricNetDevice");

NS_OBJECT_ENSURE_REGISTERED(FabricNetDevice);

namespace
{
/// End of a frame's serialization: the port may start the next one.
class TransmitCompleteEvent : public PooledEventImpl<TransmitCompleteEvent>
{
  public:
    explicit TransmitCompleteEvent(FabricNetDevice* device)
        : m_device(device)
    {
    }

  protected:
    void Notify() override
    {
        m_device->TransmitComplete();
    }

  private:
    FabricNetDevice* m_device;
};
} // namespace

uint64_t
FabricPortCounters::TotalDrops() const
{
    uint64_t n = 0;
    for (auto d : dropFrames)
    {
        n += d;
    }
    return n;
}

uint64_t
FabricPfcCounters::TotalPausesSent() const
{
    return std::accumulate(pausesSent.begin(), pausesSent.end(), uint64_t{0});
}

uint64_t
FabricPfcCounters::TotalPauseEvents() const
{
    return std::accumulate(pauseEvents.begin(), pauseEvents.end(), uint64_t{0});
}

int64_t
FabricPfcCounters::TotalPausedPs() const
{
    return std::accumulate(pausedPs.begin(), pausedPs.end(), int64_t{0});
}

uint64_t
FabricPfcCounters::TotalWatchdogStorms() const
{
    return std::accumulate(watchdogStorms.begin(), watchdogStorms.end(), uint64_t{0});
}

/// PFC state of a port: the sending side (what the MMU asks of the peer) and the receiving side
/// (pause timers of this port's egress).
struct FabricNetDevice::PfcState
{
    uint8_t requested{0};    ///< pause asked by RequestPfc() and not yet resumed
    uint8_t advertised{0};   ///< nonzero quanta sent since the last resume
    uint8_t pausePending{0}; ///< the next frame must carry a pause for these
    uint8_t xonPending{0};   ///< the next frame must carry zero quanta for these
    EventId refresh;
    std::array<EventId, NUM_PRIORITIES> expiry;
};

TypeId
FabricNetDevice::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::FabricNetDevice")
            .SetParent<NetDevice>()
            .SetGroupName("MoeFabric")
            .AddConstructor<FabricNetDevice>()
            .AddAttribute(
                "DataRate",
                "Line rate of the port.",
                DataRateValue(DataRate("100Gbps")),
                MakeDataRateAccessor(&FabricNetDevice::SetDataRate, &FabricNetDevice::GetDataRate),
                MakeDataRateChecker())
            .AddAttribute("Mtu",
                          "Largest IP packet the port carries (bytes, Ethernet payload).",
                          UintegerValue(9000),
                          MakeUintegerAccessor(&FabricNetDevice::SetMtu, &FabricNetDevice::GetMtu),
                          MakeUintegerChecker<uint16_t>(68, 9216))
            .AddAttribute("IntTelemetry",
                          "Append an HPCC in-band telemetry record (link rate, timestamp, "
                          "transmitted bytes, queue length) to every RoCEv2 data frame that "
                          "asks for one, at dequeue (int-telemetry.h).",
                          BooleanValue(false),
                          MakeBooleanAccessor(&FabricNetDevice::SetIntTelemetry,
                                              &FabricNetDevice::GetIntTelemetry),
                          MakeBooleanChecker())
            .AddAttribute("ReceiveErrorModel",
                          "Optional error model deciding which received frames are corrupt "
                          "(dropped and traced as rx_error).",
                          PointerValue(),
                          MakePointerAccessor(&FabricNetDevice::m_receiveErrorModel),
                          MakePointerChecker<ErrorModel>())
            .AddTraceSource("Enqueue",
                            "A frame entered an egress queue.",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_enqueueTrace),
                            "ns3::moe::FabricNetDevice::PacketPriorityTracedCallback")
            .AddTraceSource("Dequeue",
                            "A queued frame left its egress queue for the wire.",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_dequeueTrace),
                            "ns3::moe::FabricNetDevice::PacketPriorityTracedCallback")
            .AddTraceSource("PhyTxBegin",
                            "A frame (queued or pulled) started serialization.",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_phyTxBeginTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("PhyRxEnd",
                            "A frame was received intact.",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_phyRxEndTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("Drop",
                            "A frame was dropped at this port (egress admission or receive).",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_dropTrace),
                            "ns3::moe::FabricNetDevice::DropTracedCallback")
            .AddTraceSource("Sniffer",
                            "Every frame sent or received, for PCAP.",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_snifferTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("PauseState",
                            "Egress of a priority was paused (true) or resumed (false).",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_pauseStateTrace),
                            "ns3::moe::FabricNetDevice::PauseStateTracedCallback")
            .AddAttribute("PfcPauseQuanta",
                          "Pause time this port asks of its peer in a PFC pause frame, in quanta "
                          "of 512 bit times (0xffff: 335 us at 100 Gb/s).",
                          UintegerValue(0xffff),
                          MakeUintegerAccessor(&FabricNetDevice::m_pfcPauseQuanta),
                          MakeUintegerChecker<uint16_t>(1, 0xffff))
            .AddAttribute("PfcRefreshFraction",
                          "While a pause is still requested, it is sent again once this "
                          "fraction of the pause time has passed since the last pause frame "
                          "(at most 0.9: the refresh itself waits for a frame boundary, the "
                          "cable and the peer's response, and must land before the pause ends).",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&FabricNetDevice::m_pfcRefreshFraction),
                          MakeDoubleChecker<double>(0.01, 0.9))
            .AddAttribute("PfcResponseDelay",
                          "Time from the arrival of a PFC frame to its effect on this port's "
                          "egress; negative: the IEEE 802.3 Annex 31B bound at the port's rate "
                          "(SharedBufferMmu::PauseResponseBits), the value the MMU's automatic "
                          "headroom assumes.",
                          TimeValue(NanoSeconds(-1)),
                          MakeTimeAccessor(&FabricNetDevice::m_pfcResponseDelay),
                          MakeTimeChecker())
            .AddTraceSource("PfcSent",
                            "A PFC frame left this port: once per priority it carries "
                            "(priority, quanta; 0 = resume).",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_pfcSentTrace),
                            "ns3::moe::FabricNetDevice::PfcTracedCallback")
            .AddTraceSource("PfcReceived",
                            "A PFC frame arrived at this port: once per priority it carries "
                            "(priority, quanta; 0 = resume). It takes effect after "
                            "PfcResponseDelay (see PauseState).",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_pfcReceivedTrace),
                            "ns3::moe::FabricNetDevice::PfcTracedCallback")
            .AddAttribute(
                "Scheduler",
                "Egress scheduling across priorities: \"strict\" (strict priority, 7 "
                "highest) or \"dwrr\" (Deficit Weighted Round Robin over the priorities "
                "not in StrictPriorities, which are served strictly above it).",
                StringValue("strict"),
                MakeStringAccessor(&FabricNetDevice::SetScheduler, &FabricNetDevice::GetScheduler),
                MakeStringChecker())
            .AddAttribute("DwrrWeights",
                          "DWRR weights of priorities 0..7: 8 comma-separated positive integers. "
                          "Priority p's quantum per round is weight x (Mtu + 14) bytes, one "
                          "largest frame as buffered.",
                          StringValue("1,1,1,1,1,1,1,1"),
                          MakeStringAccessor(&FabricNetDevice::SetDwrrWeights,
                                             &FabricNetDevice::GetDwrrWeights),
                          MakeStringChecker())
            .AddAttribute("StrictPriorities",
                          "With Scheduler \"dwrr\": bitmask of priorities (bit p = priority p) "
                          "served in strict priority above the DWRR set. Default 0xc0: 6 and 7, "
                          "where control traffic (CNPs, ACKs) usually travels.",
                          UintegerValue(0xc0),
                          MakeUintegerAccessor(&FabricNetDevice::m_strictMask),
                          MakeUintegerChecker<uint8_t>())
            .AddAttribute("PfcWatchdogTimeout",
                          "PFC watchdog detection time: a priority paused without interruption "
                          "this long while frames wait is a pause storm (PfcStorm). 0: off.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&FabricNetDevice::m_pfcWatchdogTimeout),
                          MakeTimeChecker())
            .AddAttribute("PfcWatchdogAction",
                          "What the PFC watchdog does on a storm: \"report\" (trace and count "
                          "only), \"ignore\" (also end the pause and ignore received pauses "
                          "of the priority for PfcWatchdogRestore) or \"drop\" (as ignore, "
                          "and discard the priority's queued and arriving frames meanwhile).",
                          StringValue("report"),
                          MakeStringAccessor(&FabricNetDevice::SetPfcWatchdogAction,
                                             &FabricNetDevice::GetPfcWatchdogAction),
                          MakeStringChecker())
            .AddAttribute("PfcWatchdogRestore",
                          "PFC watchdog restoration time: how long received pauses of a stormed "
                          "priority are ignored (action \"ignore\"). Default 200 ms, SONiC's "
                          "default restoration time (pfcwd start_default).",
                          TimeValue(MilliSeconds(200)),
                          MakeTimeAccessor(&FabricNetDevice::m_pfcWatchdogRestore),
                          MakeTimeChecker())
            .AddTraceSource("PfcStorm",
                            "The PFC watchdog detected a pause storm: (priority, time the "
                            "priority has been paused so far). Once per continuous pause.",
                            MakeTraceSourceAccessor(&FabricNetDevice::m_pfcStormTrace),
                            "ns3::moe::FabricNetDevice::PfcStormTracedCallback");
    return tid;
}

FabricNetDevice::FabricNetDevice()
{
    NS_LOG_FUNCTION(this);
    m_enqueueTrace.SetFlag(&m_tracing);
    m_dequeueTrace.SetFlag(&m_tracing);
    m_phyTxBeginTrace.SetFlag(&m_tracing);
    m_phyRxEndTrace.SetFlag(&m_tracing);
    m_snifferTrace.SetFlag(&m_tracing);
}

FabricNetDevice::~FabricNetDevice()
{
    NS_LOG_FUNCTION(this);
}

void
FabricNetDevice::DoDispose()
{
    NS_LOG_FUNCTION(this);
    m_node = nullptr;
    m_channel = nullptr;
    m_channelRaw = nullptr;
    m_admission = nullptr;
    m_admissionRaw = nullptr;
    m_receiveErrorModel = nullptr;
    for (auto& q : m_queues)
    {
        q.frames.clear();
    }
    m_pull = nullptr;
    m_sink = nullptr;
    if (m_pfc)
    {
        m_pfc->refresh.Cancel();
        for (auto& e : m_pfc->expiry)
        {
            e.Cancel();
        }
        m_pfc.reset();
    }
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        m_pfcWatchdogCheck[p].Cancel();
        m_pfcWatchdogRestoreEvent[p].Cancel();
    }
    m_controlPending = false;
    m_rxCallback = NetDevice::ReceiveCallback();
    m_promiscCallback = NetDevice::PromiscReceiveCallback();
    NetDevice::DoDispose();
}

bool
FabricNetDevice::Attach(Ptr<FabricChannel> channel)
{
    NS_LOG_FUNCTION(this << channel);
    m_channel = channel;
    m_channelRaw = PeekPointer(channel);
    m_channel->Attach(this);
    return true;
}

void
FabricNetDevice::SetPortIndex(uint32_t index)
{
    m_portIndex = index;
}

uint32_t
FabricNetDevice::GetPortIndex() const
{
    return m_portIndex;
}

void
FabricNetDevice::SetIntTelemetry(bool enable)
{
    m_intTelemetry = enable;
}

bool
FabricNetDevice::GetIntTelemetry() const
{
    return m_intTelemetry;
}

void
FabricNetDevice::SetAdmission(Ptr<FabricAdmission> admission)
{
    m_admission = admission;
    m_admissionRaw = PeekPointer(admission);
}

void
FabricNetDevice::SetTier(uint32_t tier)
{
    m_tier = tier;
}

uint32_t
FabricNetDevice::GetTier() const
{
    return m_tier;
}

void
FabricNetDevice::UpdateQueuePeak(uint8_t priority)
{
    if (m_totalQueueBytes > m_counters.maxQueueBytes)
    {
        m_counters.maxQueueBytes = m_totalQueueBytes;
    }
    PriorityQueue& q = m_queues[priority];
    if (q.bytes > q.peakBytes)
    {
        q.peakBytes = q.bytes;
    }
}

bool
FabricNetDevice::Enqueue(QueueEntry&& entry)
{
    const uint8_t p = entry.priority;
    NS_ASSERT(p < NUM_PRIORITIES);
    if (m_pfcDropMask != 0 && (m_pfcDropMask & (1u << p)) != 0)
    {
        DiscardEntry(entry);
        return false;
    }
    m_queues[p].bytes += entry.bytes;
    m_totalQueueBytes += entry.bytes;
    ++m_totalQueueFrames;
    ++m_counters.enqueuedFrames;
    m_queuedMask |= static_cast<uint8_t>(1u << p);
    UpdateQueuePeak(p);
    if (m_tracing && !m_enqueueTrace.IsEmpty())
    {
        m_enqueueTrace(entry.packet, p);
    }
    m_queues[p].frames.push_back(std::move(entry));
    if (!m_transmitting)
    {
        TryTransmit();
    }
    return true;
}

void
FabricNetDevice::SetPullSource(FabricPullSource* source)
{
    m_pull = source;
    if (source == nullptr)
    {
        m_pullMask = 0;
    }
}

void
FabricNetDevice::NotifyPullReady(uint8_t priority)
{
    NS_ASSERT_MSG(m_pull != nullptr, "NotifyPullReady without a pull source");
    m_pullMask |= static_cast<uint8_t>(1u << priority);
    if (!m_transmitting)
    {
        TryTransmit();
    }
}

void
FabricNetDevice::SetFrameSink(FabricFrameSink* sink)
{
    m_sink = sink;
}

void
FabricNetDevice::SetPaused(uint8_t priority, bool paused)
{
    NS_ASSERT(priority < NUM_PRIORITIES);
    const uint8_t bit = static_cast<uint8_t>(1u << priority);
    const bool was = (m_pausedMask & bit) != 0;
    if (was == paused)
    {
        return;
    }
    const int64_t now = Simulator::Now().GetPicoSeconds();
    if (paused)
    {
        m_pausedMask |= bit;
        m_pausedSincePs[priority] = now;
        ++m_pfcCounters.pauseEvents[priority];
        if (m_pfcWatchdogTimeout.IsStrictlyPositive())
        {
            m_pfcWatchdogCheck[priority] = Simulator::Schedule(m_pfcWatchdogTimeout,
                                                               &FabricNetDevice::PfcWatchdogCheck,
                                                               this,
                                                               priority);
        }
    }
    else
    {
        m_pausedMask &= static_cast<uint8_t>(~bit);
        m_pausedAccumPs[priority] += now - m_pausedSincePs[priority];
        // The pause is over: a later one is a new storm.
        m_pfcStormMask &= static_cast<uint8_t>(~bit);
        m_pfcWatchdogCheck[priority].Cancel();
    }
    m_pauseStateTrace(priority, paused);
    if (!paused && !m_transmitting)
    {
        TryTransmit();
    }
}

bool
FabricNetDevice::IsPaused(uint8_t priority) const
{
    return (m_pausedMask & (1u << priority)) != 0;
}

FabricNetDevice::PfcState&
FabricNetDevice::Pfc()
{
    if (!m_pfc)
    {
        m_pfc = std::make_unique<PfcState>();
    }
    return *m_pfc;
}

void
FabricNetDevice::RequestPfc(uint8_t priority, bool pause)
{
    NS_LOG_FUNCTION(this << static_cast<uint32_t>(priority) << pause);
    NS_ASSERT(priority < NUM_PRIORITIES);
    PfcState& s = Pfc();
    const uint8_t bit = static_cast<uint8_t>(1u << priority);
    const uint8_t notBit = static_cast<uint8_t>(~bit);
    if (pause)
    {
        s.requested |= bit;
        s.pausePending |= bit;
        s.xonPending &= notBit;
    }
    else
    {
        s.requested &= notBit;
        s.pausePending &= notBit;
        // A pause that never left needs no resume.
        if ((s.advertised & bit) != 0)
        {
            s.xonPending |= bit;
        }
    }
    m_controlPending = (s.pausePending | s.xonPending) != 0;
    if (m_controlPending && !m_transmitting)
    {
        TryTransmit();
    }
}

uint8_t
FabricNetDevice::GetPfcRequested() const
{
    return m_pfc ? m_pfc->requested : 0;
}

void
FabricNetDevice::SendPendingPfc()
{
    PfcState& s = *m_pfc;
    PfcInfo pfc;
    // Every frame refreshes every priority still requested, so one refresh timer serves all.
    pfc.enableVector = static_cast<uint8_t>(s.requested | s.xonPending);
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        const uint8_t bit = static_cast<uint8_t>(1u << p);
        if ((s.requested & bit) != 0)
        {
            pfc.quanta[p] = m_pfcPauseQuanta;
            ++m_pfcCounters.pausesSent[p];
        }
        else if ((s.xonPending & bit) != 0)
        {
            ++m_pfcCounters.resumesSent[p];
        }
    }
    s.advertised = s.requested;
    s.pausePending = 0;
    s.xonPending = 0;
    m_controlPending = false;
    ++m_pfcCounters.framesSent;
    s.refresh.Cancel();
    if (s.requested != 0)
    {
        const int64_t holdPs = PfcQuantaPs(m_pfcPauseQuanta, m_bps);
        s.refresh = Simulator::Schedule(
            PicoSeconds(static_cast<int64_t>(m_pfcRefreshFraction * static_cast<double>(holdPs))),
            &FabricNetDevice::PfcRefresh,
            this);
    }
    if (!m_pfcSentTrace.IsEmpty())
    {
        for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
        {
            if ((pfc.enableVector & (1u << p)) != 0)
            {
                m_pfcSentTrace(p, pfc.quanta[p]);
            }
        }
    }
    NS_LOG_LOGIC("PFC out of port " << m_portIndex << " vector 0x" << std::hex
                                    << static_cast<uint32_t>(pfc.enableVector));
    Ptr<Packet> frame = BuildPfcFrame(m_address, pfc);
    FrameInfo info;
    ParseFrame(frame, info);
    // Priority 7 only labels the frame in logs: the control slot is outside the priorities.
    StartTransmission(DetachPacket(frame), PFC_FRAME_BYTES, NUM_PRIORITIES - 1, info);
}

void
FabricNetDevice::PfcRefresh()
{
    PfcState& s = *m_pfc;
    if (s.requested == 0)
    {
        return;
    }
    s.pausePending |= s.requested;
    m_controlPending = true;
    if (!m_transmitting)
    {
        TryTransmit();
    }
}

bool
FabricNetDevice::ReceiveMacControl(const Ptr<const Packet>& packet)
{
    PfcInfo pfc;
    if (!ParsePfcFrame(packet, pfc))
    {
        return false;
    }
    ++m_pfcCounters.framesReceived;
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        if ((pfc.enableVector & (1u << p)) == 0)
        {
            continue;
        }
        if (pfc.quanta[p] != 0)
        {
            ++m_pfcCounters.pausesReceived[p];
        }
        else
        {
            ++m_pfcCounters.resumesReceived[p];
        }
        m_pfcReceivedTrace(p, pfc.quanta[p]);
    }
    const Time delay = GetPfcResponseDelay();
    if (delay.IsZero())
    {
        ApplyPfc(pfc);
    }
    else
    {
        // Frames arrive in order and share one delay, so they also take effect in order.
        Simulator::Schedule(delay, &FabricNetDevice::ApplyPfc, this, pfc);
    }
    return true;
}

void
FabricNetDevice::ApplyPfc(PfcInfo pfc)
{
    PfcState& s = Pfc();
    const int64_t responsePs = GetPfcResponseDelay().GetPicoSeconds();
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        if ((pfc.enableVector & (1u << p)) == 0)
        {
            continue;
        }
        if ((m_pfcIgnoredMask & (1u << p)) != 0)
        {
            // The watchdog restores this priority: pauses have no effect until it ends.
            if (pfc.quanta[p] != 0)
            {
                ++m_pfcCounters.watchdogIgnoredPauses[p];
            }
            continue;
        }
        s.expiry[p].Cancel();
        if (pfc.quanta[p] == 0)
        {
            SetPaused(p, false);
            continue;
        }
        // The pause timer restarts with every frame (802.1Qbb): a refresh extends it. It runs
        // from the frame's reception (802.3 Annex 31B); the response delay only bounds how soon
        // transmission stops, so what is left of it here is the quanta minus that delay.
        const int64_t left = PfcQuantaPs(pfc.quanta[p], m_bps) - responsePs;
        if (left <= 0)
        {
            SetPaused(p, false); // expired before it could take effect
            continue;
        }
        s.expiry[p] = Simulator::Schedule(PicoSeconds(left), &FabricNetDevice::PfcExpire, this, p);
        SetPaused(p, true);
    }
}

void
FabricNetDevice::PfcExpire(uint8_t priority)
{
    SetPaused(priority, false);
}

void
FabricNetDevice::PfcWatchdogCheck(uint8_t priority)
{
    const uint8_t bit = static_cast<uint8_t>(1u << priority);
    if ((m_pausedMask & bit) == 0 || (m_pfcStormMask & bit) != 0)
    {
        return;
    }
    if (((m_queuedMask | m_pullMask) & bit) == 0)
    {
        // Paused but nothing waits: no storm yet. Look again one detection time later, as a
        // switch's watchdog polls.
        m_pfcWatchdogCheck[priority] = Simulator::Schedule(m_pfcWatchdogTimeout,
                                                           &FabricNetDevice::PfcWatchdogCheck,
                                                           this,
                                                           priority);
        return;
    }
    const Time pausedFor =
        PicoSeconds(Simulator::Now().GetPicoSeconds() - m_pausedSincePs[priority]);
    NS_LOG_WARN("PFC storm on port " << m_portIndex << " of node " << m_nodeId << " priority "
                                     << static_cast<uint32_t>(priority) << ": paused for "
                                     << pausedFor.As(Time::US));
    m_pfcStormMask |= bit;
    ++m_pfcCounters.watchdogStorms[priority];
    m_pfcStormTrace(priority, pausedFor);
    if (m_pfcWatchdogAction != WatchdogAction::REPORT)
    {
        m_pfcIgnoredMask |= bit;
        if (m_pfcWatchdogAction == WatchdogAction::DROP)
        {
            m_pfcDropMask |= bit;
            PfcWatchdogFlush(priority);
        }
        m_pfcWatchdogRestoreEvent[priority].Cancel();
        m_pfcWatchdogRestoreEvent[priority] =
            Simulator::Schedule(m_pfcWatchdogRestore,
                                &FabricNetDevice::PfcWatchdogRestore,
                                this,
                                priority);
        if (m_pfc)
        {
            m_pfc->expiry[priority].Cancel();
        }
        SetPaused(priority, false);
    }
}

void
FabricNetDevice::PfcWatchdogRestore(uint8_t priority)
{
    m_pfcIgnoredMask &= static_cast<uint8_t>(~(1u << priority));
    m_pfcDropMask &= static_cast<uint8_t>(~(1u << priority));
}

void
FabricNetDevice::DiscardEntry(QueueEntry& entry)
{
    Ptr<Packet> packet = entry.packet;
    if (m_admissionRaw != nullptr)
    {
        m_admissionRaw->Discard(entry, m_portIndex);
    }
    RecordDrop(packet, DropReason::PFC_WATCHDOG);
}

void
FabricNetDevice::PfcWatchdogFlush(uint8_t priority)
{
    // Empty the queue first: discarding may resume pauses (RequestPfc on any port, this one
    // included), which may start a transmission, and that must not see half-flushed state.
    PriorityQueue& pq = m_queues[priority];
    RingBuffer<QueueEntry> frames = std::move(pq.frames); // leaves pq.frames empty
    m_totalQueueBytes -= pq.bytes;
    m_totalQueueFrames -= static_cast<uint32_t>(frames.size());
    pq.bytes = 0;
    m_queuedMask &= static_cast<uint8_t>(~(1u << priority));
    while (!frames.empty())
    {
        DiscardEntry(frames.front());
        frames.pop_front();
    }
}

bool
FabricNetDevice::IsPfcDropping(uint8_t priority) const
{
    return (m_pfcDropMask & (1u << priority)) != 0;
}

bool
FabricNetDevice::IsPfcIgnored(uint8_t priority) const
{
    return (m_pfcIgnoredMask & (1u << priority)) != 0;
}

void
FabricNetDevice::SetScheduler(std::string name)
{
    if (name == "strict")
    {
        m_dwrr = false;
    }
    else if (name == "dwrr")
    {
        m_dwrr = true;
    }
    else
    {
        NS_ABORT_MSG("FabricNetDevice: Scheduler must be \"strict\" or \"dwrr\", not \"" << name
                                                                                         << "\"");
    }
    m_dwrrCurrent = -1;
    m_dwrrDeficit.fill(0);
}

std::string
FabricNetDevice::GetScheduler() const
{
    return m_dwrr ? "dwrr" : "strict";
}

void
FabricNetDevice::SetDwrrWeights(std::string weights)
{
    std::array<uint32_t, NUM_PRIORITIES> w{};
    std::istringstream in(weights);
    std::string item;
    size_t n = 0;
    while (std::getline(in, item, ','))
    {
        NS_ABORT_MSG_IF(n >= NUM_PRIORITIES,
                        "FabricNetDevice: DwrrWeights needs exactly 8 weights: \"" << weights
                                                                                   << "\"");
        size_t used = 0;
        long v = 0;
        try
        {
            v = std::stol(item, &used);
        }
        catch (const std::exception&)
        {
            used = 0;
        }
        while (used < item.size() && item[used] == ' ')
        {
            ++used;
        }
        NS_ABORT_MSG_IF(used == 0 || used != item.size() || v <= 0 || v > 1000000,
                        "FabricNetDevice: DwrrWeights must be positive integers: \"" << weights
                                                                                     << "\"");
        w[n++] = static_cast<uint32_t>(v);
    }
    NS_ABORT_MSG_IF(n != NUM_PRIORITIES,
                    "FabricNetDevice: DwrrWeights needs exactly 8 weights: \"" << weights << "\"");
    m_dwrrWeights = w;
}

std::string
FabricNetDevice::GetDwrrWeights() const
{
    std::ostringstream out;
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        out << (p == 0 ? "" : ",") << m_dwrrWeights[p];
    }
    return out.str();
}

void
FabricNetDevice::SetPfcWatchdogAction(std::string action)
{
    if (action == "report")
    {
        m_pfcWatchdogAction = WatchdogAction::REPORT;
    }
    else if (action == "ignore")
    {
        m_pfcWatchdogAction = WatchdogAction::IGNORE;
    }
    else if (action == "drop")
    {
        m_pfcWatchdogAction = WatchdogAction::DROP;
    }
    else
    {
        NS_ABORT_MSG("FabricNetDevice: PfcWatchdogAction must be \"report\", \"ignore\" or "
                     "\"drop\", not \""
                     << action << "\"");
    }
}

std::string
FabricNetDevice::GetPfcWatchdogAction() const
{
    switch (m_pfcWatchdogAction)
    {
    case WatchdogAction::IGNORE:
        return "ignore";
    case WatchdogAction::DROP:
        return "drop";
    case WatchdogAction::REPORT:
        break;
    }
    return "report";
}

Time
FabricNetDevice::GetPausedTime(uint8_t priority) const
{
    int64_t ps = m_pausedAccumPs[priority];
    if (IsPaused(priority))
    {
        ps += Simulator::Now().GetPicoSeconds() - m_pausedSincePs[priority];
    }
    return PicoSeconds(ps);
}

Time
FabricNetDevice::GetPfcResponseDelay() const
{
    if (!m_pfcResponseDelay.IsStrictlyNegative())
    {
        return m_pfcResponseDelay;
    }
    const uint64_t bits = SharedBufferMmu::PauseResponseBits(m_bps);
    return PicoSeconds(SerializationPs(bits / 8, m_bps));
}

const FabricPfcCounters&
FabricNetDevice::GetPfcCounters() const
{
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        m_pfcCounters.pausedPs[p] = GetPausedTime(p).GetPicoSeconds();
    }
    return m_pfcCounters;
}

void
FabricNetDevice::RecordDrop(Ptr<const Packet> packet, DropReason reason)
{
    ++m_counters.dropFrames[static_cast<size_t>(reason)];
    m_counters.dropBytes += packet->GetSize();
    if (!m_dropTrace.IsEmpty())
    {
        m_dropTrace(packet, reason);
    }
}

uint64_t
FabricNetDevice::GetQueueBytes(uint8_t priority) const
{
    return m_queues[priority].bytes;
}

uint64_t
FabricNetDevice::GetQueueBytes() const
{
    return m_totalQueueBytes;
}

uint32_t
FabricNetDevice::GetQueueFrames() const
{
    return m_totalQueueFrames;
}

bool
FabricNetDevice::IsTransmitting() const
{
    return m_transmitting;
}

void
FabricNetDevice::TryTransmit()
{
    NS_ASSERT(!m_transmitting);
    if (m_controlPending)
    {
        SendPendingPfc();
        return;
    }
    if (m_dwrr)
    {
        TryTransmitDwrr();
        return;
    }
    // Candidate priorities: something queued or possibly pullable, and not paused.
    uint8_t candidates = static_cast<uint8_t>((m_queuedMask | m_pullMask) & ~m_pausedMask);
    while (candidates != 0)
    {
        const uint8_t p = static_cast<uint8_t>(31 - __builtin_clz(candidates));
        if (ServePriority(p) != 0)
        {
            return;
        }
        candidates &= static_cast<uint8_t>(~(1u << p));
    }
}

inline uint32_t
FabricNetDevice::ServePriority(uint8_t p)
{
    const uint8_t bit = static_cast<uint8_t>(1u << p);
    const bool hasQueued = (m_queuedMask & bit) != 0;
    const bool mayPull = (m_pullMask & bit) != 0;
    // Within a priority, alternate between queued frames (forwarded, control) and the pull
    // source so neither starves the other.
    const bool pullFirst = mayPull && (!hasQueued || (m_lastFromPull & bit) == 0);
    if (pullFirst)
    {
        Ptr<Packet> packet = m_pull->PullFrame(m_portIndex, p);
        if (packet)
        {
            m_lastFromPull |= bit;
            const uint32_t bytes = packet->GetSize();
            // Parsed once here, while the freshly built frame is in cache; the fields travel
            // with the frame (FabricChannel::Transmit).
            FrameInfo info;
            ParseFrame(packet, info);
            StartTransmission(DetachPacket(packet), bytes, p, info);
            return bytes;
        }
        m_pullMask &= static_cast<uint8_t>(~bit);
        if (!hasQueued)
        {
            return 0;
        }
    }
    // Serve the queue. The packet's reference moves from the queue slot to the wire without
    // touching the Packet object (see DetachPacket()).
    PriorityQueue& pq = m_queues[p];
    auto& q = pq.frames;
    QueueEntry& entry = q.front();
    uint32_t bytes = entry.bytes;
    pq.bytes -= bytes;
    m_totalQueueBytes -= bytes;
    --m_totalQueueFrames;
    m_lastFromPull &= static_cast<uint8_t>(~bit);
    if (m_admissionRaw != nullptr)
    {
        // Release may resume a pause, i.e. call RequestPfc() on any port, this one included
        // (a hairpin route): marking the port busy first keeps that from starting a frame
        // under this one; the PFC frame then leaves at the end of this frame.
        m_transmitting = true;
        m_admissionRaw->Release(entry, m_portIndex);
    }
    if (m_intTelemetry)
    {
        // After the admission's release, as ECN marking: the queue length is what this
        // frame leaves behind, the transmitted bytes what went before it. The frame grows;
        // the admission accounted (and released) the size it was admitted with.
        bytes += AppendIntHop(entry.packet,
                              m_bps,
                              Simulator::Now().GetPicoSeconds(),
                              m_counters.txBytes,
                              m_totalQueueBytes);
    }
    if (m_tracing && !m_dequeueTrace.IsEmpty())
    {
        m_dequeueTrace(entry.packet, p);
    }
    if (!entry.infoValid)
    {
        entry.infoValid = ParseFrame(entry.packet, entry.info);
    }
    const FrameInfo info = entry.info;
    Packet* raw = DetachPacket(entry.packet);
    q.pop_front();
    if (q.empty())
    {
        m_queuedMask &= static_cast<uint8_t>(~bit);
    }
    StartTransmission(raw, bytes, p, info);
    // A zero-byte frame would read as "nothing served"; frames always carry a header.
    return bytes;
}

void
FabricNetDevice::TryTransmitDwrr()
{
    const uint8_t eligible = static_cast<uint8_t>((m_queuedMask | m_pullMask) & ~m_pausedMask);
    // Strict priorities first, highest first.
    uint8_t strict = static_cast<uint8_t>(eligible & m_strictMask);
    while (strict != 0)
    {
        const uint8_t p = static_cast<uint8_t>(31 - __builtin_clz(strict));
        if (ServePriority(p) != 0)
        {
            return;
        }
        strict &= static_cast<uint8_t>(~(1u << p));
    }
    uint8_t active = static_cast<uint8_t>(eligible & ~m_strictMask);
    // Priorities out of the round lose their credit (DRR's reset), not their debt.
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        if ((active & (1u << p)) == 0 && m_dwrrDeficit[p] > 0)
        {
            m_dwrrDeficit[p] = 0;
        }
    }
    // Deficits count bytes on the wire (FCS, preamble, inter-frame gap, padding included), so
    // weights split link time whatever the frame sizes: stored bytes would favour small frames.
    const int64_t unit = WireBytes(m_mtu + ETH_HEADER_BYTES);
    while (active != 0)
    {
        int p = m_dwrrCurrent;
        if (p < 0 || (active & (1u << p)) == 0 || m_dwrrDeficit[p] <= 0)
        {
            // Next visit: the next active priority below the current one, cyclically (7..0).
            const int from = p < 0 ? NUM_PRIORITIES : p;
            const uint8_t below = static_cast<uint8_t>(active & ((1u << from) - 1u));
            const uint8_t pick = below != 0 ? below : active;
            p = 31 - __builtin_clz(pick);
            m_dwrrCurrent = static_cast<int8_t>(p);
            m_dwrrDeficit[p] += static_cast<int64_t>(m_dwrrWeights[p]) * unit;
            if (m_dwrrDeficit[p] <= 0)
            {
                continue; // still repaying: on to the next
            }
        }
        const uint32_t bytes = ServePriority(static_cast<uint8_t>(p));
        if (bytes != 0)
        {
            m_dwrrDeficit[p] -= WireBytes(bytes);
            return;
        }
        // The pull source had nothing: not backlogged after all.
        active &= static_cast<uint8_t>(~(1u << p));
        if (m_dwrrDeficit[p] > 0)
        {
            m_dwrrDeficit[p] = 0;
        }
    }
}

void
FabricNetDevice::StartTransmission(Packet* owned,
                                   uint32_t size,
                                   uint8_t priority,
                                   const FrameInfo& info)
{
    NS_LOG_FUNCTION(this << owned << size << static_cast<uint32_t>(priority));
    m_transmitting = true;
    const uint32_t wire = WireBytes(size);
    const int64_t txPs = SerializationPs(wire, m_bps);
    ++m_counters.txFrames;
    m_counters.txBytes += size;
    m_counters.txWireBytes += wire;
    // Trace sources cost nothing when unconnected: no Ptr<const Packet> is even built.
    if (m_tracing && (!m_phyTxBeginTrace.IsEmpty() || !m_snifferTrace.IsEmpty()))
    {
        const Ptr<const Packet> packet(owned);
        m_phyTxBeginTrace(packet);
        m_snifferTrace(packet);
    }
    m_channelRaw->Transmit(owned, info, this, txPs);
    // When this frame has left, the next one comes from the same queue most of the time.
    // Its entry may straddle two lines: name the line of its end too.
    const PriorityQueue& pq = m_queues[priority];
    const QueueEntry* next = pq.frames.empty() ? nullptr : &pq.frames.front();
    FabricHeapScheduler::HintNext(&m_queuedMask,
                                  &m_counters,
                                  &pq,
                                  next,
                                  next == nullptr ? nullptr
                                                  : reinterpret_cast<const char*>(next + 1) - 1,
                                  m_admissionRaw);
    // ScheduleWithContext returns no EventId: nothing ever cancels this event.
    Simulator::ScheduleWithContext(m_nodeId, PicoSeconds(txPs), new TransmitCompleteEvent(this));
}

void
FabricNetDevice::TransmitComplete()
{
    m_transmitting = false;
    TryTransmit();
}

void
FabricNetDevice::Receive(const Ptr<Packet>& packet, const FrameInfo& info)
{
    NS_LOG_FUNCTION(this << packet);
    if (m_receiveErrorModel && m_receiveErrorModel->IsCorrupt(packet))
    {
        RecordDrop(packet, DropReason::RX_ERROR);
        return;
    }
    ++m_counters.rxFrames;
    m_counters.rxBytes += packet->GetSize();
    if (m_tracing)
    {
        if (!m_phyRxEndTrace.IsEmpty())
        {
            m_phyRxEndTrace(packet);
        }
        if (!m_snifferTrace.IsEmpty())
        {
            m_snifferTrace(packet);
        }
    }
    if (m_sink != nullptr)
    {
        m_sink->ReceiveFrame(packet, info, m_portIndex);
        return;
    }
    ForwardUp(packet);
}

void
FabricNetDevice::ForwardUp(const Ptr<Packet>& packet)
{
    // An ns-3 protocol stack sits on this device: strip the Ethernet header and hand it up.
    EthernetHeader eth;
    packet->RemoveHeader(eth);
    const uint16_t protocol = eth.GetLengthType();
    if (!m_promiscCallback.IsNull())
    {
        m_promiscCallback(this,
                          packet,
                          protocol,
                          eth.GetSource(),
                          eth.GetDestination(),
                          eth.GetDestination() == m_address ? NetDevice::PACKET_HOST
                                                            : NetDevice::PACKET_OTHERHOST);
    }
    if (!m_rxCallback.IsNull())
    {
        m_rxCallback(this, packet, protocol, eth.GetSource());
    }
}

uint64_t
FabricNetDevice::GetBitRate() const
{
    return m_bps;
}

void
FabricNetDevice::SetDataRate(DataRate rate)
{
    NS_ABORT_MSG_IF(rate.GetBitRate() == 0, "FabricNetDevice: DataRate must be positive");
    m_dataRate = rate;
    m_bps = rate.GetBitRate();
}

DataRate
FabricNetDevice::GetDataRate() const
{
    return m_dataRate;
}

Ptr<FabricChannel>
FabricNetDevice::GetFabricChannel() const
{
    return m_channel;
}

Ptr<FabricNetDevice>
FabricNetDevice::GetPeer() const
{
    if (!m_channel)
    {
        return nullptr;
    }
    return m_channel->GetPeer(this);
}

int64_t
FabricNetDevice::GetTxPs(uint32_t packetBytes) const
{
    return SerializationPs(WireBytes(packetBytes), m_bps);
}

const FabricPortCounters&
FabricNetDevice::GetCounters() const
{
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        m_counters.maxQueueBytesPerPriority[p] = m_queues[p].peakBytes;
    }
    return m_counters;
}

void
FabricNetDevice::SetIfIndex(const uint32_t index)
{
    m_ifIndex = index;
}

uint32_t
FabricNetDevice::GetIfIndex() const
{
    return m_ifIndex;
}

Ptr<Channel>
FabricNetDevice::GetChannel() const
{
    return m_channel;
}

void
FabricNetDevice::SetAddress(Address address)
{
    m_address = Mac48Address::ConvertFrom(address);
}

Address
FabricNetDevice::GetAddress() const
{
    return m_address;
}

bool
FabricNetDevice::SetMtu(const uint16_t mtu)
{
    m_mtu = mtu;
    return true;
}

uint16_t
FabricNetDevice::GetMtu() const
{
    return m_mtu;
}

bool
FabricNetDevice::IsLinkUp() const
{
    return m_channel != nullptr;
}

void
FabricNetDevice::AddLinkChangeCallback(Callback<void> /*callback*/)
{
    // Links never change state.
}

bool
FabricNetDevice::IsBroadcast() const
{
    return true;
}

Address
FabricNetDevice::GetBroadcast() const
{
    return Mac48Address::GetBroadcast();
}

bool
FabricNetDevice::IsMulticast() const
{
    return false;
}

Address
FabricNetDevice::GetMulticast(Ipv4Address /*multicastGroup*/) const
{
    return Mac48Address::GetMulticast(Ipv4Address("224.0.0.0"));
}

Address
FabricNetDevice::GetMulticast(Ipv6Address addr) const
{
    return Mac48Address::GetMulticast(addr);
}

bool
FabricNetDevice::IsPointToPoint() const
{
    return true;
}

bool
FabricNetDevice::IsBridge() const
{
    return false;
}

bool
FabricNetDevice::Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber)
{
    return SendFrom(packet, m_address, dest, protocolNumber);
}

bool
FabricNetDevice::SendFrom(Ptr<Packet> packet,
                          const Address& source,
                          const Address& dest,
                          uint16_t protocolNumber)
{
    NS_LOG_FUNCTION(this << packet << protocolNumber);
    if (packet->GetSize() > m_mtu)
    {
        NS_LOG_WARN("packet of " << packet->GetSize() << " bytes exceeds the MTU of " << m_mtu);
        RecordDrop(packet, DropReason::FRAME_TOO_LARGE);
        return false;
    }
    EthernetHeader eth;
    eth.SetSource(Mac48Address::ConvertFrom(source));
    eth.SetDestination(Mac48Address::ConvertFrom(dest));
    eth.SetLengthType(protocolNumber);
    packet->AddHeader(eth);
    QueueEntry entry;
    entry.infoValid = ParseFrame(packet, entry.info);
    entry.priority = protocolNumber == ETHERTYPE_IPV4 ? entry.info.priority : 0;
    entry.bytes = packet->GetSize();
    entry.packet = packet;
    // The node's own frames (an ns-3 stack on a host: the TCP transport) enter through the
    // admission as the host's relayed and control frames do: dequeue releases every frame it
    // serves, and a host queue limit applies to them too.
    if (m_admissionRaw != nullptr)
    {
        DropReason reason;
        if (!m_admissionRaw->Admit(entry, m_portIndex, reason))
        {
            RecordDrop(packet, reason);
            return false;
        }
    }
    return Enqueue(std::move(entry)); // false: a PFC watchdog discards this priority
}

Ptr<Node>
FabricNetDevice::GetNode() const
{
    return m_node;
}

void
FabricNetDevice::SetNode(Ptr<Node> node)
{
    m_node = node;
    m_nodeId = node->GetId();
}

bool
FabricNetDevice::NeedsArp() const
{
    return false;
}

void
FabricNetDevice::SetReceiveCallback(NetDevice::ReceiveCallback cb)
{
    m_rxCallback = cb;
}

void
FabricNetDevice::SetPromiscReceiveCallback(PromiscReceiveCallback cb)
{
    m_promiscCallback = cb;
}

bool
FabricNetDevice::SupportsSendFrom() const
{
    return true;
}

} // namespace moe
} // namespace ns3
