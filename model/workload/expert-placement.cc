/*
 * moe-fabric: expert placement policies, EPLB-style hot-expert replication and per-token replica
 * selection.
 */
#include "expert-placement.h"

#include "ns3/assert.h"
#include "ns3/fabric-hash.h"
#include "ns3/log.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("ExpertPlacement");

namespace
{

constexpr uint32_t NONE = std::numeric_limits<uint32_t>::max();

const char* const PLACEMENT_TYPES =
    "\"contiguous\", \"round-robin\", \"random\", \"co-selection\", \"topology-aware\"";
const char* const SELECTION_POLICIES = "\"local-first\", \"least-loaded\", \"round-robin\"";

/**
 * Soft load-balance bound of the local searches: a swap may not push the load per slot of a part
 * (server or GPU) above (1 + this) x the mean, unless the part was already above and the swap
 * does not make it worse. Without it, co-selection and dedup savings pull the hottest experts
 * (which are co-selected with each other most often) onto one server or GPU.
 */
constexpr double BALANCE_TOLERANCE = 0.10;

[[noreturn]] void
Fail(const std::string& message)
{
    throw std::invalid_argument(message);
}

void
CheckContext(const PlacementContext& ctx)
{
    const size_t n = ctx.gpus.size();
    if (n == 0)
    {
        Fail("placement context: no ranks (the expert-parallel group has no GPU)");
    }
    if (ctx.locality.size() != n * n)
    {
        std::ostringstream os;
        os << "placement context: locality has " << ctx.locality.size() << " entries, expected "
           << n << " x " << n;
        Fail(os.str());
    }
}

void
CheckExperts(uint32_t numExperts, uint32_t ranks)
{
    if (numExperts == 0 || numExperts % ranks != 0)
    {
        std::ostringstream os;
        os << "workload.experts: " << numExperts << " routed experts do not divide evenly over "
           << ranks << " expert-parallel ranks (accepted: a positive multiple of " << ranks << ")";
        Fail(os.str());
    }
}

void
CheckStats(const CoSelectionStats& stats, uint32_t numExperts, uint32_t ranks)
{
    const size_t e = numExperts;
    auto bad = [&](const char* field, size_t got, const std::string& want) {
        std::ostringstream os;
        os << "placement statistics: " << field << " has " << got << " entries, expected " << want
           << " (or none)";
        Fail(os.str());
    };
    if (!stats.load.empty() && stats.load.size() != e)
    {
        bad("load", stats.load.size(), std::to_string(e) + " (experts)");
    }
    if (!stats.coSelect.empty() && stats.coSelect.size() != e * e)
    {
        bad("coSelect", stats.coSelect.size(), std::to_string(e * e) + " (experts^2)");
    }
    if (!stats.rankLoad.empty() && stats.rankLoad.size() != static_cast<size_t>(ranks) * e)
    {
        bad("rankLoad",
            stats.rankLoad.size(),
            std::to_string(static_cast<size_t>(ranks) * e) + " (ranks x experts)");
    }
}

/// Picks per expert: stats.load, else the column sums of rankLoad, else 1 each.
std::vector<double>
EffectiveLoad(const CoSelectionStats& stats, uint32_t numExperts, uint32_t ranks)
{
    if (!stats.load.empty())
    {
        return stats.load;
    }
    std::vector<double> load(numExperts, stats.rankLoad.empty() ? 1.0 : 0.0);
    if (!stats.rankLoad.empty())
    {
        for (uint32_t s = 0; s < ranks; ++s)
        {
            for (uint32_t e = 0; e < numExperts; ++e)
            {
                load[e] += stats.rankLoad[static_cast<size_t>(s) * numExperts + e];
            }
        }
    }
    return load;
}

/// Symmetric co-selection matrix with a zero diagonal (all zeros when @p raw is empty).
std::vector<double>
CleanCoSelect(const std::vector<double>& raw, uint32_t numExperts)
{
    const size_t e = numExperts;
    std::vector<double> w(e * e, 0.0);
    if (raw.empty())
    {
        return w;
    }
    for (size_t a = 0; a < e; ++a)
    {
        for (size_t b = 0; b < e; ++b)
        {
            if (a != b)
            {
                w[a * e + b] = 0.5 * (raw[a * e + b] + raw[b * e + a]);
            }
        }
    }
    return w;
}

/// Ranks grouped into classes whose members are at most @p within apart, in order of first rank.
std::vector<std::vector<uint32_t>>
GroupRanks(const PlacementContext& ctx, Locality within)
{
    const uint32_t n = ctx.Size();
    std::vector<uint32_t> groupOf(n, NONE);
    std::vector<std::vector<uint32_t>> groups;
    for (uint32_t r = 0; r < n; ++r)
    {
        if (groupOf[r] != NONE)
        {
            continue;
        }
        const auto g = static_cast<uint32_t>(groups.size());
        groups.emplace_back();
        for (uint32_t q = r; q < n; ++q)
        {
            if (groupOf[q] == NONE && ctx.Between(r, q) <= within)
            {
                groupOf[q] = g;
                groups[g].push_back(q);
            }
        }
    }
    return groups;
}

/**
 * The parts the co-selection policy partitions experts into: servers (SAME_SERVER classes); if
 * every rank is its own server, leaves; if that also leaves one part per rank, or everything is
 * one part (a single server: no fabric traffic to save), single GPUs.
 */
std::vector<std::vector<uint32_t>>
CoSelectionDomains(const PlacementContext& ctx)
{
    const uint32_t n = ctx.Size();
    auto groups = GroupRanks(ctx, Locality::SAME_SERVER);
    if (groups.size() == n)
    {
        groups = GroupRanks(ctx, Locality::SAME_LEAF);
    }
    if (groups.size() == 1 || groups.size() == n)
    {
        groups.assign(n, {});
        for (uint32_t r = 0; r < n; ++r)
        {
            groups[r].push_back(r);
        }
    }
    return groups;
}

/// Is a swap that moves load between parts A and B acceptable under BALANCE_TOLERANCE?
bool
BalanceOk(double oldA,
          double oldB,
          double newA,
          double newB,
          double capA,
          double capB,
          double limit)
{
    const double before = std::max(oldA / capA, oldB / capB);
    const double after = std::max(newA / capA, newB / capB);
    return after <= std::max(limit, before) * (1.0 + 1e-12);
}

/**
 * Co-selection partition: greedy graph growing followed by Kernighan-Lin-style pairwise-swap
 * refinement (steepest ascent per expert, positive-gain swaps only).
 *
 * Vertices are experts; an edge a-b weighs coSelect(a, b); each part p is also anchored by the
 * picks its own ranks make of every expert (rankLoad), so that a group of co-selected experts
 * lands on the server whose ranks pick it. Parts have exactly base x ranks-in-part experts, and
 * their load per slot stays within BALANCE_TOLERANCE of the mean where possible. Maximizes the
 * intra-part weight. Returns the part of every expert.
 */
std::vector<uint32_t>
PartitionCoSelection(const std::vector<std::vector<uint32_t>>& domains,
                     uint32_t base,
                     const std::vector<double>& w,
                     const std::vector<double>& load,
                     const CoSelectionStats& stats,
                     uint32_t passes)
{
    const auto numExperts = static_cast<uint32_t>(load.size());
    const size_t ne = numExperts;
    const auto parts = static_cast<uint32_t>(domains.size());

    // anchor[e * parts + p]: picks of e made by the ranks of part p.
    std::vector<double> anchor(ne * parts, 0.0);
    if (!stats.rankLoad.empty())
    {
        for (uint32_t p = 0; p < parts; ++p)
        {
            for (uint32_t r : domains[p])
            {
                for (uint32_t e = 0; e < numExperts; ++e)
                {
                    anchor[e * parts + p] += stats.rankLoad[static_cast<size_t>(r) * ne + e];
                }
            }
        }
    }
    const double totalLoad = std::accumulate(load.begin(), load.end(), 0.0);
    const double limit = (1.0 + BALANCE_TOLERANCE) * totalLoad / numExperts; // per slot
    std::vector<double> cap(parts);
    for (uint32_t p = 0; p < parts; ++p)
    {
        cap[p] = static_cast<double>(base) * domains[p].size();
    }

    // Greedy growth: fill part after part with the unassigned expert most connected to it
    // (co-selection with its members + picks by its ranks); restart from the heaviest
    // unassigned pair when nothing is connected.
    std::vector<uint32_t> part(numExperts, NONE);
    std::vector<double> conn(numExperts, 0.0);
    std::vector<double> partLoad(parts, 0.0);
    bool pairsLeft = true;
    for (uint32_t p = 0; p < parts; ++p)
    {
        for (uint32_t e = 0; e < numExperts; ++e)
        {
            conn[e] = anchor[e * parts + p];
        }
        const auto slots = static_cast<uint32_t>(cap[p]);
        for (uint32_t filled = 0; filled < slots; ++filled)
        {
            uint32_t best = NONE;
            uint32_t lightest = NONE;
            for (uint32_t e = 0; e < numExperts; ++e)
            {
                if (part[e] != NONE)
                {
                    continue;
                }
                if (lightest == NONE || load[e] < load[lightest])
                {
                    lightest = e;
                }
                if ((partLoad[p] + load[e]) / cap[p] > limit && filled > 0)
                {
                    continue;
                }
                if (best == NONE || conn[e] > conn[best] ||
                    (conn[e] == conn[best] && load[e] > load[best]))
                {
                    best = e;
                }
            }
            if (best == NONE)
            {
                best = lightest; // nothing fits the balance bound: add the least harm
            }
            else if (conn[best] <= 0.0 && pairsLeft && slots - filled >= 2)
            {
                double heaviest = 0.0;
                uint32_t seed = NONE;
                for (uint32_t a = 0; a < numExperts; ++a)
                {
                    if (part[a] != NONE)
                    {
                        continue;
                    }
                    for (uint32_t b = a + 1; b < numExperts; ++b)
                    {
                        if (part[b] == NONE && w[a * ne + b] > heaviest)
                        {
                            heaviest = w[a * ne + b];
                            seed = a;
                        }
                    }
                }
                if (seed == NONE)
                {
                    pairsLeft = false; // weights among the unassigned only shrink from here
                }
                else
                {
                    best = seed;
                }
            }
            part[best] = p;
            partLoad[p] += load[best];
            const double* row = &w[best * ne];
            for (uint32_t e = 0; e < numExperts; ++e)
            {
                conn[e] += row[e];
            }
        }
    }

    // Refinement. gain(a <-> b) = C[a][B] - C[a][A] + C[b][A] - C[b][B] - 2 w(a, b), where
    // C[x][p] is x's connection to part p (anchor + co-selection with p's members but x).
    std::vector<double> c(anchor);
    double totalWeight = 0.0;
    for (uint32_t x = 0; x < numExperts; ++x)
    {
        for (uint32_t y = 0; y < numExperts; ++y)
        {
            c[x * parts + part[y]] += w[x * ne + y];
            totalWeight += w[x * ne + y];
        }
    }
    for (double a : anchor)
    {
        totalWeight += a;
    }
    const double eps = 1e-12 * (totalWeight + 1.0);
    for (uint32_t pass = 0; pass < passes; ++pass)
    {
        uint32_t swaps = 0;
        for (uint32_t a = 0; a < numExperts; ++a)
        {
            const uint32_t pa = part[a];
            const double* ca = &c[a * parts];
            double bestGain = eps;
            uint32_t bestB = NONE;
            for (uint32_t b = 0; b < numExperts; ++b)
            {
                const uint32_t pb = part[b];
                if (pb == pa)
                {
                    continue;
                }
                const double* cb = &c[b * parts];
                const double gain = ca[pb] - ca[pa] + cb[pa] - cb[pb] - 2.0 * w[a * ne + b];
                if (gain > bestGain && BalanceOk(partLoad[pa],
                                                 partLoad[pb],
                                                 partLoad[pa] - load[a] + load[b],
                                                 partLoad[pb] - load[b] + load[a],
                                                 cap[pa],
                                                 cap[pb],
                                                 limit))
                {
                    bestGain = gain;
                    bestB = b;
                }
            }
            if (bestB == NONE)
            {
                continue;
            }
            const uint32_t pb = part[bestB];
            for (uint32_t x = 0; x < numExperts; ++x)
            {
                const double d = w[x * ne + bestB] - w[x * ne + a];
                c[x * parts + pa] += d;
                c[x * parts + pb] -= d;
            }
            partLoad[pa] += load[bestB] - load[a];
            partLoad[pb] += load[a] - load[bestB];
            part[a] = pb;
            part[bestB] = pa;
            ++swaps;
        }
        NS_LOG_DEBUG("co-selection refinement pass " << pass << ": " << swaps << " swaps");
        if (swaps == 0)
        {
            break;
        }
    }
    return part;
}

/// Within every part, hand its experts to its ranks heaviest first, each to the least-loaded
/// rank with a free slot (longest-processing-time-first), ties to the lowest rank.
std::vector<uint32_t>
AssignWithinParts(const std::vector<std::vector<uint32_t>>& domains,
                  const std::vector<uint32_t>& part,
                  const std::vector<double>& load,
                  uint32_t base,
                  uint32_t ranks)
{
    const auto numExperts = static_cast<uint32_t>(part.size());
    std::vector<uint32_t> order(numExperts);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return load[a] > load[b];
    });
    std::vector<double> rankLoad(ranks, 0.0);
    std::vector<uint32_t> used(ranks, 0);
    std::vector<uint32_t> owner(numExperts, NONE);
    for (uint32_t e : order)
    {
        uint32_t best = NONE;
        for (uint32_t r : domains[part[e]])
        {
            if (used[r] < base && (best == NONE || rankLoad[r] < rankLoad[best] ||
                                   (rankLoad[r] == rankLoad[best] && r < best)))
            {
                best = r;
            }
        }
        NS_ASSERT(best != NONE);
        owner[e] = best;
        ++used[best];
        rankLoad[best] += load[e];
    }
    return owner;
}

