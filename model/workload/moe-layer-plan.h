/*
 * moe-fabric: the live traffic matrix of one MoE layer -- routed tokens bucketed per destination.
 */
#ifndef MOE_LAYER_PLAN_H
#define MOE_LAYER_PLAN_H

#include "expert-placement.h"
#include "moe-gate.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Where the GPUs of the fabric sit, as far as the workload cares: server (NVSwitch
 * domain), rail (local index inside the server) and the switch its NIC attaches to.
 */
struct GpuLayout
{
    std::vector<uint32_t> server; ///< by GPU id
    std::vector<uint32_t> rail;   ///< by GPU id
    std::vector<uint32_t> leaf;   ///< by GPU id: attached switch

    uint32_t NumGpus() const
    {
        return static_cast<uint32_t>(server.size());
    }

    /// @brief Locality class between two GPUs.
    Locality Between(uint32_t a, uint32_t b) const;
};

/// @brief How tokens travel from a source to the GPUs holding their experts.
enum class DispatchVariant : uint8_t
{
    DIRECT,       ///< one message per destination GPU, a token sent once per GPU
    HIERARCHICAL, ///< one copy per destination server to the same-rail GPU, then NVLink
    LOW_LATENCY   ///< one send per (token, expert): no deduplication
};

/// @brief "direct" | "hierarchical" | "low-latency"; throws std::invalid_argument otherwise.
DispatchVariant ParseDispatchVariant(const std::string& name);
const char* DispatchVariantName(DispatchVariant v);

/**
 * @brief The routed tokens of one (group, iteration, layer, micro-batch): who sends how many
 * token copies to whom, and which expert each copy is for.
 *
 * Node ranks (sources: the GPUs that own tokens) and expert ranks (the GPUs of the placement)
 * are indices into the group's node and expert GPU lists; co-located expert parallelism uses
 * the same list for both.
 */
struct LayerPlan
{
    uint32_t nodes{0};
    uint32_t experts{0}; ///< expert ranks
    uint32_t slots{0};   ///< expert slots per expert rank
    uint32_t numExperts{0};

    /// Token copies node n sends to expert rank x, one per token that has at least one expert
    /// there: pairTokens[n * experts + x].
    std::vector<uint32_t> pairTokens;
    /// (token, expert) picks node n routes to expert rank x: pairPicks[n * experts + x].
    std::vector<uint32_t> pairPicks;
    /// Picks per (node, expert rank, slot): work[(n * experts + x) * slots + s].
    std::vector<uint32_t> work;
    /// Token copies node n sends to server index s (servers of the expert ranks, see
    /// serverOfExpertRank), one per token with an expert there: serverTokens[n * servers + s].
    std::vector<uint32_t> serverTokens;
    uint32_t servers{0};
    std::vector<uint32_t> serverOfExpertRank; ///< dense server index of each expert rank
    /// Hierarchical dispatch: the expert rank on server s that relays node n's copies (the GPU
    /// on n's rail), relay[n * servers + s]; UINT32_MAX where copies go straight to each GPU
    /// (n's own server, or no GPU of n's rail there).
    std::vector<uint32_t> relay;

    std::vector<uint64_t> expertTokens; ///< picks served per logical expert
    uint64_t tokens{0};                 ///< tokens routed (all nodes)
    uint64_t picks{0};                  ///< picks kept (after capacity drops)
    uint64_t droppedPicks{0};           ///< picks over an expert's capacity

    uint32_t PairTokens(uint32_t n, uint32_t x) const
    {
        return pairTokens[static_cast<size_t>(n) * experts + x];
    }

    uint32_t Relay(uint32_t n, uint32_t s) const
    {
        return relay[static_cast<size_t>(n) * servers + s];
    }

    uint32_t ServerTokens(uint32_t n, uint32_t s) const
    {
        return serverTokens[static_cast<size_t>(n) * servers + s];
    }

    uint32_t PairPicks(uint32_t n, uint32_t x) const
    {
        return pairPicks[static_cast<size_t>(n) * experts + x];
    }

    const uint32_t* Work(uint32_t n, uint32_t x) const
    {
        return &work[(static_cast<size_t>(n) * experts + x) * slots];
    }
};

/**
 * @brief Inputs of BuildLayerPlan that stay fixed across layers.
 */
struct LayerPlanContext
{
    const GateModel* gate{nullptr};
    std::vector<uint32_t> nodeGpus;   ///< node rank -> GPU id
    std::vector<uint32_t> expertGpus; ///< expert rank -> GPU id
    const GpuLayout* layout{nullptr};
    /// Node rank -> the expert rank replica selection treats as "self" (co-located: the same
    /// GPU; disaggregated: the nearest expert GPU).
    std::vector<uint32_t> selectorRank;
    double capacityFactor{0};   ///< 0 = no token dropping
    uint32_t gateRankOffset{0}; ///< added to the node rank in gate calls (several groups)
};

/**
 * @brief Route @p tokensPerNode tokens of every node for (iteration, layer, micro-batch) and
 * bucket the picks by the replica @p selector chooses.
 *
 * Micro-batch m of a layer routes the gate's tokens [m * tokensPerNode, (m+1) * tokensPerNode)
 * of the layer, so splitting a batch into micro-batches routes exactly the same tokens; expert
 * capacity (ctx.capacityFactor) applies to the whole batch of @p batchTokens tokens per node
 * (0 = this micro-batch alone), counting the earlier micro-batches' picks, so the same picks
 * are dropped too. Replica selection starts afresh in every plan.
 *
 * @p nodeTokens (serving steps, micro-batch 0 only): node n routes the gate's first
 * nodeTokens[n] tokens instead of @p tokensPerNode (which should then be their maximum: it sets
 * the expert capacity).
 */
LayerPlan BuildLayerPlan(const LayerPlanContext& ctx,
                         const ExpertPlacement& placement,
                         ReplicaSelector& selector,
                         uint32_t iteration,
                         uint32_t layer,
                         uint32_t microBatch,
                         uint32_t tokensPerNode,
                         uint32_t batchTokens = 0,
                         const std::vector<uint32_t>* nodeTokens = nullptr);

/// @brief Bytes by Locality that the plan's dispatch puts on each kind of path for @p variant
/// and @p bytesPerToken (same_gpu: copies that stay on the source GPU).
std::vector<uint64_t> DispatchBytesByLocality(const LayerPlan& plan,
                                              const LayerPlanContext& ctx,
                                              DispatchVariant variant,
                                              uint64_t bytesPerToken);

} // namespace moe
} // namespace ns3

#endif // MOE_LAYER_PLAN_H
