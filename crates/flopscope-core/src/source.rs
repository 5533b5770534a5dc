//! One way in for every front-end: a [`Source`] (path, bytes, built-in name) becomes a graph
//! or, for an LLM checkpoint, a profile read from its headers.

use std::path::Path;

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::options::Options;
use crate::profile::profile_graph;
use crate::schema::{ModelInfo, Profile, WeightsStatus};
use crate::{llm, load, zoo};

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
    /// The bytes of a model file: ONNX, or a single-file GGUF or safetensors checkpoint (told
    /// apart by their first bytes). It has no folder: an ONNX model's external data is absent,
    /// and a safetensors file has no `config.json` beside it.
    Bytes {
        /// The model.
        bytes: &'a [u8],
        /// What errors and the profile call it.
        name: &'a str,
    },
    /// A built-in architecture by name (`resnet18`; [`zoo::entries`] lists them).
    Zoo(&'a str),
    /// An ONNX model's structure read without its weights ([`load::read_skeleton`]: a remote
    /// file read with range requests). It has no folder: its external data is absent.
    Skeleton {
        /// The model's structure.
        skeleton: &'a load::Skeleton,
        /// What errors and the profile call it.
        name: &'a str,
    },
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
    match *source {
        Source::Path(path) if llm::is_checkpoint(path) => return llm::profile(path, opts),
        Source::Bytes { bytes, name } if !load::is_trace(bytes) => {
            if let Some(p) = llm::profile_bytes(bytes, name, opts) {
                return p;
            }
        }
        _ => {}
    }
    let (g, info) = open(source, opts)?;
    profile_graph(&g, info, opts)
}

/// Profiles a model file held in memory (ONNX, GGUF or safetensors; see [`Source::Bytes`]).
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
pub fn open(source: &Source<'_>, opts: &Options) -> Result<(Graph, ModelInfo)> {
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
            let name = path.display().to_string();
            match read_trace(path)? {
                Some(bytes) => (load::load_trace(&bytes, &name)?, name),
                None => (load::load_onnx(path)?, name),
            }
        }
        Source::Bytes { bytes, name } if load::is_trace(bytes) => {
            (load::load_trace(bytes, name)?, name.to_string())
        }
        Source::Bytes { bytes, name } => (load::load_onnx_bytes(bytes, name)?, name.to_string()),
        Source::Skeleton { skeleton, name } => {
            (load::load_onnx_skeleton(skeleton, name)?, name.to_string())
        }
    };
    let (m, source) = loaded;
    let info = ModelInfo {
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

/// The bytes of `path` when it is a `flopscope.trace/1` document (told by its first bytes).
pub fn read_trace(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.is_file() || path.extension().and_then(|e| e.to_str()) != Some("json") {
        return Ok(None);
    }
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::new();
    (&mut f).take(256).read_to_end(&mut head).map_err(io)?;
    if !load::is_trace(&head) {
        return Ok(None);
    }
    f.read_to_end(&mut head).map_err(io)?;
    Ok(Some(head))
}

/// The graph of a file path or built-in architecture name, and facts about it.
pub fn open_source(spec: &str, opts: &Options) -> Result<(Graph, ModelInfo)> {
    open(&Source::parse(spec), opts)
}

fn open_zoo(name: &str, opts: &Options) -> Result<(Graph, ModelInfo)> {
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
    let info = ModelInfo {
        source: name.to_string(),
        producer: format!("flopscope zoo ({entry} definition)"),
        ir_version: 0,
        opset: g.opset(),
        nodes: g.nodes.len(),
        weights: WeightsStatus::Builtin,
        file_bytes: 0,
    };
    Ok((g, info))
}
