//! A size that depends on the data (NonZero's count of non-zeros) is a symbol named after its
//! node: counted at its largest value, bound with `--dim`, and kept in the formulas, so the
//! graph after it is counted instead of dropped.

use flopscope_core::builder::{ints, Builder};
use flopscope_core::graph::{DType, Dim};
use flopscope_core::schema::{ModelInfo, WeightsStatus};
use flopscope_core::{profile_graph, Options};

/// x [4, 6] → NonZero [2, n] → Transpose [n, 2] → MatMul by w [2, 8]: n · 2 · 8 MACs.
fn graph() -> (flopscope_core::graph::Graph, String) {
    let mut b = Builder::new("nonzero");
    let x = b.input("x", DType::F32, vec![Dim::Known(4), Dim::Known(6)]);
    let nz = b.op("NonZero", &[x], vec![]);
    let t = b.op("Transpose", &[nz], vec![("perm", ints(&[1, 0]))]);
    let f = b.op(
        "Cast",
        &[t],
        vec![("to", flopscope_core::graph::Attr::Int(1))],
    );
    let w = b.weight("w", &[2, 8]);
    let y = b.op("MatMul", &[f, w], vec![]);
    b.output(y);
    let g = b.finish();
    let name = g.nodes[0].name.clone();
    (g, format!("{name}.n"))
}

fn info(g: &flopscope_core::graph::Graph) -> ModelInfo {
    ModelInfo {
        source: "nonzero".into(),
        producer: String::new(),
        ir_version: 0,
        opset: g.opset(),
        nodes: g.nodes.len(),
        weights: WeightsStatus::Builtin,
        file_bytes: 0,
    }
}

#[test]
fn a_data_dependent_size_is_a_symbol_counted_at_its_largest() {
    let (g, sym) = graph();
    let p = profile_graph(&g, info(&g), &Options::default()).unwrap();
    // At most 4 · 6 = 24 non-zeros: 24 · 2 · 8 = 384 MACs, and 16 per non-zero.
    assert_eq!(p.totals.macs, 384);
    assert_eq!(p.totals.nodes_cost_unknown, 0);
    assert_eq!(p.bindings[&sym], 24);
    let f = p.formulas.expect("formulas");
    assert_eq!(f.symbols, vec![sym.clone()]);
    assert_eq!(f.macs.eval(&[5]), Some(80));
    assert!(
        p.warnings.iter().any(|w| w.contains(&sym)),
        "{:?}",
        p.warnings
    );
}

