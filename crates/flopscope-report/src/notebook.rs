//! The notebook view of a profile (`Profile._repr_html_`): one HTML fragment that Jupyter shows
//! inline, offline. Summary cards, an inline SVG bar chart of the heaviest layers' FLOPs and a
//! table of the ten heaviest layers; no script, no stylesheet link, no font or image to fetch.
//! Every name from the model is escaped. [`bench_fragment`] is the same for a bench report
//! (`BenchResult._repr_html_`): the runs' statistics and a latency histogram per run.

use std::fmt::Write;

use flopscope_core::format::{grouped, human, human_bytes, shape_str};

use crate::render::escape_html as escape;
use flopscope_core::schema::{Layer, Profile};

/// Layers in the chart and the table.
const TOP: usize = 10;

/// The `TOP` layers with the most FLOPs (unknown costs last), heaviest first.
fn heaviest(p: &Profile) -> Vec<&Layer> {
    let mut v: Vec<&Layer> = p
        .layers
        .iter()
        .filter(|l| l.flops != Some(0) || l.params > 0)
        .collect();
    v.sort_by_key(|l| std::cmp::Reverse(l.flops.map_or(0, |f| f.saturating_add(1))));
    v.truncate(TOP);
    v
}

/// The fragment.
pub fn fragment(p: &Profile) -> String {
    let t = &p.totals;
    let lower = if t.nodes_cost_unknown > 0 { "≥ " } else { "" };
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"flopscope-profile\" style=\"font-family:system-ui,sans-serif;font-size:13px\">\
         <div style=\"font-weight:600;margin-bottom:6px\">flopscope profile: {}</div>\
         <div style=\"display:flex;flex-wrap:wrap;gap:8px;margin-bottom:10px\">",
        escape(&p.model.source)
    );
    let cards = [
        ("Parameters", human(t.params), grouped(t.params)),
        ("MACs", format!("{lower}{}", human(t.macs)), grouped(t.macs)),
        (
            "FLOPs",
            format!("{lower}{}", human(t.flops)),
            grouped(t.flops),
        ),
        (
            "Weights",
            human_bytes(t.param_bytes),
            format!("{} bytes", grouped(t.param_bytes)),
        ),
        (
            "Peak activations",
            human_bytes(t.peak_activation_bytes),
            format!("{} bytes", grouped(t.peak_activation_bytes)),
        ),
    ];
    for (label, big, exact) in cards {
        let _ = write!(
            s,
            "<div class=\"flopscope-card\" title=\"{exact}\" style=\"border:1px solid #ccc;\
             border-radius:6px;padding:6px 12px;min-width:110px\"><div style=\"opacity:.7\">\
             {label}</div><div style=\"font-size:20px;font-weight:600\">{big}</div></div>",
            exact = escape(&exact),
            big = escape(&big),
        );
    }
    s.push_str("</div>");
    let top = heaviest(p);
    s.push_str(&chart(&top, t.flops));
    s.push_str(&table(&top, t.flops));
    if t.nodes_cost_unknown > 0 {
        let _ = write!(
            s,
            "<div style=\"margin-top:6px\">{} nodes have an unknown cost: MACs and FLOPs are lower \
             bounds.</div>",
            t.nodes_cost_unknown
        );
    }
    for w in &p.warnings {
        let _ = write!(s, "<div style=\"opacity:.8\">warning: {}</div>", escape(w));
    }
    s.push_str("</div>");
    s
}

/// `11,680,872`.
/// Horizontal bars of the heaviest layers' FLOPs, as inline SVG.
fn chart(top: &[&Layer], total: u64) -> String {
    const ROW: usize = 18;
    const LABEL: usize = 260;
    const BAR: usize = 320;
    let max = top.iter().filter_map(|l| l.flops).max().unwrap_or(0).max(1);
    let height = ROW * top.len() + 24;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"flopscope-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" \
         height=\"{height}\" role=\"img\" aria-label=\"FLOPs of the heaviest layers\">\
         <text x=\"0\" y=\"14\" font-size=\"12\" font-weight=\"600\">FLOPs of the {n} heaviest \
         layers</text>",
        w = LABEL + BAR + 90,
        n = top.len()
    );
    for (i, l) in top.iter().enumerate() {
        let y = 24 + i * ROW;
        let f = l.flops.unwrap_or(0);
        let width = (f as f64 / max as f64 * BAR as f64).round();
        let name = flopscope_core::format::fit_left(&l.name, 40);
        let share = if total > 0 {
            format!("{:.1}%", f as f64 * 100.0 / total as f64)
        } else {
            String::new()
        };
        let value = l.flops.map_or_else(|| "?".to_string(), human);
        let _ = write!(
            s,
            "<g><title>{full}: {value} FLOPs</title>\
             <text x=\"{lx}\" y=\"{ty}\" font-size=\"11\" text-anchor=\"end\">{name}</text>\
             <rect x=\"{bx}\" y=\"{y}\" width=\"{width}\" height=\"{h}\" fill=\"#4c78a8\"/>\
             <text x=\"{vx}\" y=\"{ty}\" font-size=\"11\">{value} {share}</text></g>",
            full = escape(&l.name),
            name = escape(&name),
            lx = LABEL - 6,
            ty = y + 12,
            bx = LABEL,
            h = ROW - 4,
            vx = LABEL as f64 + width + 4.0,
        );
    }
    s.push_str("</svg>");
    s
}

