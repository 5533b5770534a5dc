//! Hand-computed tests of the `ai.onnx.ml` rules.
use super::super::testutil::*;
use crate::graph::{Attr, DType, Initializer, TensorData};
use crate::ops::{Cost, Tensor};

const ML: &str = "ai.onnx.ml";

fn floats_attr(n: &str, len: usize) -> (String, Attr) {
    (n.into(), Attr::Floats(vec![0.5; len]))
}
fn strs(n: &str, v: &[&str]) -> (String, Attr) {
    (
        n.into(),
        Attr::Strs(v.iter().map(|s| s.to_string()).collect()),
    )
}
fn s(shape: &[u64]) -> Tensor {
    Tensor::new(DType::Str, shape.to_vec())
}

#[test]
fn encoders_and_mappers_only_look_up() {
    // LabelEncoder: X's shape, the type of the values_* attribute set.
    let r = run_dom(
        ML,
        "LabelEncoder",
        &[s(&[5])],
        &[a_ints("values_int64s", &[1, 2])],
    );
    assert_eq!(
        (r.shape.clone(), r.outs[0].dtype, r.cost),
        (vec![5], DType::I64, Cost::default())
    );
    let t = Initializer {
        value: 0,
        dtype: DType::I16,
        dims: vec![2],
        data: TensorData::None,
    };
    let r = run_dom(
        ML,
        "LabelEncoder",
        &[i64t(&[5])],
        &[("values_tensor".into(), Attr::Tensor(Box::new(t)))],
    );
    assert_eq!(r.outs[0].dtype, DType::I16);
    // CategoryMapper turns strings into int64 and back.
    let r = run_dom(ML, "CategoryMapper", &[s(&[2, 3])], &[]);
    assert_eq!((r.shape, r.outs[0].dtype), (vec![2, 3], DType::I64));
    // ArrayFeatureExtractor: [3,4] with 2 indices → [3,2]; a vector gives one row [1,2].
    let r = run_dom(
        ML,
        "ArrayFeatureExtractor",
        &[f32t(&[3, 4]), i64t(&[2])],
        &[],
    );
    assert_eq!(r.shape, vec![3, 2]);
    let r = run_dom(ML, "ArrayFeatureExtractor", &[f32t(&[4]), i64t(&[2])], &[]);
    assert_eq!(r.shape, vec![1, 2]);
    // OneHotEncoder: [2,3] with 4 categories → [2,3,4] float.
    let r = run_dom(
        ML,
        "OneHotEncoder",
        &[i64t(&[2, 3])],
        &[a_ints("cats_int64s", &[1, 2, 3, 4])],
    );
    assert_eq!((r.shape, r.outs[0].dtype), (vec![2, 3, 4], DType::F32));
    // FeatureVectorizer: [2,3] and [2,1] → [2,4].
    let r = run_dom(
        ML,
        "FeatureVectorizer",
        &[i64t(&[2, 3]), f32t(&[2, 1])],
        &[a_ints("inputdimensions", &[3, 1])],
    );
    assert_eq!(
        (r.shape, r.outs[0].dtype, r.cost.flops),
        (vec![2, 4], DType::F32, 0)
    );
}

#[test]
fn feature_transforms_count_per_element() {
    // Binarizer: 1 comparison per element of [3,4,5] = 60; Imputer likewise.
    let r = run_dom(ML, "Binarizer", &[f32t(&[3, 4, 5])], &[]);
    assert_eq!((r.shape, r.cost.flops), (vec![3, 4, 5], 60));
    // Scaler: (x − offset) · scale on [2,3]: 12, float output from int64 input.
    let r = run_dom(ML, "Scaler", &[i64t(&[2, 3])], &[]);
    assert_eq!((r.outs[0].dtype, r.cost.flops), (DType::F32, 12));
    // Normalizer L2 on [2,3]: per row 3 squares + 3 adds + √ + 3 divisions = 10.
    let r = run_dom(ML, "Normalizer", &[f32t(&[2, 3])], &[a_str("norm", "L2")]);
    assert_eq!(r.cost.flops, 20);
}

