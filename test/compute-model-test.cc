/*
 * MoE model presets, traffic byte sizes, validation messages, GPU presets and the roofline
 * compute model, checked against published numbers and hand computations.
 */
#include "ns3/fabric-helper.h"
#include "ns3/gpu-compute-model.h"
#include "ns3/moe-model-spec.h"
#include "ns3/nstime.h"

#include <gtest/gtest.h>
#include <stdexcept>
#include <string>

using namespace ns3;
using namespace ns3::moe;

namespace
{

/// Validate() of @p spec must start with "model.<key>:".
void
ExpectErrorNames(const MoeModelSpec& spec, const std::string& key)
{
    const std::string error = spec.Validate();
    const std::string prefix = "model." + key + ":";
    EXPECT_EQ(error.compare(0, prefix.size(), prefix), 0)
        << "expected an error naming " << prefix << ", got '" << error << "'";
}

/// The message of the std::invalid_argument thrown by @p f, or "" if none.
template <typename F>
std::string
InvalidArgumentMessage(F f)
{
    try
    {
        f();
    }
    catch (const std::invalid_argument& e)
    {
        return e.what();
    }
    return "";
}

} // namespace

TEST(ModelSpec, PresetNamesAreTheFourModels)
{
    const std::vector<std::string> expected = {"deepseek-v3",
                                               "mixtral-8x7b",
                                               "qwen3-235b-a22b",
                                               "dbrx"};
    EXPECT_EQ(ModelPresetNames(), expected);
    for (const std::string& name : ModelPresetNames())
    {
        MoeModelSpec m = GetModelPreset(name);
        EXPECT_EQ(m.name, name);
        EXPECT_EQ(m.Validate(), "") << name;
    }
}

TEST(ModelSpec, DeepSeekV3HasPublishedNumbers)
{
    // arXiv:2412.19437 and deepseek-ai/DeepSeek-V3 config.json.
    MoeModelSpec m = GetModelPreset("deepseek-v3");
    EXPECT_EQ(m.hidden, 7168u);
    EXPECT_EQ(m.routedExperts, 256u);
    EXPECT_EQ(m.sharedExperts, 1u);
    EXPECT_EQ(m.topK, 8u);
    EXPECT_EQ(m.expertFfn, 2048u);
    EXPECT_EQ(m.sharedExpertFfn, 2048u);
    EXPECT_EQ(m.denseFfn, 18432u);
    EXPECT_EQ(m.layers, 61u);
    EXPECT_EQ(m.moeLayers, 58u);
    EXPECT_EQ(m.FirstMoeLayer(), 3u);
    EXPECT_EQ(m.numGroups, 8u);
    EXPECT_EQ(m.topKGroups, 4u);
    // MLA: q_a 7168x1536 + q_b 1536x(128x192) + kv_a 7168x576 + kv_b 512x(128x256)
    //      + o 16384x7168 = 11010048 + 37748736 + 4128768 + 16777216 + 117440512.
    EXPECT_EQ(m.attentionParams,
              7168ULL * 1536 + 1536ULL * 128 * 192 + 7168ULL * (512 + 64) +
                  512ULL * 128 * (128 + 128) + 128ULL * 128 * 7168);
    EXPECT_EQ(m.attentionParams, 187105280ULL);
    // 128 heads x (192 for QK^T + 128 for PV) / 2.
    EXPECT_EQ(m.attentionDim, 20480u);
    EXPECT_EQ(m.kvBytesPerToken, 1152u); // (512 + 64) x 2
    EXPECT_EQ(m.weightBytesPerElement, 1.0);
    EXPECT_EQ(m.computeBytesPerElement, 1.0);
    EXPECT_EQ(m.dispatchBytesPerElement, 1.0);
    EXPECT_EQ(m.dispatchScaleBlock, 128u);
    EXPECT_EQ(m.combineBytesPerElement, 2.0);
    EXPECT_EQ(m.metadataBytesPerToken, -1);
    EXPECT_EQ(m.capacityFactor, 0.0);
}

