/*
 * moe-fabric: a switch memory management unit with a shared, cell-based buffer.
 *
 * Sources (see doc/drafts/mmu.rst for the discussion):
 *  - A. K. Choudhury, E. L. Hahne, "Dynamic queue length thresholds for shared-memory packet
 *    switches", IEEE/ACM Trans. Networking 6(2), 1998: a queue may grow to
 *    alpha x (free buffer); S congested queues settle at alpha B / (1 + S alpha) each.
 *  - Broadcom/SONiC and NVIDIA (Mellanox) shared-buffer configuration: ingress/egress service
 *    pools, per-queue and per-priority-group reserved minimums, dynamic thresholds as powers of
 *    two (OpenBCM: alpha 1/128 .. 8; SONiC "dynamic_th" = log2 alpha), priority groups with
 *    XOFF, "xon_offset" and headroom. Defaults below follow SONiC's Broadcom templates:
 *    egress lossy reserve 1518 B, lossless PG reserve 1248 B, PG dynamic_th -3 (alpha 1/8),
 *    xon_offset 2288 B.
 *  - HPCC's ns-3 simulator (alibaba-edu/High-Precision-Congestion-Control, switch-mmu.cc): a
 *    lossless PG charges its reserve, then shared space up to a dynamic PFC threshold, then
 *    headroom; resume when headroom is empty and shared use is resume_offset below the
 *    threshold; RED marking decided at dequeue on the egress bytes left after the packet.
 *  - Cisco, "Priority Flow Control: Build Reliable Layer 2 Infrastructure" (after IEEE
 *    802.1Qbb): the headroom formula; IEEE 802.3 Annex 31B: PAUSE reaction times.
 *  - DCQCN (Zhu et al., SIGCOMM 2015): RED-style marking Kmin = 5 KB, Kmax = 200 KB,
 *    Pmax = 1%; DCTCP (Alizadeh et al., SIGCOMM 2010): step marking above K.
 */
#include "shared-buffer-mmu.h"

#include "fabric-channel.h"
#include "fabric-switch.h"

#include "ns3/abort.h"
#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/header.h"
#include "ns3/integer.h"
#include "ns3/log.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("SharedBufferMmu");

NS_OBJECT_ENSURE_REGISTERED(SharedBufferMmu);

namespace
{
constexpr uint32_t MAX_IPV4_HEADER_BYTES = 60;
constexpr uint8_t RESERVE_MASK = 0x7f; ///< QueueEntry::flags: cells taken from a reserve
constexpr uint64_t MAX_RESERVE_PART = 0x7f;
constexpr uint64_t Q16 = 1ull << 16;

/// Set CE on an ECT(0)/ECT(1) IPv4 frame, in place, and recompute the header checksum.
bool
SetCongestionExperienced(const Ptr<Packet>& packet)
{
    uint8_t buf[ETH_HEADER_BYTES + MAX_IPV4_HEADER_BYTES];
    const uint32_t size = packet->GetSize();
    if (size < ETH_HEADER_BYTES + IPV4_HEADER_BYTES)
    {
        return false;
    }
    const uint32_t have = std::min<uint32_t>(size, sizeof(buf));
    packet->CopyData(buf, have);
    if (((buf[12] << 8) | buf[13]) != ETHERTYPE_IPV4)
    {
        return false;
    }
    uint8_t* ip = buf + ETH_HEADER_BYTES;
    const uint32_t ihl = (ip[0] & 0x0fu) * 4u;
    if ((ip[0] >> 4) != 4 || ihl < IPV4_HEADER_BYTES || ETH_HEADER_BYTES + ihl > have)
    {
        return false;
    }
    const uint8_t ecn = ip[1] & 0x3;
    if (ecn != ECN_ECT0 && ecn != ECN_ECT1)
    {
        return false;
    }
    ip[1] = static_cast<uint8_t>(ip[1] | ECN_CE);
    WriteIpv4Checksum(ip, ihl);
    const uint32_t head = ETH_HEADER_BYTES + ihl;
    packet->RemoveAtStart(head);
    packet->AddHeader(FrameHeadBytes(buf, head));
    return true;
}

/// Parse "v" or eight comma-separated values "v0,...,v7" into @p out.
bool
ParseList(const std::string& text, std::array<double, NUM_PRIORITIES>& out, std::string& error)
{
    std::vector<double> values;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        const auto first = item.find_first_not_of(" \t");
        const auto last = item.find_last_not_of(" \t");
        if (first == std::string::npos)
        {
            error = "empty value in \"" + text + "\"";
            return false;
        }
        item = item.substr(first, last - first + 1);
        char* end = nullptr;
        const double v = std::strtod(item.c_str(), &end);
        if (end == item.c_str() || *end != '\0' || !std::isfinite(v))
        {
            error = "\"" + item + "\" is not a number";
            return false;
        }
        values.push_back(v);
    }
    if (values.size() == 1)
    {
        out.fill(values[0]);
        return true;
    }
    if (values.size() != NUM_PRIORITIES)
    {
        error = "expected one value or " + std::to_string(NUM_PRIORITIES) +
                " comma-separated values (one per priority), got \"" + text + "\"";
        return false;
    }
    std::copy(values.begin(), values.end(), out.begin());
    return true;
}

template <typename T>
std::string
FormatList(const std::array<T, NUM_PRIORITIES>& values)
{
    std::ostringstream os;
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        os << (p ? "," : "") << values[p];
    }
    return os.str();
}

uint64_t
CeilDiv(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

uint32_t
PopCount(uint8_t mask)
{
    return static_cast<uint32_t>(__builtin_popcount(mask));
}
} // namespace

const char*
SharedBufferMmu::PoolName(Pool pool)
{
    switch (pool)
    {
    case LOSSY_POOL:
        return "lossy";
    case LOSSLESS_POOL:
        return "lossless";
    case HEADROOM_POOL:
        return "headroom";
    case RESERVED_POOL:
        return "reserved";
    case NUM_POOLS:
        break;
    }
    return "unknown";
}

