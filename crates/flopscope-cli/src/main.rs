//! The `flopscope` command: argument parsing, output selection and exit codes only; every
//! number comes from the `flopscope` library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use flopscope::export::{
    csv::Csv, json::Json, markdown::Markdown, table::Table, Exporter, RowOptions,
};
use flopscope::{Error, Options};

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
}

#[derive(Clone, Copy, ValueEnum)]
enum ZooFormat {
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
    Markdown,
}

#[derive(clap::Args)]
struct ProfileArgs {
    /// ONNX model file, or a built-in architecture name (`flopscope zoo` lists them).
    model: String,
    /// Size of a symbolic dim, e.g. `--dim batch=8 --dim seq=128` (unbound dims default to 1).
    #[arg(long = "dim", value_name = "NAME=N")]
    dims: Vec<String>,
    /// Full shape of an input, e.g. `--input input=1x3x224x224` (the name may be left out when
    /// the model has one input).
    #[arg(long = "input", value_name = "[NAME=]AxBxC")]
    inputs: Vec<String>,
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
    /// Classifier outputs of a built-in image model (default 1000).
    #[arg(long)]
    classes: Option<u64>,
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

fn run(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Profile(a) => {
            let opts = Options {
                dims: a
                    .dims
                    .iter()
                    .map(|s| parse_dim(s))
                    .collect::<Result<_, _>>()?,
                inputs: a
                    .inputs
                    .iter()
                    .map(|s| parse_input(s))
                    .collect::<Result<_, _>>()?,
                ..Default::default()
            };
            let p = flopscope::profile_source(&a.model, &opts)?;
            let rows = RowOptions {
                depth: a.depth,
                top: a.top,
                all: a.all,
            };
            let exporter: Box<dyn Exporter> = match a.format {
                Format::Table => Box::new(Table { rows }),
                Format::Json => Box::new(Json),
                Format::Csv => Box::new(Csv),
                Format::Markdown => Box::new(Markdown { rows }),
            };
            let text = exporter.render(&p);
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
    }
}

fn zoo(format: ZooFormat) -> Result<(), Error> {
    use flopscope::export::{grouped, human};
    let mut rows = Vec::new();
    for e in flopscope::zoo::entries() {
        let opts = Options {
            dims: vec![("batch".into(), 1)]
                .into_iter()
                .chain((e.input == "tokens").then(|| ("seq".to_string(), 128)))
                .collect(),
            inputs: vec![],
            ..Default::default()
        };
        let p = flopscope::profile_source(e.name, &opts)?;
        rows.push((e, p.totals));
    }
    let mut out = String::new();
    match format {
        ZooFormat::Json => {
            let v: Vec<serde_json::Value> = rows
                .iter()
                .map(|(e, t)| {
                    serde_json::json!({"name": e.name, "source": e.source, "input": e.input,
                        "params": t.params, "macs": t.macs, "flops": t.flops})
                })
                .collect();
            out = serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
        }
        ZooFormat::Markdown => {
            out.push_str("| model | source | params | MACs | FLOPs |\n|---|---|---:|---:|---:|\n");
            for (e, t) in &rows {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    e.name,
                    e.source,
                    grouped(t.params),
                    grouped(t.macs),
                    grouped(t.flops)
                ));
            }
        }
        ZooFormat::Table => {
            out.push_str(&format!(
                "{:<16}  {:<13}  {:>15}  {:>8}  {:>8}\n",
                "Model", "Source", "Params", "MACs", "FLOPs"
            ));
            for (e, t) in &rows {
                out.push_str(&format!(
                    "{:<16}  {:<13}  {:>15}  {:>8}  {:>8}\n",
                    e.name,
                    e.source,
                    grouped(t.params),
                    human(t.macs),
                    human(t.flops)
                ));
            }
            out.push_str("\nAt batch 1: images 3×224×224, token models 128 tokens. MACs are multiply-accumulates.\n");
        }
    }
    write_out(None, &out)
}

fn export(a: ExportArgs) -> Result<(), Error> {
    let opts = Options {
        dims: vec![],
        inputs: a
            .inputs
            .iter()
            .map(|s| parse_input(s))
            .collect::<Result<_, _>>()?,
        ..Default::default()
    };
    let (g, _) = flopscope::open_source(&a.model, &opts)?;
    let weights = match a.weights {
        WeightsArg::Random => flopscope::write::Weights::Random(a.seed),
        WeightsArg::None => flopscope::write::Weights::None,
    };
    flopscope::write::write_onnx(&g, &a.output, weights)
}

fn write_out(path: Option<&PathBuf>, text: &str) -> Result<(), Error> {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flopscope: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
