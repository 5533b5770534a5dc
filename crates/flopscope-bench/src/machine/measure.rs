//! Measuring this machine: FMA throughput per core and on every core, the clock while the
//! vector unit is busy, FMA latency, and copy bandwidth. Method in `docs/roofline.md`.

use std::sync::Barrier;
use std::time::Instant;

use super::kernels::{self, Isa, ADDS, LATENCY_CHAIN};
use flopscope_core::machine::{Machine, WidthRate, SCHEMA};
use flopscope_core::{Error, Result};

/// Seconds one timed kernel call aims for: long enough to dwarf timer and scheduling noise,
/// short enough that the whole measurement takes a few seconds.
const TARGET_S: f64 = 0.08;

/// One core's FMA rate is the best of this many runs per [`TARGET_S`] (see `measure`).
const SHORT_RUNS_PER_TARGET: u64 = 4;

fn seconds(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

/// Iterations of `f` that take about [`TARGET_S`].
fn calibrate(f: impl Fn(u64)) -> u64 {
    let mut iters = 10_000u64;
    loop {
        let t = seconds(|| f(iters));
        if t > 0.01 || iters > 1 << 40 {
            return ((iters as f64 * TARGET_S / t.max(1e-9)) as u64).max(1);
        }
        iters *= 8;
    }
}

/// Cycles per second from the dependent-add loop.
fn clock_hz(isa: Isa, iters: u64) -> f64 {
    let t = seconds(|| kernels::clock_cycles(isa, iters));
    (iters * ADDS) as f64 / t
}

/// Vector FMA instructions per second of one thread.
fn fma_rate(isa: Isa, iters: u64) -> f64 {
    let t = seconds(|| kernels::fma_throughput(isa, iters));
    (iters * kernels::chains(isa)) as f64 / t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Every thread running at once, three rounds: the best round's summed FMA rate (threads are
/// summed within a round, so no figure mixes rounds), and the mean of the threads' median
/// clocks.
fn all_cores(isa: Isa, threads: usize, fma_iters: u64, clock_iters: u64) -> (f64, f64) {
    const ROUNDS: usize = 3;
    let barrier = Barrier::new(threads);
    let per_thread: Vec<(Vec<f64>, f64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut rates = Vec::new();
                    let mut clocks = Vec::new();
                    for _ in 0..ROUNDS {
                        barrier.wait();
                        clocks.push(clock_hz(isa, clock_iters));
                        barrier.wait();
                        rates.push(fma_rate(isa, fma_iters));
                    }
                    (rates, median(clocks))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or((vec![0.0; ROUNDS], 0.0)))
            .collect()
    });
    let rate = (0..ROUNDS)
        .map(|i| per_thread.iter().map(|p| p.0[i]).sum::<f64>())
        .fold(0.0, f64::max);
    let clock = per_thread.iter().map(|p| p.1).sum::<f64>() / threads as f64;
    (rate, clock)
}

/// A vector of `n` copies of `value`, allocated fallibly and written by `threads` threads in
/// the slices the threaded copy uses, so each page lands on the NUMA node of the thread that
/// copies it (first touch).
fn filled(n: usize, value: u64, threads: usize) -> Option<Vec<u64>> {
    let mut v: Vec<u64> = Vec::new();
    v.try_reserve_exact(n).ok()?;
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for part in v.spare_capacity_mut()[..n].chunks_mut(chunk) {
            s.spawn(move || {
                for x in part {
                    x.write(value);
                }
            });
        }
    });
    // SAFETY: the scope joined every thread, and together they wrote all of the first n.
    unsafe { v.set_len(n) };
    Some(v)
}

/// Copy bandwidth in GB/s (bytes read + bytes written, as STREAM counts a copy), best of
/// five passes over `bytes`-sized buffers split between `threads`.
fn copy_gbs(src: &[u64], dst: &mut [u64], threads: usize) -> f64 {
    let chunk = src.len().div_ceil(threads);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = if threads == 1 {
            seconds(|| dst.copy_from_slice(src))
        } else {
            // One waiter per slice (there may be fewer slices than threads) plus this one.
            let barrier = Barrier::new(src.len().div_ceil(chunk) + 1);
            std::thread::scope(|s| {
                for (d, sr) in dst.chunks_mut(chunk).zip(src.chunks(chunk)) {
                    let b = &barrier;
                    s.spawn(move || {
                        b.wait();
                        d.copy_from_slice(sr);
                    });
                }
                barrier.wait();
                Instant::now()
            })
            .elapsed()
            .as_secs_f64()
        };
        best = best.min(t);
    }
    (2 * std::mem::size_of_val(src)) as f64 / best / 1e9
}

/// Size of each copy buffer: far past any last-level cache (so the copy streams from DRAM),
/// smaller when the machine has little memory.
fn copy_bytes() -> usize {
    let want = 256usize << 20;
    match super::machine_memory() {
        Some(m) if (m as usize) < want * 8 => ((m as usize) / 16).max(16 << 20),
        _ => want,
    }
}