TypeId
SharedBufferMmu::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::SharedBufferMmu")
            .SetParent<FabricAdmission>()
            .SetGroupName("MoeFabric")
            .AddConstructor<SharedBufferMmu>()
            .AddAttribute("CellSize",
                          "Bytes per buffer cell; a frame costs ceil(bytes / CellSize) cells.",
                          UintegerValue(256),
                          MakeUintegerAccessor(&SharedBufferMmu::m_cellSize),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("BufferSize",
                          "Total packet buffer of the switch in bytes (rounded down to cells).",
                          UintegerValue(16 << 20),
                          MakeUintegerAccessor(&SharedBufferMmu::m_bufferSize),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("LossyPoolBytes",
                          "Size of the lossy service pool; 0 = what reserves, headroom and the "
                          "lossless pool leave.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_lossyPoolBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("LosslessPoolBytes",
                          "Size of the lossless service pool; 0 = LosslessPoolFraction of what "
                          "reserves and headroom leave (none without lossless priorities).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_losslessPoolBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("LosslessPoolFraction",
                          "Share of the pools that goes to the lossless pool when both pool "
                          "sizes are automatic and both kinds of priorities exist.",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&SharedBufferMmu::m_losslessPoolFraction),
                          MakeDoubleChecker<double>())
            .AddAttribute("SharedHeadroomBytes",
                          "Shared headroom pool; 0 = reserve headroom per (port, lossless "
                          "priority) instead.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_sharedHeadroomBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("EgressReservedBytes",
                          "Reserved minimum of every (port, lossy priority) egress queue.",
                          UintegerValue(1518),
                          MakeUintegerAccessor(&SharedBufferMmu::m_egressReservedBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("IngressReservedBytes",
                          "Reserved minimum of every (ingress port, lossless priority).",
                          UintegerValue(1248),
                          MakeUintegerAccessor(&SharedBufferMmu::m_ingressReservedBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("LosslessPriorities",
                          "Bit mask of the lossless priorities (bit p = priority p).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_losslessMask),
                          MakeUintegerChecker<uint8_t>())
            .AddAttribute(
                "Alpha",
                "Dynamic-threshold factor of the lossy priorities: one value, or "
                "eight comma-separated values for priorities 0..7.",
                StringValue("1"),
                MakeStringAccessor(&SharedBufferMmu::SetAlphaList, &SharedBufferMmu::GetAlphaList),
                MakeStringChecker())
            .AddAttribute("QueueLimitBytes",
                          "Hard tail-drop limit of every lossy egress queue; 0 = none.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_queueLimitBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("XoffBytes",
                          "Static XOFF: shared bytes a lossless (port, priority) may use "
                          "before it pauses; 0 = dynamic (XoffAlpha).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_xoffBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("XoffAlpha",
                          "Dynamic XOFF: XoffAlpha x free cells of the lossless pool.",
                          DoubleValue(0.125),
                          MakeDoubleAccessor(&SharedBufferMmu::m_xoffAlpha),
                          MakeDoubleChecker<double>())
            .AddAttribute("XonOffsetBytes",
                          "XON = XOFF - XonOffsetBytes (>= 0).",
                          IntegerValue(2288),
                          MakeIntegerAccessor(&SharedBufferMmu::m_xonOffsetBytes),
                          MakeIntegerChecker<int64_t>())
            .AddAttribute("HeadroomAuto",
                          "Size each lossless (port, priority) headroom with HeadroomBytes() "
                          "from the port's link, in maximum-size frames, plus the frame that "
                          "finds the PG over XOFF; otherwise use HeadroomBytes.",
                          BooleanValue(true),
                          MakeBooleanAccessor(&SharedBufferMmu::m_headroomAuto),
                          MakeBooleanChecker())
            .AddAttribute("HeadroomBytes",
                          "Headroom of every lossless (port, priority) when HeadroomAuto is "
                          "false.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_headroomBytes),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("HeadroomLinkRate",
                          "Link rate assumed for automatic headroom on ports without "
                          "SetPortLink()/ConfigurePorts().",
                          DataRateValue(DataRate("400Gbps")),
                          MakeDataRateAccessor(&SharedBufferMmu::m_headroomLinkRate),
                          MakeDataRateChecker())
            .AddAttribute("HeadroomPropagationDelay",
                          "One-way link delay assumed for automatic headroom on ports without "
                          "SetPortLink()/ConfigurePorts() (500 ns ~ 100 m of fiber).",
                          TimeValue(NanoSeconds(500)),
                          MakeTimeAccessor(&SharedBufferMmu::m_headroomDelay),
                          MakeTimeChecker(Time(0)))
            .AddAttribute("PeerResponseBits",
                          "Peer's reaction time to a PFC frame in bit times; 0 = IEEE 802.3 "
                          "Annex 31B upper bound for the link rate.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&SharedBufferMmu::m_peerResponseBits),
                          MakeUintegerChecker<uint64_t>())
            .AddAttribute("MaxFrameBytes",
                          "Largest stored frame (Ethernet header .. payload) for automatic "
                          "headroom; 4154 = RoCEv2 with a 4096-byte payload.",
                          UintegerValue(4096 + ROCE_DATA_HEADER_BYTES),
                          MakeUintegerAccessor(&SharedBufferMmu::m_maxFrameBytes),
                          MakeUintegerChecker<uint32_t>(ETH_MIN_FRAME_BYTES))
            .AddAttribute("EcnPriorities",
                          "Bit mask of the priorities whose egress queues mark ECN.",
                          UintegerValue(0xff),
                          MakeUintegerAccessor(&SharedBufferMmu::m_ecnMask),
                          MakeUintegerChecker<uint8_t>())
            .AddAttribute(
                "EcnKminBytes",
                "RED Kmin in bytes: one value or eight (priorities 0..7).",
                StringValue("5120"),
                MakeStringAccessor(&SharedBufferMmu::SetKminList, &SharedBufferMmu::GetKminList),
                MakeStringChecker())
            .AddAttribute(
                "EcnKmaxBytes",
                "RED Kmax in bytes (= Kmin for a step threshold): one value or eight.",
                StringValue("204800"),
                MakeStringAccessor(&SharedBufferMmu::SetKmaxList, &SharedBufferMmu::GetKmaxList),
                MakeStringChecker())
            .AddAttribute(
                "EcnPmax",
                "RED marking probability at Kmax: one value or eight.",
                StringValue("0.01"),
                MakeStringAccessor(&SharedBufferMmu::SetPmaxList, &SharedBufferMmu::GetPmaxList),
                MakeStringChecker())
            .AddAttribute(
                "Seed",
                "Seed of the marking generator (FabricHelper should give each switch "
                "its own).",
                UintegerValue(1),
                MakeUintegerAccessor(&SharedBufferMmu::SetSeed, &SharedBufferMmu::GetSeed),
                MakeUintegerChecker<uint64_t>())
            .AddTraceSource("PauseRequest",
                            "Lossless traffic received on (port, priority) crossed XOFF (true) "
                            "or fell to XON (false).",
                            MakeTraceSourceAccessor(&SharedBufferMmu::m_pauseTrace),
                            "ns3::moe::SharedBufferMmu::PauseRequestTracedCallback")
            .AddTraceSource("EcnMark",
                            "A frame was marked CE at dequeue: (packet, port, priority, queue "
                            "bytes left behind it).",
                            MakeTraceSourceAccessor(&SharedBufferMmu::m_ecnMarkTrace),
                            "ns3::moe::SharedBufferMmu::EcnMarkTracedCallback");
    return tid;
}

SharedBufferMmu::SharedBufferMmu()
    : m_cellSize(256),
      m_bufferSize(16 << 20),
      m_lossyPoolBytes(0),
      m_losslessPoolBytes(0),
      m_losslessPoolFraction(0.5),
      m_sharedHeadroomBytes(0),
      m_egressReservedBytes(1518),
      m_ingressReservedBytes(1248),
      m_losslessMask(0),
      m_queueLimitBytes(0),
      m_xoffBytes(0),
      m_xoffAlpha(0.125),
      m_xonOffsetBytes(2288),
      m_headroomAuto(true),
      m_headroomBytes(0),
      m_headroomLinkRate(DataRate("400Gbps")),
      m_headroomDelay(NanoSeconds(500)),
      m_peerResponseBits(0),
      m_maxFrameBytes(4096 + ROCE_DATA_HEADER_BYTES),
      m_ecnMask(0xff),
      m_seed(1),
      m_rng(1)
{
    m_alpha.fill(1.0);
    m_alphaQ16.fill(Q16);
    m_kmin.fill(5120);
    m_kmax.fill(204800);
    m_pmax.fill(0.01);
}

SharedBufferMmu::~SharedBufferMmu()
{
}

void
SharedBufferMmu::DoDispose()
{
    m_pauseCallback = PauseCallback();
    FabricAdmission::DoDispose();
}

// ---------------------------------------------------------------------------------------------
// Configuration

void
SharedBufferMmu::SetAlphaList(std::string list)
{
    std::array<double, NUM_PRIORITIES> v;
    std::string error;
    if (!ParseList(list, v, error))
    {
        m_listErrors[LIST_ALPHA] = "Alpha: " + error;
        return;
    }
    m_listErrors[LIST_ALPHA].clear();
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        SetAlpha(p, v[p]);
    }
}

std::string
SharedBufferMmu::GetAlphaList() const
{
    return FormatList(m_alpha);
}

void
SharedBufferMmu::SetKminList(std::string list)
{
    std::array<double, NUM_PRIORITIES> v;
    std::string error;
    if (!ParseList(list, v, error))
    {
        m_listErrors[LIST_KMIN] = "EcnKminBytes: " + error;
        return;
    }
    m_listErrors[LIST_KMIN].clear();
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        if (v[p] < 0)
        {
            m_listErrors[LIST_KMIN] = "EcnKminBytes: must be >= 0";
            return;
        }
        m_kmin[p] = static_cast<uint64_t>(std::llround(v[p]));
    }
}

std::string
SharedBufferMmu::GetKminList() const
{
    return FormatList(m_kmin);
}

void
SharedBufferMmu::SetKmaxList(std::string list)
{
    std::array<double, NUM_PRIORITIES> v;
    std::string error;
    if (!ParseList(list, v, error))
    {
        m_listErrors[LIST_KMAX] = "EcnKmaxBytes: " + error;
        return;
    }
    m_listErrors[LIST_KMAX].clear();
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        if (v[p] < 0)
        {
            m_listErrors[LIST_KMAX] = "EcnKmaxBytes: must be >= 0";
            return;
        }
        m_kmax[p] = static_cast<uint64_t>(std::llround(v[p]));
    }
}

std::string
SharedBufferMmu::GetKmaxList() const
{
    return FormatList(m_kmax);
}

void
SharedBufferMmu::SetPmaxList(std::string list)
{
    std::array<double, NUM_PRIORITIES> v;
    std::string error;
    if (!ParseList(list, v, error))
    {
        m_listErrors[LIST_PMAX] = "EcnPmax: " + error;
        return;
    }
    m_listErrors[LIST_PMAX].clear();
    m_pmax = v;
}

std::string
SharedBufferMmu::GetPmaxList() const
{
    return FormatList(m_pmax);
}

void
SharedBufferMmu::SetSeed(uint64_t seed)
{
    m_seed = seed;
    m_rng = FastRng(seed ^ 0x4d4d55ull); // "MMU": keep it apart from the ECMP stream
}

uint64_t
SharedBufferMmu::GetSeed() const
{
    return m_seed;
}

void
SharedBufferMmu::SetAlpha(uint8_t priority, double alpha)
{
    NS_ABORT_MSG_IF(priority >= NUM_PRIORITIES, "priority " << +priority << " out of range");
    m_alpha[priority] = alpha;
    // 16.16 fixed point: thresholds are integer arithmetic, identical on every platform.
    m_alphaQ16[priority] =
        alpha > 0 ? static_cast<uint64_t>(std::llround(std::min(alpha, 65536.0) * Q16)) : 0;
}

double
SharedBufferMmu::GetAlpha(uint8_t priority) const
{
    return m_alpha.at(priority);
}

void
SharedBufferMmu::SetEcnRed(uint8_t priority, uint64_t kminBytes, uint64_t kmaxBytes, double pmax)
{
    NS_ABORT_MSG_IF(priority >= NUM_PRIORITIES, "priority " << +priority << " out of range");
    m_kmin[priority] = kminBytes;
    m_kmax[priority] = kmaxBytes;
    m_pmax[priority] = pmax;
    m_ecnMask = static_cast<uint8_t>(m_ecnMask | (1u << priority));
}

void
SharedBufferMmu::SetEcnStep(uint8_t priority, uint64_t kBytes)
{
    SetEcnRed(priority, kBytes, kBytes, 1.0);
}

void
SharedBufferMmu::SetEcnEnabled(uint8_t priority, bool enabled)
{
    NS_ABORT_MSG_IF(priority >= NUM_PRIORITIES, "priority " << +priority << " out of range");
    const uint8_t bit = static_cast<uint8_t>(1u << priority);
    m_ecnMask =
        enabled ? static_cast<uint8_t>(m_ecnMask | bit) : static_cast<uint8_t>(m_ecnMask & ~bit);
}

void
SharedBufferMmu::SetPauseCallback(PauseCallback cb)
{
    m_pauseCallback = cb;
}

uint64_t
SharedBufferMmu::PauseResponseBits(uint64_t rateBps)
{
    constexpr uint64_t QUANTUM = 512;
    if (rateBps <= 1000000000ull)
    {
        return 2 * QUANTUM;
    }
    if (rateBps <= 10000000000ull)
    {
        return 60 * QUANTUM;
    }
    if (rateBps <= 25000000000ull)
    {
        return 80 * QUANTUM;
    }
    if (rateBps <= 40000000000ull)
    {
        return 118 * QUANTUM;
    }
    if (rateBps <= 100000000000ull)
    {
        return 394 * QUANTUM;
    }
    constexpr uint64_t R400 = 400000000000ull;
    if (rateBps <= R400)
    {
        return 905 * QUANTUM;
    }
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(905 * QUANTUM) * rateBps + R400 - 1) / R400);
}

