//! GGUF (v2, v3) headers: magic, version, tensor and key-value counts, typed key-value pairs,
//! then one record per tensor (name, dims, ggml type, offset). Only the header is read, through
//! a buffered reader; every count and length is checked against the bytes the file has left
//! before anything is allocated or skipped.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use super::TensorInfo;
use crate::error::{Error, Result};

/// Block size (weights) and block bytes of each ggml tensor type, from ggml's type traits.
fn ggml_type(t: u32) -> Option<(&'static str, u64, u64)> {
    Some(match t {
        0 => ("f32", 1, 4),
        1 => ("f16", 1, 2),
        2 => ("q4_0", 32, 18),
        3 => ("q4_1", 32, 20),
        6 => ("q5_0", 32, 22),
        7 => ("q5_1", 32, 24),
        8 => ("q8_0", 32, 34),
        9 => ("q8_1", 32, 36),
        10 => ("q2_k", 256, 84),
        11 => ("q3_k", 256, 110),
        12 => ("q4_k", 256, 144),
        13 => ("q5_k", 256, 176),
        14 => ("q6_k", 256, 210),
        15 => ("q8_k", 256, 292),
        16 => ("iq2_xxs", 256, 66),
        17 => ("iq2_xs", 256, 74),
        18 => ("iq3_xxs", 256, 98),
        19 => ("iq1_s", 256, 50),
        20 => ("iq4_nl", 32, 18),
        21 => ("iq3_s", 256, 110),
        22 => ("iq2_s", 256, 82),
        23 => ("iq4_xs", 256, 136),
        24 => ("i8", 1, 1),
        25 => ("i16", 1, 2),
        26 => ("i32", 1, 4),
        27 => ("i64", 1, 8),
        28 => ("f64", 1, 8),
        29 => ("iq1_m", 256, 56),
        30 => ("bf16", 1, 2),
        34 => ("tq1_0", 256, 54),
        35 => ("tq2_0", 256, 66),
        _ => return None,
    })
}

/// Bits per weight of a ggml type name (`q4_k` → 4.5), for reports.
pub fn bits_per_weight(name: &str) -> Option<f64> {
    (0..40)
        .filter_map(ggml_type)
        .find(|t| t.0 == name)
        .map(|(_, block, bytes)| bytes as f64 * 8.0 / block as f64)
}

/// A GGUF header: metadata scalars, array lengths, tensors.
#[derive(Debug, Default)]
pub struct Header {
    /// Scalar metadata (numbers, booleans, strings).
    pub meta: BTreeMap<String, serde_json::Value>,
    /// Element count of each array-valued key (e.g. `tokenizer.ggml.tokens`).
    pub arrays: BTreeMap<String, u64>,
    /// Tensors, in file order.
    pub tensors: Vec<TensorInfo>,
}

struct Reader<R> {
    r: R,
    /// Bytes left in the file after the current position.
    left: u64,
    /// Whether a read ran past the bytes at hand (of a file only partly fetched).
    short: bool,
}

