//! `flopscope.trace/1`: a model as a framework ran it, one operator call at a time, with the
//! shape of every tensor. The Python package records a `torch.nn.Module` this way (ATen calls
//! under a dispatch mode, on fake tensors) and hands the JSON to [`load_trace`]; the CLI reads
//! the same document from a file. Each ATen call becomes the ONNX node(s) with the same
//! meaning (see [`super::aten`]), so a module and its ONNX export are counted by the same
//! rules.
//!
//! ```json
//! {"schema": "flopscope.trace/1", "name": "ResNet", "producer": "torch 2.15.0",
//!  "values": [{"name": "x", "dtype": "float32", "shape": [1, 3, 224, 224], "role": "input"},
//!             {"name": "conv1.weight", "dtype": "float32", "shape": [64, 3, 7, 7],
//!              "role": "param"},
//!             {"dtype": "float32", "shape": [1, 64, 112, 112]}],
//!  "calls": [{"op": "aten.convolution.default", "scope": ["conv1"],
//!             "args": {"input": {"v": 0}, "weight": {"v": 1}, "bias": null,
//!                      "stride": [2, 2], "padding": [3, 3], "dilation": [1, 1],
//!                      "transposed": false, "output_padding": [0, 0], "groups": 1},
//!             "outputs": [2]}],
//!  "outputs": [2]}
//! ```
//!
//! Roles: `input` (fed by the caller), `param` (`frozen: true` when not trained), `buffer`
//! (state such as BatchNorm running statistics), `const` (a tensor the forward pass captured
//! or made without a recorded call), and `value` (the default: produced by exactly one call).
//! Arguments are keyed by the operator schema's names, in the schema's order (an operator
//! without a translation reads its tensors by position); a tensor is `{"v": index}`. A quantized
//! module's packed weight is an object of such references (`{"weight": {"v": 3}, "bias": …}`,
//! see `load::aten::quantized`).
//!
//! A training step (`flopscope.profile(module, inputs, training=True)`) records the forward
//! pass, the loss and then the backward pass autograd ran, in one list of calls, with two more
//! top-level fields: `"backward_start"`, the index of the first call of the backward pass, and
//! `"saved_activation_bytes"`, the bytes of the tensors autograd saved for it. The graph's
//! [`Graph::backward_start`] is then the index of the first *node* that call became (a call
//! may become several nodes).
//!
//! For other tools' counting conventions the Python package adds optional top-level fields
//! (`docs/counting.md`, "Traced PyTorch modules"): `"functions"`, the torch-function calls of
//! the forward pass and loss in pre-order, `{"fn": NAME, "args": [..], "kwargs": {..}, "out":
//! ARG, "parent": k|null, "calls": [first, end]}`, where an ARG is self-contained (a tensor
//! `{"shape": [..], "dtype": ".."}`, a mapping `{"dict": [[key, ARG], ..]}`, lists as arrays)
//! and each call may carry `"fn"`, the index of the innermost function it ran in;
//! `"modules"`, `named_modules()` root first, `{"name", "type", "children", "params": [{"name",
//! "shape", "id", "trainable"}], "buffers": [{"name", "shape"}], "attrs": {..}}` (tied
//! parameters share an `id`); `"module_calls"`, `{"m", "args", "kwargs", "out", "parent",
//! "calls": [first, end], "functions": [first, end]}` in the order the calls began; and
//! `"grad_enabled"`, the grad mode of the forward pass.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::de::{Deserializer, Error as _, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value as J;

use crate::error::{Error, Result};
use crate::graph::{
    Attr, DType, Dim, Graph, Initializer, Node, TensorData, Value, ValueId, ValueKind,
};

/// The schema name a trace document carries.
pub const TRACE_SCHEMA: &str = "flopscope.trace/1";

