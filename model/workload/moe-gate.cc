/*
 * moe-fabric: gate (router) models -- which top-k experts each token picks.
 *
 * Determinism. Every random decision comes from the project's own FastRng/Mix64
 * (fabric-hash.h), never from std:: distributions, and popularity weights are rounded to
 * integers (fixed point, 2^40 = all of the mass) before any sampling table is built, so the
 * sampling itself is pure integer arithmetic and gives the same experts on every platform.
 * (The weights come from std::pow; a last-bit difference between math libraries could only
 * matter if it moved a weight across a rounding boundary of 2^-40 of the mass.)
 * Token t of (iteration, layer, rank) draws from a FastRng seeded with
 * Mix64-chain(seed, iteration, layer, rank, t): its experts depend on nothing else, in
 * particular not on what was routed before nor on how many tokens the call asked for (routing
 * n tokens returns the first n of routing m > n tokens).
 *
 * Sampling. A token's k experts are drawn one at a time, each in proportion to the popularity
 * weight among the experts it has not drawn yet (sequential sampling without replacement, the
 * Plackett-Luce model); "decreasing gate score order" is the order drawn. Each draw uses an
 * alias table (one random number) and rejects an expert already drawn; once the experts drawn
 * hold 3/4 of the mass the draw is searched linearly over the rest instead, so a draw never
 * costs more than ~4 tries (top_k close to the number of experts, steep Zipf exponents).
 * Both methods sample the same distribution, so switching between them changes nothing.
 *
 * Group-limited routing (DeepSeek-V3's node/group limit, arXiv:2412.19437 section 2.1.2) is
 * modelled stochastically: a token first draws its top_k_groups groups without replacement, in
 * proportion to each group's total popularity, then draws its k experts from the union of those
 * groups exactly as above. (DeepSeek-V3 ranks groups by the sum of their two best affinity scores
 * of the token; with no token features to score, total popularity is the closest analogue: hot
 * groups are chosen more often, and the k experts span at most top_k_groups groups.)
 */
#include "moe-gate.h"

#include "trace-line-reader.h"

#include "ns3/fabric-hash.h"
#include "ns3/log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("MoeGate");

