//! Convolutions, matrix products, embeddings and attention.

use super::{first, generic, ints, Call, Emit, R};
use crate::graph::{Attr, ValueId};

/// The nodes of `c` when its operator (`base`, without an in-place `_`) is of this family.
pub(super) fn translate(e: &mut Emit, c: &Call, base: &str) -> Option<R> {
    let outs = c.outputs.clone();
    let mut mine = true;
    let r = (|| -> R {
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
                // inner contracts the last dims of both: a @ bᵀ for a matrix b.
                let b = match (base, e.shape(b).len()) {
                    ("inner", 2) => e.t(b)?,
                    ("inner", n) if n > 2 => return generic(e, c, "aten"),
                    _ => b,
                };
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
                // beta·self + alpha·product, each factor a multiplication when it is not 1.
                let scale = |e: &mut Emit, v, k: f64| -> Result<_, String> {
                    if k == 1.0 {
                        return Ok(v);
                    }
                    let s = e.scalar(k, dt);
                    e.op("Mul", vec![Some(v), Some(s)], vec![], dt, &e.shape(v))
                };
                let p = scale(e, p, Emit::num(c, "alpha").unwrap_or(1.0))?;
                let acc = scale(e, acc, Emit::num(c, "beta").unwrap_or(1.0))?;
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
            _ if base.contains("scaled_dot_product") => sdpa(e, c),
            "_native_multi_head_attention" => mha(e, c),
            _ => {
                mine = false;
                Ok(())
            }
        }
    })();
    mine.then_some(r)
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
