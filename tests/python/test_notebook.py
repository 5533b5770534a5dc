"""The example notebook runs, and what Jupyter would show of a profile renders offline.

`examples/profile.ipynb` is executed headlessly with nbclient; the HTML output of its profile
cell is put in a page and opened in headless Chromium (tests/browser/check_fragment.mjs, the
same set-up as the report tests) with the network off. Expected numbers are ResNet-18's from
tests/data/models/reference.json.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_profile import RESNET18_MACS, RESNET18_PARAMS, ROOT, requires

BROWSER = ROOT / "tests" / "browser"


def browser_or_skip() -> None:
    have = (
        shutil.which("node") is not None
        and Path("/usr/bin/chromium").exists()
        and (BROWSER / "node_modules" / "playwright-core").is_dir()
    )
    if have:
        return
    why = "needs Node.js, Chromium and playwright-core (scripts/test-deps.sh installs them)"
    if os.environ.get("FLOPSCOPE_ALL_TESTS"):
        pytest.fail(why + " and FLOPSCOPE_ALL_TESTS is set")
    pytest.skip(why)


def test_example_notebook_runs_and_its_view_renders_offline(tmp_path):
    nbformat = requires("nbformat", "reads the example notebook")
    nbclient = requires("nbclient", "executes the example notebook")
    browser_or_skip()
    nb = nbformat.read(ROOT / "examples" / "profile.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT / "examples")}},
    )
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    html = next(o["data"]["text/html"] for o in code[0].outputs if "text/html" in o.get("data", {}))
    printed = "".join(o.get("text", "") for o in code[1].outputs)
    assert f"{RESNET18_PARAMS:,} parameters, {RESNET18_MACS:,} MACs" in printed

    page = tmp_path / "notebook-output.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>flopscope notebook output"
        f"</title></head><body>{html}</body></html>",
        encoding="utf-8",
    )
    shot = tmp_path / "notebook-output.png"
    out = subprocess.run(
        ["node", "check_fragment.mjs", str(page), str(shot)],
        cwd=BROWSER,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["errors"] == [] and seen["requests"] == [], seen
    cards = {c["text"].split(" ")[0]: c for c in seen["cards"]}
    # 11,680,872 is 11.68 M and 1,814,073,344 is 1.814 G: three significant digits each.
    assert cards["Parameters"]["text"] == "Parameters 11.7M", seen["cards"]
    assert cards["MACs"]["text"] == "MACs 1.81G", seen["cards"]
    assert f"{RESNET18_PARAMS:,}" in cards["Parameters"]["title"]
    assert f"{RESNET18_MACS:,}" in cards["MACs"]["title"]
    # The ten heaviest layers, as bars and as table rows.
    assert seen["svg_bars"] == 10 and seen["rows"] == 10, seen
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
