//! Floats that are hard to carry exactly, for the fidelity tests of every JSON path and backend.
//!
//! - [`f64_cases`] / [`f32_cases`]: fixed awkward values (durations of real decoded files,
//!   subnormals, the extremes, `-0.0`, powers of ten, integers around 2^53) followed by
//!   pseudo-random bit patterns and subnormals, deterministic for a seed.
//! - [`halfway_decimals`]: decimal texts just below, exactly at and just above the midpoint
//!   between a float and the next one up, with the float each must parse to. A parser that is
//!   not correctly rounded gets these wrong first.
//!
//! ```
//! use songrec_conformance::floats::{f64_cases, halfway_decimals};
//! let xs = f64_cases(1, 50);
//! assert!(xs.contains(&12.023219954648527));
//! for (text, want) in halfway_decimals(12.023219954648527) {
//!     assert_eq!(text.parse::<f64>().unwrap().to_bits(), want.to_bits(), "{text}");
//! }
//! ```

pub use songrec_storage::rng::SplitMix;

/// Awkward f64 values every store must carry bit for bit.
pub const AWKWARD_F64: [f64; 24] = [
    12.023219954648527,
    0.15070294784580499,
    0.0,
    -0.0,
    f64::MIN_POSITIVE,
    f64::MAX,
    f64::MIN,
    f64::EPSILON,
    0.1,
    0.30000000000000004,
    1.0 / 3.0,
    9007199254740992.0,
    9007199254740994.0,
    1e23,
    8.41e21,
    5e-324,
    -5e-324,
    2.225073858507201e-308, // largest subnormal
    2.2250738585072014e-308,
    1.7976931348623155e308,
    4.35e-322,
    123456789012345680.0,
    0.000_001,
    299_792_458.0,
];

/// Awkward f32 values (tempos, vector components) every store must carry bit for bit.
pub const AWKWARD_F32: [f32; 18] = [
    117.453_28,
    0.0,
    -0.0,
    f32::MIN_POSITIVE,
    f32::MAX,
    f32::MIN,
    f32::EPSILON,
    0.1,
    1.0 / 3.0,
    1.000_000_1,
    16_777_215.0,
    16_777_216.0,
    1e-45,
    1.1754942e-38, // largest subnormal
    3.402_823_5e38,
    7.038531e-26,
    8.589973e9,
    0.333_333_34,
];

/// [`AWKWARD_F64`] then `n` pseudo-random finite values: a third random bit patterns, a third
/// subnormals, a third 17-significant-digit values around 1..1000 (like real durations).
pub fn f64_cases(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = SplitMix::new(seed);
    let mut out = AWKWARD_F64.to_vec();
    while out.len() < AWKWARD_F64.len() + n {
        let bits = rng.next_u64();
        let x = match out.len() % 3 {
            0 => f64::from_bits(bits),
            1 => f64::from_bits(bits & 0x800f_ffff_ffff_ffff),
            _ => (bits >> 11) as f64 / (1u64 << 53) as f64 * 1000.0,
        };
        if x.is_finite() {
            out.push(x);
        }
    }
    out
}

/// [`AWKWARD_F32`] then `n` pseudo-random finite values: half random bit patterns, a quarter
/// subnormals, a quarter tempo-like values.
pub fn f32_cases(seed: u64, n: usize) -> Vec<f32> {
    let mut rng = SplitMix::new(seed);
    let mut out = AWKWARD_F32.to_vec();
    while out.len() < AWKWARD_F32.len() + n {
        let bits = rng.next_u64() as u32;
        let x = match out.len() % 4 {
            0 | 1 => f32::from_bits(bits),
            2 => f32::from_bits(bits & 0x807f_ffff),
            _ => 40.0 + (bits >> 8) as f32 / (1u32 << 24) as f32 * 200.0,
        };
        if x.is_finite() {
            out.push(x);
        }
    }
    out
}

