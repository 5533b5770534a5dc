"""Operators of stock libraries that once had no rule in a trace, recorded from real modules:
`torch.nn.utils.parametrizations.weight_norm` (`aten._weight_norm_interface`), torchvision's
`roi_align` and `nms`, a mixture-of-experts routing `scatter_`, and `nonzero`. Each count is
worked out in the test from the operator's kernel and the rule in docs/counting.md.
"""

from __future__ import annotations

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn


def numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_weight_normed_linear_counts_its_norm_and_scale():
    model = nn.utils.parametrizations.weight_norm(nn.Linear(16, 8)).eval()
    with torch.no_grad():
        p = flopscope.profile(model, torch.randn(2, 16))
    assert p.unsupported == [], p.unsupported
    # Parameters: g [8, 1] + v [8, 16] + bias [8] = 8 + 128 + 8 = 144 = sum(numel).
    assert p.params == numel(model) == 144
    # Linear: 2 rows · 16 in · 8 out = 256 MACs.
    assert p.macs == 256
    # Weight norm, w = v · (g / ‖v‖₂) with the norm over dim 1 (one per output row):
    #   ‖v‖₂: a square and an add per element of v, a square root per row: 2·128 + 8 = 264;
    #   g / norm: 8; v · scale: 128. Together 400.
    # Linear: 2·256 products + 2·8 bias additions = 528.
    assert p.flops == 400 + 528


def test_roi_align_counts_its_bilinear_samples():
    tv = requires("torchvision", "torchvision is not installed")

    class Pool(nn.Module):
        def forward(self, x, boxes):
            return tv.ops.roi_align(x, boxes, output_size=7, spatial_scale=0.25,
                                    sampling_ratio=2, aligned=True)

    x = torch.randn(2, 4, 16, 16)
    boxes = torch.tensor([[0, 0.0, 0.0, 40.0, 40.0], [1, 8.0, 8.0, 60.0, 30.0],
                          [1, 0.0, 0.0, 64.0, 64.0]])
    p = flopscope.profile(Pool(), (x, boxes))
    assert p.unsupported == [], p.unsupported
    # torchvision's kernel averages sampling_ratio² = 4 bilinear samples per bin: each
    # interpolated (9 FLOPs, ONNX RoiAlign's convention) and added (1), then one division.
    # Bins: K·C·ph·pw = 3·4·7·7 = 588. FLOPs = 588·(4·10 + 1) = 24,108.
    assert (p.macs, p.flops) == (0, 24_108)


def test_nms_counts_the_iou_tests_of_the_boxes_it_kept():
    tv = requires("torchvision", "torchvision is not installed")

    class Suppress(nn.Module):
        def forward(self, boxes, scores):
            return tv.ops.nms(boxes, scores, 0.5)

    # Boxes 0 and 1 (the best scores) are disjoint; 2 and 3 each overlap box 1 alone.
    boxes = torch.tensor([[0.0, 0, 10, 10], [100, 100, 110, 110], [101, 101, 111, 111],
                          [99, 99, 109, 109]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    p = flopscope.profile(Suppress(), (boxes, scores))
    assert p.unsupported == [], p.unsupported
    # The kernel keeps box 0 and tests it against 1, 2, 3 (none overlaps it: 3 tests), keeps
    # box 1 and tests it against 2 and 3 (2 tests, both suppressed): K = 2 kept, 5 tests,
    # K·(2N − K − 1)/2 = 2·5/2 with N = 4. At 11 FLOPs per IoU test: 55.
    assert tv.ops.nms(boxes, scores, 0.5).tolist() == [0, 1]
    assert (p.macs, p.flops) == (0, 55)
    # nms needs the scores' values: the capture said it ran on real tensors.
    assert any("real tensors" in w for w in p.warnings), p.warnings


def test_moe_routing_scatter_and_nonzero_move_data():
    class Route(nn.Module):
        def forward(self, scores):
            w, idx = scores.topk(2, dim=-1)
            dense = torch.zeros_like(scores).scatter_(1, idx, w)
            return dense, (dense > 0).nonzero()

    p = flopscope.profile(Route(), torch.randn(4, 8))
    assert p.unsupported == [], p.unsupported
    # topk: ONNX TopK, 1 per input element: 32. zeros_like, scatter_, nonzero: data
    # movement, 0. The comparison > 0: 1 per element: 32.
    assert (p.macs, p.flops) == (0, 64)


def test_deepseek_v3_routing_from_its_config_has_every_operator_counted():
    transformers = requires("transformers", "transformers is not installed")
    # DeepSeek-V3's router writes each token's top-k gates into a zero tensor with
    # `scatter_`: a write, 0 FLOPs, and no longer an operator without a rule.
    cfg = transformers.DeepseekV3Config(
        vocab_size=128, hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
        num_hidden_layers=2, first_k_dense_replace=1, num_attention_heads=4,
        num_key_value_heads=4, n_routed_experts=8, num_experts_per_tok=2, n_group=2,
        topk_group=1, q_lora_rank=32, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8,
        v_head_dim=16, max_position_embeddings=64)
    with torch.device("meta"):
        model = transformers.DeepseekV3ForCausalLM(cfg).eval()
    ids = torch.zeros(1, 16, dtype=torch.long, device="meta")
    p = flopscope.profile(model, dict(input_ids=ids))
    assert p.unsupported == [], p.unsupported
    assert p.params == numel(model)
