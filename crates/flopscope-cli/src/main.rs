//! The `flopscope` command: argument parsing, output selection and exit codes only; every
//! number comes from the `flopscope` library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use flopscope_core::{Error, Options};
use flopscope_report::export::{ProfileFormat, RowOptions};

mod calibrate;
mod check;
mod convention;
mod devices;
mod predict;
mod report;
mod training;

// Loading decodes thousands of small protobuf strings: mimalloc makes that ~1.5-2x faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parameters, MACs, FLOPs and memory of neural networks, layer by layer.
#[derive(Parser)]
#[command(name = "flopscope", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Static analysis of a model: parameters, MACs, FLOPs and bytes per layer (no weights needed).
    Profile(ProfileArgs),
    /// List the built-in architectures with their parameters and MACs at default size.
    Zoo {
        /// Output format.
        #[arg(long, short = 'f', value_enum, default_value = "table")]
        format: ZooFormat,
    },
    /// Write a model (a file or a built-in name) as ONNX, with random weights or none.
    Export(ExportArgs),
    /// Measure inference latency and throughput on a real runtime (random weights when absent).
    Bench(BenchArgs),
    /// A self-contained HTML report with charts (or one chart as SVG/PNG).
    Report(ReportArgs),
    /// Several models side by side (the paper table), their Pareto chart, or the diff of two.
    Compare(CompareArgs),
    /// This machine's peak f32 FLOP/s and memory bandwidth (measured in a few seconds, cached).
    Machine(MachineArgs),
    /// Fail (exit 9) when a model is over budget: parameters, MACs, FLOPs, memory, latency.
    Check(Box<check::CheckArgs>),
    /// The device catalog: datasheet peaks, bandwidth, memory and power of GPUs, boards and CPUs.
    Devices(devices::DevicesArgs),
    /// Predicted latency and throughput on a device of the catalog, a calibrated device, or
    /// this machine, with the error measured for that kind of device.
    Predict(Box<predict::PredictArgs>),
    /// Time a micro-benchmark suite here and fit this machine's time-model parameters (a device
    /// file for `predict --device local|FILE`).
    Calibrate(calibrate::CalibrateArgs),
}

/// A device given by its numbers, for a target one is not on (`machine` and every roofline).
#[derive(clap::Args, Clone)]
struct SpecArgs {
    /// A device spec instead of this machine: its peak f32 GFLOP/s (with --bandwidth-gbs).
    /// With `profile --training` alone, one GPU's peak for the training time.
    #[arg(long, value_name = "N")]
    peak_gflops: Option<f64>,
    /// The device spec's memory bandwidth in GB/s (with --peak-gflops).
    #[arg(long, value_name = "N", requires = "peak_gflops")]
    bandwidth_gbs: Option<f64>,
}

impl SpecArgs {
    /// The spec, when one was given.
    fn machine(&self) -> Result<Option<flopscope_core::machine::Machine>, Error> {
        match (self.peak_gflops, self.bandwidth_gbs) {
            (Some(p), Some(b)) => flopscope_core::machine::Machine::spec(p, b).map(Some),
            (Some(_), None) => Err(Error::Usage(
                "--peak-gflops needs --bandwidth-gbs for a device spec (alone, with \
                 --training, it is the GPU peak of the training time)"
                    .into(),
            )),
            _ => Ok(None),
        }
    }
}

/// The roof for roofline analysis: this machine, a device spec, or a saved measurement.
#[derive(clap::Args, Clone)]
struct DeviceArgs {
    /// Add the roofline of this machine (measured once, as `flopscope machine`, then cached).
    #[arg(long, conflicts_with_all = ["peak_gflops", "machine_file"])]
    roofline: bool,
    #[command(flatten)]
    spec: SpecArgs,
    /// Roofline of a machine measured elsewhere: a saved `flopscope machine -f json`.
    #[arg(long = "machine", value_name = "FILE", conflicts_with = "peak_gflops")]
    machine_file: Option<PathBuf>,
}

impl DeviceArgs {
    /// Whether any roof was asked for.
    fn given(&self) -> bool {
        self.roofline || self.spec.peak_gflops.is_some() || self.machine_file.is_some()
    }

    /// The machine the roofline is drawn for, if any was asked for.
    fn machine(&self) -> Result<Option<flopscope_core::machine::Machine>, Error> {
        if let Some(m) = self.spec.machine()? {
            return Ok(Some(m));
        }
        if let Some(f) = &self.machine_file {
            return flopscope_core::machine::Machine::from_file(f).map(Some);
        }
        if self.roofline {
            return this_machine(false).map(Some);
        }
        Ok(None)
    }
}

