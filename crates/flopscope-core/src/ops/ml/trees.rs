//! Tree ensembles: `TreeEnsemble` (ai.onnx.ml 5) and the older `TreeEnsembleRegressor` and
//! `TreeEnsembleClassifier`. A sample goes down each tree from its root to a leaf, one
//! comparison per interior node it passes; counted at each tree's depth (interior nodes on its
//! longest root-to-leaf path), computed from the node attributes.

use std::collections::HashMap;

use super::{
    class_labels, count, invalid, list_len, mul, post_transform, samples, Cost, Ctx, OpError,
    Tensor,
};
use crate::graph::{Attr, DType};

/// Children of each node (`None`: a leaf there), which nodes are leaves themselves (the older
/// ops' `LEAF` mode: no comparison), and the roots.
struct Forest {
    children: Vec<[Option<usize>; 2]>,
    leaf: Vec<bool>,
    roots: Vec<usize>,
}

fn ints<'a>(cx: &'a Ctx, name: &str) -> &'a [i64] {
    cx.node.attr_ints(name).unwrap_or(&[])
}

fn index(v: i64, len: usize, what: &str) -> Result<usize, OpError> {
    usize::try_from(v)
        .ok()
        .filter(|&i| i < len)
        .ok_or_else(|| OpError::Invalid(format!("{what} {v} is not a node index below {len}")))
}

/// The forest of TreeEnsemble: `tree_roots` and, per node, its true and false children, each
/// a leaf where `nodes_trueleafs` / `nodes_falseleafs` say so.
fn forest_v5(cx: &Ctx) -> Result<Forest, OpError> {
    let (t, f) = (
        ints(cx, "nodes_truenodeids"),
        ints(cx, "nodes_falsenodeids"),
    );
    let (tl, fl) = (ints(cx, "nodes_trueleafs"), ints(cx, "nodes_falseleafs"));
    let n = t.len();
    if f.len() != n || tl.len() != n || fl.len() != n {
        return invalid("nodes_truenodeids, nodes_falsenodeids, nodes_trueleafs and nodes_falseleafs differ in length");
    }
    let child = |id: i64, leaf: i64, what| -> Result<Option<usize>, OpError> {
        if leaf != 0 {
            Ok(None)
        } else {
            index(id, n, what).map(Some)
        }
    };
    let children = (0..n)
        .map(|i| {
            Ok([
                child(t[i], tl[i], "nodes_truenodeids")?,
                child(f[i], fl[i], "nodes_falsenodeids")?,
            ])
        })
        .collect::<Result<_, OpError>>()?;
    let roots = ints(cx, "tree_roots")
        .iter()
        .map(|&r| index(r, n, "tree_roots"))
        .collect::<Result<Vec<_>, _>>()?;
    if roots.is_empty() {
        return invalid("tree_roots is empty");
    }
    Ok(Forest {
        leaf: vec![false; n],
        children,
        roots,
    })
}

/// The forest of TreeEnsembleRegressor/Classifier: nodes named by (tree id, node id), leaves by
/// mode `LEAF`; a tree's root is its node that no other node of the tree points to.
fn forest_v1(cx: &Ctx) -> Result<Forest, OpError> {
    let (trees, ids) = (ints(cx, "nodes_treeids"), ints(cx, "nodes_nodeids"));
    let (t, f) = (
        ints(cx, "nodes_truenodeids"),
        ints(cx, "nodes_falsenodeids"),
    );
    let modes = match cx.node.attrs.get("nodes_modes") {
        Some(Attr::Strs(m)) => m.as_slice(),
        _ => &[],
    };
    let n = ids.len();
    if trees.len() != n || t.len() != n || f.len() != n || modes.len() != n || n == 0 {
        return invalid("nodes_treeids, nodes_nodeids, nodes_modes and the child ids differ in length or are empty");
    }
    let at: HashMap<(i64, i64), usize> = (0..n).map(|i| ((trees[i], ids[i]), i)).collect();
    let mut pointed = vec![false; n];
    let mut children = Vec::with_capacity(n);
    for i in 0..n {
        if modes[i] == "LEAF" {
            children.push([None, None]);
            continue;
        }
        let mut c = [None, None];
        for (k, id) in [t[i], f[i]].into_iter().enumerate() {
            let j = *at.get(&(trees[i], id)).ok_or_else(|| {
                OpError::Invalid(format!(
                    "node {} of tree {} points to a missing node {id}",
                    ids[i], trees[i]
                ))
            })?;
            pointed[j] = true;
            c[k] = Some(j);
        }
        children.push(c);
    }
    let roots = (0..n).filter(|&i| !pointed[i]).collect();
    let leaf = modes.iter().map(|m| m == "LEAF").collect();
    Ok(Forest {
        children,
        leaf,
        roots,
    })
}

