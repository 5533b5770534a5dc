//! The inference pass: visits nodes in dependency order and applies each operator's shape and
//! cost rules (`crate::ops`) for one concrete binding of the input dims. Linear in graph size.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::graph::{Attr, DType, Dim, Graph, Initializer, TensorData, ValueId, ValueKind};
use crate::ops::{self, Cost, Ctx, OpError, Shape, Tensor, Values, MAX_FOLD};

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
    /// Warnings raised by operator rules (`ops::warn`), each prefixed with its node.
    pub warnings: Vec<String>,
}

/// Floats are decoded only for tiny tensors (scales, exponents): weights are never read.
const MAX_FLOAT_DECODE: u64 = 64;

/// Values of a small constant tensor, if cheaply available.
pub fn decode_values(t: &Initializer) -> Option<Values> {
    let n = ops::numel(&t.dims).ok()?;
    let limit = if t.dtype.is_float() {
        MAX_FLOAT_DECODE
    } else {
        MAX_FOLD
    };
    if n > limit || !(t.dtype.is_float() || t.dtype.is_int_like()) {
        return None;
    }
    let v = match &t.data {
        TensorData::Ints(v) if t.dtype.is_float() => {
            Values::Float(v.iter().map(|&x| x as f64).collect())
        }
        TensorData::Ints(v) => Values::Int(v.clone()),
        TensorData::Floats(v) => Values::Float(v.clone()),
        TensorData::Raw(b) => decode_raw(t.dtype, b)?,
        TensorData::External {
            path,
            offset,
            length,
            present: true,
        } => {
            let len = length.unwrap_or(n * t.dtype.bits() / 8);
            let bytes = crate::load::external::read_small(path, *offset, len, MAX_FOLD * 8)?;
            decode_raw(t.dtype, &bytes)?
        }
        _ => return None,
    };
    (v.len() as u64 == n).then_some(v)
}

