//! Rules for the `aten` domain: PyTorch operators from a traced module (see `load::trace`)
//! that have no ONNX counterpart with the same meaning. Every value of a trace carries the
//! shape PyTorch computed, so these rules give no output shape (the traced one is used) and
//! only say what the operator costs.
//!
//! - Data movement (views, copies, indexing, padding, factories): 0 FLOPs.
//! - `_grouped_mm` (mixture-of-experts expert matmuls): one MAC per output element per
//!   reduced element, as MatMul.
//! - `adaptive_avg_pool*`: each output sums its window and divides once (AveragePool's and
//!   GlobalAveragePool's convention, which it equals when the windows tile the input);
//!   `adaptive_max_pool*`: one comparison per window element.
//! - `histc`, `bincount`, `argmax`/`argmin` over all elements, `cumprod`, `_unique2` and its
//!   kin (ONNX Unique's count), `all`/`any` (ONNX And/Or's) and the elementwise functions of
//!   `ONE_PER_ELEMENT`: one operation per input element; `var`/`std`: 4 (mean, difference,
//!   square, sum); `log_sigmoid_forward`: 5 (Sigmoid's 4 and a log);
//!   `addcmul`/`addcdiv`/`lerp`/`mse_loss`: 3 per element of the largest input.
//! - `scatter_reduce` (and `scatter` with a `reduce`): one operation per index element, each
//!   combining one value into the output; `mean` adds a division per output element.
//! - The backward kernels autograd runs in a training step (`docs/training-python.md`,
//!   "What each backward operator costs"): a product's gradients are products of the same
//!   size as the forward one, each counted only when autograd asked for it (an output the
//!   call did not produce is absent from the node); the other kernels cost the arithmetic of
//!   their formula per element.

use super::backward::table;
use super::{mul, no_cost, numel, Cost, Ctx, OpDef, OpError, Tensor};

/// Operators that move, copy, index or create data without arithmetic.
const MOVES: &[&str] = &[
    // Random numbers and factories: no arithmetic on the model's data.
    "bernoulli",
    "exponential_",
    "linspace",
    "normal_",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "uniform_",
    // Reordering and padding.
    "channel_shuffle",
    "col2im",
    "im2col",
    "pixel_shuffle",
    "pixel_unshuffle",
    "reflection_pad1d",
    "reflection_pad2d",
    "reflection_pad3d",
    "replication_pad1d",
    "replication_pad2d",
    "replication_pad3d",
    "rot90",
    // Gradients of views and indexing: the gradient written into zeros, no arithmetic.
    "select_backward",
    "slice_backward",
    "diagonal_backward",
    "unfold_backward",
    "as_strided_scatter",
    "new_zeros_like",
    "unsafe_chunk",
    "unsafe_split",
    "unsafe_split_with_sizes",
    "view_as_complex",
    "view_as_real",
    "_reshape_alias",
    "_to_copy",
    "_unsafe_view",
    "alias",
    "arange",
    "as_strided",
    "as_strided_",
    // Indexing without bounds checks (what decompositions of indexing and interpolation
    // call), the positions of non-zeros (ONNX NonZero) and a scatter that only writes
    // (ONNX ScatterElements; with a reduction it is `scatter_reduce`, see `load::aten`).
    "_unsafe_index",
    "_unsafe_index_put",
    "_unsafe_masked_index",
    "nonzero",
    "scatter",
    // A value written at given indices (torchvision's detection heads), an identity matrix.
    "index_fill",
    "eye",
    // What attention kernels return besides their output (log-sum-exp, RNG state): written by
    // the kernel, no arithmetic of their own (see `load::aten`).
    "attention_stats",
    "cat",
    "clone",
    "constant_pad_nd",
    "contiguous",
    "copy",
    "copy_",
    "detach",
    "diagonal",
    "empty",
    "empty_like",
    "empty_strided",
    "expand",
    "fill_",
    "flip",
    "full",
    "full_like",
    "gather",
    "index",
    "index_put",
    "index_put_",
    "index_select",
    "lift_fresh",
    "lift_fresh_copy",
    "narrow",
    "new_empty",
    "new_full",
    "new_ones",
    "new_zeros",
    "ones",
    "ones_like",
    "permute",
    "repeat",
    "repeat_interleave",
    "roll",
    "scalar_tensor",
    "select",
    "slice",
    "slice_scatter",
    "select_scatter",
    "split",
    "split_with_sizes",
    "squeeze",
    "stack",
    "t",
    "transpose",
    "tril",
    "triu",
    "unbind",
    "unfold",
    "unsqueeze",
    "view",
    "zero_",
    "zeros",
    "zeros_like",
];

