//! `--attention causal-half`: an analysed graph's causal attention counted as half its score
//! matrix (`docs/counting.md`, "Causal attention"). The operator rule always counts the whole
//! L × S matrix; this pass replaces the cost of each node that says it is causal
//! ([`crate::ops::says_causal`]) once the graph is analysed, so the layer rows, the totals, the
//! formulas and the training step's forward all see the same number.

use crate::error::{Error, Result};
use crate::graph::Graph;
use crate::infer::Analysis;
use crate::ops::OpError;
use crate::options::Attention;

/// Applies `mode` to `a`: with [`Attention::CausalHalf`], every top-level causal `Attention`
/// node with as many queries as keys costs its causal half. Returns the names of causal nodes
/// left whole (L ≠ S, a KV cache), for a warning. Subgraphs (`If`, `Loop`, `Scan` bodies) are
/// left whole.
pub fn apply(g: &Graph, a: &mut Analysis, mode: Attention) -> Result<Vec<String>> {
    let mut whole = Vec::new();
    if mode == Attention::Full {
        return Ok(whole);
    }
    for (i, node) in g.nodes.iter().enumerate() {
        if !crate::ops::says_causal(node) || a.nodes[i].cost.is_none() {
            continue;
        }
        let shape = |k: usize| {
            node.inputs
                .get(k)
                .copied()
                .flatten()
                .and_then(|v| a.tensors[v].as_ref())
                .and_then(|t| t.shape.as_deref())
        };
        match crate::ops::causal_half_cost(node, [shape(0), shape(1), shape(2), shape(4)]) {
            Ok(Some(c)) => a.nodes[i].cost = Some(c),
            Ok(None) | Err(OpError::Unknown) => whole.push(node.name.clone()),
            Err(OpError::Invalid(msg)) => {
                return Err(Error::Invalid(format!("node '{}': {msg}", node.name)))
            }
        }
    }
    Ok(whole)
}

/// The warning for causal nodes left whole by [`apply`] (`None` when there are none).
pub fn whole_warning(names: &[String]) -> Option<String> {
    let first = names.first()?;
    Some(format!(
        "--attention causal-half: {} causal attention node(s) with fewer queries than keys (a \
         KV cache; first: '{first}') are counted whole: half the score matrix is not what their \
         mask keeps",
        names.len()
    ))
}
