//! What a new user trips on: one set of `--dim` flags for a mixed set of models, short runtime
//! names, and the zoo table's columns.

use crate::common::*;

/// bert-base at batch 1 and seq L, counted by hand: per layer QKᵀ and AV are L²·768 MACs each
/// (12 layers: 18432·L²), the Q/K/V/output projections 4·768² per token and the MLP 2·768·3072
/// per token (12 layers: 84,934,656·L), and the pooler one 768×768 product on the first token.
fn bert_base_macs(l: u64) -> u64 {
    18_432 * l * l + 84_934_656 * l + 768 * 768
}

#[test]
fn a_dim_one_model_lacks_is_one_warning_for_that_model() {
    let out = flopscope(&[
        "compare",
        "resnet18",
        "bert-base",
        "--dim",
        "seq=128",
        "-f",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning")).collect();
    assert_eq!(
        warnings,
        ["warning: resnet18: dim 'seq' is not a symbolic dim of this model (its dims: batch): ignored"],
        "{err}"
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let macs: Vec<u64> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["macs"].as_u64().unwrap())
        .collect();
    // resnet18: torchvision's 1.814 GMACs; bert-base at seq 128 from the formula above.
    assert_eq!(macs, [1_814_073_344, bert_base_macs(128)]);
}

#[test]
fn a_dim_no_model_has_is_an_error_with_a_suggestion() {
    let out = flopscope(&["profile", "resnet18", "--dim", "seq=128"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "flopscope: error: resnet18: dim 'seq' is not a symbolic dim of this model (its dims: batch)"
    );
    let out = flopscope(&["compare", "resnet18", "bert-base", "--dim", "seqq=128"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bert-base: dim 'seqq' is not a symbolic dim of this model (its dims: batch, seq; did you mean 'seq'?)"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn ort_is_a_short_name_of_onnxruntime() {
    // A library that does not exist: the run fails as a runtime failure (7), not as an unknown
    // backend name (2), so the name was accepted and meant ONNX Runtime.
    for name in ["ort", "onnxruntime"] {
        let out = flopscope(&[
            "bench",
            "squeezenet1_1",
            "--backend",
            name,
            "--ort-lib",
            "/nonexistent/libonnxruntime.so",
            "--runs",
            "1",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{name}: {err}");
        assert!(err.contains("/nonexistent/libonnxruntime.so"), "{err}");
    }
}

#[test]
fn zoo_table_keeps_its_columns_for_long_names() {
    let t = run_ok(&["zoo"]);
    let zoo = run_json(&["zoo", "-f", "json"]);
    let lines: Vec<&str> = t.lines().take_while(|l| !l.is_empty()).collect();
    let at = lines[0].find("Source").unwrap();
    assert!(at > "mobilenet_v3_large".len(), "{t}");
    for (line, e) in lines[1..].iter().zip(zoo.as_array().unwrap()) {
        let name = e["name"].as_str().unwrap();
        let source = e["source"].as_str().unwrap();
        assert!(line.starts_with(&format!("{name} ")), "{line}");
        assert_eq!(&line[at..at + source.len()], source, "{line}");
        // Params right-aligned under its header.
        let params = line[..lines[0].find("Params").unwrap() + "Params".len()].trim_end();
        assert!(params.ends_with(|c: char| c.is_ascii_digit()), "{line}");
    }
    assert_eq!(lines.len() - 1, zoo.as_array().unwrap().len());
}
