//! ONNX protobuf reader: decodes the model's structure; large weight payloads stay on disk
//! (see the private `skeleton` reader) and are referred to by offset.

use std::collections::HashMap;

/// A map with a fast hasher that is still seeded per process (names come from the file).
type NameMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use prost::Message;

use crate::error::{Error, Result};
use crate::graph::{Attr, DType, Dim, Graph, Initializer, Node, TensorData, Value, ValueKind};
use crate::onnx_pb as pb;
use crate::schema::WeightsStatus;

use super::skeleton::{self, ByteSource, Skeleton, Stop, Window};

/// Oldest default-domain opset accepted. Before 7, binary ops broadcast by attribute
/// (`broadcast`, `axis`), Reshape took its shape as an attribute (before 5) and Cast its type
/// by name (before 6): the rules read them so.
pub const MIN_OPSET: i64 = 1;
/// Newest default-domain opset accepted (ONNX 1.23).
pub const MAX_OPSET: i64 = 28;
/// Deepest nesting of subgraphs accepted.
const MAX_GRAPH_DEPTH: usize = 64;

/// A model read from disk, with facts about the file.
#[derive(Debug)]
pub struct LoadedModel {
    /// The main graph.
    pub graph: Graph,
    /// ONNX IR version.
    pub ir_version: i64,
    /// Exporter name and version.
    pub producer: String,
    /// Whether weights are present.
    pub weights: WeightsStatus,
    /// Size of the model file in bytes.
    pub file_bytes: u64,
}

/// Reads an ONNX model. Weight payloads stay on disk (see the private `skeleton` reader); small tensors are
/// slices of the decoded buffer.
pub fn load_onnx(path: &Path) -> Result<LoadedModel> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("is a directory"),
        });
    }
    let malformed = |reason: String| Error::Malformed {
        what: "ONNX model",
        path: path.to_path_buf(),
        reason,
    };
    if meta.len() == 0 {
        return Err(malformed("the file is empty".into()));
    }
    let mut src = LocalFile { file, path };
    let skeleton = read_skeleton(&mut src, meta.len(), skeleton::LOCAL, path)?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    decode(
        Bytes::from(skeleton.bytes),
        skeleton.payloads,
        Some(base),
        path,
        meta.len(),
    )
}

/// A model file read with positional reads.
struct LocalFile<'a> {
    file: std::fs::File,
    path: &'a Path,
}

impl ByteSource for LocalFile<'_> {
    #[cfg(unix)]
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset).map_err(|source| {
            Error::Io {
                path: self.path.to_path_buf(),
                source,
            }
        })
    }

    #[cfg(not(unix))]
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        use std::io::{Read, Seek};
        let io = |source| Error::Io {
            path: self.path.to_path_buf(),
            source,
        };
        self.file
            .seek(std::io::SeekFrom::Start(offset))
            .map_err(io)?;
        self.file.read_exact(buf).map_err(io)
    }
}

/// Reads the structure of an ONNX model of `len` bytes from `src`, `window` bytes at a time,
/// leaving its large weight payloads unread (see [`Skeleton`]). `path` names the model in
/// errors. A source that fails passes its own error on (a remote one: a network error).
pub fn read_skeleton(
    src: &mut dyn ByteSource,
    len: u64,
    window: Window,
    path: &Path,
) -> Result<Skeleton> {
    skeleton::read(src, len, window).map_err(|stop| match stop {
        Stop::Source(e) => e,
        Stop::Bad(r) => Error::Malformed {
            what: "ONNX model",
            path: path.to_path_buf(),
            reason: format!("{r}; the file is truncated or not ONNX"),
        },
    })
}

/// Reads an ONNX model from its [`Skeleton`] (read by [`read_skeleton`], from a source
/// without a folder: its external data is absent, and its skipped payloads, which the
/// analysis never reads, are referred to by offset). `label` names the model in errors.
pub fn load_onnx_skeleton(sk: &Skeleton, label: &str) -> Result<LoadedModel> {
    if sk.len == 0 {
        return Err(Error::Malformed {
            what: "ONNX model",
            path: PathBuf::from(label),
            reason: "the file is empty".into(),
        });
    }
    decode(
        Bytes::copy_from_slice(&sk.bytes),
        sk.payloads.clone(),
        None,
        Path::new(label),
        sk.len,
    )
}

