//! Assorted operators: sampling (GridSample, RoiAlign), LRN, Det, CumProd, bit
//! reinterpretation (BitCast, BitwiseNot), data movement (ReverseSequence, MaxUnpool,
//! CenterCropPad, Col2Im), random generators (RandomUniform/Normal(Like), Bernoulli,
//! Multinomial), TfIdfVectorizer, and the optimizers of the `ai.onnx.preview.training` domain
//! (Adam, Adagrad, Momentum). See `docs/counting.md`, "Other operators".
//!
//! GridSample interpolates as Resize does (linear 3·(2^d − 1), cubic 7·(4^d − 1)/3 FLOPs per
//! output element, nearest 0); RoiAlign samples each output bin at a grid of bilinear points
//! (9 each) plus 1 to accumulate each and, for `avg`, 1 division per bin; LRN costs size + 5
//! per element; Det an LU elimination per matrix; CumProd 1 per element (as CumSum); random
//! generators 1 per element (Bernoulli 2); data movement and bit reinterpretation 0.

use std::sync::Arc;

mod image;

use super::conv::{effective_kernel, window_attrs};
use super::fold::foldable;
use super::{axis, f64_to_u64, invalid, mul, numel, Cost, Ctx, OpDef, OpError, Tensor, Values};
use crate::graph::{Attr, DType};

/// Rules for the default-domain ops of this file.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "GridSample" => OpDef {
            infer: infer_grid_sample,
            cost: cost_grid_sample,
        },
        "RoiAlign" => OpDef {
            infer: infer_roi_align,
            cost: cost_roi_align,
        },
        "MaxRoiPool" => OpDef {
            infer: image::infer_max_roi_pool,
            cost: image::cost_max_roi_pool,
        },
        "ImageDecoder" => OpDef {
            infer: image::infer_image_decoder,
            cost: super::no_cost,
        },
        "LRN" => OpDef {
            infer: same_shape,
            cost: cost_lrn,
        },
        "Det" => OpDef {
            infer: infer_det,
            cost: cost_det,
        },
        "CumProd" => OpDef {
            infer: infer_cumprod,
            cost: cost_per_float_input,
        },
        "BitCast" => OpDef {
            infer: infer_bitcast,
            cost: super::no_cost,
        },
        "BitwiseNot" => OpDef {
            infer: infer_bitwise_not,
            cost: super::no_cost,
        },
        "ReverseSequence" => OpDef {
            infer: infer_reverse_sequence,
            cost: super::no_cost,
        },
        "MaxUnpool" => OpDef {
            infer: infer_max_unpool,
            cost: super::no_cost,
        },
        "CenterCropPad" => OpDef {
            infer: infer_center_crop_pad,
            cost: super::no_cost,
        },
        "Col2Im" => OpDef {
            infer: infer_col2im,
            cost: cost_per_float_input,
        },
        "RandomUniform" | "RandomNormal" => OpDef {
            infer: infer_random,
            cost: cost_random,
        },
        "RandomUniformLike" | "RandomNormalLike" | "Bernoulli" => OpDef {
            infer: infer_random_like,
            cost: cost_random,
        },
        "Multinomial" => OpDef {
            infer: infer_multinomial,
            cost: cost_multinomial,
        },
        "TfIdfVectorizer" => OpDef {
            infer: infer_tfidf,
            cost: cost_tfidf,
        },
        _ => return None,
    })
}

/// Rules for the `ai.onnx.preview.training` domain.
pub fn lookup_training(op: &str) -> Option<OpDef> {
    optimizer(op).map(|_| OpDef {
        infer: infer_optimizer,
        cost: cost_optimizer,
    })
}

/// A type named by an integer attribute (an ONNX `DataType` code), if the attribute is given.
fn dtype_attr(cx: &Ctx, name: &str) -> Result<Option<DType>, OpError> {
    match cx.node.attrs.get(name) {
        Some(Attr::Int(code)) => Ok(Some(DType::from_onnx(
            i32::try_from(*code)
                .map_err(|_| OpError::Invalid(format!("{name} {code} is not a data type")))?,
        ))),
        _ => Ok(None),
    }
}

