"""A training step of a torch module: `flopscope.profile(module, inputs, training=True)`.

The backward pass is recorded as autograd runs it (docs/training-python.md). Expected values
are independent of flopscope: hand counts from the layer shapes (every product's backward is
two products of its size, the input gradient and the weight gradient, except the gradients
nothing needs), torchvision's forward figures, `torch.utils.flop_counter.FlopCounterMode` on a
real step, and the bytes autograd saves worked out from what each operator keeps.
"""

from __future__ import annotations

import pytest

import flopscope
from test_profile import requires

torch = requires("torch", "torch is not installed: pip install '.[torch]'")
nn = torch.nn
F = torch.nn.functional


def numel(model, trainable_only=False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def conv_macs(n, cout, hw_out, cin, k):
    """Conv MACs: every output element (n·cout·hw_out²) sums cin·k² products."""
    return n * cout * hw_out * hw_out * cin * k * k


def tv_model(arch):
    tv = requires("torchvision", "torchvision is not installed")
    return tv.models.get_model(arch)


# --- torchvision: backward = 2 × forward − the input gradients nothing needs -------------

# The first convolution's input gradient at batch 2, 224×224: the image needs none.
RESNET_CONV1 = conv_macs(2, 64, 112, 3, 7)  # 236,027,904
MOBILENET_CONV1 = conv_macs(2, 32, 112, 3, 3)  # 21,676,032
VIT_PATCHES = conv_macs(2, 768, 14, 3, 16)  # 231,211,008


@pytest.mark.parametrize(
    "arch, forward, first",
    [
        # Forward: torchvision's _ops (1.814 / 4.089 / 0.301 / 17.564 GMACs at batch 1) exactly,
        # twice: the exact batch-1 counts 1,814,073,344 and 4,089,184,256 (reference.json),
        # 300,774,272, and 17,563,828,224 (test_torch.py).
        ("resnet18", 2 * 1_814_073_344, RESNET_CONV1),
        ("resnet50", 2 * 4_089_184_256, RESNET_CONV1),
        ("mobilenet_v2", 2 * 300_774_272, MOBILENET_CONV1),
        # ViT-B/16 with grad enabled runs addmm + SDPA: per layer the attention's forward
        # products are QKᵀ and PV (scores·(dk + dv)); its backward kernel (flash attention,
        # which keeps no probabilities) computes QKᵀ again, then four, dV = PᵀdO,
        # dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀQ, twice the forward's as for a Linear. The patch
        # embedding (a 16×16 stride-16 conv) needs no input gradient.
        ("vit_b_16", 2 * 17_563_828_224, VIT_PATCHES),
    ],
)
def test_torchvision_backward_is_twice_the_forward_less_the_first_input_gradient(
        arch, forward, first):
    model = tv_model(arch)
    p = flopscope.profile(model, input_shape=(2, 3, 224, 224), training=True)
    t = p.training
    assert p.unsupported == []
    assert t.forward_macs == forward
    # ViT's recomputed scores: 12 layers × B·H·L·L·dk = 12 · 2·12·197·197 · 64.
    recomputed = 12 * 2 * 12 * 197 * 197 * 64 if arch == "vit_b_16" else 0
    assert t.backward_macs == 2 * forward - first + recomputed
    assert t.macs == t.forward_macs + t.backward_macs
    assert (p.macs, p.flops) == (t.forward_macs, t.forward_flops)  # the totals: the forward
    # The layers are the recorded step's, forward and backward nodes.
    assert sum(lay.macs for lay in p.layers) == t.macs
    assert (t.trainable_params, t.frozen_params) == (numel(model), 0)


def test_resnet18_and_mobilenet_v2_exact_figures():
    # The figures, written out.
    p = flopscope.profile(tv_model("resnet18"), input_shape=(2, 3, 224, 224), training=True)
    assert p.training.forward_macs == 3_628_146_688
    assert p.training.backward_macs == 2 * 3_628_146_688 - 236_027_904 == 7_020_265_472
    p = flopscope.profile(tv_model("mobilenet_v2"), input_shape=(2, 3, 224, 224),
                          training=True)
    assert p.training.backward_macs == 1_181_421_056


def flop_counter_step(model, x):
    """FlopCounterMode's FLOPs (2 per MAC, products only) of a real forward and of the
    backward of its sum, each halved to MACs."""
    from torch.utils.flop_counter import FlopCounterMode

    forward, backward = FlopCounterMode(display=False), FlopCounterMode(display=False)
    with forward:
        out = model(x)
    with backward:
        out.sum().backward()
    model.zero_grad(set_to_none=True)
    return forward.get_total_flops() // 2, backward.get_total_flops() // 2


def test_flop_counter_mode_agrees_on_resnet18():
    model = tv_model("resnet18")
    x = torch.randn(2, 3, 224, 224)
    theirs = flop_counter_step(model, x)
    p = flopscope.profile(model, x, training=True)
    # It counts 2 FLOPs per product MAC, forward and backward, with the same output_mask.
    assert theirs == (p.training.forward_macs, p.training.backward_macs)
    assert sum(theirs) == 10_648_412_160


def test_flop_counter_mode_overcounts_depthwise_backward_on_mobilenet_v2():
    model = tv_model("mobilenet_v2")
    x = torch.randn(2, 3, 224, 224)
    forward, backward = flop_counter_step(model, x)
    p = flopscope.profile(model, x, training=True)
    # FlopCounterMode's forward is right, but its convolution_backward formula drops the
    # groups of a depthwise conv's weight gradient: each 3×3 depthwise backward is counted as
    # if every output channel read every input channel. Its backward reads 9.9× ours.
    assert forward == p.training.forward_macs == 601_548_544
    assert backward == 11_678_152_448
    assert p.training.backward_macs == 1_181_421_056
    assert 9 * p.training.backward_macs < backward < 10 * p.training.backward_macs


# --- frozen layers, no_grad regions: only the gradients something needs --------------------


def test_resnet18_with_its_first_half_frozen():
    model = tv_model("resnet18")
    for m in (model.conv1, model.bn1, model.layer1, model.layer2):
        m.requires_grad_(False)
    p = flopscope.profile(model, input_shape=(2, 3, 224, 224), training=True)
    t = p.training
    # layer3 at batch 2: [2,128,28,28] → [2,256,14,14]. Block 0: conv1 3×3 128→256 stride 2,
    # conv2 3×3 256→256, downsample 1×1 128→256; block 1: two 3×3 256→256. layer4 likewise
    # to [2,512,7,7] (the same 822,083,584 MACs: channels double as positions quarter).
    layer3 = (conv_macs(2, 256, 14, 128, 3) + 3 * conv_macs(2, 256, 14, 256, 3)
              + conv_macs(2, 256, 14, 128, 1))
    layer4 = (conv_macs(2, 512, 7, 256, 3) + 3 * conv_macs(2, 512, 7, 512, 3)
              + conv_macs(2, 512, 7, 256, 1))
    fc = 2 * 512 * 1000
    assert layer3 == layer4 == 822_083_584
    assert t.forward_macs == 3_628_146_688
    # Trained: layer3, layer4, fc — both gradients each, except the input gradients of the
    # two convs that read layer2's output (layer3.0.conv1 and its downsample): nothing
    # before them is trained. conv1, layer1 and layer2 have no backward at all.
    first_trained = conv_macs(2, 256, 14, 128, 3) + conv_macs(2, 256, 14, 128, 1)
    assert t.backward_macs == 2 * (layer3 + layer4 + fc) - first_trained == 3_161_931_776
    frozen = sum(p.numel() for m in (model.conv1, model.bn1, model.layer1, model.layer2)
                 for p in m.parameters())
    assert (t.frozen_params, t.trainable_params) == (frozen, numel(model) - frozen)
    # Gradients and Adam's moments for the trained parameters only (fp32: 4 and 8 bytes).
    assert t.memory.gradients_bytes == 4 * t.trainable_params
    assert t.memory.optimizer_bytes == 8 * t.trainable_params
    # No backward node is attributed to a frozen module.
    for layer in p.layers:
        if layer.op == "convolution_backward":
            assert layer.scope[0] in ("layer3", "layer4"), layer.scope


class Mlp(nn.Module):
    def __init__(self, d=32, h=64, o=10, stem_no_grad=False):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, h), nn.Linear(h, o)
        self.stem_no_grad = stem_no_grad

    def forward(self, x):
        with torch.set_grad_enabled(not self.stem_no_grad and torch.is_grad_enabled()):
            y = F.relu(self.fc1(x))
        return self.fc2(y)


