//! flopscope: parameters, MACs, FLOPs and memory of neural networks, layer by layer.
//!
//! Pipeline: load (ONNX → [`graph::Graph`]) → shapes and costs ([`infer`], one rule per operator
//! in [`ops`]) → [`profile::Profile`] → exporters ([`export`]). Every formula is written in
//! `docs/counting.md`.
//!
//! ```no_run
//! let p = flopscope::profile_path("resnet18.onnx".as_ref(), &flopscope::Options::default())?;
//! println!("{} params, {} MACs", p.totals.params, p.totals.macs);
//! # Ok::<(), flopscope::Error>(())
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod budget;
pub mod builder;
pub mod chart;
pub mod compare;
pub mod control;
pub mod error;
pub mod export;
pub mod formula;
pub mod graph;
pub mod infer;
pub mod llm;
pub mod load;
pub mod machine;
pub mod ops;
pub mod profile;
pub mod report;
pub mod roofline;
pub mod write;
pub mod zoo;

/// Types generated from the vendored `onnx.proto` (ONNX 1.23, Apache-2.0).
#[allow(missing_docs, clippy::all)]
pub mod onnx_pb {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
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

/// Profiles an ONNX file.
pub fn profile_path(path: &Path, opts: &Options) -> Result<Profile> {
    if llm::is_checkpoint(path) {
        return llm::profile(path, opts);
    }
    let (g, info) = open_file(path)?;
    profile_graph(&g, info, opts)
}

/// The graph of an ONNX file and facts about it.
fn open_file(path: &Path) -> Result<(Graph, profile::ModelInfo)> {
    let m = load::load_onnx(path)?;
    let info = profile::ModelInfo {
        source: path.display().to_string(),
        producer: m.producer.clone(),
        ir_version: m.ir_version,
        opset: m.graph.opset(),
        nodes: m.graph.nodes.len(),
        weights: m.weights,
        file_bytes: m.file_bytes,
    };
    Ok((m.graph, info))
}

/// Profiles a model given as a file path or a built-in architecture name (`resnet18`).
///
/// For a built-in image model, an `--input` of rank 4 also sets the resolution it is built at.
pub fn profile_source(spec: &str, opts: &Options) -> Result<Profile> {
    if llm::is_checkpoint(Path::new(spec)) {
        return llm::profile(Path::new(spec), opts);
    }
    let (g, info) = open_source(spec, opts)?;
    profile_graph(&g, info, opts)
}

/// The graph of a file path or built-in architecture name, and facts about it.
pub fn open_source(spec: &str, opts: &Options) -> Result<(Graph, profile::ModelInfo)> {
    let path = Path::new(spec);
    if !path.exists() && !zoo::contains(spec) && path.extension().is_none() {
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file, and no built-in model of that name (`flopscope zoo` lists them)",
            ),
        });
    }
    if path.exists() || !zoo::contains(spec) {
        return open_file(path);
    }
    let mut zo = zoo::ZooOptions::default();
    if let Some((_, s)) = opts.inputs.first().filter(|(_, s)| s.len() == 4) {
        zo.resolution = (s[2], s[3]);
    }
    if let Some(c) = opts.classes {
        zo.num_classes = c;
    }
    let g = zoo::build(spec, &zo)?;
    let entry = zoo::entries()
        .iter()
        .find(|e| e.name == spec)
        .map(|e| e.source)
        .unwrap_or("");
    let info = profile::ModelInfo {
        source: spec.to_string(),
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
