//! Hand-computed tests of the `misc` rules.
use super::super::testutil::*;
use crate::graph::DType;
use crate::ops::{Tensor, Values};

#[test]
fn grid_sample_interpolates_as_resize() {
    // X [1,3,4,4], grid [1,6,6,2] → Y [1,3,6,6] = 108 outputs; bilinear 3·3 = 9 each.
    let (x, g) = (f32t(&[1, 3, 4, 4]), f32t(&[1, 6, 6, 2]));
    let r = run1("GridSample", &[x.clone(), g.clone()], &[]);
    assert_eq!(r.shape, vec![1, 3, 6, 6]);
    assert_eq!(r.cost.flops, 108 * 9);
    let r = run1(
        "GridSample",
        &[x.clone(), g.clone()],
        &[a_str("mode", "nearest")],
    );
    assert_eq!(r.cost.flops, 0);
    // Bicubic: 7·(16 − 1)/3 = 35 per output.
    let r = run1("GridSample", &[x, g], &[a_str("mode", "bicubic")]);
    assert_eq!(r.cost.flops, 108 * 35);
    // Volumetric: X [1,1,3,2,2], grid [1,2,4,2,3] → [1,1,2,4,2]; trilinear 3·7 = 21.
    let r = run1(
        "GridSample",
        &[f32t(&[1, 1, 3, 2, 2]), f32t(&[1, 2, 4, 2, 3])],
        &[],
    );
    assert_eq!(r.shape, vec![1, 1, 2, 4, 2]);
    assert_eq!(r.cost.flops, 16 * 21);
    let m = run_err(
        "GridSample",
        &[f32t(&[1, 1, 4, 4]), f32t(&[1, 6, 6, 3])],
        &[],
    );
    assert!(m.contains("grid"), "{m}");
}

#[test]
fn roi_align_counts_samples_per_bin() {
    // X [1,2,10,10], 3 RoIs, 5×5 output, sampling_ratio 2: 3·2·25 = 150 bins,
    // each 4 samples · (9 + 1) + 1 division = 41.
    let (x, rois, idx) = (f32t(&[1, 2, 10, 10]), f32t(&[3, 4]), i64t(&[3]));
    let attrs = [
        a_int("output_height", 5),
        a_int("output_width", 5),
        a_int("sampling_ratio", 2),
    ];
    let r = run1("RoiAlign", &[x.clone(), rois, idx.clone()], &attrs);
    assert_eq!(r.shape, vec![3, 2, 5, 5]);
    assert_eq!(r.cost.flops, 150 * 41);
    // Adaptive (ratio 0) with known RoIs: one RoI [0,0,9,4] (x1,y1,x2,y2), half_pixel:
    // height 4 / 2 bins → 2, width 9 / 3 bins → 3: 6 samples per bin; 2·2·3 = 12 bins.
    let rois = floats(&[1, 4], &[0.0, 0.0, 9.0, 4.0]);
    let r = run1(
        "RoiAlign",
        &[x, rois, i64t(&[1])],
        &[a_int("output_height", 2), a_int("output_width", 3)],
    );
    assert_eq!(r.shape, vec![1, 2, 2, 3]);
    assert_eq!(r.cost.flops, 12 * (6 * 10 + 1));
}

#[test]
fn lrn_and_det() {
    // LRN size 3 on [5,5,5,5]: 625 · (3 + 5).
    let r = run1("LRN", &[f32t(&[5, 5, 5, 5])], &[a_int("size", 3)]);
    assert_eq!(r.shape, vec![5, 5, 5, 5]);
    assert_eq!(r.cost.flops, 625 * 8);
    // Det of 3 2×2 matrices: factor (1) + update (2) + 2 pivots = 5 each.
    let r = run1("Det", &[f32t(&[3, 2, 2])], &[]);
    assert_eq!(r.shape, vec![3]);
    assert_eq!(r.cost.flops, 15);
    // 3×3: m = 2: 2·5, m = 1: 1·3, pivots 3 → 16; a 2-D input gives a scalar.
    let r = run1("Det", &[f32t(&[3, 3])], &[]);
    assert!(r.shape.is_empty());
    assert_eq!(r.cost.flops, 16);
    assert!(run_err("Det", &[f32t(&[2, 3])], &[]).contains("square"));
}

