//! The tract-backed session: compiled only with the feature `tract`.

use std::path::Path;

use tract_onnx::prelude::*;

use crate::{InputSpec, Session};
use flopscope_core::error::{Error, Result};
use flopscope_core::graph::DType;

struct TractSession {
    /// Reused between runs, as a serving loop would (no per-run plan state allocation).
    state: TypedSimpleState,
    inputs: TVec<TValue>,
}

fn runtime_err(e: impl std::fmt::Display) -> Error {
    // tract reports the failing node and operator in its chain of causes: keep it on one line.
    Error::Runtime(format!("tract: {}", e.to_string().replace('\n', "; ")))
}

fn input_tensor(spec: &InputSpec, seed: u64) -> Result<Tensor> {
    let shape: Vec<usize> = spec.shape.iter().map(|&d| d as usize).collect();
    let arr = |e| runtime_err(e);
    Ok(match crate::input_data(spec, seed)? {
        crate::InputData::F32(v) => tract_ndarray::ArrayD::from_shape_vec(shape, v)
            .map_err(arr)?
            .into(),
        crate::InputData::I64(v) => tract_ndarray::ArrayD::from_shape_vec(shape, v)
            .map_err(arr)?
            .into(),
        crate::InputData::I32(v) => tract_ndarray::ArrayD::from_shape_vec(shape, v)
            .map_err(arr)?
            .into(),
        crate::InputData::Bool(v) => tract_ndarray::ArrayD::from_shape_vec(shape, v)
            .map_err(arr)?
            .into(),
    })
}

fn datum(d: DType) -> Result<DatumType> {
    Ok(match d {
        DType::F32 => f32::datum_type(),
        DType::I64 => i64::datum_type(),
        DType::I32 => i32::datum_type(),
        DType::Bool => bool::datum_type(),
        DType::F16 => f16::datum_type(),
        d => {
            return Err(Error::Runtime(format!(
                "tract: inputs of type {d} are not supported here"
            )))
        }
    })
}

/// Loads `model` for `inputs` (an optimized plan) with seeded random inputs.
pub(super) fn load(model: &Path, inputs: &[InputSpec], seed: u64) -> Result<Box<dyn Session>> {
    let mut m = tract_onnx::onnx()
        .model_for_path(model)
        .map_err(runtime_err)?;
    for (i, spec) in inputs.iter().enumerate() {
        let shape: Vec<usize> = spec.shape.iter().map(|&d| d as usize).collect();
        m.set_input_fact(i, InferenceFact::dt_shape(datum(spec.dtype)?, shape))
            .map_err(runtime_err)?;
    }
    let plan = m
        .into_optimized()
        .map_err(runtime_err)?
        .into_runnable()
        .map_err(runtime_err)?;
    let inputs = inputs
        .iter()
        .enumerate()
        .map(|(i, s)| Ok(input_tensor(s, seed.wrapping_add(i as u64 * 7919))?.into_tvalue()))
        .collect::<Result<TVec<_>>>()?;
    let state = TypedSimpleState::new(&plan).map_err(runtime_err)?;
    Ok(Box::new(TractSession { state, inputs }))
}

impl Session for TractSession {
    fn run(&mut self) -> Result<()> {
        self.state.run(self.inputs.clone()).map_err(runtime_err)?;
        Ok(())
    }

    fn outputs(&mut self) -> Result<Vec<Vec<f32>>> {
        let outs = self.state.run(self.inputs.clone()).map_err(runtime_err)?;
        outs.iter()
            .map(|t| {
                let t = t.cast_to::<f32>().map_err(runtime_err)?;
                let view = t.to_plain_array_view::<f32>().map_err(runtime_err)?;
                Ok(view.iter().copied().collect())
            })
            .collect()
    }

    fn profile_layers(&mut self, runs: usize) -> Result<Vec<Vec<(String, f64)>>> {
        // Time each node of the optimized plan through tract's evaluation hook (what tract's
        // own profiler does); plan nodes are named after the ONNX node they come from.
        (0..runs)
            .map(|_| {
                let mut times: Vec<(String, f64)> = Vec::new();
                self.state
                    .run_plan_with_eval(self.inputs.clone(), |session, op_state, node, inputs| {
                        let t = std::time::Instant::now();
                        let r = tract_onnx::tract_core::plan::eval(session, op_state, node, inputs);
                        times.push((node.name.clone(), t.elapsed().as_secs_f64() * 1e3));
                        r
                    })
                    .map_err(runtime_err)?;
                Ok(times)
            })
            .collect()
    }
}
