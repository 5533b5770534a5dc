//! Fetched headers and configs on disk, keyed by the commit they were read at, so a second
//! profile of the same revision needs no network (and, with the server gone, none at all).
//!
//! ```text
//! {cache}/hub/{host}/{org}/{name}/refs/{revision}          the commit a branch or tag named
//! {cache}/hub/{host}/{org}/{name}/{commit}/{target}.json   what was fetched: kind, files, sizes
//! {cache}/hub/{host}/{org}/{name}/{commit}/files/{file}    config.json and each file's head
//! ```
//!
//! `{cache}` is `$FLOPSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/flopscope`, else
//! `~/.cache/flopscope` (where `flopscope machine` keeps its measurement). Writes go to a
//! temporary name and are renamed, the record last, so a record only names complete files.
//! A record carries [`FORMAT`]; one of another format is a miss, fetched again and rewritten.

use std::path::{Path, PathBuf};

use flopscope_core::llm::{Fetched, FileHead};
use serde_json::{json, Value};

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
    pub fn load(&self, commit: &str, target: &str) -> Option<Fetched> {
        let dir = self.dir.join(component(commit));
        let rec: Value = serde_json::from_slice(&std::fs::read(record(&dir, target)).ok()?).ok()?;
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
        match rec["kind"].as_str()? {
            "gguf" => Some(Fetched::Gguf(files.into_iter().next()?)),
            "safetensors" => {
                let config = match rec["config"].as_str() {
                    Some(c) => Some(std::fs::read(dir.join("files").join(component(c))).ok()?),
                    None => None,
                };
                Some(Fetched::Safetensors { files, config })
            }
            _ => None,
        }
    }

    /// Keeps what was fetched for `target` at `commit` (`config`: its path in the repo).
    /// Failing to write is not an error: the next run fetches again.
    pub fn store(&self, commit: &str, target: &str, f: &Fetched, config: Option<&str>) {
        let dir = self.dir.join(component(commit));
        let (kind, files, cfg) = match f {
            Fetched::Gguf(h) => ("gguf", std::slice::from_ref(h), None),
            Fetched::Safetensors { files, config: c } => {
                ("safetensors", files.as_slice(), c.as_deref().zip(config))
            }
        };
        let put = |name: &str, bytes: &[u8]| write(&dir.join("files").join(component(name)), bytes);
        let ok = files.iter().all(|h| put(&h.name, &h.head).is_ok())
            && cfg.is_none_or(|(bytes, name)| put(name, bytes).is_ok());
        if ok {
            let rec = json!({
                "format": FORMAT,
                "kind": kind,
                "config": cfg.map(|(_, n)| n),
                "files": files.iter().map(|h| json!({"name": h.name, "size": h.size})).collect::<Vec<_>>(),
            });
            let _ = write(&record(&dir, target), rec.to_string().as_bytes());
        }
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
        c.store(&commit, "m.gguf", &Fetched::Gguf(head), None);
        let got = c.load(&commit, "m.gguf");
        assert!(matches!(&got, Some(Fetched::Gguf(h)) if h.size == 1000 && h.head == b"GGUF"));
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
    fn names_stay_one_component() {
        assert_eq!(component("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(component("a%2Fb"), "a%252Fb");
    }
}
