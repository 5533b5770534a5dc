//! Reads a model's protobuf structure with small buffered reads, leaving the payloads of large
//! initializers on disk.
//!
//! Why not decode from a memory map: on current kernels the page cache holds large folios, and
//! touching the few header bytes before each weight maps a whole folio (up to 2 MiB) into the
//! process, so resident memory grew with the number of weights (150 MiB for BERT-base with
//! embedded weights). Buffered reads never map the file: memory stays that of the graph.
//! Files of at most [`READ_WHOLE`] bytes are simply read whole.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;

/// Payloads at or above this size are skipped; smaller ones (shape constants) stay inline.
const SKIP_AT: u64 = 1024;

/// Files up to this size are read whole and decoded as they are: walking them would cost more
/// than it saves, and their memory is bounded by this size.
pub const READ_WHOLE: u64 = 4 << 20;

/// The model's bytes without its large weight payloads.
#[derive(Debug, Default)]
pub struct Skeleton {
    /// A valid `ModelProto` encoding: the file's bytes with large `raw_data` payloads emptied.
    pub bytes: Vec<u8>,
    /// Main-graph initializer index → (file offset, length) of its skipped `raw_data`.
    pub payloads: HashMap<usize, (u64, u64)>,
}

/// Buffered positional reads: skipping a payload only moves the offset, and the next read
/// starts there (one `pread` per region between payloads, no seeks).
struct Reader {
    file: File,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_at: u64,
    /// Current file offset.
    pos: u64,
    len: u64,
}

/// Bytes fetched per read: the headers between payloads are small, so reading more is waste.
const CHUNK: usize = 4096;

impl Reader {
    fn fill(&mut self) -> Result<(), String> {
        let want = CHUNK.min((self.len - self.pos) as usize);
        if want == 0 {
            return Err(truncated());
        }
        self.buf.resize(want, 0);
        read_at(&self.file, &mut self.buf, self.pos).map_err(|_| truncated())?;
        self.buf_at = self.pos;
        Ok(())
    }

    /// Index of `pos` in the buffer, when buffered.
    fn at(&self) -> Option<usize> {
        let i = self.pos.checked_sub(self.buf_at)? as usize;
        (i < self.buf.len()).then_some(i)
    }

    fn byte(&mut self) -> Result<u8, String> {
        let i = match self.at() {
            Some(i) => i,
            None => {
                self.fill()?;
                0
            }
        };
        self.pos += 1;
        Ok(self.buf[i])
    }

    fn varint(&mut self, out: &mut Vec<u8>) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            out.push(b);
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a varint is longer than 10 bytes".into())
    }

    fn copy(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), String> {
        if n > self.len - self.pos {
            return Err(truncated());
        }
        let mut left = n as usize;
        out.reserve(left);
        while left > 0 {
            let i = match self.at() {
                Some(i) => i,
                None => {
                    self.fill()?;
                    0
                }
            };
            let take = left.min(self.buf.len() - i);
            out.extend_from_slice(&self.buf[i..i + take]);
            self.pos += take as u64;
            left -= take;
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.len - self.pos {
            return Err(truncated());
        }
        self.pos += n;
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(not(unix))]
fn read_at(mut file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

fn truncated() -> String {
    "unexpected end of file (truncated?)".into()
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Copies one field whose tag is already in `tag_bytes`, verbatim.
fn copy_field(
    r: &mut Reader,
    wire: u64,
    tag_bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.extend_from_slice(tag_bytes);
    match wire {
        0 => r.varint(out).map(|_| ()),
        1 => r.copy(8, out),
        5 => r.copy(4, out),
        2 => {
            let n = r.varint(out)?;
            r.copy(n, out)
        }
        w => Err(format!("unsupported protobuf wire type {w}")),
    }
}

/// Walks fields up to `end`, handing length-delimited field `field` to `nested` and copying
/// the rest verbatim.
fn walk(
    r: &mut Reader,
    end: u64,
    out: &mut Vec<u8>,
    field: u64,
    mut nested: impl FnMut(&mut Reader, u64, &mut Vec<u8>) -> Result<(), String>,
) -> Result<(), String> {
    while r.pos < end {
        let mut tag_bytes = Vec::new();
        let tag = r.varint(&mut tag_bytes)?;
        let (num, wire) = (tag >> 3, tag & 7);
        if num == field && wire == 2 {
            let len = r.varint(&mut Vec::new())?;
            if len > end - r.pos {
                return Err(truncated());
            }
            let mut body = Vec::new();
            nested(r, r.pos + len, &mut body)?;
            out.extend_from_slice(&tag_bytes);
            put_varint(body.len() as u64, out);
            out.extend_from_slice(&body);
        } else {
            copy_field(r, wire, &tag_bytes, out)?;
        }
    }
    if r.pos != end {
        return Err("a field runs past the end of its message".into());
    }
    Ok(())
}

/// Reads `file` (of `len` bytes) into a [`Skeleton`].
pub fn read(mut file: File, len: u64) -> Result<Skeleton, String> {
    if len <= READ_WHOLE {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        return Ok(Skeleton {
            bytes,
            payloads: HashMap::new(),
        });
    }
    let mut r = Reader {
        file,
        buf: Vec::with_capacity(CHUNK),
        buf_at: 0,
        pos: 0,
        len,
    };
    let mut sk = Skeleton::default();
    let mut payloads = HashMap::new();
    let mut bytes = Vec::new();
    // ModelProto.graph = 7 → GraphProto.initializer = 5 → TensorProto.raw_data = 9.
    // Indices run across repeated graph fields, as protobuf merging appends their lists.
    let mut index = 0usize;
    walk(&mut r, len, &mut bytes, 7, |r, end, out| {
        walk(r, end, out, 5, |r, end, out| {
            let i = index;
            index += 1;
            walk(r, end, out, 9, |r, end, out| {
                let n = end - r.pos;
                if n >= SKIP_AT {
                    payloads.insert(i, (r.pos, n));
                    r.skip(n)
                } else {
                    r.copy(n, out)
                }
            })
        })
    })?;
    sk.bytes = bytes;
    sk.payloads = payloads;
    Ok(sk)
}
