//! Conventions that read torch-function calls: fvcore (the operators TorchScript records,
//! which are the innermost torch functions), calflops and DeepSpeed (the functions they
//! monkey-patch, wherever they are called from), and ptflops' patched functions.

use serde_json::Value as J;

use super::modules::rnn_patched;
use super::observe::{inside, is_tensor, numel, shape, Function, Observation};
use super::tally::Tally;
use crate::error::Result;

/// The function's name without its namespace or dunder (`torch.Tensor.__matmul__` → `matmul`).
fn base(name: &str) -> &str {
    let b = name.rsplit('.').next().unwrap_or(name);
    let b = b
        .strip_prefix("__r")
        .map(|r| r.trim_end_matches("__"))
        .unwrap_or(b);
    b.trim_matches('_')
}

fn sh(f: &Function, k: usize, name: &str) -> Vec<u64> {
    f.arg_shape(k, name).unwrap_or_default()
}

fn out_shape(f: &Function) -> Vec<u64> {
    f.out().and_then(shape).unwrap_or_default()
}

/// fvcore 0.1.5 (`FlopCountAnalysis`, `_DEFAULT_SUPPORTED_OPS`): MACs of the innermost torch
/// functions (TorchScript's `aten::` nodes); bias never counted.
pub(crate) fn fvcore(obs: &Observation) -> Result<Tally> {
    let fns = obs.functions("fvcore")?;
    let mut t = Tally::new(true, false);
    // The innermost functions (those that call no other recorded one), outside fused calls.
    let mut skip = fused_functions(obs, &mut t);
    for f in fns {
        if let Some(x) = f.parent.and_then(|p| skip.get_mut(p)) {
            *x = true;
        }
    }
    for (f, _) in fns.iter().zip(&skip).filter(|(_, &s)| !s) {
        let b = base(&f.name);
        let x = || sh(f, 0, "input");
        let macs: Option<u128> = match b {
            "linear" => {
                Some(numel(&x()) * sh(f, 1, "weight").first().copied().unwrap_or(0) as u128)
            }
            "addmm" => Some(addmm_macs(f)),
            "matmul" | "mm" => {
                let (a, w) = if f.name.ends_with("__rmatmul__") {
                    (sh(f, 1, "other"), sh(f, 0, "input"))
                } else {
                    (sh(f, 0, "input"), sh(f, 1, "other"))
                };
                Some(numel(&a) * w.last().copied().unwrap_or(0) as u128)
            }
            "bmm" => {
                let (a, w) = (sh(f, 0, "input"), sh(f, 1, "mat2"));
                Some(numel(&a) * w.last().copied().unwrap_or(0) as u128)
            }
            b if b.starts_with("conv") && !b.contains("tbc") => {
                let w = sh(f, 1, "weight");
                let transposed = b.contains("transpose");
                let sp = if transposed { x() } else { out_shape(f) };
                Some(
                    x().first().copied().unwrap_or(0) as u128
                        * numel(&w)
                        * numel(sp.get(2..).unwrap_or(&[])),
                )
            }
            // torch.batch_norm(input, weight, bias, mean, var, training, …)
            "batch_norm" => Some(numel(&x()) * batch_norm_factor(f, 1)),
            "layer_norm" | "group_norm" => Some(numel(&x()) * norm_factor(f, 2)),
            "instance_norm" => Some(numel(&x()) * norm_factor(f, 1)),
            "upsample_nearest2d" => Some(numel(&out_shape(f))),
            "upsample_bilinear2d" | "grid_sampler" => Some(4 * numel(&out_shape(f))),
            "adaptive_avg_pool2d" => Some(numel(&x())),
            "einsum" => Some(einsum_flops(f).map(|v| v / 2).unwrap_or(0)),
            _ => None,
        };
        if let Some(m) = macs {
            t.add(&f.name, m, 0);
        }
    }
    t.params = Some(params(obs, false));
    Ok(t)
}