/// The topology-aware cost model (see EstimateDispatchCost).
struct CostModel
{
    uint32_t numExperts{0};
    uint32_t ranks{0};
    std::vector<double> w;         ///< co-selection, symmetric, zero diagonal
    std::vector<double> linear;    ///< [e * ranks + r]: cost of e's picks if e lives on r
    std::vector<double> pairScale; ///< [r]: cost of one copy to r, mean over sources

    CostModel(const CoSelectionStats& stats, const PlacementContext& ctx, uint32_t experts)
        : numExperts(experts),
          ranks(ctx.Size()),
          w(CleanCoSelect(stats.coSelect, experts)),
          linear(static_cast<size_t>(experts) * ctx.Size(), 0.0),
          pairScale(ctx.Size(), 0.0)
    {
        const size_t ne = experts;
        std::vector<double> src(static_cast<size_t>(ranks) * ne); // picks per (source, expert)
        if (!stats.rankLoad.empty())
        {
            src = stats.rankLoad;
        }
        else
        {
            const std::vector<double> load = EffectiveLoad(stats, experts, ranks);
            for (uint32_t s = 0; s < ranks; ++s)
            {
                for (uint32_t e = 0; e < experts; ++e)
                {
                    src[s * ne + e] = load[e] / ranks;
                }
            }
        }
        std::vector<double> share(ranks, 0.0);
        double total = 0.0;
        for (uint32_t s = 0; s < ranks; ++s)
        {
            for (uint32_t e = 0; e < experts; ++e)
            {
                share[s] += src[s * ne + e];
            }
            total += share[s];
        }
        for (uint32_t s = 0; s < ranks; ++s)
        {
            share[s] = total > 0.0 ? share[s] / total : 1.0 / ranks;
        }
        std::vector<double> weight(static_cast<size_t>(ranks) * ranks);
        for (uint32_t s = 0; s < ranks; ++s)
        {
            for (uint32_t r = 0; r < ranks; ++r)
            {
                weight[s * ranks + r] = ctx.tierWeight[static_cast<uint8_t>(ctx.Between(s, r))];
                pairScale[r] += share[s] * weight[s * ranks + r];
            }
        }
        for (uint32_t s = 0; s < ranks; ++s)
        {
            const double* ws = &weight[static_cast<size_t>(s) * ranks];
            for (uint32_t e = 0; e < experts; ++e)
            {
                const double picks = src[s * ne + e];
                if (picks == 0.0)
                {
                    continue;
                }
                double* le = &linear[e * ranks];
                for (uint32_t r = 0; r < ranks; ++r)
                {
                    le[r] += picks * ws[r];
                }
            }
        }
    }

