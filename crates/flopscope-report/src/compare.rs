//! Several models side by side (the Params / MACs / FLOPs / latency / FPS table of a paper), the
//! Pareto front among them, and the layer-by-layer diff of two versions of one model.

use std::collections::HashMap;
use std::fmt::Write;

use serde::Serialize;

use flopscope_core::format::human;
use flopscope_core::measure::RunResult;
use flopscope_core::schema::Profile;

use crate::render::{Cell, Column, Fit, Format, Kind, Row, Show, Table, Value};

/// Schema identifier of the JSON output.
pub const SCHEMA: &str = "flopscope.compare/1";

/// One model of a comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    /// Path or built-in name, as given.
    pub name: String,
    /// Parameters (see `docs/counting.md`).
    pub params: u64,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Floating-point operations.
    pub flops: u64,
    /// Bytes of all initializers.
    pub weight_bytes: u64,
    /// Peak live activation bytes.
    pub peak_activation_bytes: u64,
    /// Weights plus peak activations: the memory an inference needs at least.
    pub memory_bytes: u64,
    /// Whether MACs/FLOPs are lower bounds (some node's cost unknown).
    pub lower_bound: bool,
    /// Inputs at the analysed shapes.
    pub inputs: Vec<String>,
    /// Median latency (ms), when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Inferences per second, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
    /// Runtime, threads and batch of the measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_on: Option<String>,
    /// On the Pareto front: no other model has both fewer (or as many) parameters and less
    /// (or as much) of the compared cost, one of them strictly.
    pub pareto: bool,
    /// Predicted time on a device (`compare --device`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted: Option<Predicted>,
}

/// A model's predicted time on a device, as `compare --device` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Predicted {
    /// Catalog key of the device.
    pub device: String,
    /// Number format.
    pub dtype: &'static str,
    /// Runtime.
    pub backend: &'static str,
    /// One call, ms.
    pub latency_ms: f64,
    /// Samples per second.
    pub throughput_per_s: f64,
    /// Whether weights and activations fit the device.
    pub fits: bool,
    /// Median |error| measured for this kind of device, percent (`None`: never measured).
    pub error_pct: Option<f64>,
}

impl Predicted {
    /// The columns `compare` shows for a prediction.
    pub fn of(p: &flopscope_core::predict::Prediction) -> Predicted {
        Predicted {
            device: p.device.key.clone(),
            dtype: p.dtype.as_str(),
            backend: p.backend.as_str(),
            latency_ms: p.latency_ms,
            throughput_per_s: p.throughput_per_s,
            fits: p.fits,
            error_pct: p.error_band.as_ref().map(|b| b.median_pct),
        }
    }
}

/// Models side by side.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// What the Pareto front trades parameters against: `latency_ms` when every model was
    /// measured, else `flops`.
    pub pareto_axis: &'static str,
    /// One entry per model, in the order given.
    pub entries: Vec<Entry>,
}

