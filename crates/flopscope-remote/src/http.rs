//! Bounded HTTP GETs: byte ranges, redirects followed by hand (so the token goes to the
//! endpoint's host only), time-outs, and retries with backoff on time-outs, 429 and 5xx only.
//!
//! ureq (blocking, rustls, no OpenSSL) is enough: a profile needs a handful of small reads,
//! and the shards' parallel reads are std threads sharing one agent.

use std::io::Read;
use std::time::Duration;

use flopscope_core::Error;
use ureq::http::Uri;

/// Redirects followed per request (the Hub needs one: file downloads go to a CDN).
const MAX_REDIRECTS: usize = 5;
/// The longest `FLOPSCOPE_HTTP_TIMEOUT` (a day): larger values overflow a `Duration`.
const MAX_TIMEOUT: f64 = 86_400.0;
/// The longest `Retry-After` honoured; a longer one waits this long.
const MAX_RETRY_AFTER: f64 = 10.0;

/// The settings of every request: `FLOPSCOPE_HTTP_TIMEOUT` (seconds, default 30) bounds each
/// request (each redirect hop is one), `FLOPSCOPE_HTTP_RETRIES` (default 2) the tries after
/// the first.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    timeout: f64,
    retries: u32,
    /// The token and the origin (`scheme://host:port`) it may be sent to.
    token: Option<(String, String)>,
}

/// What tells whether a file changed since it was read: its `ETag` and `Last-Modified`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Validators {
    /// The `ETag`, as the server sent it (quotes and `W/` included).
    pub etag: Option<String>,
    /// The `Last-Modified` date, as the server sent it.
    pub last_modified: Option<String>,
}

impl Validators {
    /// Whether the server sent either.
    pub fn any(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// One answer: a 2xx body (at most what was asked for), a 404, a 416 to a range, or a 304 to
/// a conditional request.
pub struct Reply {
    /// 200, 206, 304 (not modified), 404, or 416 (a range that starts at or past the end of
    /// the file).
    pub status: u16,
    /// The bytes asked for (fewer when the file ends first).
    pub body: Vec<u8>,
    /// The whole file's size, from `Content-Range` (or `Content-Length` of a full answer; a
    /// 416's `bytes */size`).
    pub size: Option<u64>,
    /// `X-Repo-Commit` of any response on the way (the Hub puts it on the redirect).
    pub commit: Option<String>,
    /// The Hub's `X-Error-Code` of a 404 (`RevisionNotFound`, `RepoNotFound`, `EntryNotFound`).
    pub error_code: Option<String>,
    /// The file's validators, from the last response (the one with the body).
    pub validators: Validators,
}

/// Why one try failed.
enum Fail {
    /// Worth another try: a time-out, a 429 or a 5xx; and the wait the server asked for.
    Again(String, Option<f64>),
    /// Final.
    Stop(Error),
}

impl Http {
    /// A client; `token` is sent only to URLs whose origin is `token_origin`.
    pub fn new(token: Option<String>, token_origin: &str) -> Result<Http, Error> {
        let num = |k: &str, default: f64| -> Result<f64, Error> {
            match std::env::var(k) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| Error::Usage(format!("{k}={v}: expected a number"))),
                _ => Ok(default),
            }
        };
        let timeout = num("FLOPSCOPE_HTTP_TIMEOUT", 30.0)?.max(0.001);
        if timeout > MAX_TIMEOUT {
            return Err(Error::Usage(format!(
                "FLOPSCOPE_HTTP_TIMEOUT={timeout}: at most {MAX_TIMEOUT} seconds"
            )));
        }
        let retries = num("FLOPSCOPE_HTTP_RETRIES", 2.0)?.min(10.0) as u32;
        let t = Some(Duration::from_secs_f64(timeout));
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(t)
            .timeout_connect(t)
            .user_agent(concat!("flopscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Http {
            agent,
            timeout,
            retries,
            token: token.map(|t| (t, token_origin.to_string())),
        })
    }

    /// GETs bytes `[start, end)` of `url` (`end` = `None`: the whole file, at most `cap`
    /// bytes). A server that ignores `Range` is read only as far as the range needs, then
    /// dropped. `label` names the file in errors.
    pub fn get(
        &self,
        url: &str,
        range: (u64, Option<u64>),
        cap: u64,
        label: &str,
    ) -> Result<Reply, Error> {
        self.get_if(url, range, cap, label, None)
    }

