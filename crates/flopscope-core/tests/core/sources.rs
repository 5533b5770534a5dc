//! Every way in gives the same profile: a file, its bytes, and the same model built in.

use flopscope_core::{profile, Options, Source};
use serde_json::Value;

fn json(p: &flopscope_core::Profile) -> Value {
    serde_json::to_value(p).unwrap()
}

#[test]
fn a_file_and_its_bytes_give_identical_json() {
    let path = crate::common::model("bert-base");
    let bytes = std::fs::read(&path).unwrap();
    let opts = Options {
        dims: vec![("batch".into(), 2), ("seq".into(), 64)],
        ..Default::default()
    };
    let from_file = profile(&Source::Path(&path), &opts).unwrap();
    let name = path.to_str().unwrap();
    let from_bytes = profile(
        &Source::Bytes {
            bytes: &bytes,
            name,
        },
        &opts,
    )
    .unwrap();
    assert_eq!(json(&from_file), json(&from_bytes));
    // And the symbolic fit too, with nothing bound.
    let d = Options::default();
    let a = profile(&Source::Path(&path), &d).unwrap();
    let b = flopscope_core::profile_bytes(&bytes, &d).unwrap();
    assert!(a.formulas.is_some());
    let (mut a, mut b) = (json(&a), json(&b));
    assert_eq!(b["model"]["source"], "<bytes>");
    b["model"]["source"] = a["model"]["source"].clone();
    a["model"]["source"] = b["model"]["source"].clone();
    assert_eq!(a, b);
}

#[test]
fn a_built_in_model_and_its_export_give_identical_counts() {
    let dir = std::env::temp_dir().join(format!("flopscope-sources-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("resnet18.onnx");
    let opts = Options::default();
    let (g, _) = flopscope_core::open(&Source::Zoo("resnet18"), &opts).unwrap();
    flopscope_core::write::write_onnx(&g, &file, flopscope_core::write::Weights::None).unwrap();
    let built = json(&profile(&Source::Zoo("resnet18"), &opts).unwrap());
    let bytes = std::fs::read(&file).unwrap();
    let exported = json(&flopscope_core::profile_bytes(&bytes, &opts).unwrap());
    let from_file = json(&profile(&Source::Path(&file), &opts).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    // Where the model came from differs (name, producer, file size); nothing else may.
    for key in [
        "inputs",
        "outputs",
        "bindings",
        "totals",
        "formulas",
        "by_op_type",
        "layers",
        "unsupported",
        "warnings",
    ] {
        assert_eq!(from_file[key], exported[key], "{key}");
        if key != "warnings" {
            assert_eq!(built[key], exported[key], "{key}");
        }
    }
    // The export was written without weight bytes, and says so; the built model has no file.
    let mut warned = exported["warnings"].as_array().unwrap().clone();
    warned.retain(|w| !w.as_str().unwrap().starts_with("weights are absent"));
    assert_eq!(built["warnings"].as_array().unwrap(), &warned);
    assert_eq!(built["totals"]["params"], 11_689_512); // torchvision's figure
    assert_eq!(built["model"]["source"], "resnet18");
}

#[test]
fn bytes_that_are_not_a_model_are_an_error_not_a_panic() {
    for bytes in [&b""[..], b"\x08\x07not onnx at all", &[0xff; 64]] {
        let e = flopscope_core::profile_bytes(bytes, &Options::default()).unwrap_err();
        assert!(matches!(e, flopscope_core::Error::Malformed { .. }), "{e}");
        assert!(e.to_string().starts_with("<bytes>: "), "{e}");
    }
}

#[test]
fn a_checkpoint_file_and_its_bytes_give_the_same_profile() {
    // One f32 tensor of 4x3: 12 parameters in 48 bytes.
    let header =
        br#"{"model.embed_tokens.weight":{"dtype":"F32","shape":[4,3],"data_offsets":[0,48]}}"#;
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(&[0u8; 48]);
    let dir = std::env::temp_dir().join(format!("flopscope-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    std::fs::write(&path, &file).unwrap();
    let opts = Options::default();
    let a = json(&profile(&Source::Path(&path), &opts).unwrap());
    let name = path.to_str().unwrap();
    let b = json(&profile(&Source::Bytes { bytes: &file, name }, &opts).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(a["totals"]["params"], 12);
    assert_eq!(a["llm"]["weight_bytes"], 48);
    assert_eq!(a, b);
}

#[test]
fn hostile_checkpoints_fail_the_same_way_from_bytes() {
    let bad = crate::common::data().join("bad");
    let mut seen = 0;
    for e in std::fs::read_dir(&bad).unwrap() {
        let path = e.unwrap().path();
        if !path
            .extension()
            .is_some_and(|x| x == "gguf" || x == "safetensors")
        {
            continue;
        }
        // Without its magic, nothing in the bytes says GGUF: they are tried as ONNX instead.
        if path.ends_with("gguf-bad-magic.gguf") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let name = path.to_str().unwrap();
        let from_path = profile(&Source::Path(&path), &Options::default());
        let from_bytes = profile(
            &Source::Bytes {
                bytes: &bytes,
                name,
            },
            &Options::default(),
        );
        match (from_path, from_bytes) {
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("{name}: {:?} vs {:?}", a.err(), b.err()),
        }
        seen += 1;
    }
    assert!(seen >= 6, "{seen} hostile checkpoints");
}
