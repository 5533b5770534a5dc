//! `flopscope.predict`: the [`Prediction`] class and the functions that make one. The device is
//! resolved before the model is profiled ([`predict_target`]), so that a misspelt device fails
//! before a slow capture or download; both steps run without the GIL.

use std::path::PathBuf;

use flopscope_core::predict::{self, Target};
use flopscope_core::Error;
use flopscope_report::render::Format;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::to_py;
use crate::profile::Profile;

/// Rows of the slowest layers in the text and the notebook view (the CLI's `--top` default).
const TOP: usize = 15;

/// A device ready to predict for, and the options of the prediction (not public: made by
/// `flopscope.predict` before it profiles the model).
#[pyclass(module = "flopscope._flopscope", name = "PredictTarget", frozen)]
pub(crate) struct PredictTarget {
    target: Target,
    opts: predict::Options,
}

/// Resolves `device` (a catalog key or alias, `KEY:MODE`, a device file, `local`) and parses
/// the options, as `flopscope predict` does: errors are the CLI's one-line usage errors. When
/// `local` has no calibration yet, one runs first (about a minute); what it says is written
/// to `sys.stderr`, as the CLI writes it to its standard error.
#[pyfunction]
#[pyo3(signature = (device, dtype=None, backend=None, threads=None, devices=None, params=None))]
pub(crate) fn predict_target(
    py: Python<'_>,
    device: &str,
    dtype: Option<&str>,
    backend: Option<&str>,
    threads: Option<usize>,
    devices: Option<PathBuf>,
    params: Option<PathBuf>,
) -> PyResult<PredictTarget> {
    py.detach(|| {
        // FLOPSCOPE_DEVICES stands for `devices=` as the CLI's --devices reads it.
        let env = std::env::var_os("FLOPSCOPE_DEVICES")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let (target, opts) = flopscope_bench::target::prepare(
            device,
            devices.as_deref().or(env.as_deref()),
            params.as_deref(),
            dtype,
            backend,
            threads,
            &mut |m| crate::profile::stderr(m),
        )?;
        Ok::<_, Error>(PredictTarget { target, opts })
    })
    .map_err(|e| to_py(py, e))
}

/// The prediction for a profile on a resolved device (`_flopscope.predict`).
#[pyfunction(name = "predict")]
pub(crate) fn predict_profile(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    target: PyRef<'_, PredictTarget>,
) -> PyResult<Prediction> {
    let (p, t, o) = (&profile.inner, &target.target, target.opts);
    py.detach(|| predict::predict(p, t, o))
        .map(|inner| Prediction { inner })
        .map_err(|e| to_py(py, e))
}

/// A model's predicted time on a device (`flopscope.predict/1`): latency, throughput, memory
/// fit, the measured error band, time by kernel class and per layer. `str()` is the text of
/// `flopscope predict`, `to_dict()` its `-f json` document.
#[pyclass(module = "flopscope", name = "Prediction", frozen)]
pub struct Prediction {
    pub(crate) inner: predict::Prediction,
}

