//! Per-operator sums and the operator families rows are grouped by, so that conventions that
//! observe different things (modules, functions, ATen calls, ONNX nodes) line up in one table.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Convention, Counted};
use crate::error::{Error, Result};
use crate::schema::Profile;

/// The operator family of an operator, function or module class name (`aten.addmm.default`,
/// `torch.nn.functional.linear`, `Conv2d`, ONNX `Gemm`): the unit the explain table compares.
pub fn category(op: &str) -> &'static str {
    // A module class (`torch.nn.modules.conv.Conv2d`): its class name.
    let last = op.rsplit('.').next().unwrap_or(op);
    let op = if last.starts_with(|c: char| c.is_ascii_uppercase()) {
        last
    } else {
        op
    };
    let base = op
        .trim_start_matches("aten.")
        .trim_start_matches("torch.nn.functional.")
        .trim_start_matches("torch.Tensor.")
        .trim_start_matches("torch.");
    let base = base.split('.').next().unwrap_or(base).trim_matches('_');
    let b = base.to_ascii_lowercase();
    let has = |ks: &[&str]| ks.iter().any(|k| b.contains(k));
    // Hugging Face's `Conv1D` (GPT-2) is a linear layer with its weight transposed.
    if base == "Conv1D" {
        return "matmul";
    }
    if has(&["attention", "multiheadattention", "multi_head"]) {
        "attention"
    } else if has(&["conv"]) {
        "convolution"
    } else if has(&["linear", "matmul", "addmm", "einsum", "gemm", "bmm"]) || b == "mm" {
        "matmul"
    } else if has(&["lstm", "gru", "rnn"]) {
        "recurrent"
    } else if has(&["norm"]) {
        "normalization"
    } else if has(&["softmax"]) {
        "softmax"
    } else if has(&["pool"]) {
        "pooling"
    } else if has(&["upsample", "interpolate", "resize", "grid_sampl"]) {
        "upsampling"
    } else if has(&["embedding", "gather"]) {
        "embedding"
    } else if has(&[
        "relu",
        "gelu",
        "silu",
        "sigmoid",
        "tanh",
        "elu",
        "hardswish",
        "swish",
        "mish",
        "softplus",
        "clip",
    ]) {
        "activation"
    } else if has(&[
        "add", "sub", "mul", "div", "pow", "sqrt", "exp", "neg", "mean", "sum", "where",
    ]) {
        "elementwise"
    } else {
        "other"
    }
}

/// One operator family's share of a convention's totals.
#[derive(Clone, Debug, Serialize)]
pub struct OpRow {
    /// The family (`matmul`, `attention`, `normalization`…).
    pub operator: String,
    /// The operators, functions or module classes counted in it, with how many times each.
    pub ops: BTreeMap<String, u64>,
    /// MACs under the convention (`None`: the convention has no MAC figure).
    pub macs: Option<u64>,
    /// FLOPs under the convention (`None`: no FLOP figure).
    pub flops: Option<u64>,
}

/// Sums a convention builds up, row by row.
#[derive(Default)]
pub(crate) struct Tally {
    rows: BTreeMap<&'static str, (BTreeMap<String, u64>, u128, u128)>,
    pub has_macs: bool,
    pub has_flops: bool,
    /// Totals a tool computes in floating point (thop, ptflops): they replace the row sums.
    pub total_macs: Option<u128>,
    pub total_flops: Option<u128>,
    pub params: Option<u128>,
    pub notes: Vec<String>,
}

impl Tally {
    pub fn new(has_macs: bool, has_flops: bool) -> Tally {
        Tally {
            has_macs,
            has_flops,
            ..Tally::default()
        }
    }
    /// Adds one counted operator (`op`: the name the row lists; zero costs still list it).
    pub fn add(&mut self, op: &str, macs: u128, flops: u128) {
        let r = self.rows.entry(category(op)).or_default();
        *r.0.entry(short(op)).or_default() += 1;
        r.1 += macs;
        r.2 += flops;
    }
    pub fn finish(self, c: Convention) -> Result<Counted> {
        let fit = |x: u128, what: &str| {
            u64::try_from(x).map_err(|_| {
                Error::Overflow(format!("the {what} under convention {c} exceed 2^64"))
            })
        };
        let mut operators = Vec::new();
        let (mut m, mut f) = (0u128, 0u128);
        for (cat, (ops, macs, flops)) in self.rows {
            m += macs;
            f += flops;
            operators.push(OpRow {
                operator: cat.into(),
                ops,
                macs: self.has_macs.then(|| fit(macs, "MACs")).transpose()?,
                flops: self.has_flops.then(|| fit(flops, "FLOPs")).transpose()?,
            });
        }
        operators.sort_by_key(|r| std::cmp::Reverse(r.macs.or(r.flops).unwrap_or(0)));
        Ok(Counted {
            convention: c,
            tool: c.tool(),
            macs: self
                .has_macs
                .then(|| fit(self.total_macs.unwrap_or(m), "MACs"))
                .transpose()?,
            flops: self
                .has_flops
                .then(|| fit(self.total_flops.unwrap_or(f), "FLOPs"))
                .transpose()?,
            params: self.params.map(|p| fit(p, "parameters")).transpose()?,
            operators,
            notes: self.notes,
        })
    }
}

/// `aten.addmm.default` → `addmm`; `torch.nn.functional.linear` → `F.linear`;
/// `torch.nn.modules.conv.Conv2d` → `nn.Conv2d`.
fn short(op: &str) -> String {
    if let Some(rest) = op.strip_prefix("aten.") {
        return rest.split('.').next().unwrap_or(rest).to_string();
    }
    if let Some(rest) = op.strip_prefix("torch.nn.functional.") {
        return format!("F.{rest}");
    }
    if op.starts_with("torch.nn.modules.") {
        return format!("nn.{}", op.rsplit('.').next().unwrap_or(op));
    }
    op.to_string()
}

/// The exact count, from the profile's forward layers.
pub(crate) fn exact(p: &Profile) -> Counted {
    let mut t = Tally::new(true, true);
    for l in p.layers.iter().filter(|l| !l.backward) {
        t.add(
            &l.op,
            l.macs.unwrap_or(0) as u128,
            l.flops.unwrap_or(0) as u128,
        );
    }
    t.total_macs = Some(p.totals.macs as u128);
    t.total_flops = Some(p.totals.flops as u128);
    t.params = Some(p.totals.params as u128);
    t.finish(Convention::Exact)
        .expect("a profile's totals fit in u64")
}
