//! Every report in every format on the fixed inputs of `fixtures.rs`.
//!
//! The numbers come from the hand derivation in `fixtures::profile` and `fixtures::report`:
//! - tiny.onnx: layers 36/0/10 params, 32/0/8 MACs, 68/4/18 FLOPs; totals 46 params,
//!   40 MACs, 90 FLOPs. %FLOP: 68/90 = 75.6, 4/90 = 4.4, 18/90 = 20.0. Bars (10 cells of
//!   eighths, rounded up): 68/68 = 10 cells; 4/68·80 = 4.7 → 5 eighths `▋`;
//!   18/68·80 = 21.2 → 22 eighths = `██▊`. Bytes (f32 = 4 B): weights 46·4 = 184;
//!   Gemm 8→4 reads x (32) + W (128) + b (16) = 176, writes 16; peak live 32 + 16 = 48.
//! - wide.onnx (last Gemm 4→16): 36 + 4·16 + 16 = 116 params, 32 + 64 = 96 MACs,
//!   68 + 4 + 2·64 + 16 = 216 FLOPs, 464 weight bytes, peak 16 + 64 = 80 B.
//! - bench runs: medians 4 ms and 2 ms, FPS = 1000 / median = 250 and 500; min, mean, p90,
//!   p99, max = median −0.25, +0.125, +0.5, +1, +2; stddev 0.0625 (`0.06` at 2 decimals).
//! - budget: 46 params ≤ 46 passes with 0% headroom; 40 MACs > 30 fails, 10 above the
//!   limit, headroom (30 − 40) / 30 = −33.3%.

use flopscope_report::export::{csv::Csv, markdown::Markdown, table::Table, Exporter, RowOptions};
use flopscope_report::render::Format;
use flopscope_report::{bench, budget, compare};

use super::fixtures::{profile, report};

/// Compares line by line, so a failure shows the first line that differs.
fn check(got: String, want: &str) {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs; whole output:\n{got}", i + 1);
    }
    assert_eq!(got, want, "whole output differs");
}

fn tiny() -> flopscope_core::Profile {
    profile("tiny.onnx", 2)
}

fn comparison() -> compare::Comparison {
    let r = report();
    compare::Comparison::new(
        &["a|b.onnx".into(), "x_&y.onnx".into()],
        &[tiny(), profile("wide.onnx", 16)],
        &[Some(r.runs[0].clone()), Some(r.runs[1].clone())],
    )
}

fn diff() -> compare::Diff {
    compare::Diff::new(&tiny(), &profile("wide.onnx", 16))
}

fn verdict() -> Vec<budget::Outcome> {
    let limits = [
        budget::parse_limit(budget::Metric::Params, "46").unwrap(),
        budget::parse_limit(budget::Metric::Macs, "30").unwrap(),
    ];
    vec![budget::evaluate("a|b.onnx", &limits, &tiny(), &[])]
}

#[test]
fn profile_text() {
    let t = Table {
        rows: RowOptions::default(),
    };
    check(t.render(&tiny()), PROFILE_TEXT);
}

#[test]
fn profile_markdown() {
    let t = Markdown {
        rows: RowOptions::default(),
    };
    check(t.render(&tiny()), PROFILE_MARKDOWN);
}

#[test]
fn profile_csv() {
    check(Csv.render(&tiny()), PROFILE_CSV);
}

#[test]
fn profile_layers_latex_and_json() {
    let (t, _) = flopscope_report::export::layer_table(&tiny(), &RowOptions::default());
    check(t.render(Format::Latex), PROFILE_LAYERS_LATEX);
    check(t.render(Format::Json), PROFILE_LAYERS_JSON);
}

#[test]
fn bench_text() {
    check(bench::render(&report(), Format::Text), BENCH_TEXT);
}

#[test]
fn bench_markdown() {
    check(bench::render(&report(), Format::Markdown), BENCH_MARKDOWN);
}

#[test]
fn bench_csv() {
    check(bench::render(&report(), Format::Csv), BENCH_CSV);
}

#[test]
fn bench_latex() {
    check(bench::render(&report(), Format::Latex), BENCH_LATEX);
}

#[test]
fn bench_json() {
    check(bench::render(&report(), Format::Json), BENCH_JSON);
}

#[test]
fn comparison_text() {
    check(comparison().render(Format::Text), COMPARISON_TEXT);
}

