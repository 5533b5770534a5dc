//! Language-model blocks of opsets 24–28: LinearAttention, CausalConvWithState, SwiGLU,
//! TensorScatter, and `ai.onnx.preview`'s FlexAttention. See `docs/counting.md`, "Attention"
//! and "Language-model blocks".
//!
//! LinearAttention (per batch and token, Hq query heads, Hkv state heads of dk × dv):
//! MACs = dk·dv·(Hq + Hkv·(1 + δ)) (read q·S, write k ⊗ v, and for delta rules the retrieval
//! Sᵀk); other FLOPs Hq·dv (scale) + γ·Hkv·dk·dv (decay of the state) + δ·2·Hkv·dv (v − Sᵀk,
//! times β), plus one exp per decay element. CausalConvWithState: B·C·L·k MACs, 1 per output for
//! the bias, 5 for SiLU. SwiGLU: 6 per element. TensorScatter: 0 (a copy). FlexAttention: as
//! Attention, plus the cost of its `score_mod` and `prob_mod` subgraphs run on the score tensor.

use super::{axis, invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::Attr;

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "LinearAttention" => OpDef {
            infer: infer_linear_attention,
            cost: cost_linear_attention,
        },
        "CausalConvWithState" => OpDef {
            infer: infer_causal_conv,
            cost: cost_causal_conv,
        },
        "SwiGLU" => OpDef {
            infer: infer_swiglu,
            cost: |cx, _| Ok(Cost::flops(mul(&[cx.numel(0)?, 6])?)),
        },
        "TensorScatter" => OpDef {
            infer: infer_tensor_scatter,
            cost: super::no_cost,
        },
        _ => return None,
    })
}

/// `ai.onnx.preview` rules.
pub fn lookup_preview(op: &str) -> Option<OpDef> {
    Some(match op {
        "FlexAttention" => OpDef {
            infer: infer_flex,
            cost: cost_flex,
        },
        _ => return None,
    })
}

/// A required positive head count.
fn heads(cx: &Ctx, name: &str) -> Result<u64, OpError> {
    match u64::try_from(super::required_int(cx.node, name)?) {
        Ok(h) if h >= 1 => Ok(h),
        _ => invalid(format!("{name} must be ≥ 1")),
    }
}

/// Dims of LinearAttention.
struct Linear {
    b: u64,
    t: u64,
    hq: u64,
    hkv: u64,
    dk: u64,
    dv: u64,
    /// `gated` or `gated_delta`: the state decays by exp(decay).
    gated: bool,
    /// `delta` or `gated_delta`: the value is corrected by the retrieved Sᵀk.
    delta: bool,
}

fn linear_dims(cx: &Ctx) -> Result<Linear, OpError> {
    let rule = cx.node.attr_str("update_rule").unwrap_or("gated_delta");
    let (gated, delta) = match rule {
        "linear" => (false, false),
        "gated" => (true, false),
        "delta" => (false, true),
        "gated_delta" => (true, true),
        r => {
            return invalid(format!(
                "update_rule '{r}' is not linear, gated, delta or gated_delta"
            ))
        }
    };
    let (hq, hkv) = (heads(cx, "q_num_heads")?, heads(cx, "kv_num_heads")?);
    if hq % hkv != 0 {
        return invalid(format!(
            "{hq} query heads are not a multiple of {hkv} key/value heads"
        ));
    }
    let (q, k, v) = (cx.shape(0)?, cx.shape(1)?, cx.shape(2)?);
    if q.len() != 3 || k.len() != 3 || v.len() != 3 || q[..2] != k[..2] || q[..2] != v[..2] {
        return invalid(format!(
            "query {q:?}, key {k:?}, value {v:?} must be [B, T, H·d] alike"
        ));
    }
    if q[2] % hq != 0 || v[2] % hkv != 0 || k[2] != q[2] / hq * hkv {
        return invalid(format!(
            "query {q:?}, key {k:?}, value {v:?} do not split into {hq} and {hkv} heads"
        ));
    }
    let d = Linear {
        b: q[0],
        t: q[1],
        hq,
        hkv,
        dk: q[2] / hq,
        dv: v[2] / hkv,
        gated,
        delta,
    };
    if let Some(p) = cx.opt(3).and_then(|t| t.shape.as_deref()) {
        if p != [d.b, hkv, d.dk, d.dv] {
            return invalid(format!("past_state {p:?} is not [B, Hkv, dk, dv]"));
        }
    }
    for (i, name, on, lasts) in [
        (4, "decay", gated, [hkv, hkv.saturating_mul(d.dk)]),
        (5, "beta", delta, [hkv, 1]),
    ] {
        match (cx.opt(i), on) {
            (None, true) => return invalid(format!("update_rule '{rule}' needs the {name} input")),
            (Some(_), false) => {
                return invalid(format!("update_rule '{rule}' takes no {name} input"))
            }
            (Some(_), true) => {
                let s = cx.shape(i)?;
                if s.len() != 3 || s[..2] != q[..2] || !lasts.contains(&s[2]) {
                    return invalid(format!(
                        "{name} {s:?} is not [B, T, {}] or [B, T, {}]",
                        lasts[0], lasts[1]
                    ));
                }
            }
            (None, false) => {}
        }
    }
    Ok(d)
}

