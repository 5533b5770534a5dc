//! Output formats and row selection, end to end through the binary.

use crate::common::*;

fn model_arg(name: &str) -> String {
    data()
        .join(format!("models/{name}.onnx"))
        .display()
        .to_string()
}

#[test]
fn table_fits_100_columns_and_labels_macs_and_flops() {
    let m = model_arg("resnet18");
    let t = run_ok(&["profile", &m]);
    for line in t
        .lines()
        .filter(|l| !l.starts_with("warning") && !l.starts_with("Totals for"))
    {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
    assert!(t.contains("1,814,073,344"), "{t}");
    assert!(t.contains("MACs") && t.contains("FLOPs"));
    // The bar column: the stem conv (236.8M FLOPs) is the heaviest row and gets the full bar;
    // a layer1 conv (231.2M) gets 231.2/236.8 of 80 eighths, rounded up: 79 = 9 cells and ▉.
    let row = |name: &str| t.lines().find(|l| l.contains(name)).unwrap();
    assert!(row("/conv1/Conv").ends_with(" ██████████"), "{t}");
    assert!(
        row("/layer1/layer1.0/conv1/Conv").ends_with(" █████████▉"),
        "{t}"
    );
    assert!(t.contains("warning: dim 'batch' is not bound"));
}

#[test]
fn depth_folds_by_module_path_and_top_keeps_heaviest() {
    let m = model_arg("resnet18");
    let j: serde_json::Value =
        serde_json::from_str(&run_ok(&["profile", &m, "-f", "json"])).unwrap();
    let layer1: u64 = j["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["scope"][0] == "layer1")
        .map(|l| l["macs"].as_u64().unwrap())
        .sum();
    // Two BasicBlocks of two 3×3 64→64 convs on 56×56: 4 · 64·56·56·64·9 = 462,422,016 MACs.
    assert_eq!(layer1, 462_422_016);
    let md = run_ok(&["profile", &m, "-f", "markdown", "--depth", "1"]);
    assert!(md.contains("| /layer1 | 10 nodes |"), "{md}");
    assert!(md.contains("462,422,016"), "{md}");
    let top = run_ok(&["profile", &m, "-f", "markdown", "--top", "3"]);
    let rows: Vec<&str> = top.lines().filter(|l| l.starts_with("| /")).collect();
    assert_eq!(rows.len(), 3, "{top}");
    // The stem conv has the most MACs of resnet18's layers (118,013,952).
    assert!(
        rows[0].contains("/conv1/Conv") && rows[0].contains("118,013,952"),
        "{}",
        rows[0]
    );
}

#[test]
fn json_is_versioned_and_csv_has_one_row_per_node() {
    let m = model_arg("bert-base");
    let j: serde_json::Value = serde_json::from_str(&run_ok(&[
        "profile", &m, "-f", "json", "--dim", "seq=128", "--dim", "batch=2",
    ]))
    .unwrap();
    assert_eq!(j["schema"], "flopscope.profile/1");
    for k in ["params", "param_bytes", "macs", "flops", "activation_bytes"] {
        assert!(j["totals"][k].as_u64().is_some(), "{k}");
    }
    assert_eq!(j["totals"]["macs"], 2 * 11_173_625_856u64);
    assert_eq!(j["totals"]["param_bytes"], 4 * 108_774_912u64);
    assert!(j["formulas"].is_null(), "all dims bound");
    assert!(j["layers"][0]["inputs"].is_array() && j["by_op_type"].is_array());
    let d = tmpdir("csv");
    let out = d.join("p.csv");
    run_ok(&[
        "profile",
        &m,
        "-f",
        "csv",
        "-o",
        out.to_str().unwrap(),
        "--dim",
        "seq=128",
    ]);
    let csv = std::fs::read_to_string(out).unwrap();
    assert_eq!(csv.lines().count(), 1 + 1250);
    assert!(csv.starts_with("name,op,scope,inputs,outputs,params,macs,flops"));
}

#[test]
fn html_format_embeds_the_profile_it_was_given() {
    let m = model_arg("resnet18");
    let page = run_ok(&["profile", &m, "-f", "html"]);
    assert!(page.starts_with("<!DOCTYPE html>"));
    let start = page.find("id=\"flopscope-data\">").unwrap() + "id=\"flopscope-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(&["profile", &m, "-f", "json"])).unwrap();
    assert_eq!(data["profile"]["totals"], json["totals"]);
    assert_eq!(data["profile"]["totals"]["macs"], 1_814_073_344u64);
    assert_eq!(
        data["profile"]["layers"].as_array().unwrap().len(),
        json["layers"].as_array().unwrap().len()
    );
}
