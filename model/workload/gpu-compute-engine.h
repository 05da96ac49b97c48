/*
 * moe-fabric: one GPU's execution resource -- kernels queue and run in order.
 */
#ifndef MOE_GPU_COMPUTE_ENGINE_H
#define MOE_GPU_COMPUTE_ENGINE_H

#include "ns3/callback.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <cstdint>
#include <deque>

namespace ns3
{
namespace moe
{

/**
 * @brief A GPU that runs kernels first-come first-served.
 *
 * Whole-GPU kernels (attention, shared experts) run alone. Expert batches run on up to Streams
 * concurrent streams, each given 1/Streams of the GPU's FLOP/s and HBM bandwidth (the caller
 * sizes their duration accordingly); a whole-GPU kernel at the head of the queue waits for the
 * streams to drain and holds back the stream kernels behind it, so the queue order is kept.
 * Queueing delay is therefore part of every phase a user sees.
 */
class GpuComputeEngine : public Object
{
  public:
    static TypeId GetTypeId();
    GpuComputeEngine();

    /// @brief What a kernel is, for traces and statistics.
    enum Kind : uint8_t
    {
        ATTENTION = 0,
        SHARED_EXPERT = 1,
        EXPERT = 2
    };

    /// TracedCallback signature: (kind, start, duration).
    typedef void (*KernelTracedCallback)(uint8_t kind, Time start, Time duration);

    /// @brief Queue a kernel of @p duration; @p done(start, end) is called when it finishes.
    /// Expert kernels use a stream, the others the whole GPU.
    void Submit(Kind kind, Time duration, Callback<void, Time, Time> done);
    /// @brief Queue a kernel whose work is decided when it starts: @p start() is called then and
    /// returns the duration (an expert batch takes every token queued for it by that time).
    void Submit(Kind kind, Callback<Time> start, Callback<void, Time, Time> done);

    uint32_t GetStreams() const;
    /// @brief Kernels waiting to start.
    size_t GetQueueLength() const;
    /// @brief True while a kernel runs.
    bool IsBusy() const;

  protected:
    void DoDispose() override;

  private:
    struct Task
    {
        Kind kind;
        Time duration;
        Callback<Time> start; ///< if not null, gives the duration at the start
        Callback<void, Time, Time> done;
    };

    void TryStart();
    void Finish(Task task, Time start);

    uint32_t m_streams;
    std::deque<Task> m_queue;
    uint32_t m_running{0};
    bool m_wholeRunning{false};
    TracedCallback<uint8_t, Time, Time> m_kernelTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_GPU_COMPUTE_ENGINE_H
