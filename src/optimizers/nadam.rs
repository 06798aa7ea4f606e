//! [`Nadam`]: Adam with Nesterov momentum, in PyTorch's `NAdam` formulation
//! (momentum decay `ψ = 0.004`).

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, positive, unit_interval};
use super::json::f64_field;
use super::kernels::{Kernel, Pass};
use crate::element::Float;
use crate::error::Result;

/// PyTorch's default `momentum_decay` ψ.
const MOMENTUM_DECAY: f64 = 0.004;

/// Nadam's hyperparameters and the running product of the `μ`s.
#[derive(Clone, Debug)]
pub(crate) struct NadamRule {
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    /// `Π_{i ≤ mu_step} μ_i`, a cache derived from the step count.
    mu_product: f64,
    mu_step: u64,
}

impl NadamRule {
    /// `μ_t = β₁·(1 − ½·0.96^(t·ψ))`.
    fn mu(&self, t: u64) -> f64 {
        self.beta_1 * (1.0 - 0.5 * 0.96f64.powf(t as f64 * MOMENTUM_DECAY))
    }
}

impl Rule for NadamRule {
    fn name(&self) -> &'static str {
        "nadam"
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum", "velocity"]
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        unit_interval(op, "beta_1", self.beta_1)?;
        unit_interval(op, "beta_2", self.beta_2)?;
        positive::<T>(op, "epsilon", self.epsilon)
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("beta_1".into(), json!(self.beta_1));
        map.insert("beta_2".into(), json!(self.beta_2));
        map.insert("epsilon".into(), json!(self.epsilon));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        self.beta_1 = f64_field(op, map, "beta_1", Some(self.beta_1))?;
        self.beta_2 = f64_field(op, map, "beta_2", Some(self.beta_2))?;
        self.epsilon = f64_field(op, map, "epsilon", Some(self.epsilon))?;
        Ok(())
    }

    fn begin_step(&mut self, t: u64) {
        if self.mu_step.checked_add(1) == Some(t) {
            self.mu_product *= self.mu(t);
        } else {
            // After loading state (or a change of beta_1): recompute. The
            // product underflows to 0 within a few thousand steps, so the
            // loop stops early.
            self.mu_product = 1.0;
            for i in 1..=t {
                self.mu_product *= self.mu(i);
                if self.mu_product == 0.0 {
                    break;
                }
            }
        }
        self.mu_step = t;
    }

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let t = step.t;
        let (mu, mu_next) = (self.mu(t), self.mu(t + 1));
        let (b1, b2) = (T::from_f64(self.beta_1), T::from_f64(self.beta_2));
        pass.run::<2, _>(NadamKernel {
            grad_coef: T::from_f64(-step.lr * (1.0 - mu) / (1.0 - self.mu_product)),
            m_coef: T::from_f64(-step.lr * mu_next / (1.0 - self.mu_product * mu_next)),
            bias_2: T::from_f64(1.0 - self.beta_2.powf(t as f64)),
            one_minus_b1: T::one() - b1,
            b2,
            one_minus_b2: T::one() - b2,
            eps: T::from_f64(self.epsilon),
        })
    }
}

/// NAdam's update of one element; slots `m`, `v`.
#[derive(Clone, Copy)]
struct NadamKernel<T> {
    grad_coef: T,
    m_coef: T,
    bias_2: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    eps: T,
}

impl<T: Float> Kernel<T, 2> for NadamKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [m, v]: &mut [T; 2]) -> T {
        *m = *m + self.one_minus_b1 * (g - *m);
        *v = self.b2 * *v + self.one_minus_b2 * g * g;
        let denom = (*v / self.bias_2).sqrt() + self.eps;
        let p = p + self.grad_coef * g / denom;
        p + self.m_coef * *m / denom
    }
}

optimizer!(
    /// Nadam (Dozat, 2016) as PyTorch's `NAdam` defines it (momentum decay
    /// `ψ = 0.004`, no weight decay), with Keras's defaults:
    /// `learning_rate = 0.001`, `beta_1 = 0.9`, `beta_2 = 0.999`,
    /// `epsilon = 1e-7`.
    ///
    /// At step `t` (1-based), with `μ_t = β₁·(1 − ½·0.96^(t·ψ))` and
    /// `Π_t = μ_1·…·μ_t`:
    ///
    /// ```text
    /// m ← β₁·m + (1 − β₁)·g
    /// v ← β₂·v + (1 − β₂)·g²
    /// d ← √(v / (1 − β₂ᵗ)) + ε
    /// p ← p − lr·(1 − μ_t)/(1 − Π_t) · g/d − lr·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/d
    /// ```
    ///
    /// Keras's `Nadam` uses `0.96^t` (no `ψ`) and so differs from this one.
    /// `Π_t` is derived from the step count, not saved. State:
    /// `"momentum"` (`m`), `"velocity"` (`v`).
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if a beta is outside `[0, 1)` or `epsilon` is
    /// negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Nadam, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(1.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(3.0));
    /// let mut opt = Nadam::new(0.1);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// assert!(w.value().item()? < 1.0);
    /// assert_eq!(opt.name(), "nadam");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    Nadam,
    NadamRule,
    NadamRule {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
        mu_product: 1.0,
        mu_step: 0,
    },
    0.001
);

impl<T: Float> Nadam<T> {
    /// Sets `β₁` (default 0.9).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Nadam, Optimizer};
    ///
    /// assert_eq!(Nadam::<f32>::new(0.001).beta_1(0.8).config()["beta_1"], 0.8);
    /// ```
    pub fn beta_1(mut self, beta_1: f64) -> Self {
        self.rule.beta_1 = beta_1;
        self.rule.mu_step = u64::MAX;
        self
    }

    /// Sets `β₂` (default 0.999).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Nadam, Optimizer};
    ///
    /// assert_eq!(Nadam::<f32>::new(0.001).beta_2(0.99).config()["beta_2"], 0.99);
    /// ```
    pub fn beta_2(mut self, beta_2: f64) -> Self {
        self.rule.beta_2 = beta_2;
        self
    }

    /// Sets `ε` (default 1e-7).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Nadam, Optimizer};
    ///
    /// assert_eq!(Nadam::<f32>::new(0.001).epsilon(1e-8).config()["epsilon"], 1e-8);
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}