    double Cost(const std::vector<uint32_t>& owner) const
    {
        const size_t ne = numExperts;
        double cost = 0.0;
        for (uint32_t e = 0; e < numExperts; ++e)
        {
            cost += linear[e * ranks + owner[e]];
            for (uint32_t x = e + 1; x < numExperts; ++x)
            {
                if (owner[x] == owner[e])
                {
                    cost -= w[e * ne + x] * pairScale[owner[e]];
                }
            }
        }
        return cost;
    }
};

/**
 * Topology-aware placement: pairwise-swap local search (steepest-ascent hill climbing per expert)
 * on CostModel, from the round-robin placement. Swaps keep every rank's slot count and the soft
 * load bound.
 */
std::vector<uint32_t>
TopologyAwareSearch(const CostModel& m, const std::vector<double>& load, uint32_t passes)
{
    const uint32_t numExperts = m.numExperts;
    const uint32_t ranks = m.ranks;
    const size_t ne = numExperts;
    std::vector<uint32_t> owner(numExperts);
    std::vector<double> rankLoad(ranks, 0.0);
    for (uint32_t e = 0; e < numExperts; ++e)
    {
        owner[e] = e % ranks;
        rankLoad[owner[e]] += load[e];
    }
    // conn[x * ranks + r]: co-selection of x with the experts on r other than x.
    std::vector<double> conn(ne * ranks, 0.0);
    double scale = 0.0;
    for (uint32_t x = 0; x < numExperts; ++x)
    {
        for (uint32_t y = 0; y < numExperts; ++y)
        {
            conn[x * ranks + owner[y]] += m.w[x * ne + y];
        }
        for (uint32_t r = 0; r < ranks; ++r)
        {
            scale += m.linear[x * ranks + r];
        }
    }
    const double eps = 1e-12 * (scale + 1.0);
    const double totalLoad = std::accumulate(load.begin(), load.end(), 0.0);
    const double base = static_cast<double>(numExperts) / ranks;
    const double limit = (1.0 + BALANCE_TOLERANCE) * totalLoad / numExperts;
    for (uint32_t pass = 0; pass < passes; ++pass)
    {
        uint32_t swaps = 0;
        for (uint32_t a = 0; a < numExperts; ++a)
        {
            const uint32_t ra = owner[a];
            const double* la = &m.linear[a * ranks];
            const double* ca = &conn[a * ranks];
            double bestDelta = -eps;
            uint32_t bestB = NONE;
            for (uint32_t b = 0; b < numExperts; ++b)
            {
                const uint32_t rb = owner[b];
                if (rb == ra)
                {
                    continue;
                }
                const double* lb = &m.linear[b * ranks];
                const double* cb = &conn[b * ranks];
                const double wab = m.w[a * ne + b];
                const double dLinear = la[rb] - la[ra] + lb[ra] - lb[rb];
                const double dSaved = m.pairScale[rb] * (ca[rb] - wab - cb[rb]) +
                                      m.pairScale[ra] * (cb[ra] - wab - ca[ra]);
                const double delta = dLinear - dSaved;
                if (delta < bestDelta && BalanceOk(rankLoad[ra],
                                                   rankLoad[rb],
                                                   rankLoad[ra] - load[a] + load[b],
                                                   rankLoad[rb] - load[b] + load[a],
                                                   base,
                                                   base,
                                                   limit))
                {
                    bestDelta = delta;
                    bestB = b;
                }
            }
            if (bestB == NONE)
            {
                continue;
            }
            const uint32_t rb = owner[bestB];
            for (uint32_t x = 0; x < numExperts; ++x)
            {
                const double d = m.w[x * ne + bestB] - m.w[x * ne + a];
                conn[x * ranks + ra] += d;
                conn[x * ranks + rb] -= d;
            }
            rankLoad[ra] += load[bestB] - load[a];
            rankLoad[rb] += load[a] - load[bestB];
            owner[a] = rb;
            owner[bestB] = ra;
            ++swaps;
        }
        NS_LOG_DEBUG("topology-aware pass " << pass << ": " << swaps << " swaps");
        if (swaps == 0)
        {
            break;
        }
    }
    return owner;
}

