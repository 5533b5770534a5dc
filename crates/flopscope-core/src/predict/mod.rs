//! How long a model takes on a device it may not run on: the roofline of every layer's exact
//! FLOPs and bytes, times efficiencies that depend on the kind of kernel, its size and the
//! dtype, plus a launch overhead per kernel, with what the runtime fuses charged as fused
//! (docs/predict.md). The efficiencies come from measured tables ([`Params`]) or from a
//! calibration of the device itself ([`Calibration`]).

mod classify;
pub mod llm;
mod output;
#[cfg(test)]
mod tests;

pub use crate::efficiency::{Calibration, Efficiency, ErrorBand, OpClass, OpEfficiency, Params};
pub use classify::{classify, Backend};
pub use llm::{expected_experts, LlmMemory, Phase, Serving};
pub use output::{ClassTime, DeviceRef, LayerTime, Memory, Prediction, TimeTotals};

use serde::Serialize;

use crate::device::{Catalog, Device, DeviceClass};
use crate::error::{Error, Result};
use crate::schema::{Layer, Profile};

/// Schema tag of a prediction.
pub const SCHEMA: &str = "flopscope.predict/1";

/// The number format a prediction is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit float, no tensor cores.
    Fp32,
    /// TF32 tensor math for products, fp32 storage.
    Tf32,
    /// fp16 storage and products (fp32 accumulate).
    Fp16,
    /// bf16 storage and products.
    Bf16,
    /// PyTorch autocast: products on fp16 tensor cores, tensors mostly fp16.
    Amp,
    /// 8-bit integer products and storage.
    Int8,
    /// 8-bit float products and storage.
    Fp8,
}

impl Dtype {
    /// Every dtype by name.
    pub const ALL: [Dtype; 7] = [
        Dtype::Fp32,
        Dtype::Tf32,
        Dtype::Fp16,
        Dtype::Bf16,
        Dtype::Amp,
        Dtype::Int8,
        Dtype::Fp8,
    ];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dtype::Fp32 => "fp32",
            Dtype::Tf32 => "tf32",
            Dtype::Fp16 => "fp16",
            Dtype::Bf16 => "bf16",
            Dtype::Amp => "amp",
            Dtype::Int8 => "int8",
            Dtype::Fp8 => "fp8",
        }
    }

    /// A dtype by name; a usage error naming the choices otherwise.
    pub fn parse(name: &str) -> Result<Dtype> {
        Dtype::ALL
            .into_iter()
            .find(|d| d.as_str() == name.to_ascii_lowercase())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "unknown dtype '{name}': expected fp32, tf32, fp16, bf16, amp, int8 or fp8"
                ))
            })
    }

    /// Bytes per element of tensors stored at this dtype.
    pub fn element_bytes(self) -> f64 {
        match self {
            Dtype::Fp32 | Dtype::Tf32 => 4.0,
            Dtype::Fp16 | Dtype::Bf16 | Dtype::Amp => 2.0,
            Dtype::Int8 | Dtype::Fp8 => 1.0,
        }
    }

    /// The dense peak (TFLOP/s) its products run at on `d`, falling back to a wider format
    /// when the device has no rate for this one (a CPU without fp16 units computes in fp32).
    pub fn matrix_peak(self, d: &crate::device::Peaks) -> Option<f64> {
        let order: &[Option<f64>] = match self {
            Dtype::Fp32 => &[d.fp32],
            Dtype::Tf32 => &[d.tf32, d.fp32],
            Dtype::Fp16 | Dtype::Amp => &[d.fp16, d.fp32],
            Dtype::Bf16 => &[d.bf16, d.fp16, d.fp32],
            Dtype::Int8 => &[d.int8, d.fp16, d.fp32],
            Dtype::Fp8 => &[d.fp8, d.int8, d.fp16, d.fp32],
        };
        order.iter().flatten().copied().next()
    }
}

/// What a prediction is asked for.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The number format; `None`: as the model stores it (bytes as they are).
    pub dtype: Option<Dtype>,
    /// The runtime (what it fuses); `None`: ONNX Runtime on CPUs, PyTorch eager on GPUs.
    pub backend: Option<Backend>,
    /// Threads on a CPU; `None`: the calibration's, else every core.
    pub threads: Option<usize>,
}

