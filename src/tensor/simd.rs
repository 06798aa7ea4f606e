//! Run-time choice of the instruction set for the crate's own loops.
//!
//! The crate is compiled for baseline x86-64 (SSE2: four `f32` a
//! register). [`widest`] runs a closure compiled a second and third time
//! for AVX2 and AVX-512 (through `pulp`, whose `Simd::vectorize` enables
//! the instruction set for the code inlined into it, as the optimizer
//! kernels do) and picks the widest the CPU has. Rust never contracts a
//! multiply and an add into a fused multiply-add, and vector add, subtract,
//! multiply, divide, square root, minimum and maximum round exactly as
//! their scalar forms, so a loop gives the same bits whichever instruction
//! set runs it; only its speed changes.
//!
//! The closure's loops must be inlined into it for the wider instructions
//! to reach them: mark the closure `#[inline(always)]` (and any helper it
//! calls); a call that is not inlined runs baseline code. Without the
//! mark, LLVM left the larger closures (GELU's gradient loop) out of line.

/// Runs `f` compiled for the widest instruction set the CPU has (AVX-512,
/// AVX2, else baseline). The result is the same bits whichever runs.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    // A closure is a `pulp::WithSimd`.
    crate::element::dispatch(f)
}

/// An input slice and an output slice of the same length, split together
/// at the same element (an elementwise pass for [`par_split`](crate::element::par_split)).
pub(crate) struct MapPair<'a, T> {
    /// The input.
    pub src: &'a [T],
    /// The output, element `i` computed from `src[i]`.
    pub dst: &'a mut [T],
}

impl<T: Send + Sync> crate::element::Split for MapPair<'_, T> {
    fn len(&self) -> usize {
        self.dst.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let (a, b) = self.src.split_at(at);
        let (c, d) = self.dst.split_at_mut(at);
        (MapPair { src: a, dst: c }, MapPair { src: b, dst: d })
    }
}

/// Elements a lane accumulator holds: eight partial sums, one AVX2
/// register of `f32`.
const LANES: usize = 8;

/// `Σ f(aᵢ)` in eight interleaved partial sums (element `i` into sum
/// `i mod 8`) added pairwise at the end: a fixed order, so the same bits
/// on every instruction set, and a loop the compiler vectorizes.
#[inline(always)]
pub(crate) fn lane_sum<T: crate::element::Float>(a: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let chunks = a.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s += f(v);
        }
    }
    for (s, &v) in acc.iter_mut().zip(tail) {
        *s += f(v);
    }
    pairwise(acc)
}

/// `Σ aᵢ bᵢ` in the lanes of [`lane_sum`].
#[inline(always)]
pub(crate) fn lane_dot<T: crate::element::Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((s, &u), &v) in acc.iter_mut().zip(x).zip(y) {
            *s += u * v;
        }
    }
    for ((s, &u), &v) in acc.iter_mut().zip(ta).zip(tb) {
        *s += u * v;
    }
    pairwise(acc)
}

/// `max f(aᵢ)` (NaN ignored, as `Float::max`; `-∞` for an empty slice) in
/// eight lanes. Maximum is exact, so the result is that of a sequential
/// fold, signs of zero aside.
#[inline(always)]
pub(crate) fn lane_max<T: crate::element::Float>(a: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::neg_infinity(); LANES];
    let chunks = a.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (s, &v) in acc.iter_mut().zip(c) {
            *s = s.max(f(v));
        }
    }
    for (s, &v) in acc.iter_mut().zip(tail) {
        *s = s.max(f(v));
    }
    acc.into_iter().fold(T::neg_infinity(), T::max)
}

#[inline(always)]
fn pairwise<T: crate::element::Float>(acc: [T; LANES]) -> T {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widest_gives_the_bits_of_the_baseline_loop() {
        // A loop with divisions, square roots and a lane sum: the dispatched
        // run must match the same closure run on baseline code.
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let run = |xs: &[f32]| {
            let ys: Vec<f32> = xs
                .iter()
                .map(|&x| (x * x + 1.0).sqrt() / (x + 7.0))
                .collect();
            (ys.clone(), lane_sum(&ys, |v| v * 0.5), lane_dot(&ys, xs))
        };
        let wide = widest(|| run(&xs));
        let base = run(&xs);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&wide.0), bits(&base.0));
        assert_eq!(wide.1.to_bits(), base.1.to_bits());
        assert_eq!(wide.2.to_bits(), base.2.to_bits());
    }

    #[test]
    fn lane_reductions_match_their_formulas() {
        let a: Vec<f64> = (0..19).map(|i| i as f64 - 4.5).collect();
        let b: Vec<f64> = (0..19).map(|i| 0.25 * i as f64).collect();
        let sum: f64 = a.iter().map(|v| v * 2.0).sum();
        let dot: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert_eq!(lane_sum(&a, |v| v * 2.0), sum);
        assert_eq!(lane_dot(&a, &b), dot);
        assert_eq!(lane_max(&a, |v| -v), 4.5);
        assert_eq!(lane_max(&[] as &[f64], |v| v), f64::NEG_INFINITY);
        assert_eq!(lane_max(&[1.0, f64::NAN, 3.0], |v| v), 3.0);
    }
}
