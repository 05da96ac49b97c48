#include "moe-layer-plan.h"

#include "ns3/abort.h"
#include "ns3/log.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("MoeLayerPlan");

Locality
GpuLayout::Between(uint32_t a, uint32_t b) const
{
    if (a == b)
    {
        return Locality::SAME_GPU;
    }
    if (server[a] == server[b])
    {
        return Locality::SAME_SERVER;
    }
    if (leaf[a] == leaf[b])
    {
        return Locality::SAME_LEAF;
    }
    return Locality::ACROSS_SPINE;
}

DispatchVariant
ParseDispatchVariant(const std::string& name)
{
    if (name == "direct")
    {
        return DispatchVariant::DIRECT;
    }
    if (name == "hierarchical")
    {
        return DispatchVariant::HIERARCHICAL;
    }
    if (name == "low-latency")
    {
        return DispatchVariant::LOW_LATENCY;
    }
    throw std::invalid_argument("dispatch: unknown variant '" + name +
                                "'; accepted: direct, hierarchical, low-latency");
}

const char*
DispatchVariantName(DispatchVariant v)
{
    switch (v)
    {
    case DispatchVariant::DIRECT:
        return "direct";
    case DispatchVariant::HIERARCHICAL:
        return "hierarchical";
    case DispatchVariant::LOW_LATENCY:
        return "low-latency";
    }
    return "?";
}

LayerPlan
BuildLayerPlan(const LayerPlanContext& ctx,
               const ExpertPlacement& placement,
               ReplicaSelector& selector,
               uint32_t iteration,
               uint32_t layer,
               uint32_t microBatch,
               uint32_t tokensPerNode,
               uint32_t batchTokens,
               const std::vector<uint32_t>* nodeTokens)
{
    NS_ABORT_MSG_IF(ctx.gate == nullptr || ctx.layout == nullptr, "BuildLayerPlan: no gate");
    const GateModel& gate = *ctx.gate;
    const uint32_t topK = gate.GetTopK();
    const uint32_t numExperts = gate.GetNumExperts();
    LayerPlan plan;
    plan.nodes = static_cast<uint32_t>(ctx.nodeGpus.size());
    plan.experts = static_cast<uint32_t>(ctx.expertGpus.size());
    plan.slots = placement.GetSlotsPerRank();
    plan.numExperts = numExperts;
    NS_ABORT_MSG_IF(placement.GetNumRanks() != plan.experts,
                    "BuildLayerPlan: placement has " << placement.GetNumRanks() << " ranks, plan "
                                                     << plan.experts);

    // Dense server index of every expert rank (servers in first-seen order).
    std::vector<uint32_t> serverIds;
    plan.serverOfExpertRank.resize(plan.experts);
    for (uint32_t x = 0; x < plan.experts; ++x)
    {
        const uint32_t s = ctx.layout->server[ctx.expertGpus[x]];
        auto it = std::find(serverIds.begin(), serverIds.end(), s);
        plan.serverOfExpertRank[x] = static_cast<uint32_t>(it - serverIds.begin());
        if (it == serverIds.end())
        {
            serverIds.push_back(s);
        }
    }
    plan.servers = static_cast<uint32_t>(serverIds.size());
    plan.relay.assign(static_cast<size_t>(plan.nodes) * plan.servers, UINT32_MAX);
    for (uint32_t n = 0; n < plan.nodes; ++n)
    {
        const uint32_t src = ctx.nodeGpus[n];
        for (uint32_t x = 0; x < plan.experts; ++x)
        {
            const uint32_t dst = ctx.expertGpus[x];
            if (ctx.layout->server[dst] != ctx.layout->server[src] &&
                ctx.layout->rail[dst] == ctx.layout->rail[src])
            {
                uint32_t& r =
                    plan.relay[static_cast<size_t>(n) * plan.servers + plan.serverOfExpertRank[x]];
                r = std::min(r, x);
            }
        }
    }

    // slotOf[x * numExperts + e] = slot index of expert e on rank x (UINT32_MAX if not hosted).
    std::vector<uint32_t> slotOf(static_cast<size_t>(plan.experts) * numExperts, UINT32_MAX);
    for (uint32_t x = 0; x < plan.experts; ++x)
    {
        const auto& hosted = placement.GetHosted(x);
        for (uint32_t s = 0; s < hosted.size(); ++s)
        {
            slotOf[static_cast<size_t>(x) * numExperts + hosted[s]] = s;
        }
    }

    const size_t pairs = static_cast<size_t>(plan.nodes) * plan.experts;
    plan.pairTokens.assign(pairs, 0);
    plan.pairPicks.assign(pairs, 0);
    plan.work.assign(pairs * plan.slots, 0);
    plan.serverTokens.assign(static_cast<size_t>(plan.nodes) * plan.servers, 0);
    plan.expertTokens.assign(numExperts, 0);

    // Capacity per (source batch, expert): ceil(cf * tokens * topK / experts), over the whole
    // batch, so that splitting it into micro-batches drops exactly the same picks.
    const uint64_t capacity = ctx.capacityFactor > 0
                                  ? static_cast<uint64_t>(std::ceil(
                                        ctx.capacityFactor * std::max(batchTokens, tokensPerNode) *
                                        topK / static_cast<double>(numExperts)))
                                  : UINT64_MAX;

    selector.Reset();
    std::vector<uint32_t> routed;
    std::vector<uint64_t> used(numExperts);
    std::vector<uint32_t> tokenRanks;
    std::vector<uint32_t> tokenServers;
    tokenRanks.reserve(topK);
    tokenServers.reserve(topK);
    const uint32_t first = microBatch * tokensPerNode;
    NS_ABORT_MSG_IF(nodeTokens != nullptr && (microBatch != 0 || nodeTokens->size() != plan.nodes),
                    "BuildLayerPlan: per-node token counts need micro-batch 0 and one per node");
    for (uint32_t n = 0; n < plan.nodes; ++n)
    {
        const uint32_t count = nodeTokens != nullptr ? (*nodeTokens)[n] : tokensPerNode;
        if (count == 0)
        {
            continue;
        }
        gate.Route(iteration, layer, n + ctx.gateRankOffset, first + count, routed);
        std::fill(used.begin(), used.end(), 0);
        if (capacity != UINT64_MAX)
        {
            // The earlier micro-batches' tokens already took their share of each capacity.
            for (size_t i = 0; i < static_cast<size_t>(first) * topK; ++i)
            {
                used[routed[i]] += used[routed[i]] < capacity;
            }
        }
        const uint32_t self = ctx.selectorRank[n];
        for (uint32_t t = first; t < first + count; ++t)
        {
            tokenRanks.clear();
            tokenServers.clear();
            const uint32_t* e = &routed[static_cast<size_t>(t) * topK];
            for (uint32_t i = 0; i < topK; ++i)
            {
                if (used[e[i]] >= capacity)
                {
                    ++plan.droppedPicks;
                    continue;
                }
                ++used[e[i]];
                const uint32_t x = selector.Select(e[i], self);
                const uint32_t slot = slotOf[static_cast<size_t>(x) * numExperts + e[i]];
                NS_ABORT_MSG_IF(slot == UINT32_MAX,
                                "replica selector chose rank " << x << " without expert " << e[i]);
                const size_t pair = static_cast<size_t>(n) * plan.experts + x;
                ++plan.pairPicks[pair];
                ++plan.work[pair * plan.slots + slot];
                ++plan.expertTokens[e[i]];
                ++plan.picks;
                if (std::find(tokenRanks.begin(), tokenRanks.end(), x) == tokenRanks.end())
                {
                    tokenRanks.push_back(x);
                    ++plan.pairTokens[pair];
                    const uint32_t srv = plan.serverOfExpertRank[x];
                    if (std::find(tokenServers.begin(), tokenServers.end(), srv) ==
                        tokenServers.end())
                    {
                        tokenServers.push_back(srv);
                        ++plan.serverTokens[static_cast<size_t>(n) * plan.servers + srv];
                    }
                }
            }
        }
        plan.tokens += count;
    }
    return plan;
}

