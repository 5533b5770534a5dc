//! Attention family: ONNX `Attention` (opset 23) and Microsoft's `MultiHeadAttention` and
//! `Attention` contrib ops. See `docs/counting.md`, "Attention".
//!
//! With L query positions, S key positions, H heads, head sizes dk and dv:
//! MACs = B · H · L · S · (dk + dv) (scores QKᵀ and the weighted sum with V), plus the input
//! projection B · L · Din · (Dq + Dk + Dv) for Microsoft's `Attention`. FLOPs = 2 · MACs +
//! B · H · L · S · (1 scale + 5 softmax [+ 1 mask add]), plus, for Microsoft's `Attention`,
//! 1 per projection bias element. MultiHeadAttention's optional projection bias and past
//! key/value are not counted.
//! Exported graphs that spell attention as MatMul/Softmax/MatMul are counted by those ops.

use super::{invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "Attention" => OpDef {
            infer: infer_onnx,
            cost: cost_onnx,
        },
        "RotaryEmbedding" => OpDef {
            infer: infer_rotary,
            cost: cost_rotary,
        },
        _ => return None,
    })
}

/// Microsoft-domain rules.
pub fn lookup_ms(op: &str) -> Option<OpDef> {
    Some(match op {
        "MultiHeadAttention" => OpDef {
            infer: infer_mha,
            cost: cost_mha,
        },
        "Attention" => OpDef {
            infer: infer_ms_attention,
            cost: cost_ms_attention,
        },
        "RotaryEmbedding" => OpDef {
            infer: infer_rotary,
            cost: cost_rotary,
        },
        _ => return None,
    })
}

/// Batch, heads, L, S, dk, dv of ONNX Attention (also read by its backward rule).
pub(super) struct Dims {
    pub(super) b: u64,
    pub(super) h: u64,
    pub(super) l: u64,
    pub(super) s: u64,
    pub(super) dk: u64,
    pub(super) dv: u64,
    kv_heads: u64,
    past: u64,
}

pub(super) fn onnx_dims(cx: &Ctx) -> Result<Dims, OpError> {
    let (q, k, v) = (cx.shape(0)?, cx.shape(1)?, cx.shape(2)?);
    let past = cx.opt(4).and_then(|t| t.shape.as_deref());
    dims_of(cx.node, q, k, v, past)
}

/// [`onnx_dims`] from the shapes of Q, K, V and the optional past key.
fn dims_of(
    node: &crate::graph::Node,
    q: &[u64],
    k: &[u64],
    v: &[u64],
    past: Option<&[u64]>,
) -> Result<Dims, OpError> {
    let past = match past {
        Some(p) if p.len() == 4 => p[2],
        _ => 0,
    };
    let d = match (q.len(), k.len(), v.len()) {
        (4, 4, 4) => Dims {
            b: q[0],
            h: q[1],
            l: q[2],
            s: k[2] + past,
            dk: q[3],
            dv: v[3],
            kv_heads: k[1],
            past,
        },
        (3, 3, 3) => {
            // A negative count reads as 0, which is refused just below.
            let h = u64::try_from(node.attr_int("q_num_heads", 0)).unwrap_or(0);
            let kvh = u64::try_from(node.attr_int("kv_num_heads", 0)).unwrap_or(0);
            if h < 1 || kvh < 1 || q[2] % h != 0 || v[2] % kvh != 0 {
                return invalid(
                    "3-D inputs need q_num_heads and kv_num_heads dividing the hidden sizes",
                );
            }
            Dims {
                b: q[0],
                h,
                l: q[1],
                s: k[1] + past,
                dk: q[2] / h,
                dv: v[2] / kvh,
                kv_heads: kvh,
                past,
            }
        }
        _ => {
            return invalid(format!(
                "Q {q:?}, K {k:?}, V {v:?} must all be 3-D or all 4-D"
            ))
        }
    };
    if d.kv_heads == 0 || d.h % d.kv_heads != 0 {
        return invalid(format!(
            "{} query heads are not a multiple of {} key/value heads",
            d.h, d.kv_heads
        ));
    }
    Ok(d)
}

fn infer_onnx(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let d = onnx_dims(cx)?;
    let dt = cx.dtype(0)?;
    let y = if cx.rank(0)? == 4 {
        vec![d.b, d.h, d.l, d.dv]
    } else {
        vec![d.b, d.l, d.h * d.dv]
    };
    Ok(vec![
        Tensor::new(dt, y),
        Tensor::new(dt, vec![d.b, d.kv_heads, d.s, d.dk]),
        Tensor::new(dt, vec![d.b, d.kv_heads, d.s, d.dv]),
        Tensor::new(dt, vec![d.b, d.h, d.l, d.s]),
    ])
}

