//! Backward of products: convolutions, matrix products, Einsum and fused attention.
//!
//! The gradient of a product wrt one operand is a product of the same size: for Y = A·B,
//! dA = dY·Bᵀ and dB = Aᵀ·dY are M·K·N MACs each. A convolution's input gradient is a
//! transposed convolution and its weight gradient a correlation of X with dY, each with the
//! forward's MACs, grouped and depthwise included (each output element still meets
//! `(Cin/group)·Π(k)` weights). So every needed operand costs the forward's MACs, and each
//! operand's gradient reads the other operand.

use super::super::attention::{mha_dims, ms_attention_dims, onnx_dims};
use super::{Back, BackRule, Grad, Saved};
use crate::ops::{mul, Cost, OpError};

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    Some(match op {
        "Conv" | "ConvTranspose" => conv,
        "MatMul" | "Einsum" => matmul,
        "Gemm" => gemm,
        "Attention" => attention_onnx,
        _ => return None,
    })
}

/// `com.microsoft` rules.
pub fn lookup_ms(op: &str) -> Option<BackRule> {
    Some(match op {
        "FusedMatMul" => fused_matmul,
        "MultiHeadAttention" => attention_mha,
        "Attention" => attention_ms,
        _ => return None,
    })
}

/// Conv / ConvTranspose: dX and dW each the forward's MACs (dW reads X, dX reads W); the
/// bias gradient sums dY: `numel(Y)` adds.
fn conv(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let f = g.forward.macs;
    if g.need(0) {
        b.mac(f)?;
        b.save(Saved::Input(1));
    }
    if g.need(1) {
        b.mac(f)?;
        b.save(Saved::Input(0));
    }
    if g.need(2) {
        b.add(g.out_numel(0)?)?;
    }
    Ok(())
}

/// MatMul and Einsum: each needed operand costs the forward's MACs and reads the others.
fn matmul(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let n = g.cx.inputs.len();
    for i in 0..n {
        if g.need(i) {
            b.mac(g.forward.macs)?;
            for j in (0..n).filter(|&j| j != i) {
                b.save(Saved::Input(j));
            }
        }
    }
    Ok(())
}

/// FusedMatMul: MatMul's, plus scaling dY once by alpha when alpha ≠ 1.
fn fused_matmul(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    matmul(g, b)?;
    if (g.need(0) || g.need(1)) && g.cx.node.attr_float("alpha", 1.0) != 1.0 {
        b.add(g.out_numel(0)?)?;
    }
    Ok(())
}

/// Gemm, Y = alpha·A'·B' + beta·C: dA and dB the forward's MACs each; alpha ≠ 1 scales dY
/// once (`numel(Y)`); dC sums dY over C's broadcast axes (`numel(Y)` adds when C is smaller)
/// and beta ≠ 1 scales it (`numel(C)`).
pub(super) fn gemm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let y = g.out_numel(0)?;
    matmul_pair(g, b)?;
    if (g.need(0) || g.need(1)) && g.cx.node.attr_float("alpha", 1.0) != 1.0 {
        b.add(y)?;
    }
    if g.need(2) {
        b.add(g.unbroadcast(2)?)?;
        if g.cx.node.attr_float("beta", 1.0) != 1.0 {
            b.add(g.cx.numel(2)?)?;
        }
    }
    Ok(())
}

/// The two operands of a binary product (inputs 0 and 1 only).
fn matmul_pair(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    for (i, other) in [(0, 1), (1, 0)] {
        if g.need(i) {
            b.mac(g.forward.macs)?;
            b.save(Saved::Input(other));
        }
    }
    Ok(())
}

