//! `flopscope machine`'s text output.

use super::Machine;

impl Machine {
    /// The machine as a person reads it: what was found, what was measured, and the check
    /// that the peak equals vector width × FMA units × clock.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: String| out.push_str(&format!("{k:<13} {v}\n"));
        if self.source == "spec" {
            line("Device", "spec given on the command line".into());
            line("Peak f32", format!("{:.1} GFLOP/s", self.peak_gflops));
            line("Bandwidth", format!("{:.1} GB/s", self.bandwidth_gbs));
            line(
                "Ridge point",
                format!("{:.2} FLOP/byte", self.peak_gflops / self.bandwidth_gbs),
            );
            return out;
        }
        line("CPU", format!("{} ({})", self.cpu_model, self.arch));
        line(
            "Cores",
            match self.physical_cores {
                Some(p) => format!(
                    "{} logical CPUs used, {p} physical cores",
                    self.logical_cpus
                ),
                None => format!("{} logical CPUs used", self.logical_cpus),
            },
        );
        line("Extensions", self.vector_extensions.join(" "));
        if let (Some(isa), Some(bits), Some(lanes)) = (&self.isa, self.vector_bits, self.f32_lanes)
        {
            line(
                "Widest unit",
                format!("{isa}: {bits}-bit registers, {lanes} f32 lanes"),
            );
        }
        if let Some(c) = self.clock_ghz {
            let all = self
                .clock_ghz_all_cores
                .map(|a| format!(", {a:.2} GHz with every CPU busy"))
                .unwrap_or_default();
            line(
                "Clock",
                format!("{c:.2} GHz measured during the FMA test (dependent adds){all}"),
            );
        }
        if let (Some(fpc), Some(units)) = (self.fma_per_cycle, self.fma_units) {
            let lat = self
                .fma_latency_cycles
                .map(|l| format!(", latency {l:.2} cycles"))
                .unwrap_or_default();
            line(
                "FMA",
                format!("{fpc:.2} per cycle measured → {units} unit(s) at this width{lat}"),
            );
        }
        if let (Some(lanes), Some(units), Some(c), Some(th)) = (
            self.f32_lanes,
            self.fma_units,
            self.clock_ghz,
            self.theoretical_gflops_per_core,
        ) {
            line(
                "Peak f32",
                format!(
                    "one core {:.1} GFLOP/s measured = {:.1}% of {lanes} lanes × 2 FLOPs × \
                     {units} FMA/cycle × {c:.2} GHz = {th:.1}",
                    self.peak_gflops_per_core,
                    100.0 * self.peak_gflops_per_core / th
                ),
            );
        }
        line(
            "",
            format!(
                "all {} CPUs {:.1} GFLOP/s measured",
                self.logical_cpus, self.peak_gflops
            ),
        );
        for w in self.widths.iter().skip(1) {
            line(
                "",
                format!(
                    "{} ({} bits): {:.1} GFLOP/s per core, {:.2} FMA/cycle",
                    w.isa, w.bits, w.gflops_per_core, w.fma_per_cycle
                ),
            );
        }
        line(
            "Bandwidth",
            format!(
                "copy {:.1} GB/s one thread, {:.1} GB/s all CPUs (2 × {} MiB buffers; bytes \
                 read + written)",
                self.bandwidth_gbs_per_core,
                self.bandwidth_gbs,
                self.copy_bytes >> 20
            ),
        );
        line(
            "Ridge point",
            format!(
                "{:.2} FLOP/byte (all CPUs), {:.2} (one core)",
                self.peak_gflops / self.bandwidth_gbs,
                self.peak_gflops_per_core / self.bandwidth_gbs_per_core
            ),
        );
        line(
            "Measured",
            format!(
                "{} in {:.1} s ({})",
                super::utc(self.measured_unix),
                self.seconds,
                if self.source == "cache" {
                    "cached; --refresh measures again"
                } else {
                    "just now"
                }
            ),
        );
        out
    }
}
