#include "fabric-channel.h"

#include "fabric-events.h"
#include "fabric-heap-scheduler.h"
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
/// The first frame in flight towards one end of a link arrives.
class FrameArrivalEvent : public PooledEventImpl<FrameArrivalEvent>
{
  public:
    FrameArrivalEvent(FabricChannel* channel, uint8_t end)
        : m_channel(channel),
          m_end(end)
    {
    }

  protected:
    void Notify() override
    {
        m_channel->DeliverHead(m_end);
    }

  private:
    FabricChannel* m_channel;
    uint8_t m_end;
};
} // namespace

TypeId
FabricChannel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::FabricChannel")
            .SetParent<Channel>()
            .SetGroupName("MoeFabric")
            .AddConstructor<FabricChannel>()
            .AddAttribute("Delay",
                          "Propagation delay plus the receiver's pipeline "
                          "latency, per direction.",
                          TimeValue(NanoSeconds(1000)),
                          MakeTimeAccessor(&FabricChannel::SetDelay, &FabricChannel::GetDelay),
                          MakeTimeChecker(Time(0)));
    return tid;
}

FabricChannel::FabricChannel()
{
}

void
FabricChannel::SetDelay(Time delay)
{
    m_delay = delay;
    m_delayPs = delay.GetPicoSeconds();
}

void
FabricChannel::DoDispose()
{
    for (auto& fifo : m_inFlight)
    {
        while (!fifo.empty())
        {
            AdoptPacket(fifo.front().packet); // drops the reference
            fifo.pop_front();
        }
    }
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
FabricChannel::Transmit(Packet* owned,
                        const FrameInfo& info,
                        const FabricNetDevice* src,
                        int64_t txPs)
{
    NS_ASSERT_MSG(m_nDevices == 2, "FabricChannel: link has one end only");
    const uint8_t end = m_devices[0] == src ? 1 : 0;
    auto& fifo = m_inFlight[end];
    const int64_t arrival = Simulator::Now().GetPicoSeconds() + txPs + m_delayPs;
    fifo.push_back(InFlightFrame{owned, arrival, info});
    if (fifo.size() == 1)
    {
        ScheduleHead(end);
    }
}

void
FabricChannel::ScheduleHead(uint8_t end)
{
    const InFlightFrame& head = m_inFlight[end].front();
    const int64_t delay = head.arrivalPs - Simulator::Now().GetPicoSeconds();
    const FabricNetDevice* rx = PeekPointer(m_devices[end]);
    FabricHeapScheduler::HintNext(this,
                                  &head,
                                  head.packet,
                                  rx->GetHotState(),
                                  rx->GetCounterState());
    Simulator::ScheduleWithContext(m_peerNodeId[end],
                                   PicoSeconds(delay),
                                   new FrameArrivalEvent(this, end));
}

void
FabricChannel::DeliverHead(uint8_t end)
{
    auto& fifo = m_inFlight[end];
    Packet* raw = fifo.front().packet;
    const FrameInfo info = fifo.front().info;
    fifo.pop_front();
    if (!fifo.empty())
    {
        ScheduleHead(end);
    }
    m_devices[end]->Receive(AdoptPacket(raw), info);
}

size_t
FabricChannel::GetFramesInFlight(uint8_t end) const
{
    return m_inFlight[end].size();
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
