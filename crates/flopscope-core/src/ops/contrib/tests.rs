//! Hand-computed tests of the ONNX Runtime fused operators.
use super::super::testutil::*;
use super::super::Tensor;
use crate::graph::{Attr, DType};

const MS: &str = "com.microsoft";
const NCHWC: &str = "com.microsoft.nchwc";

/// Runs an op of another domain that must fail as invalid; returns the message.
fn dom_err(domain: &str, op: &str, inputs: &[Tensor], attrs: &[(String, Attr)]) -> String {
    let inputs: Vec<Option<Tensor>> = inputs.iter().cloned().map(Some).collect();
    run_opt_err(domain, op, &inputs, attrs)
}

#[test]
fn fused_conv_adds_activation_and_z() {
    // X [1,8,10,10], W [16,8,3,3], pad 1 → Y [1,16,10,10] = 1600 outputs.
    // MACs = 1600 · 8 · 9 = 115,200. FLOPs = 2 · MACs + 1600 · (1 bias + 1 Relu + 1 Z).
    let r = run_dom(
        MS,
        "FusedConv",
        &[
            f32t(&[1, 8, 10, 10]),
            f32t(&[16, 8, 3, 3]),
            f32t(&[16]),
            f32t(&[1, 16, 10, 10]),
        ],
        &[a_ints("pads", &[1, 1, 1, 1]), a_str("activation", "Relu")],
    );
    assert_eq!(r.shape, vec![1, 16, 10, 10]);
    assert_eq!(r.cost.macs, 115_200);
    assert_eq!(r.cost.flops, 2 * 115_200 + 1600 * 3);
    // Clip (ReLU6) costs 2 per element; no bias, no Z: 2 · MACs + 1600 · 2.
    let r = run_dom(
        MS,
        "FusedConv",
        &[f32t(&[1, 8, 10, 10]), f32t(&[16, 8, 3, 3])],
        &[
            a_ints("pads", &[1, 1, 1, 1]),
            a_str("activation", "Clip"),
            ("activation_params".into(), Attr::Floats(vec![0.0, 6.0])),
        ],
    );
    assert_eq!(r.cost.flops, 2 * 115_200 + 1600 * 2);
    // A Z of another shape (no pads: Y is [1,16,8,8]), an unknown activation: refused.
    let x = [f32t(&[1, 8, 10, 10]), f32t(&[16, 8, 3, 3]), f32t(&[16])];
    let e = dom_err(
        MS,
        "FusedConv",
        &[
            x[0].clone(),
            x[1].clone(),
            x[2].clone(),
            f32t(&[1, 16, 10, 10]),
        ],
        &[],
    );
    assert!(e.contains("added input 3"), "{e}");
    let e = dom_err(MS, "FusedConv", &x, &[a_str("activation", "Frobnicate")]);
    assert!(e.contains("Frobnicate"), "{e}");
}

#[test]
fn nhwc_conv_is_conv_on_channels_last() {
    // X [2,9,9,4] (NHWC), W [6,4,3,3], stride 2 → [2,4,4,6]; MACs = 2·4·4·6 · 4·9 = 6912;
    // bias 192.
    let r = run_dom(
        MS,
        "NhwcConv",
        &[f32t(&[2, 9, 9, 4]), f32t(&[6, 4, 3, 3]), f32t(&[6])],
        &[a_ints("strides", &[2, 2])],
    );
    assert_eq!(r.shape, vec![2, 4, 4, 6]);
    assert_eq!(r.cost.macs, 6912);
    assert_eq!(r.cost.flops, 2 * 6912 + 192);
    // NhwcFusedConv with Sigmoid (4) and a Z in the output layout.
    let r = run_dom(
        MS,
        "NhwcFusedConv",
        &[
            f32t(&[2, 9, 9, 4]),
            f32t(&[6, 4, 3, 3]),
            f32t(&[6]),
            f32t(&[2, 4, 4, 6]),
        ],
        &[a_ints("strides", &[2, 2]), a_str("activation", "Sigmoid")],
    );
    assert_eq!(r.cost.flops, 2 * 6912 + 192 * (1 + 4 + 1));
}

