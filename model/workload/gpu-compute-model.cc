/*
 * moe-fabric: GPU presets and the per-kernel roofline.
 *
 * GPU preset sources (dense numbers, i.e. the datasheets' "with sparsity" figures halved):
 *  - H100 SXM5: NVIDIA H100 Tensor Core GPU datasheet -- BF16 1,979 TFLOP/s and FP8 3,958
 *    TFLOP/s with sparsity (989 / 1,979 dense), HBM3 3.35 TB/s, NVLink 900 GB/s.
 *  - H800 SXM5: NVIDIA H800 Tensor Core GPU datasheet -- the same Hopper die, tensor rates and
 *    HBM3 as the H100 SXM5; NVLink cut to 400 GB/s (FP64 also cut). Only the NVLink difference
 *    matters to the fabric, and it is a topology parameter, not part of GpuSpec.
 *  - B200 (HGX B200, 1,000 W): NVIDIA HGX B200 / DGX B200 datasheets -- FP8 9 PFLOP/s and
 *    BF16 4.5 PFLOP/s with sparsity (4.5 / 2.25 dense), HBM3e 8 TB/s, NVLink 5 1.8 TB/s.
 *
 * Default efficiencies (GpuSpec): 0.6 of peak FLOP/s -- DeepGEMM (github.com/deepseek-ai/DeepGEMM,
 * README of 2025-02) measures 1,093-1,297 FP8 TFLOP/s for DeepSeek-V3's grouped expert GEMMs on
 * H800, 55-66 % of 1,979; 0.8 of HBM bandwidth -- its weight-read-bound small-M GEMMs reach
 * 1.5-2.7 TB/s, 45-80 % of 3.35 TB/s; 5 us per kernel for launch and tail.
 */
#include "gpu-compute-model.h"

#include "ns3/abort.h"
#include "ns3/log.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("GpuComputeModel");

namespace
{

GpuSpec
MakeGpu(const std::string& name, double bf16, double fp8, double hbm)
{
    GpuSpec g;
    g.name = name;
    g.peakFlopsBf16 = bf16;
    g.peakFlopsFp8 = fp8;
    g.hbmBytesPerSec = hbm;
    return g;
}

/**
 * A SwiGLU (GLU) FFN of width @p ffn over @p tokens tokens: gate and up projections
 * (hidden x ffn each) and the down projection (ffn x hidden) -- 3 GEMMs of 2 x hidden x ffn
 * FLOPs per token. HBM traffic: the 3 weight matrices once; per token the input row read, the
 * output row written, and the ffn-wide intermediate written and read back once (the gate and
 * up outputs are combined in the epilogue, so one intermediate of width ffn crosses HBM).
 */
KernelCost
GluFfn(uint64_t tokens, uint64_t ffn, const MoeModelSpec& m)
{
    KernelCost c;
    if (tokens == 0 || ffn == 0)
    {
        return c;
    }
    const double n = static_cast<double>(tokens);
    const double h = static_cast<double>(m.hidden);
    const double f = static_cast<double>(ffn);
    c.flops = 2.0 * n * 3.0 * h * f;
    c.bytes =
        3.0 * h * f * m.weightBytesPerElement + n * (2.0 * h + 2.0 * f) * m.computeBytesPerElement;
    return c;
}

} // namespace

std::vector<std::string>
GpuPresetNames()
{
    return {"h100", "h800", "b200"};
}

GpuSpec
GetGpuPreset(const std::string& name)
{
    NS_LOG_FUNCTION(name);
    if (name == "h100")
    {
        return MakeGpu("h100", 989e12, 1979e12, 3.35e12);
    }
    if (name == "h800")
    {
        return MakeGpu("h800", 989e12, 1979e12, 3.35e12);
    }
    if (name == "b200")
    {
        return MakeGpu("b200", 2.25e15, 4.5e15, 8e12);
    }
    std::ostringstream os;
    os << "unknown GPU preset '" << name << "'; accepted: ";
    const std::vector<std::string> names = GpuPresetNames();
    for (size_t i = 0; i < names.size(); ++i)
    {
        os << (i ? ", " : "") << names[i];
    }
    throw std::invalid_argument(os.str());
}

GpuComputeModel::GpuComputeModel(const GpuSpec& gpu, const MoeModelSpec& model)
    : m_gpu(gpu),
      m_model(model)
{
    NS_LOG_FUNCTION(this << gpu.name << model.name);
    NS_ABORT_MSG_UNLESS(gpu.peakFlopsBf16 > 0 && gpu.peakFlopsFp8 >= 0 && gpu.hbmBytesPerSec > 0,
                        "GPU '" << gpu.name << "': peak FLOP/s and HBM bandwidth must be > 0");
    NS_ABORT_MSG_UNLESS(gpu.efficiency > 0 && gpu.efficiency <= 1 && gpu.memEfficiency > 0 &&
                            gpu.memEfficiency <= 1,
                        "GPU '" << gpu.name << "': efficiency and memEfficiency must be in (0, 1]");
    NS_ABORT_MSG_UNLESS(gpu.launchOverheadPs >= 0,
                        "GPU '" << gpu.name << "': launch overhead must be >= 0");
}