/// A device ready to predict for: its figures (a power mode applied), its clock factor and
/// the parameters that apply to it.
#[derive(Clone, Debug)]
pub struct Target {
    /// The device (with a selected power mode's figures in place of its own).
    pub device: Device,
    /// The power mode selected (`jetson-agx-orin:30W`).
    pub mode: Option<String>,
    /// Sustained clock ÷ boost clock under its power limit (1 when not power-limited).
    pub clock_factor: f64,
    /// The parameters used: the device's calibration, else its class profile.
    pub efficiency: Efficiency,
    /// The name of those parameters (`gpu`, `cpu`, or `calibrated`).
    pub profile: String,
    /// The error measured for those parameters, when one was.
    bands: Vec<ErrorBand>,
}

impl Target {
    /// The device named `name` (`KEY` or `KEY:MODE`) in `catalog`, with `params`.
    pub fn resolve(catalog: &Catalog, name: &str, params: &Params) -> Result<Target> {
        let (key, mode) = match name.split_once(':') {
            Some((k, m)) => (k, Some(m)),
            None => (name, None),
        };
        let mut device = catalog.find(key)?.clone();
        if let Some(m) = mode {
            apply_mode(&mut device, m)?;
        }
        let mut t = Target::new(device, catalog, params)?;
        t.mode = mode.map(str::to_string);
        Ok(t)
    }

    /// A device given whole (a calibrated device file's entry, or a catalog entry).
    pub fn new(device: Device, catalog: &Catalog, params: &Params) -> Result<Target> {
        let clock_factor = clock_factor(&device, catalog);
        let (efficiency, profile, bands) = match &device.calibration {
            // Its own measured error when it has one; else what calibrated machines were
            // measured to have (the "calibrated" bands of the parameters).
            Some(c) => (
                c.efficiency.clone(),
                "calibrated".to_string(),
                match &c.error_band {
                    Some(b) => vec![b.clone()],
                    None => params
                        .error_bands
                        .iter()
                        .filter(|b| b.profile == "calibrated")
                        .cloned()
                        .collect(),
                },
            ),
            None => {
                let name = profile_of(device.class);
                let bands = params
                    .error_bands
                    .iter()
                    .filter(|b| b.profile == name)
                    .cloned()
                    .collect();
                (params.profile(name)?.clone(), name.to_string(), bands)
            }
        };
        Ok(Target {
            device,
            mode: None,
            clock_factor,
            efficiency,
            profile,
            bands,
        })
    }

    /// The measured error for a dtype (one measured at any dtype otherwise).
    pub fn band(&self, dtype: Dtype) -> Option<&ErrorBand> {
        self.bands
            .iter()
            .find(|b| b.dtype == dtype.as_str())
            .or_else(|| self.bands.iter().find(|b| b.dtype.is_empty()))
    }
}

/// The parameter profile of a device class.
pub fn profile_of(class: DeviceClass) -> &'static str {
    match class {
        DeviceClass::Cpu => "cpu",
        _ => "gpu",
    }
}

/// Puts a power mode's figures in place of the device's own.
fn apply_mode(d: &mut Device, mode: &str) -> Result<()> {
    let Some(m) = d
        .power_modes
        .iter()
        .find(|m| m.name.eq_ignore_ascii_case(mode))
        .cloned()
    else {
        let known: Vec<&str> = d.power_modes.iter().map(|m| m.name.as_str()).collect();
        return Err(Error::Usage(if known.is_empty() {
            format!("device '{}' has no power modes", d.key)
        } else {
            format!(
                "device '{}' has no power mode '{mode}' (it has: {})",
                d.key,
                known.join(", ")
            )
        }));
    };
    d.peak_tflops = m.peak_tflops;
    d.power_w = Some(m.power_w);
    if let Some(bw) = m.memory_bandwidth_gbs {
        d.memory_bandwidth_gbs = bw;
    }
    if let Some(c) = m.gpu_clock_mhz {
        d.boost_clock_mhz = Some(c);
    }
    Ok(())
}

