//! Profiles a model where it lives: a Hugging Face Hub repository (`hf:ORG/NAME[@REV][/PATH]`)
//! or an `http(s)://` URL of a `.safetensors`, `*.safetensors.index.json`, `.gguf` or `.onnx`
//! file. Only headers and configs are fetched, with HTTP range requests; the core analyses
//! them exactly as it analyses local files ([`flopscope_core::llm::profile_fetched`]), so a
//! remote checkpoint's profile equals the local one. The core itself never touches the
//! network: this crate is the only one that does (docs/remote.md).

use flopscope_core::{Error, Options, Profile, Source};

mod cache;
mod fetch;
mod http;
mod onnx;

use fetch::{Got, Place, Target};

/// The Hub when `HF_ENDPOINT` is not set.
const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Whether a command-line model argument names a remote model (and no local file).
pub fn is_remote(spec: &str) -> bool {
    (spec.starts_with("hf:") || spec.starts_with("http://") || spec.starts_with("https://"))
        && !std::path::Path::new(spec).exists()
}

/// What a model argument is shown as, in every output and error: a URL without its query
/// (a pre-signed URL's signature), fragment and user information (`user:password@`); the
/// request alone carries them. Anything else is shown as it is.
pub fn redact(spec: &str) -> String {
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_string();
    };
    if !["http", "https"].contains(&scheme.to_ascii_lowercase().as_str()) {
        return spec.to_string();
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

/// `e` with every copy of `secret` (a URL's query or user information) taken out of its
/// text: a last guard, should a message quote a URL.
fn scrub(e: Error, secret: &str) -> Error {
    if secret.is_empty() {
        return e;
    }
    let s = |t: String| t.replace(secret, "");
    match e {
        Error::Io { path, source } => Error::Io {
            path: s(path.display().to_string()).into(),
            source: std::io::Error::new(source.kind(), s(source.to_string())),
        },
        Error::Malformed { path, what, reason } => Error::Malformed {
            path: s(path.display().to_string()).into(),
            what,
            reason: s(reason),
        },
        Error::Invalid(m) => Error::Invalid(s(m)),
        Error::Usage(m) => Error::Usage(s(m)),
        Error::Network(m) => Error::Network(s(m)),
        Error::Denied(m) => Error::Denied(s(m)),
        other => other,
    }
}

/// The parts of a URL that [`redact`] hides, as a message quoting the URL would hold them:
/// its query with its `?`, its user information with its `@` (never a bare word, which
/// could be in any message).
fn secrets(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, rest)) = spec.split_once("://") {
        let rest = rest.split('#').next().unwrap_or("");
        if let Some((_, q)) = rest.split_once('?').filter(|(_, q)| !q.is_empty()) {
            out.push(format!("?{q}"));
        }
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((user, _)) = authority.rsplit_once('@') {
            out.push(format!("{user}@"));
        }
    }
    out
}

/// A full commit hash, as the Hub gives it.
pub(crate) fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A Hub source, parsed.
#[derive(Debug, PartialEq)]
struct HubSpec {
    repo: String,
    revision: String,
    path: Option<String>,
}

