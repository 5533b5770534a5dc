//! Readers that turn a model source into a [`crate::graph::Graph`].

mod aten;
mod external;
mod functions;
mod onnx;
mod skeleton;
pub mod trace;

pub use self::onnx::{load_onnx, load_onnx_bytes, LoadedModel};
pub use self::trace::{is_trace, load_trace, TRACE_SCHEMA};
