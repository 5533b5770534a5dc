//! Builders of small ONNX models (valid and deliberately broken), shared by the tests and the
//! `make_bad_corpus` example.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use flopscope_core::onnx_pb as pb;
use prost::Message;

/// A float32 value with the given dims (numbers, or symbols when not parseable).
pub fn value(name: &str, dims: &[&str]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value as D, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d.parse::<i64>() {
                Ok(n) => D::DimValue(n),
                Err(_) => D::DimParam(d.to_string()),
            }),
            denotation: None,
        })
        .collect();
    pb::ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: Some(1),
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            denotation: None,
        }),
        ..Default::default()
    }
}

/// A node.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: Some(op.into()),
        name: Some(name.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

/// An INTS attribute.
pub fn ints_attr(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// An int64 initializer with inline values.
pub fn int_init(name: &str, v: &[i64]) -> pb::TensorProto {
    pb::TensorProto {
        name: Some(name.into()),
        data_type: Some(7),
        dims: vec![v.len() as i64],
        int64_data: v.to_vec(),
        ..Default::default()
    }
}

/// A float32 initializer whose bytes live in an external file.
pub fn external_init(
    name: &str,
    dims: &[i64],
    location: &str,
    offset: u64,
    length: u64,
) -> pb::TensorProto {
    let kv = |k: &str, v: String| pb::StringStringEntryProto {
        key: Some(k.into()),
        value: Some(v),
    };
    pb::TensorProto {
        name: Some(name.into()),
        data_type: Some(1),
        dims: dims.to_vec(),
        data_location: Some(pb::tensor_proto::DataLocation::External as i32),
        external_data: vec![
            kv("location", location.into()),
            kv("offset", offset.to_string()),
            kv("length", length.to_string()),
        ],
        ..Default::default()
    }
}

/// A model from parts, at the given default-domain opset.
pub fn model(
    opset: i64,
    inputs: Vec<pb::ValueInfoProto>,
    outputs: Vec<pb::ValueInfoProto>,
    nodes: Vec<pb::NodeProto>,
    inits: Vec<pb::TensorProto>,
) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: Some(8),
        producer_name: Some("flopscope-tests".into()),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(pb::GraphProto {
            name: Some("g".into()),
            node: nodes,
            input: inputs,
            output: outputs,
            initializer: inits,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Writes a model to `dir/name.onnx`.
pub fn write(dir: &Path, name: &str, m: &pb::ModelProto) -> PathBuf {
    let p = dir.join(format!("{name}.onnx"));
    std::fs::write(&p, m.encode_to_vec()).unwrap();
    p
}

/// A one-node Relu model over input `x` of the given dims.
pub fn relu_model(opset: i64, dims: &[&str]) -> pb::ModelProto {
    model(
        opset,
        vec![value("x", dims)],
        vec![value("y", dims)],
        vec![node("Relu", "relu", &["x"], &["y"], vec![])],
        vec![],
    )
}

/// A GRAPH attribute.
pub fn graph_attr(name: &str, g: pb::GraphProto) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Graph as i32),
        g: Some(g),
        ..Default::default()
    }
}

/// An INT attribute.
pub fn int_attr(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: Some(name.into()),
        r#type: Some(pb::attribute_proto::AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

/// A subgraph (no initializers of its own).
pub fn subgraph(
    inputs: Vec<pb::ValueInfoProto>,
    outputs: Vec<pb::ValueInfoProto>,
    nodes: Vec<pb::NodeProto>,
) -> pb::GraphProto {
    pb::GraphProto {
        name: Some("body".into()),
        node: nodes,
        input: inputs,
        output: outputs,
        ..Default::default()
    }
}

/// A 0-D initializer of the given ONNX dtype code holding `v`.
pub fn scalar_init(name: &str, dtype: i32, v: i64) -> pb::TensorProto {
    pb::TensorProto {
        name: Some(name.into()),
        data_type: Some(dtype),
        dims: vec![],
        int64_data: if dtype == 7 { vec![v] } else { vec![] },
        int32_data: if dtype == 7 { vec![] } else { vec![v as i32] },
        ..Default::default()
    }
}

/// A float32 initializer of the given dims with no data (declared only).
pub fn float_init(name: &str, dims: &[i64]) -> pb::TensorProto {
    let n: i64 = dims.iter().product();
    pb::TensorProto {
        name: Some(name.into()),
        data_type: Some(1),
        dims: dims.to_vec(),
        raw_data: Some(vec![0u8; 4 * n as usize].into()),
        ..Default::default()
    }
}