fn parse_hub(spec: &str) -> Result<HubSpec, Error> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "{spec}: {why} (expected hf:ORG/NAME, hf:ORG/NAME@REVISION or hf:ORG/NAME[@REVISION]/PATH)"
        ))
    };
    let rest = spec
        .strip_prefix("hf://")
        .or_else(|| spec.strip_prefix("hf:"))
        .unwrap_or(spec);
    let mut parts = rest.splitn(3, '/');
    let org = parts.next().unwrap_or("");
    let name_rev = parts.next().ok_or_else(|| bad("no repository name"))?;
    let (name, revision) = match name_rev.split_once('@') {
        Some((n, r)) => (n, r),
        None => (name_rev, "main"),
    };
    let ok_name = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if !ok_name(org) || !ok_name(name) {
        return Err(bad(
            "an organisation or name with characters other than letters, digits, '.', '_', '-'",
        ));
    }
    // A revision with a `/` (refs/pr/1) is written percent-encoded: refs%2Fpr%2F1.
    if revision.is_empty()
        || !revision
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b))
    {
        return Err(bad(
            "a revision with characters other than letters, digits, '.', '_', '-', '%'",
        ));
    }
    // `..` (or `%2F..`) would climb out of `resolve/` on the server and out of the cache.
    let decoded = fetch::decode(revision).ok_or_else(|| bad("a revision with a bad %-escape"))?;
    if decoded
        .split('/')
        .any(|s| s.is_empty() || s.bytes().all(|b| b == b'.'))
        || decoded.contains('\\')
    {
        return Err(bad(
            "a revision that is, or has a part that is, empty or all dots",
        ));
    }
    let path = parts.next().filter(|p| !p.is_empty());
    if let Some(p) = path {
        if p.split('/').any(|s| s.is_empty() || s == "." || s == "..")
            || p.contains(['\\', '?', '#'])
        {
            return Err(bad("a path with an empty, '.' or '..' part"));
        }
    }
    Ok(HubSpec {
        repo: format!("{org}/{name}"),
        revision: revision.to_string(),
        path: path.map(str::to_string),
    })
}

/// The Hub's token: `HF_TOKEN` (or `HUGGING_FACE_HUB_TOKEN`), else the file at `HF_TOKEN_PATH`
/// (default `$HF_HOME/token`, `HF_HOME` defaulting to `~/.cache/huggingface`).
fn token() -> Option<String> {
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if let Some(t) = var("HF_TOKEN").or_else(|| var("HUGGING_FACE_HUB_TOKEN")) {
        return Some(t);
    }
    let path = var("HF_TOKEN_PATH")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let home = var("HF_HOME").map(std::path::PathBuf::from).or_else(|| {
                var("XDG_CACHE_HOME")
                    .map(std::path::PathBuf::from)
                    .or_else(|| var("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
                    .map(|c| c.join("huggingface"))
            })?;
            Some(home.join("token"))
        })?;
    let t = std::fs::read_to_string(path).ok()?;
    Some(t.trim().to_string()).filter(|t| !t.is_empty())
}

fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .map(|e| e.trim().trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
}

/// Profiles a remote model; `note` receives what the person should know but is not part of
/// the profile (a cached copy used because the server could not be reached). The profile and
/// every error name a URL as [`redact`] shows it.
pub fn profile(spec: &str, opts: &Options, note: &mut dyn FnMut(String)) -> Result<Profile, Error> {
    if spec.starts_with("hf:") {
        return profile_hub(spec, opts, note);
    }
    let secrets = secrets(spec);
    let hide = |mut t: String| {
        for s in &secrets {
            t = t.replace(s.as_str(), "");
        }
        t
    };
    profile_url(spec, opts, &mut |w| note(hide(w))).map_err(|mut e| {
        for s in &secrets {
            e = scrub(e, s);
        }
        e
    })
}

fn profile_url(spec: &str, opts: &Options, note: &mut dyn FnMut(String)) -> Result<Profile, Error> {
    let shown = redact(spec);
    let u = split_url(spec)?;
    let target = Target::of(&u.file)?;
    let cache = cache::UrlCache::new(&redact(&u.folder));
    // A cached entry's profile; `None` when damaged (it is then fetched again).
    let from_cache = |got: &Got| match finish(got, &shown, opts) {
        Err(e) if damaged(&e) => None,
        r => Some(r),
    };
    let entry = cache.as_ref().and_then(|c| c.load(&u.file));
    if offline() {
        return match entry.as_ref().and_then(|(got, _)| from_cache(got)) {
            Some(p) => p,
            None => Err(Error::Network(format!(
                "{shown}: HF_HUB_OFFLINE is set and this URL is not in the cache (or its entry there is damaged)"
            ))),
        };
    }
    let ep = endpoint();
    let http = http::Http::new(token(), &origin(&ep)?)?;
    let label = format!("{}/{}", redact(&u.folder), u.file);
    if let Some((got, v)) = &entry {
        // One byte, asked for only if the file changed: a 304 says the cached copy holds.
        match http.get_if(&u.url, (0, Some(1)), 0, &label, Some(v)) {
            Ok(r) if r.status == 304 => {
                if let Some(p) = from_cache(got) {
                    return p;
                }
            }
            Ok(_) => {}
            Err(Error::Network(why)) => {
                if let Some(p) = from_cache(got) {
                    note(format!("{why}; using the cached copy"));
                    return p;
                }
                return Err(Error::Network(why));
            }
            Err(e) => return Err(e),
        }
    }
    let place = Place {
        http: &http,
        base: format!("{}/", u.folder),
        label: redact(&u.folder),
        hub: false,
        exact: Some((u.file.clone(), u.url.clone())),
        seen: Default::default(),
    };
    let got = place.fetch(&target, None)?;
    let profile = finish(&got, &shown, opts);
    if let (Ok(_), Some(c), Ok(v)) = (&profile, &cache, place.seen.lock()) {
        c.store(&u.file, &got, &v);
    }
    profile
}