TEST(ModelSpec, MixtralHasPublishedNumbers)
{
    // arXiv:2401.04088, Table 1.
    MoeModelSpec m = GetModelPreset("mixtral-8x7b");
    EXPECT_EQ(m.hidden, 4096u);
    EXPECT_EQ(m.routedExperts, 8u);
    EXPECT_EQ(m.sharedExperts, 0u);
    EXPECT_EQ(m.topK, 2u);
    EXPECT_EQ(m.expertFfn, 14336u);
    EXPECT_EQ(m.layers, 32u);
    EXPECT_EQ(m.moeLayers, 32u);
    EXPECT_EQ(m.FirstMoeLayer(), 0u);
    EXPECT_EQ(m.numGroups, 0u);
    EXPECT_EQ(m.topKGroups, 0u);
    EXPECT_EQ(m.attentionParams, 4096ULL * 4096 * 2 + 4096ULL * 1024 * 2); // 41943040
    EXPECT_EQ(m.attentionDim, 4096u);
    EXPECT_EQ(m.kvBytesPerToken, 4096u); // 2 x 8 x 128 x 2
    EXPECT_EQ(m.weightBytesPerElement, 2.0);
    EXPECT_EQ(m.computeBytesPerElement, 2.0);
    EXPECT_EQ(m.dispatchBytesPerElement, 2.0);
    EXPECT_EQ(m.dispatchScaleBlock, 0u);
    EXPECT_EQ(m.combineBytesPerElement, 2.0);
}

TEST(ModelSpec, Qwen3HasPublishedNumbers)
{
    // arXiv:2505.09388 and Qwen/Qwen3-235B-A22B config.json.
    MoeModelSpec m = GetModelPreset("qwen3-235b-a22b");
    EXPECT_EQ(m.hidden, 4096u);
    EXPECT_EQ(m.routedExperts, 128u);
    EXPECT_EQ(m.sharedExperts, 0u);
    EXPECT_EQ(m.topK, 8u);
    EXPECT_EQ(m.expertFfn, 1536u);
    EXPECT_EQ(m.layers, 94u);
    EXPECT_EQ(m.moeLayers, 94u);
    // q 4096x8192 + k, v 4096x512 + o 8192x4096 = 71303168.
    EXPECT_EQ(m.attentionParams, 71303168ULL);
    EXPECT_EQ(m.attentionDim, 8192u);
    EXPECT_EQ(m.kvBytesPerToken, 2048u); // 2 x 4 x 128 x 2
    EXPECT_EQ(m.weightBytesPerElement, 2.0);
    EXPECT_EQ(m.computeBytesPerElement, 2.0);
    EXPECT_EQ(m.dispatchBytesPerElement, 2.0);
    EXPECT_EQ(m.dispatchScaleBlock, 0u);
}

TEST(ModelSpec, DbrxHasPublishedNumbers)
{
    // databricks/dbrx-base config.json.
    MoeModelSpec m = GetModelPreset("dbrx");
    EXPECT_EQ(m.hidden, 6144u);
    EXPECT_EQ(m.routedExperts, 16u);
    EXPECT_EQ(m.sharedExperts, 0u);
    EXPECT_EQ(m.topK, 4u);
    EXPECT_EQ(m.expertFfn, 10752u);
    EXPECT_EQ(m.layers, 40u);
    EXPECT_EQ(m.moeLayers, 40u);
    // q, o 6144x6144 + k, v 6144x1024 = 88080384.
    EXPECT_EQ(m.attentionParams, 88080384ULL);
    EXPECT_EQ(m.attentionDim, 6144u);
    EXPECT_EQ(m.kvBytesPerToken, 4096u);
    EXPECT_EQ(m.weightBytesPerElement, 2.0);
    EXPECT_EQ(m.dispatchBytesPerElement, 2.0);
    EXPECT_EQ(m.dispatchScaleBlock, 0u);
}

