//! Arbitrary bytes as an LLM checkpoint header: the first byte picks safetensors or GGUF, the
//! rest is the file. Errors are fine; a panic, abort, timeout or runaway allocation is not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let ext = if kind & 1 == 0 { "safetensors" } else { "gguf" };
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("flopscope-fuzz-{}.{ext}", std::process::id()));
    std::fs::write(&path, rest).expect("temporary file");
    let _ = flopscope_core::profile_path(&path, &flopscope_core::Options::default());
});
