//! Static charts as SVG or PNG, drawn with plotters. Text is laid out with an embedded DejaVu
//! Sans (Bitstream Vera licence, `assets/fonts/DejaVu-LICENSE`), so no system font library is
//! needed.

use std::path::Path;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::compare::Comparison;
use flopscope_core::error::{Error, Result};
use flopscope_core::format::human;
use flopscope_core::measure::RunResult;
use flopscope_core::schema::Profile;

mod roofline;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
/// Colours of the series, colour-blind safe (Okabe–Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

/// What to draw.
pub enum Chart<'a> {
    /// FLOPs and parameters per layer, in graph order.
    Layers(&'a Profile),
    /// FLOPs and parameters per operator type.
    Ops(&'a Profile),
    /// Weight and activation bytes per layer, in graph order.
    Memory(&'a Profile),
    /// Histogram of the timed runs of one measurement.
    Latency(&'a RunResult),
    /// Parameters vs FLOPs (or latency) of several models, bubble area ∝ memory.
    Pareto(&'a Comparison),
    /// Layers under the roofline (log-log): at their attainable rate, or at their measured
    /// one when a run with per-layer times and a roofline is given.
    Roofline(&'a Profile, Option<&'a RunResult>),
}

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1200, 700);

fn register_font() -> Result<()> {
    // Remember the outcome: a failed first registration must fail every later chart too.
    static LOADED: OnceLock<bool> = OnceLock::new();
    if *LOADED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok())
    {
        Ok(())
    } else {
        Err(Error::Render("the embedded font did not load".into()))
    }
}

fn err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Render(format!("{e:?}"))
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart) -> Result<String> {
    register_font()?;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}

/// Writes the chart as SVG or PNG, by the extension of `path`.
pub fn write(chart: &Chart, path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let io = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    match ext.as_deref() {
        Some("svg") => std::fs::write(path, svg(chart)?).map_err(io),
        Some("png") => {
            register_font()?;
            // Draw into memory first: plotters' own PNG writer panics on an unwritable path.
            let (w, h) = SIZE;
            let mut buf = vec![0u8; (w * h * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut buf, SIZE).into_drawing_area();
                draw(&root, chart)?;
                root.present().map_err(err)?;
            }
            let file = std::fs::File::create(path).map_err(io)?;
            let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().map_err(err)?;
            wr.write_image_data(&buf).map_err(err)
        }
        _ => Err(Error::Usage(format!(
            "{}: a chart file must end in .svg or .png",
            path.display()
        ))),
    }
}

type Area<'a, DB> = DrawingArea<DB, Shift>;

/// Minor grid lines: barely there.
const LIGHT: RGBColor = RGBColor(242, 243, 245);

fn draw<DB: DrawingBackend>(root: &Area<DB>, chart: &Chart) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    match chart {
        Chart::Layers(p) => layers(root, p),
        Chart::Ops(p) => ops(root, p),
        Chart::Memory(p) => memory(root, p),
        Chart::Latency(r) => latency(root, r),
        Chart::Pareto(c) => pareto(root, c),
        Chart::Roofline(p, r) => roofline::draw(root, p, *r),
    }
}

/// The series legend every chart draws: framed, on a translucent white box, at `pos`.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    c: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> Result<()> {
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 14))
        .position(pos)
        .draw()
        .map_err(err)
}

/// A layer name cut to its last 36 characters (the most specific part), for labels.
fn short(name: &str) -> String {
    flopscope_core::format::fit_left(name, 36)
}

