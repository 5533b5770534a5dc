//! `torch.utils.flop_counter.FlopCounterMode` (torch 2.15): FLOPs of matrix products,
//! convolutions and fused attention, read at the ATen dispatcher as the trace's calls are;
//! every other operator is 0. Formulas from `flop_counter.py` (`mm_flop`, `conv_flop_count`,
//! `sdpa_flop_count`).

use super::observe::{inside, numel, Observation};
use super::tally::Tally;
use crate::error::Result;

/// FlopCounterMode's totals over the forward pass.
pub(crate) fn flopcountermode(obs: &Observation) -> Result<Tally> {
    let mut t = Tally::new(false, true);
    let fns = obs.functions.as_deref().unwrap_or(&[]);
    // CPU `aten.lstm` reaches FlopCounterMode whole and has no formula: 0. The recorder
    // decomposes it, so its matrix products are left out here by the function they ran under.
    let in_lstm = |mut f: Option<usize>| {
        while let Some(i) = f {
            let Some(x) = fns.get(i) else { break };
            if matches!(x.name.as_str(), "torch.lstm" | "torch._VF.lstm") {
                return true;
            }
            f = x.parent;
        }
        false
    };
    let attention: Vec<[usize; 2]> = obs.fused_attention().into_iter().map(|x| x.0).collect();
    let encoder = obs.fused_encoder_layers();
    for _ in &attention {
        t.add("aten._native_multi_head_attention.default", 0, 0);
    }
    for _ in &encoder {
        t.add("aten._transformer_encoder_layer_fwd.default", 0, 0);
    }
    let calls = obs.forward();
    let fused = inside(calls.len(), attention.into_iter().chain(encoder));
    for (c, _) in calls.iter().zip(&fused).filter(|(_, &f)| !f) {
        let base = c.op.split('.').nth(1).unwrap_or("");
        let s = |n: &str| obs.arg_shape(c, n).unwrap_or(&[]);
        let flops: Option<u128> = match base {
            "mm" | "_scaled_mm" => mm(s("self"), s("mat2")),
            "addmm" => mm(s("mat1"), s("mat2")),
            "bmm" => bmm(s("self"), s("mat2")),
            "baddbmm" => bmm(s("batch1"), s("batch2")),
            "convolution"
            | "_convolution"
            | "cudnn_convolution"
            | "_slow_conv2d_forward"
            | "convolution_overrideable" => {
                let (x, w) = (s("input"), s("weight"));
                let y = obs.out_shape(c, 0).unwrap_or(&[]);
                let transposed = c.args.get("transposed").and_then(|j| j.as_bool()) == Some(true);
                let sp = if transposed { x } else { y };
                Some(
                    2 * x.first().copied().unwrap_or(0) as u128
                        * numel(sp.get(2..).unwrap_or(&[]))
                        * numel(w),
                )
            }
            b if b.contains("scaled_dot_product") && !b.contains("backward") => {
                let (q, k, v) = (s("query"), s("key"), s("value"));
                let n = q.len();
                (n >= 2 && k.len() >= 2 && !v.is_empty()).then(|| {
                    let (sq, d) = (q[n - 2] as u128, q[n - 1] as u128);
                    let bh = numel(&q[..n - 2]);
                    let sk = k[k.len() - 2] as u128;
                    let dv = *v.last().unwrap() as u128;
                    2 * bh * sq * d * sk + 2 * bh * sq * sk * dv
                })
            }
            _ => None,
        };
        if let Some(f) = flops {
            if !in_lstm(c.func) {
                t.add(&c.op, 0, f);
            }
        }
    }
    if obs.functions.is_none() {
        t.notes
            .push("the trace has no torch functions: an nn.LSTM's products are counted".into());
    }
    Ok(t)
}

fn mm(a: &[u64], b: &[u64]) -> Option<u128> {
    match (a, b) {
        ([m, k], [_, n]) => Some(2 * *m as u128 * *k as u128 * *n as u128),
        _ => None,
    }
}

fn bmm(a: &[u64], b: &[u64]) -> Option<u128> {
    match (a, b) {
        ([bt, m, k], [_, _, n]) => Some(2 * *bt as u128 * *m as u128 * *k as u128 * *n as u128),
        _ => None,
    }
}