B, D, H, O = 8, 32, 64, 10


def test_a_no_grad_region_has_no_backward():
    p = flopscope.profile(Mlp(stem_no_grad=True), torch.randn(B, D), training=True)
    t = p.training
    assert t.forward_macs == B * D * H + B * H * O
    # Only fc2's weight gradient: fc1 ran under no_grad, so fc2's input needs none.
    assert t.backward_macs == B * H * O
    # Saved: only fc2's input (the ReLU output under no_grad is a plain tensor now).
    assert t.memory.activations_bytes == 4 * B * H


def test_saved_activations_and_adam_state_of_a_tiny_mlp():
    model = Mlp()
    p = flopscope.profile(model, torch.randn(B, D), training=True, optimizer="adamw")
    t = p.training
    params = D * H + H + H * O + O
    assert t.trainable_params == params == numel(model)
    # Adam/AdamW, fp32: 4 bytes of weight, 4 of gradient, 8 of moments per parameter.
    m = t.memory
    assert (m.weights_bytes, m.gradients_bytes, m.optimizer_bytes) == (
        4 * params, 4 * params, 8 * params)
    # Autograd keeps: fc1's input x [B, D] (for fc1's weight gradient), the ReLU output
    # [B, H] (for ReLU's gradient, and the same storage as fc2's input for fc2's weight
    # gradient). The weights are parameters, not activations; the loss's sum keeps nothing.
    assert m.activations_bytes == 4 * (B * D + B * H)
    assert m.peak_bytes == 16 * params + m.activations_bytes
    # Backward: fc2's two gradients, fc1's weight gradient (x needs none).
    assert t.backward_macs == 2 * B * H * O + B * D * H
    # FLOPs: products twice, the bias gradients (sums over the batch, B·O and B·H), the ReLU
    # gradient B·H; the optimizer 14 per parameter for Adam.
    assert t.backward_flops == 2 * t.backward_macs + B * O + B * H + B * H
    assert t.optimizer_flops == 14 * params
    assert t.flops == t.forward_flops + t.backward_flops + t.optimizer_flops


