/*
 * moe-fabric: a scenario -- one JSON document turned into a built, runnable simulation.
 */
#ifndef MOE_SCENARIO_H
#define MOE_SCENARIO_H

#include "fat-tree-helper.h"
#include "moe-config-reader.h"
#include "moe-workload-config.h"

#include "ns3/all-to-all-traffic.h"
#include "ns3/fabric-topology.h"
#include "ns3/message-transport.h"
#include "ns3/moe-workload.h"
#include "ns3/serving-loop.h"

#include <chrono>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Everything a scenario JSON says, validated, before any ns-3 object exists.
 *
 * The schema (every key optional, defaults documented in doc/moe-fabric.rst and
 * traces/scenario-schema.md) has top-level sections seed, name, topology, switch, transport,
 * traffic, output, simulation.
 */
/// Keys of switch.buffer that only the "shared" type reads (a tail-drop buffer names them).
constexpr const char* SHARED_BUFFER_KEYS[] = {"preset",
                                              "size",
                                              "cell_size",
                                              "partitions",
                                              "alpha",
                                              "egress_reserved",
                                              "lossless_priorities",
                                              "headroom",
                                              "xoff_alpha",
                                              "xon_offset",
                                              "xoff",
                                              "ingress_reserved",
                                              "shared_headroom",
                                              "lossless_pool_fraction"};

struct ScenarioSettings
{
    uint64_t seed{1};
    std::string name;

    TopologySpec spec;                   ///< the graph built by the topology helper
    std::string loadBalancing;           ///< "ecmp" | "spray" | "adaptive" | "flowlet"
    int64_t flowletGapPs{0};             ///< "flowlet": idle time that starts a new flowlet
    uint64_t queueLimitBytes{0};         ///< per (port, priority) tail-drop limit, 0 = unlimited
    std::string bufferType;              ///< "tail-drop" | "shared"
    uint64_t bufferBytes{0};             ///< shared: total buffer per switch
    uint64_t cellBytes{256};             ///< shared: accounting cell
    uint32_t bufferPartitions{1};        ///< shared: independent partitions per switch
    std::vector<double> alphas{1.0};     ///< shared: dynamic threshold(s): one, or one per priority
    uint64_t ingressReservedBytes{1248}; ///< shared: per (port, lossless priority)
    uint64_t xoffBytes{0};               ///< shared: static XOFF, 0 = dynamic (xoff_alpha)
    uint64_t sharedHeadroomBytes{0};     ///< shared: shared headroom pool, 0 = per PG
    double losslessPoolFraction{0.5};    ///< shared: lossless share of the pools
    uint64_t egressReservedBytes{0};
    uint8_t losslessMask{0};    ///< shared: lossless priorities (PFC), bit per priority
    uint64_t headroomBytes{0};  ///< shared: per (port, lossless priority); 0 = sized per port
    double xoffAlpha{0.125};    ///< shared: dynamic XOFF of the lossless pool
    uint64_t xonOffsetBytes{0}; ///< shared: XON = XOFF - offset
    uint32_t pfcQuanta{65535};  ///< PFC pause time per frame, 512-bit quanta
    int64_t pfcWatchdogPs{0};   ///< PFC storm detection time (0 = off)
    std::string pfcWatchdogAction{"report"};
    int64_t pfcRestorePs{0};               ///< "ignore": how long pauses are ignored after a storm
    std::string egressScheduler{"strict"}; ///< egress scheduling across priorities
    std::string dwrrWeights;               ///< "w0,...,w7"
    uint8_t strictMask{0xc0};              ///< dwrr: priorities served strictly above the rest
    uint64_t maxLinkRateBps{0};            ///< fastest switch link (headroom sizing default)
    int64_t maxLinkDelayPs{0};             ///< longest switch link delay (headroom sizing default)
    bool ecn{false};                       ///< shared: RED marking at dequeue
    uint64_t ecnKminBytes{0};
    uint64_t ecnKmaxBytes{0};
    double ecnPmax{0};
    uint32_t deviceMtu{9000};
    uint64_t nicRxDrainBps{0};       ///< nic.rx.drain_rate; 0 = frames delivered as they arrive
    uint64_t nicRxBufferBytes{0};    ///< nic.rx.buffer
    uint64_t nicRxXoffBytes{0};      ///< nic.rx.xoff; 0 = buffer minus the link's headroom
    uint64_t nicRxXonBytes{0};       ///< nic.rx.xon; 0 = XOFF minus two frames
    std::vector<uint32_t> nicRxGpus; ///< GPUs with the receive model; empty = all

