//! `flopscope._flopscope`: the Rust side of the Python package `flopscope`.
//!
//! Every number comes from `flopscope-core` and every document from the exporters of
//! `flopscope-report`, the same code the CLI runs; the Python package (`python/flopscope`) only
//! turns Python arguments into [`Options`] and Rust results into Python objects. A profile stays
//! a Rust [`flopscope_core::Profile`] inside the [`Profile`] class: rendering it again (as a
//! table, CSV, HTML…) never re-parses anything. The analysis runs with the GIL released.

use std::path::PathBuf;

use flopscope_core::{Error, Options, Source};
use flopscope_report::export::{rows, ProfileFormat, RowOptions};
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyMemoryError, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, made once at import (see [`make_errors`]).
static ERRORS: PyOnceLock<Vec<(&'static str, Py<PyType>)>> = PyOnceLock::new();

/// Name, Python bases (by name of an earlier class or a builtin) and docstring of each class.
/// Each also inherits the builtin a Python user would catch for that kind of failure.
const CLASSES: &[(&str, &[&str], &str)] = &[
    (
        "FlopscopeError",
        &["Exception"],
        "Base of every error flopscope raises.",
    ),
    (
        "ModelError",
        &["FlopscopeError", "ValueError"],
        "The model is malformed or invalid (CLI exit code 4).",
    ),
    (
        "UnsupportedError",
        &["ModelError"],
        "The model uses an opset or IR version flopscope does not support (exit code 5).",
    ),
    (
        "ShapeError",
        &["ModelError"],
        "A node's output shape cannot be inferred, or a size overflows (exit code 6).",
    ),
    (
        "UsageError",
        &["FlopscopeError", "ValueError"],
        "A bad argument: a dim binding, an input shape, an option (exit code 2).",
    ),
    (
        "ReadError",
        &["FlopscopeError", "OSError"],
        "The model file (or a file it names) cannot be read (exit code 3).",
    ),
    (
        "ModelNotFoundError",
        &["ReadError", "FileNotFoundError"],
        "No such file, and no built-in model of that name (exit code 3).",
    ),
    (
        "WriteError",
        &["FlopscopeError", "OSError"],
        "An output file cannot be written (exit code 1).",
    ),
    (
        "BackendError",
        &["FlopscopeError", "RuntimeError"],
        "A runtime could not load or run the model (exit code 7).",
    ),
    (
        "ResourcesError",
        &["FlopscopeError", "MemoryError"],
        "The work needs more memory than this machine has (exit code 8).",
    ),
    (
        "RenderError",
        &["FlopscopeError", "RuntimeError"],
        "A chart could not be drawn (exit code 1).",
    ),
];

/// Builds the classes of [`CLASSES`] with `type(name, bases, namespace)`: pyo3's
/// `create_exception!` allows one base only, and these need two.
fn make_errors(py: Python<'_>) -> PyResult<Vec<(&'static str, Py<PyType>)>> {
    let builtin = |name: &str| -> PyResult<Bound<'_, PyType>> {
        Ok(match name {
            "Exception" => py.get_type::<PyException>(),
            "ValueError" => py.get_type::<PyValueError>(),
            "OSError" => py.get_type::<PyOSError>(),
            "FileNotFoundError" => py.get_type::<PyFileNotFoundError>(),
            "RuntimeError" => py.get_type::<PyRuntimeError>(),
            "MemoryError" => py.get_type::<PyMemoryError>(),
            other => {
                return Err(PyRuntimeError::new_err(format!(
                    "flopscope: no builtin {other}"
                )))
            }
        })
    };
    let mut made: Vec<(&'static str, Py<PyType>)> = Vec::new();
    for (name, bases, doc) in CLASSES {
        let mut b = Vec::new();
        for base in *bases {
            match made.iter().find(|(n, _)| n == base) {
                Some((_, t)) => b.push(t.bind(py).clone()),
                None => b.push(builtin(base)?),
            }
        }
        let ns = PyDict::new(py);
        ns.set_item("__module__", "flopscope")?;
        ns.set_item("__doc__", *doc)?;
        // The message alone, as the CLI prints it: `OSError.__str__` would rewrite it as
        // `[Errno 2] …: 'path'` once `errno` and `filename` are set.
        ns.set_item(
            "__str__",
            py.get_type::<pyo3::exceptions::PyBaseException>()
                .getattr("__str__")?,
        )?;
        let cls = py
            .get_type::<PyType>()
            .call1((*name, PyTuple::new(py, b)?, ns))?
            .cast_into::<PyType>()?;
        made.push((name, cls.unbind()));
    }
    Ok(made)
}

/// The class named `name` (made at import).
fn class<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyType> {
    let classes = ERRORS.get_or_try_init(py, || make_errors(py));
    match classes
        .ok()
        .and_then(|c| c.iter().find(|(n, _)| *n == name))
    {
        Some((_, t)) => t.bind(py).clone(),
        None => py.get_type::<PyRuntimeError>(),
    }
}

/// Which class each kind of error raises: the CLI's exit codes, one class per code.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::Malformed { .. } | Error::Invalid(_) => "ModelError",
        Error::Unsupported(_) => "UnsupportedError",
        Error::Shape { .. } => "ShapeError",
        Error::Usage(_) => "UsageError",
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "ModelNotFoundError"
        }
        Error::Io { .. } => "ReadError",
        Error::Write { .. } => "WriteError",
        Error::Runtime(_) => "BackendError",
        Error::Resources(_) => "ResourcesError",
        Error::Render(_) => "RenderError",
        // A kind added to the library later: the base class.
        _ => "FlopscopeError",
    }
}

