//! [`Adadelta`]: step sizes from running averages of squared gradients and
//! squared updates (Zeiler, 2012; PyTorch's formulation).

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, positive, unit_interval};
use super::json::f64_field;
use super::kernels::{Kernel, Pass};
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

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let rho = T::from_f64(self.rho);
        pass.run::<2, _>(AdadeltaKernel {
            lr: T::from_f64(step.lr),
            rho,
            one_minus_rho: T::one() - rho,
            eps: T::from_f64(self.epsilon),
        })
    }
}

/// Adadelta's update of one element; slots `v` (accumulated gradient) and
/// `u` (accumulated delta).
#[derive(Clone, Copy)]
struct AdadeltaKernel<T> {
    lr: T,
    rho: T,
    one_minus_rho: T,
    eps: T,
}

impl<T: Float> Kernel<T, 2> for AdadeltaKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [v, u]: &mut [T; 2]) -> T {
        *v = self.rho * *v + self.one_minus_rho * g * g;
        let delta = (*u + self.eps).sqrt() / (*v + self.eps).sqrt() * g;
        *u = self.rho * *u + self.one_minus_rho * delta * delta;
        p - self.lr * delta
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