    std::string transportType; ///< "rdma" | "ideal" | "tcp"
    uint32_t mtu{4096};
    uint32_t ackInterval{1};
    std::string recovery; ///< "selective-repeat" | "go-back-n"
    uint32_t reorderThreshold{3};
    int64_t rtoPs{0};
    int64_t rtoLowPs{0};
    uint32_t rtoLowPackets{3};
    uint32_t controlPriority{6};
    std::vector<uint8_t> classPriority; ///< 8 entries

    std::string ccType{"none"}; ///< transport.cc.type: "none" | "dcqcn" | "hpcc" | "swift"
    bool bdpFlowControl{false}; ///< transport.bdp_fc: IRN's cap of a BDP in flight per QP

    /// transport.cc of type "dcqcn" (see DcqcnCongestionControl)
    struct Dcqcn
    {
        double g{1.0 / 256};
        double initialAlpha{1.0};
        int64_t alphaIntervalPs{0};
        int64_t rateDecreaseIntervalPs{0};
        int64_t rateIncreaseIntervalPs{0};
        uint64_t byteCounter{0};
        uint32_t fastRecoverySteps{5};
        uint64_t rateAiBps{0};
        uint64_t rateHaiBps{0};
        uint64_t minRateBps{0};
        int64_t cnpIntervalPs{0};
    } dcqcn;

    /// transport.cc.* when the type is "hpcc".
    struct Hpcc
    {
        double eta{0.95};
        uint32_t maxStage{5};
        uint64_t windowAi{0};
        int64_t baseRttPs{0};
        uint64_t minRateBps{0};
        bool fastReact{true};
    } hpcc;

    /// transport.cc.* when the type is "swift" (see SwiftCongestionControl).
    struct Swift
    {
        int64_t baseTargetPs{25000000};
        int64_t perHopPs{0};
        int64_t fsRangePs{0};
        double fsMinCwnd{0.1};
        double fsMaxCwnd{100};
        double ai{1.0};
        double beta{0.8};
        double maxMdf{0.5};
        double minCwnd{0.001};
        double maxCwnd{0};
        double initCwnd{0};
        uint32_t retxResetThreshold{5};
    } swift;

    /// transport of type "tcp" (see TcpTransport); transport.mtu is the segment size
    struct Tcp
    {
        std::string variant{"dctcp"};
        bool ecn{true};
        int64_t minRtoPs{0};
        uint32_t initialCwnd{10};
        uint64_t sendBufferBytes{0};
        uint64_t recvBufferBytes{0};
        uint32_t delayedAckCount{2};
        int64_t delayedAckTimeoutPs{0};
        double dctcpG{0.0625};
    } tcp;

    bool moe{false};         ///< workload.type "moe" (else the all-to-all of traffic.*)
    MoeWorkloadSpec moeSpec; ///< workload.* when moe
    MoeWorkloadOptions moeOptions;

    uint32_t rounds{1};
    uint64_t bytesPerPair{0};
    std::vector<std::vector<uint64_t>> matrix; ///< empty = uniform bytesPerPair
    std::vector<uint32_t> peerOffsets;         ///< traffic.peers (shift pattern); empty = none
    std::vector<uint32_t> participants;
    int64_t computeGapPs{0};
    uint8_t trafficClass{0};

    bool messagesCsv{true};
    bool layerPhasesCsv{true};
    int64_t sampleIntervalPs{0}; ///< queue and buffer occupancy samples (0 = off)
    bool pfcEventsCsv{false};    ///< log every PFC frame sent and received
    bool qpRatesCsv{false};      ///< log every congestion-control rate change
    std::string pcap;            ///< "none" | "hosts" | "all"

    int64_t stopTimePs{0};
    int64_t noProgressPs{0}; ///< stop with a diagnosis after this long without progress
    std::string scheduler;   ///< "map" | "heap" | "calendar" | "list" | "moe-heap"
};

/**
 * @brief Parse and validate a scenario document. Throws ConfigError naming the JSON path and
 * the accepted values for the first problem found. @p effective receives the effective
 * configuration: every key with the value used (defaults filled in, units normalized).
 */
