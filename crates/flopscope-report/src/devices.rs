//! `flopscope devices`: the device catalog as a table, and one device with its sources.

use flopscope_core::device::{Catalog, Device};

use crate::render::{Cell, Column, Table};

/// A real cell, or a dash when the figure is absent.
fn opt(v: Option<f64>, decimals: usize) -> Cell {
    match v {
        Some(v) => Cell::fixed(v, decimals),
        None => Cell::text("–"),
    }
}

/// One row per device: its key, name, class, dense peaks, memory and power.
pub fn table<'a>(devices: impl IntoIterator<Item = &'a Device>) -> Table {
    let mut t = Table::new(vec![
        Column::left("Device", "key"),
        Column::left("Name", "name").gap("  "),
        Column::left("Class", "class").gap("  "),
        Column::right("FP32", "fp32_tflops").gap("  "),
        Column::right("FP16", "fp16_tflops").gap("  "),
        Column::right("INT8", "int8_tops").gap("  "),
        Column::right("GB/s", "memory_bandwidth_gbs").gap("  "),
        Column::right("GB", "memory_gb").gap("  "),
        Column::right("L2 MB", "l2_mb").gap("  "),
        Column::right("W", "power_w").gap("  "),
    ]);
    for d in devices {
        let p = &d.peak_tflops;
        t.row(vec![
            Cell::text(&d.key),
            Cell::text(&d.name),
            Cell::text(d.class.as_str()),
            opt(p.fp32, 1),
            opt(p.fp16, 1),
            opt(p.int8, 1),
            Cell::fixed(d.memory_bandwidth_gbs, 0),
            Cell::fixed(d.memory_gb, 0),
            opt(d.l2_mb, 1),
            opt(d.power_w, 0),
        ]);
    }
    t.notes.push(
        "Dense peaks in TFLOP/s (INT8 in TOPS); FP16 is tensor math with fp32 accumulate. \
         `flopscope devices NAME` shows one device with its sources (docs/devices.md)."
            .into(),
    );
    t
}

/// One device: every figure, the document it comes from, and the entry's notes.
pub fn detail(c: &Catalog, d: &Device) -> Table {
    let mut t = Table::new(vec![
        Column::left("Figure", "figure"),
        Column::left("Value", "value").gap("  "),
        Column::left("Source", "source").gap("  "),
    ]);
    t.title = Some(format!("{} ({}, {})", d.name, d.key, d.class.as_str()));
    let source = |figure: &str| {
        d.source_of(figure)
            .map(|s| {
                c.sources.get(s).map_or(s.to_string(), |doc| {
                    format!("{} ({})", doc.title, doc.publisher)
                })
            })
            .unwrap_or_default()
    };
    let mut row = |figure: &str, value: String| {
        t.row(vec![
            Cell::text(figure),
            Cell::text(value),
            Cell::text(source(figure)),
        ]);
    };
    for (k, v) in d.peak_tflops.iter() {
        let unit = if k == "int8" { "TOPS" } else { "TFLOP/s" };
        row(&format!("peak_tflops.{k}"), format!("{v} {unit}"));
    }
    if let Some(v) = d.fp16_accumulate_fp16_tflops {
        row("fp16_accumulate_fp16_tflops", format!("{v} TFLOP/s"));
    }
    row(
        "memory_bandwidth_gbs",
        format!("{} GB/s", d.memory_bandwidth_gbs),
    );
    row("memory_gb", format!("{} GB", d.memory_gb));
    let optional = [
        ("l2_mb", d.l2_mb, "MB"),
        ("power_w", d.power_w, "W"),
        ("boost_clock_mhz", d.boost_clock_mhz, "MHz"),
        ("base_clock_mhz", d.base_clock_mhz, "MHz"),
    ];
    for (k, v, unit) in optional {
        if let Some(v) = v {
            row(k, format!("{v} {unit}"));
        }
    }
    for m in &d.power_modes {
        let fp16 = m
            .peak_tflops
            .fp16
            .map_or(String::new(), |v| format!(", fp16 {v}"));
        let fp32 = m
            .peak_tflops
            .fp32
            .map_or(String::new(), |v| format!(", fp32 {v}"));
        row(
            "power_modes",
            format!("{} ({} W{fp32}{fp16})", m.name, m.power_w),
        );
    }
    if !d.aliases.is_empty() {
        t.notes
            .push(format!("Also called: {}.", d.aliases.join(", ")));
    }
    if let Some(n) = &d.notes {
        t.notes.push(n.clone());
    }
    t
}