impl Comparison {
    /// Builds the comparison of `profiles` (owned or borrowed: the Python binding holds its
    /// profiles in Python objects and lends them), with one optional measurement each.
    pub fn new<'a>(
        names: &[String],
        profiles: impl IntoIterator<Item = &'a Profile>,
        runs: &[Option<RunResult>],
    ) -> Comparison {
        let mut entries: Vec<Entry> = names
            .iter()
            .zip(profiles)
            .enumerate()
            .map(|(i, (name, p))| {
                let t = &p.totals;
                let run = runs.get(i).and_then(|r| r.as_ref());
                Entry {
                    name: name.clone(),
                    params: t.params,
                    macs: t.macs,
                    flops: t.flops,
                    weight_bytes: t.weight_bytes,
                    peak_activation_bytes: t.peak_activation_bytes,
                    memory_bytes: t.weight_bytes.saturating_add(t.peak_activation_bytes),
                    lower_bound: t.nodes_cost_unknown > 0,
                    inputs: p
                        .inputs
                        .iter()
                        .map(|i| {
                            format!("{} {}", i.name, flopscope_core::format::shape_str(&i.shape))
                        })
                        .collect(),
                    latency_ms: run.map(|r| r.latency_ms.median),
                    fps: run.map(|r| r.fps),
                    measured_on: run.map(|r| {
                        format!(
                            "{} {}, {} threads, batch {}",
                            r.backend, r.backend_version, r.threads, r.batch
                        )
                    }),
                    pareto: false,
                    predicted: None,
                }
            })
            .collect();
        let by_latency = !entries.is_empty() && entries.iter().all(|e| e.latency_ms.is_some());
        let cost = |e: &Entry| {
            if by_latency {
                e.latency_ms.unwrap_or(f64::INFINITY)
            } else {
                e.flops as f64
            }
        };
        let front: Vec<bool> = entries
            .iter()
            .map(|e| {
                !entries.iter().any(|o| {
                    o.params <= e.params
                        && cost(o) <= cost(e)
                        && (o.params < e.params || cost(o) < cost(e))
                })
            })
            .collect();
        for (e, f) in entries.iter_mut().zip(front) {
            e.pareto = f;
        }
        Comparison {
            schema: SCHEMA,
            pareto_axis: if by_latency { "latency_ms" } else { "flops" },
            entries,
        }
    }

    /// Adds each model's predicted time (in the order of the entries).
    pub fn with_predictions(mut self, predicted: Vec<Predicted>) -> Comparison {
        for (e, p) in self.entries.iter_mut().zip(predicted) {
            e.predicted = Some(p);
        }
        self
    }

    fn predicted(&self) -> bool {
        self.entries.iter().any(|e| e.predicted.is_some())
    }

    fn measured(&self) -> bool {
        self.entries.iter().any(|e| e.latency_ms.is_some())
    }

    /// The comparison as one table: the paper's columns (millions of parameters, billions of
    /// MACs) for people, exact integers for CSV and JSON; marked rows are the Pareto front.
    pub fn to_table(&self) -> Table {
        let measured = if self.measured() {
            Show::ALL
        } else {
            Show::DATA
        };
        // Absent from every format when nothing was predicted: existing documents keep
        // their columns.
        let predicted = if self.predicted() {
            Show::ALL
        } else {
            Show::NONE
        };
        let predicted_ms = match self.entries.iter().find_map(|e| e.predicted.as_ref()) {
            Some(p) => format!("{} ms", p.device),
            None => "Predicted ms".into(),
        };
        let data = |k: &str| Column::count(k, k).show(Show::DATA);
        let mut t = Table::new(vec![
            Column::left("Model", "model").gap(""),
            Column::right("Params (M)", "params").gap("  "),
            Column::right("MACs (G)", "macs").gap("  "),
            Column::right("FLOPs (G)", "flops").gap("  "),
            data("weight_bytes"),
            data("peak_activation_bytes"),
            Column::right("Memory (MiB)", "memory_bytes").gap("  "),
            Column::left("lower_bound", "lower_bound").show(Show::DATA),
            Column::right("Latency (ms)", "latency_ms")
                .gap("  ")
                .show(measured),
            Column::right("FPS", "fps").gap("  ").show(measured),
            Column::right(&predicted_ms, "predicted_ms")
                .gap("  ")
                .show(predicted),
            Column::right("Pred. /s", "predicted_per_s")
                .gap("  ")
                .show(predicted),
            Column::left("Fits", "fits").gap("  ").show(predicted),
            Column::left("pareto", "pareto").show(Show::DATA),
        ]);
        for e in &self.entries {
            let lb = if e.lower_bound { "≥" } else { "" };
            let cells = vec![
                Cell::text(&e.name),
                Cell::int(format!("{:.2}", e.params as f64 / 1e6), e.params),
                Cell::int(format!("{lb}{:.3}", e.macs as f64 / 1e9), e.macs),
                Cell::int(format!("{lb}{:.3}", e.flops as f64 / 1e9), e.flops),
                Cell::count(Some(e.weight_bytes)),
                Cell::count(Some(e.peak_activation_bytes)),
                Cell::int(
                    format!("{:.1}", e.memory_bytes as f64 / (1u64 << 20) as f64),
                    e.memory_bytes,
                ),
                Cell::flag("", e.lower_bound),
                e.latency_ms
                    .map_or(Cell::text("-"), |v| Cell::float(format!("{v:.2}"), v, 4)),
                e.fps
                    .map_or(Cell::text("-"), |v| Cell::float(format!("{v:.1}"), v, 3)),
                e.predicted.as_ref().map_or(Cell::text("-"), |p| {
                    Cell::float(format!("{:.3}", p.latency_ms), p.latency_ms, 4)
                }),
                e.predicted.as_ref().map_or(Cell::text("-"), |p| {
                    Cell::float(format!("{:.1}", p.throughput_per_s), p.throughput_per_s, 3)
                }),
                e.predicted.as_ref().map_or(Cell::text("-"), |p| {
                    Cell::flag(if p.fits { "yes" } else { "NO" }, p.fits)
                }),
                Cell::flag("", e.pareto),
            ];
            t.rows.push(Row {
                cells,
                mark: e.pareto,
            });
        }
        t.mark = Some(format!(
            "Pareto front (parameters vs {})",
            self.axis_label()
        ));
        t.notes.push(self.footnote());
        t
    }

    fn footnote(&self) -> String {
        let mut s = String::from(
            "MACs: multiply-accumulates; FLOPs = 2 × MACs + other operations; memory: weights + peak activations.",
        );
        let runs: Vec<String> = self
            .entries
            .iter()
            .filter_map(|e| e.measured_on.as_ref().map(|m| format!("{}: {m}", e.name)))
            .collect();
        if !runs.is_empty() {
            let _ = write!(s, " Latency: median, {}.", runs.join("; "));
        }
        if let Some(p) = self.entries.iter().find_map(|e| e.predicted.as_ref()) {
            let band = p
                .error_pct
                .map_or("error not measured for this kind of device".into(), |e| {
                    format!("median |error| {e:.0}% on measured tables")
                });
            let _ = write!(
                s,
                " Predicted on {} at {} via {} ({band}; docs/predict.md).",
                p.device, p.dtype, p.backend
            );
        }
        s
    }

    fn axis_label(&self) -> &'static str {
        if self.pareto_axis == "latency_ms" {
            "latency"
        } else {
            "FLOPs"
        }
    }

    /// The comparison in one format (JSON: the table's rows; the `flopscope.compare/1`
    /// document is this value serialized).
    pub fn render(&self, f: Format) -> String {
        self.to_table().render(f)
    }
}

