//! [`Adam`] (with L2 weight decay, PyTorch's `Adam`) and [`AdamW`]
//! (decoupled weight decay, PyTorch's `AdamW`); both with AMSGrad.

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, non_negative, positive, unit_interval};
use super::json::{bool_field, f64_field};
use super::kernels::{Kernel, Pass, nan_unless_finite};
use crate::element::Float;
use crate::error::Result;

/// The hyperparameters of Adam and AdamW.
#[derive(Clone, Debug)]
pub(crate) struct AdamRule {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    amsgrad: bool,
    weight_decay: f64,
    /// AdamW (`p ← p·(1 − lr·λ)`) rather than Adam (`g ← g + λ·p`).
    decoupled: bool,
    /// The bias corrections of the step being made, computed once by
    /// [`begin_step`](Rule::begin_step) instead of two `powf` per
    /// parameter and pass.
    bias: Option<Bias>,
}

/// Adam's bias corrections at step `t` for `beta_1`, `beta_2`:
/// `1 − β₁ᵗ` and `√(1 − β₂ᵗ)`, in `f64`.
#[derive(Clone, Copy, Debug)]
struct Bias {
    t: u64,
    beta_1: f64,
    beta_2: f64,
    bias_1: f64,
    bias_2_sqrt: f64,
}

impl Bias {
    fn new(t: u64, beta_1: f64, beta_2: f64) -> Bias {
        let tf = t as f64;
        Bias {
            t,
            beta_1,
            beta_2,
            bias_1: 1.0 - beta_1.powf(tf),
            bias_2_sqrt: (1.0 - beta_2.powf(tf)).sqrt(),
        }
    }
}

impl AdamRule {
    fn new(weight_decay: f64, decoupled: bool) -> Self {
        AdamRule {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
            amsgrad: false,
            weight_decay,
            decoupled,
            bias: None,
        }
    }

    /// The bias corrections at step `t` for the current betas: the ones
    /// [`begin_step`](Rule::begin_step) computed when they match (the
    /// same numbers, computed the same way), else computed here.
    fn bias(&self, t: u64) -> Bias {
        match self.bias {
            Some(b) if b.t == t && b.beta_1 == self.beta_1 && b.beta_2 == self.beta_2 => b,
            _ => Bias::new(t, self.beta_1, self.beta_2),
        }
    }
}

impl Rule for AdamRule {
    fn name(&self) -> &'static str {
        if self.decoupled { "adamw" } else { "adam" }
    }

    fn slot_names(&self) -> &'static [&'static str] {
        if self.amsgrad {
            &["momentum", "velocity", "velocity_hat"]
        } else {
            &["momentum", "velocity"]
        }
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        unit_interval(op, "beta_1", self.beta_1)?;
        unit_interval(op, "beta_2", self.beta_2)?;
        positive::<T>(op, "epsilon", self.epsilon)?;
        non_negative::<T>(op, "weight_decay", self.weight_decay)
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("beta_1".into(), json!(self.beta_1));
        map.insert("beta_2".into(), json!(self.beta_2));
        map.insert("epsilon".into(), json!(self.epsilon));
        map.insert("amsgrad".into(), json!(self.amsgrad));
        map.insert("weight_decay".into(), json!(self.weight_decay));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        self.beta_1 = f64_field(op, map, "beta_1", Some(self.beta_1))?;
        self.beta_2 = f64_field(op, map, "beta_2", Some(self.beta_2))?;
        self.epsilon = f64_field(op, map, "epsilon", Some(self.epsilon))?;
        self.amsgrad = bool_field(op, map, "amsgrad", self.amsgrad)?;
        self.weight_decay = f64_field(op, map, "weight_decay", Some(self.weight_decay))?;
        Ok(())
    }

    fn begin_step(&mut self, t: u64) {
        self.bias = Some(Bias::new(t, self.beta_1, self.beta_2));
    }

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let bias = self.bias(step.t);
        let bias_1 = bias.bias_1;
        let (b1, b2) = (T::from_f64(self.beta_1), T::from_f64(self.beta_2));
        let (l2, shrink) = if self.decoupled {
            (T::zero(), T::from_f64(1.0 - step.lr * self.weight_decay))
        } else {
            (T::from_f64(self.weight_decay), T::one())
        };
        let (bias_2_sqrt, eps) = (T::from_f64(bias.bias_2_sqrt), T::from_f64(self.epsilon));
        // `2 / ε` rounded to `T` is at least `1 / ε` (or +∞); NaN disables
        // the proof where its premises (`ε > 0`, `√(1 − β₂ᵗ) > 0`) fail.
        let proved = eps > T::zero() && bias_2_sqrt > T::zero() && bias_2_sqrt.is_finite();
        let over_eps = if proved {
            T::from_f64(2.0 / eps.to_f64())
        } else {
            T::nan()
        };
        let k = AdamKernel {
            shrink,
            l2,
            one_minus_b1: T::one() - b1,
            b2,
            one_minus_b2: T::one() - b2,
            step_size: T::from_f64(step.lr / bias_1),
            bias_2_sqrt,
            eps,
            over_eps,
        };
        if self.amsgrad {
            pass.run::<3, _>(k)
        } else {
            pass.run::<2, _>(k)
        }
    }
}

