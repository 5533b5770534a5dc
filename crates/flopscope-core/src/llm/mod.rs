//! Language-model checkpoints without their weights: safetensors (single, sharded, or a folder
//! with `config.json`) and GGUF. Only headers are read; parameters and bytes come from the
//! tensor list, costs from the architecture config ([`arch`]). Every total is a checked sum
//! ([`crate::checked`]): one past 64 bits is an error naming it.
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::checked::{self, add_to, overflow};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::schema::{Component, Layer, LlmInfo, ModelInfo, Profile, Totals};

pub mod arch;
mod fetched;
pub mod gguf;
pub mod roles;
pub mod safetensors;
pub mod training;

pub use crate::schema::Arch;
pub use fetched::{profile_fetched, Fetched, FileHead};

/// One tensor of a checkpoint.
#[derive(Clone, Debug, Serialize)]
pub struct TensorInfo {
    /// Name as stored.
    pub name: String,
    /// Element type (`bf16`, `q4_k`…).
    pub dtype: String,
    /// Shape, outermost dim first.
    pub shape: Vec<u64>,
    /// Elements.
    pub elements: u64,
    /// Bytes stored.
    pub bytes: u64,
}

/// Parameters and bytes of the component `name` (0, 0 when the checkpoint has none).
pub fn component_size(components: &[Component], name: &str) -> (u64, u64) {
    components
        .iter()
        .find(|c| c.component == name)
        .map_or((0, 0), |c| (c.params, c.bytes))
}

/// Whether `path` names a checkpoint this module reads (rather than an ONNX file).
pub fn is_checkpoint(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    path.is_dir()
        || name.ends_with(".safetensors")
        || name.ends_with(".safetensors.index.json")
        || name.ends_with(".gguf")
}

/// Which component a tensor belongs to, from its name (Hugging Face and GGUF conventions).
pub fn component_of(name: &str) -> &'static str {
    let n = name.to_ascii_lowercase();
    let has = |ks: &[&str]| ks.iter().any(|k| n.contains(k));
    if has(&[
        "embed_tokens",
        "wte.",
        "wpe.",
        "token_embd",
        "embed_positions",
        "position_embd",
        "embeddings",
    ]) {
        "embeddings"
    } else if has(&["norm", "ln_", "ln_f", "layernorm"]) {
        "norms"
    } else if has(&["lm_head"]) || n.starts_with("output.") {
        "head"
    } else if has(&["attn", "attention", "q_proj", "k_proj", "v_proj", "o_proj"]) {
        "attention"
    } else if has(&[
        "mlp",
        "ffn",
        "experts",
        "block_sparse_moe",
        "feed_forward",
        "_exps",
    ]) {
        "mlp"
    } else {
        "other"
    }
}

/// Parameters of the experts a token is not routed to: `expert_params × (E − k) / E`, rounded
/// down (E experts, k per token; `Arch`'s checks keep k ≤ E). At most `expert_params`.
fn idle_experts(expert_params: u64, a: &Arch) -> u64 {
    let idle = u128::from(a.experts.saturating_sub(a.experts_per_token));
    // A product of two 64-bit numbers fits in 128 bits.
    let x = u128::from(expert_params)
        .checked_mul(idle)
        .and_then(|p| p.checked_div(u128::from(a.experts)));
    x.and_then(|x| u64::try_from(x).ok()).unwrap_or(0)
}

fn is_expert(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    (n.contains("experts") || n.contains("_exps")) && !n.contains("shared")
}

struct Checkpoint {
    format: &'static str,
    files: Vec<PathBuf>,
    tensors: Vec<TensorInfo>,
    arch: Option<Arch>,
    producer: String,
    file_bytes: u64,
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::Malformed {
        path: path.to_path_buf(),
        what: "JSON file",
        reason: e.to_string(),
    })
}

/// The shard files of a `model.safetensors.index.json`: plain names in its folder only.
fn shards(index: &Path) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(index).map_err(|source| Error::Io {
        path: index.to_path_buf(),
        source,
    })?;
    let dir = index.parent().unwrap_or(Path::new("."));
    Ok(safetensors::index_shards(&bytes, index)?
        .into_iter()
        .map(|f| dir.join(f))
        .collect())
}

