//! The one table model every report builds, and one renderer per format.
//!
//! A report (profile, bench, comparison, diff, budget verdict) describes its tables as
//! [`Table`]s: columns with a header, an alignment and a kind, rows of [`Cell`]s holding the
//! text people read and, where useful, the exact number machines read. [`Table::render`] then
//! writes it as aligned terminal text, GitHub Markdown, CSV, a LaTeX `tabular` or JSON, so the
//! escaping of each format and the truncation of long names exist in one place.

mod formats;
mod html;

use flopscope_core::format::{grouped, human};

/// An output format of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for a terminal.
    Text,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// RFC 4180 CSV with exact numbers.
    Csv,
    /// A booktabs `tabular`.
    Latex,
    /// An array of row objects keyed by column key, exact numbers.
    Json,
}

impl Format {
    fn bit(self) -> u8 {
        match self {
            Format::Text => 1,
            Format::Markdown => 2,
            Format::Csv => 4,
            Format::Latex => 8,
            Format::Json => 16,
        }
    }
}

/// The formats a column appears in (a set of [`Format`]s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Show(u8);

impl Show {
    /// Every format.
    pub const ALL: Show = Show(31);
    /// The formats people read: text, Markdown, LaTeX.
    pub const HUMAN: Show = Show(1 | 2 | 8);
    /// The formats programs read: CSV, JSON.
    pub const DATA: Show = Show(4 | 16);
    /// The terminal only (bars, asides).
    pub const TEXT: Show = Show(1);
    /// No format: a column the data at hand does not have.
    pub const NONE: Show = Show(0);

    fn has(self, f: Format) -> bool {
        self.0 & f.bit() != 0
    }
}

/// Horizontal alignment of a column in text, Markdown and LaTeX.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Flush left (names).
    Left,
    /// Flush right (numbers).
    Right,
}

/// How a fixed-width text column cuts what does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// It overflows.
    Overflow,
    /// Keep the end (`…layer4/conv2`): the specific part of a path.
    KeepEnd,
    /// Keep the start (`Convolu…`).
    KeepStart,
}

/// What a column holds, which decides how each format writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text; CSV and JSON write the cell's value when it has one, else its text.
    Text,
    /// A number shown as the cell's text; CSV and JSON write its value (empty / `null`
    /// when it has none).
    Number,
    /// An exact count given as the cell's value: human units in text (`11.7M`, `-` for 0 when
    /// `dash_zero`), grouped digits in Markdown and LaTeX (`11,689,512`), plain digits in CSV
    /// and JSON; `?` (empty, `null`) when unknown.
    Count {
        /// Write 0 as `-` in text.
        dash_zero: bool,
    },
}

/// A column.
#[derive(Clone, Debug)]
pub struct Column {
    /// Header in text, Markdown and LaTeX.
    pub name: String,
    /// Header in CSV, key in JSON.
    pub key: String,
    /// Alignment.
    pub align: Align,
    /// What the cells hold.
    pub kind: Kind,
    /// Text width: fixed, or (`None`) the widest cell.
    pub width: Option<usize>,
    /// What a fixed-width text column does with longer cells.
    pub fit: Fit,
    /// Text written before the column in text, the separator (not before the first column:
    /// see [`Table::indent`]).
    pub gap: String,
    /// Formats the column appears in.
    pub show: Show,
}

impl Column {
    fn new(name: &str, key: &str, align: Align) -> Column {
        Column {
            name: name.into(),
            key: key.into(),
            align,
            kind: Kind::Text,
            width: None,
            fit: Fit::Overflow,
            gap: " ".into(),
            show: Show::ALL,
        }
    }

    /// A left-aligned text column.
    pub fn left(name: &str, key: &str) -> Column {
        Column::new(name, key, Align::Left)
    }

    /// A right-aligned number column.
    pub fn right(name: &str, key: &str) -> Column {
        Column {
            kind: Kind::Number,
            ..Column::new(name, key, Align::Right)
        }
    }