/// Y `[B, T, Hq·dv]` (query's type) and the state `[B, Hkv, dk, dv]` (past_state's type, or the
/// query's).
fn infer_linear_attention(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let d = linear_dims(cx)?;
    let dt = cx.dtype(0)?;
    let st = cx.opt(3).map_or(dt, |t| t.dtype);
    Ok(vec![
        Tensor::new(dt, vec![d.b, d.t, mul(&[d.hq, d.dv])?]),
        Tensor::new(st, vec![d.b, d.hkv, d.dk, d.dv]),
    ])
}

fn cost_linear_attention(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let d = linear_dims(cx)?;
    let state = mul(&[d.hkv, d.dk, d.dv])?;
    // Per token: read q·S (Hq·dk·dv), write k ⊗ v into S (state), retrieve Sᵀk (state, delta).
    let per_token_macs = mul(&[d.hq, d.dk, d.dv])?
        .checked_add(mul(&[state, 1 + u64::from(d.delta)])?)
        .ok_or_else(super::overflow)?;
    // Scale the output (Hq·dv); decay the state (state, gated); v − Sᵀk and × β (2·Hkv·dv).
    let per_token = mul(&[d.hq, d.dv])?
        .checked_add(if d.gated { state } else { 0 })
        .and_then(|x| {
            x.checked_add(if d.delta {
                mul(&[2, d.hkv, d.dv]).ok()?
            } else {
                0
            })
        })
        .ok_or_else(super::overflow)?;
    let exps = if d.gated { cx.numel(4)? } else { 0 };
    let tokens = mul(&[d.b, d.t])?;
    let extra = mul(&[tokens, per_token])?
        .checked_add(exps)
        .ok_or_else(super::overflow)?;
    Cost::products(mul(&[tokens, per_token_macs])?, extra)
}

/// CausalConvWithState(input [B, C, L], weight [C, 1, k], bias [C], past_state [B, C, k − 1]):
/// the output as the input and the state `[B, C, k − 1]`.
fn infer_causal_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    if x.len() != 3 || w.len() != 3 || w[0] != x[1] || w[1] != 1 || w[2] < 1 {
        return invalid(format!(
            "input {x:?} and weight {w:?} must be [B, C, L] and [C, 1, k ≥ 1]"
        ));
    }
    if let Some(b) = cx.opt(2).and_then(|t| t.shape.as_deref()) {
        if b != [x[1]] {
            return invalid(format!("bias {b:?} is not [C] = [{}]", x[1]));
        }
    }
    let state = vec![x[0], x[1], w[2] - 1];
    if let Some(p) = cx.opt(3).and_then(|t| t.shape.as_deref()) {
        if p != state.as_slice() {
            return invalid(format!("past_state {p:?} is not [B, C, k − 1] = {state:?}"));
        }
    }
    activation(cx)?;
    let dt = cx.dtype(0)?;
    Ok(vec![Tensor::new(dt, x.to_vec()), Tensor::new(dt, state)])
}

