//! The device a prediction is for, as every front end names it: a catalog key or alias
//! (`KEY:MODE` for a power mode), a device file written by `flopscope calibrate`, or `local`
//! (this machine's calibration). It lives here, beside the runtimes, because `local` may have
//! to be measured first; the CLI and the Python package share it.

use std::path::Path;

use flopscope_core::device::Catalog;
use flopscope_core::error::{Error, Result};
use flopscope_core::predict::{Params, Target};

/// The time-model parameters: a user's file, else the built-in ones.
pub fn params(file: Option<&Path>) -> Result<Params> {
    match file {
        Some(f) => Params::from_file(f),
        None => Ok(Params::builtin().clone()),
    }
}

/// The device `name` names: a device file (a path that exists, holding one device), or a
/// catalog entry.
pub fn resolve(name: &str, catalog: &Catalog, params: &Params) -> Result<Target> {
    let path = Path::new(name);
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
