/*
 * moe-fabric: in-band network telemetry (INT) for HPCC, as real bytes of RoCEv2 frames.
 */
#ifndef MOE_INT_TELEMETRY_H
#define MOE_INT_TELEMETRY_H

#include "fabric-frame.h"

#include "ns3/packet.h"

#include <array>
#include <cstdint>

namespace ns3
{
namespace moe
{

/**
 * @name INT layout (doc/moe-fabric.rst, "HPCC")
 *
 * A frame that carries telemetry has bit 0x20 of BTH byte 4 set (one of the six reserved bits
 * after FECN and BECN) and an INT shim right after the BTH (after the AETH on an ACK):
 *
 *   byte 0: version (high nibble, 1) | flags (low nibble; 0x1 = echo: a receiver's copy in an
 *           ACK, which switches leave alone)
 *   byte 1: hop count (records that follow)
 *   byte 2: maximum hop count the sender allows (records a switch may append)
 *   byte 3: hops that found the record list full (saturating at 255)
 *
 * followed by one 8-byte big-endian record per switch, in path order, appended by each switch's
 * egress port at dequeue (so the frame grows by 8 bytes per hop):
 *
 *   bits 63..60  link-rate code of the egress port (IntRateCode)
 *   bits 59..36  egress timestamp, nanoseconds modulo 2^24
 *   bits 35..16  bytes the port has transmitted, in units of 128 bytes, modulo 2^20
 *   bits 15..0   bytes queued at the port (all priorities) after this dequeue, in units of
 *                128 bytes, saturating at 0xffff
 * @{
 */
constexpr uint8_t INT_VERSION = 1;        ///< high nibble of shim byte 0
constexpr uint8_t INT_FLAG_ECHO = 0x1;    ///< low nibble of shim byte 0
constexpr uint32_t INT_SHIM_BYTES = 4;    ///< version/flags, hops, max hops, overflow
constexpr uint32_t INT_HOP_BYTES = 8;     ///< one record per switch
constexpr uint32_t INT_MAX_HOPS = 5;      ///< records a frame can hold (HPCC's ns-3 code: 5)
constexpr uint32_t INT_BYTE_UNIT = 128;   ///< unit of the txBytes and qlen fields
constexpr uint32_t INT_TS_BITS = 24;      ///< timestamp width (ns)
constexpr uint32_t INT_TX_BITS = 20;      ///< txBytes width (units)
constexpr uint32_t INT_QLEN_MAX = 0xffff; ///< qlen saturation (units)
constexpr uint32_t INT_MAX_BYTES = INT_SHIM_BYTES + INT_MAX_HOPS * INT_HOP_BYTES; ///< 44
/// Offset of the shim in a data frame (Ethernet, IPv4 without options, UDP, BTH).
constexpr uint32_t INT_DATA_OFFSET =
    ETH_HEADER_BYTES + IPV4_HEADER_BYTES + UDP_HEADER_BYTES + BTH_BYTES;
/// @}

/// @brief The 4-bit code of @p bps in the link-rate table, 0 if the rate is not in it.
uint8_t IntRateCode(uint64_t bps);
/// @brief The rate of code @p code (0 for 0 or an unused code).
uint64_t IntRateFromCode(uint8_t code);

/// @brief One decoded hop record (fields as on the wire, i.e. wrapped and in units).
struct IntHop
{
    uint64_t rateBps{0};
    uint32_t tsNs{0};    ///< modulo 2^24
    uint32_t txUnits{0}; ///< modulo 2^20, units of INT_BYTE_UNIT
    uint32_t qlenUnits{0};

    /// @brief Queue length in bytes (resolution INT_BYTE_UNIT).
    uint64_t QlenBytes() const
    {
        return static_cast<uint64_t>(qlenUnits) * INT_BYTE_UNIT;
    }

    /// @brief Nanoseconds from @p older to this record (modulo 2^24).
    uint32_t NsSince(const IntHop& older) const
    {
        return (tsNs - older.tsNs) & ((1u << INT_TS_BITS) - 1);
    }

    /// @brief Bytes transmitted from @p older to this record (modulo 2^20 units).
    uint64_t BytesSince(const IntHop& older) const
    {
        return static_cast<uint64_t>((txUnits - older.txUnits) & ((1u << INT_TX_BITS) - 1)) *
               INT_BYTE_UNIT;
    }
};

/// @brief The shim and the hop records of one frame, decoded.
struct IntStack
{
    uint8_t flags{0};
    uint8_t hops{0};
    uint8_t maxHops{INT_MAX_HOPS};
    uint8_t overflow{0};
    std::array<IntHop, INT_MAX_HOPS> hop{};
};

/// @brief Encode one record.
uint64_t EncodeIntHop(uint64_t rateBps, int64_t nowPs, uint64_t txBytes, uint64_t queueBytes);
/// @brief Decode one record.
IntHop DecodeIntHop(uint64_t word);

/**
 * @brief Parse the shim and records at byte @p offset of @p packet into @p out; false if the
 * bytes there are not a version-1 shim (or the frame is too short).
 */
bool ReadIntStack(const Ptr<const Packet>& packet, uint32_t offset, IntStack& out);

/**
 * @brief Copy the raw shim and records at @p offset of @p packet into @p buf (at least
 * INT_MAX_BYTES); returns their length, 0 if there is no valid shim there.
 */
uint32_t CopyIntBytes(const Ptr<const Packet>& packet, uint32_t offset, uint8_t* buf);

/**
 * @brief Switch egress, at dequeue: if @p packet is a RoCEv2 data frame asking for telemetry
 * (BTH flag, a non-echo shim, room left), append this port's record after the ones already
 * there and fix the IPv4 total length and checksum and the UDP length; a full list counts an
 * overflow instead. Only the headers and the shim are rewritten: the bytes in front of the new
 * record are taken off and put back one record longer, the payload is not copied.
 * @return the bytes added (INT_HOP_BYTES or 0).
 */
uint32_t AppendIntHop(const Ptr<Packet>& packet,
                      uint64_t rateBps,
                      int64_t nowPs,
                      uint64_t txBytes,
                      uint64_t queueBytes);

} // namespace moe
} // namespace ns3

#endif // MOE_INT_TELEMETRY_H
