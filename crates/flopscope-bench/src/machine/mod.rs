//! Measuring this machine: peak f32 FLOP/s ([`kernels`], [`measure()`]) and copy bandwidth,
//! cached between runs; the data type and the roofline arithmetic live in
//! [`flopscope_core::machine`].

pub mod kernels;
mod measure;

use std::path::PathBuf;

use flopscope_core::error::Result;
use flopscope_core::machine::Machine;

pub use measure::measure;

/// Whether a cached measurement describes this machine and this flopscope.
fn matches_here(m: &Machine) -> bool {
    m.usable()
        && m.cpu_model == cpu_model()
        && m.arch == std::env::consts::ARCH
        && Some(m.logical_cpus) == std::thread::available_parallelism().ok().map(|n| n.get())
        && m.flopscope_version == env!("CARGO_PKG_VERSION")
}

/// Where the measurement is cached: `$FLOPSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/flopscope`,
/// else `~/.cache/flopscope`.
pub fn cache_path() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = env("FLOPSCOPE_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("flopscope")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("flopscope")))?;
    Some(dir.join("machine.json"))
}

/// This machine: the cached measurement when it matches, else a new one (saved).
/// `on_measure` is called before a measurement starts (to tell the person to wait).
/// Returns the machine and, when saving failed, why.
pub fn this_machine(
    refresh: bool,
    on_measure: &mut dyn FnMut(),
) -> Result<(Machine, Option<String>)> {
    let path = cache_path();
    if !refresh {
        let cached = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<Machine>(&t).ok())
            .filter(matches_here);
        if let Some(mut m) = cached {
            m.source = "cache".into();
            return Ok((m, None));
        }
    }
    on_measure();
    let m = measure()?;
    let saved = match &path {
        Some(p) => save(&m, p).err(),
        None => Some("no cache directory (set FLOPSCOPE_CACHE_DIR)".into()),
    };
    Ok((m, saved))
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn save(m: &Machine, path: &std::path::Path) -> std::result::Result<(), String> {
    let dir = path.parent().ok_or("no parent directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(m).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("{}: {e}", path.display())
        })
}

fn cpuinfo() -> String {
    std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()
}

/// The CPU's model name (`/proc/cpuinfo`), or the architecture when the OS does not say.
pub fn cpu_model() -> String {
    let info = cpuinfo();
    let field = |key: &str| {
        info.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    };
    field("model name")
        .or_else(|| field("Model"))
        .or_else(|| field("CPU part").map(|p| format!("CPU part {p}")))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Distinct (package, core) pairs in `/proc/cpuinfo`.
pub fn physical_cores() -> Option<usize> {
    let mut seen = std::collections::BTreeSet::new();
    let (mut pkg, mut core) = (None, None);
    for l in cpuinfo().lines() {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim() {
                "physical id" => pkg = Some(v.trim().to_string()),
                "core id" => core = Some(v.trim().to_string()),
                _ => {}
            }
        } else if l.trim().is_empty() {
            if let (Some(p), Some(c)) = (pkg.take(), core.take()) {
                seen.insert((p, c));
            }
        }
    }
    (!seen.is_empty()).then_some(seen.len())
}

/// Vector extensions of this CPU, detected at run time.
pub fn extensions() -> Vec<String> {
    #[allow(unused_mut)]
    let mut v: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {
                $(if std::is_x86_feature_detected!($f) { v.push($f); })*
            };
        }
        probe!(
            "sse2",
            "sse4.2",
            "avx",
            "fma",
            "f16c",
            "avx2",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vnni",
            "avx512bf16",
            "avx512fp16"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {
                $(if std::arch::is_aarch64_feature_detected!($f) { v.push($f); })*
            };
        }
        probe!("neon", "fp16", "dotprod", "i8mm", "bf16", "sve", "sve2");
    }
    v.into_iter().map(String::from).collect()
}

/// Memory this process may use: physical memory, or the cgroup's limit when lower (Linux).
/// `None` where neither can be read; the check is then skipped.
pub fn machine_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            kib.checked_mul(1024)
        })?;
    let limit = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    Some(limit.map_or(total, |l| l.min(total)))
}
