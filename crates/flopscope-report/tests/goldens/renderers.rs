//! Each renderer on one small table whose cells hold what breaks each format: `|` and `\`
//! (Markdown), a line break, `,` and `"` (CSV), `_ & % $ # { } ~ ^ \` (LaTeX).

use flopscope_report::render::{Cell, Column, Format, Table};

fn table() -> Table {
    let mut t = Table::new(vec![
        Column::left("Name", "name"),
        Column::count("Params", "params"),
        Column::right("Share %", "share"),
    ]);
    t.title = Some("T".into());
    t.notes.push("note".into());
    t.row(vec![
        Cell::text("a|b"),
        Cell::count(Some(1_234_567)),
        Cell::float("12.5", 12.5, 2),
    ]);
    t.row(vec![
        Cell::text("x_&y %$#{}~^\\"),
        Cell::count(Some(0)),
        Cell::text("-"),
    ]);
    t.row(vec![
        Cell::text("two\nlines, \"q\""),
        Cell::count(None),
        Cell::fixed(0.25, 2),
    ]);
    t
}

// Text: widths are the widest cell or header (Name: `two lines, "q"` = 14 chars, the line
// break shown as a space); counts in human units (1,234,567 = 1.23M), unknown `?`.
#[test]
fn text() {
    assert_eq!(
        table().render(Format::Text),
        r#"T
Name           Params Share %
a|b             1.23M    12.5
x_&y %$#{}~^\       0       -
two lines, "q"      ?    0.25

note
"#
    );
}

// Markdown: `|` and `\` escaped, the line break as <br>, counts exact with grouped digits.
#[test]
fn markdown() {
    assert_eq!(
        table().render(Format::Markdown),
        r#"T

| Name | Params | Share % |
|---|---:|---:|
| a\|b | 1,234,567 | 12.5 |
| x_&y %$#{}~^\\ | 0 | - |
| two<br>lines, "q" | ? | 0.25 |

note
"#
    );
}

// CSV: exact values (12.5 with the cell's 2 decimals), nothing for unknown, the field with a
// comma, quotes and a line break quoted with its quotes doubled.
#[test]
fn csv() {
    assert_eq!(
        table().render(Format::Csv),
        "name,params,share\n\
         a|b,1234567,12.50\n\
         x_&y %$#{}~^\\,0,\n\
         \"two\nlines, \"\"q\"\"\",,0.25\n"
    );
}

// LaTeX: title and notes as comments, every special escaped, counts with grouped digits.
#[test]
fn latex() {
    assert_eq!(
        table().render(Format::Latex),
        r#"% T
% note
\begin{tabular}{lrr}
\toprule
Name & Params & Share \% \\
\midrule
a|b & 1,234,567 & 12.5 \\
x\_\&y \%\$\#\{\}\textasciitilde{}\textasciicircum{}\textbackslash{} & 0 & - \\
two lines, "q" & ? & 0.25 \\
\bottomrule
\end{tabular}
"#
    );
}

// JSON: one object per row keyed by column key in column order, exact numbers, null for
// unknown.
#[test]
fn json() {
    assert_eq!(
        table().render(Format::Json),
        r#"[
  {
    "name": "a|b",
    "params": 1234567,
    "share": 12.5
  },
  {
    "name": "x_&y %$#{}~^\\",
    "params": 0,
    "share": null
  },
  {
    "name": "two\nlines, \"q\"",
    "params": null,
    "share": 0.25
  }
]
"#
    );
}

#[test]
fn html_escapes_markup_in_text_and_attributes() {
    assert_eq!(
        flopscope_report::render::escape_html("<a href='x'>&\""),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
    );
}
