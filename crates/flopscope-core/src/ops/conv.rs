//! Convolution family: `Conv`, `ConvTranspose`. See `docs/counting.md`, "Convolution".
//!
//! Conv: MACs = N · Cout · Π(out spatial) · (Cin / group) · Π(kernel); bias adds N · Cout · Π(out).
//! ConvTranspose: MACs = N · Cin · Π(in spatial) · (Cout / group) · Π(kernel) (every input pixel
//! scatters a kernel); bias adds N · Cout · Π(out).

use super::{at, invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "Conv" => OpDef {
            infer: infer_conv,
            cost: cost_conv,
        },
        "ConvTranspose" => OpDef {
            infer: infer_conv_transpose,
            cost: cost_conv_transpose,
        },
        _ => return None,
    })
}

struct Geometry {
    /// Spatial axes: the input's rank less 2.
    spatial: usize,
    kernel: Vec<u64>,
    w: WindowAttrs,
    auto_pad: String,
}

/// Strides and dilations (each ≥ 1) and pads (begins, then ends) of a window op.
pub struct WindowAttrs {
    /// Per spatial axis.
    pub strides: Vec<u64>,
    /// Per spatial axis.
    pub dilations: Vec<u64>,
    /// Per spatial axis the begin pads, then the end pads.
    pub pads: Vec<u64>,
}

/// A non-negative attribute value as `u64`; `what` names it in the error.
fn non_negative(v: i64, what: &str) -> Result<u64, OpError> {
    u64::try_from(v).map_err(|_| OpError::Invalid(format!("{what} {v} is negative")))
}

/// The `i`-th value of list attribute `name` (or `default`), which must be ≥ `min`.
fn attr_at(cx: &Ctx, name: &str, i: usize, default: i64, min: u64) -> Result<u64, OpError> {
    let v = at(cx.node.attr_ints(name), i, default);
    match u64::try_from(v) {
        Ok(u) if u >= min => Ok(u),
        _ => invalid(format!("{name} {v} on axis {i} must be ≥ {min}")),
    }
}

/// Strides, dilations and pads of a window op with `spatial` axes, each checked (strides and
/// dilations ≥ 1, pads ≥ 0).
pub fn window_attrs(cx: &Ctx, spatial: usize) -> Result<WindowAttrs, OpError> {
    let strides = (0..spatial)
        .map(|i| attr_at(cx, "strides", i, 1, 1))
        .collect::<Result<_, _>>()?;
    let dilations = (0..spatial)
        .map(|i| attr_at(cx, "dilations", i, 1, 1))
        .collect::<Result<_, _>>()?;
    let pads = (0..2 * spatial)
        .map(|i| attr_at(cx, "pads", i, 0, 0))
        .collect::<Result<_, _>>()?;
    Ok(WindowAttrs {
        strides,
        dilations,
        pads,
    })
}

/// The window of a Conv or ConvTranspose: the input `[N, C, spatial…]` and the weight must
/// agree on the spatial rank.
fn geometry(cx: &Ctx) -> Result<Geometry, OpError> {
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    if x.len() < 3 {
        return invalid(format!("input rank {} < 3", x.len()));
    }
    let spatial = x.len() - 2;
    if w.len() != spatial + 2 {
        return invalid(format!(
            "weight has rank {} but the input has {spatial} spatial dims",
            w.len()
        ));
    }
    let kernel: Vec<u64> = match cx.node.attr_ints("kernel_shape") {
        Some(k) => k
            .iter()
            .map(|&x| match u64::try_from(x) {
                Ok(u) if u >= 1 => Ok(u),
                _ => invalid(format!("kernel_shape {k:?} has a size below 1")),
            })
            .collect::<Result<_, _>>()?,
        None => w[2..].to_vec(),
    };
    if kernel.len() != spatial {
        return invalid("kernel_shape length differs from the spatial rank");
    }
    Ok(Geometry {
        spatial,
        w: window_attrs(cx, spatial)?,
        auto_pad: cx.node.attr_str("auto_pad").unwrap_or("NOTSET").to_string(),
        kernel,
    })
}