/// Σ over trees of the interior nodes on the longest root-to-leaf path; a cycle is an error.
fn total_depth(fo: &Forest) -> Result<u64, OpError> {
    let n = fo.children.len();
    let mut depth: Vec<Option<u64>> = vec![None; n];
    let mut open = vec![false; n];
    for &root in &fo.roots {
        let mut stack = vec![(root, false)];
        while let Some((i, expanded)) = stack.pop() {
            if depth[i].is_some() {
                continue;
            }
            if expanded {
                let below = fo.children[i]
                    .iter()
                    .flatten()
                    .map(|&c| depth[c].unwrap_or(0))
                    .max();
                depth[i] = Some(if fo.leaf[i] {
                    0
                } else {
                    below.unwrap_or(0) + 1
                });
                open[i] = false;
                continue;
            }
            if open[i] {
                return invalid(format!("the trees have a cycle through node {i}"));
            }
            open[i] = true;
            stack.push((i, true));
            stack.extend(
                fo.children[i]
                    .iter()
                    .flatten()
                    .filter(|&&c| depth[c].is_none())
                    .map(|&c| (c, false)),
            );
        }
    }
    fo.roots.iter().try_fold(0u64, |a, &r| {
        a.checked_add(depth[r].unwrap_or(0))
            .ok_or_else(super::super::overflow)
    })
}

/// Targets (or classes), output types, and the counting attributes of one ensemble node.
struct Plan {
    forest: Forest,
    targets: u64,
    average: bool,
    post: u64,
    base: bool,
    labels: Option<DType>,
}

fn plan(cx: &Ctx) -> Result<Plan, OpError> {
    let nonneg = |v: i64, what: &str| {
        u64::try_from(v).map_err(|_| OpError::Invalid(format!("{what} {v} < 0")))
    };
    Ok(match cx.node.op_type.as_str() {
        "TreeEnsemble" => {
            let post = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"];
            let p = cx.node.attr_int("post_transform", 0);
            let p = usize::try_from(p)
                .ok()
                .and_then(|i| post.get(i))
                .ok_or_else(|| OpError::Invalid(format!("post_transform {p} is not 0 to 4")))?;
            let targets = match cx.node.attrs.get("n_targets") {
                Some(_) => nonneg(cx.node.attr_int("n_targets", 1), "n_targets")?,
                None => ints(cx, "leaf_targetids")
                    .iter()
                    .max()
                    .map_or(Ok(1), |&m| nonneg(m.saturating_add(1), "leaf_targetids"))?,
            };
            Plan {
                forest: forest_v5(cx)?,
                targets,
                average: cx.node.attr_int("aggregate_function", 1) == 0,
                post: post_transform(p)?,
                base: false,
                labels: None,
            }
        }
        op => {
            let classifier = op == "TreeEnsembleClassifier";
            let (dt, classes) = class_labels(cx)?;
            let targets = if classifier {
                classes
            } else {
                nonneg(cx.node.attr_int("n_targets", 1), "n_targets")?
            };
            Plan {
                forest: forest_v1(cx)?,
                targets,
                average: cx.node.attr_str("aggregate_function") == Some("AVERAGE"),
                post: post_transform(cx.node.attr_str("post_transform").unwrap_or("NONE"))?,
                base: list_len(cx, "base_values") > 0 || list_len(cx, "base_values_as_tensor") > 0,
                labels: classifier.then_some(dt),
            }
        }
    })
}

/// TreeEnsemble: `[N, targets]` of X's type; TreeEnsembleRegressor `[N, targets]` float;
/// TreeEnsembleClassifier labels `[N]` and scores `[N, classes]` float.
pub fn infer(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (n, _) = samples(cx)?;
    let p = plan(cx)?;
    Ok(match (cx.node.op_type.as_str(), p.labels) {
        ("TreeEnsemble", _) => vec![Tensor::new(cx.dtype(0)?, vec![n, p.targets])],
        (_, Some(dt)) => vec![
            Tensor::new(dt, vec![n]),
            Tensor::new(DType::F32, vec![n, p.targets]),
        ],
        _ => vec![Tensor::new(DType::F32, vec![n, p.targets])],
    })
}

/// N · Σ depth comparisons, N · trees · targets adds of leaf values, N · targets more for each of
/// AVERAGE's division and the base values, the post transform per score, and for a classifier a
/// comparison per score to pick the label.
pub fn cost(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (n, _) = samples(cx)?;
    let p = plan(cx)?;
    let compares = mul(&[n, total_depth(&p.forest)?])?;
    let trees = count(p.forest.roots.len())?;
    let per_score =
        u64::from(p.average) + u64::from(p.base) + p.post + u64::from(p.labels.is_some());
    let adds = mul(&[n, trees, p.targets])?;
    let tail = mul(&[n, p.targets, per_score])?;
    let f = compares
        .checked_add(adds)
        .and_then(|x| x.checked_add(tail))
        .ok_or_else(super::super::overflow)?;
    Ok(Cost::flops(f))
}