namespace
{

/// Tags that keep the random streams of different purposes apart.
constexpr uint64_t TAG_ORDER = 0x6f726465722d7631ull; // popularity order of a layer
constexpr uint64_t TAG_DRIFT = 0x64726966742d7631ull; // swaps of one iteration
constexpr uint64_t TAG_ROUTE = 0x726f7574652d7631ull; // Route()
constexpr uint64_t TAG_LOAD = 0x6c6f61642d2d7631ull;  // ExpectedLoad() sample

/// Fixed-point scale of the popularity weights: all of the mass is 2^40.
constexpr double WEIGHT_SCALE = 1099511627776.0;
/// Drifting orders are kept every this many iterations, so any iteration is cheap to rebuild.
constexpr uint32_t CHECKPOINT_EVERY = 64;
/// Cached (layer, iteration) tables; beyond this the cache starts afresh.
constexpr size_t MAX_CACHED_TABLES = 1024;
/// Total picks sampled by ExpectedLoad() (tokens = this / top_k, at least MIN_LOAD_TOKENS).
constexpr uint64_t LOAD_SAMPLE_PICKS = 1u << 18;
constexpr uint64_t MIN_LOAD_TOKENS = 4096;
constexpr uint32_t NONE = 0xffffffffu;

using u128 = unsigned __int128;

uint64_t
Combine(uint64_t h, uint64_t v)
{
    return Mix64(h ^ Mix64(v));
}

/// Uniform integer in [0, n) for a 64-bit n (multiply-shift, no division).
uint64_t
Below64(FastRng& rng, uint64_t n)
{
    return static_cast<uint64_t>((static_cast<u128>(rng.Next()) * n) >> 64);
}

/// A probability in [0, 1] as a threshold on 53-bit random numbers ((Next() >> 11) < t).
uint64_t
Threshold53(double p)
{
    return static_cast<uint64_t>(std::ldexp(std::min(std::max(p, 0.0), 1.0), 53));
}

std::string
Num(double v)
{
    std::ostringstream os;
    os << v;
    return os.str();
}

/// Vose's alias method in integer arithmetic over @p n weights. Slot i is accepted when the
/// low 32 bits of the random number are below threshold[i] (2^32 = always), else alias[i].
void
BuildAlias(const uint64_t* weight,
           uint32_t n,
           uint32_t slotBase,
           uint64_t* threshold,
           uint32_t* alias)
{
    u128 total = 0;
    for (uint32_t i = 0; i < n; ++i)
    {
        total += weight[i];
    }
    std::vector<u128> scaled(n);
    std::vector<uint32_t> small;
    std::vector<uint32_t> large;
    for (uint32_t i = 0; i < n; ++i)
    {
        scaled[i] = static_cast<u128>(weight[i]) * n;
        threshold[i] = 1ull << 32;
        alias[i] = slotBase + i;
        (scaled[i] < total ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty())
    {
        const uint32_t s = small.back();
        small.pop_back();
        const uint32_t l = large.back();
        threshold[s] = static_cast<uint64_t>((scaled[s] << 32) / total);
        alias[s] = slotBase + l;
        scaled[l] -= total - scaled[s];
        if (scaled[l] < total)
        {
            large.pop_back();
            small.push_back(l);
        }
    }
}

} // namespace

// ------------------------------------------------------------------------------------------
// GateModel

GateModel::GateModel(uint32_t numExperts, uint32_t topK)
    : m_numExperts(numExperts),
      m_topK(topK)
{
}

GateModel::~GateModel() = default;

uint32_t
GateModel::GetNumExperts() const
{
    return m_numExperts;
}

uint32_t
GateModel::GetTopK() const
{
    return m_topK;
}

// ------------------------------------------------------------------------------------------
// Validation

void
ValidateGateSpec(const GateSpec& spec)
{
    auto fail = [](const std::string& msg) { throw std::invalid_argument(msg); };
    const std::string& type = spec.type;
    if (type != "uniform" && type != "zipf" && type != "affinity" && type != "replay")
    {
        fail("gate.type: unknown gate type '" + type +
             "'; accepted: uniform, zipf, affinity, replay");
    }
    const uint32_t e = spec.numExperts;
    if (e == 0)
    {
        fail("gate: the model has no routed experts (numExperts = 0); accepted: at least 1");
    }
    if (spec.topK == 0 || spec.topK > e)
    {
        fail("gate.top_k: " + std::to_string(spec.topK) + " is not in [1, " + std::to_string(e) +
             "] (the number of routed experts)");
    }
    if (type == "replay")
    {
        // The trace fixes every expert: popularity, groups and drift do not apply.
        if (spec.replayFile.empty())
        {
            fail("gate.file: a replay gate needs the path of a routing trace "
                 "(format: traces/routing-trace.md); accepted: a readable file");
        }
        return;
    }
    if (type == "zipf" || type == "affinity")
    {
        if (!std::isfinite(spec.zipfS) || spec.zipfS < 0.0 || spec.zipfS > 10.0)
        {
            fail("gate.s: " + Num(spec.zipfS) + " is not a Zipf exponent in [0, 10]");
        }
    }
    if (type == "affinity")
    {
        const uint32_t a = spec.affinityGroupSize;
        if (a == 0 || a > e || e % a != 0)
        {
            fail("gate.affinity_group_size: " + std::to_string(a) + " does not divide the " +
                 std::to_string(e) + " experts; accepted: a divisor of " + std::to_string(e) +
                 " in [1, " + std::to_string(e) + "]");
        }
        if (spec.affinityRankBlock > 0 &&
            (spec.affinityBlocks < 1 ||
             spec.affinityBlocks > spec.numExperts / std::max<uint32_t>(1, spec.affinityGroupSize)))
        {
            fail("gate.affinity_blocks: " + std::to_string(spec.affinityBlocks) +
                 "; accepted: 1.." +
                 std::to_string(spec.numExperts / std::max<uint32_t>(1, spec.affinityGroupSize)) +
                 " (at most one set per affinity group)");
        }
        if (!std::isfinite(spec.affinityStrength) || spec.affinityStrength < 0.0 ||
            spec.affinityStrength > 1.0)
        {
            fail("gate.affinity_strength: " + Num(spec.affinityStrength) +
                 " is not a probability; accepted: [0, 1]");
        }
    }
    if (!std::isfinite(spec.driftPerIteration) || spec.driftPerIteration < 0.0 ||
        spec.driftPerIteration > 1.0)
    {
        fail("gate.drift: " + Num(spec.driftPerIteration) +
             " is not a fraction of ranks per iteration; accepted: [0, 1]");
    }
    const uint32_t g = spec.numGroups;
    if (g == 0)
    {
        if (spec.topKGroups != 0)
        {
            fail("gate.top_k_groups: " + std::to_string(spec.topKGroups) +
                 " needs gate.groups > 0; accepted: 0 without groups");
        }
        if (!spec.expertGroup.empty())
        {
            fail("gate.groups: an explicit expert->group map needs gate.groups > 0");
        }
        return;
    }
    if (g > e)
    {
        fail("gate.groups: " + std::to_string(g) + " groups for " + std::to_string(e) +
             " experts; accepted: a divisor of " + std::to_string(e) + " (0 = no group limit)");
    }
    std::vector<uint32_t> sizes(g, 0);
    if (spec.expertGroup.empty())
    {
        if (e % g != 0)
        {
            fail("gate.groups: " + std::to_string(g) + " does not divide the " + std::to_string(e) +
                 " experts; accepted: a divisor of " + std::to_string(e) + " (0 = no group limit)");
        }
        std::fill(sizes.begin(), sizes.end(), e / g);
    }
    else
    {
        if (spec.expertGroup.size() != e)
        {
            fail("gate.groups: the expert->group map has " +
                 std::to_string(spec.expertGroup.size()) + " entries; accepted: one per expert (" +
                 std::to_string(e) + ")");
        }
        for (uint32_t x = 0; x < e; ++x)
        {
            if (spec.expertGroup[x] >= g)
            {
                fail("gate.groups: expert " + std::to_string(x) + " is mapped to group " +
                     std::to_string(spec.expertGroup[x]) + "; accepted: [0, " + std::to_string(g) +
                     ")");
            }
            ++sizes[spec.expertGroup[x]];
        }
        for (uint32_t x = 0; x < g; ++x)
        {
            if (sizes[x] == 0)
            {
                fail("gate.groups: group " + std::to_string(x) +
                     " has no expert in the expert->group map; accepted: every group non-empty");
            }
        }
    }
    const uint32_t kg = spec.topKGroups == 0 ? g : spec.topKGroups;
    if (kg > g)
    {
        fail("gate.top_k_groups: " + std::to_string(spec.topKGroups) + " is not in [1, " +
             std::to_string(g) + "] (gate.groups; 0 = no limit)");
    }
    // Every choice of kg groups must hold top_k experts: check the kg smallest.
    std::sort(sizes.begin(), sizes.end());
    uint64_t reach = 0;
    for (uint32_t x = 0; x < kg; ++x)
    {
        reach += sizes[x];
    }
    if (reach < spec.topK)
    {
        fail("gate.top_k_groups: " + std::to_string(kg) + " groups may hold only " +
             std::to_string(reach) + " experts, fewer than gate.top_k = " +
             std::to_string(spec.topK) + "; accepted: enough groups to hold top_k experts");
    }
}

// ------------------------------------------------------------------------------------------
// Score-based gates

struct ScoreGateModel::Impl
{
    /// Sampling tables of one (layer, iteration).
    struct Table
    {
        std::vector<uint32_t> order;     ///< popularity rank (0-based) -> expert
        std::vector<uint32_t> position;  ///< expert -> popularity rank (0-based)
        std::vector<uint64_t> weight;    ///< expert -> fixed-point popularity
        std::vector<uint64_t> groupMass; ///< group -> summed weight
        uint64_t totalMass{0};
        std::vector<uint64_t> threshold; ///< per slot of `members`
        std::vector<uint32_t> alias;     ///< per slot of `members` (absolute slot)
        /// Each group's experts by decreasing popularity (same slots as `members`): the linear
        /// draw meets the heavy experts first, so it stops early under a steep Zipf law.
        std::vector<uint32_t> byRank;
    };

