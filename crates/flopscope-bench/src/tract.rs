//! tract, the pure-Rust ONNX runtime, compiled in with this crate's cargo feature `tract` (the
//! CLI enables it; the Python wheel leaves it out, because tract is most of a from-scratch
//! build and Python users time on torch and ONNX Runtime). Without the feature, [`Tract`] still
//! exists and loading a model with it is a usage error that says how to get it.

use std::path::Path;

use super::{InputSpec, Runtime, Session};
use flopscope_core::error::Result;

#[cfg(feature = "tract")]
mod engine;

/// The tract version this build links when [`BUILT_IN`] (pinned exactly in Cargo.toml).
pub const VERSION: &str = "0.23.9";

/// Whether this build has tract (the cargo feature `tract`).
pub const BUILT_IN: bool = cfg!(feature = "tract");

/// What a build without tract answers when asked for it.
pub const NOT_BUILT: &str =
    "the tract backend is not in this build of flopscope: it needs the cargo feature `tract` \
     (the CLI has it; for the Python package see docs/python.md, \"Installing\")";

/// tract as a [`Runtime`]: optimized plan, `threads` threads for matrix products.
pub struct Tract {
    /// Threads of tract's matrix-product executor (1: single-threaded).
    pub threads: usize,
}

impl Default for Tract {
    fn default() -> Self {
        Tract { threads: 1 }
    }
}

impl Runtime for Tract {
    fn name(&self) -> &'static str {
        "tract"
    }

    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn threads(&self) -> usize {
        self.threads.max(1)
    }

    fn load(&self, model: &Path, inputs: &[InputSpec], seed: u64) -> Result<Box<dyn Session>> {
        #[cfg(feature = "tract")]
        return engine::load(model, inputs, seed);
        #[cfg(not(feature = "tract"))]
        {
            let _ = (model, inputs, seed);
            Err(flopscope_core::error::Error::Usage(NOT_BUILT.into()))
        }
    }
}

#[cfg(all(test, not(feature = "tract")))]
mod tests {
    use super::*;
    use flopscope_core::error::Error;

    #[test]
    fn a_build_without_tract_says_how_to_get_it() {
        let e = Tract::default()
            .load(Path::new("model.onnx"), &[], 0)
            .err()
            .expect("no tract in this build");
        assert!(matches!(e, Error::Usage(_)), "{e}");
        assert!(e.to_string().contains("cargo feature `tract`"), "{e}");
    }
}
