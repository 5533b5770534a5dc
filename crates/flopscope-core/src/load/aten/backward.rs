//! The backward kernels autograd runs in a recorded training step. Each becomes one `aten`
//! node (rules in `ops::aten`) over the tensors its cost depends on, in a fixed order, with
//! the calls' outputs as recorded: a gradient autograd did not ask for (`output_mask`) is an
//! absent output, and is not counted. Elementwise backward kernels (`threshold_backward`,
//! `_softmax_backward_data`, …) need no translation: the generic node over their tensor
//! arguments, gradient first, is what their rule reads.

use super::{Call, Emit, R};
use crate::graph::Attr;

/// The nodes of `c` when its operator (`base`, without an in-place `_`) is of this family.
pub(super) fn translate(e: &mut Emit, c: &Call, base: &str) -> Option<R> {
    let outs = c.outputs.clone();
    let mut mine = true;
    let r = (|| -> R {
        match base {
            "convolution_backward" => {
                let ins = vec![
                    Some(e.req(c, "grad_output")?),
                    Some(e.req(c, "input")?),
                    Some(e.req(c, "weight")?),
                ];
                let attrs = vec![
                    ("transposed", Attr::Int(Emit::flag(c, "transposed") as i64)),
                    ("groups", Attr::Int(Emit::int(c, "groups", 1)?)),
                ];
                e.node("aten", "convolution_backward", ins, outs, attrs)
            }
            "native_batch_norm_backward"
            | "cudnn_batch_norm_backward"
            | "miopen_batch_norm_backward"
            | "batch_norm_backward" => {
                let dy = ["grad_out", "grad_output"]
                    .iter()
                    .find_map(|n| e.tensor(c, n).ok().flatten())
                    .ok_or("the gradient argument is missing")?;
                let ins = vec![Some(dy), Some(e.req(c, "input")?), e.tensor(c, "weight")?];
                // cuDNN and MIOpen have a backward for batch statistics only.
                let training = match c.args.get("train").or(c.args.get("training")) {
                    Some(_) => Emit::flag(c, "train") || Emit::flag(c, "training"),
                    None => true,
                };
                let attrs = vec![("training", Attr::Int(training as i64))];
                e.node("aten", "batch_norm_backward", ins, outs, attrs)
            }
            "native_layer_norm_backward" | "native_group_norm_backward" => {
                let ins = vec![
                    Some(e.req(c, "grad_out")?),
                    Some(e.req(c, "input")?),
                    e.tensor(c, "weight")?,
                ];
                e.node("aten", "layer_norm_backward", ins, outs, vec![])
            }
            "_fused_rms_norm_backward" => {
                let ins = vec![
                    Some(e.req(c, "grad_out")?),
                    Some(e.req(c, "input")?),
                    e.tensor(c, "weight")?,
                ];
                e.node("aten", "rms_norm_backward", ins, outs, vec![])
            }
            "gelu_backward" => {
                let ins = vec![Some(e.req(c, "grad_output")?), Some(e.req(c, "self")?)];
                let approx = Emit::text(c, "approximate").unwrap_or("none").to_string();
                e.node(
                    "aten",
                    "gelu_backward",
                    ins,
                    outs,
                    vec![("approximate", Attr::Str(approx))],
                )
            }
            "avg_pool1d_backward" | "avg_pool2d_backward" | "avg_pool3d_backward" => {
                let ins = vec![Some(e.req(c, "grad_output")?), Some(e.req(c, "self")?)];
                let k = Emit::ints(c, "kernel_size", 0)?;
                let attrs = vec![("kernel_shape", Attr::Ints(k))];
                e.node("aten", "avg_pool_backward", ins, outs, attrs)
            }
            "_adaptive_avg_pool2d_backward" | "_adaptive_avg_pool3d_backward" => {
                // Counted as the forward pooling it reverses: the input's shape and the
                // gradient's (the output's) spatial sizes.
                let (dy, x) = (e.req(c, "grad_output")?, e.req(c, "self")?);
                let n = if base.contains("3d") { 3 } else { 2 };
                let dys = e.shape(dy);
                let size: Vec<i64> = dys[dys.len().saturating_sub(n)..]
                    .iter()
                    .map(|&d| d as i64)
                    .collect();
                let attrs = vec![("output_size", Attr::Ints(size))];
                e.node(
                    "aten",
                    "adaptive_avg_pool_backward",
                    vec![Some(x), Some(dy)],
                    outs,
                    attrs,
                )
            }
            "nll_loss_backward" | "nll_loss2d_backward" => {
                // What each label costs depends on the class weights and the reduction.
                let ins = vec![
                    Some(e.req(c, "grad_output")?),
                    Some(e.req(c, "self")?),
                    Some(e.req(c, "target")?),
                    e.tensor(c, "weight")?,
                ];
                let attrs = vec![("reduction", Attr::Int(Emit::int(c, "reduction", 1)?))];
                e.node("aten", base, ins, outs, attrs)
            }
            _ if base.contains("attention") && base.ends_with("_backward") => {
                let dy = ["grad_out", "grad_out_"]
                    .iter()
                    .find_map(|n| e.tensor(c, n).ok().flatten())
                    .ok_or("the gradient argument is missing")?;
                let ins = vec![
                    Some(dy),
                    Some(e.req(c, "query")?),
                    Some(e.req(c, "key")?),
                    Some(e.req(c, "value")?),
                ];
                // Handed the log-sum-exp instead of the probabilities, the kernel recomputes
                // them (`ops::aten`); the kernels outside `scaled_dot_product` read
                // [B, L, H, d] tensors.
                let recompute = Emit::is_tensor(c, "logsumexp") as i64;
                let bmhk = !base.contains("scaled_dot_product") as i64;
                let attrs = vec![
                    ("recompute", Attr::Int(recompute)),
                    ("bmhk", Attr::Int(bmhk)),
                ];
                e.node("aten", "attention_backward", ins, outs, attrs)
            }
            _ => {
                mine = false;
                Ok(())
            }
        }
    })();
    mine.then_some(r)
}
