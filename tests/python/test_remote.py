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


def send_range(handler, body: bytes, headers=()):
    """Answers `handler`'s GET of `body`: 206 with the asked range, or 200 with all of it;
    returns the number of body bytes sent (after `headers` are added)."""
    lo, hi = 0, len(body) - 1
    rng = handler.headers.get("Range")
    if rng:
        a, b = rng.removeprefix("bytes=").split("-")
        lo, hi = int(a), min(int(b), len(body) - 1)
        handler.send_response(206)
        handler.send_header("Content-Range", f"bytes {lo}-{hi}/{len(body)}")
    else:
        handler.send_response(200)
    chunk = body[lo:hi + 1]
    handler.send_header("Content-Length", str(len(chunk)))
    for k, v in headers:
        handler.send_header(k, v)
    handler.end_headers()
    handler.wfile.write(chunk)
    return len(chunk)


def range_len(rng, size: int) -> int:
    """How many bytes a `Range: bytes=a-b` header (or none) asks of a body of `size`."""
    if not rng:
        return size
    a, b = rng.removeprefix("bytes=").split("-")
    return min(int(b), size - 1) - int(a) + 1


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
            sent.append(send_range(self, body))

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


def gemm_onnx(path) -> int:
    """Two 1024×1024 float32 Gemm layers with their weights embedded (8 MiB, past the 4 MiB
    under which a model is read whole); the file's size."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = []
    for i in (1, 2):
        inits.append(numpy_helper.from_array(
            rng.standard_normal((1024, 1024)).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(np.zeros(1024, np.float32), f"b{i}"))
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1024])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path.stat().st_size


def serve_files(files: dict):
    """A server of `files` (name → bytes) with Range support and an ETag; (url, stop, log)
    where log holds (path as requested, body bytes sent)."""
    log = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- the http.server API
            name = self.path.split("?")[0].rsplit("/", 1)[-1]
            body = files.get(name)
            # Logged before answering: the client may go on as soon as it has the answer.
            if body is None:
                log.append((self.path, 0))
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            etag = f'"{len(body)}"'
            if self.headers.get("If-None-Match") == etag:
                log.append((self.path, 0))
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            # Logged before the body goes out: the client may go on as soon as it has it.
            n = min(len(body), range_len(self.headers.get("Range"), len(body)))
            log.append((self.path, n))
            send_range(self, body, [("ETag", etag)])

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{srv.server_port}", srv.shutdown, log


def test_a_remote_onnx_file_is_read_without_its_weights_and_hides_its_signature(
        tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    monkeypatch.setenv("FLOPSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FLOPSCOPE_HTTP_RETRIES", "0")
    f = tmp_path / "m.onnx"
    size = gemm_onnx(f)
    url, stop, log = serve_files({"m.onnx": f.read_bytes()})
    query = "?X-Amz-Signature=SECRETSIG"
    try:
        remote = flopscope.profile(f"{url}/bucket/m.onnx{query}")
        sent = sum(n for _, n in log)
        with pytest.raises(FileNotFoundError) as missing:
            flopscope.profile(f"{url}/bucket/none.onnx{query}")
        # Cached by its ETag: one conditional request, answered 304 with no body.
        before = len(log)
        again = flopscope.profile(f"{url}/bucket/m.onnx{query}")
        assert [n for _, n in log[before:]] == [0]
    finally:
        stop()
    local = flopscope.profile(str(f)).to_dict()
    # 2 × (1024·1024 + 1024) parameters and as many multiply-accumulates, at batch 1.
    assert remote.params == 2 * (1024 * 1024 + 1024) == local["totals"]["params"]
    d = remote.to_dict()
    assert d["model"]["source"] == f"{url}/bucket/m.onnx"
    assert again.to_dict() == d
    for x in (d, local):
        x["model"].pop("source")
    assert d == local
    # At most: the first 64 KiB read, every byte that is not one of the two 4 MiB weights (the
    # graph and the 4 KiB biases, which are jumped over or read through), and a window of up
    # to 8 KiB after each of the four payloads jumped over. The weights were never sent.
    weights = 2 * 1024 * 1024 * 4
    assert sent <= 65_536 + (size - weights) + 4 * 8_192 < weights // 50, (sent, size)
    # The signature went to the server, and nowhere else.
    assert all(p.endswith(query) for p, _ in log), log
    shown = [str(missing.value), json.dumps(d), remote.render("table"), remote.render("html"),
             repr(remote)]
    assert not any("SECRET" in s for s in shown)
    for p in (tmp_path / "cache").rglob("*"):
        assert "SECRET" not in str(p)
        if p.is_file():
            assert b"SECRET" not in p.read_bytes()