/**
 * Online greedy fill: @p extra times, give one more replica to the expert with the highest load
 * per replica (ties lowest id) that can still take one, on the rank with the least assigned load
 * (an expert's load split evenly over its replicas) that has a free slot and no replica of it
 * (ties lowest rank). Returns the replicas added (fewer only when no free slot can take any).
 */
uint64_t
FillGreedy(ExpertPlacement& p, uint64_t extra, const std::vector<double>& load)
{
    const uint32_t numExperts = p.GetNumExperts();
    const uint32_t ranks = p.GetNumRanks();
    const uint32_t slots = p.GetSlotsPerRank();
    std::vector<uint32_t> count(numExperts);
    std::vector<double> rankLoad(ranks, 0.0);
    for (uint32_t e = 0; e < numExperts; ++e)
    {
        const auto& reps = p.GetReplicas(e);
        count[e] = static_cast<uint32_t>(reps.size());
        for (uint32_t r : reps)
        {
            rankLoad[r] += load[e] / count[e];
        }
    }
    // An expert that found no rank stays unplaceable: slots only fill up.
    std::vector<bool> blocked(numExperts, false);
    uint64_t added = 0;
    while (added < extra)
    {
        uint32_t best = NONE;
        for (uint32_t e = 0; e < numExperts; ++e)
        {
            if (!blocked[e] && (best == NONE || load[e] * count[best] > load[best] * count[e]))
            {
                best = e;
            }
        }
        if (best == NONE)
        {
            break;
        }
        const auto& reps = p.GetReplicas(best);
        uint32_t target = NONE;
        for (uint32_t r = 0; r < ranks; ++r)
        {
            if (p.GetHosted(r).size() >= slots ||
                std::find(reps.begin(), reps.end(), r) != reps.end())
            {
                continue;
            }
            if (target == NONE || rankLoad[r] < rankLoad[target])
            {
                target = r;
            }
        }
        if (target == NONE)
        {
            blocked[best] = true;
            continue;
        }
        const double before = load[best] / count[best];
        const double after = load[best] / (count[best] + 1);
        for (uint32_t r : reps)
        {
            rankLoad[r] += after - before;
        }
        p.AddReplica(best, target);
        rankLoad[target] += after;
        ++count[best];
        ++added;
    }
    return added;
}

