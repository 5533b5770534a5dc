//! The result of profiling: per-layer and total costs, serializable as `flopscope.profile/1`.
//! Every total is a checked sum ([`crate::checked`]): one that does not fit in 64 bits is an
//! error naming it, never a wrapped or saturated count.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::checked::{self, add_to, overflow};
use crate::error::{Error, Result};
use crate::graph::{DType, Dim, Graph, ValueId, ValueKind};
use crate::infer::{self, Analysis, NodeStatus};
use crate::options::Options;
use crate::schema::{
    Formulas, Layer, ModelInfo, OpTypeRow, Profile, SeqDesc, TensorDesc, Totals, WeightsStatus,
    SCHEMA,
};
use crate::{formula, graph, weights};

fn op_label(domain: &str, op: &str) -> String {
    if domain.is_empty() {
        op.to_string()
    } else {
        format!("{domain}::{op}")
    }
}

fn bytes_of(a: &Analysis, v: ValueId) -> u64 {
    a.tensors[v].as_ref().and_then(|t| t.bytes()).unwrap_or(0)
}

/// Whether a node's outputs are views of its first input (a traced PyTorch view: `view`, `t`,
/// `permute`…): they share its memory, so the node reads and writes nothing.
fn is_view(n: &crate::graph::Node) -> bool {
    n.domain == "aten" && crate::ops::aten::is_view(&n.op_type)
}

/// Bytes a node reads (each distinct input once) and writes; `None` when a sum overflows.
fn node_bytes(a: &Analysis, n: &crate::graph::Node) -> Option<(u64, u64)> {
    if is_view(n) {
        return Some((0, 0));
    }
    let ins: Vec<ValueId> = n.inputs.iter().flatten().copied().collect();
    let read = ins
        .iter()
        .enumerate()
        .filter(|(i, v)| !ins[..*i].contains(v))
        .try_fold(0u64, |acc, (_, &v)| acc.checked_add(bytes_of(a, v)))?;
    let written = n
        .outputs
        .iter()
        .flatten()
        .try_fold(0u64, |acc, &v| acc.checked_add(bytes_of(a, v)))?;
    Some((read, written))
}

/// [`node_bytes`], or the error naming the node whose byte count overflows.
fn node_bytes_checked(a: &Analysis, n: &crate::graph::Node) -> Result<(u64, u64)> {
    node_bytes(a, n).ok_or_else(|| overflow(format!("the bytes node '{}' reads or writes", n.name)))
}

/// MACs, FLOPs, activation bytes, bytes read and bytes written summed over an analysis, as in
/// [`build`]'s totals but without building rows; `None` when some node's cost is unknown.
pub fn cost_sums(g: &Graph, a: &Analysis) -> Option<[u64; 5]> {
    let mut t = [0u64; 5];
    for (n, r) in g.nodes.iter().zip(&a.nodes).take(forward_nodes(g)) {
        let c = r.cost.filter(|_| r.status == NodeStatus::Ok)?;
        let (read, written) = node_bytes(a, n)?;
        for (acc, x) in t.iter_mut().zip([c.macs, c.flops, written, read, written]) {
            *acc = acc.checked_add(x)?;
        }
    }
    Some(t)
}

/// How many nodes, from the first, are the forward pass: all of them, except in a recorded
/// training step (a trace with its backward pass), whose backward nodes follow. The totals
/// count these only, so that they mean one forward pass for every source; the step is the
/// training section's (`docs/training-python.md`, "Totals and layers").
fn forward_nodes(g: &Graph) -> usize {
    g.backward_start
        .map_or(g.nodes.len(), |k| k.min(g.nodes.len()))
}

/// Elements of an initializer, or the error naming it.
fn init_elems(g: &Graph, init: &crate::graph::Initializer) -> Result<u64> {
    crate::ops::numel(&init.dims).map_err(|_| {
        overflow(format_args!(
            "the element count of initializer '{}'",
            g.values[init.value].name
        ))
    })
}

