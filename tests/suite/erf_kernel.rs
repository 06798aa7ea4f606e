//! `Float::erf_kernel`: the `f32` rational approximation behind the exact
//! GELU, measured against libm's `f64` `erf`, and the GELU built on it.

use tapeflow::{Float, GradientTape, Tensor};

/// Distance in units in the last place between two finite `f32` of the
/// same sign.
fn ulps(a: f32, b: f32) -> i64 {
    (i64::from(a.to_bits()) - i64::from(b.to_bits())).abs()
}

/// The error bounds `Float::erf_kernel` documents for `f32`.
const MAX_ULPS: i64 = 8;
const MAX_ABS: f64 = 4.8e-7;

#[test]
fn f32_erf_kernel_is_within_the_documented_bounds_over_every_input_in_its_range() {
    // Every f32 from 2^-14 up to 4.5 (135 million inputs). Below 2^-12 the
    // kernel is the single product 2/√π · x (erf(x) = 2/√π · x (1 - x²/3 +
    // …) with x²/3 under 2^-25), checked on a grid below; from 3.919206,
    // where erf rounds to 1 in f32, it is exactly 1.
    let (lo, hi) = (2f32.powi(-14).to_bits(), 4.5f32.to_bits());
    let mut worst_ulps = 0;
    let mut worst_abs = 0.0f64;
    let mut within_two = 0u64;
    for bits in lo..=hi {
        let x = f32::from_bits(bits);
        let exact = libm::erf(f64::from(x));
        let got = x.erf_kernel();
        let u = ulps(got, exact as f32);
        worst_ulps = worst_ulps.max(u);
        worst_abs = worst_abs.max((f64::from(got) - exact).abs());
        within_two += u64::from(u <= 2);
    }
    let share = within_two as f64 / f64::from(hi - lo + 1);
    assert!(worst_ulps <= MAX_ULPS, "worst error {worst_ulps} ulp");
    assert!(worst_abs <= MAX_ABS, "worst absolute error {worst_abs:e}");
    // Measured: 98.2 % within 2 ulp on this range (99.9 % over all f32).
    assert!(share >= 0.98, "only {share} of inputs within 2 ulp");
}

#[test]
fn f32_erf_kernel_below_2_pow_minus_14_and_beyond_4() {
    // Every 97th bit pattern below 2^-14, subnormals included: within 1 ulp.
    for bits in (0..2f32.powi(-14).to_bits()).step_by(97) {
        let x = f32::from_bits(bits);
        let want = libm::erf(f64::from(x)) as f32;
        assert!(ulps(x.erf_kernel(), want) <= 1, "erf({x:e})");
    }
    for x in [3.92f32, 4.0, 4.5, 10.0, 1e30, f32::MAX, f32::INFINITY] {
        assert_eq!(x.erf_kernel(), 1.0, "erf({x})");
        assert_eq!((-x).erf_kernel(), -1.0, "erf({})", -x);
    }
}

#[test]
fn f32_erf_kernel_is_odd_and_keeps_nan_and_signed_zero() {
    for bits in (0..0x7f80_0000u32).step_by(4099) {
        let x = f32::from_bits(bits);
        assert_eq!(
            (-x).erf_kernel().to_bits(),
            (-x.erf_kernel()).to_bits(),
            "{x}"
        );
    }
    assert!(f32::NAN.erf_kernel().is_nan());
    assert_eq!(0.0f32.erf_kernel().to_bits(), 0.0f32.to_bits());
    assert_eq!((-0.0f32).erf_kernel().to_bits(), (-0.0f32).to_bits());
}

#[test]
fn f64_erf_kernel_is_libm() {
    for x in [-6.0f64, -1.5, -1e-300, 0.0, 0.5, 1.0, 2.0, 3.7] {
        assert_eq!(x.erf_kernel().to_bits(), libm::erf(x).to_bits(), "{x}");
    }
}

#[test]
fn f32_gelu_and_its_gradient_agree_with_f64() {
    // 2,001 points on [-10, 10]: the f32 GELU on the fast erf against the
    // f64 GELU on libm's erf, value and derivative.
    let xs: Vec<f64> = (0..=2000).map(|i| -10.0 + f64::from(i) * 0.01).collect();
    let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
    let tape32 = GradientTape::<f32>::new();
    let a = tape32.watch(&Tensor::from_vec(x32, &[xs.len()]).unwrap());
    let y32 = a.gelu();
    let g32 = tape32.gradient(&y32.sum(), [a]).unwrap();
    let tape64 = GradientTape::<f64>::new();
    let b = tape64.watch(&Tensor::from_vec(xs.clone(), &[xs.len()]).unwrap());
    let y64 = b.gelu();
    let g64 = tape64.gradient(&y64.sum(), [b]).unwrap();
    let (v32, v64) = (y32.value().to_vec(), y64.value().to_vec());
    let (d32, d64) = (g32.get(a).unwrap().to_vec(), g64.get(b).unwrap().to_vec());
    for i in 0..xs.len() {
        // 0.5 · |x| · 4.8e-7 at most from the erf, plus f32 rounding.
        let tol = 2e-6 * (1.0 + v64[i].abs());
        assert!(
            (f64::from(v32[i]) - v64[i]).abs() <= tol,
            "gelu({}) = {} vs {}",
            xs[i],
            v32[i],
            v64[i]
        );
        assert!(
            (f64::from(d32[i]) - d64[i]).abs() <= 2e-6,
            "gelu'({}) = {} vs {}",
            xs[i],
            d32[i],
            d64[i]
        );
    }
}
