//! Shape and indexing family: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat, Split,
//! Slice, Gather*, Scatter*, Expand, Tile, Pad, Shape, Size, Constant, ConstantOfShape, Range,
//! OneHot, NonZero, DepthToSpace, SpaceToDepth, Trilu, EyeLike.
//!
//! These move or index data: 0 FLOPs, and their bytes read and written are counted like any
//! node's. Small integer results are folded (values computed) so that shape-computing chains
//! such as Shape → Gather → Concat → Reshape give concrete downstream shapes.

use std::sync::Arc;

use super::fold::{self, foldable};
use super::{axis, broadcast, invalid, no_cost, numel, Ctx, OpDef, OpError, Tensor, Values};
use crate::graph::{Attr, DType};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    let infer: fn(&Ctx) -> Result<Vec<Tensor>, OpError> = match op {
        "Reshape" => reshape,
        "Flatten" => flatten,
        "Transpose" => transpose,
        "Squeeze" => squeeze,
        "Unsqueeze" => unsqueeze,
        "Concat" => concat,
        "Split" => split,
        "Slice" => slice,
        "Gather" => gather,
        "GatherElements" => gather_elements,
        "GatherND" => gather_nd,
        "ScatterND" | "ScatterElements" | "Scatter" | "Trilu" => same_as_input,
        "EyeLike" => eye_like,
        "Expand" => expand,
        "Tile" => tile,
        "Pad" => pad,
        "Shape" => shape_of,
        "Size" => size_of,
        "Constant" => constant,
        "ConstantOfShape" => constant_of_shape,
        "Range" => range,
        "OneHot" => one_hot,
        "NonZero" => non_zero,
        "DepthToSpace" | "SpaceToDepth" => depth_space,
        _ => return None,
    };
    Some(OpDef {
        infer,
        cost: no_cost,
    })
}

fn out(dtype: DType, shape: Vec<u64>, value: Option<Values>) -> Vec<Tensor> {
    vec![match value {
        Some(v) => Tensor::with_values(dtype, shape, v),
        None => Tensor::new(dtype, shape),
    }]
}

/// Passes the input's values through unchanged (element order preserved).
fn same_values(cx: &Ctx, shape: &[u64]) -> Option<Values> {
    let v = cx.opt(0)?.value.as_deref()?;
    (foldable(shape) && v.len() as u64 == numel(shape).ok()?).then(|| v.clone())
}

fn reshape(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let target = if cx.opset < 5 {
        cx.node
            .attr_ints("shape")
            .map(<[i64]>::to_vec)
            .ok_or(OpError::Unknown)?
    } else {
        cx.ints(1)?
    };
    let allowzero = cx.node.attr_int("allowzero", 0) != 0;
    let n = numel(x)?;
    let mut outs = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            0 if !allowzero => outs.push(*x.get(i).ok_or_else(|| {
                OpError::Invalid(format!(
                    "target {target:?} copies dim {i} of a rank-{} input",
                    x.len()
                ))
            })?),
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                outs.push(1);
            }
            t if t >= 0 => outs.push(t.unsigned_abs()),
            _ => return invalid(format!("invalid target shape {target:?}")),
        }
    }
    let known = numel(&outs)?;
    if let Some(i) = infer_at {
        if known == 0 || n % known != 0 {
            return invalid(format!("cannot reshape {x:?} ({n} elements) to {target:?}"));
        }
        outs[i] = n / known;
    } else if known != n {
        return invalid(format!(
            "cannot reshape {x:?} ({n} elements) to {target:?} ({known} elements)"
        ));
    }
    let v = same_values(cx, &outs);
    Ok(out(cx.dtype(0)?, outs, v))
}

fn flatten(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let r = i64::try_from(x.len()).map_err(|_| super::overflow())?;
    let a = cx.node.attr_int("axis", 1);
    let a = if a < 0 { a + r } else { a };
    if a < 0 || a > r {
        return invalid(format!("axis {a} out of range for rank {r}"));
    }
    let a = usize::try_from(a).map_err(|_| super::overflow())?;
    let s = vec![numel(&x[..a])?, numel(&x[a..])?];
    let v = same_values(cx, &s);
    Ok(out(cx.dtype(0)?, s, v))
}

