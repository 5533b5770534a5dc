//! `flopscope bench`: the measurement harness (timings themselves are never asserted).

use crate::common::*;

fn bench_json(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["bench"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-f", "json", "--quiet"]);
    run_json(&a)
}

#[test]
fn reports_statistics_per_batch_in_a_versioned_schema() {
    let j = bench_json(&[
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--batch",
        "1,2",
        "--runs",
        "7",
        "--warmup",
        "2",
        "--backend",
        "tract",
    ]);
    assert_eq!(j["schema"], "flopscope.bench/1");
    assert_eq!(j["synthesized_weights"], true);
    let runs = j["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "one entry per batch size");
    for (r, batch) in runs.iter().zip([1u64, 2]) {
        assert_eq!(r["backend"], "tract");
        assert_eq!(r["backend_version"], flopscope_bench::tract::VERSION);
        assert_eq!(r["batch"], batch);
        assert_eq!(r["runs"], 7);
        let l = &r["latency_ms"];
        let v = |k: &str| l[k].as_f64().unwrap();
        assert!(
            v("min") <= v("median")
                && v("median") <= v("p90")
                && v("p90") <= v("p99")
                && v("p99") <= v("max")
        );
        assert!(v("min") > 0.0 && v("stddev") >= 0.0);
        // FPS is batch / median latency.
        let fps = r["fps"].as_f64().unwrap();
        assert!((fps - batch as f64 * 1000.0 / v("median")).abs() < 1e-6 * fps);
        assert!(r["load_ms"].as_f64().unwrap() > 0.0 && r["cold_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn stops_on_precision_or_the_run_cap() {
    // A loose precision stops early; the run cap bounds it either way.
    let j = bench_json(&[
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--precision",
        "50%",
        "--runs",
        "40",
        "--warmup",
        "1",
    ]);
    let n = j["runs"][0]["runs"].as_u64().unwrap();
    assert!((10..=40).contains(&n), "{n} runs");
}

#[test]
fn formats_and_bad_arguments() {
    let csv = run_ok(&[
        "bench",
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--runs",
        "3",
        "--warmup",
        "0",
        "-f",
        "csv",
        "-q",
    ]);
    assert!(csv.starts_with("backend,backend_version,batch,threads,runs,min_ms"));
    assert_eq!(csv.lines().count(), 2);
    let out = flopscope(&["bench", "squeezenet1_1", "--time", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    let out = flopscope(&["bench", "squeezenet1_1", "--precision", "-1%"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_model_the_runtime_cannot_load_is_a_clear_error() {
    let d = tmpdir("bench-unloadable");
    let mut m = model(
        17,
        vec![value("x", &["1", "8"])],
        vec![value("y", &["1", "8"])],
        vec![node("FancyOp", "fancy", &["x"], &["y"], vec![])],
        vec![],
    );
    m.opset_import
        .push(flopscope_core::onnx_pb::OperatorSetIdProto {
            domain: Some("com.example".into()),
            version: Some(1),
        });
    m.graph.as_mut().unwrap().node[0].domain = Some("com.example".into());
    let p = write(&d, "fancy", &m);
    let out = flopscope(&[
        "bench",
        p.to_str().unwrap(),
        "--runs",
        "1",
        "--backend",
        "tract",
    ]);
    assert_eq!(out.status.code(), Some(7));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tract") && err.contains("FancyOp"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // With `auto`, ONNX Runtime fails first (naming the op), then tract is tried.
    if !requires("ONNX Runtime's library", have_onnxruntime()) {
        return;
    }
    let out = flopscope(&["bench", p.to_str().unwrap(), "--runs", "1"]);
    assert_eq!(out.status.code(), Some(7));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("onnxruntime") && err.contains("FancyOp") && err.contains("trying tract"),
        "{err}"
    );
}

/// ONNX Runtime, found through the `onnxruntime` Python package that the test requirements
/// install (scripts/requirements-test.txt pins 1.32.0).
#[test]
fn onnxruntime_backend_sweeps_threads_and_compares_with_tract() {
    if !requires("ONNX Runtime's library", have_onnxruntime()) {
        return;
    }
    let j = bench_json(&[
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--backend",
        "all",
        "--threads",
        "1,2",
        "--runs",
        "5",
        "--warmup",
        "1",
    ]);
    let runs = j["runs"].as_array().unwrap();
    let got: Vec<(String, u64)> = runs
        .iter()
        .map(|r| {
            (
                r["backend"].as_str().unwrap().to_string(),
                r["threads"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("onnxruntime".into(), 1),
            ("onnxruntime".into(), 2),
            ("tract".into(), 1),
            ("tract".into(), 2)
        ]
    );
    assert_eq!(runs[0]["backend_version"], "1.32.0");
    let out = flopscope(&[
        "bench",
        "squeezenet1_1",
        "--backend",
        "onnxruntime",
        "--ort-lib",
        "/nonexistent/libonnxruntime.so",
    ]);
    assert_eq!(out.status.code(), Some(7));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot load"));
}

#[test]
fn per_layer_times_are_joined_with_costs() {
    let j = bench_json(&[
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--backend",
        "tract",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--per-layer",
    ]);
    let layers = j["runs"][0]["layers"].as_array().expect("layers");
    assert!(layers.len() > 20, "{} layers", layers.len());
    let pct: f64 = layers.iter().map(|l| l["percent"].as_f64().unwrap()).sum();
    assert!((pct - 100.0).abs() < 1e-6, "{pct}");
    let t: Vec<f64> = layers
        .iter()
        .map(|l| l["time_ms"].as_f64().unwrap())
        .collect();
    assert!(t.windows(2).all(|w| w[0] >= w[1]), "slowest first");
    // Every convolution is found, with its MACs and an achieved GFLOP/s.
    let convs: Vec<_> = layers.iter().filter(|l| l["op"] == "Conv").collect();
    assert_eq!(convs.len(), 26, "SqueezeNet 1.1 has 26 convolutions");
    assert!(convs
        .iter()
        .all(|c| c["macs"].as_u64().unwrap() > 0 && c["gflops_per_s"].as_f64().unwrap() > 0.0));
}

#[test]
fn onnxruntime_per_layer_times_come_from_its_profiler() {
    if !requires("ONNX Runtime's library", have_onnxruntime()) {
        return;
    }
    let j = bench_json(&[
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--backend",
        "onnxruntime",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--per-layer",
    ]);
    let layers = j["runs"][0]["layers"].as_array().expect("layers");
    let convs: Vec<_> = layers.iter().filter(|l| l["op"] == "Conv").collect();
    assert_eq!(
        convs.len(),
        26,
        "every convolution of SqueezeNet 1.1, one profiler event each"
    );
    assert!(
        layers.iter().all(|l| l["name"] != "(other)"),
        "optimizations off: every event is an ONNX node"
    );
}

#[test]
fn roofline_of_a_device_spec_in_profile_and_bench() {
    let model = ["squeezenet1_1", "--input", "1x3x64x64"];
    let spec = ["--peak-gflops", "100", "--bandwidth-gbs", "10"];
    let mut a = vec!["profile"];
    a.extend_from_slice(&model);
    a.extend_from_slice(&["-f", "json"]);
    let plain = run_json(&a);
    assert!(plain.get("roofline").is_none(), "no roofline unless asked");
    a.extend_from_slice(&spec);
    let p = run_json(&a);
    let r = &p["roofline"];
    let expect = predicted_ms(&plain, 100.0, 10.0);
    let got = r["predicted_ms"].as_f64().unwrap();
    assert!((got - expect).abs() < 1e-9 * expect, "{got} vs {expect}");
    assert_eq!(r["source"], "spec");
    assert_eq!(r["ridge"].as_f64(), Some(10.0));
    let flops = plain["totals"]["flops"].as_f64().unwrap();
    assert!((r["compute_floor_ms"].as_f64().unwrap() - flops / 1e8).abs() < 1e-9);
    // Every layer is bound by the larger term: compute when intensity ≥ the ridge (10).
    let layers = p["layers"].as_array().unwrap();
    let (mut compute, mut memory) = (0, 0);
    for l in layers
        .iter()
        .filter(|l| l["flops"].as_u64().unwrap_or(0) > 0)
    {
        let i = l["roofline"]["intensity"].as_f64().unwrap();
        let bound = l["roofline"]["bound"].as_str().unwrap();
        assert_eq!(bound == "compute", i >= 10.0, "{}", l["name"]);
        if bound == "compute" {
            compute += 1;
        } else {
            memory += 1;
        }
    }
    assert!(
        compute > 0 && memory > 0,
        "squeezenet has both: {compute} {memory}"
    );
    // The table says the same in words: the bound, and the layers by share of it.
    let mut t = vec!["profile"];
    t.extend_from_slice(&model);
    t.extend_from_slice(&spec);
    let table = run_ok(&t);
    assert!(
        table.contains(&format!("predicted lower bound {expect:.3} ms")),
        "{table}"
    );
    assert!(table.contains("roof: 100.0 GFLOP/s peak, 10.0 GB/s bandwidth, ridge 10.00 FLOP/byte"));
    assert!(
        table.contains(&format!("{compute} compute-bound layers")),
        "{table}"
    );
    assert!(table.contains("Slowest at the roof"), "{table}");

    let mut b = vec!["bench"];
    b.extend_from_slice(&model);
    b.extend_from_slice(&spec);
    b.extend_from_slice(&[
        "--backend",
        "tract",
        "--runs",
        "5",
        "--warmup",
        "1",
        "--per-layer",
        "-f",
        "json",
        "--quiet",
    ]);
    let j = run_json(&b);
    let run = &j["runs"][0];
    let rr = &run["roofline"];
    let median = run["latency_ms"]["median"].as_f64().unwrap();
    assert_eq!(rr["measured_ms"].as_f64(), Some(median));
    assert!((rr["predicted_ms"].as_f64().unwrap() - expect).abs() < 1e-9 * expect);
    let eff = rr["efficiency_pct"].as_f64().unwrap();
    assert!((eff - expect / median * 100.0).abs() < 1e-9 * eff);
    let mut timed = 0;
    for l in run["layers"].as_array().unwrap() {
        if let (Some(min), Some(e)) = (
            l["roofline"]["min_ms"].as_f64(),
            l["efficiency_pct"].as_f64(),
        ) {
            let t = l["time_ms"].as_f64().unwrap();
            assert!((e - min / t * 100.0).abs() < 1e-9 * e.max(1.0));
            timed += 1;
        }
    }
    assert!(timed >= 26, "every convolution has a bound: {timed}");
    // The table says the same in words.
    b.truncate(b.len() - 3);
    b.push("--quiet");
    let text = run_ok(&b);
    assert!(text.contains("Roofline of device spec (spec)"), "{text}");
    assert!(text.contains("% of the roofline"), "{text}");
    assert!(text.contains("   Bound   Min ms  %roof"), "{text}");
}
