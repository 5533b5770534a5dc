//! The micro-benchmarks of `flopscope calibrate`: small ONNX graphs built in code, each
//! exercising one kernel class of the time model at one size, from tiny (launch-bound) to
//! large (at the peak or the bandwidth). Most are chains or independent branches of several
//! identical kernels, so that the fixed cost of one runtime call is spread over several
//! kernels, as it is in a real model.

use flopscope_core::builder::Builder;
use flopscope_core::graph::{Attr, DType, Dim, Graph};

/// One micro-benchmark: a name and its graph.
pub struct Micro {
    /// `gemm 128x1024x1024`, `dwconv3 240@28`, …
    pub name: String,
    /// The graph (no weight data: written with random weights before timing).
    pub graph: Graph,
}

fn input(b: &mut Builder, name: &str, shape: &[u64]) -> usize {
    b.input(
        name,
        DType::F32,
        shape.iter().map(|&d| Dim::Known(d)).collect(),
    )
}

/// `reps` products `x[M,K]·W[K,K]` in a chain (square, so each feeds the next).
fn gemm_chain(m: u64, k: u64, reps: usize) -> Micro {
    let mut b = Builder::new("gemm");
    let mut x = input(&mut b, "x", &[m, k]);
    for i in 0..reps {
        x = b.linear(&format!("fc{i}"), x, k, k, false);
    }
    b.output(x);
    Micro {
        name: format!("gemm {m}x{k}x{k} x{reps}"),
        graph: b.finish(),
    }
}

/// A transformer MLP on `[1, seq, d]`: d→4d then 4d→d, `reps` times, each with its bias
/// (an Add the runtime fuses into the product).
fn mlp(seq: u64, d: u64, reps: usize) -> Micro {
    let mut b = Builder::new("mlp");
    let mut x = input(&mut b, "x", &[1, seq, d]);
    for i in 0..reps {
        let h = b.linear(&format!("fc{i}a"), x, d, 4 * d, true);
        x = b.linear(&format!("fc{i}b"), h, 4 * d, d, true);
    }
    b.output(x);
    Micro {
        name: format!("mlp {seq}x{d} x{reps}"),
        graph: b.finish(),
    }
}

/// `reps` convolutions `c→c`, `k×k`, stride 1, same padding, `groups` groups, on `[1,c,hw,hw]`.
fn conv_chain(c: u64, hw: u64, k: u64, groups: u64, reps: usize) -> Micro {
    let mut b = Builder::new("conv");
    let mut x = input(&mut b, "x", &[1, c, hw, hw]);
    for i in 0..reps {
        x = b.conv2d(&format!("conv{i}"), x, c, c, k, 1, k / 2, groups, true);
    }
    b.output(x);
    let kind = match groups {
        1 => format!("conv{k}"),
        g if g == c => format!("dwconv{k}"),
        g => format!("gconv{k}/g{g}"),
    };
    Micro {
        name: format!("{kind} {c}@{hw} x{reps}"),
        graph: b.finish(),
    }
}

/// One strided stem convolution: `cin→cout`, `k×k`, stride 2, on `[1,cin,hw,hw]`.
fn stem(cin: u64, cout: u64, hw: u64, k: u64) -> Micro {
    let mut b = Builder::new("stem");
    let x = input(&mut b, "x", &[1, cin, hw, hw]);
    let y = b.conv2d("stem", x, cin, cout, k, 2, k / 2, 1, true);
    b.output(y);
    Micro {
        name: format!("stem{k} {cin}->{cout}@{hw}"),
        graph: b.finish(),
    }
}

/// Attention without weights, `reps` times: softmax(Q·Kᵀ)·V on `[1,h,s,d]`, Kᵀ given
/// transposed (`[1,h,d,s]`) so that no copy runs.
fn attention(h: u64, s: u64, d: u64, reps: usize) -> Micro {
    let mut b = Builder::new("attention");
    let mut q = input(&mut b, "q", &[1, h, s, d]);
    let kt = input(&mut b, "kt", &[1, h, d, s]);
    let v = input(&mut b, "v", &[1, h, s, d]);
    for _ in 0..reps {
        let scores = b.op("MatMul", &[q, kt], vec![]);
        let p = b.op("Softmax", &[scores], vec![("axis", Attr::Int(-1))]);
        q = b.op("MatMul", &[p, v], vec![]);
    }
    b.output(q);
    Micro {
        name: format!("attention h{h} s{s} d{d} x{reps}"),
        graph: b.finish(),
    }
}

/// `branches` independent copies of one elementwise kind on `[1,c,hw,hw]` (independent so
/// that no runtime merges or cancels them).
fn elementwise(kind: &str, c: u64, hw: u64, branches: usize) -> Micro {
    let mut b = Builder::new("elementwise");
    for i in 0..branches {
        let x = input(&mut b, &format!("x{i}"), &[1, c, hw, hw]);
        let y = match kind {
            "Relu" | "Sigmoid" | "HardSwish" | "Tanh" => b.unary(kind, x),
            "Mul" => b.binary("Mul", x, x),
            "AddConst" => {
                let k = b.const_f32(0.5);
                b.binary("Add", x, k)
            }
            "Softmax" => b.op("Softmax", &[x], vec![("axis", Attr::Int(-1))]),
            "LayerNorm" => b.layernorm(&format!("ln{i}"), x, hw, 1e-5),
            "BatchNorm" => b.batchnorm(&format!("bn{i}"), x, c),
            "MaxPool" => b.maxpool(x, 3, 2, 1, false),
            "GlobalAveragePool" => b.op("GlobalAveragePool", &[x], vec![]),
            // Opset 17: axes are still an attribute of ReduceMean.
            "ReduceMean" => b.op(
                "ReduceMean",
                &[x],
                vec![("axes", Attr::Ints(vec![-1])), ("keepdims", Attr::Int(1))],
            ),
            other => unreachable!("no elementwise micro-benchmark '{other}'"),
        };
        b.output(y);
    }
    Micro {
        name: format!("{kind} {c}x{hw}x{hw} x{branches}"),
        graph: b.finish(),
    }
}

