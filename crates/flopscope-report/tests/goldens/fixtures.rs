//! A fixed bench report (no timing): two runs of a two-layer model, the second with a
//! roofline and per-layer times.

use flopscope_core::measure::{Latency, LayerTime, Report, RunResult, RunRoofline};
use flopscope_core::schema::{Bound, LayerRoof, Summary};

pub fn report() -> Report {
    let lat = |median: f64| Latency {
        min: median - 0.25,
        mean: median + 0.125,
        median,
        p90: median + 0.5,
        p99: median + 1.0,
        max: median + 2.0,
        stddev: 0.0625,
    };
    let run = |backend: &str, threads: usize, median: f64| RunResult {
        backend: backend.into(),
        backend_version: "1.0".into(),
        batch: 1,
        threads,
        latency_ms: lat(median),
        runs: 100,
        outliers: 3,
        fps: 1000.0 / median,
        load_ms: 12.5,
        cold_ms: 4.25,
        samples_ms: vec![median],
        layers: vec![],
        roofline: None,
    };
    let mut fast = run("tract", 4, 2.0);
    fast.roofline = Some(RunRoofline {
        model: Summary {
            source: "spec".into(),
            device: "device spec".into(),
            threads: 4,
            peak_gflops: 100.0,
            bandwidth_gbs: 10.0,
            ridge: 10.0,
            predicted_ms: 0.5,
            compute_floor_ms: 0.25,
            memory_floor_ms: 0.5,
            compute_bound_layers: 1,
            memory_bound_layers: 1,
            layers_cost_unknown: 0,
            decode: None,
        },
        measured_ms: 2.0,
        efficiency_pct: 25.0,
        achieved_gflops: 0.5,
    });
    fast.layers = vec![
        LayerTime {
            name: "a|b".into(),
            op: "Gemm".into(),
            time_ms: 1.5,
            percent: 75.0,
            macs: Some(32),
            flops: Some(68),
            gflops_per_s: Some(0.0453),
            roofline: Some(LayerRoof {
                intensity: Some(0.5),
                bound: Bound::Memory,
                min_ms: 0.375,
            }),
            efficiency_pct: Some(25.0),
        },
        LayerTime {
            name: "x_&y".into(),
            op: "Relu".into(),
            time_ms: 0.5,
            percent: 25.0,
            macs: None,
            flops: Some(4),
            gflops_per_s: None,
            roofline: None,
            efficiency_pct: None,
        },
    ];
    Report {
        schema: flopscope_core::measure::SCHEMA,
        model: "two.onnx".into(),
        inputs: vec!["x f32 1x8".into()],
        synthesized_weights: true,
        runs: vec![run("onnxruntime", 1, 4.0), fast],
    }
}

/// `x [1, 8] → Gemm 8→4 (scope `a|b`) → Relu → Gemm 4→`wide` (scope `x_&y`)`, profiled.
///
/// By hand (docs/counting.md): Gemm 8→4 with bias: 8·4 + 4 = 36 params, 1·8·4 = 32 MACs,
/// 2·32 + 4 (bias) = 68 FLOPs. Relu on 4 values: 4 FLOPs. Gemm 4→2: 4·2 + 2 = 10 params,
/// 8 MACs, 2·8 + 2 = 18 FLOPs. Totals: 46 params, 40 MACs, 90 FLOPs.
pub fn profile(source: &str, wide: u64) -> flopscope_core::Profile {
    use flopscope_core::builder::Builder;
    use flopscope_core::graph::{DType, Dim};
    let mut b = Builder::new("tiny");
    let x = b.input("x", DType::F32, vec![Dim::Known(1), Dim::Known(8)]);
    let h = b.gemm("a|b", x, 8, 4);
    let h = b.unary("Relu", h);
    let y = b.gemm("x_&y", h, 4, wide);
    b.output(y);
    let g = b.finish();
    let info = flopscope_core::schema::ModelInfo {
        source: source.into(),
        producer: "test".into(),
        ir_version: 8,
        opset: 17,
        nodes: g.nodes.len(),
        weights: flopscope_core::schema::WeightsStatus::Builtin,
        file_bytes: 0,
    };
    flopscope_core::profile_graph(&g, info, &flopscope_core::Options::default()).unwrap()
}
