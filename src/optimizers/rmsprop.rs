//! [`RmsProp`]: RMSprop with optional momentum and centring (PyTorch's
//! formulation).

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, positive, unit_interval};
use super::json::{bool_field, f64_field};
use super::kernels::{Kernel, Pass};
use crate::element::Float;
use crate::error::Result;

/// RMSprop's hyperparameters.
#[derive(Clone, Debug)]
pub(crate) struct RmsPropRule {
    rho: f64,
    momentum: f64,
    epsilon: f64,
    centered: bool,
}

impl Rule for RmsPropRule {
    fn name(&self) -> &'static str {
        "rmsprop"
    }

    fn slot_names(&self) -> &'static [&'static str] {
        match (self.momentum > 0.0, self.centered) {
            (false, false) => &["velocity"],
            (true, false) => &["velocity", "momentum"],
            (false, true) => &["velocity", "average_gradient"],
            (true, true) => &["velocity", "momentum", "average_gradient"],
        }
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        unit_interval(op, "rho", self.rho)?;
        unit_interval(op, "momentum", self.momentum)?;
        positive::<T>(op, "epsilon", self.epsilon)
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert("rho".into(), json!(self.rho));
        map.insert("momentum".into(), json!(self.momentum));
        map.insert("epsilon".into(), json!(self.epsilon));
        map.insert("centered".into(), json!(self.centered));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        self.rho = f64_field(op, map, "rho", Some(self.rho))?;
        self.momentum = f64_field(op, map, "momentum", Some(self.momentum))?;
        self.epsilon = f64_field(op, map, "epsilon", Some(self.epsilon))?;
        self.centered = bool_field(op, map, "centered", self.centered)?;
        Ok(())
    }

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        let rho = T::from_f64(self.rho);
        let k = RmsKernel {
            lr: T::from_f64(step.lr),
            rho,
            one_minus_rho: T::one() - rho,
            mu: T::from_f64(self.momentum),
            eps: T::from_f64(self.epsilon),
        };
        match (self.momentum > 0.0, self.centered) {
            (false, false) => pass.run::<1, _>(RmsPlain(k)),
            (true, false) => pass.run::<2, _>(RmsMomentum(k)),
            (false, true) => pass.run::<2, _>(RmsCentered(k)),
            (true, true) => pass.run::<3, _>(RmsMomentumCentered(k)),
        }
    }
}

/// RMSprop's constants; the four kernels below differ in their slots
/// (`velocity`, then `momentum` if any, then `average_gradient` if centered).
#[derive(Clone, Copy)]
struct RmsKernel<T> {
    lr: T,
    rho: T,
    one_minus_rho: T,
    mu: T,
    eps: T,
}

impl<T: Float> RmsKernel<T> {
    /// Updates `v` (and the average gradient `a`); returns `g / (√var + ε)`.
    #[inline(always)]
    fn direction(&self, g: T, v: &mut T, a: Option<&mut T>) -> T {
        *v = self.rho * *v + self.one_minus_rho * g * g;
        let var = match a {
            Some(a) => {
                *a = *a + self.one_minus_rho * (g - *a);
                // v - a² is a variance: rounding can make it slightly
                // negative, whose square root would be NaN.
                (*v - *a * *a).max(T::zero())
            }
            None => *v,
        };
        g / (var.sqrt() + self.eps)
    }

    /// `p − lr·d`, or with momentum `b ← μ·b + d; p − lr·b`.
    #[inline(always)]
    fn apply(&self, p: T, d: T, b: Option<&mut T>) -> T {
        match b {
            Some(b) => {
                *b = self.mu * *b + d;
                p - self.lr * *b
            }
            None => p - self.lr * d,
        }
    }
}

