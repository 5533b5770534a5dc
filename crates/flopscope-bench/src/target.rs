//! The device a prediction is for, as every front end names it: a catalog key or alias
//! (`KEY:MODE` for a power mode), a device file written by `flopscope calibrate`, or `local`
//! (this machine's calibration). It lives here, beside the runtimes, because `local` may have
//! to be measured first; the CLI and the Python package share it.

use std::path::Path;

use flopscope_core::device::Catalog;
use flopscope_core::error::{Error, Result};
use flopscope_core::predict::{Backend, Params, Target};

/// The time-model parameters: a user's file, else the built-in ones.
pub fn params(file: Option<&Path>) -> Result<Params> {
    match file {
        Some(f) => Params::from_file(f),
        None => Ok(Params::builtin().clone()),
    }
}

/// The device `name` names: a device file (a path that exists, holding one device), `local`
/// (this machine's ONNX Runtime calibration, run once on one thread when missing), or a
/// catalog entry.
pub fn resolve(name: &str, catalog: &Catalog, params: &Params) -> Result<Target> {
    resolve_for(name, catalog, params, None, None, &mut |_| {})
}

/// [`resolve`], with `local` calibrated for `backend` (ONNX Runtime when `None`) with
/// `threads` threads (1 when `None`) when the cache has no calibration of this machine;
/// `notify` hears when one starts (it takes about a minute).
pub fn resolve_for(
    name: &str,
    catalog: &Catalog,
    params: &Params,
    backend: Option<Backend>,
    threads: Option<usize>,
    notify: &mut dyn FnMut(&str),
) -> Result<Target> {
    let path = Path::new(name);
    if name.ends_with(".json") && !path.is_file() {
        // Meant as a device file: say that it is missing, not that no device has this name.
        return Err(Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such device file"),
        });
    }
    if name == "local" && !path.is_file() {
        let backend = backend.unwrap_or(Backend::OnnxRuntime);
        let device = crate::calibrate::local(backend, threads.unwrap_or(1), notify)?;
        return Target::new(device, catalog, params);
    }
    if path.is_file() {
        let file = Catalog::from_file(path)?;
        let [device] = file.devices.as_slice() else {
            return Err(Error::Usage(format!(
                "device file {} holds {} devices: expected one",
                path.display(),
                file.devices.len()
            )));
        };
        // Merged, so that the power model compares it with the catalog's parts of its chip.
        let merged = catalog.merge(&file)?;
        return Target::new(device.clone(), &merged, params);
    }
    Target::resolve(catalog, name, params)
}

/// The built-in catalog, with a user's catalog file merged in when one is given.
pub fn catalog(file: Option<&Path>) -> Result<Catalog> {
    match file {
        Some(f) => Catalog::builtin().merge(&Catalog::from_file(f)?),
        None => Ok(Catalog::builtin().clone()),
    }
}

/// Everything a prediction needs from its front end's names: the catalog (with `devices`
/// merged), the parameters (`params`, else the built-in ones), the options parsed (a bad name
/// is one line) and the device resolved — after the options, since a `local` calibration
/// depends on backend and threads. `notify` hears what calibration does.
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    device: &str,
    devices: Option<&Path>,
    params_file: Option<&Path>,
    dtype: Option<&str>,
    backend: Option<&str>,
    threads: Option<usize>,
    notify: &mut dyn FnMut(&str),
) -> Result<(Target, flopscope_core::predict::Options)> {
    let catalog = catalog(devices)?;
    let params = params(params_file)?;
    let opts = flopscope_core::predict::Options {
        dtype: dtype
            .map(flopscope_core::predict::Dtype::parse)
            .transpose()?,
        backend: backend.map(Backend::parse).transpose()?,
        threads,
    };
    let target = resolve_for(
        device,
        &catalog,
        &params,
        opts.backend,
        opts.threads,
        notify,
    )?;
    Ok((target, opts))
}