    /// [`Http::get`], conditional on the file having changed since `since` was seen
    /// (`If-None-Match`, `If-Modified-Since`): an unchanged file is a 304 with no body.
    pub fn get_if(
        &self,
        url: &str,
        range: (u64, Option<u64>),
        cap: u64,
        label: &str,
        since: Option<&Validators>,
    ) -> Result<Reply, Error> {
        let mut delay = 0.25;
        let mut tries = 0;
        loop {
            match self.try_get(url, range, cap, label, since) {
                Ok(r) => return Ok(r),
                Err(Fail::Stop(e)) => return Err(e),
                Err(Fail::Again(why, _)) if tries >= self.retries => {
                    let n = tries + 1;
                    return Err(Error::Network(format!(
                        "{label}: {why} ({n} {}; FLOPSCOPE_HTTP_TIMEOUT and FLOPSCOPE_HTTP_RETRIES set the limits)",
                        if n == 1 { "try" } else { "tries" }
                    )));
                }
                Err(Fail::Again(_, wait)) => {
                    let wait = wait.map_or(delay, |w| w.min(MAX_RETRY_AFTER));
                    std::thread::sleep(Duration::from_secs_f64(wait));
                    delay *= 2.0;
                    tries += 1;
                }
            }
        }
    }

    fn try_get(
        &self,
        url: &str,
        (start, end): (u64, Option<u64>),
        cap: u64,
        label: &str,
        since: Option<&Validators>,
    ) -> Result<Reply, Fail> {
        // The label, not the URL: a URL's query may be a pre-signed signature.
        let mut uri: Uri = url
            .parse()
            .map_err(|e| Fail::Stop(Error::Usage(format!("{label}: not a URL: {e}"))))?;
        let mut commit = None;
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.agent.get(&uri);
            if let Some(e) = end {
                req = req.header("Range", format!("bytes={start}-{}", e.max(start + 1) - 1));
            }
            if let Some((token, origin)) = &self.token {
                if origin_of(&uri) == *origin {
                    req = req.header("Authorization", format!("Bearer {token}"));
                }
            }
            if let Some(v) = since {
                if let Some(e) = &v.etag {
                    req = req.header("If-None-Match", e);
                }
                if let Some(d) = &v.last_modified {
                    req = req.header("If-Modified-Since", d);
                }
            }
            let resp = req.call().map_err(|e| self.fail(e, label))?;
            let status = resp.status().as_u16();
            let header = |k: &str| {
                resp.headers()
                    .get(k)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            commit = commit.or_else(|| header("x-repo-commit"));
            match status {
                301 | 302 | 303 | 307 | 308 => {
                    let to = header("location").ok_or_else(|| {
                        Fail::Stop(Error::Network(format!(
                            "{label}: a redirect without a Location"
                        )))
                    })?;
                    uri = resolve(&uri, &to).ok_or_else(|| {
                        Fail::Stop(Error::Network(format!(
                            "{label}: a redirect to '{}', which is not an http(s) URL",
                            crate::redact(&to)
                        )))
                    })?;
                    continue;
                }
                200 | 206 => {}
                404 => {
                    return Ok(Reply {
                        status,
                        body: vec![],
                        size: None,
                        commit,
                        error_code: header("x-error-code"),
                        validators: Validators::default(),
                    });
                }
                304 if since.is_some() => {
                    return Ok(Reply {
                        status,
                        body: vec![],
                        size: None,
                        commit,
                        error_code: None,
                        validators: Validators::default(),
                    });
                }
                // A range that starts past the end: the file is shorter than the range's start.
                416 if end.is_some() => {
                    let size = header("content-range").and_then(|v| {
                        let total = v.trim().strip_prefix("bytes */")?;
                        total.trim().parse().ok()
                    });
                    return Ok(Reply {
                        status,
                        body: vec![],
                        size,
                        commit,
                        error_code: None,
                        validators: Validators::default(),
                    });
                }
                429 => {
                    // Seconds only; an HTTP date falls back to the backoff.
                    let wait = header("retry-after").and_then(|v| v.trim().parse::<f64>().ok());
                    let wait = wait.filter(|w| w.is_finite() && *w >= 0.0);
                    return Err(Fail::Again(format!("HTTP {status} from the server"), wait));
                }
                401 | 403 => {
                    let how = if self
                        .token
                        .as_ref()
                        .is_some_and(|(_, o)| *o == origin_of(&uri))
                    {
                        "the token given (HF_TOKEN, or the file at HF_TOKEN_PATH) cannot read it"
                    } else {
                        "set HF_TOKEN (or a token file at HF_TOKEN_PATH, default $HF_HOME/token) to a token that can read it"
                    };
                    return Err(Fail::Stop(Error::Denied(format!(
                        "{label}: HTTP {status}: the repository is gated or private (or does not exist): {how}"
                    ))));
                }
                500..=599 => {
                    return Err(Fail::Again(format!("HTTP {status} from the server"), None))
                }
                _ => {
                    return Err(Fail::Stop(Error::Network(format!(
                        "{label}: HTTP {status} from {}",
                        uri.host().unwrap_or("the server")
                    ))))
                }
            }
            let validators = Validators {
                etag: header("etag"),
                last_modified: header("last-modified"),
            };
            let ranged = status == 206;
            let size = if ranged {
                let cr = header("content-range").unwrap_or_default();
                let (first, total) = content_range(&cr).ok_or_else(|| {
                    Fail::Stop(Error::Network(format!(
                        "{label}: a partial answer with Content-Range '{cr}'"
                    )))
                })?;
                if first != start {
                    return Err(Fail::Stop(Error::Network(format!(
                        "{label}: asked for bytes from {start}, got them from {first}"
                    ))));
                }
                total
            } else {
                header("content-length").and_then(|v| v.trim().parse().ok())
            };
            // What to read: the range (less what a full answer puts before it), or the file.
            let (skip, want) = match end {
                Some(e) if ranged => (0, e.saturating_sub(start)),
                Some(e) => (start, e.saturating_sub(start)),
                None => (0, cap.saturating_add(1)),
            };
            let mut body = Vec::new();
            let mut r = resp.into_body().into_reader();
            let read = std::io::copy(&mut (&mut r).take(skip), &mut std::io::sink())
                .and_then(|_| (&mut r).take(want).read_to_end(&mut body));
            read.map_err(|e| self.fail(ureq::Error::from(e), label))?;
            // Dropping the reader closes the connection: an unread rest is never streamed.
            if end.is_none() && body.len() as u64 > cap {
                return Err(Fail::Stop(Error::Network(format!(
                    "{label}: more than {cap} bytes: not a header or config a profile needs"
                ))));
            }
            return Ok(Reply {
                status,
                body,
                size,
                commit,
                error_code: None,
                validators,
            });
        }
        Err(Fail::Stop(Error::Network(format!(
            "{label}: more than {MAX_REDIRECTS} redirects"
        ))))
    }

