//! Hand-computed tests of GroupQueryAttention, PackedAttention, QAttention and
//! EmbedLayerNormalization.
use super::super::testutil::*;
use super::super::{Cost, Tensor, Values};
use crate::graph::{Attr, DType};

const MS: &str = "com.microsoft";

fn ok(op: &str, inputs: &[Option<Tensor>], attrs: &[(String, Attr)]) -> (Vec<Tensor>, Cost) {
    let r = run_opt(MS, op, inputs, attrs, 4).unwrap_or_else(|e| panic!("{op}: {e:?}"));
    (r.outs, r.cost)
}

fn err(op: &str, inputs: &[Option<Tensor>], attrs: &[(String, Attr)]) -> String {
    run_opt_err(MS, op, inputs, attrs)
}

fn t(dt: DType, shape: &[u64]) -> Option<Tensor> {
    Some(Tensor::new(dt, shape.to_vec()))
}

fn f(shape: &[u64]) -> Option<Tensor> {
    t(DType::F32, shape)
}

fn i32t(shape: &[u64]) -> Option<Tensor> {
    t(DType::I32, shape)
}

/// An int32 tensor with known values.
fn i32v(shape: &[u64], v: &[i64]) -> Option<Tensor> {
    Some(Tensor::with_values(
        DType::I32,
        shape.to_vec(),
        Values::Int(v.to_vec()),
    ))
}

fn shape(t: &Tensor) -> Vec<u64> {
    t.shape.clone().expect("shape")
}

fn gqa_heads() -> Vec<(String, Attr)> {
    vec![a_int("num_heads", 4), a_int("kv_num_heads", 2)]
}

#[test]
fn gqa_prompt_with_separate_key_and_value() {
    // B=2, L=8, H=4 heads of 16 over Hkv=2, total_sequence_length 8 (known), no past:
    // S = 8, pairs per head B·L·S = 128, scores 4·128 = 512; MACs = 512·(16+16) = 16,384;
    // FLOPs = 2·MACs + 512·6.
    let (outs, c) = ok(
        "GroupQueryAttention",
        &[
            f(&[2, 8, 64]),
            f(&[2, 8, 32]),
            f(&[2, 8, 32]),
            None,
            None,
            i32t(&[2]),
            i32v(&[], &[8]),
        ],
        &gqa_heads(),
    );
    assert_eq!(shape(&outs[0]), vec![2, 8, 64]);
    assert_eq!(shape(&outs[1]), vec![2, 2, 8, 16]);
    assert_eq!(shape(&outs[2]), vec![2, 2, 8, 16]);
    assert_eq!(shape(&outs[3]), vec![2, 4, 8, 8]);
    assert_eq!((c.macs, c.flops), (16_384, 2 * 16_384 + 512 * 6));
}

#[test]
fn gqa_decode_with_packed_qkv_shared_cache_and_rotary() {
    // Packed QKV [1, 1, (4 + 2·2)·16 = 128]; a shared cache of capacity 32 and 11 tokens in
    // all: S = 11, present keeps 32. pairs 11, scores 44: MACs = 44·32 = 1408; FLOPs =
    // 2·1408 + 44·(6 + 1 attention_bias) + rotary: (4 + 2) heads · 8 rotated (cos_cache
    // [32, 4]) · 3 = 144.
    let cache = f(&[1, 2, 32, 16]);
    let mut attrs = gqa_heads();
    attrs.push(a_int("do_rotary", 1));
    let (outs, c) = ok(
        "GroupQueryAttention",
        &[
            f(&[1, 1, 128]),
            None,
            None,
            cache.clone(),
            cache,
            i32t(&[1]),
            i32v(&[], &[11]),
            f(&[32, 4]),
            f(&[32, 4]),
            None,
            f(&[1, 1, 1, 11]),
        ],
        &attrs,
    );
    assert_eq!(shape(&outs[0]), vec![1, 1, 64]);
    assert_eq!(shape(&outs[1]), vec![1, 2, 32, 16]);
    assert_eq!(shape(&outs[3]), vec![1, 4, 1, 11]);
    assert_eq!(c.macs, 1408);
    assert_eq!(c.flops, 2 * 1408 + 44 * 7 + 6 * 8 * 3);
}