fn transpose(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let perm: Vec<usize> = match cx.node.attr_ints("perm") {
        Some(p) => p
            .iter()
            .map(|&a| axis(a, x.len()))
            .collect::<Result<_, _>>()?,
        None => (0..x.len()).rev().collect(),
    };
    let mut seen = vec![false; x.len()];
    if perm.len() != x.len() || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
        return invalid(format!(
            "perm {perm:?} is not a permutation of rank {}",
            x.len()
        ));
    }
    let s: Vec<u64> = perm.iter().map(|&p| x[p]).collect();
    let v = cx
        .input(0)?
        .value
        .as_deref()
        .and_then(|v| Some(fold::pick(v, &fold::transpose_picks(x, &perm)?)));
    Ok(out(cx.dtype(0)?, s, v))
}

/// Axes from the attribute (old opsets) or input 1 (opset 13+); `None` when absent.
fn axes_arg(cx: &Ctx) -> Result<Option<Vec<i64>>, OpError> {
    if let Some(a) = cx.node.attr_ints("axes") {
        return Ok(Some(a.to_vec()));
    }
    cx.opt_ints(1)
}

fn squeeze(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let s: Vec<u64> = match axes_arg(cx)? {
        Some(a) => {
            let ax: Vec<usize> = a
                .iter()
                .map(|&v| axis(v, x.len()))
                .collect::<Result<_, _>>()?;
            if let Some(&bad) = ax.iter().find(|&&i| x[i] != 1) {
                return invalid(format!(
                    "cannot squeeze axis {bad} of size {} in {x:?}",
                    x[bad]
                ));
            }
            (0..x.len())
                .filter(|i| !ax.contains(i))
                .map(|i| x[i])
                .collect()
        }
        None => x.iter().copied().filter(|&d| d != 1).collect(),
    };
    let v = same_values(cx, &s);
    Ok(out(cx.dtype(0)?, s, v))
}

fn unsqueeze(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let a = axes_arg(cx)?.ok_or_else(|| OpError::Invalid("missing axes".into()))?;
    let r = x.len() + a.len();
    let mut ax: Vec<usize> = a.iter().map(|&v| axis(v, r)).collect::<Result<_, _>>()?;
    ax.sort_unstable();
    if ax.windows(2).any(|w| w[0] == w[1]) {
        return invalid(format!("repeated axis in {a:?}"));
    }
    let mut it = x.iter();
    let s: Vec<u64> = (0..r)
        .map(|i| {
            if ax.contains(&i) {
                1
            } else {
                *it.next().unwrap_or(&1)
            }
        })
        .collect();
    let v = same_values(cx, &s);
    Ok(out(cx.dtype(0)?, s, v))
}

fn concat(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let shapes: Vec<&[u64]> = (0..cx.inputs.len())
        .map(|i| cx.shape(i))
        .collect::<Result<_, _>>()?;
    let first = *shapes
        .first()
        .ok_or_else(|| OpError::Invalid("no inputs".into()))?;
    let a = axis(super::required_int(cx.node, "axis")?, first.len())?;
    let mut s = first.to_vec();
    for (i, sh) in shapes.iter().enumerate().skip(1) {
        if sh.len() != first.len() {
            return invalid(format!(
                "input {i} has rank {} but input 0 has rank {}",
                sh.len(),
                first.len()
            ));
        }
        for d in 0..sh.len() {
            if d != a && sh[d] != first[d] {
                return invalid(format!(
                    "input {i} {sh:?} differs from input 0 {first:?} off the concat axis"
                ));
            }
        }
        s[a] = s[a].checked_add(sh[a]).ok_or_else(super::overflow)?;
    }
    let parts: Option<Vec<(&Values, &[u64])>> = (0..cx.inputs.len())
        .map(|i| Some((cx.opt(i)?.value.as_deref()?, shapes[i])))
        .collect();
    let v = parts.and_then(|p| fold::concat(&p, a, &s));
    Ok(out(cx.dtype(0)?, s, v))
}

