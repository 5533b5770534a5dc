//! `flopscope calibrate`, and the calibrated devices `predict --device local|FILE` reads.

use std::path::{Path, PathBuf};

use flopscope_bench::calibrate::{self, CalibrateOptions, Progress};
use flopscope_core::device::Device;
use flopscope_core::predict::Backend;
use flopscope_core::Error;

use crate::write_out;

/// Arguments of `flopscope calibrate`.
#[derive(clap::Args)]
pub(crate) struct CalibrateArgs {
    /// The runtime to calibrate: onnxruntime, torch or torch.compile (the torch ones run a
    /// Python helper, on CUDA when torch sees a GPU).
    #[arg(long, default_value = "onnxruntime", value_parser = |s: &str| Backend::parse(s).map_err(|e| e.to_string()))]
    backend: Backend,
    /// The device entry's key (lowercase, no spaces); `local` by default.
    #[arg(long, value_name = "NAME")]
    device_name: Option<String>,
    /// Intra-op threads (as `bench --threads`; `predict` scales the peak for other counts).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Also write the device file here (it is always saved in the cache directory).
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Seconds of timed runs per micro-benchmark.
    #[arg(long, default_value_t = 0.4, value_name = "S")]
    seconds: f64,
    /// The ONNX Runtime shared library (else ORT_DYLIB_PATH, else the `onnxruntime` Python
    /// package's).
    #[arg(long, value_name = "PATH")]
    ort_lib: Option<PathBuf>,
    /// The Python interpreter of the torch backends.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// Also list every micro-benchmark, measured against fitted.
    #[arg(long, short = 'v')]
    verbose: bool,
}

/// Runs the suite and saves the device file; returns its path in the cache.
fn run(o: &CalibrateOptions, quiet: bool) -> Result<(calibrate::Calibrated, PathBuf), Error> {
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
    let path = calibrate::cache_path(key, o.backend).ok_or_else(|| {
        Error::Usage("no cache directory: set FLOPSCOPE_CACHE_DIR (or HOME)".into())
    })?;
    let machine = crate::this_machine(false)?;
    let mut last = usize::MAX;
    let mut progress = |p: Progress<'_>| {
        if quiet {
            return;
        }
        match p {
            Progress::Measuring { done, total, name } if done / 10 != last / 10 => {
                last = done;
                eprintln!("calibrate: {done}/{total} {name}");
            }
            Progress::Fitting => eprintln!("calibrate: fitting"),
            _ => {}
        }
    };
    let c = calibrate::calibrate(o, &machine, &mut progress)?;
    calibrate::save(&c.catalog, &path)?;
    Ok((c, path))
}

pub(crate) fn calibrate(a: CalibrateArgs) -> Result<(), Error> {
    let o = CalibrateOptions {
        backend: a.backend,
        threads: a.threads,
        device_name: a.device_name,
        seconds_per_model: a.seconds,
        ort_lib: a.ort_lib,
        python: Some(a.python),
    };
    let (c, path) = run(&o, false)?;
    if let Some(out) = &a.output {
        calibrate::save(&c.catalog, out)?;
    }
    let d = &c.catalog.devices[0];
    let cal = d.calibration.as_ref().expect("calibrate sets it");
    let e = &cal.efficiency;
    let mut text = format!(
        "{} ({}), {} through {}, {} thread(s): {} micro-benchmarks in {:.0} s\n\
         peak {:.1} GFLOP/s, bandwidth {:.1} GB/s (measured: flopscope machine)\n\
         overhead {:.2} µs per kernel\n\
         {:<14} {:>8} {:>11} {:>8}\n",
        d.key,
        d.name,
        cal.machine,
        cal.backend,
        o.threads,
        c.fit.rows.len(),
        c.seconds,
        d.peak_tflops.fp32.unwrap_or(0.0) * 1e3,
        d.memory_bandwidth_gbs,
        e.overhead_us,
        "class",
        "eff",
        "half_gflop",
        "mem_eff"
    );
    for (class, k) in &e.ops {
        text += &format!(
            "{:<14} {:>8.3} {:>11.5} {:>8.3}\n",
            class.as_str(),
            k.eff,
            k.half_gflop,
            k.mem_eff
        );
    }
    text += &format!(
        "fit: median |error| {:.1}% over the micro-benchmarks\n",
        c.fit.median_abs_pct()
    );
    if a.verbose {
        for r in &c.fit.rows {
            text += &format!(
                "  {:<32} measured {:>9.4} ms  fitted {:>9.4} ms  {:+6.1}%\n",
                r.name,
                r.measured_ms,
                r.predicted_ms,
                (r.predicted_ms / r.measured_ms - 1.0) * 100.0
            );
        }
    }
    text += &format!("saved: {}\n", path.display());
    if let Some(out) = &a.output {
        text += &format!("saved: {}\n", out.display());
    }
    write_out(None, &text)
}

/// Whether a `--device` value names a file rather than a catalog device.
pub(crate) fn is_device_file(name: &str) -> bool {
    name.ends_with(".json") || name.contains(std::path::MAIN_SEPARATOR) || Path::new(name).is_file()
}

/// The device of a calibrated device file (`flopscope calibrate -o FILE`).
pub(crate) fn device_file(path: &Path) -> Result<Device, Error> {
    calibrate::read_device_file(path)
}

/// This machine's calibrated device for `backend` (ONNX Runtime when `None`): the cached
/// calibration, or a new one (said on standard error) when there is none for this machine.
pub(crate) fn local_device(backend: Option<Backend>, threads: usize) -> Result<Device, Error> {
    let backend = backend.unwrap_or(Backend::OnnxRuntime);
    let path = calibrate::cache_path("local", backend).ok_or_else(|| {
        Error::Usage("no cache directory: set FLOPSCOPE_CACHE_DIR (or HOME)".into())
    })?;
    let here = flopscope_bench::machine::cpu_model();
    let cached = calibrate::read_device_file(&path)
        .ok()
        .filter(|d| d.calibration.as_ref().is_some_and(|c| c.machine == here));
    if let Some(d) = cached {
        return Ok(d);
    }
    eprintln!(
        "no calibration of this machine for {} yet: running `flopscope calibrate --backend {} \
         --threads {threads}` once (about a minute)…",
        backend.as_str(),
        backend.as_str()
    );
    let o = CalibrateOptions {
        backend,
        threads,
        ..CalibrateOptions::default()
    };
    let (c, path) = run(&o, true)?;
    eprintln!("calibration saved: {}", path.display());
    Ok(c.catalog.devices[0].clone())
}
