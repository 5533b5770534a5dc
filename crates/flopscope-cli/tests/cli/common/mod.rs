//! Builds small ONNX models in tests (valid and deliberately broken) and runs the binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub mod hub;
mod onnx;
#[allow(unused_imports)]
pub use onnx::*;

/// `tests/data` at the workspace root.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// `flopscope` with nothing from a CI runner's environment that changes what it writes
/// (GitHub Actions sets `GITHUB_STEP_SUMMARY`, which `check` appends to).
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flopscope"));
    c.env_remove("GITHUB_STEP_SUMMARY");
    c
}

/// Runs `flopscope ARGS`.
pub fn flopscope(args: &[&str]) -> Output {
    command().args(args).output().expect("runs")
}

/// A fresh empty folder for one test.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flopscope-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `flopscope ARGS`, which must succeed, and returns its standard output.
pub fn run_ok(args: &[&str]) -> String {
    let out = flopscope(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 on stdout")
}

/// Runs `flopscope ARGS`, which must succeed, and parses its standard output as JSON.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run_ok(args)).expect("JSON on stdout")
}

/// ResNet-18 with a 10-class head written to `dir`: a second version of `resnet18` in which
/// only the classifier differs (for diffs).
pub fn resnet18_10_classes(dir: &std::path::Path) -> PathBuf {
    let p = dir.join("resnet18-10.onnx");
    run_ok(&[
        "export",
        "resnet18",
        "--classes",
        "10",
        "--weights",
        "none",
        "-o",
        p.to_str().unwrap(),
    ]);
    p
}

/// What one finished run cost.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub cpu_s: f64,
    pub max_rss_mb: f64,
}

/// Runs the binary and reads its own resource usage with `wait4`; kills it after `limit`.
pub fn run_measured(args: &[&str], limit: std::time::Duration) -> Run {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = tmpdir(&format!("measured-{n}"));
    let (out, err) = (dir.join("out"), dir.join("err"));
    // Reaped by `wait4` below (std's `wait` would not give us the child's resource usage).
    #[allow(clippy::zombie_processes)]
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flopscope"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("runs");
    let pid = child.id() as libc::pid_t;
    let start = std::time::Instant::now();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our unreaped child; status and ru point to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4 failed");
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
        max_rss_mb: ru.ru_maxrss as f64 / 1024.0,
    }
}

/// Bytes a layer of `profile -f json` moves under the roofline (docs/roofline.md), written out
/// here rather than taken from the library so tests check it independently: views and shape
/// queries none, lookups twice what they write, others what they read and write.
pub fn roofline_bytes(l: &serde_json::Value) -> f64 {
    let (r, w) = (
        l["bytes_read"].as_f64().unwrap(),
        l["bytes_written"].as_f64().unwrap(),
    );
    match l["op"].as_str().unwrap() {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Identity" | "Dropout" | "Shape"
        | "Size" => 0.0,
        "Gather" | "GatherElements" | "GatherND" | "Slice" => 2.0 * w,
        _ => r + w,
    }
}

/// The roofline's predicted lower bound in ms, recomputed from `profile -f json`'s layers:
/// every layer of known FLOPs takes max(FLOPs / peak, bytes / bandwidth).
pub fn predicted_ms(profile: &serde_json::Value, peak_gflops: f64, gbs: f64) -> f64 {
    profile["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let flops = l["flops"].as_f64()?;
            Some((flops / (peak_gflops * 1e6)).max(roofline_bytes(l) / (gbs * 1e6)))
        })
        .sum()
}

/// Whether an end-to-end test can run: `have` says whether `what` (Python with ONNX Runtime,
/// Node with Chromium…) is here. Without it the test is skipped with a line on stderr that
/// `cargo test` shows — unless `FLOPSCOPE_ALL_TESTS` is set (`.ci/run` sets it), where a
/// missing tool fails the test instead of hiding it.
pub fn requires(what: &str, have: bool) -> bool {
    if have {
        return true;
    }
    assert!(
        std::env::var_os("FLOPSCOPE_ALL_TESTS").is_none(),
        "{what} is missing and FLOPSCOPE_ALL_TESTS is set: run scripts/test-deps.sh"
    );
    // Straight to the stream: libtest captures `eprintln!` of passing tests, not this.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {}: needs {what} (scripts/test-deps.sh installs it)",
        std::thread::current().name().unwrap_or("a test")
    );
    false
}

/// Whether `python3` runs and imports every module in `modules`.
pub fn have_python(modules: &[&str]) -> bool {
    Command::new("python3")
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether ONNX Runtime's shared library can be found (`ORT_DYLIB_PATH` or the Python wheel).
pub fn have_onnxruntime() -> bool {
    flopscope_bench::onnxruntime::find_library(None).is_some()
}

/// The `ops` object of time-model parameters (`flopscope.predict-params/1`) giving every
/// kernel class the same efficiencies.
pub fn same_for_every_class(eff: f64, half_gflop: f64, mem_eff: f64) -> String {
    let one =
        format!(r#"{{"eff": {eff:?}, "half_gflop": {half_gflop:?}, "mem_eff": {mem_eff:?}}}"#);
    [
        "gemm",
        "conv",
        "grouped_conv",
        "attention",
        "elementwise",
        "data",
    ]
    .map(|c| format!("\"{c}\": {one}"))
    .join(", ")
}
