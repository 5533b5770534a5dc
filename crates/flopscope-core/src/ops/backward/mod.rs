//! Backward rules: for one node whose forward was analysed, the MACs and FLOPs of the
//! gradients of the inputs that need one, and the tensors the backward pass reads (what the
//! forward must keep for it). Grouped by family like the forward rules; `docs/counting.md`,
//! "Backward", states every count in words and `docs/training.md` how a step is put together.
//!
//! A rule sees the node's forward context (inputs, attributes), its analysed outputs, which
//! inputs need a gradient and its forward cost. It adds products (MACs, 2 FLOPs each) and other
//! FLOPs to a [`Back`] and lists what it saves. Conventions, as in the forward count:
//! - a product's gradient wrt one operand is one product of the forward's size;
//! - summing a gradient back over broadcast axes (a bias, a broadcast operand) counts one add
//!   per element of the output gradient, as a forward reduction counts one per element read;
//! - an elementwise op's gradient costs its per-element count × `numel(Y)` for each input that
//!   needs it, whatever the input's own size.

use super::{mul, numel, Cost, Ctx, OpError, Tensor};

mod elementwise;
mod fused;
mod loss;
mod norm;
mod pool;
mod products;
mod rnn;
mod shape;
pub mod table;

/// What a node's backward reads that its forward produced or received, kept between the two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Input `i` of the node (counted once per value, and only when it is an activation).
    Input(usize),
    /// Output `i` of the node (likewise).
    Output(usize),
    /// A boolean mask shaped as output `i`, 1 byte per element (Dropout's).
    MaskOf(usize),
    /// Per-row statistics kept in fp32 (a normalization's mean and 1/σ): this many elements.
    Stats(u64),
    /// Int64 indices (MaxPool's argmax): this many elements.
    Indices(u64),
    /// Intermediate activations of a fused op, in the compute precision: this many elements.
    Hidden(u64),
    /// Attention probabilities `[B, H, L, S]` of a fused attention op, in the compute
    /// precision: this many elements, and the forward cost of recomputing them (the scores
    /// product and the softmax) when selective recomputation drops them.
    Scores {
        /// Elements.
        elems: u64,
        /// MACs and FLOPs of recomputing them.
        recompute: Cost,
    },
}

/// The backward of one node: its cost so far and what it saves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Back {
    /// MACs of the gradients' products.
    pub macs: u64,
    /// FLOPs other than those products.
    pub extra: u64,
    /// Tensors read by the backward.
    pub saved: Vec<Saved>,
}

impl Back {
    /// Adds `n` MACs.
    pub fn mac(&mut self, n: u64) -> Result<(), OpError> {
        self.macs = self.macs.checked_add(n).ok_or_else(super::overflow)?;
        Ok(())
    }
    /// Adds `n` FLOPs that are not products.
    pub fn add(&mut self, n: u64) -> Result<(), OpError> {
        self.extra = self.extra.checked_add(n).ok_or_else(super::overflow)?;
        Ok(())
    }
    /// Adds `per` FLOPs for each of `elems` elements.
    pub fn per(&mut self, per: u64, elems: u64) -> Result<(), OpError> {
        self.add(mul(&[per, elems])?)
    }
    /// Records a saved tensor (once).
    pub fn save(&mut self, s: Saved) {
        if !self.saved.contains(&s) {
            self.saved.push(s);
        }
    }
    /// MACs and FLOPs (2 per MAC plus the others).
    pub fn cost(&self) -> Result<Cost, OpError> {
        Cost::products(self.macs, self.extra)
    }
}

/// What a backward rule sees.
pub struct Grad<'a> {
    /// The forward context: node, inputs, opset.
    pub cx: Ctx<'a>,
    /// The node's analysed outputs, by position.
    pub outs: Vec<Option<&'a Tensor>>,
    /// Per input position: whether its gradient is needed.
    pub needs: Vec<bool>,
    /// The node's forward cost.
    pub forward: Cost,
}

