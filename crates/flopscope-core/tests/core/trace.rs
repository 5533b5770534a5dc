//! The `flopscope.trace/1` front-end: documents recorded from PyTorch modules by
//! `python/flopscope/_capture.py` (`tests/data/traces/make_traces.py` makes them), counted
//! against figures worked out by hand from `docs/counting.md`, and hostile documents, which
//! must be an `Err`, never a panic.

use flopscope_core::{profile, profile_bytes, Error, Options, Profile, Source};
use serde_json::{json, Value};

fn trace_path(name: &str) -> std::path::PathBuf {
    crate::common::data()
        .join("traces")
        .join(format!("{name}.json"))
}

fn trace_bytes(name: &str) -> Vec<u8> {
    std::fs::read(trace_path(name)).expect("trace file")
}

fn load(name: &str) -> Profile {
    profile_bytes(&trace_bytes(name), &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Sum of the parameters attributed to layers whose innermost module is `module`.
fn params_in(p: &Profile, module: &str) -> u64 {
    p.layers
        .iter()
        .filter(|l| l.scope.last().map(String::as_str) == Some(module))
        .map(|l| l.params)
        .sum()
}

/// Sum of the MACs of layers whose innermost module is `module`.
fn macs_in(p: &Profile, module: &str) -> u64 {
    p.layers
        .iter()
        .filter(|l| l.scope.last().map(String::as_str) == Some(module))
        .map(|l| l.macs.expect("a known cost"))
        .sum()
}

/// The layers of one operator type.
fn layers_of<'p>(p: &'p Profile, op: &str) -> Vec<&'p flopscope_core::schema::Layer> {
    p.layers.iter().filter(|l| l.op == op).collect()
}

fn assert_all_supported(p: &Profile) {
    assert!(p.unsupported.is_empty(), "unsupported: {:?}", p.unsupported);
    assert_eq!(p.totals.nodes_cost_unknown, 0);
}

// ---------------------------------------------------------------------------------------
// Recorded modules
// ---------------------------------------------------------------------------------------

/// Conv2d(3, 8, 3, padding=1, bias=False) → BatchNorm2d(8) → ReLU → AdaptiveAvgPool2d(1) →
/// Flatten → Linear(8, 4) on a [1, 3, 16, 16] input, eval mode, no_grad.
#[test]
fn tiny_cnn_counts_match_the_hand_figures() {
    let p = load("tiny_cnn");
    assert_all_supported(&p);

    // Parameters: conv.weight 8·3·3·3 = 216; bn.weight 8 + bn.bias 8 = 16;
    // fc.weight 4·8 = 32 + fc.bias 4 = 36. Total 216 + 16 + 36 = 268.
    assert_eq!(p.totals.params, 268);
    // Buffers ("Buffers" in counting.md): BatchNorm's running_mean 8 + running_var 8 = 16.
    // (num_batches_tracked is an int64 scalar: neither a parameter nor a running statistic.)
    assert_eq!(p.totals.buffers, 16);

    // MACs. Conv, padding 1 keeps 16×16: numel(Y) = 1·8·16·16 = 2,048, each
    // Cin·kh·kw = 3·3·3 = 27 MACs → 2,048·27 = 55,296.
    // Linear (addmm → Gemm): batch 1 · in 8 · out 4 = 32.
    // BatchNorm, ReLU, mean, view, t: no products → 0.
    // Total 55,296 + 32 = 55,328.
    assert_eq!(p.totals.macs, 55_328);

    // FLOPs (2·MACs + the rest):
    //   Conv (no bias):              2·55,296          = 110,592
    //   BatchNormalization: 2/elem · 2,048              =   4,096
    //   Relu: 1/elem · 2,048                            =   2,048
    //   mean over H,W (ReduceMean): numel(X) + numel(Y) = 2,048 + 8 = 2,056
    //   Gemm: 2·32 + bias M·N = 64 + 4                  =      68
    //   Total 110,592 + 4,096 + 2,048 + 2,056 + 68     = 118,860
    assert_eq!(p.totals.flops, 118_860);

    // Layers carry their modules' names.
    let conv = layers_of(&p, "Conv");
    assert_eq!(conv.len(), 1);
    assert_eq!(conv[0].scope.last().map(String::as_str), Some("conv"));
    assert_eq!(conv[0].macs, Some(55_296));
    assert_eq!(conv[0].params, 216);
    assert_eq!(conv[0].outputs, vec![Some(vec![1, 8, 16, 16])]);
    let bn = layers_of(&p, "BatchNormalization");
    assert_eq!(bn.len(), 1);
    assert_eq!(bn[0].scope.last().map(String::as_str), Some("bn"));
    assert_eq!(bn[0].params, 16);
    let relu = layers_of(&p, "Relu");
    assert_eq!(relu.len(), 1);
    assert_eq!(relu[0].scope.last().map(String::as_str), Some("relu"));
    let gemm = layers_of(&p, "Gemm");
    assert_eq!(gemm.len(), 1);
    assert_eq!(gemm[0].scope.last().map(String::as_str), Some("fc"));
    assert_eq!(gemm[0].macs, Some(32));
    // fc's 36 parameters lie in the `fc` scope (the weight may go to the `t` node that reads
    // it first, the bias to the Gemm): together 32 + 4.
    assert_eq!(params_in(&p, "fc"), 36);
    assert_eq!(macs_in(&p, "conv"), 55_296);
    assert_eq!(macs_in(&p, "fc"), 32);
    // Every parameter is in some layer: 216 + 16 + 36 = 268.
    assert_eq!(p.layers.iter().map(|l| l.params).sum::<u64>(), 268);
    // The graph's output is the Linear's [1, 4].
    assert_eq!(p.outputs.len(), 1);
    assert_eq!(p.outputs[0].shape, Some(vec![1, 4]));
    assert_eq!(p.inputs.len(), 1);
    assert_eq!(p.inputs[0].shape, Some(vec![1, 3, 16, 16]));
}