/// Adam's update of one element; slots `m`, `v` (and `v̂` with AMSGrad).
#[derive(Clone, Copy)]
struct AdamKernel<T> {
    shrink: T,
    l2: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    step_size: T,
    bias_2_sqrt: T,
    eps: T,
    /// At least `1 / eps` (see [`AdamKernel::bound`]), or NaN: no proof.
    over_eps: T,
}

impl<T: Float> AdamKernel<T> {
    /// Decays `p`, updates `m` and `v`; returns the decayed `p`.
    #[inline(always)]
    fn moments(&self, p: T, g: T, m: &mut T, v: &mut T) -> T {
        let p = p * self.shrink;
        let g = g + self.l2 * p;
        *m = *m + self.one_minus_b1 * (g - *m);
        *v = self.b2 * *v + self.one_minus_b2 * g * g;
        p
    }

    #[inline(always)]
    fn apply(&self, p: T, m: T, v_hat: T) -> T {
        p - self.step_size * m / (v_hat.sqrt() / self.bias_2_sqrt + self.eps)
    }

    /// The proof that [`apply`](Self::apply)`(p, m, v_hat)` is finite,
    /// from the new `m` and `v_hat` (0 when it holds, else negative or
    /// NaN). With `v_hat` finite and `≥ 0` (the last term is 0 exactly
    /// then), the denominator `√v̂ / √(1 − β₂ᵗ) + ε` is at least `ε` or
    /// +∞ (every operation rounds monotonically; `ε > 0`), so the rounded
    /// quotient `x / d` with `x = step_size · m` is at most `|x| / ε`
    /// rounded, which is at most `B = |x| · over_eps` rounded
    /// (`over_eps ≥ 1 / ε`). If `|p| + B`, rounded, is finite, the exact
    /// sum is below the overflow threshold (`MAX` + half an ulp), so is
    /// `|p − x / d|`, and the new value is finite. Costs one
    /// multiplication and an addition more than the moments.
    #[inline(always)]
    fn bound(&self, p: T, m: T, v_hat: T) -> T {
        let x = self.step_size * m;
        let total = p.abs() + x.abs() * self.over_eps;
        nan_unless_finite(m) + nan_unless_finite(total) + (v_hat - v_hat.abs())
    }
}

impl<T: Float> Kernel<T, 2> for AdamKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, s: &mut [T; 2]) -> T {
        let [m, v] = s;
        let p = self.moments(p, g, m, v);
        self.apply(p, *m, *v)
    }

    const PROVES: bool = true;

    #[inline(always)]
    fn proof(&self, p: T, g: T, s: &[T; 2]) -> T {
        let [mut m, mut v] = *s;
        let p = self.moments(p, g, &mut m, &mut v);
        // `v` is `v_hat`: its term also says that it is finite.
        self.bound(p, m, v)
    }
}

impl<T: Float> Kernel<T, 3> for AdamKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, s: &mut [T; 3]) -> T {
        let [m, v, h] = s;
        let p = self.moments(p, g, m, v);
        *h = h.max(*v);
        self.apply(p, *m, *h)
    }

    const PROVES: bool = true;

    #[inline(always)]
    fn proof(&self, p: T, g: T, s: &[T; 3]) -> T {
        let [mut m, mut v, h] = *s;
        let p = self.moments(p, g, &mut m, &mut v);
        let h = h.max(v);
        nan_unless_finite(v) + self.bound(p, m, h)
    }
}

