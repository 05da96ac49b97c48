/*
 * moe-fabric: MoE serving -- continuous batching with chunked prefill over a stepped MoeWorkload.
 */
#ifndef MOE_SERVING_LOOP_H
#define MOE_SERVING_LOOP_H

#include "moe-workload.h"
#include "serving-requests.h"

#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/ptr.h"
#include "ns3/traced-callback.h"

#include <array>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/// @brief Admission settings of one serving class (workload.serving.admission.classes[]).
struct AdmissionClassSpec
{
    uint32_t tokensInFlight{0}; ///< static: most tokens of the class per GPU per step (0 = no cap)
    /// static: most bytes the class's tokens of one GPU put in flight in one step (0 = no cap):
    /// ServingLoop::TokenBytes per token
    uint64_t bytesInFlight{0};
    uint32_t prefillBudget{
        0};               ///< static: most prompt tokens of the class per GPU per step (0 = no cap)
    int trafficClass{-1}; ///< priority: traffic class of its groups' dispatch and combine
    bool throttle{false}; ///< feedback: the class's prefill is throttled under congestion
    uint32_t throttledPrefillBudget{0}; ///< feedback: prompt tokens per GPU and step, throttled
    std::vector<uint32_t> groups;       ///< expert-parallel groups serving the class (empty = all)
};

/// @brief workload.serving.admission: "none" | "static" (caps) | "priority" (isolation) |
/// "feedback" (throttle classes' prefill while a fabric congestion signal is high).
struct AdmissionSpec
{
    std::string type{"none"};
    std::vector<AdmissionClassSpec> classes; ///< one per serving class (empty = defaults)
    // feedback
    int64_t samplePs{5000000};  ///< probe the signal this often
    int64_t windowPs{50000000}; ///< decide on the mean of the samples of each window
    /// The congestion signal: "queueing_delay" (s, the largest over the watched ports),
    /// "ecn_mark_rate" (CE-marked share of the frames they sent) or "pfc_paused_fraction" (the
    /// largest share of time a watched port was paused)
    std::string signal{"queueing_delay"};
    std::string watchClass; ///< watch the ports on this class's paths ("" = every switch port)
    double high{20e-6};     ///< throttle when the window's mean signal exceeds this
    double low{5e-6};       ///< release when it falls below this
    int64_t maxThrottlePs{2000000000}; ///< release after this long throttled (no starvation)
};

/// @brief What the feedback policy did over the run.
struct FeedbackCounters
{
    uint64_t windows{0};        ///< decision windows
    uint64_t throttles{0};      ///< releases -> throttled
    uint64_t releases{0};       ///< throttled -> released because the signal fell below low
    uint64_t forcedReleases{0}; ///< ... because max_throttle ran out
    int64_t throttledPs{0};     ///< total time throttled
    int64_t longestThrottlePs{0};
    double maxSignal{0};      ///< highest window mean
    double meanSignal{0};     ///< mean of the window means
    uint32_t watchedPorts{0}; ///< switch ports the probe reads
};

/// @brief Admission decisions of one class, counted over the run.
struct AdmissionCounters
{
    uint64_t deferredDecode{0};        ///< decode slots held back by tokens_in_flight
    uint64_t deferredPrefill{0};       ///< prompt chunks cut or held back by a cap
    uint64_t deferredPrefillTokens{0}; ///< prompt tokens those decisions moved to later steps
    uint64_t deferredAdmissions{0};    ///< (step, waiting request) pairs not admitted by a cap
};

/// @brief workload.serving.disaggregation: prefill and decode on separate expert-parallel
/// groups, the KV cache sent between them over the fabric.
struct DisaggregationSpec
{
    bool enabled{false};
    uint32_t prefillGroups{0};         ///< groups 0..prefillGroups-1 prefill, the others decode
    uint32_t decodeGroups{0};          ///< groups prefillGroups..prefillGroups+decodeGroups-1
    std::vector<uint32_t> prefillGpus; ///< as configured (reporting)
    std::vector<uint32_t> decodeGpus;  ///< as configured (reporting)
    uint64_t kvBytesPerToken{0};       ///< KV-cache bytes of one prompt token, all simulated layers
    bool layerWise{false};             ///< send each layer's KV as the layer ends (else whole)
    uint8_t trafficClass{0};           ///< traffic class of the KV messages
};

/// @brief The workload.serving section (validated by the scenario parser).
struct ServingSpec
{
    bool enabled{false};
    std::vector<ServingClassSpec> classes;
    std::string traceFile;       ///< replay these arrivals and lengths (empty = generate)
    int64_t horizonPs{0};        ///< no arrivals after this time (0 = none)
    uint32_t maxStepTokens{512}; ///< token budget of one GPU in one step (decode + prefill)
    uint32_t prefillChunk{512};  ///< most prompt tokens of one request in one step
    uint32_t maxRunning{64};     ///< requests one GPU holds at once (decoding or prefilling)
    AdmissionSpec admission;
    DisaggregationSpec disaggregation;
};