/// Rules of the `aten` domain.
pub fn lookup(op: &str) -> Option<OpDef> {
    let cost: fn(&Ctx, &[Tensor]) -> Result<Cost, OpError> = match op {
        "_grouped_mm" => grouped_mm,
        "adaptive_avg_pool" => adaptive_avg,
        "adaptive_max_pool" => adaptive_max,
        "histc" | "bincount" | "argmax" | "argmin" | "cumprod" => per_input,
        // As ONNX Unique: one comparison per input element.
        "_unique" | "_unique2" | "unique_dim" | "unique_consecutive" => per_input,
        // A logical AND (OR) per input element, as ONNX And (Or).
        "all" | "any" => per_input,
        _ if ONE_PER_ELEMENT.contains(&op) => per_input,
        "addcmul" | "addcdiv" | "lerp" => three_per_output,
        "var" | "std" | "var_mean" | "std_mean" => four_per_input,
        "mse_loss" => three_per_output,
        "log_sigmoid_forward" => five_per_input,
        "nll_loss_forward" | "nll_loss2d_forward" => per_target,
        "nll_loss_backward" | "nll_loss2d_backward" => per_target_backward,
        "convolution_backward" => conv_backward,
        "batch_norm_backward" => batch_norm_backward,
        "layer_norm_backward" => layer_norm_backward,
        "rms_norm_backward" => rms_norm_backward,
        "attention_backward" => attention_backward,
        "avg_pool_backward" => avg_pool_backward,
        "adaptive_avg_pool_backward" => adaptive_avg,
        "gelu_backward" => gelu_backward,
        "scatter_add" | "index_add" => per_source,
        "scatter_reduce" => scatter_reduce,
        _ if backward_per_element(op).is_some() => pointwise_backward,
        _ if MOVES.contains(&op) => no_cost,
        _ => return None,
    };
    Some(OpDef {
        infer: as_traced,
        cost,
    })
}

/// Elementwise functions with no ONNX twin: one operation per element.
const ONE_PER_ELEMENT: &[&str] = &[
    "deg2rad",
    "erfc",
    "erfinv",
    "exp2",
    "expm1",
    "frac",
    "lgamma",
    "digamma",
    "log10",
    "log1p",
    "log2",
    "rad2deg",
    "sgn",
    "signbit",
    "sinc",
    "threshold",
    "trunc",
    "atan2",
    "hypot",
    "logit",
];

/// Operators whose outputs are views of their first input (no memory of their own).
const VIEWS: &[&str] = &[
    "_reshape_alias",
    "_unsafe_view",
    "alias",
    "as_strided",
    "detach",
    "diagonal",
    "expand",
    "lift_fresh",
    "narrow",
    "permute",
    "select",
    "slice",
    "split",
    "split_with_sizes",
    "squeeze",
    "t",
    "transpose",
    "unbind",
    "unfold",
    "unsqueeze",
    "view",
    "view_as_complex",
    "view_as_real",
];

/// Whether an `aten` operator returns views of its first input, sharing its memory.
pub fn is_view(op: &str) -> bool {
    VIEWS.contains(&op)
}

/// Whether an `aten` operator is pure data movement (the trace maps it without arithmetic).
pub fn is_move(op: &str) -> bool {
    MOVES.contains(&op)
}

/// The outputs keep the shapes the trace recorded.
fn as_traced(_: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![])
}

/// `_grouped_mm(a, b, offs)`: a [M, K] × b [G, K, N] (rows grouped by `offs`) → [M, N];
/// a [G, M, K] × b [G, K, N] → [G, M, N]; a [M, K] × b [K, N] grouped along K → [G, M, N].
fn grouped_mm(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (a, b) = (cx.shape(0)?, cx.shape(1)?);
    let macs = match (a, b) {
        ([m, k], [_, k2, n]) if k == k2 => mul(&[*m, *k, *n])?,
        ([g, m, k], [g2, k2, n]) if g == g2 && k == k2 => mul(&[*g, *m, *k, *n])?,
        ([m, k], [k2, n]) if k == k2 => mul(&[*m, *k, *n])?,
        _ => {
            return super::invalid(format!(
                "_grouped_mm of {a:?} and {b:?}: the reduced dims differ"
            ))
        }
    };
    Cost::products(macs, 0)
}

