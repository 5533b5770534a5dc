//! Backward of elementwise ops: the vector-Jacobian product per element, times `numel(Y)` for
//! each input that needs it, plus the adds that sum a broadcast input's gradient back to its
//! shape (`numel(Y)`, as a reduction counts). Counts are the primitives of PyTorch's backward
//! formulas (`derivatives.yaml`), a transcendental counting 1 as in the forward.

use super::{table, Back, BackRule, Grad, Saved};
use crate::ops::OpError;

/// What a unary op's backward reads.
#[derive(Clone, Copy)]
pub(super) enum Reads {
    Nothing,
    Input,
    Output,
}

/// FLOPs per element of a unary op's gradient and what it reads; `None` for ops without a
/// rule here.
pub(super) fn unary_vjp(op: &str, tanh: bool) -> Option<(u64, Reads)> {
    use Reads::*;
    Some(match op {
        // Zero or identity gradients.
        "Identity" | "Cast" | "CastLike" | "Floor" | "Ceil" | "Round" | "Sign" => (0, Nothing),
        "Neg" => (1, Nothing),
        // The shared ones (`table`, each derived there) first.
        "Relu" => (table::RELU, Output),
        "ThresholdedRelu" => (table::RELU, Input),
        "LeakyRelu" => (table::LEAKY_RELU, Input),
        "Clip" => (table::CLIP, Input),
        "Abs" => (2, Input),
        "Sigmoid" => (table::SIGMOID, Output),
        "Tanh" => (table::TANH, Output),
        "Exp" => (1, Output),
        "Log" => (1, Input),
        // dy / (2·y).
        "Sqrt" => (2, Output),
        // −dy·y².
        "Reciprocal" => (3, Output),
        // dy·(2/√π)·exp(−x²): square, negate, exp, two products.
        "Erf" => (5, Input),
        "Sin" | "Sinh" | "Cosh" => (2, Input),
        "Cos" => (3, Input),
        // dy·(1 + y²).
        "Tan" => (3, Output),
        "Atan" | "Atanh" => (3, Input),
        "Asin" | "Asinh" | "Acosh" => (4, Input),
        "Acos" => (5, Input),
        "Softplus" => (table::SOFTPLUS, Input),
        // dy / (1 + |x|)².
        "Softsign" => (4, Input),
        "Elu" | "Selu" | "Celu" => (table::ELU, Output),
        "HardSigmoid" => (table::HARD_SIGMOID, Input),
        "HardSwish" => (table::HARD_SWISH, Input),
        "Swish" => (table::SILU, Input),
        "Mish" => (table::MISH, Input),
        "Gelu" if tanh => (table::GELU_TANH, Input),
        "Gelu" => (table::GELU_ERF, Input),
        _ => return None,
    })
}

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    if unary_vjp(op, false).is_some() {
        return Some(unary);
    }
    Some(match op {
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "PRelu" => binary,
        "Where" => select,
        "Dropout" => dropout,
        _ => return None,
    })
}

/// `com.microsoft` rules: the Gelu family and BiasAdd.
pub fn lookup_ms(op: &str) -> Option<BackRule> {
    Some(match op {
        "Gelu" | "FastGelu" | "BiasGelu" | "QuickGelu" | "BiasAdd" => ms_gelu,
        _ => return None,
    })
}

fn unary(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !g.need(0) {
        return Ok(());
    }
    let tanh = g.cx.node.attr_str("approximate") == Some("tanh");
    let (per, reads) = unary_vjp(&g.cx.node.op_type, tanh).ok_or(OpError::Unknown)?;
    b.per(per, g.out_numel(0)?)?;
    match reads {
        Reads::Nothing => {}
        Reads::Input => b.save(Saved::Input(0)),
        Reads::Output => b.save(Saved::Output(0)),
    }
    Ok(())
}

/// Binary and variadic ops: per needed input `i`, FLOPs per output element and the tensors
/// read. Add 0; Sub 0 and 1 (the negation); Mul 1 (reads the other); Div 1 (dY / B, reads B)
/// and 3 (−dY·Y / B, reads Y and B); Pow 4 (b·a^(b−1)·dY, reads both) and 3 (dY·Y·ln a);
/// Max/Min 2 (compare with Y, select; reads inputs and Y); Sum 0; Mean 1 (the division);
/// PRelu 2 for X (compare, scale) and 2 for the slope (dY·x masked).
fn binary(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let op = g.cx.node.op_type.as_str();
    let y = g.out_numel(0)?;
    let n = g.cx.inputs.len();
    for i in (0..n).filter(|&i| g.need(i)) {
        let (per, reads): (u64, &[Saved]) = match (op, i) {
            ("Add" | "Sum", _) => (0, &[]),
            ("Sub", 0) => (0, &[]),
            ("Sub", _) => (1, &[]),
            ("Mul", 0) => (1, &[Saved::Input(1)]),
            ("Mul", _) => (1, &[Saved::Input(0)]),
            ("Div", 0) => (1, &[Saved::Input(1)]),
            ("Div", _) => (3, &[Saved::Input(1), Saved::Output(0)]),
            ("Pow", 0) => (4, &[Saved::Input(0), Saved::Input(1)]),
            ("Pow", _) => (3, &[Saved::Input(0), Saved::Output(0)]),
            ("Mean", _) => (1, &[]),
            ("PRelu", _) => (2, &[Saved::Input(0), Saved::Input(1)]),
            // Max, Min: compare each input with Y.
            _ => (2, &[Saved::Output(0)]),
        };
        b.per(per, y)?;
        b.add(g.unbroadcast(i)?)?;
        for &s in reads {
            b.save(s);
        }
        if matches!(op, "Max" | "Min") {
            b.save(Saved::Input(i));
        }
    }
    Ok(())
}