uint64_t
SharedBufferMmu::HeadroomBytes(uint64_t rateBps,
                               int64_t propagationDelayPs,
                               uint32_t mtuBytes,
                               uint64_t responseTimeBits)
{
    const uint64_t delayPs = propagationDelayPs > 0 ? static_cast<uint64_t>(propagationDelayPs) : 0;
    // Bits the peer puts on the cable during one round trip: 2 x rate x delay.
    const unsigned __int128 cableBits =
        (static_cast<unsigned __int128>(rateBps) * delayPs * 2 + 999999999999ull) /
        1000000000000ull;
    const uint64_t frameBits = 8ull * WireBytes(mtuBytes);          // MTU[R] and MTU[S]
    const uint64_t pfcBits = 8ull * WireBytes(ETH_MIN_FRAME_BYTES); // 84 bytes
    const unsigned __int128 bits = 2 * frameBits + pfcBits + cableBits + responseTimeBits;
    return static_cast<uint64_t>((bits + 7) / 8);
}

std::string
SharedBufferMmu::ComputeLayout(uint32_t numPorts, Layout& out) const
{
    for (const auto& error : m_listErrors)
    {
        if (!error.empty())
        {
            return error;
        }
    }
    if (m_cellSize == 0)
    {
        return "CellSize: must be > 0";
    }
    if (m_bufferSize < m_cellSize)
    {
        return "BufferSize: " + std::to_string(m_bufferSize) +
               " bytes is less than one cell (CellSize " + std::to_string(m_cellSize) + ")";
    }
    const uint8_t lossless = m_losslessMask;
    const uint8_t lossy = static_cast<uint8_t>(~lossless);
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        if ((lossy >> p) & 1u)
        {
            if (!(m_alpha[p] > 0))
            {
                return "Alpha: must be > 0 (priority " + std::to_string(p) + " has " +
                       std::to_string(m_alpha[p]) + ")";
            }
            if (m_alphaQ16[p] == 0)
            {
                return "Alpha: " + std::to_string(m_alpha[p]) + " (priority " + std::to_string(p) +
                       ") is below the resolution 1/65536";
            }
        }
        if ((m_ecnMask >> p) & 1u)
        {
            if (m_kmax[p] < m_kmin[p])
            {
                return "EcnKmaxBytes: Kmax (" + std::to_string(m_kmax[p]) + ") is below Kmin (" +
                       std::to_string(m_kmin[p]) + ") on priority " + std::to_string(p);
            }
            if (!(m_pmax[p] >= 0.0 && m_pmax[p] <= 1.0))
            {
                return "EcnPmax: must be within [0, 1] (priority " + std::to_string(p) + ")";
            }
        }
    }
    if (!(m_losslessPoolFraction >= 0.0 && m_losslessPoolFraction <= 1.0))
    {
        return "LosslessPoolFraction: must be within [0, 1]";
    }
    if (lossless != 0)
    {
        if (m_xonOffsetBytes < 0)
        {
            return "XonOffsetBytes: XON above XOFF (XON = XOFF - XonOffsetBytes; the offset "
                   "must be >= 0)";
        }
        if (m_xoffBytes == 0 && !(m_xoffAlpha > 0))
        {
            return "XoffAlpha: must be > 0 (or set a static XoffBytes)";
        }
        if (!m_headroomAuto && m_headroomBytes == 0 && m_sharedHeadroomBytes == 0)
        {
            return "HeadroomBytes: lossless priorities have no headroom (set HeadroomBytes, "
                   "HeadroomAuto or SharedHeadroomBytes)";
        }
    }

    const uint64_t cell = m_cellSize;
    out = Layout();
    out.numPorts = numPorts;
    out.cellBytes = m_cellSize;
    out.totalCells = m_bufferSize / cell;
    out.egressReserveCells = CeilDiv(m_egressReservedBytes, cell);
    out.ingressReserveCells = lossless ? CeilDiv(m_ingressReservedBytes, cell) : 0;
    const uint64_t egressReserved =
        static_cast<uint64_t>(numPorts) * PopCount(lossy) * out.egressReserveCells;
    const uint64_t ingressReserved =
        static_cast<uint64_t>(numPorts) * PopCount(lossless) * out.ingressReserveCells;
    out.reservedCells = egressReserved + ingressReserved;
    auto bytes = [cell](uint64_t cells) { return std::to_string(cells * cell); };
    if (egressReserved > out.totalCells)
    {
        return "EgressReservedBytes: the egress reserves (" + bytes(egressReserved) +
               " bytes for " + std::to_string(numPorts) + " ports) exceed BufferSize (" +
               bytes(out.totalCells) + " bytes in cells)";
    }
    if (out.reservedCells > out.totalCells)
    {
        return "IngressReservedBytes: the reserves (" + bytes(out.reservedCells) +
               " bytes) exceed BufferSize (" + bytes(out.totalCells) + " bytes in cells)";
    }

    // Headroom per port (the same for every lossless priority of the port).
    out.headroomCells.assign(numPorts, 0);
    if (lossless != 0)
    {
        const uint64_t frameCells = CeilDiv(m_maxFrameBytes, cell);
        const uint64_t frameWire = WireBytes(m_maxFrameBytes);
        for (uint32_t port = 0; port < numPorts; ++port)
        {
            if (m_headroomAuto)
            {
                const uint64_t rate = port < m_portRate.size() && m_portRate[port] != 0
                                          ? m_portRate[port]
                                          : m_headroomLinkRate.GetBitRate();
                const int64_t delay = port < m_portDelayPs.size() && m_portDelayPs[port] >= 0
                                          ? m_portDelayPs[port]
                                          : m_headroomDelay.GetPicoSeconds();
                const uint64_t response =
                    m_peerResponseBits != 0 ? m_peerResponseBits : PauseResponseBits(rate);
                const uint64_t hb = HeadroomBytes(rate, delay, m_maxFrameBytes, response);
                // The formula counts bytes on the wire; in the buffer each maximum-size frame
                // (frameWire bytes on the wire) costs frameCells cells. One frame more: the
                // frame whose arrival finds the PG over XOFF is stored in headroom before the
                // pause is even asked for (the dynamic XOFF falls while other PGs fill the
                // lossless pool, so a PG is often over it when its next frame comes), and the
                // formula counts only what arrives after the decision.
                out.headroomCells[port] = (CeilDiv(hb, frameWire) + 1) * frameCells;
            }
            else
            {
                out.headroomCells[port] = CeilDiv(m_headroomBytes, cell);
            }
        }
    }
    if (m_sharedHeadroomBytes > 0 && lossless != 0)
    {
        out.sharedHeadroomCells = CeilDiv(m_sharedHeadroomBytes, cell);
        out.headroomCellsTotal = out.sharedHeadroomCells;
    }
    else
    {
        for (uint64_t h : out.headroomCells)
        {
            out.headroomCellsTotal += h * PopCount(lossless);
        }
    }
    if (out.reservedCells + out.headroomCellsTotal > out.totalCells)
    {
        return std::string(m_sharedHeadroomBytes > 0 ? "SharedHeadroomBytes" : "HeadroomBytes") +
               ": reserves (" + bytes(out.reservedCells) + " bytes) plus headroom (" +
               bytes(out.headroomCellsTotal) + " bytes) exceed BufferSize (" +
               bytes(out.totalCells) + " bytes in cells)";
    }

    // Service pools share what is left.
    const uint64_t rest = out.totalCells - out.reservedCells - out.headroomCellsTotal;
    const uint64_t lossyCells = CeilDiv(m_lossyPoolBytes, cell);
    const uint64_t losslessCells = CeilDiv(m_losslessPoolBytes, cell);
    if (lossyCells > 0 && losslessCells > 0)
    {
        if (lossyCells + losslessCells > rest)
        {
            return "LossyPoolBytes: the lossy and lossless pools (" +
                   bytes(lossyCells + losslessCells) +
                   " bytes) exceed what reserves and "
                   "headroom leave (" +
                   bytes(rest) + " bytes)";
        }
        out.lossyPoolCells = lossyCells;
        out.losslessPoolCells = losslessCells;
    }
    else if (lossyCells > 0)
    {
        if (lossyCells > rest)
        {
            return "LossyPoolBytes: " + bytes(lossyCells) +
                   " bytes exceed what reserves and "
                   "headroom leave (" +
                   bytes(rest) + " bytes)";
        }
        out.lossyPoolCells = lossyCells;
        out.losslessPoolCells = lossless ? rest - lossyCells : 0;
    }
    else if (losslessCells > 0)
    {
        if (losslessCells > rest)
        {
            return "LosslessPoolBytes: " + bytes(losslessCells) +
                   " bytes exceed what reserves "
                   "and headroom leave (" +
                   bytes(rest) + " bytes)";
        }
        out.losslessPoolCells = losslessCells;
        out.lossyPoolCells = lossy ? rest - losslessCells : 0;
    }
    else if (lossless == 0)
    {
        out.lossyPoolCells = rest;
    }
    else if (lossy == 0)
    {
        out.losslessPoolCells = rest;
    }
    else
    {
        out.losslessPoolCells =
            static_cast<uint64_t>(std::floor(static_cast<double>(rest) * m_losslessPoolFraction));
        out.lossyPoolCells = rest - out.losslessPoolCells;
    }
    if (lossless != 0)
    {
        // A lossless frame must be able to wait somewhere: its PG's headroom (or the shared
        // headroom pool) must hold at least one largest frame, and the lossless pool must exist
        // and reach any static XOFF, or every frame past the reserve lands in headroom at once.
        const uint64_t frameCells = CeilDiv(m_maxFrameBytes, cell);
        const uint64_t perPg =
            *std::min_element(out.headroomCells.begin(), out.headroomCells.end());
        if (out.sharedHeadroomCells != 0 ? out.sharedHeadroomCells < frameCells
                                         : perPg < frameCells)
        {
            return std::string(out.sharedHeadroomCells != 0 ? "SharedHeadroomBytes"
                                                            : "HeadroomBytes") +
                   ": headroom of " +
                   bytes(out.sharedHeadroomCells != 0 ? out.sharedHeadroomCells : perPg) +
                   " bytes cannot hold one frame of MaxFrameBytes " +
                   std::to_string(m_maxFrameBytes) + " (" + bytes(frameCells) + " bytes in cells)";
        }
        if (out.losslessPoolCells == 0)
        {
            return "LosslessPoolBytes: the lossless priorities have no service pool (reserves, "
                   "headroom and the lossy pool take the whole buffer)";
        }
        if (m_xoffBytes != 0 && CeilDiv(m_xoffBytes, cell) > out.losslessPoolCells)
        {
            return "XoffBytes: " + std::to_string(m_xoffBytes) +
                   " bytes exceed the lossless pool (" + bytes(out.losslessPoolCells) +
                   " bytes); XOFF would never be reached before the pool is full";
        }
    }
    if (lossy != 0 && out.lossyPoolCells == 0 &&
        out.egressReserveCells < CeilDiv(m_maxFrameBytes, cell))
    {
        // Without a pool a lossy frame can only use its queue's reserve: one too small for a
        // frame drops every frame, and retransmissions never get through.
        return out.egressReserveCells == 0
                   ? std::string("LossyPoolBytes: the lossy priorities have neither a pool nor "
                                 "reserves")
                   : "LossyPoolBytes: the lossy priorities have no pool, and their egress "
                     "reserve (" +
                         bytes(out.egressReserveCells) +
                         " bytes) cannot hold one frame of MaxFrameBytes " +
                         std::to_string(m_maxFrameBytes);
    }
    out.xoffStaticCells = CeilDiv(m_xoffBytes, cell);
    out.xonOffsetCells =
        m_xonOffsetBytes > 0 ? CeilDiv(static_cast<uint64_t>(m_xonOffsetBytes), cell) : 0;
    return "";
}

