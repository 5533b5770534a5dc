//! The roofline chart: arithmetic intensity against GFLOP/s, log-log, with the roof (the
//! bandwidth slope up to the ridge, then the peak) and one point per layer.

use plotters::prelude::*;

use super::{err, legend, short, Area, FAMILY, LIGHT, PALETTE};
use flopscope_core::error::{Error, Result};
use flopscope_core::measure::RunResult;
use flopscope_core::schema::Bound;
use flopscope_core::schema::Profile;

/// One point: intensity, GFLOP/s, bound, name, minimum time.
type Point<'a> = (f64, f64, Bound, &'a str, f64);

/// Layers labelled by name: those with the most minimum time.
const LABELLED: usize = 5;

pub(super) fn draw<DB: DrawingBackend>(
    root: &Area<DB>,
    p: &Profile,
    run: Option<&RunResult>,
) -> Result<()> {
    let run = run.filter(|r| r.roofline.is_some());
    let (peak, bw) = match (run.and_then(|r| r.roofline.as_ref()), &p.roofline) {
        (Some(r), _) => (r.model.peak_gflops, r.model.bandwidth_gbs),
        (None, Some(s)) => (s.peak_gflops, s.bandwidth_gbs),
        _ => {
            return Err(Error::Usage(
                "the roofline chart needs a roof: add --roofline, --peak-gflops with \
                 --bandwidth-gbs, or --machine FILE"
                    .into(),
            ))
        }
    };
    // With a run, each layer's place and bound come from that run (its roof, the one the
    // lines are drawn for) at its achieved rate; without, from the profile at the attainable
    // rate. Only layers with FLOPs and bytes (intensity > 0) fit on log axes.
    let pts: Vec<Point> = match run {
        Some(r) => r
            .layers
            .iter()
            .filter_map(|l| {
                let u = l.roofline?;
                let i = u.intensity.filter(|&i| i > 0.0)?;
                let y = l.gflops_per_s.filter(|&g| g > 0.0)?;
                Some((i, y, u.bound, l.name.as_str(), u.min_ms))
            })
            .collect(),
        None => p
            .layers
            .iter()
            .filter_map(|l| {
                let u = l.roofline?;
                let i = u.intensity.filter(|&i| i > 0.0)?;
                Some((i, peak.min(i * bw), u.bound, l.name.as_str(), u.min_ms))
            })
            .collect(),
    };
    if pts.is_empty() {
        return Err(Error::Usage(
            "no layer has both FLOPs and bytes to place on the roofline".into(),
        ));
    }
    let ridge = peak / bw;
    let lo_x = pts.iter().map(|p| p.0).fold(ridge, f64::min) / 2.0;
    let hi_x = pts.iter().map(|p| p.0).fold(ridge, f64::max) * 2.0;
    let lo_y = pts.iter().map(|p| p.1).fold(lo_x * bw, f64::min) / 2.0;
    let hi_y = pts.iter().map(|p| p.1).fold(peak, f64::max) * 2.0;
    let title = if run.is_some() {
        "Roofline: layers at their measured GFLOP/s"
    } else {
        "Roofline: layers at their attainable GFLOP/s"
    };
    let mut c = ChartBuilder::on(root)
        .caption(title, (FAMILY, 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((lo_x..hi_x).log_scale(), (lo_y..hi_y).log_scale())
        .map_err(err)?;
    let tidy = |v: &f64| {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    c.configure_mesh()
        .x_desc("arithmetic intensity (FLOP/byte), log scale")
        .y_desc("GFLOP/s, log scale")
        .x_labels(10)
        .y_labels(10)
        .x_label_formatter(&tidy)
        .y_label_formatter(&tidy)
        .label_style((FAMILY, 13))
        .light_line_style(LIGHT)
        .draw()
        .map_err(err)?;
    let roof = [(lo_x, lo_x * bw), (ridge, peak), (hi_x, peak)];
    c.draw_series(LineSeries::new(roof, BLACK.stroke_width(2)))
        .map_err(err)?
        .label(format!(
            "roof: {peak:.1} GFLOP/s, {bw:.1} GB/s, ridge {ridge:.2} FLOP/byte"
        ))
        .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.stroke_width(2)));
    for (bound, color, label) in [
        (Bound::Compute, PALETTE[0], "compute-bound layers"),
        (Bound::Memory, PALETTE[1], "memory-bound layers"),
    ] {
        c.draw_series(
            pts.iter()
                .filter(|p| p.2 == bound)
                .map(|p| Circle::new((p.0, p.1), 5, color.mix(0.7).filled())),
        )
        .map_err(err)?
        .label(label)
        .legend(move |(x, y)| Circle::new((x + 8, y), 5, color.filled()));
    }
    // Name the heaviest layers, skipping one that would sit on a label already drawn (equal
    // layers share a point); labels in the right third go left of their point.
    let mut heavy: Vec<&Point> = pts.iter().collect();
    heavy.sort_by(|a, b| b.4.total_cmp(&a.4));
    let mut placed: Vec<(f64, f64)> = Vec::new();
    let right = (lo_x.ln() + 0.66 * (hi_x.ln() - lo_x.ln())).exp();
    for p in heavy {
        if placed.len() == LABELLED {
            break;
        }
        let near = |q: &(f64, f64)| (q.0 / p.0).ln().abs() < 1.2 && (q.1 / p.1).ln().abs() < 0.35;
        if placed.iter().any(near) {
            continue;
        }
        placed.push((p.0, p.1));
        let name = short(p.3);
        let dx = if p.0 > right {
            -8 - 7 * name.chars().count() as i32
        } else {
            8
        };
        c.draw_series([EmptyElement::at((p.0, p.1))
            + Text::new(name, (dx, -16), (FAMILY, 12).into_font().color(&BLACK))])
            .map_err(err)?;
    }
    legend(&mut c, SeriesLabelPosition::LowerRight)
}
