//! ATen operator calls → ONNX nodes with the same meaning, so that a traced PyTorch module is
//! counted by the rules that count its ONNX export (`docs/python.md`, "How a module is
//! counted"). Data movement without an ONNX twin worth spelling out (views, indexing,
//! factories) becomes an `aten`-domain node whose outputs keep their traced shapes
//! (`ops::aten`). An operator not named here becomes an `aten` node without a rule: listed
//! as unsupported, its outputs still carry their traced shapes, so the rest of the graph is
//! counted.

use super::trace::{Call, Emit, Why};
use crate::graph::{Attr, DType, ValueId};

type R = std::result::Result<(), Why>;

fn ints(v: Vec<i64>) -> Attr {
    Attr::Ints(v)
}

/// Translates one call into nodes.
pub(crate) fn translate(e: &mut Emit, c: &Call) -> R {
    if c.namespace() != "aten" {
        return generic(e, c, c.namespace());
    }
    let name = c.name();
    let outs = c.outputs.clone();
    // In-place variants (`relu_`, `add_`) compute what the out-of-place op computes.
    let base = name
        .strip_suffix('_')
        .filter(|_| !crate::ops::aten::is_move(name))
        .unwrap_or(name);
    match base {
        "convolution" | "_convolution" => conv(e, c),
        "addmm" => {
            let (a, b) = (e.req(c, "mat1")?, e.req(c, "mat2")?);
            let bias = e.tensor(c, "self")?;
            let alpha = Emit::num(c, "alpha").unwrap_or(1.0) as f32;
            let beta = Emit::num(c, "beta").unwrap_or(1.0) as f32;
            e.node(
                "",
                "Gemm",
                vec![Some(a), Some(b), bias],
                outs,
                vec![("alpha", Attr::Float(alpha)), ("beta", Attr::Float(beta))],
            )
        }
        "mm" | "bmm" | "matmul" | "dot" | "vdot" | "mv" | "inner" => {
            let a = e.req(c, "self")?;
            let b = ["mat2", "other", "tensor", "vec"]
                .iter()
                .find_map(|n| e.tensor(c, n).ok().flatten())
                .ok_or("the second operand is missing")?;
            e.node("", "MatMul", vec![Some(a), Some(b)], outs, vec![])
        }
        "baddbmm" | "addmv" | "addbmm" => {
            let (a, b) = match base {
                "addmv" => (e.req(c, "mat")?, e.req(c, "vec")?),
                _ => (e.req(c, "batch1")?, e.req(c, "batch2")?),
            };
            let acc = e.req(c, "self")?;
            let out = first(&outs)?;
            let (dt, sh) = (e.dtype(out), e.shape(out));
            let mut prod_shape = e.shape(a);
            prod_shape.pop();
            prod_shape.push(*e.shape(b).last().unwrap_or(&1));
            let p = e.op("MatMul", vec![Some(a), Some(b)], vec![], dt, &prod_shape)?;
            let p = if base == "addbmm" {
                let axes = e.ints_const(&[0]);
                let attrs = vec![("keepdims", Attr::Int(0))];
                e.op("ReduceSum", vec![Some(p), Some(axes)], attrs, dt, &sh)?
            } else {
                p
            };
            e.node("", "Add", vec![Some(acc), Some(p)], outs, vec![])
        }
        "linear" => {
            let (x, w) = (e.req(c, "input")?, e.req(c, "weight")?);
            let out = first(&outs)?;
            let wt = e.t(w)?;
            match e.tensor(c, "bias")? {
                Some(b) => {
                    let y = e.op(
                        "MatMul",
                        vec![Some(x), Some(wt)],
                        vec![],
                        e.dtype(out),
                        &e.shape(out),
                    )?;
                    e.node("", "Add", vec![Some(y), Some(b)], outs, vec![])
                }
                None => e.node("", "MatMul", vec![Some(x), Some(wt)], outs, vec![]),
            }
        }
        "_grouped_mm" => {
            let ins = vec![
                Some(e.req(c, "self")?),
                Some(e.req(c, "mat2")?),
                e.tensor(c, "offs")?,
            ];
            e.node("aten", "_grouped_mm", ins, outs, vec![])
        }
        "native_batch_norm"
        | "_native_batch_norm_legit"
        | "_native_batch_norm_legit_no_training"
        | "_native_batch_norm_legit_functional"
        | "batch_norm"
        | "cudnn_batch_norm"
        | "miopen_batch_norm" => {
            let ins = vec![
                Some(e.req(c, "input")?),
                e.tensor(c, "weight")?,
                e.tensor(c, "bias")?,
                e.tensor(c, "running_mean")?,
                e.tensor(c, "running_var")?,
            ];
            let eps = Emit::num(c, "eps").unwrap_or(1e-5) as f32;
            let momentum = Emit::num(c, "momentum").unwrap_or(0.1) as f32;
            e.node(
                "",
                "BatchNormalization",
                ins,
                outs,
                vec![
                    ("epsilon", Attr::Float(eps)),
                    ("momentum", Attr::Float(1.0 - momentum)),
                ],
            )
        }
        "native_layer_norm" | "layer_norm" => {
            let shape = Emit::ints(c, "normalized_shape", 0)?;
            let ins = vec![
                Some(e.req(c, "input")?),
                e.tensor(c, "weight")?,
                e.tensor(c, "bias")?,
            ];
            let eps = Emit::num(c, "eps").unwrap_or(1e-5) as f32;
            e.node(
                "",
                "LayerNormalization",
                ins,
                outs,
                vec![
                    ("axis", Attr::Int(-(shape.len() as i64))),
                    ("epsilon", Attr::Float(eps)),
                ],
            )
        }
        "native_group_norm" | "group_norm" => {
            let ins = vec![
                Some(e.req(c, "input")?),
                e.tensor(c, "weight")?,
                e.tensor(c, "bias")?,
            ];
            let groups = Emit::int(c, "group", Emit::int(c, "num_groups", 1)?)?;
            let eps = Emit::num(c, "eps").unwrap_or(1e-5) as f32;
            e.node(
                "",
                "GroupNormalization",
                ins,
                outs,
                vec![
                    ("num_groups", Attr::Int(groups)),
                    ("epsilon", Attr::Float(eps)),
                ],
            )
        }
        "_fused_rms_norm" | "rms_norm" => {
            let shape = Emit::ints(c, "normalized_shape", 0)?;
            let ins = vec![Some(e.req(c, "input")?), e.tensor(c, "weight")?];
            e.node(
                "",
                "RMSNormalization",
                ins,
                outs,
                vec![("axis", Attr::Int(-(shape.len() as i64)))],
            )
        }
        "_softmax" | "softmax" | "_safe_softmax" | "_log_softmax" | "log_softmax" => {
            let op = if base.contains("log") {
                "LogSoftmax"
            } else {
                "Softmax"
            };
            let x = e.req(c, "self")?;
            let axis = Emit::int(c, "dim", -1)?;
            e.node("", op, vec![Some(x)], outs, vec![("axis", Attr::Int(axis))])
        }
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
        "native_dropout" | "dropout" | "feature_dropout" | "alpha_dropout" => {
            let x = e.req(c, "input")?;
            e.node("", "Dropout", vec![Some(x)], outs, vec![])
        }
        "embedding" => {
            let (w, i) = (e.req(c, "weight")?, e.req(c, "indices")?);
            e.node(
                "",
                "Gather",
                vec![Some(w), Some(i)],
                outs,
                vec![("axis", Attr::Int(0))],
            )
        }
        "where" => {
            let cond = e.req(c, "condition")?;
            let (a, b) = operands(e, c, "self", "other")?;
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
        "mean" | "sum" | "amax" | "amin" | "prod" | "max" | "min" | "logsumexp"
        | "linalg_vector_norm" | "norm"
            if Emit::is_tensor(c, "self") && !Emit::is_tensor(c, "other") =>
        {
            reduce(e, c, base)
        }
        "argmax" | "argmin" => {
            let x = e.req(c, "self")?;
            let op = if base == "argmax" { "ArgMax" } else { "ArgMin" };
            match c.args.get("dim").and_then(|j| j.as_i64()) {
                Some(d) => e.node(
                    "",
                    op,
                    vec![Some(x)],
                    outs,
                    vec![
                        ("axis", Attr::Int(d)),
                        ("keepdims", Attr::Int(Emit::flag(c, "keepdim") as i64)),
                    ],
                ),
                None => generic(e, c, "aten"),
            }
        }
        "topk" => {
            let x = e.req(c, "self")?;
            let k = e.ints_const(&[Emit::int(c, "k", 1)?]);
            let attrs = vec![
                ("axis", Attr::Int(Emit::int(c, "dim", -1)?)),
                (
                    "largest",
                    Attr::Int(Emit::num(c, "largest").unwrap_or(1.0) as i64),
                ),
                (
                    "sorted",
                    Attr::Int(Emit::num(c, "sorted").unwrap_or(1.0) as i64),
                ),
            ];
            e.node("", "TopK", vec![Some(x), Some(k)], outs, attrs)
        }
        "sort" => {
            // ONNX exports spell a sort as TopK over the whole axis.
            let x = e.req(c, "self")?;
            let dim = Emit::int(c, "dim", -1)?;
            let shape = e.shape(x);
            let axis = if dim < 0 {
                dim + shape.len() as i64
            } else {
                dim
            };
            let n = usize::try_from(axis)
                .ok()
                .and_then(|a| shape.get(a))
                .copied()
                .unwrap_or(1);
            let k = e.ints_const(&[n as i64]);
            let attrs = vec![
                ("axis", Attr::Int(dim)),
                ("largest", Attr::Int(Emit::flag(c, "descending") as i64)),
            ];
            e.node("", "TopK", vec![Some(x), Some(k)], outs, attrs)
        }
        "cumsum" => {
            let x = e.req(c, "self")?;
            let axis = e.ints_const(&[Emit::int(c, "dim", 0)?]);
            e.node("", "CumSum", vec![Some(x), Some(axis)], outs, vec![])
        }
        "max_pool1d"
        | "max_pool2d"
        | "max_pool3d"
        | "max_pool2d_with_indices"
        | "max_pool3d_with_indices"
        | "avg_pool1d"
        | "avg_pool2d"
        | "avg_pool3d" => pool(e, c, base),
        "_adaptive_avg_pool2d"
        | "_adaptive_avg_pool3d"
        | "adaptive_avg_pool1d"
        | "adaptive_avg_pool2d"
        | "adaptive_avg_pool3d"
        | "adaptive_max_pool1d"
        | "adaptive_max_pool2d"
        | "adaptive_max_pool3d" => {
            let x = e.req(c, "self")?;
            let size = Emit::ints(c, "output_size", 0)?;
            let op = if base.contains("max") {
                "adaptive_max_pool"
            } else {
                "adaptive_avg_pool"
            };
            e.node(
                "aten",
                op,
                vec![Some(x)],
                outs,
                vec![("output_size", ints(size))],
            )
        }
        _ if base.starts_with("upsample_") || base.starts_with("_upsample_") => {
            let x = e.req(
                c,
                if Emit::is_tensor(c, "self") {
                    "self"
                } else {
                    "input"
                },
            )?;
            let out = first(&outs)?;
            let sizes: Vec<i64> = e.shape(out).iter().map(|&d| d as i64).collect();
            let sizes = e.ints_const(&sizes);
            let mode = if base.contains("nearest") {
                "nearest"
            } else if base.contains("cubic") {
                "cubic"
            } else {
                "linear"
            };
            e.node(
                "",
                "Resize",
                vec![Some(x), None, None, Some(sizes)],
                outs,
                vec![("mode", Attr::Str(mode.into()))],
            )
        }
        _ if base.contains("scaled_dot_product") => sdpa(e, c),
        "_native_multi_head_attention" => mha(e, c),
        _ => match (unary(base), binary(base)) {
            (Some(op), _) => {
                let x = e.req(c, "self")?;
                e.node("", op, vec![Some(x)], outs, vec![])
            }
            (_, Some(op)) => {
                let (a, b) = operands(e, c, "self", "other")?;
                e.node("", op, vec![Some(a), Some(b)], outs, vec![])
            }
            _ => generic(e, c, "aten"),
        },
    }
}

fn first(outs: &[Option<ValueId>]) -> std::result::Result<ValueId, Why> {
    outs.first()
        .copied()
        .flatten()
        .ok_or_else(|| "the call recorded no output".to_string())
}

/// An operator without a translation: an `aten` node over every tensor argument (a rule in
/// `ops::aten` when it only moves data; otherwise none, and it is listed as unsupported).
fn generic(e: &mut Emit, c: &Call, domain: &str) -> R {
    let ins = e.all_tensors(c)?;
    e.node(domain, c.name(), ins, c.outputs.clone(), vec![])
}

fn unary(op: &str) -> Option<&'static str> {
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

fn binary(op: &str) -> Option<&'static str> {
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
fn operands(
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
    let alpha = Emit::num(c, "alpha").unwrap_or(1.0);
    let scaled = if op == "rsub" { a } else { b };
    let scaled = if alpha != 1.0 {
        let k = e.scalar(alpha, e.dtype(scaled));
        let s = e.op(
            "Mul",
            vec![Some(scaled), Some(k)],
            vec![],
            e.dtype(scaled),
            &e.shape(scaled),
        )?;
        Some(s)
    } else {
        None
    };
    let (a, b) = match (op, scaled) {
        ("rsub", Some(s)) => (s, b),
        (_, Some(s)) => (a, s),
        _ => (a, b),
    };
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

fn conv(e: &mut Emit, c: &Call) -> R {
    let (x, w) = (e.req(c, "input")?, e.req(c, "weight")?);
    let b = e.tensor(c, "bias")?;
    let kernel: Vec<i64> = e.shape(w).iter().skip(2).map(|&d| d as i64).collect();
    let n = kernel.len();
    let pad = Emit::ints(c, "padding", n)?;
    let mut attrs = vec![
        ("kernel_shape", ints(kernel)),
        ("strides", ints(Emit::ints(c, "stride", n)?)),
        ("dilations", ints(Emit::ints(c, "dilation", n)?)),
        ("pads", ints(pad.iter().chain(&pad).copied().collect())),
        ("group", Attr::Int(Emit::int(c, "groups", 1)?)),
    ];
    let op = if Emit::flag(c, "transposed") {
        attrs.push(("output_padding", ints(Emit::ints(c, "output_padding", n)?)));
        "ConvTranspose"
    } else {
        "Conv"
    };
    e.node("", op, vec![Some(x), Some(w), b], c.outputs.clone(), attrs)
}

fn pool(e: &mut Emit, c: &Call, op: &str) -> R {
    let x = e.req(c, "self")?;
    let k = Emit::ints(c, "kernel_size", 0)?;
    let n = k.len();
    let stride = Emit::ints(c, "stride", n)?;
    let pad = Emit::ints(c, "padding", n)?;
    let pad = if pad.is_empty() { vec![0; n] } else { pad };
    let mut attrs = vec![
        ("kernel_shape", ints(k.clone())),
        ("strides", ints(if stride.is_empty() { k } else { stride })),
        ("pads", ints(pad.iter().chain(&pad).copied().collect())),
        ("ceil_mode", Attr::Int(Emit::flag(c, "ceil_mode") as i64)),
    ];
    let onnx = if op.starts_with("max") {
        let d = Emit::ints(c, "dilation", n)?;
        if !d.is_empty() {
            attrs.push(("dilations", ints(d)));
        }
        "MaxPool"
    } else {
        let include = Emit::num(c, "count_include_pad").unwrap_or(1.0) as i64;
        attrs.push(("count_include_pad", Attr::Int(include)));
        "AveragePool"
    };
    e.node("", onnx, vec![Some(x)], c.outputs.clone(), attrs)
}

/// Reductions over `dim` (all dims when it is absent or empty).
fn reduce(e: &mut Emit, c: &Call, op: &str) -> R {
    let x = e.req(c, "self")?;
    let onnx = match op {
        "mean" => "ReduceMean",
        "sum" => "ReduceSum",
        "amax" | "max" => "ReduceMax",
        "amin" | "min" => "ReduceMin",
        "prod" => "ReduceProd",
        "logsumexp" => "ReduceLogSumExp",
        _ => match Emit::num(c, "ord").or(Emit::num(c, "p")).unwrap_or(2.0) {
            1.0 => "ReduceL1",
            2.0 => "ReduceL2",
            _ => return generic(e, c, "aten"),
        },
    };
    let rank = e.shape(x).len();
    let axes = Emit::ints(c, "dim", rank.min(1))?;
    let mut ins = vec![Some(x)];
    if !axes.is_empty() {
        ins.push(Some(e.ints_const(&axes)));
    }
    let keep = Emit::flag(c, "keepdim") as i64;
    e.node(
        "",
        onnx,
        ins,
        c.outputs.clone(),
        vec![("keepdims", Attr::Int(keep))],
    )
}

/// Every fused scaled-dot-product attention kernel → ONNX `Attention` on [B, H, L, E] inputs.
fn sdpa(e: &mut Emit, c: &Call) -> R {
    let (q, k, v) = (e.req(c, "query")?, e.req(c, "key")?, e.req(c, "value")?);
    let mask = match e.tensor(c, "attn_mask")? {
        Some(m) => Some(m),
        None => e.tensor(c, "attn_bias")?,
    };
    let mut attrs = vec![("is_causal", Attr::Int(Emit::flag(c, "is_causal") as i64))];
    if let Some(s) = Emit::num(c, "scale") {
        attrs.push(("scale", Attr::Float(s as f32)));
    }
    // Only the output: the kernels' other outputs (log-sum-exp, RNG state) are not ONNX
    // Attention's (present key/value, scores), whose shapes its rule would give them; they
    // keep their traced shapes on a node that moves nothing.
    let out = first(&c.outputs)?;
    let rest: Vec<Option<ValueId>> = c.outputs.iter().skip(1).copied().collect();
    let mut ins = vec![Some(q), Some(k), Some(v), mask];
    e.node("", "Attention", ins.clone(), vec![Some(out)], attrs)?;
    if rest.iter().any(Option::is_some) {
        ins.truncate(1);
        e.node("aten", "attention_stats", ins, rest, vec![])?;
    }
    Ok(())
}

/// `nn.MultiheadAttention`'s fused inference path: input projection, attention, output
/// projection, as the unfused path and ONNX exports spell them.
fn mha(e: &mut Emit, c: &Call) -> R {
    let (q, k, v) = (e.req(c, "query")?, e.req(c, "key")?, e.req(c, "value")?);
    let heads = Emit::int(c, "num_head", 1)?;
    let (w, b) = (e.req(c, "qkv_weight")?, e.tensor(c, "qkv_bias")?);
    let (pw, pb) = (e.req(c, "proj_weight")?, e.tensor(c, "proj_bias")?);
    let out = first(&c.outputs)?;
    let dt = e.dtype(q);
    let qs = e.shape(q);
    let ws = e.shape(w);
    let (Some(&e3), Some(&ein)) = (ws.first(), ws.get(1)) else {
        return Err(format!("qkv_weight {ws:?} is not a matrix"));
    };
    let dim = e3 / 3;
    let lead = &qs[..qs.len().saturating_sub(1)];
    let with = |d: u64| -> Vec<u64> { lead.iter().copied().chain([d]).collect() };
    // One projection of `x` by `w` (already [in, out]) plus an optional bias.
    let project = |e: &mut Emit, x: ValueId, wt: ValueId, b: Option<ValueId>, d: u64| {
        let xs: Vec<u64> = e.shape(x)[..e.shape(x).len().saturating_sub(1)]
            .iter()
            .copied()
            .chain([d])
            .collect();
        let y = e.op("MatMul", vec![Some(x), Some(wt)], vec![], dt, &xs)?;
        match b {
            Some(b) => e.op("Add", vec![Some(y), Some(b)], vec![], dt, &xs),
            None => Ok(y),
        }
    };
    let wt = e.t(w)?;
    let (pq, pk, pv) = if q == k && k == v {
        let qkv = project(e, q, wt, b, e3)?;
        let parts: Vec<ValueId> = (0..3).map(|_| e.value(dt, &with(dim))).collect();
        e.node(
            "aten",
            "split",
            vec![Some(qkv)],
            parts.iter().map(|&p| Some(p)).collect(),
            vec![],
        )?;
        (parts[0], parts[1], parts[2])
    } else {
        // Separate inputs: each takes its third of the weight and bias.
        let ws: Vec<ValueId> = (0..3).map(|_| e.value(dt, &[ein, dim])).collect();
        e.node(
            "aten",
            "split",
            vec![Some(wt)],
            ws.iter().map(|&p| Some(p)).collect(),
            vec![],
        )?;
        let bs: Vec<Option<ValueId>> = match b {
            Some(b) => {
                let bs: Vec<ValueId> = (0..3).map(|_| e.value(dt, &[dim])).collect();
                e.node(
                    "aten",
                    "split",
                    vec![Some(b)],
                    bs.iter().map(|&p| Some(p)).collect(),
                    vec![],
                )?;
                bs.into_iter().map(Some).collect()
            }
            None => vec![None; 3],
        };
        (
            project(e, q, ws[0], bs[0], dim)?,
            project(e, k, ws[1], bs[1], dim)?,
            project(e, v, ws[2], bs[2], dim)?,
        )
    };
    let mask = e.tensor(c, "mask")?;
    let att = e.op(
        "Attention",
        vec![Some(pq), Some(pk), Some(pv), mask],
        vec![
            ("q_num_heads", Attr::Int(heads)),
            ("kv_num_heads", Attr::Int(heads)),
        ],
        dt,
        &with(dim),
    )?;
    let pwt = e.t(pw)?;
    let outs = vec![Some(out)]; // the attention weights (need_weights) are not computed here
    match pb {
        Some(pb) => {
            let y = e.op(
                "MatMul",
                vec![Some(att), Some(pwt)],
                vec![],
                dt,
                &e.shape(out),
            )?;
            e.node("", "Add", vec![Some(y), Some(pb)], outs, vec![])
        }
        None => e.node("", "MatMul", vec![Some(att), Some(pwt)], outs, vec![]),
    }
}
