/*
 * moe-fabric: what a serving run reports -- the serving section of summary.json, requests.csv.
 */
#ifndef MOE_SERVING_REPORT_H
#define MOE_SERVING_REPORT_H

#include "moe-config-reader.h"

#include "ns3/serving-loop.h"

#include <string>

namespace ns3
{
namespace moe
{

/// @brief The "serving" section of summary.json (traces/output-schema.md).
Json MakeServingSummary(const ServingLoop& loop);
/// @brief requests.csv: one row per request (traces/output-schema.md).
std::string ServingRequestsCsv(const ServingLoop& loop);
/// @brief A few lines for the human summary.
std::string ServingHumanSummary(const ServingLoop& loop);

/// @brief TPOT of a finished request in ps: (finish - first token) / (output tokens - 1); -1 for
/// single-token outputs and unfinished requests.
int64_t RequestTpotPs(const ServingRequestRecord& r);
/// @brief Whether a finished request met its class's TTFT and TPOT targets.
bool RequestMeetsSlo(const ServingRequestRecord& r, const ServingClassSpec& cls);

} // namespace moe
} // namespace ns3

#endif // MOE_SERVING_REPORT_H
