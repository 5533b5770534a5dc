//! An ONNX file behind a URL, read as the local loader reads a file: its structure with range
//! requests, its weight payloads jumped over ([`flopscope_core::load::read_skeleton`]). A
//! server that ignores `Range` sends the whole file instead, read once.

use std::path::Path;

use flopscope_core::load::{read_skeleton, ByteSource, Skeleton, Window};
use flopscope_core::Error;

use crate::http::{Http, Reply};

/// The first read: it tells the file's size, and holds a small model whole.
pub const FIRST: u64 = 64 << 10;
/// The largest ONNX file downloaded whole (from a server that ignores `Range`): protobuf's own
/// limit.
pub const WHOLE_MAX: u64 = 2 << 30;

/// The reads of a remote file: 4 KiB after each jump over a weight payload (the next tensor's
/// name, dims and type), growing to 1 MiB over long runs of nodes, and gaps under 64 KiB read
/// through, so that a run of small tensors costs a few requests, not one each.
const WINDOW: Window = Window {
    first: 4 << 10,
    most: 1 << 20,
    gap: 64 << 10,
};

/// A file read with range requests; the last answer is kept, so the reader's small reads
/// inside it cost nothing.
pub struct RangeFile<'a> {
    http: &'a Http,
    url: &'a str,
    label: &'a str,
    /// The last bytes fetched and their offset.
    block: Vec<u8>,
    block_at: u64,
}

impl ByteSource for RangeFile<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        // What the last block holds of the start of the range.
        let mut done = 0;
        if let Some(i) = offset.checked_sub(self.block_at) {
            if i < self.block.len() as u64 {
                let i = i as usize;
                done = buf.len().min(self.block.len() - i);
                buf[..done].copy_from_slice(&self.block[i..i + done]);
            }
        }
        if done == buf.len() {
            return Ok(());
        }
        let (from, to) = (offset + done as u64, offset + buf.len() as u64);
        let r = self.http.get(self.url, (from, Some(to)), 0, self.label)?;
        if matches!(r.status, 206 | 416) && (r.body.len() as u64) < to - from {
            // The file ends before the size the server gave at first: as a local file
            // shorter than its structure says.
            return Err(Error::Malformed {
                path: self.label.into(),
                what: "remote file",
                reason: format!(
                    "the server sent {} of bytes {from} to {to}: the file is shorter than the size it gave",
                    r.body.len()
                ),
            });
        }
        if r.status != 206 || r.body.len() as u64 != to - from {
            return Err(Error::Network(format!(
                "{}: asked for bytes {from} to {to}, the server sent {} (HTTP {})",
                self.label,
                r.body.len(),
                r.status
            )));
        }
        buf[done..].copy_from_slice(&r.body);
        self.block = r.body;
        self.block_at = from;
        Ok(())
    }
}

/// Reads the structure of the ONNX file at `url` whose first read (`[0, FIRST)`) answered
/// `first`; `whole` downloads the file when the server ignored `Range`.
pub fn skeleton(
    http: &Http,
    url: &str,
    label: &str,
    first: Reply,
    whole: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> Result<Skeleton, Error> {
    let path = Path::new(label);
    if first.status == 416 {
        // Nothing at byte 0: an empty file, refused as an empty local file is.
        return Ok(Skeleton::default());
    }
    if first.status == 200 {
        // The server ignores `Range`: its answer was cut off after the first bytes, unless
        // they were the whole file. Then the file is read once, whole.
        let bytes = match first.size {
            Some(n) if n == first.body.len() as u64 => first.body,
            _ => whole()?,
        };
        let len = bytes.len() as u64;
        return read_skeleton(&mut &bytes[..], len, WINDOW, path);
    }
    let size = first.size.ok_or_else(|| {
        Error::Network(format!(
            "{label}: the server gave no file size (Content-Range)"
        ))
    })?;
    let mut f = RangeFile {
        http,
        url,
        label,
        block: first.body,
        block_at: 0,
    };
    read_skeleton(&mut f, size, WINDOW, path)
}
