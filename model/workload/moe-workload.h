/*
 * moe-fabric: the MoE workload -- GPU-node and expert-server applications driven layer by layer.
 */
#ifndef MOE_WORKLOAD_H
#define MOE_WORKLOAD_H

#include "expert-placement.h"
#include "gpu-compute-engine.h"
#include "gpu-compute-model.h"
#include "moe-gate.h"
#include "moe-layer-plan.h"
#include "moe-model-spec.h"

#include "ns3/callback.h"
#include "ns3/message-transport.h"
#include "ns3/node-container.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <array>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

class GpuNodeApp;
class ExpertServerApp;

/**
 * @brief Everything the workload section of a scenario says (validated by the scenario parser).
 */
struct MoeWorkloadSpec
{
    MoeModelSpec model;
    GpuSpec gpu;
    std::string mode{"training"}; ///< "training" (forward + backward) | "inference" (forward)
    uint32_t tokensPerGpu{4096};  ///< tokens per node GPU per step (all micro-batches together)
    uint32_t contextTokens{4096}; ///< tokens each new token attends to
    uint32_t layers{4};           ///< MoE layers simulated
    uint32_t iterations{1};
    GateSpec gate;
    PlacementSpec placement;
    std::string selection{"local-first"}; ///< replica selection policy
    uint32_t replanEvery{0}; ///< re-plan replicas from measured load every N iterations (0 = never)
    DispatchVariant dispatch{DispatchVariant::DIRECT};
    uint64_t chunkBytes{0};         ///< split dispatch/combine messages into chunks (0 = whole)
    bool eager{false};              ///< expert batching: eager (else wait for every dispatch)
    int64_t batchWindowPs{0};       ///< eager: wait this long after a batch's first token
    uint32_t streams{1};            ///< concurrent expert kernels per GPU
    bool globalBarrier{true};       ///< a layer starts when every GPU of the group finished
    uint32_t microBatches{1};       ///< 1 or 2
    bool overlapMicroBatches{true}; ///< micro-batches run concurrently (else back to back)
    bool sharedExpertOverlap{true}; ///< shared experts run while dispatch is in flight

    std::vector<uint32_t> nodeGpus;   ///< GPUs that own tokens, in rank order
    std::vector<uint32_t> expertGpus; ///< disaggregated expert pool (empty = co-located)
    uint32_t groupSize{0};            ///< node GPUs per expert-parallel group (0 = all)

    uint8_t dispatchClass{0};
    uint8_t combineClass{0};

    /// Training: after a layer's backward pass, every GPU all-reduces that layer's gradients
    /// with the GPUs of the same rank in the other expert-parallel groups (a ring of
    /// 2 (D - 1) steps of bytes / D), in the background; an iteration's first stage waits
    /// until the GPU's all-reduces of the previous iteration are done.
    bool allReduce{false};
    uint64_t allReduceBytesPerLayer{0}; ///< per GPU and layer
    uint8_t allReduceClass{1};
    uint64_t seed{1};
    /// Serving: a driver starts every forward step (MoeWorkload::BeginStep) with its own token
    /// counts and attention costs; iterations are those steps and are open-ended (inference,
    /// one micro-batch, no all-reduce).
    bool stepped{false};
};

/**
 * @brief What one GPU of an expert-parallel group does in one serving step: the new tokens it
 * routes (decode tokens and prefill chunks of its requests) and the attention kernel over them.
 */
struct MoeStepShape
{
    std::vector<uint32_t> tokens;      ///< per node rank of the group
    std::vector<KernelCost> attention; ///< per node rank: attention of one layer
};

/// @brief What a workload message carries.
enum class MoeMessageKind : uint8_t
{
    DISPATCH = 0,     ///< node -> expert GPU
    RELAY_DISPATCH,   ///< node -> same-rail relay in a remote server (hierarchical)
    FORWARD,          ///< relay -> expert GPU over NVLink (hierarchical)
    COMBINE,          ///< expert GPU (or relay) -> node
    COMBINE_TO_RELAY, ///< expert GPU -> relay over NVLink (hierarchical)
    ALLREDUCE,        ///< data-parallel gradient ring (training, background class)
    KV_CACHE          ///< serving, disaggregated: a request's KV cache, prefill -> decode GPU
};

