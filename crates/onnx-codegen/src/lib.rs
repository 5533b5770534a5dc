//! Generates the Rust types of the vendored `onnx.proto` with protox (a pure-Rust protobuf
//! compiler, so no `protoc`) and prost-build. `flopscope-core` commits the output
//! (`src/onnx_pb/onnx.rs`); `cargo run -p onnx-codegen` rewrites it, and this crate's test fails
//! when the committed file no longer matches the `.proto`.

use std::path::{Path, PathBuf};

/// The `flopscope-core` crate folder.
pub fn core_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flopscope-core")
}

/// The committed generated file.
pub fn committed_path() -> PathBuf {
    core_dir().join("src/onnx_pb/onnx.rs")
}

/// The generated Rust source of `flopscope-core/proto/onnx.proto`.
///
/// ```
/// let code = onnx_codegen::generate().unwrap();
/// assert!(code.contains("pub struct ModelProto"));
/// // `bytes` fields are `bytes::Bytes`, so weights are sliced, not copied, when decoding.
/// assert!(code.contains("::prost::bytes::Bytes"));
/// ```
pub fn generate() -> Result<String, String> {
    let proto_dir = core_dir().join("proto");
    let fds = protox::compile([proto_dir.join("onnx.proto")], [&proto_dir])
        .map_err(|e| format!("onnx.proto does not compile: {e}"))?;
    let out = std::env::temp_dir().join(format!("onnx-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut config = prost_build::Config::new();
    // `bytes` fields become `bytes::Bytes`: raw_data is sliced from the decoded buffer, not copied.
    config.bytes(["."]);
    config.out_dir(&out);
    let result = config
        .compile_fds(fds)
        .map_err(|e| format!("prost-build: {e}"))
        .and_then(|()| {
            std::fs::read_to_string(out.join("onnx.rs")).map_err(|e| format!("onnx.rs: {e}"))
        });
    let _ = std::fs::remove_dir_all(&out);
    result
}
