//! What the hardware can do: peak f32 FLOP/s and memory bandwidth (measured by
//! `flopscope-bench`, or given as a device spec), and the roof they put over a run.

mod text;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Schema tag of [`Machine`]'s JSON.
pub const SCHEMA: &str = "flopscope.machine/1";

/// FMA throughput at one vector width.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WidthRate {
    /// Vector unit (`avx512f`, `avx2+fma`, …).
    pub isa: String,
    /// Register width in bits.
    pub bits: u32,
    /// f32 GFLOP/s of one core (an FMA is 2 FLOPs per lane).
    pub gflops_per_core: f64,
    /// Vector FMA instructions retired per cycle.
    pub fma_per_cycle: f64,
}

/// A machine's limits: measured here, read from the cache, or given as a spec.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `measured` (just now), `cache` (an earlier measurement), `spec` (given) or `file`.
    pub source: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Instruction set architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// Logical CPUs this process may use (the all-core figures use all of them).
    pub logical_cpus: usize,
    /// Physical cores, when the OS says.
    pub physical_cores: Option<usize>,
    /// Vector extensions detected at run time.
    pub vector_extensions: Vec<String>,
    /// The widest vector unit, the one the peak is measured on.
    pub isa: Option<String>,
    /// Its register width.
    pub vector_bits: Option<u32>,
    /// f32 lanes per register.
    pub f32_lanes: Option<u32>,
    /// Core clock while the FMA loop's vector unit was busy (one core running).
    pub clock_ghz: Option<f64>,
    /// The same with every logical CPU running.
    pub clock_ghz_all_cores: Option<f64>,
    /// Widest-vector FMAs retired per cycle (measured rate / clock).
    pub fma_per_cycle: Option<f64>,
    /// FMA issue slots per cycle at that width: `fma_per_cycle` rounded.
    pub fma_units: Option<u32>,
    /// Cycles from one FMA to the next that depends on it.
    pub fma_latency_cycles: Option<f64>,
    /// f32 lanes × 2 × FMA units × clock.
    pub theoretical_gflops_per_core: Option<f64>,
    /// Measured f32 GFLOP/s of one core.
    pub peak_gflops_per_core: f64,
    /// Measured f32 GFLOP/s of all logical CPUs together.
    pub peak_gflops: f64,
    /// Copy bandwidth of one thread, GB/s (read + written bytes).
    pub bandwidth_gbs_per_core: f64,
    /// Copy bandwidth of all logical CPUs, GB/s.
    pub bandwidth_gbs: f64,
    /// Size of each copy buffer.
    pub copy_bytes: u64,
    /// FMA throughput at every vector width the CPU has.
    pub widths: Vec<WidthRate>,
    /// When it was measured (Unix seconds; 0 for a spec).
    pub measured_unix: u64,
    /// How long the measurement took.
    pub seconds: f64,
    /// flopscope version that measured it (a new version measures again).
    pub flopscope_version: String,
}

/// The roof over a run: the FLOP rate and bandwidth it can reach at most.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Roof {
    /// GFLOP/s.
    pub peak_gflops: f64,
    /// GB/s.
    pub bandwidth_gbs: f64,
}

impl Roof {
    /// FLOPs per byte where the bandwidth slope meets the compute roof.
    pub fn ridge(&self) -> f64 {
        self.peak_gflops / self.bandwidth_gbs
    }
}

