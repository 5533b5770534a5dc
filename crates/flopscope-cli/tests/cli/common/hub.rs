//! A Hugging Face Hub stand-in on 127.0.0.1 for the remote tests: `/{repo}/resolve/{rev}/{file}`
//! with `X-Repo-Commit`, model files redirected to a second port (the "CDN") that serves byte
//! ranges, gated repos answering 401 without their token, 404s, `config.json` at `main`
//! redirected path-relatively (`../{commit}/config.json`), and misbehaviours (ignoring `Range`,
//! answering slowly, failing with 503 or 429, lying about a file's size, S3's 403 for a missing
//! file). Files carry an `ETag` and a `Last-Modified` (from their size and modification time),
//! and a conditional request for an unchanged one is a 304. It counts the bytes it sends and
//! logs every request with its `Authorization`, `Range` and conditional headers. One request
//! per connection, a thread each.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the servers behave.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    Normal,
    /// Every file is sent whole with 200, whatever `Range` says.
    IgnoreRange,
    /// The Hub port waits 30 s before answering.
    Slow,
    /// The first N requests to the Hub port get a 503.
    Fail503(usize),
    /// The first N requests to the Hub port get a 429 with `Retry-After: 1`.
    Fail429(usize),
    /// Ranges are answered with this total size in `Content-Range`, whatever the file's.
    ClaimSize(u64),
    /// The CDN answers a missing file with 403, as S3 and GCS do without list permission.
    S3,
    /// Files carry a `Last-Modified` but no `ETag`.
    NoEtag,
    /// Files carry neither an `ETag` nor a `Last-Modified`.
    NoValidators,
}

/// One repository: the files of a folder at one commit; `token`: gated.
pub struct Repo {
    pub name: String,
    pub dir: PathBuf,
    pub commit: String,
    pub token: Option<String>,
}

/// One request seen.
#[derive(Clone, Debug)]
pub struct Hit {
    pub cdn: bool,
    pub path: String,
    pub auth: Option<String>,
    pub range: Option<String>,
    /// `If-None-Match`, then `If-Modified-Since`, when sent.
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
}

struct State {
    repos: Vec<Repo>,
    mode: Mode,
    cdn_port: u16,
    served: AtomicU64,
    hub_requests: AtomicUsize,
    hits: Mutex<Vec<Hit>>,
    stop: AtomicBool,
}

/// The running pair of servers; [`Hub::stop`] closes both ports.
pub struct Hub {
    pub port: u16,
    pub cdn_port: u16,
    state: Arc<State>,
}

impl Hub {
    pub fn start(repos: Vec<Repo>, mode: Mode) -> Hub {
        let hub = TcpListener::bind("127.0.0.1:0").unwrap();
        let cdn = TcpListener::bind("127.0.0.1:0").unwrap();
        let (port, cdn_port) = (
            hub.local_addr().unwrap().port(),
            cdn.local_addr().unwrap().port(),
        );
        let state = Arc::new(State {
            repos,
            mode,
            cdn_port,
            served: AtomicU64::new(0),
            hub_requests: AtomicUsize::new(0),
            hits: Mutex::new(vec![]),
            stop: AtomicBool::new(false),
        });
        for (l, is_cdn) in [(hub, false), (cdn, true)] {
            let st = state.clone();
            std::thread::spawn(move || {
                for s in l.incoming() {
                    if st.stop.load(SeqCst) {
                        break; // dropping the listener closes the port
                    }
                    let st = st.clone();
                    if let Ok(s) = s {
                        std::thread::spawn(move || serve(&st, s, is_cdn));
                    }
                }
            });
        }
        Hub {
            port,
            cdn_port,
            state,
        }
    }