/// Number of MoeMessageKind values.
constexpr size_t NUM_MOE_MESSAGE_KINDS = 7;

const char* MoeMessageKindName(MoeMessageKind k);

/**
 * @brief One node GPU's timeline through one (iteration, stage, micro-batch).
 *
 * Times in ps from the start of the simulation; -1 = not reached. The phases of the summary are
 * differences of these along the critical path: the expert GPU whose combine arrived last.
 */
struct MoeUnitRecord
{
    int64_t start{-1};         ///< the stage started on this GPU (after its barrier)
    int64_t attentionEnd{-1};  ///< attention done, dispatch posted
    int64_t expertReady{-1};   ///< critical expert GPU had this GPU's last token
    int64_t computeStart{-1};  ///< ... started its first batch holding this GPU's tokens
    int64_t combineSent{-1};   ///< ... finished this GPU's tokens and sent the combine
    int64_t combineDone{-1};   ///< the last combine part arrived here
    int64_t end{-1};           ///< stage done here (combines and shared experts)
    int64_t next{-1};          ///< the next stage started here (end + barrier wait)
    uint32_t criticalGpu{0};   ///< GPU id of the critical expert GPU
    uint64_t dispatchBytes{0}; ///< payload this GPU sent to other GPUs for the stage
};

/**
 * @brief The MoE workload: installs a GpuNodeApp on every node GPU and an ExpertServerApp on every
 * GPU holding experts, owns the gate, the placement and the per-layer traffic plans, and routes
 * the transport's deliveries to the applications.
 *
 * One training iteration runs forward through the MoE layers and backward in reverse (gradients
 * travel node -> experts -> node again, computed at twice the forward cost); an inference step
 * runs forward only. Several expert-parallel groups (GroupSize) run side by side on one fabric.
 */
class MoeWorkload : public Object
{
  public:
    static TypeId GetTypeId();
    MoeWorkload();
    ~MoeWorkload() override;

    /**
     * @brief Configure; throws std::invalid_argument naming the workload field for inconsistent
     * settings (e.g. experts not divisible among the expert GPUs).
     */
    void Configure(const MoeWorkloadSpec& spec, const GpuLayout& layout);
    const MoeWorkloadSpec& GetSpec() const;

    /// @brief Create the applications on @p gpuNodes (indexed by GPU id) and use @p transport.
    void Install(const NodeContainer& gpuNodes, Ptr<MessageTransport> transport);
    /// @brief Start every group's first stage at @p at.
    void Start(Time at);
    /// @brief Called once when every stage of every iteration has completed on every GPU.
    void SetDoneCallback(Callback<void> cb);
    bool IsDone() const;

    // --- serving steps (spec.stepped) ---
    /// @brief Run one forward step (all layers) of @p group with @p shape; the group must be
    /// idle (its previous step done). Returns the step's iteration index.
    uint32_t BeginStep(uint32_t group, const MoeStepShape& shape);
    /// @brief Called when every GPU of a group finished a step: (group, step).
    void SetStepDoneCallback(Callback<void, uint32_t, uint32_t> cb);
    /// @brief The driver has no more steps: the workload is done (fires the done callback).
    void FinishSteps();
    /// @brief Send @p group's dispatch and combine messages on traffic class @p cls (instead of
    /// the spec's dispatchClass / combineClass): priority isolation of serving classes.
    void SetGroupTrafficClass(uint32_t group, uint8_t cls);
    /// @brief Steps started by @p group so far.
    uint32_t GetStepsStarted(uint32_t group) const;
    /// @brief Tokens node rank @p node of @p group routes in @p unit, and its attention cost.
    uint32_t UnitTokens(uint32_t group, uint32_t node) const;
    KernelCost UnitAttention(uint32_t group, uint32_t node) const;

