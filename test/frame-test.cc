/*
 * Frame layout: the one-pass RoCE header writes exactly what ns-3's own headers would, and the
 * in-place parser reads it back.
 */
#include "ns3/ethernet-header.h"
#include "ns3/fabric-frame.h"
#include "ns3/ipv4-header.h"
#include "ns3/roce-frame-header.h"
#include "ns3/udp-header.h"

#include <gtest/gtest.h>
#include <vector>

using namespace ns3;
using namespace ns3::moe;

namespace
{
std::vector<uint8_t>
Bytes(const Ptr<Packet>& p)
{
    std::vector<uint8_t> b(p->GetSize());
    p->CopyData(b.data(), b.size());
    return b;
}

/// The same frame built from the individual ns-3 headers.
Ptr<Packet>
BuildWithNs3Headers(uint32_t payload, bool ack)
{
    Ptr<Packet> p = Create<Packet>(payload + ICRC_BYTES);
    if (ack)
    {
        AethHeader aeth;
        aeth.m_syndrome = AETH_NAK_PSN_SEQUENCE;
        aeth.m_msn = 0x0a0b0c;
        p->AddHeader(aeth);
    }
    BthHeader bth;
    bth.m_opcode = ack ? BTH_RC_ACK : BTH_RC_SEND_LAST;
    bth.m_destQp = 0x123457;
    bth.m_psn = 0xfedcba;
    bth.m_ackReq = !ack;
    bth.m_fecn = true;
    p->AddHeader(bth);
    UdpHeader udp;
    udp.SetSourcePort(0xC123);
    udp.SetDestinationPort(ROCEV2_UDP_PORT);
    p->AddHeader(udp);
    Ipv4Header ip;
    ip.SetSource(GpuIpv4Address(3));
    ip.SetDestination(GpuIpv4Address(700));
    ip.SetProtocol(17);
    ip.SetPayloadSize(p->GetSize());
    ip.SetTtl(64);
    ip.SetTos(static_cast<uint8_t>((DscpForPriority(3) << 2) | ECN_ECT0));
    ip.SetDontFragment();
    ip.SetIdentification(0);
    ip.EnableChecksum();
    p->AddHeader(ip);
    EthernetHeader eth;
    eth.SetSource(GpuMacAddress(3, 0));
    eth.SetDestination(GpuMacAddress(700, 0));
    eth.SetLengthType(ETHERTYPE_IPV4);
    p->AddHeader(eth);
    return p;
}

Ptr<Packet>
BuildWithRoceFrameHeader(uint32_t payload, bool ack)
{
    RoceFrameHeader h;
    h.SetMacs(GpuMacAddress(3, 0), GpuMacAddress(700, 0));
    h.m_srcIp = GpuIpv4Address(3).Get();
    h.m_dstIp = GpuIpv4Address(700).Get();
    h.m_tos = static_cast<uint8_t>((DscpForPriority(3) << 2) | ECN_ECT0);
    h.m_srcPort = 0xC123;
    h.m_opcode = ack ? BTH_RC_ACK : BTH_RC_SEND_LAST;
    h.m_destQp = 0x123457;
    h.m_psn = 0xfedcba;
    h.m_ackReq = !ack;
    h.m_fecn = true;
    h.m_hasAeth = ack;
    h.m_syndrome = AETH_NAK_PSN_SEQUENCE;
    h.m_msn = 0x0a0b0c;
    Ptr<Packet> p = Create<Packet>(payload + ICRC_BYTES);
    p->AddHeader(h);
    return p;
}
} // namespace

TEST(Frame, OnePassHeaderWritesTheSameBytesAsNs3Headers)
{
    for (uint32_t payload : {0u, 1u, 1000u, 4096u})
    {
        for (bool ack : {false, true})
        {
            if (ack && payload != 0)
            {
                continue;
            }
            EXPECT_EQ(Bytes(BuildWithRoceFrameHeader(payload, ack)),
                      Bytes(BuildWithNs3Headers(payload, ack)))
                << "payload " << payload << (ack ? " ack" : "");
        }
    }
}

