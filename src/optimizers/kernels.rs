//! The optimizers' fused update kernels, and the passes over them that
//! make a step all or nothing without copying a parameter or its state.
//!
//! Each optimizer gives its update of one element as a [`Kernel`]: the new
//! parameter value from the old one and the (clipped) gradient, updating
//! its state slots in place. A step goes over each parameter's contiguous
//! slices in two phases:
//!
//! 1. the check ([`Check`]) decides, for every parameter of the step
//!    before anything is written, whether the gradient and every value the
//!    update would write are finite. First by proof, where the kernel has
//!    one ([`Kernel::finite_within`], see [`bounds`](super::bounds)): a
//!    scan of `p` and `g` (sums of their magnitudes: one read, two
//!    additions per element) and the ranges of the slots recorded by the
//!    last write give bounds under which the kernel's constants make every
//!    intermediate value at most the type's largest value / 2^8. Where
//!    there is no proof (no recorded ranges, as for loaded state; values
//!    too large; a non-finite `p` or `g`; a kernel without one) the full
//!    check pass ([`check`]) computes every new value and slot, stores
//!    none, and accumulates without branches whether one of them or of the
//!    gradients is not finite (`x - x` is 0 for a finite `x` and NaN
//!    otherwise). A proof holds only where the full pass would accept, so
//!    the verdict is the full pass's;
//! 2. once every parameter of the step has passed, the write pass
//!    ([`write`]) computes the values and stores them in place, and
//!    records for each slot the sum of `|x|` and of `x - |x|` over what it
//!    wrote (a bound on every `|x|`, and whether some `x` is negative), in
//!    vector registers, for the next step's proof.
//!
//! A refused step therefore changes nothing, and an accepted one allocates
//! nothing and copies nothing. The ranges recorded are of the optimizer's
//! own state, which nothing else writes; `p` is read afresh at every step,
//! so values changed from outside (`value_mut`, `set_value`, loading
//! weights) are always seen. (The alternative to checking first, writing
//! at once and keeping the old values to undo a refused step, copies every
//! parameter and slot on every step: docs/performance.md.)
//!
//! Both passes go through the slices in blocks of [`LANES`] elements that
//! the compiler vectorizes. [`dispatch`] compiles them a second and third
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
//! not depend on the thread count (`tests/suite/split_threads.rs`). The
//! scan's and the write's bounds are joined by maxima; they depend on
//! where the pieces fall, but they only choose between the proof and the
//! full pass, which give the same verdict.

use pulp::WithSimd;

use super::bounds::{Known, MAX_SLOTS, Span, Spans, scan};
use crate::element::{Float, Split, par_split};

/// Elements per block: one AVX-512 register of `f32`, two of `f64`.
pub(crate) const LANES: usize = 16;

/// An optimizer's update of one element, with `S` state slots.
pub(crate) trait Kernel<T: Float, const S: usize>: Copy + Send + Sync {
    /// The new value of parameter element `p` whose gradient (already
    /// clipped) is `g`; updates the element's state `s` in place.
    fn step(&self, p: T, g: T, s: &mut [T; S]) -> T;

    /// Whether every value [`step`](Kernel::step) computes is provably
    /// finite for every input within `known` (see
    /// [`bounds`](super::bounds)); `false` (the default) leaves the
    /// decision to the full check pass.
    fn finite_within(&self, _known: &Known) -> bool {
        false
    }

    /// Whether [`finite_within`](Kernel::finite_within) can ever hold;
    /// without a proof the check pass does not scan `p` and `g` for one.
    const PROVES: bool = false;
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

