//! Conventions: a traced module counted as thop, fvcore, ptflops, torchinfo, calflops,
//! DeepSpeed or FlopCounterMode count it (`docs/conventions.md`).

use flopscope_core::convention::{explain as explain_core, parse_list};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::to_py;
use crate::profile::Profile;

/// `trace` (the `flopscope.trace/1` bytes `exact` was profiled from) under the conventions
/// in `names` (comma-separated): the explain document as JSON, its table as text and as
/// Markdown.
#[pyfunction]
pub(crate) fn explain(
    py: Python<'_>,
    trace: Vec<u8>,
    names: &str,
    exact: &Profile,
) -> PyResult<(String, String, String)> {
    let p = &exact.inner;
    py.detach(|| {
        let list = parse_list(names)?;
        let e = explain_core(&trace, "<trace>", &list, p)?;
        Ok::<_, flopscope_core::Error>((e, list))
    })
    .map_err(|e| to_py(py, e))
    .and_then(|(e, _)| {
        let json = serde_json::to_string(&e).map_err(|x| PyRuntimeError::new_err(x.to_string()))?;
        let table = |md| flopscope_report::conventions::explain_table(&e, md);
        Ok((json, table(false), table(true)))
    })
}
