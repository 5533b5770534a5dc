//! flopscope: parameters, MACs, FLOPs and memory of neural networks, layer by layer.
//!
//! This crate is the analysis alone: a [`Source`] (path, bytes, built-in name) → load (ONNX →
//! [`graph::Graph`]) → shapes and costs ([`infer`], one rule per operator in [`ops`]) →
//! [`schema::Profile`], the schema every renderer reads. Nothing here runs a model or draws a
//! chart (that is `flopscope-bench` and `flopscope-report`); what a measurement produced is plain
//! data in [`measure`], so that renderers need no runtime. Every formula is written in
//! `docs/counting.md`.
//!
//! ```
//! let p = flopscope_core::profile_source("resnet18", &flopscope_core::Options::default())?;
//! assert_eq!(p.totals.macs, 1_814_073_344);
//! # Ok::<(), flopscope_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod backprop;
pub mod builder;
pub mod causal;
pub mod checked;
pub mod convention;
pub mod device;
pub mod efficiency;
pub mod error;
pub mod fold;
pub mod format;
pub mod formula;
pub mod graph;
pub mod infer;
pub mod llm;
pub mod load;
pub mod machine;
pub mod measure;
pub mod ops;
pub mod options;
pub mod predict;
pub mod profile;
pub mod roofline;
pub mod schema;
pub mod source;
pub mod training;
pub mod weights;
pub mod write;
pub mod zoo;

/// Types generated from the vendored `onnx.proto` (ONNX 1.23, Apache-2.0) by
/// `cargo run -p onnx-codegen`, committed so that building the core needs no protobuf compiler.
#[allow(missing_docs, clippy::all)]
pub mod onnx_pb {
    include!("onnx_pb/onnx.rs");
}

pub use error::{Error, Result};
pub use options::Options;
pub use profile::{check_dims, profile_graph};
pub use schema::Profile;
pub use source::{open, open_source, profile, profile_bytes, profile_path, profile_source, Source};

// The analysis is `Send + Sync`: a Python binding releases the GIL while it runs, and formula
// fitting may run its points in parallel. This fails to compile if an `Rc` or `Cell` slips in.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<graph::Graph>();
    send_sync::<ops::Tensor>();
    send_sync::<infer::Analysis>();
    send_sync::<infer::Prepared<'static>>();
    send_sync::<Profile>();
    send_sync::<Error>();
    send_sync::<Source<'static>>();
};