std::vector<uint64_t>
DispatchBytesByLocality(const LayerPlan& plan,
                        const LayerPlanContext& ctx,
                        DispatchVariant variant,
                        uint64_t bytesPerToken)
{
    std::vector<uint64_t> bytes(4, 0);
    const GpuLayout& layout = *ctx.layout;
    for (uint32_t n = 0; n < plan.nodes; ++n)
    {
        const uint32_t src = ctx.nodeGpus[n];
        for (uint32_t x = 0; x < plan.experts; ++x)
        {
            const uint32_t dst = ctx.expertGpus[x];
            const Locality loc = layout.Between(src, dst);
            const uint64_t copies = variant == DispatchVariant::LOW_LATENCY ? plan.PairPicks(n, x)
                                                                            : plan.PairTokens(n, x);
            if (variant != DispatchVariant::HIERARCHICAL || loc == Locality::SAME_GPU ||
                loc == Locality::SAME_SERVER)
            {
                bytes[static_cast<size_t>(loc)] += copies * bytesPerToken;
            }
        }
        if (variant != DispatchVariant::HIERARCHICAL)
        {
            continue;
        }
        // Hierarchical: one copy per remote server to the same-rail relay, then NVLink hops
        // from the relay to the other destination GPUs of that server.
        for (uint32_t x = 0; x < plan.experts; ++x)
        {
            const uint32_t relay = plan.Relay(n, plan.serverOfExpertRank[x]);
            const Locality loc = layout.Between(src, ctx.expertGpus[x]);
            if (loc == Locality::SAME_GPU || loc == Locality::SAME_SERVER)
            {
                continue; // counted above
            }
            if (relay == UINT32_MAX)
            {
                bytes[static_cast<size_t>(loc)] += plan.PairTokens(n, x) * bytesPerToken;
            }
            else if (x != relay)
            {
                bytes[static_cast<size_t>(Locality::SAME_SERVER)] +=
                    plan.PairTokens(n, x) * bytesPerToken;
            }
        }
        for (uint32_t s = 0; s < plan.servers; ++s)
        {
            const uint32_t relay = plan.Relay(n, s);
            if (relay != UINT32_MAX)
            {
                bytes[static_cast<size_t>(layout.Between(src, ctx.expertGpus[relay]))] +=
                    static_cast<uint64_t>(plan.ServerTokens(n, s)) * bytesPerToken;
            }
        }
    }
    return bytes;
}

} // namespace moe
} // namespace ns3
