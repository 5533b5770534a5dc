//! `flopscope devices`: list the catalog, or show one device with its sources.

use std::path::PathBuf;

use flopscope_core::device::{Catalog, DeviceClass};
use flopscope_core::Error;
use flopscope_report::render::Format;

use crate::{write_out, ZooFormat};

/// Arguments of `flopscope devices`.
#[derive(clap::Args)]
pub(crate) struct DevicesArgs {
    /// One device (key or alias, any case) to show with the source of each figure.
    name: Option<String>,
    /// Only the devices of this class: gpu-datacenter, gpu-consumer, gpu-workstation, gpu-edge,
    /// gpu-apple or cpu.
    #[arg(long, value_parser = |s: &str| DeviceClass::parse(s).map_err(|e| e.to_string()))]
    class: Option<DeviceClass>,
    /// A catalog file of the same schema (flopscope.devices/1): its devices are added, or
    /// replace the built-in entry of the same key whole.
    #[arg(long = "devices", value_name = "FILE", env = "FLOPSCOPE_DEVICES")]
    devices_file: Option<PathBuf>,
    /// Output format (JSON is a catalog file itself: edit it and pass it to --devices).
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    format: ZooFormat,
}

/// The built-in catalog, with the user's file merged in when one is given.
pub(crate) fn catalog(file: Option<&PathBuf>) -> Result<Catalog, Error> {
    flopscope_bench::target::catalog(file.map(PathBuf::as_path))
}

/// This machine's calibration (ONNX Runtime), as a catalog of one device, when one was made.
fn local_catalog() -> Option<Catalog> {
    use flopscope_bench::calibrate;
    let path = calibrate::cache_path("local", flopscope_core::predict::Backend::OnnxRuntime)?;
    Catalog::from_file(&path).ok()
}

pub(crate) fn devices(a: DevicesArgs) -> Result<(), Error> {
    let mut c = catalog(a.devices_file.as_ref())?;
    // `local` is this machine once calibrated: listed and shown like any entry.
    match local_catalog() {
        Some(local) if !c.devices.iter().any(|d| d.key == "local") => c = c.merge(&local)?,
        None if a.name.as_deref() == Some("local") => return Err(Error::Usage(
            "'local' is this machine once calibrated: run `flopscope calibrate` (or `flopscope \
                 predict MODEL --device local`, which runs it once)"
                .into(),
        )),
        _ => {}
    }
    if let Some(name) = &a.name {
        let d = c.find(name)?.clone();
        let out = match a.format {
            ZooFormat::Json => {
                // One device and the documents it cites: still a valid catalog file.
                c.sources
                    .retain(|id, _| d.sources.values().any(|s| s == id));
                c.devices = vec![d];
                serde_json::to_string_pretty(&c).unwrap_or_default() + "\n"
            }
            ZooFormat::Markdown => {
                flopscope_report::devices::detail(&c, &d).render(Format::Markdown)
            }
            ZooFormat::Table => flopscope_report::devices::detail(&c, &d).render(Format::Text),
        };
        return write_out(None, &out);
    }
    if let Some(k) = a.class {
        c.devices.retain(|d| d.class == k);
    }
    let out = match a.format {
        ZooFormat::Json => serde_json::to_string_pretty(&c).unwrap_or_default() + "\n",
        ZooFormat::Markdown => {
            flopscope_report::devices::table(&c.devices).render(Format::Markdown)
        }
        ZooFormat::Table => flopscope_report::devices::table(&c.devices).render(Format::Text),
    };
    write_out(None, &out)
}
