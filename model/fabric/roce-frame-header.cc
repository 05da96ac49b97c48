#include "roce-frame-header.h"

#include "ns3/ipv4-address.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_OBJECT_ENSURE_REGISTERED(RoceFrameHeader);

namespace
{
constexpr uint32_t BASE_BYTES = ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES;

inline void
Put16(uint8_t* p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

inline void
Put24(uint8_t* p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v >> 16);
    p[1] = static_cast<uint8_t>(v >> 8);
    p[2] = static_cast<uint8_t>(v);
}

inline void
Put32(uint8_t* p, uint32_t v)
{
    Put16(p, v >> 16);
    Put16(p + 2, v);
}

inline uint32_t
Get16(const uint8_t* p)
{
    return (static_cast<uint32_t>(p[0]) << 8) | p[1];
}

inline uint32_t
Get24(const uint8_t* p)
{
    return (static_cast<uint32_t>(p[0]) << 16) | Get16(p + 1);
}
} // namespace

TypeId
RoceFrameHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::RoceFrameHeader")
                            .SetParent<Header>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<RoceFrameHeader>();
    return tid;
}

TypeId
RoceFrameHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
RoceFrameHeader::GetSerializedSize() const
{
    return BASE_BYTES + (m_hasAeth ? AETH_BYTES : 0) + m_intBytes;
}

void
RoceFrameHeader::SetMacs(const Mac48Address& src, const Mac48Address& dst)
{
    src.CopyTo(m_srcMac);
    dst.CopyTo(m_dstMac);
}

void
RoceFrameHeader::Serialize(Buffer::Iterator start) const
{
    uint8_t b[BASE_BYTES + AETH_BYTES + INT_MAX_BYTES];
    const uint32_t size = GetSerializedSize();
    // Everything from the Ethernet header to the end of the frame (ICRC included).
    const uint32_t frame = start.GetRemainingSize();
    std::copy(m_dstMac, m_dstMac + 6, b);
    std::copy(m_srcMac, m_srcMac + 6, b + 6);
    Put16(b + 12, ETHERTYPE_IPV4);
    uint8_t* ip = b + ETH_HEADER_BYTES;
    ip[0] = 0x45;
    ip[1] = m_tos;
    Put16(ip + 2, frame - ETH_HEADER_BYTES);
    Put16(ip + 4, 0);      // identification
    Put16(ip + 6, 0x4000); // don't fragment
    ip[8] = m_ttl;
    ip[9] = 17; // UDP
    Put32(ip + 12, m_srcIp);
    Put32(ip + 16, m_dstIp);
    WriteIpv4Checksum(ip, IPV4_HEADER_BYTES);
    uint8_t* udp = ip + IPV4_HEADER_BYTES;
    Put16(udp, m_srcPort);
    Put16(udp + 2, m_dstPort);
    Put16(udp + 4, frame - ETH_HEADER_BYTES - IPV4_HEADER_BYTES);
    Put16(udp + 6, 0);
    uint8_t* bth = udp + UDP_HEADER_BYTES;
    bth[0] = m_opcode;
    bth[1] = 0x40; // MigReq, no pad, TVer 0
    Put16(bth + 2, 0xffff);
    bth[4] = static_cast<uint8_t>((m_fecn ? 0x80 : 0) | (m_becn ? 0x40 : 0) |
                                  (m_intBytes > 0 ? INT_BTH_FLAG : 0));
    Put24(bth + 5, m_destQp);
    bth[8] = m_ackReq ? 0x80 : 0;
    Put24(bth + 9, m_psn);
    if (m_hasAeth)
    {
        uint8_t* aeth = bth + BTH_BYTES;
        aeth[0] = m_syndrome;
        Put24(aeth + 1, m_msn);
    }
    std::copy(m_int, m_int + m_intBytes, b + BASE_BYTES + (m_hasAeth ? AETH_BYTES : 0));
    start.Write(b, size);
}

uint32_t
RoceFrameHeader::Deserialize(Buffer::Iterator start)
{
    uint8_t b[BASE_BYTES + AETH_BYTES];
    start.Read(b, BASE_BYTES);
    std::copy(b, b + 6, m_dstMac);
    std::copy(b + 6, b + 12, m_srcMac);
    const uint8_t* ip = b + ETH_HEADER_BYTES;
    m_tos = ip[1];
    m_ttl = ip[8];
    m_srcIp = (Get16(ip + 12) << 16) | Get16(ip + 14);
    m_dstIp = (Get16(ip + 16) << 16) | Get16(ip + 18);
    const uint8_t* udp = ip + IPV4_HEADER_BYTES;
    m_srcPort = static_cast<uint16_t>(Get16(udp));
    m_dstPort = static_cast<uint16_t>(Get16(udp + 2));
    const uint8_t* bth = udp + UDP_HEADER_BYTES;
    m_opcode = bth[0];
    m_fecn = (bth[4] & 0x80) != 0;
    m_becn = (bth[4] & 0x40) != 0;
    m_destQp = Get24(bth + 5);
    m_ackReq = (bth[8] & 0x80) != 0;
    m_psn = Get24(bth + 9);
    m_hasAeth = m_opcode == BTH_RC_ACK;
    if (m_hasAeth)
    {
        uint8_t a[AETH_BYTES];
        start.Read(a, AETH_BYTES);
        m_syndrome = a[0];
        m_msn = Get24(a + 1);
    }
    m_intBytes = 0;
    if ((bth[4] & INT_BTH_FLAG) != 0)
    {
        start.Read(m_int, INT_SHIM_BYTES);
        const uint32_t hops = std::min<uint32_t>(m_int[1], INT_MAX_HOPS);
        start.Read(m_int + INT_SHIM_BYTES, hops * INT_HOP_BYTES);
        m_intBytes = static_cast<uint8_t>(INT_SHIM_BYTES + hops * INT_HOP_BYTES);
    }
    return GetSerializedSize();
}

void
RoceFrameHeader::Print(std::ostream& os) const
{
    Mac48Address src;
    Mac48Address dst;
    src.CopyFrom(m_srcMac);
    dst.CopyFrom(m_dstMac);
    os << "Ethernet " << src << " > " << dst << " IPv4 " << Ipv4Address(m_srcIp) << " > "
       << Ipv4Address(m_dstIp) << " dscp=" << static_cast<uint32_t>(m_tos >> 2)
       << " ecn=" << static_cast<uint32_t>(m_tos & 3) << " UDP " << m_srcPort << " > " << m_dstPort
       << " BTH opcode=0x" << std::hex << static_cast<uint32_t>(m_opcode) << std::dec
       << " qp=" << m_destQp << " psn=" << m_psn << (m_ackReq ? " A" : "")
       << (m_fecn ? " FECN" : "") << (m_becn ? " BECN" : "");
    if (m_hasAeth)
    {
        os << " AETH syndrome=0x" << std::hex << static_cast<uint32_t>(m_syndrome) << std::dec
           << " msn=" << m_msn;
    }
    if (m_intBytes > 0)
    {
        os << " INT hops=" << static_cast<uint32_t>(m_int[1]);
    }
}

} // namespace moe
} // namespace ns3