/**
 * EPLB-style replication, in DeepSeek EPLB's two steps: first decide how many replicas every
 * expert gets (@p extra times, one more for the expert with the highest load per replica, ties
 * lowest id, at most one per rank), then pack the new replicas heaviest first (load / final
 * replica count), each on the rank with the least assigned load that has a free slot and no
 * replica of that expert (ties lowest rank). Deciding the counts first means a rank's load is
 * known when a replica lands on it (placing while counting leaves ranks loaded with shares that
 * later shrink). Replicas the packing cannot place (their expert already sits on every rank with
 * a free slot) go to FillGreedy, so every slot that can be used is.
 */
void
AddRedundantReplicas(ExpertPlacement& p, uint64_t extra, const std::vector<double>& load)
{
    const uint32_t numExperts = p.GetNumExperts();
    const uint32_t ranks = p.GetNumRanks();
    const uint32_t slots = p.GetSlotsPerRank();
    std::vector<uint32_t> count(numExperts);
    for (uint32_t e = 0; e < numExperts; ++e)
    {
        count[e] = static_cast<uint32_t>(p.GetReplicas(e).size());
    }
    const std::vector<uint32_t> initial(count);
    for (uint64_t i = 0; i < extra; ++i)
    {
        uint32_t best = NONE;
        for (uint32_t e = 0; e < numExperts; ++e)
        {
            if (count[e] < ranks && (best == NONE || load[e] * count[best] > load[best] * count[e]))
            {
                best = e;
            }
        }
        if (best == NONE)
        {
            break;
        }
        ++count[best];
    }
    std::vector<double> rankLoad(ranks, 0.0);
    std::vector<uint32_t> pending;
    for (uint32_t e = 0; e < numExperts; ++e)
    {
        for (uint32_t r : p.GetReplicas(e))
        {
            rankLoad[r] += load[e] / count[e];
        }
        pending.insert(pending.end(), count[e] - initial[e], e);
    }
    std::stable_sort(pending.begin(), pending.end(), [&](uint32_t a, uint32_t b) {
        return load[a] * count[b] > load[b] * count[a];
    });
    uint64_t added = 0;
    for (uint32_t e : pending)
    {
        const auto& reps = p.GetReplicas(e);
        uint32_t target = NONE;
        for (uint32_t r = 0; r < ranks; ++r)
        {
            if (p.GetHosted(r).size() < slots &&
                std::find(reps.begin(), reps.end(), r) == reps.end() &&
                (target == NONE || rankLoad[r] < rankLoad[target]))
            {
                target = r;
            }
        }
        if (target != NONE)
        {
            p.AddReplica(e, target);
            rankLoad[target] += load[e] / count[e];
            ++added;
        }
    }
    if (added < extra)
    {
        added += FillGreedy(p, extra - added, load);
    }
    if (added < extra)
    {
        NS_LOG_WARN("replication: placed " << added << " of " << extra
                                           << " redundant replicas (no free slot without a copy)");
    }
}

