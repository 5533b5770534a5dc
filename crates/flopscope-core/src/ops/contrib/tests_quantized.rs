//! Hand-computed tests of MatMulNBits, MatMulInteger16, MatMulIntegerToFloat,
//! DynamicQuantizeMatMul, DynamicQuantizeLSTM and GatherBlockQuantized.
use super::super::testutil::*;
use super::super::{Cost, Tensor};
use crate::graph::{Attr, DType};

const MS: &str = "com.microsoft";

fn ok(op: &str, inputs: &[Option<Tensor>], attrs: &[(String, Attr)]) -> (Vec<Tensor>, Cost) {
    let r = run_opt(MS, op, inputs, attrs, 3).unwrap_or_else(|e| panic!("{op}: {e:?}"));
    (r.outs, r.cost)
}

fn err(op: &str, inputs: &[Option<Tensor>], attrs: &[(String, Attr)]) -> String {
    run_opt_err(MS, op, inputs, attrs)
}

fn t(dt: DType, shape: &[u64]) -> Option<Tensor> {
    Some(Tensor::new(dt, shape.to_vec()))
}

fn f(shape: &[u64]) -> Option<Tensor> {
    t(DType::F32, shape)
}

fn shape(t: &Tensor) -> Vec<u64> {
    t.shape.clone().expect("shape")
}

#[test]
fn matmul_nbits_counts_k_by_n_products_and_dequantization() {
    // A [2, 5, 64] × 4-bit B (K 64, N 48, blocks of 32: [48, 2, 16] bytes): 10 rows,
    // MACs = 10·64·48 = 30,720; dequantizing B 2·64·48 = 6144; bias 10·48 = 480.
    let attrs = [
        a_int("K", 64),
        a_int("N", 48),
        a_int("bits", 4),
        a_int("block_size", 32),
    ];
    let b = t(DType::U8, &[48, 2, 16]);
    let (outs, c) = ok(
        "MatMulNBits",
        &[f(&[2, 5, 64]), b.clone(), f(&[48, 2])],
        &attrs,
    );
    assert_eq!(
        (shape(&outs[0]), outs[0].dtype),
        (vec![2, 5, 48], DType::F32)
    );
    assert_eq!((c.macs, c.flops), (30_720, 2 * 30_720 + 6144));
    let (_, c) = ok(
        "MatMulNBits",
        &[f(&[2, 5, 64]), b.clone(), f(&[48, 2]), None, None, f(&[48])],
        &attrs,
    );
    assert_eq!(c.flops, 2 * 30_720 + 6144 + 480);
    // float16 activations keep their type; a vector A [64] gives [48].
    let (outs, c) = ok(
        "MatMulNBits",
        &[t(DType::F16, &[64]), b.clone(), t(DType::F16, &[48, 2])],
        &attrs,
    );
    assert_eq!((shape(&outs[0]), outs[0].dtype), (vec![48], DType::F16));
    assert_eq!(c.macs, 64 * 48);
    let e = err(
        "MatMulNBits",
        &[f(&[2, 60]), b.clone(), f(&[48, 2])],
        &attrs,
    );
    assert!(e.contains("K = 64"), "{e}");
    let e = err(
        "MatMulNBits",
        &[f(&[2, 64]), t(DType::U8, &[40, 2, 16]), f(&[40, 2])],
        &attrs,
    );
    assert!(e.contains("N = 48"), "{e}");
    let e = err("MatMulNBits", &[f(&[2, 64]), b, f(&[48, 2])], &attrs[..2]);
    assert!(e.contains("block_size"), "{e}");
}

#[test]
fn integer_matmuls_and_their_output_types() {
    // MatMulInteger16: [3, 4] × [4, 5] = 60 MACs, int32 (uint32 when both are uint16).
    let (outs, c) = ok(
        "MatMulInteger16",
        &[t(DType::I16, &[3, 4]), t(DType::U16, &[4, 5])],
        &[],
    );
    assert_eq!((shape(&outs[0]), outs[0].dtype), (vec![3, 5], DType::I32));
    assert_eq!((c.macs, c.flops), (60, 120));
    let (outs, _) = ok(
        "MatMulInteger16",
        &[t(DType::U16, &[3, 4]), t(DType::U16, &[4, 5])],
        &[],
    );
    assert_eq!(outs[0].dtype, DType::U32);
    // MatMulIntegerToFloat: [2, 3, 8] × [8, 4] = 192 MACs; output float16 as its scales;
    // 24 outputs rescaled (1) and biased (1).
    let h = |s: &[u64]| t(DType::F16, s);
    let mut inputs = vec![
        t(DType::U8, &[2, 3, 8]),
        t(DType::I8, &[8, 4]),
        h(&[]),
        h(&[4]),
        t(DType::U8, &[]),
        t(DType::I8, &[4]),
        h(&[4]),
    ];
    let (outs, c) = ok("MatMulIntegerToFloat", &inputs, &[]);
    assert_eq!(
        (shape(&outs[0]), outs[0].dtype),
        (vec![2, 3, 4], DType::F16)
    );
    assert_eq!((c.macs, c.flops), (192, 2 * 192 + 24 * 2));
    inputs.truncate(4);
    let (_, c) = ok("MatMulIntegerToFloat", &inputs, &[]);
    assert_eq!(c.flops, 2 * 192 + 24);
    // DynamicQuantizeMatMul: A [4, 16] quantized at run time (4 per element = 256), then
    // 4·16·8 = 512 MACs, rescale and bias on 32 outputs.
    let (outs, c) = ok(
        "DynamicQuantizeMatMul",
        &[
            f(&[4, 16]),
            t(DType::I8, &[16, 8]),
            f(&[8]),
            t(DType::I8, &[8]),
            f(&[8]),
        ],
        &[],
    );
    assert_eq!((shape(&outs[0]), outs[0].dtype), (vec![4, 8], DType::F32));
    assert_eq!((c.macs, c.flops), (512, 2 * 512 + 256 + 32 * 2));
    let e = err(
        "DynamicQuantizeMatMul",
        &[f(&[4, 16]), t(DType::I8, &[15, 8]), f(&[8])],
        &[],
    );
    assert!(e.contains("inner dimensions"), "{e}");
}

