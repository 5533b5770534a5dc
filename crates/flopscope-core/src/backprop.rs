//! A training step derived from a forward graph: which values need a gradient, the backward
//! of every node that runs one (the rules of [`crate::ops::backward`]), the activations the
//! forward keeps for it under a recomputation policy, and the working set of the backward.
//! `docs/training.md` states each choice. Totals are checked sums ([`crate::checked`]).
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::checked::{add_to, overflow};
use crate::error::Result;
use crate::graph::{Graph, ValueId};
use crate::infer::{Analysis, NodeStatus};
use crate::ops::backward::{self, Grad, Saved};
use crate::ops::{numel, Cost, Ctx, NoBodies, OpError};
use crate::schema::Unsupported;
use crate::training::{Recompute, StepCompute, TrainingOptions};

/// The derived step.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    /// Forward and backward compute (recomputation included in the backward) and the bytes
    /// saved for backward.
    pub compute: StepCompute,
    /// Bytes held at the peak besides the state and the saved activations: the gradients one
    /// node's backward reads and writes at once (the largest such set) and, with full
    /// recomputation, the largest block's activations while it is recomputed.
    pub working_bytes: u64,
    /// Nodes that need a backward this build cannot count: the backward totals are then lower
    /// bounds.
    pub unknown: Vec<Unsupported>,
}

/// Follows `Identity` copies back to the value they forward.
fn through_identity(g: &Graph, producer: &[Option<usize>], mut v: ValueId) -> ValueId {
    for _ in 0..64 {
        match producer[v].map(|p| &g.nodes[p]) {
            Some(n) if n.op_type == "Identity" => match n.input(0) {
                Some(src) => v = src,
                None => break,
            },
            _ => break,
        }
    }
    v
}

/// Per value: whether it is a trained parameter — a float initializer that is not a buffer
/// (declared, or a BatchNormalization's running statistics), not frozen and not a quantization
/// parameter.
fn trainable(g: &Graph, producer: &[Option<usize>]) -> Result<Vec<bool>> {
    let mut not: HashSet<ValueId> = g.buffers.iter().chain(&g.frozen).copied().collect();
    for n in g.nodes.iter().filter(|n| n.op_type == "BatchNormalization") {
        for v in [3, 4].into_iter().filter_map(|i| n.input(i)) {
            not.insert(through_identity(g, producer, v));
        }
    }
    let roles = crate::weights::roles(g, &|v| Some(v))?;
    let mut out = vec![false; g.values.len()];
    for init in &g.initializers {
        let quant = roles.get(&init.value) == Some(&crate::weights::Role::QuantParam);
        out[init.value] = init.dtype.is_float() && !quant && !not.contains(&init.value);
    }
    Ok(out)
}

/// The inputs a node's outputs are differentiable functions of: all but CastLike's second,
/// which gives only a type (an exported `x·β` casts the constant β like `x`; β needs no
/// gradient for that).
fn differentiable(n: &crate::graph::Node) -> impl Iterator<Item = ValueId> + '_ {
    let cast_like = n.op_type == "CastLike" && n.domain.is_empty();
    n.inputs
        .iter()
        .enumerate()
        .filter(move |&(i, _)| !(cast_like && i == 1))
        .filter_map(|(_, v)| *v)
}

/// One kept tensor: the value it is (kept once however many nodes read it), or bytes of a
/// node's own; whether it is score-sized; the recomputation that replaces a fused op's scores.
struct Kept {
    value: Option<ValueId>,
    bytes: u64,
    score: bool,
    recompute: Option<Cost>,
}

