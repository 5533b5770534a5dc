//! Timing: the [`Sampler`] of runs timed in Python, the [`BenchReport`] class and the
//! functions that time ONNX files and make the inputs they are fed.

use std::path::PathBuf;

use flopscope_core::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::to_py;

/// The stopping rule of `flopscope bench`, for runs timed in Python: `add(ms)` records one
/// run's latency and says whether to stop.
#[pyclass(module = "flopscope._flopscope", name = "Sampler")]
pub(crate) struct Sampler {
    inner: flopscope_bench::Stopper,
}

#[pymethods]
impl Sampler {
    #[new]
    #[pyo3(signature = (runs=None, max_time=None, precision=None))]
    fn new(runs: Option<usize>, max_time: Option<f64>, precision: Option<f64>) -> Sampler {
        Sampler {
            inner: flopscope_bench::Stopper::new(runs, max_time, precision),
        }
    }

    /// Records one latency in milliseconds; `True` when timing should stop.
    fn add(&mut self, ms: f64) -> PyResult<bool> {
        if !ms.is_finite() || ms < 0.0 {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "a latency must be a finite number of milliseconds ≥ 0, got {ms}"
            )));
        }
        Ok(self.inner.push(ms))
    }

    /// The latencies so far (ms), in the order run.
    #[getter]
    fn samples(&self) -> Vec<f64> {
        self.inner.samples().to_vec()
    }
}

/// A `flopscope.bench/1` report built from runs timed in Python.
#[pyclass(module = "flopscope._flopscope", name = "BenchReport", frozen)]
pub(crate) struct BenchReport {
    pub(crate) inner: flopscope_bench::Report,
}

