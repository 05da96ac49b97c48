/*
 * plain-ns3-all-to-all: the plain-ns-3 comparator for moe-fabric's benchmarks.
 *
 * What it is for
 * --------------
 * utils/benchmark.py runs this program and moe-fabric-sim on the same scenario, interleaved, and
 * compares simulation speed (wall seconds per million packet-hops, events per packet-hop, peak
 * RSS). This program therefore uses ONLY stock ns-3 modules -- no moe-fabric code -- and builds
 * the scenario the way a plain ns-3 user would:
 *
 *  - a k-ary 3-tier fat-tree of PointToPoint links and IPv4 routers, wired exactly like
 *    moe-fabric's FatTreeHelper: k pods; pod p holds edge switches p*(k/2) .. p*(k/2)+k/2-1 and
 *    aggregation switches likewise; host h hangs off edge switch h/(k/2); every edge switch
 *    connects to every aggregation switch of its pod; aggregation switch a (index within its pod)
 *    of every pod connects to core switches a*(k/2) .. a*(k/2)+k/2-1; hosts = k^3/4;
 *  - global routing (Ipv4GlobalRoutingHelper) with per-packet random ECMP
 *    (ns3::Ipv4GlobalRouting::RandomEcmpRouting = true), the only ECMP stock ns-3 offers;
 *  - default queueing: in ns-3.37 Ipv4AddressHelper::Assign() installs
 *    TrafficControlHelper::Default() on every device that has a NetDeviceQueueInterface, which for
 *    a single-queue PointToPointNetDevice is one FqCoDelQueueDisc (10240-packet limit, CoDel
 *    target 5 ms / interval 100 ms, no ECN); below it each device keeps PointToPointHelper's
 *    default DropTailQueue<Packet> of 100 packets. Nothing is changed here. (FqCoDel creates a
 *    CoDel child queue disc, with its own queue and trace connections, for every flow bucket that
 *    becomes active on a port: memory grows with ports x flows, which is why peak RSS reaches
 *    gigabytes at k=8 even with small messages.)
 *  - a one-round all-to-all: every host sends bytesPerPair bytes to every other host with a TCP
 *    BulkSendApplication (MaxBytes) into one PacketSink per host (one port). ns-3.37's default
 *    TCP (TcpCubic, SACK, timestamps, window scaling) is kept.
 *
 * Fairness settings (see DESIGN.md, "Performance principles"): at 100 Gb/s stock TCP timers
 * dominate (200 ms delayed ACK, 1 s minimum RTO), so the minimum RTO is 1 ms and the delayed-ACK
 * timeout 100 us. The segment size follows the IP MTU so that packet counts are comparable with
 * moe-fabric's 4096-byte RoCE payloads, and socket buffers are large enough that windows are not
 * the bottleneck.
 *
 * The simulation stops as soon as the last byte has been received (or at a generous safety stop
 * time). Measured and printed as one JSON object: simulated completion time, wall time of
 * Simulator::Run(), events executed, packet-hops (every frame that begins transmission on any
 * link, ACKs included), their ratios, and the peak resident set size.
 *
 * Event scheduler: --scheduler picks the same choices as moe-fabric-sim's simulation.scheduler,
 * so that a benchmark can run both programs on the same scheduler. "moe-heap" is moe-fabric's
 * FabricHeapScheduler, which depends on ns-3's core module only: its source file is compiled into
 * this program (see examples/CMakeLists.txt) rather than linking the moe-fabric library.
 *
 * Usage:
 *   plain-ns3-all-to-all [--k=4] [--bytesPerPair=1048576] [--rate=100Gbps] [--delay=1us]
 *                        [--mtu=4200] [--maxSimTime=10s] [--scheduler=map] [--out=result.json]
 */

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/resource.h>
#include <vector>

using namespace ns3;

NS_LOG_COMPONENT_DEFINE("PlainNs3AllToAll");

