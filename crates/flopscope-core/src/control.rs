//! Control flow: `If`, `Loop` and `Scan`, analysed through their subgraphs.
//! See `docs/counting.md`, "Control flow".
//!
//! If: the branch taken when the condition is a known constant, else the then-branch.
//! Loop: body cost × trip count (input M must be a known constant; an early-exit condition is
//! not modelled). Scan: body cost × scan length. Loop-carried values keep their initial shapes.

use std::collections::HashMap;

use crate::graph::{Attr, DType, Graph};
use crate::infer::{analyze, NodeStatus};
use crate::ops::{numel, Cost, Ctx, OpError, Shape, Tensor};

/// Outputs and cost (`None` when part of it is unknown) of a control-flow node.
pub type Outcome = Result<(Vec<Tensor>, Option<Cost>), OpError>;

/// A control-flow rule: the node, the dim bindings, and a lookup of enclosing values.
pub type Rule = fn(&Ctx, &HashMap<String, u64>, &dyn Fn(&str) -> Option<Tensor>) -> Outcome;

/// The rule for a control-flow op of the default domain.
pub fn lookup(op: &str) -> Option<Rule> {
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

/// Analyses a subgraph with its inputs at `shapes`; returns its output tensors and total cost.
fn run_body(
    g: &Graph,
    shapes: Vec<Shape>,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Result<(Vec<Tensor>, Option<Cost>), OpError> {
    if shapes.len() != g.inputs.len() {
        return Err(OpError::Invalid(format!(
            "the body takes {} inputs but the node feeds {}",
            g.inputs.len(),
            shapes.len()
        )));
    }
    let inputs = g.inputs.iter().copied().zip(shapes).collect();
    let a = analyze(g, &inputs, bindings, outer)
        .map_err(|e| OpError::Invalid(format!("in the body: {e}")))?;
    let mut cost = Some(Cost::default());
    for r in &a.nodes {
        cost = match (cost, r.cost, &r.status) {
            (Some(c), Some(n), NodeStatus::Ok) => Some(Cost {
                macs: c
                    .macs
                    .checked_add(n.macs)
                    .ok_or_else(crate::ops::overflow)?,
                flops: c
                    .flops
                    .checked_add(n.flops)
                    .ok_or_else(crate::ops::overflow)?,
            }),
            _ => None,
        };
    }
    let outs: Option<Vec<Tensor>> = g.outputs.iter().map(|&o| a.tensors[o].clone()).collect();
    Ok((outs.ok_or(OpError::Unknown)?, cost))
}

fn times(c: Option<Cost>, n: u64) -> Result<Option<Cost>, OpError> {
    c.map(|c| {
        Ok(Cost {
            macs: c.macs.checked_mul(n).ok_or_else(crate::ops::overflow)?,
            flops: c.flops.checked_mul(n).ok_or_else(crate::ops::overflow)?,
        })
    })
    .transpose()
}

fn infer_if(
    cx: &Ctx,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Outcome {
    let cond = cx
        .opt(0)
        .and_then(|t| t.value.as_deref())
        .map(|v| !v.is_empty() && v.f(0) != 0.0);
    let branch = if cond == Some(false) {
        "else_branch"
    } else {
        "then_branch"
    };
    run_body(body(cx, branch)?, vec![], bindings, outer)
}

fn infer_loop(
    cx: &Ctx,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Outcome {
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
    let (outs, cost) = run_body(g, shapes, bindings, outer)?;
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

fn infer_scan(
    cx: &Ctx,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Outcome {
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
        let ax = crate::ops::axis(
            crate::ops::at(cx.node.attr_ints("scan_input_axes"), j, 0),
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
    let (outs, cost) = run_body(g, shapes, bindings, outer)?;
    let mut result: Vec<Tensor> = outs.iter().take(n).cloned().collect();
    for (k, t) in outs.iter().skip(n).enumerate() {
        let mut s = t.shape.clone().ok_or(OpError::Unknown)?;
        let ax = crate::ops::axis(
            crate::ops::at(cx.node.attr_ints("scan_output_axes"), k, 0),
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
