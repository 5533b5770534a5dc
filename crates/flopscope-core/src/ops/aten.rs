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
//! - `histc`, `bincount`, `argmax`/`argmin` over all elements, `cumprod` and the elementwise
//!   functions of `ONE_PER_ELEMENT`: one operation per input element; `var`/`std`: 4 (mean,
//!   difference, square, sum); `log_sigmoid_forward`: 5 (Sigmoid's 4 and a log);
//!   `addcmul`/`addcdiv`/`lerp`/`mse_loss`: 3 per element of the largest input.

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
        _ if ONE_PER_ELEMENT.contains(&op) => per_input,
        "addcmul" | "addcdiv" | "lerp" => three_per_output,
        "var" | "std" | "var_mean" | "std_mean" => four_per_input,
        "mse_loss" => three_per_output,
        "log_sigmoid_forward" => five_per_input,
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
