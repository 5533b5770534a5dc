//! `flopscope predict`: a prediction as text or Markdown — the headline (latency, throughput,
//! memory, the measured error band), time by kernel class, and the layers that take longest —
//! and as the notebook view of `flopscope.Prediction` ([`html_fragment`]).

use flopscope_core::format::human_bytes;
use flopscope_core::predict::Prediction;

use crate::render::{escape_html, Cell, Column, Format, Table};

/// The error band as one phrase, printed with every prediction.
pub fn band_text(p: &Prediction) -> String {
    match &p.error_band {
        Some(b) => format!(
            "±{:.0}% (median |error|; 90th percentile {:.0}%, {} models: {})",
            b.median_pct, b.p90_pct, b.n, b.basis
        ),
        None => format!(
            "not measured for the '{}' profile at {}: treat as a rough estimate \
             (docs/predict.md)",
            p.device.profile,
            p.dtype.as_str()
        ),
    }
}

/// The serving lines of a language model: prefill, decode, memory.
fn serving(p: &Prediction) -> Vec<String> {
    let Some(s) = &p.llm else {
        return vec![];
    };
    let experts = s
        .experts_touched
        .map(|e| format!(", {e:.2} distinct experts per MoE layer"))
        .unwrap_or_default();
    let context = s
        .memory
        .max_context
        .map(|c| format!(", context up to {c} tokens at batch {}", s.batch))
        .unwrap_or_default();
    vec![
        format!(
            "Time to first token {:.3} ms for {} × {} prompt tokens ({:.0} tokens/s, {}-bound) · \
             products in {}",
            s.prefill.time_ms,
            s.batch,
            s.seq,
            s.prefill.tokens_per_s,
            s.prefill.bound,
            s.compute_dtype.as_str()
        ),
        format!(
            "Decode {:.1} tokens/s at batch {} and {} cached tokens ({:.3} ms a step, {}-bound, \
             {} read{experts})",
            s.decode.tokens_per_s,
            s.batch,
            s.past,
            s.decode.time_ms,
            s.decode.bound,
            human_bytes(s.decode.bytes)
        ),
        format!(
            "Serving memory {} weights + {} KV cache + {} logits = {} of {} ({}); largest batch \
             {} at this context{context}",
            human_bytes(s.memory.weight_bytes),
            human_bytes(s.memory.kv_cache_bytes),
            human_bytes(s.memory.logits_bytes),
            human_bytes(s.memory.total_bytes),
            human_bytes(s.memory.device_bytes),
            if s.memory.fits {
                "fits"
            } else {
                "does NOT fit"
            },
            s.memory.max_batch
        ),
    ]
}

/// The headline lines.
pub fn headline(p: &Prediction) -> Vec<String> {
    if p.llm.is_some() {
        let mut v = vec![format!(
            "{} on {} ({}), error {}",
            p.model,
            p.device.name,
            p.device.key,
            band_text(p)
        )];
        v.extend(serving(p));
        return v;
    }
    let mode = p
        .device
        .mode
        .as_ref()
        .map(|m| format!(" in mode {m}"))
        .unwrap_or_default();
    let threads = p
        .threads
        .map(|t| format!(", {t} threads"))
        .unwrap_or_default();
    vec![
        format!(
            "{} on {} ({}{mode}), {} via {}, batch {}{threads}",
            p.model,
            p.device.name,
            p.device.key,
            p.dtype.as_str(),
            p.backend.as_str(),
            p.batch
        ),
        format!(
            "Latency {:.3} ms · throughput {:.1} samples/s · error {}",
            p.latency_ms,
            p.throughput_per_s,
            band_text(p)
        ),
        format!(
            "Memory {} weights + {} peak activations = {} of {} ({})",
            human_bytes(p.memory.weight_bytes),
            human_bytes(p.memory.activation_bytes),
            human_bytes(p.memory.total_bytes),
            human_bytes(p.memory.device_bytes),
            if p.fits { "fits" } else { "does NOT fit" }
        ),
        format!(
            "Roof {:.0} GFLOP/s (clock factor {:.2}) and {:.0} GB/s · {} kernels, {} layers fused · \
             compute {:.3} ms, memory {:.3} ms, launch overhead {:.3} ms",
            p.peak_gflops,
            p.clock_factor,
            p.bandwidth_gbs,
            p.totals.kernels,
            p.totals.fused,
            p.totals.compute_ms,
            p.totals.memory_ms,
            p.totals.overhead_ms
        ),
    ]
}

