#include "moe-scenario.h"

#include "fabric-config-error.h"
#include "fabric-helper.h"
#include "leaf-spine-helper.h"
#include "rail-optimized-helper.h"
#include "serving-report.h"

#include "ns3/abort.h"
#include "ns3/boolean.h"
#include "ns3/data-rate.h"
#include "ns3/double.h"
#include "ns3/fabric-frame.h"
#include "ns3/fabric-hash.h"
#include "ns3/fabric-net-device.h"
#include "ns3/fabric-routing.h"
#include "ns3/fabric-stats.h"
#include "ns3/global-value.h"
#include "ns3/ideal-transport.h"
#include "ns3/int-telemetry.h"
#include "ns3/integer.h"
#include "ns3/log.h"
#include "ns3/partitioned-buffer-mmu.h"
#include "ns3/rdma-transport.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/shared-buffer-mmu.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/tcp-transport.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>

#ifndef MOE_FABRIC_VERSION
#define MOE_FABRIC_VERSION "unknown"
#endif
#ifndef MOE_NS3_VERSION
#define MOE_NS3_VERSION "unknown"
#endif
#ifndef MOE_GIT_REVISION
#define MOE_GIT_REVISION "unknown"
#endif

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("Scenario");

namespace
{
constexpr int64_t PS_PER_S = 1000000000000LL;
/// Largest routing state the loader accepts: (nodes x GPUs) table entries of 4 bytes.
constexpr uint64_t MAX_ROUTING_ENTRIES = 1ull << 28;

LinkSpec
ReadLink(ConfigReader& r, const LinkSpec& def)
{
    LinkSpec s;
    s.rateBps = r.GetRate("rate", FormatRate(def.rateBps));
    s.delayPs = r.GetTimePs("delay", FormatTimePs(def.delayPs), 0, PS_PER_S);
    r.Finish();
    return s;
}

/// Per-tier link settings: topology.link for every fabric tier, topology.tiers.<name> to override.
std::map<std::string, LinkSpec>
ReadTiers(ConfigReader& topo, const std::vector<std::string>& tierNames)
{
    ConfigReader linkReader = topo.GetObject("link");
    const LinkSpec link = ReadLink(linkReader, LinkSpec());
    std::map<std::string, LinkSpec> out;
    ConfigReader tiers = topo.GetObject("tiers");
    for (const auto& name : tierNames)
    {
        ConfigReader t = tiers.GetObject(name);
        out[name] = ReadLink(t, link);
    }
    tiers.Finish();
    return out;
}

LinkSpec
ReadNvLink(ConfigReader& topo)
{
    ConfigReader r = topo.GetObject("nvlink");
    return ReadLink(r, DefaultNvLink());
}

TopologySpec
ParseTopology(ConfigReader& topo)
{
    const std::string type =
        topo.GetEnum("type", "fat-tree", {"fat-tree", "leaf-spine", "rail-optimized"});
    TopologySpec spec;
    if (type == "fat-tree")
    {
        FatTreeHelper h;
        h.SetK(static_cast<uint32_t>(topo.GetUint("k", 4, 2, 128)));
        const uint32_t gps = static_cast<uint32_t>(topo.GetUint("gpus_per_server", 1, 1, 64));
        h.SetGpusPerServer(gps);
        auto tiers = ReadTiers(topo, {"host-edge", "edge-agg", "agg-core"});
        h.SetHostLink(tiers["host-edge"]);
        h.SetEdgeAggLink(tiers["edge-agg"]);
        h.SetAggCoreLink(tiers["agg-core"]);
        h.SetNvLink(ReadNvLink(topo));
        topo.Finish();
        spec = h.Build();
    }
    else if (type == "leaf-spine")
    {
        LeafSpineHelper h;
        h.SetHostsPerLeaf(static_cast<uint32_t>(topo.GetUint("hosts_per_leaf", 8, 1, 4096)));
        h.SetLeaves(static_cast<uint32_t>(topo.GetUint("leaves", 4, 1, 4096)));
        h.SetSpines(static_cast<uint32_t>(topo.GetUint("spines", 4, 1, 4096)));
        h.SetUplinksPerLeaf(static_cast<uint32_t>(topo.GetUint("uplinks_per_leaf", 0, 0, 4096)));
        h.SetGpusPerServer(static_cast<uint32_t>(topo.GetUint("gpus_per_server", 1, 1, 64)));
        auto tiers = ReadTiers(topo, {"host-leaf", "leaf-spine"});
        h.SetHostLink(tiers["host-leaf"]);
        h.SetLeafSpineLink(tiers["leaf-spine"]);
        h.SetNvLink(ReadNvLink(topo));
        topo.Finish();
        spec = h.Build();
    }
    else
    {
        RailOptimizedHelper h;
        h.SetServers(static_cast<uint32_t>(topo.GetUint("servers", 16, 1, 65536)));
        h.SetGpusPerServer(static_cast<uint32_t>(topo.GetUint("gpus_per_server", 8, 2, 64)));
        h.SetServersPerLeaf(static_cast<uint32_t>(topo.GetUint("servers_per_leaf", 0, 0, 4096)));
        const uint32_t spines = static_cast<uint32_t>(topo.GetUint("spines", 4, 0, 4096));
        h.SetSpines(spines);
        h.SetUplinksPerLeaf(static_cast<uint32_t>(topo.GetUint("uplinks_per_leaf", 0, 0, 4096)));
        // PXN: a choice with spines; without them it is the only way across rails.
        const bool pxn = topo.GetBool("pxn", spines == 0);
        if (spines == 0 && !pxn)
        {
            throw ConfigError(topo.PathOf("pxn"),
                              "a rail-only fabric (spines 0) reaches other rails only through "
                              "NVLink relays; accepted with spines 0: true");
        }
        h.SetPxn(pxn);
        std::vector<std::string> names{"host-leaf"};
        if (spines > 0)
        {
            names.emplace_back("leaf-spine");
        }
        auto tiers = ReadTiers(topo, names);
        h.SetHostLink(tiers["host-leaf"]);
        if (spines > 0)
        {
            h.SetLeafSpineLink(tiers["leaf-spine"]);
        }
        h.SetNvLink(ReadNvLink(topo));
        topo.Finish();
        spec = h.Build();
    }
    const uint64_t entries = static_cast<uint64_t>(spec.nodes.size()) * spec.NumHosts();
    if (entries > MAX_ROUTING_ENTRIES)
    {
        throw ConfigError("topology",
                          "too large: " + std::to_string(spec.NumHosts()) + " GPUs and " +
                              std::to_string(spec.nodes.size()) +
                              " nodes need more routing state than the 2^28 entries (1 GiB) "
                              "this build accepts");
    }
    return spec;
}

std::string
FormatBytesHuman(double bytes)
{
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4)
    {
        bytes /= 1024;
        ++u;
    }
    std::ostringstream ss;
    ss << std::setprecision(4) << bytes << " " << units[u];
    return ss.str();
}

std::string
FormatDurationHuman(Time t)
{
    std::ostringstream ss;
    const double s = t.GetSeconds();
    ss << std::fixed << std::setprecision(3);
    if (s >= 1)
    {
        ss << s << " s";
    }
    else if (s >= 1e-3)
    {
        ss << s * 1e3 << " ms";
    }
    else
    {
        ss << s * 1e6 << " us";
    }
    return ss.str();
}

/// Nearest-rank percentile of sorted @p v (p in 0..100).
int64_t
Percentile(const std::vector<int64_t>& v, double p)
{
    if (v.empty())
    {
        return 0;
    }
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    rank = std::max<size_t>(rank, 1);
    return v[std::min(rank, v.size()) - 1];
}

double
Seconds(int64_t ps)
{
    return static_cast<double>(ps) / static_cast<double>(PS_PER_S);
}

} // namespace

Json
DistributionJson(std::vector<int64_t> ps)
{
    std::sort(ps.begin(), ps.end());
    Json j = Json::object();
    j["count"] = ps.size();
    if (ps.empty())
    {
        return j;
    }
    long double sum = 0;
    for (auto v : ps)
    {
        sum += v;
    }
    j["mean_s"] = static_cast<double>(sum / ps.size()) / static_cast<double>(PS_PER_S);
    j["min_s"] = Seconds(ps.front());
    j["p50_s"] = Seconds(Percentile(ps, 50));
    j["p90_s"] = Seconds(Percentile(ps, 90));
    j["p99_s"] = Seconds(Percentile(ps, 99));
    j["max_s"] = Seconds(ps.back());
    return j;
}

// =============================================================================================
// Parsing

