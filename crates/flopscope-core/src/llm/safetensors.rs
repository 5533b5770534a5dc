//! safetensors headers: an 8-byte little-endian length, then a JSON object
//! `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`. Only the header is
//! read (two positional reads); the tensor bytes are never touched.

use std::path::Path;

use super::TensorInfo;
use crate::error::{Error, Result};

/// Headers larger than this are refused: real ones are a few hundred KB even for 70B models.
const MAX_HEADER: u64 = 100 << 20;

fn malformed(path: &Path, reason: String) -> Error {
    Error::Malformed {
        what: "safetensors file",
        path: path.to_path_buf(),
        reason,
    }
}

/// Bits per element of a safetensors dtype.
fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "F64" | "I64" | "U64" => 64,
        "F32" | "I32" | "U32" => 32,
        "F16" | "BF16" | "I16" | "U16" => 16,
        "F8_E4M3" | "F8_E5M2" | "I8" | "U8" | "BOOL" | "F8_E8M0" => 8,
        "F4" => 4,
        _ => return None,
    })
}

fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
}

/// The tensors of one safetensors file, checked against its size: offsets must lie in the data
/// section and match the dtype and shape.
pub fn read(path: &Path) -> Result<Vec<TensorInfo>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let n = header_len(path, size, |buf| read_at(&file, buf, 0).map_err(io))?;
    let mut header = vec![0u8; n as usize];
    read_at(&file, &mut header, 8).map_err(io)?;
    parse(path, &header, size)
}

/// The tensors of a safetensors file held in memory (`name` labels errors).
pub fn read_bytes(bytes: &[u8], name: &Path) -> Result<Vec<TensorInfo>> {
    let size = bytes.len() as u64;
    let n = header_len(name, size, |buf| {
        buf.copy_from_slice(&bytes[..8]);
        Ok(())
    })?;
    // `n` is at most the bytes after the prefix (checked by `header_len`).
    let header = &bytes[8..][..n as usize];
    parse(name, header, size)
}

/// The first `8 + n` bytes of a file of `size` bytes whose header is `n` bytes long: how much of
/// a remote file must be fetched. `prefix` holds at least the first 8 bytes; a length that lies
/// (past the end of the file, or over the limit) is refused as for a local file.
pub fn header_span(prefix: &[u8], size: u64, name: &Path) -> Result<u64> {
    let n = header_len(name, size, |buf| {
        let p = prefix
            .get(..8)
            .ok_or_else(|| malformed(name, "fewer than 8 bytes were read".into()))?;
        buf.copy_from_slice(p);
        Ok(())
    })?;
    // `n` is at most `MAX_HEADER`.
    Ok(n.saturating_add(8))
}

/// The tensors of a safetensors file of `size` bytes from its first bytes `head` (at least
/// [`header_span`] of them): what a remote reader fetched. The same checks as [`read`].
pub fn read_head(head: &[u8], size: u64, name: &Path) -> Result<Vec<TensorInfo>> {
    let span = header_span(head, size, name)?;
    let header = head.get(8..span as usize).ok_or_else(|| {
        malformed(
            name,
            format!("{} bytes read of a {span}-byte header", head.len()),
        )
    })?;
    parse(name, header, size)
}

/// The shard file names of a `model.safetensors.index.json` (sorted, each once): plain names
/// in the index's folder only, so no shard can name a path elsewhere (no `/`, `\\`, `..`,
/// drive or absolute path): a malformed index otherwise.
pub fn index_shards(json: &[u8], name: &Path) -> Result<Vec<String>> {
    let j: serde_json::Value = serde_json::from_slice(json).map_err(|e| Error::Malformed {
        path: name.to_path_buf(),
        what: "JSON file",
        reason: e.to_string(),
    })?;
    let map = j["weight_map"]
        .as_object()
        .ok_or_else(|| Error::Malformed {
            path: name.to_path_buf(),
            what: "safetensors index",
            reason: "no weight_map object".into(),
        })?;
    let mut files: Vec<String> = map
        .values()
        .map(|v| v.as_str().unwrap_or("").to_string())
        .collect();
    files.sort();
    files.dedup();
    for f in &files {
        if f.is_empty() || f.contains(['/', '\\', ':']) || f.bytes().all(|b| b == b'.') {
            return Err(Error::Malformed {
                path: name.to_path_buf(),
                what: "safetensors index",
                reason: format!("shard '{f}' is not a file name in the index's folder"),
            });
        }
    }
    Ok(files)
}

/// Whether `bytes` start like a safetensors file: an 8-byte length prefix, then a JSON object.
/// (The prefix itself is checked by the reader, which names a lying one.)
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.get(8) == Some(&b'{')
}

