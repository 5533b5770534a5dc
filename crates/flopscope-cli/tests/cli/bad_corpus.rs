//! The hostile-input corpus `tests/data/bad/` (written by the `make_bad_corpus` example, which
//! states each expectation next to the bytes): every file gets its documented exit code and a
//! one-line error naming the problem, with no panic, within a second of CPU and bounded memory.

use std::time::Duration;

use crate::common::{data, run_measured as run};

#[test]
fn every_bad_file_gets_its_documented_error() {
    let dir = data().join("bad");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    // Every model file in the folder is a case (`.bin`: external data other cases point to).
    for f in std::fs::read_dir(&dir).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name != "expected.json" && !name.ends_with(".bin") {
            assert!(
                cases.iter().any(|c| c["file"] == name.as_str()),
                "{name} has no expectation"
            );
        }
    }
    let mut report = Vec::new();
    for c in &cases {
        let file = dir.join(c["file"].as_str().unwrap());
        let mut args: Vec<&str> = c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        args.push(file.to_str().unwrap());
        let r = run(&args, Duration::from_secs(30));
        let want = c["exit"].as_i64().unwrap() as i32;
        let says = c["says"].as_str().unwrap();
        let name = c["file"].as_str().unwrap();
        assert!(
            !r.stderr.contains("panicked"),
            "{name}: panic: {}",
            r.stderr
        );
        assert_eq!(r.code, Some(want), "{name}: {}", r.stderr);
        if want == 0 {
            assert!(
                r.stdout.contains(says) || r.stderr.contains(says),
                "{name}: no '{says}' in output"
            );
        } else {
            assert_eq!(
                r.stderr.trim_end().lines().count(),
                1,
                "{name}: not one line: {}",
                r.stderr
            );
            assert!(
                r.stderr.starts_with("flopscope: error: "),
                "{name}: {}",
                r.stderr
            );
            assert!(
                r.stderr.contains(says),
                "{name}: no '{says}' in: {}",
                r.stderr
            );
        }
        // Generous bounds (a second of CPU, 200 MB): they catch a hang, a quadratic blow-up
        // or an allocation sized by the file, not noise. Typical: a few ms and 10-30 MB.
        assert!(r.cpu_s < 1.0, "{name}: {:.2} s of CPU", r.cpu_s);
        assert!(r.max_rss_mb < 200.0, "{name}: {:.0} MB peak", r.max_rss_mb);
        report.push(format!(
            "{name:<40} exit {want}  {:>6.3} s CPU  {:>5.1} MB",
            r.cpu_s, r.max_rss_mb
        ));
    }
    println!("{}", report.join("\n"));
}
