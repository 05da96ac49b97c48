/*
 * moe-fabric: frame layout shared by every node of the fabric.
 *
 * Frames on the wire are real Ethernet II / IPv4 / UDP / InfiniBand BTH (RoCEv2) frames, so a
 * PCAP written by FabricNetDevice opens in Wireshark with RoCE and ECN decoded. This file holds
 * the constants of that layout, the two transport headers ns-3 does not have (BTH, AETH), the
 * GPU <-> IPv4/MAC address mapping, and FrameInfo, the handful of fields a switch reads from a
 * frame without deserializing header objects.
 */
#ifndef MOE_FABRIC_FRAME_H
#define MOE_FABRIC_FRAME_H

#include "ns3/header.h"
#include "ns3/ipv4-address.h"
#include "ns3/mac48-address.h"
#include "ns3/packet.h"

#include <array>
#include <cstdint>

namespace ns3
{
namespace moe
{

/// Number of priorities (IEEE 802.1p classes, one egress queue each) on every port.
constexpr uint8_t NUM_PRIORITIES = 8;

/// @name Frame layout (bytes)
/// @{
constexpr uint32_t ETH_HEADER_BYTES = 14;    ///< dst MAC, src MAC, EtherType
constexpr uint32_t IPV4_HEADER_BYTES = 20;   ///< no options
constexpr uint32_t UDP_HEADER_BYTES = 8;     ///< checksum 0, as RoCEv2 allows
constexpr uint32_t BTH_BYTES = 12;           ///< InfiniBand Base Transport Header
constexpr uint32_t AETH_BYTES = 4;           ///< ACK Extended Transport Header
constexpr uint32_t ICRC_BYTES = 4;           ///< invariant CRC trailer of RoCEv2
constexpr uint32_t ETH_FCS_BYTES = 4;        ///< frame check sequence (not stored in the packet)
constexpr uint32_t ETH_PREAMBLE_BYTES = 8;   ///< preamble + start-of-frame delimiter
constexpr uint32_t ETH_IFG_BYTES = 12;       ///< minimum inter-frame gap
constexpr uint32_t ETH_MIN_FRAME_BYTES = 60; ///< minimum frame without FCS (64 with it)
constexpr uint16_t ROCEV2_UDP_PORT = 4791;   ///< IANA port of RoCEv2
constexpr uint16_t ETHERTYPE_IPV4 = 0x0800;
constexpr uint16_t ETHERTYPE_MAC_CONTROL = 0x8808;  ///< PFC / PAUSE frames
constexpr uint16_t MAC_CONTROL_OPCODE_PFC = 0x0101; ///< IEEE 802.1Qbb priority-based flow control
constexpr uint32_t PFC_QUANTUM_BITS = 512;          ///< one pause quantum, in bit times
/// Stored bytes of a PFC frame: Ethernet header, opcode, enable vector, 8 quanta, zero padding
/// up to the 60-byte minimum (64 bytes on the wire with the FCS).
constexpr uint32_t PFC_FRAME_BYTES = ETH_MIN_FRAME_BYTES;
/// Bytes a RoCEv2 data packet carries besides its payload and that sit in switch buffers:
/// Ethernet + IPv4 + UDP + BTH + ICRC.
constexpr uint32_t ROCE_DATA_HEADER_BYTES =
    ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES + ICRC_BYTES;
/// Bytes the wire spends on every frame besides the stored packet: FCS, preamble/SFD, IFG.
constexpr uint32_t WIRE_EXTRA_BYTES = ETH_FCS_BYTES + ETH_PREAMBLE_BYTES + ETH_IFG_BYTES;

/// @}

/**
 * @brief Bytes a frame of @p packetBytes (as stored in the ns-3 Packet: Ethernet header up to
 * the end of the payload, no FCS) occupies on the wire, padding to the minimum frame included.
 */
inline uint32_t
WireBytes(uint32_t packetBytes)
{
    return (packetBytes < ETH_MIN_FRAME_BYTES ? ETH_MIN_FRAME_BYTES : packetBytes) +
           WIRE_EXTRA_BYTES;
}

/**
 * @brief Serialization time in picoseconds of @p wireBytes at @p bitsPerSecond, rounded up.
 *
 * Integer arithmetic on purpose: DataRate::CalculateBytesTxTime goes through a double and a
 * Time conversion, which makes serialization error systematic over millions of frames.
 */
inline int64_t
SerializationPs(uint64_t wireBytes, uint64_t bitsPerSecond)
{
    const unsigned __int128 num = static_cast<unsigned __int128>(wireBytes) * 8u * 1000000000000ull;
    return static_cast<int64_t>((num + bitsPerSecond - 1) / bitsPerSecond);
}

/**
 * @brief Wire bytes a RoCEv2 message of @p bytes puts on its first link, data packets only:
 * bytes / mtu full packets, one packet for the remainder, one header-only packet for a zero-byte
 * message; each packet is ROCE_DATA_HEADER_BYTES + payload stored, plus WIRE_EXTRA_BYTES.
 */
inline uint64_t
RoceMessageWireBytes(uint64_t bytes, uint32_t mtu)
{
    if (bytes == 0)
    {
        return WireBytes(ROCE_DATA_HEADER_BYTES);
    }
    const uint64_t full = bytes / mtu;
    const uint32_t rem = static_cast<uint32_t>(bytes % mtu);
    return full * WireBytes(mtu + ROCE_DATA_HEADER_BYTES) +
           (rem > 0 ? WireBytes(rem + ROCE_DATA_HEADER_BYTES) : 0);
}

/**
 * @brief The content of an IEEE 802.1Qbb PFC frame: which priorities it addresses (the low byte
 * of the 16-bit priority-enable vector) and the pause time of each, in quanta of 512 bit times.
 */
struct PfcInfo
{
    uint8_t enableVector{0};                       ///< bit p set: quanta[p] applies to priority p
    std::array<uint16_t, NUM_PRIORITIES> quanta{}; ///< 0 = resume now
};

/**
 * @brief A real 802.1Qbb PFC frame (MAC Control, so Wireshark decodes it as PFC): destination
 * 01:80:C2:00:00:01, source @p source, EtherType 0x8808, opcode 0x0101, the priority-enable
 * vector (16 bits, upper byte reserved zero), eight 16-bit quanta (quanta of priorities outside
 * the vector are written as 0), zero padding to PFC_FRAME_BYTES. All fields big-endian.
 */
Ptr<Packet> BuildPfcFrame(Mac48Address source, const PfcInfo& pfc);

/**
 * @brief Parse @p packet as a PFC frame; false (and @p pfc untouched) if it is not one: too
 * short, not EtherType 0x8808 or not opcode 0x0101. The destination MAC is not checked.
 */
bool ParsePfcFrame(const Ptr<const Packet>& packet, PfcInfo& pfc);

/// @brief Time @p quanta pause quanta last at @p bitsPerSecond, in picoseconds (rounded up).
inline int64_t
PfcQuantaPs(uint32_t quanta, uint64_t bitsPerSecond)
{
    return SerializationPs(static_cast<uint64_t>(quanta) * PFC_QUANTUM_BITS / 8, bitsPerSecond);
}

/// @brief DSCP carried in the IPv4 header for priority @p p (class selector CSp = 8p).
inline uint8_t
DscpForPriority(uint8_t p)
{
    return static_cast<uint8_t>(p << 3);
}

/// @brief Priority a DSCP value maps to (the class-selector bits).
inline uint8_t
PriorityForDscp(uint8_t dscp)
{
    return static_cast<uint8_t>((dscp >> 3) & 0x7);
}

/// IPv4 ECN codepoints (RFC 3168).
enum EcnCodepoint : uint8_t
{
    ECN_NOT_ECT = 0,
    ECN_ECT1 = 1,
    ECN_ECT0 = 2,
    ECN_CE = 3,
};

/// @brief IPv4 address of GPU @p gpu: 10.0.0.0 + gpu + 1 (so GPU 0 is 10.0.0.1).
Ipv4Address GpuIpv4Address(uint32_t gpu);
/// @brief Inverse of GpuIpv4Address on the host-order value; UINT32_MAX if not a GPU address.
uint32_t GpuFromIpv4(uint32_t addressHostOrder);
/// @brief Locally administered MAC of GPU @p gpu's port @p port (0 = NIC, 1 = NVLink).
Mac48Address GpuMacAddress(uint32_t gpu, uint8_t port);

/**
 * @brief The fields a forwarding element needs, read straight from the frame bytes.
 *
 * Parsing copies the first 38 bytes of the packet buffer (Ethernet, IPv4, the UDP/TCP ports) and
 * decodes them; no Header object is constructed and the packet is not modified.
 */
struct FrameInfo
{
    uint16_t etherType{0};
    uint8_t dscp{0};
    uint8_t ecn{0};
    uint8_t protocol{0};
    uint8_t priority{0}; ///< from DSCP for IPv4, from the PCP-less MAC control frame otherwise
    uint32_t srcIp{0};   ///< host byte order
    uint32_t dstIp{0};   ///< host byte order
    uint16_t srcPort{0};
    uint16_t dstPort{0};
    uint32_t dstGpu{UINT32_MAX}; ///< GPU id of dstIp, UINT32_MAX if not a GPU address
};

struct RoceInfo;

/**
 * @brief Fill @p info from @p packet's bytes; if @p roce is given and the frame is RoCEv2, fill
 * it too (one copy of the first 58 bytes serves both).
 *
 * Returns false if the frame is shorter than an Ethernet header or is IPv4 but truncated. MAC
 * control frames return true with only etherType set. @p roce->opcode is left untouched and the
 * function still returns true when the frame is IPv4 but not RoCEv2; check info.dstPort.
 */
bool ParseFrame(const Ptr<const Packet>& packet, FrameInfo& info, RoceInfo* roce = nullptr);

/**
 * @brief RFC 791: write the header checksum of the IPv4 header at @p ip (@p ihl bytes) into
 * bytes 10..11 (which are zeroed first).
 */
void WriteIpv4Checksum(uint8_t* ip, uint32_t ihl);

/**
 * @brief The first bytes of a frame, written back after a switch rewrote them (ECN CE,
 * telemetry).
 *
 * ns-3 has no way to change bytes of a Packet in place other than removing and adding a
 * header; removing the raw bytes (RemoveAtStart) and adding them back as this header keeps the
 * Packet object, its tags and its packet metadata valid whatever headers built the frame, and
 * leaves the payload where it is.
 */
class FrameHeadBytes : public Header
{
  public:
    /// Most bytes one instance holds: Ethernet, IPv4 with options, UDP, BTH, AETH and a full
    /// telemetry stack fit.
    static constexpr uint32_t CAPACITY = 160;

