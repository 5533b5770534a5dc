//! Exporters: one module per output format, all behind [`Exporter`].
//!
//! The human formats (table, Markdown) share [`rows`], which folds layers by module path
//! (`--depth`) and keeps the heaviest (`--top`).

use crate::profile::{Layer, Profile};

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod roofline;
pub mod table;

/// Writes a profile in one format.
pub trait Exporter {
    /// Renders the whole document.
    fn render(&self, p: &Profile) -> String;
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

/// `1x3x224x224`, or `?` when unknown.
pub fn shape_str(s: &Option<Vec<u64>>) -> String {
    match s {
        Some(d) if d.is_empty() => "scalar".into(),
        Some(d) => d.iter().map(u64::to_string).collect::<Vec<_>>().join("x"),
        None => "?".into(),
    }
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
            for l in &p.layers {
                let key = if l.scope.len() >= d.max(1) {
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

/// Human units: `11.7M`, `1.81G`, `512`.
pub fn human(n: u64) -> String {
    const UNITS: [(f64, &str); 5] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")];
    let x = n as f64;
    for (scale, u) in UNITS {
        if x >= scale {
            let v = x / scale;
            return if v >= 100.0 {
                format!("{v:.0}{u}")
            } else if v >= 10.0 {
                format!("{v:.1}{u}")
            } else {
                format!("{v:.2}{u}")
            };
        }
    }
    n.to_string()
}

/// Bytes in binary units: `44.6 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut i = 0;
    while x >= 1024.0 && i < UNITS.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

/// Cuts `s` to `w` chars, keeping its end (the most specific part of a name).
pub fn fit_left(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        s.to_string()
    } else {
        let tail: String = s.chars().skip(n - (w - 1)).collect();
        format!("…{tail}")
    }
}

/// Cuts `s` to `w` chars, keeping its start.
pub fn fit_right(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let head: String = s.chars().take(w - 1).collect();
        format!("{head}…")
    }
}

/// `1,814,073,344`
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Share of `part` in `whole` as a percentage string.
pub fn pct(part: Option<u64>, whole: u64) -> String {
    match part {
        Some(x) if whole > 0 => format!("{:.1}", x as f64 * 100.0 / whole as f64),
        Some(_) => "0.0".into(),
        None => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human(11_689_512), "11.7M");
        assert_eq!(human(1_814_073_344), "1.81G");
        assert_eq!(human(999), "999");
        assert_eq!(grouped(1_814_073_344), "1,814,073,344");
        assert_eq!(human_bytes(46_722_048), "44.6 MiB");
    }
}
