//! Cases of issue 21: totals that do not fit in 64 bits although every tensor does, and
//! safetensors data ranges that overlap or run backwards. Each total here was once wrapped or
//! saturated into a plausible count with exit 0.

use super::common::*;
use super::Corpus;
use flopscope_core::onnx_pb as pb;

pub fn cases(c: &mut Corpus) {
    // Forty float32 weights of 2^57 elements each, their bytes absent (the external file is not
    // there: nothing is read). Each fits: 2^59 bytes. Together: parameters 40 × 2^57 =
    // 5,764,607,523,034,234,880 (< 2^64, exact), but bytes 40 × 2^59 = 5 × 2^62 > 2^64 − 1,
    // which was reported wrapped (float32 bytes 2^62) and saturated (param_bytes 2^64 − 1).
    let n = 1i64 << 57;
    let mut nodes = Vec::new();
    let mut inits = Vec::new();
    let mut prev = "x".to_string();
    for i in 0..40 {
        let w = format!("w{i}");
        inits.push(external_init(&w, &[n], "not-there.bin", 0, 4 << 57));
        let out = format!("y{i}");
        nodes.push(node(
            "Add",
            &format!("add{i}"),
            &[&prev, &w],
            &[&out],
            vec![],
        ));
        prev = out;
    }
    let n_s = n.to_string();
    let m = model(
        17,
        vec![value("x", &[&n_s])],
        vec![value(&prev, &[])],
        nodes,
        inits,
    );
    c.model(
        "params-40x2-57-bytes-overflow.onnx",
        &m,
        6,
        "the model's weight bytes overflows 64 bits",
        "40 weights of 2^57 float32 each: 5 × 2^62 bytes, once wrapped or saturated",
    );
    // A 4-bit MatMulNBits whose attributes say K = N = 2^32: it stands for K × N = 2^64
    // parameters, one more than 64 bits hold (its packed weight is a lying 16 bytes). Its input
    // has no shape, so no cost is computed before the parameters are counted. Was 2^64 − 1.
    let k = 1i64 << 32;
    let mut b = external_init("b", &[1, 1, 16], "not-there.bin", 0, 16);
    b.data_type = Some(2); // uint8
    let a = pb::ValueInfoProto {
        name: Some("a".into()),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: Some(1),
                shape: None,
            })),
            denotation: None,
        }),
        ..Default::default()
    };
    let mut mm = node(
        "MatMulNBits",
        "mm",
        &["a", "b"],
        &["y"],
        vec![
            int_attr("K", k),
            int_attr("N", k),
            int_attr("bits", 4),
            int_attr("block_size", 32),
        ],
    );
    mm.domain = Some("com.microsoft".into());
    let mut m = model(17, vec![a], vec![value("y", &[])], vec![mm], vec![b]);
    m.opset_import.push(pb::OperatorSetIdProto {
        domain: Some("com.microsoft".into()),
        version: Some(1),
    });
    c.model(
        "matmulnbits-k-times-n-overflows.onnx",
        &m,
        6,
        "the parameters of node 'mm' (MatMulNBits) overflows 64 bits",
        "K × N = 2^64 parameters, once saturated to 2^64 − 1",
    );
    safetensors(c);
    // Found by the `training` fuzz target (a mutated gpt2-tiny whose ConstantOfShape got a
    // shape of 131,071 unknown values): each output dim is a size known only at run time, and
    // asking for them searched the list of those already asked, 30,000² / 2 string compares
    // here (the fuzzed file: minutes). Now each is asked once through a set: linear.
    let k = 30_000i64;
    let mut s = value("s", &[&k.to_string()]);
    if let Some(pb::type_proto::Value::TensorType(t)) =
        s.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.elem_type = Some(7); // int64
    }
    let m = model(
        17,
        vec![s],
        vec![value("y", &[])],
        vec![node("ConstantOfShape", "fill", &["s"], &["y"], vec![])],
        vec![],
    );
    c.model(
        "constant-of-shape-rank-30000.onnx",
        &m,
        0,
        "size computed at run time",
        "30,000 data-dependent dims: linear, not quadratic (a fuzzed hang)",
    );
}

/// Data ranges that share bytes or run backwards: each tensor must own its bytes.
fn safetensors(c: &mut Corpus) {
    let st = super::safetensors;
    c.add(
        "st-offsets-overlap.safetensors",
        &st(
            r#"{"a": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}, "b": {"dtype": "F16", "shape": [2, 2], "data_offsets": [4, 12]}}"#,
            12,
        ),
        &["profile"],
        4,
        "overlap those of tensor 'a'",
        "two 8-byte tensors sharing bytes 4 to 8 of a 12-byte data section",
    );
    c.add(
        "st-offsets-same-range.safetensors",
        &st(
            r#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#,
            8,
        ),
        &["profile"],
        4,
        "overlap",
        "one range stored under two names: parameters counted twice from 8 bytes",
    );
    c.add(
        "st-offsets-out-of-order.safetensors",
        &st(
            r#"{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [8, 0]}}"#,
            8,
        ),
        &["profile"],
        4,
        "out of order",
        "a range whose end comes before its begin",
    );
}
