//! Roofline analysis: how fast each layer could run at best on a machine, and how close a
//! measured run came. Definitions in `docs/roofline.md`.
//!
//! A layer doing `F` FLOPs and moving `B` bytes needs at least `max(F / peak, B / bandwidth)`:
//! its arithmetic intensity `F / B` against the ridge point `peak / bandwidth` says which
//! term wins (compute- or memory-bound). The byte and FLOP counts it reports are checked sums
//! ([`crate::checked`]); the times are floating point.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use crate::checked::{self, overflow};
use crate::error::Result;
use crate::machine::{Machine, Roof};
use crate::schema::{Bound, DecodeRoof, Layer, LayerRoof, LlmInfo, Profile, Summary};

impl Bound {
    /// As JSON and every report spell it: `compute` or `memory`.
    pub fn name(self) -> &'static str {
        match self {
            Bound::Compute => "compute",
            Bound::Memory => "memory",
        }
    }
}

/// Work of `flops` FLOPs moving `bytes` bytes under `roof`: which term bounds it, and its
/// minimum time in ms, `max(flops / peak, bytes / bandwidth)`. Work with no FLOPs is bound by
/// memory (or by nothing: its minimum is then 0).
fn at_roof(roof: Roof, flops: f64, bytes: f64) -> (Bound, f64) {
    let compute_ms = flops / (roof.peak_gflops * 1e6);
    let memory_ms = bytes / (roof.bandwidth_gbs * 1e6);
    let bound = if compute_ms >= memory_ms && flops > 0.0 {
        Bound::Compute
    } else {
        Bound::Memory
    };
    (bound, compute_ms.max(memory_ms))
}

/// The decode step of a checkpoint under `roof`; `None` without a config's decode cost, an
/// error when its FLOPs or bytes overflow 64 bits.
fn decode(l: &LlmInfo, roof: Roof) -> Result<Option<DecodeRoof>> {
    let Some(per_token) = l.decode_flops_per_token else {
        return Ok(None);
    };
    let flops = checked::mul(per_token, l.batch, "the decode step's FLOPs")?;
    let what = "the bytes a decode step reads";
    let part = |name: &str| crate::llm::component_size(&l.components, name);
    // An untied embedding table is read one row per sequence; a tied one is read whole by the
    // output head.
    let (emb_params, emb_bytes) = part("embeddings");
    let untied = part("head").0 > 0 && emb_params > 0;
    // A component is a part of the whole: the differences are never below zero.
    let (rest_params, rest_bytes, rows) = match (&l.arch, untied) {
        (Some(a), true) if a.vocab > 0 => (
            l.total_params.saturating_sub(emb_params),
            l.weight_bytes.saturating_sub(emb_bytes),
            checked::mul(
                emb_bytes.checked_div(a.vocab).unwrap_or(0),
                l.batch.min(a.vocab),
                what,
            )?,
        ),
        _ => (l.total_params, l.weight_bytes, 0),
    };
    // Of the rest, a step touches only the routed experts' share of a mixture (a lower bound
    // for batches whose tokens pick different experts).
    let active = l
        .active_params
        .saturating_sub(l.total_params.saturating_sub(rest_params));
    // `rest_bytes × active / rest_params` in 128 bits (a product of two 64-bit numbers fits),
    // at most `rest_bytes` since `active ≤ rest_params`.
    let weights = u128::from(rest_bytes)
        .checked_mul(u128::from(active))
        .and_then(|x| x.checked_div(u128::from(rest_params)))
        .map_or(Ok(rest_bytes), |w| {
            u64::try_from(w).map_err(|_| overflow(what))
        })?;
    let bytes = checked::sum([weights, rows, l.kv_cache_bytes.unwrap_or(0)], what)?;
    let (bound, min_ms) = at_roof(roof, flops as f64, bytes as f64);
    Ok(Some(DecodeRoof {
        past: l.past,
        batch: l.batch,
        flops,
        bytes,
        bound,
        min_ms,
        max_tokens_per_s: if min_ms > 0.0 {
            l.batch as f64 * 1e3 / min_ms
        } else {
            f64::INFINITY
        },
    }))
}

/// Bytes a layer moves under the roofline (`ops::roofline_bytes`), and its weights
/// when its tensors' sizes are unknown (checkpoint components carry only those).
pub fn bytes_moved(l: &Layer) -> u64 {
    // Not for a zero-FLOP lookup (an embedding Gather reads a few rows, not its table).
    if l.bytes_read == 0 && l.bytes_written == 0 && l.flops.unwrap_or(0) > 0 {
        l.param_bytes
    } else {
        crate::ops::roofline_bytes(&l.op, l.bytes_read, l.bytes_written)
    }
}

/// One layer's place under `roof`; `None` when its FLOPs are unknown.
pub fn layer(l: &Layer, roof: Roof) -> Option<LayerRoof> {
    let flops = l.flops? as f64;
    let bytes = bytes_moved(l) as f64;
    let (bound, min_ms) = at_roof(roof, flops, bytes);
    Some(LayerRoof {
        intensity: (bytes > 0.0).then(|| flops / bytes),
        bound,
        min_ms,
    })
}

