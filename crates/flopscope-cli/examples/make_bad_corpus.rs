//! Writes the hostile-input corpus `tests/data/bad/`: one file per case plus `expected.json`,
//! which says for each what the tool must answer (exit code and a phrase of the one-line
//! error). The expectations are written here, by hand, next to the bytes that provoke them.
//!
//! `cargo run -p flopscope-cli --example make_bad_corpus` (the files are committed; the test
//! `bad_corpus` checks the tool against them).

#[path = "../tests/cli/common/onnx.rs"]
mod common;
#[path = "bad_corpus/sums.rs"]
mod sums;

use std::path::{Path, PathBuf};

use common::*;
use flopscope_core::onnx_pb as pb;
use prost::Message;
use serde_json::json;

struct Corpus {
    dir: PathBuf,
    cases: Vec<serde_json::Value>,
}

impl Corpus {
    /// Adds a case: `bytes` written to `file`, run as `flopscope ARGS FILE`, expected to exit
    /// with `exit` and print an error (or, with exit 0, some output) containing `says`.
    fn add(&mut self, file: &str, bytes: &[u8], args: &[&str], exit: i32, says: &str, why: &str) {
        std::fs::write(self.dir.join(file), bytes).unwrap();
        self.cases.push(json!({
            "file": file, "args": args, "exit": exit, "says": says, "why": why,
        }));
    }

    fn model(&mut self, file: &str, m: &pb::ModelProto, exit: i32, says: &str, why: &str) {
        self.add(file, &m.encode_to_vec(), &["profile"], exit, says, why);
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited protobuf field.
fn field(num: u64, body: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    varint(num << 3 | 2, &mut o);
    varint(body.len() as u64, &mut o);
    o.extend_from_slice(body);
    o
}

/// The header of a valid model (IR 8, opset 17) without its graph.
fn header() -> Vec<u8> {
    let mut o = Vec::new();
    varint(1 << 3, &mut o); // ir_version
    varint(8, &mut o);
    let mut opset = Vec::new();
    varint(2 << 3, &mut opset); // OperatorSetIdProto.version
    varint(17, &mut opset);
    o.extend(field(8, &opset));
    o
}

fn attr_int(name: &str, v: i64) -> pb::AttributeProto {
    int_attr(name, v)
}

/// Conv 1×3×8×8 → 1×4×8×8 with a 4×3×3×3 weight (all inline).
fn conv_model(attrs: Vec<pb::AttributeProto>, x: &[&str], w: &[i64]) -> pb::ModelProto {
    model(
        17,
        vec![value("x", x)],
        vec![value("y", &[])],
        vec![node("Conv", "conv", &["x", "w"], &["y"], attrs)],
        vec![float_init("w", w)],
    )
}

fn unary(op: &str, name: &str, dims: &[&str], attrs: Vec<pb::AttributeProto>) -> pb::ModelProto {
    model(
        17,
        vec![value("x", dims)],
        vec![value("y", &[])],
        vec![node(op, name, &["x"], &["y"], attrs)],
        vec![],
    )
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/bad");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Corpus {
        dir: dir.clone(),
        cases: vec![],
    };
    files_and_bytes(&mut c);
    structure(&mut c);
    shapes(&mut c);
    sizes(&mut c);
    external(&mut c, &dir);
    checkpoints(&mut c);
    sums::cases(&mut c);
    let n = c.cases.len();
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&c.cases).unwrap() + "\n",
    )
    .unwrap();
    println!("{n} cases in {}", dir.display());
}

