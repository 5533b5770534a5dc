//! The time model's parameters: the kinds of kernel it tells apart ([`OpClass`]), efficiencies
//! per kernel class for each device profile (`gpu`, `cpu`), a device's own calibration, and the
//! error each profile was measured to have. A leaf beside `device` (whose entries may carry a
//! [`Calibration`]); `predict` uses both. The built-in set is
//! `data/predict.json` (schema `flopscope.predict-params/1`), written by `bench/fit_devices.py`
//! (GPUs, from measured tables) and by calibration (CPUs); `--params FILE` replaces it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Schema tag of a parameter file.
pub const SCHEMA: &str = "flopscope.predict-params/1";

/// The parameter file shipped with the crate.
const BUILTIN: &str = include_str!("../data/predict.json");

/// The kinds of kernel the time model tells apart: each has its own efficiencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpClass {
    /// No kernel: a view, a shape computation, a constant.
    View,
    /// A matrix product with weights (Gemm, MatMul by a weight, linear layers).
    Gemm,
    /// A dense convolution (one group).
    Conv,
    /// A grouped or depthwise convolution: little reuse per weight, rarely at peak.
    GroupedConv,
    /// Attention: a fused attention layer, or a product of two activations (Q·Kᵀ, A·V).
    Attention,
    /// Arithmetic per element or per window: activations, norms, pools, reductions, softmax.
    Elementwise,
    /// Data movement without arithmetic: copies, transposes, concatenation, gathers, padding.
    Data,
}

impl OpClass {
    /// Every class with a kernel, in the order reports list them.
    pub const KERNELS: [OpClass; 6] = [
        OpClass::Gemm,
        OpClass::Conv,
        OpClass::GroupedConv,
        OpClass::Attention,
        OpClass::Elementwise,
        OpClass::Data,
    ];

    /// Its name in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            OpClass::View => "view",
            OpClass::Gemm => "gemm",
            OpClass::Conv => "conv",
            OpClass::GroupedConv => "grouped_conv",
            OpClass::Attention => "attention",
            OpClass::Elementwise => "elementwise",
            OpClass::Data => "data",
        }
    }

    /// Whether it runs on matrix (tensor-core / AMX) units at the dtype's peak.
    pub fn is_matrix(self) -> bool {
        matches!(
            self,
            OpClass::Gemm | OpClass::Conv | OpClass::GroupedConv | OpClass::Attention
        )
    }
}

/// How well one class of kernel uses a device.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpEfficiency {
    /// Fraction of the peak a large kernel of this class reaches.
    pub eff: f64,
    /// GFLOPs at which a kernel reaches half of `eff`: `e(F) = eff · F / (F + half)`.
    pub half_gflop: f64,
    /// Fraction of the memory bandwidth its traffic moves at (above 1: caches help).
    pub mem_eff: f64,
}

/// The parameters of one device profile (a device class, or one calibrated device).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Efficiency {
    /// How these numbers were obtained.
    pub basis: String,
    /// Fixed cost of launching one kernel, microseconds.
    pub overhead_us: f64,
    /// A kernel that reads a permuted or transposed view first makes it contiguous: a copy
    /// kernel of `strided_copy` × its bytes at the full bandwidth, plus a launch (0: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub strided_copy: f64,
    /// The soft roofline's exponent: t = (t_compute^p + t_memory^p)^(1/p); absent: the
    /// plain roofline, max(t_compute, t_memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roofline_p: Option<f64>,
    /// Share of the device's L2 cache that still holds the previous kernel's output when a
    /// kernel reads it: up to this × L2 (and at most half its bytes) does not cross DRAM.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub l2_carry: f64,
    /// Efficiencies by kernel class; a class missing here uses `gemm`'s.
    pub ops: BTreeMap<OpClass, OpEfficiency>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl Efficiency {
    /// The efficiencies of a class (those of `gemm` when the class has none of its own).
    pub fn of(&self, c: OpClass) -> OpEfficiency {
        self.ops
            .get(&c)
            .or_else(|| self.ops.get(&OpClass::Gemm))
            .copied()
            .unwrap_or(OpEfficiency {
                eff: 1.0,
                half_gflop: 0.0,
                mem_eff: 1.0,
            })
    }

    /// A one-line reason when a number is out of range; `None` when all are usable.
    pub fn check(&self) -> Option<String> {
        if !(self.overhead_us.is_finite() && self.overhead_us >= 0.0) {
            return Some(format!("overhead_us {} is not ≥ 0", self.overhead_us));
        }
        if !(self.strided_copy.is_finite() && self.strided_copy >= 0.0) {
            return Some(format!("strided_copy {} is not ≥ 0", self.strided_copy));
        }
        if let Some(p) = self.roofline_p.filter(|p| !(p.is_finite() && *p >= 1.0)) {
            return Some(format!("roofline_p {p} is not ≥ 1"));
        }
        if !(0.0..=1.0).contains(&self.l2_carry) {
            return Some(format!("l2_carry {} is not in [0, 1]", self.l2_carry));
        }
        self.ops.iter().find_map(|(c, e)| {
            let ok = e.eff > 0.0
                && e.eff.is_finite()
                && e.mem_eff > 0.0
                && e.mem_eff.is_finite()
                && e.half_gflop >= 0.0
                && e.half_gflop.is_finite();
            (!ok).then(|| {
                format!(
                    "{}: eff and mem_eff must be > 0 and half_gflop ≥ 0 (got {}, {}, {})",
                    c.as_str(),
                    e.eff,
                    e.mem_eff,
                    e.half_gflop
                )
            })
        })
    }
}