/// Largest size an ONNX dim can hold (dims are int64).
const MAX_DIM: u64 = i64::MAX.unsigned_abs();

/// Extent of a dilated window, `(kernel − 1)·dilation + 1`, checked: an error when it
/// exceeds the largest ONNX dim.
pub fn effective_kernel(kernel: u64, dilation: u64) -> Result<u64, OpError> {
    kernel
        .checked_sub(1)
        .and_then(|k| k.checked_mul(dilation))
        .and_then(|e| e.checked_add(1))
        .filter(|&e| e <= MAX_DIM)
        .ok_or_else(|| {
            OpError::Invalid(format!(
                "the window of kernel {kernel} with dilation {dilation} does not fit in 64 bits"
            ))
        })
}

/// One spatial axis of a convolution or pooling window (see `docs/counting.md`, "Convolution").
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    /// Axis number among the spatial axes (for messages).
    pub axis: usize,
    /// Input size.
    pub input: u64,
    /// Kernel size (≥ 1).
    pub kernel: u64,
    /// Stride (≥ 1).
    pub stride: u64,
    /// Dilation (≥ 1).
    pub dilation: u64,
    /// Padding at the start and at the end.
    pub pads: (u64, u64),
}

/// Output size of one spatial axis of a convolution or pooling window.
///
/// `auto_pad` SAME_*: `ceil(in / stride)`. Otherwise (VALID ignores `pads`), with
/// `span = in + pad_begin + pad_end − eff`: `floor(span / stride) + 1`, or with `ceil_mode`
/// `ceil(span / stride) + 1` less the last window if it starts at or past `in + pad_begin`.
/// A window larger than the padded input gives 0 when the formula does (as ONNX Runtime and the
/// reference implementation compute it; the caller warns) and an error when it is negative.
/// All arithmetic is exact (in `i128`); a size beyond the largest ONNX dim is an error.
pub fn window_out(a: Axis, auto_pad: &str, ceil_mode: bool) -> Result<u64, OpError> {
    let Axis {
        axis,
        input,
        stride,
        ..
    } = a;
    let eff = effective_kernel(a.kernel, a.dilation)?;
    if auto_pad.starts_with("SAME") {
        return Ok(input.div_ceil(stride));
    }
    let pads = if auto_pad == "VALID" { (0, 0) } else { a.pads };
    let padded = i128::from(input) + i128::from(pads.0) + i128::from(pads.1);
    if padded > i128::from(MAX_DIM) {
        return invalid(format!(
            "padded size {input} + {} + {} on axis {axis} does not fit in 64 bits",
            pads.0, pads.1
        ));
    }
    let span = padded - i128::from(eff);
    let s = i128::from(stride);
    let mut out = if ceil_mode {
        -(-span).div_euclid(s)
    } else {
        span.div_euclid(s)
    } + 1;
    // With ceil_mode the last window must start inside the input or the left padding.
    if ceil_mode && out >= 1 && (out - 1) * s >= i128::from(input) + i128::from(pads.0) {
        out -= 1;
    }
    u64::try_from(out).map_err(|_| {
        OpError::Invalid(format!(
            "the window {eff} (kernel {}, dilation {}) on axis {axis} is larger than the \
             padded input {padded} by more than the stride {stride}",
            a.kernel, a.dilation
        ))
    })
}

/// The warning for an output axis of size 0 (a window larger than the padded input).
pub fn warn_empty(cx: &Ctx, a: Axis) {
    cx.warn(format!(
        "the window (kernel {}, dilation {}) on axis {} is larger than the padded input \
         ({} + pads {} + {}): the output is empty along that axis",
        a.kernel, a.dilation, a.axis, a.input, a.pads.0, a.pads.1
    ));
}

