//! Fetched headers, configs and ONNX structures on disk, keyed by the commit they were read
//! at, so a second profile of the same revision needs no network (and, with the server gone,
//! none at all); a URL's by the URL without its query, with the file's `ETag` and
//! `Last-Modified` to ask the server whether it changed.
//!
//! ```text
//! {cache}/hub/{host}/{org}/{name}/refs/{revision}          the commit a branch or tag named
//! {cache}/hub/{host}/{org}/{name}/{commit}/{target}.json   what was fetched: kind, files, sizes
//! {cache}/hub/{host}/{org}/{name}/{commit}/files/{file}    config.json and each file's head
//! {cache}/url/{scheme}/{host}/{path…}/%/{file}.json        the same for a URL, with validators
//! {cache}/url/{scheme}/{host}/{path…}/%/files/{file}
//! ```
//!
//! `{cache}` is `$FLOPSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/flopscope`, else
//! `~/.cache/flopscope` (where `flopscope machine` keeps its measurement). Writes go to a
//! temporary name and are renamed, the record last, so a record only names complete files.
//! A record carries [`FORMAT`]; one of another format is a miss, fetched again and rewritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flopscope_core::llm::{Fetched, FileHead};
use flopscope_core::load::Skeleton;
use serde_json::{json, Value};

use crate::fetch::Got;
use crate::http::Validators;

/// The layout of a record and its files; bumped when either changes.
pub const FORMAT: u64 = 1;

/// The cache of one repository on one endpoint; `None` without a cache directory.
pub struct RepoCache {
    dir: PathBuf,
}

/// The cache root, as for every flopscope cache.
fn root() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("FLOPSCOPE_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("flopscope")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("flopscope")))
}

/// A name safe as one path component: `/` and `%` escaped, so `refs/pr/1` stays one file.
fn component(s: &str) -> String {
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace('\\', "%5C")
}

impl RepoCache {
    /// The cache of `repo` (`org/name`, already checked) served by `host`.
    pub fn new(host: &str, repo: &str) -> Option<RepoCache> {
        let mut dir = root()?.join("hub").join(component(host));
        for part in repo.split('/') {
            dir = dir.join(component(part));
        }
        Some(RepoCache { dir })
    }

    /// The commit `revision` named when last resolved.
    pub fn commit_of(&self, revision: &str) -> Option<String> {
        let s = std::fs::read_to_string(self.dir.join("refs").join(component(revision))).ok()?;
        let c = s.trim();
        crate::is_commit(c).then(|| c.to_string())
    }

    /// Remembers that `revision` names `commit` now.
    pub fn set_commit(&self, revision: &str, commit: &str) {
        if revision != commit {
            let _ = write(
                &self.dir.join("refs").join(component(revision)),
                commit.as_bytes(),
            );
        }
    }

    /// What was fetched for `target` at `commit`, when it is all there.
    pub fn load(&self, commit: &str, target: &str) -> Option<Got> {
        load(&self.dir.join(component(commit)), target).map(|(got, _)| got)
    }

    /// Keeps what was fetched for `target` at `commit`. Failing to write is not an error: the
    /// next run fetches again.
    pub fn store(&self, commit: &str, target: &str, got: &Got) {
        store(&self.dir.join(component(commit)), target, got, json!({}));
    }
}

/// The cache of the files in one folder of URLs (the URL without its query and user).
pub struct UrlCache {
    dir: PathBuf,
}

impl UrlCache {
    /// The cache of the folder `folder` (`scheme://host/path`, no query); `None` without a
    /// cache directory or for a folder that is not such a URL.
    pub fn new(folder: &str) -> Option<UrlCache> {
        let (scheme, rest) = folder.split_once("://")?;
        let mut dir = root()?.join("url").join(component(scheme));
        for part in rest.split('/') {
            // `..`, `.` and empty segments stay names: the cache must not climb out.
            let part = if part.bytes().all(|b| b == b'.') {
                "%2E".repeat(part.len().max(1))
            } else {
                component(part)
            };
            dir = dir.join(part);
        }
        // Entries under `%`, which no escaped segment can be: a folder's entries never mix
        // with its subfolders.
        Some(UrlCache { dir: dir.join("%") })
    }

    /// What was fetched for `file` of this folder, and the validators it was fetched with.
    pub fn load(&self, file: &str) -> Option<(Got, Validators)> {
        let (got, rec) = load(&self.dir, file)?;
        let s = |k: &str| rec[k].as_str().map(str::to_string);
        let v = Validators {
            etag: s("etag"),
            last_modified: s("last_modified"),
        };
        v.any().then_some((got, v))
    }

    /// Keeps what was fetched for `file`, when the server gave validators (else it could
    /// never be checked, and is not kept).
    pub fn store(&self, file: &str, got: &Got, v: &Validators) {
        if v.any() {
            let extra = json!({"etag": v.etag, "last_modified": v.last_modified});
            store(&self.dir, file, got, extra);
        }
    }
}

