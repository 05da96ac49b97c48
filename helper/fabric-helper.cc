#include "fabric-helper.h"

#include "fabric-config-error.h"

#include "ns3/abort.h"
#include "ns3/boolean.h"
#include "ns3/data-rate.h"
#include "ns3/fabric-channel.h"
#include "ns3/fabric-frame.h"
#include "ns3/fabric-hash.h"
#include "ns3/log.h"
#include "ns3/nstime.h"
#include "ns3/partitioned-buffer-mmu.h"
#include "ns3/pcap-file-wrapper.h"
#include "ns3/shared-buffer-mmu.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/auxv.h>
#include <unistd.h>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricHelper");

namespace
{
void
PcapSink(Ptr<PcapFileWrapper> file, Ptr<const Packet> packet)
{
    file->Write(Simulator::Now(), packet);
}
} // namespace

FabricHelper::FabricHelper()
{
    m_switchFactory.SetTypeId("ns3::moe::FabricSwitch");
    m_deviceFactory.SetTypeId("ns3::moe::FabricNetDevice");
    m_channelFactory.SetTypeId("ns3::moe::FabricChannel");
    m_switchAdmission.SetTypeId("ns3::moe::TailDropAdmission");
    m_nvSwitchAdmission.SetTypeId("ns3::moe::TailDropAdmission");
    m_nvSwitchAdmission.Set("QueueLimit", UintegerValue(0));
    m_hostAdmission.SetTypeId("ns3::moe::TailDropAdmission");
    m_hostAdmission.Set("QueueLimit", UintegerValue(0));
}

FabricHelper::~FabricHelper()
{
}

void
FabricHelper::SetSwitchAttribute(const std::string& name, const AttributeValue& value)
{
    m_switchFactory.Set(name, value);
}

void
FabricHelper::SetDeviceAttribute(const std::string& name, const AttributeValue& value)
{
    m_deviceFactory.Set(name, value);
}

void
FabricHelper::SetSwitchBufferPartitions(uint32_t partitions)
{
    NS_ABORT_MSG_IF(partitions == 0, "FabricHelper: buffer partitions must be >= 1");
    m_bufferPartitions = partitions;
}

void
FabricHelper::SetSwitchAdmission(const std::string& type)
{
    m_switchAdmission.SetTypeId(type);
}

void
FabricHelper::SetSwitchAdmissionAttribute(const std::string& name, const AttributeValue& value)
{
    m_switchAdmission.Set(name, value);
}

void
FabricHelper::SetNvSwitchAdmissionAttribute(const std::string& name, const AttributeValue& value)
{
    m_nvSwitchAdmission.Set(name, value);
}

void
FabricHelper::SetHostAdmissionAttribute(const std::string& name, const AttributeValue& value)
{
    m_hostAdmission.Set(name, value);
}

void
FabricHelper::SetSeed(uint64_t seed)
{
    m_seed = seed;
}

void
FabricHelper::EnsurePicosecondResolution()
{
    if (Time::GetResolution() == Time::PS)
    {
        return;
    }
    // Time::SetResolution may run once, before the simulation starts; ns-3 converts the Time
    // objects already created. A second change would dereference a cleared registry, so refuse.
    static bool changed = false;
    NS_ABORT_MSG_IF(changed,
                    "moe-fabric needs picosecond time resolution, but the resolution was "
                    "changed after moe-fabric set it");
    NS_ABORT_MSG_IF(Simulator::Now() != Time(0) || Simulator::GetEventCount() != 0,
                    "moe-fabric needs picosecond time resolution; call "
                    "FabricHelper::EnsurePicosecondResolution() (or build the fabric) before "
                    "the simulation runs");
    Time::SetResolution(Time::PS);
    changed = true;
}

namespace
{
/// The kernel's transparent huge page mode ("always", "madvise", "never"; "" if unknown).
std::string
KernelThpMode()
{
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    std::getline(in, line);
    const size_t open = line.find('[');
    const size_t close = line.find(']', open);
    if (open == std::string::npos || close == std::string::npos)
    {
        return "";
    }
    return line.substr(open + 1, close - open - 1);
}

/// GLIBC_TUNABLES ("" if unset).
std::string
GlibcTunables()
{
    const char* t = std::getenv("GLIBC_TUNABLES");
    return t == nullptr ? "" : t;
}

/// Does this C library know glibc.malloc.hugetlb (glibc 2.35 and later)?
bool
LibcHasHugetlbTunable()
{
#ifdef __GLIBC__
    return __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35);
#else
    return false;
#endif
}

