"""How a torch module is captured: concurrent profiling, and the example input `input_shape=`
makes (the model's dtype and device).

Expected values: the same profiles taken one after the other (threads), `numel` times the
bytes of the dtype (bf16), hand counts of a Linear's MACs.
"""

from __future__ import annotations

import threading

import pytest

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn


# --- several threads profiling at once ------------------------------------------------------


def global_flags() -> tuple:
    """The process-wide switches the capture turns off while it traces."""
    return (torch.backends.mha.get_fastpath_enabled(), torch._C._get_mkldnn_enabled(),
            torch._C._get_cudnn_enabled())


def module_state(model) -> dict:
    """Everything of a module a capture could leave altered."""
    return {
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grad": [p.grad is None for p in model.parameters()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()],
        "tensors": {k: v.clone() for k, v in model.state_dict().items()},
    }


def assert_same_state(before: dict, after: dict) -> None:
    for key in ("training", "requires_grad", "grad", "hooks"):
        assert before[key] == after[key], key
    assert before["tensors"].keys() == after["tensors"].keys()
    for k, v in before["tensors"].items():
        assert torch.equal(v, after["tensors"][k]), k


def summary(p) -> tuple:
    """What must not depend on what other threads do: the totals, every layer (its module
    scope included) and the training step."""
    layers = tuple((lay.name, lay.op, lay.scope, lay.params, lay.macs, lay.flops)
                   for lay in p.layers)
    t = p.training
    step = None if t is None else (t.forward_macs, t.backward_macs, t.forward_flops,
                                   t.backward_flops, t.memory.activations_bytes)
    return p.params, p.macs, p.flops, p.activation_bytes, layers, step


def jobs() -> list:
    """(label, model, profile arguments): different modules, in training and in eval."""
    tv = requires("torchvision", "torchvision is not installed")
    resnet = tv.models.resnet18()
    resnet.train()  # BatchNorm would move its statistics on a real pass
    resnet.layer1[0].conv1.weight.requires_grad_(False)
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2, enable_nested_tensor=False)
    encoder.eval()  # the fast path the capture switches off
    lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
    mlp = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    return [
        ("resnet18 step", resnet, dict(input_shape=(2, 3, 64, 64), training=True)),
        ("encoder eval", encoder, dict(inputs=torch.randn(2, 7, 32))),
        ("lstm step", lstm, dict(inputs=torch.randn(3, 6, 16), training=True)),
        ("lstm eval", lstm, dict(inputs=torch.randn(3, 6, 16))),
        ("mlp step", mlp, dict(inputs=torch.randn(8, 32), training=True)),
        ("resnet18 eval", resnet, dict(input_shape=(1, 3, 64, 64))),
    ]


def test_threads_profiling_at_once_get_the_sequential_results():
    work = jobs()
    flags = global_flags()
    states = {id(m): module_state(m) for _, m, _ in work}
    alone = {label: summary(flopscope.profile(m, **kw)) for label, m, kw in work}
    assert global_flags() == flags

    rounds = 2
    results: dict = {}
    errors: list = []
    start = threading.Barrier(len(work))

    def run(label, model, kw):
        try:
            start.wait()
            for i in range(rounds):
                results[label, i] = summary(flopscope.profile(model, **kw))
        except Exception as e:  # reported below, with its label
            errors.append((label, repr(e)))

    threads = [threading.Thread(target=run, args=job) for job in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for (label, i), got in results.items():
        assert got == alone[label], (label, i)
    assert len(results) == rounds * len(work)
    # Nothing left altered: the switches, and every module (two threads shared the ResNet and
    # the LSTM).
    assert global_flags() == flags
    for _, m, _ in work:
        assert_same_state(states[id(m)], module_state(m))


def test_another_threads_forward_passes_do_not_enter_a_trace():
    # A thread that runs modules of its own (a real forward pass) while a trace is taken: the
    # trace's global hooks must not give its layers that thread's module names.
    mlp = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    x = torch.randn(8, 32)
    alone = summary(flopscope.profile(mlp, x))
    other = nn.Sequential(*[nn.Linear(16, 16) for _ in range(4)])
    stop = threading.Event()

    def busy():
        with torch.no_grad():
            while not stop.is_set():
                other(torch.randn(2, 16))

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(20):
            assert summary(flopscope.profile(mlp, x)) == alone
    finally:
        stop.set()
        t.join()


# --- input_shape: the model's dtype and device ----------------------------------------------


def test_input_shape_is_in_the_models_dtype():
    # A bf16 Linear(64, 32) on [4, 64]: the output 4·32 elements of 2 bytes, the input 4·64.
    m = nn.Linear(64, 32).to(torch.bfloat16)
    p = flopscope.profile(m, input_shape=(4, 64))
    assert p.to_dict()["inputs"][0]["dtype"] == "bfloat16"
    assert p.activation_bytes == 2 * 4 * 32
    assert p.peak_activation_bytes == 2 * (4 * 64 + 4 * 32)


class Scale(nn.Module):
    """No parameters, one bf16 buffer: the dtype comes from the buffer."""

    def __init__(self):
        super().__init__()
        self.register_buffer("s", torch.ones(8, dtype=torch.bfloat16))

    def forward(self, x):
        return x * self.s


def test_input_shape_takes_the_dtype_of_a_buffer_when_there_is_no_parameter():
    p = flopscope.profile(Scale(), input_shape=(4, 8))
    assert p.to_dict()["inputs"][0]["dtype"] == "bfloat16"
    # x · s in bf16: 4·8 elements of 2 bytes, 1 FLOP each (a float32 input would have
    # promoted the product to 4-byte elements).
    assert (p.activation_bytes, p.flops) == (2 * 4 * 8, 4 * 8)


def test_input_shape_is_on_the_models_device():
    # A model whose parameters are CUDA tensors (fake ones: this runs without a GPU): the input
    # must be a CUDA tensor too, or addmm refuses to mix devices.
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True):
        m = nn.Linear(8, 4, device="cuda")
    assert m.weight.device.type == "cuda"
    p = flopscope.profile(m, input_shape=(2, 8))
    assert p.macs == 2 * 8 * 4
    assert p.params == 8 * 4 + 4


def test_a_model_on_the_meta_device_is_traced_on_the_cpu():
    with torch.device("meta"):
        m = nn.Linear(8, 4)
    from flopscope._capture import home_device

    assert home_device(m) == torch.device("cpu")
    assert flopscope.profile(m, input_shape=(2, 8)).macs == 2 * 8 * 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_model_with_input_shape():
    m = nn.Linear(64, 32).cuda().to(torch.bfloat16)
    p = flopscope.profile(m, input_shape=(4, 64))
    assert p.macs == 4 * 64 * 32
    assert p.activation_bytes == 2 * 4 * 32
