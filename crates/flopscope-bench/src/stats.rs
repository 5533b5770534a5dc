//! Statistics of repeated timings (all in milliseconds).

pub use flopscope_core::measure::Latency;

/// Percentile `q` (0–100) by linear interpolation between order statistics (numpy's default).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Summarizes `samples` (unsorted).
pub fn summarize(samples: &[f64]) -> Latency {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let mean = s.iter().sum::<f64>() / n;
    let var = if s.len() > 1 {
        s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Latency {
        min: s[0],
        mean,
        median: percentile(&s, 50.0),
        p90: percentile(&s, 90.0),
        p99: percentile(&s, 99.0),
        max: s[s.len() - 1],
        stddev: var.sqrt(),
    }
}

/// Runs outside Tukey's fences (1.5 × IQR beyond the quartiles), as hyperfine flags them.
pub fn outliers(samples: &[f64]) -> usize {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let (q1, q3) = (percentile(&s, 25.0), percentile(&s, 75.0));
    let iqr = q3 - q1;
    s.iter()
        .filter(|&&x| x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr)
        .count()
}

/// Half-width of the distribution-free 95% confidence interval of the median, relative to the
/// median: order statistics n/2 ± 1.96·√n/2 bound it.
pub fn median_ci_relative(samples: &[f64]) -> f64 {
    let n = samples.len();
    if n < 6 {
        return f64::INFINITY;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let half = 1.96 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0 - half).floor().max(0.0)) as usize;
    let hi = ((n as f64 / 2.0 + half).ceil() as usize).min(n - 1);
    let med = percentile(&s, 50.0);
    if med <= 0.0 {
        // Runs too short to time: nothing more to learn by running longer.
        return 0.0;
    }
    ((s[hi] - s[lo]) / 2.0) / med
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        // 1..=100 ms: median 50.5, p90 90.1, p99 99.01 (numpy.percentile, linear).
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = summarize(&v);
        assert_eq!((s.min, s.max, s.median), (1.0, 100.0, 50.5));
        assert!((s.p90 - 90.1).abs() < 1e-9 && (s.p99 - 99.01).abs() < 1e-9);
        assert!((s.mean - 50.5).abs() < 1e-12);
        assert!((s.stddev - 29.011491975882016).abs() < 1e-9); // sample std of 1..100
        assert_eq!(outliers(&v), 0);
        let mut w = vec![10.0; 20];
        w.push(50.0);
        assert_eq!(outliers(&w), 1);
    }

    #[test]
    fn median_interval_shrinks_with_more_runs() {
        let noisy = |n: usize| {
            (0..n)
                .map(|i| 10.0 + (i % 7) as f64 * 0.1)
                .collect::<Vec<_>>()
        };
        assert!(median_ci_relative(&noisy(20)) >= median_ci_relative(&noisy(2000)));
        assert!(median_ci_relative(&noisy(3)).is_infinite());
    }
}
