//! Conventions that read module calls (forward hooks): thop and ptflops count the modules
//! whose exact class they have a rule for; torchinfo multiplies each leaf module's parameters
//! by its output size. Their parameter counts follow the same hooks.

use std::collections::{HashMap, HashSet};

use super::functions::ptflops_functions;
use super::observe::{dict_last, first_shape, numel, Module, ModuleCall, Observation};
use super::tally::Tally;
use crate::error::Result;

fn xin(c: &ModuleCall) -> Vec<u64> {
    c.args.first().and_then(first_shape).unwrap_or_default()
}

fn yout(c: &ModuleCall) -> Vec<u64> {
    first_shape(&c.out).unwrap_or_default()
}

fn w(m: &Module, name: &str) -> Vec<u64> {
    m.param(name).map(|p| p.shape.clone()).unwrap_or_default()
}

/// Distinct parameters of `m` and everything under it (`m.parameters()`).
fn recursive_params(mods: &[Module], by_name: &HashMap<&str, usize>, i: usize) -> u128 {
    let mut seen = HashSet::new();
    let mut stack = vec![i];
    let mut n = 0;
    let mut visited = HashSet::new();
    while let Some(k) = stack.pop() {
        if !visited.insert(k) {
            continue;
        }
        for p in &mods[k].params {
            if seen.insert(p.id) {
                n += numel(&p.shape);
            }
        }
        stack.extend(
            mods[k]
                .children
                .iter()
                .filter_map(|c| by_name.get(c.as_str()).copied()),
        );
    }
    n
}

fn index(mods: &[Module]) -> HashMap<&str, usize> {
    mods.iter()
        .enumerate()
        .map(|(i, m)| (m.name.as_str(), i))
        .collect()
}

const THOP: &[&str] = &[
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "SyncBatchNorm",
    "PReLU",
    "Softmax",
    "ReLU",
    "ReLU6",
    "LeakyReLU",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "Linear",
    "Dropout",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
    "RNNCell",
    "GRUCell",
    "LSTMCell",
    "RNN",
    "GRU",
    "LSTM",
    "Sequential",
    "PixelShuffle",
];

/// thop's `count_*` hooks (`thop/vision/basic_hooks.py`, `thop/rnn_hooks.py`), in MACs.
fn thop_op(m: &Module, c: &ModuleCall) -> f64 {
    let (x, y) = (xin(c), yout(c));
    let k = m.class();
    match k {
        _ if k.starts_with("Conv") => {
            let g = m.attr_int("groups").unwrap_or(1).max(1) as u128;
            let cin = x.get(1).copied().unwrap_or(0) as u128;
            (numel(&y) * (cin / g) * numel(w(m, "weight").get(2..).unwrap_or(&[]))) as f64
        }
        _ if k.contains("Norm") => {
            let affine = m.attr_bool("affine") || m.attr_bool("elementwise_affine");
            (2 * numel(&x) * if affine { 2 } else { 1 }) as f64
        }
        "PReLU" => {
            if m.attr_bool("training") {
                0.0
            } else {
                numel(&x) as f64
            }
        }
        "Softmax" => {
            let d = m.attr_int("dim").unwrap_or(-1);
            let d = if d < 0 { d + x.len() as i64 } else { d } as usize;
            let nf = x.get(d).copied().unwrap_or(1).max(1) as u128;
            ((numel(&x) / nf) * (3 * nf - 1)) as f64
        }
        "AvgPool1d" | "AvgPool2d" | "AvgPool3d" => numel(&y) as f64,
        _ if k.starts_with("AdaptiveAvgPool") => {
            let kernel: f64 = x
                .iter()
                .skip(2)
                .zip(y.iter().skip(2))
                .map(|(&a, &b)| a as f64 / b as f64)
                .product();
            ((kernel + 1.0) * numel(&y) as f64).trunc()
        }
        "Linear" => (m.attr_int("in_features").unwrap_or(0) as u128 * numel(&y)) as f64,
        "Upsample" | "UpsamplingBilinear2d" | "UpsamplingNearest2d" => {
            let f = match m.attrs.get("mode").and_then(|j| j.as_str()) {
                Some("nearest") => 1,
                Some("linear") => 5,
                Some("bilinear") => 11,
                Some("bicubic") => 259,
                _ => 0,
            };
            (numel(&y) * f) as f64
        }
        "RNN" | "GRU" | "LSTM" | "RNNCell" | "GRUCell" | "LSTMCell" => thop_rnn(m, &x) as f64,
        _ => 0.0,
    }
}

