//! Elementwise operators: activations, arithmetic with tensors or numbers, comparisons.

use super::{first, Call, Emit, Why, R};
use crate::graph::{Attr, DType, ValueId};

/// The nodes of `c` when its operator (`base`, without an in-place `_`) is of this family.
pub(super) fn translate(e: &mut Emit, c: &Call, base: &str) -> Option<R> {
    let outs = c.outputs.clone();
    let mut mine = true;
    let r = (|| -> R {
        match base {
            "gelu" => {
                let x = e.req(c, "self")?;
                let approx = Emit::text(c, "approximate").unwrap_or("none").to_string();
                e.node(
                    "",
                    "Gelu",
                    vec![Some(x)],
                    outs,
                    vec![("approximate", Attr::Str(approx))],
                )
            }
            "rsqrt" => {
                let x = e.req(c, "self")?;
                let s = e.op("Sqrt", vec![Some(x)], vec![], e.dtype(x), &e.shape(x))?;
                e.node("", "Reciprocal", vec![Some(s)], outs, vec![])
            }
            "hardsigmoid" => {
                let x = e.req(c, "self")?;
                e.node(
                    "",
                    "HardSigmoid",
                    vec![Some(x)],
                    outs,
                    vec![
                        ("alpha", Attr::Float(1.0 / 6.0)),
                        ("beta", Attr::Float(0.5)),
                    ],
                )
            }
            "leaky_relu" => {
                let x = e.req(c, "self")?;
                let a = Emit::num(c, "negative_slope").unwrap_or(0.01) as f32;
                e.node(
                    "",
                    "LeakyRelu",
                    vec![Some(x)],
                    outs,
                    vec![("alpha", Attr::Float(a))],
                )
            }
            "elu" => {
                let x = e.req(c, "self")?;
                let a = Emit::num(c, "alpha").unwrap_or(1.0) as f32;
                e.node(
                    "",
                    "Elu",
                    vec![Some(x)],
                    outs,
                    vec![("alpha", Attr::Float(a))],
                )
            }
            "hardtanh" | "clamp" | "clip" | "clamp_min" | "clamp_max" | "relu6" => clip(e, c, base),
            "_prelu_kernel" | "prelu" => {
                let (x, w) = (e.req(c, "self")?, e.req(c, "weight")?);
                e.node("", "PRelu", vec![Some(x), Some(w)], outs, vec![])
            }
            "where" => {
                let cond = e.req(c, "condition")?;
                let (a, b) = match (Emit::is_tensor(c, "self"), Emit::is_tensor(c, "other")) {
                    // Two numbers: constants of the output's type.
                    (false, false) => {
                        let dt = e.dtype(first(&outs)?);
                        let x = Emit::num(c, "self").ok_or("'self' is missing")?;
                        let y = Emit::num(c, "other").ok_or("'other' is missing")?;
                        (e.scalar(x, dt), e.scalar(y, dt))
                    }
                    _ => operands(e, c, "self", "other")?,
                };
                e.node(
                    "",
                    "Where",
                    vec![Some(cond), Some(a), Some(b)],
                    outs,
                    vec![],
                )
            }
            "masked_fill" => {
                let (x, mask) = (e.req(c, "self")?, e.req(c, "mask")?);
                let v = scalar_or_tensor(e, c, "value", x)?;
                e.node(
                    "",
                    "Where",
                    vec![Some(mask), Some(v), Some(x)],
                    outs,
                    vec![],
                )
            }
            "pow" => {
                let (a, b) = operands(e, c, "self", "exponent")?;
                e.node("", "Pow", vec![Some(a), Some(b)], outs, vec![])
            }
            "ne" => {
                let (a, b) = operands(e, c, "self", "other")?;
                let out = first(&outs)?;
                let eq = e.op(
                    "Equal",
                    vec![Some(a), Some(b)],
                    vec![],
                    DType::Bool,
                    &e.shape(out),
                )?;
                e.node("", "Not", vec![Some(eq)], outs, vec![])
            }
            "div" | "floor_divide" => {
                let (a, b) = operands(e, c, "self", "other")?;
                let mode = Emit::text(c, "rounding_mode").map(str::to_string);
                if base == "div" && mode.is_none() {
                    return e.node("", "Div", vec![Some(a), Some(b)], outs, vec![]);
                }
                let out = first(&outs)?;
                let q = e.op(
                    "Div",
                    vec![Some(a), Some(b)],
                    vec![],
                    e.dtype(out),
                    &e.shape(out),
                )?;
                e.node("", "Floor", vec![Some(q)], outs, vec![])
            }
            "add" | "sub" | "rsub" => add_sub(e, c, base),
            _ => {
                mine = false;
                Ok(())
            }
        }
    })();
    mine.then_some(r)
}

