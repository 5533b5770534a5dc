//! Quantized family: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger,
//! ConvInteger, QLinearMatMul, QLinearConv. See `docs/counting.md`, "Quantized operators".
//!
//! Integer products are multiply-accumulates like float ones: the MACs of MatMulInteger and
//! QLinearMatMul are those of MatMul on the same shapes, ConvInteger and QLinearConv those of
//! Conv. (De)quantization costs 2 operations per element (scale and zero point); requantizing
//! the output of a QLinear op costs 2 per output element.

use super::{conv, matmul, numel, Cost, Ctx, OpDef, OpError, Tensor};
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
        _ => return None,
    })
}

/// Runs another op's shape rule on a selection of this node's inputs.
fn via(cx: &Ctx, pick: &[usize], op: &str) -> Result<Vec<Tensor>, OpError> {
    let def = super::lookup("", op).ok_or(OpError::Unknown)?;
    let sub = cx.select(pick);
    (def.infer)(&sub)
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
    let sub = cx.select(pick);
    let base = match op {
        "Conv" => (conv::lookup("Conv").ok_or(OpError::Unknown)?.cost)(&sub, outs)?,
        _ => (matmul::lookup("MatMul").ok_or(OpError::Unknown)?.cost)(&sub, outs)?,
    };
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
}
