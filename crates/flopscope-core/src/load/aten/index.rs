//! Scatters that combine values. A plain `scatter` only writes (an `aten` node costing 0, as
//! ONNX ScatterElements); with a reduction (`scatter(…, reduce="add")`, `scatter_reduce`)
//! each index element combines one value with the one already there (`ops::aten`).

use super::{Call, Emit, R};
use crate::graph::Attr;

/// The nodes of `c` when its operator (`base`, without an in-place `_`) is of this family.
pub(super) fn translate(e: &mut Emit, c: &Call, base: &str) -> Option<R> {
    if !matches!(base, "scatter" | "scatter_reduce") {
        return None;
    }
    let reduce = Emit::text(c, "reduce")?.to_string();
    let r = (|| -> R {
        let ins = vec![
            Some(e.req(c, "self")?),
            Some(e.req(c, "index")?),
            e.tensor(c, "src")?,
        ];
        e.node(
            "aten",
            "scatter_reduce",
            ins,
            c.outputs.clone(),
            vec![("reduce", Attr::Str(reduce))],
        )
    })();
    Some(r)
}