#[test]
fn fused_gemm_adds_activation() {
    // A [4,32] · B [32,10] (transB: B given [10,32]) + C: MACs = 4·10·32 = 1280;
    // C adds 40, LeakyRelu 2 per output: 80.
    let r = run_dom(
        MS,
        "FusedGemm",
        &[f32t(&[4, 32]), f32t(&[10, 32]), f32t(&[10])],
        &[
            a_int("transB", 1),
            a_str("activation", "LeakyRelu"),
            a_float("activation_alpha", 0.01),
        ],
    );
    assert_eq!(r.shape, vec![4, 10]);
    assert_eq!(r.cost.macs, 1280);
    assert_eq!(r.cost.flops, 2 * 1280 + 40 + 80);
}

#[test]
fn fused_matmul_transposes() {
    // A [2,3,5,4] transA → [2,3,4,5]; B [2,3,6,5] transB → [2,3,5,6]: Y [2,3,4,6],
    // MACs = 6 · 4·5·6 = 720; alpha 0.125 scales 144 outputs.
    let r = run_dom(
        MS,
        "FusedMatMul",
        &[f32t(&[2, 3, 5, 4]), f32t(&[2, 3, 6, 5])],
        &[
            a_int("transA", 1),
            a_int("transB", 1),
            a_float("alpha", 0.125),
        ],
    );
    assert_eq!(r.shape, vec![2, 3, 4, 6]);
    assert_eq!(r.cost.macs, 720);
    assert_eq!(r.cost.flops, 2 * 720 + 144);
    // transBatchA: A [4,2,3,8] reads as batch [2,3], rows 4 (axis 0), cols 8; B [2,3,8,5]:
    // Y [2,3,4,5], MACs = 6 · 4·8·5 = 960, alpha 1: no extra.
    let r = run_dom(
        MS,
        "FusedMatMul",
        &[f32t(&[4, 2, 3, 8]), f32t(&[2, 3, 8, 5])],
        &[a_int("transBatchA", 1)],
    );
    assert_eq!(r.shape, vec![2, 3, 4, 5]);
    assert_eq!((r.cost.macs, r.cost.flops), (960, 1920));
    // transBatchB with transB: B [5,2,8] → batch [2], then rows 5 (axis 0), cols 8,
    // swapped → [2,8,5]; A [2,4,8] → Y [2,4,5], MACs = 2·4·8·5 = 320.
    let r = run_dom(
        MS,
        "FusedMatMul",
        &[f32t(&[2, 4, 8]), f32t(&[5, 2, 8])],
        &[a_int("transB", 1), a_int("transBatchB", 1)],
    );
    assert_eq!(r.shape, vec![2, 4, 5]);
    assert_eq!(r.cost.macs, 320);
}

#[test]
fn gelu_family_per_element() {
    let x = f32t(&[2, 8, 16]); // 256 elements
    let b = f32t(&[16]);
    let r = run_dom(MS, "Gelu", std::slice::from_ref(&x), &[]);
    assert_eq!(
        (r.shape.clone(), r.cost.flops, r.cost.macs),
        (vec![2, 8, 16], 256 * 5, 0)
    );
    // FastGelu: tanh approximation 9, +1 for the bias.
    assert_eq!(
        run_dom(MS, "FastGelu", std::slice::from_ref(&x), &[])
            .cost
            .flops,
        256 * 9
    );
    let r = run_dom(MS, "FastGelu", &[x.clone(), b.clone()], &[]);
    assert_eq!(r.cost.flops, 256 * 10);
    // BiasGelu: add + Gelu = 6.
    let r = run_dom(MS, "BiasGelu", &[x.clone(), b.clone()], &[]);
    assert_eq!(r.cost.flops, 256 * 6);
    // QuickGelu: alpha·x (1) + sigmoid (4) + x·s (1) = 6; with alpha = 1 the scaling is free.
    assert_eq!(
        run_dom(MS, "QuickGelu", std::slice::from_ref(&x), &[])
            .cost
            .flops,
        256 * 6
    );
    let r = run_dom(
        MS,
        "QuickGelu",
        std::slice::from_ref(&x),
        &[a_float("alpha", 1.0)],
    );
    assert_eq!(r.cost.flops, 256 * 5);
    // BiasAdd: X + bias + skip = 2.
    let r = run_dom(MS, "BiasAdd", &[x.clone(), b.clone(), x.clone()], &[]);
    assert_eq!((r.shape.clone(), r.cost.flops), (vec![2, 8, 16], 256 * 2));
    // Integer input costs nothing (as elementwise ops).
    let r = run_dom(MS, "Gelu", &[i64t(&[4])], &[]);
    assert_eq!(r.cost.flops, 0);
}

