//! The in-memory graph every source (ONNX file, built-in architecture) is turned into.
//!
//! A graph holds declarations only: dtypes, declared dims (possibly symbolic), attributes, and
//! where initializer bytes live. Concrete shapes are computed by [`crate::infer`] for a given
//! binding of the symbolic dims.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;

/// Index of a value (tensor) in [`Graph::values`].
pub type ValueId = usize;

/// Element type of a tensor, following ONNX `TensorProto.DataType` (variants named as in numpy).
#[allow(missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    U8,
    I8,
    U16,
    I16,
    I32,
    I64,
    Str,
    Bool,
    F16,
    F64,
    U32,
    U64,
    C64,
    C128,
    BF16,
    F8,
    U4,
    I4,
    F4,
    U2,
    I2,
    /// A code this build does not know; counted as 0 bytes and never as a parameter.
    Unknown(i32),
}

impl DType {
    /// Maps an ONNX `DataType` code.
    pub fn from_onnx(code: i32) -> DType {
        match code {
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            4 => DType::U16,
            5 => DType::I16,
            6 => DType::I32,
            7 => DType::I64,
            8 => DType::Str,
            9 => DType::Bool,
            10 => DType::F16,
            11 => DType::F64,
            12 => DType::U32,
            13 => DType::U64,
            14 => DType::C64,
            15 => DType::C128,
            16 => DType::BF16,
            17..=20 | 24 => DType::F8,
            21 => DType::U4,
            22 => DType::I4,
            23 => DType::F4,
            25 => DType::U2,
            26 => DType::I2,
            c => DType::Unknown(c),
        }
    }

    /// The ONNX `DataType` code (for writing models back).
    pub fn to_onnx(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::U8 => 2,
            DType::I8 => 3,
            DType::U16 => 4,
            DType::I16 => 5,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::Str => 8,
            DType::Bool => 9,
            DType::F16 => 10,
            DType::F64 => 11,
            DType::U32 => 12,
            DType::U64 => 13,
            DType::C64 => 14,
            DType::C128 => 15,
            DType::BF16 => 16,
            DType::F8 => 17,
            DType::U4 => 21,
            DType::I4 => 22,
            DType::F4 => 23,
            DType::U2 => 25,
            DType::I2 => 26,
            DType::Unknown(c) => c,
        }
    }

    /// Storage bits per element (strings count as pointers: 64).
    pub fn bits(self) -> u64 {
        match self {
            DType::F64 | DType::I64 | DType::U64 | DType::C64 | DType::Str => 64,
            DType::C128 => 128,
            DType::F32 | DType::I32 | DType::U32 => 32,
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => 16,
            DType::U8 | DType::I8 | DType::Bool | DType::F8 => 8,
            DType::U4 | DType::I4 | DType::F4 => 4,
            DType::U2 | DType::I2 => 2,
            DType::Unknown(_) => 0,
        }
    }

    /// Floating-point types: their initializers are parameters and their arithmetic is FLOPs.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            DType::F32
                | DType::F16
                | DType::F64
                | DType::BF16
                | DType::F8
                | DType::F4
                | DType::C64
                | DType::C128
        )
    }

    /// Integer and boolean types: small tensors of these are folded to values.
    pub fn is_int_like(self) -> bool {
        matches!(
            self,
            DType::U8
                | DType::I8
                | DType::U16
                | DType::I16
                | DType::I32
                | DType::I64
                | DType::U32
                | DType::U64
                | DType::Bool
        )
    }

    /// Lower-case name as numpy spells it (`float32`, `int64`, …).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::Str => "string",
            DType::Bool => "bool",
            DType::F16 => "float16",
            DType::F64 => "float64",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
            DType::C64 => "complex64",
            DType::C128 => "complex128",
            DType::BF16 => "bfloat16",
            DType::F8 => "float8",
            DType::U4 => "uint4",
            DType::I4 => "int4",
            DType::F4 => "float4",
            DType::U2 => "uint2",
            DType::I2 => "int2",
            DType::Unknown(_) => "unknown",
        }
    }

    /// The type [`DType::name`] spells `name` (the profile keeps dtypes by name).
    pub fn from_name(name: &str) -> Option<DType> {
        // Every named type has an ONNX code in 1..=26.
        (1..=26).map(DType::from_onnx).find(|d| d.name() == name)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A declared dimension: a number, or a symbol bound at analysis time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Known(u64),
    /// A named size such as `batch` or `seq`.
    Sym(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Known(n) => write!(f, "{n}"),
            Dim::Sym(s) => f.write_str(s),
        }
    }
}

