//! Elementwise family: unary maths and activations, broadcasting binary ops, comparisons,
//! logic, `Where`, `Cast`, `Identity`. Shape: the (broadcast) input shape. Cost: FLOPs per
//! output element from [`unary_flops`] / [`binary_flops`]; 0 on integer and boolean tensors
//! (index arithmetic, not floating point). No MACs. See `docs/counting.md`, "Elementwise".

use std::sync::Arc;

use super::fold;
use super::{broadcast, invalid, numel, Cost, Ctx, OpDef, OpError, Tensor, Values};
use crate::graph::DType;

/// FLOPs per element of a unary op: one per arithmetic primitive of its usual definition,
/// a transcendental function (exp, log, erf, tanh, sin, …) counting as one.
pub fn unary_flops(op: &str, approximate_tanh: bool) -> Option<u64> {
    Some(match op {
        "Abs" | "Neg" | "Relu" | "Tanh" | "Exp" | "Log" | "Sqrt" | "Reciprocal" | "Erf" | "Sin"
        | "Cos" | "Tan" | "Asin" | "Acos" | "Atan" | "Sinh" | "Cosh" | "Asinh" | "Acosh"
        | "Atanh" | "Floor" | "Ceil" | "Round" | "Sign" | "ThresholdedRelu" | "IsNaN" | "IsInf"
        | "Not" => 1,
        "LeakyRelu" | "Clip" | "Shrink" => 2,
        "Softplus" | "Softsign" => 3,
        "Sigmoid" | "Elu" | "Selu" | "Celu" | "HardSigmoid" => 4,
        "HardSwish" | "Mish" | "Swish" => 5,
        "Gelu" if approximate_tanh => 9,
        "Gelu" => 5,
        "Identity" | "Cast" | "CastLike" | "Dropout" => 0,
        _ => return None,
    })
}

/// FLOPs per output element of a binary (or variadic, per extra input) op.
pub fn binary_flops(op: &str) -> Option<u64> {
    Some(match op {
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Mod" | "Max" | "Min" | "Sum" | "Mean"
        | "Equal" | "Less" | "Greater" | "LessOrEqual" | "GreaterOrEqual" | "And" | "Or"
        | "Xor" | "BitShift" | "BitwiseAnd" | "BitwiseOr" | "BitwiseXor" => 1,
        "PRelu" => 2,
        "Where" => 0,
        _ => return None,
    })
}

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    if op == "Where" {
        return Some(OpDef {
            infer: infer_where,
            cost: super::no_cost,
        });
    }
    if matches!(op, "Sum" | "Mean" | "Max" | "Min") {
        return Some(OpDef {
            infer: infer_variadic,
            cost: cost_variadic,
        });
    }
    if binary_flops(op).is_some() {
        return Some(OpDef {
            infer: infer_binary,
            cost: cost_binary,
        });
    }
    if unary_flops(op, false).is_some() {
        return Some(OpDef {
            infer: infer_unary,
            cost: cost_unary,
        });
    }
    None
}

fn bool_out(op: &str) -> bool {
    matches!(
        op,
        "Equal"
            | "Less"
            | "Greater"
            | "LessOrEqual"
            | "GreaterOrEqual"
            | "And"
            | "Or"
            | "Xor"
            | "Not"
            | "IsNaN"
            | "IsInf"
    )
}

/// A type named as Cast-1 to Cast-5 name it (`TensorProto.DataType`'s names).
fn legacy_type(name: &str) -> Result<DType, OpError> {
    const NAMES: [&str; 16] = [
        "UNDEFINED",
        "FLOAT",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "INT32",
        "INT64",
        "STRING",
        "BOOL",
        "FLOAT16",
        "DOUBLE",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
    ];
    let code = (1..NAMES.len()).find(|&i| NAMES[i].eq_ignore_ascii_case(name));
    match code.and_then(|c| i32::try_from(c).ok()) {
        Some(code) => Ok(DType::from_onnx(code)),
        None => Err(OpError::Invalid(format!("'to' {name} is not a data type"))),
    }
}

