//! Parameters by role from tensor names (Hugging Face and GGUF conventions), and the
//! parameters one token uses in a mixture of experts: [`breakdown`]. Read by the checkpoint
//! path and by the Python front-end for a traced Hugging Face module (its `named_parameters`).
#![deny(clippy::arithmetic_side_effects, clippy::disallowed_methods)]

use crate::checked::add_to;
use crate::error::{Error, Result};
use crate::schema::ParamBreakdown;

/// The role of one tensor, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Token or position embeddings.
    Embeddings,
    /// The output projection.
    Head,
    /// Attention projections.
    Attention,
    /// Norm weights.
    Norms,
    /// An MLP every token runs.
    DenseMlp,
    /// A router choosing experts (`mlp.gate`, `block_sparse_moe.gate`, `ffn_gate_inp`, `router`).
    Router,
    /// A shared expert (`shared_experts`, `shared_expert`, GGUF `_shexp`).
    SharedExperts,
    /// A routed expert (`experts`, GGUF `_exps`).
    RoutedExperts,
    /// Anything else.
    Other,
}

/// The role of the tensor `name`. Experts and routers are told apart before the components of
/// [`super::component_of`], which would file them all under the MLP.
///
/// ```
/// use flopscope_core::llm::roles::{role_of, Role};
/// assert_eq!(role_of("model.layers.3.mlp.gate.weight"), Role::Router);
/// assert_eq!(role_of("model.layers.0.mlp.gate_proj.weight"), Role::DenseMlp);
/// ```
pub fn role_of(name: &str) -> Role {
    let n = name.to_ascii_lowercase();
    if n.contains("shared_expert") || n.contains("_shexp") {
        Role::SharedExperts
    } else if super::is_expert(&n) {
        Role::RoutedExperts
    } else if n.contains(".gate.") || n.contains("gate_inp") || n.contains(".router.") {
        Role::Router
    } else {
        match super::component_of(&n) {
            "embeddings" => Role::Embeddings,
            "head" => Role::Head,
            "attention" => Role::Attention,
            "norms" => Role::Norms,
            "mlp" => Role::DenseMlp,
            _ => Role::Other,
        }
    }
}

/// Parameters by role of `tensors` (name, elements), with `experts` routed experts per MoE
/// layer of which `per_token` serve a token (1 and 1 for a dense model). Refuses k > E or E = 0.
pub fn breakdown<'a>(
    tensors: impl IntoIterator<Item = (&'a str, u64)>,
    experts: u64,
    per_token: u64,
) -> Result<ParamBreakdown> {
    if experts == 0 || per_token == 0 || per_token > experts {
        return Err(Error::Usage(format!(
            "{per_token} experts per token of {experts} experts: need 1 ≤ k ≤ E"
        )));
    }
    let mut b = ParamBreakdown {
        experts,
        experts_per_token: per_token,
        ..Default::default()
    };
    for (name, n) in tensors {
        let slot = match role_of(name) {
            Role::Embeddings => &mut b.embeddings,
            Role::Head => &mut b.head,
            Role::Attention => &mut b.attention,
            Role::Norms => &mut b.norms,
            Role::DenseMlp => &mut b.dense_mlp,
            Role::Router => &mut b.router,
            Role::SharedExperts => &mut b.shared_experts,
            Role::RoutedExperts => &mut b.routed_experts,
            Role::Other => &mut b.other,
        };
        add_to(slot, n, "the parameters by role")?;
        add_to(&mut b.total, n, "the parameters")?;
    }
    // (E − k)/E of the routed experts sit idle for a token; a product of two 64-bit numbers
    // fits in 128 bits, and the quotient is at most `routed_experts`.
    let idle = u128::from(b.routed_experts)
        .checked_mul(u128::from(experts.saturating_sub(per_token)))
        .and_then(|p| p.checked_div(u128::from(experts)))
        .and_then(|x| u64::try_from(x).ok())
        .unwrap_or(0);
    b.active = b.total.saturating_sub(idle);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_hugging_face_and_gguf_names() {
        for (name, want) in [
            ("model.embed_tokens.weight", Role::Embeddings),
            ("lm_head.weight", Role::Head),
            ("model.layers.0.self_attn.kv_b_proj.weight", Role::Attention),
            (
                "model.layers.0.self_attn.kv_a_layernorm.weight",
                Role::Norms,
            ),
            ("model.layers.0.mlp.down_proj.weight", Role::DenseMlp),
            ("model.layers.3.mlp.gate.weight", Role::Router),
            ("model.layers.0.block_sparse_moe.gate.weight", Role::Router),
            ("blk.1.ffn_gate_inp.weight", Role::Router),
            (
                "model.layers.3.mlp.shared_experts.up_proj.weight",
                Role::SharedExperts,
            ),
            ("blk.1.ffn_up_shexp.weight", Role::SharedExperts),
            (
                "model.layers.3.mlp.experts.gate_up_proj",
                Role::RoutedExperts,
            ),
            (
                "model.layers.0.block_sparse_moe.experts.7.w2.weight",
                Role::RoutedExperts,
            ),
            ("blk.1.ffn_down_exps.weight", Role::RoutedExperts),
            ("rope_freqs.weight", Role::Other),
        ] {
            assert_eq!(role_of(name), want, "{name}");
        }
    }

    #[test]
    fn active_leaves_out_the_idle_routed_experts() {
        // 8 experts of 100 parameters each (800), 2 per token: 6 × 100 idle. The rest (10 +
        // 20 + 5) is used by every token.
        let t = [
            ("model.embed_tokens.weight", 10),
            ("model.layers.0.block_sparse_moe.experts.0.w1.weight", 800),
            ("model.layers.0.block_sparse_moe.gate.weight", 20),
            ("model.norm.weight", 5),
        ];
        let b = breakdown(t, 8, 2).unwrap();
        assert_eq!((b.total, b.active), (835, 835 - 600));
        assert_eq!((b.routed_experts, b.router, b.head), (800, 20, 0));
        assert!(breakdown(t, 2, 3).is_err());
    }
}