#[test]
fn bias_split_gelu_and_bias_dropout() {
    // X [2,4,10] + bias [10] → Y [2,4,5] (40 outputs): 2 adds + 5 Gelu + 1 product = 8.
    let r = run_dom(MS, "BiasSplitGelu", &[f32t(&[2, 4, 10]), f32t(&[10])], &[]);
    assert_eq!(r.shape, vec![2, 4, 5]);
    assert_eq!(r.cost.flops, 40 * 8);
    let e = dom_err(MS, "BiasSplitGelu", &[f32t(&[2, 4, 9]), f32t(&[9])], &[]);
    assert!(e.contains("even"), "{e}");
    // BiasDropout [3,16] + bias [16] + residual [3,16]: 2 per element, mask bool.
    let r = run_dom(
        MS,
        "BiasDropout",
        &[f32t(&[3, 16]), f32t(&[16]), f32t(&[3, 16])],
        &[],
    );
    assert_eq!(r.shape, vec![3, 16]);
    assert_eq!(r.outs[1].dtype, DType::Bool);
    assert_eq!(r.cost.flops, 48 * 2);
    let r = run_dom(MS, "BiasDropout", &[f32t(&[3, 16]), f32t(&[16])], &[]);
    assert_eq!(r.cost.flops, 48);
}

#[test]
fn nchwc_conv_counts_weight_and_real_channels() {
    // Blocked conv as in ResNet: X [1,64,56,56], W [64,64,3,3], pad 1, bias, Sum, Relu:
    // MACs = 64·56·56 · 64·9 = 115,605,504; + 200,704 outputs · (bias + Relu + Sum).
    let y = f32t(&[1, 64, 56, 56]);
    let r = run_dom(
        NCHWC,
        "Conv",
        &[y.clone(), f32t(&[64, 64, 3, 3]), f32t(&[64]), y.clone()],
        &[a_ints("pads", &[1, 1, 1, 1]), a_str("activation", "Relu")],
    );
    assert_eq!(r.shape, vec![1, 64, 56, 56]);
    assert_eq!(r.cost.macs, 115_605_504);
    assert_eq!(r.cost.flops, 2 * 115_605_504 + 200_704 * 3);
    // An unpadded 24-channel input (from ReorderInput) with the weight padded to 32 in and
    // out (block 16): Y [1,32,8,8]; MACs count the 24 real input channels: 32·64 · 24·9.
    let r = run_dom(
        NCHWC,
        "Conv",
        &[f32t(&[1, 24, 8, 8]), f32t(&[32, 32, 3, 3])],
        &[a_ints("pads", &[1, 1, 1, 1])],
    );
    assert_eq!(r.shape, vec![1, 32, 8, 8]);
    assert_eq!(r.cost.macs, 32 * 64 * 24 * 9);
    // Depthwise on that input (group padded to 32): 24 real channels · 64 · 9.
    let r = run_dom(
        NCHWC,
        "Conv",
        &[f32t(&[1, 24, 8, 8]), f32t(&[32, 1, 3, 3])],
        &[a_int("group", 32), a_ints("pads", &[1, 1, 1, 1])],
    );
    assert_eq!(r.shape, vec![1, 32, 8, 8]);
    assert_eq!(r.cost.macs, 24 * 64 * 9);
    // A stem reading NCHW directly: X [1,3,16,16], W [32,3,3,3] (20 real outputs padded
    // to 32, not visible here): MACs = 32·256 · 27.
    let r = run_dom(
        NCHWC,
        "Conv",
        &[f32t(&[1, 3, 16, 16]), f32t(&[32, 3, 3, 3])],
        &[a_ints("pads", &[1, 1, 1, 1])],
    );
    assert_eq!(r.cost.macs, 32 * 256 * 27);
    // More channels than the weight, or 16 or more missing, is not block padding.
    let e = dom_err(
        NCHWC,
        "Conv",
        &[f32t(&[1, 40, 8, 8]), f32t(&[32, 32, 1, 1])],
        &[],
    );
    assert!(e.contains("expects 32"), "{e}");
    let e = dom_err(
        NCHWC,
        "Conv",
        &[f32t(&[1, 16, 8, 8]), f32t(&[32, 32, 1, 1])],
        &[],
    );
    assert!(e.contains("expects 32"), "{e}");
}

