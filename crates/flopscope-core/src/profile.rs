//! The result of profiling: per-layer and total costs, serializable as `flopscope.profile/1`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::formula::Polynomial;
use crate::graph::{DType, Graph, ValueId, ValueKind};
use crate::infer::{Analysis, NodeStatus};
use crate::load::WeightsStatus;

/// Schema identifier of the JSON output.
pub const SCHEMA: &str = "flopscope.profile/1";

/// Everything `flopscope profile` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Facts about the model source.
    pub model: ModelInfo,
    /// Graph inputs at the analysed shapes.
    pub inputs: Vec<TensorDesc>,
    /// Graph outputs at the analysed shapes.
    pub outputs: Vec<TensorDesc>,
    /// Sizes used for every symbolic dim.
    pub bindings: BTreeMap<String, u64>,
    /// Whole-model totals.
    pub totals: Totals,
    /// Totals as exact polynomials in the dims left symbolic (absent when all were bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formulas: Option<Formulas>,
    /// Totals per operator type, most FLOPs first.
    pub by_op_type: Vec<OpTypeRow>,
    /// One row per node, in execution order.
    pub layers: Vec<Layer>,
    /// Nodes whose cost is unknown, grouped by operator.
    pub unsupported: Vec<Unsupported>,
    /// Anything the user should know about these numbers.
    pub warnings: Vec<String>,
    /// Language-model checkpoints only: decode cost, KV cache, components (see [`crate::llm`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<crate::llm::LlmInfo>,
    /// The roofline of a machine or device spec, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<crate::roofline::Summary>,
}

/// Facts about the model source.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// Path or built-in name.
    pub source: String,
    /// Exporter that wrote the file.
    pub producer: String,
    /// ONNX IR version (0 for built graphs).
    pub ir_version: i64,
    /// Default-domain opset.
    pub opset: i64,
    /// Number of nodes in the main graph.
    pub nodes: usize,
    /// Whether the weight bytes are available.
    pub weights: WeightsStatus,
    /// Size of the model file.
    pub file_bytes: u64,
}

/// A graph input or output.
#[derive(Clone, Debug, Serialize)]
pub struct TensorDesc {
    /// Value name.
    pub name: String,
    /// Element type.
    pub dtype: String,
    /// Shape analysed (null when unknown).
    pub shape: Option<Vec<u64>>,
    /// Dims as declared in the file (numbers or symbols).
    pub declared: Vec<String>,
}

/// Parameter count and bytes of one dtype.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DtypeCount {
    /// Elements.
    pub params: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Whole-model totals. See `docs/counting.md` for each definition.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Elements of floating-point initializers, each counted once, BatchNorm running stats excluded.
    pub params: u64,
    /// Bytes of those parameters.
    pub param_bytes: u64,
    /// Parameters split by dtype.
    pub params_by_dtype: BTreeMap<String, DtypeCount>,
    /// BatchNormalization running mean/variance elements (buffers, not parameters).
    pub buffers: u64,
    /// Bytes of every initializer (parameters, buffers, integer constants).
    pub weight_bytes: u64,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Floating-point operations (2 × MACs + everything else).
    pub flops: u64,
    /// Bytes of every node output (all activations written once).
    pub activation_bytes: u64,
    /// Largest total of live activations at any point of a sequential execution.
    pub peak_activation_bytes: u64,
    /// Bytes read by all nodes (inputs, weights included).
    pub bytes_read: u64,
    /// Bytes written by all nodes.
    pub bytes_written: u64,
    /// Nodes in the main graph.
    pub nodes: usize,
    /// Nodes whose cost is unknown: when non-zero, MACs/FLOPs are lower bounds.
    pub nodes_cost_unknown: usize,
}

/// Totals as polynomials in the symbolic dims.
#[derive(Clone, Debug, Serialize)]
pub struct Formulas {
    /// Symbols, in the order points are given.
    pub symbols: Vec<String>,
    /// MACs.
    pub macs: Polynomial,
    /// FLOPs.
    pub flops: Polynomial,
    /// Activation bytes.
    pub activation_bytes: Polynomial,
    /// Bytes read.
    pub bytes_read: Polynomial,
    /// Bytes written.
    pub bytes_written: Polynomial,
    /// Points (off the fitting grid) where each polynomial was checked exact.
    pub checked_at: Vec<Vec<u64>>,
}

/// Totals of one operator type.
#[derive(Clone, Debug, Serialize)]
pub struct OpTypeRow {
    /// Operator (with domain prefix when not the default one).
    pub op: String,
    /// Nodes.
    pub count: usize,
    /// Parameters of those nodes.
    pub params: u64,
    /// MACs.
    pub macs: u64,
    /// FLOPs.
    pub flops: u64,
    /// Output bytes.
    pub activation_bytes: u64,
    /// Nodes of this type whose cost is unknown.
    pub cost_unknown: usize,
}

