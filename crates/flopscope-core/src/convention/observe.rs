//! What a convention reads: a `flopscope.trace/1` document's calls (ATen dispatches), torch
//! functions, modules and module calls (see `docs/conventions.md`, "What a trace records").
//! Parsed on its own from the document's bytes, so that the graph the exact count is made
//! from carries nothing for it.

use serde::Deserialize;
use serde_json::{Map, Value as J};

use crate::error::{Error, Result};

/// A traced value's shape (the only field a convention reads).
#[derive(Deserialize)]
pub(crate) struct TValue {
    pub shape: Vec<u64>,
}

/// One ATen call.
#[derive(Deserialize)]
pub(crate) struct TCall {
    /// `aten.addmm.default`.
    pub op: String,
    #[serde(default)]
    pub args: Map<String, J>,
    #[serde(default)]
    pub outputs: Vec<Option<usize>>,
    /// The innermost torch function it ran under.
    #[serde(default, rename = "fn")]
    pub func: Option<usize>,
}

/// One torch-function call (`torch.nn.functional.linear`, `torch.Tensor.__matmul__`).
#[derive(Deserialize)]
pub(crate) struct Function {
    #[serde(rename = "fn")]
    pub name: String,
    #[serde(default)]
    pub args: Vec<J>,
    #[serde(default)]
    pub kwargs: Map<String, J>,
    #[serde(default)]
    pub out: J,
    #[serde(default)]
    pub parent: Option<usize>,
    /// Called through a reference kept from before a tool could patch it (`self.act =
    /// F.gelu`): invisible to monkey-patching tools.
    #[serde(default)]
    pub stored: bool,
}

/// A module's own parameter.
#[derive(Deserialize)]
pub(crate) struct Param {
    pub name: String,
    pub shape: Vec<u64>,
    /// Index of the parameter object: tied parameters share it.
    pub id: usize,
    #[serde(default = "yes")]
    pub trainable: bool,
}

fn yes() -> bool {
    true
}

/// One entry of `named_modules()`.
#[derive(Deserialize)]
pub(crate) struct Module {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub children: Vec<String>,
    #[serde(default)]
    pub params: Vec<Param>,
    #[serde(default)]
    pub attrs: Map<String, J>,
    #[serde(default)]
    pub name: String,
}