ScenarioSettings ParseScenario(const Json& config, Json& effective);

/**
 * @brief Builds, runs and reports a scenario.
 *
 * @code
 *   Scenario sc(LoadJsonFile("fat-tree-k4.json")); // throws ConfigError
 *   sc.Build("out");
 *   sc.Run();
 *   sc.WriteOutputs("out");
 * @endcode
 */
class Scenario
{
  public:
    /// @brief Parse and validate @p config (see ParseScenario); throws ConfigError.
    explicit Scenario(const Json& config);
    ~Scenario();

    /**
     * @brief Create the topology, transport and traffic, and the PCAP writers if the scenario
     * asks for them and @p outputDir is given (a dry run passes "" and writes nothing).
     */
    void Build(const std::string& outputDir = "");
    /// @brief Run until the traffic is done or the stop time; true if every message completed.
    bool Run();

    /// @brief Topology and traffic summary without simulating (needs Build()).
    std::string DescribeDryRun() const;
    /// @brief summary.json content (needs Run()).
    Json MakeSummary() const;
    /// @brief Short human-readable summary of a finished run.
    std::string HumanSummary() const;
    /// @brief Write summary.json, messages.csv (if enabled) and effective_config.json.
    void WriteOutputs(const std::string& dir) const;

    /**
     * @brief Report progress on @p out (stderr for the CLI) while Run() simulates: a line every
     * @p everyWallSeconds of wall time (the first after that long, so short runs print
     * nothing) with simulated time, wall time, events per second, the share of the work done
     * and an estimated remaining wall time when the total is known (all-to-all bytes, MoE units
     * of a fixed-iteration run). nullptr (the default) reports nothing.
     */
    void SetProgressOutput(std::ostream* out, double everyWallSeconds = 2.0);

    /// @brief Why Run() returned: "complete", "stop_time" or "no_progress".
    const std::string& GetStopReason() const;

    /// @brief A PFC frame was sent (@p sent) or received on (@p node, @p port): a row of
    /// pfc_events.csv (with output.pfc_events_csv).
    void OnPfcEvent(uint32_t node, uint32_t port, bool sent, uint8_t priority, uint16_t quanta);
    /// @brief Congestion control set QP @p qpn of @p host to @p rateBps (0 = line rate): a row
    /// of qp_rates.csv (with output.qp_rates_csv).
    void OnQpRate(uint32_t host, uint32_t qpn, uint64_t rateBps, uint8_t event);

    /// @brief "fnv1a64:<16 hex digits>" of the canonical effective config.
    std::string GetConfigHash() const;
    /// @brief How the run was launched, recorded as manifest.invocation (e.g. the program's
    /// config file, --rerun source and overrides). Not part of the configuration or its hash.
    void SetInvocation(const Json& invocation);
    /**
     * @brief The files the configuration makes the run read (routing and request traces), as
     * recorded in manifest.inputs: per file its JSON key, the path as given, its absolute path,
     * its size and content hash (HashInputFile).
     */
    Json DescribeInputs() const;
    const Json& GetEffectiveConfig() const;
    const ScenarioSettings& GetSettings() const;
    Ptr<FabricTopology> GetTopology() const;
    Ptr<MessageTransport> GetTransport() const;
    Ptr<AllToAllTraffic> GetTraffic() const;
    /// @brief The MoE workload (null for an all-to-all scenario) and its ideal-transport twin
    /// (null unless workload.fabric_tax).
    Ptr<MoeWorkload> GetMoeWorkload() const;
    Ptr<MoeWorkload> GetIdealTwin() const;
    /// @brief The serving loop driving the workload (null unless workload.serving).
    Ptr<ServingLoop> GetServingLoop() const;

    /// @brief Lower bound of round @p round's completion (see the round section of summary.json).
    Time GetRoundBound() const;

