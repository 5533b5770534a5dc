//! Pooling and resampling family: MaxPool, AveragePool, LpPool, Global*Pool, Resize, Upsample.
//! See `docs/counting.md`, "Pooling and resampling".
//!
//! Windowed pools: one FLOP per window element per output (comparison or add); AveragePool adds
//! one division per output; LpPool 2 per window element + 1 root per output. Global pools: one
//! FLOP per input element (+ one division per output for the average; GlobalLpPool 2 per input
//! element + 1 per output). Resize: nearest 0; linear 3·(2^d − 1) and cubic 7·(4^d − 1)/3 FLOPs per
//! output element, d = number of axes whose size changes (separable 2- and 4-tap filters).

use super::conv::{effective_kernel, window_attrs, window_shape};
use super::{invalid, mul, numel, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::DType;

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "MaxPool" | "AveragePool" | "LpPool" => OpDef {
            infer: infer_pool,
            cost: cost_pool,
        },
        "GlobalAveragePool" | "GlobalMaxPool" | "GlobalLpPool" => OpDef {
            infer: infer_global,
            cost: cost_global,
        },
        "Resize" | "Upsample" => OpDef {
            infer: infer_resize,
            cost: cost_resize,
        },
        _ => return None,
    })
}

/// The required `kernel_shape` of a window over the spatial axes of `x` (`[N, C, …]`): one
/// size ≥ 1 per spatial axis.
pub(crate) fn kernel_shape(cx: &Ctx, x: &[u64]) -> Result<Vec<u64>, OpError> {
    let sp = x.len().saturating_sub(2);
    let k = cx
        .node
        .attr_ints("kernel_shape")
        .ok_or_else(|| OpError::Invalid("missing 'kernel_shape' attribute".into()))?;
    if k.len() != sp || k.iter().any(|&v| v < 1) {
        return invalid(format!("kernel_shape {k:?} does not fit input {x:?}"));
    }
    Ok(k.iter().map(|&v| v.unsigned_abs()).collect()) // all ≥ 1 (checked)
}

fn infer_pool(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    if x.len() < 3 {
        return invalid(format!("input rank {} < 3", x.len()));
    }
    let sp = x.len() - 2;
    let kernel = kernel_shape(cx, x)?;
    let auto_pad = cx.node.attr_str("auto_pad").unwrap_or("NOTSET");
    let ceil = cx.node.attr_int("ceil_mode", 0) != 0;
    let w = window_attrs(cx, sp)?;
    if !auto_pad.starts_with("SAME") && auto_pad != "VALID" {
        // ONNX Runtime refuses a pad not smaller than the kernel, the reference implementation
        // one not smaller than the dilated window; refuse what both refuse.
        for (j, &p) in w.pads.iter().enumerate() {
            let i = j % sp;
            let eff = effective_kernel(kernel[i], w.dilations[i])?;
            if p >= eff {
                return invalid(format!(
                    "pad {p} on axis {i} is not smaller than the window {eff} (kernel {}, \
                     dilation {})",
                    kernel[i], w.dilations[i]
                ));
            }
        }
    }
    if auto_pad.starts_with("SAME") {
        for i in 0..sp {
            same_dilated_fits(x[2 + i], kernel[i], w.strides[i], w.dilations[i], i)?;
        }
    }
    let mut out = x[..2].to_vec();
    out.extend(window_shape(cx, x, &kernel, &w, auto_pad, ceil)?);
    let dt = cx.dtype(0)?;
    Ok(vec![
        Tensor::new(dt, out.clone()),
        Tensor::new(DType::I64, out),
    ])
}

/// ONNX Runtime sizes SAME padding from the undilated kernel, `(ceil(in / s) − 1)·s + k − in`,
/// then places the dilated window in it; when that leaves `in + pad − eff ≤ −2·s` its output
/// size is negative and it refuses the model (as does the reference implementation, which
/// fails on negative indices). Refuse it too.
fn same_dilated_fits(input: u64, k: u64, s: u64, d: u64, axis: usize) -> Result<(), OpError> {
    let eff = effective_kernel(k, d)?;
    let (input, k, s) = (i128::from(input), i128::from(k), i128::from(s));
    let pad = ((input + s - 1) / s - 1) * s + k - input;
    if input + pad - i128::from(eff) <= -2 * s {
        return invalid(format!(
            "SAME padding on axis {axis} ({pad}, sized for the undilated kernel {k}) cannot hold \
             the window {eff} of dilation {d}"
        ));
    }
    Ok(())
}

