//! Bookkeeping nodes of a traced PyTorch module, and the layer each is folded into.
//!
//! A trace records every ATen call, including calls that are not layers to anyone reading a
//! profile: views (`view`, `t`, `permute`, `expand`, `select`…), autograd's `detach`, `alias`,
//! `lift_fresh`, allocations that write nothing (`empty`), the scalar `Constant`s the
//! translation makes, and BatchNorm's `num_batches_tracked += 1`. They stay nodes of the graph
//! (so every shape infers and every front end has one cost model), but in a profile their row
//! is merged into the layer that made their input (its producer), or, when nothing in the
//! graph made it (a view of a weight, a constant), into the first layer that reads them
//! (`docs/counting.md`, "Layers of a traced module"). ONNX files are never folded.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use crate::checked::overflow;
use crate::error::Result;
use crate::graph::{Graph, Node, ValueKind};
use crate::schema::{Folded, Layer};

/// Allocations whose output nobody computes: the bytes are reserved, nothing is written.
const ALLOCATIONS: &[&str] = &["empty", "empty_like", "empty_strided", "new_empty"];

/// Whether node `n` of a traced graph is bookkeeping, folded into another layer's row: an
/// `aten` view (which includes `detach`, `alias` and `lift_fresh`: see
/// [`crate::ops::aten::is_view`]), an allocation, a `Constant`, or the update of an integer
/// buffer (a counter such as `num_batches_tracked`). Always `false` outside a trace.
pub fn is_bookkeeping(g: &Graph, n: &Node) -> bool {
    if !g.traced {
        return false;
    }
    match n.domain.as_str() {
        "aten" => {
            crate::ops::aten::is_view(&n.op_type) || ALLOCATIONS.contains(&n.op_type.as_str())
        }
        "" => n.op_type == "Constant" || updates_integer_buffer(g, n),
        _ => false,
    }
}

/// A node that reads an integer scalar buffer and writes only integer scalars: module state
/// kept as a counter (BatchNorm's `num_batches_tracked += 1` in training mode), not a
/// layer's work.
fn updates_integer_buffer(g: &Graph, n: &Node) -> bool {
    let counter = |v: usize| {
        let value = &g.values[v];
        value.dtype.is_some_and(|d| !d.is_float())
            && value.shape.as_ref().is_some_and(Vec::is_empty)
    };
    let reads_counter = || {
        n.inputs.iter().flatten().any(|&v| {
            g.buffers.contains(&v)
                && matches!(g.values[v].kind, ValueKind::Initializer(_))
                && counter(v)
        })
    };
    // The outputs first: almost every node writes floats, and that ends the test.
    !n.outputs.is_empty() && n.outputs.iter().flatten().all(|&v| counter(v)) && reads_counter()
}