#[test]
fn comparison_markdown() {
    check(comparison().render(Format::Markdown), COMPARISON_MARKDOWN);
}

#[test]
fn comparison_csv() {
    check(comparison().render(Format::Csv), COMPARISON_CSV);
}

#[test]
fn comparison_latex() {
    check(comparison().render(Format::Latex), COMPARISON_LATEX);
}

#[test]
fn comparison_json() {
    check(comparison().render(Format::Json), COMPARISON_JSON);
}

#[test]
fn diff_text() {
    check(diff().render(Format::Text, 10), DIFF_TEXT);
}

#[test]
fn diff_markdown() {
    check(diff().render(Format::Markdown, 10), DIFF_MARKDOWN);
}

#[test]
fn diff_csv() {
    check(diff().render(Format::Csv, 10), DIFF_CSV);
}

#[test]
fn diff_latex() {
    check(diff().render(Format::Latex, 10), DIFF_LATEX);
}

#[test]
fn diff_json() {
    check(diff().render(Format::Json, 10), DIFF_JSON);
}

#[test]
fn budget_text() {
    check(budget::render(&verdict(), Format::Text), BUDGET_TEXT);
}

#[test]
fn budget_markdown() {
    check(
        budget::render(&verdict(), Format::Markdown),
        BUDGET_MARKDOWN,
    );
}

#[test]
fn budget_csv() {
    check(budget::render(&verdict(), Format::Csv), BUDGET_CSV);
}

#[test]
fn budget_latex() {
    check(budget::render(&verdict(), Format::Latex), BUDGET_LATEX);
}

#[test]
fn budget_json() {
    check(budget::render(&verdict(), Format::Json), BUDGET_JSON);
}

const PROFILE_TEXT: &str = r###"Layer                         Op            Output           Params    MACs   FLOPs %FLOP vs top
────────────────────────────────────────────────────────────────────────────────────────────────────
/a|b/Gemm_1                   Gemm          1x4                  36      32      68  75.6 ██████████
/Relu_2                       Relu          1x4                   -       0       4   4.4 ▋
/x_&y/Gemm_3                  Gemm          1x2                  10       8      18  20.0 ██▊

By op type                         Nodes     Params       MACs      FLOPs   %FLOP
────────────────────────────────────────────────────────────────────────────────
Gemm                                   2         46         40         86    95.6
Relu                                   1          -          0          4     4.4

Totals for tiny.onnx
  inputs           x float32 1x8
  parameters       46        46 (184 B float32)
  MACs             40        40  multiply-accumulates: the "FLOPs" of most CNN papers
  FLOPs            90        90  = 2 × MACs + 10 other operations
  weights          184 B
  activations      40 B written, peak 48 B live
  memory traffic   248 B read, 40 B written
"###;

const PROFILE_MARKDOWN: &str = r###"# tiny.onnx

Inputs: `x` float32 1x8

| Total | Value | |
|---|---:|---|
| Parameters | 46 | 46 |
| MACs | 40 | 40 (multiply-accumulates; the "FLOPs" of most CNN papers) |
| FLOPs | 90 | 90 (2 × MACs + other arithmetic) |
| Activation bytes | 40 | peak live 48 |
| Weight bytes | 184 | |

| Layer | Op | Output | Params | MACs | FLOPs | %FLOP |
|---|---|---|---:|---:|---:|---:|
| /a\|b/Gemm_1 | Gemm | 1x4 | 36 | 32 | 68 | 75.6 |
| /Relu_2 | Relu | 1x4 | 0 | 0 | 4 | 4.4 |
| /x_&y/Gemm_3 | Gemm | 1x2 | 10 | 8 | 18 | 20.0 |

| By op type | Nodes | Params | MACs | FLOPs | %FLOP |
|---|---:|---:|---:|---:|---:|
| Gemm | 2 | 46 | 40 | 86 | 95.6 |
| Relu | 1 | 0 | 0 | 4 | 4.4 |
"###;

const PROFILE_CSV: &str = r###"name,op,scope,inputs,outputs,params,macs,flops,bytes_read,bytes_written,activation_bytes
/a|b/Gemm_1,Gemm,a|b,1x8;4x8;4,1x4,36,32,68,176,16,16
/Relu_2,Relu,,1x4,1x4,0,0,4,16,16,16
/x_&y/Gemm_3,Gemm,x_&y,1x4;2x4;2,1x2,10,8,18,56,8,8
"###;