  private:
    void ComputeBound();
    void OnTrafficDone();
    /// Stop the simulation once no frame is queued, on the wire or buffered at a receiver.
    void StopWhenIdle();
    void OnMoeDone();
    int64_t ProgressCheckInterval() const;
    /// Periodic check: stop with a diagnosis when nothing moved for simulation.no_progress_timeout.
    void CheckProgress();
    /// Counter that grows whenever anything happens: frames sent, messages delivered, kernels.
    uint64_t ProgressCounter() const;
    Json MakeDiagnosis() const;
    /// The feedback admission's congestion probe: the configured signal over the watched ports
    /// (their number in @p watchedPorts).
    std::function<double()> MakeFeedbackProbe(const ServingSpec& serving, uint32_t& watchedPorts);
    Json MakeMoeSummary() const;
    std::string DescribeMoe() const;
    std::string MoeHumanSummary() const;
    std::string LayerPhasesCsv() const;
    /// Record queue and buffer occupancy now, and again after output.sample_interval.
    void Sample();
    /// Progress report: print when due, and come back after a stretch of simulated time sized
    /// to about a tenth of the report interval in wall time.
    void ProgressTick();
    /// Share of the run's work done, or a negative value if the total is not known.
    double ProgressFraction() const;

    ScenarioSettings m_settings;
    Json m_effective;
    Ptr<FabricTopology> m_topology;
    Ptr<MessageTransport> m_transport;
    Ptr<AllToAllTraffic> m_traffic;
    Ptr<MoeWorkload> m_moe;
    Ptr<MoeWorkload> m_twin;
    Ptr<ServingLoop> m_serving;
    Ptr<MessageTransport> m_twinTransport;
    Time m_bound;
    uint64_t m_maxInterfaceWireBytes{0};
    uint64_t m_roundMessages{0}; ///< messages an all-to-all round posts (ComputeBound)
    uint64_t m_roundBytes{0};    ///< and their payload bytes
    Time m_maxPathLatency;
    Json m_invocation; ///< manifest.invocation (SetInvocation), null if not set
    double m_wallSeconds{0};
    uint64_t m_events{0};
    Time m_endTime;
    bool m_complete{false};
    std::ostringstream m_queueSamples;  ///< queue_samples.csv rows
    std::ostringstream m_bufferSamples; ///< buffer_samples.csv rows
    std::ostringstream m_pfcEvents;     ///< pfc_events.csv rows
    std::ostringstream m_qpRates;       ///< qp_rates.csv rows
    std::string m_stopReason{"stop_time"};
    uint64_t m_lastProgress{0};
    Time m_lastProgressTime;
    uint32_t m_idleChecks{0}; ///< StopWhenIdle checks so far
    bool m_built{false};
    bool m_ran{false};
    std::ostream* m_progressOut{nullptr};
    double m_progressEvery{2.0};
    std::chrono::steady_clock::time_point m_runStart;
    std::chrono::steady_clock::time_point m_lastTick;
    double m_lastReportWall{0};
    int64_t m_progressStepPs{1000000};
    uint64_t m_unitsDone{0};
    uint64_t m_unitsTotal{0};
    uint64_t m_progressTicks{0}; ///< executed ProgressTick events (not counted in sim.events)
};

/// @brief Exact decimal seconds of @p t (picosecond precision, no rounding): "0.000012345678".
std::string FormatSeconds(Time t);

/// @brief count, mean_s, min_s, p50_s, p90_s, p99_s and max_s (nearest rank) of durations in ps
/// (only count when empty): the distributions of summary.json.
Json DistributionJson(std::vector<int64_t> ps);

/// @brief This build's moe-fabric version and git revision (as summary.json's manifest).
std::string GetModuleVersion();
std::string GetModuleGitRevision();

/**
 * @brief The scenario configuration recorded in a run's output: @p path is a summary.json (its
 * manifest.config), an effective_config.json, or an output directory holding either. Throws
 * ConfigError naming the file if none can be read. @p manifest receives summary.json's manifest
 * (an empty object for an effective_config.json).
 */
Json LoadRecordedConfig(const std::string& path, Json& manifest);

/// @brief Peak resident set size of this process in MB (10^6 bytes).
double PeakRssMb();

/**
 * @brief "fnv1a64:<16 hex digits>" of the contents of the file at @p path, and its size in
 * @p bytes; "" if it cannot be read (or is a directory).
 */
std::string HashInputFile(const std::string& path, uint64_t& bytes);

/// @brief "fnv1a64:<16 hex digits>" of @p config as serialized (what manifest.config_hash is of
/// manifest.config).
std::string HashConfig(const Json& config);

} // namespace moe
} // namespace ns3

#endif // MOE_SCENARIO_H