/// The core of attention's backward, P = softmax(scale·QKᵀ), O = P·V, with `scores` =
/// B·H·L·S: dV = Pᵀ·dO (scores·dv MACs); for dQ or dK, dP = dO·Vᵀ (scores·dv), the softmax
/// backward dS = P·(dP − rowsum(P·dP)) (4 per score) and the scale (1 per score), then
/// dQ = dS·K and dK = dSᵀ·Q (scores·dk each). Saves P (the probabilities), which selective
/// recomputation drops for the cost of recomputing them: the scores product and the softmax
/// with its scale and mask (the forward's `scores·(6 + m)`).
#[allow(clippy::too_many_arguments)]
fn core(
    b: &mut Back,
    scores: u64,
    dk: u64,
    dv: u64,
    [q, k, v]: [bool; 3],
    mask: bool,
) -> Result<(), OpError> {
    if v {
        b.mac(mul(&[scores, dv])?)?;
    }
    if q || k {
        b.mac(mul(&[scores, dv])?)?;
        b.per(super::table::ATTENTION_SCORE_GRAD, scores)?;
        if q {
            b.mac(mul(&[scores, dk])?)?;
        }
        if k {
            b.mac(mul(&[scores, dk])?)?;
        }
    }
    if q || k || v {
        b.save(Saved::Scores {
            elems: scores,
            recompute: Cost::products(mul(&[scores, dk])?, mul(&[scores, 6 + u64::from(mask)])?)?,
        });
    }
    Ok(())
}

/// What an attention core's backward reads: Q, K, V (inputs 0–2) and the output, when any of
/// them needs a gradient.
fn save_qkv_out(b: &mut Back, needs: [bool; 3]) {
    if needs.iter().any(|&n| n) {
        for s in [
            Saved::Input(0),
            Saved::Input(1),
            Saved::Input(2),
            Saved::Output(0),
        ] {
            b.save(s);
        }
    }
}

/// ONNX Attention (opset 23): the core on Q, K, V (inputs 0–2); saves them and the output.
fn attention_onnx(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let d = onnx_dims(&g.cx)?;
    let scores = mul(&[d.b, d.h, d.l, d.s])?;
    let needs = [g.need(0), g.need(1), g.need(2)];
    core(b, scores, d.dk, d.dv, needs, g.cx.opt(3).is_some())?;
    save_qkv_out(b, needs);
    Ok(())
}

/// `com.microsoft::MultiHeadAttention`: as ONNX Attention; with packed QKV or self-attention
/// (no key input) K and V follow the query's need.
fn attention_mha(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let [bb, h, l, s, dk, dv] = mha_dims(&g.cx)?;
    let scores = mul(&[bb, h, l, s])?;
    let needs = if g.cx.opt(1).is_some() {
        [g.need(0), g.need(1), g.need(2)]
    } else {
        [g.need(0); 3]
    };
    core(b, scores, dk, dv, needs, g.cx.opt(4).is_some())?;
    save_qkv_out(b, needs);
    Ok(())
}

