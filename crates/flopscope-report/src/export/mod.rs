//! Exporters: one module per output format, all behind [`Exporter`].
//!
//! The human formats (table, Markdown) share [`rows`], which folds layers by module path
//! (`--depth`) and keeps the heaviest (`--top`).

use flopscope_core::format::{pct, shape_str};
use flopscope_core::schema::{Layer, Profile};

use crate::render::{Cell, Column, Fit, Show, Table};

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod roofline;
pub mod table;
pub mod training;

/// Writes a profile in one format.
pub trait Exporter {
    /// Renders the whole document.
    fn render(&self, p: &Profile) -> String;
}

/// The formats a profile is written in, as the CLI (`-f`) and the Python package name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileFormat {
    /// The terminal table.
    Table,
    /// Markdown tables.
    Markdown,
    /// One CSV row per node, exact numbers.
    Csv,
    /// The `flopscope.profile/1` document.
    Json,
    /// The self-contained report page.
    Html,
}

impl ProfileFormat {
    /// `table`, `markdown` (or `md`), `csv`, `json` or `html`.
    pub fn from_name(name: &str) -> Option<ProfileFormat> {
        Some(match name {
            "table" => ProfileFormat::Table,
            "markdown" | "md" => ProfileFormat::Markdown,
            "csv" => ProfileFormat::Csv,
            "json" => ProfileFormat::Json,
            "html" => ProfileFormat::Html,
            _ => return None,
        })
    }

    /// The profile in this format; `rows` selects the layer rows of the table and Markdown.
    pub fn render(self, p: &Profile, rows: RowOptions) -> String {
        match self {
            ProfileFormat::Table => table::Table { rows }.render(p),
            ProfileFormat::Markdown => markdown::Markdown { rows }.render(p),
            ProfileFormat::Csv => csv::Csv.render(p),
            ProfileFormat::Json => json::Json.render(p),
            ProfileFormat::Html => html::Html.render(p),
        }
    }
}

/// Which layer rows the human formats show.
#[derive(Clone, Debug, Default)]
pub struct RowOptions {
    /// Fold nodes into their module path cut at this depth.
    pub depth: Option<usize>,
    /// Keep only the N rows with the most FLOPs.
    pub top: Option<usize>,
    /// Show nodes with no parameters and no FLOPs too.
    pub all: bool,
}

/// One displayed row: a node, or a module holding several nodes.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Node name or module path.
    pub name: String,
    /// Operator, or `N nodes` for a folded module.
    pub op: String,
    /// Shape of the (last) output.
    pub output: String,
    /// Parameters.
    pub params: u64,
    /// MACs (`None`: some cost unknown).
    pub macs: Option<u64>,
    /// FLOPs (`None`: some cost unknown).
    pub flops: Option<u64>,
    /// Nodes in the row.
    pub nodes: usize,
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    Some(a?.saturating_add(b?))
}

/// Rows to display, and how many nodes were hidden because they cost nothing.
pub fn rows(p: &Profile, o: &RowOptions) -> (Vec<Row>, usize) {
    let mut out: Vec<Row> = Vec::new();
    let mut hidden = 0;
    let row = |l: &Layer| Row {
        name: l.name.clone(),
        op: l.op.clone(),
        output: shape_str(l.outputs.first().unwrap_or(&None)),
        params: l.params,
        macs: l.macs,
        flops: l.flops,
        nodes: 1,
    };
    match o.depth {
        Some(d) => {
            let mut index: std::collections::HashMap<String, usize> = Default::default();
            // A traced torch module's scopes are `named_modules()` names: a node belongs to
            // the ancestor of its innermost module whose name has `depth` parts (`layer1.0`
            // at depth 2), a module PyTorch names too ("" is the root module).
            let traced = p.model.weights == flopscope_core::schema::WeightsStatus::Traced;
            for l in &p.layers {
                let key = if traced {
                    let inner = l.scope.last().map(String::as_str).unwrap_or("");
                    match inner.match_indices('.').nth(d.max(1) - 1) {
                        Some((cut, _)) => inner[..cut].to_string(),
                        None => inner.to_string(),
                    }
                } else if l.scope.len() >= d.max(1) {
                    format!("/{}", l.scope[..d.max(1)].join("/"))
                } else {
                    l.name.clone()
                };
                match index.get(&key) {
                    Some(&i) => {
                        let r = &mut out[i];
                        r.params += l.params;
                        r.macs = add_opt(r.macs, l.macs);
                        r.flops = add_opt(r.flops, l.flops);
                        r.nodes += 1;
                        r.op = format!("{} nodes", r.nodes);
                        r.output = shape_str(l.outputs.first().unwrap_or(&None));
                    }
                    None => {
                        index.insert(key.clone(), out.len());
                        out.push(Row {
                            name: key,
                            ..row(l)
                        });
                    }
                }
            }
        }
        None => out = p.layers.iter().map(row).collect(),
    }
    if !o.all {
        let before = out.len();
        out.retain(|r| r.params > 0 || r.flops != Some(0));
        hidden = before - out.len();
    }
    if let Some(n) = o.top {
        out.sort_by_key(|r| std::cmp::Reverse(r.flops.unwrap_or(u64::MAX)));
        out.truncate(n);
    }
    (out, hidden)
}

