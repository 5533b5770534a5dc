//! Normalization family: BatchNormalization, LayerNormalization, GroupNormalization,
//! InstanceNormalization, RMSNormalization, LpNormalization, MeanVarianceNormalization, and
//! Softmax/LogSoftmax/Hardmax (a normalization along one axis). Output shape = input shape.
//! Cost: FLOPs per element from [`flops_per_element`]; per-row constants (a square root, a
//! division of the sums) are ignored. See `docs/counting.md`, "Normalization".

use super::{axis, numel, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::DType;

/// FLOPs per input element, before optional inputs.
///
/// Statistics: mean (1 add), centring (1 sub), variance (1 mul + 1 add), scaling by 1/σ (1 mul)
/// = 5; the affine scale adds 1 (and each optional shift or bias input 1 more, see
/// [`optional_adds`]). RMS statistics: square (1), sum (1), scale by 1/rms (1) = 3. Inference
/// BatchNormalization is folded to one multiply and one add per element (per-channel factors
/// precomputed) = 2. Softmax: max (1), subtract (1), exp (1), sum (1), divide (1) = 5. Skip
/// variants add the residual (1).
pub fn flops_per_element(op: &str) -> Option<u64> {
    Some(match op {
        "BatchNormalization" => 2,
        "LayerNormalization" => 6,
        "GroupNormalization" | "InstanceNormalization" => 7,
        "MeanVarianceNormalization" => 5,
        "RMSNormalization" | "SimplifiedLayerNormalization" => 4,
        "SkipSimplifiedLayerNormalization" => 5,
        "SkipLayerNormalization" => 7,
        "LpNormalization" => 3,
        "Softmax" | "LogSoftmax" => 5,
        "Hardmax" => 1,
        _ => return None,
    })
}

/// Positions of optional inputs that add one FLOP per element when given (shift, bias).
pub fn optional_adds(op: &str) -> &'static [usize] {
    match op {
        "LayerNormalization" => &[2],
        "SkipLayerNormalization" => &[3, 4],
        "SkipSimplifiedLayerNormalization" => &[3],
        _ => &[],
    }
}

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    match op {
        "LayerNormalization" | "RMSNormalization" => Some(OpDef {
            infer: infer_layer_norm,
            cost: cost_norm,
        }),
        _ if flops_per_element(op).is_some() && !op.starts_with("Skip") => Some(OpDef {
            infer: infer_same,
            cost: cost_norm,
        }),
        _ => None,
    }
}

/// Rules for Microsoft-domain fused normalizations.
pub fn lookup_ms(op: &str) -> Option<OpDef> {
    match op {
        "SkipLayerNormalization" | "SkipSimplifiedLayerNormalization" => Some(OpDef {
            infer: infer_skip,
            cost: cost_norm,
        }),
        "SimplifiedLayerNormalization" => Some(OpDef {
            infer: infer_layer_norm,
            cost: cost_norm,
        }),
        _ => None,
    }
}

fn infer_same(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let shape = cx.shape(0)?.to_vec();
    let dt = cx.dtype(0)?;
    if matches!(
        cx.node.op_type.as_str(),
        "Softmax" | "LogSoftmax" | "Hardmax"
    ) {
        // Default axis: 1 before opset 13, −1 since.
        let default = if cx.opset >= 13 { -1 } else { 1 };
        super::axis(cx.node.attr_int("axis", default), shape.len().max(1))?;
    }
    if cx.node.op_type == "BatchNormalization" && shape.len() >= 2 {
        if let Some(s) = cx.opt(1).and_then(|t| t.shape.as_deref()) {
            if s != [shape[1]] {
                return super::invalid(format!(
                    "scale has shape {s:?} but the input has {} channels",
                    shape[1]
                ));
            }
        }
        // Training mode (opset 14+) also returns the updated running mean and variance, one
        // value per channel, of the running statistics' type.
        if cx.node.attr_int("training_mode", 0) != 0 {
            let c = shape[1];
            let stat = cx.opt(3).map(|t| t.dtype).unwrap_or(dt);
            return Ok(vec![
                Tensor::new(dt, shape),
                Tensor::new(stat, vec![c]),
                Tensor::new(stat, vec![c]),
            ]);
        }
    }
    Ok(vec![Tensor::new(dt, shape)])
}

fn infer_layer_norm(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let ax = axis(cx.node.attr_int("axis", -1), x.len())?;
    let stats: Vec<u64> = x
        .iter()
        .enumerate()
        .map(|(i, &d)| if i < ax { d } else { 1 })
        .collect();
    Ok(vec![
        Tensor::new(cx.dtype(0)?, x.to_vec()),
        Tensor::new(DType::F32, stats.clone()),
        Tensor::new(DType::F32, stats),
    ])
}

