//! Backward of the recurrent ops (backpropagation through time), with T steps, B sequences, D
//! directions, H hidden units, I inputs and G gates (RNN 1, GRU 3, LSTM 4); U = D·T·B·H.
//!
//! Products, each of a forward product's size: the recurrence's dH_prev = dG·R (U·G·H MACs)
//! whenever any gradient is needed (each step's gate gradients depend on the later steps'
//! through R), dX = dG·W (U·G·I) when X needs one, dW = dGᵀ·X (U·G·I) and dR = dGᵀ·H_prev
//! (U·G·H) when W and R do. Per hidden unit and step: each gate's non-linearity backward 3
//! (sigmoid and tanh, as the elementwise rules; LSTM's tanh of the cell one more), the state
//! update's backward (RNN 0; GRU 7: dz, dn, dh_prev and the reset gate's product; LSTM 7: do,
//! the cell's two products, df, di, dg, dc_prev), and the biases' sums 2·G when B needs one.
//! It keeps X, every step's hidden state (and LSTM's cell state) and gate activations.

use super::{Back, BackRule, Grad, Saved};
use crate::ops::rnn::{dims, gates};
use crate::ops::{mul, OpError};

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    matches!(op, "RNN" | "GRU" | "LSTM").then_some(rnn as BackRule)
}

fn rnn(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !g.any() {
        return Ok(());
    }
    let [t, bb, d, h, i] = dims(&g.cx)?;
    let op = g.cx.node.op_type.as_str();
    let gs = gates(op);
    let units = mul(&[d, t, bb, h])?;
    let lstm = u64::from(op == "LSTM");
    b.mac(mul(&[units, gs, h])?)?;
    if g.need(0) {
        b.mac(mul(&[units, gs, i])?)?;
    }
    if g.need(1) {
        b.mac(mul(&[units, gs, i])?)?;
        b.save(Saved::Input(0));
    }
    if g.need(2) {
        b.mac(mul(&[units, gs, h])?)?;
    }
    let update = match op {
        "LSTM" | "GRU" => 7,
        _ => 0,
    };
    let bias = if g.need(3) { 2 * gs } else { 0 };
    b.per(3 * (gs + lstm) + update + bias, units)?;
    // Every step's hidden state (and cell state) and gate activations.
    b.save(Saved::Hidden(mul(&[units, 1 + lstm + gs])?));
    if g.need(0) {
        b.save(Saved::Input(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use crate::ops::testutil::f32t;

    #[test]
    fn lstm_backpropagates_through_time() {
        // T=10, B=2, I=16, H=32, one direction, biases: U = 640. Forward 122,880 MACs
        // (10·2·4·32·48). Backward with X, W, R, B all needing gradients: dH_prev 640·4·32 =
        // 81,920, dX 640·4·16 = 40,960, dW 40,960, dR 81,920: 245,760 MACs (twice the
        // forward). Per unit: gates 3·(4 + 1) = 15, update 7, biases 8: 30 · 640 = 19,200.
        let ins = [
            f32t(&[10, 2, 16]),
            f32t(&[1, 128, 16]),
            f32t(&[1, 128, 32]),
            f32t(&[1, 256]),
        ];
        let (macs, flops, _) = back("", "LSTM", &ins, &[], &[true, true, true, true]);
        assert_eq!((macs, flops), (245_760, 2 * 245_760 + 19_200));
        // The first layer (X needs none): 40,960 fewer MACs.
        let (macs, _, _) = back("", "LSTM", &ins, &[], &[false, true, true, true]);
        assert_eq!(macs, 245_760 - 40_960);
    }
}
