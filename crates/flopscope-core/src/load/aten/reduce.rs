//! Reductions, top-k and sorting, pooling and resampling.

use super::{first, generic, ints, Call, Emit, R};
use crate::graph::Attr;

/// The nodes of `c` when its operator (`base`, without an in-place `_`) is of this family.
pub(super) fn translate(e: &mut Emit, c: &Call, base: &str) -> Option<R> {
    let outs = c.outputs.clone();
    let mut mine = true;
    let r = (|| -> R {
        match base {
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
            _ => {
                mine = false;
                Ok(())
            }
        }
    })();
    mine.then_some(r)
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