/// For each node of `g` (by index): `Some(t)` when its row is folded into node `t`'s, `None`
/// when it is a row of its own. `order` is the execution order. A bookkeeping node goes, in
/// this order of preference, to the layer that made its first input; to the first layer that
/// reads its outputs; to the nearest layer of the same module after it, then before it; to
/// the nearest layer at all. A recorded training step's forward and backward nodes are never
/// folded into each other. A target is never itself folded.
pub fn targets(g: &Graph, order: &[usize]) -> Vec<Option<usize>> {
    let count = g.nodes.len();
    let mut target: Vec<Option<usize>> = vec![None; count];
    if !g.traced {
        return target;
    }
    let fold: Vec<bool> = g.nodes.iter().map(|n| is_bookkeeping(g, n)).collect();
    let forward = g.backward_start.unwrap_or(count);
    let side = |i: usize| i >= forward;
    let mut producer: Vec<Option<usize>> = vec![None; g.values.len()];
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); g.values.len()];
    let mut pos: Vec<usize> = vec![usize::MAX; count];
    for (at, &i) in order.iter().enumerate() {
        pos[i] = at;
        for &o in g.nodes[i].outputs.iter().flatten() {
            producer[o] = Some(i);
        }
        for &v in g.nodes[i].inputs.iter().flatten() {
            readers[v].push(i); // in execution order
        }
    }
    // A folded node's target, or the node itself when it is a row.
    let row = |target: &[Option<usize>], i: usize| if fold[i] { target[i] } else { Some(i) };
    // 1. The producer of the first input (views, detach: what they are views of).
    for &i in order.iter().filter(|&&i| fold[i]) {
        let first = g.nodes[i].inputs.iter().flatten().next();
        if let Some(p) = first
            .and_then(|&v| producer[v])
            .filter(|&p| side(p) == side(i))
        {
            target[i] = row(&target, p);
        }
    }
    // 2. The first reader (a weight's `t`, a constant); 3. else a neighbour in execution
    //    order: of the same module, after then before; any. Latest nodes first, so that a
    //    folded reader (a constant read by `num_batches_tracked`'s add) has its row first.
    for (at, &i) in order.iter().enumerate().rev() {
        if !fold[i] || target[i].is_some() {
            continue;
        }
        let mut first: Option<(usize, usize)> = None; // (position of the reader, its row)
        for &o in g.nodes[i].outputs.iter().flatten() {
            for &r in readers[o].iter().filter(|&&r| side(r) == side(i)) {
                if let Some(t) = row(&target, r) {
                    if first.is_none_or(|(p, _)| pos[r] < p) {
                        first = Some((pos[r], t));
                    }
                }
            }
        }
        let (before, after) = order.split_at(at);
        let layer = |&&j: &&usize| !fold[j] && side(j) == side(i);
        let same = |&&j: &&usize| g.nodes[j].scope == g.nodes[i].scope;
        target[i] = first.map(|(_, t)| t).or_else(|| {
            (after.iter().filter(layer).find(same))
                .or_else(|| before.iter().rev().filter(layer).find(same))
                .or_else(|| before.iter().rev().find(layer))
                .or_else(|| after.iter().find(layer))
                .copied()
        });
    }
    target
}

/// Merges the rows of folded nodes into their targets' rows. `layers[k]` is the row of node
/// `order[k]`; the result keeps the order of the rows that remain. Counts are added (a total
/// that overflows is an error), shapes are the target's own, and each folded node is listed
/// in its target's `folded`, in execution order.
pub fn merge(layers: Vec<Layer>, order: &[usize], targets: &[Option<usize>]) -> Result<Vec<Layer>> {
    if targets.iter().all(Option::is_none) {
        return Ok(layers);
    }
    let mut at: Vec<usize> = vec![usize::MAX; targets.len()];
    for (k, &ni) in order.iter().enumerate() {
        at[ni] = k;
    }
    let mut rows: Vec<Option<Layer>> = layers.into_iter().map(Some).collect();
    for (k, &ni) in order.iter().enumerate() {
        let Some(t) = targets[ni] else { continue };
        let into = at[t];
        let Some(l) = rows[k].take() else { continue };
        let Some(r) = rows.get_mut(into).and_then(Option::as_mut) else {
            rows[k] = Some(l); // no such row: the node stays a row (cannot happen)
            continue;
        };
        let what = |q: &str| overflow(format_args!("the {q} of layer '{}'", r.name));
        let add = |a: u64, b: u64, q: &str| a.checked_add(b).ok_or_else(|| what(q));
        let add_opt = |a: Option<u64>, b: Option<u64>, q: &str| match (a, b) {
            (Some(a), Some(b)) => a.checked_add(b).map(Some).ok_or_else(|| what(q)),
            _ => Ok(None),
        };
        r.params = add(r.params, l.params, "parameters")?;
        r.param_bytes = add(r.param_bytes, l.param_bytes, "parameter bytes")?;
        r.macs = add_opt(r.macs, l.macs, "MACs")?;
        r.flops = add_opt(r.flops, l.flops, "FLOPs")?;
        r.bytes_read = add(r.bytes_read, l.bytes_read, "bytes read")?;
        r.bytes_written = add(r.bytes_written, l.bytes_written, "bytes written")?;
        r.activation_bytes = add(r.activation_bytes, l.activation_bytes, "activation bytes")?;
        r.folded.push(Folded {
            name: l.name,
            op: l.op,
            domain: l.domain,
            outputs: l.outputs,
            before: k < into,
        });
    }
    Ok(rows.into_iter().flatten().collect())
}
