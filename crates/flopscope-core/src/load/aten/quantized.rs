//! Quantized PyTorch operators (`torch.ao.quantization`): each call becomes the ONNX or ONNX
//! Runtime operator of the same computation, so that a quantized module is counted as its
//! quantized ONNX export is (`docs/counting.md`, "Quantized operators").
//!
//! The recorder passes a packed weight (a `LinearPackedParamsBase`, `Conv2dPackedParamsBase`
//! or `rnn.CellParamsBase` ScriptObject) as an object of the tensors it holds, each a
//! parameter of the trace: `{"weight": {"v": 3}, "bias": {"v": 4}, "scale": {"v": 5},
//! "zero_point": {"v": 6}}`, a convolution's with its window attributes, an LSTM cell's as
//! `w_ih`, `w_hh`, `b_ih`, `b_hh` and the weights' `_scale`/`_zero_point`
//! (`python/flopscope/_packed.py`).
//!
//! - `quantized::linear_dynamic` → `DynamicQuantizeMatMul`; `linear_dynamic_fp16` → MatMul and
//!   the bias's Add.
//! - `aten::quantized_lstm` → one `DynamicQuantizeLSTM` (a float16 cell: `LSTM`) per layer and
//!   direction, whose outputs are joined as PyTorch returns them.
//! - `quantized::linear` → `QGemm` with an output scale; `quantized::conv{1,2,3}d` →
//!   `QLinearConv` (the `_relu` variants too: the ReLU is the requantization's clamp).
//! - `aten::quantize_per_tensor`/`quantize_per_channel` → `QuantizeLinear`, `aten::dequantize`
//!   → `DequantizeLinear`.

use serde_json::Value as J;

use super::{first, generic, ints, Call, Emit, R};
use crate::graph::{Attr, DType, ValueId};

/// The nodes of `c` when it is a quantized operator.
pub(super) fn translate(e: &mut Emit, c: &Call) -> Option<R> {
    let r = match (c.namespace(), c.name()) {
        ("quantized", "linear_dynamic") => linear_dynamic(e, c),
        ("quantized", "linear_dynamic_fp16") => linear_fp16(e, c),
        ("quantized", "linear" | "linear_relu") => linear_static(e, c),
        ("quantized", op) if conv_op(op) => conv_static(e, c),
        ("aten", "quantized_lstm") => lstm(e, c),
        // One tensor (`dequantize.tensors`, a list, stays an unknown `aten` node).
        ("aten", "quantize_per_tensor" | "quantize_per_channel") if Emit::is_tensor(c, "self") => {
            qdq(e, c, "QuantizeLinear")
        }
        ("aten", "dequantize") if Emit::is_tensor(c, "self") => qdq(e, c, "DequantizeLinear"),
        _ => return None,
    };
    Some(r)
}

/// (De)quantizing one tensor, its scale and zero point the tensor's own or numbers: 2
/// operations per element, as QuantizeLinear and DequantizeLinear.
fn qdq(e: &mut Emit, c: &Call, op: &str) -> R {
    let x = e.req(c, "self")?;
    e.node("", op, vec![Some(x)], c.outputs.clone(), vec![])
}

fn conv_op(op: &str) -> bool {
    matches!(
        op,
        "conv1d" | "conv2d" | "conv3d" | "conv1d_relu" | "conv2d_relu" | "conv3d_relu"
    )
}

/// The packed-weight argument of `c` (the first of `names` present): an object of tensors.
fn packed<'c>(c: &'c Call, names: &[&str]) -> Result<&'c serde_json::Map<String, J>, String> {
    names
        .iter()
        .find_map(|n| c.args.get(n))
        .and_then(J::as_object)
        .ok_or_else(|| {
            format!(
                "argument '{}' is not an unpacked weight (an object of tensors)",
                names[0]
            )
        })
}

/// A tensor of a packed weight; `None` when absent or null (no bias).
fn part(e: &Emit, p: &serde_json::Map<String, J>, key: &str) -> Result<Option<ValueId>, String> {
    match p.get(key) {
        Some(j @ J::Object(_)) => e.tensor_of(j).map(Some),
        _ => Ok(None),
    }
}

