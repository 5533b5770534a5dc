"""Build a broader corpus of real PyTorch ONNX exports, with independent truth.

What
    tests/data/extra/<name>.onnx  -- graph-only ONNX exports (weights stripped,
                                     exactly like tests/data/models) of
                                     torchvision and Hugging Face models, plus
                                     two small hand-written models
    tests/data/extra/reference.json -- per-model truth, same keys as
                                     tests/data/models/reference.json where they
                                     overlap

Why
    flopscope's exact parameter counts and MACs must hold for any PyTorch export
    of a torchvision or Hugging Face model that a user brings, not only for the
    six shared reference models. This corpus gives the tests other models,
    both exporters (TorchScript and dynamo), and op types the six do not have
    (BatchNormalization kept as a node, ConvTranspose, Resize, 1-D Conv,
    Einsum, weight-norm computed weights, tied embeddings, ...).

How (the truth is computed here, never by flopscope)
    Every model is built randomly initialised from its constructor/config
    (torch.manual_seed(0); no pretrained weights are ever downloaded), put in
    eval mode and exported. Then, from the exported ONNX file *with its real
    weights still in memory*:

    onnx_params      elements of every floating-point initializer (main graph and
                     subgraphs, each initializer once), excluding the
                     initializers that feed inputs 3 and 4 (running mean/var) of a
                     BatchNormalization node, directly or through Identity.
    onnx_bn_buffers  elements of those running mean/var initializers.
    truth_macs       ONNX Runtime (CPU, all graph optimisations disabled) runs the
                     graph with every node output exposed as a graph output, so
                     the runtime shape of every tensor is known. Then
                       Conv:          numel(Y) * prod(W.shape[1:])
                       ConvTranspose: numel(X) * prod(W.shape[1:])
                       Gemm:          M*N*K after transA/transB
                       MatMul:        prod(broadcast batch dims)*M*N*K (numpy,
                                      incl. 1-D operands)
                       Einsum (2 operands): product of the sizes of all indices
                     truth_macs_by_op splits it by op type.
                     (The real exported weights are used rather than synthesised
                     ones: the run is the same graph, and integer initializers
                     such as Swin's relative-position index keep their values.)
    torch_params     sum(p.numel() for p in model.parameters()).

    After the truth is taken, the file is saved with all initializers of 1024
    bytes or more as external data (<name>.onnx.data) and the .data file is
    deleted, so the checked-in .onnx holds the graph and declared dims only.

Inputs (batch 1 for the truth; the batch dim is dynamic and named `batch`):
    image models  `input` float32 [batch,3,H,W] (224x224, ViT-tiny 64x64)
    token models  `input` int64  [batch,seq], truth at seq 32
    audio models  `input` float32 (Wav2Vec2 [batch,samples], Whisper encoder
                  [batch,mel,frames]); the batch dim is dynamic

Rerun (from the repository root; about 10 minutes on 2 CPU cores):

    python3 -m venv /work/venv-export
    /work/venv-export/bin/pip install -r scripts/requirements-export.txt
    HF_HUB_OFFLINE=1 /work/venv-export/bin/python scripts/make_extra_models.py
    # only some models:            ... make_extra_models.py alexnet gpt2-tiny
    # compare flopscope's output:  ... make_extra_models.py --check target/release/flopscope

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
SEQ = 32

FLOAT_TYPES = None  # filled lazily (needs onnx)


# --------------------------------------------------------------------------
# model builders
# --------------------------------------------------------------------------

def tv(name, **kw):
    def build():
        import torchvision
        return getattr(torchvision.models, name)(weights=None, **kw)
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


def hf(kind):
    def build():
        import torch
        import transformers as T

        common = dict(attn_implementation="eager")
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
                                  max_target_positions=32, vocab_size=100)
            net = T.WhisperModel(cfg).get_encoder()
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
    ("gpt2-tiny", hf("gpt2"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("gpt2-tiny-dynamo", hf("gpt2"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {}),
    ("distilbert-tiny", hf("distilbert"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("distilbert-tiny-dynamo", hf("distilbert"), TOK, "int64", {0: "batch", 1: "seq"}, "dynamo", {}),
    ("t5-encoder-tiny", hf("t5enc"), TOK, "int64", {0: "batch", 1: "seq"}, "torchscript", {}),
    ("vit-tiny-hf", hf("vit"), [1, 3, 64, 64], "float32", {0: "batch"}, "torchscript", {}),
    ("wav2vec2-tiny", hf("wav2vec2"), [1, 4000], "float32", {0: "batch"}, "torchscript", {}),
    ("whisper-encoder-tiny", hf("whisperenc"), [1, 16, 100], "float32", {0: "batch"}, "torchscript", {}),
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
        torch.onnx.export(model, (x,), path, dynamo=False, opset_version=17,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": dict(dyn)}, **kw)
    else:
        from torch.export import Dim
        # batch 2 in the example so the batch dim is not specialised to 1
        x = make_example(shape, dtype, batch=2)
        dims = {ax: Dim(n, min=1, max=4096) for ax, n in dyn.items()}
        torch.onnx.export(model, (x,), path, dynamo=True, input_names=["input"],
                          output_names=["output"], dynamic_shapes={"input": dims},
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
    n_float_inits = 0
    for gr in all_graphs(g):
        for init in gr.initializer:
            if init.data_type not in ftypes:
                continue
            n_float_inits += 1
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
    shapes = {}
    for n, v in zip(names, vals):
        if isinstance(v, np.ndarray):
            shapes[n] = list(v.shape)
    for k, v in feed.items():
        shapes[k] = list(v.shape)
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    return shapes


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
        elif op in ("Attention", "MultiHeadAttention", "ConvInteger", "MatMulInteger",
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


def build_one(spec, tmpdir):
    import onnx
    import torch
    name, builder, shape, dtype, dyn, exporter, extra = spec
    torch.manual_seed(0)
    model = builder().eval()
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
    x = make_example(shape, dtype).numpy()
    input_names = [i.name for i in m.graph.input
                   if i.name not in {init.name for init in m.graph.initializer}]
    assert input_names == ["input"], input_names
    shapes = runtime_shapes(m, {"input": x})
    macs, by_op = count_macs(m, shapes)
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
    }
    print(f"{name}: {exporter} opset {opset}, {rec['onnx_nodes']} nodes, params {params}, "
          f"bn {buffers}, macs {macs}, {rec['file_bytes']} B, export {t_export:.0f}s",
          flush=True)
    return rec


# --------------------------------------------------------------------------
# flopscope check
# --------------------------------------------------------------------------

def check(binary):
    ref = json.load(open(REF_PATH))
    fails = 0
    rows = []
    for name, rec in ref.items():
        path = os.path.join(OUT_DIR, name + ".onnx")
        shape = "x".join(str(d) for d in rec["inputs"][0])
        cmd = [binary, "profile", path, "--format", "json", "--input", f"input={shape}"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            fails += 1
            rows.append((name, "ERROR", f"exit {p.returncode}: {p.stderr.strip()[:500]}"))
            continue
        d = json.loads(p.stdout)
        t = d["totals"]
        probs = []
        if t["params"] != rec["onnx_params"]:
            probs.append(f"params {t['params']} != {rec['onnx_params']}")
        if t.get("buffers", 0) != rec["onnx_bn_buffers"]:
            probs.append(f"buffers {t.get('buffers')} != {rec['onnx_bn_buffers']}")
        truth = rec["truth_macs"]
        rel = abs(t["macs"] - truth) / truth if truth else (0 if t["macs"] == 0 else 1)
        if rel > 1e-3:
            ours = {e["op"]: e["macs"] for e in d["by_op_type"] if e["macs"]}
            probs.append(f"macs {t['macs']} vs {truth} ({100 * rel:.3f}%), by op {ours} "
                         f"vs {rec['truth_macs_by_op']}")
        elif t["macs"] != truth:
            probs.append(f"(macs {t['macs']} vs {truth}: within 0.1%, not exact)")
        if t.get("nodes_cost_unknown", 0):
            probs.append(f"nodes_cost_unknown {t['nodes_cost_unknown']}")
        if d.get("unsupported"):
            probs.append(f"unsupported {d['unsupported']}")
        hard = [p_ for p_ in probs if not p_.startswith("(")]
        if hard:
            fails += 1
        rows.append((name, "FAIL" if hard else "ok",
                     f"params {t['params']}/{rec['onnx_params']} macs {t['macs']}/{truth} "
                     + "; ".join(probs)))
    for r in rows:
        print(f"{r[1]:5} {r[0]:30} {r[2]}")
    print(f"{fails} of {len(rows)} models fail")
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
