//! The profile schema (`flopscope.profile/1`): [`Profile`] and every type it serialises, in one
//! leaf module. Producers (the ONNX analysis in `profile`, `llm`, `roofline`) fill these types;
//! renderers only read them. Behaviour lives with the producers (inherent `impl` blocks there).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::formula::Polynomial;

/// Schema identifier of the JSON output.
pub const SCHEMA: &str = "flopscope.profile/1";

/// Everything `flopscope profile` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Facts about the model source.
    pub model: ModelInfo,
    /// Graph inputs at the analysed shapes.
    pub inputs: Vec<TensorDesc>,
    /// Graph outputs at the analysed shapes.
    pub outputs: Vec<TensorDesc>,
    /// Sizes used for every symbolic dim.
    pub bindings: BTreeMap<String, u64>,
    /// Whole-model totals.
    pub totals: Totals,
    /// Totals as exact polynomials in the dims left symbolic (absent when all were bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formulas: Option<Formulas>,
    /// Totals per operator type, most FLOPs first.
    pub by_op_type: Vec<OpTypeRow>,
    /// One row per node, in execution order.
    pub layers: Vec<Layer>,
    /// Nodes whose cost is unknown, grouped by operator.
    pub unsupported: Vec<Unsupported>,
    /// Anything the user should know about these numbers.
    pub warnings: Vec<String>,
    /// Language-model checkpoints only: decode cost, KV cache, components (see `crate::llm`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmInfo>,
    /// The roofline of a machine or device spec, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<Summary>,
    /// One training step's compute and memory, when asked for (`--training`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<Training>,
    /// Parameters by role and those one token uses (checkpoints and Hugging Face modules,
    /// whose tensor names say the role; see [`ParamBreakdown`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param_breakdown: Option<ParamBreakdown>,
}

/// Parameters by role, from tensor names (`docs/counting.md`, "Active and total parameters"):
/// the parts a counting convention keeps or leaves out, and the parameters one token uses in
/// a mixture of experts. The roles sum to `total`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ParamBreakdown {
    /// Token (and position) embedding tables.
    pub embeddings: u64,
    /// The output projection (`lm_head`); 0 when it is tied to the embeddings, which then hold
    /// the one shared matrix.
    pub head: u64,
    /// Attention projections (and their biases).
    pub attention: u64,
    /// Normalisation weights (RMSNorm, LayerNorm), attention's inner norms included.
    pub norms: u64,
    /// MLPs every token runs: a dense model's, and the dense layers of a mixture of experts.
    pub dense_mlp: u64,
    /// The routers (gates) that pick each token's experts.
    pub router: u64,
    /// Shared experts: run by every token.
    pub shared_experts: u64,
    /// Routed experts, all of them.
    pub routed_experts: u64,
    /// Anything else.
    pub other: u64,
    /// Routed experts per MoE layer E (1: dense).
    pub experts: u64,
    /// Experts each token is routed to, k.
    pub experts_per_token: u64,
    /// Every parameter.
    pub total: u64,
    /// The parameters one token uses: `total − routed_experts × (E − k) / E`, rounded up.
    pub active: u64,
}

