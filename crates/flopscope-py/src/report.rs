//! Documents of several results: the [`Comparison`] of models, the report page and charts.

use std::path::PathBuf;

use flopscope_core::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::bench::{table_format, BenchReport};
use crate::errors::to_py;
use crate::profile::Profile;

/// Models side by side (`flopscope compare`): parameters, MACs, FLOPs, memory, latency when
/// measured, and the Pareto front.
#[pyclass(module = "flopscope._flopscope", name = "Comparison", frozen)]
pub(crate) struct Comparison {
    inner: flopscope_report::compare::Comparison,
}

#[pymethods]
impl Comparison {
    /// The `flopscope.compare/1` document as compact JSON.
    fn json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The table in `format` (`table`, `markdown`, `csv`, `json`, `latex`), or `html`: the page
    /// with the Pareto chart, as `flopscope compare -o page.html` writes it.
    fn render(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        use flopscope_report::render::Format;
        if format == "html" {
            let names: Vec<&str> = self.inner.entries.iter().map(|e| e.name.as_str()).collect();
            let mut page = flopscope_report::page::Page::new(format!(
                "flopscope compare: {}",
                names.join(", ")
            ));
            page.compare = Some(&self.inner);
            page.compare_text = Some([
                self.inner.render(Format::Markdown),
                self.inner.render(Format::Latex),
            ]);
            return Ok(flopscope_report::page::html(&page));
        }
        Ok(self.inner.render(table_format(py, format)?))
    }

    /// Writes the Pareto chart (`.svg` or `.png`).
    fn chart(&self, path: PathBuf) -> PyResult<()> {
        let c = flopscope_report::chart::Chart::Pareto(&self.inner);
        flopscope_report::chart::write(&c, &path).map_err(|e| Python::attach(|py| to_py(py, e)))
    }
}

/// Compares profiles; `runs` gives each model's measurement (its report's first run) or `None`.
#[pyfunction]
pub(crate) fn compare(
    names: Vec<String>,
    profiles: Vec<PyRef<'_, Profile>>,
    runs: Vec<Option<PyRef<'_, BenchReport>>>,
) -> Comparison {
    let ps: Vec<flopscope_core::Profile> = profiles.iter().map(|p| p.inner.clone()).collect();
    let rs: Vec<Option<flopscope_bench::RunResult>> = runs
        .iter()
        .map(|r| r.as_ref().and_then(|r| r.inner.runs.first().cloned()))
        .collect();
    Comparison {
        inner: flopscope_report::compare::Comparison::new(&names, &ps, &rs),
    }
}

/// The report page of a profile (`flopscope report`), with a bench report's sections when given.
#[pyfunction]
#[pyo3(signature = (profile, bench=None))]
pub(crate) fn report_html(
    profile: PyRef<'_, Profile>,
    bench: Option<PyRef<'_, BenchReport>>,
) -> String {
    let mut page = flopscope_report::page::Page::new(format!(
        "flopscope report: {}",
        profile.inner.model.source
    ));
    page.profile = Some(&profile.inner);
    page.bench = bench.as_ref().map(|b| &b.inner);
    flopscope_report::page::html(&page)
}

/// Writes one chart of a profile as `.svg` or `.png`: `layers`, `ops` or `memory`.
#[pyfunction]
pub(crate) fn profile_chart(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    kind: &str,
    path: PathBuf,
) -> PyResult<()> {
    use flopscope_report::chart::{write, Chart};
    let c = match kind {
        "layers" => Chart::Layers(&profile.inner),
        "ops" => Chart::Ops(&profile.inner),
        "memory" => Chart::Memory(&profile.inner),
        other => {
            let msg = format!("unknown chart '{other}' (layers, ops, memory)");
            return Err(to_py(py, Error::Usage(msg)));
        }
    };
    write(&c, &path).map_err(|e| to_py(py, e))
}
