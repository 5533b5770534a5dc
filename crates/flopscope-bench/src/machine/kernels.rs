//! The loops that measure a core: FMA throughput, FMA latency and the clock.
//!
//! Written in inline assembly so that what runs is exactly what is counted, whatever the
//! optimisation level of the build (test builds compile this crate unoptimised).

/// A vector unit the FMA loops can drive, and that this CPU was found to have.
///
/// Only [`available`] makes one (the field is private), so the safe functions below never run
/// an instruction the CPU lacks — an `Isa` cannot be built by hand:
///
/// ```compile_fail
/// let avx512 = flopscope_bench::machine::kernels::Isa(flopscope_bench::machine::kernels::Unit::Avx512);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Isa(Unit);

/// The kinds of vector unit (private: see [`Isa`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    /// x86-64 AVX-512F: 512-bit registers.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx512,
    /// x86-64 AVX2 with FMA3: 256-bit registers.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Avx2Fma,
    /// x86-64 FMA3 on 128-bit registers.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Sse128Fma,
    /// AArch64 Advanced SIMD (NEON): 128-bit registers.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    Neon,
}

impl Isa {
    /// Register width in bits.
    pub fn bits(self) -> u32 {
        match self {
            Isa(Unit::Avx512) => 512,
            Isa(Unit::Avx2Fma) => 256,
            Isa(Unit::Sse128Fma) | Isa(Unit::Neon) => 128,
        }
    }

    /// f32 lanes per register.
    pub fn lanes(self) -> u32 {
        self.bits() / 32
    }

    /// Name as the CPU's feature flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Isa(Unit::Avx512) => "avx512f",
            Isa(Unit::Avx2Fma) => "avx2+fma",
            Isa(Unit::Sse128Fma) => "fma128",
            Isa(Unit::Neon) => "neon",
        }
    }
}

/// The vector units this CPU has, widest first (run-time detection).
pub fn available() -> Vec<Isa> {
    #[allow(unused_mut)]
    let mut v = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            v.push(Isa(Unit::Avx512));
        }
        if std::is_x86_feature_detected!("fma") {
            if std::is_x86_feature_detected!("avx2") {
                v.push(Isa(Unit::Avx2Fma));
            }
            v.push(Isa(Unit::Sse128Fma));
        }
    }
    #[cfg(target_arch = "aarch64")]
    v.push(Isa(Unit::Neon));
    v
}

/// Independent FMAs per loop iteration of [`fma_throughput`]: more chains than the core's
/// FMA latency × FMA units, so latency never limits it — 12 covers x86 (4 cycles × 2 units);
/// Arm cores with four 128-bit pipes (Apple M, Neoverse V, Cortex-X) need 16, so NEON uses 24
/// of its 32 registers.
pub fn chains(isa: Isa) -> u64 {
    match isa {
        Isa(Unit::Neon) => 24,
        _ => 12,
    }
}
/// Dependent FMAs per iteration of [`fma_latency`].
pub const LATENCY_CHAIN: u64 = 12;
/// Dependent integer adds per iteration of [`clock_cycles`]: each takes one cycle.
pub const ADDS: u64 = 48;

// Only NEON has registers for 24 accumulators.
#[allow(unused_macros)]
macro_rules! twenty_four {
    ($f:ident) => {
        concat!(
            $f!(0),
            $f!(1),
            $f!(2),
            $f!(3),
            $f!(4),
            $f!(5),
            $f!(6),
            $f!(7),
            $f!(8),
            $f!(9),
            $f!(10),
            $f!(11),
            $f!(12),
            $f!(13),
            $f!(14),
            $f!(15),
            $f!(16),
            $f!(17),
            $f!(18),
            $f!(19),
            $f!(20),
            $f!(21),
            $f!(22),
            $f!(23)
        )
    };
}
#[allow(unused_imports)]
pub(crate) use twenty_four;

macro_rules! twelve {
    ($f:ident) => {
        concat!(
            $f!(0),
            $f!(1),
            $f!(2),
            $f!(3),
            $f!(4),
            $f!(5),
            $f!(6),
            $f!(7),
            $f!(8),
            $f!(9),
            $f!(10),
            $f!(11)
        )
    };
}
pub(crate) use twelve;

