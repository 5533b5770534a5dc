//! ONNX Runtime fused operators: the `com.microsoft` ops its graph optimizer writes (FusedConv,
//! FusedGemm, FusedMatMul, NhwcConv, the Gelu family, BiasAdd, BiasSplitGelu, BiasDropout) and
//! the `com.microsoft.nchwc` blocked-layout ops of `ORT_ENABLE_ALL` (Conv, the pools, Upsample,
//! ReorderInput, ReorderOutput). See `docs/counting.md`, "ONNX Runtime fused operators".
//! The transformer fusions (GroupQueryAttention, PackedAttention, QAttention,
//! EmbedLayerNormalization) are in `transformer.rs`, the quantized contrib ops (MatMulNBits,
//! MatMulInteger16, MatMulIntegerToFloat, DynamicQuantizeMatMul, DynamicQuantizeLSTM,
//! GatherBlockQuantized) in `quantized.rs`.
//!
//! Each op costs what the ops it fuses cost: a fused Conv or Gemm is the plain op's MACs and
//! FLOPs, plus the fused activation's FLOPs per output element (`unary_flops`), plus 1 per output
//! element for an added tensor. Reordering data costs 0.
//!
//! NCHWc: ONNX Runtime pads channel counts up to its block size (8 with AVX2, 16 with AVX-512)
//! and reorders the weights to `[Cout padded, Cin padded / group, kH, kW]`. The block size is
//! not written in the file, so `ReorderInput` keeps the channel count it is given, and an nchwc
//! `Conv` accepts an input with fewer channels than its weight (by less than 16) and counts
//! that input's channels: the model's real ones when the input comes from outside the blocked
//! part of the graph. Its output has the weight's (padded) channel count; a depthwise conv
//! counts only as many output channels as its input has.

use super::elementwise::unary_flops;
use super::{broadcast, conv, invalid, matmul, mul, numel, overflow, pool};
use super::{Cost, Ctx, OpDef, OpError, Shape, Tensor};
use crate::graph::DType;

mod quantized;
mod transformer;

/// The largest NCHWc block size (AVX-512): an nchwc tensor has fewer padding channels than this.
const MAX_BLOCK: u64 = 16;

/// Rules for the `com.microsoft` ops of this family.
pub fn lookup_ms(op: &str) -> Option<OpDef> {
    if let Some(def) = transformer::lookup(op).or_else(|| quantized::lookup(op)) {
        return Some(def);
    }
    Some(match op {
        "FusedConv" => OpDef {
            infer: infer_fused_conv,
            cost: cost_fused_conv,
        },
        "NhwcConv" | "NhwcFusedConv" => OpDef {
            infer: infer_nhwc_conv,
            cost: cost_nhwc_conv,
        },
        "FusedGemm" => OpDef {
            infer: infer_fused_gemm,
            cost: cost_fused_gemm,
        },
        "FusedMatMul" => OpDef {
            infer: infer_fused_matmul,
            cost: cost_fused_matmul,
        },
        "Gelu" | "FastGelu" | "BiasGelu" | "QuickGelu" | "BiasAdd" => OpDef {
            infer: infer_broadcast,
            cost: cost_per_element,
        },
        "BiasSplitGelu" => OpDef {
            infer: infer_bias_split_gelu,
            cost: cost_per_element,
        },
        "BiasDropout" => OpDef {
            infer: infer_bias_dropout,
            cost: cost_per_element,
        },
        _ => return None,
    })
}

/// Rules for the `com.microsoft.nchwc` ops.
pub fn lookup_nchwc(op: &str) -> Option<OpDef> {
    Some(match op {
        "Conv" => OpDef {
            infer: infer_nchwc_conv,
            cost: cost_nchwc_conv,
        },
        // Same attributes and windows as the ONNX pools, on `[N, C padded, H, W]`.
        "MaxPool" | "AveragePool" | "GlobalAveragePool" | "GlobalMaxPool" => {
            return pool::lookup(op)
        }
        "Upsample" => OpDef {
            infer: infer_nchwc_upsample,
            cost: cost_nchwc_upsample,
        },
        "ReorderInput" => OpDef {
            infer: infer_reorder_input,
            cost: super::no_cost,
        },
        "ReorderOutput" => OpDef {
            infer: infer_reorder_output,
            cost: super::no_cost,
        },
        _ => return None,
    })
}