/// Bytes an initializer stores, or the error naming it.
fn init_bytes(g: &Graph, init: &crate::graph::Initializer) -> Result<u64> {
    let name = &g.values[init.value].name;
    checked::bytes_of_bits(
        init_elems(g, init)?,
        init.dtype.bits(),
        format_args!("the byte size of initializer '{name}'"),
    )
}

/// Parameter, buffer, quantization-parameter and weight-byte counts of a graph and its
/// subgraphs (see [`weights`] for what is a parameter).
fn count_weights(
    g: &Graph,
    buffers: &HashSet<ValueId>,
    roles: &HashMap<ValueId, weights::Role>,
    t: &mut Totals,
) -> Result<()> {
    let frozen: HashSet<ValueId> = g.frozen.iter().copied().collect();
    for init in &g.initializers {
        let n = init_elems(g, init)?;
        let bytes = init_bytes(g, init)?;
        add_to(&mut t.weight_bytes, bytes, "the model's weight bytes")?;
        let role = roles.get(&init.value);
        if role == Some(&weights::Role::QuantParam) {
            add_to(
                &mut t.quant_params,
                n,
                "the model's quantization parameters",
            )?;
            continue;
        }
        let Some(p) = weights::params_of(init, role) else {
            continue;
        };
        if buffers.contains(&init.value) {
            add_to(&mut t.buffers, n, "the model's buffer elements")?;
            continue;
        }
        if frozen.contains(&init.value) {
            add_to(&mut t.frozen_params, p, "the model's frozen parameters")?;
        }
        add_to(&mut t.params, p, "the model's parameters")?;
        add_to(&mut t.param_bytes, bytes, "the model's parameter bytes")?;
        let dtype = init.dtype.name();
        let e = t.params_by_dtype.entry(dtype.to_string()).or_default();
        add_to(
            &mut e.params,
            p,
            format_args!("the model's {dtype} parameters"),
        )?;
        add_to(
            &mut e.bytes,
            bytes,
            format_args!("the model's {dtype} parameter bytes"),
        )?;
        e.bits_per_param = checked::bits_per_param(e.bytes, e.params);
    }
    for n in &g.nodes {
        for a in n.attrs.values() {
            let subs: &[Graph] = match a {
                crate::graph::Attr::Graph(sub) => std::slice::from_ref(sub.as_ref()),
                crate::graph::Attr::Graphs(gs) => gs,
                _ => continue,
            };
            for sub in subs {
                let roles = weights::roles(sub, &|v| Some(v))?;
                count_weights(sub, &HashSet::new(), &roles, t)?;
            }
        }
    }
    Ok(())
}

/// Totals per operator type (domain-prefixed when not the default one), most FLOPs first; an
/// error when one of an operator type's totals overflows 64 bits.
pub fn by_op_type<'a>(layers: impl IntoIterator<Item = &'a Layer>) -> Result<Vec<OpTypeRow>> {
    let mut by_op: HashMap<String, OpTypeRow> = HashMap::new();
    for l in layers {
        let e = by_op
            .entry(op_label(&l.domain, &l.op))
            .or_insert_with(|| OpTypeRow {
                op: op_label(&l.domain, &l.op),
                count: 0,
                params: 0,
                macs: 0,
                flops: 0,
                activation_bytes: 0,
                cost_unknown: 0,
            });
        let op = &e.op;
        let all = |q: &str| overflow(format_args!("the {q} of all {op} nodes"));
        let count = e.count.checked_add(1).ok_or_else(|| all("count"))?;
        let params = e
            .params
            .checked_add(l.params)
            .ok_or_else(|| all("parameters"))?;
        let macs = (e.macs.checked_add(l.macs.unwrap_or(0))).ok_or_else(|| all("MACs"))?;
        let flops = (e.flops.checked_add(l.flops.unwrap_or(0))).ok_or_else(|| all("FLOPs"))?;
        let activation_bytes = (e.activation_bytes.checked_add(l.activation_bytes))
            .ok_or_else(|| all("activation bytes"))?;
        // At most one per layer: below the number of layers.
        let unknown = usize::from(l.flops.is_none());
        (e.count, e.params, e.macs, e.flops) = (count, params, macs, flops);
        e.activation_bytes = activation_bytes;
        e.cost_unknown = e.cost_unknown.saturating_add(unknown);
    }
    let mut rows: Vec<OpTypeRow> = by_op.into_values().collect();
    rows.sort_by(|x, y| {
        (y.flops, y.macs, y.count)
            .cmp(&(x.flops, x.macs, x.count))
            .then(x.op.cmp(&y.op))
    });
    Ok(rows)
}

