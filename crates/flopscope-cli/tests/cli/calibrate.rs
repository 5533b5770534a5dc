//! `flopscope calibrate` and the calibrated devices `predict` reads: a device file's own
//! parameters replace the class profile (checked against the formula worked out here), a
//! calibration's file round-trips through `predict --device FILE` and `--device local`, and
//! bad files and arguments are refused with one line.

use crate::common::*;

/// A device file as `calibrate` writes it: one `cpu` entry of 2 cores at 1 TFLOP/s and
/// 100 GB/s, calibrated on 1 thread with every class at eff 0.5, no size penalty, full
/// bandwidth and no launch overhead.
fn calibrated_file(dir: &std::path::Path) -> String {
    let ops = same_for_every_class(0.5, 0.0, 1.0);
    let body = format!(
        r#"{{"schema": "flopscope.devices/1",
            "sources": {{"flopscope-machine": {{"title": "measured", "publisher": "flopscope",
                                                "url": "flopscope machine --format json"}}}},
            "devices": [{{"key": "desk", "name": "Desk CPU (calibrated)", "class": "cpu",
              "peak_tflops": {{"fp32": 1.0}}, "memory_bandwidth_gbs": 100, "memory_gb": 16,
              "units": {{"cores": 2}},
              "sources": {{"peak_tflops": "flopscope-machine",
                           "memory_bandwidth_gbs": "flopscope-machine",
                           "memory_gb": "flopscope-machine", "units": "flopscope-machine"}},
              "calibration": {{"backend": "onnxruntime", "threads": 1, "date": "2026-12-07",
                "machine": "Desk CPU",
                "efficiency": {{"basis": "test", "overhead_us": 0.0, "ops": {{{ops}}}}}}}}}]}}"#
    );
    let f = dir.join("desk.json");
    std::fs::write(&f, body).unwrap();
    f.to_str().unwrap().to_string()
}

#[test]
fn a_calibrated_device_is_predicted_with_its_own_parameters() {
    let dir = tmpdir("calibrated-file");
    let f = calibrated_file(&dir);
    // PyTorch eager fuses nothing, so every layer is max(compute, memory). On 1 thread of
    // 2 cores the peak is 1,000 / 2 = 500 GFLOP/s, at eff 0.5 that is 250 GFLOP/s; memory
    // at the full 100 GB/s.
    let j = run_json(&[
        "predict",
        "resnet18",
        "--device",
        &f,
        "--backend",
        "torch",
        "-f",
        "json",
    ]);
    assert_eq!(j["device"]["key"], "desk");
    assert_eq!(j["device"]["profile"], "calibrated");
    assert_eq!(j["threads"], 1);
    let profile = run_json(&["profile", "resnet18", "-f", "json"]);
    let expected = predicted_ms(&profile, 250.0, 100.0);
    let got = j["latency_ms"].as_f64().unwrap();
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
    // Both threads: the peak doubles, so the compute-bound layers take half as long.
    let j2 = run_json(&[
        "predict",
        "resnet18",
        "--device",
        &f,
        "--backend",
        "torch",
        "--threads",
        "2",
        "-f",
        "json",
    ]);
    let expected2 = predicted_ms(&profile, 500.0, 100.0);
    let got2 = j2["latency_ms"].as_f64().unwrap();
    assert!(
        (got2 - expected2).abs() < 1e-9 * expected2,
        "{got2} vs {expected2}"
    );
}

#[test]
fn bad_device_files_and_calibrate_arguments_are_one_line() {
    let dir = tmpdir("calibrate-bad");
    let broken = dir.join("broken.json");
    std::fs::write(
        &broken,
        "{\"schema\": \"flopscope.devices/1\", \"devices\": [",
    )
    .unwrap();
    let two = dir.join("two.json");
    let one = std::fs::read_to_string(calibrated_file(&dir)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&one).unwrap();
    let mut second = v["devices"][0].clone();
    second["key"] = "desk2".into();
    v["devices"].as_array_mut().unwrap().push(second);
    std::fs::write(&two, v.to_string()).unwrap();
    let missing = dir.join("missing.json");
    let (b, t, m) = (
        broken.to_str().unwrap(),
        two.to_str().unwrap(),
        missing.to_str().unwrap(),
    );
    for (args, code, needle) in [
        (
            vec!["predict", "resnet18", "--device", m],
            3,
            "missing.json",
        ),
        (vec!["predict", "resnet18", "--device", b], 4, "broken.json"),
        (
            vec!["predict", "resnet18", "--device", t],
            2,
            "holds 2 devices",
        ),
        (
            vec!["calibrate", "--device-name", "My Box"],
            2,
            "must be lowercase without spaces",
        ),
        (vec!["calibrate", "--threads", "0"], 2, "at least 1"),
        (
            vec!["calibrate", "--backend", "tvm"],
            2,
            "unknown backend 'tvm'",
        ),
    ] {
        let out = command()
            .args(&args)
            .env("FLOPSCOPE_CACHE_DIR", &dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

/// The file `calibrate` writes is read back by `predict --device FILE`, and `--device local`
/// finds the same calibration in the cache instead of running a new one.
#[test]
fn calibrate_round_trips_through_predict() {
    if !requires("ONNX Runtime", have_onnxruntime()) {
        return;
    }
    let dir = tmpdir("calibrate-round-trip");
    let file = dir.join("here.json");
    let f = file.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = command()
            .args(args)
            .env("FLOPSCOPE_CACHE_DIR", &dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        (String::from_utf8(out.stdout).unwrap(), err)
    };
    let (text, _) = run(&["calibrate", "--seconds", "0.01", "-o", f]);
    assert!(text.contains("saved: "), "{text}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let d = &written["devices"][0];
    assert_eq!(d["key"], "local");
    assert_eq!(d["class"], "cpu");
    assert_eq!(d["calibration"]["backend"], "onnxruntime");
    assert_eq!(d["calibration"]["threads"], 1);
    assert_eq!(written["schema"], "flopscope.devices/1");
    assert_eq!(d["sources"]["peak_tflops"], "flopscope-machine");
    let latency = |out: &str| {
        let j: serde_json::Value = serde_json::from_str(out).unwrap();
        assert_eq!(j["device"]["profile"], "calibrated");
        j["latency_ms"].as_f64().unwrap()
    };
    let (from_file, _) = run(&["predict", "resnet18", "--device", f, "-f", "json"]);
    let (from_cache, err) = run(&["predict", "resnet18", "--device", "local", "-f", "json"]);
    assert!(!err.contains("no calibration"), "{err}");
    assert_eq!(latency(&from_file), latency(&from_cache));
}
