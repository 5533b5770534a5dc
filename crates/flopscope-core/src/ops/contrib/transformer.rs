//! ONNX Runtime's transformer fusions: GroupQueryAttention, PackedAttention, QAttention and
//! EmbedLayerNormalization. See `docs/counting.md`, "ONNX Runtime fused operators".
//!
//! Attention follows the convention of `ops/attention.rs`: with B sequences, H query heads, L
//! query positions, S key positions and head sizes dk, dv, MACs = B · H · L · S · (dk + dv)
//! and FLOPs = 2 · MACs + B · H · L · S · (1 scale + 5 softmax [+ 1 mask add]). A fused input
//! projection adds its MACs (and its bias adds, 1 per projected element); the rotary embedding
//! and the Q/K norms that GroupQueryAttention can apply inside add what `RotaryEmbedding` and
//! `SimplifiedLayerNormalization` cost.

use super::super::norm::flops_per_element;
use super::super::{invalid, mul, overflow, required_int};
use super::super::{Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::DType;

/// Rules for the ops of this file.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "GroupQueryAttention" => OpDef {
            infer: infer_gqa,
            cost: cost_gqa,
        },
        "PackedAttention" => OpDef {
            infer: infer_packed,
            cost: cost_packed,
        },
        "QAttention" => OpDef {
            infer: infer_qattention,
            cost: cost_qattention,
        },
        "EmbedLayerNormalization" => OpDef {
            infer: infer_embed_ln,
            cost: cost_embed_ln,
        },
        _ => return None,
    })
}

/// A required head count attribute, ≥ 1.
fn heads(cx: &Ctx, name: &str) -> Result<u64, OpError> {
    let h = required_int(cx.node, name)?;
    match u64::try_from(h) {
        Ok(h) if h >= 1 => Ok(h),
        _ => invalid(format!("{name} {h} must be ≥ 1")),
    }
}

/// `a + b`, checked.
fn sum(a: Cost, b: Cost) -> Result<Cost, OpError> {
    Ok(Cost {
        macs: a.macs.checked_add(b.macs).ok_or_else(overflow)?,
        flops: a.flops.checked_add(b.flops).ok_or_else(overflow)?,
    })
}

/// `a + b`, checked.
fn add(a: u64, b: u64) -> Result<u64, OpError> {
    a.checked_add(b).ok_or_else(overflow)
}

/// Scores and weighted sum over `pairs` = Σ L · S query–key pairs per head, for H heads:
/// MACs = H · pairs · (dk + dv), FLOPs = 2 · MACs + H · pairs · (6 + mask).
fn attention(h: u64, pairs: u64, dk: u64, dv: u64, mask: bool) -> Result<Cost, OpError> {
    let scores = mul(&[h, pairs])?;
    Cost::products(
        mul(&[scores, add(dk, dv)?])?,
        mul(&[scores, 6 + u64::from(mask)])?,
    )
}

/// An input projection of `rows` rows from `din` to `dout` features: `rows · din · dout` MACs,
/// plus `per_out` FLOPs per projected element (bias add, rescaling).
fn projection(rows: u64, din: u64, dout: u64, per_out: u64) -> Result<Cost, OpError> {
    Cost::products(mul(&[rows, din, dout])?, mul(&[rows, dout, per_out])?)
}

/// `d / h` when `h` divides `d`.
fn per_head(d: u64, h: u64, what: &str) -> Result<u64, OpError> {
    if h == 0 || d % h != 0 {
        return invalid(format!("{what} {d} is not a multiple of {h} heads"));
    }
    Ok(d / h)
}

// ---- GroupQueryAttention ---------------------------------------------------------------------

/// Dims of a GroupQueryAttention node.
struct Gqa {
    b: u64,
    l: u64,
    h: u64,
    kv_heads: u64,
    head: u64,
    /// Keys attended: `total_sequence_length` when its value is known, else past + new.
    s: u64,
    /// Sequence length of `present_key` / `present_value`.
    present: u64,
}