/// How one layer changed between two versions of a model.
#[derive(Clone, Debug, Serialize)]
pub struct LayerDiff {
    /// Node name (layers are matched by name).
    pub name: String,
    /// Operator type (of the new version when both exist).
    pub op: String,
    /// `added`, `removed` or `changed`.
    pub status: &'static str,
    /// Parameters before and after.
    pub params: [u64; 2],
    /// FLOPs before and after (0 when unknown).
    pub flops: [u64; 2],
    /// Output shape before and after (`-` when absent).
    pub output: [String; 2],
}

/// The layers that differ between two versions of one model.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    /// Old and new source.
    pub models: [String; 2],
    /// Parameters, MACs and FLOPs totals, old and new.
    pub params: [u64; 2],
    /// MACs totals.
    pub macs: [u64; 2],
    /// FLOPs totals.
    pub flops: [u64; 2],
    /// Layers that were added, removed or changed in parameters, FLOPs or output shape; the
    /// largest FLOPs change first.
    pub layers: Vec<LayerDiff>,
}

impl Diff {
    /// Matches the layers of `old` and `new` by node name.
    pub fn new(old: &Profile, new: &Profile) -> Diff {
        let shape = |l: &flopscope_core::schema::Layer| {
            flopscope_core::format::shape_str(l.outputs.first().unwrap_or(&None))
        };
        let before: HashMap<&str, &flopscope_core::schema::Layer> =
            old.layers.iter().map(|l| (l.name.as_str(), l)).collect();
        let after: HashMap<&str, &flopscope_core::schema::Layer> =
            new.layers.iter().map(|l| (l.name.as_str(), l)).collect();
        let mut layers = Vec::new();
        for l in &new.layers {
            let (status, p0, f0, o0) = match before.get(l.name.as_str()) {
                None => ("added", 0, 0, "-".to_string()),
                Some(b) => ("changed", b.params, b.flops.unwrap_or(0), shape(b)),
            };
            let (p1, f1, o1) = (l.params, l.flops.unwrap_or(0), shape(l));
            if status == "changed" && p0 == p1 && f0 == f1 && o0 == o1 {
                continue;
            }
            layers.push(LayerDiff {
                name: l.name.clone(),
                op: l.op.clone(),
                status,
                params: [p0, p1],
                flops: [f0, f1],
                output: [o0, o1],
            });
        }
        for l in old
            .layers
            .iter()
            .filter(|l| !after.contains_key(l.name.as_str()))
        {
            layers.push(LayerDiff {
                name: l.name.clone(),
                op: l.op.clone(),
                status: "removed",
                params: [l.params, 0],
                flops: [l.flops.unwrap_or(0), 0],
                output: [shape(l), "-".into()],
            });
        }
        let change = |d: &LayerDiff| {
            (
                d.flops[1].abs_diff(d.flops[0]),
                d.params[1].abs_diff(d.params[0]),
            )
        };
        layers.sort_by_key(|d| std::cmp::Reverse(change(d)));
        Diff {
            models: [old.model.source.clone(), new.model.source.clone()],
            params: [old.totals.params, new.totals.params],
            macs: [old.totals.macs, new.totals.macs],
            flops: [old.totals.flops, new.totals.flops],
            layers,
        }
    }

