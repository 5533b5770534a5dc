//! Remote ONNX files and URL sources: an ONNX file with embedded weights is read with range
//! requests that jump over its weights, and profiles as the local file does; URL sources are
//! cached by their `ETag` / `Last-Modified`; a pre-signed URL's signature is sent to the server
//! and appears in no output, error or cache file.

use std::path::Path;

use crate::common::hub::{Hub, Mode, Repo};
use crate::common::{run_json, run_ok, tmpdir};
use crate::remote::{json_of, one_line, run, sans_source, walk};
use serde_json::Value;

const COMMIT: &str = "fedcba9876543210fedcba9876543210fedcba98";
/// torchvision's `resnet18` parameter count: the float32 weights the export embeds.
const R18_PARAMS: u64 = 11_689_512;
/// Its parameter tensors (torchvision's `named_parameters`): 20 convolutions, 20 batch norms
/// with a weight and a bias each, the classifier's weight and bias.
const R18_TENSORS: u64 = 20 + 20 * 2 + 2;

fn repo(dir: &Path) -> Repo {
    Repo {
        name: "org/onnx".into(),
        dir: dir.into(),
        commit: COMMIT.into(),
        token: None,
    }
}

/// `flopscope export resnet18` with random weights embedded (seed `seed`) at `dir/r18.onnx`.
fn export_r18(dir: &Path, seed: &str) -> u64 {
    let f = dir.join("r18.onnx");
    run_ok(&[
        "export",
        "resnet18",
        "-o",
        f.to_str().unwrap(),
        "--seed",
        seed,
    ]);
    let size = std::fs::metadata(&f).unwrap().len();
    // Embedded: the file holds every float32 parameter (and the batch norms' statistics).
    assert!(size > 4 * R18_PARAMS, "{size}");
    size
}

fn url_of(hub: &Hub, file: &str) -> String {
    format!("http://127.0.0.1:{}/org/onnx/{COMMIT}/{file}", hub.cdn_port)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn embedded_weights_are_jumped_over_and_urls_are_cached_by_etag() {
    let dir = tmpdir("ronnx-embedded");
    let home = tmpdir("ronnx-embedded-home");
    let size = export_r18(&dir, "0");
    let hub = Hub::start(vec![repo(&dir)], Mode::Normal);
    let url = url_of(&hub, "r18.onnx");
    let args = ["profile", url.as_str(), "-f", "json"];
    let local = run_json(&[
        "profile",
        dir.join("r18.onnx").to_str().unwrap(),
        "-f",
        "json",
    ]);

    let (h0, s0) = (hub.hits().len(), hub.served());
    let remote = json_of(&run(&hub.url(), &home, &[], &args));
    assert_eq!(sans_source(remote.clone()), sans_source(local.clone()));
    assert_eq!(remote["model"]["source"], url.as_str());
    assert_eq!(remote["model"]["file_bytes"], size);
    let (served, hits) = (hub.served() - s0, hub.hits().split_off(h0));
    println!(
        "resnet18, {size} bytes with weights: {served} bytes served in {} requests",
        hits.len()
    );
    assert!(hits.iter().all(|h| h.range.is_some()), "{hits:?}");
    // What is not a parameter (the graph, the batch norms' statistics), plus per parameter
    // tensor at most one 4 KiB read after jumping over it and a 64 KiB gap read through, plus
    // 512 bytes of status line and headers per answer.
    let bound = (size - 4 * R18_PARAMS) + R18_TENSORS * ((4 + 64) << 10) + hits.len() as u64 * 512;
    assert!(served < bound, "{served} >= {bound}");
    assert!(served * 100 < size, "{served} of {size}");

    // Again: one conditional request of one byte, answered 304; the same profile.
    let h0 = hub.hits().len();
    assert_eq!(json_of(&run(&hub.url(), &home, &[], &args)), remote);
    let hits = hub.hits().split_off(h0);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].if_none_match.is_some() && hits[0].range.as_deref() == Some("bytes=0-0"));
    // Offline: no request at all.
    let h0 = hub.hits().len();
    let out = run(&hub.url(), &home, &[("HF_HUB_OFFLINE", "1")], &args);
    assert_eq!(json_of(&out), remote);
    assert_eq!(hub.hits().len(), h0);

    // A new version of the file (other weights, so another ETag): read again, then cached.
    std::thread::sleep(std::time::Duration::from_millis(20));
    export_r18(&dir, "1");
    let h0 = hub.hits().len();
    assert_eq!(json_of(&run(&hub.url(), &home, &[], &args)), remote);
    assert!(hub.hits().len() - h0 > 2, "{:?}", hub.hits().split_off(h0));
    let h0 = hub.hits().len();
    assert_eq!(json_of(&run(&hub.url(), &home, &[], &args)), remote);
    assert_eq!(hub.hits().len() - h0, 1);

    // A Hub source: cached by commit, so a run at the commit asks nothing.
    let spec = "hf:org/onnx/r18.onnx";
    let hub_args = ["profile", spec, "-f", "json"];
    let first = json_of(&run(&hub.url(), &home, &[], &hub_args));
    assert_eq!(sans_source(first), sans_source(local.clone()));
    let h0 = hub.hits().len();
    let at = format!("hf:org/onnx@{COMMIT}/r18.onnx");
    let again = json_of(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", &at, "-f", "json"],
    ));
    assert_eq!(sans_source(again), sans_source(local.clone()));
    assert_eq!(hub.hits().len(), h0);

    // The server gone: the cached copy, with a warning.
    hub.stop();
    let out = run(&hub.url(), &home, &[], &args);
    assert!(
        stderr(&out).contains("using the cached copy"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json_of(&out), remote);
}