/// Inputs: query, key, value, past_key, past_value, seqlens_k, total_sequence_length,
/// cos_cache, sin_cache, position_ids, attention_bias, head_sink, k_scale, v_scale,
/// q_norm_weight, k_norm_weight.
fn gqa_dims(cx: &Ctx) -> Result<Gqa, OpError> {
    let h = heads(cx, "num_heads")?;
    let kv_heads = heads(cx, "kv_num_heads")?;
    if h % kv_heads != 0 {
        return invalid(format!(
            "{h} query heads are not a multiple of {kv_heads} key/value heads"
        ));
    }
    let q = cx.shape(0)?;
    if q.len() != 3 {
        return invalid(format!("query {q:?} must be [batch, sequence, hidden]"));
    }
    let (b, l) = (q[0], q[1]);
    let (head, kv_len) = match cx.opt(1) {
        Some(_) => {
            let (k, v) = (cx.shape(1)?, cx.shape(2)?);
            if k.len() != 3 || v.len() != 3 || k[0] != b || v[..2] != k[..2] || v[2] != k[2] {
                return invalid(format!(
                    "key {k:?} and value {v:?} must both be [batch {b}, kv_sequence, kv_hidden]"
                ));
            }
            let head = per_head(q[2], h, "query hidden size")?;
            if k[2] != mul(&[kv_heads, head])? {
                return invalid(format!(
                    "key hidden size {} is not {kv_heads} heads of size {head}",
                    k[2]
                ));
            }
            (head, k[1])
        }
        // Packed QKV: H·hd + 2·Hkv·hd.
        None => {
            let packed = add(h, mul(&[2, kv_heads])?)?;
            (per_head(q[2], packed, "packed QKV size")?, l)
        }
    };
    let past = match cx.opt(3).and_then(|t| t.shape.as_deref()) {
        Some(p) if p.len() == 4 => Some(p[2]),
        Some(p) => {
            return invalid(format!(
                "past_key {p:?} must be [batch, heads, length, head]"
            ))
        }
        None => None,
    };
    let total =
        match cx.opt(6).and_then(|t| t.value.as_deref()) {
            Some(v) if v.len() == 1 => {
                let t = v.to_ints()[0];
                Some(u64::try_from(t).map_err(|_| {
                    OpError::Invalid(format!("total_sequence_length {t} is negative"))
                })?)
            }
            _ => None,
        };
    let p = past.unwrap_or(0);
    let s = match total {
        Some(t) => t,
        None => add(p, kv_len)?,
    };
    let present = match (past, total) {
        // A window-sized cache keeps its capacity.
        (Some(p), _) if cx.node.attr_int("sliding_window_cache", 0) != 0 => p,
        (_, Some(t)) => t.max(p),
        _ => add(p, kv_len)?,
    };
    Ok(Gqa {
        b,
        l,
        h,
        kv_heads,
        head,
        s,
        present,
    })
}

/// Outputs: output `[B, L, H·hd]`, present_key and present_value `[B, Hkv, present, ·]` (the
/// cache's type and last axis, which a 4-bit cache packs), output_qk `[B, H, L, S]`.
fn infer_gqa(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let d = gqa_dims(cx)?;
    let dt = cx.dtype(0)?;
    let cache = |i: usize| -> Tensor {
        let (cdt, last) = match cx.opt(i) {
            Some(t) => (t.dtype, t.shape.as_deref().and_then(|s| s.get(3).copied())),
            None => (dt, None),
        };
        Tensor::new(
            cdt,
            vec![d.b, d.kv_heads, d.present, last.unwrap_or(d.head)],
        )
    };
    Ok(vec![
        Tensor::new(dt, vec![d.b, d.l, mul(&[d.h, d.head])?]),
        cache(3),
        cache(4),
        Tensor::new(dt, vec![d.b, d.h, d.l, d.s]),
    ])
}

