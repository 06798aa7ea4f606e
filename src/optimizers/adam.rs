//! [`Adam`] (with L2 weight decay, PyTorch's `Adam`) and [`AdamW`]
//! (decoupled weight decay, PyTorch's `AdamW`); both with AMSGrad.

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, non_negative, positive, unit_interval};
use super::json::{bool_field, f64_field};
use super::kernels::{Kernel, Pass};
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

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let t = step.t as f64;
        let bias_1 = 1.0 - self.beta_1.powf(t);
        let (b1, b2) = (T::from_f64(self.beta_1), T::from_f64(self.beta_2));
        let (l2, shrink) = if self.decoupled {
            (T::zero(), T::from_f64(1.0 - step.lr * self.weight_decay))
        } else {
            (T::from_f64(self.weight_decay), T::one())
        };
        let k = AdamKernel {
            shrink,
            l2,
            one_minus_b1: T::one() - b1,
            b2,
            one_minus_b2: T::one() - b2,
            step_size: T::from_f64(step.lr / bias_1),
            bias_2_sqrt: T::from_f64((1.0 - self.beta_2.powf(t)).sqrt()),
            eps: T::from_f64(self.epsilon),
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
}

impl<T: Float> Kernel<T, 2> for AdamKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, s: &mut [T; 2]) -> T {
        let [m, v] = s;
        let p = self.moments(p, g, m, v);
        self.apply(p, *m, *v)
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
