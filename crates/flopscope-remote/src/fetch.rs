//! What a profile needs from a folder of files behind a URL: `config.json`, a safetensors
//! index, each file's header (shards in parallel), a GGUF header read in growing ranges, or a
//! whole ONNX file. Every read is bounded; the weights are never asked for.

use std::path::Path;
use std::sync::Mutex;

use flopscope_core::llm::{gguf, safetensors, Fetched, FileHead};
use flopscope_core::load::Skeleton;
use flopscope_core::Error;

use crate::http::{Http, Reply, Validators};

/// The most a `config.json` or index may be.
pub const JSON_CAP: u64 = 16 << 20;
/// The first read of a safetensors file, as `huggingface_hub` does: most headers fit.
const FIRST_READ: u64 = 100_001;
/// The longest safetensors header read remotely (`huggingface_hub`'s limit).
const MAX_HEADER: u64 = 25_000_000;
/// The first read of a GGUF file; it grows 4× per read up to [`GGUF_MAX`].
const GGUF_FIRST: u64 = 256 << 10;
/// The most of a GGUF file read for its metadata and tensor records (large vocabularies take
/// ~10 MB).
const GGUF_MAX: u64 = 64 << 20;
/// Shards fetched at once.
const PARALLEL: usize = 8;

/// What is asked for, from its path in the repository (or the URL's file name).
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A whole Hub repository: `config.json` and `model.safetensors` or its index.
    Repo,
    /// One `.safetensors` file (and the `config.json` beside it).
    Safetensors(String),
    /// A `*.safetensors.index.json` and its shards (and the `config.json` beside it).
    Index(String),
    /// One `.gguf` file.
    Gguf(String),
    /// One `.onnx` file: its structure, without its weights (nor its external data).
    Onnx(String),
}

impl Target {
    /// The target a file path names.
    pub fn of(path: &str) -> Result<Target, Error> {
        let p = path.to_string();
        Ok(if p.ends_with(".safetensors.index.json") {
            Target::Index(p)
        } else if p.ends_with(".safetensors") {
            Target::Safetensors(p)
        } else if p.ends_with(".gguf") {
            Target::Gguf(p)
        } else if p.ends_with(".onnx") {
            Target::Onnx(p)
        } else {
            return Err(Error::Usage(format!(
                "{path}: a remote model is a .safetensors, .safetensors.index.json, .gguf or .onnx file"
            )));
        })
    }

    /// The file in which the revision is first looked up, and whether it is read whole
    /// (`config.json` is needed anyway; of a big file one byte is enough).
    pub fn first_file(&self) -> (&str, bool) {
        match self {
            Target::Repo => ("config.json", true),
            Target::Safetensors(p) | Target::Index(p) | Target::Gguf(p) | Target::Onnx(p) => {
                (p, false)
            }
        }
    }
}

/// What was fetched.
pub enum Got {
    /// A checkpoint's pieces, and the path of its `config.json` when it has one.
    Checkpoint(Fetched, Option<String>),
    /// An ONNX file's structure.
    Onnx(Skeleton),
}

/// A folder of files: URLs `{base}{file}` (each segment of `file` percent-encoded), named
/// `{label}/{file}` in errors.
pub struct Place<'a> {
    /// The client.
    pub http: &'a Http,
    /// Ends with `/`.
    pub base: String,
    /// `hf:org/name@revision`, or the URL's folder.
    pub label: String,
    /// A Hub repository on the endpoint, where 401/403 means gated even for optional files;
    /// elsewhere (S3, GCS) a missing file may be answered 403.
    pub hub: bool,
    /// A file and the exact URL it was given as (a URL source: its query, a pre-signed
    /// signature, belongs to that file only).
    pub exact: Option<(String, String)>,
    /// That file's validators, once read (what a cached copy is checked against).
    pub seen: Mutex<Validators>,
}

/// `path` with each `/`-separated segment percent-encoded: every byte but RFC 3986's
/// unreserved ones (letters, digits, `-._~`), so `%`, `?`, `#` and spaces stay in the name.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `%XX` escapes decoded (a URL's file name as the file is called); `None` when the result is
/// not UTF-8 or an escape is cut short.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The folder part of a path, with its `/` (empty at the top).
fn dir(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..=i])
}