/// A share of the total FLOPs in percent: one decimal for people, exact for machines.
fn share(part: Option<u64>, whole: u64) -> Cell {
    let v = part.map(|x| {
        if whole > 0 {
            x as f64 * 100.0 / whole as f64
        } else {
            0.0
        }
    });
    Cell {
        text: pct(part, whole),
        value: v.map(|v| crate::render::Value::Float(v, 4)),
    }
}

/// The layer table of the text and Markdown reports, and how many nodes it hides.
pub fn layer_table(p: &Profile, o: &RowOptions) -> (Table, usize) {
    let (rs, hidden) = rows(p, o);
    let mut t = Table::new(vec![
        Column::left("Layer", "name")
            .width(28)
            .fit(Fit::KeepEnd)
            .gap(""),
        Column::left("Op", "op")
            .width(12)
            .fit(Fit::KeepStart)
            .gap("  "),
        Column::left("Output", "output")
            .width(14)
            .fit(Fit::KeepStart)
            .gap("  "),
        Column::count("Params", "params")
            .dash_zero()
            .width(7)
            .gap("  "),
        Column::count("MACs", "macs").width(7),
        Column::count("FLOPs", "flops").width(7),
        Column::right("%FLOP", "flops_pct").width(5),
        // A bar of FLOPs relative to the heaviest row, so the expensive layers stand out.
        Column::left("vs top", "bar").show(Show::TEXT),
    ]);
    t.rule = Some(100);
    let heaviest = rs.iter().filter_map(|r| r.flops).max().unwrap_or(0);
    for r in &rs {
        t.row(vec![
            Cell::text(&r.name),
            Cell::text(&r.op),
            Cell::text(&r.output),
            Cell::count(Some(r.params)),
            Cell::count(r.macs),
            Cell::count(r.flops),
            share(r.flops, p.totals.flops),
            Cell::text(table::bar(r.flops.unwrap_or(0), heaviest, 10)),
        ]);
    }
    (t, hidden)
}

/// The by-op-type table of the text and Markdown reports.
pub fn op_table(p: &Profile) -> Table {
    let mut t = Table::new(vec![
        Column::left("By op type", "op")
            .width(32)
            .fit(Fit::KeepEnd)
            .gap(""),
        Column::right("Nodes", "nodes").width(6).gap("  "),
        Column::count("Params", "params")
            .dash_zero()
            .width(9)
            .gap("  "),
        Column::count("MACs", "macs").width(9).gap("  "),
        Column::count("FLOPs", "flops").width(9).gap("  "),
        Column::right("%FLOP", "flops_pct").width(6).gap("  "),
        Column::left("", "cost_unknown").gap("  ").show(Show::TEXT),
    ]);
    t.rule = Some(80);
    for r in &p.by_op_type {
        t.row(vec![
            Cell::text(&r.op),
            Cell::int(r.count.to_string(), r.count as u64),
            Cell::count(Some(r.params)),
            Cell::count(Some(r.macs)),
            Cell::count(Some(r.flops)),
            share(Some(r.flops), p.totals.flops),
            if r.cost_unknown > 0 {
                Cell::int(
                    format!("({} unknown)", r.cost_unknown),
                    r.cost_unknown as u64,
                )
            } else {
                Cell::text("")
            },
        ]);
    }
    t
}