/// This machine, measured (with a note on standard error) unless cached.
fn this_machine(refresh: bool) -> Result<flopscope_core::machine::Machine, Error> {
    let (m, unsaved) = flopscope_bench::machine::this_machine(refresh, &mut || {
        eprintln!("measuring this machine's peak FLOP/s and bandwidth (a few seconds, once)…")
    })?;
    if let Some(why) = unsaved {
        eprintln!("warning: the machine measurement was not cached: {why}");
    }
    Ok(m)
}

#[derive(Clone, Copy, ValueEnum)]
enum MachineFormat {
    Table,
    Json,
}

#[derive(clap::Args)]
struct MachineArgs {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: MachineFormat,
    /// Measure again instead of reading the cache.
    #[arg(long, conflicts_with = "peak_gflops")]
    refresh: bool,
    #[command(flatten)]
    spec: SpecArgs,
}

fn machine(a: MachineArgs) -> Result<(), Error> {
    let m = match a.spec.machine()? {
        Some(m) => m,
        None => this_machine(a.refresh)?,
    };
    let text = match a.format {
        MachineFormat::Json => serde_json::to_string_pretty(&m).unwrap_or_default() + "\n",
        MachineFormat::Table => m.text(),
    };
    write_out(None, &text)
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Backend {
    /// ONNX Runtime when its library is found, else tract; falls back to tract when ONNX
    /// Runtime cannot load the model.
    Auto,
    /// tract, the pure-Rust runtime (built in, single-threaded).
    Tract,
    /// ONNX Runtime, loaded from a shared library at run time (`ort` for short).
    #[value(alias = "ort")]
    Onnxruntime,
    /// Every available runtime, for comparison.
    All,
}

/// Sizes of the model's inputs, shared by every command that analyses a model.
#[derive(clap::Args, Clone)]
pub(crate) struct ShapeArgs {
    /// Size of a symbolic dim, e.g. `--dim batch=8 --dim seq=128` (unbound dims default to 1).
    #[arg(long = "dim", value_name = "NAME=N")]
    dims: Vec<String>,
    /// Full shape of an input, e.g. `--input input=1x3x224x224` (the name may be left out when
    /// the model has one input).
    #[arg(long = "input", value_name = "[NAME=]AxBxC")]
    inputs: Vec<String>,
    /// Classifier outputs of a built-in image model (default 1000).
    #[arg(long)]
    classes: Option<u64>,
    /// Causal attention (`is_causal`, a checkpoint's prefill): `full` counts the whole score
    /// matrix (kernels without block skipping); `causal-half` half of it, as FlashAttention's
    /// benchmark and MaxText count it (docs/counting.md, "Causal attention").
    #[arg(long, value_name = "MODE", default_value = "full", value_parser = ["full", "causal-half"])]
    attention: String,
}

/// How to measure, shared by `bench`, `report --bench` and `compare --bench`.
#[derive(clap::Args, Clone)]
struct MeasureArgs {
    /// Runtime.
    #[arg(long, value_enum, default_value = "auto")]
    backend: Backend,
    /// Batch sizes to measure, e.g. `1,8,32` (sets the `batch` dim).
    #[arg(long, value_delimiter = ',')]
    batch: Vec<u64>,
    /// Intra-op thread counts to measure, e.g. `1,2`.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    threads: Vec<usize>,
    /// Also time each layer (10 profiled runs after the timed ones) and give achieved GFLOP/s.
    #[arg(long)]
    per_layer: bool,
    /// The ONNX Runtime shared library (else ORT_DYLIB_PATH, else the `onnxruntime` Python
    /// package's).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// Warm-up runs before timing.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Warm up for this long instead (`1s`, `500ms`).
    #[arg(long, value_name = "DURATION")]
    warmup_time: Option<String>,
    /// Stop after this many timed runs.
    #[arg(long)]
    runs: Option<usize>,
    /// Stop after this long (`10s`, `500ms`).
    #[arg(long, value_name = "DURATION")]
    time: Option<String>,
    /// Stop when the 95% confidence interval of the median is within this (`1%`).
    #[arg(long)]
    precision: Option<String>,
    /// Seed of random weights and inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Run even when weights + peak activations exceed the machine's memory.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// ONNX model file or built-in architecture name.
    model: String,
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    measure: MeasureArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum ChartKind {
    /// FLOPs and parameters per layer, in graph order.
    Layers,
    /// FLOPs and parameters per operator type.
    Ops,
    /// Weight and activation bytes per layer.
    Memory,
    /// Histogram of the timed runs (needs `--bench`).
    Latency,
    /// Parameters vs FLOPs or latency of several models (`compare`).
    Pareto,
    /// Layers under the roofline, log-log (needs a roof: `--roofline`, a spec or `--machine`;
    /// with `--bench`, at their measured GFLOP/s).
    Roofline,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Model file, built-in architecture name, or remote model (`hf:ORG/NAME`, `https://…`).
    model: String,
    /// Output: `.html` for the report, `.svg` or `.png` for one chart (`--chart`).
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// The chart to draw when the output is `.svg` or `.png`.
    #[arg(long, value_enum, default_value = "layers")]
    chart: ChartKind,
    /// Also measure (latency histogram, throughput curves, per-layer time vs FLOPs).
    #[arg(long)]
    bench: bool,
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    measure: MeasureArgs,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    predict: predict::TargetArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompareFormat {
    Table,
    Markdown,
    Latex,
    Csv,
    Json,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Model files, built-in names or remote models (`hf:ORG/NAME`), in the order of the table.
    #[arg(required = true, num_args = 1..)]
    models: Vec<String>,
    /// Format of the table.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: CompareFormat,
    /// Write to this file: `.html` for a report with the Pareto chart, `.svg` or `.png` for the
    /// Pareto chart (the table then goes to standard output), else the table.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Show which layers changed between two versions of one model (exactly two models).
    #[arg(long)]
    diff: bool,
    /// Also measure each model (first runtime, batch and thread count given).
    #[arg(long)]
    bench: bool,
    /// Explain one traced module under these conventions (`thop,fvcore,exact`): totals, the
    /// operator families, and where each departs from the exact count.
    #[arg(long, value_name = "A,B,…", conflicts_with = "convention")]
    pub(crate) conventions: Option<String>,
    /// Compare the models as one tool counts them (traced modules' `.json`): each model's
    /// MACs, FLOPs and parameters under that convention.
    #[arg(long, value_name = "NAME")]
    pub(crate) convention: Option<String>,
    #[command(flatten)]
    shape: ShapeArgs,
    #[command(flatten)]
    measure: MeasureArgs,
    #[command(flatten)]
    predict: predict::TargetArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ZooFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum WeightsArg {
    /// Seeded random weights (deterministic), scaled like PyTorch's default initialisation.
    Random,
    /// No weight bytes: a graph-only file (weights declared as absent external data).
    None,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// ONNX model file or built-in architecture name.
    model: String,
    /// Output ONNX file.
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// Weights to write.
    #[arg(long, value_enum, default_value = "random")]
    weights: WeightsArg,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Input shape of a built-in image model (sets its resolution), e.g. `1x3x512x512`.
    #[arg(long = "input", value_name = "[NAME=]AxBxC")]
    inputs: Vec<String>,
    /// Classifier outputs of a built-in image model (default 1000).
    #[arg(long)]
    classes: Option<u64>,
    /// Causal attention (`is_causal`, a checkpoint's prefill): `full` counts the whole score
    /// matrix (kernels without block skipping); `causal-half` half of it, as FlashAttention's
    /// benchmark and MaxText count it (docs/counting.md, "Causal attention").
    #[arg(long, value_name = "MODE", default_value = "full", value_parser = ["full", "causal-half"])]
    attention: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
    Markdown,
    /// A self-contained page with charts (as `flopscope report`).
    Html,
}

#[derive(clap::Args)]
struct ProfileArgs {
    /// A model file (ONNX, safetensors, GGUF) or checkpoint folder, a built-in architecture name
    /// (`flopscope zoo` lists them), or a remote model: `hf:ORG/NAME[@REV][/FILE]` or an
    /// `https://` URL of a file (headers only are fetched; docs/remote.md).
    model: String,
    #[command(flatten)]
    shape: ShapeArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Fold layers by module path to this depth (`/layer1/layer1.0/conv1` has depth 3).
    #[arg(long)]
    depth: Option<usize>,
    /// Show only the N rows with the most FLOPs.
    #[arg(long)]
    top: Option<usize>,
    /// Also show nodes with no parameters and no FLOPs (reshapes, shape arithmetic).
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    train: training::TrainingArgs,
    /// Precision of the training step: fp32, bf16-mixed, fp16-mixed (implies --training).
    #[arg(long = "precision", value_name = "P")]
    train_precision: Option<String>,
    /// Count as another tool does: thop, fvcore, ptflops, torchinfo, calflops, deepspeed,
    /// flopcountermode, or exact (a traced module's `.json`; docs/conventions.md).
    #[arg(long, value_name = "NAME")]
    convention: Option<String>,
}

fn parse_dim(s: &str) -> Result<(String, u64), Error> {
    let bad = || Error::Usage(format!("--dim expects NAME=N with N ≥ 1, got '{s}'"));
    let (k, v) = s.split_once('=').ok_or_else(bad)?;
    let n: u64 = v.trim().parse().map_err(|_| bad())?;
    if k.trim().is_empty() || n == 0 {
        return Err(bad());
    }
    Ok((k.trim().to_string(), n))
}

fn parse_input(s: &str) -> Result<(Option<String>, Vec<u64>), Error> {
    let (name, dims) = match s.rsplit_once('=') {
        Some((n, d)) => (Some(n.trim().to_string()), d),
        None => (None, s),
    };
    let shape = dims
        .split(['x', 'X', ','])
        .map(|d| d.trim().parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            Error::Usage(format!(
                "--input expects [NAME=]AxBxC with numbers, got '{s}'"
            ))
        })?;
    Ok((name, shape))
}

/// The model options every command shares.
fn model_options(
    dims: &[String],
    inputs: &[String],
    classes: Option<u64>,
) -> Result<Options, Error> {
    Ok(Options {
        dims: dims
            .iter()
            .map(|s| parse_dim(s))
            .collect::<Result<_, _>>()?,
        inputs: inputs
            .iter()
            .map(|s| parse_input(s))
            .collect::<Result<_, _>>()?,
        classes,
        ..Options::default()
    })
}

impl ShapeArgs {
    pub(crate) fn options(&self) -> Result<Options, Error> {
        Ok(Options {
            attention: flopscope_core::options::Attention::parse(&self.attention)?,
            ..model_options(&self.dims, &self.inputs, self.classes)?
        })
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    if let Command::Check(a) = cli.command {
        return check::check(*a);
    }
    match cli.command {
        Command::Profile(a) => {
            let mut opts = a.shape.options()?;
            opts.training = a.train.options(
                a.train_precision.as_deref(),
                a.device.spec.peak_gflops,
                false,
            )?;
            let mut p = profile_model(&a.model, &opts)?;
            check_dims(&opts, &[&p], false)?;
            if let Some(c) = &a.convention {
                let md = match a.format {
                    Format::Table => false,
                    Format::Markdown => true,
                    Format::Json => false,
                    Format::Csv | Format::Html => {
                        return Err(Error::Usage(
                            "--convention writes a table, Markdown or JSON".into(),
                        ))
                    }
                };
                let e = convention::explained(&a.model, c, &p)?;
                return convention::write(
                    &e,
                    matches!(a.format, Format::Json),
                    md,
                    a.output.as_ref(),
                )
                .map(|()| ExitCode::SUCCESS);
            }
            // With --training, --peak-gflops alone is the GPU peak of the training time.
            let peak_only = opts.training.is_some()
                && a.device.spec.peak_gflops.is_some()
                && a.device.spec.bandwidth_gbs.is_none();
            if !peak_only {
                if let Some(m) = a.device.machine()? {
                    flopscope_core::roofline::apply(&mut p, &m)?;
                }
            }
            let rows = RowOptions {
                depth: a.depth,
                top: a.top,
                all: a.all,
            };
            let format = match a.format {
                Format::Table => ProfileFormat::Table,
                Format::Json => ProfileFormat::Json,
                Format::Csv => ProfileFormat::Csv,
                Format::Markdown => ProfileFormat::Markdown,
                Format::Html => ProfileFormat::Html,
            };
            let text = format.render(&p, rows);
            if !matches!(a.format, Format::Table | Format::Markdown) {
                // Machine formats keep warnings in the document; repeat them for the person.
                for w in &p.warnings {
                    eprintln!("warning: {w}");
                }
            }
            write_out(a.output.as_ref(), &text)
        }
        Command::Zoo { format } => zoo(format),
        Command::Export(a) => export(a),
        Command::Bench(a) => bench(a),
        Command::Report(a) => report::report(a),
        Command::Compare(a) => report::compare(a),
        Command::Machine(a) => machine(a),
        Command::Devices(a) => devices::devices(a),
        Command::Predict(a) => predict::run(*a),
        Command::Calibrate(a) => calibrate::calibrate(a),
        Command::Check(_) => unreachable!("handled above"),
    }
    .map(|()| ExitCode::SUCCESS)
}

fn zoo(format: ZooFormat) -> Result<(), Error> {
    use flopscope_report::render::Format as RenderFormat;
    let mut rows = Vec::new();
    for e in flopscope_core::zoo::entries() {
        let opts = Options {
            dims: vec![("batch".into(), 1)]
                .into_iter()
                .chain((e.input == "tokens").then(|| ("seq".to_string(), 128)))
                .collect(),
            inputs: vec![],
            ..Default::default()
        };
        let p = flopscope_core::profile_source(e.name, &opts)?;
        rows.push((e, p.totals));
    }
    let out = match format {
        // The listing's own schema: each entry with its input kind.
        ZooFormat::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|(e, t)| {
                    serde_json::json!({"name": e.name, "source": e.source, "input": e.input,
                        "params": t.params, "macs": t.macs, "flops": t.flops})
                })
                .collect();
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        ZooFormat::Markdown => flopscope_report::zoo::table(&rows).render(RenderFormat::Markdown),
        ZooFormat::Table => flopscope_report::zoo::table(&rows).render(RenderFormat::Text),
    };
    write_out(None, &out)
}

fn export(a: ExportArgs) -> Result<(), Error> {
    local_only(&a.model, "export")?;
    let opts = model_options(&[], &a.inputs, a.classes)?;
    let (g, _) = flopscope_core::open_source(&a.model, &opts)?;
    let weights = match a.weights {
        WeightsArg::Random => flopscope_core::write::Weights::Random(a.seed),
        WeightsArg::None => flopscope_core::write::Weights::None,
    };
    flopscope_core::write::write_onnx(&g, &a.output, weights)
}

fn parse_duration(s: &str) -> Result<f64, Error> {
    let bad = || Error::Usage(format!("expected a duration like 10s or 500ms, got '{s}'"));
    let t = s.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(bad());
    }
    Ok(v * scale)
}

fn parse_precision(s: &str) -> Result<f64, Error> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(v) => (v, 0.01),
        None => (t, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| Error::Usage(format!("expected a precision like 1%, got '{s}'")))?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(Error::Usage(format!(
            "precision must be positive, got '{s}'"
        )));
    }
    Ok(v * scale)
}