/// calflops 0.3.2 (`deepspeed = false`) or DeepSpeed 0.19.8's profiler: the functions each
/// patches (`_patch_functionals`, `_patch_tensor_methods`), with their `(flops, macs)`
/// formulas; recurrent modules by their module hook.
pub(crate) fn patched(obs: &Observation, deepspeed: bool) -> Result<Tally> {
    let who = if deepspeed { "deepspeed" } else { "calflops" };
    let fns = obs.functions(who)?;
    let mut t = Tally::new(true, true);
    let fused = fused_functions(obs, &mut t);
    for (f, _) in fns.iter().zip(&fused).filter(|(f, &x)| !x && !f.stored) {
        let n = f.name.as_str();
        let fb = n.strip_prefix("torch.nn.functional.");
        let x = || sh(f, 0, "input");
        let (flops, macs): (u128, u128) = match (fb, n) {
            (Some("linear"), _) => {
                let m = numel(&x()) * sh(f, 1, "weight").first().copied().unwrap_or(0) as u128;
                (2 * m, m)
            }
            (Some(c), _) if c.starts_with("conv") => conv(f, c.contains("transpose"), deepspeed),
            (Some(a), _)
                if matches!(
                    a,
                    "relu" | "prelu" | "elu" | "leaky_relu" | "relu6" | "silu" | "gelu" | "softmax"
                ) || a.contains("pool") =>
            {
                (numel(&x()), 0)
            }
            // F.batch_norm(input, mean, var, weight, bias, training, …)
            (Some("batch_norm"), _) => (numel(&x()) * batch_norm_factor(f, 3), 0),
            (Some(a @ ("layer_norm" | "group_norm" | "instance_norm")), _) => {
                let w = if a == "instance_norm" { 3 } else { 2 };
                (numel(&x()) * norm_factor(f, w), 0)
            }
            (Some("upsample" | "interpolate"), _) => (upsample(f, deepspeed), 0),
            (Some("embedding"), _) => (0, 0),
            (Some("scaled_dot_product_attention"), _) if deepspeed => {
                let (q, k, v) = (x(), sh(f, 1, "key"), sh(f, 2, "value"));
                let s = k.len().checked_sub(2).map(|i| k[i]).unwrap_or(0) as u128;
                let qn = q.len().saturating_sub(1);
                let m =
                    numel(&q) * s + numel(&q[..qn]) * s * v.last().copied().unwrap_or(0) as u128;
                (2 * m, m)
            }
            (_, "torch.matmul" | "torch.Tensor.matmul") => matmul(f),
            (
                _,
                "torch.Tensor.__matmul__"
                | "torch.mm"
                | "torch.Tensor.mm"
                | "torch.bmm"
                | "torch.Tensor.bmm",
            ) if deepspeed => matmul(f),
            (_, "torch.addmm" | "torch.Tensor.addmm" | "torch.baddbmm") => {
                let m = addmm_macs(f);
                (2 * m + numel(&x()), m)
            }
            (_, "torch.mul" | "torch.Tensor.mul" | "torch.add" | "torch.Tensor.add") => {
                (elementwise(f, deepspeed), 0)
            }
            (_, "torch.einsum") => (einsum_flops(f).unwrap_or(0), 0),
            _ => continue,
        };
        t.add(n, macs, flops);
    }
    rnn_patched(obs, &mut t)?;
    t.params = Some(params(obs, !deepspeed));
    Ok(t)
}

