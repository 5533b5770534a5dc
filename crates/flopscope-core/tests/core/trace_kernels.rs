//! Recorded ATen calls read by position and the recorded attention backward kernels, on
//! hand-written `flopscope.trace/1` documents written as text (a `json!` value would sort
//! each call's arguments by name), each count derived by hand in the test.

use flopscope_core::{profile_bytes, Options, Profile};

/// A trace of `calls` over `values` (JSON text of each), written as given.
fn doc(values: &[&str], calls: &[&str], outputs: &str) -> Vec<u8> {
    format!(
        r#"{{"schema": "flopscope.trace/1", "name": "kernels",
            "values": [{}], "calls": [{}], "outputs": {outputs}}}"#,
        values.join(", "),
        calls.join(", ")
    )
    .into_bytes()
}

fn run(bytes: &[u8]) -> Profile {
    let p = profile_bytes(bytes, &Options::default()).expect("the document is counted");
    assert!(p.unsupported.is_empty(), "unsupported: {:?}", p.unsupported);
    p
}

fn f32(shape: &str, role: &str) -> String {
    format!(r#"{{"dtype": "float32", "shape": {shape}, "role": "{role}"}}"#)
}

/// `atan2(self, other)` has no translation: its rule counts one operation per element of its
/// first tensor, `self`. Its argument names sort the other way round (`other` < `self`), so
/// a reader that sorted them would count `other`'s 5 elements instead of `self`'s 20.
#[test]
fn arguments_are_read_in_the_schema_order() {
    let values = [
        f32("[4, 5]", "input"),
        f32("[5]", "input"),
        f32("[4, 5]", "value"),
    ];
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    for op in ["atan2", "hypot"] {
        let call = format!(
            r#"{{"op": "aten.{op}.default", "args": {{"self": {{"v": 0}}, "other": {{"v": 1}}}},
                "outputs": [2]}}"#
        );
        let p = run(&doc(&values, &[&call], "[2]"));
        // One per element of self [4, 5] (= of the broadcast output): 20.
        assert_eq!((p.totals.macs, p.totals.flops), (0, 20), "{op}");
    }
    // An argument given twice is refused, not silently replaced.
    let call = r#"{"op": "aten.atan2.default",
        "args": {"self": {"v": 0}, "other": {"v": 1}, "self": {"v": 1}}, "outputs": [2]}"#;
    let e = profile_bytes(&doc(&values, &[call], "[2]"), &Options::default()).unwrap_err();
    assert!(
        e.to_string().contains("argument 'self' is given twice"),
        "{e}"
    );
}

/// `mse_loss_backward(grad_output, self, target)` under `mean`: the incoming gradient is 0-d,
/// the gradient has `self`'s [4, 8] elements, 3 each (`table::MSE`): 96, not 3.
#[test]
fn mse_loss_backward_counts_the_input_not_the_scalar_gradient() {
    let values = [
        f32("[]", "input"),
        f32("[4, 8]", "input"),
        f32("[4, 8]", "input"),
        f32("[4, 8]", "value"),
    ];
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let call = r#"{"op": "aten.mse_loss_backward.default",
        "args": {"grad_output": {"v": 0}, "self": {"v": 1}, "target": {"v": 2}, "reduction": 1},
        "outputs": [3]}"#;
    assert_eq!(run(&doc(&values, &[call], "[3]")).totals.flops, 3 * 32);
}

