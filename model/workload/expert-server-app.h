/*
 * moe-fabric: the expert-server application -- per-expert token queues on a GPU, batching,
 * expert compute and the combine back to the token owners.
 */
#ifndef MOE_EXPERT_SERVER_APP_H
#define MOE_EXPERT_SERVER_APP_H

#include "moe-workload.h"

#include "ns3/application.h"

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
 * token opens a batching window; when it closes, a batch of that expert is queued on the engine,
 * and when the engine starts it, it takes every token queued for the expert by then (tokens
 * arriving while it waits join it). A source's combine leaves as soon as all its tokens are done.
 * For hierarchical dispatch the GPU also relays: it forwards a remote node's tokens to the other
 * GPUs of its server over NVLink and gathers their results into one combine message.
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
    /// @brief Eager batching windows now running (each will launch a batch when it closes).
    uint32_t GetOpenBatchWindows() const;

    /// TracedCallback signature: (group, unit, tokens, start, end) of one expert batch.
    typedef void (
        *BatchTracedCallback)(uint32_t group, uint32_t unit, uint32_t tokens, Time start, Time end);

  protected:
    void DoDispose() override;

  private:
    void StartApplication() override;
    void StopApplication() override;

    /// Picks of one node in one expert batch.
    using Composition = std::vector<std::pair<uint32_t, uint32_t>>;

    struct Work
    {
        const LayerPlan* plan{nullptr};
        uint32_t stage{0};
        uint64_t expectedBytes{0};
        uint64_t arrivedBytes{0};
        uint32_t nodes{0};
        uint32_t slots{0};
        uint32_t rank{0};
        std::vector<uint64_t> srcExpected, srcArrived;
        std::vector<uint32_t> srcPicks, srcDone;
        std::vector<int64_t> srcLast, srcFirstStart;
        std::vector<bool> srcCombined;
        std::vector<Composition> pending;        ///< per slot: picks waiting, by node
        std::vector<bool> windowOpen;            ///< per slot: eager batching window running
        std::vector<bool> queued;                ///< per slot: a batch waits on the engine
        std::map<uint32_t, Composition> batches; ///< running batches by id
        uint32_t nextBatch{0};
        uint32_t outstanding{0}; ///< batches queued or running
        int64_t lastArrival{-1};
        bool submittedAll{false};
    };

    struct Relay
    {
        const LayerPlan* plan{nullptr};
        std::vector<uint64_t> arrived;       ///< dispatch bytes per node
        std::vector<uint32_t> contributions; ///< combine results per node
        std::vector<uint32_t> expected;      ///< GPUs of the relayed server with the node's tokens
        std::vector<MoeWorkload::MsgContext> latest; ///< latest contribution per node
    };

    static uint64_t Key(uint32_t group, uint32_t unit);
    Work& GetWork(uint32_t group, uint32_t unit, uint32_t rank);
    Relay& GetRelay(uint32_t group, uint32_t unit);
    void AddTokens(Work& w,
                   uint32_t group,
                   uint32_t unit,
                   uint32_t node,
                   uint64_t before,
                   uint64_t after);
    /// Open a batching window for @p slot (eager) if none is open or queued.
    void OpenWindow(Work& w, uint32_t group, uint32_t unit, uint32_t slot);
    /// The window closed: queue one batch of @p slot on the engine.
    void Flush(uint32_t group, uint32_t unit, uint32_t slot);
    void QueueBatch(Work& w, uint32_t group, uint32_t unit, uint32_t slot);
    /// The engine starts batch @p id: it takes every pick of @p slot queued by now.
    Time StartBatch(uint32_t group, uint32_t unit, uint32_t slot, uint32_t id);
    void OnBatchDone(uint32_t group, uint32_t unit, uint32_t id, Time start, Time end);
    void SendCombine(uint32_t group, uint32_t unit, Work& w, uint32_t node);

    MoeWorkload* m_workload{nullptr};
    uint32_t m_gpu{0};
    std::map<uint64_t, Work> m_work;
    uint32_t m_openWindows{0}; ///< batch windows scheduled and not yet closed
    std::map<uint64_t, Relay> m_relay;
    TracedCallback<uint32_t, uint32_t, uint32_t, Time, Time> m_batchTrace;
};

} // namespace moe
} // namespace ns3

#endif // MOE_EXPERT_SERVER_APP_H
