//! The inference pass: visits nodes in dependency order and applies each operator's shape and
//! cost rules (`crate::ops`) for one concrete binding of the input dims. Linear in graph size.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::graph::{decode_values, Attr, DType, Dim, Graph, ValueId, ValueKind};
use crate::ops::{self, Bodies, Cost, Ctx, OpError, Rule, Shape, Tensor};

/// What happened at one node.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeStatus {
    /// Shapes and cost computed.
    Ok,
    /// No rule for this operator: outputs from declared `value_info`, cost unknown.
    UnsupportedOp,
    /// Known operator, but an input's shape or a needed value is unknown: cost unknown.
    InputsUnknown,
}

/// Result of one node.
#[derive(Clone, Debug)]
pub struct NodeResult {
    /// Outcome.
    pub status: NodeStatus,
    /// MACs and FLOPs, when known.
    pub cost: Option<Cost>,
}

/// Shapes, values and costs of a graph for one binding of its dims.
#[derive(Debug)]
pub struct Analysis {
    /// What is known about each value (indexed by [`ValueId`]).
    pub tensors: Vec<Option<Tensor>>,
    /// Node indices in dependency order.
    pub order: Vec<usize>,
    /// Per node (indexed like `graph.nodes`).
    pub nodes: Vec<NodeResult>,
    /// Warnings raised by operator rules ([`Ctx::warn`]), each prefixed with its node.
    pub warnings: Vec<String>,
    /// Data-dependent dims that rules asked for and found unbound: (symbol, largest size when
    /// the graph bounds it).
    pub data_dims: Vec<(String, Option<u64>)>,
}

/// Resolves declared dims under `bindings`; `None` if any dim is unbound.
pub fn resolve_dims(dims: &[Dim], bindings: &HashMap<String, u64>) -> Option<Shape> {
    dims.iter()
        .map(|d| match d {
            Dim::Known(n) => Some(*n),
            Dim::Sym(s) => bindings.get(s).copied(),
        })
        .collect()
}

/// Dependency order of the nodes; an error names a node on a cycle.
/// Whether every user of node `i` comes after it.
fn users_before(users: &[Vec<usize>], i: usize) -> bool {
    users[i].iter().all(|&u| u > i)
}

pub(crate) fn topo_order(g: &Graph) -> Result<Vec<usize>> {
    let mut producer: Vec<Option<usize>> = vec![None; g.values.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        for &o in n.outputs.iter().flatten() {
            producer[o] = Some(i);
        }
    }
    // Only graphs with subgraphs need names (bodies read enclosing values by name).
    let has_bodies = g.nodes.iter().any(|n| {
        n.attrs
            .values()
            .any(|a| matches!(a, Attr::Graph(_) | Attr::Graphs(_)))
    });
    let by_name: HashMap<&str, ValueId> = if has_bodies {
        g.values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.kind == ValueKind::NodeOutput)
            .map(|(i, v)| (v.name.as_str(), i))
            .collect()
    } else {
        HashMap::new()
    };
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); g.nodes.len()];
    let mut indeg = vec![0usize; g.nodes.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        let mut deps: Vec<usize> = n
            .inputs
            .iter()
            .flatten()
            .filter_map(|&v| producer[v])
            .collect();
        // Subgraphs read enclosing values by name: those are dependencies too.
        for name in if has_bodies {
            outer_names(n)
        } else {
            Vec::new()
        } {
            if let Some(&v) = by_name.get(name.as_str()) {
                deps.extend(producer[v]);
            }
        }
        deps.sort_unstable();
        deps.dedup();
        for d in deps {
            users[d].push(i);
            indeg[i] += 1;
        }
    }
    // File order when it is already an order of dependencies (ONNX requires it; a trace is
    // recorded so): layers are listed as the model runs them. Otherwise the ready node that
    // comes first in the file goes first, which keeps the order as close to the file's as the
    // dependencies allow.
    if (0..g.nodes.len()).all(|i| users_before(&users, i)) {
        return Ok((0..g.nodes.len()).collect());
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..g.nodes.len())
        .filter(|&i| indeg[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(g.nodes.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.push(Reverse(u));
            }
        }
    }
    if order.len() != g.nodes.len() {
        let stuck = (0..g.nodes.len()).find(|&i| indeg[i] > 0).unwrap_or(0);
        return Err(Error::Invalid(format!(
            "the graph has a cycle through node '{}' ({})",
            g.nodes[stuck].name, g.nodes[stuck].op_type
        )));
    }
    Ok(order)
}