/// `branches` independent copies of one data movement on `[1,c,hw,hw]`: NCHW→NHWC
/// transposes, or channel concatenations of two inputs.
fn data(kind: &str, c: u64, hw: u64, branches: usize) -> Micro {
    let mut b = Builder::new("data");
    for i in 0..branches {
        let x = input(&mut b, &format!("x{i}"), &[1, c, hw, hw]);
        let y = match kind {
            "Transpose" => b.transpose(x, &[0, 2, 3, 1]),
            "Concat" => {
                let z = input(&mut b, &format!("z{i}"), &[1, c, hw, hw]);
                b.op("Concat", &[x, z], vec![("axis", Attr::Int(1))])
            }
            "Pad" => {
                let pads = b.const_i64(&[0, 0, 1, 1, 0, 0, 1, 1]);
                b.op(
                    "Pad",
                    &[x, pads],
                    vec![("mode", Attr::Str("constant".into()))],
                )
            }
            other => unreachable!("no data micro-benchmark '{other}'"),
        };
        b.output(y);
    }
    Micro {
        name: format!("{kind} {c}x{hw}x{hw} x{branches}"),
        graph: b.finish(),
    }
}

/// The whole suite, smallest kernels of each kind first. Sizes span launch-bound kernels
/// (microseconds) to ones at the peak or bandwidth (tens of milliseconds on one core).
pub fn suite() -> Vec<Micro> {
    let mut v = Vec::new();
    for (m, k) in [
        (1, 64),
        (1, 256),
        (1, 1024),
        (8, 256),
        (16, 512),
        (64, 256),
        (64, 768),
        (128, 1024),
        (256, 1024),
    ] {
        v.push(gemm_chain(m, k, 4));
    }
    for (s, d) in [(1, 128), (16, 256), (64, 384), (197, 192)] {
        v.push(mlp(s, d, 2));
    }
    for (c, hw) in [
        (16, 112),
        (32, 56),
        (64, 56),
        (128, 28),
        (256, 14),
        (512, 7),
    ] {
        v.push(conv_chain(c, hw, 3, 1, 3));
    }
    for (c, hw) in [(16, 56), (64, 56), (128, 28), (256, 14), (1024, 7)] {
        v.push(conv_chain(c, hw, 1, 1, 3));
    }
    v.push(stem(3, 32, 224, 3));
    v.push(stem(3, 64, 224, 7));
    for (c, hw) in [
        (32, 112),
        (96, 56),
        (144, 56),
        (240, 28),
        (480, 14),
        (960, 7),
    ] {
        v.push(conv_chain(c, hw, 3, c, 3));
    }
    v.push(conv_chain(240, 28, 5, 240, 3));
    v.push(conv_chain(672, 14, 5, 672, 3));
    v.push(conv_chain(128, 56, 3, 32, 3));
    v.push(conv_chain(256, 28, 3, 32, 3));
    for (h, s, d) in [
        (2, 16, 32),
        (4, 64, 32),
        (8, 128, 64),
        (12, 197, 64),
        (4, 512, 32),
    ] {
        v.push(attention(h, s, d, 2));
    }
    for kind in [
        "Relu",
        "Sigmoid",
        "HardSwish",
        "Mul",
        "AddConst",
        "Softmax",
        "LayerNorm",
        "BatchNorm",
        "MaxPool",
        "GlobalAveragePool",
        "ReduceMean",
    ] {
        for (c, hw) in [(8, 16), (64, 28), (64, 112)] {
            v.push(elementwise(kind, c, hw, 4));
        }
    }
    for kind in ["Transpose", "Concat", "Pad"] {
        for (c, hw) in [(8, 16), (64, 28), (64, 112)] {
            v.push(data(kind, c, hw, 4));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use flopscope_core::predict::{classify, OpClass};

    /// Every micro-benchmark profiles with known costs, and together they cover every kernel
    /// class the time model fits.
    #[test]
    fn suite_profiles_and_covers_every_class() {
        let mut seen = std::collections::BTreeSet::new();
        for m in suite() {
            let dir = crate::calibrate::TempDir::new("suite-test").unwrap();
            let (_, p) = crate::calibrate::write_and_profile(&m, &dir.0, 0)
                .unwrap_or_else(|e| panic!("{}: {e}", m.name));
            assert!(p.unsupported.is_empty(), "{}: {:?}", m.name, p.unsupported);
            for l in &p.layers {
                seen.insert(classify(l));
            }
        }
        for c in OpClass::KERNELS {
            assert!(seen.contains(&c), "no micro-benchmark of class {c:?}");
        }
    }
}
