//! `--attention causal-half` (docs/counting.md, "Causal attention"): FlashAttention's benchmark
//! counts a causal attention as `4·b·s²·h·d / 2` FLOPs, half the score matrix. Every expected
//! number is worked by hand from the shapes written in the test.

use flopscope_core::llm::{profile_fetched, Fetched, FileHead};
use flopscope_core::options::Attention;
use flopscope_core::{profile_bytes, Error, Options, Profile};
use serde_json::{json, Value};

/// One `aten.scaled_dot_product_attention` call on q [b, h, l, d] and k, v [b, h, s, d], with
/// an optional additive mask [l, s].
fn sdpa(b: u64, h: u64, l: u64, s: u64, d: u64, causal: bool, mask: bool) -> Vec<u8> {
    let mut values = vec![
        json!({"dtype": "float32", "shape": [b, h, l, d], "role": "input"}),
        json!({"dtype": "float32", "shape": [b, h, s, d], "role": "input"}),
        json!({"dtype": "float32", "shape": [b, h, s, d], "role": "input"}),
        json!({"dtype": "float32", "shape": [b, h, l, d]}),
    ];
    let mut args = json!({"query": {"v": 0}, "key": {"v": 1}, "value": {"v": 2},
                          "dropout_p": 0.0, "is_causal": causal, "scale": null});
    if mask {
        values.push(json!({"dtype": "float32", "shape": [l, s], "role": "input"}));
        args["attn_mask"] = json!({"v": 4});
    }
    let doc: Value = json!({
        "schema": "flopscope.trace/1",
        "values": values,
        "calls": [{"op": "aten.scaled_dot_product_attention.default", "args": args,
                   "outputs": [3]}],
        "outputs": [3]
    });
    serde_json::to_vec(&doc).unwrap()
}

