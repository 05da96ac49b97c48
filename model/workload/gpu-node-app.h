/*
 * moe-fabric: the GPU-node application -- attention, routing, dispatch, waiting for combine.
 */
#ifndef MOE_GPU_NODE_APP_H
#define MOE_GPU_NODE_APP_H

#include "moe-workload.h"

#include "ns3/application.h"

#include <map>

namespace ns3
{
namespace moe
{

/**
 * @brief Runs one GPU's share of the model, stage after stage: attention (on the GPU's compute
 * engine) -> route its tokens -> bucket them per destination -> dispatch -> (shared experts,
 * overlapping the dispatch if configured) -> wait for every combine part -> stage done.
 *
 * The MoeWorkload that installs it decides when the next stage may start (barrier or per-GPU
 * progress) and owns the plans; this application keeps the per-stage state of its GPU.
 */
class GpuNodeApp : public Application
{
  public:
    static TypeId GetTypeId();
    GpuNodeApp();

    /// @brief Belong to @p workload as node rank @p node of @p group, on GPU @p gpu.
    void Setup(MoeWorkload* workload, uint32_t group, uint32_t node, uint32_t gpu);

    /// @brief Begin @p unit now (called by the workload when the unit's barrier opens).
    void BeginUnit(uint32_t unit);
    /// @brief A combine part of @p unit arrived.
    void OnCombinePart(const MoeWorkload::MsgContext& ctx);

  protected:
    void DoDispose() override;

  private:
    void StartApplication() override;
    void StopApplication() override;

    struct UnitState
    {
        uint64_t combineExpected{0};
        uint64_t combineArrived{0};
        bool attentionDone{false};
        bool sharedPending{false};
        bool combineDone{false};
    };

    void OnAttentionDone(uint32_t unit, Time start, Time end);
    void OnSharedDone(uint32_t unit, Time start, Time end);
    void SubmitShared(uint32_t unit);
    void CheckDone(uint32_t unit);

    MoeWorkload* m_workload{nullptr};
    uint32_t m_group{0};
    uint32_t m_node{0};
    uint32_t m_gpu{0};
    std::map<uint32_t, UnitState> m_units;
};

} // namespace moe
} // namespace ns3

#endif // MOE_GPU_NODE_APP_H
