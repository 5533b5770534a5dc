//! Quantized family: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
//! ConvInteger, QLinearMatMul, QLinearConv. See `docs/counting.md`, "Quantized operators".
//!
//! Integer products are multiply-accumulates like float ones: the MACs of MatMulInteger and
//! QLinearMatMul are those of MatMul on the same shapes, ConvInteger and QLinearConv those of
//! Conv. (De)quantization costs 2 operations per element (scale and zero point); requantizing
//! the output of a QLinear op costs 2 per output element.

use super::{numel, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::DType;

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "QuantizeLinear" | "DequantizeLinear" => OpDef {
            infer: infer_qdq,
            cost: cost_two_per_element,
        },
        "DynamicQuantizeLinear" => OpDef {
            infer: infer_dynamic,
            cost: cost_dynamic,
        },
        "MatMulInteger" => OpDef {
            infer: |cx| retype(via(cx, &[0, 1], "MatMul")?, DType::I32),
            cost: |cx, outs| cost_via(cx, outs, &[0, 1], "MatMul", 0),
        },
        "ConvInteger" => OpDef {
            infer: |cx| retype(via(cx, &[0, 1], "Conv")?, DType::I32),
            cost: |cx, outs| cost_via(cx, outs, &[0, 1], "Conv", 0),
        },
        "QLinearMatMul" => OpDef {
            infer: |cx| via(cx, &[0, 3], "MatMul"),
            cost: |cx, outs| cost_via(cx, outs, &[0, 3], "MatMul", 2),
        },
        "QLinearConv" => OpDef {
            // Inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias.
            infer: |cx| via(cx, &[0, 3, 8], "Conv"),
            cost: |cx, outs| cost_via(cx, outs, &[0, 3, 8], "Conv", 2),
        },
        // ONNX Runtime's QOperator format (com.microsoft): each is the float op on the
        // quantized tensors, then a requantization (2 per output element).
        // A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp: a float output without y_scale.
        "QGemm" => OpDef {
            infer: |cx| {
                let outs = via(cx, &[0, 3, 6], "Gemm")?;
                match cx.opt(7) {
                    Some(_) => Ok(outs),
                    None => retype(outs, DType::F32),
                }
            },
            cost: |cx, outs| cost_via(cx, outs, &[0, 3, 6], "Gemm", 2 * cx.opt(7).is_some() as u64),
        },
        "QLinearAdd" | "QLinearMul" => OpDef {
            infer: |cx| via(cx, &[0, 3], &cx.node.op_type["QLinear".len()..]),
            cost: |cx, outs| cost_via(cx, outs, &[0, 3], &cx.node.op_type["QLinear".len()..], 2),
        },
        "QLinearSigmoid" | "QLinearLeakyRelu" | "QLinearSoftmax" => OpDef {
            infer: |cx| via(cx, &[0], &cx.node.op_type["QLinear".len()..]),
            cost: |cx, outs| cost_via(cx, outs, &[0], &cx.node.op_type["QLinear".len()..], 2),
        },
        "QLinearAveragePool" | "QLinearGlobalAveragePool" => OpDef {
            infer: |cx| {
                if cx.node.attr_int("channels_last", 0) != 0 {
                    return Err(OpError::Unknown);
                }
                via(cx, &[0], &cx.node.op_type["QLinear".len()..])
            },
            cost: |cx, outs| cost_via(cx, outs, &[0], &cx.node.op_type["QLinear".len()..], 2),
        },
        // condition, X, x_scale, x_zp, Y, y_scale, y_zp, z_scale, z_zp
        "QLinearWhere" => OpDef {
            infer: |cx| via(cx, &[0, 1, 4], "Where"),
            cost: |cx, outs| cost_via(cx, outs, &[0, 1, 4], "Where", 2),
        },
        // Y_scale, Y_zp, then (X, x_scale, x_zp) per input.
        "QLinearConcat" => OpDef {
            infer: |cx| via(cx, &concat_inputs(cx), "Concat"),
            cost: |cx, outs| cost_via(cx, outs, &concat_inputs(cx), "Concat", 2),
        },
        _ => return None,
    })
}

/// The tensors of a QLinearConcat: inputs 2, 5, 8, …
fn concat_inputs(cx: &Ctx) -> Vec<usize> {
    (2..cx.inputs.len()).step_by(3).collect()
}

/// Runs `f` with this node seen as the default-domain `op` on a selection of its inputs (rules
/// read the operator's name: Add's cost is not Mul's). With `as_float` the inputs are seen as
/// float32: a QOperator op computes what the float op computes on the dequantized values.
fn as_op<T>(
    cx: &Ctx,
    pick: &[usize],
    op: &str,
    as_float: bool,
    f: impl FnOnce(&super::OpDef, &Ctx) -> Result<T, OpError>,
) -> Result<T, OpError> {
    let def = super::lookup("", op).ok_or(OpError::Unknown)?;
    let mut node = cx.node.clone();
    node.op_type = op.to_string();
    node.domain = String::new();
    let floats: Vec<Option<Tensor>> = pick
        .iter()
        .map(|&i| {
            cx.opt(i).map(|t| Tensor {
                dtype: if as_float { DType::F32 } else { t.dtype },
                ..t.clone()
            })
        })
        .collect();
    let sub = Ctx {
        node: &node,
        inputs: floats.iter().map(Option::as_ref).collect(),
        ..cx.select(pick)
    };
    f(&def, &sub)
}

/// Runs another op's shape rule on a selection of this node's inputs.
fn via(cx: &Ctx, pick: &[usize], op: &str) -> Result<Vec<Tensor>, OpError> {
    as_op(cx, pick, op, false, |def, sub| (def.infer)(sub))
}