/// `json.loads` of a section of the document (`serde_json::to_string` of it): the same
/// Python objects as that section of `to_dict()`.
fn loads(py: Python<'_>, json: serde_json::Result<String>) -> PyResult<Bound<'_, PyAny>> {
    let text = json.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

#[pymethods]
impl Prediction {
    /// Predicted time of one call, in seconds.
    #[getter]
    fn latency_s(&self) -> f64 {
        self.inner.latency_ms / 1e3
    }

    /// Predicted time of one call, in milliseconds.
    #[getter]
    fn latency_ms(&self) -> f64 {
        self.inner.latency_ms
    }

    /// Samples per second at the input's batch: `batch / latency_s`.
    #[getter]
    fn throughput(&self) -> f64 {
        self.inner.throughput_per_s
    }

    /// Whether the weights and peak activations (at the dtype) fit the device's memory.
    #[getter]
    fn fits(&self) -> bool {
        self.inner.fits
    }

    /// Samples per call: the first input's leading dim.
    #[getter]
    fn batch(&self) -> u64 {
        self.inner.batch
    }

    /// The number format predicted for (`fp32`, `fp16`, `amp`, …).
    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype.as_str()
    }

    /// The runtime predicted for (`torch`, `torch.compile`, `onnxruntime`).
    #[getter]
    fn backend(&self) -> &'static str {
        self.inner.backend.as_str()
    }

    /// Threads (CPU devices), else `None`.
    #[getter]
    fn threads(&self) -> Option<usize> {
        self.inner.threads
    }

    /// The model's name.
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }

    /// The device: `{"key", "name", "class", "profile"}` and `"mode"` when a power mode was
    /// selected.
    #[getter]
    fn device<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, serde_json::to_string(&self.inner.device))
    }

    /// The error measured for this device class and dtype: `{"median_pct", "p90_pct", "n",
    /// "basis", …}`; `None` when it was never measured.
    #[getter]
    fn error_band<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, serde_json::to_string(&self.inner.error_band))
    }

    /// Bytes behind `fits`: `{"weight_bytes", "activation_bytes", "total_bytes",
    /// "device_bytes"}`.
    #[getter]
    fn memory<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, serde_json::to_string(&self.inner.memory))
    }

    /// Sustained clock ÷ boost clock from the power model (1 when not power-limited).
    #[getter]
    fn clock_factor(&self) -> f64 {
        self.inner.clock_factor
    }

    /// One dict per layer, in graph order: `name`, `op`, `class`, `fused`, `flops`, `bytes`
    /// (moved, at the dtype), `time_s`, `compute_s`, `memory_s`, `overhead_s`, `bound`
    /// (`compute`, `memory`, `overhead`, `fused`, `none`) and `share` of the latency.
    #[getter]
    fn layers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self.inner.layers.iter().map(|l| {
            let d = PyDict::new(py);
            d.set_item("name", &l.name)?;
            d.set_item("op", &l.op)?;
            d.set_item("class", l.class.as_str())?;
            d.set_item("fused", l.fused)?;
            d.set_item("flops", l.flops)?;
            d.set_item("bytes", l.bytes)?;
            d.set_item("time_s", l.time_ms / 1e3)?;
            d.set_item("compute_s", l.compute_ms / 1e3)?;
            d.set_item("memory_s", l.memory_ms / 1e3)?;
            d.set_item("overhead_s", l.overhead_ms / 1e3)?;
            d.set_item("bound", l.bound)?;
            d.set_item("share", l.share)?;
            Ok::<_, PyErr>(d)
        });
        PyList::new(py, rows.collect::<PyResult<Vec<_>>>()?)
    }

    /// Time by kernel class, largest first: dicts of `class`, `layers`, `time_s`, `share`.
    #[getter]
    fn by_class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let rows = self.inner.by_class.iter().map(|c| {
            let d = PyDict::new(py);
            d.set_item("class", c.class.as_str())?;
            d.set_item("layers", c.layers)?;
            d.set_item("time_s", c.time_ms / 1e3)?;
            d.set_item("share", c.share)?;
            Ok::<_, PyErr>(d)
        });
        PyList::new(py, rows.collect::<PyResult<Vec<_>>>()?)
    }

    /// The `flopscope.predict/1` document as a dict, exactly `flopscope predict -f json`'s.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        loads(py, serde_json::to_string(&self.inner))
    }

    /// The `flopscope.predict/1` document as `flopscope predict -f json` prints it
    /// (indented, with its final newline).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.inner)
            .map(|s| s + "\n")
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The text of `flopscope predict -f FORMAT --top N`: `table` or `markdown` (`top`: the
    /// slowest layers shown, 0 for all), `json` (the document) or `html` (the notebook view).
    #[pyo3(signature = (format="table", top=TOP))]
    fn render(&self, py: Python<'_>, format: &str, top: usize) -> PyResult<String> {
        let top = (top > 0).then_some(top);
        let p = &self.inner;
        match format {
            "table" => Ok(flopscope_report::predict::render(p, top, Format::Text)),
            "markdown" => Ok(flopscope_report::predict::render(p, top, Format::Markdown)),
            "json" => self.to_json(),
            "html" => Ok(flopscope_report::predict::html_fragment(
                p,
                top.unwrap_or(p.layers.len()),
            )),
            other => Err(to_py(
                py,
                Error::Usage(format!(
                    "unknown format '{other}' (table, markdown, json or html)"
                )),
            )),
        }
    }

    /// The notebook view: the headline, the error band, time by kernel class and the slowest
    /// layers; one HTML fragment, no script.
    fn _repr_html_(&self) -> String {
        flopscope_report::predict::html_fragment(&self.inner, TOP)
    }

    fn __str__(&self) -> String {
        flopscope_report::predict::render(&self.inner, Some(TOP), Format::Text)
    }

    fn __repr__(&self) -> String {
        self.__str__()
    }
}