/// Names of enclosing-graph values that a node's subgraphs read.
fn outer_names(n: &crate::graph::Node) -> Vec<String> {
    let mut out = Vec::new();
    for a in n.attrs.values() {
        let gs: Vec<&Graph> = match a {
            Attr::Graph(g) => vec![g],
            Attr::Graphs(gs) => gs.iter().collect(),
            _ => continue,
        };
        for g in gs {
            out.extend(
                g.values
                    .iter()
                    .filter(|v| v.kind == ValueKind::Outer)
                    .map(|v| v.name.clone()),
            );
            for sub in &g.nodes {
                out.extend(outer_names(sub));
            }
        }
    }
    out
}

/// A graph prepared for repeated analysis (formula fitting runs it at many sizes): dependency
/// order, operator rules and initializer tensors are computed once.
pub struct Prepared<'g> {
    graph: &'g Graph,
    order: Vec<usize>,
    rules: Vec<Option<Rule>>,
    initializers: Vec<(ValueId, Tensor)>,
}

impl<'g> Prepared<'g> {
    /// Orders the nodes (an error names a node on a cycle) and decodes small constants.
    pub fn new(graph: &'g Graph) -> Result<Prepared<'g>> {
        let order = topo_order(graph)?;
        let rules = graph
            .nodes
            .iter()
            .map(|n| ops::rule(&n.domain, &n.op_type))
            .collect();
        let initializers = graph
            .initializers
            .iter()
            .map(|init| {
                let t = Tensor {
                    dtype: init.dtype,
                    shape: Some(init.dims.clone()),
                    value: decode_values(init).map(Arc::new),
                    seq: None,
                };
                (init.value, t)
            })
            .collect();
        Ok(Prepared {
            graph,
            order,
            rules,
            initializers,
        })
    }

    /// Runs shape inference and costing; see [`analyze`].
    pub fn analyze(
        &self,
        inputs: &HashMap<ValueId, Shape>,
        bindings: &HashMap<String, u64>,
        outer: &dyn Fn(&str) -> Option<Tensor>,
    ) -> Result<Analysis> {
        run(self, inputs, &HashMap::new(), bindings, outer)
    }
}

/// Runs shape inference and costing over `g`.
///
/// `inputs` gives each graph input's concrete shape; `bindings` resolves symbolic dims in
/// declared `value_info` (used for operators without a rule); `outer` supplies values of an
/// enclosing graph when `g` is a subgraph.
pub fn analyze(
    g: &Graph,
    inputs: &HashMap<ValueId, Shape>,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Result<Analysis> {
    Prepared::new(g)?.analyze(inputs, bindings, outer)
}

/// The pass itself. Inputs are given as shapes (a graph's, typed as declared) or as tensors
/// (a body's, fed by its node: types, sequences, values).
fn run(
    p: &Prepared,
    inputs: &HashMap<ValueId, Shape>,
    given: &HashMap<ValueId, Tensor>,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Result<Analysis> {
    let g = p.graph;
    let order = p.order.clone();
    let mut tensors: Vec<Option<Tensor>> = vec![None; g.values.len()];
    for (id, v) in g.values.iter().enumerate() {
        tensors[id] = match &v.kind {
            ValueKind::Input if given.contains_key(&id) => given.get(&id).cloned(),
            // A sequence input: its number of elements is not declared, their shape may be.
            ValueKind::Input if v.seq => Some(Tensor::sequence(
                v.dtype.unwrap_or(DType::F32),
                None,
                v.shape
                    .as_deref()
                    .and_then(|d| resolve_dims(d, &HashMap::new())),
            )),
            ValueKind::Input => inputs
                .get(&id)
                .map(|s| Tensor::new(v.dtype.unwrap_or(DType::F32), s.clone())),
            ValueKind::Outer => outer(&v.name),
            ValueKind::Initializer(_) | ValueKind::NodeOutput => None,
        };
    }
    for (id, t) in &p.initializers {
        tensors[*id] = Some(t.clone());
    }
    let opset = g.opset();
    let mut nodes = vec![
        NodeResult {
            status: NodeStatus::Ok,
            cost: None
        };
        g.nodes.len()
    ];
    // Value names, built only when a subgraph needs to look enclosing values up.
    let names: std::cell::OnceCell<HashMap<&str, ValueId>> = std::cell::OnceCell::new();
    let mut warnings = Vec::new();
    let node_warnings = std::cell::RefCell::new(Vec::new());
    let asks = std::cell::RefCell::new(Asks::default());
    for &ni in &order {
        let node = &g.nodes[ni];
        let def = p.rules[ni];
        let (outs, status, cost) = {
            let see = |name: &str| {
                let names = names.get_or_init(|| {
                    g.values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (v.name.as_str(), i))
                        .collect()
                });
                match names.get(name) {
                    Some(&id) => tensors[id].clone(),
                    None => outer(name),
                }
            };
            let enclosing = Enclosing {
                bindings,
                asks: &asks,
                see: &see,
                warnings: &node_warnings,
            };
            let cx = Ctx {
                node,
                inputs: node
                    .inputs
                    .iter()
                    .map(|i| i.and_then(|v| tensors[v].as_ref()))
                    .collect(),
                opset,
                bodies: &enclosing,
                warnings: &node_warnings,
            };
            // An input that exists but whose value is unknown to us reads as "missing" to the
            // rule; report it as unknown instead of inventing an error.
            let missing_input = node
                .inputs
                .iter()
                .any(|i| i.is_some_and(|v| tensors[v].is_none()));
            match def {
                None => (vec![], NodeStatus::UnsupportedOp, None),
                Some(Rule::Body(rule)) => match rule(&cx) {
                    // Outputs a body could not infer stay unknown; the others flow on.
                    Ok((outs, cost)) if outs.iter().all(Option::is_some) && cost.is_some() => {
                        (outs, NodeStatus::Ok, cost)
                    }
                    Ok((outs, cost)) => (outs, NodeStatus::InputsUnknown, cost),
                    Err(OpError::Unknown) => (vec![], NodeStatus::InputsUnknown, None),
                    Err(OpError::Invalid(msg)) => return Err(shape_err(node, msg)),
                },
                Some(_) if missing_input => (vec![], NodeStatus::InputsUnknown, None),
                // A value the shape needs is known only at run time: sizes become symbols.
                Some(Rule::Op(def)) => match (def.infer)(&cx).or_else(|e| match e {
                    OpError::Unknown => ops::runtime::infer(&cx).unwrap_or(Err(e)),
                    e => Err(e),
                }) {
                    Ok(outs) => match (def.cost)(&cx, &outs) {
                        Ok(c) => (
                            outs.into_iter().map(Some).collect(),
                            NodeStatus::Ok,
                            Some(c),
                        ),
                        Err(OpError::Unknown) => (
                            outs.into_iter().map(Some).collect(),
                            NodeStatus::InputsUnknown,
                            None,
                        ),
                        Err(OpError::Invalid(msg)) => return Err(shape_err(node, msg)),
                    },
                    Err(OpError::Unknown) => (vec![], NodeStatus::InputsUnknown, None),
                    Err(OpError::Invalid(msg)) => return Err(shape_err(node, msg)),
                },
            }
        };
        let mut outs = outs.into_iter();
        for &o in node.outputs.iter() {
            let t = outs.next().flatten();
            let Some(o) = o else { continue };
            // A trace's values are what the framework computed: its type and shape stand
            // (an integer tensor divided by 2 is float in PyTorch, not in ONNX's Div).
            let t = match t {
                Some(mut t) if g.traced => {
                    let v = &g.values[o];
                    if let Some(dt) = v.dtype {
                        t.dtype = dt;
                    }
                    if let Some(shape) = v.shape.as_deref().and_then(|d| resolve_dims(d, bindings))
                    {
                        if t.shape.as_deref() != Some(&shape[..]) {
                            t.shape = Some(shape);
                            t.value = None;
                        }
                    }
                    Some(t)
                }
                t => t,
            };
            // Without a computed shape, fall back to what the file declares.
            let t = t.or_else(|| {
                let v = &g.values[o];
                let shape = v.shape.as_deref().and_then(|d| resolve_dims(d, bindings));
                if v.seq {
                    return Some(Tensor::sequence(v.dtype?, None, shape));
                }
                Some(Tensor::new(v.dtype.unwrap_or(DType::F32), shape?))
            });
            if let Some(t) = &t {
                if t.shape.is_some() && !t.is_seq() && t.bytes().is_none() {
                    return Err(shape_err(
                        node,
                        format!(
                            "output '{}' has a size that overflows 64 bits",
                            g.values[o].name
                        ),
                    ));
                }
            }
            tensors[o] = t;
        }
        nodes[ni] = NodeResult { status, cost };
        for w in node_warnings.borrow_mut().drain(..) {
            warnings.push(format!("node '{}' ({}): {w}", node.name, node.op_type));
        }
    }
    Ok(Analysis {
        tensors,
        order,
        nodes,
        warnings,
        data_dims: asks.into_inner().list,
    })
}

/// The subgraphs of one node, analysed with the dim bindings and the values of the graph
/// around them (looked up by name, as ONNX bodies read them).
struct Enclosing<'s> {
    bindings: &'s HashMap<String, u64>,
    /// Data-dependent dims asked for and unbound.
    asks: &'s std::cell::RefCell<Asks>,
    see: &'s dyn Fn(&str) -> Option<Tensor>,
    /// The node's warnings: a body's own are passed on here.
    warnings: &'s std::cell::RefCell<Vec<String>>,
}

/// Data-dependent dims asked for, in the order asked, each once. The set makes asking linear:
/// a ConstantOfShape of rank 100,000 asks 100,000 symbols (a search of the list for each took
/// minutes; found by the `training` fuzz target).
#[derive(Default)]
struct Asks {
    list: Vec<(String, Option<u64>)>,
    seen: std::collections::HashSet<String>,
}

impl Enclosing<'_> {
    /// The size bound to `symbol`; unbound, the request is recorded for the profile to bind.
    fn ask(&self, symbol: &str, largest: Option<u64>) -> Option<u64> {
        let v = self.bindings.get(symbol).copied();
        if v.is_none() {
            let mut asks = self.asks.borrow_mut();
            if asks.seen.insert(symbol.to_string()) {
                asks.list.push((symbol.to_string(), largest));
            }
        }
        v
    }
}

