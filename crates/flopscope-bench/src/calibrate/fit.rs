//! Fits the time model's efficiencies (docs/predict.md) to measured latencies: per class
//! `eff`, `half_gflop`, `mem_eff`, and the global `overhead_us`, by robust least squares on
//! log time.
//!
//! Each sample is first run through [`predict`] once with unit efficiencies: that gives every
//! layer's class, fusion, FLOPs, compute time at the peak and memory time at the bandwidth,
//! exactly as `flopscope predict` sees them. The model's time for any parameters then follows
//! in closed form ([`Terms::time_ms`]), which makes the many evaluations of the fit cheap.
//!
//! The solver is a small Levenberg–Marquardt on the log parameters (positivity for free)
//! with Huber weights (a sample off by more than 10% counts linearly, not quadratically: one
//! noisy timing on a shared machine does not drag the fit) and a weak pull towards the prior
//! profile, which keeps parameters the samples do not determine where they were. ~20 unknowns
//! and ~100 samples: a hand-written dense solver is shorter than wiring in a linear-algebra
//! crate, and none in the stack (docs/architecture.md) offers a robust nonlinear fit.

use flopscope_core::error::{Error, Result};
use flopscope_core::predict::{self, Efficiency, OpClass, OpEfficiency, Target};
use flopscope_core::schema::Profile;

/// One measured micro-benchmark (or model).
pub struct Sample {
    /// Its name in reports.
    pub name: String,
    /// Its profile, as `flopscope predict` reads it.
    pub profile: Profile,
    /// Measured latency (median), ms.
    pub measured_ms: f64,
}

/// A layer's share of the model's time, with the parameters factored out.
#[derive(Clone, Copy, Debug)]
struct Term {
    class: OpClass,
    flops: f64,
    /// Compute time at the peak (eff 1, half 0), ms.
    compute_ms: f64,
    /// Memory time at the full bandwidth, ms (0 when fused).
    memory_ms: f64,
    /// Whether it launches a kernel (pays the overhead).
    kernel: bool,
}

/// The layers of one sample, ready to be timed for any parameters.
#[derive(Clone, Debug)]
pub struct Terms(Vec<Term>);

impl Terms {
    /// The terms of `p` on `t` (its own efficiencies are ignored).
    pub fn new(p: &Profile, t: &Target, o: predict::Options) -> Result<Terms> {
        let mut unit = t.clone();
        unit.efficiency = Efficiency {
            basis: String::new(),
            overhead_us: 0.0,
            strided_copy: 0.0,
            roofline_p: None,
            l2_carry: 0.0,
            ops: OpClass::KERNELS
                .into_iter()
                .map(|c| {
                    let one = OpEfficiency {
                        eff: 1.0,
                        half_gflop: 0.0,
                        mem_eff: 1.0,
                    };
                    (c, one)
                })
                .collect(),
        };
        let pred = predict::predict(p, &unit, o)?;
        Ok(Terms(
            pred.layers
                .iter()
                .filter(|l| l.class != OpClass::View)
                .map(|l| Term {
                    class: l.class,
                    flops: l.flops as f64,
                    compute_ms: l.compute_ms,
                    memory_ms: l.memory_ms,
                    kernel: !l.fused,
                })
                .collect(),
        ))
    }

    /// The model's time with efficiencies `e`: the formula of `predict` (docs/predict.md).
    pub fn time_ms(&self, e: &Efficiency) -> f64 {
        let overhead_ms = e.overhead_us / 1e3;
        self.0
            .iter()
            .map(|t| {
                let k = e.of(t.class);
                let compute = if t.flops > 0.0 {
                    t.compute_ms * (t.flops + k.half_gflop * 1e9) / (t.flops * k.eff)
                } else {
                    0.0
                };
                let memory = t.memory_ms / k.mem_eff;
                compute.max(memory) + if t.kernel { overhead_ms } else { 0.0 }
            })
            .sum()
    }
}

/// One fitted parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Param {
    Eff(OpClass),
    Half(OpClass),
    MemEff(OpClass),
    Overhead,
}

impl Param {
    /// Bounds of its natural log (a fit running off to an absurd value stops there).
    fn bounds(self) -> (f64, f64) {
        match self {
            Param::Eff(_) => (1e-3f64.ln(), 4f64.ln()),
            Param::Half(_) => (1e-7f64.ln(), 1e3f64.ln()),
            Param::MemEff(_) => (1e-3f64.ln(), 100f64.ln()),
            Param::Overhead => (1e-3f64.ln(), 1e4f64.ln()),
        }
    }

