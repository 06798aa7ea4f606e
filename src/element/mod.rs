//! [`Float`], the one element trait (implemented for `f32` and `f64`), the
//! GEMM dispatch behind every matrix product, and the thread setting.
//!
//! This module owns the only `unsafe` block of the crate: the call into the
//! [`gemm`] crate, whose API takes raw pointers and strides. We pay for that
//! because a strided GEMM lets the backward pass multiply by transposed
//! operands without copying them, and because `gemm` reaches the FLOP/s of
//! PyTorch's BLAS on one core (figures in `docs/performance.md`).

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The element type of a [`Tensor`](crate::Tensor): `f32` (the default) or `f64`.
///
/// It extends [`num_traits::Float`] with the few things tapeflow needs:
/// lossless-enough conversion to and from `f64` (for constants written in
/// formulas), a name for files and messages, and the error function used by
/// the exact GELU.
///
/// # Examples
///
/// ```
/// use tapeflow::Float;
///
/// fn half<T: Float>(x: T) -> T {
///     x * T::from_f64(0.5)
/// }
/// assert_eq!(half(3.0f32), 1.5);
/// assert_eq!(half(3.0f64), 1.5);
/// assert_eq!(<f32 as Float>::NAME, "f32");
/// ```
pub trait Float:
    num_traits::Float
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// The type's name as written in Rust and in saved files: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts an `f64` constant to this type (rounding to nearest for `f32`).
    fn from_f64(x: f64) -> Self;

    /// Widens (or copies) this value to `f64`.
    fn to_f64(self) -> f64;

    /// Converts a count or an index to this type (exact below 2^24 for `f32`).
    fn from_usize(n: usize) -> Self;

    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`.
    fn erf(self) -> Self;

    /// The hyperbolic tangent of the `tanh` activation and
    /// [`Tensor::tanh`](crate::Tensor::tanh).
    ///
    /// For `f64` it is `f64::tanh`. For `f32` it is a branch-free rational
    /// approximation (Eigen's `generic_fast_tanh_float`: an odd degree-13
    /// numerator over an even degree-6 denominator on `[-7.9053, 7.9053]`,
    /// `x` itself below `|x| < 0.0004`, clamped to `[-1, 1]`) that the
    /// compiler vectorizes; checked over every third `f32` bit pattern it
    /// is at most 8 ulp from the correctly rounded `tanh` (97 % exact, 99.9 %
    /// within 2 ulp; `f32::tanh` is within 2). It is plain arithmetic, so it
    /// gives the same bits on every machine, every instruction set and every
    /// thread count. NaN gives NaN, ±∞ gives ±1, and `tanh(-0) = -0`.
    ///
    /// The default is [`num_traits::Float::tanh`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Float;
    ///
    /// assert_eq!(Float::tanh_kernel(0.0f32), 0.0);
    /// assert_eq!(Float::tanh_kernel(-1000.0f32), -1.0);
    /// assert!((Float::tanh_kernel(0.5f32) - 0.5f32.tanh()).abs() <= 1e-7);
    /// assert_eq!(Float::tanh_kernel(0.5f64), 0.5f64.tanh());
    /// ```
    #[inline]
    fn tanh_kernel(self) -> Self {
        num_traits::Float::tanh(self)
    }

    /// The error function of the exact GELU's forward and backward
    /// ([`Var::gelu`](crate::Var::gelu)).
    ///
    /// For `f64` it is [`Float::erf`] (libm's `erf`). For `f32` it is a
    /// branch-free rational approximation that the compiler vectorizes:
    /// Eigen's `generic_fast_erf_float`, also XLA's `ErfImpl32`, an odd
    /// degree-13 numerator over an even degree-8 denominator on `[-4, 4]`,
    /// evaluated as `x · (p(x²) / q(x²))`; below `|x| < 2^-12` it is
    /// `2/√π · x` and from `|x| ≥ 3.919206` (the first `f32` whose `erf`
    /// rounds to 1) exactly `±1`. Measured against libm's `f64` `erf` over
    /// every positive finite `f32` (the function is odd by construction):
    /// at most 4.8e-7 from the exact value (4.74e-7 at `x = 3.203`) and at
    /// most 8 ulp from the correctly rounded `f32` (at `x = 2.863`); 67.6 %
    /// of inputs exact, 98.9 % within 1 ulp, 99.9 % within 2 ulp (libm's
    /// `erff` is within 1 ulp). `tests/suite/erf_kernel.rs` checks these
    /// bounds on every `f32` in `[2^-14, 4.5]`. It is plain arithmetic, so
    /// it gives the same bits on every machine, instruction set and thread
    /// count. NaN gives NaN, ±∞ gives ±1, and `erf(-0) = -0`.
    ///
    /// The default is [`Float::erf`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Float;
    ///
    /// assert_eq!(Float::erf_kernel(0.0f32), 0.0);
    /// assert_eq!(Float::erf_kernel(-9.0f32), -1.0);
    /// assert!((Float::erf_kernel(0.5f32) - 0.520_499_9).abs() <= 1e-7);
    /// assert_eq!(Float::erf_kernel(0.5f64), Float::erf(0.5f64));
    /// ```
    #[inline]
    fn erf_kernel(self) -> Self {
        Float::erf(self)
    }
}