fn req_part(e: &Emit, p: &serde_json::Map<String, J>, key: &str) -> Result<ValueId, String> {
    part(e, p, key)?.ok_or_else(|| format!("the packed weight has no '{key}'"))
}

/// `linear_dynamic(X, W_prepack, reduce_range)`: X quantized at run time, the int8 product,
/// rescaled to float, the bias added: ONNX Runtime's DynamicQuantizeMatMul (A, B `[K, N]`,
/// b_scale, b_zero_point, bias).
fn linear_dynamic(e: &mut Emit, c: &Call) -> R {
    let x = e.req(c, "X")?;
    let p = packed(c, &["W_prepack"])?;
    let (w, bias) = (req_part(e, p, "weight")?, part(e, p, "bias")?);
    let (scale, zp) = (part(e, p, "scale")?, part(e, p, "zero_point")?);
    let wt = e.t(w)?;
    let ins = vec![Some(x), Some(wt), scale, zp, bias];
    e.node(
        "com.microsoft",
        "DynamicQuantizeMatMul",
        ins,
        c.outputs.clone(),
        vec![],
    )
}

/// `linear_dynamic_fp16(X, W_prepack)`: a float16-stored weight, a float product: MatMul and
/// the bias's Add.
fn linear_fp16(e: &mut Emit, c: &Call) -> R {
    let x = e.req(c, "X")?;
    let p = packed(c, &["W_prepack"])?;
    let (w, bias) = (req_part(e, p, "weight")?, part(e, p, "bias")?);
    let wt = e.t(w)?;
    let Some(b) = bias else {
        return e.node(
            "",
            "MatMul",
            vec![Some(x), Some(wt)],
            c.outputs.clone(),
            vec![],
        );
    };
    let out = first(&c.outputs)?;
    let (dt, shape) = (e.dtype(out), e.shape(out));
    let y = e.op("MatMul", vec![Some(x), Some(wt)], vec![], dt, &shape)?;
    e.node("", "Add", vec![Some(y), Some(b)], c.outputs.clone(), vec![])
}

/// A requantized output's scale and zero point, arguments of the call: scalar constants.
fn output_quant(e: &mut Emit, c: &Call, scale: &[&str], zp: &[&str]) -> [Option<ValueId>; 2] {
    let s = scale.iter().find_map(|n| Emit::num(c, n));
    let z = zp.iter().find_map(|n| Emit::num(c, n));
    [
        s.map(|s| e.scalar(s, DType::F32)),
        z.map(|z| e.scalar(z, DType::U8)),
    ]
}

/// `quantized::linear(X, W_prepack, Y_scale, Y_zero_point)`: QGemm (A, a_scale, a_zp, B,
/// b_scale, b_zp, C, y_scale, y_zp) with B transposed, as Gemm plus 2 per output element.
fn linear_static(e: &mut Emit, c: &Call) -> R {
    let x = e.req(c, "X")?;
    let p = packed(c, &["W_prepack"])?;
    let (w, bias) = (req_part(e, p, "weight")?, part(e, p, "bias")?);
    let (scale, zp) = (part(e, p, "scale")?, part(e, p, "zero_point")?);
    if e.shape(x).len() != 2 {
        return generic(e, c, "quantized"); // Gemm is 2-D; a batched one stays unknown
    }
    let [ys, yz] = output_quant(
        e,
        c,
        &["Y_scale_i", "Y_scale"],
        &["Y_zero_point_i", "Y_zero_point"],
    );
    let ins = vec![Some(x), None, None, Some(w), scale, zp, bias, ys, yz];
    let attrs = vec![("transB", Attr::Int(1))];
    e.node("com.microsoft", "QGemm", ins, c.outputs.clone(), attrs)
}