const PROFILE_LAYERS_LATEX: &str = r###"\begin{tabular}{lllrrrr}
\toprule
Layer & Op & Output & Params & MACs & FLOPs & \%FLOP \\
\midrule
/a|b/Gemm\_1 & Gemm & 1x4 & 36 & 32 & 68 & 75.6 \\
/Relu\_2 & Relu & 1x4 & 0 & 0 & 4 & 4.4 \\
/x\_\&y/Gemm\_3 & Gemm & 1x2 & 10 & 8 & 18 & 20.0 \\
\bottomrule
\end{tabular}
"###;

const PROFILE_LAYERS_JSON: &str = r###"[
  {
    "name": "/a|b/Gemm_1",
    "op": "Gemm",
    "output": "1x4",
    "params": 36,
    "macs": 32,
    "flops": 68,
    "flops_pct": 75.55555555555556
  },
  {
    "name": "/Relu_2",
    "op": "Relu",
    "output": "1x4",
    "params": 0,
    "macs": 0,
    "flops": 4,
    "flops_pct": 4.444444444444445
  },
  {
    "name": "/x_&y/Gemm_3",
    "op": "Gemm",
    "output": "1x2",
    "params": 10,
    "macs": 8,
    "flops": 18,
    "flops_pct": 20.0
  }
]
"###;

const BENCH_TEXT: &str = r###"two.onnx  (x f32 1x8)
Backend             Thr Batch  Runs    Median       p90       p99       Min   Stddev       FPS    Load     Cold
onnxruntime 1.0       1     1   100    4.00ms    4.50ms    5.00ms    3.75ms   0.06ms     250.0    12ms    4.2ms
tract 1.0             4     1   100    2.00ms    2.50ms    3.00ms    1.75ms   0.06ms     500.0    12ms    4.2ms

Roofline of device spec (spec): predicted lower bound vs measured median
Backend             Thr Batch Peak GFLOP/s GB/s Predicted ms Floor ms Measured ms % roof GFLOP/s
tract 1.0             4     1        100.0 10.0        0.500    0.250       2.000   25.0     0.5

Predicted: each layer at its roof, one after another; floor: all FLOPs at peak; % roof: predicted ÷ measured, the % of the roofline reached; GFLOP/s: achieved.

Per layer: tract 1.0, 4 threads, batch 1 (mean of 10 profiled runs, slowest first)
Layer                                    Op                       ms      %      MACs  GFLOP/s    Bound   Min ms  %roof
a|b                                      Gemm                  1.500   75.0        32      0.0   memory   0.3750   25.0
x_&y                                     Relu                  0.500   25.0         -        -        -        -      -

Weights: seeded random (absent from the source).
"###;

const BENCH_MARKDOWN: &str = r###"two.onnx  (x f32 1x8)

| Backend | Thr | Batch | Runs | Median | p90 | p99 | Min | Stddev | FPS | Load | Cold |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| onnxruntime 1.0 | 1 | 1 | 100 | 4.00ms | 4.50ms | 5.00ms | 3.75ms | 0.06ms | 250.0 | 12ms | 4.2ms |
| tract 1.0 | 4 | 1 | 100 | 2.00ms | 2.50ms | 3.00ms | 1.75ms | 0.06ms | 500.0 | 12ms | 4.2ms |

### Roofline of device spec (spec): predicted lower bound vs measured median

| Backend | Thr | Batch | Peak GFLOP/s | GB/s | Predicted ms | Floor ms | Measured ms | % roof | GFLOP/s |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| tract 1.0 | 4 | 1 | 100.0 | 10.0 | 0.500 | 0.250 | 2.000 | 25.0 | 0.5 |

Predicted: each layer at its roof, one after another; floor: all FLOPs at peak; % roof: predicted ÷ measured, the % of the roofline reached; GFLOP/s: achieved.

Per layer: tract 1.0, 4 threads, batch 1 (mean of 10 profiled runs, slowest first)

| Layer | Op | ms | % | MACs | GFLOP/s | Bound | Min ms | %roof |
|---|---|---:|---:|---:|---:|---:|---:|---:|
| a\|b | Gemm | 1.500 | 75.0 | 32 | 0.0 | memory | 0.3750 | 25.0 |
| x_&y | Relu | 0.500 | 25.0 | - | - | - | - | - |

