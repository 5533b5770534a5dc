//! Every operator the onnx package defines (tests/data/onnx/operators.txt, written by
//! scripts/list_onnx_operators.py from onnx 1.23.2: 227 operators in four domains) has a
//! shape, dtype and cost rule, control flow included.

use crate::common::data;

/// Operators deliberately without a rule, and why.
const WITHOUT: &[(&str, &str)] = &[(
    "ai.onnx.preview.training Gradient",
    "its cost is the backward pass of a subgraph named by attributes: backward rules come with \
     training cost",
)];

#[test]
fn every_onnx_operator_has_a_rule() {
    let text = std::fs::read_to_string(data().join("onnx/operators.txt")).unwrap();
    let mut missing = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.split(' ');
        let (domain, op) = (f.next().unwrap(), f.next().unwrap());
        n += 1;
        let key = format!("{domain} {op}");
        let domain = if domain == "ai.onnx" { "" } else { domain };
        if flopscope_core::ops::rule(domain, op).is_none()
            && !WITHOUT.iter().any(|(k, _)| *k == key)
        {
            missing.push(key);
        }
    }
    assert_eq!(n, 227);
    assert!(missing.is_empty(), "no rule for {missing:?}");
}
