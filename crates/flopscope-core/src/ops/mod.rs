//! Operators, grouped by family. Each family file holds, per operator, its shape rule and its
//! cost rule side by side; `docs/counting.md` states every formula in words.
//!
//! Adding an operator: add a `match` arm to its family's `lookup` (shape rule + cost rule) and a
//! test with a hand-computed expectation in the same file.

// Lossy `as` casts are refused in every operator file (this attribute covers the submodules).
#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

use std::cell::RefCell;
use std::sync::Arc;

use crate::graph::{DType, Graph, Node};

pub use crate::graph::{Values, MAX_FOLD};

pub(crate) mod aten;
mod attention;
pub use attention::{causal_half_cost, says_causal};
pub mod backward;
mod contrib;
mod control;
mod conv;
mod decoder;
mod deform;
mod elementwise;
mod fold;
mod loss;
mod matmul;
mod misc;
mod ml;
mod norm;
mod pool;
mod quant;
mod reduce;
pub(crate) mod rnn;
pub(crate) mod runtime;
mod selection;
mod sequence;
mod shape;
mod signal;
mod strings;
mod vision;

#[cfg(test)]
pub(crate) mod testutil;

/// A concrete shape.
pub type Shape = Vec<u64>;

/// What is known about a tensor during inference.
#[derive(Clone, Debug)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Concrete shape, when known.
    pub shape: Option<Shape>,
    /// Element values, for small integer (and tiny float) tensors.
    pub value: Option<Arc<Values>>,
    /// Set when the value is an ONNX sequence (`seq(tensor)`): then `dtype` is its elements'
    /// type, `shape` the shape they all share (`None` when they differ or are unknown), and
    /// `value` is `None`.
    pub seq: Option<Arc<Seq>>,
}

/// What is known of a sequence's elements.
#[derive(Clone, Debug)]
pub struct Seq {
    /// The elements in order, when their number is known.
    pub elems: Option<Vec<Tensor>>,
}

impl Tensor {
    /// A tensor of known shape, values unknown.
    pub fn new(dtype: DType, shape: Shape) -> Tensor {
        Tensor {
            dtype,
            shape: Some(shape),
            value: None,
            seq: None,
        }
    }
    /// The same tensor without its values (and a sequence without its elements, keeping their
    /// shared shape): what a loop body may assume of a value that changes every iteration.
    pub fn varying(&self) -> Tensor {
        match &self.seq {
            Some(_) => Tensor::sequence(self.dtype, None, self.shape.clone()),
            None => Tensor {
                value: None,
                ..self.clone()
            },
        }
    }
    /// A tensor with known values; values are dropped when the tensor is too large.
    pub fn with_values(dtype: DType, shape: Shape, values: Values) -> Tensor {
        let keep = values.len() as u64 <= MAX_FOLD;
        Tensor {
            dtype,
            shape: Some(shape),
            value: keep.then(|| Arc::new(values)),
            seq: None,
        }
    }
    /// A sequence of elements of type `dtype`: `elems` when their number is known, `shape`
    /// what each element is known to have when they are not (a declared element type).
    pub fn sequence(dtype: DType, elems: Option<Vec<Tensor>>, shape: Option<Shape>) -> Tensor {
        let shape = match &elems {
            Some(es) => {
                let first = es.first().and_then(|e| e.shape.clone());
                if es.iter().all(|e| e.shape == first) {
                    first
                } else {
                    None
                }
            }
            None => shape,
        };
        Tensor {
            dtype,
            shape,
            value: None,
            seq: Some(Arc::new(Seq { elems })),
        }
    }
    /// Whether this is a sequence.
    pub fn is_seq(&self) -> bool {
        self.seq.is_some()
    }
    /// Bytes of storage, when the shape is known (a sequence: its elements' when known).
    pub fn bytes(&self) -> Option<u64> {
        if let Some(seq) = &self.seq {
            return seq
                .elems
                .as_ref()?
                .iter()
                .try_fold(0u64, |a, e| a.checked_add(e.bytes()?));
        }
        let n = self.shape.as_ref().and_then(|s| numel(s).ok())?;
        Some(n.checked_mul(self.dtype.bits())?.div_ceil(8))
    }
}

/// Why an operator could not produce its outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum OpError {
    /// Something it needs is not known (an input shape or value): outputs stay unknown.
    Unknown,
    /// The inputs contradict the operator (or a size overflows): an error naming the node.
    Invalid(String),
}

