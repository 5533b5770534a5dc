//! Markdown: the same rows as the terminal table, as GitHub tables.

use std::fmt::Write;

use super::{rows, Exporter, RowOptions};
use flopscope_core::format::{grouped, human, pct, shape_str};
use flopscope_core::schema::Profile;

/// Markdown report.
pub struct Markdown {
    /// Which layer rows to show.
    pub rows: RowOptions,
}

/// Escapes `|` so a name cannot break a Markdown table row.
pub(super) fn esc(s: &str) -> String {
    s.replace('|', "\\|")
}

fn opt(v: Option<u64>) -> String {
    v.map(grouped).unwrap_or_else(|| "?".into())
}

impl Exporter for Markdown {
    fn render(&self, p: &Profile) -> String {
        let t = &p.totals;
        let mut o = String::new();
        let _ = writeln!(o, "# {}\n", esc(&p.model.source));
        let ins: Vec<String> = p
            .inputs
            .iter()
            .map(|i| format!("`{}` {} {}", i.name, i.dtype, shape_str(&i.shape)))
            .collect();
        let _ = writeln!(o, "Inputs: {}\n", ins.join(", "));
        let _ = writeln!(o, "| Total | Value | |\n|---|---:|---|");
        let _ = writeln!(
            o,
            "| Parameters | {} | {} |",
            grouped(t.params),
            human(t.params)
        );
        let _ = writeln!(
            o,
            "| MACs | {} | {} (multiply-accumulates; the \"FLOPs\" of most CNN papers) |",
            grouped(t.macs),
            human(t.macs)
        );
        let _ = writeln!(
            o,
            "| FLOPs | {} | {} (2 × MACs + other arithmetic) |",
            grouped(t.flops),
            human(t.flops)
        );
        let _ = writeln!(
            o,
            "| Activation bytes | {} | peak live {} |",
            grouped(t.activation_bytes),
            grouped(t.peak_activation_bytes)
        );
        let _ = writeln!(o, "| Weight bytes | {} | |", grouped(t.weight_bytes));
        if let Some(f) = &p.formulas {
            let _ = writeln!(
                o,
                "\nMACs = `{}`  \nFLOPs = `{}`",
                f.macs.text, f.flops.text
            );
        }
        let (rs, hidden) = rows(p, &self.rows);
        let _ = writeln!(o, "\n| Layer | Op | Output | Params | MACs | FLOPs | % FLOPs |\n|---|---|---|---:|---:|---:|---:|");
        for r in &rs {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} |",
                esc(&r.name),
                esc(&r.op),
                r.output,
                grouped(r.params),
                opt(r.macs),
                opt(r.flops),
                pct(r.flops, t.flops)
            );
        }
        if hidden > 0 {
            let _ = writeln!(
                o,
                "\n{hidden} nodes with no parameters and no FLOPs are not shown."
            );
        }
        let _ = writeln!(
            o,
            "\n| Op type | Nodes | Params | MACs | FLOPs |\n|---|---:|---:|---:|---:|"
        );
        for r in &p.by_op_type {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                esc(&r.op),
                r.count,
                grouped(r.params),
                grouped(r.macs),
                grouped(r.flops)
            );
        }
        o.push_str(&super::roofline::section(p, true));
        for u in &p.unsupported {
            let _ = writeln!(
                o,
                "\n- cost unknown: {} × `{}` ({})",
                u.count, u.op, u.reason
            );
        }
        for w in &p.warnings {
            let _ = writeln!(o, "\n> warning: {w}");
        }
        o
    }
}
