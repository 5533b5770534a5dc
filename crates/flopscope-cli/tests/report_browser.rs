//! The HTML report in a real browser: Debian's headless Chromium driven by playwright-core
//! (`tests/browser/check_report.mjs`, installed by `scripts/test-deps.sh`), with the network
//! off. Expected values come from `profile`'s JSON of the same model, not from the page.
//! Screenshots are kept in `target/test-artifacts/`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{data, run_json, run_ok, tmpdir};
use serde_json::Value;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Opens `html` in Chromium and returns what the driver saw.
fn drive(html: &Path, shot_name: &str) -> Value {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Chromium and playwright-core: run scripts/test-deps.sh"
    );
    let shot = artifacts().join(shot_name);
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("check_report.mjs")
        .arg(html)
        .arg(&shot)
        .output()
        .expect("node runs (install Node.js)");
    assert!(
        out.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("driver prints JSON");
    assert_eq!(v["errors"], serde_json::json!([]), "console or page errors");
    assert_eq!(v["requests"], serde_json::json!([]), "network requests");
    let png = std::fs::read(&shot).expect("screenshot saved");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    v
}

fn report(model: &str, extra: &[&str], dir: &Path, name: &str) -> PathBuf {
    let html = dir.join(format!("{name}.html"));
    let mut args = vec!["report", model, "-o", html.to_str().unwrap()];
    args.extend(extra);
    run_ok(&args);
    html
}

fn marks(v: &Value, chart: &str) -> u64 {
    v["charts"][chart]["marks"]
        .as_u64()
        .unwrap_or_else(|| panic!("chart {chart} missing: {}", v["charts"]))
}

/// Checks one model's report against its profile.
fn check_model(file: &str, dims: &[&str]) {
    let dir = tmpdir(&format!("browser-{file}"));
    let model = data().join("models").join(file);
    let model = model.to_str().unwrap();
    let html = report(model, dims, &dir, "report");
    let size = std::fs::metadata(&html).unwrap().len();
    let mut args = vec!["profile", model, "-f", "json"];
    args.extend(dims);
    let p = run_json(&args);
    let layers = p["layers"].as_array().unwrap();
    let v = drive(
        &html,
        &format!("report-{}.png", file.trim_end_matches(".onnx")),
    );

    for s in ["summary", "layers", "ops", "treemap", "memory", "table"] {
        assert!(
            v["sections"].as_array().unwrap().iter().any(|x| x == s),
            "section {s}"
        );
    }
    let flops = |l: &Value| l["flops"].as_u64();
    let count = |f: &dyn Fn(&Value) -> bool| layers.iter().filter(|l| f(l)).count() as u64;
    // One bar per layer with FLOPs; one per operator type with FLOPs or parameters; memory
    // stacks weights and activations.
    assert_eq!(
        marks(&v, "chart-layers"),
        count(&|l| flops(l).unwrap_or(0) > 0)
    );
    let ops = p["by_op_type"].as_array().unwrap();
    let op_rows = ops
        .iter()
        .filter(|r| r["flops"].as_u64() > Some(0) || r["params"].as_u64() > Some(0))
        .count() as u64;
    assert_eq!(marks(&v, "chart-ops"), op_rows);
    assert_eq!(
        marks(&v, "chart-memory"),
        count(&|l| l["param_bytes"].as_u64() > Some(0))
            + count(&|l| l["activation_bytes"].as_u64() > Some(0))
    );
    assert!(marks(&v, "chart-treemap") >= 2);

    // The table: default rows hide nodes with no parameters and no FLOPs.
    let t = &v["table"];
    let shown: Vec<&Value> = layers
        .iter()
        .filter(|l| l["params"].as_u64() > Some(0) || flops(l) != Some(0))
        .collect();
    assert_eq!(t["initial"].as_array().unwrap().len(), shown.len());
    assert_eq!(t["all"].as_u64(), Some(layers.len() as u64));
    // Sorting by FLOPs: descending, then ascending, every row in order.
    let by_name: std::collections::HashMap<&str, u64> = layers
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), flops(l).unwrap_or(0)))
        .collect();
    let seq = |k: &str| -> Vec<u64> {
        t[k].as_array()
            .unwrap()
            .iter()
            .map(|n| by_name[n.as_str().unwrap()])
            .collect()
    };
    let desc = seq("flops_desc");
    assert_eq!(desc.len(), shown.len());
    assert!(desc.windows(2).all(|w| w[0] >= w[1]), "not descending");
    assert_eq!(desc[0], layers.iter().filter_map(flops).max().unwrap());
    assert_eq!(t["flops_sort_attr"], "descending");
    assert!(
        seq("flops_asc").windows(2).all(|w| w[0] <= w[1]),
        "not ascending"
    );
    // The filter keeps exactly the rows whose name or op mentions "conv".
    let mut conv: Vec<&str> = shown
        .iter()
        .filter(|l| {
            let s = format!("{} {}", l["name"], l["op"]).to_lowercase();
            s.contains("conv")
        })
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    let mut got: Vec<&str> = t["filter_conv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    conv.sort();
    got.sort();
    assert_eq!(got, conv);
    assert!(
        v["tooltip"].as_str().unwrap_or("").contains("FLOPs"),
        "tooltip: {}",
        v["tooltip"]
    );
    assert!(v["treemap_crumbs"]
        .as_str()
        .unwrap_or("")
        .starts_with("model"));
    println!("{file}: {} nodes, {size} bytes", layers.len());
    if layers.len() >= 2000 {
        assert!(size < 2_000_000, "{size} bytes for {} nodes", layers.len());
    }
}

