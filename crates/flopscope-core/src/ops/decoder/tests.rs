//! Hand-computed tests of the `llm` rules.
use std::cell::RefCell;

use super::super::testutil::*;
use crate::graph::{Attr, DType, Graph, Node};
use crate::ops::{lookup, Bodies, Cost, Ctx, OpError, Tensor};

#[test]
fn linear_attention_linear_rule() {
    // B=2, T=4, 4 heads of dk = dv = 8. Per token: read 4·8·8 = 256 MACs, write 4·8·8 = 256;
    // scale 4·8 = 32. 8 tokens: 4,096 MACs, FLOPs 8,192 + 256.
    let q = f32t(&[2, 4, 32]);
    let attrs = [
        a_int("q_num_heads", 4),
        a_int("kv_num_heads", 4),
        a_str("update_rule", "linear"),
    ];
    let r = run1("LinearAttention", &[q.clone(), q.clone(), q], &attrs);
    assert_eq!(r.shape, vec![2, 4, 32]);
    assert_eq!(r.outs[1].shape, Some(vec![2, 4, 8, 8]));
    assert_eq!((r.cost.macs, r.cost.flops), (4096, 8192 + 256));
}

#[test]
fn linear_attention_gated_delta_with_grouped_heads() {
    // Hq = 8, Hkv = 4, dk = dv = 8, per-head decay [2,4,4] and beta [2,4,4]. Per token:
    // read 8·64 = 512, write 4·64 = 256, retrieve 256 → 1,024 MACs; scale 64, decay 256,
    // v − Sᵀk and ×β 2·4·8 = 64 → 384. 8 tokens: 8,192 MACs; FLOPs 16,384 + 3,072 + 32 exps.
    let (q, kv) = (f32t(&[2, 4, 64]), f32t(&[2, 4, 32]));
    let g = f32t(&[2, 4, 4]);
    let attrs = [a_int("q_num_heads", 8), a_int("kv_num_heads", 4)];
    let past = Tensor::new(DType::F16, vec![2, 4, 8, 8]);
    let inputs = [q, kv.clone(), kv, past, g.clone(), g];
    let r = run1("LinearAttention", &inputs, &attrs);
    assert_eq!(r.shape, vec![2, 4, 64]);
    assert_eq!(r.outs[0].dtype, DType::F32);
    assert_eq!(r.outs[1].dtype, DType::F16); // the state keeps past_state's type
    assert_eq!((r.cost.macs, r.cost.flops), (8192, 16384 + 3072 + 32));
    // The default rule (gated_delta) without its decay and beta inputs is refused.
    let q = f32t(&[2, 4, 32]);
    let m = run_err("LinearAttention", &[q.clone(), q.clone(), q], &attrs[..1]);
    assert!(m.contains("kv_num_heads"), "{m}");
    let q = f32t(&[2, 4, 32]);
    let m = run_err(
        "LinearAttention",
        &[q.clone(), q.clone(), q],
        &[a_int("q_num_heads", 4), a_int("kv_num_heads", 4)],
    );
    assert!(m.contains("decay"), "{m}");
}

#[test]
fn causal_conv_with_state_counts_a_depthwise_conv() {
    // [2,4,8] with a [4,1,4] kernel: 64 outputs × 4 taps = 256 MACs; bias 1 + SiLU 5 per
    // output: 384. The state keeps k − 1 = 3 positions.
    let x = f32t(&[2, 4, 8]);
    let r = run1(
        "CausalConvWithState",
        &[x.clone(), f32t(&[4, 1, 4]), f32t(&[4])],
        &[a_str("activation", "silu")],
    );
    assert_eq!(r.shape, vec![2, 4, 8]);
    assert_eq!(r.outs[1].shape, Some(vec![2, 4, 3]));
    assert_eq!((r.cost.macs, r.cost.flops), (256, 512 + 384));
    let m = run_err("CausalConvWithState", &[x, f32t(&[3, 1, 4])], &[]);
    assert!(m.contains("weight"), "{m}");
}