/// One training step (forward, backward, optimizer update) at the profile's sizes. See
/// `docs/training.md` for what each number counts.
#[derive(Clone, Debug, Serialize)]
pub struct Training {
    /// `sgd`, `sgd-momentum` or `adam` (AdamW's state is Adam's).
    pub optimizer: String,
    /// `fp32`, `bf16-mixed` or `fp16-mixed`.
    pub precision: String,
    /// Activation recomputation: `none`, `selective` or `full`.
    pub recompute: String,
    /// Data-parallel GPUs the memory is split over (`memory` is one GPU's).
    pub gpus: u64,
    /// ZeRO stage (0 to 3).
    pub zero_stage: u8,
    /// Parameters that receive gradients.
    pub trainable_params: u64,
    /// Parameters that do not (frozen).
    pub frozen_params: u64,
    /// MACs of the forward pass (recomputation not included).
    pub forward_macs: u64,
    /// MACs of the backward pass: each gradient that is needed (recomputation included).
    pub backward_macs: u64,
    /// `forward_macs + backward_macs`.
    pub macs: u64,
    /// FLOPs of the forward pass.
    pub forward_flops: u64,
    /// FLOPs of the backward pass.
    pub backward_flops: u64,
    /// FLOPs of the optimizer's update of the trainable parameters.
    pub optimizer_flops: u64,
    /// `forward_flops + backward_flops + optimizer_flops`.
    pub flops: u64,
    /// Memory of the step, one GPU's share.
    pub memory: TrainingMemory,
    /// Language models: tokens in one step (batch × sequence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_per_step: Option<u64>,
    /// Language models: training FLOPs per token (`flops / tokens_per_step`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flops_per_token: Option<f64>,
    /// Language models: how long training on `--tokens` takes at the stated utilisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<TrainingTime>,
    /// Nodes whose backward could not be counted (no rule, or shapes unknown): when any,
    /// the backward totals are lower bounds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backward_unknown: Vec<Unsupported>,
}

/// The time a number of training tokens takes on the GPUs at a model-FLOPs utilisation.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TrainingTime {
    /// Tokens trained on.
    pub tokens: u64,
    /// Peak GFLOP/s of one GPU.
    pub peak_gflops: f64,
    /// Fraction of the peak achieved.
    pub mfu: f64,
    /// GPUs.
    pub gpus: u64,
    /// Seconds: tokens × model FLOPs per token (recomputation excluded, as MFU counts them)
    /// / (GPUs × peak × MFU).
    pub seconds: f64,
}

/// Memory of a training step on one GPU.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct TrainingMemory {
    /// Weights as the step computes with them.
    pub weights_bytes: u64,
    /// Gradients of the trainable parameters.
    pub gradients_bytes: u64,
    /// Optimizer state (moments, and fp32 master weights in mixed precision).
    pub optimizer_bytes: u64,
    /// Activations saved by the forward pass for the backward pass.
    pub activations_bytes: u64,
    /// The most held at once during the step.
    pub peak_bytes: u64,
}

/// Facts about the model source.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// Path or built-in name.
    pub source: String,
    /// Exporter that wrote the file.
    pub producer: String,
    /// ONNX IR version (0 for built graphs).
    pub ir_version: i64,
    /// Default-domain opset.
    pub opset: i64,
    /// Number of nodes in the main graph.
    pub nodes: usize,
    /// Whether the weight bytes are available.
    pub weights: WeightsStatus,
    /// Size of the model file.
    pub file_bytes: u64,
}

/// A graph input or output.
#[derive(Clone, Debug, Serialize)]
pub struct TensorDesc {
    /// Value name.
    pub name: String,
    /// Element type.
    pub dtype: String,
    /// Shape analysed (null when unknown).
    pub shape: Option<Vec<u64>>,
    /// Dims as declared in the file (numbers or symbols).
    pub declared: Vec<String>,
    /// Present for a sequence (`seq(tensor)`): then `dtype` and `shape` are its elements'
    /// (the shape they all share; null when they differ).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<SeqDesc>,
}

impl TensorDesc {
    /// The shape as the tables print it: `1x3x224x224`, `?`, and for a sequence
    /// `seq(5)` (elements of shape 5, their number unknown) or `seq(5)×3`.
    pub fn shape_text(&self) -> String {
        let s = crate::format::shape_str(&self.shape);
        match &self.sequence {
            None => s,
            Some(SeqDesc { length: Some(n) }) => format!("seq({s})×{n}"),
            Some(SeqDesc { length: None }) => format!("seq({s})"),
        }
    }
}

/// What is known of a sequence value.
#[derive(Clone, Debug, Serialize)]
pub struct SeqDesc {
    /// Number of elements, when known.
    pub length: Option<u64>,
}