constexpr const char* HUGETLB_TUNABLE = "glibc.malloc.hugetlb";
/// The user's switch: "0" turns the re-execution off.
constexpr const char* HUGE_PAGES_VARIABLE = "MOE_FABRIC_HUGE_PAGES";
/// Set for the re-executed program: never re-execute twice (should GLIBC_TUNABLES be dropped on
/// the way, as the loader does for privileged programs).
constexpr const char* REEXEC_MARKER = "MOE_FABRIC_HUGE_PAGES_REEXECUTED";
} // namespace

std::string
FabricHelper::DescribeHugePages()
{
    const std::string tunables = GlibcTunables();
    const std::string mode = KernelThpMode();
    if (!LibcHasHugetlbTunable() && mode != "always")
    {
        return "off (needs glibc 2.35 or later for glibc.malloc.hugetlb)";
    }
    const size_t at = tunables.find(HUGETLB_TUNABLE);
    if (at != std::string::npos)
    {
        const size_t end = tunables.find(':', at);
        const std::string setting = tunables.substr(at, end == std::string::npos ? end : end - at);
        const bool on = setting != std::string(HUGETLB_TUNABLE) + "=0" && mode != "never";
        return std::string(on ? "on" : "off") + " (GLIBC_TUNABLES " + setting +
               ", kernel transparent huge pages '" + mode + "')";
    }
    if (mode == "always")
    {
        return "on (kernel transparent huge pages 'always')";
    }
    const char* variable = std::getenv(HUGE_PAGES_VARIABLE);
    if (variable != nullptr && std::string(variable) == "0")
    {
        return std::string("off (") + HUGE_PAGES_VARIABLE + "=0)";
    }
    return "off (kernel transparent huge pages '" + (mode.empty() ? "unknown" : mode) + "')";
}

std::string
FabricHelper::ReexecWithHugePages(char* argv[])
{
    const char* variable = std::getenv(HUGE_PAGES_VARIABLE);
    if (std::getenv(REEXEC_MARKER) != nullptr)
    {
        return DescribeHugePages() + ", re-executed";
    }
    if (variable != nullptr && std::string(variable) == "0")
    {
        return DescribeHugePages(); // switched off by the user
    }
    if (getauxval(AT_BASE) == 0)
    {
        // No program interpreter: a static program, or the loader run directly
        // ("ld.so PROGRAM ..."), where /proc/self/exe is the loader and would not get the
        // program's path back from argv.
        return "off (started without a program interpreter, e.g. through ld.so)";
    }
    const char* preload = std::getenv("LD_PRELOAD");
    if (preload != nullptr && std::strstr(preload, "vgpreload") != nullptr)
    {
        // valgrind would not follow the re-execution (without --trace-children=yes): the
        // program would leave the tool's control.
        return "off (running under valgrind)";
    }
    const std::string tunables = GlibcTunables();
    if (!LibcHasHugetlbTunable() || tunables.find(HUGETLB_TUNABLE) != std::string::npos ||
        KernelThpMode() != "madvise")
    {
        return DescribeHugePages();
    }
    const std::string value = (tunables.empty() ? "" : tunables + ":") + HUGETLB_TUNABLE + "=1";
    if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0 || setenv(REEXEC_MARKER, "1", 1) != 0)
    {
        return "off (cannot set the environment)";
    }
    execv("/proc/self/exe", argv);
    // Still here: the re-execution failed. Carry on as before, without huge pages.
    const std::string why = std::strerror(errno);
    unsetenv(REEXEC_MARKER);
    if (tunables.empty())
    {
        unsetenv("GLIBC_TUNABLES");
    }
    else
    {
        setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    }
    return "off (re-executing /proc/self/exe failed: " + why + ")";
}

