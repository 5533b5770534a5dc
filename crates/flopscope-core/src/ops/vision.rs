//! Rules for the `torchvision` domain: torchvision's operators in a traced module that have no
//! ONNX node with the same inputs and outputs (`load::aten` turns `roi_align` into ONNX
//! `RoiAlign`). Like the `aten` domain's, these rules keep the traced output shapes and only
//! say what the operator costs.
//!
//! - `nms(dets [N, 4], scores [N])` → the `[K]` boxes kept, `K` in the `kept` attribute: at
//!   most `K·(2N − K − 1)/2` IoU tests at ONNX NonMaxSuppression's 11 FLOPs each (see
//!   [`nms`]).

use super::selection::IOU_TEST_FLOPS;
use super::{invalid, mul, Cost, Ctx, OpDef, OpError, Tensor};

/// Rules of the `torchvision` domain.
pub fn lookup(op: &str) -> Option<OpDef> {
    let cost: fn(&Ctx, &[Tensor]) -> Result<Cost, OpError> = match op {
        "nms" => nms,
        _ => return None,
    };
    Some(OpDef {
        infer: |_| Ok(vec![]),
        cost,
    })
}

/// torchvision's kernel visits the boxes by decreasing score; a box not yet suppressed is
/// kept and tested against every later box not yet suppressed, a suppressed box tests
/// nothing. The r-th box kept (from 0) is at a position p ≥ r of the order, so it makes at
/// most `N − 1 − r` tests: with `K` kept, at most `Σ_{r<K} (N − 1 − r) = K·(2N − K − 1)/2`,
/// the count here (which tests run depends on the scores the trace does not keep). With
/// every box kept this is `N·(N − 1)/2`, ONNX NonMaxSuppression's count for one class,
/// which cannot know `K`.
fn nms(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (dets, scores) = (cx.shape(0)?, cx.shape(1)?);
    let n = match (dets, scores) {
        ([n, 4], [m]) if n == m => *n,
        _ => {
            return invalid(format!(
                "dets {dets:?} and scores {scores:?} are not [N, 4] and [N]"
            ))
        }
    };
    let k = cx.node.attr_int("kept", 0);
    let k = match u64::try_from(k) {
        Ok(k) if k <= n => k,
        _ => return invalid(format!("{k} boxes kept of {n}")),
    };
    // K·(2N − K − 1) is even: when K is odd, 2N − K − 1 is even.
    let tests = mul(&[k, (mul(&[2, n])? - k).saturating_sub(1)])? / 2;
    Ok(Cost::flops(mul(&[tests, IOU_TEST_FLOPS])?))
}
