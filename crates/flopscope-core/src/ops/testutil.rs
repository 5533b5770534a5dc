//! Helpers for operator unit tests: run one op on given input tensors.

use std::sync::Arc;

use super::{lookup, Cost, Ctx, OpError, Tensor, Values};
use crate::graph::{Attr, DType, Graph, Node};

/// Outputs and cost of one op run.
pub struct Run {
    pub shape: Vec<u64>,
    pub outs: Vec<Tensor>,
    pub cost: Cost,
    /// What the rule warned about.
    pub warnings: Vec<String>,
}

impl Run {
    pub fn ints(&self) -> Vec<i64> {
        self.outs[0].value.as_deref().expect("folded").to_ints()
    }
}

pub fn f32t(shape: &[u64]) -> Tensor {
    Tensor::new(DType::F32, shape.to_vec())
}

pub fn i64t(shape: &[u64]) -> Tensor {
    Tensor::new(DType::I64, shape.to_vec())
}

/// A 1-D int64 tensor with known values.
pub fn ints(v: &[i64]) -> Tensor {
    Tensor::with_values(DType::I64, vec![v.len() as u64], Values::Int(v.to_vec()))
}

/// A 0-D int64 scalar with a known value.
pub fn scalar(v: i64) -> Tensor {
    Tensor::with_values(DType::I64, vec![], Values::Int(vec![v]))
}

/// A float tensor with known values.
pub fn floats(shape: &[u64], v: &[f64]) -> Tensor {
    Tensor {
        dtype: DType::F32,
        shape: Some(shape.to_vec()),
        value: Some(Arc::new(Values::Float(v.to_vec()))),
        seq: None,
    }
}

pub fn a_int(n: &str, v: i64) -> (String, Attr) {
    (n.into(), Attr::Int(v))
}
pub fn a_ints(n: &str, v: &[i64]) -> (String, Attr) {
    (n.into(), Attr::Ints(v.to_vec()))
}
pub fn a_float(n: &str, v: f32) -> (String, Attr) {
    (n.into(), Attr::Float(v))
}
pub fn a_str(n: &str, v: &str) -> (String, Attr) {
    (n.into(), Attr::Str(v.into()))
}

fn run_in(
    domain: &str,
    op: &str,
    inputs: &[Tensor],
    attrs: &[(String, Attr)],
) -> Result<Run, OpError> {
    run_at(18, domain, op, inputs, attrs)
}

/// Runs a default-domain op at an older opset; panics on error.
pub fn run_in_opset(opset: i64, op: &str, inputs: &[Tensor], attrs: &[(String, Attr)]) -> Run {
    run_at(opset, "", op, inputs, attrs).unwrap_or_else(|e| panic!("{op}: {e:?}"))
}

fn run_at(
    opset: i64,
    domain: &str,
    op: &str,
    inputs: &[Tensor],
    attrs: &[(String, Attr)],
) -> Result<Run, OpError> {
    let inputs: Vec<Option<&Tensor>> = inputs.iter().map(Some).collect();
    run_node(opset, domain, op, &inputs, attrs, 3)
}

/// Runs an op whose inputs may be omitted (`None`) anywhere, at opset 18, with `outputs`
/// outputs (rules that read how many outputs a node has see this many).
pub fn run_opt(
    domain: &str,
    op: &str,
    inputs: &[Option<Tensor>],
    attrs: &[(String, Attr)],
    outputs: usize,
) -> Result<Run, OpError> {
    let inputs: Vec<Option<&Tensor>> = inputs.iter().map(Option::as_ref).collect();
    run_node(18, domain, op, &inputs, attrs, outputs)
}

/// Runs an op that must fail as invalid (inputs may be omitted); returns the message.
pub fn run_opt_err(
    domain: &str,
    op: &str,
    inputs: &[Option<Tensor>],
    attrs: &[(String, Attr)],
) -> String {
    match run_opt(domain, op, inputs, attrs, 3) {
        Err(OpError::Invalid(m)) => m,
        Err(OpError::Unknown) => panic!("{op}: unknown, expected invalid"),
        Ok(r) => panic!("{op}: succeeded with {:?}", r.shape),
    }
}

fn run_node(
    opset: i64,
    domain: &str,
    op: &str,
    inputs: &[Option<&Tensor>],
    attrs: &[(String, Attr)],
    outputs: usize,
) -> Result<Run, OpError> {
    let def = lookup(domain, op).unwrap_or_else(|| panic!("no rule for {op}"));
    let node = Node {
        name: format!("test_{op}"),
        op_type: op.into(),
        domain: domain.into(),
        inputs: (0..inputs.len()).map(|i| inputs[i].map(|_| i)).collect(),
        outputs: (100..100 + outputs).map(Some).collect(),
        attrs: attrs.iter().cloned().collect(),
        scope: vec![],
    };
    let mut graph = Graph::default();
    graph.opsets.insert(String::new(), opset);
    let warnings = std::cell::RefCell::new(Vec::new());
    let cx = Ctx {
        node: &node,
        inputs: inputs.to_vec(),
        opset,
        bodies: &super::NoBodies,
        warnings: &warnings,
    };
    let outs = (def.infer)(&cx)?;
    let cost = (def.cost)(&cx, &outs)?;
    Ok(Run {
        shape: outs
            .first()
            .and_then(|t| t.shape.clone())
            .unwrap_or_default(),
        outs,
        cost,
        warnings: warnings.take(),
    })
}

/// Runs a default-domain op; panics on error.
pub fn run1(op: &str, inputs: &[Tensor], attrs: &[(String, Attr)]) -> Run {
    run_in("", op, inputs, attrs).unwrap_or_else(|e| panic!("{op}: {e:?}"))
}

/// Runs an op of another domain; panics on error.
pub fn run_dom(domain: &str, op: &str, inputs: &[Tensor], attrs: &[(String, Attr)]) -> Run {
    run_in(domain, op, inputs, attrs).unwrap_or_else(|e| panic!("{op}: {e:?}"))
}

/// Runs an op that must fail as invalid; returns the message.
pub fn run_err(op: &str, inputs: &[Tensor], attrs: &[(String, Attr)]) -> String {
    match run_in("", op, inputs, attrs) {
        Err(OpError::Invalid(m)) => m,
        Err(OpError::Unknown) => panic!("{op}: unknown, expected invalid"),
        Ok(r) => panic!("{op}: succeeded with {:?}", r.shape),
    }
}