/// [`window_out`] for every spatial axis of `x` (`[N, C, spatial…]`), warning for each axis of
/// size 0.
pub fn window_shape(
    cx: &Ctx,
    x: &[u64],
    kernel: &[u64],
    w: &WindowAttrs,
    auto_pad: &str,
    ceil_mode: bool,
) -> Result<Vec<u64>, OpError> {
    let spatial = kernel.len();
    let mut out = Vec::with_capacity(spatial);
    for i in 0..spatial {
        let a = Axis {
            axis: i,
            input: x[2 + i],
            kernel: kernel[i],
            stride: w.strides[i],
            dilation: w.dilations[i],
            pads: (w.pads[i], w.pads[i + spatial]),
        };
        let o = window_out(a, auto_pad, ceil_mode)?;
        if o == 0 {
            warn_empty(cx, a);
        }
        out.push(o);
    }
    Ok(out)
}

fn infer_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let g = geometry(cx)?;
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    let group = cx.node.attr_int("group", 1);
    let group = match u64::try_from(group) {
        Ok(g) if g >= 1 => g,
        _ => return invalid(format!("group {group} must be ≥ 1")),
    };
    if w[1].checked_mul(group) != Some(x[1]) || w[0] % group != 0 {
        return invalid(format!(
            "input has {} channels but the weight {w:?} with group {group} expects {}",
            x[1],
            w[1].saturating_mul(group)
        ));
    }
    let mut out = vec![x[0], w[0]];
    out.extend(window_shape(cx, x, &g.kernel, &g.w, &g.auto_pad, false)?);
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_conv(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let w = cx.shape(1)?;
    let y = out[0].shape.as_deref().ok_or(OpError::Unknown)?;
    let out_numel = mul(y)?;
    // Per output element: (Cin / group) · Π(kernel) multiply-accumulates = Π(weight dims 1..).
    let macs = mul(&[out_numel, mul(&w[1..])?])?;
    let bias = if cx.opt(2).is_some() { out_numel } else { 0 };
    Cost::products(macs, bias)
}

