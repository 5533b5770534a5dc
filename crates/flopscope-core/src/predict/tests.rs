use std::collections::BTreeMap;

use super::*;
use crate::builder::Builder;
use crate::graph::{DType, Dim};
use crate::options::Options as ModelOptions;
use crate::schema::ModelInfo;

fn profile(g: &crate::graph::Graph) -> Profile {
    let info = ModelInfo {
        source: g.name.clone(),
        producer: "test".into(),
        ir_version: 0,
        opset: g.opset(),
        nodes: g.nodes.len(),
        weights: crate::schema::WeightsStatus::Builtin,
        file_bytes: 0,
    };
    crate::profile::profile_graph(g, info, &ModelOptions::default()).unwrap()
}

/// One MatMul by a weight: x[1024, 4096] · W[4096, 4096], fp32, no bias.
fn gemm_profile() -> Profile {
    let mut b = Builder::new("gemm");
    let x = b.input("x", DType::F32, vec![Dim::Known(1024), Dim::Known(4096)]);
    let y = b.linear("fc", x, 4096, 4096, false);
    b.output(y);
    profile(&b.finish())
}

/// Parameters with the same numbers for every class.
fn flat(eff: f64, half_gflop: f64, mem_eff: f64, overhead_us: f64) -> Params {
    let ops = OpClass::KERNELS
        .into_iter()
        .map(|c| {
            (
                c,
                OpEfficiency {
                    eff,
                    half_gflop,
                    mem_eff,
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    let e = Efficiency {
        basis: "test".into(),
        overhead_us,
        strided_copy: 0.0,
        roofline_p: None,
        l2_carry: 0.0,
        ops,
    };
    Params {
        schema: crate::efficiency::SCHEMA.into(),
        profiles: [("gpu".to_string(), e.clone()), ("cpu".to_string(), e)].into(),
        error_bands: vec![],
    }
}

fn opts(dtype: Option<Dtype>, backend: Option<Backend>) -> Options {
    Options {
        dtype,
        backend,
        threads: None,
    }
}

#[test]
fn a_single_gemm_by_hand() {
    // F = 2·1024·4096·4096 = 34,359,738,368 FLOPs. Bytes at fp32: x 1024·4096·4 = 16,777,216,
    // W 4096·4096·4 = 67,108,864, y 16,777,216: 100,663,296; at fp16 half: 50,331,648.
    // RTX 4090 (Ada whitepaper): fp16 tensor with fp32 accumulate 165.2 TFLOP/s, 1,008 GB/s,
    // and the best-fed AD102 part of the catalog, so its clock factor is 1.
    // With eff 0.8 and half 2 GFLOP: e(F) = 0.8·F/(F + 2e9), so t_c = (F + 2e9) / (P · 0.8)
    // = 36,359,738,368 / (165.2e12 · 0.8) s = 0.275119086 ms.
    // t_m = 50,331,648 / (1,008e9 · 0.9) s = 0.055480212 ms; compute-bound; + 5 µs launch.
    let p = gemm_profile();
    let cat = Catalog::builtin();
    let t = Target::resolve(cat, "rtx4090", &flat(0.8, 2.0, 0.9, 5.0)).unwrap();
    assert_eq!(t.clock_factor, 1.0);
    let r = predict(&p, &t, opts(Some(Dtype::Fp16), None)).unwrap();
    let gemm: Vec<&LayerTime> = r
        .layers
        .iter()
        .filter(|l| l.class == OpClass::Gemm)
        .collect();
    assert_eq!(gemm.len(), 1);
    let l = gemm[0];
    assert_eq!(l.flops, 34_359_738_368);
    assert_eq!(l.bytes, 50_331_648.0);
    assert!(
        (l.compute_ms - 0.275_119_086).abs() < 1e-8,
        "{}",
        l.compute_ms
    );
    assert!(
        (l.memory_ms - 0.055_480_212).abs() < 1e-8,
        "{}",
        l.memory_ms
    );
    assert_eq!(l.bound, "compute");
    assert!((l.time_ms - 0.280_119_086).abs() < 1e-8);
    assert!((r.latency_ms - 0.280_119_086).abs() < 1e-8);
    // PyTorch eager on a GPU by default; 1,024 rows per call.
    assert_eq!(r.backend, Backend::Torch);
    assert_eq!(r.batch, 1024);
    assert!((r.throughput_per_s - 1024.0 / 0.280_119_086e-3).abs() < 1.0);
}

#[test]
fn strided_copy_soft_roofline_and_l2_carry_by_hand() {
    // The GEMM above, read through a permute view, with strided_copy 1, roofline_p 2 and
    // l2_carry 0.5 on the RTX 4090 (72 MB L2, Ada whitepaper; 1,008 GB/s).
    // Bytes 50,331,648 at fp16; the L2 keeps min(0.5 · 72 · 2^20, bytes / 2) = 25,165,824 of
    // them, so DRAM moves 25,165,824: t_m = 25,165,824 / (1,008e9 · 0.9) s.
    // t_c as above: (F + 2e9) / (165.2e12 · 0.8) s. Soft roofline: sqrt(t_c² + t_m²).
    // The copy: 1 · 50,331,648 / 1,008e9 s + a 5 µs launch; the layer's own launch 5 µs.
    let mut p = gemm_profile();
    let mut view = p.layers[0].clone();
    view.name = "perm".into();
    view.op = "permute".into();
    p.layers.insert(0, view);
    let mut params = flat(0.8, 2.0, 0.9, 5.0);
    for e in params.profiles.values_mut() {
        e.strided_copy = 1.0;
        e.roofline_p = Some(2.0);
        e.l2_carry = 0.5;
    }
    let t = Target::resolve(Catalog::builtin(), "rtx4090", &params).unwrap();
    let r = predict(&p, &t, opts(Some(Dtype::Fp16), None)).unwrap();
    let l = r.layers.iter().find(|l| l.class == OpClass::Gemm).unwrap();
    let tc_ms = (34_359_738_368.0 + 2e9) / (165.2e12 * 0.8) * 1e3;
    let tm_ms = 25_165_824.0 / (1_008e9 * 0.9) * 1e3;
    let copy_ms = 50_331_648.0 / 1_008e9 * 1e3 + 0.005;
    assert!((l.memory_ms - tm_ms).abs() < 1e-12, "{}", l.memory_ms);
    assert!((l.copy_ms - copy_ms).abs() < 1e-12, "{}", l.copy_ms);
    let want = (tc_ms * tc_ms + tm_ms * tm_ms).sqrt() + 0.005 + copy_ms;
    assert!((l.time_ms - want).abs() < 1e-12, "{} vs {want}", l.time_ms);
    assert!((r.latency_ms - want).abs() < 1e-12);
    assert!((r.totals.copy_ms - copy_ms).abs() < 1e-12);
    // Without the view before it the layer pays no copy.
    let r = predict(&gemm_profile(), &t, opts(Some(Dtype::Fp16), None)).unwrap();
    assert_eq!(r.totals.copy_ms, 0.0);
}

#[test]
fn a_folded_permute_is_read_as_the_view_it_was() {
    // A traced module's permute has no row (`crate::fold`): it is listed in the `folded` of
    // the layer after it (a view of its input, which nothing before made) or of the layer
    // before it (a view of that layer's output). Either way the GEMM reads a strided tensor
    // and pays the copy of the test above; a permute folded after the GEMM does not.
    let mut params = flat(0.8, 2.0, 0.9, 5.0);
    for e in params.profiles.values_mut() {
        e.strided_copy = 1.0;
    }
    let t = Target::resolve(Catalog::builtin(), "rtx4090", &params).unwrap();
    let copy = |before: bool, into_first: bool| {
        let mut p = gemm_profile();
        let fold = crate::schema::Folded {
            name: "perm".into(),
            op: "permute".into(),
            domain: "aten".into(),
            outputs: vec![],
            before,
        };
        if into_first {
            p.layers[0].folded.push(fold);
        } else {
            let mut prev = p.layers[0].clone();
            prev.name = "prev".into();
            prev.folded.push(fold);
            p.layers.insert(0, prev);
        }
        let r = predict(&p, &t, opts(Some(Dtype::Fp16), None)).unwrap();
        r.layers.last().unwrap().copy_ms
    };
    // 1 · 50,331,648 bytes at fp16 / 1,008 GB/s + a 5 µs launch.
    let copy_ms = 50_331_648.0 / 1_008e9 * 1e3 + 0.005;
    assert!((copy(true, true) - copy_ms).abs() < 1e-12);
    assert!((copy(false, false) - copy_ms).abs() < 1e-12);
    assert_eq!(copy(false, true), 0.0);
}

#[test]
fn fits_at_the_exact_byte_boundary() {
    // Weights 67,108,864 bytes; the peak of live activations is x and y together,
    // 2 · 16,777,216 = 33,554,432: 100,663,296 bytes = 0.09375 GiB exactly.
    let p = gemm_profile();
    assert_eq!(p.totals.weight_bytes, 67_108_864);
    assert_eq!(p.totals.peak_activation_bytes, 33_554_432);
    let params = flat(0.5, 0.0, 1.0, 0.0);
    let cat = Catalog::builtin();
    let mut d = cat.find("rtx4090").unwrap().clone();
    for (gib, fits) in [(0.09375, true), (0.09375 - 1.0 / 1_073_741_824.0, false)] {
        d.memory_gb = gib;
        let t = Target::new(d.clone(), cat, &params).unwrap();
        let r = predict(&p, &t, opts(None, None)).unwrap();
        assert_eq!(r.memory.total_bytes, 100_663_296);
        assert_eq!(r.fits, fits, "{gib} GiB");
    }
}

#[test]
fn power_limited_parts_run_below_boost() {
    // GB202: RTX 5090 575 W / (170 SM · 2.407 GHz) = 1.4052 W per SM-GHz, the chip's best fed;
    // RTX Pro 6000 Max-Q 300 W / (188 · 2.280) = 0.69989: (0.69989 / 1.4052)^(1/3) = 0.79268.
    // AD104: RTX 4070 200 / (46 · 2.475) = 1.7567; L4 72 / (58 · 2.040) = 0.60852: 0.70231.
    let cat = Catalog::builtin();
    let k = |name: &str| clock_factor(cat.find(name).unwrap(), cat);
    assert_eq!(k("rtx5090"), 1.0);
    assert!((k("rtx-pro-6000-max-q") - 0.79268).abs() < 1e-4);
    assert!((k("l4") - 0.70231).abs() < 1e-4);
    // Not a discrete GPU: no power model.
    assert_eq!(k("jetson-agx-orin"), 1.0);
    assert_eq!(k("i9-10940x"), 1.0);
}

#[test]
fn a_power_mode_brings_its_own_peaks() {
    let cat = Catalog::builtin();
    let params = flat(1.0, 0.0, 1.0, 0.0);
    let t = Target::resolve(cat, "jetson-agx-orin:30w", &params).unwrap();
    let mode = &cat.find("jetson-agx-orin").unwrap().power_modes;
    let m30 = mode.iter().find(|m| m.name == "30W").unwrap();
    assert_eq!(t.device.peak_tflops, m30.peak_tflops);
    assert_eq!(t.mode.as_deref(), Some("30w"));
    let e = Target::resolve(cat, "jetson-agx-orin:99W", &params).unwrap_err();
    assert!(e.to_string().contains("no power mode '99W'"), "{e}");
    assert!(e.to_string().contains("MAXN"), "{e}");
    assert!(Target::resolve(cat, "rtx4090:30W", &params).is_err());
}

/// conv (3→8, 3×3) → BatchNorm → Relu on a 1×3×32×32 input, and a depthwise conv after.
fn conv_chain() -> Profile {
    let mut b = Builder::new("chain");
    let x = b.input(
        "x",
        DType::F32,
        vec![Dim::Known(1), Dim::Known(3), Dim::Known(32), Dim::Known(32)],
    );
    let y = b.conv2d("conv", x, 3, 8, 3, 1, 1, 1, false);
    let y = b.batchnorm("bn", y, 8);
    let y = b.unary("Relu", y);
    let y = b.conv2d("dw", y, 8, 8, 3, 1, 1, 8, false);
    b.output(y);
    profile(&b.finish())
}

#[test]
fn classes_and_fusion_by_backend() {
    let p = conv_chain();
    let classes: Vec<OpClass> = p.layers.iter().map(classify).collect();
    let ops: Vec<&str> = p.layers.iter().map(|l| l.op.as_str()).collect();
    assert_eq!(ops, ["Conv", "BatchNormalization", "Relu", "Conv"]);
    use OpClass::*;
    assert_eq!(classes, [Conv, Elementwise, Elementwise, GroupedConv]);
    // ONNX Runtime folds the norm and fuses the activation; the depthwise conv is a kernel.
    let ort = Backend::OnnxRuntime.fused(&p.layers, &classes);
    assert_eq!(ort, [false, true, true, false]);
    assert_eq!(Backend::Torch.fused(&p.layers, &classes), [false; 4]);
    // Inductor joins elementwise work to the kernel before it.
    let compiled = Backend::TorchCompile.fused(&p.layers, &classes);
    assert_eq!(compiled, [false, true, true, false]);
    // On a CPU ONNX Runtime is the default: two kernels, two fused layers, no fused bytes.
    let cat = Catalog::builtin();
    let t = Target::resolve(cat, "i9-10940x", &flat(0.5, 0.0, 0.5, 10.0)).unwrap();
    let r = predict(&p, &t, opts(None, None)).unwrap();
    assert_eq!(r.backend, Backend::OnnxRuntime);
    assert_eq!((r.totals.kernels, r.totals.fused), (2, 2));
    assert!(r.layers[1].bytes == 0.0 && r.layers[1].overhead_ms == 0.0);
    assert_eq!(r.layers[1].bound, "fused");
    // Two launches of 10 µs.
    assert!((r.totals.overhead_ms - 0.02).abs() < 1e-12);
}

#[test]
fn a_product_of_two_activations_is_attention() {
    let mut b = Builder::new("qk");
    let dims = vec![Dim::Known(2), Dim::Known(4), Dim::Known(16), Dim::Known(8)];
    let q = b.input("q", DType::F32, dims.clone());
    let k = b.input("k", DType::F32, dims);
    let kt = b.transpose(k, &[0, 1, 3, 2]);
    let s = b.op("MatMul", &[q, kt], vec![]);
    b.output(s);
    let p = profile(&b.finish());
    let classes: Vec<OpClass> = p.layers.iter().map(classify).collect();
    assert_eq!(classes, [OpClass::Data, OpClass::Attention]);
}

#[test]
fn cpu_threads_take_their_share_of_the_peak() {
    // Core i9-10940X: 14 cores; 7 threads get half the fp32 peak.
    let cat = Catalog::builtin();
    let d = cat.find("i9-10940x").unwrap();
    let t = Target::resolve(cat, "i9-10940x", &flat(1.0, 0.0, 1.0, 0.0)).unwrap();
    let o = Options {
        dtype: Some(Dtype::Fp32),
        backend: None,
        threads: Some(7),
    };
    let r = predict(&gemm_profile(), &t, o).unwrap();
    assert_eq!(r.threads, Some(7));
    assert_eq!(d.units.cores, Some(14));
    assert!((r.peak_gflops - d.peak_tflops.fp32.unwrap() * 1e3 / 2.0).abs() < 1e-6);
}

#[test]
fn the_builtin_parameters_parse_and_bad_ones_are_refused() {
    let p = Params::builtin();
    for name in ["gpu", "cpu"] {
        let e = p.profile(name).unwrap();
        for c in OpClass::KERNELS {
            assert!(e.ops.contains_key(&c), "{name} lacks {}", c.as_str());
        }
    }
    let bad = r#"{"schema": "flopscope.predict-params/1", "profiles": {"gpu": {"basis": "x",
        "overhead_us": 1, "ops": {"gemm": {"eff": 0, "half_gflop": 0, "mem_eff": 1}}}}}"#;
    let e = Params::parse(bad, std::path::Path::new("p.json")).unwrap_err();
    assert!(
        e.to_string().contains("gemm: eff and mem_eff must be > 0"),
        "{e}"
    );
    let bad = r#"{"schema": "flopscope.predict-params/1", "profiles": {"gpu": {"basis": "x",
        "overhead_us": 1, "roofline_p": 0.5, "ops": {}}}}"#;
    let e = Params::parse(bad, std::path::Path::new("p.json")).unwrap_err();
    assert!(e.to_string().contains("roofline_p 0.5 is not ≥ 1"), "{e}");
    assert!(Dtype::parse("fp64").is_err());
    assert!(Backend::parse("tensorrt").is_err());
}

