//! Language-model checkpoints from headers only. The files are synthesized here: real headers
//! followed by sparse (never written) data, so a 70B checkpoint costs no disk and no download.
//! Expected values are computed by hand from the shapes and configs written in each test.

use std::path::Path;
use std::time::Duration;

use crate::common::{flopscope, run_json, run_measured, tmpdir};
use serde_json::{json, Value};

/// (name, shape) of a Llama-style checkpoint in Hugging Face naming.
pub(crate) fn llama_tensors(
    d: u64,
    layers: u64,
    h: u64,
    kv: u64,
    ff: u64,
    v: u64,
) -> Vec<(String, Vec<u64>)> {
    let hd = d / h;
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        t.push((format!("{p}.self_attn.q_proj.weight"), vec![h * hd, d]));
        t.push((format!("{p}.self_attn.k_proj.weight"), vec![kv * hd, d]));
        t.push((format!("{p}.self_attn.v_proj.weight"), vec![kv * hd, d]));
        t.push((format!("{p}.self_attn.o_proj.weight"), vec![d, h * hd]));
        t.push((format!("{p}.mlp.gate_proj.weight"), vec![ff, d]));
        t.push((format!("{p}.mlp.up_proj.weight"), vec![ff, d]));
        t.push((format!("{p}.mlp.down_proj.weight"), vec![d, ff]));
        t.push((format!("{p}.input_layernorm.weight"), vec![d]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
    }
    t.push(("model.norm.weight".into(), vec![d]));
    t.push(("lm_head.weight".into(), vec![v, d]));
    t
}

pub(crate) fn llama_config(d: u64, layers: u64, h: u64, kv: u64, ff: u64, v: u64) -> Value {
    json!({"model_type": "llama", "hidden_size": d, "num_hidden_layers": layers,
        "num_attention_heads": h, "num_key_value_heads": kv, "intermediate_size": ff,
        "vocab_size": v, "torch_dtype": "bfloat16", "tie_word_embeddings": false})
}

/// Writes a bf16 safetensors file: the real header, then a sparse data section.
pub(crate) fn write_safetensors(path: &Path, tensors: &[(String, Vec<u64>)]) {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut off = 0u64;
    for (name, shape) in tensors {
        let bytes = shape.iter().product::<u64>() * 2;
        header.insert(
            name.clone(),
            json!({"dtype": "BF16", "shape": shape, "data_offsets": [off, off + bytes]}),
        );
        off += bytes;
    }
    let h = serde_json::to_vec(&header).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    use std::io::Write;
    f.write_all(&(h.len() as u64).to_le_bytes()).unwrap();
    f.write_all(&h).unwrap();
    f.set_len(8 + h.len() as u64 + off).unwrap();
}

pub(crate) fn elements(tensors: &[(String, Vec<u64>)]) -> u64 {
    tensors.iter().map(|(_, s)| s.iter().product::<u64>()).sum()
}

/// The decoder MACs of a prefill of `l` tokens, written out from the config: per token and
/// layer Q and O (d·h·hd each), K and V (d·kv·hd each), gate, up and down (d·ff each); the
/// LM head d·V per token; QKᵀ and AV 2·h·hd·l per token and layer.
fn hand_prefill_macs(d: u64, layers: u64, h: u64, kv: u64, ff: u64, v: u64, l: u64) -> u64 {
    let hd = d / h;
    let per_token = layers * (2 * d * h * hd + 2 * d * kv * hd + 3 * d * ff) + d * v;
    per_token * l + layers * 2 * h * hd * l * l
}

/// Llama-2-7B as a folder with config.json, an index and two bf16 shards (sparse: ~0 bytes on
/// disk); returns its tensors.
pub(crate) fn write_llama_7b(dir: &Path) -> Vec<(String, Vec<u64>)> {
    let (d, layers, h, kv, ff, v) = (4096, 32, 32, 32, 11008, 32000);
    let t = llama_tensors(d, layers, h, kv, ff, v);
    let (a, b) = t.split_at(t.len() / 2);
    write_safetensors(&dir.join("model-00001-of-00002.safetensors"), a);
    write_safetensors(&dir.join("model-00002-of-00002.safetensors"), b);
    let map: serde_json::Map<String, Value> = t
        .iter()
        .enumerate()
        .map(|(i, (n, _))| {
            let f = if i < a.len() {
                "model-00001-of-00002.safetensors"
            } else {
                "model-00002-of-00002.safetensors"
            };
            (n.clone(), json!(f))
        })
        .collect();
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        json!({"metadata": {}, "weight_map": map}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("config.json"),
        llama_config(d, layers, h, kv, ff, v).to_string(),
    )
    .unwrap();
    t
}

#[test]
fn llama_safetensors_folder_counts_exactly_and_matches_the_zoo() {
    let dir = tmpdir("llama7b");
    let (d, layers, h, kv, ff, v) = (4096, 32, 32, 32, 11008, 32000);
    let t = write_llama_7b(&dir);
    let p = run_json(&[
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=128",
        "-f",
        "json",
    ]);
    let llm = &p["llm"];
    assert_eq!(llm["total_params"], elements(&t));
    assert_eq!(llm["total_params"], 6_738_415_616u64); // the published count
    assert_eq!(llm["weight_bytes"], 2 * 6_738_415_616u64);
    let hand = hand_prefill_macs(d, layers, h, kv, ff, v, 128);
    assert_eq!(p["totals"]["macs"], hand);
    // The same architecture built as a graph by the zoo and profiled node by node.
    let zoo = run_json(&[
        "profile", "llama-7b", "--dim", "seq=128", "--dim", "batch=1", "-f", "json",
    ]);
    assert_eq!(p["totals"]["macs"], zoo["totals"]["macs"]);
    assert_eq!(p["totals"]["params"], zoo["totals"]["params"]);
    // FLOPs: the checkpoint path leaves out elementwise work the graph counts; say how much.
    let (f, zf) = (
        p["totals"]["flops"].as_f64().unwrap(),
        zoo["totals"]["flops"].as_f64().unwrap(),
    );
    assert!(
        f <= zf && (zf - f) / zf < 0.001,
        "checkpoint {f} vs zoo {zf}"
    );
    // The L² term alone, and decoding one token after the 128-token prompt (129 keys).
    assert_eq!(
        llm["prefill_attention_macs"],
        layers * 2 * h * (d / h) * 128 * 128
    );
    let per_token = layers * (4 * d * d + 3 * d * ff) + d * v;
    assert_eq!(
        llm["decode_macs_per_token"],
        per_token + layers * 2 * d * 129
    );
    // KV cache: K and V, 32 layers × 4096 wide, bf16 → 512 KiB per token.
    assert_eq!(llm["kv_cache_bytes_per_token"], 2 * 32 * 4096 * 2);
    assert_eq!(llm["kv_cache_bytes"], 2 * 32 * 4096 * 2 * 129);
    let p = run_json(&[
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=128",
        "--dim",
        "batch=4",
        "--dim",
        "past=32767",
        "-f",
        "json",
    ]);
    assert_eq!(p["totals"]["macs"], 4 * hand);
    assert_eq!(p["llm"]["kv_cache_bytes"], 2 * 32 * 4096 * 2 * 4 * 32768u64);
    assert_eq!(
        p["llm"]["formulas"]["prefill_macs"],
        format!("{}·batch·seq^2 + {per_token}·batch·seq", layers * 2 * d)
    );
    // Decode under a device roof (1000 GFLOP/s, 100 GB/s) at batch 1, past 128: the step
    // reads every bf16 weight (2 × 6,738,415,616 B) but the untied embedding table, of which
    // it reads one row (32000 × 4096 × 2 = 262,144,000 B out, 4096 × 2 in), and the KV cache
    // of 129 tokens (524,288 B each): 13,282,328,576 B → 132.823 ms, against 2 × decode MACs
    // (~13 GFLOP) → ~13 ms of compute: memory-bound, at most 1000 / 132.823 = 7.529 tokens/s.
    let r = run_json(&[
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=128",
        "--peak-gflops",
        "1000",
        "--bandwidth-gbs",
        "100",
        "-f",
        "json",
    ]);
    let dec = &r["roofline"]["decode"];
    let bytes = 2 * 6_738_415_616u64 - 32_000 * 4096 * 2 + 4096 * 2 + 524_288 * 129;
    assert_eq!(bytes, 13_282_328_576);
    assert_eq!(dec["bytes"], bytes);
    assert_eq!(dec["bound"], "memory");
    assert_eq!(dec["past"], 128);
    let ms = dec["min_ms"].as_f64().unwrap();
    assert!((ms - bytes as f64 / 1e8).abs() < 1e-9 * ms, "{ms}");
    let tps = dec["max_tokens_per_s"].as_f64().unwrap();
    assert!(
        (tps - 1e3 / ms).abs() < 1e-9 * tps && (tps - 7.529).abs() < 0.001,
        "{tps}"
    );
    assert_eq!(
        dec["flops"],
        r["llm"]["decode_flops_per_token"].as_u64().unwrap()
    );
    // Components: every tensor in one of them.
    let comps = p["llm"]["components"].as_array().unwrap();
    let sum: u64 = comps.iter().map(|c| c["params"].as_u64().unwrap()).sum();
    assert_eq!(sum, 6_738_415_616);
    let get = |name: &str| {
        comps.iter().find(|c| c["component"] == name).unwrap()["params"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(get("embeddings"), v * d);
    assert_eq!(get("head"), v * d);
    assert_eq!(get("attention"), layers * 4 * d * d);
    assert_eq!(get("mlp"), layers * 3 * d * ff);
    assert_eq!(get("norms"), (2 * layers + 1) * d);
}

#[test]
fn gpt2_config_matches_the_zoo_graph() {
    // GPT-2 small: tied head, plain (not gated) MLP, biases, learned positions.
    let dir = tmpdir("gpt2");
    let (d, layers, v) = (768u64, 12u64, 50257u64);
    let mut t = vec![
        ("wte.weight".to_string(), vec![v, d]),
        ("wpe.weight".into(), vec![1024, d]),
    ];
    for i in 0..layers {
        let p = format!("h.{i}");
        for (n, s) in [
            ("ln_1.weight", vec![d]),
            ("ln_1.bias", vec![d]),
            ("attn.c_attn.weight", vec![d, 3 * d]),
            ("attn.c_attn.bias", vec![3 * d]),
            ("attn.c_proj.weight", vec![d, d]),
            ("attn.c_proj.bias", vec![d]),
            ("ln_2.weight", vec![d]),
            ("ln_2.bias", vec![d]),
            ("mlp.c_fc.weight", vec![d, 4 * d]),
            ("mlp.c_fc.bias", vec![4 * d]),
            ("mlp.c_proj.weight", vec![4 * d, d]),
            ("mlp.c_proj.bias", vec![d]),
        ] {
            t.push((format!("{p}.{n}"), s));
        }
    }
    t.push(("ln_f.weight".into(), vec![d]));
    t.push(("ln_f.bias".into(), vec![d]));
    write_safetensors(&dir.join("model.safetensors"), &t);
    std::fs::write(dir.join("config.json"), json!({"model_type": "gpt2", "n_embd": d, "n_layer": layers, "n_head": 12, "vocab_size": v, "n_positions": 1024}).to_string()).unwrap();
    let file = dir.join("model.safetensors");
    let p = run_json(&[
        "profile",
        file.to_str().unwrap(),
        "--dim",
        "seq=128",
        "-f",
        "json",
    ]);
    let zoo = run_json(&[
        "profile", "gpt2", "--dim", "seq=128", "--dim", "batch=1", "-f", "json",
    ]);
    assert_eq!(p["llm"]["total_params"], 124_439_808u64);
    assert_eq!(p["totals"]["params"], zoo["totals"]["params"]);
    assert_eq!(p["totals"]["macs"], zoo["totals"]["macs"]);
    assert_eq!(
        p["totals"]["macs"],
        (layers * 12 * d * d + d * v) * 128 + layers * 2 * d * 128 * 128
    );
}

#[test]
fn mixture_of_experts_active_parameters() {
    // A Mixtral-shaped toy: 8 experts, 2 per token.
    let dir = tmpdir("moe");
    let (d, layers, ff, e, v) = (64u64, 2u64, 128u64, 8u64, 100u64);
    let mut t = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        for n in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            t.push((format!("{p}.self_attn.{n}.weight"), vec![d, d]));
        }
        t.push((format!("{p}.block_sparse_moe.gate.weight"), vec![e, d]));
        for x in 0..e {
            for (w, s) in [
                ("w1", vec![ff, d]),
                ("w2", vec![d, ff]),
                ("w3", vec![ff, d]),
            ] {
                t.push((format!("{p}.block_sparse_moe.experts.{x}.{w}.weight"), s));
            }
        }
        t.push((format!("{p}.input_layernorm.weight"), vec![d]));
        t.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
    }
    t.push(("model.norm.weight".into(), vec![d]));
    t.push(("lm_head.weight".into(), vec![v, d]));
    write_safetensors(&dir.join("model.safetensors"), &t);
    std::fs::write(dir.join("config.json"), json!({"model_type": "mixtral", "hidden_size": d, "num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": ff, "vocab_size": v, "num_local_experts": e, "num_experts_per_tok": 2}).to_string()).unwrap();
    let p = run_json(&[
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=16",
        "-f",
        "json",
    ]);
    let total = elements(&t);
    let experts = layers * e * 3 * d * ff;
    assert_eq!(p["llm"]["total_params"], total);
    // 6 of 8 experts idle for any one token.
    assert_eq!(p["llm"]["active_params"], total - experts * 6 / 8);
    // Per token and layer: projections 4·d², router d·E, two experts of 3·d·ff.
    let per_token = layers * (4 * d * d + d * e + 2 * 3 * d * ff) + d * v;
    assert_eq!(
        p["totals"]["macs"],
        per_token * 16 + layers * 2 * d * 16 * 16
    );
    // A decode step reads only the routed share of the weights below the embeddings, one
    // embedding row, and the KV cache (bf16 throughout: 2 bytes per parameter).
    let r = run_json(&[
        "profile",
        dir.to_str().unwrap(),
        "--dim",
        "seq=16",
        "--peak-gflops",
        "1000",
        "--bandwidth-gbs",
        "100",
        "-f",
        "json",
    ]);
    let emb = v * d;
    let active_rest = total - experts * 6 / 8 - emb;
    let kv = r["llm"]["kv_cache_bytes"].as_u64().unwrap();
    assert_eq!(r["llm"]["weight_bytes"], 2 * total);
    assert_eq!(
        r["roofline"]["decode"]["bytes"],
        2 * active_rest + 2 * d + kv
    );
}

/// A GGUF v3 file: llama metadata, the given tensors of one ggml type, sparse data.
pub(crate) fn write_gguf(
    path: &Path,
    meta: &[(&str, u64)],
    tensors: &[(String, Vec<u64>)],
    ggml_type: u32,
    bytes_per: (u64, u64),
) {
    let mut b: Vec<u8> = b"GGUF".to_vec();
    let s = |b: &mut Vec<u8>, x: &str| {
        b.extend((x.len() as u64).to_le_bytes());
        b.extend(x.as_bytes());
    };
    b.extend(3u32.to_le_bytes());
    b.extend((tensors.len() as u64).to_le_bytes());
    b.extend((meta.len() as u64 + 2).to_le_bytes());
    s(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "llama");
    s(&mut b, "general.name");
    b.extend(8u32.to_le_bytes());
    s(&mut b, "synthetic");
    for (k, v) in meta {
        s(&mut b, k);
        b.extend(4u32.to_le_bytes()); // uint32
        b.extend((*v as u32).to_le_bytes());
    }
    let mut off = 0u64;
    for (name, shape) in tensors {
        s(&mut b, name);
        b.extend((shape.len() as u32).to_le_bytes());
        for d in shape.iter().rev() {
            b.extend(d.to_le_bytes()); // GGUF: innermost dim first
        }
        b.extend(ggml_type.to_le_bytes());
        b.extend(off.to_le_bytes());
        let n: u64 = shape.iter().product();
        off += (n / bytes_per.0 * bytes_per.1).div_ceil(32) * 32;
    }
    let data = (b.len() as u64).div_ceil(32) * 32;
    std::fs::write(path, &b).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(data + off)
        .unwrap();
}

/// Llama-2-70B tensors in GGUF naming.
pub(crate) fn gguf_70b() -> Vec<(String, Vec<u64>)> {
    let (d, layers, kvd, ff, v) = (8192u64, 80, 1024u64, 28672u64, 32000u64);
    let mut t = vec![("token_embd.weight".to_string(), vec![v, d])];
    for i in 0..layers {
        for (n, s) in [
            ("attn_norm.weight", vec![d]),
            ("attn_q.weight", vec![d, d]),
            ("attn_k.weight", vec![kvd, d]),
            ("attn_v.weight", vec![kvd, d]),
            ("attn_output.weight", vec![d, d]),
            ("ffn_norm.weight", vec![d]),
            ("ffn_gate.weight", vec![ff, d]),
            ("ffn_up.weight", vec![ff, d]),
            ("ffn_down.weight", vec![d, ff]),
        ] {
            t.push((format!("blk.{i}.{n}"), s));
        }
    }
    t.push(("output_norm.weight".into(), vec![d]));
    t.push(("output.weight".into(), vec![v, d]));
    t
}

pub(crate) const META_70B: [(&str, u64); 6] = [
    ("llama.embedding_length", 8192),
    ("llama.block_count", 80),
    ("llama.attention.head_count", 64),
    ("llama.attention.head_count_kv", 8),
    ("llama.feed_forward_length", 28672),
    ("llama.vocab_size", 32000),
];

#[test]
fn seventy_billion_headers_in_under_a_second_and_100_mb() {
    let dir = tmpdir("70b");
    let t = gguf_70b();
    // Q8_0 (32 weights in 34 bytes) everywhere, norms included for simplicity.
    let gguf = dir.join("llama-70b.Q8_0.gguf");
    write_gguf(&gguf, &META_70B, &t, 8, (32, 34));
    // The same model as 15 bf16 safetensors shards with an index and config.
    let st = dir.join("st");
    std::fs::create_dir_all(&st).unwrap();
    let hf: Vec<(String, Vec<u64>)> = llama_tensors(8192, 80, 64, 8, 28672, 32000);
    let mut map = serde_json::Map::new();
    for (k, chunk) in hf.chunks(hf.len().div_ceil(15)).enumerate() {
        let f = format!("model-{:05}-of-00015.safetensors", k + 1);
        write_safetensors(&st.join(&f), chunk);
        for (n, _) in chunk {
            map.insert(n.clone(), json!(f));
        }
    }
    std::fs::write(
        st.join("model.safetensors.index.json"),
        json!({"weight_map": map}).to_string(),
    )
    .unwrap();
    std::fs::write(
        st.join("config.json"),
        llama_config(8192, 80, 64, 8, 28672, 32000).to_string(),
    )
    .unwrap();

    let published = 68_976_648_192u64; // Llama-2-70B
    assert_eq!(elements(&t), published);
    for path in [&gguf, &st] {
        let r = run_measured(
            &[
                "profile",
                path.to_str().unwrap(),
                "--dim",
                "seq=128",
                "-f",
                "json",
            ],
            Duration::from_secs(30),
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let p: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(p["llm"]["total_params"], published);
        assert_eq!(
            p["totals"]["macs"],
            hand_prefill_macs(8192, 80, 64, 8, 28672, 32000, 128)
        );
        // K and V of 8 heads × 128, 80 layers, 2 bytes: 320 KiB per token.
        assert_eq!(p["llm"]["kv_cache_bytes_per_token"], 2 * 80 * 8 * 128 * 2);
        println!(
            "{}: {:.3} s CPU, {:.1} MB peak",
            path.display(),
            r.cpu_s,
            r.max_rss_mb
        );
        assert!(r.cpu_s < 1.0, "{:.2} s", r.cpu_s);
        assert!(r.max_rss_mb < 100.0, "{:.0} MB", r.max_rss_mb);
    }
    let p = run_json(&["profile", gguf.to_str().unwrap(), "-f", "json"]);
    // Q8_0 stores 8.5 bits per weight: bytes = elements / 32 × 34.
    assert_eq!(p["llm"]["weight_bytes"], published / 32 * 34);
    assert_eq!(p["llm"]["bits_per_param"], 8.5);
    assert_eq!(p["totals"]["params_by_dtype"]["q8_0"]["params"], published);
}

fn err_of(path: &Path) -> (Option<i32>, String) {
    let out = flopscope(&["profile", path.to_str().unwrap()]);
    let e = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!e.contains("panicked"), "{e}");
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    (out.status.code(), e)
}

#[test]
fn corrupt_headers_are_clear_errors() {
    let dir = tmpdir("llm-bad");
    // A length prefix larger than the file.
    let p = dir.join("huge-prefix.safetensors");
    std::fs::write(&p, [&(1u64 << 60).to_le_bytes()[..], b"{}"].concat()).unwrap();
    let (c, e) = err_of(&p);
    assert_eq!(c, Some(4), "{e}");
    assert!(e.contains("length prefix"), "{e}");
    // JSON that lies about offsets: past the data, and not matching the shape.
    for (name, offs, says) in [
        ("past-end", [0u64, 4000], "outside"),
        ("wrong-size", [0, 6], "need 8 bytes"),
    ] {
        let p = dir.join(format!("{name}.safetensors"));
        let h = json!({"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": offs}}).to_string();
        std::fs::write(
            &p,
            [&(h.len() as u64).to_le_bytes()[..], h.as_bytes(), &[0u8; 8]].concat(),
        )
        .unwrap();
        let (c, e) = err_of(&p);
        assert_eq!(c, Some(4), "{e}");
        assert!(e.contains("tensor 'w'") && e.contains(says), "{e}");
    }
    // GGUF with absurd counts, and a tensor beyond the end of the file.
    let p = dir.join("absurd.gguf");
    std::fs::write(
        &p,
        [
            &b"GGUF"[..],
            &3u32.to_le_bytes(),
            &u64::MAX.to_le_bytes(),
            &1u64.to_le_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    let (c, e) = err_of(&p);
    assert_eq!(c, Some(4), "{e}");
    assert!(e.contains("more than a"), "{e}");
    let p = dir.join("array.gguf");
    let mut b = [
        &b"GGUF"[..],
        &3u32.to_le_bytes(),
        &0u64.to_le_bytes(),
        &1u64.to_le_bytes(),
    ]
    .concat();
    b.extend(4u64.to_le_bytes());
    b.extend(b"toks");
    b.extend(9u32.to_le_bytes()); // array
    b.extend(8u32.to_le_bytes()); // of strings
    b.extend((1u64 << 50).to_le_bytes());
    std::fs::write(&p, b).unwrap();
    let (c, e) = err_of(&p);
    assert_eq!(c, Some(4), "{e}");
    assert!(e.contains("cannot fit"), "{e}");
    let p = dir.join("short.gguf");
    write_gguf(&p, &META_70B, &[("w".into(), vec![64, 64])], 0, (1, 4));
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let (c, e) = err_of(&p);
    assert_eq!(c, Some(4), "{e}");
    assert!(e.contains("beyond the end"), "{e}");
    // An index naming a shard outside its folder.
    let p = dir.join("model.safetensors.index.json");
    std::fs::write(
        &p,
        json!({"weight_map": {"w": "../../etc/passwd"}}).to_string(),
    )
    .unwrap();
    let (c, e) = err_of(&p);
    assert_eq!(c, Some(4), "{e}");
    assert!(e.contains("not a file name"), "{e}");
}