/// Shorthand for an invalid-input error.
pub(crate) fn invalid<T>(msg: impl Into<String>) -> Result<T, OpError> {
    Err(OpError::Invalid(msg.into()))
}

/// An integer attribute the operator requires (no default in the ONNX spec).
pub(crate) fn required_int(node: &crate::graph::Node, name: &str) -> Result<i64, OpError> {
    match node.attrs.get(name) {
        Some(crate::graph::Attr::Int(v)) => Ok(*v),
        _ => invalid(format!("the required attribute '{name}' is missing")),
    }
}

/// Multiply-accumulates and floating-point operations of one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cost {
    /// Multiply-accumulates of products (conv, matmul, attention).
    pub macs: u64,
    /// FLOPs: 2 × MACs plus every other arithmetic operation.
    pub flops: u64,
}

impl Cost {
    /// A cost made only of multiply-accumulates plus `extra` other FLOPs.
    pub fn products(macs: u64, extra: u64) -> Result<Cost, OpError> {
        let flops = macs
            .checked_mul(2)
            .and_then(|f| f.checked_add(extra))
            .ok_or_else(overflow)?;
        Ok(Cost { macs, flops })
    }
    /// A cost with no products.
    pub fn flops(flops: u64) -> Cost {
        Cost { macs: 0, flops }
    }
}

/// The context an operator rule sees.
pub struct Ctx<'a> {
    /// The node.
    pub node: &'a Node,
    /// Its inputs, by position (`None` when omitted).
    pub inputs: Vec<Option<&'a Tensor>>,
    /// Default-domain opset version.
    pub opset: i64,
    /// The node's subgraphs are analysed through this (see [`Bodies`]).
    pub bodies: &'a dyn Bodies,
    /// Warnings about this node; the inference pass names the node and passes them on to
    /// the profile (see [`Ctx::warn`]).
    pub warnings: &'a RefCell<Vec<String>>,
}

/// How a rule analyses the subgraphs of its node (the bodies of `If`, `Loop`, `Scan`). The
/// inference pass provides it, with the dim bindings and the enclosing values a body reads, so
/// operator rules never call back into the pass themselves.
pub trait Bodies {
    /// Analyses `body` with its inputs as `inputs` (a shape unknown is allowed; values given
    /// are folded, so a loop-carried value must come without them): its output tensors and its
    /// total cost (`None` when part of it is unknown). An output it cannot infer is `None`.
    fn analyze(&self, body: &Graph, inputs: Vec<Tensor>) -> BodyOutcome;

    /// The size bound to `symbol`, a data-dependent dim (NonZero's count of non-zeros) named
    /// after its node; unbound, the request is recorded with the largest size it can take, so
    /// that the profile binds it and gives formulas in it (`None` until then).
    fn data_dim(&self, symbol: &str, largest: u64) -> Option<u64> {
        let _ = (symbol, largest);
        None
    }

    /// Like [`Bodies::data_dim`] for a size nothing in the graph bounds (a shape read from a
    /// tensor computed at run time): unbound, it is counted at 1, so the totals are rates per
    /// unit of it and the formulas keep it.
    fn free_dim(&self, symbol: &str) -> Option<u64> {
        let _ = symbol;
        None
    }
}

/// The data-dependent size `<node>.<what>`: at most `largest` when the inputs bound it, else
/// free ([`Bodies::free_dim`]). `OpError::Unknown` until the profile binds it.
pub(crate) fn data_dim(cx: &Ctx, what: &str, largest: Option<u64>) -> Result<u64, OpError> {
    let symbol = format!("{}.{what}", cx.node.name);
    match largest {
        Some(l) => cx.bodies.data_dim(&symbol, l),
        None => cx.bodies.free_dim(&symbol),
    }
    .ok_or(OpError::Unknown)
}

/// [`Bodies`] where there are none (an operator run on its own, as in unit tests): a body's
/// outputs are unknown.
pub struct NoBodies;

impl Bodies for NoBodies {
    fn analyze(&self, _: &Graph, _: Vec<Tensor>) -> BodyOutcome {
        Err(OpError::Unknown)
    }
}

