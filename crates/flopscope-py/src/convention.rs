//! Conventions: a traced module counted as thop, fvcore, ptflops, torchinfo, calflops,
//! DeepSpeed or FlopCounterMode count it (`docs/conventions.md`).

use flopscope_core::convention::{explain as explain_core, parse_list, Convention};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::profile::Profile;

/// `trace` (the `flopscope.trace/1` bytes `exact` was profiled from; `None` for a model
/// file, which only `exact` applies to) under the conventions in `names`: the explain document
/// as JSON, its table as text and as Markdown.
#[pyfunction]
#[pyo3(signature = (trace, names, exact))]
pub(crate) fn explain(
    py: Python<'_>,
    trace: Option<Vec<u8>>,
    names: Vec<String>,
    exact: &Profile,
) -> PyResult<(String, String, String)> {
    let p = &exact.inner;
    let e = py
        .detach(|| {
            let list = parse_list(&names.join(","))?;
            explain_core(trace.as_deref(), "<trace>", &list, p)
        })
        .map_err(|e| to_py(py, e))?;
    let json = serde_json::to_string(&e).map_err(|x| PyRuntimeError::new_err(x.to_string()))?;
    let table = |md| flopscope_report::conventions::explain_table(&e, md);
    Ok((json, table(false), table(true)))
}

/// The canonical names of `names` (aliases resolved, as `--convention` reads them), or of
/// every convention when `names` is `None`; a `UsageError` names an unknown one.
#[pyfunction]
#[pyo3(signature = (names=None))]
pub(crate) fn convention_names(
    py: Python<'_>,
    names: Option<Vec<String>>,
) -> PyResult<Vec<String>> {
    let list = match names {
        None => Convention::ALL.to_vec(),
        Some(n) => parse_list(&n.join(",")).map_err(|e| to_py(py, e))?,
    };
    Ok(list.iter().map(|c| c.name().to_string()).collect())
}
