"""The explain tables of docs/conventions.md: each model under every convention, from
flopscope alone (no tool runs; tests/python/test_conventions_tools.py checks the conventions
against the tools themselves).

- ViT-B/16 (torchvision) at batch 1 under torch.no_grad(), in eval mode: the fused
  nn.MultiheadAttention path the tools meet.
- Llama-3-8B's architecture from its config, on the meta device, at 2,048 tokens (SDPA).
- Parameters of Mixtral 8×7B and DeepSeek-V3 (configs as tests/python/test_moe.py), on the
  meta device, under each convention, beside the exact active and total counts.

    python3 bench/conventions_explain.py > bench/results/conventions_explain.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torchvision
import transformers as tr

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))
import flopscope  # noqa: E402
from test_moe import DEEPSEEK_V3, MIXTRAL_8X7B  # noqa: E402

# https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json
LLAMA3_8B = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                 num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                 max_position_embeddings=8192, rope_theta=500000.0, tie_word_embeddings=False)


def meta(cls, config, impl="sdpa"):
    config._attn_implementation = impl
    with torch.device("meta"):
        return cls(config).eval()


def main() -> None:
    vit = torchvision.models.vit_b_16().eval()
    with torch.no_grad():
        p = flopscope.profile(vit, torch.randn(1, 3, 224, 224))
    print("## ViT-B/16, batch 1, eval, torch.no_grad()\n")
    print(p.explain().markdown)
    llama = meta(tr.LlamaForCausalLM, tr.LlamaConfig(**LLAMA3_8B))
    with torch.no_grad():
        p = flopscope.profile(llama, dict(input_ids=torch.zeros(1, 2048, dtype=torch.long)))
    print("## Llama-3-8B from its config, 2,048 tokens, SDPA, torch.no_grad()\n")
    print(p.explain().markdown)
    print("## Parameters of mixtures of experts under each convention\n")
    names = ("exact", "thop", "fvcore", "ptflops", "torchinfo", "calflops", "deepspeed")
    print("| model | " + " | ".join(names) + " | exact active | exact active, embeddings out |")
    print("|---|" + "---|" * (len(names) + 2))
    for label, cls, cfg in (("Mixtral 8×7B", tr.MixtralForCausalLM, tr.MixtralConfig(**MIXTRAL_8X7B)),
                            ("DeepSeek-V3", tr.DeepseekV3ForCausalLM, tr.DeepseekV3Config(**DEEPSEEK_V3))):
        m = meta(cls, cfg)
        with torch.no_grad():
            p = flopscope.profile(m, dict(input_ids=torch.zeros(1, 8, dtype=torch.long)))
        e = p.explain(*names)
        b = p.param_breakdown or {}
        active = b.get("active")
        emb = b.get("embeddings") or 0
        cells = [f"{e[n].params:,}" if e[n].params is not None else "—" for n in names]
        print(f"| {label} | " + " | ".join(cells)
              + f" | {active:,} | {active - emb:,} |" if active is not None else " | — | — |")


if __name__ == "__main__":
    main()
