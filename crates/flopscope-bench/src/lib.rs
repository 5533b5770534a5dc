//! Measurement: real inference on real runtimes, with warm-up, many timed runs and robust
//! statistics (`flopscope bench`), and the measurement of this machine's peak ([`machine`]).
//! Runtimes live behind [`Runtime`]; statistics apart from them, in [`stats`].

use std::path::{Path, PathBuf};
use std::time::Instant;

use flopscope_core::error::{Error, Result};
use flopscope_core::graph::DType;
use flopscope_core::schema::WeightsStatus;
use flopscope_core::Options;

pub mod calibrate;
pub mod machine;
pub mod onnxruntime;
pub mod stats;
pub mod target;
pub mod tract;

// The result types live in the core, so that renderers need no runtime; re-exported here
// because this crate is what produces them.
pub use flopscope_core::measure::{LayerTime, Report, RunResult, RunRoofline, SCHEMA};

/// A graph input at the measured shape.
#[derive(Clone, Debug)]
pub struct InputSpec {
    /// Input name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Concrete shape.
    pub shape: Vec<u64>,
}

/// Random input values of one input.
pub enum InputData {
    /// Floats in [−1, 1).
    F32(Vec<f32>),
    /// Token ids in [0, 1000).
    I64(Vec<i64>),
    /// Token ids in [0, 1000).
    I32(Vec<i32>),
    /// All true.
    Bool(Vec<bool>),
}

/// Deterministic random values for `spec` (xorshift from `seed`): floats in [−1, 1), integer
/// inputs as token ids in [0, 1000), a sane range for any vocabulary.
pub fn input_data(spec: &InputSpec, seed: u64) -> Result<InputData> {
    let n = flopscope_core::ops::numel(&spec.shape)
        .map_err(|_| Error::Usage(format!("input '{}' is too large", spec.name)))?
        as usize;
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Even with --force, an input that cannot be allocated is an error, not an abort.
    fn fill<T>(n: usize, name: &str, f: impl FnMut() -> T) -> Result<Vec<T>> {
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| {
            Error::Resources(format!("cannot allocate {n} elements for input '{name}'"))
        })?;
        v.extend(std::iter::repeat_with(f).take(n));
        Ok(v)
    }
    let name = spec.name.as_str();
    Ok(match spec.dtype {
        DType::F32 => InputData::F32(fill(n, name, || (next() % 2000) as f32 / 1000.0 - 1.0)?),
        DType::I64 => InputData::I64(fill(n, name, || (next() % 1000) as i64)?),
        DType::I32 => InputData::I32(fill(n, name, || (next() % 1000) as i32)?),
        DType::Bool => InputData::Bool(fill(n, name, || true)?),
        d => {
            return Err(Error::Runtime(format!(
                "no random inputs of type {d} (input '{}')",
                spec.name
            )))
        }
    })
}

/// An inference runtime.
pub trait Runtime {
    /// Short name (`tract`).
    fn name(&self) -> &'static str;
    /// Version of the runtime library.
    fn version(&self) -> String;
    /// Intra-op threads it runs with.
    fn threads(&self) -> usize {
        1
    }
    /// Loads `model` for inputs of these shapes, with random inputs made from `seed`.
    fn load(&self, model: &Path, inputs: &[InputSpec], seed: u64) -> Result<Box<dyn Session>>;
}

/// A loaded model ready to run on its inputs.
pub trait Session {
    /// One inference.
    fn run(&mut self) -> Result<()>;
    /// One inference, returning every output converted to `f32` and flattened (to compare
    /// runtimes with the framework the model came from).
    fn outputs(&mut self) -> Result<Vec<Vec<f32>>> {
        Err(Error::Runtime(
            "this runtime does not return outputs".into(),
        ))
    }
    /// `runs` inferences timing each runtime node: per run, (runtime node name, ms) in
    /// execution order (or one entry holding the per-run means).
    fn profile_layers(&mut self, runs: usize) -> Result<Vec<Vec<(String, f64)>>> {
        let _ = runs;
        Err(Error::Runtime(
            "per-layer timing is not available for this runtime".into(),
        ))
    }
}

/// How long to warm up before timing.
#[derive(Clone, Copy, Debug)]
pub enum Warmup {
    /// This many runs.
    Runs(usize),
    /// Runs for this many seconds.
    Seconds(f64),
}