/// Measures this machine (a few seconds; the other cores should be idle).
pub fn measure() -> Result<Machine> {
    let start = Instant::now();
    let isas = kernels::available();
    let Some(&widest) = isas.first() else {
        return Err(Error::Usage(format!(
            "this CPU ({}) has no FMA unit flopscope can drive; give the roofline as \
             --peak-gflops N --bandwidth-gbs N",
            std::env::consts::ARCH
        )));
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // One core, widest unit: clock and FMA runs interleaved, so both see the same state.
    // On a cloud VM the vector unit is shared with whatever the host runs on the sibling
    // hyper-thread, in bursts; the dependent-add clock loop barely notices, the FMA loop halves.
    // Many short FMA runs, best kept, find the quiet windows that three long ones can miss.
    let fma_iters =
        (calibrate(|n| kernels::fma_throughput(widest, n)) / SHORT_RUNS_PER_TARGET).max(1);
    let clock_iters = (calibrate(|n| kernels::clock_cycles(widest, n)) / 2).max(1);
    let mut clocks = vec![clock_hz(widest, clock_iters)];
    let mut best = 0f64;
    for _ in 0..4 {
        for _ in 0..SHORT_RUNS_PER_TARGET {
            best = best.max(fma_rate(widest, fma_iters));
        }
        clocks.push(clock_hz(widest, clock_iters));
    }
    let clock = median(clocks);
    let lat_iters = (calibrate(|n| kernels::fma_latency(widest, n)) / 2).max(1);
    let lat_s = seconds(|| kernels::fma_latency(widest, lat_iters))
        .min(seconds(|| kernels::fma_latency(widest, lat_iters)));
    let latency = lat_s * clock / (lat_iters * LATENCY_CHAIN) as f64;

    let flops_per_fma = |isa: Isa| 2.0 * isa.lanes() as f64;
    let peak_per_core = best * flops_per_fma(widest) / 1e9;
    let fma_per_cycle = best / clock;
    let mut widths = vec![WidthRate {
        isa: widest.name().into(),
        bits: widest.bits(),
        gflops_per_core: peak_per_core,
        fma_per_cycle,
    }];
    for &isa in &isas[1..] {
        let iters = calibrate(|n| kernels::fma_throughput(isa, n));
        let r = (0..2).map(|_| fma_rate(isa, iters)).fold(0.0, f64::max);
        widths.push(WidthRate {
            isa: isa.name().into(),
            bits: isa.bits(),
            gflops_per_core: r * flops_per_fma(isa) / 1e9,
            fma_per_cycle: r / clock,
        });
    }

    let (all_rate, all_clock) = if threads > 1 {
        all_cores(widest, threads, fma_iters, clock_iters)
    } else {
        (best, clock)
    };

    let bytes = copy_bytes();
    let n = bytes / 8;
    // Written once before timing, so no page fault lands inside a timed copy.
    let (Some(src), Some(mut dst)) = (filled(n, 1, threads), filled(n, 2, threads)) else {
        return Err(Error::Resources(format!(
            "cannot allocate 2 × {} MiB to measure memory bandwidth",
            bytes >> 20
        )));
    };
    let bw1 = copy_gbs(&src, &mut dst, 1);
    let bw_all = if threads > 1 {
        copy_gbs(&src, &mut dst, threads)
    } else {
        bw1
    };

    let units = fma_per_cycle.round().max(1.0);
    Ok(Machine {
        schema: SCHEMA.into(),
        source: "measured".into(),
        cpu_model: super::cpu_model(),
        arch: std::env::consts::ARCH.into(),
        logical_cpus: threads,
        physical_cores: super::physical_cores(),
        vector_extensions: super::extensions(),
        isa: Some(widest.name().into()),
        vector_bits: Some(widest.bits()),
        f32_lanes: Some(widest.lanes()),
        clock_ghz: Some(clock / 1e9),
        clock_ghz_all_cores: Some(all_clock / 1e9),
        fma_per_cycle: Some(fma_per_cycle),
        fma_units: Some(units as u32),
        fma_latency_cycles: Some(latency),
        theoretical_gflops_per_core: Some(flops_per_fma(widest) * units * clock / 1e9),
        peak_gflops_per_core: peak_per_core,
        peak_gflops: all_rate * flops_per_fma(widest) / 1e9,
        bandwidth_gbs_per_core: bw1,
        bandwidth_gbs: bw_all,
        copy_bytes: bytes as u64,
        widths,
        measured_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        seconds: start.elapsed().as_secs_f64(),
        flopscope_version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_splits_any_length_between_threads_and_copies_everything() {
        // 9 elements over 4 threads is 3 slices of 3: one thread fewer than asked.
        for (n, threads) in [(9usize, 4usize), (10, 4), (1, 3), (1000, 7)] {
            let src: Vec<u64> = (0..n as u64).collect();
            let mut dst = vec![0u64; n];
            let gbs = copy_gbs(&src, &mut dst, threads);
            assert_eq!(dst, src);
            assert!(gbs > 0.0 && gbs.is_finite());
        }
    }

    #[test]
    fn filled_writes_every_element_whatever_the_split() {
        for (n, threads) in [(0usize, 3usize), (1, 4), (9, 4), (1000, 7)] {
            assert_eq!(filled(n, 7, threads).unwrap(), vec![7u64; n]);
        }
    }

    #[test]
    fn kernels_run_on_every_detected_unit() {
        for isa in kernels::available() {
            kernels::fma_throughput(isa, 1000);
            kernels::fma_latency(isa, 1000);
            kernels::clock_cycles(isa, 1000);
            // Zero iterations must not loop 2^64 times (the loops count down to zero).
            kernels::fma_throughput(isa, 0);
            kernels::clock_cycles(isa, 0);
        }
    }
}
