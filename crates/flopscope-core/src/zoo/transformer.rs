//! Transformer architectures: torchvision's ViT, Hugging Face BERT, GPT-2 and Llama.
//! Attention is spelled out (MatMul, Softmax, MatMul) as exporters write it, so its quadratic
//! cost in the sequence length is counted.

use super::ZooOptions;
use crate::builder::Builder;
use crate::error::{Error, Result};
use crate::graph::{Attr, DType, Dim, Graph, ValueId};

fn token_input(b: &mut Builder) -> ValueId {
    b.input(
        "input",
        DType::I64,
        vec![Dim::Sym("batch".into()), Dim::Sym("seq".into())],
    )
}

/// `[0, 1, …, seq − 1]` for the input's sequence length.
fn positions(b: &mut Builder, tokens: ValueId) -> ValueId {
    let shape = b.op("Shape", &[tokens], vec![]);
    let one = b.const_i64(&[1]);
    let seq = b.op("Gather", &[shape, one], vec![("axis", Attr::Int(0))]);
    let zero = b.const_i64(&[0]);
    let step = b.const_i64(&[1]);
    let (zero, seq, step) = (squeeze0(b, zero), squeeze0(b, seq), squeeze0(b, step));
    b.op("Range", &[zero, seq, step], vec![])
}

fn squeeze0(b: &mut Builder, x: ValueId) -> ValueId {
    let ax = b.const_i64(&[0]);
    b.op("Squeeze", &[x, ax], vec![])
}

fn split3(b: &mut Builder, x: ValueId, d: u64) -> Vec<ValueId> {
    let sizes = b.const_i64(&[d as i64, d as i64, d as i64]);
    b.op_n("Split", &[x, sizes], vec![("axis", Attr::Int(-1))], 3)
}

/// `[B, L, H·D]` → `[B, H, L, D]`.
fn heads(b: &mut Builder, x: ValueId, h: u64, d: u64) -> ValueId {
    let x = b.reshape(x, &[0, 0, h as i64, d as i64]);
    b.transpose(x, &[0, 2, 1, 3])
}

/// Scaled dot-product attention on `[B, H, L, D]` tensors; `causal` adds a −∞ upper triangle.
/// Returns `[B, L, H·D]`.
fn attend(b: &mut Builder, q: ValueId, k: ValueId, v: ValueId, d: u64, causal: bool) -> ValueId {
    let kt = b.transpose(k, &[0, 1, 3, 2]);
    let s = b.op("MatMul", &[q, kt], vec![]);
    let scale = b.const_f32(1.0 / (d as f32).sqrt());
    let mut s = b.binary("Mul", s, scale);
    if causal {
        // Mask from the scores' own shape: Trilu keeps the strict upper triangle of −∞.
        let shape = b.op("Shape", &[s], vec![]);
        let fill = crate::graph::Initializer {
            value: usize::MAX,
            dtype: DType::F32,
            dims: vec![1],
            data: crate::graph::TensorData::Floats(vec![-1e9]),
        };
        let neg = b.op(
            "ConstantOfShape",
            &[shape],
            vec![("value", Attr::Tensor(Box::new(fill)))],
        );
        let one = b.const_i64(&[1]);
        let one = squeeze0(b, one);
        let mask = b.op("Trilu", &[neg, one], vec![("upper", Attr::Int(1))]);
        s = b.binary("Add", s, mask);
    }
    let p = b.op("Softmax", &[s], vec![("axis", Attr::Int(-1))]);
    let o = b.op("MatMul", &[p, v], vec![]);
    let o = b.transpose(o, &[0, 2, 1, 3]);
    b.reshape(o, &[0, 0, -1])
}

/// The transformer MLP in module `mlp`: Linear(dim → inner), GELU (tanh approximation when
/// `tanh`), Linear(inner → dim), its two layers named `names`.
fn gelu_mlp(
    b: &mut Builder,
    names: [&str; 2],
    x: ValueId,
    dim: u64,
    inner: u64,
    tanh: bool,
) -> ValueId {
    b.scoped("mlp", |b| {
        let y = b.linear(names[0], x, dim, inner, true);
        let y = b.gelu(y, tanh);
        b.linear(names[1], y, inner, dim, true)
    })
}