fn same_shape(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(cx.dtype(0)?, cx.shape(0)?.to_vec())])
}

/// One FLOP per input element on floats (CumProd's products, Col2Im's accumulation).
fn cost_per_float_input(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    if !cx.dtype(0)?.is_float() {
        return Ok(Cost::default());
    }
    Ok(Cost::flops(cx.numel(0)?))
}

/// Elements of output 0.
fn out_numel(out: &[Tensor]) -> Result<u64, OpError> {
    numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)
}

// ---------------------------------------------------------------------------------------------
// GridSample, RoiAlign, LRN, Det

/// X `[N, C, d1…dr]`, grid `[N, D1…Dr, r]` → Y `[N, C, D1…Dr]`.
fn infer_grid_sample(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (x, g) = (cx.shape(0)?, cx.shape(1)?);
    if x.len() < 3 {
        return invalid(format!(
            "input {x:?} has rank < 3 (need [N, C, spatial...])"
        ));
    }
    let r = x.len() - 2;
    if g.len() != x.len() || g[r + 1] != r as u64 || g[0] != x[0] {
        return invalid(format!(
            "grid {g:?} does not fit input {x:?} (expected [{}, {r} output dims, {r}])",
            x[0]
        ));
    }
    let mut out = x[..2].to_vec();
    out.extend_from_slice(&g[1..=r]);
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_grid_sample(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let mode = cx.node.attr_str("mode").unwrap_or("linear");
    let per = super::pool::interpolation_flops(mode, cx.rank(0)? - 2)?;
    Ok(Cost::flops(mul(&[out_numel(out)?, per])?))
}

/// X `[N, C, H, W]`, rois `[R, 4]`, batch_indices `[R]` → `[R, C, output_height, output_width]`.
fn infer_roi_align(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (x, rois, idx) = (cx.shape(0)?, cx.shape(1)?, cx.shape(2)?);
    if x.len() != 4 {
        return invalid(format!("input {x:?} is not [N, C, H, W]"));
    }
    if rois.len() != 2 || rois[1] != 4 || idx != [rois[0]] {
        return invalid(format!(
            "rois {rois:?} and batch_indices {idx:?} are not [R, 4] and [R]"
        ));
    }
    let (oh, ow) = roi_output(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![rois[0], x[1], oh, ow])])
}

fn roi_output(cx: &Ctx) -> Result<(u64, u64), OpError> {
    let size = |name| {
        let v = cx.node.attr_int(name, 1);
        match u64::try_from(v) {
            Ok(u) if u >= 1 => Ok(u),
            _ => invalid(format!("{name} {v} must be ≥ 1")),
        }
    };
    Ok((size("output_height")?, size("output_width")?))
}

