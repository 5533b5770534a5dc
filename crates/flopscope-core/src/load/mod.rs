//! Readers that turn a model source into a [`crate::graph::Graph`].

mod aten;
mod external;
mod functions;
mod names;
mod onnx;
mod skeleton;
pub mod trace;

pub use self::onnx::{load_onnx, load_onnx_bytes, load_onnx_skeleton, read_skeleton, LoadedModel};
pub use self::skeleton::{ByteSource, Skeleton, Window, READ_WHOLE};
pub use self::trace::{is_trace, load_trace, TRACE_SCHEMA};
