//! `flopscope predict`: a model's time on a device of the catalog, a calibrated device file,
//! or this machine (`local`), from its exact per-layer counts (docs/predict.md).

use std::path::PathBuf;

use flopscope_core::predict::{self, Backend, Dtype, Prediction, Target};
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
    /// Number format: fp32, tf32, fp16, bf16, amp (autocast), int8, fp8 (default: as stored).
    #[arg(long)]
    dtype: Option<String>,
    /// The runtime, for what it fuses: torch, torch.compile or onnxruntime (default:
    /// onnxruntime on CPUs, torch on GPUs).
    #[arg(long)]
    backend: Option<String>,
    /// Threads on a CPU device (default: the calibration's, else every core).
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    shape: ShapeArgs,
    /// A catalog file adding or replacing devices (as `flopscope devices --devices`).
    #[arg(long = "devices", value_name = "FILE", env = "FLOPSCOPE_DEVICES")]
    devices_file: Option<PathBuf>,
    /// Time-model parameters replacing the built-in ones (schema flopscope.predict-params/1).
    #[arg(long, value_name = "FILE")]
    params: Option<PathBuf>,
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
    let catalog = crate::devices::catalog(a.devices_file.as_ref())?;
    let params = flopscope_bench::target::params(a.params.as_deref())?;
    // Parsed here rather than by clap, so that a bad value is one line (clap adds a hint).
    let opts = predict::Options {
        dtype: a.dtype.as_deref().map(Dtype::parse).transpose()?,
        backend: a.backend.as_deref().map(Backend::parse).transpose()?,
        threads: a.threads,
    };
    let target = flopscope_bench::target::resolve_for(
        &a.device,
        &catalog,
        &params,
        opts.backend,
        opts.threads,
        &mut |m| eprintln!("{m}"),
    )?;
    let p = prediction(&a.model, &a.shape, &target, opts)?;
    let top = (a.top > 0).then_some(a.top);
    let text = match a.format {
        ZooFormat::Json => serde_json::to_string_pretty(&p).unwrap_or_default() + "\n",
        ZooFormat::Table => flopscope_report::predict::render(&p, top, Format::Text),
        ZooFormat::Markdown => flopscope_report::predict::render(&p, top, Format::Markdown),
    };
    write_out(a.output.as_ref(), &text)
}