#[test]
fn swiglu_and_tensor_scatter() {
    // SwiGLU on [2,4]: Swish 5 + product 1 per element = 48.
    let r = run1("SwiGLU", &[f32t(&[2, 4]), f32t(&[2, 4])], &[]);
    assert_eq!((r.shape.clone(), r.cost.flops), (vec![2, 4], 48));
    assert!(run_err("SwiGLU", &[f32t(&[2, 4]), f32t(&[1, 4])], &[]).contains("shape"));
    // TensorScatter writes [2,1,2,5] into the [2,1,4,5] cache along axis −2: a copy.
    let r = run1(
        "TensorScatter",
        &[f32t(&[2, 1, 4, 5]), f32t(&[2, 1, 2, 5]), i64t(&[2])],
        &[],
    );
    assert_eq!((r.shape, r.cost), (vec![2, 1, 4, 5], Cost::default()));
    let m = run_err(
        "TensorScatter",
        &[f32t(&[2, 1, 4, 5]), f32t(&[2, 1, 5, 5])],
        &[],
    );
    assert!(m.contains("update"), "{m}");
}

#[test]
fn flex_attention_counts_as_attention() {
    // Q [2,4,8,16], K and V [2,4,6,16]: 384 scores; MACs 384·32 = 12,288; 6 per score more.
    let (q, k) = (f32t(&[2, 4, 8, 16]), f32t(&[2, 4, 6, 16]));
    let r = run_dom("ai.onnx.preview", "FlexAttention", &[q, k.clone(), k], &[]);
    assert_eq!(r.shape, vec![2, 4, 8, 16]);
    assert_eq!((r.cost.macs, r.cost.flops), (12288, 24576 + 2304));
    // Grouped heads: Hq = 8 over Hkv = 2 is fine; Hq = 3 over 2 is refused.
    let m = run_opt_err(
        "ai.onnx.preview",
        "FlexAttention",
        &[
            Some(f32t(&[1, 3, 4, 8])),
            Some(f32t(&[1, 2, 4, 8])),
            Some(f32t(&[1, 2, 4, 8])),
        ],
        &[],
    );
    assert!(m.contains("Hkv"), "{m}");
}

/// Bodies whose every subgraph costs 7 FLOPs per element of its input.
struct PerElement;

impl Bodies for PerElement {
    fn analyze(&self, _: &Graph, inputs: Vec<Tensor>) -> super::super::BodyOutcome {
        let n: u64 = inputs[0].shape.as_ref().unwrap().iter().product();
        Ok((vec![], Some(Cost::flops(7 * n))))
    }
}

#[test]
fn flex_attention_adds_its_modifier_subgraphs() {
    // Q, K, V [1,2,3,4]: 18 scores, MACs 18·8 = 144, FLOPs 288 + 108; score_mod and prob_mod
    // each run once on the [1,2,3,3] scores: 2 · 7 · 18 = 252 more.
    let t = f32t(&[1, 2, 3, 4]);
    let node = Node {
        name: "flex".into(),
        op_type: "FlexAttention".into(),
        domain: "ai.onnx.preview".into(),
        inputs: vec![Some(0), Some(1), Some(2)],
        outputs: vec![Some(3)],
        attrs: [
            ("score_mod".to_string(), Attr::Graph(Box::default())),
            ("prob_mod".to_string(), Attr::Graph(Box::default())),
        ]
        .into_iter()
        .collect(),
        scope: vec![],
    };
    let warnings = RefCell::new(Vec::new());
    let mut cx = Ctx {
        node: &node,
        inputs: vec![Some(&t), Some(&t), Some(&t)],
        opset: 26,
        bodies: &PerElement,
        warnings: &warnings,
    };
    let def = lookup("ai.onnx.preview", "FlexAttention").unwrap();
    let outs = (def.infer)(&cx).unwrap();
    assert_eq!(outs[0].shape, Some(vec![1, 2, 3, 4]));
    let c = (def.cost)(&cx, &outs).unwrap();
    assert_eq!((c.macs, c.flops), (144, 288 + 108 + 252));
    // A subgraph that cannot be analysed leaves the cost unknown, never zero.
    cx.bodies = &crate::ops::NoBodies;
    assert_eq!((def.cost)(&cx, &outs), Err(OpError::Unknown));
}
