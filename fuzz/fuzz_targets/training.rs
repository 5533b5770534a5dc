//! A model (ONNX, a trace, a checkpoint header: the bytes after the first four) profiled with a
//! training step whose options come from the first four bytes: optimizer, precision,
//! recomputation, GPUs (0 and 2^64 − 1 included, which must be refused or divided), ZeRO
//! stage (4 included, which must be refused), tokens and the time estimate's peak and MFU.
//! Errors are fine; a panic, abort, timeout or runaway allocation is not.
#![no_main]

use flopscope_core::training::{Optimizer, Precision, Recompute, TrainingOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((o, model)) = data.split_first_chunk::<4>() else {
        return;
    };
    let optimizer =
        [Optimizer::Sgd, Optimizer::SgdMomentum, Optimizer::Adam][usize::from(o[0] % 3)];
    let precision =
        [Precision::Fp32, Precision::Bf16Mixed, Precision::Fp16Mixed][usize::from(o[0] / 3 % 3)];
    let recompute = [Recompute::None, Recompute::Selective, Recompute::Full][usize::from(o[1] % 3)];
    let gpus = match o[2] >> 6 {
        0 => 1,
        1 => u64::from(o[2] & 0x3f), // 0 among them
        2 => 1 << (o[2] & 0x3f),
        _ => u64::MAX,
    };
    let training = TrainingOptions {
        optimizer,
        precision,
        recompute,
        gpus,
        zero_stage: o[3] % 5,
        tokens: (o[1] & 0x80 != 0).then(|| u64::MAX >> (o[3] & 0x3f)),
        peak_gflops: (o[1] & 0x40 != 0).then_some(f64::from(o[3]) * 1e3 - 1.0),
        mfu: (o[1] & 0x20 != 0).then_some(f64::from(o[3]) / 128.0),
    };
    let opts = flopscope_core::Options {
        training: Some(training),
        ..Default::default()
    };
    let _ = flopscope_core::profile_bytes(model, &opts);
});
