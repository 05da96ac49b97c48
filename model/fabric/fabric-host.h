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
#include "ns3/object.h"

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
    void ReceiveFrame(const Ptr<Packet>& packet, uint32_t inPort) override;

  protected:
    void DoDispose() override;

  private:
    bool Admit(const Ptr<Packet>& packet, uint8_t priority, uint32_t inPort, uint32_t outPort);

    uint32_t m_hostId{0};
    uint32_t m_nodeIndex{0};
    std::vector<Ptr<FabricNetDevice>> m_ports;
    Ptr<FabricRouting> m_routing;
    Ptr<FabricAdmission> m_admission;
    FabricFrameReceiver* m_receiver{nullptr};
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_HOST_H
