//! The loader leaves large weight payloads on disk, refers to them by offset, and still reads
//! small constants (shape arithmetic) inline.

use flopscope_core::graph::TensorData;
use flopscope_core::onnx_pb as pb;
use prost::Message;

fn tensor(name: &str, dtype: i32, dims: &[i64], raw: Vec<u8>) -> pb::TensorProto {
    pb::TensorProto {
        name: Some(name.into()),
        data_type: Some(dtype),
        dims: dims.to_vec(),
        raw_data: Some(raw.into()),
        ..Default::default()
    }
}

fn model_with(weights: Vec<u8>, shape: Vec<u8>) -> pb::ModelProto {
    pb::ModelProto {
        ir_version: Some(8),
        opset_import: vec![pb::OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(17),
        }],
        graph: Some(pb::GraphProto {
            node: vec![
                pb::NodeProto {
                    op_type: Some("MatMul".into()),
                    input: vec!["x".into(), "w".into()],
                    output: vec!["y".into()],
                    ..Default::default()
                },
                pb::NodeProto {
                    op_type: Some("Reshape".into()),
                    input: vec!["y".into(), "shape".into()],
                    output: vec!["z".into()],
                    ..Default::default()
                },
            ],
            initializer: vec![
                tensor("w", 1, &[128, 8192], weights),
                tensor("shape", 7, &[1], shape),
            ],
            input: vec![pb::ValueInfoProto {
                name: Some("x".into()),
                r#type: Some(pb::TypeProto {
                    value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                        elem_type: Some(1),
                        shape: Some(pb::TensorShapeProto {
                            dim: [2, 128]
                                .iter()
                                .map(|&d| pb::tensor_shape_proto::Dimension {
                                    value: Some(
                                        pb::tensor_shape_proto::dimension::Value::DimValue(d),
                                    ),
                                    denotation: None,
                                })
                                .collect(),
                        }),
                    })),
                    denotation: None,
                }),
                ..Default::default()
            }],
            output: vec![pb::ValueInfoProto {
                name: Some("z".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn large_payloads_stay_on_disk_and_small_constants_fold() {
    let dir = std::env::temp_dir().join(format!("flopscope-loader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.onnx");
    // 4 MiB of weights: above the size up to which files are read whole.
    let weights: Vec<u8> = (0..128 * 8192 * 4).map(|i| (i % 251) as u8).collect();
    let bytes = model_with(weights.clone(), (-1i64).to_le_bytes().to_vec()).encode_to_vec();
    std::fs::write(&path, &bytes).unwrap();

    let m = flopscope_core::load::load_onnx(&path).unwrap();
    let w = &m.graph.initializers[0];
    match &w.data {
        TensorData::External {
            path: p,
            offset,
            length,
            present,
        } => {
            assert_eq!(p, &path);
            assert!(*present);
            assert_eq!(*length, Some(weights.len() as u64));
            let at = *offset as usize;
            assert_eq!(
                &bytes[at..at + weights.len()],
                &weights[..],
                "offset points at the payload"
            );
        }
        other => panic!("weights were read into memory: {other:?}"),
    }
    // The 8-byte shape constant stays inline and folds: Reshape(y, [-1]) → [2·8192].
    let p = flopscope_core::profile_path(&path, &flopscope_core::Options::default()).unwrap();
    assert_eq!(p.outputs[0].shape, Some(vec![2 * 8192]));
    assert_eq!(p.totals.macs, 2 * 128 * 8192);
    assert_eq!(p.totals.params, 128 * 8192);

    // A payload cut short is an error, not a silent zero.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = flopscope_core::load::load_onnx(&path).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    // A payload that disagrees with its dims is an error too.
    let bad = model_with(vec![0u8; 100], vec![0u8; 8]).encode_to_vec();
    std::fs::write(&path, &bad).unwrap();
    let e = flopscope_core::load::load_onnx(&path).unwrap_err();
    assert!(e.to_string().contains("holds 100 bytes"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