def test_the_saved_bytes_match_torchs_own_hooks_on_a_real_step():
    # The same hooks, on a real step, by hand: every saved tensor's storage once, parameters
    # left out.
    model = Mlp()
    x = torch.randn(B, D)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in weights:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    p = flopscope.profile(model, x, training=True)
    assert p.training.memory.activations_bytes == sum(seen.values()) == 4 * (B * D + B * H)


def test_options_and_errors():
    model = Mlp()
    x = torch.randn(B, D)
    p = flopscope.profile(model, x, training=True, optimizer="sgd", precision="bf16-mixed")
    t = p.training
    n = numel(model)
    # bf16-mixed: 2-byte weights and gradients, an fp32 master copy (4) and no SGD state.
    assert (t.memory.weights_bytes, t.memory.gradients_bytes, t.memory.optimizer_bytes) == (
        2 * n, 2 * n, 4 * n)
    assert (t.optimizer, t.precision, t.recompute) == ("sgd", "bf16-mixed", "none")
    assert p.to_dict()["training"] == t.to_dict()
    assert flopscope.profile(model, x).training is None
    with pytest.raises(flopscope.UsageError, match="sgd-momentum"):
        flopscope.profile(model, x, training=True, optimizer="lamb")
    with pytest.raises(flopscope.UsageError, match="fp16-mixed"):
        flopscope.profile(model, x, training=True, precision="fp8")
    with pytest.raises(flopscope.UsageError, match="torch.utils.checkpoint"):
        flopscope.profile(model, x, training=True, recompute="full")
    frozen = Mlp().requires_grad_(False)
    with pytest.raises(flopscope.CaptureError, match="requires grad"):
        flopscope.profile(frozen, x, training=True)


def test_a_loss_function_and_the_model_left_untouched():
    model = nn.Sequential(nn.Linear(D, H), nn.Dropout(0.1), nn.ReLU(), nn.Linear(H, O))
    model.train()
    x, y = torch.randn(B, D), torch.randint(0, O, (B,))
    with torch.no_grad():  # the caller's grad mode does not matter: a step needs gradients
        p = flopscope.profile(model, x, training=True,
                              loss_fn=lambda out: F.cross_entropy(out, y))
    assert p.unsupported == []
    assert all(q.grad is None for q in model.parameters())  # no .grad written
    assert model.training
    t = p.training
    assert t.backward_macs == 2 * B * H * O + B * D * H
    # Cross-entropy: log_softmax over [B, O] (5 per element) and the picked value per row.
    plain = flopscope.profile(model, x, training=True)
    assert t.forward_flops - plain.training.forward_flops == 5 * B * O + B - B * O
    # A module in eval mode: recorded so, with a note.
    model.eval()
    p = flopscope.profile(model, x, training=True)
    assert any("eval mode" in w for w in p.warnings)


