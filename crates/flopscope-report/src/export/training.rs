//! The "Training step" section of the table and Markdown reports (`--training`): compute of
//! forward, backward and optimizer, the memory of the step on one GPU, and for language models
//! tokens, FLOPs per token and the time of a training run. See `docs/training.md`.

use std::fmt::Write;

use flopscope_core::format::{grouped, human, human_bytes};
use flopscope_core::schema::{Profile, Training};

use crate::render::Format;

/// A duration in the largest unit that keeps it readable.
fn duration(s: f64) -> String {
    if !s.is_finite() {
        return "—".into();
    }
    let (v, unit) = if s < 120.0 {
        (s, "s")
    } else if s < 7_200.0 {
        (s / 60.0, "min")
    } else if s < 172_800.0 {
        (s / 3_600.0, "h")
    } else {
        (s / 86_400.0, "days")
    };
    format!("{v:.1} {unit}")
}

/// The heading's options: optimizer, precision, recomputation, GPUs and ZeRO stage.
fn setup(t: &Training) -> String {
    let gpus = if t.gpus == 1 {
        "1 GPU".to_string()
    } else {
        format!("{} GPUs, ZeRO stage {}", t.gpus, t.zero_stage)
    };
    format!(
        "{}, {}, recompute {}, {gpus}",
        t.optimizer, t.precision, t.recompute
    )
}

/// The section, or nothing when the profile has no training step.
pub fn section(p: &Profile, f: Format) -> String {
    let Some(t) = &p.training else {
        return String::new();
    };
    let md = f == Format::Markdown;
    let mut o = String::new();
    let (h, li) = if md { ("### ", "- ") } else { ("", "  ") };
    let _ = writeln!(o, "\n{h}Training step ({})", setup(t));
    if md {
        o.push('\n');
    }
    let lb = if t.backward_unknown.is_empty() {
        ""
    } else {
        " (at least)"
    };
    let _ = writeln!(
        o,
        "{li}parameters       {} trainable, {} frozen",
        grouped(t.trainable_params),
        grouped(t.frozen_params)
    );
    let compute = |o: &mut String, what: &str, macs: Option<u64>, flops: u64, note: &str| {
        let macs = macs.map_or(String::new(), |m| format!("{} MACs", human(m)));
        let _ = writeln!(
            o,
            "{li}{what:<16} {macs:<14} {:<9} FLOPs ({}){note}",
            human(flops),
            grouped(flops)
        );
    };
    compute(&mut o, "forward", Some(t.forward_macs), t.forward_flops, "");
    compute(
        &mut o,
        "backward",
        Some(t.backward_macs),
        t.backward_flops,
        lb,
    );
    compute(&mut o, "optimizer", None, t.optimizer_flops, "");
    compute(&mut o, "step", Some(t.macs), t.flops, lb);
    let m = &t.memory;
    let per = if t.gpus > 1 { " per GPU" } else { "" };
    let _ = writeln!(o, "{li}memory{per}:");
    let sub = if md { "  - " } else { "    " };
    let state = if t.precision == "fp32" {
        " (moments)"
    } else {
        " (moments, fp32 master weights)"
    };
    for (what, b, note) in [
        ("weights", m.weights_bytes, ""),
        ("gradients", m.gradients_bytes, ""),
        ("optimizer", m.optimizer_bytes, state),
        ("activations", m.activations_bytes, " saved for backward"),
        ("peak", m.peak_bytes, ""),
    ] {
        let _ = writeln!(o, "{sub}{what:<14} {}{note}", human_bytes(b));
    }
    if let (Some(n), Some(fpt)) = (t.tokens_per_step, t.flops_per_token) {
        let _ = writeln!(
            o,
            "{li}tokens per step  {}, {:.4e} FLOPs per token",
            grouped(n),
            fpt
        );
    }
    if let Some(tt) = &t.time {
        let _ = writeln!(
            o,
            "{li}time             {} for {} tokens on {} GPU(s) of {} GFLOP/s at {:.0}% MFU",
            duration(tt.seconds),
            human(tt.tokens),
            tt.gpus,
            tt.peak_gflops,
            tt.mfu * 100.0
        );
    }
    for u in &t.backward_unknown {
        let _ = writeln!(
            o,
            "{li}backward unknown: {}: totals are lower bounds",
            super::table::unknown_nodes(u)
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_readable_units() {
        assert_eq!(duration(90.0), "90.0 s");
        assert_eq!(duration(600.0), "10.0 min");
        assert_eq!(duration(36_000.0), "10.0 h");
        assert_eq!(duration(864_000.0), "10.0 days");
    }
}
