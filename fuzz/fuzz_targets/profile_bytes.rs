//! Arbitrary bytes as a model file, through the whole pipeline: loader, shape inference,
//! costs. Any panic, abort, timeout or runaway allocation is a finding; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A real file, as users give one: the loader reads files, and /dev/shm keeps it in memory.
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!("flopscope-fuzz-{}.onnx", std::process::id()));
    std::fs::write(&path, data).expect("temporary file");
    let _ = flopscope_core::profile_path(&path, &flopscope_core::Options::default());
});
