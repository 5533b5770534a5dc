//! Exported built-in models load and run in tract, the pure-Rust runtime, too.

use crate::common::*;
use flopscope_core::zoo::{self, LlamaConfig, ZooOptions};
use tract_onnx::prelude::*;

/// Loads `path` in tract with the input fixed to `shape`, optimizes, runs once, and checks
/// that the outputs are finite.
fn run(path: &std::path::Path, shape: &[usize], tokens: bool) -> TractResult<()> {
    let mut m = tract_onnx::onnx().model_for_path(path)?;
    let dt = if tokens {
        i64::datum_type()
    } else {
        f32::datum_type()
    };
    m.set_input_fact(0, InferenceFact::dt_shape(dt, shape))?;
    let plan = m.into_optimized()?.into_runnable()?;
    let n: usize = shape.iter().product();
    let input: Tensor = if tokens {
        tract_ndarray::ArrayD::from_shape_vec(
            shape,
            (0..n as i64).map(|i| (i * 37) % 1000).collect(),
        )?
        .into()
    } else {
        tract_ndarray::ArrayD::from_shape_vec(
            shape,
            (0..n).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect(),
        )?
        .into()
    };
    let out = plan.run(tvec!(input.into()))?;
    for o in out.iter() {
        let o = o.cast_to::<f32>()?;
        let finite = o
            .to_plain_array_view::<f32>()?
            .iter()
            .all(|v| v.is_finite());
        assert!(finite, "{}: non-finite output", path.display());
    }
    Ok(())
}

#[test]
fn exported_models_run_in_tract() {
    let d = tmpdir("tract");
    // The CNN families at 64×64 (the graphs are resolution-generic), via the CLI.
    for name in [
        "resnet18",
        "squeezenet1_1",
        "mobilenet_v2",
        "mobilenet_v3_small",
        "efficientnet_b0",
        "densenet121",
        "convnext_tiny",
    ] {
        let path = d.join(format!("{name}.onnx"));
        run_ok(&[
            "export",
            name,
            "-o",
            path.to_str().unwrap(),
            "--input",
            "1x3x64x64",
            "--classes",
            "10",
        ]);
        run(&path, &[1, 3, 64, 64], false).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    // Swin needs a multiple of 224; window attention, shifted masks and patch merging.
    let path = d.join("swin_t.onnx");
    run_ok(&[
        "export",
        "swin_t",
        "-o",
        path.to_str().unwrap(),
        "--classes",
        "10",
    ]);
    run(&path, &[1, 3, 224, 224], false).unwrap_or_else(|e| panic!("swin_t: {e:?}"));
    // The transformer families at small sizes.
    let vit = zoo::vit(
        &ZooOptions {
            resolution: (32, 32),
            num_classes: 10,
        },
        16,
        32,
        2,
        2,
        64,
    )
    .unwrap();
    let path = d.join("vit.onnx");
    flopscope_core::write::write_onnx(&vit, &path, flopscope_core::write::Weights::Random(1))
        .unwrap();
    run(&path, &[1, 3, 32, 32], false).unwrap_or_else(|e| panic!("vit: {e:?}"));
    let llama = LlamaConfig {
        hidden: 32,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        intermediate: 64,
        vocab: 1000,
    };
    for (name, g) in [
        ("bert", zoo::bert(2, 32, 2, 64).unwrap()),
        ("gpt2", zoo::gpt2(2, 32, 2).unwrap()),
        ("llama", zoo::llama(&llama).unwrap()),
    ] {
        let path = d.join(format!("{name}.onnx"));
        flopscope_core::write::write_onnx(&g, &path, flopscope_core::write::Weights::Random(1))
            .unwrap();
        run(&path, &[1, 8], true).unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}
