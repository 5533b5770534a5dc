//! `flopscope zoo`: the built-in architectures and their counts, as a table in every format.

use flopscope_core::format::grouped;
use flopscope_core::schema::Totals;
use flopscope_core::zoo::Entry;

use crate::render::{Cell, Column, Table};

/// One row per architecture: name, where its definition comes from, exact parameters, and
/// MACs and FLOPs (human units in text, exact elsewhere).
pub fn table(rows: &[(&Entry, Totals)]) -> Table {
    let mut t = Table::new(vec![
        Column::left("Model", "name"),
        Column::left("Source", "source").width(13).gap("  "),
        Column::right("Params", "params").width(15).gap("  "),
        Column::count("MACs", "macs").width(8).gap("  "),
        Column::count("FLOPs", "flops").width(8).gap("  "),
    ]);
    for (e, totals) in rows {
        t.row(vec![
            Cell::text(e.name),
            Cell::text(e.source),
            Cell::int(grouped(totals.params), totals.params),
            Cell::count(Some(totals.macs)),
            Cell::count(Some(totals.flops)),
        ]);
    }
    t.notes.push(
        "At batch 1: images 3×224×224, token models 128 tokens. MACs are multiply-accumulates."
            .into(),
    );
    t
}
