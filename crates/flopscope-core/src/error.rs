//! Errors, each with the process exit code the CLI uses for it (see `docs/counting.md`, "Exit codes").

use std::path::PathBuf;

/// Everything that can go wrong while loading or analysing a model.
#[derive(Debug, thiserror::Error)]
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
    /// The bytes are not a well-formed ONNX model.
    #[error("{}: not a valid ONNX model: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
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
}

impl Error {
    /// Exit code for the CLI: 1 output not writable (or not drawable), 2 usage, 3 unreadable file, 4 malformed or
    /// invalid model, 5 unsupported version, 6 shape inference failure (overflow included),
    /// 7 a runtime failed to load or run the model, 8 the model needs more memory than the
    /// machine has.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Write { .. } | Error::Render(_) => 1,
            Error::Usage(_) => 2,
            Error::Io { .. } => 3,
            Error::Malformed { .. } | Error::Invalid(_) => 4,
            Error::Unsupported(_) => 5,
            Error::Shape { .. } => 6,
            Error::Runtime(_) => 7,
            Error::Resources(_) => 8,
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
