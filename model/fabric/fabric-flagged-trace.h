/*
 * moe-fabric: trace sources whose "is anything connected?" test lives in the owner's hot data.
 */
#ifndef MOE_FABRIC_FLAGGED_TRACE_H
#define MOE_FABRIC_FLAGGED_TRACE_H

#include "ns3/traced-callback.h"

#include <string>

namespace ns3
{
namespace moe
{

/**
 * @brief A TracedCallback that sets a flag owned by its object whenever a sink connects.
 *
 * TracedCallback::IsEmpty() reads the trace source's own list, which in an object with several
 * trace sources is one or two cache lines that nothing else on the per-frame path needs. With
 * thousands of ports that is a cache miss per check. The owner instead tests one flag kept next
 * to its hot state and looks at the individual sources only when the flag is set. The flag is
 * never cleared on disconnection: it only selects the path that checks each source.
 *
 * Connections made through the attribute system (TraceConnect, Config::Connect, the trace source
 * accessor) call the methods below, because MakeTraceSourceAccessor uses the member's declared
 * type.
 */
template <typename... Ts>
class FlaggedTracedCallback : public TracedCallback<Ts...>
{
  public:
    /// @brief The flag to set on connection (owned by the object holding this trace source).
    void SetFlag(bool* flag)
    {
        m_flag = flag;
    }

    /// @brief Append a callback without context (TracedCallback::ConnectWithoutContext).
    void ConnectWithoutContext(const CallbackBase& callback)
    {
        Raise();
        TracedCallback<Ts...>::ConnectWithoutContext(callback);
    }

    /// @brief Append a callback with context @p path (TracedCallback::Connect).
    void Connect(const CallbackBase& callback, std::string path)
    {
        Raise();
        TracedCallback<Ts...>::Connect(callback, path);
    }

  private:
    void Raise()
    {
        if (m_flag != nullptr)
        {
            *m_flag = true;
        }
    }

    bool* m_flag{nullptr};
};

} // namespace moe
} // namespace ns3

#endif // MOE_FABRIC_FLAGGED_TRACE_H
