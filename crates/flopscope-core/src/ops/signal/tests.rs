//! Hand-computed tests of the `signal` rules.
use super::super::testutil::*;
use super::super::{lookup, Cost, Ctx, NoBodies, Tensor};
use crate::graph::{Attr, DType, Node};

/// Runs a default-domain op at opset `opset`, with input slots `None` where omitted.
fn run_at(
    opset: i64,
    op: &str,
    inputs: &[Option<Tensor>],
    attrs: &[(String, Attr)],
) -> (Vec<Tensor>, Cost) {
    let def = lookup("", op).expect("rule");
    let node = Node {
        name: op.into(),
        op_type: op.into(),
        domain: String::new(),
        inputs: (0..inputs.len())
            .map(|i| inputs[i].as_ref().map(|_| i))
            .collect(),
        outputs: vec![Some(100)],
        attrs: attrs.iter().cloned().collect(),
        scope: vec![],
    };
    let warnings = std::cell::RefCell::new(Vec::new());
    let cx = Ctx {
        node: &node,
        inputs: inputs.iter().map(Option::as_ref).collect(),
        opset,
        bodies: &NoBodies,
        warnings: &warnings,
    };
    let outs = (def.infer)(&cx).expect("infer");
    let cost = (def.cost)(&cx, &outs).expect("cost");
    (outs, cost)
}

#[test]
fn dft_17_axis_attribute() {
    // [1,10,10,1] real, axis 1: output [1,10,10,2]; 10 vectors of N = 10,
    // ⌈log2 10⌉ = 4: 10 · 5·10·4 = 2000.
    let r = run1("DFT", &[f32t(&[1, 10, 10, 1])], &[a_int("axis", 1)]);
    assert_eq!(r.shape, vec![1, 10, 10, 2]);
    assert_eq!(r.cost.flops, 2000);
    // RFFT: 10 → 6 bins; IRFFT of 6 bins: N = 10, real output, + 10 scalings per vector.
    let r = run1(
        "DFT",
        &[f32t(&[1, 10, 10, 1])],
        &[a_int("axis", 1), a_int("onesided", 1)],
    );
    assert_eq!(r.shape, vec![1, 6, 10, 2]);
    let r = run1(
        "DFT",
        &[f32t(&[1, 6, 10, 2])],
        &[a_int("axis", 1), a_int("onesided", 1), a_int("inverse", 1)],
    );
    assert_eq!(r.shape, vec![1, 10, 10, 1]);
    assert_eq!(r.cost.flops, 10 * (2000 / 10 + 10));
    // dft_length 16 on axis 2 of [2,3,5,2]: [2,3,16,2]; 6 vectors · 5·16·4.
    let r = run1(
        "DFT",
        &[f32t(&[2, 3, 5, 2]), scalar(16)],
        &[a_int("axis", 2)],
    );
    assert_eq!(r.shape, vec![2, 3, 16, 2]);
    assert_eq!(r.cost.flops, 6 * 320);
}

#[test]
fn dft_20_axis_input() {
    // Axis as input 2 (here 1); dft_length omitted.
    let (o, c) = run_at(
        20,
        "DFT",
        &[Some(f32t(&[1, 10, 10, 1])), None, Some(scalar(1))],
        &[a_int("onesided", 1)],
    );
    assert_eq!(o[0].shape, Some(vec![1, 6, 10, 2]));
    assert_eq!(c.flops, 2000);
    // Default axis −2 (here 2 of [4,8,2]): 4 vectors of N = 8: 4 · 5·8·3 = 480.
    let (o, c) = run_at(20, "DFT", &[Some(f32t(&[4, 8, 2]))], &[]);
    assert_eq!(o[0].shape, Some(vec![4, 8, 2]));
    assert_eq!(c.flops, 480);
    // Unknown axis: a full DFT keeps the sizes; its cost is the costliest axis's: along
    // axis 0 (N = 1) 0 FLOPs, along 1 or 2 (N = 10) 2000, so 2000 and a warning.
    let def = lookup("", "DFT").expect("rule");
    let node = Node {
        name: "d".into(),
        op_type: "DFT".into(),
        domain: String::new(),
        inputs: vec![Some(0), None, Some(2)],
        outputs: vec![Some(100)],
        attrs: Default::default(),
        scope: vec![],
    };
    let (x, ax) = (f32t(&[1, 10, 10, 1]), i64t(&[]));
    let warnings = std::cell::RefCell::new(Vec::new());
    let cx = Ctx {
        node: &node,
        inputs: vec![Some(&x), None, Some(&ax)],
        opset: 20,
        bodies: &NoBodies,
        warnings: &warnings,
    };
    let o = (def.infer)(&cx).expect("infer");
    assert_eq!(o[0].shape, Some(vec![1, 10, 10, 2]));
    assert_eq!((def.cost)(&cx, &o).map(|c| c.flops), Ok(2000));
    assert!(
        warnings.borrow()[0].contains("costliest axis"),
        "{warnings:?}"
    );
}

#[test]
fn stft_frames_and_window() {
    // Signal [1,128,1], step 8, window [16]: frames = (128 − 16)/8 + 1 = 15, 9 bins.
    // Per frame: 5·16·4 = 320 + 16 window products; 15 frames.
    let (o, c) = run_at(
        17,
        "STFT",
        &[Some(f32t(&[1, 128, 1])), Some(scalar(8)), Some(f32t(&[16]))],
        &[],
    );
    assert_eq!(o[0].shape, Some(vec![1, 15, 9, 2]));
    assert_eq!(c.flops, 15 * (320 + 16));
    // frame_length 16 without a window, two-sided.
    let (o, c) = run_at(
        17,
        "STFT",
        &[
            Some(f32t(&[1, 128, 1])),
            Some(scalar(8)),
            None,
            Some(scalar(16)),
        ],
        &[a_int("onesided", 0)],
    );
    assert_eq!(o[0].shape, Some(vec![1, 15, 16, 2]));
    assert_eq!(c.flops, 15 * 320);
}

#[test]
fn windows_and_mel_matrix() {
    let r = run1("HannWindow", &[scalar(10)], &[]);
    assert_eq!(r.shape, vec![10]);
    assert_eq!(r.outs[0].dtype, DType::F32);
    assert_eq!(r.cost.flops, 40);
    let r = run1(
        "BlackmanWindow",
        &[scalar(10)],
        &[a_int("output_datatype", 11)],
    );
    assert_eq!(r.outs[0].dtype, DType::F64);
    assert_eq!(r.cost.flops, 80);
    // num_mel_bins 8, dft_length 16: [9, 8], 2 per element.
    let r = run1(
        "MelWeightMatrix",
        &[scalar(8), scalar(16), scalar(8192), f32t(&[]), f32t(&[])],
        &[],
    );
    assert_eq!(r.shape, vec![9, 8]);
    assert_eq!(r.cost.flops, 144);
}