/// Sum over output positions of their window's size, per spatial axis: PyTorch's adaptive
/// windows run from ⌊i·In/Out⌋ to ⌈(i+1)·In/Out⌉.
fn windows(cx: &Ctx) -> Result<(u64, u64), OpError> {
    let x = cx.shape(0)?;
    let out = cx.node.attr_ints("output_size").unwrap_or(&[]);
    if out.is_empty() || out.len() > x.len() {
        return super::invalid(format!("output_size {out:?} for input {x:?}"));
    }
    let lead = &x[..x.len() - out.len()];
    let mut total = numel(lead)?;
    let mut outputs = total;
    for (&i, &o) in x[x.len() - out.len()..].iter().zip(out) {
        // Bounded so that a hostile trace cannot make this loop run for hours.
        let o = u64::try_from(o)
            .ok()
            .filter(|&o| o > 0 && o <= 1 << 20 && i <= 1 << 40)
            .ok_or_else(|| OpError::Invalid(format!("output size {o} for input size {i}")))?;
        let covered: u64 = (0..o).map(|j| ((j + 1) * i).div_ceil(o) - j * i / o).sum();
        total = mul(&[total, covered])?;
        outputs = mul(&[outputs, o])?;
    }
    Ok((total, outputs))
}

fn per_input(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(cx.numel(0)?))
}

fn four_per_input(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(mul(&[cx.numel(0)?, 4])?))
}

fn five_per_input(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(mul(&[cx.numel(0)?, 5])?))
}

/// Three operations per element of the largest input (the broadcast output): `addcmul`'s
/// `self + value·t1·t2`, `lerp`'s `a + w·(b − a)`, `mse_loss`'s difference, square and sum.
fn three_per_output(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let n = (0..cx.inputs.len())
        .filter_map(|i| cx.opt(i).and_then(|t| t.shape.as_deref()).map(numel))
        .try_fold(0u64, |m, n| n.map(|n| m.max(n)))?;
    Ok(Cost::flops(mul(&[n, 3])?))
}

fn adaptive_avg(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (summed, outputs) = windows(cx)?;
    Ok(Cost::flops(
        summed.checked_add(outputs).ok_or_else(super::overflow)?,
    ))
}

fn adaptive_max(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(windows(cx)?.0))
}

/// FLOPs per element of the gradient for the elementwise backward kernels, from the shared
/// table (`ops::backward::table`, each constant derived there) that the ONNX-derived backward
/// reads too. `embedding_dense_backward` and `max_pool*_with_indices_backward` add each
/// gradient element into its row or its window's maximum.
pub fn backward_per_element(op: &str) -> Option<u64> {
    Some(match op {
        "threshold_backward" => table::RELU,
        "embedding_dense_backward" => table::SCATTER_ADD,
        _ if op.starts_with("max_pool") && op.ends_with("_with_indices_backward") => {
            table::SCATTER_ADD
        }
        "hardtanh_backward" => table::CLIP,
        "leaky_relu_backward" => table::LEAKY_RELU,
        "native_dropout_backward" => table::DROPOUT,
        "sigmoid_backward" => table::SIGMOID,
        "tanh_backward" => table::TANH,
        "hardsigmoid_backward" => table::HARD_SIGMOID,
        "mse_loss_backward" => table::MSE,
        "_softmax_backward_data" | "_log_softmax_backward_data" => table::SOFTMAX,
        "elu_backward" => table::ELU,
        "hardswish_backward" => table::HARD_SWISH,
        "softplus_backward" => table::SOFTPLUS,
        "silu_backward" => table::SILU,
        _ => return None,
    })
}

/// Per element of the gradient, which is input 0 (`grad_output`) of the kernel; but
/// `mse_loss_backward(grad_output, self, target)` under `mean` or `sum` gets a 0-d
/// `grad_output`: its gradient has the size of `self`, input 1.
fn pointwise_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let k = backward_per_element(&cx.node.op_type).unwrap_or(1);
    let n = if cx.node.op_type == "mse_loss_backward" {
        cx.numel(1)?
    } else {
        cx.numel(0)?
    };
    Ok(Cost::flops(mul(&[n, k])?))
}