/// Where(c, a, b): each needed branch takes dY where its side was chosen (a select per
/// output element) and sums back over its broadcast axes; reads the condition.
fn select(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let y = g.out_numel(0)?;
    for i in [1, 2].into_iter().filter(|&i| g.need(i)) {
        b.add(y)?;
        b.add(g.unbroadcast(i)?)?;
        b.save(Saved::Input(0));
    }
    Ok(())
}

/// Dropout, counted as in training: dY times the kept mask and the 1/(1 − p) scale (2 per
/// element); the mask is kept, 1 byte per element.
fn dropout(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        b.per(table::DROPOUT, g.out_numel(0)?)?;
        b.save(Saved::MaskOf(0));
    }
    Ok(())
}

/// `com.microsoft` Gelu (11 per element, as ONNX's), FastGelu (18, the tanh form), BiasGelu
/// (11, on X + bias), QuickGelu (x·sigmoid(αx): the sigmoid 4, αx 1, then 5 as Swish's) and
/// BiasAdd (0); a bias input's gradient sums dY back to it (`numel(Y)` adds).
fn ms_gelu(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let per = match g.cx.node.op_type.as_str() {
        "Gelu" | "BiasGelu" => table::GELU_ERF,
        "FastGelu" => table::GELU_TANH,
        // αx, then Swish's.
        "QuickGelu" => 1 + table::SILU,
        _ => 0,
    };
    let y = g.out_numel(0)?;
    let n = g.cx.inputs.len();
    if (0..n).any(|i| g.need(i)) && per > 0 {
        b.per(per, y)?;
        b.save(Saved::Input(0));
        if g.cx.node.op_type != "QuickGelu" && g.cx.opt(1).is_some() {
            b.save(Saved::Input(1));
        }
    }
    for i in 1..n {
        b.add(g.unbroadcast(i)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::*;
    use crate::ops::testutil::{a_str, f32t};

    #[test]
    fn unary_gradients_per_element() {
        // Relu on [2,3,4]: 24 elements, 1 FLOP each (the mask), reads its output.
        let (m, f, s) = back("", "Relu", &[f32t(&[2, 3, 4])], &[], &[true]);
        assert_eq!((m, f, s), (0, 24, vec![Saved::Output(0)]));
        // Sigmoid 3, Gelu 11, tanh Gelu 18 per element.
        assert_eq!(back("", "Sigmoid", &[f32t(&[10])], &[], &[true]).1, 30);
        assert_eq!(back("", "Gelu", &[f32t(&[10])], &[], &[true]).1, 110);
        let tanh = [a_str("approximate", "tanh")];
        assert_eq!(back("", "Gelu", &[f32t(&[10])], &tanh, &[true]).1, 180);
        // Nothing needed: nothing counted.
        assert_eq!(back("", "Relu", &[f32t(&[10])], &[], &[false]).1, 0);
    }

    #[test]
    fn binary_gradients_and_broadcast_reductions() {
        // [8,7,5] + [7,1] (a bias-like operand): dA is dY (0 FLOPs); dB sums 280 elements.
        let ins = [f32t(&[8, 7, 5]), f32t(&[7, 1])];
        assert_eq!(back("", "Add", &ins, &[], &[true, true]).1, 280);
        // Mul: 280 products per operand, + 280 adds for the broadcast one: 840.
        let (_, f, s) = back("", "Mul", &ins, &[], &[true, true]);
        assert_eq!(f, 840);
        assert_eq!(s, vec![Saved::Input(1), Saved::Input(0)]);
        // Div with only the divisor needing a gradient: 3·280 + 280 = 1,120.
        assert_eq!(back("", "Div", &ins, &[], &[false, true]).1, 1_120);
        // Sub, same shapes [4]: dB is −dY, 4 negations.
        let same = [f32t(&[4]), f32t(&[4])];
        assert_eq!(back("", "Sub", &same, &[], &[true, true]).1, 4);
    }

    #[test]
    fn dropout_keeps_a_mask() {
        let (_, f, s) = back("", "Dropout", &[f32t(&[2, 64])], &[], &[true]);
        assert_eq!((f, s), (256, vec![Saved::MaskOf(0)]));
    }
}
