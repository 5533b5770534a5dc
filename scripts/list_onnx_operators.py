"""Writes tests/data/onnx/operators.txt: every operator the installed onnx package defines
(all opsets), as `domain name since-versions`, for the core test that each has a rule.

    python3 scripts/list_onnx_operators.py
"""

import collections
import os

import onnx

versions = collections.defaultdict(set)
for s in onnx.defs.get_all_schemas_with_history():
    versions[(s.domain or "ai.onnx", s.name)].add(s.since_version)
out = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx", "operators.txt")
with open(out, "w") as f:
    f.write(f"# onnx {onnx.__version__}: domain, operator, the opsets where its definition changed\n")
    for (domain, name), vs in sorted(versions.items()):
        f.write(f"{domain} {name} {','.join(map(str, sorted(vs)))}\n")
print(f"{len(versions)} operators written to {os.path.normpath(out)}")