/// The Python exception of an error: its message is the CLI's one line (without the
/// `flopscope: error:` prefix); file errors also set `filename` (and `errno` when known).
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let err = PyErr::from_type(class(py, class_name(&e)), e.to_string());
    if let Error::Io { path, source } | Error::Write { path, source } = &e {
        let v = err.value(py);
        let _ = v.setattr("filename", path.display().to_string());
        if let Some(code) = source.raw_os_error() {
            let _ = v.setattr("errno", code);
        } else if source.kind() == std::io::ErrorKind::NotFound {
            let _ = v.setattr("errno", 2);
        }
        let _ = v.setattr("strerror", source.to_string());
    }
    err
}

/// A `flopscope.profile/1` profile, held as the Rust value.
#[pyclass(module = "flopscope._flopscope", name = "Profile", frozen)]
pub struct Profile {
    inner: flopscope_core::Profile,
}

#[pymethods]
impl Profile {
    /// The document in `format`: `table` (the CLI's terminal table), `markdown`, `csv`, `json`
    /// (the `flopscope.profile/1` document) or `html` (the self-contained report page).
    /// `depth`, `top` and `all` select the layer rows of `table` and `markdown`, as the CLI's
    /// `--depth`, `--top` and `--all`.
    #[pyo3(signature = (format, depth=None, top=None, all=false))]
    fn render(
        &self,
        py: Python<'_>,
        format: &str,
        depth: Option<usize>,
        top: Option<usize>,
        all: bool,
    ) -> PyResult<String> {
        let rows = RowOptions { depth, top, all };
        let Some(f) = ProfileFormat::from_name(format) else {
            return Err(to_py(
                py,
                Error::Usage(format!(
                    "unknown format '{format}' (table, markdown, csv, json or html)"
                )),
            ));
        };
        let p = &self.inner;
        Ok(py.detach(|| f.render(p, rows)))
    }

    /// Writes `render(format, depth, top)` to `path` (errors: `WriteError`, as the CLI's `-o`).
    #[pyo3(signature = (path, format, depth=None, top=None))]
    fn save(
        &self,
        py: Python<'_>,
        path: PathBuf,
        format: &str,
        depth: Option<usize>,
        top: Option<usize>,
    ) -> PyResult<()> {
        let text = self.render(py, format, depth, top, false)?;
        py.detach(|| std::fs::write(&path, text).map_err(|source| Error::Write { path, source }))
            .map_err(|e| to_py(py, e))
    }