/// Bars in graph order on `area`, the three largest labelled with their layer name.
fn bars<DB: DrawingBackend>(
    area: &Area<DB>,
    caption: &str,
    y_desc: &str,
    values: &[(&str, f64)],
    color: RGBColor,
) -> Result<()> {
    let ymax = values.iter().map(|v| v.1).fold(0.0, f64::max).max(1e-9) * 1.12;
    let n = values.len().max(1) as f64;
    let mut c = ChartBuilder::on(area)
        .caption(caption, (FAMILY, 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n, 0f64..ymax)
        .map_err(err)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_desc("layer (graph order)")
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.3}"))
        .label_style((FAMILY, 13))
        .light_line_style(LIGHT)
        .draw()
        .map_err(err)?;
    c.draw_series(values.iter().enumerate().map(|(i, (_, v))| {
        let x = i as f64;
        Rectangle::new([(x + 0.1, 0.0), (x + 0.9, *v)], color.filled())
    }))
    .map_err(err)?;
    let mut top: Vec<usize> = (0..values.len()).filter(|&i| values[i].1 > 0.0).collect();
    top.sort_by(|&a, &b| values[b].1.total_cmp(&values[a].1));
    // Label the three heaviest that are far enough apart for their names not to overlap.
    let mut labelled: Vec<usize> = Vec::new();
    for i in top {
        if labelled.len() < 3 && labelled.iter().all(|&j| i.abs_diff(j) as f64 > n / 4.0) {
            labelled.push(i);
        }
    }
    c.draw_series(labelled.iter().map(|&i| {
        Text::new(
            short(values[i].0),
            (i as f64, values[i].1 + ymax * 0.02),
            (FAMILY, 12).into_font().color(&BLACK),
        )
    }))
    .map_err(err)?;
    Ok(())
}

fn layers<DB: DrawingBackend>(root: &Area<DB>, p: &Profile) -> Result<()> {
    let shown: Vec<&flopscope_core::schema::Layer> = p
        .layers
        .iter()
        .filter(|l| l.params > 0 || l.flops.unwrap_or(0) > 0)
        .collect();
    let (top, bottom) = root.split_vertically(SIZE.1 * 3 / 5);
    let flops: Vec<(&str, f64)> = shown
        .iter()
        .map(|l| (l.name.as_str(), l.flops.unwrap_or(0) as f64 / 1e9))
        .collect();
    let params: Vec<(&str, f64)> = shown
        .iter()
        .map(|l| (l.name.as_str(), l.params as f64 / 1e6))
        .collect();
    let title = format!(
        "{}: FLOPs per layer ({} FLOPs, {} MACs in all)",
        p.model.source,
        human(p.totals.flops),
        human(p.totals.macs)
    );
    bars(&top, &title, "GFLOPs", &flops, PALETTE[0])?;
    let title = format!("Parameters per layer ({} in all)", human(p.totals.params));
    bars(&bottom, &title, "M params", &params, PALETTE[1])
}

