//! The `ai.onnx.ml` domain: classical models (linear, SVM, tree ensembles) and feature
//! transforms. See `docs/counting.md`, "Classical ML (`ai.onnx.ml`)".
//!
//! X is `[N, F]` (a `[F]` input is one sample). Linear models: N·E·F MACs (E classes or
//! targets) plus N·E intercept adds; SVMs: N·V·F MACs for the kernel products with V support
//! vectors, a kernel count per (sample, vector), then the weighted sum of kernels; tree
//! ensembles: one comparison per node on each tree's longest root-to-leaf path per sample, plus
//! one add per tree and target; post transforms as the elementwise ops; lookups and copies 0.

mod maps;
mod trees;

use super::{invalid, mul, no_cost, numel, Cost, Ctx, OpDef, OpError, Tensor};
use crate::graph::{Attr, DType};

/// Rules for the ops of this domain.
pub fn lookup(op: &str) -> Option<OpDef> {
    let def = |infer, cost| OpDef { infer, cost };
    Some(match op {
        "LabelEncoder" => def(infer_label_encoder, no_cost),
        "CastMap" => def(maps::infer_cast_map, no_cost),
        "DictVectorizer" => def(maps::infer_dict_vectorizer, no_cost),
        "ZipMap" => def(maps::infer_zip_map, no_cost),
        "CategoryMapper" => def(infer_category_mapper, no_cost),
        "ArrayFeatureExtractor" => def(infer_array_feature_extractor, no_cost),
        "OneHotEncoder" => def(infer_one_hot, no_cost),
        "FeatureVectorizer" => def(infer_feature_vectorizer, no_cost),
        "Binarizer" | "Imputer" => def(same_type, per_element::<1>),
        "Scaler" => def(same_float, per_element::<2>),
        "Normalizer" => def(same_float, cost_normalizer),
        "LinearClassifier" => def(infer_linear_classifier, cost_linear_classifier),
        "LinearRegressor" => def(infer_linear_regressor, cost_linear_regressor),
        "SVMClassifier" => def(infer_svm_classifier, cost_svm_classifier),
        "SVMRegressor" => def(infer_svm_regressor, cost_svm_regressor),
        "TreeEnsemble" | "TreeEnsembleRegressor" | "TreeEnsembleClassifier" => {
            def(trees::infer, trees::cost)
        }
        _ => return None,
    })
}

/// Samples N and features F of X `[N, F]` (or `[F]`: one sample).
fn samples(cx: &Ctx) -> Result<(u64, u64), OpError> {
    match cx.shape(0)? {
        [f] => Ok((1, *f)),
        [n, f] => Ok((*n, *f)),
        x => invalid(format!("input {x:?} is not [N, F] or [F]")),
    }
}

/// Length of a list attribute of any element type (0 when absent).
fn list_len(cx: &Ctx, name: &str) -> usize {
    match cx.node.attrs.get(name) {
        Some(Attr::Ints(v)) => v.len(),
        Some(Attr::Floats(v)) => v.len(),
        Some(Attr::Strs(v)) => v.len(),
        Some(Attr::Tensor(t)) => t.dims.iter().product::<u64>().try_into().unwrap_or(0),
        _ => 0,
    }
}

fn count(n: usize) -> Result<u64, OpError> {
    u64::try_from(n).map_err(|_| super::overflow())
}

/// Labels of a classifier: strings with `classlabels_strings`, int64 otherwise; and how many.
fn class_labels(cx: &Ctx) -> Result<(DType, u64), OpError> {
    let strs = list_len(cx, "classlabels_strings");
    let ints = list_len(cx, "classlabels_ints").max(list_len(cx, "classlabels_int64s"));
    Ok(if strs > 0 {
        (DType::Str, count(strs)?)
    } else {
        (DType::I64, count(ints)?)
    })
}

