//! JSON: the `flopscope.profile/1` document, the public face of [`Profile`].

use super::Exporter;
use flopscope_core::schema::Profile;

/// Pretty-printed JSON.
pub struct Json;

impl Exporter for Json {
    fn render(&self, p: &Profile) -> String {
        let mut s =
            serde_json::to_string_pretty(p).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        s.push('\n');
        s
    }
}
