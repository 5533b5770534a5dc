//! ATen operator calls → ONNX nodes with the same meaning, so that a traced PyTorch module is
//! counted by the rules that count its ONNX export (`docs/python.md`, "How a module is
//! counted"). Data movement without an ONNX twin worth spelling out (views, indexing,
//! factories) becomes an `aten`-domain node whose outputs keep their traced shapes
//! (`ops::aten`). An operator not named here becomes an `aten` node without a rule: listed
//! as unsupported, its outputs still carry their traced shapes, so the rest of the graph is
//! counted.

mod backward;
mod index;
mod linalg;
mod norm;
mod pointwise;
mod quantized;
mod reduce;
mod vision;

use super::trace::{Call, Emit, Why};
use crate::graph::{Attr, ValueId};

type R = std::result::Result<(), Why>;

fn ints(v: Vec<i64>) -> Attr {
    Attr::Ints(v)
}

/// Translates one call into nodes.
pub(crate) fn translate(e: &mut Emit, c: &Call) -> R {
    // Quantized kernels, whose packed weights the recorder passes unpacked (`quantized`).
    if let Some(r) = quantized::translate(e, c) {
        return r;
    }
    if c.namespace() == "torchvision" {
        if let Some(r) = vision::translate(e, c) {
            return r;
        }
    }
    if c.namespace() != "aten" {
        return generic(e, c, c.namespace());
    }
    let name = c.name();
    // In-place variants (`relu_`, `add_`) compute what the out-of-place op computes.
    let base = name
        .strip_suffix('_')
        .filter(|_| !crate::ops::aten::is_move(name))
        .unwrap_or(name);
    let families = [
        // First: an attention kernel's backward is not its forward (`linalg`).
        backward::translate,
        index::translate,
        linalg::translate,
        norm::translate,
        pointwise::translate,
        reduce::translate,
    ];
    for family in families {
        if let Some(r) = family(e, c, base) {
            return r;
        }
    }
    let outs = c.outputs.clone();
    match (pointwise::unary(base), pointwise::binary(base)) {
        (Some(op), _) => {
            let x = e.req(c, "self")?;
            e.node("", op, vec![Some(x)], outs, vec![])
        }
        (_, Some(op)) => {
            let (a, b) = pointwise::operands(e, c, "self", "other")?;
            e.node("", op, vec![Some(a), Some(b)], outs, vec![])
        }
        _ => generic(e, c, "aten"),
    }
}

fn first(outs: &[Option<ValueId>]) -> std::result::Result<ValueId, Why> {
    outs.first()
        .copied()
        .flatten()
        .ok_or_else(|| "the call recorded no output".to_string())
}

/// An operator without a translation: an `aten` node over every tensor argument (a rule in
/// `ops::aten` when it only moves data; otherwise none, and it is listed as unsupported).
fn generic(e: &mut Emit, c: &Call, domain: &str) -> R {
    let ins = e.all_tensors(c)?;
    // An in-place variant (`squeeze_`, `bernoulli_`) takes the rule of its out-of-place op.
    let name = c.name();
    let name = match name.strip_suffix('_') {
        Some(base)
            if domain == "aten"
                && crate::ops::aten::lookup(name).is_none()
                && crate::ops::aten::lookup(base).is_some() =>
        {
            base
        }
        _ => name,
    };
    e.node(domain, name, ins, c.outputs.clone(), vec![])
}
