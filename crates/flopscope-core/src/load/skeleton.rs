//! Reads a model's protobuf structure with small positional reads, leaving the payloads of
//! large initializers where they are: on disk, or on a server (`flopscope-remote` implements
//! [`ByteSource`] with HTTP range requests, so a remote model costs its structure, not its
//! weights).
//!
//! Why not decode from a memory map: on current kernels the page cache holds large folios, and
//! touching the few header bytes before each weight maps a whole folio (up to 2 MiB) into the
//! process, so resident memory grew with the number of weights (150 MiB for BERT-base with
//! embedded weights). Buffered reads never map the file: memory stays that of the graph.
//! Files of at most [`READ_WHOLE`] bytes are simply read whole.

use std::collections::HashMap;

use crate::error::Error;
use crate::graph::{may_fold, DType};

/// Payloads at or above this size are skipped; smaller ones (shape constants) stay inline.
const SKIP_AT: u64 = 1024;

/// Files up to this size are read whole and decoded as they are: walking them would cost more
/// than it saves, and their memory is bounded by this size.
pub const READ_WHOLE: u64 = 4 << 20;

/// Where a model's bytes are read from: a local file, bytes in memory, or (outside the core,
/// which never touches the network) a file behind a URL read with range requests.
pub trait ByteSource {
    /// Fills `buf` with the bytes at `offset`. The reader only asks for bytes inside the
    /// length it was given; an error is the source's own (an I/O or network failure) and is
    /// passed on as it is.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error>;
}

impl ByteSource for &[u8] {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let from = usize::try_from(offset).unwrap_or(usize::MAX);
        let got = from
            .checked_add(buf.len())
            .and_then(|to| self.get(from..to))
            .ok_or_else(|| Error::Invalid("a read past the end of the model's bytes".into()))?;
        buf.copy_from_slice(got);
        Ok(())
    }
}

/// How much the reader asks its source for at a time: `first` bytes after a jump over a
/// payload (the next field's header is small), twice as much per read while it reads on
/// without a jump, up to `most` (long runs of nodes cost few reads). A jump shorter than `gap`
/// bytes is read through instead, as if there were none: where each read is a round trip (a
/// range request), a run of small payloads then costs a few reads, not one each.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Bytes read after a jump (and first).
    pub first: usize,
    /// The most read at once.
    pub most: usize,
    /// Jumps shorter than this are read through.
    pub gap: u64,
}

/// Local files: one `pread` of 4 KiB per region between payloads (the headers between
/// payloads are small, so reading more is waste).
pub const LOCAL: Window = Window {
    first: 4096,
    most: 4096,
    gap: 0,
};

/// The model's bytes without its large weight payloads.
#[derive(Debug, Default)]
pub struct Skeleton {
    /// A valid `ModelProto` encoding: the file's bytes with large `raw_data` payloads emptied.
    pub bytes: Vec<u8>,
    /// Main-graph initializer index → (file offset, length) of its skipped `raw_data`.
    /// Payloads the analysis may read (small integer tensors: [`may_fold`]) are never skipped.
    pub payloads: HashMap<usize, (u64, u64)>,
    /// The whole file's size in bytes.
    pub len: u64,
}

/// Why a walk stopped: the bytes are not a model (`Bad`), or the source failed.
#[derive(Debug)]
pub enum Stop {
    /// What is wrong with the bytes.
    Bad(String),
    /// The source's own error.
    Source(Error),
}

impl From<String> for Stop {
    fn from(s: String) -> Stop {
        Stop::Bad(s)
    }
}

/// Buffered positional reads: skipping a payload only moves the offset, and the next read
/// starts there (one read per region between payloads, no seeks).
struct Reader<'s, S: ?Sized> {
    src: &'s mut S,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_at: u64,
    /// Current file offset.
    pos: u64,
    len: u64,
    window: Window,
    /// The size of the last read.
    last: usize,
}

