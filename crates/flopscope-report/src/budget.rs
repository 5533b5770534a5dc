//! Cost budgets for CI: limits on parameters, MACs, FLOPs, memory and latency, read from the
//! command line or `flopscope.toml`, checked against a profile and a measured run.
//! Units and the file format are in `docs/roofline.md#budgets`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use flopscope_core::format::grouped;
use flopscope_core::measure::RunResult;
use flopscope_core::{Error, Profile, Result};

use crate::render::{Cell, Column, Format, Table, Value};

/// What a limit bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Parameters (`totals.params`).
    Params,
    /// Multiply-accumulates.
    Macs,
    /// Floating-point operations.
    Flops,
    /// Bytes of weights (parameters and buffers).
    WeightBytes,
    /// Peak bytes of live activations.
    ActivationBytes,
    /// Weights + peak activations.
    Memory,
    /// Median latency of a measured run, milliseconds.
    Latency,
    /// 99th-percentile latency, milliseconds.
    P99Latency,
    /// Inferences per second (a minimum).
    Fps,
    /// Peak memory of one training step on one GPU (`training.memory.peak_bytes`).
    TrainMemory,
    /// FLOPs of one training step (`training.flops`).
    TrainFlops,
}

/// How a metric's numbers are written.
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Count,
    Bytes,
    Millis,
    PerSecond,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 11] = [
        Metric::Params,
        Metric::Macs,
        Metric::Flops,
        Metric::WeightBytes,
        Metric::ActivationBytes,
        Metric::Memory,
        Metric::Latency,
        Metric::P99Latency,
        Metric::Fps,
        Metric::TrainMemory,
        Metric::TrainFlops,
    ];

    /// The option / key naming it: `max-params`, …, `min-fps`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Params => "max-params",
            Metric::Macs => "max-macs",
            Metric::Flops => "max-flops",
            Metric::WeightBytes => "max-weight-bytes",
            Metric::ActivationBytes => "max-activation-bytes",
            Metric::Memory => "max-memory",
            Metric::Latency => "max-latency",
            Metric::P99Latency => "max-p99-latency",
            Metric::Fps => "min-fps",
            Metric::TrainMemory => "max-train-memory",
            Metric::TrainFlops => "max-train-flops",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::Params => "Parameters",
            Metric::Macs => "MACs",
            Metric::Flops => "FLOPs",
            Metric::WeightBytes => "Weight bytes",
            Metric::ActivationBytes => "Peak activation bytes",
            Metric::Memory => "Memory (weights + peak activations)",
            Metric::Latency => "Median latency",
            Metric::P99Latency => "p99 latency",
            Metric::Fps => "Throughput",
            Metric::TrainMemory => "Training memory (peak per GPU)",
            Metric::TrainFlops => "Training FLOPs per step",
        }
    }

    fn unit(self) -> Unit {
        match self {
            Metric::Params | Metric::Macs | Metric::Flops | Metric::TrainFlops => Unit::Count,
            Metric::WeightBytes
            | Metric::ActivationBytes
            | Metric::Memory
            | Metric::TrainMemory => Unit::Bytes,
            Metric::Latency | Metric::P99Latency => Unit::Millis,
            Metric::Fps => Unit::PerSecond,
        }
    }

    /// Whether the limit is a floor (FPS) rather than a ceiling.
    pub fn is_minimum(self) -> bool {
        self == Metric::Fps
    }

    /// Whether checking it needs a training step counted (`--training`).
    pub fn needs_training(self) -> bool {
        matches!(self, Metric::TrainMemory | Metric::TrainFlops)
    }

    /// Whether checking it needs a measured run.
    pub fn needs_run(self) -> bool {
        matches!(self, Metric::Latency | Metric::P99Latency | Metric::Fps)
    }

    fn from_key(k: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == k)
    }
}

/// One limit, as written and as a number (counts and bytes exact, times in ms).
#[derive(Clone, Debug, Serialize)]
pub struct Limit {
    /// What it bounds.
    pub metric: Metric,
    /// As the user wrote it (`4.5G`).
    pub written: String,
    /// Its value in the metric's base unit.
    pub value: f64,
}

/// Splits `12.5GiB` into 12.5 and `GiB`.
fn number_and_suffix(s: &str) -> Option<(f64, &str)> {
    let t = s.trim();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-' | '_')))
        .unwrap_or(t.len());
    // `1e9` is a number, but in `5e` or `2EB` the e belongs to the unit.
    let (mut num, mut suf) = t.split_at(end);
    while num.ends_with(['e', 'E']) {
        num = &t[..num.len() - 1];
        suf = &t[num.len()..];
    }
    let v: f64 = num.replace('_', "").parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v, suf.trim()))
}