namespace
{

/// Largest IPv4 header (20 bytes, no options) plus largest TCP header (60 bytes with options).
const uint32_t MAX_IP_TCP_HEADER = 80;
/// Segment sizes are rounded down to a multiple of this (4200-byte MTU -> 4096-byte segments).
const uint32_t SEGMENT_ROUNDING = 64;
/// Port of the one PacketSink on every host.
const uint16_t SINK_PORT = 9;

uint64_t g_bytesReceived = 0; //!< payload bytes delivered to all PacketSinks
uint64_t g_bytesExpected = 0; //!< hosts * (hosts - 1) * bytesPerPair
uint64_t g_packetHops = 0;    //!< frames that began transmission on any link
Time g_lastRx;                //!< when the last payload byte arrived

/// PacketSink "Rx" sink (connected without context): stop once every byte has arrived.
void
OnSinkRx(Ptr<const Packet> packet, const Address& /* from */)
{
    g_bytesReceived += packet->GetSize();
    g_lastRx = Simulator::Now();
    if (g_bytesReceived >= g_bytesExpected)
    {
        Simulator::Stop();
    }
}

/// PointToPointNetDevice "PhyTxBegin" sink (connected without context): one packet-hop.
void
OnPhyTxBegin(Ptr<const Packet> /* packet */)
{
    ++g_packetHops;
}

/// Peak resident set size of this process in MB of 10^6 bytes (ru_maxrss is in KiB on Linux).
double
PeakRssMb()
{
    struct rusage usage
    {
    };

    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e6;
}

} // namespace

