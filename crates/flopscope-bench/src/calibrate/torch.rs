//! The suite through PyTorch: a Python helper ([`HELPER`], shipped inside the binary) rebuilds
//! each micro-benchmark's ONNX file as a torch module and times it eagerly or compiled, on
//! CUDA when torch sees a GPU.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flopscope_core::error::{Error, Result};
use flopscope_core::predict::Backend;
use flopscope_core::schema::Profile;

use super::{CalibrateOptions, Progress};

/// The helper's source.
const HELPER: &str = include_str!("torch_suite.py");

/// What the helper measured.
pub(crate) struct TorchRun {
    /// `cpu`, or the CUDA device's name.
    pub device: String,
    /// Whether it ran on CUDA.
    pub cuda: bool,
    /// torch's version.
    pub version: String,
    /// Median latency of each file, ms, in order.
    pub times_ms: Vec<f64>,
}

/// Times `files` (name, path, profile) through torch (`o.backend`: eager or compiled).
pub(crate) fn time_suite(
    o: &CalibrateOptions,
    files: &[(String, PathBuf, Profile)],
    dir: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<TorchRun> {
    let script = dir.join("torch_suite.py");
    std::fs::write(&script, HELPER).map_err(|source| Error::Write {
        path: script.clone(),
        source,
    })?;
    let python = o.python.clone().unwrap_or_else(|| PathBuf::from("python3"));
    let request = serde_json::json!({
        "files": files.iter().map(|(_, p, _)| p).collect::<Vec<_>>(),
        "threads": o.threads,
        "seconds": o.seconds_per_model,
        "compile": o.backend == Backend::TorchCompile,
    });
    let fail = |why: String| Error::Runtime(format!("torch: {why}"));
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", python.display())))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request.to_string().as_bytes())
            .map_err(|e| fail(format!("cannot talk to the helper: {e}")))?;
    }
    // Progress lines `<done> <total> <file>`; anything else is kept for the error message.
    let mut other = Vec::new();
    if let Some(err) = child.stderr.take() {
        for line in std::io::BufReader::new(err).lines().map_while(|l| l.ok()) {
            let mut parts = line.splitn(3, ' ');
            match (
                parts.next().and_then(|s| s.parse::<usize>().ok()),
                parts.next().and_then(|s| s.parse::<usize>().ok()),
            ) {
                (Some(done), Some(total)) if done < files.len() => progress(Progress::Measuring {
                    done,
                    total,
                    name: &files[done].0,
                }),
                _ => other.push(line),
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("the helper did not finish: {e}")))?;
    if !out.status.success() {
        let last = other
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| format!("exit status {}", out.status));
        return Err(fail(format!(
            "the helper failed ({}; is torch installed for {}?)",
            last.trim(),
            python.display()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| fail(format!("unreadable answer from the helper: {e}")))?;
    let times_ms: Vec<f64> = v["times_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_f64()).collect())
        .unwrap_or_default();
    if times_ms.len() != files.len() {
        return Err(fail(format!(
            "the helper timed {} of {} micro-benchmarks",
            times_ms.len(),
            files.len()
        )));
    }
    Ok(TorchRun {
        device: v["device"].as_str().unwrap_or("cpu").to_string(),
        cuda: v["cuda"].as_bool().unwrap_or(false),
        version: v["version"].as_str().unwrap_or_default().to_string(),
        times_ms,
    })
}
