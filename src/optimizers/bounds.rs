//! The cheap form of the check pass: bounds on a step's inputs under which
//! a kernel's outputs are provably finite.
//!
//! The full check pass ([`check`](super::kernels::check)) runs the whole
//! update (for Adam two divisions and a square root per element) to learn
//! whether every value it would write is finite. Most steps can be decided
//! from three facts instead:
//!
//! - bounds on `|p|` and `|g|` and whether both are finite, from [`scan`]:
//!   one read of `p` and `g`, the sums of their magnitudes (no arithmetic
//!   of the update);
//! - a range `[lo, hi]` of every state slot, which the write pass of the
//!   previous step recorded as it wrote them (per slot the sum of `|x|`,
//!   a bound on every `|x|`, and the sum of `x - |x|`, zero exactly when
//!   no `x` is negative; additions in vector registers, no extra memory
//!   traffic). The slots are the optimizer's own: nothing else writes
//!   them, and state that comes from elsewhere (loaded by `load_state`)
//!   has no recorded range until a step has written it. Fresh state holds
//!   the initial value;
//! - the kernel's constants for this step (learning rate, betas, epsilon,
//!   ...), from which [`Kernel::finite_within`](super::kernels::Kernel::finite_within)
//!   bounds every intermediate value of its formula.
//!
//! A kernel's bound is written in `f64` as the formula with every operand
//! replaced by a bound on its magnitude (sums of bounds for sums, products
//! for products, a lower bound for a denominator: `x + ε ≥ ε` for `x ≥ 0`,
//! as rounding is monotone). Each intermediate bound must be at most
//! [`Proof`]'s limit, the element type's largest value divided by 2^8. That
//! margin covers the rounding of the kernel's own operations (each
//! multiplies a magnitude by at most `1 + 2^-24` in `f32`; a formula has
//! fewer than 30 of them in a chain) and of the bound's computation in
//! `f64`. A bound that is NaN or infinite fails. Every intermediate
//! finite, no division by a value that can be zero and no square root of a
//! value that can be negative (the proof asks for `lo ≥ 0` of such slots)
//! mean every output is finite: the step is accepted, as the full check
//! would have accepted it. When the proof fails (huge values, a setting
//! with no bound, a non-finite `p` or `g`, unknown slot ranges) the full
//! check pass decides, exactly as before. So the step is refused exactly
//! when the full check would refuse it.

use pulp::WithSimd;

use super::kernels::LANES;
use crate::element::{Float, Split};

/// The most state slots an optimizer keeps per parameter (Adam with
/// AMSGrad, centered RMSprop with momentum).
pub(crate) const MAX_SLOTS: usize = 3;

/// Every element of a state slot lies in `[lo, hi]` (finite values).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Span {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl Span {
    /// The span of a slot whose elements all equal `x`.
    pub(crate) fn point(x: f64) -> Self {
        Span { lo: x, hi: x }
    }

    /// The span of no element (the identity of [`Span::join`]).
    pub(crate) fn empty() -> Self {
        Span {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }

    /// The smallest span holding both.
    pub(crate) fn join(self, other: Span) -> Span {
        Span {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// A bound on `|x|` for every element `x`.
    pub(crate) fn abs(&self) -> f64 {
        self.hi.max(-self.lo)
    }

    /// Whether every element is `>= 0` (`-0` included).
    pub(crate) fn non_negative(&self) -> bool {
        self.lo >= 0.0
    }
}

/// The slots' spans, one per slot in slot order (unused entries empty).
pub(crate) type Spans = [Span; MAX_SLOTS];

/// What is known of a step's inputs over one parameter, before the update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known {
    /// A bound on `|p|`.
    pub(crate) p: f64,
    /// A bound on `|g|` as the update sees it (after clipping).
    pub(crate) g: f64,
    /// The range of every slot.
    pub(crate) s: Spans,
}

/// A proof under construction that a kernel's values stay finite: each
/// bound passed to [`at_most`](Proof::at_most) must be at most the limit.
/// (`&self` methods, so that bounds nest in one expression.)
pub(crate) struct Proof {
    limit: f64,
    ok: std::cell::Cell<bool>,
}

impl Proof {
    /// A proof for element type `T`: the limit is its largest value / 2^8.
    pub(crate) fn new<T: Float>() -> Self {
        Proof {
            limit: T::max_value().to_f64() / 256.0,
            ok: std::cell::Cell::new(true),
        }
    }

    /// `x`, a bound on the magnitude of a value the kernel computes; the
    /// proof fails unless `x` is at most the limit (NaN fails).
    pub(crate) fn at_most(&self, x: f64) -> f64 {
        self.ok.set(self.ok.get() && x <= self.limit);
        x
    }

    /// The proof fails unless `c` holds (a sign, a non-zero divisor).
    pub(crate) fn require(&self, c: bool) {
        self.ok.set(self.ok.get() && c);
    }

    /// Whether every bound was within the limit and every condition held.
    pub(crate) fn holds(&self) -> bool {
        self.ok.get()
    }
}

/// `|x|` of a kernel constant, in `f64` (NaN and infinities stay so and
/// fail the proof where they are used).
pub(crate) fn mag<T: Float>(x: T) -> f64 {
    x.to_f64().abs()
}

/// Bounds on `|p|` and `|g|` over one parameter (the sums of the
/// magnitudes), and whether they are finite (if not, some value of `p` or
/// `g` is not finite, or they are too large to add up: no bound).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scan {
    pub(crate) p: f64,
    pub(crate) g: f64,
    pub(crate) finite: bool,
}

