//! Convolutional architectures, as torchvision defines them (BatchNorm kept, not folded).

use super::ZooOptions;
use crate::builder::Builder;
use crate::error::{Error, Result};
use crate::graph::{Attr, DType, Dim, Graph, ValueId};

/// The float input `[batch, 3, H, W]` of an image model at the chosen resolution.
pub(super) fn image_input(b: &mut Builder, o: &ZooOptions) -> ValueId {
    let (h, w) = o.resolution;
    b.input(
        "input",
        DType::F32,
        vec![
            Dim::Sym("batch".into()),
            Dim::Known(3),
            Dim::Known(h),
            Dim::Known(w),
        ],
    )
}

/// torchvision's `AdaptiveAvgPool2d(target)` as exported: identity when the map already has
/// that size, an AveragePool when it divides evenly, otherwise unsupported.
fn adaptive_avgpool(b: &mut Builder, x: ValueId, size: u64, target: u64) -> Result<ValueId> {
    if size == target {
        Ok(x)
    } else if size % target == 0 {
        let k = size / target;
        Ok(b.avgpool(x, k, k))
    } else {
        Err(Error::Usage(format!(
            "this architecture pools a {size}×{size} feature map to {target}×{target}: choose a resolution that makes it a multiple"
        )))
    }
}

fn flatten(b: &mut Builder, x: ValueId) -> ValueId {
    b.op("Flatten", &[x], vec![("axis", Attr::Int(1))])
}

/// torchvision `alexnet`.
pub fn alexnet(o: &ZooOptions) -> Result<Graph> {
    let mut b = Builder::new("alexnet");
    let mut x = image_input(&mut b, o);
    b.push("features");
    // (index, cin, cout, kernel, stride, pad, pool after)
    let convs = [
        (0, 3, 64, 11, 4, 2, true),
        (3, 64, 192, 5, 1, 2, true),
        (6, 192, 384, 3, 1, 1, false),
        (8, 384, 256, 3, 1, 1, false),
        (10, 256, 256, 3, 1, 1, true),
    ];
    let mut size = o.resolution.0;
    for (i, cin, cout, k, s, p, pool) in convs {
        x = b.conv2d(&format!("features.{i}"), x, cin, cout, k, s, p, 1, true);
        x = b.unary("Relu", x);
        size = (size + 2 * p - k) / s + 1;
        if pool {
            x = b.maxpool(x, 3, 2, 0, false);
            size = (size - 3) / 2 + 1;
        }
    }
    b.pop();
    x = adaptive_avgpool(&mut b, x, size, 6)?;
    x = flatten(&mut b, x);
    b.push("classifier");
    x = b.gemm("classifier.1", x, 256 * 36, 4096);
    x = b.unary("Relu", x);
    x = b.gemm("classifier.4", x, 4096, 4096);
    x = b.unary("Relu", x);
    x = b.gemm("classifier.6", x, 4096, o.num_classes);
    b.pop();
    b.output(x);
    Ok(b.finish())
}

/// VGG layer configurations (0 = max pool).
pub const VGG11: &[u64] = &[64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0];
/// VGG-16 (configuration D).
pub const VGG16: &[u64] = &[
    64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0,
];

/// torchvision `vgg11` / `vgg16` (without BatchNorm).
pub fn vgg(o: &ZooOptions, cfg: &[u64]) -> Result<Graph> {
    let mut b = Builder::new("vgg");
    let mut x = image_input(&mut b, o);
    let mut cin = 3;
    b.push("features");
    for (i, &c) in cfg.iter().enumerate() {
        if c == 0 {
            x = b.maxpool(x, 2, 2, 0, false);
        } else {
            x = b.conv2d(&format!("features.{i}"), x, cin, c, 3, 1, 1, 1, true);
            x = b.unary("Relu", x);
            cin = c;
        }
    }
    b.pop();
    let size = o.resolution.0 / 32;
    x = adaptive_avgpool(&mut b, x, size, 7)?;
    x = flatten(&mut b, x);
    b.push("classifier");
    x = b.gemm("classifier.0", x, 512 * 49, 4096);
    x = b.unary("Relu", x);
    x = b.gemm("classifier.3", x, 4096, 4096);
    x = b.unary("Relu", x);
    x = b.gemm("classifier.6", x, 4096, o.num_classes);
    b.pop();
    b.output(x);
    Ok(b.finish())
}

