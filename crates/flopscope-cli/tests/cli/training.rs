//! `profile --training` and `check --max-train-memory`: the training section's numbers by
//! hand, its options, one-line usage errors (exit 2) and the budget verdict (exit 9).

use crate::common::*;

/// torchvision ResNet-18: 11,689,512 parameters, all trained.
const PARAMS: u64 = 11_689_512;

fn training(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["profile", "resnet18", "--dim", "batch=2", "-f", "json"];
    a.extend_from_slice(args);
    run_json(&a)["training"].clone()
}

#[test]
fn resnet18_step_json_by_hand() {
    let t = training(&["--training"]);
    // Backward: 2 × forward less conv1's input gradient (2·64·112·112·3·49 = 236,027,904).
    assert_eq!(t["forward_macs"], 3_628_146_688u64);
    assert_eq!(t["backward_macs"], 7_020_265_472u64);
    assert_eq!(t["macs"], 3_628_146_688u64 + 7_020_265_472);
    // Adam in fp32: 4 + 4 + 8 bytes per parameter, 14 FLOPs per parameter's update.
    assert_eq!(t["optimizer"], "adam");
    assert_eq!(t["precision"], "fp32");
    assert_eq!(t["recompute"], "none");
    assert_eq!(t["trainable_params"], PARAMS);
    assert_eq!(t["optimizer_flops"], PARAMS * 14);
    let m = &t["memory"];
    assert_eq!(m["weights_bytes"], PARAMS * 4);
    assert_eq!(m["gradients_bytes"], PARAMS * 4);
    assert_eq!(m["optimizer_bytes"], PARAMS * 8);
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(
        n("flops"),
        n("forward_flops") + n("backward_flops") + n("optimizer_flops")
    );
    let mem = |k: &str| m[k].as_u64().unwrap();
    assert!(mem("activations_bytes") > 0);
    // Peak: the state, the saved activations and the backward's working set on top.
    assert!(mem("peak_bytes") > PARAMS * 16 + mem("activations_bytes"));
    assert!(t.get("backward_unknown").is_none());
}

#[test]
fn options_imply_training_and_change_the_state() {
    // AdamW in bf16-mixed: 2 + 2 + 12 bytes per parameter (the ZeRO paper's 16).
    let t = training(&["--optimizer", "adamw", "--precision", "bf16-mixed"]);
    let m = &t["memory"];
    assert_eq!(m["weights_bytes"], PARAMS * 2);
    assert_eq!(m["gradients_bytes"], PARAMS * 2);
    assert_eq!(m["optimizer_bytes"], PARAMS * 12);
    // 16-bit activations are half of fp32's, except what is kept at a fixed width: MaxPool's
    // int64 indices (2·64·56·56 · 8 = 3,211,264 bytes) and the BatchNorm statistics in fp32
    // (4,800 channels over 20 BatchNorms · 2 · 4 = 38,400 bytes).
    let fp32 = training(&["--training"]);
    let (a16, a32) = (
        m["activations_bytes"].as_u64().unwrap(),
        fp32["memory"]["activations_bytes"].as_u64().unwrap(),
    );
    assert_eq!(2 * a16 - a32, 3_211_264 + 38_400);
    // ZeRO-3 over 8 GPUs shards all three (rounded up): 23,379,024 / 8 = 2,922,378.
    let t = training(&["--precision", "bf16-mixed", "--gpus", "8", "--zero", "3"]);
    assert_eq!(t["gpus"], 8);
    assert_eq!(t["memory"]["weights_bytes"], 2_922_378);
    assert_eq!(t["memory"]["optimizer_bytes"], PARAMS * 12 / 8);
    // SGD keeps no state.
    let t = training(&["--optimizer", "sgd"]);
    assert_eq!(t["memory"]["optimizer_bytes"], 0);
    assert_eq!(t["optimizer_flops"], PARAMS * 2);
}

#[test]
fn text_report_has_a_training_block() {
    let out = run_ok(&["profile", "resnet18", "--training", "--top", "1"]);
    assert!(
        out.contains("Training step (adam, fp32, recompute none, 1 GPU)"),
        "{out}"
    );
    for row in ["backward", "optimizer", "activations", "peak"] {
        assert!(out.contains(row), "{row}: {out}");
    }
    let md = run_ok(&["profile", "resnet18", "--training", "-f", "markdown"]);
    assert!(md.contains("### Training step"), "{md}");
}