    /// The totals, old and new: a row per count with its change.
    pub fn totals_table(&self) -> Table {
        let mut t = Table::new(vec![
            Column::left("Total", "total").width(7),
            Column::right(&self.models[0], "old").width(9),
            Column::left(&self.models[1], "new")
                .kind(Kind::Number)
                .width(9)
                .gap(" → "),
            Column::left("Change", "change"),
        ]);
        t.title = Some(format!("{} → {}", self.models[0], self.models[1]));
        t.text_header = false;
        t.indent = "  ".into();
        for (k, [a, b]) in [
            ("Params", self.params),
            ("MACs", self.macs),
            ("FLOPs", self.flops),
        ] {
            t.row(vec![
                Cell::text(k),
                Cell::int(human(a), a),
                Cell::int(human(b), b),
                Cell::text(format!("{}{}", signed(a, b), rel(a, b))),
            ]);
        }
        t
    }

    /// The `top` most changed layers.
    pub fn layers_table(&self, top: usize) -> Table {
        let mut t = Table::new(vec![
            Column::left("Layer", "name")
                .width(40)
                .fit(Fit::KeepEnd)
                .gap(""),
            Column::left("Op", "op").width(14),
            Column::left("Change", "status").width(8),
            Column::right("ΔParams", "params_change").width(10),
            Column::right("ΔFLOPs", "flops_change").width(10),
            Column::left("Output", "output").gap("  "),
        ]);
        t.title = Some(format!(
            "{} layers differ{}",
            self.layers.len(),
            if self.layers.len() > top {
                format!(" ({top} largest shown)")
            } else {
                String::new()
            }
        ));
        let delta = |[a, b]: [u64; 2]| Cell {
            text: signed(a, b),
            value: Some(Value::Int(b as i128 - a as i128)),
        };
        for d in self.layers.iter().take(top) {
            let out = if d.output[0] == d.output[1] {
                d.output[1].clone()
            } else {
                format!("{} → {}", d.output[0], d.output[1])
            };
            t.row(vec![
                Cell::text(&d.name),
                Cell::text(&d.op),
                Cell::text(d.status),
                delta(d.params),
                delta(d.flops),
                Cell::text(out),
            ]);
        }
        t
    }

    /// The diff as `compare --diff -f FORMAT` prints it: JSON (indented, with its final
    /// newline), Markdown (the 50 largest changes), or text (30) for every other format.
    pub fn document(&self, f: Format) -> String {
        match f {
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            Format::Markdown => self.render(Format::Markdown, 50),
            _ => self.render(Format::Text, 30),
        }
    }

    /// The totals, then the `top` most changed layers, in one format.
    pub fn render(&self, f: Format, top: usize) -> String {
        let sep = match f {
            Format::Text | Format::Markdown => "\n",
            _ => "",
        };
        format!(
            "{}{sep}{}",
            self.totals_table().render(f),
            self.layers_table(top).render(f)
        )
    }
}

/// A change in human units: `+1.2M`, `−513K`, `0`.
fn signed(a: u64, b: u64) -> String {
    let d = b as i128 - a as i128;
    let s = human(d.unsigned_abs().min(u64::MAX as u128) as u64);
    match d.signum() {
        1 => format!("+{s}"),
        -1 => format!("−{s}"),
        _ => "0".into(),
    }
}

/// The relative change, ` (+12.5%)`; nothing from 0.
fn rel(a: u64, b: u64) -> String {
    if a == 0 {
        String::new()
    } else {
        format!(" ({:+.1}%)", (b as f64 - a as f64) / a as f64 * 100.0)
    }
}