/// Conv (no bias) + BatchNorm (+ activation): torchvision's `Conv2dNormActivation`.
#[allow(clippy::too_many_arguments)]
fn conv_bn(
    b: &mut Builder,
    conv: &str,
    bn: &str,
    x: ValueId,
    cin: u64,
    cout: u64,
    k: u64,
    s: u64,
    groups: u64,
    act: Option<&str>,
) -> ValueId {
    let y = b.conv2d(conv, x, cin, cout, k, s, (k - 1) / 2, groups, false);
    let y = b.batchnorm(bn, y, cout);
    match act {
        Some("Relu6") => b.relu6(y),
        Some("SiLU") => {
            let s = b.unary("Sigmoid", y);
            b.binary("Mul", y, s)
        }
        Some(op) => b.unary(op, y),
        None => y,
    }
}

/// torchvision `resnet18/34` (basic blocks) and `resnet50/101/152` (bottlenecks).
pub fn resnet(o: &ZooOptions, bottleneck: bool, layers: [usize; 4]) -> Result<Graph> {
    let mut b = Builder::new("resnet");
    let x = image_input(&mut b, o);
    let x = b.conv2d("conv1", x, 3, 64, 7, 2, 3, 1, false);
    let x = b.batchnorm("bn1", x, 64);
    let x = b.unary("Relu", x);
    let mut x = b.maxpool(x, 3, 2, 1, false);
    let exp = if bottleneck { 4 } else { 1 };
    let mut cin = 64;
    for (li, &n) in layers.iter().enumerate() {
        let planes = 64u64 << li;
        let layer = format!("layer{}", li + 1);
        b.push(&layer);
        for i in 0..n {
            let stride = if i == 0 && li > 0 { 2 } else { 1 };
            b.push(&format!("{layer}.{i}"));
            let identity = if stride != 1 || cin != planes * exp {
                b.scoped("downsample", |b| {
                    let d = b.conv2d("downsample.0", x, cin, planes * exp, 1, stride, 0, 1, false);
                    b.batchnorm("downsample.1", d, planes * exp)
                })
            } else {
                x
            };
            let y = if bottleneck {
                let y = conv_bn(
                    &mut b,
                    "conv1",
                    "bn1",
                    x,
                    cin,
                    planes,
                    1,
                    1,
                    1,
                    Some("Relu"),
                );
                let y = conv_bn(
                    &mut b,
                    "conv2",
                    "bn2",
                    y,
                    planes,
                    planes,
                    3,
                    stride,
                    1,
                    Some("Relu"),
                );
                conv_bn(&mut b, "conv3", "bn3", y, planes, planes * 4, 1, 1, 1, None)
            } else {
                let y = conv_bn(
                    &mut b,
                    "conv1",
                    "bn1",
                    x,
                    cin,
                    planes,
                    3,
                    stride,
                    1,
                    Some("Relu"),
                );
                conv_bn(&mut b, "conv2", "bn2", y, planes, planes, 3, 1, 1, None)
            };
            let y = b.binary("Add", y, identity);
            x = b.unary("Relu", y);
            b.pop();
            cin = planes * exp;
        }
        b.pop();
    }
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(&mut b, x);
    let x = b.gemm("fc", x, 512 * exp, o.num_classes);
    b.output(x);
    Ok(b.finish())
}