/// Attention from one fused `[B, L, 3·hidden]` projection: split, heads, attend.
fn fused_attention(
    b: &mut Builder,
    qkv: ValueId,
    hidden: u64,
    nheads: u64,
    causal: bool,
) -> ValueId {
    let d = hidden / nheads;
    let p = split3(b, qkv, hidden);
    let q = heads(b, p[0], nheads, d);
    let k = heads(b, p[1], nheads, d);
    let v = heads(b, p[2], nheads, d);
    attend(b, q, k, v, d, causal)
}

/// torchvision `vit_b_16` / `vit_l_16`.
pub fn vit(
    o: &ZooOptions,
    patch: u64,
    hidden: u64,
    layers: usize,
    nheads: u64,
    mlp: u64,
) -> Result<Graph> {
    let (h, w) = o.resolution;
    if h % patch != 0 || w % patch != 0 {
        return Err(Error::Usage(format!(
            "the resolution must be a multiple of the patch size {patch}"
        )));
    }
    let n = (h / patch) * (w / patch);
    let mut b = Builder::new("vit");
    let x = super::cnn::image_input(&mut b, o);
    let x = b.conv2d("conv_proj", x, 3, hidden, patch, patch, 0, 1, true);
    let x = b.reshape(x, &[0, hidden as i64, -1]);
    let x = b.transpose(x, &[0, 2, 1]);
    // class_token.expand(batch, -1, -1), then prepend.
    let ct = b.weight("class_token", &[1, 1, hidden]);
    let shape = b.op("Shape", &[x], vec![]);
    let (s0, s1) = (b.const_i64(&[0]), b.const_i64(&[1]));
    let batch = b.op("Slice", &[shape, s0, s1], vec![]);
    let rest = b.const_i64(&[1, hidden as i64]);
    let target = b.op("Concat", &[batch, rest], vec![("axis", Attr::Int(0))]);
    let ct = b.op("Expand", &[ct, target], vec![]);
    let x = b.op("Concat", &[ct, x], vec![("axis", Attr::Int(1))]);
    let mut x = b.scoped("encoder", |b| {
        let pos = b.weight("pos_embedding", &[1, n + 1, hidden]);
        b.binary("Add", x, pos)
    });
    b.push("encoder");
    b.push("layers");
    for i in 0..layers {
        x = b.scoped(&format!("encoder_layer_{i}"), |b| {
            let y = b.layernorm("ln_1", x, hidden, 1e-6);
            let y = b.scoped("self_attention", |b| {
                // nn.MultiheadAttention: one in-projection [3·hidden], then the out-projection.
                let qkv = b.scoped("in_proj", |b| {
                    let w = b.weight("weight", &[hidden, 3 * hidden]);
                    let y = b.op("MatMul", &[y, w], vec![]);
                    let bias = b.weight("bias", &[3 * hidden]);
                    b.binary("Add", y, bias)
                });
                let a = fused_attention(b, qkv, hidden, nheads, false);
                b.linear("out_proj", a, hidden, hidden, true)
            });
            let x = b.binary("Add", x, y);
            let y = b.layernorm("ln_2", x, hidden, 1e-6);
            let y = gelu_mlp(b, ["mlp.0", "mlp.3"], y, hidden, mlp, false);
            b.binary("Add", x, y)
        });
    }
    b.pop();
    let x = b.layernorm("ln", x, hidden, 1e-6);
    b.pop();
    let first = b.const_i64(&[0]);
    let first = squeeze0(&mut b, first);
    let cls = b.op("Gather", &[x, first], vec![("axis", Attr::Int(1))]);
    let y = b.scoped("heads", |b| b.gemm("head", cls, hidden, o.num_classes));
    b.output(y);
    Ok(b.finish())
}

