//! [`Lion`]: sign-based updates from an interpolated momentum (Chen et al.,
//! 2023, "Symbolic Discovery of Optimization Algorithms").

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, non_negative, unit_interval};
use super::json::f64_field;
use super::kernels::{Kernel, Pass};
use crate::element::Float;
use crate::error::Result;

/// Lion's hyperparameters.
#[derive(Clone, Debug)]
pub(crate) struct LionRule {
    beta_1: f64,
    beta_2: f64,
    weight_decay: f64,
}

/// The sign of `x`, with `sign(0) = 0` (NumPy's and the paper's, not
/// `f64::signum`, which gives 1 for +0).
#[inline(always)]
fn sign<T: Float>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        x
    }
}

impl Rule for LionRule {
    fn name(&self) -> &'static str {
        "lion"
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["momentum"]
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        unit_interval(op, "beta_1", self.beta_1)?;
        unit_interval(op, "beta_2", self.beta_2)?;
        non_negative::<T>(op, "weight_decay", self.weight_decay)
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("beta_1".into(), json!(self.beta_1));
        map.insert("beta_2".into(), json!(self.beta_2));
        map.insert("weight_decay".into(), json!(self.weight_decay));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        self.beta_1 = f64_field(op, map, "beta_1", Some(self.beta_1))?;
        self.beta_2 = f64_field(op, map, "beta_2", Some(self.beta_2))?;
        self.weight_decay = f64_field(op, map, "weight_decay", Some(self.weight_decay))?;
        Ok(())
    }

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let (b1, b2) = (T::from_f64(self.beta_1), T::from_f64(self.beta_2));
        pass.run::<1, _>(LionKernel {
            lr: T::from_f64(step.lr),
            b1,
            one_minus_b1: T::one() - b1,
            b2,
            one_minus_b2: T::one() - b2,
            wd: T::from_f64(self.weight_decay),
        })
    }
}

/// Lion's update of one element; the slot is the momentum `m`.
#[derive(Clone, Copy)]
struct LionKernel<T> {
    lr: T,
    b1: T,
    one_minus_b1: T,
    b2: T,
    one_minus_b2: T,
    wd: T,
}

impl<T: Float> Kernel<T, 1> for LionKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [m]: &mut [T; 1]) -> T {
        let c = self.b1 * *m + self.one_minus_b1 * g;
        let p = p - self.lr * (sign(c) + self.wd * p);
        *m = self.b2 * *m + self.one_minus_b2 * g;
        p
    }
}

optimizer!(
    /// Lion, as the paper's pseudo-code (Chen et al., 2023, Algorithm 2),
    /// with Keras's defaults: `learning_rate = 1e-4`, `beta_1 = 0.9`,
    /// `beta_2 = 0.99`, `weight_decay = 0`.
    ///
    /// For each parameter `p` with gradient `g` (`m` starts at 0):
    ///
    /// ```text
    /// c ← β₁·m + (1 − β₁)·g
    /// p ← p − lr·(sign(c) + λ·p)          (sign(0) = 0)
    /// m ← β₂·m + (1 − β₂)·g
    /// ```
    ///
    /// Every element moves by exactly `lr` (plus the decay), so Lion wants a
    /// learning rate 3–10× smaller than Adam's. State: `"momentum"` (`m`).
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if a beta is outside `[0, 1)` or
    /// `weight_decay` is negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Lion, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::from_vec(vec![1.0f64, 1.0, 1.0], &[3])?);
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::from_vec(vec![-5.0, 0.0, 0.1], &[3])?);
    /// Lion::new(0.1).apply_gradients(&grads, &mut [&mut w])?;
    /// let p = w.value().to_vec();
    /// assert!((p[0] - 1.1).abs() < 1e-12 && p[1] == 1.0 && (p[2] - 0.9).abs() < 1e-12);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    Lion,
    LionRule,
    LionRule {
        beta_1: 0.9,
        beta_2: 0.99,
        weight_decay: 0.0
    },
    1e-4
);

impl<T: Float> Lion<T> {
    /// Sets `β₁`, the interpolation used for the update's sign (default 0.9).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Lion, Optimizer};
    ///
    /// assert_eq!(Lion::<f32>::new(1e-4).beta_1(0.95).config()["beta_1"], 0.95);
    /// ```
    pub fn beta_1(mut self, beta_1: f64) -> Self {
        self.rule.beta_1 = beta_1;
        self
    }

    /// Sets `β₂`, the decay of the momentum (default 0.99).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Lion, Optimizer};
    ///
    /// assert_eq!(Lion::<f32>::new(1e-4).beta_2(0.98).config()["beta_2"], 0.98);
    /// ```
    pub fn beta_2(mut self, beta_2: f64) -> Self {
        self.rule.beta_2 = beta_2;
        self
    }

    /// Sets the decoupled weight decay `λ` (default 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Lion, Optimizer};
    ///
    /// assert_eq!(Lion::<f32>::new(1e-4).weight_decay(0.1).config()["weight_decay"], 0.1);
    /// ```
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.rule.weight_decay = weight_decay;
        self
    }
}
