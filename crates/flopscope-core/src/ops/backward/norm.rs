//! Backward of normalizations and softmax, per element of X (`n = numel(X)`); per-row
//! constants are ignored, as in the forward count.
//!
//! With x̂ = (x − μ)·r (r = 1/σ), the gradients are
//! dγ = Σ dy·x̂, dβ = Σ dy, and dx = r·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ.
//! Per element: recomputing x̂ from the saved statistics 2 (when dx or dγ is needed); dx 8 (g 1,
//! the two sums 3: the product g·x̂ and two adds, then x̂·m₂, two subtractions and ·r: 4), 7
//! without a scale; dγ 2 (product, sum); dβ 1 (sum). RMS normalization (x̂ = x·r, no mean):
//! x̂ 1; dx 6 (g 1, g·x̂ 1, sum 1, x̂·m 1, subtraction 1, ·r 1), 5 without a scale; dγ 2.
//! BatchNormalization is counted in training mode (batch statistics): γ is one number per
//! channel, so dx's two sums are dγ and dβ themselves, 9 per element for all three
//! (`table::batch_norm`). Each saves X and its statistics (fp32: mean and r per row, r
//! alone for RMS). The constants are `table`'s, shared with the recorded ATen kernels.

use super::{table, Back, BackRule, Grad, Saved};
use crate::ops::{axis, mul, numel, OpError};

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    Some(match op {
        "LayerNormalization" => layer_norm,
        "RMSNormalization" => rms_norm,
        "BatchNormalization" => batch_norm,
        "GroupNormalization" => group_norm,
        "InstanceNormalization" => instance_norm,
        "Softmax" | "LogSoftmax" => softmax,
        _ => return None,
    })
}

/// `com.microsoft` rules.
pub fn lookup_ms(op: &str) -> Option<BackRule> {
    Some(match op {
        "SimplifiedLayerNormalization" => rms_norm,
        "SkipLayerNormalization" => skip_layer_norm,
        "SkipSimplifiedLayerNormalization" => skip_rms_norm,
        _ => return None,
    })
}

/// The common count: X at 0, the scale at `gamma`, the shift at `beta`; `rms` without the
/// mean; `rows` sets of statistics.
fn normalize(
    g: &Grad,
    b: &mut Back,
    gamma: Option<usize>,
    beta: Option<usize>,
    rms: bool,
    rows: u64,
) -> Result<(), OpError> {
    let n = g.cx.numel(0)?;
    let has_gamma = gamma.is_some_and(|i| g.cx.opt(i).is_some());
    let need_gamma = gamma.is_some_and(|i| g.need(i));
    let need_beta = beta.is_some_and(|i| g.need(i));
    let xhat = if rms {
        table::RMS_XHAT
    } else {
        table::NORM_XHAT
    };
    if g.need(0) || need_gamma {
        b.per(xhat, n)?;
        b.save(Saved::Input(0));
        b.save(Saved::Stats(mul(&[rows, if rms { 1 } else { 2 }])?));
    }
    if g.need(0) {
        b.per(table::norm_dx(rms, has_gamma), n)?;
    }
    if need_gamma {
        b.per(table::NORM_DGAMMA, n)?;
    }
    if need_beta {
        b.per(table::NORM_DBETA, n)?;
    }
    Ok(())
}

/// Rows of a normalization over the axes from `axis` on.
fn rows_before(g: &Grad, default_axis: i64) -> Result<u64, OpError> {
    let x = g.cx.shape(0)?;
    let a = axis(g.cx.node.attr_int("axis", default_axis), x.len().max(1))?;
    numel(&x[..a.min(x.len())])
}

fn layer_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let rows = rows_before(g, -1)?;
    normalize(g, b, Some(1), Some(2), false, rows)
}

fn rms_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let rows = rows_before(g, -1)?;
    normalize(g, b, Some(1), None, true, rows)
}

/// Statistics per channel (the batch's, as in training); the count of `table::batch_norm`.
fn batch_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let c = g.cx.shape(0)?.get(1).copied().unwrap_or(1);
    let (dx, dgamma, dbeta) = (g.need(0), g.need(1), g.need(2));
    if dx || dgamma {
        b.save(Saved::Input(0));
        b.save(Saved::Stats(mul(&[c, 2])?));
    }
    b.per(table::batch_norm(dx, dgamma, dbeta), g.cx.numel(0)?)
}

/// Statistics per sample and group.
fn group_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let n = g.cx.shape(0)?.first().copied().unwrap_or(1);
    let groups = u64::try_from(g.cx.node.attr_int("num_groups", 1)).unwrap_or(1);
    normalize(g, b, Some(1), Some(2), false, mul(&[n, groups])?)
}