#[test]
fn linear_models_are_products() {
    // LinearClassifier: X [4,3], 3 classes (9 coefficients), intercepts, SOFTMAX.
    // MACs 4·3·3 = 36; intercepts 12; per score softmax 5 + label pick 1: 12·6 = 72.
    let attrs = [
        floats_attr("coefficients", 9),
        floats_attr("intercepts", 3),
        a_ints("classlabels_ints", &[0, 1, 2]),
        a_str("post_transform", "SOFTMAX"),
    ];
    let r = run_dom(ML, "LinearClassifier", &[f32t(&[4, 3])], &attrs);
    assert_eq!((r.shape.clone(), r.outs[0].dtype), (vec![4], DType::I64));
    assert_eq!(r.outs[1].shape, Some(vec![4, 3]));
    assert_eq!((r.cost.macs, r.cost.flops), (36, 72 + 12 + 72));
    // Binary with one row of coefficients and two string labels: scores [4,2], labels strings.
    let attrs = [
        floats_attr("coefficients", 3),
        strs("classlabels_strings", &["a", "b"]),
    ];
    let r = run_dom(ML, "LinearClassifier", &[f32t(&[4, 3])], &attrs);
    assert_eq!(
        (r.outs[0].dtype, r.outs[1].shape.clone()),
        (DType::Str, Some(vec![4, 2]))
    );
    // LinearRegressor: X [4,3], 2 targets: 24 MACs, 8 intercept adds.
    let attrs = [
        floats_attr("coefficients", 6),
        floats_attr("intercepts", 2),
        a_int("targets", 2),
    ];
    let r = run_dom(ML, "LinearRegressor", &[f32t(&[4, 3])], &attrs);
    assert_eq!(
        (r.shape, r.cost.macs, r.cost.flops),
        (vec![4, 2], 24, 48 + 8)
    );
    let m = crate::ops::testutil::run_opt_err(
        ML,
        "LinearClassifier",
        &[Some(f32t(&[4, 3]))],
        &[floats_attr("coefficients", 7)],
    );
    assert!(m.contains("coefficients"), "{m}");
}

#[test]
fn svms_count_kernels_then_their_weighted_sums() {
    // SVMRegressor: X [2,3], 4 support vectors, RBF. 8 kernels: 3 MACs each + 1 MAC of the
    // weighted sum = 32 MACs; RBF 3 differences + 2 = 5 each = 40; ρ 2 adds.
    let attrs = [
        floats_attr("support_vectors", 12),
        floats_attr("coefficients", 4),
        a_int("n_supports", 4),
        a_str("kernel_type", "RBF"),
    ];
    let r = run_dom(ML, "SVMRegressor", &[f32t(&[2, 3])], &attrs);
    assert_eq!(
        (r.shape, r.cost.macs, r.cost.flops),
        (vec![2, 1], 32, 64 + 40 + 2)
    );
    // SVMClassifier: 3 classes, 4 support vectors, LINEAR, no probabilities: 3 pairwise scores.
    // Kernels 2·4·3 = 24 MACs, pairwise sums 2·2·4 = 16 MACs; ρ 2·3 = 6; label pick 6.
    let attrs = [
        floats_attr("support_vectors", 12),
        floats_attr("coefficients", 8),
        a_ints("vectors_per_class", &[1, 1, 2]),
        a_ints("classlabels_ints", &[0, 1, 2]),
    ];
    let r = run_dom(ML, "SVMClassifier", &[f32t(&[2, 3])], &attrs);
    assert_eq!(r.outs[1].shape, Some(vec![2, 3]));
    assert_eq!((r.cost.macs, r.cost.flops), (40, 80 + 6 + 6));
}

#[test]
fn tree_ensemble_counts_each_trees_depth() {
    // Tree A: node 0 → (node 1, leaf), node 1 → (leaf, leaf): depth 2. Tree B: node 2 with two
    // leaves: depth 1. 3 samples, 2 targets, SUM: 3·3 comparisons + 3·2 trees·2 targets adds.
    let attrs = [
        a_ints("tree_roots", &[0, 2]),
        a_ints("nodes_truenodeids", &[1, 0, 0]),
        a_ints("nodes_falsenodeids", &[0, 1, 1]),
        a_ints("nodes_trueleafs", &[0, 1, 1]),
        a_ints("nodes_falseleafs", &[1, 1, 1]),
        a_int("n_targets", 2),
    ];
    let x = Tensor::new(DType::F64, vec![3, 5]);
    let r = run_dom(ML, "TreeEnsemble", std::slice::from_ref(&x), &attrs);
    assert_eq!((r.shape, r.outs[0].dtype), (vec![3, 2], DType::F64));
    assert_eq!(r.cost, Cost::flops(9 + 12));
    // A child pointing back at the root is a cycle.
    let mut bad = attrs.to_vec();
    bad[1] = a_ints("nodes_truenodeids", &[1, 0, 0]);
    bad[3] = a_ints("nodes_trueleafs", &[0, 0, 1]);
    let m = crate::ops::testutil::run_opt_err(ML, "TreeEnsemble", &[Some(x)], &bad);
    assert!(m.contains("cycle"), "{m}");
}

