//! `profile --convention NAME` and `compare MODEL --conventions a,b,exact`: a traced module
//! counted as another tool counts it (`docs/conventions.md`).

use std::path::{Path, PathBuf};

use flopscope_core::convention::{explain, parse_list, Convention, Explain};
use flopscope_core::{Error, Profile};

/// The trace bytes of `model`, which conventions other than `exact` read.
fn trace_of(model: &str) -> Result<Vec<u8>, Error> {
    flopscope_core::source::read_trace(Path::new(model))?.ok_or_else(|| {
        Error::Usage(format!(
            "conventions other than 'exact' reproduce PyTorch tools, which count a torch.nn.Module: '{model}' is not a flopscope.trace/1 document (Python: flopscope.profile(module, inputs).save_trace(path))"
        ))
    })
}

/// The explain document for `model` (already profiled as `exact`).
pub(crate) fn explained(model: &str, names: &str, exact: &Profile) -> Result<Explain, Error> {
    let list = parse_list(names)?;
    let trace = if list.iter().all(|c| *c == Convention::Exact) {
        None
    } else {
        Some(trace_of(model)?)
    };
    explain(trace.as_deref(), model, &list, exact)
}

/// Writes an explain document: JSON, Markdown or the aligned table.
pub(crate) fn write(
    e: &Explain,
    json: bool,
    markdown: bool,
    out: Option<&PathBuf>,
) -> Result<(), Error> {
    let text = if json {
        serde_json::to_string_pretty(e).map_err(|x| Error::Usage(x.to_string()))? + "\n"
    } else {
        flopscope_report::conventions::explain_table(e, markdown)
    };
    crate::write_out(out, &text)
}
