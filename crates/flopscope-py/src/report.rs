//! Documents of several results: the [`Comparison`] of models, the report page and charts.

use std::path::PathBuf;

use flopscope_core::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::bench::{table_format, BenchReport};
use crate::errors::to_py;
use crate::predict::Prediction;
use crate::profile::Profile;
use flopscope_report::compare::Predicted;

/// Models side by side (`flopscope compare`): parameters, MACs, FLOPs, memory, latency when
/// measured, and the Pareto front.
#[pyclass(module = "flopscope._flopscope", name = "Comparison", frozen)]
pub(crate) struct Comparison {
    inner: flopscope_report::compare::Comparison,
}

#[pymethods]
impl Comparison {
    /// The `flopscope.compare/1` document as compact JSON.
    fn json(&self, py: Python<'_>) -> PyResult<String> {
        let c = &self.inner;
        py.detach(|| serde_json::to_string(c))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The table in `format` (`table`, `markdown`, `csv`, `json`, `latex`), or `html`: the page
    /// with the Pareto chart, as `flopscope compare -o page.html` writes it.
    fn render(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        use flopscope_report::render::Format;
        let c = &self.inner;
        if format == "html" {
            return Ok(py.detach(|| {
                let names: Vec<&str> = c.entries.iter().map(|e| e.name.as_str()).collect();
                let mut page = flopscope_report::page::Page::new(format!(
                    "flopscope compare: {}",
                    names.join(", ")
                ));
                page.compare = Some(c);
                page.compare_text = Some([c.render(Format::Markdown), c.render(Format::Latex)]);
                flopscope_report::page::html(&page)
            }));
        }
        let f = table_format(py, format)?;
        Ok(py.detach(|| c.render(f)))
    }

    /// Writes the Pareto chart (`.svg` or `.png`).
    fn chart(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let c = flopscope_report::chart::Chart::Pareto(&self.inner);
        py.detach(|| flopscope_report::chart::write(&c, &path))
            .map_err(|e| to_py(py, e))
    }
}

/// Compares profiles; `runs` gives each model's measurement (its report's first run) or
/// `None`, `predictions` each model's prediction on one device (`compare --device`) or is empty.
#[pyfunction]
#[pyo3(signature = (names, profiles, runs, predictions=vec![]))]
pub(crate) fn compare(
    py: Python<'_>,
    names: Vec<String>,
    profiles: Vec<PyRef<'_, Profile>>,
    runs: Vec<Option<PyRef<'_, BenchReport>>>,
    predictions: Vec<PyRef<'_, Prediction>>,
) -> Comparison {
    let ps: Vec<&flopscope_core::Profile> = profiles.iter().map(|p| &p.inner).collect();
    let rs: Vec<Option<flopscope_bench::RunResult>> = runs
        .iter()
        .map(|r| r.as_ref().and_then(|r| r.inner.runs.first().cloned()))
        .collect();
    let pr: Vec<&flopscope_core::predict::Prediction> =
        predictions.iter().map(|p| &p.inner).collect();
    py.detach(|| {
        let mut c = flopscope_report::compare::Comparison::new(&names, ps, &rs);
        if !pr.is_empty() {
            c = c.with_predictions(pr.iter().map(|p| Predicted::of(p)).collect());
        }
        Comparison { inner: c }
    })
}

/// The layer-by-layer difference of two versions of one model (`compare --diff`), as text
/// (`table`, the 30 largest changes), Markdown (50) or the JSON document.
#[pyfunction]
pub(crate) fn diff(
    py: Python<'_>,
    old: PyRef<'_, Profile>,
    new: PyRef<'_, Profile>,
    format: &str,
) -> PyResult<String> {
    use flopscope_report::render::Format;
    let (a, b) = (&old.inner, &new.inner);
    let f = match format {
        "table" | "text" | "txt" => Format::Text,
        "markdown" | "md" => Format::Markdown,
        "json" => Format::Json,
        other => {
            let msg = format!("unknown format '{other}' for a diff (table, markdown, json)");
            return Err(to_py(py, Error::Usage(msg)));
        }
    };
    Ok(py.detach(|| flopscope_report::compare::Diff::new(a, b).document(f)))
}

/// The report page of a profile (`flopscope report`), with a bench report's and a prediction's
/// sections when given.
#[pyfunction]
#[pyo3(signature = (profile, bench=None, prediction=None))]
pub(crate) fn report_html(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    bench: Option<PyRef<'_, BenchReport>>,
    prediction: Option<PyRef<'_, Prediction>>,
) -> String {
    let p = &profile.inner;
    let b = bench.as_ref().map(|b| &b.inner);
    let pr = prediction.as_ref().map(|x| &x.inner);
    py.detach(|| {
        let mut page =
            flopscope_report::page::Page::new(format!("flopscope report: {}", p.model.source));
        page.profile = Some(p);
        page.bench = b;
        page.prediction = pr;
        flopscope_report::page::html(&page)
    })
}

/// Writes one chart of a profile as `.svg` or `.png`: `layers`, `ops`, `memory`, `roofline`
/// (needs the profile's roofline; with `bench`, layers at their measured speed) or `latency`
/// (needs `bench`), as `flopscope report --chart`.
#[pyfunction]
#[pyo3(signature = (profile, kind, path, bench=None))]
pub(crate) fn profile_chart(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    kind: &str,
    path: PathBuf,
    bench: Option<PyRef<'_, BenchReport>>,
) -> PyResult<()> {
    use flopscope_report::chart::{write, Chart};
    let p = &profile.inner;
    let run = bench.as_ref().and_then(|b| b.inner.runs.first());
    let usage = |msg: &str| Err(to_py(py, Error::Usage(msg.into())));
    let c = match (kind, run) {
        ("layers", _) => Chart::Layers(p),
        ("ops", _) => Chart::Ops(p),
        ("memory", _) => Chart::Memory(p),
        ("latency", Some(r)) => Chart::Latency(r),
        ("latency", None) => {
            return usage("the latency chart needs bench= (a BenchResult or True)")
        }
        ("roofline", _) if p.roofline.is_none() => {
            return usage(
                "the roofline chart needs a roof: profile with roofline=True, peak_gflops= \
                 with bandwidth_gbs=, or machine=",
            )
        }
        ("roofline", r) => Chart::Roofline(p, r),
        (other, _) => {
            let msg = format!("unknown chart '{other}' (layers, ops, memory, latency, roofline)");
            return Err(to_py(py, Error::Usage(msg)));
        }
    };
    py.detach(|| write(&c, &path)).map_err(|e| to_py(py, e))
}
