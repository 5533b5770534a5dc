//! Serving a language-model checkpoint on a device: time to first token, decode tokens/s, and
//! the memory its weights and KV cache take (docs/predict.md, "Language models"). Built on the
//! checkpoint's stored bytes (GGUF types at their real bytes per weight: nothing is rescaled to
//! a `--dtype`) and the same efficiencies as the per-layer model ([`Efficiency`]).
//!
//! Byte counts that are reported (weights, KV cache, memory, the largest batch and context) are
//! checked integer sums ([`crate::checked`]); times are floating point.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use serde::Serialize;

use super::{Dtype, Efficiency, OpClass, Target};
use crate::checked;
use crate::error::{Error, Result};
use crate::llm::component_size;
use crate::schema::{Arch, LlmInfo};

/// Bytes per logit a runtime hands back (f32 everywhere we know of).
const LOGIT_BYTES: u64 = 4;

/// Expected number of distinct experts that `tokens` tokens touch in one layer when each is
/// routed to `k` of `experts` experts, uniformly: `E · (1 − (1 − k/E)^T)`.
///
/// Why: a uniform top-k choice is one of the C(E, k) subsets, equally likely; C(E−1, k−1) of
/// them hold a given expert, so one token picks it with probability k/E. Tokens are routed
/// independently, so all T miss it with probability (1 − k/E)^T, and by linearity of
/// expectation over the E experts the expected count touched is E · (1 − (1 − k/E)^T). One
/// token touches exactly k; many touch nearly all E. (Real routers are not uniform, which
/// only lowers the count: this is the most a batch reads on average.)
pub fn expected_experts(experts: u64, k: u64, tokens: u64) -> f64 {
    if experts == 0 || tokens == 0 {
        return 0.0;
    }
    let e = experts as f64;
    let miss = 1.0 - (k.min(experts) as f64) / e;
    e * (1.0 - miss.powf(tokens as f64))
}

/// The time of one phase (prefill or decode step).
#[derive(Clone, Debug, Serialize)]
pub struct Phase {
    /// Its time, ms.
    pub time_ms: f64,
    /// Tokens per second: the prompt tokens of the batch ÷ time (prefill), or the batch ÷
    /// time (decode: one token per sequence per step).
    pub tokens_per_s: f64,
    /// FLOPs computed.
    pub flops: f64,
    /// Bytes moved: weights touched, KV cache, and (prefill) activations between kernels.
    pub bytes: u64,
    /// Of which weights.
    pub weight_bytes: u64,
    /// Of which the KV cache (read and written).
    pub kv_bytes: u64,
    /// The compute term, ms.
    pub compute_ms: f64,
    /// The memory term, ms.
    pub memory_ms: f64,
    /// Launch overhead, ms.
    pub overhead_ms: f64,
    /// Kernels launched.
    pub kernels: usize,
    /// What bounds it: `compute`, `memory` or `overhead`.
    pub bound: &'static str,
}

/// What the weights and KV cache take against the device's memory.
#[derive(Clone, Debug, Serialize)]
pub struct LlmMemory {
    /// Weights as stored in the checkpoint.
    pub weight_bytes: u64,
    /// KV cache at (batch, past + 1): per token × batch × (past + 1).
    pub kv_cache_bytes: u64,
    /// One step's f32 logits, batch × vocab × 4: the only activation reserved.
    pub logits_bytes: u64,
    /// Their sum.
    pub total_bytes: u64,
    /// The device's memory (GiB × 2³⁰).
    pub device_bytes: u64,
    /// `total_bytes ≤ device_bytes`.
    pub fits: bool,
    /// The largest batch whose KV cache at past + 1 tokens and logits fit beside the
    /// weights (0: the weights alone do not fit).
    pub max_batch: u64,
    /// The largest context (tokens in the cache, past + 1) that fits at this batch (0: not
    /// even one token; `None`: the model keeps no KV cache).
    pub max_context: Option<u64>,
}

