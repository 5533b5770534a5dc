"""Conventions: a torch module counted as thop, fvcore, ptflops, torchinfo, calflops,
DeepSpeed's flops profiler or PyTorch's ``FlopCounterMode`` count it, and the table that
explains where each departs from flopscope's exact count (``docs/conventions.md``). The rules
are the Rust core's (``flopscope_core::convention``); this module only wraps the results."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

# Tools that run the forward pass under torch.no_grad() themselves (fused inference paths),
# and those that call model.eval() first.
_NO_GRAD = {"thop", "torchinfo"}
_EVAL = {"thop", "ptflops", "torchinfo", "calflops", "deepspeed"}


@dataclass(frozen=True)
class Counted:
    """A model under one convention. ``macs`` is the tool's multiply-accumulate figure
    (what thop, fvcore, ptflops and torchinfo report, whatever they call it), ``flops`` its
    FLOP figure (FlopCounterMode, calflops, DeepSpeed); a figure the tool does not have is
    ``None``. ``operators`` lists what made them, by operator family."""

    convention: str
    tool: str
    macs: Optional[int]
    flops: Optional[int]
    params: Optional[int]
    operators: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"convention": self.convention, "tool": self.tool, "macs": self.macs,
                "flops": self.flops, "params": self.params, "operators": list(self.operators),
                "notes": list(self.notes)}


class Explain:
    """One model under several conventions: ``conventions`` (each a :class:`Counted`),
    ``rows`` (operator families, each convention's figure), ``differences`` (sentences such
    as ``"fvcore misses 5.58G MACs of matmul (...)"``). ``str()`` is the table; ``markdown``
    the same as Markdown."""

    def __init__(self, doc: dict, text: str, markdown: str) -> None:
        self.conventions = [_counted(c) for c in doc["conventions"]]
        self.rows = doc["rows"]
        self.differences = doc["differences"]
        self.text = text
        self.markdown = markdown
        self._doc = doc

    def __getitem__(self, name: str) -> Counted:
        for c in self.conventions:
            if c.convention == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(self._doc))

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def _counted(c: dict) -> Counted:
    return Counted(c["convention"], c["tool"], c.get("macs"), c.get("flops"), c.get("params"),
                   c.get("operators", []), c.get("notes", []))


def check(names: Any) -> list[str]:
    """The canonical names of `names` (a name or a list of names; none: every convention),
    read by the core as ``--convention`` reads them."""
    from . import UsageError
    from . import _flopscope as _rs

    if isinstance(names, str):
        names = [names]
    if not names:
        return _rs.convention_names()
    for n in names:
        if not isinstance(n, str):
            raise UsageError(f"a convention is a name, got {n!r}")
    return _rs.convention_names(list(names))


def check_one(name: Any) -> str:
    """One convention's canonical name."""
    from . import UsageError

    got = check(name) if isinstance(name, str) and name.strip() else []
    if len(got) != 1:
        raise UsageError(f"convention= takes one convention name, got {name!r}")
    return got[0]


def explain(trace: Optional[bytes], raw: Any, names: list[str]) -> Explain:
    from . import UsageError
    from . import _flopscope as _rs

    if trace is None and any(n != "exact" for n in names):
        raise UsageError(
            "conventions other than 'exact' reproduce PyTorch tools and need a profile of a "
            "torch.nn.Module (flopscope.profile(module, inputs))")
    doc, text, md = _rs.explain(trace, names, raw)
    return Explain(json.loads(doc), text, md)


@contextlib.contextmanager
def modes(model: Any, name: str):
    """The model as tool `name` runs it: in eval mode (all but fvcore and FlopCounterMode
    call ``model.eval()``) and, for thop and torchinfo, under ``torch.no_grad()``; restored
    afterwards."""
    import torch

    was = model.training
    if name in _EVAL:
        model.eval()
    try:
        with torch.no_grad() if name in _NO_GRAD else contextlib.nullcontext():
            yield
    finally:
        model.train(was)
