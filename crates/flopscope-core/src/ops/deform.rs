//! Sampling at computed positions: DeformConv and AffineGrid. See `docs/counting.md`,
//! "Convolution" and "Other operators".
//!
//! DeformConv: a Conv's MACs, N · oC · Π(out) · (C / group) · Π(kernel), plus, for each value it
//! samples (N · C · Π(kernel) · Π(out): every input channel at every tap of every output
//! position), a bilinear interpolation of 3 · (2^r − 1) FLOPs (r spatial axes, as Resize) and 1
//! for the mask product when a mask is given; the bias adds N · oC · Π(out).
//! AffineGrid: each of the N · Π(size) grid points is θ·[x, 1]: r · r MACs and r adds.

use super::conv::{window_attrs, window_shape};
use super::{invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "DeformConv" => OpDef {
            infer: infer_deform_conv,
            cost: cost_deform_conv,
        },
        "AffineGrid" => OpDef {
            infer: infer_affine_grid,
            cost: cost_affine_grid,
        },
        _ => return None,
    })
}

/// A count attribute that must be ≥ 1.
fn positive(cx: &Ctx, name: &str) -> Result<u64, OpError> {
    let v = cx.node.attr_int(name, 1);
    match u64::try_from(v) {
        Ok(u) if u >= 1 => Ok(u),
        _ => invalid(format!("{name} {v} must be ≥ 1")),
    }
}

/// Output shape `[N, oC, out…]` and kernel of DeformConv(X, W, offset, B, mask), every input
/// checked against it.
fn deform_dims(cx: &Ctx) -> Result<(Vec<u64>, Vec<u64>), OpError> {
    let (x, w, off) = (cx.shape(0)?, cx.shape(1)?, cx.shape(2)?);
    if x.len() < 3 || w.len() != x.len() {
        return invalid(format!(
            "input {x:?} and weight {w:?} must be [N, C, d…] and [oC, C/group, k…]"
        ));
    }
    let r = x.len() - 2;
    let kernel: Vec<u64> = match cx.node.attr_ints("kernel_shape") {
        Some(k) if k.len() == r => k
            .iter()
            .map(|&v| u64::try_from(v).ok().filter(|&u| u >= 1))
            .collect::<Option<_>>()
            .ok_or_else(|| OpError::Invalid(format!("kernel_shape {k:?} has a size below 1")))?,
        Some(k) => return invalid(format!("kernel_shape {k:?} is not {r} long")),
        None => w[2..].to_vec(),
    };
    let (group, og) = (positive(cx, "group")?, positive(cx, "offset_group")?);
    if w[1].checked_mul(group) != Some(x[1]) || w[0] % group != 0 || x[1] % og != 0 {
        return invalid(format!(
            "input {x:?} and weight {w:?} do not agree with group {group} and offset_group {og}"
        ));
    }
    let mut y = vec![x[0], w[0]];
    y.extend(window_shape(
        cx,
        x,
        &kernel,
        &window_attrs(cx, r)?,
        "NOTSET",
        false,
    )?);
    let taps = mul(&[og, mul(&kernel)?])?;
    let mut want = vec![
        x[0],
        mul(&[taps, u64::try_from(r).map_err(|_| super::overflow())?])?,
    ];
    want.extend_from_slice(&y[2..]);
    if off != want.as_slice() {
        return invalid(format!("offset {off:?} is not {want:?}"));
    }
    if let Some(m) = cx.opt(4).and_then(|t| t.shape.as_deref()) {
        want[1] = taps;
        if m != want.as_slice() {
            return invalid(format!("mask {m:?} is not {want:?}"));
        }
    }
    if let Some(b) = cx.opt(3).and_then(|t| t.shape.as_deref()) {
        if b != [w[0]] {
            return invalid(format!("bias {b:?} is not [oC] = [{}]", w[0]));
        }
    }
    Ok((y, kernel))
}

fn infer_deform_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (y, _) = deform_dims(cx)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, y)])
}

fn cost_deform_conv(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (y, kernel) = deform_dims(cx)?;
    let w = cx.shape(1)?;
    let outs = mul(&y)?;
    let macs = mul(&[outs, w[1], mul(&kernel)?])?;
    // Every input channel sampled at every tap of every output position.
    let samples = mul(&[y[0], cx.shape(0)?[1], mul(&kernel)?, mul(&y[2..])?])?;
    let r = u32::try_from(kernel.len()).map_err(|_| super::overflow())?;
    let interp = 2u64
        .checked_pow(r)
        .and_then(|p| p.checked_sub(1))
        .and_then(|p| p.checked_mul(3))
        .ok_or_else(super::overflow)?;
    let per_sample = interp + u64::from(cx.opt(4).is_some());
    let bias = if cx.opt(3).is_some() { outs } else { 0 };
    let extra = mul(&[samples, per_sample])?
        .checked_add(bias)
        .ok_or_else(super::overflow)?;
    Cost::products(macs, extra)
}