/// Parses a limit for `metric`: counts take K/M/G/T (powers of 1000), bytes B/KB/MB/GB/TB
/// (1000) or KiB/MiB/GiB/TiB (1024), latencies ns/us/ms/s, FPS a plain number.
pub fn parse_limit(metric: Metric, s: &str) -> Result<Limit> {
    let bad = |why: &str| Error::Usage(format!("--{} expects {why}, got '{s}'", metric.key()));
    let (v, suf) = number_and_suffix(s).ok_or_else(|| bad("a non-negative number"))?;
    let scale = match metric.unit() {
        Unit::Count => match suf {
            "" => 1.0,
            "K" | "k" => 1e3,
            "M" => 1e6,
            "G" | "B" => 1e9,
            "T" => 1e12,
            _ => {
                return Err(bad(
                    "a count like 25M or 4.5G (K, M, G, T = powers of 1000)",
                ))
            }
        },
        Unit::Bytes => match suf {
            "" | "B" => 1.0,
            "KB" | "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            "TB" => 1e12,
            "KiB" => 1024.0,
            "MiB" => 1048576.0,
            "GiB" => 1073741824.0,
            "TiB" => 1099511627776.0,
            _ => return Err(bad("a size like 100MB or 1.5GiB")),
        },
        Unit::Millis => match suf {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            _ => return Err(bad("a duration like 20ms, 500us or 1.5s")),
        },
        Unit::PerSecond => match suf {
            "" | "fps" | "FPS" => 1.0,
            _ => return Err(bad("inferences per second, like 30")),
        },
    };
    let mut value = v * scale;
    if matches!(metric.unit(), Unit::Count | Unit::Bytes) {
        // Counts are integers: 1.814073344G is exactly 1,814,073,344.
        value = value.round();
    }
    Ok(Limit {
        metric,
        written: s.trim().to_string(),
        value,
    })
}

/// One model to check and its limits.
#[derive(Clone, Debug)]
pub struct Entry {
    /// File or built-in name.
    pub model: String,
    /// `--dim` bindings (`batch`, `seq`, …).
    pub dims: Vec<(String, u64)>,
    /// `--input` specs, as written.
    pub inputs: Vec<String>,
    /// Its limits, one per metric.
    pub limits: Vec<Limit>,
}

// No `deny_unknown_fields`: the flattened map takes every other key, and `limits_of`
// rejects the ones that are not limits.
#[derive(Deserialize)]
struct FileModel {
    path: String,
    #[serde(default)]
    dims: BTreeMap<String, u64>,
    #[serde(default)]
    inputs: Vec<String>,
    #[serde(flatten)]
    limits: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    budget: BTreeMap<String, toml::Value>,
    #[serde(default)]
    model: Vec<FileModel>,
}

fn limits_of(table: &BTreeMap<String, toml::Value>, where_: &str) -> Result<Vec<Limit>> {
    table
        .iter()
        .map(|(k, v)| {
            let m = Metric::from_key(k).ok_or_else(|| {
                Error::Usage(format!(
                    "{where_}: unknown key '{k}' (limits: {})",
                    Metric::ALL.map(Metric::key).join(", ")
                ))
            })?;
            let text = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    return Err(Error::Usage(format!(
                        "{where_}: {k} must be a string or a number, got {other}"
                    )))
                }
            };
            parse_limit(m, &text).map_err(|e| Error::Usage(format!("{where_}: {e}")))
        })
        .collect()
}

/// Puts `over`'s limits over `base`'s (one limit per metric).
pub fn merge(base: &[Limit], over: &[Limit]) -> Vec<Limit> {
    let mut by: BTreeMap<Metric, Limit> = base.iter().map(|l| (l.metric, l.clone())).collect();
    for l in over {
        by.insert(l.metric, l.clone());
    }
    by.into_values().collect()
}

/// A budget file: limits for any model, and the models it lists.
#[derive(Clone, Debug, Default)]
pub struct Budget {
    /// `[budget]`: limits for every model, listed or not.
    pub defaults: Vec<Limit>,
    /// `[[model]]` entries, their own limits over the defaults.
    pub models: Vec<Entry>,
}

impl Budget {
    /// The entry for `model` (a file path or built-in name): the listed one, compared as paths
    /// (`./a.onnx` is `a.onnx`), else the defaults alone.
    pub fn entry(&self, model: &str) -> Entry {
        let key = |s: &str| -> Vec<String> {
            Path::new(s)
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect()
        };
        self.models
            .iter()
            .find(|e| key(&e.model) == key(model))
            .map(|e| Entry {
                model: model.to_string(),
                ..e.clone()
            })
            .unwrap_or_else(|| Entry {
                model: model.to_string(),
                dims: vec![],
                inputs: vec![],
                limits: self.defaults.clone(),
            })
    }
}

