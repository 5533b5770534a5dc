//! Readers that turn a model source into a [`crate::graph::Graph`].

mod external;
mod functions;
mod onnx;
mod skeleton;

pub use self::onnx::{load_onnx, load_onnx_bytes, LoadedModel};