fn split(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let a = axis(cx.node.attr_int("axis", 0), x.len())?;
    let n_out = cx.node.outputs.len().max(1) as u64;
    let sizes: Vec<u64> = match cx
        .node
        .attr_ints("split")
        .map(<[i64]>::to_vec)
        .or(cx.opt_ints(1)?)
    {
        Some(s) => s.iter().map(|&v| v.max(0).unsigned_abs()).collect(),
        None => {
            let n_out = i64::try_from(n_out).unwrap_or(i64::MAX);
            let n = cx.node.attr_int("num_outputs", n_out).max(1).unsigned_abs();
            let chunk = x[a].div_ceil(n);
            (0..n)
                .map(|i| chunk.min(x[a].saturating_sub(i * chunk)))
                .collect()
        }
    };
    if sizes.iter().sum::<u64>() != x[a] {
        return invalid(format!(
            "split sizes {sizes:?} do not add up to {} on axis {a}",
            x[a]
        ));
    }
    let dt = cx.dtype(0)?;
    Ok(sizes
        .iter()
        .map(|&n| {
            let mut s = x.to_vec();
            s[a] = n;
            Tensor::new(dt, s)
        })
        .collect())
}

fn slice(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let (starts, ends, axes, steps) = if cx.opset < 10 {
        let g = |n| cx.node.attr_ints(n).map(<[i64]>::to_vec);
        (
            g("starts").unwrap_or_default(),
            g("ends").unwrap_or_default(),
            g("axes"),
            None,
        )
    } else {
        (cx.ints(1)?, cx.ints(2)?, cx.opt_ints(3)?, cx.opt_ints(4)?)
    };
    if starts.len() != ends.len() {
        return invalid("starts and ends differ in length");
    }
    let axes: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|&v| axis(v, x.len()))
            .collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if axes.len() != starts.len() || steps.len() != starts.len() {
        return invalid("starts, ends, axes and steps differ in length");
    }
    let mut s = x.to_vec();
    let mut first: Vec<i64> = vec![0; x.len()];
    let mut step_all: Vec<i64> = vec![1; x.len()];
    for i in 0..axes.len() {
        let (a, step) = (axes[i], steps[i]);
        if step == 0 {
            return invalid("slice step is 0");
        }
        let dim = i64::try_from(x[a]).map_err(|_| super::overflow())?;
        let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (b, e) = if step > 0 {
            (norm(starts[i]).clamp(0, dim), norm(ends[i]).clamp(0, dim))
        } else {
            (
                norm(starts[i]).clamp(0, dim - 1),
                norm(ends[i]).clamp(-1, dim - 1),
            )
        };
        let len = if step > 0 {
            ceil_div((e - b).max(0), step)
        } else {
            ceil_div((b - e).max(0), -step)
        };
        s[a] = u64::try_from(len).map_err(|_| super::overflow())?;
        first[a] = b;
        step_all[a] = step;
    }
    let v = cx
        .input(0)?
        .value
        .as_deref()
        .and_then(|v| Some(fold::pick(v, &fold::slice_picks(x, &first, &step_all, &s)?)));
    Ok(out(cx.dtype(0)?, s, v))
}

/// Ceiling division of non-negative `a` by positive `b`.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

