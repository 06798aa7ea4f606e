//! The optimizers' fused update kernels, and the two passes over them that
//! make a step all or nothing without copying a parameter or its state.
//!
//! Each optimizer gives its update of one element as a [`Kernel`]: the new
//! parameter value from the old one and the (clipped) gradient, updating
//! its state slots in place. A step runs the kernel twice over each
//! parameter's contiguous slices:
//!
//! 1. the check pass ([`check`]) computes every new value and slot but
//!    stores none; it only accumulates, without branches, whether one of
//!    them or of the gradients is not finite (`x - x` is 0 for a finite
//!    `x` and NaN otherwise);
//! 2. once every parameter of the step has passed, the write pass
//!    ([`write`]) computes them again and stores them in place.
//!
//! A kernel may also give a proof ([`Kernel::proof`], Adam's and AdamW's):
//! a condition without the update's divisions and square root under which
//! every value it writes is finite. The check pass then runs the proof
//! first and the full check only for a parameter where the proof fails,
//! so its verdict is the full check's; where the proof holds (every
//! ordinary step), the pass costs about the reading of its slices.
//!
//! A refused step therefore changes nothing, and an accepted one allocates
//! nothing and copies nothing. (The alternative, writing at once and
//! keeping the old values to undo a refused step, copies every parameter
//! and slot on every step; computing twice costs arithmetic only, which the
//! vector units make cheap: docs/performance.md.)
//!
//! Both passes go through the slices in blocks of [`LANES`] elements that
//! the compiler vectorizes. [`dispatch`] (the crate's one run-time choice of
//! instruction set) compiles them a second and third
//! time for AVX2 and AVX-512 (through `pulp`, whose `Simd::vectorize`
//! enables the instruction set for the code inlined into it) and picks the
//! widest the CPU has at run time; the crate itself is compiled for
//! baseline x86-64. Each lane does exactly the scalar formula's operations
//! in the same order, Rust never contracts a multiply and an add into a
//! fused multiply-add, and vector add, subtract, multiply, divide, square
//! root, minimum and maximum round exactly as their scalar forms, so the
//! results are bit for bit those of the element-by-element loop whatever
//! the instruction set (tested below against the formulas as written
//! before this module existed).
//!
//! A parameter of 16,384 elements or more is updated by the pool's threads
//! when the step runs inside the pool ([`in_pool`](crate::in_pool)), in
//! pieces of 8,192 elements ([`par_split`]); each element's update is its
//! own and the check's verdicts are ANDed, so the bits and the verdict do
//! not depend on the thread count (`tests/suite/split_threads.rs`).

use pulp::WithSimd;

use crate::element::{Float, Split, par_split};

/// Elements per block: one AVX-512 register of `f32`, two of `f64`.
pub(crate) const LANES: usize = 16;

/// An optimizer's update of one element, with `S` state slots.
pub(crate) trait Kernel<T: Float, const S: usize>: Copy + Send + Sync {
    /// The new value of parameter element `p` whose gradient (already
    /// clipped) is `g`; updates the element's state `s` in place.
    fn step(&self, p: T, g: T, s: &mut [T; S]) -> T;

    /// Whether the kernel gives a [`proof`](Kernel::proof); the check
    /// pass then runs it first and the full check only where it fails.
    const PROVES: bool = false;

    /// A sufficient condition, cheaper than [`step`](Kernel::step) (no
    /// division, no square root), for every value `step(p, g, s)` writes
    /// being finite: `0` when it holds, negative or NaN when it does not
    /// (never positive, so a sum over elements is 0 exactly when it holds
    /// for all). Kernels without one (`PROVES = false`) are never asked.
    #[inline(always)]
    fn proof(&self, _p: T, _g: T, _s: &[T; S]) -> T {
        T::nan()
    }
}

/// How a raw gradient element becomes the one the update uses:
/// `(g · scale)` clamped to `[lo, hi]`. Without clipping `scale = 1`,
/// `lo = -∞`, `hi = ∞`, which leave every finite `g` (and its sign of
/// zero) bit for bit as it was, so one form serves every kind of clipping.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Prep<T> {
    pub(crate) scale: T,
    pub(crate) lo: T,
    pub(crate) hi: T,
}

/// A map from the raw gradient element to the one the update uses.
pub(crate) trait GradMap<T>: Copy + Send + Sync {
    fn apply(&self, g: T) -> T;
}

/// The gradient as it is: what [`Prep::identity`] does to every finite
/// gradient element, without its three operations per element. (A
/// non-finite `g` is refused by the check pass either way.)
#[derive(Clone, Copy, Debug)]
struct Raw;

impl<T: Float> GradMap<T> for Raw {
    #[inline(always)]
    fn apply(&self, g: T) -> T {
        g
    }
}