/// torchvision `squeezenet1_1`.
pub fn squeezenet1_1(o: &ZooOptions) -> Result<Graph> {
    let mut b = Builder::new("squeezenet1_1");
    let x = image_input(&mut b, o);
    b.push("features");
    let x = b.conv2d("features.0", x, 3, 64, 3, 2, 0, 1, true);
    let x = b.unary("Relu", x);
    let mut x = b.maxpool(x, 3, 2, 0, true);
    // (index, cin, squeeze, expand1x1, expand3x3), with ceil-mode pools before 5 and 8.
    let fires = [
        (3, 64, 16, 64),
        (4, 128, 16, 64),
        (6, 128, 32, 128),
        (7, 256, 32, 128),
        (9, 256, 48, 192),
        (10, 384, 48, 192),
        (11, 384, 64, 256),
        (12, 512, 64, 256),
    ];
    for (i, cin, s, e) in fires {
        if i == 6 || i == 9 {
            x = b.maxpool(x, 3, 2, 0, true);
        }
        x = b.scoped(&format!("features.{i}"), |b| {
            let sq = b.conv2d("squeeze", x, cin, s, 1, 1, 0, 1, true);
            let sq = b.unary("Relu", sq);
            let e1 = b.conv2d("expand1x1", sq, s, e, 1, 1, 0, 1, true);
            let e1 = b.unary("Relu", e1);
            let e3 = b.conv2d("expand3x3", sq, s, e, 3, 1, 1, 1, true);
            let e3 = b.unary("Relu", e3);
            b.op("Concat", &[e1, e3], vec![("axis", Attr::Int(1))])
        });
    }
    b.pop();
    b.push("classifier");
    let x = b.conv2d("classifier.1", x, 512, o.num_classes, 1, 1, 0, 1, true);
    let x = b.unary("Relu", x);
    b.pop();
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(&mut b, x);
    b.output(x);
    Ok(b.finish())
}

/// torchvision `mobilenet_v2`.
pub fn mobilenet_v2(o: &ZooOptions) -> Result<Graph> {
    let mut b = Builder::new("mobilenet_v2");
    let x = image_input(&mut b, o);
    b.push("features");
    let mut x = b.scoped("features.0", |b| {
        conv_bn(b, "0", "1", x, 3, 32, 3, 2, 1, Some("Relu6"))
    });
    let mut cin = 32;
    let mut idx = 1;
    // (expansion t, channels c, repeats n, stride s)
    for (t, c, n, s) in [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ] {
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let hidden = cin * t;
            x = b.scoped(&format!("features.{idx}"), |b| {
                b.scoped("conv", |b| {
                    let mut y = x;
                    let mut j = 0;
                    if t != 1 {
                        y = b.scoped(&format!("conv.{j}"), |b| {
                            conv_bn(b, "0", "1", y, cin, hidden, 1, 1, 1, Some("Relu6"))
                        });
                        j += 1;
                    }
                    y = b.scoped(&format!("conv.{j}"), |b| {
                        conv_bn(
                            b,
                            "0",
                            "1",
                            y,
                            hidden,
                            hidden,
                            3,
                            stride,
                            hidden,
                            Some("Relu6"),
                        )
                    });
                    let y = conv_bn(
                        b,
                        &format!("conv.{}", j + 1),
                        &format!("conv.{}", j + 2),
                        y,
                        hidden,
                        c,
                        1,
                        1,
                        1,
                        None,
                    );
                    if stride == 1 && cin == c {
                        b.binary("Add", x, y)
                    } else {
                        y
                    }
                })
            });
            cin = c;
            idx += 1;
        }
    }
    let x = b.scoped(&format!("features.{idx}"), |b| {
        conv_bn(b, "0", "1", x, cin, 1280, 1, 1, 1, Some("Relu6"))
    });
    b.pop();
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(&mut b, x);
    let x = b.scoped("classifier", |b| {
        b.gemm("classifier.1", x, 1280, o.num_classes)
    });
    b.output(x);
    Ok(b.finish())
}

