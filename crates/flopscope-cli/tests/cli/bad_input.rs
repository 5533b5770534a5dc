//! Bad input: one line naming the problem on stderr, the documented exit code, no panic.
//! Hostile model files are in the corpus `tests/data/bad` (test `bad_corpus`); these are the
//! cases a file cannot hold: missing files, cuts of a real export, bad arguments.

use crate::common::*;

/// Runs `profile` on a file and returns (exit code, stderr).
fn profile_err(path: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["profile", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = flopscope(&args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!err.contains("panicked"), "panic: {err}");
    let code = out.status.code().expect("exited normally");
    if code != 0 {
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("flopscope: error: "), "{err}");
    }
    (code, err)
}

#[test]
fn missing_and_truncated_files() {
    let d = tmpdir("files");
    let (c, e) = profile_err(&d.join("nope.onnx"), &[]);
    assert_eq!(c, 3, "{e}");
    assert!(e.contains("nope.onnx"), "{e}");

    // A real export cut at several points.
    let full = std::fs::read(data().join("models/resnet18.onnx")).unwrap();
    for cut in [7, 100, full.len() / 2, full.len() - 3] {
        std::fs::write(d.join("cut.onnx"), &full[..cut]).unwrap();
        let (c, e) = profile_err(&d.join("cut.onnx"), &[]);
        assert_eq!(c, 4, "cut at {cut}: {e}");
    }
}

#[test]
fn overflowing_input_shapes_are_errors_not_wraps() {
    // Overflowing declared dims are in the corpus (tests/data/bad); here the size comes from
    // the command line.
    let d = tmpdir("overflow");
    let big = (1u64 << 40).to_string();
    let p = write(&d, "sym", &relu_model(17, &["n", "4"]));
    let (c, e) = profile_err(&p, &["--input", &format!("x={big}x{big}")]);
    assert_eq!((c, e.contains("overflows")), (6, true), "{e}");
}

#[test]
fn bad_arguments() {
    let p = data().join("models/resnet18.onnx");
    let (c, e) = profile_err(&p, &["--dim", "seq=128"]);
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("'seq'") && e.contains("batch"), "{e}");
    let (c, e) = profile_err(&p, &["--input", "input=1x3x224"]);
    assert_eq!(c, 2, "{e}");
    assert!(e.contains("rank 4"), "{e}");
    let (c, _) = profile_err(&p, &["--dim", "batch=zero"]);
    assert_eq!(c, 2);
}

#[test]
fn unknown_operators_are_listed_not_zeroed() {
    let d = tmpdir("unknown");
    let mut m = model(
        17,
        vec![value("x", &["1", "8"])],
        vec![value("z", &["1", "8"])],
        vec![
            node("FancyOp", "fancy1", &["x"], &["y"], vec![]),
            node("Relu", "relu", &["y"], &["z"], vec![]),
        ],
        vec![],
    );
    m.opset_import
        .push(flopscope_core::onnx_pb::OperatorSetIdProto {
            domain: Some("com.example".into()),
            version: Some(1),
        });
    m.graph.as_mut().unwrap().node[0].domain = Some("com.example".into());
    m.graph
        .as_mut()
        .unwrap()
        .value_info
        .push(value("y", &["1", "8"]));
    let p = write(&d, "custom", &m);
    let j = run_json(&["profile", p.to_str().unwrap(), "--format", "json"]);
    let u = &j["unsupported"][0];
    assert_eq!(u["op"], "com.example::FancyOp");
    assert_eq!(u["count"], 1);
    assert_eq!(j["totals"]["nodes_cost_unknown"], 1);
    // The Relu after it still gets its shape (from value_info) and its cost: 8 FLOPs.
    assert_eq!(j["totals"]["flops"], 8);
    assert!(j["layers"][0]["flops"].is_null());
    // A domain the model does not import is an error.
    m.opset_import.pop();
    let (c, e) = profile_err(&write(&d, "undeclared", &m), &[]);
    assert_eq!(c, 4, "{e}");
    assert!(e.contains("com.example"), "{e}");
}