void
FabricHelper::Validate(const TopologySpec& spec)
{
    const uint32_t n = static_cast<uint32_t>(spec.nodes.size());
    if (spec.NumHosts() == 0)
    {
        throw ConfigError("topology", "the topology has no GPUs");
    }
    if (spec.hostServer.size() != spec.NumHosts() || spec.hostRail.size() != spec.NumHosts())
    {
        throw ConfigError("topology", "inconsistent host tables in the topology spec");
    }
    if (spec.pxn)
    {
        // PXN relays through "the" GPU of the source's server on the destination's rail.
        std::set<std::pair<uint32_t, uint32_t>> serverRails;
        for (uint32_t g = 0; g < spec.NumHosts(); ++g)
        {
            if (!serverRails.insert({spec.hostServer[g], spec.hostRail[g]}).second)
            {
                throw ConfigError("topology.pxn",
                                  "server " + std::to_string(spec.hostServer[g]) +
                                      " has two GPUs on rail " + std::to_string(spec.hostRail[g]) +
                                      "; PXN needs at most one GPU per server and rail");
            }
        }
    }
    std::vector<uint32_t> degree(n, 0);
    std::vector<uint32_t> firstPeer(n, UINT32_MAX);
    for (size_t i = 0; i < spec.links.size(); ++i)
    {
        const auto& l = spec.links[i];
        if (l.a >= n || l.b >= n || l.a == l.b)
        {
            throw ConfigError("topology", "link " + std::to_string(i) + " joins invalid nodes");
        }
        if (l.rateBps == 0)
        {
            throw ConfigError("topology",
                              "link " + std::to_string(i) + " (tier '" + spec.tierNames.at(l.tier) +
                                  "') has rate 0; rates must be > 0");
        }
        if (l.delayPs < 0)
        {
            throw ConfigError("topology",
                              "link " + std::to_string(i) +
                                  " has a negative delay; delays must be >= 0");
        }
        if (spec.nodes[l.b].role == TopologySpec::HOST)
        {
            throw ConfigError("topology",
                              "link " + std::to_string(i) +
                                  " has a host at its b end; hosts go at a");
        }
        for (uint32_t end : {l.a, l.b})
        {
            if (degree[end]++ == 0)
            {
                firstPeer[end] = end == l.a ? l.b : l.a;
            }
        }
    }
    for (uint32_t g = 0; g < spec.NumHosts(); ++g)
    {
        const uint32_t node = spec.hostNode[g];
        if (degree[node] == 0 || degree[node] > 2)
        {
            throw ConfigError("topology",
                              "GPU " + std::to_string(g) +
                                  " must have a NIC link and at most one NVLink");
        }
        if (spec.nodes[firstPeer[node]].role != TopologySpec::SWITCH)
        {
            throw ConfigError("topology",
                              "GPU " + std::to_string(g) + "'s first link must be its NIC");
        }
    }
    for (uint32_t i = 0; i < n; ++i)
    {
        if (degree[i] > 0xfffe)
        {
            throw ConfigError("topology", "node " + spec.nodes[i].name + " has too many ports");
        }
    }
}