#[test]
fn cumprod_bitcast_bitwise_not() {
    let v = Tensor::with_values(DType::I64, vec![4], Values::Int(vec![1, 2, 3, 4]));
    let r = run1("CumProd", &[v.clone(), scalar(0)], &[]);
    assert_eq!(r.ints(), vec![1, 2, 6, 24]);
    assert_eq!(r.cost.flops, 0); // integer
    let r = run1(
        "CumProd",
        &[v, scalar(0)],
        &[a_int("exclusive", 1), a_int("reverse", 1)],
    );
    assert_eq!(r.ints(), vec![24, 12, 4, 1]);
    let r = run1("CumProd", &[f32t(&[2, 3]), scalar(1)], &[]);
    assert_eq!(r.cost.flops, 6);
    // BitCast float32 → int32 keeps the shape; float32 → int64 is refused.
    let r = run1("BitCast", &[f32t(&[2, 3])], &[a_int("to", 6)]);
    assert_eq!((r.outs[0].dtype, r.shape.clone()), (DType::I32, vec![2, 3]));
    assert_eq!(r.cost.flops, 0);
    assert!(run_err("BitCast", &[f32t(&[2])], &[a_int("to", 7)]).contains("bits"));
    let x = Tensor::with_values(DType::I32, vec![2], Values::Int(vec![0, 5]));
    let r = run1("BitwiseNot", &[x], &[]);
    assert_eq!(r.ints(), vec![-1, -6]);
    assert_eq!(r.outs[0].dtype, DType::I32);
}

#[test]
fn data_movement_shapes() {
    let r = run1(
        "ReverseSequence",
        &[f32t(&[4, 3]), i64t(&[3])],
        &[a_int("time_axis", 0), a_int("batch_axis", 1)],
    );
    assert_eq!((r.shape.clone(), r.cost.flops), (vec![4, 3], 0));
    // MaxUnpool: (2 − 1)·2 + 2 = 4 per axis; or output_shape.
    let (x, i) = (f32t(&[1, 1, 2, 2]), i64t(&[1, 1, 2, 2]));
    let k = [a_ints("kernel_shape", &[2, 2]), a_ints("strides", &[2, 2])];
    let r = run1("MaxUnpool", &[x.clone(), i.clone()], &k);
    assert_eq!(r.shape, vec![1, 1, 4, 4]);
    let r = run1("MaxUnpool", &[x, i, ints(&[1, 1, 5, 5])], &k);
    assert_eq!(r.shape, vec![1, 1, 5, 5]);
    // CenterCropPad on axes 0, 1 of [20,8,3] to [10,9].
    let r = run1(
        "CenterCropPad",
        &[f32t(&[20, 8, 3]), ints(&[10, 9])],
        &[a_ints("axes", &[0, 1])],
    );
    assert_eq!(r.shape, vec![10, 9, 3]);
    // Col2Im: [1, 9, 4] with 3×3 blocks, stride 2 on a 5×5 image: 2·2 = 4 blocks,
    // 36 accumulations.
    let r = run1(
        "Col2Im",
        &[f32t(&[1, 9, 4]), ints(&[5, 5]), ints(&[3, 3])],
        &[a_ints("strides", &[2, 2])],
    );
    assert_eq!(r.shape, vec![1, 1, 5, 5]);
    assert_eq!(r.cost.flops, 36);
    let m = run_err(
        "Col2Im",
        &[f32t(&[1, 9, 5]), ints(&[5, 5]), ints(&[3, 3])],
        &[a_ints("strides", &[2, 2])],
    );
    assert!(m.contains("blocks"), "{m}");
}

#[test]
fn random_generators_and_tfidf() {
    let r = run1("RandomUniform", &[], &[a_ints("shape", &[2, 5])]);
    assert_eq!((r.outs[0].dtype, r.shape.clone()), (DType::F32, vec![2, 5]));
    assert_eq!(r.cost.flops, 10);
    let r = run1("RandomNormalLike", &[i64t(&[3, 4])], &[a_int("dtype", 11)]);
    assert_eq!((r.outs[0].dtype, r.shape.clone()), (DType::F64, vec![3, 4]));
    assert_eq!(r.cost.flops, 12);
    let x = Tensor::new(DType::F64, vec![10]);
    let r = run1("Bernoulli", &[x], &[]);
    assert_eq!((r.outs[0].dtype, r.cost.flops), (DType::F64, 20));
    // Multinomial [2, 5] × 3 samples: 2·10 + 6 · (1 + ⌈log2 5⌉ = 3) = 44; int32.
    let r = run1("Multinomial", &[f32t(&[2, 5])], &[a_int("sample_size", 3)]);
    assert_eq!((r.outs[0].dtype, r.shape.clone()), (DType::I32, vec![2, 3]));
    assert_eq!(r.cost.flops, 44);
    let idx = a_ints("ngram_indexes", &[0, 1, 2, 3, 4, 5, 6]);
    let r = run1(
        "TfIdfVectorizer",
        &[i64t(&[2, 6])],
        &[idx.clone(), a_str("mode", "TF")],
    );
    assert_eq!((r.outs[0].dtype, r.shape.clone()), (DType::F32, vec![2, 7]));
    assert_eq!(r.cost.flops, 0);
    let r = run1(
        "TfIdfVectorizer",
        &[i64t(&[12])],
        &[idx, a_str("mode", "TFIDF")],
    );
    assert_eq!((r.shape.clone(), r.cost.flops), (vec![7], 7));
}