def test_the_totals_are_the_forward_for_a_module_as_for_a_file():
    # One meaning for Profile.macs/.flops with training=True: the forward pass (and its loss);
    # the step is in Profile.training. Mlp(32 → 64 → 10) on [8, 32].
    model, x = Mlp(), torch.randn(B, D)
    step, forward = flopscope.profile(model, x, training=True), flopscope.profile(model, x)
    t = step.training
    assert step.macs == t.forward_macs == forward.macs == B * D * H + B * H * O
    # The forward FLOPs are the inference pass's plus the loss, out.sum(): one per output.
    assert step.flops == t.forward_flops == forward.flops + B * O
    assert sum(r.macs for r in step.by_op_type()) == step.macs  # per operator type: forward
    assert sum(lay.macs for lay in step.layers) == t.forward_macs + t.backward_macs
    # A file's training profile: the totals are its forward pass too.
    fp, ff = flopscope.profile("resnet18", training=True), flopscope.profile("resnet18")
    assert (fp.macs, fp.flops) == (ff.macs, ff.flops) == (fp.training.forward_macs,
                                                          fp.training.forward_flops)


# --- a BERT from its config --------------------------------------------------------------

T, HB, I, V = 16, 128, 256, 1000


def test_bert_from_config_backward_is_twice_the_forward():
    tr = requires("transformers", "transformers is not installed")
    cfg = tr.BertConfig(num_hidden_layers=2, hidden_size=HB, num_attention_heads=4,
                        intermediate_size=I, vocab_size=V)
    model = tr.BertModel(cfg)  # train mode: dropout runs, and is differentiated
    ids = torch.randint(0, V, (2, T))
    p = flopscope.profile(model, dict(input_ids=ids), training=True)
    assert p.unsupported == []
    # Per layer and sequence: Q, K, V, O projections 4·T·H·H; scores and weighted sum
    # T·T·2H over the heads; FFN 2·T·H·I. The pooler: H·H on the first token. Batch 2.
    per_seq = 2 * (4 * T * HB * HB + T * T * 2 * HB + 2 * T * HB * I) + HB * HB
    forward = 2 * per_seq
    assert p.training.forward_macs == forward
    # The loss sums both outputs (last_hidden_state and pooler_output). Every product needs
    # both gradients: the first layer's input gradient flows into the trained embeddings,
    # and the attention backward's four products are twice its forward's two.
    assert p.training.backward_macs == 2 * forward
    assert p.training.trainable_params == numel(model)


def test_the_csv_has_each_pass_and_adds_up_to_the_step():
    import csv
    import io

    model = Mlp()
    p = flopscope.profile(model, torch.randn(B, D), training=True)
    rows = list(csv.DictReader(io.StringIO(p.render("csv"))))
    by_pass = {}
    for r in rows:
        macs, flops = by_pass.get(r["pass"], (0, 0))
        by_pass[r["pass"]] = (macs + int(r["macs"] or 0), flops + int(r["flops"] or 0))
    params = D * H + H + H * O + O
    # Forward: fc1 and fc2's products; backward: fc2's two gradients and fc1's weight
    # gradient (x needs none), as in test_saved_activations_and_adam_state_of_a_tiny_mlp;
    # Adam: 14 FLOPs per parameter, on one `optimizer` row.
    assert by_pass["forward"][0] == B * D * H + B * H * O
    assert by_pass["backward"][0] == 2 * B * H * O + B * D * H
    assert by_pass["optimizer"] == (0, 14 * params)
    t = p.training
    assert by_pass["forward"][1] == t.forward_flops
    assert by_pass["backward"][1] == t.backward_flops
    assert sum(f for _, f in by_pass.values()) == t.flops
    # Without a training step the CSV keeps its columns.
    assert "pass" not in flopscope.profile(model, torch.randn(B, D)).render("csv").splitlines()[0]


def test_the_csv_of_a_file_step_has_one_derived_backward_row():
    import csv
    import io

    p = flopscope.profile("resnet18", training=True, optimizer="sgd")
    rows = list(csv.DictReader(io.StringIO(p.render("csv"))))
    back = [r for r in rows if r["pass"] == "backward"]
    assert len(back) == 1 and int(back[0]["macs"]) == p.training.backward_macs
    # The forward rows are resnet18's layers: 1,814,073,344 MACs (reference.json).
    assert sum(int(r["macs"] or 0) for r in rows if r["pass"] == "forward") == 1_814_073_344
    opt = [r for r in rows if r["pass"] == "optimizer"]
    assert [(r["name"], r["op"], int(r["flops"])) for r in opt] == [
        ("optimizer", "sgd", 2 * 11_689_512)]
