/*
 * moe-fabric: the one place where differences between ns-3 releases (3.37 .. newest) are bridged.
 *
 * Known differences that matter to this module:
 *  - MakeEnumAccessor: 3.37-3.40 deduce the enum type from the member pointer; 3.41+ require it
 *    as an explicit template argument. MoeEnumAccessor<E>(member) works with both.
 *  - EventId::IsRunning was renamed IsPending (3.42); the module uses !IsExpired(), valid in all.
 *  - Imported CMake targets ns3::libcore (<= 3.42) vs ns3::core (>= 3.43): handled by
 *    cmake/ns3-standalone.cmake, not here.
 */
#ifndef MOE_FABRIC_NS3_COMPATIBILITY_H
#define MOE_FABRIC_NS3_COMPATIBILITY_H

#include "ns3/enum.h"

namespace ns3
{
namespace moe
{

/// @brief Enum attribute accessor for a data member, whatever the ns-3 release (>= 3.41 form).
template <typename E, typename M>
auto
MoeEnumAccessor(M member) -> decltype(MakeEnumAccessor<E>(member))
{
    return MakeEnumAccessor<E>(member);
}

/// @brief Enum attribute accessor for a data member, whatever the ns-3 release (<= 3.40 form).
template <typename E, typename M, typename = void>
auto
MoeEnumAccessor(M member, ...) -> decltype(MakeEnumAccessor(member))
{
    return MakeEnumAccessor(member);
}

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_NS3_COMPATIBILITY_H