    /// Drifting popularity orders of one layer key.
    struct Chain
    {
        std::map<uint32_t, std::vector<uint32_t>> checkpoints;
        uint32_t lastIteration{0};
        std::vector<uint32_t> last;
    };

    /// Per-token working memory, reused across calls (single-threaded).
    struct Scratch
    {
        std::vector<uint32_t> stamp;      ///< expert -> token stamp when drawn
        std::vector<uint32_t> groupStamp; ///< group -> token stamp when selected
        std::vector<uint32_t> groupLocal; ///< group -> index in sel/rem
        std::vector<uint32_t> sel;        ///< selected groups
        std::vector<uint64_t> rem;        ///< remaining (undrawn) mass of each selected group
        uint32_t cur{0};

        uint32_t NextStamp()
        {
            if (++cur == 0)
            {
                std::fill(stamp.begin(), stamp.end(), 0);
                std::fill(groupStamp.begin(), groupStamp.end(), 0);
                cur = 1;
            }
            return cur;
        }
    };

    GateSpec spec;
    uint32_t numExperts{0};
    uint32_t topK{0};
    double s{0.0};
    bool permute{false};
    bool affinity{false};
    bool limited{false};
    uint32_t numGroups{1};  ///< 1 without a group limit
    uint32_t topKGroups{1}; ///< groups a token draws
    std::vector<uint32_t> groupOf;
    std::vector<uint32_t> groupStart; ///< CSR offsets into members
    std::vector<uint32_t> members;    ///< experts, group by group
    std::vector<uint64_t> rankWeight; ///< popularity rank (0-based) -> fixed-point weight
    uint32_t affinitySize{1};
    uint32_t affinityRankBlock{0}; ///< ranks per block (0 = home groups by popularity)
    uint32_t affinityBlocks{0};    ///< sets of home groups (0 = rank-correlated affinity off)
    uint64_t strengthThreshold{0};
    bool loadExactBySymmetry{false};

    mutable std::unordered_map<uint32_t, Chain> chains;
    mutable std::unordered_map<uint64_t, std::unique_ptr<Table>> tables;
    mutable std::unordered_map<uint64_t, std::vector<double>> loads;
    mutable uint64_t lastKey{~0ull};
    mutable const Table* lastTable{nullptr};
    mutable Scratch scratch;

    uint32_t LayerKey(uint32_t layer) const
    {
        return permute && spec.permutePerLayer ? layer : 0;
    }

    uint32_t IterationKey(uint32_t iteration) const
    {
        return permute && spec.driftPerIteration > 0.0 ? iteration : 0;
    }

    void ApplyDrift(std::vector<uint32_t>& order, uint32_t layerKey, uint32_t iteration) const
    {
        if (numExperts < 2)
        {
            return;
        }
        FastRng rng(Combine(Combine(Combine(spec.seed, TAG_DRIFT), layerKey), iteration));
        // drift x E swaps on average: the integer part always, the fraction with its probability.
        const double m = spec.driftPerIteration * numExperts;
        uint64_t swaps = static_cast<uint64_t>(std::floor(m));
        if ((rng.Next() >> 11) < Threshold53(m - std::floor(m)))
        {
            ++swaps;
        }
        for (uint64_t i = 0; i < swaps; ++i)
        {
            const uint32_t a = rng.Below(numExperts);
            uint32_t b = rng.Below(numExperts - 1);
            if (b >= a)
            {
                ++b;
            }
            std::swap(order[a], order[b]);
        }
    }

    std::vector<uint32_t> Order(uint32_t layerKey, uint32_t iterationKey) const
    {
        std::vector<uint32_t> order(numExperts);
        for (uint32_t i = 0; i < numExperts; ++i)
        {
            order[i] = i;
        }
        if (!permute)
        {
            return order;
        }
        Chain& c = chains[layerKey];
        if (c.checkpoints.empty())
        {
            FastRng rng(Combine(Combine(spec.seed, TAG_ORDER), layerKey));
            for (uint32_t i = numExperts; i > 1; --i)
            {
                std::swap(order[i - 1], order[rng.Below(i)]);
            }
            c.checkpoints[0] = order;
            c.last = order;
            c.lastIteration = 0;
        }
        uint32_t from;
        if (c.lastIteration <= iterationKey &&
            c.lastIteration >= iterationKey / CHECKPOINT_EVERY * CHECKPOINT_EVERY)
        {
            from = c.lastIteration;
            order = c.last;
        }
        else
        {
            auto it = std::prev(c.checkpoints.upper_bound(iterationKey));
            from = it->first;
            order = it->second;
        }
        for (uint32_t i = from + 1; i <= iterationKey && i != 0; ++i)
        {
            ApplyDrift(order, layerKey, i);
            if (i % CHECKPOINT_EVERY == 0)
            {
                c.checkpoints[i] = order;
            }
        }
        c.last = order;
        c.lastIteration = iterationKey;
        return order;
    }