    fn get(self, e: &Efficiency) -> f64 {
        match self {
            Param::Eff(c) => e.of(c).eff,
            Param::Half(c) => e.of(c).half_gflop,
            Param::MemEff(c) => e.of(c).mem_eff,
            Param::Overhead => e.overhead_us,
        }
    }

    fn set(self, e: &mut Efficiency, v: f64) {
        fn at(e: &mut Efficiency, c: OpClass) -> &mut OpEfficiency {
            let cur = e.of(c);
            e.ops.entry(c).or_insert(cur)
        }
        match self {
            Param::Eff(c) => at(e, c).eff = v,
            Param::Half(c) => at(e, c).half_gflop = v,
            Param::MemEff(c) => at(e, c).mem_eff = v,
            Param::Overhead => e.overhead_us = v,
        }
    }
}

/// One sample after the fit.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FitRow {
    /// The sample's name.
    pub name: String,
    /// Measured, ms.
    pub measured_ms: f64,
    /// The fitted model's time, ms.
    pub predicted_ms: f64,
}

/// The fit's result.
#[derive(Clone, Debug)]
pub struct Fit {
    /// The fitted parameters (those no sample determines keep the prior's value).
    pub efficiency: Efficiency,
    /// Every sample, measured and fitted.
    pub rows: Vec<FitRow>,
}

impl Fit {
    /// Median |fitted − measured| / measured over the samples, percent.
    pub fn median_abs_pct(&self) -> f64 {
        let e: Vec<f64> = self
            .rows
            .iter()
            .map(|r| ((r.predicted_ms - r.measured_ms) / r.measured_ms).abs() * 100.0)
            .collect();
        crate::stats::summarize(&e).median
    }
}

/// Huber's threshold on a log residual: beyond ~10%, a sample's pull grows linearly.
const HUBER: f64 = 0.1;
/// Weight of the pull towards the prior, per parameter (in log units squared).
const PRIOR_WEIGHT: f64 = 1e-3;

fn huber(r: f64) -> f64 {
    if r.abs() <= HUBER {
        0.5 * r * r
    } else {
        HUBER * (r.abs() - 0.5 * HUBER)
    }
}

/// Fits `t`'s efficiencies (the prior and starting point) to `samples` measured with
/// options `o`; `basis` describes the measurement in the result.
pub fn fit(samples: &[Sample], t: &Target, o: predict::Options, basis: &str) -> Result<Fit> {
    if samples.is_empty() {
        return Err(Error::Usage("nothing to fit: no samples".into()));
    }
    if let Some(s) = samples
        .iter()
        .find(|s| !(s.measured_ms.is_finite() && s.measured_ms > 0.0))
    {
        return Err(Error::Usage(format!(
            "sample '{}' has a latency of {} ms: expected a positive time",
            s.name, s.measured_ms
        )));
    }
    let terms: Vec<Terms> = samples
        .iter()
        .map(|s| Terms::new(&s.profile, t, o))
        .collect::<Result<_>>()?;
    let logm: Vec<f64> = samples.iter().map(|s| s.measured_ms.ln()).collect();
    let params = identifiable(&terms);
    let prior = t.efficiency.clone();
    let theta0: Vec<f64> = params
        .iter()
        .map(|p| {
            let (lo, hi) = p.bounds();
            p.get(&prior).max(f64::MIN_POSITIVE).ln().clamp(lo, hi)
        })
        .collect();
    let model = |theta: &[f64]| -> Efficiency {
        let mut e = prior.clone();
        // `time_ms` is the spec's formula: a calibration fits it alone, so the optional terms
        // a class profile may carry (strided copy, soft roofline, L2 carry-over) are left out.
        e.strided_copy = 0.0;
        e.roofline_p = None;
        e.l2_carry = 0.0;
        for (p, v) in params.iter().zip(theta) {
            p.set(&mut e, v.exp());
        }
        e
    };
    let residuals = |theta: &[f64]| -> Vec<f64> {
        let e = model(theta);
        terms
            .iter()
            .zip(&logm)
            .map(|(t, m)| t.time_ms(&e).max(1e-12).ln() - m)
            .collect()
    };
    let cost = |theta: &[f64]| -> f64 {
        let data: f64 = residuals(theta).into_iter().map(huber).sum();
        let pull: f64 = theta
            .iter()
            .zip(&theta0)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        data + 0.5 * PRIOR_WEIGHT * pull
    };
    // A few starting points: sizes at which kernels reach half speed are the least certain.
    let mut best: Option<(f64, Vec<f64>)> = None;
    for scale in [1.0, 0.05, 20.0] {
        let start: Vec<f64> = params
            .iter()
            .zip(&theta0)
            .map(|(p, v)| {
                let (lo, hi) = p.bounds();
                match p {
                    Param::Half(_) => (v + f64::ln(scale)).clamp(lo, hi),
                    _ => *v,
                }
            })
            .collect();
        let theta = levenberg_marquardt(start, &params, &theta0, &residuals, &cost);
        let c = cost(&theta);
        if best.as_ref().is_none_or(|(b, _)| c < *b) {
            best = Some((c, theta));
        }
    }
    let (_, theta) = best.expect("at least one start");
    let mut efficiency = model(&theta);
    efficiency.basis = basis.to_string();
    let rows = samples
        .iter()
        .zip(&terms)
        .map(|(s, t)| FitRow {
            name: s.name.clone(),
            measured_ms: s.measured_ms,
            predicted_ms: t.time_ms(&efficiency),
        })
        .collect();
    Ok(Fit { efficiency, rows })
}

