//! Compiles the vendored `onnx.proto` with protox (pure Rust), so no `protoc` is needed.
fn main() {
    let proto = "proto/onnx.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"]).expect("onnx.proto compiles");
    let mut config = prost_build::Config::new();
    // `bytes` fields become `bytes::Bytes`: decoding from a memory map slices weights without copying.
    config.bytes(["."]);
    config
        .compile_fds(fds)
        .expect("prost-build generates ONNX types");
}
