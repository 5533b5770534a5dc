//! Training steps derived from forward graphs (`--training` on ONNX files and built-in
//! models): backward MACs against hand counts, and the memory of a step (docs/training.md).

use crate::common::*;
use flopscope_core::builder::Builder;
use flopscope_core::graph::{DType, Dim};
use flopscope_core::schema::Training;
use flopscope_core::training::{Precision, Recompute, TrainingOptions};
use flopscope_core::Options;

fn at_batch_2(training: TrainingOptions) -> Options {
    Options {
        inputs: vec![(None, vec![2, 3, 224, 224])],
        training: Some(training),
        ..Options::default()
    }
}

fn step(p: &flopscope_core::Profile) -> &Training {
    let t = p.training.as_ref().expect("a training section");
    assert!(t.backward_unknown.is_empty(), "{:?}", t.backward_unknown);
    t
}

/// ResNet-18 at batch 2: 3,628,146,688 forward MACs. Every product's backward is two products
/// of its size (input and weight gradient) except conv1's input gradient, which nothing needs
/// (its input is the image): 64·112·112·3·49 · 2 = 236,027,904 MACs. The classifier Gemm's
/// input is the pooled activations (a gradient is needed) and its weight a parameter: both.
/// So 2 × 3,628,146,688 − 236,027,904 = 7,020,265,472, for the exported file (BatchNorm folded
/// into the convolutions) and the built-in model (BatchNorm kept: no MACs in its backward).
#[test]
fn resnet18_backward_is_twice_the_forward_less_the_stems_input_gradient() {
    let file =
        flopscope_core::profile_path(&model("resnet18"), &at_batch_2(TrainingOptions::default()))
            .unwrap();
    let zoo = flopscope_core::profile_source(
        "resnet18",
        &Options {
            dims: vec![("batch".into(), 2)],
            training: Some(TrainingOptions::default()),
            ..Options::default()
        },
    )
    .unwrap();
    for p in [&file, &zoo] {
        let t = step(p);
        assert_eq!(t.forward_macs, 3_628_146_688, "{}", p.model.source);
        assert_eq!(t.backward_macs, 7_020_265_472, "{}", p.model.source);
        assert_eq!(t.macs, 3_628_146_688 + 7_020_265_472);
    }
}

/// MobileNetV2 at batch 2: forward 601,548,544 MACs (300,774,272 at batch 1, classifier
/// included); conv1 (3→32, 3×3, stride 2, 112×112 out) has 2·32·112·112·27 = 21,676,032 MACs
/// and no input gradient. Depthwise convolutions cost their forward per gradient, like every
/// other: 2 × 601,548,544 − 21,676,032 = 1,181,421,056 (FlopCounterMode: 11,678,152,448).
#[test]
fn mobilenet_v2_backward_counts_depthwise_gradients_at_their_forward_size() {
    let p = flopscope_core::profile_path(
        &model("mobilenet_v2"),
        &at_batch_2(TrainingOptions::default()),
    )
    .unwrap();
    let t = step(&p);
    assert_eq!(t.forward_macs, 601_548_544);
    assert_eq!(t.backward_macs, 1_181_421_056);
}

/// x [2,8] → Linear(8,16) → Relu → Linear(16,4), fp32 weights: 8·16 + 16 + 16·4 + 4 = 212
/// parameters.
fn mlp(frozen_first: bool, frozen_last: bool) -> flopscope_core::graph::Graph {
    let mut b = Builder::new("mlp");
    let x = b.input("x", DType::F32, vec![Dim::Known(2), Dim::Known(8)]);
    let h = b.linear("fc1", x, 8, 16, true);
    let r = b.unary("Relu", h);
    let y = b.linear("fc2", r, 16, 4, true);
    b.output(y);
    let mut g = b.finish();
    let names: Vec<usize> = (0..g.values.len())
        .filter(|&v| {
            let n = &g.values[v].name;
            (frozen_first && n.starts_with("fc1.")) || (frozen_last && n.starts_with("fc2."))
        })
        .collect();
    g.frozen = names;
    g
}

fn train(g: &flopscope_core::graph::Graph, o: TrainingOptions) -> Training {
    let opts = Options {
        training: Some(o),
        ..Options::default()
    };
    let p = flopscope_core::profile_graph(g, model_info(), &opts).unwrap();
    step(&p).clone()
}

fn model_info() -> flopscope_core::schema::ModelInfo {
    flopscope_core::schema::ModelInfo {
        source: "mlp".into(),
        producer: String::new(),
        ir_version: 0,
        opset: 17,
        nodes: 0,
        weights: flopscope_core::schema::WeightsStatus::Absent,
        file_bytes: 0,
    }
}

/// Adam in bf16-mixed: 2 + 2 bytes of weights and gradients and 12 of optimizer state per
/// parameter (212 → 424 / 424 / 2,544). Saved for backward, 2 bytes per element: fc1's
/// MatMul needs nothing of x (x needs no gradient, and the weight gradient reads x: 16
/// elements kept), Relu keeps its output h' [2,16] (32 elements), which fc2's MatMul also
/// reads for its weight gradient (kept once). The bias adds keep nothing: (16 + 32)·2 = 96.
/// Compute: forward 2·8·16 + 2·16·4 = 384 MACs; backward fc1 weight 256, fc2 input and weight
/// 128 each = 512 MACs. Backward FLOPs 2·512 + bias sums 32 + 8 + Relu mask 32 = 1,096.
#[test]
fn adam_bf16_mixed_memory_and_a_small_mlps_backward_by_hand() {
    let o = TrainingOptions {
        precision: Precision::Bf16Mixed,
        ..TrainingOptions::default()
    };
    let t = train(&mlp(false, false), o);
    let m = &t.memory;
    assert_eq!(t.trainable_params, 212);
    assert_eq!(
        (m.weights_bytes, m.gradients_bytes, m.optimizer_bytes),
        (424, 424, 2_544)
    );
    assert_eq!(m.activations_bytes, 96);
    assert_eq!((t.forward_macs, t.backward_macs), (384, 512));
    assert_eq!(t.backward_flops, 1_096);
    // Adam: 14 FLOPs per parameter (docs/training.md).
    assert_eq!(t.optimizer_flops, 212 * 14);
    // Peak: state + saved + the largest set of gradients one node's backward holds: fc1's
    // bias Add (dY [2,16] in, d(MatMul output) [2,16] out: 64 elements, 128 bytes).
    assert_eq!(m.peak_bytes, 424 + 424 + 2_544 + 96 + 128);
}

