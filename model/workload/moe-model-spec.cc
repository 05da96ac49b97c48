/*
 * moe-fabric: MoE model shapes, their traffic byte sizes, validation and published presets.
 *
 * Preset sources (numbers copied from them unless marked "derived"):
 *  - DeepSeek-V3: DeepSeek-AI, "DeepSeek-V3 Technical Report", arXiv:2412.19437 (sections 2.1,
 *    3.3, 4.2), and config.json of huggingface.co/deepseek-ai/DeepSeek-V3.
 *  - Mixtral 8x7B: Jiang et al., "Mixtral of Experts", arXiv:2401.04088 (Table 1), and
 *    config.json of huggingface.co/mistralai/Mixtral-8x7B-v0.1.
 *  - Qwen3-235B-A22B: Qwen Team, "Qwen3 Technical Report", arXiv:2505.09388 (Table 2), and
 *    config.json of huggingface.co/Qwen/Qwen3-235B-A22B.
 *  - DBRX: Databricks, "Introducing DBRX: A New State-of-the-Art Open LLM" (2024-03-27), and
 *    config.json of huggingface.co/databricks/dbrx-base.
 */
#include "moe-model-spec.h"

#include "ns3/log.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace ns3
{
namespace moe
{

NS_LOG_COMPONENT_DEFINE("MoeModelSpec");

namespace
{

/// Bytes of one block scale (FP32) in block-quantized FP8 payloads.
constexpr uint64_t SCALE_BYTES = 4;
/// Default routing metadata per routed expert: an int32 expert index and an FP32 weight.
constexpr uint64_t METADATA_BYTES_PER_EXPERT = 8;

/// ceil(@p elements x @p bytesPerElement) as whole bytes.
uint64_t
WholeBytes(uint64_t elements, double bytesPerElement)
{
    return static_cast<uint64_t>(std::ceil(static_cast<double>(elements) * bytesPerElement));
}

/// "model.<key>: must be > 0 (got <value>)" for element sizes; NaN fails too.
std::string
PositiveOrError(const char* key, double value)
{
    if (value > 0 && std::isfinite(value))
    {
        return "";
    }
    std::ostringstream os;
    os << "model." << key << ": must be a positive number (got " << value << ")";
    return os.str();
}

MoeModelSpec
DeepSeekV3()
{
    MoeModelSpec m;
    m.name = "deepseek-v3";
    m.hidden = 7168;          // hidden_size
    m.routedExperts = 256;    // n_routed_experts
    m.sharedExperts = 1;      // n_shared_experts
    m.topK = 8;               // num_experts_per_tok
    m.expertFfn = 2048;       // moe_intermediate_size
    m.sharedExpertFfn = 2048; // shared expert = n_shared_experts x moe_intermediate_size
    m.denseFfn = 18432;       // intermediate_size (the first 3 layers)
    m.layers = 61;            // num_hidden_layers (MTP module not counted)
    m.moeLayers = 58;         // 61 - first_k_dense_replace (3)
    m.numGroups = 8;          // n_group: 8 groups of 32 experts, one group per node
    m.topKGroups = 4;         // topk_group: a token reaches at most 4 nodes
    // MLA projections, derived from q_lora_rank 1536, kv_lora_rank 512, 128 heads,
    // qk_nope_head_dim 128, qk_rope_head_dim 64, v_head_dim 128:
    //   q_a  7168 x 1536                =  11,010,048
    //   q_b  1536 x (128 x 192)         =  37,748,736
    //   kv_a 7168 x (512 + 64)          =   4,128,768
    //   kv_b 512 x (128 x (128 + 128))  =  16,777,216
    //   o    (128 x 128) x 7168         = 117,440,512
    //   total                             187,105,280
    m.attentionParams = 187105280ULL;
    // Derived: QK^T has 128 x 192 = 24576 columns, PV 128 x 128 = 16384; 4 x ctx x dim must
    // equal 2 x ctx x (24576 + 16384), so dim = 20480 (non-absorbed MLA, as in prefill).
    m.attentionDim = 20480;
    // Derived: the MLA cache holds the compressed latent (512) and the shared RoPE key (64),
    // in BF16: (512 + 64) x 2 = 1152 bytes per token per layer.
    m.kvBytesPerToken = 1152;
    // FP8 framework (report section 3.3): FP8 weights and GEMM inputs, dispatch in FP8 with
    // one scale per 1x128 tile, combine in BF16.
    m.weightBytesPerElement = 1.0;
    m.computeBytesPerElement = 1.0;
    m.dispatchBytesPerElement = 1.0;
    m.dispatchScaleBlock = 128;
    m.combineBytesPerElement = 2.0;
    m.metadataBytesPerToken = -1;
    m.capacityFactor = 0.0; // DeepSeek-V3 drops no tokens (report section 2.1.2)
    return m;
}

MoeModelSpec
Mixtral8x7b()
{
    MoeModelSpec m;
    m.name = "mixtral-8x7b";
    m.hidden = 4096;
    m.routedExperts = 8;
    m.sharedExperts = 0;
    m.topK = 2;
    m.expertFfn = 14336;
    m.sharedExpertFfn = 0;
    m.denseFfn = 0; // every layer is MoE
    m.layers = 32;
    m.moeLayers = 32;
    m.numGroups = 0;
    m.topKGroups = 0;
    // GQA, 32 query heads / 8 KV heads of 128: q and o 4096 x 4096, k and v 4096 x 1024.
    m.attentionParams = 4096ULL * 4096 * 2 + 4096ULL * 1024 * 2; // 41,943,040
    m.attentionDim = 32 * 128;                                   // 4096
    m.kvBytesPerToken = 2 * 8 * 128 * 2;                         // K and V, 8 heads, BF16
    m.weightBytesPerElement = 2.0;
    m.computeBytesPerElement = 2.0;
    m.dispatchBytesPerElement = 2.0;
    m.dispatchScaleBlock = 0;
    m.combineBytesPerElement = 2.0;
    m.metadataBytesPerToken = -1;
    m.capacityFactor = 0.0;
    return m;
}

MoeModelSpec
Qwen3_235bA22b()
{
    MoeModelSpec m;
    m.name = "qwen3-235b-a22b";
    m.hidden = 4096;
    m.routedExperts = 128;
    m.sharedExperts = 0;
    m.topK = 8;
    m.expertFfn = 1536; // moe_intermediate_size
    m.sharedExpertFfn = 0;
    m.denseFfn = 0; // every layer is MoE (mlp_only_layers is empty)
    m.layers = 94;
    m.moeLayers = 94;
    m.numGroups = 0;
    m.topKGroups = 0;
    // GQA, 64 query heads / 4 KV heads of 128 (wider than hidden): q 4096 x 8192,
    // k and v 4096 x 512 each, o 8192 x 4096.
    m.attentionParams = 4096ULL * 8192 + 4096ULL * 512 * 2 + 8192ULL * 4096; // 71,303,168
    m.attentionDim = 64 * 128;                                               // 8192
    m.kvBytesPerToken = 2 * 4 * 128 * 2;                                     // 2048
    m.weightBytesPerElement = 2.0;
    m.computeBytesPerElement = 2.0;
    m.dispatchBytesPerElement = 2.0;
    m.dispatchScaleBlock = 0;
    m.combineBytesPerElement = 2.0;
    m.metadataBytesPerToken = -1;
    m.capacityFactor = 0.0;
    return m;
}

MoeModelSpec
Dbrx()
{
    MoeModelSpec m;
    m.name = "dbrx";
    m.hidden = 6144;      // d_model
    m.routedExperts = 16; // moe_num_experts
    m.sharedExperts = 0;
    m.topK = 4;          // moe_top_k
    m.expertFfn = 10752; // ffn_hidden_size (GLU experts: w1, v1, w2)
    m.sharedExpertFfn = 0;
    m.denseFfn = 0;
    m.layers = 40; // n_layers
    m.moeLayers = 40;
    m.numGroups = 0;
    m.topKGroups = 0;
    // GQA, 48 query heads / 8 KV heads (kv_n_heads) of 128: q and o 6144 x 6144,
    // k and v 6144 x 1024 each.
    m.attentionParams = 6144ULL * 6144 * 2 + 6144ULL * 1024 * 2; // 88,080,384
    m.attentionDim = 48 * 128;                                   // 6144
    m.kvBytesPerToken = 2 * 8 * 128 * 2;                         // 4096
    m.weightBytesPerElement = 2.0;
    m.computeBytesPerElement = 2.0;
    m.dispatchBytesPerElement = 2.0;
    m.dispatchScaleBlock = 0;
    m.combineBytesPerElement = 2.0;
    m.metadataBytesPerToken = -1;
    m.capacityFactor = 0.0;
    return m;
}

} // namespace

uint64_t
MoeModelSpec::DispatchBytesPerToken() const
{
    uint64_t bytes = WholeBytes(hidden, dispatchBytesPerElement);
    if (dispatchScaleBlock > 0)
    {
        const uint64_t blocks = (static_cast<uint64_t>(hidden) + dispatchScaleBlock - 1) /
                                static_cast<uint64_t>(dispatchScaleBlock);
        bytes += blocks * SCALE_BYTES;
    }
    bytes += metadataBytesPerToken < 0 ? static_cast<uint64_t>(topK) * METADATA_BYTES_PER_EXPERT
                                       : static_cast<uint64_t>(metadataBytesPerToken);
    return bytes;
}

uint64_t
MoeModelSpec::CombineBytesPerToken() const
{
    return WholeBytes(hidden, combineBytesPerElement);
}

uint64_t
MoeModelSpec::GradientBytesPerToken() const
{
    // The backward pass sends activation gradients back along the combine path in the same
    // precision as the forward combine.
    return WholeBytes(hidden, combineBytesPerElement);
}

uint32_t
MoeModelSpec::FirstMoeLayer() const
{
    return moeLayers >= layers ? 0 : layers - moeLayers;
}

std::string
MoeModelSpec::Validate() const
{
    std::ostringstream os;
    if (hidden == 0)
    {
        return "model.hidden: must be > 0";
    }
    if (routedExperts == 0)
    {
        return "model.routed_experts: must be > 0";
    }
    if (topK == 0)
    {
        return "model.top_k: must be >= 1";
    }
    if (topK > routedExperts)
    {
        os << "model.top_k: " << topK << " exceeds model.routed_experts (" << routedExperts << ")";
        return os.str();
    }
    if (expertFfn == 0)
    {
        return "model.expert_ffn: must be > 0";
    }
    if (sharedExperts > 0 && sharedExpertFfn == 0)
    {
        os << "model.shared_expert_ffn: must be > 0 when model.shared_experts is " << sharedExperts;
        return os.str();
    }
    if (layers == 0)
    {
        return "model.layers: must be > 0";
    }
    if (moeLayers > layers)
    {
        os << "model.moe_layers: " << moeLayers << " exceeds model.layers (" << layers << ")";
        return os.str();
    }
    if (moeLayers < layers && denseFfn == 0)
    {
        os << "model.dense_ffn: must be > 0 when there are dense layers (model.layers " << layers
           << " > model.moe_layers " << moeLayers << ")";
        return os.str();
    }
    if (numGroups > 0 && routedExperts % numGroups != 0)
    {
        os << "model.groups: " << numGroups << " does not divide model.routed_experts ("
           << routedExperts << ")";
        return os.str();
    }
    if (topKGroups > numGroups)
    {
        os << "model.top_k_groups: " << topKGroups << " exceeds model.groups (" << numGroups << ")";
        return os.str();
    }
    if (numGroups > 0 && topKGroups > 0)
    {
        const uint64_t reachable = static_cast<uint64_t>(topKGroups) * (routedExperts / numGroups);
        if (reachable < topK)
        {
            os << "model.top_k_groups: " << topKGroups << " group(s) of "
               << routedExperts / numGroups << " experts hold " << reachable
               << ", fewer than model.top_k (" << topK << ")";
            return os.str();
        }
    }
    for (const auto& [key, value] :
         {std::pair<const char*, double>{"weight_bytes_per_element", weightBytesPerElement},
          {"compute_bytes_per_element", computeBytesPerElement},
          {"dispatch_bytes_per_element", dispatchBytesPerElement},
          {"combine_bytes_per_element", combineBytesPerElement}})
    {
        std::string error = PositiveOrError(key, value);
        if (!error.empty())
        {
            return error;
        }
    }
    if (metadataBytesPerToken < -1)
    {
        os << "model.metadata_bytes_per_token: must be >= 0, or -1 for model.top_k x 8 (got "
           << metadataBytesPerToken << ")";
        return os.str();
    }
    if (!(capacityFactor >= 0) || !std::isfinite(capacityFactor))
    {
        os << "model.capacity_factor: must be >= 0, 0 meaning unlimited (got " << capacityFactor
           << ")";
        return os.str();
    }
    return "";
}

std::vector<std::string>
ModelPresetNames()
{
    return {"deepseek-v3", "mixtral-8x7b", "qwen3-235b-a22b", "dbrx"};
}

MoeModelSpec
GetModelPreset(const std::string& name)
{
    NS_LOG_FUNCTION(name);
    if (name == "deepseek-v3")
    {
        return DeepSeekV3();
    }
    if (name == "mixtral-8x7b")
    {
        return Mixtral8x7b();
    }
    if (name == "qwen3-235b-a22b")
    {
        return Qwen3_235bA22b();
    }
    if (name == "dbrx")
    {
        return Dbrx();
    }
    std::ostringstream os;
    os << "unknown model preset '" << name << "'; accepted: ";
    const std::vector<std::string> names = ModelPresetNames();
    for (size_t i = 0; i < names.size(); ++i)
    {
        os << (i ? ", " : "") << names[i];
    }
    throw std::invalid_argument(os.str());
}

} // namespace moe
} // namespace ns3