impl<R: Read + Seek> Reader<R> {
    fn take(&mut self, n: u64, what: &str) -> std::result::Result<(), String> {
        if n > self.left {
            return Err(format!(
                "{what} needs {n} bytes but the file has {} left",
                self.left
            ));
        }
        // `n ≤ left`, checked above.
        self.left = self.left.saturating_sub(n);
        Ok(())
    }
    fn fill(&mut self, b: &mut [u8]) -> std::result::Result<(), String> {
        self.r.read_exact(b).map_err(|e| {
            self.short |= e.kind() == std::io::ErrorKind::UnexpectedEof;
            e.to_string()
        })
    }
    fn bytes<const N: usize>(&mut self, what: &str) -> std::result::Result<[u8; N], String> {
        self.take(N as u64, what)?;
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }
    fn u32(&mut self, what: &str) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes(what)?))
    }
    fn u64(&mut self, what: &str) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.bytes(what)?))
    }
    fn skip(&mut self, n: u64, what: &str) -> std::result::Result<(), String> {
        self.take(n, what)?;
        let n = i64::try_from(n).map_err(|_| format!("{what} is too long"))?;
        self.r.seek_relative(n).map_err(|e| e.to_string())
    }
    /// A string; longer than `keep` bytes is skipped and returned as `None`.
    fn string(&mut self, what: &str, keep: u64) -> std::result::Result<Option<String>, String> {
        let n = self.u64(what)?;
        if n > keep {
            self.skip(n, what)?;
            return Ok(None);
        }
        self.take(n, what)?;
        let mut b = vec![0u8; n as usize];
        self.fill(&mut b)?;
        String::from_utf8(b)
            .map(Some)
            .map_err(|_| format!("{what} is not UTF-8"))
    }
    /// One value of type `t`; arrays give their length in `len` and no value.
    fn value(
        &mut self,
        t: u32,
        what: &str,
        len: &mut Option<u64>,
    ) -> std::result::Result<serde_json::Value, String> {
        use serde_json::Value as V;
        Ok(match t {
            0 => V::from(self.bytes::<1>(what)?[0]),
            1 => V::from(self.bytes::<1>(what)?[0] as i8),
            2 => V::from(u16::from_le_bytes(self.bytes(what)?)),
            3 => V::from(i16::from_le_bytes(self.bytes(what)?)),
            4 => V::from(self.u32(what)?),
            5 => V::from(i32::from_le_bytes(self.bytes(what)?)),
            6 => V::from(f32::from_le_bytes(self.bytes(what)?) as f64),
            7 => V::from(self.bytes::<1>(what)?[0] != 0),
            8 => self.string(what, 4096)?.map_or(V::Null, V::from),
            10 => V::from(self.u64(what)?),
            11 => V::from(i64::from_le_bytes(self.bytes(what)?)),
            12 => V::from(f64::from_le_bytes(self.bytes(what)?)),
            9 => {
                let et = self.u32(what)?;
                let n = self.u64(what)?;
                // Every element takes at least one byte (strings: eight), so a count larger
                // than the bytes left is a lie, caught before looping over it.
                let min = match et {
                    8 | 10 | 11 | 12 => 8,
                    2 | 3 => 2,
                    4..=6 => 4,
                    0 | 1 | 7 => 1,
                    9 => return Err(format!("{what}: nested arrays are not supported")),
                    _ => return Err(format!("{what}: unknown value type {et}")),
                };
                if n.checked_mul(min).is_none_or(|b| b > self.left) {
                    return Err(format!(
                        "{what}: an array of {n} elements cannot fit in the {} bytes left",
                        self.left
                    ));
                }
                if et == 8 {
                    for _ in 0..n {
                        let l = self.u64(what)?;
                        self.skip(l, what)?;
                    }
                } else {
                    // `n × min` was checked against the bytes left above.
                    self.skip(n.saturating_mul(min), what)?;
                }
                *len = Some(n);
                V::Null
            }
            _ => return Err(format!("{what}: unknown value type {t}")),
        })
    }
}