/// `quantized::conv2d(qx, packed_weight, output_scale, output_zero_point)`: QLinearConv (x,
/// x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias), the window from the packed weight.
fn conv_static(e: &mut Emit, c: &Call) -> R {
    let x = e.req(c, "qx")?;
    let p = packed(c, &["packed_weight", "weight"])?;
    if p.get("transposed").and_then(J::as_bool) == Some(true) {
        return generic(e, c, "quantized");
    }
    let (w, bias) = (req_part(e, p, "weight")?, part(e, p, "bias")?);
    let (scale, zp) = (part(e, p, "scale")?, part(e, p, "zero_point")?);
    let kernel: Vec<i64> = e.shape(w).iter().skip(2).map(|&d| d as i64).collect();
    let list = |k: &str| -> Result<Vec<i64>, String> {
        let v: Option<Vec<i64>> = p
            .get(k)
            .and_then(J::as_array)
            .map(|a| a.iter().map(J::as_i64).collect())
            .unwrap_or(Some(vec![]));
        v.ok_or_else(|| format!("the packed weight's '{k}' is not a list of integers"))
    };
    let pad = list("padding")?;
    let group = p.get("groups").and_then(J::as_i64).unwrap_or(1);
    let attrs = vec![
        ("kernel_shape", ints(kernel)),
        ("strides", ints(list("stride")?)),
        ("dilations", ints(list("dilation")?)),
        ("pads", ints(pad.iter().chain(&pad).copied().collect())),
        ("group", Attr::Int(group)),
    ];
    let [ys, yz] = output_quant(e, c, &["output_scale"], &["output_zero_point"]);
    let ins = vec![Some(x), None, None, Some(w), scale, zp, ys, yz, bias];
    e.node("", "QLinearConv", ins, c.outputs.clone(), attrs)
}

/// `quantized_lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
/// batch_first)`: per layer and direction one DynamicQuantizeLSTM (X, W `[1, I, 4H]`, R `[1,
/// H, 4H]`, B `[1, 8H]`, …, W_scale, W_zero_point, R_scale, R_zero_point) or, for a float16
/// cell, one LSTM (W `[1, 4H, I]`, R `[1, 4H, H]`). Each layer's directions are joined into
/// the next layer's input; the last layer's are the output, the final states `hy` and `cy`.
fn lstm(e: &mut Emit, c: &Call) -> R {
    let input = e.req(c, "input")?;
    let cells = c
        .args
        .get("params")
        .and_then(J::as_array)
        .ok_or("argument 'params' is not a list of unpacked cells")?;
    let layers = usize::try_from(Emit::int(c, "num_layers", 1)?).map_err(|e| e.to_string())?;
    let dirs = if Emit::flag(c, "bidirectional") { 2 } else { 1 };
    let batch_first = Emit::flag(c, "batch_first");
    if layers == 0 || cells.len() != layers * dirs {
        return Err(format!(
            "{} cells for {layers} layers of {dirs} direction(s)",
            cells.len()
        ));
    }
    let xs = e.shape(input);
    if xs.len() != 3 {
        return Err(format!("input {xs:?} is not [T, B, I] or [B, T, I]"));
    }
    let (t, b) = if batch_first {
        (xs[1], xs[0])
    } else {
        (xs[0], xs[1])
    };
    let dt = e.dtype(input);
    let (mut x, mut states) = (input, (vec![], vec![]));
    for layer in 0..layers {
        let mut ys = vec![];
        let mut h = 0;
        for d in 0..dirs {
            let cell = cells[layer * dirs + d]
                .as_object()
                .ok_or("a cell of 'params' is not an unpacked cell")?;
            let (y, yh, yc, hidden) = lstm_cell(e, cell, x, d == 1, batch_first, [t, b], dt)?;
            ys.push(Some(y));
            states.0.push(Some(yh));
            states.1.push(Some(yc));
            h = hidden;
        }
        // The directions side by side, as the next layer's input (or the output).
        let joined = if batch_first {
            [b, t, dirs as u64 * h]
        } else {
            [t, b, dirs as u64 * h]
        };
        x = if layer + 1 == layers {
            first(&c.outputs)?
        } else {
            e.value(dt, &joined)
        };
        e.node("aten", "cat", ys, vec![Some(x)], vec![])?;
    }
    // hy and cy stack every layer's and direction's final state.
    let outs = &c.outputs;
    if let Some(hy) = outs.get(1).copied().flatten() {
        e.node("aten", "cat", states.0, vec![Some(hy)], vec![])?;
    }
    if let Some(cy) = outs.get(2).copied().flatten() {
        e.node("aten", "cat", states.1, vec![Some(cy)], vec![])?;
    }
    Ok(())
}

