//! Loop, Scan and If are analysed through their bodies (docs/counting.md, "Control flow").

use crate::common::*;
use flopscope_core::onnx_pb as pb;
use prost::Message;

fn profile_json(m: &flopscope_core::onnx_pb::ModelProto, name: &str) -> serde_json::Value {
    let d = tmpdir(name);
    let p = write(&d, name, m);
    run_json(&["profile", p.to_str().unwrap(), "-f", "json"])
}

#[test]
fn loop_costs_body_times_trip_count() {
    // 5 iterations of v = v × W with v [1,8], W [8,8] (outer initializer): 5 · 64 MACs.
    let body = subgraph(
        vec![value("i", &[]), value("c", &[]), value("v", &["1", "8"])],
        vec![
            value("c_out", &[]),
            value("v_out", &["1", "8"]),
            value("scan", &["1", "8"]),
        ],
        vec![
            node("Identity", "keep_going", &["c"], &["c_out"], vec![]),
            node("MatMul", "step", &["v", "W"], &["v_out"], vec![]),
            node("Relu", "emit", &["v_out"], &["scan"], vec![]),
        ],
    );
    let m = model(
        17,
        vec![value("x", &["1", "8"])],
        vec![value("final", &["1", "8"]), value("all", &["5", "1", "8"])],
        vec![node(
            "Loop",
            "loop",
            &["M", "cond", "x"],
            &["final", "all"],
            vec![graph_attr("body", body)],
        )],
        vec![
            scalar_init("M", 7, 5),
            scalar_init("cond", 9, 1),
            float_init("W", &[8, 8]),
        ],
    );
    let j = profile_json(&m, "loop");
    assert_eq!(j["totals"]["macs"], 5 * 64);
    assert_eq!(j["totals"]["flops"], 5 * (2 * 64 + 8));
    assert_eq!(j["outputs"][1]["shape"], serde_json::json!([5, 1, 8]));
    assert_eq!(j["totals"]["params"], 64);
}

#[test]
fn scan_costs_body_times_length() {
    // Running sum over 6 rows of [6,8]: state [8] + row [8] per step, then Relu of the state.
    let body = subgraph(
        vec![value("s", &["8"]), value("row", &["8"])],
        vec![value("s_out", &["8"]), value("y", &["8"])],
        vec![
            node("Add", "acc", &["s", "row"], &["s_out"], vec![]),
            node("Relu", "act", &["s_out"], &["y"], vec![]),
        ],
    );
    let m = model(
        17,
        vec![value("s0", &["8"]), value("xs", &["6", "8"])],
        vec![value("s_final", &["8"]), value("ys", &["6", "8"])],
        vec![node(
            "Scan",
            "scan",
            &["s0", "xs"],
            &["s_final", "ys"],
            vec![graph_attr("body", body), int_attr("num_scan_inputs", 1)],
        )],
        vec![],
    );
    let j = profile_json(&m, "scan");
    assert_eq!(j["totals"]["flops"], 6 * (8 + 8));
    assert_eq!(j["outputs"][1]["shape"], serde_json::json!([6, 8]));
}

#[test]
fn scan8_has_a_batch_axis_and_an_omitted_sequence_lens() {
    // Scan-8 (opset 8): input 0 (sequence_lens) omitted, every input has a batch axis the body
    // does not see. Batch 2, 3 steps of s += row with s, row [4]: 2 · 3 · 4 FLOPs; the scan
    // output stacks [batch, len, 4].
    let body = subgraph(
        vec![value("s", &["4"]), value("row", &["4"])],
        vec![value("s_out", &["4"]), value("y", &["4"])],
        vec![
            node("Add", "acc", &["s", "row"], &["s_out"], vec![]),
            node("Identity", "emit", &["s_out"], &["y"], vec![]),
        ],
    );
    let m = model(
        8,
        vec![value("s0", &["2", "4"]), value("xs", &["2", "3", "4"])],
        vec![value("s_final", &["2", "4"]), value("ys", &["2", "3", "4"])],
        vec![node(
            "Scan",
            "scan",
            &["", "s0", "xs"],
            &["s_final", "ys"],
            vec![graph_attr("body", body), int_attr("num_scan_inputs", 1)],
        )],
        vec![],
    );
    let j = profile_json(&m, "scan8");
    assert_eq!(j["totals"]["flops"], 2 * 3 * 4);
    assert_eq!(j["outputs"][0]["shape"], serde_json::json!([2, 4]));
    assert_eq!(j["outputs"][1]["shape"], serde_json::json!([2, 3, 4]));
}

