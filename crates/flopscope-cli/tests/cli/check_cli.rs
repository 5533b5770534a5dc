//! `flopscope check`: each limit passes at and below the value, fails one unit under it; the
//! Markdown says by how much; `flopscope.toml` and the flags combine.

use std::process::Output;

use crate::common::*;

/// Published torchvision ResNet-18 figures (the zoo's `resnet18` equals them exactly).
const PARAMS: u64 = 11_689_512;
const MACS: u64 = 1_814_073_344;

fn check(args: &[&str]) -> Output {
    let mut a = vec!["check"];
    a.extend_from_slice(args);
    flopscope(&a)
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn each_static_limit_passes_at_the_value_and_fails_one_below() {
    let p = run_json(&["profile", "resnet18", "-f", "json"]);
    let t = &p["totals"];
    assert_eq!(t["params"], PARAMS);
    assert_eq!(t["macs"], MACS);
    let n = |k: &str| t[k].as_u64().unwrap();
    let memory = n("weight_bytes") + n("peak_activation_bytes");
    for (flag, value) in [
        ("--max-params", PARAMS),
        ("--max-macs", MACS),
        ("--max-flops", n("flops")),
        ("--max-weight-bytes", n("weight_bytes")),
        ("--max-activation-bytes", n("peak_activation_bytes")),
        ("--max-memory", memory),
    ] {
        let at = check(&["resnet18", flag, &value.to_string()]);
        assert_eq!(code(&at), Some(0), "{flag} {value}: {}", stdout(&at));
        assert!(stdout(&at).contains("— PASS"), "{}", stdout(&at));
        let below = check(&["resnet18", flag, &(value - 1).to_string()]);
        assert_eq!(code(&below), Some(9), "{flag} {}", value - 1);
        let s = stdout(&below);
        assert!(
            s.contains("— FAIL") && s.contains("Over budget (1 of 1)"),
            "{s}"
        );
        // Over by exactly one unit: 1 (count) or 1 B.
        assert!(
            s.contains(" is 1 above the limit") || s.contains(" is 1 B above the limit"),
            "{s}"
        );
    }
}

#[test]
fn suffixed_limits_and_the_diff_of_what_is_over() {
    // 11.69M = 11,690,000 ≥ 11,689,512; 1.5G < 1,814,073,344 by 314,073,344.
    let args = [
        "resnet18",
        "--max-params",
        "11.69M",
        "--max-macs",
        "1.5G",
        "--max-memory",
        "1GiB",
    ];
    let o = check(&args);
    assert_eq!(code(&o), Some(9));
    let s = stdout(&o);
    assert!(
        s.contains("| Parameters | 11,689,512 | ≤ 11,690,000 (11.69M) | +0.0% | pass |"),
        "{s}"
    );
    assert!(
        s.contains("| MACs | 1,814,073,344 | ≤ 1,500,000,000 (1.5G) | -20.9% | FAIL |"),
        "{s}"
    );
    assert!(s.contains("Over budget (1 of 3):"), "{s}");
    assert!(
        s.contains(
            "- MACs: 1,814,073,344 is 314,073,344 above the limit 1,500,000,000 (20.9% over)"
        ),
        "{s}"
    );
    // Stable for CI logs: the same check prints the same bytes.
    let again = check(&args);
    assert_eq!(stdout(&again), s);
    let ok = check(&["resnet18", "--max-params", "25M", "--max-macs", "4.5G"]);
    assert_eq!(code(&ok), Some(0));
    assert!(stdout(&ok).contains("All 2 limits met."), "{}", stdout(&ok));
}

#[test]
fn latency_limits_measure_the_model() {
    let model = [
        "squeezenet1_1",
        "--input",
        "1x3x64x64",
        "--backend",
        "tract",
        "--runs",
        "3",
        "--warmup",
        "1",
        "--quiet",
    ];
    let with = |extra: &[&str]| {
        let mut a = model.to_vec();
        a.extend_from_slice(extra);
        check(&a)
    };
    // No inference takes a nanosecond or more than 1000 s, or runs 10^9 times a second.
    let slow_ok = with(&["--max-latency", "1000s", "--max-p99-latency", "1000s"]);
    assert_eq!(code(&slow_ok), Some(0), "{}", stdout(&slow_ok));
    assert!(
        stdout(&slow_ok).contains("| Median latency (tract "),
        "{}",
        stdout(&slow_ok)
    );
    let fast = with(&["--max-latency", "1ns", "--min-fps", "1"]);
    assert_eq!(code(&fast), Some(9));
    let s = stdout(&fast);
    assert!(s.contains("Over budget (1 of 2):"), "{s}");
    assert!(s.contains("- Median latency (tract "), "{s}");
    let fps = with(&["--min-fps", "1e9", "-f", "json"]);
    assert_eq!(code(&fps), Some(9));
    let j: serde_json::Value = serde_json::from_slice(&fps.stdout).unwrap();
    let row = &j[0]["rows"][0];
    assert_eq!(row["metric"], "fps");
    assert_eq!(row["pass"], false);
    assert!(row["value"].as_f64().unwrap() < 1e9);
}

#[test]
fn a_budget_file_checks_every_model_and_flags_override_it() {
    let dir = tmpdir("check-toml");
    std::fs::write(
        dir.join("flopscope.toml"),
        r#"
# limits for every model
[budget]
max-params = "100M"

[[model]]
path = "resnet18"
max-macs = "2G"

[[model]]
path = "mobilenet_v2"
dims = { batch = 2 }
max-macs = "0.5G"
"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        command()
            .arg("check")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    // mobilenet_v2 at batch 2: 2 × 300,774,272 = 601,548,544 MACs > 0.5G.
    let o = run(&[]);
    assert_eq!(code(&o), Some(9), "{}", String::from_utf8_lossy(&o.stderr));
    let s = stdout(&o);
    assert!(s.contains("### flopscope check: resnet18 — PASS"), "{s}");
    assert!(
        s.contains("### flopscope check: mobilenet_v2 — FAIL"),
        "{s}"
    );
    assert!(
        s.contains("| MACs | 601,548,544 | ≤ 500,000,000 (0.5G) |"),
        "{s}"
    );
    assert!(
        s.contains("| Parameters | 3,504,872 | ≤ 100,000,000 (100M) |"),
        "{s}"
    );
    // A flag overrides the file's limit for every model.
    let o = run(&["--max-macs", "5G"]);
    assert_eq!(code(&o), Some(0), "{}", stdout(&o));
    // One model from the file, with its own dims and limits.
    let o = run(&["mobilenet_v2", "--summary", "summary.md"]);
    assert_eq!(code(&o), Some(9));
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert_eq!(
        summary,
        stdout(&o),
        "the summary file gets the same Markdown"
    );

    // [budget] applies to a model the file does not list, and a listed path matches however
    // it is written (`./models/r.onnx` is `models/r.onnx`).
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::copy(
        data().join("models/resnet18.onnx"),
        dir.join("models/r.onnx"),
    )
    .unwrap();
    std::fs::write(
        dir.join("defaults.toml"),
        "[budget]\nmax-params = \"1M\"\n\n[[model]]\npath = \"models/r.onnx\"\nmax-params = \"12M\"\n",
    )
    .unwrap();
    let o = run(&["mobilenet_v2", "--config", "defaults.toml"]);
    assert_eq!(code(&o), Some(9), "3,504,872 > 1M: {}", stdout(&o));
    assert!(stdout(&o).contains("| Parameters | 3,504,872 | ≤ 1,000,000 (1M) |"));
    let o = run(&["./models/r.onnx", "--config", "defaults.toml"]);
    assert_eq!(code(&o), Some(0), "11,680,872 ≤ 12M: {}", stdout(&o));
    assert!(stdout(&o).contains("| Parameters | 11,680,872 | ≤ 12,000,000 (12M) |"));

    // Mistakes in the file are usage errors naming the key.
    std::fs::write(dir.join("bad.toml"), "[budget]\nmax-parms = \"1M\"\n").unwrap();
    let o = run(&["--config", "bad.toml"]);
    assert_eq!(code(&o), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown key 'max-parms'"), "{err}");
    std::fs::write(
        dir.join("units.toml"),
        "[[model]]\npath = \"resnet18\"\nmax-latency = \"20\"\n",
    )
    .unwrap();
    let o = run(&["--config", "units.toml"]);
    assert_eq!(code(&o), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a duration like 20ms"));
    std::fs::write(dir.join("syntax.toml"), "[budget]\nmax-params = 1M\n").unwrap();
    let o = run(&["--config", "syntax.toml"]);
    assert_eq!(code(&o), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("syntax.toml") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn no_limits_or_no_model_is_a_usage_error() {
    let dir = tmpdir("check-empty");
    let o = command()
        .args(["check", "resnet18"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(code(&o), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no limits for resnet18"));
    let o = command().arg("check").current_dir(&dir).output().unwrap();
    assert_eq!(code(&o), Some(2));
    let o = check(&["resnet18", "--max-params", "lots"]);
    assert_eq!(code(&o), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("--max-params expects a non-negative number, got 'lots'"),
        "{err}"
    );
}
