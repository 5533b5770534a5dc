//! Builds small ONNX models in tests (valid and deliberately broken) and runs the binary.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

mod onnx;
#[allow(unused_imports)]
pub use onnx::*;

/// `tests/data` at the workspace root.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// Runs `flopscope ARGS`.
pub fn flopscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flopscope"))
        .args(args)
        .output()
        .expect("runs")
}

/// A fresh empty folder for one test.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flopscope-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `flopscope ARGS`, which must succeed, and parses its standard output as JSON.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let out = flopscope(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}
