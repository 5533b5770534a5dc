//! `compare` (paper table, Pareto front, diff) and static charts: every number is checked
//! against what `profile` says of the same model, and every chart is parsed back.

use std::path::Path;

use crate::common::{data, flopscope, run_json, run_ok, tmpdir};
use serde_json::Value;

const MODELS: [&str; 4] = ["resnet18", "resnet50", "mobilenet_v2", "vit_b_16"];

fn totals(model: &str) -> Value {
    run_json(&["profile", model, "-f", "json"])["totals"].clone()
}

/// Parses an SVG and returns the text of all its `<text>` elements.
fn svg_texts(path: &Path) -> Vec<String> {
    let s = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&s).expect("well-formed SVG");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.tag_name().name() == "text")
        .map(|n| n.text().unwrap_or("").trim().to_string())
        .collect()
}

/// Decodes a PNG: its size and how many distinct colours it uses (a blank image has one).
fn png_facts(path: &Path) -> (u32, u32, usize) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut r = dec.read_info().expect("PNG header");
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).expect("PNG data");
    let px = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    (info.width, info.height, colours.len())
}

#[test]
fn compare_table_matches_profile_and_finds_the_pareto_front() {
    let d = tmpdir("compare");
    let t: Vec<Value> = MODELS.iter().map(|m| totals(m)).collect();
    // Published torchvision figures (params, GMACs), to 0.1%: the table is not just consistent.
    let published = [
        (11.69e6, 1.814e9),
        (25.557e6, 4.089e9),
        (3.505e6, 0.301e9),
        (86.567e6, 17.564e9),
    ];
    for (x, (p, m)) in t.iter().zip(published) {
        assert!((x["params"].as_f64().unwrap() / p - 1.0).abs() < 1e-3);
        assert!((x["macs"].as_f64().unwrap() / m - 1.0).abs() < 1e-3);
    }

    let mut args = vec!["compare"];
    args.extend(MODELS);
    let svg = d.join("pareto.svg");
    let text = run_ok(&[args.as_slice(), &["-o", svg.to_str().unwrap()]].concat());
    for (m, x) in MODELS.iter().zip(&t) {
        let line = text
            .lines()
            .find(|l| l.trim_start_matches(['*', ' ']).starts_with(m))
            .unwrap();
        let cells: Vec<&str> = line
            .trim_start_matches(['*', ' '])
            .split_whitespace()
            .collect();
        let num = |k: &str| x[k].as_u64().unwrap() as f64;
        assert_eq!(cells[1], format!("{:.2}", num("params") / 1e6), "{line}");
        assert_eq!(cells[2], format!("{:.3}", num("macs") / 1e9), "{line}");
        assert_eq!(cells[3], format!("{:.3}", num("flops") / 1e9), "{line}");
        let mem = num("weight_bytes") + num("peak_activation_bytes");
        assert_eq!(cells[4], format!("{:.1}", mem / 1048576.0), "{line}");
        // MobileNetV2 has the fewest parameters and FLOPs: it alone is on the front.
        assert_eq!(line.starts_with('*'), *m == "mobilenet_v2", "{line}");
    }
    let labels = svg_texts(&svg);
    for m in MODELS {
        assert!(
            labels.iter().any(|l| l == m),
            "{m} not labelled: {labels:?}"
        );
    }
    assert!(labels.iter().any(|l| l == "Pareto front"));
    assert!(labels.iter().any(|l| l.contains("GFLOPs")));

    // The machine formats carry the exact integers.
    let json: Value =
        serde_json::from_str(&run_ok(&[args.as_slice(), &["-f", "json"]].concat())).unwrap();
    assert_eq!(json["schema"], "flopscope.compare/1");
    assert_eq!(json["pareto_axis"], "flops");
    for (e, x) in json["entries"].as_array().unwrap().iter().zip(&t) {
        for k in [
            "params",
            "macs",
            "flops",
            "weight_bytes",
            "peak_activation_bytes",
        ] {
            assert_eq!(e[k], x[k], "{k}");
        }
    }
    let csv = run_ok(&[args.as_slice(), &["-f", "csv"]].concat());
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(
        row[..4],
        [
            "resnet18",
            "11689512",
            "1814073344",
            &t[0]["flops"].to_string()
        ]
    );
    let tex = run_ok(&[args.as_slice(), &["-f", "latex"]].concat());
    assert!(tex.contains("\\toprule") && tex.contains("mobilenet\\_v2 & 3.50 & 0.301"));
    let md = run_ok(&[args.as_slice(), &["-f", "markdown"]].concat());
    assert!(md.contains("| **mobilenet_v2** | 3.50 | 0.301 |"), "{md}");

    let png = d.join("pareto.png");
    run_ok(&[args.as_slice(), &["-o", png.to_str().unwrap()]].concat());
    let (w, h, colours) = png_facts(&png);
    assert_eq!((w, h), (1200, 700));
    assert!(colours > 20, "{colours} colours: blank?");
}

