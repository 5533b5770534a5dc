//! Backward of the losses. Scores `[N, C, d…]`, labels `[N, d…]` (L labels, S = numel(scores)).
//!
//! NegativeLogLikelihoodLoss: d(scores) is zero but at each label's score, where it is the
//! upstream gradient negated, times the class weight when given, and divided by the count for
//! `mean`: 1 per label, +1 with weights, +1 for `mean` (a scatter, not a product). It reads the
//! labels (and the weights).
//! SoftmaxCrossEntropyLoss: d(scores) = (softmax − one-hot) · upstream, the softmax recovered
//! from the log-probabilities the forward kept (exp: 1 per score), the one-hot subtracted at
//! the labels (1 per label) and the scaling by the upstream gradient, weight and `mean`'s
//! count (1 per score, +1 per label with weights). It keeps the log-probabilities (S elements,
//! the forward's second output) and the labels.

use super::{table, Back, BackRule, Grad, Saved};
use crate::ops::{numel, OpError};

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    Some(match op {
        "NegativeLogLikelihoodLoss" => nll,
        "SoftmaxCrossEntropyLoss" => sce,
        _ => return None,
    })
}

fn labels(g: &Grad) -> Result<u64, OpError> {
    numel(g.cx.shape(1)?)
}

fn nll(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !g.need(0) {
        return Ok(());
    }
    let l = labels(g)?;
    let weighted = u64::from(g.cx.opt(2).is_some());
    let mean = u64::from(g.cx.node.attr_str("reduction").unwrap_or("mean") == "mean");
    b.per(table::nll_per_label(weighted == 1, mean == 1), l)?;
    b.save(Saved::Input(1));
    if weighted == 1 {
        b.save(Saved::Input(2));
    }
    Ok(())
}

fn sce(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !g.need(0) {
        return Ok(());
    }
    let s = g.cx.numel(0)?;
    let l = labels(g)?;
    let weighted = u64::from(g.cx.opt(2).is_some());
    b.per(2, s)?;
    b.per(1 + weighted, l)?;
    b.save(Saved::Hidden(s));
    b.save(Saved::Input(1));
    if weighted == 1 {
        b.save(Saved::Input(2));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::super::Saved;
    use crate::graph::DType;
    use crate::ops::testutil::{a_str, f32t};
    use crate::ops::Tensor;

    #[test]
    fn losses_scatter_into_the_scores() {
        // Scores [4, 10], labels [4]: S = 40, L = 4.
        let ins = [f32t(&[4, 10]), Tensor::new(DType::I64, vec![4])];
        // SCE, mean: exp and scale 2 per score (80), one-hot subtraction 1 per label (4).
        let (macs, flops, saved) = back("", "SoftmaxCrossEntropyLoss", &ins, &[], &[true, false]);
        assert_eq!((macs, flops), (0, 84));
        assert!(saved.contains(&Saved::Hidden(40)) && saved.contains(&Saved::Input(1)));
        // NLL, mean: negate and divide per label (8); with `sum`, 4.
        let (_, flops, _) = back("", "NegativeLogLikelihoodLoss", &ins, &[], &[true, false]);
        assert_eq!(flops, 8);
        let sum = [a_str("reduction", "sum")];
        let (_, flops, _) = back("", "NegativeLogLikelihoodLoss", &ins, &sum, &[true, false]);
        assert_eq!(flops, 4);
    }
}
