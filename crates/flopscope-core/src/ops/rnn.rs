//! Recurrent family: RNN, GRU, LSTM. See `docs/counting.md`, "Recurrent".
//!
//! With sequence length T, batch B, D directions, hidden size H, input size I and G gates
//! (RNN 1, GRU 3, LSTM 4): MACs = D · T · B · G · H · (I + H) (input and recurrent products).
//! Other FLOPs per step and hidden unit: the biases (2 · G adds when B is given), the gate
//! non-linearities (G, counting each activation as one as for elementwise ops), and the state
//! update (RNN 0, GRU 3: (1 − z) · n + z · h; LSTM 3: f · c + i · g, then o · tanh(c) = 4).

use super::{invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    matches!(op, "RNN" | "GRU" | "LSTM").then_some(OpDef {
        infer: infer_rnn,
        cost: cost_rnn,
    })
}

pub(crate) fn gates(op: &str) -> u64 {
    match op {
        "LSTM" => 4,
        "GRU" => 3,
        _ => 1,
    }
}

/// (T, B, D, H, I)
pub(crate) fn dims(cx: &Ctx) -> Result<[u64; 5], OpError> {
    let x = cx.shape(0)?;
    let w = cx.shape(1)?;
    if x.len() != 3 || w.len() != 3 {
        return invalid(format!("X {x:?} and W {w:?} must be 3-D"));
    }
    let g = gates(&cx.node.op_type);
    let h = match cx.node.attr_int("hidden_size", 0) {
        n if n > 0 => n.unsigned_abs(), // positive: the same value
        _ => w[1] / g,
    };
    if w[1] != g * h || w[2] != x[2] {
        return invalid(format!(
            "W {w:?} does not match {g} gates of hidden size {h} over input {x:?}"
        ));
    }
    let (t, b) = if cx.node.attr_int("layout", 0) == 0 {
        (x[0], x[1])
    } else {
        (x[1], x[0])
    };
    Ok([t, b, w[0], h, x[2]])
}

fn infer_rnn(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let [t, b, d, h, _] = dims(cx)?;
    let dt = cx.dtype(0)?;
    let batch_first = cx.node.attr_int("layout", 0) != 0;
    let y = if batch_first {
        vec![b, t, d, h]
    } else {
        vec![t, d, b, h]
    };
    let state = if batch_first {
        vec![b, d, h]
    } else {
        vec![d, b, h]
    };
    Ok(vec![
        Tensor::new(dt, y),
        Tensor::new(dt, state.clone()),
        Tensor::new(dt, state),
    ])
}

fn cost_rnn(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let [t, b, d, h, i] = dims(cx)?;
    let g = gates(&cx.node.op_type);
    let units = mul(&[d, t, b, h])?;
    let macs = mul(&[units, g, i + h])?;
    let bias = if cx.opt(3).is_some() { 2 * g } else { 0 };
    let update = match cx.node.op_type.as_str() {
        "LSTM" => 4,
        "GRU" => 3,
        _ => 0,
    };
    // LSTM also applies tanh to the cell state once per step: one more non-linearity.
    let activations = g + (cx.node.op_type == "LSTM") as u64;
    Cost::products(macs, mul(&[units, bias + activations + update])?)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn lstm_counts_four_gates_over_input_and_state() {
        // T=10, B=2, I=16, H=32, one direction: MACs = 10·2·4·32·(16+32) = 122,880.
        let r = run1(
            "LSTM",
            &[
                f32t(&[10, 2, 16]),
                f32t(&[1, 128, 16]),
                f32t(&[1, 128, 32]),
                f32t(&[1, 256]),
            ],
            &[a_int("hidden_size", 32)],
        );
        assert_eq!(r.shape, vec![10, 1, 2, 32]);
        assert_eq!(r.cost.macs, 122_880);
        // Per unit-step: 8 bias adds + 5 activations + 4 update = 17; 640 unit-steps.
        assert_eq!(r.cost.flops, 2 * 122_880 + 640 * 17);
    }
}
