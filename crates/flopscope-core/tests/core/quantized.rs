//! Quantized models made by ONNX Runtime's own quantizers from one small float model
//! (`tests/data/quant/make_quant.py`): dynamic (MatMulInteger, ConvInteger), static QDQ and
//! static QOperator (QLinearConv, QGemm, QLinearGlobalAveragePool…). Each stores the float
//! model's 1,020 parameters (torch's `sum(p.numel())`, in `expected.json`): int8 weights and
//! float or int32 biases, whose scales and zero points are not parameters.

use flopscope_core::{profile, Options, Profile, Source};

use super::common::data;

fn load(name: &str) -> Profile {
    let path = data().join("quant").join(name);
    profile(&Source::Path(&path), &Options::default()).expect(name)
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(data().join("quant/expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("JSON")
}

/// Conv(3→8, 3×3) and Conv(8→8, 3×3) on 16×16 with padding 1, Linear(8→16), Linear(16→4):
/// 2,048 output elements × 27 + 2,048 × 72 + 8·16 + 16·4 = 55,296 + 147,456 + 128 + 64.
const MACS: u64 = 202_944;

/// Weights: 8·3·9 + 8·8·9 + 8·16 + 16·4 = 216 + 576 + 128 + 64 = 984 int8 elements.
const INT8_WEIGHTS: u64 = 984;

#[test]
fn every_quantization_format_keeps_the_float_models_parameters() {
    let e = expected();
    let f32 = load("net_f32.onnx");
    assert_eq!(f32.totals.params, e["params"].as_u64().unwrap());
    assert_eq!(f32.totals.macs, MACS);
    for name in ["net_dynamic.onnx", "net_qdq.onnx", "net_qop.onnx"] {
        let p = load(name);
        let t = &p.totals;
        assert_eq!(t.params, e["params"].as_u64().unwrap(), "{name}");
        assert_eq!(t.macs, MACS, "{name}");
        assert!(p.unsupported.is_empty(), "{name}: {:?}", p.unsupported);
        assert_eq!(
            t.quant_params,
            e["quant_params"][name].as_u64().unwrap(),
            "{name}: scales and zero points, apart"
        );
        let int8 = &t.params_by_dtype["int8"];
        assert_eq!(
            (int8.params, int8.bytes),
            (INT8_WEIGHTS, INT8_WEIGHTS),
            "{name}"
        );
        assert_eq!(int8.bits_per_param, 8.0);
        // The 36 biases: float in the dynamic format, int32 in the static ones; 4 bytes each.
        let biases: u64 = t
            .params_by_dtype
            .iter()
            .filter(|(d, _)| d.as_str() != "int8")
            .map(|(_, c)| c.params)
            .sum();
        assert_eq!(biases, 8 + 8 + 16 + 4, "{name}");
        assert_eq!(t.param_bytes, INT8_WEIGHTS + 36 * 4, "{name}");
    }
}

#[test]
fn a_qdq_weight_belongs_to_the_layer_that_uses_it() {
    let p = load("net_qdq.onnx");
    let conv_params: Vec<u64> = p
        .layers
        .iter()
        .filter(|l| l.op == "Conv")
        .map(|l| l.params)
        .collect();
    // Weight and bias of each Conv: 216 + 8 and 576 + 8, not on the DequantizeLinear nodes.
    assert_eq!(conv_params, vec![224, 584]);
    let dq: u64 = p
        .layers
        .iter()
        .filter(|l| l.op == "DequantizeLinear")
        .map(|l| l.params)
        .sum();
    assert_eq!(dq, 0);
}