std::string
SharedBufferMmu::Validate(uint32_t numPorts) const
{
    Layout layout;
    return ComputeLayout(numPorts, layout);
}

std::string
SharedBufferMmu::Validate() const
{
    return Validate(m_initialized ? m_layout.numPorts : 1);
}

void
SharedBufferMmu::ApplyLayout(const Layout& layout)
{
    m_layout = layout;
    m_xoffAlphaQ16 = static_cast<uint64_t>(std::llround(std::min(m_xoffAlpha, 65536.0) * Q16));
    NS_LOG_INFO("SharedBufferMmu: "
                << layout.numPorts << " ports, " << layout.totalCells << " cells of "
                << layout.cellBytes << " B: reserved " << layout.reservedCells << ", headroom "
                << layout.headroomCellsTotal << ", lossy pool " << layout.lossyPoolCells
                << ", lossless pool " << layout.losslessPoolCells);
}

void
SharedBufferMmu::Initialize(uint32_t numPorts)
{
    Layout layout;
    const std::string error = ComputeLayout(numPorts, layout);
    NS_ABORT_MSG_IF(!error.empty(), "SharedBufferMmu: " << error);
    m_portRate.assign(numPorts, 0);
    m_portDelayPs.assign(numPorts, -1);
    m_egress.assign(static_cast<size_t>(numPorts) * NUM_PRIORITIES, EgressState());
    m_ingress.assign(static_cast<size_t>(numPorts) * NUM_PRIORITIES, IngressState());
    m_ecnMarks.assign(numPorts, 0);
    m_pauseRequests.assign(numPorts, 0);
    m_poolCells.fill(0);
    m_poolBytes.fill(0);
    m_peakPoolCells.fill(0);
    m_peakPoolBytes.fill(0);
    m_usedCells = 0;
    m_peakUsedCells = 0;
    m_drops.fill(0);
    m_ecnMarksTotal = 0;
    m_pauseTotal = 0;
    m_resumeTotal = 0;
    ApplyLayout(layout);
    m_initialized = true;
}