fn decode_raw(dt: DType, b: &[u8]) -> Option<Values> {
    fn ints<const N: usize>(b: &[u8], f: fn([u8; N]) -> i64) -> Values {
        Values::Int(
            b.chunks_exact(N)
                .map(|c| f(c.try_into().unwrap_or([0; N])))
                .collect(),
        )
    }
    Some(match dt {
        DType::I64 => ints::<8>(b, i64::from_le_bytes),
        DType::U64 => ints::<8>(b, |c| u64::from_le_bytes(c) as i64),
        DType::I32 => ints::<4>(b, |c| i32::from_le_bytes(c) as i64),
        DType::U32 => ints::<4>(b, |c| u32::from_le_bytes(c) as i64),
        DType::I16 => ints::<2>(b, |c| i16::from_le_bytes(c) as i64),
        DType::U16 => ints::<2>(b, |c| u16::from_le_bytes(c) as i64),
        DType::I8 => ints::<1>(b, |c| c[0] as i8 as i64),
        DType::U8 | DType::Bool => ints::<1>(b, |c| c[0] as i64),
        DType::F32 => Values::Float(
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as f64)
                .collect(),
        ),
        DType::F64 => Values::Float(
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        _ => return None,
    })
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
pub fn topo_order(g: &Graph) -> Result<Vec<usize>> {
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
    let mut ready: VecDeque<usize> = (0..g.nodes.len()).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(g.nodes.len());
    while let Some(i) = ready.pop_front() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.push_back(u);
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
    rules: Vec<Option<ops::OpDef>>,
    initializers: Vec<(ValueId, Tensor)>,
}

impl<'g> Prepared<'g> {
    /// Orders the nodes (an error names a node on a cycle) and decodes small constants.
    pub fn new(graph: &'g Graph) -> Result<Prepared<'g>> {
        let order = topo_order(graph)?;
        let rules = graph
            .nodes
            .iter()
            .map(|n| ops::lookup(&n.domain, &n.op_type))
            .collect();
        let initializers = graph
            .initializers
            .iter()
            .map(|init| {
                let t = Tensor {
                    dtype: init.dtype,
                    shape: Some(init.dims.clone()),
                    value: decode_values(init).map(Rc::new),
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
        run(self, inputs, bindings, outer)
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

fn run(
    p: &Prepared,
    inputs: &HashMap<ValueId, Shape>,
    bindings: &HashMap<String, u64>,
    outer: &dyn Fn(&str) -> Option<Tensor>,
) -> Result<Analysis> {
    let g = p.graph;
    let order = p.order.clone();
    let mut tensors: Vec<Option<Tensor>> = vec![None; g.values.len()];
    for (id, v) in g.values.iter().enumerate() {
        tensors[id] = match &v.kind {
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
    for &ni in &order {
        let node = &g.nodes[ni];
        ops::take_warnings(); // drop any left by a rule that failed
        let def = p.rules[ni];
        let (outs, status, cost) = {
            let cx = Ctx {
                node,
                inputs: node
                    .inputs
                    .iter()
                    .map(|i| i.and_then(|v| tensors[v].as_ref()))
                    .collect(),
                opset,
                graph: g,
            };
            // An input that exists but whose value is unknown to us reads as "missing" to the
            // rule; report it as unknown instead of inventing an error.
            let missing_input = node
                .inputs
                .iter()
                .any(|i| i.is_some_and(|v| tensors[v].is_none()));
            match def {
                None if node.domain.is_empty()
                    && crate::control::lookup(&node.op_type).is_some() =>
                {
                    let rule = crate::control::lookup(&node.op_type).expect("checked");
                    let names = names.get_or_init(|| {
                        g.values
                            .iter()
                            .enumerate()
                            .map(|(i, v)| (v.name.as_str(), i))
                            .collect()
                    });
                    let see = |name: &str| match names.get(name) {
                        Some(&id) => tensors[id].clone(),
                        None => outer(name),
                    };
                    match rule(&cx, bindings, &see) {
                        Ok((outs, cost)) => (outs, NodeStatus::Ok, cost),
                        Err(OpError::Unknown) => (vec![], NodeStatus::InputsUnknown, None),
                        Err(OpError::Invalid(msg)) => return Err(shape_err(node, msg)),
                    }
                }
                None => (vec![], NodeStatus::UnsupportedOp, None),
                Some(_) if missing_input => (vec![], NodeStatus::InputsUnknown, None),
                Some(def) => match (def.infer)(&cx) {
                    Ok(outs) => match (def.cost)(&cx, &outs) {
                        Ok(c) => (outs, NodeStatus::Ok, Some(c)),
                        Err(OpError::Unknown) => (outs, NodeStatus::InputsUnknown, None),
                        Err(OpError::Invalid(msg)) => return Err(shape_err(node, msg)),
                    },
                    Err(OpError::Unknown) => (vec![], NodeStatus::InputsUnknown, None),
                    Err(OpError::Invalid(msg)) => return Err(shape_err(node, msg)),
                },
            }
        };
        let mut outs = outs.into_iter();
        for &o in node.outputs.iter() {
            let t = outs.next();
            let Some(o) = o else { continue };
            // Without a computed shape, fall back to what the file declares.
            let t = t.or_else(|| {
                let v = &g.values[o];
                let shape = v.shape.as_deref().and_then(|d| resolve_dims(d, bindings))?;
                Some(Tensor::new(v.dtype.unwrap_or(DType::F32), shape))
            });
            if let Some(t) = &t {
                if t.shape.is_some() && t.bytes().is_none() {
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
        for w in ops::take_warnings() {
            warnings.push(format!("node '{}' ({}): {w}", node.name, node.op_type));
        }
    }
    Ok(Analysis {
        tensors,
        order,
        nodes,
        warnings,
    })
}

fn shape_err(node: &crate::graph::Node, msg: String) -> Error {
    Error::Shape {
        node: node.name.clone(),
        op: node.op_type.clone(),
        msg,
    }
}