/// Hugging Face `BertModel` (vocabulary 30,522, 512 positions, 2 token types): returns the last
/// hidden state and the pooler output.
pub fn bert(layers: usize, hidden: u64, nheads: u64, inter: u64) -> Result<Graph> {
    let mut b = Builder::new("bert");
    let ids = token_input(&mut b);
    let d = hidden / nheads;
    b.push("embeddings");
    let word = b.weight("word_embeddings.weight", &[30522, hidden]);
    let pos_table = b.weight("position_embeddings.weight", &[512, hidden]);
    let type_table = b.weight("token_type_embeddings.weight", &[2, hidden]);
    let e = b.op("Gather", &[word, ids], vec![]);
    let pos = positions(&mut b, ids);
    let p = b.op("Gather", &[pos_table, pos], vec![]);
    let shape = b.op("Shape", &[ids], vec![]);
    let zero = crate::graph::Initializer {
        value: usize::MAX,
        dtype: DType::I64,
        dims: vec![1],
        data: crate::graph::TensorData::Ints(vec![0]),
    };
    let types = b.op(
        "ConstantOfShape",
        &[shape],
        vec![("value", Attr::Tensor(Box::new(zero)))],
    );
    let t = b.op("Gather", &[type_table, types], vec![]);
    let e = b.binary("Add", e, t);
    let e = b.binary("Add", e, p);
    let mut x = b.layernorm("LayerNorm", e, hidden, 1e-12);
    b.pop();
    b.push("encoder");
    for i in 0..layers {
        x = b.scoped(&format!("layer.{i}"), |b| {
            let a = b.scoped("attention", |b| {
                let s = b.scoped("self", |b| {
                    let q = b.linear("query", x, hidden, hidden, true);
                    let k = b.linear("key", x, hidden, hidden, true);
                    let v = b.linear("value", x, hidden, hidden, true);
                    let (q, k, v) = (
                        heads(b, q, nheads, d),
                        heads(b, k, nheads, d),
                        heads(b, v, nheads, d),
                    );
                    attend(b, q, k, v, d, false)
                });
                b.scoped("output", |b| {
                    let y = b.linear("dense", s, hidden, hidden, true);
                    let y = b.binary("Add", y, x);
                    b.layernorm("LayerNorm", y, hidden, 1e-12)
                })
            });
            let m = b.scoped("intermediate", |b| {
                let y = b.linear("dense", a, hidden, inter, true);
                b.gelu(y, false)
            });
            b.scoped("output", |b| {
                let y = b.linear("dense", m, inter, hidden, true);
                let y = b.binary("Add", y, a);
                b.layernorm("LayerNorm", y, hidden, 1e-12)
            })
        });
    }
    b.pop();
    let pooled = b.scoped("pooler", |b| {
        let first = b.const_i64(&[0]);
        let first = squeeze0(b, first);
        let cls = b.op("Gather", &[x, first], vec![("axis", Attr::Int(1))]);
        let y = b.linear("dense", cls, hidden, hidden, true);
        b.unary("Tanh", y)
    });
    b.output(x);
    b.output(pooled);
    Ok(b.finish())
}

/// Hugging Face `GPT2LMHeadModel` (vocabulary 50,257, 1,024 positions), the LM head tied to
/// the token embedding (one parameter tensor, used twice).
pub fn gpt2(layers: usize, hidden: u64, nheads: u64) -> Result<Graph> {
    let mut b = Builder::new("gpt2");
    let ids = token_input(&mut b);
    b.push("transformer");
    let wte = b.weight("wte.weight", &[50257, hidden]);
    let wpe = b.weight("wpe.weight", &[1024, hidden]);
    let e = b.op("Gather", &[wte, ids], vec![]);
    let pos = positions(&mut b, ids);
    let p = b.op("Gather", &[wpe, pos], vec![]);
    let mut x = b.binary("Add", e, p);
    for i in 0..layers {
        x = b.scoped(&format!("h.{i}"), |b| {
            let y = b.layernorm("ln_1", x, hidden, 1e-5);
            let y = b.scoped("attn", |b| {
                let qkv = b.linear("c_attn", y, hidden, 3 * hidden, true);
                let a = fused_attention(b, qkv, hidden, nheads, true);
                b.linear("c_proj", a, hidden, hidden, true)
            });
            let x = b.binary("Add", x, y);
            let y = b.layernorm("ln_2", x, hidden, 1e-5);
            let y = gelu_mlp(b, ["c_fc", "c_proj"], y, hidden, 4 * hidden, true);
            b.binary("Add", x, y)
        });
    }
    let x = b.layernorm("ln_f", x, hidden, 1e-5);
    b.pop();
    let logits = b.scoped("lm_head", |b| {
        let wt = b.transpose(wte, &[1, 0]);
        b.op("MatMul", &[x, wt], vec![])
    });
    b.output(logits);
    Ok(b.finish())
}