/// Runs `iters` iterations of [`chains`]`(isa)` independent FMAs on `isa`'s registers.
pub fn fma_throughput(isa: Isa, iters: u64) {
    // SAFETY: an `Isa` exists only for a unit `available` detected on this CPU.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Avx512) => x86::fma_zmm(iters),
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Avx2Fma) => x86::fma_ymm(iters),
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Sse128Fma) => x86::fma_xmm(iters),
            #[cfg(target_arch = "aarch64")]
            Isa(Unit::Neon) => arm::fma_v(iters),
            #[allow(unreachable_patterns)]
            _ => unreachable!("ISA {isa:?} not detected on this architecture"),
        }
    }
}

/// Runs `iters` iterations of [`LATENCY_CHAIN`] dependent FMAs on `isa`'s registers.
pub fn fma_latency(isa: Isa, iters: u64) {
    // SAFETY: as in `fma_throughput`.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Avx512) => x86::lat_zmm(iters),
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Avx2Fma) => x86::lat_ymm(iters),
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Sse128Fma) => x86::lat_xmm(iters),
            #[cfg(target_arch = "aarch64")]
            Isa(Unit::Neon) => arm::lat_v(iters),
            #[allow(unreachable_patterns)]
            _ => unreachable!("ISA {isa:?} not detected on this architecture"),
        }
    }
}