/// FLOPs per score of a `post_transform`: softmax 5 (as Softmax), logistic 4 (as Sigmoid),
/// probit 1 (an inverse erf, as Erf), none 0.
fn post_transform(name: &str) -> Result<u64, OpError> {
    match name {
        "NONE" => Ok(0),
        "SOFTMAX" | "SOFTMAX_ZERO" => Ok(5),
        "LOGISTIC" => Ok(4),
        "PROBIT" => Ok(1),
        p => invalid(format!(
            "post_transform '{p}' is not NONE, SOFTMAX, LOGISTIC, SOFTMAX_ZERO or PROBIT"
        )),
    }
}

/// The `post_transform` string attribute's FLOPs per score.
fn post_attr(cx: &Ctx) -> Result<u64, OpError> {
    post_transform(cx.node.attr_str("post_transform").unwrap_or("NONE"))
}

fn same_type(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(cx.dtype(0)?, cx.shape(0)?.to_vec())])
}

fn same_float(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(DType::F32, cx.shape(0)?.to_vec())])
}

/// `K` FLOPs per input element.
fn per_element<const K: u64>(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    Ok(Cost::flops(mul(&[cx.numel(0)?, K])?))
}

/// LabelEncoder: X's shape, the type of the `values_*` attribute set.
fn infer_label_encoder(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dt = match [
        "values_strings",
        "values_int64s",
        "values_floats",
        "values_tensor",
    ]
    .iter()
    .find_map(|n| cx.node.attrs.get(*n))
    {
        Some(Attr::Strs(_)) => DType::Str,
        Some(Attr::Ints(_)) => DType::I64,
        Some(Attr::Floats(_)) => DType::F32,
        Some(Attr::Tensor(t)) => t.dtype,
        _ => return invalid("none of the values_* attributes is set"),
    };
    Ok(vec![Tensor::new(dt, cx.shape(0)?.to_vec())])
}

/// CategoryMapper: strings to int64 and int64 to strings, X's shape.
fn infer_category_mapper(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dt = match cx.dtype(0)? {
        DType::Str => DType::I64,
        DType::I64 => DType::Str,
        d => return invalid(format!("input is {d:?}, not string or int64")),
    };
    Ok(vec![Tensor::new(dt, cx.shape(0)?.to_vec())])
}

/// ArrayFeatureExtractor(X, indices): X's last axis replaced by the number of indices; a 1-D X
/// gives `[1, k]` (as ONNX Runtime).
fn infer_array_feature_extractor(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = cx.shape(0)?;
    let k = cx.numel(1)?;
    let y = match x {
        [] => return invalid("input is a scalar"),
        [_] => vec![1, k],
        _ => [&x[..x.len() - 1], &[k]].concat(),
    };
    Ok(vec![Tensor::new(cx.dtype(0)?, y)])
}

/// OneHotEncoder: X with one more axis of the number of categories, float.
fn infer_one_hot(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let cats = list_len(cx, "cats_strings").max(list_len(cx, "cats_int64s"));
    if cats == 0 {
        return invalid("neither cats_strings nor cats_int64s is set");
    }
    let mut y = cx.shape(0)?.to_vec();
    y.push(count(cats)?);
    numel(&y)?;
    Ok(vec![Tensor::new(DType::F32, y)])
}

/// FeatureVectorizer(X₁…): `[N, Σ inputdimensions]` float (each input's last dim when the
/// attribute is absent).
fn infer_feature_vectorizer(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let dims = cx.node.attr_ints("inputdimensions");
    let mut n = None;
    let mut total = 0u64;
    for i in 0..cx.inputs.len() {
        let s = cx.shape(i)?;
        let rows = if s.len() > 1 { s[0] } else { 1 };
        if n.is_some_and(|n| n != rows) {
            return invalid(format!("input {i} {s:?} has not {} rows", n.unwrap_or(0)));
        }
        n = Some(rows);
        let d = match dims.and_then(|d| d.get(i)) {
            Some(&d) => u64::try_from(d)
                .map_err(|_| OpError::Invalid(format!("inputdimensions {d} < 0")))?,
            None => s.last().copied().unwrap_or(1),
        };
        total = total.checked_add(d).ok_or_else(super::overflow)?;
    }
    Ok(vec![Tensor::new(DType::F32, vec![n.unwrap_or(1), total])])
}