    uint64_t Key(uint32_t iteration, uint32_t layer) const
    {
        return (static_cast<uint64_t>(LayerKey(layer)) << 32) | IterationKey(iteration);
    }

    const Table& GetTable(uint32_t iteration, uint32_t layer) const
    {
        const uint64_t key = Key(iteration, layer);
        if (key == lastKey)
        {
            return *lastTable;
        }
        auto it = tables.find(key);
        if (it == tables.end())
        {
            if (tables.size() >= MAX_CACHED_TABLES)
            {
                tables.clear();
                loads.clear();
            }
            it = tables.emplace(key, BuildTable(LayerKey(layer), IterationKey(iteration))).first;
        }
        lastKey = key;
        lastTable = it->second.get();
        return *lastTable;
    }

    std::unique_ptr<Table> BuildTable(uint32_t layerKey, uint32_t iterationKey) const
    {
        auto t = std::make_unique<Table>();
        t->order = Order(layerKey, iterationKey);
        t->position.assign(numExperts, 0);
        t->weight.assign(numExperts, 0);
        for (uint32_t r = 0; r < numExperts; ++r)
        {
            t->position[t->order[r]] = r;
            t->weight[t->order[r]] = rankWeight[r];
        }
        t->groupMass.assign(numGroups, 0);
        t->threshold.assign(numExperts, 0);
        t->alias.assign(numExperts, 0);
        std::vector<uint64_t> w;
        for (uint32_t g = 0; g < numGroups; ++g)
        {
            const uint32_t b = groupStart[g];
            const uint32_t n = groupStart[g + 1] - b;
            w.resize(n);
            for (uint32_t i = 0; i < n; ++i)
            {
                w[i] = t->weight[members[b + i]];
                t->groupMass[g] += w[i];
            }
            t->totalMass += t->groupMass[g];
            t->byRank.insert(t->byRank.end(), members.begin() + b, members.begin() + b + n);
            std::sort(t->byRank.begin() + b, t->byRank.end(), [&t](uint32_t x, uint32_t y) {
                return t->position[x] < t->position[y];
            });
            BuildAlias(w.data(), n, b, &t->threshold[b], &t->alias[b]);
        }
        return t;
    }

    /// Draw one expert, not yet drawn by the token, from its selected groups.
    uint32_t DrawBase(const Table& t, FastRng& rng, uint32_t nsel, uint32_t cur) const
    {
        Scratch& sc = scratch;
        uint32_t j = 0;
        if (nsel > 1)
        {
            uint64_t total = 0;
            for (uint32_t i = 0; i < nsel; ++i)
            {
                total += sc.rem[i];
            }
            uint64_t v = Below64(rng, total);
            while (j + 1 < nsel && v >= sc.rem[j])
            {
                v -= sc.rem[j];
                ++j;
            }
        }
        const uint32_t g = sc.sel[j];
        const uint32_t b = groupStart[g];
        const uint32_t n = groupStart[g + 1] - b;
        if (sc.rem[j] >= t.groupMass[g] / 4)
        {
            // At least a quarter of the group's mass is undrawn: alias draw + rejection.
            for (;;)
            {
                const uint64_t r = rng.Next();
                uint32_t slot = b + ReduceHash(r, n);
                if ((r & 0xffffffffull) >= t.threshold[slot])
                {
                    slot = t.alias[slot];
                }
                const uint32_t e = members[slot];
                if (sc.stamp[e] != cur)
                {
                    return e;
                }
            }
        }
        uint64_t v = Below64(rng, sc.rem[j]);
        uint32_t last = NONE;
        for (uint32_t i = b; i < b + n; ++i)
        {
            const uint32_t e = t.byRank[i];
            if (sc.stamp[e] == cur)
            {
                continue;
            }
            last = e;
            if (v < t.weight[e])
            {
                return e;
            }
            v -= t.weight[e];
        }
        return last;
    }

    /// Draw one expert of home group @p home (allowed and not yet drawn); NONE if none is left.
    uint32_t DrawHome(const Table& t, FastRng& rng, uint32_t home, uint32_t cur) const
    {
        const Scratch& sc = scratch;
        const uint32_t b = home * affinitySize;
        uint64_t total = 0;
        for (uint32_t p = b; p < b + affinitySize; ++p)
        {
            const uint32_t e = t.order[p];
            if (sc.stamp[e] != cur && sc.groupStamp[groupOf[e]] == cur)
            {
                total += t.weight[e];
            }
        }
        if (total == 0)
        {
            return NONE;
        }
        uint64_t v = Below64(rng, total);
        uint32_t last = NONE;
        for (uint32_t p = b; p < b + affinitySize; ++p)
        {
            const uint32_t e = t.order[p];
            if (sc.stamp[e] == cur || sc.groupStamp[groupOf[e]] != cur)
            {
                continue;
            }
            last = e;
            if (v < t.weight[e])
            {
                return e;
            }
            v -= t.weight[e];
        }
        return last;
    }

