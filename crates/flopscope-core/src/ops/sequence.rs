//! Sequences and optionals: ONNX `seq(tensor)` and `optional(T)` values.
//!
//! Building, reading, splitting into and concatenating from a sequence moves tensors and
//! computes nothing: zero cost. `SequenceMap` costs what its body costs, once per element. An
//! optional is seen through: it is the value it holds (`OptionalHasElement` is a bool scalar).
//! A sequence is a [`Tensor`] with [`Tensor::seq`] set (see [`Tensor::sequence`]): its elements
//! when their number is known, else the element type and the shape they are declared to share.

use crate::graph::{Attr, DType};

use super::{
    axis, invalid, no_cost, BodyOutcome, Cost, Ctx, OpDef, OpError, Shape, Tensor, Values, MAX_FOLD,
};

/// Rules of the sequence and optional operators without subgraphs.
pub fn lookup(op: &str) -> Option<OpDef> {
    let infer: fn(&Ctx) -> Result<Vec<Tensor>, OpError> = match op {
        "SequenceEmpty" => empty,
        "SequenceConstruct" => construct,
        "SequenceInsert" => insert,
        "SequenceErase" => erase,
        "SequenceAt" => at,
        "SequenceLength" => length,
        "SplitToSequence" => split_to_sequence,
        "ConcatFromSequence" => concat_from_sequence,
        "Optional" | "OptionalGetElement" => look_through,
        "OptionalHasElement" => has_element,
        _ => return None,
    };
    Some(OpDef {
        infer,
        cost: no_cost,
    })
}

/// `SequenceMap`, analysed through its body.
pub fn lookup_body(op: &str) -> Option<fn(&Ctx) -> BodyOutcome> {
    (op == "SequenceMap").then_some(sequence_map as fn(&Ctx) -> BodyOutcome)
}

/// Input `i`, which must be a sequence: its element type and its elements when known.
fn seq_input<'a>(cx: &Ctx<'a>, i: usize) -> Result<(&'a Tensor, Option<&'a [Tensor]>), OpError> {
    let t = cx.input(i)?;
    match &t.seq {
        Some(s) => Ok((t, s.elems.as_deref())),
        None => invalid(format!(
            "input {i} is a tensor where a sequence is expected"
        )),
    }
}

/// A position input (scalar, negative from the end) against a sequence of `n` elements;
/// `end_ok` accepts `n` itself (insertion at the back).
fn position(cx: &Ctx, i: usize, n: usize, end_ok: bool) -> Result<Option<usize>, OpError> {
    let Some(p) = cx.opt_ints(i)? else {
        return Ok(None);
    };
    let p = *p
        .first()
        .ok_or_else(|| OpError::Invalid("the position is empty".into()))?;
    let len = i64::try_from(n).map_err(|_| super::overflow())?;
    let q = if p < 0 { p + len } else { p };
    let max = if end_ok { len } else { len - 1 };
    if q < 0 || q > max {
        return invalid(format!(
            "position {p} is out of range for a sequence of {n}"
        ));
    }
    Ok(Some(usize::try_from(q).map_err(|_| super::overflow())?))
}

fn dtype_attr(cx: &Ctx) -> Result<DType, OpError> {
    match cx.node.attrs.get("dtype") {
        Some(Attr::Int(code)) => Ok(DType::from_onnx(
            i32::try_from(*code).map_err(|_| OpError::Invalid(format!("dtype {code}")))?,
        )),
        _ => Ok(DType::F32),
    }
}

fn empty(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::sequence(dtype_attr(cx)?, Some(vec![]), None)])
}

fn construct(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let elems: Vec<Tensor> = (0..cx.inputs.len())
        .map(|i| cx.input(i).cloned())
        .collect::<Result<_, _>>()?;
    let dt = elems
        .first()
        .ok_or_else(|| OpError::Invalid("no inputs".into()))?
        .dtype;
    if let Some(e) = elems.iter().find(|e| e.dtype != dt) {
        return invalid(format!(
            "the elements mix {} and {}",
            dt.name(),
            e.dtype.name()
        ));
    }
    Ok(vec![Tensor::sequence(dt, Some(elems), None)])
}

