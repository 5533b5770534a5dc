//! The hostile-input corpus `tests/data/bad/` (written by the `make_bad_corpus` example, which
//! states each expectation next to the bytes): every file gets its documented exit code and a
//! one-line error naming the problem, with no panic, within a second of CPU and bounded memory.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::data;

/// What one finished run cost.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    cpu_s: f64,
    max_rss_mb: f64,
}

/// Runs the binary and reads its own resource usage with `wait4`; kills it after `limit`.
fn run(args: &[&str], limit: Duration) -> Run {
    let dir = common::tmpdir("bad-corpus-out");
    let (out, err) = (dir.join("out"), dir.join("err"));
    // Reaped by `wait4` below (std's `wait` would not give us the child's resource usage).
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(env!("CARGO_BIN_EXE_flopscope"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("runs");
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our unreaped child; status and ru point to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4 failed");
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
        cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
        max_rss_mb: ru.ru_maxrss as f64 / 1024.0,
    }
}

#[test]
fn every_bad_file_gets_its_documented_error() {
    let dir = data().join("bad");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    // Every model file in the folder is a case.
    for f in std::fs::read_dir(&dir).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".onnx") {
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