/// Reads an ONNX model from memory. Its external data, having no folder, is absent: the
/// analysis runs from the declared dims, as for a file whose data files are missing. `label`
/// names the model in errors.
pub fn load_onnx_bytes(data: &[u8], label: &str) -> Result<LoadedModel> {
    if data.is_empty() {
        return Err(Error::Malformed {
            what: "ONNX model",
            path: PathBuf::from(label),
            reason: "the bytes are empty".into(),
        });
    }
    // One copy, so that tensors are slices of a buffer this model owns (`Bytes`), not borrows.
    decode(
        Bytes::copy_from_slice(data),
        HashMap::new(),
        None,
        Path::new(label),
        data.len() as u64,
    )
}

/// Decodes a model's (skeleton) bytes: `payloads` are the raw data left in the file at `path`,
/// `base` the folder its external data lives in.
fn decode(
    bytes: Bytes,
    payloads: HashMap<usize, (u64, u64)>,
    base: Option<PathBuf>,
    path: &Path,
    file_bytes: u64,
) -> Result<LoadedModel> {
    let malformed = |reason: String| Error::Malformed {
        what: "ONNX model",
        path: path.to_path_buf(),
        reason,
    };
    let model = pb::ModelProto::decode(bytes).map_err(|e| malformed(decode_reason(&e)))?;
    let Some(gp) = model.graph.as_ref() else {
        return Err(malformed(
            "no graph in the file (is it an ONNX model?)".into(),
        ));
    };
    let ir_version = model.ir_version.unwrap_or(0);
    if ir_version < 3 {
        return Err(malformed(format!(
            "IR version {ir_version} is not a valid ONNX IR version (is it an ONNX model?)"
        )));
    }
    let mut opsets = HashMap::new();
    for o in &model.opset_import {
        let d = o.domain().to_string();
        let d = if d == "ai.onnx" { String::new() } else { d };
        opsets.insert(d, o.version());
    }
    let v = opsets.get("").copied().unwrap_or(0);
    if v == 0 && !gp.node.iter().all(|n| !n.domain().is_empty()) {
        return Err(Error::Unsupported(
            "the model imports no opset of the default ONNX domain".into(),
        ));
    }
    if v != 0 && !(MIN_OPSET..=MAX_OPSET).contains(&v) {
        return Err(Error::Unsupported(format!(
            "opset {v} of the default ONNX domain (supported: {MIN_OPSET} to {MAX_OPSET})"
        )));
    }
    let mut cx = Converter {
        resolver: super::external::Resolver::new(base),
        opsets,
        depth: 0,
        model_path: path.to_path_buf(),
        payloads,
    };
    let expanded;
    let gp = match super::functions::expand(&gp.node, &model.functions)? {
        Some(nodes) => {
            expanded = pb::GraphProto {
                node: nodes,
                ..gp.clone()
            };
            &expanded
        }
        None => gp,
    };
    let graph = cx.graph(gp, None)?;
    let weights = weights_status(&graph);
    Ok(LoadedModel {
        graph,
        ir_version,
        producer: format!("{} {}", model.producer_name(), model.producer_version())
            .trim()
            .to_string(),
        weights,
        file_bytes,
    })
}

fn decode_reason(e: &prost::DecodeError) -> String {
    let s = e.to_string();
    if s.contains("recursion limit reached") {
        // prost stops at 100 levels; its message would list every level.
        return "protobuf messages nested more than 100 deep (subgraphs or types): refused".into();
    }
    let s = s.replace("failed to decode Protobuf message: ", "");
    format!("protobuf decoding failed ({s}); the file is truncated or not ONNX")
}

/// The kind of value well-known attributes must hold, so that a mistyped one is an error rather
/// than silently replaced by its default.
fn expected_kind(name: &str) -> Option<&'static str> {
    Some(match name {
        "strides" | "pads" | "dilations" | "kernel_shape" | "perm" | "output_padding"
        | "output_shape" => "a list of integers",
        "axis" | "group" | "keepdims" | "transA" | "transB" | "ceil_mode" | "to" | "blocksize" => {
            "an integer"
        }
        "alpha" | "beta" | "epsilon" => "a float",
        "auto_pad" => "a string",
        _ => return None,
    })
}

