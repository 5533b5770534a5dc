//! The bench report (`flopscope bench`): the runs, their roofline and the per-layer times, as
//! tables in every format ([`render`]), or the HTML page ([`html`]).

use flopscope_core::format::human;
use flopscope_core::measure::Report;

use crate::render::{Cell, Column, Fit, Format, Show, Table};

/// Per-layer rows shown per run, slowest first.
const LAYERS: usize = 20;

/// The report in one format: `flopscope.bench/1` JSON, one CSV row per run with exact
/// statistics, or the runs, roofline and per-layer tables as text, Markdown or LaTeX.
pub fn render(report: &Report, f: Format) -> String {
    match f {
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Csv => runs_data(report).render(f),
        _ => {
            let mut out = runs_table(report).render(f);
            for t in roofline_table(report)
                .into_iter()
                .chain(layer_tables(report))
            {
                out.push('\n');
                out.push_str(&t.render(f));
            }
            if report.synthesized_weights {
                out.push_str(match f {
                    Format::Latex => "% Weights: seeded random (absent from the source).\n",
                    _ => "\nWeights: seeded random (absent from the source).\n",
                });
            }
            out
        }
    }
}

/// The self-contained HTML page of the report.
pub fn html(report: &Report) -> String {
    let mut page = crate::page::Page::new(format!("flopscope bench: {}", report.model));
    page.bench = Some(report);
    crate::page::html(&page)
}

fn backend(r: &flopscope_core::measure::RunResult) -> String {
    format!("{} {}", r.backend, r.backend_version)
}

fn ms(v: f64, decimals: usize) -> Cell {
    Cell::float(format!("{v:.decimals$}ms"), v, 4)
}

/// One row per run (backend × threads × batch): latency statistics, throughput, load and cold
/// start.
pub fn runs_table(report: &Report) -> Table {
    // Wide enough for the longest label (`torch.compile 2.15.0+cu132`), so columns stay aligned.
    let label = report
        .runs
        .iter()
        .map(|r| backend(r).chars().count())
        .max()
        .unwrap_or(0);
    let mut t = Table::new(vec![
        Column::left("Backend", "backend")
            .width(label.max(19))
            .gap(""),
        Column::right("Thr", "threads").width(3),
        Column::right("Batch", "batch").width(5),
        Column::right("Runs", "runs").width(5),
        Column::right("Median", "median_ms").width(9),
        Column::right("p90", "p90_ms").width(9),
        Column::right("p99", "p99_ms").width(9),
        Column::right("Min", "min_ms").width(9),
        Column::right("Stddev", "stddev_ms").width(8),
        Column::right("FPS", "fps").width(9),
        Column::right("Load", "load_ms").width(7),
        Column::right("Cold", "cold_ms").width(8),
    ]);
    t.title = Some(format!("{}  ({})", report.model, report.inputs.join(", ")));
    for r in &report.runs {
        let l = &r.latency_ms;
        t.row(vec![
            Cell::text(backend(r)),
            Cell::int(r.threads.to_string(), r.threads as u64),
            Cell::int(r.batch.to_string(), r.batch),
            Cell::int(r.runs.to_string(), r.runs as u64),
            ms(l.median, 2),
            ms(l.p90, 2),
            ms(l.p99, 2),
            ms(l.min, 2),
            ms(l.stddev, 2),
            Cell::float(format!("{:.1}", r.fps), r.fps, 3),
            ms(r.load_ms, 0),
            ms(r.cold_ms, 1),
        ]);
    }
    t
}

/// Every run's statistics as exact numbers (the CSV of `bench`).
pub fn runs_data(report: &Report) -> Table {
    let col = |k: &str| Column::right(k, k).show(Show::DATA);
    let mut t = Table::new(
        [
            "backend",
            "backend_version",
            "batch",
            "threads",
            "runs",
            "min_ms",
            "mean_ms",
            "median_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "stddev_ms",
            "outliers",
            "fps",
            "load_ms",
            "cold_ms",
        ]
        .map(col)
        .to_vec(),
    );
    t.columns[0] = Column::left("backend", "backend").show(Show::DATA);
    t.columns[1] = Column::left("backend_version", "backend_version").show(Show::DATA);
    let x = |v: f64, d: usize| Cell::float("", v, d);
    let n = |v: u64| Cell::int("", v);
    for r in &report.runs {
        let l = &r.latency_ms;
        t.row(vec![
            Cell::text(&r.backend),
            Cell::text(&r.backend_version),
            n(r.batch),
            n(r.threads as u64),
            n(r.runs as u64),
            x(l.min, 4),
            x(l.mean, 4),
            x(l.median, 4),
            x(l.p90, 4),
            x(l.p99, 4),
            x(l.max, 4),
            x(l.stddev, 4),
            n(r.outliers as u64),
            x(r.fps, 3),
            x(r.load_ms, 3),
            x(r.cold_ms, 3),
        ]);
    }
    t
}

