//! `flopscope report` and `flopscope compare`: choose what to compute and where to write it;
//! the page, charts and tables come from the library.

use std::path::{Path, PathBuf};

use flopscope_core::Error;
use flopscope_report::chart::{self, Chart};
use flopscope_report::compare::{Comparison, Diff, Predicted};
use flopscope_report::page::{html, Page};
use flopscope_report::render::Format;

use super::{measure, write_out, ChartKind, CompareArgs, CompareFormat, ReportArgs};

/// What the output path asks for.
enum Output {
    Html,
    Image,
    Text,
}

fn output_kind(path: &Path) -> Output {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => Output::Html,
        Some("svg" | "png") => Output::Image,
        _ => Output::Text,
    }
}

fn write_html(path: &Path, page: &Page) -> Result<(), Error> {
    std::fs::write(path, html(page)).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn report(a: ReportArgs) -> Result<(), Error> {
    let mut opts = a.shape.options()?;
    // Profile at the batch that is measured first, so per-layer times and FLOPs match.
    if let Some(&b) = a.measure.batch.first().filter(|_| a.bench) {
        opts.dims.retain(|(k, _)| k != "batch");
        opts.dims.push(("batch".into(), b));
    }
    let kind = output_kind(&a.output);
    if matches!(kind, Output::Image) {
        match a.chart {
            ChartKind::Pareto => {
                return Err(Error::Usage(
                    "the Pareto chart compares models: use `flopscope compare A B … -o chart.svg`"
                        .into(),
                ))
            }
            ChartKind::Latency if !a.bench => {
                return Err(Error::Usage(
                    "--chart latency needs measurements: add --bench".into(),
                ))
            }
            ChartKind::Roofline if !a.device.given() => {
                return Err(Error::Usage(
                    "the roofline chart needs a roof: add --roofline, --peak-gflops with \
                     --bandwidth-gbs, or --machine FILE"
                        .into(),
                ))
            }
            _ => {}
        }
    }
    if matches!(kind, Output::Text) {
        return Err(Error::Usage(format!(
            "{}: the report is written as .html, a chart as .svg or .png",
            a.output.display()
        )));
    }
    let mut profile = crate::profile_model(&a.model, &opts)?;
    crate::check_dims(&opts, &[&profile], false)?;
    let machine = a.device.machine()?;
    if let Some(m) = &machine {
        flopscope_core::roofline::apply(&mut profile, m)?;
    }
    let bench = if a.bench {
        Some(measure(&a.model, &a.shape, &a.measure, true, machine)?)
    } else {
        None
    };
    let prediction = match a.predict.target()? {
        Some((target, o)) => Some(flopscope_core::predict::predict(&profile, &target, o)?),
        None => None,
    };
    match kind {
        Output::Html => {
            let shown = flopscope_remote::redact(&a.model);
            let mut page = Page::new(format!("flopscope report: {shown}"));
            page.profile = Some(&profile);
            page.bench = bench.as_ref();
            page.prediction = prediction.as_ref();
            write_html(&a.output, &page)
        }
        _ => {
            let first_run = bench.as_ref().and_then(|b| b.runs.first());
            let c = match (a.chart, first_run) {
                (ChartKind::Layers, _) => Chart::Layers(&profile),
                (ChartKind::Ops, _) => Chart::Ops(&profile),
                (ChartKind::Memory, _) => Chart::Memory(&profile),
                (ChartKind::Latency, Some(r)) => Chart::Latency(r),
                (ChartKind::Roofline, r) => Chart::Roofline(&profile, r),
                _ => return Err(Error::Usage("nothing was measured to draw".into())),
            };
            chart::write(&c, &a.output)
        }
    }
}

pub(crate) fn compare(a: CompareArgs) -> Result<(), Error> {
    if a.diff && a.models.len() != 2 {
        return Err(Error::Usage(format!(
            "--diff compares two versions of one model, got {} models",
            a.models.len()
        )));
    }
    let opts = a.shape.options()?;
    if let Some(name) = &a.convention {
        if a.diff || a.bench {
            return Err(Error::Usage(
                "--convention compares the models' totals (no --diff or --bench)".into(),
            ));
        }
        let counted = a
            .models
            .iter()
            .map(|m| {
                let p = crate::profile_model(m, &opts)?;
                let e = crate::convention::explained(m, name, &p)?;
                Ok(e.conventions.into_iter().next().expect("one convention"))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let names: Vec<String> = a
            .models
            .iter()
            .map(|m| flopscope_remote::redact(m))
            .collect();
        let text = match a.format {
            CompareFormat::Json => {
                serde_json::to_string_pretty(
                    &names
                        .iter()
                        .zip(&counted)
                        .map(|(n, c)| serde_json::json!({"model": n, "counted": c}))
                        .collect::<Vec<_>>(),
                )
                .map_err(|e| Error::Usage(e.to_string()))?
                    + "\n"
            }
            f => flopscope_report::conventions::models_table(
                &names,
                &counted,
                matches!(f, CompareFormat::Markdown),
            ),
        };
        return crate::write_out(a.output.as_ref(), &text);
    }
    if let Some(names) = &a.conventions {
        if a.models.len() != 1 || a.diff || a.bench {
            return Err(Error::Usage(
                "--conventions explains one model (no --diff or --bench)".into(),
            ));
        }
        let p = crate::profile_model(&a.models[0], &opts)?;
        let e = crate::convention::explained(&a.models[0], names, &p)?;
        return crate::convention::write(
            &e,
            matches!(a.format, CompareFormat::Json),
            matches!(a.format, CompareFormat::Markdown),
            a.output.as_ref(),
        );
    }
    let mut profiles = Vec::with_capacity(a.models.len());
    let mut runs = Vec::with_capacity(a.models.len());
    for m in &a.models {
        profiles.push(crate::profile_model(m, &opts)?);
        runs.push(if a.bench {
            measure(m, &a.shape, &a.measure, false, None)?
                .runs
                .into_iter()
                .next()
        } else {
            None
        });
    }
    crate::check_dims(&opts, &profiles.iter().collect::<Vec<_>>(), true)?;
    // What each model is called: a URL without its query (a pre-signed signature).
    let names: Vec<String> = a
        .models
        .iter()
        .map(|m| flopscope_remote::redact(m))
        .collect();
    let mut cmp = Comparison::new(&names, &profiles, &runs);
    if let Some((target, o)) = a.predict.target()? {
        let predicted = profiles
            .iter()
            .map(|p| flopscope_core::predict::predict(p, &target, o).map(|r| Predicted::of(&r)))
            .collect::<Result<Vec<_>, _>>()?;
        cmp = cmp.with_predictions(predicted);
    }
    let diff = a.diff.then(|| Diff::new(&profiles[0], &profiles[1]));
    let text = match (&diff, a.format) {
        (Some(d), CompareFormat::Json) => d.document(Format::Json),
        (Some(d), CompareFormat::Markdown) => d.document(Format::Markdown),
        (Some(d), _) => d.document(Format::Text),
        (None, CompareFormat::Table) => cmp.render(Format::Text),
        (None, CompareFormat::Markdown) => cmp.render(Format::Markdown),
        (None, CompareFormat::Latex) => cmp.render(Format::Latex),
        (None, CompareFormat::Csv) => cmp.render(Format::Csv),
        (None, CompareFormat::Json) => {
            serde_json::to_string_pretty(&cmp).unwrap_or_default() + "\n"
        }
    };
    match a.output.as_deref().map(|p| (p, output_kind(p))) {
        Some((path, Output::Html)) => {
            let mut page = Page::new(format!("flopscope compare: {}", names.join(", ")));
            page.compare = Some(&cmp);
            page.compare_text = Some([cmp.render(Format::Markdown), cmp.render(Format::Latex)]);
            page.diff = diff.as_ref();
            write_html(path, &page)?;
            write_out(None, &text)
        }
        Some((path, Output::Image)) => {
            chart::write(&Chart::Pareto(&cmp), path)?;
            write_out(None, &text)
        }
        Some((path, Output::Text)) => write_out(Some(&PathBuf::from(path)), &text),
        None => write_out(None, &text),
    }
}
