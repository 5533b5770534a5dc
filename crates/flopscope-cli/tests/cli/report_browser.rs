//! The HTML report in a real browser: Debian's headless Chromium driven by playwright-core
//! (`tests/browser/check_report.mjs`, installed by `scripts/test-deps.sh`), with the network
//! off. Expected values come from `profile`'s JSON of the same model, not from the page.
//! Screenshots are kept in `target/test-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{data, requires, run_json, run_ok, tmpdir};
use serde_json::Value;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whether the browser test can run here: Node.js, Debian's Chromium and playwright-core
/// (`scripts/test-deps.sh`); otherwise the test is skipped, visibly.
fn browser() -> bool {
    let have = browser_dir().join("node_modules/playwright-core").is_dir()
        && Path::new("/usr/bin/chromium").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    requires("Node.js, Chromium and playwright-core", have)
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
    // No roof asked for: no roofline anywhere.
    assert_no_roofline(&v, &html);
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
    if !browser() {
        return;
    }
    check_model("resnet18.onnx", &[]);
}

#[test]
fn vit_b_16_report_of_2068_nodes_is_under_2_mb() {
    if !browser() {
        return;
    }
    check_model("vit_b_16.onnx", &[]);
}

#[test]
fn bert_base_report_renders() {
    if !browser() {
        return;
    }
    check_model("bert-base.onnx", &["--dim", "batch=1", "--dim", "seq=128"]);
}

#[test]
fn report_with_measurements_draws_latency_and_throughput() {
    if !browser() {
        return;
    }
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
    // Measured, but no roof asked for: no roofline section.
    assert_no_roofline(&v, &html);
}

#[test]
fn compare_and_diff_pages_render() {
    if !browser() {
        return;
    }
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

    let small = crate::common::resnet18_10_classes(&dir);
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

// ---- Roofline ----------------------------------------------------------------------------------

/// The device spec every roofline test uses: a deterministic roof, nothing measured about
/// the machine.
const PEAK_GFLOPS: f64 = 200.0;
const BANDWIDTH_GBS: f64 = 20.0;
const SPEC: [&str; 4] = ["--peak-gflops", "200", "--bandwidth-gbs", "20"];
const BENCH: [&str; 5] = ["--bench", "--runs", "5", "--warmup", "1"];

/// The JSON the page embeds (what its script draws from).
fn embedded(html: &Path) -> Value {
    let page = std::fs::read_to_string(html).unwrap();
    let open = r#"<script type="application/json" id="flopscope-data">"#;
    let start = page.find(open).expect("data block") + open.len();
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).expect("embedded JSON")
}

