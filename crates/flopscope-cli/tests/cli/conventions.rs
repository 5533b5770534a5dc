//! `profile --convention` and `compare --conventions` on a hand-written trace
//! (tests/data/traces/conventions_linear.json: nn.Linear(4, 3) on x[2, 5, 4], then a GELU
//! through a kept reference and one by name; each figure worked out in
//! crates/flopscope-core/tests/core/conventions.rs).

use crate::common::{flopscope, run_json, run_ok};

const TRACE: &str = "../../tests/data/traces/conventions_linear.json";

#[test]
fn profile_with_a_convention_reports_the_tools_figures() {
    let j = run_json(&["profile", TRACE, "--convention", "ptflops", "-f", "json"]);
    let c = &j["conventions"][0];
    // (4·3 + 3) × 10 rows ÷ batch 2 = 75, plus the GELU ptflops patches: 30.
    assert_eq!(c["macs"], 105);
    assert!(c["flops"].is_null());
    assert_eq!(c["params"], 15);
    assert_eq!(c["tool"], "ptflops 0.7.5");
}

#[test]
fn compare_explains_where_each_convention_departs() {
    let md = run_ok(&[
        "compare",
        TRACE,
        "--conventions",
        "torchinfo,flopcountermode,exact",
        "-f",
        "markdown",
    ]);
    // torchinfo: 2 × 15 = 30 MACs; FlopCounterMode: 2 × 120 = 240 FLOPs.
    assert!(md.contains("| total | 30 | 240 |"), "{md}");
    assert!(md.contains("torchinfo misses 90 MACs of matmul"), "{md}");
}

#[test]
fn a_convention_needs_a_trace() {
    let out = flopscope(&[
        "profile",
        "../../tests/data/models/resnet18.onnx",
        "--convention",
        "thop",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a flopscope.trace/1 document"), "{err}");
    let out = flopscope(&["profile", TRACE, "--convention", "thopp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown convention 'thopp'"));
}

#[test]
fn compare_under_one_convention_lists_each_models_figures() {
    let j = run_json(&[
        "compare",
        TRACE,
        TRACE,
        "--convention",
        "calflops",
        "-f",
        "json",
    ]);
    let rows = j.as_array().expect("one entry per model");
    assert_eq!(rows.len(), 2);
    for r in rows {
        // F.linear: 120 MACs, 240 FLOPs; the GELU called by name: 30 more FLOPs.
        assert_eq!(r["counted"]["macs"], 120);
        assert_eq!(r["counted"]["flops"], 270);
    }
}
