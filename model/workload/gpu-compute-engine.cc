#include "gpu-compute-engine.h"

#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("GpuComputeEngine");

NS_OBJECT_ENSURE_REGISTERED(GpuComputeEngine);

TypeId
GpuComputeEngine::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::moe::GpuComputeEngine")
            .SetParent<Object>()
            .SetGroupName("MoeFabric")
            .AddConstructor<GpuComputeEngine>()
            .AddAttribute("Streams",
                          "Expert kernels that may run at once (each with 1/Streams of the GPU).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&GpuComputeEngine::m_streams),
                          MakeUintegerChecker<uint32_t>(1, 1024))
            .AddTraceSource("Kernel",
                            "A kernel started: (kind, start, duration).",
                            MakeTraceSourceAccessor(&GpuComputeEngine::m_kernelTrace),
                            "ns3::moe::GpuComputeEngine::KernelTracedCallback");
    return tid;
}

GpuComputeEngine::GpuComputeEngine()
    : m_streams(1)
{
}

void
GpuComputeEngine::DoDispose()
{
    m_queue.clear();
    Object::DoDispose();
}

void
GpuComputeEngine::Submit(Kind kind, Time duration, Callback<void, Time, Time> done)
{
    m_queue.push_back(Task{kind, duration, Callback<Time>(), done});
    TryStart();
}

void
GpuComputeEngine::Submit(Kind kind, Callback<Time> start, Callback<void, Time, Time> done)
{
    m_queue.push_back(Task{kind, Time(0), start, done});
    TryStart();
}

void
GpuComputeEngine::TryStart()
{
    while (!m_queue.empty() && !m_wholeRunning)
    {
        const bool whole = m_queue.front().kind != EXPERT;
        if ((whole && m_running > 0) || (!whole && m_running >= m_streams))
        {
            return;
        }
        Task task = m_queue.front();
        m_queue.pop_front();
        if (!task.start.IsNull())
        {
            task.duration = task.start();
        }
        ++m_running;
        m_wholeRunning = whole;
        m_kernelTrace(task.kind, Simulator::Now(), task.duration);
        const Time start = Simulator::Now();
        Simulator::Schedule(task.duration, &GpuComputeEngine::Finish, this, task, start);
    }
}

void
GpuComputeEngine::Finish(Task task, Time start)
{
    --m_running;
    if (task.kind != EXPERT)
    {
        m_wholeRunning = false;
    }
    task.done(start, Simulator::Now());
    TryStart();
}

uint32_t
GpuComputeEngine::GetStreams() const
{
    return m_streams;
}

bool
GpuComputeEngine::IsBusy() const
{
    return m_running > 0;
}

size_t
GpuComputeEngine::GetQueueLength() const
{
    return m_queue.size();
}

} // namespace moe
} // namespace ns3