/// Attention over S keys (`attention_bias`, input 10, is the mask add); with `do_rotary`, 3
/// FLOPs per rotated element of the new Q and K (rotary dim 2 · cos_cache's second axis, or
/// the head size); with `q_norm_weight` (input 14), 4 per element of Q and K (RMS norm).
fn cost_gqa(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let d = gqa_dims(cx)?;
    let pairs = mul(&[d.b, d.l, d.s])?;
    let att = attention(d.h, pairs, d.head, d.head, cx.opt(10).is_some())?;
    // Positions × heads of the new Q and K.
    let qk_heads = mul(&[d.b, d.l, add(d.h, d.kv_heads)?])?;
    let mut extra = 0;
    if cx.node.attr_int("do_rotary", 0) != 0 {
        let rot = match cx.opt(7).and_then(|t| t.shape.as_deref()) {
            Some(c) if c.len() == 2 => mul(&[c[1], 2])?.min(d.head),
            _ => d.head,
        };
        extra = add(extra, mul(&[qk_heads, rot, 3])?)?;
    }
    if cx.opt(14).is_some() {
        let rms = flops_per_element("SimplifiedLayerNormalization").ok_or(OpError::Unknown)?;
        extra = add(extra, mul(&[qk_heads, d.head, rms])?)?;
    }
    sum(att, Cost::flops(extra))
}

// ---- PackedAttention -------------------------------------------------------------------------

/// (tokens, Din, H, Dq, Dv) of a PackedAttention node. Inputs: input `[T, Din]`, weights
/// `[Din, Dq + Dk + Dv]`, bias, token_offset `[B, S]`, cumulative_sequence_length `[B + 1]`,
/// attention_bias.
fn packed_dims(cx: &Ctx) -> Result<[u64; 5], OpError> {
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    let h = heads(cx, "num_heads")?;
    if x.len() != 2 || w.len() != 2 || w[0] != x[1] {
        return invalid(format!(
            "input {x:?} and weights {w:?} must be [tokens, Din] and [Din, Dq + Dk + Dv]"
        ));
    }
    let (dq, dv) = super::super::attention::qkv_split(cx, w)?;
    per_head(dq, h, "Q hidden size")?;
    per_head(dv, h, "V hidden size")?;
    Ok([x[0], x[1], h, dq, dv])
}

fn infer_packed(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let [t, _, _, _, dv] = packed_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![t, dv])])
}

/// Σ over sequences of L · S: the squared lengths from `cumulative_sequence_length` when its
/// values are known, else B · S² from token_offset's `[B, S]` (the padded batch).
fn packed_pairs(cx: &Ctx) -> Result<u64, OpError> {
    if let Some(v) = cx.opt(4).and_then(|t| t.value.as_deref()) {
        let c = v.to_ints();
        let mut total = 0u64;
        for w in c.windows(2) {
            let n = u64::try_from(w[1] - w[0]).map_err(|_| {
                OpError::Invalid(format!("cumulative_sequence_length {c:?} decreases"))
            })?;
            total = add(total, mul(&[n, n])?)?;
        }
        return Ok(total);
    }
    let o = cx.shape(3)?;
    if o.len() != 2 {
        return invalid(format!("token_offset {o:?} must be [batch, sequence]"));
    }
    mul(&[o[0], o[1], o[1]])
}

/// The projection of the T packed tokens (bias: 1 per projected element) plus attention within
/// each sequence; attention_bias (input 5) is the mask add.
fn cost_packed(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let [t, din, h, dq, dv] = packed_dims(cx)?;
    let dout = add(mul(&[dq, 2])?, dv)?;
    let proj = projection(t, din, dout, u64::from(cx.opt(2).is_some()))?;
    let att = attention(h, packed_pairs(cx)?, dq / h, dv / h, cx.opt(5).is_some())?;
    sum(proj, att)
}

// ---- QAttention ------------------------------------------------------------------------------

