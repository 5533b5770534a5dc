//! External tensor data (`data_location = EXTERNAL`): where the bytes are, refused if outside the model's folder.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::graph::TensorData;

/// Resolves an external-data reference of tensor `tensor` relative to `base` (the model's folder).
///
/// `location` must be a relative path that stays inside `base`: absolute paths, `..` and
/// symlinks leading out are refused, because a model file must not make us read files it was
/// not given. A missing file is not an error: the analysis runs from the declared dims.
pub fn resolve(
    base: &Path,
    tensor: &str,
    location: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<TensorData> {
    let rel = Path::new(location);
    let escapes = location.is_empty()
        || rel.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        });
    if escapes {
        return Err(Error::Invalid(format!(
            "tensor '{tensor}': external data location '{location}' is outside the model's folder"
        )));
    }
    let path = base.join(rel);
    let present = match std::fs::metadata(&path) {
        Ok(meta) => {
            // A symlink may still lead out of the folder: compare canonical paths.
            let inside = match (path.canonicalize(), base.canonicalize()) {
                (Ok(p), Ok(b)) => p.starts_with(b),
                _ => false,
            };
            if !inside {
                return Err(Error::Invalid(format!(
                    "tensor '{tensor}': external data location '{location}' leads outside the model's folder"
                )));
            }
            let end = offset.checked_add(length.unwrap_or(0));
            match end {
                Some(end) if end <= meta.len() => true,
                _ => {
                    return Err(Error::Invalid(format!(
                        "tensor '{tensor}': external data range (offset {offset}, length {}) is beyond the end of '{location}' ({} bytes)",
                        length.unwrap_or(0),
                        meta.len()
                    )))
                }
            }
        }
        Err(_) => false,
    };
    Ok(TensorData::External {
        path,
        offset,
        length,
        present,
    })
}

/// Reads at most `max_bytes` of an external tensor (used only for small integer constants).
pub fn read_small(path: &PathBuf, offset: u64, len: u64, max_bytes: u64) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    if len > max_bytes {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escaping_locations() {
        let base = Path::new("/tmp");
        for loc in ["../../etc/passwd", "/etc/passwd", "a/../../b", ""] {
            let err = resolve(base, "w", loc, 0, None).unwrap_err();
            assert!(err.to_string().contains("outside"), "{loc}: {err}");
        }
    }

    #[test]
    fn missing_file_is_absent_not_error() {
        let dir = std::env::temp_dir();
        match resolve(&dir, "w", "flopscope-no-such-file.data", 0, Some(4)).unwrap() {
            TensorData::External { present, .. } => assert!(!present),
            other => panic!("unexpected {other:?}"),
        }
    }
}
