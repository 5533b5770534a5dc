//! flopscope's renderers: every report (profile, bench, comparison, diff, budget verdict) as
//! text, Markdown, CSV, LaTeX or JSON; static charts; the self-contained HTML page.
//!
//! It reads what `flopscope-core` (profiles) and `flopscope-bench` (timings) produce and
//! computes no counts of its own.

pub mod bench;
pub mod budget;
pub mod chart;
pub mod compare;
pub mod conventions;
pub mod devices;
pub mod export;
pub mod notebook;
pub mod page;
pub mod predict;
pub mod render;
pub mod zoo;
