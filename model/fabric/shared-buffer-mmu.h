/*
 * moe-fabric: a switch memory management unit with a shared, cell-based buffer.
 */
#ifndef MOE_SHARED_BUFFER_MMU_H
#define MOE_SHARED_BUFFER_MMU_H

#include "fabric-admission.h"
#include "fabric-frame.h"
#include "fabric-hash.h"

#include "ns3/callback.h"
#include "ns3/data-rate.h"
#include "ns3/nstime.h"
#include "ns3/traced-callback.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

class FabricSwitch;

/**
 * @brief Shared-buffer MMU of one switch: cells, service pools, dynamic thresholds, PFC
 * thresholds with headroom, and ECN marking at dequeue.
 *
 * The buffer (BufferSize bytes) is counted in cells of CellSize bytes; a frame costs
 * ceil(bytes / CellSize) cells. It is carved, in this order, into
 *  - egress reserves: EgressReservedBytes for every (port, lossy priority) queue;
 *  - ingress reserves: IngressReservedBytes for every (ingress port, lossless priority);
 *  - headroom: per (ingress port, lossless priority), or one shared headroom pool;
 *  - two service pools: the lossy pool (lossy priorities) and the lossless pool.
 *
 * Lossy priorities are admitted at egress with Choudhury-Hahne dynamic thresholds: the queue's
 * cells beyond its reserve may reach Alpha[p] x (free cells of the lossy pool). Lossless
 * priorities are admitted at ingress: reserve first, then the lossless pool up to XOFF, then
 * headroom; crossing XOFF asks for a pause, falling to XON asks for resume (through the pause
 * callback and the PauseRequest trace; this class sends no frame). Lossless frames also count
 * on their egress queue, for ECN and statistics, but are never refused by it.
 *
 * ECN is decided at Release on the bytes left in the frame's egress queue once the frame has
 * left: RED (Kmin, Kmax, Pmax) per priority, of which a step threshold K is the case
 * Kmin = Kmax = K. Only ECT(0)/ECT(1) frames become CE; the IPv4 checksum is recomputed.
 *
 * Where each frame's cells were charged is kept in QueueEntry::flags (bits 0-6: cells taken
 * from a reserve; bit 7: the rest came from headroom rather than the service pool), so Release
 * returns exactly the same cells to the same places.
 *
 * See doc/drafts/mmu.rst for the model, formulas and sources.
 */
class SharedBufferMmu : public FabricAdmission
{
  public:
    /// Buffer regions whose occupancy is reported.
    enum Pool : uint8_t
    {
        LOSSY_POOL = 0, ///< shared service pool of the lossy priorities
        LOSSLESS_POOL,  ///< shared service pool of the lossless priorities
        HEADROOM_POOL,  ///< headroom in use (per-PG headroom summed, or the shared headroom pool)
        RESERVED_POOL,  ///< egress and ingress reserves in use
        NUM_POOLS
    };

    /// @brief Stable lower-case name of @p pool ("lossy", "lossless", "headroom", "reserved").
    static const char* PoolName(Pool pool);

    /// Callback asking the port that received lossless traffic to pause (true) or resume.
    using PauseCallback = Callback<void, uint32_t, uint8_t, bool>;

    /// TracedCallback signature of PauseRequest.
    typedef void (*PauseRequestTracedCallback)(uint32_t inPort, uint8_t priority, bool pause);
    /// TracedCallback signature of EcnMark: the frame, its egress port and priority, and the
    /// queue bytes the decision was made on.
    typedef void (*EcnMarkTracedCallback)(Ptr<const Packet> packet,
                                          uint32_t port,
                                          uint8_t priority,
                                          uint64_t queueBytes);

    static TypeId GetTypeId();
    SharedBufferMmu();
    ~SharedBufferMmu() override;

