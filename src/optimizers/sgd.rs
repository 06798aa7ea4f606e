//! [`Sgd`]: stochastic gradient descent with optional momentum, Nesterov
//! momentum and L2 weight decay (PyTorch's formulation).

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, check, non_negative, unit_interval};
use super::json::{bool_field, f64_field};
use super::kernels::{Kernel, Pass};
use crate::element::Float;
use crate::error::Result;

/// SGD's hyperparameters.
#[derive(Clone, Debug)]
pub(crate) struct SgdRule {
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
}

impl Rule for SgdRule {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn slot_names(&self) -> &'static [&'static str] {
        if self.momentum > 0.0 {
            &["momentum"]
        } else {
            &[]
        }
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        unit_interval(op, "momentum", self.momentum)?;
        non_negative::<T>(op, "weight_decay", self.weight_decay)?;
        check(
            op,
            !self.nesterov || self.momentum > 0.0,
            "momentum",
            "> 0 with nesterov",
            self.momentum,
        )
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("momentum".into(), json!(self.momentum));
        map.insert("nesterov".into(), json!(self.nesterov));
        map.insert("weight_decay".into(), json!(self.weight_decay));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        self.momentum = f64_field(op, map, "momentum", Some(self.momentum))?;
        self.nesterov = bool_field(op, map, "nesterov", self.nesterov)?;
        self.weight_decay = f64_field(op, map, "weight_decay", Some(self.weight_decay))?;
        Ok(())
    }

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let k = SgdKernel {
            lr: T::from_f64(step.lr),
            mu: T::from_f64(self.momentum),
            wd: T::from_f64(self.weight_decay),
            nesterov: self.nesterov,
        };
        if self.momentum > 0.0 {
            pass.run::<1, _>(k)
        } else {
            pass.run::<0, _>(k)
        }
    }
}

/// SGD's update of one element, without (`S = 0`) or with a momentum buffer.
#[derive(Clone, Copy)]
struct SgdKernel<T> {
    lr: T,
    mu: T,
    wd: T,
    nesterov: bool,
}

impl<T: Float> Kernel<T, 0> for SgdKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, _s: &mut [T; 0]) -> T {
        p - self.lr * (g + self.wd * p)
    }
}

impl<T: Float> Kernel<T, 1> for SgdKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, s: &mut [T; 1]) -> T {
        let d = g + self.wd * p;
        s[0] = self.mu * s[0] + d;
        let d = if self.nesterov {
            d + self.mu * s[0]
        } else {
            s[0]
        };
        p - self.lr * d
    }
}

optimizer!(
    /// Stochastic gradient descent, with PyTorch's update rule and Keras's
    /// defaults (`learning_rate = 0.01`, `momentum = 0`, `nesterov = false`,
    /// `weight_decay = 0`).
    ///
    /// For each parameter `p` with gradient `g` (`λ` weight decay, `μ`
    /// momentum, `b` the momentum buffer, starting at 0):
    ///
    /// ```text
    /// g ← g + λ·p
    /// b ← μ·b + g                       (if μ > 0)
    /// d ← g + μ·b  if nesterov, else b  (d = g if μ = 0)
    /// p ← p − lr·d
    /// ```
    ///
    /// Unlike Keras (`v ← μ·v − lr·g`), the learning rate multiplies the
    /// buffer when it is applied, so changing the learning rate takes effect
    /// at once. State: `"momentum"` (only if `μ > 0`).
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if `momentum` is outside `[0, 1)`,
    /// `weight_decay` is negative, or `nesterov` is set with `momentum = 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(1.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(2.0));
    /// let mut opt = Sgd::new(0.1).momentum(0.5);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;   // b = 2,   p = 1 − 0.2
    /// opt.apply_gradients(&grads, &mut [&mut w])?;   // b = 3,   p = 0.8 − 0.3
    /// assert!((w.value().item()? - 0.5).abs() < 1e-12);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    Sgd,
    SgdRule,
    SgdRule {
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0
    },
    0.01
);

impl<T: Float> Sgd<T> {
    /// Sets the momentum `μ` (default 0, none).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    ///
    /// assert_eq!(Sgd::<f32>::new(0.1).momentum(0.9).config()["momentum"], 0.9);
    /// ```
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.rule.momentum = momentum;
        self
    }

    /// Uses Nesterov momentum (default false; needs `momentum > 0`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    ///
    /// let opt = Sgd::<f32>::new(0.1).momentum(0.9).nesterov(true);
    /// assert_eq!(opt.config()["nesterov"], true);
    /// ```
    pub fn nesterov(mut self, nesterov: bool) -> Self {
        self.rule.nesterov = nesterov;
        self
    }

    /// Sets the L2 weight decay `λ` added to the gradient as `λ·p` (default 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    ///
    /// assert_eq!(Sgd::<f32>::new(0.1).weight_decay(1e-4).config()["weight_decay"], 1e-4);
    /// ```
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        self.rule.weight_decay = weight_decay;
        self
    }
}