#[test]
fn older_tree_ensembles_find_roots_and_leaves_by_id() {
    // Tree 0: id 0 compares, ids 1 and 2 are leaves (depth 1); tree 1: one leaf (depth 0).
    let nodes = [
        a_ints("nodes_treeids", &[0, 0, 0, 1]),
        a_ints("nodes_nodeids", &[0, 1, 2, 0]),
        strs("nodes_modes", &["BRANCH_LEQ", "LEAF", "LEAF", "LEAF"]),
        a_ints("nodes_truenodeids", &[1, 0, 0, 0]),
        a_ints("nodes_falsenodeids", &[2, 0, 0, 0]),
    ];
    // Regressor, X [4,2], AVERAGE: 4 comparisons, 4·2 trees adds, 4 divisions.
    let mut attrs = nodes.to_vec();
    attrs.push(a_str("aggregate_function", "AVERAGE"));
    let r = run_dom(ML, "TreeEnsembleRegressor", &[f32t(&[4, 2])], &attrs);
    assert_eq!((r.shape, r.cost.flops), (vec![4, 1], 4 + 8 + 4));
    // Classifier with 3 labels, LOGISTIC: 4 + 4·2·3 adds + 12 scores · (4 + 1 label pick).
    let mut attrs = nodes.to_vec();
    attrs.push(a_ints("classlabels_int64s", &[0, 1, 2]));
    attrs.push(a_str("post_transform", "LOGISTIC"));
    let r = run_dom(ML, "TreeEnsembleClassifier", &[f32t(&[4, 2])], &attrs);
    assert_eq!((r.shape, r.outs[0].dtype), (vec![4], DType::I64));
    assert_eq!(r.outs[1].shape, Some(vec![4, 3]));
    assert_eq!(r.cost.flops, 4 + 24 + 60);
}

#[test]
fn maps_become_tensors() {
    // A map of 4 entries (read as float [4]): dense [1, 4]; sparse with max_map 10: [1, 10].
    let m = f32t(&[4]);
    let r = run_dom("ai.onnx.ml", "CastMap", std::slice::from_ref(&m), &[]);
    assert_eq!(
        (r.shape, r.outs[0].dtype, r.cost.flops),
        (vec![1, 4], DType::F32, 0)
    );
    let r = run_dom(
        "ai.onnx.ml",
        "CastMap",
        std::slice::from_ref(&m),
        &[
            a_str("map_form", "SPARSE"),
            a_int("max_map", 10),
            a_str("cast_to", "TO_INT64"),
        ],
    );
    assert_eq!((r.shape, r.outs[0].dtype), (vec![1, 10], DType::I64));
    // DictVectorizer: [1, vocabulary size] of the map's value type.
    let r = run_dom(
        "ai.onnx.ml",
        "DictVectorizer",
        &[m],
        &[strs("string_vocabulary", &["a", "b"])],
    );
    assert_eq!((r.shape, r.outs[0].dtype), (vec![1, 2], DType::F32));
    // ZipMap of [2, 3] with 3 labels: 2 maps of 3 entries; 2 labels for 3 columns is refused.
    let r = run_dom(
        "ai.onnx.ml",
        "ZipMap",
        &[f32t(&[2, 3])],
        &[strs("classlabels_strings", &["u", "v", "w"])],
    );
    let s = r.outs[0].seq.as_ref().expect("a sequence");
    assert_eq!(s.elems.as_ref().map(Vec::len), Some(2));
    assert_eq!(r.outs[0].shape, Some(vec![3]));
    let e = run_opt_err(
        "ai.onnx.ml",
        "ZipMap",
        &[Some(f32t(&[2, 3]))],
        &[strs("classlabels_strings", &["u", "v"])],
    );
    assert!(e.contains("2 class labels for 3 columns"), "{e}");
}
