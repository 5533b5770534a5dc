"""flopscope.bench(resnet18) against torch.utils.benchmark's blocked_autorange on the same
model, in one run: the two medians should agree within 5% (the README of bench/ says how to
read it). Run after `pip install '.[torch]'`:  python3 bench/torch_timer.py
"""

import sys

import torch
import torch.utils.benchmark as tb
import torchvision

import flopscope

torch.manual_seed(0)
model = torchvision.models.resnet18().eval()
x = torch.randn(1, 3, 224, 224)
threads = torch.get_num_threads()

ours = flopscope.bench(model, x, backends=("torch",), warmup=10, max_time=5.0)
median_ours = ours.runs[0]["latency_ms"]["median"]

# Timer runs 1 thread unless told: give it the threads eager torch (and flopscope) use.
timer = tb.Timer("with torch.inference_mode(): model(x)",
                 globals={"torch": torch, "model": model, "x": x}, num_threads=threads)
theirs = timer.blocked_autorange(min_run_time=5.0)
median_theirs = theirs.median * 1e3

diff = (median_ours - median_theirs) / median_theirs * 100
print(f"ResNet-18, 1x3x224x224, {threads} threads, torch {torch.__version__}")
print(f"{'tool':<42} {'median ms':>10} {'runs':>6}")
print(f"{'flopscope.bench (perf_counter_ns per run)':<42} {median_ours:>10.3f} {ours.runs[0]['runs']:>6}")
print(f"{'torch.utils.benchmark blocked_autorange':<42} {median_theirs:>10.3f} {len(theirs.times):>6}")
print(f"difference: {diff:+.2f}% ({'within' if abs(diff) <= 5 else 'OUTSIDE'} 5%)")
sys.exit(0 if abs(diff) <= 5 else 1)