/// Normalizer per row of C: MAX C comparisons and C divisions, L1 C abs, C adds, C divisions,
/// L2 C squares, C adds, a square root and C divisions.
fn cost_normalizer(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (n, c) = samples(cx)?;
    let per_row = match cx.node.attr_str("norm").unwrap_or("MAX") {
        "MAX" => mul(&[c, 2])?,
        "L1" => mul(&[c, 3])?,
        "L2" => mul(&[c, 3])?.checked_add(1).ok_or_else(super::overflow)?,
        m => return invalid(format!("norm '{m}' is not MAX, L1 or L2")),
    };
    Ok(Cost::flops(mul(&[n, per_row])?))
}

/// Score columns E of LinearClassifier: `len(coefficients) / F`, 2 for a binary model with one
/// row of coefficients and two labels.
fn linear_classes(cx: &Ctx) -> Result<(u64, u64, u64, u64), OpError> {
    let (n, f) = samples(cx)?;
    let coefs = count(list_len(cx, "coefficients"))?;
    if f == 0 || coefs % f != 0 || coefs == 0 {
        return invalid(format!(
            "{coefs} coefficients are not a multiple of {f} features"
        ));
    }
    let rows = coefs / f;
    let (_, labels) = class_labels(cx)?;
    let cols = if rows == 1 && labels == 2 { 2 } else { rows };
    Ok((n, f, rows, cols))
}

fn infer_linear_classifier(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (n, _, _, cols) = linear_classes(cx)?;
    let (dt, _) = class_labels(cx)?;
    Ok(vec![
        Tensor::new(dt, vec![n]),
        Tensor::new(DType::F32, vec![n, cols]),
    ])
}

/// N·E·F MACs, N·E intercept adds, the post transform per score, 1 comparison per score to
/// pick the label.
fn cost_linear_classifier(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (n, f, rows, cols) = linear_classes(cx)?;
    let intercepts = if list_len(cx, "intercepts") > 0 {
        mul(&[n, rows])?
    } else {
        0
    };
    let scores = mul(&[n, cols])?;
    let extra = intercepts
        .checked_add(mul(&[scores, post_attr(cx)? + 1])?)
        .ok_or_else(super::overflow)?;
    Cost::products(mul(&[n, rows, f])?, extra)
}

fn regressor_targets(cx: &Ctx) -> Result<u64, OpError> {
    let t = cx.node.attr_int("targets", 1);
    u64::try_from(t).map_err(|_| OpError::Invalid(format!("targets {t} < 0")))
}

fn infer_linear_regressor(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (n, _) = samples(cx)?;
    Ok(vec![Tensor::new(
        DType::F32,
        vec![n, regressor_targets(cx)?],
    )])
}

/// N·T·F MACs, N·T intercept adds, the post transform per output.
fn cost_linear_regressor(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (n, f) = samples(cx)?;
    let t = regressor_targets(cx)?;
    let outs = mul(&[n, t])?;
    let icpt = if list_len(cx, "intercepts") > 0 {
        outs
    } else {
        0
    };
    let extra = icpt
        .checked_add(mul(&[outs, post_attr(cx)?])?)
        .ok_or_else(super::overflow)?;
    Cost::products(mul(&[n, t, f])?, extra)
}

/// FLOPs of one kernel value K(x, sv) beyond the F MACs of its dot product: LINEAR 0, POLY 3
/// (γ·, + c, power), SIGMOID 3 (γ·, + c, tanh), RBF F + 2 (the F differences of ‖x − sv‖²,
/// γ·, exp).
fn kernel_extra(cx: &Ctx, f: u64) -> Result<u64, OpError> {
    match cx.node.attr_str("kernel_type").unwrap_or("LINEAR") {
        "LINEAR" => Ok(0),
        "POLY" | "SIGMOID" => Ok(3),
        "RBF" => f.checked_add(2).ok_or_else(super::overflow),
        k => invalid(format!(
            "kernel_type '{k}' is not LINEAR, POLY, RBF or SIGMOID"
        )),
    }
}