    /// A transport error as a retryable time-out or a final network error.
    fn fail(&self, e: ureq::Error, label: &str) -> Fail {
        let timed_out = match &e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::TimedOut,
            _ => false,
        };
        if timed_out {
            Fail::Again(format!("no answer within {} s", self.timeout), None)
        } else {
            Fail::Stop(Error::Network(format!("{label}: {e}")))
        }
    }
}

/// `scheme://host[:port]` of a URL: where a token may go.
pub fn origin_of(uri: &Uri) -> String {
    format!(
        "{}://{}",
        uri.scheme_str().unwrap_or(""),
        uri.authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .unwrap_or_default()
    )
}

/// The target of a redirect's `Location` from `base`, as RFC 3986 (5.2) resolves a
/// reference: an absolute URL, `//host/path` (the base's scheme), `/path` (the base's
/// origin), or a path relative to the base's folder (`x`, `../x`); dot segments removed, the
/// fragment dropped. `None` when the result is not an http(s) URL with a host.
pub fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    let r = location.trim();
    let r = r.split('#').next().unwrap_or("");
    let (r, query) = match r.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (r, None),
    };
    let has_scheme = r.split_once(':').is_some_and(|(s, _)| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    // The authority of a reference that names one, and the rest of it.
    let authority = |rest: &str| -> Option<(String, String)> {
        let rest = rest.strip_prefix("//")?;
        let i = rest.find('/').unwrap_or(rest.len());
        Some((rest[..i].to_string(), remove_dots(&rest[i..])))
    };
    let (scheme, auth, path, query) = if has_scheme {
        let (s, rest) = r.split_once(':')?;
        let (a, p) = authority(rest)?;
        (s.to_ascii_lowercase(), a, p, query)
    } else {
        let scheme = base.scheme_str()?.to_string();
        let base_auth = base.authority()?.as_str().to_string();
        if r.starts_with("//") {
            let (a, p) = authority(r)?;
            (scheme, a, p, query)
        } else if r.is_empty() {
            let q = query.or_else(|| base.query());
            (scheme, base_auth, base.path().to_string(), q)
        } else if r.starts_with('/') {
            (scheme, base_auth, remove_dots(r), query)
        } else {
            let bp = base.path();
            let dir = bp.rfind('/').map_or("/", |i| &bp[..=i]);
            (scheme, base_auth, remove_dots(&format!("{dir}{r}")), query)
        }
    };
    if !matches!(scheme.as_str(), "http" | "https") || auth.is_empty() {
        return None;
    }
    let path = if path.is_empty() { "/" } else { &path };
    let q = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{auth}{path}{q}").parse().ok()
}