fn kind_of(a: &Attr) -> &'static str {
    match a {
        Attr::Int(_) => "an integer",
        Attr::Ints(_) => "a list of integers",
        Attr::Float(_) => "a float",
        Attr::Floats(_) => "a list of floats",
        Attr::Str(_) => "a string",
        _ => "another kind of value",
    }
}

fn weights_status(g: &Graph) -> WeightsStatus {
    let mut any = false;
    for init in &g.initializers {
        any = true;
        if let TensorData::External { present: false, .. } = init.data {
            return WeightsStatus::Absent;
        }
    }
    if any {
        WeightsStatus::Present
    } else {
        WeightsStatus::None
    }
}

struct Converter {
    resolver: super::external::Resolver,
    opsets: HashMap<String, i64>,
    depth: usize,
    /// The model file, where skipped payloads live.
    model_path: PathBuf,
    /// Main-graph initializer index → (offset, length) of its payload left on disk.
    payloads: HashMap<usize, (u64, u64)>,
}

/// Value names visible from an enclosing graph.
type Scope<'a, 'p> = Option<&'a NameMap<&'p str, ValueId>>;
use crate::graph::ValueId;

impl Converter {
    fn graph<'p>(&mut self, gp: &'p pb::GraphProto, outer: Scope<'_, 'p>) -> Result<Graph> {
        self.depth += 1;
        if self.depth > MAX_GRAPH_DEPTH {
            return Err(Error::Invalid(format!(
                "subgraphs nested deeper than {MAX_GRAPH_DEPTH} levels"
            )));
        }
        let mut g = Graph {
            name: gp.name().to_string(),
            opsets: self.opsets.clone(),
            ..Graph::default()
        };
        // Keys borrow the decoded protobuf's strings: one allocation per value, not two.
        let mut ids: NameMap<&'p str, ValueId> = NameMap::default();
        fn add<'p>(
            g: &mut Graph,
            ids: &mut NameMap<&'p str, ValueId>,
            name: &'p str,
            kind: ValueKind,
        ) -> ValueId {
            let id = g.values.len();
            g.values.push(Value {
                name: name.to_string(),
                kind,
                dtype: None,
                shape: None,
                seq: false,
            });
            ids.insert(name, id);
            id
        }
        for t in &gp.initializer {
            let name = t.name();
            if ids.contains_key(name) {
                return Err(Error::Invalid(format!(
                    "initializer '{name}' is defined twice"
                )));
            }
            let idx = g.initializers.len();
            let id = add(&mut g, &mut ids, name, ValueKind::Initializer(idx));
            let payload = if self.depth == 1 {
                self.payloads.get(&idx).copied()
            } else {
                None
            };
            let init = self.tensor(t, id, payload)?;
            g.values[id].dtype = Some(init.dtype);
            g.values[id].shape = Some(init.dims.iter().map(|&d| Dim::Known(d)).collect());
            g.initializers.push(init);
        }
        for vi in &gp.input {
            // Old exporters list initializers among the inputs too: those are not user inputs.
            if ids.contains_key(vi.name()) {
                continue;
            }
            let id = add(&mut g, &mut ids, vi.name(), ValueKind::Input);
            g.inputs.push(id);
        }
        for (i, n) in gp.node.iter().enumerate() {
            for o in n.output.iter().filter(|o| !o.is_empty()) {
                if ids.contains_key(o.as_str()) {
                    return Err(Error::Invalid(format!(
                        "value '{o}' is produced twice (second time by node '{}')",
                        node_name(n, i)
                    )));
                }
                add(&mut g, &mut ids, o, ValueKind::NodeOutput);
            }
        }
        // Names used but not defined here come from an enclosing graph, or nowhere (an error).
        for (i, n) in gp.node.iter().enumerate() {
            for inp in n.input.iter().filter(|s| !s.is_empty()) {
                if !ids.contains_key(inp.as_str()) {
                    if outer.is_some_and(|o| o.contains_key(inp.as_str())) || self.depth > 1 {
                        add(&mut g, &mut ids, inp, ValueKind::Outer);
                    } else {
                        return Err(Error::Invalid(format!(
                            "node '{}' ({}) uses '{inp}', which no node, input or initializer produces",
                            node_name(n, i),
                            n.op_type()
                        )));
                    }
                }
            }
        }
        for vi in gp.input.iter().chain(&gp.output).chain(&gp.value_info) {
            if let Some(&id) = ids.get(vi.name()) {
                let (dt, shape, seq) = value_type(vi)?;
                let v = &mut g.values[id];
                v.seq |= seq;
                if v.dtype.is_none() {
                    v.dtype = dt;
                }
                if v.shape.is_none() || v.kind == ValueKind::Input {
                    if let Some(mut s) = shape {
                        if v.kind == ValueKind::Input {
                            // Give anonymous dims a name the user can bind.
                            for (ax, d) in s.iter_mut().enumerate() {
                                if matches!(d, Dim::Sym(x) if x.is_empty()) {
                                    *d = Dim::Sym(format!("{}_dim{ax}", vi.name()));
                                }
                            }
                        }
                        v.shape = Some(s);
                    }
                }
            }
        }
        for o in &gp.output {
            match ids.get(o.name()) {
                Some(&id) => g.outputs.push(id),
                None => {
                    return Err(Error::Invalid(format!(
                        "graph output '{}' is never produced",
                        o.name()
                    )))
                }
            }
        }
        // Names visible to subgraphs: built only when a node carries one.
        let mut visible: Option<NameMap<&'p str, ValueId>> = None;
        for (i, n) in gp.node.iter().enumerate() {
            let mut attrs = crate::graph::Attrs::default();
            for a in &n.attribute {
                let vis: Option<&NameMap<&'p str, ValueId>> =
                    if a.g.is_some() || !a.graphs.is_empty() {
                        Some(visible.get_or_insert_with(|| merged_scope(&ids, outer)))
                    } else {
                        None
                    };
                let v = self.attr(a, vis)?;
                // Cast-1 to Cast-5 name the type (`to = "FLOAT"`).
                let legacy_cast = n.op_type() == "Cast" && matches!(v, Attr::Str(_));
                if let Some(want) = expected_kind(a.name())
                    .filter(|&k| k != kind_of(&v))
                    .filter(|_| !legacy_cast)
                {
                    return Err(Error::Invalid(format!(
                        "node '{}' ({}): attribute '{}' is {}, expected {want}",
                        node_name(n, i),
                        n.op_type(),
                        a.name(),
                        kind_of(&v)
                    )));
                }
                attrs.insert(a.name().to_string(), v);
            }
            let name = node_name(n, i);
            if n.op_type().is_empty() {
                return Err(Error::Invalid(format!(
                    "node '{name}' has no operator type"
                )));
            }
            let domain = match n.domain() {
                "ai.onnx" => "",
                d => d,
            };
            if !g.opsets.contains_key(domain) && !self.opsets.contains_key(domain) {
                return Err(Error::Invalid(format!(
                    "node '{name}' ({}) is in domain '{domain}', which the model does not import",
                    n.op_type()
                )));
            }
            let scope = node_scope(n, &name);
            let look = |s: &String| {
                if s.is_empty() {
                    None
                } else {
                    ids.get(s.as_str()).copied()
                }
            };
            g.nodes.push(Node {
                name,
                op_type: n.op_type().to_string(),
                domain: domain.to_string(),
                inputs: n.input.iter().map(look).collect(),
                outputs: n.output.iter().map(look).collect(),
                attrs,
                scope,
            });
        }
        self.depth -= 1;
        Ok(g)
    }

    fn tensor(
        &mut self,
        t: &pb::TensorProto,
        value: ValueId,
        payload: Option<(u64, u64)>,
    ) -> Result<Initializer> {
        let name = t.name();
        let mut dims = Vec::with_capacity(t.dims.len());
        for &d in &t.dims {
            if d < 0 {
                return Err(Error::Invalid(format!(
                    "tensor '{name}' has a negative dim ({d})"
                )));
            }
            dims.push(d as u64);
        }
        let dtype = DType::from_onnx(t.data_type());
        let bytes = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .and_then(|n| n.checked_mul(dtype.bits()))
            .map(|b| b.div_ceil(8))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "tensor '{name}' has dims {dims:?} whose size overflows 64 bits"
                ))
            })?;
        let stored = match (payload, &t.raw_data) {
            (Some((_, n)), _) => Some(n),
            (None, Some(raw)) => Some(raw.len() as u64),
            _ => None,
        };
        if let Some(n) = stored.filter(|&n| dtype.bits() > 0 && n != bytes) {
            return Err(Error::Invalid(format!(
                "tensor '{name}' holds {n} bytes but its dims {dims:?} of {dtype} need {bytes}"
            )));
        }
        let external = t.data_location == Some(pb::tensor_proto::DataLocation::External as i32);
        let data = if external {
            let mut location = "";
            let mut offset = 0u64;
            let mut length = None;
            for e in &t.external_data {
                let num = || {
                    e.value().parse::<u64>().map_err(|_| {
                        Error::Invalid(format!(
                            "tensor '{name}': external data {} '{}' is not a number",
                            e.key(),
                            e.value()
                        ))
                    })
                };
                match e.key() {
                    "location" => location = e.value(),
                    "offset" => offset = num()?,
                    "length" => length = Some(num()?),
                    _ => {}
                }
            }
            if length.is_some_and(|l| l != bytes) {
                return Err(Error::Invalid(format!(
                    "tensor '{name}': external data length {} differs from the {bytes} bytes its dims need",
                    length.unwrap_or(0)
                )));
            }
            self.resolver.resolve(name, location, offset, length)?
        } else if let Some((offset, n)) = payload {
            TensorData::External {
                path: self.model_path.clone(),
                offset,
                length: Some(n),
                present: true,
            }
        } else if let Some(raw) = &t.raw_data {
            TensorData::Raw(raw.clone())
        } else if !t.int64_data.is_empty() {
            TensorData::Ints(t.int64_data.clone())
        } else if !t.int32_data.is_empty() {
            TensorData::Ints(t.int32_data.iter().map(|&x| x as i64).collect())
        } else if !t.uint64_data.is_empty() {
            TensorData::Ints(t.uint64_data.iter().map(|&x| x as i64).collect())
        } else if !t.float_data.is_empty() {
            TensorData::Floats(t.float_data.iter().map(|&x| x as f64).collect())
        } else if !t.double_data.is_empty() {
            TensorData::Floats(t.double_data.clone())
        } else {
            TensorData::None
        };
        Ok(Initializer {
            value,
            dtype,
            dims,
            data,
        })
    }

    fn attr<'p>(
        &mut self,
        a: &'p pb::AttributeProto,
        visible: Option<&NameMap<&'p str, ValueId>>,
    ) -> Result<Attr> {
        use pb::attribute_proto::AttributeType as T;
        let ty = a.r#type();
        Ok(match ty {
            T::Int => Attr::Int(a.i()),
            T::Float => Attr::Float(a.f()),
            T::String => Attr::Str(String::from_utf8_lossy(a.s()).into_owned()),
            T::Ints => Attr::Ints(a.ints.clone()),
            T::Floats => Attr::Floats(a.floats.clone()),
            T::Strings => Attr::Strs(
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            T::Tensor => match &a.t {
                Some(t) => Attr::Tensor(Box::new(self.tensor(t, usize::MAX, None)?)),
                None => Attr::Other,
            },
            T::Graph => match &a.g {
                Some(g) => Attr::Graph(Box::new(self.graph(g, visible)?)),
                None => Attr::Other,
            },
            T::TypeProto => match &a.tp {
                Some(tp) => {
                    let (dtype, shape, seq) = type_decl(tp, a.name())?;
                    Attr::Type(crate::graph::TypeDecl {
                        dtype,
                        shape,
                        seq,
                        encoded: prost::Message::encode_to_vec(tp),
                    })
                }
                None => Attr::Other,
            },
            T::Graphs => {
                let mut gs = Vec::new();
                for g in &a.graphs {
                    gs.push(self.graph(g, visible)?);
                }
                Attr::Graphs(gs)
            }
            // Untyped attributes (very old exporters): infer from which field is set.
            T::Undefined => {
                if !a.ints.is_empty() {
                    Attr::Ints(a.ints.clone())
                } else if !a.floats.is_empty() {
                    Attr::Floats(a.floats.clone())
                } else if a.s.is_some() {
                    Attr::Str(String::from_utf8_lossy(a.s()).into_owned())
                } else if a.f.is_some() {
                    Attr::Float(a.f())
                } else if a.i.is_some() {
                    Attr::Int(a.i())
                } else {
                    Attr::Other
                }
            }
            _ => Attr::Other,
        })
    }
}

