"""Remote models from Python: `flopscope.profile("https://…")` reads headers only and equals
the profile of the same local file; refusals and unreachable servers are the two network
exceptions. The server is started here on 127.0.0.1 (the Hub's routes, redirects, tokens and
caching are tested against the Rust stand-in in crates/flopscope-cli/tests/cli/remote.rs)."""

from __future__ import annotations

import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import flopscope


def checkpoint(path) -> int:
    """A bf16 safetensors file: embedding [10000, 64] and head [10000, 64]; its size."""
    tensors, offset = {}, 0
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        n = 10000 * 64 * 2
        tensors[name] = {"dtype": "BF16", "shape": [10000, 64],
                         "data_offsets": [offset, offset + n]}
        offset += n
    header = json.dumps(tensors).encode()
    data = struct.pack("<Q", len(header)) + header + bytes(offset)
    path.write_bytes(data)
    return len(data)


def serve(body: bytes, status: int = 200):
    """A server of one file with Range support (or one answering `status`); (url, stop, sent)."""
    sent = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- the http.server API
            if status != 200:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if not self.path.endswith("/model.safetensors"):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            lo, hi = 0, len(body) - 1
            rng = self.headers.get("Range")
            if rng:
                a, b = rng.removeprefix("bytes=").split("-")
                lo, hi = int(a), min(int(b), len(body) - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {lo}-{hi}/{len(body)}")
            else:
                self.send_response(200)
            chunk = body[lo:hi + 1]
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            self.wfile.write(chunk)
            sent.append(len(chunk))

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}", srv.shutdown, sent


def test_a_url_profile_equals_the_local_file_and_reads_only_the_header(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOPSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    f = tmp_path / "model.safetensors"
    size = checkpoint(f)
    url, stop, sent = serve(f.read_bytes())
    try:
        remote = flopscope.profile(f"{url}/m/model.safetensors").to_dict()
    finally:
        stop()
    local = flopscope.profile(str(f)).to_dict()
    assert remote["totals"]["params"] == 2 * 10000 * 64 == local["totals"]["params"]
    for d in (remote, local):
        d["model"].pop("source")
        d["llm"].pop("files")
    assert remote == local
    # One read of the first 100,001 bytes (huggingface_hub's first range) holds the whole
    # header: the other 2.46 MB of weights stay on the server.
    assert sum(sent) <= 100_001 < size, (sum(sent), size)


def test_refusals_and_unreachable_servers_are_network_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOPSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FLOPSCOPE_HTTP_RETRIES", "0")
    url, stop, _ = serve(b"", status=401)
    try:
        with pytest.raises(flopscope.AccessDeniedError) as e:
            flopscope.profile(f"{url}/m/model.safetensors")
    finally:
        stop()
    assert isinstance(e.value, PermissionError) and isinstance(e.value, flopscope.NetworkError)
    assert "\n" not in str(e.value)
    # The server is gone now: nothing listens on its port.
    with pytest.raises(flopscope.NetworkError) as e:
        flopscope.profile(f"{url}/m/model.safetensors")
    assert isinstance(e.value, ConnectionError)
