/*
 * moe-fabric: a switch forwarding by destination GPU with ECMP or per-packet spraying.
 */
#ifndef MOE_FABRIC_SWITCH_H
#define MOE_FABRIC_SWITCH_H

#include "fabric-admission.h"
#include "fabric-frame.h"
#include "fabric-hash.h"
#include "fabric-net-device.h"
#include "fabric-routing.h"

#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Forwarding logic of a switch node (aggregated to the Node).
 *
 * A frame arriving on a port is parsed in place (FrameInfo), looked up in the routing table
 * (O(1)), given one of the equal-cost egress ports -- by a 5-tuple hash with a per-switch seed
 * (ECMP), at random per packet (spraying), per packet to the port with the fewest queued bytes
 * (adaptive routing), or per flowlet (a flow's packets stay on one port until the flow pauses
 * longer than FlowletGap; the next packet then takes the least-loaded port) -- and offered to the
 * admission object; admitted frames join the egress port's priority queue, refused ones are
 * dropped and traced. "Load" is the bytes queued at the port over all priorities (the frame being
 * serialized not included); ties go to the first port from a random (adaptive) or hashed
 * (flowlet) starting point, so equally loaded ports share traffic evenly.
 */
class FabricSwitch : public Object, public FabricFrameSink
{
  public:
    static TypeId GetTypeId();
    FabricSwitch();

    /// Load-balancing policies among equal-cost next hops.
    enum LoadBalancing
    {
        ECMP = 0,     ///< per flow: hash of the 5-tuple
        SPRAY = 1,    ///< per packet: uniformly random next hop
        ADAPTIVE = 2, ///< per packet: the next hop with the fewest queued bytes
        FLOWLET = 3,  ///< per flowlet: least queued bytes when a flow resumes after a gap
    };

    /// TracedCallback signature for forwarding decisions: (packet, in port, out port).
    typedef void (*ForwardTracedCallback)(Ptr<const Packet> packet,
                                          uint32_t inPort,
                                          uint32_t outPort);

    /// @brief Add @p device as the next port; returns its port index.
    uint32_t AddPort(Ptr<FabricNetDevice> device);
    uint32_t GetNPorts() const;
    Ptr<FabricNetDevice> GetPort(uint32_t i) const;

    /// @brief Routing state and this switch's node index in it.
    void SetRouting(Ptr<FabricRouting> routing, uint32_t nodeIndex);
    /// @brief Admission object for all egress queues of this switch.
    void SetAdmission(Ptr<FabricAdmission> admission);
    Ptr<FabricAdmission> GetAdmission() const;

    /// @brief Called by a port when a frame arrives.
    void ReceiveFrame(const Ptr<Packet>& packet, const FrameInfo& info, uint32_t inPort) override;

    /**
     * @brief Pause (or resume) @p priority on the link of port @p inPort: the port sends PFC
     * frames to its peer (FabricNetDevice::RequestPfc). The MMU's pause callback lands here.
     */
    void RequestPfc(uint32_t inPort, uint8_t priority, bool pause);

    /// @brief The egress port ECMP would choose for this 5-tuple (exposed for tests/queries).
    /// @brief Flowlets that started (a new flow, or a flow resuming after FlowletGap).
    uint64_t GetFlowletsStarted() const;

    uint32_t SelectEcmpPort(const FabricRouting::PortSet& set,
                            uint32_t srcIp,
                            uint32_t dstIp,
                            uint16_t srcPort,
                            uint16_t dstPort,
                            uint8_t protocol) const;

    /**
     * @brief Of the ports in @p set, the one with the fewest queued bytes, scanning from index
     * @p start (mod the set size) so that ties go to the first one found.
     */
    uint32_t SelectLeastLoaded(const FabricRouting::PortSet& set, uint32_t start) const;
    /// @brief The port of this frame's flowlet (FLOWLET), starting a new one after a gap.
    uint32_t SelectFlowletPort(const FabricRouting::PortSet& set, const FrameInfo& info);

  protected:
    void DoDispose() override;

  private:
    std::vector<Ptr<FabricNetDevice>> m_ports;
    std::vector<FabricNetDevice*> m_portPtrs; ///< raw copies for the hot path
    Ptr<FabricRouting> m_routing;
    Ptr<FabricAdmission> m_admission;
    uint32_t m_nodeIndex{0};
    LoadBalancing m_loadBalancing{ECMP};
    uint64_t m_hashSeed{0};
    FastRng m_rng;

    /// Flowlet table: one slot per flow hash (index = hash mod size; a tag of the hash's upper
    /// bits tells flows sharing a slot apart, a new flow simply takes the slot over).
    struct FlowletSlot
    {
        int64_t lastPs{-1};
        uint32_t tag{0};
        uint32_t port{0};
    };

    std::vector<FlowletSlot> m_flowlets;
    uint32_t m_flowletTableSize{65536};
    Time m_flowletGap;
    uint64_t m_flowletsStarted{0};
    TracedCallback<Ptr<const Packet>, uint32_t, uint32_t> m_forwardTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_SWITCH_H
