//! A traced module's layer names (its `named_modules()` names, `#k` for a module's further
//! nodes, the ATen operator at the root) and its bookkeeping nodes (views, `detach`,
//! constants) folded into the layers around them, every count kept (`flopscope_core::fold`).

use flopscope_core::schema::Layer;
use flopscope_core::{profile_bytes, Options, Profile};
use serde_json::{json, Value};

fn run(doc: &Value) -> Profile {
    // The schema first: a trace is told from other formats by its first bytes.
    let mut text = doc.to_string();
    if !text.starts_with("{\"schema\"") {
        let body = text.trim_start_matches('{').to_string();
        text = format!("{{\"schema\":\"flopscope.trace/1\",{body}");
    }
    profile_bytes(text.as_bytes(), &Options::default()).expect("the trace profiles")
}

fn names(p: &Profile) -> Vec<&str> {
    p.layers.iter().map(|l| l.name.as_str()).collect()
}

fn folded(l: &Layer) -> Vec<&str> {
    l.folded.iter().map(|f| f.op.as_str()).collect()
}

/// x [2, 4] → fc (w [3, 4] through `t`, mm) → act (relu, detach, relu again) → a root view
/// to [6] → a root add.
fn doc() -> Value {
    json!({
        "name": "names",
        "values": [
            {"name": "x", "dtype": "float32", "shape": [2, 4], "role": "input"},
            {"name": "fc.weight", "dtype": "float32", "shape": [3, 4], "role": "param"},
            {"dtype": "float32", "shape": [4, 3]},
            {"dtype": "float32", "shape": [2, 3]},
            {"dtype": "float32", "shape": [2, 3]},
            {"dtype": "float32", "shape": [2, 3]},
            {"dtype": "float32", "shape": [2, 3]},
            {"dtype": "float32", "shape": [6]},
            {"dtype": "float32", "shape": [6]}
        ],
        "calls": [
            {"op": "aten.t.default", "scope": ["fc"], "args": {"self": {"v": 1}}, "outputs": [2]},
            {"op": "aten.mm.default", "scope": ["fc"],
             "args": {"self": {"v": 0}, "mat2": {"v": 2}}, "outputs": [3]},
            {"op": "aten.relu.default", "scope": ["act"], "args": {"self": {"v": 3}},
             "outputs": [4]},
            {"op": "aten.detach.default", "scope": ["act"], "args": {"self": {"v": 4}},
             "outputs": [5]},
            {"op": "aten.relu.default", "scope": ["act"], "args": {"self": {"v": 4}},
             "outputs": [6]},
            {"op": "aten.view.default", "scope": [], "args": {"self": {"v": 6}, "size": [6]},
             "outputs": [7]},
            {"op": "aten.add.Tensor", "scope": [],
             "args": {"self": {"v": 7}, "other": {"v": 7}}, "outputs": [8]}
        ],
        "outputs": [8]
    })
}

#[test]
fn layers_are_named_by_module_and_bookkeeping_is_folded() {
    let p = run(&doc());
    // The module's name; its second node `#2`; the root's add by its operator. The `t`, the
    // `detach` and the view are no rows.
    assert_eq!(names(&p), ["fc", "act", "act#2", "add"]);
    let ops: Vec<&str> = p.layers.iter().map(|l| l.op.as_str()).collect();
    assert_eq!(ops, ["MatMul", "Relu", "Relu", "Add"]);
    // The weight's `t` ran before the mm that reads it (nothing made its input); the detach
    // and the view follow the relu whose output they view.
    assert_eq!(folded(&p.layers[0]), ["t"]);
    assert_eq!(folded(&p.layers[1]), ["detach"]);
    assert_eq!(folded(&p.layers[2]), ["view"]);
    assert!(p.layers[0].folded[0].before && !p.layers[2].folded[0].before);
    // Shapes are kept: the row's own output, the folded view's beside it.
    assert_eq!(p.layers[2].outputs, vec![Some(vec![2, 3])]);
    assert_eq!(p.layers[2].folded[0].outputs, vec![Some(vec![6])]);
    assert_eq!(p.layers[3].inputs, vec![Some(vec![6]), Some(vec![6])]);
    // Counts by hand: mm 2·4·3 = 24 MACs, 48 FLOPs; each relu 6, the add 6: 66 FLOPs. The
    // weight's 12 parameters are the mm's (through its `t`).
    assert_eq!(
        (p.totals.macs, p.totals.flops, p.totals.params),
        (24, 66, 12)
    );
    let flops: Vec<Option<u64>> = p.layers.iter().map(|l| l.flops).collect();
    assert_eq!(flops, [Some(48), Some(6), Some(6), Some(6)]);
    assert_eq!(p.layers[0].params, 12);
    // Bytes: the rows add up to the totals (views move nothing).
    let written: u64 = p.layers.iter().map(|l| l.bytes_written).sum();
    assert_eq!(written, p.totals.bytes_written);
    // Four float32 outputs of 6 elements: mm, relu, relu, add.
    assert_eq!(p.totals.bytes_written, 4 * 6 * 4);
    // The graph's nodes are all still counted.
    assert_eq!(p.totals.nodes, 7);
}