Weights: seeded random (absent from the source).
"###;

const BENCH_CSV: &str = r###"backend,backend_version,batch,threads,runs,min_ms,mean_ms,median_ms,p90_ms,p99_ms,max_ms,stddev_ms,outliers,fps,load_ms,cold_ms
onnxruntime,1.0,1,1,100,3.7500,4.1250,4.0000,4.5000,5.0000,6.0000,0.0625,3,250.000,12.500,4.250
tract,1.0,1,4,100,1.7500,2.1250,2.0000,2.5000,3.0000,4.0000,0.0625,3,500.000,12.500,4.250
"###;

const BENCH_LATEX: &str = r###"% two.onnx  (x f32 1x8)
\begin{tabular}{lrrrrrrrrrrr}
\toprule
Backend & Thr & Batch & Runs & Median & p90 & p99 & Min & Stddev & FPS & Load & Cold \\
\midrule
onnxruntime 1.0 & 1 & 1 & 100 & 4.00ms & 4.50ms & 5.00ms & 3.75ms & 0.06ms & 250.0 & 12ms & 4.2ms \\
tract 1.0 & 4 & 1 & 100 & 2.00ms & 2.50ms & 3.00ms & 1.75ms & 0.06ms & 500.0 & 12ms & 4.2ms \\
\bottomrule
\end{tabular}

% Roofline of device spec (spec): predicted lower bound vs measured median
% Predicted: each layer at its roof, one after another; floor: all FLOPs at peak; % roof: predicted ÷ measured, the % of the roofline reached; GFLOP/s: achieved.
\begin{tabular}{lrrrrrrrrr}
\toprule
Backend & Thr & Batch & Peak GFLOP/s & GB/s & Predicted ms & Floor ms & Measured ms & \% roof & GFLOP/s \\
\midrule
tract 1.0 & 4 & 1 & 100.0 & 10.0 & 0.500 & 0.250 & 2.000 & 25.0 & 0.5 \\
\bottomrule
\end{tabular}

% Per layer: tract 1.0, 4 threads, batch 1 (mean of 10 profiled runs, slowest first)
\begin{tabular}{llrrrrrrr}
\toprule
Layer & Op & ms & \% & MACs & GFLOP/s & Bound & Min ms & \%roof \\
\midrule
a|b & Gemm & 1.500 & 75.0 & 32 & 0.0 & memory & 0.3750 & 25.0 \\
x\_\&y & Relu & 0.500 & 25.0 & - & - & - & - & - \\
\bottomrule
\end{tabular}
% Weights: seeded random (absent from the source).
"###;

const BENCH_JSON: &str = r###"{
  "schema": "flopscope.bench/1",
  "model": "two.onnx",
  "inputs": [
    "x f32 1x8"
  ],
  "synthesized_weights": true,
  "runs": [
    {
      "backend": "onnxruntime",
      "backend_version": "1.0",
      "batch": 1,
      "threads": 1,
      "latency_ms": {
        "min": 3.75,
        "mean": 4.125,
        "median": 4.0,
        "p90": 4.5,
        "p99": 5.0,
        "max": 6.0,
        "stddev": 0.0625
      },
      "runs": 100,
      "outliers": 3,
      "fps": 250.0,
      "load_ms": 12.5,
      "cold_ms": 4.25,
      "samples_ms": [
        4.0
      ]
    },
    {
      "backend": "tract",
      "backend_version": "1.0",
      "batch": 1,
      "threads": 4,
      "latency_ms": {
        "min": 1.75,
        "mean": 2.125,
        "median": 2.0,
        "p90": 2.5,
        "p99": 3.0,
        "max": 4.0,
        "stddev": 0.0625
      },
      "runs": 100,
      "outliers": 3,
      "fps": 500.0,
      "load_ms": 12.5,
      "cold_ms": 4.25,
      "samples_ms": [
        2.0
      ],
      "layers": [
        {
          "name": "a|b",
          "op": "Gemm",
          "time_ms": 1.5,
          "percent": 75.0,
          "macs": 32,
          "flops": 68,
          "gflops_per_s": 0.0453,
          "roofline": {
            "intensity": 0.5,
            "bound": "memory",
            "min_ms": 0.375
          },
          "efficiency_pct": 25.0
        },
        {
          "name": "x_&y",
          "op": "Relu",
          "time_ms": 0.5,
          "percent": 25.0,
          "macs": null,
          "flops": 4,
          "gflops_per_s": null
        }
      ],
      "roofline": {
        "source": "spec",
        "device": "device spec",
        "threads": 4,
        "peak_gflops": 100.0,
        "bandwidth_gbs": 10.0,
        "ridge": 10.0,
        "predicted_ms": 0.5,
        "compute_floor_ms": 0.25,
        "memory_floor_ms": 0.5,
        "compute_bound_layers": 1,
        "memory_bound_layers": 1,
        "layers_cost_unknown": 0,
        "measured_ms": 2.0,
        "efficiency_pct": 25.0,
        "achieved_gflops": 0.5
      }
    }
  ]
}
"###;