    /// @brief Send @p bytes of request @p request's KV cache from @p srcGpu to @p dstGpu on
    /// traffic class @p cls, through the same transport as the MoE traffic (prefill/decode
    /// disaggregation). @p group and @p unit name the prefill step and layer that produced it
    /// (for messages.csv). Delivery is reported to the KV callback.
    void SendKvCache(uint32_t srcGpu,
                     uint32_t dstGpu,
                     uint8_t cls,
                     uint64_t bytes,
                     uint32_t request,
                     uint32_t group,
                     uint32_t unit);
    /// @brief Called when a KV-cache message is delivered: (request, bytes).
    void SetKvDeliveredCallback(Callback<void, uint32_t, uint64_t> cb);

    /// @brief Keep a record of every message (for messages.csv).
    void SetRecordMessages(bool record);

    // --- results ---
    uint32_t GetNumGroups() const;
    uint32_t GetStagesPerIteration() const;
    /// @brief Layer of stage @p stage and whether it is a backward stage.
    uint32_t StageLayer(uint32_t stage) const;
    bool StageIsBackward(uint32_t stage) const;
    /// @brief Record of node rank @p node of @p group in (iteration, stage, microBatch).
    const MoeUnitRecord& GetRecord(uint32_t group,
                                   uint32_t iteration,
                                   uint32_t stage,
                                   uint32_t microBatch,
                                   uint32_t node) const;
    /// @brief Node GPUs of @p group in rank order.
    const std::vector<uint32_t>& GetGroupNodes(uint32_t group) const;
    /// @brief Routed picks per logical expert, summed over groups, iterations, layers (forward).
    const std::vector<uint64_t>& GetExpertTokens() const;
    /// @brief Picks processed per GPU id (forward), all layers and iterations.
    const std::vector<uint64_t>& GetGpuTokens() const;
    /// @brief Forward dispatch payload bytes by Locality.
    const std::array<uint64_t, 4>& GetDispatchBytesByLocality() const;
    uint64_t GetDroppedPicks() const;
    uint64_t GetRoutedPicks() const;
    /// @brief Messages of each kind sent and their payload bytes.
    const std::array<uint64_t, NUM_MOE_MESSAGE_KINDS>& GetMessagesByKind() const;
    const std::array<uint64_t, NUM_MOE_MESSAGE_KINDS>& GetBytesByKind() const;
    /// @brief All-reduce: time from a layer's first GPU starting its ring to the last one
    /// finishing, per (iteration, layer) (ps; -1 if not run), and the time GPUs waited at
    /// iteration starts for their all-reduces, per GPU and iteration (ps).
    const std::vector<int64_t>& GetAllReduceSpansPs() const;
    const std::vector<int64_t>& GetAllReduceWaitPs() const;
    /// @brief Compute time by engine kernel kind (attention, shared, expert) summed over GPUs.
    const std::array<int64_t, 3>& GetComputePs() const;
    /// @brief Placement of @p group, @p layer in force at @p iteration.
    const ExpertPlacement& GetPlacement(uint32_t group, uint32_t layer, uint32_t iteration);
    /// @brief True while a kernel runs on any of the workload's GPUs.
    bool IsComputing() const;
    /// @brief True while an expert server's eager batching window runs (a batch will launch).
    bool IsBatchWindowOpen() const;
    /// @brief The time the last stage finished.
    Time GetEndTime() const;

    /// @brief Fabric message records with their context, in delivery order.
    struct MessageLog
    {
        MessageRecord record;
        MoeMessageKind kind;
        uint32_t group, iteration, stage, microBatch;
    };

    const std::vector<MessageLog>& GetMessageLog() const;
    /// @brief Delivery time (delivered - sent, ps) of every fabric message towards the experts
    /// (dispatch, relay, forward) or, with @p combine, back to the nodes.
    const std::vector<int64_t>& GetDeliveryTimesPs(bool combine) const;

    /// TracedCallback signature of UnitStart / UnitEnd: (group, node rank, iteration, stage,
    /// micro-batch).
    typedef void (*UnitTracedCallback)(uint32_t group,
                                       uint32_t node,
                                       uint32_t iteration,
                                       uint32_t stage,
                                       uint32_t microBatch);

