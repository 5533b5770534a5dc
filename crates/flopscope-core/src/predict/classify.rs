//! Which kind of kernel each layer is ([`OpClass`]) and which layers a runtime fuses into the
//! kernel before them ([`Backend`]). Both read only the profile's layers (operator, shapes,
//! counts), so they serve every front end: ONNX files, traced modules, checkpoints.

use serde::{Deserialize, Serialize};

use crate::efficiency::OpClass;
use crate::schema::Layer;

/// Operators that launch no kernel (ONNX names and the aten views a trace records).
const VIEWS: &[&str] = &[
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Identity",
    "Dropout",
    "Shape",
    "Size",
    "Constant",
    "view",
    "_unsafe_view",
    "_reshape_alias",
    "t",
    "permute",
    "transpose",
    "unbind",
    "detach",
    "expand",
    "select",
    "split",
    "split_with_sizes",
    "chunk",
    "alias",
    "as_strided",
    "empty",
    "empty_like",
    "unsqueeze",
    "squeeze",
    "slice",
    "reshape",
    "flatten",
    "view_as",
    "unflatten",
    "narrow",
    "dropout",
    "lift_fresh",
    "lift_fresh_copy",
];

/// Fused attention operators (ONNX Runtime contrib ops, the trace's SDPA).
const ATTENTION: &[&str] = &[
    "Attention",
    "MultiHeadAttention",
    "GroupQueryAttention",
    "PackedAttention",
    "PackedMultiHeadAttention",
    "DecoderMaskedMultiHeadAttention",
    "SparseAttention",
    "scaled_dot_product_attention",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_flash_attention_for_cpu",
    "attention_stats",
];

/// Matrix products (the weight's place, when the class depends on it, is read from params).
const PRODUCTS: &[&str] = &[
    "Gemm",
    "MatMul",
    "MatMulInteger",
    "QLinearMatMul",
    "FusedMatMul",
    "MatMulNBits",
    "DynamicQuantizeMatMul",
    "MatMulIntegerToFloat",
    "QGemm",
    "Einsum",
    "mm",
    "bmm",
    "addmm",
    "linear",
    "_grouped_mm",
    "baddbmm",
    "addbmm",
];

/// Activations ONNX Runtime fuses into the convolution or GEMM before them.
const FUSED_ACTIVATIONS: &[&str] = &[
    "Relu",
    "Clip",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "LeakyRelu",
    "Swish",
    "Silu",
    "Gelu",
    "FastGelu",
    "BiasGelu",
    "Tanh",
];

/// The class of one layer.
pub fn classify(l: &Layer) -> OpClass {
    let op = l.op.as_str();
    let flops = l.flops.unwrap_or(0);
    if VIEWS.contains(&op) || (flops == 0 && crate::roofline::bytes_moved(l) == 0) {
        return OpClass::View;
    }
    if ATTENTION.contains(&op) {
        return OpClass::Attention;
    }
    if PRODUCTS.contains(&op) {
        // A product of two activations of rank ≥ 3 is attention's Q·Kᵀ or A·V.
        let batched = l.inputs.iter().flatten().all(|s| s.len() >= 3);
        return if l.params == 0 && batched && l.inputs.len() >= 2 {
            OpClass::Attention
        } else {
            OpClass::Gemm
        };
    }
    if let Some(groups) = conv_groups(l) {
        return if groups > 1 {
            OpClass::GroupedConv
        } else {
            OpClass::Conv
        };
    }
    if flops > 0 {
        OpClass::Elementwise
    } else {
        OpClass::Data
    }
}

/// A convolution's group count from its shapes (input channels ÷ the weight's second dim);
/// `None` for other operators. A convolution whose shapes are unknown counts as one group.
fn conv_groups(l: &Layer) -> Option<u64> {
    let weight = match l.op.as_str() {
        "Conv" | "ConvInteger" | "FusedConv" | "NhwcConv" | "convolution" => 1,
        "QLinearConv" => 3,
        // A transposed convolution's weight is (C_in, C_out / groups, …): its groups are not
        // read from the input alone; it is charged as dense.
        "ConvTranspose" => return Some(1),
        _ => return None,
    };
    let shape = |i: usize| l.inputs.get(i).and_then(|s| s.as_deref());
    let groups = match (shape(0), shape(weight)) {
        (Some([_, c, ..]), Some([_, per_group, ..])) if *per_group > 0 => c / per_group,
        _ => 1,
    };
    Some(groups.max(1))
}