/// Per output bin: `s` bilinear samples at 9 FLOPs each (Resize's 3·(2² − 1)) plus 1 to
/// accumulate each (an add, or a max), and for `avg` 1 division. With `sampling_ratio` ≥ 1,
/// s = ratio²; with 0 it is adaptive, `ceil(roi_h / output_height) · ceil(roi_w /
/// output_width)` per RoI; RoIs known only at run time are counted at their largest, the whole
/// feature map (`ceil(H / output_height) · ceil(W / output_width)`), with a warning.
fn cost_roi_align(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let (oh, ow) = roi_output(cx)?;
    let avg = u64::from(cx.node.attr_str("mode").unwrap_or("avg") != "max");
    let bins = mul(&[x[1], oh, ow])?; // per RoI
    let ratio = cx.node.attr_int("sampling_ratio", 0);
    let samples: u64 = if ratio > 0 {
        let r = ratio.unsigned_abs();
        mul(&[out[0].shape.as_ref().map_or(0, |s| s[0]), r, r])?
    } else if cx.opt(1).is_some_and(|t| t.value.is_none()) {
        let rois = out[0].shape.as_ref().map_or(0, |s| s[0]);
        let per = mul(&[x[2].div_ceil(oh), x[3].div_ceil(ow)])?;
        cx.warn(format!(
            "the RoIs are known only at run time: each counted at the whole feature map \
             ({per} samples per bin at most)"
        ));
        mul(&[rois, per])?
    } else {
        let v = cx.values(1)?;
        let scale = f64::from(cx.node.attr_float("spatial_scale", 1.0));
        let half_pixel = cx.opset >= 16
            && cx
                .node
                .attr_str("coordinate_transformation_mode")
                .unwrap_or("half_pixel")
                == "half_pixel";
        let rois = v.len() / 4;
        let mut total = 0u64;
        for i in 0..rois {
            let side = |lo: usize, hi: usize, n: u64| -> Result<u64, OpError> {
                let mut extent = (v.f(4 * i + hi) - v.f(4 * i + lo)) * scale;
                if !half_pixel {
                    extent = extent.max(1.0);
                }
                f64_to_u64((extent / n as f64).ceil().max(0.0))
            };
            let g = mul(&[side(1, 3, oh)?, side(0, 2, ow)?])?;
            total = total.checked_add(g).ok_or_else(super::overflow)?;
        }
        total
    };
    // Σ over RoIs of bins · (s · 10 + avg).
    let rois = out[0].shape.as_ref().map_or(0, |s| s[0]);
    let f = mul(&[bins, samples, 10])?
        .checked_add(mul(&[bins, rois, avg])?)
        .ok_or_else(super::overflow)?;
    Ok(Cost::flops(f))
}

/// Square (1), windowed sum over `size` channels (size), scale by alpha/size (1), add bias
/// (1), power (1), divide (1): size + 5 per element.
fn cost_lrn(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let size = super::required_int(cx.node, "size")?;
    let size = match u64::try_from(size) {
        Ok(s) if s >= 1 => s,
        _ => return invalid(format!("size {size} must be ≥ 1")),
    };
    if !cx.dtype(0)?.is_float() {
        return Ok(Cost::default());
    }
    Ok(Cost::flops(mul(&[cx.numel(0)?, size + 5])?))
}

/// `[*, M, M]` → `[*]`.
fn infer_det(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let r = x.len();
    if r < 2 || x[r - 1] != x[r - 2] {
        return invalid(format!("input {x:?} is not a batch of square matrices"));
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, x[..r - 2].to_vec())])
}

/// Gaussian elimination of an M × M matrix: at step k, for each of the m = M − 1 − k rows
/// below, one division for the factor and 2 FLOPs for each of the m entries to its right:
/// Σ_{m=1}^{M−1} m·(2m + 1) = (M − 1)·M·(2M − 1)/3 + (M − 1)·M/2; then the product of the M
/// pivots (M). Per matrix.
pub(crate) fn det_flops(m: u64) -> Result<u64, OpError> {
    if m == 0 {
        return Ok(0);
    }
    let m = u128::from(m);
    let f = (m - 1) * m * (2 * m - 1) / 3 + (m - 1) * m / 2 + m;
    u64::try_from(f).map_err(|_| super::overflow())
}

fn cost_det(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let m = x[x.len() - 1];
    Ok(Cost::flops(mul(&[out_numel(out)?, det_flops(m)?])?))
}

// ---------------------------------------------------------------------------------------------
// CumProd, BitCast, BitwiseNot

fn infer_cumprod(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    super::reduce::infer_scan(cx, |v, s, a, e, r| {
        foldable(s)
            .then(|| super::reduce::fold_scan(v, s, a, e, r, 1, i64::checked_mul))
            .flatten()
    })
}

/// The input's shape, of the type `to` names; both types must have the same width.
fn infer_bitcast(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let to = dtype_attr(cx, "to")?
        .ok_or_else(|| OpError::Invalid("the required attribute 'to' is missing".into()))?;
    let from = cx.dtype(0)?;
    let (a, b) = (from.bits(), to.bits());
    if from == DType::Str || to == DType::Str || (a != 0 && b != 0 && a != b) {
        return invalid(format!(
            "cannot reinterpret {from} ({a} bits) as {to} ({b} bits)"
        ));
    }
    Ok(vec![Tensor::new(to, cx.shape(0)?.to_vec())])
}