/// Parameter count and bytes of one dtype.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DtypeCount {
    /// Elements.
    pub params: u64,
    /// Bytes.
    pub bytes: u64,
    /// Bits stored per parameter: 8 × bytes / params (4.25 for 4-bit blocks with scales
    /// stored apart is still 4: scales are not parameters).
    pub bits_per_param: f64,
}

/// Whole-model totals. See `docs/counting.md` for each definition.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// Elements of floating-point initializers, each counted once, BatchNorm running stats excluded.
    pub params: u64,
    /// Bytes of those parameters.
    pub param_bytes: u64,
    /// Parameters split by dtype.
    pub params_by_dtype: BTreeMap<String, DtypeCount>,
    /// Of [`Totals::params`], those the framework that traced the model marked as not trained
    /// (`requires_grad=False`); 0 for files, which do not say.
    pub frozen_params: u64,
    /// Quantization scales and zero points (elements): not parameters.
    pub quant_params: u64,
    /// Floating-point state that is not a parameter: BatchNormalization running mean/variance
    /// elements, and a traced framework's buffers.
    pub buffers: u64,
    /// Bytes of every initializer (parameters, buffers, integer constants).
    pub weight_bytes: u64,
    /// Multiply-accumulates.
    pub macs: u64,
    /// Floating-point operations (2 × MACs + everything else).
    pub flops: u64,
    /// Bytes of every node output (all activations written once).
    pub activation_bytes: u64,
    /// Largest total of live activations at any point of a sequential execution.
    pub peak_activation_bytes: u64,
    /// Bytes read by all nodes (inputs, weights included).
    pub bytes_read: u64,
    /// Bytes written by all nodes.
    pub bytes_written: u64,
    /// Nodes in the main graph.
    pub nodes: usize,
    /// Nodes whose cost is unknown: when non-zero, MACs/FLOPs are lower bounds.
    pub nodes_cost_unknown: usize,
}

/// Totals as polynomials in the symbolic dims.
#[derive(Clone, Debug, Serialize)]
pub struct Formulas {
    /// Symbols, in the order points are given.
    pub symbols: Vec<String>,
    /// MACs.
    pub macs: Polynomial,
    /// FLOPs.
    pub flops: Polynomial,
    /// Activation bytes.
    pub activation_bytes: Polynomial,
    /// Bytes read.
    pub bytes_read: Polynomial,
    /// Bytes written.
    pub bytes_written: Polynomial,
    /// Points (off the fitting grid) where each polynomial was checked exact.
    pub checked_at: Vec<Vec<u64>>,
}

/// Totals of one operator type.
#[derive(Clone, Debug, Serialize)]
pub struct OpTypeRow {
    /// Operator (with domain prefix when not the default one).
    pub op: String,
    /// Nodes.
    pub count: usize,
    /// Parameters of those nodes.
    pub params: u64,
    /// MACs.
    pub macs: u64,
    /// FLOPs.
    pub flops: u64,
    /// Output bytes.
    pub activation_bytes: u64,
    /// Nodes of this type whose cost is unknown.
    pub cost_unknown: usize,
}

/// One node (a traced module's: one node with the bookkeeping folded into it).
#[derive(Clone, Debug, Serialize)]
pub struct Layer {
    /// Node name (dynamo exports: module path + node name; a traced module: its innermost
    /// module's `named_modules()` name, `#2`, `#3`… for its further operations).
    pub name: String,
    /// Operator type.
    pub op: String,
    /// Operator domain, when not the default one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Module path, outermost first.
    pub scope: Vec<String>,
    /// Input shapes (null: unknown; omitted inputs skipped).
    pub inputs: Vec<Option<Vec<u64>>>,
    /// Output shapes.
    pub outputs: Vec<Option<Vec<u64>>>,
    /// Parameters first used by this node.
    pub params: u64,
    /// Bytes of those parameters.
    pub param_bytes: u64,
    /// MACs (null when unknown).
    pub macs: Option<u64>,
    /// FLOPs (null when unknown).
    pub flops: Option<u64>,
    /// Bytes of distinct inputs read.
    pub bytes_read: u64,
    /// Bytes of outputs written.
    pub bytes_written: u64,
    /// Bytes of outputs (the activations this node creates).
    pub activation_bytes: u64,
    /// Its place under the roofline, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<LayerRoof>,
    /// A node of a recorded backward pass (`profile(module, training=True)`): not in the
    /// totals, which are the forward pass's; written only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backward: bool,
    /// A traced module's bookkeeping nodes (views, `detach`, constants…) whose counts this
    /// row includes, in execution order ([`crate::fold`]); empty for ONNX files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folded: Vec<Folded>,
}

