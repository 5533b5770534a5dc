//! CSV: one row per node, every node, raw numbers (empty cell = unknown).

use super::Exporter;
use flopscope_core::format::shape_str;
use flopscope_core::schema::Profile;

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
        let roof = p.roofline.is_some();
        let mut out = String::from(
            "name,op,scope,inputs,outputs,params,macs,flops,bytes_read,bytes_written,activation_bytes",
        );
        // Roofline columns only when one was asked for, so the usual header stays stable.
        out.push_str(if roof {
            ",intensity,bound,min_ms\n"
        } else {
            "\n"
        });
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
            if roof {
                match l.roofline {
                    Some(r) => out.push_str(&format!(
                        ",{},{},{:.6}",
                        r.intensity.map(|i| format!("{i:.4}")).unwrap_or_default(),
                        r.bound.name(),
                        r.min_ms
                    )),
                    None => out.push_str(",,,"),
                }
            }
            out.push('\n');
        }
        out
    }
}
