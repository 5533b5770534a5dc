"""The analysis runs without the GIL: while one thread is inside a long flopscope call, another
Python thread keeps running.

A thread spins, stamping the time, while the main thread makes one call on a graph of 100,000
nodes (0.17 s to 2.6 s here, idle or loaded). Were the GIL held for the call, the spinner could not run
inside it: its stamps would stop for the whole call. Released, the spinner runs on the other
core, and its longest pause is the interpreter's switch interval (5 ms) plus scheduling noise.
"""

from __future__ import annotations

import threading
import time

import pytest

import flopscope
from test_profile import requires

onnx = requires("onnx", "onnx is not installed")

NODES = 100_000


@pytest.fixture(scope="module")
def chain() -> bytes:
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(NODES)]
    g = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, ["n", 64])],
        [helper.make_tensor_value_info(f"t{NODES}", TensorProto.FLOAT, ["n", 64])])
    return helper.make_model(g).SerializeToString()


def longest_pause_inside(call) -> tuple[float, float]:
    """(how long `call()` took, the spinner's longest pause while it ran)."""
    stamps: list[float] = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            stamps.append(time.perf_counter())

    t = threading.Thread(target=spin)
    t.start()
    time.sleep(0.05)  # the spinner is running before the call starts
    t0 = time.perf_counter()
    call()
    t1 = time.perf_counter()
    stop.set()
    t.join()
    inside = [t0, *[s for s in stamps if t0 < s < t1], t1]
    return t1 - t0, max(b - a for a, b in zip(inside, inside[1:]))


# Not `to_dict()`: it builds Python objects, which needs the GIL (a held GIL does show here:
# json.loads of a 100,000-layer document stops the spinner for seconds).
@pytest.mark.parametrize("what", ["profile", "formula fit", "report page", "csv"])
def test_another_thread_runs_during_a_long_analysis(chain, what, tmp_path):
    p = flopscope.profile(chain, dims={"n": 1}) if what != "profile" else None
    calls = {
        "profile": lambda: flopscope.profile(chain, dims={"n": 1}),
        # `n` unbound: the totals are fitted as formulas in n from analyses at several sizes.
        "formula fit": lambda: flopscope.profile(chain),
        "report page": lambda: flopscope.report(p, tmp_path / "r.html"),
        "csv": lambda: p.render("csv"),
    }
    # A held GIL stops the spinner for the whole call, every time; a busy machine may pause it
    # now and then for tens of milliseconds: three tries, one clean one suffices.
    seen = []
    for _ in range(3):
        took, pause = longest_pause_inside(calls[what])
        # Long enough for a held GIL to show (20 switch intervals): else this proves nothing.
        assert took > 0.1, f"{what} took {took:.3f} s: make the graph larger"
        seen.append(f"{pause:.3f} s of {took:.3f} s")
        if pause < took / 2:
            break
    else:
        raise AssertionError(f"the other thread stood still during {what} ({seen}): the GIL "
                             "was held")


def test_a_call_that_holds_the_gil_is_caught(chain):
    # The control: json.loads (C code that keeps the GIL) of the 100,000-layer document stops
    # the spinner for the whole parse, so the check above can fail.
    text = flopscope.profile(chain, dims={"n": 1})._raw.json()
    import json

    took, pause = longest_pause_inside(lambda: json.loads(text))
    assert took > 0.1
    assert pause > took / 2, f"{pause:.3f} s of {took:.3f} s"