/// nn.MultiheadAttention(16, 4, batch_first=True) on its fused inference path
/// (`aten._native_multi_head_attention`) then Linear(16, 16), input [2, 5, 16].
#[test]
fn tiny_mha_block_counts_match_the_hand_figures() {
    let p = load("tiny_mha_block");
    assert_all_supported(&p);

    // Parameters: in_proj_weight 3·16·16 = 768, in_proj_bias 48, out_proj.weight 16·16 = 256,
    // out_proj.bias 16, proj.weight 256, proj.bias 16.
    // Total 768 + 48 + 256 + 16 + 256 + 16 = 1,360.
    assert_eq!(p.totals.params, 1_360);
    assert_eq!(p.totals.buffers, 0);

    // MACs, with B = 2, L = S = 5, E = 16, H = 4 heads of dk = dv = 4:
    //   input projection (q, k, v together): B·L·E·3E = 2·5·16·48 = 7,680
    //   attention: B·H·L·S·(dk + dv) = 2·4·5·5·8                  = 1,600
    //   output projection: B·L·E·E = 2·5·16·16                     = 2,560
    //   Linear (addmm on [10,16] × [16,16]): 10·16·16              = 2,560
    //   Total 7,680 + 1,600 + 2,560 + 2,560                        = 14,400
    assert_eq!(p.totals.macs, 14_400);

    // FLOPs:
    //   in-projection 2·7,680 + bias add over [2,5,48] = 15,360 + 480 = 15,840
    //   attention: 2·1,600 + scores·6 (scale + softmax), scores = 2·4·5·5 = 200
    //              → 3,200 + 1,200                                   =  4,400
    //   out-projection 2·2,560 + bias add over [2,5,16] = 5,120 + 160 = 5,280
    //   Linear (Gemm) 2·2,560 + bias M·N = 5,120 + 160               =  5,280
    //   Total 15,840 + 4,400 + 5,280 + 5,280                         = 30,800
    assert_eq!(p.totals.flops, 30_800);

    // The attention module's work is all in the `attn` scope, the Linear's in `proj`.
    assert_eq!(macs_in(&p, "attn"), 7_680 + 1_600 + 2_560);
    assert_eq!(macs_in(&p, "proj"), 2_560);
    assert_eq!(params_in(&p, "attn"), 768 + 48 + 256 + 16);
    assert_eq!(params_in(&p, "proj"), 256 + 16);
    let att = layers_of(&p, "Attention");
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].scope.last().map(String::as_str), Some("attn"));
    assert_eq!(att[0].macs, Some(1_600));
    assert_eq!(p.outputs.len(), 1);
    assert_eq!(p.outputs[0].shape, Some(vec![2, 5, 16]));
}

