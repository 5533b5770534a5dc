//! Several models side by side (the Params / MACs / FLOPs / latency / FPS table of a paper), the
//! Pareto front among them, and the layer-by-layer diff of two versions of one model.

use std::collections::HashMap;
use std::fmt::Write;

use serde::Serialize;

use flopscope_bench::RunResult;
use flopscope_core::schema::Profile;

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
    /// Builds the comparison of `profiles`, with one optional measurement each.
    pub fn new(names: &[String], profiles: &[Profile], runs: &[Option<RunResult>]) -> Comparison {
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

    fn measured(&self) -> bool {
        self.entries.iter().any(|e| e.latency_ms.is_some())
    }

    /// Cells of one row, formatted as in papers: millions of parameters, billions of MACs.
    fn cells(&self, e: &Entry) -> Vec<String> {
        let lb = if e.lower_bound { "≥" } else { "" };
        let mut c = vec![
            e.name.clone(),
            format!("{:.2}", e.params as f64 / 1e6),
            format!("{lb}{:.3}", e.macs as f64 / 1e9),
            format!("{lb}{:.3}", e.flops as f64 / 1e9),
            format!("{:.1}", e.memory_bytes as f64 / (1u64 << 20) as f64),
        ];
        if self.measured() {
            c.push(e.latency_ms.map_or("-".into(), |v| format!("{v:.2}")));
            c.push(e.fps.map_or("-".into(), |v| format!("{v:.1}")));
        }
        c
    }

    fn header(&self) -> Vec<&'static str> {
        let mut h = vec![
            "Model",
            "Params (M)",
            "MACs (G)",
            "FLOPs (G)",
            "Memory (MiB)",
        ];
        if self.measured() {
            h.extend(["Latency (ms)", "FPS"]);
        }
        h
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
        s
    }

    /// Aligned text for a terminal; `*` marks the Pareto front.
    pub fn table(&self) -> String {
        let h = self.header();
        let rows: Vec<Vec<String>> = self.entries.iter().map(|e| self.cells(e)).collect();
        let width = |i: usize| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..h.len()).map(width).collect();
        let mut o = String::new();
        let line = |cells: Vec<String>, mark: &str| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                if i == 0 {
                    let _ = write!(s, "{mark}{c}{}", " ".repeat(pad));
                } else {
                    let _ = write!(s, "  {}{c}", " ".repeat(pad));
                }
            }
            s + "\n"
        };
        o.push_str(&line(h.iter().map(|s| s.to_string()).collect(), "  "));
        for (e, r) in self.entries.iter().zip(rows) {
            o.push_str(&line(r, if e.pareto { "* " } else { "  " }));
        }
        let _ = writeln!(
            o,
            "\n* Pareto front (parameters vs {}). {}",
            self.axis_label(),
            self.footnote()
        );
        o
    }

    fn axis_label(&self) -> &'static str {
        if self.pareto_axis == "latency_ms" {
            "latency"
        } else {
            "FLOPs"
        }
    }

    /// A GitHub-flavoured Markdown table.
    pub fn markdown(&self) -> String {
        let h = self.header();
        let mut o = format!(
            "| {} |\n|---|{}\n",
            h.join(" | "),
            "---:|".repeat(h.len() - 1)
        );
        for e in &self.entries {
            let mut c = self.cells(e);
            if e.pareto {
                c[0] = format!("**{}**", c[0]);
            }
            let _ = writeln!(o, "| {} |", c.join(" | "));
        }
        let _ = writeln!(
            o,
            "\nBold: Pareto front (parameters vs {}). {}",
            self.axis_label(),
            self.footnote()
        );
        o
    }

    /// A LaTeX `tabular` (booktabs) ready to paste into a paper.
    pub fn latex(&self) -> String {
        let h = self.header();
        let esc = |s: &str| {
            s.chars()
                .map(|c| match c {
                    '_' | '&' | '%' | '$' | '#' | '{' | '}' => format!("\\{c}"),
                    '≥' => "$\\geq$".into(),
                    c => c.to_string(),
                })
                .collect::<String>()
        };
        let mut o = format!(
            "% {}\n\\begin{{tabular}}{{l{}}}\n\\toprule\n{} \\\\\n\\midrule\n",
            self.footnote(),
            "r".repeat(h.len() - 1),
            h.iter().map(|s| esc(s)).collect::<Vec<_>>().join(" & ")
        );
        for e in &self.entries {
            let c: Vec<String> = self.cells(e).iter().map(|s| esc(s)).collect();
            let _ = writeln!(o, "{} \\\\", c.join(" & "));
        }
        o.push_str("\\bottomrule\n\\end{tabular}\n");
        o
    }

    /// CSV with exact integers (not rounded to M/G).
    pub fn csv(&self) -> String {
        let mut o = String::from(
            "model,params,macs,flops,weight_bytes,peak_activation_bytes,memory_bytes,lower_bound,latency_ms,fps,pareto\n",
        );
        for e in &self.entries {
            let name = if e.name.contains([',', '"']) {
                format!("\"{}\"", e.name.replace('"', "\"\""))
            } else {
                e.name.clone()
            };
            let _ = writeln!(
                o,
                "{name},{},{},{},{},{},{},{},{},{},{}",
                e.params,
                e.macs,
                e.flops,
                e.weight_bytes,
                e.peak_activation_bytes,
                e.memory_bytes,
                e.lower_bound,
                e.latency_ms.map_or(String::new(), |v| format!("{v:.4}")),
                e.fps.map_or(String::new(), |v| format!("{v:.3}")),
                e.pareto
            );
        }
        o
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

    /// Text (or Markdown) listing of the totals and the `top` most changed layers.
    pub fn render(&self, markdown: bool, top: usize) -> String {
        use flopscope_core::format::human;
        let signed = |a: u64, b: u64| {
            let d = b as i128 - a as i128;
            let s = human(d.unsigned_abs().min(u64::MAX as u128) as u64);
            match d.signum() {
                1 => format!("+{s}"),
                -1 => format!("−{s}"),
                _ => "0".into(),
            }
        };
        let rel = |a: u64, b: u64| {
            if a == 0 {
                String::new()
            } else {
                format!(" ({:+.1}%)", (b as f64 - a as f64) / a as f64 * 100.0)
            }
        };
        let mut o = String::new();
        let totals = [
            ("Params", self.params),
            ("MACs", self.macs),
            ("FLOPs", self.flops),
        ];
        if markdown {
            let _ = writeln!(
                o,
                "| total | {} | {} | change |\n|---|---:|---:|---:|",
                self.models[0], self.models[1]
            );
            for (k, [a, b]) in totals {
                let _ = writeln!(
                    o,
                    "| {k} | {} | {} | {}{} |",
                    human(a),
                    human(b),
                    signed(a, b),
                    rel(a, b)
                );
            }
            let _ = writeln!(
                o,
                "\n| layer | op | change | params | FLOPs | output |\n|---|---|---|---:|---:|---|"
            );
        } else {
            let _ = writeln!(o, "{} → {}", self.models[0], self.models[1]);
            for (k, [a, b]) in totals {
                let _ = writeln!(
                    o,
                    "  {k:<7} {:>9} → {:<9} {}{}",
                    human(a),
                    human(b),
                    signed(a, b),
                    rel(a, b)
                );
            }
            let _ = writeln!(
                o,
                "\n{} layers differ{}\n{:<40} {:<14} {:<8} {:>10} {:>10}  Output",
                self.layers.len(),
                if self.layers.len() > top {
                    format!(" ({top} largest shown)")
                } else {
                    String::new()
                },
                "Layer",
                "Op",
                "Change",
                "ΔParams",
                "ΔFLOPs"
            );
        }
        for d in self.layers.iter().take(top) {
            let out = if d.output[0] == d.output[1] {
                d.output[1].clone()
            } else {
                format!("{} → {}", d.output[0], d.output[1])
            };
            let (dp, df) = (
                signed(d.params[0], d.params[1]),
                signed(d.flops[0], d.flops[1]),
            );
            if markdown {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {dp} | {df} | {out} |",
                    d.name, d.op, d.status
                );
            } else {
                let n = d.name.chars().count();
                let name: String = if n > 40 {
                    format!("…{}", d.name.chars().skip(n - 39).collect::<String>())
                } else {
                    d.name.clone()
                };
                let _ = writeln!(
                    o,
                    "{name:<40} {:<14} {:<8} {dp:>10} {df:>10}  {out}",
                    d.op, d.status
                );
            }
        }
        o
    }
}