/// A language model served on a device.
#[derive(Clone, Debug, Serialize)]
pub struct Serving {
    /// Sequences decoded together.
    pub batch: u64,
    /// Prompt tokens per sequence.
    pub seq: u64,
    /// Tokens already cached when a token is decoded.
    pub past: u64,
    /// The format the products run in, from the weights as stored (quantized types:
    /// `int8`, as llama.cpp multiplies them against 8-bit activations).
    pub compute_dtype: Dtype,
    /// Its peak used, GFLOP/s (clock factor and threads applied).
    pub peak_gflops: f64,
    /// The memory bandwidth used, GB/s.
    pub bandwidth_gbs: f64,
    /// Expected distinct experts per MoE layer in one decode step (`None`: dense).
    pub experts_touched: Option<f64>,
    /// Kernels per decoder layer.
    pub kernels_per_layer: usize,
    /// Time to first token: the prefill of `seq` tokens for each of `batch` sequences.
    pub prefill: Phase,
    /// One decode step at context `past`.
    pub decode: Phase,
    /// Memory.
    pub memory: LlmMemory,
}

/// One kernel: its class, FLOPs, bytes, and the FLOPs of one independent product in it
/// (what the size term of the efficiency sees: one expert's share of a mixture kernel).
#[derive(Clone, Copy, Debug)]
struct Kernel {
    class: OpClass,
    flops: f64,
    bytes: f64,
    size: f64,
}

/// The checkpoint's weights by part, as stored.
#[derive(Clone, Copy, Debug, Default)]
struct Parts {
    attn: (u64, u64),
    /// The MLP without its routed experts: a dense MLP, or a mixture's router and shared
    /// experts.
    dense_mlp: (u64, u64),
    experts: (u64, u64),
    emb: (u64, u64),
    head: (u64, u64),
    /// Norms and anything else read once per step.
    rest_bytes: u64,
}

impl Parts {
    fn of(l: &LlmInfo) -> Result<Parts> {
        let c = |n: &str| component_size(&l.components, n);
        let (mlp_p, mlp_b) = c("mlp");
        let experts = (l.expert_params, l.expert_bytes);
        let rest = checked::add(c("norms").1, c("other").1, "the checkpoint's norm bytes")?;
        Ok(Parts {
            attn: c("attention"),
            // Experts are part of the MLP component: the differences are never below zero.
            dense_mlp: (
                mlp_p.saturating_sub(experts.0),
                mlp_b.saturating_sub(experts.1),
            ),
            experts,
            emb: c("embeddings"),
            head: c("head"),
            rest_bytes: rest,
        })
    }

    /// Whether the output head reads the embedding table (tied).
    fn tied(&self) -> bool {
        self.head.0 == 0 && self.emb.0 > 0
    }
}

/// Per-layer share of a part (params, bytes) as floats.
fn per_layer(part: (u64, u64), layers: u64) -> (f64, f64) {
    let n = layers.max(1) as f64;
    (part.0 as f64 / n, part.1 as f64 / n)
}

/// The products' format from the weights' dominant stored type.
fn weight_dtype(l: &LlmInfo) -> Dtype {
    let mut best: Option<(&str, u64)> = None;
    for c in l
        .components
        .iter()
        .filter(|c| c.component == "attention" || c.component == "mlp")
    {
        for (name, d) in &c.by_dtype {
            if best.is_none_or(|(_, b)| d.bytes > b) {
                best = Some((name.as_str(), d.bytes));
            }
        }
    }
    match best.map(|(n, _)| n.to_ascii_lowercase()).as_deref() {
        Some("f32" | "float32" | "f64") => Dtype::Fp32,
        Some("bf16") => Dtype::Bf16,
        Some("f8_e4m3" | "f8_e5m2") => Dtype::Fp8,
        Some("f16" | "float16") | None => Dtype::Fp16,
        // Quantized blocks (q8_0, q4_k, iq2_xs…) and int8: multiplied against 8-bit
        // activations, in integer dot products.
        Some(_) => Dtype::Int8,
    }
}

/// The kernels of one forward step: `batch` sequences of `queries` new tokens each attending
/// to `keys` keys; the LM head runs on `head_tokens` tokens (one per sequence: only the last
/// prompt token's logits are needed).
struct Step<'a> {
    a: &'a Arch,
    p: Parts,
    act: f64,
    kv_elem: f64,
}