#[test]
fn dynamic_quantize_lstm_is_an_lstm_with_transposed_weights() {
    // The LSTM test's sizes (T=10, B=2, I=16, H=32) with W [1, I, 4H] and R [1, H, 4H]:
    // MACs = 10·2·4·32·(16+32) = 122,880; FLOPs = 2·MACs + 640 unit-steps · 17.
    let s = f(&[1]);
    let z = t(DType::I8, &[1]);
    let inputs = [
        f(&[10, 2, 16]),
        t(DType::I8, &[1, 16, 128]),
        t(DType::I8, &[1, 32, 128]),
        f(&[1, 256]),
        None,
        None,
        None,
        None,
        s.clone(),
        z.clone(),
        s,
        z,
    ];
    let (outs, c) = ok("DynamicQuantizeLSTM", &inputs, &[a_int("hidden_size", 32)]);
    assert_eq!(
        (shape(&outs[0]), outs[0].dtype),
        (vec![10, 1, 2, 32], DType::F32)
    );
    assert_eq!(shape(&outs[1]), vec![1, 2, 32]);
    assert_eq!(shape(&outs[2]), vec![1, 2, 32]);
    assert_eq!((c.macs, c.flops), (122_880, 2 * 122_880 + 640 * 17));
    // The same as ONNX LSTM on the float weights.
    let lstm = run1(
        "LSTM",
        &[
            f32t(&[10, 2, 16]),
            f32t(&[1, 128, 16]),
            f32t(&[1, 128, 32]),
            f32t(&[1, 256]),
        ],
        &[a_int("hidden_size", 32)],
    );
    assert_eq!(lstm.cost, c);
    // W laid out as ONNX's [1, 4H, I] does not fit.
    let mut bad = inputs.to_vec();
    bad[1] = t(DType::I8, &[1, 128, 16]);
    let e = err("DynamicQuantizeLSTM", &bad, &[a_int("hidden_size", 32)]);
    assert!(e.contains("gates"), "{e}");
}

#[test]
fn gather_block_quantized_gathers_then_dequantizes() {
    // A 4-bit table packed in uint8 [100, 16] holds [100, 32]; indices [2, 3] → [2, 3, 32]
    // of the scales' type; 192 outputs dequantized at 2 each.
    let (outs, c) = ok(
        "GatherBlockQuantized",
        &[
            t(DType::U8, &[100, 16]),
            t(DType::I64, &[2, 3]),
            t(DType::F16, &[100, 1]),
        ],
        &[a_int("block_size", 32)],
    );
    assert_eq!(
        (shape(&outs[0]), outs[0].dtype),
        (vec![2, 3, 32], DType::F16)
    );
    assert_eq!((c.macs, c.flops), (0, 192 * 2));
    // 2-bit: 4 values a byte; 8-bit: 1.
    let run = |bits: i64| {
        ok(
            "GatherBlockQuantized",
            &[t(DType::U8, &[100, 16]), t(DType::I32, &[5]), f(&[100, 1])],
            &[a_int("bits", bits)],
        )
    };
    assert_eq!(shape(&run(2).0[0]), vec![5, 64]);
    assert_eq!(shape(&run(8).0[0]), vec![5, 16]);
    // int4 data is stored by element: [8, 64] gathered on axis 1 by [3] → [8, 3].
    let (outs, c) = ok(
        "GatherBlockQuantized",
        &[t(DType::I4, &[8, 64]), t(DType::I64, &[3]), f(&[8, 4])],
        &[a_int("gather_axis", 1), a_int("quantize_axis", 0)],
    );
    assert_eq!(shape(&outs[0]), vec![8, 3]);
    assert_eq!(c.flops, 48);
    let e = err(
        "GatherBlockQuantized",
        &[t(DType::U8, &[100, 16]), t(DType::I32, &[5]), f(&[100, 1])],
        &[a_int("bits", 3)],
    );
    assert!(e.contains("bits 3"), "{e}");
    let e = err(
        "GatherBlockQuantized",
        &[t(DType::I4, &[8, 64]), t(DType::I32, &[5]), f(&[8, 4])],
        &[a_int("gather_axis", 2)],
    );
    assert!(e.contains("axis 2"), "{e}");
}