#[test]
fn nchwc_pools_upsample_and_reorders() {
    // Pools are the ONNX rules: MaxPool k3 s2 p1 on [1,64,112,112] → 56, 64·56·56·9.
    let r = run_dom(
        NCHWC,
        "MaxPool",
        &[f32t(&[1, 64, 112, 112])],
        &[
            a_ints("kernel_shape", &[3, 3]),
            a_ints("strides", &[2, 2]),
            a_ints("pads", &[1, 1, 1, 1]),
        ],
    );
    assert_eq!(r.shape, vec![1, 64, 56, 56]);
    assert_eq!(r.cost.flops, 64 * 56 * 56 * 9);
    let r = run_dom(NCHWC, "GlobalAveragePool", &[f32t(&[1, 512, 7, 7])], &[]);
    assert_eq!(
        (r.shape.clone(), r.cost.flops),
        (vec![1, 512, 1, 1], 512 * 49 + 512)
    );
    let r = run_dom(
        NCHWC,
        "AveragePool",
        &[f32t(&[1, 32, 8, 8])],
        &[a_ints("kernel_shape", &[2, 2]), a_ints("strides", &[2, 2])],
    );
    assert_eq!(r.cost.flops, 32 * 16 * 5);
    // Upsample ×2 on H and W: nearest costs 0; linear 3·(4 − 1) = 9 per output element.
    let up = |mode: &str| {
        run_dom(
            NCHWC,
            "Upsample",
            &[f32t(&[1, 16, 5, 5])],
            &[a_ints("scales", &[1, 1, 2, 2]), a_str("mode", mode)],
        )
    };
    assert_eq!(
        (up("nearest").shape, up("nearest").cost.flops),
        (vec![1, 16, 10, 10], 0)
    );
    assert_eq!(up("linear").cost.flops, 1600 * 9);
    // Reorders move data: 0 FLOPs. ReorderInput keeps C (NHWC input → NCHW order);
    // ReorderOutput narrows to `channels`, optionally channels-last.
    let r = run_dom(
        NCHWC,
        "ReorderInput",
        &[f32t(&[1, 7, 7, 24])],
        &[a_int("channels_last", 1)],
    );
    assert_eq!(
        (r.shape.clone(), r.cost),
        (vec![1, 24, 7, 7], Default::default())
    );
    let r = run_dom(
        NCHWC,
        "ReorderOutput",
        &[f32t(&[1, 32, 7, 7])],
        &[a_int("channels", 20)],
    );
    assert_eq!((r.shape.clone(), r.cost.flops), (vec![1, 20, 7, 7], 0));
    let r = run_dom(
        NCHWC,
        "ReorderOutput",
        &[f32t(&[1, 32, 7, 7])],
        &[a_int("channels", 20), a_int("channels_last", 1)],
    );
    assert_eq!(r.shape, vec![1, 7, 7, 20]);
    let e = dom_err(
        NCHWC,
        "ReorderOutput",
        &[f32t(&[1, 32, 7, 7])],
        &[a_int("channels", 40)],
    );
    assert!(e.contains("channels 40"), "{e}");
}