/// @brief What happened to one request (times in ps from the start of the run; -1 = never).
struct ServingRequestRecord
{
    ServingRequest request;
    uint32_t group{0};
    uint32_t gpu{0};          ///< GPU id whose attention (KV cache) serves the request
    uint32_t node{0};         ///< node rank of that GPU in its group
    int64_t admittedPs{-1};   ///< first scheduled into a step
    int64_t firstTokenPs{-1}; ///< end of the step that finished its prompt
    int64_t finishPs{-1};     ///< end of the step that produced its last token
    uint32_t promptDone{0};   ///< prompt tokens prefilled
    uint32_t generated{0};    ///< output tokens produced
    uint32_t steps{0};        ///< steps it took part in
    // Disaggregation (group, gpu and node above are the prefill side; -1 / 0 = colocated).
    int32_t decodeGroup{-1};      ///< expert-parallel group that decodes it
    int32_t decodeGpu{-1};        ///< GPU id that decodes it (receives its KV cache)
    uint32_t decodeNode{0};       ///< node rank of that GPU in its group
    uint64_t kvBytes{0};          ///< KV-cache bytes to send: prompt tokens x kv_bytes_per_token
    uint64_t kvSentBytes{0};      ///< ... posted so far
    uint64_t kvDeliveredBytes{0}; ///< ... delivered so far
    uint32_t kvMessages{0};       ///< KV messages posted
    int64_t kvStartPs{-1};        ///< first KV message posted
    int64_t kvDonePs{-1};         ///< the whole KV cache is on the decode GPU (prefill done too)
    int64_t decodeStartPs{-1};    ///< start of the first decode step that included it
};

/// @brief One forward step of one expert-parallel group.
struct ServingStepRecord
{
    uint32_t group{0};
    uint32_t step{0};
    int64_t startPs{0};
    int64_t endPs{-1};
    uint32_t decodeTokens{0};  ///< over the group's GPUs
    uint32_t prefillTokens{0}; ///< over the group's GPUs
    uint32_t maxGpuTokens{0};  ///< the busiest GPU's tokens
    uint32_t requests{0};      ///< requests in the batch
};

/**
 * @brief Continuous batching per expert-parallel group.
 *
 * Requests are assigned round-robin (by arrival order) to the node GPUs of all groups; a GPU
 * runs its requests' attention (data-parallel attention, KV cache local) and takes part in the
 * group's expert-parallel MoE layers. A group runs one step at a time, back to back while it
 * has work: every GPU's batch holds one decode token per running request that finished its
 * prompt, then prompt chunks (at most prefill_chunk per request) of running requests still in
 * prefill, then newly admitted waiting requests (FCFS, while fewer than max_running run), within
 * max_step_tokens. A step is one MoeWorkload forward pass through every layer with those token
 * counts. When a step ends, prefill chunks count as done, a request whose prompt is complete
 * gets its first token, every decode slot its next token; a request leaves after its output
 * tokens.
 *
 * Admission (ServingSpec::admission): "static" caps a class's tokens per GPU and step
 * (tokens_in_flight: decode + prefill) and its prompt tokens per GPU and step (prefill_budget);
 * "priority" sends each group's dispatch and combine on its classes' traffic class; any type
 * may pin classes to groups. Every cap decision fires the Admission trace and is counted.
 *
 * Disaggregation (ServingSpec::disaggregation): the first groups prefill, the others decode.
 * Requests enter round-robin on the prefill groups' GPUs; when one is admitted there it is given
 * the least-loaded decode GPU. Its prompt chunks run in prefill steps; the step that finishes
 * the prompt yields the first token (TTFT ends there). Its KV cache (prompt tokens x
 * kv_bytes_per_token) goes to the decode GPU as MoeWorkload KV_CACHE messages through the
 * fabric's transport: whole when the prefill ends, or layer-wise as each layer of each chunk
 * ends. Once the prefill has ended and every byte has arrived it waits on the decode GPU like
 * an arrival and joins the next decode step there (KvTransfer trace).
 */
class ServingLoop : public Object
{
  public:
    static TypeId GetTypeId();
    ServingLoop();
    ~ServingLoop() override;

    /// @brief Drive @p workload (stepped) with @p requests.
    void Setup(const ServingSpec& spec,
               std::vector<ServingRequest> requests,
               Ptr<MoeWorkload> workload);
    /// @brief Schedule the arrivals from @p at on.
    void Start(Time at);

