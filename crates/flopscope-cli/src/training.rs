//! The training-step options of `profile` and `check` (`--training`, `--optimizer`, …): parsed
//! here into the library's [`TrainingOptions`], each bad value a one-line usage error (exit 2).

use flopscope_core::format::parse_count;
use flopscope_core::training::TrainingOptions;
use flopscope_core::Error;

/// Options of a training step. Any of them asks for one (`--training` is implied).
#[derive(clap::Args, Clone, Default)]
pub(crate) struct TrainingArgs {
    /// Also count one training step: forward, backward and optimizer compute, and its memory
    /// (docs/training.md).
    #[arg(long)]
    pub training: bool,
    /// Optimizer whose state the step keeps: sgd, sgd-momentum, adam, adamw (default adam).
    #[arg(long, value_name = "NAME")]
    pub optimizer: Option<String>,
    /// Activation recomputation: none, selective (attention scores), full (block inputs only).
    #[arg(long, value_name = "MODE")]
    pub recompute: Option<String>,
    /// Data-parallel GPUs the training state is split over (memory is one GPU's).
    #[arg(long, value_name = "N")]
    pub gpus: Option<String>,
    /// ZeRO stage 0 to 3 with --gpus: 1 shards optimizer state, 2 gradients too, 3 weights too.
    #[arg(long = "zero", value_name = "STAGE")]
    pub zero: Option<String>,
    /// Tokens to train on, e.g. 300B or 2T (K, M, G/B, T: powers of 1000), for a language
    /// model's training time (with --peak-gflops).
    #[arg(long, value_name = "N")]
    pub tokens: Option<String>,
    /// Model-FLOPs utilisation assumed for that time, a fraction of the peak (default 0.4).
    #[arg(long, value_name = "FRACTION")]
    pub mfu: Option<String>,
}

impl TrainingArgs {
    /// Whether any option asks for a training step.
    pub fn wanted(&self) -> bool {
        self.training
            || self.optimizer.is_some()
            || self.recompute.is_some()
            || self.gpus.is_some()
            || self.zero.is_some()
            || self.tokens.is_some()
            || self.mfu.is_some()
    }

    /// The options of the step, when one is asked for (or `force`d, as a training budget
    /// does); `precision` and `peak_gflops` come from flags shared with other uses.
    pub fn options(
        &self,
        precision: Option<&str>,
        peak_gflops: Option<f64>,
        force: bool,
    ) -> Result<Option<TrainingOptions>, Error> {
        if !(force || self.wanted() || precision.is_some()) {
            return Ok(None);
        }
        let mut t = TrainingOptions::default();
        if let Some(s) = &self.optimizer {
            t.optimizer = s.parse()?;
        }
        if let Some(s) = precision {
            t.precision = s.parse()?;
        }
        if let Some(s) = &self.recompute {
            t.recompute = s.parse()?;
        }
        if let Some(s) = &self.gpus {
            t.gpus = s
                .trim()
                .parse()
                .ok()
                .filter(|&n: &u64| n >= 1)
                .ok_or_else(|| usage(format!("--gpus expects a whole number ≥ 1, got '{s}'")))?;
        }
        if let Some(s) = &self.zero {
            t.zero_stage = s
                .trim()
                .parse()
                .ok()
                .filter(|&z: &u8| z <= 3)
                .ok_or_else(|| usage(format!("--zero expects a stage 0 to 3, got '{s}'")))?;
        }
        if let Some(s) = &self.tokens {
            t.tokens = Some(parse_count(s).ok_or_else(|| {
                usage(format!(
                    "--tokens expects a count like 300B or 2T (K, M, G/B, T), got '{s}'"
                ))
            })?);
        }
        if let Some(s) = &self.mfu {
            let v: f64 = s.trim().parse().unwrap_or(f64::NAN);
            if !(v > 0.0 && v <= 1.0) {
                return Err(usage(format!(
                    "--mfu expects a fraction in (0, 1], like 0.4, got '{s}'"
                )));
            }
            t.mfu = Some(v);
        }
        if let Some(p) = peak_gflops {
            if !(p.is_finite() && p > 0.0) {
                return Err(usage(format!(
                    "--peak-gflops must be a positive number, got {p}"
                )));
            }
            t.peak_gflops = Some(p);
        }
        t.validate()?;
        Ok(Some(t))
    }
}

fn usage(msg: String) -> Error {
    Error::Usage(msg)
}
