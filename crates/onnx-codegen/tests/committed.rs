//! The committed ONNX types are exactly what the vendored `onnx.proto` generates.

#[test]
fn committed_onnx_types_match_the_vendored_proto() {
    let fresh = onnx_codegen::generate().expect("onnx.proto generates");
    let committed =
        std::fs::read_to_string(onnx_codegen::committed_path()).expect("committed file");
    assert!(
        fresh == committed,
        "crates/flopscope-core/src/onnx_pb/onnx.rs is stale: run `cargo run -p onnx-codegen`"
    );
}