/// The model's summary under `roof` (threads: what the roof was taken for); an error when a
/// byte count overflows 64 bits.
pub fn summary(p: &Profile, m: &Machine, threads: usize) -> Result<Summary> {
    let roof = m.roof(threads);
    let mut s = Summary {
        source: m.source.clone(),
        device: m.cpu_model.clone(),
        threads,
        peak_gflops: roof.peak_gflops,
        bandwidth_gbs: roof.bandwidth_gbs,
        ridge: roof.ridge(),
        predicted_ms: 0.0,
        compute_floor_ms: p.totals.flops as f64 / (roof.peak_gflops * 1e6),
        memory_floor_ms: 0.0,
        compute_bound_layers: 0,
        memory_bound_layers: 0,
        layers_cost_unknown: 0,
        decode: match &p.llm {
            Some(l) => decode(l, roof)?,
            None => None,
        },
    };
    let what = "the model's weight and input/output bytes";
    let mut io = p.totals.weight_bytes;
    for t in p.inputs.iter().chain(&p.outputs) {
        let Some(shape) = &t.shape else {
            continue;
        };
        let bits = crate::graph::DType::from_name(&t.dtype).map_or(32, |d| d.bits());
        let bits = checked::mul(checked::product(shape, what)?, bits, what)?;
        checked::add_to(&mut io, bits / 8, what)?;
    }
    s.memory_floor_ms = io as f64 / (roof.bandwidth_gbs * 1e6);
    // Counts of layers held in memory: below `usize::MAX`.
    let inc = |n: &mut usize| *n = n.saturating_add(1);
    for l in &p.layers {
        match layer(l, roof) {
            // Layers with no FLOPs and no bytes (views, shape arithmetic) are bound by nothing.
            Some(r) if r.min_ms > 0.0 => {
                s.predicted_ms += r.min_ms;
                match r.bound {
                    Bound::Compute => inc(&mut s.compute_bound_layers),
                    Bound::Memory => inc(&mut s.memory_bound_layers),
                }
            }
            Some(_) => {}
            None => inc(&mut s.layers_cost_unknown),
        }
    }
    Ok(s)
}

/// Adds the roofline to a profile: the summary and every layer's place (for all threads of
/// the machine); an error when a byte count overflows 64 bits.
pub fn apply(p: &mut Profile, m: &Machine) -> Result<()> {
    let threads = m.logical_cpus;
    let roof = m.roof(threads);
    for l in &mut p.layers {
        l.roofline = layer(l, roof);
    }
    p.roofline = Some(summary(p, m, threads)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv_layer() -> Layer {
        // resnet18's first convolution, batch 1: 1x3x224x224 * 64x3x7x7 -> 1x64x112x112.
        // MACs 64·112·112·3·7·7 = 118,013,952; FLOPs 2× = 236,027,904 (counting.md: Conv).
        // Bytes read: input 3·224·224·4 = 602,112 + weight 64·3·7·7·4 = 37,632;
        // written 64·112·112·4 = 3,211,264.
        Layer {
            name: "/conv1/Conv".into(),
            op: "Conv".into(),
            domain: String::new(),
            scope: vec![],
            inputs: vec![],
            outputs: vec![],
            params: 9408,
            param_bytes: 37_632,
            macs: Some(118_013_952),
            flops: Some(236_027_904),
            bytes_read: 602_112 + 37_632,
            bytes_written: 3_211_264,
            activation_bytes: 3_211_264,
            roofline: None,
            backward: false,
            folded: vec![],
        }
    }

    #[test]
    fn conv_is_compute_bound_above_the_ridge_and_memory_bound_below() {
        let l = conv_layer();
        // Intensity 236,027,904 / 3,851,008 = 61.29 FLOP/B.
        let roof = Roof {
            peak_gflops: 100.0,
            bandwidth_gbs: 20.0,
        };
        let r = layer(&l, roof).unwrap();
        assert!((r.intensity.unwrap() - 61.290_3).abs() < 1e-3);
        assert_eq!(r.bound, Bound::Compute);
        // 236,027,904 FLOPs / 100 GFLOP/s = 2.360 ms (memory: 3,851,008 B / 20 GB/s = 0.193).
        assert!((r.min_ms - 2.360_279).abs() < 1e-5);
        // A roof whose ridge (1000 FLOP/B) is above the layer's intensity: memory-bound,
        // 3,851,008 B / 1 GB/s = 3.851 ms.
        let roof = Roof {
            peak_gflops: 1000.0,
            bandwidth_gbs: 1.0,
        };
        let r = layer(&l, roof).unwrap();
        assert_eq!(r.bound, Bound::Memory);
        assert!((r.min_ms - 3.851_008).abs() < 1e-9);
    }

    #[test]
    fn lookups_read_what_they_write_and_shape_queries_read_nothing() {
        // bert-base's word-embedding Gather: table 30522×768 f32 (93,763,584 B) + 128 int64
        // ids (1,024 B) read, 1×128×768 f32 (393,216 B) written: it moves 2 × 393,216 B.
        let mut l = conv_layer();
        l.op = "Gather".into();
        l.flops = Some(0);
        l.bytes_read = 93_763_584 + 1024;
        l.bytes_written = 393_216;
        assert_eq!(bytes_moved(&l), 786_432);
        l.op = "Shape".into();
        l.bytes_read = 393_216;
        l.bytes_written = 24;
        assert_eq!(bytes_moved(&l), 0);
    }

    #[test]
    fn views_move_nothing_and_unknown_costs_are_left_out() {
        let mut l = conv_layer();
        l.op = "Reshape".into();
        l.flops = Some(0);
        let roof = Roof {
            peak_gflops: 1.0,
            bandwidth_gbs: 1.0,
        };
        let r = layer(&l, roof).unwrap();
        assert_eq!((r.intensity, r.min_ms, r.bound), (None, 0.0, Bound::Memory));
        l.flops = None;
        assert!(layer(&l, roof).is_none());
    }
}
