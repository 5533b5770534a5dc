//! `flopscope predict`: a model's time on a device of the catalog, a calibrated device file,
//! or this machine (`local`), from its exact per-layer counts (docs/predict.md).

use std::path::PathBuf;

use flopscope_core::predict::{self, Prediction, Target};
use flopscope_core::Error;
use flopscope_report::render::Format;

use crate::{check_dims, profile_model, write_out, ShapeArgs, ZooFormat};

/// Arguments of `flopscope predict`.
#[derive(clap::Args)]
pub(crate) struct PredictArgs {
    /// A model file, checkpoint, built-in name or remote model (as `profile` takes).
    model: String,
    /// The device: a catalog key or alias (`flopscope devices`), `KEY:MODE` for a power mode
    /// (`jetson-agx-orin:30W`), `local` (this machine, calibrated once), or a device file.
    #[arg(long)]
    device: String,
    /// The runtime, for what it fuses: torch, torch.compile or onnxruntime (default:
    /// onnxruntime on CPUs, torch on GPUs).
    #[arg(long)]
    backend: Option<String>,
    /// Threads on a CPU device (default: the calibration's, else every core).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    how: HowArgs,
    #[command(flatten)]
    shape: ShapeArgs,
    /// Show only the N slowest layers (table and Markdown; default 15, 0 for all).
    #[arg(long, default_value_t = 15)]
    top: usize,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: ZooFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

/// `compare --device`: predicted columns for every model.
#[derive(clap::Args)]
pub(crate) struct TargetArgs {
    /// Add each model's predicted latency and throughput on this device (as `predict --device`).
    #[arg(long)]
    device: Option<String>,
    /// The runtime the prediction is for (as `predict --backend`; `--backend` here is the
    /// measurement's).
    #[arg(long, value_name = "BACKEND", requires = "device")]
    predict_backend: Option<String>,
    #[command(flatten)]
    how: HowArgs,
}

/// How a prediction is made, shared by `predict` and `compare --device`.
#[derive(clap::Args)]
pub(crate) struct HowArgs {
    /// Number format: fp32, tf32, fp16, bf16, amp (autocast), int8, fp8 (default: as stored).
    #[arg(long)]
    dtype: Option<String>,
    /// A catalog file adding or replacing devices (as `flopscope devices --devices`).
    #[arg(long = "devices", value_name = "FILE", env = "FLOPSCOPE_DEVICES")]
    devices_file: Option<PathBuf>,
    /// Time-model parameters replacing the built-in ones (schema flopscope.predict-params/1).
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
}

impl HowArgs {
    /// The device named `device`, and the options of a prediction.
    pub(crate) fn target(
        &self,
        device: &str,
        backend: Option<&str>,
        threads: Option<usize>,
    ) -> Result<(Target, predict::Options), Error> {
        // Parsed after clap, so that a bad value is one line (clap adds a hint).
        flopscope_bench::target::prepare(
            device,
            self.devices_file.as_deref(),
            self.params.as_deref(),
            self.dtype.as_deref(),
            backend,
            threads,
            &mut |m| eprintln!("{m}"),
        )
    }
}

impl TargetArgs {
    /// The device and options, when `--device` was given.
    pub(crate) fn target(&self) -> Result<Option<(Target, predict::Options)>, Error> {
        // Every core of a CPU (or its calibration's threads): `--threads` is the measurement's.
        self.device
            .as_deref()
            .map(|d| self.how.target(d, self.predict_backend.as_deref(), None))
            .transpose()
    }
}

/// A prediction for a model and the options of the command line.
pub(crate) fn prediction(
    model: &str,
    shape: &ShapeArgs,
    target: &Target,
    opts: predict::Options,
) -> Result<Prediction, Error> {
    let o = shape.options()?;
    let p = profile_model(model, &o)?;
    check_dims(&o, &[&p], false)?;
    predict::predict(&p, target, opts)
}

pub(crate) fn run(a: PredictArgs) -> Result<(), Error> {
    let (target, opts) = a.how.target(&a.device, a.backend.as_deref(), a.threads)?;
    let p = prediction(&a.model, &a.shape, &target, opts)?;
    let top = (a.top > 0).then_some(a.top);
    let text = match a.format {
        ZooFormat::Json => serde_json::to_string_pretty(&p).unwrap_or_default() + "\n",
        ZooFormat::Table => flopscope_report::predict::render(&p, top, Format::Text),
        ZooFormat::Markdown => flopscope_report::predict::render(&p, top, Format::Markdown),
    };
    write_out(a.output.as_ref(), &text)
}