/// What to measure and when to stop.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Dims, input shapes, classes (as for `profile`).
    pub model: Options,
    /// Batch sizes to sweep (the `batch` dim); empty: as `model` binds it (default 1).
    pub batches: Vec<u64>,
    /// Warm-up.
    pub warmup: Warmup,
    /// Stop after this many timed runs.
    pub runs: Option<usize>,
    /// Stop after this many seconds of timed runs.
    pub time: Option<f64>,
    /// Stop once the 95% confidence interval of the median is within this fraction of it.
    pub precision: Option<f64>,
    /// Seed of random weights and inputs.
    pub seed: u64,
    /// Also time each layer (this many profiled runs, after the timed ones; 0: off).
    pub per_layer_runs: usize,
    /// Run even when the estimated memory exceeds what the machine has.
    pub force: bool,
    /// The machine or device spec whose roofline each run is compared with.
    pub machine: Option<flopscope_core::machine::Machine>,
}

/// Refuses a configuration whose weights and peak activations alone exceed `available`: the
/// runtime would be killed, or swap the machine to a halt, long before one run finished.
fn check_memory(p: &flopscope_core::Profile, batch: u64, available: Option<u64>) -> Result<()> {
    let t = &p.totals;
    let need = t.weight_bytes.saturating_add(t.peak_activation_bytes);
    match available {
        Some(have) if need > have => Err(Error::Resources(format!(
            "at batch {batch} the model needs at least {} (weights {} + peak activations {}), more memory than this machine has ({}); --force runs it anyway",
            flopscope_core::format::human_bytes(need),
            flopscope_core::format::human_bytes(t.weight_bytes),
            flopscope_core::format::human_bytes(t.peak_activation_bytes),
            flopscope_core::format::human_bytes(have)
        ))),
        _ => Ok(()),
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            model: Options::default(),
            batches: vec![],
            warmup: Warmup::Runs(10),
            runs: None,
            time: None,
            precision: None,
            seed: 0,
            per_layer_runs: 0,
            force: false,
            machine: None,
        }
    }
}

/// Attributes runtime node times to ONNX nodes: a runtime node named `X` or `X.suffix`
/// (tract splits `conv.im2col`, `conv.matmatmul`) belongs to ONNX node `X`.
fn layer_times(
    profile: &flopscope_core::Profile,
    samples: &[Vec<(String, f64)>],
    roof: Option<flopscope_core::machine::Roof>,
) -> Vec<LayerTime> {
    use std::collections::HashMap;
    let by_name: HashMap<&str, &flopscope_core::schema::Layer> = profile
        .layers
        .iter()
        .map(|l| (l.name.as_str(), l))
        .collect();
    let mut acc: HashMap<String, f64> = HashMap::new();
    for run in samples {
        for (name, ms) in run {
            let mut key = name.as_str();
            let owner = loop {
                if by_name.contains_key(key) {
                    break key;
                }
                match key.rfind('.') {
                    Some(i) => key = &key[..i],
                    None => break "(other)",
                }
            };
            *acc.entry(owner.to_string()).or_default() += ms;
        }
    }
    let n = samples.len().max(1) as f64;
    let total: f64 = acc.values().sum::<f64>() / n;
    let mut rows: Vec<LayerTime> = acc
        .into_iter()
        .map(|(name, sum)| {
            let t = sum / n;
            let l = by_name.get(name.as_str());
            let flops = l.and_then(|l| l.flops);
            let under = l
                .zip(roof)
                .and_then(|(l, r)| flopscope_core::roofline::layer(l, r));
            LayerTime {
                efficiency_pct: under.filter(|_| t > 0.0).map(|u| u.min_ms / t * 100.0),
                roofline: under,
                op: l.map(|l| l.op.clone()).unwrap_or_default(),
                time_ms: t,
                percent: if total > 0.0 { t / total * 100.0 } else { 0.0 },
                macs: l.and_then(|l| l.macs),
                gflops_per_s: flops
                    .filter(|_| t > 0.0)
                    .map(|f| f as f64 / (t * 1e-3) / 1e9),
                flops,
                name,
            }
        })
        .collect();
    rows.sort_by(|a, b| b.time_ms.total_cmp(&a.time_ms));
    rows
}