/// Builds the profile of `g` from its analysis; an error when a total overflows 64 bits.
pub fn build(
    g: &Graph,
    a: &Analysis,
    model: ModelInfo,
    bindings: BTreeMap<String, u64>,
) -> Result<Profile> {
    let mut producer: Vec<Option<usize>> = vec![None; g.values.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for &o in n.outputs.iter().flatten() {
            producer[o] = Some(i);
        }
    }
    // Follow Identity copies back to the initializer they forward (TorchScript shares weights so).
    let origin = |mut v: ValueId| -> Option<ValueId> {
        for _ in 0..64 {
            match g.values[v].kind {
                ValueKind::Initializer(_) => return Some(v),
                ValueKind::NodeOutput => {
                    // Identity copies (TorchScript shares weights so) and the DequantizeLinear
                    // of a QDQ model's weight lead back to the initializer they stand for.
                    // So does a traced PyTorch view (`weight.t()` before a matmul).
                    let p = &g.nodes[producer[v]?];
                    if p.op_type != "Identity" && p.op_type != "DequantizeLinear" && !is_view(p) {
                        return None;
                    }
                    v = p.input(0)?;
                }
                _ => return None,
            }
        }
        None
    };
    let mut buffers: HashSet<ValueId> = g.buffers.iter().copied().collect();
    for n in &g.nodes {
        if n.op_type == "BatchNormalization" {
            for i in [3, 4] {
                if let Some(v) = n.input(i).and_then(origin) {
                    buffers.insert(v);
                }
            }
        }
    }
    let roles = weights::roles(g, &origin)?;
    let forward = forward_nodes(g);
    let mut totals = Totals {
        nodes: forward,
        ..Totals::default()
    };
    count_weights(g, &buffers, &roles, &mut totals)?;

    let mut owned: HashSet<ValueId> = HashSet::new();
    let mut layers = Vec::with_capacity(g.nodes.len());
    let mut unsupported = crate::training::UnknownNodes::new();
    for &ni in &a.order {
        let n = &g.nodes[ni];
        let r = &a.nodes[ni];
        let (mut params, mut param_bytes) = (0u64, 0u64);
        // A weight belongs to the layer that uses it, not to the copy or dequantization on the
        // way (a QDQ Conv owns its int8 weight).
        let passes_weight = |n: &crate::graph::Node| {
            n.op_type == "Identity"
                || ((n.op_type == "DequantizeLinear" || is_view(n))
                    && n.input(0).and_then(origin).is_some())
        };
        if !passes_weight(n) {
            for v in n.inputs.iter().flatten().filter_map(|&v| origin(v)) {
                if buffers.contains(&v) || !owned.insert(v) {
                    continue;
                }
                if let ValueKind::Initializer(i) = g.values[v].kind {
                    let init = &g.initializers[i];
                    if let Some(p) = weights::params_of(init, roles.get(&v)) {
                        let name = &n.name;
                        add_to(
                            &mut params,
                            p,
                            format_args!("the parameters of node '{name}'"),
                        )?;
                        add_to(
                            &mut param_bytes,
                            init_bytes(g, init)?,
                            format_args!("the parameter bytes of node '{name}'"),
                        )?;
                    }
                }
            }
        }
        let (bytes_read, bytes_written) = node_bytes_checked(a, n)?;
        let shape = |v: &ValueId| a.tensors[*v].as_ref().and_then(|t| t.shape.clone());
        let (macs, flops) = match (&r.status, r.cost) {
            (NodeStatus::Ok, Some(c)) => (Some(c.macs), Some(c.flops)),
            _ => (None, None),
        };
        // A recorded step's backward nodes are layers (under the module they differentiate)
        // but not in the totals, which are the forward pass's: `training` has the step.
        let in_totals = ni < forward;
        if (r.status != NodeStatus::Ok || r.cost.is_none()) && in_totals {
            totals.nodes_cost_unknown = (totals.nodes_cost_unknown.checked_add(1))
                .ok_or_else(|| overflow("the count of nodes of unknown cost"))?;
            let reason = match r.status {
                NodeStatus::UnsupportedOp => "no rule for this operator",
                _ => "input shapes or values unknown",
            };
            crate::training::note_unknown(&mut unsupported, n, reason);
        }
        if in_totals {
            add_to(&mut totals.macs, macs.unwrap_or(0), "the model's MACs")?;
            add_to(&mut totals.flops, flops.unwrap_or(0), "the model's FLOPs")?;
            add_to(&mut totals.bytes_read, bytes_read, "the model's bytes read")?;
            add_to(
                &mut totals.bytes_written,
                bytes_written,
                "the model's bytes written",
            )?;
            add_to(
                &mut totals.activation_bytes,
                bytes_written,
                "the model's activation bytes",
            )?;
        }
        // A traced module's node is named by its module already (`load::trace`).
        let name = if g.traced || n.name.starts_with('/') || n.scope.is_empty() {
            n.name.clone()
        } else {
            format!("/{}/{}", n.scope.join("/"), n.name)
        };
        layers.push(Layer {
            name,
            op: n.op_type.clone(),
            domain: n.domain.clone(),
            scope: n.scope.clone(),
            inputs: n.inputs.iter().flatten().map(shape).collect(),
            outputs: n.outputs.iter().flatten().map(shape).collect(),
            params,
            param_bytes,
            macs,
            flops,
            bytes_read,
            bytes_written,
            activation_bytes: bytes_written,
            roofline: None,
            backward: !in_totals,
            folded: vec![],
        });
    }
    totals.peak_activation_bytes = peak_live(g, a)?;

    // Per operator type, as the totals: the forward pass's layers.
    let by_op_type = by_op_type(
        layers
            .iter()
            .zip(&a.order)
            .filter(|(_, ni)| **ni < forward)
            .map(|(l, _)| l),
    )?;
    // A traced module's bookkeeping nodes (views, detach, constants) are no layers: their
    // rows join the layer that made or reads them, keeping every count (`fold`).
    let layers = crate::fold::merge(layers, &a.order, &crate::fold::targets(g, &a.order))?;

    let desc = |v: &ValueId| TensorDesc {
        name: g.values[*v].name.clone(),
        dtype: a.tensors[*v]
            .as_ref()
            .map(|t| t.dtype)
            .or(g.values[*v].dtype)
            .unwrap_or(DType::Unknown(0))
            .name()
            .to_string(),
        shape: a.tensors[*v].as_ref().and_then(|t| t.shape.clone()),
        declared: g.values[*v]
            .shape
            .iter()
            .flatten()
            .map(|d| d.to_string())
            .collect(),
        sequence: match a.tensors[*v].as_ref() {
            Some(t) => t.seq.as_ref().map(|s| SeqDesc {
                length: s.elems.as_ref().map(|e| e.len() as u64),
            }),
            None => g.values[*v].seq.then_some(SeqDesc { length: None }),
        },
    };
    let mut warnings = Vec::new();
    if model.weights == WeightsStatus::Absent {
        warnings.push(
            "weights are absent (external data file missing): the analysis uses declared dims only"
                .into(),
        );
    }
    warnings.extend(a.warnings.iter().cloned());
    Ok(Profile {
        schema: SCHEMA,
        model,
        inputs: g.inputs.iter().map(desc).collect(),
        outputs: g.outputs.iter().map(desc).collect(),
        bindings,
        totals,
        formulas: None,
        by_op_type,
        layers,
        unsupported: unsupported.into_values().collect(),
        warnings,
        llm: None,
        roofline: None,
        training: None,
        param_breakdown: None,
    })
}

