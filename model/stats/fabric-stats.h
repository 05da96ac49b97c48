/*
 * moe-fabric: fabric counters aggregated per tier.
 */
#ifndef MOE_FABRIC_STATS_H
#define MOE_FABRIC_STATS_H

#include "ns3/fabric-topology.h"
#include "ns3/nstime.h"

#include <array>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Counters of every port of one tier of links, summed (both directions).
 */
struct TierStats
{
    std::string name;
    uint32_t links{0};
    uint64_t capacityBps{0}; ///< sum of line rates over both directions of every link
    uint64_t txFrames{0};
    uint64_t txBytes{0};     ///< frame bytes as buffered
    uint64_t txWireBytes{0}; ///< including FCS, preamble, inter-frame gap and padding
    uint64_t rxFrames{0};
    uint64_t maxQueueBytes{0}; ///< largest egress queue seen on any port of the tier
    std::array<uint64_t, static_cast<size_t>(DropReason::COUNT)> drops{};
    uint64_t dropBytes{0};
    /// PFC: frames sent (pauses, refreshes and resumes), pause quanta sent (one per priority
    /// per frame with nonzero quanta: the usual "PFC pause frames" counter), times an egress
    /// priority entered the paused state, and the time egress priorities spent paused (summed
    /// over ports and priorities).
    uint64_t pfcFrames{0};
    uint64_t pfcPauses{0};
    uint64_t pfcPauseEvents{0};
    double pfcPausedSeconds{0};
    /// PFC: the longest time one port of the tier spent paused (its priorities summed): where a
    /// pause tree is rooted, which the sum over ports hides.
    double pfcMaxPortPausedSeconds{0};
    /// PFC watchdog: pause storms detected on egress priorities of the tier's ports.
    uint64_t pfcWatchdogStorms{0};

    uint64_t TotalDrops() const;
    /// @brief Wire bytes over capacity during @p duration (0..1).
    double Utilization(Time duration) const;
};

/**
 * @brief Reads the counters every FabricNetDevice keeps beside its trace sources and sums them
 * per tier. Costs nothing during the run.
 */
class FabricStats
{
  public:
    explicit FabricStats(Ptr<FabricTopology> topology);

    /// @brief One entry per tier, in the topology's tier order.
    std::vector<TierStats> CollectTiers() const;
    /// @brief Frames transmitted on all links (every hop of every frame, ACKs included).
    uint64_t GetPacketHops() const;
    /// @brief PFC pauses sent on all links (TierStats::pfcPauses summed).
    uint64_t GetPfcPauses() const;
    /// @brief Time egress priorities spent paused, summed over all ports and priorities.
    double GetPfcPausedSeconds() const;
    /// @brief Frames still queued anywhere.
    uint64_t GetQueuedFrames() const;
    /// @brief Frames on the wire (being serialized or propagating, not yet arrived).
    uint64_t GetFramesInFlight() const;
    /// @brief Frames waiting in the NICs' receive buffers (``nic.rx``), not yet delivered.
    uint64_t GetRxBufferedFrames() const;
    /// @brief Nothing queued, nothing on the wire, no port transmitting, nothing waiting in a
    /// NIC's receive buffer.
    bool IsIdle() const;

    /**
     * @brief Frame conservation per link direction: frames transmitted by one end equal the
     * frames the other end received intact plus those its receive error model dropped.
     * Returns a description of the first violation, or "" if none. Valid when no frame is in
     * flight (after the simulation has drained).
     */
    std::string CheckConservation() const;

  private:
    Ptr<FabricTopology> m_topology;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_STATS_H
