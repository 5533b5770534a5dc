//! A [`Table`] as an HTML `<table>` fragment, for the notebook views (`_repr_html_`): the
//! columns and cells people read in the terminal (human units), every text escaped, inline
//! styles only (no stylesheet to fetch).

use std::fmt::Write;

use super::{escape_html, Align, Format, Table};

/// Cell styles: Jupyter's own table style aligns and pads cells; on a plain page these do.
const LEFT: &str = "text-align:left;padding:1px 8px 1px 0";
const RIGHT: &str = "text-align:right;padding:1px 0 1px 8px";

impl Table {
    /// The table as an HTML fragment: its title above it, its notes under it. `class` is the
    /// `<table>`'s class attribute.
    pub fn html(&self, class: &str) -> String {
        // The terminal's columns: the formats people read share them.
        let cols = self.shown(Format::Text);
        let style = |i: usize| match self.columns[i].align {
            Align::Left => LEFT,
            Align::Right => RIGHT,
        };
        let mut o = String::new();
        if let Some(t) = &self.title {
            let _ = write!(
                o,
                "<div style=\"font-weight:600;margin-top:8px\">{}</div>",
                escape_html(t)
            );
        }
        let _ = write!(
            o,
            "<table class=\"{}\" style=\"border-collapse:collapse;margin-top:4px\"><thead><tr>",
            escape_html(class)
        );
        for &i in &cols {
            let _ = write!(
                o,
                "<th style=\"{}\">{}</th>",
                style(i),
                escape_html(&self.columns[i].name)
            );
        }
        o.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            o.push_str("<tr>");
            for &i in &cols {
                let text = r
                    .cells
                    .get(i)
                    .map(|c| self.human(i, c, Format::Text))
                    .unwrap_or_default();
                let _ = write!(o, "<td style=\"{}\">{}</td>", style(i), escape_html(&text));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
        for n in &self.notes {
            let _ = write!(o, "<div style=\"opacity:.8\">{}</div>", escape_html(n));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use crate::render::{Cell, Column, Table};

    #[test]
    fn cells_are_escaped_and_counts_in_human_units() {
        let mut t = Table::new(vec![
            Column::left("Layer", "name"),
            Column::count("MACs", "macs"),
        ]);
        t.title = Some("Top <1>".into());
        t.row(vec![Cell::text("a<b>&c"), Cell::count(Some(1_814_073_344))]);
        let h = t.html("x");
        assert!(h.contains("<div style=\"font-weight:600;margin-top:8px\">Top &lt;1&gt;</div>"));
        assert!(h.contains(">a&lt;b&gt;&amp;c</td>"), "{h}");
        // 1,814,073,344 in the terminal's units (three significant digits).
        assert!(h.contains(">1.81G</td>"), "{h}");
        assert_eq!(h.matches("<tr>").count(), 2);
    }
}