/// Cell styles: Jupyter's own table style aligns and pads cells; on a plain page these do.
const LEFT: &str = "text-align:left;padding:1px 8px 1px 0";
const RIGHT: &str = "text-align:right;padding:1px 0 1px 8px";

/// The heaviest layers as a table.
fn table(top: &[&Layer], total: u64) -> String {
    let mut s = format!(
        "<table class=\"flopscope-layers\" style=\"border-collapse:collapse;margin-top:8px\">\
         <thead><tr><th style=\"{LEFT}\">Layer</th><th style=\"{LEFT}\">Op</th>\
         <th style=\"{LEFT}\">Output</th><th style=\"{RIGHT}\">Params</th>\
         <th style=\"{RIGHT}\">MACs</th><th style=\"{RIGHT}\">FLOPs</th>\
         <th style=\"{RIGHT}\">%FLOP</th></tr></thead><tbody>"
    );
    let opt = |v: Option<u64>| v.map_or_else(|| "?".to_string(), human);
    for l in top {
        let share = match (l.flops, total) {
            (Some(f), t) if t > 0 => format!("{:.1}", f as f64 * 100.0 / t as f64),
            _ => "?".into(),
        };
        let _ = write!(
            s,
            "<tr><td style=\"{LEFT}\">{}</td><td style=\"{LEFT}\">{}</td>\
             <td style=\"{LEFT}\">{}</td><td style=\"{RIGHT}\">{}</td>\
             <td style=\"{RIGHT}\">{}</td><td style=\"{RIGHT}\">{}</td>\
             <td style=\"{RIGHT}\">{}</td></tr>",
            escape(&l.name),
            escape(&l.op),
            escape(&shape_str(l.outputs.first().unwrap_or(&None))),
            human(l.params),
            opt(l.macs),
            opt(l.flops),
            share
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// Bins of each run's latency histogram.
const BINS: usize = 20;

/// The notebook view of a bench report: one row of statistics per run and, per run, an inline
/// SVG histogram of its timed runs with the median marked; no script.
pub fn bench_fragment(r: &flopscope_core::measure::Report) -> String {
    let mut s = format!(
        "<div class=\"flopscope-bench\" style=\"font-family:system-ui,sans-serif;font-size:13px\">\
         <div style=\"font-weight:600;margin-bottom:6px\">flopscope bench: {} ({})</div>\
         <table style=\"border-collapse:collapse\"><thead><tr><th style=\"{LEFT}\">Backend</th>\
         <th style=\"{RIGHT}\">Threads</th><th style=\"{RIGHT}\">Batch</th>\
         <th style=\"{RIGHT}\">Runs</th><th style=\"{RIGHT}\">Median ms</th>\
         <th style=\"{RIGHT}\">p90 ms</th><th style=\"{RIGHT}\">p99 ms</th>\
         <th style=\"{RIGHT}\">FPS</th></tr></thead><tbody>",
        escape(&r.model),
        escape(&r.inputs.join(", "))
    );
    for run in &r.runs {
        let l = &run.latency_ms;
        let _ = write!(
            s,
            "<tr><td style=\"{LEFT}\">{} {}</td><td style=\"{RIGHT}\">{}</td>\
             <td style=\"{RIGHT}\">{}</td><td style=\"{RIGHT}\">{}</td>\
             <td style=\"{RIGHT}\">{:.3}</td><td style=\"{RIGHT}\">{:.3}</td>\
             <td style=\"{RIGHT}\">{:.3}</td><td style=\"{RIGHT}\">{:.1}</td></tr>",
            escape(&run.backend),
            escape(&run.backend_version),
            run.threads,
            run.batch,
            run.runs,
            l.median,
            l.p90,
            l.p99,
            run.fps
        );
    }
    s.push_str("</tbody></table><div style=\"display:flex;flex-wrap:wrap;gap:12px\">");
    for run in &r.runs {
        s.push_str(&histogram(run));
    }
    s.push_str("</div></div>");
    s
}

/// Counts of `samples` in `BINS` equal bins from their minimum to their maximum.
fn bin(samples: &[f64]) -> (f64, f64, Vec<usize>) {
    let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut counts = vec![0usize; BINS];
    let width = (hi - lo) / BINS as f64;
    for &x in samples {
        let i = if width > 0.0 {
            (((x - lo) / width) as usize).min(BINS - 1)
        } else {
            0
        };
        counts[i] += 1;
    }
    (lo, hi, counts)
}

/// One run's latency histogram as inline SVG.
fn histogram(run: &flopscope_core::measure::RunResult) -> String {
    const W: f64 = 300.0;
    const H: f64 = 80.0;
    if run.samples_ms.is_empty() {
        return String::new();
    }
    let (lo, hi, counts) = bin(&run.samples_ms);
    let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = W / BINS as f64;
    let mut s = format!(
        "<svg class=\"flopscope-histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" \
         height=\"{}\" role=\"img\" aria-label=\"latency histogram\"><text x=\"0\" y=\"12\" \
         font-size=\"11\" font-weight=\"600\">{} {}, batch {}: {} runs</text>",
        H + 34.0,
        escape(&run.backend),
        escape(&run.backend_version),
        run.batch,
        run.runs
    );
    for (i, &c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
        let h = c as f64 / top * H;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4c78a8\">\
             <title>{c} runs</title></rect>",
            i as f64 * bw,
            16.0 + H - h,
            bw - 1.0
        );
    }
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mx = (run.latency_ms.median - lo) / span * W;
    let _ = write!(
        s,
        "<line x1=\"{mx:.1}\" x2=\"{mx:.1}\" y1=\"16\" y2=\"{:.1}\" stroke=\"#e45756\">\
         <title>median {:.3} ms</title></line><text x=\"0\" y=\"{:.1}\" font-size=\"10\">\
         {lo:.3} ms</text><text x=\"{W}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">\
         {hi:.3} ms</text></svg>",
        16.0 + H,
        run.latency_ms.median,
        H + 30.0,
        H + 30.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use flopscope_core::measure::{Latency, Report, RunResult};

    #[test]
    fn bench_fragment_bins_every_run() {
        // Ten runs of 1, 2, …, 10 ms: twenty bins of 0.45 ms from 1 to 10, one run in each of
        // ten of them (bins 0, 2, 4, 6, 8, 11, 13, 15, 17, 19), median 5.5 ms.
        let samples: Vec<f64> = (1..=10).map(f64::from).collect();
        let (lo, hi, counts) = bin(&samples);
        assert_eq!((lo, hi), (1.0, 10.0));
        let full: Vec<usize> = (0..BINS).filter(|&i| counts[i] > 0).collect();
        assert_eq!(full, vec![0, 2, 4, 6, 8, 11, 13, 15, 17, 19]);
        // The statistics of 1..=10 by hand: median 5.5 (mean of the fifth and sixth), p90 and
        // p99 interpolated at positions 8.1 and 8.91, sample variance 82.5 / 9.
        let run = RunResult {
            backend: "torch".into(),
            backend_version: "2.15.0".into(),
            batch: 1,
            threads: 2,
            latency_ms: Latency {
                min: 1.0,
                mean: 5.5,
                median: 5.5,
                p90: 9.1,
                p99: 9.91,
                max: 10.0,
                stddev: (82.5f64 / 9.0).sqrt(),
            },
            runs: 10,
            outliers: 0,
            fps: 1e3 / 5.5,
            load_ms: 0.0,
            cold_ms: 1.0,
            samples_ms: samples,
            layers: vec![],
            roofline: None,
        };
        let report = Report {
            schema: flopscope_core::measure::SCHEMA,
            model: "Net<1>".into(),
            inputs: vec!["1x3".into()],
            synthesized_weights: false,
            runs: vec![run],
        };
        let h = bench_fragment(&report);
        assert!(h.contains("<td style=\"text-align:right;padding:1px 0 1px 8px\">5.500</td>"));
        assert_eq!(h.matches("<rect").count(), 10);
        assert!(h.contains("Net&lt;1&gt;") && !h.contains("<script"));
    }

    #[test]
    fn fragment_of_a_builtin_model() {
        let p = flopscope_core::profile_source("resnet18", &Default::default()).unwrap();
        let h = fragment(&p);
        for card in ["Parameters", "MACs", "FLOPs", "Weights", "Peak activations"] {
            assert!(h.contains(card), "{card}");
        }
        assert!(h.contains("<svg") && h.contains("</table>"));
        assert!(!h.contains("<script"));
        assert_eq!(h.matches("<tr>").count(), 11, "header + ten layers");
    }
}
