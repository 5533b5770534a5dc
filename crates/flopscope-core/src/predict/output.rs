//! What a prediction says (`flopscope.predict/1`): the whole model, its memory, and every layer.

use serde::Serialize;

use super::{Backend, Dtype, ErrorBand, OpClass};
use crate::device::DeviceClass;

/// One layer's predicted time.
#[derive(Clone, Debug, Serialize)]
pub struct LayerTime {
    /// Node name.
    pub name: String,
    /// Operator.
    pub op: String,
    /// Kernel class.
    pub class: OpClass,
    /// Runs inside the kernel before it.
    pub fused: bool,
    /// FLOPs (0 when unknown).
    pub flops: u64,
    /// Bytes moved at the predicted dtype.
    pub bytes: f64,
    /// Its time, ms.
    pub time_ms: f64,
    /// The compute term, ms.
    pub compute_ms: f64,
    /// The memory term, ms (0 when fused).
    pub memory_ms: f64,
    /// The launch overhead, ms (0 when fused or a view).
    pub overhead_ms: f64,
    /// The copy that makes a strided input contiguous, ms, launch included (0: none).
    pub copy_ms: f64,
    /// What bounds it: `compute`, `memory`, `overhead`, `fused` or `none`.
    pub bound: &'static str,
    /// Its share of the model's time.
    pub share: f64,
}

/// The device a prediction is for.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceRef {
    /// Catalog key.
    pub key: String,
    /// Marketing name.
    pub name: String,
    /// Class.
    pub class: DeviceClass,
    /// Power mode, when one was selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The parameters' profile: `gpu`, `cpu` or `calibrated`.
    pub profile: String,
}

/// Memory a run needs against what the device has.
#[derive(Clone, Debug, Serialize)]
pub struct Memory {
    /// Weights at the predicted dtype.
    pub weight_bytes: u64,
    /// The largest total of live activations, at the predicted dtype.
    pub activation_bytes: u64,
    /// Their sum.
    pub total_bytes: u64,
    /// The device's memory (GiB × 2³⁰).
    pub device_bytes: u64,
}

/// Sums over the model's layers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TimeTotals {
    /// Sum of the compute terms, ms.
    pub compute_ms: f64,
    /// Sum of the memory terms, ms.
    pub memory_ms: f64,
    /// Sum of the launch overheads, ms.
    pub overhead_ms: f64,
    /// Sum of the copies of strided inputs, ms.
    pub copy_ms: f64,
    /// Kernels launched (layers neither views nor fused).
    pub kernels: usize,
    /// Layers fused into the kernel before them.
    pub fused: usize,
    /// Layers whose FLOPs are unknown (charged for their bytes only).
    pub cost_unknown: usize,
}

/// Time by kernel class.
#[derive(Clone, Debug, Serialize)]
pub struct ClassTime {
    /// The class.
    pub class: OpClass,
    /// Layers of it (fused ones included).
    pub layers: usize,
    /// Their time, ms.
    pub time_ms: f64,
    /// Share of the model's time.
    pub share: f64,
}

/// A model's predicted time on a device (`flopscope.predict/1`).
#[derive(Clone, Debug, Serialize)]
pub struct Prediction {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The model's name.
    pub model: String,
    /// The device.
    pub device: DeviceRef,
    /// The runtime it is predicted for.
    pub backend: Backend,
    /// The number format.
    pub dtype: Dtype,
    /// Samples per call (the first input's leading dim).
    pub batch: u64,
    /// Threads (CPU devices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Sustained clock ÷ boost clock from the power model.
    pub clock_factor: f64,
    /// The products' peak used, GFLOP/s (clock factor and threads applied).
    pub peak_gflops: f64,
    /// The memory bandwidth used, GB/s.
    pub bandwidth_gbs: f64,
    /// One call, ms (a language model: the time to first token).
    pub latency_ms: f64,
    /// Samples per second: batch ÷ latency (a language model: decode tokens per second).
    pub throughput_per_s: f64,
    /// Whether weights and peak activations (a language model: weights, KV cache and logits)
    /// fit the device's memory.
    pub fits: bool,
    /// The memory behind `fits`.
    pub memory: Memory,
    /// The error measured for this device class and dtype (`None`: never measured).
    pub error_band: Option<ErrorBand>,
    /// Sums.
    pub totals: TimeTotals,
    /// Time by kernel class.
    pub by_class: Vec<ClassTime>,
    /// Every layer.
    pub layers: Vec<LayerTime>,
    /// A language-model checkpoint served: time to first token, decode tokens/s, KV cache
    /// (`None` for other models, and for checkpoints without an architecture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<super::llm::Serving>,
}