fn config_near(dir: &Path) -> Result<Option<Arch>> {
    let p = dir.join("config.json");
    if !p.is_file() {
        return Ok(None);
    }
    Arch::from_hf(&read_json(&p)?).map(Some)
}

/// The architecture of a `config.json` held in memory (`name` labels errors).
fn config_bytes(bytes: &[u8], name: &Path) -> Result<Arch> {
    let j = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
        path: name.to_path_buf(),
        what: "JSON file",
        reason: e.to_string(),
    })?;
    Arch::from_hf(&j)
}

/// A GGUF checkpoint from its header: the architecture from its metadata.
fn from_gguf(h: gguf::Header, path: &Path, file_bytes: u64) -> Checkpoint {
    let rows = h
        .tensors
        .iter()
        .find(|t| t.name == "token_embd.weight")
        .and_then(|t| t.shape.first().copied());
    let arch = Arch::from_gguf(&h.meta, &h.arrays, rows).ok();
    let producer = h
        .meta
        .get("general.name")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    Checkpoint {
        format: "gguf",
        files: vec![path.to_path_buf()],
        tensors: h.tensors,
        arch,
        producer,
        file_bytes,
    }
}

/// A single-file checkpoint held in memory: GGUF or safetensors (with no `config.json` beside
/// it, so no architecture for safetensors). `None` when the bytes are neither.
fn open_bytes(bytes: &[u8], name: &str) -> Option<Result<Checkpoint>> {
    let label = Path::new(name);
    if bytes.starts_with(b"GGUF") {
        return Some(
            gguf::read_bytes(bytes, label).map(|h| from_gguf(h, label, bytes.len() as u64)),
        );
    }
    if !safetensors::looks_like(bytes) {
        return None;
    }
    Some(
        safetensors::read_bytes(bytes, label).map(|tensors| Checkpoint {
            format: "safetensors",
            files: vec![label.to_path_buf()],
            tensors,
            arch: None,
            producer: String::new(),
            file_bytes: bytes.len() as u64,
        }),
    )
}

fn open(path: &Path) -> Result<Checkpoint> {
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".gguf") {
        let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        return Ok(from_gguf(gguf::read(path)?, path, file_bytes));
    }
    let files = if path.is_dir() {
        let index = dir.join("model.safetensors.index.json");
        if index.is_file() {
            shards(&index)?
        } else {
            let mut fs: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|source| Error::Io {
                    path: dir.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "safetensors" || e == "gguf")
                })
                .collect();
            fs.sort();
            if fs.len() == 1 && fs[0].extension().is_some_and(|e| e == "gguf") {
                return open(&fs[0]);
            }
            fs.retain(|p| p.extension().is_some_and(|e| e == "safetensors"));
            if fs.is_empty() {
                return Err(Error::Io {
                    path: dir.clone(),
                    source: std::io::Error::other("a folder with no .safetensors or .gguf file"),
                });
            }
            fs
        }
    } else if name.ends_with(".index.json") {
        shards(path)?
    } else {
        vec![path.to_path_buf()]
    };
    let mut shards = Vec::with_capacity(files.len());
    let mut file_bytes = 0u64;
    for f in &files {
        shards.push((f.as_path(), safetensors::read(f)?));
        let len = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        add_to(&mut file_bytes, len, "the checkpoint's file bytes")?;
    }
    let tensors = merge_shards(shards)?;
    Ok(Checkpoint {
        format: "safetensors",
        files,
        tensors,
        arch: config_near(&dir)?,
        producer: String::new(),
        file_bytes,
    })
}

/// The tensors of every shard in order, refusing a tensor stored twice.
fn merge_shards(shards: Vec<(&Path, Vec<TensorInfo>)>) -> Result<Vec<TensorInfo>> {
    let mut tensors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (f, ts) in shards {
        for t in ts {
            if !seen.insert(t.name.clone()) {
                return Err(Error::Invalid(format!(
                    "tensor '{}' is stored twice (again in {})",
                    t.name,
                    f.display()
                )));
            }
            tensors.push(t);
        }
    }
    Ok(tensors)
}