impl<T: Float> GradMap<T> for Prep<T> {
    #[inline(always)]
    fn apply(&self, g: T) -> T {
        (g * self.scale).max(self.lo).min(self.hi)
    }
}

impl<T: Float> Prep<T> {
    fn is_identity(&self) -> bool {
        self.scale == T::one() && self.lo == T::neg_infinity() && self.hi == T::infinity()
    }

    /// No clipping.
    pub(crate) fn identity() -> Self {
        Prep {
            scale: T::one(),
            lo: T::neg_infinity(),
            hi: T::infinity(),
        }
    }
}

/// 0 if `x` is finite, NaN otherwise.
#[inline(always)]
#[allow(clippy::eq_op)] // `x - x` is the test itself
pub(crate) fn nan_unless_finite<T: Float>(x: T) -> T {
    x - x
}

/// One element of the check pass: the sum of `nan_unless_finite` over the
/// gradient, the new value and the new slots.
#[inline(always)]
fn check_one<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    k: &K,
    prep: &M,
    p: T,
    g: T,
    mut s: [T; S],
) -> T {
    let new = k.step(p, prep.apply(g), &mut s);
    let mut z = nan_unless_finite(g) + nan_unless_finite(new);
    for v in s {
        z += nan_unless_finite(v);
    }
    z
}

/// One element of the proof: the gradient's finiteness and the kernel's
/// [`proof`](Kernel::proof), 0 when both hold.
#[inline(always)]
fn prove_one<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    k: &K,
    prep: &M,
    p: T,
    g: T,
    s: [T; S],
) -> T {
    nan_unless_finite(g) + k.proof(p, prep.apply(g), &s)
}

/// The check pass over one parameter: whether `one` (an element's sum of
/// 0, negative or NaN terms: [`check_one`] or [`prove_one`]) is 0 for
/// every element.
#[inline(always)]
fn check_loop<T: Float, const S: usize>(
    one: impl Fn(T, T, [T; S]) -> T,
    p: &[T],
    g: &[T],
    s: [&[T]; S],
) -> bool {
    let n = p.len();
    // invariant: the caller passes a gradient and slots as long as `p`
    let g = &g[..n];
    let s = s.map(|x| &x[..n]);
    let mut acc = [T::zero(); LANES];
    let whole = n - n % LANES;
    for (c, (pc, gc)) in p[..whole]
        .chunks_exact(LANES)
        .zip(g[..whole].chunks_exact(LANES))
        .enumerate()
    {
        let at = c * LANES;
        let sc: [&[T]; S] = s.map(|x| &x[at..at + LANES]);
        for j in 0..LANES {
            let e = std::array::from_fn(|i| sc[i][j]);
            acc[j] += one(pc[j], gc[j], e);
        }
    }
    let mut tail = T::zero();
    for i in whole..n {
        tail += one(p[i], g[i], s.map(|x| x[i]));
    }
    acc.iter().all(|a| *a == T::zero()) && tail == T::zero()
}

/// The write pass over one parameter: stores every new value and slot.
#[inline(always)]
fn write_loop<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    k: K,
    prep: M,
    p: &mut [T],
    g: &[T],
    s: [&mut [T]; S],
) {
    let n = p.len();
    // invariant: the caller passes a gradient and slots as long as `p`
    let g = &g[..n];
    let mut slots = s.map(|x| x[..n].chunks_exact_mut(LANES));
    let mut pc = p.chunks_exact_mut(LANES);
    let mut gc = g.chunks_exact(LANES);
    for (pb, gb) in pc.by_ref().zip(gc.by_ref()) {
        let mut sb: [&mut [T]; S] = slots
            .each_mut()
            .map(|it| it.next().expect("invariant: slots are as long as p"));
        for j in 0..LANES {
            let mut e: [T; S] = std::array::from_fn(|i| sb[i][j]);
            pb[j] = k.step(pb[j], prep.apply(gb[j]), &mut e);
            for (b, v) in sb.iter_mut().zip(e) {
                b[j] = v;
            }
        }
    }
    let mut rest = slots.map(|it| it.into_remainder());
    for (j, (pj, &gj)) in pc
        .into_remainder()
        .iter_mut()
        .zip(gc.remainder())
        .enumerate()
    {
        let mut e: [T; S] = std::array::from_fn(|i| rest[i][j]);
        *pj = k.step(*pj, prep.apply(gj), &mut e);
        for (b, v) in rest.iter_mut().zip(e) {
            b[j] = v;
        }
    }
}

use crate::element::dispatch;

/// Which code runs the passes; tests compare them bit for bit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) enum Isa {
    /// The blocked loops, compiled for the widest instruction set the CPU
    /// has.
    #[default]
    Widest,
    /// The blocked loops, baseline x86-64 (SSE2).
    #[cfg(test)]
    Baseline,
    /// The formula element by element, no blocks, no dispatch.
    #[cfg(test)]
    Reference,
}

