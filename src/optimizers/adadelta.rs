//! [`Adadelta`]: step sizes from running averages of squared gradients and
//! squared updates (Zeiler, 2012; PyTorch's formulation).

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, positive, unit_interval};
use super::json::f64_field;
use crate::element::Float;
use crate::error::Result;

/// Adadelta's hyperparameters.
#[derive(Clone, Debug)]
pub(crate) struct AdadeltaRule {
    rho: f64,
    epsilon: f64,
}

impl Rule for AdadeltaRule {
    fn name(&self) -> &'static str {
        "adadelta"
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["accumulated_grad", "accumulated_delta"]
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        unit_interval(op, "rho", self.rho)?;
        positive::<T>(op, "epsilon", self.epsilon)
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("rho".into(), json!(self.rho));
        map.insert("epsilon".into(), json!(self.epsilon));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        self.rho = f64_field(op, map, "rho", Some(self.rho))?;
        self.epsilon = f64_field(op, map, "epsilon", Some(self.epsilon))?;
        Ok(())
    }

    fn update<T: Float>(&self, step: &Step, p: &mut [T], g: &[T], s: &mut [Vec<T>]) {
        let lr = T::from_f64(step.lr);
        let rho = T::from_f64(self.rho);
        let eps = T::from_f64(self.epsilon);
        let n = p.len();
        let g = &g[..n]; // invariant: the caller checked g's shape is p's
        let (v, u) = s.split_at_mut(1);
        // invariant: every state slot is as long as p
        let (v, u) = (&mut v[0][..n], &mut u[0][..n]);
        for (((pi, &gi), vi), ui) in p.iter_mut().zip(g).zip(v.iter_mut()).zip(u.iter_mut()) {
            *vi = rho * *vi + (T::one() - rho) * gi * gi;
            let delta = (*ui + eps).sqrt() / (*vi + eps).sqrt() * gi;
            *ui = rho * *ui + (T::one() - rho) * delta * delta;
            *pi -= lr * delta;
        }
    }
}

optimizer!(
    /// Adadelta with PyTorch's update rule and Keras's defaults:
    /// `learning_rate = 0.001` (PyTorch's is 1.0), `rho = 0.95`,
    /// `epsilon = 1e-7`.
    ///
    /// For each parameter `p` with gradient `g` (`v`, `u` start at 0):
    ///
    /// ```text
    /// v ← ρ·v + (1 − ρ)·g²
    /// Δ ← √(u + ε) / √(v + ε) · g
    /// u ← ρ·u + (1 − ρ)·Δ²
    /// p ← p − lr·Δ
    /// ```
    ///
    /// State: `"accumulated_grad"` (`v`), `"accumulated_delta"` (`u`).
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if `rho` is outside `[0, 1)` or `epsilon` is
    /// negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adadelta, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(1.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(2.0));
    /// let mut opt = Adadelta::new(1.0).rho(0.0).epsilon(1e-4);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// // v = 4, Δ = √1e-4/√(4 + 1e-4)·2 ≈ 0.01.
    /// assert!((w.value().item()? - 0.99).abs() < 1e-6);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    Adadelta,
    AdadeltaRule,
    AdadeltaRule {
        rho: 0.95,
        epsilon: 1e-7
    },
    0.001
);

impl<T: Float> Adadelta<T> {
    /// Sets `ρ`, the decay of both running averages (default 0.95).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adadelta, Optimizer};
    ///
    /// assert_eq!(Adadelta::<f32>::new(1.0).rho(0.9).config()["rho"], 0.9);
    /// ```
    pub fn rho(mut self, rho: f64) -> Self {
        self.rule.rho = rho;
        self
    }

    /// Sets `ε` (default 1e-7).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adadelta, Optimizer};
    ///
    /// assert_eq!(Adadelta::<f32>::new(1.0).epsilon(1e-6).config()["epsilon"], 1e-6);
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}