void
SharedBufferMmu::SetPortLink(uint32_t port, uint64_t rateBps, int64_t propagationDelayPs)
{
    NS_ABORT_MSG_IF(!m_initialized, "SharedBufferMmu::SetPortLink before Initialize");
    NS_ABORT_MSG_IF(port >= m_layout.numPorts, "SharedBufferMmu: no port " << port);
    NS_ABORT_MSG_IF(m_usedCells != 0, "SharedBufferMmu::SetPortLink while frames are buffered");
    m_portRate[port] = rateBps;
    m_portDelayPs[port] = propagationDelayPs;
    Layout layout;
    const std::string error = ComputeLayout(m_layout.numPorts, layout);
    NS_ABORT_MSG_IF(!error.empty(), "SharedBufferMmu: " << error);
    ApplyLayout(layout);
}

std::string
SharedBufferMmu::ConfigurePorts(Ptr<FabricSwitch> sw)
{
    NS_ABORT_MSG_IF(!m_initialized, "SharedBufferMmu::ConfigurePorts before Initialize");
    NS_ABORT_MSG_IF(m_usedCells != 0, "SharedBufferMmu::ConfigurePorts while frames are buffered");
    NS_ABORT_MSG_IF(sw->GetNPorts() != m_layout.numPorts,
                    "SharedBufferMmu::ConfigurePorts: the switch has "
                        << sw->GetNPorts() << " ports, the MMU " << m_layout.numPorts);
    const std::vector<uint64_t> oldRate = m_portRate;
    const std::vector<int64_t> oldDelay = m_portDelayPs;
    for (uint32_t port = 0; port < sw->GetNPorts(); ++port)
    {
        Ptr<FabricNetDevice> dev = sw->GetPort(port);
        m_portRate[port] = dev->GetBitRate();
        Ptr<FabricChannel> channel = dev->GetFabricChannel();
        m_portDelayPs[port] = channel ? channel->GetDelay().GetPicoSeconds() : -1;
    }
    Layout layout;
    const std::string error = ComputeLayout(m_layout.numPorts, layout);
    if (!error.empty())
    {
        m_portRate = oldRate;
        m_portDelayPs = oldDelay;
        return error;
    }
    ApplyLayout(layout);
    return "";
}

