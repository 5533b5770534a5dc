//! `flopscope calibrate`: this machine's time-model parameters, as a device file.

use std::path::PathBuf;

use flopscope_bench::calibrate::{self, CalibrateOptions, Progress};
use flopscope_core::predict::Backend;
use flopscope_core::Error;

use crate::write_out;

/// Arguments of `flopscope calibrate`.
#[derive(clap::Args)]
pub(crate) struct CalibrateArgs {
    /// The runtime to calibrate: onnxruntime, torch or torch.compile (the torch ones run a
    /// Python helper, on CUDA when torch sees a GPU).
    // Parsed after clap, so that a bad value is one line (clap adds a hint).
    #[arg(long, default_value = "onnxruntime")]
    backend: String,
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

/// Progress lines on standard error, one per ten micro-benchmarks.
fn progress() -> impl FnMut(Progress<'_>) {
    move |p: Progress<'_>| match p {
        Progress::Measuring { done, total, name } if done % 10 == 0 => {
            eprintln!("calibrate: {done}/{total} {name}")
        }
        Progress::Fitting => eprintln!("calibrate: fitting"),
        _ => {}
    }
}

pub(crate) fn calibrate(a: CalibrateArgs) -> Result<(), Error> {
    let o = CalibrateOptions {
        backend: Backend::parse(&a.backend)?,
        threads: a.threads,
        device_name: a.device_name,
        seconds_per_model: a.seconds,
        ort_lib: a.ort_lib,
        python: Some(a.python),
    };
    let (c, path) = calibrate::calibrate_and_save(&o, &mut |m| eprintln!("{m}"), &mut progress())?;
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
