//! `eᵗ` for `t ≤ 0` as plain arithmetic the compiler vectorizes, for the
//! loops whose exponent is never positive: softmax after its maximum is
//! subtracted, and the Gaussian `e^(-x²/2)` of GELU's gradient. libm's
//! `expf` is a call, which keeps every loop around it scalar.

use crate::element::Float;

/// `eᵗ` for `t ≤ 0`: for `f32` [`exp_nonpositive_f32`] (the `TypeId` test
/// is decided at compile time), for `f64` libm's `exp`, so `f64` results
/// are unchanged.
#[inline(always)]
pub(crate) fn exp_nonpositive<T: Float>(t: T) -> T {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() {
        // For f32, `to_f64` then `as f32`, and `f64::from` then `from_f64`,
        // are exact round trips, which the compiler removes.
        T::from_f64(f64::from(exp_nonpositive_f32(t.to_f64() as f32)))
    } else {
        t.exp()
    }
}

/// `eᵗ` for `t ≤ 0` in `f32`: `t = n ln 2 + r` with `n` rounded to nearest
/// by the `1.5 · 2²³` trick and `ln 2` split in two (Cody and Waite),
/// Cephes's degree-6 `expf` polynomial for `eʳ` on `|r| ≤ ln 2 / 2`, and
/// `2ⁿ` built from its exponent bits. Within 2 ulp of the correctly
/// rounded `eᵗ` on `[-87, 0]` (tested below); 0 below -87, where `eᵗ` is
/// under `2^-125`; positive `t` is taken as 0. NaN gives NaN.
#[inline(always)]
pub(crate) fn exp_nonpositive_f32(t: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³
    let c = t.clamp(-87.0, 0.0); // `clamp` lets NaN through
    let shifted = c * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    // The integer n sits in the low mantissa bits of `shifted`.
    let k = (shifted.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    let r = c - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4 * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let e = p * (r * r) + r + 1.0;
    let scale = f32::from_bits((k.wrapping_add(127) as u32) << 23);
    if t < -87.0 { 0.0 } else { e * scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_f32_is_within_2_ulp() {
        // Every 61st bit pattern of [-87, 0] (about 17 million inputs)
        // against the correctly rounded f64 exp.
        let mut worst = 0;
        for bits in (0..=87.0f32.to_bits()).step_by(61) {
            let t = -f32::from_bits(bits);
            let want = f64::from(t).exp() as f32;
            let got = exp_nonpositive_f32(t);
            worst = worst.max((i64::from(got.to_bits()) - i64::from(want.to_bits())).abs());
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive_f32(0.0), 1.0);
        assert_eq!(exp_nonpositive_f32(-88.0), 0.0);
        assert_eq!(exp_nonpositive_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive_f32(f32::NAN).is_nan());
        assert_eq!(exp_nonpositive(-1.5f64), (-1.5f64).exp());
        assert_eq!(exp_nonpositive(-1.5f32), exp_nonpositive_f32(-1.5));
    }
}
