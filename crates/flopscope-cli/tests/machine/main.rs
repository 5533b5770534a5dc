//! `flopscope machine` in a test binary of its own: cargo runs test binaries one after
//! another, so no other test (a calibration, an ONNX Runtime run) shares the cores while the
//! peak is measured.

#[path = "../cli/common/mod.rs"]
mod common;

mod machine;
