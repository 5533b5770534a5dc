//! What a measurement produced: the `flopscope.bench/1` document (a [`Report`] of
//! [`RunResult`]s with their latency statistics, per-layer times and roofline). Plain data, so
//! that renderers (`flopscope-report`) and bindings read it without linking any runtime;
//! `flopscope-bench` measures and fills it.

use serde::Serialize;

use crate::schema::{LayerRoof, Summary};

/// Schema identifier of the JSON output.
pub const SCHEMA: &str = "flopscope.bench/1";

/// Summary of a set of latencies.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Latency {
    /// Fastest run.
    pub min: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (the figure FPS is computed from).
    pub median: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest run.
    pub max: f64,
    /// Sample standard deviation.
    pub stddev: f64,
}

/// One measured configuration.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// Runtime name.
    pub backend: String,
    /// Runtime version.
    pub backend_version: String,
    /// Batch size.
    pub batch: u64,
    /// Intra-op threads.
    pub threads: usize,
    /// Latency of one inference (ms).
    pub latency_ms: Latency,
    /// Timed runs.
    pub runs: usize,
    /// Runs outside Tukey's fences.
    pub outliers: usize,
    /// Inferences per second: batch / median latency.
    pub fps: f64,
    /// Model load and optimization (ms).
    pub load_ms: f64,
    /// First (cold) inference (ms).
    pub cold_ms: f64,
    /// Every timed run's latency (ms), in the order run: the histogram of reports.
    pub samples_ms: Vec<f64>,
    /// Time per ONNX node, slowest first (with `--per-layer`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerTime>,
    /// The run against the roofline, when a machine was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<RunRoofline>,
}

/// A measured run against the roofline of its thread count.
#[derive(Clone, Debug, Serialize)]
pub struct RunRoofline {
    /// The model under the roof (predicted lower bound, floors, ridge).
    #[serde(flatten)]
    pub model: Summary,
    /// The measured median latency.
    pub measured_ms: f64,
    /// Predicted ÷ measured, in percent: how close the run came to the roofline.
    pub efficiency_pct: f64,
    /// Total FLOPs ÷ measured median.
    pub achieved_gflops: f64,
}

/// Time of one ONNX node, joined with its cost from `profile`.
#[derive(Clone, Debug, Serialize)]
pub struct LayerTime {
    /// ONNX node name (`(other)` for runtime nodes that map to none).
    pub name: String,
    /// Operator type.
    pub op: String,
    /// Mean time per inference (ms).
    pub time_ms: f64,
    /// Share of the summed node times (%).
    pub percent: f64,
    /// MACs of the node.
    pub macs: Option<u64>,
    /// FLOPs of the node.
    pub flops: Option<u64>,
    /// Achieved GFLOP/s: FLOPs / time.
    pub gflops_per_s: Option<f64>,
    /// The layer under the roofline, when a machine was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<LayerRoof>,
    /// Its roofline minimum ÷ its measured time, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efficiency_pct: Option<f64>,
}

/// Everything `flopscope bench` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Path or built-in name.
    pub model: String,
    /// Inputs at batch = the first measured batch.
    pub inputs: Vec<String>,
    /// Whether weights were synthesized (absent from the file, or a built-in model).
    pub synthesized_weights: bool,
    /// One entry per backend × batch × threads.
    pub runs: Vec<RunResult>,
}
