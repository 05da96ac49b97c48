#include "fabric-channel.h"

#include "fabric-events.h"
#include "fabric-net-device.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricChannel");

NS_OBJECT_ENSURE_REGISTERED(FabricChannel);

namespace
{
/// A frame's last bit reaches the far end of the link.
class FrameArrivalEvent : public PooledEventImpl<FrameArrivalEvent>
{
  public:
    FrameArrivalEvent(FabricNetDevice* device, const Ptr<Packet>& packet)
        : m_device(device),
          m_packet(packet)
    {
    }

  protected:
    void Notify() override
    {
        m_device->Receive(m_packet);
    }

  private:
    FabricNetDevice* m_device;
    Ptr<Packet> m_packet;
};
} // namespace

TypeId
FabricChannel::GetTypeId()
{
    static TypeId tid = TypeId("ns3::moe::FabricChannel")
                            .SetParent<Channel>()
                            .SetGroupName("MoeFabric")
                            .AddConstructor<FabricChannel>()
                            .AddAttribute("Delay",
                                          "Propagation delay plus the receiver's pipeline "
                                          "latency, per direction.",
                                          TimeValue(NanoSeconds(1000)),
                                          MakeTimeAccessor(&FabricChannel::m_delay),
                                          MakeTimeChecker(Time(0)));
    return tid;
}

FabricChannel::FabricChannel()
{
}

void
FabricChannel::DoDispose()
{
    m_devices[0] = nullptr;
    m_devices[1] = nullptr;
    Channel::DoDispose();
}

void
FabricChannel::Attach(Ptr<FabricNetDevice> device)
{
    NS_ABORT_MSG_IF(m_nDevices >= 2, "FabricChannel: a link joins exactly two devices");
    NS_ABORT_MSG_IF(!device->GetNode(), "FabricChannel: attach a device after adding it to a node");
    m_peerNodeId[m_nDevices] = device->GetNode()->GetId();
    m_devices[m_nDevices++] = device;
}

void
FabricChannel::Transmit(const Ptr<Packet>& packet, const FabricNetDevice* src, const Time& txTime)
{
    FabricNetDevice* peer = PeekPointer(m_devices[m_devices[0] == src ? 1 : 0]);
    NS_ASSERT_MSG(peer != nullptr && m_nDevices == 2, "FabricChannel: link has one end only");
    Simulator::ScheduleWithContext(m_peerNodeId[m_devices[0] == src ? 1 : 0],
                                   txTime + m_delay,
                                   new FrameArrivalEvent(peer, packet));
}

Ptr<FabricNetDevice>
FabricChannel::GetPeer(const FabricNetDevice* device) const
{
    if (m_nDevices < 2)
    {
        return nullptr;
    }
    return m_devices[m_devices[0] == device ? 1 : 0];
}

Time
FabricChannel::GetDelay() const
{
    return m_delay;
}

std::size_t
FabricChannel::GetNDevices() const
{
    return m_nDevices;
}

Ptr<NetDevice>
FabricChannel::GetDevice(std::size_t i) const
{
    return i < m_nDevices ? m_devices[i] : nullptr;
}

} // namespace moe
} // namespace ns3
