//! Arbitrary bytes as an LLM checkpoint header: the first byte picks safetensors or GGUF, the
//! rest is the file (a GGUF gets its magic, so the fuzzer spends its time past it). Errors are
//! fine; a panic, abort, timeout or runaway allocation is not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let opts = flopscope_core::Options::default();
    if kind & 1 == 0 {
        let _ = flopscope_core::llm::safetensors::read_bytes(rest, "fuzz.safetensors".as_ref());
        let _ = flopscope_core::profile_bytes(rest, &opts);
    } else {
        let mut file = b"GGUF".to_vec();
        file.extend_from_slice(rest);
        let _ = flopscope_core::profile_bytes(&file, &opts);
    }
});