impl<'a> Ctx<'a> {
    /// The same node seen with only the inputs at positions `pick` (a fused or quantized op
    /// reusing the rule of the plain op it wraps).
    pub fn select(&self, pick: &[usize]) -> Ctx<'a> {
        Ctx {
            node: self.node,
            inputs: pick.iter().map(|&i| self.opt(i)).collect(),
            opset: self.opset,
            bodies: self.bodies,
            warnings: self.warnings,
        }
    }
    /// Records a warning about this node: something the numbers depend on that the user
    /// should know (an output axis of size 0, say).
    pub fn warn(&self, msg: impl Into<String>) {
        self.warnings.borrow_mut().push(msg.into());
    }
    /// Input `i`, required.
    pub fn input(&self, i: usize) -> Result<&'a Tensor, OpError> {
        match self.inputs.get(i).copied().flatten() {
            Some(t) => Ok(t),
            None => invalid(format!("required input {i} is missing")),
        }
    }
    /// Input `i` if given.
    pub fn opt(&self, i: usize) -> Option<&'a Tensor> {
        self.inputs.get(i).copied().flatten()
    }
    /// Shape of input `i` (unknown → `OpError::Unknown`).
    pub fn shape(&self, i: usize) -> Result<&'a [u64], OpError> {
        self.input(i)?.shape.as_deref().ok_or(OpError::Unknown)
    }
    /// Rank of input `i`.
    pub fn rank(&self, i: usize) -> Result<usize, OpError> {
        Ok(self.shape(i)?.len())
    }
    /// Dtype of input `i`.
    pub fn dtype(&self, i: usize) -> Result<DType, OpError> {
        Ok(self.input(i)?.dtype)
    }
    /// Values of input `i` (unknown → `OpError::Unknown`).
    pub fn values(&self, i: usize) -> Result<&'a Values, OpError> {
        self.input(i)?.value.as_deref().ok_or(OpError::Unknown)
    }
    /// Values of input `i` as integers.
    pub fn ints(&self, i: usize) -> Result<Vec<i64>, OpError> {
        Ok(self.values(i)?.to_ints())
    }
    /// Values of optional input `i` as integers; `Ok(None)` when omitted.
    pub fn opt_ints(&self, i: usize) -> Result<Option<Vec<i64>>, OpError> {
        match self.opt(i) {
            None => Ok(None),
            Some(t) => Ok(Some(t.value.as_deref().ok_or(OpError::Unknown)?.to_ints())),
        }
    }
    /// Number of elements of input `i`.
    pub fn numel(&self, i: usize) -> Result<u64, OpError> {
        numel(self.shape(i)?)
    }
}

/// An operator's rules.
#[derive(Clone, Copy)]
pub struct OpDef {
    /// Output tensors from inputs (shapes, dtypes, and values when foldable).
    pub infer: fn(&Ctx) -> Result<Vec<Tensor>, OpError>,
    /// MACs and FLOPs given inputs and the inferred outputs.
    pub cost: fn(&Ctx, &[Tensor]) -> Result<Cost, OpError>,
}

/// Outputs (`None` for one that cannot be inferred) and cost (`None` when part of it is
/// unknown) of an operator with subgraphs.
pub type BodyOutcome = Result<(Vec<Option<Tensor>>, Option<Cost>), OpError>;

/// How an operator is analysed.
#[derive(Clone, Copy)]
pub enum Rule {
    /// A shape rule and a cost rule, side by side.
    Op(OpDef),
    /// An operator with subgraphs (`If`, `Loop`, `Scan`): outputs and cost both come from
    /// analysing its bodies through [`Ctx::bodies`].
    Body(fn(&Ctx) -> BodyOutcome),
}

/// The rule for an operator, control flow included, if this build knows it.
pub fn rule(domain: &str, op_type: &str) -> Option<Rule> {
    lookup(domain, op_type)
        .map(Rule::Op)
        .or_else(|| match domain {
            "" | "ai.onnx" => control::lookup(op_type)
                .or_else(|| sequence::lookup_body(op_type))
                .map(Rule::Body),
            _ => None,
        })
}

