//! One table of the per-element costs of backward formulas, read by both backward paths: the
//! derived backward of an ONNX graph (the rules of this module's siblings) and the backward
//! kernels recorded from a PyTorch training step (`ops::aten`). Each constant is derived once,
//! here, so that an ONNX export and the module it came from are charged the same for the
//! same gradient (`tests/python/test_training_differential.py` checks it end to end).
//!
//! Conventions (`docs/counting.md`, "Backward"): `dy` is the incoming gradient, `x` the
//! forward's input, `y` its output; a transcendental (exp, tanh, erf) counts 1; a constant
//! factor known before the kernel runs (PyTorch's `2/n` of `mse_loss_backward`, ELU's scales,
//! `√(2/π)`) is folded and not counted; a select counts with the comparison that drives it;
//! a numerical guard (softplus's threshold) is not counted.

/// ReLU: `x > 0 ? dy : 0`, the comparison. (`threshold_backward`, ONNX Relu.)
pub const RELU: u64 = 1;
/// LeakyReLU: the comparison, then `dy` or `α·dy`: 2. (`leaky_relu_backward`.)
pub const LEAKY_RELU: u64 = 2;
/// Hardtanh/ReLU6/Clip: `lo < x < hi ? dy : 0`, two comparisons. (`hardtanh_backward`.)
pub const CLIP: u64 = 2;
/// Sigmoid `dy·y·(1 − y)` and Tanh `dy·(1 − y²)`: 3 each.
pub const SIGMOID: u64 = 3;
/// See [`SIGMOID`].
pub const TANH: u64 = 3;
/// ELU, SELU, CELU: the comparison, `y + α`, `·dy`: 3 (the scale and input scale of
/// PyTorch's `elu_backward`, `dy·s·(y + α)`, are constants, folded).
pub const ELU: u64 = 3;
/// HardSigmoid: two comparisons and `dy/6`: 3. (`hardsigmoid_backward`.)
pub const HARD_SIGMOID: u64 = 3;
/// HardSwish: two comparisons, `x/3 + 0.5` 2, `·dy` 1: 5. (`hardswish_backward`.)
pub const HARD_SWISH: u64 = 5;
/// Softplus: `dy·σ(βx)` computed as PyTorch's kernel does, `z = exp(βx)` (the product and
/// the exp, 2), `z/(z + 1)` 2, `·dy` 1: 5. ONNX's Softplus has no β; its `exp(x)` and the
/// sigmoid's negation count the same. The threshold comparison is a guard, not counted.
pub const SOFTPLUS: u64 = 5;
/// SiLU/Swish `x·σ(x)`: `s = σ(x)` 4 (as the Sigmoid forward: negation, exp, add, division),
/// then `dy·s·(1 + x·(1 − s))` 5: 9.
pub const SILU: u64 = 9;
/// Mish: the sigmoid 4, `tanh(softplus(x))` 3, then `dy·(t + x·s·(1 − t²))` 6: 13.
pub const MISH: u64 = 13;
/// GELU, erf form: `dy·(Φ(x) + x·φ(x))`, `Φ = 0.5·(1 + erf(x/√2))` 4, `φ = exp(−x²/2)/√(2π)`
/// 4, `x·φ`, the sum and `·dy` 3: 11.
pub const GELU_ERF: u64 = 11;
/// GELU, tanh form, as PyTorch's kernel computes it: `x²`, `x³` 2; `inner = β·(x + κ·x³)` 3;
/// `t = tanh(inner)` 1; `0.5·x` 1; `1 + t` 1; `left' = 0.5·(1 + t)` 1; `1 − t²` 2;
/// `β·(1 + 3κ·x²)` 3 (`3κ` a constant); `0.5·x·(1 − t²)·inner'` 2; the sum 1; `·dy` 1: 18.
pub const GELU_TANH: u64 = 18;
/// Softmax `y·(dy − Σ y·dy)`: product, sum, subtraction, product; LogSoftmax
/// `dy − exp(y)·Σ dy`: sum, exp, product, subtraction. 4 each.
pub const SOFTMAX: u64 = 4;
/// Dropout: `dy·mask·scale`, 2.
pub const DROPOUT: u64 = 2;
/// A gradient routed to one place and added there (MaxPool's argmax, an embedding's row,
/// Gather's source element): 1 per routed element.
pub const SCATTER_ADD: u64 = 1;
/// MSE `Σ(x − t)²` (over n): `dx = 2·(x − t)·dy/n`, the difference, `·dy`, the scale (`2/n`
/// folded into one product): 3 per element of `x`, whatever the reduction (under `mean`
/// `dy` is a 0-d tensor, but the gradient has `x`'s size).
pub const MSE: u64 = 3;