macro_rules! adam_builders {
    ($name:ident) => {
        impl<T: Float> $name<T> {
            /// Sets `β₁`, the decay of the first moment (default 0.9).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.001).beta_1(0.8);")]
            /// assert_eq!(opt.config()["beta_1"], 0.8);
            /// ```
            pub fn beta_1(mut self, beta_1: f64) -> Self {
                self.rule.beta_1 = beta_1;
                self
            }

            /// Sets `β₂`, the decay of the second moment (default 0.999).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.001).beta_2(0.99);")]
            /// assert_eq!(opt.config()["beta_2"], 0.99);
            /// ```
            pub fn beta_2(mut self, beta_2: f64) -> Self {
                self.rule.beta_2 = beta_2;
                self
            }

            /// Sets `ε`, added to the denominator (default 1e-7, Keras's).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.001).epsilon(1e-8);")]
            /// assert_eq!(opt.config()["epsilon"], 1e-8);
            /// ```
            pub fn epsilon(mut self, epsilon: f64) -> Self {
                self.rule.epsilon = epsilon;
                self
            }

            /// Uses AMSGrad: the denominator uses the running maximum of `v`
            /// (default false).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.001).amsgrad(true);")]
            /// assert_eq!(opt.config()["amsgrad"], true);
            /// ```
            pub fn amsgrad(mut self, amsgrad: bool) -> Self {
                self.rule.amsgrad = amsgrad;
                self
            }

            /// Sets the weight decay `λ` (see the type's docs for how it is applied).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.001).weight_decay(0.01);")]
            /// assert_eq!(opt.config()["weight_decay"], 0.01);
            /// ```
            pub fn weight_decay(mut self, weight_decay: f64) -> Self {
                self.rule.weight_decay = weight_decay;
                self
            }
        }
    };
}

optimizer!(
    /// Adam (Kingma & Ba, 2015) with PyTorch's update rule and Keras's
    /// defaults: `learning_rate = 0.001`, `beta_1 = 0.9`, `beta_2 = 0.999`,
    /// `epsilon = 1e-7`, `amsgrad = false`, `weight_decay = 0`.
    ///
    /// At step `t` (1-based), for each parameter `p` with gradient `g`
    /// (`m`, `v`, `v̂` start at 0):
    ///
    /// ```text
    /// g ← g + λ·p                                  (L2 weight decay)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²
    /// v̂ ← max(v̂, v)                                (amsgrad; else v̂ = v)
    /// p ← p − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
    /// ```
    ///
    /// This is PyTorch's placement of `ε` (outside the bias correction of
    /// `v`); Keras puts it inside, which differs in the first steps when `v`
    /// is small. State: `"momentum"` (`m`), `"velocity"` (`v`), and
    /// `"velocity_hat"` (`v̂`) with AMSGrad.
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if a beta is outside `[0, 1)` or `epsilon` or
    /// `weight_decay` is negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adam, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(1.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(4.0));
    /// let mut opt = Adam::new(0.1).beta_1(0.8).amsgrad(true);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// // First step: m/(1−β₁) = g and √(v/(1−β₂)) = |g|, so p moves by lr·g/(|g| + ε).
    /// assert!((w.value().item()? - 0.9).abs() < 1e-7);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    Adam,
    AdamRule,
    AdamRule::new(0.0, false),
    0.001
);

optimizer!(
    /// AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,
    /// PyTorch's update rule, Keras's defaults: `learning_rate = 0.001`,
    /// `weight_decay = 0.004`, `beta_1 = 0.9`, `beta_2 = 0.999`,
    /// `epsilon = 1e-7`, `amsgrad = false`.
    ///
    /// At step `t`, the parameter first decays, then takes an Adam step with
    /// the raw gradient:
    ///
    /// ```text
    /// p ← p·(1 − lr·λ)
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²
    /// v̂ ← max(v̂, v)                                (amsgrad; else v̂ = v)
    /// p ← p − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
    /// ```
    ///
    /// State as [`Adam`]'s.
    ///
    /// # Errors
    ///
    /// As [`Adam`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{AdamW, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(2.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(0.0));
    /// let mut opt = AdamW::new(0.1).weight_decay(0.5);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// assert!((w.value().item()? - 2.0 * 0.95).abs() < 1e-12);   // only the decay acts
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    AdamW,
    AdamRule,
    AdamRule::new(0.004, true),
    0.001
);

