#include "fabric-stats.h"

#include "ns3/fabric-channel.h"

#include <algorithm>
#include <sstream>

namespace ns3
{
namespace moe
{

uint64_t
TierStats::TotalDrops() const
{
    uint64_t n = 0;
    for (auto d : drops)
    {
        n += d;
    }
    return n;
}

double
TierStats::Utilization(Time duration) const
{
    const double seconds = duration.GetSeconds();
    if (seconds <= 0 || capacityBps == 0)
    {
        return 0;
    }
    return static_cast<double>(txWireBytes) * 8.0 / (static_cast<double>(capacityBps) * seconds);
}

FabricStats::FabricStats(Ptr<FabricTopology> topology)
    : m_topology(topology)
{
}

std::vector<TierStats>
FabricStats::CollectTiers() const
{
    const TopologySpec& spec = m_topology->GetSpec();
    std::vector<TierStats> tiers(spec.tierNames.size());
    for (size_t t = 0; t < tiers.size(); ++t)
    {
        tiers[t].name = spec.tierNames[t];
    }
    for (const auto& l : spec.links)
    {
        ++tiers[l.tier].links;
        tiers[l.tier].capacityBps += 2 * l.rateBps;
    }
    for (const auto& dev : m_topology->GetAllDevices())
    {
        TierStats& t = tiers.at(dev->GetTier());
        const FabricPortCounters& c = dev->GetCounters();
        t.txFrames += c.txFrames;
        t.txBytes += c.txBytes;
        t.txWireBytes += c.txWireBytes;
        t.rxFrames += c.rxFrames;
        t.maxQueueBytes = std::max(t.maxQueueBytes, c.maxQueueBytes);
        for (size_t r = 0; r < t.drops.size(); ++r)
        {
            t.drops[r] += c.dropFrames[r];
        }
        t.dropBytes += c.dropBytes;
        const FabricPfcCounters& pfc = dev->GetPfcCounters();
        t.pfcFrames += pfc.framesSent;
        t.pfcPauses += pfc.TotalPausesSent();
        t.pfcPauseEvents += pfc.TotalPauseEvents();
        t.pfcPausedSeconds += static_cast<double>(pfc.TotalPausedPs()) * 1e-12;
        t.pfcMaxPortPausedSeconds =
            std::max(t.pfcMaxPortPausedSeconds, static_cast<double>(pfc.TotalPausedPs()) * 1e-12);
        t.pfcWatchdogStorms += pfc.TotalWatchdogStorms();
    }
    return tiers;
}

uint64_t
FabricStats::GetPacketHops() const
{
    uint64_t n = 0;
    for (const auto& dev : m_topology->GetAllDevices())
    {
        n += dev->GetCounters().txFrames;
    }
    return n;
}

uint64_t
FabricStats::GetPfcPauses() const
{
    uint64_t n = 0;
    for (const auto& dev : m_topology->GetAllDevices())
    {
        n += dev->GetPfcCounters().TotalPausesSent();
    }
    return n;
}

double
FabricStats::GetPfcPausedSeconds() const
{
    int64_t ps = 0;
    for (const auto& dev : m_topology->GetAllDevices())
    {
        ps += dev->GetPfcCounters().TotalPausedPs();
    }
    return static_cast<double>(ps) * 1e-12;
}

uint64_t
FabricStats::GetQueuedFrames() const
{
    uint64_t n = 0;
    for (const auto& dev : m_topology->GetAllDevices())
    {
        n += dev->GetQueueFrames();
    }
    return n;
}

uint64_t
FabricStats::GetFramesInFlight() const
{
    uint64_t n = 0;
    for (const auto& dev : m_topology->GetAllDevices())
    {
        // Count each link once, from the device at its first end: both directions.
        Ptr<FabricChannel> channel = dev->GetFabricChannel();
        if (channel->GetDevice(0) == dev)
        {
            n += channel->GetFramesInFlight(0) + channel->GetFramesInFlight(1);
        }
    }
    return n;
}

uint64_t
FabricStats::GetRxBufferedFrames() const
{
    uint64_t n = 0;
    for (uint32_t g = 0; g < m_topology->GetSpec().NumHosts(); ++g)
    {
        n += m_topology->GetHost(g)->GetRxBufferedFrames();
    }
    return n;
}

bool
FabricStats::IsIdle() const
{
    for (const auto& dev : m_topology->GetAllDevices())
    {
        if (dev->GetQueueFrames() != 0 || dev->IsTransmitting())
        {
            return false;
        }
    }
    return GetRxBufferedFrames() == 0 && GetFramesInFlight() == 0;
}

std::string
FabricStats::CheckConservation() const
{
    const auto devices = m_topology->GetAllDevices();
    const auto& links = m_topology->GetSpec().links;
    for (size_t l = 0; l < links.size(); ++l)
    {
        for (int dir = 0; dir < 2; ++dir)
        {
            const auto& tx = devices[2 * l + dir];
            const auto& rx = devices[2 * l + 1 - dir];
            const uint64_t sent = tx->GetCounters().txFrames;
            const uint64_t received = rx->GetCounters().rxFrames;
            const uint64_t corrupted =
                rx->GetCounters().dropFrames[static_cast<size_t>(DropReason::RX_ERROR)];
            if (sent != received + corrupted)
            {
                std::ostringstream ss;
                ss << "link " << l << " direction " << dir << ": sent " << sent << " != received "
                   << received << " + corrupted " << corrupted;
                return ss.str();
            }
        }
    }
    return "";
}

} // namespace moe
} // namespace ns3