/// Reads the header of a GGUF file.
pub fn read(path: &Path) -> Result<Header> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let mut r = Reader {
        r: BufReader::with_capacity(1 << 16, file),
        left: size,
        short: false,
    };
    parse(&mut r, size).map_err(|reason| Error::Malformed {
        what: "GGUF file",
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads the header of a GGUF file held in memory (`name` labels errors).
pub fn read_bytes(bytes: &[u8], name: &Path) -> Result<Header> {
    let size = bytes.len() as u64;
    let mut r = Reader {
        r: std::io::Cursor::new(bytes),
        left: size,
        short: false,
    };
    parse(&mut r, size).map_err(|reason| Error::Malformed {
        what: "GGUF file",
        path: name.to_path_buf(),
        reason,
    })
}

/// Reads the header of a GGUF file of `size` bytes from its first bytes `head`, as a remote
/// reader fetches them: `None` when the header runs past `head` (fetch more and call again).
/// The checks are those of [`read`], against the whole file's size.
pub fn read_head(head: &[u8], size: u64, name: &Path) -> Result<Option<Header>> {
    let mut r = Reader {
        r: std::io::Cursor::new(head),
        left: size,
        short: false,
    };
    match parse(&mut r, size) {
        Ok(h) => Ok(Some(h)),
        Err(_) if r.short && (head.len() as u64) < size => Ok(None),
        Err(reason) => Err(Error::Malformed {
            what: "GGUF file",
            path: name.to_path_buf(),
            reason,
        }),
    }
}

fn parse<R: Read + Seek>(r: &mut Reader<R>, size: u64) -> std::result::Result<Header, String> {
    if &r.bytes::<4>("the magic")? != b"GGUF" {
        return Err("no GGUF magic at the start".into());
    }
    let version = r.u32("the version")?;
    if !(2..=3).contains(&version) {
        return Err(format!("GGUF version {version} (supported: 2 and 3)"));
    }
    let n_tensors = r.u64("the tensor count")?;
    let n_kv = r.u64("the key-value count")?;
    // A tensor record takes at least 28 bytes, a key-value pair at least 13.
    if n_tensors.saturating_mul(28) > size || n_kv.saturating_mul(13) > size {
        return Err(format!(
            "it declares {n_tensors} tensors and {n_kv} key-value pairs, more than a {size}-byte file can hold"
        ));
    }
    let mut h = Header::default();
    for i in 0..n_kv {
        let key = r
            .string(&format!("key {i}"), 1024)?
            .ok_or_else(|| format!("key {i} is longer than 1024 bytes"))?;
        let t = r.u32(&format!("the type of '{key}'"))?;
        let mut len = None;
        let v = r.value(t, &format!("'{key}'"), &mut len)?;
        match len {
            Some(n) => {
                h.arrays.insert(key, n);
            }
            None => {
                h.meta.insert(key, v);
            }
        }
    }
    let alignment = h
        .meta
        .get("general.alignment")
        .and_then(|v| v.as_u64())
        .unwrap_or(32);
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(format!(
            "general.alignment {alignment} is not a power of two"
        ));
    }
    // The count is only bounded by the claimed size (a server's Content-Range, for a remote
    // file): reserve a little and let the vectors grow with the records actually read.
    let mut ends = Vec::with_capacity(n_tensors.min(4096) as usize);
    for i in 0..n_tensors {
        let name = r
            .string(&format!("the name of tensor {i}"), 1024)?
            .ok_or_else(|| format!("the name of tensor {i} is longer than 1024 bytes"))?;
        let nd = r.u32(&format!("the rank of '{name}'"))?;
        if nd > 8 {
            return Err(format!("tensor '{name}' has {nd} dims (at most 8)"));
        }
        let mut shape = Vec::with_capacity(nd as usize);
        for _ in 0..nd {
            shape.push(r.u64(&format!("the dims of '{name}'"))?);
        }
        let t = r.u32(&format!("the type of '{name}'"))?;
        let offset = r.u64(&format!("the offset of '{name}'"))?;
        let (tname, block, block_bytes) =
            ggml_type(t).ok_or_else(|| format!("tensor '{name}' has unknown ggml type {t}"))?;
        let elements = crate::ops::numel(&shape)
            .map_err(|_| format!("tensor '{name}': the element count overflows 64 bits"))?;
        if shape
            .first()
            .is_some_and(|d| d.checked_rem(block) != Some(0))
        {
            return Err(format!(
                "tensor '{name}' of type {tname}: its first dim {} is not a multiple of the block size {block}",
                shape[0]
            ));
        }
        let bytes = (elements.checked_div(block).unwrap_or(0))
            .checked_mul(block_bytes)
            .ok_or_else(|| format!("tensor '{name}': the byte size overflows 64 bits"))?;
        ends.push((name.clone(), offset, bytes));
        // GGUF lists dims innermost first; report them outermost first, like every framework.
        shape.reverse();
        h.tensors.push(TensorInfo {
            name,
            dtype: tname.into(),
            shape,
            elements,
            bytes,
        });
    }
    // The data starts at the header's end rounded up to the alignment (a power of two, checked
    // above): past 2^64 for a remote file whose size is claimed near it, which no tensor fits.
    let header_end = size.saturating_sub(r.left);
    let data_start = header_end.div_ceil(alignment).checked_mul(alignment);
    for (name, offset, bytes) in ends {
        let end = data_start
            .and_then(|s| s.checked_add(offset))
            .and_then(|x| x.checked_add(bytes));
        if end.is_none_or(|e| e > size) {
            return Err(format!(
                "tensor '{name}' (offset {offset}, {bytes} bytes) lies beyond the end of the file ({size} bytes)"
            ));
        }
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GGUF v3 start declaring `n_tensors` tensors and no key-value pairs, then `rest`.
    fn start(n_tensors: u64, rest: &[u8]) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(n_tensors.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(rest);
        b
    }

    #[test]
    fn a_huge_tensor_count_reserves_nothing_up_front() {
        // 10^15 tensors fit in a claimed 2^62 bytes; one real record, then the head ends.
        let mut rec = 1u64.to_le_bytes().to_vec();
        rec.extend(b"a");
        rec.extend(1u32.to_le_bytes());
        rec.extend(32u64.to_le_bytes());
        rec.extend(0u32.to_le_bytes());
        rec.extend(0u64.to_le_bytes());
        let head = start(1_000_000_000_000_000, &rec);
        let name = Path::new("lying.gguf");
        assert!(matches!(read_head(&head, 1 << 62, name), Ok(None)));
        // A record that cannot be read: malformed, at once.
        let head = start(1_000_000_000_000_000, &[0xff; 64]);
        let e = read_head(&head, 1 << 62, name).unwrap_err().to_string();
        assert!(
            e.contains("not a valid GGUF file") && e.contains("tensor 0"),
            "{e}"
        );
    }

    // Unix file systems keep the file sparse; NTFS would reserve the whole terabyte.
    #[cfg(unix)]
    #[test]
    fn a_huge_tensor_count_in_a_sparse_local_file_is_malformed() {
        // A 1 TiB sparse file may declare 2^35 tensors (28 bytes each): reserving their
        // records (~1.4 TB) up front would abort.
        let path = std::env::temp_dir().join(format!("flopscope-gguf-{}.gguf", std::process::id()));
        std::fs::write(&path, start(1 << 35, &[0xff; 64])).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(1 << 40).unwrap();
        drop(f);
        let got = read(&path);
        let _ = std::fs::remove_file(&path);
        let e = got.unwrap_err().to_string();
        assert!(e.contains("the name of tensor 0 needs"), "{e}");
    }
}