#[test]
fn last_modified_alone_validates_and_no_validators_means_no_cache() {
    let dir = tmpdir("ronnx-validators");
    std::fs::copy(
        crate::common::data().join("models/resnet18.onnx"),
        dir.join("r18.onnx"),
    )
    .unwrap();
    let local = run_json(&[
        "profile",
        dir.join("r18.onnx").to_str().unwrap(),
        "-f",
        "json",
    ]);
    for (mode, cached) in [(Mode::NoEtag, true), (Mode::NoValidators, false)] {
        let home = tmpdir(&format!("ronnx-validators-home-{cached}"));
        let hub = Hub::start(vec![repo(&dir)], mode);
        let url = url_of(&hub, "r18.onnx");
        let args = ["profile", url.as_str(), "-f", "json"];
        let first = json_of(&run(&hub.url(), &home, &[], &args));
        assert_eq!(sans_source(first.clone()), sans_source(local.clone()));
        let h0 = hub.hits().len();
        assert_eq!(json_of(&run(&hub.url(), &home, &[], &args)), first);
        let hits = hub.hits().split_off(h0);
        if cached {
            // `If-Modified-Since` with the date the server sent, answered 304.
            assert_eq!(hits.len(), 1, "{hits:?}");
            assert!(hits[0].if_modified_since.is_some() && hits[0].if_none_match.is_none());
        } else {
            // Nothing to check a copy against: nothing kept, the file read again.
            assert!(
                hits.iter().all(|h| h.if_modified_since.is_none()),
                "{hits:?}"
            );
            let off = run(&hub.url(), &home, &[("HF_HUB_OFFLINE", "1")], &args);
            let (code, e) = one_line(&off);
            assert_eq!(code, Some(10), "{e}");
            assert!(e.contains("not in the cache"), "{e}");
        }
    }
}

#[test]
fn a_server_that_ignores_range_sends_the_onnx_file_once() {
    let dir = tmpdir("ronnx-norange");
    let home = tmpdir("ronnx-norange-home");
    let size = export_r18(&dir, "0");
    let local = run_json(&[
        "profile",
        dir.join("r18.onnx").to_str().unwrap(),
        "-f",
        "json",
    ]);
    let hub = Hub::start(vec![repo(&dir)], Mode::IgnoreRange);
    let url = url_of(&hub, "r18.onnx");
    let remote = json_of(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", &url, "-f", "json"],
    ));
    assert_eq!(sans_source(remote), sans_source(local));
    // The first ranged read (cut off), then the file whole, once.
    let hits = hub.hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits[1].range.is_none(), "{hits:?}");
    assert!(hub.served() >= size);
}

#[test]
fn a_server_that_claims_a_longer_onnx_file_is_a_malformed_file() {
    let dir = tmpdir("ronnx-claim");
    let home = tmpdir("ronnx-claim-home");
    let size = export_r18(&dir, "0");
    // Twice its size: the structure walked to the real end asks for bytes that are not there.
    let hub = Hub::start(vec![repo(&dir)], Mode::ClaimSize(2 * size));
    let url = url_of(&hub, "r18.onnx");
    let (code, e) = one_line(&run(&hub.url(), &home, &[], &["profile", &url]));
    assert_eq!(code, Some(4), "{e}");
    assert!(e.contains("shorter than the size it gave"), "{e}");
}

