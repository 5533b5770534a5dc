//! Explain: one model under several conventions, operator family by operator family, and
//! the differences from the exact count that make their totals disagree.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Convention, Counted};
use crate::format::human;

/// One operator family across conventions.
#[derive(Clone, Debug, Serialize)]
pub struct ExplainRow {
    /// The family (`attention`, `matmul`…).
    pub operator: String,
    /// What each convention counted in it: its operators, functions or module classes.
    pub ops: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per convention, in the order of [`Explain::conventions`]: its figure (MACs, or FLOPs
    /// for a convention without MACs).
    pub values: Vec<Option<u64>>,
}

/// A model under several conventions.
#[derive(Clone, Debug, Serialize)]
pub struct Explain {
    /// The conventions, as counted.
    pub conventions: Vec<Counted>,
    /// Operator families, by the largest figure.
    pub rows: Vec<ExplainRow>,
    /// Where each convention departs from the exact count, largest first.
    pub differences: Vec<String>,
}

/// A convention's headline unit: MACs when it has them, else FLOPs.
pub fn unit(c: &Counted) -> &'static str {
    if c.macs.is_some() {
        "MACs"
    } else {
        "FLOPs"
    }
}

impl Explain {
    /// Lines the conventions up; `exact` (flopscope's own count) is what differences are
    /// measured from (in each convention's unit).
    pub fn new(conventions: Vec<Counted>, exact: &Counted) -> Explain {
        let mut rows: BTreeMap<String, ExplainRow> = BTreeMap::new();
        for (k, c) in conventions.iter().enumerate() {
            for r in &c.operators {
                let row = rows
                    .entry(r.operator.clone())
                    .or_insert_with(|| ExplainRow {
                        operator: r.operator.clone(),
                        ops: BTreeMap::new(),
                        values: vec![None; conventions.len()],
                    });
                row.values[k] = if c.macs.is_some() { r.macs } else { r.flops };
                row.ops.insert(c.convention.to_string(), r.ops.clone());
            }
        }
        let mut rows: Vec<ExplainRow> = rows.into_values().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(r.values.iter().flatten().max().copied()));
        let mut differences = Vec::new();
        for c in conventions
            .iter()
            .filter(|c| c.convention != Convention::Exact)
        {
            let total = if c.macs.is_some() {
                exact.macs
            } else {
                exact.flops
            }
            .unwrap_or(0);
            let mut d: Vec<(i128, String)> = Vec::new();
            let mut fams: Vec<&str> = exact
                .operators
                .iter()
                .map(|r| r.operator.as_str())
                .collect();
            fams.extend(c.operators.iter().map(|r| r.operator.as_str()));
            fams.sort();
            fams.dedup();
            for fam in fams {
                let pick = |x: &Counted, mac: bool| {
                    x.operators
                        .iter()
                        .find(|r| r.operator == fam)
                        .and_then(|r| if mac { r.macs } else { r.flops })
                        .unwrap_or(0) as i128
                };
                let mine = pick(c, c.macs.is_some());
                let theirs = pick(exact, c.macs.is_some());
                let diff = mine - theirs;
                // Differences under 0.1% of the total are noise for this table.
                if diff == 0 || diff.unsigned_abs() * 1000 < total as u128 {
                    continue;
                }
                let what = exact
                    .operators
                    .iter()
                    .find(|r| r.operator == fam)
                    .map(|r| {
                        r.ops
                            .iter()
                            .map(|(k, n)| format!("{k} ×{n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|s| !s.is_empty())
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                let verb = if diff < 0 { "misses" } else { "adds" };
                d.push((
                    diff.abs(),
                    format!(
                        "{} {verb} {} {} of {fam}{what}",
                        c.convention,
                        human(diff.unsigned_abs().min(u64::MAX as u128) as u64),
                        unit(c)
                    ),
                ));
            }
            d.sort_by_key(|x| std::cmp::Reverse(x.0));
            differences.extend(d.into_iter().map(|x| x.1));
        }
        Explain {
            conventions,
            rows,
            differences,
        }
    }
}
