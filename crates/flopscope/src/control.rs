//! Control flow: `If` is analysed through the branch it takes (or the then-branch when the
//! condition is not a constant). Loop and Scan are reported as unsupported for now.

use std::collections::HashMap;

use crate::graph::Attr;
use crate::infer::{analyze, NodeStatus};
use crate::ops::{Cost, Ctx, OpError, Tensor};

/// Outputs and cost of an `If` node: those of the branch it takes.
pub fn infer_if(
    cx: &Ctx,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Result<(Vec<Tensor>, Option<Cost>), OpError> {
    let cond = cx
        .opt(0)
        .and_then(|t| t.value.as_deref())
        .map(|v| v.f(0) != 0.0);
    let branch = if cond == Some(false) {
        "else_branch"
    } else {
        "then_branch"
    };
    let Some(Attr::Graph(body)) = cx.node.attrs.get(branch) else {
        return Err(OpError::Invalid(format!("missing '{branch}' subgraph")));
    };
    let a = analyze(body, &HashMap::new(), bindings, outer)
        .map_err(|e| OpError::Invalid(format!("in {branch}: {e}")))?;
    let mut cost = Some(Cost::default());
    for r in &a.nodes {
        cost = match (cost, r.cost, &r.status) {
            (Some(c), Some(n), NodeStatus::Ok) => Some(Cost {
                macs: c.macs.saturating_add(n.macs),
                flops: c.flops.saturating_add(n.flops),
            }),
            _ => None,
        };
    }
    let outs: Option<Vec<Tensor>> = body.outputs.iter().map(|&o| a.tensors[o].clone()).collect();
    Ok((outs.ok_or(OpError::Unknown)?, cost))
}