fn cost_pool(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let k: Vec<u64> = cx
        .node
        .attr_ints("kernel_shape")
        .unwrap_or(&[])
        .iter()
        .map(|&v| u64::try_from(v).map_err(|_| OpError::Invalid(format!("kernel size {v}"))))
        .collect::<Result<_, _>>()?;
    let n = numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    let window = mul(&k)?;
    let per = match cx.node.op_type.as_str() {
        "AveragePool" => window + 1,
        "LpPool" => 2 * window + 1,
        _ => window,
    };
    Ok(Cost::flops(mul(&[n, per])?))
}

fn infer_global(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    if x.len() < 2 {
        return invalid(format!("input rank {} < 2", x.len()));
    }
    let mut out = x[..2].to_vec();
    out.extend(std::iter::repeat_n(1, x.len() - 2));
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_global(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let n_in = cx.numel(0)?;
    let n_out = numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    Ok(Cost::flops(match cx.node.op_type.as_str() {
        "GlobalAveragePool" => n_in + n_out,
        "GlobalLpPool" => 2 * n_in + n_out,
        _ => n_in,
    }))
}

fn infer_resize(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let r = x.len();
    let upsample = cx.node.op_type == "Upsample";
    // Input positions: Resize-10 and Upsample-9 take scales at 1; Resize-11+ take roi, scales, sizes.
    let (scales_at, sizes_at) = if upsample || cx.opset < 11 {
        (1, 99)
    } else {
        (2, 3)
    };
    let sizes = match cx.opt(sizes_at) {
        Some(t)
            if t.shape
                .as_deref()
                .is_some_and(|s| s.iter().product::<u64>() > 0) =>
        {
            Some(cx.ints(sizes_at)?)
        }
        _ => None,
    };
    let axes: Vec<usize> = match cx.node.attr_ints("axes") {
        Some(a) => a
            .iter()
            .map(|&v| super::axis(v, r))
            .collect::<Result<_, _>>()?,
        None => (0..r).collect(),
    };
    let mut out = x.to_vec();
    if let Some(sz) = sizes {
        if sz.len() != axes.len() || sz.iter().any(|&v| v < 0) {
            return invalid(format!("sizes {sz:?} do not fit input {x:?}"));
        }
        let policy = cx
            .node
            .attr_str("keep_aspect_ratio_policy")
            .unwrap_or("stretch");
        if policy == "stretch" {
            for (&a, &s) in axes.iter().zip(&sz) {
                out[a] = s.unsigned_abs(); // ≥ 0: checked above
            }
        } else {
            let ratios = axes.iter().zip(&sz).map(|(&a, &s)| s as f64 / x[a] as f64);
            let scale = if policy == "not_larger" {
                ratios.fold(f64::INFINITY, f64::min)
            } else {
                ratios.fold(0.0, f64::max)
            };
            for &a in &axes {
                out[a] = super::f64_to_u64((x[a] as f64 * scale).round())?;
            }
        }
    } else {
        let scales: Vec<f64> = match (upsample && cx.opset < 9, cx.opt(scales_at)) {
            (true, _) => cx
                .node
                .attr_floats("scales")
                .ok_or_else(|| OpError::Invalid("missing 'scales'".into()))?
                .iter()
                .map(|&v| v as f64)
                .collect(),
            (false, Some(_)) => {
                let v = cx.values(scales_at)?;
                (0..v.len()).map(|i| v.f(i)).collect()
            }
            (false, None) => return invalid("neither scales nor sizes is given"),
        };
        if scales.len() != axes.len() || scales.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
            return invalid(format!("scales {scales:?} do not fit input {x:?}"));
        }
        for (&a, &s) in axes.iter().zip(&scales) {
            let v = (x[a] as f64 * s).floor();
            if v > u64::MAX as f64 / 2.0 {
                return Err(super::overflow());
            }
            out[a] = super::f64_to_u64(v)?;
        }
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_resize(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let y = out[0].shape.as_deref().ok_or(OpError::Unknown)?;
    let d = x.iter().zip(y).filter(|(a, b)| a != b).count();
    let mode = cx.node.attr_str("mode").unwrap_or("nearest");
    let per = interpolation_flops(mode, d)?;
    Ok(Cost::flops(mul(&[numel(y)?, per])?))
}

/// FLOPs per sample of a d-axis linear (3·(2^d − 1)) or cubic (7·(4^d − 1)/3) interpolation;
/// 0 for nearest. Resize's, and GridSample's per output element.
pub(crate) fn interpolation_flops(mode: &str, d: usize) -> Result<u64, OpError> {
    let d = u32::try_from(d).map_err(|_| super::overflow())?;
    Ok(match mode {
        // 2^d and 4^d overflow from d = 64 and 32 axes (a hostile rank): checked.
        "linear" | "bilinear" | "trilinear" => 2u64
            .checked_pow(d)
            .and_then(|p| (p - 1).checked_mul(3))
            .ok_or_else(super::overflow)?,
        "cubic" | "bicubic" => {
            4u64.checked_pow(d)
                .and_then(|p| (p - 1).checked_mul(7))
                .ok_or_else(super::overflow)?
                / 3
        }
        _ => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn max_pool_stem_and_ceil_mode() {
        // ResNet: [1,64,112,112], k3 s2 p1 → 56; comparisons 64·56·56·9.
        let r = run1(
            "MaxPool",
            &[f32t(&[1, 64, 112, 112])],
            &[
                a_ints("kernel_shape", &[3, 3]),
                a_ints("strides", &[2, 2]),
                a_ints("pads", &[1, 1, 1, 1]),
            ],
        );
        assert_eq!(r.shape, vec![1, 64, 56, 56]);
        assert_eq!(r.cost.flops, 64 * 56 * 56 * 9);
        // 6 wide, k2 s2 ceil_mode → 3; 5 wide → ceil(3/2)+1 = 3.
        let r = run1(
            "AveragePool",
            &[f32t(&[1, 1, 5, 5])],
            &[
                a_ints("kernel_shape", &[2, 2]),
                a_ints("strides", &[2, 2]),
                a_int("ceil_mode", 1),
            ],
        );
        assert_eq!(r.shape, vec![1, 1, 3, 3]);
        assert_eq!(r.cost.flops, 9 * (4 + 1));
    }

    #[test]
    fn pool_pads_must_be_smaller_than_the_window() {
        // kernel 2, dilation 3: window 4. Pad 3: floor((8 + 3 + 3 − 4) / 1) + 1 = 11.
        let pool = |pad: i64| {
            (
                f32t(&[1, 1, 8]),
                vec![
                    a_ints("kernel_shape", &[2]),
                    a_ints("dilations", &[3]),
                    a_ints("pads", &[pad, pad]),
                ],
            )
        };
        let (x, attrs) = pool(3);
        assert_eq!(run1("MaxPool", &[x], &attrs).shape, vec![1, 1, 11]);
        let (x, attrs) = pool(4);
        let e = run_err("MaxPool", &[x], &attrs);
        assert!(
            e.contains("pad 4 on axis 0 is not smaller than the window 4"),
            "{e}"
        );
    }

    #[test]
    fn empty_pool_output_warns_and_costs_nothing() {
        // 2 wide, kernel 3: floor((2 − 3) / 1) + 1 = 0 (both runtimes give [1,2,0]).
        let r = run1(
            "AveragePool",
            &[f32t(&[1, 2, 2])],
            &[a_ints("kernel_shape", &[3])],
        );
        assert_eq!(r.shape, vec![1, 2, 0]);
        assert_eq!(r.cost.flops, 0);
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    }

    #[test]
    fn same_padding_too_small_for_a_dilated_window() {
        // in 4, stride 2, kernel 4, dilation 3 (window 10): SAME pad (2 − 1)·2 + 4 − 4 = 2,
        // 4 + 2 − 10 = −4 ≤ −2·2: ONNX Runtime's output size is negative.
        let e = run_err(
            "AveragePool",
            &[f32t(&[1, 1, 4])],
            &[
                a_ints("kernel_shape", &[4]),
                a_ints("strides", &[2]),
                a_ints("dilations", &[3]),
                a_str("auto_pad", "SAME_LOWER"),
            ],
        );
        assert!(e.contains("cannot hold the window 10"), "{e}");
        // Huge pads are an error, not a wrap.
        let e = run_err(
            "MaxPool",
            &[f32t(&[1, 1, 8])],
            &[
                a_ints("kernel_shape", &[(1 << 62) + 1]),
                a_ints("pads", &[1 << 62, 1 << 62]),
            ],
        );
        assert!(e.contains("does not fit in 64 bits"), "{e}");
    }

    #[test]
    fn global_pool_and_resize() {
        let r = run1("GlobalAveragePool", &[f32t(&[1, 512, 7, 7])], &[]);
        assert_eq!(r.shape, vec![1, 512, 1, 1]);
        assert_eq!(r.cost.flops, 512 * 49 + 512);
        // Bilinear ×2 on H and W: d = 2, 3·(4 − 1) = 9 FLOPs per output element.
        let r = run1(
            "Resize",
            &[
                f32t(&[1, 8, 10, 10]),
                f32t(&[0]),
                floats(&[4], &[1.0, 1.0, 2.0, 2.0]),
            ],
            &[a_str("mode", "linear")],
        );
        assert_eq!(r.shape, vec![1, 8, 20, 20]);
        assert_eq!(r.cost.flops, 8 * 400 * 9);
    }
}
