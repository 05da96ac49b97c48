#include "fabric-frame.h"

#include "ns3/log.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricFrame");

NS_OBJECT_ENSURE_REGISTERED(BthHeader);
NS_OBJECT_ENSURE_REGISTERED(AethHeader);
NS_OBJECT_ENSURE_REGISTERED(FrameHeadBytes);

namespace
{
constexpr uint32_t GPU_IPV4_BASE = 0x0A000000u;  // 10.0.0.0
constexpr uint32_t GPU_IPV4_LIMIT = 0x00FFFFFEu; // 10.255.255.254

inline uint16_t
Read16(const uint8_t* p)
{
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

inline uint32_t
Read24(const uint8_t* p)
{
    return (static_cast<uint32_t>(p[0]) << 16) | (static_cast<uint32_t>(p[1]) << 8) | p[2];
}

inline uint32_t
Read32(const uint8_t* p)
{
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
} // namespace

Ipv4Address
GpuIpv4Address(uint32_t gpu)
{
    NS_ABORT_MSG_IF(gpu >= GPU_IPV4_LIMIT, "GPU id " << gpu << " does not fit in 10.0.0.0/8");
    return Ipv4Address(GPU_IPV4_BASE + gpu + 1);
}

uint32_t
GpuFromIpv4(uint32_t addressHostOrder)
{
    if ((addressHostOrder & 0xFF000000u) != GPU_IPV4_BASE)
    {
        return UINT32_MAX;
    }
    uint32_t low = addressHostOrder & 0x00FFFFFFu;
    if (low == 0 || low > GPU_IPV4_LIMIT)
    {
        return UINT32_MAX;
    }
    return low - 1;
}

Mac48Address
GpuMacAddress(uint32_t gpu, uint8_t port)
{
    // 02:xx (locally administered, unicast), then port, then the 24-bit GPU id.
    uint8_t b[6] = {0x02,
                    0x4d, // 'M'
                    port,
                    static_cast<uint8_t>(gpu >> 16),
                    static_cast<uint8_t>(gpu >> 8),
                    static_cast<uint8_t>(gpu)};
    Mac48Address mac;
    mac.CopyFrom(b);
    return mac;
}

bool
ParseFrame(const Ptr<const Packet>& packet, FrameInfo& info, RoceInfo* roce)
{
    // Ethernet 14 + IPv4 20 + UDP 8 + BTH 12 + AETH 4.
    constexpr uint32_t WANT = 58;
    uint8_t buf[WANT];
    const uint32_t size = packet->GetSize();
    const uint32_t have = size < WANT ? size : WANT;
    if (have < ETH_HEADER_BYTES)
    {
        return false;
    }
    packet->CopyData(buf, have);
    info.etherType = Read16(buf + 12);
    if (info.etherType != ETHERTYPE_IPV4)
    {
        return true;
    }
    if (have < ETH_HEADER_BYTES + IPV4_HEADER_BYTES)
    {
        return false;
    }
    const uint8_t* ip = buf + ETH_HEADER_BYTES;
    const uint32_t ihl = (ip[0] & 0x0f) * 4u;
    info.dscp = ip[1] >> 2;
    info.ecn = ip[1] & 0x3;
    info.priority = PriorityForDscp(info.dscp);
    info.protocol = ip[9];
    info.srcIp = Read32(ip + 12);
    info.dstIp = Read32(ip + 16);
    info.dstGpu = GpuFromIpv4(info.dstIp);
    const uint32_t l4 = ETH_HEADER_BYTES + ihl;
    if ((info.protocol == 17 || info.protocol == 6) && have >= l4 + 4)
    {
        info.srcPort = Read16(buf + l4);
        info.dstPort = Read16(buf + l4 + 2);
    }
    else
    {
        info.srcPort = 0;
        info.dstPort = 0;
    }
    if (roce == nullptr)
    {
        return true;
    }
    roce->valid = false;
    if (info.protocol != 17 || info.dstPort != ROCEV2_UDP_PORT || ihl != IPV4_HEADER_BYTES ||
        have < ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES)
    {
        return true;
    }
    const uint8_t* bth = buf + ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES;
    roce->opcode = bth[0];
    roce->fecn = (bth[4] & 0x80) != 0;
    roce->becn = (bth[4] & 0x40) != 0;
    roce->telemetry = (bth[4] & INT_BTH_FLAG) != 0;
    roce->destQp = Read24(bth + 5);
    roce->ackReq = (bth[8] & 0x80) != 0;
    roce->psn = Read24(bth + 9);
    uint32_t headers = IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + ICRC_BYTES;
    if (roce->opcode == BTH_RC_ACK)
    {
        if (have < WANT)
        {
            return true;
        }
        roce->syndrome = bth[BTH_BYTES];
        roce->msn = Read24(bth + BTH_BYTES + 1);
        headers += AETH_BYTES;
    }
    const uint32_t ipTotal = Read16(ip + 2);
    roce->payloadBytes = ipTotal >= headers ? ipTotal - headers : 0;
    roce->valid = true;
    return true;
}

void
WriteIpv4Checksum(uint8_t* ip, uint32_t ihl)
{
    // One's complement of the one's complement sum of the header's 16-bit words.
    ip[10] = 0;
    ip[11] = 0;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < ihl; i += 2)
    {
        sum += static_cast<uint32_t>((ip[i] << 8) | ip[i + 1]);
    }
    while (sum >> 16)
    {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    const uint16_t checksum = static_cast<uint16_t>(~sum);
    ip[10] = static_cast<uint8_t>(checksum >> 8);
    ip[11] = static_cast<uint8_t>(checksum);
}

TypeId
FrameHeadBytes::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::FrameHeadBytes")
                            .SetParent<Header>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<FrameHeadBytes>();
    return tid;
}

FrameHeadBytes::FrameHeadBytes(const uint8_t* bytes, uint32_t size)
    : m_size(size)
{
    NS_ASSERT(size <= CAPACITY);
    std::copy(bytes, bytes + size, m_bytes);
}

TypeId
FrameHeadBytes::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
FrameHeadBytes::GetSerializedSize() const
{
    return m_size;
}

void
FrameHeadBytes::Serialize(Buffer::Iterator start) const
{
    start.Write(m_bytes, m_size);
}

uint32_t
FrameHeadBytes::Deserialize(Buffer::Iterator start)
{
    start.Read(m_bytes, m_size);
    return m_size;
}

void
FrameHeadBytes::Print(std::ostream& os) const
{
    os << "frame head (" << m_size << " bytes, rewritten by a switch)";
}

Ptr<Packet>
BuildPfcFrame(Mac48Address source, const PfcInfo& pfc)
{
    uint8_t buf[PFC_FRAME_BYTES] = {0x01, 0x80, 0xC2, 0x00, 0x00, 0x01}; // the rest is zero
    source.CopyTo(buf + 6);
    buf[12] = static_cast<uint8_t>(ETHERTYPE_MAC_CONTROL >> 8);
    buf[13] = static_cast<uint8_t>(ETHERTYPE_MAC_CONTROL & 0xff);
    buf[14] = static_cast<uint8_t>(MAC_CONTROL_OPCODE_PFC >> 8);
    buf[15] = static_cast<uint8_t>(MAC_CONTROL_OPCODE_PFC & 0xff);
    buf[16] = 0; // reserved upper byte of the priority-enable vector
    buf[17] = pfc.enableVector;
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        const uint16_t q = (pfc.enableVector & (1u << p)) != 0 ? pfc.quanta[p] : 0;
        buf[18 + 2 * p] = static_cast<uint8_t>(q >> 8);
        buf[19 + 2 * p] = static_cast<uint8_t>(q & 0xff);
    }
    return Create<Packet>(buf, PFC_FRAME_BYTES);
}

