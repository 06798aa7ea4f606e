//! [`Lion`]: sign-based updates from an interpolated momentum (Chen et al.,
//! 2023, "Symbolic Discovery of Optimization Algorithms").

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, non_negative, unit_interval};
use super::json::f64_field;
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

    fn update<T: Float>(&self, step: &Step, p: &mut [T], g: &[T], s: &mut [Vec<T>]) {
        let lr = T::from_f64(step.lr);
        let (b1, b2) = (T::from_f64(self.beta_1), T::from_f64(self.beta_2));
        let wd = T::from_f64(self.weight_decay);
        let n = p.len();
        let g = &g[..n]; // invariant: the caller checked g's shape is p's
        let m = &mut s[0][..n]; // invariant: the one state slot is as long as p
        for ((pi, &gi), mi) in p.iter_mut().zip(g).zip(m.iter_mut()) {
            let c = b1 * *mi + (T::one() - b1) * gi;
            *pi -= lr * (sign(c) + wd * *pi);
            *mi = b2 * *mi + (T::one() - b2) * gi;
        }
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
