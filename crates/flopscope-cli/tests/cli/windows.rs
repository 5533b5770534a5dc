//! Window geometry against the runtimes: `scripts/window_cases.py` writes 300 single-node
//! Conv, ConvTranspose, MaxPool, AveragePool and LpPool models with random attributes (fixed
//! seed) and runs each on ONNX Runtime and on `onnx.reference`. Where both give the same shape,
//! flopscope must give it too; where both refuse, flopscope must refuse with one line; where
//! both return an empty (0-size) dim, flopscope must count it and warn. Cases on which the two
//! runtimes disagree are not judged.

use std::process::Command;

use crate::common::*;

/// Cases and seed: fixed, so a failure names a case that can be rerun alone.
const CASES: &str = "300";
const SEED: &str = "20261129";

#[test]
fn window_shapes_agree_with_onnxruntime_and_the_reference() {
    if !requires(
        "python3 with onnx and onnxruntime",
        have_python(&["onnx", "onnxruntime"]),
    ) {
        return;
    }
    let dir = tmpdir("windows");
    let script = data().join("../../scripts/window_cases.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&dir)
        .args(["--n", CASES, "--seed", SEED])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "window_cases.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(dir.join("cases.json")).unwrap()).unwrap();
    let (mut agree, mut refused, mut empty, mut differ) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for c in &cases {
        let file = dir.join(c["file"].as_str().unwrap());
        let what = format!("{} {} x{} {}", c["file"], c["op"], c["x"], c["attrs"]);
        let r = flopscope(&["profile", "--format", "json", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&r.stderr).to_string();
        let (ort, reference) = (&c["ort"], &c["reference"]);
        if ort.is_array() && ort == reference {
            agree += 1;
            let zero = ort.as_array().unwrap().iter().any(|d| d == 0);
            empty += usize::from(zero);
            if r.status.code() != Some(0) {
                wrong.push(format!("{what}: runtimes give {ort}, flopscope: {stderr}"));
                continue;
            }
            let j: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
            let shape = &j["outputs"][0]["shape"];
            if shape != ort {
                wrong.push(format!("{what}: runtimes give {ort}, flopscope {shape}"));
            }
            let warned = j["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w.as_str().unwrap().contains("the output is empty"));
            if zero != warned {
                wrong.push(format!("{what}: shape {ort}, warnings {}", j["warnings"]));
            }
        } else if ort.is_string() && reference.is_string() {
            refused += 1;
            let code = r.status.code();
            if !matches!(code, Some(4 | 6))
                || stderr.trim_end().lines().count() != 1
                || !stderr.starts_with("flopscope: error: node '")
            {
                wrong.push(format!(
                    "{what}: both runtimes refuse ({ort}), flopscope exits {code:?}: {stderr}"
                ));
            }
        } else {
            differ += 1;
        }
    }
    eprintln!(
        "windows: {} cases: {agree} shapes both runtimes agree on ({empty} of them empty), \
         {refused} both refuse, {differ} on which they disagree (not judged)",
        cases.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The generator must keep exercising every outcome.
    assert!(
        agree >= 100 && refused >= 50 && empty >= 5,
        "{agree} {refused} {empty}"
    );
}