namespace
{
/// @p v as text that reads back as the same double.
std::string
ExactDouble(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    return buf;
}

/// Hand the shared-buffer settings of @p s to @p set(attribute name, value) of a SharedBufferMmu.
template <typename Setter>
void
ApplySharedBuffer(const ScenarioSettings& s, Setter set)
{
    set("BufferSize", UintegerValue(s.bufferBytes));
    set("CellSize", UintegerValue(s.cellBytes));
    std::string alpha;
    for (size_t i = 0; i < s.alphas.size(); ++i)
    {
        alpha += (i ? "," : "") + ExactDouble(s.alphas[i]);
    }
    set("Alpha", StringValue(alpha));
    set("IngressReservedBytes", UintegerValue(s.ingressReservedBytes));
    set("XoffBytes", UintegerValue(s.xoffBytes));
    set("SharedHeadroomBytes", UintegerValue(s.sharedHeadroomBytes));
    set("LosslessPoolFraction", DoubleValue(s.losslessPoolFraction));
    set("EgressReservedBytes", UintegerValue(s.egressReservedBytes));
    set("LosslessPriorities", UintegerValue(s.losslessMask));
    set("XoffAlpha", DoubleValue(s.xoffAlpha));
    set("HeadroomAuto", BooleanValue(s.headroomBytes == 0));
    set("HeadroomBytes", UintegerValue(s.headroomBytes));
    set("XonOffsetBytes", IntegerValue(static_cast<int64_t>(s.xonOffsetBytes)));
    // Headroom is sized per port from its own link once the switch exists; before that (and
    // for the validation probe) the fastest, longest link of the fabric is the worst case.
    set("HeadroomLinkRate", DataRateValue(DataRate(s.maxLinkRateBps)));
    set("HeadroomPropagationDelay", TimeValue(PicoSeconds(s.maxLinkDelayPs)));
    set("MaxFrameBytes", UintegerValue(s.mtu + ROCE_DATA_HEADER_BYTES));
    set("EcnPriorities", UintegerValue(s.ecn ? 0xff : 0));
    if (s.ecn)
    {
        set("EcnKminBytes", StringValue(std::to_string(s.ecnKminBytes)));
        set("EcnKmaxBytes", StringValue(std::to_string(s.ecnKmaxBytes)));
        set("EcnPmax", StringValue(ExactDouble(s.ecnPmax)));
    }
}

/// switch.buffer (type "shared") and switch.ecn: a SharedBufferMmu per switch, checked here by
/// building one with the settings and asking it, so that an impossible carving is a config error
/// naming the JSON key.
void
ParseSharedBuffer(ScenarioSettings& s, ConfigReader& buf, ConfigReader& sw)
{
    // Presets only where the vendor states the buffer (doc/moe-fabric.rst, "Switch presets"):
    // the fully shared packet buffer of NVIDIA (Mellanox) Spectrum ASICs.
    static const std::map<std::string, uint64_t> presets{{"spectrum", 16ull << 20},
                                                         {"spectrum-2", 42ull << 20},
                                                         {"spectrum-3", 64ull << 20}};
    const std::string preset =
        buf.GetEnum("preset", "none", {"none", "spectrum", "spectrum-2", "spectrum-3"});
    const uint64_t defaultSize = preset == "none" ? 16ull << 20 : presets.at(preset);
    s.bufferBytes = buf.GetBytes("size", defaultSize, 4096, 1ull << 36);
    s.cellBytes = buf.GetBytes("cell_size", 256, 16, 16384);
    // Independent partitions (pipelines) per switch, each BufferSize / partitions.
    s.bufferPartitions = static_cast<uint32_t>(buf.GetUint("partitions", 1, 1, 64));
    // One alpha for every lossy priority, or eight (priority 0 first).
    if (const Json* alphas = buf.HasArray("alpha") ? buf.GetArray("alpha") : nullptr)
    {
        if (alphas->size() != NUM_PRIORITIES)
        {
            throw ConfigError(buf.PathOf("alpha"),
                              "expected one number or an array of 8 (one per priority, 0 first), "
                              "got " +
                                  std::to_string(alphas->size()) + " elements");
        }
        s.alphas.clear();
        for (size_t i = 0; i < alphas->size(); ++i)
        {
            s.alphas.push_back(
                ReadJsonDouble((*alphas)[i], buf.ElementPath("alpha", i), 1.0 / 1024, 1024));
        }
    }
    else
    {
        s.alphas = {buf.GetDouble("alpha", 1.0, 1.0 / 1024, 1024)};
    }
    s.egressReservedBytes = buf.GetBytes("egress_reserved", 1518, 0, 1ull << 30);
    // Lossless priorities get ingress accounting with XOFF/XON and headroom, and PFC frames.
    s.losslessMask = 0;
    if (const Json* lossless = buf.GetArray("lossless_priorities"))
    {
        std::vector<uint64_t> seen;
        for (size_t i = 0; i < lossless->size(); ++i)
        {
            seen.push_back(ReadDistinctJsonUint((*lossless)[i],
                                                buf.ElementPath("lossless_priorities", i),
                                                0,
                                                7,
                                                seen,
                                                "priority"));
            s.losslessMask |= static_cast<uint8_t>(1u << seen.back());
        }
    }
    else
    {
        buf.SetEffective("lossless_priorities", Json::array());
    }
    // Used by the lossless priorities only (SONiC's Broadcom defaults: XOFF alpha 1/8, XON
    // offset 2288 bytes; see the MMU's documentation).
    s.xoffAlpha = buf.GetDouble("xoff_alpha", 0.125, 1.0 / 1024, 1024);
    s.headroomBytes = buf.GetBytes("headroom", 0, 0, 1ull << 30);
    s.xonOffsetBytes = buf.GetBytes("xon_offset", 2288, 0, 1ull << 30);
    // SONiC's Broadcom lossless PG profile reserves 1248 bytes per (port, lossless priority).
    s.ingressReservedBytes = buf.GetBytes("ingress_reserved", 1248, 0, 1ull << 30);
    s.xoffBytes = buf.GetBytes("xoff", 0, 0, 1ull << 36);
    s.sharedHeadroomBytes = buf.GetBytes("shared_headroom", 0, 0, 1ull << 36);
    s.losslessPoolFraction = buf.GetDouble("lossless_pool_fraction", 0.5, 0, 1);
    ConfigReader pfc = sw.GetObject("pfc");
    s.pfcQuanta = static_cast<uint32_t>(pfc.GetUint("quanta", 65535, 1, 65535));
    {
        // A pause is refreshed at half its time (FabricNetDevice::PfcRefreshFraction). It holds
        // the peer for its quanta minus the peer's response time (IEEE 802.3 Annex 31B, by
        // rate), and the refresh may wait behind a full-size frame on the port and then takes
        // its own serialization: half the pause must cover all three, or the queue resumes
        // between refreshes and the lossless priority drops. The fastest PFC link bounds it.
        uint64_t rate = 0;
        for (const auto& l : s.spec.links)
        {
            if (s.spec.tierNames[l.tier] != "nvlink")
            {
                rate = std::max(rate, l.rateBps);
            }
        }
        const uint64_t bits =
            SharedBufferMmu::PauseResponseBits(rate) +
            8ull * (s.mtu + ROCE_DATA_HEADER_BYTES + PFC_FRAME_BYTES + 2 * WIRE_EXTRA_BYTES);
        const uint32_t minQuanta =
            static_cast<uint32_t>(2 * ((bits + PFC_QUANTUM_BITS - 1) / PFC_QUANTUM_BITS));
        if (s.pfcQuanta < minQuanta)
        {
            throw ConfigError(pfc.PathOf("quanta"),
                              std::to_string(s.pfcQuanta) +
                                  " quanta cannot hold a pause: refreshed at half its time, "
                                  "half must outlast the peer's response time at " +
                                  FormatRate(rate) + ", a full-size frame at transport.mtu " +
                                  std::to_string(s.mtu) + " and a PFC frame; accepted: " +
                                  std::to_string(minQuanta) + "..65535");
        }
    }
    {
        // Storm detection: a priority paused this long with frames waiting.
        ConfigReader wd = pfc.GetObject("watchdog");
        s.pfcWatchdogPs = wd.GetTimePs("timeout", "0ps", 0, 1000 * PS_PER_S);
        if (s.pfcWatchdogPs > 0)
        {
            s.pfcWatchdogAction = wd.GetEnum("action", "report", {"report", "ignore", "drop"});
            s.pfcRestorePs = wd.GetTimePs("restore", "200ms", 1, 1000 * PS_PER_S);
        }
        wd.Finish();
    }
    pfc.Finish();
    for (const auto& l : s.spec.links)
    {
        if (s.spec.tierNames[l.tier] != "nvlink")
        {
            s.maxLinkRateBps = std::max(s.maxLinkRateBps, l.rateBps);
            s.maxLinkDelayPs = std::max(s.maxLinkDelayPs, l.delayPs);
        }
    }
    ConfigReader ecn = sw.GetObject("ecn");
    s.ecn = ecn.GetBool("enabled", true);
    if (s.ecn)
    {
        // DCQCN's marking defaults (Zhu et al., SIGCOMM 2015): 5 KB, 200 KB, 1%.
        s.ecnKminBytes = ecn.GetBytes("kmin", 5120, 0, 1ull << 36);
        s.ecnKmaxBytes = ecn.GetBytes("kmax", 204800, 0, 1ull << 36);
        s.ecnPmax = ecn.GetDouble("pmax", 0.01, 0, 1);
        if (s.ecnKmaxBytes < s.ecnKminBytes)
        {
            throw ConfigError(ecn.PathOf("kmax"),
                              std::to_string(s.ecnKmaxBytes) + " is below switch.ecn.kmin (" +
                                  std::to_string(s.ecnKminBytes) +
                                  "); accepted: kmax >= kmin (equal = a step threshold)");
        }
    }
    ecn.Finish();
    uint32_t maxPorts = 0;
    std::vector<uint32_t> ports(s.spec.nodes.size(), 0);
    for (const auto& l : s.spec.links)
    {
        maxPorts = std::max({maxPorts, ++ports[l.a], ++ports[l.b]});
    }
    Ptr<SharedBufferMmu> probe = CreateObject<SharedBufferMmu>();
    ApplySharedBuffer(s, [&probe](const std::string& n, const AttributeValue& v) {
        probe->SetAttribute(n, v);
    });
    // Each partition is a whole MMU with its share of the buffer.
    probe->SetAttribute("BufferSize", UintegerValue(s.bufferBytes / s.bufferPartitions));
    std::string problem = probe->Validate(maxPorts);
    if (!problem.empty() && s.bufferPartitions > 1)
    {
        problem += " (in each of switch.buffer.partitions = " + std::to_string(s.bufferPartitions) +
                   " partitions)";
    }
    if (!problem.empty())
    {
        // Automatic headroom is sized from the links: if it does not fit, the buffer is too small.
        const std::map<std::string, std::string> keys{
            {"BufferSize", "switch.buffer.size"},
            {"CellSize", "switch.buffer.cell_size"},
            {"Alpha", "switch.buffer.alpha"},
            {"EgressReservedBytes", "switch.buffer.egress_reserved"},
            {"IngressReservedBytes", "switch.buffer.ingress_reserved"},
            {"HeadroomBytes",
             s.headroomBytes != 0 ? "switch.buffer.headroom" : "switch.buffer.size"},
            {"SharedHeadroomBytes", "switch.buffer.shared_headroom"},
            {"XoffBytes", "switch.buffer.xoff"},
            {"LossyPoolBytes",
             s.losslessPoolFraction == 1 ? "switch.buffer.lossless_pool_fraction"
                                         : "switch.buffer.size"},
            {"LosslessPoolBytes",
             s.losslessPoolFraction == 0 ? "switch.buffer.lossless_pool_fraction"
                                         : "switch.buffer.size"},
            {"LosslessPoolFraction", "switch.buffer.lossless_pool_fraction"},
            {"LosslessPriorities", "switch.buffer.lossless_priorities"},
            {"XoffAlpha", "switch.buffer.xoff_alpha"},
            {"XonOffsetBytes", "switch.buffer.xon_offset"},
            {"EcnKminBytes", "switch.ecn.kmin"},
            {"EcnKmaxBytes", "switch.ecn.kmax"},
            {"EcnPmax", "switch.ecn.pmax"}};
        const std::string attribute = problem.substr(0, problem.find(':'));
        const auto it = keys.find(attribute);
        throw ConfigError(it != keys.end() ? it->second : "switch.buffer",
                          it != keys.end() && problem.size() > attribute.size() + 2
                              ? problem.substr(attribute.size() + 2)
                              : problem);
    }
}

/// The shared-buffer MMUs of @p sw: its one SharedBufferMmu, the partitions of a
/// PartitionedBufferMmu, or none.
std::vector<Ptr<SharedBufferMmu>>
BufferParts(Ptr<FabricSwitch> sw)
{
    std::vector<Ptr<SharedBufferMmu>> out;
    if (sw == nullptr)
    {
        return out;
    }
    if (auto mmu = DynamicCast<SharedBufferMmu>(sw->GetAdmission()))
    {
        out.push_back(mmu);
    }
    else if (auto parts = DynamicCast<PartitionedBufferMmu>(sw->GetAdmission()))
    {
        for (uint32_t i = 0; i < parts->GetNPartitions(); ++i)
        {
            out.push_back(parts->GetPartition(i));
        }
    }
    return out;
}

/// @brief CE marks of every shared-buffer switch of @p topo (summary.json's fabric.ecn_marks).
uint64_t
TotalEcnMarks(Ptr<FabricTopology> topo)
{
    uint64_t marks = 0;
    for (uint32_t node = 0; node < topo->GetSpec().nodes.size(); ++node)
    {
        for (const auto& mmu : BufferParts(topo->GetSwitch(node)))
        {
            for (uint32_t port = 0; port < topo->GetNPorts(node); ++port)
            {
                marks += mmu->GetEcnMarks(port);
            }
        }
    }
    return marks;
}

/// nic.rx: the NICs' receive buffer, drained towards the host at a set rate; lossless
/// priorities (switch.buffer.lossless_priorities) make the NIC send PFC pauses when it fills.
void
ParseNicReceive(ScenarioSettings& s, ConfigReader& nic, uint32_t numGpus)
{
    ConfigReader rx = nic.GetObject("rx");
    if (!rx.Has("drain_rate"))
    {
        rx.Finish();
        return;
    }
    s.nicRxDrainBps = rx.GetRate("drain_rate", "400Gbps");
    if (s.nicRxDrainBps < 1000000000ull)
    {
        // Slower, a full receive buffer takes seconds to drain: lossy senders then retransmit
        // into it every timeout for the whole run (millions of events per simulated 100 ms).
        throw ConfigError(rx.PathOf("drain_rate"),
                          FormatRate(s.nicRxDrainBps) +
                              " is too slow; accepted: 1Gbps or more (a host draining its NIC "
                              "at PCIe or memory speed)");
    }
    // A ConnectX port buffer (MLNX_OFED "HowTo Tune Receive Buffers": port buffer 262016 bytes).
    s.nicRxBufferBytes = rx.GetBytes("buffer", 262016, 1024, 1ull << 32);
    s.nicRxXoffBytes = rx.GetBytes("xoff", 0, 0, 1ull << 32);
    s.nicRxXonBytes = rx.GetBytes("xon", 0, 0, 1ull << 32);
    if (const Json* gpus = rx.GetArray("gpus"))
    {
        std::vector<uint64_t> seen;
        for (size_t i = 0; i < gpus->size(); ++i)
        {
            seen.push_back(ReadDistinctJsonUint((*gpus)[i],
                                                rx.ElementPath("gpus", i),
                                                0,
                                                numGpus - 1,
                                                seen,
                                                "GPU"));
            s.nicRxGpus.push_back(static_cast<uint32_t>(seen.back()));
        }
    }
    else
    {
        rx.SetEffective("gpus", Json::array());
    }
    // The worst link a NIC may sit on sizes the headroom the automatic XOFF leaves.
    uint64_t rate = 0;
    int64_t delay = 0;
    for (const auto& l : s.spec.links)
    {
        // The host end of a link is always its a end.
        if (s.spec.nodes[l.a].role == TopologySpec::HOST && s.spec.tierNames[l.tier] != "nvlink")
        {
            rate = std::max(rate, l.rateBps);
            delay = std::max(delay, l.delayPs);
        }
    }
    const uint32_t frame = s.mtu + ROCE_DATA_HEADER_BYTES;
    const uint64_t headroom =
        SharedBufferMmu::HeadroomBytes(rate,
                                       delay,
                                       frame,
                                       SharedBufferMmu::PauseResponseBits(rate));
    const std::string buffer = std::to_string(s.nicRxBufferBytes);
    if (s.nicRxXoffBytes == 0 && headroom + 2 * frame > s.nicRxBufferBytes)
    {
        throw ConfigError(
            rx.PathOf("buffer"),
            buffer + " bytes cannot hold the PFC headroom of the NIC's link (" +
                std::to_string(headroom) + " bytes at " + FormatRate(rate) +
                ") plus two frames; accepted: >= " + std::to_string(headroom + 2 * frame) +
                ", or set nic.rx.xoff explicitly");
    }
    if (s.nicRxXoffBytes > s.nicRxBufferBytes)
    {
        throw ConfigError(rx.PathOf("xoff"),
                          std::to_string(s.nicRxXoffBytes) + " exceeds nic.rx.buffer (" + buffer +
                              "); accepted: 0 (buffer minus headroom) or <= the buffer");
    }
    if (s.nicRxXoffBytes == 0)
    {
        s.nicRxXoffBytes = s.nicRxBufferBytes - headroom;
    }
    if (s.nicRxXonBytes > s.nicRxXoffBytes)
    {
        throw ConfigError(rx.PathOf("xon"),
                          std::to_string(s.nicRxXonBytes) + " is above the XOFF threshold (" +
                              std::to_string(s.nicRxXoffBytes) +
                              " bytes); accepted: 0 (XOFF minus two frames) or <= XOFF");
    }
    if (s.nicRxXonBytes == 0)
    {
        s.nicRxXonBytes = s.nicRxXoffBytes > 2 * frame ? s.nicRxXoffBytes - 2 * frame : 0;
    }
    rx.Finish();
}

/// A rate key of transport.cc within [1 kbps, 10 Tbps] (GetRate itself rejects only 0).
uint64_t
ReadCcRate(ConfigReader& cc, const std::string& key, const std::string& def)
{
    const uint64_t bps = cc.GetRate(key, def);
    constexpr uint64_t LO = 1000;
    constexpr uint64_t HI = 10000000000000ull;
    if (bps < LO || bps > HI)
    {
        throw ConfigError(cc.PathOf(key),
                          FormatRate(bps) + " is out of range; accepted 1kbps..10Tbps");
    }
    return bps;
}

/// transport.cc: the congestion-control algorithm and its parameters (defaults and their
/// sources: doc/moe-fabric.rst, "Congestion control").
void
ParseCongestionControl(ScenarioSettings& s, ConfigReader& cc)
{
    s.ccType = cc.GetEnum("type", "none", {"none", "dcqcn", "hpcc", "swift"});
    if (s.ccType == "swift")
    {
        ScenarioSettings::Swift& w = s.swift;
        w.baseTargetPs = cc.GetTimePs("base_target", "25us", 1000, PS_PER_S);
        w.perHopPs = cc.GetTimePs("per_hop_scaling", "0ps", 0, PS_PER_S);
        w.fsRangePs = cc.GetTimePs("fs_range", "0ps", 0, PS_PER_S);
        w.fsMinCwnd = cc.GetDouble("fs_min_cwnd", 0.1, 1e-6, 1e6);
        w.fsMaxCwnd = cc.GetDouble("fs_max_cwnd", 100, 1e-6, 1e6);
        if (w.fsRangePs > 0 && w.fsMaxCwnd <= w.fsMinCwnd)
        {
            std::ostringstream v;
            v << w.fsMaxCwnd << " is not above fs_min_cwnd (" << w.fsMinCwnd
              << "); accepted: fs_max_cwnd > fs_min_cwnd when fs_range > 0";
            throw ConfigError(cc.PathOf("fs_max_cwnd"), v.str());
        }
        w.ai = cc.GetDouble("ai", 1.0, 1e-6, 1e6);
        w.beta = cc.GetDouble("beta", 0.8, 1e-6, 1);
        w.maxMdf = cc.GetDouble("max_mdf", 0.5, 1e-6, 0.999999);
        w.minCwnd = cc.GetDouble("min_cwnd", 0.001, 1e-6, 1e6);
        w.maxCwnd = cc.GetDouble("max_cwnd", 0, 0, 1e9);
        if (w.maxCwnd > 0 && w.maxCwnd < w.minCwnd)
        {
            std::ostringstream v;
            v << w.maxCwnd << " is below min_cwnd (" << w.minCwnd
              << "); accepted: 0 (line rate x target) or >= min_cwnd";
            throw ConfigError(cc.PathOf("max_cwnd"), v.str());
        }
        w.initCwnd = cc.GetDouble("init_cwnd", 0, 0, 1e9);
        w.retxResetThreshold =
            static_cast<uint32_t>(cc.GetUint("retx_reset_threshold", 5, 1, 1000));
        return;
    }
    if (s.ccType == "hpcc")
    {
        ScenarioSettings::Hpcc& h = s.hpcc;
        h.eta = cc.GetDouble("eta", 0.95, 0.01, 1);
        h.maxStage = static_cast<uint32_t>(cc.GetUint("max_stage", 0, 0, 1000));
        h.windowAi = cc.GetBytes("window_ai", 0, 0, 1ull << 30);
        h.baseRttPs = cc.GetTimePs("base_rtt", "0ps", 0, PS_PER_S);
        h.minRateBps = ReadCcRate(cc, "min_rate", "1Gbps");
        h.fastReact = cc.GetBool("fast_react", true);
        // Each ACK's telemetry is compared hop by hop with the previous ACK's: that needs the
        // same switches in the same order, i.e. one path per flow.
        if (s.loadBalancing == "spray" || s.loadBalancing == "adaptive")
        {
            throw ConfigError(cc.PathOf("type"),
                              "\"hpcc\" compares each hop's telemetry with the same hop's on "
                              "the previous ACK, so it needs one path per flow; "
                              "switch.load_balancing \"" +
                                  s.loadBalancing +
                                  "\" changes paths per packet (measured: a decode step 9.8x "
                                  "slower); accepted with hpcc: \"ecmp\", \"flowlet\"");
        }
        // Switch ports stamp their rate as a 4-bit code (int-telemetry.h).
        for (const auto& l : s.spec.links)
        {
            const bool switchEnd = s.spec.nodes[l.a].role != TopologySpec::HOST ||
                                   s.spec.nodes[l.b].role != TopologySpec::HOST;
            if (switchEnd && IntRateCode(l.rateBps) == 0)
            {
                throw ConfigError(cc.PathOf("type"),
                                  "\"hpcc\" cannot encode the " + FormatRate(l.rateBps) +
                                      " links of tier " + s.spec.tierNames[l.tier] +
                                      " in its telemetry; accepted link rates: 1, 10, 25, 40, "
                                      "50, 100, 200, 400, 800, 1000, 1280, 1600, 3200, 3600, "
                                      "6400 Gbps");
            }
        }
        return;
    }
    if (s.ccType != "dcqcn")
    {
        return;
    }
    ScenarioSettings::Dcqcn& d = s.dcqcn;
    d.g = cc.GetDouble("g", 1.0 / 256, 1.0 / 65536, 1);
    d.initialAlpha = cc.GetDouble("initial_alpha", 1.0, 0, 1);
    d.alphaIntervalPs = cc.GetTimePs("alpha_interval", "55us", 1000, PS_PER_S);
    d.rateDecreaseIntervalPs = cc.GetTimePs("rate_decrease_interval", "4us", 0, PS_PER_S);
    d.rateIncreaseIntervalPs = cc.GetTimePs("rate_increase_interval", "55us", 1000, PS_PER_S);
    d.byteCounter = cc.GetBytes("byte_counter", 10000000, 0, 1ull << 40);
    d.fastRecoverySteps = static_cast<uint32_t>(cc.GetUint("fast_recovery_steps", 5, 0, 1000));
    d.rateAiBps = ReadCcRate(cc, "rate_ai", "40Mbps");
    d.rateHaiBps = ReadCcRate(cc, "rate_hai", "400Mbps");
    d.minRateBps = ReadCcRate(cc, "min_rate", "100Mbps");
    d.cnpIntervalPs = cc.GetTimePs("cnp_interval", "50us", 0, PS_PER_S);
}

/// Whether @p config's switches mark ECN (a shared buffer with switch.ecn.enabled, the
/// default), read ahead of the switch section, which is parsed after the transport; a malformed
/// switch section is reported when it is parsed.
bool
SwitchesMarkEcn(const Json& config)
{
    const Json* sw = config.is_object() && config.contains("switch") ? &config["switch"] : nullptr;
    if (sw == nullptr || !sw->is_object() || !sw->contains("buffer") ||
        !(*sw)["buffer"].is_object() || (*sw)["buffer"].value("type", Json()) != "shared")
    {
        return false;
    }
    if (sw->contains("ecn") && (*sw)["ecn"].is_object() && (*sw)["ecn"].contains("enabled"))
    {
        return (*sw)["ecn"]["enabled"] == true;
    }
    return true;
}

/// transport of type "tcp": ns-3's TCP over the fabric (defaults: doc/moe-fabric.rst, "TCP
/// transport"). transport.mtu is the segment size; + 40 bytes of IPv4 and TCP it fits 9000.
void
ParseTcp(ScenarioSettings& s, ConfigReader& tr, bool switchesMark)
{
    ScenarioSettings::Tcp& t = s.tcp;
    // DCTCP where switches mark ECN; without marks it would degrade to loss-driven control.
    const std::string variant = tr.GetString("variant", switchesMark ? "dctcp" : "newreno");
    if (TcpTransport::VariantTypeName(variant).empty())
    {
        throw ConfigError(tr.PathOf("variant"),
                          "\"" + variant +
                              "\" is not a TCP variant; accepted: " + TcpTransport::VariantNames());
    }
    t.variant = variant;
    t.ecn = tr.GetBool("ecn", variant == "dctcp");
    if (variant == "dctcp" && !t.ecn)
    {
        throw ConfigError(tr.PathOf("ecn"),
                          "false, but variant dctcp needs ECN; accepted: true (or another "
                          "variant)");
    }
    t.minRtoPs = tr.GetTimePs("min_rto", "1ms", 1000000, 10 * PS_PER_S);
    t.initialCwnd = static_cast<uint32_t>(tr.GetUint("initial_cwnd", 10, 1, 10000));
    const uint64_t minBuffer = s.mtu + TcpTransport::RECORD_HEADER_BYTES;
    t.sendBufferBytes = tr.GetBytes("send_buffer", 4 << 20, minBuffer, 1ull << 30);
    t.recvBufferBytes = tr.GetBytes("recv_buffer", 4 << 20, minBuffer, 1ull << 30);
    t.delayedAckCount = static_cast<uint32_t>(tr.GetUint("delayed_ack_count", 2, 1, 64));
    t.delayedAckTimeoutPs = tr.GetTimePs("delayed_ack_timeout", "100us", 1000, PS_PER_S);
    if (variant == "dctcp")
    {
        t.dctcpG = tr.GetDouble("dctcp_g", 0.0625, 1.0 / 65536, 1);
    }
}
} // namespace