fn files_and_bytes(c: &mut Corpus) {
    let valid = conv_model(vec![], &["1", "3", "8", "8"], &[4, 3, 3, 3]).encode_to_vec();
    c.add(
        "empty.onnx",
        b"",
        &["profile"],
        4,
        "the file is empty",
        "a zero-byte download",
    );
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    c.add(
        "random-bytes.onnx",
        &noise,
        &["profile"],
        4,
        "not a valid ONNX model",
        "4 KiB of noise",
    );
    c.add(
        "text.onnx",
        b"<html>404 Not Found</html>\n",
        &["profile"],
        4,
        "not a valid ONNX model",
        "an error page saved under the model's name",
    );
    for (name, cut) in [
        ("truncated-7-bytes.onnx", 7),
        ("truncated-quarter.onnx", valid.len() / 4),
        ("truncated-half.onnx", valid.len() / 2),
        ("truncated-last-byte.onnx", valid.len() - 1),
    ] {
        c.add(
            name,
            &valid[..cut],
            &["profile"],
            4,
            "not a valid ONNX model",
            "a download cut short",
        );
    }
    // The graph field claims 2^62 bytes: nothing may be allocated from that number.
    let mut b = header();
    varint(7 << 3 | 2, &mut b);
    varint(1 << 62, &mut b);
    b.extend_from_slice(&[0; 16]);
    c.add(
        "length-prefix-2-62.onnx",
        &b,
        &["profile"],
        4,
        "not a valid ONNX model",
        "a length prefix far past the end of the file",
    );
    // ModelProto.graph (a message) written as a varint.
    let mut b = header();
    varint(7 << 3, &mut b);
    varint(5, &mut b);
    c.add(
        "wrong-wire-type-graph.onnx",
        &b,
        &["profile"],
        4,
        "not a valid ONNX model",
        "a message field encoded as an integer",
    );
    // NodeProto.op_type (a string) written as a varint.
    let mut nodeb = Vec::new();
    varint(4 << 3, &mut nodeb);
    varint(3, &mut nodeb);
    let mut b = header();
    b.extend(field(7, &field(1, &nodeb)));
    c.add(
        "wrong-wire-type-op-type.onnx",
        &b,
        &["profile"],
        4,
        "not a valid ONNX model",
        "a string field encoded as an integer",
    );
    // A node name that is not UTF-8.
    let mut b = header();
    b.extend(field(
        7,
        &field(
            1,
            &[field(3, &[0xff, 0xfe, 0x41]), field(4, b"Relu")].concat(),
        ),
    ));
    c.add(
        "invalid-utf8-name.onnx",
        &b,
        &["profile"],
        4,
        "not a valid ONNX model",
        "a name that is not UTF-8",
    );
    // An input type nested 1,000 deep (sequence of sequence of …): recursion must be bounded.
    let mut ty = field(1, &field(1, &[]));
    for _ in 0..1000 {
        ty = field(4, &field(1, &ty)); // TypeProto.sequence_type.elem_type
    }
    let input = [field(1, b"x"), field(2, &ty)].concat();
    let mut b = header();
    b.extend(field(7, &field(11, &input)));
    c.add(
        "type-nested-1000-deep.onnx",
        &b,
        &["profile"],
        4,
        "nested more than 100 deep",
        "protobuf nesting deep enough to overflow a recursive decoder",
    );
    let mut m = unary("Relu", "relu", &["2"], vec![]);
    m.ir_version = None;
    c.model(
        "ir-version-missing.onnx",
        &m,
        4,
        "IR version 0",
        "no IR version: probably not ONNX",
    );
    let mut m = unary("Relu", "relu", &["2"], vec![]);
    m.graph = None;
    c.model("no-graph.onnx", &m, 4, "no graph", "a model with no graph");
}