ExpertPlacement
FromOwners(const std::vector<uint32_t>& owner, uint32_t ranks, uint32_t slots)
{
    ExpertPlacement p(static_cast<uint32_t>(owner.size()), ranks, slots);
    for (uint32_t e = 0; e < owner.size(); ++e)
    {
        const bool ok = p.AddReplica(e, owner[e]);
        NS_ASSERT_MSG(ok, "primary of expert " << e << " does not fit on rank " << owner[e]);
        (void)ok;
    }
    return p;
}

} // namespace

const char*
LocalityName(Locality l)
{
    switch (l)
    {
    case Locality::SAME_GPU:
        return "same_gpu";
    case Locality::SAME_SERVER:
        return "same_server";
    case Locality::SAME_LEAF:
        return "same_leaf";
    case Locality::ACROSS_SPINE:
        return "across_spine";
    }
    return "unknown";
}

// ---------------------------------------------------------------------------------------------
// ExpertPlacement

ExpertPlacement::ExpertPlacement(uint32_t numExperts, uint32_t ranks, uint32_t slotsPerRank)
    : m_numExperts(numExperts),
      m_ranks(ranks),
      m_slots(slotsPerRank),
      m_replicas(numExperts),
      m_hosted(ranks)
{
}

uint32_t
ExpertPlacement::GetNumExperts() const
{
    return m_numExperts;
}

uint32_t
ExpertPlacement::GetNumRanks() const
{
    return m_ranks;
}

uint32_t
ExpertPlacement::GetSlotsPerRank() const
{
    return m_slots;
}

const std::vector<uint32_t>&
ExpertPlacement::GetReplicas(uint32_t expert) const
{
    NS_ASSERT_MSG(expert < m_numExperts, "expert " << expert << " out of range");
    return m_replicas[expert];
}

const std::vector<uint32_t>&
ExpertPlacement::GetHosted(uint32_t rank) const
{
    NS_ASSERT_MSG(rank < m_ranks, "rank " << rank << " out of range");
    return m_hosted[rank];
}

bool
ExpertPlacement::AddReplica(uint32_t expert, uint32_t rank)
{
    if (expert >= m_numExperts || rank >= m_ranks || m_hosted[rank].size() >= m_slots)
    {
        return false;
    }
    auto& reps = m_replicas[expert];
    if (std::find(reps.begin(), reps.end(), rank) != reps.end())
    {
        return false;
    }
    reps.push_back(rank);
    m_hosted[rank].push_back(expert);
    return true;
}

std::string
ExpertPlacement::Validate() const
{
    std::ostringstream os;
    if (m_numExperts == 0 || m_ranks == 0)
    {
        os << "placement has " << m_numExperts << " experts and " << m_ranks << " ranks";
        return os.str();
    }
    for (uint32_t e = 0; e < m_numExperts; ++e)
    {
        if (m_replicas[e].empty())
        {
            os << "expert " << e << " has no replica";
            return os.str();
        }
        for (uint32_t r : m_replicas[e])
        {
            if (r >= m_ranks || std::count(m_hosted[r].begin(), m_hosted[r].end(), e) != 1 ||
                std::count(m_replicas[e].begin(), m_replicas[e].end(), r) != 1)
            {
                os << "expert " << e << ": replica on rank " << r << " is inconsistent";
                return os.str();
            }
        }
    }
    for (uint32_t r = 0; r < m_ranks; ++r)
    {
        if (m_hosted[r].size() > m_slots)
        {
            os << "rank " << r << " hosts " << m_hosted[r].size() << " experts, more than its "
               << m_slots << " slots";
            return os.str();
        }
    }
    return "";
}

