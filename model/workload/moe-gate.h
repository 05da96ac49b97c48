/*
 * moe-fabric: gate (router) models -- which top-k experts each token picks.
 */
#ifndef MOE_GATE_H
#define MOE_GATE_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Settings of a gate model, as the scenario's workload.gate section gives them.
 *
 * Every gate is deterministic under (seed, iteration, layer, rank): Route() for the same arguments
 * returns the same experts whatever was routed before, so the packet-level run and its ideal
 * twin see identical traffic.
 */
struct GateSpec
{
    std::string type{"uniform"}; ///< "uniform" | "zipf" | "affinity" | "replay"
    uint32_t numExperts{0};      ///< routed (logical) experts
    uint32_t topK{1};            ///< experts per token, distinct, <= numExperts
    uint64_t seed{1};

    /// Zipf: popularity of the expert of popularity rank r (1-based) is proportional to r^-s.
    double zipfS{1.0};
    /// Zipf/affinity: draw a fresh rank->expert permutation per layer (else one for all layers).
    bool permutePerLayer{true};

    /// Affinity: experts form groups of this many consecutive ids (after the permutation)...
    uint32_t affinityGroupSize{8};
    /// ...and each of a token's k picks comes from its home group with this probability (0..1).
    double affinityStrength{0.5};
    /// Affinity, rank-correlated: when > 0, ranks form blocks of this many consecutive ranks
    /// (e.g. the GPUs of one server, serving one tenant or one data shard), and the tokens of
    /// block b take their home group among the groups g with g % affinityBlocks ==
    /// b % affinityBlocks, uniformly. 0 = every token draws its home group from the popularity.
    uint32_t affinityRankBlock{0};
    /// Affinity, rank-correlated: how many disjoint sets of home groups the blocks cycle through.
    uint32_t affinityBlocks{1};

    /// Group-limited routing: experts are split into numGroups equal groups of consecutive ids;
    /// each token's k experts come from at most topKGroups groups (DeepSeek-V3: 8 groups, 4).
    /// 0 = no group limit. Works with every type except replay.
    uint32_t numGroups{0};
    uint32_t topKGroups{0};
    /// Optional explicit group of every expert (node-limited routing: group = node of the
    /// expert's primary replica). Size numExperts, values < numGroups; empty = consecutive.
    std::vector<uint32_t> expertGroup;

    /// Drift: at every iteration boundary this fraction of popularity ranks (0..1) swap places
    /// with a random other rank, so hot experts cool and cold ones heat up. 0 = no drift.
    double driftPerIteration{0.0};

    /// Replay: path of a routing trace (format: traces/routing-trace.md).
    std::string replayFile;
};

/**
 * @brief A router: the top-k experts of every token of one (iteration, layer, rank).
 */
class GateModel
{
  public:
    virtual ~GateModel();

    uint32_t GetNumExperts() const;
    uint32_t GetTopK() const;

    /**
     * @brief Route @p tokens tokens of expert-parallel rank @p rank.
     * @param out resized to tokens * topK: token t's experts are out[t*topK .. t*topK+topK-1],
     *        distinct, in decreasing gate score order.
     */
    virtual void Route(uint32_t iteration,
                       uint32_t layer,
                       uint32_t rank,
                       uint32_t tokens,
                       std::vector<uint32_t>& out) const = 0;

    /**
     * @brief Expected share of routed picks that go to each expert in (iteration, layer):
     * numExperts values summing to 1 (an analytic or sampled estimate; used to plan replication
     * before any traffic has run).
     */
    virtual std::vector<double> ExpectedLoad(uint32_t iteration, uint32_t layer) const = 0;

  protected:
    GateModel(uint32_t numExperts, uint32_t topK);

  private:
    uint32_t m_numExperts;
    uint32_t m_topK;
};

/**
 * @brief Check every field of @p spec except the replay file's content.
 * @throws std::invalid_argument whose what() starts with the scenario key of the offending
 *         field ("gate.type", "gate.top_k", "gate.s", "gate.groups", "gate.top_k_groups",
 *         "gate.affinity_group_size", "gate.affinity_strength", "gate.drift", "gate.file") and
 *         names the accepted values. CreateGate() calls it first.
 */
void ValidateGateSpec(const GateSpec& spec);