TEST(ModelSpec, DeepSeekV3DispatchAndCombineBytes)
{
    MoeModelSpec m = GetModelPreset("deepseek-v3");
    // 7168 FP8 bytes + ceil(7168 / 128) = 56 scales x 4 + 8 experts x 8 metadata.
    EXPECT_EQ(m.DispatchBytesPerToken(), 7168u + 56u * 4u + 64u);
    EXPECT_EQ(m.DispatchBytesPerToken(), 7456u);
    EXPECT_EQ(m.CombineBytesPerToken(), 14336u); // 7168 x 2 (BF16)
    EXPECT_EQ(m.GradientBytesPerToken(), 14336u);

    m.metadataBytesPerToken = 0;
    EXPECT_EQ(m.DispatchBytesPerToken(), 7392u);
    m.metadataBytesPerToken = 16;
    EXPECT_EQ(m.DispatchBytesPerToken(), 7408u);
    m.dispatchScaleBlock = 0;
    EXPECT_EQ(m.DispatchBytesPerToken(), 7168u + 16u);
}

TEST(ModelSpec, MixtralDispatchAndCombineBytes)
{
    MoeModelSpec m = GetModelPreset("mixtral-8x7b");
    // 4096 x 2 BF16, no scales, 2 experts x 8 metadata.
    EXPECT_EQ(m.DispatchBytesPerToken(), 8208u);
    EXPECT_EQ(m.CombineBytesPerToken(), 8192u);
    EXPECT_EQ(m.GradientBytesPerToken(), 8192u);
}

TEST(ModelSpec, DispatchBytesRoundUp)
{
    MoeModelSpec m = GetModelPreset("mixtral-8x7b");
    m.hidden = 100;
    m.dispatchBytesPerElement = 0.5; // e.g. FP4: 50 bytes
    m.dispatchScaleBlock = 64;       // ceil(100 / 64) = 2 scales
    m.metadataBytesPerToken = 3;
    EXPECT_EQ(m.DispatchBytesPerToken(), 50u + 8u + 3u);
    m.dispatchBytesPerElement = 0.5625; // 56.25 bytes -> 57
    EXPECT_EQ(m.DispatchBytesPerToken(), 57u + 8u + 3u);
    m.combineBytesPerElement = 1.0;
    EXPECT_EQ(m.CombineBytesPerToken(), 100u);
}

TEST(ModelSpec, ValidationErrorsNameTheField)
{
    const MoeModelSpec ds = GetModelPreset("deepseek-v3");
    const MoeModelSpec mix = GetModelPreset("mixtral-8x7b");
    MoeModelSpec m;

    m = mix;
    m.topK = 9;
    EXPECT_EQ(m.Validate(), "model.top_k: 9 exceeds model.routed_experts (8)");
    m.topK = 0;
    ExpectErrorNames(m, "top_k");

    m = ds;
    m.hidden = 0;
    ExpectErrorNames(m, "hidden");
    m = ds;
    m.routedExperts = 0;
    ExpectErrorNames(m, "routed_experts");
    m = ds;
    m.expertFfn = 0;
    ExpectErrorNames(m, "expert_ffn");
    m = ds;
    m.sharedExpertFfn = 0;
    ExpectErrorNames(m, "shared_expert_ffn");
    m = ds;
    m.layers = 0;
    m.moeLayers = 0;
    ExpectErrorNames(m, "layers");
    m = ds;
    m.moeLayers = 62;
    EXPECT_EQ(m.Validate(), "model.moe_layers: 62 exceeds model.layers (61)");
    m = mix;
    m.moeLayers = 16; // dense layers but no dense FFN width
    ExpectErrorNames(m, "dense_ffn");
    m = ds;
    m.numGroups = 7;
    EXPECT_EQ(m.Validate(), "model.groups: 7 does not divide model.routed_experts (256)");
    m = ds;
    m.topKGroups = 9;
    EXPECT_EQ(m.Validate(), "model.top_k_groups: 9 exceeds model.groups (8)");
    m = ds;
    m.numGroups = 64; // 4 experts per group, 1 group -> 4 < top-8
    m.topKGroups = 1;
    ExpectErrorNames(m, "top_k_groups");
    m.topKGroups = 2; // 8 experts reachable: enough
    EXPECT_EQ(m.Validate(), "");
    m = ds;
    m.weightBytesPerElement = 0;
    ExpectErrorNames(m, "weight_bytes_per_element");
    m = ds;
    m.computeBytesPerElement = -1;
    ExpectErrorNames(m, "compute_bytes_per_element");
    m = ds;
    m.dispatchBytesPerElement = 0;
    ExpectErrorNames(m, "dispatch_bytes_per_element");
    m = ds;
    m.combineBytesPerElement = 0;
    ExpectErrorNames(m, "combine_bytes_per_element");
    m = ds;
    m.metadataBytesPerToken = -2;
    ExpectErrorNames(m, "metadata_bytes_per_token");
    m = ds;
    m.capacityFactor = -0.5;
    ExpectErrorNames(m, "capacity_factor");
    m.capacityFactor = 1.25;
    EXPECT_EQ(m.Validate(), "");
}