/// The entry for `target` in `dir`, when it is all there, and its record.
fn load(dir: &Path, target: &str) -> Option<(Got, Value)> {
    let rec: Value = serde_json::from_slice(&std::fs::read(record(dir, target)).ok()?).ok()?;
    if rec["format"].as_u64() != Some(FORMAT) {
        return None;
    }
    let file = |v: &Value| -> Option<FileHead> {
        let name = v["name"].as_str()?.to_string();
        let head = std::fs::read(dir.join("files").join(component(&name))).ok()?;
        Some(FileHead {
            size: v["size"].as_u64()?,
            head,
            name,
        })
    };
    let files: Vec<FileHead> = rec["files"]
        .as_array()?
        .iter()
        .map(file)
        .collect::<Option<_>>()?;
    let got = match rec["kind"].as_str()? {
        "gguf" => Got::Checkpoint(Fetched::Gguf(files.into_iter().next()?), None),
        "safetensors" => {
            let name = rec["config"].as_str().map(str::to_string);
            let config = match &name {
                Some(c) => Some(std::fs::read(dir.join("files").join(component(c))).ok()?),
                None => None,
            };
            Got::Checkpoint(Fetched::Safetensors { files, config }, name)
        }
        "onnx" => {
            let f = files.into_iter().next()?;
            let mut payloads = HashMap::new();
            for p in rec["payloads"].as_array()? {
                let n = |i: usize| p.get(i)?.as_u64();
                payloads.insert(usize::try_from(n(0)?).ok()?, (n(1)?, n(2)?));
            }
            Got::Onnx(Skeleton {
                bytes: f.head,
                payloads,
                len: f.size,
            })
        }
        _ => return None,
    };
    Some((got, rec))
}

/// Writes the entry for `target` in `dir`: its files, then its record (with `extra`'s fields).
fn store(dir: &Path, target: &str, got: &Got, extra: Value) {
    let onnx;
    let (kind, files, cfg, payloads) = match got {
        Got::Checkpoint(Fetched::Gguf(h), _) => ("gguf", std::slice::from_ref(h), None, None),
        Got::Checkpoint(Fetched::Safetensors { files, config: c }, name) => (
            "safetensors",
            files.as_slice(),
            c.as_deref().zip(name.as_deref()),
            None,
        ),
        Got::Onnx(sk) => {
            onnx = [FileHead {
                name: target.to_string(),
                size: sk.len,
                head: sk.bytes.clone(),
            }];
            let mut p: Vec<_> = sk
                .payloads
                .iter()
                .map(|(i, (o, n))| json!([i, o, n]))
                .collect();
            p.sort_by_key(|v| v[0].as_u64());
            ("onnx", &onnx[..], None, Some(p))
        }
    };
    let put = |name: &str, bytes: &[u8]| write(&dir.join("files").join(component(name)), bytes);
    let ok = files.iter().all(|h| put(&h.name, &h.head).is_ok())
        && cfg.is_none_or(|(bytes, name)| put(name, bytes).is_ok());
    if ok {
        let mut rec = json!({
            "format": FORMAT,
            "kind": kind,
            "config": cfg.map(|(_, n)| n),
            "files": files.iter().map(|h| json!({"name": h.name, "size": h.size})).collect::<Vec<_>>(),
        });
        if let Some(p) = payloads {
            rec["payloads"] = p.into();
        }
        if let (Some(r), Some(e)) = (rec.as_object_mut(), extra.as_object()) {
            r.extend(e.clone());
        }
        let _ = write(&record(dir, target), rec.to_string().as_bytes());
    }
}

fn record(dir: &Path, target: &str) -> PathBuf {
    dir.join(format!(
        "{}.json",
        component(if target.is_empty() { "(repo)" } else { target })
    ))
}

/// Writes `bytes` to `path` through a temporary file, so a reader sees all or nothing.
fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_of_another_format_is_a_miss() {
        let dir = std::env::temp_dir().join(format!("flopscope-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = RepoCache { dir: dir.clone() };
        let commit = "a".repeat(40);
        let head = FileHead {
            name: "m.gguf".into(),
            size: 1000,
            head: b"GGUF".to_vec(),
        };
        c.store(
            &commit,
            "m.gguf",
            &Got::Checkpoint(Fetched::Gguf(head), None),
        );
        let got = c.load(&commit, "m.gguf");
        assert!(
            matches!(&got, Some(Got::Checkpoint(Fetched::Gguf(h), None)) if h.size == 1000 && h.head == b"GGUF")
        );
        let path = record(&dir.join(component(&commit)), "m.gguf");
        let mut rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(rec["format"], FORMAT);
        for other in [json!(FORMAT + 1), Value::Null] {
            rec["format"] = other;
            std::fs::write(&path, rec.to_string()).unwrap();
            assert!(c.load(&commit, "m.gguf").is_none());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn url_folders_cannot_climb_out_of_the_cache() {
        let Some(c) = UrlCache::new("https://h:1/a/../b/./%2F") else {
            return; // no cache directory in this environment
        };
        let rel = c.dir.strip_prefix(root().unwrap()).unwrap();
        let parts: Vec<_> = rel.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            parts,
            ["url", "https", "h:1", "a", "%2E%2E", "b", "%2E", "%252F", "%"]
        );
    }

    #[test]
    fn names_stay_one_component() {
        assert_eq!(component("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(component("a%2Fb"), "a%252Fb");
    }
}
