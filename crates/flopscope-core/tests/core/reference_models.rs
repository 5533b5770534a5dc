//! Every shared PyTorch export against `reference.json` (independently computed from the shapes
//! ONNX Runtime really executed): exact parameters, MACs within 0.1% (docs/counting.md).

use crate::common::*;

#[test]
fn params_and_macs_match_reference_for_every_model() {
    let reference = reference();
    let models = reference.as_object().expect("object");
    assert!(models.len() >= 6);
    for (name, r) in models {
        let p = flopscope_core::profile_path(&model(name), &reference_options(r))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        check(name, &p, r, "");
        // FLOPs are 2 × MACs plus non-negative other work.
        assert!(p.totals.flops >= 2 * p.totals.macs, "{name}");
        assert!(
            p.warnings.iter().any(|w| w.contains("weights are absent")),
            "{name}: {:?}",
            p.warnings
        );
    }
}

/// The broader corpus: 51 torchvision and Hugging Face exports (both exporters, opsets 9 to 23,
/// float16, BatchNorm kept), each at two input sizes (`scripts/make_extra_models.py`).
#[test]
fn params_and_macs_match_reference_on_the_broader_corpus() {
    let text = std::fs::read_to_string(data().join("extra/reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let models = reference.as_object().unwrap();
    assert!(models.len() >= 50);
    for (name, r) in models {
        let path = data().join("extra").join(format!("{name}.onnx"));
        for suffix in ["", "_b2"] {
            // ONNX Runtime itself rejects some exports at the second size: no truth there.
            let (Some(shape), Some(_)) = (
                r[format!("inputs{suffix}")].get(0),
                r.get(format!("truth_macs{suffix}")),
            ) else {
                continue;
            };
            let shape: Vec<u64> = shape
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap())
                .collect();
            let opts = flopscope_core::Options {
                dims: vec![],
                inputs: vec![(Some("input".into()), shape)],
                ..Default::default()
            };
            let p = flopscope_core::profile_path(&path, &opts)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            check(name, &p, r, suffix);
        }
    }
}

/// Exact parameters and BatchNorm buffers, MACs within 0.1% (in total and per operator), every
/// node's cost known.
fn check(name: &str, p: &flopscope_core::Profile, r: &serde_json::Value, suffix: &str) {
    let t = &p.totals;
    assert_eq!(
        t.params,
        r["onnx_params"].as_u64().unwrap(),
        "{name}: params"
    );
    assert_eq!(
        t.buffers,
        r["onnx_bn_buffers"].as_u64().unwrap(),
        "{name}: BN buffers"
    );
    let truth = r[format!("truth_macs{suffix}")].as_u64().unwrap() as f64;
    let rel = (t.macs as f64 - truth).abs() / truth;
    assert!(
        rel <= 1e-3,
        "{name}{suffix}: MACs {} vs truth {truth} ({:.4}%)",
        t.macs,
        rel * 100.0
    );
    assert_eq!(
        t.nodes_cost_unknown, 0,
        "{name}: unsupported {:?}",
        p.unsupported
    );
    assert_eq!(
        t.nodes,
        r["onnx_nodes"].as_u64().unwrap() as usize,
        "{name}: nodes"
    );
    for (op, macs) in r[format!("truth_macs_by_op{suffix}")].as_object().unwrap() {
        let row = p
            .by_op_type
            .iter()
            .find(|o| &o.op == op)
            .unwrap_or_else(|| panic!("{name}: no {op}"));
        let want = macs.as_u64().unwrap() as f64;
        assert!(
            (row.macs as f64 - want).abs() / want <= 1e-3,
            "{name}{suffix}: {op} MACs {} vs {want}",
            row.macs
        );
    }
}

#[test]
fn token_models_give_exact_formulas_with_the_quadratic_attention_term() {
    // bert-base: 12 layers × (QKᵀ + AV) = 12 · 12 heads · 64 · 2 = 18432 MACs per batch·seq²;
    // the rest is linear in seq: 12 · (4·768² + 2·768·3072) = 84,934,656 per batch·seq.
    let p = flopscope_core::profile_path(&model("bert-base"), &flopscope_core::Options::default())
        .unwrap();
    let f = p.formulas.expect("formulas for batch and seq");
    assert_eq!(f.symbols, vec!["batch", "seq"]);
    assert_eq!(f.macs.text, "18432·batch·seq^2 + 84934656·batch·seq");
    let truth = reference()["bert-base"]["truth_macs"].as_u64().unwrap();
    assert_eq!(f.macs.eval(&[1, 128]), Some(truth));
    assert!(p.warnings.iter().any(|w| w.contains("'seq' is not bound")));
}

#[test]
fn image_models_scale_linearly_in_batch() {
    let one = flopscope_core::profile_path(&model("resnet18"), &flopscope_core::Options::default())
        .unwrap();
    let f = one.formulas.expect("formula in batch");
    assert_eq!(f.macs.text, "1814073344·batch");
    let eight = flopscope_core::profile_path(
        &model("resnet18"),
        &flopscope_core::Options {
            dims: vec![("batch".into(), 8)],
            inputs: vec![],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(eight.totals.macs, 8 * 1_814_073_344);
    assert!(eight.formulas.is_none());
    assert_eq!(eight.totals.params, one.totals.params);
}
