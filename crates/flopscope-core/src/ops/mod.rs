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

use std::rc::Rc;

use crate::graph::{DType, Graph, Node};

pub mod attention;
pub mod conv;
pub mod elementwise;
pub mod fold;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod quant;
pub mod reduce;
pub mod rnn;
pub mod shape;

#[cfg(test)]
pub(crate) mod testutil;

/// A concrete shape.
pub type Shape = Vec<u64>;

/// Values of a small constant tensor, row-major, used to fold shape computations.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Integer and boolean tensors.
    Int(Vec<i64>),
    /// Floating-point tensors.
    Float(Vec<f64>),
}

impl Values {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
        }
    }
    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i` as f64.
    pub fn f(&self, i: usize) -> f64 {
        match self {
            Values::Int(v) => v[i] as f64,
            Values::Float(v) => v[i],
        }
    }
    /// All elements as i64 (floats truncated toward zero, as a Cast to int does).
    pub fn to_ints(&self) -> Vec<i64> {
        match self {
            Values::Int(v) => v.clone(),
            Values::Float(v) => v.iter().map(|&x| trunc_i64(x)).collect(),
        }
    }
}

/// Folding stops above this many elements: shape computations are small, and this bounds the
/// work and memory a hostile file can cause.
pub const MAX_FOLD: u64 = 1 << 16;

/// What is known about a tensor during inference.
#[derive(Clone, Debug)]
pub struct Tensor {
    /// Element type.
    pub dtype: DType,
    /// Concrete shape, when known.
    pub shape: Option<Shape>,
    /// Element values, for small integer (and tiny float) tensors.
    pub value: Option<Rc<Values>>,
}

impl Tensor {
    /// A tensor of known shape, values unknown.
    pub fn new(dtype: DType, shape: Shape) -> Tensor {
        Tensor {
            dtype,
            shape: Some(shape),
            value: None,
        }
    }
    /// A tensor with known values; values are dropped when the tensor is too large.
    pub fn with_values(dtype: DType, shape: Shape, values: Values) -> Tensor {
        let keep = values.len() as u64 <= MAX_FOLD;
        Tensor {
            dtype,
            shape: Some(shape),
            value: keep.then(|| Rc::new(values)),
        }
    }
    /// Bytes of storage, when the shape is known.
    pub fn bytes(&self) -> Option<u64> {
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
pub fn invalid<T>(msg: impl Into<String>) -> Result<T, OpError> {
    Err(OpError::Invalid(msg.into()))
}

/// An integer attribute the operator requires (no default in the ONNX spec).
pub fn required_int(node: &crate::graph::Node, name: &str) -> Result<i64, OpError> {
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
    /// The graph holding the node (for subgraph-carrying ops).
    pub graph: &'a Graph,
}

impl<'a> Ctx<'a> {
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

/// The rules for an operator, if this build knows it.
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
            .or_else(|| rnn::lookup(op_type)),
        "com.microsoft" => attention::lookup_ms(op_type)
            .or_else(|| norm::lookup_ms(op_type))
            .or_else(|| quant::lookup(op_type)),
        _ => None,
    }
}

/// Cost of an op that does no arithmetic (data movement only).
pub fn no_cost(_: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::default())
}

/// Error for a count that does not fit in 64 bits.
pub fn overflow() -> OpError {
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
pub fn mul(xs: &[u64]) -> Result<u64, OpError> {
    numel(xs)
}

/// Normalizes a possibly negative axis against `rank`.
pub fn axis(a: i64, rank: usize) -> Result<usize, OpError> {
    let r = i64::try_from(rank).map_err(|_| overflow())?;
    let x = if a < 0 { a + r } else { a };
    if x < 0 || x >= r {
        return invalid(format!("axis {a} is out of range for rank {rank}"));
    }
    usize::try_from(x).map_err(|_| overflow())
}

/// Multidirectional (numpy) broadcasting of two shapes.
pub fn broadcast(a: &[u64], b: &[u64]) -> Result<Shape, OpError> {
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
pub fn at(list: Option<&[i64]>, i: usize, default: i64) -> i64 {
    list.and_then(|l| l.get(i).copied()).unwrap_or(default)
}

/// Bytes a node must move at least, for the roofline (`docs/roofline.md`), from the bytes it
/// reads and writes: a view or no-op (`Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`,
/// `Identity`, `Dropout`) and a metadata query (`Shape`, `Size`) move nothing; an indexing op
/// (`Gather`, `GatherElements`, `GatherND`, `Slice`) reads only the elements it writes, not
/// its whole input; any other node reads its inputs and writes its outputs. The profile's
/// `bytes_read` and `bytes_written` stay as counted.
pub fn roofline_bytes(op: &str, bytes_read: u64, bytes_written: u64) -> u64 {
    match op {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity" | "Dropout" | "Shape"
        | "Size" => 0,
        "Gather" | "GatherElements" | "GatherND" | "Slice" => bytes_written.saturating_mul(2),
        _ => bytes_read.saturating_add(bytes_written),
    }
}

thread_local! {
    /// Warnings raised by the rule now running (see [`warn`]).
    static WARNINGS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records a warning about the node whose rule is running; the inference pass collects it into
/// `Analysis::warnings` with the node's name (see [`take_warnings`]).
pub fn warn(msg: impl Into<String>) {
    WARNINGS.with(|w| w.borrow_mut().push(msg.into()));
}

/// Takes the warnings recorded since the last call on this thread.
pub fn take_warnings() -> Vec<String> {
    WARNINGS.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// `x` truncated toward zero, saturating at the ends of `i64` (NaN gives 0): what a Cast from
/// float to int64 folds to.
pub fn trunc_i64(x: f64) -> i64 {
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
pub fn f64_to_u64(x: f64) -> Result<u64, OpError> {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    if x.is_finite() && (0.0..TWO_64).contains(&x) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // in range: checked
        let u = x as u64;
        Ok(u)
    } else {
        Err(overflow())
    }
}