/// Peak of live activation bytes when nodes run one at a time in dependency order: a node's
/// outputs are allocated when it runs and freed after their last consumer; graph inputs live
/// until their last use, graph outputs to the end. Weights are not activations.
fn peak_live(g: &Graph, a: &Analysis) -> Result<u64> {
    let what = "the peak of live activation bytes";
    // The forward pass's nodes only (a recorded step's backward is the training section's).
    let forward = forward_nodes(g);
    let order: Vec<usize> = a.order.iter().copied().filter(|&ni| ni < forward).collect();
    // A view's memory is its base's: the base lives until the view's last use.
    let mut base: Vec<ValueId> = (0..g.values.len()).collect();
    for &ni in &order {
        let n = &g.nodes[ni];
        if let (true, Some(src)) = (is_view(n), n.input(0)) {
            for &o in n.outputs.iter().flatten() {
                base[o] = base[src];
            }
        }
    }
    let mut last_use: Vec<Option<usize>> = vec![None; g.values.len()];
    for (pos, &ni) in order.iter().enumerate() {
        for &v in g.nodes[ni].inputs.iter().flatten() {
            let b = base[v];
            if last_use[b] != Some(usize::MAX) {
                last_use[b] = Some(pos);
            }
        }
    }
    for &o in &g.outputs {
        last_use[base[o]] = Some(usize::MAX);
    }
    let mut frees: Vec<Vec<ValueId>> = vec![Vec::new(); order.len()];
    let mut live: u64 = 0;
    for &v in &g.inputs {
        add_to(&mut live, bytes_of(a, v), what)?;
        match last_use[v] {
            Some(p) if p != usize::MAX => frees[p].push(v),
            _ => {}
        }
    }
    let mut peak = live;
    for (pos, &ni) in order.iter().enumerate() {
        for &o in g.nodes[ni].outputs.iter().flatten() {
            if base[o] != o {
                continue; // a view: nothing allocated
            }
            add_to(&mut live, bytes_of(a, o), what)?;
            match last_use[o] {
                None => frees[pos].push(o), // never read: dies at once
                Some(usize::MAX) => {}
                Some(p) => frees[p.max(pos)].push(o),
            }
        }
        peak = peak.max(live);
        for &v in &frees[pos] {
            // Never below zero: each value freed was added when it was allocated.
            live = live.saturating_sub(bytes_of(a, v));
        }
    }
    Ok(peak)
}

