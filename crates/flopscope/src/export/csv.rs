//! CSV: one row per node, every node, raw numbers (empty cell = unknown).

use super::{shape_str, Exporter};
use crate::profile::Profile;

/// Per-layer CSV.
pub struct Csv;

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl Exporter for Csv {
    fn render(&self, p: &Profile) -> String {
        let mut out = String::from(
            "name,op,scope,inputs,outputs,params,macs,flops,bytes_read,bytes_written,activation_bytes\n",
        );
        for l in &p.layers {
            let shapes =
                |v: &[Option<Vec<u64>>]| v.iter().map(shape_str).collect::<Vec<_>>().join(";");
            let cells = [
                field(&l.name),
                field(&l.op),
                field(&l.scope.join("/")),
                field(&shapes(&l.inputs)),
                field(&shapes(&l.outputs)),
                l.params.to_string(),
                opt(l.macs),
                opt(l.flops),
                l.bytes_read.to_string(),
                l.bytes_written.to_string(),
                l.activation_bytes.to_string(),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }
}
