//! `flopscope predict`: the JSON document, the time model reduced to the roofline when every
//! efficiency is 1 (checked against the roofline recomputed here from `profile -f json`),
//! power modes, device files, and bad input refused with one line.

use crate::common::*;

/// Parameters under which the model is the plain roofline: full efficiency at every size, no
/// launch overhead.
fn roofline_params(dir: &std::path::Path) -> String {
    let ops = same_for_every_class(1.0, 0.0, 1.0);
    let body = format!(
        r#"{{"schema": "flopscope.predict-params/1", "profiles": {{
            "gpu": {{"basis": "roofline", "overhead_us": 0, "ops": {{{ops}}}}},
            "cpu": {{"basis": "roofline", "overhead_us": 0, "ops": {{{ops}}}}}}}}}"#
    );
    let f = dir.join("roofline.json");
    std::fs::write(&f, body).unwrap();
    f.to_str().unwrap().to_string()
}

#[test]
fn at_full_efficiency_the_prediction_is_the_roofline() {
    let dir = tmpdir("predict-roofline");
    let params = roofline_params(&dir);
    let model = resnet18_10_classes(&dir);
    let m = model.to_str().unwrap();
    // fp32 on an RTX 4090: every layer at the fp32 peak, 82.6 TFLOP/s, and 1,008 GB/s
    // (Ada whitepaper); PyTorch eager fuses nothing.
    let j = run_json(&[
        "predict",
        m,
        "--device",
        "rtx4090",
        "--dtype",
        "fp32",
        "--backend",
        "torch",
        "--params",
        &params,
        "-f",
        "json",
    ]);
    assert_eq!(j["schema"], "flopscope.predict/1");
    assert_eq!(j["device"]["key"], "rtx4090");
    assert_eq!(j["dtype"], "fp32");
    assert_eq!(j["backend"], "torch");
    let profile = run_json(&["profile", m, "-f", "json"]);
    let expected = predicted_ms(&profile, 82_600.0, 1008.0);
    let got = j["latency_ms"].as_f64().unwrap();
    assert!(
        (got - expected).abs() < 1e-9 * expected.max(1.0),
        "{got} vs {expected}"
    );
    // Throughput is batch / latency; the layers' times add up to the latency.
    let batch = j["batch"].as_f64().unwrap();
    assert_eq!(batch, 1.0);
    assert!((j["throughput_per_s"].as_f64().unwrap() - 1e3 / got).abs() < 1e-6);
    let layers = j["layers"].as_array().unwrap();
    assert_eq!(layers.len(), profile["layers"].as_array().unwrap().len());
    let sum: f64 = layers.iter().map(|l| l["time_ms"].as_f64().unwrap()).sum();
    assert!((sum - got).abs() < 1e-9);
    // ResNet-18's weights and activations fit 24 GiB.
    assert_eq!(j["fits"], true);
    assert_eq!(j["memory"]["device_bytes"], 24u64 << 30);
}

#[test]
fn a_power_mode_a_device_file_and_the_text_report() {
    let dir = tmpdir("predict-modes");
    let params = roofline_params(&dir);
    // resnet18 at batch 1 under the roofline is memory- or compute-bound layer by layer; the
    // Jetson's 15 W mode has lower peaks and bandwidth than MAXN, so it is slower.
    let t = |device: &str| {
        let j = run_json(&[
            "predict", "resnet18", "--device", device, "--dtype", "fp16", "--params", &params,
            "-f", "json",
        ]);
        j["latency_ms"].as_f64().unwrap()
    };
    assert!(t("jetson-agx-orin:15W") > t("jetson-agx-orin:MAXN"));
    // A device file of one entry is predicted for like a catalog device.
    let file = dir.join("board.json");
    std::fs::write(
        &file,
        r#"{"schema": "flopscope.devices/1",
            "sources": {"lab": {"title": "our measurement", "publisher": "us", "url": "file:///lab"}},
            "devices": [{"key": "lab-board", "name": "Lab board", "class": "gpu-edge",
              "peak_tflops": {"fp32": 1.0}, "memory_bandwidth_gbs": 100, "memory_gb": 8,
              "sources": {"peak_tflops": "lab", "memory_bandwidth_gbs": "lab", "memory_gb": "lab"}}]}"#,
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let j = run_json(&[
        "predict", "resnet18", "--device", f, "--params", &params, "-f", "json",
    ]);
    assert_eq!(j["device"]["key"], "lab-board");
    let profile = run_json(&["profile", "resnet18", "-f", "json"]);
    // No fp16 rate: products run at the fp32 peak of 1 TFLOP/s.
    let expected = predicted_ms(&profile, 1000.0, 100.0);
    assert!((j["latency_ms"].as_f64().unwrap() - expected).abs() < 1e-9 * expected);
    // The text report states the error band with the numbers.
    let text = run_ok(&[
        "predict", "resnet18", "--device", "rtx4090", "--dtype", "amp",
    ]);
    assert!(
        text.contains("Latency") && text.contains("error "),
        "{text}"
    );
    assert!(text.contains("The 15 slowest layers"), "{text}");
}