/// Profiles a graph (loaded or built).
pub fn profile_graph(g: &Graph, model: ModelInfo, opts: &Options) -> Result<Profile> {
    opts.check_graph()?;
    let symbols = g.input_symbols();
    let mut bindings: HashMap<String, u64> = HashMap::new();
    let mut shapes: HashMap<graph::ValueId, Vec<u64>> = HashMap::new();
    for (name, shape) in &opts.inputs {
        let id = match name {
            Some(n) => *g
                .inputs
                .iter()
                .find(|&&v| &g.values[v].name == n)
                .ok_or_else(|| {
                    Error::Usage(format!("no input named '{n}' (inputs: {})", input_names(g)))
                })?,
            None if g.inputs.len() == 1 => g.inputs[0],
            None => {
                return Err(Error::Usage(format!(
                    "the model has several inputs: name one as --input NAME=AxB (inputs: {})",
                    input_names(g)
                )))
            }
        };
        let v = &g.values[id];
        if let Some(decl) = &v.shape {
            if decl.len() != shape.len() {
                return Err(Error::Usage(format!(
                    "input '{}' has rank {} ({}), got {} dims",
                    v.name,
                    decl.len(),
                    decl.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("x"),
                    shape.len()
                )));
            }
            for (d, &s) in decl.iter().zip(shape) {
                if let Dim::Sym(sym) = d {
                    if let Some(prev) = bindings.insert(sym.clone(), s) {
                        if prev != s {
                            return Err(Error::Usage(format!(
                                "dim '{sym}' is given as {prev} and {s}"
                            )));
                        }
                    }
                }
            }
        }
        shapes.insert(id, shape.clone());
    }
    // A dim this model lacks is ignored with a warning: one set of flags serves a mixed set of
    // models (the CLI makes it an error when no model of the command has it).
    let mut warnings = Vec::new();
    // Dims the inputs do not name may be data-dependent sizes (`NonZero_3.n`), known only
    // once the graph is analysed.
    let mut other_dims: Vec<(String, u64)> = Vec::new();
    for (name, n) in &opts.dims {
        if symbols.contains(name) {
            bindings.insert(name.clone(), *n);
        } else {
            other_dims.push((name.clone(), *n));
        }
    }
    let unbound: Vec<String> = symbols
        .iter()
        .filter(|s| !bindings.contains_key(*s))
        .cloned()
        .collect();
    for s in &unbound {
        bindings.insert(s.clone(), 1);
        warnings.push(format!(
            "dim '{s}' is not bound: using 1 (set it with --dim {s}=N)"
        ));
    }
    let input_shapes = |b: &HashMap<String, u64>| -> HashMap<graph::ValueId, Vec<u64>> {
        let mut m = shapes.clone();
        for &v in &g.inputs {
            if let Some(s) = g.values[v]
                .shape
                .as_deref()
                .and_then(|d| infer::resolve_dims(d, b))
            {
                m.entry(v).or_insert(s);
            }
        }
        m
    };
    let no_outer = |_: &str| None;
    let prepared = infer::Prepared::new(g)?;
    let mut a = prepared.analyze(&input_shapes(&bindings), &bindings, &no_outer)?;
    // A size that depends on the data (NonZero's count) is a symbol named after its node:
    // bound as given, else at its largest value, with formulas in it. One more analysis per
    // wave (a data-dependent op after another asks only once the first is bound).
    let mut data_syms: Vec<String> = Vec::new();
    for _ in 0..16 {
        let asked: Vec<(String, Option<u64>)> = a
            .data_dims
            .iter()
            .filter(|(s, _)| !bindings.contains_key(s))
            .cloned()
            .collect();
        if asked.is_empty() {
            break;
        }
        let before = (bindings.clone(), data_syms.len(), warnings.len());
        for (sym, largest) in asked {
            match other_dims.iter().position(|(k, _)| *k == sym) {
                Some(i) => {
                    bindings.insert(sym, other_dims.remove(i).1);
                }
                None => {
                    let at = match largest {
                        Some(l) => {
                            warnings.push(format!(
                                "'{sym}' is a size that depends on the data (at most {l}): \
                                 counted at {l}, and the formulas keep it (set it with --dim \
                                 {sym}=N)"
                            ));
                            l
                        }
                        None => {
                            warnings.push(format!(
                                "'{sym}' is a size computed at run time that nothing in the \
                                 graph bounds: counted at 1, and the formulas keep it (set it \
                                 with --dim {sym}=N)"
                            ));
                            1
                        }
                    };
                    bindings.insert(sym.clone(), at);
                    data_syms.push(sym);
                }
            }
        }
        match prepared.analyze(&input_shapes(&bindings), &bindings, &no_outer) {
            Ok(next) => a = next,
            // Counted at a guess (1, or a bound), a size can contradict a node after it (a
            // MatMul's inner dim): keep those nodes unknown, as before the guess, and say so.
            Err(e) if data_syms.len() > before.1 => {
                let guessed = data_syms.split_off(before.1).join(", ");
                bindings = before.0;
                warnings.truncate(before.2);
                warnings.push(format!(
                    "sizes known only at run time ({guessed}) were left unknown: counted at a \
                     guess they contradict the graph ({e}); bind them with --dim"
                ));
                break;
            }
            Err(e) => return Err(e),
        }
    }
    for (name, _) in &other_dims {
        warnings.push(crate::options::unknown_dim(name, &symbols) + ": ignored");
    }
    let unbound: Vec<String> = unbound.into_iter().chain(data_syms).collect();
    let whole = crate::causal::apply(g, &mut a, opts.attention)?;
    warnings.extend(crate::causal::whole_warning(&whole));
    let sorted: BTreeMap<String, u64> = bindings.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let mut p = build(g, &a, model.clone(), sorted)?;
    if let Some(t) = &opts.training {
        t.validate()?;
        p.training = match g.backward_start {
            // A recorded step (a trace of forward and backward) is counted as recorded.
            Some(_) => match crate::training::recorded(g, &a)? {
                Some((c, unknown)) => {
                    let mut s = crate::training::section(c, &p.totals, t)?;
                    unknown_backward(&unknown, &mut warnings);
                    s.backward_unknown = unknown;
                    Some(s)
                }
                None => None,
            },
            // Otherwise the backward is derived from the forward graph, node by node.
            None => Some(derived_section(g, &a, &p.totals, t, &mut warnings)?),
        };
    }
    for &v in &g.inputs {
        if a.tensors[v].is_none() {
            warnings.push(format!(
                "input '{}' has no declared shape: give one with --input {}=AxB",
                g.values[v].name, g.values[v].name
            ));
        }
    }
    if !unbound.is_empty() {
        let eval = |syms: &[String], pt: &[u64]| -> std::result::Result<Vec<u64>, String> {
            let mut b = bindings.clone();
            for (s, &x) in syms.iter().zip(pt) {
                b.insert(s.clone(), x);
            }
            let mut a = prepared
                .analyze(&input_shapes(&b), &b, &no_outer)
                .map_err(|e| {
                    let at: Vec<String> = syms
                        .iter()
                        .zip(pt)
                        .map(|(s, x)| format!("{s}={x}"))
                        .collect();
                    format!("at {}: {e}", at.join(", "))
                })?;
            crate::causal::apply(g, &mut a, opts.attention).map_err(|e| e.to_string())?;
            cost_sums(g, &a)
                .map(|t| t.to_vec())
                .ok_or_else(|| "some node costs are unknown".to_string())
        };
        // Exporters sometimes bake one dim in (a batch of 1): then fit the others alone.
        let mut why = String::new();
        for syms in symbol_subsets(&unbound) {
            match formula::fit(&syms, 5, |pt| eval(&syms, pt)) {
                Ok((polys, checked_at)) => {
                    p.formulas = Some(formulas(syms.clone(), polys, checked_at));
                    break;
                }
                Err(e) if why.is_empty() => why = e,
                Err(_) => {}
            }
        }
        let fitted = p
            .formulas
            .as_ref()
            .map(|f| f.symbols.clone())
            .unwrap_or_default();
        let left: Vec<&str> = unbound
            .iter()
            .filter(|s| !fitted.contains(s))
            .map(String::as_str)
            .collect();
        if !left.is_empty() {
            warnings.push(format!("no exact formula in {}: {why}", left.join(", ")));
        }
    }
    warnings.append(&mut p.warnings);
    p.warnings = warnings;
    Ok(p)
}