TEST(ModelSpec, UnknownPresetListsAcceptedNames)
{
    EXPECT_EQ(InvalidArgumentMessage([] { GetModelPreset("gpt-4"); }),
              "unknown model preset 'gpt-4'; accepted: deepseek-v3, mixtral-8x7b, "
              "qwen3-235b-a22b, dbrx");
}

TEST(ComputeModel, GpuPresetsHaveDatasheetNumbers)
{
    const std::vector<std::string> expected = {"h100", "h800", "b200"};
    EXPECT_EQ(GpuPresetNames(), expected);
    for (const std::string& name : GpuPresetNames())
    {
        GpuSpec g = GetGpuPreset(name);
        EXPECT_EQ(g.name, name);
        EXPECT_EQ(g.efficiency, 0.6);
        EXPECT_EQ(g.memEfficiency, 0.8);
        EXPECT_EQ(g.launchOverheadPs, 5000000);
    }
    GpuSpec h100 = GetGpuPreset("h100");
    EXPECT_EQ(h100.peakFlopsBf16, 989e12);
    EXPECT_EQ(h100.peakFlopsFp8, 1979e12);
    EXPECT_EQ(h100.hbmBytesPerSec, 3.35e12);
    GpuSpec h800 = GetGpuPreset("h800"); // differs from the H100 only in NVLink
    EXPECT_EQ(h800.peakFlopsBf16, h100.peakFlopsBf16);
    EXPECT_EQ(h800.peakFlopsFp8, h100.peakFlopsFp8);
    EXPECT_EQ(h800.hbmBytesPerSec, h100.hbmBytesPerSec);
    GpuSpec b200 = GetGpuPreset("b200");
    EXPECT_EQ(b200.peakFlopsBf16, 2.25e15);
    EXPECT_EQ(b200.peakFlopsFp8, 4.5e15);
    EXPECT_EQ(b200.hbmBytesPerSec, 8e12);
}

TEST(ComputeModel, UnknownGpuPresetListsAcceptedNames)
{
    EXPECT_EQ(InvalidArgumentMessage([] { GetGpuPreset("a100"); }),
              "unknown GPU preset 'a100'; accepted: h100, h800, b200");
}

