//! A small, well-formed ONNX model whose declared sizes come from the fuzz input: a chain of
//! nodes over initializers whose dims (up to 2^63 − 1, ONNX's largest) and types are chosen
//! by the fuzzer and whose bytes are absent (external data in a file that is not there), an
//! input with symbolic dims bound by `--dim` to sizes up to 2^64 − 1, and sometimes a training
//! step. Every total must be exact or an error: a panic, abort, timeout or runaway allocation
//! is a finding.
#![no_main]

#[path = "../../crates/flopscope-cli/tests/cli/common/onnx.rs"]
#[allow(dead_code)]
mod onnx;

use flopscope_core::onnx_pb as pb;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use prost::Message;

/// A dim: mostly small, often a power of two up to 2^62, sometimes the largest ONNX dim.
fn dim(u: &mut Unstructured) -> Result<i64> {
    Ok(match u.int_in_range(0..=7u8)? {
        0..=2 => u.int_in_range(1..=8)?,
        3..=5 => 1 << u.int_in_range(0..=62u32)?,
        6 => i64::MAX,
        _ => u.int_in_range(1..=i64::MAX)?,
    })
}

/// A size for `--dim`: as [`dim`], or up to 2^64 − 1.
fn size(u: &mut Unstructured) -> Result<u64> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => u64::MAX,
        1 => u.arbitrary()?,
        _ => dim(u)?.unsigned_abs(),
    })
}

/// ONNX element types and their bits: float32, uint8, int8, float16, double, bfloat16, int4.
const DTYPES: [(i32, u64); 7] = [
    (1, 32),
    (2, 8),
    (3, 8),
    (10, 16),
    (11, 64),
    (16, 16),
    (22, 4),
];

fn build(u: &mut Unstructured) -> Result<(Vec<u8>, flopscope_core::Options)> {
    let rank = u.int_in_range(1..=3usize)?;
    let mut x_dims: Vec<String> = Vec::new();
    for i in 0..rank {
        x_dims.push(if u.arbitrary()? {
            format!("d{i}")
        } else {
            dim(u)?.to_string()
        });
    }
    let x_ref: Vec<&str> = x_dims.iter().map(String::as_str).collect();
    let mut inits = Vec::new();
    let mut nodes = Vec::new();
    let mut prev = "x".to_string();
    let n = u.int_in_range(1..=40usize)?;
    for i in 0..n {
        let w = format!("w{i}");
        let wrank = u.int_in_range(1..=3usize)?;
        let dims: Vec<i64> = (0..wrank).map(|_| dim(u)).collect::<Result<_>>()?;
        let (dtype, bits) = *u.choose(&DTYPES)?;
        // The length the dims need (else the loader refuses the file before any analysis),
        // or, now and then, any length.
        let need = dims
            .iter()
            .try_fold(u128::from(bits), |acc, &d| {
                acc.checked_mul(d.unsigned_abs().into())
            })
            .map(|b| b.div_ceil(8))
            .and_then(|b| u64::try_from(b).ok());
        let length = match need {
            Some(n) if u.ratio(15, 16)? => n,
            _ => u.arbitrary()?,
        };
        let mut t = onnx::external_init(&w, &dims, "absent.bin", 0, length);
        t.data_type = Some(dtype);
        inits.push(t);
        let out = format!("y{i}");
        let op = *u.choose(&[
            "Add",
            "Mul",
            "MatMul",
            "Gemm",
            "Conv",
            "Gather",
            "Concat",
            "Sum",
            "MatMulNBits",
        ])?;
        let mut attrs = Vec::new();
        let mut inputs = vec![prev.clone(), w.clone()];
        let mut domain = None;
        match op {
            "Concat" => attrs.push(onnx::int_attr("axis", u.int_in_range(-3..=2)?)),
            "Gather" => inputs.reverse(),
            "MatMulNBits" => {
                domain = Some("com.microsoft".to_string());
                for k in ["K", "N"] {
                    attrs.push(onnx::int_attr(k, dim(u)?));
                }
                attrs.push(onnx::int_attr("bits", 4));
                attrs.push(onnx::int_attr("block_size", 32));
            }
            _ => {}
        }
        let mut node = onnx::node(op, &format!("n{i}"), &[], &[&out], attrs);
        node.input = inputs;
        node.domain = domain;
        nodes.push(node);
        prev = out;
    }
    let mut m = onnx::model(
        17,
        vec![onnx::value("x", &x_ref)],
        vec![onnx::value(&prev, &[])],
        nodes,
        inits,
    );
    m.opset_import.push(pb::OperatorSetIdProto {
        domain: Some("com.microsoft".into()),
        version: Some(1),
    });
    let mut opts = flopscope_core::Options::default();
    for i in 0..rank {
        if u.arbitrary()? {
            opts.dims.push((format!("d{i}"), size(u)?));
        }
    }
    if u.arbitrary()? {
        opts.training = Some(Default::default());
    }
    Ok((m.encode_to_vec(), opts))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((bytes, opts)) = build(&mut u) else {
        return;
    };
    let _ = flopscope_core::profile_bytes(&bytes, &opts);
});