#[test]
fn the_json_lists_the_folded_nodes_and_keeps_module_names() {
    let p = run(&doc());
    let j = serde_json::to_value(&p).unwrap();
    let act2 = &j["layers"][2];
    assert_eq!(act2["name"], "act#2");
    assert_eq!(act2["scope"], json!(["act"]));
    assert_eq!(
        act2["folded"],
        json!([{"name": "view", "op": "view", "domain": "aten",
                                       "outputs": [[6]]}])
    );
    // A layer with nothing folded has no `folded` field (ONNX files never have one).
    assert!(j["layers"][3].get("folded").is_none());
}

/// The recorded training step of a small CNN (`tests/data/traces/tiny_cnn_train.json`):
/// conv → bn (training mode) → relu → pool (mean) → flatten (a view module) → fc, the loss
/// `sum`, then the backward pass, each backward call in the module it differentiates.
#[test]
fn a_training_step_names_backward_nodes_by_their_module() {
    let bytes = std::fs::read(crate::common::data().join("traces/tiny_cnn_train.json")).unwrap();
    let p = profile_bytes(&bytes, &Options::default()).unwrap();
    let name_op: Vec<(&str, &str)> = (p.layers.iter())
        .map(|l| (l.name.as_str(), l.op.as_str()))
        .collect();
    assert_eq!(
        name_op,
        [
            ("conv", "Conv"),
            // bn's `num_batches_tracked += 1` and its `empty` are folded: bn is its norm.
            ("bn", "BatchNormalization"),
            ("relu", "Relu"),
            ("pool", "ReduceMean"),
            ("fc", "Gemm"),
            ("sum", "ReduceSum"),
            // Backward: the loss's gradient at the root, then each module's, `#k` after its
            // forward node; the op says what ran.
            ("ones_like", "ones_like"),
            ("fc#2", "MatMul"),
            ("fc#3", "MatMul"),
            ("fc#4", "ReduceSum"),
            ("pool#2", "Div"),
            ("relu#2", "threshold_backward"),
            ("bn#2", "batch_norm_backward"),
            ("conv#2", "convolution_backward"),
        ]
    );
    // flatten only views: no row, its view is the pool's (forward) and fc's gradient's.
    assert!(p
        .layers
        .iter()
        .all(|l| l.scope.last().map(String::as_str) != Some("flatten")));
    // The forward rows end where the backward rows begin: nothing crosses.
    let fwd = &p.layers[..6];
    let forward_folds: Vec<Vec<&str>> = fwd.iter().map(folded).collect();
    // bn: the scalar 1 made for `add_`, the add, the `empty`; pool (a mean over H and W):
    // the constant of its 2 axes, then flatten's view; fc: the weight's `t`.
    let none: Vec<&str> = vec![];
    let (bn, pool) = (vec!["Constant", "Add", "empty"], vec!["Constant", "view"]);
    assert_eq!(
        forward_folds,
        [none.clone(), bn, none.clone(), pool, vec!["t"], none]
    );
    let macs: u64 = fwd.iter().map(|l| l.macs.unwrap()).sum();
    assert_eq!(macs, p.totals.macs);
    // Every name is unique.
    let mut seen = std::collections::HashSet::new();
    assert!(p.layers.iter().all(|l| seen.insert(&l.name)));
}