fn structure(c: &mut Corpus) {
    let cycle = model(
        17,
        vec![value("x", &["2"])],
        vec![value("b", &["2"])],
        vec![
            node("Add", "n1", &["x", "b"], &["a"], vec![]),
            node("Relu", "n2", &["a"], &["b"], vec![]),
        ],
        vec![],
    );
    c.model("cycle.onnx", &cycle, 4, "cycle", "a → b → a");
    let dangling = model(
        17,
        vec![value("x", &["2"])],
        vec![value("y", &["2"])],
        vec![node("Add", "adder", &["x", "ghost"], &["y"], vec![])],
        vec![],
    );
    c.model(
        "input-never-produced.onnx",
        &dangling,
        4,
        "'ghost'",
        "a node reads a value nothing produces",
    );
    let dup = model(
        17,
        vec![value("x", &["2"])],
        vec![value("y", &["2"])],
        vec![
            node("Relu", "first", &["x"], &["y"], vec![]),
            node("Neg", "second", &["x"], &["y"], vec![]),
        ],
        vec![],
    );
    c.model(
        "duplicate-output-name.onnx",
        &dup,
        4,
        "'y'",
        "two nodes write the same value",
    );
    let unproduced = model(
        17,
        vec![value("x", &["2"])],
        vec![value("y", &["2"]), value("z", &["2"])],
        vec![node("Relu", "relu", &["x"], &["y"], vec![])],
        vec![],
    );
    c.model(
        "output-never-produced.onnx",
        &unproduced,
        4,
        "'z'",
        "a graph output that no node writes",
    );
    let mut dupinit = conv_model(vec![], &["1", "3", "8", "8"], &[4, 3, 3, 3]);
    let g = dupinit.graph.as_mut().unwrap();
    g.initializer.push(g.initializer[0].clone());
    c.model(
        "duplicate-initializer.onnx",
        &dupinit,
        4,
        "'w'",
        "the same weight declared twice",
    );
    let mut dom = unary("Relu", "evil", &["2"], vec![]);
    dom.graph.as_mut().unwrap().node[0].domain = Some("com.evil".into());
    c.model(
        "undeclared-domain.onnx",
        &dom,
        4,
        "com.evil",
        "a node in a domain the model does not import",
    );
    let mut empty_op = unary("", "noname", &["2"], vec![]);
    empty_op.graph.as_mut().unwrap().node[0].name = Some("nameless-op".into());
    c.model(
        "empty-op-type.onnx",
        &empty_op,
        4,
        "'nameless-op' has no operator type",
        "a node with no operator type",
    );
    // A chain of 10,000 Relu nodes is valid: it must not overflow a recursive walk.
    let mut nodes = Vec::new();
    for i in 0..10_000 {
        let a = if i == 0 {
            "x".to_string()
        } else {
            format!("v{i}")
        };
        let b = if i == 9_999 {
            "y".to_string()
        } else {
            format!("v{}", i + 1)
        };
        nodes.push(node("Relu", &format!("r{i}"), &[&a], &[&b], vec![]));
    }
    let chain = model(
        17,
        vec![value("x", &["1", "8"])],
        vec![value("y", &["1", "8"])],
        nodes,
        vec![],
    );
    c.model(
        "chain-10000-deep.onnx",
        &chain,
        0,
        "10000",
        "valid: a 10,000-node chain (no stack overflow, linear time)",
    );
    // If nested 100 deep: beyond the 64 levels the loader accepts.
    let leaf = subgraph(
        vec![],
        vec![value("o", &["2"])],
        vec![node("Identity", "leaf", &["x"], &["o"], vec![])],
    );
    let mut g = leaf.clone();
    for d in 0..100 {
        // Only the then-branch nests: a linear chain of levels, not a tree of 2^100.
        let n = node(
            "If",
            &format!("if{d}"),
            &["cond"],
            &["o"],
            vec![
                graph_attr("then_branch", g),
                graph_attr("else_branch", leaf.clone()),
            ],
        );
        g = subgraph(vec![], vec![value("o", &["2"])], vec![n]);
    }
    let mut nested = model(
        17,
        vec![value("x", &["2"])],
        vec![value("o", &["2"])],
        g.node,
        vec![],
    );
    nested
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .push(pb::TensorProto {
            name: Some("cond".into()),
            data_type: Some(9),
            dims: vec![],
            int32_data: vec![1],
            ..Default::default()
        });
    c.model(
        "subgraphs-100-deep.onnx",
        &nested,
        4,
        "nested more than 100 deep",
        "If inside If, 100 levels",
    );
    // A model-local function that calls itself.
    let mut rec = unary("Loopy", "call", &["2"], vec![]);
    rec.graph.as_mut().unwrap().node[0].domain = Some("local".into());
    rec.opset_import.push(pb::OperatorSetIdProto {
        domain: Some("local".into()),
        version: Some(1),
    });
    rec.functions.push(pb::FunctionProto {
        name: Some("Loopy".into()),
        domain: Some("local".into()),
        input: vec!["a".into()],
        output: vec!["b".into()],
        node: vec![pb::NodeProto {
            domain: Some("local".into()),
            ..node("Loopy", "again", &["a"], &["b"], vec![])
        }],
        opset_import: rec.opset_import.clone(),
        ..Default::default()
    });
    c.model(
        "recursive-function.onnx",
        &rec,
        4,
        "Loopy",
        "a function that expands into itself forever",
    );
    for (file, v) in [("opset-negative.onnx", -1), ("opset-99.onnx", 99)] {
        c.model(
            file,
            &unary("Relu", "relu", &["2"], vec![]).tap(|m| m.opset_import[0].version = Some(v)),
            5,
            &format!("opset {v}"),
            "an opset outside 1 to 28",
        );
    }
    let mut noset = unary("Relu", "relu", &["2"], vec![]);
    noset.opset_import.clear();
    c.model(
        "no-opset-import.onnx",
        &noset,
        5,
        "imports no opset",
        "default-domain nodes without a default opset",
    );
}

