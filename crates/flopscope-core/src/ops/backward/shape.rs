//! Backward of data movement. Views, copies and rearrangements move the gradient back the way
//! the data came (0 FLOPs, nothing kept): Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
//! Concat, Split, Slice, Pad, DepthToSpace, SpaceToDepth, Trilu. Where one input element
//! reached several outputs the gradients are summed: Expand and Tile `numel(Y)` adds (when
//! they grow the tensor), Gather, GatherElements and GatherND a scatter-add of dY into a zeroed
//! dX, `numel(Y)` adds, reading the indices. ScatterND and ScatterElements pass dY to the data
//! with the scattered places zeroed and gather it for the updates (0 FLOPs), reading the
//! indices.

use super::{Back, BackRule, Grad, Saved};
use crate::ops::OpError;

/// Default-domain rules.
pub fn lookup(op: &str) -> Option<BackRule> {
    Some(match op {
        "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" | "Transpose" | "Concat" | "Split"
        | "Slice" | "Pad" | "DepthToSpace" | "SpaceToDepth" | "Trilu" => free,
        "Expand" | "Tile" => broadcast_back,
        "Gather" | "GatherElements" | "GatherND" => gather,
        "ScatterND" | "ScatterElements" | "Scatter" => scatter,
        _ => return None,
    })
}

fn free(_: &Grad, _: &mut Back) -> Result<(), OpError> {
    Ok(())
}

fn broadcast_back(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    b.add(g.unbroadcast(0)?)
}

fn gather(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) {
        b.per(super::table::SCATTER_ADD, g.out_numel(0)?)?;
        b.save(Saved::Input(1));
    }
    Ok(())
}

fn scatter(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if g.need(0) || g.need(2) {
        b.save(Saved::Input(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::*;
    use crate::ops::testutil::{f32t, i64t, ints};

    #[test]
    fn embedding_gather_scatters_its_gradient() {
        // An embedding [1000,64] gathered at [2,16] ids → [2,16,64]: 2,048 adds into the table's
        // gradient; the int64 ids are kept.
        let (_, f, s) = back(
            "",
            "Gather",
            &[f32t(&[1000, 64]), i64t(&[2, 16])],
            &[],
            &[true, false],
        );
        assert_eq!((f, s), (2_048, vec![Saved::Input(1)]));
        // Expand [1,1,4] → [2,3,4]: 24 adds; Reshape: nothing.
        let (_, f, _) = back(
            "",
            "Expand",
            &[f32t(&[1, 1, 4]), ints(&[2, 3, 1])],
            &[],
            &[true, false],
        );
        assert_eq!(f, 24);
        let (_, f, s) = back(
            "",
            "Reshape",
            &[f32t(&[2, 3]), ints(&[6])],
            &[],
            &[true, false],
        );
        assert_eq!((f, s.len()), (0, 0));
    }
}