/// Time by kernel class.
pub fn classes(p: &Prediction) -> Table {
    let mut t = Table::new(vec![
        Column::left("Class", "class"),
        Column::right("Layers", "layers").gap("  "),
        Column::right("ms", "time_ms").gap("  "),
        Column::right("Share", "share").gap("  "),
    ]);
    for c in &p.by_class {
        t.row(vec![
            Cell::text(c.class.as_str()),
            Cell::int(c.layers.to_string(), c.layers as u64),
            Cell::fixed(c.time_ms, 3),
            Cell::float(format!("{:.1}%", c.share * 100.0), c.share, 4),
        ]);
    }
    t
}

/// The `top` layers that take longest (all when `None`), in graph order.
pub fn layers(p: &Prediction, top: Option<usize>) -> Table {
    let mut t = Table::new(vec![
        Column::left("Layer", "name"),
        Column::left("Op", "op").gap("  "),
        Column::left("Class", "class").gap("  "),
        Column::count("FLOPs", "flops").gap("  "),
        Column::count("Bytes", "bytes").gap("  "),
        Column::left("Bound", "bound").gap("  "),
        Column::right("ms", "time_ms").gap("  "),
        Column::right("Share", "share").gap("  "),
    ]);
    let mut idx: Vec<usize> = (0..p.layers.len())
        .filter(|&i| p.layers[i].time_ms > 0.0)
        .collect();
    if let Some(n) = top {
        idx.sort_by(|&a, &b| p.layers[b].time_ms.total_cmp(&p.layers[a].time_ms));
        idx.truncate(n);
        idx.sort_unstable();
    }
    for i in idx {
        let l = &p.layers[i];
        t.row(vec![
            Cell::text(&l.name),
            Cell::text(&l.op),
            Cell::text(l.class.as_str()),
            Cell::count(Some(l.flops)),
            Cell::count(Some(l.bytes.round() as u64)),
            Cell::text(l.bound),
            Cell::fixed(l.time_ms, 4),
            Cell::float(format!("{:.1}%", l.share * 100.0), l.share, 4),
        ]);
    }
    t
}

/// The whole prediction as text (`Format::Text`) or Markdown.
pub fn render(p: &Prediction, top: Option<usize>, f: Format) -> String {
    let mut out = String::new();
    let md = matches!(f, Format::Markdown);
    for line in headline(p) {
        out.push_str(if md { "- " } else { "" });
        out.push_str(&line);
        out.push('\n');
    }
    if p.llm.is_some() {
        // A checkpoint's layers are its parts (attention, MLP, head), not kernels: the serving
        // lines are the answer; `-f json` keeps the parts.
        return out;
    }
    out.push('\n');
    out.push_str(&classes(p).render(f));
    out.push('\n');
    let mut t = layers(p, top);
    if let Some(n) = top {
        t.title = Some(format!("The {n} slowest layers"));
        t.heading = md;
    }
    out.push_str(&t.render(f));
    out
}

/// The notebook view (`Prediction._repr_html_`): the headline, the error band, time by kernel
/// class and the `top` slowest layers, as one HTML fragment with inline styles and no script.
/// Every name from the model is escaped.
pub fn html_fragment(p: &Prediction, top: usize) -> String {
    let lines = headline(p);
    let mut s = String::from(
        "<div class=\"flopscope-predict\" style=\"font-family:system-ui,sans-serif;\
         font-size:13px\">",
    );
    for (i, line) in lines.iter().enumerate() {
        let style = if i == 0 {
            "font-weight:600;margin-bottom:6px"
        } else {
            "margin-bottom:2px"
        };
        s.push_str(&format!(
            "<div style=\"{style}\">{}</div>",
            escape_html(line)
        ));
    }
    let mut c = classes(p);
    c.title = Some("Time by kernel class".into());
    s.push_str(&c.html("flopscope-classes"));
    let mut l = layers(p, Some(top));
    l.title = Some(format!("The {top} slowest layers"));
    s.push_str(&l.html("flopscope-layers"));
    s.push_str("</div>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use flopscope_core::device::Catalog;
    use flopscope_core::predict::{predict, Options, Params, Target};

    #[test]
    fn the_notebook_view_has_the_band_and_both_tables() {
        let p = flopscope_core::profile_source("resnet18", &Default::default()).unwrap();
        let t = Target::resolve(Catalog::builtin(), "rtx4090", Params::builtin()).unwrap();
        let o = Options {
            dtype: None,
            backend: None,
            threads: None,
        };
        let pred = predict(&p, &t, o).unwrap();
        let h = html_fragment(&pred, 10);
        assert!(h.contains(&escape_html(&band_text(&pred))), "{h}");
        assert!(h.contains("Time by kernel class") && h.contains("The 10 slowest layers"));
        // Header + one row per class; header + ten layers.
        assert_eq!(h.matches("<table").count(), 2);
        assert_eq!(
            h.matches("<tr>").count(),
            1 + pred.by_class.len() + 1 + 10,
            "{h}"
        );
        assert!(!h.contains("<script"));
    }
}