/// An argument that is a tensor, or a number made a scalar constant of `like`'s type (a
/// float number beside an integer tensor is float32, as PyTorch promotes it).
fn scalar_or_tensor(
    e: &mut Emit,
    c: &Call,
    name: &str,
    like: ValueId,
) -> std::result::Result<ValueId, Why> {
    if let Some(v) = e.tensor(c, name)? {
        return Ok(v);
    }
    let x = Emit::num(c, name).ok_or_else(|| format!("argument '{name}' is missing"))?;
    let dt = e.dtype(like);
    let dt = if !dt.is_float() && x.fract() != 0.0 {
        DType::F32
    } else {
        dt
    };
    Ok(e.scalar(x, dt))
}

/// Both operands of a binary op, either of which may be a number.
pub(super) fn operands(
    e: &mut Emit,
    c: &Call,
    a: &str,
    b: &str,
) -> std::result::Result<(ValueId, ValueId), Why> {
    match (e.tensor(c, a)?, e.tensor(c, b)?) {
        (Some(x), _) => Ok((x, scalar_or_tensor(e, c, b, x)?)),
        (None, Some(y)) => Ok((scalar_or_tensor(e, c, a, y)?, y)),
        (None, None) => Err(format!("neither '{a}' nor '{b}' is a tensor")),
    }
}

/// `add`/`sub` with `alpha` (which scales `other` first), and `rsub` (`other - alpha·self`).
fn add_sub(e: &mut Emit, c: &Call, op: &str) -> R {
    let (mut a, mut b) = operands(e, c, "self", "other")?;
    if op == "rsub" {
        std::mem::swap(&mut a, &mut b);
    }
    // a ± alpha·b: for rsub (other − alpha·self) `b` is `self` after the swap.
    let alpha = Emit::num(c, "alpha").unwrap_or(1.0);
    if alpha != 1.0 {
        let k = e.scalar(alpha, e.dtype(b));
        b = e.op(
            "Mul",
            vec![Some(b), Some(k)],
            vec![],
            e.dtype(b),
            &e.shape(b),
        )?;
    }
    let onnx = if op == "add" { "Add" } else { "Sub" };
    e.node("", onnx, vec![Some(a), Some(b)], c.outputs.clone(), vec![])
}

fn clip(e: &mut Emit, c: &Call, op: &str) -> R {
    let x = e.req(c, "self")?;
    let dt = e.dtype(x);
    let (lo, hi) = match op {
        "hardtanh" => (
            Emit::num(c, "min_val").or(Some(-1.0)),
            Emit::num(c, "max_val").or(Some(1.0)),
        ),
        "relu6" => (Some(0.0), Some(6.0)),
        "clamp_min" => (Emit::num(c, "min"), None),
        "clamp_max" => (None, Emit::num(c, "max")),
        _ => (Emit::num(c, "min"), Emit::num(c, "max")),
    };
    let bound =
        |e: &mut Emit, name: &str, v: Option<f64>| -> std::result::Result<Option<ValueId>, Why> {
            Ok(match e.tensor(c, name)? {
                Some(t) => Some(t),
                None => v.map(|v| e.scalar(v, dt)),
            })
        };
    let lo = bound(e, "min", lo)?;
    let hi = bound(e, "max", hi)?;
    e.node("", "Clip", vec![Some(x), lo, hi], c.outputs.clone(), vec![])
}

pub(super) fn unary(op: &str) -> Option<&'static str> {
    Some(match op {
        "relu" => "Relu",
        "sigmoid" => "Sigmoid",
        "tanh" => "Tanh",
        "exp" => "Exp",
        "log" => "Log",
        "sqrt" => "Sqrt",
        "neg" => "Neg",
        "abs" => "Abs",
        "sin" => "Sin",
        "cos" => "Cos",
        "tan" => "Tan",
        "erf" => "Erf",
        "reciprocal" => "Reciprocal",
        "sign" => "Sign",
        "floor" => "Floor",
        "ceil" => "Ceil",
        "round" => "Round",
        "logical_not" | "bitwise_not" => "Not",
        // SiLU is x·σ(x): ONNX exports spell it Sigmoid + Mul, the same 5 FLOPs as Swish.
        "silu" => "Swish",
        "hardswish" => "HardSwish",
        "mish" => "Mish",
        "selu" => "Selu",
        "celu" => "Celu",
        "softplus" => "Softplus",
        "isnan" => "IsNaN",
        "isinf" => "IsInf",
        _ => return None,
    })
}

pub(super) fn binary(op: &str) -> Option<&'static str> {
    Some(match op {
        "mul" | "multiply" => "Mul",
        "true_divide" => "Div",
        "maximum" => "Max",
        "minimum" => "Min",
        "eq" => "Equal",
        "lt" => "Less",
        "le" => "LessOrEqual",
        "gt" => "Greater",
        "ge" => "GreaterOrEqual",
        "logical_and" => "And",
        "logical_or" => "Or",
        "logical_xor" => "Xor",
        "bitwise_and" => "BitwiseAnd",
        "bitwise_or" => "BitwiseOr",
        "bitwise_xor" => "BitwiseXor",
        "remainder" | "fmod" => "Mod",
        _ => return None,
    })
}
