//! Number, size and text formatting shared by every renderer: human units, grouped digits,
//! shapes and truncation. (Escaping of Markdown, LaTeX and CSV cells lives with the table
//! renderers in `flopscope-report`.)

/// `1x3x224x224`, or `?` when unknown.
pub fn shape_str(s: &Option<Vec<u64>>) -> String {
    match s {
        Some(d) if d.is_empty() => "scalar".into(),
        Some(d) => d.iter().map(u64::to_string).collect::<Vec<_>>().join("x"),
        None => "?".into(),
    }
}

/// Human units: `11.7M`, `1.81G`, `512`.
pub fn human(n: u64) -> String {
    const UNITS: [(f64, &str); 5] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")];
    let x = n as f64;
    for (scale, u) in UNITS {
        if x >= scale {
            let v = x / scale;
            return if v >= 100.0 {
                format!("{v:.0}{u}")
            } else if v >= 10.0 {
                format!("{v:.1}{u}")
            } else {
                format!("{v:.2}{u}")
            };
        }
    }
    n.to_string()
}

/// Bytes in binary units: `44.6 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = n as f64;
    let mut i = 0;
    while x >= 1024.0 && i < UNITS.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{x:.1} {}", UNITS[i])
    }
}

/// Cuts `s` to `w` chars, keeping its end (the most specific part of a name).
pub fn fit_left(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        s.to_string()
    } else {
        let tail: String = s.chars().skip(n - (w - 1)).collect();
        format!("…{tail}")
    }
}

/// Cuts `s` to `w` chars, keeping its start.
pub fn fit_right(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let head: String = s.chars().take(w - 1).collect();
        format!("{head}…")
    }
}

/// `1,814,073,344`
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Share of `part` in `whole` as a percentage string.
pub fn pct(part: Option<u64>, whole: u64) -> String {
    match part {
        Some(x) if whole > 0 => format!("{:.1}", x as f64 * 100.0 / whole as f64),
        Some(_) => "0.0".into(),
        None => "?".into(),
    }
}

/// A positive count with an optional K/M/G/B/T suffix (powers of 1000), exact when whole: `300B`,
/// `2T`, `1.5M`, `4096` (`--tokens`, and `tokens=` in Python).
pub fn parse_count(s: &str) -> Option<u64> {
    let t = s.trim().replace('_', "");
    let (num, scale) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 1e3),
        'M' => (&t[..t.len() - 1], 1e6),
        'G' | 'B' => (&t[..t.len() - 1], 1e9),
        'T' => (&t[..t.len() - 1], 1e12),
        _ => (t.as_str(), 1.0),
    };
    if scale == 1.0 {
        return num.parse().ok().filter(|&n: &u64| n >= 1);
    }
    let v: f64 = num.parse().ok()?;
    let n = (v * scale).round();
    // Below 2^64 and at least 1: the cast is exact for whole numbers up to 2^53 and rounds
    // beyond, as any such count is written.
    (n.is_finite() && (1.0..1.8e19).contains(&n)).then_some(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(human(11_689_512), "11.7M");
        assert_eq!(human(1_814_073_344), "1.81G");
        assert_eq!(human(999), "999");
        assert_eq!(grouped(1_814_073_344), "1,814,073,344");
        assert_eq!(human_bytes(46_722_048), "44.6 MiB");
    }

    #[test]
    fn token_counts() {
        assert_eq!(super::parse_count("300B"), Some(300_000_000_000));
        assert_eq!(super::parse_count("2T"), Some(2_000_000_000_000));
        assert_eq!(super::parse_count("1.5M"), Some(1_500_000));
        assert_eq!(super::parse_count("4096"), Some(4096));
        assert_eq!(super::parse_count("0"), None);
        assert_eq!(super::parse_count("lots"), None);
    }
}
