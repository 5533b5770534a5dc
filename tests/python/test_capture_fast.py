"""The capture's shortcuts around FakeTensorMode (`flopscope._fakes`) change no trace.

Expected values: the same capture with both shortcuts off (every weight faked by
`FakeTensorMode.from_tensor`, every call dispatched through FakeTensorMode), which must give
the same trace document byte for byte; `FlopCounterMode`'s own count of a real forward pass;
the number of calls a stack of identical layers repeats, counted by hand.
"""

from __future__ import annotations

import pytest

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn

from flopscope import _capture, _fakes  # noqa: E402 — after the torch check


def trace(model, args, training=False) -> bytes:
    return _capture.trace(model, args, {}, "m", fake=True, training=training)


def plain_trace(model, args, monkeypatch, training=False) -> bytes:
    """The trace FakeTensorMode alone gives: no weight built directly, no call replayed."""
    with monkeypatch.context() as m:
        m.setattr(_fakes, "_plain", lambda t: False)
        m.setattr(_fakes.Memo, "call", lambda self, func, args, kwargs: func(*args, **kwargs))
        return trace(model, args, training)


class Tricky(nn.Module):
    """Views, in-place and in-place view changes, list and tuple outputs, a constant made in
    forward, a 0-d integer buffer read with `.item()`, a buffer viewing a parameter, a tied
    weight."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 10, bias=False)
        self.head.weight = self.emb.weight  # tied: one storage, one parameter
        self.register_buffer("steps", torch.tensor(3))
        self.register_buffer("row", self.emb.weight.detach()[0])  # a view of the parameter
        self.norm = nn.BatchNorm1d(8)

    def forward(self, idx):
        x = self.emb(idx)  # [2, 5, 8]
        x = x + self.row + torch.zeros(8)  # a factory call: its result must not be detached
        n = int(self.steps.item())
        a, b = x.split([n, 5 - n], dim=1)
        x = torch.cat([b, a], dim=1).clone()
        x.transpose_(1, 2)  # in-place change of x's own shape
        x = self.norm(x).transpose(1, 2)
        v, i = x.max(dim=-1)
        x.add_(v.unsqueeze(-1)).relu_()
        scale = torch.tensor([0.5, 2.0])[1]  # a fake tensor that keeps its value
        return self.head(x * scale), torch.arange(x.shape[1]).float().sum() + i.sum()


def models() -> list:
    tv = requires("torchvision", "torchvision is not installed")
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2, enable_nested_tensor=False)
    return [
        ("resnet18 eval", tv.models.resnet18().eval(), (torch.randn(1, 3, 64, 64),), False),
        ("resnet18 step", tv.models.resnet18().train(), (torch.randn(2, 3, 64, 64),), True),
        ("mobilenet_v2 eval", tv.models.mobilenet_v2().eval(), (torch.randn(1, 3, 64, 64),), False),
        ("encoder eval", encoder.eval(), (torch.randn(2, 7, 32),), False),
        ("encoder step", encoder.train(), (torch.randn(2, 7, 32),), True),
        ("tricky eval", Tricky().eval(), (torch.randint(0, 10, (2, 5)),), False),
        ("tricky step", Tricky().train(), (torch.randint(0, 10, (2, 5)),), True),
    ]


@pytest.mark.parametrize("case", range(7))
def test_the_shortcuts_give_fake_tensor_modes_trace_byte_for_byte(case, monkeypatch):
    label, model, args, training = models()[case]
    with torch.no_grad() if not training else torch.enable_grad():
        want = plain_trace(model, args, monkeypatch, training)
        got = trace(model, args, training)
    assert got == want, label


def test_a_model_on_the_meta_device_gets_the_same_trace(monkeypatch):
    with torch.device("meta"):
        m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 8, 3))
    x = torch.empty(1, 3, 16, 16, device="meta")
    assert trace(m.eval(), (x,)) == plain_trace(m.eval(), (x,), monkeypatch)


def test_repeated_layers_are_answered_from_the_memo(monkeypatch):
    # Four identical Linear+ReLU layers: the second to the fourth call addmm and relu on
    # arguments with the same metadata as the first's, so at least 2 × 3 calls are replayed.
    layers = 4
    m = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.ReLU()) for _ in range(layers)])
    made = []
    real_make = _fakes.Memo._make
    monkeypatch.setattr(_fakes.Memo, "_make", lambda self, o, t: made.append(o) or real_make(self, o, t))
    with torch.no_grad():
        p = flopscope.profile(m, torch.randn(2, 16))
    assert len(made) >= 2 * (layers - 1)
    assert p.macs == layers * 2 * 16 * 16


def test_a_callers_dispatch_mode_still_sees_every_call():
    # FlopCounterMode around profile(): the calls the capture makes on fake tensors pass
    # through it (no call answered from the memo skips it), so it counts what it counts on
    # a real forward pass of the same model.
    from torch.utils.flop_counter import FlopCounterMode

    m = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.ReLU()) for _ in range(4)])
    x = torch.randn(2, 16)
    with torch.no_grad(), FlopCounterMode(display=False) as real:
        m(x)
    with torch.no_grad(), FlopCounterMode(display=False) as around:
        flopscope.profile(m, x)
    assert real.get_total_flops() == 4 * 2 * 2 * 16 * 16
    assert around.get_total_flops() == real.get_total_flops()
