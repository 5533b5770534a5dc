//! Loss family: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss. See `docs/counting.md`,
//! "Losses".
//!
//! Scores `[N, C, d…]`, labels `[N, d…]`; L = numel(labels). NegativeLogLikelihoodLoss picks
//! one score per label (a gather: 0) and negates it (1 per label), times the class weight when
//! one is given (1 more); `sum` adds the L losses (L), `mean` adds them and divides once
//! (L + 1), plus L adds for the sum of the picked weights when weights are given.
//! SoftmaxCrossEntropyLoss is LogSoftmax over C (5 per score, as Softmax) followed by that.

use super::{invalid, numel, Cost, Ctx, OpDef, OpError, Tensor};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "NegativeLogLikelihoodLoss" | "SoftmaxCrossEntropyLoss" => OpDef {
            infer: infer_loss,
            cost: cost_loss,
        },
        _ => return None,
    })
}

/// The `reduction` attribute: `none`, `sum` or `mean` (the default).
fn reduction(cx: &Ctx) -> Result<&'static str, OpError> {
    match cx.node.attr_str("reduction").unwrap_or("mean") {
        "none" => Ok("none"),
        "sum" => Ok("sum"),
        "mean" => Ok("mean"),
        r => invalid(format!("reduction '{r}' is not none, sum or mean")),
    }
}

/// Scores `[N, C, d…]` and labels `[N, d…]`: the loss per label (`none`) or a scalar; the
/// softmax variant also gives the log-probabilities, shaped as the scores.
fn infer_loss(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let t = cx.shape(1)?;
    if x.len() < 2 {
        return invalid(format!("scores {x:?} have rank < 2 (need [N, C, ...])"));
    }
    let mut want = vec![x[0]];
    want.extend_from_slice(&x[2..]);
    if t != want.as_slice() {
        return invalid(format!(
            "labels {t:?} do not match scores {x:?} (expected {want:?})"
        ));
    }
    if let Some(w) = cx.opt(2).and_then(|w| w.shape.as_deref()) {
        if w != [x[1]] {
            return invalid(format!("weights {w:?} are not [C] = [{}]", x[1]));
        }
    }
    let dt = cx.dtype(0)?;
    let loss = if reduction(cx)? == "none" {
        t.to_vec()
    } else {
        vec![]
    };
    let mut outs = vec![Tensor::new(dt, loss)];
    if cx.node.op_type == "SoftmaxCrossEntropyLoss" {
        outs.push(Tensor::new(dt, x.to_vec()));
    }
    Ok(outs)
}

fn cost_loss(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    if !cx.dtype(0)?.is_float() {
        return Ok(Cost::default());
    }
    let l = cx.numel(1)?;
    let weighted = cx.opt(2).is_some();
    let per_label = if weighted { 2 } else { 1 };
    let reduce = match reduction(cx)? {
        "none" => 0,
        "sum" => l,
        // mean: the sum and one division; with weights, the picked weights are summed too.
        _ => l
            .checked_mul(if weighted { 2 } else { 1 })
            .and_then(|v| v.checked_add(1))
            .ok_or_else(super::overflow)?,
    };
    let softmax = if cx.node.op_type == "SoftmaxCrossEntropyLoss" {
        numel(cx.shape(0)?)?
            .checked_mul(5)
            .ok_or_else(super::overflow)?
    } else {
        0
    };
    let f = l
        .checked_mul(per_label)
        .and_then(|v| v.checked_add(reduce))
        .and_then(|v| v.checked_add(softmax))
        .ok_or_else(super::overflow)?;
    Ok(Cost::flops(f))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn nll_loss_none_sum_mean() {
        // input [3,5,6,6], target [3,6,6]: L = 108 labels.
        let (x, t) = (f32t(&[3, 5, 6, 6]), i64t(&[3, 6, 6]));
        let r = run1(
            "NegativeLogLikelihoodLoss",
            &[x.clone(), t.clone()],
            &[a_str("reduction", "none")],
        );
        assert_eq!(r.shape, vec![3, 6, 6]);
        assert_eq!(r.cost.flops, 108); // one negation per label
        assert_eq!(r.cost.macs, 0);
        let r = run1(
            "NegativeLogLikelihoodLoss",
            &[x.clone(), t.clone()],
            &[a_str("reduction", "sum")],
        );
        assert!(r.shape.is_empty());
        assert_eq!(r.cost.flops, 108 + 108);
        // Default mean with weights: 2 per label (negate, weight), 108 adds of the losses,
        // 108 adds of the picked weights, 1 division.
        let r = run1("NegativeLogLikelihoodLoss", &[x, t, f32t(&[5])], &[]);
        assert!(r.shape.is_empty());
        assert_eq!(r.outs[0].dtype, crate::graph::DType::F32);
        assert_eq!(r.cost.flops, 216 + 108 + 108 + 1);
    }

    #[test]
    fn softmax_cross_entropy_adds_log_softmax_and_log_prob() {
        // scores [3,5], labels [3], mean: LogSoftmax 5·15 = 75, negate 3, sum 3, divide 1.
        let r = run1("SoftmaxCrossEntropyLoss", &[f32t(&[3, 5]), i64t(&[3])], &[]);
        assert!(r.shape.is_empty());
        assert_eq!(r.outs[1].shape, Some(vec![3, 5]));
        assert_eq!(r.cost.flops, 75 + 3 + 3 + 1);
        // none, [3,5,2] scores: loss [3,2].
        let r = run1(
            "SoftmaxCrossEntropyLoss",
            &[f32t(&[3, 5, 2]), i64t(&[3, 2])],
            &[a_str("reduction", "none")],
        );
        assert_eq!(r.shape, vec![3, 2]);
        assert_eq!(r.cost.flops, 5 * 30 + 6);
    }

    #[test]
    fn loss_labels_must_match_scores() {
        let m = run_err(
            "NegativeLogLikelihoodLoss",
            &[f32t(&[3, 5, 2]), i64t(&[3, 3])],
            &[],
        );
        assert!(m.contains("labels"), "{m}");
        let m = run_err(
            "SoftmaxCrossEntropyLoss",
            &[f32t(&[3, 5]), i64t(&[3])],
            &[a_str("reduction", "avg")],
        );
        assert!(m.contains("reduction"), "{m}");
    }
}