/// The default-domain rule an op here builds on.
fn base(def: Option<OpDef>) -> Result<OpDef, OpError> {
    def.ok_or(OpError::Unknown)
}

/// The same node seen with other input tensors (a re-laid-out input).
fn with_inputs<'c>(cx: &Ctx<'c>, inputs: Vec<Option<&'c Tensor>>) -> Ctx<'c> {
    Ctx {
        node: cx.node,
        inputs,
        opset: cx.opset,
        bodies: cx.bodies,
        warnings: cx.warnings,
    }
}

/// FLOPs per element of the fused `activation` attribute: 0 when absent, otherwise the
/// elementwise count of that op (Relu 1, LeakyRelu 2, Clip 2, Sigmoid 4, HardSigmoid 4, …).
fn activation(cx: &Ctx) -> Result<u64, OpError> {
    match cx.node.attr_str("activation") {
        None => Ok(0),
        Some(a) => unary_flops(a, false)
            .ok_or_else(|| OpError::Invalid(format!("unsupported fused activation '{a}'"))),
    }
}

/// `base` plus `extra` FLOPs, checked.
fn plus(base: Cost, extra: u64) -> Result<Cost, OpError> {
    Ok(Cost {
        macs: base.macs,
        flops: base.flops.checked_add(extra).ok_or_else(overflow)?,
    })
}

/// Elements of output 0.
fn out_numel(outs: &[Tensor]) -> Result<u64, OpError> {
    numel(outs[0].shape.as_deref().ok_or(OpError::Unknown)?)
}

/// The group attribute, ≥ 1.
fn group(cx: &Ctx) -> Result<u64, OpError> {
    let g = cx.node.attr_int("group", 1);
    match u64::try_from(g) {
        Ok(g) if g >= 1 => Ok(g),
        _ => invalid(format!("group {g} must be ≥ 1")),
    }
}

/// Checks that the added tensor at input `i` (FusedConv's `Z`, nchwc Conv's `Sum`) has the
/// output's shape, except that on the channel axis `c` they may differ by less than `slack`
/// (1: not at all; the block padding for nchwc).
fn check_added(cx: &Ctx, i: usize, y: &Tensor, c: usize, slack: u64) -> Result<(), OpError> {
    let (Some(z), Some(y)) = (
        cx.opt(i).and_then(|t| t.shape.as_deref()),
        y.shape.as_deref(),
    ) else {
        return Ok(());
    };
    let fits = z.len() == y.len()
        && z.iter()
            .zip(y)
            .enumerate()
            .all(|(a, (&zd, &yd))| zd == yd || (a == c && zd.abs_diff(yd) < slack));
    if !fits {
        return invalid(format!(
            "the added input {i} has shape {z:?} but the output has {y:?}"
        ));
    }
    Ok(())
}

// ---- FusedConv, NhwcConv, NhwcFusedConv ------------------------------------------------------

fn infer_fused_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let outs = (base(conv::lookup("Conv"))?.infer)(&cx.select(&[0, 1, 2]))?;
    check_added(cx, 3, &outs[0], 1, 1)?;
    activation(cx)?;
    Ok(outs)
}

/// Conv's cost on X, W, B, plus the activation and the added `Z` per output element.
fn cost_fused_conv(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    let conv = (base(conv::lookup("Conv"))?.cost)(&cx.select(&[0, 1, 2]), outs)?;
    let per = activation(cx)? + u64::from(cx.opt(3).is_some());
    plus(
        conv,
        out_numel(outs)?.checked_mul(per).ok_or_else(overflow)?,
    )
}

/// `[N, spatial…, C]` → `[N, C, spatial…]`.
fn nhwc_to_nchw(s: &[u64]) -> Shape {
    let mut out = vec![s[0], s[s.len() - 1]];
    out.extend_from_slice(&s[1..s.len() - 1]);
    out
}

/// `[N, C, spatial…]` → `[N, spatial…, C]`.
fn nchw_to_nhwc(s: &[u64]) -> Shape {
    let mut out = vec![s[0]];
    out.extend_from_slice(&s[2..]);
    out.push(s[1]);
    out
}