impl Step<'_> {
    fn kernels(&self, batch: u64, queries: u64, keys: u64) -> (Vec<Kernel>, usize) {
        let a = self.a;
        let t = batch as f64 * queries as f64;
        let (d, act) = (a.hidden as f64, self.act);
        let hd = a.head_dim as f64;
        let (q_w, kv_w) = (a.heads as f64 * hd, a.kv_heads as f64 * hd);
        let mut ks = Vec::new();
        let elementwise = |bytes: f64| Kernel {
            class: OpClass::Elementwise,
            flops: 0.0,
            bytes,
            size: 0.0,
        };
        // A product of `t` tokens by a weight of `params` parameters stored in `bytes`, each
        // token `d_in` wide in and `d_out` wide out.
        let gemm = |params: f64, bytes: f64, d_in: f64, d_out: f64| {
            let flops = 2.0 * t * params;
            Kernel {
                class: OpClass::Gemm,
                flops,
                bytes: bytes + t * (d_in + d_out) * act,
                size: flops,
            }
        };
        let (attn_p, attn_b) = per_layer(self.p.attn, a.layers);
        // Q, K, V, O in proportion to their widths (biases ride along).
        let widths = [d * q_w, d * kv_w, d * kv_w, q_w * d];
        let total_w: f64 = widths.iter().fold(0.0, |s, w| s + w);
        let share = |w: f64| if total_w > 0.0 { w / total_w } else { 0.0 };
        ks.push(elementwise(2.0 * t * d * act)); // attention norm
        for (w, out) in widths[..3].iter().zip([q_w, kv_w, kv_w]) {
            ks.push(gemm(attn_p * share(*w), attn_b * share(*w), d, out));
        }
        ks.push(elementwise(2.0 * t * q_w * act)); // rotary on Q
        ks.push(elementwise(2.0 * t * kv_w * act)); // rotary on K
                                                    // Attention as one kernel: QKᵀ and AV over `keys` keys + softmax, reading Q and the
                                                    // cached K and V, writing its output and this step's K and V.
        let scores = batch as f64 * queries as f64 * keys as f64 * a.heads as f64;
        let attn_flops = scores * (4.0 * a.head_dim as f64 + 5.0);
        let cache = batch as f64 * keys as f64 * 2.0 * kv_w * self.kv_elem;
        ks.push(Kernel {
            class: OpClass::Attention,
            flops: attn_flops,
            bytes: 2.0 * t * q_w * act + cache + t * 2.0 * kv_w * self.kv_elem,
            size: attn_flops,
        });
        ks.push(gemm(
            attn_p * share(widths[3]),
            attn_b * share(widths[3]),
            q_w,
            d,
        ));
        ks.push(elementwise(3.0 * t * d * act)); // residual add
        ks.push(elementwise(2.0 * t * d * act)); // MLP norm
                                                 // Gated: gate and up (d → f), then down (f → d); GPT-2: up, then down.
        let mats: usize = if a.gated_mlp { 3 } else { 2 };
        let (dense_p, dense_b) = per_layer(self.p.dense_mlp, a.layers);
        let moe = a.experts > 1;
        // A dense MLP, or a mixture's shared experts (its dense part beyond the router).
        // `experts`: how many independent products the kernel holds (the size term sees one).
        let mlp = |params: f64, bytes: f64, experts: f64, ks: &mut Vec<Kernel>| {
            let m = mats as f64;
            let width = params / (m * d).max(1.0);
            let mut product = |d_in: f64, d_out: f64| {
                let mut k = gemm(params / m, bytes / m, d_in, d_out);
                k.size /= experts.max(1.0);
                ks.push(k);
            };
            for _ in 1..mats {
                product(d, width);
            }
            product(width, d);
            ks.push(elementwise(3.0 * t * width * act)); // activation (× up)
        };
        if moe {
            // The router (d × E) is in the MLP's dense part; the rest of it is shared experts.
            let router_p = d * a.experts as f64;
            let router_b = if dense_p > 0.0 {
                dense_b * (router_p / dense_p).min(1.0)
            } else {
                0.0
            };
            ks.push(gemm(router_p, router_b, d, a.experts as f64));
            ks.push(elementwise(2.0 * t * a.experts as f64 * act)); // softmax, top-k
            let shared_p = dense_p - router_p;
            if shared_p > 0.0 {
                mlp(shared_p, dense_b - router_b, 1.0, &mut ks);
            }
            // Routed experts: every token runs k of them; the kernel reads the ones touched.
            let (exp_p, exp_b) = per_layer(self.p.experts, a.layers);
            let e = a.experts as f64;
            let k = a.experts_per_token as f64;
            let touched = expected_experts(a.experts, a.experts_per_token, t as u64);
            // Each token runs k experts' products (k · f wide); the weights read are those of
            // the touched experts only.
            mlp(exp_p * k / e, exp_b * touched / e, touched, &mut ks);
            ks.push(elementwise(2.0 * t * d * k * act)); // weighted sum of the k outputs
        } else {
            mlp(dense_p, dense_b, 1.0, &mut ks);
        }
        ks.push(elementwise(3.0 * t * d * act)); // residual add
        let per_layer_kernels = ks.len();
        let mut all = Vec::new();
        for _ in 0..a.layers {
            all.extend_from_slice(&ks);
        }
        // Embedding rows in, final norm, LM head on one token per sequence.
        let row = if self.p.emb.0 > 0 {
            self.p.emb.1 as f64 / a.vocab as f64
        } else {
            0.0
        };
        all.push(Kernel {
            class: OpClass::Data,
            flops: 0.0,
            bytes: t * (row + d * act),
            size: 0.0,
        });
        all.push(elementwise(
            2.0 * batch as f64 * d * act + self.p.rest_bytes as f64,
        ));
        let head = if self.p.tied() {
            self.p.emb
        } else {
            self.p.head
        };
        let b = batch as f64;
        let flops = 2.0 * b * d * a.vocab as f64;
        all.push(Kernel {
            class: OpClass::Gemm,
            flops,
            bytes: head.1 as f64 + b * (d + a.vocab as f64) * act,
            size: flops,
        });
        (all, per_layer_kernels)
    }
}