/// Runs `iters` iterations of [`ADDS`] dependent register adds — one cycle each on every
/// current core — while 36 FMAs of `isa` (24 on NEON) keep its vector unit busy, so that the
/// clock is read in the state the FMA loop runs in (some CPUs slow down for dense wide
/// vectors). The FMAs take at most 36 of the 48 cycles even at one FMA per cycle, so the add
/// chain alone sets the pace.
pub fn clock_cycles(isa: Isa, iters: u64) {
    // SAFETY: as in `fma_throughput`.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Avx512) => x86::clock_zmm(iters),
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Avx2Fma) => x86::clock_ymm(iters),
            #[cfg(target_arch = "x86_64")]
            Isa(Unit::Sse128Fma) => x86::clock_xmm(iters),
            #[cfg(target_arch = "aarch64")]
            Isa(Unit::Neon) => arm::clock_v(iters),
            #[allow(unreachable_patterns)]
            _ => unreachable!("ISA {isa:?} not detected on this architecture"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;

    // Accumulator i += src1 * src2, with registers 12 and 13 as the (zeroed) sources: zeros
    // keep every value exact and away from denormals.
    macro_rules! zmm_fma {
        ($i:literal) => {
            concat!("vfmadd231ps zmm", $i, ", zmm12, zmm13\n")
        };
    }
    macro_rules! ymm_fma {
        ($i:literal) => {
            concat!("vfmadd231ps ymm", $i, ", ymm12, ymm13\n")
        };
    }
    macro_rules! xmm_fma {
        ($i:literal) => {
            concat!("vfmadd231ps xmm", $i, ", xmm12, xmm13\n")
        };
    }
    macro_rules! zmm_dep {
        ($i:literal) => {
            "vfmadd231ps zmm0, zmm12, zmm13\n"
        };
    }
    macro_rules! ymm_dep {
        ($i:literal) => {
            "vfmadd231ps ymm0, ymm12, ymm13\n"
        };
    }
    macro_rules! xmm_dep {
        ($i:literal) => {
            "vfmadd231ps xmm0, xmm12, xmm13\n"
        };
    }
    macro_rules! add4 {
        ($i:literal) => {
            "add rax, rdx\nadd rax, rdx\nadd rax, rdx\nadd rax, rdx\n"
        };
    }
    // Zeroing the xmm form zeroes the whole ymm/zmm register.
    macro_rules! zero {
        ($i:literal) => {
            concat!("vxorps xmm", $i, ", xmm", $i, ", xmm", $i, "\n")
        };
    }
    const _: () = assert!(super::ADDS == 48 && super::LATENCY_CHAIN == 12);

    // `clobber_abi("C")`: the System V ABI makes every vector register caller-saved, which
    // covers registers 0-13 of each width used here. With it, operands need fixed registers:
    // rcx counts iterations, rax is the add chain, rdx holds its increment.
    macro_rules! kernel {
        ($name:ident, $feat:literal, $op:ident) => {
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(iters: u64) {
                if iters == 0 {
                    return;
                }
                asm!(
                    super::twelve!(zero),
                    "vxorps xmm12, xmm12, xmm12",
                    "vxorps xmm13, xmm13, xmm13",
                    "2:",
                    super::twelve!($op),
                    "dec rcx",
                    "jnz 2b",
                    inout("rcx") iters => _,
                    clobber_abi("C"),
                    options(nostack, nomem),
                );
            }
        };
    }
    macro_rules! clock_kernel {
        ($name:ident, $feat:literal, $fma:ident) => {
            #[target_feature(enable = $feat)]
            pub unsafe fn $name(iters: u64) {
                if iters == 0 {
                    return;
                }
                asm!(
                    super::twelve!(zero),
                    "vxorps xmm12, xmm12, xmm12",
                    "vxorps xmm13, xmm13, xmm13",
                    "2:",
                    super::twelve!($fma),
                    super::twelve!($fma),
                    super::twelve!($fma),
                    super::twelve!(add4),
                    "dec rcx",
                    "jnz 2b",
                    inout("rcx") iters => _,
                    inout("rax") 0u64 => _,
                    in("rdx") 1u64,
                    clobber_abi("C"),
                    options(nostack, nomem),
                );
            }
        };
    }

    kernel!(fma_zmm, "avx512f", zmm_fma);
    kernel!(lat_zmm, "avx512f", zmm_dep);
    clock_kernel!(clock_zmm, "avx512f", zmm_fma);
    kernel!(fma_ymm, "avx2,fma", ymm_fma);
    kernel!(lat_ymm, "avx2,fma", ymm_dep);
    clock_kernel!(clock_ymm, "avx2,fma", ymm_fma);
    kernel!(fma_xmm, "fma", xmm_fma);
    kernel!(lat_xmm, "fma", xmm_dep);
    clock_kernel!(clock_xmm, "fma", xmm_fma);
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::asm;

    // Accumulators v0-v23; v30 and v31 are the (zeroed) sources.
    macro_rules! v_fma {
        ($i:literal) => {
            concat!("fmla v", $i, ".4s, v30.4s, v31.4s\n")
        };
    }
    macro_rules! v_dep {
        ($i:literal) => {
            "fmla v0.4s, v30.4s, v31.4s\n"
        };
    }
    macro_rules! add4 {
        ($i:literal) => {
            "add {a}, {a}, {one}\nadd {a}, {a}, {one}\nadd {a}, {a}, {one}\nadd {a}, {a}, {one}\n"
        };
    }
    macro_rules! zero {
        ($i:literal) => {
            concat!("movi v", $i, ".16b, #0\n")
        };
    }

    // One asm block per kernel: the loop body, then the counted-down loop; every vector
    // register written is declared clobbered. `$($extra)*` adds the add chain's operands.
    macro_rules! kernel {
        ($name:ident, [$($body:expr),+], $($extra:tt)*) => {
            pub unsafe fn $name(iters: u64) {
                if iters == 0 {
                    return;
                }
                asm!(
                    super::twenty_four!(zero),
                    "movi v30.16b, #0",
                    "movi v31.16b, #0",
                    "2:",
                    $($body,)+
                    "subs {n}, {n}, #1",
                    "b.ne 2b",
                    n = inout(reg) iters => _,
                    $($extra)*
                    out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _,
                    out("v5") _, out("v6") _, out("v7") _, out("v8") _, out("v9") _,
                    out("v10") _, out("v11") _, out("v12") _, out("v13") _, out("v14") _,
                    out("v15") _, out("v16") _, out("v17") _, out("v18") _, out("v19") _,
                    out("v20") _, out("v21") _, out("v22") _, out("v23") _, out("v30") _,
                    out("v31") _,
                    options(nostack, nomem),
                );
            }
        };
    }
    kernel!(fma_v, [super::twenty_four!(v_fma)],);
    kernel!(lat_v, [super::twelve!(v_dep)],);
    kernel!(
        clock_v,
        [super::twenty_four!(v_fma), super::twelve!(add4)],
        a = inout(reg) 0u64 => _,
        one = in(reg) 1u64,
    );
}
