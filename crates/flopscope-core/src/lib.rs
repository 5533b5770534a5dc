//! flopscope: parameters, MACs, FLOPs and memory of neural networks, layer by layer.
//!
//! This crate is the analysis alone: a [`Source`] (path, bytes, built-in name) → load (ONNX →
//! [`graph::Graph`]) → shapes and costs ([`infer`], one rule per operator in [`ops`]) →
//! [`profile::Profile`], the schema every renderer reads. Nothing here runs a model or draws a
//! chart (that is `flopscope-bench` and `flopscope-report`). Every formula is written in
//! `docs/counting.md`.
//!
//! ```
//! let p = flopscope_core::profile_source("resnet18", &flopscope_core::Options::default())?;
//! assert_eq!(p.totals.macs, 1_814_073_344);
//! # Ok::<(), flopscope_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod builder;
pub mod control;
pub mod error;
pub mod format;
pub mod formula;
pub mod graph;
pub mod infer;
pub mod llm;
pub mod load;
pub mod machine;
pub mod ops;
pub mod profile;
pub mod roofline;
pub mod write;
pub mod zoo;

/// Types generated from the vendored `onnx.proto` (ONNX 1.23, Apache-2.0) by
/// `cargo run -p onnx-codegen`, committed so that building the core needs no protobuf compiler.
#[allow(missing_docs, clippy::all)]
pub mod onnx_pb {
    include!("onnx_pb/onnx.rs");
}

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub use error::{Error, Result};
use graph::{Dim, Graph};
pub use profile::Profile;

/// What to analyse: sizes for symbolic dims and explicit input shapes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--dim name=N`: a size for a named symbolic dim.
    pub dims: Vec<(String, u64)>,
    /// `--input [name=]AxBxC`: a full shape for an input (the only input when unnamed).
    pub inputs: Vec<(Option<String>, Vec<u64>)>,
    /// `--classes N`: classifier outputs of a built-in image model.
    pub classes: Option<u64>,
}

/// Where a model comes from: one way in for every front-end.
///
/// ```
/// use flopscope_core::{profile, Options, Source};
/// let p = profile(&Source::Zoo("resnet18"), &Options::default())?;
/// assert_eq!(p.totals.params, 11_689_512); // torchvision's figure
/// # Ok::<(), flopscope_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Source<'a> {
    /// A file or folder: ONNX, safetensors (a file, its index, or a checkpoint folder), GGUF.
    Path(&'a Path),
    /// The bytes of an ONNX model. It has no folder, so its external data is absent.
    Bytes {
        /// The model.
        bytes: &'a [u8],
        /// What errors and the profile call it.
        name: &'a str,
    },
    /// A built-in architecture by name (`resnet18`; [`zoo::entries`] lists them).
    Zoo(&'a str),
}

impl<'a> Source<'a> {
    /// Reads a command-line argument: an existing path, else a built-in name, else a path
    /// (which then fails to open with the reason).
    pub fn parse(spec: &'a str) -> Source<'a> {
        let path = Path::new(spec);
        if !path.exists() && zoo::contains(spec) {
            Source::Zoo(spec)
        } else {
            Source::Path(path)
        }
    }
}

/// Profiles a model from any [`Source`].
pub fn profile(source: &Source<'_>, opts: &Options) -> Result<Profile> {
    if let Source::Path(path) = source {
        if llm::is_checkpoint(path) {
            return llm::profile(path, opts);
        }
    }
    let (g, info) = open(source, opts)?;
    profile_graph(&g, info, opts)
}

/// Profiles an ONNX model held in memory.
///
/// ```
/// # let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
/// #     "/../../tests/data/models/resnet18.onnx")).unwrap();
/// let p = flopscope_core::profile_bytes(&bytes, &flopscope_core::Options::default())?;
/// assert_eq!(p.totals.macs, 1_814_073_344);
/// # Ok::<(), flopscope_core::Error>(())
/// ```
pub fn profile_bytes(bytes: &[u8], opts: &Options) -> Result<Profile> {
    profile(
        &Source::Bytes {
            bytes,
            name: "<bytes>",
        },
        opts,
    )
}

/// Profiles a model file (ONNX, or an LLM checkpoint's headers).
///
/// ```no_run
/// let p = flopscope_core::profile_path("resnet18.onnx".as_ref(), &Default::default())?;
/// println!("{} params, {} MACs", p.totals.params, p.totals.macs);
/// # Ok::<(), flopscope_core::Error>(())
/// ```
pub fn profile_path(path: &Path, opts: &Options) -> Result<Profile> {
    profile(&Source::Path(path), opts)
}

/// Profiles a file path or a built-in architecture name, as the command line takes them.
pub fn profile_source(spec: &str, opts: &Options) -> Result<Profile> {
    profile(&Source::parse(spec), opts)
}

/// The graph of a source and facts about it (not for LLM checkpoints, which have no graph).
///
/// For a built-in image model, an `--input` of rank 4 also sets the resolution it is built at.
pub fn open(source: &Source<'_>, opts: &Options) -> Result<(Graph, profile::ModelInfo)> {
    let loaded = match *source {
        Source::Zoo(name) => return open_zoo(name, opts),
        Source::Path(path) => {
            if !path.exists() && path.extension().is_none() {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no such file, and no built-in model of that name (`flopscope zoo` lists them)",
                    ),
                });
            }
            (load::load_onnx(path)?, path.display().to_string())
        }
        Source::Bytes { bytes, name } => (load::load_onnx_bytes(bytes, name)?, name.to_string()),
    };
    let (m, source) = loaded;
    let info = profile::ModelInfo {
        source,
        producer: m.producer.clone(),
        ir_version: m.ir_version,
        opset: m.graph.opset(),
        nodes: m.graph.nodes.len(),
        weights: m.weights,
        file_bytes: m.file_bytes,
    };
    Ok((m.graph, info))
}

