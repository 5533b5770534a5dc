//! Built-in architectures against their reference implementations' published figures.

use flopscope_core::Options;

fn profile(name: &str, opts: &Options) -> flopscope_core::Profile {
    flopscope_core::profile_source(name, opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn dims(d: &[(&str, u64)]) -> Options {
    Options {
        dims: d.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        inputs: vec![],
        ..Default::default()
    }
}

/// Parameters: exactly `sum(p.numel() for p in model.parameters())` of torchvision's and
/// transformers' models (torchvision's model docs; `BertModel`; GPT-2 with tied embeddings
/// counted once; Llama-2-7B's published 6,738,415,616).
#[test]
fn parameter_counts_equal_published_counts() {
    let want = [
        ("resnet18", 11_689_512u64),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("resnet101", 44_549_160),
        ("resnet152", 60_192_808),
        ("vgg11", 132_863_336),
        ("vgg16", 138_357_544),
        ("alexnet", 61_100_840),
        ("squeezenet1_1", 1_235_496),
        ("mobilenet_v2", 3_504_872),
        ("mobilenet_v3_small", 2_542_856),
        ("mobilenet_v3_large", 5_483_032),
        ("densenet121", 7_978_856),
        ("convnext_tiny", 28_589_128),
        ("swin_t", 28_288_354),
        ("efficientnet_b0", 5_288_548),
        ("vit_b_16", 86_567_656),
        ("vit_l_16", 304_326_632),
        ("bert-base", 109_482_240),
        ("bert-large", 335_141_888),
        ("gpt2", 124_439_808),
        ("gpt2-medium", 354_823_168),
        ("llama-7b", 6_738_415_616),
    ];
    let mut failures = Vec::new();
    for (name, n) in want {
        let p = profile(name, &dims(&[]));
        if p.totals.params != n {
            failures.push(format!("{name}: {} vs published {n}", p.totals.params));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// MACs at 224×224, batch 1, against torchvision's published "GFLOPS" (which are MACs).
#[test]
fn macs_match_published_figures() {
    let want = [
        ("resnet18", 1.814e9),
        ("resnet50", 4.089e9),
        ("vgg16", 15.470e9),
        ("mobilenet_v2", 0.301e9),
        ("vit_b_16", 17.564e9),
    ];
    let mut failures = Vec::new();
    for (name, m) in want {
        let p = profile(name, &dims(&[("batch", 1)]));
        let rel = (p.totals.macs as f64 - m).abs() / m;
        if rel > 1e-3 {
            failures.push(format!(
                "{name}: {} vs published {m} ({:.3}%)",
                p.totals.macs,
                rel * 100.0
            ));
        }
        assert_eq!(
            p.totals.nodes_cost_unknown, 0,
            "{name}: {:?}",
            p.unsupported
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The built models cost exactly what the real PyTorch exports in `tests/data/models` cost
/// (their MACs from ONNX Runtime's shapes): same architecture, two independent paths.
#[test]
fn built_models_match_the_exports_of_the_same_architecture() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/models/reference.json"
    ))
    .unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    for name in ["resnet18", "mobilenet_v2", "vit_b_16"] {
        let p = profile(name, &dims(&[("batch", 1)]));
        assert_eq!(
            p.totals.macs,
            r[name]["truth_macs"].as_u64().unwrap(),
            "{name}"
        );
    }
}

/// `--input 1x3x512x512` rebuilds resnet18 at 512: every feature map grows by 512/224 per
/// side (both are multiples of 32), so conv MACs grow by (512/224)² and the fc layer's
/// 512,000 stay.
#[test]
fn resolution_scales_conv_cost_quadratically() {
    let opts = Options {
        dims: vec![],
        inputs: vec![(None, vec![1, 3, 512, 512])],
        ..Default::default()
    };
    let p = profile("resnet18", &opts);
    let conv_224: u128 = 1_814_073_344 - 512_000;
    assert_eq!(
        p.totals.macs as u128,
        conv_224 * 512 * 512 / (224 * 224) + 512_000
    );
    assert_eq!(p.totals.params, 11_689_512);
}

/// GPT-2 at seq 1024: per token 12 × (768·2304 + 768·768 + 2·768·3072) MACs in the layers
/// plus 768·50257 in the LM head, and per layer 12 heads × (QKᵀ + AV) = 12·L²·64·2.
#[test]
fn gpt2_sequence_length_scales_as_the_formula_says() {
    let per_token: u64 = 12 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) + 768 * 50257;
    let quad: u64 = 12 * 12 * 64 * 2;
    let p = profile("gpt2", &dims(&[("batch", 1), ("seq", 1024)]));
    assert_eq!(p.totals.macs, per_token * 1024 + quad * 1024 * 1024);
    let f = profile("gpt2", &dims(&[("batch", 1)]))
        .formulas
        .expect("formula in seq");
    assert_eq!(f.macs.text, format!("{quad}·seq^2 + {per_token}·seq"));
}