/// `gelu_backward(dy, x)`: `dy·(Φ(x) + x·φ(x))`, erf or tanh form (`table::GELU_*`).
fn gelu_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let k = if cx.node.attr_str("approximate") == Some("tanh") {
        table::GELU_TANH
    } else {
        table::GELU_ERF
    };
    Ok(Cost::flops(mul(&[cx.numel(0)?, k])?))
}

/// Whether the backward call produced output `i` (autograd asks only for the gradients that
/// something needs; the others are absent).
fn produced(cx: &Ctx, i: usize) -> bool {
    cx.node.outputs.get(i).copied().flatten().is_some()
}

/// `convolution_backward(dy, x, w)` → (dx, dw, db), each present only when asked for. dx is
/// the transposed convolution of dy by w and dw the correlation of x with dy: each the
/// forward's products, `numel(Y)·Π(W.shape[1:])` MACs (`numel(X)·…` for a transposed
/// convolution, whose Y is the input gradient's shape); db sums dy: `numel(dy)` FLOPs.
fn conv_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let w = cx.shape(2)?;
    let per = numel(w.get(1..).unwrap_or(&[]))?;
    let positions = if cx.node.attr_int("transposed", 0) != 0 {
        cx.numel(1)?
    } else {
        cx.numel(0)?
    };
    let forward = mul(&[positions, per])?;
    let products = (produced(cx, 0) as u64) + (produced(cx, 1) as u64);
    let bias = if produced(cx, 2) { cx.numel(0)? } else { 0 };
    Cost::products(mul(&[forward, products])?, bias)
}

/// `native_batch_norm_backward(dy, x, w)` → (dx, dw, db), per element of x. Training mode
/// (batch statistics): `table::batch_norm`, 9 whenever dx is asked for (dw and db are its
/// sums), else db 1 and dw 4. Eval mode (running statistics, constants): `dx = dy·w·σ⁻¹`
/// with the factor per channel, 1, plus db 1 and dw 4.
fn batch_norm_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let n = cx.numel(1)?;
    let (dx, dw, db) = (produced(cx, 0), produced(cx, 1), produced(cx, 2));
    let per = if cx.node.attr_int("training", 1) != 0 {
        table::batch_norm(dx, dw, db)
    } else {
        dx as u64 + table::batch_norm(false, dw, db)
    };
    Ok(Cost::flops(mul(&[n, per])?))
}

/// `native_layer_norm_backward(dy, x, w)` → (dx, dw, db), per element of x (also group
/// norm's, over its groups), from `table`: x̂ 2 when dx or dw is asked for; dx 7, + 1 with a
/// weight; dw 2; db 1. All three with a weight: 13.
fn layer_norm_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let n = cx.numel(1)?;
    let (dx, dw, db) = (produced(cx, 0), produced(cx, 1), produced(cx, 2));
    let weight = cx.opt(2).is_some();
    let per = table::NORM_XHAT * (dx || dw) as u64
        + if dx { table::norm_dx(false, weight) } else { 0 }
        + table::NORM_DGAMMA * dw as u64
        + table::NORM_DBETA * db as u64;
    Ok(Cost::flops(mul(&[n, per])?))
}

/// `_fused_rms_norm_backward(dy, x, w)` → (dx, dw), per element of x, from `table`: `x̂ = x·r`
/// 1; dx 5, + 1 with a weight; dw 2.
fn rms_norm_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let n = cx.numel(1)?;
    let (dx, dw) = (produced(cx, 0), produced(cx, 1));
    let weight = cx.opt(2).is_some();
    let per = table::RMS_XHAT * (dx || dw) as u64
        + if dx { table::norm_dx(true, weight) } else { 0 }
        + table::NORM_DGAMMA * dw as u64;
    Ok(Cost::flops(mul(&[n, per])?))
}