    /// A right-aligned count column (see [`Kind::Count`]).
    pub fn count(name: &str, key: &str) -> Column {
        Column {
            kind: Kind::Count { dash_zero: false },
            ..Column::new(name, key, Align::Right)
        }
    }

    /// Writes 0 as `-` in text (a count column).
    pub fn dash_zero(mut self) -> Column {
        self.kind = Kind::Count { dash_zero: true };
        self
    }

    /// Sets the alignment.
    pub fn align(mut self, a: Align) -> Column {
        self.align = a;
        self
    }

    /// Sets the kind.
    pub fn kind(mut self, k: Kind) -> Column {
        self.kind = k;
        self
    }

    /// A fixed text width.
    pub fn width(mut self, w: usize) -> Column {
        self.width = Some(w);
        self
    }

    /// Cuts longer cells, keeping their end or start.
    pub fn fit(mut self, f: Fit) -> Column {
        self.fit = f;
        self
    }

    /// The text separator before the column.
    pub fn gap(mut self, g: &str) -> Column {
        self.gap = g.into();
        self
    }

    /// The formats it appears in.
    pub fn show(mut self, s: Show) -> Column {
        self.show = s;
        self
    }
}

/// An exact value behind a cell, for CSV and JSON.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i128),
    /// A real number, and the decimals CSV writes it with.
    Float(f64, usize),
    /// A flag.
    Bool(bool),
}

/// One cell: what people read and, where useful, the exact value.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Shown in text, Markdown and LaTeX (not for count columns).
    pub text: String,
    /// Written by CSV and JSON (and by every format for count columns).
    pub value: Option<Value>,
}

impl Cell {
    /// Text only.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            value: None,
        }
    }

    /// A count (for [`Kind::Count`] columns); `None`: unknown.
    pub fn count(n: Option<u64>) -> Cell {
        Cell {
            text: String::new(),
            value: n.map(|n| Value::Int(n as i128)),
        }
    }

    /// Text for people, an integer for machines.
    pub fn int(text: impl Into<String>, n: u64) -> Cell {
        Cell {
            text: text.into(),
            value: Some(Value::Int(n as i128)),
        }
    }

    /// Text for people, a real for machines (written with `decimals` in CSV).
    pub fn float(text: impl Into<String>, v: f64, decimals: usize) -> Cell {
        Cell {
            text: text.into(),
            value: Some(Value::Float(v, decimals)),
        }
    }

    /// A real number shown with `decimals` everywhere.
    pub fn fixed(v: f64, decimals: usize) -> Cell {
        Cell::float(format!("{v:.decimals$}"), v, decimals)
    }

    /// Text for people, a flag for machines.
    pub fn flag(text: impl Into<String>, b: bool) -> Cell {
        Cell {
            text: text.into(),
            value: Some(Value::Bool(b)),
        }
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::text(s)
    }
}

/// A row, and whether it is marked (the Pareto front: `*` in text, bold in Markdown).
#[derive(Clone, Debug, Default)]
pub struct Row {
    /// One cell per column.
    pub cells: Vec<Cell>,
    /// Marked.
    pub mark: bool,
}

/// A table, with its title and the notes under it.
///
/// ```
/// use flopscope_report::render::{Cell, Column, Format, Table};
/// let mut t = Table::new(vec![Column::left("Layer", "name"), Column::count("MACs", "macs")]);
/// t.row(vec![Cell::text("a|b"), Cell::count(Some(1_814_073_344))]);
/// // Markdown escapes the pipe and writes exact counts with grouped digits.
/// assert_eq!(
///     t.render(Format::Markdown),
///     "| Layer | MACs |\n|---|---:|\n| a\\|b | 1,814,073,344 |\n"
/// );
/// // CSV and JSON keep the exact number.
/// assert_eq!(t.render(Format::Csv), "name,macs\na|b,1814073344\n");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// A line above the table (a heading in Markdown when `heading`).
    pub title: Option<String>,
    /// Markdown writes the title as a `###` heading.
    pub heading: bool,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows.
    pub rows: Vec<Row>,
    /// Text: write the header line (Markdown always does).
    pub text_header: bool,
    /// Text: written before every line (the first column's gap is not).
    pub indent: String,
    /// Text: a rule of this many `─` under the header.
    pub rule: Option<usize>,
    /// What a marked row means (`Pareto front (parameters vs FLOPs)`); when set, text
    /// prefixes every line with `* ` or two spaces.
    pub mark: Option<String>,
    /// Paragraphs under the table (LaTeX: comments above it).
    pub notes: Vec<String>,
}