/// ptflops 0.7.5's patched functions and tensor methods (`FUNCTIONAL_MAPPING` minus the
/// commented-out `F.linear`, `TENSOR_OPS_MAPPING`): MACs, not divided by the batch.
pub(crate) fn ptflops_functions(obs: &Observation, t: &mut Tally) -> Result<f64> {
    let fns = obs.functions("ptflops")?;
    let mut total = 0f64;
    for f in fns.iter().filter(|f| !f.stored) {
        let n = f.name.as_str();
        let x = || sh(f, 0, "input");
        let v: f64 = match n.strip_prefix("torch.nn.functional.") {
            Some(a)
                if matches!(
                    a,
                    "relu" | "prelu" | "elu" | "relu6" | "gelu" | "silu" | "softmax"
                ) || (a.contains("pool")
                    && !a.contains("lp_pool")
                    && !a.contains("fractional")) =>
            {
                numel(&x()) as f64
            }
            Some("upsample" | "interpolate") => {
                let xs = x();
                let nc = numel(xs.get(..2).unwrap_or(&[])) as f64;
                let sp = xs.len().saturating_sub(2) as i32;
                match f.arg(1, "size") {
                    Some(J::Array(s)) => {
                        numel(&s.iter().filter_map(J::as_u64).collect::<Vec<_>>()) as f64 * nc
                    }
                    Some(J::Number(s)) => (s.as_u64().unwrap_or(0) as f64).powi(sp) * nc,
                    _ => {
                        let n = numel(&xs) as f64;
                        match f.arg(2, "scale_factor") {
                            Some(J::Array(s)) if s.len() == sp as usize => {
                                n * s
                                    .iter()
                                    .map(|v| v.as_f64().unwrap_or(0.0) as i64 as f64)
                                    .product::<f64>()
                            }
                            Some(J::Array(s)) => {
                                n * s.first().and_then(J::as_f64).unwrap_or(0.0).powi(sp)
                            }
                            Some(s) => n * s.as_f64().unwrap_or(0.0).powi(sp),
                            None => 0.0,
                        }
                    }
                }
            }
            Some(_) => continue,
            None => match n {
                "torch.matmul"
                | "torch.Tensor.matmul"
                | "torch.mm"
                | "torch.Tensor.mm"
                | "torch.bmm"
                | "torch.Tensor.bmm" => matmul(f).1 as f64,
                "torch.addmm" | "torch.baddbmm" | "torch.Tensor.addmm" => {
                    let m = addmm_macs(f);
                    let beta = f.kwargs.get("beta").and_then(J::as_f64).unwrap_or(1.0);
                    (m + if beta != 0.0 { numel(&x()) } else { 0 }) as f64
                }
                "torch.mul" | "torch.Tensor.mul" | "torch.add" | "torch.Tensor.add" => {
                    elementwise(f, false) as f64
                }
                _ => continue,
            },
        };
        total += v;
        t.add(n, v as u128, 0);
    }
    Ok(total)
}

/// Which functions ran inside a fused attention call (those get a zero row, as the tools
/// see `torch._native_multi_head_attention`).
fn fused_functions(obs: &Observation, t: &mut Tally) -> Vec<bool> {
    let r: Vec<[usize; 2]> = obs.fused_attention().into_iter().map(|x| x.1).collect();
    for _ in &r {
        t.add("torch._native_multi_head_attention", 0, 0);
    }
    inside(obs.functions.as_deref().map_or(0, <[_]>::len), r)
}

/// `addmm(input, mat1, mat2)` and `baddbmm`: `prod(mat1) × mat2[-1]`, as every tool reads it.
fn addmm_macs(f: &Function) -> u128 {
    numel(&sh(f, 1, "mat1")) * sh(f, 2, "mat2").last().copied().unwrap_or(0) as u128
}

/// A batch norm's operations per element: 5 or 4 in training, 2 or 1 in eval, with or without
/// the weight at argument `weight` (fvcore's `batchnorm_flop_jit`, calflops' and DeepSpeed's
/// `_batch_norm_flops_compute`; `training` is the sixth argument of both spellings).
fn batch_norm_factor(f: &Function, weight: usize) -> u128 {
    let training = f.arg(5, "training").and_then(J::as_bool).unwrap_or(false);
    match (training, f.arg(weight, "weight").is_some()) {
        (true, true) => 5,
        (true, false) => 4,
        (false, true) => 2,
        (false, false) => 1,
    }
}