#[test]
fn bad_training_options_are_one_line_usage_errors() {
    for (flag, value, says) in [
        ("--optimizer", "lamb", "unknown optimizer 'lamb'"),
        ("--precision", "fp8", "unknown precision 'fp8'"),
        ("--recompute", "some", "unknown recomputation 'some'"),
        ("--gpus", "0", "--gpus expects a whole number"),
        ("--zero", "4", "--zero expects a stage 0 to 3"),
        ("--mfu", "1.5", "--mfu expects a fraction"),
        ("--tokens", "many", "--tokens expects a count"),
    ] {
        let out = flopscope(&["profile", "resnet18", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flag} {value}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn check_max_train_memory_passes_at_the_peak_and_fails_one_byte_under() {
    // At batch 1, bf16-mixed Adam: the limit is the profile's own peak.
    let t = run_json(&[
        "profile",
        "resnet18",
        "--precision",
        "bf16-mixed",
        "-f",
        "json",
    ])["training"]
        .clone();
    let peak = t["memory"]["peak_bytes"].as_u64().unwrap();
    let at = |limit: u64| {
        flopscope(&[
            "check",
            "resnet18",
            "--max-train-memory",
            &limit.to_string(),
            "--precision",
            "bf16-mixed",
        ])
    };
    let ok = at(peak);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let md = String::from_utf8_lossy(&ok.stdout);
    assert!(md.contains("Training memory (peak per GPU)"), "{md}");
    assert_eq!(at(peak - 1).status.code(), Some(9));
    // In fp32 the same limit is exceeded (weights and gradients are twice the size).
    let fp32 = flopscope(&["check", "resnet18", "--max-train-memory", &peak.to_string()]);
    assert_eq!(fp32.status.code(), Some(9));
    // And the FLOPs of a step, likewise.
    let flops = t["flops"].as_u64().unwrap();
    let f = flopscope(&["check", "resnet18", "--max-train-flops", &flops.to_string()]);
    assert_eq!(f.status.code(), Some(0), "{f:?}");
}

#[test]
fn a_checkpoint_trains_at_three_prefills_and_its_time_is_printed() {
    // Llama-2-7B headers (two bf16 shards + config) at batch 1, seq 128, AdamW bf16-mixed on 8
    // GPUs with ZeRO-3: training MACs are 3 × the prefill MACs the profile reports, and the
    // state is 16 bytes per parameter split 8 ways.
    let dir = tmpdir("train-llama7b");
    crate::llm::write_llama_7b(&dir);
    let args = [
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=128",
        "--optimizer",
        "adamw",
        "--precision",
        "bf16-mixed",
        "--gpus",
        "8",
        "--zero",
        "3",
        "--tokens",
        "1B",
        "--peak-gflops",
        "989000",
        "--mfu",
        "0.5",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["-f", "json"]);
    let p = run_json(&json_args);
    let t = &p["training"];
    let prefill = p["totals"]["macs"].as_u64().unwrap();
    assert_eq!(t["forward_macs"], prefill);
    assert_eq!(t["macs"], 3 * prefill);
    let n: u64 = 6_738_415_616;
    let m = &t["memory"];
    assert_eq!(m["weights_bytes"], (2 * n).div_ceil(8));
    assert_eq!(m["gradients_bytes"], (2 * n).div_ceil(8));
    assert_eq!(m["optimizer_bytes"], (12 * n).div_ceil(8));
    assert_eq!(t["tokens_per_step"], 128);
    // 1e9 tokens × model FLOPs per token / (8 GPUs × 989 TFLOP/s × 0.5), recompute none.
    let per_token = t["flops"].as_u64().unwrap() as f64 / 128.0;
    let want = 1e9 * per_token / (8.0 * 989_000e9 * 0.5);
    let got = t["time"]["seconds"].as_f64().unwrap();
    assert!((got - want).abs() < want * 1e-9, "{got} vs {want}");
    let text = run_ok(&args);
    assert!(text.contains("tokens per step"), "{text}");
    assert!(text.contains("for 1.00G tokens on 8 GPU(s)"), "{text}");
}