/// X in channels-first order, for Conv's rules.
fn nchw_input(cx: &Ctx) -> Result<Tensor, OpError> {
    let x = cx.shape(0)?;
    if x.len() < 3 {
        return invalid(format!("input rank {} < 3", x.len()));
    }
    Ok(Tensor::new(cx.dtype(0)?, nhwc_to_nchw(x)))
}

fn infer_nhwc_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = nchw_input(cx)?;
    let sub = with_inputs(cx, vec![Some(&x), cx.opt(1), cx.opt(2)]);
    let outs = (base(conv::lookup("Conv"))?.infer)(&sub)?;
    let y = outs[0].shape.as_deref().ok_or(OpError::Unknown)?;
    let out = Tensor::new(outs[0].dtype, nchw_to_nhwc(y));
    let last = y.len() - 1;
    check_added(cx, 3, &out, last, 1)?;
    activation(cx)?;
    Ok(vec![out])
}

fn cost_nhwc_conv(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    let x = nchw_input(cx)?;
    let y = outs[0].shape.as_deref().ok_or(OpError::Unknown)?;
    let y = [Tensor::new(outs[0].dtype, nhwc_to_nchw(y))];
    let sub = with_inputs(cx, vec![Some(&x), cx.opt(1), cx.opt(2)]);
    let conv = (base(conv::lookup("Conv"))?.cost)(&sub, &y)?;
    let per = activation(cx)? + u64::from(cx.opt(3).is_some());
    plus(
        conv,
        out_numel(outs)?.checked_mul(per).ok_or_else(overflow)?,
    )
}

// ---- FusedGemm, FusedMatMul ------------------------------------------------------------------

fn infer_fused_gemm(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    activation(cx)?;
    (base(matmul::lookup("Gemm"))?.infer)(cx)
}

/// Gemm's cost plus the activation per output element.
fn cost_fused_gemm(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    let gemm = (base(matmul::lookup("Gemm"))?.cost)(cx, outs)?;
    let extra = out_numel(outs)?
        .checked_mul(activation(cx)?)
        .ok_or_else(overflow)?;
    plus(gemm, extra)
}

/// One FusedMatMul operand laid out as a plain MatMul one, `[batch…, rows, cols]`, as ONNX
/// Runtime's shape inference does: `transBatch` moves the first axis into the rows (the batch
/// is axes 1 … rank − 2), then `trans` swaps rows and cols. A vector is left as it is.
fn fused_operand(s: &[u64], trans: bool, trans_batch: bool) -> Shape {
    let r = s.len();
    if r < 2 {
        return s.to_vec();
    }
    let (batch, row) = if trans_batch {
        (&s[1..r - 1], s[0])
    } else {
        (&s[..r - 2], s[r - 2])
    };
    let mut out = batch.to_vec();
    if trans {
        out.extend([s[r - 1], row]);
    } else {
        out.extend([row, s[r - 1]]);
    }
    out
}

/// Output shape and (batch, M, K, N) of a FusedMatMul.
fn fused_matmul_dims(cx: &Ctx) -> Result<(Shape, [u64; 4]), OpError> {
    let flag = |name: &str| cx.node.attr_int(name, 0) != 0;
    let a = fused_operand(cx.shape(0)?, flag("transA"), flag("transBatchA"));
    let b = fused_operand(cx.shape(1)?, flag("transB"), flag("transBatchB"));
    matmul::matmul_dims(&a, &b)
}

