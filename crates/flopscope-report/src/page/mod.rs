//! The self-contained HTML report: one file holding the data as JSON and the script and style
//! that draw it (no network: nothing is loaded from anywhere else).
//!
//! The page is static HTML plus `assets/report.js`, which builds every chart as inline SVG from
//! the embedded data, so the file stays small (about 0.3 KB per layer) and works offline.

use serde::Serialize;

use crate::compare::{Comparison, Diff};
use flopscope_core::measure as bench;
use flopscope_core::schema::Profile;

const TEMPLATE: &str = include_str!("assets/report.html");
const STYLE: &str = include_str!("assets/report.css");
const SCRIPT: &str = include_str!("assets/report.js");

/// Everything one report page shows; each part is optional and its sections appear only when
/// it is present.
#[derive(Default, Serialize)]
pub struct Page<'a> {
    /// Page title.
    pub title: String,
    /// `flopscope <version>`.
    pub tool: String,
    /// A single model's profile: summary, layer charts, treemap, memory, layer table.
    pub profile: Option<&'a Profile>,
    /// Measurements: latency histogram, throughput curves, per-layer time vs FLOPs.
    pub bench: Option<&'a bench::Report>,
    /// Several models: the paper table and the Pareto chart.
    pub compare: Option<&'a Comparison>,
    /// The paper table as Markdown and LaTeX, to copy.
    pub compare_text: Option<[String; 2]>,
    /// Two versions of one model: which layers grew.
    pub diff: Option<&'a Diff>,
    /// Predicted time on a device: per-layer time chart, time by kernel class, error band.
    pub prediction: Option<&'a flopscope_core::predict::Prediction>,
}

impl<'a> Page<'a> {
    /// An empty page titled `title`.
    pub fn new(title: impl Into<String>) -> Page<'a> {
        Page {
            title: title.into(),
            tool: format!("flopscope {}", env!("CARGO_PKG_VERSION")),
            ..Page::default()
        }
    }
}

/// Renders the page as one HTML document.
pub fn html(page: &Page) -> String {
    // `<` only occurs inside JSON strings, where `\u003c` means the same: no `</script>` or
    // `<!--` can end the data block early.
    let data = serde_json::to_string(page)
        .unwrap_or_else(|_| "{}".into())
        .replace('<', "\\u003c");
    let title = crate::render::escape_html(&page.title);
    // One pass in template order, so no inserted text is ever searched for a marker.
    let mut out = String::with_capacity(TEMPLATE.len() + STYLE.len() + SCRIPT.len() + data.len());
    let mut rest = TEMPLATE;
    for (marker, value) in [
        ("{{title}}", title.as_str()),
        ("/*{{style}}*/", STYLE),
        ("{{data}}", data.as_str()),
        ("/*{{script}}*/", SCRIPT),
    ] {
        let (before, after) = rest
            .split_once(marker)
            .expect("report.html holds each marker once, in this order");
        out.push_str(before);
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_close_the_script_block() {
        let c = Comparison::new(&["</script><!--x".to_string()], &[], &[]);
        let mut p = Page::new("a <b> & c");
        p.compare = Some(&c);
        let h = html(&p);
        assert!(h.contains("<title>a &lt;b&gt; &amp; c</title>"));
        // One closing tag per script block: the data's `</script>` was escaped.
        assert_eq!(h.matches("</script>").count(), 2);
        // Nothing is fetched: no external sources, and the page's policy forbids loading any.
        for pat in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "@import",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!h.contains(pat), "{pat}");
        }
        assert!(h.contains("default-src 'none'"));
    }
}
