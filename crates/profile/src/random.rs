//! Random operand data, generated on the host with a seeded ChaCha8 generator (deterministic).
//!
//! Values are uniform in ±[1/64, 1]: never zero (zeros let tensor cores skip switching activity
//! and under-report power), never NaN or infinite, and small enough that fp32 accumulation over
//! k = 14336 stays far from overflow. The profiler fills a pattern of a few MiB and tiles it over
//! each device buffer with device-to-device copies.

use crate::grid::Dtype;
use rand::{RngExt, SeedableRng};

/// Rounds an f32 to bfloat16 bits (round to nearest, ties to even). NaN stays NaN.
pub fn bf16_from_f32(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) as u16) | 0x0040;
    }
    let round = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// bfloat16 bits to f32 (exact).
pub fn f32_from_bf16(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Decodes an fp8 e4m3 (`e4m3fn`: bias 7, no infinities, S.1111.111 is NaN) byte.
pub fn f32_from_e4m3(b: u8) -> f32 {
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((b >> 3) & 0x0F);
    let man = f32::from(b & 0x07);
    if exp == 0x0F && (b & 0x07) == 0x07 {
        return f32::NAN;
    }
    let mag = if exp == 0 { man / 8.0 * 2f32.powi(-6) } else { (1.0 + man / 8.0) * 2f32.powi(exp - 7) };
    sign * mag
}

/// Rounds an f32 to the nearest fp8 e4m3 value (saturating at ±448; ties to the even code).
pub fn e4m3_from_f32(x: f32) -> u8 {
    if x.is_nan() {
        return 0x7F;
    }
    let sign: u8 = if x.is_sign_negative() { 0x80 } else { 0 };
    let a = x.abs();
    // Positive codes 0x00..=0x7E are increasing in value; binary search the first code >= a.
    let (mut lo, mut hi) = (0u8, 0x7Eu8);
    if a >= f32_from_e4m3(hi) {
        return sign | hi;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if f32_from_e4m3(mid) < a {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    // lo is the first code with value >= a; compare with its predecessor.
    if lo == 0 {
        return sign;
    }
    let (up, down) = (f32_from_e4m3(lo) - a, a - f32_from_e4m3(lo - 1));
    let code = if down < up || (down == up && (lo - 1) % 2 == 0) { lo - 1 } else { lo };
    sign | code
}

/// A random pattern of `bytes` bytes (rounded down to whole elements) of `dtype` values.
pub fn pattern(dtype: Dtype, bytes: usize, seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let n = bytes / dtype.bytes();
    let mut out = Vec::with_capacity(n * dtype.bytes());
    for _ in 0..n {
        let mag: f32 = rng.random_range(1.0f32 / 64.0..=1.0);
        let x = if rng.random::<bool>() { -mag } else { mag };
        match dtype {
            Dtype::Bf16 => out.extend_from_slice(&bf16_from_f32(x).to_le_bytes()),
            Dtype::Fp8 => out.push(e4m3_from_f32(x)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounding_cases() {
        let cases: [(f32, u16); 6] = [
            (1.0, 0x3F80),
            (-2.0, 0xC000),
            (0.015625, 0x3C80),
            // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
            (1.0 + 1.0 / 256.0, 0x3F80),
            // Slightly above halfway rounds up.
            (1.0 + 1.0 / 256.0 + 1.0 / 65536.0, 0x3F81),
            (448.0, 0x43E0),
        ];
        for (x, bits) in cases {
            assert_eq!(bf16_from_f32(x), bits, "bf16({x})");
            assert_eq!(f32_from_bf16(bits), f32_from_bf16(bf16_from_f32(x)));
        }
    }

    #[test]
    fn e4m3_cases() {
        let cases: [(f32, u8); 8] = [
            (1.0, 0x38),
            (-1.0, 0xB8),
            (448.0, 0x7E),
            (1000.0, 0x7E),
            (0.015625, 0x08),
            // Smallest subnormal 2^-9.
            (0.001953125, 0x01),
            (1.0625, 0x38), // halfway between 1.0 (0x38) and 1.125 (0x39): ties to even code
            (0.0, 0x00),
        ];
        for (x, code) in cases {
            assert_eq!(e4m3_from_f32(x), code, "e4m3({x})");
        }
        // Every finite code decodes and re-encodes to itself.
        for code in 0u8..=0xFE {
            if code & 0x7F == 0x7F {
                assert!(f32_from_e4m3(code).is_nan());
                continue;
            }
            let v = f32_from_e4m3(code);
            if v == 0.0 {
                continue; // -0 and +0
            }
            assert_eq!(e4m3_from_f32(v), code, "round trip of code {code:#04x} = {v}");
        }
    }

    #[test]
    fn pattern_is_random_nonzero_finite_and_seeded() {
        for dtype in [Dtype::Bf16, Dtype::Fp8] {
            let p = pattern(dtype, 1 << 16, 7);
            assert_eq!(p.len(), 1 << 16);
            let values: Vec<f32> = match dtype {
                Dtype::Bf16 => p.chunks(2).map(|c| f32_from_bf16(u16::from_le_bytes([c[0], c[1]]))).collect(),
                Dtype::Fp8 => p.iter().map(|&b| f32_from_e4m3(b)).collect(),
            };
            assert!(values.iter().all(|v| v.is_finite() && *v != 0.0 && v.abs() <= 1.0), "{dtype:?}");
            let negative = values.iter().filter(|v| **v < 0.0).count() as f64 / values.len() as f64;
            assert!((0.45..0.55).contains(&negative), "{dtype:?}: {negative} negative");
            let distinct: std::collections::BTreeSet<u32> = values.iter().map(|v| v.to_bits()).collect();
            assert!(distinct.len() > 50, "{dtype:?}: only {} distinct values", distinct.len());
            assert_eq!(p, pattern(dtype, 1 << 16, 7), "same seed, same bytes");
            assert_ne!(p, pattern(dtype, 1 << 16, 8), "different seed, different bytes");
        }
    }
}