#[test]
fn a_data_dependent_size_can_be_bound() {
    let (g, sym) = graph();
    let opts = Options {
        dims: vec![(sym.clone(), 5)],
        ..Options::default()
    };
    let p = profile_graph(&g, info(&g), &opts).unwrap();
    assert_eq!(p.totals.macs, 5 * 2 * 8);
    assert!(p.formulas.is_none());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

/// NonMaxSuppression over boxes [1, 5, 4] and scores [1, 2, 5], at most 3 boxes per class:
/// selected_indices [n, 3] with n ≤ 1 · 2 · 3 = 6; every pair of boxes of a class compared,
/// 10 pairs × 2 classes × 11 FLOPs = 220. A TopK whose `k` is that count (through Shape and
/// Slice) follows the symbol's value, so nothing after NonMaxSuppression is unknown.
#[test]
fn nms_and_a_runtime_topk_k_are_symbols_too() {
    let mut b = Builder::new("nms");
    let boxes = b.input(
        "boxes",
        DType::F32,
        vec![Dim::Known(1), Dim::Known(5), Dim::Known(4)],
    );
    let scores = b.input(
        "scores",
        DType::F32,
        vec![Dim::Known(1), Dim::Known(2), Dim::Known(5)],
    );
    let max_out = b.const_i64(&[3]);
    let sel = b.op("NonMaxSuppression", &[boxes, scores, max_out], vec![]);
    let shape = b.op("Shape", &[sel], vec![]);
    let zero = b.const_i64(&[0]);
    let one = b.const_i64(&[1]);
    let count = b.op("Slice", &[shape, zero, one], vec![]);
    let f = b.op(
        "Cast",
        &[sel],
        vec![("to", flopscope_core::graph::Attr::Int(1))],
    );
    let t = b.op("Transpose", &[f], vec![("perm", ints(&[1, 0]))]);
    let top = b.op_n(
        "TopK",
        &[t, count],
        vec![("axis", flopscope_core::graph::Attr::Int(1))],
        2,
    );
    b.output(top[0]);
    let g = b.finish();
    let p = profile_graph(&g, info(&g), &Options::default()).unwrap();
    let nms = &g
        .nodes
        .iter()
        .find(|n| n.op_type == "NonMaxSuppression")
        .unwrap()
        .name;
    assert_eq!(p.bindings[&format!("{nms}.n")], 6);
    let nms_layer = p
        .layers
        .iter()
        .find(|l| l.op == "NonMaxSuppression")
        .unwrap();
    assert_eq!(nms_layer.flops, Some(220));
    assert_eq!(nms_layer.outputs, vec![Some(vec![6, 3])]);
    assert_eq!(p.totals.nodes_cost_unknown, 0, "{:?}", p.unsupported);
}

/// n (a run-time int64 scalar) → Range(0, n, 1) [d0] → Cast → Unsqueeze [d0, 1] → MatMul by
/// w [1, 8]: 8 · d0 MACs. Nothing bounds d0: counted at 1, and the formula keeps it.
#[test]
fn a_size_nothing_bounds_is_counted_at_one_with_a_formula() {
    let mut b = Builder::new("range");
    let n = b.input("n", DType::I64, vec![]);
    let zero = b.const_i64(&[0]);
    let one = b.const_i64(&[1]);
    // Scalars for Range: Squeeze the 1-element constants.
    let zero = b.op("Squeeze", &[zero], vec![]);
    let one = b.op("Squeeze", &[one], vec![]);
    let r = b.op("Range", &[zero, n, one], vec![]);
    let f = b.op(
        "Cast",
        &[r],
        vec![("to", flopscope_core::graph::Attr::Int(1))],
    );
    let ax = b.const_i64(&[1]);
    let col = b.op("Unsqueeze", &[f, ax], vec![]);
    let w = b.weight("w", &[1, 8]);
    let y = b.op("MatMul", &[col, w], vec![]);
    b.output(y);
    let g = b.finish();
    let range = g
        .nodes
        .iter()
        .find(|n| n.op_type == "Range")
        .unwrap()
        .name
        .clone();
    let sym = format!("{range}.d0");
    let p = profile_graph(&g, info(&g), &Options::default()).unwrap();
    assert_eq!(p.totals.macs, 8);
    assert_eq!(p.totals.nodes_cost_unknown, 0, "{:?}", p.unsupported);
    assert_eq!(p.bindings[&sym], 1);
    let f = p.formulas.expect("formulas");
    assert_eq!(f.symbols, vec![sym.clone()]);
    assert_eq!(f.macs.eval(&[100]), Some(800));
    assert!(p
        .warnings
        .iter()
        .any(|w| w.contains(&sym) && w.contains("counted at 1")));
    // Bound by the user, it is counted as given.
    let opts = Options {
        dims: vec![(sym, 50)],
        ..Options::default()
    };
    assert_eq!(profile_graph(&g, info(&g), &opts).unwrap().totals.macs, 400);
}

/// x [2, 4] → Reshape to a run-time shape of length 2 → MatMul by w [4, 3]. Counted at 1 the
/// reshaped [d0, d1] contradicts the MatMul's inner dim 4: the guess is dropped, the Reshape
/// and the MatMul stay unknown (as before any guess) and a warning says why. No error, no
/// made-up count.
#[test]
fn a_guess_that_contradicts_the_graph_is_dropped() {
    let mut b = Builder::new("reshape");
    let x = b.input("x", DType::F32, vec![Dim::Known(2), Dim::Known(4)]);
    let s = b.input("s", DType::I64, vec![Dim::Known(2)]);
    let r = b.op("Reshape", &[x, s], vec![]);
    let w = b.weight("w", &[4, 3]);
    let y = b.op("MatMul", &[r, w], vec![]);
    b.output(y);
    let g = b.finish();
    let p = profile_graph(&g, info(&g), &Options::default()).unwrap();
    assert_eq!(p.totals.nodes_cost_unknown, 2, "{:?}", p.layers);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("left unknown") && w.contains(".d0")),
        "{:?}",
        p.warnings
    );
    // Bound by the user to [2, 4]: 2 · 4 · 3 MACs.
    let r = g
        .nodes
        .iter()
        .find(|n| n.op_type == "Reshape")
        .unwrap()
        .name
        .clone();
    let opts = Options {
        dims: vec![(format!("{r}.d0"), 2), (format!("{r}.d1"), 4)],
        ..Options::default()
    };
    assert_eq!(profile_graph(&g, info(&g), &opts).unwrap().totals.macs, 24);
}