/// The header length from the 8-byte prefix, checked against the file size and the limit.
fn header_len(
    path: &Path,
    size: u64,
    read_prefix: impl FnOnce(&mut [u8]) -> Result<()>,
) -> Result<u64> {
    if size < 8 {
        return Err(malformed(
            path,
            format!("{size} bytes: too short for a safetensors header"),
        ));
    }
    let mut len = [0u8; 8];
    read_prefix(&mut len)?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER || n > size.saturating_sub(8) {
        return Err(malformed(
            path,
            format!("the header length prefix says {n} bytes, but the file has {size} (limit {MAX_HEADER}): not safetensors, or corrupt"),
        ));
    }
    Ok(n)
}

/// The tensors described by `header` in a file of `size` bytes.
fn parse(path: &Path, header: &[u8], size: u64) -> Result<Vec<TensorInfo>> {
    let n = header.len() as u64;
    let json: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header)
        .map_err(|e| malformed(path, format!("the header is not a JSON object: {e}")))?;
    // `header_len` checked that the header lies in the file.
    let data = size.saturating_sub(8).saturating_sub(n);
    let mut out = Vec::with_capacity(json.len());
    let mut ranges = Vec::with_capacity(json.len());
    for (name, v) in &json {
        if name == "__metadata__" {
            continue;
        }
        let bad = |why: &str| malformed(path, format!("tensor '{name}': {why}"));
        let dtype = v["dtype"].as_str().ok_or_else(|| bad("no dtype"))?;
        let shape: Vec<u64> = v["shape"]
            .as_array()
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .map(|d| {
                d.as_u64()
                    .ok_or_else(|| bad("a dim is not a non-negative integer"))
            })
            .collect::<Result<_>>()?;
        let offs = v["data_offsets"]
            .as_array()
            .ok_or_else(|| bad("no data_offsets"))?;
        let (begin, end) = match offs.as_slice() {
            [a, b] => (
                a.as_u64().ok_or_else(|| bad("bad data_offsets"))?,
                b.as_u64().ok_or_else(|| bad("bad data_offsets"))?,
            ),
            _ => return Err(bad("data_offsets must be [begin, end]")),
        };
        if begin > end {
            return Err(bad(&format!(
                "data_offsets [{begin}, {end}] are out of order (the end comes before the begin)"
            )));
        }
        if end > data {
            return Err(bad(&format!(
                "data_offsets [{begin}, {end}] lie outside the {data}-byte data section"
            )));
        }
        let elements =
            crate::ops::numel(&shape).map_err(|_| bad("the element count overflows 64 bits"))?;
        let bits = dtype_bits(dtype).ok_or_else(|| bad(&format!("unknown dtype {dtype}")))?;
        let bytes = elements
            .checked_mul(bits)
            .ok_or_else(|| bad("the byte size overflows 64 bits"))?
            .div_ceil(8);
        // `begin ≤ end` was checked above.
        let span = end.saturating_sub(begin);
        if bytes != span {
            return Err(bad(&format!(
                "{elements} elements of {dtype} need {bytes} bytes, but data_offsets span {span}"
            )));
        }
        out.push(TensorInfo {
            name: name.clone(),
            dtype: dtype.to_ascii_lowercase(),
            shape,
            elements,
            bytes,
        });
        ranges.push((begin, end, name.as_str()));
    }
    disjoint(path, &mut ranges)?;
    Ok(out)
}

/// Refuses two tensors whose data ranges share a byte: each tensor owns its bytes (a file
/// that stores one range under two names, or lays ranges across each other, is corrupt or
/// built to mislead). Empty ranges own nothing.
fn disjoint(path: &Path, ranges: &mut [(u64, u64, &str)]) -> Result<()> {
    ranges.sort_unstable();
    let mut last: Option<(u64, u64, &str)> = None;
    for &(begin, end, name) in ranges.iter().filter(|(b, e, _)| b < e) {
        if let Some((pb, pe, pn)) = last {
            if begin < pe {
                return Err(malformed(
                    path,
                    format!(
                        "tensor '{name}': data_offsets [{begin}, {end}] overlap those of \
                         tensor '{pn}', [{pb}, {pe}]"
                    ),
                ));
            }
        }
        last = Some((begin, end, name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_shards_are_plain_names() {
        let index = |shards: &[&str]| {
            let map: serde_json::Map<_, _> = shards
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("t{i}"), serde_json::Value::from(*s)))
                .collect();
            serde_json::json!({ "weight_map": map }).to_string()
        };
        let name = Path::new("model.safetensors.index.json");
        let ok = index_shards(
            index(&["b.safetensors", "a.safetensors", "b.safetensors"]).as_bytes(),
            name,
        );
        assert_eq!(ok.unwrap(), ["a.safetensors", "b.safetensors"]);
        for bad in [
            "../x.safetensors",
            "a/../../x",
            "/etc/x",
            "a\\x",
            "C:x",
            "..",
            ".",
            "",
            "sub/a",
        ] {
            let e = index_shards(index(&[bad]).as_bytes(), name).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::Malformed {
                        what: "safetensors index",
                        ..
                    }
                ),
                "{bad}: {e}"
            );
        }
    }
}