impl Module {
    /// The class name without its package (`Conv2d`).
    pub fn class(&self) -> &str {
        self.kind.rsplit('.').next().unwrap_or(&self.kind)
    }
    /// Whether the class is `torch.nn.<name>` itself (tools match exact types).
    pub fn is_nn(&self, names: &[&str]) -> bool {
        self.kind.starts_with("torch.nn.modules.") && names.contains(&self.class())
    }
    pub fn attr_int(&self, k: &str) -> Option<i64> {
        self.attrs.get(k).and_then(J::as_i64)
    }
    pub fn attr_bool(&self, k: &str) -> bool {
        self.attrs.get(k).and_then(J::as_bool).unwrap_or(false)
    }
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// One forward call of a module.
#[derive(Deserialize)]
pub(crate) struct ModuleCall {
    pub m: usize,
    #[serde(default)]
    pub args: Vec<J>,
    #[serde(default)]
    pub out: J,
    #[serde(default)]
    pub parent: Option<usize>,
    /// `[first, end)` of the ATen calls and of the functions made inside it.
    #[serde(default)]
    pub calls: Option<[usize; 2]>,
    #[serde(default)]
    pub functions: Option<[usize; 2]>,
    /// Its first three arguments are one tensor (self-attention).
    #[serde(default)]
    pub same_qkv: bool,
}

/// The parts of a trace document the conventions read.
#[derive(Deserialize)]
pub struct Observation {
    pub(crate) values: Vec<TValue>,
    pub(crate) calls: Vec<TCall>,
    #[serde(default)]
    pub(crate) functions: Option<Vec<Function>>,
    #[serde(default)]
    pub(crate) modules: Option<Vec<Module>>,
    #[serde(default)]
    pub(crate) module_calls: Option<Vec<ModuleCall>>,
    #[serde(default)]
    pub(crate) backward_start: Option<usize>,
    #[serde(default)]
    pub(crate) grad_enabled: Option<bool>,
}

impl Observation {
    /// Reads the document; `name` labels errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Observation> {
        serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            path: name.into(),
            what: "flopscope trace",
            reason: e.to_string(),
        })
    }
    /// The forward pass's calls (a training step's backward calls are left out: every tool
    /// here counts one forward pass).
    pub(crate) fn forward(&self) -> &[TCall] {
        &self.calls[..self
            .backward_start
            .unwrap_or(self.calls.len())
            .min(self.calls.len())]
    }
    /// Shape of a call's tensor argument `name` (`{"v": i}`).
    pub(crate) fn arg_shape(&self, c: &TCall, name: &str) -> Option<&[u64]> {
        let i = c.args.get(name)?.get("v")?.as_u64()? as usize;
        self.values.get(i).map(|v| v.shape.as_slice())
    }
    /// Shape of a call's `k`th output.
    pub(crate) fn out_shape(&self, c: &TCall, k: usize) -> Option<&[u64]> {
        let i = (*c.outputs.get(k)?)?;
        self.values.get(i).map(|v| v.shape.as_slice())
    }
    /// The `[first, end)` ranges of ATen calls and of functions made inside
    /// `nn.MultiheadAttention` calls that, run by the tool for real, take PyTorch's fused
    /// inference path (`torch._native_multi_head_attention`: eval mode, no grad, batch-first
    /// self-attention, an even head count, no extra key/value bias): no tool but ptflops'
    /// module hook sees inside it. A trace records the unfused path (it runs on tensors that
    /// turn the fast path off).
    pub(crate) fn fused_attention(&self) -> Vec<([usize; 2], [usize; 2])> {
        let (Some(mods), Some(calls)) = (&self.modules, &self.module_calls) else {
            return vec![];
        };
        if self.grad_enabled != Some(false) {
            return vec![];
        }
        calls
            .iter()
            .filter_map(|c| {
                let m = mods.get(c.m)?;
                let e = m.attr_int("embed_dim")?;
                let ok = m.is_nn(&["MultiheadAttention"])
                    && !m.attr_bool("training")
                    && m.attr_bool("batch_first")
                    && m.attr_int("num_heads").unwrap_or(1) % 2 == 0
                    && m.attr_int("kdim") == Some(e)
                    && m.attr_int("vdim") == Some(e)
                    && !m.attr_bool("add_zero_attn")
                    && m.param("bias_k").is_none()
                    && c.same_qkv
                    && c.args.first().and_then(shape).is_some_and(|s| s.len() == 3);
                ok.then_some((c.calls?, c.functions?))
            })
            .collect()
    }
    /// The `[first, end)` ranges of ATen calls inside `nn.TransformerEncoderLayer` calls
    /// that take PyTorch's fused encoder path (`torch._transformer_encoder_layer_fwd`) when
    /// nothing hooks the layer: eval mode, no grad, batch-first, ReLU or GELU, even heads.
    /// Only a tool without module hooks (FlopCounterMode) runs that path.
    pub(crate) fn fused_encoder_layers(&self) -> Vec<[usize; 2]> {
        let (Some(mods), Some(calls)) = (&self.modules, &self.module_calls) else {
            return vec![];
        };
        if self.grad_enabled != Some(false) {
            return vec![];
        }
        let names: std::collections::HashMap<&str, &Module> =
            mods.iter().map(|m| (m.name.as_str(), m)).collect();
        let by_name = |n: &str| names.get(n).copied();
        calls
            .iter()
            .filter_map(|c| {
                let m = mods
                    .get(c.m)
                    .filter(|m| m.is_nn(&["TransformerEncoderLayer"]))?;
                let att = by_name(&format!("{}.self_attn", m.name))?;
                let x = c.args.first().and_then(shape)?;
                let e = att.attr_int("embed_dim")?;
                let ok = !m.attr_bool("training")
                    && m.attr_int("activation_relu_or_gelu").unwrap_or(0) > 0
                    && att.attr_bool("batch_first")
                    && att.param("in_proj_bias").is_some()
                    && att.attr_int("kdim") == Some(e)
                    && att.attr_int("vdim") == Some(e)
                    && att.attr_int("num_heads").unwrap_or(1) % 2 == 0
                    && x.len() == 3
                    && by_name(&format!("{}.norm1", m.name)).and_then(|n| n.attrs.get("eps"))
                        == by_name(&format!("{}.norm2", m.name)).and_then(|n| n.attrs.get("eps"));
                ok.then_some(c.calls?)
            })
            .collect()
    }
    pub(crate) fn functions(&self, who: &str) -> Result<&[Function]> {
        self.functions
            .as_deref()
            .ok_or_else(|| missing(who, "torch functions"))
    }
    pub(crate) fn modules(&self, who: &str) -> Result<(&[Module], &[ModuleCall])> {
        match (&self.modules, &self.module_calls) {
            (Some(m), Some(c)) => Ok((m, c)),
            _ => Err(missing(who, "modules")),
        }
    }
}