ScenarioSettings
ParseScenario(const Json& config, Json& effective)
{
    effective = Json::object();
    ConfigReader root(config, "", &effective);
    ScenarioSettings s;
    s.seed = root.GetUint("seed", 1, 1, 4294967295ull);
    s.name = root.GetString("name", "");

    {
        ConfigReader topo = root.GetObject("topology");
        s.spec = ParseTopology(topo);
    }
    const uint32_t numGpus = s.spec.NumHosts();

    ConfigReader sw = root.GetObject("switch");
    s.loadBalancing =
        sw.GetEnum("load_balancing", "ecmp", {"ecmp", "spray", "adaptive", "flowlet"});
    if (s.loadBalancing == "flowlet")
    {
        s.flowletGapPs = sw.GetTimePs("flowlet_gap", "100us", 0, PS_PER_S);
    }
    {
        ConfigReader tr = root.GetObject("transport");
        s.transportType = tr.GetEnum("type", "rdma", {"rdma", "ideal", "tcp"});
        s.mtu = static_cast<uint32_t>(tr.GetUint("mtu", 4096, 256, 8956));
        if (s.transportType == "rdma")
        {
            s.ackInterval = static_cast<uint32_t>(tr.GetUint("ack_interval", 1, 1, 65535));
            s.recovery =
                tr.GetEnum("recovery", "selective-repeat", {"selective-repeat", "go-back-n"});
            // Per-flow ECMP never reorders a flow, so three later packets prove a loss (as TCP's
            // three duplicate ACKs); spraying reorders by the queue differences between paths,
            // and 64 keeps retransmissions from being spurious (see doc/moe-fabric.rst).
            s.reorderThreshold = static_cast<uint32_t>(
                tr.GetUint("reorder_threshold",
                           s.loadBalancing == "spray" || s.loadBalancing == "adaptive" ? 64 : 3,
                           1,
                           1u << 20));
            s.rtoPs = tr.GetTimePs("rto", "320us", 1000, 10 * PS_PER_S);
            s.rtoLowPs = tr.GetTimePs("rto_low", "100us", 1000, 10 * PS_PER_S);
            s.rtoLowPackets = static_cast<uint32_t>(tr.GetUint("rto_low_packets", 3, 0, 1u << 20));
            if (s.rtoLowPs > s.rtoPs)
            {
                throw ConfigError(tr.PathOf("rto_low"),
                                  FormatTimePs(s.rtoLowPs) + " is longer than transport.rto (" +
                                      FormatTimePs(s.rtoPs) +
                                      "); the timeout for few packets in flight must not exceed "
                                      "the general one");
            }
            s.controlPriority = static_cast<uint32_t>(tr.GetUint("control_priority", 6, 0, 7));
            ConfigReader cc = tr.GetObject("cc");
            ParseCongestionControl(s, cc);
            cc.Finish();
            s.bdpFlowControl = tr.GetBool("bdp_fc", false);
            if (s.bdpFlowControl && (s.ccType == "hpcc" || s.ccType == "swift"))
            {
                throw ConfigError(tr.PathOf("bdp_fc"),
                                  "\"" + s.ccType +
                                      "\" sets each queue pair's window itself; accepted with "
                                      "it: false (BDP flow control is for transport.cc.type "
                                      "\"none\" and \"dcqcn\")");
            }
        }
        else if (s.transportType == "tcp")
        {
            ParseTcp(s, tr, SwitchesMarkEcn(config));
        }
        s.classPriority.resize(NUM_TRAFFIC_CLASSES);
        for (uint8_t c = 0; c < NUM_TRAFFIC_CLASSES; ++c)
        {
            s.classPriority[c] = c;
        }
        if (const Json* cp = tr.GetArray("class_priority"))
        {
            if (cp->size() != NUM_TRAFFIC_CLASSES)
            {
                throw ConfigError(tr.PathOf("class_priority"),
                                  "expected an array of 8 priorities (one per traffic class), "
                                  "got " +
                                      std::to_string(cp->size()) + " elements");
            }
            for (size_t i = 0; i < cp->size(); ++i)
            {
                s.classPriority[i] = static_cast<uint8_t>(
                    ReadJsonUint((*cp)[i], tr.ElementPath("class_priority", i), 0, 7));
            }
        }
        else
        {
            tr.SetEffective("class_priority", Json(s.classPriority));
        }
        tr.Finish();
    }

    {
        ConfigReader buf = sw.GetObject("buffer");
        s.bufferType = buf.GetEnum("type", "tail-drop", {"tail-drop", "shared"});
        const uint64_t frame = s.mtu + ROCE_DATA_HEADER_BYTES;
        if (s.bufferType == "shared")
        {
            ParseSharedBuffer(s, buf, sw);
        }
        else
        {
            // A shared-buffer key on the default tail-drop buffer: say which type takes it
            // rather than only "unknown key".
            for (const char* key : SHARED_BUFFER_KEYS)
            {
                if (buf.Has(key))
                {
                    throw ConfigError(buf.PathOf(key),
                                      "a key of the shared buffer, and this buffer is "
                                      "\"tail-drop\" (the default): set switch.buffer.type to "
                                      "\"shared\"; accepted with \"tail-drop\": type, "
                                      "queue_limit");
                }
            }
            s.queueLimitBytes = buf.GetBytes("queue_limit", 1 << 20, 0, 1ull << 40);
        }
        if (s.queueLimitBytes != 0 && s.queueLimitBytes < frame)
        {
            throw ConfigError(buf.PathOf("queue_limit"),
                              std::to_string(s.queueLimitBytes) + " bytes cannot hold one frame (" +
                                  std::to_string(frame) + " bytes at transport.mtu " +
                                  std::to_string(s.mtu) +
                                  "); accepted: 0 (unlimited) or >= " + std::to_string(frame));
        }
        buf.Finish();
        // Congestion control driven by ECN marks needs switches that mark: only the shared
        // buffer does (at dequeue, with switch.ecn). Without it DCQCN would run at line rate
        // and DCTCP degrade to loss-driven control, both silently.
        const bool marking = s.bufferType == "shared" && s.ecn;
        if (!marking && s.transportType == "rdma" && s.ccType == "dcqcn")
        {
            throw ConfigError("transport.cc.type",
                              "\"dcqcn\" reacts to ECN marks and no switch marks: set "
                              "switch.buffer.type \"shared\" (marking with switch.ecn, on by "
                              "default); accepted without marking: \"none\", \"hpcc\", "
                              "\"swift\"");
        }
        if (!marking && s.transportType == "tcp" && s.tcp.variant == "dctcp")
        {
            throw ConfigError("transport.variant",
                              "\"dctcp\" reacts to ECN marks and no switch marks: set "
                              "switch.buffer.type \"shared\" (marking with switch.ecn, on by "
                              "default); accepted without marking: every other variant, e.g. "
                              "\"newreno\" (the default then), \"cubic\"");
        }
        // Egress scheduling across priorities, on every port (switches and NICs).
        ConfigReader sched = sw.GetObject("scheduler");
        s.egressScheduler = sched.GetEnum("type", "strict", {"strict", "dwrr"});
        if (s.egressScheduler == "dwrr")
        {
            std::vector<uint64_t> weights(NUM_PRIORITIES, 1);
            if (const Json* w = sched.GetArray("weights"))
            {
                if (w->size() != NUM_PRIORITIES)
                {
                    throw ConfigError(sched.PathOf("weights"),
                                      "expected 8 weights (one per priority, 0 first), got " +
                                          std::to_string(w->size()));
                }
                for (size_t i = 0; i < w->size(); ++i)
                {
                    weights[i] = ReadJsonUint((*w)[i], sched.ElementPath("weights", i), 1, 1000);
                }
            }
            else
            {
                sched.SetEffective("weights", Json(weights));
            }
            s.dwrrWeights.clear();
            for (size_t i = 0; i < weights.size(); ++i)
            {
                s.dwrrWeights += (i ? "," : "") + std::to_string(weights[i]);
            }
            s.strictMask = 0;
            if (const Json* strict = sched.GetArray("strict_priorities"))
            {
                std::vector<uint64_t> seen;
                for (size_t i = 0; i < strict->size(); ++i)
                {
                    seen.push_back(ReadDistinctJsonUint((*strict)[i],
                                                        sched.ElementPath("strict_priorities", i),
                                                        0,
                                                        7,
                                                        seen,
                                                        "priority"));
                    s.strictMask |= static_cast<uint8_t>(1u << seen.back());
                }
            }
            else
            {
                s.strictMask = 0xc0;
                sched.SetEffective("strict_priorities", Json::array({6, 7}));
            }
        }
        sched.Finish();
        sw.Finish();
    }

    {
        ConfigReader nic = root.GetObject("nic");
        ParseNicReceive(s, nic, numGpus);
        nic.Finish();
    }

    const bool hasWorkload = config.is_object() && config.contains("workload");
    if (hasWorkload && config.contains("traffic"))
    {
        throw ConfigError("workload",
                          "give either traffic (a synthetic all-to-all) or workload (an MoE "
                          "workload), not both");
    }
    if (hasWorkload)
    {
        ConfigReader wl = root.GetObject("workload");
        wl.GetEnum("type", "moe", {"moe"});
        s.moe = true;
        s.moeSpec = ParseMoeWorkload(wl, config["workload"], s.spec, s.seed, s.moeOptions);
        wl.Finish();
        const AdmissionSpec& adm = s.moeOptions.serving.admission;
        if (s.moeOptions.serving.enabled && adm.type == "feedback")
        {
            if (adm.signal == "ecn_mark_rate" && (s.bufferType != "shared" || !s.ecn))
            {
                throw ConfigError("workload.serving.admission.signal",
                                  "\"ecn_mark_rate\" needs switches that mark: "
                                  "switch.buffer.type \"shared\" with switch.ecn.enabled true; "
                                  "accepted otherwise: \"queueing_delay\", "
                                  "\"pfc_paused_fraction\" (with lossless priorities)");
            }
            if (adm.signal == "pfc_paused_fraction" &&
                (s.bufferType != "shared" || s.losslessMask == 0))
            {
                throw ConfigError("workload.serving.admission.signal",
                                  "\"pfc_paused_fraction\" needs a lossless fabric: "
                                  "switch.buffer.type \"shared\" with "
                                  "switch.buffer.lossless_priorities; accepted otherwise: "
                                  "\"queueing_delay\", \"ecn_mark_rate\" (with ECN)");
            }
        }
    }
    else
    {
        ConfigReader tf = root.GetObject("traffic");
        tf.GetEnum("type", "all-to-all", {"all-to-all"});
        s.rounds = static_cast<uint32_t>(tf.GetUint("rounds", 1, 1, 1000000));
        s.computeGapPs = tf.GetTimePs("compute_gap", "0s", 0, 100 * PS_PER_S);
        s.trafficClass = static_cast<uint8_t>(tf.GetUint("class", 0, 0, NUM_TRAFFIC_CLASSES - 1));
        // Participants: a count (the first N GPUs, 0 = all) or an explicit list of GPU ids.
        const Json* gpusRaw = nullptr;
        if (auto t = config.find("traffic"); t != config.end() && t->is_object())
        {
            if (auto g = t->find("gpus"); g != t->end())
            {
                gpusRaw = &*g;
            }
        }
        if (gpusRaw != nullptr && gpusRaw->is_array())
        {
            const Json* list = tf.GetArray("gpus");
            std::set<uint32_t> seen;
            for (size_t i = 0; i < list->size(); ++i)
            {
                const uint32_t g = static_cast<uint32_t>(
                    ReadJsonUint((*list)[i], tf.ElementPath("gpus", i), 0, numGpus - 1));
                if (!seen.insert(g).second)
                {
                    throw ConfigError(tf.ElementPath("gpus", i),
                                      "GPU " + std::to_string(g) + " is listed twice");
                }
                s.participants.push_back(g);
            }
            if (s.participants.size() < 2)
            {
                throw ConfigError(tf.PathOf("gpus"), "an all-to-all needs at least 2 GPUs");
            }
        }
        else
        {
            if (numGpus < 2)
            {
                throw ConfigError(tf.PathOf("gpus"),
                                  "the topology holds " + std::to_string(numGpus) +
                                      " GPU; an all-to-all needs at least 2");
            }
            if (gpusRaw != nullptr && gpusRaw->is_number_unsigned() &&
                gpusRaw->get<uint64_t>() > numGpus)
            {
                throw ConfigError(tf.PathOf("gpus"),
                                  std::to_string(gpusRaw->get<uint64_t>()) +
                                      " GPUs requested but the topology holds " +
                                      std::to_string(numGpus) + "; accepted: 0 (all), 2.." +
                                      std::to_string(numGpus) + ", or a list of GPU ids");
            }
            const uint32_t n = static_cast<uint32_t>(tf.GetUint("gpus", 0, 0, numGpus));
            if (n == 1)
            {
                throw ConfigError(tf.PathOf("gpus"), "an all-to-all needs at least 2 GPUs");
            }
            const uint32_t count = n == 0 ? numGpus : n;
            for (uint32_t g = 0; g < count; ++g)
            {
                s.participants.push_back(g);
            }
        }
        const size_t n = s.participants.size();
        const bool hasMatrix = tf.Has("matrix");
        if (hasMatrix && tf.Has("bytes_per_pair"))
        {
            throw ConfigError(tf.PathOf("matrix"),
                              "give either traffic.bytes_per_pair or traffic.matrix, not both");
        }
        if (hasMatrix && tf.Has("peers"))
        {
            throw ConfigError(tf.PathOf("peers"),
                              "give either traffic.peers or traffic.matrix, not both");
        }
        if (tf.Has("peers"))
        {
            // Shift pattern: rank i sends bytes_per_pair to rank (i + offset) mod N for each
            // offset -- permutation and stride traffic without an N x N matrix in the config.
            const Json* list = tf.GetArray("peers");
            if (list->empty())
            {
                throw ConfigError(tf.PathOf("peers"),
                                  "expected at least one rank offset in 1.." +
                                      std::to_string(n - 1));
            }
            std::set<uint64_t> seen;
            for (size_t k = 0; k < list->size(); ++k)
            {
                const uint64_t o = ReadJsonUint((*list)[k], tf.ElementPath("peers", k), 1, n - 1);
                if (!seen.insert(o).second)
                {
                    throw ConfigError(tf.ElementPath("peers", k),
                                      "offset " + std::to_string(o) + " is listed twice");
                }
                s.peerOffsets.push_back(static_cast<uint32_t>(o));
            }
        }
        if (hasMatrix)
        {
            const Json* m = tf.GetArray("matrix");
            if (m->size() != n)
            {
                throw ConfigError(tf.PathOf("matrix"),
                                  "expected " + std::to_string(n) +
                                      " rows (one per GPU of the "
                                      "all-to-all), got " +
                                      std::to_string(m->size()));
            }
            s.matrix.assign(n, std::vector<uint64_t>(n, 0));
            Json normalized = Json::array();
            for (size_t i = 0; i < n; ++i)
            {
                const std::string rowPath = tf.ElementPath("matrix", i);
                const Json& row = (*m)[i];
                if (!row.is_array() || row.size() != n)
                {
                    throw ConfigError(rowPath,
                                      "expected an array of " + std::to_string(n) +
                                          " byte counts (one per GPU), got " +
                                          (row.is_array()
                                               ? "an array of " + std::to_string(row.size())
                                               : DescribeJson(row)));
                }
                for (size_t j = 0; j < n; ++j)
                {
                    s.matrix[i][j] = ReadJsonBytes(row[j], IndexPath(rowPath, j), 0, 1ull << 40);
                }
                normalized.push_back(s.matrix[i]);
            }
            // Byte counts in the effective config, whatever units the input used.
            tf.SetEffective("matrix", normalized);
        }
        else
        {
            s.bytesPerPair = tf.GetBytes("bytes_per_pair", 1 << 20, 0, 1ull << 40);
        }
        tf.Finish();
    }

    {
        ConfigReader out = root.GetObject("output");
        s.messagesCsv = out.GetBool("messages_csv", !s.moe);
        if (s.moe)
        {
            s.layerPhasesCsv = out.GetBool("layer_phases_csv", true);
        }
        s.pcap = out.GetEnum("pcap", "none", {"none", "hosts", "all"});
        s.sampleIntervalPs = out.GetTimePs("sample_interval", "0s", 0, 1000 * PS_PER_S);
        s.pfcEventsCsv = out.GetBool("pfc_events_csv", false);
        if (s.transportType == "rdma")
        {
            s.qpRatesCsv = out.GetBool("qp_rates_csv", false);
        }
        out.Finish();
    }

    {
        ConfigReader sim = root.GetObject("simulation");
        s.stopTimePs = sim.GetTimePs("stop_time", "10s", 1, 1000 * PS_PER_S);
        s.noProgressPs = sim.GetTimePs("no_progress_timeout", "100ms", 0, 1000 * PS_PER_S);
        if (s.noProgressPs > 0 && s.noProgressPs < 1000000)
        {
            // Checked every quarter of it: shorter would check (and scan every link) every few
            // picoseconds, and stop runs between two frames.
            throw ConfigError(sim.PathOf("no_progress_timeout"),
                              FormatTimePs(s.noProgressPs) +
                                  " is too short; accepted: 0 (never) or 1us..1000s");
        }
        s.scheduler =
            sim.GetEnum("scheduler", "map", {"map", "heap", "calendar", "list", "moe-heap"});
        sim.Finish();
    }

    root.Finish();
    return s;
}

// =============================================================================================
// Scenario

Scenario::Scenario(const Json& config)
{
    // In the body, not the initializer list: m_effective must exist before ParseScenario fills it.
    m_settings = ParseScenario(config, m_effective);
}

Scenario::~Scenario()
{
}

namespace
{
/// "fnv1a64:<16 hex digits>"
std::string
HashText(const std::string& text)
{
    std::ostringstream ss;
    ss << "fnv1a64:" << std::hex << std::setw(16) << std::setfill('0') << Fnv1a64(text);
    return ss.str();
}
} // namespace

std::string
HashConfig(const Json& config)
{
    return HashText(config.dump());
}

std::string
HashInputFile(const std::string& path, uint64_t& bytes)
{
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode))
    {
        return "";
    }
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        return "";
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bytes = text.size();
    return HashText(text);
}

std::string
Scenario::GetConfigHash() const
{
    return HashConfig(m_effective);
}

void
Scenario::SetInvocation(const Json& invocation)
{
    m_invocation = invocation;
}

Json
Scenario::DescribeInputs() const
{
    Json inputs = Json::array();
    if (!m_settings.moe)
    {
        return inputs;
    }
    const std::pair<const char*, std::string> files[] = {
        {"workload.gate.file", m_settings.moeSpec.gate.replayFile},
        {"workload.serving.trace", m_settings.moeOptions.serving.traceFile},
    };
    for (const auto& [key, path] : files)
    {
        if (path.empty())
        {
            continue;
        }
        Json f = Json::object();
        f["key"] = key;
        f["path"] = path;
        char* resolved = realpath(path.c_str(), nullptr);
        f["absolute_path"] = resolved != nullptr ? std::string(resolved) : path;
        std::free(resolved);
        uint64_t bytes = 0;
        f["hash"] = HashInputFile(path, bytes);
        f["bytes"] = bytes;
        inputs.push_back(f);
    }
    return inputs;
}

const Json&
Scenario::GetEffectiveConfig() const
{
    return m_effective;
}

const ScenarioSettings&
Scenario::GetSettings() const
{
    return m_settings;
}

Ptr<FabricTopology>
Scenario::GetTopology() const
{
    return m_topology;
}

Ptr<MessageTransport>
Scenario::GetTransport() const
{
    return m_transport;
}

