//! Bad input: one line naming the problem on stderr, the documented exit code, no panic.

mod common;

use common::*;

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
fn missing_empty_random_and_truncated_files() {
    let d = tmpdir("files");
    let (c, e) = profile_err(&d.join("nope.onnx"), &[]);
    assert_eq!(c, 3, "{e}");
    assert!(e.contains("nope.onnx"), "{e}");

    std::fs::write(d.join("empty.onnx"), b"").unwrap();
    let (c, e) = profile_err(&d.join("empty.onnx"), &[]);
    assert_eq!((c, e.contains("empty")), (4, true), "{e}");

    // Deterministic pseudo-random bytes.
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    std::fs::write(d.join("noise.onnx"), noise).unwrap();
    let (c, e) = profile_err(&d.join("noise.onnx"), &[]);
    assert_eq!(c, 4, "{e}");
    assert!(e.contains("not a valid ONNX model"), "{e}");

    // A real export cut at several points.
    let full = std::fs::read(data().join("models/resnet18.onnx")).unwrap();
    for cut in [7, 100, full.len() / 2, full.len() - 3] {
        std::fs::write(d.join("cut.onnx"), &full[..cut]).unwrap();
        let (c, e) = profile_err(&d.join("cut.onnx"), &[]);
        assert_eq!(c, 4, "cut at {cut}: {e}");
    }
}

#[test]
fn unsupported_opsets() {
    let d = tmpdir("opset");
    for opset in [1, 99] {
        let p = write(&d, &format!("op{opset}"), &relu_model(opset, &["2", "3"]));
        let (c, e) = profile_err(&p, &[]);
        assert_eq!(c, 5, "{e}");
        assert!(e.contains(&format!("opset {opset}")), "{e}");
    }
}

#[test]
fn inconsistent_shapes_name_the_node() {
    let d = tmpdir("shape");
    // Reshape of 6 elements to [4, 2].
    let m = model(
        17,
        vec![value("x", &["2", "3"])],
        vec![value("y", &["4", "2"])],
        vec![node(
            "Reshape",
            "bad_reshape",
            &["x", "target"],
            &["y"],
            vec![],
        )],
        vec![int_init("target", &[4, 2])],
    );
    let (c, e) = profile_err(&write(&d, "reshape", &m), &[]);
    assert_eq!(c, 6, "{e}");
    assert!(
        e.contains("bad_reshape") && e.contains("cannot reshape"),
        "{e}"
    );

    // Concat of mismatched ranks.
    let m = model(
        17,
        vec![value("a", &["2", "3"]), value("b", &["2", "3", "1"])],
        vec![value("y", &["4", "3"])],
        vec![node(
            "Concat",
            "bad_concat",
            &["a", "b"],
            &["y"],
            vec![int_attr("axis", 0)],
        )],
        vec![],
    );
    let (c, e) = profile_err(&write(&d, "concat", &m), &[]);
    assert_eq!(c, 6, "{e}");
    assert!(e.contains("bad_concat") && e.contains("rank"), "{e}");
}

#[test]
fn overflowing_dims_are_errors_not_wraps() {
    let d = tmpdir("overflow");
    let big = (1u64 << 40).to_string();
    let p = write(&d, "big", &relu_model(17, &[&big, &big]));
    let (c, e) = profile_err(&p, &[]);
    assert_eq!(c, 6, "{e}");
    assert!(e.contains("overflows"), "{e}");
    // The same through a user-given shape.
    let p = write(&d, "sym", &relu_model(17, &["n", "4"]));
    let (c, e) = profile_err(&p, &["--input", &format!("x={big}x{big}")]);
    assert_eq!((c, e.contains("overflows")), (6, true), "{e}");
}

#[test]
fn structural_errors() {
    let d = tmpdir("structure");
    // A cycle: a -> b -> a.
    let m = model(
        17,
        vec![value("x", &["2"])],
        vec![value("b", &["2"])],
        vec![
            node("Add", "n1", &["x", "b"], &["a"], vec![]),
            node("Relu", "n2", &["a"], &["b"], vec![]),
        ],
        vec![],
    );
    let (c, e) = profile_err(&write(&d, "cycle", &m), &[]);
    assert_eq!(c, 4, "{e}");
    assert!(e.contains("cycle"), "{e}");

    // An input used but never produced.
    let m = model(
        17,
        vec![value("x", &["2"])],
        vec![value("y", &["2"])],
        vec![node("Add", "adder", &["x", "ghost"], &["y"], vec![])],
        vec![],
    );
    let (c, e) = profile_err(&write(&d, "dangling", &m), &[]);
    assert_eq!(c, 4, "{e}");
    assert!(e.contains("adder") && e.contains("ghost"), "{e}");

    // External data outside the model's folder.
    for loc in ["../../etc/passwd", "/etc/passwd"] {
        let m = model(
            17,
            vec![value("x", &["2", "4"])],
            vec![value("y", &["2", "3"])],
            vec![node("MatMul", "mm", &["x", "w"], &["y"], vec![])],
            vec![external_init("w", &[4, 3], loc, 0, 48)],
        );
        let (c, e) = profile_err(&write(&d, "escape", &m), &[]);
        assert_eq!(c, 4, "{e}");
        assert!(e.contains("outside the model's folder"), "{e}");
    }

    // External data range past the end of an existing file.
    std::fs::write(d.join("w.bin"), [0u8; 16]).unwrap();
    let m = model(
        17,
        vec![value("x", &["2", "4"])],
        vec![value("y", &["2", "3"])],
        vec![node("MatMul", "mm", &["x", "w"], &["y"], vec![])],
        vec![external_init("w", &[4, 3], "w.bin", 0, 48)],
    );
    let (c, e) = profile_err(&write(&d, "short", &m), &[]);
    assert_eq!(c, 4, "{e}");
    assert!(e.contains("beyond the end"), "{e}");
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
    m.opset_import.push(flopscope::onnx_pb::OperatorSetIdProto {
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