/// A bookkeeping node folded into a layer's row: no row of its own, its shapes kept here.
#[derive(Clone, Debug, Serialize)]
pub struct Folded {
    /// Node name (unique in the graph, never shown as a row).
    pub name: String,
    /// Operator type (`view`, `detach`, `Constant`…).
    pub op: String,
    /// Operator domain, when not the default one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// Output shapes.
    pub outputs: Vec<Option<Vec<u64>>>,
    /// Whether it ran before the layer it is folded into (a view of a weight the layer reads)
    /// rather than after (a view of the layer's output).
    #[serde(skip)]
    pub before: bool,
}

/// Nodes of one operator whose cost is unknown.
#[derive(Clone, Debug, Serialize)]
pub struct Unsupported {
    /// Operator (with domain prefix when not the default one).
    pub op: String,
    /// How many nodes.
    pub count: usize,
    /// Why: no rule for the operator, or input shapes/values unknown.
    pub reason: String,
    /// Up to five node names.
    pub examples: Vec<String>,
}

/// Whether the weights' bytes are there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsStatus {
    /// Every initializer's bytes are in the model file or an existing external file.
    Present,
    /// Some external data files are missing: analysis runs from declared dims.
    Absent,
    /// The model has no initializers.
    None,
    /// A built-in architecture: weights have dims but no bytes (made at export if asked).
    Builtin,
    /// Traced from a framework (a PyTorch module): weights have dims, their bytes stay there.
    Traced,
}

/// Parameters and bytes of one component (embeddings, attention, MLP, norms, head, other).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Component {
    /// Component name.
    pub component: String,
    /// Tensors in it.
    pub tensors: usize,
    /// Elements.
    pub params: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Elements and bytes per dtype.
    pub by_dtype: BTreeMap<String, DtypeCount>,
}

/// The `llm` section of the profile JSON. See `docs/counting.md`.
#[derive(Clone, Debug, Serialize)]
pub struct LlmInfo {
    /// `safetensors` or `gguf`.
    pub format: &'static str,
    /// Files whose headers were read.
    pub files: Vec<String>,
    /// The architecture, when a config was found.
    pub arch: Option<Arch>,
    /// Tensors in the checkpoint.
    pub tensors: usize,
    /// Parameters and bytes by component.
    pub components: Vec<Component>,
    /// Sum of the elements of every tensor.
    pub total_params: u64,
    /// Parameters one token uses: all but the experts it is not routed to.
    pub active_params: u64,
    /// Parameters of the routed experts, all of them (0 for a dense model; shared experts are
    /// not routed and not counted here).
    pub expert_params: u64,
    /// Bytes of those experts as stored.
    pub expert_bytes: u64,
    /// Bytes of every tensor as stored (quantized types at their real size).
    pub weight_bytes: u64,
    /// Average stored bits per parameter.
    pub bits_per_param: f64,
    /// Batch B, prompt length L (`seq`), and cached tokens P (`past`) before the decoded token.
    pub batch: u64,
    /// Prompt length L.
    pub seq: u64,
    /// Tokens already in the KV cache when one more is decoded.
    pub past: u64,
    /// MACs of the L² attention term of the prefill (QKᵀ and AV), included in `totals.macs`.
    pub prefill_attention_macs: Option<u64>,
    /// MACs to decode one token attending to P + 1 keys, for each sequence of the batch.
    pub decode_macs_per_token: Option<u64>,
    /// FLOPs of that token (2 × MACs + softmax).
    pub decode_flops_per_token: Option<u64>,
    /// Of which the attention over the cache (grows with P).
    pub decode_attention_macs: Option<u64>,
    /// KV-cache bytes per token of context, one sequence.
    pub kv_cache_bytes_per_token: Option<u64>,
    /// KV-cache bytes after the decoded token: per token × B × (P + 1).
    pub kv_cache_bytes: Option<u64>,
    /// The numbers above as formulas in batch, seq and past.
    pub formulas: BTreeMap<&'static str, String>,
}

