//! `flopscope calibrate`: times a suite of micro-benchmarks ([`suite`]) on this machine through
//! a runtime, profiles each with flopscope's own counts, and fits the time model's
//! efficiencies to them ([`fit`]). The result is a device file (schema `flopscope.devices/1`,
//! one `cpu` entry carrying its `calibration`) that `flopscope predict --device FILE` reads,
//! and that `--device local` finds in the cache.

pub mod fit;
pub mod suite;
mod torch;

use std::path::{Path, PathBuf};
use std::time::Instant;

use flopscope_core::device::{Catalog, Device};
use flopscope_core::error::{Error, Result};
use flopscope_core::machine::Machine;
use flopscope_core::predict::{self, Backend, Calibration, Dtype, Params, Target};
use flopscope_core::schema::Profile;

use crate::{InputSpec, Runtime};

/// Source id of the figures a calibration measured itself.
pub const SOURCE_ID: &str = "flopscope-machine";

/// What to calibrate.
#[derive(Clone, Debug)]
pub struct CalibrateOptions {
    /// The runtime the micro-benchmarks run through.
    pub backend: Backend,
    /// Intra-op threads.
    pub threads: usize,
    /// The device entry's key (`local` when not given).
    pub device_name: Option<String>,
    /// Timed runs per micro-benchmark stop after this long (at least 5 runs).
    pub seconds_per_model: f64,
    /// The ONNX Runtime library (else found as `bench` finds it).
    pub ort_lib: Option<PathBuf>,
    /// The Python interpreter of the torch backends (else `python3`).
    pub python: Option<PathBuf>,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            backend: Backend::OnnxRuntime,
            threads: 1,
            device_name: None,
            seconds_per_model: 0.4,
            ort_lib: None,
            python: None,
        }
    }
}

/// Progress of a calibration.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// Micro-benchmark `done + 1` of `total` starts.
    Measuring {
        /// Finished so far.
        done: usize,
        /// All of them.
        total: usize,
        /// Its name.
        name: &'a str,
    },
    /// Every one is measured; the fit runs.
    Fitting,
}

/// A finished calibration.
pub struct Calibrated {
    /// The device file: one entry with its calibration.
    pub catalog: Catalog,
    /// Every micro-benchmark, measured and fitted.
    pub fit: fit::Fit,
    /// How long it took, seconds.
    pub seconds: f64,
}

/// A temporary folder removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> Result<TempDir> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("flopscope-{what}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).map_err(|source| Error::Write {
            path: p.clone(),
            source,
        })?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a micro-benchmark as ONNX with random weights into `dir` and profiles the file,
/// so the fit sees exactly what `flopscope predict FILE` would.
pub(crate) fn write_and_profile(
    m: &suite::Micro,
    dir: &Path,
    index: usize,
) -> Result<(PathBuf, Profile)> {
    let path = dir.join(format!("micro{index}.onnx"));
    flopscope_core::write::write_onnx(
        &m.graph,
        &path,
        flopscope_core::write::Weights::Random(index as u64),
    )?;
    let p = flopscope_core::profile_path(&path, &Default::default())?;
    Ok((path, p))
}

/// The inputs of a profiled micro-benchmark (all f32, all shapes known).
fn input_specs(p: &Profile) -> Result<Vec<InputSpec>> {
    p.inputs
        .iter()
        .map(|i| {
            Ok(InputSpec {
                name: i.name.clone(),
                dtype: flopscope_core::graph::DType::F32,
                shape: i.shape.clone().ok_or_else(|| {
                    Error::Runtime(format!("calibration input '{}' has no shape", i.name))
                })?,
            })
        })
        .collect()
}

/// The fastest latency (ms) of one file on ONNX Runtime: the time of a run nothing else
/// interrupted. On a busy machine the median of a long run includes other processes' time
/// slices while a microsecond kernel's rarely does, which would bias the fit by size.
fn time_ort(rt: &dyn Runtime, path: &Path, p: &Profile, seconds: f64) -> Result<f64> {
    let mut s = rt.load(path, &input_specs(p)?, 0)?;
    for _ in 0..3 {
        s.run()?;
    }
    let mut stop = crate::Stopper::new(Some(500), Some(seconds), None);
    loop {
        let t = Instant::now();
        s.run()?;
        if stop.push(t.elapsed().as_secs_f64() * 1e3) {
            break;
        }
    }
    Ok(crate::stats::summarize(stop.samples()).min)
}

/// Today's date, UTC, `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    flopscope_core::machine::utc(secs)[..10].to_string()
}

/// The largest cache CPU 0 sees, MiB, as Linux reports it (`/sys/…/cache/index*/size`, e.g.
/// `32768K`); `None` elsewhere.
fn last_level_cache_mb() -> Option<f64> {
    let dir = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache").ok()?;
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("size")).ok())
        .filter_map(|s| {
            let s = s.trim();
            let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
            let kib: f64 = n.parse().ok()?;
            match unit {
                "K" => Some(kib / 1024.0),
                "M" => Some(kib),
                _ => None,
            }
        })
        .reduce(f64::max)
}