#[test]
fn a_pre_signed_urls_signature_is_sent_and_never_shown_or_kept() {
    let dir = tmpdir("ronnx-signed");
    let home = tmpdir("ronnx-signed-home");
    let out_dir = tmpdir("ronnx-signed-out");
    std::fs::copy(
        crate::common::data().join("models/resnet18.onnx"),
        dir.join("r18.onnx"),
    )
    .unwrap();
    std::fs::write(dir.join("bad.onnx"), b"\x08\x07\x12\x03abc not protobuf").unwrap();
    let hub = Hub::start(vec![repo(&dir)], Mode::Normal);
    let query = "?X-Amz-Credential=AKIA%2FSECRETCRED&X-Amz-Signature=SECRETSIG";
    let signed = |f: &str| format!("{}{query}", url_of(&hub, f));
    let url = signed("r18.onnx");
    let plain = url_of(&hub, "r18.onnx");
    let local_file = crate::common::data().join("models/resnet18.onnx");
    let local = local_file.to_str().unwrap();
    let html = out_dir.join("r.html");
    let cmp_html = out_dir.join("c.html");

    let mut shown = String::new();
    let mut ok = |args: &[&str]| {
        let out = run(&hub.url(), &home, &[], args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        shown += &text;
        shown += &stderr(&out);
        text
    };
    let json: Value = serde_json::from_str(&ok(&["profile", &url, "-f", "json"])).unwrap();
    assert_eq!(json["model"]["source"], plain.as_str());
    // The table and Markdown name the model in their totals; CSV has layers only.
    for f in ["table", "markdown"] {
        assert!(ok(&["profile", &url, "-f", f]).contains(&plain), "{f}");
    }
    ok(&["profile", &url, "-f", "csv"]);
    ok(&["report", &url, "-o", html.to_str().unwrap()]);
    for f in ["table", "json", "csv", "markdown", "latex"] {
        ok(&["compare", &url, local, "-f", f]);
    }
    ok(&["compare", &url, local, "-o", cmp_html.to_str().unwrap()]);
    ok(&["check", &url, "--max-params", "100M"]);
    // Errors: a missing file, a file that is not ONNX, a remote model where its file is
    // needed, offline with nothing cached, a budget with no limits.
    let mut errors = Vec::new();
    for (args, env, code) in [
        (vec!["profile", &signed("none.onnx")], vec![], 3),
        (vec!["profile", &signed("bad.onnx")], vec![], 4),
        (vec!["bench", &url], vec![], 2),
        (vec!["export", &url, "-o", "x.onnx"], vec![], 2),
        (
            vec!["profile", &signed("other.onnx")],
            vec![("HF_HUB_OFFLINE", "1")],
            10,
        ),
        (vec!["check", &url], vec![], 2),
    ] {
        let (c, e) = one_line(&run(&hub.url(), &home, &env, &args));
        assert_eq!(c, Some(code), "{args:?}: {e}");
        errors.push(e);
    }
    shown += &errors.join("");
    shown += &std::fs::read_to_string(&html).unwrap();
    shown += &std::fs::read_to_string(&cmp_html).unwrap();
    assert!(shown.contains(&plain));
    assert!(!shown.contains("SECRET"), "{shown}");
    // The cache: neither in its file names nor in its files.
    let cached = walk(&home.join("cache"));
    assert!(!cached.is_empty());
    for f in cached {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !f.to_string_lossy().contains("SECRET") && !text.contains("SECRET"),
            "{f:?}"
        );
    }
    // The server got the signature with the file, every time.
    let hits = hub.hits();
    let file_hits: Vec<_> = hits
        .iter()
        .filter(|h| h.path.contains("/r18.onnx"))
        .collect();
    assert!(!file_hits.is_empty());
    for h in file_hits {
        assert!(h.path.ends_with(query), "{h:?}");
    }
}

/// The numbers of docs/remote.md ("An ONNX file with its weights"): a built-in model exported
/// with random weights embedded (`FLOPSCOPE_REMOTE_MODEL`, default `gpt2`: 124M parameters,
/// ~500 MB), profiled from the stand-in cold and warm: bytes served and requests.
/// `cargo test -p flopscope-cli --test cli remote_onnx_bytes -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: exports a ~500 MB model"]
fn remote_onnx_bytes() {
    let model = std::env::var("FLOPSCOPE_REMOTE_MODEL").unwrap_or_else(|_| "gpt2".into());
    let dir = tmpdir("ronnx-bytes");
    let home = tmpdir("ronnx-bytes-home");
    let f = dir.join("m.onnx");
    run_ok(&["export", &model, "-o", f.to_str().unwrap()]);
    let size = std::fs::metadata(&f).unwrap().len();
    let local = run_json(&["profile", f.to_str().unwrap(), "-f", "json"]);
    for mode in [Mode::Normal, Mode::IgnoreRange] {
        let hub = Hub::start(vec![repo(&dir)], mode);
        let url = url_of(&hub, "m.onnx");
        let args = ["profile", url.as_str(), "-f", "json"];
        for run_name in ["cold", "warm"] {
            let (h0, s0) = (hub.hits().len(), hub.served());
            let t = std::time::Instant::now();
            let remote = json_of(&run(&hub.url(), &home, &[], &args));
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(sans_source(remote), sans_source(local.clone()));
            let (served, n) = (hub.served() - s0, hub.hits().len() - h0);
            println!(
                "{model} ({size} bytes), {}, {run_name}: {served} bytes served ({:.3} %) in {n} requests, {ms:.0} ms",
                if mode == Mode::Normal { "ranges" } else { "Range ignored" },
                served as f64 * 100.0 / size as f64
            );
        }
        let cached: u64 = walk(&home.join("cache"))
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        println!("cache: {cached} bytes");
        let _ = std::fs::remove_dir_all(home.join("cache"));
    }
}