/// A URL source, taken apart.
#[derive(Debug, PartialEq)]
struct UrlSpec {
    /// The URL up to its last `/` in the path, without it: where `config.json` and shards are.
    folder: String,
    /// The file's name, percent-decoded, from the path only (not the query).
    file: String,
    /// The URL to fetch the file at: as given, query included (a pre-signed URL's signature),
    /// fragment dropped.
    url: String,
}

fn split_url(spec: &str) -> Result<UrlSpec, Error> {
    let bad = |why: &str| Error::Usage(format!("{}: {why}", redact(spec)));
    let url = spec.split('#').next().unwrap_or(spec);
    let path = url.split('?').next().unwrap_or(url);
    let (folder, file) = path
        .rsplit_once('/')
        .filter(|(b, _)| b.matches('/').count() >= 2)
        .ok_or_else(|| bad("no file name in the URL"))?;
    let file = fetch::decode(file).ok_or_else(|| bad("a file name with a bad %-escape"))?;
    if file.contains(['/', '\\']) {
        return Err(bad("a file name with an escaped '/' or '\\'"));
    }
    Ok(UrlSpec {
        folder: folder.to_string(),
        file,
        url: url.to_string(),
    })
}

fn origin(url: &str) -> Result<String, Error> {
    let uri = url
        .parse()
        .map_err(|e| Error::Usage(format!("HF_ENDPOINT={url}: not a URL: {e}")))?;
    Ok(http::origin_of(&uri))
}

/// The profile of what was fetched; `name` is what it calls the model.
fn finish(got: &Got, name: &str, opts: &Options) -> Result<Profile, Error> {
    match got {
        Got::Checkpoint(f, _) => flopscope_core::llm::profile_fetched(f, name, opts),
        Got::Onnx(skeleton) => flopscope_core::profile(&Source::Skeleton { skeleton, name }, opts),
    }
}

/// Whether a profile failed on the pieces themselves (they no longer parse), not on the
/// options: a cached entry that fails so is damaged and fetched again.
fn damaged(e: &Error) -> bool {
    matches!(e, Error::Malformed { .. } | Error::Invalid(_))
}

