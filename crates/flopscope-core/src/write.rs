//! Writes any [`Graph`] (loaded or built) back as an ONNX model.
//!
//! Weights: kept from the source, synthesized (seeded, scaled like PyTorch's default
//! initialisation so activations stay finite), or left out (graph-only file, the weights
//! declared as external data that is not there, like the shared test exports).

use std::path::Path;

use bytes::Bytes;
use prost::Message;

use crate::error::{Error, Result};
use crate::graph::{Attr, DType, Dim, Graph, Initializer, TensorData};
use crate::onnx_pb as pb;

/// What to do with weight bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// Deterministic random weights from this seed (missing ones only, unless `force`).
    Random(u64),
    /// No weight bytes: a graph-only model.
    None,
}

/// Above this many weight bytes, weights go to `<file>.data` (protobuf caps messages at 2 GiB).
const EMBED_LIMIT: u64 = 1 << 30;

/// A small, fast, seedable generator (xorshift64*): reproducible weights without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [-1, 1).
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40; // 24 bits
        (v as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// Values for a float tensor without data, chosen by its role (read from its name and shape):
/// running variances and norm scales 1, biases and running means 0, and weights uniform in
/// ±1/√fan_in (PyTorch's default for Linear and Conv), embeddings ±0.02·√3.
fn synth(name: &str, dims: &[u64], seed: u64) -> Vec<f32> {
    let n: u64 = dims.iter().product();
    let lower = name.to_ascii_lowercase();
    let constant = |v: f32| vec![v; n as usize];
    if lower.ends_with("running_var") {
        return constant(1.0);
    }
    if lower.ends_with("running_mean") || lower.ends_with("bias") || lower.ends_with("beta") {
        return constant(0.0);
    }
    if dims.len() <= 1 {
        // A 1-D weight is a normalisation scale.
        return constant(1.0);
    }
    let scale = if lower.contains("embed")
        || lower.contains("wte")
        || lower.contains("wpe")
        || lower.contains("token")
    {
        0.02 * 3f32.sqrt()
    } else {
        let fan_in: u64 = dims[1..].iter().product::<u64>().max(1);
        // Weights stored [in, out] for MatMul: fan-in is the first dim there.
        let fan_in = if dims.len() == 2 {
            dims[0].max(1)
        } else {
            fan_in
        };
        1.0 / (fan_in as f32).sqrt()
    };
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next() * scale).collect()
}

fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    let man = b & 0x7f_ffff;
    if exp <= 0 {
        sign
    } else if exp >= 31 {
        sign | 0x7c00
    } else {
        sign | ((exp as u16) << 10) | (man >> 13) as u16
    }
}

fn dims_proto(dims: &[Dim]) -> pb::TensorShapeProto {
    use pb::tensor_shape_proto::{dimension::Value as D, Dimension};
    pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| Dimension {
                value: Some(match d {
                    Dim::Known(n) => D::DimValue(*n as i64),
                    Dim::Sym(s) => D::DimParam(s.clone()),
                }),
                denotation: None,
            })
            .collect(),
    }
}

fn value_info(name: &str, dtype: Option<DType>, dims: Option<&[Dim]>) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: Some(dtype.unwrap_or(DType::F32).to_onnx()),
                shape: dims.map(dims_proto),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

/// Where large payloads go when weights are written outside the model file: the data file's
/// name (as the model refers to it), a writer, and the offset reached.
pub struct DataFile<'a> {
    name: String,
    out: &'a mut dyn std::io::Write,
    offset: u64,
}

/// Writes tensors, streaming large payloads to the data file when there is one.
struct Tensors<'a> {
    weights: Weights,
    external: Option<DataFile<'a>>,
    missing: bool,
}