/// The shape of a decoder-only transformer, as its config states it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Arch {
    /// `model_type` or GGUF `general.architecture` (`llama`, `mistral`, `qwen2`, `mixtral`,
    /// `gpt2`…).
    pub family: String,
    /// Model width d.
    pub hidden: u64,
    /// Decoder blocks.
    pub layers: u64,
    /// Query heads h.
    pub heads: u64,
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: u64,
    /// Width of one head.
    pub head_dim: u64,
    /// MLP width (per expert for mixture-of-experts models).
    pub intermediate: u64,
    /// Vocabulary size V.
    pub vocab: u64,
    /// Experts per MLP (1: dense).
    pub experts: u64,
    /// Experts each token is routed to.
    pub experts_per_token: u64,
    /// Gated (SwiGLU: gate, up, down) MLP rather than two matrices (GPT-2).
    pub gated_mlp: bool,
    /// Bytes per element of the KV cache (from `torch_dtype`; 2 when not given).
    pub kv_bytes: u64,
}

/// Compute- or memory-bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    /// FLOPs / peak is the larger term.
    Compute,
    /// Bytes / bandwidth is the larger term.
    Memory,
}

/// One layer under the roof.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LayerRoof {
    /// FLOPs per byte moved (`null` when the layer moves no data).
    pub intensity: Option<f64>,
    /// Which term bounds it.
    pub bound: Bound,
    /// Its minimum time, milliseconds.
    pub min_ms: f64,
}

/// The whole model under the roof.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Where the roof came from: `measured`, `cache`, `spec` or `file`.
    pub source: String,
    /// The device (CPU model or "device spec").
    pub device: String,
    /// Threads the roof is for (a spec: as given).
    pub threads: usize,
    /// The roof.
    pub peak_gflops: f64,
    /// The roof's bandwidth.
    pub bandwidth_gbs: f64,
    /// FLOPs per byte where the two meet.
    pub ridge: f64,
    /// Sum of every layer's minimum time: the model run layer by layer at the roof.
    pub predicted_ms: f64,
    /// Total FLOPs at peak: no schedule can beat it.
    pub compute_floor_ms: f64,
    /// Weights, inputs and outputs moved once at full bandwidth (activations kept in cache).
    pub memory_floor_ms: f64,
    /// Layers bound by compute (of those with work to do).
    pub compute_bound_layers: usize,
    /// Layers bound by memory (of those with work to do).
    pub memory_bound_layers: usize,
    /// Layers left out because their cost is unknown.
    pub layers_cost_unknown: usize,
    /// For a language-model checkpoint: one decode step under the roof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode: Option<DecodeRoof>,
}

/// One decode step of a language model (a token for each sequence of the batch) under the
/// roof: it reads the weights it uses and the whole KV cache, and does little arithmetic.
#[derive(Clone, Debug, Serialize)]
pub struct DecodeRoof {
    /// Context position P of the decoded token.
    pub past: u64,
    /// Sequences decoded together.
    pub batch: u64,
    /// FLOPs of the step: per-token FLOPs × batch.
    pub flops: u64,
    /// Bytes it must read at least: the weights it uses (the routed share of a mixture; one
    /// row per sequence of an untied embedding table), plus the KV cache.
    pub bytes: u64,
    /// Which term bounds it (memory, at any realistic batch).
    pub bound: Bound,
    /// Its minimum time, milliseconds.
    pub min_ms: f64,
    /// Tokens per second it cannot exceed: batch ÷ minimum step time.
    pub max_tokens_per_s: f64,
}