/// Statistics per sample and channel.
fn instance_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let x = g.cx.shape(0)?;
    let rows = numel(&x[..x.len().min(2)])?;
    normalize(g, b, Some(1), Some(2), false, rows)
}

/// SkipLayerNormalization (input, skip, gamma, beta, bias): LayerNormalization's backward on
/// the sum; the skip input's gradient is dx itself (0 FLOPs) and the bias's sums it
/// (`numel(X)` adds).
fn skip_layer_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let rows = rows_before(g, -1)?;
    let h = skip_view(g);
    normalize(&h, b, Some(2), Some(3), false, rows)?;
    b.add(skip_bias(g, 4)?)
}

/// SkipSimplifiedLayerNormalization (input, skip, gamma, bias): as above, RMS.
fn skip_rms_norm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let rows = rows_before(g, -1)?;
    let h = skip_view(g);
    normalize(&h, b, Some(2), None, true, rows)?;
    b.add(skip_bias(g, 3)?)
}

/// The node seen with input 0 needing a gradient when the input, the skip or the bias does:
/// all three receive dx.
fn skip_view<'a>(g: &Grad<'a>) -> Grad<'a> {
    let mut needs = g.needs.clone();
    let any_x = [0, 1, 3, 4].iter().any(|&i| g.need(i));
    if let Some(n) = needs.first_mut() {
        *n = any_x;
    }
    Grad {
        cx: g.cx.select(&(0..g.cx.inputs.len()).collect::<Vec<_>>()),
        outs: g.outs.clone(),
        needs,
        forward: g.forward,
    }
}

fn skip_bias(g: &Grad, i: usize) -> Result<u64, OpError> {
    if g.need(i) {
        g.cx.numel(0)
    } else {
        Ok(0)
    }
}

/// Softmax: dx = y·(dy − Σ y·dy), 4 per element (product, sum, subtraction, product);
/// LogSoftmax: dx = dy − exp(y)·Σ dy, 4 (exp, sum, product, subtraction). Both read Y.
fn softmax(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        b.per(table::SOFTMAX, g.out_numel(0)?)?;
        b.save(Saved::Output(0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::*;
    use crate::ops::testutil::{a_int, f32t};

    #[test]
    fn layer_norm_backward_by_hand() {
        // LayerNorm over [2,128,768] with scale and bias: n = 196,608, 256 rows.
        // x̂ 2 + dx 8 + dγ 2 + dβ 1 = 13 per element = 2,555,904; saves X and 2·256 stats.
        let ins = [f32t(&[2, 128, 768]), f32t(&[768]), f32t(&[768])];
        let (m, f, s) = back(
            "",
            "LayerNormalization",
            &ins,
            &[a_int("axis", -1)],
            &[true; 3],
        );
        assert_eq!((m, f), (0, 196_608 * 13));
        assert_eq!(s, vec![Saved::Input(0), Saved::Stats(512)]);
        // Frozen scale and shift, input needing a gradient: 2 + 8 = 10 per element.
        let (_, f, _) = back("", "LayerNormalization", &ins, &[], &[true, false, false]);
        assert_eq!(f, 196_608 * 10);
    }

    #[test]
    fn batch_norm_and_rms_norm_backward_by_hand() {
        // Training-mode BN on [2,64,56,56] (401,408 elements), all three gradients: x̂ 2,
        // the sums Σdy and Σdy·x̂ 3 (which are dβ and dγ: γ is one number per channel), the
        // combination 4: 9 per element, as native_batch_norm_backward; 128 stats.
        let x = f32t(&[2, 64, 56, 56]);
        let c = f32t(&[64]);
        let ins = [x, c.clone(), c.clone(), c.clone(), c];
        let (_, f, s) = back(
            "",
            "BatchNormalization",
            &ins,
            &[],
            &[true, true, true, false, false],
        );
        assert_eq!(f, 401_408 * 9);
        assert_eq!(s[1], Saved::Stats(128));
        // Only the scale and shift (a frozen input): dγ x̂ 2 + 2, dβ 1.
        let (_, f, _) = back(
            "",
            "BatchNormalization",
            &ins,
            &[],
            &[false, true, true, false, false],
        );
        assert_eq!(f, 401_408 * 5);
        // RMSNorm over [4,10] with a scale: x̂ 1 + dx 6 + dγ 2 = 9 per element; 4 statistics.
        let (_, f, s) = back(
            "",
            "RMSNormalization",
            &[f32t(&[4, 10]), f32t(&[10])],
            &[],
            &[true; 2],
        );
        assert_eq!((f, s[1]), (360, Saved::Stats(4)));
    }

    #[test]
    fn softmax_backward_reads_its_output() {
        let (_, f, s) = back("", "Softmax", &[f32t(&[1, 12, 128, 128])], &[], &[true]);
        assert_eq!((f, s), (4 * 196_608, vec![Saved::Output(0)]));
    }
}
