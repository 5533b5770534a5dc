//! Node names of a traced module: what a PyTorch user reads in fvcore, ptflops or torchinfo,
//! the `named_modules()` name of the module that ran the operation (`layer1.0.conv1`).
//!
//! - A node is named after its innermost module; a module's second, third… node (a module
//!   called twice, an attention block's matmuls and softmax, a backward node under the module
//!   it differentiates) gets `#2`, `#3`…: `layer1.0.relu`, `layer1.0.relu#2`.
//! - A node of the root module itself (no module name) is named after its ATen operator
//!   (`add`, `add#2`).
//! - A bookkeeping node ([`crate::fold::is_bookkeeping`]: views, `detach`, constants), which
//!   has no row of its own, is named `module/op` (`layer1.0.relu/detach`), or `op` at the
//!   root, so that it takes no number from the layers of its module.
//!
//! Every name is unique in the graph: a name already given (a module literally called
//! `add#2`) moves on to the next number.

use std::collections::{HashMap, HashSet};

/// The names given so far, and the next number of each base name.
#[derive(Default)]
pub(crate) struct Names {
    next: HashMap<String, usize>,
    taken: HashSet<String>,
}

impl Names {
    /// The name of a node made by a call of ATen operator `call` (`add`) in the modules
    /// `scope` (outermost first), of operator type `op`; `bookkeeping` when it is folded.
    pub fn name(&mut self, scope: &[String], call: &str, op: &str, bookkeeping: bool) -> String {
        let base = match (scope.last(), bookkeeping) {
            (Some(m), false) => m.clone(),
            (None, false) if !call.is_empty() => call.to_string(),
            (Some(m), true) => format!("{m}/{op}"),
            (None, _) => op.to_string(),
        };
        loop {
            let k = self.next.entry(base.clone()).or_insert(0);
            *k += 1;
            let name = if *k == 1 {
                base.clone()
            } else {
                format!("{base}#{k}")
            };
            if self.taken.insert(name.clone()) {
                return name;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    fn scope(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn a_module_called_twice_is_numbered_from_its_second_node() {
        let mut n = Names::default();
        let relu = scope(&["layer1", "layer1.0", "layer1.0.relu"]);
        let conv = scope(&["layer1", "layer1.0", "layer1.0.conv1"]);
        assert_eq!(
            n.name(&conv, "convolution", "Conv", false),
            "layer1.0.conv1"
        );
        assert_eq!(n.name(&relu, "relu", "Relu", false), "layer1.0.relu");
        // The detach after it takes no number: the second call is #2.
        assert_eq!(
            n.name(&relu, "detach", "detach", true),
            "layer1.0.relu/detach"
        );
        assert_eq!(n.name(&relu, "relu", "Relu", false), "layer1.0.relu#2");
        assert_eq!(
            n.name(&relu, "detach", "detach", true),
            "layer1.0.relu/detach#2"
        );
    }

    #[test]
    fn the_root_module_names_its_nodes_by_operator() {
        let mut n = Names::default();
        assert_eq!(n.name(&[], "add", "Add", false), "add");
        assert_eq!(n.name(&[], "add", "Add", false), "add#2");
        assert_eq!(n.name(&[], "view", "view", true), "view");
        assert_eq!(n.name(&[], "", "Constant", true), "Constant");
        assert_eq!(n.name(&[], "", "Constant", true), "Constant#2");
    }

    #[test]
    fn names_stay_unique_when_a_module_is_called_like_a_number() {
        let mut n = Names::default();
        assert_eq!(n.name(&scope(&["add#2"]), "mul", "Mul", false), "add#2");
        assert_eq!(n.name(&[], "add", "Add", false), "add");
        // `add#2` is taken by the module: the root's second add is `add#3`.
        assert_eq!(n.name(&[], "add", "Add", false), "add#3");
    }
}
