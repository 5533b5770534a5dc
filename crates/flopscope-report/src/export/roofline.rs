//! The roofline section of the table and Markdown reports: the model's predicted lower
//! bound and floors, then the layers that take the most time at the roof.

use std::fmt::Write;

use flopscope_core::schema::Bound;
use flopscope_core::schema::Profile;

/// Layers listed, most predicted time first.
const TOP: usize = 10;

/// The section, or nothing when the profile has no roofline.
pub fn section(p: &Profile, md: bool) -> String {
    let Some(s) = &p.roofline else {
        return String::new();
    };
    let mut o = String::new();
    let (h, li) = if md { ("### ", "- ") } else { ("", "  ") };
    // A spec is one roof whatever the threads; a measured machine's depends on them.
    let threads = if s.source == "spec" {
        String::new()
    } else {
        format!(
            ", {} thread{}",
            s.threads,
            if s.threads == 1 { "" } else { "s" }
        )
    };
    let _ = writeln!(o, "\n{h}Roofline: {} ({}{threads})", s.device, s.source);
    if md {
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "{li}roof: {:.1} GFLOP/s peak, {:.1} GB/s bandwidth, ridge {:.2} FLOP/byte",
        s.peak_gflops, s.bandwidth_gbs, s.ridge
    );
    let _ = writeln!(
        o,
        "{li}predicted lower bound {:.3} ms (each layer at its roof, one after another)",
        s.predicted_ms
    );
    let _ = writeln!(
        o,
        "{li}floors: compute {:.3} ms (all FLOPs at peak), memory {:.3} ms (weights and I/O once)",
        s.compute_floor_ms, s.memory_floor_ms
    );
    let time_of = |b: Bound| -> f64 {
        p.layers
            .iter()
            .filter_map(|l| l.roofline)
            .filter(|r| r.bound == b)
            .map(|r| r.min_ms)
            // Not `sum()`: an empty f64 sum is -0.0, which prints as "-0%".
            .fold(0.0, |a, b| a + b)
    };
    let share = |b| {
        if s.predicted_ms > 0.0 {
            100.0 * time_of(b) / s.predicted_ms
        } else {
            0.0
        }
    };
    let _ = writeln!(
        o,
        "{li}{} compute-bound layers ({:.0}% of the predicted time), {} memory-bound ({:.0}%){}",
        s.compute_bound_layers,
        share(Bound::Compute),
        s.memory_bound_layers,
        share(Bound::Memory),
        if s.layers_cost_unknown > 0 {
            format!(", {} of unknown cost left out", s.layers_cost_unknown)
        } else {
            String::new()
        }
    );
    if let Some(d) = &s.decode {
        let _ = writeln!(
            o,
            "{li}decode at past={} (batch {}): ≥ {:.3} ms per step, {}-bound: at most {:.1} tokens/s ({} read, {} FLOPs per step)",
            d.past,
            d.batch,
            d.min_ms,
            d.bound.name(),
            d.max_tokens_per_s,
            flopscope_core::format::human_bytes(d.bytes),
            flopscope_core::format::human(d.flops)
        );
    }
    let mut ls: Vec<_> = p
        .layers
        .iter()
        .filter_map(|l| l.roofline.map(|r| (l, r)))
        .filter(|(_, r)| r.min_ms > 0.0)
        .collect();
    ls.sort_by(|a, b| b.1.min_ms.total_cmp(&a.1.min_ms));
    if ls.is_empty() {
        return o;
    }
    if md {
        o.push_str("\n| layer | op | FLOP/byte | bound | min ms | % of predicted |\n|---|---|--:|---|--:|--:|\n");
    } else {
        let _ = writeln!(
            o,
            "\n{:<40} {:<14} {:>9} {:>8} {:>9} {:>6}",
            "Slowest at the roof", "Op", "FLOP/byte", "Bound", "Min ms", "% pred"
        );
    }
    for (l, r) in ls.iter().take(TOP) {
        let ai = r
            .intensity
            .map(|i| format!("{i:.2}"))
            .unwrap_or_else(|| "-".into());
        let bound = r.bound.name();
        let pct = 100.0 * r.min_ms / s.predicted_ms;
        if md {
            let _ = writeln!(
                o,
                "| {} | {} | {ai} | {bound} | {:.4} | {pct:.1} |",
                super::markdown::esc(&l.name),
                l.op,
                r.min_ms
            );
        } else {
            let name = flopscope_core::format::fit_left(&l.name, 40);
            let _ = writeln!(
                o,
                "{name:<40} {:<14} {ai:>9} {bound:>8} {:>9.4} {pct:>6.1}",
                l.op, r.min_ms
            );
        }
    }
    o
}
