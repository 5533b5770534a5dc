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

/// Embedding [128, 64] and MatMuls [64, 96], [96, 32] on 8 tokens (`quant/nbits/make_nbits.py`):
/// 17,408 parameters, 8·64·96 + 8·96·32 = 73,728 MACs, whatever the quantization.
#[test]
fn four_bit_blocks_and_quantized_embeddings_count_the_values_they_hold() {
    // Scales and zero points, from the files' initializers (name, dims):
    // nbits: w1_scales [96, 2] + w1_zero_points [96, 1] + w2_scales [32, 3] +
    //   w2_zero_points [32, 2] = 192 + 96 + 96 + 64 = 448 (w1_Q4 [96, 2, 16] bytes hold 64·96
    //   4-bit values);
    // nbits_gather: emb_scales [128, 2] + w1_scales + w2_scales = 256 + 192 + 96 = 544 (emb_Q4 is
    //   int4 [128, 64]);
    // dyn: emb/w1/w2 each a scalar scale and zero point = 6 (emb_quantized is a uint8 table).
    for (name, quant) in [
        ("nbits/nbits.onnx", 448),
        ("nbits/nbits_gather.onnx", 544),
        ("nbits/dyn.onnx", 6),
    ] {
        let p = load(name);
        assert_eq!(p.totals.params, 128 * 64 + 64 * 96 + 96 * 32, "{name}");
        assert_eq!(p.totals.macs, 73_728, "{name}");
        assert_eq!(p.totals.quant_params, quant, "{name}");
        assert!(p.unsupported.is_empty(), "{name}: {:?}", p.unsupported);
    }
    // 4-bit weights: 64·96 + 96·32 = 9,216 values in 4,608 bytes, 4 bits each.
    let p = load("nbits/nbits.onnx");
    let packed = &p.totals.params_by_dtype["uint8"];
    assert_eq!((packed.params, packed.bytes), (9_216, 4_608));
    assert_eq!(packed.bits_per_param, 4.0);
}

// ---------------------------------------------------------------------------------------
// Quantized PyTorch modules, as `python/flopscope/_capture.py` records them: the packed
// weights unpacked into named parameters, passed as objects of tensors
// ---------------------------------------------------------------------------------------

/// A trace document (its schema first: a trace is told from other formats by it).
fn trace(values: serde_json::Value, calls: serde_json::Value, outputs: &[usize]) -> Profile {
    let doc = format!(
        r#"{{"schema":"flopscope.trace/1","name":"q","values":{values},"calls":{calls},"outputs":{}}}"#,
        serde_json::json!(outputs)
    );
    flopscope_core::profile_bytes(doc.as_bytes(), &Options::default()).expect("a trace")
}

/// `quantize_dynamic`'s Linear(64, 32) on [4, 64]: DynamicQuantizeMatMul.
#[test]
fn a_dynamic_quantized_linear_counts_as_dynamic_quantize_matmul() {
    let values = serde_json::json!([
        {"name": "x", "dtype": "float32", "shape": [4, 64], "role": "input"},
        {"name": "fc.weight", "dtype": "qint8", "shape": [32, 64], "role": "param", "frozen": true},
        {"name": "fc.bias", "dtype": "float32", "shape": [32], "role": "param", "frozen": true},
        {"name": "fc.scale", "dtype": "float64", "shape": [], "role": "param", "frozen": true},
        {"name": "fc.zero_point", "dtype": "int64", "shape": [], "role": "param", "frozen": true},
        {"dtype": "float32", "shape": [4, 32]}
    ]);
    let calls = serde_json::json!([{"op": "quantized.linear_dynamic.default", "scope": ["fc"],
        "args": {"X": {"v": 0}, "W_prepack": {"weight": {"v": 1}, "bias": {"v": 2},
                 "scale": {"v": 3}, "zero_point": {"v": 4}}, "reduce_range": true},
        "outputs": [5]}]);
    let p = trace(values, calls, &[5]);
    assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
    let t = &p.totals;
    // The float Linear's parameters: 2,048 int8 weights and 32 float32 biases; the scale and
    // the zero point are quantization parameters.
    assert_eq!(t.params, 64 * 32 + 32);
    assert_eq!(t.params_by_dtype["int8"].params, 64 * 32);
    assert_eq!(t.quant_params, 2);
    // MACs 4·64·32; FLOPs 2·MACs + quantizing x (4 per element, 256) + rescaling and bias (1
    // each per output element, 128).
    assert_eq!(t.macs, 4 * 64 * 32);
    assert_eq!(t.flops, 2 * 8_192 + 4 * 256 + 2 * 128);
    // The weight belongs to the product, not to the transposed view on the way.
    let owner: Vec<(&str, u64)> = p
        .layers
        .iter()
        .filter(|l| l.params > 0)
        .map(|l| (l.op.as_str(), l.params))
        .collect();
    assert_eq!(owner, vec![("DynamicQuantizeMatMul", 64 * 32 + 32)]);
}