/// torchvision `efficientnet_b0` (MBConv blocks with squeeze-and-excitation, SiLU).
pub fn efficientnet_b0(o: &ZooOptions) -> Result<Graph> {
    let mut b = Builder::new("efficientnet_b0");
    let x = image_input(&mut b, o);
    b.push("features");
    let mut x = b.scoped("features.0", |b| {
        conv_bn(b, "0", "1", x, 3, 32, 3, 2, 1, Some("SiLU"))
    });
    // (expand ratio, kernel, stride, in, out, layers)
    let stages = [
        (1, 3, 1, 32, 16, 1),
        (6, 3, 2, 16, 24, 2),
        (6, 5, 2, 24, 40, 2),
        (6, 3, 2, 40, 80, 3),
        (6, 5, 1, 80, 112, 3),
        (6, 5, 2, 112, 192, 4),
        (6, 3, 1, 192, 320, 1),
    ];
    for (si, (t, k, s, cin0, cout, n)) in stages.into_iter().enumerate() {
        b.push(&format!("features.{}", si + 1));
        for i in 0..n {
            let cin = if i == 0 { cin0 } else { cout };
            let stride = if i == 0 { s } else { 1 };
            let hidden = cin * t;
            let squeeze = (cin / 4).max(1);
            x = b.scoped(&format!("features.{}.{i}", si + 1), |b| {
                b.scoped("block", |b| {
                    let mut y = x;
                    let mut j = 0;
                    if t != 1 {
                        y = b.scoped(&format!("block.{j}"), |b| {
                            conv_bn(b, "0", "1", y, cin, hidden, 1, 1, 1, Some("SiLU"))
                        });
                        j += 1;
                    }
                    y = b.scoped(&format!("block.{j}"), |b| {
                        conv_bn(
                            b,
                            "0",
                            "1",
                            y,
                            hidden,
                            hidden,
                            k,
                            stride,
                            hidden,
                            Some("SiLU"),
                        )
                    });
                    j += 1;
                    y = b.scoped(&format!("block.{j}"), |b| {
                        let p = b.op("GlobalAveragePool", &[y], vec![]);
                        let p = b.conv2d("fc1", p, hidden, squeeze, 1, 1, 0, 1, true);
                        let sg = b.unary("Sigmoid", p);
                        let p = b.binary("Mul", p, sg);
                        let p = b.conv2d("fc2", p, squeeze, hidden, 1, 1, 0, 1, true);
                        let p = b.unary("Sigmoid", p);
                        b.binary("Mul", y, p)
                    });
                    j += 1;
                    let y = b.scoped(&format!("block.{j}"), |b| {
                        conv_bn(b, "0", "1", y, hidden, cout, 1, 1, 1, None)
                    });
                    if stride == 1 && cin == cout {
                        b.binary("Add", y, x)
                    } else {
                        y
                    }
                })
            });
        }
        b.pop();
    }
    let x = b.scoped("features.8", |b| {
        conv_bn(b, "0", "1", x, 320, 1280, 1, 1, 1, Some("SiLU"))
    });
    b.pop();
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(&mut b, x);
    let x = b.scoped("classifier", |b| {
        b.gemm("classifier.1", x, 1280, o.num_classes)
    });
    b.output(x);
    Ok(b.finish())
}

/// torchvision's `_make_divisible(v, 8)`: round to a multiple of 8, never below 90% of `v`.
fn make_divisible(v: u64) -> u64 {
    let n = ((v + 4) / 8 * 8).max(8);
    if (n as f64) < 0.9 * v as f64 {
        n + 8
    } else {
        n
    }
}

/// (input, kernel, expanded, output, squeeze-excite, hard-swish, stride) per block.
type V3Block = (u64, u64, u64, u64, bool, bool, u64);

const V3_LARGE: &[V3Block] = &[
    (16, 3, 16, 16, false, false, 1),
    (16, 3, 64, 24, false, false, 2),
    (24, 3, 72, 24, false, false, 1),
    (24, 5, 72, 40, true, false, 2),
    (40, 5, 120, 40, true, false, 1),
    (40, 5, 120, 40, true, false, 1),
    (40, 3, 240, 80, false, true, 2),
    (80, 3, 200, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 184, 80, false, true, 1),
    (80, 3, 480, 112, true, true, 1),
    (112, 3, 672, 112, true, true, 1),
    (112, 5, 672, 160, true, true, 2),
    (160, 5, 960, 160, true, true, 1),
    (160, 5, 960, 160, true, true, 1),
];

