/*
 * moe-fabric-first-steps: the module from an ns-3 script, without the JSON scenario layer.
 *
 * Builds a 2:1 oversubscribed leaf-spine with the topology and fabric helpers, puts the RDMA
 * transport on every GPU, lets four GPUs of leaf 0 send one message each to four GPUs of leaf 1,
 * and watches the fabric through ns-3 trace sources connected by Config paths.
 *
 *   ./build/bin/moe-fabric-first-steps [--bytes=1048576] [--spray=0] [--queueLimit=1048576]
 *                                      [--pcap=0]
 */

#include "ns3/command-line.h"
#include "ns3/config.h"
#include "ns3/moe-fabric-module.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <iostream>

using namespace ns3;
using namespace ns3::moe;

NS_LOG_COMPONENT_DEFINE("MoeFabricFirstSteps");

namespace
{
uint64_t g_drops = 0;
uint64_t g_uplinkFrames = 0;

void
OnDrop(Ptr<const Packet> /*packet*/, DropReason /*reason*/)
{
    ++g_drops;
}

void
OnForward(Ptr<const Packet> /*packet*/, uint32_t /*inPort*/, uint32_t outPort)
{
    // Leaf ports 0..7 face hosts; 8..11 are the uplinks.
    g_uplinkFrames += outPort >= 8 ? 1 : 0;
}

void
OnDelivered(const MessageRecord& r)
{
    std::cout << "  gpu" << r.src << " -> gpu" << r.dst << ": " << r.bytes << " bytes in "
              << (r.delivered - r.start).As(Time::US) << " (first byte after "
              << (r.firstByte - r.start).As(Time::US) << ")" << std::endl;
}
} // namespace

int
main(int argc, char* argv[])
{
    uint64_t bytes = 1 << 20;
    bool spray = false;
    uint64_t queueLimit = 1 << 20;
    bool pcap = false;
    CommandLine cmd(__FILE__);
    cmd.AddValue("bytes", "bytes per message", bytes);
    cmd.AddValue("spray", "spray packets instead of per-flow ECMP", spray);
    cmd.AddValue("queueLimit", "bytes per switch egress queue (tail drop)", queueLimit);
    cmd.AddValue("pcap", "write PCAP files of the GPUs' NICs (first-steps-*.pcap)", pcap);
    cmd.Parse(argc, argv);

    // 2 leaves x 8 GPUs, 2 spines, 4 uplinks per leaf: 8 x 100G down, 4 x 100G up = 2:1.
    LeafSpineHelper leafSpine;
    leafSpine.SetHostsPerLeaf(8);
    leafSpine.SetLeaves(2);
    leafSpine.SetSpines(2);
    leafSpine.SetUplinksPerLeaf(4);
    std::cout << "leaf-spine, oversubscription " << leafSpine.GetOversubscription() << ":1"
              << std::endl;

    FabricHelper fabric; // also switches the simulator to picosecond resolution
    fabric.SetSwitchAttribute("LoadBalancing", StringValue(spray ? "spray" : "ecmp"));
    fabric.SetSwitchAdmissionAttribute("QueueLimit", UintegerValue(queueLimit));
    Ptr<FabricTopology> topo = fabric.Install(leafSpine.Build());
    if (pcap)
    {
        fabric.EnablePcap("first-steps", topo->GetHostNodes(), false);
    }

    Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
    rdma->Install(topo);
    rdma->SetDeliveredCallback(MakeCallback(&OnDelivered));

    // Trace sources through Config paths, as in any ns-3 script.
    Config::ConnectWithoutContext("/NodeList/*/DeviceList/*/$ns3::moe::FabricNetDevice/Drop",
                                  MakeCallback(&OnDrop));
    Config::ConnectWithoutContext("/NodeList/*/$ns3::moe::FabricSwitch/Forward",
                                  MakeCallback(&OnForward));

    std::cout << "messages:" << std::endl;
    for (uint32_t i = 0; i < 4; ++i)
    {
        rdma->Send(i, 8 + i, 0, bytes, i);
    }
    Simulator::Run();

    std::cout << "frames sent up by the leaves: " << g_uplinkFrames << ", drops: " << g_drops
              << ", retransmissions: " << rdma->GetCounters().retransmittedPackets << std::endl;
    Simulator::Destroy();
    return 0;
}
