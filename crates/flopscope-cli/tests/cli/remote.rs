//! Remote models (`hf:ORG/NAME`, URLs) against a Hub stand-in on 127.0.0.1 serving the sparse
//! checkpoints the LLM tests build: the profile equals the local files' profile, only headers
//! cross the wire (bytes counted by the server), the token never leaves the endpoint's host,
//! the cache serves a second run with the server gone, and each failure is one line with its
//! exit code.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::common::hub::{Hub, Mode, Repo};
use crate::common::{command, run_json, tmpdir};
use crate::llm::{gguf_70b, write_gguf, write_llama_7b, META_70B};
use serde_json::Value;

const COMMIT_7B: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_70B: &str = "89abcdef0123456789abcdef0123456789abcdef";
const TOKEN: &str = "hf_test_secret";

/// `flopscope ARGS` against `hub`, with caches and tokens of its own (nothing from the user's
/// environment: no token, no proxy, no offline flag).
pub(crate) fn run(hub_url: &str, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    cmd(hub_url, home, env, args).output().expect("runs")
}

pub(crate) fn cmd(
    hub_url: &str,
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> std::process::Command {
    let mut c = command();
    for k in [
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_OFFLINE",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        c.env_remove(k);
    }
    c.env("HF_ENDPOINT", hub_url)
        .env("HF_HOME", home.join("hf"))
        .env("FLOPSCOPE_CACHE_DIR", home.join("cache"))
        .env("FLOPSCOPE_HTTP_TIMEOUT", "10")
        .envs(env.iter().copied())
        .args(args);
    c
}

pub(crate) fn json_of(out: &Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// A profile with what names its source taken out: `model.source`, and `llm.files` down to
/// file names (local paths there, repository paths remotely).
pub(crate) fn sans_source(mut p: Value) -> Value {
    p["model"]["source"] = Value::Null;
    if let Some(files) = p["llm"]["files"].as_array_mut() {
        for f in files {
            let name = Path::new(f.as_str().unwrap())
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            *f = name.into();
        }
    }
    p
}

/// One error line on stderr, no panic; returns (exit code, the line).
pub(crate) fn one_line(out: &Output) -> (Option<i32>, String) {
    let e = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    (out.status.code(), e)
}

fn seven_b(dir: &Path) -> Repo {
    write_llama_7b(dir);
    Repo {
        name: "meta-llama/Llama-2-7b-hf".into(),
        dir: dir.into(),
        commit: COMMIT_7B.into(),
        token: Some(TOKEN.into()),
    }
}

fn seventy_b(dir: &Path) -> PathBuf {
    let f = dir.join("llama-2-70b.Q8_0.gguf");
    write_gguf(&f, &META_70B, &gguf_70b(), 8, (32, 34));
    f
}

#[test]
fn hub_safetensors_7b_equals_local_reads_headers_only_and_caches() {
    let dir = tmpdir("remote-7b");
    let home = tmpdir("remote-7b-home");
    let hub = Hub::start(vec![seven_b(&dir)], Mode::Normal);
    let spec = "hf:meta-llama/Llama-2-7b-hf";
    let args = ["profile", spec, "--dim", "seq=128", "-f", "json"];
    let local = run_json(&[
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=128",
        "-f",
        "json",
    ]);

    // Gated: without the token, one line naming the variable, exit 11.
    let (code, e) = one_line(&run(&hub.url(), &home, &[], &args));
    assert_eq!(code, Some(11), "{e}");
    assert!(e.contains("HF_TOKEN") && e.contains("401"), "{e}");

    let (before, served_before) = (hub.hits().len(), hub.served());
    let remote = json_of(&run(&hub.url(), &home, &[("HF_TOKEN", TOKEN)], &args));
    assert_eq!(remote["model"]["source"], spec);
    assert_eq!(sans_source(remote.clone()), sans_source(local));
    // 13.5 GB of declared weights; the headers, config and index are what crossed.
    assert_eq!(remote["llm"]["weight_bytes"], 2 * 6_738_415_616u64);
    let served = hub.served() - served_before;
    println!("7B, two shards: {served} bytes served");
    assert!(served < 1_000_000, "{served}");
    // The token went to the endpoint, never to the host the files were redirected to.
    let hits = hub.hits().split_off(before);
    assert!(hits.iter().any(|h| h.cdn), "no redirect was followed");
    for h in &hits {
        let want = if h.cdn {
            None
        } else {
            Some(format!("Bearer {TOKEN}"))
        };
        assert_eq!(h.auth, want, "{h:?}");
    }
    // Every shard read asked for a range: the weights were never requested.
    assert!(hits.iter().filter(|h| h.cdn).all(|h| h.range.is_some()));
    // config.json at `main` was redirected path-relatively (`../{commit}/config.json`) and
    // read at the commit, on the endpoint, with the token.
    let at_commit = format!("/meta-llama/Llama-2-7b-hf/resolve/{COMMIT_7B}/config.json");
    assert!(
        hits.iter().any(|h| !h.cdn && h.path == at_commit),
        "{hits:?}"
    );

    // The server gone: the cached commit of `main`, then the commit itself, offline too.
    hub.stop();
    let out = run(&hub.url(), &home, &[], &args);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cached main"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out), remote);
    let out = run(&hub.url(), &home, &[("HF_HUB_OFFLINE", "1")], &args);
    assert_eq!(json_of(&out)["totals"], remote["totals"]);
    let at = format!("{spec}@{COMMIT_7B}");
    let out = run(
        &hub.url(),
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &["profile", &at, "-f", "json", "--dim", "seq=128"],
    );
    assert_eq!(json_of(&out)["llm"], remote["llm"]);
    // Offline with nothing cached, and no server at all: exit 10.
    let (code, e) = one_line(&run(
        &hub.url(),
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &["profile", "hf:other/model"],
    ));
    assert_eq!(code, Some(10), "{e}");
    assert!(e.contains("HF_HUB_OFFLINE"), "{e}");
    let (code, e) = one_line(&run(&hub.url(), &home, &[], &["profile", "hf:other/model"]));
    assert_eq!(code, Some(10), "{e}");
}

#[test]
fn token_file_and_gguf_70b_under_10_mb() {
    let dir = tmpdir("remote-70b");
    let home = tmpdir("remote-70b-home");
    let f = seventy_b(&dir);
    let repo = Repo {
        name: "TheBloke/Llama-2-70B-GGUF".into(),
        dir: dir.clone(),
        commit: COMMIT_70B.into(),
        token: Some(TOKEN.into()),
    };
    let hub = Hub::start(vec![repo], Mode::Normal);
    // The token from $HF_HOME/token when HF_TOKEN is not set.
    std::fs::create_dir_all(home.join("hf")).unwrap();
    std::fs::write(home.join("hf/token"), format!("{TOKEN}\n")).unwrap();
    let spec = "hf:TheBloke/Llama-2-70B-GGUF/llama-2-70b.Q8_0.gguf";
    let remote = json_of(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", spec, "-f", "json", "--dim", "seq=128"],
    ));
    let local = run_json(&[
        "profile",
        f.to_str().unwrap(),
        "-f",
        "json",
        "--dim",
        "seq=128",
    ]);
    assert_eq!(sans_source(remote.clone()), sans_source(local));
    assert_eq!(remote["llm"]["total_params"], 68_976_648_192u64);
    let served = hub.served();
    println!("70B GGUF Q8_0: {served} bytes served");
    assert!(served < 10_000_000, "{served}");
    // A URL of the file (on the CDN host: no token needed or sent), `check` and `compare`.
    let url = format!(
        "http://127.0.0.1:{}/TheBloke/Llama-2-70B-GGUF/{COMMIT_70B}/llama-2-70b.Q8_0.gguf",
        hub.cdn_port
    );
    let by_url = json_of(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", &url, "-f", "json", "--dim", "seq=128"],
    ));
    assert_eq!(sans_source(by_url), sans_source(remote));
    let out = run(
        &hub.url(),
        &home,
        &[],
        &["check", spec, "--max-params", "100G"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &hub.url(),
        &home,
        &[],
        &["compare", spec, &url, "-f", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // bench needs the weights: refused before any request.
    let (code, e) = one_line(&run(&hub.url(), &home, &[], &["bench", spec]));
    assert_eq!(code, Some(2), "{e}");
    assert!(
        hub.hits().iter().all(|h| h.auth.is_none() == h.cdn),
        "the token left the endpoint"
    );
}

#[test]
fn missing_files_lying_headers_and_servers_that_misbehave() {
    let dir = tmpdir("remote-bad");
    let home = tmpdir("remote-bad-home");
    // A safetensors file whose length prefix says more than the file has.
    std::fs::write(
        dir.join("model.safetensors"),
        [&(1u64 << 40).to_le_bytes()[..], b"{}"].concat(),
    )
    .unwrap();
    let repo = |name: &str| Repo {
        name: name.into(),
        dir: dir.clone(),
        commit: COMMIT_7B.into(),
        token: None,
    };
    let hub = Hub::start(vec![repo("org/bad")], Mode::Normal);
    let profile = |spec: &str| one_line(&run(&hub.url(), &home, &[], &["profile", spec]));
    let (code, e) = profile("hf:org/bad");
    assert_eq!(code, Some(4), "{e}");
    assert!(e.contains("length prefix"), "{e}");
    let (code, e) = profile("hf:org/bad/missing.gguf");
    assert_eq!(code, Some(3), "{e}");
    assert!(
        e.contains("hf:org/bad@main/missing.gguf") && e.contains("404"),
        "{e}"
    );
    let (code, e) = profile("hf:org/bad@v9");
    assert_eq!(code, Some(3), "{e}");
    assert!(e.contains("no revision 'v9' in org/bad"), "{e}");
    let (code, e) = profile("hf:org/bad/weights.bin");
    assert_eq!(code, Some(2), "{e}");

    // A server that ignores Range: read as far as the headers need, then hung up on.
    let full = tmpdir("remote-full");
    let hub = Hub::start(vec![seven_b(&full)], Mode::IgnoreRange);
    let args = [
        "profile",
        "hf:meta-llama/Llama-2-7b-hf",
        "-f",
        "json",
        "--dim",
        "seq=128",
    ];
    let r = run_measured_env(&hub, &home.join("full"), &[("HF_TOKEN", TOKEN)], &args);
    assert_eq!(r.0, Some(0), "{}", r.2);
    let served = hub.served();
    println!("ignoring Range: {served} bytes served");
    assert!(served < 64 << 20, "{served}");
    let local = run_json(&[
        "profile",
        full.to_str().unwrap(),
        "--dim",
        "seq=128",
        "-f",
        "json",
    ]);
    assert_eq!(
        sans_source(serde_json::from_str(&r.1).unwrap()),
        sans_source(local)
    );

    // A slow server: a time-out per try, a bounded number of tries, one line, exit 10.
    let slow = Hub::start(vec![repo("org/bad")], Mode::Slow);
    let env = [
        ("FLOPSCOPE_HTTP_TIMEOUT", "0.5"),
        ("FLOPSCOPE_HTTP_RETRIES", "1"),
    ];
    let (code, _, e) = run_measured_env(&slow, &home, &env, &["profile", "hf:org/bad"]);
    assert_eq!(code, Some(10), "{e}");
    assert!(
        e.contains("no answer within 0.5 s (2 tries") && e.trim_end().lines().count() == 1,
        "{e}"
    );
    assert_eq!(slow.hits().len(), 2);

    // 503s: retried with backoff, then either served or given up on.
    let flaky = Hub::start(vec![repo("org/bad")], Mode::Fail503(2));
    let env = [("FLOPSCOPE_HTTP_RETRIES", "2")];
    let (code, e) = one_line(&run(&flaky.url(), &home, &env, &["profile", "hf:org/bad"]));
    assert_eq!(
        code,
        Some(4),
        "served after two 503s, then the bad header: {e}"
    );
    let down = Hub::start(vec![repo("org/bad")], Mode::Fail503(usize::MAX));
    let env = [("FLOPSCOPE_HTTP_RETRIES", "1")];
    let (code, e) = one_line(&run(&down.url(), &home, &env, &["profile", "hf:org/bad"]));
    assert_eq!(code, Some(10), "{e}");
    assert!(e.contains("HTTP 503"), "{e}");
    assert_eq!(down.hits().len(), 2);
}

/// A GGUF whose header is mostly a 100,000-token vocabulary (~1.9 MB): read in growing ranges.
fn write_vocab_gguf(path: &Path) {
    let s = |b: &mut Vec<u8>, x: &str| {
        b.extend((x.len() as u64).to_le_bytes());
        b.extend(x.as_bytes());
    };
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes()); // tensors
    b.extend(2u64.to_le_bytes()); // key-value pairs
    s(&mut b, "general.name");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "vocab");
    s(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes()); // array
    b.extend(8u32.to_le_bytes()); // of strings
    b.extend(100_000u64.to_le_bytes());
    for i in 0..100_000 {
        s(&mut b, &format!("token_{i:05}"));
    }
    s(&mut b, "token_embd.weight");
    b.extend(2u32.to_le_bytes());
    b.extend(64u64.to_le_bytes());
    b.extend(100_000u64.to_le_bytes());
    b.extend(0u32.to_le_bytes()); // f32
    b.extend(0u64.to_le_bytes());
    let data = (b.len() as u64).div_ceil(32) * 32;
    std::fs::write(path, &b).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(data + 64 * 100_000 * 4).unwrap();
}

#[test]
fn long_headers_onnx_files_and_the_remote_limits() {
    let dir = tmpdir("remote-long");
    let home = tmpdir("remote-long-home");
    // A 1,800-tensor safetensors file: its header (~190 KB) needs a second range.
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let t = crate::llm::llama_tensors(64, 200, 4, 4, 128, 100);
    crate::llm::write_safetensors(&dir.join("sub/big.safetensors"), &t);
    let cfg = crate::llm::llama_config(64, 200, 4, 4, 128, 100).to_string();
    std::fs::write(dir.join("sub/config.json"), cfg).unwrap();
    write_vocab_gguf(&dir.join("vocab.gguf"));
    std::fs::copy(
        crate::common::data().join("models/resnet18.onnx"),
        dir.join("resnet18.onnx"),
    )
    .unwrap();
    // A length prefix over the 25,000,000-byte limit for remote headers (the file is larger).
    let huge = dir.join("huge.safetensors");
    std::fs::write(&huge, [&30_000_000u64.to_le_bytes()[..], b"{"].concat()).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(40 << 20)
        .unwrap();
    let repo = Repo {
        name: "org/long".into(),
        dir: dir.clone(),
        commit: COMMIT_7B.into(),
        token: None,
    };
    let hub = Hub::start(vec![repo], Mode::Normal);
    for (file, most) in [
        ("sub/big.safetensors", 400_000),
        ("vocab.gguf", 4_300_000),
        ("resnet18.onnx", 20_000),
    ] {
        let before = hub.served();
        let spec = format!("hf:org/long/{file}");
        let args = ["profile", &spec, "-f", "json", "--dim", "batch=1"];
        let remote = json_of(&run(&hub.url(), &home, &[], &args));
        let served = hub.served() - before;
        println!("{file}: {served} bytes served");
        assert!(served < most, "{file}: {served}");
        let local = dir.join(file);
        let local = run_json(&[
            "profile",
            local.to_str().unwrap(),
            "-f",
            "json",
            "--dim",
            "batch=1",
        ]);
        assert_eq!(sans_source(remote), sans_source(local), "{file}");
    }
    let (code, e) = one_line(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", "hf:org/long/huge.safetensors"],
    ));
    assert_eq!(code, Some(4), "{e}");
    assert!(e.contains("over the 25000000-byte limit"), "{e}");
}

