/*
 * moe-fabric: the expert-server application -- per-expert token queues on a GPU, batching,
 * expert compute and the combine back to the token owners.
 */
#ifndef MOE_EXPERT_SERVER_APP_H
#define MOE_EXPERT_SERVER_APP_H

#include "moe-workload.h"

#include "ns3/application.h"
#include "ns3/event-id.h"

#include <map>
#include <utility>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Serves the expert replicas hosted on one GPU.
 *
 * Arriving dispatch parts put their tokens into per-expert queues. With "wait-all" batching
 * (collective semantics) nothing runs until every dispatch part of the stage has arrived; then
 * one batch per hosted expert is queued on the GPU's compute engine, and the combine to every
 * source is sent when all of them are done. With "eager" batching an expert's first queued
 * token opens a batching window; at its end everything queued for that expert runs as one
 * batch, and a source's combine leaves as soon as all its tokens are done. For hierarchical
 * dispatch the GPU also relays: it forwards a remote node's tokens to the other GPUs of its
 * server over NVLink and gathers their results into one combine message.
 */
class ExpertServerApp : public Application
{
  public:
    static TypeId GetTypeId();
    ExpertServerApp();

    void Setup(MoeWorkload* workload, uint32_t gpu);

    /// @brief Dispatch payload for expert rank ctx.dstRank (this GPU) arrived.
    void OnDispatchPart(const MoeWorkload::MsgContext& ctx);
    /// @brief Hierarchical: a node's copies for this server arrived at this relay.
    void OnRelayDispatch(const MoeWorkload::MsgContext& ctx);
    /// @brief Hierarchical: a GPU of this server finished a node's tokens (this GPU relays).
    void OnCombineContribution(const MoeWorkload::MsgContext& ctx);
    /// @brief Forget the state of a unit every node has finished.
    void ReleaseUnit(uint32_t group, uint32_t unit);

    /// TracedCallback signature: (group, unit, tokens, start, end) of one expert batch.
    typedef void (
        *BatchTracedCallback)(uint32_t group, uint32_t unit, uint32_t tokens, Time start, Time end);

  protected:
    void DoDispose() override;

  private:
    void StartApplication() override;
    void StopApplication() override;

    struct Work
    {
        uint64_t expectedBytes{0};
        uint64_t arrivedBytes{0};
        uint32_t nodes{0};
        uint32_t slots{0};
        uint32_t rank{0};
        std::vector<uint64_t> srcExpected, srcArrived;
        std::vector<uint32_t> srcPicks, srcDone;
        std::vector<int64_t> srcLast, srcFirstStart;
        std::vector<bool> srcCombined;
        std::vector<std::vector<std::pair<uint32_t, uint32_t>>>
            pending; ///< per slot: (node, picks)
        std::vector<bool> windowOpen;
        uint32_t running{0};
        int64_t lastArrival{-1};
        bool submittedAll{false};
    };

    struct Relay
    {
        std::vector<uint64_t> arrived;               ///< dispatch bytes per node
        std::vector<uint32_t> contributions;         ///< combine results per node
        std::vector<MoeWorkload::MsgContext> latest; ///< latest contribution per node
    };

    static uint64_t Key(uint32_t group, uint32_t unit);
    Work& GetWork(uint32_t group, uint32_t unit, uint32_t rank);
    void AddTokens(Work& w,
                   uint32_t group,
                   uint32_t unit,
                   uint32_t node,
                   uint64_t before,
                   uint64_t after);
    void Flush(uint32_t group, uint32_t unit, uint32_t slot);
    void SubmitBatch(uint32_t group,
                     uint32_t unit,
                     uint32_t slot,
                     std::vector<std::pair<uint32_t, uint32_t>> composition);
    void OnBatchDone(uint32_t group,
                     uint32_t unit,
                     std::vector<std::pair<uint32_t, uint32_t>> composition,
                     Time start,
                     Time end);
    void SendCombine(uint32_t group, uint32_t unit, Work& w, uint32_t node);

    MoeWorkload* m_workload{nullptr};
    uint32_t m_gpu{0};
    std::map<uint64_t, Work> m_work;
    std::map<uint64_t, Relay> m_relay;
    TracedCallback<uint32_t, uint32_t, uint32_t, Time, Time> m_batchTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_EXPERT_SERVER_APP_H
