//! `flopscope devices`: the catalog listed, one device with its sources, a user file merged, and
//! bad names and files refused with one line.

use crate::common::*;

#[test]
fn the_catalog_lists_every_class_and_one_device_shows_its_sources() {
    let all = run_json(&["devices", "-f", "json"]);
    assert_eq!(all["schema"], "flopscope.devices/1");
    let devices = all["devices"].as_array().unwrap();
    assert!(devices.len() >= 30, "{}", devices.len());
    let text = run_ok(&["devices"]);
    for key in [
        "rtx4090",
        "h100-sxm",
        "jetson-agx-orin",
        "m2-max",
        "i7-12700h",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(key)),
            "{key} missing:\n{text}"
        );
    }
    let cpus = run_json(&["devices", "--class", "cpu", "-f", "json"]);
    let cpus = cpus["devices"].as_array().unwrap();
    assert!(!cpus.is_empty() && cpus.iter().all(|d| d["class"] == "cpu"));

    // By alias, any case; the JSON of one device is a catalog with the documents it cites.
    let one = run_json(&["devices", "GeForce-RTX-4090", "-f", "json"]);
    let d = &one["devices"][0];
    assert_eq!(one["devices"].as_array().unwrap().len(), 1);
    assert_eq!(d["key"], "rtx4090");
    // The Ada whitepaper's figures for the card.
    assert_eq!(d["peak_tflops"]["fp16"], 165.2);
    assert_eq!(d["memory_bandwidth_gbs"], 1008.0);
    let cited = d["sources"]["peak_tflops"].as_str().unwrap();
    assert!(one["sources"][cited]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let shown = run_ok(&["devices", "rtx4090"]);
    assert!(
        shown.contains("peak_tflops.fp16") && shown.contains("165.2 TFLOP/s"),
        "{shown}"
    );
}

#[test]
fn a_user_file_adds_a_device_and_bad_input_is_one_line() {
    let dir = tmpdir("devices-user");
    let file = dir.join("mine.json");
    std::fs::write(
        &file,
        r#"{"schema": "flopscope.devices/1",
            "sources": {"lab": {"title": "our measurement", "publisher": "us", "url": "file:///lab"}},
            "devices": [{"key": "lab-board", "name": "Lab board", "class": "gpu-edge",
              "peak_tflops": {"fp32": 2.5}, "memory_bandwidth_gbs": 60, "memory_gb": 8,
              "sources": {"peak_tflops": "lab", "memory_bandwidth_gbs": "lab", "memory_gb": "lab"}}]}"#,
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let j = run_json(&["devices", "lab-board", "--devices", f, "-f", "json"]);
    assert_eq!(j["devices"][0]["peak_tflops"]["fp32"], 2.5);

    let out = flopscope(&["devices", "rtx4909"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("unknown device 'rtx4909'") && err.contains("rtx4090"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    std::fs::write(
        &file,
        r#"{"schema": "flopscope.devices/1", "devices": [{"key": 1}]}"#,
    )
    .unwrap();
    let out = flopscope(&["devices", "--devices", f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("not a valid device catalog"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn local_is_listed_once_calibrated() {
    let dir = tmpdir("devices-local");
    let run = |args: &[&str]| {
        command()
            .args(args)
            .env("FLOPSCOPE_CACHE_DIR", &dir)
            .output()
            .unwrap()
    };
    // Not calibrated yet: one line saying how to make it.
    let out = run(&["devices", "local"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("flopscope calibrate"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // A calibration in the cache (as `calibrate` writes it) is listed and shown.
    std::fs::write(
        dir.join("device-local-onnxruntime.json"),
        r#"{"schema": "flopscope.devices/1",
            "sources": {"m": {"title": "measured", "publisher": "us", "url": "file:///m"}},
            "devices": [{"key": "local", "name": "This box (calibrated)", "class": "cpu",
              "peak_tflops": {"fp32": 0.1}, "memory_bandwidth_gbs": 16, "memory_gb": 8,
              "units": {"cores": 2},
              "sources": {"peak_tflops": "m", "memory_bandwidth_gbs": "m", "memory_gb": "m", "units": "m"}}]}"#,
    )
    .unwrap();
    let out = run(&["devices", "local", "-f", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["devices"][0]["name"], "This box (calibrated)");
    let out = run(&["devices", "--class", "cpu"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("local")), "{text}");
}