impl Scan {
    /// Two pieces' bounds: the larger of each (a bound for both pieces;
    /// maxima do not depend on how the pieces fall).
    fn join(self, other: Scan) -> Scan {
        Scan {
            p: self.p.max(other.p),
            g: self.g.max(other.g),
            finite: self.finite && other.finite,
        }
    }
}

/// Elements the scan adds up per step of its loop: four blocks of
/// [`LANES`], so that four independent chains of additions hide the
/// latency of each.
const SCAN_LANES: usize = 4 * LANES;

/// The scan of `p` and `g`: per lane the sums of `|p|` and `|g|`. A sum of
/// non-negative values bounds each of them (rounding is monotone, so every
/// partial sum is at least the value just added), and it is NaN or
/// infinite if some value is, or if the values are too large to add up, in
/// which case the scan reports no bound and the full check decides.
#[inline(always)]
fn scan_loop<T: Float>(p: &[T], g: &[T]) -> Scan {
    let n = p.len();
    // invariant: the caller passes a gradient as long as `p`
    let g = &g[..n];
    let (mut sp, mut sg) = ([T::zero(); SCAN_LANES], [T::zero(); SCAN_LANES]);
    let whole = n - n % SCAN_LANES;
    for (pc, gc) in p[..whole]
        .chunks_exact(SCAN_LANES)
        .zip(g[..whole].chunks_exact(SCAN_LANES))
    {
        for j in 0..SCAN_LANES {
            sp[j] += pc[j].abs();
            sg[j] += gc[j].abs();
        }
    }
    let (mut tp, mut tg) = (0.0f64, 0.0f64);
    for j in 0..SCAN_LANES {
        tp += sp[j].to_f64();
        tg += sg[j].to_f64();
    }
    for i in whole..n {
        tp += p[i].abs().to_f64();
        tg += g[i].abs().to_f64();
    }
    // A non-finite sum in `T` stays so in `f64`; an `f64` sum that
    // overflows (of `f64` values near the largest) only means no bound.
    Scan {
        p: tp,
        g: tg,
        finite: tp.is_finite() && tg.is_finite(),
    }
}

struct ScanOp<'a, T> {
    p: &'a [T],
    g: &'a [T],
}

impl<T: Float> WithSimd for ScanOp<'_, T> {
    type Output = Scan;
    #[inline(always)]
    fn with_simd<V: pulp::Simd>(self, _simd: V) -> Scan {
        scan_loop(self.p, self.g)
    }
}

impl<T: Float> Split for ScanOp<'_, T> {
    fn len(&self) -> usize {
        self.p.len()
    }
    fn split_at(self, at: usize) -> (Self, Self) {
        let (p0, p1) = self.p.split_at(at);
        // invariant: the caller passes a gradient as long as `p`
        let (g0, g1) = self.g.split_at(at);
        (ScanOp { p: p0, g: g0 }, ScanOp { p: p1, g: g1 })
    }
}