fn insert(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (s, elems) = seq_input(cx, 0)?;
    let x = cx.input(1)?;
    if x.dtype != s.dtype {
        return invalid(format!(
            "a {} tensor is inserted into a sequence of {}",
            x.dtype.name(),
            s.dtype.name()
        ));
    }
    let elems = match elems {
        Some(es) => {
            let at = position(cx, 2, es.len(), true)?.unwrap_or(es.len());
            let mut es = es.to_vec();
            es.insert(at, x.clone());
            Some(es)
        }
        None => None,
    };
    // Unknown elements: the shape stays known only if the inserted tensor shares it.
    let shape = s.shape.clone().filter(|sh| x.shape.as_ref() == Some(sh));
    Ok(vec![Tensor::sequence(s.dtype, elems, shape)])
}

fn erase(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (s, elems) = seq_input(cx, 0)?;
    let elems = match elems {
        Some([]) => return invalid("erasing from an empty sequence"),
        Some(es) => {
            let at = position(cx, 1, es.len(), false)?.unwrap_or(es.len() - 1);
            let mut es = es.to_vec();
            es.remove(at);
            Some(es)
        }
        None => None,
    };
    Ok(vec![Tensor::sequence(s.dtype, elems, s.shape.clone())])
}

fn at(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (s, elems) = seq_input(cx, 0)?;
    if let Some(es) = elems {
        if let Some(i) = position(cx, 1, es.len(), false)? {
            return Ok(vec![es[i].clone()]);
        }
    }
    // Which element is unknown, but they all have one shape.
    match &s.shape {
        Some(sh) => Ok(vec![Tensor::new(s.dtype, sh.clone())]),
        None => Err(OpError::Unknown),
    }
}

fn length(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (_, elems) = seq_input(cx, 0)?;
    Ok(vec![match elems {
        Some(es) => {
            let n = i64::try_from(es.len()).map_err(|_| super::overflow())?;
            Tensor::with_values(DType::I64, vec![], Values::Int(vec![n]))
        }
        None => Tensor::new(DType::I64, vec![]),
    }])
}

/// The pieces of `SplitToSequence`: sizes along `axis` (no `split`: pieces of 1, squeezed
/// unless `keepdims` is 1; a scalar `split`: pieces of that size, the last one shorter). More
/// pieces than [`MAX_FOLD`] are not listed one by one: the sequence keeps their shared shape.
fn split_to_sequence(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let dt = cx.dtype(0)?;
    let a = axis(cx.node.attr_int("axis", 0), x.len())?;
    let n = x[a];
    let piece = |k: u64, squeeze: bool| {
        let mut s = x.to_vec();
        if squeeze {
            s.remove(a);
        } else {
            s[a] = k;
        }
        s
    };
    let sizes: Vec<u64> = match cx.opt(1) {
        None => {
            let squeeze = cx.node.attr_int("keepdims", 1) == 0;
            if n > MAX_FOLD {
                return Ok(vec![Tensor::sequence(dt, None, Some(piece(1, squeeze)))]);
            }
            let elems = (0..n).map(|_| Tensor::new(dt, piece(1, squeeze))).collect();
            return Ok(vec![Tensor::sequence(dt, Some(elems), None)]);
        }
        Some(t) => {
            let Some(v) = t.value.as_deref() else {
                // Sizes unknown: a sequence of this type whose pieces' shapes are unknown.
                return Ok(vec![Tensor::sequence(dt, None, None)]);
            };
            let v = v.to_ints();
            if v.iter().any(|&s| s < 0) {
                return invalid(format!("negative split size in {v:?}"));
            }
            let v: Vec<u64> = v.iter().map(|&s| s.unsigned_abs()).collect();
            if t.shape.as_deref().is_some_and(<[u64]>::is_empty) {
                let c = *v.first().unwrap_or(&0);
                if c == 0 {
                    return invalid("split size 0");
                }
                let pieces = n.div_ceil(c);
                if pieces > MAX_FOLD {
                    let shared = (n % c == 0).then(|| piece(c, false));
                    return Ok(vec![Tensor::sequence(dt, None, shared)]);
                }
                (0..pieces).map(|i| c.min(n - i * c)).collect()
            } else {
                v
            }
        }
    };
    if sizes.iter().try_fold(0u64, |s, &v| s.checked_add(v)) != Some(n) {
        return invalid(format!(
            "split sizes {sizes:?} do not add up to {n} on axis {a}"
        ));
    }
    let elems = sizes
        .iter()
        .map(|&k| Tensor::new(dt, piece(k, false)))
        .collect();
    Ok(vec![Tensor::sequence(dt, Some(elems), None)])
}