// ---------------------------------------------------------------------------------------------
// Admission

uint32_t
SharedBufferMmu::CellsFor(uint32_t bytes) const
{
    const uint32_t cells = (bytes + m_layout.cellBytes - 1) / m_layout.cellBytes;
    return cells == 0 ? 1 : cells;
}

uint64_t
SharedBufferMmu::DtLimit(uint64_t freeCells, uint64_t alphaQ16) const
{
    return static_cast<uint64_t>((static_cast<unsigned __int128>(freeCells) * alphaQ16) >> 16);
}

uint64_t
SharedBufferMmu::XoffLimit() const
{
    if (m_layout.xoffStaticCells != 0)
    {
        return m_layout.xoffStaticCells;
    }
    return DtLimit(m_layout.losslessPoolCells - m_poolCells[LOSSLESS_POOL], m_xoffAlphaQ16);
}

void
SharedBufferMmu::Charge(Pool pool, uint64_t cells, uint64_t bytes)
{
    m_poolCells[pool] += cells;
    m_poolBytes[pool] += bytes;
    m_peakPoolCells[pool] = std::max(m_peakPoolCells[pool], m_poolCells[pool]);
    m_peakPoolBytes[pool] = std::max(m_peakPoolBytes[pool], m_poolBytes[pool]);
}

void
SharedBufferMmu::Uncharge(Pool pool, uint64_t cells, uint64_t bytes)
{
    NS_ASSERT_MSG(m_poolCells[pool] >= cells && m_poolBytes[pool] >= bytes,
                  "release of more than was charged to the " << PoolName(pool) << " pool");
    m_poolCells[pool] -= cells;
    m_poolBytes[pool] -= bytes;
}

void
SharedBufferMmu::RequestPause(uint32_t port, uint8_t priority, bool pause)
{
    IngressState& ig = m_ingress[Index(port, priority)];
    ig.paused = pause;
    if (pause)
    {
        ++m_pauseTotal;
        ++m_pauseRequests[port];
    }
    else
    {
        ++m_resumeTotal;
    }
    NS_LOG_LOGIC("port " << port << " priority " << +priority << (pause ? " XOFF" : " XON"));
    m_pauseTrace(port, priority, pause);
    if (!m_pauseCallback.IsNull())
    {
        m_pauseCallback(port, priority, pause);
    }
}

bool
SharedBufferMmu::Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason)
{
    NS_ASSERT_MSG(m_initialized, "SharedBufferMmu::Admit before Initialize");
    NS_ASSERT(outPort < m_layout.numPorts && entry.priority < NUM_PRIORITIES);
    const uint8_t p = entry.priority;
    const uint64_t n = CellsFor(entry.bytes);
    const uint64_t cellBytes = m_layout.cellBytes;
    EgressState& eg = m_egress[Index(outPort, p)];

    if (((m_losslessMask >> p) & 1u) == 0)
    {
        // Lossy: egress admission with a dynamic threshold (Choudhury-Hahne).
        if (m_queueLimitBytes != 0 && eg.bytes + entry.bytes > m_queueLimitBytes)
        {
            reason = DropReason::EGRESS_QUEUE_FULL;
            ++m_drops[static_cast<size_t>(reason)];
            return false;
        }
        const uint64_t reserveFree = m_layout.egressReserveCells - eg.reserveCells;
        const uint64_t r = std::min({n, reserveFree, MAX_RESERVE_PART});
        const uint64_t s = n - r;
        if (s > 0)
        {
            const uint64_t used = m_poolCells[LOSSY_POOL];
            if (used + s > m_layout.lossyPoolCells)
            {
                reason = DropReason::POOL_FULL;
                ++m_drops[static_cast<size_t>(reason)];
                return false;
            }
            if (eg.sharedCells + s > DtLimit(m_layout.lossyPoolCells - used, m_alphaQ16[p]))
            {
                reason = DropReason::EGRESS_THRESHOLD;
                ++m_drops[static_cast<size_t>(reason)];
                return false;
            }
        }
        const uint64_t rBytes = std::min<uint64_t>(entry.bytes, r * cellBytes);
        eg.reserveCells += r;
        eg.sharedCells += s;
        if (r > 0)
        {
            Charge(RESERVED_POOL, r, rBytes);
        }
        if (s > 0)
        {
            Charge(LOSSY_POOL, s, entry.bytes - rBytes);
        }
        entry.flags = static_cast<uint8_t>(r);
    }
    else if (entry.inPort == LOCAL_PORT)
    {
        // Generated by the switch itself: no ingress to account it to, so the lossless pool
        // pays directly.
        if (m_poolCells[LOSSLESS_POOL] + n > m_layout.losslessPoolCells)
        {
            reason = DropReason::POOL_FULL;
            ++m_drops[static_cast<size_t>(reason)];
            return false;
        }
        Charge(LOSSLESS_POOL, n, entry.bytes);
        entry.flags = 0;
    }
    else
    {
        // Lossless: ingress accounting per (port, priority): reserve, pool up to XOFF, headroom.
        NS_ASSERT(entry.inPort < m_layout.numPorts);
        const uint32_t in = entry.inPort;
        IngressState& ig = m_ingress[Index(in, p)];
        const uint64_t reserveFree = m_layout.ingressReserveCells - ig.reserveCells;
        const uint64_t r = std::min({n, reserveFree, MAX_RESERVE_PART});
        const uint64_t s = n - r;
        bool toHeadroom = false;
        if (s > 0)
        {
            const bool poolHasRoom = m_poolCells[LOSSLESS_POOL] + s <= m_layout.losslessPoolCells;
            if (!poolHasRoom || ig.sharedCells + s > XoffLimit())
            {
                toHeadroom = true;
                const uint64_t limit = m_layout.headroomCells[in];
                const bool perPgFull =
                    limit != 0 ? ig.headroomCells + s > limit : m_layout.sharedHeadroomCells == 0;
                const bool sharedFull =
                    m_layout.sharedHeadroomCells != 0 &&
                    m_poolCells[HEADROOM_POOL] + s > m_layout.sharedHeadroomCells;
                if (perPgFull || sharedFull)
                {
                    reason = DropReason::HEADROOM_OVERFLOW;
                    ++m_drops[static_cast<size_t>(reason)];
                    // Pause only a PG that holds cells: its releases will resume it. One with
                    // none (a shared headroom pool used up by others, or a full lossless pool)
                    // would never be resumed.
                    if (!ig.paused && ig.reserveCells + ig.sharedCells + ig.headroomCells > 0)
                    {
                        RequestPause(in, p, true);
                    }
                    return false;
                }
            }
        }
        const uint64_t rBytes = std::min<uint64_t>(entry.bytes, r * cellBytes);
        ig.reserveCells += r;
        if (r > 0)
        {
            Charge(RESERVED_POOL, r, rBytes);
        }
        if (s > 0)
        {
            const uint64_t b = entry.bytes - rBytes;
            if (toHeadroom)
            {
                ig.headroomCells += s;
                ig.headroomBytes += b;
                Charge(HEADROOM_POOL, s, b);
            }
            else
            {
                ig.sharedCells += s;
                ig.sharedBytes += b;
                Charge(LOSSLESS_POOL, s, b);
            }
        }
        entry.flags = static_cast<uint8_t>(r);
        if (!ig.paused &&
            (ig.headroomCells > 0 || (ig.sharedCells > 0 && ig.sharedCells >= XoffLimit())))
        {
            RequestPause(in, p, true);
        }
    }
    eg.cells += n;
    eg.bytes += entry.bytes;
    m_usedCells += n;
    m_peakUsedCells = std::max(m_peakUsedCells, m_usedCells);
    return true;
}