int
main(int argc, char* argv[])
{
    uint32_t k = 4;
    uint64_t bytesPerPair = 1048576;
    std::string rate = "100Gbps";
    std::string delay = "1us";
    uint32_t mtu = 4200;
    Time maxSimTime = Seconds(10);
    std::string scheduler = "map";
    std::string out;

    CommandLine cmd(__FILE__);
    cmd.Usage("Plain ns-3 comparator for moe-fabric benchmarks: a one-round TCP all-to-all on a "
              "k-ary fat-tree of point-to-point links and IPv4 routers (global routing, ECMP).");
    cmd.AddValue("k", "Fat-tree arity (even, >= 2); hosts = k^3/4", k);
    cmd.AddValue("bytesPerPair", "Bytes every host sends to every other host", bytesPerPair);
    cmd.AddValue("rate", "Data rate of every link", rate);
    cmd.AddValue("delay", "Propagation delay of every link", delay);
    cmd.AddValue("mtu", "IP MTU of the point-to-point devices (bytes)", mtu);
    cmd.AddValue("maxSimTime", "Safety stop: simulated time after which to give up", maxSimTime);
    cmd.AddValue("scheduler",
                 "Event scheduler: map, heap, calendar, list or moe-heap (as moe-fabric-sim)",
                 scheduler);
    cmd.AddValue("out", "Write the JSON result to this file (default: stdout)", out);
    cmd.Parse(argc, argv);

    static const std::map<std::string, std::string> schedulers{
        {"map", "ns3::MapScheduler"},
        {"heap", "ns3::HeapScheduler"},
        {"calendar", "ns3::CalendarScheduler"},
        {"list", "ns3::ListScheduler"},
        {"moe-heap", "ns3::moe::FabricHeapScheduler"}};
    const auto schedulerType = schedulers.find(scheduler);
    if (schedulerType == schedulers.end())
    {
        std::cerr << "plain-ns3-all-to-all: --scheduler must be map, heap, calendar, list or "
                     "moe-heap (got "
                  << scheduler << ")\n";
        return 2;
    }
    ObjectFactory schedulerFactory;
    schedulerFactory.SetTypeId(schedulerType->second);
    Simulator::SetScheduler(schedulerFactory);

    if (k < 2 || k % 2 != 0)
    {
        std::cerr << "plain-ns3-all-to-all: --k must be even and >= 2 (got " << k << ")\n";
        return 2;
    }
    if (mtu < MAX_IP_TCP_HEADER + SEGMENT_ROUNDING || mtu > 65535)
    {
        std::cerr << "plain-ns3-all-to-all: --mtu must be in ["
                  << MAX_IP_TCP_HEADER + SEGMENT_ROUNDING << ", 65535] (got " << mtu << ")\n";
        return 2;
    }
    if (bytesPerPair == 0)
    {
        std::cerr << "plain-ns3-all-to-all: --bytesPerPair must be > 0\n";
        return 2;
    }

    // Open the output first: a typo in --out should not cost a long simulation.
    std::ofstream outFile;
    if (!out.empty())
    {
        outFile.open(out);
        if (!outFile)
        {
            std::cerr << "plain-ns3-all-to-all: cannot write " << out << '\n';
            return 1;
        }
    }

    const uint32_t half = k / 2;
    const uint32_t nHosts = k * k * k / 4;
    const uint32_t nEdge = k * half; // also the number of aggregation switches
    const uint32_t nCore = half * half;

    // Segment size: the largest multiple of 64 bytes that fits in the MTU after the largest
    // IPv4 + TCP header (80 bytes). The default MTU of 4200 gives 4096, i.e. mtu - 104, so packet
    // counts match moe-fabric's 4096-byte RoCE payloads; a 9000-byte MTU gives 8896 (also
    // mtu - 104). Data segments never exceed the MTU, whatever TCP options they carry.
    const uint32_t segmentSize = (mtu - MAX_IP_TCP_HEADER) / SEGMENT_ROUNDING * SEGMENT_ROUNDING;
    // Socket buffers of 4 MiB: far above the bandwidth-delay product of the fabric (100 Gb/s x
    // ~20 us = 250 KB) and above the default message (1 MiB), so a whole message fits the send
    // buffer and the receive window never limits a flow; congestion control alone decides.
    const uint32_t socketBuffer = 4 * 1024 * 1024;
    // BulkSend writes in chunks of 16 segments: fewer application-level packets waiting in send
    // buffers (memory) with no effect on what goes on the wire.
    const uint32_t sendSize = 16 * segmentSize;

    Config::SetDefault("ns3::Ipv4GlobalRouting::RandomEcmpRouting", BooleanValue(true));
    Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(MilliSeconds(1)));
    Config::SetDefault("ns3::TcpSocket::DelAckTimeout", TimeValue(MicroSeconds(100)));
    Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(segmentSize));
    Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(socketBuffer));
    Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(socketBuffer));

    NodeContainer hosts;
    NodeContainer edges;
    NodeContainer aggs;
    NodeContainer cores;
    hosts.Create(nHosts);
    edges.Create(nEdge);
    aggs.Create(nEdge);
    cores.Create(nCore);

    InternetStackHelper internet;
    internet.Install(hosts);
    internet.Install(edges);
    internet.Install(aggs);
    internet.Install(cores);

    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue(rate));
    p2p.SetDeviceAttribute("Mtu", UintegerValue(mtu));
    p2p.SetChannelAttribute("Delay", StringValue(delay));

    // One /30 per link; 10.0.0.0/8 holds 2^22 links, far more than any k that fits in memory.
    Ipv4AddressHelper address("10.0.0.0", "255.255.255.252");
    NetDeviceContainer allDevices;
    std::vector<Ipv4Address> hostAddress(nHosts);

    auto connect = [&](Ptr<Node> a, Ptr<Node> b) {
        NetDeviceContainer devices = p2p.Install(a, b);
        allDevices.Add(devices);
        Ipv4InterfaceContainer interfaces = address.Assign(devices);
        address.NewNetwork();
        return interfaces;
    };

    for (uint32_t h = 0; h < nHosts; ++h)
    {
        hostAddress[h] = connect(hosts.Get(h), edges.Get(h / half)).GetAddress(0);
    }
    for (uint32_t pod = 0; pod < k; ++pod)
    {
        for (uint32_t e = 0; e < half; ++e)
        {
            for (uint32_t a = 0; a < half; ++a)
            {
                connect(edges.Get(pod * half + e), aggs.Get(pod * half + a));
            }
        }
    }
    for (uint32_t pod = 0; pod < k; ++pod)
    {
        for (uint32_t a = 0; a < half; ++a)
        {
            for (uint32_t c = 0; c < half; ++c)
            {
                connect(aggs.Get(pod * half + a), cores.Get(a * half + c));
            }
        }
    }

    Ipv4GlobalRoutingHelper::PopulateRoutingTables();

    for (uint32_t i = 0; i < allDevices.GetN(); ++i)
    {
        allDevices.Get(i)->TraceConnectWithoutContext("PhyTxBegin", MakeCallback(&OnPhyTxBegin));
    }

    PacketSinkHelper sinkHelper("ns3::TcpSocketFactory",
                                InetSocketAddress(Ipv4Address::GetAny(), SINK_PORT));
    ApplicationContainer sinks = sinkHelper.Install(hosts);
    for (uint32_t h = 0; h < nHosts; ++h)
    {
        sinks.Get(h)->TraceConnectWithoutContext("Rx", MakeCallback(&OnSinkRx));
    }
    sinks.Start(Seconds(0));

    ApplicationContainer senders;
    BulkSendHelper bulk("ns3::TcpSocketFactory", Address());
    bulk.SetAttribute("MaxBytes", UintegerValue(bytesPerPair));
    bulk.SetAttribute("SendSize", UintegerValue(sendSize));
    for (uint32_t src = 0; src < nHosts; ++src)
    {
        for (uint32_t dst = 0; dst < nHosts; ++dst)
        {
            if (src == dst)
            {
                continue;
            }
            bulk.SetAttribute("Remote",
                              AddressValue(InetSocketAddress(hostAddress[dst], SINK_PORT)));
            senders.Add(bulk.Install(hosts.Get(src)));
        }
    }
    senders.Start(Seconds(0));

    g_bytesExpected = static_cast<uint64_t>(nHosts) * (nHosts - 1) * bytesPerPair;
    Simulator::Stop(maxSimTime);

    NS_LOG_INFO("k=" << k << " hosts=" << nHosts << " links=" << allDevices.GetN() / 2
                     << " flows=" << senders.GetN() << " segment=" << segmentSize);

    const auto wallStart = std::chrono::steady_clock::now();
    Simulator::Run();
    const auto wallEnd = std::chrono::steady_clock::now();

    const double wallS = std::chrono::duration<double>(wallEnd - wallStart).count();
    const uint64_t events = Simulator::GetEventCount();
    const double peakRssMb = PeakRssMb();
    const double mHops = static_cast<double>(g_packetHops) / 1e6;

    // ordered_json keeps the keys in the documented order ("program" first).
    nlohmann::ordered_json result = {
        {"program", "plain-ns3"},
        {"k", k},
        {"hosts", nHosts},
        {"bytes_per_pair", bytesPerPair},
        {"scheduler", scheduler},
        {"sim_time_s", g_lastRx.GetSeconds()},
        {"wall_s", wallS},
        {"events", events},
        {"packet_hops", g_packetHops},
        {"events_per_packet_hop",
         g_packetHops > 0 ? static_cast<double>(events) / static_cast<double>(g_packetHops) : 0.0},
        {"wall_s_per_million_packet_hops", mHops > 0 ? wallS / mHops : 0.0},
        {"peak_rss_mb", peakRssMb},
        {"bytes_received", g_bytesReceived},
        {"complete", g_bytesReceived >= g_bytesExpected},
    };

    Simulator::Destroy();

    if (out.empty())
    {
        std::cout << result.dump(2) << std::endl;
    }
    else
    {
        outFile << result.dump(2) << '\n';
        outFile.close();
        if (!outFile)
        {
            std::cerr << "plain-ns3-all-to-all: cannot write " << out << '\n';
            return 1;
        }
    }
    return 0;
}
