//! torchvision's operators (`torchvision::roi_align`, `torchvision::nms`), as the detection
//! models call them. `roi_align` becomes ONNX `RoiAlign`, so that a module and its ONNX
//! export are counted by the same rule; `nms` returns indices in a shape ONNX's
//! NonMaxSuppression does not, and keeps a `torchvision`-domain node whose rule
//! (`ops::vision`) costs each IoU test as ONNX's does.

use super::{first, Call, Emit, R};
use crate::graph::Attr;

/// The nodes of a `torchvision::` call, `None` for an operator this family does not know.
pub(super) fn translate(e: &mut Emit, c: &Call) -> Option<R> {
    match c.name() {
        "roi_align" => Some(roi_align(e, c)),
        "nms" => Some(nms(e, c)),
        _ => None,
    }
}

/// `roi_align(input [N, C, H, W], rois [K, 5], spatial_scale, pooled_height, pooled_width,
/// sampling_ratio, aligned)` → `[K, C, pooled_height, pooled_width]`. Each RoI row is
/// `(batch index, x1, y1, x2, y2)`: ONNX takes the boxes and the batch indices as two
/// inputs, here two views of the columns. torchvision's kernel averages a grid of bilinear
/// samples per bin (`sampling_ratio`², or adaptive when it is ≤ 0), as ONNX RoiAlign in
/// `avg` mode; `aligned` shifts the RoI by half a pixel (`half_pixel`), else each RoI is at
/// least 1 pixel wide (`output_half_pixel`).
fn roi_align(e: &mut Emit, c: &Call) -> R {
    let x = e.req(c, "input")?;
    let rois = e.req(c, "rois")?;
    let shape = e.shape(rois);
    let k = match shape[..] {
        [k, 5] => k,
        _ => return Err(format!("rois {shape:?} are not [K, 5]")),
    };
    let dt = e.dtype(rois);
    let boxes = e.value(dt, &[k, 4]);
    e.node("aten", "slice", vec![Some(rois)], vec![Some(boxes)], vec![])?;
    let batch = e.value(dt, &[k]);
    e.node(
        "aten",
        "select",
        vec![Some(rois)],
        vec![Some(batch)],
        vec![],
    )?;
    let scale = Emit::num(c, "spatial_scale").unwrap_or(1.0) as f32;
    let mode = if Emit::flag(c, "aligned") {
        "half_pixel"
    } else {
        "output_half_pixel"
    };
    let attrs = vec![
        ("mode", Attr::Str("avg".into())),
        (
            "output_height",
            Attr::Int(Emit::int(c, "pooled_height", 1)?),
        ),
        ("output_width", Attr::Int(Emit::int(c, "pooled_width", 1)?)),
        // torchvision's −1 (adaptive) is ONNX's 0.
        (
            "sampling_ratio",
            Attr::Int(Emit::int(c, "sampling_ratio", 0)?.max(0)),
        ),
        ("spatial_scale", Attr::Float(scale)),
        ("coordinate_transformation_mode", Attr::Str(mode.into())),
    ];
    e.node(
        "",
        "RoiAlign",
        vec![Some(x), Some(boxes), Some(batch)],
        c.outputs.clone(),
        attrs,
    )
}

/// `nms(dets [N, 4], scores [N], iou_threshold)` → the `[K]` indices kept. The number kept
/// is in the trace (the output's length) and goes to the rule as `kept`.
fn nms(e: &mut Emit, c: &Call) -> R {
    let (dets, scores) = (e.req(c, "dets")?, e.req(c, "scores")?);
    let kept = e.shape(first(&c.outputs)?).first().copied().unwrap_or(0);
    let kept = i64::try_from(kept).map_err(|_| format!("{kept} boxes kept"))?;
    e.node(
        "torchvision",
        "nms",
        vec![Some(dets), Some(scores)],
        c.outputs.clone(),
        vec![("kept", Attr::Int(kept))],
    )
}