const GpuSpec&
GpuComputeModel::GetGpu() const
{
    return m_gpu;
}

const MoeModelSpec&
GpuComputeModel::GetModel() const
{
    return m_model;
}

double
GpuComputeModel::EffectiveFlops() const
{
    // FP8 GEMMs only when activations are 1 byte and the GPU has FP8 tensor cores.
    const bool fp8 = m_model.computeBytesPerElement == 1.0 && m_gpu.peakFlopsFp8 > 0;
    return (fp8 ? m_gpu.peakFlopsFp8 : m_gpu.peakFlopsBf16) * m_gpu.efficiency;
}

double
GpuComputeModel::EffectiveBandwidth() const
{
    return m_gpu.hbmBytesPerSec * m_gpu.memEfficiency;
}

Time
GpuComputeModel::KernelTime(const KernelCost& cost, double share) const
{
    if (cost.flops <= 0 && cost.bytes <= 0)
    {
        return Time(0); // nothing to do: no kernel is launched
    }
    NS_ABORT_MSG_UNLESS(share > 0 && share <= 1, "kernel share " << share << " not in (0, 1]");
    const double flopRate = EffectiveFlops() * share;
    const double byteRate = EffectiveBandwidth() * share;
    NS_ABORT_MSG_UNLESS(flopRate > 0 && byteRate > 0,
                        "GpuComputeModel used without a GPU (zero FLOP/s or bandwidth)");
    const double computePs = cost.flops > 0 ? cost.flops / flopRate * 1e12 : 0.0;
    const double memoryPs = cost.bytes > 0 ? cost.bytes / byteRate * 1e12 : 0.0;
    const int64_t busyPs = std::llround(std::max(computePs, memoryPs));
    NS_LOG_LOGIC("flops " << cost.flops << " bytes " << cost.bytes << " compute " << computePs
                          << " ps, memory " << memoryPs << " ps");
    // PicoSeconds() is exact only at picosecond resolution, which the fabric sets
    // (FabricHelper::EnsurePicosecondResolution); at coarser resolutions it rounds.
    return PicoSeconds(m_gpu.launchOverheadPs + busyPs);
}

KernelCost
GpuComputeModel::RoutedExpert(uint64_t tokens) const
{
    return GluFfn(tokens, m_model.expertFfn, m_model);
}

KernelCost
GpuComputeModel::SharedExperts(uint64_t tokens) const
{
    // The shared experts run as one FFN of the combined width.
    return GluFfn(tokens,
                  static_cast<uint64_t>(m_model.sharedExperts) * m_model.sharedExpertFfn,
                  m_model);
}

KernelCost
GpuComputeModel::DenseFfn(uint64_t tokens) const
{
    return GluFfn(tokens, m_model.denseFfn, m_model);
}

KernelCost
GpuComputeModel::Attention(uint64_t tokens, uint64_t context) const
{
    KernelCost c;
    if (tokens == 0)
    {
        return c;
    }
    const double n = static_cast<double>(tokens);
    const double ctx = static_cast<double>(context);
    const double params = static_cast<double>(m_model.attentionParams);
    c.flops = 2.0 * params * n + 4.0 * n * ctx * static_cast<double>(m_model.attentionDim);
    c.bytes = params * m_model.weightBytesPerElement +
              n * ctx * static_cast<double>(m_model.kvBytesPerToken) +
              2.0 * n * static_cast<double>(m_model.hidden) * m_model.computeBytesPerElement;
    return c;
}

KernelCost
GpuComputeModel::AttentionBatch(const std::vector<uint64_t>& tokens,
                                const std::vector<uint64_t>& context) const
{
    KernelCost c;
    const double params = static_cast<double>(m_model.attentionParams);
    for (size_t r = 0; r < tokens.size() && r < context.size(); ++r)
    {
        if (tokens[r] == 0)
        {
            continue;
        }
        const double n = static_cast<double>(tokens[r]);
        const double ctx = static_cast<double>(context[r]);
        if (c.bytes == 0)
        {
            c.bytes = params * m_model.weightBytesPerElement;
        }
        c.flops += 2.0 * params * n + 4.0 * n * ctx * static_cast<double>(m_model.attentionDim);
        c.bytes += ctx * static_cast<double>(m_model.kvBytesPerToken) +
                   2.0 * n * static_cast<double>(m_model.hidden) * m_model.computeBytesPerElement;
    }
    return c;
}

} // namespace moe
} // namespace ns3