/// Reads `flopscope.toml`: `[budget]` limits for every model, then `[[model]]` entries with
/// `path`, optional `dims` and `inputs`, and their own limits.
pub fn load(path: &Path) -> Result<Budget> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let f: File = toml::from_str(&text).map_err(|e| {
        // A budget file is configuration, not a model: a usage error (exit 2), on one line
        // with the place (TOML's own message spans several lines).
        let at = e.span().map_or(String::new(), |r| {
            let before = &text[..r.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!(" (line {line}, column {col})")
        });
        let msg = e.message().trim().replace('\n', " ");
        Error::Usage(format!("{}: {msg}{at}", path.display()))
    })?;
    let shown = path.display().to_string();
    let defaults = limits_of(&f.budget, &format!("{shown} [budget]"))?;
    let models = f
        .model
        .into_iter()
        .map(|m| {
            let own = limits_of(&m.limits, &format!("{shown} [[model]] {}", m.path))?;
            Ok(Entry {
                model: m.path,
                dims: m.dims.into_iter().collect(),
                inputs: m.inputs,
                limits: merge(&defaults, &own),
            })
        })
        .collect::<Result<_>>()?;
    Ok(Budget { defaults, models })
}

/// One line of the verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What was checked.
    pub metric: Metric,
    /// The run it was measured on (latency and FPS rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Measured or counted value, in the metric's base unit.
    pub value: f64,
    /// The limit.
    pub limit: Limit,
    /// Within the limit (equal passes).
    pub pass: bool,
    /// How far from the limit, as a fraction of it: positive is room left, negative is over.
    pub headroom: f64,
}

/// The verdict for one model.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The model.
    pub model: String,
    /// One row per limit (and per run for run metrics).
    pub rows: Vec<Row>,
    /// Every row passed.
    pub pass: bool,
}

fn row(metric: Metric, value: f64, limit: &Limit, run: Option<String>) -> Row {
    let pass = if metric.is_minimum() {
        value >= limit.value
    } else {
        value <= limit.value
    };
    let headroom = if limit.value > 0.0 {
        if metric.is_minimum() {
            (value - limit.value) / limit.value
        } else {
            (limit.value - value) / limit.value
        }
    } else if pass {
        0.0
    } else {
        -1.0
    };
    Row {
        metric,
        run,
        value,
        limit: limit.clone(),
        pass,
        headroom,
    }
}

/// Checks `limits` against a profile and the measured runs (needed for run metrics).
pub fn evaluate(model: &str, limits: &[Limit], p: &Profile, runs: &[RunResult]) -> Outcome {
    let t = &p.totals;
    let mut rows = Vec::new();
    for l in limits {
        let value = match l.metric {
            Metric::Params => Some(t.params),
            Metric::Macs => Some(t.macs),
            Metric::Flops => Some(t.flops),
            Metric::WeightBytes => Some(t.weight_bytes),
            Metric::ActivationBytes => Some(t.peak_activation_bytes),
            Metric::Memory => Some(t.weight_bytes.saturating_add(t.peak_activation_bytes)),
            Metric::TrainMemory | Metric::TrainFlops => {
                // Without a training section (a recorded step of unknown cost) the limit
                // cannot be met: it fails, with no value.
                let v = p.training.as_ref().map(|tr| match l.metric {
                    Metric::TrainMemory => tr.memory.peak_bytes,
                    _ => tr.flops,
                });
                rows.push(match v {
                    Some(v) => row(l.metric, v as f64, l, None),
                    None => Row {
                        pass: false,
                        headroom: -1.0,
                        ..row(l.metric, f64::NAN, l, None)
                    },
                });
                continue;
            }
            _ => None,
        };
        if let Some(v) = value {
            rows.push(row(l.metric, v as f64, l, None));
            continue;
        }
        for r in runs {
            let v = match l.metric {
                Metric::Latency => r.latency_ms.median,
                Metric::P99Latency => r.latency_ms.p99,
                _ => r.fps,
            };
            let label = format!(
                "{} {}, {} thread{}, batch {}",
                r.backend,
                r.backend_version,
                r.threads,
                if r.threads == 1 { "" } else { "s" },
                r.batch
            );
            rows.push(row(l.metric, v, l, Some(label)));
        }
    }
    Outcome {
        model: model.to_string(),
        pass: rows.iter().all(|r| r.pass),
        rows,
    }
}