#[test]
fn gqa_unknown_total_quantized_cache_and_qk_norm() {
    // total_sequence_length unknown: S = past 6 + new 4 = 10, present 10. A uint8 4-bit
    // cache keeps its type and packed last axis (8). pairs 40, scores 160: MACs = 160·32;
    // FLOPs = 2·MACs + 160·6 + RMS norm of Q and K: 4 positions · 6 heads · 16 · 4.
    let cache = t(DType::U8, &[1, 2, 6, 8]);
    let mut inputs = vec![
        f(&[1, 4, 64]),
        f(&[1, 4, 32]),
        f(&[1, 4, 32]),
        cache.clone(),
        cache,
        i32t(&[1]),
        i32t(&[]),
    ];
    inputs.extend([None, None, None, None, None, None, None]);
    inputs.extend([f(&[16]), f(&[16])]);
    let (outs, c) = ok("GroupQueryAttention", &inputs, &gqa_heads());
    assert_eq!(shape(&outs[1]), vec![1, 2, 10, 8]);
    assert_eq!(outs[1].dtype, DType::U8);
    assert_eq!(outs[0].dtype, DType::F32);
    assert_eq!(c.macs, 5120);
    assert_eq!(c.flops, 2 * 5120 + 160 * 6 + 4 * 6 * 16 * 4);
    // A window-sized cache keeps its capacity (16) although 40 tokens were seen.
    let cache = f(&[1, 2, 16, 16]);
    let mut attrs = gqa_heads();
    attrs.extend([
        a_int("sliding_window_cache", 1),
        a_int("local_window_size", 16),
    ]);
    let (outs, c) = ok(
        "GroupQueryAttention",
        &[
            f(&[1, 1, 128]),
            None,
            None,
            cache.clone(),
            cache,
            i32t(&[1]),
            i32v(&[1], &[40]),
        ],
        &attrs,
    );
    assert_eq!(shape(&outs[1]), vec![1, 2, 16, 16]);
    assert_eq!(c.macs, 4 * 40 * 32);
}

#[test]
fn gqa_refuses_inconsistent_heads() {
    let q = [f(&[1, 4, 64]), f(&[1, 4, 32]), f(&[1, 4, 32])];
    let e = err(
        "GroupQueryAttention",
        &q,
        &[a_int("num_heads", 4), a_int("kv_num_heads", 3)],
    );
    assert!(e.contains("not a multiple"), "{e}");
    // Key of 48 = 3 heads of 16, not kv_num_heads 2.
    let e = err(
        "GroupQueryAttention",
        &[f(&[1, 4, 64]), f(&[1, 4, 48]), f(&[1, 4, 48])],
        &gqa_heads(),
    );
    assert!(e.contains("key hidden size 48"), "{e}");
    // Packed QKV of 100 is not (4 + 2·2) heads of one size.
    let e = err("GroupQueryAttention", &[f(&[1, 4, 100])], &gqa_heads());
    assert!(e.contains("packed QKV size 100"), "{e}");
    let e = err("GroupQueryAttention", &[f(&[1, 4, 128])], &[]);
    assert!(e.contains("num_heads"), "{e}");
}