fn shapes(c: &mut Corpus) {
    let m = model(
        17,
        vec![value("a", &["2", "3"]), value("b", &["2", "3"])],
        vec![value("y", &[])],
        vec![node(
            "Concat",
            "concat_no_axis",
            &["a", "b"],
            &["y"],
            vec![],
        )],
        vec![],
    );
    c.model(
        "missing-required-attribute.onnx",
        &m,
        6,
        "required attribute 'axis'",
        "Concat without its required axis",
    );
    c.model(
        "conv-zero-stride.onnx",
        &conv_model(
            vec![ints_attr("strides", &[0, 0])],
            &["1", "3", "8", "8"],
            &[4, 3, 3, 3],
        ),
        6,
        "conv",
        "a stride of 0",
    );
    c.model(
        "maxpool-zero-kernel.onnx",
        &unary(
            "MaxPool",
            "pool",
            &["1", "3", "8", "8"],
            vec![ints_attr("kernel_shape", &[0, 0])],
        ),
        6,
        "pool",
        "a pooling window of 0",
    );
    // floor((2 − 5) / 1) + 1 = −2: no runtime can size this output.
    c.model(
        "conv-kernel-larger-than-input.onnx",
        &conv_model(vec![], &["1", "3", "2", "2"], &[4, 3, 5, 5]),
        6,
        "is larger than the padded input 2 by more than the stride 1",
        "a 5×5 kernel on a 2×2 image without padding",
    );
    // floor((2 − 3) / 1) + 1 = 0: ONNX Runtime and the reference implementation both run it
    // and return an empty output, so it is counted (0) with a warning.
    c.model(
        "maxpool-window-larger-than-input.onnx",
        &unary(
            "MaxPool",
            "pool",
            &["1", "3", "2", "2"],
            vec![ints_attr("kernel_shape", &[3, 3])],
        ),
        0,
        "the output is empty along that axis",
        "a 3×3 pooling window on a 2×2 image: an empty output, not an error",
    );
    // (2^62 − 1)·4 + 1 overflows 64 bits; unchecked it wrapped to a window of 5 (output 1x4x12x6).
    c.model(
        "conv-kernel-times-dilation-overflows.onnx",
        &conv_model(
            vec![
                ints_attr("kernel_shape", &[1 << 62, 3]),
                ints_attr("dilations", &[4, 1]),
            ],
            &["1", "3", "8", "8"],
            &[4, 3, 3, 3],
        ),
        6,
        "the window of kernel 4611686018427387904 with dilation 4 does not fit in 64 bits",
        "kernel_shape 2^62 with dilation 4",
    );
    // (3 − 1)·2^62 + 1 = 2^63 + 1: past the largest ONNX dim (a panic under overflow checks).
    c.model(
        "conv-dilation-overflows.onnx",
        &conv_model(
            vec![ints_attr("dilations", &[1 << 62, 1])],
            &["1", "3", "8", "8"],
            &[4, 3, 3, 3],
        ),
        6,
        "the window of kernel 3 with dilation 4611686018427387904 does not fit in 64 bits",
        "a dilation of 2^62",
    );
    // 8 + 2^62 + 2^62 = 2^63 + 8: it used to wrap to a negative padded size.
    c.model(
        "conv-pads-overflow.onnx",
        &conv_model(
            vec![ints_attr("pads", &[1 << 62, 0, 1 << 62, 0])],
            &["1", "3", "8", "8"],
            &[4, 3, 3, 3],
        ),
        6,
        "padded size 8 + 4611686018427387904 + 4611686018427387904 on axis 0 does not fit",
        "pads of 2^62 on both sides",
    );
    // 3·(4 − 1) + 2 + 3 = 14, but output_padding 2 ≥ stride 2: ONNX Runtime refuses it.
    c.model(
        "convtranspose-output-padding-not-below-stride.onnx",
        &model(
            17,
            vec![value("x", &["1", "4", "4", "4"])],
            vec![value("y", &[])],
            vec![node(
                "ConvTranspose",
                "deconv",
                &["x", "w"],
                &["y"],
                vec![
                    ints_attr("strides", &[2, 2]),
                    ints_attr("output_padding", &[2, 0]),
                ],
            )],
            vec![float_init("w", &[4, 2, 3, 3])],
        ),
        6,
        "output_padding 2 on axis 0 must be smaller than the stride 2",
        "ConvTranspose output_padding equal to its stride",
    );
    // Pad 3 ≥ window 3: ONNX Runtime and the reference implementation both refuse it.
    c.model(
        "maxpool-pad-not-below-window.onnx",
        &unary(
            "MaxPool",
            "pool",
            &["1", "3", "8", "8"],
            vec![
                ints_attr("kernel_shape", &[3, 3]),
                ints_attr("pads", &[3, 0, 0, 0]),
            ],
        ),
        6,
        "pad 3 on axis 0 is not smaller than the window 3",
        "a pooling pad as large as the window",
    );
    c.model(
        "negative-input-dim.onnx",
        &unary("Relu", "relu", &["-5", "3"], vec![]),
        4,
        "negative dim (-5)",
        "an input declared with a negative dim",
    );
    let mut neg = conv_model(vec![], &["1", "3", "8", "8"], &[4, 3, 3, 3]);
    neg.graph.as_mut().unwrap().initializer[0].dims = vec![4, -3, 3, 3];
    c.model(
        "negative-initializer-dim.onnx",
        &neg,
        4,
        "negative",
        "a weight with a negative dim",
    );
    c.model(
        "reshape-mismatch.onnx",
        &model(
            17,
            vec![value("x", &["2", "3"])],
            vec![value("y", &[])],
            vec![node(
                "Reshape",
                "bad_reshape",
                &["x", "target"],
                &["y"],
                vec![],
            )],
            vec![int_init("target", &[4, 2])],
        ),
        6,
        "bad_reshape",
        "6 elements reshaped to 4×2",
    );
    c.model(
        "concat-rank-mismatch.onnx",
        &model(
            17,
            vec![value("a", &["2", "3"]), value("b", &["2", "3", "1"])],
            vec![value("y", &[])],
            vec![node(
                "Concat",
                "bad_concat",
                &["a", "b"],
                &["y"],
                vec![attr_int("axis", 0)],
            )],
            vec![],
        ),
        6,
        "bad_concat",
        "rank 2 joined to rank 3",
    );
    c.model(
        "matmul-inner-mismatch.onnx",
        &model(
            17,
            vec![value("a", &["2", "3"]), value("b", &["4", "5"])],
            vec![value("y", &[])],
            vec![node("MatMul", "mm", &["a", "b"], &["y"], vec![])],
            vec![],
        ),
        6,
        "mm",
        "2×3 times 4×5",
    );
    c.model(
        "conv-channel-mismatch.onnx",
        &conv_model(vec![], &["1", "5", "8", "8"], &[4, 3, 3, 3]),
        6,
        "conv",
        "5 input channels into a 3-channel kernel",
    );
    c.model(
        "gather-index-out-of-range.onnx",
        &model(
            17,
            vec![value("x", &["2", "3"])],
            vec![value("y", &[])],
            vec![
                node("Shape", "shape", &["x"], &["s"], vec![]),
                node("Gather", "pick", &["s", "i"], &["y"], vec![]),
            ],
            vec![scalar_init("i", 7, 9)],
        ),
        6,
        "pick",
        "index 9 of a 2-element shape",
    );
    c.model(
        "split-sizes-mismatch.onnx",
        &model(
            17,
            vec![value("x", &["6", "2"])],
            vec![value("a", &[]), value("b", &[])],
            vec![node(
                "Split",
                "split",
                &["x", "sizes"],
                &["a", "b"],
                vec![attr_int("axis", 0)],
            )],
            vec![int_init("sizes", &[2, 5])],
        ),
        6,
        "split",
        "sizes 2 + 5 of an axis of 6",
    );
    c.model(
        "softmax-axis-out-of-range.onnx",
        &unary("Softmax", "softmax", &["2", "3"], vec![attr_int("axis", 5)]),
        6,
        "axis 5 is out of range",
        "axis 5 of a rank-2 tensor",
    );
    c.model(
        "transpose-bad-perm.onnx",
        &unary(
            "Transpose",
            "transpose",
            &["2", "3"],
            vec![ints_attr("perm", &[0, 0])],
        ),
        6,
        "transpose",
        "a permutation that repeats an axis",
    );
    let mut wrong = conv_model(vec![], &["1", "3", "8", "8"], &[4, 3, 3, 3]);
    wrong.graph.as_mut().unwrap().node[0]
        .attribute
        .push(pb::AttributeProto {
            name: Some("strides".into()),
            r#type: Some(pb::attribute_proto::AttributeType::String as i32),
            s: Some(b"fast".to_vec().into()),
            ..Default::default()
        });
    c.model(
        "attribute-wrong-type.onnx",
        &wrong,
        4,
        "'strides' is a string, expected a list of integers",
        "strides given as a string",
    );
}

