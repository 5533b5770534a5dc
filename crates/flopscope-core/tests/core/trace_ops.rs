//! Operators that stock model libraries call and that once had no rule in a trace: torchvision's
//! `roi_align` and `nms` (detection models), `_weight_norm_interface`
//! (`torch.nn.utils.parametrizations.weight_norm`), `scatter` (mixture-of-experts routing),
//! `nonzero` and `_unsafe_index`. Each document is written by hand in the shape
//! `python/flopscope/_capture.py` records, and each count is worked out in its test from the
//! operator's kernel and the rule in `docs/counting.md`.

use flopscope_core::{profile_bytes, Options, Profile};
use serde_json::{json, Value};

/// A trace of `calls` over `values` (the last value is the output).
fn doc(values: Value, calls: Value) -> Value {
    let last = values.as_array().map_or(0, |v| v.len()) - 1;
    json!({"schema": "flopscope.trace/1", "name": "ops", "values": values,
           "calls": calls, "outputs": [last]})
}

fn run(d: &Value) -> flopscope_core::Result<Profile> {
    profile_bytes(&serde_json::to_vec(d).unwrap(), &Options::default())
}

fn supported(d: &Value) -> Profile {
    let p = run(d).unwrap();
    assert!(p.unsupported.is_empty(), "unsupported: {:?}", p.unsupported);
    assert_eq!(p.totals.nodes_cost_unknown, 0);
    p
}

/// `torchvision::roi_align` of x [2, 4, 16, 16] with 3 RoIs [3, 5] to 7×7 bins.
fn roi_align(sampling_ratio: i64, aligned: bool) -> Value {
    doc(
        json!([
            {"name": "x", "dtype": "float32", "shape": [2, 4, 16, 16], "role": "input"},
            {"name": "rois", "dtype": "float32", "shape": [3, 5], "role": "input"},
            {"dtype": "float32", "shape": [3, 4, 7, 7]}
        ]),
        json!([{"op": "torchvision.roi_align.default", "scope": ["pool"],
                "args": {"input": {"v": 0}, "rois": {"v": 1}, "spatial_scale": 0.25,
                         "pooled_height": 7, "pooled_width": 7,
                         "sampling_ratio": sampling_ratio, "aligned": aligned},
                "outputs": [2]}]),
    )
}

#[test]
fn roi_align_counts_its_bilinear_samples() {
    // torchvision's kernel (roi_align_kernel.cpp): for each RoI, channel and bin it averages a
    // grid of `sampling_ratio`² bilinear samples: each interpolated (9 FLOPs, RoiAlign's
    // convention: Resize's 3·(2² − 1)) and added (1), then one division per bin.
    // Bins: K·C·ph·pw = 3·4·7·7 = 588; samples per bin 2² = 4.
    // FLOPs = 588·(4·(9 + 1) + 1) = 588·41 = 24,108; no products.
    let p = supported(&roi_align(2, true));
    assert_eq!(p.totals.macs, 0);
    assert_eq!(p.totals.flops, 24_108);
    let layer = p
        .layers
        .iter()
        .find(|l| l.op == "RoiAlign")
        .expect("RoiAlign");
    assert_eq!(layer.outputs[0], Some(vec![3, 4, 7, 7]));
    assert_eq!(layer.scope, vec!["pool".to_string()]);
}

