//! Model-local functions are expanded: their nodes are counted by their own rules.

use crate::common::*;
use flopscope_core::onnx_pb as pb;

#[test]
fn local_function_calls_are_expanded_and_counted() {
    // LinearRelu(x, w) = Relu(Transpose(MatMul(x, w), perm)) with perm from the call: the
    // identity here, so [4,8] stays [4,8]; Transpose's default (reverse) would break call two.
    let perm_ref = pb::AttributeProto {
        name: Some("perm".into()),
        ref_attr_name: Some("order".into()),
        r#type: Some(pb::attribute_proto::AttributeType::Ints as i32),
        ..Default::default()
    };
    let f = pb::FunctionProto {
        name: Some("LinearRelu".into()),
        domain: Some("local".into()),
        input: vec!["x".into(), "w".into()],
        output: vec!["y".into()],
        attribute: vec!["order".into()],
        node: vec![
            node("MatMul", "mm", &["x", "w"], &["h"], vec![]),
            node("Transpose", "t", &["h"], &["ht"], vec![perm_ref]),
            node("Relu", "act", &["ht"], &["y"], vec![]),
        ],
        opset_import: vec![pb::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        ..Default::default()
    };
    let call = |name: &str, x: &str, y: &str| {
        let mut n = node(
            "LinearRelu",
            name,
            &[x, "W"],
            &[y],
            vec![ints_attr("order", &[0, 1])],
        );
        n.domain = Some("local".into());
        n
    };
    let mut m = model(
        17,
        vec![value("x", &["4", "8"])],
        vec![value("z", &["4", "8"])],
        vec![call("first", "x", "y1"), call("second", "y1", "z")],
        vec![float_init("W", &[8, 8])],
    );
    m.functions.push(f);
    m.opset_import.push(pb::OperatorSetIdProto {
        domain: Some("local".into()),
        version: Some(1),
    });
    let d = tmpdir("functions");
    let p = write(&d, "fn", &m);
    let j = run_json(&["profile", p.to_str().unwrap(), "-f", "json"]);
    // Two calls × (4·8·8 MACs + 32 Relu FLOPs); W counted once.
    assert_eq!(j["totals"]["macs"], 2 * 256);
    assert_eq!(j["totals"]["flops"], 2 * (2 * 256 + 32));
    assert_eq!(j["outputs"][0]["shape"], serde_json::json!([4, 8]));
    assert_eq!(j["totals"]["params"], 64);
    assert_eq!(j["totals"]["nodes"], 6);
    assert_eq!(j["layers"][0]["name"], "first/mm");
    assert!(j["unsupported"].as_array().unwrap().is_empty());
}
