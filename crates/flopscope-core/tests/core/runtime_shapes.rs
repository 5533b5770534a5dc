//! Shape inference against the shapes ONNX Runtime really produced for every node output
//! (`tests/data/runtime_shapes`, made by `scripts/make_runtime_shapes.py`).

use std::collections::HashMap;

use crate::common::*;

#[test]
fn every_inferred_shape_matches_onnx_runtime() {
    // The six shared exports, then the broader corpus (51 exports, scripts/make_extra_models.py).
    let checked = check_folder("runtime_shapes", "models");
    assert!(checked > 3000, "checked {checked}");
    let checked = check_folder("extra/runtime_shapes", "extra");
    assert!(checked > 20000, "checked {checked}");
}

/// Checks every shapes file of `shapes_dir` against the models of `models_dir`; returns the
/// number of values compared.
fn check_folder(shapes_dir: &str, models_dir: &str) -> usize {
    let dir = data().join(shapes_dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 11);
    let mut checked = 0;
    for f in files {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let name = doc["model"].as_str().unwrap();
        let inputs = doc["inputs"].as_object().unwrap();
        let opts = flopscope_core::Options {
            dims: vec![],
            inputs: inputs
                .iter()
                .map(|(k, v)| {
                    (
                        Some(k.clone()),
                        v.as_array()
                            .unwrap()
                            .iter()
                            .map(|d| d.as_u64().unwrap())
                            .collect(),
                    )
                })
                .collect(),
            ..Default::default()
        };
        let m =
            flopscope_core::load::load_onnx(&data().join(models_dir).join(format!("{name}.onnx")))
                .unwrap();
        let g = &m.graph;
        let ids: HashMap<String, Vec<u64>> = opts
            .inputs
            .iter()
            .map(|(k, v)| (k.clone().unwrap(), v.clone()))
            .collect();
        let shapes = g
            .inputs
            .iter()
            .map(|&v| (v, ids[&g.values[v].name].clone()))
            .collect();
        let a = flopscope_core::infer::analyze(g, &shapes, &HashMap::new(), &|_| None).unwrap();
        let by_name: HashMap<&str, usize> = g
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        for (value, want) in doc["shapes"].as_object().unwrap() {
            let want: Vec<u64> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            let id = by_name[value.as_str()];
            let got = a.tensors[id].as_ref().and_then(|t| t.shape.clone());
            assert_eq!(
                got.as_ref(),
                Some(&want),
                "{}: value '{value}'",
                f.display()
            );
            let dt = doc["dtypes"][value].as_str().unwrap();
            assert_eq!(
                a.tensors[id].as_ref().unwrap().dtype.name(),
                dt,
                "{}: dtype of '{value}'",
                f.display()
            );
            checked += 1;
        }
    }
    checked
}