fn missing(who: &str, what: &str) -> Error {
    Error::Usage(format!(
        "convention '{who}' needs the {what} a trace records (flopscope ≥ 0.24 records them when it profiles a torch.nn.Module); this input has none"
    ))
}

/// `len` flags, set for the indices inside any of the `[first, end)` ranges.
pub(crate) fn inside(len: usize, ranges: impl IntoIterator<Item = [usize; 2]>) -> Vec<bool> {
    let mut m = vec![false; len];
    for [a, b] in ranges {
        for x in m.iter_mut().take(b.min(len)).skip(a) {
            *x = true;
        }
    }
    m
}

/// A tensor argument's shape (`{"shape": [...], "dtype": ...}`).
pub(crate) fn shape(j: &J) -> Option<Vec<u64>> {
    j.get("shape")?
        .as_array()?
        .iter()
        .map(J::as_u64)
        .collect::<Option<Vec<u64>>>()
}

/// The first tensor in an argument, depth first (torchinfo's `nested_list_size`: a tuple's
/// first element, a dict's values).
pub(crate) fn first_shape(j: &J) -> Option<Vec<u64>> {
    if let Some(s) = shape(j) {
        return Some(s);
    }
    match j {
        J::Array(xs) => xs.first().and_then(first_shape),
        J::Object(o) => match o.get("dict")?.as_array()?.first() {
            Some(kv) => first_shape(kv.get(1)?),
            None => None,
        },
        _ => None,
    }
}

/// The last value of a dict output (torchinfo reads a dict's last value), else the argument.
pub(crate) fn dict_last(j: &J) -> &J {
    match j.get("dict").and_then(J::as_array).and_then(|xs| xs.last()) {
        Some(kv) => kv.get(1).unwrap_or(j),
        None => j,
    }
}

pub(crate) fn numel(s: &[u64]) -> u128 {
    s.iter().map(|&d| d as u128).product()
}

/// Whether an argument is a tensor.
pub(crate) fn is_tensor(j: &J) -> bool {
    j.get("shape").is_some() && j.get("dtype").is_some()
}

impl Function {
    /// Argument `k` by position, or by keyword `name`.
    pub fn arg(&self, k: usize, name: &str) -> Option<&J> {
        self.args
            .get(k)
            .or_else(|| self.kwargs.get(name))
            .filter(|j| !j.is_null())
    }
    /// What it returned.
    pub fn out(&self) -> Option<&J> {
        Some(&self.out).filter(|j| !j.is_null())
    }
    /// The shape of tensor argument `k` (or keyword `name`).
    pub fn arg_shape(&self, k: usize, name: &str) -> Option<Vec<u64>> {
        self.arg(k, name).and_then(shape)
    }
}
