//! The explain table (`compare MODEL --conventions a,b,exact`, `Profile.explain()`): one
//! column per convention in its own unit, operator families as rows, then the sentences that
//! say where each convention departs from the exact count.

use flopscope_core::convention::{unit, Counted, Explain};
use flopscope_core::format::human;

/// The table as Markdown (`markdown`) or as aligned plain text.
pub fn explain_table(e: &Explain, markdown: bool) -> String {
    let mut head = vec!["".to_string()];
    head.extend(
        e.conventions
            .iter()
            .map(|c| format!("{} ({})", c.convention, unit(c))),
    );
    let fmt = |v: Option<u64>| v.map(human).unwrap_or_else(|| "—".into());
    let mut body: Vec<Vec<String>> = Vec::new();
    let mut tot = vec!["total".to_string()];
    tot.extend(e.conventions.iter().map(|c| fmt(c.macs.or(c.flops))));
    body.push(tot);
    let mut par = vec!["params".to_string()];
    par.extend(e.conventions.iter().map(|c| fmt(c.params)));
    body.push(par);
    for r in &e.rows {
        let mut line = vec![r.operator.clone()];
        line.extend(r.values.iter().map(|&v| fmt(v)));
        body.push(line);
    }
    let mut out = grid(&head, &body, markdown);
    if !e.differences.is_empty() {
        out.push('\n');
        for d in &e.differences {
            out += &format!("{}{d}\n", if markdown { "- " } else { "" });
        }
    }
    out
}

/// Several models under one convention: one row each (`compare A B --convention NAME`).
pub fn models_table(names: &[String], counted: &[Counted], markdown: bool) -> String {
    let fmt = |v: Option<u64>| v.map(human).unwrap_or_else(|| "—".into());
    let head = ["model", "MACs", "FLOPs", "params"]
        .map(String::from)
        .to_vec();
    let body: Vec<Vec<String>> = names
        .iter()
        .zip(counted)
        .map(|(n, c)| vec![n.clone(), fmt(c.macs), fmt(c.flops), fmt(c.params)])
        .collect();
    let mut out = match counted.first() {
        Some(c) if !markdown => format!("convention {} ({})\n", c.convention, c.tool),
        _ => String::new(),
    };
    out += &grid(&head, &body, markdown);
    out
}

/// Rows under a header: a Markdown table, or text columns (the first left-aligned).
fn grid(head: &Vec<String>, body: &[Vec<String>], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        out += &format!("| {} |\n", head.join(" | "));
        out += &format!("|{}\n", "---|".repeat(head.len()));
        for l in body {
            out += &format!("| {} |\n", l.join(" | "));
        }
    } else {
        let w: Vec<usize> = (0..head.len())
            .map(|i| {
                body.iter()
                    .chain([head])
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for l in [head].into_iter().chain(body) {
            let cells: Vec<String> = l
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if i == 0 {
                        format!("{s:<w$}", w = w[i])
                    } else {
                        format!("{s:>w$}", w = w[i])
                    }
                })
                .collect();
            out += cells.join("  ").trim_end();
            out.push('\n');
        }
    }
    out
}