    // FabricAdmission
    /// @brief Size the accounting for @p numPorts ports and carve the buffer. Aborts with the
    /// message of Validate() if the configuration is impossible.
    void Initialize(uint32_t numPorts) override;
    bool Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason) override;
    void Release(QueueEntry& entry, uint32_t outPort) override;
    void Discard(QueueEntry& entry, uint32_t outPort) override;

    /**
     * @brief "" if the configuration can be carved for @p numPorts ports, otherwise a message
     * that starts with the name of the offending attribute ("XonOffsetBytes: ...").
     *
     * Headroom sized automatically uses the links given by SetPortLink() / ConfigurePorts(),
     * or HeadroomLinkRate and HeadroomPropagationDelay for ports without one.
     */
    std::string Validate(uint32_t numPorts) const;
    /// @brief Validate() for the number of ports given to Initialize() (1 before it).
    std::string Validate() const;

    /**
     * @brief Bytes that may still arrive on a link after the receiver decides to pause it.
     *
     * Cisco, "Priority Flow Control: Build Reliable Layer 2 Infrastructure" (white paper
     * c11-542809), after IEEE 802.1Qbb: the largest frame the pausing side may have just
     * started (it delays the PFC frame), the PFC frame itself, the cable's round trip (the
     * frame travels one way while data keeps flowing the other way, and the data already on
     * the cable still arrives), the peer's response time, and the largest frame the peer may
     * have just started. At the link rate R:
     *
     *   bits = 8 W(mtu) + 8 W(60) + 2 R d + responseTimeBits + 8 W(mtu)
     *
     * where W(x) = WireBytes(x) adds FCS, preamble/SFD and the inter-frame gap (W(60) = 84, a
     * minimum-size PFC frame), d is the one-way propagation delay, and @p mtuBytes is the
     * largest frame as stored (Ethernet header through payload, no FCS). Returns ceil(bits/8).
     */
    static uint64_t HeadroomBytes(uint64_t rateBps,
                                  int64_t propagationDelayPs,
                                  uint32_t mtuBytes,
                                  uint64_t responseTimeBits);

    /**
     * @brief Upper bound of a MAC's reaction time to a PAUSE/PFC frame, in bit times, by rate
     * (IEEE 802.3 Annex 31B): 2 quanta up to 1 Gb/s, 60 up to 10 Gb/s, 80 up to 25 Gb/s,
     * 118 up to 40 Gb/s, 394 up to 100 Gb/s, 905 up to 400 Gb/s; above 400 Gb/s the 400 Gb/s
     * time scaled with the rate (an assumption: same time, more bits). One quantum = 512 bits.
     */
    static uint64_t PauseResponseBits(uint64_t rateBps);

    /**
     * @brief Rate and one-way delay of the link on @p port, used to size its headroom when
     * HeadroomAuto is set. Must be called before any frame is admitted; re-carves the buffer
     * and aborts if that becomes impossible.
     */
    void SetPortLink(uint32_t port, uint64_t rateBps, int64_t propagationDelayPs);
    /**
     * @brief SetPortLink() for every port of @p sw from its devices (bit rate, channel delay).
     * @return "" on success, otherwise the Validate() message (the previous carving is kept).
     */
    std::string ConfigurePorts(Ptr<FabricSwitch> sw);

    /// @brief Dynamic-threshold factor of lossy priority @p priority (> 0).
    void SetAlpha(uint8_t priority, double alpha);
    double GetAlpha(uint8_t priority) const;
    /// @brief RED marking on @p priority: probability 0 up to kmin bytes, rising linearly to
    /// pmax at kmax, 1 above kmax.
    void SetEcnRed(uint8_t priority, uint64_t kminBytes, uint64_t kmaxBytes, double pmax);
    /// @brief Step marking (DCTCP) on @p priority: mark every ECN-capable frame above @p k bytes.
    void SetEcnStep(uint8_t priority, uint64_t kBytes);
    /// @brief Turn ECN marking on @p priority on or off.
    void SetEcnEnabled(uint8_t priority, bool enabled);

    /// @brief Where pause/resume requests go (the PFC sender of the next slice).
    void SetPauseCallback(PauseCallback cb);

    /// @name Configuration as carved (valid after Initialize)
    /// @{
    uint32_t GetCellSize() const;
    /// @brief Cells a frame of @p bytes costs: ceil(bytes / CellSize), at least 1.
    uint32_t CellsFor(uint32_t bytes) const;
    bool IsLossless(uint8_t priority) const;
    uint64_t GetTotalCells() const;
    /// @brief Size of @p pool in cells (RESERVED_POOL: all reserves; HEADROOM_POOL: all headroom).
    uint64_t GetPoolSizeCells(Pool pool) const;
    /// @brief Headroom of one (port, lossless priority) in cells (0 = only the shared pool limits).
    uint64_t GetHeadroomLimitCells(uint32_t port) const;
    uint64_t GetEgressReservedCells() const;
    uint64_t GetIngressReservedCells() const;
    /// @}

    /// @name Occupancy and counters
    /// @{
    uint64_t GetPoolCells(Pool pool) const;
    uint64_t GetPoolBytes(Pool pool) const;
    uint64_t GetPeakPoolCells(Pool pool) const;
    uint64_t GetPeakPoolBytes(Pool pool) const;
    /// @brief Cells in use in the whole buffer, now and at peak.
    uint64_t GetUsedCells() const;
    uint64_t GetPeakUsedCells() const;
    /// @brief Cells / bytes admitted to egress queue (@p port, @p priority) and not yet released.
    uint64_t GetQueueCells(uint32_t port, uint8_t priority) const;
    uint64_t GetQueueBytes(uint32_t port, uint8_t priority) const;
    /// @brief Current egress limit of lossy queue (@p port, @p priority) in cells: its reserve
    /// plus Alpha x free cells of the lossy pool.
    uint64_t GetEgressLimitCells(uint32_t port, uint8_t priority) const;
    /// @brief Cells charged for lossless traffic received on (@p port, @p priority): reserve +
    /// shared + headroom; and the headroom part alone.
    uint64_t GetIngressCells(uint32_t port, uint8_t priority) const;
    uint64_t GetHeadroomCells(uint32_t port, uint8_t priority) const;
    /// @brief Current XOFF threshold in cells of the lossless pool (static or dynamic).
    uint64_t GetXoffCells() const;
    /// @brief Has a pause been requested for (@p port, @p priority) and not yet resumed?
    bool IsPauseRequested(uint32_t port, uint8_t priority) const;
    /// @brief Frames refused for @p reason.
    uint64_t GetDrops(DropReason reason) const;
    uint64_t GetEcnMarks() const;
    uint64_t GetEcnMarks(uint32_t port) const;
    /// @brief Pause (XOFF) and resume (XON) requests, in all and per ingress port.
    uint64_t GetPauseRequests() const;
    uint64_t GetResumeRequests() const;
    uint64_t GetPauseRequests(uint32_t port) const;
    /**
     * @brief "" when every queue, ingress, pool and peak-independent counter is back to zero
     * and no pause is outstanding (the fabric has drained); otherwise what is not.
     */
    std::string CheckAccounting() const;
    /// @}

  protected:
    void DoDispose() override;

  private:
    /// The buffer as carved for a number of ports.
    struct Layout
    {
        uint32_t numPorts{0};
        uint32_t cellBytes{256};
        uint64_t totalCells{0};
        uint64_t egressReserveCells{0};      ///< per (port, lossy priority)
        uint64_t ingressReserveCells{0};     ///< per (port, lossless priority)
        uint64_t reservedCells{0};           ///< all reserves
        uint64_t sharedHeadroomCells{0};     ///< 0: per-PG headroom is reserved instead
        std::vector<uint64_t> headroomCells; ///< per port: each lossless PG's headroom
        uint64_t headroomCellsTotal{0};
        uint64_t lossyPoolCells{0};
        uint64_t losslessPoolCells{0};
        uint64_t xoffStaticCells{0}; ///< 0: dynamic
        uint64_t xonOffsetCells{0};
    };

    /// Per (port, priority) egress queue.
    struct EgressState
    {
        uint64_t cells{0};
        uint64_t bytes{0};
        uint64_t reserveCells{0}; ///< lossy: cells from the egress reserve
        uint64_t sharedCells{0};  ///< lossy: cells from the lossy pool
    };

    /// Per (ingress port, lossless priority) accounting.
    struct IngressState
    {
        uint64_t reserveCells{0};
        uint64_t sharedCells{0};
        uint64_t headroomCells{0};
        uint64_t sharedBytes{0};   ///< bytes of the frames whose cells sharedCells counts
        uint64_t headroomBytes{0}; ///< bytes of the frames whose cells headroomCells counts
        bool paused{false};
    };

    /// Return @p cells / @p bytes (not from a reserve) of a lossless PG: headroom first.
    void ReleaseIngress(IngressState& ig, uint64_t cells, uint64_t bytes);

    std::string ComputeLayout(uint32_t numPorts, Layout& out) const;
    void ApplyLayout(const Layout& layout);
    uint64_t DtLimit(uint64_t freeCells, uint64_t alphaQ16) const;
    uint64_t XoffLimit() const;
    void Charge(Pool pool, uint64_t cells, uint64_t bytes);
    void Uncharge(Pool pool, uint64_t cells, uint64_t bytes);
    void RequestPause(uint32_t port, uint8_t priority, bool pause);
    /// Return @p entry's cells to their pools and counters; the bytes left in its egress queue.
    uint64_t ReleaseCells(QueueEntry& entry, uint32_t outPort);
    void MaybeMarkEcn(QueueEntry& entry, uint32_t outPort, uint64_t queueBytes);

    void SetAlphaList(std::string list);
    std::string GetAlphaList() const;
    void SetKminList(std::string list);
    std::string GetKminList() const;
    void SetKmaxList(std::string list);
    std::string GetKmaxList() const;
    void SetPmaxList(std::string list);
    std::string GetPmaxList() const;
    void SetSeed(uint64_t seed);
    uint64_t GetSeed() const;

    static size_t Index(uint32_t port, uint8_t priority)
    {
        return static_cast<size_t>(port) * NUM_PRIORITIES + priority;
    }

    // Attributes
    uint32_t m_cellSize;
    uint64_t m_bufferSize;
    uint64_t m_lossyPoolBytes;
    uint64_t m_losslessPoolBytes;
    double m_losslessPoolFraction;
    uint64_t m_sharedHeadroomBytes;
    uint64_t m_egressReservedBytes;
    uint64_t m_ingressReservedBytes;
    uint8_t m_losslessMask;
    uint64_t m_queueLimitBytes;
    uint64_t m_xoffBytes;
    double m_xoffAlpha;
    int64_t m_xonOffsetBytes;
    bool m_headroomAuto;
    uint64_t m_headroomBytes;
    DataRate m_headroomLinkRate;
    Time m_headroomDelay;
    uint64_t m_peerResponseBits;
    uint32_t m_maxFrameBytes;
    uint8_t m_ecnMask;
    uint64_t m_seed;

    std::array<double, NUM_PRIORITIES> m_alpha;
    std::array<uint64_t, NUM_PRIORITIES> m_alphaQ16; ///< Alpha in 16.16 fixed point
    std::array<uint64_t, NUM_PRIORITIES> m_kmin;
    std::array<uint64_t, NUM_PRIORITIES> m_kmax;
    std::array<double, NUM_PRIORITIES> m_pmax;

    /// Parse errors of the list attributes (Alpha, EcnKminBytes, EcnKmaxBytes, EcnPmax), reported
    /// by Validate(); a later valid value clears its attribute's error.
    enum ListAttribute : uint8_t
    {
        LIST_ALPHA = 0,
        LIST_KMIN,
        LIST_KMAX,
        LIST_PMAX,
        NUM_LISTS
    };

    std::array<std::string, NUM_LISTS> m_listErrors;

    // Carving and per-port links
    Layout m_layout;
    bool m_initialized{false};
    uint64_t m_xoffAlphaQ16{0};
    std::vector<uint64_t> m_portRate;   ///< bit/s, 0 = HeadroomLinkRate
    std::vector<int64_t> m_portDelayPs; ///< -1 = HeadroomPropagationDelay

    // State
    std::vector<EgressState> m_egress;   ///< [port * NUM_PRIORITIES + priority]
    std::vector<IngressState> m_ingress; ///< [port * NUM_PRIORITIES + priority]
    std::array<uint64_t, NUM_POOLS> m_poolCells{};
    std::array<uint64_t, NUM_POOLS> m_poolBytes{};
    std::array<uint64_t, NUM_POOLS> m_peakPoolCells{};
    std::array<uint64_t, NUM_POOLS> m_peakPoolBytes{};
    uint64_t m_usedCells{0};
    uint64_t m_peakUsedCells{0};
    FastRng m_rng;

    // Counters
    std::array<uint64_t, static_cast<size_t>(DropReason::COUNT)> m_drops{};
    std::vector<uint64_t> m_ecnMarks;      ///< per egress port
    std::vector<uint64_t> m_pauseRequests; ///< per ingress port
    uint64_t m_ecnMarksTotal{0};
    uint64_t m_pauseTotal{0};
    uint64_t m_resumeTotal{0};

    PauseCallback m_pauseCallback;
    TracedCallback<uint32_t, uint8_t, bool> m_pauseTrace;
    TracedCallback<Ptr<const Packet>, uint32_t, uint8_t, uint64_t> m_ecnMarkTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_SHARED_BUFFER_MMU_H
