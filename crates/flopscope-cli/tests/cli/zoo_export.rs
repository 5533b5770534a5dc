//! Built-in models exported as ONNX with random weights load and run in ONNX Runtime
//! (`scripts/ort_run.py`; `.ci/run` installs it), and profiling the exported file gives the
//! same totals as profiling the built graph.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use flopscope_core::zoo::{self, LlamaConfig, ZooOptions};

fn totals(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["profile"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-f", "json"]);
    let j = run_json(&a);
    j["totals"].clone()
}

fn same_totals(a: &serde_json::Value, b: &serde_json::Value, what: &str) {
    for k in ["params", "buffers", "macs", "flops", "activation_bytes"] {
        assert_eq!(a[k], b[k], "{what}: {k}");
    }
}

fn run_in_onnxruntime(files: &[&Path]) {
    let script = data().join("../../scripts/ort_run.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(files)
        .output()
        .expect("python3 runs (install the test requirements: see the README)");
    assert!(
        out.status.success(),
        "ONNX Runtime failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ok = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("ok "))
        .count();
    assert_eq!(ok, files.len());
}

#[test]
fn exported_models_run_in_onnxruntime_and_profile_the_same() {
    let d = tmpdir("zoo-export");
    let mut files = Vec::new();
    // CNN families of the zoo (residual, fire, inverted residual, MBConv + SE) and Swin.
    for name in [
        "resnet18",
        "squeezenet1_1",
        "mobilenet_v2",
        "efficientnet_b0",
    ] {
        let path = d.join(format!("{name}.onnx"));
        run_ok(&[
            "export",
            name,
            "-o",
            path.to_str().unwrap(),
            "--weights",
            "random",
        ]);
        same_totals(
            &totals(&[path.to_str().unwrap(), "--dim", "batch=1"]),
            &totals(&[name, "--dim", "batch=1"]),
            name,
        );
        files.push(path);
    }
    // The transformer families at small sizes (same code as vit_b_16, bert-base, gpt2, llama-7b),
    // Llama with grouped-query attention.
    let small = [
        (
            "vit",
            zoo::vit(
                &ZooOptions {
                    resolution: (64, 64),
                    num_classes: 10,
                },
                16,
                64,
                2,
                4,
                128,
            )
            .unwrap(),
        ),
        ("bert", zoo::bert(2, 64, 4, 128).unwrap()),
        ("gpt2", zoo::gpt2(2, 64, 4).unwrap()),
        (
            "llama",
            zoo::llama(&LlamaConfig {
                hidden: 64,
                layers: 2,
                heads: 4,
                kv_heads: 2,
                intermediate: 160,
                vocab: 1000,
            })
            .unwrap(),
        ),
    ];
    for (name, g) in &small {
        let path = d.join(format!("{name}.onnx"));
        flopscope_core::write::write_onnx(g, &path, flopscope_core::write::Weights::Random(7))
            .unwrap();
        let seq: &[&str] = if *name == "vit" {
            &[]
        } else {
            &["--dim", "seq=16"]
        };
        let mut args = vec![path.to_str().unwrap(), "--dim", "batch=1"];
        args.extend_from_slice(seq);
        let built = flopscope_core::profile_graph(
            g,
            flopscope_core::open_source("resnet18", &Default::default())
                .unwrap()
                .1,
            &flopscope_core::Options {
                dims: std::iter::once(("batch".to_string(), 1))
                    .chain(seq.get(1).map(|_| ("seq".to_string(), 16)))
                    .collect(),
                inputs: vec![],
                ..Default::default()
            },
        )
        .unwrap();
        let file = totals(&args);
        assert_eq!(file["params"], built.totals.params, "{name}");
        assert_eq!(file["macs"], built.totals.macs, "{name}");
        assert_eq!(file["flops"], built.totals.flops, "{name}");
        files.push(path);
    }
    // Weights in an external data file (as for models above 1 GiB), streamed while written.
    let split = d.join("bert-split.onnx");
    flopscope_core::write::write_onnx_split(
        &small[1].1,
        &split,
        flopscope_core::write::Weights::Random(7),
        0,
    )
    .unwrap();
    assert!(d.join("bert-split.onnx.data").exists());
    assert!(std::fs::metadata(&split).unwrap().len() < 200_000);
    let a = totals(&[
        split.to_str().unwrap(),
        "--dim",
        "batch=1",
        "--dim",
        "seq=16",
    ]);
    let b = totals(&[
        d.join("bert.onnx").to_str().unwrap(),
        "--dim",
        "batch=1",
        "--dim",
        "seq=16",
    ]);
    same_totals(&a, &b, "bert with external data");
    files.push(split);
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    if requires(
        "python3 with onnxruntime",
        have_python(&["onnxruntime", "numpy"]),
    ) {
        run_in_onnxruntime(&refs);
    }
}

#[test]
fn graph_only_export_keeps_the_counts() {
    let d = tmpdir("zoo-graph-only");
    let path = d.join("vit.onnx");
    run_ok(&[
        "export",
        "vit_b_16",
        "-o",
        path.to_str().unwrap(),
        "--weights",
        "none",
    ]);
    // A graph-only ViT-B/16 is small: weights are declared, not written.
    assert!(std::fs::metadata(&path).unwrap().len() < 2_000_000);
    let t = totals(&[path.to_str().unwrap(), "--dim", "batch=1"]);
    assert_eq!(t["params"], 86_567_656u64);
    assert_eq!(t["macs"], 17_563_828_224u64);
}

#[test]
fn zoo_lists_every_model_with_its_counts() {
    let j = run_json(&["zoo", "-f", "json"]);
    let rows = j.as_array().unwrap();
    assert_eq!(rows.len(), zoo::entries().len());
    let r18 = rows.iter().find(|r| r["name"] == "resnet18").unwrap();
    assert_eq!(
        (r18["params"].as_u64(), r18["macs"].as_u64()),
        (Some(11_689_512), Some(1_814_073_344))
    );
    // --classes rebuilds the classifier: resnet18's fc goes from 512×1000+1000 to 512×10+10.
    let ten = totals(&["resnet18", "--classes", "10"]);
    assert_eq!(ten["params"], 11_689_512u64 - 512 * 990 - 990);
    let unknown = flopscope(&["profile", "resnet19"]);
    assert_eq!(unknown.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("flopscope zoo"));
}