/// F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True) with q
/// [1, 8, 6, 4] and k, v [1, 2, 6, 4]: 8 query heads over 2 key/value heads.
#[test]
fn grouped_query_causal_sdpa_counts_every_query_head_and_the_full_score_matrix() {
    let p = load("gqa_causal_sdpa");
    assert_all_supported(&p);
    assert_eq!(p.totals.params, 0);
    assert_eq!(p.totals.buffers, 0);

    // counting.md, Attention: grouped-query attention is counted with the H query heads, and
    // a causal mask does not halve the count.
    // scores = B·H·L·S = 1·8·6·6 = 288; MACs = 288·(dk + dv) = 288·(4 + 4) = 2,304.
    assert_eq!(p.totals.macs, 2_304);
    // FLOPs = 2·2,304 + 288·6 (no mask input) = 4,608 + 1,728 = 6,336.
    assert_eq!(p.totals.flops, 6_336);
    let att = layers_of(&p, "Attention");
    assert_eq!(att.len(), 1);
    assert_eq!(att[0].macs, Some(2_304));
    assert_eq!(att[0].outputs[0], Some(vec![1, 8, 6, 4]));
    // Activations: output 1·8·6·4 · 4 B = 768 plus the kernel's logsumexp 1·8·6 · 4 B = 192.
    assert_eq!(p.totals.activation_bytes, 768 + 192);
    assert_eq!(p.outputs.len(), 1);
    assert_eq!(p.outputs[0].shape, Some(vec![1, 8, 6, 4]));
}

/// A `.json` path and its bytes are read alike.
#[test]
fn a_trace_file_and_its_bytes_give_the_same_counts() {
    let opts = Options::default();
    for name in ["tiny_cnn", "tiny_mha_block", "gqa_causal_sdpa"] {
        let path = trace_path(name);
        let from_file = profile(&Source::Path(&path), &opts).unwrap_or_else(|e| panic!("{e}"));
        let from_bytes = load(name);
        let (a, b) = (&from_file.totals, &from_bytes.totals);
        assert_eq!(
            (a.params, a.buffers, a.macs, a.flops, a.nodes),
            (b.params, b.buffers, b.macs, b.flops, b.nodes),
            "{name}"
        );
        assert_eq!(
            from_file.model.weights,
            flopscope_core::schema::WeightsStatus::Traced
        );
    }
}

// ---------------------------------------------------------------------------------------
// Hand-written documents
// ---------------------------------------------------------------------------------------

/// x [1, 4] → relu → `op` → mm with w [4, 3] → [1, 3], the middle call being `middle`.
fn chain(middle: Value) -> Value {
    json!({
        "schema": "flopscope.trace/1",
        "name": "chain",
        "values": [
            {"name": "x", "dtype": "float32", "shape": [1, 4], "role": "input"},
            {"name": "w", "dtype": "float32", "shape": [4, 3], "role": "param"},
            {"dtype": "float32", "shape": [1, 4]},
            {"dtype": "float32", "shape": [1, 4]},
            {"dtype": "float32", "shape": [1, 3]}
        ],
        "calls": [
            {"op": "aten.relu.default", "scope": ["act"], "args": {"self": {"v": 0}},
             "outputs": [2]},
            middle,
            {"op": "aten.mm.default", "scope": ["head"],
             "args": {"self": {"v": 3}, "mat2": {"v": 1}}, "outputs": [4]}
        ],
        "outputs": [4]
    })
}

/// The bytes of a document with `schema`, `name` and `producer` first: a trace is told from
/// other formats by its schema within the first bytes, and `serde_json` sorts keys.
fn bytes_of(doc: &Value) -> Vec<u8> {
    let obj = doc.as_object().expect("a JSON object");
    let head = ["schema", "name", "producer"];
    let fields: Vec<String> = head
        .iter()
        .filter_map(|&k| obj.get(k).map(|v| (k, v)))
        .chain(
            obj.iter()
                .filter(|(k, _)| !head.contains(&k.as_str()))
                .map(|(k, v)| (k.as_str(), v)),
        )
        .map(|(k, v)| format!("{}:{v}", Value::from(k)))
        .collect();
    format!("{{{}}}", fields.join(",")).into_bytes()
}

fn run(doc: &Value) -> flopscope_core::Result<Profile> {
    profile_bytes(&bytes_of(doc), &Options::default())
}

#[test]
fn the_hand_written_chain_counts_as_expected() {
    let doc = chain(json!({"op": "aten.neg.default", "scope": ["mid"],
                           "args": {"self": {"v": 2}}, "outputs": [3]}));
    let p = run(&doc).unwrap();
    assert_all_supported(&p);
    // w: 4·3 = 12 parameters. mm [1,4]×[4,3]: 1·4·3 = 12 MACs.
    assert_eq!(p.totals.params, 12);
    assert_eq!(p.totals.macs, 12);
    // relu 4 + neg 4 + mm 2·12 = 32 FLOPs.
    assert_eq!(p.totals.flops, 32);
}

