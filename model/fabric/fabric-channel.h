/*
 * moe-fabric: a full-duplex link between two FabricNetDevices.
 */
#ifndef MOE_FABRIC_CHANNEL_H
#define MOE_FABRIC_CHANNEL_H

#include "ns3/channel.h"
#include "ns3/nstime.h"
#include "ns3/packet.h"

namespace ns3
{
namespace moe
{

class FabricNetDevice;

/**
 * @brief Full-duplex point-to-point link. Each direction is independent: a frame handed over
 * by one end reaches the other after its serialization time plus Delay.
 *
 * Delay is the propagation delay plus whatever fixed latency the receiving element adds before
 * the frame can be forwarded (a switch's pipeline), so that latency costs no extra event.
 */
class FabricChannel : public Channel
{
  public:
    static TypeId GetTypeId();
    FabricChannel();

    /// @brief Attach a device (called by FabricNetDevice::Attach); at most two.
    void Attach(Ptr<FabricNetDevice> device);
    /// @brief Deliver @p packet from @p src to the other end after @p txTime + Delay.
    void Transmit(const Ptr<Packet>& packet, const FabricNetDevice* src, const Time& txTime);
    /// @brief The device at the other end from @p device.
    Ptr<FabricNetDevice> GetPeer(const FabricNetDevice* device) const;

    Time GetDelay() const;

    std::size_t GetNDevices() const override;
    Ptr<NetDevice> GetDevice(std::size_t i) const override;

  protected:
    void DoDispose() override;

  private:
    Time m_delay;
    Ptr<FabricNetDevice> m_devices[2];
    uint32_t m_peerNodeId[2]{0, 0}; ///< node ids of the two ends (event contexts)
    std::size_t m_nDevices{0};
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_CHANNEL_H