/// `f32` tanh as [`Float::tanh_kernel`] documents it.
#[inline]
fn tanh_f32(a: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    const TINY: f32 = 0.0004;
    // `clamp`, not `min`/`max`: NaN passes through.
    let x = a.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2 * -2.760_768_5e-16 + 2.000_188e-13;
    p = x2 * p + -8.604_672e-11;
    p = x2 * p + 5.122_297e-8;
    p = x2 * p + 1.485_722_4e-5;
    p = x2 * p + 6.372_619_3e-4;
    p = x2 * p + 4.893_524_6e-3;
    p *= x;
    let mut q = x2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    q = x2 * q + 2.268_434_6e-3;
    q = x2 * q + 4.893_525e-3;
    let r = p / q;
    let r = r.clamp(-1.0, 1.0);
    if a.abs() < TINY { a } else { r }
}

impl Float for f32 {
    const NAME: &'static str = "f32";
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline]
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline]
    fn tanh_kernel(self) -> Self {
        tanh_f32(self)
    }
    #[inline(always)]
    fn erf_kernel(self) -> Self {
        // Eigen's `generic_fast_erf_float` coefficients (see the trait).
        // `clamp`, not `min`/`max`: NaN passes through.
        let x = self.clamp(-4.0, 4.0);
        let x2 = x * x;
        let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
        p = x2 * p + -2.101_024e-6;
        p = x2 * p + -5.692_506_4e-5;
        p = x2 * p + -7.349_906_3e-4;
        p = x2 * p + -2.954_6e-3;
        p = x2 * p + -1.609_603_3e-2;
        let mut q = x2 * -1.456_607_15e-5 + -2.133_740_5e-4;
        q = x2 * q + -1.682_827e-3;
        q = x2 * q + -7.373_329_3e-3;
        q = x2 * q + -1.426_473_9e-2;
        // `x · (p / q)`, not Eigen's `(x · p) / q`, which loses digits for
        // tiny `x`; below 2^-12, `2/√π · x` (the next term, `x³/3`, is
        // under 2^-25 of it); from 3.919206, the first `f32` whose `erf`
        // rounds to 1, exactly ±1. The selects compile to blends.
        let r = x * (p / q);
        let r = if self.abs() < 1.0 / 4096.0 {
            self * std::f32::consts::FRAC_2_SQRT_PI
        } else {
            r
        };
        if self.abs() >= 3.919_206 {
            1f32.copysign(self)
        } else {
            r
        }
    }
}

impl Float for f64 {
    const NAME: &'static str = "f64";
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[inline]
    fn erf_kernel(self) -> Self {
        libm::erf(self)
    }
}

