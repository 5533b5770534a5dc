//! Matrix-product family: `Gemm`, `MatMul`, `Einsum`. See `docs/counting.md`, "Matrix products".
//!
//! MatMul: MACs = Π(broadcast batch dims) · M · N · K. Gemm: MACs = M · N · K; adding C costs
//! M · N FLOPs, scaling by alpha ≠ 1 another M · N, and by beta ≠ 1 (when C is given) another
//! M · N. Einsum with two operands: MACs = Π(size of every distinct index); n ≥ 3 operands are
//! counted as (n − 1) pairwise products over the whole index space (an upper bound); one
//! operand: one FLOP per visited element when an index is summed out, else 0.

use std::collections::HashMap;

use super::{broadcast, invalid, mul, numel, Cost, Ctx, OpDef, OpError, Shape, Tensor};

/// Rules for the ops of this family.
pub fn lookup(op: &str) -> Option<OpDef> {
    Some(match op {
        "Gemm" => OpDef {
            infer: infer_gemm,
            cost: cost_gemm,
        },
        "MatMul" => OpDef {
            infer: infer_matmul,
            cost: cost_matmul,
        },
        "Einsum" => OpDef {
            infer: infer_einsum,
            cost: cost_einsum,
        },
        _ => return None,
    })
}

/// (M, K, N) of a Gemm after the transposes.
fn gemm_mkn(cx: &Ctx) -> Result<(u64, u64, u64), OpError> {
    let (a, b) = (cx.shape(0)?, cx.shape(1)?);
    if a.len() != 2 || b.len() != 2 {
        return invalid(format!("Gemm needs 2-D inputs, got {a:?} and {b:?}"));
    }
    let (m, k) = if cx.node.attr_int("transA", 0) != 0 {
        (a[1], a[0])
    } else {
        (a[0], a[1])
    };
    let (k2, n) = if cx.node.attr_int("transB", 0) != 0 {
        (b[1], b[0])
    } else {
        (b[0], b[1])
    };
    if k != k2 {
        return invalid(format!(
            "inner dimensions differ: A {a:?} and B {b:?} give K = {k} and {k2}"
        ));
    }
    Ok((m, k, n))
}

fn infer_gemm(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (m, _, n) = gemm_mkn(cx)?;
    if let Some(c) = cx.opt(2).and_then(|c| c.shape.as_deref()) {
        let b = broadcast(c, &[m, n])?;
        if b != [m, n] {
            return invalid(format!("C {c:?} does not broadcast to [{m}, {n}]"));
        }
    }
    Ok(vec![Tensor::new(cx.dtype(0)?, vec![m, n])])
}

fn cost_gemm(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (m, k, n) = gemm_mkn(cx)?;
    let mn = mul(&[m, n])?;
    let has_c = cx.opt(2).is_some();
    let mut extra = 0;
    if has_c {
        extra += mn;
    }
    if cx.node.attr_float("alpha", 1.0) != 1.0 {
        extra += mn;
    }
    if has_c && cx.node.attr_float("beta", 1.0) != 1.0 {
        extra += mn;
    }
    Cost::products(mul(&[m, k, n])?, extra)
}