#[test]
fn layer_op_and_memory_charts_as_svg_and_png() {
    let d = tmpdir("charts");
    let model = data().join("models/resnet18.onnx");
    let model = model.to_str().unwrap();
    for kind in ["layers", "ops", "memory"] {
        let svg = d.join(format!("{kind}.svg"));
        run_ok(&[
            "report",
            model,
            "--chart",
            kind,
            "-o",
            svg.to_str().unwrap(),
        ]);
        let texts = svg_texts(&svg);
        let expect: &[&str] = match kind {
            // 3.64G FLOPs and 1.81G MACs in all, as `profile` says.
            "layers" => &[
                "FLOPs per layer (3.64G FLOPs, 1.81G MACs in all)",
                "GFLOPs",
                "M params",
            ],
            "ops" => &["Conv", "Gemm", "FLOPs by operator"],
            _ => &["weights", "activations written", "MiB"],
        };
        for e in expect {
            assert!(
                texts.iter().any(|t| t.contains(e)),
                "{kind}: no '{e}' in {texts:?}"
            );
        }
        let png = d.join(format!("{kind}.png"));
        run_ok(&[
            "report",
            model,
            "--chart",
            kind,
            "-o",
            png.to_str().unwrap(),
        ]);
        let (w, h, colours) = png_facts(&png);
        assert_eq!((w, h), (1200, 700));
        assert!(colours > 10, "{kind}: {colours} colours");
    }
    // The three heaviest layers are labelled: resnet18's stem conv (236.8M FLOPs) is the first.
    assert!(svg_texts(&d.join("layers.svg"))
        .iter()
        .any(|t| t == "/conv1/Conv"));
}

#[test]
fn latency_chart_needs_measurements_and_shows_the_median() {
    let d = tmpdir("latency");
    let svg = d.join("latency.svg");
    let out = flopscope(&[
        "report",
        "squeezenet1_1",
        "--chart",
        "latency",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --bench"));
    run_ok(&[
        "report",
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--chart",
        "latency",
        "--bench",
        "--backend",
        "tract",
        "--runs",
        "15",
        "--warmup",
        "1",
        "-q",
        "-o",
        svg.to_str().unwrap(),
    ]);
    let texts = svg_texts(&svg);
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Latency of 15 runs: tract")),
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t.starts_with("median ")));
    // A chart that does not exist for one model, and an output that is not an image or page.
    let out = flopscope(&[
        "report",
        "resnet18",
        "--chart",
        "pareto",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = flopscope(&[
        "report",
        "resnet18",
        "-o",
        d.join("x.txt").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = flopscope(&["report", "resnet18", "-o", "/nonexistent-dir/x.png"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn diff_finds_the_one_layer_that_grew() {
    // Two versions of ResNet-18: 1000 classes and 10 classes. Only the classifier differs:
    // 512·1000 + 1000 = 513,000 parameters before, 512·10 + 10 = 5,130 after.
    let d = tmpdir("diff");
    let small = crate::common::resnet18_10_classes(&d);
    let json: Value = serde_json::from_str(&run_ok(&[
        "compare",
        "resnet18",
        small.to_str().unwrap(),
        "--diff",
        "-f",
        "json",
    ]))
    .unwrap();
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{layers:?}");
    assert_eq!(layers[0]["op"], "Gemm");
    assert_eq!(layers[0]["status"], "changed");
    assert_eq!(layers[0]["params"], serde_json::json!([513000, 5130]));
    // Gemm FLOPs: 2·512·N MACs-as-FLOPs + N bias adds.
    assert_eq!(
        layers[0]["flops"],
        serde_json::json!([2 * 512 * 1000 + 1000, 2 * 512 * 10 + 10])
    );
    assert_eq!(layers[0]["output"], serde_json::json!(["1x1000", "1x10"]));
    assert_eq!(
        json["params"][0].as_u64().unwrap() - json["params"][1].as_u64().unwrap(),
        507_870
    );
    let text = run_ok(&["compare", "resnet18", small.to_str().unwrap(), "--diff"]);
    assert!(
        text.contains("1 layers differ") && text.contains("−508K"),
        "{text}"
    );
    let out = flopscope(&["compare", "resnet18", "--diff"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn roofline_chart_places_every_layer_with_flops_and_bytes() {
    let d = tmpdir("roofline-chart");
    let svg = d.join("roof.svg");
    let model = data().join("models/resnet18.onnx");
    let model = model.to_str().unwrap();
    let out = flopscope(&[
        "report",
        model,
        "--chart",
        "roofline",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "no roof given");
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a roof"));
    let spec = ["--peak-gflops", "200", "--bandwidth-gbs", "20"];
    let mut a = vec!["report", model, "--chart", "roofline", "-o"];
    a.push(svg.to_str().unwrap());
    a.extend_from_slice(&spec);
    run_ok(&a);
    // Layers that can sit on log axes: some FLOPs and some bytes moved (views move none).
    let p = run_json(&["profile", model, "-f", "json", "--all"]);
    let placed = p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["flops"].as_u64().unwrap_or(0) > 0 && crate::common::roofline_bytes(l) > 0.0)
        .count();
    assert!(placed > 40, "{placed}");
    let s = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&s).expect("well-formed SVG");
    let circles = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "circle")
        .count();
    assert_eq!(circles, placed + 2, "one per layer, plus two in the legend");
    let texts = svg_texts(&svg);
    for expected in [
        "roof: 200.0 GFLOP/s, 20.0 GB/s, ridge 10.00 FLOP/byte",
        "compute-bound layers",
        "memory-bound layers",
        "arithmetic intensity (FLOP/byte), log scale",
        "/conv1/Conv",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "no '{expected}' in {texts:?}"
        );
    }
}