fn thop_rnn(m: &Module, x: &[u64]) -> u128 {
    let bias = m.attr_bool("bias");
    let (i, h) = (
        m.attr_int("input_size").unwrap_or(0) as u128,
        m.attr_int("hidden_size").unwrap_or(0) as u128,
    );
    let b2 = if bias { 2 * h } else { 0 };
    let cell = |i: u128| -> u128 {
        match m.class().trim_end_matches("Cell") {
            "RNN" => h * (i + h) + h + b2,
            "GRU" => {
                let st = (h + i) * h + h + b2;
                st * 2 + (h + i) * h + h + b2 + h + 3 * h
            }
            _ => 4 * ((i + h) * h + h + b2) + 3 * h + h,
        }
    };
    if m.class().ends_with("Cell") {
        return cell(i) * x.first().copied().unwrap_or(0) as u128;
    }
    let bi = m.attr_bool("bidirectional");
    let dirs = if bi { 2 } else { 1 };
    let mut ops = cell(i) * dirs;
    for _ in 1..m.attr_int("num_layers").unwrap_or(1) {
        ops += cell(h * dirs) * dirs;
    }
    let (batch, steps) = if m.attr_bool("batch_first") {
        (x.first(), x.get(1))
    } else {
        (x.get(1), x.first())
    };
    ops * *steps.unwrap_or(&0) as u128 * *batch.unwrap_or(&0) as u128
}

/// thop 0.1.1: `profile()` sums the hooks of the first modules with a rule on each path from
/// the root (`dfs_count`; `Sequential` is looked through), their parameters too, never the
/// root's own parameters.
pub(crate) fn thop(obs: &Observation) -> Result<Tally> {
    let (mods, calls) = obs.modules("thop")?;
    let by_name = index(mods);
    let rule = |m: &Module| m.is_nn(THOP);
    let mut ops = vec![0f64; mods.len()];
    let mut called = vec![false; mods.len()];
    let mut t = Tally::new(true, false);
    for c in calls {
        let Some(m) = mods.get(c.m) else { continue };
        if rule(m) {
            let v = thop_op(m, c);
            ops[c.m] += v;
            called[c.m] = true;
        }
    }
    // dfs_count from the root: (ops, params).
    fn dfs(
        i: usize,
        mods: &[Module],
        by_name: &HashMap<&str, usize>,
        ops: &[f64],
        called: &[bool],
        t: &mut Tally,
    ) -> (f64, u128) {
        let (mut o, mut p) = (ops[i], 0u128);
        for c in &mods[i].children {
            let Some(&k) = by_name.get(c.as_str()) else {
                continue;
            };
            let m = &mods[k];
            if m.is_nn(THOP) && !m.is_nn(&["Sequential", "ModuleList"]) {
                o += ops[k];
                if called[k] {
                    p += recursive_params(mods, by_name, k);
                    t.add(&m.kind, ops[k] as u128, 0);
                }
            } else {
                let (a, b) = dfs(k, mods, by_name, ops, called, t);
                o += a;
                p += b;
            }
        }
        (o, p)
    }
    let (o, p) = dfs(0, mods, &by_name, &ops, &called, &mut t);
    // Rows: the counted modules (the root's own hook included).
    if ops[0] != 0.0 {
        t.add(&mods[0].kind, ops[0] as u128, 0);
    }
    t.total_macs = Some(o as u128);
    t.params = Some(p);
    Ok(t)
}

const PTFLOPS: &[&str] = &[
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ReLU",
    "PReLU",
    "ELU",
    "LeakyReLU",
    "ReLU6",
    "MaxPool1d",
    "AvgPool1d",
    "AvgPool2d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveAvgPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool3d",
    "AdaptiveAvgPool3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "GroupNorm",
    "LayerNorm",
    "Linear",
    "Upsample",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "RNN",
    "GRU",
    "LSTM",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "MultiheadAttention",
    "GELU",
];

