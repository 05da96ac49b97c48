/*
 * moe-fabric: every header of a RoCEv2 frame, written in one pass.
 */
#ifndef MOE_ROCE_FRAME_HEADER_H
#define MOE_ROCE_FRAME_HEADER_H

#include "fabric-frame.h"
#include "int-telemetry.h"

#include "ns3/header.h"

#include <cstdint>

namespace ns3
{
namespace moe
{

/**
 * @brief Ethernet II + IPv4 + UDP + BTH (+ AETH) as one ns-3 Header.
 *
 * The bytes are exactly those EthernetHeader, Ipv4Header (20 bytes, DF, checksum computed),
 * UdpHeader (checksum 0, as RoCEv2 allows), BthHeader and AethHeader would write one after the
 * other, then the INT shim and records when m_intBytes > 0 (int-telemetry.h; the BTH flag is
 * set then); a NIC builds a frame with one AddHeader instead of five. IPv4 total length and UDP
 * length are taken from the bytes that follow the header (payload + ICRC). Reading a captured
 * or received frame back with the individual header classes works as usual.
 */
class RoceFrameHeader : public Header
{
  public:
    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    uint8_t m_dstMac[6]{};
    uint8_t m_srcMac[6]{};
    uint32_t m_srcIp{0}; ///< host byte order
    uint32_t m_dstIp{0}; ///< host byte order
    uint8_t m_tos{0};    ///< DSCP << 2 | ECN
    uint8_t m_ttl{64};
    uint16_t m_srcPort{0};
    uint16_t m_dstPort{ROCEV2_UDP_PORT};
    uint8_t m_opcode{BTH_RC_SEND_ONLY};
    bool m_ackReq{false};
    bool m_fecn{false};
    bool m_becn{false};
    uint32_t m_destQp{0}; ///< 24 bits
    uint32_t m_psn{0};    ///< 24 bits
    bool m_hasAeth{false};
    uint8_t m_syndrome{AETH_ACK};
    uint32_t m_msn{0};     ///< 24 bits
    uint8_t m_intBytes{0}; ///< telemetry bytes (shim + records) in m_int; 0: none
    uint8_t m_int[INT_MAX_BYTES];

    /// @brief Set both MAC addresses.
    void SetMacs(const Mac48Address& src, const Mac48Address& dst);
};

} // namespace moe
} // namespace ns3

#endif // MOE_ROCE_FRAME_HEADER_H
