use std::collections::BTreeMap;

use super::*;
use crate::device::Device;
use crate::predict::{Efficiency, OpEfficiency};
use crate::schema::{Component, DtypeCount};

fn comp(name: &str, params: u64, bytes: u64, dtype: &str) -> Component {
    let mut by_dtype = BTreeMap::new();
    by_dtype.insert(
        dtype.to_string(),
        DtypeCount {
            params,
            bytes,
            bits_per_param: bytes as f64 * 8.0 / params as f64,
        },
    );
    Component {
        component: name.into(),
        tensors: 1,
        params,
        bytes,
        by_dtype,
    }
}

/// A toy Llama: d = 64, 2 layers, 4 query heads and 2 KV heads of 16, f = 128, V = 256,
/// weights in f16 (2 bytes each), norms in f32. Per layer: Q and O 64·64 = 4,096 each, K and
/// V 64·32 = 2,048 each (12,288 attention), MLP 3·64·128 = 24,576.
///   embeddings 256·64 = 16,384 params, 32,768 B;  attention 2·12,288 = 24,576, 49,152 B;
///   MLP 2·24,576 = 49,152, 98,304 B;  norms (2 per layer + final)·64 = 320, 1,280 B;
///   head 16,384, 32,768 B.  Weights: 214,272 B.
/// KV per token: 2 (K, V) · 2 layers · 2 heads · 16 · 2 B = 256 B.
fn toy(batch: u64, seq: u64, past: u64) -> LlmInfo {
    let arch = Arch {
        family: "llama".into(),
        hidden: 64,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        head_dim: 16,
        intermediate: 128,
        vocab: 256,
        experts: 1,
        experts_per_token: 1,
        gated_mlp: true,
        kv_bytes: 2,
    };
    LlmInfo {
        format: "gguf",
        files: vec![],
        arch: Some(arch),
        tensors: 0,
        components: vec![
            comp("embeddings", 16_384, 32_768, "f16"),
            comp("attention", 24_576, 49_152, "f16"),
            comp("mlp", 49_152, 98_304, "f16"),
            comp("norms", 320, 1_280, "f32"),
            comp("head", 16_384, 32_768, "f16"),
        ],
        total_params: 106_816,
        active_params: 106_816,
        expert_params: 0,
        expert_bytes: 0,
        weight_bytes: 214_272,
        bits_per_param: 0.0,
        batch,
        seq,
        past,
        prefill_attention_macs: None,
        decode_macs_per_token: None,
        decode_flops_per_token: None,
        decode_attention_macs: None,
        kv_cache_bytes_per_token: Some(256),
        kv_cache_bytes: None,
        formulas: BTreeMap::new(),
    }
}

/// A CPU of 1 TFLOP/s fp32 (no other rate), 10 GB/s, `memory_gb`; every class at eff 0.5,
/// mem_eff 0.8, no size term, 1 µs per kernel.
fn target(memory_gb: f64) -> Target {
    let device: Device = serde_json::from_value(serde_json::json!({
        "key": "toy", "name": "Toy", "class": "cpu", "peak_tflops": {"fp32": 1.0},
        "memory_bandwidth_gbs": 10.0, "memory_gb": memory_gb, "sources": {}
    }))
    .unwrap();
    let mut ops = BTreeMap::new();
    ops.insert(
        OpClass::Gemm,
        OpEfficiency {
            eff: 0.5,
            half_gflop: 0.0,
            mem_eff: 0.8,
        },
    );
    Target {
        device,
        mode: None,
        clock_factor: 1.0,
        efficiency: Efficiency {
            basis: "test".into(),
            overhead_us: 1.0,
            strided_copy: 0.0,
            roofline_p: None,
            l2_carry: 0.0,
            ops,
        },
        profile: "test".into(),
        bands: vec![],
    }
}

