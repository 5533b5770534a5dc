//! `--attention full|causal-half` (docs/counting.md, "Causal attention"), expected values by
//! hand from the shapes written here.

use crate::common::{flopscope, run_json, tmpdir};
use crate::llm::{llama_config, llama_tensors, write_safetensors};
use serde_json::json;

/// A trace of one `scaled_dot_product_attention(is_causal=True)` on q, k, v [1, 4, 128, 64].
fn causal_sdpa(dir: &std::path::Path) -> std::path::PathBuf {
    let v = json!({"dtype": "float32", "shape": [1, 4, 128, 64], "role": "input"});
    let doc = json!({
        "schema": "flopscope.trace/1",
        "values": [v, v, v, {"dtype": "float32", "shape": [1, 4, 128, 64]}],
        "calls": [{"op": "aten.scaled_dot_product_attention.default",
                   "args": {"query": {"v": 0}, "key": {"v": 1}, "value": {"v": 2},
                            "dropout_p": 0.0, "is_causal": true, "scale": null},
                   "outputs": [3]}],
        "outputs": [3]
    });
    let p = dir.join("sdpa.json");
    std::fs::write(&p, doc.to_string()).unwrap();
    p
}

#[test]
fn profile_and_compare_count_the_causal_half_when_asked() {
    let dir = tmpdir("attention-sdpa");
    let m = causal_sdpa(&dir);
    let m = m.to_str().unwrap();
    // 2·b·h·L·S·d = 2·1·4·128·128·64 = 8,388,608 MACs whole; 4,194,304 as the causal half.
    let full = run_json(&["profile", m, "-f", "json"]);
    assert_eq!(full["totals"]["macs"], 8_388_608);
    let half = run_json(&["profile", m, "--attention", "causal-half", "-f", "json"]);
    assert_eq!(half["totals"]["macs"], 4_194_304);
    let c = run_json(&["compare", m, "--attention", "causal-half", "-f", "json"]);
    assert_eq!(c["entries"][0]["macs"], 4_194_304, "{c}");
}

#[test]
fn a_checkpoint_prefill_of_2048_tokens_halves_its_attention() {
    let dir = tmpdir("attention-llama");
    // d 256, 2 layers, 4 heads of 64 (2 key/value heads), f 512, V 1000.
    write_safetensors(
        &dir.join("model.safetensors"),
        &llama_tensors(256, 2, 4, 2, 512, 1000),
    );
    let config = llama_config(256, 2, 4, 2, 512, 1000).to_string();
    std::fs::write(dir.join("config.json"), config).unwrap();
    let d = dir.to_str().unwrap();
    let at = |mode: &str| {
        run_json(&[
            "profile",
            d,
            "--dim",
            "seq=2048",
            "--attention",
            mode,
            "-f",
            "json",
        ])
    };
    let (full, half) = (at("full"), at("causal-half"));
    // QKᵀ and AV: layers·L·2·h·hd·L = 2·2048·2·4·64·2048 = 4,294,967,296; half 2,147,483,648.
    assert_eq!(full["llm"]["prefill_attention_macs"], 4_294_967_296u64);
    assert_eq!(half["llm"]["prefill_attention_macs"], 2_147_483_648u64);
    let macs = |p: &serde_json::Value| p["totals"]["macs"].as_u64().unwrap();
    assert_eq!(macs(&full) - macs(&half), 2_147_483_648);
    assert_eq!(
        full["llm"]["decode_macs_per_token"],
        half["llm"]["decode_macs_per_token"]
    );
}

#[test]
fn a_bad_mode_and_training_with_the_half_are_usage_errors() {
    let dir = tmpdir("attention-bad");
    let m = causal_sdpa(&dir);
    let m = m.to_str().unwrap();
    let out = flopscope(&["profile", m, "--attention", "half"]);
    assert_eq!(out.status.code(), Some(2));
    let out = flopscope(&["profile", m, "--attention", "causal-half", "--training"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--training"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