/// A path without its `.` and `..` segments (RFC 3986, 5.2.4); `..` stops at the root.
fn remove_dots(path: &str) -> String {
    let Some(rest) = path.strip_prefix('/') else {
        return path.to_string();
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let mut out: Vec<&str> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        match *s {
            "." | ".." => {
                if *s == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// The first byte and the total size of `bytes a-b/total` (total `*`: unknown).
fn content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let first = range.split_once('-')?.0.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((first, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range("bytes 0-99/1000"), Some((0, Some(1000))));
        assert_eq!(content_range("bytes 8-9/*"), Some((8, None)));
        assert_eq!(content_range("items 0-1/2"), None);
    }

    #[test]
    fn redirects_resolve_as_rfc_3986_says() {
        let base: Uri = "https://hf.co/org/m/resolve/main/sub/config.json?x=1"
            .parse()
            .unwrap();
        let r = |l: &str| resolve(&base, l).map(|u| u.to_string());
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            r("https://cdn.hf.co/a/b?sig=2"),
            some("https://cdn.hf.co/a/b?sig=2")
        );
        assert_eq!(r("HTTP://cdn:8080/a/./b/../c"), some("http://cdn:8080/a/c"));
        assert_eq!(r("//cdn.hf.co/a"), some("https://cdn.hf.co/a"));
        assert_eq!(r("//cdn.hf.co"), some("https://cdn.hf.co/"));
        assert_eq!(r("/api/x?y"), some("https://hf.co/api/x?y"));
        assert_eq!(r("/a/../../b"), some("https://hf.co/b"));
        assert_eq!(
            r("other.json"),
            some("https://hf.co/org/m/resolve/main/sub/other.json")
        );
        assert_eq!(
            r("../abc/config.json"),
            some("https://hf.co/org/m/resolve/main/abc/config.json")
        );
        assert_eq!(
            r("../../abc/./c#frag"),
            some("https://hf.co/org/m/resolve/abc/c")
        );
        assert_eq!(r("./"), some("https://hf.co/org/m/resolve/main/sub/"));
        assert_eq!(
            r("?z=2"),
            some("https://hf.co/org/m/resolve/main/sub/config.json?z=2")
        );
        assert_eq!(
            r(""),
            some("https://hf.co/org/m/resolve/main/sub/config.json?x=1")
        );
        for bad in [
            "ftp://h/x",
            "file:///etc/passwd",
            "https:no-authority",
            "http://",
            "a b",
        ] {
            assert_eq!(r(bad), None, "{bad}");
        }
        assert_eq!(remove_dots("/a/b/c/./../../g"), "/a/g");
        assert_eq!(remove_dots("/a/b/.."), "/a/");
        assert_eq!(remove_dots("/a//b"), "/a//b");
    }

    #[test]
    fn origins_compare_host_and_port() {
        let o = |s: &str| origin_of(&s.parse().unwrap());
        assert_eq!(o("http://127.0.0.1:80/a/b"), "http://127.0.0.1:80");
        assert_ne!(o("http://127.0.0.1:81/a"), o("http://127.0.0.1:80/a"));
        assert_eq!(o("https://HF.co/x"), "https://hf.co");
    }
}