/// Same shape and type; small signed integer tensors are folded.
fn infer_bitwise_not(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let t = cx.input(0)?;
    let signed = matches!(t.dtype, DType::I8 | DType::I16 | DType::I32 | DType::I64);
    let value = match t.value.as_deref() {
        Some(Values::Int(v)) if signed => {
            Some(Arc::new(Values::Int(v.iter().map(|x| !x).collect())))
        }
        _ => None,
    };
    Ok(vec![Tensor {
        dtype: t.dtype,
        shape: Some(cx.shape(0)?.to_vec()),
        value,
        seq: None,
    }])
}

// ---------------------------------------------------------------------------------------------
// Data movement: ReverseSequence, MaxUnpool, CenterCropPad, Col2Im

fn infer_reverse_sequence(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let (t, b) = (
        cx.node.attr_int("time_axis", 0),
        cx.node.attr_int("batch_axis", 1),
    );
    if x.len() < 2 || !matches!((t, b), (0, 1) | (1, 0)) {
        return invalid(format!(
            "time_axis {t} and batch_axis {b} must be 0 and 1 of an input of rank ≥ 2 ({x:?})"
        ));
    }
    let lens = cx.shape(1)?;
    let bi = usize::from(b == 1);
    if lens != [x[bi]] {
        return invalid(format!(
            "sequence_lens {lens:?} is not [batch] = [{}]",
            x[bi]
        ));
    }
    same_shape(cx)
}

/// `[N, C, (in − 1)·stride + kernel − pad_begin − pad_end …]`, or input 2's values.
fn infer_max_unpool(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    if x.len() < 3 {
        return invalid(format!("input {x:?} has rank < 3"));
    }
    let sp = x.len() - 2;
    let dt = cx.dtype(0)?;
    if cx.opt(2).is_some() {
        let s = cx.ints(2)?;
        if s.len() != x.len() || s.iter().any(|&v| v < 0) {
            return invalid(format!("output_shape {s:?} does not fit input {x:?}"));
        }
        return Ok(vec![Tensor::new(
            dt,
            s.iter().map(|v| v.unsigned_abs()).collect(),
        )]);
    }
    let k = super::pool::kernel_shape(cx, x)?;
    let w = window_attrs(cx, sp)?;
    let mut out = x[..2].to_vec();
    for i in 0..sp {
        let full = x[2 + i]
            .checked_sub(1)
            .and_then(|v| v.checked_mul(w.strides[i]))
            .and_then(|v| v.checked_add(k[i]))
            .ok_or_else(super::overflow)?;
        let Some(o) = full.checked_sub(w.pads[i] + w.pads[sp + i]) else {
            return invalid(format!("pads leave a negative output on axis {i}"));
        };
        out.push(o);
    }
    Ok(vec![Tensor::new(dt, out)])
}