// ---------------------------------------------------------------------------------------------
// Policies

ExpertPlacement
PlaceExperts(const PlacementSpec& spec,
             uint32_t numExperts,
             const PlacementContext& ctx,
             const CoSelectionStats& stats)
{
    NS_LOG_FUNCTION(spec.type << numExperts << ctx.Size());
    CheckContext(ctx);
    const uint32_t ranks = ctx.Size();
    CheckExperts(numExperts, ranks);
    CheckStats(stats, numExperts, ranks);
    if ((spec.type == "co-selection" || spec.type == "topology-aware") &&
        numExperts > MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT)
    {
        // Both keep dense experts^2 matrices (CleanCoSelect): 34 GB at 65536 experts.
        Fail("workload.placement.type: \"" + spec.type +
             "\" plans from pairwise co-selection counts, limited to " +
             std::to_string(MAX_EXPERTS_FOR_PAIRWISE_PLACEMENT) + " routed experts (got " +
             std::to_string(numExperts) +
             "); accepted: \"contiguous\", \"round-robin\", \"random\"");
    }
    const uint32_t base = numExperts / ranks;
    const uint32_t slots = base + spec.redundantSlotsPerGpu;

    std::vector<uint32_t> owner(numExperts);
    if (spec.type == "contiguous")
    {
        for (uint32_t e = 0; e < numExperts; ++e)
        {
            owner[e] = e / base;
        }
    }
    else if (spec.type == "round-robin")
    {
        for (uint32_t e = 0; e < numExperts; ++e)
        {
            owner[e] = e % ranks;
        }
    }
    else if (spec.type == "random")
    {
        std::vector<uint32_t> perm(numExperts);
        std::iota(perm.begin(), perm.end(), 0u);
        FastRng rng(Mix64(spec.seed ^ 0x706c6163656d656eull)); // Fisher-Yates
        for (uint32_t i = numExperts - 1; i > 0; --i)
        {
            std::swap(perm[i], perm[rng.Below(i + 1)]);
        }
        for (uint32_t i = 0; i < numExperts; ++i)
        {
            owner[perm[i]] = i / base;
        }
    }
    else if (spec.type == "co-selection")
    {
        if (stats.coSelect.empty())
        {
            Fail("workload.placement.type: \"co-selection\" needs routing statistics (the "
                 "co-selection counts are empty)");
        }
        const std::vector<double> load = EffectiveLoad(stats, numExperts, ranks);
        const auto domains = CoSelectionDomains(ctx);
        const auto part = PartitionCoSelection(domains,
                                               base,
                                               CleanCoSelect(stats.coSelect, numExperts),
                                               load,
                                               stats,
                                               spec.searchPasses);
        owner = AssignWithinParts(domains, part, load, base, ranks);
    }
    else if (spec.type == "topology-aware")
    {
        if (stats.load.empty() && stats.rankLoad.empty())
        {
            Fail("workload.placement.type: \"topology-aware\" needs routing statistics (the "
                 "expert loads are empty)");
        }
        const CostModel model(stats, ctx, numExperts);
        owner =
            TopologyAwareSearch(model, EffectiveLoad(stats, numExperts, ranks), spec.searchPasses);
    }
    else
    {
        Fail("workload.placement.type: unknown placement \"" + spec.type +
             "\" (accepted: " + PLACEMENT_TYPES + ")");
    }

    ExpertPlacement p = FromOwners(owner, ranks, slots);
    if (spec.redundantSlotsPerGpu > 0)
    {
        AddRedundantReplicas(p,
                             static_cast<uint64_t>(spec.redundantSlotsPerGpu) * ranks,
                             EffectiveLoad(stats, numExperts, ranks));
    }
    NS_ASSERT_MSG(p.Validate().empty(), p.Validate());
    return p;
}

ExpertPlacement
Replan(const ExpertPlacement& current,
       uint32_t redundantSlotsPerGpu,
       const std::vector<double>& load,
       const PlacementContext& ctx)
{
    CheckContext(ctx);
    const uint32_t ranks = current.GetNumRanks();
    const uint32_t numExperts = current.GetNumExperts();
    if (ranks != ctx.Size())
    {
        std::ostringstream os;
        os << "placement context: " << ctx.Size() << " ranks, but the placement has " << ranks;
        Fail(os.str());
    }
    CheckExperts(numExperts, ranks);
    if (!load.empty() && load.size() != numExperts)
    {
        std::ostringstream os;
        os << "replan load: " << load.size() << " entries, expected " << numExperts
           << " (experts) or none";
        Fail(os.str());
    }
    std::vector<uint32_t> owner(numExperts);
    for (uint32_t e = 0; e < numExperts; ++e)
    {
        owner[e] = current.GetReplicas(e).front();
    }
    ExpertPlacement p = FromOwners(owner, ranks, numExperts / ranks + redundantSlotsPerGpu);
    if (redundantSlotsPerGpu > 0)
    {
        AddRedundantReplicas(p,
                             static_cast<uint64_t>(redundantSlotsPerGpu) * ranks,
                             load.empty() ? std::vector<double>(numExperts, 1.0) : load);
    }
    return p;
}