fn bench(a: BenchArgs) -> Result<(), Error> {
    let report = measure(
        &a.model,
        &a.shape,
        &a.measure,
        a.measure.per_layer,
        a.device.machine()?,
    )?;
    use flopscope_report::{bench::render, render::Format as F};
    let text = match a.format {
        Format::Table => render(&report, F::Text),
        Format::Markdown => render(&report, F::Markdown),
        Format::Csv => render(&report, F::Csv),
        Format::Json => render(&report, F::Json),
        Format::Html => flopscope_report::bench::html(&report),
    };
    write_out(a.output.as_ref(), &text)
}

/// Measures `model` as `bench` does, with a progress bar on a terminal.
fn measure(
    model: &str,
    shape: &ShapeArgs,
    a: &MeasureArgs,
    per_layer: bool,
    machine: Option<flopscope_core::machine::Machine>,
) -> Result<flopscope_bench::Report, Error> {
    use flopscope_bench::{self as bench, BenchOptions, Progress, Warmup};
    local_only(model, "measuring")?;
    let o = BenchOptions {
        model: shape.options()?,
        batches: a.batch.clone(),
        warmup: match &a.warmup_time {
            Some(t) => Warmup::Seconds(parse_duration(t)?),
            None => Warmup::Runs(a.warmup),
        },
        runs: a.runs,
        time: a.time.as_deref().map(parse_duration).transpose()?,
        precision: a.precision.as_deref().map(parse_precision).transpose()?,
        seed: a.seed,
        per_layer_runs: if per_layer { 10 } else { 0 },
        force: a.force,
        machine,
    };
    // Runtimes to measure: ONNX Runtime once per thread count, tract once.
    let mut runtimes: Vec<Box<dyn bench::Runtime>> = Vec::new();
    let want_ort = matches!(
        a.backend,
        Backend::Auto | Backend::Onnxruntime | Backend::All
    );
    if want_ort {
        for &t in &a.threads {
            match bench::onnxruntime::OnnxRuntime::new(a.ort_lib.as_deref(), t) {
                Ok(r) => runtimes.push(Box::new(r)),
                Err(e) if a.backend == Backend::Onnxruntime => return Err(e),
                Err(e) => {
                    if a.backend == Backend::All {
                        eprintln!("warning: {e}");
                    }
                    break;
                }
            }
        }
    }
    if matches!(a.backend, Backend::Tract | Backend::All) || runtimes.is_empty() {
        for &t in &a.threads {
            runtimes.push(Box::new(bench::tract::Tract { threads: t }));
        }
    }
    let show = !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = indicatif::ProgressBar::with_draw_target(
        None,
        if show {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        },
    );
    let mut on_progress = |p: Progress| match p {
        Progress::Loading { batch } => {
            bar.set_message(format!("batch {batch}: loading"));
            bar.set_position(0);
        }
        Progress::Run { done, target } => {
            if let Some(t) = target {
                bar.set_length(t as u64);
            }
            bar.set_position(done as u64);
            bar.set_message(format!("{done} runs"));
        }
    };
    let refs: Vec<&dyn bench::Runtime> = runtimes.iter().map(|r| r.as_ref()).collect();
    let result = bench::bench(model, &refs, &o, &mut on_progress);
    // With `auto`, a model ONNX Runtime cannot load is measured on tract instead.
    let report = match result {
        Err(Error::Runtime(why))
            if a.backend == Backend::Auto && refs.iter().any(|r| r.name() != "tract") =>
        {
            eprintln!("warning: {why}; trying tract");
            let fallback: Vec<bench::tract::Tract> = a
                .threads
                .iter()
                .map(|&t| bench::tract::Tract { threads: t })
                .collect();
            let refs: Vec<&dyn bench::Runtime> =
                fallback.iter().map(|r| r as &dyn bench::Runtime).collect();
            bench::bench(model, &refs, &o, &mut on_progress)?
        }
        other => other?,
    };
    bar.finish_and_clear();
    Ok(report)
}

