//! CSV: one row per node, every node, raw numbers (empty cell = unknown).

use super::Exporter;
use crate::render::{Cell, Column, Format, Show, Table};
use flopscope_core::format::shape_str;
use flopscope_core::schema::Profile;

/// Per-layer CSV.
pub struct Csv;

/// Every node with its exact counts (the CSV and JSON shape of a profile's layers).
pub fn node_table(p: &Profile) -> Table {
    let col = |k: &str| Column::left(k, k).show(Show::DATA);
    let num = |k: &str| Column::count(k, k).show(Show::DATA);
    let mut cols = vec![
        col("name"),
        col("op"),
        col("scope"),
        col("inputs"),
        col("outputs"),
        num("params"),
        num("macs"),
        num("flops"),
        num("bytes_read"),
        num("bytes_written"),
        num("activation_bytes"),
    ];
    // Roofline columns only when one was asked for, so the usual header stays stable.
    let roof = p.roofline.is_some();
    if roof {
        cols.extend(["intensity", "bound", "min_ms"].map(|k| Column::right(k, k).show(Show::DATA)));
        cols[12].kind = crate::render::Kind::Text;
    }
    let mut t = Table::new(cols);
    for l in &p.layers {
        let shapes = |v: &[Option<Vec<u64>>]| v.iter().map(shape_str).collect::<Vec<_>>().join(";");
        let mut cells = vec![
            Cell::text(&l.name),
            Cell::text(&l.op),
            Cell::text(l.scope.join("/")),
            Cell::text(shapes(&l.inputs)),
            Cell::text(shapes(&l.outputs)),
            Cell::count(Some(l.params)),
            Cell::count(l.macs),
            Cell::count(l.flops),
            Cell::count(Some(l.bytes_read)),
            Cell::count(Some(l.bytes_written)),
            Cell::count(Some(l.activation_bytes)),
        ];
        if roof {
            let r = l.roofline;
            cells.push(match r.and_then(|r| r.intensity) {
                Some(i) => Cell::float(format!("{i:.4}"), i, 4),
                None => Cell::count(None),
            });
            cells.push(Cell::text(r.map_or("", |r| r.bound.name())));
            cells.push(match r {
                Some(r) => Cell::float(format!("{:.6}", r.min_ms), r.min_ms, 6),
                None => Cell::count(None),
            });
        }
        t.row(cells);
    }
    t
}

impl Exporter for Csv {
    fn render(&self, p: &Profile) -> String {
        match &p.training {
            Some(t) => with_training(p, t).render(Format::Csv),
            None => node_table(p).render(Format::Csv),
        }
    }
}

/// The node table of a profile with a training step: a `pass` column (`forward`, `backward`,
/// `optimizer`) and the step's parts no node carries — a backward derived from the forward
/// graph (one row; a recorded backward's nodes are rows already) and the optimizer update —
/// so that each pass's rows add up to the training section's MACs and FLOPs, and all rows to
/// the step's. The step's memory is in the other formats (docs/training.md).
fn with_training(p: &Profile, t: &flopscope_core::schema::Training) -> Table {
    let mut table = node_table(p);
    table
        .columns
        .push(Column::left("pass", "pass").show(Show::DATA));
    let width = table.columns.len();
    for (row, l) in table.rows.iter_mut().zip(&p.layers) {
        row.cells
            .push(Cell::text(if l.backward { "backward" } else { "forward" }));
    }
    let summary = |name: &str, op: &str, params: u64, macs: u64, flops: u64, pass: &str| {
        let mut cells = vec![Cell::text(name), Cell::text(op), Cell::text("")];
        cells.extend([Cell::text(""), Cell::text("")]);
        cells.extend([
            Cell::count(Some(params)),
            Cell::count(Some(macs)),
            Cell::count(Some(flops)),
        ]);
        // Bytes and any roofline columns: not a node's, left empty.
        while cells.len() < width - 1 {
            cells.push(Cell::count(None));
        }
        cells.push(Cell::text(pass));
        cells
    };
    if !p.layers.iter().any(|l| l.backward) {
        table.row(summary(
            "backward",
            "Backward",
            0,
            t.backward_macs,
            t.backward_flops,
            "backward",
        ));
    }
    table.row(summary(
        "optimizer",
        &t.optimizer,
        t.trainable_params,
        0,
        t.optimizer_flops,
        "optimizer",
    ));
    table
}