/// `com.microsoft::Attention` (input projection inside): the projection's dX and dW each its
/// forward MACs `B·L·Din·(2·Dq + Dv)`, its bias gradient `B·L·(2·Dq + Dv)` adds, and the core
/// with Q, K and V all needing a gradient. Saves X, the projected Q, K, V and the output.
fn attention_ms(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let (bb, l, din, h, dq, dv) = ms_attention_dims(&g.cx)?;
    let width = dq
        .checked_mul(2)
        .and_then(|x| x.checked_add(dv))
        .ok_or_else(crate::ops::overflow)?;
    let proj = mul(&[bb, l, din, width])?;
    if g.need(0) {
        b.mac(proj)?;
    }
    if g.need(1) {
        b.mac(proj)?;
        b.save(Saved::Input(0));
    }
    if g.need(2) {
        b.add(mul(&[bb, l, width])?)?;
    }
    if g.need(0) || g.need(1) {
        let scores = mul(&[bb, h, l, l])?;
        core(b, scores, dq / h, dv / h, [true; 3], g.cx.opt(3).is_some())?;
        b.save(Saved::Hidden(mul(&[bb, l, width])?));
        b.save(Saved::Output(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::*;
    use crate::ops::testutil::{a_int, a_ints, f32t};

    #[test]
    fn resnet_stem_conv_weight_gradient_only_for_a_graph_input() {
        // [1,3,224,224] * [64,3,7,7], stride 2, pad 3 → [1,64,112,112]: forward
        // 64·112·112·3·49 = 118,013,952 MACs. The image needs no gradient: dW alone, once the
        // forward; with the input gradient too, twice; the bias adds 64·112·112 = 802,816.
        let ins = [f32t(&[1, 3, 224, 224]), f32t(&[64, 3, 7, 7]), f32t(&[64])];
        let at = [
            a_ints("kernel_shape", &[7, 7]),
            a_ints("strides", &[2, 2]),
            a_ints("pads", &[3, 3, 3, 3]),
        ];
        let (m, f, saved) = back("", "Conv", &ins, &at, &[false, true, false]);
        assert_eq!((m, f), (118_013_952, 236_027_904));
        assert_eq!(saved, vec![Saved::Input(0)]);
        let (m, f, _) = back("", "Conv", &ins, &at, &[true, true, true]);
        assert_eq!((m, f), (236_027_904, 472_055_808 + 802_816));
    }

    #[test]
    fn depthwise_conv_backward_is_twice_its_forward_not_ten_times() {
        // MobileNetV2 depthwise 3×3 on [1,96,112,112], group 96, stride 2 → [1,96,56,56]:
        // forward 96·56·56·1·9 = 2,709,504 MACs; dX and dW the same each: 5,419,008.
        let ins = [f32t(&[1, 96, 112, 112]), f32t(&[96, 1, 3, 3])];
        let at = [
            a_ints("kernel_shape", &[3, 3]),
            a_ints("strides", &[2, 2]),
            a_ints("pads", &[1, 1, 1, 1]),
            a_int("group", 96),
        ];
        let (m, _, _) = back("", "Conv", &ins, &at, &[true, true]);
        assert_eq!(m, 5_419_008);
    }

    #[test]
    fn matmul_and_gemm_gradients() {
        // [2,4,8] × [8,5]: forward 2·4·8·5 = 320 MACs. dA reads B, dB reads A.
        let (m, f, saved) = back(
            "",
            "MatMul",
            &[f32t(&[2, 4, 8]), f32t(&[8, 5])],
            &[],
            &[true, true],
        );
        assert_eq!((m, f), (640, 1280));
        assert_eq!(saved, vec![Saved::Input(1), Saved::Input(0)]);
        // Gemm [3,8]·[5,8]ᵀ + C[5], alpha 2: 3·8·5 = 120 MACs per operand; alpha scales dY once
        // (15), dC sums dY's 15 elements over the rows (15 adds): 2·240 + 30 = 510 FLOPs.
        let ins = [f32t(&[3, 8]), f32t(&[5, 8]), f32t(&[5])];
        let at = [
            a_int("transB", 1),
            crate::ops::testutil::a_float("alpha", 2.0),
        ];
        let (m, f, _) = back("", "Gemm", &ins, &at, &[true, true, true]);
        assert_eq!((m, f), (240, 510));
        // The first layer's input needs nothing: only dB and dC.
        let (m, f, _) = back("", "Gemm", &ins, &at, &[false, true, true]);
        assert_eq!((m, f), (120, 240 + 15 + 15));
    }

    #[test]
    fn attention_four_products_and_softmax_backward() {
        // B 1, H 12, L = S = 128, dk = dv = 64: scores 196,608; forward 2·scores·64 =
        // 25,165,824 MACs. Backward: dV, dP, dQ, dK = 4·scores·64 = 50,331,648 MACs, and
        // 5 FLOPs per score (softmax backward 4 + scale 1) = 983,040.
        let q = f32t(&[1, 12, 128, 128 / 2]);
        let (m, f, saved) = back("", "Attention", &[q.clone(), q.clone(), q], &[], &[true; 3]);
        assert_eq!((m, f), (50_331_648, 100_663_296 + 983_040));
        assert!(saved.contains(&Saved::Scores {
            elems: 196_608,
            recompute: Cost {
                macs: 12_582_912,
                flops: 25_165_824 + 6 * 196_608
            }
        }));
        // Only V needs a gradient (Q and K frozen upstream): dV alone, no softmax backward.
        let q = f32t(&[1, 12, 128, 64]);
        let (m, f, _) = back(
            "",
            "Attention",
            &[q.clone(), q.clone(), q],
            &[],
            &[false, false, true],
        );
        assert_eq!((m, f), (12_582_912, 25_165_824));
    }
}