/// The one-line reason of a local profile's malformed-file error (after `not a valid …: `).
fn local_reason(file: &Path) -> String {
    let (code, e) = one_line(
        &command()
            .args(["profile", file.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert_eq!(code, Some(4), "{e}");
    let (_, reason) = e
        .trim_end()
        .split_once(": not a valid ")
        .expect("malformed");
    reason.split_once(": ").unwrap().1.to_string()
}

#[test]
fn a_lying_file_size_and_a_huge_timeout_are_one_line_errors() {
    let dir = tmpdir("remote-lying");
    let home = tmpdir("remote-lying-home");
    // 10^15 tensors, which a file of 2^62 bytes (what the server claims) could hold; the
    // records that follow are 0xFF, which no tensor name can start with.
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(1_000_000_000_000_000u64.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.resize(300 << 10, 0xff);
    std::fs::write(dir.join("lying.gguf"), &b).unwrap();
    let repo = Repo {
        name: "org/lying".into(),
        dir: dir.clone(),
        commit: COMMIT_70B.into(),
        token: None,
    };
    let hub = Hub::start(vec![repo], Mode::ClaimSize(1 << 62));
    let (code, e) = one_line(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", "hf:org/lying/lying.gguf"],
    ));
    assert_eq!(code, Some(4), "{e}");
    assert!(
        e.contains("lying.gguf: not a valid GGUF file: the name of tensor 0 needs"),
        "{e}"
    );
    // A time-out a Duration cannot hold: a usage error, not a panic.
    let env = [("FLOPSCOPE_HTTP_TIMEOUT", "1e20")];
    let (code, e) = one_line(&run(
        &hub.url(),
        &home,
        &env,
        &["profile", "hf:org/lying/lying.gguf"],
    ));
    assert_eq!(code, Some(2), "{e}");
    assert!(e.contains("FLOPSCOPE_HTTP_TIMEOUT"), "{e}");
}

#[test]
fn a_damaged_cache_entry_is_fetched_again_and_rewritten() {
    let dir = tmpdir("remote-damaged");
    let home = tmpdir("remote-damaged-home");
    let f = seventy_b(&dir);
    let repo = Repo {
        name: "TheBloke/Llama-2-70B-GGUF".into(),
        dir: dir.clone(),
        commit: COMMIT_70B.into(),
        token: None,
    };
    let hub = Hub::start(vec![repo], Mode::Normal);
    let spec = "hf:TheBloke/Llama-2-70B-GGUF/llama-2-70b.Q8_0.gguf";
    let args = ["profile", spec, "-f", "json", "--dim", "seq=128"];
    let first = json_of(&run(&hub.url(), &home, &[], &args));
    // The cached header, cut to 100 bytes, as a full disk or an interrupted copy leaves it.
    let cached: Vec<PathBuf> = walk(&home.join("cache"))
        .into_iter()
        .filter(|p| p.file_name() == f.file_name())
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let whole = std::fs::read(&cached[0]).unwrap();
    std::fs::write(&cached[0], &whole[..100]).unwrap();
    let again = json_of(&run(&hub.url(), &home, &[], &args));
    assert_eq!(again, first);
    // Rewritten: with the server gone, the commit is served from the cache.
    assert_eq!(std::fs::read(&cached[0]).unwrap(), whole);
    hub.stop();
    let at = format!("hf:TheBloke/Llama-2-70B-GGUF@{COMMIT_70B}/llama-2-70b.Q8_0.gguf");
    let out = run(
        &hub.url(),
        &home,
        &[("HF_HUB_OFFLINE", "1")],
        &["profile", &at, "-f", "json", "--dim", "seq=128"],
    );
    assert_eq!(json_of(&out)["llm"], first["llm"]);
}

/// Every file under `dir`.
pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn object_stores_pre_signed_urls_and_names_with_spaces() {
    let dir = tmpdir("remote-s3");
    let home = tmpdir("remote-s3-home");
    let t = crate::llm::llama_tensors(64, 2, 4, 4, 128, 100);
    crate::llm::write_safetensors(&dir.join("model.safetensors"), &t);
    let gguf = seventy_b(&dir);
    std::fs::rename(&gguf, dir.join("my model+v1 %.gguf")).unwrap();
    let repo = Repo {
        name: "org/s3".into(),
        dir: dir.clone(),
        commit: COMMIT_7B.into(),
        token: None,
    };
    // A bucket without list permission: a missing key is 403, so `config.json` is 403 too.
    let hub = Hub::start(vec![repo], Mode::S3);
    let url = format!(
        "http://127.0.0.1:{}/org/s3/{COMMIT_7B}/model.safetensors?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab",
        hub.cdn_port
    );
    let args = ["profile", url.as_str(), "-f", "json", "--dim", "seq=16"];
    let remote = json_of(&run(&hub.url(), &home, &[], &args));
    let local = dir.join("model.safetensors");
    let local = run_json(&[
        "profile",
        local.to_str().unwrap(),
        "-f",
        "json",
        "--dim",
        "seq=16",
    ]);
    assert_eq!(sans_source(remote), sans_source(local));
    // The query went with the file, and only with it.
    let hits = hub.hits();
    let file =
        format!("/org/s3/{COMMIT_7B}/model.safetensors?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab");
    assert!(hits.iter().any(|h| h.path == file), "{hits:?}");
    assert!(
        hits.iter()
            .any(|h| h.path == format!("/org/s3/{COMMIT_7B}/config.json")),
        "{hits:?}"
    );
    // A file that is required and missing is still refused (403 says no more than that).
    let missing = format!(
        "http://127.0.0.1:{}/org/s3/{COMMIT_7B}/none.gguf",
        hub.cdn_port
    );
    let (code, e) = one_line(&run(&hub.url(), &home, &[], &["profile", &missing]));
    assert_eq!(code, Some(11), "{e}");
    // A Hub file name with a space, '+' and '%': sent percent-encoded, found.
    let (before, n) = (hub.hits().len(), "my model+v1 %.gguf");
    let spec = format!("hf:org/s3/{n}");
    let out = json_of(&run(
        &hub.url(),
        &home,
        &[],
        &["profile", &spec, "-f", "json"],
    ));
    assert_eq!(out["llm"]["total_params"], 68_976_648_192u64);
    let hits = hub.hits().split_off(before);
    assert_eq!(
        hits[0].path, "/org/s3/resolve/main/my%20model%2Bv1%20%25.gguf",
        "{hits:?}"
    );
}

#[test]
fn empty_files_and_servers_that_throttle() {
    let dir = tmpdir("remote-empty");
    let home = tmpdir("remote-empty-home");
    std::fs::write(dir.join("empty.gguf"), b"").unwrap();
    std::fs::write(dir.join("empty.safetensors"), b"").unwrap();
    let repo = || Repo {
        name: "org/empty".into(),
        dir: dir.clone(),
        commit: COMMIT_7B.into(),
        token: None,
    };
    let hub = Hub::start(vec![repo()], Mode::Normal);
    // The server answers 416 to every range of an empty file: the local file's error.
    for file in ["empty.gguf", "empty.safetensors"] {
        let (code, e) = one_line(&run(
            &hub.url(),
            &home,
            &[],
            &["profile", &format!("hf:org/empty/{file}")],
        ));
        assert_eq!(code, Some(4), "{e}");
        let reason = local_reason(&dir.join(file));
        assert!(
            e.contains(&format!("{file}: not a valid")) && e.contains(&reason),
            "{e} / {reason}"
        );
    }
    assert!(hub.hits().iter().any(|h| h.cdn && h.range.is_some()));
    // 429 with Retry-After: retried like a 5xx, then served.
    let gguf = seventy_b(&dir);
    let busy = Hub::start(vec![repo()], Mode::Fail429(2));
    let name = gguf.file_name().unwrap().to_str().unwrap();
    let env = [("FLOPSCOPE_HTTP_RETRIES", "2")];
    let spec = format!("hf:org/empty/{name}");
    let out = json_of(&run(
        &busy.url(),
        &home,
        &env,
        &["profile", &spec, "-f", "json"],
    ));
    assert_eq!(out["llm"]["total_params"], 68_976_648_192u64);
    let first: Vec<_> = busy.hits().into_iter().filter(|h| !h.cdn).take(3).collect();
    assert!(first.iter().all(|h| h.path == first[0].path), "{first:?}");
    // Given up on after the retries: exit 10, naming the status.
    let busy = Hub::start(vec![repo()], Mode::Fail429(usize::MAX));
    let env = [("FLOPSCOPE_HTTP_RETRIES", "1")];
    let (code, e) = one_line(&run(&busy.url(), &home, &env, &["profile", &spec]));
    assert_eq!(code, Some(10), "{e}");
    assert!(e.contains("HTTP 429") && e.contains("2 tries"), "{e}");
    assert_eq!(busy.hits().len(), 2);
}

/// Runs against `hub`, killing the process (and failing) after 60 s: a hang guard, not a
/// timing assertion. Returns (exit code, stdout, stderr).
fn run_measured_env(
    hub: &Hub,
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let out_dir = tmpdir(&format!("guarded-{}", hub.port));
    let (o, e) = (out_dir.join("out"), out_dir.join("err"));
    let mut child = cmd(&hub.url(), home, env, args)
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .expect("runs");
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after 60 s: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code(), read(&o), read(&e))
}

/// The wall time of a remote profile of the two-shard 7B (docs/remote.md): cold (empty cache,
/// every header fetched) and warm (the commit resolved, the rest from the cache), against the
/// local folder. A measurement, not a test: `cargo test -p flopscope-cli --test cli
/// remote_wall_time -- --ignored --nocapture`.
#[test]
#[ignore]
fn remote_wall_time() {
    let dir = tmpdir("remote-time");
    let home = tmpdir("remote-time-home");
    let hub = Hub::start(vec![seven_b(&dir)], Mode::Normal);
    let args = [
        "profile",
        "hf:meta-llama/Llama-2-7b-hf",
        "-f",
        "json",
        "--dim",
        "seq=128",
    ];
    let env = [("HF_TOKEN", TOKEN)];
    let time = |f: &dyn Fn(usize)| {
        let mut t: Vec<f64> = (0..20)
            .map(|i| {
                let s = std::time::Instant::now();
                f(i);
                s.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        t.sort_by(f64::total_cmp);
        (t[t.len() / 2], t[0], t[t.len() - 1])
    };
    let cold = time(&|i| {
        assert!(run(&hub.url(), &home.join(format!("cold{i}")), &env, &args)
            .status
            .success())
    });
    let warm = time(&|_| assert!(run(&hub.url(), &home, &env, &args).status.success()));
    let local = time(&|_| {
        let out = command()
            .args(["profile", dir.to_str().unwrap(), "-f", "json"])
            .output();
        assert!(out.unwrap().status.success())
    });
    for (what, (med, min, max)) in [("cold", cold), ("warm", warm), ("local", local)] {
        println!("{what}: median {med:.1} ms (min {min:.1}, max {max:.1}) over 20 runs");
    }
}