    /// `HF_ENDPOINT` for this server.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Bytes sent so far (status lines, headers and bodies, both ports).
    pub fn served(&self) -> u64 {
        self.state.served.load(SeqCst)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    /// Closes both ports; later calls do nothing, so a port that another test may have been
    /// given since is never connected to.
    pub fn stop(&self) {
        if self.state.stop.swap(true, SeqCst) {
            return;
        }
        for p in [self.port, self.cdn_port] {
            let _ = TcpStream::connect(("127.0.0.1", p));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Writes and counts.
fn send(st: &State, s: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes)?;
    st.served.fetch_add(bytes.len() as u64, SeqCst);
    Ok(())
}

fn reply(st: &State, s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    let _ = send(st, s, (head + "\r\n").as_bytes()).and_then(|_| send(st, s, body));
}

fn serve(st: &State, mut s: TcpStream, cdn: bool) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    // Nothing sent: the wake-up connection of `stop`, not a request.
    if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut auth, mut range, mut inm, mut ims) = (None, None, None, None);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.to_ascii_lowercase().as_str() {
                "authorization" => auth = Some(v.trim().to_string()),
                "range" => range = Some(v.trim().to_string()),
                "if-none-match" => inm = Some(v.trim().to_string()),
                "if-modified-since" => ims = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    st.hits.lock().unwrap().push(Hit {
        cdn,
        path: path.clone(),
        auth: auth.clone(),
        range: range.clone(),
        if_none_match: inm.clone(),
        if_modified_since: ims.clone(),
    });
    if !cdn {
        let n = st.hub_requests.fetch_add(1, SeqCst);
        match st.mode {
            Mode::Slow => {
                for _ in 0..300 {
                    if st.stop.load(SeqCst) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Mode::Fail503(k) if n < k => {
                return reply(st, &mut s, "503 Service Unavailable", &[], b"busy")
            }
            Mode::Fail429(k) if n < k => {
                return reply(
                    st,
                    &mut s,
                    "429 Too Many Requests",
                    &[("Retry-After", "1".into())],
                    b"slow down",
                )
            }
            _ => {}
        }
    }
    // Hub: /{org}/{name}/resolve/{rev}/{file}; CDN: /{org}/{name}/{commit}/{file}. A query
    // (a pre-signed URL's) is logged and ignored; names arrive percent-encoded.
    let route = decode(path.split('?').next().unwrap_or(""));
    let parts: Vec<&str> = route.trim_start_matches('/').splitn(5, '/').collect();
    let (repo, rev, file) = match (cdn, parts.as_slice()) {
        (false, [o, n, "resolve", rev, file]) => (format!("{o}/{n}"), *rev, *file),
        (true, [o, n, commit, rest @ ..]) if !rest.is_empty() => (
            format!("{o}/{n}"),
            *commit,
            &route[route.find(commit).unwrap() + commit.len() + 1..],
        ),
        _ => return reply(st, &mut s, "400 Bad Request", &[], b""),
    };
    let Some(repo) = st.repos.iter().find(|r| r.name == repo) else {
        return reply(
            st,
            &mut s,
            "401 Unauthorized",
            &[("X-Error-Code", "RepoNotFound".into())],
            b"",
        );
    };
    let commit = ("X-Repo-Commit", repo.commit.clone());
    if !cdn
        && repo
            .token
            .as_ref()
            .is_some_and(|t| auth.as_deref() != Some(&format!("Bearer {t}")))
    {
        return reply(
            st,
            &mut s,
            "401 Unauthorized",
            &[("X-Error-Code", "GatedRepo".into())],
            b"",
        );
    }
    if rev != "main" && rev != repo.commit {
        return reply(
            st,
            &mut s,
            "404 Not Found",
            &[("X-Error-Code", "RevisionNotFound".into())],
            b"",
        );
    }
    let f = repo.dir.join(file);
    if file.split('/').any(|p| p == "..") || !f.is_file() {
        if cdn && st.mode == Mode::S3 {
            return reply(st, &mut s, "403 Forbidden", &[], b"AccessDenied");
        }
        return reply(
            st,
            &mut s,
            "404 Not Found",
            &[commit, ("X-Error-Code", "EntryNotFound".into())],
            b"",
        );
    }
    // As the Hub sends some files to a commit's URL: a path-relative Location.
    if !cdn && rev == "main" && file == "config.json" {
        let to = format!("../{}/config.json", repo.commit);
        return reply(st, &mut s, "302 Found", &[commit, ("Location", to)], b"");
    }
    let big = [".safetensors", ".gguf", ".onnx"]
        .iter()
        .any(|e| file.ends_with(e));
    if !cdn && big {
        let to = format!(
            "http://127.0.0.1:{}/{}/{}/{}",
            st.cdn_port,
            repo.name,
            repo.commit,
            encode(file)
        );
        return reply(st, &mut s, "302 Found", &[commit, ("Location", to)], b"");
    }
    let cond = (inm.as_deref(), ims.as_deref());
    send_file(st, &mut s, &f, range.as_deref(), cond, commit);
}

/// The validators of a file, as the mode gives them: an `ETag` from its size and modification
/// time, and that time as an HTTP date.
fn validators(mode: Mode, f: &std::path::Path) -> (Option<String>, Option<String>) {
    let meta = std::fs::metadata(f).unwrap();
    let t = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let etag = format!("\"{:x}-{:x}\"", meta.len(), t.as_nanos());
    let date = http_date(t.as_secs());
    match mode {
        Mode::NoValidators => (None, None),
        Mode::NoEtag => (None, Some(date)),
        _ => (Some(etag), Some(date)),
    }
}

/// `secs` since 1970 as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = flopscope_core::machine::civil_from_days(days);
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(m - 1) as usize];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} GMT",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Every byte but the unreserved ones and `/` as `%XX`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `%XX` escapes decoded (bytes that are not UTF-8 become U+FFFD).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A file, or the asked range of it (`bytes=a-b`).
fn send_file(
    st: &State,
    s: &mut TcpStream,
    f: &std::path::Path,
    range: Option<&str>,
    (if_none_match, if_modified_since): (Option<&str>, Option<&str>),
    commit: (&str, String),
) {
    let (etag, date) = validators(st.mode, f);
    // As RFC 9110 says: `If-None-Match` when sent, else `If-Modified-Since` (compared as the
    // exact date this server sends).
    let unchanged = match (if_none_match, if_modified_since) {
        (Some(m), _) => etag.as_deref() == Some(m),
        (None, Some(d)) => date.as_deref() == Some(d),
        _ => false,
    };
    let mut tags = vec![commit.clone()];
    tags.extend(etag.map(|e| ("ETag", e)));
    tags.extend(date.map(|d| ("Last-Modified", d)));
    if unchanged {
        return reply(st, s, "304 Not Modified", &tags, b"");
    }
    let mut file = std::fs::File::open(f).unwrap();
    let size = file.metadata().unwrap().len();
    let asked = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
    let (status, from, len, extra) = match asked {
        Some((a, b)) if st.mode != Mode::IgnoreRange => {
            if a >= size {
                let cr = ("Content-Range", format!("bytes */{size}"));
                return reply(st, s, "416 Range Not Satisfiable", &[cr], b"");
            }
            let end = b.min(size - 1);
            let total = match st.mode {
                Mode::ClaimSize(t) => t,
                _ => size,
            };
            (
                "206 Partial Content",
                a,
                end + 1 - a,
                Some(format!("bytes {a}-{end}/{total}")),
            )
        }
        _ => ("200 OK", 0, size, None),
    };
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n");
    for (k, v) in &tags {
        head += &format!("{k}: {v}\r\n");
    }
    if let Some(cr) = extra {
        head += &format!("Content-Range: {cr}\r\n");
    }
    if send(st, s, (head + "\r\n").as_bytes()).is_err() {
        return;
    }
    file.seek(SeekFrom::Start(from)).unwrap();
    let mut rest = file.take(len);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = rest.read(&mut buf).unwrap_or(0);
        // A closed connection ends a full download: the client has what it needed.
        if n == 0 || send(st, s, &buf[..n]).is_err() {
            return;
        }
    }
}