Ptr<AllToAllTraffic>
Scenario::GetTraffic() const
{
    return m_traffic;
}

Ptr<MoeWorkload>
Scenario::GetMoeWorkload() const
{
    return m_moe;
}

Ptr<MoeWorkload>
Scenario::GetIdealTwin() const
{
    return m_twin;
}

Ptr<ServingLoop>
Scenario::GetServingLoop() const
{
    return m_serving;
}

Time
Scenario::GetRoundBound() const
{
    return m_bound;
}

std::function<double()>
Scenario::MakeFeedbackProbe(const ServingSpec& serving, uint32_t& watchedPorts)
{
    const AdmissionSpec& a = serving.admission;
    const TopologySpec& ts = m_topology->GetSpec();
    // The watched ports: every egress port of the fabric's switches (NVSwitches and NICs hold
    // the GPUs' own send backlog, not shared fabric state), or only the switch ports on the
    // routed paths between the GPUs of the groups serving one class.
    std::vector<std::pair<uint32_t, uint32_t>> watched; // (spec node, port)
    if (a.watchClass.empty())
    {
        for (uint32_t node = 0; node < ts.nodes.size(); ++node)
        {
            if (ts.nodes[node].role != TopologySpec::SWITCH)
            {
                continue;
            }
            for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
            {
                watched.emplace_back(node, port);
            }
        }
    }
    else
    {
        uint32_t cls = 0;
        while (serving.classes[cls].name != a.watchClass)
        {
            ++cls;
        }
        std::vector<uint32_t> groups = a.classes[cls].groups;
        if (groups.empty())
        {
            for (uint32_t g = 0; g < m_moe->GetNumGroups(); ++g)
            {
                groups.push_back(g);
            }
        }
        std::set<uint32_t> gpus(m_moe->GetSpec().expertGpus.begin(),
                                m_moe->GetSpec().expertGpus.end());
        for (uint32_t g : groups)
        {
            const auto& nodes = m_moe->GetGroupNodes(g);
            gpus.insert(nodes.begin(), nodes.end());
        }
        std::map<std::pair<uint32_t, uint32_t>, uint32_t> portOf; // (node, link) -> port
        std::set<uint32_t> mapped;                                // nodes in portOf
        std::set<std::pair<uint32_t, uint32_t>> onPaths;
        for (uint32_t src : gpus)
        {
            for (uint32_t dst : gpus)
            {
                if (src == dst)
                {
                    continue;
                }
                for (const auto& path : m_topology->GetPaths(src, dst))
                {
                    for (size_t i = 0; i < path.links.size(); ++i)
                    {
                        const uint32_t node = path.nodes[i];
                        if (ts.nodes[node].role != TopologySpec::SWITCH)
                        {
                            continue;
                        }
                        if (mapped.insert(node).second)
                        {
                            for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
                            {
                                portOf[{node, m_topology->GetPortLink(node, port)}] = port;
                            }
                        }
                        onPaths.insert({node, portOf.at({node, path.links[i]})});
                    }
                }
            }
        }
        watched.assign(onPaths.begin(), onPaths.end());
    }
    watchedPorts = static_cast<uint32_t>(watched.size());
    std::vector<Ptr<FabricNetDevice>> devices;
    for (const auto& [node, port] : watched)
    {
        devices.push_back(m_topology->GetPort(node, port));
    }
    if (a.signal == "queueing_delay")
    {
        // The largest queueing delay (queued bytes at the port's rate) now.
        return [devices]() {
            double worst = 0;
            for (const auto& dev : devices)
            {
                const double bps = static_cast<double>(dev->GetDataRate().GetBitRate());
                worst = std::max(worst, dev->GetQueueBytes() * 8.0 / bps);
            }
            return worst;
        };
    }
    if (a.signal == "ecn_mark_rate")
    {
        // CE marks over frames sent by the watched ports since the previous sample (0 when
        // they sent nothing). The switches' MMUs count marks per egress port at dequeue.
        struct Source
        {
            Ptr<FabricNetDevice> device;
            std::vector<Ptr<SharedBufferMmu>> mmus;
            uint32_t port;
        };

        auto sources = std::make_shared<std::vector<Source>>();
        for (size_t i = 0; i < watched.size(); ++i)
        {
            sources->push_back({devices[i],
                                BufferParts(m_topology->GetSwitch(watched[i].first)),
                                watched[i].second});
        }
        auto last = std::make_shared<std::pair<uint64_t, uint64_t>>(0, 0); // marks, frames
        return [sources, last]() {
            uint64_t marks = 0;
            uint64_t frames = 0;
            for (const auto& src : *sources)
            {
                for (const auto& mmu : src.mmus)
                {
                    marks += mmu->GetEcnMarks(src.port);
                }
                frames += src.device->GetCounters().txFrames;
            }
            const uint64_t dMarks = marks - last->first;
            const uint64_t dFrames = frames - last->second;
            *last = {marks, frames};
            return dFrames == 0 ? 0.0 : static_cast<double>(dMarks) / static_cast<double>(dFrames);
        };
    }
    // pfc_paused_fraction: the largest share of the time since the previous sample that a
    // watched port was paused (on any priority).
    auto last = std::make_shared<std::vector<int64_t>>(devices.size() * NUM_PRIORITIES, 0);
    auto lastPs = std::make_shared<int64_t>(Simulator::Now().GetPicoSeconds());
    return [devices, last, lastPs]() {
        const int64_t now = Simulator::Now().GetPicoSeconds();
        const int64_t span = now - *lastPs;
        *lastPs = now;
        double worst = 0;
        for (size_t d = 0; d < devices.size(); ++d)
        {
            for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
            {
                const int64_t paused = devices[d]->GetPausedTime(p).GetPicoSeconds();
                int64_t& before = (*last)[d * NUM_PRIORITIES + p];
                if (span > 0)
                {
                    worst = std::max(worst, static_cast<double>(paused - before) / span);
                }
                before = paused;
            }
        }
        return worst;
    };
}

void
Scenario::Build(const std::string& outputDir)
{
    NS_ABORT_MSG_IF(m_built, "Scenario::Build called twice");
    const ScenarioSettings& s = m_settings;
    static const std::map<std::string, std::string> schedulers{
        {"map", "ns3::MapScheduler"},
        {"heap", "ns3::HeapScheduler"},
        {"calendar", "ns3::CalendarScheduler"},
        {"list", "ns3::ListScheduler"},
        {"moe-heap", "ns3::moe::FabricHeapScheduler"}};
    ObjectFactory scheduler;
    scheduler.SetTypeId(schedulers.at(s.scheduler));
    Simulator::SetScheduler(scheduler);
    RngSeedManager::SetSeed(static_cast<uint32_t>(s.seed));
    RngSeedManager::SetRun(1);

    FabricHelper fabric;
    fabric.SetSeed(s.seed);
    fabric.SetSwitchAttribute("LoadBalancing", StringValue(s.loadBalancing));
    if (s.loadBalancing == "flowlet")
    {
        fabric.SetSwitchAttribute("FlowletGap", TimeValue(PicoSeconds(s.flowletGapPs)));
    }
    if (s.bufferType == "shared")
    {
        fabric.SetSwitchAdmission("ns3::moe::SharedBufferMmu");
        fabric.SetSwitchBufferPartitions(s.bufferPartitions);
        ApplySharedBuffer(s, [&fabric](const std::string& n, const AttributeValue& v) {
            fabric.SetSwitchAdmissionAttribute(n, v);
        });
        fabric.SetDeviceAttribute("PfcPauseQuanta", UintegerValue(s.pfcQuanta));
        if (s.pfcWatchdogPs > 0)
        {
            fabric.SetDeviceAttribute("PfcWatchdogTimeout",
                                      TimeValue(PicoSeconds(s.pfcWatchdogPs)));
            fabric.SetDeviceAttribute("PfcWatchdogAction", StringValue(s.pfcWatchdogAction));
            fabric.SetDeviceAttribute("PfcWatchdogRestore", TimeValue(PicoSeconds(s.pfcRestorePs)));
        }
    }
    else
    {
        fabric.SetSwitchAdmissionAttribute("QueueLimit", UintegerValue(s.queueLimitBytes));
    }
    fabric.SetDeviceAttribute("Mtu", UintegerValue(s.deviceMtu));
    if (s.egressScheduler == "dwrr")
    {
        fabric.SetDeviceAttribute("Scheduler", StringValue("dwrr"));
        fabric.SetDeviceAttribute("DwrrWeights", StringValue(s.dwrrWeights));
        fabric.SetDeviceAttribute("StrictPriorities", UintegerValue(s.strictMask));
    }
    m_topology = fabric.Install(s.spec);
    if (s.nicRxDrainBps != 0)
    {
        std::vector<uint32_t> gpus = s.nicRxGpus;
        if (gpus.empty())
        {
            for (uint32_t g = 0; g < s.spec.NumHosts(); ++g)
            {
                gpus.push_back(g);
            }
        }
        for (uint32_t g : gpus)
        {
            Ptr<FabricHost> host = m_topology->GetHost(g);
            host->SetAttribute("RxDrainRate", DataRateValue(DataRate(s.nicRxDrainBps)));
            host->SetAttribute("RxBufferSize", UintegerValue(s.nicRxBufferBytes));
            host->SetAttribute("RxXoffBytes", UintegerValue(s.nicRxXoffBytes));
            host->SetAttribute("RxXonBytes", UintegerValue(s.nicRxXonBytes));
            host->SetAttribute("RxLosslessPriorities", UintegerValue(s.losslessMask));
        }
    }
    if (s.pcap != "none" && !outputDir.empty())
    {
        const std::string prefix = outputDir + "/pcap";
        fabric.EnablePcap(prefix,
                          s.pcap == "hosts" ? m_topology->GetHostNodes() : m_topology->GetNodes(),
                          false);
    }

    if (s.transportType == "rdma")
    {
        Ptr<RdmaTransport> rdma = CreateObject<RdmaTransport>();
        rdma->SetAttribute("Mtu", UintegerValue(s.mtu));
        rdma->SetAttribute("AckInterval", UintegerValue(s.ackInterval));
        rdma->SetAttribute("Recovery", StringValue(s.recovery));
        rdma->SetAttribute("ReorderThreshold", UintegerValue(s.reorderThreshold));
        rdma->SetAttribute("RetransmitTimeout", TimeValue(PicoSeconds(s.rtoPs)));
        rdma->SetAttribute("RetransmitTimeoutLow", TimeValue(PicoSeconds(s.rtoLowPs)));
        rdma->SetAttribute("RtoLowPackets", UintegerValue(s.rtoLowPackets));
        rdma->SetAttribute("ControlPriority", UintegerValue(s.controlPriority));
        rdma->SetAttribute("BdpFlowControl", BooleanValue(s.bdpFlowControl));
        if (s.ccType == "dcqcn")
        {
            const ScenarioSettings::Dcqcn& d = s.dcqcn;
            rdma->SetCongestionControl("ns3::moe::DcqcnCongestionControl");
            rdma->SetCongestionControlAttribute("G", DoubleValue(d.g));
            rdma->SetCongestionControlAttribute("InitialAlpha", DoubleValue(d.initialAlpha));
            rdma->SetCongestionControlAttribute("AlphaInterval",
                                                TimeValue(PicoSeconds(d.alphaIntervalPs)));
            rdma->SetCongestionControlAttribute("RateDecreaseInterval",
                                                TimeValue(PicoSeconds(d.rateDecreaseIntervalPs)));
            rdma->SetCongestionControlAttribute("RateIncreaseInterval",
                                                TimeValue(PicoSeconds(d.rateIncreaseIntervalPs)));
            rdma->SetCongestionControlAttribute("ByteCounter", UintegerValue(d.byteCounter));
            rdma->SetCongestionControlAttribute("FastRecoverySteps",
                                                UintegerValue(d.fastRecoverySteps));
            rdma->SetCongestionControlAttribute("RateAi", DataRateValue(DataRate(d.rateAiBps)));
            rdma->SetCongestionControlAttribute("RateHai", DataRateValue(DataRate(d.rateHaiBps)));
            rdma->SetCongestionControlAttribute("MinRate", DataRateValue(DataRate(d.minRateBps)));
            rdma->SetCongestionControlAttribute("CnpInterval",
                                                TimeValue(PicoSeconds(d.cnpIntervalPs)));
        }
        else if (s.ccType == "hpcc")
        {
            const ScenarioSettings::Hpcc& h = s.hpcc;
            rdma->SetCongestionControl("ns3::moe::HpccCongestionControl");
            rdma->SetCongestionControlAttribute("Eta", DoubleValue(h.eta));
            rdma->SetCongestionControlAttribute("MaxStage", UintegerValue(h.maxStage));
            rdma->SetCongestionControlAttribute("WindowAi", UintegerValue(h.windowAi));
            rdma->SetCongestionControlAttribute("BaseRtt", TimeValue(PicoSeconds(h.baseRttPs)));
            rdma->SetCongestionControlAttribute("MinRate", DataRateValue(DataRate(h.minRateBps)));
            rdma->SetCongestionControlAttribute("FastReact", BooleanValue(h.fastReact));
        }
        else if (s.ccType == "swift")
        {
            const ScenarioSettings::Swift& w = s.swift;
            rdma->SetCongestionControl("ns3::moe::SwiftCongestionControl");
            rdma->SetCongestionControlAttribute("BaseTarget",
                                                TimeValue(PicoSeconds(w.baseTargetPs)));
            rdma->SetCongestionControlAttribute("PerHopScaling",
                                                TimeValue(PicoSeconds(w.perHopPs)));
            rdma->SetCongestionControlAttribute("FsRange", TimeValue(PicoSeconds(w.fsRangePs)));
            rdma->SetCongestionControlAttribute("FsMinCwnd", DoubleValue(w.fsMinCwnd));
            rdma->SetCongestionControlAttribute("FsMaxCwnd", DoubleValue(w.fsMaxCwnd));
            rdma->SetCongestionControlAttribute("Ai", DoubleValue(w.ai));
            rdma->SetCongestionControlAttribute("Beta", DoubleValue(w.beta));
            rdma->SetCongestionControlAttribute("MaxMdf", DoubleValue(w.maxMdf));
            rdma->SetCongestionControlAttribute("MinCwnd", DoubleValue(w.minCwnd));
            rdma->SetCongestionControlAttribute("MaxCwnd", DoubleValue(w.maxCwnd));
            rdma->SetCongestionControlAttribute("InitCwnd", DoubleValue(w.initCwnd));
            rdma->SetCongestionControlAttribute("RetxResetThreshold",
                                                UintegerValue(w.retxResetThreshold));
        }
        rdma->SetSeed(s.seed);
        m_transport = rdma;
    }
    else if (s.transportType == "tcp")
    {
        const ScenarioSettings::Tcp& t = s.tcp;
        Ptr<TcpTransport> tcp = CreateObject<TcpTransport>();
        tcp->SetAttribute("Variant", StringValue(t.variant));
        tcp->SetAttribute("SegmentSize", UintegerValue(s.mtu));
        tcp->SetAttribute("UseEcn", BooleanValue(t.ecn));
        tcp->SetAttribute("MinRto", TimeValue(PicoSeconds(t.minRtoPs)));
        tcp->SetAttribute("InitialCwnd", UintegerValue(t.initialCwnd));
        tcp->SetAttribute("SndBufSize", UintegerValue(t.sendBufferBytes));
        tcp->SetAttribute("RcvBufSize", UintegerValue(t.recvBufferBytes));
        tcp->SetAttribute("DelAckCount", UintegerValue(t.delayedAckCount));
        tcp->SetAttribute("DelAckTimeout", TimeValue(PicoSeconds(t.delayedAckTimeoutPs)));
        tcp->SetAttribute("DctcpG", DoubleValue(t.dctcpG));
        m_transport = tcp;
    }
    else
    {
        Ptr<IdealTransport> ideal = CreateObject<IdealTransport>();
        ideal->SetAttribute("Mtu", UintegerValue(s.mtu));
        m_transport = ideal;
    }
    for (uint8_t c = 0; c < NUM_TRAFFIC_CLASSES; ++c)
    {
        m_transport->SetClassPriority(c, s.classPriority[c]);
    }
    if (auto rdma = DynamicCast<RdmaTransport>(m_transport))
    {
        rdma->Install(m_topology);
    }
    else if (auto tcp = DynamicCast<TcpTransport>(m_transport))
    {
        tcp->Install(m_topology);
    }
    else
    {
        DynamicCast<IdealTransport>(m_transport)->Install(m_topology);
    }

    if (s.moe)
    {
        const GpuLayout layout = MakeGpuLayout(s.spec);
        m_moe = CreateObject<MoeWorkload>();
        m_moe->Configure(s.moeSpec, layout);
        m_moe->SetRecordMessages(s.messagesCsv);
        m_moe->Install(m_topology->GetHostNodes(), m_transport);
        m_moe->SetDoneCallback(MakeCallback(&Scenario::OnMoeDone, this));
        if (s.moeOptions.serving.enabled)
        {
            m_serving = CreateObject<ServingLoop>();
            m_serving->Setup(s.moeOptions.serving, s.moeOptions.requests, m_moe);
            if (s.moeOptions.serving.admission.type == "feedback")
            {
                uint32_t watched = 0;
                auto probe = MakeFeedbackProbe(s.moeOptions.serving, watched);
                m_serving->SetCongestionProbe(probe, watched);
            }
        }
        // Longest path between the workload's GPUs, for one full frame.
        std::vector<uint32_t> gpus = s.moeSpec.nodeGpus;
        gpus.insert(gpus.end(), s.moeSpec.expertGpus.begin(), s.moeSpec.expertGpus.end());
        m_maxPathLatency =
            std::max(m_maxPathLatency,
                     m_topology->GetMaxPathLatency(gpus, s.mtu + ROCE_DATA_HEADER_BYTES));
        if (s.moeOptions.fabricTax)
        {
            // The same workload (same routing: the gate is deterministic) on the ideal
            // transport, in the same simulation: it sends no packets, so the two do not meet.
            Ptr<IdealTransport> ideal = CreateObject<IdealTransport>();
            ideal->SetAttribute("Mtu", UintegerValue(s.mtu));
            for (uint8_t c = 0; c < NUM_TRAFFIC_CLASSES; ++c)
            {
                ideal->SetClassPriority(c, s.classPriority[c]);
            }
            ideal->Install(m_topology);
            m_twinTransport = ideal;
            m_twin = CreateObject<MoeWorkload>();
            m_twin->Configure(s.moeSpec, layout);
            m_twin->Install(m_topology->GetHostNodes(), m_twinTransport);
            m_twin->SetDoneCallback(MakeCallback(&Scenario::OnMoeDone, this));
        }
        m_built = true;
        return;
    }

    m_traffic = CreateObject<AllToAllTraffic>();
    m_traffic->SetAttribute("Rounds", UintegerValue(s.rounds));
    m_traffic->SetAttribute("BytesPerPair", UintegerValue(s.bytesPerPair));
    m_traffic->SetAttribute("ComputeGap", TimeValue(PicoSeconds(s.computeGapPs)));
    m_traffic->SetAttribute("TrafficClass", UintegerValue(s.trafficClass));
    m_traffic->SetParticipants(s.participants);
    if (!s.peerOffsets.empty())
    {
        m_traffic->SetPeerOffsets(s.peerOffsets);
    }
    if (!s.matrix.empty())
    {
        m_traffic->SetMatrix(s.matrix);
    }
    m_traffic->SetRecordMessages(s.messagesCsv);
    m_traffic->SetDoneCallback(MakeCallback(&Scenario::OnTrafficDone, this));
    ComputeBound();
    m_built = true;
}