/// Power per SM-GHz at the boost clock, for a discrete GPU that states all three figures.
fn power_density(d: &Device) -> Option<f64> {
    let discrete = matches!(
        d.class,
        DeviceClass::GpuDatacenter | DeviceClass::GpuConsumer | DeviceClass::GpuWorkstation
    );
    let sm = f64::from(d.units.sm?);
    let ghz = d.boost_clock_mhz? / 1000.0;
    let w = d.power_w?;
    (discrete && sm > 0.0 && ghz > 0.0).then(|| w / (sm * ghz))
}

/// How far below its boost clock a discrete GPU runs under its power limit: its power per
/// SM-GHz against the highest of the parts built on the same chip (same `arch`), to the
/// power 1/3 (dynamic power grows as f·V², and V with f). 1 for the best-fed part of each
/// chip and for devices the catalog gives no such figures for. Not fitted: derived from
/// the datasheets alone.
pub fn clock_factor(d: &Device, catalog: &Catalog) -> f64 {
    let (Some(r), Some(arch)) = (power_density(d), d.arch.as_deref()) else {
        return 1.0;
    };
    let best = catalog
        .devices
        .iter()
        .filter(|o| o.arch.as_deref() == Some(arch))
        .filter_map(power_density)
        .fold(r, f64::max);
    (r / best).cbrt().min(1.0)
}

/// Bytes per element of the model's floating-point tensors as it was given (its largest
/// share of parameters, else its first float input; 4 when it says neither).
fn model_element_bytes(p: &Profile) -> f64 {
    let float = |name: &str| {
        crate::graph::DType::from_name(name)
            .filter(|d| d.is_float())
            .map(|d| d.bits() as f64 / 8.0)
    };
    p.totals
        .params_by_dtype
        .iter()
        .filter_map(|(name, c)| float(name).map(|b| (c.params, b)))
        .max_by_key(|&(n, _)| n)
        .map(|(_, b)| b)
        .or_else(|| p.inputs.iter().find_map(|t| float(&t.dtype)))
        .unwrap_or(4.0)
}

