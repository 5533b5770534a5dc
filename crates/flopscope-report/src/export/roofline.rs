//! The roofline section of the table and Markdown reports: the model's predicted lower
//! bound and floors, then the layers that take the most time at the roof.

use std::fmt::Write;

use flopscope_core::schema::Bound;
use flopscope_core::schema::Profile;

use crate::render::{Align, Cell, Column, Fit, Format, Table};

/// Layers listed, most predicted time first.
const TOP: usize = 10;

/// The section, or nothing when the profile has no roofline.
pub fn section(p: &Profile, f: Format) -> String {
    let md = f == Format::Markdown;
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
    let mut t = Table::new(vec![
        Column::left("Slowest at the roof", "name")
            .width(40)
            .fit(Fit::KeepEnd)
            .gap(""),
        Column::left("Op", "op").width(14),
        Column::right("FLOP/byte", "intensity").width(9),
        Column::left("Bound", "bound").width(8).align(Align::Right),
        Column::right("Min ms", "min_ms").width(9),
        Column::right("% pred", "predicted_pct").width(6),
    ]);
    for (l, r) in ls.iter().take(TOP) {
        t.row(vec![
            Cell::text(&l.name),
            Cell::text(&l.op),
            match r.intensity {
                Some(i) => Cell::float(format!("{i:.2}"), i, 4),
                None => Cell::text("-"),
            },
            Cell::text(r.bound.name()),
            Cell::fixed(r.min_ms, 4),
            Cell::fixed(100.0 * r.min_ms / s.predicted_ms, 1),
        ]);
    }
    o.push('\n');
    o.push_str(&t.render(f));
    o
}