#[test]
fn bad_devices_modes_and_dtypes_are_one_line() {
    for (args, code, needle) in [
        (&["--device", "rtx4909"][..], 2, "unknown device 'rtx4909'"),
        (
            &["--device", "jetson-agx-orin:99W"][..],
            2,
            "no power mode '99W'",
        ),
        (
            &["--device", "rtx4090", "--dtype", "fp64"][..],
            2,
            "unknown dtype 'fp64'",
        ),
        (
            &["--device", "rtx4090", "--backend", "trt"][..],
            2,
            "unknown backend 'trt'",
        ),
    ] {
        let mut a = vec!["predict", "resnet18"];
        a.extend_from_slice(args);
        let out = flopscope(&a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn compare_adds_the_same_predictions_as_predict() {
    let models = ["resnet18", "mobilenet_v2"];
    let mut args = vec!["compare"];
    args.extend(models);
    args.extend(["--device", "l4", "--dtype", "fp16", "-f", "json"]);
    let c = run_json(&args);
    for (e, m) in c["entries"].as_array().unwrap().iter().zip(models) {
        let p = run_json(&[
            "predict", m, "--device", "l4", "--dtype", "fp16", "-f", "json",
        ]);
        assert_eq!(e["predicted"]["latency_ms"], p["latency_ms"], "{m}");
        assert_eq!(e["predicted"]["device"], "l4");
        assert_eq!(e["predicted"]["fits"], p["fits"]);
    }
    let text = run_ok(&["compare", "resnet18", "mobilenet_v2", "--device", "l4"]);
    assert!(
        text.contains("l4 ms") && text.contains("Predicted on l4"),
        "{text}"
    );
}

#[test]
fn a_gguf_checkpoint_is_served_time_to_first_token_decode_and_memory() {
    // Llama-2-70B shapes in Q8_0 (34 bytes per block of 32 weights), headers only.
    let dir = tmpdir("predict-gguf");
    let path = dir.join("llama-70b.Q8_0.gguf");
    let tensors = crate::llm::gguf_70b();
    crate::llm::write_gguf(&path, &crate::llm::META_70B, &tensors, 8, (32, 34));
    let p = path.to_str().unwrap();
    let numel: u64 = tensors.iter().map(|(_, s)| s.iter().product::<u64>()).sum();
    let weights = numel / 32 * 34;
    // KV cache: K and V (2) × 80 layers × 1,024 wide (8 KV heads of 128) × 2 bytes (f16),
    // per token: 327,680 B; at past 4,095 the step holds 4,096 tokens.
    let kv = 327_680u64 * 4096;
    let run = |device: &str| {
        run_json(&[
            "predict",
            p,
            "--device",
            device,
            "--dim",
            "seq=512",
            "--dim",
            "past=4095",
            "-f",
            "json",
        ])
    };
    let h100 = run("h100-sxm");
    let s = &h100["llm"];
    assert_eq!(s["memory"]["weight_bytes"], weights);
    assert_eq!(s["memory"]["kv_cache_bytes"], kv);
    // The headline of a served model is its time to first token and decode rate.
    assert_eq!(h100["latency_ms"], s["prefill"]["time_ms"]);
    assert_eq!(h100["throughput_per_s"], s["decode"]["tokens_per_s"]);
    // 74.4 GB of weights fit 80 GiB (85.9 GB) with the cache; not a 24 GiB RTX 4090.
    assert_eq!(h100["fits"], true);
    let small = run("rtx4090");
    assert_eq!(small["fits"], false);
    assert_eq!(small["llm"]["memory"]["max_batch"], 0);
    // Decode at batch 1 cannot beat reading the weights (less one embedding row each step)
    // and the cache once at the H100 SXM's 3,350 GB/s.
    let read = (weights - 8192 * 34 / 32 * 31_999) as f64 + kv as f64;
    let ceiling = 3350e9 / read;
    let rate = s["decode"]["tokens_per_s"].as_f64().unwrap();
    assert!(
        rate < ceiling && rate > 0.3 * ceiling,
        "{rate} vs {ceiling}"
    );
    // The table gives the three serving lines.
    let text = run_ok(&["predict", p, "--device", "h100-sxm"]);
    assert!(
        text.contains("Time to first token") && text.contains("Decode"),
        "{text}"
    );
}