/// The runtime a prediction is for: it decides what runs fused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// PyTorch eager: every operator is its own kernel.
    #[serde(rename = "torch")]
    Torch,
    /// `torch.compile` (Inductor): elementwise work joins the kernel before it.
    #[serde(rename = "torch.compile")]
    TorchCompile,
    /// ONNX Runtime: BatchNorm folded into convolutions; activations and biases fused.
    #[serde(rename = "onnxruntime")]
    OnnxRuntime,
}

impl Backend {
    /// Every backend by its command-line name.
    pub const ALL: [Backend; 3] = [Backend::Torch, Backend::TorchCompile, Backend::OnnxRuntime];

    /// Its command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Torch => "torch",
            Backend::TorchCompile => "torch.compile",
            Backend::OnnxRuntime => "onnxruntime",
        }
    }

    /// A backend by name (`ort` is accepted for ONNX Runtime); a usage error otherwise.
    pub fn parse(name: &str) -> crate::error::Result<Backend> {
        match name {
            "ort" => Ok(Backend::OnnxRuntime),
            _ => Backend::ALL
                .into_iter()
                .find(|b| b.as_str() == name)
                .ok_or_else(|| {
                    crate::error::Error::Usage(format!(
                        "unknown backend '{name}': expected torch, torch.compile or onnxruntime"
                    ))
                }),
        }
    }

    /// Which layers run inside the kernel before them, by index in `layers` (`classes` are
    /// their classes). A layer "follows" another when the previous layer with a kernel wrote
    /// the shape this one reads first: the profile keeps no edges, so this is the sequential
    /// reading of the graph, right for the chains (conv → norm → activation) runtimes fuse.
    pub fn fused(self, layers: &[Layer], classes: &[OpClass]) -> Vec<bool> {
        let mut fused = vec![false; layers.len()];
        if self == Backend::Torch {
            return fused;
        }
        // The previous kernel's index, and the index of the kernel its chain began with.
        let mut prev: Option<(usize, usize)> = None;
        for (i, (l, &c)) in layers.iter().zip(classes).enumerate() {
            if c == OpClass::View {
                continue;
            }
            // Reads what the previous kernel wrote (as any input: a bias Add may name the
            // bias first).
            let follows = prev.filter(|&(p, _)| {
                let written = layers[p].outputs.first().and_then(|s| s.as_ref());
                written.is_some() && l.inputs.iter().any(|r| r.as_ref() == written)
            });
            let joins = match (self, follows) {
                (_, None) | (Backend::Torch, _) => false,
                (Backend::TorchCompile, Some(_)) => c == OpClass::Elementwise,
                (Backend::OnnxRuntime, Some((_, head))) => {
                    ort_fuses(&layers[head].op, classes[head], l.op.as_str())
                }
            };
            fused[i] = joins;
            // A fused layer extends the chain of its head; any other layer starts its own.
            let head = match (joins, follows) {
                (true, Some((_, h))) => h,
                _ => i,
            };
            prev = Some((i, head));
        }
        fused
    }
}

/// Operators of the subgraphs ONNX Runtime's transformer fusions replace by one kernel
/// (LayerNormalization, SkipLayerNormalization, Gelu, BiasGelu, FastGelu; the scale, mask
/// and softmax of Attention).
const ORT_CHAIN: &[&str] = &[
    "ReduceMean",
    "Sub",
    "Pow",
    "Add",
    "Sqrt",
    "Div",
    "Mul",
    "Erf",
    "Tanh",
    "Softmax",
    "LayerNormalization",
    "SimplifiedLayerNormalization",
    "Cast",
];

/// Whether ONNX Runtime runs `op` inside the kernel that began a chain (`head_op`, of class
/// `head`), following its documented graph optimizations: Conv with BatchNorm, Add, Mul and
/// activations (levels 1–3: the NCHWc convolution also sums the residual); MatMul with its bias
/// Add and activations; and the transformer fusions, which turn LayerNorm and GELU subgraphs —
/// after a product or starting one of their own — into one kernel.
fn ort_fuses(head_op: &str, head: OpClass, op: &str) -> bool {
    match head {
        OpClass::Conv | OpClass::GroupedConv => {
            matches!(op, "BatchNormalization" | "Add" | "Mul") || FUSED_ACTIVATIONS.contains(&op)
        }
        OpClass::Gemm | OpClass::Attention => {
            FUSED_ACTIVATIONS.contains(&op) || ORT_CHAIN.contains(&op)
        }
        OpClass::Elementwise => ORT_CHAIN.contains(&head_op) && ORT_CHAIN.contains(&op),
        _ => false,
    }
}
