/*
 * moe-fabric: what an MoE model is, as far as the fabric and the GPUs are concerned.
 */
#ifndef MOE_MODEL_SPEC_H
#define MOE_MODEL_SPEC_H

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{
namespace moe
{

/**
 * @brief Shape of an MoE transformer and the byte sizes of its expert-parallel traffic.
 *
 * Presets (GetModelPreset) carry published numbers; every field can be overridden from the
 * scenario's workload.model_overrides section. Sources are cited in doc/moe-fabric.rst.
 */
struct MoeModelSpec
{
    std::string name;
    uint32_t hidden{0};          ///< model (residual stream) width
    uint32_t routedExperts{0};   ///< routed experts per MoE layer
    uint32_t sharedExperts{0};   ///< shared experts per MoE layer (every token)
    uint32_t topK{0};            ///< routed experts per token
    uint32_t expertFfn{0};       ///< intermediate size of one routed expert (SwiGLU: 3 matrices)
    uint32_t sharedExpertFfn{0}; ///< intermediate size of one shared expert
    uint32_t denseFfn{0};        ///< intermediate size of a dense layer's FFN
    uint32_t layers{0};          ///< transformer layers in the whole model
    uint32_t moeLayers{0};       ///< of which MoE (the first layers - moeLayers are dense)
    uint32_t numGroups{0};       ///< expert groups for group-limited routing (0 = none)
    uint32_t topKGroups{0};      ///< groups a token may use (0 = no limit)

    uint64_t attentionParams{0}; ///< attention weights per layer (elements)
    uint32_t attentionDim{0};    ///< width of the score/value products (heads x head dim)
    uint32_t kvBytesPerToken{0}; ///< KV-cache bytes per token per layer (read by decode)

    double weightBytesPerElement{2.0};   ///< bytes per weight element read from HBM
    double computeBytesPerElement{2.0};  ///< activation element size inside GEMMs (1 = FP8)
    double dispatchBytesPerElement{1.0}; ///< dispatch payload per hidden element (FP8 = 1)
    uint32_t dispatchScaleBlock{128};    ///< one 4-byte scale per this many elements (0 = none)
    double combineBytesPerElement{2.0};  ///< combine payload per hidden element (BF16 = 2)
    /// Routing metadata carried with each dispatched token copy; -1 = topK x 8 bytes
    /// (an int32 expert index and an FP32 weight per routed expert).
    int64_t metadataBytesPerToken{-1};
    /// Expert capacity factor: an expert takes at most ceil(cf * tokens * topK / experts)
    /// tokens per source batch; extra tokens are dropped (0 = unlimited, no dropping).
    double capacityFactor{0.0};

    /// @brief Bytes of one token's dispatch copy: payload + scales + metadata.
    uint64_t DispatchBytesPerToken() const;
    /// @brief Bytes of one token's combine result.
    uint64_t CombineBytesPerToken() const;
    /// @brief Bytes of one token's gradient in the backward pass (combine element size).
    uint64_t GradientBytesPerToken() const;
    /// @brief Index of the first MoE layer (dense layers come first).
    uint32_t FirstMoeLayer() const;
    /// @brief Empty if consistent, else "<field>: <problem>" for the first problem.
    std::string Validate() const;
};

/// @brief Names of the model presets ("deepseek-v3", "mixtral-8x7b", "qwen3-235b-a22b", "dbrx").
std::vector<std::string> ModelPresetNames();
/// @brief The preset @p name; throws std::invalid_argument listing the accepted names.
MoeModelSpec GetModelPreset(const std::string& name);

} // namespace moe
} // namespace ns3

#endif // MOE_MODEL_SPEC_H