fn gather(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let idx = cx.shape(1)?;
    let a = axis(cx.node.attr_int("axis", 0), x.len())?;
    let mut s = x[..a].to_vec();
    s.extend_from_slice(idx);
    s.extend_from_slice(&x[a + 1..]);
    if let Some(iv) = cx.input(1)?.value.as_deref() {
        let n = i64::try_from(x[a]).map_err(|_| super::overflow())?;
        if let Some(&bad) = iv.to_ints().iter().find(|&&i| i < -n || i >= n) {
            return invalid(format!("index {bad} is out of range for axis size {n}"));
        }
    }
    let v = match (cx.input(0)?.value.as_deref(), cx.input(1)?.value.as_deref()) {
        (Some(d), Some(i)) => fold::gather(d, x, a, &i.to_ints(), &s),
        _ => None,
    };
    Ok(out(cx.dtype(0)?, s, v))
}

fn gather_elements(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (x, idx) = (cx.shape(0)?, cx.shape(1)?);
    if x.len() != idx.len() {
        return invalid(format!(
            "indices rank {} differs from data rank {}",
            idx.len(),
            x.len()
        ));
    }
    Ok(out(cx.dtype(0)?, idx.to_vec(), None))
}

fn gather_nd(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (x, idx) = (cx.shape(0)?, cx.shape(1)?);
    let b =
        usize::try_from(cx.node.attr_int("batch_dims", 0).max(0)).map_err(|_| super::overflow())?;
    let last = *idx
        .last()
        .ok_or_else(|| OpError::Invalid("indices must have rank ≥ 1".into()))?;
    let last = usize::try_from(last).map_err(|_| super::overflow())?;
    if b + last > x.len() {
        return invalid(format!("indices {idx:?} index past the rank of data {x:?}"));
    }
    let mut s = idx[..idx.len() - 1].to_vec();
    s.extend_from_slice(&x[b + last..]);
    Ok(out(cx.dtype(0)?, s, None))
}

fn same_as_input(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(out(cx.dtype(0)?, cx.shape(0)?.to_vec(), None))
}

/// The input's shape, of the type the `dtype` attribute names (the input's without it).
fn eye_like(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dt = match cx.node.attrs.get("dtype") {
        Some(Attr::Int(code)) => DType::from_onnx(
            i32::try_from(*code).map_err(|_| OpError::Invalid(format!("dtype {code}")))?,
        ),
        _ => cx.dtype(0)?,
    };
    Ok(out(dt, cx.shape(0)?.to_vec(), None))
}

fn expand(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let target: Vec<u64> = cx
        .ints(1)?
        .iter()
        .map(|&v| {
            u64::try_from(v)
                .map_err(|_| OpError::Invalid(format!("negative dim {v} in Expand shape")))
        })
        .collect::<Result<_, _>>()?;
    let s = broadcast(x, &target)?;
    let v = cx
        .input(0)?
        .value
        .as_deref()
        .and_then(|v| foldable(&s).then(|| fold::pick(v, &fold::broadcast_map(x, &s))));
    Ok(out(cx.dtype(0)?, s, v))
}