    /// The `flopscope.profile/1` document as compact JSON (the data of `render("json")`).
    fn json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Layers folded by module path cut at `depth` (the CLI's `--depth`, every row kept):
    /// tuples `(name, op, output shape, params, macs, flops, nodes)`, in order of first
    /// appearance; `macs`/`flops` are `None` when a node of the row has an unknown cost.
    #[allow(clippy::type_complexity)]
    fn modules(
        &self,
        depth: usize,
    ) -> Vec<(String, String, String, u64, Option<u64>, Option<u64>, usize)> {
        let o = RowOptions {
            depth: Some(depth),
            top: None,
            all: true,
        };
        rows(&self.inner, &o)
            .0
            .into_iter()
            .map(|r| (r.name, r.op, r.output, r.params, r.macs, r.flops, r.nodes))
            .collect()
    }

    /// This profile with formulas in `symbols` fitted from `make(sizes) -> bytes`, which
    /// re-makes the model's trace at the given sizes (one per symbol), and `bindings` (the
    /// sizes this profile was made at) recorded.
    fn with_formulas(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        bindings: Vec<(String, u64)>,
        make: Py<PyAny>,
    ) -> PyResult<Profile> {
        let mut inner = self.inner.clone();
        inner.bindings.extend(bindings);
        let mut failure: Option<PyErr> = None;
        let opts = Options::default();
        if symbols.is_empty() {
            return Ok(Profile { inner });
        }
        flopscope_core::profile::fit_formulas(&mut inner, &symbols, |pt| {
            let bytes: Vec<u8> = match make.call1(py, (pt.to_vec(),)).and_then(|b| b.extract(py)) {
                Ok(b) => b,
                Err(e) => {
                    let msg = e.to_string();
                    failure.get_or_insert(e);
                    return Err(Error::Usage(msg));
                }
            };
            flopscope_core::profile_bytes(&bytes, &opts)
        });
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(Profile { inner })
    }

    /// This profile with notes from the Python front-end (how a module was traced) added to
    /// its warnings.
    fn with_warnings(&self, notes: Vec<String>) -> Profile {
        let mut inner = self.inner.clone();
        inner.warnings.extend(notes);
        Profile { inner }
    }

    /// The notebook view (`_repr_html_`): summary cards, a bar chart of the heaviest layers'
    /// FLOPs and a table of the ten heaviest; one HTML fragment, no script, no external file.
    fn html_fragment(&self) -> String {
        flopscope_report::notebook::fragment(&self.inner)
    }

    /// Where the model came from: its path, the name given with its bytes, or a built-in name.
    #[getter]
    fn source(&self) -> String {
        self.inner.model.source.clone()
    }

    /// Parameters (floating-point initializers, each counted once).
    #[getter]
    fn params(&self) -> u64 {
        self.inner.totals.params
    }

    /// Multiply-accumulates.
    #[getter]
    fn macs(&self) -> u64 {
        self.inner.totals.macs
    }

    /// Floating-point operations (2 × MACs + every other operation).
    #[getter]
    fn flops(&self) -> u64 {
        self.inner.totals.flops
    }

    /// Bytes of the parameters.
    #[getter]
    fn param_bytes(&self) -> u64 {
        self.inner.totals.param_bytes
    }

    /// Bytes of every node output.
    #[getter]
    fn activation_bytes(&self) -> u64 {
        self.inner.totals.activation_bytes
    }

    /// Largest total of live activations during a sequential execution.
    #[getter]
    fn peak_activation_bytes(&self) -> u64 {
        self.inner.totals.peak_activation_bytes
    }

    fn __repr__(&self) -> String {
        use flopscope_core::format::human;
        let t = &self.inner.totals;
        format!(
            "<flopscope.Profile {}: {} params, {} MACs, {} FLOPs>",
            self.inner.model.source,
            human(t.params),
            human(t.macs),
            human(t.flops)
        )
    }
}

/// Options from the Python arguments, refused as the CLI refuses `--dim name=0`.
fn options(
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
) -> Result<Options, Error> {
    for (name, n) in &dims {
        if name.trim().is_empty() || *n == 0 {
            return Err(Error::Usage(format!(
                "dims expects {{name: size}} with size ≥ 1, got {name:?}: {n}"
            )));
        }
    }
    Ok(Options {
        dims,
        inputs,
        classes,
    })
}

/// Runs the analysis without the GIL and wraps the result.
fn run(
    py: Python<'_>,
    source: Source<'_>,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
) -> PyResult<Profile> {
    let opts = options(dims, inputs, classes).map_err(|e| to_py(py, e))?;
    let result = py.detach(|| {
        let p = flopscope_core::profile(&source, &opts)?;
        // A dim the model lacks is an error, as for a CLI command of one model.
        flopscope_core::check_dims(&opts, &[&p])?;
        Ok::<_, Error>(p)
    });
    result
        .map(|inner| Profile { inner })
        .map_err(|e| to_py(py, e))
}

/// Profiles a command-line style argument: an existing path, else a built-in name, else a
/// path (which then fails with the reason), as `flopscope profile SPEC`.
#[pyfunction]
#[pyo3(signature = (spec, dims=vec![], inputs=vec![], classes=None))]
fn profile_spec(
    py: Python<'_>,
    spec: &str,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
) -> PyResult<Profile> {
    run(py, Source::parse(spec), dims, inputs, classes)
}

/// Profiles a file or checkpoint folder (ONNX, safetensors, GGUF).
#[pyfunction]
#[pyo3(signature = (path, dims=vec![], inputs=vec![], classes=None))]
fn profile_path(
    py: Python<'_>,
    path: PathBuf,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
) -> PyResult<Profile> {
    run(py, Source::Path(&path), dims, inputs, classes)
}

/// Profiles a model held in memory (ONNX, or a single GGUF or safetensors file); `name` is
/// what errors and the profile call it.
#[pyfunction]
#[pyo3(signature = (data, name, dims=vec![], inputs=vec![], classes=None))]
fn profile_bytes(
    py: Python<'_>,
    data: &[u8],
    name: &str,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
) -> PyResult<Profile> {
    run(
        py,
        Source::Bytes { bytes: data, name },
        dims,
        inputs,
        classes,
    )
}

/// The stopping rule of `flopscope bench`, for runs timed in Python: `add(ms)` records one
/// run's latency and says whether to stop.
#[pyclass(module = "flopscope._flopscope", name = "Sampler")]
struct Sampler {
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
    fn add(&mut self, ms: f64) -> bool {
        self.inner.push(ms)
    }