/// A Llama-style decoder configuration (Hugging Face `LlamaConfig` fields).
#[derive(Clone, Debug)]
pub struct LlamaConfig {
    /// `hidden_size`
    pub hidden: u64,
    /// `num_hidden_layers`
    pub layers: usize,
    /// `num_attention_heads`
    pub heads: u64,
    /// `num_key_value_heads` (grouped-query attention when smaller than `heads`)
    pub kv_heads: u64,
    /// `intermediate_size`
    pub intermediate: u64,
    /// `vocab_size`
    pub vocab: u64,
}

impl LlamaConfig {
    /// Llama-2-7B.
    pub const LLAMA_7B: LlamaConfig = LlamaConfig {
        hidden: 4096,
        layers: 32,
        heads: 32,
        kv_heads: 32,
        intermediate: 11008,
        vocab: 32000,
    };
}

fn rms_norm(b: &mut Builder, name: &str, x: ValueId, dim: u64) -> ValueId {
    b.scoped(name, |b| {
        let sq = b.binary("Mul", x, x);
        // Opset 17: ReduceMean takes its axes as an attribute.
        let ms = b.op(
            "ReduceMean",
            &[sq],
            vec![("axes", crate::builder::ints(&[-1]))],
        );
        let eps = b.const_f32(1e-6);
        let ms = b.binary("Add", ms, eps);
        let r = b.unary("Sqrt", ms);
        let r = b.unary("Reciprocal", r);
        let y = b.binary("Mul", x, r);
        let w = b.weight("weight", &[dim]);
        b.binary("Mul", y, w)
    })
}

/// Rotary embedding on `[B, H, L, D]`: x·cos + rotate_half(x)·sin, angles computed at run time
/// from the positions (no table stored: it is not a parameter).
fn rotary(b: &mut Builder, x: ValueId, pos: ValueId, d: u64) -> ValueId {
    let half = d / 2;
    // inv_freq = 10000^(−2i/d) for i < d/2, as exp(i · (−2·ln(10000)/d)).
    let (z, n, one) = (
        b.const_i64(&[0]),
        b.const_i64(&[half as i64]),
        b.const_i64(&[1]),
    );
    let (z, n, one) = (squeeze0(b, z), squeeze0(b, n), squeeze0(b, one));
    let i = b.op("Range", &[z, n, one], vec![]);
    let i = b.op("Cast", &[i], vec![("to", Attr::Int(1))]);
    let c = b.const_f32(-2.0 * (10000f32).ln() / d as f32);
    let inv = b.binary("Mul", i, c);
    let inv = b.unary("Exp", inv);
    let p = b.op("Cast", &[pos], vec![("to", Attr::Int(1))]);
    let ax = b.const_i64(&[1]);
    let p = b.op("Unsqueeze", &[p, ax], vec![]);
    let ang = b.binary("Mul", p, inv); // [L, D/2]
    let ang = b.op("Concat", &[ang, ang], vec![("axis", Attr::Int(-1))]); // [L, D]
    let (cos, sin) = (b.unary("Cos", ang), b.unary("Sin", ang));
    let parts = {
        let sizes = b.const_i64(&[half as i64, half as i64]);
        b.op_n("Split", &[x, sizes], vec![("axis", Attr::Int(-1))], 2)
    };
    let neg = b.unary("Neg", parts[1]);
    let rot = b.op("Concat", &[neg, parts[0]], vec![("axis", Attr::Int(-1))]);
    let a = b.binary("Mul", x, cos);
    let r = b.binary("Mul", rot, sin);
    b.binary("Add", a, r)
}