/// Progress of a measurement, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub enum Progress {
    /// Loading a configuration.
    Loading {
        /// Batch size.
        batch: u64,
    },
    /// A timed run finished.
    Run {
        /// Runs so far.
        done: usize,
        /// Target count, when one is set.
        target: Option<usize>,
    },
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn timed_runs(
    s: &mut dyn Session,
    o: &BenchOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<f64>> {
    match o.warmup {
        Warmup::Runs(n) => (0..n).try_for_each(|_| s.run())?,
        Warmup::Seconds(t) => {
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < t {
                s.run()?;
            }
        }
    }
    let mut stop = Stopper::new(o.runs, o.time, o.precision);
    loop {
        let t = Instant::now();
        s.run()?;
        let done = stop.push(t.elapsed().as_secs_f64() * 1e3);
        progress(Progress::Run {
            done: stop.samples().len(),
            target: stop.max_runs,
        });
        if done {
            break;
        }
    }
    Ok(stop.into_samples())
}

/// When to stop timing: after `runs` runs, after `time` seconds (at least 10 runs), or once
/// the 95% confidence interval of the median is within `precision` of it. With none given:
/// at least 10 runs and 3 s, or 1,000 runs, whichever ends first. The same rule serves
/// `flopscope bench` and the Python package's `bench`, which times the runs itself (CUDA
/// events) and pushes each latency here.
#[derive(Clone, Debug)]
pub struct Stopper {
    max_runs: Option<usize>,
    max_time: Option<f64>,
    precision: Option<f64>,
    start: Instant,
    times: Vec<f64>,
}

impl Stopper {
    /// Starts the clock of `time`.
    pub fn new(runs: Option<usize>, time: Option<f64>, precision: Option<f64>) -> Stopper {
        let (max_runs, max_time) = match (runs, time, precision) {
            (None, None, None) => (Some(1000), Some(3.0)),
            (r, t, _) => (r, t),
        };
        Stopper {
            max_runs,
            max_time,
            precision,
            start: Instant::now(),
            times: Vec::new(),
        }
    }

    /// Records one run's latency (ms); `true` when timing should stop.
    pub fn push(&mut self, ms: f64) -> bool {
        self.times.push(ms);
        let n = self.times.len();
        if self.max_runs.is_some_and(|m| n >= m)
            || (n >= 10
                && self
                    .max_time
                    .is_some_and(|t| self.start.elapsed().as_secs_f64() >= t))
        {
            return true;
        }
        if let Some(p) = self.precision {
            if n >= 10 && n % 5 == 0 && stats::median_ci_relative(&self.times) <= p {
                return true;
            }
            if self.max_runs.is_none() && self.max_time.is_none() && n >= 100_000 {
                return true;
            }
        }
        false
    }

    /// The latencies so far, in the order run.
    pub fn samples(&self) -> &[f64] {
        &self.times
    }

    /// The latencies, in the order run.
    pub fn into_samples(self) -> Vec<f64> {
        self.times
    }
}

/// One run's result from its latencies (ms): the statistics of `flopscope bench`.
#[allow(clippy::too_many_arguments)]
pub fn run_result(
    backend: &str,
    version: &str,
    batch: u64,
    threads: usize,
    samples: Vec<f64>,
    load_ms: f64,
    cold_ms: f64,
) -> Option<RunResult> {
    if samples.is_empty() {
        return None;
    }
    let latency = stats::summarize(&samples);
    Some(RunResult {
        backend: backend.into(),
        backend_version: version.into(),
        batch,
        threads,
        fps: batch as f64 * 1e3 / latency.median,
        outliers: stats::outliers(&samples),
        runs: samples.len(),
        latency_ms: latency,
        samples_ms: samples,
        load_ms,
        cold_ms,
        layers: vec![],
        roofline: None,
    })
}

/// Measures `spec` (a file or built-in name) on each runtime at each batch size.
pub fn bench(
    spec: &str,
    runtimes: &[&dyn Runtime],
    o: &BenchOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report> {
    let batches = if o.batches.is_empty() {
        vec![0]
    } else {
        o.batches.clone()
    };
    let (graph, info) = flopscope_core::open_source(spec, &o.model)?;
    let synthesized = matches!(
        info.weights,
        WeightsStatus::Absent | WeightsStatus::Builtin | WeightsStatus::Traced
    );
    // Runtimes need weights: write a copy with seeded random ones when the source has none.
    let tmp = TempDir(std::env::temp_dir().join(format!("flopscope-bench-{}", std::process::id())));
    let model_path = if synthesized {
        std::fs::create_dir_all(&tmp.0).map_err(|source| Error::Write {
            path: tmp.0.clone(),
            source,
        })?;
        let p = tmp.0.join("model.onnx");
        flopscope_core::write::write_onnx(
            &graph,
            &p,
            flopscope_core::write::Weights::Random(o.seed),
        )?;
        p
    } else {
        PathBuf::from(spec)
    };
    let mut report = Report {
        schema: SCHEMA,
        model: spec.to_string(),
        inputs: vec![],
        synthesized_weights: synthesized,
        runs: vec![],
    };
    for batch in batches {
        let mut mo = o.model.clone();
        if batch > 0 {
            mo.dims.retain(|(k, _)| k != "batch");
            mo.dims.push(("batch".into(), batch));
        }
        let p = flopscope_core::profile_graph(&graph, info.clone(), &mo)?;
        if !o.force {
            check_memory(
                &p,
                p.bindings.get("batch").copied().unwrap_or(1),
                crate::machine::machine_memory(),
            )?;
        }
        let inputs: Vec<InputSpec> = p
            .inputs
            .iter()
            .map(|i| {
                Ok(InputSpec {
                    name: i.name.clone(),
                    dtype: graph
                        .inputs
                        .iter()
                        .find(|&&v| graph.values[v].name == i.name)
                        .and_then(|&v| graph.values[v].dtype)
                        .unwrap_or(DType::F32),
                    shape: i.shape.clone().ok_or_else(|| {
                        Error::Usage(format!(
                            "input '{}' has no known shape: give one with --input",
                            i.name
                        ))
                    })?,
                })
            })
            .collect::<Result<_>>()?;
        let batch = p.bindings.get("batch").copied().unwrap_or_else(|| {
            inputs
                .first()
                .and_then(|i| i.shape.first().copied())
                .unwrap_or(1)
        });
        if report.inputs.is_empty() {
            report.inputs = inputs
                .iter()
                .map(|i| format!("{} {} {:?}", i.name, i.dtype, i.shape))
                .collect();
        }
        for runtime in runtimes {
            progress(Progress::Loading { batch });
            let t = Instant::now();
            let mut session = runtime.load(&model_path, &inputs, o.seed)?;
            let load_ms = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            session.run()?;
            let cold_ms = t.elapsed().as_secs_f64() * 1e3;
            let times = timed_runs(session.as_mut(), o, progress)?;
            let latency = stats::summarize(&times);
            let roof = o.machine.as_ref().map(|m| m.roof(runtime.threads()));
            let layers = if o.per_layer_runs > 0 {
                let samples = session.profile_layers(o.per_layer_runs)?;
                layer_times(&p, &samples, roof)
            } else {
                vec![]
            };
            let roofline = match &o.machine {
                Some(m) => {
                    let model = flopscope_core::roofline::summary(&p, m, runtime.threads())?;
                    Some(RunRoofline {
                        efficiency_pct: model.predicted_ms / latency.median * 100.0,
                        achieved_gflops: p.totals.flops as f64 / (latency.median * 1e6),
                        measured_ms: latency.median,
                        model,
                    })
                }
                None => None,
            };
            report.runs.push(RunResult {
                backend: runtime.name().into(),
                backend_version: runtime.version(),
                batch,
                threads: runtime.threads(),
                fps: batch as f64 * 1e3 / latency.median,
                outliers: stats::outliers(&times),
                runs: times.len(),
                latency_ms: latency,
                samples_ms: times,
                load_ms,
                cold_ms,
                layers,
                roofline,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_check_compares_weights_plus_peak_activations() {
        let mut p =
            flopscope_core::profile_source("squeezenet1_1", &flopscope_core::Options::default())
                .unwrap();
        p.totals.weight_bytes = 600;
        p.totals.peak_activation_bytes = 400;
        assert!(check_memory(&p, 1, Some(1000)).is_ok());
        let e = check_memory(&p, 1, Some(999)).unwrap_err();
        assert!(matches!(e, Error::Resources(_)), "{e}");
        assert!(
            e.to_string()
                .contains("1000 B (weights 600 B + peak activations 400 B)"),
            "{e}"
        );
        assert!(check_memory(&p, 1, None).is_ok());
    }
}
