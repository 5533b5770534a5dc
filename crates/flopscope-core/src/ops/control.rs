//! Control flow: `If`, `Loop` and `Scan`, analysed through their subgraphs.
//! See `docs/counting.md`, "Control flow".
//!
//! If: the branch taken when the condition is a known constant, else the then-branch.
//! Loop: body cost × trip count (input M must be a known constant; an early-exit condition is
//! not modelled). Scan: body cost × scan length. Loop-carried values keep their initial shapes.

use crate::graph::{Attr, DType, Graph};

use super::{numel, BodyOutcome, Cost, Ctx, OpError, Tensor};

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
    // A trip count computed at run time (or none: the condition alone ends the loop) is a
    // size of its own, `<node>.trips`, counted at 1: the totals are then per iteration.
    let trips = match cx.opt(0).and_then(|t| t.value.as_deref()) {
        Some(v) => {
            let t = *v
                .to_ints()
                .first()
                .ok_or_else(|| OpError::Invalid("the trip count is empty".into()))?;
            u64::try_from(t).map_err(|_| OpError::Invalid(format!("trip count {t} < 0")))?
        }
        None => super::data_dim(cx, "trips", None)?,
    };
    // Carried values change every iteration: the body sees their types and shapes only.
    let carried: Vec<Tensor> = (2..cx.inputs.len())
        .map(|i| cx.input(i).map(Tensor::varying))
        .collect::<Result<_, _>>()?;
    let mut ins = vec![
        Tensor::new(DType::I64, vec![]),
        Tensor::new(DType::Bool, vec![]),
    ];
    ins.extend(carried.iter().cloned());
    let (outs, cost) = cx.bodies.analyze(g, ins)?;
    // Body outputs: condition, carried values, then per-iteration scan outputs (stacked).
    let mut result: Vec<Option<Tensor>> = outs
        .iter()
        .skip(1)
        .take(carried.len())
        .map(|t| t.as_ref().map(Tensor::varying))
        .collect();
    for t in outs.iter().skip(1 + carried.len()) {
        result.push(stacked(t.as_ref(), 0, trips)?);
    }
    Ok((result, times(cost, trips)?))
}

/// A Scan's body, its number of scan inputs m, and of state inputs n (after `skip` leading
/// inputs: Scan-8's `sequence_lens`).
fn scan_inputs<'a>(cx: &'a Ctx, skip: usize) -> Result<(&'a Graph, usize, usize), OpError> {
    let g = body(cx, "body")?;
    let m = cx.node.attr_int("num_scan_inputs", 0);
    let m = usize::try_from(m).map_err(|_| OpError::Invalid("num_scan_inputs < 0".into()))?;
    let n = cx
        .inputs
        .len()
        .checked_sub(m + skip)
        .ok_or_else(|| OpError::Invalid("fewer inputs than num_scan_inputs".into()))?;
    Ok((g, m, n))
}

fn infer_scan(cx: &Ctx) -> BodyOutcome {
    if cx.opset < 9 {
        return infer_scan8(cx);
    }
    let (g, m, n) = scan_inputs(cx, 0)?;
    let mut ins: Vec<Tensor> = (0..n)
        .map(|i| cx.input(i).map(Tensor::varying))
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
        ins.push(Tensor::new(cx.dtype(n + j)?, slice));
    }
    let len = len.ok_or_else(|| OpError::Invalid("Scan needs at least one scan input".into()))?;
    let (outs, cost) = cx.bodies.analyze(g, ins)?;
    let mut result: Vec<Option<Tensor>> = outs.iter().take(n).cloned().collect();
    for (k, t) in outs.iter().skip(n).enumerate() {
        let ax = match t.as_ref().and_then(|t| t.shape.as_ref()) {
            Some(s) => super::axis(
                super::at(cx.node.attr_ints("scan_output_axes"), k, 0),
                s.len() + 1,
            )?,
            None => 0,
        };
        result.push(stacked(t.as_ref(), ax, len)?);
    }
    Ok((result, times(cost, len)?))
}

/// A per-iteration output stacked `n` times along `axis` (unknown when its shape is).
fn stacked(t: Option<&Tensor>, axis: usize, n: u64) -> Result<Option<Tensor>, OpError> {
    let Some((t, s)) = t.and_then(|t| Some((t, t.shape.as_ref()?))) else {
        return Ok(None);
    };
    let mut s = s.clone();
    s.insert(axis, n);
    numel(&s)?;
    // A body output of no declared or inferred type is float, as ONNX's Scan defaults.
    let dt = if t.dtype == DType::Unknown(0) {
        DType::F32
    } else {
        t.dtype
    };
    Ok(Some(Tensor::new(dt, s)))
}

/// Scan-8: input 0 is the optional `sequence_lens`, and every other input has a leading batch
/// axis the body does not see (scan inputs are `[batch, len, ...]`); the body runs
/// batch × len times.
fn infer_scan8(cx: &Ctx) -> BodyOutcome {
    let (g, m, n) = scan_inputs(cx, 1)?;
    let mut batch = None;
    let mut ins = Vec::with_capacity(n + m);
    let mut len = None;
    for i in 1..cx.inputs.len() {
        let s = cx.shape(i)?;
        let scan = i > n;
        if s.len() < 1 + usize::from(scan) {
            return Err(OpError::Invalid(format!(
                "input {i} has rank {} but Scan-8 needs a batch axis{}",
                s.len(),
                if scan { " and a scan axis" } else { "" }
            )));
        }
        if batch.is_some_and(|b| b != s[0]) {
            return Err(OpError::Invalid("inputs differ in batch size".into()));
        }
        batch = Some(s[0]);
        if scan {
            if len.is_some_and(|l| l != s[1]) {
                return Err(OpError::Invalid("scan inputs differ in length".into()));
            }
            len = Some(s[1]);
            ins.push(Tensor::new(cx.dtype(i)?, s[2..].to_vec()));
        } else {
            ins.push(Tensor::new(cx.dtype(i)?, s[1..].to_vec()));
        }
    }
    let (batch, len) = match (batch, len) {
        (Some(b), Some(l)) => (b, l),
        _ => {
            return Err(OpError::Invalid(
                "Scan needs at least one scan input".into(),
            ))
        }
    };
    let (outs, cost) = cx.bodies.analyze(g, ins)?;
    let mut result = Vec::with_capacity(outs.len());
    for (k, t) in outs.iter().enumerate() {
        let t = if k >= n {
            stacked(t.as_ref(), 0, len)?
        } else {
            t.clone()
        };
        result.push(stacked(t.as_ref(), 0, batch)?);
    }
    Ok((result, times(cost, super::mul(&[batch, len])?)?))
}
