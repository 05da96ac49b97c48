/*
 * moe-fabric: where experts live -- placement policies, hot-expert replication, replica
 * selection.
 */
#ifndef MOE_EXPERT_PLACEMENT_H
#define MOE_EXPERT_PLACEMENT_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief How far apart two GPUs are, cheapest first. Placement and the traffic accounting
 * (dispatch_bytes_by_locality) use the same four classes.
 */
enum class Locality : uint8_t
{
    SAME_GPU = 0,
    SAME_SERVER = 1, ///< NVLink / NVSwitch domain
    SAME_LEAF = 2,   ///< one switch hop (same leaf / edge / rail switch)
    ACROSS_SPINE = 3 ///< everything farther
};

/// @brief "same_gpu", "same_server", "same_leaf", "across_spine".
const char* LocalityName(Locality l);

/**
 * @brief The GPUs an expert-parallel group spans and how far apart they are.
 *
 * Ranks are 0..N-1; gpus[rank] is the fabric GPU id (only used in messages and outputs).
 * locality is N*N, row-major by rank.
 */
struct PlacementContext
{
    std::vector<uint32_t> gpus;
    std::vector<Locality> locality;
    /// Cost of moving one byte between ranks at each locality, used by the topology-aware
    /// policy (default: same GPU 0, NVLink 1, one switch 4, across the spine 8).
    double tierWeight[4]{0.0, 1.0, 4.0, 8.0};

    uint32_t Size() const
    {
        return static_cast<uint32_t>(gpus.size());
    }

    Locality Between(uint32_t rankA, uint32_t rankB) const
    {
        return locality[static_cast<size_t>(rankA) * gpus.size() + rankB];
    }
};

/**
 * @brief Routing statistics a placement policy may use: how often each expert is picked and how
 * often two experts are picked by the same token (sampled from the gate).
 */
struct CoSelectionStats
{
    uint32_t numExperts{0};
    std::vector<double> load;     ///< picks per expert
    std::vector<double> coSelect; ///< numExperts^2, symmetric, tokens picking both experts
    /// Picks per (source rank, expert), ranks x numExperts (empty = the same for every rank).
    std::vector<double> rankLoad;
};

/**
 * @brief Placement settings (workload.placement and workload.replication).
 */
struct PlacementSpec
{
    /// "contiguous" | "round-robin" | "random" | "co-selection" | "topology-aware"
    std::string type{"round-robin"};
    uint64_t seed{1};
    /// Extra slots per GPU for replicas of hot experts (EPLB redundant experts).
    uint32_t redundantSlotsPerGpu{0};
    /// Local-search budget of the topology-aware and co-selection policies (improving passes).
    uint32_t searchPasses{8};
};

/**
 * @brief The result: which GPUs (ranks) hold a replica of each logical expert.
 *
 * Every GPU has base + redundant slots; base = numExperts / ranks (numExperts must divide evenly).
 */
class ExpertPlacement
{
  public:
    ExpertPlacement() = default;
    ExpertPlacement(uint32_t numExperts, uint32_t ranks, uint32_t slotsPerRank);

    uint32_t GetNumExperts() const;
    uint32_t GetNumRanks() const;
    uint32_t GetSlotsPerRank() const;

    /// @brief Ranks holding a replica of @p expert (at least one; primary first).
    const std::vector<uint32_t>& GetReplicas(uint32_t expert) const;
    /// @brief Experts hosted on @p rank (at most GetSlotsPerRank()).
    const std::vector<uint32_t>& GetHosted(uint32_t rank) const;
    /// @brief Add a replica of @p expert on @p rank; false if the rank is full or holds it.
    bool AddReplica(uint32_t expert, uint32_t rank);
    /// @brief Empty string if every expert has a replica and no rank exceeds its slots,
    /// otherwise a description of the first violation.
    std::string Validate() const;

  private:
    uint32_t m_numExperts{0};
    uint32_t m_ranks{0};
    uint32_t m_slots{0};
    std::vector<std::vector<uint32_t>> m_replicas; ///< by expert
    std::vector<std::vector<uint32_t>> m_hosted;   ///< by rank
};

/**
 * @brief Place @p numExperts experts on the ranks of @p ctx by @p spec.type (one replica each),
 * then add spec.redundantSlotsPerGpu * ranks replicas of hot experts (EPLB: repeatedly give a
 * replica to the expert with the highest load per replica, each on the least-loaded rank that
 * has a free slot and no replica of it yet).
 *
 * @p stats carries the load (for replication and the co-selection / topology-aware policies);
 * its load may be empty for policies that do not need it, in which case replication assumes
 * equal load (or uses the column sums of rankLoad when only that is given). "co-selection" needs
 * stats.coSelect and "topology-aware" needs stats.load or stats.rankLoad. Algorithms:
 * co-selection = greedy graph growing + Kernighan-Lin-style pairwise-swap refinement of the
 * co-selection graph into servers (anchored by the picks of each server's ranks), then
 * longest-processing-time-first inside each server; topology-aware = pairwise-swap hill
 * climbing on EstimateDispatchCost from round-robin. Both keep every GPU's slot count and a soft
 * load bound (no part's load per slot above 1.1 x the mean unless it already was).
 * @throws std::invalid_argument naming the field ("placement.type", "experts", ...) when
 *         numExperts is not a multiple of the ranks, the type is unknown, or a pairwise policy
 *         (co-selection, topology-aware) gets more than MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT
 *         experts.
 */
ExpertPlacement PlaceExperts(const PlacementSpec& spec,
                             uint32_t numExperts,
                             const PlacementContext& ctx,
                             const CoSelectionStats& stats);

