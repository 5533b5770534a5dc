//! `flopscope._flopscope`: the Rust side of the Python package `flopscope`.
//!
//! Every number comes from `flopscope-core` and every document from the exporters of
//! `flopscope-report`, the same code the CLI runs; the Python package (`python/flopscope`) only
//! turns Python arguments into [`Options`](flopscope_core::Options) and Rust results into Python
//! objects. A profile stays a Rust [`flopscope_core::Profile`] inside the [`Profile`] class:
//! rendering it again (as a table, CSV, HTML…) never re-parses anything. The analysis runs with
//! the GIL released.

mod bench;
mod convention;
mod errors;
mod predict;
mod profile;
mod report;

use pyo3::prelude::*;

use bench::{bench_file, bench_report, input_data, BenchReport, Sampler};
use errors::{make_errors, ERRORS};
pub use predict::Prediction;
use predict::{predict_profile, predict_target, PredictTarget};
pub use profile::Profile;
use profile::{
    check_training, profile_bytes, profile_path, profile_spec, with_roofline, zoo_names,
};
use report::{compare, diff, profile_chart, report_html, Comparison};

/// The extension module.
#[pymodule]
fn _flopscope(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    for (name, cls) in ERRORS.get_or_try_init(py, || make_errors(py))? {
        m.add(*name, cls.bind(py))?;
    }
    m.add_class::<Profile>()?;
    m.add_function(wrap_pyfunction!(profile_spec, m)?)?;
    m.add_function(wrap_pyfunction!(profile_path, m)?)?;
    m.add_function(wrap_pyfunction!(profile_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(zoo_names, m)?)?;
    m.add_function(wrap_pyfunction!(convention::explain, m)?)?;
    m.add_function(wrap_pyfunction!(convention::convention_names, m)?)?;
    m.add_function(wrap_pyfunction!(check_training, m)?)?;
    m.add_function(wrap_pyfunction!(with_roofline, m)?)?;
    m.add_class::<Sampler>()?;
    m.add_class::<BenchReport>()?;
    m.add_function(wrap_pyfunction!(bench_report, m)?)?;
    m.add_class::<Comparison>()?;
    m.add_function(wrap_pyfunction!(bench_file, m)?)?;
    m.add_function(wrap_pyfunction!(input_data, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(report_html, m)?)?;
    m.add_function(wrap_pyfunction!(profile_chart, m)?)?;
    m.add_class::<PredictTarget>()?;
    m.add_class::<Prediction>()?;
    m.add_function(wrap_pyfunction!(predict_target, m)?)?;
    m.add_function(wrap_pyfunction!(predict_profile, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Whether this wheel was built with tract (the cargo feature `tract`; off by default).
    m.add("HAS_TRACT", flopscope_bench::tract::BUILT_IN)?;
    Ok(())
}