const V3_SMALL: &[V3Block] = &[
    (16, 3, 16, 16, true, false, 2),
    (16, 3, 72, 24, false, false, 2),
    (24, 3, 88, 24, false, false, 1),
    (24, 5, 96, 40, true, true, 2),
    (40, 5, 240, 40, true, true, 1),
    (40, 5, 240, 40, true, true, 1),
    (40, 5, 120, 48, true, true, 1),
    (48, 5, 144, 48, true, true, 1),
    (48, 5, 288, 96, true, true, 2),
    (96, 5, 576, 96, true, true, 1),
    (96, 5, 576, 96, true, true, 1),
];

/// torchvision `mobilenet_v3_large` / `mobilenet_v3_small`.
pub fn mobilenet_v3(o: &ZooOptions, large: bool) -> Result<Graph> {
    let (blocks, last) = if large {
        (V3_LARGE, 1280)
    } else {
        (V3_SMALL, 1024)
    };
    let mut b = Builder::new("mobilenet_v3");
    let x = image_input(&mut b, o);
    b.push("features");
    let mut x = b.scoped("features.0", |b| {
        conv_bn(b, "0", "1", x, 3, 16, 3, 2, 1, Some("HardSwish"))
    });
    for (i, &(cin, k, exp, cout, se, hs, s)) in blocks.iter().enumerate() {
        let act = if hs { "HardSwish" } else { "Relu" };
        x = b.scoped(&format!("features.{}", i + 1), |b| {
            b.scoped("block", |b| {
                let mut y = x;
                let mut j = 0;
                if exp != cin {
                    y = b.scoped(&format!("block.{j}"), |b| {
                        conv_bn(b, "0", "1", y, cin, exp, 1, 1, 1, Some(act))
                    });
                    j += 1;
                }
                y = b.scoped(&format!("block.{j}"), |b| {
                    conv_bn(b, "0", "1", y, exp, exp, k, s, exp, Some(act))
                });
                j += 1;
                if se {
                    let sq = make_divisible(exp / 4);
                    y = b.scoped(&format!("block.{j}"), |b| {
                        let p = b.op("GlobalAveragePool", &[y], vec![]);
                        let p = b.conv2d("fc1", p, exp, sq, 1, 1, 0, 1, true);
                        let p = b.unary("Relu", p);
                        let p = b.conv2d("fc2", p, sq, exp, 1, 1, 0, 1, true);
                        let p = b.unary("HardSigmoid", p);
                        b.binary("Mul", p, y)
                    });
                    j += 1;
                }
                let y = b.scoped(&format!("block.{j}"), |b| {
                    conv_bn(b, "0", "1", y, exp, cout, 1, 1, 1, None)
                });
                if s == 1 && cin == cout {
                    b.binary("Add", y, x)
                } else {
                    y
                }
            })
        });
    }
    let cin = blocks[blocks.len() - 1].3;
    let x = b.scoped(&format!("features.{}", blocks.len() + 1), |b| {
        conv_bn(b, "0", "1", x, cin, 6 * cin, 1, 1, 1, Some("HardSwish"))
    });
    b.pop();
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(&mut b, x);
    let x = b.scoped("classifier", |b| {
        let x = b.gemm("classifier.0", x, 6 * cin, last);
        let x = b.unary("HardSwish", x);
        b.gemm("classifier.3", x, last, o.num_classes)
    });
    b.output(x);
    Ok(b.finish())
}