/// This machine as a catalog entry: the measured roof as its peak and bandwidth (cited as
/// [`SOURCE_ID`]), its memory, and its logical CPUs as cores (the roof's own scale).
pub fn local_device(key: &str, m: &Machine) -> Result<(Device, flopscope_core::device::SourceDoc)> {
    let memory_gb = crate::machine::machine_memory().map_or(1.0, |b| b as f64 / 1_073_741_824.0);
    let mut v = serde_json::json!({
        "key": key,
        "name": format!("{} (calibrated)", m.cpu_model),
        "class": "cpu",
        "arch": m.arch,
        "peak_tflops": {"fp32": m.peak_gflops / 1e3},
        "memory_bandwidth_gbs": m.bandwidth_gbs,
        "memory_gb": memory_gb,
        "units": {"cores": m.logical_cpus, "simd": m.isa},
        "sources": {
            "peak_tflops": SOURCE_ID,
            "memory_bandwidth_gbs": SOURCE_ID,
            "memory_gb": SOURCE_ID,
            "units": SOURCE_ID,
        },
        "notes": format!(
            "Measured here: peak = FMA loop on every logical CPU ({:.1} GFLOP/s, {:.1} per core), \
             bandwidth = copy on every logical CPU ({:.1} GB/s); memory = what this process may use.",
            m.peak_gflops, m.peak_gflops_per_core, m.bandwidth_gbs
        ),
    });
    // The last-level cache: what a calibration's efficiencies above 1 hold for (docs/predict.md).
    if let Some(mb) = last_level_cache_mb() {
        v["l2_mb"] = serde_json::json!(mb);
        v["sources"]["l2_mb"] = serde_json::json!(SOURCE_ID);
    }
    let d: Device = serde_json::from_value(v)
        .map_err(|e| Error::Runtime(format!("cannot describe this machine: {e}")))?;
    let doc = flopscope_core::device::SourceDoc {
        title: format!(
            "flopscope machine: measured peak and bandwidth of {} ({})",
            m.cpu_model,
            flopscope_core::machine::utc(m.measured_unix)
        ),
        publisher: format!("flopscope {}", m.flopscope_version),
        url: "flopscope machine --format json".into(),
        year: None,
    };
    Ok((d, doc))
}