    /// The latencies so far (ms), in the order run.
    #[getter]
    fn samples(&self) -> Vec<f64> {
        self.inner.samples().to_vec()
    }
}

/// A `flopscope.bench/1` report built from runs timed in Python.
#[pyclass(module = "flopscope._flopscope", name = "BenchReport", frozen)]
struct BenchReport {
    inner: flopscope_bench::Report,
}

#[pymethods]
impl BenchReport {
    /// The report as compact `flopscope.bench/1` JSON.
    fn json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The report in `format`: `table`, `markdown`, `csv`, `json`, `latex` or `html` (the
    /// page with the latency histogram), as `flopscope bench -f` writes it.
    fn render(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        if format == "html" {
            return Ok(flopscope_report::bench::html(&self.inner));
        }
        let f = table_format(py, format)?;
        Ok(flopscope_report::bench::render(&self.inner, f))
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
fn bench_report(
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

fn table_format(py: Python<'_>, format: &str) -> PyResult<flopscope_report::render::Format> {
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

/// Models side by side (`flopscope compare`): parameters, MACs, FLOPs, memory, latency when
/// measured, and the Pareto front.
#[pyclass(module = "flopscope._flopscope", name = "Comparison", frozen)]
struct Comparison {
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
fn compare(
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
fn report_html(profile: PyRef<'_, Profile>, bench: Option<PyRef<'_, BenchReport>>) -> String {
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
fn profile_chart(
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
fn bench_file(
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
fn input_data<'py>(
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

/// The names of the built-in architectures.
#[pyfunction]
fn zoo_names() -> Vec<&'static str> {
    flopscope_core::zoo::entries()
        .iter()
        .map(|e| e.name)
        .collect()
}

/// The extension module.
#[pymodule]
fn _flopscope(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for (name, cls) in ERRORS.get_or_try_init(py, || make_errors(py))? {
        m.add(*name, cls.bind(py))?;
    }
    m.add_class::<Profile>()?;
    m.add_function(wrap_pyfunction!(profile_spec, m)?)?;
    m.add_function(wrap_pyfunction!(profile_path, m)?)?;
    m.add_function(wrap_pyfunction!(profile_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(zoo_names, m)?)?;
    m.add_class::<Sampler>()?;
    m.add_class::<BenchReport>()?;
    m.add_function(wrap_pyfunction!(bench_report, m)?)?;
    m.add_class::<Comparison>()?;
    m.add_function(wrap_pyfunction!(bench_file, m)?)?;
    m.add_function(wrap_pyfunction!(input_data, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(report_html, m)?)?;
    m.add_function(wrap_pyfunction!(profile_chart, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