/// torchvision `densenet121` (growth 32, blocks 6-12-24-16, bottleneck 4).
pub fn densenet121(o: &ZooOptions) -> Result<Graph> {
    let mut b = Builder::new("densenet121");
    let x = image_input(&mut b, o);
    b.push("features");
    let x = b.conv2d("conv0", x, 3, 64, 7, 2, 3, 1, false);
    let x = b.batchnorm("norm0", x, 64);
    let x = b.unary("Relu", x);
    let mut x = b.maxpool(x, 3, 2, 1, false);
    let mut c = 64;
    for (bi, n) in [6u64, 12, 24, 16].into_iter().enumerate() {
        let mut feats = vec![x];
        b.push(&format!("denseblock{}", bi + 1));
        for li in 0..n {
            let cin = c + li * 32;
            let input = if feats.len() == 1 {
                feats[0]
            } else {
                b.op("Concat", &feats, vec![("axis", Attr::Int(1))])
            };
            let y = b.scoped(&format!("denselayer{}", li + 1), |b| {
                let y = b.batchnorm("norm1", input, cin);
                let y = b.unary("Relu", y);
                let y = b.conv2d("conv1", y, cin, 128, 1, 1, 0, 1, false);
                let y = b.batchnorm("norm2", y, 128);
                let y = b.unary("Relu", y);
                b.conv2d("conv2", y, 128, 32, 3, 1, 1, 1, false)
            });
            feats.push(y);
        }
        b.pop();
        x = b.op("Concat", &feats, vec![("axis", Attr::Int(1))]);
        c += n * 32;
        if bi < 3 {
            x = b.scoped(&format!("transition{}", bi + 1), |b| {
                let y = b.batchnorm("norm", x, c);
                let y = b.unary("Relu", y);
                let y = b.conv2d("conv", y, c, c / 2, 1, 1, 0, 1, false);
                b.avgpool(y, 2, 2)
            });
            c /= 2;
        }
    }
    let x = b.batchnorm("norm5", x, c);
    b.pop();
    let x = b.unary("Relu", x);
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = flatten(&mut b, x);
    let x = b.gemm("classifier", x, c, o.num_classes);
    b.output(x);
    Ok(b.finish())
}

/// torchvision's `LayerNorm2d`: a channels-last LayerNorm between two permutes.
fn layernorm2d(b: &mut Builder, name: &str, x: ValueId, c: u64) -> ValueId {
    let y = b.transpose(x, &[0, 2, 3, 1]);
    let y = b.layernorm(name, y, c, 1e-6);
    b.transpose(y, &[0, 3, 1, 2])
}

/// torchvision `convnext_tiny` (depths 3-3-9-3, widths 96-192-384-768).
pub fn convnext_tiny(o: &ZooOptions) -> Result<Graph> {
    let dims = [96u64, 192, 384, 768];
    let depths = [3usize, 3, 9, 3];
    let mut b = Builder::new("convnext_tiny");
    let x = image_input(&mut b, o);
    b.push("features");
    let mut x = b.scoped("features.0", |b| {
        let y = b.conv2d("0", x, 3, 96, 4, 4, 0, 1, true);
        layernorm2d(b, "1", y, 96)
    });
    for (si, (&d, &n)) in dims.iter().zip(&depths).enumerate() {
        b.push(&format!("features.{}", 2 * si + 1));
        for i in 0..n {
            x = b.scoped(&format!("features.{}.{i}", 2 * si + 1), |b| {
                let y = b.scoped("block", |b| {
                    let y = b.conv2d("block.0", x, d, d, 7, 1, 3, d, true);
                    let y = b.transpose(y, &[0, 2, 3, 1]);
                    let y = b.layernorm("block.2", y, d, 1e-6);
                    let y = b.linear("block.3", y, d, 4 * d, true);
                    let y = b.gelu(y, false);
                    let y = b.linear("block.5", y, 4 * d, d, true);
                    b.transpose(y, &[0, 3, 1, 2])
                });
                let gamma = b.weight("layer_scale", &[d, 1, 1]);
                let y = b.binary("Mul", gamma, y);
                b.binary("Add", y, x)
            });
        }
        b.pop();
        if si < 3 {
            x = b.scoped(&format!("features.{}", 2 * si + 2), |b| {
                let y = layernorm2d(b, "0", x, d);
                b.conv2d("1", y, d, dims[si + 1], 2, 2, 0, 1, true)
            });
        }
    }
    b.pop();
    let x = b.op("GlobalAveragePool", &[x], vec![]);
    let x = b.scoped("classifier", |b| {
        let y = layernorm2d(b, "classifier.0", x, 768);
        let y = flatten(b, y);
        b.gemm("classifier.2", y, 768, o.num_classes)
    });
    b.output(x);
    Ok(b.finish())
}