fn concat_from_sequence(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (s, elems) = seq_input(cx, 0)?;
    let es = elems.ok_or(OpError::Unknown)?;
    let shapes: Vec<&Shape> = es
        .iter()
        .map(|e| e.shape.as_ref().ok_or(OpError::Unknown))
        .collect::<Result<_, _>>()?;
    let first = *shapes
        .first()
        .ok_or_else(|| OpError::Invalid("the sequence is empty".into()))?;
    let stack = cx.node.attr_int("new_axis", 0) == 1;
    let rank = first.len() + usize::from(stack);
    let a = axis(super::required_int(cx.node, "axis")?, rank)?;
    let mut out = first.clone();
    if stack {
        out.insert(a, 0);
    } else {
        out[a] = 0;
    }
    for (i, sh) in shapes.iter().enumerate() {
        let same = sh.len() == first.len()
            && (0..sh.len()).all(|d| stack || d == a || sh[d] == first[d])
            && (!stack || *sh == first);
        if !same {
            return invalid(format!(
                "element {i} {sh:?} does not fit element 0 {first:?}"
            ));
        }
        let k = if stack { 1 } else { sh[a] };
        out[a] = out[a].checked_add(k).ok_or_else(super::overflow)?;
    }
    Ok(vec![Tensor::new(s.dtype, out)])
}

fn look_through(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    if let Some(t) = cx.opt(0) {
        return Ok(vec![t.clone()]);
    }
    // An empty `Optional`: what its `type` attribute says it would hold.
    let Some(Attr::Type(t)) = cx.node.attrs.get("type") else {
        return Err(OpError::Unknown);
    };
    let dtype = t.dtype.ok_or(OpError::Unknown)?;
    let shape = t.shape.as_ref().and_then(|dims| {
        dims.iter()
            .map(|d| match d {
                crate::graph::Dim::Known(n) => Some(*n),
                crate::graph::Dim::Sym(_) => None,
            })
            .collect::<Option<Vec<u64>>>()
    });
    Ok(vec![match (t.seq, shape) {
        (true, shape) => Tensor::sequence(dtype, None, shape),
        (false, Some(shape)) => Tensor::new(dtype, shape),
        (false, None) => return Err(OpError::Unknown),
    }])
}

fn has_element(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    // No input at all is an empty optional: false. A graph input may hold either.
    Ok(vec![
        if cx.node.inputs.first().copied().flatten().is_none() {
            Tensor::with_values(DType::Bool, vec![], Values::Int(vec![0]))
        } else {
            Tensor::new(DType::Bool, vec![])
        },
    ])
}