/// Derives the training step of `g` from its forward analysis `a`; an error when a total
/// overflows 64 bits.
pub fn derive(g: &Graph, a: &Analysis, opts: &TrainingOptions) -> Result<Derived> {
    let nv = g.values.len();
    let mut producer: Vec<Option<usize>> = vec![None; nv];
    for (i, n) in g.nodes.iter().enumerate() {
        for &o in n.outputs.iter().flatten() {
            producer[o] = Some(i);
        }
    }
    let dtype = |v: ValueId| a.tensors[v].as_ref().map(|t| t.dtype).or(g.values[v].dtype);
    // A value of unknown type is taken as float, so that a node after it is reported unknown
    // rather than silently skipped.
    let float = |v: ValueId| dtype(v).is_none_or(|d| d.is_float());
    let cb = opts.precision.compute_bytes();

    // Requires-grad, forward like autograd; `act`: computed from the graph's inputs (an
    // activation, not a function of the weights alone).
    let mut requires = trainable(g, &producer)?;
    let mut act = vec![false; nv];
    for &v in &g.inputs {
        act[v] = true;
    }
    for &ni in &a.order {
        let n = &g.nodes[ni];
        let req = differentiable(n).any(|v| requires[v] && float(v));
        let from_input = n.inputs.iter().flatten().any(|&v| act[v]);
        for &o in n.outputs.iter().flatten() {
            requires[o] = req && float(o);
            act[o] = from_input;
        }
    }
    // Gradients flow back from the graph's outputs: a node runs backward when one of its
    // outputs receives a gradient.
    let mut flowing = vec![false; nv];
    for &o in &g.outputs {
        flowing[o] = requires[o];
    }
    let mut runs = vec![false; g.nodes.len()];
    for &ni in a.order.iter().rev() {
        let n = &g.nodes[ni];
        if n.outputs.iter().flatten().any(|&o| flowing[o]) {
            runs[ni] = true;
            for v in differentiable(n).filter(|&v| requires[v]) {
                flowing[v] = true;
            }
        }
    }

    // A float value's bytes at the compute width (4 or 2 bytes), which may be wider than its
    // own type (a float16 value in an fp32 step): checked again.
    let bytes_of = |v: ValueId| -> Result<u64> {
        Ok(match a.tensors[v].as_ref() {
            Some(t) if t.dtype.is_float() => match t.shape.as_deref().and_then(|s| numel(s).ok()) {
                Some(n) => n.checked_mul(cb).ok_or_else(|| {
                    overflow(format!("the gradient bytes of '{}'", g.values[v].name))
                })?,
                None => 0,
            },
            Some(t) => t.bytes().unwrap_or(0),
            None => 0,
        })
    };
    let shape = |v: ValueId| a.tensors[v].as_ref().and_then(|t| t.shape.clone());
    // Score-sized shapes: what a softmax over three or more axes reads ([B, H, L, S]).
    let scores: HashSet<Vec<u64>> = a
        .order
        .iter()
        .filter(|&&ni| runs[ni])
        .map(|&ni| &g.nodes[ni])
        .filter(|n| matches!(n.op_type.as_str(), "Softmax" | "LogSoftmax"))
        .filter_map(|n| n.input(0).and_then(shape))
        .filter(|s| s.len() >= 3)
        .collect();
    let is_score = |v: ValueId| shape(v).is_some_and(|s| scores.contains(&s));

    let mut d = Derived::default();
    let mut c = StepCompute::default();
    let mut unknown = crate::training::UnknownNodes::new();
    let mut kept: Vec<(usize, Kept)> = Vec::new(); // (position in order, what)
    let mut selective_recompute = Cost::default();
    let mut full_recompute = Cost::default();
    for (pos, &ni) in a.order.iter().enumerate() {
        let n = &g.nodes[ni];
        let r = &a.nodes[ni];
        let fwd = r.cost.filter(|_| r.status == NodeStatus::Ok);
        if let Some(f) = fwd {
            add_to(&mut c.forward_macs, f.macs, "the forward MACs")?;
            add_to(&mut c.forward_flops, f.flops, "the forward FLOPs")?;
        }
        if !runs[ni] {
            continue;
        }
        let mut miss = |reason: &str| crate::training::note_unknown(&mut unknown, n, reason);
        let Some(forward) = fwd else {
            miss("forward cost unknown");
            continue;
        };
        let Some(rule) = backward::lookup(&n.domain, &n.op_type) else {
            miss("no backward rule for this operator");
            continue;
        };
        let warnings = RefCell::new(Vec::new());
        let grad = Grad {
            cx: Ctx {
                node: n,
                inputs: n
                    .inputs
                    .iter()
                    .map(|i| i.and_then(|v| a.tensors[v].as_ref()))
                    .collect(),
                opset: g.opset(),
                bodies: &NoBodies,
                warnings: &warnings,
            },
            outs: n
                .outputs
                .iter()
                .map(|o| o.and_then(|v| a.tensors[v].as_ref()))
                .collect(),
            needs: n
                .inputs
                .iter()
                .map(|i| i.is_some_and(|v| requires[v]))
                .collect(),
            forward,
        };
        let back = match backward::run(rule, &grad).and_then(|b| Ok((b.cost()?, b))) {
            Ok(b) => b,
            Err(OpError::Unknown) => {
                miss("input shapes unknown");
                continue;
            }
            Err(OpError::Invalid(why)) => {
                miss(&why);
                continue;
            }
        };
        let (cost, back) = back;
        add_to(&mut c.backward_macs, cost.macs, "the backward MACs")?;
        add_to(&mut c.backward_flops, cost.flops, "the backward FLOPs")?;
        full_recompute = add(full_recompute, forward)?;
        if out(n, 0).is_some_and(is_score) {
            selective_recompute = add(selective_recompute, forward)?;
        }
        // The gradients this node's backward holds: its outputs' and its activation inputs'.
        let mut held: u64 = 0;
        let name = &n.name;
        for &o in n.outputs.iter().flatten().filter(|&&o| flowing[o]) {
            let bytes = bytes_of(o)?;
            add_to(
                &mut held,
                bytes,
                format_args!("the gradient bytes node '{name}' holds"),
            )?;
        }
        for &v in n
            .inputs
            .iter()
            .flatten()
            .filter(|&&v| requires[v] && act[v])
        {
            let bytes = bytes_of(v)?;
            add_to(
                &mut held,
                bytes,
                format_args!("the gradient bytes node '{name}' holds"),
            )?;
        }
        d.working_bytes = d.working_bytes.max(held);
        let times = |e: u64, b: u64| {
            (e.checked_mul(b))
                .ok_or_else(|| overflow(format_args!("the bytes node '{name}' saves for backward")))
        };
        for s in back.saved {
            let value = |v: Option<ValueId>| -> Result<Option<Kept>> {
                Ok(match v.filter(|&v| act[v]) {
                    Some(v) => Some(Kept {
                        value: Some(v),
                        bytes: bytes_of(v)?,
                        score: is_score(v),
                        recompute: None,
                    }),
                    None => None,
                })
            };
            let own = |bytes: u64| Kept {
                value: None,
                bytes,
                score: false,
                recompute: None,
            };
            let k = match s {
                Saved::Input(i) => value(n.input(i))?,
                Saved::Output(i) => value(out(n, i))?,
                Saved::MaskOf(i) => out(n, i).map(|o| Kept {
                    score: is_score(o),
                    ..own(shape(o).and_then(|s| numel(&s).ok()).unwrap_or(0))
                }),
                Saved::Stats(e) => Some(own(times(e, 4)?)),
                Saved::Indices(e) => Some(own(times(e, 8)?)),
                Saved::Hidden(e) => Some(own(times(e, cb)?)),
                Saved::Scores { elems, recompute } => Some(Kept {
                    score: true,
                    recompute: Some(recompute),
                    ..own(times(elems, cb)?)
                }),
            };
            kept.extend(k.map(|k| (pos, k)));
        }
    }
    let sum_once = |items: &mut dyn Iterator<Item = &Kept>| -> Result<u64> {
        let mut seen = HashSet::new();
        crate::checked::sum(
            items
                .filter(|k| k.value.is_none_or(|v| seen.insert(v)))
                .map(|k| k.bytes),
            "the activation bytes saved for backward",
        )
    };
    let mut extra = Cost::default();
    c.saved_bytes = match opts.recompute {
        Recompute::None => sum_once(&mut kept.iter().map(|(_, k)| k))?,
        Recompute::Selective => {
            extra = selective_recompute;
            for (_, k) in &kept {
                if let Some(r) = k.recompute {
                    extra = add(extra, r)?;
                }
            }
            sum_once(&mut kept.iter().map(|(_, k)| k).filter(|k| !k.score))?
        }
        Recompute::Full => {
            extra = full_recompute;
            let (saved, largest) = full(g, a, &runs, &kept, &act, &bytes_of, &sum_once)?;
            add_to(
                &mut d.working_bytes,
                largest,
                "the backward's working bytes",
            )?;
            saved
        }
    };
    add_to(&mut c.backward_macs, extra.macs, "the backward MACs")?;
    add_to(&mut c.backward_flops, extra.flops, "the backward FLOPs")?;
    // Parameters that get a gradient: the trained float initializers (an integer weight of a
    // quantized graph gets none). Only node outputs were marked since, so `requires` still
    // says which initializers are trained.
    let mut trained = 0u64;
    for i in g.initializers.iter().filter(|i| requires[i.value]) {
        let n = numel(&i.dims).map_err(|_| overflow("the trainable parameters"))?;
        add_to(&mut trained, n, "the trainable parameters")?;
    }
    c.trainable_params = Some(trained);
    d.compute = c;
    d.unknown = unknown.into_values().collect();
    Ok(d)
}