fn attention_cost(
    b: u64,
    h: u64,
    l: u64,
    s: u64,
    dk: u64,
    dv: u64,
    mask: bool,
) -> Result<Cost, OpError> {
    let scores = mul(&[b, h, l, s])?;
    let macs = mul(&[scores, dk + dv])?;
    Cost::products(macs, mul(&[scores, 6 + mask as u64])?)
}

fn cost_onnx(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let d = onnx_dims(cx)?;
    let _ = d.past;
    attention_cost(d.b, d.h, d.l, d.s, d.dk, d.dv, cx.opt(3).is_some())
}

/// Whether an ONNX `Attention` node (default domain) is causal by its own say: `is_causal = 1`
/// and no mask tensor (a mask could be anything, so it is never assumed causal).
pub fn says_causal(node: &crate::graph::Node) -> bool {
    node.op_type == "Attention"
        && (node.domain.is_empty() || node.domain == "ai.onnx")
        && node.attr_int("is_causal", 0) == 1
        && node.inputs.get(3).is_none_or(Option::is_none)
}

/// The cost of a causal ONNX `Attention` node ([`says_causal`]) counted as its causal half
/// (`--attention causal-half`): the score matrix's MACs and its other FLOPs (scale, softmax)
/// each halved, rounded down, as FlashAttention's benchmark counts `4·b·s²·h·d / 2`. `Ok(None)`
/// when queries and keys differ in number (L ≠ S: a KV cache, where half is not what the mask
/// keeps) or a shape is unknown: the node stays whole. `shapes` are Q, K, V and the past key.
pub fn causal_half_cost(
    node: &crate::graph::Node,
    shapes: [Option<&[u64]>; 4],
) -> Result<Option<Cost>, OpError> {
    let [Some(q), Some(k), Some(v), past] = shapes else {
        return Ok(None);
    };
    let d = dims_of(node, q, k, v, past)?;
    if d.l != d.s {
        return Ok(None);
    }
    let full = attention_cost(d.b, d.h, d.l, d.s, d.dk, d.dv, false)?;
    let macs = full.macs / 2;
    // flops = 2·macs + other, so other ≥ 0.
    let other = full.flops.saturating_sub(full.macs.saturating_mul(2)) / 2;
    Cost::products(macs, other).map(Some)
}

pub(super) fn mha_dims(cx: &Ctx) -> Result<[u64; 6], OpError> {
    let q = cx.shape(0)?;
    let h = u64::try_from(cx.node.attr_int("num_heads", 0)).unwrap_or(0); // < 0 → refused
    if q.len() != 3 || h < 1 || q[2] % h != 0 {
        return invalid(format!(
            "query {q:?} must be [B, L, D] with num_heads dividing D"
        ));
    }
    let (s, dv) = match (
        cx.opt(1).and_then(|t| t.shape.as_deref()),
        cx.opt(2).and_then(|t| t.shape.as_deref()),
    ) {
        (Some(k), Some(v)) if k.len() == 3 && v.len() == 3 => (k[1], v[2]),
        _ => (q[1], q[2]), // packed QKV or self-attention
    };
    Ok([q[0], h, q[1], s, q[2] / h, dv / h])
}

fn infer_mha(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let [b, h, l, _, _, dv] = mha_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![b, l, h * dv])])
}

fn cost_mha(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let [b, h, l, s, dk, dv] = mha_dims(cx)?;
    attention_cost(b, h, l, s, dk, dv, cx.opt(4).is_some())
}

pub(super) fn ms_attention_dims(cx: &Ctx) -> Result<(u64, u64, u64, u64, u64, u64), OpError> {
    let x = cx.shape(0)?;
    let w = cx.shape(1)?;
    let h = cx.node.attr_int("num_heads", 0);
    if x.len() != 3 || w.len() != 2 || w[0] != x[2] || h < 1 {
        return invalid(format!(
            "input {x:?} and weights {w:?} must be [B, L, Din] and [Din, 3·D]"
        ));
    }
    let (dq, dv) = qkv_split(cx, w)?;
    Ok((x[0], x[1], x[2], h.unsigned_abs(), dq, dv)) // h ≥ 1: checked above
}