#[test]
fn roi_align_with_an_adaptive_grid_counts_each_roi_at_the_whole_feature_map() {
    // sampling_ratio −1 (torchvision's default): the grid is ⌈roi_h / 7⌉ × ⌈roi_w / 7⌉ per
    // RoI, known only from the RoI values, which a trace does not keep. Counted at the
    // largest RoI, the whole 16×16 map: ⌈16/7⌉·⌈16/7⌉ = 3·3 = 9 samples per bin, as ONNX
    // RoiAlign with run-time RoIs. FLOPs = 588·(9·10 + 1) = 588·91 = 53,508.
    let p = supported(&roi_align(-1, false));
    assert_eq!(p.totals.flops, 53_508);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("known only at run time")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn roi_align_with_rois_that_are_not_k_by_5_is_an_error() {
    let mut d = roi_align(2, true);
    d["values"][1]["shape"] = json!([3, 4]);
    let e = run(&d).unwrap_err().to_string();
    assert!(e.contains("rois [3, 4] are not [K, 5]"), "{e}");
}

/// `torchvision::nms` of `n` boxes keeping `kept`.
fn nms(n: u64, kept: u64) -> Value {
    doc(
        json!([
            {"name": "boxes", "dtype": "float32", "shape": [n, 4], "role": "input"},
            {"name": "scores", "dtype": "float32", "shape": [n], "role": "input"},
            {"dtype": "int64", "shape": [kept]}
        ]),
        json!([{"op": "torchvision.nms.default",
                "args": {"dets": {"v": 0}, "scores": {"v": 1}, "iou_threshold": 0.5},
                "outputs": [2]}]),
    )
}

#[test]
fn nms_counts_the_iou_tests_of_the_boxes_it_kept() {
    // torchvision's kernel (nms_kernel.cpp) walks the boxes by decreasing score; each box not
    // yet suppressed is kept and tested against every later box not yet suppressed. The r-th
    // box kept (from 0) tests at most N − 1 − r boxes: with N = 6 and K = 2 kept,
    // 5 + 4 = 9 tests (= K·(2N − K − 1)/2 = 2·9/2), at 11 FLOPs each (ONNX
    // NonMaxSuppression's IoU: 4 max/min, 2 differences, 1 product, 3 for the union, 1
    // division): 99.
    let p = supported(&nms(6, 2));
    assert_eq!(p.totals.macs, 0);
    assert_eq!(p.totals.flops, 99);
    // Every box kept: all N·(N − 1)/2 = 15 pairs, ONNX NonMaxSuppression's count for one
    // batch and class: 15·11 = 165.
    assert_eq!(supported(&nms(6, 6)).totals.flops, 165);
    // One box kept out of one: no test.
    assert_eq!(supported(&nms(1, 1)).totals.flops, 0);
}

#[test]
fn nms_keeping_more_boxes_than_it_was_given_is_an_error() {
    let e = run(&nms(3, 4)).unwrap_err().to_string();
    assert!(e.contains("4 boxes kept of 3"), "{e}");
}

#[test]
fn weight_norm_counts_its_norm_and_its_scale() {
    // A weight-normed Conv2d(4, 8, 3, padding=1, bias=False) on x [1, 4, 5, 5]:
    // `_weight_norm_interface(v [8, 4, 3, 3], g [8, 1, 1, 1], dim=0)` → (w, norm).
    // numel(v) = 288, numel(g) = 8.
    // norm = ‖v‖₂ over dims 1..3 (ONNX ReduceL2): a square and an add per element of v and a
    //   square root per norm: 2·288 + 8 = 584;
    // scale = g / norm: 8; w = v · scale: 288. Weight norm: 584 + 8 + 288 = 880 FLOPs.
    // Conv: numel(Y) = 8·5·5 = 200 outputs · 4·3·3 = 36 MACs each = 7,200 MACs.
    // FLOPs = 880 + 2·7,200 = 15,280. Parameters v and g: 288 + 8 = 296.
    let d = doc(
        json!([
            {"name": "x", "dtype": "float32", "shape": [1, 4, 5, 5], "role": "input"},
            {"name": "conv.parametrizations.weight.original0", "dtype": "float32",
             "shape": [8, 1, 1, 1], "role": "param"},
            {"name": "conv.parametrizations.weight.original1", "dtype": "float32",
             "shape": [8, 4, 3, 3], "role": "param"},
            {"dtype": "float32", "shape": [8, 4, 3, 3]},
            {"dtype": "float32", "shape": [8, 1, 1, 1]},
            {"dtype": "float32", "shape": [1, 8, 5, 5]}
        ]),
        json!([
            {"op": "aten._weight_norm_interface.default", "scope": ["conv"],
             "args": {"v": {"v": 2}, "g": {"v": 1}, "dim": 0}, "outputs": [3, 4]},
            {"op": "aten.convolution.default", "scope": ["conv"],
             "args": {"input": {"v": 0}, "weight": {"v": 3}, "bias": null,
                      "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1],
                      "transposed": false, "output_padding": [0, 0], "groups": 1},
             "outputs": [5]}
        ]),
    );
    let p = supported(&d);
    assert_eq!(p.totals.params, 296);
    assert_eq!(p.totals.macs, 7_200);
    assert_eq!(p.totals.flops, 15_280);
    let norm = p
        .layers
        .iter()
        .find(|l| l.op == "ReduceL2")
        .expect("ReduceL2");
    assert_eq!(norm.outputs[0], Some(vec![8, 1, 1, 1]));
    assert_eq!(norm.flops, Some(584));
}

#[test]
fn weight_norm_along_the_last_dim_reduces_the_others() {
    // v [3, 5], g [1, 5], dim −1 (= 1): norms over dim 0, one per column, [1, 5].
    // ReduceL2 2·15 + 5 = 35, Div 5, Mul 15: 55 FLOPs.
    let d = doc(
        json!([
            {"name": "g", "dtype": "float32", "shape": [1, 5], "role": "param"},
            {"name": "v", "dtype": "float32", "shape": [3, 5], "role": "param"},
            {"dtype": "float32", "shape": [1, 5]},
            {"dtype": "float32", "shape": [3, 5]}
        ]),
        json!([{"op": "aten._weight_norm_interface.default",
                "args": {"v": {"v": 1}, "g": {"v": 0}, "dim": -1}, "outputs": [3, 2]}]),
    );
    assert_eq!(supported(&d).totals.flops, 55);
}

/// x [2, 8] → zeros_like → `middle` (output value 3, index value 1 [2, 2], src value 2 [2, 2]).
fn scatter(middle: Value) -> Value {
    doc(
        json!([
            {"name": "x", "dtype": "float32", "shape": [2, 8], "role": "input"},
            {"name": "idx", "dtype": "int64", "shape": [2, 2], "role": "input"},
            {"name": "w", "dtype": "float32", "shape": [2, 2], "role": "input"},
            {"dtype": "float32", "shape": [2, 8]},
            {"dtype": "float32", "shape": [2, 8]}
        ]),
        json!([
            {"op": "aten.zeros_like.default", "args": {"self": {"v": 0}}, "outputs": [3]},
            middle
        ]),
    )
}

#[test]
fn scatter_writes_without_arithmetic_unless_it_reduces() {
    // DeepSeek-style routing: zeros_like(scores).scatter_(1, topk_idx, topk_weight). Writing
    // values is data movement, as ONNX ScatterElements: 0 FLOPs.
    let plain = json!({"op": "aten.scatter_.src",
        "args": {"self": {"v": 3}, "dim": 1, "index": {"v": 1}, "src": {"v": 2}},
        "outputs": [4]});
    let p = supported(&scatter(plain));
    assert_eq!((p.totals.macs, p.totals.flops), (0, 0));
    let value = json!({"op": "aten.scatter.value",
        "args": {"self": {"v": 3}, "dim": 1, "index": {"v": 1}, "value": 1.0},
        "outputs": [4]});
    assert_eq!(supported(&scatter(value)).totals.flops, 0);
    // reduce="add": each of the numel(index) = 4 elements adds one value: 4 FLOPs.
    let add = json!({"op": "aten.scatter_.reduce",
        "args": {"self": {"v": 3}, "dim": 1, "index": {"v": 1}, "src": {"v": 2},
                 "reduce": "add"},
        "outputs": [4]});
    assert_eq!(supported(&scatter(add)).totals.flops, 4);
    // scatter_reduce "mean": 4 combined, then each of the 2·8 = 16 outputs divided: 20.
    let mean = json!({"op": "aten.scatter_reduce.two",
        "args": {"self": {"v": 3}, "dim": 1, "index": {"v": 1}, "src": {"v": 2},
                 "reduce": "mean", "include_self": true},
        "outputs": [4]});
    assert_eq!(supported(&scatter(mean)).totals.flops, 20);
}

#[test]
fn nonzero_and_unsafe_index_move_data_only() {
    // nonzero(mask [10]) → [k, 1] positions (ONNX NonZero: 0), then x[idx] through
    // `_unsafe_index` (what indexing decompositions call): 0.
    let d = doc(
        json!([
            {"name": "mask", "dtype": "bool", "shape": [10], "role": "input"},
            {"name": "x", "dtype": "float32", "shape": [10, 3], "role": "input"},
            {"dtype": "int64", "shape": [4, 1]},
            {"dtype": "int64", "shape": [4]},
            {"dtype": "float32", "shape": [4, 3]}
        ]),
        json!([
            {"op": "aten.nonzero.default", "args": {"self": {"v": 0}}, "outputs": [2]},
            {"op": "aten.view.default", "args": {"self": {"v": 2}, "size": [4]},
             "outputs": [3]},
            {"op": "aten._unsafe_index.Tensor",
             "args": {"self": {"v": 1}, "indices": [{"v": 3}]}, "outputs": [4]}
        ]),
    );
    let p = supported(&d);
    assert_eq!((p.totals.macs, p.totals.flops), (0, 0));
}

#[test]
fn unique_costs_a_comparison_per_element_and_index_fill_and_eye_nothing() {
    // torchvision's batched NMS: `torch.unique(labels)` (`_unique2`), as ONNX Unique one
    // comparison per input element: 12. A detection head's `index_fill_` writes a value at
    // given rows, `eye` makes an identity matrix: data movement, 0.
    let d = doc(
        json!([
            {"name": "labels", "dtype": "int64", "shape": [12], "role": "input"},
            {"name": "x", "dtype": "float32", "shape": [5, 3], "role": "input"},
            {"name": "rows", "dtype": "int64", "shape": [2], "role": "input"},
            {"dtype": "int64", "shape": [4]},
            {"dtype": "int64", "shape": [0]},
            {"dtype": "int64", "shape": [0]},
            {"dtype": "float32", "shape": [3, 3]},
            {"dtype": "float32", "shape": [5, 3]}
        ]),
        json!([
            {"op": "aten._unique2.default",
             "args": {"self": {"v": 0}, "sorted": true, "return_inverse": false,
                      "return_counts": false},
             "outputs": [3, 4, 5]},
            {"op": "aten.eye.default", "args": {"n": 3}, "outputs": [6]},
            {"op": "aten.index_fill_.int_Scalar",
             "args": {"self": {"v": 1}, "dim": 0, "index": {"v": 2}, "value": 0.0},
             "outputs": [7]}
        ]),
    );
    let p = supported(&d);
    assert_eq!((p.totals.macs, p.totals.flops), (0, 12));
}

#[test]
fn all_and_any_cost_a_logical_operation_per_element() {
    // timm's gemma4_vit_167m_enc pooler checks `mask.all()` on a [1, 2] mask: one AND per
    // element (as ONNX And, 1 per element), 2; `any` over dim 1 of [3, 4]: one OR each, 12.
    let d = doc(
        json!([
            {"name": "mask", "dtype": "bool", "shape": [1, 2], "role": "input"},
            {"name": "m", "dtype": "bool", "shape": [3, 4], "role": "input"},
            {"dtype": "bool", "shape": []},
            {"dtype": "bool", "shape": [3]}
        ]),
        json!([
            {"op": "aten.all.default", "args": {"self": {"v": 0}}, "outputs": [2]},
            {"op": "aten.any.dim", "args": {"self": {"v": 1}, "dim": 1, "keepdim": false},
             "outputs": [3]}
        ]),
    );
    let p = supported(&d);
    assert_eq!((p.totals.macs, p.totals.flops), (0, 14));
}