TEST(ComputeModel, EffectiveRatesUseFp8OnlyForFp8Models)
{
    GpuComputeModel ds(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    EXPECT_DOUBLE_EQ(ds.EffectiveFlops(), 1979e12 * 0.6);
    EXPECT_DOUBLE_EQ(ds.EffectiveBandwidth(), 3.35e12 * 0.8);
    GpuComputeModel mix(GetGpuPreset("h100"), GetModelPreset("mixtral-8x7b"));
    EXPECT_DOUBLE_EQ(mix.EffectiveFlops(), 989e12 * 0.6);
    GpuComputeModel b200(GetGpuPreset("b200"), GetModelPreset("deepseek-v3"));
    EXPECT_DOUBLE_EQ(b200.EffectiveFlops(), 4.5e15 * 0.6);
    EXPECT_DOUBLE_EQ(b200.EffectiveBandwidth(), 8e12 * 0.8);
}

TEST(ComputeModel, OneTokenExpertIsBoundByWeightReads)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    KernelCost c = gpu.RoutedExpert(1);
    // FLOPs 2 x 1 x 3 x 7168 x 2048 = 88,080,384.
    EXPECT_EQ(c.flops, 88080384.0);
    // Bytes: FP8 weights 3 x 7168 x 2048 = 44,040,192, plus the token: 7168 in + 7168 out +
    // 2 x 2048 intermediate = 18,432; total 44,058,624.
    EXPECT_EQ(c.bytes, 44058624.0);
    // Memory: 44,058,624 / (3.35e12 x 0.8) s = 16,439,785.07 ps; math only 74,179 ps.
    // + 5 us launch = 21,439,785 ps.
    EXPECT_EQ(gpu.KernelTime(c).GetPicoSeconds(), 21439785);
}

TEST(ComputeModel, LargeExpertBatchIsBoundByMath)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    KernelCost c = gpu.RoutedExpert(4096);
    // FLOPs 2 x 4096 x 3 x 7168 x 2048 = 360,777,252,864; / (1979e12 x 0.6) s
    // = 303,838,009.82 ps. Bytes 44,040,192 + 4096 x 18,432 = 119,537,664 -> 44.6 us only.
    EXPECT_EQ(c.flops, 360777252864.0);
    EXPECT_EQ(c.bytes, 119537664.0);
    EXPECT_EQ(gpu.KernelTime(c).GetPicoSeconds(), 5000000 + 303838010);
}

TEST(ComputeModel, CrossoverAtTheRidgePoint)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    // Ridge: 1.1874e15 / 2.68e12 = 443.06 FLOP/byte. An expert batch of n tokens does
    // 88,080,384 n FLOPs over 44,040,192 + 18,432 n bytes, so math-bound from
    // n > 44,040,192 / (88,080,384 / 443.06 - 18,432) = 244.17 tokens.
    const double ridge = gpu.EffectiveFlops() / gpu.EffectiveBandwidth();
    EXPECT_NEAR(ridge, 443.0597, 1e-3);
    KernelCost at244 = gpu.RoutedExpert(244);
    KernelCost at245 = gpu.RoutedExpert(245);
    EXPECT_LT(at244.flops / at244.bytes, ridge);
    EXPECT_GT(at245.flops / at245.bytes, ridge);
    // 244: memory 18,111,044.78 ps (> math 18,099,725.19); 245: math 18,173,904.40 ps
    // (> memory 18,117,922.39).
    EXPECT_EQ(gpu.KernelTime(at244).GetPicoSeconds(), 5000000 + 18111045);
    EXPECT_EQ(gpu.KernelTime(at245).GetPicoSeconds(), 5000000 + 18173904);
}

TEST(ComputeModel, HalfShareDoublesTheNonLaunchPart)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    for (uint64_t tokens : {1, 245, 4096})
    {
        KernelCost c = gpu.RoutedExpert(tokens);
        const int64_t full = gpu.KernelTime(c).GetPicoSeconds() - 5000000;
        const int64_t half = gpu.KernelTime(c, 0.5).GetPicoSeconds() - 5000000;
        EXPECT_NEAR(static_cast<double>(half), 2.0 * full, 1.0) << tokens << " tokens";
    }
    // 1 token: 2 x 16,439,785.07 = 32,879,570.15 ps.
    EXPECT_EQ(gpu.KernelTime(gpu.RoutedExpert(1), 0.5).GetPicoSeconds(), 5000000 + 32879570);
}