/// A Llama-style causal LM (`LlamaForCausalLM`): RMSNorm, rotary positions, grouped-query
/// attention, SwiGLU MLP, untied LM head.
pub fn llama(c: &LlamaConfig) -> Result<Graph> {
    if c.heads % c.kv_heads != 0 || c.hidden % c.heads != 0 {
        return Err(Error::Usage(
            "heads must divide hidden and be a multiple of kv_heads".into(),
        ));
    }
    let mut b = Builder::new("llama");
    let ids = token_input(&mut b);
    let d = c.hidden / c.heads;
    let kvd = c.kv_heads * d;
    b.push("model");
    let table = b.weight("embed_tokens.weight", &[c.vocab, c.hidden]);
    let mut x = b.op("Gather", &[table, ids], vec![]);
    let pos = positions(&mut b, ids);
    for i in 0..c.layers {
        x = b.scoped(&format!("layers.{i}"), |b| {
            let y = rms_norm(b, "input_layernorm", x, c.hidden);
            let y = b.scoped("self_attn", |b| {
                let q = b.linear("q_proj", y, c.hidden, c.hidden, false);
                let k = b.linear("k_proj", y, c.hidden, kvd, false);
                let v = b.linear("v_proj", y, c.hidden, kvd, false);
                let q = heads(b, q, c.heads, d);
                let k = heads(b, k, c.kv_heads, d);
                let v = heads(b, v, c.kv_heads, d);
                let q = rotary(b, q, pos, d);
                let k = rotary(b, k, pos, d);
                let (k, v) = if c.kv_heads == c.heads {
                    (k, v)
                } else {
                    // repeat_kv: [B, KV, L, D] → [B, KV, rep, L, D] → [B, H, L, D].
                    let rep = c.heads / c.kv_heads;
                    let mut expand = |t: ValueId| {
                        let ax = b.const_i64(&[2]);
                        let t = b.op("Unsqueeze", &[t, ax], vec![]);
                        let shape = b.const_i64(&[1, 1, rep as i64, 1, 1]);
                        let t = b.op("Expand", &[t, shape], vec![]);
                        b.reshape(t, &[0, c.heads as i64, -1, d as i64])
                    };
                    (expand(k), expand(v))
                };
                let a = attend(b, q, k, v, d, true);
                b.linear("o_proj", a, c.hidden, c.hidden, false)
            });
            let x = b.binary("Add", x, y);
            let y = rms_norm(b, "post_attention_layernorm", x, c.hidden);
            let y = b.scoped("mlp", |b| {
                let g = b.linear("gate_proj", y, c.hidden, c.intermediate, false);
                let s = b.unary("Sigmoid", g);
                let g = b.binary("Mul", g, s);
                let u = b.linear("up_proj", y, c.hidden, c.intermediate, false);
                let h = b.binary("Mul", g, u);
                b.linear("down_proj", h, c.intermediate, c.hidden, false)
            });
            b.binary("Add", x, y)
        });
    }
    let x = rms_norm(&mut b, "norm", x, c.hidden);
    b.pop();
    let logits = b.linear("lm_head", x, c.hidden, c.vocab, false);
    b.output(logits);
    Ok(b.finish())
}

/// A float32 constant tensor (a `Constant` node: not a parameter).
fn const_tensor(b: &mut Builder, dims: Vec<u64>, values: Vec<f64>) -> ValueId {
    let t = crate::graph::Initializer {
        value: usize::MAX,
        dtype: DType::F32,
        dims,
        data: crate::graph::TensorData::Floats(values),
    };
    b.op("Constant", &[], vec![("value", Attr::Tensor(Box::new(t)))])
}

