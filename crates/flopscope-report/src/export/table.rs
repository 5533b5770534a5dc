//! Terminal table, readable at 100 columns: layers (with a bar of FLOPs relative to the heaviest
//! row, so the expensive layers stand out), then a by-op-type summary, then totals.

use std::fmt::Write;

use super::{layer_table, op_table, Exporter, RowOptions};
use crate::render::Format;
use flopscope_core::format::{grouped, human, human_bytes};
use flopscope_core::schema::Profile;

/// The human-readable terminal report.
pub struct Table {
    /// Which layer rows to show.
    pub rows: RowOptions,
}

/// The language-model lines of the totals: decode cost and KV cache.
fn llm_lines(o: &mut String, l: &flopscope_core::schema::LlmInfo) {
    let _ = writeln!(
        o,
        "  stored           {:.2} bits per parameter ({} tensors, {})",
        l.bits_per_param, l.tensors, l.format
    );
    if l.active_params != l.total_params {
        let _ = writeln!(
            o,
            "  active params    {:<9} {} per token (routed experts only)",
            human(l.active_params),
            grouped(l.active_params)
        );
    }
    if let (Some(d), Some(a)) = (l.decode_macs_per_token, l.decode_attention_macs) {
        let _ = writeln!(
            o,
            "  decode           {:<9} MACs per token at past={} ({} of them attention over the cache)",
            human(d),
            l.past,
            human(a)
        );
    }
    if let (Some(t), Some(c)) = (l.kv_cache_bytes_per_token, l.kv_cache_bytes) {
        let _ = writeln!(
            o,
            "  KV cache         {} per token; {} for batch {} at {} tokens",
            human_bytes(t),
            human_bytes(c),
            l.batch,
            l.past + 1
        );
    }
    for (k, f) in &l.formulas {
        let _ = writeln!(o, "  {k:<16} = {f}");
    }
}

/// A bar of `width` cells, `value / max` of it filled, in eighths of a cell.
pub fn bar(value: u64, max: u64, width: usize) -> String {
    const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    if max == 0 {
        return String::new();
    }
    let eighths = (value as u128 * width as u128 * 8).div_ceil(max as u128) as usize;
    let eighths = eighths.min(width * 8);
    format!("{}{}", "█".repeat(eighths / 8), PARTS[eighths % 8])
        .trim_end()
        .to_string()
}

impl Exporter for Table {
    fn render(&self, p: &Profile) -> String {
        let mut o = String::new();
        let t = &p.totals;
        let (layers, hidden) = layer_table(p, &self.rows);
        o.push_str(&layers.render(Format::Text));
        if hidden > 0 {
            let _ = writeln!(
                o,
                "({hidden} nodes with no parameters and no FLOPs hidden; --all shows them)"
            );
        }
        let _ = writeln!(o);
        o.push_str(&op_table(p).render(Format::Text));
        let _ = writeln!(o);
        let lb = if t.nodes_cost_unknown > 0 {
            " (lower bound)"
        } else {
            ""
        };
        let dtypes: Vec<String> = t
            .params_by_dtype
            .iter()
            .map(|(d, c)| format!("{} {d}", human_bytes(c.bytes)))
            .collect();
        let _ = writeln!(o, "Totals for {}", p.model.source);
        let binds: Vec<String> = p.bindings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ins: Vec<String> = p
            .inputs
            .iter()
            .map(|i| format!("{} {} {}", i.name, i.dtype, i.shape_text()))
            .collect();
        let _ = writeln!(
            o,
            "  inputs           {}{}",
            ins.join(", "),
            if binds.is_empty() {
                String::new()
            } else {
                format!("  ({})", binds.join(", "))
            }
        );
        let _ = writeln!(
            o,
            "  parameters       {:<9} {} ({})",
            human(t.params),
            grouped(t.params),
            dtypes.join(", ")
        );
        if t.buffers > 0 {
            let _ = writeln!(
                o,
                "  buffers          {:<9} {} (BatchNorm running statistics)",
                human(t.buffers),
                grouped(t.buffers)
            );
        }
        let _ = writeln!(o, "  MACs             {:<9} {}{lb}  multiply-accumulates: the \"FLOPs\" of most CNN papers", human(t.macs), grouped(t.macs));
        let _ = writeln!(
            o,
            "  FLOPs            {:<9} {}{lb}  = 2 × MACs + {} other operations",
            human(t.flops),
            grouped(t.flops),
            human(t.flops.saturating_sub(2 * t.macs))
        );
        let _ = writeln!(o, "  weights          {}", human_bytes(t.weight_bytes));
        if let Some(l) = &p.llm {
            llm_lines(&mut o, l);
        } else {
            let _ = writeln!(
                o,
                "  activations      {} written, peak {} live",
                human_bytes(t.activation_bytes),
                human_bytes(t.peak_activation_bytes)
            );
            let _ = writeln!(
                o,
                "  memory traffic   {} read, {} written",
                human_bytes(t.bytes_read),
                human_bytes(t.bytes_written)
            );
        }
        o.push_str(&super::roofline::section(p, Format::Text));
        o.push_str(&super::training::section(p, Format::Text));
        if let Some(f) = &p.formulas {
            let _ = writeln!(
                o,
                "\nExact totals in {} (checked at {:?}):",
                f.symbols.join(", "),
                f.checked_at
            );
            let _ = writeln!(o, "  MACs  = {}", f.macs.text);
            let _ = writeln!(o, "  FLOPs = {}", f.flops.text);
        }
        if !p.unsupported.is_empty() {
            let _ = writeln!(o, "\nCost unknown (not counted above):");
            for u in &p.unsupported {
                let _ = writeln!(o, "  {}", unknown_nodes(u));
            }
        }
        if !p.warnings.is_empty() {
            let _ = writeln!(o);
            for w in &p.warnings {
                let _ = writeln!(o, "warning: {w}");
            }
        }
        o
    }
}

/// One group of nodes whose cost is not counted: `3 × Op: why (e.g. a, b, c)`.
pub(crate) fn unknown_nodes(u: &flopscope_core::schema::Unsupported) -> String {
    format!(
        "{} × {}: {} (e.g. {})",
        u.count,
        u.op,
        u.reason,
        u.examples.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bars_scale_to_the_heaviest() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 4), "██");
        // 1/16 of 4 cells = 2 eighths; any non-zero value shows at least one eighth.
        assert_eq!(bar(1, 16, 4), "▎");
        assert_eq!(bar(1, 1_000_000, 4), "▏");
        assert_eq!(bar(0, 10, 4), "");
        assert_eq!(bar(3, 0, 4), "");
    }
}