impl Bodies for Enclosing<'_> {
    fn data_dim(&self, symbol: &str, largest: u64) -> Option<u64> {
        self.ask(symbol, Some(largest))
    }

    fn free_dim(&self, symbol: &str) -> Option<u64> {
        self.ask(symbol, None)
    }

    fn analyze(&self, body: &Graph, inputs: Vec<Tensor>) -> ops::BodyOutcome {
        if inputs.len() != body.inputs.len() {
            return Err(OpError::Invalid(format!(
                "the body takes {} inputs but the node feeds {}",
                body.inputs.len(),
                inputs.len()
            )));
        }
        let given = body.inputs.iter().copied().zip(inputs).collect();
        let p = Prepared::new(body).map_err(|e| OpError::Invalid(format!("in the body: {e}")))?;
        let a = run(&p, &HashMap::new(), &given, self.bindings, self.see)
            .map_err(|e| OpError::Invalid(format!("in the body: {e}")))?;
        self.warnings
            .borrow_mut()
            .extend(a.warnings.iter().map(|w| format!("in the body: {w}")));
        // A body's run-time sizes are the graph's: the profile binds them like any other.
        for (symbol, largest) in &a.data_dims {
            self.ask(symbol, *largest);
        }
        let mut cost = Some(Cost::default());
        for r in &a.nodes {
            cost = match (cost, r.cost, &r.status) {
                (Some(c), Some(n), NodeStatus::Ok) => Some(Cost {
                    macs: c.macs.checked_add(n.macs).ok_or_else(ops::overflow)?,
                    flops: c.flops.checked_add(n.flops).ok_or_else(ops::overflow)?,
                }),
                _ => None,
            };
        }
        let outs: Vec<Option<Tensor>> =
            body.outputs.iter().map(|&o| a.tensors[o].clone()).collect();
        Ok((outs, cost))
    }
}

fn shape_err(node: &crate::graph::Node, msg: String) -> Error {
    Error::Shape {
        node: node.name.clone(),
        op: node.op_type.clone(),
        msg,
    }
}