impl<S: ByteSource + ?Sized> Reader<'_, S> {
    /// Reads the window holding `pos`; returns `pos`'s index in it (past 0 after reading
    /// through a short jump).
    fn fill(&mut self) -> Result<usize, Stop> {
        let end = self.buf_at + self.buf.len() as u64;
        // Reading on, or over a short jump (`pos` may be past `end`, never before it).
        let on = !self.buf.is_empty() && self.pos >= end && self.pos - end <= self.window.gap;
        let (from, chunk) = if on {
            (end, (self.last * 2).min(self.window.most))
        } else {
            (self.pos, self.window.first)
        };
        self.last = chunk;
        let want = (self.pos - from + chunk as u64).min(self.len - from);
        if self.len <= self.pos {
            return Err(truncated());
        }
        self.buf.resize(want as usize, 0);
        self.src
            .read_at(from, &mut self.buf)
            .map_err(Stop::Source)?;
        self.buf_at = from;
        Ok((self.pos - from) as usize)
    }

    /// Index of `pos` in the buffer, when buffered.
    fn at(&self) -> Option<usize> {
        let i = self.pos.checked_sub(self.buf_at)? as usize;
        (i < self.buf.len()).then_some(i)
    }

    fn byte(&mut self) -> Result<u8, Stop> {
        let i = match self.at() {
            Some(i) => i,
            None => self.fill()?,
        };
        self.pos += 1;
        Ok(self.buf[i])
    }

    fn varint(&mut self, out: &mut Vec<u8>) -> Result<u64, Stop> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            out.push(b);
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Stop::Bad("a varint is longer than 10 bytes".into()))
    }

    fn copy(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), Stop> {
        if n > self.len - self.pos {
            return Err(truncated());
        }
        let mut left = n as usize;
        out.reserve(left);
        while left > 0 {
            let i = match self.at() {
                Some(i) => i,
                None => self.fill()?,
            };
            let take = left.min(self.buf.len() - i);
            out.extend_from_slice(&self.buf[i..i + take]);
            self.pos += take as u64;
            left -= take;
        }
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), Stop> {
        if n > self.len - self.pos {
            return Err(truncated());
        }
        self.pos += n;
        Ok(())
    }
}

fn truncated() -> Stop {
    Stop::Bad("unexpected end of file (truncated?)".into())
}

fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Copies one field whose tag is already in `tag_bytes`, verbatim.
fn copy_field<S: ByteSource + ?Sized>(
    r: &mut Reader<'_, S>,
    wire: u64,
    tag_bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), Stop> {
    out.extend_from_slice(tag_bytes);
    match wire {
        0 => r.varint(out).map(|_| ()),
        1 => r.copy(8, out),
        5 => r.copy(4, out),
        2 => {
            let n = r.varint(out)?;
            r.copy(n, out)
        }
        w => Err(Stop::Bad(format!("unsupported protobuf wire type {w}"))),
    }
}

/// The length of a length-delimited field whose tag was just read, checked against `end`.
fn field_len<S: ByteSource + ?Sized>(r: &mut Reader<'_, S>, end: u64) -> Result<u64, Stop> {
    let len = r.varint(&mut Vec::new())?;
    if len > end - r.pos {
        return Err(truncated());
    }
    Ok(len)
}

