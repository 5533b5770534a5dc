//! A small API to describe networks in Rust. It produces the same [`Graph`] the ONNX loader
//! does (one graph type, one cost model), with TorchScript-style node names
//! (`/layer1/layer1.0/conv1/Conv`) so `--depth` folds built models like exported ones.
//!
//! ```
//! use flopscope_core::builder::Builder;
//! use flopscope_core::graph::{DType, Dim};
//! let mut b = Builder::new("tiny");
//! let x = b.input("input", DType::F32, vec![Dim::Sym("batch".into()), Dim::Known(8)]);
//! let y = b.linear("fc", x, 8, 4, true);
//! b.output(y);
//! let g = b.finish();
//! assert_eq!(g.nodes.len(), 2); // MatMul + Add
//! ```

use crate::graph::{
    Attr, Attrs, DType, Dim, Graph, Initializer, Node, TensorData, Value, ValueId, ValueKind,
};

/// Builds a [`Graph`] node by node.
pub struct Builder {
    g: Graph,
    scope: Vec<String>,
    counter: usize,
}

/// Converts attribute values.
pub fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

impl Builder {
    /// An empty graph at opset 17.
    pub fn new(name: &str) -> Builder {
        let mut g = Graph {
            name: name.to_string(),
            ..Graph::default()
        };
        g.opsets.insert(String::new(), 17);
        Builder {
            g,
            scope: Vec::new(),
            counter: 0,
        }
    }

    fn value(
        &mut self,
        name: String,
        kind: ValueKind,
        dtype: Option<DType>,
        shape: Option<Vec<Dim>>,
    ) -> ValueId {
        self.g.values.push(Value {
            name,
            kind,
            dtype,
            shape,
            seq: false,
        });
        self.g.values.len() - 1
    }

    /// Enters a module: nodes and weights created until [`Builder::pop`] are named under it.
    pub fn push(&mut self, name: &str) {
        self.scope.push(name.to_string());
    }

    /// Leaves the current module.
    pub fn pop(&mut self) {
        self.scope.pop();
    }

    /// Runs `f` inside module `name`.
    pub fn scoped<T>(&mut self, name: &str, f: impl FnOnce(&mut Builder) -> T) -> T {
        self.push(name);
        let r = f(self);
        self.pop();
        r
    }

    /// Dotted parameter prefix of the current module, as PyTorch names parameters.
    fn prefix(&self) -> String {
        // Sub-module names like `layer1.0` already carry their parent's path: keep the last
        // dotted component of each level.
        let mut parts: Vec<&str> = Vec::new();
        for s in &self.scope {
            parts.push(s.rsplit('.').next().unwrap_or(s));
        }
        parts.join(".")
    }

    /// A graph input.
    pub fn input(&mut self, name: &str, dtype: DType, dims: Vec<Dim>) -> ValueId {
        let id = self.value(name.to_string(), ValueKind::Input, Some(dtype), Some(dims));
        self.g.inputs.push(id);
        id
    }

    /// Marks a value as a graph output.
    pub fn output(&mut self, v: ValueId) {
        self.g.outputs.push(v);
    }

    /// A float32 parameter `name` of the current module (no data: weights are made at export).
    pub fn weight(&mut self, name: &str, dims: &[u64]) -> ValueId {
        let p = self.prefix();
        let full = if p.is_empty() {
            name.to_string()
        } else {
            format!("{p}.{name}")
        };
        self.initializer(full, DType::F32, dims.to_vec(), TensorData::None)
    }

    /// An int64 constant with values (shape targets, axes, indices), as a `Constant` node:
    /// constants are not parameters.
    pub fn const_i64(&mut self, values: &[i64]) -> ValueId {
        self.constant(
            DType::I64,
            vec![values.len() as u64],
            TensorData::Ints(values.to_vec()),
        )
    }

    /// A float32 scalar constant (a `Constant` node).
    pub fn const_f32(&mut self, v: f32) -> ValueId {
        self.constant(DType::F32, vec![], TensorData::Floats(vec![v as f64]))
    }

    fn constant(&mut self, dtype: DType, dims: Vec<u64>, data: TensorData) -> ValueId {
        let t = Initializer {
            value: usize::MAX,
            dtype,
            dims,
            data,
        };
        self.op("Constant", &[], vec![("value", Attr::Tensor(Box::new(t)))])
    }

