//! What to analyse: sizes for symbolic dims, explicit input shapes, built-in model options.

/// What to analyse: sizes for symbolic dims and explicit input shapes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--dim name=N`: a size for a named symbolic dim.
    pub dims: Vec<(String, u64)>,
    /// `--input [name=]AxBxC`: a full shape for an input (the only input when unnamed).
    pub inputs: Vec<(Option<String>, Vec<u64>)>,
    /// `--classes N`: classifier outputs of a built-in image model.
    pub classes: Option<u64>,
    /// `--training`: also count one training step (see [`crate::training`]).
    pub training: Option<crate::training::TrainingOptions>,
    /// `--attention`: how attention known to be causal is counted.
    pub attention: Attention,
}

impl Options {
    /// Refuses what a graph's profile does not model: `--attention causal-half` with
    /// `--training` (a graph's attention backward is counted whole, so the step would mix the
    /// two rules; a checkpoint's step halves both and does not call this).
    pub fn check_graph(&self) -> crate::error::Result<()> {
        if self.attention == Attention::CausalHalf && self.training.is_some() {
            return Err(crate::error::Error::Usage(
                "--attention causal-half with --training is counted for language-model \
                 checkpoints only: a graph's attention backward is counted whole"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// How attention whose mask is known to be causal is counted (`--attention`; `docs/counting.md`,
/// "Causal attention"). Only attention that says it is causal (an `Attention` node with
/// `is_causal = 1` and no mask tensor, with as many queries as keys; a checkpoint's prefill) is
/// affected: an explicit mask could be anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Attention {
    /// The whole L × S score matrix: what a kernel without block skipping computes.
    #[default]
    Full,
    /// Half of the score matrix's MACs and FLOPs, as FlashAttention's benchmark and MaxText
    /// count a causal mask (`4·b·s²·h·d / 2`).
    CausalHalf,
}

impl Attention {
    /// From its command-line name: `full` or `causal-half`.
    pub fn parse(s: &str) -> crate::error::Result<Attention> {
        match s {
            "full" => Ok(Attention::Full),
            "causal-half" => Ok(Attention::CausalHalf),
            _ => Err(crate::error::Error::Usage(format!(
                "attention '{s}': expected full or causal-half"
            ))),
        }
    }

    /// Its command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Attention::Full => "full",
            Attention::CausalHalf => "causal-half",
        }
    }
}

/// The warning for a `--dim` the model does not have: the dims it has and, for a near miss (a
/// typo, another case), the one that was probably meant.
///
/// ```
/// let w = flopscope_core::options::unknown_dim("seqlen", &["batch".into(), "seq_len".into()]);
/// assert_eq!(w, "dim 'seqlen' is not a symbolic dim of this model (its dims: batch, seq_len; \
///                did you mean 'seq_len'?)");
/// ```
pub fn unknown_dim(name: &str, dims: &[String]) -> String {
    let has = if dims.is_empty() {
        "it has none".to_string()
    } else {
        format!("its dims: {}", dims.join(", "))
    };
    let near = dims
        .iter()
        .map(|d| (edit_distance(&name.to_lowercase(), &d.to_lowercase()), d))
        .filter(|(k, d)| *k <= 2.max(d.chars().count() / 3))
        .min_by_key(|(k, _)| *k)
        .map(|(_, d)| format!("; did you mean '{d}'?"))
        .unwrap_or_default();
    format!("dim '{name}' is not a symbolic dim of this model ({has}{near})")
}

/// Levenshtein distance (insertions, deletions, substitutions), for short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances_by_hand() {
        assert_eq!(edit_distance("seq", "seq"), 0);
        assert_eq!(edit_distance("seqq", "seq"), 1); // one deletion
        assert_eq!(edit_distance("sqe", "seq"), 2); // two substitutions
        assert_eq!(edit_distance("kitten", "sitting"), 3); // the textbook pair
    }

    #[test]
    fn near_misses_are_named_and_strangers_are_not() {
        let dims = ["batch".to_string(), "sequence".to_string()];
        assert!(unknown_dim("Batch", &dims).contains("did you mean 'batch'?"));
        assert!(unknown_dim("sequense", &dims).contains("did you mean 'sequence'?"));
        let w = unknown_dim("seq", &["batch".to_string()]);
        assert_eq!(
            w,
            "dim 'seq' is not a symbolic dim of this model (its dims: batch)"
        );
        assert!(unknown_dim("seq", &[]).contains("(it has none)"));
    }
}