/// Walks fields up to `end`, handing length-delimited field `field` to `nested` and copying
/// the rest verbatim.
fn walk<S: ByteSource + ?Sized>(
    r: &mut Reader<'_, S>,
    end: u64,
    out: &mut Vec<u8>,
    field: u64,
    mut nested: impl FnMut(&mut Reader<'_, S>, u64, &mut Vec<u8>) -> Result<(), Stop>,
) -> Result<(), Stop> {
    while r.pos < end {
        let mut tag_bytes = Vec::new();
        let tag = r.varint(&mut tag_bytes)?;
        let (num, wire) = (tag >> 3, tag & 7);
        if num == field && wire == 2 {
            let len = field_len(r, end)?;
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
        return Err(Stop::Bad("a field runs past the end of its message".into()));
    }
    Ok(())
}

/// The varints of a packed repeated field.
fn packed(mut b: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let mut v = 0u64;
        let mut i = 0;
        while i < b.len() && i < 10 {
            v |= u64::from(b[i] & 0x7f) << (7 * i);
            i += 1;
            if b[i - 1] & 0x80 == 0 {
                break;
            }
        }
        out.push(v);
        b = &b[i..];
    }
    out
}

/// Walks one `TensorProto` up to `end`; returns its skipped payload. `dims` (1) and
/// `data_type` (2) are followed, so that a payload the analysis may read ([`may_fold`]) is kept:
/// inline when its type came first (as every ONNX writer orders fields), else read back and
/// appended (the last `raw_data` of a message is the one decoded).
fn tensor<S: ByteSource + ?Sized>(
    r: &mut Reader<'_, S>,
    end: u64,
    out: &mut Vec<u8>,
) -> Result<Option<(u64, u64)>, Stop> {
    let mut dims: Vec<u64> = Vec::new();
    let mut dtype: Option<DType> = None;
    let mut skipped = None;
    let foldable = |dims: &[u64], dtype: Option<DType>| {
        let n = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d).filter(|_| d < 1 << 63));
        matches!((dtype, n), (Some(t), Some(n)) if may_fold(t, n))
    };
    while r.pos < end {
        let mut tag_bytes = Vec::new();
        let tag = r.varint(&mut tag_bytes)?;
        match (tag >> 3, tag & 7) {
            (1, 0) => {
                out.extend_from_slice(&tag_bytes);
                dims.push(r.varint(out)?);
            }
            (1, 2) => {
                out.extend_from_slice(&tag_bytes);
                let n = r.varint(out)?;
                let at = out.len();
                r.copy(n, out)?;
                dims.extend(packed(&out[at..]));
            }
            (2, 0) => {
                out.extend_from_slice(&tag_bytes);
                let code = r.varint(out)?;
                dtype = Some(DType::from_onnx(i32::try_from(code).unwrap_or(0)));
            }
            (9, 2) => {
                let n = field_len(r, end)?;
                out.extend_from_slice(&tag_bytes);
                if n < SKIP_AT || foldable(&dims, dtype) {
                    put_varint(n, out);
                    r.copy(n, out)?;
                } else {
                    put_varint(0, out);
                    skipped = Some((r.pos, n));
                    r.skip(n)?;
                }
            }
            (_, wire) => copy_field(r, wire, &tag_bytes, out)?,
        }
    }
    if r.pos != end {
        return Err(Stop::Bad("a field runs past the end of its message".into()));
    }
    match skipped {
        Some((at, n)) if foldable(&dims, dtype) => {
            let mut data = vec![0u8; n as usize];
            r.src.read_at(at, &mut data).map_err(Stop::Source)?;
            put_varint((9 << 3) | 2, out);
            put_varint(n, out);
            out.extend_from_slice(&data);
            Ok(None)
        }
        s => Ok(s),
    }
}