impl Grad<'_> {
    /// Whether input `i` needs a gradient.
    pub fn need(&self, i: usize) -> bool {
        self.needs.get(i).copied().unwrap_or(false) && self.cx.opt(i).is_some()
    }
    /// Whether any input needs one.
    pub fn any(&self) -> bool {
        (0..self.needs.len()).any(|i| self.need(i))
    }
    /// Shape of output `i`.
    pub fn out_shape(&self, i: usize) -> Result<&[u64], OpError> {
        self.outs
            .get(i)
            .copied()
            .flatten()
            .and_then(|t| t.shape.as_deref())
            .ok_or(OpError::Unknown)
    }
    /// Elements of output `i`.
    pub fn out_numel(&self, i: usize) -> Result<u64, OpError> {
        numel(self.out_shape(i)?)
    }
    /// The adds that sum output 0's gradient back to input `i`'s shape when `i` needs a
    /// gradient and was broadcast (fewer elements than the output): one per output element.
    pub fn unbroadcast(&self, i: usize) -> Result<u64, OpError> {
        if !self.need(i) {
            return Ok(0);
        }
        let y = self.out_numel(0)?;
        Ok(if self.cx.numel(i)? < y { y } else { 0 })
    }
}

/// A backward rule: adds the gradients' cost and saved tensors of one node to a [`Back`].
pub type BackRule = fn(&Grad, &mut Back) -> Result<(), OpError>;

/// The backward rule of an operator, if this build has one.
pub fn lookup(domain: &str, op: &str) -> Option<BackRule> {
    match domain {
        "" | "ai.onnx" => products::lookup(op)
            .or_else(|| elementwise::lookup(op))
            .or_else(|| norm::lookup(op))
            .or_else(|| pool::lookup(op))
            .or_else(|| loss::lookup(op))
            .or_else(|| rnn::lookup(op))
            .or_else(|| shape::lookup(op)),
        "com.microsoft" => products::lookup_ms(op)
            .or_else(|| fused::lookup_ms(op))
            .or_else(|| elementwise::lookup_ms(op))
            .or_else(|| norm::lookup_ms(op)),
        "com.microsoft.nchwc" => fused::lookup_nchwc(op),
        _ => None,
    }
}

/// Runs `op`'s backward rule on a node (used by the training-step derivation).
pub fn run(rule: BackRule, g: &Grad) -> Result<Back, OpError> {
    let mut b = Back::default();
    rule(g, &mut b)?;
    Ok(b)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Runs one op forward (its shape and cost rules), then its backward rule.
    use super::*;
    use crate::graph::{Attr, Node};

    /// Backward of `op` on `inputs` with `needs` per input: (MACs, FLOPs, saved).
    pub fn back(
        domain: &str,
        op: &str,
        inputs: &[Tensor],
        attrs: &[(String, Attr)],
        needs: &[bool],
    ) -> (u64, u64, Vec<Saved>) {
        let def = crate::ops::lookup(domain, op).expect("forward rule");
        let node = Node {
            name: format!("test_{op}"),
            op_type: op.into(),
            domain: domain.into(),
            inputs: (0..inputs.len()).map(Some).collect(),
            outputs: (100..103).map(Some).collect(),
            attrs: attrs.iter().cloned().collect(),
            scope: vec![],
        };
        let warnings = std::cell::RefCell::new(Vec::new());
        let cx = Ctx {
            node: &node,
            inputs: inputs.iter().map(Some).collect(),
            opset: 18,
            bodies: &crate::ops::NoBodies,
            warnings: &warnings,
        };
        let outs = (def.infer)(&cx).expect("infer");
        let forward = (def.cost)(&cx, &outs).expect("cost");
        let g = Grad {
            cx,
            outs: outs.iter().map(Some).collect(),
            needs: needs.to_vec(),
            forward,
        };
        let rule = lookup(domain, op).expect("backward rule");
        let b = run(rule, &g).expect("backward");
        let c = b.cost().expect("cost");
        (c.macs, c.flops, b.saved)
    }
}
