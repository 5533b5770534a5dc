//! `flopscope check`: collects the limits (flags over `flopscope.toml`), profiles and, for
//! latency limits, measures; the verdict and its Markdown come from `flopscope_report::budget`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use flopscope_core::Error;
use flopscope_report::budget::{self, Entry, Metric};

use super::{measure, write_out, MeasureArgs, ShapeArgs};

/// Exit code of a check that found a model over budget.
pub(crate) const OVER_BUDGET: u8 = 9;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum CheckFormat {
    Markdown,
    Json,
}

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// Model to check (file, built-in name or remote model `hf:ORG/NAME`); without it, every `[[model]]` of the config.
    model: Option<String>,
    /// Budget file (default: `flopscope.toml` in the current directory, when there is one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Most parameters, e.g. `25M` (K, M, G, T are powers of 1000).
    #[arg(long, value_name = "N")]
    max_params: Option<String>,
    /// Most MACs, e.g. `4.5G`.
    #[arg(long, value_name = "N")]
    max_macs: Option<String>,
    /// Most FLOPs, e.g. `9G`.
    #[arg(long, value_name = "N")]
    max_flops: Option<String>,
    /// Most weight bytes, e.g. `100MB` or `96MiB`.
    #[arg(long, value_name = "SIZE")]
    max_weight_bytes: Option<String>,
    /// Most bytes of live activations at the peak.
    #[arg(long, value_name = "SIZE")]
    max_activation_bytes: Option<String>,
    /// Most weights + peak activations.
    #[arg(long, value_name = "SIZE")]
    max_memory: Option<String>,
    /// Longest median latency, e.g. `20ms` (measures the model).
    #[arg(long, value_name = "DURATION")]
    max_latency: Option<String>,
    /// Longest 99th-percentile latency (measures the model).
    #[arg(long, value_name = "DURATION")]
    max_p99_latency: Option<String>,
    /// Fewest inferences per second (measures the model).
    #[arg(long, value_name = "N")]
    min_fps: Option<String>,
    /// Most memory of one training step on one GPU, e.g. `80GB` (implies --training; the
    /// step's options: --optimizer, --precision bf16-mixed, --recompute, --gpus, --zero).
    #[arg(long, value_name = "SIZE")]
    max_train_memory: Option<String>,
    /// Most FLOPs of one training step (forward, backward, optimizer), e.g. `50G`.
    #[arg(long, value_name = "N")]
    max_train_flops: Option<String>,
    #[command(flatten)]
    train: crate::training::TrainingArgs,
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    measure: MeasureArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "markdown")]
    format: CheckFormat,
    /// Also append the Markdown verdict to this file (GitHub Actions sets it).
    #[arg(long, value_name = "FILE", env = "GITHUB_STEP_SUMMARY")]
    summary: Option<PathBuf>,
}

impl CheckArgs {
    fn flag_limits(&self) -> Result<Vec<budget::Limit>, Error> {
        let flags = [
            (Metric::Params, &self.max_params),
            (Metric::Macs, &self.max_macs),
            (Metric::Flops, &self.max_flops),
            (Metric::WeightBytes, &self.max_weight_bytes),
            (Metric::ActivationBytes, &self.max_activation_bytes),
            (Metric::Memory, &self.max_memory),
            (Metric::Latency, &self.max_latency),
            (Metric::P99Latency, &self.max_p99_latency),
            (Metric::Fps, &self.min_fps),
            (Metric::TrainMemory, &self.max_train_memory),
            (Metric::TrainFlops, &self.max_train_flops),
        ];
        flags
            .into_iter()
            .filter_map(|(m, v)| v.as_deref().map(|s| budget::parse_limit(m, s)))
            .collect()
    }

    /// The models to check with their limits: the file's entries with the flags on top.
    fn entries(&self) -> Result<Vec<Entry>, Error> {
        let flags = self.flag_limits()?;
        let default = Path::new("flopscope.toml");
        let config = self
            .config
            .clone()
            .or_else(|| default.is_file().then(|| default.to_path_buf()));
        let file = match &config {
            Some(p) => budget::load(p)?,
            None => budget::Budget::default(),
        };
        let entries: Vec<Entry> = match &self.model {
            Some(m) => vec![file.entry(m)],
            None if file.models.is_empty() => {
                return Err(Error::Usage(
                    "give a MODEL, or a flopscope.toml with [[model]] entries (see --config)"
                        .into(),
                ))
            }
            None => file.models,
        };
        let entries: Vec<Entry> = entries
            .into_iter()
            .map(|mut e| {
                e.limits = budget::merge(&e.limits, &flags);
                e
            })
            .collect();
        if let Some(e) = entries.iter().find(|e| e.limits.is_empty()) {
            return Err(Error::Usage(format!(
                "no limits for {}: give --max-params, --max-macs, --max-latency, … or set them \
                 in flopscope.toml",
                flopscope_remote::redact(&e.model)
            )));
        }
        Ok(entries)
    }
}

pub(crate) fn check(mut a: CheckArgs) -> Result<ExitCode, Error> {
    // `--precision` is the measuring precision (`1%`) or, named as one (`bf16-mixed`), the
    // training step's.
    let train_precision = a
        .measure
        .precision
        .take_if(|p| p.parse::<flopscope_core::training::Precision>().is_ok());
    let mut profiled = Vec::new();
    for e in a.entries()? {
        // The entry's dims and inputs first; the flags' come later and win.
        let mut shape = a.shape.clone();
        let own: Vec<String> = e.dims.iter().map(|(k, v)| format!("{k}={v}")).collect();
        shape.dims = own.iter().chain(&a.shape.dims).cloned().collect();
        shape.inputs = e.inputs.iter().chain(&a.shape.inputs).cloned().collect();
        let mut opts = shape.options()?;
        let train = e.limits.iter().any(|l| l.metric.needs_training());
        opts.training = a.train.options(train_precision.as_deref(), None, train)?;
        let profile = crate::profile_model(&e.model, &opts)?;
        // A dim the budget file gives a model must be one of that model's.
        let mut entry_shape = a.shape.clone();
        entry_shape.dims = own;
        crate::check_dims(&entry_shape.options()?, &[&profile], false)?;
        profiled.push((e, shape, profile));
    }
    // A dim given on the command line may be one only some of the models have.
    let all: Vec<&flopscope_core::Profile> = profiled.iter().map(|(_, _, p)| p).collect();
    crate::check_dims(&a.shape.options()?, &all, true)?;
    let mut outcomes = Vec::new();
    for (e, shape, profile) in profiled {
        let runs = if e.limits.iter().any(|l| l.metric.needs_run()) {
            measure(&e.model, &shape, &a.measure, false, None)?.runs
        } else {
            vec![]
        };
        let shown = flopscope_remote::redact(&e.model);
        outcomes.push(budget::evaluate(&shown, &e.limits, &profile, &runs));
    }
    let md = budget::render(&outcomes, flopscope_report::render::Format::Markdown);
    let text = match a.format {
        CheckFormat::Markdown => md.clone(),
        CheckFormat::Json => serde_json::to_string_pretty(&outcomes).unwrap_or_default() + "\n",
    };
    write_out(None, &text)?;
    if let Some(path) = &a.summary {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(md.as_bytes()))
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
    }
    Ok(if outcomes.iter().all(|o| o.pass) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(OVER_BUDGET)
    })
}
