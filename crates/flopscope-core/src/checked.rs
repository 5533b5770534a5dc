//! Checked sums and products of sizes and counts. A total that does not fit in 64 bits is an
//! error naming the quantity ([`Error::Overflow`], exit 6), never a wrapped or saturated number
//! presented as a count. The modules that add counts up (`profile`, `training`, `backprop`,
//! `weights`, `roofline`, `llm`) deny `clippy::arithmetic_side_effects`, so a bare `+=` there
//! fails clippy: they go through these helpers instead. The quantity is any `Display` (a `&str`,
//! or `format_args!(…)`, formatted only when the sum overflows).

use std::fmt::Display;

use crate::error::{Error, Result};

/// The error for the quantity `what` not fitting in 64 bits.
pub fn overflow(what: impl Display) -> Error {
    Error::Overflow(what.to_string())
}

/// `a + b`, or the error naming `what`.
pub fn add(a: u64, b: u64, what: impl Display) -> Result<u64> {
    a.checked_add(b).ok_or_else(|| overflow(what))
}

/// `a × b`, or the error naming `what`.
pub fn mul(a: u64, b: u64, what: impl Display) -> Result<u64> {
    a.checked_mul(b).ok_or_else(|| overflow(what))
}

/// The product of `xs`, or the error naming `what`.
pub fn product(xs: &[u64], what: impl Display) -> Result<u64> {
    xs.iter()
        .try_fold(1u64, |acc, &x| acc.checked_mul(x))
        .ok_or_else(|| overflow(what))
}

/// Adds `x` to the running total `acc`, or fails naming `what` (and leaves `acc` as it was).
pub fn add_to(acc: &mut u64, x: u64, what: impl Display) -> Result<()> {
    *acc = add(*acc, x, what)?;
    Ok(())
}

/// The sum of an iterator of counts, or the error naming `what`: `.sum()` without the wrap.
pub fn sum(xs: impl IntoIterator<Item = u64>, what: impl Display) -> Result<u64> {
    xs.into_iter()
        .try_fold(0u64, |acc, x| acc.checked_add(x))
        .ok_or_else(|| overflow(what))
}

/// `x` bits as whole bytes (rounded up), for `n` elements of `bits` bits each.
pub fn bytes_of_bits(n: u64, bits: u64, what: impl Display) -> Result<u64> {
    Ok(mul(n, bits, what)?.div_ceil(8))
}

/// `bytes × 8 / params`: the bits per parameter of a dtype row (0 for none). A ratio of
/// checked totals, so it is exact up to f64 rounding and never built from a wrapped sum.
pub fn bits_per_param(bytes: u64, params: u64) -> f64 {
    if params == 0 {
        0.0
    } else {
        bytes as f64 * 8.0 / params as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_fail_past_64_bits_naming_the_quantity() {
        // 40 × 2^59 = 5 × 2^62 > 2^64 − 1; 31 × 2^59 = 31 × 2^59 < 2^64 (32 × 2^59 = 2^64).
        let x = 1u64 << 59;
        let e = sum(std::iter::repeat_n(x, 40), "parameter bytes").unwrap_err();
        assert_eq!(e.to_string(), "parameter bytes overflows 64 bits");
        assert_eq!(sum(std::iter::repeat_n(x, 31), "b").unwrap(), 31 * x);
        assert!(sum(std::iter::repeat_n(x, 32), "b").is_err());
        let mut acc = u64::MAX - 1;
        add_to(&mut acc, 1, "a").unwrap();
        assert_eq!(acc, u64::MAX);
        assert!(add_to(&mut acc, 1, "a").is_err());
        assert_eq!(acc, u64::MAX, "a failed add leaves the total as it was");
        assert_eq!(product(&[1 << 32, 1 << 31], "p").unwrap(), 1 << 63);
        assert!(product(&[1 << 32, 1 << 32], "p").is_err());
        // 3 elements of 4 bits: 12 bits, 2 bytes.
        assert_eq!(bytes_of_bits(3, 4, "b").unwrap(), 2);
    }
}
