//! Stand-in for `flopscope predict CHECKPOINT --device local` while that command is not
//! built: the serving prediction of a checkpoint on this machine's measured roof.
//!
//! ```text
//! flopscope machine -f json > machine.json
//! cargo run -p flopscope-core --example llm_serving -- predict model.gguf \
//!     --device machine.json [--threads T] [--memory-gb M] --dim seq=128 --dim past=128 -f json
//! ```
//!
//! It takes the arguments `bench/llm_llamacpp.py` passes to `flopscope predict` (`--device` is
//! a `flopscope machine -f json` file here) and prints the prediction as JSON. The device is a
//! CPU whose fp32 peak and bandwidth are the measured all-core figures, with the built-in
//! `cpu` efficiency profile.

use std::path::Path;

use flopscope_core::device::{Catalog, Device};
use flopscope_core::machine::Machine;
use flopscope_core::predict::{predict, Options, Params, Target};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut file = None;
    let (mut machine, mut threads, mut memory_gb) = (None, None, 16.0);
    let mut opts = flopscope_core::Options::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "predict" => {}
            "-f" | "--format" => {
                value()?;
            }
            "--device" => machine = Some(value()?),
            "--threads" => threads = Some(value()?.parse::<usize>().map_err(|e| e.to_string())?),
            "--memory-gb" => memory_gb = value()?.parse::<f64>().map_err(|e| e.to_string())?,
            "--dim" => {
                let v = value()?;
                let (k, n) = v.split_once('=').ok_or(format!("--dim {v}: not NAME=N"))?;
                opts.dims
                    .push((k.to_string(), n.parse().map_err(|_| format!("--dim {v}"))?));
            }
            f => file = Some(f.to_string()),
        }
    }
    let file = file.ok_or("no checkpoint given")?;
    let m = Machine::from_file(Path::new(
        &machine.ok_or("--device MACHINE.json is needed")?,
    ))
    .map_err(|e| e.to_string())?;
    let profile =
        flopscope_core::llm::profile(Path::new(&file), &opts).map_err(|e| e.to_string())?;
    let device: Device = serde_json::from_value(serde_json::json!({
        "key": "local", "name": m.cpu_model, "class": "cpu",
        "peak_tflops": {"fp32": m.peak_gflops / 1e3},
        "memory_bandwidth_gbs": m.bandwidth_gbs, "memory_gb": memory_gb,
        "units": {"cores": m.logical_cpus}, "sources": {}
    }))
    .map_err(|e| e.to_string())?;
    let t =
        Target::new(device, Catalog::builtin(), Params::builtin()).map_err(|e| e.to_string())?;
    let o = Options {
        dtype: None,
        backend: None,
        threads,
    };
    let p = predict(&profile, &t, o).map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&p).map_err(|e| e.to_string())?
    );
    Ok(())
}
