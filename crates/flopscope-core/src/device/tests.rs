//! The catalog's figures against the vendors' documents, written here from those documents
//! (not read back from the JSON), and the lookup and merge rules.

use super::*;

fn dev(name: &str) -> &'static Device {
    Catalog::builtin().find(name).unwrap()
}

#[test]
fn figures_match_the_vendor_documents() {
    // Ada whitepaper (appendix, RTX 4090): 165.2 dense fp16 TFLOPS with fp32 accumulate,
    // 330.3 with fp16 accumulate, 1,008 GB/s, 72 MB L2, 24 GB, 450 W.
    let d = dev("rtx4090");
    assert_eq!(d.peak_tflops.fp16, Some(165.2));
    assert_eq!(d.fp16_accumulate_fp16_tflops, Some(330.3));
    assert_eq!(
        (d.memory_bandwidth_gbs, d.memory_gb, d.l2_mb, d.power_w),
        (1008.0, 24.0, Some(72.0), Some(450.0))
    );
    // GA102 whitepaper (RTX 3090): 71 fp16 TFLOPS with fp32 accumulate, 936 GB/s, 6 MB L2.
    let d = dev("rtx3090");
    assert_eq!(
        (d.peak_tflops.fp16, d.memory_bandwidth_gbs, d.l2_mb),
        (Some(71.0), 936.0, Some(6.0))
    );
    // A100 datasheet: 19.5 fp32, 312 dense bf16/fp16, 624 int8; 80 GB SXM at 2,039 GB/s.
    let d = dev("a100-sxm-80gb");
    assert_eq!(
        (d.peak_tflops.fp32, d.peak_tflops.bf16, d.peak_tflops.int8),
        (Some(19.5), Some(312.0), Some(624.0))
    );
    assert_eq!((d.memory_gb, d.memory_bandwidth_gbs), (80.0, 2039.0));
    // T4 datasheet: 8.1 fp32, 65 mixed fp16, 130 int8 TOPS, 320 GB/s, 16 GB, 70 W.
    let d = dev("t4");
    assert_eq!(
        (d.peak_tflops.fp32, d.peak_tflops.fp16, d.peak_tflops.int8),
        (Some(8.1), Some(65.0), Some(130.0))
    );
    assert_eq!(
        (d.memory_bandwidth_gbs, d.memory_gb, d.power_w),
        (320.0, 16.0, Some(70.0))
    );
    // H100 SXM5: 3.35 TB/s HBM3, 80 GB, 700 W; dense bf16 is half the datasheet's sparse 1,979.
    let d = dev("h100-sxm");
    assert_eq!(
        (d.memory_bandwidth_gbs, d.memory_gb, d.power_w),
        (3350.0, 80.0, Some(700.0))
    );
    assert!((d.peak_tflops.bf16.unwrap() - 1979.0 / 2.0).abs() < 0.6);
}

#[test]
fn the_catalog_has_the_devices_the_issue_names() {
    let keys = [
        "v100-sxm2",
        "t4",
        "a10",
        "a10g",
        "l4",
        "l40s",
        "a100-sxm-40gb",
        "a100-sxm-80gb",
        "a100-pcie-40gb",
        "a100-pcie-80gb",
        "h100-sxm",
        "h100-pcie",
        "h200",
        "b200",
        "rtx3060",
        "rtx3090",
        "rtx4070",
        "rtx4090",
        "rtx5090",
        "rtx-pro-6000",
        "rtx-pro-6000-max-q",
        "jetson-orin-nano",
        "jetson-orin-nx",
        "jetson-agx-orin",
        "m1",
        "m2-max",
        "m3-ultra",
        "m4-max",
        "i9-10940x",
        "i7-12700h",
        "rpi5",
    ];
    for k in keys {
        assert_eq!(dev(k).key, k);
    }
    assert!(Catalog::builtin().devices.len() >= 30);
    // Every class is represented.
    for c in [
        DeviceClass::GpuDatacenter,
        DeviceClass::GpuConsumer,
        DeviceClass::GpuEdge,
        DeviceClass::GpuApple,
        DeviceClass::Cpu,
    ] {
        assert!(
            Catalog::builtin().devices.iter().any(|d| d.class == c),
            "{c:?}"
        );
    }
}

