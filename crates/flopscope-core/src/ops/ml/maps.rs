//! The dictionary operators: CastMap, DictVectorizer, ZipMap. A map value is read as a 1-D
//! tensor of its values (its number of entries a dim), so these move data and compute
//! nothing: 0 FLOPs.

use super::super::{invalid, Ctx, OpError, Tensor, MAX_FOLD};
use super::{count, list_len};
use crate::graph::DType;

/// CastMap(map<int64, V>) → `[1, N]`: N entries densely, `max_map` with sparse packing; the
/// type `cast_to` names (float by default).
pub(super) fn infer_cast_map(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let n = match cx.node.attr_str("map_form").unwrap_or("DENSE") {
        "DENSE" => *cx
            .shape(0)?
            .first()
            .ok_or_else(|| OpError::Invalid("the map is a scalar".into()))?,
        "SPARSE" => {
            let m = cx.node.attr_int("max_map", 1);
            u64::try_from(m)
                .ok()
                .filter(|&m| m >= 1)
                .ok_or_else(|| OpError::Invalid(format!("max_map {m} must be ≥ 1")))?
        }
        f => return invalid(format!("map_form '{f}' is not DENSE or SPARSE")),
    };
    let dt = match cx.node.attr_str("cast_to").unwrap_or("TO_FLOAT") {
        "TO_FLOAT" => DType::F32,
        "TO_STRING" => DType::Str,
        "TO_INT64" => DType::I64,
        t => {
            return invalid(format!(
                "cast_to '{t}' is not TO_FLOAT, TO_STRING or TO_INT64"
            ))
        }
    };
    Ok(vec![Tensor::new(dt, vec![1, n])])
}

/// DictVectorizer(map<K, V>) → `[1, len(vocabulary)]` of the map's value type (as ONNX
/// Runtime).
pub(super) fn infer_dict_vectorizer(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let vocab = list_len(cx, "string_vocabulary").max(list_len(cx, "int64_vocabulary"));
    if vocab == 0 {
        return invalid("neither string_vocabulary nor int64_vocabulary is set");
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![1, count(vocab)?])])
}

/// ZipMap(X `[N, C]`) → a sequence of N maps of C entries (one per class label); beyond
/// [`MAX_FOLD`] rows the maps are not listed one by one.
pub(super) fn infer_zip_map(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let labels = list_len(cx, "classlabels_strings").max(list_len(cx, "classlabels_int64s"));
    let (n, c) = match x {
        [c] => (1, *c),
        [n, c] => (*n, *c),
        _ => return invalid(format!("input {x:?} is not [N, C]")),
    };
    if count(labels)? != c {
        return invalid(format!("{labels} class labels for {c} columns"));
    }
    let row = Tensor::new(DType::F32, vec![c]);
    if n > MAX_FOLD {
        return Ok(vec![Tensor::sequence(DType::F32, None, Some(vec![c]))]);
    }
    let n = usize::try_from(n).map_err(|_| super::super::overflow())?;
    Ok(vec![Tensor::sequence(DType::F32, Some(vec![row; n]), None)])
}