/// `nll_loss_backward` on 6 labels: 1 per label (the negated gradient written at the label),
/// one more for `mean` (ATen's reduction 1) and one more with class weights: as ONNX's
/// NegativeLogLikelihoodLoss backward counts.
#[test]
fn nll_loss_backward_counts_the_weights_and_the_mean() {
    let values = [
        f32("[]", "input"),
        f32("[6, 10]", "input"),
        r#"{"dtype": "int64", "shape": [6], "role": "input"}"#.to_string(),
        f32("[10]", "input"),
        f32("[]", "input"),
        f32("[6, 10]", "value"),
    ];
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let call = |weight: &str, reduction: u8| {
        format!(
            r#"{{"op": "aten.nll_loss_backward.default",
                "args": {{"grad_output": {{"v": 0}}, "self": {{"v": 1}}, "target": {{"v": 2}},
                         "weight": {weight}, "reduction": {reduction}, "ignore_index": -100,
                         "total_weight": {{"v": 4}}}}, "outputs": [5]}}"#
        )
    };
    let flops = |weight: &str, reduction: u8| {
        run(&doc(&values, &[&call(weight, reduction)], "[5]"))
            .totals
            .flops
    };
    assert_eq!(flops("null", 1), 6 * 2);
    assert_eq!(flops("null", 2), 6);
    assert_eq!(flops(r#"{"v": 3}"#, 1), 6 * 3);
}

/// One attention backward call: dO, Q, K, V, O and the log-sum-exp as inputs; `grads` says
/// which of dQ, dK, dV the call produced (autograd's `grad_input_mask`).
fn attention_backward(op: &str, [q, k, v, o, lse]: [&str; 5], grads: [bool; 3]) -> Profile {
    let values = [
        f32(o, "input"),
        f32(q, "input"),
        f32(k, "input"),
        f32(v, "input"),
        f32(o, "input"),
        f32(lse, "input"),
        f32(q, "value"),
        f32(k, "value"),
        f32(v, "value"),
    ];
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    let grad = if op.contains("efficient") {
        "grad_out_"
    } else {
        "grad_out"
    };
    let outs: Vec<String> = grads
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            if g {
                (6 + i).to_string()
            } else {
                "null".into()
            }
        })
        .collect();
    let call = format!(
        r#"{{"op": "aten.{op}.default",
            "args": {{"{grad}": {{"v": 0}}, "query": {{"v": 1}}, "key": {{"v": 2}},
                     "value": {{"v": 3}}, "out": {{"v": 4}}, "logsumexp": {{"v": 5}},
                     "dropout_p": 0.0, "is_causal": false, "scale": null}},
            "outputs": [{}]}}"#,
        outs.join(", ")
    );
    let produced: Vec<&str> = outs
        .iter()
        .map(String::as_str)
        .filter(|o| *o != "null")
        .collect();
    run(&doc(
        &values,
        &[&call],
        &format!("[{}]", produced.join(", ")),
    ))
}

/// A flash or memory-efficient kernel keeps no probabilities: its backward recomputes
/// `S = Q·Kᵀ` and `P = exp(scale·S − lse)`, then runs the four products of the math path:
/// five in all, as FlashAttention's paper and `FlopCounterMode` count them.
#[test]
fn fused_attention_backward_recomputes_the_scores() {
    // B = 2, H = 3, L = 5, S = 7, dk = 4, dv = 6: scores = 2·3·5·7 = 210.
    let shapes = [
        "[2, 3, 5, 4]",
        "[2, 3, 7, 4]",
        "[2, 3, 7, 6]",
        "[2, 3, 5, 6]",
        "[2, 3, 5]",
    ];
    let scores: u64 = 2 * 3 * 5 * 7;
    let (dk, dv) = (4, 6);
    for op in [
        "_scaled_dot_product_flash_attention_backward",
        "_scaled_dot_product_flash_attention_for_cpu_backward",
        "_scaled_dot_product_efficient_attention_backward",
        "_scaled_dot_product_cudnn_attention_backward",
    ] {
        let p = attention_backward(op, shapes, [true, true, true]);
        // Q·Kᵀ again (dk), dP = dO·Vᵀ (dv), dV = Pᵀ·dO (dv), dQ = dS·K (dk), dK = dSᵀ·Q (dk):
        // FlopCounterMode's sdpa_backward_flop_count, 2·scores·(3·dk + 2·dv) FLOPs.
        let macs = scores * (3 * dk + 2 * dv);
        assert_eq!(p.totals.macs, macs, "{op}");
        // Besides the products: P rebuilt 3 per score (scale, − lse, exp), the softmax
        // gradient 4 and the scale 1 per score.
        assert_eq!(p.totals.flops, 2 * macs + scores * (3 + 5), "{op}");
    }
    // Only dV asked for (Q and K frozen): the recomputed scores and dV = Pᵀ·dO, no softmax
    // gradient.
    let op = "_scaled_dot_product_flash_attention_backward";
    let p = attention_backward(op, shapes, [false, false, true]);
    assert_eq!(p.totals.macs, scores * (dk + dv));
    assert_eq!(p.totals.flops, 2 * scores * (dk + dv) + scores * 3);
}

/// `_efficient_attention_backward` reads [B, L, H, d] tensors: B = 2, L = 5, S = 7, H = 3,
/// dk = 4, dv = 6, the same 210 scores as above and the same five products.
#[test]
fn efficient_attention_backward_reads_the_bmhk_layout() {
    let shapes = [
        "[2, 5, 3, 4]",
        "[2, 7, 3, 4]",
        "[2, 7, 3, 6]",
        "[2, 5, 3, 6]",
        "[2, 3, 5]",
    ];
    let p = attention_backward("_efficient_attention_backward", shapes, [true; 3]);
    let scores: u64 = 2 * 3 * 5 * 7;
    assert_eq!(p.totals.macs, scores * (3 * 4 + 2 * 6));
    assert_eq!(p.totals.flops, 2 * p.totals.macs + scores * 8);
}