    /// The k experts of one token, in the order drawn.
    void RouteToken(const Table& t, FastRng& rng, uint32_t* out, uint32_t block = NONE) const
    {
        Scratch& sc = scratch;
        const uint32_t cur = sc.NextStamp();
        uint32_t nsel = 1;
        if (!limited)
        {
            sc.sel[0] = 0;
            sc.rem[0] = t.groupMass[0];
            sc.groupStamp[0] = cur;
            sc.groupLocal[0] = 0;
        }
        else
        {
            // Groups without replacement, in proportion to their total popularity.
            nsel = topKGroups;
            uint64_t total = t.totalMass;
            for (uint32_t j = 0; j < nsel; ++j)
            {
                uint64_t v = Below64(rng, total);
                uint32_t pick = NONE;
                for (uint32_t g = 0; g < numGroups; ++g)
                {
                    if (sc.groupStamp[g] == cur)
                    {
                        continue;
                    }
                    pick = g;
                    if (v < t.groupMass[g])
                    {
                        break;
                    }
                    v -= t.groupMass[g];
                }
                sc.groupStamp[pick] = cur;
                sc.groupLocal[pick] = j;
                sc.sel[j] = pick;
                sc.rem[j] = t.groupMass[pick];
                total -= t.groupMass[pick];
            }
        }
        uint32_t home = NONE;
        if (affinity)
        {
            // The home group is that of an expert drawn from the token's base distribution:
            // groups are chosen in proportion to their (allowed) popularity.
            if (block != NONE && affinityBlocks > 0)
            {
                // Rank-correlated affinity: this block's share of the groups, uniformly.
                const uint32_t b = block % affinityBlocks;
                const uint32_t groups = numExperts / affinitySize;
                const uint32_t candidates = (groups - b + affinityBlocks - 1) / affinityBlocks;
                home = b + affinityBlocks * rng.Below(candidates);
            }
            else
            {
                home = t.position[DrawBase(t, rng, nsel, cur)] / affinitySize;
            }
        }
        for (uint32_t k = 0; k < topK; ++k)
        {
            uint32_t e = NONE;
            if (affinity && (rng.Next() >> 11) < strengthThreshold)
            {
                e = DrawHome(t, rng, home, cur);
            }
            if (e == NONE)
            {
                e = DrawBase(t, rng, nsel, cur);
            }
            sc.stamp[e] = cur;
            sc.rem[sc.groupLocal[groupOf[e]]] -= t.weight[e];
            out[k] = e;
        }
    }
};

ScoreGateModel::ScoreGateModel(const GateSpec& spec, double zipfS, bool permute, bool affinity)
    : GateModel(spec.numExperts, spec.topK),
      m_impl(std::make_unique<Impl>())
{
    NS_LOG_FUNCTION(this << spec.type << spec.numExperts << spec.topK);
    Impl& m = *m_impl;
    m.spec = spec;
    m.numExperts = spec.numExperts;
    m.topK = spec.topK;
    m.s = zipfS;
    m.permute = permute;
    m.affinity = affinity;
    const uint32_t e = spec.numExperts;

    // Static grouping: one group of everything without a limit.
    m.limited = spec.numGroups > 0 && spec.topKGroups > 0 && spec.topKGroups < spec.numGroups;
    m.numGroups = m.limited ? spec.numGroups : 1;
    m.topKGroups = m.limited ? spec.topKGroups : 1;
    m.groupOf.assign(e, 0);
    if (m.limited)
    {
        for (uint32_t x = 0; x < e; ++x)
        {
            m.groupOf[x] =
                spec.expertGroup.empty() ? x / (e / spec.numGroups) : spec.expertGroup[x];
        }
    }
    m.groupStart.assign(m.numGroups + 1, 0);
    for (uint32_t x = 0; x < e; ++x)
    {
        ++m.groupStart[m.groupOf[x] + 1];
    }
    for (uint32_t g = 0; g < m.numGroups; ++g)
    {
        m.groupStart[g + 1] += m.groupStart[g];
    }
    m.members.assign(e, 0);
    std::vector<uint32_t> next(m.groupStart.begin(), m.groupStart.end() - 1);
    for (uint32_t x = 0; x < e; ++x)
    {
        m.members[next[m.groupOf[x]]++] = x;
    }

    // Popularity of rank r (1-based) proportional to r^-s, in fixed point (never 0).
    std::vector<double> p(e);
    double sum = 0.0;
    for (uint32_t r = 0; r < e; ++r)
    {
        p[r] = zipfS == 0.0 ? 1.0 : std::pow(static_cast<double>(r + 1), -zipfS);
        sum += p[r];
    }
    m.rankWeight.resize(e);
    for (uint32_t r = 0; r < e; ++r)
    {
        m.rankWeight[r] =
            std::max<uint64_t>(1, static_cast<uint64_t>(std::llround(p[r] / sum * WEIGHT_SCALE)));
    }
    m.affinitySize = affinity ? spec.affinityGroupSize : 1;
    m.affinityRankBlock = affinity ? spec.affinityRankBlock : 0;
    m.affinityBlocks = affinity && spec.affinityRankBlock > 0 ? spec.affinityBlocks : 0;
    m.strengthThreshold = affinity ? Threshold53(spec.affinityStrength) : 0;
    // Uniform popularity over equal groups (or none) is symmetric in the experts: 1/E exactly.
    m.loadExactBySymmetry = zipfS == 0.0 && !affinity && (!m.limited || spec.expertGroup.empty());

    m.scratch.stamp.assign(e, 0);
    m.scratch.groupStamp.assign(m.numGroups, 0);
    m.scratch.groupLocal.assign(m.numGroups, 0);
    m.scratch.sel.assign(m.topKGroups, 0);
    m.scratch.rem.assign(m.topKGroups, 0);
}

ScoreGateModel::~ScoreGateModel() = default;

void
ScoreGateModel::Route(uint32_t iteration,
                      uint32_t layer,
                      uint32_t rank,
                      uint32_t tokens,
                      std::vector<uint32_t>& out) const
{
    const Impl& m = *m_impl;
    const Impl::Table& t = m.GetTable(iteration, layer);
    out.resize(static_cast<size_t>(tokens) * m.topK);
    const uint64_t base =
        Combine(Combine(Combine(Combine(m.spec.seed, TAG_ROUTE), iteration), layer), rank);
    const uint32_t block = m.affinityBlocks > 0 ? rank / m.affinityRankBlock : NONE;
    for (uint32_t i = 0; i < tokens; ++i)
    {
        FastRng rng(base + i);
        m.RouteToken(t, rng, out.data() + static_cast<size_t>(i) * m.topK, block);
    }
}

/*
 * ExpectedLoad is the share of picks that each expert receives. Drawing k distinct experts
 * saturates the popular ones (an expert is picked at most once per token), so the marginal share
 * is not the popularity p. It is exact where that is easy -- p itself when k = 1 without groups
 * or affinity, 1/E for uniform popularity over no or equal groups -- and otherwise measured on a
 * fixed sample of max(4096, 2^18 / k) tokens routed exactly as Route() does, from a seed of
 * (seed, layer, iteration) distinct from Route()'s. The sample's relative error is about
 * 1 / sqrt(2^18 x share), i.e. ~3% for an expert at the mean share of 256 experts.
 */
std::vector<double>
ScoreGateModel::ExpectedLoad(uint32_t iteration, uint32_t layer) const
{
    const Impl& m = *m_impl;
    const uint32_t e = m.numExperts;
    if (m.loadExactBySymmetry)
    {
        return std::vector<double>(e, 1.0 / e);
    }
    const Impl::Table& t = m.GetTable(iteration, layer);
    if (m.topK == 1 && !m.limited && !m.affinity)
    {
        std::vector<double> load(e);
        for (uint32_t x = 0; x < e; ++x)
        {
            load[x] = static_cast<double>(t.weight[x]) / static_cast<double>(t.totalMass);
        }
        return load;
    }
    const uint64_t key = m.Key(iteration, layer);
    auto it = m.loads.find(key);
    if (it != m.loads.end())
    {
        return it->second;
    }
    const uint64_t tokens = std::max(MIN_LOAD_TOKENS, LOAD_SAMPLE_PICKS / m.topK);
    std::vector<uint64_t> count(e, 0);
    std::vector<uint32_t> picks(m.topK);
    const uint64_t base =
        Combine(Combine(Combine(m.spec.seed, TAG_LOAD), m.IterationKey(iteration)),
                m.LayerKey(layer));
    for (uint64_t i = 0; i < tokens; ++i)
    {
        FastRng rng(base + i);
        // Rank-correlated affinity: the sample visits every block alike.
        m.RouteToken(t,
                     rng,
                     picks.data(),
                     m.affinityBlocks > 0 ? static_cast<uint32_t>(i % m.affinityBlocks) : NONE);
        for (uint32_t x : picks)
        {
            ++count[x];
        }
    }
    std::vector<double> load(e);
    const double total = static_cast<double>(tokens * m.topK);
    for (uint32_t x = 0; x < e; ++x)
    {
        load[x] = static_cast<double>(count[x]) / total;
    }
    m.loads[key] = load;
    return load;
}

std::vector<uint32_t>
ScoreGateModel::PopularityOrder(uint32_t iteration, uint32_t layer) const
{
    return m_impl->GetTable(iteration, layer).order;
}

double
ScoreGateModel::RankProbability(uint32_t rank) const
{
    const Impl& m = *m_impl;
    if (rank == 0 || rank > m.numExperts)
    {
        return 0.0;
    }
    double sum = 0.0;
    for (uint32_t r = 1; r <= m.numExperts; ++r)
    {
        sum += m.s == 0.0 ? 1.0 : std::pow(static_cast<double>(r), -m.s);
    }
    return (m.s == 0.0 ? 1.0 : std::pow(static_cast<double>(rank), -m.s)) / sum;
}

namespace
{

/// @p spec, once ValidateGateSpec() accepted it.
const GateSpec&
Checked(const GateSpec& spec)
{
    ValidateGateSpec(spec);
    return spec;
}

GateSpec
WithType(GateSpec spec, const char* type)
{
    spec.type = type;
    return spec;
}

} // namespace

UniformGateModel::UniformGateModel(const GateSpec& spec)
    : ScoreGateModel(Checked(WithType(spec, "uniform")), 0.0, false, false)
{
}

ZipfGateModel::ZipfGateModel(const GateSpec& spec)
    : ScoreGateModel(Checked(WithType(spec, "zipf")), spec.zipfS, true, false)
{
}

AffinityGateModel::AffinityGateModel(const GateSpec& spec)
    : ScoreGateModel(Checked(WithType(spec, "affinity")), spec.zipfS, true, true)
{
}

// ------------------------------------------------------------------------------------------
// Replay

struct ReplayGateModel::Impl
{
    using Key = std::tuple<uint32_t, uint32_t, uint32_t>; ///< (iteration, layer, rank)

