//! Decoder architecture from a Hugging Face `config.json` or GGUF metadata, and its costs:
//! prefill of L tokens, one decoded token at context position P, KV cache. Every formula is in
//! `docs/counting.md` ("Language-model checkpoints").

use std::collections::BTreeMap;

use crate::checked;
use crate::error::{Error, Result};
use crate::schema::Arch;

fn get(c: &serde_json::Value, keys: &[&str]) -> Option<u64> {
    keys.iter().find_map(|k| c.get(*k).and_then(|v| v.as_u64()))
}

impl Arch {
    /// From a Hugging Face `config.json`.
    pub fn from_hf(c: &serde_json::Value) -> Result<Arch> {
        let family = c["model_type"].as_str().unwrap_or("").to_string();
        let need = |keys: &[&str]| {
            get(c, keys).ok_or_else(|| {
                Error::Usage(format!(
                    "config.json has no {} (model_type '{family}')",
                    keys.join(" or ")
                ))
            })
        };
        let hidden = need(&["hidden_size", "n_embd", "d_model"])?;
        let heads = need(&["num_attention_heads", "n_head"])?;
        let gpt2 = family == "gpt2";
        let arch = Arch {
            hidden,
            layers: need(&["num_hidden_layers", "n_layer"])?,
            heads,
            kv_heads: get(c, &["num_key_value_heads"]).unwrap_or(heads),
            head_dim: get(c, &["head_dim"]).unwrap_or(hidden.checked_div(heads).unwrap_or(0)),
            intermediate: if gpt2 {
                // GPT-2's default; a hidden size past 2^62 is refused by `check` (as past 2^24).
                get(c, &["n_inner"]).unwrap_or(hidden.saturating_mul(4))
            } else {
                need(&["intermediate_size"])?
            },
            vocab: need(&["vocab_size"])?,
            experts: get(c, &["num_local_experts", "num_experts"])
                .unwrap_or(1)
                .max(1),
            experts_per_token: get(c, &["num_experts_per_tok"]).unwrap_or(1).max(1),
            gated_mlp: !gpt2,
            kv_bytes: match c["torch_dtype"].as_str() {
                Some("float32") => 4,
                _ => 2,
            },
            family,
        };
        arch.check()
    }

    /// From GGUF metadata (`{arch}.embedding_length`, …); the vocabulary from the token list or
    /// the embedding's shape.
    pub fn from_gguf(
        meta: &BTreeMap<String, serde_json::Value>,
        arrays: &BTreeMap<String, u64>,
        embedding_rows: Option<u64>,
    ) -> Result<Arch> {
        let family = meta
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or_else(|| Error::Usage("the GGUF metadata has no general.architecture".into()))?
            .to_string();
        let key = |k: &str| meta.get(&format!("{family}.{k}")).and_then(|v| v.as_u64());
        let need = |k: &str| {
            key(k).ok_or_else(|| Error::Usage(format!("the GGUF metadata has no {family}.{k}")))
        };
        let hidden = need("embedding_length")?;
        let heads = need("attention.head_count")?;
        let arch = Arch {
            hidden,
            layers: need("block_count")?,
            heads,
            kv_heads: key("attention.head_count_kv").unwrap_or(heads),
            head_dim: key("attention.key_length").unwrap_or(hidden.checked_div(heads).unwrap_or(0)),
            intermediate: key("expert_feed_forward_length")
                .or(key("feed_forward_length"))
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "the GGUF metadata has no {family}.feed_forward_length"
                    ))
                })?,
            vocab: arrays
                .get("tokenizer.ggml.tokens")
                .copied()
                .or(key("vocab_size"))
                .or(embedding_rows)
                .ok_or_else(|| Error::Usage("no vocabulary size in the GGUF file".into()))?,
            experts: key("expert_count").unwrap_or(1).max(1),
            experts_per_token: key("expert_used_count").unwrap_or(1).max(1),
            gated_mlp: family != "gpt2",
            kv_bytes: 2,
            family,
        };
        arch.check()
    }

    fn check(self) -> Result<Arch> {
        let bad = |why: String| Err(Error::Usage(format!("architecture config: {why}")));
        if self.hidden == 0 || self.layers == 0 || self.heads == 0 || self.vocab == 0 {
            return bad("hidden size, layers, heads and vocabulary must be positive".into());
        }
        if self.heads.checked_rem(self.kv_heads) != Some(0) {
            return bad(format!(
                "{} query heads cannot share {} key/value heads",
                self.heads, self.kv_heads
            ));
        }
        if self.experts_per_token > self.experts {
            return bad(format!(
                "{} experts per token of {} experts",
                self.experts_per_token, self.experts
            ));
        }
        // Keep every product below 2^64 even at a million tokens of context.
        for v in [
            self.hidden,
            self.intermediate,
            self.vocab,
            self.head_dim,
            self.heads,
        ] {
            if v > 1 << 24 {
                return bad(format!("a size of {v} is beyond any real model"));
            }
        }
        if self.layers > 1 << 12 || self.experts > 1 << 12 {
            return bad("more than 4096 layers or experts".into());
        }
        Ok(self)
    }

    /// MACs of one token through the projections (Q, K, V, O), per layer. (`check` keeps this
    /// and the other per-token sizes below 2^64; they are checked all the same.)
    pub fn attn_proj_macs(&self) -> Result<u64> {
        let what = "the attention projections' MACs per token";
        let q = checked::mul(self.heads, self.head_dim, what)?;
        let kv = checked::mul(self.kv_heads, self.head_dim, what)?;
        checked::sum(
            [
                checked::mul(self.hidden, q, what)?,
                checked::product(&[2, self.hidden, kv], what)?,
                checked::mul(q, self.hidden, what)?,
            ],
            what,
        )
    }

    /// MACs of one token through the MLP (the routed experts and the router), per layer.
    pub fn mlp_macs(&self) -> Result<u64> {
        let what = "the MLP's MACs per token";
        let mats = if self.gated_mlp { 3 } else { 2 };
        let router = if self.experts > 1 {
            checked::mul(self.hidden, self.experts, what)?
        } else {
            0
        };
        let experts = [self.experts_per_token, mats, self.hidden, self.intermediate];
        checked::add(checked::product(&experts, what)?, router, what)
    }

    /// MACs of QKᵀ and AV for one query over `keys` keys, per layer.
    pub fn attn_score_macs(&self, keys: u64) -> Option<u64> {
        [2, self.heads, self.head_dim, keys]
            .iter()
            .try_fold(1u64, |acc, &x| acc.checked_mul(x))
    }

    /// MACs of the LM head for one token.
    pub fn head_macs(&self) -> Result<u64> {
        checked::mul(self.hidden, self.vocab, "the LM head's MACs per token")
    }

    /// Bytes of K and V for one token across all layers.
    pub fn kv_bytes_per_token(&self) -> Result<u64> {
        let dims = [2, self.layers, self.kv_heads, self.head_dim, self.kv_bytes];
        checked::product(&dims, "the KV cache bytes per token")
    }
}