fn retype(mut outs: Vec<Tensor>, dt: DType) -> Result<Vec<Tensor>, OpError> {
    for t in &mut outs {
        t.dtype = dt;
    }
    Ok(outs)
}

/// Another op's cost on a selection of inputs, plus `per_out` FLOPs per output element.
fn cost_via(
    cx: &Ctx,
    outs: &[Tensor],
    pick: &[usize],
    op: &str,
    per_out: u64,
) -> Result<Cost, OpError> {
    let base = as_op(cx, pick, op, true, |def, sub| (def.cost)(sub, outs))?;
    let n = numel(outs[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    let extra = n.checked_mul(per_out).ok_or_else(super::overflow)?;
    Ok(Cost {
        macs: base.macs,
        flops: base.flops.checked_add(extra).ok_or_else(super::overflow)?,
    })
}

fn infer_qdq(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let shape = cx.shape(0)?.to_vec();
    let dt = if cx.node.op_type == "DequantizeLinear" {
        // Output dtype: that of the scale (float32 unless given otherwise).
        cx.opt(1).map(|t| t.dtype).unwrap_or(DType::F32)
    } else {
        match cx.opt(2) {
            Some(zp) => zp.dtype,
            None => {
                let dt = cx.node.attr_int("output_dtype", 2);
                DType::from_onnx(i32::try_from(dt).map_err(|_| {
                    OpError::Invalid(format!("output_dtype {dt} is not a data type"))
                })?)
            }
        }
    };
    Ok(vec![Tensor::new(dt, shape)])
}

fn cost_two_per_element(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(
        cx.numel(0)?.checked_mul(2).ok_or_else(super::overflow)?,
    ))
}

fn infer_dynamic(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let shape = cx.shape(0)?.to_vec();
    Ok(vec![
        Tensor::new(DType::U8, shape),
        Tensor::new(DType::F32, vec![]),
        Tensor::new(DType::U8, vec![]),
    ])
}

fn cost_dynamic(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    // Min and max over the input (2 per element), then scale and shift each element (2).
    Ok(Cost::flops(
        cx.numel(0)?.checked_mul(4).ok_or_else(super::overflow)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::graph::DType;
    use crate::ops::Tensor;

    #[test]
    fn integer_products_count_like_float_ones() {
        let a = Tensor::new(DType::U8, vec![1, 128, 768]);
        let b = Tensor::new(DType::I8, vec![768, 3072]);
        let r = run1("MatMulInteger", &[a.clone(), b.clone()], &[]);
        assert_eq!(r.shape, vec![1, 128, 3072]);
        assert_eq!(r.outs[0].dtype, DType::I32);
        assert_eq!(r.cost.macs, 128 * 768 * 3072);
        let s = f32t(&[]);
        let r = run1(
            "QLinearMatMul",
            &[
                a,
                s.clone(),
                s.clone(),
                b,
                s.clone(),
                s.clone(),
                s.clone(),
                s,
            ],
            &[],
        );
        // 128·3072 outputs requantized at 2 FLOPs each.
        assert_eq!(r.cost.flops, 2 * 128 * 768 * 3072 + 2 * 128 * 3072);
    }

    #[test]
    fn qoperator_ops_are_the_float_op_then_a_requantization() {
        let x = Tensor::new(DType::U8, vec![1, 8, 4, 4]);
        let s = f32t(&[]);
        let z = Tensor::new(DType::U8, vec![]);
        // QLinearAdd: 128 outputs × (1 add + 2 requantize).
        let r = run_dom(
            "com.microsoft",
            "QLinearAdd",
            &[
                x.clone(),
                s.clone(),
                z.clone(),
                x.clone(),
                s.clone(),
                z.clone(),
                s.clone(),
                z.clone(),
            ],
            &[],
        );
        assert_eq!(
            (r.shape.clone(), r.outs[0].dtype),
            (vec![1, 8, 4, 4], DType::U8)
        );
        assert_eq!((r.cost.macs, r.cost.flops), (0, 128 * 3));
        // QLinearGlobalAveragePool: 128 inputs summed + 8 divides, + 2 × 8 requantize.
        let r = run_dom(
            "com.microsoft",
            "QLinearGlobalAveragePool",
            &[x.clone(), s.clone(), z.clone(), s.clone(), z.clone()],
            &[],
        );
        assert_eq!(r.shape, vec![1, 8, 1, 1]);
        assert_eq!(r.cost.flops, 128 + 8 + 16);
        // QLinearConcat of two [1, 8, 4, 4] along channels: 256 outputs × 2.
        let r = run_dom(
            "com.microsoft",
            "QLinearConcat",
            &[
                s.clone(),
                z.clone(),
                x.clone(),
                s.clone(),
                z.clone(),
                x,
                s,
                z,
            ],
            &[("axis".into(), crate::graph::Attr::Int(1))],
        );
        assert_eq!(r.shape, vec![1, 16, 4, 4]);
        assert_eq!(r.cost.flops, 256 * 2);
    }

    #[test]
    fn qgemm_is_a_gemm_with_a_float_output_without_y_scale() {
        let a = Tensor::new(DType::U8, vec![2, 8]);
        let b = Tensor::new(DType::I8, vec![8, 16]);
        let s = f32t(&[]);
        let z = Tensor::new(DType::U8, vec![]);
        // 2·8·16 = 256 MACs; without y_scale the output is float and not requantized.
        let r = run_dom(
            "com.microsoft",
            "QGemm",
            &[a, s.clone(), z.clone(), b, s, z],
            &[],
        );
        assert_eq!(
            (r.shape.clone(), r.outs[0].dtype),
            (vec![2, 16], DType::F32)
        );
        assert_eq!((r.cost.macs, r.cost.flops), (256, 512));
    }
}