#[test]
fn distinct_experts_of_a_batch() {
    // One token touches exactly its k; E·(1 − (1 − k/E)^T) for E = 8, k = 2.
    assert_eq!(expected_experts(8, 2, 1), 2.0);
    // T = 4: 8 · (1 − (3/4)^4) = 8 · (1 − 81/256) = 8 · 175/256 = 5.46875.
    assert!((expected_experts(8, 2, 4) - 5.468_75).abs() < 1e-12);
    // Top-8 of 8: all of them from the first token.
    assert_eq!(expected_experts(8, 8, 3), 8.0);
    assert_eq!(expected_experts(8, 2, 0), 0.0);
    // A large batch touches all but a vanishing fraction: (3/4)^100 ≈ 3.2e-13.
    assert!((expected_experts(8, 2, 100) - 8.0).abs() < 1e-11);
}

#[test]
fn decode_tokens_per_second_of_a_toy_config_at_10_gb_s() {
    // Batch 1 at past 127: 128 keys.
    let s = serving(&toy(1, 128, 127), &target(1.0), 1e3)
        .unwrap()
        .unwrap();
    let d = &s.decode;
    // Weights read: attention 49,152 + MLP 98,304 + norms 1,280 + head 32,768 + one
    // embedding row 32,768 / 256 = 128 → 181,632 B. KV cache: 256 B · 128 keys = 32,768 B.
    assert_eq!(d.weight_bytes, 181_632);
    assert_eq!(d.kv_bytes, 32_768);
    assert_eq!(d.bytes, 214_400);
    // FLOPs: 2 · (2 layers · (12,288 + 24,576) + 64·256 head) = 180,224 in products, and
    // attention 2 layers · 4 heads · 128 keys · (4·16 + 5) = 70,656: 250,880.
    assert_eq!(d.flops, 250_880.0);
    // Kernels: per layer 2 norms, Q, K, V, 2 rotaries, attention, O, 2 adds, gate, up,
    // activation, down = 15; 2 layers + embedding, final norm, head = 33.
    assert_eq!((s.kernels_per_layer, d.kernels), (15, 33));
    // Memory 214,400 B / (10 GB/s · 0.8) = 26.8 µs; compute 250,880 / (1 TFLOP/s · 0.5) =
    // 0.50 µs, below it; overhead 33 µs. Step 59.8 µs: 16,722 tokens/s.
    let step_s = 214_400.0 / 8e9 + 33.0 * 1e-6;
    assert!((d.time_ms - step_s * 1e3).abs() < 1e-12);
    assert!((d.tokens_per_s - 1.0 / step_s).abs() < 1e-6);
    assert_eq!(d.bound, "overhead");
    assert_eq!(s.compute_dtype, Dtype::Fp16);
    // No fp16 rate on this CPU: its products run at the fp32 peak.
    assert_eq!(s.peak_gflops, 1000.0);
}

#[test]
fn decode_at_batch_4_reads_the_weights_once_and_four_caches() {
    let s = serving(&toy(4, 128, 127), &target(1.0), 1e3)
        .unwrap()
        .unwrap();
    // 181,632 − 128 + 4 rows of 128 = 182,016 B of weights; KV 256 · 4 · 128 = 131,072 B.
    assert_eq!(s.decode.weight_bytes, 182_016);
    assert_eq!(s.decode.kv_bytes, 131_072);
    let step_s = (182_016.0 + 131_072.0) / 8e9 + 33e-6;
    assert!((s.decode.tokens_per_s - 4.0 / step_s).abs() < 1e-6);
}

#[test]
fn prefill_flops_count_the_head_on_the_last_token_only() {
    let s = serving(&toy(1, 8, 8), &target(1.0), 1e3).unwrap().unwrap();
    // 8 tokens · 2 · 2 layers · 36,864 params = 1,179,648; head 2 · 64 · 256 = 32,768 (one
    // token); attention 2 layers · 4 heads · 8 · 8 scores · 69 = 35,328. Sum 1,247,744.
    assert_eq!(s.prefill.flops, 1_247_744.0);
    // KV written: 256 B · 8 tokens.
    assert_eq!(s.prefill.kv_bytes, 2048);
    assert!((s.prefill.tokens_per_s - 8.0 * 1e3 / s.prefill.time_ms).abs() < 1e-6);
}

