//! ONNX Runtime's quantized contrib operators: MatMulNBits, MatMulInteger16,
//! MatMulIntegerToFloat, DynamicQuantizeMatMul, DynamicQuantizeLSTM and GatherBlockQuantized.
//! See `docs/counting.md`, "ONNX Runtime fused operators".
//!
//! Each counts as the ops it replaces in ONNX Runtime's quantized graphs: integer products are
//! MACs like float ones (`docs/counting.md`, "Quantized operators"); rescaling an int32
//! accumulator to float is 1 FLOP per output element (the `Mul` by `a_scale · b_scale`), a bias
//! 1 more; quantizing an activation at run time costs as DynamicQuantizeLinear (4 per
//! element); dequantizing a block-quantized weight or table costs 2 per element (scale and
//! zero point, as DequantizeLinear).

use super::super::matmul::matmul_dims;
use super::super::{axis, invalid, mul, numel, overflow, required_int};
use super::super::{Cost, Ctx, OpDef, OpError, Shape, Tensor};
use crate::graph::DType;

/// Rules for the ops of this file.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "MatMulNBits" => OpDef {
            infer: infer_nbits,
            cost: cost_nbits,
        },
        "MatMulInteger16" => OpDef {
            infer: infer_integer16,
            cost: |cx, _| cost_matmul(cx, 0, 0),
        },
        // A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias.
        "MatMulIntegerToFloat" => OpDef {
            infer: |cx| infer_matmul(cx, cx.dtype(2)?),
            cost: |cx, _| cost_matmul(cx, 0, 1 + u64::from(cx.opt(6).is_some())),
        },
        // A (float), B, b_scale, b_zero_point, bias.
        "DynamicQuantizeMatMul" => OpDef {
            infer: |cx| infer_matmul(cx, cx.dtype(0)?),
            cost: |cx, _| cost_matmul(cx, 4, 1 + u64::from(cx.opt(4).is_some())),
        },
        "DynamicQuantizeLSTM" => OpDef {
            infer: |cx| as_lstm(cx, |def, sub| (def.infer)(sub)),
            cost: |cx, outs| as_lstm(cx, |def, sub| (def.cost)(sub, outs)),
        },
        "GatherBlockQuantized" => OpDef {
            infer: infer_gather_block,
            cost: cost_gather_block,
        },
        _ => return None,
    })
}

// ---- MatMulInteger16, MatMulIntegerToFloat, DynamicQuantizeMatMul ---------------------------

/// MatMul's output shape on inputs 0 and 1, of type `dt`.
fn infer_matmul(cx: &Ctx, dt: DType) -> Result<Vec<Tensor>, OpError> {
    let (out, _) = matmul_dims(cx.shape(0)?, cx.shape(1)?)?;
    Ok(vec![Tensor::new(dt, out)])
}

/// int32, or uint32 when both inputs are uint16 (the spec's T3).
fn infer_integer16(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dt = if cx.dtype(0)? == DType::U16 && cx.dtype(1)? == DType::U16 {
        DType::U32
    } else {
        DType::I32
    };
    infer_matmul(cx, dt)
}

/// MatMul's MACs on inputs 0 and 1, plus `per_a` FLOPs per element of A (quantizing it) and
/// `per_out` per output element (rescaling, bias).
fn cost_matmul(cx: &Ctx, per_a: u64, per_out: u64) -> Result<Cost, OpError> {
    let (out, d) = matmul_dims(cx.shape(0)?, cx.shape(1)?)?;
    let extra = mul(&[cx.numel(0)?, per_a])?
        .checked_add(mul(&[numel(&out)?, per_out])?)
        .ok_or_else(overflow)?;
    Cost::products(mul(&d)?, extra)
}

// ---- MatMulNBits -----------------------------------------------------------------------------

/// A positive integer attribute that the spec requires.
fn positive(cx: &Ctx, name: &str) -> Result<u64, OpError> {
    let v = required_int(cx.node, name)?;
    match u64::try_from(v) {
        Ok(v) if v >= 1 => Ok(v),
        _ => invalid(format!("{name} {v} must be ≥ 1")),
    }
}

