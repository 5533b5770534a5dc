//! Compiles the vendored `onnx.proto` with protox (pure Rust), so no `protoc` is needed.
fn main() {
    let proto = "proto/onnx.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"]).expect("onnx.proto compiles");
    let mut config = prost_build::Config::new();
    // `bytes` fields become `bytes::Bytes`: raw_data is sliced from the decoded buffer, not copied.
    config.bytes(["."]);
    config
        .compile_fds(fds)
        .expect("prost-build generates ONNX types");
}