fn merged_scope<'p>(
    ids: &NameMap<&'p str, ValueId>,
    outer: Scope<'_, 'p>,
) -> NameMap<&'p str, ValueId> {
    let mut m = outer.cloned().unwrap_or_default();
    m.extend(ids.iter().map(|(k, v)| (*k, *v)));
    m
}

fn node_name(n: &pb::NodeProto, i: usize) -> String {
    match n.name() {
        "" => format!("{}_{i}", n.op_type()),
        s => s.to_string(),
    }
}

/// Module path of a node: from the dynamo exporter's `name_scopes` metadata, else from a
/// TorchScript-style name (`/layer1/layer1.0/conv1/Conv` → `layer1 / layer1.0 / conv1`).
fn node_scope(n: &pb::NodeProto, name: &str) -> Vec<String> {
    if let Some(p) = n
        .metadata_props
        .iter()
        .find(|p| p.key() == "pkg.torch.onnx.name_scopes")
    {
        let mut parts: Vec<String> = p
            .value()
            .split(['\'', '"'])
            .skip(1)
            .step_by(2)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        parts.pop(); // the aten op itself
        return parts;
    }
    if name.starts_with('/') {
        let mut parts: Vec<String> = name
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        parts.pop(); // the op name
        return parts;
    }
    Vec::new()
}

