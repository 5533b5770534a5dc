//! Sizes known only at run time. When an operator's shape depends on the *values* of an input
//! computed at run time (a Reshape target, Slice bounds, Resize scales, a Range's limits) and
//! those values are not known, its rule reports them unknown; the inference pass then asks
//! [`infer`] here for outputs whose unknown sizes are symbols named after the node
//! (`Reshape_3.d1`). A size that the input bounds (a slice of an axis) is counted at that bound;
//! a free one at 1 (see [`super::Bodies::free_dim`]). Either way the formulas keep the symbol
//! and `--dim Reshape_3.d1=N` binds it, so the graph after the node is counted, not dropped.
//! `docs/counting.md`, "Sizes known only at run time", lists the operators.

use super::{axis, data_dim, Ctx, OpError, Tensor};
use crate::graph::{Attr, DType};

/// Outputs of `cx`'s node with run-time sizes as symbols; `None` when the operator's output
/// rank itself is unknown (or it is not one of these operators).
pub(crate) fn infer(cx: &Ctx) -> Option<Result<Vec<Tensor>, OpError>> {
    let op = cx.node.op_type.as_str();
    if !matches!(cx.node.domain.as_str(), "" | "ai.onnx") {
        return None;
    }
    Some(match op {
        "Reshape" if cx.opset >= 5 => reshape(cx),
        "Slice" if cx.opset >= 10 => slice(cx),
        "Expand" => expand(cx),
        "Tile" => same_rank(cx, None),
        "Pad" if cx.opset >= 11 => pad(cx),
        "Resize" | "Upsample" => resize(cx),
        "ConstantOfShape" => constant_of_shape(cx),
        "Range" => range(cx),
        "OneHot" => one_hot(cx),
        "Split" => split(cx),
        _ => return None,
    })
}

/// One symbol per listed axis, `<node>.d<axis>`, at most `bound(axis)` when given. Every one
/// is asked before any is missed, so the profile binds them all in one pass.
fn dims(
    cx: &Ctx,
    axes: &[usize],
    bound: impl Fn(usize) -> Option<u64>,
) -> Result<Vec<u64>, OpError> {
    let got: Vec<Result<u64, OpError>> = axes
        .iter()
        .map(|&a| data_dim(cx, &format!("d{a}"), bound(a)))
        .collect();
    got.into_iter().collect()
}

/// Length of the 1-D input `i` (a shape, a list of axes).
fn len_of(cx: &Ctx, i: usize) -> Result<usize, OpError> {
    match cx.shape(i)? {
        [] => Ok(1),
        [n] => usize::try_from(*n).map_err(|_| super::overflow()),
        s => super::invalid(format!("input {i} {s:?} must be 1-D")),
    }
}

/// Axes listed by the values of optional input `i`: all `rank` axes when absent or unknown.
fn axes_input(cx: &Ctx, i: usize, rank: usize) -> Result<Vec<usize>, OpError> {
    match cx.opt(i).and_then(|t| t.value.as_deref()) {
        Some(v) => v.to_ints().iter().map(|&a| axis(a, rank)).collect(),
        None => Ok((0..rank).collect()),
    }
}

/// The target's length is the output rank; one element keeps every element: exact.
fn reshape(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let k = len_of(cx, 1)?;
    let s = if k == 1 {
        vec![super::numel(x)?]
    } else {
        dims(cx, &(0..k).collect::<Vec<_>>(), |_| None)?
    };
    Ok(vec![Tensor::new(cx.dtype(0)?, s)])
}

/// Sliced axes are at most their input size; the others keep it.
fn slice(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let axes = match cx.opt(3) {
        None => (0..len_of(cx, 1)?.min(x.len())).collect(),
        Some(_) => axes_input(cx, 3, x.len())?,
    };
    let got = dims(cx, &axes, |a| Some(x[a]))?;
    let mut s = x.to_vec();
    for (&a, d) in axes.iter().zip(got) {
        s[a] = d;
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, s)])
}

/// Broadcast of the input against a target of known length: an input axis above 1 fixes the
/// output's; the others are free.
fn expand(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let r = x.len().max(len_of(cx, 1)?);
    let at = |i: usize| (i + x.len()).checked_sub(r).map(|j| x[j]);
    let free: Vec<usize> = (0..r).filter(|&i| at(i).is_none_or(|d| d == 1)).collect();
    let got = dims(cx, &free, |_| None)?;
    let mut s: Vec<u64> = (0..r).map(|i| at(i).unwrap_or(1)).collect();
    for (&i, d) in free.iter().zip(got) {
        s[i] = d;
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, s)])
}

/// The input's rank, the listed axes free (all when `axes` is `None`).
fn same_rank(cx: &Ctx, axes: Option<Vec<usize>>) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let axes = axes.unwrap_or_else(|| (0..x.len()).collect());
    let got = dims(cx, &axes, |_| None)?;
    let mut s = x.to_vec();
    for (&a, d) in axes.iter().zip(got) {
        s[a] = d;
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, s)])
}

fn pad(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let r = cx.shape(0)?.len();
    let axes = axes_input(cx, 3, r)?;
    same_rank(cx, Some(axes))
}

/// Resized axes: those of the `axes` attribute, else all.
fn resize(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let r = cx.shape(0)?.len();
    let axes = match cx.node.attr_ints("axes") {
        Some(a) => a.iter().map(|&v| axis(v, r)).collect::<Result<_, _>>()?,
        None => (0..r).collect(),
    };
    same_rank(cx, Some(axes))
}

fn constant_of_shape(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let k = len_of(cx, 0)?;
    let dt = match cx.node.attrs.get("value") {
        Some(Attr::Tensor(t)) => t.dtype,
        _ => DType::F32,
    };
    Ok(vec![Tensor::new(
        dt,
        dims(cx, &(0..k).collect::<Vec<_>>(), |_| None)?,
    )])
}

fn range(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(cx.dtype(0)?, dims(cx, &[0], |_| None)?)])
}

/// The depth is the new axis's size.
fn one_hot(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let idx = cx.shape(0)?;
    let a = axis(cx.node.attr_int("axis", -1), idx.len() + 1)?;
    let mut s = idx.to_vec();
    s.insert(a, dims(cx, &[a], |_| None)?[0]);
    Ok(vec![Tensor::new(cx.dtype(2)?, s)])
}

/// Split sizes given at run time: each output's axis is at most the input's. Symbols are named
/// by output (`<node>.d<output>`), as every output has its own size on the same axis.
fn split(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let a = axis(cx.node.attr_int("axis", 0), x.len())?;
    let outs: Vec<usize> = (0..cx.node.outputs.len()).collect();
    let got = dims(cx, &outs, |_| Some(x[a]))?;
    let dt = cx.dtype(0)?;
    Ok(got
        .into_iter()
        .map(|d| {
            let mut s = x.to_vec();
            s[a] = d;
            Tensor::new(dt, s)
        })
        .collect())
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
