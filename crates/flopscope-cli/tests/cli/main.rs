//! The command-line tests, one binary: each module runs `flopscope` as a user would.

mod common;

mod attention;
mod bad_corpus;
mod bad_input;
mod bench_cli;
mod calibrate;
mod check_cli;
mod compare_charts;
mod control_flow;
mod conventions;
mod devices;
mod functions;
mod llm;
mod output;
mod papercuts;
mod predict;
mod remote;
mod remote_onnx;
mod report_browser;
mod tract_run;
mod training;
mod windows;
mod zoo_export;
