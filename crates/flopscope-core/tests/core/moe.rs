//! Active and total parameters of a mixture of experts from its checkpoint's headers
//! (docs/counting.md, "Active and total parameters"), checked against a hand derivation from
//! the published config and against the published rounded figures.

use flopscope_core::llm::{profile_fetched, Fetched};
use flopscope_core::Options;
use serde_json::json;

/// Mixtral 8×7B's tensors as its Hugging Face checkpoint names them (the config of
/// https://huggingface.co/mistralai/Mixtral-8x7B-v0.1/blob/main/config.json: hidden 4096,
/// 32 layers, 32 heads / 8 key-value heads of 128, intermediate 14336, 8 experts, 2 per token,
/// vocabulary 32000, untied head).
fn mixtral_8x7b() -> Fetched {
    let (d, n, h, kv, hd, f, e, v) = (
        4096u64, 32u64, 32u64, 8u64, 128u64, 14336u64, 8u64, 32000u64,
    );
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..n {
        let p = format!("model.layers.{i}");
        t.extend(super::common::attention_tensors(&p, d, h, kv, hd));
        t.push((format!("{p}.block_sparse_moe.gate.weight"), vec![e, d]));
        for x in 0..e {
            let q = format!("{p}.block_sparse_moe.experts.{x}");
            t.push((format!("{q}.w1.weight"), vec![f, d]));
            t.push((format!("{q}.w2.weight"), vec![d, f]));
            t.push((format!("{q}.w3.weight"), vec![f, d]));
        }
        t.push((format!("{p}.input_layernorm.weight"), vec![d]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
    }
    t.push(("model.norm.weight".into(), vec![d]));
    t.push(("lm_head.weight".into(), vec![v, d]));
    let config = json!({"model_type": "mixtral", "hidden_size": d, "num_hidden_layers": n,
        "num_attention_heads": h, "num_key_value_heads": kv, "intermediate_size": f,
        "num_local_experts": e, "num_experts_per_tok": 2, "vocab_size": v});
    Fetched::Safetensors {
        files: vec![super::causal::file(&t)],
        config: Some(config.to_string().into_bytes()),
    }
}

#[test]
fn mixtral_8x7b_total_and_active_from_its_headers() {
    let o = Options {
        dims: vec![("seq".into(), 16)],
        ..Options::default()
    };
    let p = profile_fetched(&mixtral_8x7b(), "mixtral", &o).unwrap();
    let b = p.param_breakdown.expect("a breakdown");
    // By hand, d = 4096, f = 14336, V = 32000, 32 layers:
    //   embeddings V·d = 131,072,000, and the head as much;
    //   attention per layer d·(32·128) + 2·d·(8·128) + (32·128)·d = 41,943,040 → ×32 = 1,342,177,280;
    //   router per layer 8·d = 32,768 → ×32 = 1,048,576;
    //   experts per layer 8·3·d·f = 1,409,286,144 → ×32 = 45,097,156,608;
    //   norms 2·d per layer + the final d = 65·4096 = 266,240.
    assert_eq!((b.embeddings, b.head), (131_072_000, 131_072_000));
    assert_eq!(b.attention, 1_342_177_280);
    assert_eq!(b.router, 1_048_576);
    assert_eq!(b.routed_experts, 45_097_156_608);
    assert_eq!((b.shared_experts, b.dense_mlp, b.other), (0, 0, 0));
    assert_eq!(b.norms, 266_240);
    // total = 2·131,072,000 + 1,342,177,280 + 1,048,576 + 45,097,156,608 + 266,240.
    assert_eq!(b.total, 46_702_792_704);
    assert_eq!(b.total, p.totals.params);
    // A token uses 2 of the 8 experts: 6/8 of the experts sit idle, 33,822,867,456.
    assert_eq!(b.active, 46_702_792_704 - 33_822_867_456);
    assert_eq!(b.active, p.llm.as_ref().unwrap().active_params);
    // Mistral's announcement (https://mistral.ai/news/mixtral-of-experts): "46.7B total
    // parameters but only uses 12.9B parameters per token".
    assert_eq!(((b.total as f64) / 1e8).round() / 10.0, 46.7);
    assert_eq!(((b.active as f64) / 1e8).round() / 10.0, 12.9);
}