    /// A factor `f` such that `|g'| <= f · |g|` for the gradient `g'` the
    /// update sees: `max(|scale|, 1)` when the clamp interval holds 0 (a
    /// clamp to it then never grows a magnitude), `None` otherwise. A NaN
    /// scale gives NaN, which fails any proof.
    pub(crate) fn magnitude_factor(&self) -> Option<f64> {
        let holds_zero = self.lo <= T::zero() && self.hi >= T::zero();
        let s = self.scale.to_f64().abs();
        holds_zero.then_some(if s <= 1.0 { 1.0 } else { s })
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
fn nan_unless_finite<T: Float>(x: T) -> T {
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

/// The check pass over one parameter: whether the gradient and every value
/// the update would write are finite.
#[inline(always)]
fn check_loop<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    k: K,
    prep: M,
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
            acc[j] += check_one(&k, &prep, pc[j], gc[j], e);
        }
    }
    let mut tail = T::zero();
    for i in whole..n {
        tail += check_one(&k, &prep, p[i], g[i], s.map(|x| x[i]));
    }
    acc.iter().all(|a| *a == T::zero()) && tail == T::zero()
}

/// The write pass over one parameter: stores every new value and slot,
/// and returns the range of every slot as written (a minimum and a maximum
/// per slot and lane, kept in registers).
#[inline(always)]
fn write_loop<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    k: K,
    prep: M,
    p: &mut [T],
    g: &[T],
    s: [&mut [T]; S],
) -> Spans {
    let n = p.len();
    // invariant: the caller passes a gradient and slots as long as `p`
    let g = &g[..n];
    let mut slots = s.map(|x| x[..n].chunks_exact_mut(LANES));
    let mut pc = p.chunks_exact_mut(LANES);
    let mut gc = g.chunks_exact(LANES);
    // Per slot and lane, the sum of `|x|` (a bound on each `|x|`: rounding
    // is monotone, so no partial sum of non-negative values is below the
    // value just added) and the sum of `x - |x|` (0 unless some `x` is
    // negative: `2x` is exact and non-zero for a negative `x`, and a sum of
    // values `<= 0` that holds a negative one stays negative). Additions,
    // as the check pass's accumulator, which LLVM keeps in vector
    // registers: no spill, no select, no NaN handling of `min`/`max`.
    let mut mag = [[T::zero(); LANES]; S];
    let mut neg = [[T::zero(); LANES]; S];
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
            for i in 0..S {
                let a = e[i].abs();
                mag[i][j] += a;
                neg[i][j] += e[i] - a;
            }
        }
    }
    let mut spans = [Span::empty(); MAX_SLOTS];
    for i in 0..S {
        let (mut m, mut n) = (0.0f64, 0.0f64);
        for j in 0..LANES {
            m += mag[i][j].to_f64();
            n += neg[i][j].to_f64();
        }
        // `m` bounds every `|x|`; the slot is non-negative iff `n == 0`.
        spans[i] = Span {
            lo: if n == 0.0 { 0.0 } else { -m },
            hi: m,
        };
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
        for (i, (b, v)) in rest.iter_mut().zip(e).enumerate() {
            b[j] = v;
            spans[i] = spans[i].join(Span::point(v.to_f64()));
        }
    }
    spans
}

/// Runs `op` compiled for the widest instruction set the CPU has (AVX-512,
/// AVX2, else baseline).
pub(crate) fn dispatch<Op: WithSimd>(op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    {
        // The trait's `vectorize` (a `WithSimd`), not the types' own
        // (a closure).
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
    /// Whether a check may be decided by a kernel's proof: not for the
    /// element-by-element reference, which the tests compare against.
    fn proves(self) -> bool {
        #[cfg(test)]
        if self == Isa::Reference {
            return false;
        }
        true
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
) -> (bool, Spans) {
    let mut finite = true;
    let mut spans = [Span::empty(); MAX_SLOTS];
    for i in 0..p.len() {
        let mut e: [T; S] = std::array::from_fn(|j| s[j][i]);
        p[i] = k.step(p[i], prep.apply(g[i]), &mut e);
        finite &= g[i].is_finite() && p[i].is_finite() && e.iter().all(|v| v.is_finite());
        for (j, v) in e.into_iter().enumerate() {
            s[j][i] = v;
            spans[j] = spans[j].join(Span::point(v.to_f64()));
        }
    }
    (finite, spans)
}

struct CheckOp<'a, T, K, M, const S: usize> {
    k: K,
    prep: M,
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
        check_loop(self.k, self.prep, self.p, self.g, self.s)
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
        let (k, prep) = (self.k, self.prep);
        let left = CheckOp {
            k,
            prep,
            p: p0,
            g: g0,
            s: self.s.map(|x| &x[..at]),
        };
        let right = CheckOp {
            k,
            prep,
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
    type Output = Spans;
    #[inline(always)]
    fn with_simd<V: pulp::Simd>(self, _simd: V) -> Spans {
        write_loop(self.k, self.prep, self.p, self.g, self.s)
    }
}

/// The check pass: `true` if `g` and every value the update of `p` (with
/// state `s`, one slice per slot) would write are finite.
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
        run_check(
            isa,
            CheckOp {
                k,
                prep: Raw,
                p,
                g,
                s,
            },
        )
    } else {
        run_check(isa, CheckOp { k, prep, p, g, s })
    }
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
            reference(op.k, op.prep, &mut p, op.g, &mut refs).0
        }
    }
}

