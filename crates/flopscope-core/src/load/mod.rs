//! Readers that turn a model source into a [`crate::graph::Graph`].

pub mod external;
pub mod functions;
pub mod onnx;
pub mod skeleton;

pub use self::onnx::{load_onnx, load_onnx_bytes, LoadedModel};