const COMPARISON_TEXT: &str = r###"  Model      Params (M)  MACs (G)  FLOPs (G)  Memory (MiB)  Latency (ms)    FPS
* a|b.onnx         0.00     0.000      0.000           0.0          4.00  250.0
* x_&y.onnx        0.00     0.000      0.000           0.0          2.00  500.0

* Pareto front (parameters vs latency). MACs: multiply-accumulates; FLOPs = 2 × MACs + other operations; memory: weights + peak activations. Latency: median, a|b.onnx: onnxruntime 1.0, 1 threads, batch 1; x_&y.onnx: tract 1.0, 4 threads, batch 1.
"###;

const COMPARISON_MARKDOWN: &str = r###"| Model | Params (M) | MACs (G) | FLOPs (G) | Memory (MiB) | Latency (ms) | FPS |
|---|---:|---:|---:|---:|---:|---:|
| **a\|b.onnx** | 0.00 | 0.000 | 0.000 | 0.0 | 4.00 | 250.0 |
| **x_&y.onnx** | 0.00 | 0.000 | 0.000 | 0.0 | 2.00 | 500.0 |

Bold: Pareto front (parameters vs latency). MACs: multiply-accumulates; FLOPs = 2 × MACs + other operations; memory: weights + peak activations. Latency: median, a|b.onnx: onnxruntime 1.0, 1 threads, batch 1; x_&y.onnx: tract 1.0, 4 threads, batch 1.
"###;

const COMPARISON_CSV: &str = r###"model,params,macs,flops,weight_bytes,peak_activation_bytes,memory_bytes,lower_bound,latency_ms,fps,pareto
a|b.onnx,46,40,90,184,48,232,false,4.0000,250.000,true
x_&y.onnx,116,96,216,464,80,544,false,2.0000,500.000,true
"###;

const COMPARISON_LATEX: &str = r###"% MACs: multiply-accumulates; FLOPs = 2 × MACs + other operations; memory: weights + peak activations. Latency: median, a|b.onnx: onnxruntime 1.0, 1 threads, batch 1; x_&y.onnx: tract 1.0, 4 threads, batch 1.
\begin{tabular}{lrrrrrr}
\toprule
Model & Params (M) & MACs (G) & FLOPs (G) & Memory (MiB) & Latency (ms) & FPS \\
\midrule
a|b.onnx & 0.00 & 0.000 & 0.000 & 0.0 & 4.00 & 250.0 \\
x\_\&y.onnx & 0.00 & 0.000 & 0.000 & 0.0 & 2.00 & 500.0 \\
\bottomrule
\end{tabular}
"###;

const COMPARISON_JSON: &str = r###"[
  {
    "model": "a|b.onnx",
    "params": 46,
    "macs": 40,
    "flops": 90,
    "weight_bytes": 184,
    "peak_activation_bytes": 48,
    "memory_bytes": 232,
    "lower_bound": false,
    "latency_ms": 4.0,
    "fps": 250.0,
    "pareto": true
  },
  {
    "model": "x_&y.onnx",
    "params": 116,
    "macs": 96,
    "flops": 216,
    "weight_bytes": 464,
    "peak_activation_bytes": 80,
    "memory_bytes": 544,
    "lower_bound": false,
    "latency_ms": 2.0,
    "fps": 500.0,
    "pareto": true
  }
]
"###;

const DIFF_TEXT: &str = r###"tiny.onnx → wide.onnx
  Params         46 → 116       +70 (+152.2%)
  MACs           40 → 96        +56 (+140.0%)
  FLOPs          90 → 216       +126 (+140.0%)

1 layers differ
Layer                                    Op             Change      ΔParams     ΔFLOPs  Output
/x_&y/Gemm_3                             Gemm           changed         +70       +126  1x2 → 1x16
"###;