/// One node.
#[derive(Clone, Debug, Serialize)]
pub struct Layer {
    /// Node name (dynamo exports: module path + node name).
    pub name: String,
    /// Operator type.
    pub op: String,
    /// Operator domain, when not the default one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Module path, outermost first.
    pub scope: Vec<String>,
    /// Input shapes (null: unknown; omitted inputs skipped).
    pub inputs: Vec<Option<Vec<u64>>>,
    /// Output shapes.
    pub outputs: Vec<Option<Vec<u64>>>,
    /// Parameters first used by this node.
    pub params: u64,
    /// Bytes of those parameters.
    pub param_bytes: u64,
    /// MACs (null when unknown).
    pub macs: Option<u64>,
    /// FLOPs (null when unknown).
    pub flops: Option<u64>,
    /// Bytes of distinct inputs read.
    pub bytes_read: u64,
    /// Bytes of outputs written.
    pub bytes_written: u64,
    /// Bytes of outputs (the activations this node creates).
    pub activation_bytes: u64,
    /// Its place under the roofline, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<crate::roofline::LayerRoof>,
}

/// Nodes of one operator whose cost is unknown.
#[derive(Clone, Debug, Serialize)]
pub struct Unsupported {
    /// Operator (with domain prefix when not the default one).
    pub op: String,
    /// How many nodes.
    pub count: usize,
    /// Why: no rule for the operator, or input shapes/values unknown.
    pub reason: String,
    /// Up to five node names.
    pub examples: Vec<String>,
}

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

/// Bytes a node reads (each distinct input once) and writes.
fn node_bytes(a: &Analysis, n: &crate::graph::Node) -> (u64, u64) {
    let ins: Vec<ValueId> = n.inputs.iter().flatten().copied().collect();
    let read = ins
        .iter()
        .enumerate()
        .filter(|(i, v)| !ins[..*i].contains(v))
        .map(|(_, &v)| bytes_of(a, v))
        .sum();
    let written = n.outputs.iter().flatten().map(|&v| bytes_of(a, v)).sum();
    (read, written)
}

/// MACs, FLOPs, activation bytes, bytes read and bytes written summed over an analysis, as in
/// [`build`]'s totals but without building rows; `None` when some node's cost is unknown.
pub fn cost_sums(g: &Graph, a: &Analysis) -> Option<[u64; 5]> {
    let mut t = [0u64; 5];
    for (n, r) in g.nodes.iter().zip(&a.nodes) {
        let c = r.cost.filter(|_| r.status == NodeStatus::Ok)?;
        let (read, written) = node_bytes(a, n);
        for (acc, x) in t.iter_mut().zip([c.macs, c.flops, written, read, written]) {
            *acc = acc.checked_add(x)?;
        }
    }
    Some(t)
}

/// Parameter, buffer and weight-byte counts of a graph and its subgraphs.
fn count_weights(g: &Graph, buffers: &HashSet<ValueId>, t: &mut Totals) {
    for init in &g.initializers {
        let n = crate::ops::numel(&init.dims).unwrap_or(u64::MAX);
        let bytes = n.saturating_mul(init.dtype.bits()).div_ceil(8);
        t.weight_bytes = t.weight_bytes.saturating_add(bytes);
        if !init.dtype.is_float() {
            continue;
        }
        if buffers.contains(&init.value) {
            t.buffers += n;
            continue;
        }
        t.params = t.params.saturating_add(n);
        t.param_bytes = t.param_bytes.saturating_add(bytes);
        let e = t
            .params_by_dtype
            .entry(init.dtype.name().to_string())
            .or_default();
        e.params += n;
        e.bytes += bytes;
    }
    for n in &g.nodes {
        for a in n.attrs.values() {
            match a {
                crate::graph::Attr::Graph(sub) => count_weights(sub, &HashSet::new(), t),
                crate::graph::Attr::Graphs(gs) => {
                    gs.iter().for_each(|s| count_weights(s, &HashSet::new(), t))
                }
                _ => {}
            }
        }
    }
}

/// Totals per operator type (domain-prefixed when not the default one), most FLOPs first.
pub fn by_op_type(layers: &[Layer]) -> Vec<OpTypeRow> {
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
        e.count += 1;
        e.params += l.params;
        e.macs += l.macs.unwrap_or(0);
        e.flops += l.flops.unwrap_or(0);
        e.activation_bytes += l.activation_bytes;
        e.cost_unknown += l.flops.is_none() as usize;
    }
    let mut rows: Vec<OpTypeRow> = by_op.into_values().collect();
    rows.sort_by(|x, y| {
        (y.flops, y.macs, y.count)
            .cmp(&(x.flops, x.macs, x.count))
            .then(x.op.cmp(&y.op))
    });
    rows
}