/// The training section of a graph without a recorded backward: derived node by node
/// ([`crate::backprop`]); nodes whose backward is unknown are listed and warned about.
fn derived_section(
    g: &Graph,
    a: &Analysis,
    totals: &Totals,
    t: &crate::training::TrainingOptions,
    warnings: &mut Vec<String>,
) -> Result<crate::schema::Training> {
    let d = crate::backprop::derive(g, a, t)?;
    let mut s = crate::training::section(d.compute, totals, t)?;
    let untrained = totals
        .params
        .saturating_sub(totals.frozen_params)
        .saturating_sub(s.trainable_params);
    if untrained > 0 {
        warnings.push(format!(
            "--training: {untrained} parameters get no gradient in this graph (integer weights \
             of a quantized model, or constants stored as weights): counted as frozen"
        ));
    }
    add_to(
        &mut s.memory.peak_bytes,
        d.working_bytes,
        "the training step's peak memory",
    )?;
    unknown_backward(&d.unknown, warnings);
    s.backward_unknown = d.unknown;
    Ok(s)
}

/// The warning for backward nodes that are not counted.
fn unknown_backward(unknown: &[crate::schema::Unsupported], warnings: &mut Vec<String>) {
    if unknown.is_empty() {
        return;
    }
    // Counts of nodes in memory: their sum is below the number of nodes.
    let n = unknown
        .iter()
        .fold(0usize, |n, u| n.saturating_add(u.count));
    let ops: Vec<&str> = unknown.iter().map(|u| u.op.as_str()).collect();
    warnings.push(format!(
        "--training: the backward of {n} node(s) is not counted ({}): the backward and step \
         totals are lower bounds",
        ops.join(", ")
    ));
}