/// `quantize_dynamic`'s LSTM(8, 4), one layer, one direction, on [T=3, B=2, 8]:
/// DynamicQuantizeLSTM, counted as ONNX's LSTM.
#[test]
fn a_dynamic_quantized_lstm_counts_as_the_float_lstm() {
    let p = |name: &str, dtype: &str, shape: serde_json::Value| serde_json::json!({"name": name, "dtype": dtype, "shape": shape, "role": "param"});
    let values = serde_json::json!([
        {"name": "x", "dtype": "float32", "shape": [3, 2, 8], "role": "input"},
        p("w_ih", "qint8", serde_json::json!([16, 8])),
        p("w_hh", "qint8", serde_json::json!([16, 4])),
        p("b_ih", "float32", serde_json::json!([16])),
        p("b_hh", "float32", serde_json::json!([16])),
        p("w_ih_scale", "float64", serde_json::json!([])),
        p("w_ih_zero_point", "int64", serde_json::json!([])),
        p("w_hh_scale", "float64", serde_json::json!([])),
        p("w_hh_zero_point", "int64", serde_json::json!([])),
        {"dtype": "float32", "shape": [1, 2, 4]},
        {"dtype": "float32", "shape": [3, 2, 4]},
        {"dtype": "float32", "shape": [1, 2, 4]},
        {"dtype": "float32", "shape": [1, 2, 4]}
    ]);
    let cell = serde_json::json!({"w_ih": {"v": 1}, "w_hh": {"v": 2}, "b_ih": {"v": 3},
        "b_hh": {"v": 4}, "w_ih_scale": {"v": 5}, "w_ih_zero_point": {"v": 6},
        "w_hh_scale": {"v": 7}, "w_hh_zero_point": {"v": 8}});
    let calls = serde_json::json!([
        {"op": "aten.zeros.default", "scope": ["lstm"], "args": {"size": [1, 2, 4]},
         "outputs": [9]},
        {"op": "aten.quantized_lstm.input", "scope": ["lstm"],
         "args": {"input": {"v": 0}, "hx": [{"v": 9}, {"v": 9}], "params": [cell],
                  "has_biases": true, "num_layers": 1, "dropout": 0.0, "train": false,
                  "bidirectional": false, "batch_first": false},
         "outputs": [10, 11, 12]}
    ]);
    let p = trace(values, calls, &[10]);
    assert!(p.unsupported.is_empty(), "{:?}", p.unsupported);
    let t = &p.totals;
    // Parameters: 4H·I + 4H·H int8 weights, 2·4H float32 biases; 4 quantization parameters.
    assert_eq!((t.params, t.quant_params), (16 * 8 + 16 * 4 + 32, 4));
    assert_eq!(t.params_by_dtype["int8"].params, 16 * 8 + 16 * 4);
    // docs/counting.md, "Recurrent": MACs = D·T·B·4H·(I + H) = 3·2·16·12; FLOPs = 2·MACs +
    // D·T·B·H·(8 bias adds + 5 non-linearities + 4 state updates).
    assert_eq!(t.macs, 1_152);
    assert_eq!(t.flops, 2 * 1_152 + 3 * 2 * 4 * 17);
}
