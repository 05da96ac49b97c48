/*
 * moe-fabric: a full-duplex link between two FabricNetDevices.
 */
#ifndef MOE_FABRIC_CHANNEL_H
#define MOE_FABRIC_CHANNEL_H

#include "fabric-frame.h"
#include "fabric-ring-buffer.h"

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
    /**
     * @brief Deliver a frame from @p src to the other end after @p txPs + Delay. The channel
     * takes over the packet reference @p owned (see DetachPacket()). @p info, the frame's parsed
     * header fields, travels with it to the receiver, which then need not read the frame buffer.
     */
    void Transmit(Packet* owned, const FrameInfo& info, const FabricNetDevice* src, int64_t txPs);
    /// @brief The first frame in flight towards end @p end has arrived (called by its event).
    void DeliverHead(uint8_t end);
    /// @brief Frames on the wire towards end @p end (0 or 1).
    size_t GetFramesInFlight(uint8_t end) const;
    /// @brief The device at the other end from @p device.
    Ptr<FabricNetDevice> GetPeer(const FabricNetDevice* device) const;

    void SetDelay(Time delay);
    Time GetDelay() const;

    std::size_t GetNDevices() const override;
    Ptr<NetDevice> GetDevice(std::size_t i) const override;

  protected:
    void DoDispose() override;

  private:
    Time m_delay;

    /// @brief A frame on the wire and when its last bit reaches the far end.
    struct InFlightFrame
    {
        Packet* packet{nullptr}; ///< owned reference
        int64_t arrivalPs{0};
        FrameInfo info; ///< its parsed header fields, handed to the receiver with it
    };

    void ScheduleHead(uint8_t end);

    Ptr<FabricNetDevice> m_devices[2];
    uint32_t m_peerNodeId[2]{0, 0}; ///< node ids of the two ends (event contexts)
    int64_t m_delayPs{0};
    /// Frames in flight towards each end, in arrival order (a link is FIFO). Only the first has
    /// a pending event, which keeps the simulator's event set small.
    RingBuffer<InFlightFrame> m_inFlight[2];
    std::size_t m_nDevices{0};
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_CHANNEL_H
