//! MaxRoiPool and ImageDecoder.
//!
//! MaxRoiPool: each RoI's region of the feature map is max-pooled into a fixed grid, one
//! comparison per pixel of the region and channel; the regions are data, so RoIs known only
//! at run time are counted at their largest (the whole map). ImageDecoder: the image's height
//! and width are in the encoded bytes, run-time sizes `<node>.d0`, `<node>.d1`; decoding is
//! integer work, 0 FLOPs (as string operators).

use super::super::{data_dim, f64_to_u64, invalid, mul, Cost, Ctx, OpError, Tensor};
use crate::graph::DType;

/// `pooled_shape` [ph, pw], required.
fn pooled(cx: &Ctx) -> Result<(u64, u64), OpError> {
    match cx.node.attr_ints("pooled_shape") {
        Some(&[h, w]) if h >= 1 && w >= 1 => Ok((h.unsigned_abs(), w.unsigned_abs())),
        Some(p) => invalid(format!("pooled_shape {p:?} is not two sizes ≥ 1")),
        None => invalid("the required attribute 'pooled_shape' is missing"),
    }
}

/// X `[N, C, H, W]`, rois `[R, 5]` (batch index, x1, y1, x2, y2) → `[R, C, ph, pw]`.
pub(super) fn infer_max_roi_pool(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (x, rois) = (cx.shape(0)?, cx.shape(1)?);
    if x.len() != 4 {
        return invalid(format!("input {x:?} is not [N, C, H, W]"));
    }
    if rois.len() != 2 || rois[1] != 5 {
        return invalid(format!("rois {rois:?} is not [R, 5]"));
    }
    let (ph, pw) = pooled(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![rois[0], x[1], ph, pw])])
}

/// One comparison per channel and pixel of each RoI's region: `round(x2·s) − round(x1·s) + 1`
/// by the same in y (ONNX Runtime's reading), clamped to the map; the whole map when the RoIs
/// are known only at run time.
pub(super) fn cost_max_roi_pool(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let r = cx.shape(1)?.first().copied().unwrap_or(0);
    let (c, h, w) = (x[1], x[2], x[3]);
    let Some(v) = cx.opt(1).and_then(|t| t.value.as_deref()) else {
        cx.warn("the RoIs are known only at run time: each counted at the whole feature map");
        return Ok(Cost::flops(mul(&[r, c, h, w])?));
    };
    let s = f64::from(cx.node.attr_float("spatial_scale", 1.0));
    let side = |lo: f64, hi: f64, n: u64| -> Result<u64, OpError> {
        let len = ((hi * s).round() - (lo * s).round() + 1.0).max(1.0);
        Ok(f64_to_u64(len)?.min(n))
    };
    let mut pixels = 0u64;
    for i in 0..v.len() / 5 {
        let area = mul(&[
            side(v.f(5 * i + 2), v.f(5 * i + 4), h)?,
            side(v.f(5 * i + 1), v.f(5 * i + 3), w)?,
        ])?;
        pixels = pixels
            .checked_add(area)
            .ok_or_else(super::super::overflow)?;
    }
    Ok(Cost::flops(mul(&[pixels, c])?))
}

/// encoded bytes `[n]` → uint8 `[H, W, C]`: C = 1 for `Grayscale`, 3 for `RGB`/`BGR`.
pub(super) fn infer_image_decoder(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let s = cx.shape(0)?;
    if s.len() != 1 {
        return invalid(format!("the encoded stream {s:?} is not 1-D"));
    }
    let channels = match cx.node.attr_str("pixel_format").unwrap_or("RGB") {
        "RGB" | "BGR" => 3,
        "Grayscale" => 1,
        f => return invalid(format!("pixel_format '{f}' is not RGB, BGR or Grayscale")),
    };
    // Both asked before either is missed, so the profile binds them together.
    let (hh, ww) = (data_dim(cx, "d0", None), data_dim(cx, "d1", None));
    Ok(vec![Tensor::new(DType::U8, vec![hh?, ww?, channels])])
}