fn infer_unary(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let op = cx.node.op_type.as_str();
    let x = cx.input(0)?;
    // Identity passes a sequence (or an optional one) on as it is.
    if op == "Identity" && x.is_seq() {
        return Ok(vec![x.clone()]);
    }
    let shape = cx.shape(0)?.to_vec();
    let dtype = match op {
        // Before opset 6, `to` is the type's name ("FLOAT").
        "Cast" => match cx.node.attr_str("to") {
            Some(name) => legacy_type(name)?,
            None => {
                let to = super::required_int(cx.node, "to")?;
                DType::from_onnx(
                    i32::try_from(to)
                        .map_err(|_| OpError::Invalid(format!("'to' {to} is not a data type")))?,
                )
            }
        },
        "CastLike" => cx.dtype(1)?,
        _ if bool_out(op) => DType::Bool,
        _ => x.dtype,
    };
    let value = x.value.as_deref().and_then(|v| fold_unary(op, v, dtype));
    let mut out = vec![Tensor {
        dtype,
        shape: Some(shape.clone()),
        value: value.map(Arc::new),
        seq: None,
    }];
    if op == "Dropout" {
        out.push(Tensor::new(DType::Bool, shape));
    }
    Ok(out)
}

fn fold_unary(op: &str, v: &Values, to: DType) -> Option<Values> {
    match op {
        "Identity" | "Dropout" => Some(v.clone()),
        "Cast" | "CastLike" if to.is_float() => {
            Some(Values::Float((0..v.len()).map(|i| v.f(i)).collect()))
        }
        "Cast" | "CastLike" if to == DType::Bool => Some(Values::Int(
            (0..v.len()).map(|i| (v.f(i) != 0.0) as i64).collect(),
        )),
        "Cast" | "CastLike" if to.is_int_like() => Some(Values::Int(v.to_ints())),
        "Neg" => fold::unary(v, |a| a.checked_neg(), |a| -a),
        "Abs" => fold::unary(v, |a| a.checked_abs(), f64::abs),
        "Sign" => fold::unary(v, |a| Some(a.signum()), f64::signum),
        "Not" => fold::unary(v, |a| Some((a == 0) as i64), |a| (a == 0.0) as i64 as f64),
        "Floor" => fold::unary(v, Some, f64::floor),
        "Ceil" => fold::unary(v, Some, f64::ceil),
        "Round" => fold::unary(v, Some, f64::round_ties_even),
        "Sqrt" => fold::unary(v, |_| None, f64::sqrt),
        "Reciprocal" => fold::unary(v, |_| None, |a| 1.0 / a),
        "Relu" => fold::unary(v, |a| Some(a.max(0)), |a| a.max(0.0)),
        _ => None,
    }
}

fn float_input(cx: &Ctx) -> bool {
    cx.input(0).is_ok_and(|t| t.dtype.is_float())
}

fn cost_unary(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let op = cx.node.op_type.as_str();
    if !float_input(cx) {
        return Ok(Cost::default());
    }
    let tanh = cx.node.attr_str("approximate") == Some("tanh");
    let per = unary_flops(op, tanh).unwrap_or(0);
    let n = numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    Ok(Cost::flops(n.checked_mul(per).ok_or_else(super::overflow)?))
}

fn infer_binary(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let op = cx.node.op_type.as_str();
    let (a, b) = (cx.input(0)?, cx.input(1)?);
    let (sa, sb) = (cx.shape(0)?, cx.shape(1)?);
    // Before opset 7, `broadcast=1` stretches B over A from `axis` (B's dims match a run of
    // A's): the output is A's shape.
    let out = if cx.opset < 7 && cx.node.attr_int("broadcast", 0) != 0 {
        legacy_broadcast(sa, sb, cx.node.attr_int("axis", -1))?
    } else {
        broadcast(sa, sb)?
    };
    let dtype = if bool_out(op) { DType::Bool } else { a.dtype };
    let value = match (a.value.as_deref(), b.value.as_deref()) {
        (Some(x), Some(y)) => fold_binary(op, (x, sa), (y, sb), &out, cx.node.attr_int("fmod", 0)),
        _ => None,
    };
    Ok(vec![Tensor {
        dtype,
        shape: Some(out),
        value: value.map(Arc::new),
        seq: None,
    }])
}