/// The graph of a file path or built-in architecture name, and facts about it.
pub fn open_source(spec: &str, opts: &Options) -> Result<(Graph, profile::ModelInfo)> {
    open(&Source::parse(spec), opts)
}

fn open_zoo(name: &str, opts: &Options) -> Result<(Graph, profile::ModelInfo)> {
    let mut zo = zoo::ZooOptions::default();
    if let Some((_, s)) = opts.inputs.first().filter(|(_, s)| s.len() == 4) {
        zo.resolution = (s[2], s[3]);
    }
    if let Some(c) = opts.classes {
        zo.num_classes = c;
    }
    let g = zoo::build(name, &zo)?;
    let entry = zoo::entries()
        .iter()
        .find(|e| e.name == name)
        .map(|e| e.source)
        .unwrap_or("");
    let info = profile::ModelInfo {
        source: name.to_string(),
        producer: format!("flopscope zoo ({entry} definition)"),
        ir_version: 0,
        opset: g.opset(),
        nodes: g.nodes.len(),
        weights: load::WeightsStatus::Builtin,
        file_bytes: 0,
    };
    Ok((g, info))
}

/// Profiles a graph (loaded or built).
pub fn profile_graph(g: &Graph, model: profile::ModelInfo, opts: &Options) -> Result<Profile> {
    let symbols = g.input_symbols();
    let mut bindings: HashMap<String, u64> = HashMap::new();
    let mut shapes: HashMap<graph::ValueId, Vec<u64>> = HashMap::new();
    for (name, shape) in &opts.inputs {
        let id = match name {
            Some(n) => *g
                .inputs
                .iter()
                .find(|&&v| &g.values[v].name == n)
                .ok_or_else(|| {
                    Error::Usage(format!("no input named '{n}' (inputs: {})", input_names(g)))
                })?,
            None if g.inputs.len() == 1 => g.inputs[0],
            None => {
                return Err(Error::Usage(format!(
                    "the model has several inputs: name one as --input NAME=AxB (inputs: {})",
                    input_names(g)
                )))
            }
        };
        let v = &g.values[id];
        if let Some(decl) = &v.shape {
            if decl.len() != shape.len() {
                return Err(Error::Usage(format!(
                    "input '{}' has rank {} ({}), got {} dims",
                    v.name,
                    decl.len(),
                    decl.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("x"),
                    shape.len()
                )));
            }
            for (d, &s) in decl.iter().zip(shape) {
                if let Dim::Sym(sym) = d {
                    if let Some(prev) = bindings.insert(sym.clone(), s) {
                        if prev != s {
                            return Err(Error::Usage(format!(
                                "dim '{sym}' is given as {prev} and {s}"
                            )));
                        }
                    }
                }
            }
        }
        shapes.insert(id, shape.clone());
    }
    for (name, n) in &opts.dims {
        if !symbols.contains(name) {
            return Err(Error::Usage(format!(
                "no symbolic dim named '{name}' (the inputs' symbolic dims: {})",
                if symbols.is_empty() {
                    "none".to_string()
                } else {
                    symbols.join(", ")
                }
            )));
        }
        bindings.insert(name.clone(), *n);
    }
    let unbound: Vec<String> = symbols
        .iter()
        .filter(|s| !bindings.contains_key(*s))
        .cloned()
        .collect();
    let mut warnings = Vec::new();
    for s in &unbound {
        bindings.insert(s.clone(), 1);
        warnings.push(format!(
            "dim '{s}' is not bound: using 1 (set it with --dim {s}=N)"
        ));
    }
    let input_shapes = |b: &HashMap<String, u64>| -> HashMap<graph::ValueId, Vec<u64>> {
        let mut m = shapes.clone();
        for &v in &g.inputs {
            if let Some(s) = g.values[v]
                .shape
                .as_deref()
                .and_then(|d| infer::resolve_dims(d, b))
            {
                m.entry(v).or_insert(s);
            }
        }
        m
    };
    let no_outer = |_: &str| None;
    let prepared = infer::Prepared::new(g)?;
    let a = prepared.analyze(&input_shapes(&bindings), &bindings, &no_outer)?;
    let sorted: BTreeMap<String, u64> = bindings.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let mut p = profile::build(g, &a, model.clone(), sorted);
    for &v in &g.inputs {
        if a.tensors[v].is_none() {
            warnings.push(format!(
                "input '{}' has no declared shape: give one with --input {}=AxB",
                g.values[v].name, g.values[v].name
            ));
        }
    }
    if !unbound.is_empty() {
        let eval = |syms: &[String], pt: &[u64]| -> std::result::Result<Vec<u64>, String> {
            let mut b = bindings.clone();
            for (s, &x) in syms.iter().zip(pt) {
                b.insert(s.clone(), x);
            }
            let a = prepared
                .analyze(&input_shapes(&b), &b, &no_outer)
                .map_err(|e| {
                    let at: Vec<String> = syms
                        .iter()
                        .zip(pt)
                        .map(|(s, x)| format!("{s}={x}"))
                        .collect();
                    format!("at {}: {e}", at.join(", "))
                })?;
            profile::cost_sums(g, &a)
                .map(|t| t.to_vec())
                .ok_or_else(|| "some node costs are unknown".to_string())
        };
        // Exporters sometimes bake one dim in (a batch of 1): then fit the others alone.
        let mut why = String::new();
        for syms in symbol_subsets(&unbound) {
            match formula::fit(&syms, 5, |pt| eval(&syms, pt)) {
                Ok((mut polys, checked_at)) => {
                    let mut next = || polys.remove(0);
                    p.formulas = Some(profile::Formulas {
                        symbols: syms.clone(),
                        macs: next(),
                        flops: next(),
                        activation_bytes: next(),
                        bytes_read: next(),
                        bytes_written: next(),
                        checked_at,
                    });
                    break;
                }
                Err(e) if why.is_empty() => why = e,
                Err(_) => {}
            }
        }
        let fitted = p
            .formulas
            .as_ref()
            .map(|f| f.symbols.clone())
            .unwrap_or_default();
        let left: Vec<&str> = unbound
            .iter()
            .filter(|s| !fitted.contains(s))
            .map(String::as_str)
            .collect();
        if !left.is_empty() {
            warnings.push(format!("no exact formula in {}: {why}", left.join(", ")));
        }
    }
    warnings.append(&mut p.warnings);
    p.warnings = warnings;
    Ok(p)
}

/// All symbols first, then every smaller subset, largest first.
fn symbol_subsets(all: &[String]) -> Vec<Vec<String>> {
    let n = all.len();
    let mut masks: Vec<u32> = (1..(1u32 << n)).collect();
    masks.sort_by_key(|m| std::cmp::Reverse(m.count_ones()));
    masks
        .into_iter()
        .map(|m| {
            (0..n)
                .filter(|i| m & (1 << i) != 0)
                .map(|i| all[i].clone())
                .collect()
        })
        .collect()
}

fn input_names(g: &Graph) -> String {
    g.inputs
        .iter()
        .map(|&v| g.values[v].name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