/// Where a value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueKind {
    /// A graph input fed by the user.
    Input,
    /// An initializer (index into [`Graph::initializers`]).
    Initializer(usize),
    /// Produced by a node.
    NodeOutput,
    /// Defined in an enclosing graph (names a value of a subgraph's parent).
    Outer,
}

/// A tensor declaration.
#[derive(Clone, Debug)]
pub struct Value {
    /// The name that nodes use to refer to it.
    pub name: String,
    /// How it is produced.
    pub kind: ValueKind,
    /// Declared element type, when the file says.
    pub dtype: Option<DType>,
    /// Declared dims (from inputs, outputs or `value_info`), when the file says.
    pub shape: Option<Vec<Dim>>,
    /// Declared a sequence (`seq(tensor)`, possibly optional): `dtype` and `shape` are then
    /// its elements'.
    pub seq: bool,
}

/// Where an initializer's bytes are.
#[derive(Clone, Debug)]
pub enum TensorData {
    /// Little-endian raw bytes of a small tensor.
    Raw(Bytes),
    /// Typed fields (`int64_data`, `float_data`, …) decoded to numbers.
    Ints(Vec<i64>),
    /// Typed floating-point fields.
    Floats(Vec<f64>),
    /// In a file: an external data file next to the model, or the model file itself for a
    /// payload left on disk while reading (see `load::skeleton`).
    External {
        /// Resolved path (inside the model's folder).
        path: std::path::PathBuf,
        /// Byte offset in that file.
        offset: u64,
        /// Byte length, when given.
        length: Option<u64>,
        /// Whether the file exists and covers the range.
        present: bool,
    },
    /// No data at all (declared dims only).
    None,
}

/// A constant tensor stored in the model.
#[derive(Clone, Debug)]
pub struct Initializer {
    /// The value it defines.
    pub value: ValueId,
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub dims: Vec<u64>,
    /// Its bytes.
    pub data: TensorData,
}

/// An attribute value.
#[derive(Clone, Debug)]
pub enum Attr {
    /// `i`
    Int(i64),
    /// `f`
    Float(f32),
    /// `s`
    Str(String),
    /// `ints`
    Ints(Vec<i64>),
    /// `floats`
    Floats(Vec<f32>),
    /// `strings`
    Strs(Vec<String>),
    /// `t`: a constant tensor (dims, dtype, data).
    Tensor(Box<Initializer>),
    /// `g`: a subgraph (If/Loop/Scan bodies).
    Graph(Box<Graph>),
    /// `graphs`
    Graphs(Vec<Graph>),
    /// `tp`: a type (an empty `Optional`'s).
    Type(TypeDecl),
    /// Anything else (sparse tensors): kept by name only.
    Other,
}

/// A type given as an attribute: what its tensors are, and its encoded form to write back.
#[derive(Clone, Debug)]
pub struct TypeDecl {
    /// Element type, when given.
    pub dtype: Option<DType>,
    /// Dims, when given.
    pub shape: Option<Vec<Dim>>,
    /// A sequence of such tensors (optionals looked through).
    pub seq: bool,
    /// The `TypeProto` as read (protobuf bytes).
    pub encoded: Vec<u8>,
}

/// Attributes of a node by name, with a fast hasher (seeded per process: names come from files).
pub type Attrs = HashMap<String, Attr, foldhash::fast::RandomState>;

/// One operator application.
#[derive(Clone, Debug)]
pub struct Node {
    /// Node name as exported (may be empty in the file; then generated).
    pub name: String,
    /// Operator type, e.g. `Conv`.
    pub op_type: String,
    /// Operator domain; empty for the default ONNX domain.
    pub domain: String,
    /// Inputs; `None` for an omitted optional input (`""`).
    pub inputs: Vec<Option<ValueId>>,
    /// Outputs; `None` for an omitted optional output.
    pub outputs: Vec<Option<ValueId>>,
    /// Attributes by name.
    pub attrs: Attrs,
    /// Module path the exporter recorded (`["layer1", "layer1.0", "conv1"]`).
    pub scope: Vec<String>,
}