    // --- services for the applications ---
    /// @brief Per-unit context carried by a message tag.
    struct MsgContext
    {
        MoeMessageKind kind{MoeMessageKind::DISPATCH};
        uint32_t group{0};
        uint32_t unit{0};       ///< dense unit index inside the group
        uint32_t node{0};       ///< node rank the tokens belong to
        uint32_t dstRank{0};    ///< expert rank of the receiving GPU (expert-bound and relay kinds)
        uint32_t originRank{0}; ///< combine kinds: the expert rank whose result this is
        uint32_t server{0};     ///< dense server index (relay kinds)
        uint64_t bytes{0};
        int64_t ready{-1}; ///< combine kinds: timeline of the origin expert GPU (ps)
        int64_t computeStart{-1};
        int64_t sent{-1};
        uint32_t request{0}; ///< KV_CACHE: the serving request
        uint8_t kvClass{0};  ///< KV_CACHE: its traffic class
    };

    /// @brief Send a workload message; local (same GPU) messages complete at once.
    void SendMessage(uint32_t srcGpu, uint32_t dstGpu, const MsgContext& ctx);
    /// @brief Send @p total bytes as messages of at most dispatch.chunk_bytes (one message if
    /// chunking is off or the copy stays on the GPU), each with @p ctx and its share of bytes.
    void SendChunked(uint32_t srcGpu, uint32_t dstGpu, MsgContext ctx, uint64_t total);
    std::vector<int16_t> m_groupClass; ///< per group: traffic class override (-1 = none)
    /// @brief The plan of (group, iteration, layer, microBatch), built on first use.
    const LayerPlan& GetPlan(uint32_t group, uint32_t iteration, uint32_t layer, uint32_t mb);
    /// @brief The plan unit @p unit of @p group runs (its iteration, layer and micro-batch).
    const LayerPlan& GetUnitPlan(uint32_t group, uint32_t unit);
    /// @brief Stage of @p unit.
    uint32_t StageOf(uint32_t unit) const;
    const LayerPlanContext& GetPlanContext(uint32_t group) const;
    GpuComputeModel& GetComputeModel();
    Ptr<GpuComputeEngine> GetEngine(uint32_t gpu) const;
    Ptr<ExpertServerApp> GetExpertServer(uint32_t gpu) const;
    Ptr<GpuNodeApp> GetNodeApp(uint32_t gpu) const;
    uint32_t NumUnits() const; ///< units per group: iterations x stages x micro-batches
    void UnitOf(uint32_t unit, uint32_t& iteration, uint32_t& stage, uint32_t& mb) const;
    uint32_t UnitIndex(uint32_t iteration, uint32_t stage, uint32_t mb) const;
    MoeUnitRecord& Record(uint32_t group, uint32_t unit, uint32_t node);
    /// @brief Per-token bytes of a stage: what nodes send and what comes back.
    uint64_t SendBytesPerToken(uint32_t stage) const;
    uint64_t ReturnBytesPerToken(uint32_t stage) const;
    /// @brief Number of parts a message of @p bytes splits into (chunking).
    uint32_t Chunks(uint64_t bytes) const;
    /// @brief A node finished a unit.
    void NotifyUnitDone(uint32_t group, uint32_t unit, uint32_t node);

  protected:
    void DoDispose() override;

  private:
    struct Group
    {
        std::vector<uint32_t> nodeGpus;
        LayerPlanContext planCtx;
        PlacementContext placeCtx;
        std::shared_ptr<GateModel> gate; ///< shared by the groups (offset ranks)
        /// placements[layer][epoch]
        std::vector<std::vector<ExpertPlacement>> placements;
        std::vector<MoeUnitRecord> records; ///< [unit * nodes + node]
        std::vector<uint32_t> unitDoneCount;
        std::map<uint64_t, std::shared_ptr<LayerPlan>> plans;
        std::set<uint64_t> builtPlans;
        /// picks per expert of (iteration, layer), all micro-batches, by PlanKey(it, layer, 0)
        std::map<uint64_t, std::vector<uint64_t>> measured;
        MoeStepShape step; ///< stepped: the running step
        uint32_t steps{0}; ///< stepped: steps started
        bool stepRunning{false};
    };

