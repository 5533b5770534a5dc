"""Build a broader corpus of real PyTorch ONNX exports, with independent truth.

What (all written under tests/data/extra/)
    <name>.onnx              graph-only ONNX exports (weights stripped, exactly like
                             tests/data/models) of 51 models: torchvision classifiers,
                             segmentation and video models, Hugging Face transformers
                             from small random configs, and two hand-written models
                             (unet_mini: ConvTranspose + Concat skips; matmul_zoo:
                             Einsum, broadcast and 1-D MatMul, Gemm).
    reference.json           per-model truth, the same keys as
                             tests/data/models/reference.json where they overlap
                             (onnx_params, onnx_params_float, onnx_bn_buffers,
                             truth_macs, truth_macs_by_op, inputs, exporter,
                             onnx_nodes, onnx_op_types, torch_params) plus opset,
                             producer, input_dtype, file_bytes, and a second
                             binding: inputs_b2, truth_macs_b2, truth_macs_by_op_b2
                             (or b2_error when ONNX Runtime cannot run it).
    runtime_shapes/<name>.json, <name>.b2.json
                             the shape and dtype ONNX Runtime produced for every
                             node output, in the format of tests/data/runtime_shapes.

Why
    flopscope's exact parameter counts and MACs must hold for any PyTorch export
    of a torchvision or Hugging Face model that a user brings, not only for the
    six shared reference models. This corpus gives the tests other models, both
    exporters (TorchScript and dynamo), old opsets (9, 10, 11, 13) and the dynamo
    exporter's opset 23 (Attention, RotaryEmbedding, RMSNormalization), float16
    exports, initializers listed as graph inputs, and op types the six do not have
    (BatchNormalization kept as a node, ConvTranspose, Resize/Upsample, 1-D and
    3-D Conv, Einsum, weight-norm computed conv weights, tied embeddings, ...).

How (the truth is computed here, never by flopscope)
    Every model is built randomly initialised from its constructor/config
    (torch.manual_seed(0); no pretrained weights are ever downloaded), every
    parameter and BatchNorm statistic is then perturbed so that no two tensors
    are equal (see perturb()), put in eval mode and exported. Then, from the
    exported ONNX file *with its real weights still in memory*:

    onnx_params      elements of every floating-point initializer (main graph and
                     subgraphs, each initializer once), excluding the
                     initializers that feed inputs 3 and 4 (running mean/var) of a
                     BatchNormalization node, directly or through Identity.
    onnx_bn_buffers  elements of those running mean/var initializers
                     (onnx_params_float = onnx_params + onnx_bn_buffers).
    truth_macs       ONNX Runtime (CPU, all graph optimisations disabled) runs the
                     graph with every node output exposed as a graph output, so
                     the runtime shape of every tensor is known. Then
                       Conv:          numel(Y) * prod(W.shape[1:])
                       ConvTranspose: numel(X) * prod(W.shape[1:])
                       Gemm:          M*N*K after transA/transB
                       MatMul:        prod(broadcast batch dims)*M*N*K (numpy,
                                      incl. 1-D operands)
                       Einsum (2 operands): product of the sizes of all indices
                       Attention (opset 23): B*H*L*S*(dk+dv), i.e. the Q.K^T and
                                      P.V products with H query heads (checked:
                                      llama-gqa-tiny-dynamo-op23 has the same
                                      total as its opset-20 MatMul export)
                     truth_macs_by_op splits it by op type.
                     (The real exported weights are used rather than synthesised
                     ones: the run is the same graph, and integer initializers
                     such as Swin's relative-position index keep their values.)
    torch_params     sum(p.numel() for p in model.parameters()).

    After the truth is taken, the file is saved with all initializers of 1024
    bytes or more as external data (<name>.onnx.data) and the .data file is
    deleted, so the checked-in .onnx holds the graph and declared dims only.
    Reruns give identical files except for the dynamo exporter's
    pkg.torch.onnx.stack_trace metadata (it quotes source line numbers).

Inputs: one graph input `input`; the batch dim is dynamic and named `batch`.
    image models  float32 [batch,3,H,W]: 224x224 (inception_v3 299x299; unet_mini,
                  HF ViT/CLIP/SegFormer/MobileViT 64x64); r3d_18 [batch,3,8,64,64]
    token models  int64 [batch,seq]
    audio models  float32: Wav2Vec2 [batch,4000], Whisper encoder [batch,16,100]
    Truth binding: batch 1 (token models seq 32); second binding: batch 2 (token
    models seq 64).

Rerun (from the repository root; about 3 minutes on 2 CPU cores):

    python3 -m venv .venv-export
    .venv-export/bin/pip install -r scripts/requirements-export.txt
    .venv-export/bin/python scripts/make_extra_models.py
    # only some models:            ... make_extra_models.py alexnet gpt2-tiny
    # compare flopscope with the truth (totals at both bindings, and every layer's
    # output shapes against ONNX Runtime's):
    #                              ... make_extra_models.py --check target/release/flopscope

Pinned versions used to make the checked-in files (scripts/requirements-export.txt):
    torch 2.15.0, torchvision 0.29.2, transformers 5.24.0, onnx 1.23.2,
    onnxscript 0.7.2, onnxruntime 1.32.0, numpy 2.4.6, Python 3.11.7.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

OUT_DIR = os.path.join("tests", "data", "extra")
REF_PATH = os.path.join(OUT_DIR, "reference.json")
SHAPES_DIR = os.path.join(OUT_DIR, "runtime_shapes")
SEQ = 32


# --------------------------------------------------------------------------
# model builders
# --------------------------------------------------------------------------

def tv(name, **kw):
    """A torchvision model, randomly initialised (`video.r3d_18` for a sub-package)."""
    def build():
        import torchvision
        mod = torchvision.models
        *pkg, fn = name.split(".")
        for p in pkg:
            mod = getattr(mod, p)
        return getattr(mod, fn)(weights=None, **kw)
    return build


def tv_seg(name):
    def build():
        import torch
        import torchvision

        class Seg(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.net = getattr(torchvision.models.segmentation, name)(
                    weights=None, weights_backbone=None, aux_loss=False)

            def forward(self, input):
                return self.net(input)["out"]
        return Seg()
    return build


def unet_mini():
    """A small UNet: strided down-sampling, two ConvTranspose up paths, Concat skips."""
    import torch
    from torch import nn

    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1),
                             nn.ReLU(inplace=True))

    class UNetMini(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc1 = block(3, 16)
            self.enc2 = block(16, 32)
            self.enc3 = block(32, 64)
            self.pool = nn.MaxPool2d(2)
            # kernel 2 stride 2 (the usual UNet up-conv)
            self.up2 = nn.ConvTranspose2d(64, 32, 2, stride=2)
            self.dec2 = block(64, 32)
            # kernel 3, stride 2, padding 1, output_padding 1, grouped, dilation 1
            self.up1 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1,
                                          groups=2)
            self.dec1 = block(32, 16)
            self.head = nn.Conv2d(16, 2, 1)

        def forward(self, input):
            e1 = self.enc1(input)
            e2 = self.enc2(self.pool(e1))
            e3 = self.enc3(self.pool(e2))
            d2 = self.dec2(torch.cat([self.up2(e3), e2], dim=1))
            d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
            return self.head(d1)
    return UNetMini()


def matmul_zoo():
    """Hand-written: Einsum, broadcast MatMul, 1-D MatMul, Linear on 3-D and 2-D."""
    import torch
    from torch import nn

    class MatMulZoo(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(64, 32)            # 3-D input -> MatMul (+ Add)
            self.fc = nn.Linear(32, 10)              # 2-D input -> Gemm
            self.w3 = nn.Parameter(torch.randn(3, 8, 5))
            self.v = nn.Parameter(torch.randn(8))
            self.m = nn.Parameter(torch.randn(16, 16))

        def forward(self, input):                   # input [batch, 16, 64]
            h = self.proj(input)                     # [b,16,32]
            a = torch.einsum("bij,bkj->bik", h, h)   # [b,16,16]  (2-operand einsum)
            a = torch.einsum("...ij,jk->...ik", a, self.m)  # ellipsis einsum
            x = h.reshape(-1, 2, 1, 4, 8)[:, :, :, :, :]     # [b*8,2,1,4,8]
            y = torch.matmul(x, self.w3)             # broadcast -> [b*8,2,3,4,5]
            z = torch.matmul(h.reshape(-1, 4, 8), self.v)  # 1-D right operand -> [b*16,4]
            zz = torch.matmul(self.v, h.reshape(-1, 8, 4))  # 1-D left operand -> [b*16,4]
            s = a.mean(dim=1) + h.mean(dim=1)[:, :16].sum() + y.sum() + z.sum() + zz.sum()
            return self.fc(torch.cat([s, s], dim=1))  # [b,32] -> Gemm
    return MatMulZoo()


def hf(kind, mask=False, attn="eager"):
    """A transformers model from a small config; `mask` passes an all-ones attention mask
    (GPT-2's TorchScript export otherwise traces aten::diff, which has no ONNX symbolic).
    `attn` is the attention implementation: "eager" (explicit MatMul/Softmax) or "sdpa"
    (scaled_dot_product_attention, which the dynamo exporter at opset 23 turns into the
    ONNX Attention op)."""
    def build():
        import torch
        import transformers as T

        common = dict(attn_implementation=attn)
        if kind == "gpt2":
            cfg = T.GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1000,
                               n_positions=128, use_cache=False)
            net = T.GPT2LMHeadModel(cfg)
        elif kind == "distilbert":
            cfg = T.DistilBertConfig(n_layers=2, dim=128, n_heads=4, hidden_dim=256,
                                     vocab_size=1000, max_position_embeddings=128)
            net = T.DistilBertModel(cfg)
        elif kind == "t5enc":
            cfg = T.T5Config(d_model=128, d_kv=32, d_ff=256, num_layers=2, num_heads=4,
                             vocab_size=1000, use_cache=False)
            net = T.T5EncoderModel(cfg)
        elif kind == "vit":
            cfg = T.ViTConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                              intermediate_size=256, image_size=64, patch_size=16)
            net = T.ViTModel(cfg)
        elif kind == "wav2vec2":
            cfg = T.Wav2Vec2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                   intermediate_size=128, conv_dim=(32, 32, 32),
                                   conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3),
                                   num_conv_pos_embeddings=16,
                                   num_conv_pos_embedding_groups=4,
                                   feat_extract_norm="group", vocab_size=32)
            net = T.Wav2Vec2Model(cfg)
        elif kind == "whisperenc":
            cfg = T.WhisperConfig(d_model=64, encoder_layers=2, encoder_attention_heads=2,
                                  encoder_ffn_dim=128, decoder_layers=1,
                                  decoder_attention_heads=2, decoder_ffn_dim=128,
                                  num_mel_bins=16, max_source_positions=50,
                                  max_target_positions=32, vocab_size=100,
                                  pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                  decoder_start_token_id=1)
            net = T.WhisperModel(cfg).get_encoder()
        elif kind == "llama":  # grouped-query attention: 4 query heads, 2 key/value heads
            cfg = T.LlamaConfig(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, vocab_size=1000,
                                max_position_embeddings=128, use_cache=False)
            net = T.LlamaModel(cfg)
        elif kind == "qwen2":
            cfg = T.Qwen2Config(hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, vocab_size=1000,
                                max_position_embeddings=128, use_cache=False,
                                tie_word_embeddings=True)
            net = T.Qwen2ForCausalLM(cfg)
        elif kind == "albert":  # one set of layer weights shared by all layers
            cfg = T.AlbertConfig(embedding_size=64, hidden_size=128, num_hidden_layers=3,
                                 num_attention_heads=4, intermediate_size=256, vocab_size=1000,
                                 max_position_embeddings=128)
            net = T.AlbertModel(cfg)
        elif kind == "bert":
            cfg = T.BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
                               intermediate_size=256, vocab_size=1000,
                               max_position_embeddings=128)
            net = T.BertModel(cfg)
        elif kind == "bart":
            cfg = T.BartConfig(d_model=128, encoder_layers=2, decoder_layers=2,
                               encoder_attention_heads=4, decoder_attention_heads=4,
                               encoder_ffn_dim=256, decoder_ffn_dim=256, vocab_size=1000,
                               max_position_embeddings=128, use_cache=False)
            net = T.BartModel(cfg)
        elif kind == "clipvision":
            cfg = T.CLIPVisionConfig(hidden_size=128, intermediate_size=256,
                                     num_hidden_layers=2, num_attention_heads=4,
                                     image_size=64, patch_size=16, projection_dim=64)
            net = T.CLIPVisionModel(cfg)
        elif kind == "segformer":
            cfg = T.SegformerConfig(num_encoder_blocks=4, depths=[1, 1, 1, 1],
                                    sr_ratios=[8, 4, 2, 1], hidden_sizes=[16, 32, 64, 128],
                                    num_attention_heads=[1, 2, 4, 8], mlp_ratios=[2, 2, 2, 2],
                                    decoder_hidden_size=64, num_labels=5)
            net = T.SegformerForSemanticSegmentation(cfg)
        elif kind == "mobilevit":
            cfg = T.MobileViTConfig(image_size=64, hidden_sizes=[48, 64, 80],
                                    neck_hidden_sizes=[16, 16, 24, 32, 48, 64, 160],
                                    num_attention_heads=2, num_labels=10)
            net = T.MobileViTForImageClassification(cfg)
        else:
            raise ValueError(kind)
        for k, v in common.items():
            try:
                net.config._attn_implementation = v
            except Exception:
                pass

        class Wrap(torch.nn.Module):
            def __init__(self, net):
                super().__init__()
                self.net = net

            def forward(self, input):
                if mask:
                    out = self.net(input, attention_mask=torch.ones_like(input),
                                   return_dict=False)
                else:
                    out = self.net(input, return_dict=False)
                return out[0]
        return Wrap(net)
    return build


IMG = [1, 3, 224, 224]
TOK = [1, SEQ]

# name, builder, input shape (batch 1), input dtype, dynamic dims {axis: name}, exporter, extra
SPECS = [
    ("mobilenet_v3_small-dynamo", tv("mobilenet_v3_small"), IMG, "float32", {0: "batch"}, "dynamo", {}),
    ("efficientnet_b0", tv("efficientnet_b0"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("densenet121", tv("densenet121"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("squeezenet1_1", tv("squeezenet1_1"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("googlenet", tv("googlenet", aux_logits=False, init_weights=True), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("shufflenet_v2_x1_0", tv("shufflenet_v2_x1_0"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("regnet_y_400mf", tv("regnet_y_400mf"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("convnext_tiny-dynamo", tv("convnext_tiny"), IMG, "float32", {0: "batch"}, "dynamo", {}),
    ("swin_t", tv("swin_t"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("resnext50_32x4d", tv("resnext50_32x4d"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("alexnet", tv("alexnet"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("vgg11_bn", tv("vgg11_bn"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    # BatchNormalization kept as nodes: running mean/var are buffers, not params
    ("vgg11_bn-keepbn", tv("vgg11_bn"), IMG, "float32", {0: "batch"}, "torchscript", {"keep_bn": True}),
    ("deeplabv3_mobilenet_v3_large", tv_seg("deeplabv3_mobilenet_v3_large"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("fcn_resnet50", tv_seg("fcn_resnet50"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("unet_mini", unet_mini, [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("unet_mini-dynamo", unet_mini, [1, 3, 64, 64], "float32", {0: "batch"}, "dynamo", {}),
    ("matmul_zoo", matmul_zoo, [1, 16, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("gpt2-tiny", hf("gpt2", mask=True), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("gpt2-tiny-dynamo", hf("gpt2"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {}),
    ("distilbert-tiny", hf("distilbert"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("distilbert-tiny-dynamo", hf("distilbert"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {}),
    ("t5-encoder-tiny", hf("t5enc"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("vit-tiny-hf", hf("vit"), [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("wav2vec2-tiny", hf("wav2vec2"), [1, 4000], "float32", {0: "batch"}, "torchscript", {}),
    ("whisper-encoder-tiny", hf("whisperenc"), [1, 16, 100], "float32", {0: "batch"}, "torchscript", {}),
    ("llama-gqa-tiny-dynamo", hf("llama", attn="sdpa"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {}),
    # opset 23: Attention, RotaryEmbedding and RMSNormalization ops
    ("llama-gqa-tiny-dynamo-op23", hf("llama", attn="sdpa"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {"opset": 23}),
    ("bert-tiny-dynamo-op23", hf("bert", attn="sdpa"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {"opset": 23}),
    ("qwen2-tiny", hf("qwen2", mask=True), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("albert-tiny", hf("albert"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("bart-tiny", hf("bart"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("clip-vision-tiny", hf("clipvision"), [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("segformer-tiny", hf("segformer"), [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("mobilevit-tiny", hf("mobilevit"), [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("r3d_18", tv("video.r3d_18"), [1, 3, 8, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("inception_v3", tv("inception_v3", aux_logits=False, init_weights=True), [1, 3, 299, 299], "float32", {0: "batch"}, "torchscript", {}),
    ("mnasnet0_5", tv("mnasnet0_5"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("lraspp_mobilenet_v3_large", tv_seg("lraspp_mobilenet_v3_large"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("maxvit_t", tv("maxvit_t"), IMG, "float32", {0: "batch"}, "torchscript", {}),
    ("efficientnet_b0-dynamo", tv("efficientnet_b0"), IMG, "float32", {0: "batch"}, "dynamo", {}),
    # older opsets and export options users still bring
    ("alexnet-keepinit", tv("alexnet"), IMG, "float32", {0: "batch"}, "torchscript", {"keep_init": True}),
    ("deeplabv3_mobilenet_v3_large-op11", tv_seg("deeplabv3_mobilenet_v3_large"), IMG, "float32", {0: "batch"}, "torchscript", {"opset": 11}),
    ("lraspp_mobilenet_v3_large-op9", tv_seg("lraspp_mobilenet_v3_large"), IMG, "float32", {0: "batch"}, "torchscript", {"opset": 9}),
    ("fcn_resnet50-op10", tv_seg("fcn_resnet50"), IMG, "float32", {0: "batch"}, "torchscript", {"opset": 10}),
    ("unet_mini-op9", unet_mini, [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {"opset": 9}),
    ("distilbert-tiny-op11", hf("distilbert"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {"opset": 11}),
    ("vit-tiny-hf-op13", hf("vit"), [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {"opset": 13}),
    ("t5-encoder-tiny-op13", hf("t5enc"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {"opset": 13}),
    ("mobilenet_v3_small-fp16", tv("mobilenet_v3_small"), IMG, "float32", {0: "batch"}, "torchscript", {"half": True}),
    ("gpt2-tiny-fp16", hf("gpt2", mask=True), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {"half": True}),
]


# --------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------

def make_example(shape, dtype, batch=None):
    import torch
    shape = list(shape)
    if batch is not None:
        shape[0] = batch
    g = torch.Generator().manual_seed(0)
    if dtype == "int64":
        return torch.randint(0, 1000, shape, generator=g, dtype=torch.int64)
    return torch.randn(shape, generator=g)


def export(model, name, shape, dtype, dyn, exporter, extra, path):
    import torch
    if exporter == "torchscript":
        x = make_example(shape, dtype)
        kw = {}
        if extra.get("keep_bn"):
            # PRESERVE skips the eval-mode Conv+BN fusion peephole; the model is
            # in eval mode, so BatchNormalization is exported in inference mode.
            kw = dict(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
        if extra.get("keep_init"):
            # old-style graph: every initializer is also listed as a graph input
            kw["keep_initializers_as_inputs"] = True
        if extra.get("half"):
            x = x.half() if dtype == "float32" else x
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=extra.get("opset", 17),
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dict(dyn)}, **kw)
    else:
        from torch.export import Dim
        # batch 2 in the example so the batch dim is not specialised to 1
        x = make_example(shape, dtype, batch=2)
        dims = {ax: Dim(n, min=1, max=4096) for ax, n in dyn.items()}
        # positional form: the forward argument is not always called `input`
        kw = {"opset_version": extra["opset"]} if "opset" in extra else {}
        torch.onnx.export(model, (x,), path, dynamo=True, input_names=["input"],
                          output_names=["output"], dynamic_shapes=(dims,), **kw,
                          external_data=False)


# --------------------------------------------------------------------------
# truth
# --------------------------------------------------------------------------

def float_types():
    from onnx import TensorProto as T
    names = ["FLOAT", "FLOAT16", "BFLOAT16", "DOUBLE", "COMPLEX64", "COMPLEX128",
             "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "FLOAT4E2M1"]
    return {getattr(T, n) for n in names if hasattr(T, n)}


def all_graphs(graph):
    from onnx import AttributeProto
    yield graph
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                yield from all_graphs(a.g)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from all_graphs(g)


def count_params(model):
    ftypes = float_types()
    g = model.graph
    # resolve Identity chains to their source
    ident = {n.output[0]: n.input[0] for n in g.node if n.op_type == "Identity" and n.input}

    def src(v):
        seen = 0
        while v in ident and seen < 64:
            v, seen = ident[v], seen + 1
        return v
    bn_stats = set()
    for n in g.node:
        if n.op_type == "BatchNormalization":
            for i in (3, 4):
                if len(n.input) > i and n.input[i]:
                    bn_stats.add(src(n.input[i]))
    params = buffers = 0
    for gr in all_graphs(g):
        for init in gr.initializer:
            if init.data_type not in ftypes:
                continue
            numel = int(np.prod(init.dims, dtype=np.int64)) if len(init.dims) else 1
            if gr is g and init.name in bn_stats:
                buffers += numel
            else:
                params += numel
    return params, buffers


def runtime_shapes(model, feed):
    import onnx
    import onnxruntime as ort
    m = onnx.ModelProto()
    m.CopyFrom(model)
    present = {o.name for o in m.graph.output}
    for node in m.graph.node:
        for name in node.output:
            if name and name not in present:
                vi = onnx.ValueInfoProto()
                vi.name = name
                m.graph.output.append(vi)
                present.add(name)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    vals = sess.run(names, feed)
    shapes, dtypes = {}, {}
    for n, v in zip(names, vals):
        if isinstance(v, np.ndarray):
            shapes[n] = [int(d) for d in v.shape]
            dtypes[n] = v.dtype.name
    node_shapes = (dict(shapes), dtypes)
    for k, v in feed.items():
        shapes[k] = list(v.shape)
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes, node_shapes


def matmul_macs(a, b):
    a, b = list(a), list(b)
    if len(a) == 1:
        a = [1] + a
    if len(b) == 1:
        b = b + [1]
    m, k = a[-2], a[-1]
    k2, n = b[-2], b[-1]
    assert k == k2, (a, b)
    batch = np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
    return int(np.prod(batch, dtype=np.int64)) * m * n * k


def einsum_macs(eq, shapes):
    eq = eq.replace(" ", "")
    lhs = eq.split("->")[0]
    terms = lhs.split(",")
    sizes = {}
    for t, s in zip(terms, shapes):
        if "..." in t:
            pre, post = t.split("...")
            nell = len(s) - len(pre) - len(post)
            # ellipsis dims are right-aligned across operands (numpy broadcasting)
            labels = list(pre) + [("ell", nell - j) for j in range(nell)] + list(post)
        else:
            labels = list(t)
        for lab, d in zip(labels, s):
            sizes[lab] = max(sizes.get(lab, 1), d)
    return int(np.prod(list(sizes.values()), dtype=np.int64)) * (len(terms) - 1)


def count_macs(model, shapes):
    from onnx import helper
    by_op = {}
    for node in model.graph.node:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            if op in ("Attention", "MultiHeadAttention", "GroupQueryAttention", "FusedConv",
                      "FusedMatMul", "Gemm", "MatMul", "Conv"):
                raise RuntimeError(f"truth for {node.domain}::{op} not implemented")
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        macs = 0
        if op == "Conv":
            y, w = shapes[node.output[0]], shapes[node.input[1]]
            macs = int(np.prod(y, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
        elif op == "ConvTranspose":
            x, w = shapes[node.input[0]], shapes[node.input[1]]
            macs = int(np.prod(x, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
        elif op == "Gemm":
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            m, k = (a[1], a[0]) if attrs.get("transA", 0) else (a[0], a[1])
            k2, n = (b[1], b[0]) if attrs.get("transB", 0) else (b[0], b[1])
            assert k == k2
            macs = m * n * k
        elif op == "MatMul":
            macs = matmul_macs(shapes[node.input[0]], shapes[node.input[1]])
        elif op == "Einsum":
            eq = attrs["equation"]
            eq = eq.decode() if isinstance(eq, bytes) else eq
            ins = [shapes[i] for i in node.input]
            if len(ins) >= 2:
                macs = einsum_macs(eq, ins)
        elif op == "Attention":
            # the two products of attention: Q.K^T and P.V, with H query heads
            q, k, v = (shapes[i] for i in node.input[:3])
            if len(q) == 4:
                b, h, lq, dk = q
                s_len, dv = k[2], v[3]
            else:
                h, hkv = attrs["q_num_heads"], attrs["kv_num_heads"]
                b, lq, dk = q[0], q[1], q[2] // h
                s_len, dv = k[1], v[2] // hkv
            if len(node.input) > 4 and node.input[4]:
                s_len += shapes[node.input[4]][2]  # past key
            macs = b * h * lq * s_len * (dk + dv)
        elif op in ("MultiHeadAttention", "ConvInteger", "MatMulInteger",
                    "QLinearConv", "QLinearMatMul"):
            raise RuntimeError(f"truth for {op} not implemented")
        else:
            continue
        by_op[op] = by_op.get(op, 0) + int(macs)
    # any MAC op inside a subgraph would be missed: refuse rather than undercount
    for gr in list(all_graphs(model.graph))[1:]:
        for node in gr.node:
            if node.op_type in ("Conv", "ConvTranspose", "Gemm", "MatMul", "Einsum"):
                raise RuntimeError("MAC op inside a subgraph: truth not implemented")
    return sum(by_op.values()), dict(sorted(by_op.items()))


def op_types(model):
    out = set()
    for n in model.graph.node:
        out.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}")
    return sorted(out)


def strip_weights(model, out_path):
    import onnx
    name = os.path.basename(out_path)
    data = name + ".data"
    data_path = os.path.join(os.path.dirname(out_path), data)
    if os.path.exists(data_path):
        os.remove(data_path)
    onnx.save(model, out_path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=data, size_threshold=1024)
    if os.path.exists(data_path):
        os.remove(data_path)


def perturb(model):
    """Give every parameter and BatchNorm statistic distinct values, as in a trained model.

    Fresh initialisation leaves many tensors equal (LayerNorm/BatchNorm weight = 1,
    bias = running_mean = 0, running_var = 1), and the TorchScript exporter then
    de-duplicates them into one shared initializer -- a BatchNorm scale and its running
    variance could become the same tensor, which no real checkpoint produces.
    """
    import torch
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and mod.track_running_stats:
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=g))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))


def binding_b2(shape, dyn):
    """The second binding: batch 2, and seq 64 for token models."""
    shp = list(shape)
    for ax, n in dyn.items():
        shp[ax] = {"batch": 2, "seq": 64}[n]
    return shp


def build_one(spec, tmpdir):
    import onnx
    import torch
    name, builder, shape, dtype, dyn, exporter, extra = spec
    torch.manual_seed(0)
    model = builder().eval()
    perturb(model)
    if extra.get("half"):
        model = model.half()
    torch_params = sum(p.numel() for p in model.parameters())
    tmp = os.path.join(tmpdir, name + ".onnx")
    t0 = time.time()
    with torch.no_grad():
        export(model, name, shape, dtype, dyn, exporter, extra, tmp)
    t_export = time.time() - t0
    m = onnx.load(tmp)  # with its weights
    if len(m.functions):
        from onnx import inliner
        m = inliner.inline_local_functions(m)
    input_names = [i.name for i in m.graph.input
                   if i.name not in {init.name for init in m.graph.initializer}]
    assert input_names == ["input"], input_names
    bindings = {}
    for suffix, shp in [("", list(shape)), (".b2", binding_b2(shape, dyn))]:
        try:
            x = make_example(shp, dtype).numpy()
            if extra.get("half") and dtype == "float32":
                x = x.astype(np.float16)
            shapes, (node_shapes, dtypes) = runtime_shapes(m, {"input": x})
            bindings[suffix] = (shp, count_macs(m, shapes))
        except Exception as e:
            if suffix == "":
                raise
            bindings[suffix] = (shp, " ".join(f"{type(e).__name__}: {e}".split())[:400])
            print(f"  {name}{suffix}: ORT failed: {bindings[suffix][1]}")
            continue
        os.makedirs(SHAPES_DIR, exist_ok=True)
        with open(os.path.join(SHAPES_DIR, f"{name}{suffix}.json"), "w") as f:
            json.dump({"model": name, "inputs": {"input": shp}, "shapes": node_shapes,
                       "dtypes": dtypes}, f, sort_keys=True, separators=(",", ":"))
            f.write("\n")
    macs, by_op = bindings[""][1]
    params, buffers = count_params(m)
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    out_path = os.path.join(OUT_DIR, name + ".onnx")
    strip_weights(m, out_path)
    rec = {
        "exporter": exporter,
        "inputs": [list(shape)],
        "input_dtype": dtype,
        "opset": opset,
        "producer": f"{m.producer_name} {m.producer_version}".strip(),
        "onnx_bn_buffers": buffers,
        "onnx_nodes": len(m.graph.node),
        "onnx_op_types": op_types(m),
        "onnx_params": params,
        "onnx_params_float": params + buffers,
        "torch_params": int(torch_params),
        "truth_macs": macs,
        "truth_macs_by_op": by_op,
        "file_bytes": os.path.getsize(out_path),
        "inputs_b2": [bindings[".b2"][0]],
    }
    if isinstance(bindings[".b2"][1], str):
        rec["b2_error"] = bindings[".b2"][1]
    else:
        rec["truth_macs_b2"], rec["truth_macs_by_op_b2"] = bindings[".b2"][1]
    print(f"{name}: {exporter} opset {opset}, {rec['onnx_nodes']} nodes, params {params}, "
          f"bn {buffers}, macs {macs}, {rec['file_bytes']} B, export {t_export:.0f}s",
          flush=True)
    return rec


# --------------------------------------------------------------------------
# flopscope check
# --------------------------------------------------------------------------

def node_outputs(path):
    """{node name: [output names]} for the main graph, or None without the onnx package."""
    try:
        import onnx
    except ImportError:
        return None
    m = onnx.load(path, load_external_data=False)
    return {n.name: list(n.output) for n in m.graph.node}


def check_one(binary, name, rec, suffix):
    """Compare one flopscope run with the truth; returns (hard problems, notes)."""
    path = os.path.join(OUT_DIR, name + ".onnx")
    key_in = "inputs" + (suffix.replace(".", "_") if suffix else "")
    key_m = "truth_macs" + (suffix.replace(".", "_") if suffix else "")
    if key_m not in rec:
        return [], [f"{suffix}: no truth ({rec.get('b2_error', '?')[:120]})"]
    shape = "x".join(str(d) for d in rec[key_in][0])
    cmd = [binary, "profile", path, "--format", "json", "--input", f"input={shape}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return [f"exit {p.returncode} at input={shape}: {p.stderr.strip()[:800]}"], []
    d = json.loads(p.stdout)
    t = d["totals"]
    probs, notes = [], []
    tag = f"[input={shape}] "
    if t["params"] != rec["onnx_params"]:
        probs.append(f"{tag}params {t['params']} != truth {rec['onnx_params']}")
    if t.get("buffers", 0) != rec["onnx_bn_buffers"]:
        probs.append(f"{tag}buffers {t.get('buffers')} != truth {rec['onnx_bn_buffers']}")
    truth = rec[key_m]
    by_truth = rec[key_m.replace("truth_macs", "truth_macs_by_op")]
    rel = abs(t["macs"] - truth) / truth if truth else (0 if t["macs"] == 0 else 1)
    ours = {e["op"]: e["macs"] for e in d["by_op_type"] if e["macs"]}
    if rel > 1e-3:
        probs.append(f"{tag}macs {t['macs']} vs truth {truth} ({100 * rel:.3f}%), by op {ours} "
                     f"vs truth {by_truth}")
    elif t["macs"] != truth or ours != by_truth:
        notes.append(f"{tag}macs {t['macs']} vs {truth} by op {ours} vs {by_truth} "
                     "(within 0.1%, not exact)")
    if t.get("nodes_cost_unknown", 0):
        probs.append(f"{tag}nodes_cost_unknown {t['nodes_cost_unknown']}")
    if d.get("unsupported"):
        probs.append(f"{tag}unsupported {d['unsupported']}")
    other = [w for w in d.get("warnings", []) if "weights are absent" not in w]
    if other:
        notes.append(f"{tag}warnings {other}")
    # every node output shape against ONNX Runtime's
    rt_path = os.path.join(SHAPES_DIR, f"{name}{suffix}.json")
    outs = node_outputs(path)
    if outs is not None and os.path.exists(rt_path):
        rt = json.load(open(rt_path))["shapes"]
        bad, n_cmp = [], 0
        for layer in d["layers"]:
            # dynamo node names carry no module path; flopscope prefixes it (/enc1/enc1.0/node_x)
            names = outs.get(layer["name"], outs.get(layer["name"].rsplit("/", 1)[-1]))
            if names is None:
                continue
            for oname, got in zip(names, layer["outputs"]):
                if oname in rt:
                    n_cmp += 1
                    if got != rt[oname]:
                        bad.append(f"{layer['name']} ({layer['op']}) output {oname}: "
                                   f"{got} vs runtime {rt[oname]}")
        if bad:
            probs.append(f"{tag}{len(bad)} of {n_cmp} layer output shapes differ from "
                         f"ONNX Runtime, e.g. " + "; ".join(bad[:5]))
        notes.append(f"{tag}{n_cmp} layer output shapes compared, of {len(d['layers'])} layers")
    return probs, notes


def check(binary):
    ref = json.load(open(REF_PATH))
    fails = 0
    for name, rec in ref.items():
        probs, notes = [], []
        for suffix in ("", ".b2"):
            p_, n_ = check_one(binary, name, rec, suffix)
            probs += p_
            notes += n_
        fails += bool(probs)
        print(f"{'FAIL' if probs else 'ok':4} {name}: params truth {rec['onnx_params']}, "
              f"macs truth {rec['truth_macs']}")
        for x in probs:
            print(f"     PROBLEM {x}")
        for x in notes:
            print(f"     note {x}")
    print(f"{fails} of {len(ref)} models fail")
    return 1 if fails else 0


def main(argv):
    if argv[:1] == ["--check"]:
        binary = argv[1] if len(argv) > 1 else os.path.join("target", "release", "flopscope")
        return check(binary)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT_DIR, exist_ok=True)
    ref = json.load(open(REF_PATH)) if os.path.exists(REF_PATH) else {}
    wanted = set(argv)
    failed = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        for spec in SPECS:
            if wanted and spec[0] not in wanted:
                continue
            try:
                ref[spec[0]] = build_one(spec, tmpdir)
            except Exception as e:  # record and go on: a model that fails to export is skipped
                msg = " ".join(f"{type(e).__name__}: {e}".split())[:600]
                failed[spec[0]] = msg
                print(f"SKIPPED {spec[0]}: {msg}", flush=True)
            # keep partial results
            with open(REF_PATH, "w") as f:
                json.dump(dict(sorted(ref.items())), f, indent=1, sort_keys=True)
                f.write("\n")
    if failed:
        print("skipped:", json.dumps(failed, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