fn profile_hub(spec: &str, opts: &Options, note: &mut dyn FnMut(String)) -> Result<Profile, Error> {
    let h = parse_hub(spec)?;
    let target = match &h.path {
        Some(p) => Target::of(p)?,
        None => Target::Repo,
    };
    let key = h.path.as_deref().unwrap_or("");
    let ep = endpoint();
    let host = ep.split_once("://").map_or(ep.as_str(), |(_, h)| h);
    let cache = cache::RepoCache::new(host, &h.repo);
    // The profile of a cached entry; `None` when there is none or it is damaged (a truncated
    // or edited file), which is then fetched again and rewritten.
    let cached = |commit: &str| -> Option<Result<Profile, Error>> {
        let got = cache.as_ref()?.load(commit, key)?;
        match finish(&got, spec, opts) {
            Err(e) if damaged(&e) => None,
            r => Some(r),
        }
    };
    let label = |rev: &str| format!("hf:{}@{rev}", h.repo);
    // A commit, or a branch while offline: the cache alone when it has it.
    let known = if is_commit(&h.revision) {
        Some(h.revision.clone())
    } else if offline() {
        cache.as_ref().and_then(|c| c.commit_of(&h.revision))
    } else {
        None
    };
    if let Some(p) = known.as_deref().and_then(cached) {
        return p;
    }
    if offline() {
        return Err(Error::Network(format!(
            "{spec}: HF_HUB_OFFLINE is set and this revision is not in the cache (or its entry there is damaged)"
        )));
    }
    let http = http::Http::new(token(), &origin(&ep)?)?;
    let url = |rev: &str, file: &str| {
        format!("{ep}/{}/resolve/{rev}/{}", h.repo, fetch::encode_path(file))
    };
    // The first read tells the commit the revision names now.
    let (first, whole) = target.first_file();
    let range = if whole { (0, None) } else { (0, Some(1)) };
    let first_label = format!("{}/{first}", label(&h.revision));
    let reply = match http.get(
        &url(&h.revision, first),
        range,
        fetch::JSON_CAP,
        &first_label,
    ) {
        Ok(r) => r,
        Err(Error::Network(why)) => {
            // The server is gone: the commit this revision named last time, if cached.
            let c = cache.as_ref().and_then(|c| c.commit_of(&h.revision));
            return match c.as_deref().and_then(|c| cached(c).map(|p| (c, p))) {
                Some((c, p)) => {
                    note(format!("{why}; using the cached {} = {c}", h.revision));
                    p
                }
                None => Err(Error::Network(why)),
            };
        }
        Err(e) => return Err(e),
    };
    let commit = reply.commit.clone().filter(|c| is_commit(c));
    if let (Some(c), Some(cache)) = (&commit, &cache) {
        cache.set_commit(&h.revision, c);
        if let Some(p) = cached(c) {
            return p;
        }
    }
    let at = commit.clone().unwrap_or_else(|| h.revision.clone());
    let place = Place {
        http: &http,
        base: format!("{ep}/{}/resolve/{at}/", h.repo),
        label: label(&h.revision),
        hub: true,
        exact: None,
        seen: Default::default(),
    };
    if reply.status == 404 {
        let missing = |what: String| Error::Io {
            path: spec.into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, what),
        };
        match reply.error_code.as_deref() {
            Some("RevisionNotFound") => {
                return Err(missing(format!(
                    "no revision '{}' in {} (HTTP 404)",
                    h.revision, h.repo
                )))
            }
            Some("RepoNotFound") => {
                return Err(missing(format!("no repository {} (HTTP 404)", h.repo)))
            }
            _ if !whole => return Err(place.not_found(first, "")),
            _ => {}
        }
    }
    let config = whole.then(|| (reply.status != 404).then_some(reply.body));
    let got = place.fetch(&target, config)?;
    let profile = finish(&got, spec, opts);
    // Only what profiles is kept: a malformed file would otherwise be a damaged entry.
    if let (Ok(_), Some(c), Some(cache)) = (&profile, &commit, &cache) {
        cache.store(c, key, &got);
    }
    profile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_depends_on_no_http_crate() {
        // Direct dependencies: none of the core's others pulls in HTTP or TLS
        // (`cargo tree -p flopscope-core -e normal`, docs/architecture.md).
        let manifest = include_str!("../../flopscope-core/Cargo.toml");
        let deps = manifest.split("[dependencies]").nth(1).unwrap();
        let deps = deps.split("\n[").next().unwrap();
        for http in ["ureq", "rustls", "reqwest", "hyper", "flopscope-remote"] {
            assert!(!deps.contains(http), "flopscope-core depends on {http}");
        }
        assert!(
            deps.contains("serde_json"),
            "the [dependencies] section was not found"
        );
    }

    #[test]
    fn hub_specs() {
        let s = parse_hub("hf:meta-llama/Llama-2-7b-hf").unwrap();
        assert_eq!(
            (s.repo.as_str(), s.revision.as_str(), s.path),
            ("meta-llama/Llama-2-7b-hf", "main", None)
        );
        let s = parse_hub("hf:TheBloke/Llama-2-70B-GGUF@abc/q8/llama-2-70b.Q8_0.gguf").unwrap();
        assert_eq!(s.revision, "abc");
        assert_eq!(s.path.as_deref(), Some("q8/llama-2-70b.Q8_0.gguf"));
        for bad in [
            "hf:x",
            "hf:../y",
            "hf:a/b/../c.gguf",
            "hf:a/b@",
            "hf:a/b@x y",
            "hf:a/.b",
            "hf:a/b@.",
            "hf:a/b@..",
            "hf:a/b@...",
            "hf:a/b@refs%2F..",
            "hf:a/b@..%2Fmain",
            "hf:a/b@%2E%2E",
            "hf:a/b@refs%2F%2Fpr",
            "hf:a/b@x%2",
            "hf:a/b@x%5Cy",
        ] {
            assert!(matches!(parse_hub(bad), Err(Error::Usage(_))), "{bad}");
        }
        for good in ["v1.0", "refs%2Fpr%2F1", "a..b", ".hidden"] {
            let s = parse_hub(&format!("hf:a/b@{good}")).unwrap();
            assert_eq!(s.revision, good);
        }
        assert!(is_commit(&"a".repeat(40)) && !is_commit("main"));
    }

    #[test]
    fn urls_are_shown_without_query_fragment_or_user() {
        let signed = "https://b.s3.amazonaws.com/m/model.onnx?X-Amz-Signature=ab&X-Amz-Credential=AK%2F1#top";
        assert_eq!(redact(signed), "https://b.s3.amazonaws.com/m/model.onnx");
        assert_eq!(
            redact("HTTP://user:pw@h:8080/a/m.gguf?sig=1"),
            "HTTP://h:8080/a/m.gguf"
        );
        // An `@` in the path is not user information.
        assert_eq!(redact("https://h/a@b/m.gguf"), "https://h/a@b/m.gguf");
        assert_eq!(redact("https://h?x"), "https://h");
        for same in ["hf:org/name@main/m.onnx", "model.onnx", "ftp://h/m.onnx?x"] {
            assert_eq!(redact(same), same);
        }
        assert_eq!(
            secrets("https://u:p@h/m.onnx?sig=1#f"),
            vec!["?sig=1".to_string(), "u:p@".into()]
        );
        assert!(secrets("https://h/m.onnx").is_empty());
        let e = scrub(
            Error::Network("https://h/m.onnx?sig=1: bad uri".into()),
            "?sig=1",
        );
        assert_eq!(e.to_string(), "https://h/m.onnx: bad uri");
    }

    #[test]
    fn url_sources_keep_their_query_on_the_file() {
        let u = split_url(
            "https://b.s3.amazonaws.com/m/model.safetensors?X-Amz-Credential=AK/2024/s3&X-Amz-Signature=ab#top",
        )
        .unwrap();
        assert_eq!(
            u,
            UrlSpec {
                folder: "https://b.s3.amazonaws.com/m".into(),
                file: "model.safetensors".into(),
                url: "https://b.s3.amazonaws.com/m/model.safetensors?X-Amz-Credential=AK/2024/s3&X-Amz-Signature=ab".into(),
            }
        );
        let u = split_url("http://h/a%20b/my%20model.Q8_0.gguf").unwrap();
        assert_eq!(
            (u.folder.as_str(), u.file.as_str()),
            ("http://h/a%20b", "my model.Q8_0.gguf")
        );
        assert_eq!(u.url, "http://h/a%20b/my%20model.Q8_0.gguf");
        // The name comes from the path: a query that ends like a file does not count.
        let u = split_url("https://h/x/get?f=/y/model.gguf").unwrap();
        assert_eq!(u.file, "get");
        for bad in [
            "https://model.gguf",
            "https://h/a%2Fb.gguf",
            "https://h/a%zz.gguf",
        ] {
            assert!(matches!(split_url(bad), Err(Error::Usage(_))), "{bad}");
        }
    }
}