fn run(bytes: &[u8], attention: Attention) -> Profile {
    let opts = Options {
        attention,
        ..Options::default()
    };
    profile_bytes(bytes, &opts).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn causal_sdpa_counts_half_its_score_matrix_when_asked() {
    // b=1, h=4, L=S=128, d=64: scores b·h·L·S = 65,536; MACs = scores·(dk + dv) = 65,536·128 =
    // 8,388,608 = 2·b·h·L·S·d. FLOPs = 2·MACs + 6 per score (scale, softmax) = 16,777,216 +
    // 393,216 = 17,170,432.
    let t = sdpa(1, 4, 128, 128, 64, true, false);
    let full = run(&t, Attention::Full);
    assert_eq!(
        (full.totals.macs, full.totals.flops),
        (8_388_608, 17_170_432)
    );
    // Half: 4,194,304 MACs (FlashAttention's 4·b·s²·h·d/2 = 8,388,608 FLOPs is 2 × this),
    // FLOPs 8,388,608 + 196,608 = 8,585,216.
    let half = run(&t, Attention::CausalHalf);
    assert_eq!(
        (half.totals.macs, half.totals.flops),
        (4_194_304, 8_585_216)
    );
    let row = half.layers.iter().find(|l| l.op == "Attention").unwrap();
    assert_eq!(row.macs, Some(4_194_304));
    assert!(half.warnings.iter().all(|w| !w.contains("causal-half")));
}

#[test]
fn attention_that_does_not_say_it_is_causal_stays_whole() {
    // Not causal: 8,388,608 MACs either way.
    let t = sdpa(1, 4, 128, 128, 64, false, false);
    assert_eq!(run(&t, Attention::CausalHalf).totals.macs, 8_388_608);
    // is_causal with an explicit mask tensor: the mask could be anything, so whole; FLOPs add
    // 1 per score for the mask: 16,777,216 + 65,536·7 = 17,235,968.
    let t = sdpa(1, 4, 128, 128, 64, true, true);
    let p = run(&t, Attention::CausalHalf);
    assert_eq!((p.totals.macs, p.totals.flops), (8_388_608, 17_235_968));
}

#[test]
fn causal_attention_over_a_kv_cache_stays_whole_with_a_warning() {
    // L = 16 queries over S = 128 keys: b·h·L·S·2d = 1·4·16·128·128 = 1,048,576 MACs, whole.
    let t = sdpa(1, 4, 16, 128, 64, true, false);
    let p = run(&t, Attention::CausalHalf);
    assert_eq!(p.totals.macs, 1_048_576);
    assert!(
        p.warnings.iter().any(|w| w.contains("counted whole")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn causal_half_with_training_of_a_graph_is_refused() {
    let opts = Options {
        attention: Attention::CausalHalf,
        training: Some(Default::default()),
        ..Options::default()
    };
    let e = profile_bytes(&sdpa(1, 1, 4, 4, 2, true, false), &opts).unwrap_err();
    assert!(
        matches!(e, Error::Usage(ref m) if m.contains("--training")),
        "{e}"
    );
}

#[test]
fn attention_modes_parse_by_name() {
    assert_eq!(
        Attention::parse("causal-half").unwrap(),
        Attention::CausalHalf
    );
    assert_eq!(Attention::parse("full").unwrap(), Attention::Full);
    assert!(Attention::parse("half").is_err());
}

/// A bf16 safetensors file known by its header alone.
pub(crate) fn file(tensors: &[(String, Vec<u64>)]) -> FileHead {
    super::common::safetensors_head("model.safetensors", tensors)
}

/// A small Llama: d 256, 2 layers, 4 heads of 64 (2 key/value heads), f 512, V 1000.
fn small_llama() -> Fetched {
    let (d, n, h, kv, hd, ff, v) = (256u64, 2u64, 4u64, 2u64, 64u64, 512u64, 1000u64);
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..n {
        let p = format!("model.layers.{i}");
        t.extend(super::common::attention_tensors(&p, d, h, kv, hd));
        t.push((format!("{p}.mlp.gate_proj.weight"), vec![ff, d]));
        t.push((format!("{p}.mlp.up_proj.weight"), vec![ff, d]));
        t.push((format!("{p}.mlp.down_proj.weight"), vec![d, ff]));
    }
    t.push(("lm_head.weight".into(), vec![v, d]));
    let config = json!({"model_type": "llama", "hidden_size": d, "num_hidden_layers": n,
        "num_attention_heads": h, "num_key_value_heads": kv, "intermediate_size": ff,
        "vocab_size": v});
    Fetched::Safetensors {
        files: vec![file(&t)],
        config: Some(config.to_string().into_bytes()),
    }
}

#[test]
fn a_checkpoint_prefill_halves_its_attention_and_nothing_else() {
    let f = small_llama();
    let at = |attention| {
        let o = Options {
            dims: vec![("seq".into(), 2048)],
            attention,
            ..Options::default()
        };
        profile_fetched(&f, "small-llama", &o).unwrap()
    };
    let (full, half) = (at(Attention::Full), at(Attention::CausalHalf));
    let (fl, hl) = (full.llm.as_ref().unwrap(), half.llm.as_ref().unwrap());
    // Prefill QKᵀ and AV: batch·layers·L·(2·h·hd·L) = 1·2·2048·(2·4·64·2048) = 4,294,967,296
    // MACs; the causal half 2,147,483,648.
    assert_eq!(fl.prefill_attention_macs, Some(4_294_967_296));
    assert_eq!(hl.prefill_attention_macs, Some(2_147_483_648));
    // Everything else is equal: the totals differ by the half taken off, and the FLOPs by
    // twice it plus half the softmax (5·batch·layers·h·L² = 5·2·4·2048² = 167,772,160).
    assert_eq!(full.totals.macs - half.totals.macs, 2_147_483_648);
    assert_eq!(
        full.totals.flops - half.totals.flops,
        2 * 2_147_483_648 + 83_886_080
    );
    assert_eq!(full.totals.params, half.totals.params);
    // A decoded token's single query row sees every key: nothing to halve.
    assert_eq!(fl.decode_macs_per_token, hl.decode_macs_per_token);
    // The formula's L² coefficient: layers·2·h·hd = 1,024, halved to 512.
    assert!(fl.formulas["prefill_macs"].starts_with("1024·batch·seq^2"));
    assert!(hl.formulas["prefill_macs"].starts_with("512·batch·seq^2"));
}

#[test]
fn a_checkpoint_training_step_halves_its_attention_forward_and_backward() {
    let f = small_llama();
    let at = |attention| {
        let o = Options {
            dims: vec![("seq".into(), 2048)],
            training: Some(Default::default()),
            attention,
            ..Options::default()
        };
        profile_fetched(&f, "small-llama", &o).unwrap()
    };
    let (full, half) = (at(Attention::Full), at(Attention::CausalHalf));
    let (ft, ht) = (full.training.unwrap(), half.training.unwrap());
    // Forward: the prefill's 4,294,967,296 attention MACs halved (2,147,483,648 fewer);
    // backward: QKᵀ and AV's two operand gradients each, so twice that.
    assert_eq!(ft.forward_macs - ht.forward_macs, 2_147_483_648);
    assert_eq!(ft.backward_macs - ht.backward_macs, 2 * 2_147_483_648);
    // Backward FLOPs: 2 × those MACs plus 4 per score of softmax backward on half the
    // b·layers·h·L² = 2·4·2048² = 33,554,432 scores.
    assert_eq!(
        ft.backward_flops - ht.backward_flops,
        2 * 2 * 2_147_483_648 + 4 * 16_777_216
    );
    // MaxText's training count of the causal half, 3 · 4·B·S²·Hq·head_dim / 2 per layer, is
    // what the step's matrix-product FLOPs lose: 3 × 2 × 2,147,483,648.
    let maxtext = 3 * (4 * 2048 * 2048 * 4 * 64 / 2) * 2;
    let products = |t: &flopscope_core::schema::Training| 2 * (t.forward_macs + t.backward_macs);
    assert_eq!(products(&ft) - products(&ht), maxtext);
}
