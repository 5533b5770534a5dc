//! Totals that do not fit in 64 bits although each of their terms does (issue 21): an error
//! naming the quantity, never a wrapped or saturated count. Expected values are worked from
//! powers of two in the comments.

use flopscope_core::builder::Builder;
use flopscope_core::graph::{DType, Dim};
use flopscope_core::llm::{profile_fetched, Fetched, FileHead};
use flopscope_core::schema::{ModelInfo, WeightsStatus};
use flopscope_core::training::TrainingOptions;
use flopscope_core::{profile_graph, Error, Options};

fn info() -> ModelInfo {
    ModelInfo {
        source: "sums".into(),
        producer: String::new(),
        ir_version: 0,
        opset: 17,
        nodes: 0,
        weights: WeightsStatus::Builtin,
        file_bytes: 0,
    }
}

/// `count` float32 weights of 2^57 elements, each added to a [2^57] input in a chain.
fn weights_of_2_57(count: usize) -> flopscope_core::graph::Graph {
    let n = 1u64 << 57;
    let mut b = Builder::new("sums");
    let mut y = b.input("x", DType::F32, vec![Dim::Known(n)]);
    for i in 0..count {
        let w = b.weight(&format!("w{i}"), &[n]);
        y = b.binary("Add", y, w);
    }
    b.output(y);
    b.finish()
}

#[test]
fn forty_weights_of_2_57_floats_overflow_their_bytes_not_their_count() {
    // 40 × 2^59 bytes = 5 × 2^62 > 2^64 − 1 (= 4 × 2^62 − 1): an error naming the bytes.
    let e = profile_graph(&weights_of_2_57(40), info(), &Options::default()).unwrap_err();
    assert!(matches!(e, Error::Overflow(_)), "{e}");
    assert_eq!(e.to_string(), "the model's weight bytes overflows 64 bits");
}

#[test]
fn fifteen_weights_of_2_57_floats_are_counted_exactly_sixteen_overflow_bytes_read() {
    // 15 weights: parameters 15 × 2^57; bytes 4 × that = 15 × 2^59. Each Add does one FLOP per
    // element (2^57), reads its two operands (2 × 2^59 bytes) and writes 2^59: bytes read
    // 15 × 2^60 < 2^64 = 16 × 2^60. At most two [2^57] float tensors are live at once (an Add's
    // input and its output): peak 2 × 2^59.
    let p = profile_graph(&weights_of_2_57(15), info(), &Options::default()).unwrap();
    let (n, bytes) = (1u64 << 57, 1u64 << 59);
    let t = &p.totals;
    assert_eq!(t.params, 15 * n);
    assert_eq!(t.param_bytes, 15 * bytes);
    assert_eq!(t.weight_bytes, 15 * bytes);
    assert_eq!(t.params_by_dtype["float32"].params, 15 * n);
    assert_eq!(t.params_by_dtype["float32"].bytes, 15 * bytes);
    assert_eq!(t.params_by_dtype["float32"].bits_per_param, 32.0);
    assert_eq!(t.flops, 15 * n);
    assert_eq!(t.bytes_read, 15 * 2 * bytes);
    assert_eq!(t.bytes_written, 15 * bytes);
    assert_eq!(t.activation_bytes, 15 * bytes);
    assert_eq!(t.peak_activation_bytes, 2 * bytes);
    assert_eq!(p.by_op_type[0].flops, 15 * n);
    // 16 weights: weight bytes 2^63 fit; bytes read 16 × 2^60 = 2^64 do not.
    let e = profile_graph(&weights_of_2_57(16), info(), &Options::default()).unwrap_err();
    assert_eq!(e.to_string(), "the model's bytes read overflows 64 bits");
}

#[test]
fn a_training_state_past_64_bits_is_an_error() {
    // 2^62 parameters × 4 bytes (fp32 weights) = 2^64: one past the largest count.
    let e = TrainingOptions::default().state(1 << 62, 0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the training step's weight bytes overflows 64 bits"
    );
    // 2^61 × 4 = 2^63 each for weights and gradients, 2^61 × 8 = 2^64 for Adam's moments.
    let e = TrainingOptions::default()
        .state(1 << 61, 1 << 61)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the training step's optimizer bytes overflows 64 bits"
    );
}

/// A safetensors file of one tensor of `n` elements of `dtype` (`bytes` of data), whose size
/// is what the server claims: `size`, or just what the tensor needs.
fn remote_file(name: &str, dtype: &str, n: u64, bytes: u64, size: Option<u64>) -> FileHead {
    let h = format!(
        r#"{{"model.{name}.weight": {{"dtype": "{dtype}", "shape": [{n}], "data_offsets": [0, {bytes}]}}}}"#
    );
    let mut head = (h.len() as u64).to_le_bytes().to_vec();
    head.extend_from_slice(h.as_bytes());
    FileHead {
        name: format!("{name}.safetensors"),
        size: size.unwrap_or(head.len() as u64 + bytes),
        head,
    }
}

