#include "int-telemetry.h"

#include "ns3/log.h"

#include <algorithm>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("IntTelemetry");

namespace
{
/// Link rates of codes 1..15 in Gb/s (code 0: not in the table). Ethernet speeds, NVLink-class
/// port speeds and the rates the bundled configurations use; a port whose rate is not here
/// cannot stamp telemetry (RdmaTransport refuses to install HPCC on such a fabric).
constexpr uint64_t RATE_TABLE_GBPS[16] =
    {0, 1, 10, 25, 40, 50, 100, 200, 400, 800, 1000, 1280, 1600, 3200, 3600, 6400};
constexpr uint64_t GBPS = 1000000000ull;
/// Bytes copied to find and rewrite the shim of a data frame: headers, shim, five records.
constexpr uint32_t DATA_HEAD_MAX = INT_DATA_OFFSET + INT_MAX_BYTES;

inline uint32_t
Read16(const uint8_t* p)
{
    return (static_cast<uint32_t>(p[0]) << 8) | p[1];
}

inline void
Write16(uint8_t* p, uint32_t v)
{
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}

inline bool
ValidShim(const uint8_t* shim)
{
    return (shim[0] >> 4) == INT_VERSION && shim[1] <= INT_MAX_HOPS;
}
} // namespace

uint8_t
IntRateCode(uint64_t bps)
{
    for (uint8_t c = 1; c < 16; ++c)
    {
        if (RATE_TABLE_GBPS[c] * GBPS == bps)
        {
            return c;
        }
    }
    return 0;
}

uint64_t
IntRateFromCode(uint8_t code)
{
    return code < 16 ? RATE_TABLE_GBPS[code] * GBPS : 0;
}

uint64_t
EncodeIntHop(uint64_t rateBps, int64_t nowPs, uint64_t txBytes, uint64_t queueBytes)
{
    const uint64_t code = IntRateCode(rateBps);
    const uint64_t ts = static_cast<uint64_t>(nowPs / 1000) & ((1ull << INT_TS_BITS) - 1);
    const uint64_t tx = (txBytes / INT_BYTE_UNIT) & ((1ull << INT_TX_BITS) - 1);
    const uint64_t q = std::min<uint64_t>(queueBytes / INT_BYTE_UNIT, INT_QLEN_MAX);
    return (code << 60) | (ts << 36) | (tx << 16) | q;
}

IntHop
DecodeIntHop(uint64_t word)
{
    IntHop h;
    h.rateBps = IntRateFromCode(static_cast<uint8_t>(word >> 60));
    h.tsNs = static_cast<uint32_t>((word >> 36) & ((1ull << INT_TS_BITS) - 1));
    h.txUnits = static_cast<uint32_t>((word >> 16) & ((1ull << INT_TX_BITS) - 1));
    h.qlenUnits = static_cast<uint32_t>(word & 0xffff);
    return h;
}

uint32_t
CopyIntBytes(const Ptr<const Packet>& packet, uint32_t offset, uint8_t* buf)
{
    uint8_t head[FrameHeadBytes::CAPACITY];
    const uint32_t size = packet->GetSize();
    if (size < offset + INT_SHIM_BYTES || offset + INT_MAX_BYTES > sizeof(head))
    {
        return 0;
    }
    const uint32_t have = std::min<uint32_t>(size, offset + INT_MAX_BYTES);
    packet->CopyData(head, have);
    const uint8_t* shim = head + offset;
    if (!ValidShim(shim))
    {
        return 0;
    }
    const uint32_t bytes = INT_SHIM_BYTES + shim[1] * INT_HOP_BYTES;
    if (offset + bytes > have)
    {
        return 0;
    }
    std::copy(shim, shim + bytes, buf);
    return bytes;
}

bool
ReadIntStack(const Ptr<const Packet>& packet, uint32_t offset, IntStack& out)
{
    uint8_t raw[INT_MAX_BYTES];
    if (CopyIntBytes(packet, offset, raw) == 0)
    {
        return false;
    }
    out.flags = raw[0] & 0x0f;
    out.hops = raw[1];
    out.maxHops = raw[2];
    out.overflow = raw[3];
    for (uint32_t i = 0; i < out.hops; ++i)
    {
        uint64_t w = 0;
        for (uint32_t k = 0; k < INT_HOP_BYTES; ++k)
        {
            w = (w << 8) | raw[INT_SHIM_BYTES + i * INT_HOP_BYTES + k];
        }
        out.hop[i] = DecodeIntHop(w);
    }
    return true;
}

uint32_t
AppendIntHop(const Ptr<Packet>& packet,
             uint64_t rateBps,
             int64_t nowPs,
             uint64_t txBytes,
             uint64_t queueBytes)
{
    uint8_t buf[DATA_HEAD_MAX + INT_HOP_BYTES];
    const uint32_t size = packet->GetSize();
    if (size < INT_DATA_OFFSET + INT_SHIM_BYTES)
    {
        return 0;
    }
    const uint32_t have = std::min(size, DATA_HEAD_MAX);
    packet->CopyData(buf, have);
    uint8_t* ip = buf + ETH_HEADER_BYTES;
    uint8_t* udp = ip + IPV4_HEADER_BYTES;
    uint8_t* bth = udp + UDP_HEADER_BYTES;
    uint8_t* shim = bth + BTH_BYTES;
    // RoCEv2 data (SEND opcodes) with the telemetry flag and a shim that is not an echo.
    if (Read16(buf + 12) != ETHERTYPE_IPV4 || ip[0] != 0x45 || ip[9] != 17 ||
        Read16(udp + 2) != ROCEV2_UDP_PORT || bth[0] > BTH_RC_SEND_ONLY ||
        (bth[4] & INT_BTH_FLAG) == 0 || !ValidShim(shim) || (shim[0] & INT_FLAG_ECHO) != 0)
    {
        return 0;
    }
    const uint32_t hops = shim[1];
    uint32_t head = INT_DATA_OFFSET + INT_SHIM_BYTES + hops * INT_HOP_BYTES;
    if (head > have)
    {
        return 0;
    }
    uint32_t added = 0;
    if (hops >= std::min<uint32_t>(shim[2], INT_MAX_HOPS))
    {
        // Full: count this hop as missing (the sender sees overflow > 0).
        head = INT_DATA_OFFSET + INT_SHIM_BYTES;
        shim[3] = static_cast<uint8_t>(std::min<uint32_t>(shim[3] + 1u, 255u));
    }
    else
    {
        const uint64_t w = EncodeIntHop(rateBps, nowPs, txBytes, queueBytes);
        for (uint32_t k = 0; k < INT_HOP_BYTES; ++k)
        {
            buf[head + k] = static_cast<uint8_t>(w >> (8 * (INT_HOP_BYTES - 1 - k)));
        }
        shim[1] = static_cast<uint8_t>(hops + 1);
        added = INT_HOP_BYTES;
        Write16(ip + 2, Read16(ip + 2) + added);
        Write16(udp + 4, Read16(udp + 4) + added);
        WriteIpv4Checksum(ip, IPV4_HEADER_BYTES);
    }
    packet->RemoveAtStart(head);
    packet->AddHeader(FrameHeadBytes(buf, head + added));
    return added;
}

} // namespace moe
} // namespace ns3