/// Whether `bytes` are read as a trace document: a JSON object. No ONNX model starts with
/// `{` (as a protobuf tag it would be a deprecated group), nor does a GGUF or safetensors file;
/// a JSON object that is not a trace is then refused by [`load_trace`] with the reason.
pub fn is_trace(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

#[derive(Deserialize)]
struct Doc {
    schema: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    producer: String,
    values: Vec<TValue>,
    calls: Vec<Call>,
    #[serde(default)]
    outputs: Vec<usize>,
    /// A recorded training step: the index of the first call of the backward pass (the
    /// calls before it are the forward pass and the loss).
    #[serde(default)]
    backward_start: Option<usize>,
    /// A recorded training step: bytes of the tensors autograd saved for backward, each
    /// storage once, parameters and buffers left out (they are the weights).
    #[serde(default)]
    saved_activation_bytes: Option<u64>,
}

#[derive(Deserialize)]
struct TValue {
    #[serde(default)]
    name: String,
    dtype: String,
    shape: Vec<u64>,
    #[serde(default)]
    role: Role,
    #[serde(default)]
    frozen: bool,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Role {
    #[default]
    Value,
    Input,
    Param,
    Buffer,
    Const,
}

/// One recorded operator call.
#[derive(Deserialize)]
pub(crate) struct Call {
    /// `aten.convolution.default`: namespace, name, overload.
    pub op: String,
    /// Arguments by schema name, in the document's order.
    #[serde(default)]
    pub args: Args,
    /// Values it produced (`null` for an output that is not a tensor).
    pub outputs: Vec<Option<usize>>,
    /// Qualified names of the modules it ran in, outermost first (`["layer1", "layer1.0"]`).
    #[serde(default)]
    pub scope: Vec<String>,
}

/// A call's arguments in the order the document gives them: the schema's, as the recorder
/// writes them. (`serde_json::Map` would sort them by name, and a rule that reads tensors by
/// position would read `atan2(self, other)` as `(other, self)`.)
#[derive(Default)]
pub(crate) struct Args(Vec<(String, J)>);

impl Args {
    /// The argument called `name`.
    pub fn get(&self, name: &str) -> Option<&J> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
    /// The arguments' values, in order.
    pub fn values(&self) -> impl Iterator<Item = &J> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Args;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of arguments")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Args, A::Error> {
                let mut args: Vec<(String, J)> = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, J>()? {
                    if args.iter().any(|(n, _)| *n == k) {
                        return Err(A::Error::custom(format!("argument '{k}' is given twice")));
                    }
                    args.push((k, v));
                }
                Ok(Args(args))
            }
        }
        d.deserialize_map(Ordered)
    }
}

impl Call {
    /// The operator name without namespace and overload (`convolution`).
    pub fn name(&self) -> &str {
        let mut parts = self.op.split('.');
        match (parts.next(), parts.next()) {
            (Some(_), Some(name)) => name,
            (Some(name), None) => name,
            _ => &self.op,
        }
    }
    /// The namespace (`aten`).
    pub fn namespace(&self) -> &str {
        self.op.split('.').next().unwrap_or("")
    }
}

/// Builds the graph while the calls are translated: value creation, constants, node naming.
pub(crate) struct Emit {
    pub g: Graph,
    traced: usize,
    produced: Vec<bool>,
    /// Whether each traced value is one a call must produce (role `value`, or `const` made
    /// by its own node), as opposed to an input, parameter or buffer.
    made: Vec<bool>,
    scope: Vec<String>,
    /// The ATen operator of the call being translated (`add`): a root-module node's name.
    call: String,
    names: super::names::Names,
    consts: HashMap<String, ValueId>,
}

/// A translation failure: what is wrong with one call.
pub(crate) type Why = String;

impl Emit {
    /// The value an argument names, `None` for a null, absent or non-tensor (number) one.
    pub fn tensor(&self, c: &Call, name: &str) -> std::result::Result<Option<ValueId>, Why> {
        match c.args.get(name) {
            Some(j @ J::Object(_)) => self.tensor_of(j).map(Some),
            _ => Ok(None),
        }
    }

    /// The value an argument names; an error when it is absent.
    pub fn req(&self, c: &Call, name: &str) -> std::result::Result<ValueId, Why> {
        self.tensor(c, name)?
            .ok_or_else(|| format!("argument '{name}' is missing"))
    }

    /// The value a tensor reference (`{"v": index}`) names.
    pub fn tensor_of(&self, j: &J) -> std::result::Result<ValueId, Why> {
        let id = j
            .get("v")
            .and_then(J::as_u64)
            .ok_or_else(|| format!("{j} is not a tensor reference"))?;
        usize::try_from(id)
            .ok()
            .filter(|&i| i < self.traced)
            .ok_or_else(|| format!("tensor {id} is not among the {} values", self.traced))
    }