impl Node {
    /// An integer attribute, or `default`.
    pub fn attr_int(&self, name: &str, default: i64) -> i64 {
        match self.attrs.get(name) {
            Some(Attr::Int(v)) => *v,
            _ => default,
        }
    }
    /// A float attribute, or `default`.
    pub fn attr_float(&self, name: &str, default: f32) -> f32 {
        match self.attrs.get(name) {
            Some(Attr::Float(v)) => *v,
            _ => default,
        }
    }
    /// An integer-list attribute.
    pub fn attr_ints(&self, name: &str) -> Option<&[i64]> {
        match self.attrs.get(name) {
            Some(Attr::Ints(v)) => Some(v),
            _ => None,
        }
    }
    /// A float-list attribute.
    pub fn attr_floats(&self, name: &str) -> Option<&[f32]> {
        match self.attrs.get(name) {
            Some(Attr::Floats(v)) => Some(v),
            _ => None,
        }
    }
    /// A string attribute.
    pub fn attr_str(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Attr::Str(v)) => Some(v),
            _ => None,
        }
    }
    /// The `i`-th input, if present.
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }
}

/// A computation graph (the main graph or a subgraph).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Graph name.
    pub name: String,
    /// All tensors, indexed by [`ValueId`].
    pub values: Vec<Value>,
    /// Constant tensors.
    pub initializers: Vec<Initializer>,
    /// Operators, in file order.
    pub nodes: Vec<Node>,
    /// User-fed inputs (initializers excluded).
    pub inputs: Vec<ValueId>,
    /// Graph outputs.
    pub outputs: Vec<ValueId>,
    /// Opset version per domain (`""` is the default ONNX domain).
    pub opsets: HashMap<String, i64>,
    /// Initializers a framework declared as state, not parameters (PyTorch buffers), besides
    /// the BatchNorm running statistics the profile recognises in any graph.
    pub buffers: Vec<ValueId>,
    /// Parameters a framework declared as not trained (`requires_grad=False`).
    pub frozen: Vec<ValueId>,
    /// Every value's declared shape and type are what a framework computed (a trace): they
    /// win over the rules', which only give each node's cost.
    pub traced: bool,
    /// A recorded training step (a trace of forward and backward): the index of the first node
    /// of the backward pass. Nodes before it are the forward pass.
    pub backward_start: Option<usize>,
    /// A recorded training step: bytes of the tensors autograd saved for backward (each
    /// storage once), as the framework measured them.
    pub saved_activation_bytes: Option<u64>,
}

impl Graph {
    /// Opset version of the default ONNX domain.
    pub fn opset(&self) -> i64 {
        self.opsets.get("").copied().unwrap_or(0)
    }

    /// Symbols named by the inputs' declared dims, in first-seen order.
    pub fn input_symbols(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        // A sequence's element dims are not sizes the user binds (its elements differ).
        for &v in self.inputs.iter().filter(|&&v| !self.values[v].seq) {
            for d in self.values[v].shape.iter().flatten() {
                if let Dim::Sym(s) = d {
                    if !out.contains(s) {
                        out.push(s.clone());
                    }
                }
            }
        }
        out
    }
}

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
            // `as` truncates toward zero and saturates (NaN gives 0), as a Cast folds.
            Values::Float(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }
}

/// Folding stops above this many elements: shape computations are small, and this bounds the
/// work and memory a hostile file can cause.
pub const MAX_FOLD: u64 = 1 << 16;

/// Floats are decoded only for tiny tensors (scales, exponents): weights are never read.
const MAX_FLOAT_DECODE: u64 = 64;

/// Whether the analysis may read the values of a tensor of `n` elements of `dtype`
/// ([`decode_values`] decodes them): the ONNX reader keeps such payloads in memory, so a model
/// read without its weights (a remote one) is analysed exactly as the file.
pub(crate) fn may_fold(dtype: DType, n: u64) -> bool {
    let limit = if dtype.is_float() {
        MAX_FLOAT_DECODE
    } else {
        MAX_FOLD
    };
    n <= limit && (dtype.is_float() || dtype.is_int_like())
}

/// Values of a small constant tensor, if cheaply available.
pub(crate) fn decode_values(t: &Initializer) -> Option<Values> {
    let n = t.dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d))?;
    if !may_fold(t.dtype, n) {
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
            let bytes = read_small(path, *offset, len, MAX_FOLD * 8)?;
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

/// Reads at most `max_bytes` of an external tensor (used only for small integer constants).
pub(crate) fn read_small(
    path: &std::path::Path,
    offset: u64,
    len: u64,
    max_bytes: u64,
) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    if len > max_bytes {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}
