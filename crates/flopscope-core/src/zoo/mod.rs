//! Built-in reference architectures, built exactly as their reference implementations define
//! them (torchvision, Hugging Face transformers), so `flopscope profile resnet18` needs no file.
//! Inputs keep `batch` (and `seq` for token models) symbolic; size options rebuild the graph.

use crate::error::{Error, Result};
use crate::graph::Graph;

mod cnn;
mod transformer;

pub use transformer::{bert, gpt2, llama, swin_t, vit, LlamaConfig};

/// Size options of a built model.
#[derive(Clone, Debug)]
pub struct ZooOptions {
    /// Input height and width of image models.
    pub resolution: (u64, u64),
    /// Classifier outputs of image models.
    pub num_classes: u64,
}

impl Default for ZooOptions {
    fn default() -> Self {
        ZooOptions {
            resolution: (224, 224),
            num_classes: 1000,
        }
    }
}

/// One architecture of the zoo.
pub struct Entry {
    /// Name as given on the command line.
    pub name: &'static str,
    /// Where its definition comes from.
    pub source: &'static str,
    /// Input kind: `image` (float [batch, 3, H, W]) or `tokens` (int64 [batch, seq]).
    pub input: &'static str,
    build: fn(&ZooOptions) -> Result<Graph>,
}

/// Every architecture, in a stable order.
pub fn entries() -> &'static [Entry] {
    use cnn::*;
    use transformer::*;
    const TV: &str = "torchvision";
    const HF: &str = "transformers";
    &[
        Entry {
            name: "alexnet",
            source: TV,
            input: "image",
            build: alexnet,
        },
        Entry {
            name: "vgg11",
            source: TV,
            input: "image",
            build: |o| vgg(o, VGG11),
        },
        Entry {
            name: "vgg16",
            source: TV,
            input: "image",
            build: |o| vgg(o, VGG16),
        },
        Entry {
            name: "resnet18",
            source: TV,
            input: "image",
            build: |o| resnet(o, false, [2, 2, 2, 2]),
        },
        Entry {
            name: "resnet34",
            source: TV,
            input: "image",
            build: |o| resnet(o, false, [3, 4, 6, 3]),
        },
        Entry {
            name: "resnet50",
            source: TV,
            input: "image",
            build: |o| resnet(o, true, [3, 4, 6, 3]),
        },
        Entry {
            name: "resnet101",
            source: TV,
            input: "image",
            build: |o| resnet(o, true, [3, 4, 23, 3]),
        },
        Entry {
            name: "resnet152",
            source: TV,
            input: "image",
            build: |o| resnet(o, true, [3, 8, 36, 3]),
        },
        Entry {
            name: "squeezenet1_1",
            source: TV,
            input: "image",
            build: squeezenet1_1,
        },
        Entry {
            name: "mobilenet_v2",
            source: TV,
            input: "image",
            build: mobilenet_v2,
        },
        Entry {
            name: "mobilenet_v3_small",
            source: TV,
            input: "image",
            build: |o| mobilenet_v3(o, false),
        },
        Entry {
            name: "mobilenet_v3_large",
            source: TV,
            input: "image",
            build: |o| mobilenet_v3(o, true),
        },
        Entry {
            name: "efficientnet_b0",
            source: TV,
            input: "image",
            build: efficientnet_b0,
        },
        Entry {
            name: "densenet121",
            source: TV,
            input: "image",
            build: densenet121,
        },
        Entry {
            name: "convnext_tiny",
            source: TV,
            input: "image",
            build: convnext_tiny,
        },
        Entry {
            name: "swin_t",
            source: TV,
            input: "image",
            build: swin_t,
        },
        Entry {
            name: "vit_b_16",
            source: TV,
            input: "image",
            build: |o| vit(o, 16, 768, 12, 12, 3072),
        },
        Entry {
            name: "vit_l_16",
            source: TV,
            input: "image",
            build: |o| vit(o, 16, 1024, 24, 16, 4096),
        },
        Entry {
            name: "bert-base",
            source: HF,
            input: "tokens",
            build: |_| bert(12, 768, 12, 3072),
        },
        Entry {
            name: "bert-large",
            source: HF,
            input: "tokens",
            build: |_| bert(24, 1024, 16, 4096),
        },
        Entry {
            name: "gpt2",
            source: HF,
            input: "tokens",
            build: |_| gpt2(12, 768, 12),
        },
        Entry {
            name: "gpt2-medium",
            source: HF,
            input: "tokens",
            build: |_| gpt2(24, 1024, 16),
        },
        Entry {
            name: "llama-7b",
            source: HF,
            input: "tokens",
            build: |_| llama(&LlamaConfig::LLAMA_7B),
        },
    ]
}

/// Builds architecture `name`.
pub fn build(name: &str, opts: &ZooOptions) -> Result<Graph> {
    match entries().iter().find(|e| e.name == name) {
        Some(e) => (e.build)(opts),
        None => Err(Error::Usage(format!(
            "no built-in model named '{name}' (`flopscope zoo` lists them)"
        ))),
    }
}

/// Whether `name` is a built-in architecture.
pub fn contains(name: &str) -> bool {
    entries().iter().any(|e| e.name == name)
}