/// NLL, per label: the upstream gradient negated and written at the label's score 1, times
/// the class weight when given 1, divided by the count (or total weight) for `mean` 1.
pub fn nll_per_label(weighted: bool, mean: bool) -> u64 {
    1 + u64::from(weighted) + u64::from(mean)
}

/// Normalizations, per element of X, with `x̂ = (x − μ)·r` (`r = 1/σ`) and `g = dy·γ`:
/// recomputing x̂ from the kept statistics, `(x − μ)` and `·r`: 2 (RMS, no mean: 1).
pub const NORM_XHAT: u64 = 2;
/// See [`NORM_XHAT`].
pub const RMS_XHAT: u64 = 1;
/// `g = dy·γ` where γ varies along the normalized axes (LayerNorm, GroupNorm, RMSNorm): 1.
pub const NORM_SCALE: u64 = 1;
/// The row sums `Σ g` (1) and `Σ g·x̂` (product and add, 2): 3; RMS needs only `Σ g·x̂`: 2.
pub const NORM_SUMS: u64 = 3;
/// See [`NORM_SUMS`].
pub const RMS_SUMS: u64 = 2;
/// `r·(g − mean(g) − x̂·mean(g·x̂))`: `x̂·m₂`, two subtractions, `·r`: 4; RMS
/// `r·(g − x̂·mean(g·x̂))`: 3.
pub const NORM_COMBINE: u64 = 4;
/// See [`NORM_COMBINE`].
pub const RMS_COMBINE: u64 = 3;
/// dγ = `Σ dy·x̂` over the other axes: product and add, 2.
pub const NORM_DGAMMA: u64 = 2;
/// dβ = `Σ dy`: 1.
pub const NORM_DBETA: u64 = 1;

/// LayerNorm-style dx (without x̂): g 1 with a scale, the sums 3, the combination 4.
pub fn norm_dx(rms: bool, scaled: bool) -> u64 {
    let (sums, combine) = if rms {
        (RMS_SUMS, RMS_COMBINE)
    } else {
        (NORM_SUMS, NORM_COMBINE)
    };
    u64::from(scaled) * NORM_SCALE + sums + combine
}

/// BatchNorm on the batch's statistics, per element: γ is one number per channel, so `g =
/// dy·γ` folds into the per-channel factor `γ·r`, and dx's two sums `Σ dy` and `Σ dy·x̂` are
/// dβ and dγ themselves. With dx: x̂ 2, the sums 3, the combination 4 = 9, dγ and dβ
/// included; without: dγ `x̂ + 2` = 4, dβ 1.
pub fn batch_norm(dx: bool, dgamma: bool, dbeta: bool) -> u64 {
    if dx {
        NORM_XHAT + NORM_SUMS + NORM_COMBINE
    } else {
        u64::from(dgamma) * (NORM_XHAT + NORM_DGAMMA) + u64::from(dbeta) * NORM_DBETA
    }
}

/// Attention, per score: the softmax gradient `dS = P·(dP − rowsum(dO·O))` 4 (as
/// [`SOFTMAX`]) and the scale 1, whenever dQ or dK is computed.
pub const ATTENTION_SCORE_GRAD: u64 = SOFTMAX + 1;
/// A fused attention kernel that does not keep P (flash, memory-efficient, cuDNN) rebuilds it
/// from the scores it recomputes and the kept log-sum-exp: `exp(scale·s − lse)`, the scale,
/// the subtraction and the exp, 3 per score.
pub const ATTENTION_RECOMPUTE: u64 = 3;