void
SharedBufferMmu::Release(QueueEntry& entry, uint32_t outPort)
{
    const uint64_t left = ReleaseCells(entry, outPort);
    if (((m_ecnMask >> entry.priority) & 1u) != 0)
    {
        MaybeMarkEcn(entry, outPort, left);
    }
}

void
SharedBufferMmu::Discard(QueueEntry& entry, uint32_t outPort)
{
    // Leaves the buffer without being transmitted: no ECN decision.
    ReleaseCells(entry, outPort);
}

uint64_t
SharedBufferMmu::ReleaseCells(QueueEntry& entry, uint32_t outPort)
{
    const uint8_t p = entry.priority;
    const uint64_t n = CellsFor(entry.bytes);
    const uint64_t r = entry.flags & RESERVE_MASK;
    const uint64_t s = n - r;
    const uint64_t rBytes = std::min<uint64_t>(entry.bytes, r * m_layout.cellBytes);
    EgressState& eg = m_egress[Index(outPort, p)];
    NS_ASSERT_MSG(eg.cells >= n && eg.bytes >= entry.bytes && r <= n,
                  "release of more than was admitted to port " << outPort << " priority " << +p);
    eg.cells -= n;
    eg.bytes -= entry.bytes;
    m_usedCells -= n;
    if (r > 0)
    {
        Uncharge(RESERVED_POOL, r, rBytes);
    }

    if (((m_losslessMask >> p) & 1u) == 0)
    {
        eg.reserveCells -= r;
        eg.sharedCells -= s;
        if (s > 0)
        {
            Uncharge(LOSSY_POOL, s, entry.bytes - rBytes);
        }
    }
    else if (entry.inPort == LOCAL_PORT)
    {
        Uncharge(LOSSLESS_POOL, n, entry.bytes);
    }
    else
    {
        const uint32_t in = entry.inPort;
        IngressState& ig = m_ingress[Index(in, p)];
        NS_ASSERT(ig.reserveCells >= r);
        ig.reserveCells -= r;
        if (s > 0)
        {
            ReleaseIngress(ig, s, entry.bytes - rBytes);
        }
        if (ig.paused && ig.headroomCells == 0 &&
            (ig.sharedCells == 0 || ig.sharedCells + m_layout.xonOffsetCells <= XoffLimit()))
        {
            RequestPause(in, p, false);
        }
    }
    return eg.bytes;
}

void
SharedBufferMmu::ReleaseIngress(IngressState& ig, uint64_t cells, uint64_t bytes)
{
    // Headroom first, whichever of the PG's frames leaves (as switch MMUs and HPCC's model do):
    // the frames that took headroom arrived last and would leave last, so returning the cells
    // by frame would keep the headroom full, and XON back, until the PG's queue had drained.
    NS_ASSERT(ig.headroomCells + ig.sharedCells >= cells &&
              ig.headroomBytes + ig.sharedBytes >= bytes);
    const uint64_t h = std::min(cells, ig.headroomCells);
    const uint64_t sc = cells - h;
    NS_ASSERT(ig.sharedCells >= sc);
    ig.headroomCells -= h;
    ig.sharedCells -= sc;
    // Bytes follow the cells: what is left of the PG's bytes stays where its cells are.
    const uint64_t left = ig.headroomBytes + ig.sharedBytes - bytes;
    uint64_t headroomBytes;
    if (ig.headroomCells == 0)
    {
        headroomBytes = 0;
    }
    else if (ig.sharedCells == 0)
    {
        headroomBytes = left;
    }
    else
    {
        headroomBytes = ig.headroomBytes - std::min(bytes, ig.headroomBytes);
    }
    const uint64_t sharedBytes = left - headroomBytes;
    if (h > 0 || headroomBytes != ig.headroomBytes)
    {
        Uncharge(HEADROOM_POOL, h, ig.headroomBytes - headroomBytes);
    }
    if (sharedBytes >= ig.sharedBytes)
    {
        // Bytes moved from headroom into the pool with the headroom's cells gone.
        Charge(LOSSLESS_POOL, 0, sharedBytes - ig.sharedBytes);
        if (sc > 0)
        {
            Uncharge(LOSSLESS_POOL, sc, 0);
        }
    }
    else
    {
        Uncharge(LOSSLESS_POOL, sc, ig.sharedBytes - sharedBytes);
    }
    ig.headroomBytes = headroomBytes;
    ig.sharedBytes = sharedBytes;
}

