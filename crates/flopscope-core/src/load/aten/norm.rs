//! Normalizations, softmax and dropout.

use super::{Call, Emit, R};
use crate::graph::Attr;

/// The nodes of `c` when its operator (`base`, without an in-place `_`) is of this family.
pub(super) fn translate(e: &mut Emit, c: &Call, base: &str) -> Option<R> {
    let outs = c.outputs.clone();
    let mut mine = true;
    let r = (|| -> R {
        match base {
            "native_batch_norm"
            | "_native_batch_norm_legit"
            | "_native_batch_norm_legit_no_training"
            | "_native_batch_norm_legit_functional"
            | "batch_norm"
            | "cudnn_batch_norm"
            | "miopen_batch_norm" => {
                let ins = vec![
                    Some(e.req(c, "input")?),
                    e.tensor(c, "weight")?,
                    e.tensor(c, "bias")?,
                    e.tensor(c, "running_mean")?,
                    e.tensor(c, "running_var")?,
                ];
                let eps = Emit::num(c, "eps").unwrap_or(1e-5) as f32;
                let momentum = Emit::num(c, "momentum").unwrap_or(0.1) as f32;
                e.node(
                    "",
                    "BatchNormalization",
                    ins,
                    outs,
                    vec![
                        ("epsilon", Attr::Float(eps)),
                        ("momentum", Attr::Float(1.0 - momentum)),
                        // Batch statistics in training mode (and instance norm, which PyTorch
                        // runs as a training-mode batch norm): computed, not folded.
                        ("training_mode", Attr::Int(Emit::flag(c, "training") as i64)),
                    ],
                )
            }
            "native_layer_norm" | "layer_norm" => {
                let shape = Emit::ints(c, "normalized_shape", 0)?;
                let ins = vec![
                    Some(e.req(c, "input")?),
                    e.tensor(c, "weight")?,
                    e.tensor(c, "bias")?,
                ];
                let eps = Emit::num(c, "eps").unwrap_or(1e-5) as f32;
                e.node(
                    "",
                    "LayerNormalization",
                    ins,
                    outs,
                    vec![
                        ("axis", Attr::Int(-(shape.len() as i64))),
                        ("epsilon", Attr::Float(eps)),
                    ],
                )
            }
            "native_group_norm" | "group_norm" => {
                let ins = vec![
                    Some(e.req(c, "input")?),
                    e.tensor(c, "weight")?,
                    e.tensor(c, "bias")?,
                ];
                let groups = Emit::int(c, "group", Emit::int(c, "num_groups", 1)?)?;
                let eps = Emit::num(c, "eps").unwrap_or(1e-5) as f32;
                e.node(
                    "",
                    "GroupNormalization",
                    ins,
                    outs,
                    vec![
                        ("num_groups", Attr::Int(groups)),
                        ("epsilon", Attr::Float(eps)),
                    ],
                )
            }
            "_fused_rms_norm" | "rms_norm" => {
                let shape = Emit::ints(c, "normalized_shape", 0)?;
                let ins = vec![Some(e.req(c, "input")?), e.tensor(c, "weight")?];
                e.node(
                    "",
                    "RMSNormalization",
                    ins,
                    outs,
                    vec![("axis", Attr::Int(-(shape.len() as i64)))],
                )
            }
            "_softmax" | "softmax" | "_safe_softmax" | "_log_softmax" | "log_softmax" => {
                let op = if base.contains("log") {
                    "LogSoftmax"
                } else {
                    "Softmax"
                };
                let x = e.req(c, "self")?;
                let axis = Emit::int(c, "dim", -1)?;
                e.node("", op, vec![Some(x)], outs, vec![("axis", Attr::Int(axis))])
            }
            "_weight_norm_interface" => weight_norm(e, c),
            "native_dropout" | "dropout" | "feature_dropout" | "alpha_dropout" => {
                let x = e.req(c, "input")?;
                e.node("", "Dropout", vec![Some(x)], outs, vec![])
            }
            _ => {
                mine = false;
                Ok(())
            }
        }
    })();
    mine.then_some(r)
}

/// `_weight_norm_interface(v, g, dim)` → (w, norm), what
/// `torch.nn.utils.parametrizations.weight_norm` computes on each forward pass: `norm = ‖v‖₂`
/// over every dim but `dim` (kept, the shape of `g`) and `w = v · (g / norm)`, as ONNX
/// ReduceL2, Div and Mul.
fn weight_norm(e: &mut Emit, c: &Call) -> R {
    let (v, g) = (e.req(c, "v")?, e.req(c, "g")?);
    let shape = e.shape(v);
    let rank = shape.len() as i64;
    let dim = Emit::int(c, "dim", 0)?;
    let dim = if dim < 0 { dim + rank } else { dim };
    if !(0..rank).contains(&dim) {
        return Err(format!("dim {dim} of a rank-{rank} weight"));
    }
    let axes: Vec<i64> = (0..rank).filter(|&a| a != dim).collect();
    let kept: Vec<u64> = (0..rank)
        .map(|a| if a == dim { shape[a as usize] } else { 1 })
        .collect();
    let dt = e.dtype(v);
    let norm = match c.outputs.get(1).copied().flatten() {
        Some(n) => n,
        None => e.value(dt, &kept),
    };
    let axes = e.ints_const(&axes);
    e.node(
        "",
        "ReduceL2",
        vec![Some(v), Some(axes)],
        vec![Some(norm)],
        // A 1-D weight has nothing to reduce: each norm is |v|, not the whole vector's.
        vec![
            ("keepdims", Attr::Int(1)),
            ("noop_with_empty_axes", Attr::Int(1)),
        ],
    )?;
    let scale = e.op("Div", vec![Some(g), Some(norm)], vec![], dt, &kept)?;
    let w = c.outputs.first().copied().flatten();
    e.node("", "Mul", vec![Some(v), Some(scale)], vec![w], vec![])
}