/// Reads a model of `len` bytes from `src` into a [`Skeleton`], `window` bytes at a time.
pub fn read<S: ByteSource + ?Sized>(
    src: &mut S,
    len: u64,
    window: Window,
) -> Result<Skeleton, Stop> {
    if len <= READ_WHOLE {
        let mut bytes = vec![0u8; len as usize];
        src.read_at(0, &mut bytes).map_err(Stop::Source)?;
        return Ok(Skeleton {
            bytes,
            payloads: HashMap::new(),
            len,
        });
    }
    let mut r = Reader {
        src,
        buf: Vec::with_capacity(window.first),
        buf_at: 0,
        pos: 0,
        len,
        window,
        last: 0,
    };
    let mut payloads = HashMap::new();
    let mut bytes = Vec::new();
    // ModelProto.graph = 7 → GraphProto.initializer = 5 → TensorProto.raw_data = 9.
    // Indices run across repeated graph fields, as protobuf merging appends their lists.
    let mut index = 0usize;
    walk(&mut r, len, &mut bytes, 7, |r, end, out| {
        walk(r, end, out, 5, |r, end, out| {
            if let Some(p) = tensor(r, end, out)? {
                payloads.insert(index, p);
            }
            index += 1;
            Ok(())
        })
    })?;
    Ok(Skeleton {
        bytes,
        payloads,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_pb as pb;
    use prost::Message;

    /// Bytes in memory that count what was read, and in how many reads.
    struct Counted<'a> {
        bytes: &'a [u8],
        read: u64,
        reads: u64,
    }

    impl ByteSource for Counted<'_> {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
            self.read += buf.len() as u64;
            self.reads += 1;
            (&mut self.bytes).read_at(offset, buf)
        }
    }

    fn tensor(name: &str, dtype: i32, dims: &[i64], raw: Vec<u8>) -> pb::TensorProto {
        pb::TensorProto {
            name: Some(name.into()),
            data_type: Some(dtype),
            dims: dims.to_vec(),
            raw_data: Some(raw.into()),
            ..Default::default()
        }
    }

    /// A model past [`READ_WHOLE`]: float weights of 4.4 MB and 8 KB, an int64 shape constant
    /// of 200 elements (1,600 bytes: at or above [`SKIP_AT`], but one the analysis folds) and
    /// a tiny float.
    fn model() -> (Vec<u8>, Vec<pb::TensorProto>) {
        let inits = vec![
            tensor("big", 1, &[1_100_000], vec![7; 4_400_000]),
            tensor("shape", 7, &[200], (0..1600).map(|i| i as u8).collect()),
            tensor("w", 1, &[2000], vec![3; 8000]),
            tensor("eps", 1, &[], vec![0; 4]),
        ];
        let m = pb::ModelProto {
            ir_version: Some(8),
            graph: Some(pb::GraphProto {
                initializer: inits.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        (m.encode_to_vec(), inits)
    }

    #[test]
    fn weights_are_skipped_and_foldable_payloads_kept_whatever_the_window() {
        let (bytes, inits) = model();
        let len = bytes.len() as u64;
        assert!(len > READ_WHOLE);
        let wide = Window {
            first: 4096,
            most: 1 << 20,
            gap: 64 << 10,
        };
        let mut got = Vec::new();
        for w in [LOCAL, wide] {
            let mut src = Counted {
                bytes: &bytes,
                read: 0,
                reads: 0,
            };
            let sk = read(&mut src, len, w).unwrap();
            // The two float weights (indices 0 and 2) left where they are: each payload is
            // the original bytes at its offset.
            let mut skipped: Vec<_> = sk.payloads.keys().copied().collect();
            skipped.sort();
            assert_eq!(skipped, [0, 2]);
            for (i, &(at, n)) in &sk.payloads {
                let raw = inits[*i].raw_data.as_ref().unwrap();
                assert_eq!(&bytes[at as usize..(at + n) as usize], &raw[..]);
            }
            let m = pb::ModelProto::decode(&sk.bytes[..]).unwrap();
            let g = m.graph.unwrap();
            assert_eq!(g.initializer[1], inits[1]);
            assert_eq!(g.initializer[3], inits[3]);
            // 4.4 MB of weights not read: the reads cover the structure and, past the 8 KB
            // weight (under the 64 KiB gap), at most a window or two.
            assert!(src.read < 200_000, "{w:?}: {} bytes read", src.read);
            got.push((sk.bytes, src.reads));
        }
        assert_eq!(got[0].0, got[1].0);
    }

    #[test]
    fn a_foldable_payload_before_its_type_is_read_back() {
        // An int64 tensor whose raw_data (field 9) comes before dims (1) and data_type (2),
        // then a weight past READ_WHOLE so that the model is walked.
        let raw: Vec<u8> = (0..2000).map(|i| (i % 251) as u8).collect();
        let mut t = Vec::new();
        put_varint((9 << 3) | 2, &mut t);
        put_varint(raw.len() as u64, &mut t);
        t.extend_from_slice(&raw);
        t.extend_from_slice(&[(1 << 3), 250, 1]); // dims: 250
        t.extend_from_slice(&[(2 << 3), 7]); // data_type: INT64
        let big = tensor("big", 1, &[1_100_000], vec![1; 4_400_000]).encode_to_vec();
        let mut g = Vec::new();
        for body in [&t, &big] {
            put_varint((5 << 3) | 2, &mut g);
            put_varint(body.len() as u64, &mut g);
            g.extend_from_slice(body);
        }
        let mut m = Vec::new();
        put_varint((7 << 3) | 2, &mut m);
        put_varint(g.len() as u64, &mut m);
        m.extend_from_slice(&g);
        let sk = read(&mut &m[..], m.len() as u64, LOCAL).unwrap();
        assert_eq!(sk.payloads.keys().collect::<Vec<_>>(), [&1]);
        let g = pb::ModelProto::decode(&sk.bytes[..])
            .unwrap()
            .graph
            .unwrap();
        assert_eq!(g.initializer[0].raw_data.as_deref(), Some(&raw[..]));
        assert_eq!(g.initializer[0].dims, [250]);
    }

    #[test]
    fn packed_varints() {
        // 3, 300 (0xAC 0x02), 1: protobuf's encoding spelled out.
        assert_eq!(packed(&[3, 0xAC, 0x02, 1]), vec![3, 300, 1]);
        assert_eq!(packed(&[]), Vec::<u64>::new());
    }
}