/// Layer, group and instance norm: 5 operations per element with the weight at argument
/// `weight`, 4 without.
fn norm_factor(f: &Function, weight: usize) -> u128 {
    if f.arg(weight, "weight").is_some() {
        5
    } else {
        4
    }
}

fn matmul(f: &Function) -> (u128, u128) {
    let m = numel(&sh(f, 0, "input")) * sh(f, 1, "other").last().copied().unwrap_or(0) as u128;
    (2 * m, m)
}

/// `_elementwise_flops_compute`: calflops (and ptflops) pair dimensions from the left;
/// DeepSpeed 0.19.8 broadcasts as PyTorch does.
fn elementwise(f: &Function, right_aligned: bool) -> u128 {
    let (a, b) = (f.arg(0, "input"), f.arg(1, "other"));
    let (sa, sb) = (
        a.filter(|j| is_tensor(j)).and_then(shape),
        b.filter(|j| is_tensor(j)).and_then(shape),
    );
    match (sa, sb) {
        (None, None) => 1,
        (Some(s), None) | (None, Some(s)) => numel(&s),
        (Some(a), Some(b)) => {
            let n = a.len().max(b.len());
            let pick = |s: &[u64], i: usize| -> u64 {
                if right_aligned {
                    let off = n - s.len();
                    if i < off {
                        1
                    } else {
                        s[i - off]
                    }
                } else {
                    s.get(i).copied().unwrap_or(1)
                }
            };
            (0..n)
                .map(|i| pick(&a, i).max(pick(&b, i)) as u128)
                .product()
        }
    }
}

/// `_conv_flops_compute` / `_conv_trans_flops_compute` (the output size recomputed from
/// stride, padding and dilation, as the tools do).
fn conv(f: &Function, transposed: bool, deepspeed: bool) -> (u128, u128) {
    let (x, w) = (sh(f, 0, "input"), sh(f, 1, "weight"));
    if x.len() < 3 || w.len() < 3 {
        return (0, 0);
    }
    let n = x.len() - 2;
    let ints = |k: usize, name: &str, d: i64| -> Vec<i64> {
        match f.arg(k, name) {
            Some(J::Array(a)) => a.iter().map(|v| v.as_i64().unwrap_or(d)).collect(),
            Some(J::Number(v)) => vec![v.as_i64().unwrap_or(d); n],
            _ => vec![d; n],
        }
    };
    let (stride, dilation) = if transposed {
        (ints(3, "stride", 1), ints(7, "dilation", 1))
    } else {
        (ints(3, "stride", 1), ints(5, "dilation", 1))
    };
    let groups = f.arg(6, "groups").and_then(J::as_u64).unwrap_or(1).max(1) as u128;
    let kernel = &w[2..];
    let pads: Vec<i64> = match f.arg(4, "padding") {
        Some(J::String(s)) if s == "same" => kernel
            .iter()
            .zip(&dilation)
            .map(|(&k, &d)| d * (k as i64 - 1) / 2)
            .collect(),
        Some(J::String(_)) => vec![0; n],
        _ => ints(4, "padding", 0),
    };
    let out: Vec<u64> = (0..n)
        .map(|i| {
            let v = (x[2 + i] as i64 + 2 * pads.get(i).copied().unwrap_or(0)
                - (dilation.get(i).copied().unwrap_or(1) * (kernel[i] as i64 - 1) + 1))
                .div_euclid(stride.get(i).copied().unwrap_or(1).max(1))
                + 1;
            v.max(0) as u64
        })
        .collect();
    let (batch, cin) = (x[0] as u128, x[1] as u128);
    if transposed && deepspeed {
        // DeepSpeed 0.19.8 fixed both: w[1] is already per group, and the output grows with
        // the stride.
        let op = ints(5, "output_padding", 0);
        let out: Vec<u64> = (0..n)
            .map(|i| {
                let v = (x[2 + i] as i64 - 1) * stride.get(i).copied().unwrap_or(1)
                    - 2 * pads.get(i).copied().unwrap_or(0)
                    + dilation.get(i).copied().unwrap_or(1) * (kernel[i] as i64 - 1)
                    + op.get(i).copied().unwrap_or(0)
                    + 1;
                v.max(0) as u64
            })
            .collect();
        let macs = numel(kernel) * cin * w[1] as u128 * batch * numel(&x[2..]);
        let bias = if f.arg(2, "bias").is_some() {
            w[1] as u128 * groups * batch * numel(&out)
        } else {
            0
        };
        return (2 * macs + bias, macs);
    }
    let cout = if transposed { w[1] } else { w[0] } as u128;
    let active = batch * numel(if transposed { &x[2..] } else { &out });
    let macs = numel(kernel) * cin * (cout / groups) * active;
    let bias = if f.arg(2, "bias").is_some() {
        cout * batch * numel(&out)
    } else {
        0
    };
    (2 * macs + bias, macs)
}