fn show(metric: Metric, v: f64) -> String {
    match metric.unit() {
        Unit::Count => grouped(v as u64),
        Unit::Bytes => format!("{} B", grouped(v as u64)),
        Unit::Millis => format!("{v:.3} ms"),
        Unit::PerSecond => format!("{v:.1}/s"),
    }
}

/// The verdict for one model as a table: a row per limit, the exceeded ones listed under it.
pub fn table(o: &Outcome) -> Table {
    let mut t = Table::new(vec![
        Column::left("Metric", "metric"),
        Column::right("Value", "value"),
        Column::right("Limit", "limit"),
        Column::right("Headroom", "headroom"),
        Column::left("Result", "pass"),
    ]);
    t.title = Some(format!(
        "flopscope check: {} — {}",
        o.model,
        if o.pass { "PASS" } else { "FAIL" }
    ));
    t.heading = true;
    // Counts and bytes are exact integers, times and rates reals.
    let exact = |m: Metric, v: f64| match m.unit() {
        Unit::Count | Unit::Bytes => Value::Int(v as i128),
        _ => Value::Float(v, 4),
    };
    for r in &o.rows {
        let name = match &r.run {
            Some(run) => format!("{} ({run})", r.metric.label()),
            None => r.metric.label().to_string(),
        };
        t.row(vec![
            Cell::text(name),
            Cell {
                text: show(r.metric, r.value),
                value: Some(exact(r.metric, r.value)),
            },
            Cell {
                text: format!(
                    "{} {} ({})",
                    if r.metric.is_minimum() { "≥" } else { "≤" },
                    show(r.metric, r.limit.value),
                    r.limit.written
                ),
                value: Some(exact(r.metric, r.limit.value)),
            },
            Cell::float(format!("{:+.1}%", r.headroom * 100.0), r.headroom, 4),
            Cell::flag(if r.pass { "pass" } else { "FAIL" }, r.pass),
        ]);
    }
    let over: Vec<&Row> = o.rows.iter().filter(|r| !r.pass).collect();
    t.notes.push(if over.is_empty() {
        format!(
            "All {} limit{} met.",
            o.rows.len(),
            if o.rows.len() == 1 { "" } else { "s" }
        )
    } else {
        let mut n = format!("Over budget ({} of {}):", over.len(), o.rows.len());
        for r in over {
            let diff = (r.value - r.limit.value).abs();
            let (word, rel) = if r.metric.is_minimum() {
                ("below", "under")
            } else {
                ("above", "over")
            };
            n.push_str(&format!(
                "\n- {}{}: {} is {} {word} the limit {} ({:.1}% {rel})",
                r.metric.label(),
                r.run
                    .as_ref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default(),
                show(r.metric, r.value),
                show(r.metric, diff),
                show(r.metric, r.limit.value),
                -r.headroom * 100.0
            ));
        }
        n
    });
    t
}

/// The verdicts as text, Markdown or LaTeX: a table per model, then each limit that was
/// exceeded with by how much. Counts are exact, so static checks print the same text on every
/// run. (CSV and JSON of one model: [`table`]; of all, the `Outcome`s serialized.)
pub fn render(outcomes: &[Outcome], f: Format) -> String {
    outcomes.iter().map(|o| table(o).render(f) + "\n").collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_with_their_units() {
        let v = |m, s| parse_limit(m, s).unwrap().value;
        assert_eq!(v(Metric::Params, "25M"), 25_000_000.0);
        assert_eq!(v(Metric::Macs, "4.5G"), 4_500_000_000.0);
        assert_eq!(v(Metric::Macs, "1.814073344G"), 1_814_073_344.0);
        assert_eq!(v(Metric::Params, "11689512"), 11_689_512.0);
        assert_eq!(v(Metric::Flops, "1e9"), 1e9);
        assert_eq!(v(Metric::WeightBytes, "1.5GiB"), 1_610_612_736.0);
        assert_eq!(v(Metric::Memory, "100MB"), 1e8);
        assert_eq!(v(Metric::Latency, "20ms"), 20.0);
        assert_eq!(v(Metric::Latency, "1.5s"), 1500.0);
        assert_eq!(v(Metric::P99Latency, "500us"), 0.5);
        assert_eq!(v(Metric::Fps, "30"), 30.0);
        for (m, s) in [
            (Metric::Params, "25X"),
            (Metric::Params, "-1"),
            (Metric::Latency, "20"),
            (Metric::WeightBytes, "1.5Gb"),
            (Metric::Fps, "abc"),
        ] {
            let e = parse_limit(m, s).unwrap_err();
            assert!(matches!(e, flopscope_core::Error::Usage(_)), "{s}: {e}");
            assert!(e.to_string().contains(m.key()), "{e}");
        }
    }
}