adam_builders!(Adam);
adam_builders!(AdamW);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizers::kernels::proves;

    /// The proof of the kernel `rule` picks at step `t`, over `p`, `g`, `s`.
    struct Proves<'a> {
        p: &'a [f32],
        g: &'a [f32],
        s: &'a [&'a [f32]],
    }

    impl Pass<f32> for Proves<'_> {
        type Output = bool;
        fn run<const S: usize, K: Kernel<f32, S>>(self, k: K) -> bool {
            proves(k, self.p, self.g, self.s)
        }
    }

    fn proof(rule: &AdamRule, lr: f64, p: &[f32], g: &[f32], s: &[&[f32]]) -> bool {
        rule.kernel(&Step { lr, t: 3 }, Proves { p, g, s })
    }

    #[test]
    fn the_bias_corrections_of_a_step_are_computed_once_and_follow_the_betas() {
        let mut rule = AdamRule::new(0.0, false);
        let fresh = |r: &AdamRule, t: u64| {
            let b = Bias::new(t, r.beta_1, r.beta_2);
            (b.bias_1.to_bits(), b.bias_2_sqrt.to_bits())
        };
        let got = |r: &AdamRule, t: u64| {
            let b = r.bias(t);
            (b.bias_1.to_bits(), b.bias_2_sqrt.to_bits())
        };
        assert!(rule.bias.is_none());
        rule.begin_step(7);
        assert_eq!(rule.bias.map(|b| b.t), Some(7));
        assert_eq!(got(&rule, 7), fresh(&rule, 7));
        // Another step, or betas changed after `begin_step`: computed again.
        assert_eq!(got(&rule, 8), fresh(&rule, 8));
        assert_ne!(got(&rule, 8), got(&rule, 7));
        rule.beta_1 = 0.5;
        assert_eq!(got(&rule, 7), fresh(&rule, 7));
        rule.beta_1 = 0.9;
        rule.beta_2 = 0.9;
        assert_eq!(got(&rule, 7), fresh(&rule, 7));
    }

    #[test]
    fn the_proof_holds_for_ordinary_steps_and_not_where_a_value_could_overflow() {
        let n = 37; // two blocks of 16 and a tail
        let p: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.91).cos() * 0.1).collect();
        let m: Vec<f32> = g.iter().map(|x| x * 0.5).collect();
        let v: Vec<f32> = g.iter().map(|x| x * x).collect();
        let mut amsgrad = AdamRule::new(0.01, false);
        amsgrad.amsgrad = true;
        for rule in [
            AdamRule::new(0.0, false),
            AdamRule::new(0.01, true),
            amsgrad,
        ] {
            let s3 = [m.as_slice(), v.as_slice(), v.as_slice()];
            let s = &s3[..rule.slot_names().len()];
            assert!(proof(&rule, 1e-3, &p, &g, s), "{rule:?}");
            for at in [3, 36] {
                // A non-finite gradient, a negative or infinite velocity, a
                // parameter at the edge of the range with a large step.
                let mut bad = g.clone();
                bad[at] = f32::INFINITY;
                assert!(!proof(&rule, 1e-3, &p, &bad, s), "{rule:?} at {at}");
                for x in [-1.0, f32::INFINITY] {
                    let mut bad = v.clone();
                    bad[at] = x;
                    let s3 = [m.as_slice(), &bad, &bad];
                    let s = &s3[..rule.slot_names().len()];
                    assert!(!proof(&rule, 1e-3, &p, &g, s), "{rule:?} at {at}");
                }
                let mut big = p.clone();
                big[at] = f32::MAX;
                // (With lr = 1 the bound, about 4e6, is below half an ulp
                // of f32::MAX and the proof holds: rightly, p stays finite.)
                assert!(!proof(&rule, 1e26, &big, &g, s), "{rule:?} at {at}");
            }
            // A learning rate whose step could overflow: not proved (the
            // bound is |x| / ε, far above the true step here).
            assert!(!proof(&rule, 1e36, &p, &g, s), "{rule:?}");
        }
    }
}