/// One LSTM layer in one direction; returns its Y, Y_h, Y_c and the hidden size.
fn lstm_cell(
    e: &mut Emit,
    cell: &serde_json::Map<String, J>,
    x: ValueId,
    reverse: bool,
    batch_first: bool,
    [t, b]: [u64; 2],
    dt: DType,
) -> Result<(ValueId, ValueId, ValueId, u64), String> {
    let (w_ih, w_hh) = (req_part(e, cell, "w_ih")?, req_part(e, cell, "w_hh")?);
    let (ws, hs) = (e.shape(w_ih), e.shape(w_hh));
    if ws.len() != 2 || hs.len() != 2 {
        return Err(format!("cell weights {ws:?} and {hs:?} are not matrices"));
    }
    let h = hs[1];
    let scales = [
        part(e, cell, "w_ih_scale")?,
        part(e, cell, "w_ih_zero_point")?,
        part(e, cell, "w_hh_scale")?,
        part(e, cell, "w_hh_zero_point")?,
    ];
    let quantized = scales[0].is_some();
    // DynamicQuantizeLSTM takes W and R transposed ([1, I, 4H]); LSTM as PyTorch stores them.
    let (w, r) = if quantized {
        let (wt, rt) = (e.t(w_ih)?, e.t(w_hh)?);
        (unsqueeze(e, wt)?, unsqueeze(e, rt)?)
    } else {
        (unsqueeze(e, w_ih)?, unsqueeze(e, w_hh)?)
    };
    let bias = match (part(e, cell, "b_ih")?, part(e, cell, "b_hh")?) {
        (Some(bi), Some(bh)) => {
            let both = e.value(e.dtype(bi), &[8 * h]);
            e.node(
                "aten",
                "cat",
                vec![Some(bi), Some(bh)],
                vec![Some(both)],
                vec![],
            )?;
            Some(unsqueeze(e, both)?)
        }
        _ => None,
    };
    let (y_shape, state) = if batch_first {
        ([b, t, 1, h], [b, 1, h])
    } else {
        ([t, 1, b, h], [1, b, h])
    };
    let y = e.value(dt, &y_shape);
    let (yh, yc) = (e.value(dt, &state), e.value(dt, &state));
    let mut ins = vec![Some(x), Some(w), Some(r), bias];
    let (domain, op) = if quantized {
        ins.extend([None, None, None, None]);
        ins.extend(scales);
        ("com.microsoft", "DynamicQuantizeLSTM")
    } else {
        ("", "LSTM")
    };
    let h_attr = i64::try_from(h).map_err(|e| e.to_string())?;
    let attrs = vec![
        ("hidden_size", Attr::Int(h_attr)),
        ("layout", Attr::Int(i64::from(batch_first))),
        (
            "direction",
            Attr::Str(if reverse { "reverse" } else { "forward" }.into()),
        ),
    ];
    e.node(domain, op, ins, vec![Some(y), Some(yh), Some(yc)], attrs)?;
    Ok((y, yh, yc, h))
}

/// `v.unsqueeze(0)`: a view.
fn unsqueeze(e: &mut Emit, v: ValueId) -> Result<ValueId, String> {
    let mut shape = e.shape(v);
    shape.insert(0, 1);
    let out = e.value(e.dtype(v), &shape);
    e.node("aten", "unsqueeze", vec![Some(v)], vec![Some(out)], vec![])?;
    Ok(out)
}
