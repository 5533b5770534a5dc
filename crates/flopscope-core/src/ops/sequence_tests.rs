//! Sequences and optionals: shapes worked out by hand from the ONNX operator definitions.

use super::super::testutil::*;
use super::super::Tensor;
use crate::graph::DType;

fn seq(shapes: &[&[u64]]) -> Tensor {
    Tensor::sequence(
        DType::F32,
        Some(shapes.iter().map(|s| f32t(s)).collect()),
        None,
    )
}

fn elem_shapes(t: &Tensor) -> Vec<Vec<u64>> {
    t.seq
        .as_ref()
        .expect("a sequence")
        .elems
        .as_ref()
        .expect("known elements")
        .iter()
        .map(|e| e.shape.clone().expect("shape"))
        .collect()
}

#[test]
fn construct_then_insert_at_front_and_back() {
    let r = run1("SequenceConstruct", &[f32t(&[2, 3]), f32t(&[4, 3])], &[]);
    let s = &r.outs[0];
    assert_eq!(elem_shapes(s), vec![vec![2, 3], vec![4, 3]]);
    assert_eq!(s.shape, None, "elements differ: no shared shape");
    assert_eq!(r.cost.flops, 0);
    // Insert [1,3] at position 0, then at the back (no position).
    let front = run1(
        "SequenceInsert",
        &[s.clone(), f32t(&[1, 3]), scalar(0)],
        &[],
    );
    assert_eq!(
        elem_shapes(&front.outs[0]),
        vec![vec![1, 3], vec![2, 3], vec![4, 3]]
    );
    let back = run1("SequenceInsert", &[s.clone(), f32t(&[1, 3])], &[]);
    assert_eq!(
        elem_shapes(&back.outs[0]),
        vec![vec![2, 3], vec![4, 3], vec![1, 3]]
    );
    // Position -1 is before the last element; 3 is out of range for 2 elements + insertion.
    let minus = run1(
        "SequenceInsert",
        &[s.clone(), f32t(&[1, 3]), scalar(-1)],
        &[],
    );
    assert_eq!(
        elem_shapes(&minus.outs[0]),
        vec![vec![2, 3], vec![1, 3], vec![4, 3]]
    );
    let e = run_err(
        "SequenceInsert",
        &[s.clone(), f32t(&[1, 3]), scalar(3)],
        &[],
    );
    assert!(e.contains("out of range"), "{e}");
}

#[test]
fn at_erase_length_and_concat() {
    let s = seq(&[&[2, 3], &[4, 3], &[1, 3]]);
    assert_eq!(
        run1("SequenceAt", &[s.clone(), scalar(-1)], &[]).shape,
        vec![1, 3]
    );
    let erased = run1("SequenceErase", &[s.clone(), scalar(1)], &[]);
    assert_eq!(elem_shapes(&erased.outs[0]), vec![vec![2, 3], vec![1, 3]]);
    assert_eq!(
        run1("SequenceLength", std::slice::from_ref(&s), &[]).ints(),
        vec![3]
    );
    // Concat on axis 0: 2 + 4 + 1 rows; stacking needs equal shapes.
    let c = run1(
        "ConcatFromSequence",
        std::slice::from_ref(&s),
        &[a_int("axis", 0)],
    );
    assert_eq!(c.shape, vec![7, 3]);
    let same = seq(&[&[2, 3], &[2, 3]]);
    let st = run1(
        "ConcatFromSequence",
        &[same],
        &[a_int("axis", -1), a_int("new_axis", 1)],
    );
    assert_eq!(st.shape, vec![2, 3, 2]);
    let e = run_err(
        "ConcatFromSequence",
        &[s],
        &[a_int("axis", 0), a_int("new_axis", 1)],
    );
    assert!(e.contains("does not fit"), "{e}");
}

#[test]
fn split_to_sequence_by_default_scalar_and_list() {
    // [3,6] on axis 1: no split -> six [3,1] pieces, or six [3] with keepdims=0.
    let x = f32t(&[3, 6]);
    let r = run1(
        "SplitToSequence",
        std::slice::from_ref(&x),
        &[a_int("axis", 1)],
    );
    assert_eq!(elem_shapes(&r.outs[0]), vec![vec![3, 1]; 6]);
    assert_eq!(r.outs[0].shape, Some(vec![3, 1]));
    let r = run1(
        "SplitToSequence",
        std::slice::from_ref(&x),
        &[a_int("axis", 1), a_int("keepdims", 0)],
    );
    assert_eq!(elem_shapes(&r.outs[0]), vec![vec![3]; 6]);
    // Scalar split 4: pieces of 4 and 2.
    let r = run1(
        "SplitToSequence",
        &[x.clone(), scalar(4)],
        &[a_int("axis", 1)],
    );
    assert_eq!(elem_shapes(&r.outs[0]), vec![vec![3, 4], vec![3, 2]]);
    // A list on axis 0: 1 + 2 rows.
    let r = run1("SplitToSequence", &[x.clone(), ints(&[1, 2])], &[]);
    assert_eq!(elem_shapes(&r.outs[0]), vec![vec![1, 6], vec![2, 6]]);
    // Sizes unknown: a float sequence, elements unknown.
    let r = run1("SplitToSequence", &[x.clone(), i64t(&[2])], &[]);
    assert!(r.outs[0].is_seq() && r.outs[0].shape.is_none());
    let e = run_err("SplitToSequence", &[x, ints(&[1, 1])], &[]);
    assert!(e.contains("do not add up to 3"), "{e}");
}

#[test]
fn empty_sequence_takes_its_dtype_attribute() {
    let r = run1("SequenceEmpty", &[], &[a_int("dtype", 7)]);
    assert_eq!(r.outs[0].dtype, DType::I64);
    assert_eq!(elem_shapes(&r.outs[0]), Vec::<Vec<u64>>::new());
}

#[test]
fn optionals_are_seen_through() {
    let x = f32t(&[4]);
    assert_eq!(
        run1("OptionalGetElement", std::slice::from_ref(&x), &[]).shape,
        vec![4]
    );
    assert_eq!(
        run1("Optional", std::slice::from_ref(&x), &[]).shape,
        vec![4]
    );
    let has = run1("OptionalHasElement", &[x], &[]);
    assert_eq!(
        (has.outs[0].dtype, has.shape.clone()),
        (DType::Bool, vec![])
    );
    // No input at all: an empty optional, false.
    assert_eq!(run1("OptionalHasElement", &[], &[]).ints(), vec![0]);
    let s = seq(&[&[4]]);
    let got = run1("OptionalGetElement", &[s], &[]);
    assert!(got.outs[0].is_seq());
}