/// (B, L, Din, H, D, past length) of a QAttention node. Inputs: input `[B, L, Din]` (8-bit),
/// weight `[Din, 3·D]` (8-bit), bias `[3·D]`, input_scale, weight_scale, mask_index,
/// input_zero_point, weight_zero_point, past `[2, B, H, P, D/H]`.
fn qattention_dims(cx: &Ctx) -> Result<[u64; 6], OpError> {
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    let h = heads(cx, "num_heads")?;
    if x.len() != 3 || w.len() != 2 || w[0] != x[2] || w[1] % 3 != 0 {
        return invalid(format!(
            "input {x:?} and weight {w:?} must be [B, L, Din] and [Din, 3·D]"
        ));
    }
    let d = w[1] / 3;
    per_head(d, h, "hidden size")?;
    let past = match cx.opt(8).and_then(|t| t.shape.as_deref()) {
        Some(p) if p.len() == 5 => p[3],
        Some(p) => return invalid(format!("past {p:?} must be [2, B, H, P, head]")),
        None => 0,
    };
    Ok([x[0], x[1], x[2], h, d, past])
}

/// Output `[B, L, D]` and present `[2, B, H, P + L, D/H]`, of the float type of the bias (or
/// of input_scale).
fn infer_qattention(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let [b, l, _, h, d, p] = qattention_dims(cx)?;
    let dt = cx
        .opt(2)
        .or(cx.opt(3))
        .map(|t| t.dtype)
        .unwrap_or(DType::F32);
    Ok(vec![
        Tensor::new(dt, vec![b, l, d]),
        Tensor::new(dt, vec![2, b, h, add(p, l)?, d / h]),
    ])
}

/// The integer projection (B·L·Din·3D MACs; rescaling the int32 products, 1 per projected
/// element, and the bias, 1 more) plus attention over P + L keys; mask_index (input 5) is
/// the mask add.
fn cost_qattention(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let [b, l, din, h, d, p] = qattention_dims(cx)?;
    let rows = mul(&[b, l])?;
    let proj = projection(rows, din, mul(&[d, 3])?, 1 + u64::from(cx.opt(2).is_some()))?;
    let pairs = mul(&[rows, add(p, l)?])?;
    let att = attention(h, pairs, d / h, d / h, cx.opt(5).is_some())?;
    sum(proj, att)
}

// ---- EmbedLayerNormalization -----------------------------------------------------------------

/// (B, S, D). Inputs: input_ids `[B, S]`, segment_ids, word_embedding `[V, D]`,
/// position_embedding `[P, D]`, segment_embedding `[G, D]`, gamma `[D]`, beta `[D]`, mask,
/// position_ids.
fn embed_dims(cx: &Ctx) -> Result<[u64; 3], OpError> {
    let ids = cx.shape(0)?;
    let (word, pos) = (cx.shape(2)?, cx.shape(3)?);
    if ids.len() != 2 {
        return invalid(format!("input_ids {ids:?} must be [batch, sequence]"));
    }
    let ok = |s: &[u64]| s.len() == 2 && s[1] == word[1];
    let seg_ok = cx.opt(4).and_then(|t| t.shape.as_deref()).is_none_or(ok);
    if word.len() != 2 || !ok(pos) || !seg_ok {
        return invalid(format!(
            "the embeddings (word {word:?}, position {pos:?}) must be [rows, hidden] of one \
             hidden size"
        ));
    }
    Ok([ids[0], ids[1], word[1]])
}

/// Outputs: output `[B, S, D]` (the embeddings' type), mask_index `[B]` (input_ids' type),
/// embedding_sum `[B, S, D]`.
fn infer_embed_ln(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let [b, s, d] = embed_dims(cx)?;
    let dt = cx.dtype(2)?;
    Ok(vec![
        Tensor::new(dt, vec![b, s, d]),
        Tensor::new(cx.dtype(0)?, vec![b]),
        Tensor::new(dt, vec![b, s, d]),
    ])
}

/// Per output element: word + position (1), + segment (1, with input 4), then LayerNorm
/// (statistics 5, gamma 1, beta 1 when given). The gathers and the integer mask_index cost 0.
fn cost_embed_ln(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let [b, s, d] = embed_dims(cx)?;
    let ln = flops_per_element("LayerNormalization").ok_or(OpError::Unknown)?;
    let given = |i: usize| u64::from(cx.opt(i).is_some());
    // LayerNormalization's 6 include the scale (gamma, input 5).
    let per = 1 + given(4) + ln - (1 - given(5)) + given(6);
    Ok(Cost::flops(mul(&[b, s, d, per])?))
}
