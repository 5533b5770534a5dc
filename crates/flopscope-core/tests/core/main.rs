//! Library tests of the analysis, one binary.

mod common;

mod causal;
mod conventions;
mod data_dependent;
mod llm_training;
mod loader;
mod maps;
mod modules;
mod moe;
mod operators;
mod quantized;
mod reference_models;
mod runtime_shapes;
mod sources;
mod sums;
mod trace;
mod trace_kernels;
mod trace_names;
mod trace_ops;
mod training;
mod zoo;
