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

/// A bf16 safetensors file called `name`, known by its header alone (the data is never read).
pub fn safetensors_head(
    name: &str,
    tensors: &[(String, Vec<u64>)],
) -> flopscope_core::llm::FileHead {
    let mut header = serde_json::Map::new();
    let mut off = 0u64;
    for (n, shape) in tensors {
        let bytes = shape.iter().product::<u64>() * 2;
        header.insert(
            n.clone(),
            serde_json::json!({"dtype": "BF16", "shape": shape, "data_offsets": [off, off + bytes]}),
        );
        off += bytes;
    }
    let h = serde_json::to_vec(&header).unwrap();
    let mut head = (h.len() as u64).to_le_bytes().to_vec();
    head.extend_from_slice(&h);
    flopscope_core::llm::FileHead {
        name: name.into(),
        size: head.len() as u64 + off,
        head,
    }
}

/// A Llama-style layer's attention projections under prefix `p` (`model.layers.0`): `h`
/// query heads and `kv` key/value heads of `hd`, width `d`.
pub fn attention_tensors(p: &str, d: u64, h: u64, kv: u64, hd: u64) -> Vec<(String, Vec<u64>)> {
    vec![
        (format!("{p}.self_attn.q_proj.weight"), vec![h * hd, d]),
        (format!("{p}.self_attn.k_proj.weight"), vec![kv * hd, d]),
        (format!("{p}.self_attn.v_proj.weight"), vec![kv * hd, d]),
        (format!("{p}.self_attn.o_proj.weight"), vec![d, h * hd]),
    ]
}