#[test]
fn training_optimizers() {
    const D: &str = "ai.onnx.preview.training";
    let (r, t) = (f32t(&[]), i64t(&[]));
    // Adam on two tensors [1] and [2]: outputs X1, X2, V1, V2, H1, H2; 3 · 15 FLOPs.
    let ins = [
        r.clone(),
        t.clone(),
        f32t(&[1]),
        f32t(&[2]),
        f32t(&[1]),
        f32t(&[2]),
        f32t(&[1]),
        f32t(&[2]),
        f32t(&[1]),
        f32t(&[2]),
    ];
    let mut run = run_dom(D, "Adam", &ins, &[]);
    assert_eq!(run.outs.len(), 6);
    assert_eq!(run.outs[1].shape, Some(vec![2]));
    assert_eq!(run.outs[4].shape, Some(vec![1]));
    assert_eq!(run.cost.flops, 45);
    // Adagrad on one [3] tensor: X_new, H_new; 9 each.
    run = run_dom(
        D,
        "Adagrad",
        &[r.clone(), t.clone(), f32t(&[3]), f32t(&[3]), f32t(&[3])],
        &[],
    );
    assert_eq!(run.outs.len(), 2);
    assert_eq!(run.cost.flops, 27);
    // Momentum, Nesterov: 9 per element; standard 7.
    let ins = [r, t, f32t(&[2]), f32t(&[2]), f32t(&[2])];
    run = run_dom(D, "Momentum", &ins, &[a_str("mode", "nesterov")]);
    assert_eq!(run.cost.flops, 18);
    run = run_dom(D, "Momentum", &ins, &[a_str("mode", "standard")]);
    assert_eq!(run.cost.flops, 14);
}

#[test]
fn roi_align_with_run_time_rois_counts_the_whole_map() {
    // X [1,2,10,10], 3 RoIs of unknown values, 2×2 bins, adaptive sampling: at most
    // ceil(10/2)·ceil(10/2) = 25 samples per bin. Bins per RoI 2·2·2 = 8:
    // 8 · (3 · 25) · 10 + 8 · 3 (avg divisions) = 6024 FLOPs.
    let r = run1(
        "RoiAlign",
        &[f32t(&[1, 2, 10, 10]), f32t(&[3, 4]), i64t(&[3])],
        &[a_int("output_height", 2), a_int("output_width", 2)],
    );
    assert_eq!(r.shape, vec![3, 2, 2, 2]);
    assert_eq!(r.cost.flops, 6024);
    assert!(r.warnings[0].contains("run time"), "{:?}", r.warnings);
}

#[test]
fn max_roi_pool_compares_each_pixel_of_each_region() {
    // X [1,2,8,8]; RoI (0,0)-(3,3): 4·4 = 16 pixels; RoI (2,2)-(7,5): x 7−2+1 = 6 by
    // y 5−2+1 = 4 = 24 pixels; 40 pixels · 2 channels = 80 comparisons.
    let rois = floats(&[2, 5], &[0., 0., 0., 3., 3., 0., 2., 2., 7., 5.]);
    let pooled = a_ints("pooled_shape", &[2, 2]);
    let r = run1(
        "MaxRoiPool",
        &[f32t(&[1, 2, 8, 8]), rois],
        std::slice::from_ref(&pooled),
    );
    assert_eq!((r.shape.clone(), r.cost.flops), (vec![2, 2, 2, 2], 80));
    // RoIs known only at run time: the whole 8×8 map each, 2 · 2 · 64 = 256, with a warning.
    let r = run1(
        "MaxRoiPool",
        &[f32t(&[1, 2, 8, 8]), f32t(&[2, 5])],
        &[pooled],
    );
    assert_eq!(r.cost.flops, 256);
    assert_eq!(r.warnings.len(), 1);
    assert!(run_err("MaxRoiPool", &[f32t(&[1, 2, 8, 8]), f32t(&[2, 4])], &[]).contains("[R, 5]"));
}