#[test]
fn largest_batch_and_context_at_an_exact_byte_boundary() {
    // Per sequence at past 127: KV 256 · 128 = 32,768 B + logits 256 · 4 = 1,024 B = 33,792.
    // Weights 214,272 + 5 sequences · 33,792 = 383,232 B = 1497 · 2^8 B = 1497 / 2^22 GiB
    // (exact in binary).
    let gib = 1497.0 / 4_194_304.0;
    let m = serving(&toy(5, 128, 127), &target(gib), 1e3)
        .unwrap()
        .unwrap()
        .memory;
    assert_eq!(m.device_bytes, 383_232);
    assert_eq!(m.total_bytes, 383_232);
    assert!(m.fits, "exactly equal fits");
    assert_eq!(m.max_batch, 5);
    // Context at batch 5: (383,232 − 214,272 − 5 · 1,024) / (256 · 5) = 163,840 / 1,280 = 128.
    assert_eq!(m.max_context, Some(128));
    // One byte less (1497 · 2^8 − 1 = 383,231): batch 5 no longer fits.
    let less = (1497.0 * 256.0 - 1.0) / 1_073_741_824.0;
    let m = serving(&toy(5, 128, 127), &target(less), 1e3)
        .unwrap()
        .unwrap()
        .memory;
    assert_eq!(m.device_bytes, 383_231);
    assert!(!m.fits);
    assert_eq!(m.max_batch, 4);
    // (383,231 − 214,272 − 5,120) / 1,280 = 163,839 / 1,280 → 127.
    assert_eq!(m.max_context, Some(127));
    // Weights alone beyond the memory: nothing fits.
    let m = serving(&toy(1, 128, 127), &target(1e-4), 1e3)
        .unwrap()
        .unwrap()
        .memory;
    assert_eq!((m.max_batch, m.max_context), (0, Some(0)));
}

/// The toy with its MLP made a mixture of 8 experts of f = 128, top-2, in Q8_0 (34 bytes per
/// 32 weights), plus the router (64 · 8 per layer, f32).
fn toy_moe(batch: u64) -> LlmInfo {
    let mut l = toy(batch, 128, 127);
    let a = l.arch.as_mut().unwrap();
    (a.experts, a.experts_per_token) = (8, 2);
    // Experts: 2 layers · 8 · 24,576 = 393,216 params, 393,216 / 32 · 34 = 417,792 B.
    // Router: 2 · 512 = 1,024 params, 4,096 B.
    l.components[2] = comp("mlp", 393_216 + 1_024, 417_792 + 4_096, "q8_0");
    (l.expert_params, l.expert_bytes) = (393_216, 417_792);
    l
}

#[test]
fn mixture_decode_reads_the_experts_a_batch_touches() {
    let s = serving(&toy_moe(1), &target(1.0), 1e3).unwrap().unwrap();
    // One token: 2 of 8 experts, 417,792 · 2/8 = 104,448 B, + the router 4,096 B, + the
    // rest as in the dense toy (49,152 + 1,280 + 32,768 + 128 = 83,328): 191,872.
    assert_eq!(s.experts_touched, Some(2.0));
    assert_eq!(s.decode.weight_bytes, 191_872);
    // Four tokens touch 5.46875 experts per layer: 417,792 · 5.46875 / 8 = 285,600 B;
    // + 4,096 + 83,328 − 128 + 4 · 128 rows = 373,408.
    let s = serving(&toy_moe(4), &target(1.0), 1e3).unwrap().unwrap();
    assert_eq!(s.experts_touched, Some(5.468_75));
    assert_eq!(s.decode.weight_bytes, 373_408);
    // Products run k = 2 experts per token: 2 · 4 tokens · (2 layers · (12,288 + 2 · 24,576 +
    // 512) + 16,384) = 1,122,304, + attention 4 · 70,656 = 282,624.
    assert_eq!(s.decode.flops, 1_404_928.0);
    // Quantized weights multiply in int8; this CPU states no int8 rate, so fp32's.
    assert_eq!(s.compute_dtype, Dtype::Int8);
    assert_eq!(s.peak_gflops, 1000.0);
}

#[test]
fn checkpoints_without_an_architecture_have_no_serving_estimate() {
    let mut l = toy(1, 8, 8);
    l.arch = None;
    assert!(serving(&l, &target(1.0), 1e3).unwrap().is_none());
}