fn infer_fused_matmul(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (out, _) = fused_matmul_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

/// MatMul's MACs; scaling by alpha ≠ 1 costs one FLOP per output element (as for Gemm).
fn cost_fused_matmul(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    let (_, d) = fused_matmul_dims(cx)?;
    let scale = if cx.node.attr_float("alpha", 1.0) != 1.0 {
        out_numel(outs)?
    } else {
        0
    };
    Cost::products(mul(&d)?, scale)
}

// ---- Gelu family, BiasAdd, BiasSplitGelu, BiasDropout ----------------------------------------

/// FLOPs per output element of the elementwise fusions.
///
/// Gelu (erf form) 5; FastGelu (tanh approximation) 9, +1 with its bias; BiasGelu 1 + 5;
/// QuickGelu x·sigmoid(alpha·x) = 4 + 1, +1 when alpha ≠ 1 (default 1.702); BiasAdd 2 (bias
/// and skip); BiasSplitGelu, per output element (half the input's last axis): 2 bias adds
/// (both halves) + 5 (Gelu of the right half) + 1 (the product); BiasDropout 1 (bias) + 1
/// with the residual (the dropout itself costs 0, as ONNX Dropout does).
fn per_element(cx: &Ctx) -> Result<u64, OpError> {
    let gelu = unary_flops("Gelu", false).ok_or(OpError::Unknown)?;
    let gelu_tanh = unary_flops("Gelu", true).ok_or(OpError::Unknown)?;
    let sigmoid = unary_flops("Sigmoid", false).ok_or(OpError::Unknown)?;
    let given = |i: usize| u64::from(cx.opt(i).is_some());
    Ok(match cx.node.op_type.as_str() {
        "Gelu" => gelu,
        "FastGelu" => gelu_tanh + given(1),
        "BiasGelu" => 1 + gelu,
        "QuickGelu" => sigmoid + 1 + u64::from(cx.node.attr_float("alpha", 1.702) != 1.0),
        "BiasAdd" => 2,
        "BiasSplitGelu" => 2 + gelu + 1,
        "BiasDropout" => 1 + given(2),
        _ => 0,
    })
}

/// Cost of an elementwise fusion: [`per_element`] × output elements; 0 on non-float input.
fn cost_per_element(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    if !cx.dtype(0)?.is_float() {
        return Ok(Cost::default());
    }
    let n = out_numel(outs)?;
    Ok(Cost::flops(
        n.checked_mul(per_element(cx)?).ok_or_else(overflow)?,
    ))
}

/// The broadcast shape of the given inputs among the first `count` (the data and its
/// bias and skip/residual).
fn broadcast_inputs(cx: &Ctx, count: usize) -> Result<Shape, OpError> {
    let mut out = cx.shape(0)?.to_vec();
    for i in 1..count {
        if cx.opt(i).is_some() {
            out = broadcast(&out, cx.shape(i)?)?;
        }
    }
    Ok(out)
}

fn infer_broadcast(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let count = match cx.node.op_type.as_str() {
        "Gelu" | "QuickGelu" => 1,
        "BiasAdd" => {
            cx.input(1)?;
            cx.input(2)?;
            3
        }
        "BiasGelu" => {
            cx.input(1)?;
            2
        }
        _ => 2,
    };
    let out = broadcast_inputs(cx, count)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn infer_bias_split_gelu(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let bias = cx.shape(1)?;
    let d = *x
        .last()
        .ok_or_else(|| OpError::Invalid("input must have rank ≥ 1".into()))?;
    if bias != [d] || d % 2 != 0 {
        return invalid(format!(
            "input {x:?} needs an even last axis and a bias of that size, got bias {bias:?}"
        ));
    }
    let mut out = x.to_vec();
    if let Some(l) = out.last_mut() {
        *l = d / 2;
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn infer_bias_dropout(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    cx.input(1)?;
    let out = broadcast_inputs(cx, 3)?;
    Ok(vec![
        Tensor::new(cx.dtype(0)?, out.clone()),
        Tensor::new(DType::Bool, out),
    ])
}

// ---- com.microsoft.nchwc ---------------------------------------------------------------------

/// An nchwc Conv's input widened to the channels its weight expects (`W[1] · group`): the
/// input may carry fewer, when it comes unpadded from outside the blocked graph.
fn nchwc_padded_input(cx: &Ctx) -> Result<Tensor, OpError> {
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    if x.len() < 3 || w.len() < 2 {
        return invalid(format!("input {x:?} and weight {w:?} need rank ≥ 3"));
    }
    let expected = w[1].checked_mul(group(cx)?).ok_or_else(overflow)?;
    if x[1] > expected || expected - x[1] >= MAX_BLOCK {
        return invalid(format!(
            "input has {} channels but the weight {w:?} expects {expected} (block padding \
             adds fewer than {MAX_BLOCK})",
            x[1]
        ));
    }
    let mut s = x.to_vec();
    s[1] = expected;
    Ok(Tensor::new(cx.dtype(0)?, s))
}

fn infer_nchwc_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = nchwc_padded_input(cx)?;
    let sub = with_inputs(cx, vec![Some(&x), cx.opt(1), cx.opt(2)]);
    let outs = (base(conv::lookup("Conv"))?.infer)(&sub)?;
    check_added(cx, 3, &outs[0], 1, MAX_BLOCK)?;
    activation(cx)?;
    Ok(outs)
}

/// MACs = N · C'out · Π(out) · C'in · Π(kernel), with C'in = X's channels for a plain conv
/// (group 1), 1 for a depthwise conv, and `W[1]` for other grouped convs (ONNX Runtime only
/// blocks those when every group is block-aligned); C'out = `W[0]`, or X's channels for a
/// depthwise conv. The bias, the activation and the `Sum` input (input 3) add their FLOPs per
/// counted output element `N · C'out · Π(out)`.
fn cost_nchwc_conv(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    let y = outs[0].shape.as_deref().ok_or(OpError::Unknown)?;
    if w.len() < 2 || y.len() < 2 || x.len() < 2 {
        return Err(OpError::Unknown);
    }
    let g = group(cx)?;
    let depthwise = g > 1 && w[1] == 1 && g == w[0];
    let (c_out, c_in) = if depthwise {
        (x[1].min(w[0]), 1)
    } else if g == 1 {
        (w[0], x[1])
    } else {
        (w[0], w[1])
    };
    let outputs = mul(&[y[0], c_out, mul(&y[2..])?])?;
    let macs = mul(&[outputs, c_in, mul(&w[2..])?])?;
    let per = u64::from(cx.opt(2).is_some()) + activation(cx)? + u64::from(cx.opt(3).is_some());
    Cost::products(macs, outputs.checked_mul(per).ok_or_else(overflow)?)
}

/// Output: each axis times its integer `scales` entry.
fn infer_nchwc_upsample(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let scales = cx
        .node
        .attr_ints("scales")
        .ok_or_else(|| OpError::Invalid("missing 'scales' attribute".into()))?;
    if scales.len() != x.len() || scales.iter().any(|&s| s < 1) {
        return invalid(format!("scales {scales:?} do not fit input {x:?}"));
    }
    let out = x
        .iter()
        .zip(scales)
        .map(|(&d, &s)| d.checked_mul(s.unsigned_abs()).ok_or_else(overflow))
        .collect::<Result<Shape, _>>()?;
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

/// Resize's cost for the same `mode` (nearest 0, linear 3 · (2^d − 1) per output element).
fn cost_nchwc_upsample(cx: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    (base(pool::lookup("Resize"))?.cost)(cx, outs)
}

/// `[N, C, spatial…]` (or `[N, spatial…, C]` with `channels_last`) → `[N, C, spatial…]`. The
/// channels keep the count given: ONNX Runtime pads them to its block size, which the file does
/// not record (and the Conv reading this input takes the padded count from its weight).
fn infer_reorder_input(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    if x.len() < 2 {
        return invalid(format!("input rank {} < 2", x.len()));
    }
    let out = if cx.node.attr_int("channels_last", 0) != 0 {
        nhwc_to_nchw(x)
    } else {
        x.to_vec()
    };
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

/// `[N, C padded, spatial…]` → `[N, channels, spatial…]` (or `[N, spatial…, channels]` with
/// `channels_last`), `channels` being the model's real count (≤ C padded).
fn infer_reorder_output(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    if x.len() < 2 {
        return invalid(format!("input rank {} < 2", x.len()));
    }
    let c = cx.node.attr_int("channels", 0);
    let c = match u64::try_from(c) {
        Ok(c) if c >= 1 && c <= x[1] => c,
        _ => {
            return invalid(format!(
                "channels {c} must be ≥ 1 and at most the input's {}",
                x[1]
            ))
        }
    };
    let mut s = x.to_vec();
    s[1] = c;
    let out = if cx.node.attr_int("channels_last", 0) != 0 {
        nchw_to_nhwc(&s)
    } else {
        s
    };
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_quantized;
#[cfg(test)]
mod tests_transformer;
