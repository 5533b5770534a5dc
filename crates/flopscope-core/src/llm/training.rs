//! One training step of a decoder-only checkpoint, from its architecture alone: compute
//! (forward = the profile's prefill, backward = two products per forward product, plus what
//! recomputation runs again), activations saved for backward (Korthikanti et al. 2022, "Reducing
//! Activation Recomputation in Large Transformer Models", generalised to gated MLPs, grouped-query
//! attention and mixtures of experts), the state by optimizer, precision and ZeRO stage
//! ([`TrainingOptions::state`]), and the time a number of tokens takes. Every formula is derived
//! in `docs/training-llm.md`. Every sum and product of counts is checked.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use crate::checked::overflow;
use crate::error::{Error, Result};
use crate::schema::{Arch, Totals, Training, TrainingTime};
use crate::training::{self as step, Precision, Recompute, StepCompute, TrainingOptions};

/// Softmax backward FLOPs per score: `dx = y ⊙ (dy − Σ dy ⊙ y)` is a product, a sum, a
/// difference and a product per element (the forward counts 5: max, difference, exp, sum,
/// division).
pub const SOFTMAX_BACKWARD_FLOPS: u64 = 4;
/// Softmax forward FLOPs per score, as the prefill counts them.
pub const SOFTMAX_FORWARD_FLOPS: u64 = 5;
/// Model-FLOPs utilisation assumed when none is given.
pub const DEFAULT_MFU: f64 = 0.4;

/// Activation bytes of one step on one GPU (its micro-batch of B sequences of L tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActivationBytes {
    /// Saved by one transformer layer under the recomputation mode.
    pub per_layer: u64,
    /// Saved by all layers: `per_layer × layers`.
    pub layers: u64,
    /// Saved outside the layers: the embedding dropout mask, the final norm's and the LM head's
    /// inputs, and the fp32 logits the cross-entropy keeps.
    pub outside: u64,
    /// `layers + outside`: what is held when backward starts.
    pub saved: u64,
    /// What one layer rematerialises during its backward (recomputation only): held on top of
    /// `saved` at the peak.
    pub recomputed: u64,
}

fn prod(xs: &[u64]) -> Option<u64> {
    xs.iter().try_fold(1u64, |acc, &x| acc.checked_mul(x))
}

fn sum(xs: &[u64]) -> Option<u64> {
    xs.iter().try_fold(0u64, |acc, &x| acc.checked_add(x))
}

/// Whether the block trains with dropout. GPT-2's configs set `resid_pdrop`, `attn_pdrop` and
/// `embd_pdrop` (0.1), the block Korthikanti et al. model; the gated-MLP families (Llama,
/// Mistral, Qwen2, Mixtral) train without dropout.
fn has_dropout(a: &Arch) -> bool {
    !a.gated_mlp
}

/// Activations saved for backward at batch `b`, sequence `s`: per layer, term by term (see
/// `docs/training-llm.md`), with `p` bytes per 16-bit (or fp32) activation and 1 per dropout
/// mask. For GPT-2 at `p = 2` this is Korthikanti et al.'s `s·b·h·(34 + 5·a·s/h)` per layer
/// (none), `34·s·b·h` (selective) and `2·s·b·h` (full).
pub fn activation_bytes(
    a: &Arch,
    b: u64,
    s: u64,
    precision: Precision,
    recompute: Recompute,
) -> Option<ActivationBytes> {
    let p = precision.compute_bytes();
    let m = u64::from(has_dropout(a));
    let (h, f) = (a.hidden, a.intermediate);
    let q = a.heads.checked_mul(a.head_dim)?;
    let k = a.kv_heads.checked_mul(a.head_dim)?;
    // Bytes per token of one layer that do not grow with s.
    let norms = prod(&[2, p, h])?; // each norm's input
    let attention = sum(&[
        prod(&[p, h])?, // the QKV projections' input (the norm's output)
        prod(&[p, q])?, // Q after rotary embedding, for QKᵀ
        prod(&[p, k])?, // K likewise
        prod(&[p, k])?, // V, for AV
        prod(&[p, q])?, // the output projection's input
        prod(&[m, h])?, // its dropout's mask
    ])?;
    // Gated: gate output (SiLU's input), up output, SiLU output, down's input; plain: GeLU's
    // input and the second matrix's input. Each for every expert a token is routed to.
    let f_terms = if a.gated_mlp { 4 } else { 2 };
    let router = if a.experts > 1 {
        prod(&[p, a.experts])?
    } else {
        0
    };
    let mlp = sum(&[
        prod(&[p, h])?, // the first matrices' input (the norm's output)
        prod(&[a.experts_per_token, f_terms, p, f])?,
        router,         // router probabilities, for the softmax's backward
        prod(&[m, h])?, // the dropout mask after the MLP
    ])?;
    let per_token = sum(&[norms, attention, mlp])?;
    // Bytes per score (b·a·s² of them): softmax output; with dropout its mask and output too.
    let per_score = sum(&[p, prod(&[m, sum(&[1, p])?])?])?;
    let tokens = prod(&[b, s])?;
    let linear = prod(&[tokens, per_token])?;
    let scores = prod(&[b, a.heads, s, s, per_score])?;
    let none = linear.checked_add(scores)?;
    let input = prod(&[tokens, p, h])?; // the layer's input, all `full` keeps
    let (per_layer, recomputed) = match recompute {
        Recompute::None => (none, 0),
        Recompute::Selective => (linear, scores),
        Recompute::Full => (input, none.checked_sub(input)?),
    };
    let layers = prod(&[per_layer, a.layers])?;
    // Embedding dropout mask, final norm input, LM head input; fp32 logits (4 bytes each) for
    // the cross-entropy's backward, whatever the precision.
    let outside = prod(&[
        tokens,
        sum(&[prod(&[m, h])?, prod(&[2, p, h])?, prod(&[4, a.vocab])?])?,
    ])?;
    Some(ActivationBytes {
        per_layer,
        layers,
        outside,
        saved: layers.checked_add(outside)?,
        recomputed,
    })
}