fn assert_no_roofline(v: &Value, html: &Path) {
    assert!(
        !v["sections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "roofline"),
        "roofline section without a roof: {}",
        v["sections"]
    );
    assert!(v["roofline"].is_null());
    assert!(!v["charts"]
        .as_object()
        .unwrap()
        .contains_key("chart-roofline"));
    let d = embedded(html);
    assert!(d["profile"]["roofline"].is_null());
    for r in d["bench"]["runs"].as_array().into_iter().flatten() {
        assert!(r["roofline"].is_null());
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// `shown` is `value` with `decimals` decimals, as the page formats it. Only a value within
/// a hair of a rounding tie may round either way (JSON parsers may differ in the last bit).
fn assert_shown(shown: &str, value: f64, decimals: usize, what: &str) {
    let expected = format!("{value:.decimals$}");
    if shown == expected {
        return;
    }
    let half = 0.5 * 10f64.powi(-(decimals as i32));
    let got: f64 = shown
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {shown:?}, expected {expected}"));
    assert!(
        ((got - value).abs() - half).abs() <= 1e-9 * value.abs().max(1.0),
        "{what}: shown {shown}, expected {expected} ({value})"
    );
}

fn f64_of(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The value shown on the roofline card `id`.
fn card<'a>(r: &'a Value, id: &str) -> &'a str {
    r["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("card {id}: {}", r["cards"]))["v"]
        .as_str()
        .unwrap()
}

/// What the roofline section shows whether or not it was measured: the summary cards against
/// the recomputed bound, the roof lines, the axes.
fn check_roof_summary(r: &Value, profile: &Value, page_roof: &Value) -> f64 {
    let expected = crate::common::predicted_ms(profile, PEAK_GFLOPS, BANDWIDTH_GBS);
    assert!(
        close(f64_of(&page_roof["predicted_ms"]), expected, 1e-9),
        "embedded {} vs recomputed {expected}",
        page_roof["predicted_ms"]
    );
    let ms = |id: &str| {
        card(r, id)
            .strip_suffix(" ms")
            .unwrap_or_else(|| panic!("{id}"))
    };
    let shown = ms("roof-card-predicted");
    assert_shown(shown, expected, 3, "predicted (recomputed)");
    assert_shown(shown, f64_of(&page_roof["predicted_ms"]), 3, "predicted");
    // The compute floor: all FLOPs at peak.
    let flops = f64_of(&profile["totals"]["flops"]);
    assert_shown(
        ms("roof-card-compute"),
        flops / (PEAK_GFLOPS * 1e6),
        3,
        "compute floor",
    );
    assert_shown(
        ms("roof-card-memory"),
        f64_of(&page_roof["memory_floor_ms"]),
        3,
        "memory floor",
    );
    assert_eq!(card(r, "roof-card-roof"), "200.0 GFLOP/s");
    let roof_x = r["cards"][0]["x"].as_str().unwrap();
    assert!(
        roof_x.contains("20.0 GB/s") && roof_x.contains("ridge 10.00 FLOP/byte"),
        "{roof_x}"
    );

    // The chart: the bandwidth slope up to the ridge, flat at the peak, the ridge marked,
    // log axes labelled.
    let c = &r["chart"];
    assert!(c["cls"].as_str().unwrap().contains("roofline"));
    assert_eq!(
        (c["slope"].as_u64(), c["flat"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(c["ridge_marks"].as_u64(), Some(1));
    assert_eq!(
        (
            f64_of(&c["peak"]),
            f64_of(&c["bandwidth"]),
            f64_of(&c["ridge"])
        ),
        (PEAK_GFLOPS, BANDWIDTH_GBS, 10.0)
    );
    let labels: Vec<&str> = c["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for l in [
        "Arithmetic intensity (FLOP/byte)",
        "GFLOP/s",
        "peak 200.0 GFLOP/s",
        "20.0 GB/s",
        "ridge 10.00 FLOP/byte",
    ] {
        assert!(labels.contains(&l), "label {l}: {labels:?}");
    }
    // Log ticks: 1-2-5 or powers of ten, and the peak's decade is labelled.
    assert!(labels.contains(&"100"), "{labels:?}");
    expected
}

fn points(r: &Value) -> &Vec<Value> {
    r["chart"]["points"].as_array().unwrap()
}

/// One model reported with measurements under the device spec: the bound as recomputed, the
/// measured median and efficiency as the page's own bench JSON says, one point per timed
/// layer that has a place on the log axes, the table with % of bound.
fn check_roofline_measured(file: &str, dims: &[&str]) {
    let stem = file.trim_end_matches(".onnx");
    let dir = tmpdir(&format!("browser-roofline-{stem}"));
    let model = data().join("models").join(file);
    let model = model.to_str().unwrap();
    let mut extra: Vec<&str> = dims.to_vec();
    extra.extend(BENCH);
    extra.extend(SPEC);
    extra.push("-q");
    let html = report(model, &extra, &dir, "roofline");
    let mut args = vec!["profile", model, "-f", "json"];
    args.extend(dims);
    let profile = run_json(&args);
    let d = embedded(&html);
    let v = drive(&html, &format!("report-roofline-{stem}.png"));
    assert!(v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "roofline"));
    let r = &v["roofline"];
    let predicted = check_roof_summary(r, &profile, &d["profile"]["roofline"]);

    // Measured: the first run, against its own roof (a spec: the same for any thread count).
    let runs = d["bench"]["runs"].as_array().unwrap();
    let run = &runs[0];
    let rr = &run["roofline"];
    let median = f64_of(&run["latency_ms"]["median"]);
    assert!(close(f64_of(&rr["predicted_ms"]), predicted, 1e-9));
    assert_eq!(f64_of(&rr["measured_ms"]), median);
    let efficiency = predicted / median * 100.0;
    assert!(close(f64_of(&rr["efficiency_pct"]), efficiency, 1e-9));
    let achieved = f64_of(&profile["totals"]["flops"]) / (median * 1e6);
    assert!(close(f64_of(&rr["achieved_gflops"]), achieved, 1e-9));
    let shown = |id: &str, unit: &str| {
        card(r, id)
            .strip_suffix(unit)
            .unwrap_or_else(|| panic!("{id}: {}", card(r, id)))
            .to_string()
    };
    assert_shown(&shown("roof-card-measured", " ms"), median, 3, "median");
    assert_shown(
        &shown("roof-card-efficiency", "%"),
        efficiency,
        1,
        "efficiency",
    );
    assert_shown(
        &shown("roof-card-achieved", " GFLOP/s"),
        achieved,
        1,
        "achieved",
    );
    let rows = r["runs"].as_array().unwrap();
    assert_eq!(rows.len(), runs.len());
    let cell = |i: usize| rows[0][i].as_str().unwrap();
    assert_shown(cell(5), predicted, 3, "runs: predicted");
    assert_shown(cell(6), median, 3, "runs: median");
    assert_shown(cell(7), efficiency, 1, "runs: efficiency");
    assert_shown(cell(8), achieved, 1, "runs: achieved");

    // Points: the run's layers with a positive intensity, FLOPs and time, each at the rate it
    // achieved.
    let layers = run["layers"].as_array().unwrap();
    let placeable = |l: &&Value| {
        l["roofline"]["intensity"].as_f64().unwrap_or(0.0) > 0.0
            && l["flops"].as_f64().unwrap_or(0.0) > 0.0
            && l["time_ms"].as_f64().unwrap_or(0.0) > 0.0
    };
    let placed: Vec<&Value> = layers.iter().filter(placeable).collect();
    let pts = points(r);
    assert!(!pts.is_empty());
    assert_eq!(pts.len(), placed.len());
    assert_eq!(
        r["left_out"]["n"].as_u64(),
        Some((layers.len() - placed.len()) as u64)
    );
    for (p, l) in pts.iter().zip(&placed) {
        assert_eq!(p["name"], l["name"]);
        assert_eq!(p["bound"], l["roofline"]["bound"]);
        assert!(p["cls"]
            .as_str()
            .unwrap()
            .contains(l["roofline"]["bound"].as_str().unwrap()));
        let gf = f64_of(&l["flops"]) / (f64_of(&l["time_ms"]) * 1e6);
        assert!(close(f64_of(&p["gflops"]), gf, 1e-9), "{p} vs {l}");
        assert!(close(
            f64_of(&p["gflops"]),
            f64_of(&l["gflops_per_s"]),
            1e-9
        ));
        assert!(close(
            f64_of(&p["intensity"]),
            f64_of(&l["roofline"]["intensity"]),
            1e-12
        ));
    }
    let tip = r["tooltip"].as_str().unwrap_or("");
    for s in [
        "FLOP/byte",
        "-bound",
        "roofline minimum",
        "measured",
        "% of bound",
    ] {
        assert!(tip.contains(s), "tooltip lacks {s}: {tip}");
    }

    // The table: every layer with a predicted or measured time, slowest measured first, with
    // its % of bound as the bench JSON says.
    let head: Vec<&str> = r["table_head"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        head,
        [
            "Layer",
            "Op",
            "FLOP/byte",
            "Bound",
            "Predicted min ms",
            "Measured ms",
            "Achieved GFLOP/s",
            "% of bound"
        ]
    );
    let table = r["table"].as_array().unwrap();
    let timed: Vec<&Value> = layers
        .iter()
        .filter(|l| {
            !l["roofline"].is_null()
                && (f64_of(&l["roofline"]["min_ms"]) > 0.0 || f64_of(&l["time_ms"]) > 0.0)
        })
        .collect();
    assert_eq!(table.len(), timed.len());
    let ms: Vec<f64> = table
        .iter()
        .map(|row| row[5].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ms.windows(2).all(|w| w[0] >= w[1]), "not by measured time");
    let by_name: std::collections::HashMap<&str, &Value> = timed
        .iter()
        .map(|l| (l["name"].as_str().unwrap(), *l))
        .collect();
    for row in table {
        let l = by_name[row[0].as_str().unwrap()];
        assert_eq!(row[1], l["op"]);
        assert_eq!(row[3], l["roofline"]["bound"]);
        let cell = |i: usize| row[i].as_str().unwrap();
        assert_shown(cell(4), f64_of(&l["roofline"]["min_ms"]), 3, "min ms");
        assert_shown(cell(5), f64_of(&l["time_ms"]), 3, "measured ms");
        if f64_of(&l["flops"]) > 0.0 {
            assert_shown(cell(6), f64_of(&l["gflops_per_s"]), 1, "GFLOP/s");
        } else {
            assert_eq!(cell(6), "–", "no FLOPs: no rate");
        }
        assert_shown(cell(7), f64_of(&l["efficiency_pct"]), 1, "% of bound");
    }
    check_sorted_by_intensity(r);
    println!(
        "{file}: predicted lower bound {predicted:.3} ms, measured median {median:.3} ms, \
         {efficiency:.1}% of the roofline, {achieved:.1} GFLOP/s achieved; {} points, {} rows",
        pts.len(),
        table.len()
    );
}

/// Clicking the FLOP/byte column sorts it descending, views (no intensity) last.
fn check_sorted_by_intensity(r: &Value) {
    assert_eq!(r["table_intensity_sort_attr"], "descending");
    let col: Vec<Option<f64>> = r["table_by_intensity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().parse().ok())
        .collect();
    let known = col.iter().take_while(|c| c.is_some()).count();
    assert!(col[known..].iter().all(Option::is_none), "views not last");
    assert!(
        col[..known].windows(2).all(|w| w[0] >= w[1]),
        "not descending by intensity"
    );
}

#[test]
fn resnet18_roofline_with_measurements() {
    if !browser() {
        return;
    }
    check_roofline_measured("resnet18.onnx", &[]);
}

#[test]
fn bert_base_roofline_with_measurements() {
    if !browser() {
        return;
    }
    check_roofline_measured("bert-base.onnx", &["--dim", "batch=1", "--dim", "seq=128"]);
}

/// Without measurements every layer sits on the roof at min(peak, intensity × bandwidth).
#[test]
fn resnet18_roofline_without_measurements_puts_layers_on_the_roof() {
    if !browser() {
        return;
    }
    let dir = tmpdir("browser-roofline-unmeasured");
    let model = data().join("models/resnet18.onnx");
    let model = model.to_str().unwrap();
    let html = report(model, &SPEC, &dir, "roofline");
    let profile = run_json(&["profile", model, "-f", "json"]);
    let d = embedded(&html);
    let v = drive(&html, "report-roofline-resnet18-unmeasured.png");
    let r = &v["roofline"];
    let predicted = check_roof_summary(r, &profile, &d["profile"]["roofline"]);
    // No measured cards, no runs table.
    assert!(r["cards"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "roof-card-measured" && c["id"] != "roof-card-efficiency"));
    assert_eq!(r["runs"], serde_json::json!([]));
    let layers = d["profile"]["layers"].as_array().unwrap();
    let placed: Vec<&Value> = layers
        .iter()
        .filter(|l| {
            l["roofline"]["intensity"].as_f64().unwrap_or(0.0) > 0.0
                && l["flops"].as_f64().unwrap_or(0.0) > 0.0
        })
        .collect();
    let pts = points(r);
    assert_eq!(pts.len(), placed.len());
    assert_eq!(
        r["left_out"]["n"].as_u64(),
        Some((layers.len() - placed.len()) as u64)
    );
    for (p, l) in pts.iter().zip(&placed) {
        assert_eq!(p["name"], l["name"]);
        let i = f64_of(&l["roofline"]["intensity"]);
        let attainable = PEAK_GFLOPS.min(i * BANDWIDTH_GBS);
        assert!(close(f64_of(&p["gflops"]), attainable, 1e-12), "{p}");
        let bound = if i * BANDWIDTH_GBS >= PEAK_GFLOPS {
            "compute"
        } else {
            "memory"
        };
        assert_eq!(p["bound"], bound);
        assert!(p["ms"].is_null() && p["pct"].is_null());
    }
    let tip = r["tooltip"].as_str().unwrap_or("");
    assert!(
        tip.contains("FLOP/byte") && !tip.contains("measured"),
        "{tip}"
    );
    let head = r["table_head"].as_array().unwrap();
    assert_eq!(head.len(), 5, "{head:?}");
    // Slowest predicted first.
    let min: Vec<f64> = r["table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[4].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(min.windows(2).all(|w| w[0] >= w[1]));
    check_sorted_by_intensity(r);
    println!(
        "resnet18 (unmeasured): predicted lower bound {predicted:.3} ms, {} points",
        pts.len()
    );
}

#[test]
fn report_with_a_device_draws_the_predicted_time_per_layer() {
    if !browser() {
        return;
    }
    let dir = tmpdir("browser-predict");
    let extra = ["--device", "rtx4090", "--dtype", "amp"];
    let html = report("resnet18", &extra, &dir, "predict");
    let v = drive(&html, "report-predict.png");
    assert!(v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == "predict"));
    // Expected from `predict -f json` of the same model: one bar per layer that takes time,
    // one per kernel class.
    let p = run_json(&[
        "predict", "resnet18", "--device", "rtx4090", "--dtype", "amp", "-f", "json",
    ]);
    let timed = p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["time_ms"].as_f64().unwrap() > 0.0)
        .count() as u64;
    assert_eq!(marks(&v, "chart-predict"), timed);
    let classes = p["by_class"].as_array().unwrap().len() as u64;
    assert_eq!(marks(&v, "chart-predict-classes"), classes);
}

#[test]
fn report_with_a_training_step_shows_it() {
    if !browser() {
        return;
    }
    let dir = tmpdir("browser-training");
    let extra = [
        "--training",
        "--gpus",
        "2",
        "--zero",
        "3",
        "--optimizer",
        "sgd",
    ];
    // `profile -f html` writes the report page (`report` has no training flags: its
    // `--precision` is the measurement's).
    let html = dir.join("training.html");
    let mut args = vec![
        "profile",
        "resnet18",
        "-f",
        "html",
        "-o",
        html.to_str().unwrap(),
    ];
    args.extend(extra);
    run_ok(&args);
    let v = drive(&html, "report-training.png");
    let sections = v["sections"].as_array().unwrap();
    let at = |s: &str| sections.iter().position(|x| x == s);
    // Right after the summary, before the per-layer charts.
    assert_eq!(
        at("training"),
        Some(at("summary").unwrap() + 1),
        "{sections:?}"
    );
    let t = &v["training"];
    assert_eq!(
        t["title"],
        "Training step (sgd, fp32, recompute none, 2 GPUs, ZeRO stage 3)"
    );
    // The cards carry the numbers of `profile --training -f json`, grouped as the text does:
    // resnet18's forward is 1,814,073,344 MACs (reference.json); SGD updates each of its
    // 11,689,512 parameters with 2 FLOPs.
    let mut args = vec!["profile", "resnet18", "-f", "json"];
    args.extend(extra);
    let p = run_json(&args);
    let tr = &p["training"];
    let card = |k: &str| {
        t["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["k"] == k)
            .unwrap_or_else(|| panic!("card {k}: {t}"))
            .clone()
    };
    assert_eq!(card("Forward")["x"], "1,814,073,344 MACs");
    assert_eq!(tr["forward_macs"], 1_814_073_344u64);
    assert_eq!(
        card("Optimizer")["x"],
        "sgd update of 11,689,512 trainable parameters"
    );
    assert_eq!(tr["optimizer_flops"], 2 * 11_689_512u64);
    let grouped = flopscope_core::format::grouped;
    assert_eq!(
        card("Backward")["x"],
        format!("{} MACs", grouped(tr["backward_macs"].as_u64().unwrap()))
    );
    assert_eq!(
        card("Step")["x"],
        format!(
            "{} FLOPs, {} MACs",
            grouped(tr["flops"].as_u64().unwrap()),
            grouped(tr["macs"].as_u64().unwrap())
        )
    );
    // Memory per GPU: weights, gradients, optimizer state, saved activations.
    assert_eq!(marks(&v, "chart-training-memory"), 4);
}
