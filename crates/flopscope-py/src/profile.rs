//! The [`Profile`] class and the functions that make one.

use std::path::PathBuf;

use flopscope_core::training::TrainingOptions;
use flopscope_core::{Error, Options, Source};
use flopscope_report::export::{rows, ProfileFormat, RowOptions};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::to_py;

/// A `flopscope.profile/1` profile, held as the Rust value.
#[pyclass(module = "flopscope._flopscope", name = "Profile", frozen)]
pub struct Profile {
    pub(crate) inner: flopscope_core::Profile,
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

    /// The training section (`flopscope.profile/1`'s `training`) as compact JSON, `None`
    /// when the profile was not made with `training`.
    fn training_json(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let t = self.inner.training.as_ref();
        py.detach(|| t.map(serde_json::to_string).transpose())
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The `flopscope.profile/1` document as compact JSON (the data of `render("json")`).
    fn json(&self, py: Python<'_>) -> PyResult<String> {
        let p = &self.inner;
        py.detach(|| serde_json::to_string(p))
            .map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// Layers folded by module path cut at `depth` (the CLI's `--depth`, every row kept):
    /// tuples `(name, op, output shape, params, macs, flops, nodes)`, in order of first
    /// appearance; `macs`/`flops` are `None` when a node of the row has an unknown cost.
    #[allow(clippy::type_complexity)]
    fn modules(
        &self,
        py: Python<'_>,
        depth: usize,
    ) -> Vec<(String, String, String, u64, Option<u64>, Option<u64>, usize)> {
        let o = RowOptions {
            depth: Some(depth),
            top: None,
            all: true,
        };
        let p = &self.inner;
        py.detach(|| {
            rows(p, &o)
                .0
                .into_iter()
                .map(|r| (r.name, r.op, r.output, r.params, r.macs, r.flops, r.nodes))
                .collect()
        })
    }

    /// This profile with formulas in `symbols` fitted from `make(sizes) -> bytes`, which
    /// re-makes the model's trace at the given sizes (one per symbol), and `bindings` (the
    /// sizes this profile was made at) recorded; `attention` as the profile was made with.
    #[pyo3(signature = (symbols, bindings, make, attention="full"))]
    fn with_formulas(
        &self,
        py: Python<'_>,
        symbols: Vec<String>,
        bindings: Vec<(String, u64)>,
        make: Py<PyAny>,
        attention: &str,
    ) -> PyResult<Profile> {
        let mut inner = self.inner.clone();
        inner.bindings.extend(bindings);
        let mut failure: Option<PyErr> = None;
        let attention = flopscope_core::options::Attention::parse(attention);
        let opts = Options {
            attention: attention.map_err(|e| to_py(py, e))?,
            ..Options::default()
        };
        if symbols.is_empty() {
            return Ok(Profile { inner });
        }
        // The fit and every profile it makes run without the GIL; only `make` (the Python
        // trace at each point) takes it back.
        py.detach(|| {
            flopscope_core::profile::fit_formulas(&mut inner, &symbols, |pt| {
                let made = Python::attach(|py| {
                    make.call1(py, (pt.to_vec(),))
                        .and_then(|b| b.extract::<Vec<u8>>(py))
                });
                let bytes = match made {
                    Ok(b) => b,
                    Err(e) => {
                        let msg = e.to_string();
                        failure.get_or_insert(e);
                        return Err(Error::Usage(msg));
                    }
                };
                flopscope_core::profile_bytes(&bytes, &opts)
            })
        });
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(Profile { inner })
    }

    /// This profile with its parameters by role (`param_breakdown`) from a module's named
    /// parameters `(name, elements)`, `experts` routed experts per MoE layer and
    /// `experts_per_token` of them per token (1 and 1 for a dense model).
    fn with_param_breakdown(
        &self,
        py: Python<'_>,
        tensors: Vec<(String, u64)>,
        experts: u64,
        experts_per_token: u64,
    ) -> PyResult<Profile> {
        let named = tensors.iter().map(|(n, k)| (n.as_str(), *k));
        let b = flopscope_core::llm::roles::breakdown(named, experts, experts_per_token)
            .map_err(|e| to_py(py, e))?;
        let mut inner = self.inner.clone();
        inner.param_breakdown = Some(b);
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
    fn html_fragment(&self, py: Python<'_>) -> String {
        let p = &self.inner;
        py.detach(|| flopscope_report::notebook::fragment(p))
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

/// A training step's options from Python, a dict with every key (`flopscope.profile` makes it
/// from its keywords, already type-checked): names parsed as the CLI parses `--optimizer`,
/// `--precision`, `--recompute`; `gpus`, `zero`, `tokens` (an int, or a count like `"300B"`),
/// `peak_gflops` and `mfu` as `--gpus`, `--zero`, `--tokens`, `--peak-gflops`, `--mfu`.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct Step {
    optimizer: String,
    precision: String,
    recompute: String,
    gpus: Option<u64>,
    zero: Option<u8>,
    tokens: Option<Tokens>,
    peak_gflops: Option<f64>,
    mfu: Option<f64>,
}

/// `tokens=`: a whole number, or a count with a K/M/G/B/T suffix.
#[derive(FromPyObject)]
enum Tokens {
    Count(u64),
    Text(String),
}

type TrainingArgs = Option<Step>;

fn training_options(t: TrainingArgs) -> Result<Option<TrainingOptions>, Error> {
    let Some(s) = t else {
        return Ok(None);
    };
    let usage = |m: String| Error::Usage(m);
    let mut o = TrainingOptions {
        optimizer: s.optimizer.parse()?,
        precision: s.precision.parse()?,
        recompute: s.recompute.parse()?,
        ..TrainingOptions::default()
    };
    if let Some(g) = s.gpus {
        o.gpus = g;
    }
    if let Some(z) = s.zero {
        o.zero_stage = z;
    }
    o.tokens = match s.tokens {
        None => None,
        Some(Tokens::Count(0)) => return Err(usage("tokens must be ≥ 1, got 0".into())),
        Some(Tokens::Count(n)) => Some(n),
        Some(Tokens::Text(t)) => {
            Some(flopscope_core::format::parse_count(&t).ok_or_else(|| {
                usage(format!(
                    "tokens expects a count like 300B or 2T (K, M, G/B, T), got '{t}'"
                ))
            })?)
        }
    };
    if let Some(m) = s.mfu {
        if !(m > 0.0 && m <= 1.0) {
            return Err(usage(format!(
                "mfu expects a fraction in (0, 1], like 0.4, got {m}"
            )));
        }
        o.mfu = Some(m);
    }
    if let Some(p) = s.peak_gflops {
        if !(p.is_finite() && p > 0.0) {
            return Err(usage(format!(
                "peak_gflops must be a positive number, got {p}"
            )));
        }
        o.peak_gflops = Some(p);
    }
    o.validate()?;
    Ok(Some(o))
}

/// Options from the Python arguments, refused as the CLI refuses `--dim name=0`; `attention`
/// is `--attention`'s name (`full`, `causal-half`).
fn options(
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
    training: TrainingArgs,
    attention: &str,
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
        training: training_options(training)?,
        attention: flopscope_core::options::Attention::parse(attention)?,
    })
}

/// Runs the analysis without the GIL and wraps the result.
#[allow(clippy::too_many_arguments)] // the keywords of `flopscope.profile`
fn run(
    py: Python<'_>,
    source: Source<'_>,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
    training: TrainingArgs,
    attention: &str,
) -> PyResult<Profile> {
    let opts = options(dims, inputs, classes, training, attention).map_err(|e| to_py(py, e))?;
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

/// Profiles a command-line style argument: a remote model (`hf:ORG/NAME`, an `https://` URL:
/// headers only, see docs/remote.md), an existing path, else a built-in name, else a path
/// (which then fails with the reason), as `flopscope profile SPEC`.
#[pyfunction]
#[pyo3(signature = (spec, dims=vec![], inputs=vec![], classes=None, training=None, attention="full"))]
#[allow(clippy::too_many_arguments)] // the keywords of `flopscope.profile`
pub(crate) fn profile_spec(
    py: Python<'_>,
    spec: &str,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
    training: TrainingArgs,
    attention: &str,
) -> PyResult<Profile> {
    if !flopscope_remote::is_remote(spec) {
        let source = Source::parse(spec);
        return run(py, source, dims, inputs, classes, training, attention);
    }
    let opts = options(dims, inputs, classes, training, attention).map_err(|e| to_py(py, e))?;
    let result = py.detach(|| {
        // What the CLI prints as a warning (a cached revision used offline) goes with the
        // profile's own warnings.
        let mut notes = Vec::new();
        let mut p = flopscope_remote::profile(spec, &opts, &mut |w| notes.push(w))?;
        flopscope_core::check_dims(&opts, &[&p])?;
        p.warnings.extend(notes);
        Ok::<_, Error>(p)
    });
    result
        .map(|inner| Profile { inner })
        .map_err(|e| to_py(py, e))
}

/// Profiles a file or checkpoint folder (ONNX, safetensors, GGUF).
#[pyfunction]
#[pyo3(signature = (path, dims=vec![], inputs=vec![], classes=None, training=None, attention="full"))]
#[allow(clippy::too_many_arguments)] // the keywords of `flopscope.profile`
pub(crate) fn profile_path(
    py: Python<'_>,
    path: PathBuf,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
    training: TrainingArgs,
    attention: &str,
) -> PyResult<Profile> {
    let source = Source::Path(&path);
    run(py, source, dims, inputs, classes, training, attention)
}

/// Profiles a model held in memory (ONNX, or a single GGUF or safetensors file); `name` is
/// what errors and the profile call it. `training` (`(optimizer, precision, recompute)`)
/// fills the profile's training section: for a recorded step (a trace with its backward
/// pass, `flopscope.profile(module, training=True)`) from the recorded backward.
#[pyfunction]
#[pyo3(signature = (data, name, dims=vec![], inputs=vec![], classes=None, training=None, attention="full"))]
#[allow(clippy::too_many_arguments)] // the keywords of `flopscope.profile`
pub(crate) fn profile_bytes(
    py: Python<'_>,
    data: &[u8],
    name: &str,
    dims: Vec<(String, u64)>,
    inputs: Vec<(Option<String>, Vec<u64>)>,
    classes: Option<u64>,
    training: TrainingArgs,
    attention: &str,
) -> PyResult<Profile> {
    let source = Source::Bytes { bytes: data, name };
    run(py, source, dims, inputs, classes, training, attention)
}
/// Checks a training step's options before anything is traced: an unknown name or a bad
/// value is a `UsageError` (the same message the profile would give).
#[pyfunction]
pub(crate) fn check_training(py: Python<'_>, step: Step) -> PyResult<()> {
    training_options(Some(step))
        .map(drop)
        .map_err(|e| to_py(py, e))
}

/// `profile` with a roofline: a device spec (`peak_gflops` and `bandwidth_gbs`), a saved
/// machine file, or this machine, measured once (what it says goes to `sys.stderr`, as the
/// CLI writes it to its standard error) and cached.
#[pyfunction]
#[pyo3(signature = (profile, peak_gflops=None, bandwidth_gbs=None, machine=None))]
pub(crate) fn with_roofline(
    py: Python<'_>,
    profile: PyRef<'_, Profile>,
    peak_gflops: Option<f64>,
    bandwidth_gbs: Option<f64>,
    machine: Option<PathBuf>,
) -> PyResult<Profile> {
    use flopscope_core::machine::Machine;
    let p = &profile.inner;
    py.detach(|| {
        let m = match (peak_gflops, bandwidth_gbs, machine) {
            (Some(pk), Some(bw), _) => Machine::spec(pk, bw)?,
            (_, _, Some(f)) => Machine::from_file(&f)?,
            _ => {
                let (m, unsaved) = flopscope_bench::machine::this_machine(false, &mut || {
                    stderr(
                        "measuring this machine's peak FLOP/s and bandwidth (a few seconds, once)…",
                    )
                })?;
                if let Some(why) = unsaved {
                    stderr(&format!(
                        "warning: the machine measurement was not cached: {why}"
                    ));
                }
                m
            }
        };
        let mut inner = p.clone();
        flopscope_core::roofline::apply(&mut inner, &m)?;
        Ok::<_, Error>(Profile { inner })
    })
    .map_err(|e| to_py(py, e))
}

/// Writes a line to Python's `sys.stderr` (where a notebook shows it), taking the GIL.
pub(crate) fn stderr(line: &str) {
    Python::attach(|py| {
        let _ = py
            .import("sys")
            .and_then(|sys| sys.getattr("stderr"))
            .and_then(|err| err.call_method1("write", (format!("{line}\n"),)));
    })
}

/// The names of the built-in architectures.
#[pyfunction]
pub(crate) fn zoo_names() -> Vec<&'static str> {
    flopscope_core::zoo::entries()
        .iter()
        .map(|e| e.name)
        .collect()
}