/// Forward, backward and recomputed compute of one step. Forward is the profile's prefill
/// (`totals`); backward is twice its MACs (each product's input gradient and weight gradient,
/// QKᵀ and AV's two operand gradients) and `2·MACs + 4 per score` FLOPs; recomputation adds
/// the core attention (selective) or every layer's forward (full: all but the LM head).
/// With `causal_half` (`--attention causal-half`) the scores are half the L × L matrix, as
/// in the prefill `totals` (MaxText's training count: 3 × the causal half). Returns the step
/// and the recomputed FLOPs alone.
pub fn compute(
    a: &Arch,
    totals: &Totals,
    b: u64,
    s: u64,
    r: Recompute,
    causal_half: bool,
) -> Option<(StepCompute, u64)> {
    let tokens = prod(&[b, s])?;
    let head = prod(&[tokens, a.head_macs().ok()?])?;
    let mut score_macs = prod(&[b, a.layers, s, a.attn_score_macs(s)?])?;
    let mut scores = prod(&[b, a.layers, a.heads, s, s])?;
    if causal_half {
        (score_macs, scores) = (score_macs.checked_div(2)?, scores.checked_div(2)?);
    }
    let backward_macs = totals.macs.checked_mul(2)?;
    let backward_flops = backward_macs
        .checked_mul(2)?
        .checked_add(scores.checked_mul(SOFTMAX_BACKWARD_FLOPS)?)?;
    let (re_macs, re_flops) = match r {
        Recompute::None => (0, 0),
        Recompute::Selective => (
            score_macs,
            score_macs
                .checked_mul(2)?
                .checked_add(scores.checked_mul(SOFTMAX_FORWARD_FLOPS)?)?,
        ),
        Recompute::Full => (
            totals.macs.checked_sub(head)?,
            totals.flops.checked_sub(head.checked_mul(2)?)?,
        ),
    };
    let c = StepCompute {
        forward_macs: totals.macs,
        forward_flops: totals.flops,
        backward_macs: backward_macs.checked_add(re_macs)?,
        backward_flops: backward_flops.checked_add(re_flops)?,
        saved_bytes: 0,
        trainable_params: None,
    };
    Some((c, re_flops))
}

/// Checks the options of the time estimate: a positive peak, a utilisation in (0, 1].
fn check_time(opts: &TrainingOptions) -> Result<()> {
    if let Some(g) = opts.peak_gflops {
        if !(g.is_finite() && g > 0.0) {
            return Err(Error::Usage(format!(
                "--peak-gflops {g}: must be a positive number"
            )));
        }
    }
    if let Some(u) = opts.mfu {
        if !(u.is_finite() && u > 0.0 && u <= 1.0) {
            return Err(Error::Usage(format!(
                "--mfu {u}: must be a fraction in (0, 1]"
            )));
        }
    }
    Ok(())
}

/// The training section of a checkpoint's profile at batch `b`, sequence `s` (one GPU's
/// micro-batch; data-parallel GPUs each run their own). `totals` are the prefill the profile
/// reports, with `causal_half` as they were counted. Warnings about missing time options go
/// to `warnings`.
pub fn section(
    a: &Arch,
    totals: &Totals,
    (b, s): (u64, u64),
    causal_half: bool,
    opts: &TrainingOptions,
    warnings: &mut Vec<String>,
) -> Result<Training> {
    opts.validate()?;
    check_time(opts)?;
    let (mut c, re_flops) = compute(a, totals, b, s, opts.recompute, causal_half)
        .ok_or_else(|| overflow("the training step's compute"))?;
    let act = activation_bytes(a, b, s, opts.precision, opts.recompute)
        .ok_or_else(|| overflow("the training step's activation bytes"))?;
    c.saved_bytes = act.saved;
    let mut t = step::section(c, totals, opts)?;
    // The layer being recomputed holds its tensors while its backward runs.
    crate::checked::add_to(
        &mut t.memory.peak_bytes,
        act.recomputed,
        "the training step's peak memory",
    )?;
    let tokens = prod(&[b, s]).ok_or_else(|| overflow("the tokens per step"))?;
    if tokens == 0 {
        return Ok(t);
    }
    t.tokens_per_step = Some(tokens);
    t.flops_per_token = Some(t.flops as f64 / tokens as f64);
    // Model-FLOPs utilisation counts the model's FLOPs, not what recomputation runs again
    // (Korthikanti et al. §5; PaLM's MFU): the time divides those by the achieved rate.
    let model_per_token = t.flops.saturating_sub(re_flops) as f64 / tokens as f64;
    match (opts.tokens, opts.peak_gflops) {
        (Some(n), Some(peak)) => {
            let mfu = opts.mfu.unwrap_or(DEFAULT_MFU);
            let rate = opts.gpus.max(1) as f64 * peak * 1e9 * mfu;
            t.time = Some(TrainingTime {
                tokens: n,
                peak_gflops: peak,
                mfu,
                gpus: opts.gpus,
                seconds: n as f64 * model_per_token / rate,
            });
        }
        (Some(_), None) => warnings
            .push("--tokens needs --peak-gflops (one GPU's peak) for the training time".into()),
        (None, Some(_)) => warnings
            .push("--peak-gflops needs --tokens (tokens to train on) for the training time".into()),
        (None, None) => {}
    }
    Ok(t)
}
