//! The memory of a training step's state, shared by every source (ONNX graph, built-in model,
//! checkpoint, traced module): weights, gradients and optimizer state per parameter, by
//! optimizer and precision (the accounting of Rajbhandari et al., "ZeRO", 2020), split over
//! data-parallel GPUs by ZeRO stage. Compute (forward and backward MACs) and the activations
//! saved for backward come from the source's own analysis. See `docs/training.md`. Every sum
//! and product of counts is checked ([`crate::checked`]).
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use std::fmt;
use std::str::FromStr;

use crate::checked::{add, add_to, mul};
use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::infer::Analysis;
use crate::schema::{Totals, Training, TrainingMemory, Unsupported};

/// The optimizer whose state is kept per trainable parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Optimizer {
    /// Plain SGD: no state.
    Sgd,
    /// SGD with momentum: one fp32 momentum per parameter.
    SgdMomentum,
    /// Adam or AdamW: fp32 first and second moments per parameter.
    #[default]
    Adam,
}

/// Numeric precision of the step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// Everything in fp32.
    #[default]
    Fp32,
    /// bf16 weights, activations and gradients, with fp32 master weights in the optimizer.
    Bf16Mixed,
    /// fp16 likewise (with a loss scaler, whose state is negligible).
    Fp16Mixed,
}

/// How much of the forward pass is recomputed during backward instead of kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Recompute {
    /// Every tensor backward needs is kept.
    #[default]
    None,
    /// Attention's score-sized tensors are recomputed (Korthikanti et al. 2022, "selective").
    Selective,
    /// Only each block's input is kept; the block's forward runs again during backward.
    Full,
}

/// Options of a training-step profile (`--training`, `training=True`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingOptions {
    /// Optimizer (`--optimizer`).
    pub optimizer: Optimizer,
    /// Precision (`--precision`).
    pub precision: Precision,
    /// Activation recomputation (`--recompute`).
    pub recompute: Recompute,
    /// Data-parallel GPUs the state is split over (`--gpus`).
    pub gpus: u64,
    /// ZeRO stage 0 to 3 (`--zero`): 1 shards optimizer state, 2 also gradients, 3 also weights.
    pub zero_stage: u8,
    /// Tokens to train on (`--tokens`), for the time a language model's training takes.
    pub tokens: Option<u64>,
    /// Peak GFLOP/s of one GPU (`--peak-gflops`), for that time.
    pub peak_gflops: Option<f64>,
    /// Model-FLOPs utilisation assumed (`--mfu`, a fraction of the peak; 0.4 by default).
    pub mfu: Option<f64>,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            optimizer: Optimizer::default(),
            precision: Precision::default(),
            recompute: Recompute::default(),
            gpus: 1,
            zero_stage: 0,
            tokens: None,
            peak_gflops: None,
            mfu: None,
        }
    }
}

/// Bytes of the state of a training step (one GPU's share when split).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StateBytes {
    /// Weights as the step computes with them (fp32, or the 16-bit copy).
    pub weights_bytes: u64,
    /// Gradients of the trainable parameters, in the compute precision.
    pub gradients_bytes: u64,
    /// Optimizer state of the trainable parameters, fp32 master weights included.
    pub optimizer_bytes: u64,
}

impl Precision {
    /// Bytes per element of weights, activations and gradients.
    pub fn compute_bytes(self) -> u64 {
        match self {
            Precision::Fp32 => 4,
            Precision::Bf16Mixed | Precision::Fp16Mixed => 2,
        }
    }
}

impl TrainingOptions {
    /// Optimizer-state bytes per trainable parameter: the moments (SGD 0, momentum 4, Adam 8)
    /// plus, in mixed precision, the fp32 master copy (4). Adam in bf16-mixed: 12, and with
    /// 2 + 2 for the 16-bit weights and gradients, the ZeRO paper's 16 bytes per parameter.
    pub fn optimizer_bytes_per_param(&self) -> u64 {
        match (self.optimizer, self.precision) {
            (Optimizer::Sgd, Precision::Fp32) => 0,
            (Optimizer::Sgd, _) | (Optimizer::SgdMomentum, Precision::Fp32) => 4,
            (Optimizer::SgdMomentum, _) | (Optimizer::Adam, Precision::Fp32) => 8,
            (Optimizer::Adam, _) => 12,
        }
    }

    /// The state of a step over `params` parameters of which `trainable` are trained: whole
    /// (one GPU), or one GPU's share under the ZeRO stage over `gpus` (sharded parts divided,
    /// rounded up). An error when a whole (unsharded) size overflows 64 bits.
    pub fn state(&self, params: u64, trainable: u64) -> Result<StateBytes> {
        let b = self.precision.compute_bytes();
        let n = std::num::NonZeroU64::new(self.gpus).unwrap_or(std::num::NonZeroU64::MIN);
        let share = |x: u64, sharded: bool| if sharded { x.div_ceil(n.get()) } else { x };
        Ok(StateBytes {
            weights_bytes: share(
                mul(params, b, "the training step's weight bytes")?,
                self.zero_stage >= 3,
            ),
            gradients_bytes: share(
                mul(trainable, b, "the training step's gradient bytes")?,
                self.zero_stage >= 2,
            ),
            optimizer_bytes: share(
                mul(
                    trainable,
                    self.optimizer_bytes_per_param(),
                    "the training step's optimizer bytes",
                )?,
                self.zero_stage >= 1,
            ),
        })
    }

