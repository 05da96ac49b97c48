/*
 * moe-fabric: the one admission interface between forwarding and egress queues.
 */
#ifndef MOE_FABRIC_ADMISSION_H
#define MOE_FABRIC_ADMISSION_H

#include "ns3/fabric-frame.h"
#include "ns3/object.h"
#include "ns3/packet.h"

#include <cstdint>
#include <vector>

namespace ns3
{
namespace moe
{

/// Port index used for frames a node generates itself (no ingress port).
constexpr uint16_t LOCAL_PORT = 0xffff;

/**
 * @brief Why a frame was dropped. Every drop in the fabric carries one of these.
 */
enum class DropReason : uint8_t
{
    EGRESS_QUEUE_FULL = 0, ///< admission refused: the egress queue is at its limit
    RX_ERROR,              ///< the receive error model corrupted the frame
    NO_ROUTE,              ///< no next hop towards the destination
    NOT_ROUTABLE,          ///< not an IPv4 frame addressed to a GPU
    EGRESS_THRESHOLD,      ///< shared buffer: the queue is at its dynamic threshold
    POOL_FULL,             ///< shared buffer: the service pool has no cell left
    HEADROOM_OVERFLOW,     ///< shared buffer: lossless traffic beyond XOFF exhausted headroom
    RX_BUFFER_FULL,        ///< host: the NIC's receive buffer had no room for the frame
    PFC_WATCHDOG,          ///< the PFC watchdog (action "drop") discards a storming queue
    FRAME_TOO_LARGE,       ///< a node's own stack handed the device a frame beyond its MTU
    COUNT                  ///< number of reasons (not a reason)
};

/// @brief Stable lower-case name of @p r, used in traces and summary.json.
const char* DropReasonName(DropReason r);

/**
 * @brief A frame waiting in an egress queue, with its per-hop metadata.
 *
 * Per-packet metadata lives here rather than in packet tags: it is set when the frame is admitted
 * and read at dequeue without touching the packet.
 */
struct QueueEntry
{
    Ptr<Packet> packet;
    uint32_t bytes{0};           ///< frame bytes as buffered (the packet size)
    uint16_t inPort{LOCAL_PORT}; ///< ingress port at this node
    uint8_t priority{0};
    uint8_t flags{0}; ///< reserved for admission implementations
    /// @c info holds the frame's parsed header fields. Switches set it from the fields the frame
    /// arrived with, so that no hop reads the frame buffer again; an admission that rewrites a
    /// header field (CE marking) updates it. Entries without it are parsed at dequeue.
    bool infoValid{false};
    FrameInfo info;
};

/**
 * @brief Decides whether a frame may enter an egress queue and learns when it leaves.
 *
 * A switch (or a relaying host) calls Admit() when a frame arriving on ingress port
 * @c entry.inPort wants egress queue (@p outPort, @c entry.priority), and the egress device calls
 * Release() when the frame is dequeued for transmission. This implementation is a
 * per-queue tail-drop limit; a shared-buffer MMU, PFC thresholds, ECN marking and telemetry
 * stamping are other implementations of the same two calls (marking and stamping at Release,
 * which may modify the packet).
 */
class FabricAdmission : public Object
{
  public:
    static TypeId GetTypeId();

    /**
     * @brief Prepare for a node with @p numPorts ports whose egress queues hold
     * NUM_PRIORITIES priorities. Called once by the helper before the simulation starts.
     */
    virtual void Initialize(uint32_t numPorts) = 0;

    /**
     * @brief May @p entry enter egress queue (@p outPort, entry.priority)?
     * @return true to enqueue; false to drop, with @p reason set.
     */
    virtual bool Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason) = 0;

    /// @brief @p entry left egress queue (@p outPort, entry.priority) for transmission.
    virtual void Release(QueueEntry& entry, uint32_t outPort) = 0;

    /**
     * @brief @p entry, admitted to queue (@p outPort, entry.priority), is discarded instead of
     * transmitted (e.g. by the PFC watchdog). The default is Release(); implementations that
     * decide something at dequeue (ECN) skip it here.
     */
    virtual void Discard(QueueEntry& entry, uint32_t outPort);
};

/**
 * @brief Per-queue tail drop: each (port, priority) queue holds at most QueueLimit bytes.
 *
 * A limit of 0 means unlimited (used for the NVSwitch domain, which is lossless, until PFC
 * lands). Occupancy is tracked here, independently of the device queues, so that the interface
 * is exercised exactly as a shared-buffer MMU will use it.
 */
class TailDropAdmission : public FabricAdmission
{
  public:
    static TypeId GetTypeId();
    TailDropAdmission();

    void Initialize(uint32_t numPorts) override;
    bool Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason) override;
    void Release(QueueEntry& entry, uint32_t outPort) override;

    /// @brief Bytes currently admitted to queue (@p port, @p priority).
    uint64_t GetOccupancy(uint32_t port, uint8_t priority) const;

  private:
    uint64_t m_limit;                  ///< bytes per queue, 0 = unlimited
    std::vector<uint64_t> m_occupancy; ///< [port * NUM_PRIORITIES + priority]
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_ADMISSION_H