/// Bounds on `|p|` and `|g|` and whether they exist, compiled for the
/// widest instruction set the CPU has and split over the pool as the other
/// passes. The bounds depend on the thread count (a sum per piece), the
/// verdict they lead to does not: they only choose between the proof and
/// the full check, which decide alike.
pub(crate) fn scan<T: Float>(p: &[T], g: &[T]) -> Scan {
    crate::element::par_split(
        ScanOp { p, g },
        &super::kernels::dispatch,
        &|a: Scan, b: Scan| a.join(b),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_bounds_every_magnitude_and_finds_any_non_finite_value() {
        for n in [0, 1, 15, 16, 17, 63, 64, 65, 100, 300] {
            let p: Vec<f32> = (0..n).map(|i| (i as f32 - 20.0) * 0.5).collect();
            let g: Vec<f32> = (0..n).map(|i| (i as f32) * -0.25).collect();
            let s = scan(&p, &g);
            assert!(s.finite, "n = {n}");
            for (x, bound) in p.iter().map(|x| (x, s.p)).chain(g.iter().map(|x| (x, s.g))) {
                assert!(f64::from(x.abs()) <= bound, "{x} above {bound}, n = {n}");
            }
            // The sums of the magnitudes, up to rounding.
            let sum = |v: &[f32]| v.iter().map(|x| f64::from(x.abs())).sum::<f64>();
            assert!((s.p - sum(&p)).abs() <= 1e-5 * sum(&p), "n = {n}");
            assert!((s.g - sum(&g)).abs() <= 1e-5 * sum(&g), "n = {n}");
            // Values too large to add up give no bound.
            if n >= 2 * SCAN_LANES {
                let big = vec![f32::MAX; n];
                assert!(!scan(&big, &g).finite, "n = {n}");
            }
            for at in [0, n / 2, n.saturating_sub(1)] {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    if n == 0 {
                        continue;
                    }
                    let mut q = p.clone();
                    q[at] = bad;
                    assert!(!scan(&q, &g).finite, "p[{at}] = {bad}, n = {n}");
                    let mut h = g.clone();
                    h[at] = bad;
                    assert!(!scan(&p, &h).finite, "g[{at}] = {bad}, n = {n}");
                }
            }
        }
    }

    #[test]
    fn a_proof_fails_above_the_limit_and_on_nan() {
        let limit = f32::MAX as f64 / 256.0;
        let ok = Proof::new::<f32>();
        ok.at_most(limit);
        assert!(ok.holds());
        let over = Proof::new::<f32>();
        over.at_most(limit * 1.000_001);
        assert!(!over.holds());
        let nan = Proof::new::<f32>();
        nan.at_most(f64::NAN);
        assert!(!nan.holds());
        let cond = Proof::new::<f64>();
        cond.require(false);
        assert!(!cond.holds());
    }
}

/// The proofs inside whole steps: they decide ordinary steps, and a step
/// is accepted or refused exactly as by the element-by-element reference,
/// which never uses them.
#[cfg(test)]
mod steps {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use crate::optimizers::kernels::Isa;
    use crate::optimizers::{Adagrad, Adam, AdamW, Lion, Nadam, Optimizer, RmsProp, Sgd};
    use crate::tape::{Gradients, Param};
    use crate::tensor::Tensor;

    fn grads_for(p: &Param<f32>, g: Vec<f32>) -> Gradients<f32> {
        let mut grads = Gradients::default();
        let n = g.len();
        grads.insert_param(p.id(), Tensor::from_vec(g, &[n]).expect("length"));
        grads
    }

    #[test]
    fn proofs_decide_ordinary_steps_and_the_full_check_the_rest() {
        let n = 100;
        let mut p = Param::new("p", Tensor::from_vec(vec![0.5f32; n], &[n]).expect("n"));
        let g: Vec<f32> = (0..n).map(|i| (i as f32 - 50.0) * 0.01).collect();
        let mut opt = Adam::new(0.01).amsgrad(true);
        for _ in 0..5 {
            opt.apply_gradients(&grads_for(&p, g.clone()), &mut [&mut p])
                .expect("a finite step");
        }
        assert_eq!(opt.full_checks(), 0, "every ordinary step proved");

        // Loaded state has no recorded range: one full check, then proofs.
        let state = opt.state();
        opt.load_state(&state).expect("its own state");
        for _ in 0..3 {
            opt.apply_gradients(&grads_for(&p, g.clone()), &mut [&mut p])
                .expect("a finite step");
        }
        assert_eq!(opt.full_checks(), 1);

        // A value set from outside is read afresh: too large for the proof,
        // the full check decides, and accepts this finite update.
        p.value_mut().as_mut_slice()[7] = 3e38;
        opt.apply_gradients(&grads_for(&p, g.clone()), &mut [&mut p])
            .expect("a finite step");
        assert_eq!(opt.full_checks(), 2);

        // A non-finite value set from outside: refused, nothing changed.
        p.value_mut().as_mut_slice()[7] = f32::NAN;
        let before: Vec<u32> = p.value().as_slice().iter().map(|x| x.to_bits()).collect();
        let state = opt.state();
        assert!(
            opt.apply_gradients(&grads_for(&p, g.clone()), &mut [&mut p])
                .is_err()
        );
        let after: Vec<u32> = p.value().as_slice().iter().map(|x| x.to_bits()).collect();
        assert_eq!(after, before);
        assert_eq!(format!("{:?}", opt.state()), format!("{state:?}"));
    }

    /// Five ordinary steps of `$opt` on a parameter of 100 elements; none
    /// needs the full check.
    macro_rules! every_step_proved {
        ($opt:expr) => {{
            let mut opt = $opt;
            let n = 100;
            let mut p = Param::new("p", Tensor::from_vec(vec![0.5f32; n], &[n]).expect("n"));
            let g: Vec<f32> = (0..n).map(|i| (i as f32 - 50.0) * 0.01).collect();
            for _ in 0..5 {
                opt.apply_gradients(&grads_for(&p, g.clone()), &mut [&mut p])
                    .expect("a finite step");
            }
            assert_eq!(opt.full_checks(), 0, "{}", stringify!($opt));
        }};
    }

