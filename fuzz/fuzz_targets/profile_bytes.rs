//! Arbitrary bytes as a model, through the whole pipeline: loader, shape inference, costs.
//! Any panic, abort, timeout or runaway allocation is a finding; errors are fine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // In memory, as the Python binding and any embedding program give models.
    let _ = flopscope_core::profile_bytes(data, &flopscope_core::Options::default());
});