/// (output shape, rows of A, K, N). Inputs: A `[…, K]`, B (packed `[N, k_blocks, blob]`),
/// scales, zero_points, g_idx, bias `[N]`; attributes K, N, bits, block_size.
fn nbits_dims(cx: &Ctx) -> Result<(Shape, u64, u64, u64), OpError> {
    let (k, n) = (positive(cx, "K")?, positive(cx, "N")?);
    positive(cx, "block_size")?;
    let a = cx.shape(0)?;
    let Some((&last, lead)) = a.split_last() else {
        return invalid("A must have rank ≥ 1");
    };
    if last != k {
        return invalid(format!("A {a:?} does not end in K = {k}"));
    }
    // The quantizer's layout (a prepacked weight has its execution provider's own).
    if let Some(b) = cx.opt(1).and_then(|t| t.shape.as_deref()) {
        if cx.node.attr_int("weight_prepacked", 0) == 0 && b.len() == 3 && b[0] != n {
            return invalid(format!("B {b:?} does not hold N = {n} rows"));
        }
    }
    let mut out = lead.to_vec();
    out.push(n);
    Ok((out, numel(lead)?, k, n))
}

fn infer_nbits(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (out, ..) = nbits_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

/// MACs = rows · K · N; FLOPs = 2 · MACs + 2 · K · N (dequantizing B) + rows · N with a bias.
fn cost_nbits(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (_, rows, k, n) = nbits_dims(cx)?;
    let bias = if cx.opt(5).is_some() {
        mul(&[rows, n])?
    } else {
        0
    };
    let dequant = mul(&[k, n, 2])?;
    Cost::products(
        mul(&[rows, k, n])?,
        dequant.checked_add(bias).ok_or_else(overflow)?,
    )
}

// ---- DynamicQuantizeLSTM ---------------------------------------------------------------------

/// `[D, a, b]` → `[D, b, a]`; other ranks unchanged (the LSTM rule refuses them).
fn swap_last(t: &Tensor) -> Tensor {
    let shape = t.shape.as_ref().map(|s| {
        let mut s = s.clone();
        if s.len() == 3 {
            s.swap(1, 2);
        }
        s
    });
    Tensor {
        dtype: t.dtype,
        shape,
        value: None,
        seq: None,
    }
}

/// Runs `f` with the node seen as ONNX's LSTM: X, W, R, B, sequence_lens, initial_h,
/// initial_c, P, with W `[D, I, 4H]` and R `[D, H, 4H]` transposed to LSTM's `[D, 4H, I]` and
/// `[D, 4H, H]`. The scales and zero points (inputs 8 to 11) are left out.
fn as_lstm<T>(cx: &Ctx, f: impl FnOnce(&OpDef, &Ctx) -> Result<T, OpError>) -> Result<T, OpError> {
    let def = super::super::lookup("", "LSTM").ok_or(OpError::Unknown)?;
    let mut node = cx.node.clone();
    node.op_type = "LSTM".into();
    node.domain = String::new();
    let w = swap_last(cx.input(1)?);
    let r = swap_last(cx.input(2)?);
    let mut inputs: Vec<Option<&Tensor>> = vec![cx.opt(0), Some(&w), Some(&r)];
    inputs.extend((3..8).map(|i| cx.opt(i)));
    let sub = Ctx {
        node: &node,
        inputs,
        ..cx.select(&[])
    };
    f(&def, &sub)
}

// ---- GatherBlockQuantized --------------------------------------------------------------------

/// Output shape: data's logical shape (a uint8 table packs 8 / bits values per byte along its
/// last axis) with the `gather_axis` replaced by the indices' shape.
fn gather_block_shape(cx: &Ctx) -> Result<Shape, OpError> {
    let (data, idx) = (cx.shape(0)?, cx.shape(1)?);
    if data.is_empty() {
        return invalid("data must have rank ≥ 1");
    }
    let mut logical = data.to_vec();
    if cx.dtype(0)? == DType::U8 {
        let bits = cx.node.attr_int("bits", 4);
        let per_byte = match bits {
            2 => 4,
            4 => 2,
            8 => 1,
            _ => return invalid(format!("bits {bits} must be 2, 4 or 8")),
        };
        if let Some(l) = logical.last_mut() {
            *l = l.checked_mul(per_byte).ok_or_else(overflow)?;
        }
    }
    let g = axis(cx.node.attr_int("gather_axis", 0), logical.len())?;
    axis(cx.node.attr_int("quantize_axis", 1), logical.len())?;
    let mut out = logical[..g].to_vec();
    out.extend_from_slice(idx);
    out.extend_from_slice(&logical[g + 1..]);
    Ok(out)
}

/// Of the scales' type (the spec's T2).
fn infer_gather_block(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(cx.dtype(2)?, gather_block_shape(cx)?)])
}

/// A gather (0) then the dequantization of what it gathered: 2 per output element.
fn cost_gather_block(_: &Ctx, outs: &[Tensor]) -> Result<Cost, OpError> {
    let n = numel(outs[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    Ok(Cost::flops(mul(&[n, 2])?))
}