Ptr<FabricTopology>
FabricHelper::Install(const TopologySpec& spec)
{
    EnsurePicosecondResolution();
    Validate(spec);
    Ptr<FabricTopology> topo = CreateObject<FabricTopology>();
    topo->SetSpec(spec);
    const uint32_t n = static_cast<uint32_t>(spec.nodes.size());

    for (uint32_t i = 0; i < n; ++i)
    {
        topo->AddBuiltNode(CreateObject<Node>());
    }

    FabricRouting::Graph graph;
    graph.portPeer.assign(n, {});
    graph.hostOfNode.assign(n, UINT32_MAX);
    graph.nodeOfHost = spec.hostNode;
    for (uint32_t g = 0; g < spec.NumHosts(); ++g)
    {
        graph.hostOfNode[spec.hostNode[g]] = g;
    }

    for (uint32_t li = 0; li < spec.links.size(); ++li)
    {
        const auto& l = spec.links[li];
        Ptr<FabricChannel> channel = m_channelFactory.Create<FabricChannel>();
        channel->SetAttribute("Delay", TimeValue(PicoSeconds(l.delayPs)));
        for (uint32_t end : {l.a, l.b})
        {
            Ptr<FabricNetDevice> dev = m_deviceFactory.Create<FabricNetDevice>();
            dev->SetDataRate(DataRate(l.rateBps));
            dev->SetTier(l.tier);
            const uint32_t port = topo->GetNPorts(end);
            const auto& node = spec.nodes[end];
            if (node.role == TopologySpec::HOST)
            {
                dev->SetAddress(GpuMacAddress(node.host, static_cast<uint8_t>(port)));
            }
            else
            {
                dev->SetAddress(Mac48Address::Allocate());
            }
            topo->GetNode(end)->AddDevice(dev);
            dev->Attach(channel);
            topo->AddBuiltPort(end, dev);
            topo->AddPortLink(end, li);
            graph.portPeer[end].push_back(end == l.a ? l.b : l.a);
        }
    }

    Ptr<FabricRouting> routing = CreateObject<FabricRouting>();
    routing->Compute(graph);

    // Host routes: NVLink within a server, the NIC otherwise; with PXN (rail-only, or asked
    // for) cross-rail traffic relays through the same-server GPU on the destination's rail.
    const uint32_t nicSet = routing->InternSet({0});
    const uint32_t nvlinkSet = routing->InternSet({1});
    const bool servers = spec.gpusPerServer > 1;
    for (uint32_t s = 0; s < spec.NumHosts(); ++s)
    {
        for (uint32_t d = 0; d < spec.NumHosts(); ++d)
        {
            if (s == d)
            {
                continue;
            }
            const bool sameServer = servers && spec.hostServer[s] == spec.hostServer[d];
            const bool relay = spec.pxn && !sameServer && spec.hostRail[s] != spec.hostRail[d];
            routing->SetRoute(spec.hostNode[s], d, (sameServer || relay) ? nvlinkSet : nicSet);
        }
    }
    if (spec.pxn)
    {
        // Each NVSwitch sends traffic for another server to its own GPU on the target's rail.
        for (uint32_t i = 0; i < n; ++i)
        {
            if (spec.nodes[i].role != TopologySpec::NVSWITCH)
            {
                continue;
            }
            // server's GPUs by rail, via this NVSwitch's ports
            std::vector<uint32_t> portOfRail;
            uint32_t server = UINT32_MAX;
            for (uint32_t p = 0; p < graph.portPeer[i].size(); ++p)
            {
                const uint32_t gpu = graph.hostOfNode[graph.portPeer[i][p]];
                if (gpu == UINT32_MAX)
                {
                    continue;
                }
                server = spec.hostServer[gpu];
                const uint32_t rail = spec.hostRail[gpu];
                if (portOfRail.size() <= rail)
                {
                    portOfRail.resize(rail + 1, UINT32_MAX);
                }
                portOfRail[rail] = p;
            }
            for (uint32_t d = 0; d < spec.NumHosts(); ++d)
            {
                if (spec.hostServer[d] == server)
                {
                    continue;
                }
                const uint32_t rail = spec.hostRail[d];
                if (rail >= portOfRail.size() || portOfRail[rail] == UINT32_MAX)
                {
                    throw ConfigError("topology",
                                      "rail-only: server " + std::to_string(server) +
                                          " has no GPU on rail " + std::to_string(rail));
                }
                routing->SetRoute(i,
                                  d,
                                  routing->InternSet({static_cast<uint16_t>(portOfRail[rail])}));
            }
        }
    }
    topo->SetRouting(routing);

    for (uint32_t i = 0; i < n; ++i)
    {
        const auto& node = spec.nodes[i];
        Ptr<Node> ns3Node = topo->GetNode(i);
        if (node.role == TopologySpec::HOST)
        {
            Ptr<FabricHost> host = CreateObject<FabricHost>();
            host->SetHostId(node.host);
            for (uint32_t p = 0; p < topo->GetNPorts(i); ++p)
            {
                host->AddPort(topo->GetPort(i, p));
            }
            host->SetRouting(routing, i);
            host->SetAdmission(m_hostAdmission.Create<FabricAdmission>());
            ns3Node->AggregateObject(host);
            topo->SetHost(node.host, host);
        }
        else
        {
            Ptr<FabricSwitch> sw = m_switchFactory.Create<FabricSwitch>();
            sw->SetAttribute("HashSeed", UintegerValue(Mix64(m_seed ^ Mix64(i))));
            for (uint32_t p = 0; p < topo->GetNPorts(i); ++p)
            {
                sw->AddPort(topo->GetPort(i, p));
            }
            sw->SetRouting(routing, i);
            const ObjectFactory& admission =
                node.role == TopologySpec::NVSWITCH ? m_nvSwitchAdmission : m_switchAdmission;
            const uint64_t mmuSeed = Mix64(m_seed ^ Mix64(i) ^ 0x6d6d75);
            Ptr<FabricAdmission> adm;
            if (m_bufferPartitions > 1 && node.role != TopologySpec::NVSWITCH)
            {
                NS_ABORT_MSG_IF(m_switchAdmission.GetTypeId() != SharedBufferMmu::GetTypeId(),
                                "FabricHelper: buffer partitions need the switch admission "
                                "ns3::moe::SharedBufferMmu");
                Ptr<PartitionedBufferMmu> parts = CreateObject<PartitionedBufferMmu>();
                parts->SetAttribute("Partitions", UintegerValue(m_bufferPartitions));
                parts->SetPartitionFactory(m_switchAdmission);
                adm = parts;
            }
            else
            {
                adm = admission.Create<FabricAdmission>();
            }
            if (auto mmu = DynamicCast<SharedBufferMmu>(adm))
            {
                // Each switch marks ECN with its own random stream.
                mmu->SetAttribute("Seed", UintegerValue(mmuSeed));
            }
            sw->SetAdmission(adm);
            if (auto parts = DynamicCast<PartitionedBufferMmu>(adm))
            {
                parts->SetSeed(mmuSeed);
                const std::string problem = parts->ConfigurePorts(sw);
                NS_ABORT_MSG_IF(!problem.empty(), "switch " << node.name << ": " << problem);
                parts->SetPauseCallback(MakeCallback(&FabricSwitch::RequestPfc, PeekPointer(sw)));
            }
            if (auto mmu = DynamicCast<SharedBufferMmu>(adm))
            {
                // Headroom is sized from the rate and delay of each port's own link.
                const std::string problem = mmu->ConfigurePorts(sw);
                NS_ABORT_MSG_IF(!problem.empty(), "switch " << node.name << ": " << problem);
                // XOFF/XON become PFC frames on the port the lossless traffic came in by. A raw
                // pointer, as a Ptr would make a cycle (the switch owns the MMU).
                mmu->SetPauseCallback(MakeCallback(&FabricSwitch::RequestPfc, PeekPointer(sw)));
            }
            ns3Node->AggregateObject(sw);
            topo->SetSwitch(i, sw);
        }
    }
    NS_LOG_INFO("fabric: " << spec.NumHosts() << " GPUs, " << spec.NumSwitches() << " switches, "
                           << spec.links.size() << " links, " << routing->GetNumSets()
                           << " routing sets");
    return topo;
}