/// `SequenceMap`: the body runs once per element of the first input (a sequence); the other
/// inputs are sequences of the same length (element `i` each time) or tensors (the same one).
/// Every output is a sequence of the body's outputs. Elements not known one by one: the body
/// is analysed once with what every element is (its type, a shared shape), and its cost is
/// counted `<node>.n` times, a run-time size (the outputs' length stays unknown).
fn sequence_map(cx: &Ctx) -> BodyOutcome {
    let g = match cx.node.attrs.get("body") {
        Some(Attr::Graph(g)) => g,
        _ => return invalid("missing 'body' subgraph"),
    };
    let (_, first) = seq_input(cx, 0)?;
    let ins: Vec<&Tensor> = (0..cx.inputs.len())
        .map(|i| cx.input(i))
        .collect::<Result<_, _>>()?;
    // The element type: inferred, else the body's declared output type.
    let out_dtype = |k: usize, t: Option<&Tensor>| {
        t.map(|t| t.dtype)
            .or_else(|| g.outputs.get(k).and_then(|&o| g.values[o].dtype))
            .unwrap_or(DType::Unknown(0))
    };
    let Some(es) = first else {
        let elem = |t: &Tensor| match &t.seq {
            Some(_) => Tensor {
                dtype: t.dtype,
                shape: t.shape.clone(),
                value: None,
                seq: None,
            },
            None => t.clone(),
        };
        let (outs, per) = cx
            .bodies
            .analyze(g, ins.iter().map(|t| elem(t)).collect())
            .unwrap_or_default();
        // The body runs once per element: their number is a run-time size `<node>.n`.
        let cost = match per {
            Some(c) => {
                let n = super::data_dim(cx, "n", None)?;
                Some(Cost {
                    macs: super::mul(&[c.macs, n])?,
                    flops: super::mul(&[c.flops, n])?,
                })
            }
            None => None,
        };
        let result = (0..g.outputs.len())
            .map(|k| {
                let t = outs.get(k).and_then(Option::as_ref);
                Some(Tensor::sequence(
                    out_dtype(k, t),
                    None,
                    t.and_then(|t| t.shape.clone()),
                ))
            })
            .collect();
        return Ok((result, cost));
    };
    let n = es.len();
    let mut per_out: Vec<Option<Vec<Tensor>>> = vec![Some(Vec::with_capacity(n)); g.outputs.len()];
    let mut cost = Some(Cost::default());
    type Analysis = (Vec<Option<Tensor>>, Option<Cost>);
    let mut seen: std::collections::HashMap<Vec<(DType, Option<Shape>)>, Analysis> =
        std::collections::HashMap::new();
    for i in 0..n {
        let elems: Vec<Tensor> = ins
            .iter()
            .enumerate()
            .map(|(j, t)| match &t.seq {
                Some(s) => match s.elems.as_deref() {
                    Some(es) if es.len() == n => Ok(es[i].clone()),
                    Some(es) => invalid(format!(
                        "input {j} has {} elements but input 0 has {n}",
                        es.len()
                    )),
                    None => Err(OpError::Unknown),
                },
                None => Ok((*t).clone()),
            })
            .collect::<Result<_, _>>()?;
        // Elements alike in type and shape (and without values) give the same analysis: done
        // once per kind, so a long sequence costs as many analyses as it has distinct shapes.
        let key: Option<Vec<(DType, Option<Shape>)>> = elems
            .iter()
            .map(|e| e.value.is_none().then(|| (e.dtype, e.shape.clone())))
            .collect();
        let (outs, c) = match key.as_ref().and_then(|k| seen.get(k)) {
            Some(hit) => hit.clone(),
            None => {
                let r = cx.bodies.analyze(g, elems)?;
                if let Some(k) = key {
                    seen.insert(k, r.clone());
                }
                r
            }
        };
        cost = match (cost, c) {
            (Some(a), Some(b)) => Some(Cost {
                macs: a.macs.checked_add(b.macs).ok_or_else(super::overflow)?,
                flops: a.flops.checked_add(b.flops).ok_or_else(super::overflow)?,
            }),
            _ => None,
        };
        for (k, t) in outs.into_iter().enumerate() {
            if let Some(slot) = per_out.get_mut(k) {
                match (slot.as_mut(), t) {
                    (Some(v), Some(t)) => v.push(t),
                    _ => *slot = None,
                }
            }
        }
    }
    let result = per_out
        .into_iter()
        .enumerate()
        .map(|(k, elems)| {
            let dt = out_dtype(k, elems.as_ref().and_then(|e| e.first()));
            Some(Tensor::sequence(dt, elems, None))
        })
        .collect();
    Ok((result, cost))
}

#[cfg(test)]
#[path = "sequence_tests.rs"]
mod tests;