/// Profiles a file, a built-in name or a remote model (`hf:ORG/NAME`, `https://…`): only
/// the last touches the network.
pub(crate) fn profile_model(spec: &str, opts: &Options) -> Result<flopscope_core::Profile, Error> {
    if flopscope_remote::is_remote(spec) {
        return flopscope_remote::profile(spec, opts, &mut |w| eprintln!("warning: {w}"));
    }
    flopscope_core::profile_source(spec, opts)
}

/// Refuses a remote model where its weights or whole graph are needed.
pub(crate) fn local_only(spec: &str, what: &str) -> Result<(), Error> {
    if flopscope_remote::is_remote(spec) {
        return Err(Error::Usage(format!(
            "{}: {what} needs the model's file; download it first (profile, compare, report and check read remote headers)",
            flopscope_remote::redact(spec)
        )));
    }
    Ok(())
}

pub(crate) fn write_out(path: Option<&PathBuf>, text: &str) -> Result<(), Error> {
    match path {
        Some(p) => std::fs::write(p, text).map_err(|source| Error::Write {
            path: p.clone(),
            source,
        }),
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = out.write_all(text.as_bytes());
            Ok(())
        }
    }
}

/// `--dim` names that no model of the command has are an error; one that some lack is a
/// warning for each of those (`warn`: print it, for reports that do not show their profiles'
/// warnings). See [`flopscope_core::check_dims`].
pub(crate) fn check_dims(
    opts: &Options,
    profiles: &[&flopscope_core::Profile],
    warn: bool,
) -> Result<(), Error> {
    for (source, w) in flopscope_core::check_dims(opts, profiles)? {
        if warn {
            eprintln!("warning: {source}: {w}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flopscope: error: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The exit code of each kind of error (`docs/counting.md`, "Exit codes"): 1 output not
/// writable (or not drawable), 2 bad arguments, 3 unreadable file, 4 malformed or invalid model,
/// 5 unsupported version, 6 shape inference failure (overflow included), 7 a runtime failed to
/// load or run the model, 8 the model needs more memory than the machine has, 10 a remote model
/// could not be fetched (network, time-out, server error, offline), 11 a remote server refused
/// access (401/403: a token). (9 is a budget exceeded, returned by `check` without an error.)
fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Write { .. } | Error::Render(_) => 1,
        Error::Usage(_) => 2,
        Error::Io { .. } => 3,
        Error::Malformed { .. } | Error::Invalid(_) => 4,
        Error::Unsupported(_) => 5,
        Error::Shape { .. } | Error::Overflow(_) => 6,
        Error::Runtime(_) => 7,
        Error::Resources(_) => 8,
        Error::Network(_) => 10,
        Error::Denied(_) => 11,
        // A kind added to the library without a code here: a generic failure.
        _ => 1,
    }
}