/// FLOPs per output of the fused activation: SiLU/Swish 5 (as Swish), none 0.
fn activation(cx: &Ctx) -> Result<u64, OpError> {
    match cx.node.attr_str("activation").unwrap_or("none") {
        "none" => Ok(0),
        "silu" | "swish" => Ok(5),
        a => invalid(format!("activation '{a}' is not silu, swish or none")),
    }
}

fn cost_causal_conv(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let out = cx.numel(0)?;
    let k = cx.shape(1)?.get(2).copied().ok_or(OpError::Unknown)?;
    let per_out = u64::from(cx.opt(2).is_some()) + activation(cx)?;
    Cost::products(mul(&[out, k])?, mul(&[out, per_out])?)
}

/// SwiGLU(A, B): A and B of one shape (no broadcasting); Y as they are.
fn infer_swiglu(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (a, b) = (cx.shape(0)?, cx.shape(1)?);
    if a != b {
        return invalid(format!("gate {a:?} and value {b:?} differ in shape"));
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, a.to_vec())])
}

/// TensorScatter(past_cache, update, write_indices): the cache, updated in place.
fn infer_tensor_scatter(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (p, u) = (cx.shape(0)?, cx.shape(1)?);
    let a = axis(cx.node.attr_int("axis", -2), p.len())?;
    if a == 0 {
        return invalid("axis is the batch axis 0");
    }
    let agree = u.len() == p.len()
        && (0..p.len()).all(|i| if i == a { u[i] <= p[i] } else { u[i] == p[i] });
    if !agree {
        return invalid(format!(
            "update {u:?} does not fit the cache {p:?} along axis {a}"
        ));
    }
    if let Some(w) = cx.opt(2).and_then(|t| t.shape.as_deref()) {
        if w != [p[0]] {
            return invalid(format!("write_indices {w:?} is not [batch] = [{}]", p[0]));
        }
    }
    match cx.node.attr_str("mode").unwrap_or("linear") {
        "linear" | "circular" => {}
        m => return invalid(format!("mode '{m}' is not linear or circular")),
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, p.to_vec())])
}

/// B, Hq, L, S, dk, dv of FlexAttention(Q, K, V), all rank 4.
fn flex_dims(cx: &Ctx) -> Result<[u64; 6], OpError> {
    let (q, k, v) = (cx.shape(0)?, cx.shape(1)?, cx.shape(2)?);
    let ok = q.len() == 4
        && k.len() == 4
        && v.len() == 4
        && q[0] == k[0]
        && k[0] == v[0]
        && k[1] == v[1]
        && k[2] == v[2]
        && q[3] == k[3]
        && k[1] >= 1
        && q[1] % k[1] == 0;
    if !ok {
        return invalid(format!(
            "Q {q:?}, K {k:?}, V {v:?} must be [B, Hq, L, d], [B, Hkv, S, d], [B, Hkv, S, dv] with Hkv dividing Hq"
        ));
    }
    Ok([q[0], q[1], q[2], k[2], q[3], v[3]])
}

fn infer_flex(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let [b, h, l, _, _, dv] = flex_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![b, h, l, dv])])
}

/// Attention's count (scores·(dk + dv) MACs, 6 FLOPs per score for the scale and the softmax)
/// plus each modifier subgraph analysed once on the `[B, Hq, L, S]` scores; unknown when a
/// subgraph's cost is.
fn cost_flex(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let [b, h, l, s, dk, dv] = flex_dims(cx)?;
    let scores = mul(&[b, h, l, s])?;
    let mut c = Cost::products(mul(&[scores, dk + dv])?, mul(&[scores, 6])?)?;
    for name in ["score_mod", "prob_mod"] {
        if let Some(Attr::Graph(g)) = cx.node.attrs.get(name) {
            let scores = Tensor::new(cx.dtype(0)?, vec![b, h, l, s]);
            let (_, body) = cx.bodies.analyze(g, vec![scores])?;
            let body = body.ok_or(OpError::Unknown)?;
            c.macs = c.macs.checked_add(body.macs).ok_or_else(super::overflow)?;
            c.flops = c
                .flops
                .checked_add(body.flops)
                .ok_or_else(super::overflow)?;
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests;