void
Scenario::ComputeBound()
{
    // A lower bound on a round's completion (the last byte delivered), the largest of:
    //  - per sending interface (a GPU's NIC or NVLink port): its wire bytes / its rate, after
    //    which the last frame out (the final frame of one of its messages) still has to reach
    //    its destination: + the shortest such remaining trip among its messages;
    //  - per receiving interface: the earliest any frame can start arriving (the shortest trip
    //    of a message's frame up to the last link, plus that link's delay) + its wire bytes /
    //    its rate;
    //    a relay GPU (PXN) receives the messages it relays on its NVLink port and sends them
    //    on its NIC: they count there too, with the trips to and from the relay;
    //  - per message and per link of its path that every one of its frames must cross (one
    //    with a GPU at either end: its own NIC or NVLink port, the destination's, a relay's):
    //    the earliest trip of a frame up to that link + the message's wire bytes / that link's
    //    rate + the final frame's trip from there (what a fast first link, such as the NVLink
    //    hop to a rail-only relay, costs a message on its own). Links between switches may be
    //    one of several equal-cost paths a message is sprayed over (and the ideal transport
    //    does not model them): they add no such term.
    // Trips use the message's smallest frame (its final one), which may overtake the others on
    // another path. Only pairs that send count: a zero entry posts no message.
    const auto& parts = m_settings.participants;
    const uint32_t gpus = m_topology->GetNumGpus();
    const auto& links = m_topology->GetSpec().links;
    const auto& nodes = m_topology->GetSpec().nodes;
    const uint32_t mtu = m_settings.mtu;
    std::vector<uint64_t> sent(static_cast<size_t>(gpus) * 2, 0);
    std::vector<uint64_t> received(static_cast<size_t>(gpus) * 2, 0);
    constexpr int64_t NONE = std::numeric_limits<int64_t>::max();
    std::vector<int64_t> sendTail(static_cast<size_t>(gpus) * 2, NONE);
    std::vector<int64_t> receiveHead(static_cast<size_t>(gpus) * 2, NONE);
    int64_t boundPs = 0;
    uint64_t largest = 0;
    std::vector<int64_t> head; // per link of a path: the smallest frame's trip up to its start
    m_roundMessages = 0;
    m_roundBytes = 0;
    m_traffic->ForEachMessage([&](uint32_t i, uint32_t j, uint64_t bytes) {
        ++m_roundMessages;
        m_roundBytes += bytes;
        const uint32_t src = parts[i];
        const uint32_t dst = parts[j];
        const uint64_t wire = RoceMessageWireBytes(bytes, mtu);
        largest = std::max(largest, bytes);
        const uint32_t out = 2 * src + m_topology->GetEgressPort(src, dst);
        const uint32_t in = 2 * dst + (m_topology->SameServer(src, dst) ? 1 : 0);
        sent[out] += wire;
        received[in] += wire;
        const uint64_t finalFrame = WireBytes(
            static_cast<uint32_t>(bytes % mtu == 0 ? mtu : bytes % mtu) + ROCE_DATA_HEADER_BYTES);
        const std::vector<uint32_t> path = m_topology->GetPathLinks(src, dst);
        const size_t h = path.size();
        // A relayed message's links into and out of the relay (PXN: NVLink in, NIC out).
        const uint32_t relay = m_topology->GetRelay(src, dst);
        size_t relayIn = h;
        if (relay != FabricTopology::NO_RELAY)
        {
            const uint32_t relayNode = m_topology->GetSpec().hostNode[relay];
            for (size_t k = 0; k + 1 < h; ++k)
            {
                const auto& l = links[path[k]];
                if (l.a == relayNode || l.b == relayNode)
                {
                    relayIn = k;
                    break;
                }
            }
            NS_ABORT_MSG_IF(relayIn == h,
                            "ComputeBound: relay " << relay << " not on the path " << src << " -> "
                                                   << dst);
            sent[2 * relay] += wire;
            received[2 * relay + 1] += wire;
        }
        head.assign(h, 0);
        for (size_t k = 1; k < h; ++k)
        {
            const auto& l = links[path[k - 1]];
            head[k] = head[k - 1] + SerializationPs(finalFrame, l.rateBps) + l.delayPs;
        }
        int64_t tail = 0; // the final frame's trip from the end of link k's serialization
        for (size_t k = h; k-- > 0;)
        {
            const auto& l = links[path[k]];
            tail += l.delayPs;
            if (nodes[l.a].role == TopologySpec::HOST || nodes[l.b].role == TopologySpec::HOST)
            {
                boundPs = std::max(boundPs, head[k] + SerializationPs(wire, l.rateBps) + tail);
            }
            if (k == 0)
            {
                sendTail[out] = std::min(sendTail[out], tail);
            }
            if (relayIn < h && k == relayIn + 1)
            {
                sendTail[2 * relay] = std::min(sendTail[2 * relay], tail);
            }
            tail += k > 0 ? SerializationPs(finalFrame, l.rateBps) : 0;
        }
        receiveHead[in] = std::min(receiveHead[in], head[h - 1] + links[path[h - 1]].delayPs);
        if (relayIn < h)
        {
            receiveHead[2 * relay + 1] =
                std::min(receiveHead[2 * relay + 1], head[relayIn] + links[path[relayIn]].delayPs);
        }
    });
    for (uint32_t g = 0; g < gpus; ++g)
    {
        for (uint32_t p = 0; p < 2; ++p)
        {
            const size_t f = 2 * g + p;
            if (sent[f] == 0 && received[f] == 0)
            {
                continue; // idle, or no such port (a GPU outside any NVLink domain)
            }
            const uint64_t rate = m_topology->GetHostPortRate(g, p);
            if (sent[f] > 0)
            {
                boundPs = std::max(boundPs, SerializationPs(sent[f], rate) + sendTail[f]);
            }
            if (received[f] > 0)
            {
                boundPs = std::max(boundPs, receiveHead[f] + SerializationPs(received[f], rate));
            }
            m_maxInterfaceWireBytes = std::max({m_maxInterfaceWireBytes, sent[f], received[f]});
        }
    }
    // The longest path between participants, reported with the topology.
    const uint32_t frame =
        static_cast<uint32_t>(std::min<uint64_t>(largest, mtu)) + ROCE_DATA_HEADER_BYTES;
    m_maxPathLatency = m_topology->GetMaxPathLatency(parts, frame);
    m_bound = PicoSeconds(boundPs);
}

void
Scenario::OnTrafficDone()
{
    // Called from inside the event that completed the work (a delivery, an ACK), which may still
    // send frames when this returns (the ACK of the last packet): look once it has finished.
    Simulator::ScheduleNow(&Scenario::StopWhenIdle, this);
}

void
Scenario::StopWhenIdle()
{
    // Let frames still in the fabric (late ACKs, duplicates) land, then stop: the event list
    // also holds lazy timers that would otherwise advance the clock for nothing.
    const bool idle = FabricStats(m_topology).IsIdle();
    if (idle)
    {
        m_complete = true;
        m_stopReason = "complete";
        m_endTime = Simulator::Now();
        Simulator::Stop();
        return;
    }
    // Every 100 ns for the first 100 us (late ACKs land within a few microseconds), then at
    // doubling intervals: a frame on a very slow link can take seconds to serialize.
    ++m_idleChecks;
    const int64_t waitNs = m_idleChecks <= 1000
                               ? 100
                               : 100 * (int64_t{1} << std::min<uint32_t>(m_idleChecks - 1000, 20));
    Simulator::Schedule(NanoSeconds(waitNs), &Scenario::StopWhenIdle, this);
}

const std::string&
Scenario::GetStopReason() const
{
    return m_stopReason;
}

uint64_t
Scenario::ProgressCounter() const
{
    uint64_t c = FabricStats(m_topology).GetPacketHops() + m_transport->GetMessagesDelivered();
    if (m_moe != nullptr)
    {
        for (int64_t ps : m_moe->GetComputePs())
        {
            c += static_cast<uint64_t>(ps);
        }
        c += m_moe->IsComputing() ? 1 : 0;
    }
    if (m_serving != nullptr)
    {
        c += m_serving->GetTokensGenerated();
    }
    return c;
}

int64_t
Scenario::ProgressCheckInterval() const
{
    // A quarter of the timeout, which is at least 1 us (a 1-3 ps timeout made this 0, and the
    // check re-scheduled itself at the same instant forever).
    return m_settings.noProgressPs / 4;
}

void
Scenario::CheckProgress()
{
    if (m_complete)
    {
        return;
    }
    if (m_idleChecks > 0 && FabricStats(m_topology).IsIdle())
    {
        StopWhenIdle(); // the work is done and the fabric is empty: a complete run
        return;
    }
    // A kernel still running counts as movement: its completion will change the counter.
    const uint64_t now = ProgressCounter();
    // Waiting for the next request to arrive, or for an expert's batch window to close, is not
    // a stall either; nor is a frame on a link (on a slow link one can take longer than the
    // timeout to serialize).
    const bool waiting =
        (m_moe != nullptr && (m_moe->IsComputing() || m_moe->IsBatchWindowOpen())) ||
        (m_serving != nullptr && m_serving->IsWaitingForArrivals());
    if (now != m_lastProgress || waiting || FabricStats(m_topology).GetFramesInFlight() > 0)
    {
        m_lastProgress = now;
        m_lastProgressTime = Simulator::Now();
    }
    else if (Simulator::Now() - m_lastProgressTime >= PicoSeconds(m_settings.noProgressPs))
    {
        m_stopReason = "no_progress";
        m_endTime = Simulator::Now();
        Simulator::Stop();
        return;
    }
    Simulator::Schedule(PicoSeconds(ProgressCheckInterval()), &Scenario::CheckProgress, this);
}

Json
Scenario::MakeDiagnosis() const
{
    // What was still waiting when the run stopped: messages, frames, paused queues.
    Json d = Json::object();
    d["reason"] = m_stopReason;
    d["pending_messages"] = m_transport->GetMessagesStarted() - m_transport->GetMessagesDelivered();
    FabricStats stats(m_topology);
    d["queued_frames"] = stats.GetQueuedFrames();
    d["frames_in_flight"] = stats.GetFramesInFlight();
    if (m_stopReason == "no_progress")
    {
        d["idle_for_s"] = Seconds((Simulator::Now() - m_lastProgressTime).GetPicoSeconds());
    }
    Json paused = Json::array();
    const TopologySpec& spec = m_topology->GetSpec();
    for (uint32_t node = 0; node < spec.nodes.size(); ++node)
    {
        for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
        {
            Ptr<FabricNetDevice> dev = m_topology->GetPort(node, port);
            for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
            {
                if (dev->IsPaused(p))
                {
                    Json q = Json::object();
                    q["node"] = spec.nodes[node].name;
                    q["port"] = port;
                    q["priority"] = p;
                    q["queued_bytes"] = dev->GetQueueBytes(p);
                    paused.push_back(q);
                }
            }
        }
    }
    d["paused_queues"] = paused;
    // Cyclic buffer dependency: node A waits for node B when A's queue towards B is paused with
    // frames in it. A cycle of such waits can never clear by itself (a PFC deadlock).
    std::vector<std::vector<uint32_t>> waits(spec.nodes.size());
    for (uint32_t node = 0; node < spec.nodes.size(); ++node)
    {
        for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
        {
            Ptr<FabricNetDevice> dev = m_topology->GetPort(node, port);
            for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
            {
                if (dev->IsPaused(p) && dev->GetQueueBytes(p) > 0)
                {
                    waits[node].push_back(m_topology->GetRouting()->GetPeer(node, port));
                    break;
                }
            }
        }
    }
    // Depth-first search for a back edge; the cycle is the stack from its target.
    std::vector<uint8_t> state(spec.nodes.size(), 0); // 0 new, 1 on the stack, 2 done
    std::vector<uint32_t> stack;
    std::vector<uint32_t> cycle;
    std::function<bool(uint32_t)> visit = [&](uint32_t n) {
        state[n] = 1;
        stack.push_back(n);
        for (uint32_t m : waits[n])
        {
            if (state[m] == 1)
            {
                cycle.assign(std::find(stack.begin(), stack.end(), m), stack.end());
                return true;
            }
            if (state[m] == 0 && visit(m))
            {
                return true;
            }
        }
        stack.pop_back();
        state[n] = 2;
        return false;
    };
    for (uint32_t n = 0; n < spec.nodes.size() && cycle.empty(); ++n)
    {
        if (state[n] == 0)
        {
            visit(n);
        }
    }
    Json names = Json::array();
    for (uint32_t n : cycle)
    {
        names.push_back(spec.nodes[n].name);
    }
    d["dependency_cycle"] = names;
    return d;
}

void
Scenario::OnMoeDone()
{
    if (m_moe->IsDone() && (m_twin == nullptr || m_twin->IsDone()))
    {
        OnTrafficDone();
    }
}

void
Scenario::Sample()
{
    // Non-empty egress queues of every port (one row per queue) and, for shared-buffer switches,
    // the buffer's use; rows only where something is buffered, to keep the files small.
    const TopologySpec& spec = m_topology->GetSpec();
    const std::string t = FormatSeconds(Simulator::Now());
    for (uint32_t node = 0; node < spec.nodes.size(); ++node)
    {
        for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
        {
            Ptr<FabricNetDevice> dev = m_topology->GetPort(node, port);
            for (uint8_t p = 0; p < NUM_PRIORITIES; ++p)
            {
                const uint64_t bytes = dev->GetQueueBytes(p);
                if (bytes > 0 || dev->IsPaused(p))
                {
                    m_queueSamples
                        << t << ',' << spec.nodes[node].name << ',' << port << ','
                        << spec.tierNames[spec.links[m_topology->GetPortLink(node, port)].tier]
                        << ',' << static_cast<uint32_t>(p) << ',' << bytes << ','
                        << (dev->IsPaused(p) ? 1 : 0) << '\n';
                }
            }
        }
        const std::vector<Ptr<SharedBufferMmu>> parts = BufferParts(m_topology->GetSwitch(node));
        uint64_t used = 0;
        std::array<uint64_t, 3> pools{};
        for (const auto& mmu : parts)
        {
            used += mmu->GetUsedCells();
            pools[0] += mmu->GetPoolBytes(SharedBufferMmu::LOSSY_POOL);
            pools[1] += mmu->GetPoolBytes(SharedBufferMmu::LOSSLESS_POOL);
            pools[2] += mmu->GetPoolBytes(SharedBufferMmu::HEADROOM_POOL);
        }
        if (used > 0)
        {
            m_bufferSamples << t << ',' << spec.nodes[node].name << ','
                            << used * m_settings.cellBytes << ',' << pools[0] << ',' << pools[1]
                            << ',' << pools[2] << '\n';
        }
    }
    if (!m_complete)
    {
        Simulator::Schedule(PicoSeconds(m_settings.sampleIntervalPs), &Scenario::Sample, this);
    }
}

void
Scenario::SetProgressOutput(std::ostream* out, double everyWallSeconds)
{
    m_progressOut = out;
    m_progressEvery = everyWallSeconds;
}

double
Scenario::ProgressFraction() const
{
    if (m_moe != nullptr)
    {
        return m_unitsTotal == 0
                   ? -1.0
                   : static_cast<double>(m_unitsDone) / static_cast<double>(m_unitsTotal);
    }
    // What the rounds post (a matrix's diagonal and zeros post nothing).
    const uint64_t total = m_roundBytes * m_settings.rounds;
    return total == 0
               ? -1.0
               : static_cast<double>(m_transport->GetBytesDelivered()) / static_cast<double>(total);
}