    /// Whether an argument is a tensor reference.
    pub fn is_tensor(c: &Call, name: &str) -> bool {
        c.args.get(name).is_some_and(|j| j.get("v").is_some())
    }

    /// Every tensor the arguments name, in argument order, lists flattened.
    pub fn all_tensors(&self, c: &Call) -> std::result::Result<Vec<Option<ValueId>>, Why> {
        fn walk(e: &Emit, j: &J, out: &mut Vec<Option<ValueId>>) -> std::result::Result<(), Why> {
            match j {
                J::Array(a) => a.iter().try_for_each(|x| walk(e, x, out)),
                // An object without `v` is a quantized module's unpacked weight: its tensors.
                J::Object(o) if !o.contains_key("v") => {
                    o.values().try_for_each(|x| walk(e, x, out))
                }
                J::Object(_) => {
                    out.push(Some(e.tensor_of(j)?));
                    Ok(())
                }
                _ => Ok(()),
            }
        }
        let mut out = Vec::new();
        c.args.values().try_for_each(|j| walk(self, j, &mut out))?;
        Ok(out)
    }

    /// The tensors of a list argument (`cat`'s `tensors`).
    pub fn int(c: &Call, name: &str, default: i64) -> std::result::Result<i64, Why> {
        match c.args.get(name) {
            None | Some(J::Null) => Ok(default),
            Some(J::Bool(b)) => Ok(*b as i64),
            Some(j) => j
                .as_i64()
                .ok_or_else(|| format!("argument '{name}' = {j} is not an integer")),
        }
    }

    /// An integer list argument; a single integer is repeated `n` times (PyTorch broadcasts
    /// `kernel_size=3` to every spatial dim).
    pub fn ints(c: &Call, name: &str, n: usize) -> std::result::Result<Vec<i64>, Why> {
        match c.args.get(name) {
            None | Some(J::Null) => Ok(vec![]),
            Some(J::Array(a)) => {
                let v: Option<Vec<i64>> = a.iter().map(J::as_i64).collect();
                let v = v.ok_or_else(|| format!("argument '{name}' is not a list of integers"))?;
                Ok(if v.len() == 1 && n > 1 {
                    vec![v[0]; n]
                } else {
                    v
                })
            }
            Some(j) => j
                .as_i64()
                .map(|i| vec![i; n.max(1)])
                .ok_or_else(|| format!("argument '{name}' = {j} is not an integer list")),
        }
    }

    /// A number argument (`None` when null or absent).
    pub fn num(c: &Call, name: &str) -> Option<f64> {
        match c.args.get(name)? {
            J::Bool(b) => Some(*b as u8 as f64),
            j => j.as_f64(),
        }
    }

    /// A boolean argument.
    pub fn flag(c: &Call, name: &str) -> bool {
        match c.args.get(name) {
            Some(J::Bool(b)) => *b,
            Some(j) => j.as_i64().is_some_and(|i| i != 0),
            None => false,
        }
    }

