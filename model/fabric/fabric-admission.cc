#include "fabric-admission.h"

#include "fabric-frame.h"

#include "ns3/log.h"
#include "ns3/uinteger.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("FabricAdmission");

NS_OBJECT_ENSURE_REGISTERED(FabricAdmission);
NS_OBJECT_ENSURE_REGISTERED(TailDropAdmission);

const char*
DropReasonName(DropReason r)
{
    switch (r)
    {
    case DropReason::EGRESS_QUEUE_FULL:
        return "egress_queue_full";
    case DropReason::RX_ERROR:
        return "rx_error";
    case DropReason::NO_ROUTE:
        return "no_route";
    case DropReason::NOT_ROUTABLE:
        return "not_routable";
    case DropReason::EGRESS_THRESHOLD:
        return "egress_threshold";
    case DropReason::POOL_FULL:
        return "pool_full";
    case DropReason::HEADROOM_OVERFLOW:
        return "headroom_overflow";
    case DropReason::RX_BUFFER_FULL:
        return "rx_buffer_full";
    case DropReason::PFC_WATCHDOG:
        return "pfc_watchdog";
    case DropReason::FRAME_TOO_LARGE:
        return "frame_too_large";
    case DropReason::COUNT:
        break;
    }
    return "unknown";
}

void
FabricAdmission::Discard(QueueEntry& entry, uint32_t outPort)
{
    Release(entry, outPort);
}

TypeId
FabricAdmission::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::FabricAdmission").SetParent<Object>().SetGroupName("MoeFabric");
    return tid;
}

TypeId
TailDropAdmission::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::TailDropAdmission")
            .SetParent<FabricAdmission>()
            .SetGroupName("MoeFabric")
            .AddConstructor<TailDropAdmission>()
            .AddAttribute("QueueLimit",
                          "Bytes each (port, priority) egress queue may hold; 0 = unlimited.",
                          UintegerValue(1 << 20),
                          MakeUintegerAccessor(&TailDropAdmission::m_limit),
                          MakeUintegerChecker<uint64_t>());
    return tid;
}

TailDropAdmission::TailDropAdmission()
    : m_limit(1 << 20)
{
}

void
TailDropAdmission::Initialize(uint32_t numPorts)
{
    m_occupancy.assign(static_cast<size_t>(numPorts) * NUM_PRIORITIES, 0);
}

bool
TailDropAdmission::Admit(QueueEntry& entry, uint32_t outPort, DropReason& reason)
{
    uint64_t& occ = m_occupancy[static_cast<size_t>(outPort) * NUM_PRIORITIES + entry.priority];
    if (m_limit != 0 && occ + entry.bytes > m_limit)
    {
        reason = DropReason::EGRESS_QUEUE_FULL;
        return false;
    }
    occ += entry.bytes;
    return true;
}

void
TailDropAdmission::Release(QueueEntry& entry, uint32_t outPort)
{
    uint64_t& occ = m_occupancy[static_cast<size_t>(outPort) * NUM_PRIORITIES + entry.priority];
    NS_ASSERT_MSG(occ >= entry.bytes, "release of more bytes than admitted");
    occ -= entry.bytes;
}

uint64_t
TailDropAdmission::GetOccupancy(uint32_t port, uint8_t priority) const
{
    return m_occupancy.at(static_cast<size_t>(port) * NUM_PRIORITIES + priority);
}

} // namespace moe
} // namespace ns3
