//! The `ai.onnx.ml` dictionary operators: a map input is read as a 1-D tensor of its values
//! (its entries a dim), and ZipMap's sequence of maps as a sequence of 1-D tensors.

use flopscope_core::onnx_pb as pb;
use flopscope_core::{profile_bytes, Options};
use prost::Message;

fn ty(v: pb::type_proto::Value) -> Option<pb::TypeProto> {
    Some(pb::TypeProto {
        value: Some(v),
        denotation: None,
    })
}

fn tensor_type(elem: i32, dims: &[i64]) -> pb::type_proto::Value {
    use pb::tensor_shape_proto::{dimension::Value as D, Dimension};
    pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
        elem_type: Some(elem),
        shape: Some(pb::TensorShapeProto {
            dim: dims
                .iter()
                .map(|&d| Dimension {
                    value: Some(D::DimValue(d)),
                    denotation: None,
                })
                .collect(),
        }),
    })
}

fn strings(name: &str, v: &[&str]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Strings as i32),
        strings: v.iter().map(|s| s.as_bytes().to_vec().into()).collect(),
        ..Default::default()
    }
}

fn node(op: &str, input: &str, output: &str, attrs: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: Some(op.into()),
        domain: Some("ai.onnx.ml".into()),
        name: Some(op.into()),
        input: vec![input.into()],
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    }
}

#[test]
fn dict_vectorizer_and_zip_map() {
    // X: map(string, float) → DictVectorizer over a 3-word vocabulary: float [1, 3] (ONNX
    // Runtime's shape). P float [2, 3] → ZipMap with 3 labels: a sequence of 2 maps of 3.
    let map = pb::type_proto::Value::MapType(Box::new(pb::type_proto::Map {
        key_type: Some(8),
        value_type: ty(tensor_type(1, &[])).map(Box::new),
    }));
    let m = pb::ModelProto {
        ir_version: Some(8),
        opset_import: vec![
            pb::OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(17),
            },
            pb::OperatorSetIdProto {
                domain: Some("ai.onnx.ml".into()),
                version: Some(3),
            },
        ],
        graph: Some(pb::GraphProto {
            node: vec![
                node(
                    "DictVectorizer",
                    "X",
                    "Y",
                    vec![strings("string_vocabulary", &["a", "b", "c"])],
                ),
                node(
                    "ZipMap",
                    "P",
                    "Z",
                    vec![strings("classlabels_strings", &["u", "v", "w"])],
                ),
            ],
            input: vec![
                pb::ValueInfoProto {
                    name: Some("X".into()),
                    r#type: ty(map),
                    ..Default::default()
                },
                pb::ValueInfoProto {
                    name: Some("P".into()),
                    r#type: ty(tensor_type(1, &[2, 3])),
                    ..Default::default()
                },
            ],
            output: vec![
                pb::ValueInfoProto {
                    name: Some("Y".into()),
                    ..Default::default()
                },
                pb::ValueInfoProto {
                    name: Some("Z".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    let p = profile_bytes(&m.encode_to_vec(), &Options::default()).unwrap();
    let j = serde_json::to_value(&p).unwrap();
    assert_eq!(j["outputs"][0]["dtype"], "float32");
    assert_eq!(j["outputs"][0]["shape"], serde_json::json!([1, 3]));
    assert_eq!(j["outputs"][1]["shape"], serde_json::json!([3]));
    assert_eq!(j["outputs"][1]["sequence"]["length"], 2);
    assert_eq!(p.totals.nodes_cost_unknown, 0);
    assert_eq!(p.totals.flops, 0);
}