/// Grid `[N, H, W, 2]` or `[N, D, H, W, 3]` from θ `[N, 2, 3]` or `[N, 3, 4]` and the values of
/// `size` (`[N, C, H, W]` or `[N, C, D, H, W]`).
fn affine_grid_shape(cx: &Ctx) -> Result<Vec<u64>, OpError> {
    let theta = cx.shape(0)?;
    let r = match theta {
        [_, 2, 3] => 2,
        [_, 3, 4] => 3,
        _ => return invalid(format!("theta {theta:?} is not [N, 2, 3] or [N, 3, 4]")),
    };
    let size = cx
        .ints(1)?
        .into_iter()
        .map(|v| u64::try_from(v).map_err(|_| OpError::Invalid(format!("size {v} is negative"))))
        .collect::<Result<Vec<u64>, _>>()?;
    if size.len() != r + 2 || size[0] != theta[0] {
        return invalid(format!(
            "size {size:?} is not [N, C, spatial…] for theta {theta:?}"
        ));
    }
    let mut g = vec![size[0]];
    g.extend_from_slice(&size[2..]);
    g.push(u64::from(r == 3) + 2);
    Ok(g)
}

fn infer_affine_grid(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let g = affine_grid_shape(cx)?;
    mul(&g)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, g)])
}

fn cost_affine_grid(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let g = affine_grid_shape(cx)?;
    let r = g[g.len() - 1];
    let points = mul(&g[..g.len() - 1])?;
    Cost::products(mul(&[points, r, r])?, mul(&[points, r])?)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn deform_conv_adds_bilinear_sampling_to_the_conv() {
        // X [1,2,3,3], W [1,2,2,2], no pads: Y [1,1,2,2], 4 outputs. Conv MACs 4 · 2 · 4 = 32.
        // Samples 1 · 2 channels · 4 taps · 4 positions = 32, bilinear 9 each = 288.
        let (x, w) = (f32t(&[1, 2, 3, 3]), f32t(&[1, 2, 2, 2]));
        let off = f32t(&[1, 8, 2, 2]);
        let r = run1("DeformConv", &[x.clone(), w.clone(), off.clone()], &[]);
        assert_eq!(r.shape, vec![1, 1, 2, 2]);
        assert_eq!((r.cost.macs, r.cost.flops), (32, 64 + 288));
        // With bias (4 adds) and a mask [1,4,2,2] (1 product per sample: 32).
        let r = run1(
            "DeformConv",
            &[
                x.clone(),
                w.clone(),
                off.clone(),
                f32t(&[1]),
                f32t(&[1, 4, 2, 2]),
            ],
            &[],
        );
        assert_eq!(r.cost.flops, 64 + 288 + 4 + 32);
        // Pads 1 on every side: Y [1,1,4,4], offsets must follow.
        let m = run_err("DeformConv", &[x, w, off], &[a_ints("pads", &[1, 1, 1, 1])]);
        assert!(m.contains("offset"), "{m}");
    }

    #[test]
    fn affine_grid_transforms_every_point() {
        // θ [2,2,3], size [2,3,5,6]: grid [2,5,6,2], 60 points · 4 MACs, 2 adds each.
        let r = run1("AffineGrid", &[f32t(&[2, 2, 3]), ints(&[2, 3, 5, 6])], &[]);
        assert_eq!(r.shape, vec![2, 5, 6, 2]);
        assert_eq!((r.cost.macs, r.cost.flops), (240, 480 + 120));
        // 3-D: θ [1,3,4], size [1,1,2,3,4]: 24 points · 9 MACs, 3 adds.
        let r = run1(
            "AffineGrid",
            &[f32t(&[1, 3, 4]), ints(&[1, 1, 2, 3, 4])],
            &[],
        );
        assert_eq!(r.shape, vec![1, 2, 3, 4, 3]);
        assert_eq!((r.cost.macs, r.cost.flops), (216, 432 + 72));
        let m = run_err("AffineGrid", &[f32t(&[2, 2, 3]), ints(&[1, 3, 5, 6])], &[]);
        assert!(m.contains("size"), "{m}");
    }
}