    #[test]
    fn every_optimizer_with_state_but_adadelta_proves_ordinary_steps() {
        every_step_proved!(Adam::new(0.01).clip_norm(1.0));
        every_step_proved!(AdamW::new(0.01).amsgrad(true));
        every_step_proved!(Sgd::new(0.1).momentum(0.9).nesterov(true));
        every_step_proved!(Lion::new(0.01).weight_decay(0.1));
        every_step_proved!(Adagrad::new(0.1));
        every_step_proved!(Nadam::new(0.01));
        every_step_proved!(RmsProp::new(0.01));
        every_step_proved!(RmsProp::new(0.01).momentum(0.5));
        every_step_proved!(RmsProp::new(0.01).centered(true));
        every_step_proved!(RmsProp::new(0.01).centered(true).momentum(0.5));
    }

    /// Log-uniform magnitudes from 1e-30 to 3e38 with either sign, and
    /// now and then a zero.
    fn extreme(rng: &mut StdRng) -> f32 {
        if rng.random_range(0..10) == 0 {
            return 0.0;
        }
        let x = 10f64.powf(rng.random_range(-30.0..38.5)) as f32;
        if rng.random_range(0..2) == 0 { x } else { -x }
    }

    #[test]
    fn steps_on_extreme_values_are_refused_exactly_as_by_the_reference() {
        let mut rng = StdRng::seed_from_u64(11);
        let (mut accepted, mut refused) = (0, 0);
        for case in 0..1200 {
            let n = rng.random_range(1..40);
            let lr = 10f64.powf(rng.random_range(-4.0..38.0));
            // Small values (proofs hold) mixed with extreme ones.
            let scale = if case % 2 == 0 { 1.0 } else { 0.0 };
            let draw = |rng: &mut StdRng| -> Vec<f32> {
                (0..n)
                    .map(|_| {
                        if scale == 1.0 && rng.random_range(0..4) > 0 {
                            rng.random_range(-1.0..1.0)
                        } else {
                            extreme(rng)
                        }
                    })
                    .collect()
            };
            let p0 = draw(&mut rng);
            let gs: Vec<Vec<f32>> = (0..4).map(|_| draw(&mut rng)).collect();
            let make = |isa: Isa| -> Box<dyn Optimizer<f32>> {
                match case % 12 {
                    0 => Box::new(Adam::new(lr).isa(isa)),
                    1 => Box::new(Adam::new(lr).amsgrad(true).weight_decay(0.5).isa(isa)),
                    2 => Box::new(AdamW::new(lr).clip_value(1e30).isa(isa)),
                    3 => Box::new(Sgd::new(lr).momentum(0.9).isa(isa)),
                    4 => Box::new(
                        Sgd::new(lr)
                            .momentum(0.5)
                            .nesterov(true)
                            .weight_decay(0.1)
                            .isa(isa),
                    ),
                    5 => Box::new(Lion::new(lr).weight_decay(0.1).isa(isa)),
                    6 => Box::new(Adagrad::new(lr).isa(isa)),
                    7 => Box::new(Nadam::new(lr).isa(isa)),
                    8 => Box::new(RmsProp::new(lr).isa(isa)),
                    9 => Box::new(RmsProp::new(lr).momentum(0.5).isa(isa)),
                    10 => Box::new(RmsProp::new(lr).centered(true).isa(isa)),
                    _ => Box::new(RmsProp::new(lr).centered(true).momentum(0.5).isa(isa)),
                }
            };
            let mut runs = Vec::new();
            for isa in [Isa::Widest, Isa::Reference] {
                let mut opt = make(isa);
                let mut p = Param::new("p", Tensor::from_vec(p0.clone(), &[n]).expect("n"));
                let mut verdicts = Vec::new();
                for g in &gs {
                    verdicts.push(
                        opt.apply_gradients(&grads_for(&p, g.clone()), &mut [&mut p])
                            .is_ok(),
                    );
                }
                let bits: Vec<u32> = p.value().as_slice().iter().map(|x| x.to_bits()).collect();
                runs.push((verdicts, bits, format!("{:?}", opt.state())));
            }
            assert_eq!(runs[0], runs[1], "case {case}");
            accepted += runs[0].0.iter().filter(|v| **v).count();
            refused += runs[0].0.iter().filter(|v| !**v).count();
        }
        // Both outcomes occur, so the comparison tests something.
        assert!(
            accepted > 100 && refused > 100,
            "{accepted} accepted, {refused} refused"
        );
    }
}
