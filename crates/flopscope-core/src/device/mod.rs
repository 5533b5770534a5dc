//! The device catalog: datasheet figures of GPUs, edge boards, Apple chips and CPUs that a
//! model's time is predicted for (`flopscope devices`, docs/devices.md).
//!
//! The built-in catalog is one JSON file, `data/devices.json` (schema `flopscope.devices/1`),
//! compiled into the crate: no network at run time. A user file of the same schema adds devices
//! or replaces one whole by its key ([`Catalog::merge`]). Every figure names its source; the
//! catalog is refused when one does not ([`Catalog::validate`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Schema tag of a catalog file.
pub const SCHEMA: &str = "flopscope.devices/1";

/// The catalog file shipped with the crate.
const BUILTIN: &str = include_str!("../../data/devices.json");

/// A document a figure comes from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceDoc {
    /// Its title (marked when the source is secondary).
    pub title: String,
    /// Who published it.
    pub publisher: String,
    /// Where it is.
    pub url: String,
    /// Year of publication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<u32>,
}

/// What kind of device an entry is; the time model's parameters are per class.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceClass {
    /// Datacenter GPUs (V100 … B200).
    GpuDatacenter,
    /// GeForce cards: fp16 with fp32 accumulate at half the fp16-accumulate rate.
    GpuConsumer,
    /// Workstation cards (RTX A6000, RTX Pro 6000).
    GpuWorkstation,
    /// Jetson modules.
    GpuEdge,
    /// The GPU of an Apple M-series chip.
    GpuApple,
    /// A CPU (its vector or matrix units).
    Cpu,
}

impl DeviceClass {
    /// Every class, in the order `flopscope devices` lists them.
    pub const ALL: [DeviceClass; 6] = [
        DeviceClass::GpuDatacenter,
        DeviceClass::GpuConsumer,
        DeviceClass::GpuWorkstation,
        DeviceClass::GpuEdge,
        DeviceClass::GpuApple,
        DeviceClass::Cpu,
    ];

    /// The class a name designates (`gpu-edge`, `cpu`, …), or a usage error listing them.
    pub fn parse(name: &str) -> Result<DeviceClass> {
        DeviceClass::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                let all: Vec<&str> = DeviceClass::ALL.iter().map(|c| c.as_str()).collect();
                Error::Usage(format!(
                    "unknown device class '{name}': expected one of {}",
                    all.join(", ")
                ))
            })
    }

    /// The name used in the file and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::GpuDatacenter => "gpu-datacenter",
            DeviceClass::GpuConsumer => "gpu-consumer",
            DeviceClass::GpuWorkstation => "gpu-workstation",
            DeviceClass::GpuEdge => "gpu-edge",
            DeviceClass::GpuApple => "gpu-apple",
            DeviceClass::Cpu => "cpu",
        }
    }
}

/// Dense peak rates in TFLOP/s (int8 in TOPS); tensor-core rates where the device has them,
/// fp16/bf16 with fp32 accumulate. A dtype the device has no rate for is `None`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Peaks {
    /// 32-bit float (CUDA cores / vector units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp32: Option<f64>,
    /// TF32 tensor math.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tf32: Option<f64>,
    /// fp16 with fp32 accumulate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp16: Option<f64>,
    /// bf16 with fp32 accumulate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bf16: Option<f64>,
    /// 8-bit integer (TOPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int8: Option<f64>,
    /// 8-bit float.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8: Option<f64>,
}

impl Peaks {
    /// Each present rate with its dtype name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        [
            ("fp32", self.fp32),
            ("tf32", self.tf32),
            ("fp16", self.fp16),
            ("bf16", self.bf16),
            ("int8", self.int8),
            ("fp8", self.fp8),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }
}

/// Execution units: SMs for NVIDIA GPUs, GPU cores for Apple, cores and vector units for CPUs.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Units {
    /// Streaming multiprocessors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm: Option<u32>,
    /// Apple GPU cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_cores: Option<u32>,
    /// CPU cores (all kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// CPU hardware threads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Performance cores of a hybrid CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_cores: Option<u32>,
    /// Efficiency cores of a hybrid CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_cores: Option<u32>,
    /// Widest vector extension (`avx512`, `avx2`, `neon`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simd: Option<String>,
    /// Vector FMA pipes per (performance) core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fma_units: Option<u32>,
    /// Intel AMX tiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amx: Option<bool>,
}

