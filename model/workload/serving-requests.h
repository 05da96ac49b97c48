/*
 * moe-fabric: serving requests -- arrival processes, prompt and output lengths, trace replay.
 */
#ifndef MOE_SERVING_REQUESTS_H
#define MOE_SERVING_REQUESTS_H

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief A token-count distribution: "fixed" (value), "uniform" (integers in [min, max]) or
 * "lognormal" (median x exp(sigma x N(0,1)), rounded, clamped to [min, max]).
 */
struct LengthDistribution
{
    std::string type{"fixed"};
    uint32_t value{128};
    uint32_t min{1};
    uint32_t max{1};
    double median{128};
    double sigma{0.5};
};

/// @brief One tenant / traffic class of a serving workload.
struct ServingClassSpec
{
    std::string name{"default"};
    std::string arrival{"poisson"}; ///< "poisson" | "gamma" (the trace replaces both)
    double rate{100};               ///< requests per second (mean)
    double shape{1};                ///< gamma: shape k (CV of the gaps = 1 / sqrt(k))
    uint32_t requests{0};           ///< arrivals generated (0 = until the horizon)
    LengthDistribution prompt;
    LengthDistribution output;
    int64_t ttftSloPs{0}; ///< a request meets the SLO if TTFT <= this (0 = no TTFT target)
    int64_t tpotSloPs{0}; ///< ... and TPOT <= this (0 = no TPOT target)
};

/// @brief One request, as generated or replayed.
struct ServingRequest
{
    uint32_t id{0};
    uint32_t cls{0}; ///< index into the class list
    int64_t arrivalPs{0};
    uint32_t promptTokens{0};
    uint32_t outputTokens{0};
};

/// @brief A deterministic 64-bit generator (xoshiro256**) with the samplers requests need.
class ServingRng
{
  public:
    explicit ServingRng(uint64_t seed);
    uint64_t Next();
    double Uniform();           ///< in (0, 1)
    double Normal();            ///< standard normal (Box-Muller)
    double Exponential();       ///< mean 1
    double Gamma(double shape); ///< scale 1 (Marsaglia-Tsang)
    uint32_t Length(const LengthDistribution& d);

  private:
    uint64_t m_s[4];
};

/**
 * @brief Generate the arrivals of every class: independent streams per class derived from
 * @p seed, gaps of rate @p rate (Poisson: exponential; gamma: Gamma(shape k, scale 1 / (k rate))),
 * until the class's request count or @p horizonPs (0 = none) is reached. Sorted by arrival, ids
 * in that order.
 */
std::vector<ServingRequest> GenerateRequests(const std::vector<ServingClassSpec>& classes,
                                             int64_t horizonPs,
                                             uint64_t seed);

/**
 * @brief Read a request trace (traces/serving-trace.md): CSV with header
 * arrival_s,class,prompt_tokens,output_tokens; class names must be in @p classes (their index is
 * the request's class). Rows after @p horizonPs (0 = none) are skipped. Throws
 * std::runtime_error "file:line: problem".
 */
std::vector<ServingRequest> ReadRequestTrace(const std::string& path,
                                             const std::vector<ServingClassSpec>& classes,
                                             int64_t horizonPs);

} // namespace moe
} // namespace ns3

#endif // MOE_SERVING_REQUESTS_H