/// The input with each of `axes` (default all) set to the size input 1 gives.
fn infer_center_crop_pad(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let sizes = cx.ints(1)?;
    let axes: Vec<usize> = match cx.node.attr_ints("axes") {
        Some(a) => a
            .iter()
            .map(|&v| axis(v, x.len()))
            .collect::<Result<_, _>>()?,
        None => (0..x.len()).collect(),
    };
    if sizes.len() != axes.len() || sizes.iter().any(|&v| v < 0) {
        return invalid(format!(
            "shape {sizes:?} does not fit axes {axes:?} of input {x:?}"
        ));
    }
    let mut out = x.to_vec();
    for (&a, &s) in axes.iter().zip(&sizes) {
        out[a] = s.unsigned_abs();
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

/// Input `[N, C·Π(block), L]`, image_shape and block_shape values → `[N, C, image…]`; L must
/// be the number of block positions.
fn infer_col2im(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let (img, blk) = (cx.ints(1)?, cx.ints(2)?);
    if x.len() != 3 {
        return invalid(format!("input {x:?} is not [N, C·Π(block), L]"));
    }
    let sp = img.len();
    if sp == 0 || blk.len() != sp || img.iter().chain(&blk).any(|&v| v < 1) {
        return invalid(format!(
            "image_shape {img:?} and block_shape {blk:?} are not positive and of one length"
        ));
    }
    let w = window_attrs(cx, sp)?;
    let (img, blk): (Vec<u64>, Vec<u64>) = (
        img.iter().map(|v| v.unsigned_abs()).collect(),
        blk.iter().map(|v| v.unsigned_abs()).collect(),
    );
    let block = mul(&blk)?;
    if block == 0 || x[1] % block != 0 {
        return invalid(format!(
            "input channels {} are not a multiple of Π(block_shape) = {block}",
            x[1]
        ));
    }
    let mut blocks = 1u64;
    for i in 0..sp {
        let eff = effective_kernel(blk[i], w.dilations[i])?;
        let padded = img[i]
            .checked_add(w.pads[i])
            .and_then(|v| v.checked_add(w.pads[sp + i]))
            .ok_or_else(super::overflow)?;
        let Some(room) = padded.checked_sub(eff) else {
            return invalid(format!(
                "block {} (dilated {eff}) is larger than the padded image {padded} on axis {i}",
                blk[i]
            ));
        };
        blocks = mul(&[blocks, room / w.strides[i] + 1])?;
    }
    if blocks != x[2] {
        return invalid(format!(
            "input has {} blocks, the image and block shapes give {blocks}",
            x[2]
        ));
    }
    let mut out = vec![x[0], x[1] / block];
    out.extend(img);
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

// ---------------------------------------------------------------------------------------------
// Random generators, TfIdfVectorizer

/// The `shape` attribute, of the type `dtype` names (float by default).
fn infer_random(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let s = cx
        .node
        .attr_ints("shape")
        .ok_or_else(|| OpError::Invalid("the required attribute 'shape' is missing".into()))?;
    if s.iter().any(|&v| v < 0) {
        return invalid(format!("shape {s:?} has a negative dim"));
    }
    let dt = dtype_attr(cx, "dtype")?.unwrap_or(DType::F32);
    Ok(vec![Tensor::new(
        dt,
        s.iter().map(|v| v.unsigned_abs()).collect(),
    )])
}

/// The input's shape, of the type `dtype` names (the input's without it).
fn infer_random_like(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dt = match dtype_attr(cx, "dtype")? {
        Some(d) => d,
        None => cx.dtype(0)?,
    };
    Ok(vec![Tensor::new(dt, cx.shape(0)?.to_vec())])
}

/// 1 per generated element (a draw, scaled and shifted); Bernoulli 2 (a draw and a comparison).
fn cost_random(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let per = if cx.node.op_type == "Bernoulli" { 2 } else { 1 };
    Ok(Cost::flops(mul(&[out_numel(out)?, per])?))
}

/// `[batch, classes]` → `[batch, sample_size]`, int32 unless `dtype` says otherwise.
fn infer_multinomial(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    if x.len() != 2 {
        return invalid(format!("input {x:?} is not [batch, classes]"));
    }
    let s = cx.node.attr_int("sample_size", 1);
    let Ok(s) = u64::try_from(s) else {
        return invalid(format!("sample_size {s} is negative"));
    };
    let dt = dtype_attr(cx, "dtype")?.unwrap_or(DType::I32);
    Ok(vec![Tensor::new(dt, vec![x[0], s])])
}

/// The cumulative distribution of each row (an exp and an add per input element), then per
/// sample a draw and a binary search over the C classes (1 + ⌈log2 C⌉).
fn cost_multinomial(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let c = cx.shape(0)?[1];
    let search = if c <= 1 {
        0
    } else {
        u64::from(64 - (c - 1).leading_zeros())
    };
    let f = mul(&[cx.numel(0)?, 2])?
        .checked_add(mul(&[out_numel(out)?, 1 + search])?)
        .ok_or_else(super::overflow)?;
    Ok(Cost::flops(f))
}

/// `[C]` → `[max(ngram_indexes) + 1]`, `[N, C]` → `[N, max + 1]`, float.
fn infer_tfidf(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let idx = cx.node.attr_ints("ngram_indexes").ok_or_else(|| {
        OpError::Invalid("the required attribute 'ngram_indexes' is missing".into())
    })?;
    let width = match idx.iter().max() {
        Some(&m) if m >= 0 => m.unsigned_abs() + 1,
        Some(&m) => return invalid(format!("ngram_indexes has a negative index {m}")),
        None => 0,
    };
    let out = match x.len() {
        1 => vec![width],
        2 => vec![x[0], width],
        _ => return invalid(format!("input {x:?} is not [C] or [N, C]")),
    };
    Ok(vec![Tensor::new(DType::F32, out)])
}

/// Counting n-grams is integer work (0); IDF and TFIDF scale each output by its weight (1).
fn cost_tfidf(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    match cx.node.attr_str("mode").unwrap_or("TF") {
        "TF" => Ok(Cost::default()),
        _ => Ok(Cost::flops(out_numel(out)?)),
    }
}

// ---------------------------------------------------------------------------------------------
// ai.onnx.preview.training: Adam, Adagrad, Momentum

/// Per optimized tensor: (input tensors: X, G and the states; output tensors).
fn optimizer(op: &str) -> Option<(usize, usize)> {
    match op {
        "Adagrad" | "Momentum" => Some((3, 2)), // X, G, H|V → X_new, H_new|V_new
        "Adam" => Some((4, 3)),                 // X, G, V, H → X_new, V_new, H_new
        _ => None,
    }
}

/// Inputs R, T, then X₁…Xₙ, G₁…Gₙ and the states, each group n long; outputs X₁_new…Xₙ_new
/// then the new states, each of the shape and type of its input.
fn infer_optimizer(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (k, k_out) = optimizer(&cx.node.op_type).ok_or(OpError::Unknown)?;
    let m = cx.inputs.len().saturating_sub(2);
    if m == 0 || m % k != 0 {
        return invalid(format!(
            "{} tensor inputs after R and T are not {k} groups of equal length",
            m
        ));
    }
    let n = m / k;
    (0..k_out * n)
        .map(|j| {
            let (g, i) = (j / n, j % n);
            let group = if g == 0 { 0 } else { g + 1 }; // outputs skip the gradients
            let at = 2 + group * n + i;
            Ok(Tensor::new(cx.dtype(at)?, cx.shape(at)?.to_vec()))
        })
        .collect()
}

/// FLOPs per element of each optimized tensor (scalar factors such as Adam's bias correction
/// are per tensor and ignored). All: regularized gradient `λ·X + G` (2). Adagrad: `H + G²` (2),
/// `√H + ε` (2), `X − r·G/√H` (3) = 9. Momentum: `α·V + β·G` (3), `X − R·V` (2) = 7;
/// Nesterov `X − R·(G + α·V)` (4) = 9. Adam: `α·V + (1 − α)·G` (3), `β·H + (1 − β)·G²` (4),
/// `√H + ε` (2), `X − R·V/√H` (3), post-scaling (1) = 15.
fn cost_optimizer(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let per = match cx.node.op_type.as_str() {
        "Adagrad" => 9,
        "Momentum" if cx.node.attr_str("mode") == Some("nesterov") => 9,
        "Momentum" => 7,
        _ => 15,
    };
    let (k, _) = optimizer(&cx.node.op_type).ok_or(OpError::Unknown)?;
    let n = cx.inputs.len().saturating_sub(2) / k;
    let mut total = 0u64;
    for i in 0..n {
        total = total
            .checked_add(mul(&[cx.numel(2 + i)?, per])?)
            .ok_or_else(super::overflow)?;
    }
    Ok(Cost::flops(total))
}

#[cfg(test)]
mod tests;