/// Decimal texts around the midpoint between `x` and the next float away from zero, each with
/// the float it must parse to: the exact midpoint (ties to even), the closest decimals one
/// digit longer just below and just above it, and 17-, 20- and 25-digit truncations (below)
/// and their last-digit increments (above). Empty for non-finite `x` and `±f64::MAX`.
pub fn halfway_decimals(x: f64) -> Vec<(String, f64)> {
    if !x.is_finite() || x.abs() == f64::MAX {
        return Vec::new();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let a = x.abs();
    let bits = a.to_bits();
    let (exp, frac) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    let (m, e) = if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1 << 52), exp - 1075)
    };
    let up = f64::from_bits(bits + 1);
    let (lo, hi) = if sign.is_empty() { (a, up) } else { (-a, -up) };
    // The midpoint is (2m + 1) * 2^(e - 1), exactly.
    let (digits, exp10) = exact_decimal(2 * m + 1, e - 1);
    let text = |d: &str, e10: i32| format!("{sign}{d}e{e10}");
    let even = if m % 2 == 0 { lo } else { hi };
    let mut out = vec![
        (text(&digits, exp10), even),
        (text(&format!("{}9", decrement(&digits)), exp10 - 1), lo),
        (text(&format!("{digits}1"), exp10 - 1), hi),
    ];
    for n in [17, 20, 25] {
        // A cut is below the midpoint only if it drops a non-zero digit (else it is the
        // midpoint itself, which parses to the even neighbour).
        if digits.len() > n && digits[n..].bytes().any(|b| b != b'0') {
            let cut = &digits[..n];
            let shift = exp10 + (digits.len() - n) as i32;
            out.push((text(cut, shift), lo));
            out.push((text(&increment(cut), shift), hi));
        }
    }
    out
}

/// The exact decimal form of `mantissa * 2^exp2` as (digits, exp10): value = digits * 10^exp10.
fn exact_decimal(mantissa: u64, exp2: i32) -> (String, i32) {
    const BASE: u64 = 1_000_000_000;
    // Little-endian limbs in base 10^9.
    let mut limbs = vec![
        mantissa % BASE,
        (mantissa / BASE) % BASE,
        mantissa / (BASE * BASE),
    ];
    let (factor, times, exp10) = if exp2 >= 0 {
        (2, exp2, 0)
    } else {
        (5, -exp2, exp2)
    };
    for _ in 0..times {
        let mut carry = 0;
        for l in &mut limbs {
            let v = *l * factor + carry;
            *l = v % BASE;
            carry = v / BASE;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    while limbs.len() > 1 && limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut s = limbs.last().map(u64::to_string).unwrap_or_default();
    for l in limbs.iter().rev().skip(1) {
        s.push_str(&format!("{l:09}"));
    }
    (s, exp10)
}

/// A decimal digit string plus one.
fn increment(d: &str) -> String {
    let mut b = d.as_bytes().to_vec();
    for c in b.iter_mut().rev() {
        if *c == b'9' {
            *c = b'0';
        } else {
            *c += 1;
            return String::from_utf8(b).unwrap_or_default();
        }
    }
    format!("1{}", String::from_utf8(b).unwrap_or_default())
}

/// A decimal digit string (at least 1) minus one, without leading zeros ("" for 1 - 1).
fn decrement(d: &str) -> String {
    let mut b = d.as_bytes().to_vec();
    for c in b.iter_mut().rev() {
        if *c == b'0' {
            *c = b'9';
        } else {
            *c -= 1;
            break;
        }
    }
    String::from_utf8(b)
        .unwrap_or_default()
        .trim_start_matches('0')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimals() {
        assert_eq!(exact_decimal(3, -1), ("15".into(), -1));
        assert_eq!(exact_decimal(5, 3), ("40".into(), 0));
        assert_eq!(exact_decimal(1, -1074).0.len(), 751);
        assert_eq!(increment("199"), "200");
        assert_eq!(increment("99"), "100");
        assert_eq!(decrement("100"), "99");
        assert_eq!(decrement("1"), "");
    }

    #[test]
    fn halfway_texts_are_where_they_claim() {
        // The midpoint of 1 and the next float up is 1 + 2^-53.
        let h = halfway_decimals(1.0);
        assert_eq!(
            h[0].0,
            "100000000000000011102230246251565404236316680908203125e-53"
        );
        // Std's parser is correctly rounded: it agrees with every expectation.
        for x in f64_cases(3, 300) {
            for (text, want) in halfway_decimals(x) {
                let got: f64 = text.parse().expect("valid decimal");
                assert_eq!(got.to_bits(), want.to_bits(), "{text}");
            }
        }
    }
}