#[test]
fn an_unknown_op_is_listed_and_the_ops_after_it_still_count() {
    let doc = chain(
        json!({"op": "aten.some_unknown_op.default", "scope": ["mid"],
                           "args": {"self": {"v": 2}, "alpha": 0.5}, "outputs": [3]}),
    );
    let p = run(&doc).unwrap();
    assert_eq!(p.unsupported.len(), 1, "{:?}", p.unsupported);
    assert!(
        p.unsupported[0].op.contains("some_unknown_op"),
        "{:?}",
        p.unsupported[0]
    );
    assert_eq!(p.unsupported[0].count, 1);
    assert_eq!(p.totals.nodes_cost_unknown, 1);
    // The mm after it keeps its cost: 1·4·3 = 12 MACs, 24 FLOPs; relu before it 4 FLOPs.
    assert_eq!(p.totals.macs, 12);
    assert_eq!(p.totals.flops, 4 + 24);
    let mm = layers_of(&p, "MatMul");
    assert_eq!(mm.len(), 1);
    assert_eq!(mm[0].macs, Some(12));
    assert_eq!(mm[0].scope, vec!["head".to_string()]);
    assert_eq!(
        mm[0].inputs[0],
        Some(vec![1, 4]),
        "the traced shape is kept"
    );
    let unknown = p
        .layers
        .iter()
        .find(|l| l.op.contains("some_unknown_op"))
        .expect("a layer for the unknown op");
    assert_eq!(unknown.macs, None);
    assert_eq!(unknown.scope, vec!["mid".to_string()]);
    assert_eq!(p.totals.params, 12);
}

/// The error of a hostile document, which must not be a panic; its message must name `needle`.
fn expect_err(bytes: &[u8], needle: &str) -> Error {
    let r = std::panic::catch_unwind(|| profile_bytes(bytes, &Options::default()));
    let e = match r {
        Err(_) => panic!("panicked on a hostile trace (expected an error naming '{needle}')"),
        Ok(Ok(_)) => panic!("accepted a hostile trace (expected an error naming '{needle}')"),
        Ok(Err(e)) => e,
    };
    let msg = e.to_string();
    assert!(
        msg.contains(needle),
        "the error '{msg}' does not name '{needle}'"
    );
    e
}

fn expect_err_json(doc: &Value, needle: &str) -> Error {
    expect_err(&bytes_of(doc), needle)
}

#[test]
fn a_wrong_schema_is_an_error() {
    // Another version whose name begins like this one's: read as a trace, refused by name.
    let mut doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                               "outputs": [3]}));
    doc["schema"] = json!("flopscope.trace/10");
    let e = expect_err_json(&doc, "flopscope.trace/10");
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    // A schema that does not look like a trace at all is still no model.
    doc["schema"] = json!("flopscope.trace/2");
    assert!(run(&doc).is_err());
    // A missing schema is malformed.
    let mut doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                               "outputs": [3]}));
    doc.as_object_mut().unwrap().remove("schema");
    doc["name"] = json!("flopscope.trace/1");
    expect_err_json(&doc, "schema");
}

#[test]
fn a_value_index_out_of_range_is_an_error() {
    // An argument naming value 99 of 5.
    let doc = chain(
        json!({"op": "aten.neg.default", "args": {"self": {"v": 99}},
                           "outputs": [3]}),
    );
    let e = expect_err_json(&doc, "99");
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    // An output naming value 7 of 5.
    let doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                           "outputs": [7]}));
    expect_err_json(&doc, "7");
    // A graph output out of range.
    let mut doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                               "outputs": [3]}));
    doc["outputs"] = json!([4, 5]);
    expect_err_json(&doc, "5");
    // A huge index (past usize on 32-bit targets, past the values everywhere).
    let doc = chain(json!({"op": "aten.neg.default",
                           "args": {"self": {"v": u64::MAX}}, "outputs": [3]}));
    expect_err_json(&doc, &u64::MAX.to_string());
    // A negative index is no tensor reference.
    let doc = chain(
        json!({"op": "aten.neg.default", "args": {"self": {"v": -1}},
                           "outputs": [3]}),
    );
    assert!(run(&doc).is_err());
}

#[test]
fn a_value_index_out_of_range_in_an_unknown_op_is_an_error() {
    // An op without a translation reads every tensor argument; one that names no value
    // must not silently vanish from the graph either.
    let doc = chain(json!({"op": "aten.some_unknown_op.default",
                           "args": {"self": {"v": 2}, "other": {"v": 42}}, "outputs": [3]}));
    expect_err_json(&doc, "42");
}

#[test]
fn a_value_produced_twice_is_an_error() {
    // The middle call writes value 2, which relu already wrote.
    let doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 0}},
                           "outputs": [2]}));
    let e = expect_err_json(&doc, "produced twice");
    assert!(matches!(e, Error::Malformed { .. }), "{e:?}");
    // One call naming the same value twice among its outputs.
    let doc = chain(
        json!({"op": "aten.some_unknown_op.default", "args": {"self": {"v": 2}},
                           "outputs": [3, 3]}),
    );
    expect_err_json(&doc, "produced twice");
}

