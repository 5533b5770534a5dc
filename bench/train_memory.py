"""Peak memory of one training step: flopscope's estimate against what torch measures.

For each small model, one fp32 step (forward, ``out.sum()``, backward, ``Adam.step()``) runs
for real after a warm-up step, so the optimizer state exists and the gradients were freed by
``zero_grad(set_to_none=True)``, as in a training loop's steady state. Torch's own accounting
of that step is read:

- on CPU, the memory timeline of ``torch.profiler`` (``profile_memory=True``, the data behind
  ``export_memory_timeline``): every allocation and free of the step, tensors alive before it
  (weights, optimizer state, the batch) included, each tagged by category (parameter,
  optimizer state, input, activation, gradient, autograd detail, temporary, unknown). The peak
  is the largest total; it is read for the forward + backward part (``fwd+bwd``) and for the
  whole step with ``optimizer.step()`` (``step``);
- on CUDA when a GPU is present, ``torch.cuda.max_memory_allocated()`` over the same two
  parts (the caching allocator's live bytes, without its reserve).

flopscope's figure is ``flopscope.profile(model, x, training=True).training.memory``:
weights + gradients + Adam's two moments per trainable parameter + the bytes autograd saved
for backward, all held at once. The table and the reasons they differ are in
docs/training-python.md.

Run from the repository root (the compiled extension must be in python/flopscope):

    PYTHONPATH=python python3 bench/train_memory.py [--device cpu|cuda] [--markdown]
"""

from __future__ import annotations

import argparse
import warnings

import torch
from torch import nn

import flopscope


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(),
                                 nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))

    def forward(self, x):
        return self.net(x)


class SmallCnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()

        def block(i, o, s):
            return [nn.Conv2d(i, o, 3, s, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.features = nn.Sequential(*block(3, 32, 1), *block(32, 64, 2), *block(64, 128, 2),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        return self.head(self.features(x))


class TinyTransformer(nn.Module):
    def __init__(self, d=128, heads=4, layers=2, vocab=1000) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d, vocab)

    def forward(self, ids):
        return self.head(self.encoder(self.embed(ids)))


def models():
    g = torch.Generator().manual_seed(0)
    yield "MLP 784-1024-1024-10, batch 128", Mlp(), torch.randn(128, 1, 28, 28, generator=g)
    yield "CNN 3 conv+BN, 32×32, batch 64", SmallCnn(), torch.randn(64, 3, 32, 32, generator=g)
    yield ("Transformer 2×128, seq 64, batch 16", TinyTransformer(),
           torch.randint(0, 1000, (16, 64), generator=g))
    try:
        import torchvision

        yield ("ResNet-18, 112×112, batch 8", torchvision.models.resnet18(),
               torch.randn(8, 3, 112, 112, generator=g))
    except ImportError:
        pass


# Columns of the CPU memory timeline (torch.profiler._memory_profiler._CATEGORY_TO_INDEX,
# shifted by one): 0 unused, then these.
CATEGORIES = ["parameter", "optimizer", "input", "temporary", "activation", "gradient",
              "autograd", "unknown"]


def cpu_peaks(model, x, opt):
    """(peak of forward + backward, peak of the whole step, categories at the forward +
    backward peak). The timeline sees a tensor made before it started only when the step
    touches it: forward + backward never reads Adam's state, so its bytes are added."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import MemoryProfileTimeline

    def timeline(fn):
        with warnings.catch_warnings(), profile(activities=[ProfilerActivity.CPU],
                                                profile_memory=True, record_shapes=True,
                                                with_stack=True) as prof:
            warnings.simplefilter("ignore")
            fn()
        _, sizes = MemoryProfileTimeline(prof._memory_profile())._coalesce_timeline("cpu")
        best = max(sizes, key=sum)
        return sum(best), dict(zip(CATEGORIES, best[1:]))

    def fwd_bwd():
        opt.zero_grad(set_to_none=True)
        model(x).sum().backward()

    def step():
        fwd_bwd()
        opt.step()

    fb, parts = timeline(fwd_bwd)
    state = sum(t.nbytes for s in opt.state.values() for t in s.values()
                if isinstance(t, torch.Tensor))
    fb += state - parts["optimizer"]
    parts["optimizer"] = state
    opt.zero_grad(set_to_none=True)
    whole, _ = timeline(step)
    return fb, whole, parts


def cuda_peaks(model, x, opt):
    model, x = model.cuda(), x.cuda()
    opt = torch.optim.Adam(model.parameters())
    for _ in range(2):  # warm-up: the optimizer state, cuBLAS workspaces
        opt.zero_grad(set_to_none=True)
        model(x).sum().backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    model(x).sum().backward()
    torch.cuda.synchronize()
    fb = torch.cuda.max_memory_allocated()
    opt.zero_grad(set_to_none=True)
    torch.cuda.reset_peak_memory_stats()
    model(x).sum().backward()
    opt.step()
    torch.cuda.synchronize()
    return fb, torch.cuda.max_memory_allocated(), {}


def mib(b: int) -> str:
    return f"{b / 2**20:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    a = ap.parse_args()
    torch.manual_seed(0)
    head = ["model", "params", "flopscope peak", "weights", "grads", "Adam", "saved",
            f"torch fwd+bwd ({a.device})", "torch step", "torch saved*"]
    rows = []
    for name, model, x in models():
        model.train()
        p = flopscope.profile(model, x, training=True, optimizer="adam")
        m = p.training.memory
        opt = torch.optim.Adam(model.parameters())
        opt.zero_grad(set_to_none=True)
        model(x).sum().backward()  # warm-up step: Adam's state exists from here on
        opt.step()
        if a.device == "cuda":
            fb, whole, parts = cuda_peaks(model, x, opt)
        else:
            fb, whole, parts = cpu_peaks(model, x, opt)
        # What torch held at the forward + backward peak as activations for backward: its
        # activation and autograd-detail categories (the batch is an input).
        saved = parts.get("activation", 0) + parts.get("autograd", 0) if parts else None
        rows.append([name, f"{p.params:,}", mib(m.peak_bytes), mib(m.weights_bytes),
                     mib(m.gradients_bytes), mib(m.optimizer_bytes), mib(m.activations_bytes),
                     mib(fb), mib(whole), "-" if saved is None else mib(saved)])
        if parts:
            detail = ", ".join(f"{k} {mib(v)}" for k, v in parts.items() if v)
            print(f"# {name}: torch at the fwd+bwd peak (MiB): {detail}")
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print("MiB. * torch's activation + autograd-detail categories at the fwd+bwd peak (CPU).")


if __name__ == "__main__":
    main()