/// Builds the profile of `g` from its analysis.
pub fn build(
    g: &Graph,
    a: &Analysis,
    model: ModelInfo,
    bindings: BTreeMap<String, u64>,
) -> Profile {
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
                    let p = &g.nodes[producer[v]?];
                    if p.op_type != "Identity" {
                        return None;
                    }
                    v = p.input(0)?;
                }
                _ => return None,
            }
        }
        None
    };
    let mut buffers = HashSet::new();
    for n in &g.nodes {
        if n.op_type == "BatchNormalization" {
            for i in [3, 4] {
                if let Some(v) = n.input(i).and_then(origin) {
                    buffers.insert(v);
                }
            }
        }
    }
    let mut totals = Totals {
        nodes: g.nodes.len(),
        ..Totals::default()
    };
    count_weights(g, &buffers, &mut totals);

    let mut owned: HashSet<ValueId> = HashSet::new();
    let mut layers = Vec::with_capacity(g.nodes.len());
    let mut unsupported: BTreeMap<(String, String), Unsupported> = BTreeMap::new();
    for &ni in &a.order {
        let n = &g.nodes[ni];
        let r = &a.nodes[ni];
        let (mut params, mut param_bytes) = (0u64, 0u64);
        if n.op_type != "Identity" {
            for v in n.inputs.iter().flatten().filter_map(|&v| origin(v)) {
                if buffers.contains(&v) || !owned.insert(v) {
                    continue;
                }
                if let ValueKind::Initializer(i) = g.values[v].kind {
                    let init = &g.initializers[i];
                    if init.dtype.is_float() {
                        let n = crate::ops::numel(&init.dims).unwrap_or(0);
                        params = params.saturating_add(n);
                        param_bytes = param_bytes
                            .saturating_add(n.saturating_mul(init.dtype.bits()).div_ceil(8));
                    }
                }
            }
        }
        let (bytes_read, bytes_written) = node_bytes(a, n);
        let shape = |v: &ValueId| a.tensors[*v].as_ref().and_then(|t| t.shape.clone());
        let (macs, flops) = match (&r.status, r.cost) {
            (NodeStatus::Ok, Some(c)) => (Some(c.macs), Some(c.flops)),
            _ => (None, None),
        };
        if r.status != NodeStatus::Ok || r.cost.is_none() {
            totals.nodes_cost_unknown += 1;
            let reason = match r.status {
                NodeStatus::UnsupportedOp => "no rule for this operator",
                _ => "input shapes or values unknown",
            };
            let e = unsupported
                .entry((op_label(&n.domain, &n.op_type), reason.to_string()))
                .or_insert_with(|| Unsupported {
                    op: op_label(&n.domain, &n.op_type),
                    count: 0,
                    reason: reason.to_string(),
                    examples: vec![],
                });
            e.count += 1;
            if e.examples.len() < 5 {
                e.examples.push(n.name.clone());
            }
        }
        totals.macs = totals.macs.saturating_add(macs.unwrap_or(0));
        totals.flops = totals.flops.saturating_add(flops.unwrap_or(0));
        totals.bytes_read = totals.bytes_read.saturating_add(bytes_read);
        totals.bytes_written = totals.bytes_written.saturating_add(bytes_written);
        totals.activation_bytes = totals.activation_bytes.saturating_add(bytes_written);
        let name = if n.name.starts_with('/') || n.scope.is_empty() {
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
        });
    }
    totals.peak_activation_bytes = peak_live(g, a);

    let by_op_type = by_op_type(&layers);

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
    };
    let mut warnings = Vec::new();
    if model.weights == WeightsStatus::Absent {
        warnings.push(
            "weights are absent (external data file missing): the analysis uses declared dims only"
                .into(),
        );
    }
    warnings.extend(a.warnings.iter().cloned());
    Profile {
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
    }
}

/// Peak of live activation bytes when nodes run one at a time in dependency order: a node's
/// outputs are allocated when it runs and freed after their last consumer; graph inputs live
/// until their last use, graph outputs to the end. Weights are not activations.
fn peak_live(g: &Graph, a: &Analysis) -> u64 {
    let mut last_use: Vec<Option<usize>> = vec![None; g.values.len()];
    for (pos, &ni) in a.order.iter().enumerate() {
        for &v in g.nodes[ni].inputs.iter().flatten() {
            last_use[v] = Some(pos);
        }
    }
    for &o in &g.outputs {
        last_use[o] = Some(usize::MAX);
    }
    let mut frees: Vec<Vec<ValueId>> = vec![Vec::new(); a.order.len()];
    let mut live: u64 = 0;
    for &v in &g.inputs {
        live += bytes_of(a, v);
        match last_use[v] {
            Some(p) if p != usize::MAX => frees[p].push(v),
            _ => {}
        }
    }
    let mut peak = live;
    for (pos, &ni) in a.order.iter().enumerate() {
        for &o in g.nodes[ni].outputs.iter().flatten() {
            live += bytes_of(a, o);
            match last_use[o] {
                None => frees[pos].push(o), // never read: dies at once
                Some(usize::MAX) => {}
                Some(p) => frees[p.max(pos)].push(o),
            }
        }
        peak = peak.max(live);
        for &v in &frees[pos] {
            live -= bytes_of(a, v);
        }
    }
    peak
}