/// The backward of a fused scaled-dot-product attention kernel, `(dO, Q, K, V)` →
/// (dQ, dK, dV): Q `[…, L, dk]`, K `[…, S, dk]`, V `[…, S, dv]` (`[B, L, H, d]` with the
/// attribute `bmhk`, the layout of `_efficient_attention_backward` and
/// `_flash_attention_backward`), `scores = B·H·L·S` over the query heads. The products:
/// `dV = Pᵀ·dO` (scores·dv) when dV is asked for; `dP = dO·Vᵀ` (scores·dv), then
/// `dQ = dS·K` and `dK = dSᵀ·Q` (scores·dk each) for those asked for; the softmax gradient
/// and the scale (`table::ATTENTION_SCORE_GRAD` per score) whenever dQ or dK is. A kernel
/// that kept no probabilities (attribute `recompute`: it was handed the log-sum-exp, as
/// every PyTorch flash, memory-efficient and cuDNN kernel is) first recomputes them, as
/// FlashAttention's backward and `FlopCounterMode` count: `S = Q·Kᵀ` (scores·dk) and
/// `P = exp(scale·S − lse)` (`table::ATTENTION_RECOMPUTE` per score). All three gradients:
/// `scores·(3·dk + 2·dv)` MACs with the recomputation, `2·scores·(dk + dv)` without.
fn attention_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (q, k, v) = (cx.shape(1)?, cx.shape(2)?, cx.shape(3)?);
    let bmhk = cx.node.attr_int("bmhk", 0) != 0;
    let (min, seq) = if bmhk { (3, 3) } else { (2, 2) };
    if q.len() < min || k.len() < min || v.len() < min {
        return super::invalid(format!("attention of {q:?}, {k:?}, {v:?}"));
    }
    let (l, dk) = (q[q.len() - seq], q[q.len() - 1]);
    let s = k[k.len() - seq];
    let dv = v[v.len() - 1];
    // Batch and heads: every axis but the sequence and the head size.
    let batch_heads: Vec<u64> = q
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != q.len() - seq && i != q.len() - 1)
        .map(|(_, &d)| d)
        .collect();
    let scores = mul(&[numel(&batch_heads)?, l, s])?;
    let (dq, dkk, dvv) = (produced(cx, 0), produced(cx, 1), produced(cx, 2));
    let ds = dq || dkk;
    let again = cx.node.attr_int("recompute", 0) != 0 && (ds || dvv);
    let per_score =
        dvv as u64 * dv + ds as u64 * dv + dq as u64 * dk + dkk as u64 * dk + again as u64 * dk;
    let macs = mul(&[scores, per_score])?;
    let per = ds as u64 * table::ATTENTION_SCORE_GRAD + again as u64 * table::ATTENTION_RECOMPUTE;
    Cost::products(macs, mul(&[scores, per])?)
}

/// `avg_pool*_backward(dy, x)`: each gradient element divided by its window's size and added
/// into the window: `numel(dy)·(Π(kernel) + 1)`, AveragePool's count.
fn avg_pool_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let k = cx.node.attr_ints("kernel_shape").unwrap_or(&[]);
    let window = k
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(u64::try_from(d).unwrap_or(0)))
        .ok_or_else(super::overflow)?;
    Ok(Cost::flops(mul(&[
        cx.numel(0)?,
        window.checked_add(1).ok_or_else(super::overflow)?,
    ])?))
}

/// `nll_loss_forward(logp, target)`: one gathered value added per target, `numel(target)`.
fn per_target(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(cx.numel(1)?))
}

/// `nll_loss_backward(dy, logp, target, weight)`: `−w·dy/total` written at each target,
/// `table::nll_per_label` (1, + 1 with class weights, + 1 for `mean`, ATen's reduction 1).
fn per_target_backward(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let weighted = cx.opt(3).is_some();
    let mean = cx.node.attr_int("reduction", 1) == 1;
    Ok(Cost::flops(mul(&[
        cx.numel(2)?,
        table::nll_per_label(weighted, mean),
    ])?))
}

/// `scatter_add(self, index, src)`, `index_add(self, index, source)`: one add per source
/// element.
fn per_source(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(cx.numel(2)?))
}

/// `scatter_reduce(self, index, src)`: each index element combines one value into the
/// output (a sum, product, maximum or minimum), `numel(index)`; `mean` then divides every
/// output element by its count, `+ numel(self)`.
fn scatter_reduce(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let mean = cx.node.attr_str("reduce") == Some("mean");
    let divisions = if mean { cx.numel(0)? } else { 0 };
    let f = cx
        .numel(1)?
        .checked_add(divisions)
        .ok_or_else(super::overflow)?;
    Ok(Cost::flops(f))
}