/// The prediction for profile `p` on `t`.
pub fn predict(p: &Profile, t: &Target, o: Options) -> Result<Prediction> {
    let d = &t.device;
    let cpu = d.class == DeviceClass::Cpu;
    let backend = o.backend.unwrap_or(if cpu {
        Backend::OnnxRuntime
    } else {
        Backend::Torch
    });
    let cores = d.units.cores.or(d.units.threads).map_or(1, |c| c.max(1)) as usize;
    let calibrated_threads = d
        .calibration
        .as_ref()
        .and_then(|c| c.threads)
        .map(|n| n as usize);
    let threads = cpu.then(|| o.threads.or(calibrated_threads).unwrap_or(cores).max(1));
    let share_of_cores = threads.map_or(1.0, |n| n.min(cores) as f64 / cores as f64);
    let scale = t.clock_factor * share_of_cores * 1e3; // TFLOP/s → GFLOP/s
    let missing = |what: &str| {
        Error::Usage(format!(
            "device '{}' states no {what} peak (nor a wider format's)",
            d.key
        ))
    };
    let stored = model_element_bytes(p);
    let dtype = o.dtype.unwrap_or(match stored {
        b if b >= 4.0 => Dtype::Fp32,
        b if b >= 2.0 => Dtype::Fp16,
        _ => Dtype::Int8,
    });
    let matrix = dtype
        .matrix_peak(&d.peak_tflops)
        .ok_or_else(|| missing(dtype.as_str()))?
        * scale;
    let vector = d.peak_tflops.fp32.ok_or_else(|| missing("fp32"))? * scale;
    let bandwidth = d.memory_bandwidth_gbs;
    // Bytes scale from the stored format to the predicted one (1 when not converted).
    let bytes_scale = o.dtype.map_or(1.0, |d| d.element_bytes() / stored);
    let overhead_ms = t.efficiency.overhead_us / 1e3;
    let l2_bytes = d.l2_mb.unwrap_or(0.0) * 1_048_576.0;
    let weights_cold = p.totals.weight_bytes as f64 * bytes_scale > l2_bytes;

    let classes: Vec<OpClass> = p.layers.iter().map(classify).collect();
    let fused = backend.fused(&p.layers, &classes);
    let mut totals = TimeTotals::default();
    let mut layers = Vec::with_capacity(p.layers.len());
    // The operator before each layer (constants skipped): a permute or transpose view before
    // a kernel means the kernel reads a strided tensor. A traced module's views are folded
    // into the layers around them (`crate::fold`), in the order they ran.
    let mut prev_op = "";
    for ((l, &class), &fused) in p.layers.iter().zip(&classes).zip(&fused) {
        let ran = |before: bool| {
            (l.folded.iter())
                .filter(move |f| f.before == before && f.op != "Constant")
                .map(|f| f.op.as_str())
        };
        prev_op = ran(true).next_back().unwrap_or(prev_op);
        let strided = matches!(prev_op, "permute" | "transpose");
        if l.op != "Constant" {
            prev_op = l.op.as_str();
        }
        prev_op = ran(false).next_back().unwrap_or(prev_op);
        let at = Roof {
            bandwidth,
            bytes_scale,
            overhead: overhead_ms,
            l2_bytes,
            strided,
            weights_cold,
        };
        let lt = layer_time(l, class, fused, &t.efficiency, &at, |c| {
            if c.is_matrix() {
                matrix
            } else {
                vector
            }
        });
        totals.compute_ms += lt.compute_ms;
        totals.memory_ms += lt.memory_ms;
        totals.overhead_ms += lt.overhead_ms;
        totals.copy_ms += lt.copy_ms;
        if fused {
            totals.fused += 1;
        } else if class != OpClass::View {
            totals.kernels += 1;
        }
        if l.flops.is_none() {
            totals.cost_unknown += 1;
        }
        layers.push(lt);
    }
    let latency_ms: f64 = layers.iter().map(|l| l.time_ms).sum();
    for l in &mut layers {
        l.share = if latency_ms > 0.0 {
            l.time_ms / latency_ms
        } else {
            0.0
        };
    }
    let by_class = by_class(&layers, latency_ms);
    let batch = p
        .inputs
        .first()
        .and_then(|t| t.shape.as_ref())
        .filter(|s| s.len() >= 2)
        .map_or(1, |s| s[0].max(1));
    let at_dtype = |b: u64| (b as f64 * bytes_scale).round() as u64;
    let weight_bytes = at_dtype(p.totals.weight_bytes);
    let activation_bytes = at_dtype(p.totals.peak_activation_bytes);
    let total_bytes = weight_bytes.saturating_add(activation_bytes);
    let device_bytes = (d.memory_gb * 1_073_741_824.0).round() as u64;
    let llm = match &p.llm {
        Some(l) => llm::serving(l, t, scale)?,
        None => None,
    };
    let mut out = Prediction {
        schema: SCHEMA,
        model: p.model.source.clone(),
        device: DeviceRef {
            key: d.key.clone(),
            name: d.name.clone(),
            class: d.class,
            mode: t.mode.clone(),
            profile: t.profile.clone(),
        },
        backend,
        dtype,
        batch,
        threads,
        clock_factor: t.clock_factor,
        peak_gflops: matrix,
        bandwidth_gbs: bandwidth,
        latency_ms,
        throughput_per_s: if latency_ms > 0.0 {
            batch as f64 * 1e3 / latency_ms
        } else {
            f64::INFINITY
        },
        fits: total_bytes <= device_bytes,
        memory: Memory {
            weight_bytes,
            activation_bytes,
            total_bytes,
            device_bytes,
        },
        error_band: t.band(dtype).cloned(),
        totals,
        by_class,
        layers,
        llm,
    };
    // A language model is served, not run once: its headline is the time to first token, the
    // decode rate and what weights and KV cache take (its layers are parts of the checkpoint).
    if let Some(s) = &out.llm {
        out.latency_ms = s.prefill.time_ms;
        out.throughput_per_s = s.decode.tokens_per_s;
        out.fits = s.memory.fits;
        out.memory = Memory {
            weight_bytes: s.memory.weight_bytes,
            activation_bytes: s.memory.total_bytes.saturating_sub(s.memory.weight_bytes),
            total_bytes: s.memory.total_bytes,
            device_bytes: s.memory.device_bytes,
        };
    }
    Ok(out)
}

