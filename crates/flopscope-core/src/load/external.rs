//! External tensor data (`data_location = EXTERNAL`): where the bytes are, refused if outside the model's folder.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::graph::TensorData;

/// Resolves external-data references of one model, checking each distinct file once.
pub struct Resolver {
    /// The model's folder; `None` for a model given as bytes, whose external data is absent.
    base: Option<PathBuf>,
    /// Location → the file's length (`None`: absent) or why it is refused.
    files: HashMap<String, std::result::Result<Option<u64>, String>>,
}

impl Resolver {
    /// A resolver for a model in folder `base` (`None`: a model given as bytes, with no folder).
    pub fn new(base: Option<PathBuf>) -> Resolver {
        Resolver {
            base,
            files: HashMap::new(),
        }
    }

    /// Resolves the external data of tensor `tensor`.
    ///
    /// `location` must be a relative path that stays inside the model's folder: absolute
    /// paths, `..` and symlinks leading out are refused, because a model file must not make us
    /// read files it was not given. A missing file is not an error: the analysis runs from the
    /// declared dims.
    pub fn resolve(
        &mut self,
        tensor: &str,
        location: &str,
        offset: u64,
        length: Option<u64>,
    ) -> Result<TensorData> {
        let base = &self.base;
        let file = self
            .files
            .entry(location.to_string())
            .or_insert_with(|| check(base.as_deref(), location))
            .clone();
        let file_len = file.map_err(|why| Error::Invalid(format!("tensor '{tensor}': {why}")))?;
        if let Some(n) = file_len {
            match offset.checked_add(length.unwrap_or(0)) {
                Some(end) if end <= n => {}
                _ => {
                    return Err(Error::Invalid(format!(
                        "tensor '{tensor}': external data range (offset {offset}, length {}) is beyond the end of '{location}' ({n} bytes)",
                        length.unwrap_or(0)
                    )))
                }
            }
        }
        Ok(TensorData::External {
            path: self.base.as_deref().unwrap_or(Path::new("")).join(location),
            offset,
            length,
            present: file_len.is_some(),
        })
    }
}

/// The length of the file at `location` under `base` (`None` when absent), or why it is refused.
fn check(base: Option<&Path>, location: &str) -> std::result::Result<Option<u64>, String> {
    let rel = Path::new(location);
    let escapes = location.is_empty()
        || rel.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
    if escapes {
        return Err(format!(
            "external data location '{location}' is outside the model's folder"
        ));
    }
    let Some(base) = base else {
        return Ok(None);
    };
    let path = base.join(rel);
    match std::fs::metadata(&path) {
        Ok(meta) => {
            // A symlink may still lead out of the folder: compare canonical paths.
            let inside = match (path.canonicalize(), base.canonicalize()) {
                (Ok(p), Ok(b)) => p.starts_with(b),
                _ => false,
            };
            if inside {
                Ok(Some(meta.len()))
            } else {
                Err(format!(
                    "external data location '{location}' leads outside the model's folder"
                ))
            }
        }
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escaping_locations() {
        let mut r = Resolver::new(Some(PathBuf::from("/tmp")));
        for loc in ["../../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            let err = r.resolve("w", loc, 0, None).unwrap_err();
            assert!(err.to_string().contains("outside"), "{loc}: {err}");
        }
    }

    #[test]
    fn missing_file_is_absent_not_error() {
        let dir = std::env::temp_dir();
        match Resolver::new(Some(dir))
            .resolve("w", "flopscope-no-such-file.data", 0, Some(4))
            .unwrap()
        {
            TensorData::External { present, .. } => assert!(!present),
            other => panic!("unexpected {other:?}"),
        }
    }
}