/// The figures a phase is timed with.
struct Roof<'a> {
    e: &'a Efficiency,
    /// Peaks by class, GFLOP/s.
    gemm: f64,
    attention: f64,
    vector: f64,
    /// GB/s.
    bandwidth: f64,
    /// ms per kernel.
    overhead: f64,
    /// The weights exceed the device's cache: they stream from DRAM every step.
    cold: bool,
}

impl Roof<'_> {
    /// The memory efficiency of a class: above 1 (a calibration's cache-resident
    /// benchmarks) only while the weights fit the cache (docs/predict.md).
    fn mem_eff(&self, c: OpClass) -> f64 {
        let m = self.e.of(c).mem_eff;
        if self.cold {
            m.min(1.0)
        } else {
            m
        }
    }

    fn peak(&self, c: OpClass) -> f64 {
        match c {
            OpClass::Attention => self.attention,
            c if c.is_matrix() => self.gemm,
            _ => self.vector,
        }
    }

    /// Compute ms of a kernel: FLOPs ÷ (peak × eff · F / (F + half)) at its size, or at the
    /// class's full efficiency when `sized` is false.
    fn compute_ms(&self, k: &Kernel, sized: bool) -> f64 {
        if k.flops <= 0.0 {
            return 0.0;
        }
        let o = self.e.of(k.class);
        let eff = if sized {
            o.eff * k.size / (k.size + o.half_gflop * 1e9)
        } else {
            o.eff
        };
        k.flops / (self.peak(k.class) * 1e6 * eff)
    }
}

fn bound(compute: f64, memory: f64, overhead: f64) -> &'static str {
    if overhead > compute.max(memory) {
        "overhead"
    } else if compute >= memory {
        "compute"
    } else {
        "memory"
    }
}

