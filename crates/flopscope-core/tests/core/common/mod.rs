//! Shared helpers for integration tests over the real model exports in `tests/data/`.
#![allow(dead_code)]

use std::path::PathBuf;

/// `tests/data` at the workspace root.
pub fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A model of `tests/data/models`.
pub fn model(name: &str) -> PathBuf {
    data().join("models").join(format!("{name}.onnx"))
}

/// `reference.json`: independently computed counts per model.
pub fn reference() -> serde_json::Value {
    let text =
        std::fs::read_to_string(data().join("models/reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Options binding `batch` and, for token models, `seq`, as the reference's `inputs` say.
pub fn reference_options(entry: &serde_json::Value) -> flopscope_core::Options {
    let shape: Vec<u64> = entry["inputs"][0]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|d| d.as_u64().expect("dim"))
        .collect();
    flopscope_core::Options {
        dims: vec![],
        inputs: vec![(Some("input".into()), shape)],
        ..Default::default()
    }
}
