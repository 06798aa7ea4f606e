//! Elementwise passes compiled for the widest instruction set the CPU has.
//!
//! The crate is compiled for baseline x86-64 (SSE2), so the compiler
//! vectorizes a map such as the `f32` `tanh` kernel 4 lanes wide. These
//! passes compile the same loop a second and third time for AVX2 and
//! AVX-512 through `pulp` (whose `Simd::vectorize` enables the instruction
//! set for the code inlined into it) and pick the widest at run time, as
//! the optimizers' update does. Each element is computed alone by the
//! scalar formula's operations in the same order; Rust never contracts a
//! multiply and an add into a fused multiply-add, and vector add,
//! subtract, multiply, divide, minimum and maximum round as their scalar
//! forms, so the bits do not depend on the instruction set
//! (tested below against the element-by-element loop).

use pulp::WithSimd;

use super::Float;

/// `dst[i] = f(src[i])`.
struct Map<'a, T, F> {
    src: &'a [T],
    dst: &'a mut [T],
    f: F,
}

impl<T: Float, F: Fn(T) -> T> WithSimd for Map<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<V: pulp::Simd>(self, _simd: V) {
        for (d, &x) in self.dst.iter_mut().zip(self.src) {
            *d = (self.f)(x);
        }
    }
}

/// `acc[i] = f(acc[i], a[i], b[i])`.
struct Zip3<'a, T, F> {
    acc: &'a mut [T],
    a: &'a [T],
    b: &'a [T],
    f: F,
}

impl<T: Float, F: Fn(T, T, T) -> T> WithSimd for Zip3<'_, T, F> {
    type Output = ();
    #[inline(always)]
    fn with_simd<V: pulp::Simd>(self, _simd: V) {
        for (g, (&x, &y)) in self.acc.iter_mut().zip(self.a.iter().zip(self.b)) {
            *g = (self.f)(*g, x, y);
        }
    }
}

/// Runs `op` compiled for the widest instruction set the CPU has (AVX-512,
/// AVX2, else baseline): the one place the crate picks it (the optimizers'
/// passes, [`tensor::simd::widest`](crate::tensor) and the passes here).
#[inline(always)]
pub(crate) fn dispatch<Op: WithSimd>(op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    {
        // The trait's `vectorize` (a `WithSimd`), not the types' own.
        use pulp::Simd;
        if let Some(simd) = pulp::x86::V4::try_new() {
            return Simd::vectorize(simd, op);
        }
        if let Some(simd) = pulp::x86::V3::try_new() {
            return Simd::vectorize(simd, op);
        }
    }
    op.with_simd(pulp::Scalar::new())
}

/// `dst[i] = f(src[i])` for `i` below the shorter length, on this thread,
/// compiled for the widest instruction set the CPU has.
pub(crate) fn map_wide<T: Float>(src: &[T], dst: &mut [T], f: impl Fn(T) -> T) {
    dispatch(Map { src, dst, f });
}

/// `acc[i] = f(acc[i], a[i], b[i])` for `i` below the shortest length, on
/// this thread, compiled for the widest instruction set the CPU has (the
/// backward rule of a unary op: `g · d(x, y)` written into `g`).
pub(crate) fn zip3_wide<T: Float>(acc: &mut [T], a: &[T], b: &[T], f: impl Fn(T, T, T) -> T) {
    dispatch(Zip3 { acc, a, b, f });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs across the `tanh` kernel's branches: tiny, the rational
    /// range, the clamp, infinities, NaN and signed zeros; an odd length
    /// so the vector loops' remainders run too.
    fn inputs() -> Vec<f32> {
        let mut v: Vec<f32> = (0..1001).map(|i| (i as f32 - 500.0) * 0.0197).collect();
        v.extend([
            0.0,
            -0.0,
            1e-5,
            -3e-4,
            7.9,
            -8.0,
            1e6,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ]);
        v
    }

    #[test]
    fn map_wide_gives_the_scalar_bits() {
        let src = inputs();
        let mut dst = vec![0.0f32; src.len()];
        map_wide(&src, &mut dst, |x| x.tanh_kernel());
        for (&x, &y) in src.iter().zip(&dst) {
            let want = x.tanh_kernel();
            assert!(
                y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                "tanh at {x}"
            );
        }
        map_wide(&src, &mut dst, |x| (x * 0.5 + 1.0) / (x * x + 2.0));
        for (&x, &y) in src.iter().zip(&dst) {
            let want = (x * 0.5 + 1.0) / (x * x + 2.0);
            assert!(
                y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                "at {x}"
            );
        }
    }

    #[test]
    fn zip3_wide_gives_the_scalar_bits() {
        let x = inputs();
        let y: Vec<f32> = x.iter().map(|v| v.tanh_kernel()).collect();
        let g: Vec<f32> = x.iter().map(|v| 0.3 - v * 0.01).collect();
        let mut acc = g.clone();
        zip3_wide(&mut acc, &x, &y, |g, _, y| g * (1.0 - y * y));
        for ((&a, &g), &y) in acc.iter().zip(&g).zip(&y) {
            let want = g * (1.0 - y * y);
            assert!(a.to_bits() == want.to_bits() || (a.is_nan() && want.is_nan()));
        }
    }
}