fn sizes(c: &mut Corpus) {
    let big = (1u64 << 40).to_string();
    c.model(
        "dims-product-overflows.onnx",
        &unary("Relu", "relu", &[&big, &big], vec![]),
        6,
        "overflows",
        "2^40 × 2^40 elements",
    );
    c.model(
        "expand-overflows.onnx",
        &model(
            17,
            vec![value("x", &["1"])],
            vec![value("y", &[])],
            vec![node("Expand", "expand", &["x", "shape"], &["y"], vec![])],
            vec![int_init("shape", &[1 << 40, 1 << 40])],
        ),
        6,
        "overflows",
        "Expand to 2^80 elements",
    );
    c.model(
        "tile-overflows.onnx",
        &model(
            17,
            vec![value("x", &["1024", "1024"])],
            vec![value("y", &[])],
            vec![node("Tile", "tile", &["x", "reps"], &["y"], vec![])],
            vec![int_init("reps", &[1 << 40, 1 << 40])],
        ),
        6,
        "overflows",
        "Tile by 2^40 × 2^40",
    );
    // A declared 10^15-element weight whose bytes are not there.
    let mut huge = conv_model(vec![], &["1", "3", "8", "8"], &[4, 3, 3, 3]);
    let w = &mut huge.graph.as_mut().unwrap().initializer[0];
    w.dims = vec![1_000_000, 1_000_000, 1_000];
    c.model(
        "initializer-1e15-elements.onnx",
        &huge,
        4,
        "need 4000000000000000",
        "a 4 PB weight declared in a 400-byte file",
    );
    // A 10^15-element input: analysable (nothing is allocated), but no runtime could hold it.
    let m = unary("Relu", "relu", &["1000000", "1000000", "1000"], vec![]);
    c.model(
        "input-1e15-elements.onnx",
        &m,
        0,
        "1.00P",
        "valid for analysis: 10^15 elements are counted, not allocated",
    );
    c.add(
        "bench-input-1e15-elements.onnx",
        &m.encode_to_vec(),
        &["bench", "--backend", "tract"],
        8,
        "more memory than this machine has",
        "bench refuses what cannot fit in memory",
    );
    // ConstantOfShape of 10^12 elements: constant folding must not materialize it.
    let m = model(
        17,
        vec![value("x", &["1"])],
        vec![value("y", &[])],
        vec![
            node("ConstantOfShape", "fill", &["shape"], &["c"], vec![]),
            node("Add", "add", &["c", "x"], &["y"], vec![]),
        ],
        vec![int_init("shape", &[1_000_000, 1_000_000])],
    );
    c.model(
        "constant-of-shape-1e12.onnx",
        &m,
        0,
        "1.00T",
        "valid: a 4 TB constant is counted, not built",
    );
    // A Loop of 2^62 iterations: its cost overflows 64 bits.
    let body = subgraph(
        vec![
            value("i", &[]),
            value("cond_in", &[]),
            value("acc_in", &["1024"]),
        ],
        vec![value("cond_out", &[]), value("acc_out", &["1024"])],
        vec![
            node("Identity", "keep", &["cond_in"], &["cond_out"], vec![]),
            node("Add", "step", &["acc_in", "acc_in"], &["acc_out"], vec![]),
        ],
    );
    let m = model(
        17,
        vec![value("x", &["1024"])],
        vec![value("y", &[])],
        vec![node(
            "Loop",
            "loop",
            &["trips", "", "x"],
            &["y"],
            vec![graph_attr("body", body)],
        )],
        vec![scalar_init("trips", 7, 1 << 62)],
    );
    c.model(
        "loop-2-62-iterations.onnx",
        &m,
        6,
        "overflows",
        "a loop whose total cost exceeds 2^64",
    );
    let mut short = conv_model(vec![], &["1", "3", "8", "8"], &[4, 3, 3, 3]);
    let w = &mut short.graph.as_mut().unwrap().initializer[0];
    w.raw_data = Some(vec![0u8; 10].into());
    c.model(
        "raw-data-too-short.onnx",
        &short,
        4,
        "holds 10 bytes",
        "10 bytes for a 432-byte weight",
    );
}