    fn initializer(
        &mut self,
        name: String,
        dtype: DType,
        dims: Vec<u64>,
        data: TensorData,
    ) -> ValueId {
        let idx = self.g.initializers.len();
        let shape = dims.iter().map(|&d| Dim::Known(d)).collect();
        let id = self.value(name, ValueKind::Initializer(idx), Some(dtype), Some(shape));
        self.g.initializers.push(Initializer {
            value: id,
            dtype,
            dims,
            data,
        });
        id
    }

    /// A node with one output.
    pub fn op(&mut self, op: &str, inputs: &[ValueId], attrs: Vec<(&str, Attr)>) -> ValueId {
        self.op_n(op, inputs, attrs, 1)[0]
    }

    /// A node with `n` outputs.
    pub fn op_n(
        &mut self,
        op: &str,
        inputs: &[ValueId],
        attrs: Vec<(&str, Attr)>,
        n: usize,
    ) -> Vec<ValueId> {
        self.counter += 1;
        let path: String = self.scope.iter().map(|s| format!("/{s}")).collect();
        let name = format!("{path}/{op}_{}", self.counter);
        let outputs: Vec<ValueId> = (0..n)
            .map(|i| {
                self.value(
                    format!("{name}_output_{i}"),
                    ValueKind::NodeOutput,
                    None,
                    None,
                )
            })
            .collect();
        let mut a = Attrs::default();
        for (k, v) in attrs {
            a.insert(k.to_string(), v);
        }
        self.g.nodes.push(Node {
            name,
            op_type: op.to_string(),
            domain: String::new(),
            inputs: inputs.iter().map(|&i| Some(i)).collect(),
            outputs: outputs.iter().map(|&o| Some(o)).collect(),
            attrs: a,
            scope: self.scope.clone(),
        });
        outputs
    }

    /// The finished graph.
    pub fn finish(self) -> Graph {
        self.g
    }

    // ---- Layers, named and shaped as in PyTorch ----