fn infer_skip(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?.to_vec();
    let dt = cx.dtype(0)?;
    let mut stats = x.clone();
    if let Some(l) = stats.last_mut() {
        *l = 1;
    }
    Ok(vec![
        Tensor::new(dt, x.clone()),
        Tensor::new(DType::F32, stats.clone()),
        Tensor::new(DType::F32, stats),
        Tensor::new(dt, x),
    ])
}

fn cost_norm(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    if !cx.dtype(0)?.is_float() {
        return Ok(Cost::default());
    }
    let op = cx.node.op_type.as_str();
    let optional = optional_adds(op)
        .iter()
        .filter(|&&i| cx.opt(i).is_some())
        .count() as u64;
    // Batch statistics (training mode) are computed like GroupNormalization's, not folded.
    let training = op == "BatchNormalization" && cx.node.attr_int("training_mode", 0) != 0;
    let base = if training {
        flops_per_element("GroupNormalization")
    } else {
        flops_per_element(op)
    };
    // The per-element counts include the affine scale (and shift) these ops require in ONNX; a
    // traced PyTorch norm without affine parameters (elementwise_affine=False) omits them.
    let affine: &[usize] = match op {
        "LayerNormalization" | "RMSNormalization" | "SimplifiedLayerNormalization" => &[1],
        "GroupNormalization" | "InstanceNormalization" => &[1, 2],
        "BatchNormalization" if training => &[1, 2],
        _ => &[],
    };
    let missing = affine.iter().filter(|&&i| cx.opt(i).is_none()).count() as u64;
    let per = (base.unwrap_or(0) + optional).saturating_sub(missing);
    let n = numel(cx.shape(0)?)?;
    Ok(Cost::flops(n.checked_mul(per).ok_or_else(super::overflow)?))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn layer_norm_counts_statistics_and_affine() {
        // [2,128,768] = 196608 elements; 5 (statistics) + 1 (scale) + 1 (bias) = 7 per element.
        let r = run1(
            "LayerNormalization",
            &[f32t(&[2, 128, 768]), f32t(&[768]), f32t(&[768])],
            &[a_int("axis", -1)],
        );
        assert_eq!(r.shape, vec![2, 128, 768]);
        assert_eq!(r.cost.flops, 196_608 * 7);
        assert_eq!(r.outs[1].shape.as_deref(), Some(&[2u64, 128, 1][..]));
    }

    #[test]
    fn norms_without_affine_parameters_cost_their_statistics() {
        // LayerNorm over 48 elements without scale: statistics 5 per element = 240.
        let r = run1(
            "LayerNormalization",
            &[f32t(&[4, 12])],
            &[a_int("axis", -1)],
        );
        assert_eq!(r.cost.flops, 48 * 5);
        // GroupNorm over 200 elements without scale and bias: 5 per element.
        let r = run1(
            "GroupNormalization",
            &[f32t(&[2, 4, 25])],
            &[a_int("num_groups", 2)],
        );
        assert_eq!(r.cost.flops, 200 * 5);
        // BatchNorm in training mode with scale and bias: 7 per element, like GroupNorm's.
        let c = f32t(&[3]);
        let r = run1(
            "BatchNormalization",
            &[f32t(&[2, 3, 4, 5]), c.clone(), c.clone(), c.clone(), c],
            &[a_int("training_mode", 1)],
        );
        assert_eq!(r.cost.flops, 120 * 7);
    }

    #[test]
    fn batch_norm_in_training_mode_returns_running_statistics() {
        // ONNX's test_batchnorm_example_training_mode: x [2, 3, 4, 5] → Y, mean [3], var [3].
        let c = f32t(&[3]);
        let r = run1(
            "BatchNormalization",
            &[f32t(&[2, 3, 4, 5]), c.clone(), c.clone(), c.clone(), c],
            &[a_int("training_mode", 1)],
        );
        assert_eq!(r.outs.len(), 3);
        assert_eq!(r.outs[1].shape.as_deref(), Some(&[3u64][..]));
        assert_eq!(r.outs[2].shape.as_deref(), Some(&[3u64][..]));
    }

    #[test]
    fn batch_norm_and_softmax() {
        let x = f32t(&[1, 64, 56, 56]);
        let c = f32t(&[64]);
        let r = run1(
            "BatchNormalization",
            &[x, c.clone(), c.clone(), c.clone(), c],
            &[],
        );
        assert_eq!(r.cost.flops, 2 * 64 * 56 * 56);
        let r = run1("Softmax", &[f32t(&[1, 12, 128, 128])], &[a_int("axis", -1)]);
        assert_eq!(r.cost.flops, 5 * 12 * 128 * 128);
        let e = run_err(
            "BatchNormalization",
            &[f32t(&[1, 3, 4, 4]), f32t(&[4])],
            &[],
        );
        assert!(e.contains("channels"), "{e}");
    }
}