    void OnDelivered(const MessageRecord& record);
    void BuildGroups();
    void Deliver(MessageRecord record, bool fabric);
    void StartUnit(uint32_t group, uint32_t unit, uint32_t node);
    /// Unit that runs after @p unit on the same node (UINT32_MAX if none).
    uint32_t Successor(uint32_t unit) const;
    uint64_t PlanKey(uint32_t iteration, uint32_t layer, uint32_t mb) const;
    /// Every node finished @p unit: drop its plan (after its last stage) and expert state.
    void ReleaseUnit(uint32_t group, uint32_t unit);
    void ChainDone();
    void CheckAllDone();
    /// Start the data-parallel ring of (iteration, layer) on node rank @p node of @p group.
    void StartAllReduce(uint32_t group, uint32_t node, uint32_t iteration, uint32_t layer);
    /// Send as many ring steps as the chunks received so far allow.
    void PumpAllReduce(uint32_t group, uint32_t node, uint32_t iteration, uint32_t layer);
    void OnAllReduceChunk(const MsgContext& ctx);
    /// Start @p unit on @p node now, or once its previous iteration's all-reduces are done.
    void StartOrHold(uint32_t group, uint32_t unit, uint32_t node);

    MoeWorkloadSpec m_spec;
    GpuLayout m_layout;
    GpuComputeModel m_compute;
    std::vector<Group> m_groups;
    uint32_t m_stages{0};
    Ptr<MessageTransport> m_transport;
    std::vector<Ptr<GpuNodeApp>> m_nodeApps;        ///< by GPU id (null if none)
    std::vector<Ptr<ExpertServerApp>> m_expertApps; ///< by GPU id (null if none)
    std::vector<Ptr<GpuComputeEngine>> m_engines;   ///< by GPU id
    std::vector<MsgContext> m_msgs;                 ///< by tag (slots reused)
    std::vector<uint64_t> m_freeTags;
    bool m_recordMessages{false};
    std::vector<MessageLog> m_log;
    std::array<std::vector<int64_t>, 2> m_deliveryPs;
    std::vector<uint64_t> m_expertTokens;
    std::vector<uint64_t> m_gpuTokens;
    std::array<uint64_t, 4> m_localityBytes{};
    std::array<uint64_t, NUM_MOE_MESSAGE_KINDS> m_kindMessages{};
    std::array<uint64_t, NUM_MOE_MESSAGE_KINDS> m_kindBytes{};
    std::array<int64_t, 3> m_computePs{};
    uint64_t m_droppedPicks{0};
    uint64_t m_routedPicks{0};

    struct RingState
    {
        bool started{false};
        uint32_t sent{0};
        uint32_t received{0};
    };

    /// By (iteration, layer, group, node); size iterations * layers * nodes (all groups).
    std::vector<RingState> m_rings;
    std::vector<uint32_t> m_ringsDone; ///< per (iteration, global node): layers finished
    /// per global node: units waiting for the previous iteration's all-reduces, since when
    std::vector<std::vector<std::pair<uint32_t, int64_t>>> m_held;
    std::vector<int64_t> m_allReduceWaitPs;  ///< [iteration * nodes + global node]
    std::vector<int64_t> m_allReduceSpanPs;  ///< per (iteration, layer)
    std::vector<int64_t> m_allReduceStartPs; ///< per (iteration, layer)
    std::vector<uint32_t> m_ringFinished;    ///< per (iteration, layer): GPUs done
    uint32_t m_totalNodes{0};
    uint64_t m_ringsOutstanding{0}; ///< (node, iteration, layer) rings started, not finished
    uint32_t m_chainsTotal{0};      ///< (node, micro-batch chain) pairs
    uint32_t m_chainsDone{0};
    bool m_done{false};
    Time m_endTime;
    Callback<void> m_doneCb;
    Callback<void, uint32_t, uint32_t> m_stepDoneCb;
    Callback<void, uint32_t, uint64_t> m_kvDeliveredCb;
    TracedCallback<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t> m_unitStartTrace;
    TracedCallback<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t> m_unitEndTrace;

    friend class GpuNodeApp;
    friend class ExpertServerApp;
};

} // namespace moe
} // namespace ns3

#endif // MOE_WORKLOAD_H