void
FabricHelper::EnablePcapInternal(std::string prefix,
                                 Ptr<NetDevice> nd,
                                 bool /*promiscuous*/,
                                 bool explicitFilename)
{
    Ptr<FabricNetDevice> device = nd->GetObject<FabricNetDevice>();
    if (!device)
    {
        NS_LOG_INFO("FabricHelper::EnablePcapInternal: not a FabricNetDevice, skipped");
        return;
    }
    PcapHelper pcapHelper;
    const std::string filename =
        explicitFilename ? prefix : pcapHelper.GetFilenameFromDevice(prefix, device);
    // Nanosecond timestamps: microseconds would merge frames that are 10-100 ns apart.
    Ptr<PcapFileWrapper> file =
        CreateObjectWithAttributes<PcapFileWrapper>("NanosecMode", BooleanValue(true));
    file->Open(filename, std::ios::out | std::ios::binary);
    NS_ABORT_MSG_IF(file->Fail(), "cannot open PCAP file " << filename);
    file->Init(PcapHelper::DLT_EN10MB);
    device->TraceConnectWithoutContext("Sniffer", MakeBoundCallback(&PcapSink, file));
    // Flush and close at Simulator::Destroy(), so the capture is complete as soon as the
    // simulation is torn down (not only when the process exits).
    Simulator::ScheduleDestroy(&PcapFileWrapper::Close, file);
}

} // namespace moe
} // namespace ns3