/// ptflops' module hooks (`pytorch_ops.py`, `MODULES_MAPPING`), in MACs.
fn ptflops_op(m: &Module, c: &ModuleCall) -> u128 {
    let (x, y) = (xin(c), yout(c));
    let k = m.class();
    let has_bias = m.param("bias").is_some();
    match k {
        _ if k.starts_with("Conv") => {
            let ks: u128 = m
                .attrs
                .get("kernel_size")
                .and_then(|j| j.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_u64())
                        .map(u128::from)
                        .product()
                })
                .unwrap_or(1);
            let (cin, cout) = (
                m.attr_int("in_channels").unwrap_or(0) as u128,
                m.attr_int("out_channels").unwrap_or(0) as u128,
            );
            let g = m.attr_int("groups").unwrap_or(1).max(1) as u128;
            let batch = x.first().copied().unwrap_or(0) as u128;
            let sp = if k.starts_with("ConvTranspose") {
                &x
            } else {
                &y
            };
            let active = batch * numel(sp.get(2..).unwrap_or(&[]));
            let bias = if has_bias {
                batch * numel(y.get(1..).unwrap_or(&[]))
            } else {
                0
            };
            ks * cin * (cout / g) * active + bias
        }
        "ReLU" | "PReLU" | "ELU" | "LeakyReLU" | "ReLU6" | "GELU" => numel(&y),
        _ if k.contains("Pool") => numel(&x),
        _ if k.contains("Norm") => numel(&x) * if m.attr_bool("affine") { 2 } else { 1 },
        "Linear" => {
            let (i, o) = (
                *x.last().unwrap_or(&0) as u128,
                *y.last().unwrap_or(&0) as u128,
            );
            (i * o + if has_bias { o } else { 0 })
                * numel(x.get(..x.len().saturating_sub(1)).unwrap_or(&[]))
        }
        "Upsample" => numel(y.get(1..).unwrap_or(&[])),
        "RNN" | "GRU" | "LSTM" | "RNNCell" | "GRUCell" | "LSTMCell" => rnn(m, &x, false),
        "MultiheadAttention" => mha(m, c),
        _ => 0,
    }
}

/// `rnn_flops` (ptflops) and `_rnn_flops` (calflops, DeepSpeed: `fma = true`, each product
/// counted as 2·rows·cols − rows), per layer, times the first two input dimensions (both
/// tools take the batch first, whatever `batch_first` says), twice when bidirectional.
fn rnn(m: &Module, x: &[u64], fma: bool) -> u128 {
    let h = m.attr_int("hidden_size").unwrap_or(0) as u128;
    let extra = match m.class().trim_end_matches("Cell") {
        "RNN" => h,
        "GRU" => h + 3 * h + 3 * h,
        _ => 4 * h + 3 * h + 3 * h,
    };
    let cell = m.class().ends_with("Cell");
    let layers = if cell {
        1
    } else {
        m.attr_int("num_layers").unwrap_or(1).max(1)
    };
    let mut f = 0u128;
    for l in 0..layers {
        let sfx = if cell {
            String::new()
        } else {
            format!("_l{l}")
        };
        for name in ["weight_ih", "weight_hh"] {
            let s = w(m, &format!("{name}{sfx}"));
            let (r, cc) = (
                *s.first().unwrap_or(&0) as u128,
                *s.get(1).unwrap_or(&0) as u128,
            );
            f += if fma { 2 * r * cc - r } else { r * cc };
        }
        f += extra;
        if m.attr_bool("bias") {
            for name in ["bias_ih", "bias_hh"] {
                f += *w(m, &format!("{name}{sfx}")).first().unwrap_or(&0) as u128;
            }
        }
    }
    f *= *x.first().unwrap_or(&0) as u128;
    if !cell {
        f *= *x.get(1).unwrap_or(&0) as u128;
        if m.attr_bool("bidirectional") {
            f *= 2;
        }
    }
    f
}

/// ptflops' `multihead_attention_counter_hook`.
fn mha(m: &Module, c: &ModuleCall) -> u128 {
    let s = |i: usize| c.args.get(i).and_then(first_shape).unwrap_or_default();
    let (q, k, v) = (s(0), s(1), s(2));
    let (bi, li) = if m.attr_bool("batch_first") {
        (0, 1)
    } else {
        (1, 0)
    };
    let g = |v: &[u64], i: usize| *v.get(i).unwrap_or(&0) as u128;
    let (qd, kd, vd) = (g(&q, 2), g(&k, 2), g(&v, 2));
    let (ql, kl, vl) = (g(&q, li), g(&k, li), g(&v, li));
    let heads = m.attr_int("num_heads").unwrap_or(1).max(1) as u128;
    let mut f = ql * qd + ql * qd * qd + kl * kd * kd + vl * vd * vd;
    if m.param("in_proj_bias").is_some() {
        f += (ql + kl + vl) * qd;
    }
    f += heads * (ql * kl * (qd / heads) + ql * kl + ql * kl * (vd / heads));
    f += ql * vd * (vd + 1);
    f * g(&q, bi)
}