void
Scenario::ProgressTick()
{
    ++m_progressTicks;
    if (m_complete)
    {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    const double wall = std::chrono::duration<double>(now - m_runStart).count();
    const double sinceTick = std::chrono::duration<double>(now - m_lastTick).count();
    m_lastTick = now;
    if (wall - m_lastReportWall >= m_progressEvery)
    {
        m_lastReportWall = wall;
        const double eventsPerSecond = static_cast<double>(Simulator::GetEventCount()) / wall;
        std::ostringstream line;
        line << "progress: sim " << std::fixed << std::setprecision(3)
             << Simulator::Now().GetSeconds() * 1e3 << " ms, wall " << std::setprecision(1) << wall
             << " s, " << std::setprecision(2) << eventsPerSecond / 1e6 << " M events/s";
        const double done = ProgressFraction();
        if (done > 0 && done <= 1)
        {
            line << ", " << std::setprecision(1) << 100 * done << " % done, about "
                 << std::setprecision(0) << wall * (1 - done) / done << " s left";
        }
        *m_progressOut << line.str() << std::endl;
    }
    // Aim for about ten ticks per report: stretch or shrink the simulated step by how long the
    // last one took in wall time (within a factor of 2 per tick, 1 ns .. 10 ms).
    const double target = m_progressEvery / 10;
    const double factor = sinceTick > 0 ? std::clamp(target / sinceTick, 0.5, 2.0) : 2.0;
    m_progressStepPs =
        std::clamp<int64_t>(static_cast<int64_t>(m_progressStepPs * factor), 1000, PS_PER_S / 100);
    Simulator::Schedule(PicoSeconds(m_progressStepPs), &Scenario::ProgressTick, this);
}

void
Scenario::OnPfcEvent(uint32_t node, uint32_t port, bool sent, uint8_t priority, uint16_t quanta)
{
    m_pfcEvents << FormatSeconds(Simulator::Now()) << ',' << m_topology->GetSpec().nodes[node].name
                << ',' << port << ',' << (sent ? "sent" : "received") << ','
                << static_cast<uint32_t>(priority) << ',' << quanta << '\n';
}

void
Scenario::OnQpRate(uint32_t host, uint32_t qpn, uint64_t rateBps, uint8_t event)
{
    Ptr<RdmaNic> nic = DynamicCast<RdmaTransport>(m_transport)->GetNic(host);
    const uint32_t index = (qpn - 2) / 2;
    const SenderQp& qp = nic->GetSenderQp(index);
    m_qpRates << FormatSeconds(Simulator::Now()) << ',' << host << ',' << qp.dst << ','
              << static_cast<uint32_t>(qp.cls) << ',' << qpn << ','
              << (rateBps == 0 ? nic->GetQpLineRate(index) : rateBps) << ','
              << RateEventName(static_cast<RateEvent>(event)) << ',' << qp.windowBytes << '\n';
}

namespace
{
void
QpRateSink(Scenario* sc, uint32_t host, uint32_t qpn, uint64_t rateBps, uint8_t event)
{
    sc->OnQpRate(host, qpn, rateBps, event);
}

void
PfcSentSink(Scenario* sc, uint32_t node, uint32_t port, uint8_t priority, uint16_t quanta)
{
    sc->OnPfcEvent(node, port, true, priority, quanta);
}

void
PfcReceivedSink(Scenario* sc, uint32_t node, uint32_t port, uint8_t priority, uint16_t quanta)
{
    sc->OnPfcEvent(node, port, false, priority, quanta);
}
} // namespace

bool
Scenario::Run()
{
    NS_ABORT_MSG_IF(!m_built || m_ran, "Scenario::Run needs Build() and runs once");
    if (m_settings.sampleIntervalPs > 0)
    {
        Simulator::Schedule(Time(0), &Scenario::Sample, this);
    }
    if (m_settings.pfcEventsCsv)
    {
        // Bound sinks without context: (node, port) travel as bound integers.
        const TopologySpec& spec = m_topology->GetSpec();
        for (uint32_t node = 0; node < spec.nodes.size(); ++node)
        {
            for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
            {
                Ptr<FabricNetDevice> dev = m_topology->GetPort(node, port);
                dev->TraceConnectWithoutContext("PfcSent",
                                                MakeBoundCallback(&PfcSentSink, this, node, port));
                dev->TraceConnectWithoutContext(
                    "PfcReceived",
                    MakeBoundCallback(&PfcReceivedSink, this, node, port));
            }
        }
    }
    if (m_settings.qpRatesCsv)
    {
        m_transport->TraceConnectWithoutContext("QpRate", MakeBoundCallback(&QpRateSink, this));
    }
    if (m_moe != nullptr)
    {
        m_moe->Start(Time(0));
        if (m_serving != nullptr)
        {
            m_serving->Start(Time(0));
        }
        if (m_twin != nullptr)
        {
            m_twin->Start(Time(0));
        }
    }
    else
    {
        m_traffic->Start(m_transport, Time(0));
    }
    Simulator::Stop(PicoSeconds(m_settings.stopTimePs));
    if (m_settings.noProgressPs > 0)
    {
        // Checked a few times per timeout: a stall is reported within 1.25 timeouts.
        m_lastProgressTime = Time(0);
        Simulator::Schedule(PicoSeconds(ProgressCheckInterval()), &Scenario::CheckProgress, this);
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (m_progressOut != nullptr)
    {
        m_runStart = t0;
        m_lastTick = t0;
        if (m_moe != nullptr && m_serving == nullptr)
        {
            m_moe->TraceConnectWithoutContext(
                "UnitEnd",
                MakeBoundCallback(
                    +[](uint64_t* done, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t) {
                        ++*done;
                    },
                    &m_unitsDone));
            for (uint32_t g = 0; g < m_moe->GetNumGroups(); ++g)
            {
                m_unitsTotal +=
                    static_cast<uint64_t>(m_moe->GetGroupNodes(g).size()) * m_moe->NumUnits();
            }
        }
        Simulator::Schedule(PicoSeconds(m_progressStepPs), &Scenario::ProgressTick, this);
    }
    Simulator::Run();
    m_wallSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Progress ticks depend on wall time: leave them out so the count stays reproducible.
    m_events = Simulator::GetEventCount() - m_progressTicks;
    if (!m_complete)
    {
        m_endTime = Simulator::Now();
    }
    m_ran = true;
    return m_complete;
}

std::string
Scenario::DescribeDryRun() const
{
    const ScenarioSettings& s = m_settings;
    const TopologySpec& spec = m_topology->GetSpec();
    std::ostringstream os;
    os << "scenario " << (s.name.empty() ? "(unnamed)" : s.name) << ", seed " << s.seed
       << ", config " << GetConfigHash() << "\n";
    os << "topology: " << spec.type << ", " << spec.NumHosts() << " GPUs, " << spec.NumSwitches()
       << " switches, " << spec.links.size() << " links";
    if (spec.gpusPerServer > 1)
    {
        os << ", " << spec.NumHosts() / spec.gpusPerServer << " servers of " << spec.gpusPerServer
           << " GPUs";
    }
    if (spec.railOnly)
    {
        os << ", rail-only (cross-rail traffic relays over NVLink)";
    }
    else if (spec.pxn)
    {
        os << ", PXN (cross-rail traffic relays over NVLink, not the spines)";
    }
    if (const double o = m_topology->GetOversubscription(); o > 0)
    {
        os << ", oversubscription " << std::setprecision(3) << o << ":1";
    }
    os << "\n";
    std::vector<uint32_t> linksPerTier(spec.tierNames.size(), 0);
    std::vector<const TopologySpec::Link*> sample(spec.tierNames.size(), nullptr);
    for (const auto& l : spec.links)
    {
        ++linksPerTier[l.tier];
        sample[l.tier] = &l;
    }
    for (size_t t = 0; t < spec.tierNames.size(); ++t)
    {
        os << "  tier " << std::left << std::setw(10) << spec.tierNames[t] << std::right
           << std::setw(6) << linksPerTier[t] << " links";
        if (sample[t] != nullptr)
        {
            os << "  " << FormatRate(sample[t]->rateBps) << ", "
               << FormatTimePs(sample[t]->delayPs);
        }
        os << "\n";
    }
    const uint32_t a = s.moe ? s.moeSpec.nodeGpus.front() : s.participants.front();
    const uint32_t b = s.moe ? (s.moeSpec.expertGpus.empty() ? s.moeSpec.nodeGpus.back()
                                                             : s.moeSpec.expertGpus.back())
                             : s.participants.back();
    os << "  path gpu" << a << " -> gpu" << b << ": " << m_topology->GetHopCount(a, b) << " hops, "
       << m_topology->GetPaths(a, b).size()
       << (m_topology->GetPaths(a, b).size() == 1 ? " path\n" : " equal-cost paths\n");
    os << "switch: " << s.loadBalancing << ", ";
    if (s.bufferType == "shared")
    {
        os << "shared buffer " << FormatBytesHuman(static_cast<double>(s.bufferBytes))
           << (s.bufferPartitions > 1 ? " in " + std::to_string(s.bufferPartitions) + " partitions"
                                      : std::string())
           << ", " << (s.losslessMask != 0 ? "lossless priorities (PFC)" : "lossy")
           << (s.ecn ? ", ECN" : "") << "\n";
    }
    else
    {
        os << "tail-drop "
           << (s.queueLimitBytes == 0 ? std::string("unlimited")
                                      : FormatBytesHuman(static_cast<double>(s.queueLimitBytes)))
           << " per queue\n";
    }
    os << "transport: " << s.transportType << ", mtu " << s.mtu;
    if (s.transportType == "rdma")
    {
        os << ", ack every " << s.ackInterval << ", " << s.recovery << ", congestion control "
           << s.ccType;
    }
    else if (s.transportType == "tcp")
    {
        os << " (segment size), " << s.tcp.variant << (s.tcp.ecn ? " with ECN" : "") << ", min RTO "
           << FormatTimePs(s.tcp.minRtoPs);
    }
    os << "\n";
    if (s.moe)
    {
        os << DescribeMoe();
        return os.str();
    }
    os << "traffic: all-to-all among " << s.participants.size() << " GPUs, " << s.rounds
       << " round(s) of " << m_roundMessages << " messages, "
       << FormatBytesHuman(static_cast<double>(m_roundBytes)) << " per round\n";
    os << "  busiest interface moves "
       << FormatBytesHuman(static_cast<double>(m_maxInterfaceWireBytes))
       << " on the wire per round; longest path latency " << FormatDurationHuman(m_maxPathLatency)
       << "; round bound " << FormatDurationHuman(m_bound) << "\n";
    return os.str();
}

Json
Scenario::MakeSummary() const
{
    NS_ABORT_MSG_IF(!m_ran, "Scenario::MakeSummary needs Run()");
    const ScenarioSettings& s = m_settings;
    Json j = Json::object();

    Json manifest = Json::object();
    manifest["tool"] = "moe-fabric";
    manifest["version"] = MOE_FABRIC_VERSION;
    manifest["git_revision"] = MOE_GIT_REVISION;
    manifest["ns3_version"] = MOE_NS3_VERSION;
    manifest["name"] = s.name;
    manifest["seed"] = s.seed;
    manifest["config_hash"] = GetConfigHash();
    manifest["config"] = m_effective;
    manifest["inputs"] = DescribeInputs();
    if (!m_invocation.is_null())
    {
        manifest["invocation"] = m_invocation;
    }
    j["manifest"] = manifest;

    FabricStats stats(m_topology);
    const uint64_t hops = stats.GetPacketHops();
    Json sim = Json::object();
    sim["complete"] = m_complete;
    sim["stop_reason"] = m_stopReason;
    if (!m_complete)
    {
        sim["diagnosis"] = MakeDiagnosis();
    }
    sim["sim_time_s"] = Seconds(m_endTime.GetPicoSeconds());
    sim["events"] = m_events;
    sim["packet_hops"] = hops;
    sim["events_per_packet_hop"] =
        hops == 0 ? 0.0 : static_cast<double>(m_events) / static_cast<double>(hops);
    // Wall-clock and machine-dependent fields (excluded from reproducibility comparisons).
    sim["wall_s"] = m_wallSeconds;
    sim["wall_s_per_million_packet_hops"] =
        hops == 0 ? 0.0 : m_wallSeconds / (static_cast<double>(hops) / 1e6);
    sim["peak_rss_mb"] = PeakRssMb();
    j["sim"] = sim;

    const TopologySpec& spec = m_topology->GetSpec();
    Json topo = Json::object();
    topo["type"] = spec.type;
    topo["gpus"] = spec.NumHosts();
    topo["switches"] = spec.NumSwitches();
    topo["links"] = spec.links.size();
    topo["gpus_per_server"] = spec.gpusPerServer;
    topo["rail_only"] = spec.railOnly;
    topo["pxn"] = spec.pxn;
    topo["max_path_latency_s"] = Seconds(m_maxPathLatency.GetPicoSeconds());
    topo["oversubscription"] = m_topology->GetOversubscription();
    j["topology"] = topo;

    if (m_moe != nullptr)
    {
        j["moe"] = MakeMoeSummary();
    }
    if (m_serving != nullptr)
    {
        j["serving"] = MakeServingSummary(*m_serving);
    }
    Json rounds = Json::array();
    const auto& log =
        m_traffic != nullptr ? m_traffic->GetRounds() : std::vector<AllToAllTraffic::Round>();
    for (size_t r = 0; r < log.size(); ++r)
    {
        Json jr = Json::object();
        jr["round"] = r;
        jr["messages"] = log[r].messages;
        jr["bytes"] = log[r].bytes;
        jr["start_s"] = Seconds(log[r].start.GetPicoSeconds());
        const bool done = log[r].end >= Time(0);
        jr["complete"] = done;
        if (done)
        {
            const Time completion = log[r].end - log[r].start;
            jr["end_s"] = Seconds(log[r].end.GetPicoSeconds());
            jr["completion_s"] = Seconds(completion.GetPicoSeconds());
            jr["completion_over_bound"] =
                completion.GetDouble() / static_cast<double>(m_bound.GetDouble());
        }
        jr["bound_s"] = Seconds(m_bound.GetPicoSeconds());
        rounds.push_back(jr);
    }
    if (m_traffic != nullptr)
    {
        j["rounds"] = rounds;
    }

    Json msgs = Json::object();
    msgs["started"] = m_transport->GetMessagesStarted();
    msgs["delivered"] = m_transport->GetMessagesDelivered();
    msgs["acked"] = m_transport->GetMessagesAcked();
    msgs["bytes_started"] = m_transport->GetBytesStarted();
    msgs["bytes_delivered"] = m_transport->GetBytesDelivered();
    if (m_traffic != nullptr)
    {
        msgs["delivery_time"] = DistributionJson(m_traffic->GetDeliveryTimesPs());
        msgs["ack_time"] = DistributionJson(m_traffic->GetAckTimesPs());
    }
    else
    {
        std::vector<int64_t> all = m_moe->GetDeliveryTimesPs(false);
        const auto& back = m_moe->GetDeliveryTimesPs(true);
        all.insert(all.end(), back.begin(), back.end());
        msgs["delivery_time"] = DistributionJson(all);
    }
    j["messages"] = msgs;

    Json tr = Json::object();
    tr["type"] = s.transportType;
    if (auto rdma = DynamicCast<RdmaTransport>(m_transport))
    {
        const RdmaCounters& c = rdma->GetCounters();
        tr["queue_pairs"] = c.queuePairs;
        tr["data_packets"] = c.dataPackets;
        tr["retransmitted_packets"] = c.retransmittedPackets;
        tr["acks"] = c.acksSent;
        tr["naks"] = c.naksSent;
        tr["timeouts"] = c.timeouts;
        tr["duplicate_packets"] = c.duplicatePackets;
        tr["out_of_order_packets"] = c.outOfOrderPackets;
        tr["discarded_packets"] = c.discardedPackets;
        tr["control_frames_dropped"] = c.controlFramesDropped;
        tr["ce_packets"] = c.cePackets;
        tr["cnps_sent"] = c.cnpsSent;
        tr["cnps_received"] = c.cnpsReceived;
        tr["rate_decreases"] = c.rateDecreases;
    }
    else if (auto tcp = DynamicCast<TcpTransport>(m_transport))
    {
        const TcpCounters& c = tcp->GetCounters();
        tr["variant"] = s.tcp.variant;
        tr["connections"] = c.connections;
        tr["data_segments"] = c.dataSegments;
        tr["retransmitted_segments"] = c.retransmittedSegments;
        tr["timeouts"] = c.timeouts;
        tr["fast_recoveries"] = c.fastRecoveries;
        tr["cwnd_reductions"] = c.cwndReductions;
        tr["ce_frames"] = c.ceFrames;
        tr["ece_acks"] = c.eceAcks;
        tr["cwr_segments"] = c.cwrSegments;
    }
    j["transport"] = tr;

    Json fabric = Json::object();
    Json tiers = Json::object();
    uint64_t totalStorms = 0;
    double maxPortPaused = 0; // the longest any one port was paused (PFC)
    uint64_t totalDrops = 0;
    const Time duration = m_endTime;
    for (const TierStats& t : stats.CollectTiers())
    {
        Json jt = Json::object();
        jt["links"] = t.links;
        jt["tx_frames"] = t.txFrames;
        jt["tx_bytes"] = t.txBytes;
        jt["tx_wire_bytes"] = t.txWireBytes;
        jt["max_queue_bytes"] = t.maxQueueBytes;
        jt["drops"] = t.TotalDrops();
        Json reasons = Json::object();
        for (size_t r = 0; r < t.drops.size(); ++r)
        {
            reasons[DropReasonName(static_cast<DropReason>(r))] = t.drops[r];
        }
        jt["drops_by_reason"] = reasons;
        jt["drop_bytes"] = t.dropBytes;
        jt["pfc_pauses"] = t.pfcPauses;
        jt["pfc_paused_s"] = t.pfcPausedSeconds;
        jt["pfc_max_port_paused_s"] = t.pfcMaxPortPausedSeconds;
        maxPortPaused = std::max(maxPortPaused, t.pfcMaxPortPausedSeconds);
        jt["pfc_watchdog_storms"] = t.pfcWatchdogStorms;
        totalStorms += t.pfcWatchdogStorms;
        jt["mean_utilization"] = t.Utilization(duration);
        tiers[t.name] = jt;
        totalDrops += t.TotalDrops();
    }
    // ECN marks (shared-buffer switches mark at dequeue) per tier of the marking port's link,
    // and the buffer's peak use over the switches.
    std::vector<uint64_t> marks(spec.tierNames.size(), 0);
    uint64_t peakUsed = 0;
    uint64_t peakLossy = 0;
    uint64_t peakLossless = 0;
    uint64_t peakHeadroom = 0;
    for (uint32_t node = 0; node < spec.nodes.size(); ++node)
    {
        Ptr<FabricSwitch> sw = m_topology->GetSwitch(node);
        for (const auto& mmu : BufferParts(sw))
        {
            for (uint32_t port = 0; port < m_topology->GetNPorts(node); ++port)
            {
                marks[spec.links[m_topology->GetPortLink(node, port)].tier] +=
                    mmu->GetEcnMarks(port);
            }
            peakUsed = std::max(peakUsed, mmu->GetPeakUsedCells() * s.cellBytes);
            peakLossy = std::max(peakLossy,
                                 mmu->GetPeakPoolCells(SharedBufferMmu::LOSSY_POOL) * s.cellBytes);
            peakLossless =
                std::max(peakLossless,
                         mmu->GetPeakPoolCells(SharedBufferMmu::LOSSLESS_POOL) * s.cellBytes);
            peakHeadroom =
                std::max(peakHeadroom,
                         mmu->GetPeakPoolCells(SharedBufferMmu::HEADROOM_POOL) * s.cellBytes);
        }
        if (auto parts =
                sw == nullptr ? nullptr : DynamicCast<PartitionedBufferMmu>(sw->GetAdmission()))
        {
            // The whole switch's peak (partitions fill at different times).
            peakUsed = std::max(peakUsed, parts->GetPeakUsedCells() * s.cellBytes);
        }
    }
    uint64_t totalMarks = 0;
    for (size_t t = 0; t < spec.tierNames.size(); ++t)
    {
        if (tiers.contains(spec.tierNames[t]))
        {
            tiers[spec.tierNames[t]]["ecn_marks"] = marks[t];
        }
        totalMarks += marks[t];
    }
    fabric["tiers"] = tiers;
    fabric["ecn_marks"] = totalMarks;
    fabric["pfc_pauses"] = stats.GetPfcPauses();
    fabric["pfc_paused_s"] = stats.GetPfcPausedSeconds();
    fabric["pfc_max_port_paused_s"] = maxPortPaused;
    fabric["pfc_watchdog_storms"] = totalStorms;
    Json buffer = Json::object();
    buffer["type"] = s.bufferType;
    if (s.bufferType == "shared")
    {
        buffer["size_bytes"] = s.bufferBytes;
        buffer["peak_used_bytes"] = peakUsed;
        buffer["peak_lossy_pool_bytes"] = peakLossy;
        buffer["peak_lossless_pool_bytes"] = peakLossless;
        buffer["peak_headroom_bytes"] = peakHeadroom;
    }
    fabric["buffer"] = buffer;
    fabric["drops"] = totalDrops;
    fabric["queued_frames_at_end"] = stats.GetQueuedFrames();
    fabric["rx_buffered_frames_at_end"] = stats.GetRxBufferedFrames();
    const std::string conservation = stats.CheckConservation();
    fabric["frame_conservation"] = conservation.empty() ? "ok" : conservation;
    j["fabric"] = fabric;
    return j;
}

std::string
Scenario::HumanSummary() const
{
    const ScenarioSettings& s = m_settings;
    const TopologySpec& spec = m_topology->GetSpec();
    FabricStats stats(m_topology);
    std::ostringstream os;
    os << "moe-fabric " << MOE_FABRIC_VERSION << ": " << spec.type << ", " << spec.NumHosts()
       << " GPUs, " << spec.NumSwitches() << " switches; transport " << s.transportType
       << ", load balancing " << s.loadBalancing << ", seed " << s.seed << "\n";
    const auto& log =
        m_traffic != nullptr ? m_traffic->GetRounds() : std::vector<AllToAllTraffic::Round>();
    if (m_moe != nullptr)
    {
        os << MoeHumanSummary();
    }
    if (m_serving != nullptr)
    {
        os << ServingHumanSummary(*m_serving);
    }
    for (size_t r = 0; r < log.size(); ++r)
    {
        os << "  round " << r << ": ";
        if (log[r].end >= Time(0))
        {
            const Time c = log[r].end - log[r].start;
            os << FormatDurationHuman(c) << " (bound " << FormatDurationHuman(m_bound) << ", "
               << std::fixed << std::setprecision(3) << c.GetDouble() / m_bound.GetDouble()
               << "x)\n";
        }
        else
        {
            os << "did not complete\n";
        }
    }
    uint64_t drops = 0;
    std::string worstTier;
    uint64_t worstQueue = 0;
    double longestPaused = 0; // PFC: the longest any one port was paused
    for (const TierStats& t : stats.CollectTiers())
    {
        drops += t.TotalDrops();
        if (t.maxQueueBytes >= worstQueue)
        {
            worstQueue = t.maxQueueBytes;
            worstTier = t.name;
        }
        longestPaused = std::max(longestPaused, t.pfcMaxPortPausedSeconds);
    }
    const uint64_t hops = stats.GetPacketHops();
    os << "  fabric: " << hops << " packet-hops, " << drops << " drops, max queue "
       << FormatBytesHuman(static_cast<double>(worstQueue)) << " (" << worstTier << ")";
    if (const uint64_t pauses = stats.GetPfcPauses(); pauses > 0)
    {
        auto human = [](double seconds) {
            return FormatDurationHuman(
                PicoSeconds(static_cast<int64_t>(std::llround(seconds * PS_PER_S))));
        };
        os << ", " << pauses << " PFC pauses (" << human(stats.GetPfcPausedSeconds())
           << " paused summed over ports, at most " << human(longestPaused) << " on one)";
    }
    if (const uint64_t marks = TotalEcnMarks(m_topology); marks > 0)
    {
        os << ", " << marks << " ECN marks";
        if (m_settings.transportType == "rdma" && m_settings.ccType != "dcqcn")
        {
            // Of the RDMA congestion controls only DCQCN reacts to marks (HPCC reads telemetry,
            // Swift delay).
            os << " (nothing reacts: transport.cc.type is \"" << m_settings.ccType << "\")";
        }
    }
    os << "\n";
    if (auto rdma = DynamicCast<RdmaTransport>(m_transport))
    {
        const RdmaCounters& c = rdma->GetCounters();
        os << "  transport: " << c.dataPackets << " data packets, " << c.retransmittedPackets
           << " retransmitted, " << c.timeouts << " timeouts";
        if (m_settings.ccType != "none")
        {
            os << ", " << c.cnpsSent << " CNPs, " << c.rateDecreases << " rate decreases";
        }
        os << "\n";
        if (drops == 0 && c.timeouts > 0)
        {
            // Nothing was lost, so no timeout was needed: queueing (PFC pauses, deep queues)
            // outlasted the timeouts. Said here because the counters alone read like losses.
            os << "  note: all " << c.timeouts
               << " timeouts were spurious (no frame was dropped): queueing outlasted "
                  "transport.rto ("
               << FormatTimePs(m_settings.rtoPs) << ") or transport.rto_low ("
               << FormatTimePs(m_settings.rtoLowPs)
               << "); lossless and deep-buffer fabrics need longer timeouts (doc/moe-fabric.rst, "
                  "Scope and limitations)\n";
        }
    }
    else if (auto tcp = DynamicCast<TcpTransport>(m_transport))
    {
        const TcpCounters& c = tcp->GetCounters();
        os << "  transport: " << c.connections << " TCP connections, " << c.dataSegments
           << " data segments, " << c.retransmittedSegments << " retransmitted, " << c.timeouts
           << " timeouts, " << c.ceFrames << " CE, " << c.eceAcks << " ECE ACKs, "
           << c.cwndReductions << " window reductions\n";
    }
    os << "  speed: " << std::fixed << std::setprecision(2) << m_wallSeconds << " s wall, "
       << std::setprecision(2)
       << (hops == 0 ? 0.0 : m_wallSeconds / (static_cast<double>(hops) / 1e6))
       << " s per million packet-hops, " << m_events << " events, peak RSS " << std::setprecision(0)
       << PeakRssMb() << " MB\n";
    if (!m_complete)
    {
        os << "  INCOMPLETE: stopped at " << FormatDurationHuman(m_endTime) << " with "
           << m_transport->GetMessagesStarted() - m_transport->GetMessagesDelivered()
           << " messages undelivered ("
           << (m_stopReason == "no_progress"
                   ? "nothing moved for simulation.no_progress_timeout; see sim.diagnosis in "
                     "summary.json"
                   : "simulation.stop_time")
           << ")\n";
    }
    return os.str();
}

void
Scenario::WriteOutputs(const std::string& dir) const
{
    auto writeFile = [&dir](const std::string& name, const std::string& content) {
        const std::string path = dir + "/" + name;
        std::ofstream out(path, std::ios::binary);
        out << content;
        out.close();
        if (!out)
        {
            throw std::runtime_error("cannot write " + path);
        }
    };
    writeFile("summary.json", MakeSummary().dump(2) + "\n");
    writeFile("effective_config.json", m_effective.dump(2) + "\n");
    if (m_moe != nullptr && m_settings.layerPhasesCsv)
    {
        writeFile("layer_phases.csv", LayerPhasesCsv());
    }
    if (m_serving != nullptr)
    {
        writeFile("requests.csv", ServingRequestsCsv(*m_serving));
    }
    if (m_settings.sampleIntervalPs > 0)
    {
        writeFile("queue_samples.csv",
                  "time_s,node,port,tier,priority,queue_bytes,paused\n" + m_queueSamples.str());
        if (m_settings.bufferType == "shared")
        {
            writeFile("buffer_samples.csv",
                      "time_s,node,used_bytes,lossy_pool_bytes,lossless_pool_bytes,"
                      "headroom_bytes\n" +
                          m_bufferSamples.str());
        }
    }
    if (m_settings.pfcEventsCsv)
    {
        writeFile("pfc_events.csv",
                  "time_s,node,port,direction,priority,quanta\n" + m_pfcEvents.str());
    }
    if (m_settings.qpRatesCsv)
    {
        writeFile("qp_rates.csv",
                  "time_s,host,dst,class,qpn,rate_bps,event,window_bytes\n" + m_qpRates.str());
    }
    if (m_moe != nullptr && m_settings.messagesCsv)
    {
        auto log = m_moe->GetMessageLog();
        std::sort(log.begin(), log.end(), [](const auto& a, const auto& b) {
            return a.record.id < b.record.id;
        });
        std::ostringstream csv;
        csv << "id,src,dst,bytes,class,kind,group,iteration,stage,micro_batch,start_s,"
               "first_byte_s,end_s\n";
        for (const auto& l : log)
        {
            const MessageRecord& r = l.record;
            csv << r.id << ',' << r.src << ',' << r.dst << ',' << r.bytes << ','
                << static_cast<uint32_t>(r.cls) << ',' << MoeMessageKindName(l.kind) << ','
                << l.group << ',' << l.iteration << ',' << l.stage << ',' << l.microBatch << ','
                << FormatSeconds(r.start) << ',' << FormatSeconds(r.firstByte) << ','
                << FormatSeconds(r.delivered) << '\n';
        }
        writeFile("messages.csv", csv.str());
    }
    else if (m_settings.messagesCsv)
    {
        std::vector<MessageRecord> records = m_traffic->GetMessageRecords();
        std::sort(records.begin(),
                  records.end(),
                  [](const MessageRecord& a, const MessageRecord& b) { return a.id < b.id; });
        std::ostringstream csv;
        csv << "id,src,dst,bytes,class,round,start_s,first_byte_s,end_s,acked_s\n";
        for (const auto& r : records)
        {
            csv << r.id << ',' << r.src << ',' << r.dst << ',' << r.bytes << ','
                << static_cast<uint32_t>(r.cls) << ',' << r.tag << ',' << FormatSeconds(r.start)
                << ',' << FormatSeconds(r.firstByte) << ',' << FormatSeconds(r.delivered) << ','
                << FormatSeconds(r.acked) << '\n';
        }
        writeFile("messages.csv", csv.str());
    }
}

// =============================================================================================
// MoE reporting

namespace
{
/// Phase names of summary.json's moe.layers[].phases and layer_phases.csv (in this order).
const std::vector<std::string> PHASES{"attention",
                                      "dispatch",
                                      "expert_queueing",
                                      "expert_compute",
                                      "combine",
                                      "shared_expert_wait",
                                      "barrier_wait"};

/// Critical-path phases of one record, in ps (see MoeUnitRecord): they add up to next - start
/// (end - start for the last stage).
std::vector<int64_t>
PhasesOf(const MoeUnitRecord& r)
{
    const int64_t a = r.attentionEnd;
    const int64_t ready = std::max(r.expertReady, a);
    const int64_t cstart = std::max(r.computeStart, ready);
    const int64_t sent = std::max(r.combineSent, cstart);
    const int64_t done = std::max(r.combineDone, sent);
    return {a - r.start,
            ready - a,
            cstart - ready,
            sent - cstart,
            done - sent,
            std::max<int64_t>(r.end - done, 0),
            r.next >= 0 ? r.next - r.end : 0};
}

Json
PhaseStats(std::vector<int64_t> v)
{
    std::sort(v.begin(), v.end());
    Json j = Json::object();
    j["p50_s"] = Seconds(Percentile(v, 50));
    j["p99_s"] = Seconds(Percentile(v, 99));
    j["max_s"] = v.empty() ? 0.0 : Seconds(v.back());
    return j;
}

/// First start and last end (ps) of one (iteration, stage) over all groups, nodes and
/// micro-batches, and whether every one of them finished it.
struct StageSpan
{
    int64_t start{INT64_MAX};
    int64_t end{-1};
    bool complete{true};

    int64_t Duration() const
    {
        return end - start;
    }
};

std::vector<StageSpan>
StageSpans(const MoeWorkload& w)
{
    const MoeWorkloadSpec& spec = w.GetSpec();
    const uint32_t stages = w.GetStagesPerIteration();
    std::vector<StageSpan> spans(static_cast<size_t>(spec.iterations) * stages);
    for (uint32_t g = 0; g < w.GetNumGroups(); ++g)
    {
        const uint32_t nodes = static_cast<uint32_t>(w.GetGroupNodes(g).size());
        for (uint32_t it = 0; it < spec.iterations; ++it)
        {
            for (uint32_t st = 0; st < stages; ++st)
            {
                StageSpan& span = spans[static_cast<size_t>(it) * stages + st];
                for (uint32_t mb = 0; mb < spec.microBatches; ++mb)
                {
                    for (uint32_t n = 0; n < nodes; ++n)
                    {
                        const MoeUnitRecord& r = w.GetRecord(g, it, st, mb, n);
                        if (r.start >= 0)
                        {
                            span.start = std::min(span.start, r.start);
                        }
                        span.end = std::max(span.end, r.end);
                        span.complete = span.complete && r.end >= 0;
                    }
                }
            }
        }
    }
    return spans;
}
} // namespace

std::string
Scenario::DescribeMoe() const
{
    const MoeWorkloadSpec& w = m_settings.moeSpec;
    std::ostringstream os;
    os << "workload: MoE " << w.model.name << " (" << w.model.routedExperts << " routed experts"
       << (w.model.sharedExperts > 0 ? " + " + std::to_string(w.model.sharedExperts) + " shared"
                                     : std::string())
       << ", top-" << w.model.topK << ", hidden " << w.model.hidden << "), " << w.mode << ", "
       << w.layers << " layer(s)";
    const ServingSpec& serving = m_settings.moeOptions.serving;
    if (serving.enabled)
    {
        os << " per step, serving " << m_settings.moeOptions.requests.size() << " request(s) of "
           << serving.classes.size() << " class(es) by continuous batching (at most "
           << serving.maxStepTokens << " tokens and " << serving.maxRunning
           << " requests per GPU and step)\n";
    }
    else
    {
        os << " x " << w.iterations << " iteration(s)\n";
    }
    os << "  " << w.nodeGpus.size() << " token-owning GPUs in " << m_moe->GetNumGroups()
       << " expert-parallel group(s)";
    if (!w.expertGpus.empty())
    {
        os << ", expert pool of " << w.expertGpus.size() << " GPUs";
    }
    if (serving.disaggregation.enabled)
    {
        const DisaggregationSpec& d = serving.disaggregation;
        os << " (prefill: " << d.prefillGpus.size() << " GPUs in " << d.prefillGroups
           << " group(s); decode: " << d.decodeGpus.size() << " GPUs in " << d.decodeGroups
           << "; KV cache " << d.kvBytesPerToken << " B per prompt token, "
           << (d.layerWise ? "layer-wise" : "whole") << ", traffic class "
           << static_cast<uint32_t>(d.trafficClass) << ")";
    }
    if (!serving.enabled)
    {
        os << "; " << w.tokensPerGpu << " tokens per GPU in " << w.microBatches
           << " micro-batch(es)";
    }
    os << "; gate " << w.gate.type << ", placement " << w.placement.type;
    if (w.placement.redundantSlotsPerGpu > 0)
    {
        os << " + " << w.placement.redundantSlotsPerGpu << " redundant slot(s) per GPU";
    }
    os << "\n  dispatch " << DispatchVariantName(w.dispatch) << " ("
       << w.model.DispatchBytesPerToken() << " B per token copy, combine "
       << w.model.CombineBytesPerToken() << " B), experts " << (w.eager ? "eager" : "wait-all")
       << " on " << w.gpu.name << ", barrier " << (w.globalBarrier ? "global" : "per-gpu")
       << (m_settings.moeOptions.fabricTax ? ", fabric tax against the ideal transport" : "")
       << "\n";
    return os.str();
}

namespace
{
/// Mean, coefficient of variation and max/min of @p x (not empty).
struct SpreadStats
{
    double mean{0};
    double cv{0};
    double maxOverMin{0};
};

SpreadStats
Spread(const std::vector<double>& x)
{
    SpreadStats r;
    double lo = x.front();
    double hi = x.front();
    for (double v : x)
    {
        r.mean += v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    r.mean /= x.size();
    double var = 0;
    for (double v : x)
    {
        var += (v - r.mean) * (v - r.mean);
    }
    r.cv = r.mean > 0 ? std::sqrt(var / x.size()) / r.mean : 0;
    r.maxOverMin = lo > 0 ? hi / lo : 0;
    return r;
}

/**
 * moe.iteration_time of summary.json from @p moe (the rest of the MoE summary): count, mean,
 * coefficient of variation and max/min of the iteration times, the ideal twin's spread when the
 * fabric tax ran, and the per-GPU token throughput of fixed-step runs. Null for serving runs
 * (their iterations are step indices spanning groups) and when an iteration did not complete.
 */
Json
IterationTime(const Json& moe, const MoeWorkloadSpec& spec)
{
    std::vector<double> steps;
    for (const auto& it : moe["iterations"])
    {
        if (!it.contains("completion_s"))
        {
            return Json();
        }
        steps.push_back(it["completion_s"].get<double>());
    }
    if (spec.stepped || steps.empty())
    {
        return Json();
    }
    const SpreadStats packet = Spread(steps);
    Json t = Json::object();
    t["count"] = steps.size();
    t["mean_s"] = packet.mean;
    t["cv"] = packet.cv;
    t["max_over_min"] = packet.maxOverMin;
    if (packet.mean > 0)
    {
        t["tokens_per_s_per_gpu"] = spec.tokensPerGpu / packet.mean;
    }
    if (moe.contains("fabric_tax"))
    {
        // The ideal twin reports stage spans; an iteration's stages run back to back (the layer
        // barrier), so their sum is its iteration time.
        std::map<uint32_t, double> ideal;
        for (const auto& l : moe["fabric_tax"]["layers"])
        {
            if (!l["complete"].get<bool>())
            {
                ideal.clear();
                break;
            }
            ideal[l["iteration"].get<uint32_t>()] += l["ideal_s"].get<double>();
        }
        if (ideal.size() == steps.size())
        {
            std::vector<double> idealSteps;
            for (const auto& kv : ideal)
            {
                idealSteps.push_back(kv.second);
            }
            const SpreadStats twin = Spread(idealSteps);
            t["ideal_cv"] = twin.cv;
            t["ideal_max_over_min"] = twin.maxOverMin;
        }
    }
    return t;
}
} // namespace

Json
Scenario::MakeMoeSummary() const
{
    const MoeWorkload& w = *m_moe;
    const MoeWorkloadSpec& spec = w.GetSpec();
    Json j = Json::object();
    j["model"] = spec.model.name;
    j["mode"] = spec.mode;
    j["gpu"] = spec.gpu.name;
    j["groups"] = w.GetNumGroups();
    j["node_gpus"] = spec.nodeGpus.size();
    j["expert_gpus"] = spec.expertGpus.empty() ? spec.nodeGpus.size() : spec.expertGpus.size();
    j["dispatch_bytes_per_token"] = spec.model.DispatchBytesPerToken();
    j["combine_bytes_per_token"] = spec.model.CombineBytesPerToken();
    j["complete"] = w.IsDone();

    const uint32_t stages = w.GetStagesPerIteration();
    const auto spans = StageSpans(w);
    Json layers = Json::array();
    Json iterations = Json::array();
    for (uint32_t it = 0; it < spec.iterations; ++it)
    {
        int64_t itStart = INT64_MAX;
        int64_t itEnd = -1;
        bool itComplete = true;
        for (uint32_t st = 0; st < stages; ++st)
        {
            const StageSpan& span = spans[static_cast<size_t>(it) * stages + st];
            Json jl = Json::object();
            jl["iteration"] = it;
            jl["layer"] = w.StageLayer(st);
            jl["pass"] = w.StageIsBackward(st) ? "backward" : "forward";
            jl["complete"] = span.complete;
            itComplete = itComplete && span.complete;
            if (span.complete)
            {
                jl["start_s"] = Seconds(span.start);
                jl["end_s"] = Seconds(span.end);
                jl["completion_s"] = Seconds(span.Duration());
                itStart = std::min(itStart, span.start);
                itEnd = std::max(itEnd, span.end);
            }
            std::vector<std::vector<int64_t>> phases(PHASES.size());
            for (uint32_t g = 0; g < w.GetNumGroups(); ++g)
            {
                const uint32_t nodes = static_cast<uint32_t>(w.GetGroupNodes(g).size());
                for (uint32_t mb = 0; mb < spec.microBatches; ++mb)
                {
                    for (uint32_t n = 0; n < nodes; ++n)
                    {
                        const MoeUnitRecord& r = w.GetRecord(g, it, st, mb, n);
                        if (r.end < 0)
                        {
                            continue;
                        }
                        const auto p = PhasesOf(r);
                        for (size_t k = 0; k < PHASES.size(); ++k)
                        {
                            phases[k].push_back(p[k]);
                        }
                    }
                }
            }
            Json jp = Json::object();
            for (size_t k = 0; k < PHASES.size(); ++k)
            {
                jp[PHASES[k]] = PhaseStats(phases[k]);
            }
            jl["phases"] = jp;
            layers.push_back(jl);
        }
        Json ji = Json::object();
        ji["iteration"] = it;
        ji["complete"] = itComplete;
        if (itComplete)
        {
            ji["start_s"] = Seconds(itStart);
            ji["end_s"] = Seconds(itEnd);
            ji["completion_s"] = Seconds(itEnd - itStart);
        }
        iterations.push_back(ji);
    }
    j["iterations"] = iterations;
    j["layers"] = layers;

    j["expert_tokens"] = w.GetExpertTokens();
    const std::vector<uint32_t>& experts =
        spec.expertGpus.empty() ? spec.nodeGpus : spec.expertGpus;
    uint64_t maxLoad = 0;
    uint64_t minLoad = UINT64_MAX;
    long double sum = 0;
    Json gpuTokens = Json::object();
    for (uint32_t g : experts)
    {
        const uint64_t t = w.GetGpuTokens()[g];
        maxLoad = std::max(maxLoad, t);
        minLoad = std::min(minLoad, t);
        sum += t;
        gpuTokens[std::to_string(g)] = t;
    }
    const double mean = static_cast<double>(sum / experts.size());
    j["gpu_tokens"] = gpuTokens;
    j["gpu_load_max_over_mean"] = mean > 0 ? static_cast<double>(maxLoad) / mean : 0.0;
    j["gpu_load_min_over_mean"] = mean > 0 ? static_cast<double>(minLoad) / mean : 0.0;
    j["routed_picks"] = w.GetRoutedPicks();
    j["dropped_picks"] = w.GetDroppedPicks();
    Json loc = Json::object();
    for (size_t l = 0; l < 4; ++l)
    {
        loc[LocalityName(static_cast<Locality>(l))] = w.GetDispatchBytesByLocality()[l];
    }
    j["dispatch_bytes_by_locality"] = loc;
    Json kinds = Json::object();
    for (size_t k = 0; k < NUM_MOE_MESSAGE_KINDS; ++k)
    {
        Json jk = Json::object();
        jk["messages"] = w.GetMessagesByKind()[k];
        jk["bytes"] = w.GetBytesByKind()[k];
        kinds[MoeMessageKindName(static_cast<MoeMessageKind>(k))] = jk;
    }
    j["fabric_messages_by_kind"] = kinds;
    Json mt = Json::object();
    mt["to_experts"] = DistributionJson(w.GetDeliveryTimesPs(false));
    mt["to_nodes"] = DistributionJson(w.GetDeliveryTimesPs(true));
    j["message_time"] = mt;
    Json compute = Json::object();
    compute["attention_s"] = Seconds(w.GetComputePs()[0]);
    compute["shared_expert_s"] = Seconds(w.GetComputePs()[1]);
    compute["expert_s"] = Seconds(w.GetComputePs()[2]);
    j["gpu_compute"] = compute;
    if (spec.allReduce)
    {
        Json ar = Json::object();
        ar["bytes_per_layer"] = spec.allReduceBytesPerLayer;
        ar["rings"] = spec.nodeGpus.size() / w.GetNumGroups();
        ar["ring_size"] = w.GetNumGroups();
        Json spans = Json::array();
        for (uint32_t it = 0; it < spec.iterations; ++it)
        {
            for (uint32_t l = 0; l < spec.layers; ++l)
            {
                const int64_t ps =
                    w.GetAllReduceSpansPs()[static_cast<size_t>(it) * spec.layers + l];
                Json e = Json::object();
                e["iteration"] = it;
                e["layer"] = l;
                e["complete"] = ps >= 0;
                if (ps >= 0)
                {
                    e["span_s"] = Seconds(ps);
                }
                spans.push_back(e);
            }
        }
        ar["layers"] = spans;
        // Waits at the start of iterations 1.. for the previous iteration's rings.
        const auto& waits = w.GetAllReduceWaitPs();
        const size_t perIteration = spec.nodeGpus.size();
        ar["iteration_start_wait"] = DistributionJson(
            std::vector<int64_t>(waits.begin() + std::min(perIteration, waits.size()),
                                 waits.end()));
        j["allreduce"] = ar;
    }

    if (m_twin != nullptr)
    {
        const auto ideal = StageSpans(*m_twin);
        Json tax = Json::object();
        const int64_t packetPs = w.GetEndTime().GetPicoSeconds();
        const int64_t idealPs = m_twin->GetEndTime().GetPicoSeconds();
        Json total = Json::object();
        // Both runs start at 0: their end times are the workload's completion times.
        total["complete"] = w.IsDone() && m_twin->IsDone();
        if (w.IsDone() && m_twin->IsDone())
        {
            total["packet_s"] = Seconds(packetPs);
            total["ideal_s"] = Seconds(idealPs);
            total["tax_s"] = Seconds(packetPs - idealPs);
            total["tax_fraction"] =
                idealPs > 0 ? static_cast<double>(packetPs - idealPs) / static_cast<double>(idealPs)
                            : 0.0;
        }
        tax["total"] = total;
        Json tl = Json::array();
        for (uint32_t it = 0; it < spec.iterations; ++it)
        {
            for (uint32_t st = 0; st < stages; ++st)
            {
                const size_t i = static_cast<size_t>(it) * stages + st;
                Json e = Json::object();
                e["iteration"] = it;
                e["layer"] = w.StageLayer(st);
                e["pass"] = w.StageIsBackward(st) ? "backward" : "forward";
                const bool both = spans[i].complete && ideal[i].complete;
                e["complete"] = both;
                if (both)
                {
                    const int64_t p = spans[i].Duration();
                    const int64_t q = ideal[i].Duration();
                    e["packet_s"] = Seconds(p);
                    e["ideal_s"] = Seconds(q);
                    e["tax_s"] = Seconds(p - q);
                }
                tl.push_back(e);
            }
        }
        tax["layers"] = tl;
        j["fabric_tax"] = tax;
    }
    if (const Json t = IterationTime(j, spec); !t.is_null())
    {
        j["iteration_time"] = t;
    }
    return j;
}

namespace
{
/**
 * The iteration-time lines of the human summary (from moe.iteration_time): per-GPU throughput
 * (fixed steps only), and with two or more iterations their spread, next to the ideal twin's
 * when the fabric tax ran. Batch instability shows as a spread the ideal twin lacks.
 */
std::string
IterationStatsHuman(const Json& summary, const MoeWorkloadSpec& spec)
{
    if (!summary.contains("iteration_time"))
    {
        return "";
    }
    const Json& t = summary["iteration_time"];
    std::ostringstream os;
    os << std::fixed;
    if (t.contains("tokens_per_s_per_gpu"))
    {
        os << "  throughput of the simulated layers: " << std::setprecision(1)
           << t["tokens_per_s_per_gpu"].get<double>() / 1e3 << " k tokens/s per token-owning GPU ("
           << spec.tokensPerGpu << " tokens per GPU per iteration)\n";
    }
    if (t["count"].get<uint64_t>() < 2)
    {
        return os.str();
    }
    os << "  iteration time over " << t["count"].get<uint64_t>() << " iterations: mean "
       << FormatDurationHuman(
              PicoSeconds(static_cast<int64_t>(std::llround(t["mean_s"].get<double>() * PS_PER_S))))
       << ", CV " << std::setprecision(1) << 100 * t["cv"].get<double>() << "%, max/min "
       << std::setprecision(2) << t["max_over_min"].get<double>();
    if (t.contains("ideal_cv"))
    {
        os << " (ideal: CV " << std::setprecision(1) << 100 * t["ideal_cv"].get<double>()
           << "%, max/min " << std::setprecision(2) << t["ideal_max_over_min"].get<double>() << ")";
    }
    os << "\n";
    return os.str();
}
} // namespace

std::string
Scenario::MoeHumanSummary() const
{
    const MoeWorkload& w = *m_moe;
    const MoeWorkloadSpec& spec = w.GetSpec();
    const Json summary = MakeMoeSummary();
    std::ostringstream os;
    os << "  MoE " << spec.model.name << " " << spec.mode << ", " << spec.nodeGpus.size()
       << " GPUs, dispatch " << DispatchVariantName(spec.dispatch) << "\n";
    // A serving run's "iterations" are step indices, each spanning that step of every group
    // (groups drift apart): its serving line reports the steps instead.
    for (const auto& it : spec.stepped ? Json::array() : summary["iterations"])
    {
        if (!it.contains("completion_s"))
        {
            os << "  iteration " << it["iteration"].get<uint32_t>() << ": did not complete\n";
            continue;
        }
        os << "  iteration " << it["iteration"].get<uint32_t>() << ": "
           << FormatDurationHuman(PicoSeconds(
                  static_cast<int64_t>(std::llround(it["completion_s"].get<double>() * PS_PER_S))))
           << "\n";
    }
    os << IterationStatsHuman(summary, spec);
    // Where the time went: the median over GPUs of each phase, summed over the layers.
    std::vector<double> median(PHASES.size(), 0.0);
    for (const auto& l : summary["layers"])
    {
        for (size_t k = 0; k < PHASES.size(); ++k)
        {
            median[k] += l["phases"][PHASES[k]]["p50_s"].get<double>();
        }
    }
    // Not one GPU's time: each phase's own median, so the phases need not add up to an
    // iteration (layer_phases.csv has every GPU's).
    os << "  where the time went (each phase's median over GPUs, summed over "
       << summary["layers"].size() << " layer passes):\n   ";
    for (size_t k = 0; k < PHASES.size(); ++k)
    {
        if (median[k] <= 0 && PHASES[k] == "shared_expert_wait")
        {
            continue;
        }
        std::string name = PHASES[k];
        std::replace(name.begin(), name.end(), '_', ' ');
        os << " " << name << " "
           << FormatDurationHuman(
                  PicoSeconds(static_cast<int64_t>(std::llround(median[k] * PS_PER_S))))
           << (k + 1 < PHASES.size() ? "," : "");
    }
    os << "\n";
    // Single messages: where a p99 spike shows while the phases (each GPU waits for the same
    // last message) look flat.
    std::string messages;
    for (const auto& [key, name] :
         {std::make_pair("to_experts", "dispatch"), std::make_pair("to_nodes", "combine")})
    {
        const Json& m = summary["message_time"][key];
        if (m["count"].get<uint64_t>() == 0)
        {
            continue;
        }
        auto human = [&](const char* stat) {
            return FormatDurationHuman(
                PicoSeconds(static_cast<int64_t>(std::llround(m[stat].get<double>() * PS_PER_S))));
        };
        messages += std::string(messages.empty() ? "" : "; ") + name + " mean " + human("mean_s") +
                    ", p99 " + human("p99_s");
    }
    if (!messages.empty())
    {
        os << "  message time: " << messages << "\n";
    }
    os << "  expert GPU load max/mean " << std::fixed << std::setprecision(2)
       << summary["gpu_load_max_over_mean"].get<double>() << "; dispatch bytes:";
    for (size_t l = 0; l < 4; ++l)
    {
        const char* name = LocalityName(static_cast<Locality>(l));
        os << " " << name << " "
           << FormatBytesHuman(
                  static_cast<double>(summary["dispatch_bytes_by_locality"][name].get<uint64_t>()));
    }
    os << "\n";
    if (summary.contains("fabric_tax") && summary["fabric_tax"]["total"]["complete"].get<bool>())
    {
        const Json& t = summary["fabric_tax"]["total"];
        os << "  fabric tax: packet-level "
           << FormatDurationHuman(PicoSeconds(
                  static_cast<int64_t>(std::llround(t["packet_s"].get<double>() * PS_PER_S))))
           << " vs ideal "
           << FormatDurationHuman(PicoSeconds(
                  static_cast<int64_t>(std::llround(t["ideal_s"].get<double>() * PS_PER_S))))
           << " (" << std::showpos << std::setprecision(1)
           << 100.0 * t["tax_fraction"].get<double>() << std::noshowpos << "%"
           << (spec.allReduce ? "; to the end of the run, the last iteration's all-reduce included"
                              : "")
           << ")\n";
    }
    return os.str();
}

std::string
Scenario::LayerPhasesCsv() const
{
    const MoeWorkload& w = *m_moe;
    const MoeWorkloadSpec& spec = w.GetSpec();
    std::ostringstream csv;
    csv << "group,gpu,iteration,stage,layer,pass,micro_batch,start_s";
    for (const auto& p : PHASES)
    {
        csv << ',' << p << "_s";
    }
    csv << ",end_s,critical_gpu,dispatch_bytes\n";
    for (uint32_t g = 0; g < w.GetNumGroups(); ++g)
    {
        const auto& nodes = w.GetGroupNodes(g);
        for (uint32_t it = 0; it < spec.iterations; ++it)
        {
            for (uint32_t st = 0; st < w.GetStagesPerIteration(); ++st)
            {
                for (uint32_t mb = 0; mb < spec.microBatches; ++mb)
                {
                    for (uint32_t n = 0; n < nodes.size(); ++n)
                    {
                        const MoeUnitRecord& r = w.GetRecord(g, it, st, mb, n);
                        if (r.end < 0)
                        {
                            continue;
                        }
                        csv << g << ',' << nodes[n] << ',' << it << ',' << st << ','
                            << w.StageLayer(st) << ','
                            << (w.StageIsBackward(st) ? "backward" : "forward") << ',' << mb << ','
                            << FormatSeconds(PicoSeconds(r.start));
                        for (int64_t p : PhasesOf(r))
                        {
                            csv << ',' << FormatSeconds(PicoSeconds(p));
                        }
                        csv << ',' << FormatSeconds(PicoSeconds(r.end)) << ',' << r.criticalGpu
                            << ',' << r.dispatchBytes << '\n';
                    }
                }
            }
        }
    }
    return csv.str();
}

std::string
FormatSeconds(Time t)
{
    int64_t ps = t.GetPicoSeconds();
    std::string sign;
    if (ps < 0)
    {
        sign = "-";
        ps = -ps;
    }
    char buf[48];
    std::snprintf(buf,
                  sizeof(buf),
                  "%s%lld.%012lld",
                  sign.c_str(),
                  static_cast<long long>(ps / PS_PER_S),
                  static_cast<long long>(ps % PS_PER_S));
    return buf;
}

std::string
GetModuleVersion()
{
    return MOE_FABRIC_VERSION;
}

std::string
GetModuleGitRevision()
{
    return MOE_GIT_REVISION;
}

Json
LoadRecordedConfig(const std::string& path, Json& manifest)
{
    manifest = Json::object();
    std::string file = path;
    std::ifstream probe(path + "/summary.json");
    if (probe.good())
    {
        file = path + "/summary.json";
    }
    else if (std::ifstream(path + "/effective_config.json").good())
    {
        file = path + "/effective_config.json";
    }
    std::ifstream in(file);
    struct stat st;
    if (!in || (stat(file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)))
    {
        throw ConfigError("--rerun",
                          "cannot read \"" + path +
                              "\"; accepted: a run's summary.json, its effective_config.json, or "
                              "the output directory holding them");
    }
    Json j;
    try
    {
        in >> j;
    }
    catch (const std::exception& e)
    {
        throw ConfigError("--rerun", "\"" + file + "\" is not valid JSON: " + e.what());
    }
    if (j.is_object() && j.contains("manifest"))
    {
        manifest = j["manifest"];
        if (!manifest.is_object() || !manifest.contains("config") ||
            !manifest["config"].is_object())
        {
            throw ConfigError("--rerun",
                              "\"" + file + "\" has no manifest.config (an object) to rerun");
        }
        return manifest["config"];
    }
    if (!j.is_object())
    {
        throw ConfigError("--rerun", "\"" + file + "\" is not a scenario configuration");
    }
    if (j.contains("sim") && j.contains("fabric"))
    {
        // Sections of summary.json that no scenario has: a summary that lost its manifest
        // would otherwise be read as a scenario and fail on its first summary key.
        throw ConfigError("--rerun",
                          "\"" + file +
                              "\" is a run summary without a manifest, so it holds no "
                              "configuration to rerun; accepted: a summary.json with "
                              "manifest.config, an effective_config.json, or their directory");
    }
    return j;
}

double
PeakRssMb()
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e6; // ru_maxrss is KiB on Linux
}

} // namespace moe
} // namespace ns3
