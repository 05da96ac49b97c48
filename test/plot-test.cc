/*
 * utils/moe-fabric-plot.py turns a run's output directory into its figures.
 */

#include "test-util.h"

#include <fstream>
#include <gtest/gtest.h>

namespace
{
/// A python3 that can import matplotlib: Debian's first (another python3 may come first on
/// PATH), then whatever PATH finds; "" if neither can.
std::string
PythonWithMatplotlib()
{
    for (const std::string py : {"/usr/bin/python3", "python3"})
    {
        if (moe_test::RunCommand(py + " -c 'import matplotlib'").exitCode == 0)
        {
            return py;
        }
    }
    return "";
}

long
FileSize(const std::string& path)
{
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    return f ? static_cast<long>(f.tellg()) : -1;
}
} // namespace

TEST(Plot, EveryFigureOfAnMoeRunWithSamplesIsWritten)
{
    if (moe_test::SimBinary().empty())
    {
        GTEST_SKIP() << "moe-fabric-sim was not built";
    }
    const std::string py = PythonWithMatplotlib();
    if (py.empty())
    {
        GTEST_SKIP() << "no python3 with matplotlib (apt-get install python3-matplotlib)";
    }
    // A small MoE step on a lossless fabric with queue samples and the PFC log: every input
    // of every figure exists.
    const std::string run = moe_test::MakeTempDir("plot-run");
    const auto sim = moe_test::RunCommand(
        moe_test::SimBinary() + " --config=" +
        moe_test::SourcePath("examples/configs/moe-deepseek-v3-low-latency-decode.json") +
        " --set=switch.buffer.type=shared --set=switch.buffer.lossless_priorities=[0]"
        " --set=output.sample_interval=10us --set=output.pfc_events_csv=true"
        " --set=output.messages_csv=true --quiet --out=" +
        run);
    ASSERT_EQ(sim.exitCode, 0) << sim.output;
    const auto plot = moe_test::RunCommand(
        py + " " + moe_test::SourcePath("utils/moe-fabric-plot.py") + " " + run);
    ASSERT_EQ(plot.exitCode, 0) << plot.output;
    for (const std::string name : {"layer-timeline.png",
                                   "time-cdfs.png",
                                   "queues-over-time.png",
                                   "load-heatmaps.png",
                                   "link-utilization.png"})
    {
        const std::string path = run + "/figures/" + name;
        EXPECT_NE(plot.output.find(path), std::string::npos) << plot.output;
        EXPECT_GT(FileSize(path), 10000) << path << " is missing or nearly empty";
    }
    // A directory that is not a run's output is a clear error, exit 2.
    const auto bad =
        moe_test::RunCommand(py + " " + moe_test::SourcePath("utils/moe-fabric-plot.py") + " " +
                             moe_test::MakeTempDir("plot-empty"));
    EXPECT_EQ(bad.exitCode, 2) << bad.output;
    EXPECT_NE(bad.output.find("summary.json does not exist"), std::string::npos) << bad.output;
}
