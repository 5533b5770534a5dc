"""The weights of quantized torch modules, which keep them packed in ScriptObjects.

``torch.ao.quantization`` modules (``quantize_dynamic``'s ``DynamicQuantizedLinear`` and
``DynamicQuantizedLSTM``, eager static quantization's ``QuantizedLinear`` and
``QuantizedConv2d``) hold no ``nn.Parameter``: their weights are packed into ScriptObjects
(``LinearPackedParamsBase``, ``Conv2dPackedParamsBase``, ``rnn.CellParamsBase``) that the
quantized kernels take whole. The capture unpacks each one once, with torch's own unpack
operators, into real tensors: the int8 weight, the float bias, the weight's scale(s) and zero
point(s). These are read for their dtype and shape only (a packed weight is real data, not a
fake tensor; unpacking copies it once, the size of the weight). The trace then names them as
parameters, and every call that passes the ScriptObject passes them instead
(``docs/python.md``, "Quantized modules").
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

import torch


def objects(model: torch.nn.Module) -> Iterator[tuple[str, Any, Any]]:
    """Every packed ScriptObject a module holds, with its qualified name
    (``fc._packed_params._packed_params``, ``lstm._all_weight_values.0.param``) and the dtype
    its holder declares (``LinearPackedParams.dtype``: ``torch.qint8`` or ``torch.float16``)."""
    for prefix, mod in model.named_modules():
        for attr, v in vars(mod).items():
            if isinstance(v, torch.ScriptObject):
                yield (f"{prefix}.{attr}" if prefix else attr), v, getattr(mod, "dtype", None)


def _kind(obj: Any) -> str:
    return obj._type().qualified_name().rsplit(".", 1)[-1]


def _quant(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The scale and zero point of a quantized weight, as torch stores them: a float64 and an
    int64 per tensor, or one of each per output channel."""
    if w.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return (torch.tensor(w.q_scale(), dtype=torch.float64),
                torch.tensor(w.q_zero_point(), dtype=torch.int64))
    return w.q_per_channel_scales(), w.q_per_channel_zero_points()


def _linear(obj: Any, fp16: bool) -> dict:
    w, b = torch.ops.quantized.linear_unpack(obj)
    if fp16:
        # quantize_dynamic(dtype=torch.float16) stores float16 weights; they unpack as float32.
        w = w.to(torch.float16)
    out: dict = {"weight": w, "bias": b}
    if w.is_quantized:
        out["scale"], out["zero_point"] = _quant(w)
    return out


def _conv(obj: Any) -> dict:
    w, b = obj.unpack()
    out: dict = {"weight": w, "bias": b}
    out["scale"], out["zero_point"] = _quant(w)
    # Window attributes live in the packed object, not in the call.
    out["stride"], out["padding"] = list(obj.stride()), list(obj.padding())
    out["dilation"], out["groups"] = list(obj.dilation()), int(obj.groups())
    out["output_padding"], out["transposed"] = list(obj.output_padding()), bool(obj.transpose())
    return out


def _cell(obj: Any) -> dict:
    # CellParamsBase's state: (kind, [b_ih, b_hh], …, [packed w_ih, packed w_hh]); the packed
    # linears carry the biases again, which are counted once, from the cell.
    state = obj.__getstate__()[0]
    biases, packed = state[1], state[4]
    ih, hh = (_linear(p, state[0].endswith("fp16")) for p in packed)  # "quantized_fp16"
    out: dict = {"w_ih": ih["weight"], "w_hh": hh["weight"]}
    for k in ("scale", "zero_point"):
        if k in ih:
            out[f"w_ih_{k}"], out[f"w_hh_{k}"] = ih[k], hh[k]
    if len(biases) == 2:
        out["b_ih"], out["b_hh"] = biases[0], biases[1]
    else:  # a float16 cell keeps its biases in its packed linears only
        out["b_ih"], out["b_hh"] = ih["bias"], hh["bias"]
    return out


def unpack(obj: Any, dtype: Any = None) -> Optional[dict]:
    """The tensors (and, for a convolution, the window attributes) a packed object holds;
    ``None`` for a ScriptObject of another kind. ``dtype`` is the one its holder declares."""
    kind = _kind(obj)
    if kind == "LinearPackedParamsBase":
        return _linear(obj, dtype == torch.float16)
    if kind.startswith("Conv") and kind.endswith("PackedParamsBase"):
        return _conv(obj)
    if kind == "CellParamsBase":
        return _cell(obj)
    return None


def key(obj: Any) -> int:
    """A packed object's identity: the dispatcher hands the kernels a new Python wrapper of the
    same C++ object (another ``id()``), whose hash is the object's address."""
    return hash(obj)