fn tile(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let r = cx.ints(1)?;
    if r.len() != x.len() || r.iter().any(|&v| v < 0) {
        return invalid(format!("repeats {r:?} do not fit input {x:?}"));
    }
    let s = x
        .iter()
        .zip(&r)
        .map(|(&d, &k)| {
            u64::try_from(k)
                .ok()
                .and_then(|k| d.checked_mul(k))
                .ok_or_else(super::overflow)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(out(cx.dtype(0)?, s, None))
}

fn pad(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let pads = if cx.opset < 11 {
        cx.node
            .attr_ints("pads")
            .map(<[i64]>::to_vec)
            .unwrap_or_default()
    } else {
        cx.ints(1)?
    };
    let axes: Vec<usize> = match cx.opt_ints(3)? {
        Some(a) => a
            .iter()
            .map(|&v| axis(v, x.len()))
            .collect::<Result<_, _>>()?,
        None => (0..x.len()).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return invalid(format!("pads {pads:?} do not fit {} axes", axes.len()));
    }
    let mut s = x.to_vec();
    for (i, &a) in axes.iter().enumerate() {
        let v = i64::try_from(x[a])
            .ok()
            .and_then(|d| d.checked_add(pads[i])?.checked_add(pads[i + axes.len()]))
            .ok_or_else(super::overflow)?;
        if v < 0 {
            return invalid(format!("padding makes axis {a} negative ({v})"));
        }
        s[a] = v.unsigned_abs(); // ≥ 0: checked above
    }
    Ok(out(cx.dtype(0)?, s, None))
}

fn shape_of(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let r = i64::try_from(x.len()).map_err(|_| super::overflow())?;
    let clampi = |v: i64| usize::try_from((if v < 0 { v + r } else { v }).clamp(0, r)).unwrap_or(0);
    let b = clampi(cx.node.attr_int("start", 0));
    let e = clampi(cx.node.attr_int("end", r));
    let dims: Vec<i64> = x[b..e.max(b)]
        .iter()
        .map(|&d| i64::try_from(d).map_err(|_| super::overflow()))
        .collect::<Result<_, _>>()?;
    Ok(out(
        DType::I64,
        vec![dims.len() as u64],
        Some(Values::Int(dims)),
    ))
}

fn size_of(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let n = cx.numel(0)?;
    let n = i64::try_from(n).map_err(|_| super::overflow())?;
    Ok(out(DType::I64, vec![], Some(Values::Int(vec![n]))))
}

fn constant(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (name, attr) = cx
        .node
        .attrs
        .iter()
        .find(|(k, _)| k.starts_with("value") || *k == "sparse_value")
        .ok_or_else(|| OpError::Invalid("Constant has no value attribute".into()))?;
    Ok(vec![match (name.as_str(), attr) {
        (_, Attr::Tensor(t)) => {
            let v = crate::graph::decode_values(t);
            Tensor {
                dtype: t.dtype,
                shape: Some(t.dims.clone()),
                value: v.map(Arc::new),
                seq: None,
            }
        }
        (_, Attr::Int(i)) => Tensor::with_values(DType::I64, vec![], Values::Int(vec![*i])),
        (_, Attr::Ints(v)) => {
            Tensor::with_values(DType::I64, vec![v.len() as u64], Values::Int(v.clone()))
        }
        (_, Attr::Float(f)) => {
            Tensor::with_values(DType::F32, vec![], Values::Float(vec![*f as f64]))
        }
        (_, Attr::Floats(v)) => Tensor::with_values(
            DType::F32,
            vec![v.len() as u64],
            Values::Float(v.iter().map(|&f| f as f64).collect()),
        ),
        _ => return Err(OpError::Unknown),
    }])
}

fn constant_of_shape(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dims = cx.ints(0)?;
    if let Some(&d) = dims.iter().find(|&&d| d < 0) {
        return invalid(format!("negative dim {d}"));
    }
    let s: Vec<u64> = dims.iter().map(|&d| d.unsigned_abs()).collect(); // all ≥ 0
    let n = numel(&s)?;
    let (dtype, fillv) = match cx.node.attrs.get("value") {
        Some(Attr::Tensor(t)) => (t.dtype, crate::graph::decode_values(t).map(|v| v.f(0))),
        _ => (DType::F32, Some(0.0)),
    };
    let v = match fillv {
        Some(f) if n <= super::MAX_FOLD => Some(if dtype.is_float() {
            Values::Float(vec![f; usize::try_from(n).map_err(|_| super::overflow())?])
        } else {
            Values::Int(vec![
                super::trunc_i64(f);
                usize::try_from(n).map_err(|_| super::overflow())?
            ])
        }),
        _ => None,
    };
    Ok(out(dtype, s, v))
}

fn range(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (s, l, d) = (cx.values(0)?, cx.values(1)?, cx.values(2)?);
    if s.is_empty() || l.is_empty() || d.is_empty() {
        return invalid("start, limit and delta must be scalars");
    }
    let dtype = cx.dtype(0)?;
    let (start, limit, delta) = (s.f(0), l.f(0), d.f(0));
    if delta == 0.0 {
        return invalid("delta is 0");
    }
    // Integer ranges are counted exactly: near ±2^63 an f64 count can be one too many, and the
    // last value would then overflow.
    let exact = match (s, l, d) {
        (Values::Int(a), Values::Int(b), Values::Int(c)) => {
            let (a, b, c) = (i128::from(a[0]), i128::from(b[0]), i128::from(c[0]));
            // ceil((b − a) / c) = floor((b − a + c − sign c) / c), for either sign of c.
            let (p, q) = (b - a + c - c.signum(), c);
            let floor = p / q - i128::from(p % q != 0 && (p < 0) != (q < 0));
            let n = floor.max(0);
            Some((a, c, u64::try_from(n).map_err(|_| super::overflow())?))
        }
        _ => None,
    };
    let n = match exact {
        Some((_, _, n)) => n,
        None => {
            let n = ((limit - start) / delta).ceil().max(0.0);
            if n > 1e15 {
                return Err(super::overflow());
            }
            super::f64_to_u64(n)?
        }
    };
    let v = if n <= super::MAX_FOLD {
        Some(match exact {
            // Every value lies between start and limit, so it fits in i64.
            Some((a, c, _)) => Values::Int(
                (0..i128::from(n))
                    .map(|i| i64::try_from(a + i * c).map_err(|_| super::overflow()))
                    .collect::<Result<_, _>>()?,
            ),
            None => Values::Float((0..n).map(|i| start + i as f64 * delta).collect()),
        })
    } else {
        None
    };
    Ok(out(dtype, vec![n], v))
}

fn one_hot(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let idx = cx.shape(0)?;
    let depth = cx.values(1)?;
    if depth.is_empty() || depth.f(0) < 0.0 {
        return invalid("depth must be a non-negative scalar");
    }
    let r = idx.len() + 1;
    let a = axis(cx.node.attr_int("axis", -1), r)?;
    let mut s = idx.to_vec();
    let d = depth.f(0);
    s.insert(
        a,
        super::f64_to_u64(d).map_err(|_| OpError::Invalid(format!("depth {d} is not a size")))?,
    );
    Ok(out(cx.dtype(2)?, s, None))
}

fn non_zero(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    // The count of non-zeros is data: counted when the input's values are known, otherwise
    // the symbol `<node>.n`, at most every element.
    let x = cx.shape(0)?;
    let nnz = match cx.opt(0).and_then(|t| t.value.as_deref()) {
        Some(v) => (0..v.len()).filter(|&i| v.f(i) != 0.0).count() as u64,
        None => cx
            .bodies
            .data_dim(&format!("{}.n", cx.node.name), numel(x)?)
            .ok_or(OpError::Unknown)?,
    };
    Ok(out(DType::I64, vec![x.len() as u64, nnz], None))
}

fn depth_space(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let b = super::required_int(cx.node, "blocksize")?;
    if x.len() != 4 || b < 1 {
        return invalid("needs a 4-D input and blocksize ≥ 1");
    }
    let b = b.unsigned_abs(); // ≥ 1: checked above
    let s = if cx.node.op_type == "DepthToSpace" {
        if x[1] % (b * b) != 0 {
            return invalid(format!(
                "channels {} not divisible by blocksize² {}",
                x[1],
                b * b
            ));
        }
        vec![x[0], x[1] / (b * b), x[2] * b, x[3] * b]
    } else {
        if x[2] % b != 0 || x[3] % b != 0 {
            return invalid("spatial dims not divisible by blocksize");
        }
        vec![x[0], x[1] * b * b, x[2] / b, x[3] / b]
    };
    Ok(out(cx.dtype(0)?, s, None))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn eye_like_takes_the_dtype_attribute() {
        // ONNX's test_eyelike_with_dtype: an int32 [3, 4] input, dtype = 11 (double).
        let x = crate::ops::Tensor::new(crate::graph::DType::I32, vec![3, 4]);
        let r = run1("EyeLike", std::slice::from_ref(&x), &[a_int("dtype", 11)]);
        assert_eq!(
            (r.shape.clone(), r.outs[0].dtype),
            (vec![3, 4], crate::graph::DType::F64)
        );
        let r = run1("EyeLike", &[x], &[]);
        assert_eq!(r.outs[0].dtype, crate::graph::DType::I32);
    }

    #[test]
    fn reshape_copies_zero_and_infers_minus_one() {
        // [2,128,768] → [0,0,12,-1]: [2,128,12,64].
        let r = run1(
            "Reshape",
            &[f32t(&[2, 128, 768]), ints(&[0, 0, 12, -1])],
            &[],
        );
        assert_eq!(r.shape, vec![2, 128, 12, 64]);
        let e = run_err("Reshape", &[f32t(&[2, 3]), ints(&[4, 2])], &[]);
        assert!(e.contains("cannot reshape"), "{e}");
    }

    #[test]
    fn shape_gather_concat_fold() {
        let r = run1("Shape", &[f32t(&[2, 128, 768])], &[]);
        assert_eq!(r.ints(), vec![2, 128, 768]);
        let r = run1(
            "Gather",
            &[r.outs[0].clone(), scalar(1)],
            &[a_int("axis", 0)],
        );
        assert_eq!((r.shape.clone(), r.ints()), (vec![], vec![128]));
        let r = run1("Unsqueeze", &[r.outs[0].clone(), ints(&[0])], &[]);
        let r = run1(
            "Concat",
            &[ints(&[2]), r.outs[0].clone(), ints(&[12, 64])],
            &[a_int("axis", 0)],
        );
        assert_eq!(r.ints(), vec![2, 128, 12, 64]);
    }

    #[test]
    fn slice_clamps_and_steps_backwards() {
        // ends = INT64_MAX clamps; [10] with 2:MAX:3 → indices 2,5,8.
        let r = run1(
            "Slice",
            &[
                ints(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
                ints(&[2]),
                ints(&[i64::MAX]),
                ints(&[0]),
                ints(&[3]),
            ],
            &[],
        );
        assert_eq!(r.ints(), vec![2, 5, 8]);
        let r = run1(
            "Slice",
            &[
                ints(&[0, 1, 2, 3]),
                ints(&[-1]),
                ints(&[i64::MIN]),
                ints(&[0]),
                ints(&[-1]),
            ],
            &[],
        );
        assert_eq!(r.ints(), vec![3, 2, 1, 0]);
    }

    #[test]
    fn concat_rank_mismatch_is_an_error() {
        let e = run_err(
            "Concat",
            &[f32t(&[2, 3]), f32t(&[2, 3, 1])],
            &[a_int("axis", 0)],
        );
        assert!(e.contains("rank"), "{e}");
    }

    #[test]
    fn range_and_expand() {
        let r = run1("Range", &[scalar(0), scalar(7), scalar(2)], &[]);
        assert_eq!(r.ints(), vec![0, 2, 4, 6]);
        // Counting down: 10, 7 (4 is the limit, excluded); an empty range.
        let r = run1("Range", &[scalar(10), scalar(4), scalar(-3)], &[]);
        assert_eq!(r.ints(), vec![10, 7]);
        assert_eq!(
            run1("Range", &[scalar(5), scalar(5), scalar(1)], &[]).shape,
            [0]
        );
        // Near i64::MAX an f64 count is 3 (2^63 − 1 − 1900 rounds to 2^63 − 2048, and
        // 2048 / 1000 rounds up to 3); the exact count is ceil(1900 / 1000) = 2, and no value
        // overflows (a third would be i64::MAX + 100).
        let top = i64::MAX - 1900;
        let r = run1("Range", &[scalar(top), scalar(i64::MAX), scalar(1000)], &[]);
        assert_eq!(r.ints(), vec![top, top + 1000]);
        let r = run1("Expand", &[f32t(&[1, 1, 4]), ints(&[2, 3, 1])], &[]);
        assert_eq!(r.shape, vec![2, 3, 4]);
    }
}