TEST(ComputeModel, ZeroWorkTakesNoTime)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel ds(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    EXPECT_EQ(ds.RoutedExpert(0).flops, 0.0);
    EXPECT_EQ(ds.RoutedExpert(0).bytes, 0.0);
    EXPECT_EQ(ds.KernelTime(ds.RoutedExpert(0)), Time(0));
    EXPECT_EQ(ds.KernelTime(ds.SharedExperts(0)), Time(0));
    EXPECT_EQ(ds.KernelTime(ds.DenseFfn(0)), Time(0));
    EXPECT_EQ(ds.KernelTime(ds.Attention(0, 4096)), Time(0));
    EXPECT_EQ(ds.KernelTime(KernelCost{}, 0.5), Time(0));
    // No shared experts: no kernel at all.
    GpuComputeModel mix(GetGpuPreset("h100"), GetModelPreset("mixtral-8x7b"));
    EXPECT_EQ(mix.KernelTime(mix.SharedExperts(1024)), Time(0));
}

TEST(ComputeModel, SharedAndDenseFfnUseTheirWidths)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h800"), GetModelPreset("deepseek-v3"));
    // One shared expert of 2048: same as a routed expert.
    EXPECT_EQ(gpu.SharedExperts(7).flops, gpu.RoutedExpert(7).flops);
    EXPECT_EQ(gpu.SharedExperts(7).bytes, gpu.RoutedExpert(7).bytes);
    // Dense FFN 18432, 1 token: weights 3 x 7168 x 18432 = 396,361,728 bytes + 2 x 7168 +
    // 2 x 18432 = 51,200 -> 396,412,928 / 2.68e12 s = 147,915,271.64 ps (math 667,622 ps).
    KernelCost d = gpu.DenseFfn(1);
    EXPECT_EQ(d.flops, 2.0 * 3 * 7168 * 18432);
    EXPECT_EQ(d.bytes, 396412928.0);
    EXPECT_EQ(gpu.KernelTime(d).GetPicoSeconds(), 5000000 + 147915272);
}

TEST(ComputeModel, AttentionMatchesHandComputation)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h100"), GetModelPreset("mixtral-8x7b"));
    // One decode token over 4096 context tokens:
    // FLOPs 2 x 41,943,040 + 4 x 4096 x 4096 = 150,994,944 -> / 593.4e12 = 254,457 ps;
    // bytes 41,943,040 x 2 + 4096 x 4096 (KV) + 2 x 4096 x 2 = 100,679,680
    //   -> / 2.68e12 = 37,567,044.78 ps (memory-bound).
    KernelCost c = gpu.Attention(1, 4096);
    EXPECT_EQ(c.flops, 150994944.0);
    EXPECT_EQ(c.bytes, 100679680.0);
    EXPECT_EQ(gpu.KernelTime(c).GetPicoSeconds(), 5000000 + 37567045);
}

TEST(ComputeModel, Bf16ModelUsesBf16Peak)
{
    FabricHelper::EnsurePicosecondResolution();
    GpuComputeModel gpu(GetGpuPreset("h100"), GetModelPreset("mixtral-8x7b"));
    // 1024 tokens through one Mixtral expert: 2 x 1024 x 3 x 4096 x 14336 = 360,777,252,864
    // FLOPs / (989e12 x 0.6) = 607,983,237.05 ps; bytes 3 x 4096 x 14336 x 2 + 1024 x
    // (2 x 4096 + 2 x 14336) x 2 = 352,321,536 + 75,497,472 -> 159,633,958 ps only.
    KernelCost c = gpu.RoutedExpert(1024);
    EXPECT_EQ(gpu.KernelTime(c).GetPicoSeconds(), 5000000 + 607983237);
}