    /// A string argument.
    pub fn text<'c>(c: &'c Call, name: &str) -> Option<&'c str> {
        c.args.get(name).and_then(J::as_str)
    }

    /// The traced shape of a value.
    pub fn shape(&self, v: ValueId) -> Vec<u64> {
        self.g.values[v]
            .shape
            .iter()
            .flatten()
            .map(|d| match d {
                Dim::Known(k) => *k,
                _ => 0,
            })
            .collect()
    }

    /// The element type of a value.
    pub fn dtype(&self, v: ValueId) -> DType {
        self.g.values[v].dtype.unwrap_or(DType::F32)
    }

    /// A new intermediate value (one that the trace did not record: a split of a fused op).
    pub fn value(&mut self, dtype: DType, shape: &[u64]) -> ValueId {
        self.g.values.push(Value {
            name: format!("t{}", self.g.values.len()),
            kind: ValueKind::NodeOutput,
            dtype: Some(dtype),
            shape: Some(shape.iter().map(|&d| Dim::Known(d)).collect()),
            seq: false,
        });
        self.g.values.len() - 1
    }

    /// Adds a node in the current call's scope, named by its module (`super::names`).
    pub fn node(
        &mut self,
        domain: &str,
        op: &str,
        inputs: Vec<Option<ValueId>>,
        outputs: Vec<Option<ValueId>>,
        attrs: Vec<(&str, Attr)>,
    ) -> std::result::Result<(), Why> {
        for &o in outputs.iter().flatten() {
            if o < self.traced {
                if !self.made[o] {
                    return Err(format!(
                        "value {o} is an input, parameter or buffer, not a call's output"
                    ));
                }
                if self.produced[o] {
                    return Err(format!("value {o} is produced twice"));
                }
                self.produced[o] = true;
            }
        }
        // ONNX omits trailing optional inputs rather than leaving them empty.
        let mut inputs = inputs;
        while inputs.last() == Some(&None) {
            inputs.pop();
        }
        let mut node = Node {
            name: String::new(),
            op_type: op.to_string(),
            domain: domain.to_string(),
            inputs,
            outputs,
            attrs: attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            scope: self.scope.clone(),
        };
        let bookkeeping = crate::fold::is_bookkeeping(&self.g, &node);
        node.name = self.names.name(&self.scope, &self.call, op, bookkeeping);
        self.g.nodes.push(node);
        Ok(())
    }

    /// A node with one new output value of the given type and shape; returns that value.
    pub fn op(
        &mut self,
        op: &str,
        inputs: Vec<Option<ValueId>>,
        attrs: Vec<(&str, Attr)>,
        dtype: DType,
        shape: &[u64],
    ) -> std::result::Result<ValueId, Why> {
        let v = self.value(dtype, shape);
        self.node("", op, inputs, vec![Some(v)], attrs)?;
        Ok(v)
    }

    /// `w.t()`: the transposed view of a matrix, as PyTorch passes weights to matmuls (a view:
    /// no memory, no cost).
    pub fn t(&mut self, w: ValueId) -> std::result::Result<ValueId, Why> {
        let shape: Vec<u64> = self.shape(w).into_iter().rev().collect();
        let v = self.value(self.dtype(w), &shape);
        self.node("aten", "t", vec![Some(w)], vec![Some(v)], vec![])?;
        Ok(v)
    }

    /// A scalar constant of `dtype` (a `Constant` node, made once per value and type).
    pub fn scalar(&mut self, x: f64, dtype: DType) -> ValueId {
        let key = format!("{}:{x:?}", dtype.name());
        if let Some(&v) = self.consts.get(&key) {
            return v;
        }
        let data = if dtype.is_float() {
            TensorData::Floats(vec![x])
        } else {
            TensorData::Ints(vec![x as i64])
        };
        let t = Initializer {
            value: 0,
            dtype,
            dims: vec![],
            data,
        };
        let v = self.value(dtype, &[]);
        self.const_node(v, Attr::Tensor(Box::new(t)));
        self.consts.insert(key, v);
        v
    }

    /// A 1-D int64 constant (axes, sizes), made once per value.
    pub fn ints_const(&mut self, xs: &[i64]) -> ValueId {
        let key = format!("ints:{xs:?}");
        if let Some(&v) = self.consts.get(&key) {
            return v;
        }
        let v = self.value(DType::I64, &[xs.len() as u64]);
        self.const_node(v, Attr::Ints(xs.to_vec()));
        self.consts.insert(key, v);
        v
    }

    fn const_node(&mut self, v: ValueId, value: Attr) {
        let attr = match value {
            Attr::Ints(_) => "value_ints",
            _ => "value",
        };
        // Constants sit outside any module: they are shared by every call that uses them.
        let scope = std::mem::take(&mut self.scope);
        let _ = self.node("", "Constant", vec![], vec![Some(v)], vec![(attr, value)]);
        self.scope = scope;
    }
}

fn dtype_of(name: &str) -> DType {
    DType::from_name(name).unwrap_or(match name {
        n if n.starts_with("float8") => DType::F8,
        "complex32" => DType::C64,
        // PyTorch's quantized integer types: the integers they store.
        "qint8" => DType::I8,
        "quint8" => DType::U8,
        "qint32" => DType::I32,
        "quint4x2" => DType::U4,
        "quint2x4" => DType::U2,
        _ => DType::Unknown(0),
    })
}

