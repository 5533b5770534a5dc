//! Backward of pooling, resampling and reductions (the gradient of input 0).
//!
//! - MaxPool routes each output's gradient to its argmax, accumulated into a zeroed dX (windows
//!   overlap): `numel(Y)` adds; reads the argmax indices (int64, `numel(Y)`).
//! - AveragePool and GlobalAveragePool divide each output's gradient by its window and spread
//!   it over the window: the transposed operation, the forward's FLOPs; reads nothing.
//! - GlobalMaxPool and ReduceMax/Min compare X with the broadcast Y and select dY: 2 per
//!   element of X (GlobalMaxPool: 1, the compare and select of one window); read X and Y.
//! - Resize/Upsample: `nearest` sums the gradients of the copies of each input (`numel(Y)`
//!   adds); the interpolating modes are the transposed linear map, the forward's FLOPs.
//! - Reductions: ReduceSum broadcasts dY (0); ReduceMean and ReduceLogSum divide it once per
//!   output (`numel(Y)`); per element of X, ReduceSumSquare 2 (2x·dy), ReduceL1 2 (sign, product),
//!   ReduceL2 2 (x/y·dy), ReduceProd 2 (y/x·dy), ReduceLogSumExp 3 (exp(x − y)·dy); CumSum 1
//!   (the reverse cumulative sum); TopK scatters the values' gradient (`numel(values)` adds)
//!   and reads the indices.

use super::{Back, BackRule, Grad, Saved};
use crate::ops::{mul, OpError};

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    Some(match op {
        "MaxPool" => max_pool,
        "AveragePool" | "GlobalAveragePool" => same_as_forward,
        "GlobalMaxPool" => global_max_pool,
        "Resize" | "Upsample" => resize,
        "ReduceSum" | "ReduceMean" | "ReduceLogSum" | "ReduceMax" | "ReduceMin"
        | "ReduceSumSquare" | "ReduceL1" | "ReduceL2" | "ReduceProd" | "ReduceLogSumExp"
        | "CumSum" => reduce,
        "TopK" => top_k,
        _ => return None,
    })
}

fn max_pool(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        let y = g.out_numel(0)?;
        b.per(super::table::SCATTER_ADD, y)?;
        b.save(Saved::Indices(y));
    }
    Ok(())
}

fn same_as_forward(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        b.add(g.forward.flops)?;
    }
    Ok(())
}

fn global_max_pool(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        b.add(g.cx.numel(0)?)?;
        b.save(Saved::Input(0));
        b.save(Saved::Output(0));
    }
    Ok(())
}

fn resize(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !g.need(0) {
        return Ok(());
    }
    if g.cx.node.attr_str("mode").unwrap_or("nearest") == "nearest" {
        b.add(g.out_numel(0)?)
    } else {
        b.add(g.forward.flops)
    }
}

fn reduce(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !g.need(0) {
        return Ok(());
    }
    let x = g.cx.numel(0)?;
    let y = g.out_numel(0)?;
    let (flops, reads): (u64, &[Saved]) = match g.cx.node.op_type.as_str() {
        "ReduceSum" => (0, &[]),
        "ReduceMean" => (y, &[]),
        "ReduceLogSum" => (y, &[Saved::Output(0)]),
        "ReduceSumSquare" | "ReduceL1" => (mul(&[2, x])?, &[Saved::Input(0)]),
        "ReduceLogSumExp" => (mul(&[3, x])?, &[Saved::Input(0), Saved::Output(0)]),
        "CumSum" => (x, &[]),
        // ReduceMax, ReduceMin, ReduceL2, ReduceProd.
        _ => (mul(&[2, x])?, &[Saved::Input(0), Saved::Output(0)]),
    };
    b.add(flops)?;
    for &s in reads {
        b.save(s);
    }
    Ok(())
}

fn top_k(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        b.add(g.out_numel(0)?)?;
        b.save(Saved::Output(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::*;
    use crate::ops::testutil::{a_int, a_ints, f32t};

    #[test]
    fn pooling_backward_by_hand() {
        // MaxPool 3×3 stride 2 pad 1 on [1,64,112,112] → [1,64,56,56] = 200,704 outputs: one
        // add each, and 200,704 int64 indices kept.
        let at = [
            a_ints("kernel_shape", &[3, 3]),
            a_ints("strides", &[2, 2]),
            a_ints("pads", &[1, 1, 1, 1]),
        ];
        let (_, f, s) = back("", "MaxPool", &[f32t(&[1, 64, 112, 112])], &at, &[true]);
        assert_eq!((f, s), (200_704, vec![Saved::Indices(200_704)]));
        // GlobalAveragePool on [1,512,7,7]: as its forward, 512·49 + 512 = 25,600.
        let (_, f, _) = back(
            "",
            "GlobalAveragePool",
            &[f32t(&[1, 512, 7, 7])],
            &[],
            &[true],
        );
        assert_eq!(f, 25_600);
    }

    #[test]
    fn reductions_backward_by_hand() {
        // ReduceMean over the last axis of [4,10] → [4,1]: 4 divisions, then a broadcast.
        let ins = [f32t(&[4, 10]), crate::ops::testutil::ints(&[-1])];
        assert_eq!(back("", "ReduceMean", &ins, &[], &[true, false]).1, 4);
        assert_eq!(
            back(
                "",
                "ReduceSum",
                &ins,
                &[a_int("keepdims", 1)],
                &[true, false]
            )
            .1,
            0
        );
        // ReduceMax: compare and select per element of X: 80.
        let (_, f, _) = back("", "ReduceMax", &ins, &[], &[true, false]);
        assert_eq!(f, 80);
    }
}