    std::string file;
    uint32_t topK{0};
    std::vector<uint32_t> iterations;
    std::map<Key, std::vector<uint32_t>> blocks; ///< tokens x topK experts, in token order

    [[noreturn]] void Fail(uint32_t line, const std::string& problem) const
    {
        throw std::runtime_error(file + ":" + std::to_string(line) + ": " + problem);
    }

    uint32_t Recorded(uint32_t iteration) const
    {
        return iterations[iteration % iterations.size()];
    }
};

namespace
{

std::string
Trim(const std::string& s)
{
    const size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos)
    {
        return "";
    }
    const size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

/// A decimal uint32_t, nothing else; false if @p s is not one.
bool
ParseU32(const std::string& s, uint32_t& value)
{
    if (s.empty() || s.size() > 10)
    {
        return false;
    }
    uint64_t v = 0;
    for (char c : s)
    {
        if (c < '0' || c > '9')
        {
            return false;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > 0xffffffffull)
    {
        return false;
    }
    value = static_cast<uint32_t>(v);
    return true;
}

const char* const HEADER_PREFIX = "# moe-fabric routing trace";
const char* const HEADER_FORM = "'# moe-fabric routing trace v1 experts=<E> top_k=<K>'";

} // namespace

ReplayGateModel::ReplayGateModel(const GateSpec& spec)
    : GateModel(spec.numExperts, spec.topK),
      m_impl(std::make_unique<Impl>())
{
    NS_LOG_FUNCTION(this << spec.replayFile);
    ValidateGateSpec(WithType(spec, "replay"));
    Impl& m = *m_impl;
    m.file = spec.replayFile;
    m.topK = spec.topK;
    if (std::filesystem::is_directory(m.file))
    {
        m.Fail(0, "cannot open the routing trace: it is a directory");
    }
    std::ifstream in(m.file);
    if (!in)
    {
        m.Fail(0, std::string("cannot open the routing trace: ") + std::strerror(errno));
    }

    struct Record
    {
        uint32_t token;
        uint32_t line;
        size_t offset; ///< into pool
    };

    std::map<Impl::Key, std::vector<Record>> records;
    std::vector<uint32_t> pool;
    std::vector<uint32_t> seen(spec.numExperts, 0); // line number that last used an expert
    std::string raw;
    uint32_t lineNo = 0;
    bool header = false;
    bool tooLong = false;
    while (ReadBoundedLine(in, raw, MAX_TRACE_LINE_BYTES, tooLong))
    {
        ++lineNo;
        if (tooLong)
        {
            m.Fail(lineNo,
                   "line longer than " + std::to_string(MAX_TRACE_LINE_BYTES) +
                       " bytes (is this a routing trace?)");
        }
        if (!raw.empty() && raw.back() == '\r')
        {
            raw.pop_back();
        }
        const std::string line = Trim(raw);
        if (line.empty())
        {
            continue;
        }
        if (!header)
        {
            if (line.rfind(HEADER_PREFIX, 0) != 0)
            {
                m.Fail(lineNo,
                       std::string("missing header: the first line must be ") + HEADER_FORM);
            }
            std::istringstream words(line.substr(std::strlen(HEADER_PREFIX)));
            std::string word;
            std::string version;
            uint32_t experts = 0;
            uint32_t topK = 0;
            bool haveExperts = false;
            bool haveTopK = false;
            while (words >> word)
            {
                if (version.empty())
                {
                    version = word;
                }
                else if (word.rfind("experts=", 0) == 0)
                {
                    haveExperts = ParseU32(word.substr(8), experts);
                }
                else if (word.rfind("top_k=", 0) == 0)
                {
                    haveTopK = ParseU32(word.substr(6), topK);
                }
            }
            if (version != "v1")
            {
                m.Fail(lineNo, "unsupported trace version '" + version + "'; accepted: v1");
            }
            if (!haveExperts || !haveTopK)
            {
                m.Fail(lineNo,
                       std::string("header lacks experts=<E> or top_k=<K>: expected ") +
                           HEADER_FORM);
            }
            if (experts != spec.numExperts || topK != spec.topK)
            {
                throw std::invalid_argument(
                    "gate.file: " + m.file + ":" + std::to_string(lineNo) +
                    ": the trace records experts=" + std::to_string(experts) +
                    " top_k=" + std::to_string(topK) + " but the model routes experts=" +
                    std::to_string(spec.numExperts) + " top_k=" + std::to_string(spec.topK) +
                    "; accepted: a trace with experts=" + std::to_string(spec.numExperts) +
                    " top_k=" + std::to_string(spec.topK));
            }
            header = true;
            continue;
        }
        if (line[0] == '#')
        {
            continue;
        }
        std::vector<std::string> fields;
        std::string field;
        std::istringstream fs(line);
        while (std::getline(fs, field, ','))
        {
            fields.push_back(Trim(field));
        }
        if (line.back() == ',')
        {
            fields.emplace_back();
        }
        if (fields.size() != 5)
        {
            m.Fail(lineNo,
                   "expected 5 comma-separated fields (iteration,layer,rank,token,experts), "
                   "found " +
                       std::to_string(fields.size()));
        }
        static const char* const names[] = {"iteration", "layer", "rank", "token"};
        uint32_t v[4];
        for (int i = 0; i < 4; ++i)
        {
            if (!ParseU32(fields[i], v[i]))
            {
                m.Fail(lineNo,
                       std::string("field '") + names[i] +
                           "' is not a non-negative 32-bit integer (0..4294967295): '" + fields[i] +
                           "'");
            }
        }
        std::istringstream es(fields[4]);
        std::string word;
        const size_t offset = pool.size();
        uint32_t count = 0;
        while (es >> word)
        {
            uint32_t x;
            if (!ParseU32(word, x))
            {
                m.Fail(lineNo,
                       "expert '" + word +
                           "' is not a non-negative 32-bit integer (0..4294967295)");
            }
            if (x >= spec.numExperts)
            {
                m.Fail(lineNo,
                       "expert " + word + " is out of range; accepted: [0, " +
                           std::to_string(spec.numExperts) + ")");
            }
            if (seen[x] == lineNo)
            {
                m.Fail(lineNo, "expert " + word + " appears twice in one token");
            }
            seen[x] = lineNo;
            ++count;
            pool.push_back(x);
        }
        if (count != spec.topK)
        {
            m.Fail(lineNo,
                   "expected " + std::to_string(spec.topK) + " experts (top_k), found " +
                       std::to_string(count));
        }
        records[Impl::Key(v[0], v[1], v[2])].push_back(Record{v[3], lineNo, offset});
    }
    if (in.bad())
    {
        m.Fail(lineNo, std::string("read error: ") + std::strerror(errno));
    }
    if (!header)
    {
        m.Fail(lineNo + 1, std::string("missing header: the first line must be ") + HEADER_FORM);
    }
    if (records.empty())
    {
        m.Fail(lineNo, "the trace has a header but no token lines");
    }
    for (auto& [key, recs] : records)
    {
        std::stable_sort(recs.begin(), recs.end(), [](const Record& a, const Record& b) {
            return a.token < b.token;
        });
        std::vector<uint32_t>& block = m.blocks[key];
        block.reserve(recs.size() * spec.topK);
        for (size_t i = 0; i < recs.size(); ++i)
        {
            if (i > 0 && recs[i].token == recs[i - 1].token)
            {
                // stable_sort kept the file order: recs[i] is the later line.
                const Record& dup = recs[i];
                const Record& first = recs[i - 1];
                m.Fail(dup.line,
                       "token " + std::to_string(dup.token) + " of iteration " +
                           std::to_string(std::get<0>(key)) + " layer " +
                           std::to_string(std::get<1>(key)) + " rank " +
                           std::to_string(std::get<2>(key)) + " appears twice (also line " +
                           std::to_string(first.line) + ")");
            }
            block.insert(block.end(),
                         pool.begin() + recs[i].offset,
                         pool.begin() + recs[i].offset + spec.topK);
        }
        if (m.iterations.empty() || m.iterations.back() != std::get<0>(key))
        {
            m.iterations.push_back(std::get<0>(key)); // keys are sorted by iteration first
        }
    }
    NS_LOG_INFO("replay trace " << m.file << ": " << m.iterations.size() << " iterations, "
                                << m.blocks.size() << " (iteration, layer, rank) blocks");
}

ReplayGateModel::~ReplayGateModel() = default;

void
ReplayGateModel::Route(uint32_t iteration,
                       uint32_t layer,
                       uint32_t rank,
                       uint32_t tokens,
                       std::vector<uint32_t>& out) const
{
    const Impl& m = *m_impl;
    const uint32_t recorded = m.Recorded(iteration);
    auto it = m.blocks.find(Impl::Key(recorded, layer, rank));
    if (it == m.blocks.end())
    {
        throw std::runtime_error(
            m.file + ": the routing trace has no tokens for layer " + std::to_string(layer) +
            " rank " + std::to_string(rank) + " in iteration " + std::to_string(iteration) +
            " (replaying recorded iteration " + std::to_string(recorded) + ")");
    }
    const std::vector<uint32_t>& block = it->second;
    const size_t recordedTokens = block.size() / m.topK;
    out.resize(static_cast<size_t>(tokens) * m.topK);
    for (uint32_t t = 0; t < tokens; ++t)
    {
        std::copy_n(block.begin() + (t % recordedTokens) * m.topK,
                    m.topK,
                    out.begin() + static_cast<size_t>(t) * m.topK);
    }
}

std::vector<double>
ReplayGateModel::ExpectedLoad(uint32_t iteration, uint32_t layer) const
{
    const Impl& m = *m_impl;
    const uint32_t recorded = m.Recorded(iteration);
    std::vector<double> load(GetNumExperts(), 0.0);
    uint64_t total = 0;
    for (auto it = m.blocks.lower_bound(Impl::Key(recorded, layer, 0));
         it != m.blocks.end() && std::get<0>(it->first) == recorded &&
         std::get<1>(it->first) == layer;
         ++it)
    {
        for (uint32_t x : it->second)
        {
            load[x] += 1.0;
        }
        total += it->second.size();
    }
    if (total == 0)
    {
        throw std::runtime_error(m.file + ": the routing trace has no tokens for layer " +
                                 std::to_string(layer) + " in iteration " +
                                 std::to_string(iteration) + " (replaying recorded iteration " +
                                 std::to_string(recorded) + ")");
    }
    for (double& x : load)
    {
        x /= static_cast<double>(total);
    }
    return load;
}

const std::vector<uint32_t>&
ReplayGateModel::GetRecordedIterations() const
{
    return m_impl->iterations;
}

std::string
ReplayGateModel::FindMissing(uint32_t iterations, uint32_t layers, uint32_t ranks) const
{
    const Impl& m = *m_impl;
    const size_t used =
        iterations == 0 ? m.iterations.size() : std::min<size_t>(iterations, m.iterations.size());
    for (size_t i = 0; i < used; ++i)
    {
        for (uint32_t layer = 0; layer < layers; ++layer)
        {
            for (uint32_t rank = 0; rank < ranks; ++rank)
            {
                if (m.blocks.find(Impl::Key(m.iterations[i], layer, rank)) == m.blocks.end())
                {
                    return m.file + ": the routing trace has no tokens for layer " +
                           std::to_string(layer) + " rank " + std::to_string(rank) +
                           " in recorded iteration " + std::to_string(m.iterations[i]) +
                           "; the workload routes " + std::to_string(layers) +
                           (layers == 1 ? " layer x " : " layers x ") + std::to_string(ranks) +
                           " token-owning GPUs (workload.layers, workload.gpus)";
                }
            }
        }
    }
    return "";
}

// ------------------------------------------------------------------------------------------

std::unique_ptr<GateModel>
CreateGate(const GateSpec& spec)
{
    ValidateGateSpec(spec);
    if (spec.type == "uniform")
    {
        return std::make_unique<UniformGateModel>(spec);
    }
    if (spec.type == "zipf")
    {
        return std::make_unique<ZipfGateModel>(spec);
    }
    if (spec.type == "affinity")
    {
        return std::make_unique<AffinityGateModel>(spec);
    }
    return std::make_unique<ReplayGateModel>(spec);
}

} // namespace moe
} // namespace ns3
