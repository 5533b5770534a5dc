//! String operators: StringConcat, RegexFullMatch, StringSplit, StringNormalizer. See
//! `docs/counting.md`, "Strings".
//!
//! They cost 0: string work (copying, matching, case mapping) is not arithmetic. StringSplit's
//! substring count and StringNormalizer's count after dropping stopwords depend on the data:
//! they are the symbol `<node>.n` (see "Sizes that depend on the data").

use super::{broadcast, invalid, no_cost, numel, Ctx, OpDef, OpError, Tensor};
use crate::graph::DType;

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "StringConcat" => OpDef {
            infer: infer_concat,
            cost: no_cost,
        },
        "RegexFullMatch" => OpDef {
            infer: infer_regex,
            cost: no_cost,
        },
        "StringSplit" => OpDef {
            infer: infer_split,
            cost: no_cost,
        },
        "StringNormalizer" => OpDef {
            infer: infer_normalizer,
            cost: no_cost,
        },
        _ => return None,
    })
}

/// Input `i`, which must be a string tensor.
fn strings<'a>(cx: &Ctx<'a>, i: usize) -> Result<&'a [u64], OpError> {
    match cx.dtype(i)? {
        DType::Str => cx.shape(i),
        d => invalid(format!("input {i} is {d:?}, not a string tensor")),
    }
}

/// The data-dependent size `<node>.n` of at most `largest`.
fn data_dim(cx: &Ctx, largest: u64) -> Result<u64, OpError> {
    super::data_dim(cx, "n", Some(largest))
}

/// StringConcat(X, Y): elementwise, with broadcasting.
fn infer_concat(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let z = broadcast(strings(cx, 0)?, strings(cx, 1)?)?;
    Ok(vec![Tensor::new(DType::Str, z)])
}

/// RegexFullMatch(X): a bool per string.
fn infer_regex(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    Ok(vec![Tensor::new(DType::Bool, strings(cx, 0)?.to_vec())])
}

/// StringSplit(X): substrings `[X…, n]` (padded with empty strings) and their counts `[X…]`.
/// n is at most `maxsplit + 1`; without `maxsplit` nothing bounds it (a free size, counted at 1).
fn infer_split(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = strings(cx, 0)?;
    let n = if numel(x)? == 0 {
        0
    } else {
        match cx.node.attrs.get("maxsplit") {
            Some(_) => {
                let m = cx.node.attr_int("maxsplit", 0);
                let most = u64::try_from(m)
                    .ok()
                    .and_then(|m| m.checked_add(1))
                    .ok_or_else(|| OpError::Invalid(format!("maxsplit {m} is negative")))?;
                data_dim(cx, most)?
            }
            None => super::data_dim(cx, "n", None)?,
        }
    };
    let mut y = x.to_vec();
    y.push(n);
    Ok(vec![
        Tensor::new(DType::Str, y),
        Tensor::new(DType::I64, x.to_vec()),
    ])
}