/**
 * @brief Base of the score-based gates (uniform, zipf, affinity): every expert has a popularity
 * weight, a token draws its k experts one after the other in proportion to the weights of the
 * experts it has not drawn yet (sequential sampling without replacement, i.e. the Plackett-Luce
 * model), optionally limited to a few expert groups (group-limited routing).
 *
 * The weights of (iteration, layer) come from a popularity order: a permutation of the experts
 * (rank 1 first), drawn per layer (or once) and drifting between iterations. Orders and sampling
 * tables are cached, so Route() costs a few random numbers per pick.
 */
class ScoreGateModel : public GateModel
{
  public:
    ~ScoreGateModel() override;

    void Route(uint32_t iteration,
               uint32_t layer,
               uint32_t rank,
               uint32_t tokens,
               std::vector<uint32_t>& out) const override;

    /// @brief Sampled (or, where exact by symmetry, analytic) estimate; see moe-gate.cc.
    std::vector<double> ExpectedLoad(uint32_t iteration, uint32_t layer) const override;

    /**
     * @brief Experts by decreasing popularity in (iteration, layer): element r-1 is the expert
     * of popularity rank r (permutation and drift applied). Uniform gates return 0..E-1.
     */
    std::vector<uint32_t> PopularityOrder(uint32_t iteration, uint32_t layer) const;

    /// @brief Probability that the first (highest-score) pick of a token without a group limit
    /// is the expert of popularity rank @p rank (1-based): the normalised r^-s of the spec.
    double RankProbability(uint32_t rank) const;

  protected:
    /// @param zipfS popularity exponent (0: all experts equally popular)
    /// @param permute draw a popularity order at all (false: rank r is expert r-1, no drift)
    /// @param affinity route with home groups (AffinityGateModel)
    ScoreGateModel(const GateSpec& spec, double zipfS, bool permute, bool affinity);

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/// @brief Every expert equally popular ("uniform").
class UniformGateModel : public ScoreGateModel
{
  public:
    explicit UniformGateModel(const GateSpec& spec);
};

/// @brief Popularity of rank r proportional to r^-s over a random rank->expert order ("zipf").
class ZipfGateModel : public ScoreGateModel
{
  public:
    explicit ZipfGateModel(const GateSpec& spec);
};

/// @brief Zipf popularity plus co-selection: a token's picks favour its home group ("affinity").
class AffinityGateModel : public ScoreGateModel
{
  public:
    explicit AffinityGateModel(const GateSpec& spec);
};

/**
 * @brief Replays a routing trace (format: traces/routing-trace.md). The whole file is read and
 * checked by the constructor.
 */
class ReplayGateModel : public GateModel
{
  public:
    explicit ReplayGateModel(const GateSpec& spec);
    ~ReplayGateModel() override;

    /// @throws std::runtime_error naming the file, iteration, layer and rank if the trace has
    ///         no tokens for them.
    void Route(uint32_t iteration,
               uint32_t layer,
               uint32_t rank,
               uint32_t tokens,
               std::vector<uint32_t>& out) const override;

    /// @brief Measured shares of the recorded picks of (iteration, layer) over all ranks.
    std::vector<double> ExpectedLoad(uint32_t iteration, uint32_t layer) const override;

    /// @brief Distinct iteration numbers in the trace, ascending; iteration i replays the
    /// (i mod size)-th of them.
    const std::vector<uint32_t>& GetRecordedIterations() const;

    /// @brief The first (iteration, layer, rank) a run of @p iterations iterations (0: as many
    /// as there are recorded ones, for open-ended runs), @p layers layers and @p ranks ranks
    /// would route but the trace has no tokens for, as a message naming the file and the
    /// recorded iteration; "" if the trace covers the whole run.
    std::string FindMissing(uint32_t iterations, uint32_t layers, uint32_t ranks) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

/**
 * @brief Build the gate @p spec describes.
 * @throws std::invalid_argument naming the GateSpec field and the accepted values for an
 *         impossible spec (topK > numExperts, numExperts not divisible by numGroups, ...), and
 *         std::runtime_error "<file>:<line>: <problem>" for an unreadable or malformed replay file.
 */
std::unique_ptr<GateModel> CreateGate(const GateSpec& spec);

} // namespace moe
} // namespace ns3

#endif // MOE_GATE_H
