//! Arbitrary bytes as a `flopscope.trace/1` document (the JSON a traced PyTorch module becomes):
//! the reader, the ATen calls turned into nodes, shape inference and costs, and, for inputs of
//! odd length, a training step (the recorded one when the trace has its backward, else the
//! derived one). Errors are fine; a panic, abort, timeout or runaway allocation is not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Anything else is an ONNX file to the loader: `profile_bytes` covers that.
    if !flopscope_core::load::is_trace(data) {
        return;
    }
    let opts = flopscope_core::Options {
        training: (data.len() % 2 == 1).then(Default::default),
        ..Default::default()
    };
    let _ = flopscope_core::profile_bytes(data, &opts);
});
