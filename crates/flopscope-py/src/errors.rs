//! The exception classes of `flopscope`, and the conversion of a library [`Error`] into one.

use flopscope_core::Error;
use pyo3::exceptions::{
    PyConnectionError, PyException, PyFileNotFoundError, PyMemoryError, PyOSError,
    PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The exception classes, made once at import (see [`make_errors`]).
pub(crate) static ERRORS: PyOnceLock<Vec<(&'static str, Py<PyType>)>> = PyOnceLock::new();

/// Name, Python bases (by name of an earlier class or a builtin) and docstring of each class.
/// Each also inherits the builtin a Python user would catch for that kind of failure.
const CLASSES: &[(&str, &[&str], &str)] = &[
    (
        "FlopscopeError",
        &["Exception"],
        "Base of every error flopscope raises.",
    ),
    (
        "ModelError",
        &["FlopscopeError", "ValueError"],
        "The model is malformed or invalid (CLI exit code 4).",
    ),
    (
        "UnsupportedError",
        &["ModelError"],
        "The model uses an opset or IR version flopscope does not support (exit code 5).",
    ),
    (
        "ShapeError",
        &["ModelError"],
        "A node's output shape cannot be inferred, or a size overflows (exit code 6).",
    ),
    (
        "UsageError",
        &["FlopscopeError", "ValueError"],
        "A bad argument: a dim binding, an input shape, an option (exit code 2).",
    ),
    (
        "ReadError",
        &["FlopscopeError", "OSError"],
        "The model file (or a file it names) cannot be read (exit code 3).",
    ),
    (
        "ModelNotFoundError",
        &["ReadError", "FileNotFoundError"],
        "No such file, and no built-in model of that name (exit code 3).",
    ),
    (
        "WriteError",
        &["FlopscopeError", "OSError"],
        "An output file cannot be written (exit code 1).",
    ),
    (
        "BackendError",
        &["FlopscopeError", "RuntimeError"],
        "A runtime could not load or run the model (exit code 7).",
    ),
    (
        "ResourcesError",
        &["FlopscopeError", "MemoryError"],
        "The work needs more memory than this machine has (exit code 8).",
    ),
    (
        "RenderError",
        &["FlopscopeError", "RuntimeError"],
        "A chart could not be drawn (exit code 1).",
    ),
    (
        "NetworkError",
        &["FlopscopeError", "ConnectionError"],
        "A remote model could not be fetched: unreachable, timed out, a server error, or \
         offline with nothing cached (exit code 10).",
    ),
    (
        "AccessDeniedError",
        &["NetworkError", "PermissionError"],
        "A remote server refused access (HTTP 401/403): set HF_TOKEN (exit code 11).",
    ),
];

/// Builds the classes of [`CLASSES`] with `type(name, bases, namespace)`: pyo3's
/// `create_exception!` allows one base only, and these need two.
pub(crate) fn make_errors(py: Python<'_>) -> PyResult<Vec<(&'static str, Py<PyType>)>> {
    let builtin = |name: &str| -> PyResult<Bound<'_, PyType>> {
        Ok(match name {
            "Exception" => py.get_type::<PyException>(),
            "ValueError" => py.get_type::<PyValueError>(),
            "OSError" => py.get_type::<PyOSError>(),
            "FileNotFoundError" => py.get_type::<PyFileNotFoundError>(),
            "RuntimeError" => py.get_type::<PyRuntimeError>(),
            "MemoryError" => py.get_type::<PyMemoryError>(),
            "ConnectionError" => py.get_type::<PyConnectionError>(),
            "PermissionError" => py.get_type::<PyPermissionError>(),
            other => {
                return Err(PyRuntimeError::new_err(format!(
                    "flopscope: no builtin {other}"
                )))
            }
        })
    };
    let mut made: Vec<(&'static str, Py<PyType>)> = Vec::new();
    for (name, bases, doc) in CLASSES {
        let mut b = Vec::new();
        for base in *bases {
            match made.iter().find(|(n, _)| n == base) {
                Some((_, t)) => b.push(t.bind(py).clone()),
                None => b.push(builtin(base)?),
            }
        }
        let ns = PyDict::new(py);
        ns.set_item("__module__", "flopscope")?;
        ns.set_item("__doc__", *doc)?;
        // The message alone, as the CLI prints it: `OSError.__str__` would rewrite it as
        // `[Errno 2] …: 'path'` once `errno` and `filename` are set.
        ns.set_item(
            "__str__",
            py.get_type::<pyo3::exceptions::PyBaseException>()
                .getattr("__str__")?,
        )?;
        let cls = py
            .get_type::<PyType>()
            .call1((*name, PyTuple::new(py, b)?, ns))?
            .cast_into::<PyType>()?;
        made.push((name, cls.unbind()));
    }
    Ok(made)
}

/// The class named `name` (made at import).
fn class<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyType> {
    let classes = ERRORS.get_or_try_init(py, || make_errors(py));
    match classes
        .ok()
        .and_then(|c| c.iter().find(|(n, _)| *n == name))
    {
        Some((_, t)) => t.bind(py).clone(),
        None => py.get_type::<PyRuntimeError>(),
    }
}

/// Which class each kind of error raises: the CLI's exit codes, one class per code.
fn class_name(e: &Error) -> &'static str {
    match e {
        Error::Malformed { .. } | Error::Invalid(_) => "ModelError",
        Error::Unsupported(_) => "UnsupportedError",
        Error::Shape { .. } | Error::Overflow(_) => "ShapeError",
        Error::Usage(_) => "UsageError",
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            "ModelNotFoundError"
        }
        Error::Io { .. } => "ReadError",
        Error::Write { .. } => "WriteError",
        Error::Runtime(_) => "BackendError",
        Error::Resources(_) => "ResourcesError",
        Error::Render(_) => "RenderError",
        Error::Network(_) => "NetworkError",
        Error::Denied(_) => "AccessDeniedError",
        // A kind added to the library later: the base class.
        _ => "FlopscopeError",
    }
}

/// The Python exception of an error: its message is the CLI's one line (without the
/// `flopscope: error:` prefix); file errors also set `filename` (and `errno` when known).
pub(crate) fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let err = PyErr::from_type(class(py, class_name(&e)), e.to_string());
    if let Error::Io { path, source } | Error::Write { path, source } = &e {
        let v = err.value(py);
        let _ = v.setattr("filename", path.display().to_string());
        if let Some(code) = source.raw_os_error() {
            let _ = v.setattr("errno", code);
        } else if source.kind() == std::io::ErrorKind::NotFound {
            let _ = v.setattr("errno", 2);
        }
        let _ = v.setattr("strerror", source.to_string());
    }
    err
}