/// Output shape and (batch, M, K, N) of a numpy-style matmul.
pub fn matmul_dims(a: &[u64], b: &[u64]) -> Result<(Shape, [u64; 4]), OpError> {
    if a.is_empty() || b.is_empty() {
        return invalid("MatMul inputs must have rank ≥ 1");
    }
    let a2: Vec<u64> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<u64> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (k2, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != k2 {
        return invalid(format!(
            "inner dimensions differ: {a:?} × {b:?} (K = {k} vs {k2})"
        ));
    }
    let batch = broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
    let mut out = batch.clone();
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    Ok((out, [numel(&batch)?, m, k, n]))
}

fn infer_matmul(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let (out, _) = matmul_dims(cx.shape(0)?, cx.shape(1)?)?;
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_matmul(cx: &Ctx, _: &[Tensor]) -> Result<Cost, OpError> {
    let (_, d) = matmul_dims(cx.shape(0)?, cx.shape(1)?)?;
    Cost::products(mul(&d)?, 0)
}

/// Parsed einsum: per operand its index letters (ellipsis expanded), and the output letters.
struct Einsum {
    operands: Vec<Vec<char>>,
    output: Vec<char>,
    sizes: HashMap<char, u64>,
}

fn einsum(cx: &Ctx) -> Result<Einsum, OpError> {
    let eq: String = cx
        .node
        .attr_str("equation")
        .ok_or_else(|| OpError::Invalid("missing 'equation' attribute".into()))?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<&str> = lhs.split(',').collect();
    if terms.len() != cx.inputs.len() {
        return invalid(format!(
            "equation '{eq}' names {} operands but the node has {}",
            terms.len(),
            cx.inputs.len()
        ));
    }
    // Ellipsis dims get private letters from the Unicode private-use area, right-aligned.
    let ell = |i: usize| {
        u32::try_from(i)
            .ok()
            .and_then(|i| i.checked_add(0xE000))
            .and_then(char::from_u32)
            .unwrap_or('?')
    };
    let mut ell_rank = 0;
    let mut operands = Vec::new();
    let mut sizes: HashMap<char, u64> = HashMap::new();
    for (t, term) in terms.iter().enumerate() {
        let shape = cx.shape(t)?;
        let named = term.replace("...", "").chars().count();
        let mut letters = Vec::new();
        if let Some((pre, post)) = term.split_once("...") {
            let er = shape.len().checked_sub(named).ok_or_else(|| {
                OpError::Invalid(format!("operand {t} has rank {} < '{term}'", shape.len()))
            })?;
            ell_rank = ell_rank.max(er);
            letters.extend(pre.chars());
            letters.extend((0..er).map(|i| ell(i + 64 - er)));
            letters.extend(post.chars());
        } else {
            letters.extend(term.chars());
        }
        if letters.len() != shape.len() {
            return invalid(format!("operand {t} has rank {} but '{term}'", shape.len()));
        }
        for (&c, &d) in letters.iter().zip(shape) {
            match sizes.get(&c) {
                Some(&e) if e != d && e != 1 && d != 1 => {
                    return invalid(format!(
                        "index '{c}' is {e} in one operand and {d} in another"
                    ))
                }
                Some(&e) if e >= d => {}
                _ => {
                    sizes.insert(c, d);
                }
            }
        }
        operands.push(letters);
    }
    let ell_letters: Vec<char> = (0..ell_rank).map(|i| ell(i + 64 - ell_rank)).collect();
    let output: Vec<char> = match rhs {
        Some(r) => {
            let mut o = Vec::new();
            match r.split_once("...") {
                Some((pre, post)) => {
                    o.extend(pre.chars());
                    o.extend(&ell_letters);
                    o.extend(post.chars());
                }
                None => o.extend(r.chars()),
            }
            o
        }
        None => {
            // Implicit mode: ellipsis dims, then letters used exactly once, alphabetically.
            let mut once: Vec<char> = sizes
                .keys()
                .copied()
                .filter(|c| !ell_letters.contains(c))
                .filter(|c| operands.iter().flatten().filter(|x| *x == c).count() == 1)
                .collect();
            once.sort_unstable();
            ell_letters.iter().copied().chain(once).collect()
        }
    };
    if let Some(c) = output.iter().find(|c| !sizes.contains_key(c)) {
        return invalid(format!("output index '{c}' appears in no operand"));
    }
    Ok(Einsum {
        operands,
        output,
        sizes,
    })
}

fn infer_einsum(cx: &Ctx) -> Result<Vec<Tensor>, OpError> {
    let e = einsum(cx)?;
    let out = e.output.iter().map(|c| e.sizes[c]).collect();
    Ok(vec![Tensor::new(cx.dtype(0)?, out)])
}

fn cost_einsum(cx: &Ctx, out: &[Tensor]) -> Result<Cost, OpError> {
    let e = einsum(cx)?;
    let all = mul(&e.sizes.values().copied().collect::<Vec<_>>())?;
    match e.operands.len() {
        1 => {
            // A transpose, diagonal, trace or sum: one add per visited element when an index
            // is summed out (a repeated letter visits a diagonal, not the whole input).
            let summed = e.operands[0].iter().any(|c| !e.output.contains(c));
            let mut letters = e.operands[0].clone();
            letters.sort_unstable();
            letters.dedup();
            let visited = mul(&letters.iter().map(|c| e.sizes[c]).collect::<Vec<_>>())?;
            let _ = out;
            Ok(Cost::flops(if summed { visited } else { 0 }))
        }
        // Evaluated pairwise without reordering: (operands − 1) products over the full index space.
        n => Cost::products(mul(&[all, n as u64 - 1])?, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;

    #[test]
    fn gemm_with_transposes_and_bias() {
        // A [64,32] transA → M=32, K=64; B [10,64] transB → N=10. MACs = 32·10·64 = 20480.
        // C adds 320; alpha 0.5 scales another 320.
        let r = run1(
            "Gemm",
            &[f32t(&[64, 32]), f32t(&[10, 64]), f32t(&[10])],
            &[
                a_int("transA", 1),
                a_int("transB", 1),
                a_float("alpha", 0.5),
            ],
        );
        assert_eq!(r.shape, vec![32, 10]);
        assert_eq!(r.cost.macs, 20480);
        assert_eq!(r.cost.flops, 2 * 20480 + 320 + 320);
        let e = run_err("Gemm", &[f32t(&[4, 5]), f32t(&[4, 6])], &[]);
        assert!(e.contains("inner dimensions"), "{e}");
    }

    #[test]
    fn batched_matmul_broadcasting() {
        // [2,1,4,8] × [3,8,5] → batch broadcast [2,3] → [2,3,4,5]; MACs = 6·4·5·8 = 960.
        let r = run1("MatMul", &[f32t(&[2, 1, 4, 8]), f32t(&[3, 8, 5])], &[]);
        assert_eq!(r.shape, vec![2, 3, 4, 5]);
        assert_eq!(r.cost.macs, 960);
        // Vector cases: [8] × [8,5] → [5] (40 MACs); [4,8] × [8] → [4] (32 MACs).
        let r = run1("MatMul", &[f32t(&[8]), f32t(&[8, 5])], &[]);
        assert_eq!((r.shape.clone(), r.cost.macs), (vec![5], 40));
        let r = run1("MatMul", &[f32t(&[4, 8]), f32t(&[8])], &[]);
        assert_eq!((r.shape.clone(), r.cost.macs), (vec![4], 32));
    }

    #[test]
    fn einsum_attention_scores() {
        // bhid,bhjd->bhij with b=2,h=4,i=j=16,d=8: MACs = 2·4·16·16·8 = 16384.
        let r = run1(
            "Einsum",
            &[f32t(&[2, 4, 16, 8]), f32t(&[2, 4, 16, 8])],
            &[a_str("equation", "bhid,bhjd->bhij")],
        );
        assert_eq!(r.shape, vec![2, 4, 16, 16]);
        assert_eq!(r.cost.macs, 16384);
        let r = run1(
            "Einsum",
            &[f32t(&[3, 5, 7]), f32t(&[7, 2])],
            &[a_str("equation", "...k,kn")],
        );
        assert_eq!(r.shape, vec![3, 5, 2]);
        assert_eq!(r.cost.macs, 3 * 5 * 7 * 2);
        // One operand: a trace visits the 6-element diagonal; a diagonal copy adds nothing.
        let r = run1("Einsum", &[f32t(&[6, 6])], &[a_str("equation", "ii->")]);
        assert_eq!((r.shape.clone(), r.cost.flops), (vec![], 6));
        let r = run1("Einsum", &[f32t(&[6, 6])], &[a_str("equation", "ii->i")]);
        assert_eq!((r.shape.clone(), r.cost.flops), (vec![6], 0));
    }
}