    static TypeId GetTypeId();
    FrameHeadBytes() = default;
    /// @brief Hold a copy of @p size (<= CAPACITY) bytes at @p bytes.
    FrameHeadBytes(const uint8_t* bytes, uint32_t size);

    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

  private:
    uint8_t m_bytes[CAPACITY]{};
    uint32_t m_size{0};
};

/// InfiniBand RC opcodes used by the transport (IBTA vol. 1, table 38).
enum BthOpcode : uint8_t
{
    BTH_RC_SEND_FIRST = 0x00,
    BTH_RC_SEND_MIDDLE = 0x01,
    BTH_RC_SEND_LAST = 0x02,
    BTH_RC_SEND_ONLY = 0x04,
    BTH_RC_ACK = 0x11,
    BTH_CNP = 0x81, ///< RoCEv2 congestion notification packet
};

/// Bit of BTH byte 4 (one of the six reserved bits after FECN and BECN) that says an INT shim
/// follows the transport headers (int-telemetry.h).
constexpr uint8_t INT_BTH_FLAG = 0x20;

/**
 * @brief InfiniBand Base Transport Header (12 bytes), as carried by RoCEv2 after UDP.
 */
class BthHeader : public Header
{
  public:
    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    uint8_t m_opcode{BTH_RC_SEND_ONLY};
    bool m_solicited{false};
    bool m_migReq{true};
    uint8_t m_padCount{0};
    uint16_t m_pkey{0xffff};
    bool m_fecn{false};   ///< forward explicit congestion notification bit
    bool m_becn{false};   ///< backward explicit congestion notification bit
    uint32_t m_destQp{0}; ///< 24 bits
    bool m_ackReq{false};
    uint32_t m_psn{0}; ///< 24 bits
};

/// AETH syndromes (IBTA vol. 1, 9.7.5.1): ACK with "no credit limit", NAK PSN sequence error.
enum AethSyndrome : uint8_t
{
    AETH_ACK = 0x1f,
    AETH_NAK_PSN_SEQUENCE = 0x60,
};

/**
 * @brief ACK Extended Transport Header (4 bytes): syndrome and message sequence number.
 */
class AethHeader : public Header
{
  public:
    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    uint8_t m_syndrome{AETH_ACK};
    uint32_t m_msn{0}; ///< 24 bits
};

/**
 * @brief The RoCE part of a frame a NIC needs on receive: BTH fields (and AETH if present).
 */
struct RoceInfo
{
    uint8_t opcode{0};
    bool fecn{false};
    bool becn{false};
    bool ackReq{false};
    uint32_t destQp{0};
    uint32_t psn{0};
    uint8_t syndrome{0};
    uint32_t msn{0};
    bool telemetry{false};    ///< the BTH telemetry flag: an INT shim follows (int-telemetry.h)
    uint32_t payloadBytes{0}; ///< bytes after the transport headers, ICRC excluded (and
                              ///< telemetry included)
    bool valid{false};        ///< true if the frame was RoCEv2 and long enough
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_FRAME_H