/// How a checkpoint serves on `t`; `scale` turns the device's TFLOP/s into the GFLOP/s this
/// run gets (clock factor × share of cores × 1000, as in [`super::predict`]). `None` when the
/// checkpoint has no architecture (its costs are unknown).
pub fn serving(l: &LlmInfo, t: &Target, scale: f64) -> Result<Option<Serving>> {
    let Some(a) = &l.arch else {
        return Ok(None);
    };
    let d = &t.device;
    let dtype = weight_dtype(l);
    let missing = |what: &str| {
        Error::Usage(format!(
            "device '{}' states no {what} peak (nor a wider format's)",
            d.key
        ))
    };
    let peak = |dt: Dtype| {
        dt.matrix_peak(&d.peak_tflops)
            .map(|p| p * scale)
            .ok_or_else(|| missing(dt.as_str()))
    };
    let kv_dtype = if a.kv_bytes >= 4 {
        Dtype::Fp32
    } else {
        Dtype::Fp16
    };
    let roof = Roof {
        e: &t.efficiency,
        gemm: peak(dtype)?,
        attention: peak(kv_dtype)?,
        vector: peak(Dtype::Fp32)?,
        bandwidth: d.memory_bandwidth_gbs,
        overhead: t.efficiency.overhead_us / 1e3,
        cold: l.weight_bytes as f64 > d.l2_mb.unwrap_or(0.0) * 1_048_576.0,
    };
    let parts = Parts::of(l)?;
    // llama.cpp keeps activations in f32 between kernels; other runtimes in the checkpoint's
    // own float type (that of the KV cache).
    let act = if l.format == "gguf" {
        4.0
    } else {
        a.kv_bytes as f64
    };
    let step = Step {
        a,
        p: parts,
        act,
        kv_elem: a.kv_bytes as f64,
    };
    let (batch, seq, past) = (l.batch.max(1), l.seq.max(1), l.past);
    let prefill = prefill(&step, &roof, batch, seq)?;
    let (decode, experts_touched) = decode(&step, &roof, batch, past)?;
    let (_, kernels_per_layer) = step.kernels(1, 1, 1);
    Ok(Some(Serving {
        batch,
        seq,
        past,
        compute_dtype: dtype,
        peak_gflops: roof.gemm,
        bandwidth_gbs: roof.bandwidth,
        experts_touched,
        kernels_per_layer,
        prefill,
        decode,
        memory: memory(l, a, d.memory_gb, batch, past)?,
    }))
}

/// The prefill: every kernel at its own roofline (`max(compute at its size, bytes ÷
/// (bandwidth × mem_eff))` + overhead), summed; weights are read once.
fn prefill(s: &Step, r: &Roof, batch: u64, seq: u64) -> Result<Phase> {
    let (ks, _) = s.kernels(batch, seq, seq);
    let (mut compute, mut memory, mut time, mut flops, mut bytes) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for k in &ks {
        let c = r.compute_ms(k, true);
        let m = k.bytes / (r.bandwidth * 1e6 * r.mem_eff(k.class));
        compute += c;
        memory += m;
        time += c.max(m) + r.overhead;
        flops += k.flops;
        bytes += k.bytes;
    }
    let overhead = r.overhead * ks.len() as f64;
    let tokens = batch as f64 * seq as f64;
    if bytes.is_nan() || bytes >= u64::MAX as f64 {
        return Err(checked::overflow("the prefill's bytes"));
    }
    let kv = checked::product(
        &[s.a.kv_bytes_per_token()?, batch, seq],
        "the prefill's KV bytes",
    )?;
    let tokens_n = checked::mul(batch, seq, "the prefill's tokens")?;
    let weight_bytes = step_weight_bytes(s, tokens_n)?;
    Ok(Phase {
        time_ms: time,
        tokens_per_s: if time > 0.0 { tokens * 1e3 / time } else { 0.0 },
        flops,
        bytes: bytes.round() as u64,
        weight_bytes,
        kv_bytes: kv,
        compute_ms: compute,
        memory_ms: memory,
        overhead_ms: overhead,
        kernels: ks.len(),
        bound: bound(compute, memory, overhead),
    })
}

/// The weights a step of `tokens` tokens reads: all but the routed
/// experts, the touched experts' share of those, and one embedding row per token (the whole
/// table when the head is tied to it).
fn step_weight_bytes(s: &Step, tokens: u64) -> Result<u64> {
    let (p, a) = (&s.p, s.a);
    let what = "the bytes a step reads";
    let head = if p.tied() { p.emb.1 } else { p.head.1 };
    let rows = if p.tied() || a.vocab == 0 {
        0
    } else {
        checked::mul(
            p.emb.1.checked_div(a.vocab).unwrap_or(0),
            tokens.min(a.vocab),
            what,
        )?
    };
    let experts = if a.experts > 1 {
        let frac = expected_experts(a.experts, a.experts_per_token, tokens) / a.experts as f64;
        (p.experts.1 as f64 * frac).round() as u64
    } else {
        p.experts.1
    };
    checked::sum(
        [p.attn.1, p.dense_mlp.1, p.rest_bytes, head, rows, experts],
        what,
    )
}