mod pool;
pub use pool::in_pool;
mod split;
pub(crate) use split::{Split, par_split, split_threads};
mod wide;
pub(crate) use wide::{dispatch, map_wide, zip3_wide};

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// The number of cores the process may use, as
/// [`std::thread::available_parallelism`] reports it (1 when unknown).
/// Asked once: on Linux the answer reads the cgroup files, which allocates
/// and costs system calls, and every product and split pass asks.
fn available_threads() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Sets how many threads tapeflow's kernels may use: matrix products, the
/// optimizers' update and the elementwise tensor ops on large tensors
/// (16,384 elements and up inside [`in_pool`], 2^21 outside it).
///
/// `0` restores the default: the number of cores reported by
/// [`std::thread::available_parallelism`]. A larger request is clamped to
/// that number, so `num_threads()` may report less than was asked: threads
/// beyond the cores only add switching, and an unbounded count would make
/// the product's work split never finish. The setting is process-wide, like
/// `torch.set_num_threads`; it changes speed only, never results, because
/// products are split over output blocks, not over the summed dimension
/// (every element is the same sum in the same order whatever the count),
/// and elementwise passes in pieces of 8,192 elements whose bounds do not
/// depend on the count (each element is computed alone).
///
/// # Examples
///
/// ```
/// tapeflow::set_num_threads(1);
/// assert_eq!(tapeflow::num_threads(), 1);
/// tapeflow::set_num_threads(usize::MAX); // clamped to the cores
/// assert_eq!(
///     tapeflow::num_threads(),
///     std::thread::available_parallelism().map_or(1, |n| n.get())
/// );
/// tapeflow::set_num_threads(0);
/// assert!(tapeflow::num_threads() >= 1);
/// ```
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.min(available_threads()), Ordering::Relaxed);
}

/// The number of threads tapeflow's kernels may use; see [`set_num_threads`].
///
/// # Examples
///
/// ```
/// assert!(tapeflow::num_threads() >= 1);
/// ```
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => available_threads(),
        n => n,
    }
}

/// Below this many multiply-adds (`m·k·n`), a product called from outside
/// the pool runs on the calling thread. Handing work to the pool and back
/// costs at least two thread wake-ups, ~20 µs each (the figure behind
/// issue 11). 2^24 multiply-adds take ~0.34 ms on one core at ~100 GFLOP/s
/// (docs/performance.md), so a second thread saves ~0.17 ms on them and the
/// hand-over eats about a quarter of that; below, it would eat more. An
/// estimate from those two figures, to be re-measured on a quiet machine.
/// Inside the pool ([`in_pool`]) the hand-over is cheap and `gemm`'s own,
/// lower threshold decides.
const OUTSIDE_POOL_MIN_WORK: usize = 1 << 24;

/// Whether a product of `work` multiply-adds, called here, should first
/// enter the pool ([`in_pool`]): it will be split ([`OUTSIDE_POOL_MIN_WORK`])
/// and the calling thread is not a pool thread. Entering once for the whole
/// product lets its zero-fill and its GEMM's splits share the pool without
/// further hand-overs.
pub(crate) fn product_enters_pool(work: usize) -> bool {
    work >= OUTSIDE_POOL_MIN_WORK && rayon::current_thread_index().is_none() && num_threads() > 1
}

