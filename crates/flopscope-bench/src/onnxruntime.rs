//! ONNX Runtime through the `ort` crate, loaded at run time from a shared library: from
//! `--ort-lib PATH`, `ORT_DYLIB_PATH`, or the `onnxruntime` Python package's `capi/` folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session as OrtSession, SessionInputValue};
use ort::value::{DynTensor, Tensor};

use super::{InputSpec, Runtime, Session};
use flopscope_core::error::{Error, Result};

/// ONNX Runtime as a [`Runtime`], with all graph optimizations and `threads` intra-op threads.
pub struct OnnxRuntime {
    threads: usize,
}

/// The process's ONNX Runtime environment (one per process), and the library's version.
static ENV: OnceLock<std::result::Result<(ort::environment::Environment, String), String>> =
    OnceLock::new();

/// Finds the ONNX Runtime shared library: an explicit path, `ORT_DYLIB_PATH`, or the
/// `onnxruntime` Python package's `capi/` folder.
pub fn find_library(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return Some(PathBuf::from(p));
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let dir = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join("capi");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libonnxruntime.so")
                    || n.starts_with("libonnxruntime.") && n.ends_with(".dylib")
                    || n == "onnxruntime.dll"
            })
        })
        .collect();
    libs.sort();
    libs.pop()
}

fn ort_err(e: impl std::fmt::Display) -> Error {
    Error::Runtime(format!(
        "onnxruntime: {}",
        e.to_string().replace('\n', "; ")
    ))
}

impl OnnxRuntime {
    /// Loads the library (once per process) and returns the runtime, or why it is unavailable.
    pub fn new(library: Option<&Path>, threads: usize) -> Result<OnnxRuntime> {
        let env = ENV.get_or_init(|| {
            let lib = find_library(library).ok_or("no ONNX Runtime library found (give --ort-lib PATH, set ORT_DYLIB_PATH, or pip install onnxruntime)")?;
            let builder = ort::init_from(&lib).map_err(|e| format!("cannot load {}: {e}", lib.display()))?;
            let env = builder.with_name("flopscope").build().map_err(|e| e.to_string())?;
            // "ORT Build Info: git-branch=rel-1.32.0, …" → 1.32.0
            let info = ort::info();
            let version = info
                .split("rel-")
                .nth(1)
                .and_then(|v| v.split([',', ' ']).next())
                .map(str::to_string)
                .unwrap_or_else(|| lib.file_name().map(|n| n.to_string_lossy().trim_start_matches("libonnxruntime.so.").to_string()).unwrap_or_default());
            Ok((env, version))
        });
        match env {
            Ok(_) => Ok(OnnxRuntime {
                threads: threads.max(1),
            }),
            Err(why) => Err(Error::Runtime(format!("onnxruntime: {why}"))),
        }
    }
}

struct OrtRun {
    session: OrtSession,
    inputs: Vec<(String, DynTensor)>,
    model: PathBuf,
    threads: usize,
}

fn input_tensor(spec: &InputSpec, seed: u64) -> Result<DynTensor> {
    let shape: Vec<i64> = spec.shape.iter().map(|&d| d as i64).collect();
    Ok(match super::input_data(spec, seed)? {
        super::InputData::F32(v) => Tensor::from_array((shape, v)).map_err(ort_err)?.upcast(),
        super::InputData::I64(v) => Tensor::from_array((shape, v)).map_err(ort_err)?.upcast(),
        super::InputData::I32(v) => Tensor::from_array((shape, v)).map_err(ort_err)?.upcast(),
        super::InputData::Bool(v) => Tensor::from_array((shape, v)).map_err(ort_err)?.upcast(),
    })
}

impl Runtime for OnnxRuntime {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn version(&self) -> String {
        match ENV.get() {
            Some(Ok((_, v))) => v.clone(),
            _ => String::new(),
        }
    }

    fn threads(&self) -> usize {
        self.threads
    }