fn memory<DB: DrawingBackend>(root: &Area<DB>, p: &Profile) -> Result<()> {
    let mib = (1u64 << 20) as f64;
    let rows: Vec<(f64, f64)> = p
        .layers
        .iter()
        .map(|l| (l.param_bytes as f64 / mib, l.activation_bytes as f64 / mib))
        .collect();
    let ymax = rows.iter().map(|r| r.0 + r.1).fold(0.0, f64::max).max(1e-9) * 1.1;
    let mut c = ChartBuilder::on(root)
        .caption(
            format!(
                "{}: memory per layer (weights {}, peak activations {})",
                p.model.source,
                flopscope_core::format::human_bytes(p.totals.weight_bytes),
                flopscope_core::format::human_bytes(p.totals.peak_activation_bytes)
            ),
            (FAMILY, 20),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..rows.len().max(1) as f64, 0f64..ymax)
        .map_err(err)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_desc("layer (graph order)")
        .y_desc("MiB")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style((FAMILY, 13))
        .light_line_style(LIGHT)
        .draw()
        .map_err(err)?;
    for (k, (label, color)) in [("weights", PALETTE[1]), ("activations written", PALETTE[0])]
        .into_iter()
        .enumerate()
    {
        c.draw_series(rows.iter().enumerate().map(|(i, &(w, a))| {
            let x = i as f64;
            let (y0, y1) = if k == 0 { (0.0, w) } else { (w, w + a) };
            Rectangle::new([(x + 0.1, y0), (x + 0.9, y1)], color.filled())
        }))
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    legend(&mut c, SeriesLabelPosition::UpperRight)
}

fn ops<DB: DrawingBackend>(root: &Area<DB>, p: &Profile) -> Result<()> {
    let rows: Vec<&flopscope_core::schema::OpTypeRow> = p
        .by_op_type
        .iter()
        .filter(|r| r.flops > 0 || r.params > 0)
        .take(15)
        .collect();
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let flops: Vec<(&str, f64)> = rows
        .iter()
        .map(|r| (r.op.as_str(), r.flops as f64))
        .collect();
    let params: Vec<(&str, f64)> = rows
        .iter()
        .map(|r| (r.op.as_str(), r.params as f64))
        .collect();
    hbars(
        &left,
        &format!("{}: FLOPs by operator", p.model.source),
        "FLOPs",
        &flops,
        PALETTE[0],
    )?;
    hbars(
        &right,
        "Parameters by operator",
        "parameters",
        &params,
        PALETTE[1],
    )
}

/// Horizontal bars, one per named category, first at the top.
fn hbars<DB: DrawingBackend>(
    area: &Area<DB>,
    caption: &str,
    x_desc: &str,
    values: &[(&str, f64)],
    color: RGBColor,
) -> Result<()> {
    let n = values.len().max(1);
    let xmax = values.iter().map(|v| v.1).fold(0.0, f64::max).max(1e-9) * 1.15;
    let names: Vec<String> = values.iter().map(|v| v.0.to_string()).collect();
    let mut c = ChartBuilder::on(area)
        .caption(caption, (FAMILY, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(150)
        .build_cartesian_2d(0f64..xmax, (0..n as i32 - 1).into_segmented())
        .map_err(err)?;
    c.configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .x_labels(6)
        .x_label_formatter(&|v| human(*v as u64))
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names
                .get(n.wrapping_sub(1).wrapping_sub(*i as usize))
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FAMILY, 13))
        .light_line_style(LIGHT)
        .draw()
        .map_err(err)?;
    c.draw_series(values.iter().enumerate().map(|(i, (_, v))| {
        let row = (n - 1 - i) as i32;
        let mut r = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(row)),
                (*v, SegmentValue::Exact(row + 1)),
            ],
            color.filled(),
        );
        r.set_margin(3, 3, 0, 0);
        r
    }))
    .map_err(err)?;
    c.draw_series(values.iter().enumerate().map(|(i, (_, v))| {
        let row = (n - 1 - i) as i32;
        Text::new(
            human(*v as u64),
            (*v + xmax * 0.01, SegmentValue::CenterOf(row)),
            (FAMILY, 12).into_font().color(&BLACK),
        )
    }))
    .map_err(err)?;
    Ok(())
}