impl Tensors<'_> {
    fn tensor(&mut self, name: &str, init: &Initializer, index: u64) -> Result<pb::TensorProto> {
        let mut t = pb::TensorProto {
            name: Some(name.to_string()),
            data_type: Some(init.dtype.to_onnx()),
            dims: init.dims.iter().map(|&d| d as i64).collect(),
            ..Default::default()
        };
        let n: u64 = init.dims.iter().product();
        let raw: Option<Vec<u8>> = match (&init.data, self.weights) {
            (TensorData::Ints(v), _) => {
                let mut b = Vec::with_capacity(v.len() * 8);
                match init.dtype {
                    DType::I32 => v
                        .iter()
                        .for_each(|x| b.extend_from_slice(&(*x as i32).to_le_bytes())),
                    DType::Bool | DType::U8 | DType::I8 => v.iter().for_each(|x| b.push(*x as u8)),
                    _ => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
                }
                Some(b)
            }
            (TensorData::Floats(v), _) if init.dtype == DType::F32 => {
                Some(v.iter().flat_map(|x| (*x as f32).to_le_bytes()).collect())
            }
            (TensorData::Raw(b), _) => Some(b.to_vec()),
            (
                TensorData::External {
                    path,
                    offset,
                    length,
                    present: true,
                },
                _,
            ) => {
                let len = length.unwrap_or(n * init.dtype.bits() / 8);
                let mut buf = vec![0u8; len as usize];
                use std::io::{Read, Seek, SeekFrom};
                let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                f.seek(SeekFrom::Start(*offset))
                    .and_then(|_| f.read_exact(&mut buf))
                    .map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                Some(buf)
            }
            (_, Weights::None) => None,
            (_, Weights::Random(seed)) => {
                let seed = seed ^ index.wrapping_mul(0x100_0000_01B3);
                let vals = synth(name, &init.dims, seed);
                Some(match init.dtype {
                    DType::F32 => vals.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    DType::F64 => vals
                        .iter()
                        .flat_map(|x| (*x as f64).to_le_bytes())
                        .collect(),
                    DType::F16 => vals
                        .iter()
                        .flat_map(|x| f32_to_f16(*x).to_le_bytes())
                        .collect(),
                    d if d.is_int_like() => vec![0u8; (n * d.bits() / 8) as usize],
                    d => {
                        return Err(Error::Unsupported(format!(
                            "random weights of type {d} (tensor '{name}')"
                        )))
                    }
                })
            }
        };
        match raw {
            Some(bytes) => match &mut self.external {
                Some(data) if bytes.len() >= 1024 => {
                    let kv = |k: &str, v: String| pb::StringStringEntryProto {
                        key: Some(k.into()),
                        value: Some(v),
                    };
                    t.external_data = vec![
                        kv("location", data.name.clone()),
                        kv("offset", data.offset.to_string()),
                        kv("length", bytes.len().to_string()),
                    ];
                    t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
                    data.out.write_all(&bytes).map_err(|source| Error::Write {
                        path: data.name.clone().into(),
                        source,
                    })?;
                    data.offset += bytes.len() as u64;
                }
                _ => t.raw_data = Some(Bytes::from(bytes)),
            },
            None => {
                // Graph-only: declare the bytes external, in a file that is deliberately absent.
                self.missing = true;
                let kv = |k: &str, v: String| pb::StringStringEntryProto {
                    key: Some(k.into()),
                    value: Some(v),
                };
                t.external_data = vec![kv("location", "weights-not-included.data".into())];
                t.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
            }
        }
        Ok(t)
    }
}

fn attr_proto(name: &str, a: &Attr, tensors: &mut Tensors) -> Result<Option<pb::AttributeProto>> {
    use pb::attribute_proto::AttributeType as T;
    let mut p = pb::AttributeProto {
        name: Some(name.to_string()),
        ..Default::default()
    };
    let ty = match a {
        Attr::Int(v) => {
            p.i = Some(*v);
            T::Int
        }
        Attr::Float(v) => {
            p.f = Some(*v);
            T::Float
        }
        Attr::Str(s) => {
            p.s = Some(Bytes::from(s.clone().into_bytes()));
            T::String
        }
        Attr::Ints(v) => {
            p.ints = v.clone();
            T::Ints
        }
        Attr::Floats(v) => {
            p.floats = v.clone();
            T::Floats
        }
        Attr::Strs(v) => {
            p.strings = v
                .iter()
                .map(|s| Bytes::from(s.clone().into_bytes()))
                .collect();
            T::Strings
        }
        Attr::Tensor(t) => {
            p.t = Some(tensors.tensor(name, t, 0)?);
            T::Tensor
        }
        Attr::Graph(g) => {
            p.g = Some(graph_proto(g, tensors)?);
            T::Graph
        }
        Attr::Graphs(gs) => {
            p.graphs = gs
                .iter()
                .map(|g| graph_proto(g, tensors))
                .collect::<Result<_>>()?;
            T::Graphs
        }
        Attr::Type(t) => {
            p.tp = Some(
                pb::TypeProto::decode(t.encoded.as_slice())
                    .map_err(|e| Error::Invalid(format!("attribute '{name}': {e}")))?,
            );
            T::TypeProto
        }
        Attr::Other => return Ok(None),
    };
    p.r#type = Some(ty as i32);
    Ok(Some(p))
}

