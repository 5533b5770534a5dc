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
    kernel: Vec<u64>,
    strides: Vec<i64>,
    dilations: Vec<i64>,
    pads: Vec<i64>,
    auto_pad: String,
}

fn geometry(cx: &Ctx, spatial: usize) -> Result<Geometry, OpError> {
    let w = cx.shape(1)?;
    if w.len() != spatial + 2 {
        return invalid(format!(
            "weight has rank {} but the input has {spatial} spatial dims",
            w.len()
        ));
    }
    let kernel: Vec<u64> = match cx.node.attr_ints("kernel_shape") {
        Some(k) => k.iter().map(|&x| x.max(0) as u64).collect(),
        None => w[2..].to_vec(),
    };
    if kernel.len() != spatial {
        return invalid("kernel_shape length differs from the spatial rank");
    }
    let g = Geometry {
        strides: (0..spatial)
            .map(|i| at(cx.node.attr_ints("strides"), i, 1))
            .collect(),
        dilations: (0..spatial)
            .map(|i| at(cx.node.attr_ints("dilations"), i, 1))
            .collect(),
        pads: (0..2 * spatial)
            .map(|i| at(cx.node.attr_ints("pads"), i, 0))
            .collect(),
        auto_pad: cx.node.attr_str("auto_pad").unwrap_or("NOTSET").to_string(),
        kernel,
    };
    if g.strides.iter().chain(&g.dilations).any(|&s| s < 1) || g.pads.iter().any(|&p| p < 0) {
        return invalid("strides and dilations must be ≥ 1 and pads ≥ 0");
    }
    Ok(g)
}

/// Output size of one spatial axis of a convolution or pooling window.
pub fn window_out(
    input: u64,
    kernel: u64,
    stride: i64,
    dilation: i64,
    pads: (i64, i64),
    auto_pad: &str,
    ceil_mode: bool,
) -> Result<u64, OpError> {
    let s = stride as u64;
    let eff = (kernel.saturating_sub(1)).saturating_mul(dilation as u64) + 1;
    match auto_pad {
        "SAME_UPPER" | "SAME_LOWER" => Ok(input.div_ceil(s)),
        "VALID" => {
            if input < eff {
                return invalid(format!(
                    "input size {input} is smaller than the window {eff}"
                ));
            }
            Ok((input - eff) / s + 1)
        }
        _ => {
            let padded = input as i64 + pads.0 + pads.1;
            if padded < eff as i64 {
                return invalid(format!(
                    "padded input size {padded} is smaller than the window {eff}"
                ));
            }
            let span = (padded - eff as i64) as u64;
            let mut out = if ceil_mode {
                span.div_ceil(s)
            } else {
                span / s
            } + 1;
            // With ceil_mode the last window must start inside the input or left padding.
            if ceil_mode && (out - 1) * s >= input + pads.0 as u64 {
                out -= 1;
            }
            Ok(out)
        }
    }
}

fn infer_conv(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let w = cx.shape(1)?;
    if x.len() < 3 {
        return invalid(format!("input rank {} < 3", x.len()));
    }
    let spatial = x.len() - 2;
    let g = geometry(cx, spatial)?;
    let group = cx.node.attr_int("group", 1);
    if group < 1 {
        return invalid("group must be ≥ 1");
    }
    let group = group as u64;
    if w[1].checked_mul(group) != Some(x[1]) || w[0] % group != 0 {
        return invalid(format!(
            "input has {} channels but the weight {w:?} with group {group} expects {}",
            x[1],
            w[1].saturating_mul(group)
        ));
    }
    let mut out = vec![x[0], w[0]];
    for i in 0..spatial {
        out.push(window_out(
            x[2 + i],
            g.kernel[i],
            g.strides[i],
            g.dilations[i],
            (g.pads[i], g.pads[i + spatial]),
            &g.auto_pad,
            false,
        )?);
    }
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
    let x = cx.shape(0)?;
    let w = cx.shape(1)?;
    if x.len() < 3 {
        return invalid(format!("input rank {} < 3", x.len()));
    }
    let spatial = x.len() - 2;
    let g = geometry(cx, spatial)?;
    let group = cx.node.attr_int("group", 1);
    if group < 1 || w[0] % group as u64 != 0 {
        return invalid(format!(
            "group {group} must be ≥ 1 and divide the weight's {} input channels",
            w[0]
        ));
    }
    let group = group as u64;
    if w[0] != x[1] {
        return invalid(format!(
            "input has {} channels but the weight {w:?} expects {}",
            x[1], w[0]
        ));
    }
    let mut out = vec![x[0], w[1].checked_mul(group).ok_or_else(super::overflow)?];
    let explicit = cx.node.attr_ints("output_shape");
    for i in 0..spatial {
        let size = match explicit {
            Some(os) if os.len() >= spatial => os[os.len() - spatial + i].max(0) as u64,
            _ if g.auto_pad.starts_with("SAME") => x[2 + i] * g.strides[i] as u64,
            _ => {
                let op = at(cx.node.attr_ints("output_padding"), i, 0);
                let full = g.strides[i] * (x[2 + i] as i64 - 1)
                    + op
                    + (g.kernel[i] as i64 - 1) * g.dilations[i]
                    + 1;
                let pads = if g.auto_pad == "VALID" {
                    0
                } else {
                    g.pads[i] + g.pads[i + spatial]
                };
                let s = full - pads;
                if s < 1 {
                    return invalid(format!("output size {s} on axis {i} is not positive"));
                }
                s as u64
            }
        };
        out.push(size);
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