impl Machine {
    /// A device given by its numbers, for a target one is not on.
    pub fn spec(peak_gflops: f64, bandwidth_gbs: f64) -> Result<Machine> {
        for (what, v) in [
            ("--peak-gflops", peak_gflops),
            ("--bandwidth-gbs", bandwidth_gbs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Usage(format!(
                    "{what} must be a positive number, got {v}"
                )));
            }
        }
        Ok(Machine {
            schema: SCHEMA.into(),
            source: "spec".into(),
            cpu_model: "device spec".into(),
            arch: String::new(),
            logical_cpus: 1,
            physical_cores: None,
            vector_extensions: vec![],
            isa: None,
            vector_bits: None,
            f32_lanes: None,
            clock_ghz: None,
            clock_ghz_all_cores: None,
            fma_per_cycle: None,
            fma_units: None,
            fma_latency_cycles: None,
            theoretical_gflops_per_core: None,
            peak_gflops_per_core: peak_gflops,
            peak_gflops,
            bandwidth_gbs_per_core: bandwidth_gbs,
            bandwidth_gbs,
            copy_bytes: 0,
            widths: vec![],
            measured_unix: 0,
            seconds: 0.0,
            flopscope_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    /// A machine saved by `flopscope machine --format json` (measured on the target).
    pub fn from_file(path: &std::path::Path) -> Result<Machine> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut m: Machine = serde_json::from_str(&text).map_err(|e| {
            Error::Invalid(format!(
                "{} is not a `flopscope machine --format json` file: {e}",
                path.display()
            ))
        })?;
        if !m.usable() {
            return Err(Error::Invalid(format!(
                "{}: expected schema {SCHEMA} with positive, finite peak_gflops, \
                 peak_gflops_per_core, bandwidth_gbs and bandwidth_gbs_per_core",
                path.display()
            )));
        }
        m.source = "file".into();
        Ok(m)
    }

    /// The roof for a run on `threads` threads: a spec is one roof; a measured machine
    /// scales its one-core figures with the threads, up to its all-core figures.
    pub fn roof(&self, threads: usize) -> Roof {
        if self.source == "spec" {
            return Roof {
                peak_gflops: self.peak_gflops,
                bandwidth_gbs: self.bandwidth_gbs,
            };
        }
        let t = threads.clamp(1, self.logical_cpus.max(1));
        if t >= self.logical_cpus {
            Roof {
                peak_gflops: self.peak_gflops,
                bandwidth_gbs: self.bandwidth_gbs,
            }
        } else {
            Roof {
                peak_gflops: (self.peak_gflops_per_core * t as f64).min(self.peak_gflops),
                bandwidth_gbs: (self.bandwidth_gbs_per_core * t as f64).min(self.bandwidth_gbs),
            }
        }
    }

    /// Whether every figure a roof is made of is a positive number (a hand-edited or
    /// truncated file must not give an infinite ridge).
    pub fn usable(&self) -> bool {
        self.schema == SCHEMA
            && self.logical_cpus >= 1
            && [
                self.peak_gflops,
                self.peak_gflops_per_core,
                self.bandwidth_gbs,
                self.bandwidth_gbs_per_core,
            ]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
    }
}

/// The civil date (year, month 1–12, day 1–31) of a day count since 1970-01-01, by H.
/// Hinnant's civil-from-days algorithm (no time-zone database needed).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD HH:MM UTC` of Unix seconds.
pub fn utc(secs: u64) -> String {
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        // 2000-02-29 12:34 UTC (a leap day) = 951827640, from `date -u -d @951827640`.
        assert_eq!(utc(951_827_640), "2000-02-29 12:34 UTC");
    }

    #[test]
    fn roof_scales_measured_figures_with_threads_and_keeps_a_spec_fixed() {
        let mut m = Machine::spec(100.0, 20.0).unwrap();
        assert_eq!(m.roof(8).peak_gflops, 100.0);
        m.source = "measured".into();
        m.logical_cpus = 4;
        m.peak_gflops_per_core = 30.0;
        m.peak_gflops = 100.0;
        m.bandwidth_gbs_per_core = 8.0;
        m.bandwidth_gbs = 20.0;
        let r1 = m.roof(1);
        assert_eq!((r1.peak_gflops, r1.bandwidth_gbs), (30.0, 8.0));
        let r2 = m.roof(2);
        assert_eq!((r2.peak_gflops, r2.bandwidth_gbs), (60.0, 16.0));
        let r3 = m.roof(3);
        assert_eq!((r3.peak_gflops, r3.bandwidth_gbs), (90.0, 20.0));
        let r9 = m.roof(9);
        assert_eq!((r9.peak_gflops, r9.bandwidth_gbs), (100.0, 20.0));
        assert_eq!(r9.ridge(), 5.0);
        assert!(Machine::spec(0.0, 1.0).is_err());
        assert!(Machine::spec(1.0, f64::NAN).is_err());
    }
}
