//! HTML: the self-contained report page of one profile (charts, treemap, sortable table); the
//! page itself lives in [`crate::page`], which also adds measurements and comparisons.

use super::Exporter;
use crate::page::{html, Page};
use flopscope_core::schema::Profile;

/// One offline HTML page.
pub struct Html;

impl Exporter for Html {
    fn render(&self, p: &Profile) -> String {
        let mut page = Page::new(format!("flopscope report: {}", p.model.source));
        page.profile = Some(p);
        html(&page)
    }
}