/// The format says a `value` is produced by exactly one call and an input, parameter or
/// buffer by none; these documents break that without tripping the "produced twice" check.
#[test]
fn values_produced_by_no_call_or_written_over_a_leaf_are_errors() {
    // A call that writes the parameter w (value 1), leaving value 3 produced by nothing.
    let doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                           "outputs": [1]}));
    assert!(run(&doc).is_err(), "a parameter overwritten by a call");
    // A call that writes a graph input that only later calls read.
    let doc = json!({
        "schema": "flopscope.trace/1",
        "values": [
            {"dtype": "float32", "shape": [1, 4], "role": "input"},
            {"dtype": "float32", "shape": [1, 4], "role": "input"},
            {"dtype": "float32", "shape": [1, 4]}
        ],
        "calls": [
            {"op": "aten.neg.default", "args": {"self": {"v": 1}}, "outputs": [0]},
            {"op": "aten.relu.default", "args": {"self": {"v": 0}}, "outputs": [2]}
        ],
        "outputs": [2]
    });
    assert!(run(&doc).is_err(), "an input overwritten by a call");
    // Value 3 is read by the mm but produced by no call (the middle call has no tensor
    // output).
    let doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                           "outputs": [null]}));
    assert!(run(&doc).is_err(), "a value produced by no call");
}

#[test]
fn a_call_that_writes_an_input_it_depends_on_is_an_error() {
    // relu reads x (value 0) and the middle call, after it, writes x: a cycle.
    let doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                           "outputs": [0]}));
    assert!(run(&doc).is_err());
}

#[test]
fn a_call_that_reads_its_own_output_is_an_error() {
    // neg(v3) → v3: a cycle.
    let doc = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 3}},
                           "outputs": [3]}));
    assert!(run(&doc).is_err());
}

