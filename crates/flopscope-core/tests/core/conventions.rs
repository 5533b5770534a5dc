//! Conventions on hand-written traces: each tool's rule worked out by hand from its source
//! (docs/conventions.md), on one `nn.Linear(4, 3)` applied to x[2, 5, 4] (so batch 2 and 10
//! rows), then a GELU kept as a reference (`self.act = F.gelu`) and one called by name.

use flopscope_core::convention::{count, explain, Convention, Observation};
use flopscope_core::profile_bytes;
use flopscope_core::Options;

// Hand-written (tests/data/traces/conventions_linear.json): what the recorder writes for
// `Net` with `self.lin = nn.Linear(4, 3)`, `self.act = F.gelu`, forward `F.gelu(self.act(self.lin(x)))`.
const TRACE: &str = include_str!("../../../../tests/data/traces/conventions_linear.json");

fn counted(c: Convention) -> (Option<u64>, Option<u64>, Option<u64>) {
    let exact = profile_bytes(TRACE.as_bytes(), &Options::default()).unwrap();
    let obs = Observation::parse(TRACE.as_bytes(), "lin.json").unwrap();
    let r = count(&obs, c, &exact).unwrap();
    (r.macs, r.flops, r.params)
}

// 10 rows × 4 inputs × 3 outputs = 120 multiply-accumulates; 15 parameters.
#[test]
fn thop_counts_in_features_times_output_elements() {
    // count_linear: in_features × y.numel() = 4 × 30; the root's own parameters are never
    // summed but the Linear's (a module with a rule) are.
    assert_eq!(counted(Convention::Thop), (Some(120), None, Some(15)));
}

#[test]
fn fvcore_counts_linear_without_bias() {
    // linear_flop_jit: numel(x) × out_features = 40 × 3; the GELUs are unsupported (0).
    assert_eq!(counted(Convention::Fvcore), (Some(120), None, Some(15)));
}

#[test]
fn ptflops_divides_module_costs_by_the_batch_and_adds_functions_whole() {
    // Linear hook: (4·3 + 3) × prod(x[:-1]) = 15 × 10 = 150, ÷ batch 2 = 75; F.gelu patched:
    // numel 30, once (the kept reference is not patched).
    assert_eq!(
        counted(Convention::Ptflops),
        (Some(75 + 30), None, Some(15))
    );
}

#[test]
fn torchinfo_multiplies_parameters_by_the_batch_only() {
    // out[0] × (12 + 3) = 2 × 15: the 5 tokens are ignored.
    assert_eq!(counted(Convention::Torchinfo), (Some(30), None, Some(15)));
}

#[test]
fn calflops_and_deepspeed_count_patched_functions() {
    // F.linear: macs numel(x)·O = 120, flops 240 (bias ignored); F.gelu by name: 30 FLOPs;
    // the GELU called through a kept reference is invisible to a monkey patch.
    assert_eq!(
        counted(Convention::Calflops),
        (Some(120), Some(270), Some(15))
    );
    assert_eq!(
        counted(Convention::Deepspeed),
        (Some(120), Some(270), Some(15))
    );
}

#[test]
fn flopcountermode_counts_two_flops_per_product() {
    // addmm [10, 4] @ [4, 3]: 2 × 10 × 4 × 3; no parameter figure.
    assert_eq!(
        counted(Convention::Flopcountermode),
        (None, Some(240), None)
    );
}

#[test]
fn explain_names_what_each_convention_misses() {
    let exact = profile_bytes(TRACE.as_bytes(), &Options::default()).unwrap();
    let e = explain(
        Some(TRACE.as_bytes()),
        "lin.json",
        &[Convention::Torchinfo, Convention::Exact],
        &exact,
    )
    .unwrap();
    // torchinfo's 30 against the exact 120 in the matmul family: it misses 90.
    assert!(
        e.differences
            .iter()
            .any(|d| d.starts_with("torchinfo misses 90 MACs of matmul")),
        "{:?}",
        e.differences
    );
    assert_eq!(e.conventions[1].macs, Some(exact.totals.macs));
}

#[test]
fn a_trace_without_module_calls_is_refused_by_module_conventions() {
    let bare = r#"{"schema": "flopscope.trace/1", "values": [], "calls": []}"#;
    let exact = profile_bytes(bare.as_bytes(), &Options::default()).unwrap();
    let obs = Observation::parse(bare.as_bytes(), "bare.json").unwrap();
    let err = count(&obs, Convention::Thop, &exact)
        .unwrap_err()
        .to_string();
    assert!(err.contains("convention 'thop' needs the modules"), "{err}");
}

#[test]
fn unknown_convention_names_the_choices() {
    let err = "thopp".parse::<Convention>().unwrap_err().to_string();
    assert!(err.contains("unknown convention 'thopp'") && err.contains("flopcountermode"));
    assert_eq!(
        "FlopCounter".parse::<Convention>().unwrap(),
        Convention::Flopcountermode
    );
}

#[test]
fn operator_families_line_up_across_levels() {
    use flopscope_core::convention::category;
    // One family whatever level a tool observes: ATen call, torch function, module class,
    // ONNX node.
    for op in [
        "aten.addmm.default",
        "torch.nn.functional.linear",
        "torch.Tensor.__matmul__",
        "torch.nn.modules.linear.Linear",
        "transformers.pytorch_utils.Conv1D",
        "Gemm",
    ] {
        assert_eq!(category(op), "matmul", "{op}");
    }
    for op in [
        "aten._native_multi_head_attention.default",
        "torch.nn.functional.scaled_dot_product_attention",
        "torch.nn.modules.activation.MultiheadAttention",
        "Attention",
    ] {
        assert_eq!(category(op), "attention", "{op}");
    }
    assert_eq!(category("torch.nn.modules.conv.Conv2d"), "convolution");
    assert_eq!(category("torch.nn.functional.layer_norm"), "normalization");
}