/// torch.roll by `shift` on axes 1 and 2 of `[B, H, W, C]`: two slices and a concat per axis.
fn roll(b: &mut Builder, x: ValueId, shift: i64, size: u64) -> ValueId {
    let mut x = x;
    let s = shift.rem_euclid(size as i64);
    for axis in [1i64, 2] {
        let (ax, z, cut, end) = (
            b.const_i64(&[axis]),
            b.const_i64(&[0]),
            b.const_i64(&[size as i64 - s]),
            b.const_i64(&[size as i64]),
        );
        let tail = b.op("Slice", &[x, cut, end, ax], vec![]);
        let head = b.op("Slice", &[x, z, cut, ax], vec![]);
        x = b.op("Concat", &[tail, head], vec![("axis", Attr::Int(axis))]);
    }
    x
}

/// Relative position index of a 7×7 window (torchvision's `relative_position_index`).
fn relative_index(w: i64) -> Vec<i64> {
    let n = (w * w) as usize;
    let mut idx = Vec::with_capacity(n * n);
    for i in 0..n as i64 {
        for j in 0..n as i64 {
            let (hi, wi, hj, wj) = (i / w, i % w, j / w, j % w);
            idx.push((hi - hj + w - 1) * (2 * w - 1) + (wi - wj + w - 1));
        }
    }
    idx
}

/// The shifted-window attention mask: −100 between tokens from different regions.
fn shift_mask(size: u64, w: u64, shift: u64) -> Vec<f64> {
    let label = |p: u64| {
        if p < size - w {
            0
        } else if p < size - shift {
            1
        } else {
            2
        }
    };
    let nw = size / w;
    let mut mask = Vec::with_capacity((nw * nw * w * w * w * w) as usize);
    for wh in 0..nw {
        for ww in 0..nw {
            let region = |t: u64| label(wh * w + t / w) * 3 + label(ww * w + t % w);
            for i in 0..w * w {
                for j in 0..w * w {
                    mask.push(if region(i) == region(j) { 0.0 } else { -100.0 });
                }
            }
        }
    }
    mask
}