/// All symbols first, then every smaller subset, largest first. Beyond 4 symbols only the
/// whole set is tried (and refused: at most 3 are fitted), so that a graph with many unknown
/// sizes costs a bounded number of analyses, not one fit per subset.
fn symbol_subsets(all: &[String]) -> Vec<Vec<String>> {
    let n = all.len();
    if n > 4 {
        return vec![all.to_vec()];
    }
    let mut masks: Vec<u32> = (1..(1u32 << n)).collect();
    masks.sort_by_key(|m| std::cmp::Reverse(m.count_ones()));
    masks
        .into_iter()
        .map(|m| {
            (0..n)
                .filter(|i| m & (1 << i) != 0)
                .map(|i| all[i].clone())
                .collect()
        })
        .collect()
}

fn input_names(g: &Graph) -> String {
    g.inputs
        .iter()
        .map(|&v| g.values[v].name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks the `--dim` names of `opts` against the profiles of one command (each profiled with
/// `opts`): a name that no profile has is an error (a typo, or the wrong model), naming each
/// model's dims and the one probably meant; a name only some lack gives, for each of those, its
/// source and the warning (what the CLI prints for reports that do not show their warnings).
pub fn check_dims(opts: &Options, profiles: &[&Profile]) -> Result<Vec<(String, String)>> {
    let mut warnings = Vec::new();
    for (name, _) in &opts.dims {
        let why = |p: &Profile| {
            let dims: Vec<String> = p.bindings.keys().cloned().collect();
            crate::options::unknown_dim(name, &dims)
        };
        let lacking: Vec<&&Profile> = profiles
            .iter()
            .filter(|p| !p.bindings.contains_key(name))
            .collect();
        if lacking.len() == profiles.len() {
            let each: Vec<String> = lacking
                .iter()
                .map(|p| format!("{}: {}", p.model.source, why(p)))
                .collect();
            return Err(Error::Usage(each.join("; ")));
        }
        for p in lacking {
            warnings.push((p.model.source.clone(), why(p) + ": ignored"));
        }
    }
    Ok(warnings)
}

/// The formulas from the fitted polynomials of [`cost_sums`]'s quantities, in its order: MACs,
/// FLOPs, activation bytes, bytes read, bytes written.
fn formulas(
    symbols: Vec<String>,
    mut polys: Vec<formula::Polynomial>,
    checked_at: Vec<Vec<u64>>,
) -> Formulas {
    // `formula::fit` returns one polynomial per quantity asked for (5).
    let mut next = || polys.remove(0);
    Formulas {
        symbols,
        macs: next(),
        flops: next(),
        activation_bytes: next(),
        bytes_read: next(),
        bytes_written: next(),
        checked_at,
    }
}

/// Fits `p`'s formulas in `symbols` for a model that is re-made at each size rather than
/// re-analysed (a traced PyTorch module, traced again at each point): `make(point)` returns
/// the profile with the symbols at those sizes. On failure the reason is added to the warnings,
/// as for files.
pub fn fit_formulas(
    p: &mut Profile,
    symbols: &[String],
    mut make: impl FnMut(&[u64]) -> Result<Profile>,
) {
    let eval = |pt: &[u64]| -> std::result::Result<Vec<u64>, String> {
        let q = make(pt).map_err(|e| {
            let at: Vec<String> = symbols
                .iter()
                .zip(pt)
                .map(|(s, x)| format!("{s}={x}"))
                .collect();
            format!("at {}: {e}", at.join(", "))
        })?;
        if q.totals.nodes_cost_unknown > 0 {
            return Err("some node costs are unknown".into());
        }
        let t = &q.totals;
        Ok(vec![
            t.macs,
            t.flops,
            t.activation_bytes,
            t.bytes_read,
            t.bytes_written,
        ])
    };
    match formula::fit(symbols, 5, eval) {
        Ok((polys, checked_at)) => p.formulas = Some(formulas(symbols.to_vec(), polys, checked_at)),
        Err(why) => p
            .warnings
            .push(format!("no exact formula in {}: {why}", symbols.join(", "))),
    }
}
