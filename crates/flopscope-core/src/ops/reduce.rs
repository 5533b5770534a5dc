//! Reduction family: Reduce*, ArgMax/ArgMin, TopK, CumSum. See `docs/counting.md`, "Reductions".
//!
//! One FLOP per input element for Sum/Mean/Max/Min/Prod/ArgMax/ArgMin/TopK/CumSum; two for
//! SumSquare, L1, L2, LogSumExp (a transform then an add); Mean adds one division per output,
//! L2 and LogSum(Exp) one root or log per output.

use std::sync::Arc;

use super::fold::{foldable, strides};
use super::{axis, invalid, numel, Cost, Ctx, OpDef, OpError, Tensor, Values};
use crate::graph::DType;

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL1"
        | "ReduceL2" | "ReduceLogSum" | "ReduceLogSumExp" | "ReduceSumSquare" => OpDef {
            infer: infer_reduce,
            cost: cost_reduce,
        },
        "ArgMax" | "ArgMin" => OpDef {
            infer: infer_arg,
            cost: cost_per_input,
        },
        "TopK" => OpDef {
            infer: infer_topk,
            cost: cost_per_input,
        },
        "CumSum" => OpDef {
            infer: infer_cumsum,
            cost: cost_per_input,
        },
        _ => return None,
    })
}

/// Axes to reduce: from the `axes` input (newer opsets) or attribute; `None` = all.
fn reduce_axes(cx: &Ctx, rank: usize) -> Result<Option<Vec<usize>>, OpError> {
    let from_input = cx.opt(1).is_some();
    let raw = if from_input {
        Some(cx.ints(1)?)
    } else {
        cx.node.attr_ints("axes").map(<[i64]>::to_vec)
    };
    match raw {
        Some(a) if !a.is_empty() => {
            let mut v = a
                .iter()
                .map(|&x| axis(x, rank))
                .collect::<Result<Vec<_>, _>>()?;
            v.sort_unstable();
            v.dedup();
            Ok(Some(v))
        }
        _ if cx.node.attr_int("noop_with_empty_axes", 0) != 0 => Ok(Some(vec![])),
        _ => Ok(None),
    }
}