/// ptflops 0.7.5 (PyTorch backend): the module hooks' sum over the tree (a module with a
/// rule is not looked into) divided by the batch (the root's first argument's length), plus
/// the patched functions, not divided; truncated to an integer.
pub(crate) fn ptflops(obs: &Observation) -> Result<Tally> {
    let (mods, calls) = obs.modules("ptflops")?;
    let by_name = index(mods);
    let mut flops = vec![0u128; mods.len()];
    let mut t = Tally::new(true, false);
    for c in calls {
        if let Some(m) = mods.get(c.m).filter(|m| m.is_nn(PTFLOPS)) {
            flops[c.m] += ptflops_op(m, c);
        }
    }
    fn acc(
        i: usize,
        mods: &[Module],
        by_name: &HashMap<&str, usize>,
        fl: &[u128],
        t: &mut Tally,
    ) -> u128 {
        if mods[i].is_nn(PTFLOPS) {
            t.add(&mods[i].kind, fl[i], 0);
            return fl[i];
        }
        mods[i]
            .children
            .iter()
            .filter_map(|c| by_name.get(c.as_str()))
            .map(|&k| acc(k, mods, by_name, fl, t))
            .sum()
    }
    let modules = acc(0, mods, &by_name, &flops, &mut t);
    let batch = calls
        .iter()
        .find(|c| c.m == 0 && c.parent.is_none())
        .and_then(|c| c.args.first())
        .map(|a| match a {
            serde_json::Value::Array(xs) => xs.len() as u128,
            j => first_shape(j).and_then(|s| s.first().copied()).unwrap_or(1) as u128,
        })
        .unwrap_or(1)
        .max(1);
    if batch > 1 {
        t.notes.push(format!(
            "module hooks divided by the batch ({batch}); patched functions are not"
        ));
    }
    let functional = ptflops_functions(obs, &mut t)?;
    t.total_macs = Some((modules as f64 / batch as f64 + functional).trunc() as u128);
    t.params = Some(super::functions::params(obs, true));
    Ok(t)
}

/// calflops' and DeepSpeed's recurrent-module hooks (`MODULE_HOOK_MAPPING`): FLOPs only.
pub(crate) fn rnn_patched(obs: &Observation, t: &mut Tally) -> Result<()> {
    let (Some(mods), Some(calls)) = (obs.modules.as_deref(), obs.module_calls.as_deref()) else {
        return Ok(());
    };
    for c in calls {
        if let Some(m) = mods
            .get(c.m)
            .filter(|m| m.is_nn(&["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"]))
        {
            t.add(&m.kind, 0, rnn(m, &xin(c), true));
        }
    }
    Ok(())
}

/// torchinfo 1.8: each leaf module call's parameters × its output's batch (× spatial size for
/// a class named `Conv…`; × the first two dimensions for RNN weights); parameters once per
/// module, a non-leaf module's own ones as the rest after its called children
/// (`ModelStatistics`), so tied weights count in each module that holds them.
pub(crate) fn torchinfo(obs: &Observation) -> Result<Tally> {
    let (mods, calls) = obs.modules("torchinfo")?;
    let by_name = index(mods);
    let mut t = Tally::new(true, false);
    let num: Vec<u128> = (0..mods.len())
        .map(|i| recursive_params(mods, &by_name, i))
        .collect();
    let leaf = |i: usize| mods[i].children.is_empty();
    let mut seen = HashSet::new();
    let recursive: Vec<bool> = calls.iter().map(|c| !seen.insert(c.m)).collect();
    // ModelStatistics: a non-leaf layer's parameters count as what is left after every
    // non-recursive layer nested under it (`LayerInfo.children` holds all of them, not only
    // direct ones). Calls are in pre-order, so one backward pass sums each call's nested
    // layers before the call itself is reached.
    let mut nested = vec![0i128; calls.len()];
    let mut leftover = vec![0i128; calls.len()];
    for j in (0..calls.len()).rev() {
        let n = num[calls[j].m] as i128;
        leftover[j] = if leaf(calls[j].m) { n } else { n - nested[j] };
        if let Some(p) = calls[j].parent.filter(|&p| p < j) {
            nested[p] += nested[j] + if recursive[j] { 0 } else { leftover[j] };
        }
    }
    let mut params = 0i128;
    for (j, c) in calls.iter().enumerate() {
        let m = &mods[c.m];
        if leaf(c.m) {
            let out = first_shape(dict_last(&c.out)).unwrap_or_default();
            let mut macs = 0u128;
            if let Some(&b) = out.first() {
                // named_parameters() of a leaf: its own, in order; tied ones once.
                for p in &m.params {
                    let n = numel(&p.shape);
                    if p.name == "weight" || p.name == "bias" {
                        macs += if m.class().contains("Conv") {
                            n * b as u128 * numel(out.get(2..).unwrap_or(&[]))
                        } else {
                            b as u128 * n
                        };
                    } else if p.name.contains("weight") || p.name.contains("bias") {
                        macs += numel(out.get(..2).unwrap_or(&out)) * n;
                    }
                }
            }
            t.add(&m.kind, macs, 0);
            if !recursive[j] {
                params += num[c.m] as i128;
            }
        } else if !recursive[j] {
            params += leftover[j].max(0);
        }
    }
    t.params = Some(params.max(0) as u128);
    Ok(t)
}