/// Runs the suite on this machine (`m`: its measured roof) and fits the device's parameters.
pub fn calibrate(
    o: &CalibrateOptions,
    m: &Machine,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Calibrated> {
    let start = Instant::now();
    let key = o.device_name.clone().unwrap_or_else(|| "local".into());
    let (mut device, doc) = local_device(&key, m)?;
    let mut sources: std::collections::BTreeMap<_, _> =
        [(SOURCE_ID.to_string(), doc)].into_iter().collect();
    let dir = TempDir::new("calibrate")?;
    let micros = suite::suite();
    let total = micros.len();
    let mut samples = Vec::with_capacity(total);
    let (machine_name, runtime_version) = match o.backend {
        Backend::OnnxRuntime => {
            let rt = crate::onnxruntime::OnnxRuntime::new(o.ort_lib.as_deref(), o.threads)?;
            for (i, micro) in micros.iter().enumerate() {
                progress(Progress::Measuring {
                    done: i,
                    total,
                    name: &micro.name,
                });
                let (path, p) = write_and_profile(micro, &dir.0, i)?;
                let ms = time_ort(&rt, &path, &p, o.seconds_per_model)?;
                samples.push(fit::Sample {
                    name: micro.name.clone(),
                    profile: p,
                    measured_ms: ms,
                });
            }
            (m.cpu_model.clone(), format!("onnxruntime {}", rt.version()))
        }
        Backend::Torch | Backend::TorchCompile => {
            let mut files = Vec::with_capacity(total);
            for (i, micro) in micros.iter().enumerate() {
                let (path, p) = write_and_profile(micro, &dir.0, i)?;
                files.push((micro.name.clone(), path, p));
            }
            let run = torch::time_suite(o, &files, &dir.0, progress)?;
            if run.cuda {
                // A GPU's figures come from its catalog entry (no roof is measured for it).
                let name = o.device_name.as_deref().ok_or_else(|| {
                    Error::Usage(format!(
                        "torch runs on CUDA ({}): give --device-name KEY naming its entry in \
                         `flopscope devices`, whose peaks and bandwidth the fit uses",
                        run.device
                    ))
                })?;
                let c = Catalog::builtin();
                device = c.find(name)?.clone();
                sources = c
                    .sources
                    .iter()
                    .filter(|(id, _)| device.sources.values().any(|s| s == *id))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
            }
            for ((name, _, p), ms) in files.into_iter().zip(run.times_ms) {
                samples.push(fit::Sample {
                    name,
                    profile: p,
                    measured_ms: ms,
                });
            }
            let machine = if run.cuda {
                run.device
            } else {
                m.cpu_model.clone()
            };
            (machine, format!("torch {}", run.version))
        }
    };
    progress(Progress::Fitting);
    let catalog = Catalog::builtin();
    let target = Target::new(device.clone(), catalog, Params::builtin())?;
    let options = predict::Options {
        dtype: Some(Dtype::Fp32),
        backend: Some(o.backend),
        threads: Some(o.threads),
    };
    let basis = format!(
        "flopscope calibrate: {total} micro-benchmarks on {machine_name}, {runtime_version}, {} thread(s), {}",
        o.threads,
        today()
    );
    let fitted = fit::fit(&samples, &target, options, &basis)?;
    device.calibration = Some(Calibration {
        backend: o.backend.as_str().into(),
        threads: (device.class == flopscope_core::device::DeviceClass::Cpu)
            .then_some(o.threads as u32),
        date: today(),
        machine: machine_name,
        efficiency: fitted.efficiency.clone(),
        error_band: None,
    });
    let out = Catalog {
        schema: flopscope_core::device::SCHEMA.into(),
        sources,
        devices: vec![device],
    };
    out.validate().map_err(Error::Runtime)?;
    Ok(Calibrated {
        catalog: out,
        fit: fitted,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Where a calibration of `key` through `backend` is cached: beside the machine measurement
/// (`$FLOPSCOPE_CACHE_DIR`, …; see [`crate::machine::cache_path`]).
pub fn cache_path(key: &str, backend: Backend) -> Option<PathBuf> {
    let machine = crate::machine::cache_path()?;
    Some(machine.with_file_name(format!("device-{key}-{}.json", backend.as_str())))
}

/// Writes a device file (through a temporary file and a rename).
pub fn save(c: &Catalog, path: &Path) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(c).unwrap_or_default() + "\n";
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
}

/// Checks `o`, runs [`calibrate`] (this machine's roof measured first when not cached) and
/// saves the device file in the cache; returns it with its path. `notify` hears what starts.
pub fn calibrate_and_save(
    o: &CalibrateOptions,
    notify: &mut dyn FnMut(&str),
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(Calibrated, PathBuf)> {
    if let Some(n) = &o.device_name {
        if n.is_empty() || *n != n.to_lowercase() || n.contains(char::is_whitespace) {
            return Err(Error::Usage(format!(
                "--device-name '{n}' must be lowercase without spaces"
            )));
        }
    }
    if o.threads == 0 {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    if !(o.seconds_per_model.is_finite() && o.seconds_per_model > 0.0) {
        return Err(Error::Usage(format!(
            "--seconds must be a positive number, got {}",
            o.seconds_per_model
        )));
    }
    let key = o.device_name.as_deref().unwrap_or("local");
    let path = cache_path(key, o.backend).ok_or_else(|| {
        Error::Usage("no cache directory: set FLOPSCOPE_CACHE_DIR (or HOME)".into())
    })?;
    let (machine, unsaved) = crate::machine::this_machine(false, &mut || {
        notify("measuring this machine's peak FLOP/s and bandwidth (a few seconds, once)…")
    })?;
    if let Some(why) = unsaved {
        notify(&format!(
            "warning: the machine measurement was not cached: {why}"
        ));
    }
    let c = calibrate(o, &machine, progress)?;
    save(&c.catalog, &path)?;
    Ok((c, path))
}

/// This machine's calibrated device for `backend`: the cached calibration when one was made
/// on this CPU, else a new one with `threads` threads (saved; `notify` says so first).
pub fn local(backend: Backend, threads: usize, notify: &mut dyn FnMut(&str)) -> Result<Device> {
    let path = cache_path("local", backend).ok_or_else(|| {
        Error::Usage("no cache directory: set FLOPSCOPE_CACHE_DIR (or HOME)".into())
    })?;
    let here = crate::machine::cpu_model();
    let cached = read_device_file(&path)
        .ok()
        .filter(|d| d.calibration.as_ref().is_some_and(|c| c.machine == here));
    if let Some(d) = cached {
        return Ok(d);
    }
    notify(&format!(
        "no calibration of this machine for {b} yet: running `flopscope calibrate --backend {b} \
         --threads {threads}` once (about a minute)…",
        b = backend.as_str()
    ));
    let o = CalibrateOptions {
        backend,
        threads,
        ..CalibrateOptions::default()
    };
    let (c, path) = calibrate_and_save(&o, notify, &mut |_| {})?;
    notify(&format!("calibration saved: {}", path.display()));
    Ok(c.catalog.devices[0].clone())
}

/// The device of a calibrated device file: its one entry, which must carry a calibration.
pub fn read_device_file(path: &Path) -> Result<Device> {
    let c = Catalog::from_file(path)?;
    let invalid = |why: String| Error::Invalid(format!("{}: {why}", path.display()));
    match c.devices.as_slice() {
        [d] if d.calibration.is_some() => Ok(d.clone()),
        [d] => Err(invalid(format!(
            "device '{}' has no calibration (a device file is written by `flopscope calibrate`)",
            d.key
        ))),
        ds => Err(invalid(format!(
            "a device file holds one device, this one holds {}",
            ds.len()
        ))),
    }
}