bool
ParsePfcFrame(const Ptr<const Packet>& packet, PfcInfo& pfc)
{
    constexpr uint32_t WANT = ETH_HEADER_BYTES + 4 + 2 * NUM_PRIORITIES; // 34
    uint8_t buf[WANT];
    if (packet->GetSize() < WANT)
    {
        return false;
    }
    packet->CopyData(buf, WANT);
    if (Read16(buf + 12) != ETHERTYPE_MAC_CONTROL || Read16(buf + 14) != MAC_CONTROL_OPCODE_PFC)
    {
        return false;
    }
    pfc.enableVector = buf[17];
    for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
    {
        pfc.quanta[p] = Read16(buf + 18 + 2 * p);
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// BthHeader

TypeId
BthHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::BthHeader")
                            .SetParent<Header>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<BthHeader>();
    return tid;
}

TypeId
BthHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
BthHeader::GetSerializedSize() const
{
    return BTH_BYTES;
}

void
BthHeader::Serialize(Buffer::Iterator i) const
{
    i.WriteU8(m_opcode);
    i.WriteU8(static_cast<uint8_t>((m_solicited ? 0x80 : 0) | (m_migReq ? 0x40 : 0) |
                                   ((m_padCount & 0x3) << 4))); // TVer = 0
    i.WriteHtonU16(m_pkey);
    i.WriteU8(static_cast<uint8_t>((m_fecn ? 0x80 : 0) | (m_becn ? 0x40 : 0)));
    i.WriteU8(static_cast<uint8_t>(m_destQp >> 16));
    i.WriteU8(static_cast<uint8_t>(m_destQp >> 8));
    i.WriteU8(static_cast<uint8_t>(m_destQp));
    i.WriteU8(m_ackReq ? 0x80 : 0);
    i.WriteU8(static_cast<uint8_t>(m_psn >> 16));
    i.WriteU8(static_cast<uint8_t>(m_psn >> 8));
    i.WriteU8(static_cast<uint8_t>(m_psn));
}

uint32_t
BthHeader::Deserialize(Buffer::Iterator i)
{
    m_opcode = i.ReadU8();
    uint8_t b = i.ReadU8();
    m_solicited = (b & 0x80) != 0;
    m_migReq = (b & 0x40) != 0;
    m_padCount = (b >> 4) & 0x3;
    m_pkey = i.ReadNtohU16();
    b = i.ReadU8();
    m_fecn = (b & 0x80) != 0;
    m_becn = (b & 0x40) != 0;
    m_destQp = static_cast<uint32_t>(i.ReadU8()) << 16;
    m_destQp |= static_cast<uint32_t>(i.ReadU8()) << 8;
    m_destQp |= i.ReadU8();
    m_ackReq = (i.ReadU8() & 0x80) != 0;
    m_psn = static_cast<uint32_t>(i.ReadU8()) << 16;
    m_psn |= static_cast<uint32_t>(i.ReadU8()) << 8;
    m_psn |= i.ReadU8();
    return BTH_BYTES;
}

void
BthHeader::Print(std::ostream& os) const
{
    os << "BTH opcode=0x" << std::hex << static_cast<uint32_t>(m_opcode) << std::dec
       << " qp=" << m_destQp << " psn=" << m_psn << (m_ackReq ? " A" : "")
       << (m_fecn ? " FECN" : "") << (m_becn ? " BECN" : "");
}

// ---------------------------------------------------------------------------------------------
// AethHeader

TypeId
AethHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::AethHeader")
                            .SetParent<Header>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<AethHeader>();
    return tid;
}

TypeId
AethHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
AethHeader::GetSerializedSize() const
{
    return AETH_BYTES;
}

void
AethHeader::Serialize(Buffer::Iterator i) const
{
    i.WriteU8(m_syndrome);
    i.WriteU8(static_cast<uint8_t>(m_msn >> 16));
    i.WriteU8(static_cast<uint8_t>(m_msn >> 8));
    i.WriteU8(static_cast<uint8_t>(m_msn));
}

uint32_t
AethHeader::Deserialize(Buffer::Iterator i)
{
    m_syndrome = i.ReadU8();
    m_msn = static_cast<uint32_t>(i.ReadU8()) << 16;
    m_msn |= static_cast<uint32_t>(i.ReadU8()) << 8;
    m_msn |= i.ReadU8();
    return AETH_BYTES;
}

void
AethHeader::Print(std::ostream& os) const
{
    os << "AETH syndrome=0x" << std::hex << static_cast<uint32_t>(m_syndrome) << std::dec
       << " msn=" << m_msn;
}

} // namespace moe
} // namespace ns3
