//! Which initializers are parameters. Floating-point weights are; so are the integer weights
//! of quantized operators (an int8 MatMulInteger weight, a QDQ weight behind a
//! DequantizeLinear, a packed 4-bit MatMulNBits block), counted as the elements of the float
//! weight they stand for. Quantization scales and zero points are not parameters: they are
//! counted apart (`totals.quant_params`). Integer constants (shapes, axes, indices) are
//! neither. See `docs/counting.md`, "Parameters". Counts are checked ([`crate::checked`]).
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use std::collections::HashMap;

use crate::checked::{self, overflow};
use crate::error::Result;
use crate::graph::{Graph, Initializer, Node, ValueId};

/// What an initializer is, from the operator inputs it feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A weight stored as integers, of this many parameters.
    IntWeight(u64),
    /// A quantization scale or zero point.
    QuantParam,
}

/// For a quantized operator: the inputs that are weights and those that are quantization
/// parameters. Inputs are ONNX's and ONNX Runtime's contrib spec's positions.
fn slots(n: &Node) -> Option<(&'static [usize], Vec<usize>)> {
    let q = |v: &[usize]| v.to_vec();
    Some(match n.op_type.as_str() {
        "QuantizeLinear" => (&[], q(&[1, 2])),
        "DequantizeLinear" => (&[0], q(&[1, 2])),
        "MatMulInteger" | "ConvInteger" => (&[0, 1], q(&[2, 3])),
        "MatMulInteger16" => (&[0, 1], q(&[])),
        // X, W, R, B, sequence_lens, initial_h, initial_c, P, W_scale, W_zero_point, R_scale,
        // R_zero_point
        "DynamicQuantizeLSTM" => (&[1, 2], q(&[8, 9, 10, 11])),
        // a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp (, bias for QLinearConv)
        "QLinearMatMul" => (&[0, 3], q(&[1, 2, 4, 5, 6, 7])),
        "QLinearConv" => (&[3, 8], q(&[1, 2, 4, 5, 6, 7])),
        "QLinearAdd" | "QLinearMul" => (&[0, 3], q(&[1, 2, 4, 5, 6, 7])),
        // A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp
        "QGemm" => (&[0, 3, 6], q(&[1, 2, 4, 5, 7, 8])),
        // X, x_scale, x_zp, y_scale, y_zp
        "QLinearGlobalAveragePool"
        | "QLinearAveragePool"
        | "QLinearSigmoid"
        | "QLinearLeakyRelu"
        | "QLinearSoftmax" => (&[], q(&[1, 2, 3, 4])),
        // condition, X, x_scale, x_zp, Y, y_scale, y_zp, z_scale, z_zp
        "QLinearWhere" => (&[2, 5], q(&[3, 4, 6, 7, 8])),
        // Y_scale, Y_zp, then (X, x_scale, x_zp) per input
        "QLinearConcat" => (&[], {
            let mut v = vec![0, 1];
            v.extend((2..n.inputs.len()).filter(|i| i.checked_sub(2).is_some_and(|j| j % 3 != 0)));
            v
        }),
        // A, B, b_scale, b_zero_point, bias
        "DynamicQuantizeMatMul" => (&[1, 4], q(&[2, 3])),
        // A, B, a_scale, b_scale, a_zp, b_zp, bias
        "MatMulIntegerToFloat" => (&[0, 1, 6], q(&[2, 3, 4, 5])),
        // A, B (packed), scales, zero_points, g_idx, bias
        "MatMulNBits" => (&[1, 5], q(&[2, 3])),
        // data (packed), indices, scales, zero_points
        "GatherBlockQuantized" => (&[0], q(&[2, 3])),
        // input, weight, bias, input_scale, weight_scale, mask_index, input_zp, weight_zp
        "QAttention" => (&[1, 2], q(&[3, 4, 6, 7])),
        _ => return None,
    })
}

/// Elements an initializer stores, or the error naming it.
fn stored(g: &Graph, init: &Initializer) -> Result<u64> {
    crate::ops::numel(&init.dims).map_err(|_| {
        overflow(format_args!(
            "the element count of initializer '{}'",
            g.values[init.value].name
        ))
    })
}

/// The name of a packed weight's parameter count, for an overflow.
fn what(n: &Node) -> impl std::fmt::Display + '_ {
    struct Params<'a>(&'a Node);
    impl std::fmt::Display for Params<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "the parameters of node '{}' ({})",
                self.0.name, self.0.op_type
            )
        }
    }
    Params(n)
}

/// Parameters a packed weight stands for, when its stored elements are not its parameters.
fn packed(g: &Graph, n: &Node, input: usize, init: &Initializer) -> Result<u64> {
    let stored = stored(g, init)?;
    Ok(match (n.op_type.as_str(), input) {
        // B is [N, blocks, blob] bytes holding N × K values of `bits` bits.
        ("MatMulNBits", 1) => {
            let (k, nn) = (n.attr_int("K", 0), n.attr_int("N", 0));
            match (u64::try_from(k), u64::try_from(nn)) {
                (Ok(k), Ok(nn)) if k > 0 && nn > 0 => checked::mul(k, nn, what(n))?,
                _ => stored,
            }
        }
        // uint8 bytes holding 8 / bits values each (`bits` is 1 to 8: no division by zero).
        ("GatherBlockQuantized", 0) if init.dtype.bits() == 8 => {
            let bits = n.attr_int("bits", 4).clamp(1, 8).unsigned_abs();
            let per_byte = 8u64.checked_div(bits).unwrap_or(1);
            checked::mul(stored, per_byte, what(n))?
        }
        _ => stored,
    })
}