fn external(c: &mut Corpus, dir: &Path) {
    let ext = |loc: &str, offset: u64, length: u64| {
        model(
            17,
            vec![value("x", &["2", "4"])],
            vec![value("y", &[])],
            vec![node("MatMul", "mm", &["x", "w"], &["y"], vec![])],
            vec![external_init("w", &[4, 3], loc, offset, length)],
        )
    };
    c.model(
        "external-parent-path.onnx",
        &ext("../../etc/passwd", 0, 48),
        4,
        "outside the model's folder",
        "weights from ../../etc/passwd",
    );
    c.model(
        "external-absolute-path.onnx",
        &ext("/etc/passwd", 0, 48),
        4,
        "outside the model's folder",
        "weights from /etc/passwd",
    );
    std::fs::write(dir.join("short-weights.bin"), [0u8; 16]).unwrap();
    c.model(
        "external-range-past-end.onnx",
        &ext("short-weights.bin", 0, 48),
        4,
        "beyond the end",
        "48 bytes wanted from a 16-byte file",
    );
    c.model(
        "external-offset-huge.onnx",
        &ext("short-weights.bin", u64::MAX - 8, 48),
        4,
        "short-weights.bin",
        "an offset near 2^64 (offset + length overflows)",
    );
    c.model(
        "external-missing-file.onnx",
        &ext("not-there.bin", 0, 48),
        0,
        "weights are absent",
        "not an error: graph-only files are the norm; a warning says so",
    );
}