double
EstimateDispatchCost(const ExpertPlacement& placement,
                     const CoSelectionStats& stats,
                     const PlacementContext& ctx)
{
    CheckContext(ctx);
    const uint32_t numExperts = placement.GetNumExperts();
    if (placement.GetNumRanks() != ctx.Size())
    {
        Fail("placement context: rank count differs from the placement's");
    }
    CheckStats(stats, numExperts, ctx.Size());
    const CostModel model(stats, ctx, numExperts);
    std::vector<uint32_t> owner(numExperts);
    for (uint32_t e = 0; e < numExperts; ++e)
    {
        owner[e] = placement.GetReplicas(e).front();
    }
    return model.Cost(owner);
}

// ---------------------------------------------------------------------------------------------
// ReplicaSelector

ReplicaSelector::ReplicaSelector(std::string policy,
                                 const ExpertPlacement* placement,
                                 const PlacementContext* ctx)
    : m_policy(std::move(policy)),
      m_placement(placement),
      m_ctx(ctx)
{
    if (m_policy == "local-first")
    {
        m_kind = Kind::LOCAL_FIRST;
    }
    else if (m_policy == "least-loaded")
    {
        m_kind = Kind::LEAST_LOADED;
    }
    else if (m_policy == "round-robin")
    {
        m_kind = Kind::ROUND_ROBIN;
    }
    else
    {
        Fail("workload.replication.selection: unknown policy \"" + m_policy +
             "\" (accepted: " + SELECTION_POLICIES + ")");
    }
    if (m_placement == nullptr || m_ctx == nullptr)
    {
        Fail("replica selector: no placement or context");
    }
    CheckContext(*m_ctx);
    if (m_placement->GetNumRanks() != m_ctx->Size())
    {
        Fail("replica selector: the placement and the context have different rank counts");
    }
    Reset();
}

void
ReplicaSelector::Reset()
{
    // assign() keeps the capacity: no allocation after the first layer.
    m_assigned.assign(m_placement->GetNumRanks(), 0);
    m_rrNext.assign(m_placement->GetNumExperts(), 0);
}

uint64_t
ReplicaSelector::GetAssigned(uint32_t rank) const
{
    NS_ASSERT(rank < m_assigned.size());
    return m_assigned[rank];
}

uint32_t
ReplicaSelector::Select(uint32_t expert, uint32_t srcRank)
{
    NS_ASSERT(srcRank < m_assigned.size());
    const std::vector<uint32_t>& reps = m_placement->GetReplicas(expert);
    const auto n = static_cast<uint32_t>(reps.size());
    uint32_t chosen = reps[0];
    if (n > 1)
    {
        switch (m_kind)
        {
        case Kind::LOCAL_FIRST: {
            // Closest tier holding a replica; several there (or none within the leaf): rotate
            // among them with the expert's counter.
            const Locality* row =
                &m_ctx->locality[static_cast<size_t>(srcRank) * m_assigned.size()];
            auto best = static_cast<uint8_t>(Locality::ACROSS_SPINE);
            uint32_t count = 0;
            for (uint32_t r : reps)
            {
                const auto l = static_cast<uint8_t>(row[r]);
                if (l < best)
                {
                    best = l;
                    count = 1;
                }
                else if (l == best)
                {
                    ++count;
                }
            }
            if (best == static_cast<uint8_t>(Locality::SAME_GPU))
            {
                chosen = srcRank;
                break;
            }
            uint32_t& next = m_rrNext[expert];
            if (best == static_cast<uint8_t>(Locality::ACROSS_SPINE))
            {
                chosen = reps[next % n];
            }
            else
            {
                uint32_t k = next % count;
                for (uint32_t r : reps)
                {
                    if (static_cast<uint8_t>(row[r]) == best && k-- == 0)
                    {
                        chosen = r;
                        break;
                    }
                }
            }
            ++next;
            break;
        }
        case Kind::LEAST_LOADED: {
            for (uint32_t i = 1; i < n; ++i)
            {
                const uint32_t r = reps[i];
                if (m_assigned[r] < m_assigned[chosen] ||
                    (m_assigned[r] == m_assigned[chosen] && r < chosen))
                {
                    chosen = r;
                }
            }
            break;
        }
        case Kind::ROUND_ROBIN: {
            uint32_t& next = m_rrNext[expert];
            if (next >= n)
            {
                next = 0;
            }
            chosen = reps[next];
            next = next + 1 == n ? 0 : next + 1;
            break;
        }
        }
    }
    ++m_assigned[chosen];
    return chosen;
}

} // namespace moe
} // namespace ns3