#[derive(Clone, Copy)]
struct RmsPlain<T>(RmsKernel<T>);
#[derive(Clone, Copy)]
struct RmsMomentum<T>(RmsKernel<T>);
#[derive(Clone, Copy)]
struct RmsCentered<T>(RmsKernel<T>);
#[derive(Clone, Copy)]
struct RmsMomentumCentered<T>(RmsKernel<T>);

impl<T: Float> Kernel<T, 1> for RmsPlain<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [v]: &mut [T; 1]) -> T {
        let d = self.0.direction(g, v, None);
        self.0.apply(p, d, None)
    }
}

impl<T: Float> Kernel<T, 2> for RmsMomentum<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [v, b]: &mut [T; 2]) -> T {
        let d = self.0.direction(g, v, None);
        self.0.apply(p, d, Some(b))
    }
}

impl<T: Float> Kernel<T, 2> for RmsCentered<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [v, a]: &mut [T; 2]) -> T {
        let d = self.0.direction(g, v, Some(a));
        self.0.apply(p, d, None)
    }
}

impl<T: Float> Kernel<T, 3> for RmsMomentumCentered<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [v, b, a]: &mut [T; 3]) -> T {
        let d = self.0.direction(g, v, Some(a));
        self.0.apply(p, d, Some(b))
    }
}

optimizer!(
    /// RMSprop (Hinton, 2012) with PyTorch's update rule and Keras's
    /// defaults: `learning_rate = 0.001`, `rho = 0.9`, `momentum = 0`,
    /// `epsilon = 1e-7`, `centered = false`.
    ///
    /// For each parameter `p` with gradient `g` (`v`, `a`, `b` start at 0):
    ///
    /// ```text
    /// v ← ρ·v + (1 − ρ)·g²
    /// a ← ρ·a + (1 − ρ)·g;  s ← v − a²         (centered; else s = v)
    /// d ← g / (√s + ε)
    /// b ← μ·b + d;  p ← p − lr·b               (if μ > 0; else p ← p − lr·d)
    /// ```
    ///
    /// PyTorch's placement of `ε` (outside the root); Keras adds it under
    /// the root. State: `"velocity"` (`v`), `"momentum"` (`b`, if `μ > 0`),
    /// `"average_gradient"` (`a`, if centered).
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if `rho` or `momentum` is outside `[0, 1)` or
    /// `epsilon` is negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, RmsProp};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(1.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(2.0));
    /// let mut opt = RmsProp::new(0.01).rho(0.75);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// // v = 0.25·4 = 1, so p moves by lr·2/(1 + ε).
    /// assert!((w.value().item()? - 0.98).abs() < 1e-8);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    RmsProp,
    RmsPropRule,
    RmsPropRule {
        rho: 0.9,
        momentum: 0.0,
        epsilon: 1e-7,
        centered: false
    },
    0.001
);

impl<T: Float> RmsProp<T> {
    /// Sets `ρ`, the decay of the squared-gradient average (default 0.9).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, RmsProp};
    ///
    /// assert_eq!(RmsProp::<f32>::new(0.001).rho(0.8).config()["rho"], 0.8);
    /// ```
    pub fn rho(mut self, rho: f64) -> Self {
        self.rule.rho = rho;
        self
    }

    /// Sets the momentum `μ` (default 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, RmsProp};
    ///
    /// assert_eq!(RmsProp::<f32>::new(0.001).momentum(0.5).config()["momentum"], 0.5);
    /// ```
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.rule.momentum = momentum;
        self
    }

    /// Sets `ε` (default 1e-7).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, RmsProp};
    ///
    /// assert_eq!(RmsProp::<f32>::new(0.001).epsilon(1e-6).config()["epsilon"], 1e-6);
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }

    /// Normalises by the estimated variance `v − a²` instead of `v`
    /// (default false).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, RmsProp};
    ///
    /// assert_eq!(RmsProp::<f32>::new(0.001).centered(true).config()["centered"], true);
    /// ```
    pub fn centered(mut self, centered: bool) -> Self {
        self.rule.centered = centered;
        self
    }
}