/// Support vectors V (`len(support_vectors) / F`, 0 in linear mode).
fn support_vectors(cx: &Ctx, f: u64) -> Result<u64, OpError> {
    let sv = count(list_len(cx, "support_vectors"))?;
    if sv > 0 && (f == 0 || sv % f != 0) {
        return invalid(format!(
            "{sv} support vector values are not a multiple of {f} features"
        ));
    }
    Ok(if sv > 0 { sv / f } else { 0 })
}

/// Classes E, score columns, support vectors V of SVMClassifier. Pairwise scores
/// E·(E − 1)/2 (2 for E = 2) without probabilities in SVC mode; E otherwise.
fn svm_classes(cx: &Ctx) -> Result<(u64, u64, u64), OpError> {
    let (_, f) = samples(cx)?;
    let (_, e) = class_labels(cx)?;
    let v = support_vectors(cx, f)?;
    let cols = if v > 0 && list_len(cx, "prob_a") == 0 && e > 2 {
        mul(&[e, e - 1])? / 2
    } else {
        e
    };
    Ok((e, cols, v))
}

fn infer_svm_classifier(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (n, _) = samples(cx)?;
    let (dt, _) = class_labels(cx)?;
    let (_, cols, _) = svm_classes(cx)?;
    Ok(vec![
        Tensor::new(dt, vec![n]),
        Tensor::new(DType::F32, vec![n, cols]),
    ])
}

/// SVC: N·V kernels (F MACs + the kernel's FLOPs each), then N·(E − 1)·V MACs for the pairwise
/// weighted sums and a ρ add per pair; linear mode (no support vectors): N·E·F MACs and E ρ
/// adds. Then the post transform and a comparison per score.
fn cost_svm_classifier(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (n, f) = samples(cx)?;
    let (e, cols, v) = svm_classes(cx)?;
    let (macs, extra) = if v > 0 {
        let pairs = e.saturating_mul(e.saturating_sub(1)) / 2;
        let kernels = mul(&[n, v])?;
        (
            mul(&[kernels, f])?.checked_add(mul(&[n, e.saturating_sub(1), v])?),
            mul(&[kernels, kernel_extra(cx, f)?])?.checked_add(mul(&[n, pairs])?),
        )
    } else {
        (Some(mul(&[n, e, f])?), Some(mul(&[n, e])?))
    };
    let (macs, extra) = (
        macs.ok_or_else(super::overflow)?,
        extra.ok_or_else(super::overflow)?,
    );
    let post = mul(&[n, cols, post_attr(cx)? + 1])?;
    Cost::products(macs, extra.checked_add(post).ok_or_else(super::overflow)?)
}

fn infer_svm_regressor(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (n, _) = samples(cx)?;
    Ok(vec![Tensor::new(DType::F32, vec![n, 1])])
}

/// N·V kernels (F MACs + the kernel's FLOPs each) and N·V MACs for their weighted sum, or N·F
/// MACs in linear mode; one ρ add per sample; the post transform.
fn cost_svm_regressor(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (n, f) = samples(cx)?;
    let v = support_vectors(cx, f)?;
    let (macs, extra) = if v > 0 {
        let kernels = mul(&[n, v])?;
        (
            mul(&[kernels, f.checked_add(1).ok_or_else(super::overflow)?])?,
            mul(&[kernels, kernel_extra(cx, f)?])?,
        )
    } else {
        (mul(&[n, f])?, 0)
    };
    let tail = mul(&[n, 1 + post_attr(cx)?])?;
    Cost::products(macs, extra.checked_add(tail).ok_or_else(super::overflow)?)
}

#[cfg(test)]
mod tests;
