//! Control flow: `If`, `Loop` and `Scan`, analysed through their subgraphs.
//! See `docs/counting.md`, "Control flow".
//!
//! If: the branch taken when the condition is a known constant, else the then-branch.
//! Loop: body cost × trip count (input M must be a known constant; an early-exit condition is
//! not modelled). Scan: body cost × scan length. Loop-carried values keep their initial shapes.

use crate::graph::{Attr, DType, Graph};

use super::{numel, BodyOutcome, Cost, Ctx, OpError, Shape, Tensor};

/// The rule for a control-flow op of the default domain.
pub fn lookup(op: &str) -> Option<fn(&Ctx) -> BodyOutcome> {
    Some(match op {
        "If" => infer_if,
        "Loop" => infer_loop,
        "Scan" => infer_scan,
        _ => return None,
    })
}

fn body<'a>(cx: &'a Ctx, name: &str) -> Result<&'a Graph, OpError> {
    match cx.node.attrs.get(name) {
        Some(Attr::Graph(g)) => Ok(g),
        _ => Err(OpError::Invalid(format!("missing '{name}' subgraph"))),
    }
}

fn times(c: Option<Cost>, n: u64) -> Result<Option<Cost>, OpError> {
    c.map(|c| {
        Ok(Cost {
            macs: c.macs.checked_mul(n).ok_or_else(super::overflow)?,
            flops: c.flops.checked_mul(n).ok_or_else(super::overflow)?,
        })
    })
    .transpose()
}

fn infer_if(cx: &Ctx) -> BodyOutcome {
    let cond = cx
        .opt(0)
        .and_then(|t| t.value.as_deref())
        .map(|v| !v.is_empty() && v.f(0) != 0.0);
    let branch = if cond == Some(false) {
        "else_branch"
    } else {
        "then_branch"
    };
    cx.bodies.analyze(body(cx, branch)?, vec![])
}

fn infer_loop(cx: &Ctx) -> BodyOutcome {
    let g = body(cx, "body")?;
    let trips = cx
        .ints(0)
        .ok()
        .and_then(|v| v.first().copied())
        .ok_or(OpError::Unknown)?;
    let trips =
        u64::try_from(trips).map_err(|_| OpError::Invalid(format!("trip count {trips} < 0")))?;
    let carried: Vec<Shape> = (2..cx.inputs.len())
        .map(|i| cx.shape(i).map(<[u64]>::to_vec))
        .collect::<Result<_, _>>()?;
    let mut shapes = vec![vec![], vec![]];
    shapes.extend(carried.iter().cloned());
    let (outs, cost) = cx.bodies.analyze(g, shapes)?;
    // Body outputs: condition, carried values, then per-iteration scan outputs (stacked).
    let mut result: Vec<Tensor> = outs.iter().skip(1).take(carried.len()).cloned().collect();
    for t in outs.iter().skip(1 + carried.len()) {
        let mut s = vec![trips];
        s.extend(t.shape.as_deref().ok_or(OpError::Unknown)?);
        numel(&s)?;
        result.push(Tensor::new(t.dtype, s));
    }
    Ok((result, times(cost, trips)?))
}

fn infer_scan(cx: &Ctx) -> BodyOutcome {
    let g = body(cx, "body")?;
    let m = cx.node.attr_int("num_scan_inputs", 0);
    let m = usize::try_from(m).map_err(|_| OpError::Invalid("num_scan_inputs < 0".into()))?;
    let n = cx
        .inputs
        .len()
        .checked_sub(m)
        .ok_or_else(|| OpError::Invalid("fewer inputs than num_scan_inputs".into()))?;
    let mut shapes: Vec<Shape> = (0..n)
        .map(|i| cx.shape(i).map(<[u64]>::to_vec))
        .collect::<Result<_, _>>()?;
    let mut len = None;
    for j in 0..m {
        let s = cx.shape(n + j)?;
        let ax = super::axis(
            super::at(cx.node.attr_ints("scan_input_axes"), j, 0),
            s.len(),
        )?;
        if len.is_some_and(|l| l != s[ax]) {
            return Err(OpError::Invalid("scan inputs differ in length".into()));
        }
        len = Some(s[ax]);
        let mut slice = s.to_vec();
        slice.remove(ax);
        shapes.push(slice);
    }
    let len = len.ok_or_else(|| OpError::Invalid("Scan needs at least one scan input".into()))?;
    let (outs, cost) = cx.bodies.analyze(g, shapes)?;
    let mut result: Vec<Tensor> = outs.iter().take(n).cloned().collect();
    for (k, t) in outs.iter().skip(n).enumerate() {
        let mut s = t.shape.clone().ok_or(OpError::Unknown)?;
        let ax = super::axis(
            super::at(cx.node.attr_ints("scan_output_axes"), k, 0),
            s.len() + 1,
        )?;
        s.insert(ax, len);
        numel(&s)?;
        result.push(Tensor::new(
            if t.dtype == DType::Unknown(0) {
                DType::F32
            } else {
                t.dtype
            },
            s,
        ));
    }
    Ok((result, times(cost, len)?))
}