/// Element type and declared shape of a value, and whether it is a sequence (of tensors of
/// that type and shape). An optional is read as what it holds. A dim of -1 is read as unknown
/// (some exporters write it for "dynamic"); any other negative dim is an error.
fn value_type(vi: &pb::ValueInfoProto) -> Result<(Option<DType>, Option<Vec<Dim>>, bool)> {
    match vi.r#type.as_ref() {
        Some(t) => type_decl(t, vi.name()),
        None => Ok((None, None, false)),
    }
}

/// [`value_type`] of a type proto; `name` says whose it is in errors.
fn type_decl(t: &pb::TypeProto, name: &str) -> Result<(Option<DType>, Option<Vec<Dim>>, bool)> {
    use pb::tensor_shape_proto::dimension::Value as D;
    use pb::type_proto::Value as V;
    let mut ty = t.value.as_ref();
    let mut seq = false;
    // Bounded: a file cannot nest deeper than the protobuf decoder's recursion limit.
    loop {
        match ty {
            Some(V::OptionalType(o)) => {
                ty = o.elem_type.as_ref().and_then(|t| t.value.as_ref());
            }
            Some(V::SequenceType(s)) if !seq => {
                seq = true;
                ty = s.elem_type.as_ref().and_then(|t| t.value.as_ref());
            }
            _ => break,
        }
    }
    // A map (the `ai.onnx.ml` operators' dictionaries) is read as a 1-D tensor of its
    // values, its number of entries a dim like any other.
    if let Some(V::MapType(m)) = ty {
        let value = m.value_type.as_ref().and_then(|t| t.value.as_ref());
        let dt = match value {
            Some(V::TensorType(t)) => t.elem_type.filter(|&c| c != 0).map(DType::from_onnx),
            _ => None,
        };
        return Ok((dt, Some(vec![Dim::Sym(String::new())]), seq));
    }
    let Some(V::TensorType(t)) = ty else {
        return Ok((None, None, seq));
    };
    let dt = t.elem_type.filter(|&c| c != 0).map(DType::from_onnx);
    let shape = match t.shape.as_ref() {
        None => None,
        Some(s) => Some(
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(D::DimValue(v)) if *v >= 0 => Ok(Dim::Known(*v as u64)),
                    Some(D::DimValue(v)) if *v < -1 => Err(Error::Invalid(format!(
                        "value '{name}' is declared with a negative dim ({v})"
                    ))),
                    Some(D::DimParam(p)) => Ok(Dim::Sym(p.clone())),
                    _ => Ok(Dim::Sym(String::new())),
                })
                .collect::<Result<_>>()?,
        ),
    };
    Ok((dt, shape, seq))
}