/// One decode step: `max(Σ compute, (weights touched + KV cache) ÷ (bandwidth × gemm
/// mem_eff)) + overhead × kernels`; compute at each class's full efficiency (a decode step's
/// products are thin but wide: they are short of bytes, not of parallel work).
fn decode(s: &Step, r: &Roof, batch: u64, past: u64) -> Result<(Phase, Option<f64>)> {
    let keys = checked::add(past, 1, "the decode keys")?;
    let (ks, _) = s.kernels(batch, 1, keys);
    let compute: f64 = ks.iter().fold(0.0, |acc, k| acc + r.compute_ms(k, false));
    let flops: f64 = ks.iter().fold(0.0, |acc, k| acc + k.flops);
    let weight_bytes = step_weight_bytes(s, batch)?;
    let kv = checked::product(
        &[s.a.kv_bytes_per_token()?, batch, keys],
        "the decode step's KV bytes",
    )?;
    let bytes = checked::add(weight_bytes, kv, "the bytes a decode step reads")?;
    let memory = bytes as f64 / (r.bandwidth * 1e6 * r.mem_eff(OpClass::Gemm));
    let overhead = r.overhead * ks.len() as f64;
    let time = compute.max(memory) + overhead;
    let touched =
        (s.a.experts > 1).then(|| expected_experts(s.a.experts, s.a.experts_per_token, batch));
    Ok((
        Phase {
            time_ms: time,
            tokens_per_s: if time > 0.0 {
                batch as f64 * 1e3 / time
            } else {
                0.0
            },
            flops,
            bytes,
            weight_bytes,
            kv_bytes: kv,
            compute_ms: compute,
            memory_ms: memory,
            overhead_ms: overhead,
            kernels: ks.len(),
            bound: bound(compute, memory, overhead),
        },
        touched,
    ))
}

/// Weights + KV cache at (batch, past + 1) + one step's logits against the device's memory,
/// and the largest batch and context that fit.
fn memory(l: &LlmInfo, a: &Arch, memory_gb: f64, batch: u64, past: u64) -> Result<LlmMemory> {
    let device_bytes = (memory_gb * 1_073_741_824.0).round() as u64;
    let ctx = checked::add(past, 1, "the context")?;
    let kvt = a.kv_bytes_per_token()?;
    let logits_per_seq = checked::mul(a.vocab, LOGIT_BYTES, "the logits' bytes")?;
    let kv = checked::product(&[kvt, batch, ctx], "the KV cache bytes")?;
    let logits = checked::mul(logits_per_seq, batch, "the logits' bytes")?;
    let total = checked::sum([l.weight_bytes, kv, logits], "the memory a run needs")?;
    let free = device_bytes.checked_sub(l.weight_bytes);
    // Each sequence adds its KV cache at `ctx` tokens and its logits.
    let per_seq = checked::add(
        checked::mul(kvt, ctx, "a sequence's KV cache bytes")?,
        logits_per_seq,
        "a sequence's bytes",
    )?;
    let max_batch = free.and_then(|f| f.checked_div(per_seq)).unwrap_or(0);
    let max_context = if kvt == 0 {
        None
    } else {
        let left = free.and_then(|f| f.checked_sub(logits));
        let per_token = checked::mul(kvt, batch, "the KV cache bytes per token")?;
        Some(left.and_then(|f| f.checked_div(per_token)).unwrap_or(0))
    };
    Ok(LlmMemory {
        weight_bytes: l.weight_bytes,
        kv_cache_bytes: kv,
        logits_bytes: logits,
        total_bytes: total,
        device_bytes,
        fits: total <= device_bytes,
        max_batch,
        max_context,
    })
}

#[cfg(test)]
#[path = "llm_tests.rs"]
mod tests;
