//! In-process time of `flopscope_core::profile_path` on model files: load, shapes, costs, formulas.
//!
//! `cargo bench -p flopscope-core --bench profile_files -- FILE [--dim NAME=N]... [FILE ...]` (absolute
//! paths: cargo runs benches from the crate's folder)
//! prints one JSON line per file: `{"file": ..., "runs": N, "median_ms": ..., "min_ms": ...}`.
//! `bench/profile_speed.py` uses it to compare with other tools' in-process times.

use std::time::Instant;

// The allocator the `flopscope` binary uses, so the numbers are the CLI's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let mut files: Vec<(String, flopscope_core::Options)> = Vec::new();
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        if a == "--dim" {
            let spec = args.next().expect("--dim NAME=N");
            let (k, v) = spec.split_once('=').expect("NAME=N");
            let last = files.last_mut().expect("a file before --dim");
            last.1
                .dims
                .push((k.to_string(), v.parse().expect("a number")));
        } else {
            files.push((a, flopscope_core::Options::default()));
        }
    }
    for (file, opts) in files {
        // cargo runs benches from the crate's folder: give absolute paths.
        let path = std::path::Path::new(&file);
        if let Err(e) = flopscope_core::profile_path(path, &opts) {
            eprintln!("{file}: {e}");
            std::process::exit(1);
        }
        // Warm up (caches, allocator, CPU clock) for a quarter second before timing.
        let warm = Instant::now();
        while warm.elapsed().as_secs_f64() < 0.25 {
            std::hint::black_box(flopscope_core::profile_path(path, &opts).expect("profiles"));
        }
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < 200 && (times.len() < 10 || start.elapsed().as_secs_f64() < 2.0) {
            let t = Instant::now();
            let p = flopscope_core::profile_path(path, &opts).expect("profiles");
            std::hint::black_box(p);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{{\"file\": {:?}, \"runs\": {}, \"median_ms\": {:.4}, \"min_ms\": {:.4}}}",
            file,
            times.len(),
            times[times.len() / 2],
            times[0]
        );
    }
}