const DIFF_MARKDOWN: &str = r###"tiny.onnx → wide.onnx

| Total | tiny.onnx | wide.onnx | Change |
|---|---:|---|---|
| Params | 46 | 116 | +70 (+152.2%) |
| MACs | 40 | 96 | +56 (+140.0%) |
| FLOPs | 90 | 216 | +126 (+140.0%) |

1 layers differ

| Layer | Op | Change | ΔParams | ΔFLOPs | Output |
|---|---|---|---:|---:|---|
| /x_&y/Gemm_3 | Gemm | changed | +70 | +126 | 1x2 → 1x16 |
"###;

const DIFF_CSV: &str = r###"total,old,new,change
Params,46,116,+70 (+152.2%)
MACs,40,96,+56 (+140.0%)
FLOPs,90,216,+126 (+140.0%)
name,op,status,params_change,flops_change,output
/x_&y/Gemm_3,Gemm,changed,70,126,1x2 → 1x16
"###;

const DIFF_LATEX: &str = r###"% tiny.onnx → wide.onnx
\begin{tabular}{lrll}
\toprule
Total & tiny.onnx & wide.onnx & Change \\
\midrule
Params & 46 & 116 & +70 (+152.2\%) \\
MACs & 40 & 96 & +56 (+140.0\%) \\
FLOPs & 90 & 216 & +126 (+140.0\%) \\
\bottomrule
\end{tabular}
% 1 layers differ
\begin{tabular}{lllrrl}
\toprule
Layer & Op & Change & ΔParams & ΔFLOPs & Output \\
\midrule
/x\_\&y/Gemm\_3 & Gemm & changed & +70 & +126 & 1x2 → 1x16 \\
\bottomrule
\end{tabular}
"###;

const DIFF_JSON: &str = r###"[
  {
    "total": "Params",
    "old": 46,
    "new": 116,
    "change": "+70 (+152.2%)"
  },
  {
    "total": "MACs",
    "old": 40,
    "new": 96,
    "change": "+56 (+140.0%)"
  },
  {
    "total": "FLOPs",
    "old": 90,
    "new": 216,
    "change": "+126 (+140.0%)"
  }
]
[
  {
    "name": "/x_&y/Gemm_3",
    "op": "Gemm",
    "status": "changed",
    "params_change": 70,
    "flops_change": 126,
    "output": "1x2 → 1x16"
  }
]
"###;

const BUDGET_TEXT: &str = r###"flopscope check: a|b.onnx — FAIL
Metric     Value     Limit Headroom Result
Parameters    46 ≤ 46 (46)    +0.0% pass
MACs          40 ≤ 30 (30)   -33.3% FAIL

Over budget (1 of 2):
- MACs: 40 is 10 above the limit 30 (33.3% over)

"###;

const BUDGET_MARKDOWN: &str = r###"### flopscope check: a|b.onnx — FAIL

| Metric | Value | Limit | Headroom | Result |
|---|---:|---:|---:|---|
| Parameters | 46 | ≤ 46 (46) | +0.0% | pass |
| MACs | 40 | ≤ 30 (30) | -33.3% | FAIL |

Over budget (1 of 2):
- MACs: 40 is 10 above the limit 30 (33.3% over)

"###;

const BUDGET_CSV: &str = r###"metric,value,limit,headroom,pass
Parameters,46,46,0.0000,true
MACs,40,30,-0.3333,false

"###;

const BUDGET_LATEX: &str = r###"% flopscope check: a|b.onnx — FAIL
% Over budget (1 of 2): - MACs: 40 is 10 above the limit 30 (33.3% over)
\begin{tabular}{lrrrl}
\toprule
Metric & Value & Limit & Headroom & Result \\
\midrule
Parameters & 46 & $\leq$ 46 (46) & +0.0\% & pass \\
MACs & 40 & $\leq$ 30 (30) & -33.3\% & FAIL \\
\bottomrule
\end{tabular}

"###;

const BUDGET_JSON: &str = r###"[
  {
    "metric": "Parameters",
    "value": 46,
    "limit": 46,
    "headroom": 0.0,
    "pass": true
  },
  {
    "metric": "MACs",
    "value": 40,
    "limit": 30,
    "headroom": -0.3333333333333333,
    "pass": false
  }
]

"###;
