/*
 * Frames on the wire: PCAP output is a real Ethernet capture of RoCEv2 frames.
 */
#include "test-util.h"

#include "ns3/fabric-frame.h"
#include "ns3/fabric-helper.h"
#include "ns3/fat-tree-helper.h"
#include "ns3/rdma-transport.h"
#include "ns3/simulator.h"

#include <cstring>
#include <gtest/gtest.h>

using namespace ns3;
using namespace ns3::moe;
using namespace moe_test;

namespace
{
uint32_t
Le32(const std::string& s, size_t off)
{
    return static_cast<uint8_t>(s[off]) | (static_cast<uint8_t>(s[off + 1]) << 8) |
           (static_cast<uint8_t>(s[off + 2]) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(s[off + 3])) << 24);
}

uint32_t
Be16(const std::string& s, size_t off)
{
    return (static_cast<uint8_t>(s[off]) << 8) | static_cast<uint8_t>(s[off + 1]);
}

/// One's-complement sum of the IPv4 header: 0xffff when the checksum is right.
uint32_t
Ipv4ChecksumFold(const std::string& s, size_t off)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2)
    {
        sum += Be16(s, off + i);
    }
    while (sum >> 16)
    {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/// Run a 3-message exchange with PCAP on GPU 0's NIC; returns the capture file's bytes.
std::string
CaptureGpu0(const std::string& dir)
{
    FatTreeHelper ft;
    ft.SetK(4);
    FabricHelper fabric;
    Ptr<FabricTopology> topo = fabric.Install(ft.Build());
    fabric.EnablePcap(dir + "/cap", topo->GetPort(topo->GetSpec().hostNode[0], 0), false, true);
    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->SetClassPriority(3, 3);
    rdma->Install(topo);
    rdma->Send(0, 5, 3, 5000, 0); // two data packets, priority 3
    rdma->Send(0, 1, 0, 0, 0);    // a zero-byte message
    Simulator::Run();
    Simulator::Destroy();
    return ReadFile(dir + "/cap");
}
} // namespace

TEST(Pcap, CaptureHoldsRealRoceFrames)
{
    const std::string dir = MakeTempDir("pcap");
    const std::string cap = CaptureGpu0(dir);
    ASSERT_GE(cap.size(), 24u);
    // Nanosecond-resolution pcap, Ethernet link type.
    EXPECT_EQ(Le32(cap, 0), 0xa1b23c4du);
    EXPECT_EQ(Le32(cap, 20), 1u);
    size_t off = 24;
    int data = 0;
    int acks = 0;
    int zeroByte = 0;
    while (off + 16 <= cap.size())
    {
        const uint32_t len = Le32(cap, off + 8);
        const size_t f = off + 16;
        ASSERT_LE(f + len, cap.size());
        ASSERT_GE(len, ETH_MIN_FRAME_BYTES - 2u); // 58-byte frames are padded on the wire only
        EXPECT_EQ(Be16(cap, f + 12), ETHERTYPE_IPV4);
        const size_t ip = f + ETH_HEADER_BYTES;
        EXPECT_EQ(static_cast<uint8_t>(cap[ip]), 0x45);
        EXPECT_EQ(Ipv4ChecksumFold(cap, ip), 0xffffu) << "bad IPv4 checksum";
        EXPECT_EQ(Be16(cap, ip + 2), len - ETH_HEADER_BYTES); // IPv4 total length
        EXPECT_EQ(static_cast<uint8_t>(cap[ip + 9]), 17);     // UDP
        const size_t udp = ip + IPV4_HEADER_BYTES;
        EXPECT_EQ(Be16(cap, udp + 2), ROCEV2_UDP_PORT);
        EXPECT_GE(Be16(cap, udp), 0xC000u); // entropy source port
        EXPECT_EQ(Be16(cap, udp + 4), len - ETH_HEADER_BYTES - IPV4_HEADER_BYTES);
        const uint8_t tos = static_cast<uint8_t>(cap[ip + 1]);
        const uint8_t opcode = static_cast<uint8_t>(cap[udp + UDP_HEADER_BYTES]);
        if (opcode == BTH_RC_ACK)
        {
            ++acks;
            EXPECT_EQ(tos & 0x3, ECN_NOT_ECT);
            EXPECT_EQ(tos >> 5, 6); // control priority 6 -> DSCP CS6
            EXPECT_EQ(len, ROCE_DATA_HEADER_BYTES + AETH_BYTES);
        }
        else
        {
            ++data;
            EXPECT_EQ(tos & 0x3, ECN_ECT0);
            const uint32_t dst = Be16(cap, ip + 18) << 8 | static_cast<uint8_t>(cap[ip + 19]);
            if (len == ROCE_DATA_HEADER_BYTES)
            {
                ++zeroByte;
                EXPECT_EQ(opcode, BTH_RC_SEND_ONLY);
            }
            else
            {
                EXPECT_EQ(tos >> 5, 3) << "class 3 -> priority 3 -> DSCP CS3";
                (void)dst;
            }
        }
        off = f + len;
    }
    EXPECT_EQ(off, cap.size());
    // GPU 0's NIC sent 3 data frames and received their 3 ACKs (one per packet).
    EXPECT_EQ(data, 3);
    EXPECT_EQ(acks, 3);
    EXPECT_EQ(zeroByte, 1);
}

TEST(Pcap, WiresharkDecodesRoceAndEcnWhenAvailable)
{
    if (RunCommand("command -v tshark").exitCode != 0)
    {
        GTEST_SKIP() << "tshark is not installed";
    }
    const std::string dir = MakeTempDir("pcap");
    CaptureGpu0(dir);
    // Wireshark's RPC-over-RDMA heuristic parses SEND payloads as NFS RPC and calls an empty SEND
    // malformed; our payloads are not RPC, so that dissector is switched off.
    CommandResult r = RunCommand("tshark -r " + dir + "/cap -V --disable-protocol rpcordma");
    ASSERT_EQ(r.exitCode, 0) << r.output;
    EXPECT_NE(r.output.find("InfiniBand"), std::string::npos);
    EXPECT_NE(r.output.find("SEND First"), std::string::npos);
    EXPECT_NE(r.output.find("Acknowledge"), std::string::npos);
    EXPECT_NE(r.output.find("ECT(0)"), std::string::npos);
    EXPECT_NE(r.output.find("Dst Port: 4791"), std::string::npos);
    EXPECT_EQ(r.output.find("Malformed"), std::string::npos);
}
