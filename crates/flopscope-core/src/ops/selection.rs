//! Operators whose output size depends on the data: Compress, Unique, NonMaxSuppression (and
//! NonZero and TopK with a runtime `k`, in their families). When the values that decide the
//! size are known the size is computed; otherwise it is the symbol `<node>.<what>`, counted at
//! its largest value and kept in the formulas (see `docs/counting.md`, "Sizes that depend on
//! the data").

use super::{axis, invalid, mul, no_cost, numel, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::DType;

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "Compress" => OpDef {
            infer: compress,
            cost: no_cost,
        },
        "Unique" => OpDef {
            infer: unique,
            cost: |cx, _| Ok(Cost::flops(cx.numel(0)?)),
        },
        "NonMaxSuppression" => OpDef {
            infer: nms,
            cost: nms_cost,
        },
        _ => return None,
    })
}

/// The data-dependent size `<node>.<what>` of at most `largest`.
fn data_dim(cx: &Ctx, what: &str, largest: u64) -> Result<u64, OpError> {
    super::data_dim(cx, what, Some(largest))
}

/// Compress(input, condition): the entries (along `axis`, or of the flattened input) whose
/// condition is true.
fn compress(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let cond = cx.shape(1)?;
    if cond.len() != 1 {
        return invalid(format!("condition {cond:?} must be 1-D"));
    }
    let a = match cx.node.attrs.get("axis") {
        Some(_) => Some(axis(cx.node.attr_int("axis", 0), x.len())?),
        None => None,
    };
    let room = match a {
        Some(a) => x[a].min(cond[0]),
        None => numel(x)?.min(cond[0]),
    };
    let n = match cx.opt(1).and_then(|t| t.value.as_deref()) {
        Some(v) => (0..v.len().min(usize::try_from(room).unwrap_or(usize::MAX)))
            .filter(|&i| v.f(i) != 0.0)
            .count() as u64,
        None => data_dim(cx, "n", room)?,
    };
    let shape = match a {
        Some(a) => {
            let mut s = x.to_vec();
            s[a] = n;
            s
        }
        None => vec![n],
    };
    Ok(vec![Tensor::new(cx.dtype(0)?, shape)])
}

/// Unique(X): Y, indices, inverse_indices, counts; `n` distinct entries (slices along `axis`).
fn unique(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let total = numel(x)?;
    let a = match cx.node.attrs.get("axis") {
        Some(_) => Some(axis(cx.node.attr_int("axis", 0), x.len())?),
        None => None,
    };
    let largest = a.map_or(total, |a| x[a]);
    let n = data_dim(cx, "n", largest)?;
    let y = match a {
        Some(a) => {
            let mut s = x.to_vec();
            s[a] = n;
            s
        }
        None => vec![n],
    };
    Ok(vec![
        Tensor::new(cx.dtype(0)?, y),
        Tensor::new(DType::I64, vec![n]),
        Tensor::new(DType::I64, vec![a.map_or(total, |a| x[a])]),
        Tensor::new(DType::I64, vec![n]),
    ])
}

/// Batches, classes and boxes of NonMaxSuppression(boxes [B, N, 4], scores [B, C, N], ...).
fn nms_dims(cx: &Ctx) -> Result<(u64, u64, u64), OpError> {
    let (b, s) = (cx.shape(0)?, cx.shape(1)?);
    if b.len() != 3 || s.len() != 3 || b[0] != s[0] || b[1] != s[2] || b[2] != 4 {
        return invalid(format!(
            "boxes {b:?} and scores {s:?} must be [B, N, 4] and [B, C, N]"
        ));
    }
    Ok((b[0], s[1], b[1]))
}

/// selected_indices [n, 3]: at most `max_output_boxes_per_class` (input 2, 0 when absent) per
/// batch and class.
fn nms(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (b, c, n) = nms_dims(cx)?;
    let per_class = match cx.opt_ints(2) {
        Ok(Some(v)) => v
            .first()
            .map_or(0, |&k| u64::try_from(k).unwrap_or(0).min(n)),
        Ok(None) => 0,
        Err(_) => n,
    };
    let selected = data_dim(cx, "n", mul(&[b, c, per_class])?)?;
    Ok(vec![Tensor::new(DType::I64, vec![selected, 3])])
}

/// FLOPs of one IoU test of two boxes: intersection (2 max, 2 min, 2 subtractions, 1
/// product), union (2 products, 2 additions... counted as 3) and a division: 11. torchvision's
/// `nms` (`ops::vision`) costs its tests the same.
pub(crate) const IOU_TEST_FLOPS: u64 = 11;

/// Every pair of boxes of a class compared once, at [`IOU_TEST_FLOPS`] per pair.
fn nms_cost(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (b, c, n) = nms_dims(cx)?;
    let pairs = n.saturating_mul(n.saturating_sub(1)) / 2;
    Ok(Cost::flops(mul(&[b, c, pairs, IOU_TEST_FLOPS])?))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn compress_with_a_known_condition_counts_its_true_entries() {
        // condition [1, 0, 1] along axis 0 of [3, 2]: 2 rows.
        let c = crate::ops::Tensor::with_values(
            crate::graph::DType::Bool,
            vec![3],
            crate::ops::Values::Int(vec![1, 0, 1]),
        );
        let r = run1("Compress", &[f32t(&[3, 2]), c], &[a_int("axis", 0)]);
        assert_eq!(r.shape, vec![2, 2]);
    }
}
