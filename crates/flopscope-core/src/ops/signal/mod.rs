//! Signal family: DFT, STFT, HannWindow, HammingWindow, BlackmanWindow, MelWeightMatrix. See
//! `docs/counting.md`, "Signal processing".
//!
//! A transform of length N costs what a radix-2 FFT of N complex points does, 5·N·⌈log2 N⌉
//! real FLOPs per transformed vector (whatever the input: real, complex or one-sided); an
//! inverse DFT adds its 1/N scaling (1 per real output value). STFT adds the window product.
//! The window generators cost their per-element formula, MelWeightMatrix 2 per element.

use super::{axis, invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::{Attr, DType};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "DFT" => OpDef {
            infer: infer_dft,
            cost: cost_dft,
        },
        "STFT" => OpDef {
            infer: infer_stft,
            cost: cost_stft,
        },
        "HannWindow" | "HammingWindow" | "BlackmanWindow" => OpDef {
            infer: infer_window,
            cost: cost_window,
        },
        "MelWeightMatrix" => OpDef {
            infer: infer_mel,
            cost: cost_mel,
        },
        _ => return None,
    })
}

/// The first value of input `i`, a scalar (or one-element) integer tensor.
fn scalar(cx: &Ctx, i: usize) -> Result<i64, OpError> {
    match cx.ints(i)?.first() {
        Some(&v) => Ok(v),
        None => invalid(format!("input {i} is empty, a scalar is expected")),
    }
}

/// A size read from input `i`, at least `min`.
fn size_input(cx: &Ctx, i: usize, min: u64) -> Result<u64, OpError> {
    let v = scalar(cx, i)?;
    match u64::try_from(v) {
        Ok(u) if u >= min => Ok(u),
        _ => invalid(format!("input {i} is {v}, expected at least {min}")),
    }
}

/// ⌈log2 n⌉ (0 for n ≤ 1).
fn ceil_log2(n: u64) -> u64 {
    if n <= 1 {
        0
    } else {
        u64::from(64 - (n - 1).leading_zeros())
    }
}

/// Real FLOPs of one radix-2 FFT of `n` points: 5·n·⌈log2 n⌉.
fn fft_flops(n: u64) -> Result<u64, OpError> {
    mul(&[5, n, ceil_log2(n)])
}

/// The output element type the `output_datatype` attribute names (float by default).
fn output_datatype(cx: &Ctx) -> Result<DType, OpError> {
    match cx.node.attrs.get("output_datatype") {
        Some(Attr::Int(code)) => {
            Ok(DType::from_onnx(i32::try_from(*code).map_err(|_| {
                OpError::Invalid(format!("output_datatype {code}"))
            })?))
        }
        _ => Ok(DType::F32),
    }
}

/// What a DFT node transforms: the axis (`None` when it is an unknown input) and the length.
struct Dft {
    axis: Option<usize>,
    /// The transform length N (`None` when the axis is unknown).
    n: Option<u64>,
    inverse: bool,
    onesided: bool,
}

fn dft_params(cx: &Ctx) -> Result<Dft, OpError> {
    let x = cx.shape(0)?;
    let r = x.len();
    if r < 2 {
        return invalid(format!(
            "input {x:?} has rank < 2 (need [..., signal, 1 or 2])"
        ));
    }
    if x[r - 1] != 1 && x[r - 1] != 2 {
        return invalid(format!(
            "the last dim of input {x:?} is {}, not 1 (real) or 2 (complex)",
            x[r - 1]
        ));
    }
    let inverse = cx.node.attr_int("inverse", 0) != 0;
    let onesided = cx.node.attr_int("onesided", 0) != 0;
    // DFT-17 takes the axis as an attribute (default 1), DFT-20 as input 2 (default -2).
    let raw = if cx.opset >= 20 {
        match cx.opt(2) {
            None => Some(-2),
            Some(t) => match t.value.as_deref() {
                Some(v) => Some(
                    *v.to_ints()
                        .first()
                        .ok_or_else(|| OpError::Invalid("the axis input is empty".into()))?,
                ),
                None => None,
            },
        }
    } else {
        Some(cx.node.attr_int("axis", 1))
    };
    let given = match cx.opt(1) {
        Some(_) => Some(size_input(cx, 1, 1)?),
        None => None,
    };
    let Some(raw) = raw else {
        return Ok(Dft {
            axis: None,
            n: None,
            inverse,
            onesided,
        });
    };
    let a = axis(raw, r)?;
    if a == r - 1 {
        return invalid(format!(
            "axis {raw} is the real/imaginary axis of input {x:?}"
        ));
    }
    let n = match given {
        Some(n) => n,
        // IRFFT defaults to the even length whose one-sided spectrum has x[a] bins.
        None if inverse && onesided => match x[a].checked_sub(1) {
            Some(m) if m > 0 => 2 * m,
            _ => return invalid(format!("an inverse one-sided DFT of {} bins", x[a])),
        },
        None => x[a],
    };
    Ok(Dft {
        axis: Some(a),
        n: Some(n),
        inverse,
        onesided,
    })
}