/// Reads a trace document into a graph (opset 23, so that ONNX `Attention` is known).
pub fn load_trace(bytes: &[u8], name: &str) -> Result<super::LoadedModel> {
    let bad = |reason: String| Error::Malformed {
        path: PathBuf::from(name),
        what: "flopscope trace",
        reason,
    };
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if doc.schema != TRACE_SCHEMA {
        return Err(bad(format!(
            "schema '{}' is not '{TRACE_SCHEMA}'",
            doc.schema
        )));
    }
    let mut g = Graph {
        name: doc.name.clone(),
        ..Graph::default()
    };
    g.traced = true;
    g.opsets.insert(String::new(), 23);
    g.opsets.insert("aten".into(), 1);
    let mut consts = Vec::new();
    for (i, tv) in doc.values.iter().enumerate() {
        let dtype = dtype_of(&tv.dtype);
        let kind = match tv.role {
            Role::Input => {
                g.inputs.push(i);
                ValueKind::Input
            }
            Role::Param | Role::Buffer => {
                if tv.role == Role::Buffer {
                    g.buffers.push(i);
                } else if tv.frozen {
                    g.frozen.push(i);
                }
                g.initializers.push(Initializer {
                    value: i,
                    dtype,
                    dims: tv.shape.clone(),
                    data: TensorData::None,
                });
                ValueKind::Initializer(g.initializers.len() - 1)
            }
            Role::Const => {
                consts.push(i);
                ValueKind::NodeOutput
            }
            Role::Value => ValueKind::NodeOutput,
        };
        g.values.push(Value {
            name: if tv.name.is_empty() {
                format!("v{i}")
            } else {
                tv.name.clone()
            },
            kind,
            dtype: Some(dtype),
            shape: Some(tv.shape.iter().map(|&d| Dim::Known(d)).collect()),
            seq: false,
        });
    }
    let traced = g.values.len();
    let mut e = Emit {
        g,
        traced,
        produced: vec![false; traced],
        made: doc
            .values
            .iter()
            .map(|v| matches!(v.role, Role::Value | Role::Const))
            .collect(),
        scope: vec![],
        call: String::new(),
        names: Default::default(),
        consts: HashMap::new(),
    };
    // A captured constant is made by a node that does nothing: it has a producer, so it is
    // neither an input nor a parameter.
    for v in consts {
        e.node("aten", "lift_fresh", vec![], vec![Some(v)], vec![])
            .map_err(bad)?;
    }
    if let Some(k) = doc.backward_start {
        if k > doc.calls.len() {
            return Err(bad(format!(
                "backward_start {k} is past the {} calls",
                doc.calls.len()
            )));
        }
    }
    for (i, c) in doc.calls.iter().enumerate() {
        if doc.backward_start == Some(i) {
            e.g.backward_start = Some(e.g.nodes.len());
        }
        e.scope = c.scope.clone();
        e.call = c.name().to_string();
        if let Some(&o) = c.outputs.iter().flatten().find(|&&o| o >= traced) {
            return Err(bad(format!(
                "call {i} ({}): output {o} is not among the {traced} values",
                c.op
            )));
        }
        super::aten::translate(&mut e, c)
            .map_err(|why| bad(format!("call {i} ({}): {why}", c.op)))?;
    }
    if doc.backward_start == Some(doc.calls.len()) {
        e.g.backward_start = Some(e.g.nodes.len()); // a backward pass of no call
    }
    e.g.saved_activation_bytes = doc.saved_activation_bytes;
    for &o in &doc.outputs {
        if o >= traced {
            return Err(bad(format!("output {o} is not among the {traced} values")));
        }
        e.g.outputs.push(o);
    }
    // A value read but never made is a hole in the trace (the recorder makes every tensor it
    // did not see created a `const`).
    for n in &e.g.nodes {
        if let Some(&v) = n
            .inputs
            .iter()
            .flatten()
            .find(|&&v| v < traced && e.made[v] && !e.produced[v])
        {
            return Err(bad(format!(
                "value {v} is read by '{}' but produced by no call",
                n.name
            )));
        }
    }
    let g = e.g;
    crate::infer::topo_order(&g)?;
    Ok(super::LoadedModel {
        graph: g,
        ir_version: 0,
        producer: doc.producer,
        weights: crate::schema::WeightsStatus::Traced,
        file_bytes: bytes.len() as u64,
    })
}