/// The shape and cost rules of an operator without subgraphs, if this build knows it.
pub fn lookup(domain: &str, op_type: &str) -> Option<OpDef> {
    match domain {
        "" | "ai.onnx" => conv::lookup(op_type)
            .or_else(|| matmul::lookup(op_type))
            .or_else(|| elementwise::lookup(op_type))
            .or_else(|| norm::lookup(op_type))
            .or_else(|| pool::lookup(op_type))
            .or_else(|| reduce::lookup(op_type))
            .or_else(|| shape::lookup(op_type))
            .or_else(|| attention::lookup(op_type))
            .or_else(|| quant::lookup(op_type))
            .or_else(|| rnn::lookup(op_type))
            .or_else(|| loss::lookup(op_type))
            .or_else(|| signal::lookup(op_type))
            .or_else(|| misc::lookup(op_type))
            .or_else(|| selection::lookup(op_type))
            .or_else(|| sequence::lookup(op_type))
            .or_else(|| decoder::lookup(op_type))
            .or_else(|| deform::lookup(op_type))
            .or_else(|| strings::lookup(op_type)),
        "ai.onnx.preview" => decoder::lookup_preview(op_type),
        "ai.onnx.ml" => ml::lookup(op_type),
        "ai.onnx.preview.training" => misc::lookup_training(op_type),
        "aten" => aten::lookup(op_type),
        "torchvision" => vision::lookup(op_type),
        "com.microsoft" => contrib::lookup_ms(op_type)
            .or_else(|| attention::lookup_ms(op_type))
            .or_else(|| norm::lookup_ms(op_type))
            .or_else(|| quant::lookup(op_type)),
        "com.microsoft.nchwc" => contrib::lookup_nchwc(op_type),
        _ => None,
    }
}

/// Cost of an op that does no arithmetic (data movement only).
pub(crate) fn no_cost(_: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::default())
}

/// Error for a count that does not fit in 64 bits.
pub(crate) fn overflow() -> OpError {
    OpError::Invalid("a size or count overflows 64 bits".into())
}

/// Product of dims, checked.
pub fn numel(shape: &[u64]) -> Result<u64, OpError> {
    shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(overflow)
}

/// Checked product of several counts.
pub(crate) fn mul(xs: &[u64]) -> Result<u64, OpError> {
    numel(xs)
}

/// Normalizes a possibly negative axis against `rank`.
pub(crate) fn axis(a: i64, rank: usize) -> Result<usize, OpError> {
    let r = i64::try_from(rank).map_err(|_| overflow())?;
    let x = if a < 0 { a + r } else { a };
    if x < 0 || x >= r {
        return invalid(format!("axis {a} is out of range for rank {rank}"));
    }
    usize::try_from(x).map_err(|_| overflow())
}

/// Multidirectional (numpy) broadcasting of two shapes.
pub(crate) fn broadcast(a: &[u64], b: &[u64]) -> Result<Shape, OpError> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return invalid(format!(
                "shapes {a:?} and {b:?} cannot be broadcast together"
            ));
        };
    }
    Ok(out)
}

/// The `i`-th element of a list attribute or `default`.
pub(crate) fn at(list: Option<&[i64]>, i: usize, default: i64) -> i64 {
    list.and_then(|l| l.get(i).copied()).unwrap_or(default)
}

/// Bytes a node must move at least, for the roofline (`docs/roofline.md`), from the bytes it
/// reads and writes: a view or no-op (`Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`,
/// `Identity`, `Dropout`) and a metadata query (`Shape`, `Size`) move nothing; an indexing op
/// (`Gather`, `GatherElements`, `GatherND`, `Slice`) reads only the elements it writes, not
/// its whole input; any other node reads its inputs and writes its outputs. The profile's
/// `bytes_read` and `bytes_written` stay as counted.
pub(crate) fn roofline_bytes(op: &str, bytes_read: u64, bytes_written: u64) -> u64 {
    match op {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity" | "Dropout" | "Shape"
        | "Size" => 0,
        "Gather" | "GatherElements" | "GatherND" | "Slice" => bytes_written.saturating_mul(2),
        _ => bytes_read.saturating_add(bytes_written),
    }
}

/// `x` truncated toward zero, saturating at the ends of `i64` (NaN gives 0): what a Cast from
/// float to int64 folds to.
pub(crate) fn trunc_i64(x: f64) -> i64 {
    // 2^63 is exact in f64; every float strictly between −2^63 − 1 and 2^63 truncates into range.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() {
        0
    } else if x >= TWO_63 {
        i64::MAX
    } else if x <= -TWO_63 {
        i64::MIN
    } else {
        #[allow(clippy::cast_possible_truncation)] // in range: checked just above
        let t = x as i64;
        t
    }
}

/// A finite, non-negative float below 2^64 as `u64` (truncated); otherwise an overflow error.
pub(crate) fn f64_to_u64(x: f64) -> Result<u64, OpError> {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    if x.is_finite() && (0.0..TWO_64).contains(&x) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // in range: checked
        let u = x as u64;
        Ok(u)
    } else {
        Err(overflow())
    }
}