fn infer_conv_transpose(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let g = geometry(cx)?;
    let (x, w) = (cx.shape(0)?, cx.shape(1)?);
    let group = cx.node.attr_int("group", 1);
    let group = match u64::try_from(group) {
        Ok(g) if g >= 1 && w[0] % g == 0 => g,
        _ => {
            return invalid(format!(
                "group {group} must be ≥ 1 and divide the weight's {} input channels",
                w[0]
            ))
        }
    };
    if w[0] != x[1] {
        return invalid(format!(
            "input has {} channels but the weight {w:?} expects {}",
            x[1], w[0]
        ));
    }
    let mut out = vec![x[0], w[1].checked_mul(group).ok_or_else(super::overflow)?];
    let spatial = g.spatial;
    let explicit = cx
        .node
        .attr_ints("output_shape")
        .filter(|os| os.len() >= spatial);
    let output_padding = cx.node.attr_ints("output_padding");
    for i in 0..spatial {
        let (input, stride) = (x[2 + i], g.w.strides[i]);
        let eff = effective_kernel(g.kernel[i], g.w.dilations[i])?;
        let op = non_negative(at(output_padding, i, 0), "output_padding")?;
        // ONNX Runtime refuses output_padding ≥ max(stride, dilation), and checks that a
        // forward window over the output gives back the input size, which fails whenever
        // output_padding ≥ stride (with or without output_shape).
        if op >= stride {
            return invalid(format!(
                "output_padding {op} on axis {i} must be smaller than the stride {stride}"
            ));
        }
        // Exact: every term is below 2^64, so nothing overflows i128.
        let full = i128::from(stride) * (i128::from(input) - 1) + i128::from(op) + i128::from(eff);
        let size: i128 = match explicit {
            Some(os) => {
                let s = os[os.len() - spatial + i];
                // A larger output would need negative total padding beyond what a forward
                // window over it maps back to this input size.
                let largest = full - i128::from(op) + i128::from(stride) - 1;
                if i128::from(s) > largest {
                    return invalid(format!(
                        "output_shape {s} on axis {i} is larger than the {largest} an input \
                         of {input} can produce"
                    ));
                }
                i128::from(non_negative(s, "output_shape")?)
            }
            None if g.auto_pad.starts_with("SAME") => i128::from(input) * i128::from(stride),
            None => {
                let pads = if g.auto_pad == "VALID" {
                    0
                } else {
                    i128::from(g.w.pads[i]) + i128::from(g.w.pads[i + spatial])
                };
                let s = full - pads;
                if s < 1 {
                    return invalid(format!("output size {s} on axis {i} is not positive"));
                }
                s
            }
        };
        match u64::try_from(size) {
            Ok(s) if s <= MAX_DIM => out.push(s),
            _ => {
                return invalid(format!(
                    "output size {size} on axis {i} does not fit in 64 bits"
                ))
            }
        }
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_conv_transpose(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let w = cx.shape(1)?;
    let y = out[0].shape.as_deref().ok_or(OpError::Unknown)?;
    // Every input element is multiplied by a (Cout / group) × Π(kernel) slice of the weight.
    let macs = mul(&[mul(x)?, mul(&w[1..])?])?;
    let bias = if cx.opt(2).is_some() { mul(y)? } else { 0 };
    Cost::products(macs, bias)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::{window_out, Axis};

    fn axis(input: u64, kernel: u64, stride: u64, dilation: u64, pads: (u64, u64)) -> Axis {
        Axis {
            axis: 0,
            input,
            kernel,
            stride,
            dilation,
            pads,
        }
    }

    #[test]
    fn window_sizes_by_hand() {
        // eff = (2 − 1)·4 + 1 = 5; floor((8 + 0 − 5) / 1) + 1 = 4.
        assert_eq!(window_out(axis(8, 2, 1, 4, (0, 0)), "NOTSET", false), Ok(4));
        // eff = 3; floor((10 + 1 + 2 − 3) / 3) + 1 = floor(10 / 3) + 1 = 4.
        assert_eq!(
            window_out(axis(10, 3, 3, 1, (1, 2)), "NOTSET", false),
            Ok(4)
        );
        // VALID ignores pads: floor((10 − 3) / 3) + 1 = 3. SAME: ceil(10 / 3) = 4.
        assert_eq!(window_out(axis(10, 3, 3, 1, (1, 2)), "VALID", false), Ok(3));
        assert_eq!(
            window_out(axis(10, 3, 3, 1, (0, 0)), "SAME_UPPER", false),
            Ok(4)
        );
        // ceil_mode: ceil((5 − 2) / 2) + 1 = 3; the last window starts at 4 < 5: kept.
        assert_eq!(window_out(axis(5, 2, 2, 1, (0, 0)), "NOTSET", true), Ok(3));
        // ceil((4 + 1 − 1) / 2) + 1 = 3, but the last window starts at 4 ≥ 4 + 0: dropped.
        assert_eq!(window_out(axis(4, 1, 2, 1, (0, 1)), "NOTSET", true), Ok(2));
        // A window wider than the input: span 1 − 2 = −1, ceil(−1/3) + 1 = 1 (ONNX Runtime and
        // the reference implementation both give 1).
        assert_eq!(window_out(axis(1, 2, 3, 1, (0, 0)), "NOTSET", true), Ok(1));
    }

    #[test]
    fn window_larger_than_the_padded_input() {
        // span = 4 − 5 = −1: floor(−1 / 1) + 1 = 0, an empty output (both runtimes run it).
        assert_eq!(window_out(axis(4, 5, 1, 1, (0, 0)), "NOTSET", false), Ok(0));
        // span = 3 − 5 = −2 with stride 2: floor(−1) + 1 = 0.
        assert_eq!(window_out(axis(3, 5, 2, 1, (0, 0)), "NOTSET", false), Ok(0));
        // span = 2 − 5 = −3 with stride 2: floor(−1.5) + 1 = −1: refused.
        let e = window_out(axis(2, 5, 2, 1, (0, 0)), "NOTSET", false).unwrap_err();
        assert!(
            format!("{e:?}").contains("larger than the padded input 2"),
            "{e:?}"
        );
    }

    #[test]
    fn huge_windows_are_errors_not_wraps() {
        let big = 1u64 << 62;
        // (2^62 − 1)·4 + 1 > 2^63 − 1.
        let e = window_out(axis(8, big, 1, 4, (0, 0)), "NOTSET", false).unwrap_err();
        assert!(
            format!("{e:?}").contains("does not fit in 64 bits"),
            "{e:?}"
        );
        // (3 − 1)·2^62 + 1 = 2^63 + 1.
        let e = window_out(axis(8, 3, 1, big, (0, 0)), "NOTSET", false).unwrap_err();
        assert!(
            format!("{e:?}").contains("dilation 4611686018427387904"),
            "{e:?}"
        );
        // 8 + 2^62 + 2^62 = 2^63 + 8 > 2^63 − 1.
        let e = window_out(axis(8, 3, 1, 1, (big, big)), "NOTSET", false).unwrap_err();
        assert!(
            format!("{e:?}").contains("padded size 8 + 4611686018427387904"),
            "{e:?}"
        );
        // The same through the rule, with kernel_shape = [2^62, 3], dilations = [4, 1].
        let e = run_err(
            "Conv",
            &[f32t(&[1, 1, 8, 8]), f32t(&[1, 1, 3, 3])],
            &[
                a_ints("kernel_shape", &[1 << 62, 3]),
                a_ints("dilations", &[4, 1]),
            ],
        );
        assert!(e.contains("does not fit in 64 bits"), "{e}");
        let e = run_err(
            "Conv",
            &[f32t(&[1, 1, 8, 8]), f32t(&[1, 1, 3, 3])],
            &[a_ints("kernel_shape", &[-1, 3])],
        );
        assert!(e.contains("below 1"), "{e}");
    }

    #[test]
    fn empty_conv_output_warns() {
        // X [1,1,4], W [1,1,5]: floor((4 − 5) / 1) + 1 = 0.
        let r = run1("Conv", &[f32t(&[1, 1, 4]), f32t(&[1, 1, 5])], &[]);
        assert_eq!(r.shape, vec![1, 1, 0]);
        assert_eq!(r.cost.macs, 0);
        let w = r.warnings;
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("output is empty"), "{w:?}");
    }

    #[test]
    fn conv_transpose_output_padding_and_shape() {
        // in 5, k 3, stride 3, output_padding 2: 3·(5 − 1) + 2 + 3 = 17 (ONNX Runtime: 17).
        let r = run1(
            "ConvTranspose",
            &[f32t(&[1, 1, 5]), f32t(&[1, 1, 3])],
            &[a_ints("strides", &[3]), a_ints("output_padding", &[2])],
        );
        assert_eq!(r.shape, vec![1, 1, 17]);
        // output_padding 2 ≥ stride 2 (dilation 3): ONNX Runtime refuses it.
        let e = run_err(
            "ConvTranspose",
            &[f32t(&[1, 1, 5]), f32t(&[1, 1, 3])],
            &[
                a_ints("strides", &[2]),
                a_ints("dilations", &[3]),
                a_ints("output_padding", &[2]),
            ],
        );
        assert!(e.contains("output_padding 2 on axis 0"), "{e}");
        // in 6, k 2, stride 2: the largest output_shape is 2·5 + 2 + (2 − 1) = 13.
        let ct = |os: i64| {
            run_err(
                "ConvTranspose",
                &[f32t(&[1, 1, 6]), f32t(&[1, 1, 2])],
                &[a_ints("strides", &[2]), a_ints("output_shape", &[os])],
            )
        };
        assert!(ct(14).contains("larger than the 13"), "{}", ct(14));
        let r = run1(
            "ConvTranspose",
            &[f32t(&[1, 1, 6]), f32t(&[1, 1, 2])],
            &[a_ints("strides", &[2]), a_ints("output_shape", &[13])],
        );
        assert_eq!(r.shape, vec![1, 1, 13]);
        // 2^62 · (8 − 1) does not fit in 64 bits.
        let e = run_err(
            "ConvTranspose",
            &[f32t(&[1, 1, 8]), f32t(&[1, 1, 2])],
            &[a_ints("strides", &[1 << 62])],
        );
        assert!(e.contains("does not fit in 64 bits"), "{e}");
    }

    #[test]
    fn grouped_dilated_padded_conv() {
        // X [1,8,10,10], W [16,2,3,3], group 4, dilation 2, pad 1:
        // out = (10 + 2 - 2·(3-1) - 1) / 1 + 1 = 8 → [1,16,8,8].
        // MACs = 16·8·8 outputs × (8/4)·3·3 = 1024 × 18 = 18432; bias adds 1024.
        let r = run1(
            "Conv",
            &[f32t(&[1, 8, 10, 10]), f32t(&[16, 2, 3, 3]), f32t(&[16])],
            &[
                a_int("group", 4),
                a_ints("dilations", &[2, 2]),
                a_ints("pads", &[1, 1, 1, 1]),
            ],
        );
        assert_eq!(r.shape, vec![1, 16, 8, 8]);
        assert_eq!(r.cost.macs, 18432);
        assert_eq!(r.cost.flops, 2 * 18432 + 1024);
    }

    #[test]
    fn strided_conv_and_same_padding() {
        // ResNet stem: [1,3,224,224] * [64,3,7,7], stride 2, pad 3 → [1,64,112,112];
        // MACs = 64·112·112·3·49 = 118,013,952 (the figure thop and fvcore give for conv1).
        let r = run1(
            "Conv",
            &[f32t(&[1, 3, 224, 224]), f32t(&[64, 3, 7, 7])],
            &[a_ints("strides", &[2, 2]), a_ints("pads", &[3, 3, 3, 3])],
        );
        assert_eq!(r.shape, vec![1, 64, 112, 112]);
        assert_eq!(r.cost.macs, 118_013_952);
        let r = run1(
            "Conv",
            &[f32t(&[2, 4, 15, 15]), f32t(&[4, 1, 3, 3])],
            &[
                a_int("group", 4),
                a_ints("strides", &[2, 2]),
                a_str("auto_pad", "SAME_UPPER"),
            ],
        );
        assert_eq!(r.shape, vec![2, 4, 8, 8]); // ceil(15 / 2)
        assert_eq!(r.cost.macs, 2 * 4 * 64 * 9); // depthwise
    }

    #[test]
    fn channel_mismatch_is_an_error() {
        let e = run_err("Conv", &[f32t(&[1, 3, 8, 8]), f32t(&[8, 4, 3, 3])], &[]);
        assert!(e.contains("channels"), "{e}");
    }

    #[test]
    fn conv_transpose_upsamples() {
        // [1,16,8,8] → stride 2, k 4, pad 1: out = 2·7 + 4 − 2 = 16; Cout = 8·2 groups = 16.
        // MACs = 16·8·8 inputs × (8 · 4 · 4) = 1024 × 128 = 131072.
        let r = run1(
            "ConvTranspose",
            &[f32t(&[1, 16, 8, 8]), f32t(&[16, 8, 4, 4])],
            &[
                a_int("group", 2),
                a_ints("strides", &[2, 2]),
                a_ints("pads", &[1, 1, 1, 1]),
            ],
        );
        assert_eq!(r.shape, vec![1, 16, 16, 16]);
        assert_eq!(r.cost.macs, 131072);
    }
}