#[test]
fn resnet18_report_renders_sorts_and_filters() {
    check_model("resnet18.onnx", &[]);
}

#[test]
fn vit_b_16_report_of_2068_nodes_is_under_2_mb() {
    check_model("vit_b_16.onnx", &[]);
}

#[test]
fn bert_base_report_renders() {
    check_model("bert-base.onnx", &["--dim", "batch=1", "--dim", "seq=128"]);
}

#[test]
fn report_with_measurements_draws_latency_and_throughput() {
    let dir = tmpdir("browser-bench");
    let html = report(
        "squeezenet1_1",
        &[
            "--input",
            "1x3x64x64",
            "--bench",
            "--backend",
            "tract",
            "--batch",
            "1,2",
            "--threads",
            "1,2",
            "--runs",
            "12",
            "--warmup",
            "1",
            "-q",
        ],
        &dir,
        "bench",
    );
    let v = drive(&html, "report-bench.png");
    // 2 batches × 2 thread counts; bins of the histogram; per-layer points for the 26 convs.
    assert!(marks(&v, "chart-latency") >= 2);
    // Two series of two points each (polyline + 2 circles) in both curves.
    assert_eq!(marks(&v, "chart-throughput-batch"), 6);
    assert_eq!(marks(&v, "chart-throughput-threads"), 6);
    assert!(marks(&v, "chart-layer-time") >= 26);
    assert!(v["charts"]["chart-latency"]["text"]
        .as_str()
        .unwrap()
        .contains("median"));
}

#[test]
fn compare_and_diff_pages_render() {
    let dir = tmpdir("browser-compare");
    let html = dir.join("compare.html");
    let models = ["resnet18", "resnet50", "mobilenet_v2", "vit_b_16"];
    let mut args = vec!["compare"];
    args.extend(models);
    args.extend(["-o", html.to_str().unwrap()]);
    run_ok(&args);
    let v = drive(&html, "compare.png");
    let rows = v["compare_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for (r, m) in rows.iter().zip(models) {
        let p = run_json(&["profile", m, "-f", "json"]);
        assert_eq!(r[0], m);
        let params = p["totals"]["params"].as_u64().unwrap() as f64;
        assert_eq!(r[1], format!("{:.2}", params / 1e6));
    }
    // Four bubbles (the front is one model: no line).
    assert_eq!(marks(&v, "chart-pareto"), 4);

    let small = common::resnet18_10_classes(&dir);
    let html = dir.join("diff.html");
    run_ok(&[
        "compare",
        "resnet18",
        small.to_str().unwrap(),
        "--diff",
        "-o",
        html.to_str().unwrap(),
    ]);
    let v = drive(&html, "diff.png");
    let rows = v["diff_rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], "Gemm");
    assert_eq!(rows[0][3], "−508K");
}