/// The Q (= K) and V widths of a packed QKV weight `[Din, Dq + Dk + Dv]`: `qkv_hidden_sizes`
/// (three entries, as ONNX Runtime requires), else thirds.
pub(super) fn qkv_split(cx: &Ctx, w: &[u64]) -> Result<(u64, u64), OpError> {
    let (dq, dk, dv) = match cx.node.attr_ints("qkv_hidden_sizes") {
        Some(&[a, b, c]) => match (u64::try_from(a), u64::try_from(b), u64::try_from(c)) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            _ => {
                return invalid(format!(
                    "qkv_hidden_sizes [{a}, {b}, {c}] has a negative size"
                ))
            }
        },
        Some(other) => {
            return invalid(format!(
                "qkv_hidden_sizes {other:?} must have three entries"
            ))
        }
        None => (w[1] / 3, w[1] / 3, w[1] / 3),
    };
    if dq.checked_add(dk).and_then(|s| s.checked_add(dv)) != Some(w[1]) || dq != dk {
        return invalid(format!("weights {w:?} do not split into Q, K, V sizes"));
    }
    Ok((dq, dv))
}

fn infer_ms_attention(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (b, l, _, _, _, dv) = ms_attention_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![b, l, dv])])
}

fn cost_ms_attention(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (b, l, din, h, dq, dv) = ms_attention_dims(cx)?;
    let proj_out = dq
        .checked_mul(2)
        .and_then(|x| x.checked_add(dv))
        .ok_or_else(super::overflow)?;
    let proj = mul(&[b, l, din, proj_out])?;
    let bias = if cx.opt(2).is_some() {
        mul(&[b, l, proj_out])?
    } else {
        0
    };
    let att = attention_cost(b, h, l, l, dq / h, dv / h, cx.opt(3).is_some())?;
    let p = Cost::products(proj, bias)?;
    Ok(Cost {
        macs: p.macs.checked_add(att.macs).ok_or_else(super::overflow)?,
        flops: p.flops.checked_add(att.flops).ok_or_else(super::overflow)?,
    })
}

/// Rotary position embedding: output shaped like X.
fn infer_rotary(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(cx.dtype(0)?, cx.shape(0)?.to_vec())])
}

/// 3 FLOPs per rotated element: x · cos + rotate(x) · sin (the sign flip of the rotation is
/// folded into the add). With `rotary_embedding_dim` = r < head size d, only r/d of X rotates.
fn cost_rotary(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let n = mul(x)?;
    let r = cx.node.attr_int("rotary_embedding_dim", 0);
    let head = match (x.len(), cx.node.attr_int("num_heads", 0)) {
        (4, _) => x[3],
        (3, h) if h > 0 => x[2] / h.unsigned_abs(),
        _ => 0,
    };
    let rotated = match u64::try_from(r) {
        Ok(r) if r > 0 && head > 0 && r < head => n / head * r,
        _ => n,
    };
    Ok(Cost::flops(mul(&[rotated, 3])?))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn attention_quadratic_in_sequence() {
        // B=1, H=12, head 64: MACs = 12 · L · L · 128. At L=128: 25,165,824; at 256: ×4.
        let at = |l: u64| {
            let q = f32t(&[1, 12, l, 64]);
            run1("Attention", &[q.clone(), q.clone(), q], &[]).cost.macs
        };
        assert_eq!(at(128), 12 * 128 * 128 * 128);
        assert_eq!(at(256), 4 * at(128));
    }

    #[test]
    fn rotary_embedding_rotates_all_or_part_of_each_head() {
        // [1, 4, 32, 16]: 2048 elements × 3; with rotary_embedding_dim 8 half of each head.
        let x = f32t(&[1, 4, 32, 16]);
        let c = f32t(&[32, 8]);
        let r = run1("RotaryEmbedding", &[x.clone(), c.clone(), c.clone()], &[]);
        assert_eq!(
            (r.shape.clone(), r.cost.flops),
            (vec![1, 4, 32, 16], 2048 * 3)
        );
        let r = run1(
            "RotaryEmbedding",
            &[x, c.clone(), c],
            &[a_int("rotary_embedding_dim", 8)],
        );
        assert_eq!(r.cost.flops, 1024 * 3);
    }

    #[test]
    fn microsoft_attention_adds_projection() {
        // B=1, L=8, Din=D=16, 2 heads: projection 8·16·48 = 6144; scores+context 2·8·8·(8+8) = 2048.
        let r = run_dom(
            "com.microsoft",
            "Attention",
            &[f32t(&[1, 8, 16]), f32t(&[16, 48]), f32t(&[48])],
            &[a_int("num_heads", 2)],
        );
        assert_eq!(r.shape, vec![1, 8, 16]);
        assert_eq!(r.cost.macs, 6144 + 2048);
        // qkv_hidden_sizes must have three entries (ONNX Runtime refuses others too).
        let e = run_opt_err(
            "com.microsoft",
            "Attention",
            &[
                Some(f32t(&[1, 8, 16])),
                Some(f32t(&[16, 48])),
                Some(f32t(&[48])),
            ],
            &[a_int("num_heads", 2), a_ints("qkv_hidden_sizes", &[16, 32])],
        );
        assert!(e.contains("three entries"), "{e}");
    }
}