/// Frozen layers: the first half frozen has no backward at all (nothing before it needs a
/// gradient); the last half frozen keeps its input gradients and loses its weight gradients.
#[test]
fn frozen_halves_by_hand() {
    // fc1 frozen: nothing before fc2 needs a gradient, so fc2 has its weight gradient alone
    // (2·16·4 = 128 MACs) and fc1 and the Relu no backward.
    let t = train(&mlp(true, false), TrainingOptions::default());
    assert_eq!((t.trainable_params, t.frozen_params), (68, 144));
    assert_eq!(t.backward_macs, 128);
    // fc2 frozen: fc2's input gradient (128), fc1's weight gradient (2·8·16 = 256): 384.
    let t = train(&mlp(false, true), TrainingOptions::default());
    assert_eq!((t.trainable_params, t.frozen_params), (144, 68));
    assert_eq!(t.backward_macs, 384);
}

/// A self-attention block spelled out (MatMul → Softmax → MatMul) on [1, 4, 8, 16]:
/// scores [1,4,8,8] (256 elements). Without recomputation the softmax output is kept (read by
/// its own backward and by the value product's weight-like gradient); selective recomputation
/// drops every score-sized tensor and recomputes the nodes that produce them (QKᵀ: 1·4·8·8·16
/// = 4,096 MACs, the softmax: 5·256 FLOPs).
#[test]
fn selective_recomputation_drops_score_sized_tensors() {
    let mut b = Builder::new("att");
    let dims = |v: &[u64]| v.iter().map(|&d| Dim::Known(d)).collect::<Vec<_>>();
    let x = b.input("x", DType::F32, dims(&[1, 8, 64]));
    let q = b.linear("q", x, 64, 64, false);
    let k = b.linear("k", x, 64, 64, false);
    let v = b.linear("v", x, 64, 64, false);
    let heads = |b: &mut Builder, t| {
        let r = b.reshape(t, &[1, 8, 4, 16]);
        b.transpose(r, &[0, 2, 1, 3])
    };
    let (qh, kh, vh) = (heads(&mut b, q), heads(&mut b, k), heads(&mut b, v));
    let kt = b.transpose(kh, &[0, 1, 3, 2]);
    let s = b.op("MatMul", &[qh, kt], vec![]);
    let p = b.op(
        "Softmax",
        &[s],
        vec![("axis", flopscope_core::graph::Attr::Int(-1))],
    );
    let o = b.op("MatMul", &[p, vh], vec![]);
    b.output(o);
    let g = b.finish();
    let none = train(&g, TrainingOptions::default());
    let sel = train(
        &g,
        TrainingOptions {
            recompute: Recompute::Selective,
            ..TrainingOptions::default()
        },
    );
    // The softmax output, 256 fp32 elements, is the only score-sized tensor kept.
    assert_eq!(
        none.memory.activations_bytes - sel.memory.activations_bytes,
        256 * 4
    );
    assert_eq!(sel.backward_macs - none.backward_macs, 4_096);
    assert_eq!(
        sel.backward_flops - none.backward_flops,
        2 * 4_096 + 5 * 256
    );
    // Full: the forward of every node that runs backward is run again: here all of them.
    let full = train(
        &g,
        TrainingOptions {
            recompute: Recompute::Full,
            ..TrainingOptions::default()
        },
    );
    assert_eq!(full.backward_macs - none.backward_macs, none.forward_macs);
}

/// A quantized graph stores its weights as integers: they are parameters (1,020, as the float
/// model's), but no gradient reaches an integer, so the step has no backward and every
/// parameter counts as frozen, said in a warning; the float model it was made from trains
/// all 1,020.
#[test]
fn a_quantized_graph_has_no_trainable_parameters_and_says_so() {
    let o = Options {
        training: Some(TrainingOptions::default()),
        ..Options::default()
    };
    let q = data().join("quant");
    let f32 = flopscope_core::profile(&flopscope_core::Source::Path(&q.join("net_f32.onnx")), &o)
        .unwrap();
    let t = f32.training.as_ref().unwrap();
    assert_eq!((t.trainable_params, t.frozen_params), (1_020, 0));
    assert!(t.backward_macs > 0);
    for file in ["net_qop.onnx", "net_qdq.onnx"] {
        let p = flopscope_core::profile(&flopscope_core::Source::Path(&q.join(file)), &o).unwrap();
        let t = p.training.as_ref().unwrap();
        assert_eq!(p.totals.params, 1_020, "{file}");
        assert_eq!((t.trainable_params, t.frozen_params), (0, 1_020), "{file}");
        assert_eq!(
            (t.backward_macs, t.memory.gradients_bytes),
            (0, 0),
            "{file}"
        );
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("1020 parameters get no gradient")),
            "{file}: {:?}",
            p.warnings
        );
    }
}