#[test]
fn packed_attention_projects_tokens_and_attends_within_sequences() {
    // 10 tokens, Din 32, weights [32, 96] (Q, K, V of 32), 4 heads of 8; token_offset [2, 6]
    // (padded batch: 2 sequences of 6). Projection 10·32·96 = 30,720 MACs, bias 10·96 FLOPs;
    // attention over 2·6·6 = 72 pairs, 4 heads: 288 scores, 288·16 = 4608 MACs.
    let base = [
        f(&[10, 32]),
        f(&[32, 96]),
        f(&[96]),
        i32t(&[2, 6]),
        i32t(&[3]),
    ];
    let heads = [a_int("num_heads", 4)];
    let (outs, c) = ok("PackedAttention", &base, &heads);
    assert_eq!(shape(&outs[0]), vec![10, 32]);
    assert_eq!(c.macs, 30_720 + 4608);
    assert_eq!(c.flops, 2 * (30_720 + 4608) + 960 + 288 * 6);
    // Known sequence lengths 4 and 6: 16 + 36 = 52 pairs, 208 scores; attention_bias adds
    // 1 per score.
    let mut known = base.to_vec();
    known[4] = i32v(&[3], &[0, 4, 10]);
    known.push(f(&[2, 4, 6, 6]));
    let (_, c) = ok("PackedAttention", &known, &heads);
    assert_eq!(c.macs, 30_720 + 208 * 16);
    assert_eq!(c.flops, 2 * (30_720 + 208 * 16) + 960 + 208 * 7);
    let e = err(
        "PackedAttention",
        &[
            f(&[10, 32]),
            f(&[32, 90]),
            f(&[90]),
            i32t(&[2, 6]),
            i32t(&[3]),
        ],
        &[a_int("num_heads", 4)],
    );
    assert!(e.contains("not a multiple of 4 heads"), "{e}");
}

#[test]
fn qattention_is_integer_projection_plus_attention() {
    // Microsoft Attention's example quantized: B=1, L=8, Din=D=16, 2 heads. Projection
    // 8·16·48 = 6144 MACs, rescale + bias 8·48·2 FLOPs; attention 2·8·8 = 128 scores,
    // 128·16 = 2048 MACs, 128·(6 + 1 mask) FLOPs.
    let s = f(&[]);
    let mut inputs = vec![
        t(DType::U8, &[1, 8, 16]),
        t(DType::I8, &[16, 48]),
        f(&[48]),
        s.clone(),
        s,
        i32t(&[1]),
    ];
    let heads = [a_int("num_heads", 2)];
    let (outs, c) = ok("QAttention", &inputs, &heads);
    assert_eq!(
        (shape(&outs[0]), outs[0].dtype),
        (vec![1, 8, 16], DType::F32)
    );
    assert_eq!(shape(&outs[1]), vec![2, 1, 2, 8, 8]);
    assert_eq!(c.macs, 6144 + 2048);
    assert_eq!(c.flops, 2 * 8192 + 768 + 128 * 7);
    // With past [2, 1, 2, 4, 8]: 12 keys, present 12; 2·8·12 = 192 scores.
    inputs.extend([None, None, f(&[2, 1, 2, 4, 8])]);
    let (outs, c) = ok("QAttention", &inputs, &heads);
    assert_eq!(shape(&outs[1]), vec![2, 1, 2, 12, 8]);
    assert_eq!(c.macs, 6144 + 192 * 16);
    let e = err("QAttention", &inputs[..5], &[a_int("num_heads", 3)]);
    assert!(e.contains("not a multiple of 3 heads"), "{e}");
}

#[test]
fn embed_layer_norm_adds_embeddings_then_normalizes() {
    // [2, 16] ids, hidden 32: 1024 output elements × (word + position 1, + segment 1,
    // LayerNorm 5 + gamma 1 + beta 1) = 9 each. mask_index is [batch] int32.
    let ids = i32t(&[2, 16]);
    let mut inputs = vec![
        ids.clone(),
        ids.clone(),
        f(&[100, 32]),
        f(&[64, 32]),
        f(&[2, 32]),
        f(&[32]),
        f(&[32]),
        ids,
    ];
    let (outs, c) = ok("EmbedLayerNormalization", &inputs, &[]);
    assert_eq!(
        (shape(&outs[0]), outs[0].dtype),
        (vec![2, 16, 32], DType::F32)
    );
    assert_eq!((shape(&outs[1]), outs[1].dtype), (vec![2], DType::I32));
    assert_eq!(shape(&outs[2]), vec![2, 16, 32]);
    assert_eq!((c.macs, c.flops), (0, 1024 * 9));
    // Without segments (DistilBERT): 8 per element.
    inputs[1] = None;
    inputs[4] = None;
    let (_, c) = ok("EmbedLayerNormalization", &inputs, &[]);
    assert_eq!(c.flops, 1024 * 8);
    inputs[3] = f(&[64, 16]);
    let e = err("EmbedLayerNormalization", &inputs, &[]);
    assert!(e.contains("one hidden size"), "{e}");
}