fn infer_dft(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let p = dft_params(cx)?;
    let mut out = x.to_vec();
    let last = out.len() - 1;
    match (p.axis, p.n) {
        (Some(a), Some(n)) => {
            out[a] = if p.onesided && !p.inverse {
                n / 2 + 1
            } else {
                n
            };
            out[last] = if p.onesided && p.inverse { 1 } else { 2 };
        }
        // An unknown axis changes no size only for a full DFT of the axis's own length.
        _ if !p.onesided && cx.opt(1).is_none() => out[last] = 2,
        _ => return Err(OpError::Unknown),
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_dft(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let x = cx.shape(0)?;
    let p = dft_params(cx)?;
    let last = x.len() - 1;
    let (Some(a), Some(n)) = (p.axis, p.n) else {
        // An axis given at run time, for a full DFT of its own length (the only case whose
        // shape is known): the cost along each axis it may be; one value when they agree,
        // else the largest, said in a warning.
        if p.onesided || cx.opt(1).is_some() {
            return Err(OpError::Unknown);
        }
        let each: Vec<Cost> = (0..last)
            .map(|a| dft_cost_along(x, a, x[a], p.inverse, out))
            .collect::<Result<_, _>>()?;
        let most = each
            .iter()
            .copied()
            .max_by_key(|c| c.flops)
            .unwrap_or_default();
        if each.iter().any(|c| *c != most) {
            cx.warn(format!(
                "the DFT axis is known only at run time: counted along the costliest axis \
                 ({} FLOPs)",
                most.flops
            ));
        }
        return Ok(most);
    };
    dft_cost_along(x, a, n, p.inverse, out)
}

/// FLOPs of transforms of length `n` along axis `a` of `x`, one per position of the other
/// signal axes (an inverse scales its outputs too).
fn dft_cost_along(
    x: &[u64],
    a: usize,
    n: u64,
    inverse: bool,
    out: &[Tensor],
) -> Result<Cost, OpError> {
    let last = x.len() - 1;
    // One transform per position of every other signal axis.
    let others: Vec<u64> = (0..last).filter(|&i| i != a).map(|i| x[i]).collect();
    let vectors = mul(&others)?;
    let mut per = fft_flops(n)?;
    if inverse {
        let y = out[0].shape.as_deref().ok_or(OpError::Unknown)?;
        per = per
            .checked_add(mul(&[n, y[last]])?)
            .ok_or_else(super::overflow)?;
    }
    Ok(Cost::flops(mul(&[vectors, per])?))
}

/// Signal `[B, L, 1 or 2]`: frames of `frame_length` (input 3, else the window's length,
/// else L) every `frame_step` (input 1) samples.
struct Stft {
    batch: u64,
    frames: u64,
    frame: u64,
    components: u64,
}

fn stft_params(cx: &Ctx) -> Result<Stft, OpError> {
    let x = cx.shape(0)?;
    if x.len() != 3 || (x[2] != 1 && x[2] != 2) {
        return invalid(format!("signal {x:?} is not [batch, length, 1 or 2]"));
    }
    let step = size_input(cx, 1, 1)?;
    let window = match cx.opt(2).and_then(|w| w.shape.as_deref()) {
        Some(&[w]) => Some(w),
        Some(s) => return invalid(format!("window {s:?} is not 1-D")),
        None if cx.opt(2).is_some() => return Err(OpError::Unknown),
        None => None,
    };
    let frame = match (cx.opt(3), window) {
        (Some(_), w) => {
            let f = size_input(cx, 3, 1)?;
            if w.is_some_and(|w| w != f) {
                return invalid(format!("frame_length {f} differs from the window's length"));
            }
            f
        }
        (None, Some(w)) => w,
        (None, None) => x[1],
    };
    let Some(rest) = x[1].checked_sub(frame) else {
        return invalid(format!(
            "frame_length {frame} is longer than the signal ({})",
            x[1]
        ));
    };
    Ok(Stft {
        batch: x[0],
        frames: rest / step + 1,
        frame,
        components: x[2],
    })
}

fn infer_stft(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let p = stft_params(cx)?;
    let bins = if cx.node.attr_int("onesided", 1) != 0 {
        p.frame / 2 + 1
    } else {
        p.frame
    };
    Ok(vec![Tensor::new(
        cx.dtype(0)?,
        vec![p.batch, p.frames, bins, 2],
    )])
}

fn cost_stft(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let p = stft_params(cx)?;
    let mut per = fft_flops(p.frame)?;
    if cx.opt(2).is_some() {
        per = per
            .checked_add(mul(&[p.frame, p.components])?)
            .ok_or_else(super::overflow)?;
    }
    Ok(Cost::flops(mul(&[p.batch, p.frames, per])?))
}

fn infer_window(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let n = size_input(cx, 0, 0)?;
    Ok(vec![Tensor::new(output_datatype(cx)?, vec![n])])
}

/// Hann and Hamming `a − b·cos(2πn/N)`: angle, cosine, product, difference = 4. Blackman
/// `a0 − a1·cos(x) + a2·cos(2x)`: 2 angles, 2 cosines, 2 products, 2 adds = 8.
fn cost_window(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let n = super::numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    let per = if cx.node.op_type == "BlackmanWindow" {
        8
    } else {
        4
    };
    Ok(Cost::flops(mul(&[n, per])?))
}

/// `[floor(dft_length / 2) + 1, num_mel_bins]`.
fn infer_mel(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let bins = size_input(cx, 0, 1)?;
    let dft = size_input(cx, 1, 1)?;
    Ok(vec![Tensor::new(
        output_datatype(cx)?,
        vec![dft / 2 + 1, bins],
    )])
}

/// 2 per element: the ramp of a triangle filter, a difference and a division.
fn cost_mel(_: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let n = super::numel(out[0].shape.as_deref().ok_or(OpError::Unknown)?)?;
    Ok(Cost::flops(mul(&[n, 2])?))
}

#[cfg(test)]
mod tests;