/// A safetensors file: the header's length, the header, and `data` zero bytes.
fn safetensors(header: &str, data: usize) -> Vec<u8> {
    [
        &(header.len() as u64).to_le_bytes()[..],
        header.as_bytes(),
        &vec![0u8; data],
    ]
    .concat()
}

/// safetensors and GGUF headers that lie.
fn checkpoints(c: &mut Corpus) {
    let p = ["profile"];
    let st = safetensors;
    c.add(
        "st-length-prefix-2-60.safetensors",
        &[&(1u64 << 60).to_le_bytes()[..], b"{}"].concat(),
        &p,
        4,
        "length prefix",
        "a header length far past the end of the file",
    );
    c.add(
        "st-header-not-json.safetensors",
        &st("{\"w\": [1, 2", 0),
        &p,
        4,
        "not a JSON object",
        "a header cut in the middle",
    );
    c.add(
        "st-offsets-past-end.safetensors",
        &st(
            r#"{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 4000]}}"#,
            8,
        ),
        &p,
        4,
        "outside the 8-byte data section",
        "offsets beyond the data",
    );
    c.add(
        "st-offsets-wrong-size.safetensors",
        &st(
            r#"{"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 6]}}"#,
            8,
        ),
        &p,
        4,
        "need 8 bytes",
        "offsets that disagree with dtype and shape",
    );
    c.add(
        "st-shape-overflows.safetensors",
        &st(
            r#"{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}}"#,
            8,
        ),
        &p,
        4,
        "overflows 64 bits",
        "2^64 elements",
    );
    c.add(
        "st-unknown-dtype.safetensors",
        &st(
            r#"{"w": {"dtype": "F13", "shape": [2], "data_offsets": [0, 8]}}"#,
            8,
        ),
        &p,
        4,
        "unknown dtype F13",
        "a dtype that does not exist",
    );
    let gguf = |version: u32, tensors: u64, kvs: u64| {
        [
            &b"GGUF"[..],
            &version.to_le_bytes(),
            &tensors.to_le_bytes(),
            &kvs.to_le_bytes(),
        ]
        .concat()
    };
    c.add(
        "gguf-bad-magic.gguf",
        b"GGML\x03\x00\x00\x00",
        &p,
        4,
        "no GGUF magic",
        "another format under the .gguf name",
    );
    c.add(
        "gguf-version-1.gguf",
        &gguf(1, 0, 0),
        &p,
        4,
        "GGUF version 1",
        "the pre-release v1 layout",
    );
    c.add(
        "gguf-absurd-counts.gguf",
        &gguf(3, u64::MAX, 1),
        &p,
        4,
        "more than a",
        "2^64 tensors declared in 24 bytes",
    );
    let mut b = gguf(3, 0, 1);
    b.extend(4u64.to_le_bytes());
    b.extend(b"toks");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend((1u64 << 50).to_le_bytes());
    c.add(
        "gguf-array-count-lies.gguf",
        &b,
        &p,
        4,
        "cannot fit",
        "an array of 2^50 strings in a few bytes",
    );
    // One tensor record: name "w", dims (innermost first), ggml type, offset 0.
    let tensor = |dims: &[u64], ggml: u32| {
        let mut b = gguf(3, 1, 0);
        b.extend(1u64.to_le_bytes());
        b.extend(b"w");
        b.extend((dims.len() as u32).to_le_bytes());
        dims.iter().for_each(|d| b.extend(d.to_le_bytes()));
        b.extend(ggml.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b
    };
    let b = tensor(&[64, 64], 0);
    c.add(
        "gguf-tensor-beyond-end.gguf",
        &b,
        &p,
        4,
        "beyond the end",
        "a 16 KiB tensor in a 60-byte file",
    );
    let b = tensor(&[33], 2);
    c.add(
        "gguf-partial-block.gguf",
        &b,
        &p,
        4,
        "not a multiple of the block size",
        "33 weights of a 32-weight quantization block",
    );
    c.add(
        "model.safetensors.index.json",
        br#"{"weight_map": {"w": "../../etc/passwd"}}"#,
        &p,
        4,
        "not a file name",
        "a shard outside the index's folder",
    );
}

/// `tap`: change a value in place and return it (keeps the case table above compact).
trait Tap: Sized {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl<T> Tap for T {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
