//! Errors of every flopscope crate. Each kind maps to one documented exit code of the CLI
//! (`docs/counting.md`, "Exit codes"); the mapping lives in the CLI, not here.

use std::path::PathBuf;

/// Everything that can go wrong while loading, analysing, running or rendering a model.
/// New kinds may be added: match with a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model file (or a file it names) cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The output file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes are not a well-formed model file of the kind they were read as.
    #[error("{}: not a valid {what}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What it was read as: `ONNX model`, `GGUF file`, `safetensors file`, `JSON file`…
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Structurally invalid graph (dangling input, cycle, duplicate output, hostile path…).
    #[error("invalid model: {0}")]
    Invalid(String),
    /// An opset or IR version this tool does not support.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A node whose output shape cannot be computed from known, consistent inputs.
    #[error("node '{node}' ({op}): {msg}")]
    Shape {
        /// Node name.
        node: String,
        /// Operator type.
        op: String,
        /// What is inconsistent.
        msg: String,
    },
    /// A total or size that does not fit in 64 bits: the quantity is named (the model's
    /// parameter bytes, a layer's MACs…). Never replaced by a wrapped or saturated number.
    #[error("{0} overflows 64 bits")]
    Overflow(String),
    /// A bad command-line value (dim binding, input spec).
    #[error("{0}")]
    Usage(String),
    /// A runtime could not load or run the model.
    #[error("{0}")]
    Runtime(String),
    /// The work needs more of a resource (memory) than this machine has.
    #[error("{0}")]
    Resources(String),
    /// A chart could not be drawn.
    #[error("cannot draw chart: {0}")]
    Render(String),
    /// A remote model could not be fetched: unreachable, a time-out, a server error, a server
    /// that sent more than a header can need, or offline with nothing cached. (The core never
    /// fetches; `flopscope-remote` reports these.)
    #[error("{0}")]
    Network(String),
    /// A remote server refused access (HTTP 401 or 403): a token is missing or cannot read it.
    #[error("{0}")]
    Denied(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