impl Table {
    /// An empty table with these columns, header shown.
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            text_header: true,
            ..Table::default()
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(Row { cells, mark: false });
    }

    /// Renders the table in `f`.
    pub fn render(&self, f: Format) -> String {
        match f {
            Format::Text => self.text(),
            Format::Markdown => self.markdown(),
            Format::Csv => self.csv(),
            Format::Latex => self.latex(),
            Format::Json => self.json(),
        }
    }

    /// Indexes of the columns shown in `f`.
    fn shown(&self, f: Format) -> Vec<usize> {
        (0..self.columns.len())
            .filter(|&i| self.columns[i].show.has(f))
            .collect()
    }

    /// A cell as people read it in `f` (text, Markdown or LaTeX), unescaped.
    fn human(&self, col: usize, c: &Cell, f: Format) -> String {
        match self.columns[col].kind {
            Kind::Count { dash_zero } => match c.value {
                Some(Value::Int(n)) => {
                    let n = n.clamp(0, u64::MAX as i128) as u64;
                    match f {
                        Format::Text if n == 0 && dash_zero => "-".into(),
                        Format::Text => human(n),
                        _ => grouped(n),
                    }
                }
                _ => "?".into(),
            },
            _ => c.text.clone(),
        }
    }

    /// A cell as programs read it (CSV, JSON): `None` for nothing.
    fn data(&self, col: usize, c: &Cell) -> Option<Data> {
        match (c.value, self.columns[col].kind) {
            (Some(Value::Int(n)), _) => Some(Data::Num(n.to_string())),
            (Some(Value::Float(v, d)), _) => Some(Data::Float(v, d)),
            (Some(Value::Bool(b)), _) => Some(Data::Num(b.to_string())),
            (None, Kind::Text) => Some(Data::Text(c.text.clone())),
            (None, _) => None,
        }
    }

    fn footer(&self, marker: &str) -> String {
        let mut notes = self.notes.clone();
        if let Some(m) = &self.mark {
            let legend = format!("{marker}{m}.");
            match notes.first_mut() {
                Some(n) => *n = format!("{legend} {n}"),
                None => notes.push(legend),
            }
        }
        notes.iter().map(|n| format!("\n{n}\n")).collect()
    }
}

enum Data {
    /// An integer or a flag, written as is.
    Num(String),
    Float(f64, usize),
    Text(String),
}

/// `<`, `>`, `&`, `"` and `'` as entities, for text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a GitHub Markdown table cell: `\` and `|` get a backslash, line breaks become
/// `<br>` (a cell is one line).
pub fn escape_markdown(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => o.push_str("\\\\"),
            '|' => o.push_str("\\|"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                o.push_str("<br>");
            }
            '\n' => o.push_str("<br>"),
            c => o.push(c),
        }
    }
    o
}

/// Escapes LaTeX text: `\ & % $ # _ { } ~ ^`, `≥` as `$\geq$`, line breaks as spaces.
pub fn escape_latex(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                o.push('\\');
                o.push(c);
            }
            '~' => o.push_str("\\textasciitilde{}"),
            '^' => o.push_str("\\textasciicircum{}"),
            '≥' => o.push_str("$\\geq$"),
            '≤' => o.push_str("$\\leq$"),
            '\r' | '\n' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes
/// doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