#[test]
fn truncated_json_is_an_error() {
    let bytes = trace_bytes("tiny_cnn");
    for cut in [bytes.len() / 4, bytes.len() / 2, bytes.len() - 2] {
        let e = expect_err(&bytes[..cut], "trace");
        assert!(matches!(e, Error::Malformed { .. }), "cut {cut}: {e:?}");
    }
    // Only the opening brace and the schema.
    expect_err(br#"{"schema": "flopscope.trace/1""#, "trace");
    // The schema and nothing else.
    expect_err(br#"{"schema": "flopscope.trace/1"}"#, "values");
}

#[test]
fn ill_typed_fields_are_errors() {
    let base = chain(json!({"op": "aten.neg.default", "args": {"self": {"v": 2}},
                            "outputs": [3]}));
    // A negative dim.
    let mut doc = base.clone();
    doc["values"][2]["shape"] = json!([1, -4]);
    assert!(run(&doc).is_err());
    // A role that does not exist.
    let mut doc = base.clone();
    doc["values"][1]["role"] = json!("weight");
    assert!(run(&doc).is_err());
    // Calls that are not a list.
    let mut doc = base.clone();
    doc["calls"] = json!({"op": "aten.relu.default"});
    assert!(run(&doc).is_err());
    // A required argument missing (conv without a weight).
    let mut doc = base;
    doc["calls"][1] = json!({"op": "aten.convolution.default",
                             "args": {"input": {"v": 2}}, "outputs": [3]});
    expect_err_json(&doc, "weight");
}

#[test]
fn huge_shapes_do_not_panic() {
    // 2^40 · 2^40 elements overflow a u64 product of the mm's MACs: an error (exit 6's kind),
    // never a panic, a wrapped count or a saturated one.
    let big = 1u64 << 40;
    let doc = json!({
        "schema": "flopscope.trace/1",
        "values": [
            {"dtype": "float32", "shape": [big, big], "role": "input"},
            {"dtype": "float32", "shape": [big, big], "role": "param"},
            {"dtype": "float32", "shape": [big, big]}
        ],
        "calls": [{"op": "aten.mm.default", "args": {"self": {"v": 0}, "mat2": {"v": 1}},
                   "outputs": [2]}],
        "outputs": [2]
    });
    let r = std::panic::catch_unwind(|| run(&doc));
    match r {
        Err(_) => panic!("panicked on a huge shape"),
        Ok(Err(e)) => assert!(
            matches!(
                e,
                flopscope_core::Error::Shape { .. } | flopscope_core::Error::Overflow(_)
            ),
            "{e}"
        ),
        Ok(Ok(p)) => panic!("a count presented for 2^120 MACs: {}", p.totals.macs),
    }
}

/// `_scaled_dot_product_efficient_attention` (a CUDA kernel) as PyTorch records it: output,
/// log_sumexp [B, H, L rounded up to 32], philox seed and offset (int64 scalars).
fn efficient_attention() -> Value {
    json!({
        "schema": "flopscope.trace/1",
        "values": [
            {"dtype": "float32", "shape": [1, 8, 6, 4], "role": "input"},
            {"dtype": "float32", "shape": [1, 8, 6, 4], "role": "input"},
            {"dtype": "float32", "shape": [1, 8, 6, 4], "role": "input"},
            {"dtype": "float32", "shape": [1, 8, 6, 4]},
            {"dtype": "float32", "shape": [1, 8, 32]},
            {"dtype": "int64", "shape": []},
            {"dtype": "int64", "shape": []}
        ],
        "calls": [{"op": "aten._scaled_dot_product_efficient_attention.default",
                   "args": {"query": {"v": 0}, "key": {"v": 1}, "value": {"v": 2},
                            "attn_bias": null, "compute_log_sumexp": true,
                            "dropout_p": 0.0, "is_causal": false, "scale": null},
                   "outputs": [3, 4, 5, 6]}],
        "outputs": [3]
    })
}

/// `_scaled_dot_product_flash_attention` (CUDA) as PyTorch records it: nine outputs, the
/// SymInt ones null.
fn cuda_flash_attention() -> Value {
    json!({
        "schema": "flopscope.trace/1",
        "values": [
            {"dtype": "float16", "shape": [1, 8, 6, 4], "role": "input"},
            {"dtype": "float16", "shape": [1, 8, 6, 4], "role": "input"},
            {"dtype": "float16", "shape": [1, 8, 6, 4], "role": "input"},
            {"dtype": "float16", "shape": [1, 8, 6, 4]},
            {"dtype": "float32", "shape": [1, 8, 6]},
            {"dtype": "int64", "shape": [2]},
            {"dtype": "int64", "shape": [0]},
            {"dtype": "float16", "shape": [0]}
        ],
        "calls": [{"op": "aten._scaled_dot_product_flash_attention.default",
                   "args": {"query": {"v": 0}, "key": {"v": 1}, "value": {"v": 2},
                            "dropout_p": 0.0, "is_causal": true,
                            "return_debug_mask": false, "scale": null},
                   "outputs": [3, 4, null, null, null, null, 5, 6, 7]}],
        "outputs": [3]
    })
}

#[test]
fn the_cuda_attention_kernels_count_like_the_cpu_one() {
    // B·H·L·S·(dk + dv) = 1·8·6·6·(4 + 4) = 2,304 MACs; FLOPs 2·2,304 + 288·6 = 6,336.
    for doc in [efficient_attention(), cuda_flash_attention()] {
        let p = run(&doc).unwrap();
        assert_all_supported(&p);
        assert_eq!(p.totals.macs, 2_304);
        assert_eq!(p.totals.flops, 6_336);
    }
}

/// The extra outputs of an attention kernel (log-sum-exp, RNG state) are what the trace
/// says they are, not ONNX `Attention`'s optional outputs (present key and value, scores):
/// the `Attention` node has the attention output only, the rest sit on a node that moves
/// nothing.
#[test]
fn attention_kernel_side_outputs_keep_their_traced_shapes() {
    // Efficient attention: output 1·8·6·4·4 B = 768, log_sumexp 1·8·32·4 B = 1,024,
    // two int64 scalars 8 + 8: 1,808 bytes.
    let p = run(&efficient_attention()).unwrap();
    assert_eq!(
        layers_of(&p, "Attention")[0].outputs,
        vec![Some(vec![1, 8, 6, 4])]
    );
    assert_eq!(
        layers_of(&p, "attention_stats")[0].outputs,
        vec![Some(vec![1, 8, 32]), Some(vec![]), Some(vec![])]
    );
    assert_eq!(p.totals.activation_bytes, 1_808);
    // CUDA flash attention: output 1·8·6·4·2 B = 384, logsumexp 1·8·6·4 B = 192,
    // rng_state 2·8 B = 16, two empty tensors 0: 592 bytes.
    let p = run(&cuda_flash_attention()).unwrap();
    assert_eq!(p.totals.activation_bytes, 592);
    // The CPU kernel of the recorded trace: output [1,8,6,4], logsumexp [1,8,6].
    let p = load("gqa_causal_sdpa");
    assert_eq!(
        layers_of(&p, "Attention")[0].outputs,
        vec![Some(vec![1, 8, 6, 4])]
    );
    assert_eq!(
        layers_of(&p, "attention_stats")[0].outputs,
        vec![Some(vec![1, 8, 6])]
    );
}

// ---------------------------------------------------------------------------------------
// Training steps: forward, loss and the backward pass autograd ran
// ---------------------------------------------------------------------------------------

fn load_training(name: &str) -> Profile {
    let opts = Options {
        training: Some(flopscope_core::training::TrainingOptions::default()),
        ..Options::default()
    };
    profile_bytes(&trace_bytes(name), &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The tiny CNN of `tiny_cnn_counts_match_the_hand_figures` in train mode at batch 2, one
/// step with the loss `out.sum()`: conv 3→8 (3×3, pad 1, no bias) → BatchNorm (batch
/// statistics) → ReLU → mean over H, W → Linear(8, 4).
#[test]
fn tiny_cnn_training_step_matches_the_hand_figures() {
    let p = load_training("tiny_cnn_train");
    assert_all_supported(&p);
    let t = p.training.as_ref().expect("a training section");
    // Forward MACs: conv 2·8·16·16 = 4,096 outputs × 27 = 110,592; Linear 2·8·4 = 64.
    assert_eq!(t.forward_macs, 110_656);
    // Backward MACs: Linear dX [2,4]×[4,8] 64 and dW [4,2]×[2,8] 64; the conv's weight
    // gradient 110,592 and no input gradient (the input does not require grad).
    assert_eq!(t.backward_macs, 110_720);
    // Forward FLOPs: conv 221,184; BatchNorm with batch statistics 7·4,096 (as
    // GroupNormalization); ReLU 4,096; mean 4,096 + 16; Gemm 2·64 + bias 8; the loss's sum 8;
    // num_batches_tracked += 1 is an integer (0).
    assert_eq!(t.forward_flops, 221_184 + 28_672 + 4_096 + 4_112 + 136 + 8);
    // Backward FLOPs: the two mm 256; the bias gradient's sum over [2,4] 8; mean's
    // gradient divided over the window 4,096; threshold_backward 1·4,096; BatchNorm's
    // backward with batch statistics and all three gradients 9·4,096 = 36,864; the conv's
    // weight gradient 2·110,592 = 221,184.
    assert_eq!(t.backward_flops, 256 + 8 + 4_096 + 4_096 + 36_864 + 221_184);
    // Saved for backward: the input [2,3,16,16] 6,144 B (conv); the conv output 16,384 B,
    // batch mean and inverse std 32 + 32 (BatchNorm); the ReLU output 16,384 (ReLU); the
    // pooled [2,8] 64 (addmm's mat1). The weights are parameters, not activations.
    assert_eq!(
        t.memory.activations_bytes,
        6_144 + 16_384 + 64 + 16_384 + 64
    );
    // 268 parameters, Adam fp32: 4 + 4 + 8 bytes each.
    assert_eq!(t.trainable_params, 268);
    assert_eq!(
        (
            t.memory.weights_bytes,
            t.memory.gradients_bytes,
            t.memory.optimizer_bytes
        ),
        (1_072, 1_072, 2_144)
    );
    assert_eq!(t.memory.peak_bytes, 1_072 + 1_072 + 2_144 + 39_040);
    // The totals are the forward pass's, as for every source; the step is `training`'s.
    assert_eq!(
        (p.totals.macs, p.totals.flops),
        (t.forward_macs, t.forward_flops)
    );
    // The backward nodes carry the module whose forward they differentiate.
    let conv_backward = layers_of(&p, "convolution_backward");
    assert_eq!(conv_backward.len(), 1);
    assert_eq!(conv_backward[0].scope, vec!["conv".to_string()]);
    assert_eq!(conv_backward[0].macs, Some(110_592));
}

/// LayerNorm → single-head SDPA self-attention (qkv and output projections) → residual,
/// LayerNorm → Linear(8, 16) → GELU → Linear(16, 8) → residual, on [2, 5, 8], one step.
#[test]
fn tiny_encoder_training_step_matches_the_hand_figures() {
    let p = load_training("tiny_encoder_train");
    assert_all_supported(&p);
    let t = p.training.as_ref().expect("a training section");
    // Forward MACs over 10 tokens: qkv 10·8·24 = 1,920; attention scores 2·1·5·5 = 50 ×
    // (dk + dv = 16) = 800; out 10·8·8 = 640; up 10·8·16 = 1,280; down 1,280.
    assert_eq!(t.forward_macs, 5_920);
    // Backward: every product's two gradients (ln1's weights need the qkv input gradient),
    // the attention's four products 2·50·16 = 1,600: twice the forward; and the flash
    // kernel's recomputed scores Q·Kᵀ, 50·8 = 400 (it keeps no probabilities).
    assert_eq!(t.backward_macs, 2 * 5_920 + 400);
    // Forward FLOPs: LayerNorm 7·80 twice; mm 2·1,920 and 2·640; attention 2·800 + 6·50;
    // residual adds 80 twice; Gemm up 2·1,280 + 160, down 2·1,280 + 80; GELU 5·160; sum 80.
    assert_eq!(
        t.forward_flops,
        560 + 3_840 + 1_900 + 1_280 + 80 + 560 + 2_720 + 800 + 2_640 + 80 + 80
    );
    // Backward FLOPs: the products 2·11,840; bias sums 80 + 160; gelu_backward 11·160;
    // ln2's backward with all three gradients 13·80; the residual's gradient added 80;
    // the attention's softmax gradient and scale 5·50, its recomputation 2·400 + 3·50 (the
    // scores product; scale, − lse and exp per score); ln1's backward without an input
    // gradient (x does not require grad): x̂ 2 + weight 2 + bias 1 = 5·80.
    assert_eq!(
        t.backward_flops,
        23_680 + 240 + 1_760 + 1_040 + 80 + 250 + 950 + 400
    );
    // Saved: ln1 input 320, mean and rstd 40 + 40; its output 320 (qkv's mat1); q, k, v
    // (views of the qkv output, one storage) 960, the attention output 320 and log-sum-exp
    // 40; ln2 input 320, mean and rstd 80; its output 320; the up output 640 (GELU); the
    // GELU output 640 (down's mat1).
    assert_eq!(
        t.memory.activations_bytes,
        400 + 320 + 960 + 320 + 40 + 400 + 320 + 640 + 640
    );
    let ln = layers_of(&p, "layer_norm_backward");
    assert_eq!(ln.len(), 2);
    assert_eq!(ln[1].scope, vec!["ln1".to_string()]);
    assert_eq!(ln[1].flops, Some(400));
}

/// The first backward node is the first node the `backward_start` call became, whatever
/// the calls before it became; without the field there is no training section.
#[test]
fn backward_start_is_a_node_index_and_is_checked() {
    // relu (1 node) → add with alpha 2 (Constant + Mul + Add: 3 nodes) → mm; backward from
    // the mm: 4 forward nodes before it, so forward is relu + add, backward the mm.
    let mut doc = chain(json!({"op": "aten.add.Tensor", "scope": ["mid"],
        "args": {"self": {"v": 2}, "other": {"v": 2}, "alpha": 2.0}, "outputs": [3]}));
    doc["backward_start"] = json!(2);
    doc["saved_activation_bytes"] = json!(16);
    let opts = Options {
        training: Some(flopscope_core::training::TrainingOptions::default()),
        ..Options::default()
    };
    let p = profile_bytes(&bytes_of(&doc), &opts).unwrap();
    let t = p.training.expect("a training section");
    // Forward: relu 4 + Mul 4 + Add 4 = 12 FLOPs; backward: the mm's 12 MACs.
    assert_eq!((t.forward_macs, t.forward_flops), (0, 12));
    assert_eq!((t.backward_macs, t.backward_flops), (12, 24));
    assert_eq!(t.memory.activations_bytes, 16);
    doc["backward_start"] = json!(4);
    expect_err_json(&doc, "backward_start 4 is past the 3 calls");
}

/// A recorded backward with an operator of no rule still counts the rest: the unknown node is
/// listed in `backward_unknown` (the backward totals are then lower bounds) and said in a
/// warning, instead of the whole training section being dropped.
#[test]
fn an_unknown_backward_node_is_listed_not_fatal() {
    let mut doc = chain(
        json!({"op": "aten.made_up_backward.default", "scope": ["mid"],
        "args": {"self": {"v": 2}}, "outputs": [3]}),
    );
    doc["backward_start"] = json!(1);
    let opts = Options {
        training: Some(flopscope_core::training::TrainingOptions::default()),
        ..Options::default()
    };
    let p = profile_bytes(&bytes_of(&doc), &opts).unwrap();
    let t = p.training.expect("a training section");
    // Forward: the relu's 4 FLOPs; backward: the mm's 12 MACs, the made-up op not counted.
    assert_eq!((t.forward_macs, t.forward_flops), (0, 4));
    assert_eq!(t.backward_macs, 12);
    assert_eq!(t.backward_unknown.len(), 1);
    assert!(
        t.backward_unknown[0].op.contains("made_up_backward"),
        "{:?}",
        t.backward_unknown
    );
    assert!(
        p.warnings.iter().any(|w| w.contains("lower bounds")),
        "{:?}",
        p.warnings
    );
}