/// How far predictions of one profile and dtype were from measurements.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBand {
    /// The profile it was measured for (`gpu`, `cpu`, or a calibrated device's key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile: String,
    /// The dtype it was measured at (`amp`, `fp32`, …); empty: any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dtype: String,
    /// Median |predicted − measured| / measured, percent.
    pub median_pct: f64,
    /// Its 90th percentile, percent.
    pub p90_pct: f64,
    /// Models it was measured on.
    pub n: u64,
    /// On what: the tables and models, and what the parameters were fitted on.
    pub basis: String,
}

/// A parameter file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Profile name (`gpu`, `cpu`) → its parameters.
    pub profiles: BTreeMap<String, Efficiency>,
    /// Measured errors.
    #[serde(default)]
    pub error_bands: Vec<ErrorBand>,
}

impl Params {
    /// The parameters shipped with flopscope (parsed once).
    pub fn builtin() -> &'static Params {
        static PARAMS: OnceLock<Params> = OnceLock::new();
        PARAMS.get_or_init(|| {
            // Part of the crate and checked by its tests: failing here is a build bug.
            Params::parse(BUILTIN, Path::new("predict.json")).expect("built-in params are valid")
        })
    }

    /// Parses and checks a parameter file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Params> {
        let malformed = |reason: String| Error::Malformed {
            path: path.to_path_buf(),
            what: "time-model parameters",
            reason,
        };
        let p: Params = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if p.schema != SCHEMA {
            return Err(malformed(format!(
                "schema is '{}', expected '{SCHEMA}'",
                p.schema
            )));
        }
        for (name, e) in &p.profiles {
            if let Some(why) = e.check() {
                return Err(malformed(format!("profile '{name}': {why}")));
            }
        }
        Ok(p)
    }

    /// Reads a parameter file.
    pub fn from_file(path: &Path) -> Result<Params> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Params::parse(&text, path)
    }

    /// A profile by name; an error naming the ones there are.
    pub fn profile(&self, name: &str) -> Result<&Efficiency> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            Error::Usage(format!(
                "the time-model parameters have no profile '{name}' (they have: {})",
                known.join(", ")
            ))
        })
    }

    /// The measured error for a profile at a dtype (one measured at any dtype otherwise).
    pub fn band(&self, profile: &str, dtype: &str) -> Option<&ErrorBand> {
        let of = |b: &&ErrorBand| b.profile == profile;
        self.error_bands
            .iter()
            .filter(of)
            .find(|b| b.dtype == dtype)
            .or_else(|| {
                self.error_bands
                    .iter()
                    .filter(of)
                    .find(|b| b.dtype.is_empty())
            })
    }
}

/// A device's own parameters, measured on it by `flopscope calibrate`: a device file entry
/// carrying one is predicted with these instead of its class profile's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// The runtime the micro-benchmarks ran through (`onnxruntime`, `torch`, …).
    pub backend: String,
    /// Threads they ran with (CPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// When (UTC, `YYYY-MM-DD`).
    pub date: String,
    /// The machine (CPU or GPU model) it ran on.
    pub machine: String,
    /// The fitted parameters.
    pub efficiency: Efficiency,
    /// The error measured on models not used in the fit, when a validation was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_band: Option<ErrorBand>,
}