#[pymethods]
impl BenchReport {
    /// The report as compact `flopscope.bench/1` JSON.
    fn json(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.inner;
        py.detach(|| serde_json::to_string(r))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The notebook view (`_repr_html_`): the runs' statistics and a latency histogram per
    /// run; one HTML fragment, no script.
    fn html_fragment(&self, py: Python<'_>) -> String {
        let r = &self.inner;
        py.detach(|| flopscope_report::notebook::bench_fragment(r))
    }

    /// The report in `format`: `table`, `markdown`, `csv`, `json`, `latex` or `html` (the
    /// page with the latency histogram), as `flopscope bench -f` writes it.
    fn render(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        let r = &self.inner;
        if format == "html" {
            return Ok(py.detach(|| flopscope_report::bench::html(r)));
        }
        let f = table_format(py, format)?;
        Ok(py.detach(|| flopscope_report::bench::render(r, f)))
    }
}

/// One timed run from Python: backend, its version, batch, threads, latencies (ms), load and
/// cold-start times (ms).
type PyRun = (String, String, u64, usize, Vec<f64>, f64, f64);

/// Builds a bench report from runs timed in Python, followed by the runs of `extra` reports
/// (`bench_file`'s); the statistics (median, percentiles, outliers, FPS) are `flopscope
/// bench`'s.
#[pyfunction]
#[pyo3(signature = (model, inputs, runs, extra=vec![]))]
pub(crate) fn bench_report(
    py: Python<'_>,
    model: String,
    inputs: Vec<String>,
    runs: Vec<PyRun>,
    extra: Vec<PyRef<'_, BenchReport>>,
) -> PyResult<BenchReport> {
    let mut out = Vec::with_capacity(runs.len());
    for (backend, version, batch, threads, samples, load_ms, cold_ms) in runs {
        out.push(
            flopscope_bench::run_result(
                &backend, &version, batch, threads, samples, load_ms, cold_ms,
            )
            .ok_or_else(|| {
                to_py(
                    py,
                    Error::Usage(format!("run of {backend} has no latencies")),
                )
            })?,
        );
    }
    Ok(BenchReport {
        inner: flopscope_bench::Report {
            schema: flopscope_bench::SCHEMA,
            model,
            inputs,
            synthesized_weights: false,
            runs: out
                .into_iter()
                .chain(extra.iter().flat_map(|r| r.inner.runs.iter().cloned()))
                .collect(),
        },
    })
}

/// The table format named `format` (for `BenchReport.render` and `Comparison.render`, which
/// handle `html` themselves); an unknown name is a `UsageError`.
pub(crate) fn table_format(
    py: Python<'_>,
    format: &str,
) -> PyResult<flopscope_report::render::Format> {
    use flopscope_report::render::Format;
    Ok(match format {
        "table" | "text" | "txt" => Format::Text,
        "markdown" | "md" => Format::Markdown,
        "csv" => Format::Csv,
        "json" => Format::Json,
        "latex" | "tex" => Format::Latex,
        other => {
            let msg = format!("unknown format '{other}' (table, markdown, csv, json, latex, html)");
            return Err(to_py(py, Error::Usage(msg)));
        }
    })
}
/// What `bench_file` returns: the report, each backend's outputs (flattened, `f32`), and the
/// inputs it fed (name, dtype, shape) so that the framework can be run on the same data.
type FileBench = (
    BenchReport,
    Vec<Vec<Vec<f32>>>,
    Vec<(String, String, Vec<u64>)>,
);

/// Times an ONNX file on `backends` (`onnxruntime`, `tract`) with `flopscope bench`'s code and
/// runs each once more for its outputs; inputs are the seeded random ones of `input_data`.
#[pyfunction]
#[pyo3(signature = (path, backends, threads, warmup, runs=None, max_time=None, precision=None, seed=0))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn bench_file(
    py: Python<'_>,
    path: PathBuf,
    backends: Vec<String>,
    threads: usize,
    warmup: usize,
    runs: Option<usize>,
    max_time: Option<f64>,
    precision: Option<f64>,
    seed: u64,
) -> PyResult<FileBench> {
    use flopscope_bench::{onnxruntime::OnnxRuntime, tract::Tract, Runtime};
    let result = py.detach(|| -> Result<_, Error> {
        let mut rts: Vec<Box<dyn Runtime>> = Vec::new();
        for b in &backends {
            rts.push(match b.as_str() {
                "onnxruntime" | "ort" => Box::new(OnnxRuntime::new(None, threads)?),
                "tract" => Box::new(Tract { threads }),
                other => return Err(Error::Usage(format!("unknown backend '{other}'"))),
            });
        }
        let refs: Vec<&dyn Runtime> = rts.iter().map(|r| r.as_ref()).collect();
        let o = flopscope_bench::BenchOptions {
            warmup: flopscope_bench::Warmup::Runs(warmup),
            runs,
            time: max_time,
            precision,
            seed,
            ..Default::default()
        };
        let spec = path.to_string_lossy().to_string();
        let report = flopscope_bench::bench(&spec, &refs, &o, &mut |_| {})?;
        let p = flopscope_core::profile_source(&spec, &o.model)?;
        let inputs: Vec<flopscope_bench::InputSpec> = p
            .inputs
            .iter()
            .map(|i| flopscope_bench::InputSpec {
                name: i.name.clone(),
                dtype: flopscope_core::graph::DType::from_name(&i.dtype)
                    .unwrap_or(flopscope_core::graph::DType::F32),
                shape: i.shape.clone().unwrap_or_default(),
            })
            .collect();
        let mut outputs = Vec::new();
        for r in &refs {
            outputs.push(r.load(&path, &inputs, seed)?.outputs()?);
        }
        let specs = inputs
            .iter()
            .map(|i| (i.name.clone(), i.dtype.name().to_string(), i.shape.clone()))
            .collect();
        Ok((report, outputs, specs))
    });
    let (report, outputs, specs) = result.map_err(|e| to_py(py, e))?;
    Ok((BenchReport { inner: report }, outputs, specs))
}

/// The seeded random input `flopscope bench` feeds a runtime (its input number `i` uses
/// `seed + 7919·i`), as little-endian bytes: floats in [−1, 1), token ids in [0, 1000).
#[pyfunction]
pub(crate) fn input_data<'py>(
    py: Python<'py>,
    dtype: &str,
    shape: Vec<u64>,
    seed: u64,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    use flopscope_bench::InputData;
    let dt = flopscope_core::graph::DType::from_name(dtype)
        .ok_or_else(|| to_py(py, Error::Usage(format!("unknown dtype '{dtype}'"))))?;
    let spec = flopscope_bench::InputSpec {
        name: "input".into(),
        dtype: dt,
        shape,
    };
    let data = flopscope_bench::input_data(&spec, seed).map_err(|e| to_py(py, e))?;
    let bytes: Vec<u8> = match data {
        InputData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        InputData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        InputData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        InputData::Bool(v) => v.iter().map(|&b| b as u8).collect(),
    };
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}
