/*
 * moe-fabric: how long a GPU takes for a piece of MoE work -- a roofline per kernel.
 */
#ifndef MOE_GPU_COMPUTE_MODEL_H
#define MOE_GPU_COMPUTE_MODEL_H

#include "moe-model-spec.h"

#include "ns3/nstime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Peak rates of one GPU (presets cite the vendor datasheets in doc/moe-fabric.rst).
 */
struct GpuSpec
{
    std::string name;
    double peakFlopsBf16{0};           ///< dense BF16 tensor FLOP/s
    double peakFlopsFp8{0};            ///< dense FP8 tensor FLOP/s
    double hbmBytesPerSec{0};          ///< HBM bandwidth, bytes/s
    double efficiency{0.6};            ///< fraction of peak FLOP/s a real GEMM reaches (0..1]
    double memEfficiency{0.8};         ///< fraction of HBM bandwidth reached (0..1]
    int64_t launchOverheadPs{5000000}; ///< fixed cost per kernel (launch + tail), ps
};

/// @brief Names of the GPU presets ("h100", "h800", "b200").
std::vector<std::string> GpuPresetNames();
/// @brief The preset @p name; throws std::invalid_argument listing the accepted names.
GpuSpec GetGpuPreset(const std::string& name);

/// @brief Work of one kernel: floating-point operations and bytes moved to/from HBM.
struct KernelCost
{
    double flops{0};
    double bytes{0};
};

/**
 * @brief Roofline: time = launch overhead + max(FLOPs / (peak x efficiency),
 * bytes / (HBM bandwidth x memEfficiency)). Small expert batches are bound by weight reads,
 * large ones by math.
 *
 * The FLOP rate is FP8's when the model's computeBytesPerElement is 1, else BF16's.
 */
class GpuComputeModel
{
  public:
    GpuComputeModel() = default;
    GpuComputeModel(const GpuSpec& gpu, const MoeModelSpec& model);

    const GpuSpec& GetGpu() const;
    const MoeModelSpec& GetModel() const;

    /// @brief Time of a kernel doing @p cost on @p share of the GPU (0 < share <= 1: the fraction
    /// of FLOP/s and HBM bandwidth it gets, e.g. 1/streams); launch overhead is not shared.
    Time KernelTime(const KernelCost& cost, double share = 1.0) const;

    /// @brief One routed expert's forward pass over @p tokens tokens (SwiGLU: 3 GEMMs of
    /// hidden x expertFfn; weights read once, activations in and out). 0 tokens: zero cost.
    KernelCost RoutedExpert(uint64_t tokens) const;
    /// @brief All shared experts over @p tokens tokens.
    KernelCost SharedExperts(uint64_t tokens) const;
    /// @brief A dense layer's FFN over @p tokens tokens.
    KernelCost DenseFfn(uint64_t tokens) const;
    /// @brief Attention over @p tokens new tokens, each attending to @p context tokens
    /// (projections 2 x attentionParams FLOPs per token, scores and values 4 x context x
    /// attentionDim; weights once, KV cache read for the context).
    KernelCost Attention(uint64_t tokens, uint64_t context) const;
    /// @brief One attention kernel over a serving batch: request r brings tokens[r] new tokens
    /// attending to context[r] tokens (FLOPs as Attention per request; weights read once, each
    /// request's KV cache read once, as a fused kernel that tiles the queries does).
    KernelCost AttentionBatch(const std::vector<uint64_t>& tokens,
                              const std::vector<uint64_t>& context) const;

    /// @brief FLOP/s the model's GEMMs run at (peak x efficiency).
    double EffectiveFlops() const;
    /// @brief HBM bytes/s (bandwidth x memEfficiency).
    double EffectiveBandwidth() const;

  private:
    GpuSpec m_gpu;
    MoeModelSpec m_model;
};

} // namespace moe
} // namespace ns3

#endif // MOE_GPU_COMPUTE_MODEL_H
