//! Backward of ONNX Runtime's fused products: `com.microsoft` FusedConv, NhwcConv,
//! NhwcFusedConv and FusedGemm, and the `com.microsoft.nchwc` Conv that `ORT_ENABLE_ALL`
//! writes. Each is its product with an activation (and, for the convolutions, an added `Sum`
//! input) fused after it, so its backward is the activation's (per output element, as the
//! elementwise rule of that op) followed by the product's (as Conv or Gemm). The `Sum` input's
//! gradient is the activation's output gradient itself: no work.

use super::elementwise::{unary_vjp, Reads};
use super::{Back, BackRule, Grad, Saved};
use crate::ops::OpError;

/// `com.microsoft` rules.
pub fn lookup_ms(op: &str) -> Option<BackRule> {
    Some(match op {
        "FusedConv" | "NhwcConv" | "NhwcFusedConv" => fused_conv,
        "FusedGemm" => fused_gemm,
        _ => return None,
    })
}

/// `com.microsoft.nchwc` rules: the blocked Conv (padded channels, as its forward counts).
pub fn lookup_nchwc(op: &str) -> Option<BackRule> {
    Some(match op {
        "Conv" => fused_conv,
        "ReorderInput" | "ReorderOutput" => super::shape::lookup("Reshape")?,
        "MaxPool" | "AveragePool" | "GlobalAveragePool" | "GlobalMaxPool" => {
            super::pool::lookup(op)?
        }
        _ => return None,
    })
}

/// The fused activation's backward, per output element; what it reads is kept: its output,
/// or its input (the product's result, not otherwise a tensor of the graph) as hidden bytes.
fn activation(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    let Some(name) = g.cx.node.attr_str("activation") else {
        return Ok(());
    };
    let (per, reads) = unary_vjp(name, false).ok_or(OpError::Unknown)?;
    let y = g.out_numel(0)?;
    b.per(per, y)?;
    match reads {
        Reads::Nothing => {}
        Reads::Output => b.save(Saved::Output(0)),
        Reads::Input => b.save(Saved::Hidden(y)),
    }
    Ok(())
}

/// FusedConv(X, W, B, Sum): the activation's backward, then dX and dW each the forward's
/// MACs (reading W and X), the bias's `numel(Y)` adds.
fn fused_conv(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !(g.need(0) || g.need(1) || g.need(2) || g.need(3)) {
        return Ok(());
    }
    activation(g, b)?;
    if g.need(0) {
        b.mac(g.forward.macs)?;
        b.save(Saved::Input(1));
    }
    if g.need(1) {
        b.mac(g.forward.macs)?;
        b.save(Saved::Input(0));
    }
    if g.need(2) {
        b.add(g.out_numel(0)?)?;
    }
    Ok(())
}

/// FusedGemm(A, B, C): the activation's backward, then Gemm's (dA, dB each the forward's
/// MACs; alpha and beta scalings; C summed back over its broadcast axes).
fn fused_gemm(g: &Grad, b: &mut Back) -> Result<(), OpError> {
    if !(g.need(0) || g.need(1) || g.need(2)) {
        return Ok(());
    }
    activation(g, b)?;
    super::products::gemm(g, b)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::back;
    use super::super::Saved;
    use crate::graph::Attr;
    use crate::ops::testutil::{a_ints, a_str, f32t};

    #[test]
    fn fused_conv_is_its_activation_then_the_conv() {
        // X [1,3,8,8], W [4,3,3,3], pads 1: Y [1,4,8,8], 256 outputs × 27 = 6,912 MACs.
        // Relu's backward 1 per output (reads Y): 256; dX and dW 6,912 MACs each; the bias
        // 256 adds. FLOPs 2·13,824 + 256 + 256 = 28,160.
        let attrs = [a_ints("pads", &[1, 1, 1, 1]), a_str("activation", "Relu")];
        let ins = [f32t(&[1, 3, 8, 8]), f32t(&[4, 3, 3, 3]), f32t(&[4])];
        let (macs, flops, saved) = back(
            "com.microsoft",
            "FusedConv",
            &ins,
            &attrs,
            &[true, true, true],
        );
        assert_eq!((macs, flops), (13_824, 28_160));
        assert!(saved.contains(&Saved::Output(0)) && saved.contains(&Saved::Input(0)));
        // The first layer (no input gradient) and Sigmoid (3 per output, reads Y).
        let attrs = [
            a_ints("pads", &[1, 1, 1, 1]),
            a_str("activation", "Sigmoid"),
        ];
        let (macs, flops, _) = back(
            "com.microsoft",
            "FusedConv",
            &ins,
            &attrs,
            &[false, true, true],
        );
        assert_eq!((macs, flops), (6_912, 2 * 6_912 + 3 * 256 + 256));
    }

    #[test]
    fn fused_gemm_is_its_activation_then_the_gemm() {
        // A [2,8] · B [8,4] + C [4]: 64 MACs forward. LeakyRelu's backward 2 per output (8
        // outputs, reads the pre-activation: 8 hidden elements); dA and dB 64 MACs each; C
        // summed over the batch axis: 8 adds. FLOPs 2·128 + 16 + 8 = 280.
        let ins = [f32t(&[2, 8]), f32t(&[8, 4]), f32t(&[4])];
        let attrs: [(String, Attr); 1] = [a_str("activation", "LeakyRelu")];
        let (macs, flops, saved) = back(
            "com.microsoft",
            "FusedGemm",
            &ins,
            &attrs,
            &[true, true, true],
        );
        assert_eq!((macs, flops), (128, 280));
        assert!(saved.contains(&Saved::Hidden(8)));
    }
}