void
SharedBufferMmu::MaybeMarkEcn(QueueEntry& entry, uint32_t outPort, uint64_t queueBytes)
{
    const uint8_t p = entry.priority;
    if (queueBytes <= m_kmin[p])
    {
        return;
    }
    if (queueBytes <= m_kmax[p])
    {
        // Kmin < q <= Kmax (so Kmax > Kmin): probability Pmax (q - Kmin) / (Kmax - Kmin).
        const double prob = m_pmax[p] * static_cast<double>(queueBytes - m_kmin[p]) /
                            static_cast<double>(m_kmax[p] - m_kmin[p]);
        const double u = static_cast<double>(m_rng.Next() >> 11) * (1.0 / 9007199254740992.0);
        if (!(u < prob))
        {
            return;
        }
    }
    if (!entry.packet || !SetCongestionExperienced(entry.packet))
    {
        return;
    }
    entry.info.ecn = ECN_CE; // the fields carried with the frame follow its bytes
    ++m_ecnMarks[outPort];
    ++m_ecnMarksTotal;
    if (!m_ecnMarkTrace.IsEmpty())
    {
        m_ecnMarkTrace(entry.packet, outPort, p, queueBytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Queries

uint32_t
SharedBufferMmu::GetCellSize() const
{
    return m_layout.cellBytes;
}

bool
SharedBufferMmu::IsLossless(uint8_t priority) const
{
    return ((m_losslessMask >> priority) & 1u) != 0;
}

uint64_t
SharedBufferMmu::GetTotalCells() const
{
    return m_layout.totalCells;
}

uint64_t
SharedBufferMmu::GetPoolSizeCells(Pool pool) const
{
    switch (pool)
    {
    case LOSSY_POOL:
        return m_layout.lossyPoolCells;
    case LOSSLESS_POOL:
        return m_layout.losslessPoolCells;
    case HEADROOM_POOL:
        return m_layout.headroomCellsTotal;
    case RESERVED_POOL:
        return m_layout.reservedCells;
    case NUM_POOLS:
        break;
    }
    return 0;
}

uint64_t
SharedBufferMmu::GetHeadroomLimitCells(uint32_t port) const
{
    return m_layout.headroomCells.at(port);
}

uint64_t
SharedBufferMmu::GetEgressReservedCells() const
{
    return m_layout.egressReserveCells;
}

uint64_t
SharedBufferMmu::GetIngressReservedCells() const
{
    return m_layout.ingressReserveCells;
}

uint64_t
SharedBufferMmu::GetPoolCells(Pool pool) const
{
    return m_poolCells.at(pool);
}

uint64_t
SharedBufferMmu::GetPoolBytes(Pool pool) const
{
    return m_poolBytes.at(pool);
}

uint64_t
SharedBufferMmu::GetPeakPoolCells(Pool pool) const
{
    return m_peakPoolCells.at(pool);
}

uint64_t
SharedBufferMmu::GetPeakPoolBytes(Pool pool) const
{
    return m_peakPoolBytes.at(pool);
}

uint64_t
SharedBufferMmu::GetUsedCells() const
{
    return m_usedCells;
}

uint64_t
SharedBufferMmu::GetPeakUsedCells() const
{
    return m_peakUsedCells;
}

uint64_t
SharedBufferMmu::GetQueueCells(uint32_t port, uint8_t priority) const
{
    return m_egress.at(Index(port, priority)).cells;
}

uint64_t
SharedBufferMmu::GetQueueBytes(uint32_t port, uint8_t priority) const
{
    return m_egress.at(Index(port, priority)).bytes;
}

uint64_t
SharedBufferMmu::GetEgressLimitCells(uint32_t port, uint8_t priority) const
{
    (void)m_egress.at(Index(port, priority));
    return m_layout.egressReserveCells +
           DtLimit(m_layout.lossyPoolCells - m_poolCells[LOSSY_POOL], m_alphaQ16[priority]);
}

uint64_t
SharedBufferMmu::GetIngressCells(uint32_t port, uint8_t priority) const
{
    const IngressState& ig = m_ingress.at(Index(port, priority));
    return ig.reserveCells + ig.sharedCells + ig.headroomCells;
}

uint64_t
SharedBufferMmu::GetHeadroomCells(uint32_t port, uint8_t priority) const
{
    return m_ingress.at(Index(port, priority)).headroomCells;
}

uint64_t
SharedBufferMmu::GetXoffCells() const
{
    return XoffLimit();
}

bool
SharedBufferMmu::IsPauseRequested(uint32_t port, uint8_t priority) const
{
    return m_ingress.at(Index(port, priority)).paused;
}

uint64_t
SharedBufferMmu::GetDrops(DropReason reason) const
{
    return m_drops.at(static_cast<size_t>(reason));
}

uint64_t
SharedBufferMmu::GetEcnMarks() const
{
    return m_ecnMarksTotal;
}

uint64_t
SharedBufferMmu::GetEcnMarks(uint32_t port) const
{
    return m_ecnMarks.at(port);
}

uint64_t
SharedBufferMmu::GetPauseRequests() const
{
    return m_pauseTotal;
}

uint64_t
SharedBufferMmu::GetResumeRequests() const
{
    return m_resumeTotal;
}

uint64_t
SharedBufferMmu::GetPauseRequests(uint32_t port) const
{
    return m_pauseRequests.at(port);
}

std::string
SharedBufferMmu::CheckAccounting() const
{
    std::ostringstream os;
    int problems = 0;
    auto note = [&os, &problems](const std::string& what) {
        if (problems++ < 4)
        {
            os << (problems > 1 ? "; " : "") << what;
        }
    };
    for (uint8_t pool = 0; pool < NUM_POOLS; ++pool)
    {
        if (m_poolCells[pool] != 0 || m_poolBytes[pool] != 0)
        {
            note(std::string(PoolName(static_cast<Pool>(pool))) + " pool holds " +
                 std::to_string(m_poolCells[pool]) + " cells / " +
                 std::to_string(m_poolBytes[pool]) + " bytes");
        }
    }
    if (m_usedCells != 0)
    {
        note("buffer holds " + std::to_string(m_usedCells) + " cells");
    }
    for (uint32_t port = 0; port < m_layout.numPorts; ++port)
    {
        for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
        {
            const EgressState& eg = m_egress[Index(port, p)];
            if (eg.cells != 0 || eg.bytes != 0 || eg.reserveCells != 0 || eg.sharedCells != 0)
            {
                note("egress queue (port " + std::to_string(port) + ", priority " +
                     std::to_string(p) + ") holds " + std::to_string(eg.cells) + " cells / " +
                     std::to_string(eg.bytes) + " bytes");
            }
            const IngressState& ig = m_ingress[Index(port, p)];
            if (ig.reserveCells != 0 || ig.sharedCells != 0 || ig.headroomCells != 0)
            {
                note("ingress (port " + std::to_string(port) + ", priority " + std::to_string(p) +
                     ") holds " +
                     std::to_string(ig.reserveCells + ig.sharedCells + ig.headroomCells) +
                     " cells");
            }
            if (ig.paused)
            {
                note("ingress (port " + std::to_string(port) + ", priority " + std::to_string(p) +
                     ") is still paused");
            }
        }
    }
    if (problems > 4)
    {
        os << "; and " << (problems - 4) << " more";
    }
    return os.str();
}

} // namespace moe
} // namespace ns3
