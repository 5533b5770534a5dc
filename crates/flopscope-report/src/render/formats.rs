//! The five renderers of a [`Table`]: aligned text, GitHub Markdown, a booktabs LaTeX
//! `tabular`, RFC 4180 CSV and JSON rows.

use std::fmt::Write;

use flopscope_core::format::{fit_left, fit_right};

use super::{csv_field, escape_latex, escape_markdown, Align, Data, Fit, Format, Table};

impl Table {
    pub(super) fn text(&self) -> String {
        let cols = self.shown(Format::Text);
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                cols.iter()
                    .map(|&i| {
                        let c = &self.columns[i];
                        // A line break would break the row: a terminal cell is one line.
                        let s = r
                            .cells
                            .get(i)
                            .map(|x| self.human(i, x, Format::Text).replace(['\r', '\n'], " "))
                            .unwrap_or_default();
                        match (c.width, c.fit) {
                            (Some(w), Fit::KeepEnd) if w > 0 => fit_left(&s, w),
                            (Some(w), Fit::KeepStart) if w > 0 => fit_right(&s, w),
                            _ => s,
                        }
                    })
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = cols
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                self.columns[i].width.unwrap_or_else(|| {
                    cells
                        .iter()
                        .map(|r| r[k].chars().count())
                        .chain(
                            self.text_header
                                .then(|| self.columns[i].name.chars().count()),
                        )
                        .max()
                        .unwrap_or(0)
                })
            })
            .collect();
        let line = |texts: &[String], mark: Option<bool>| {
            let mut s = match mark {
                Some(true) => "* ".to_string(),
                Some(false) => "  ".to_string(),
                None => String::new(),
            };
            s.push_str(&self.indent);
            for (k, &i) in cols.iter().enumerate() {
                let c = &self.columns[i];
                let t = &texts[k];
                let pad = " ".repeat(widths[k].saturating_sub(t.chars().count()));
                if k > 0 {
                    s.push_str(&c.gap);
                }
                match c.align {
                    Align::Left => {
                        s.push_str(t);
                        s.push_str(&pad);
                    }
                    Align::Right => {
                        s.push_str(&pad);
                        s.push_str(t);
                    }
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let marked = self.mark.is_some();
        let mut o = String::new();
        if let Some(t) = &self.title {
            let _ = writeln!(o, "{t}");
        }
        if self.text_header {
            let h: Vec<String> = cols.iter().map(|&i| self.columns[i].name.clone()).collect();
            o.push_str(&line(&h, marked.then_some(false)));
        }
        if let Some(n) = self.rule {
            let _ = writeln!(o, "{}", "─".repeat(n));
        }
        for (r, texts) in self.rows.iter().zip(&cells) {
            o.push_str(&line(texts, marked.then_some(r.mark)));
        }
        o + &self.footer("* ")
    }

    pub(super) fn markdown(&self) -> String {
        let cols = self.shown(Format::Markdown);
        let mut o = String::new();
        if let Some(t) = &self.title {
            let _ = write!(o, "{}{t}\n\n", if self.heading { "### " } else { "" });
        }
        let row = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        o.push_str(&row(cols
            .iter()
            .map(|&i| escape_markdown(&self.columns[i].name))
            .collect()));
        o.push('|');
        for &i in &cols {
            o.push_str(match self.columns[i].align {
                Align::Left => "---|",
                Align::Right => "---:|",
            });
        }
        o.push('\n');
        for r in &self.rows {
            o.push_str(&row(cols
                .iter()
                .enumerate()
                .map(|(k, &i)| {
                    let s = r
                        .cells
                        .get(i)
                        .map(|c| escape_markdown(&self.human(i, c, Format::Markdown)))
                        .unwrap_or_default();
                    if r.mark && k == 0 && !s.is_empty() {
                        format!("**{s}**")
                    } else {
                        s
                    }
                })
                .collect()));
        }
        o + &self.footer("Bold: ")
    }

    pub(super) fn latex(&self) -> String {
        let cols = self.shown(Format::Latex);
        let mut o = String::new();
        for c in self.title.iter().chain(&self.notes) {
            // A comment ends at the line's end: keep each on one line.
            let _ = writeln!(o, "% {}", c.replace(['\r', '\n'], " "));
        }
        let spec: String = cols
            .iter()
            .map(|&i| match self.columns[i].align {
                Align::Left => 'l',
                Align::Right => 'r',
            })
            .collect();
        let _ = write!(o, "\\begin{{tabular}}{{{spec}}}\n\\toprule\n");
        let h: Vec<String> = cols
            .iter()
            .map(|&i| escape_latex(&self.columns[i].name))
            .collect();
        let _ = write!(o, "{} \\\\\n\\midrule\n", h.join(" & "));
        for r in &self.rows {
            let c: Vec<String> = cols
                .iter()
                .map(|&i| {
                    r.cells
                        .get(i)
                        .map(|c| escape_latex(&self.human(i, c, Format::Latex)))
                        .unwrap_or_default()
                })
                .collect();
            let _ = writeln!(o, "{} \\\\", c.join(" & "));
        }
        o.push_str("\\bottomrule\n\\end{tabular}\n");
        o
    }

    pub(super) fn csv(&self) -> String {
        let cols = self.shown(Format::Csv);
        let mut o = String::new();
        let h: Vec<String> = cols
            .iter()
            .map(|&i| csv_field(&self.columns[i].key))
            .collect();
        let _ = writeln!(o, "{}", h.join(","));
        for r in &self.rows {
            let c: Vec<String> = cols
                .iter()
                .map(|&i| match r.cells.get(i).and_then(|c| self.data(i, c)) {
                    Some(Data::Num(s)) => s,
                    Some(Data::Float(v, d)) => format!("{v:.d$}"),
                    Some(Data::Text(s)) => csv_field(&s),
                    None => String::new(),
                })
                .collect();
            let _ = writeln!(o, "{}", c.join(","));
        }
        o
    }

    pub(super) fn json(&self) -> String {
        // Written by hand, not through a map, so that keys keep the columns' order.
        let cols = self.shown(Format::Json);
        let str = |s: &str| serde_json::Value::String(s.into()).to_string();
        let mut o = String::from("[");
        for (n, r) in self.rows.iter().enumerate() {
            o.push_str(if n == 0 { "\n  {" } else { ",\n  {" });
            for (k, &i) in cols.iter().enumerate() {
                let v = match r.cells.get(i).and_then(|c| self.data(i, c)) {
                    Some(Data::Num(s)) => s,
                    Some(Data::Float(v, _)) => serde_json::json!(v).to_string(),
                    Some(Data::Text(s)) => str(&s),
                    None => "null".into(),
                };
                let sep = if k == 0 { "" } else { "," };
                let _ = write!(o, "{sep}\n    {}: {v}", str(&self.columns[i].key));
            }
            o.push_str("\n  }");
        }
        o.push_str(if self.rows.is_empty() { "]\n" } else { "\n]\n" });
        o
    }
}