/// A sequence type seq(float32[5]), as an `Optional`'s `type` attribute.
fn seq_f32_5() -> pb::AttributeProto {
    let elem = value("e", &["5"]).r#type.unwrap();
    pb::AttributeProto {
        name: Some("type".into()),
        r#type: Some(pb::attribute_proto::AttributeType::TypeProto as i32),
        tp: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::SequenceType(Box::new(
                pb::type_proto::Sequence {
                    elem_type: Some(Box::new(elem)),
                },
            ))),
            denotation: None,
        }),
        ..Default::default()
    }
}

#[test]
fn an_empty_optional_has_the_type_its_attribute_gives_and_exports_it() {
    // then: Optional() of type seq(float32[5]); else: Optional(SequenceConstruct(x)). The
    // condition is true: the result is a sequence of float32[5] of unknown length.
    let then_b = subgraph(
        vec![],
        vec![pb::ValueInfoProto {
            name: Some("empty".into()),
            ..Default::default()
        }],
        vec![node("Optional", "none", &[], &["empty"], vec![seq_f32_5()])],
    );
    let else_b = subgraph(
        vec![],
        vec![pb::ValueInfoProto {
            name: Some("some".into()),
            ..Default::default()
        }],
        vec![
            node("SequenceConstruct", "mk", &["x"], &["s"], vec![]),
            node("Optional", "wrap", &["s"], &["some"], vec![]),
        ],
    );
    let m = model(
        18,
        vec![value("x", &["5"])],
        vec![pb::ValueInfoProto {
            name: Some("res".into()),
            ..Default::default()
        }],
        vec![node(
            "If",
            "branch",
            &["cond"],
            &["res"],
            vec![
                graph_attr("then_branch", then_b),
                graph_attr("else_branch", else_b),
            ],
        )],
        vec![scalar_init("cond", 9, 1)],
    );
    let d = tmpdir("optional");
    let src = write(&d, "optional.onnx", &m);
    let j = run_json(&["profile", src.to_str().unwrap(), "-f", "json"]);
    let out = &j["outputs"][0];
    assert_eq!(
        (&out["dtype"], &out["shape"], &out["sequence"]["length"]),
        (
            &serde_json::json!("float32"),
            &serde_json::json!([5]),
            &serde_json::Value::Null
        )
    );
    assert_eq!(j["totals"]["nodes_cost_unknown"], 0);
    // Exported, the attribute is written back as read.
    let out_path = d.join("exported.onnx");
    run_ok(&[
        "export",
        src.to_str().unwrap(),
        "-o",
        out_path.to_str().unwrap(),
    ]);
    let back = pb::ModelProto::decode(std::fs::read(&out_path).unwrap().as_slice()).unwrap();
    let g = back.graph.unwrap();
    let then_g = g.node[0]
        .attribute
        .iter()
        .find(|a| a.name() == "then_branch")
        .and_then(|a| a.g.clone())
        .unwrap();
    assert_eq!(then_g.node[0].attribute[0].tp, seq_f32_5().tp);
}

#[test]
fn if_takes_the_constant_branch() {
    let branch = |op: &str, name: &str| {
        subgraph(
            vec![],
            vec![value(&format!("{name}_y"), &["4", "4"])],
            vec![node(op, name, &["x", "x"], &[&format!("{name}_y")], vec![])],
        )
    };
    let m = model(
        17,
        vec![value("x", &["4", "4"])],
        vec![value("y", &["4", "4"])],
        vec![node(
            "If",
            "branch",
            &["flag"],
            &["y"],
            vec![
                graph_attr("then_branch", branch("MatMul", "mm")),
                graph_attr("else_branch", branch("Add", "add")),
            ],
        )],
        vec![scalar_init("flag", 9, 0)],
    );
    let j = profile_json(&m, "if");
    // flag = false: the Add branch (16 FLOPs), not the MatMul one (64 MACs).
    assert_eq!(
        (j["totals"]["macs"].as_u64(), j["totals"]["flops"].as_u64()),
        (Some(0), Some(16))
    );
}
