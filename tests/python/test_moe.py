"""Active and total parameters by role (``Profile.param_breakdown``; docs/counting.md, "Active
and total parameters") of Hugging Face models built on the meta device from their published
configs (no download, no memory). Each expected number is derived by hand below from the
config, then compared with the published rounded figures.
"""

from __future__ import annotations

import pytest

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed")
tr = requires("transformers", "transformers is not installed")

# https://huggingface.co/mistralai/Mixtral-8x7B-v0.1/blob/main/config.json
MIXTRAL_8X7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=14336,
                    num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                    num_local_experts=8, num_experts_per_tok=2, tie_word_embeddings=False)

# https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json (the main model: the
# checkpoint's one multi-token-prediction layer, num_nextn_predict_layers, is not built by
# transformers and is not in the published 671B)
DEEPSEEK_V3 = dict(vocab_size=129280, hidden_size=7168, intermediate_size=18432,
                   moe_intermediate_size=2048, num_hidden_layers=61, first_k_dense_replace=3,
                   num_attention_heads=128, num_key_value_heads=128, n_shared_experts=1,
                   n_routed_experts=256, num_experts_per_tok=8, n_group=8, topk_group=4,
                   routed_scaling_factor=2.5, norm_topk_prob=True, q_lora_rank=1536,
                   kv_lora_rank=512, qk_rope_head_dim=64, qk_nope_head_dim=128, v_head_dim=128,
                   tie_word_embeddings=False)


def on_meta(cls, config):
    with torch.device("meta"):
        return cls(config).eval()


def profile(model):
    return flopscope.profile(model, dict(input_ids=torch.zeros(1, 8, dtype=torch.long)))


def mixtral_by_hand(c: dict) -> dict:
    d, f, n, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    e, k = c["num_local_experts"], c["num_experts_per_tok"]
    hd = d // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    b = dict(
        embeddings=v * d,                        # embed_tokens
        head=v * d,                              # lm_head, untied
        attention=n * (d * q + 2 * d * kv + q * d),  # q, k, v, o projections, no bias
        norms=n * 2 * d + d,                     # two RMSNorms per layer + the final one
        dense_mlp=0,
        router=n * e * d,                        # block_sparse_moe.gate: d → E
        shared_experts=0,
        routed_experts=n * e * 3 * d * f,        # w1, w3: d → f; w2: f → d
        other=0, experts=e, experts_per_token=k)
    b["total"] = sum(b[r] for r in ROLES)
    b["active"] = b["total"] - b["routed_experts"] * (e - k) // e
    return b


def deepseek_by_hand(c: dict) -> dict:
    d, n, v = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
    dense, moe = c["first_k_dense_replace"], c["num_hidden_layers"] - c["first_k_dense_replace"]
    h, e, k = c["num_attention_heads"], c["n_routed_experts"], c["num_experts_per_tok"]
    ql, kvl, rope = c["q_lora_rank"], c["kv_lora_rank"], c["qk_rope_head_dim"]
    nope, vd = c["qk_nope_head_dim"], c["v_head_dim"]
    # Multi-head latent attention: q down d → q_lora and up to h·(nope + rope); kv down to
    # kv_lora + rope (the shared rotary key), up kv_lora → h·(nope + v); o h·v → d.
    attention = d * ql + ql * h * (nope + rope) + d * (kvl + rope) + kvl * h * (nope + vd) \
        + h * vd * d
    expert = 3 * d * c["moe_intermediate_size"]  # gate, up: d → f; down: f → d
    b = dict(
        embeddings=v * d, head=v * d,
        attention=n * attention,
        norms=n * (2 * d + ql + kvl) + d,        # + q_a_layernorm, kv_a_layernorm per layer
        dense_mlp=dense * 3 * d * c["intermediate_size"],
        router=moe * e * d,                      # mlp.gate: d → E (its score bias is a buffer)
        shared_experts=moe * c["n_shared_experts"] * expert,
        routed_experts=moe * e * expert,
        other=0, experts=e, experts_per_token=k)
    b["total"] = sum(b[r] for r in ROLES)
    b["active"] = b["total"] - b["routed_experts"] * (e - k) // e
    return b


ROLES = ("embeddings", "head", "attention", "norms", "dense_mlp", "router", "shared_experts",
         "routed_experts", "other")


def test_mixtral_8x7b_total_and_active():
    model = on_meta(tr.MixtralForCausalLM, tr.MixtralConfig(**MIXTRAL_8X7B))
    b = profile(model).param_breakdown
    want = mixtral_by_hand(MIXTRAL_8X7B)
    assert b == want
    assert (want["total"], want["active"]) == (46_702_792_704, 12_879_925_248)
    assert b["total"] == sum(p.numel() for p in model.parameters())
    # Mistral (https://mistral.ai/news/mixtral-of-experts): "46.7B total parameters but only
    # uses 12.9B parameters per token" (embeddings and head in).
    assert (round(b["total"] / 1e9, 1), round(b["active"] / 1e9, 1)) == (46.7, 12.9)


def test_deepseek_v3_total_and_active():
    model = on_meta(tr.DeepseekV3ForCausalLM, tr.DeepseekV3Config(**DEEPSEEK_V3))
    b = profile(model).param_breakdown
    want = deepseek_by_hand(DEEPSEEK_V3)
    assert b == want
    assert (want["total"], want["active"]) == (671_026_404_352, 37_552_282_624)
    assert b["total"] == sum(p.numel() for p in model.parameters())
    # DeepSeek-V3 technical report (arXiv:2412.19437): "671B total parameters with 37B
    # activated for each token". 671.03B; active 37.55B with the embeddings and head in,
    # 36.63B with the input embedding out: "37B" either truncated or rounded.
    assert round(b["total"] / 1e9) == 671
    assert int(b["active"] / 1e9) == 37
    assert round((b["active"] - b["embeddings"]) / 1e9) == 37


def test_a_dense_model_with_a_tied_head_is_all_active():
    # GPT-2's head is its token embedding: counted once, under embeddings (wte + wpe).
    c = tr.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=100, n_positions=32)
    b = profile(on_meta(tr.GPT2LMHeadModel, c)).param_breakdown
    d = 64
    assert (b["embeddings"], b["head"]) == (100 * d + 32 * d, 0)
    # Per block: c_attn d → 3d and c_proj d → d with biases; c_fc d → 4d, c_proj 4d → d.
    assert b["attention"] == 2 * (d * 3 * d + 3 * d + d * d + d)
    assert b["dense_mlp"] == 2 * (d * 4 * d + 4 * d + 4 * d * d + d)
    assert b["norms"] == 2 * 2 * 2 * d + 2 * d  # ln_1, ln_2 (weight, bias) + ln_f
    assert (b["experts"], b["active"]) == (1, b["total"])


def test_a_module_that_is_not_a_hugging_face_model_has_none():
    p = flopscope.profile(torch.nn.Linear(4, 4), torch.zeros(1, 4))
    assert p.param_breakdown is None
    assert "param_breakdown" not in p.to_dict()