/// Opset 1–6 broadcasting: B's dims equal A's from `axis` (default: B's suffix of A), or 1.
fn legacy_broadcast(a: &[u64], b: &[u64], axis: i64) -> Result<Vec<u64>, OpError> {
    let start = if axis < 0 {
        a.len().checked_sub(b.len())
    } else {
        usize::try_from(axis).ok()
    };
    let fits = start.is_some_and(|s| {
        s + b.len() <= a.len() && b.iter().zip(&a[s..]).all(|(&x, &y)| x == y || x == 1)
    });
    if !fits {
        return invalid(format!(
            "B {b:?} does not broadcast onto A {a:?} at axis {axis}"
        ));
    }
    Ok(a.to_vec())
}

fn fold_binary(
    op: &str,
    a: (&Values, &[u64]),
    b: (&Values, &[u64]),
    out: &[u64],
    fmod: i64,
) -> Option<Values> {
    let c = |x: bool| x as i64;
    let cf = |x: bool| x as i64 as f64;
    match op {
        "Add" => fold::binary(a, b, out, i64::checked_add, |x, y| x + y),
        "Sub" => fold::binary(a, b, out, i64::checked_sub, |x, y| x - y),
        "Mul" => fold::binary(a, b, out, i64::checked_mul, |x, y| x * y),
        // Integer Div truncates toward zero (C semantics, as ONNX Runtime does).
        "Div" => fold::binary(a, b, out, i64::checked_div, |x, y| x / y),
        "Mod" if fmod == 0 => fold::binary(
            a,
            b,
            out,
            |x, y| {
                x.checked_rem_euclid(y)
                    .map(|r| if y < 0 && r != 0 { r + y } else { r })
            },
            |x, y| x - y * (x / y).floor(),
        ),
        "Mod" => fold::binary(a, b, out, i64::checked_rem, |x, y| x % y),
        "Pow" => fold::binary(
            a,
            b,
            out,
            |x, y| u32::try_from(y).ok().and_then(|y| x.checked_pow(y)),
            f64::powf,
        ),
        "Max" => fold::binary(a, b, out, |x, y| Some(x.max(y)), f64::max),
        "Min" => fold::binary(a, b, out, |x, y| Some(x.min(y)), f64::min),
        "Equal" => fold::binary(a, b, out, |x, y| Some(c(x == y)), |x, y| cf(x == y)),
        "Less" => fold::binary(a, b, out, |x, y| Some(c(x < y)), |x, y| cf(x < y)),
        "Greater" => fold::binary(a, b, out, |x, y| Some(c(x > y)), |x, y| cf(x > y)),
        "LessOrEqual" => fold::binary(a, b, out, |x, y| Some(c(x <= y)), |x, y| cf(x <= y)),
        "GreaterOrEqual" => fold::binary(a, b, out, |x, y| Some(c(x >= y)), |x, y| cf(x >= y)),
        "And" => fold::binary(
            a,
            b,
            out,
            |x, y| Some(c(x != 0 && y != 0)),
            |x, y| cf(x != 0.0 && y != 0.0),
        ),
        "Or" => fold::binary(
            a,
            b,
            out,
            |x, y| Some(c(x != 0 || y != 0)),
            |x, y| cf(x != 0.0 || y != 0.0),
        ),
        "Xor" => fold::binary(
            a,
            b,
            out,
            |x, y| Some(c((x != 0) != (y != 0))),
            |x, y| cf((x != 0.0) != (y != 0.0)),
        ),
        _ => None,
    }
    .map(|v| match (v, bool_out(op)) {
        // Comparison results are booleans whatever the operand type.
        (Values::Float(f), true) => Values::Int(f.iter().map(|&x| super::trunc_i64(x)).collect()),
        (v, _) => v,
    })
}

fn cost_binary(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    if !float_input(cx) {
        return Ok(Cost::default());
    }
    let per = binary_flops(&cx.node.op_type).unwrap_or(0);
    let n = numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    Ok(Cost::flops(n.checked_mul(per).ok_or_else(super::overflow)?))
}

fn infer_variadic(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    if cx.inputs.is_empty() {
        return invalid("needs at least one input");
    }
    let mut t = cx.input(0)?.clone();
    let mut shape = cx.shape(0)?.to_vec();
    for i in 1..cx.inputs.len() {
        let s = cx.shape(i)?;
        let out = broadcast(&shape, s)?;
        let v = match (t.value.as_deref(), cx.input(i)?.value.as_deref()) {
            (Some(x), Some(y)) => fold_binary(&cx.node.op_type, (x, &shape), (y, s), &out, 0),
            _ => None,
        };
        t.value = v.map(Arc::new);
        shape = out;
    }
    if cx.node.op_type == "Mean" || cx.node.op_type == "Sum" && cx.inputs.len() > 1 {
        t.value = None;
    }
    t.shape = Some(shape);
    Ok(vec![t])
}