/// The parallelism for a product of `work` multiply-adds.
fn parallelism(work: usize) -> gemm::Parallelism {
    let threads = num_threads();
    let worth_it = work >= OUTSIDE_POOL_MIN_WORK || rayon::current_thread_index().is_some();
    if threads > 1 && worth_it {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// A read-only strided matrix: `rows × cols`, element `(i, j)` at
/// `data[i * row_stride + j * col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct MatRef<'a, T> {
    pub data: &'a [T],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<T> MatRef<'_, T> {
    /// One past the largest index the matrix touches (0 when empty).
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
        }
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` when `accumulate`), with `dst`
/// row-major and contiguous, `[m, n]`.
///
/// Bounds are checked before the call, so the `unsafe` block cannot read or
/// write outside the slices.
///
/// # Panics
///
/// If the shapes do not chain or a slice is too short; callers check shapes
/// and return an [`Error`](crate::Error) first, so this is an invariant.
pub(crate) fn gemm<T: Float>(
    dst: &mut [T],
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "invariant: gemm inner dimensions agree");
    assert!(dst.len() >= m * n, "invariant: gemm destination holds m*n");
    assert!(
        lhs.extent() <= lhs.data.len(),
        "invariant: gemm lhs in bounds"
    );
    assert!(
        rhs.extent() <= rhs.data.len(),
        "invariant: gemm rhs in bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::zero());
        }
        return;
    }
    let parallelism = parallelism(m.saturating_mul(k).saturating_mul(n));
    let (alpha, beta) = (if accumulate { T::one() } else { T::zero() }, T::one());
    let mut run = move || {
        #[allow(unsafe_code)]
        // SAFETY: the asserts above check that every index gemm computes from
        // (rows, cols, strides) lies inside the three slices; `dst` is borrowed
        // mutably and cannot alias `lhs` or `rhs`. All strides fit in isize
        // because they index existing allocations.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                accumulate,
                lhs.data.as_ptr(),
                lhs.col_stride as isize,
                lhs.row_stride as isize,
                rhs.data.as_ptr(),
                rhs.col_stride as isize,
                rhs.row_stride as isize,
                alpha,
                beta,
                false,
                false,
                false,
                parallelism,
            );
        }
    };
    match parallelism {
        // A split product called from outside the pool enters it once for
        // the whole product: `gemm` splits each k-block twice (packing,
        // then the kernels), and each split from outside hands the work to
        // the pool and back (two wake-ups); inside, the caller's pool
        // thread runs one part itself. Same arithmetic, same bits.
        gemm::Parallelism::Rayon(_) if rayon::current_thread_index().is_none() => {
            rayon::scope(|_| run());
        }
        _ => run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_tanh_is_within_8_ulp_odd_and_saturates_exactly() {
        // Every 4099th bit pattern of the positive finite floats (the
        // documented bound comes from every third one).
        let ulps = |a: f32, b: f32| (i64::from(a.to_bits()) - i64::from(b.to_bits())).abs();
        let mut worst = 0;
        for bits in (0..0x7f80_0000u32).step_by(4099) {
            let x = f32::from_bits(bits);
            let want = (f64::from(x)).tanh() as f32;
            let got = tanh_f32(x);
            worst = worst.max(ulps(got, want));
            assert_eq!(tanh_f32(-x).to_bits(), (-got).to_bits(), "odd at {x}");
        }
        assert!(worst <= 8, "worst error {worst} ulp");
        assert_eq!(tanh_f32(9.0), 1.0);
        assert_eq!(tanh_f32(-1000.0), -1.0);
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(Float::tanh_kernel(0.3f64), 0.3f64.tanh());
    }

    #[test]
    fn erf_matches_reference_values() {
        // Reference values from Abramowitz & Stegun table 7.1 / scipy.special.erf.
        let cases: [(f64, f64); 6] = [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (-1.5, -0.966_105_146_475_310_7),
            (6.0, 1.0),
        ];
        for (x, want) in cases {
            let got: f64 = Float::erf(x);
            assert!((got - want).abs() < 1e-14, "erf({x}) = {got}, want {want}");
            let got32: f32 = Float::erf(x as f32);
            assert!(
                (f64::from(got32) - want).abs() < 1e-6,
                "erff({x}) = {got32}"
            );
        }
    }

    #[test]
    fn gemm_strided_matches_naive() {
        // lhs is [2, 3] stored transposed (as [3, 2] row-major).
        let lhs_t = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0];
        let rhs = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
        let mut dst = [0.0f64; 4];
        let lhs = MatRef {
            data: &lhs_t,
            rows: 2,
            cols: 3,
            row_stride: 1,
            col_stride: 2,
        };
        let rhs = MatRef {
            data: &rhs,
            rows: 3,
            cols: 2,
            row_stride: 2,
            col_stride: 1,
        };
        gemm(&mut dst, lhs, rhs, false);
        // [[1,2,3],[4,5,6]] · [[1,0],[0,1],[1,1]] = [[4,5],[10,11]]
        assert_eq!(dst, [4.0, 5.0, 10.0, 11.0]);
        gemm(&mut dst, lhs, rhs, true);
        assert_eq!(dst, [8.0, 10.0, 20.0, 22.0]);
    }
}