/// The write pass: updates `p` and its state `s` in place; returns the
/// range of every slot as written.
pub(crate) fn write<T: Float, const S: usize, K: Kernel<T, S>>(
    isa: Isa,
    k: K,
    prep: Prep<T>,
    p: &mut [T],
    g: &[T],
    s: &mut [&mut [T]],
) -> Spans {
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
        )
    } else {
        run_write(isa, WriteOp { k, prep, p, g, s })
    }
}

fn run_write<T: Float, const S: usize, K: Kernel<T, S>, M: GradMap<T>>(
    isa: Isa,
    op: WriteOp<'_, T, K, M, S>,
) -> Spans {
    // The spans of the pieces join exactly: minima and maxima.
    let join = |a: Spans, b: Spans| -> Spans { std::array::from_fn(|i| a[i].join(b[i])) };
    match isa {
        Isa::Widest => par_split(op, &dispatch, &join),
        #[cfg(test)]
        Isa::Baseline => op.with_simd(pulp::Scalar::new()),
        #[cfg(test)]
        Isa::Reference => {
            let mut s = op.s;
            reference(op.k, op.prep, op.p, op.g, &mut s).1
        }
    }
}

/// A pass the optimizer's rule hands its kernel to: the rule picks the
/// kernel (and its slot count) for its settings, the pass runs it.
pub(crate) trait Pass<T: Float> {
    type Output;
    fn run<const S: usize, K: Kernel<T, S>>(self, k: K) -> Self::Output;
}

/// The check pass over one parameter, as a [`Pass`]: first the kernel's
/// proof from what is `known` of the inputs, if anything is, and only when
/// that fails the full pass.
pub(crate) struct Check<'a, T> {
    pub(crate) isa: Isa,
    /// The slots' ranges, if known (see [`bounds`](super::bounds)).
    pub(crate) spans: Option<Spans>,
    pub(crate) prep: Prep<T>,
    pub(crate) p: &'a [T],
    pub(crate) g: &'a [T],
    pub(crate) s: &'a [&'a [T]],
}

impl<T: Float> Pass<T> for Check<'_, T> {
    /// Whether every value is finite, and whether the proof decided it
    /// (else the full pass did).
    type Output = (bool, bool);
    fn run<const S: usize, K: Kernel<T, S>>(self, k: K) -> (bool, bool) {
        let proves = K::PROVES && S > 0 && self.isa.proves();
        let known = self.spans.filter(|_| proves).and_then(|s| {
            // Without slots the full check reads what the scan would.
            let g_factor = self.prep.magnitude_factor()?;
            let seen = scan(self.p, self.g);
            seen.finite.then_some(Known {
                p: seen.p,
                g: seen.g * g_factor,
                s,
            })
        });
        if known.is_some_and(|known| k.finite_within(&known)) {
            return (true, true);
        }
        (check(self.isa, k, self.prep, self.p, self.g, self.s), false)
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
    type Output = Spans;
    fn run<const S: usize, K: Kernel<T, S>>(self, k: K) -> Spans {
        write(self.isa, k, self.prep, self.p, self.g, self.s)
    }
}

// The kernels' tests.
#[cfg(test)]
mod tests;