/// `_upsample_flops_compute`: with `size`, its product (no batch or channels); with a scale,
/// the input's elements (calflops discards the multiplication by the scale).
fn upsample(f: &Function, deepspeed: bool) -> u128 {
    match f.arg(1, "size") {
        Some(J::Array(s)) => numel(&s.iter().filter_map(J::as_u64).collect::<Vec<_>>()),
        Some(J::Number(s)) => s.as_u64().unwrap_or(0) as u128,
        _ => {
            let x = sh(f, 0, "input");
            let n = numel(&x);
            if !deepspeed {
                return n;
            }
            let sp = x.len().saturating_sub(2) as i32;
            match f.arg(2, "scale_factor") {
                Some(J::Array(s)) => {
                    (n as f64 * s.iter().map(|v| v.as_f64().unwrap_or(0.0)).product::<f64>())
                        as u128
                }
                Some(s) => (n as f64 * s.as_f64().unwrap_or(0.0).powi(sp)) as u128,
                None => n,
            }
        }
    }
}

/// `np.einsum_path(..., optimize="optimal")`'s "optimized flop" for one contraction of
/// two operands (the product of every index's size, twice when an index is summed), or of
/// one operand; `None` for three or more (not reproduced).
fn einsum_flops(f: &Function) -> Option<u128> {
    let eq = f.arg(0, "equation")?.as_str()?.replace(' ', "");
    let (lhs, rhs) = eq.split_once("->")?;
    let ops: Vec<&str> = lhs.split(',').collect();
    let shapes: Vec<Vec<u64>> = (1..=ops.len())
        .map(|k| f.args.get(k).and_then(shape))
        .collect::<Option<_>>()?;
    if ops.len() > 2 {
        return None;
    }
    let mut size = std::collections::BTreeMap::new();
    for (o, s) in ops.iter().zip(&shapes) {
        for (c, &d) in o.chars().zip(s) {
            size.insert(c, d);
        }
    }
    let all: u128 = size.values().map(|&d| d as u128).product();
    let inner = size.keys().any(|c| !rhs.contains(*c));
    let factor = (ops.len().saturating_sub(1)).max(1) as u128 + u128::from(inner);
    Some(all * factor)
}

/// Parameters as the tool sums them: every distinct parameter object (fvcore, DeepSpeed) or
/// only the trainable ones (calflops, ptflops).
pub(crate) fn params(obs: &Observation, trainable_only: bool) -> u128 {
    let mut seen = std::collections::HashSet::new();
    let mut n = 0u128;
    for m in obs.modules.as_deref().unwrap_or(&[]) {
        for p in &m.params {
            if (p.trainable || !trainable_only) && seen.insert(p.id) {
                n += numel(&p.shape);
            }
        }
    }
    n
}