    /// `nn.Conv2d(cin, cout, k, stride, pad, groups, bias)` in module `name`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv2d(
        &mut self,
        name: &str,
        x: ValueId,
        cin: u64,
        cout: u64,
        k: u64,
        stride: u64,
        pad: u64,
        groups: u64,
        bias: bool,
    ) -> ValueId {
        self.scoped(name, |b| {
            let w = b.weight("weight", &[cout, cin / groups, k, k]);
            let mut ins = vec![x, w];
            if bias {
                ins.push(b.weight("bias", &[cout]));
            }
            let p = pad as i64;
            b.op(
                "Conv",
                &ins,
                vec![
                    ("kernel_shape", ints(&[k as i64, k as i64])),
                    ("strides", ints(&[stride as i64, stride as i64])),
                    ("pads", ints(&[p, p, p, p])),
                    ("group", Attr::Int(groups as i64)),
                ],
            )
        })
    }

    /// `nn.BatchNorm2d(c)` (inference): scale, shift, running mean and variance.
    pub fn batchnorm(&mut self, name: &str, x: ValueId, c: u64) -> ValueId {
        self.scoped(name, |b| {
            let ins = [
                x,
                b.weight("weight", &[c]),
                b.weight("bias", &[c]),
                b.weight("running_mean", &[c]),
                b.weight("running_var", &[c]),
            ];
            b.op(
                "BatchNormalization",
                &ins,
                vec![("epsilon", Attr::Float(1e-5))],
            )
        })
    }

    /// `nn.Linear(cin, cout, bias)`: MatMul by the transposed weight, then the bias add.
    pub fn linear(&mut self, name: &str, x: ValueId, cin: u64, cout: u64, bias: bool) -> ValueId {
        self.scoped(name, |b| {
            // Stored [in, out], as exporters pre-transpose weights for MatMul.
            let w = b.weight("weight", &[cin, cout]);
            let y = b.op("MatMul", &[x, w], vec![]);
            if bias {
                let bv = b.weight("bias", &[cout]);
                b.op("Add", &[y, bv], vec![])
            } else {
                y
            }
        })
    }

    /// `nn.Linear(cin, cout)` on a 2-D input, as exporters write it: Gemm with the weight
    /// stored [out, in] (transB = 1).
    pub fn gemm(&mut self, name: &str, x: ValueId, cin: u64, cout: u64) -> ValueId {
        self.scoped(name, |b| {
            let w = b.weight("weight", &[cout, cin]);
            let bias = b.weight("bias", &[cout]);
            b.op("Gemm", &[x, w, bias], vec![("transB", Attr::Int(1))])
        })
    }

    /// `nn.LayerNorm(dim)` over the last axis.
    pub fn layernorm(&mut self, name: &str, x: ValueId, dim: u64, eps: f32) -> ValueId {
        self.scoped(name, |b| {
            let ins = [x, b.weight("weight", &[dim]), b.weight("bias", &[dim])];
            b.op(
                "LayerNormalization",
                &ins,
                vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(eps))],
            )
        })
    }

    /// An elementwise unary op (`Relu`, `Sigmoid`, `Gelu`, …).
    pub fn unary(&mut self, op: &str, x: ValueId) -> ValueId {
        self.op(op, &[x], vec![])
    }

    /// GELU as exporters decompose it: x·½·(1 + erf(x/√2)), or with `tanh` the approximation
    /// x·½·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (GPT-2's `gelu_new`).
    pub fn gelu(&mut self, x: ValueId, tanh: bool) -> ValueId {
        let inner = if tanh {
            let x2 = self.binary("Mul", x, x);
            let x3 = self.binary("Mul", x2, x);
            let c = self.const_f32(0.044715);
            let t = self.binary("Mul", x3, c);
            let t = self.binary("Add", x, t);
            let k = self.const_f32((2.0f32 / std::f32::consts::PI).sqrt());
            let t = self.binary("Mul", t, k);
            self.unary("Tanh", t)
        } else {
            let r = self.const_f32(std::f32::consts::SQRT_2);
            let t = self.binary("Div", x, r);
            self.unary("Erf", t)
        };
        let one = self.const_f32(1.0);
        let t = self.binary("Add", inner, one);
        let t = self.binary("Mul", x, t);
        let half = self.const_f32(0.5);
        self.binary("Mul", t, half)
    }

    /// ReLU6, as exported: Clip(x, 0, 6).
    pub fn relu6(&mut self, x: ValueId) -> ValueId {
        let lo = self.const_f32(0.0);
        let hi = self.const_f32(6.0);
        self.op("Clip", &[x, lo, hi], vec![])
    }

    /// A binary elementwise op.
    pub fn binary(&mut self, op: &str, a: ValueId, b: ValueId) -> ValueId {
        self.op(op, &[a, b], vec![])
    }

    /// `nn.MaxPool2d(k, stride, pad)`.
    pub fn maxpool(&mut self, x: ValueId, k: u64, stride: u64, pad: u64, ceil: bool) -> ValueId {
        let (k, s, p) = (k as i64, stride as i64, pad as i64);
        self.op(
            "MaxPool",
            &[x],
            vec![
                ("kernel_shape", ints(&[k, k])),
                ("strides", ints(&[s, s])),
                ("pads", ints(&[p, p, p, p])),
                ("ceil_mode", Attr::Int(ceil as i64)),
            ],
        )
    }

    /// `nn.AvgPool2d(k, stride)`: used for adaptive pooling when the size divides evenly.
    pub fn avgpool(&mut self, x: ValueId, k: u64, stride: u64) -> ValueId {
        let (k, s) = (k as i64, stride as i64);
        self.op(
            "AveragePool",
            &[x],
            vec![("kernel_shape", ints(&[k, k])), ("strides", ints(&[s, s]))],
        )
    }

    /// Reshape to `target` (0 copies a dim, -1 is inferred).
    pub fn reshape(&mut self, x: ValueId, target: &[i64]) -> ValueId {
        let t = self.const_i64(target);
        self.op("Reshape", &[x, t], vec![])
    }

    /// Transpose by `perm`.
    pub fn transpose(&mut self, x: ValueId, perm: &[i64]) -> ValueId {
        self.op("Transpose", &[x], vec![("perm", ints(perm))])
    }
}