/// Sizes from `--dim`: batch (1), seq (128), past (= seq).
fn sizes(opts: &Options, warnings: &mut Vec<String>) -> Result<(u64, u64, u64)> {
    if !opts.inputs.is_empty() {
        return Err(Error::Usage(
            "--input does not apply to checkpoints: use --dim batch=B --dim seq=L --dim past=P"
                .into(),
        ));
    }
    let mut m: BTreeMap<&str, u64> = BTreeMap::new();
    for (k, v) in &opts.dims {
        match k.as_str() {
            "batch" | "seq" | "past" => {
                m.insert(k.as_str(), *v);
            }
            _ => warnings.push(
                crate::options::unknown_dim(k, &["batch".into(), "seq".into(), "past".into()])
                    + ": ignored",
            ),
        }
    }
    let seq = *m.get("seq").unwrap_or(&128);
    if !m.contains_key("seq") {
        warnings.push(
            "dim 'seq' is not bound: a prefill of 128 tokens (set it with --dim seq=N)".into(),
        );
    }
    if seq > 1 << 24 {
        return Err(Error::Usage(format!("seq={seq}: more than 16M tokens")));
    }
    let past = *m.get("past").unwrap_or(&seq);
    if past > 1 << 24 {
        return Err(Error::Usage(format!("past={past}: more than 16M tokens")));
    }
    Ok((*m.get("batch").unwrap_or(&1), seq, past))
}

fn components(tensors: &[TensorInfo]) -> Result<Vec<Component>> {
    let order = ["embeddings", "attention", "mlp", "norms", "head", "other"];
    let mut out: Vec<Component> = order
        .iter()
        .map(|c| Component {
            component: c.to_string(),
            ..Default::default()
        })
        .collect();
    for t in tensors {
        let i = order
            .iter()
            .position(|c| *c == component_of(&t.name))
            .unwrap_or(5);
        let c = &mut out[i];
        let (part, dtype) = (order[i], &t.dtype);
        // At most one per tensor: below the number of tensors.
        c.tensors = c.tensors.saturating_add(1);
        add_to(
            &mut c.params,
            t.elements,
            format_args!("the checkpoint's {part} parameters"),
        )?;
        add_to(
            &mut c.bytes,
            t.bytes,
            format_args!("the checkpoint's {part} bytes"),
        )?;
        let d = c.by_dtype.entry(t.dtype.clone()).or_default();
        let (n, what) = (t.elements, "parameters");
        add_to(
            &mut d.params,
            n,
            format_args!("the checkpoint's {part} {dtype} {what}"),
        )?;
        add_to(
            &mut d.bytes,
            t.bytes,
            format_args!("the checkpoint's {part} {dtype} bytes"),
        )?;
        d.bits_per_param = checked::bits_per_param(d.bytes, d.params);
    }
    out.retain(|c| c.tensors > 0);
    Ok(out)
}

/// Profiles a checkpoint: `totals` are the prefill of L tokens at batch B, `llm` the rest.
pub fn profile(path: &Path, opts: &Options) -> Result<Profile> {
    profile_checkpoint(open(path)?, &path.display().to_string(), opts)
}

/// Profiles a single-file checkpoint (GGUF or safetensors) held in memory; `None` when the
/// bytes are neither, so the caller can try ONNX.
pub fn profile_bytes(bytes: &[u8], name: &str, opts: &Options) -> Option<Result<Profile>> {
    Some(open_bytes(bytes, name)?.and_then(|ck| profile_checkpoint(ck, name, opts)))
}

