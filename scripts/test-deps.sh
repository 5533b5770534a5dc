#!/bin/sh
# Installs what the tests need beyond the Rust toolchain, on a fresh Debian machine:
# ONNX Runtime, numpy, torch and the FLOP-counting tools (PyPI, pinned), Chromium (Debian's
# package; the report test drives it) and playwright-core (npm, pinned in
# tests/browser/package-lock.json; it downloads no browser).
set -eu
cd "$(dirname "$0")/.."
# DeepSpeed (a source package) would otherwise try to compile its CUDA/C++ ops; the tests use
# only its flops profiler, which is Python.
DS_BUILD_OPS=0 python3 -m pip install --quiet -r scripts/requirements-test.txt
if [ ! -x /usr/bin/chromium ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)
