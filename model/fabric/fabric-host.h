/*
 * moe-fabric: frame delivery and relaying on a GPU's node.
 */
#ifndef MOE_FABRIC_HOST_H
#define MOE_FABRIC_HOST_H

#include "fabric-admission.h"
#include "fabric-frame.h"
#include "fabric-net-device.h"
#include "fabric-routing.h"

#include "ns3/callback.h"
#include "ns3/data-rate.h"
#include "ns3/event-id.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <deque>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief What receives the frames addressed to a GPU (its transport). Called once per frame.
 */
class FabricFrameReceiver
{
  public:
    virtual ~FabricFrameReceiver() = default;
    /// @brief @p packet, addressed to this GPU, arrived on host port @p port.
    virtual void DeliverFrame(const Ptr<Packet>& packet,
                              const FrameInfo& frame,
                              const RoceInfo& roce,
                              uint32_t port) = 0;
};

/**
 * @brief The fabric side of a GPU's node: its ports (NIC, and NVLink when the GPU sits in a
 * server), delivery of frames addressed to it, and relaying of frames that are not.
 *
 * Relaying exists for rail-only topologies, where a frame to another rail first crosses the
 * server's NVSwitch to the GPU on the destination's rail and leaves through that GPU's NIC
 * (as NCCL's PXN does). Relayed and control frames pass the host's admission object like any
 * switch traffic.
 *
 * Receive pipeline (RxDrainRate > 0): frames addressed to this host that arrive on the NIC
 * (port 0) wait in the NIC's receive buffer and reach the transport at RxDrainRate, the rate
 * at which the host side (PCIe, memory, the RDMA engine) absorbs them. A receiver slower than
 * its link fills the buffer; for a lossless priority the NIC then sends PFC pauses on its port
 * once that priority's buffered bytes reach RxXoffBytes and resumes them at RxXonBytes (the
 * "slow receiver" NIC pauses reported in production RoCE fabrics); a frame that finds the
 * buffer full is dropped (reason rx_buffer_full). Frames arriving over NVLink are written to
 * GPU memory by the NVSwitch and bypass the NIC buffer. With RxDrainRate 0 (the default) frames
 * are delivered as they arrive.
 */
class FabricHost : public Object, public FabricFrameSink
{
  public:
    static TypeId GetTypeId();
    FabricHost();

    /// @brief This host's id (its GPU id).
    void SetHostId(uint32_t id);
    uint32_t GetHostId() const;

    /// @brief Add @p device as the next port (0 = NIC, 1 = NVLink); returns its index.
    uint32_t AddPort(Ptr<FabricNetDevice> device);
    uint32_t GetNPorts() const;
    Ptr<FabricNetDevice> GetPort(uint32_t i) const;

    void SetRouting(Ptr<FabricRouting> routing, uint32_t nodeIndex);
    Ptr<FabricRouting> GetRouting() const;
    uint32_t GetNodeIndex() const;
    void SetAdmission(Ptr<FabricAdmission> admission);
    /// @brief The admission of this host's queues (relayed, control and stack frames).
    Ptr<FabricAdmission> GetAdmission() const;

    /// @brief Where frames addressed to this host go (the transport); nullptr removes it.
    void SetFrameReceiver(FabricFrameReceiver* receiver);

    /// @brief Egress port towards @p dstHost (the first of its route set).
    uint32_t GetEgressPort(uint32_t dstHost) const;

    /**
     * @brief Queue a frame this host generated (e.g. an ACK) on @p port at @p priority, through
     * the admission object. Returns false (and traces the drop) if it was refused.
     */
    bool SendFrame(Ptr<Packet> packet, uint8_t priority, uint32_t port);

    /// @brief Called by a port when a frame arrives.
    void ReceiveFrame(const Ptr<Packet>& packet, const FrameInfo& info, uint32_t inPort) override;

    /// TracedCallback signature of RxPause: the NIC asks its peer to pause (true) or resume
    /// @p priority because of its receive buffer.
    typedef void (*RxPauseTracedCallback)(uint8_t priority, bool pause);

    /// @brief Frames / bytes waiting in the NIC's receive buffer.
    uint32_t GetRxBufferedFrames() const;
    uint64_t GetRxBufferedBytes() const;
    /// @brief Largest receive-buffer occupancy seen, in bytes.
    uint64_t GetRxPeakBytes() const;
    /// @brief Whether the receive pipeline is modelled (RxDrainRate > 0).
    bool HasRxPipeline() const;
    /// @brief XOFF / XON thresholds in force (RxXoffBytes 0 resolves to the buffer size minus
    /// the headroom of the NIC's link, see the class description).
    uint64_t GetRxXoffBytes();
    uint64_t GetRxXonBytes();

  protected:
    void DoDispose() override;

  private:
    bool Admit(const Ptr<Packet>& packet, uint8_t priority, uint32_t inPort, uint32_t outPort);
    void RxBuffer(const Ptr<Packet>& packet,
                  const FrameInfo& info,
                  const RoceInfo& roce,
                  uint32_t inPort);
    void RxStartDrain();
    void RxDrained();
    void ResolveRxThresholds();

    uint32_t m_hostId{0};
    uint32_t m_nodeIndex{0};
    std::vector<Ptr<FabricNetDevice>> m_ports;
    Ptr<FabricRouting> m_routing;
    Ptr<FabricAdmission> m_admission;
    FabricFrameReceiver* m_receiver{nullptr};

    struct RxFrame
    {
        Ptr<Packet> packet;
        FrameInfo info;
        RoceInfo roce;
        uint32_t port;
    };

    DataRate m_rxDrainRate{0};
    uint64_t m_rxBufferBytes{0};
    uint64_t m_rxXoffBytes{0};
    uint64_t m_rxXonBytes{0};
    uint8_t m_rxLosslessMask{0};
    bool m_rxThresholdsResolved{false};
    std::deque<RxFrame> m_rxQueue;
    uint64_t m_rxBytes{0};
    uint64_t m_rxPeakBytes{0};
    std::array<uint64_t, NUM_PRIORITIES> m_rxPriorityBytes{};
    uint8_t m_rxPausing{0}; ///< priorities the NIC currently asks its peer to pause
    EventId m_rxDrainEvent;
    TracedCallback<uint8_t, bool> m_rxPauseTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_HOST_H
