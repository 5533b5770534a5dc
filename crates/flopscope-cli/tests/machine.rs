//! `flopscope machine`: the measured peak must agree with vector width × FMA units × clock,
//! each found independently. One test in its own binary, so no other test shares the cores
//! while it measures.

mod common;

use std::process::Command;

use common::*;

fn machine(cache: &std::path::Path, args: &[&str]) -> (serde_json::Value, f64) {
    let t = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flopscope"))
        .arg("machine")
        .args(args)
        .args(["-f", "json"])
        .env("FLOPSCOPE_CACHE_DIR", cache)
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), secs)
}

/// The widest vector unit /proc/cpuinfo lists (the kernel's view, not the program's CPUID).
fn cpuinfo_vector_bits() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let flags: Vec<&str> = info
        .lines()
        .find(|l| l.starts_with("flags") || l.starts_with("Features"))?
        .split_whitespace()
        .collect();
    let has = |f: &str| flags.contains(&f);
    Some(if has("avx512f") {
        512
    } else if has("avx2") && has("fma") {
        256
    } else {
        128
    })
}

#[test]
fn peak_equals_vector_width_times_fma_units_times_clock() {
    let cache = tmpdir("machine");
    let (m, secs) = machine(&cache, &[]);
    let f = |k: &str| m[k].as_f64().unwrap_or_else(|| panic!("{k} in {m}"));
    assert_eq!(m["schema"], "flopscope.machine/1");
    assert_eq!(m["source"], "measured");
    assert!(secs < 15.0, "a few seconds, took {secs:.1}");

    if let Some(bits) = cpuinfo_vector_bits() {
        assert_eq!(m["vector_bits"].as_u64(), Some(bits), "{m}");
    }
    let lanes = f("f32_lanes");
    assert_eq!(lanes * 32.0, f("vector_bits"));
    let clock = f("clock_ghz");
    assert!((0.5..7.0).contains(&clock), "clock {clock} GHz");

    // The clock is right if a dependent FMA chain takes a whole number of cycles by it
    // (4 on current x86 cores): a clock 10% off would put it ~0.4 cycles from any integer.
    let lat = f("fma_latency_cycles");
    assert!(
        (lat - lat.round()).abs() < 0.15 && (2.0..=8.0).contains(&lat.round()),
        "FMA latency {lat} cycles"
    );
    // FMAs per cycle at full width is a whole number of units, and the measured peak is
    // lanes × 2 × units × clock.
    let per_cycle = f("fma_per_cycle");
    let units = f("fma_units");
    assert!(
        units >= 1.0 && (per_cycle - units).abs() < 0.1 * units,
        "{per_cycle}"
    );
    let peak1 = f("peak_gflops_per_core");
    let expected = lanes * 2.0 * units * clock;
    assert!(
        (peak1 / expected - 1.0).abs() < 0.1,
        "measured {peak1:.1} GFLOP/s vs {lanes} lanes × 2 × {units} × {clock:.2} GHz = {expected:.1}"
    );
    assert!((f("theoretical_gflops_per_core") - expected).abs() < 1e-6 * expected);

    // Every CPU together: close to one core times the CPUs (they are separate cores here or
    // hyper-threads sharing FMA units, so between one core's worth and all of them).
    let cpus = f("logical_cpus");
    let all = f("peak_gflops");
    assert!(
        all >= 0.9 * peak1 && all <= 1.1 * peak1 * cpus,
        "all {all:.1} vs {cpus} × {peak1:.1}"
    );
    // Copy bandwidth of DRAM: between a slow laptop's and a many-channel server's.
    let (bw1, bw) = (f("bandwidth_gbs_per_core"), f("bandwidth_gbs"));
    assert!(
        (1.0..1000.0).contains(&bw1) && bw >= 0.8 * bw1,
        "{bw1} {bw}"
    );
    assert!(f("copy_bytes") >= 16.0 * 1048576.0);

    // The second call reads the cache: same numbers, no measuring.
    let (again, secs) = machine(&cache, &[]);
    assert_eq!(again["source"], "cache");
    assert_eq!(again["peak_gflops"], m["peak_gflops"]);
    assert!(secs < 2.0, "cached call took {secs:.1} s");
    // A device spec is echoed as given, and `profile --machine` takes a saved measurement.
    let (spec, _) = machine(&cache, &["--peak-gflops", "2000", "--bandwidth-gbs", "100"]);
    assert_eq!(spec["source"], "spec");
    assert_eq!(
        (spec["peak_gflops"].as_f64(), spec["bandwidth_gbs"].as_f64()),
        (Some(2000.0), Some(100.0))
    );
    let saved = cache.join("saved.json");
    std::fs::write(&saved, serde_json::to_string(&m).unwrap()).unwrap();
    let p = run_json(&[
        "profile",
        data().join("models/resnet18.onnx").to_str().unwrap(),
        "--machine",
        saved.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(p["roofline"]["source"], "file");
    assert_eq!(p["roofline"]["peak_gflops"], m["peak_gflops"]);
}