impl Isa {
    /// Whether the check pass tries the kernels' proofs (the reference
    /// runs the full check only).
    fn proves(self) -> bool {
        match self {
            Isa::Widest => true,
            #[cfg(test)]
            Isa::Baseline => true,
            #[cfg(test)]
            Isa::Reference => false,
        }
    }
}

/// The element-by-element form of both passes (the tests' reference).
#[cfg(test)]
fn reference<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    k: K,
    prep: M,
    p: &mut [T],
    g: &[T],
    s: &mut [&mut [T]],
) -> bool {
    let mut finite = true;
    for i in 0..p.len() {
        let mut e: [T; S] = std::array::from_fn(|j| s[j][i]);
        p[i] = k.step(p[i], prep.apply(g[i]), &mut e);
        finite &= g[i].is_finite() && p[i].is_finite() && e.iter().all(|v| v.is_finite());
        for (j, v) in e.into_iter().enumerate() {
            s[j][i] = v;
        }
    }
    finite
}

struct CheckOp<'a, T, K, M, const S: usize> {
    k: K,
    prep: M,
    /// Run the kernel's proof instead of the full check.
    proof: bool,
    p: &'a [T],
    g: &'a [T],
    s: [&'a [T]; S],
}

impl<T: Float, K: Kernel<T, S>, M: GradMap<T>, const S: usize> WithSimd
    for CheckOp<'_, T, K, M, S>
{
    type Output = bool;
    #[inline(always)]
    fn with_simd<V: pulp::Simd>(self, _simd: V) -> bool {
        let (k, prep) = (self.k, self.prep);
        if self.proof {
            check_loop(
                |p, g, s| prove_one(&k, &prep, p, g, s),
                self.p,
                self.g,
                self.s,
            )
        } else {
            check_loop(
                |p, g, s| check_one(&k, &prep, p, g, s),
                self.p,
                self.g,
                self.s,
            )
        }
    }
}

struct WriteOp<'a, T, K, M, const S: usize> {
    k: K,
    prep: M,
    p: &'a mut [T],
    g: &'a [T],
    s: [&'a mut [T]; S],
}

impl<T: Float, K: Kernel<T, S>, M: GradMap<T>, const S: usize> Split for CheckOp<'_, T, K, M, S> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at(at);
        // invariant: the caller passes a gradient and slots as long as `p`
        let (g0, g1) = self.g.split_at(at);
        let (k, prep, proof) = (self.k, self.prep, self.proof);
        let left = CheckOp {
            k,
            prep,
            proof,
            p: p0,
            g: g0,
            s: self.s.map(|x| &x[..at]),
        };
        let right = CheckOp {
            k,
            prep,
            proof,
            p: p1,
            g: g1,
            s: self.s.map(|x| &x[at..]),
        };
        (left, right)
    }
}

impl<T: Float, K: Kernel<T, S>, M: GradMap<T>, const S: usize> Split for WriteOp<'_, T, K, M, S> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at_mut(at);
        // invariant: the caller passes a gradient and slots as long as `p`
        let (g0, g1) = self.g.split_at(at);
        let mut halves = self.s.map(|x| {
            let (a, b) = x.split_at_mut(at);
            (Some(a), Some(b))
        });
        let s0 = std::array::from_fn(|i| halves[i].0.take().expect("invariant: taken once"));
        let s1 = std::array::from_fn(|i| halves[i].1.take().expect("invariant: taken once"));
        let (k, prep) = (self.k, self.prep);
        let left = WriteOp {
            k,
            prep,
            p: p0,
            g: g0,
            s: s0,
        };
        let right = WriteOp {
            k,
            prep,
            p: p1,
            g: g1,
            s: s1,
        };
        (left, right)
    }
}

impl<T: Float, K: Kernel<T, S>, M: GradMap<T>, const S: usize> WithSimd
    for WriteOp<'_, T, K, M, S>
{
    type Output = ();
    #[inline(always)]
    fn with_simd<V: pulp::Simd>(self, _simd: V) {
        write_loop(self.k, self.prep, self.p, self.g, self.s)
    }
}

/// The check pass: `true` if `g` and every value the update of `p` (with
/// state `s`, one slice per slot) would write are finite.
///
/// A kernel with a [`proof`](Kernel::proof) is first checked with it (the
/// Adam family's: no division, no square root, so the pass costs about
/// the reading of its slices); where the proof does not hold for some
/// element, the full check of the whole parameter decides. The verdict is
/// the full check's either way: the proof holds only where every value is
/// finite.
pub(crate) fn check<T: Float, const S: usize, K: Kernel<T, S>>(
    isa: Isa,
    k: K,
    prep: Prep<T>,
    p: &[T],
    g: &[T],
    s: &[&[T]],
) -> bool {
    let s: [&[T]; S] = std::array::from_fn(|i| s[i]); // invariant: one slice per slot
    if prep.is_identity() {
        check_with(isa, k, Raw, p, g, s)
    } else {
        check_with(isa, k, prep, p, g, s)
    }
}