fn graph_proto(g: &Graph, tensors: &mut Tensors) -> Result<pb::GraphProto> {
    let name = |v: usize| g.values[v].name.clone();
    let mut gp = pb::GraphProto {
        name: Some(g.name.clone()),
        ..Default::default()
    };
    for (i, init) in g.initializers.iter().enumerate() {
        gp.initializer
            .push(tensors.tensor(&name(init.value), init, i as u64 + 1)?);
    }
    for &v in &g.inputs {
        let val = &g.values[v];
        gp.input
            .push(value_info(&val.name, val.dtype, val.shape.as_deref()));
    }
    for &v in &g.outputs {
        let val = &g.values[v];
        gp.output
            .push(value_info(&val.name, val.dtype, val.shape.as_deref()));
    }
    for n in &g.nodes {
        let mut attrs: Vec<(&String, &Attr)> = n.attrs.iter().collect();
        attrs.sort_by(|a, b| a.0.cmp(b.0)); // deterministic files
        let mut attribute = Vec::with_capacity(attrs.len());
        for (k, a) in attrs {
            attribute.extend(attr_proto(k, a, tensors)?);
        }
        let names =
            |vs: &[Option<usize>]| vs.iter().map(|v| v.map(name).unwrap_or_default()).collect();
        gp.node.push(pb::NodeProto {
            name: Some(n.name.clone()),
            op_type: Some(n.op_type.clone()),
            domain: (!n.domain.is_empty()).then(|| n.domain.clone()),
            input: names(&n.inputs),
            output: names(&n.outputs),
            attribute,
            ..Default::default()
        });
    }
    Ok(gp)
}

/// The ONNX model of a graph; with `data`, payloads of 1 KiB or more are streamed there and
/// referred to as external data.
pub fn to_model(g: &Graph, weights: Weights, data: Option<DataFile<'_>>) -> Result<pb::ModelProto> {
    let mut tensors = Tensors {
        weights,
        external: data,
        missing: false,
    };
    let graph = graph_proto(g, &mut tensors)?;
    let mut opsets: Vec<(&String, &i64)> = g.opsets.iter().collect();
    opsets.sort();
    Ok(pb::ModelProto {
        ir_version: Some(8),
        producer_name: Some("flopscope".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        opset_import: opsets
            .into_iter()
            .map(|(d, v)| pb::OperatorSetIdProto {
                domain: Some(d.clone()),
                version: Some(*v),
            })
            .collect(),
        graph: Some(graph),
        ..Default::default()
    })
}

/// Writes `g` to `path`; weights too large to embed (protobuf's 2 GiB limit) are streamed to
/// `path.data` next to it, so memory stays that of the largest tensor.
pub fn write_onnx(g: &Graph, path: &Path, weights: Weights) -> Result<()> {
    write_onnx_split(g, path, weights, EMBED_LIMIT)
}

/// As [`write_onnx`], with weights going to `path.data` once they exceed `embed_limit` bytes.
pub fn write_onnx_split(g: &Graph, path: &Path, weights: Weights, embed_limit: u64) -> Result<()> {
    if g.traced {
        // Its PyTorch operators (the `aten` domain) are not ONNX: no runtime could load it.
        return Err(crate::error::Error::Usage(
            "a traced PyTorch module is not an ONNX model: export the module with \
             torch.onnx.export, or time it with flopscope.bench in Python"
                .into(),
        ));
    }
    let weight_bytes: u64 = g
        .initializers
        .iter()
        .map(|i| {
            i.dims
                .iter()
                .product::<u64>()
                .saturating_mul(i.dtype.bits())
                / 8
        })
        .sum();
    let werr = |p: &Path| {
        let p = p.to_path_buf();
        move |source| Error::Write { path: p, source }
    };
    let model = if weight_bytes > embed_limit && weights != Weights::None {
        let name = format!(
            "{}.data",
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let dp = path.with_file_name(&name);
        let file = std::fs::File::create(&dp).map_err(werr(&dp))?;
        let mut out = std::io::BufWriter::new(file);
        let model = to_model(
            g,
            weights,
            Some(DataFile {
                name,
                out: &mut out,
                offset: 0,
            }),
        )?;
        std::io::Write::flush(&mut out).map_err(werr(&dp))?;
        model
    } else {
        to_model(g, weights, None)?
    };
    std::fs::write(path, model.encode_to_vec()).map_err(werr(path))
}