#[test]
fn names_are_found_by_alias_in_any_case() {
    assert_eq!(dev("RTX4090").key, "rtx4090");
    assert_eq!(dev(" 4090 ").key, "rtx4090");
    assert_eq!(dev("geforce-rtx-4090").key, "rtx4090");
    let e = Catalog::builtin().find("rtx4909").unwrap_err().to_string();
    assert!(
        e.contains("unknown device 'rtx4909'") && e.contains("rtx4090"),
        "{e}"
    );
    assert!(!e.contains('\n'));
    let e = Catalog::builtin()
        .find("zzzz-nothing")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("did you mean"), "{e}");
}

const USER: &str = r#"{"schema": "flopscope.devices/1",
  "sources": {"mine": {"title": "measured on my desk", "publisher": "me", "url": "file:///lab"}},
  "devices": [
    {"key": "rtx4090", "name": "RTX 4090 at 300 W", "class": "gpu-consumer",
     "peak_tflops": {"fp32": 60.0, "fp16": 120.0}, "memory_bandwidth_gbs": 1000, "memory_gb": 24,
     "sources": {"peak_tflops": "mine", "memory_bandwidth_gbs": "mine", "memory_gb": "mine"}},
    {"key": "my-board", "aliases": ["board"], "name": "A board", "class": "gpu-edge",
     "peak_tflops": {"fp32": 1.5}, "memory_bandwidth_gbs": 50, "memory_gb": 8,
     "sources": {"peak_tflops": "mine", "memory_bandwidth_gbs": "mine", "memory_gb": "mine"}}
  ]}"#;

#[test]
fn a_user_file_adds_devices_and_replaces_one_whole_by_key() {
    let user = Catalog::parse(USER, Path::new("mine.json")).unwrap();
    let c = Catalog::builtin().merge(&user).unwrap();
    assert_eq!(c.devices.len(), Catalog::builtin().devices.len() + 1);
    let d = c.find("rtx4090").unwrap();
    assert_eq!((d.peak_tflops.fp16, d.l2_mb), (Some(120.0), None)); // replaced whole, not merged
    assert!(c.find("4090").is_err()); // the alias went with the old entry
    assert_eq!(c.find("board").unwrap().key, "my-board");
}

#[test]
fn bad_catalogs_are_refused_with_the_reason() {
    let bad = |from: &str, to: &str| {
        let text = USER.replacen(from, to, 1);
        Catalog::parse(&text, Path::new("mine.json"))
            .unwrap_err()
            .to_string()
    };
    let e = bad(r#""memory_gb": "mine"}},"#, r#""memory_gb": "theirs"}},"#);
    assert!(e.contains("cites 'theirs'"), "{e}");
    let e = bad(r#", "memory_gb": "mine"}},"#, "}},");
    assert!(e.contains("memory_gb names no source"), "{e}");
    let e = bad(r#""aliases": ["board"]"#, r#""aliases": ["rtx4090"]"#);
    assert!(e.contains("used by both"), "{e}");
    let e = bad(r#""fp32": 1.5"#, r#""fp32": -1.5"#);
    assert!(e.contains("peak_tflops.fp32 is -1.5"), "{e}");
    let e = bad("flopscope.devices/1", "flopscope.devices/9");
    assert!(e.contains("schema"), "{e}");
    let e = bad(r#""class": "gpu-edge""#, r#""class": "fpga""#);
    assert!(e.contains("not a valid device catalog"), "{e}");
    let e = bad(r#""key": "my-board""#, r#""key": "My Board""#);
    assert!(e.contains("lowercase"), "{e}");
}

#[test]
fn the_example_in_the_docs_is_a_valid_user_file() {
    let doc = include_str!("../../../../docs/devices.md");
    let start = doc
        .find("```json\n")
        .expect("docs/devices.md has a JSON example")
        + 8;
    let len = doc[start..].find("```").unwrap();
    let user = Catalog::parse(&doc[start..start + len], Path::new("docs/devices.md")).unwrap();
    let c = Catalog::builtin().merge(&user).unwrap();
    assert_eq!(c.find("l4-capped").unwrap().power_w, Some(60.0));
}