/**
 * @brief Re-plan only the replicas: keep every expert's primary (first) replica of @p current
 * and redistribute the redundant slots by EPLB from @p load (e.g. measured token counts).
 */
ExpertPlacement Replan(const ExpertPlacement& current,
                       uint32_t redundantSlotsPerGpu,
                       const std::vector<double>& load,
                       const PlacementContext& ctx);

/**
 * @brief The dispatch cost the topology-aware policy minimizes, for the primary replicas of
 * @p placement: sum over (source rank s, expert e) of picks(s, e) x tierWeight(s, rank of e),
 * minus, for every pair of experts on the same rank r, coSelect(pair) x the source-weighted
 * mean tier weight of r (the copy a token picking both saves by per-GPU deduplication).
 *
 * Units: token copies x tier weight (multiply by the bytes of one dispatched token for bytes).
 * The pair correction is first-order: a token with three or more experts on one GPU is credited
 * more than it saves. Replicas are ignored (every pick goes to the primary).
 */
double EstimateDispatchCost(const ExpertPlacement& placement,
                            const CoSelectionStats& stats,
                            const PlacementContext& ctx);

/**
 * @brief Picks, per token, which replica of an expert serves it.
 *
 * Policies: "local-first" (same GPU, then same server, then same leaf, then round-robin among
 * the rest; several replicas in the closest tier rotate with the expert's counter),
 * "least-loaded" (the replica on the GPU that Select() has sent the fewest tokens to so far in
 * this layer, counting every expert's tokens -- per rank, not per replica, because GPU load is
 * what matters; ties to the lowest rank), "round-robin" (per expert counter). Deterministic:
 * depends only on the sequence of calls since the last Reset(). Select() allocates nothing.
 *
 * The placement and context must outlive the selector; after changing the placement, call
 * Reset() (or build a new selector).
 * @throws std::invalid_argument naming "workload.replication.selection" for an unknown policy.
 */
class ReplicaSelector
{
  public:
    ReplicaSelector(std::string policy,
                    const ExpertPlacement* placement,
                    const PlacementContext* ctx);

    /// @brief Start a new layer (clears assigned-token counters and round-robin positions).
    void Reset();
    /// @brief Rank that serves one token of @p expert routed on @p srcRank.
    uint32_t Select(uint32_t expert, uint32_t srcRank);
    /// @brief Tokens Select() has sent to @p rank since the last Reset() (every policy counts).
    uint64_t GetAssigned(uint32_t rank) const;

  private:
    /// Parsed policy, so that Select() compares no strings.
    enum class Kind : uint8_t
    {
        LOCAL_FIRST,
        LEAST_LOADED,
        ROUND_ROBIN
    };

    std::string m_policy;
    const ExpertPlacement* m_placement;
    const PlacementContext* m_ctx;
    Kind m_kind{Kind::LOCAL_FIRST};
    std::vector<uint64_t> m_assigned; ///< tokens per rank (GPU load, what least-loaded balances)
    std::vector<uint32_t> m_rrNext;   ///< per expert
};

/// Routed experts up to which the co-selection and topology-aware placements (which keep a dense
/// experts^2 co-selection matrix) are accepted.
constexpr uint32_t MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT = 4096;

/**
 * @brief Sample @p tokensPerRank tokens per rank for @p layers layers of iteration
 * @p iteration from @p route (a function filling experts for (iteration, layer, rank, tokens)),
 * and count loads and (with @p countPairs) co-selections, a dense numExperts^2 matrix that
 * only the co-selection and topology-aware placements use. Declared here so placement tests
 * need no gate.
 * @throws std::invalid_argument when @p countPairs is set and @p numExperts exceeds
 *         MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT.
 */
template <typename RouteFn>
CoSelectionStats
SampleCoSelection(RouteFn route,
                  uint32_t numExperts,
                  uint32_t topK,
                  uint32_t ranks,
                  uint32_t tokensPerRank,
                  uint32_t iteration,
                  uint32_t layer,
                  bool countPairs = true)
{
    CoSelectionStats st;
    st.numExperts = numExperts;
    st.load.assign(numExperts, 0.0);
    if (countPairs)
    {
        if (numExperts > MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT)
        {
            throw std::invalid_argument("SampleCoSelection: pairwise counts are limited to " +
                                        std::to_string(MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT) +
                                        " experts (got " + std::to_string(numExperts) +
                                        "); sample with countPairs = false");
        }
        st.coSelect.assign(static_cast<size_t>(numExperts) * numExperts, 0.0);
    }
    st.rankLoad.assign(static_cast<size_t>(ranks) * numExperts, 0.0);
    std::vector<uint32_t> picks;
    for (uint32_t r = 0; r < ranks; ++r)
    {
        route(iteration, layer, r, tokensPerRank, picks);
        for (uint32_t t = 0; t < tokensPerRank; ++t)
        {
            const uint32_t* e = &picks[static_cast<size_t>(t) * topK];
            for (uint32_t i = 0; i < topK; ++i)
            {
                st.load[e[i]] += 1.0;
                st.rankLoad[static_cast<size_t>(r) * numExperts + e[i]] += 1.0;
                for (uint32_t j = i + 1; countPairs && j < topK; ++j)
                {
                    st.coSelect[static_cast<size_t>(e[i]) * numExperts + e[j]] += 1.0;
                    st.coSelect[static_cast<size_t>(e[j]) * numExperts + e[i]] += 1.0;
                }
            }
        }
    }
    return st;
}

} // namespace moe
} // namespace ns3

#endif // MOE_EXPERT_PLACEMENT_H
