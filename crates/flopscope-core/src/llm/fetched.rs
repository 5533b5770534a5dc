//! Checkpoints whose files are elsewhere. A remote reader fetches each file's size and first
//! bytes (and `config.json`); they go through the same header parsers and the same analysis as
//! local files, so a checkpoint gives one profile wherever it lives. Sizes come from the
//! server (Content-Range): their sum is checked like any other.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use std::path::Path;

use super::Checkpoint;
use super::{config_bytes, from_gguf, gguf, merge_shards, profile_checkpoint, safetensors};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::schema::Profile;

/// One file of a checkpoint, known by its size and its first bytes.
#[derive(Clone, Debug, Default)]
pub struct FileHead {
    /// Its name (its path in the repository): what errors and the profile call it.
    pub name: String,
    /// Its full size in bytes.
    pub size: u64,
    /// Its first bytes: at least its whole header.
    pub head: Vec<u8>,
}

/// A checkpoint as fetched: what [`profile_fetched`] reads.
#[derive(Clone, Debug)]
pub enum Fetched {
    /// safetensors files (one, or the shards of an index) and the `config.json` beside them.
    Safetensors {
        /// The files, in the index's order.
        files: Vec<FileHead>,
        /// The bytes of `config.json`, when the repository has one.
        config: Option<Vec<u8>>,
    },
    /// One GGUF file (its metadata carries the architecture).
    Gguf(FileHead),
}

/// Profiles a checkpoint from its fetched pieces, exactly as the same files on disk would be
/// profiled; `source` is what the profile calls it. A header that runs past a file's head is
/// an error: the fetcher must hand over whole headers.
pub fn profile_fetched(f: &Fetched, source: &str, opts: &Options) -> Result<Profile> {
    let ck = match f {
        Fetched::Gguf(file) => {
            let name = Path::new(&file.name);
            let h =
                gguf::read_head(&file.head, file.size, name)?.ok_or_else(|| Error::Malformed {
                    what: "GGUF file",
                    path: name.to_path_buf(),
                    reason: format!("the header runs past the {} bytes read", file.head.len()),
                })?;
            from_gguf(h, name, file.size)
        }
        Fetched::Safetensors { files, config } => {
            let mut shards = Vec::with_capacity(files.len());
            for file in files {
                let name = Path::new(&file.name);
                shards.push((name, safetensors::read_head(&file.head, file.size, name)?));
            }
            let arch = match config {
                Some(c) => Some(config_bytes(c, Path::new("config.json"))?),
                None => None,
            };
            Checkpoint {
                format: "safetensors",
                files: files.iter().map(|f| f.name.clone().into()).collect(),
                tensors: merge_shards(shards)?,
                arch,
                producer: String::new(),
                file_bytes: crate::checked::sum(
                    files.iter().map(|f| f.size),
                    "the checkpoint's file bytes",
                )?,
            }
        }
    };
    profile_checkpoint(ck, source, opts)
}