fn profile_checkpoint(ck: Checkpoint, source: &str, opts: &Options) -> Result<Profile> {
    let mut warnings = Vec::new();
    let (batch, seq, past) = sizes(opts, &mut warnings)?;
    // A prefill is causal by construction; a decoded token's one query row sees every key.
    let half = opts.attention == crate::options::Attention::CausalHalf;
    let comps = components(&ck.tensors)?;
    let total = checked::sum(
        ck.tensors.iter().map(|t| t.elements),
        "the checkpoint's parameters",
    )?;
    let weight_bytes = checked::sum(
        ck.tensors.iter().map(|t| t.bytes),
        "the checkpoint's weight bytes",
    )?;
    let experts = checked::sum(
        ck.tensors
            .iter()
            .filter(|t| is_expert(&t.name))
            .map(|t| t.elements),
        "the checkpoint's expert parameters",
    )?;
    // Parts of the totals above, so they fit too.
    let expert_bytes = checked::sum(
        ck.tensors
            .iter()
            .filter(|t| is_expert(&t.name))
            .map(|t| t.bytes),
        "the checkpoint's expert bytes",
    )?;
    let active = match &ck.arch {
        Some(a) if a.experts > 1 => total.saturating_sub(idle_experts(experts, a)),
        _ => total,
    };
    let (e, k) = ck
        .arch
        .as_ref()
        .map_or((1, 1), |a| (a.experts, a.experts_per_token));
    let named = ck.tensors.iter().map(|t| (t.name.as_str(), t.elements));
    let breakdown = roles::breakdown(named, e, k)?;
    let params_of = |c: &str| component_size(&comps, c).0;
    let bytes_of = |c: &str| component_size(&comps, c).1;
    let mul = |xs: &[u64], what: &str| checked::product(xs, what);
    let dbl = |x: u64, what: &str| checked::mul(x, 2, what);
    let mut layers = Vec::new();
    let row = |name: &str,
               op: &str,
               params: u64,
               param_bytes: u64,
               macs: u64,
               flops: u64,
               out: Vec<u64>| Layer {
        name: name.into(),
        op: op.into(),
        domain: String::new(),
        scope: vec![],
        inputs: vec![],
        outputs: vec![Some(out)],
        params,
        param_bytes,
        macs: Some(macs),
        flops: Some(flops),
        bytes_read: 0,
        bytes_written: 0,
        activation_bytes: 0,
        roofline: None,
        backward: false,
        folded: vec![],
    };
    let mut info = LlmInfo {
        format: ck.format,
        files: ck.files.iter().map(|f| f.display().to_string()).collect(),
        arch: ck.arch.clone(),
        tensors: ck.tensors.len(),
        components: comps.clone(),
        total_params: total,
        active_params: active,
        expert_params: experts,
        expert_bytes,
        weight_bytes,
        bits_per_param: if total > 0 {
            weight_bytes as f64 * 8.0 / total as f64
        } else {
            0.0
        },
        batch,
        seq,
        past,
        prefill_attention_macs: None,
        decode_macs_per_token: None,
        decode_flops_per_token: None,
        decode_attention_macs: None,
        kv_cache_bytes_per_token: None,
        kv_cache_bytes: None,
        formulas: BTreeMap::new(),
    };
    let mut unsupported = Vec::new();
    match &ck.arch {
        Some(a) => {
            let tokens = mul(&[batch, seq], "the prefill's tokens")?;
            let proj = mul(&[tokens, a.layers, a.attn_proj_macs()?], "the prefill's projection MACs")?;
            let score_what = "the prefill's attention MACs";
            let mut scores = mul(&[batch, a.layers, seq, a.attn_score_macs(seq).ok_or_else(|| overflow(score_what))?], score_what)?;
            let mut softmax = mul(&[5, batch, a.layers, a.heads, seq, seq], "the prefill's softmax FLOPs")?;
            if half {
                // `--attention causal-half`: half the score matrix, rounded down (docs/counting.md).
                (scores, softmax) = (scores / 2, softmax / 2);
            }
            let mlp = mul(&[tokens, a.layers, a.mlp_macs()?], "the prefill's MLP MACs")?;
            let head = mul(&[tokens, a.head_macs()?], "the prefill's LM head MACs")?;
            let proj2 = dbl(proj, "the prefill's projection FLOPs")?;
            let scores2 = dbl(scores, "the prefill's attention FLOPs")?;
            let scores2 = checked::add(scores2, softmax, "the prefill's attention FLOPs")?;
            let mlp2 = dbl(mlp, "the prefill's MLP FLOPs")?;
            let head2 = dbl(head, "the prefill's LM head FLOPs")?;
            let bld = vec![batch, seq, a.hidden];
            layers.push(row("embeddings", "Gather", params_of("embeddings"), bytes_of("embeddings"), 0, 0, bld.clone()));
            layers.push(row("attention projections (Q, K, V, O)", "Linear", params_of("attention"), bytes_of("attention"), proj, proj2, bld.clone()));
            layers.push(row("attention scores (QKᵀ, softmax, AV)", "Attention", 0, 0, scores, scores2, vec![batch, a.heads, seq, seq]));
            let mlp_op = if a.experts > 1 { "MoE" } else { "MLP" };
            layers.push(row("mlp", mlp_op, params_of("mlp"), bytes_of("mlp"), mlp, mlp2, bld.clone()));
            layers.push(row("norms", "Norm", params_of("norms"), bytes_of("norms"), 0, 0, bld.clone()));
            let tied = if params_of("head") == 0 { " (tied to the embeddings)" } else { "" };
            layers.push(row(&format!("lm_head{tied}"), "Linear", params_of("head"), bytes_of("head"), head, head2, vec![batch, seq, a.vocab]));
            if params_of("other") > 0 {
                layers.push(row("other tensors", "-", params_of("other"), bytes_of("other"), 0, 0, vec![]));
            }
            let dec_what = "the decode MACs per token";
            let per_layer = checked::add(a.attn_proj_macs()?, a.mlp_macs()?, dec_what)?;
            let per_token = checked::add(mul(&[a.layers, per_layer], dec_what)?, a.head_macs()?, dec_what)?;
            // `past` is at most 2^24 (checked in `sizes`).
            let keys = checked::add(past, 1, "the decode keys")?;
            let dec_attn = mul(&[a.layers, a.attn_score_macs(keys).ok_or_else(|| overflow(dec_what))?], dec_what)?;
            let dec = checked::add(per_token, dec_attn, dec_what)?;
            info.prefill_attention_macs = Some(scores);
            info.decode_macs_per_token = Some(dec);
            info.decode_attention_macs = Some(dec_attn);
            let dec_flops = "the decode FLOPs per token";
            let dec_softmax = mul(&[5, a.layers, a.heads, keys], dec_flops)?;
            info.decode_flops_per_token = Some(checked::add(dbl(dec, dec_flops)?, dec_softmax, dec_flops)?);
            let kvt = a.kv_bytes_per_token()?;
            info.kv_cache_bytes_per_token = Some(kvt);
            info.kv_cache_bytes = Some(mul(&[kvt, batch, keys], "the KV cache bytes")?);
            let quad = mul(&[a.layers, 2, a.heads, a.head_dim], "the prefill's attention MACs")?;
            // Even (a factor 2), so the causal half is exact.
            let prefill_quad = if half { quad / 2 } else { quad };
            info.formulas.insert("prefill_macs", format!("{prefill_quad}·batch·seq^2 + {per_token}·batch·seq"));
            info.formulas.insert("decode_macs_per_token", format!("{} + {quad}·(past+1)", per_token));
            info.formulas.insert("kv_cache_bytes", format!("{kvt}·batch·(past+1)"));
            warnings.push("checkpoint FLOPs count the matrix products and softmax; norms, activations, rotary embeddings and residual adds (well under 1% of a decoder's FLOPs) are not counted".into());
            if a.experts > 1 {
                warnings.push(format!(
                    "mixture of experts: MACs count the {} of {} experts each token is routed to",
                    a.experts_per_token, a.experts
                ));
            }
        }
        None => unsupported.push(crate::schema::Unsupported {
            op: "LLM".into(),
            count: 1,
            reason: "no config.json (or GGUF architecture metadata): parameters are exact, costs need the architecture".into(),
            examples: vec![],
        }),
    }
    let mut totals = Totals {
        params: total,
        param_bytes: weight_bytes,
        weight_bytes,
        nodes: ck.tensors.len(),
        nodes_cost_unknown: usize::from(ck.arch.is_none()),
        ..Default::default()
    };
    for t in &ck.tensors {
        let d = totals.params_by_dtype.entry(t.dtype.clone()).or_default();
        let dtype = &t.dtype;
        add_to(
            &mut d.params,
            t.elements,
            format_args!("the checkpoint's {dtype} parameters"),
        )?;
        add_to(
            &mut d.bytes,
            t.bytes,
            format_args!("the checkpoint's {dtype} bytes"),
        )?;
        d.bits_per_param = checked::bits_per_param(d.bytes, d.params);
    }
    for l in &layers {
        add_to(&mut totals.macs, l.macs.unwrap_or(0), "the prefill's MACs")?;
        add_to(
            &mut totals.flops,
            l.flops.unwrap_or(0),
            "the prefill's FLOPs",
        )?;
    }
    let training = match (&opts.training, &ck.arch) {
        (Some(o), Some(a)) => Some(training::section(
            a,
            &totals,
            (batch, seq),
            half,
            o,
            &mut warnings,
        )?),
        (Some(_), None) => {
            warnings.push("training: no architecture config, so no training costs".into());
            None
        }
        (None, _) => None,
    };
    if training.is_none() {
        // Without a training step, only the KV cache is memory beyond the weights.
        warnings.push(
            "activation memory is not modelled for checkpoints: see llm.kv_cache_bytes".into(),
        );
    }
    let by_op = crate::profile::by_op_type(&layers)?;
    let mut bindings = BTreeMap::new();
    bindings.insert("batch".to_string(), batch);
    bindings.insert("seq".to_string(), seq);
    bindings.insert("past".to_string(), past);
    Ok(Profile {
        schema: crate::schema::SCHEMA,
        model: ModelInfo {
            source: source.to_string(),
            producer: format!("{} {}", ck.format, ck.producer).trim().to_string(),
            ir_version: 0,
            opset: 0,
            nodes: ck.tensors.len(),
            weights: crate::schema::WeightsStatus::Absent,
            file_bytes: ck.file_bytes,
        },
        inputs: vec![],
        outputs: vec![],
        bindings,
        totals,
        formulas: None,
        by_op_type: by_op,
        layers,
        unsupported,
        warnings,
        llm: Some(info),
        roofline: None,
        training,
        param_breakdown: Some(breakdown),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_from_hugging_face_and_gguf_names() {
        for (name, want) in [
            ("model.embed_tokens.weight", "embeddings"),
            ("transformer.wpe.weight", "embeddings"),
            ("token_embd.weight", "embeddings"),
            ("model.layers.3.self_attn.k_proj.weight", "attention"),
            ("h.0.attn.c_attn.bias", "attention"),
            ("blk.7.attn_v.weight", "attention"),
            ("model.layers.0.mlp.down_proj.weight", "mlp"),
            ("model.layers.0.block_sparse_moe.experts.3.w2.weight", "mlp"),
            ("blk.0.ffn_gate_exps.weight", "mlp"),
            ("blk.0.attn_norm.weight", "norms"),
            ("h.11.ln_2.bias", "norms"),
            ("output_norm.weight", "norms"),
            ("lm_head.weight", "head"),
            ("output.weight", "head"),
            ("rope_freqs.weight", "other"),
        ] {
            assert_eq!(component_of(name), want, "{name}");
        }
        assert!(is_expert("blk.0.ffn_up_exps.weight"));
        assert!(!is_expert("model.layers.0.mlp.shared_experts.up.weight"));
    }

    #[test]
    fn quantized_bits_per_weight() {
        assert_eq!(gguf::bits_per_weight("q4_0"), Some(4.5));
        assert_eq!(gguf::bits_per_weight("q8_0"), Some(8.5));
        assert_eq!(gguf::bits_per_weight("q4_k"), Some(4.5));
        assert_eq!(gguf::bits_per_weight("q6_k"), Some(6.5625));
        assert_eq!(gguf::bits_per_weight("f16"), Some(16.0));
    }
}