/// A power (or clock) mode of a power-limited part: a Jetson's nvpmodel mode.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PowerMode {
    /// Its name (`15W`, `MAXN`).
    pub name: String,
    /// Its power budget.
    pub power_w: f64,
    /// The GPU clock cap in that mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_clock_mhz: Option<f64>,
    /// Units enabled in that mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<Units>,
    /// Memory bandwidth in that mode, when capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bandwidth_gbs: Option<f64>,
    /// Dense peaks at that mode's clock and units.
    pub peak_tflops: Peaks,
}

/// One device of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Lowercase key (`rtx4090`).
    pub key: String,
    /// Other names it answers to (lowercase).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Marketing name.
    pub name: String,
    /// Its class.
    pub class: DeviceClass,
    /// Architecture and chip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Dense peaks.
    pub peak_tflops: Peaks,
    /// fp16 tensor rate with fp16 accumulate, where it differs from `peak_tflops.fp16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp16_accumulate_fp16_tflops: Option<f64>,
    /// Memory bandwidth, GB/s.
    pub memory_bandwidth_gbs: f64,
    /// Memory capacity, GB (the largest configuration for CPUs and Apple chips).
    pub memory_gb: f64,
    /// Memory technology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_type: Option<String>,
    /// On-chip last-level cache, MB (GPU L2, CPU L3, Apple SLC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2_mb: Option<f64>,
    /// Power limit (TDP / TGP / module power), W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
    /// Boost clock, MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boost_clock_mhz: Option<f64>,
    /// Base clock, MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_clock_mhz: Option<f64>,
    /// Execution units.
    #[serde(default)]
    pub units: Units,
    /// Power modes of a power-limited part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub power_modes: Vec<PowerMode>,
    /// Figure name (`peak_tflops`, `peak_tflops.fp32`, `memory_gb`, …) → source id.
    pub sources: BTreeMap<String, String>,
    /// Remarks in our words: derivations, caveats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The time model's parameters measured on this very device (`flopscope calibrate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<crate::efficiency::Calibration>,
}

impl Device {
    /// Every name this device answers to: its key, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.key.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// The source id of a figure: `peak_tflops.fp16` falls back to `peak_tflops`.
    pub fn source_of(&self, figure: &str) -> Option<&str> {
        self.sources
            .get(figure)
            .or_else(|| {
                figure
                    .split_once('.')
                    .and_then(|(f, _)| self.sources.get(f))
            })
            .map(String::as_str)
    }

    /// The numbers this entry states, each by the name `sources` gives its figure
    /// (`peak_tflops.fp16`, `l2_mb`); a power mode's numbers are named within the mode
    /// (`power_modes[15W].fp16`) and all cite the entry's `power_modes` source.
    fn numbers(&self) -> Vec<(String, f64)> {
        let mut n: Vec<(String, f64)> = self
            .peak_tflops
            .iter()
            .map(|(k, v)| (format!("peak_tflops.{k}"), v))
            .collect();
        n.push(("memory_bandwidth_gbs".into(), self.memory_bandwidth_gbs));
        n.push(("memory_gb".into(), self.memory_gb));
        let optional = [
            (
                "fp16_accumulate_fp16_tflops",
                self.fp16_accumulate_fp16_tflops,
            ),
            ("l2_mb", self.l2_mb),
            ("power_w", self.power_w),
            ("boost_clock_mhz", self.boost_clock_mhz),
            ("base_clock_mhz", self.base_clock_mhz),
        ];
        n.extend(
            optional
                .iter()
                .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
        );
        for m in &self.power_modes {
            n.push((format!("power_modes[{}].power_w", m.name), m.power_w));
            n.extend(
                m.peak_tflops
                    .iter()
                    .map(|(k, v)| (format!("power_modes[{}].{k}", m.name), v)),
            );
        }
        n
    }

    /// The figures this entry states, by the names `sources` uses.
    fn figures(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .numbers()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !k.starts_with("power_modes["))
            .collect();
        if !self.power_modes.is_empty() {
            f.push("power_modes".into());
        }
        f
    }
}

/// A catalog: sources and devices.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// Source id → document.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceDoc>,
    /// The devices, in the file's order.
    pub devices: Vec<Device>,
}

