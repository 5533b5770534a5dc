//! Analysis time against graph size: shows that shape inference and costing stay linear.
//!
//! `cargo bench -p flopscope-core --bench analysis` prints a table of nodes, time per analysis and
//! time per node for synthetic residual MLP chains of growing length (no files involved).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use flopscope_core::graph::{DType, Dim, Graph, Initializer, Node, TensorData, Value, ValueKind};

fn value(g: &mut Graph, name: String, kind: ValueKind) -> usize {
    g.values.push(Value {
        name,
        kind,
        dtype: Some(DType::F32),
        shape: None,
        seq: false,
    });
    g.values.len() - 1
}

/// `blocks` × (MatMul → Add bias → Relu → Add residual) on a [batch, 256] activation.
fn chain(blocks: usize) -> Graph {
    let mut g = Graph::default();
    g.opsets.insert(String::new(), 17);
    let x = value(&mut g, "x".into(), ValueKind::Input);
    g.values[x].shape = Some(vec![Dim::Sym("batch".into()), Dim::Known(256)]);
    g.inputs.push(x);
    let mut cur = x;
    for b in 0..blocks {
        let init = |g: &mut Graph, n: &str, dims: Vec<u64>| {
            let id = value(
                g,
                format!("{n}{b}"),
                ValueKind::Initializer(g.initializers.len()),
            );
            g.initializers.push(Initializer {
                value: id,
                dtype: DType::F32,
                dims,
                data: TensorData::None,
            });
            id
        };
        let w = init(&mut g, "w", vec![256, 256]);
        let bias = init(&mut g, "b", vec![256]);
        let op = |g: &mut Graph, op: &str, ins: Vec<usize>| {
            let out = value(
                g,
                format!("{op}{b}_{}", g.nodes.len()),
                ValueKind::NodeOutput,
            );
            g.nodes.push(Node {
                name: format!("/block{b}/{op}"),
                op_type: op.into(),
                domain: String::new(),
                inputs: ins.into_iter().map(Some).collect(),
                outputs: vec![Some(out)],
                attrs: Default::default(),
                scope: vec![format!("block{b}")],
            });
            out
        };
        let m = op(&mut g, "MatMul", vec![cur, w]);
        let a = op(&mut g, "Add", vec![m, bias]);
        let r = op(&mut g, "Relu", vec![a]);
        cur = op(&mut g, "Add", vec![r, cur]);
    }
    g.outputs.push(cur);
    g
}

fn main() {
    println!("{:>9}  {:>12}  {:>10}", "nodes", "analysis", "per node");
    for blocks in [250, 2_500, 25_000] {
        let g = chain(blocks);
        let bindings = HashMap::from([("batch".to_string(), 8u64)]);
        let shapes = HashMap::from([(g.inputs[0], vec![8u64, 256])]);
        let runs = 5;
        let start = Instant::now();
        for _ in 0..runs {
            let a = flopscope_core::infer::analyze(&g, &shapes, &bindings, &|_| None)
                .expect("analyses");
            let info = flopscope_core::schema::ModelInfo {
                source: "chain".into(),
                producer: String::new(),
                ir_version: 0,
                opset: 17,
                nodes: g.nodes.len(),
                weights: flopscope_core::schema::WeightsStatus::None,
                file_bytes: 0,
            };
            let p = flopscope_core::profile::build(&g, &a, info, BTreeMap::new()).unwrap();
            assert_eq!(p.totals.macs, 8 * 256 * 256 * blocks as u64);
        }
        let per = start.elapsed() / runs;
        println!(
            "{:>9}  {:>9.2} ms  {:>7.0} ns",
            g.nodes.len(),
            per.as_secs_f64() * 1e3,
            per.as_nanos() as f64 / g.nodes.len() as f64
        );
    }
}