/// StringNormalizer(X [C] or [1, C]): the strings left after dropping `stopwords`, n of them
/// (data-dependent, 1 ≤ n ≤ C: an emptied tensor keeps one empty string); C without stopwords.
fn infer_normalizer(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let x = strings(cx, 0)?;
    let c = match x {
        [c] | [1, c] => *c,
        _ => return invalid(format!("input {x:?} is not [C] or [1, C]")),
    };
    match cx.node.attr_str("case_change_action").unwrap_or("NONE") {
        "NONE" | "LOWER" | "UPPER" => {}
        a => {
            return invalid(format!(
                "case_change_action '{a}' is not NONE, LOWER or UPPER"
            ))
        }
    }
    let stops = matches!(cx.node.attrs.get("stopwords"), Some(crate::graph::Attr::Strs(s)) if !s.is_empty());
    let n = if stops { data_dim(cx, c.max(1))? } else { c };
    let mut y = x.to_vec();
    if let Some(last) = y.last_mut() {
        *last = n;
    }
    Ok(vec![Tensor::new(DType::Str, y)])
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::super::testutil::*;
    use crate::graph::{Attr, DType, Graph, Node};
    use crate::ops::{lookup, Bodies, Cost, Ctx, OpError, Tensor};

    fn s(shape: &[u64]) -> Tensor {
        Tensor::new(DType::Str, shape.to_vec())
    }

    /// Binds every data-dependent size to its largest value, as the profile does.
    struct Largest;

    impl Bodies for Largest {
        fn analyze(&self, _: &Graph, _: Vec<Tensor>) -> super::super::BodyOutcome {
            Err(OpError::Unknown)
        }
        fn data_dim(&self, _: &str, largest: u64) -> Option<u64> {
            Some(largest)
        }
        /// A free size: bound to 9 here, a value no bound could give.
        fn free_dim(&self, _: &str) -> Option<u64> {
            Some(9)
        }
    }

    /// Runs `op` on `x` with data-dependent sizes bound to their largest values.
    fn run_bound(op: &str, x: &Tensor, attrs: &[(String, Attr)]) -> Vec<Tensor> {
        let node = Node {
            name: "n".into(),
            op_type: op.into(),
            domain: String::new(),
            inputs: vec![Some(0)],
            outputs: vec![Some(1), Some(2)],
            attrs: attrs.iter().cloned().collect(),
            scope: vec![],
        };
        let warnings = RefCell::new(Vec::new());
        let cx = Ctx {
            node: &node,
            inputs: vec![Some(x)],
            opset: 20,
            bodies: &Largest,
            warnings: &warnings,
        };
        let def = lookup("", op).unwrap();
        let outs = (def.infer)(&cx).unwrap();
        assert_eq!((def.cost)(&cx, &outs).unwrap(), Cost::default());
        outs
    }

    #[test]
    fn string_concat_and_regex_cost_nothing() {
        // [3] ++ [1] broadcasts to [3]; RegexFullMatch of [2,2] is [2,2] bool.
        let r = run1("StringConcat", &[s(&[3]), s(&[1])], &[]);
        assert_eq!(
            (r.shape, r.outs[0].dtype, r.cost),
            (vec![3], DType::Str, Cost::default())
        );
        let r = run1("RegexFullMatch", &[s(&[2, 2])], &[a_str("pattern", "a.*")]);
        assert_eq!(
            (r.shape, r.outs[0].dtype, r.cost.flops),
            (vec![2, 2], DType::Bool, 0)
        );
        assert!(run_err("StringConcat", &[s(&[3]), s(&[2])], &[]).contains("broadcast"));
        assert!(run_err("RegexFullMatch", &[f32t(&[2])], &[]).contains("string"));
    }

    #[test]
    fn string_split_counts_at_most_maxsplit_plus_one() {
        // [2,2] with maxsplit 2: at most 3 substrings each, Y [2,2,3], counts [2,2].
        let outs = run_bound("StringSplit", &s(&[2, 2]), &[a_int("maxsplit", 2)]);
        assert_eq!(outs[0].shape, Some(vec![2, 2, 3]));
        assert_eq!(
            (outs[1].dtype, outs[1].shape.clone()),
            (DType::I64, Some(vec![2, 2]))
        );
        // Without maxsplit the count has no bound: a free size (bound to 9 by the test).
        let outs = run_bound("StringSplit", &s(&[3]), &[]);
        assert_eq!(
            (outs[0].dtype, outs[0].shape.clone()),
            (DType::Str, Some(vec![3, 9]))
        );
        assert_eq!(outs[1].shape, Some(vec![3]));
        // An empty input splits into [0, 0].
        let r = run1("StringSplit", &[s(&[0])], &[]);
        assert_eq!(r.shape, vec![0, 0]);
    }

    #[test]
    fn string_normalizer_drops_stopwords() {
        // No stopwords: [1,4] stays [1,4]. With stopwords: [1, n], n at most 4.
        let r = run1(
            "StringNormalizer",
            &[s(&[1, 4])],
            &[a_str("case_change_action", "UPPER")],
        );
        assert_eq!(r.shape, vec![1, 4]);
        let stop = ("stopwords".to_string(), Attr::Strs(vec!["monday".into()]));
        let outs = run_bound("StringNormalizer", &s(&[4]), &[stop]);
        assert_eq!(outs[0].shape, Some(vec![4]));
        assert!(run_err("StringNormalizer", &[s(&[2, 4])], &[]).contains("[C]"));
    }
}