    /// Checks the options: at least 1 GPU, stage 0 to 3.
    pub fn validate(&self) -> Result<()> {
        if self.gpus == 0 {
            return Err(Error::Usage("--gpus must be at least 1".into()));
        }
        if self.zero_stage > 3 {
            return Err(Error::Usage(format!(
                "ZeRO stage {} does not exist (0 to 3)",
                self.zero_stage
            )));
        }
        Ok(())
    }
}

impl Optimizer {
    /// FLOPs of the update of one parameter: SGD 2 (`p − lr·g`), with momentum 4 (`μ·v + g`,
    /// then the step), Adam/AdamW 14 (first moment 3, second 4, `√v + ε` 2, the ratio 1,
    /// decoupled weight decay 2, the step 2). Per-tensor scalars (bias corrections) and the
    /// casts of mixed precision are not counted.
    pub fn flops_per_param(self) -> u64 {
        match self {
            Optimizer::Sgd => 2,
            Optimizer::SgdMomentum => 4,
            Optimizer::Adam => 14,
        }
    }
}

/// Forward and backward compute of a step, and the bytes saved for backward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepCompute {
    /// Forward MACs.
    pub forward_macs: u64,
    /// Forward FLOPs.
    pub forward_flops: u64,
    /// Backward MACs.
    pub backward_macs: u64,
    /// Backward FLOPs.
    pub backward_flops: u64,
    /// Activations saved for backward.
    pub saved_bytes: u64,
    /// Parameters that get a gradient, when the analysis knows better than the profile's
    /// totals (a quantized graph's integer weights get none).
    pub trainable_params: Option<u64>,
}

/// Nodes whose cost (forward, or backward) is not counted, by operator and reason (five
/// examples each): the profile's `unsupported` and the training's `backward_unknown`.
pub type UnknownNodes = std::collections::BTreeMap<(String, String), Unsupported>;

/// Records node `n` in `unknown` for `reason`.
pub fn note_unknown(unknown: &mut UnknownNodes, n: &crate::graph::Node, reason: &str) {
    let label = if n.domain.is_empty() {
        n.op_type.clone()
    } else {
        format!("{}::{}", n.domain, n.op_type)
    };
    let e = unknown
        .entry((label.clone(), reason.to_string()))
        .or_insert_with(|| Unsupported {
            op: label,
            count: 0,
            reason: reason.to_string(),
            examples: vec![],
        });
    // One per node recorded: below the number of nodes.
    e.count = e.count.saturating_add(1);
    if e.examples.len() < 5 {
        e.examples.push(n.name.clone());
    }
}

/// The compute of a recorded step (a trace with its backward pass, `g.backward_start`): nodes
/// before the first backward node are the forward pass, the others the backward pass; the
/// saved bytes are what the framework measured. Backward nodes of unknown cost are returned
/// apart (the backward totals are then lower bounds; the forward's are already listed in the
/// profile's `unsupported`). `None` when `g` has no recorded backward; an error when a total
/// overflows 64 bits.
pub fn recorded(g: &Graph, a: &Analysis) -> Result<Option<(StepCompute, Vec<Unsupported>)>> {
    let Some(k) = g.backward_start else {
        return Ok(None);
    };
    let mut c = StepCompute {
        saved_bytes: g.saved_activation_bytes.unwrap_or(0),
        ..StepCompute::default()
    };
    let mut unknown = UnknownNodes::new();
    for (i, r) in a.nodes.iter().enumerate() {
        let Some(cost) = r.cost else {
            if i >= k {
                note_unknown(&mut unknown, &g.nodes[i], "cost unknown");
            }
            continue;
        };
        let (m, f, pass) = if i < k {
            (&mut c.forward_macs, &mut c.forward_flops, "forward")
        } else {
            (&mut c.backward_macs, &mut c.backward_flops, "backward")
        };
        add_to(m, cost.macs, format_args!("the recorded {pass} MACs"))?;
        add_to(f, cost.flops, format_args!("the recorded {pass} FLOPs"))?;
    }
    Ok(Some((c, unknown.into_values().collect())))
}