    const ServingSpec& GetSpec() const;
    const std::vector<ServingRequestRecord>& GetRecords() const;
    const std::vector<ServingStepRecord>& GetSteps() const;
    uint32_t GetCompleted() const;
    uint64_t GetTokensGenerated() const;
    /// @brief Admission decisions per class (config order).
    const std::vector<AdmissionCounters>& GetAdmissionCounters() const;
    /// @brief Feedback admission: the congestion signal of the last sample interval (see
    /// AdmissionSpec::signal) over @p watchedPorts ports; must be set before Start when the
    /// type is feedback.
    void SetCongestionProbe(std::function<double()> probe, uint32_t watchedPorts);
    const FeedbackCounters& GetFeedbackCounters() const;
    /// @brief True while requests are still to arrive and no group runs a step.
    bool IsWaitingForArrivals() const;
    /// @brief Bytes one token puts in flight in a step, for bytes_in_flight caps: its top_k
    /// dispatch and combine copies in every simulated layer, and for a prompt token with
    /// disaggregation its KV cache (kv_bytes_per_token).
    static uint64_t TokenBytes(const MoeModelSpec& model,
                               uint32_t layers,
                               uint64_t kvBytesPerToken,
                               bool prompt);
    /// @brief Disaggregation: true if @p group prefills (false: it decodes, or colocated).
    bool IsPrefillGroup(uint32_t group) const;
    /// @brief Disaggregation: KV-cache messages posted and their bytes, over the run.
    uint64_t GetKvMessages() const;
    uint64_t GetKvBytes() const;

    /// TracedCallback signature of RequestDone: (request id, class, finish time).
    typedef void (*RequestTracedCallback)(uint32_t id, uint32_t cls, Time finish);
    /// TracedCallback signature of Admission: a cap held back @p deferred of the @p wanted
    /// tokens of request @p id (class @p cls) in this step; @p kind 0 decode, 1 prefill chunk,
    /// 2 admission of a waiting request.
    /// TracedCallback signature of Feedback: a window's mean signal and the state after it
    /// (0 released, 1 throttled; 2 = released because max_throttle ran out).
    typedef void (*FeedbackTracedCallback)(double signal, uint32_t state);
    /// TracedCallback signature of KvTransfer: request @p id's KV cache (@p bytes) is on decode
    /// GPU @p dst (sent from @p src); @p done is when the transfer (and the prefill) finished.
    typedef void (*KvTransferTracedCallback)(uint32_t id,
                                             uint32_t src,
                                             uint32_t dst,
                                             uint64_t bytes,
                                             Time done);
    typedef void (*AdmissionTracedCallback)(uint32_t id,
                                            uint32_t cls,
                                            uint32_t kind,
                                            uint32_t wanted,
                                            uint32_t deferred);

  protected:
    void DoDispose() override;

  private:
    struct Slot
    {
        uint32_t request;
        uint32_t tokens;
        bool prefill;
    };

    struct GroupState
    {
        std::vector<std::deque<uint32_t>> waiting;  ///< per node rank
        std::vector<std::vector<uint32_t>> running; ///< per node rank, admission order
        std::vector<std::vector<Slot>> batch;       ///< per node rank: the running step
        bool busy{false};
        uint32_t stepRecord{0};
    };

    void OnArrival(uint32_t request);
    void TryStep(uint32_t group);
    void OnStepDone(uint32_t group, uint32_t step);
    void FeedbackSample();
    /// Disaggregation: the decode GPU for request @p r (least loaded of its decode GPUs).
    void ChooseDecodeGpu(uint32_t r);
    /// Disaggregation: post @p bytes of request @p r's KV cache (layer @p stage of @p step).
    void SendKv(uint32_t r, uint64_t bytes, uint32_t step, uint32_t stage);
    /// Disaggregation, layer-wise: layer @p stage of step @p iteration ended on @p node.
    void OnUnitEnd(uint32_t group, uint32_t node, uint32_t iteration, uint32_t stage, uint32_t mb);
    void OnKvDelivered(uint32_t request, uint64_t bytes);
    /// Disaggregation: hand @p r to its decode GPU once its prefill and KV transfer are done.
    void MaybeKvDone(uint32_t r);

    ServingSpec m_spec;
    Ptr<MoeWorkload> m_workload;
    std::vector<ServingRequestRecord> m_records;
    std::vector<ServingStepRecord> m_steps;
    std::vector<GroupState> m_groups;
    Time m_start;
    uint32_t m_arrived{0};
    uint32_t m_completed{0};
    uint64_t m_tokens{0};
    TracedCallback<uint32_t, uint32_t, Time> m_requestDone;
    TracedCallback<uint32_t, uint32_t, uint32_t, uint32_t, uint32_t> m_admission;
    std::vector<AdmissionCounters> m_admissionCounters;
    // feedback
    std::function<double()> m_probe;
    TracedCallback<double, uint32_t> m_feedback;
    FeedbackCounters m_feedbackCounters;
    bool m_throttled{false};
    int64_t m_throttleStartPs{0};
    int64_t m_holdoffUntilPs{0}; ///< after a forced release: no throttle before this
    int64_t m_windowStartPs{0};
    double m_windowSum{0};
    uint32_t m_windowSamples{0};
    // disaggregation
    std::vector<uint32_t> m_decodeLoad;     ///< per (decode group, node): requests assigned, open
    std::array<uint64_t, 2> m_tokenBytes{}; ///< TokenBytes of a decode and a prompt token
    uint64_t m_kvMessages{0};
    uint64_t m_kvBytes{0};
    TracedCallback<uint32_t, uint32_t, uint32_t, uint64_t, Time> m_kvTransfer;
};

} // namespace moe
} // namespace ns3

#endif // MOE_SERVING_LOOP_H
