//! Value-level helpers for folding small constant tensors (shape arithmetic, masks, indices).

use super::{numel, Shape, Values, MAX_FOLD};

/// Row-major strides of a shape.
pub fn strides(shape: &[u64]) -> Vec<u64> {
    let mut s = vec![1u64; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1].saturating_mul(shape[i + 1]);
    }
    s
}

/// Whether a tensor of this shape is small enough to fold.
pub fn foldable(shape: &[u64]) -> bool {
    numel(shape).is_ok_and(|n| n <= MAX_FOLD)
}

/// A flat index as `usize`; past the end of any slice (so a bounds check fails rather than
/// wrapping) on a target where it does not fit.
fn index(i: u64) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// For each element of `out`, the flat index of the element of `input` it broadcasts from.
pub fn broadcast_map(input: &[u64], out: &[u64]) -> Vec<usize> {
    let n = numel(out).unwrap_or(0);
    let off = out.len() - input.len();
    let in_strides = strides(input);
    let out_strides = strides(out);
    (0..n)
        .map(|flat| {
            let mut idx = 0u64;
            for (d, &os) in out_strides.iter().enumerate() {
                let coord = (flat / os) % out[d].max(1);
                if d >= off && input[d - off] != 1 {
                    idx += coord * in_strides[d - off];
                }
            }
            index(idx)
        })
        .collect()
}

/// Applies a binary function elementwise with broadcasting. `None` from `fi` (integer overflow,
/// division by zero) abandons folding rather than inventing a value.
pub fn binary(
    a: (&Values, &[u64]),
    b: (&Values, &[u64]),
    out: &[u64],
    fi: impl Fn(i64, i64) -> Option<i64>,
    ff: impl Fn(f64, f64) -> f64,
) -> Option<Values> {
    if !foldable(out) {
        return None;
    }
    let ma = broadcast_map(a.1, out);
    let mb = broadcast_map(b.1, out);
    match (a.0, b.0) {
        (Values::Int(x), Values::Int(y)) => ma
            .iter()
            .zip(&mb)
            .map(|(&i, &j)| fi(*x.get(i)?, *y.get(j)?))
            .collect::<Option<Vec<_>>>()
            .map(Values::Int),
        (x, y) => ma
            .iter()
            .zip(&mb)
            .map(|(&i, &j)| (i < x.len() && j < y.len()).then(|| ff(x.f(i), y.f(j))))
            .collect::<Option<Vec<_>>>()
            .map(Values::Float),
    }
}

/// Gathers slices along `axis` (the ONNX `Gather` rule) on values.
pub fn gather(
    data: &Values,
    shape: &[u64],
    axis: usize,
    idx: &[i64],
    out: &Shape,
) -> Option<Values> {
    if !foldable(out) {
        return None;
    }
    let outer: u64 = shape[..axis].iter().product();
    let inner: u64 = shape[axis + 1..].iter().product();
    let n = i64::try_from(shape[axis]).ok()?;
    let mut picks = Vec::with_capacity(usize::try_from(numel(out).ok()?).ok()?);
    for o in 0..outer {
        for &i in idx {
            let i = if i < 0 { i + n } else { i };
            if i < 0 || i >= n {
                return None;
            }
            for k in 0..inner {
                // 0 ≤ i < n: checked just above.
                picks.push(index((o * shape[axis] + i.unsigned_abs()) * inner + k));
            }
        }
    }
    Some(pick(data, &picks))
}

/// Elements of `data` at the given flat positions.
pub fn pick(data: &Values, picks: &[usize]) -> Values {
    match data {
        Values::Int(v) => Values::Int(picks.iter().map(|&i| v[i]).collect()),
        Values::Float(v) => Values::Float(picks.iter().map(|&i| v[i]).collect()),
    }
}

/// Flat positions selected by a strided slice (`starts`/`steps` per axis, `out` sizes).
pub fn slice_picks(
    shape: &[u64],
    starts: &[i64],
    steps: &[i64],
    out: &[u64],
) -> Option<Vec<usize>> {
    if !foldable(out) {
        return None;
    }
    let st = strides(shape);
    let n = numel(out).ok()?;
    let ost = strides(out);
    let mut picks = Vec::with_capacity(usize::try_from(n).ok()?);
    for flat in 0..n {
        let mut idx: i64 = 0;
        for d in 0..shape.len() {
            let c = (flat / ost[d]) % out[d].max(1);
            let pos = starts[d] + i64::try_from(c).ok()? * steps[d];
            idx += pos * i64::try_from(st[d]).ok()?;
        }
        picks.push(usize::try_from(idx).ok()?);
    }
    Some(picks)
}

/// Flat positions that a transpose by `perm` reads for each output element.
pub fn transpose_picks(shape: &[u64], perm: &[usize]) -> Option<Vec<usize>> {
    let out: Vec<u64> = perm.iter().map(|&p| shape[p]).collect();
    if !foldable(&out) {
        return None;
    }
    let st = strides(shape);
    let ost = strides(&out);
    let n = numel(&out).ok()?;
    Some(
        (0..n)
            .map(|flat| {
                let mut idx = 0;
                for d in 0..out.len() {
                    let c = (flat / ost[d]) % out[d].max(1);
                    idx += c * st[perm[d]];
                }
                index(idx)
            })
            .collect(),
    )
}

/// Concatenates values along `axis`.
pub fn concat(parts: &[(&Values, &[u64])], axis: usize, out: &[u64]) -> Option<Values> {
    if !foldable(out) {
        return None;
    }
    let outer: u64 = out[..axis].iter().product();
    let all_int = parts.iter().all(|(v, _)| matches!(v, Values::Int(_)));
    let mut ints = Vec::new();
    let mut floats = Vec::new();
    for o in 0..outer {
        for (v, s) in parts {
            let chunk: u64 = s[axis..].iter().product();
            for k in 0..chunk {
                let i = index(o * chunk + k);
                if i >= v.len() {
                    return None;
                }
                match v {
                    Values::Int(x) if all_int => ints.push(x[i]),
                    _ => floats.push(v.f(i)),
                }
            }
        }
    }
    Some(if all_int {
        Values::Int(ints)
    } else {
        Values::Float(floats)
    })
}

/// Every element of `v` mapped through `fi` / `ff`.
pub fn unary(
    v: &Values,
    fi: impl Fn(i64) -> Option<i64>,
    ff: impl Fn(f64) -> f64,
) -> Option<Values> {
    Some(match v {
        Values::Int(x) => Values::Int(x.iter().map(|&a| fi(a)).collect::<Option<Vec<_>>>()?),
        Values::Float(x) => Values::Float(x.iter().map(|&a| ff(a)).collect()),
    })
}