/// The training section of a profile from a step's compute and the profile's totals; an error
/// when a total overflows 64 bits.
pub fn section(c: StepCompute, totals: &Totals, opts: &TrainingOptions) -> Result<Training> {
    // Frozen parameters are a part of all parameters: the difference is never below zero.
    let trainable = c
        .trainable_params
        .unwrap_or_else(|| totals.params.saturating_sub(totals.frozen_params));
    let state = opts.state(totals.params, trainable)?;
    let optimizer_flops = mul(
        trainable,
        opts.optimizer.flops_per_param(),
        "the optimizer's FLOPs",
    )?;
    let peak = "the training step's peak memory";
    let memory = TrainingMemory {
        weights_bytes: state.weights_bytes,
        gradients_bytes: state.gradients_bytes,
        optimizer_bytes: state.optimizer_bytes,
        activations_bytes: c.saved_bytes,
        // The state and every saved activation are held together when backward starts.
        peak_bytes: crate::checked::sum(
            [
                state.weights_bytes,
                state.gradients_bytes,
                state.optimizer_bytes,
                c.saved_bytes,
            ],
            peak,
        )?,
    };
    Ok(Training {
        optimizer: opts.optimizer.to_string(),
        precision: opts.precision.to_string(),
        recompute: opts.recompute.to_string(),
        gpus: opts.gpus,
        zero_stage: opts.zero_stage,
        trainable_params: trainable,
        frozen_params: totals.params.saturating_sub(trainable),
        forward_macs: c.forward_macs,
        backward_macs: c.backward_macs,
        macs: add(c.forward_macs, c.backward_macs, "the training step's MACs")?,
        forward_flops: c.forward_flops,
        backward_flops: c.backward_flops,
        optimizer_flops,
        flops: crate::checked::sum(
            [c.forward_flops, c.backward_flops, optimizer_flops],
            "the training step's FLOPs",
        )?,
        memory,
        tokens_per_step: None,
        flops_per_token: None,
        time: None,
        backward_unknown: vec![],
    })
}

macro_rules! named {
    ($t:ty, $what:literal, $($name:literal => $v:expr),+ $(,)?) => {
        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($v),)+
                    _ => Err(Error::Usage(format!(
                        concat!("unknown ", $what, " '{}' (one of: {})"),
                        s,
                        [$($name),+].join(", ")
                    ))),
                }
            }
        }
    };
}

named!(Optimizer, "optimizer", "sgd" => Optimizer::Sgd, "sgd-momentum" => Optimizer::SgdMomentum,
    "adam" => Optimizer::Adam, "adamw" => Optimizer::Adam);
named!(Precision, "precision", "fp32" => Precision::Fp32, "bf16-mixed" => Precision::Bf16Mixed,
    "fp16-mixed" => Precision::Fp16Mixed);
named!(Recompute, "recomputation", "none" => Recompute::None,
    "selective" => Recompute::Selective, "full" => Recompute::Full);

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Optimizer::Sgd => "sgd",
            Optimizer::SgdMomentum => "sgd-momentum",
            Optimizer::Adam => "adam",
        })
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16Mixed => "bf16-mixed",
            Precision::Fp16Mixed => "fp16-mixed",
        })
    }
}

impl fmt::Display for Recompute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Recompute::None => "none",
            Recompute::Selective => "selective",
            Recompute::Full => "full",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adamw_bf16_mixed_is_the_zero_papers_16_bytes() {
        // Rajbhandari et al.: 2 + 2 bytes of 16-bit weights and gradients, 4 + 4 + 4 of fp32
        // master weights, momentum and variance.
        let o = TrainingOptions {
            optimizer: "adamw".parse().unwrap(),
            precision: "bf16-mixed".parse().unwrap(),
            ..TrainingOptions::default()
        };
        let s = o.state(1_000, 1_000).unwrap();
        assert_eq!(
            (s.weights_bytes, s.gradients_bytes, s.optimizer_bytes),
            (2_000, 2_000, 12_000)
        );
        // fp32 Adam: 4 + 4 + 8; SGD with momentum 4 + 4 + 4; frozen parameters only weights.
        let fp32 = TrainingOptions::default().state(1_000, 600).unwrap();
        assert_eq!(
            (
                fp32.weights_bytes,
                fp32.gradients_bytes,
                fp32.optimizer_bytes
            ),
            (4_000, 2_400, 4_800)
        );
    }

    #[test]
    fn zero_stages_shard_optimizer_then_gradients_then_weights() {
        // 1,000 parameters, Adam bf16-mixed, 8 GPUs: 2000 / 2000 / 12000 bytes whole.
        let mut o = TrainingOptions {
            precision: Precision::Bf16Mixed,
            gpus: 8,
            ..TrainingOptions::default()
        };
        let per = |o: &TrainingOptions| {
            let s = o.state(1_000, 1_000).unwrap();
            (s.weights_bytes, s.gradients_bytes, s.optimizer_bytes)
        };
        assert_eq!(per(&o), (2_000, 2_000, 12_000));
        o.zero_stage = 1;
        assert_eq!(per(&o), (2_000, 2_000, 1_500));
        o.zero_stage = 2;
        assert_eq!(per(&o), (2_000, 250, 1_500));
        o.zero_stage = 3;
        assert_eq!(per(&o), (250, 250, 1_500));
        o.zero_stage = 4;
        assert!(o.validate().is_err());
        assert!("lamb"
            .parse::<Optimizer>()
            .unwrap_err()
            .to_string()
            .contains("sgd-momentum"));
    }
}