/// torchvision `swin_t`: patch 4, width 96, depths 2-2-6-2, heads 3-6-12-24, window 7.
pub fn swin_t(o: &ZooOptions) -> Result<Graph> {
    let (res, win) = (o.resolution, 7u64);
    if res.0 != res.1 || res.0 % (32 * win) != 0 {
        return Err(Error::Usage(
            "swin_t needs a square resolution that is a multiple of 224".into(),
        ));
    }
    let mut b = Builder::new("swin_t");
    let x = super::cnn::image_input(&mut b, o);
    b.push("features");
    let mut x = b.scoped("features.0", |b| {
        let y = b.conv2d("0", x, 3, 96, 4, 4, 0, 1, true);
        let y = b.transpose(y, &[0, 2, 3, 1]);
        b.layernorm("2", y, 96, 1e-5)
    });
    let (mut size, mut dim) = (res.0 / 4, 96u64);
    let wi = win as i64;
    for (si, (&depth, &heads)) in [2usize, 2, 6, 2].iter().zip(&[3u64, 6, 12, 24]).enumerate() {
        b.push(&format!("features.{}", 2 * si + 1));
        let nw = size / win;
        let d = dim / heads;
        for i in 0..depth {
            // The last stage's single window covers the whole map: no shift there.
            let shift = if i % 2 == 1 && size > win { win / 2 } else { 0 };
            x = b.scoped(&format!("features.{}.{i}", 2 * si + 1), |b| {
                let y = b.layernorm("norm1", x, dim, 1e-5);
                let y = b.scoped("attn", |b| {
                    let y = if shift > 0 {
                        roll(b, y, -(shift as i64), size)
                    } else {
                        y
                    };
                    let (n, s, c) = (nw as i64, size as i64, dim as i64);
                    let y = b.reshape(y, &[0, n, wi, n, wi, c]);
                    let y = b.transpose(y, &[0, 1, 3, 2, 4, 5]);
                    let y = b.reshape(y, &[-1, wi * wi, c]);
                    let qkv = b.linear("qkv", y, dim, 3 * dim, true);
                    let qkv = b.reshape(qkv, &[0, 0, 3, heads as i64, d as i64]);
                    let qkv = b.transpose(qkv, &[2, 0, 3, 1, 4]);
                    let parts = {
                        let sizes = b.const_i64(&[1, 1, 1]);
                        b.op_n("Split", &[qkv, sizes], vec![("axis", Attr::Int(0))], 3)
                    };
                    let sq = |b: &mut Builder, t: ValueId| squeeze0(b, t);
                    let (q, k, v) = (sq(b, parts[0]), sq(b, parts[1]), sq(b, parts[2]));
                    let scale = b.const_f32(1.0 / (d as f32).sqrt());
                    let q = b.binary("Mul", q, scale);
                    let kt = b.transpose(k, &[0, 1, 3, 2]);
                    let a = b.op("MatMul", &[q, kt], vec![]);
                    let table = b.weight(
                        "relative_position_bias_table",
                        &[((2 * win - 1) * (2 * win - 1)), heads],
                    );
                    let idx = b.const_i64(&relative_index(wi));
                    let bias = b.op("Gather", &[table, idx], vec![]);
                    let bias = b.reshape(bias, &[wi * wi, wi * wi, -1]);
                    let bias = b.transpose(bias, &[2, 0, 1]);
                    let mut a = b.binary("Add", a, bias);
                    if shift > 0 {
                        let a5 = b.reshape(a, &[-1, n * n, heads as i64, wi * wi, wi * wi]);
                        let m = const_tensor(
                            b,
                            vec![1, nw * nw, 1, win * win, win * win],
                            shift_mask(size, win, shift),
                        );
                        let a5 = b.binary("Add", a5, m);
                        a = b.reshape(a5, &[-1, heads as i64, wi * wi, wi * wi]);
                    }
                    let p = b.op("Softmax", &[a], vec![("axis", Attr::Int(-1))]);
                    let y = b.op("MatMul", &[p, v], vec![]);
                    let y = b.transpose(y, &[0, 2, 1, 3]);
                    let y = b.reshape(y, &[0, 0, c]);
                    let y = b.linear("proj", y, dim, dim, true);
                    let y = b.reshape(y, &[-1, n, n, wi, wi, c]);
                    let y = b.transpose(y, &[0, 1, 3, 2, 4, 5]);
                    let y = b.reshape(y, &[-1, s, s, c]);
                    if shift > 0 {
                        roll(b, y, shift as i64, size)
                    } else {
                        y
                    }
                });
                let x = b.binary("Add", x, y);
                let y = b.layernorm("norm2", x, dim, 1e-5);
                let y = gelu_mlp(b, ["0", "3"], y, dim, 4 * dim, false);
                b.binary("Add", x, y)
            });
        }
        b.pop();
        if si < 3 {
            x = b.scoped(&format!("features.{}", 2 * si + 2), |b| {
                // PatchMerging: the four 2×2 phases side by side, LayerNorm, then a reduction.
                let mut quads = Vec::new();
                for (h0, w0) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (st, en, ax, step) = (
                        b.const_i64(&[h0, w0]),
                        b.const_i64(&[i64::MAX, i64::MAX]),
                        b.const_i64(&[1, 2]),
                        b.const_i64(&[2, 2]),
                    );
                    quads.push(b.op("Slice", &[x, st, en, ax, step], vec![]));
                }
                let y = b.op("Concat", &quads, vec![("axis", Attr::Int(-1))]);
                let y = b.layernorm("norm", y, 4 * dim, 1e-5);
                b.linear("reduction", y, 4 * dim, 2 * dim, false)
            });
            size /= 2;
            dim *= 2;
        }
    }
    b.pop();
    let x = b.layernorm("norm", x, dim, 1e-5);
    let x = b.transpose(x, &[0, 3, 1, 2]);
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = b.op("Flatten", &[x], vec![("axis", Attr::Int(1))]);
    let x = b.gemm("head", x, dim, o.num_classes);
    b.output(x);
    Ok(b.finish())
}
