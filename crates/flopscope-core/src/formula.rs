//! Exact totals as polynomials in the symbolic dims (`batch`, `seq`, …).
//!
//! Costs of a graph are polynomials in its input dims whenever no operator rounds (strided
//! windows do). We evaluate the totals on a small grid of sizes, interpolate exactly with
//! rational arithmetic, and then check the polynomial at extra points it was not fitted on:
//! only a polynomial that predicts those exactly is reported.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

/// An exact rational number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

impl Ratio {
    fn new(num: i128, den: i128) -> Option<Ratio> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den) * den.signum();
        Some(Ratio {
            num: num / g,
            den: den / g,
        })
    }
    fn int(n: i128) -> Ratio {
        Ratio { num: n, den: 1 }
    }
    fn add(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(
            self.num
                .checked_mul(o.den)?
                .checked_add(o.num.checked_mul(self.den)?)?,
            self.den.checked_mul(o.den)?,
        )
    }
    fn sub(self, o: Ratio) -> Option<Ratio> {
        self.add(Ratio::int(-1).mul(o)?)
    }
    fn mul(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(self.num.checked_mul(o.num)?, self.den.checked_mul(o.den)?)
    }
    fn div(self, o: Ratio) -> Option<Ratio> {
        Ratio::new(self.num.checked_mul(o.den)?, self.den.checked_mul(o.num)?)
    }
    fn is_zero(self) -> bool {
        self.num == 0
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

/// One monomial: coefficient × Π symbol^power.
#[derive(Clone, Debug, Serialize)]
pub struct Term {
    /// Exact coefficient: an integer, or "p/q" as a string when fractional.
    pub coef: serde_json::Value,
    /// Power of each symbol (absent = 0).
    pub powers: BTreeMap<String, u32>,
}

/// A polynomial in the symbolic dims.
#[derive(Clone, Debug, Serialize)]
pub struct Polynomial {
    /// The polynomial written out, e.g. `85054464·batch + 12582912·batch·seq^2`.
    pub text: String,
    /// Its monomials, highest total degree first.
    pub terms: Vec<Term>,
    #[serde(skip)]
    coefs: Vec<(Vec<u32>, Ratio)>,
}

impl Polynomial {
    /// Value at a point (one size per symbol, in fitting order); `None` on overflow or non-integer.
    pub fn eval(&self, at: &[u64]) -> Option<u64> {
        let mut acc = Ratio::int(0);
        for (pw, c) in &self.coefs {
            let mut t = *c;
            for (&x, &p) in at.iter().zip(pw) {
                t = t.mul(Ratio::int((x as i128).checked_pow(p)?))?;
            }
            acc = acc.add(t)?;
        }
        (acc.den == 1 && acc.num >= 0).then(|| u64::try_from(acc.num).ok())?
    }
}

/// Coefficients (lowest power first) of the polynomial through (xs[i], ys[i]).
fn interpolate(xs: &[i128], ys: &[Ratio]) -> Option<Vec<Ratio>> {
    let n = xs.len();
    // Newton divided differences.
    let mut dd = ys.to_vec();
    for j in 1..n {
        for i in (j..n).rev() {
            dd[i] = dd[i].sub(dd[i - 1])?.div(Ratio::int(xs[i] - xs[i - j]))?;
        }
    }
    // Expand Σ dd[j] Π_{i<j} (x − xs[i]) into monomials (Horner from the top).
    let mut coef = vec![Ratio::int(0); n];
    for j in (0..n).rev() {
        // coef = coef · (x − xs[j]) + dd[j]
        let mut next = vec![Ratio::int(0); n];
        for k in 0..n {
            if coef[k].is_zero() {
                continue;
            }
            if k + 1 < n {
                next[k + 1] = next[k + 1].add(coef[k])?;
            }
            next[k] = next[k].sub(coef[k].mul(Ratio::int(xs[j]))?)?;
        }
        next[0] = next[0].add(dd[j])?;
        coef = next;
    }
    Some(coef)
}

/// Sizes each symbol takes on the fitting grid: away from 1, where exporters special-case.
const GRID: [u64; 4] = [2, 3, 4, 5];

/// Fits polynomials to `k` quantities as functions of `symbols`.
///
/// `eval` returns the quantities at one point (a size per symbol). Degrees 1, 2, 3 are tried
/// in turn (evaluations are shared between tries), and the first fit that is exact at the check
/// points wins. Returns the polynomials and the points they were checked at, or why no exact
/// polynomial was found.
pub fn fit(
    symbols: &[String],
    k: usize,
    mut eval: impl FnMut(&[u64]) -> Result<Vec<u64>, String>,
) -> Result<(Vec<Polynomial>, Vec<Vec<u64>>), String> {
    let s = symbols.len();
    let max_degree = match s {
        0 => return Err("no symbolic dims".into()),
        1 | 2 => 3,
        3 => 2,
        _ => return Err(format!("{s} symbolic dims (at most 3 are fitted)")),
    };
    let mut memo: HashMap<Vec<u64>, Vec<u64>> = HashMap::new();
    let mut at = |p: &[u64]| -> Result<Vec<u64>, String> {
        if let Some(v) = memo.get(p) {
            return Ok(v.clone());
        }
        let v = eval(p)?;
        if v.len() < k {
            return Err("too few quantities".into());
        }
        memo.insert(p.to_vec(), v.clone());
        Ok(v)
    };
    // Check points lie off every grid.
    let checks: Vec<Vec<u64>> = vec![
        (0..s).map(|i| 7 + 2 * i as u64).collect(),
        (0..s).map(|i| 11 - 3 * i as u64).collect(),
    ];
    for degree in 1..=max_degree {
        let polys = fit_grid(symbols, k, degree, &mut at)?;
        let mut exact = true;
        for p in &checks {
            let actual = at(p)?;
            exact &= polys
                .iter()
                .enumerate()
                .all(|(q, poly)| poly.eval(p) == Some(actual[q]));
        }
        if exact {
            return Ok((polys, checks));
        }
    }
    Err(format!(
        "totals are not a polynomial of degree ≤ {max_degree} in {} (checked at {checks:?})",
        symbols.join(", ")
    ))
}

/// Interpolates on the tensor grid GRID[..degree + 1] ^ symbols.
fn fit_grid(
    symbols: &[String],
    k: usize,
    degree: usize,
    at: &mut impl FnMut(&[u64]) -> Result<Vec<u64>, String>,
) -> Result<Vec<Polynomial>, String> {
    let s = symbols.len();
    let m = degree + 1;
    let grid = &GRID[..m];
    let npts = m.pow(s as u32);
    // values[q][flat] with flat indexing the grid point (symbol 0 most significant).
    let samples = (0..npts)
        .map(|flat| at(&grid_point(flat, s, m, grid)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut values: Vec<Vec<Ratio>> = (0..k)
        .map(|q| samples.iter().map(|v| Ratio::int(v[q] as i128)).collect())
        .collect();
    let overflow = || "coefficients overflow".to_string();
    let xs: Vec<i128> = grid.iter().map(|&x| x as i128).collect();
    let mut polys = Vec::with_capacity(k);
    for vals in values.iter_mut() {
        // Interpolate along each symbol's axis in turn (the grid is a tensor product).
        for axis in 0..s {
            let stride = m.pow((s - 1 - axis) as u32);
            for base in 0..npts {
                if (base / stride) % m != 0 {
                    continue;
                }
                let ys: Vec<Ratio> = (0..m).map(|i| vals[base + i * stride]).collect();
                let c = interpolate(&xs, &ys).ok_or_else(overflow)?;
                for i in 0..m {
                    vals[base + i * stride] = c[i];
                }
            }
        }
        let mut coefs: Vec<(Vec<u32>, Ratio)> = (0..npts)
            .filter(|&f| !vals[f].is_zero())
            .map(|f| {
                let pw = (0..s)
                    .map(|a| ((f / m.pow((s - 1 - a) as u32)) % m) as u32)
                    .collect();
                (pw, vals[f])
            })
            .collect();
        coefs.sort_by_key(|(pw, _)| std::cmp::Reverse((pw.iter().sum::<u32>(), pw.clone())));
        polys.push(make_poly(symbols, coefs));
    }
    Ok(polys)
}

fn grid_point(flat: usize, s: usize, m: usize, grid: &[u64]) -> Vec<u64> {
    (0..s)
        .map(|a| grid[(flat / m.pow((s - 1 - a) as u32)) % m])
        .collect()
}

fn make_poly(symbols: &[String], coefs: Vec<(Vec<u32>, Ratio)>) -> Polynomial {
    let mut text = String::new();
    let mut terms = Vec::new();
    for (pw, c) in &coefs {
        let mut t = String::new();
        let neg = c.num < 0;
        let mag = Ratio::new(c.num.abs(), c.den).unwrap_or(*c);
        let mut factors: Vec<String> = Vec::new();
        let mut powers = BTreeMap::new();
        for (sym, &p) in symbols.iter().zip(pw) {
            if p > 0 {
                powers.insert(sym.clone(), p);
                factors.push(if p == 1 {
                    sym.clone()
                } else {
                    format!("{sym}^{p}")
                });
            }
        }
        if factors.is_empty() || mag != Ratio::int(1) {
            t.push_str(&mag.to_string());
            if !factors.is_empty() {
                t.push('·');
            }
        }
        t.push_str(&factors.join("·"));
        if text.is_empty() {
            if neg {
                text.push('-');
            }
        } else {
            text.push_str(if neg { " - " } else { " + " });
        }
        text.push_str(&t);
        let coef = if c.den == 1 {
            serde_json::Value::from(c.num as i64)
        } else {
            serde_json::Value::from(c.to_string())
        };
        terms.push(Term { coef, powers });
    }
    if text.is_empty() {
        text.push('0');
    }
    Polynomial { text, terms, coefs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_batch_seq_polynomial_exactly() {
        // f = 7·b + 3·b·s^2 + 5 and g = b·s(s+1)/2 (fractional coefficients).
        let syms = vec!["batch".to_string(), "seq".to_string()];
        let (p, _) = fit(&syms, 2, |x| {
            let (b, s) = (x[0], x[1]);
            Ok(vec![7 * b + 3 * b * s * s + 5, b * s * (s + 1) / 2])
        })
        .unwrap();
        assert_eq!(p[0].text, "3·batch·seq^2 + 7·batch + 5");
        assert_eq!(p[1].text, "1/2·batch·seq^2 + 1/2·batch·seq");
        assert_eq!(p[0].eval(&[8, 128]), Some(7 * 8 + 3 * 8 * 128 * 128 + 5));
    }

    #[test]
    fn rejects_non_polynomials() {
        // Strided windows floor: (s + 1) / 2 is not a polynomial.
        let syms = vec!["h".to_string()];
        let r = fit(&syms, 1, |x| Ok(vec![x[0].div_ceil(2) * 10]));
        assert!(r.is_err());
    }
}