/// The runs against the roofline of their machine, when one was given.
pub fn roofline_table(report: &Report) -> Option<Table> {
    let roofed: Vec<_> = report
        .runs
        .iter()
        .filter_map(|r| r.roofline.as_ref().map(|f| (r, f)))
        .collect();
    let (_, first) = roofed.first()?;
    let mut t = Table::new(vec![
        Column::left("Backend", "backend").width(19).gap(""),
        Column::right("Thr", "threads").width(3),
        Column::right("Batch", "batch").width(5),
        Column::right("Peak GFLOP/s", "peak_gflops"),
        Column::right("GB/s", "bandwidth_gbs"),
        Column::right("Predicted ms", "predicted_ms"),
        Column::right("Floor ms", "compute_floor_ms"),
        Column::right("Measured ms", "measured_ms"),
        Column::right("% roof", "efficiency_pct"),
        Column::right("GFLOP/s", "achieved_gflops"),
    ]);
    t.title = Some(format!(
        "Roofline of {} ({}): predicted lower bound vs measured median",
        first.model.device, first.model.source
    ));
    t.heading = true;
    t.notes.push(
        "Predicted: each layer at its roof, one after another; floor: all FLOPs at peak; \
         % roof: predicted ÷ measured, the % of the roofline reached; GFLOP/s: achieved."
            .into(),
    );
    for (r, f) in roofed {
        t.row(vec![
            Cell::text(backend(r)),
            Cell::int(r.threads.to_string(), r.threads as u64),
            Cell::int(r.batch.to_string(), r.batch),
            Cell::fixed(f.model.peak_gflops, 1),
            Cell::fixed(f.model.bandwidth_gbs, 1),
            Cell::fixed(f.model.predicted_ms, 3),
            Cell::fixed(f.model.compute_floor_ms, 3),
            Cell::fixed(f.measured_ms, 3),
            Cell::fixed(f.efficiency_pct, 1),
            Cell::fixed(f.achieved_gflops, 1),
        ]);
    }
    Some(t)
}

/// The slowest layers of each run timed per layer (`--per-layer`).
pub fn layer_tables(report: &Report) -> Vec<Table> {
    report
        .runs
        .iter()
        .filter(|r| !r.layers.is_empty())
        .map(|r| {
            let roof = if r.roofline.is_some() {
                Show::ALL
            } else {
                Show::DATA
            };
            let mut t = Table::new(vec![
                Column::left("Layer", "name")
                    .width(40)
                    .fit(Fit::KeepEnd)
                    .gap(""),
                Column::left("Op", "op").width(18),
                Column::right("ms", "time_ms").width(8),
                Column::right("%", "percent").width(6),
                Column::right("MACs", "macs").width(9),
                Column::right("GFLOP/s", "gflops_per_s").width(8),
                Column::left("Bound", "bound")
                    .width(8)
                    .align(crate::render::Align::Right)
                    .show(roof),
                Column::right("Min ms", "min_ms").width(8).show(roof),
                Column::right("%roof", "efficiency_pct").width(6).show(roof),
            ]);
            t.title = Some(format!(
                "Per layer: {} {}, {} threads, batch {} (mean of 10 profiled runs, slowest first)",
                r.backend, r.backend_version, r.threads, r.batch
            ));
            let dash = || Cell::text("-");
            for l in r.layers.iter().take(LAYERS) {
                let (bound, min, eff) = match l.roofline {
                    Some(u) => (
                        Cell::text(u.bound.name()),
                        Cell::fixed(u.min_ms, 4),
                        l.efficiency_pct.map_or_else(dash, |e| Cell::fixed(e, 1)),
                    ),
                    None => (dash(), dash(), dash()),
                };
                t.row(vec![
                    Cell::text(&l.name),
                    Cell::text(&l.op),
                    Cell::fixed(l.time_ms, 3),
                    Cell::fixed(l.percent, 1),
                    l.macs.map_or_else(dash, |m| Cell::int(human(m), m)),
                    l.gflops_per_s.map_or_else(dash, |g| Cell::fixed(g, 1)),
                    bound,
                    min,
                    eff,
                ]);
            }
            t
        })
        .collect()
}