    fn load(&self, model: &Path, inputs: &[InputSpec], seed: u64) -> Result<Box<dyn Session>> {
        let Some(Ok((env, _))) = ENV.get() else {
            return Err(Error::Runtime("onnxruntime: not initialised".into()));
        };
        let mut builder = OrtSession::builder(env)
            .map_err(ort_err)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(ort_err)?
            .with_intra_threads(self.threads)
            .map_err(ort_err)?;
        let session = builder.commit_from_file(model).map_err(ort_err)?;
        let inputs = inputs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Ok((
                    s.name.clone(),
                    input_tensor(s, seed.wrapping_add(i as u64 * 7919))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(OrtRun {
            session,
            inputs,
            model: model.to_path_buf(),
            threads: self.threads,
        }))
    }
}

fn feed(inputs: &[(String, DynTensor)]) -> Vec<(std::borrow::Cow<'_, str>, SessionInputValue<'_>)> {
    inputs
        .iter()
        .map(|(n, t)| {
            (
                std::borrow::Cow::from(n.as_str()),
                SessionInputValue::from(t),
            )
        })
        .collect()
}

impl Session for OrtRun {
    fn run(&mut self) -> Result<()> {
        self.session.run(feed(&self.inputs)).map_err(ort_err)?;
        Ok(())
    }

    fn outputs(&mut self) -> Result<Vec<Vec<f32>>> {
        let outs = self.session.run(feed(&self.inputs)).map_err(ort_err)?;
        outs.values()
            .map(|v| {
                if let Ok((_, x)) = v.try_extract_tensor::<f32>() {
                    return Ok(x.to_vec());
                }
                if let Ok((_, x)) = v.try_extract_tensor::<i64>() {
                    return Ok(x.iter().map(|&i| i as f32).collect());
                }
                Err(Error::Runtime(format!(
                    "onnxruntime: an output of type {:?} is not compared",
                    v.dtype()
                )))
            })
            .collect()
    }

    fn profile_layers(&mut self, runs: usize) -> Result<Vec<Vec<(String, f64)>>> {
        // ONNX Runtime's profiler, with graph optimizations off so that each event is one ONNX
        // node: a Chrome trace whose `Node` events `<name>_kernel_time` carry `dur` (µs).
        let Some(Ok((env, _))) = ENV.get() else {
            return Err(Error::Runtime("onnxruntime: not initialised".into()));
        };
        let dir =
            std::env::temp_dir().join(format!("flopscope-ort-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
            path: dir.clone(),
            source,
        })?;
        let mut session = OrtSession::builder(env)
            .map_err(ort_err)?
            .with_optimization_level(GraphOptimizationLevel::Disable)
            .map_err(ort_err)?
            .with_intra_threads(self.threads)
            .map_err(ort_err)?
            .with_profiling(dir.join("profile"))
            .map_err(ort_err)?
            .commit_from_file(&self.model)
            .map_err(ort_err)?;
        for _ in 0..runs {
            session.run(feed(&self.inputs)).map_err(ort_err)?;
        }
        let file = PathBuf::from(session.end_profiling().map_err(ort_err)?);
        let text = std::fs::read_to_string(&file);
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir_all(&dir);
        let text = text.map_err(|source| Error::Io {
            path: file.clone(),
            source,
        })?;
        let events: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Runtime(format!("onnxruntime: unreadable profile: {e}")))?;
        let mut per_node: Vec<(String, f64)> = Vec::new();
        for e in events.as_array().into_iter().flatten() {
            let (Some("Node"), Some(name), Some(dur)) =
                (e["cat"].as_str(), e["name"].as_str(), e["dur"].as_f64())
            else {
                continue;
            };
            if let Some(node) = name.strip_suffix("_kernel_time") {
                per_node.push((node.to_string(), dur / 1e3 / runs.max(1) as f64));
            }
        }
        Ok(vec![per_node])
    }
}