impl Place<'_> {
    fn label(&self, file: &str) -> String {
        format!("{}/{file}", self.label)
    }

    fn url(&self, file: &str) -> String {
        match &self.exact {
            Some((f, url)) if f == file => url.clone(),
            _ => self.base.clone() + &encode_path(file),
        }
    }

    /// Keeps the validators of `file`'s answer when it is the URL source's file.
    fn saw(&self, file: &str, r: &Reply) {
        if self.exact.as_ref().is_some_and(|(f, _)| f == file) && r.validators.any() {
            if let Ok(mut v) = self.seen.lock() {
                *v = r.validators.clone();
            }
        }
    }

    /// A 404 as the error for a missing local file (exit code 3), naming the repo and file.
    pub fn not_found(&self, file: &str, hint: &str) -> Error {
        Error::Io {
            path: self.label(file).into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no such file there (HTTP 404){hint}"),
            ),
        }
    }

    /// A small file whole; `None` when there is none (off the Hub, also when refused).
    pub fn optional(&self, file: &str) -> Result<Option<Vec<u8>>, Error> {
        match self
            .http
            .get(&self.url(file), (0, None), JSON_CAP, &self.label(file))
        {
            Ok(r) => Ok((r.status != 404).then_some(r.body)),
            Err(Error::Denied(_)) if !self.hub => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn required(&self, file: &str, cap: u64) -> Result<Vec<u8>, Error> {
        let r = self
            .http
            .get(&self.url(file), (0, None), cap, &self.label(file))?;
        if r.status == 404 {
            return Err(self.not_found(file, ""));
        }
        self.saw(file, &r);
        Ok(r.body)
    }

    /// Bytes `[from, to)` of `file` (fewer when it ends first) and its size.
    fn range(&self, file: &str, from: u64, to: u64) -> Result<(Vec<u8>, u64), Error> {
        let label = self.label(file);
        let r = self
            .http
            .get(&self.url(file), (from, Some(to)), 0, &label)?;
        if r.status == 404 {
            return Err(self.not_found(file, ""));
        }
        self.saw(file, &r);
        if r.status == 416 {
            // Nothing at `from`: of a first read, an empty file, which the parsers refuse as
            // they refuse an empty local file; later, a server that said the file was longer.
            let size = if from == 0 { 0 } else { r.size.unwrap_or(0) };
            return Ok((vec![], size));
        }
        let size = r.size.ok_or_else(|| {
            Error::Network(format!(
                "{label}: the server gave no file size (Content-Range or Content-Length)"
            ))
        })?;
        Ok((r.body, size))
    }

    /// Extends `head` to `to` bytes; a server that sends fewer (or changes the size) lies.
    fn extend(&self, file: &str, head: &mut Vec<u8>, size: u64, to: u64) -> Result<(), Error> {
        let (more, s) = self.range(file, head.len() as u64, to)?;
        head.extend(more);
        if s != size || (head.len() as u64) < to {
            return Err(Error::Malformed {
                path: self.label(file).into(),
                what: "remote file",
                reason: format!(
                    "the server sent {} of its first {to} bytes (file size {size}, then {s})",
                    head.len()
                ),
            });
        }
        Ok(())
    }

    /// A safetensors file's size and header: one read of ~100 KB, a second when longer.
    fn safetensors_head(&self, file: &str) -> Result<FileHead, Error> {
        let (mut head, size) = self.range(file, 0, FIRST_READ)?;
        let label = self.label(file);
        let span = safetensors::header_span(&head, size, Path::new(&label))?;
        if span - 8 > MAX_HEADER {
            return Err(Error::Malformed {
                path: label.into(),
                what: "safetensors file",
                reason: format!(
                    "a {}-byte header: over the {MAX_HEADER}-byte limit for remote headers",
                    span - 8
                ),
            });
        }
        head.truncate(span as usize);
        if (head.len() as u64) < span {
            self.extend(file, &mut head, size, span)?;
        }
        Ok(FileHead {
            name: file.to_string(),
            size,
            head,
        })
    }

    /// A GGUF file's size and enough of its start to hold the metadata and tensor records.
    fn gguf_head(&self, file: &str) -> Result<FileHead, Error> {
        let label = self.label(file);
        let (mut head, size) = self.range(file, 0, GGUF_FIRST)?;
        let mut want = GGUF_FIRST.min(size);
        if (head.len() as u64) < want {
            self.extend(file, &mut head, size, want)?;
        }
        while gguf::read_head(&head, size, Path::new(&label))?.is_none() {
            if want >= GGUF_MAX {
                return Err(Error::Malformed {
                    path: label.into(),
                    what: "GGUF file",
                    reason: format!("the header runs past the first {GGUF_MAX} bytes: over the limit for remote headers"),
                });
            }
            want = (want * 4).min(GGUF_MAX).min(size);
            self.extend(file, &mut head, size, want)?;
        }
        Ok(FileHead {
            name: file.to_string(),
            size,
            head,
        })
    }

    /// The headers of several safetensors files, fetched in parallel, in order.
    fn heads(&self, files: &[String]) -> Result<Vec<FileHead>, Error> {
        let mut out = Vec::with_capacity(files.len());
        for chunk in files.chunks(PARALLEL) {
            let got: Vec<Result<FileHead, Error>> = std::thread::scope(|s| {
                let hs: Vec<_> = chunk
                    .iter()
                    .map(|f| s.spawn(move || self.safetensors_head(f)))
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(Error::Network("a fetching thread failed".into()))
                        })
                    })
                    .collect()
            });
            for g in got {
                out.push(g?);
            }
        }
        Ok(out)
    }

    /// Fetches `target`; `config` is `config.json` when already read (for [`Target::Repo`]).
    pub fn fetch(&self, target: &Target, config: Option<Option<Vec<u8>>>) -> Result<Got, Error> {
        let near = |path: &str| -> Result<(Option<Vec<u8>>, String), Error> {
            let c = format!("{}config.json", dir(path));
            Ok((self.optional(&c)?, c))
        };
        let checkpoint = |files: Vec<String>, (cfg, name): (Option<Vec<u8>>, String)| {
            let files = self.heads(&files)?;
            let name = cfg.is_some().then_some(name);
            Ok(Got::Checkpoint(
                Fetched::Safetensors { files, config: cfg },
                name,
            ))
        };
        let shards = |index: &str| -> Result<Vec<String>, Error> {
            let bytes = self.required(index, JSON_CAP)?;
            let names = safetensors::index_shards(&bytes, Path::new(&self.label(index)))?;
            Ok(names
                .into_iter()
                .map(|n| format!("{}{n}", dir(index)))
                .collect())
        };
        match target {
            Target::Repo => {
                let cfg = match config {
                    Some(c) => c,
                    None => self.optional("config.json")?,
                };
                let cfg = (cfg, "config.json".to_string());
                let index = "model.safetensors.index.json";
                if let Some(bytes) = self.optional(index)? {
                    let names = safetensors::index_shards(&bytes, Path::new(&self.label(index)))?;
                    return checkpoint(names, cfg);
                }
                match checkpoint(vec!["model.safetensors".into()], cfg) {
                    Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Err(self.not_found(
                        "model.safetensors",
                        ", nor model.safetensors.index.json; for a GGUF or ONNX repository name the file: hf:ORG/NAME/FILE.gguf",
                    )),
                    other => other,
                }
            }
            Target::Safetensors(p) => checkpoint(vec![p.clone()], near(p)?),
            Target::Index(p) => checkpoint(shards(p)?, near(p)?),
            Target::Gguf(p) => Ok(Got::Checkpoint(Fetched::Gguf(self.gguf_head(p)?), None)),
            Target::Onnx(p) => {
                let (url, label) = (self.url(p), self.label(p));
                let first = self
                    .http
                    .get(&url, (0, Some(crate::onnx::FIRST)), 0, &label)?;
                if first.status == 404 {
                    return Err(self.not_found(p, ""));
                }
                self.saw(p, &first);
                let whole = || self.required(p, crate::onnx::WHOLE_MAX);
                let sk = crate::onnx::skeleton(self.http, &url, &label, first, whole)?;
                Ok(Got::Onnx(sk))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_from_file_names() {
        assert_eq!(
            Target::of("a/m.gguf").unwrap(),
            Target::Gguf("a/m.gguf".into())
        );
        assert!(matches!(
            Target::of("model.safetensors.index.json"),
            Ok(Target::Index(_))
        ));
        assert!(Target::of("weights.bin").is_err());
        assert_eq!(dir("a/b/c.gguf"), "a/b/");
        assert_eq!(dir("c.gguf"), "");
    }

    #[test]
    fn names_are_percent_encoded_per_segment() {
        assert_eq!(
            encode_path("q8/llama-2.Q8_0~x.gguf"),
            "q8/llama-2.Q8_0~x.gguf"
        );
        assert_eq!(
            encode_path("my model/a?b#c%d+é.safetensors"),
            "my%20model/a%3Fb%23c%25d%2B%C3%A9.safetensors"
        );
        assert_eq!(decode("my%20model%2B%C3%A9").as_deref(), Some("my model+é"));
        assert_eq!(decode(&encode_path("a b%c/é")).as_deref(), Some("a b%c/é"));
        for bad in ["a%2", "a%zz", "%FF"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