fn latency<DB: DrawingBackend>(root: &Area<DB>, r: &RunResult) -> Result<()> {
    let s = &r.samples_ms;
    if s.is_empty() {
        return Err(Error::Usage("no timed runs to draw".into()));
    }
    let (lo, hi) = (
        r.latency_ms.min,
        r.latency_ms.max.max(r.latency_ms.min + 1e-6),
    );
    // Freedman–Diaconis would over-split small samples; √n bins, 10 to 60.
    let bins = ((s.len() as f64).sqrt().round() as usize).clamp(10, 60);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u32; bins];
    for &x in s {
        counts[(((x - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let ymax = *counts.iter().max().unwrap_or(&1) as f64 * 1.15;
    let mut c = ChartBuilder::on(root)
        .caption(
            format!(
                "Latency of {} runs: {} {}, {} threads, batch {}",
                s.len(),
                r.backend,
                r.backend_version,
                r.threads,
                r.batch
            ),
            (FAMILY, 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(lo - width..hi + width, 0f64..ymax)
        .map_err(err)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_desc("latency (ms)")
        .y_desc("runs")
        .label_style((FAMILY, 13))
        .light_line_style(LIGHT)
        .draw()
        .map_err(err)?;
    c.draw_series(counts.iter().enumerate().map(|(i, &k)| {
        let x0 = lo + i as f64 * width;
        Rectangle::new([(x0, 0.0), (x0 + width, k as f64)], PALETTE[0].filled())
    }))
    .map_err(err)?;
    for (label, v, color) in [
        ("median", r.latency_ms.median, PALETTE[5]),
        ("p99", r.latency_ms.p99, PALETTE[3]),
    ] {
        c.draw_series(LineSeries::new(
            [(v, 0.0), (v, ymax * 0.92)],
            color.stroke_width(2),
        ))
        .map_err(err)?;
        c.draw_series([Text::new(
            format!("{label} {v:.2} ms"),
            (v, ymax * 0.95),
            (FAMILY, 13).into_font().color(&color),
        )])
        .map_err(err)?;
    }
    Ok(())
}

fn pareto<DB: DrawingBackend>(root: &Area<DB>, cmp: &Comparison) -> Result<()> {
    let by_latency = cmp.pareto_axis == "latency_ms";
    let pts: Vec<(f64, f64, f64, &str, bool)> = cmp
        .entries
        .iter()
        .map(|e| {
            let y = if by_latency {
                e.latency_ms.unwrap_or(0.0)
            } else {
                e.flops as f64 / 1e9
            };
            (
                e.params as f64 / 1e6,
                y,
                e.memory_bytes as f64,
                e.name.as_str(),
                e.pareto,
            )
        })
        .collect();
    if pts.is_empty() {
        return Err(Error::Usage("no models to compare".into()));
    }
    let range = |v: Vec<f64>| {
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min).max(1e-6);
        let hi = v.iter().cloned().fold(0.0, f64::max).max(lo * 1.01);
        (lo / 1.6)..(hi * 1.6)
    };
    let xr = range(pts.iter().map(|p| p.0).collect());
    let yr = range(pts.iter().map(|p| p.1).collect());
    let y_desc = if by_latency {
        "median latency (ms)"
    } else {
        "GFLOPs"
    };
    let mut c = ChartBuilder::on(root)
        .caption(
            format!(
                "Parameters vs {} (bubble area ∝ weights + peak activations)",
                if by_latency { "latency" } else { "FLOPs" }
            ),
            (FAMILY, 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(xr.log_scale(), yr.log_scale())
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("parameters (M), log scale")
        .y_desc(format!("{y_desc}, log scale"))
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| {
            format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        })
        .y_label_formatter(&|v| {
            format!("{v:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        })
        .label_style((FAMILY, 13))
        .light_line_style(LIGHT)
        .draw()
        .map_err(err)?;
    let mut front: Vec<(f64, f64)> = pts.iter().filter(|p| p.4).map(|p| (p.0, p.1)).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    c.draw_series(LineSeries::new(front, PALETTE[5].stroke_width(2)))
        .map_err(err)?
        .label("Pareto front")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], PALETTE[5].stroke_width(2)));
    let mmax = pts.iter().map(|p| p.2).fold(1.0, f64::max);
    for (i, &(x, y, m, name, _)) in pts.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let r = (6.0 + 34.0 * (m / mmax).sqrt()) as i32;
        let bubble = EmptyElement::at((x, y))
            + Circle::new((0, 0), r, color.mix(0.55).filled())
            + Text::new(
                name.to_string(),
                (r + 4, -7),
                (FAMILY, 14).into_font().color(&BLACK),
            );
        c.draw_series([bubble]).map_err(err)?;
    }
    legend(&mut c, SeriesLabelPosition::UpperLeft)
}