fn infer_reduce(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let axes = reduce_axes(cx, x.len())?.unwrap_or_else(|| (0..x.len()).collect());
    let keep = cx.node.attr_int("keepdims", 1) != 0;
    let mut out = Vec::new();
    for (i, &d) in x.iter().enumerate() {
        if axes.contains(&i) {
            if keep {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    let value = cx
        .input(0)?
        .value
        .as_deref()
        .and_then(|v| fold_reduce(&cx.node.op_type, v, x, &axes));
    Ok(vec![Tensor {
        dtype: cx.dtype(0)?,
        shape: Some(out),
        value: value.map(Arc::new),
        seq: None,
    }])
}

fn fold_reduce(op: &str, v: &Values, shape: &[u64], axes: &[usize]) -> Option<Values> {
    let Values::Int(x) = v else { return None };
    if !foldable(shape) {
        return None;
    }
    let kept: Vec<u64> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let n_out = usize::try_from(numel(&kept).ok()?).ok()?;
    type Step = fn(i64, i64) -> Option<i64>;
    let (init, f): (i64, Step) = match op {
        "ReduceSum" => (0, i64::checked_add),
        "ReduceProd" => (1, i64::checked_mul),
        "ReduceMax" => (i64::MIN, |a, b| Some(a.max(b))),
        "ReduceMin" => (i64::MAX, |a, b| Some(a.min(b))),
        _ => return None,
    };
    let mut acc = vec![init; n_out];
    let st = strides(shape);
    let kst = strides(&kept);
    for (flat, &val) in x.iter().enumerate() {
        let mut o = 0;
        for d in 0..shape.len() {
            let c = (flat as u64 / st[d]) % shape[d].max(1);
            if !axes.contains(&d) {
                o += c * kst[d];
            }
        }
        let o = usize::try_from(o).ok()?;
        acc[o] = f(acc[o], val)?;
    }
    Some(Values::Int(acc))
}

fn cost_reduce(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let noop = reduce_axes(cx, cx.rank(0)?)?.is_some_and(|a| a.is_empty());
    if !cx.dtype(0)?.is_float() || noop {
        return Ok(Cost::default());
    }
    let n_in = cx.numel(0)?;
    let n_out = numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    let (per_in, per_out) = match cx.node.op_type.as_str() {
        "ReduceMean" => (1, 1),
        "ReduceSumSquare" | "ReduceL1" => (2, 0),
        "ReduceL2" | "ReduceLogSumExp" => (2, 1),
        "ReduceLogSum" => (1, 1),
        _ => (1, 0),
    };
    let f = n_in
        .checked_mul(per_in)
        .and_then(|a| a.checked_add(n_out * per_out))
        .ok_or_else(super::overflow)?;
    Ok(Cost::flops(f))
}

fn cost_per_input(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    if !cx.dtype(0)?.is_float() {
        return Ok(Cost::default());
    }
    Ok(Cost::flops(cx.numel(0)?))
}

fn infer_arg(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let a = axis(cx.node.attr_int("axis", 0), x.len())?;
    let mut out = x.to_vec();
    if cx.node.attr_int("keepdims", 1) != 0 {
        out[a] = 1;
    } else {
        out.remove(a);
    }
    Ok(vec![Tensor::new(DType::I64, out)])
}

fn infer_topk(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let a = axis(cx.node.attr_int("axis", -1), x.len())?;
    let k = if cx.opset < 10 {
        cx.node.attr_int("k", -1)
    } else {
        match cx.opt(1).and_then(|t| t.value.as_deref()) {
            Some(v) => *v.to_ints().first().ok_or(OpError::Unknown)?,
            // A `k` computed at run time: a data-dependent size, at most the axis.
            None => {
                let name = format!("{}.k", cx.node.name);
                let k = cx.bodies.data_dim(&name, x[a]).ok_or(OpError::Unknown)?;
                i64::try_from(k).map_err(|_| super::overflow())?
            }
        }
    };
    let k = match u64::try_from(k) {
        Ok(u) if u <= x[a] => u,
        _ => return invalid(format!("k = {k} is out of range for axis size {}", x[a])),
    };
    let mut out = x.to_vec();
    out[a] = k;
    Ok(vec![
        Tensor::new(cx.dtype(0)?, out.clone()),
        Tensor::new(DType::I64, out),
    ])
}

fn infer_cumsum(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    infer_scan(cx, |v, s, a, e, r| {
        fold_scan(v, s, a, e, r, 0, i64::checked_add)
    })
}

/// CumSum's and CumProd's output: the input's shape and type; with integer values and a
/// constant axis, its values folded by `fold(values, shape, axis, exclusive, reverse)`.
pub(crate) fn infer_scan(
    cx: &Ctx,
    fold: impl Fn(&[i64], &[u64], usize, bool, bool) -> Option<Values>,
) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?.to_vec();
    let t = cx.input(0)?;
    let value = match (t.value.as_deref(), cx.opt_ints(1)) {
        (Some(Values::Int(v)), Ok(Some(ax))) if !x.is_empty() => {
            let a = axis(*ax.first().unwrap_or(&0), x.len())?;
            fold(
                v,
                &x,
                a,
                cx.node.attr_int("exclusive", 0) != 0,
                cx.node.attr_int("reverse", 0) != 0,
            )
        }
        _ => None,
    };
    Ok(vec![Tensor {
        dtype: t.dtype,
        shape: Some(x),
        value: value.map(Arc::new),
        seq: None,
    }])
}

/// The running combination (`step`, from `init`) of `v` along axis `a` of `shape`; `None` on
/// overflow.
pub(crate) fn fold_scan(
    v: &[i64],
    shape: &[u64],
    a: usize,
    exclusive: bool,
    reverse: bool,
    init: i64,
    step: fn(i64, i64) -> Option<i64>,
) -> Option<Values> {
    let st = strides(shape);
    let (n, stride) = (
        usize::try_from(shape[a]).ok()?,
        usize::try_from(st[a]).ok()?,
    );
    let mut out = vec![0i64; v.len()];
    for start in 0..v.len() {
        if (start / stride) % n.max(1) != 0 {
            continue; // only walk each line once, from its first element
        }
        let mut acc = init;
        let idx: Vec<usize> = (0..n).map(|i| start + i * stride).collect();
        let order: Vec<usize> = if reverse {
            idx.into_iter().rev().collect()
        } else {
            idx
        };
        for i in order {
            if exclusive {
                out[i] = acc;
                acc = step(acc, v[i])?;
            } else {
                acc = step(acc, v[i])?;
                out[i] = acc;
            }
        }
    }
    Some(Values::Int(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::graph::DType;
    use crate::ops::{Tensor, Values};

    #[test]
    fn reduce_mean_over_last_axis() {
        // [4,128,256] mean over -1 keepdims: 131072 adds + 512 divisions.
        let r = run1("ReduceMean", &[f32t(&[4, 128, 256]), ints(&[-1])], &[]);
        assert_eq!(r.shape, vec![4, 128, 1]);
        assert_eq!(r.cost.flops, 131_072 + 512);
    }

    #[test]
    fn cumsum_folds_position_ids() {
        // The mask-to-positions idiom: cumsum([1,1,1,0]) = [1,2,3,3].
        let mask = Tensor::with_values(DType::I64, vec![1, 4], Values::Int(vec![1, 1, 1, 0]));
        let r = run1("CumSum", &[mask, scalar(1)], &[]);
        assert_eq!(r.ints(), vec![1, 2, 3, 3]);
    }
}