#[test]
fn remote_sizes_whose_sum_overflows_are_an_error() {
    let shards = |files| Fetched::Safetensors {
        files,
        config: None,
    };
    // Two shards said (by their servers' Content-Range) to be 2^63 bytes long: each fits,
    // their sum, 2^64, does not.
    let big = |name| remote_file(name, "U8", 8, 8, Some(1 << 63));
    let e = profile_fetched(
        &shards(vec![big("a"), big("b")]),
        "hf:x/y",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the checkpoint's file bytes overflows 64 bits"
    );
    // 4-bit tensors of 2^62 − 2 elements, the most a file can describe (2^62 would take 2^64
    // bits), 2^61 − 1 bytes each. Five: the files fit (about 5 × 2^61 bytes), but 5 × (2^62 − 2)
    // parameters > 2^64 − 1.
    let n = (1u64 << 62) - 2;
    let f4 = |name| remote_file(name, "F4", n, n / 2, None);
    let names = ["a", "b", "c", "d", "e"];
    let e = profile_fetched(
        &shards(names.iter().map(|&x| f4(x)).collect()),
        "hf:x/y",
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Overflow(_)), "{e}");
    assert!(
        e.to_string().ends_with("parameters overflows 64 bits"),
        "{e}"
    );
    // Four: 4 × (2^62 − 2) = 2^64 − 8 parameters and 4 × (2^61 − 1) bytes, exact; 4 bits each.
    let p = profile_fetched(
        &shards(names[..4].iter().map(|&x| f4(x)).collect()),
        "hf:x/y",
        &Options::default(),
    )
    .unwrap();
    assert_eq!(p.totals.params, u64::MAX - 7);
    assert_eq!(p.totals.params_by_dtype["f4"].params, 4 * n);
    assert_eq!(p.totals.params_by_dtype["f4"].bytes, 4 * (n / 2));
    assert_eq!(p.totals.params_by_dtype["f4"].bits_per_param, 4.0);
}

#[test]
fn per_operator_totals_are_checked() {
    // Two layers of 2^63 MACs each: 2^64 for the operator type.
    let layer = |name: &str| flopscope_core::schema::Layer {
        name: name.into(),
        op: "MatMul".into(),
        domain: String::new(),
        scope: vec![],
        inputs: vec![],
        outputs: vec![],
        params: 0,
        param_bytes: 0,
        macs: Some(1 << 63),
        flops: Some(0),
        bytes_read: 0,
        bytes_written: 0,
        activation_bytes: 0,
        roofline: None,
        backward: false,
        folded: vec![],
    };
    let e = flopscope_core::profile::by_op_type(&[layer("a"), layer("b")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the MACs of all MatMul nodes overflows 64 bits"
    );
    let rows = flopscope_core::profile::by_op_type(&[layer("a")]).unwrap();
    assert_eq!((rows[0].count, rows[0].macs), (1, 1 << 63));
}

#[test]
fn safetensors_ranges_that_overlap_or_run_backwards_are_malformed() {
    let st = |header: &str, data: usize| {
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header.as_bytes());
        b.extend(std::iter::repeat_n(0u8, data));
        b
    };
    let read = |b: &[u8]| {
        flopscope_core::llm::safetensors::read_bytes(b, "m.safetensors".as_ref()).map(|t| t.len())
    };
    // [0, 8] and [4, 12] share bytes 4 to 8.
    let e = read(&st(
        r#"{"a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]},
            "b": {"dtype": "F16", "shape": [4], "data_offsets": [4, 12]}}"#,
        12,
    ))
    .unwrap_err();
    assert!(matches!(e, Error::Malformed { .. }), "{e}");
    assert!(e.to_string().contains("overlap"), "{e}");
    // [8, 0]: the end before the begin.
    let e = read(&st(
        r#"{"w": {"dtype": "F16", "shape": [4], "data_offsets": [8, 0]}}"#,
        8,
    ))
    .unwrap_err();
    assert!(e.to_string().contains("out of order"), "{e}");
    // Adjacent ranges listed in any order, and an empty tensor at a boundary, are fine.
    let ok = read(&st(
        r#"{"b": {"dtype": "F16", "shape": [4], "data_offsets": [8, 16]},
            "a": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]},
            "e": {"dtype": "F16", "shape": [0], "data_offsets": [8, 8]}}"#,
        16,
    ));
    assert_eq!(ok.unwrap(), 3);
}