/// The parameters some sample's time depends on: a class's `eff` and `half_gflop` when one
/// of its layers has FLOPs, its `mem_eff` when one moves bytes in its own kernel, and the
/// overhead when any kernel launches.
fn identifiable(terms: &[Terms]) -> Vec<Param> {
    let all = || terms.iter().flat_map(|t| t.0.iter());
    let mut v = Vec::new();
    for c in OpClass::KERNELS {
        if all().any(|t| t.class == c && t.flops > 0.0) {
            v.push(Param::Eff(c));
            v.push(Param::Half(c));
        }
        if all().any(|t| t.class == c && t.memory_ms > 0.0) {
            v.push(Param::MemEff(c));
        }
    }
    if all().any(|t| t.kernel) {
        v.push(Param::Overhead);
    }
    v
}

/// Minimises `cost` (Huber on `residuals` + the prior's pull) from `theta`: Gauss–Newton
/// steps on iteratively reweighted residuals, damped à la Marquardt.
#[allow(clippy::needless_range_loop)] // Dense normal equations: indices are clearer.
fn levenberg_marquardt(
    mut theta: Vec<f64>,
    params: &[Param],
    prior: &[f64],
    residuals: &dyn Fn(&[f64]) -> Vec<f64>,
    cost: &dyn Fn(&[f64]) -> f64,
) -> Vec<f64> {
    let n = theta.len();
    let mut mu = 1e-3;
    let mut c = cost(&theta);
    for _ in 0..300 {
        let r = residuals(&theta);
        let w: Vec<f64> = r
            .iter()
            .map(|r| {
                if r.abs() <= HUBER {
                    1.0
                } else {
                    HUBER / r.abs()
                }
            })
            .collect();
        // Jacobian by central differences (the max() in the model has kinks: no closed form).
        let h = 1e-5;
        let mut jac = vec![vec![0.0; n]; r.len()];
        for j in 0..n {
            let mut up = theta.clone();
            up[j] += h;
            let mut down = theta.clone();
            down[j] -= h;
            let (ru, rd) = (residuals(&up), residuals(&down));
            for i in 0..r.len() {
                jac[i][j] = (ru[i] - rd[i]) / (2.0 * h);
            }
        }
        let mut a = vec![vec![0.0; n]; n];
        let mut g = vec![0.0; n];
        for i in 0..r.len() {
            for j in 0..n {
                g[j] += w[i] * jac[i][j] * r[i];
                for k in 0..n {
                    a[j][k] += w[i] * jac[i][j] * jac[i][k];
                }
            }
        }
        for j in 0..n {
            a[j][j] += PRIOR_WEIGHT;
            g[j] += PRIOR_WEIGHT * (theta[j] - prior[j]);
        }
        let mut improved = false;
        while mu < 1e12 {
            let mut m = a.clone();
            for j in 0..n {
                m[j][j] += mu * (a[j][j] + 1e-12);
            }
            let neg: Vec<f64> = g.iter().map(|v| -v).collect();
            let Some(step) = solve(m, neg) else {
                mu *= 10.0;
                continue;
            };
            let next: Vec<f64> = theta
                .iter()
                .zip(&step)
                .zip(params)
                .map(|((t, s), p)| {
                    let (lo, hi) = p.bounds();
                    (t + s).clamp(lo, hi)
                })
                .collect();
            let nc = cost(&next);
            if nc < c {
                let gain = c - nc;
                theta = next;
                c = nc;
                mu = (mu / 3.0).max(1e-9);
                improved = gain > 1e-12 * c.max(1e-12);
                break;
            }
            mu *= 4.0;
        }
        if !improved {
            break;
        }
    }
    theta
}

/// Solves `a · x = b` by Gaussian elimination with partial pivoting; `None` when singular.
#[allow(clippy::needless_range_loop)] // Indices read as the textbook algorithm does.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = (b[i] - s) / a[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests;