/// What a layer's time is taken against, besides its class's peak.
struct Roof {
    /// Memory bandwidth, GB/s.
    bandwidth: f64,
    /// Bytes at the predicted dtype ÷ bytes as stored.
    bytes_scale: f64,
    /// Launch overhead per kernel, ms.
    overhead: f64,
    /// The device's L2 cache, bytes (0 when unknown).
    l2_bytes: f64,
    /// The layer reads a permuted or transposed view.
    strided: bool,
    /// The model's weights exceed the cache: each layer's weights come from DRAM.
    weights_cold: bool,
}

/// One layer's time; `peak(class)` gives the compute peak (GFLOP/s) that applies to it.
fn layer_time(
    l: &Layer,
    class: OpClass,
    fused: bool,
    e: &Efficiency,
    at: &Roof,
    peak: impl Fn(OpClass) -> f64,
) -> LayerTime {
    let flops = l.flops.unwrap_or(0);
    let f = flops as f64;
    let bytes = crate::roofline::bytes_moved(l) as f64 * at.bytes_scale;
    let k = e.of(class);
    let (mut compute_ms, mut memory_ms, mut overhead_ms, mut copy_ms) = (0.0, 0.0, 0.0, 0.0);
    if class != OpClass::View {
        if f > 0.0 {
            let eff = k.eff * f / (f + k.half_gflop * 1e9);
            compute_ms = f / (peak(class) * 1e6 * eff);
        }
        if !fused {
            // The tail of its input the previous kernel left in L2 does not cross DRAM.
            let dram = bytes - (e.l2_carry * at.l2_bytes).min(bytes / 2.0);
            let rate = at.bandwidth * 1e6;
            memory_ms = if k.mem_eff > 1.0 && at.l2_bytes > 0.0 {
                // An efficiency above 1 (a calibration's small, cache-resident benchmarks) holds
                // only for what the cache holds: the weights of a model larger than the cache,
                // and whatever exceeds it, stream from DRAM at its bandwidth.
                let cold_weights = if at.weights_cold {
                    (l.param_bytes as f64 * at.bytes_scale).min(dram)
                } else {
                    0.0
                };
                let warm = dram - cold_weights;
                let spill = (warm - at.l2_bytes).max(0.0);
                (warm - spill) / (rate * k.mem_eff) + (cold_weights + spill) / rate
            } else {
                dram / (rate * k.mem_eff)
            };
            overhead_ms = at.overhead;
            if at.strided && e.strided_copy > 0.0 {
                copy_ms = e.strided_copy * bytes / (at.bandwidth * 1e6) + at.overhead;
            }
        }
    }
    let roof_ms = match e.roofline_p {
        Some(p) if compute_ms > 0.0 && memory_ms > 0.0 => {
            let m = compute_ms.max(memory_ms);
            m * ((compute_ms / m).powf(p) + (memory_ms / m).powf(p)).powf(1.0 / p)
        }
        _ => compute_ms.max(memory_ms),
    };
    let time_ms = roof_ms + overhead_ms + copy_ms;
    let bound = if class == OpClass::View {
        "none"
    } else if fused {
        "fused"
    } else if overhead_ms > compute_ms.max(memory_ms) {
        "overhead"
    } else if compute_ms >= memory_ms {
        "compute"
    } else {
        "memory"
    };
    LayerTime {
        name: l.name.clone(),
        op: l.op.clone(),
        class,
        fused,
        flops,
        bytes: if fused || class == OpClass::View {
            0.0
        } else {
            bytes
        },
        time_ms,
        compute_ms,
        memory_ms,
        overhead_ms,
        copy_ms,
        bound,
        share: 0.0,
    }
}

/// Time by class, largest first.
fn by_class(layers: &[LayerTime], latency_ms: f64) -> Vec<ClassTime> {
    let mut out: Vec<ClassTime> = OpClass::KERNELS
        .into_iter()
        .filter_map(|c| {
            let of: Vec<&LayerTime> = layers.iter().filter(|l| l.class == c).collect();
            let time_ms: f64 = of.iter().map(|l| l.time_ms).sum();
            (!of.is_empty()).then(|| ClassTime {
                class: c,
                layers: of.len(),
                time_ms,
                share: if latency_ms > 0.0 {
                    time_ms / latency_ms
                } else {
                    0.0
                },
            })
        })
        .collect();
    out.sort_by(|a, b| b.time_ms.total_cmp(&a.time_ms));
    out
}
