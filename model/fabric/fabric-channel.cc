#include "fabric-channel.h"

#include "fabric-net-device.h"

#include "ns3/log.h"
#include "ns3/simulator.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricChannel");

NS_OBJECT_ENSURE_REGISTERED(FabricChannel);

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
    m_devices[m_nDevices++] = device;
}

void
FabricChannel::Transmit(Ptr<Packet> packet, const FabricNetDevice* src, Time txTime)
{
    FabricNetDevice* peer = PeekPointer(m_devices[m_devices[0] == src ? 1 : 0]);
    NS_ASSERT_MSG(peer != nullptr && m_nDevices == 2, "FabricChannel: link has one end only");
    Simulator::ScheduleWithContext(peer->GetNode()->GetId(),
                                   txTime + m_delay,
                                   &FabricNetDevice::Receive,
                                   peer,
                                   packet);
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