/// Output `i` of a node, when present.
fn out(n: &crate::graph::Node, i: usize) -> Option<ValueId> {
    n.outputs.get(i).copied().flatten()
}

fn add(a: Cost, b: Cost) -> Result<Cost> {
    let what = "the compute recomputation adds to backward";
    Ok(Cost {
        macs: crate::checked::add(a.macs, b.macs, what)?,
        flops: crate::checked::add(a.flops, b.flops, what)?,
    })
}

/// Full recomputation: the graph is cut into blocks, runs of consecutive nodes (in execution
/// order) under the same top-level module scope (nodes without a scope form blocks of their
/// own runs). Only what a block reads from outside it is kept (each value once); each block's
/// forward runs again during backward, holding that block's activations (as without
/// recomputation) while its backward runs. Returns the bytes kept and the largest block's.
#[allow(clippy::too_many_arguments)]
fn full(
    g: &Graph,
    a: &Analysis,
    runs: &[bool],
    kept: &[(usize, Kept)],
    act: &[bool],
    bytes_of: &dyn Fn(ValueId) -> Result<u64>,
    sum_once: &dyn Fn(&mut dyn Iterator<Item = &Kept>) -> Result<u64>,
) -> Result<(u64, u64)> {
    let mut block_at: Vec<usize> = Vec::with_capacity(a.order.len());
    let mut block_of_value: HashMap<ValueId, usize> = HashMap::new();
    let mut b = 0usize;
    for (pos, &ni) in a.order.iter().enumerate() {
        let key = g.nodes[ni].scope.first();
        let prev = pos
            .checked_sub(1)
            .map(|p| g.nodes[a.order[p]].scope.first());
        if prev.is_some_and(|k| k != key) {
            // At most one block per node: below the number of nodes.
            b = b.saturating_add(1);
        }
        block_at.push(b);
        for &o in g.nodes[ni].outputs.iter().flatten() {
            block_of_value.insert(o, b);
        }
    }
    let mut seen = HashSet::new();
    let mut saved = 0u64;
    for (pos, &ni) in a.order.iter().enumerate() {
        if !runs[ni] {
            continue;
        }
        for &v in g.nodes[ni].inputs.iter().flatten() {
            let outside = block_of_value.get(&v) != Some(&block_at[pos]);
            if act[v] && outside && seen.insert(v) {
                add_to(
                    &mut saved,
                    bytes_of(v)?,
                    "the activation bytes saved for backward",
                )?;
            }
        }
    }
    let mut largest = 0u64;
    for blk in 0..=b {
        let block = sum_once(
            &mut kept
                .iter()
                .filter(|(pos, _)| block_at[*pos] == blk)
                .map(|(_, k)| k),
        )?;
        largest = largest.max(block);
    }
    Ok((saved, largest))
}
