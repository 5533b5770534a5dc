//! Markdown: the same rows as the terminal table, as GitHub tables.

use std::fmt::Write;

use super::{layer_table, op_table, Exporter, RowOptions};
use crate::render::{escape_markdown, Format};
use flopscope_core::format::{grouped, human};
use flopscope_core::schema::Profile;

/// Markdown report.
pub struct Markdown {
    /// Which layer rows to show.
    pub rows: RowOptions,
}

impl Exporter for Markdown {
    fn render(&self, p: &Profile) -> String {
        let t = &p.totals;
        let mut o = String::new();
        let _ = writeln!(o, "# {}\n", escape_markdown(&p.model.source));
        let ins: Vec<String> = p
            .inputs
            .iter()
            .map(|i| format!("`{}` {} {}", i.name, i.dtype, i.shape_text()))
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
        let (layers, hidden) = layer_table(p, &self.rows);
        o.push('\n');
        o.push_str(&layers.render(Format::Markdown));
        if hidden > 0 {
            let _ = writeln!(
                o,
                "\n{hidden} nodes with no parameters and no FLOPs are not shown."
            );
        }
        o.push('\n');
        o.push_str(&op_table(p).render(Format::Markdown));
        o.push_str(&super::roofline::section(p, Format::Markdown));
        o.push_str(&super::training::section(p, Format::Markdown));
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