#[test]
fn above_one_a_memory_efficiency_holds_only_for_what_the_cache_holds() {
    // The GEMM of `gemm_profile`: 67,108,864 weight bytes, x and y 16,777,216 each, stored
    // fp32 and predicted as stored. On an RTX 4090 given a 1 MiB cache and mem_eff 2 (as a
    // calibration of small, cache-resident benchmarks finds), the weights exceed the cache and
    // stream at the DRAM's 1,008 GB/s: 0.066576254 ms; of x and y's 33,554,432 bytes, 1 MiB goes
    // at twice that rate (0.000520127 ms) and the 32,505,856 beyond it at DRAM rate
    // (0.032247873 ms): 0.099344254 ms in all.
    let p = gemm_profile();
    let cat = Catalog::builtin();
    let mut d = cat.find("rtx4090").unwrap().clone();
    d.l2_mb = Some(1.0);
    let t = Target::new(d, cat, &flat(1.0, 0.0, 2.0, 0.0)).unwrap();
    let r = predict(&p, &t, opts(None, Some(Backend::Torch))).unwrap();
    let l = r.layers.iter().find(|l| l.class == OpClass::Gemm).unwrap();
    assert!(
        (l.memory_ms - 0.099_344_254).abs() < 1e-8,
        "{}",
        l.memory_ms
    );
    // At mem_eff 1 the cache changes nothing: 100,663,296 bytes at 1,008 GB/s.
    let t = Target::new(t.device.clone(), cat, &flat(1.0, 0.0, 1.0, 0.0)).unwrap();
    let r = predict(&p, &t, opts(None, Some(Backend::Torch))).unwrap();
    let l = r.layers.iter().find(|l| l.class == OpClass::Gemm).unwrap();
    assert!((l.memory_ms - 100_663_296.0 / 1008e6).abs() < 1e-9);
}
