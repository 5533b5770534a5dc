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
        node_table(p).render(Format::Csv)
    }
}