TEST(Frame, ParseFrameReadsTheFieldsInPlace)
{
    Ptr<Packet> p = BuildWithRoceFrameHeader(1000, false);
    const uint32_t sizeBefore = p->GetSize();
    FrameInfo f;
    RoceInfo r;
    ASSERT_TRUE(ParseFrame(p, f, &r));
    EXPECT_EQ(p->GetSize(), sizeBefore); // nothing removed
    EXPECT_EQ(f.etherType, ETHERTYPE_IPV4);
    EXPECT_EQ(f.priority, 3);
    EXPECT_EQ(f.ecn, ECN_ECT0);
    EXPECT_EQ(f.protocol, 17);
    EXPECT_EQ(f.dstGpu, 700u);
    EXPECT_EQ(GpuFromIpv4(f.srcIp), 3u);
    EXPECT_EQ(f.srcPort, 0xC123);
    EXPECT_EQ(f.dstPort, ROCEV2_UDP_PORT);
    ASSERT_TRUE(r.valid);
    EXPECT_EQ(r.opcode, BTH_RC_SEND_LAST);
    EXPECT_EQ(r.destQp, 0x123457u);
    EXPECT_EQ(r.psn, 0xfedcbau);
    EXPECT_TRUE(r.ackReq);
    EXPECT_TRUE(r.fecn);
    EXPECT_EQ(r.payloadBytes, 1000u);

    Ptr<Packet> ack = BuildWithRoceFrameHeader(0, true);
    ASSERT_TRUE(ParseFrame(ack, f, &r));
    ASSERT_TRUE(r.valid);
    EXPECT_EQ(r.opcode, BTH_RC_ACK);
    EXPECT_EQ(r.syndrome, AETH_NAK_PSN_SEQUENCE);
    EXPECT_EQ(r.msn, 0x0a0b0cu);
    EXPECT_EQ(r.payloadBytes, 0u);

    // The ns-3 headers read the frame back too.
    EthernetHeader eth;
    Ipv4Header ip;
    UdpHeader udp;
    BthHeader bth;
    p->RemoveHeader(eth);
    p->RemoveHeader(ip);
    p->RemoveHeader(udp);
    p->RemoveHeader(bth);
    EXPECT_EQ(ip.GetDestination(), GpuIpv4Address(700));
    EXPECT_EQ(ip.GetEcn(), Ipv4Header::ECN_ECT0);
    EXPECT_EQ(udp.GetDestinationPort(), ROCEV2_UDP_PORT);
    EXPECT_EQ(bth.m_psn, 0xfedcbau);
    EXPECT_EQ(p->GetSize(), 1000u + ICRC_BYTES);
}

TEST(Frame, WireBytesAndSerializationAreExact)
{
    // 4096-byte payload: 4154 stored + FCS 4 + preamble 8 + IFG 12 = 4178 wire bytes.
    EXPECT_EQ(WireBytes(4096 + ROCE_DATA_HEADER_BYTES), 4178u);
    // Short frames are padded to 60 stored bytes (64 with FCS).
    EXPECT_EQ(WireBytes(ROCE_DATA_HEADER_BYTES), 84u);
    EXPECT_EQ(SerializationPs(4178, 400000000000ull), 83560);
    EXPECT_EQ(SerializationPs(4178, 100000000000ull), 334240);
    // Rounded up: 1 byte at 3 b/s is 8/3 s.
    EXPECT_EQ(SerializationPs(1, 3), 2666666666667);
    EXPECT_EQ(RoceMessageWireBytes(0, 4096), 84u);
    EXPECT_EQ(RoceMessageWireBytes(4097, 4096), 4178u + 24u + 60u); // 1 byte + 58 hdr -> 59 -> 60
    EXPECT_EQ(GpuFromIpv4(GpuIpv4Address(0).Get()), 0u);
    EXPECT_EQ(GpuFromIpv4(0x0b000001), UINT32_MAX);
}
