//! A training step of language-model checkpoints (headers + config only). Every expected number
//! is worked by hand in the comments from the config written in the test, independently of the
//! code; the derivations are in `docs/training-llm.md`.

use flopscope_core::llm::training::activation_bytes;
use flopscope_core::llm::{profile_fetched, Arch, Fetched, FileHead};
use flopscope_core::schema::Training;
use flopscope_core::training::{Precision, Recompute, TrainingOptions};
use flopscope_core::{Options, Profile};
use serde_json::{json, Value};

type Tensors = Vec<(String, Vec<u64>)>;

fn file(name: &str, tensors: &Tensors) -> FileHead {
    super::common::safetensors_head(name, tensors)
}

fn llama_tensors(d: u64, layers: u64, h: u64, kv: u64, ff: u64, v: u64) -> Tensors {
    let hd = d / h;
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        t.push((format!("{p}.self_attn.q_proj.weight"), vec![h * hd, d]));
        t.push((format!("{p}.self_attn.k_proj.weight"), vec![kv * hd, d]));
        t.push((format!("{p}.self_attn.v_proj.weight"), vec![kv * hd, d]));
        t.push((format!("{p}.self_attn.o_proj.weight"), vec![d, h * hd]));
        t.push((format!("{p}.mlp.gate_proj.weight"), vec![ff, d]));
        t.push((format!("{p}.mlp.up_proj.weight"), vec![ff, d]));
        t.push((format!("{p}.mlp.down_proj.weight"), vec![d, ff]));
        t.push((format!("{p}.input_layernorm.weight"), vec![d]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
    }
    t.push(("model.norm.weight".into(), vec![d]));
    t.push(("lm_head.weight".into(), vec![v, d]));
    t
}

/// Llama-2-7B: d 4096, 32 layers, 32 heads (no GQA), f 11008, V 32000; 6,738,415,616 params.
fn llama_7b() -> Fetched {
    let (d, n, h, kv, ff, v) = (4096, 32, 32, 32, 11008, 32000);
    let config = json!({"model_type": "llama", "hidden_size": d, "num_hidden_layers": n,
        "num_attention_heads": h, "num_key_value_heads": kv, "intermediate_size": ff,
        "vocab_size": v, "torch_dtype": "bfloat16"});
    Fetched::Safetensors {
        files: vec![file(
            "model.safetensors",
            &llama_tensors(d, n, h, kv, ff, v),
        )],
        config: Some(config.to_string().into_bytes()),
    }
}

/// GPT-2 small: d 768, 12 layers, 12 heads, f 3072, V 50257, tied head; 124,439,808 params.
fn gpt2() -> Fetched {
    let (d, layers, v) = (768u64, 12u64, 50257u64);
    let mut t = vec![
        ("wte.weight".to_string(), vec![v, d]),
        ("wpe.weight".into(), vec![1024, d]),
    ];
    for i in 0..layers {
        for (n, s) in [
            ("ln_1.weight", vec![d]),
            ("ln_1.bias", vec![d]),
            ("attn.c_attn.weight", vec![d, 3 * d]),
            ("attn.c_attn.bias", vec![3 * d]),
            ("attn.c_proj.weight", vec![d, d]),
            ("attn.c_proj.bias", vec![d]),
            ("ln_2.weight", vec![d]),
            ("ln_2.bias", vec![d]),
            ("mlp.c_fc.weight", vec![d, 4 * d]),
            ("mlp.c_fc.bias", vec![4 * d]),
            ("mlp.c_proj.weight", vec![4 * d, d]),
            ("mlp.c_proj.bias", vec![d]),
        ] {
            t.push((format!("h.{i}.{n}"), s));
        }
    }
    t.push(("ln_f.weight".into(), vec![d]));
    t.push(("ln_f.bias".into(), vec![d]));
    let config = json!({"model_type": "gpt2", "n_embd": d, "n_layer": layers, "n_head": 12,
        "vocab_size": v, "n_positions": 1024, "resid_pdrop": 0.1, "attn_pdrop": 0.1,
        "embd_pdrop": 0.1});
    Fetched::Safetensors {
        files: vec![file("model.safetensors", &t)],
        config: Some(config.to_string().into_bytes()),
    }
}

fn run(f: &Fetched, batch: u64, seq: u64, o: TrainingOptions) -> flopscope_core::Result<Profile> {
    let opts = Options {
        dims: vec![("batch".into(), batch), ("seq".into(), seq)],
        training: Some(o),
        ..Default::default()
    };
    profile_fetched(f, "test", &opts)
}

fn train(f: &Fetched, batch: u64, seq: u64, o: TrainingOptions) -> (Profile, Training) {
    let p = run(f, batch, seq, o).unwrap();
    let t = p.training.clone().expect("a training section");
    (p, t)
}

fn bf16(recompute: Recompute) -> TrainingOptions {
    TrainingOptions {
        precision: Precision::Bf16Mixed,
        recompute,
        ..TrainingOptions::default()
    }
}

#[test]
fn llama_7b_training_macs_are_three_prefills() {
    // Prefill at L = 128 (docs/counting.md): per token 32·(2·4096² + 2·4096² + 3·4096·11008)
    // + 4096·32000 = 6,607,077,376 → ×128 = 845,705,904,128, plus the L² term
    // 32·2·4096·128² = 4,294,967,296: 850,000,871,424 in all (the zoo's figure).
    let (p, t) = train(&llama_7b(), 1, 128, bf16(Recompute::None));
    assert_eq!(p.totals.macs, 850_000_871_424);
    assert_eq!(t.forward_macs, 850_000_871_424);
    // Every product has two backward products: 2 × 850,000,871,424.
    assert_eq!(t.backward_macs, 1_700_001_742_848);
    assert_eq!(t.macs, 3 * 850_000_871_424);
    // FLOPs: forward 2·MACs + 5·32·32·128² softmax = 1,700,001,742,848 + 83,886,080;
    // backward 4·MACs + 4 per score (67,108,864); Adam 14 × 6,738,415,616 = 94,337,818,624.
    assert_eq!(t.forward_flops, 1_700_085_628_928);
    assert_eq!(t.backward_flops, 3_400_070_594_560);
    assert_eq!(t.optimizer_flops, 94_337_818_624);
    assert_eq!(t.flops, 5_194_494_042_112);
    assert_eq!(t.tokens_per_step, Some(128));
    // 5,194,494,042,112 / 128 exactly.
    assert_eq!(t.flops_per_token, Some(40_581_984_704.0));
    assert!(t.time.is_none());
}

#[test]
fn recomputation_adds_the_core_attention_or_every_layer() {
    // Selective: the score products QKᵀ and AV again, 32·2·4096·128² = 4,294,967,296 MACs,
    // and 2 × those + 5 per score (83,886,080) FLOPs.
    let (_, t) = train(&llama_7b(), 1, 128, bf16(Recompute::Selective));
    assert_eq!(t.forward_macs, 850_000_871_424);
    assert_eq!(t.macs, 2_550_002_614_272 + 4_294_967_296);
    assert_eq!(
        t.backward_flops,
        3_400_070_594_560 + 8_589_934_592 + 83_886_080
    );
    // Full: every layer's forward again, all but the LM head (128·4096·32000 = 16,777,216,000
    // MACs): 4 × 850,000,871,424 − 16,777,216,000.
    let (_, t) = train(&llama_7b(), 1, 128, bf16(Recompute::Full));
    assert_eq!(t.macs, 3_383_226_269_696);
    // Forward FLOPs less the head's 2 × 16,777,216,000: 1,666,531,196,928 more.
    assert_eq!(t.flops, 5_194_494_042_112 + 1_666_531_196_928);
}

#[test]
fn gpt2_training_is_three_prefills() {
    // Per token 12·(4·768² + 2·768·3072) + 768·50257 = 123,532,032; ×(4·1024) tokens
    // = 505,987,203,072; L² term 4·12·2·768·1024² = 77,309,411,328: prefill 583,296,614,400.
    let (p, t) = train(&gpt2(), 4, 1024, bf16(Recompute::None));
    assert_eq!(p.totals.macs, 583_296_614_400);
    assert_eq!(t.macs, 1_749_889_843_200);
    assert_eq!(t.trainable_params, 124_439_808);
}

#[test]
fn adamw_bf16_mixed_is_16_bytes_per_parameter() {
    // ZeRO's accounting: 2 + 2 bytes of bf16 weights and gradients, 12 of fp32 master weights
    // and the two moments, for Llama-2-7B's 6,738,415,616 parameters.
    let (_, t) = train(&llama_7b(), 1, 128, bf16(Recompute::None));
    let n = 6_738_415_616u64;
    assert_eq!(t.memory.weights_bytes, 13_476_831_232);
    assert_eq!(t.memory.gradients_bytes, 13_476_831_232);
    assert_eq!(t.memory.optimizer_bytes, 80_860_987_392);
    assert_eq!(
        t.memory.weights_bytes + t.memory.gradients_bytes + t.memory.optimizer_bytes,
        16 * n
    );
}

#[test]
fn zero_stages_over_8_gpus() {
    // Llama-2-7B, Adam bf16-mixed, 8 GPUs: whole 13,476,831,232 / 13,476,831,232 /
    // 80,860,987,392; stage 1 shards the optimizer (÷8 = 10,107,623,424), stage 2 also the
    // gradients (1,684,603,904), stage 3 also the weights (1,684,603,904).
    let want = [
        (13_476_831_232u64, 13_476_831_232u64, 80_860_987_392u64),
        (13_476_831_232, 13_476_831_232, 10_107_623_424),
        (13_476_831_232, 1_684_603_904, 10_107_623_424),
        (1_684_603_904, 1_684_603_904, 10_107_623_424),
    ];
    // Activations at L = 2048, B = 1 are per GPU (each runs its own micro-batch) and do not
    // shard: 18,951,962,624 bytes (see llama_swiglu_activations_by_hand).
    for (stage, w) in want.iter().enumerate() {
        let o = TrainingOptions {
            gpus: 8,
            zero_stage: stage as u8,
            ..bf16(Recompute::None)
        };
        let (_, t) = train(&llama_7b(), 1, 2048, o);
        let m = t.memory;
        assert_eq!((m.weights_bytes, m.gradients_bytes, m.optimizer_bytes), *w);
        assert_eq!(m.activations_bytes, 18_951_962_624);
        assert_eq!(m.peak_bytes, w.0 + w.1 + w.2 + 18_951_962_624);
    }
}

#[test]
fn gpt2_activations_are_korthikantis_formula() {
    // s 1024, b 4, h 768, a 12, 12 layers, V 50257: s·b·h = 3,145,728 and 5·a·s/h = 80, so
    // a layer saves s·b·h·(34 + 80) = 358,612,992 bytes. Outside the layers: the embedding
    // dropout mask s·b·h, the final LayerNorm's and the head's inputs 2·s·b·h each, fp32
    // logits 4·s·b·V = 823,410,688: 839,139,328.
    let sbh = 1024 * 4 * 768u64;
    let outside = 5 * sbh + 4 * 1024 * 4 * 50257;
    assert_eq!(outside, 839_139_328);
    let f = gpt2();
    let (_, t) = train(&f, 4, 1024, bf16(Recompute::None));
    assert_eq!(t.memory.activations_bytes, 12 * sbh * (34 + 80) + outside);
    assert_eq!(t.memory.activations_bytes, 5_142_495_232);
    // Selective keeps 34·s·b·h per layer, full 2·s·b·h.
    let (_, t) = train(&f, 4, 1024, bf16(Recompute::Selective));
    assert_eq!(t.memory.activations_bytes, 12 * 34 * sbh + outside);
    assert_eq!(t.memory.activations_bytes, 2_122_596_352);
    // The peak adds one layer's recomputed score tensors, 5·a·s²·b = 251,658,240.
    let state = 16 * 124_439_808u64;
    assert_eq!(t.memory.peak_bytes, state + 2_122_596_352 + 251_658_240);
    let (_, t) = train(&f, 4, 1024, bf16(Recompute::Full));
    assert_eq!(t.memory.activations_bytes, 12 * 2 * sbh + outside);
    assert_eq!(t.memory.activations_bytes, 914_636_800);
    // The peak adds one rematerialised layer less its kept input: 358,612,992 − 6,291,456.
    assert_eq!(t.memory.peak_bytes, state + 914_636_800 + 352_321_536);
}

#[test]
fn fp32_doubles_the_activations_but_not_the_masks() {
    // Of GPT-2's 34·s·b·h, 32 are 16-bit tensors and 2 are dropout masks: fp32 gives 66; of
    // 5·a·s²·b, 4 are 16-bit and 1 a mask: 9. Per layer 66·3,145,728 + 9·12·1024²·4 =
    // 660,602,880; outside s·b·h + 4·s·b·h·2 + 4·s·b·V = 877,658,112 — logits are fp32 anyway.
    let a = Arch::from_hf(&gpt2_config()).unwrap();
    let x = activation_bytes(&a, 4, 1024, Precision::Fp32, Recompute::None).unwrap();
    assert_eq!(x.per_layer, 660_602_880);
    assert_eq!(x.outside, 9 * 3_145_728 + 4 * 4096 * 50257);
    assert_eq!(x.saved, 8_778_956_800);
}

fn gpt2_config() -> Value {
    json!({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257})
}

#[test]
fn llama_swiglu_activations_by_hand() {
    // Llama-2-7B at s 2048, b 1, bf16 (p = 2), no dropout. Per token of a layer:
    //   norms' inputs 2·p·h = 16,384; QKV input p·h 8,192; Q, K, V p·h each 24,576; O input
    //   8,192; MLP input 8,192; gate out, up out, SiLU out, down input 4·p·f = 88,064:
    //   153,600 bytes → ×2048 = 314,572,800; scores (softmax output only) p·a·s² =
    //   268,435,456; a layer 583,008,256, 32 layers 18,656,264,192. Outside: final norm and
    //   head inputs 2·p·h·s = 33,554,432, fp32 logits 4·s·V = 262,144,000.
    let a = llama_arch(32, 11008, 32000);
    let x = activation_bytes(&a, 1, 2048, Precision::Bf16Mixed, Recompute::None).unwrap();
    assert_eq!(x.per_layer, 583_008_256);
    assert_eq!(x.outside, 295_698_432);
    assert_eq!(x.saved, 18_951_962_624);
    let sel = activation_bytes(&a, 1, 2048, Precision::Bf16Mixed, Recompute::Selective).unwrap();
    assert_eq!(sel.saved, 32 * 314_572_800 + 295_698_432);
    assert_eq!(sel.recomputed, 268_435_456);
    let full = activation_bytes(&a, 1, 2048, Precision::Bf16Mixed, Recompute::Full).unwrap();
    assert_eq!(full.per_layer, 2 * 2048 * 4096);
    assert_eq!(full.saved, 832_569_344);
    // Grouped-query attention (Llama-3-8B's shape: 8 KV heads of 128, f 14336, V 128256) at
    // s 4096, b 2: K and V are p·1024 each, so per token 2·(2·4096 + 4096 + 4096 + 2·1024
    // + 4096 + 4096 + 4·14336) = 167,936 → ×8192 = 1,375,731,712; scores 2·32·4096²·2 =
    // 2,147,483,648; a layer 3,523,215,360.
    let g = llama_arch(8, 14336, 128256);
    let x = activation_bytes(&g, 2, 4096, Precision::Bf16Mixed, Recompute::None).unwrap();
    assert_eq!(x.per_layer, 3_523_215_360);
    assert_eq!(x.saved, 32 * 3_523_215_360 + 8192 * (4 * 4096 + 4 * 128256));
}

fn llama_arch(kv: u64, ff: u64, v: u64) -> Arch {
    Arch::from_hf(
        &json!({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": kv, "intermediate_size": ff,
        "vocab_size": v}),
    )
    .unwrap()
}

#[test]
fn mixture_of_experts_saves_the_routed_experts() {
    // Mixtral-shaped toy: d 64, 2 layers, 4 heads of 16, f 128, V 100, 8 experts, 2 per token.
    // Prefill at 16 tokens: per token 2·(4·64² + 2·3·64·128 + 64·8) + 64·100 = 138,496 → ×16
    // = 2,215,936; L² term 2·2·64·16² = 65,536: 2,281,472; training 3× = 6,844,416.
    // Activations (bf16) per token of a layer: norms 256, attention 2·5·64 = 640, MLP input
    // 128, two experts' 4·2·128 each = 2,048, router probabilities 2·8 = 16: 3,088 → ×16 =
    // 49,408; scores 2·4·16² = 2,048; two layers 102,912; outside 16·(4·64 + 4·100) = 10,496.
    let (d, ff, e, v) = (64u64, 128u64, 8u64, 100u64);
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..2 {
        let p = format!("model.layers.{i}");
        for n in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            t.push((format!("{p}.self_attn.{n}.weight"), vec![d, d]));
        }
        t.push((format!("{p}.block_sparse_moe.gate.weight"), vec![e, d]));
        for x in 0..e {
            for w in ["w1", "w2", "w3"] {
                t.push((
                    format!("{p}.block_sparse_moe.experts.{x}.{w}.weight"),
                    vec![ff, d],
                ));
            }
        }
        t.push((format!("{p}.input_layernorm.weight"), vec![d]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
    }
    t.push(("model.norm.weight".into(), vec![d]));
    t.push(("lm_head.weight".into(), vec![v, d]));
    let config = json!({"model_type": "mixtral", "hidden_size": d, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": ff,
        "vocab_size": v, "num_local_experts": e, "num_experts_per_tok": 2});
    let f = Fetched::Safetensors {
        files: vec![file("model.safetensors", &t)],
        config: Some(config.to_string().into_bytes()),
    };
    let (p, t) = train(&f, 1, 16, bf16(Recompute::None));
    assert_eq!(p.totals.macs, 2_281_472);
    assert_eq!(t.macs, 6_844_416);
    assert_eq!(t.memory.activations_bytes, 102_912 + 10_496);
    // Every expert is trained: the state covers all 440,128 parameters (6,400 + 2·213,632
    // + 64 + 6,400), 16 bytes each.
    assert_eq!(t.trainable_params, 440_128);
    assert_eq!(t.memory.optimizer_bytes, 12 * 440_128);
}

#[test]
fn time_of_a_billion_tokens() {
    // 4 GPUs of 1,000,000 GFLOP/s at 50%: 2e15 FLOP/s. Llama-2-7B at B 1, L 128 takes
    // 40,581,984,704 FLOPs per token: 1e9 × 40,581,984,704 / 2e15 = 20,290.992352 s.
    let o = TrainingOptions {
        gpus: 4,
        tokens: Some(1_000_000_000),
        peak_gflops: Some(1e6),
        mfu: Some(0.5),
        ..bf16(Recompute::None)
    };
    let (_, t) = train(&llama_7b(), 1, 128, o);
    let time = t.time.expect("a time");
    assert!(
        (time.seconds - 20_290.992_352).abs() < 1e-6,
        "{}",
        time.seconds
    );
    assert_eq!((time.tokens, time.gpus, time.mfu), (1_000_000_000, 4, 0.5));
    // Utilisation is of model FLOPs: full recomputation runs more but the time is the same.
    let (_, full) = train(
        &llama_7b(),
        1,
        128,
        TrainingOptions {
            recompute: Recompute::Full,
            ..o
        },
    );
    assert!(full.flops_per_token > t.flops_per_token);
    assert_eq!(full.time.unwrap().seconds, time.seconds);
    // No --mfu: 0.4 assumed; one GPU: 1e9 × 40,581,984,704 / 4e14 = 101,454.96176 s.
    let one = TrainingOptions {
        gpus: 1,
        mfu: None,
        ..o
    };
    let (_, t) = train(&llama_7b(), 1, 128, one);
    let time = t.time.unwrap();
    assert_eq!(time.mfu, 0.4);
    assert!(
        (time.seconds - 101_454.961_76).abs() < 1e-6,
        "{}",
        time.seconds
    );
}

#[test]
fn bad_options_and_missing_configs_are_said_in_one_line() {
    let f = llama_7b();
    for o in [
        TrainingOptions {
            mfu: Some(1.5),
            ..TrainingOptions::default()
        },
        TrainingOptions {
            peak_gflops: Some(-1.0),
            ..TrainingOptions::default()
        },
        TrainingOptions {
            zero_stage: 4,
            ..TrainingOptions::default()
        },
        TrainingOptions {
            gpus: 0,
            ..TrainingOptions::default()
        },
    ] {
        let e = run(&f, 1, 16, o).unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }
    // Tokens without a peak: no time, and a warning saying what is missing.
    let o = TrainingOptions {
        tokens: Some(1),
        ..TrainingOptions::default()
    };
    let p = run(&f, 1, 16, o).unwrap();
    assert!(p.training.unwrap().time.is_none());
    assert!(p.warnings.iter().any(|w| w.contains("--peak-gflops")));
    // No config: parameters only, no training section, and a warning.
    let bare = match f {
        Fetched::Safetensors { files, .. } => Fetched::Safetensors {
            files,
            config: None,
        },
        other => other,
    };
    let p = run(&bare, 1, 16, TrainingOptions::default()).unwrap();
    assert!(p.training.is_none());
    assert!(p.warnings.iter().any(|w| w.starts_with("training:")));
}