/// The role of every initializer that feeds a quantized operator; `origin` follows Identity
/// copies back to the initializer (as the profile does for parameters). An error when a
/// weight's parameter count overflows 64 bits (a MatMulNBits whose K × N does).
pub fn roles(
    g: &Graph,
    origin: &dyn Fn(ValueId) -> Option<ValueId>,
) -> Result<HashMap<ValueId, Role>> {
    let mut out = HashMap::new();
    // Dynamic quantization multiplies each weight's scale by the activations' runtime scale
    // (DynamicQuantizeLinear's second output) in a plain Mul: that weight scale is a
    // quantization parameter too.
    let runtime_scales: std::collections::HashSet<ValueId> = g
        .nodes
        .iter()
        .filter(|n| n.op_type == "DynamicQuantizeLinear")
        .filter_map(|n| n.outputs.get(1).copied().flatten())
        .collect();
    for n in g.nodes.iter().filter(|n| n.op_type == "Mul") {
        if n.inputs
            .iter()
            .flatten()
            .any(|v| runtime_scales.contains(v))
        {
            for v in n.inputs.iter().flatten().filter_map(|&v| origin(v)) {
                if matches!(g.values[v].kind, crate::graph::ValueKind::Initializer(_)) {
                    out.insert(v, Role::QuantParam);
                }
            }
        }
    }
    // A dynamically quantized embedding: a Gather of integer rows, dequantized after the
    // gather. The table is a weight.
    let mut producer: HashMap<ValueId, &Node> = HashMap::new();
    for n in &g.nodes {
        for &o in n.outputs.iter().flatten() {
            producer.insert(o, n);
        }
    }
    let init_of = |v: ValueId| -> Option<(ValueId, &Initializer)> {
        let v = origin(v)?;
        match g.values[v].kind {
            crate::graph::ValueKind::Initializer(k) => Some((v, &g.initializers[k])),
            _ => None,
        }
    };
    // An 8- or 4-bit table a Gather reads is a quantized embedding (index tables are int32 or
    // int64).
    for n in g.nodes.iter().filter(|n| n.op_type == "Gather") {
        if let Some((v, init)) = n.input(0).and_then(init_of) {
            if !init.dtype.is_float() && init.dtype.bits() <= 8 {
                out.insert(v, Role::IntWeight(stored(g, init)?));
            }
        }
    }
    // Dynamic quantization rescales an integer product by `Mul(Cast(product), scale)`, the
    // scale being a constant or a Mul of constants (the weight's and a static input's scale).
    let integer_product = |v: ValueId| {
        producer.get(&v).is_some_and(|c| {
            c.op_type == "Cast"
                && c.input(0)
                    .and_then(|p| producer.get(&p))
                    .is_some_and(|p| matches!(p.op_type.as_str(), "MatMulInteger" | "ConvInteger"))
        })
    };
    for m in g.nodes.iter().filter(|n| n.op_type == "Mul") {
        if !m.inputs.iter().flatten().any(|&v| integer_product(v)) {
            continue;
        }
        for &v in m.inputs.iter().flatten() {
            let scales: Vec<ValueId> = match producer.get(&v) {
                Some(p) if p.op_type == "Mul" => p.inputs.iter().flatten().copied().collect(),
                _ => vec![v],
            };
            for s in scales {
                if let Some((s, init)) = init_of(s) {
                    if init.dtype.is_float() {
                        out.insert(s, Role::QuantParam);
                    }
                }
            }
        }
    }
    for n in &g.nodes {
        let Some((weights, quant)) = slots(n) else {
            continue;
        };
        for (i, v) in n.inputs.iter().enumerate() {
            let Some(v) = v.and_then(origin) else {
                continue;
            };
            let crate::graph::ValueKind::Initializer(k) = g.values[v].kind else {
                continue;
            };
            let init = &g.initializers[k];
            if quant.contains(&i) {
                out.entry(v).or_insert(Role::QuantParam);
            } else if weights.contains(&i) && !init.dtype.is_float() {
                out.insert(v, Role::IntWeight(packed(g, n, i, init)?));
            }
        }
    }
    Ok(out)
}

/// Parameters an initializer holds: its elements when it is a floating-point weight, the
/// elements it stands for when it is an integer weight, `None` otherwise.
pub fn params_of(init: &Initializer, role: Option<&Role>) -> Option<u64> {
    match role {
        Some(Role::QuantParam) => None,
        Some(Role::IntWeight(n)) => Some(*n),
        None if init.dtype.is_float() => crate::ops::numel(&init.dims).ok(),
        None => None,
    }
}