fn cost_variadic(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    if !float_input(cx) {
        return Ok(Cost::default());
    }
    let n = numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    let mut per = cx.inputs.len().saturating_sub(1) as u64;
    if cx.node.op_type == "Mean" {
        per += 1;
    }
    Ok(Cost::flops(n.checked_mul(per).ok_or_else(super::overflow)?))
}

fn infer_where(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (sc, sx, sy) = (cx.shape(0)?, cx.shape(1)?, cx.shape(2)?);
    let out = broadcast(&broadcast(sc, sx)?, sy)?;
    let x = cx.input(1)?;
    let value = match (
        cx.input(0)?.value.as_deref(),
        x.value.as_deref(),
        cx.input(2)?.value.as_deref(),
    ) {
        (Some(c), Some(a), Some(b)) if fold::foldable(&out) => {
            let (mc, ma, mb) = (
                fold::broadcast_map(sc, &out),
                fold::broadcast_map(sx, &out),
                fold::broadcast_map(sy, &out),
            );
            let sel = |i: usize| c.f(mc[i]) != 0.0;
            match (a, b) {
                (Values::Int(a), Values::Int(b)) => Some(Values::Int(
                    (0..mc.len())
                        .map(|i| if sel(i) { a[ma[i]] } else { b[mb[i]] })
                        .collect(),
                )),
                _ => Some(Values::Float(
                    (0..mc.len())
                        .map(|i| if sel(i) { a.f(ma[i]) } else { b.f(mb[i]) })
                        .collect(),
                )),
            }
        }
        _ => None,
    };
    Ok(vec![Tensor {
        dtype: x.dtype,
        shape: Some(out),
        value: value.map(Arc::new),
        seq: None,
    }])
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn opsets_before_7_broadcast_by_attribute_and_cast_by_name() {
        use crate::graph::Attr;
        // Add-6 with broadcast=1, axis=1: B [3] over A [2, 3, 4, 5] → A's shape.
        let r = run_in_opset(
            6,
            "Add",
            &[f32t(&[2, 3, 4, 5]), f32t(&[3])],
            &[a_int("broadcast", 1), a_int("axis", 1)],
        );
        assert_eq!(r.shape, vec![2, 3, 4, 5]);
        assert_eq!(r.cost.flops, 120);
        // Cast-1 names its type.
        let r = run_in_opset(
            1,
            "Cast",
            &[f32t(&[4])],
            &[("to".into(), Attr::Str("INT32".into()))],
        );
        assert_eq!(r.outs[0].dtype, crate::graph::DType::I32);
    }

    #[test]
    fn add_broadcasts_and_counts_one_flop_per_output() {
        // [8,1,5] + [7,1] -> [8,7,5]: 280 adds (docs/counting.md, Elementwise).
        let r = run1("Add", &[f32t(&[8, 1, 5]), f32t(&[7, 1])], &[]);
        assert_eq!(r.shape, vec![8, 7, 5]);
        assert_eq!(r.cost.flops, 280);
        assert_eq!(r.cost.macs, 0);
    }

    #[test]
    fn sigmoid_is_four_flops_per_element_and_int_math_is_free() {
        let r = run1("Sigmoid", &[f32t(&[2, 3])], &[]);
        assert_eq!(r.cost.flops, 24);
        let r = run1("Add", &[i64t(&[4]), i64t(&[4])], &[]);
        assert_eq!(r.cost.flops, 0);
    }

    #[test]
    fn incompatible_broadcast_is_an_error() {
        let e = run_err("Mul", &[f32t(&[3, 4]), f32t(&[5])], &[]);
        assert!(e.contains("cannot be broadcast"), "{e}");
    }

    #[test]
    fn folds_integer_arithmetic() {
        let r = run1("Mul", &[ints(&[2, 3]), ints(&[4])], &[]);
        assert_eq!(r.ints(), vec![8, 12]);
        let r = run1("Div", &[ints(&[-7, 9]), ints(&[2])], &[]);
        assert_eq!(r.ints(), vec![-3, 4]);
    }
}