fn check_with<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    isa: Isa,
    k: K,
    prep: M,
    p: &[T],
    g: &[T],
    s: [&[T]; S],
) -> bool {
    let op = |proof| CheckOp {
        k,
        prep,
        proof,
        p,
        g,
        s,
    };
    (K::PROVES && isa.proves() && run_check(isa, op(true))) || run_check(isa, op(false))
}

fn run_check<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    isa: Isa,
    op: CheckOp<'_, T, K, M, S>,
) -> bool {
    match isa {
        // Every element's check is its own; the pieces' verdicts are ANDed.
        Isa::Widest => par_split(op, &dispatch, &|a, b| a && b),
        #[cfg(test)]
        Isa::Baseline => op.with_simd(pulp::Scalar::new()),
        #[cfg(test)]
        Isa::Reference => {
            let (mut p, mut copies) = (op.p.to_vec(), op.s.map(<[T]>::to_vec));
            let mut refs: Vec<&mut [T]> = copies.iter_mut().map(|c| c.as_mut_slice()).collect();
            reference(op.k, op.prep, &mut p, op.g, &mut refs)
        }
    }
}

/// Whether the kernel's proof holds for every element of `p` (the tests'
/// view of the check pass's first half; `false` for a kernel without one).
#[cfg(test)]
pub(crate) fn proves<T: Float, const S: usize, K: Kernel<T, S>>(
    k: K,
    p: &[T],
    g: &[T],
    s: &[&[T]],
) -> bool {
    let s: [&[T]; S] = std::array::from_fn(|i| s[i]);
    let op = CheckOp {
        k,
        prep: Raw,
        proof: true,
        p,
        g,
        s,
    };
    K::PROVES && run_check(Isa::Widest, op)
}

/// The write pass: updates `p` and its state `s` in place.
pub(crate) fn write<T: Float, const S: usize, K: Kernel<T, S>>(
    isa: Isa,
    k: K,
    prep: Prep<T>,
    p: &mut [T],
    g: &[T],
    s: &mut [&mut [T]],
) {
    let mut it = s.iter_mut();
    let s: [&mut [T]; S] =
        std::array::from_fn(|_| &mut **it.next().expect("invariant: one slice per slot"));
    if prep.is_identity() {
        run_write(
            isa,
            WriteOp {
                k,
                prep: Raw,
                p,
                g,
                s,
            },
        );
    } else {
        run_write(isa, WriteOp { k, prep, p, g, s });
    }
}

fn run_write<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    isa: Isa,
    op: WriteOp<'_, T, K, M, S>,
) {
    match isa {
        Isa::Widest => par_split(op, &dispatch, &|(), ()| ()),
        #[cfg(test)]
        Isa::Baseline => op.with_simd(pulp::Scalar::new()),
        #[cfg(test)]
        Isa::Reference => {
            let mut s = op.s;
            reference(op.k, op.prep, op.p, op.g, &mut s);
        }
    }
}

/// A pass the optimizer's rule hands its kernel to: the rule picks the
/// kernel (and its slot count) for its settings, the pass runs it.
pub(crate) trait Pass<T: Float> {
    type Output;
    fn run<const S: usize, K: Kernel<T, S>>(self, k: K) -> Self::Output;
}

/// The check pass over one parameter, as a [`Pass`].
pub(crate) struct Check<'a, T> {
    pub(crate) isa: Isa,
    pub(crate) prep: Prep<T>,
    pub(crate) p: &'a [T],
    pub(crate) g: &'a [T],
    pub(crate) s: &'a [&'a [T]],
}

impl<T: Float> Pass<T> for Check<'_, T> {
    type Output = bool;
    fn run<const S: usize, K: Kernel<T, S>>(self, k: K) -> bool {
        check(self.isa, k, self.prep, self.p, self.g, self.s)
    }
}

/// The write pass over one parameter, as a [`Pass`].
pub(crate) struct Write<'a, 'b, T> {
    pub(crate) isa: Isa,
    pub(crate) prep: Prep<T>,
    pub(crate) p: &'a mut [T],
    pub(crate) g: &'a [T],
    pub(crate) s: &'a mut [&'b mut [T]],
}

impl<T: Float> Pass<T> for Write<'_, '_, T> {
    type Output = ();
    fn run<const S: usize, K: Kernel<T, S>>(self, k: K) {
        write(self.isa, k, self.prep, self.p, self.g, self.s)
    }
}

#[cfg(test)]
mod tests;
