//! Run-time sizes: which axes become symbols, and what bounds them, worked out by hand.

use super::super::testutil::*;
use super::super::{Bodies, Cost, Ctx, OpError, Tensor};
use crate::graph::{Attr, DType, Graph, Node};
use std::cell::RefCell;

/// Binds every asked symbol to 7 and records (symbol, bound) as the profile would see them.
struct Bind(RefCell<Vec<(String, Option<u64>)>>);

impl Bodies for Bind {
    fn analyze(&self, _: &Graph, _: Vec<Tensor>) -> super::super::BodyOutcome {
        Err(OpError::Unknown)
    }
    fn data_dim(&self, s: &str, largest: u64) -> Option<u64> {
        self.0.borrow_mut().push((s.into(), Some(largest)));
        Some(largest.min(7))
    }
    fn free_dim(&self, s: &str) -> Option<u64> {
        self.0.borrow_mut().push((s.into(), None));
        Some(7)
    }
}

/// Symbols asked, with their bound.
type Asked = Vec<(String, Option<u64>)>;

/// The fallback for `op` on `inputs`: output shapes and the symbols asked.
fn run(
    op: &str,
    inputs: &[Tensor],
    attrs: &[(String, Attr)],
    outputs: usize,
) -> (Vec<Vec<u64>>, Asked) {
    let node = Node {
        name: "n".into(),
        op_type: op.into(),
        domain: String::new(),
        inputs: (0..inputs.len()).map(Some).collect(),
        outputs: (0..outputs).map(|i| Some(100 + i)).collect(),
        attrs: attrs.iter().cloned().collect(),
        scope: vec![],
    };
    let bind = Bind(RefCell::new(vec![]));
    let warnings = RefCell::new(vec![]);
    let cx = Ctx {
        node: &node,
        inputs: inputs.iter().map(Some).collect(),
        opset: 18,
        bodies: &bind,
        warnings: &warnings,
    };
    // The rule itself cannot say: the values it needs are unknown.
    let def = super::super::lookup("", op).expect("rule");
    assert!(matches!((def.infer)(&cx), Err(OpError::Unknown)), "{op}");
    let outs = super::infer(&cx).expect("a fallback").expect("shapes");
    assert_eq!(
        (def.cost)(&cx, &outs).map(|c| c == Cost::default()),
        Ok(true)
    );
    let shapes = outs.iter().map(|t| t.shape.clone().unwrap()).collect();
    (shapes, bind.0.into_inner())
}

fn free(names: &[&str]) -> Asked {
    names.iter().map(|n| (format!("n.{n}"), None)).collect()
}

#[test]
fn reshape_to_a_runtime_shape() {
    // Target of length 3: three free dims. Length 1: all 24 elements, exactly, no symbol.
    let (s, asked) = run("Reshape", &[f32t(&[2, 3, 4]), i64t(&[3])], &[], 1);
    assert_eq!(
        (s[0].clone(), asked),
        (vec![7, 7, 7], free(&["d0", "d1", "d2"]))
    );
    let (s, asked) = run("Reshape", &[f32t(&[2, 3, 4]), i64t(&[1])], &[], 1);
    assert_eq!((s[0].clone(), asked.len()), (vec![24], 0));
}

#[test]
fn slice_bounds_each_sliced_axis_by_its_size() {
    // starts/ends of length 2 at run time, axes [0, 2] known: axis 0 ≤ 5, axis 2 ≤ 4.
    let (s, asked) = run(
        "Slice",
        &[f32t(&[5, 6, 4]), i64t(&[2]), i64t(&[2]), ints(&[0, 2])],
        &[],
        1,
    );
    assert_eq!(s[0], vec![5, 6, 4]);
    assert_eq!(
        asked,
        vec![("n.d0".to_string(), Some(5)), ("n.d2".to_string(), Some(4))]
    );
}

#[test]
fn expand_keeps_input_axes_above_one() {
    // x [3, 1] against a target of length 3: [free, 3, free].
    let (s, asked) = run("Expand", &[f32t(&[3, 1]), i64t(&[3])], &[], 1);
    assert_eq!((s[0].clone(), asked), (vec![7, 3, 7], free(&["d0", "d2"])));
}

#[test]
fn pad_resize_tile_range_constant_of_shape_one_hot_split() {
    // Pad with run-time pads on axes [1] (known): only axis 1 free.
    let (s, asked) = run(
        "Pad",
        &[f32t(&[2, 3]), i64t(&[2]), f32t(&[]), ints(&[1])],
        &[],
        1,
    );
    assert_eq!((s[0].clone(), asked), (vec![2, 7], free(&["d1"])));
    // Resize with run-time scales on axes [2, 3] (attribute).
    let roi = f32t(&[0]);
    let (s, asked) = run(
        "Resize",
        &[f32t(&[1, 3, 8, 8]), roi, f32t(&[2])],
        &[a_ints("axes", &[2, 3])],
        1,
    );
    assert_eq!(
        (s[0].clone(), asked),
        (vec![1, 3, 7, 7], free(&["d2", "d3"]))
    );
    let (s, _) = run("Tile", &[f32t(&[2, 3]), i64t(&[2])], &[], 1);
    assert_eq!(s[0], vec![7, 7]);
    let (s, asked) = run("Range", &[i64t(&[]), i64t(&[]), i64t(&[])], &[], 1);
    assert_eq!((s[0].clone(), asked), (vec![7], free(&["d0"])));
    let (s, _) = run("ConstantOfShape", &[i64t(&[2])], &[], 1);
    assert_eq!(s[0], vec![7, 7]);
    // OneHot: indices [4], depth at run time, axis -1: [4, depth].
    let (s, asked) = run("OneHot", &[i64t(&[4]), i64t(&[]), f32t(&[2])], &[], 1);
    assert_eq!((s[0].clone(), asked), (vec![4, 7], free(&["d1"])));
    // Split of axis 1 (size 6) into two run-time parts, each at most 6.
    let (s, asked) = run(
        "Split",
        &[f32t(&[2, 6]), i64t(&[2])],
        &[a_int("axis", 1)],
        2,
    );
    assert_eq!(s, vec![vec![2, 6], vec![2, 6]]);
    assert_eq!(
        asked.iter().map(|a| a.1).collect::<Vec<_>>(),
        vec![Some(6), Some(6)]
    );
}

#[test]
fn unknown_rank_stays_unknown() {
    // Squeeze with run-time axes: the output rank is unknown, so no symbols are named.
    let node_rank_unknown = super::infer(&Ctx {
        node: &Node {
            name: "n".into(),
            op_type: "Squeeze".into(),
            domain: String::new(),
            inputs: vec![Some(0), Some(1)],
            outputs: vec![Some(2)],
            attrs: Default::default(),
            scope: vec![],
        },
        inputs: vec![
            Some(&f32t(&[1, 3])),
            Some(&Tensor::new(DType::I64, vec![1])),
        ],
        opset: 18,
        bodies: &super::super::NoBodies,
        warnings: &RefCell::new(vec![]),
    });
    assert!(node_rank_unknown.is_none());
}