impl Catalog {
    /// The catalog shipped with flopscope (parsed once).
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            // The file is part of the crate and checked by its tests: failing here is a build bug.
            Catalog::parse(BUILTIN, Path::new("devices.json"))
                .expect("the built-in catalog is valid")
        })
    }

    /// Parses and validates a catalog document; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Catalog> {
        let malformed = |reason: String| Error::Malformed {
            path: path.to_path_buf(),
            what: "device catalog",
            reason,
        };
        let c: Catalog = serde_json::from_str(text).map_err(|e| malformed(e.to_string()))?;
        if c.schema != SCHEMA {
            return Err(malformed(format!(
                "schema is '{}', expected '{SCHEMA}'",
                c.schema
            )));
        }
        c.validate().map_err(malformed)?;
        Ok(c)
    }

    /// Reads a user catalog file.
    pub fn from_file(path: &Path) -> Result<Catalog> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Catalog::parse(&text, path)
    }

    /// The built-in catalog with a user file's entries added, or replacing those of the same
    /// key whole (its sources join the catalog's; a user source id wins).
    pub fn merge(&self, user: &Catalog) -> Result<Catalog> {
        let mut out = self.clone();
        out.sources.extend(user.sources.clone());
        for d in &user.devices {
            match out.devices.iter_mut().find(|e| e.key == d.key) {
                Some(e) => *e = d.clone(),
                None => out.devices.push(d.clone()),
            }
        }
        out.validate().map_err(Error::Usage)?;
        Ok(out)
    }

    /// Checks what the code relies on: unique lowercase names, positive finite figures, and a
    /// known source for every figure stated. The error says what and where.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for d in &self.devices {
            for n in d.names() {
                if n.is_empty() || n != n.to_lowercase() || n.contains(char::is_whitespace) {
                    return Err(format!(
                        "device name '{n}' must be lowercase without spaces"
                    ));
                }
                if let Some(other) = seen.insert(n, &d.key) {
                    return Err(format!(
                        "the name '{n}' is used by both '{other}' and '{}'",
                        d.key
                    ));
                }
            }
            let numbers = d.numbers();
            if let Some((k, v)) = numbers.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
                return Err(format!(
                    "device '{}': {k} is {v}, expected a positive number",
                    d.key
                ));
            }
            if d.peak_tflops.fp32.is_none() {
                return Err(format!("device '{}' has no fp32 peak", d.key));
            }
            if let Some(s) = d
                .sources
                .values()
                .find(|s| !self.sources.contains_key(s.as_str()))
            {
                return Err(format!(
                    "device '{}' cites '{s}', which is not in sources",
                    d.key
                ));
            }
            if let Some(f) = d.figures().into_iter().find(|f| d.source_of(f).is_none()) {
                return Err(format!("device '{}': {f} names no source", d.key));
            }
        }
        Ok(())
    }

    /// The device a name (key or alias, any case) designates.
    pub fn find(&self, name: &str) -> Result<&Device> {
        let want = name.trim().to_lowercase();
        if let Some(d) = self.devices.iter().find(|d| d.names().any(|n| n == want)) {
            return Ok(d);
        }
        let near = self.nearest(&want);
        let hint = if near.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", near.join(", "))
        };
        Err(Error::Usage(format!(
            "unknown device '{name}'{hint}; `flopscope devices` lists them"
        )))
    }

    /// Up to three keys closest to a name that matched none: those containing it or contained
    /// in it first, then the smallest edit distances.
    fn nearest(&self, want: &str) -> Vec<String> {
        let squash = |s: &str| s.replace(['-', '_', ' '], "");
        let w = squash(want);
        let mut scored: Vec<(usize, &str)> = self
            .devices
            .iter()
            .map(|d| {
                let best = d
                    .names()
                    .map(|n| {
                        let n = squash(n);
                        if !w.is_empty() && (n.contains(&w) || w.contains(&n)) {
                            0
                        } else {
                            edit_distance(&n, &w)
                        }
                    })
                    .min()
                    .unwrap_or(usize::MAX);
                (best, d.key.as_str())
            })
            .filter(|(s, _)| *s <= 3)
            .collect();
        scored.sort();
        scored
            .into_iter()
            .take(3)
            .map(|(_, k)| k.to_string())
            .collect()
    }
}

/// Levenshtein distance over chars (names are a few dozen characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests;
