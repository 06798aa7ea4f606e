//! [`Adagrad`]: per-element learning rates from the sum of squared
//! gradients (PyTorch's formulation).

use serde_json::{Map, Value, json};

use super::core::{Rule, Step, non_negative, positive};
use super::json::f64_field;
use super::kernels::{Kernel, Pass};
use crate::element::Float;
use crate::error::Result;

/// Adagrad's hyperparameters.
#[derive(Clone, Debug)]
pub(crate) struct AdagradRule {
    initial_accumulator_value: f64,
    epsilon: f64,
}

impl Rule for AdagradRule {
    fn name(&self) -> &'static str {
        "adagrad"
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["accumulator"]
    }

    fn slot_init(&self) -> f64 {
        self.initial_accumulator_value
    }

    fn validate<T: Float>(&self) -> Result<()> {
        let op = self.name();
        non_negative::<T>(
            op,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        positive::<T>(op, "epsilon", self.epsilon)
    }

    fn write_config(&self, map: &mut Map<String, Value>) {
        map.insert(
            "initial_accumulator_value".into(),
            json!(self.initial_accumulator_value),
        );
        map.insert("epsilon".into(), json!(self.epsilon));
    }

    fn read_config(&mut self, map: &Map<String, Value>) -> Result<()> {
        let op = "from_config";
        let init = Some(self.initial_accumulator_value);
        self.initial_accumulator_value = f64_field(op, map, "initial_accumulator_value", init)?;
        self.epsilon = f64_field(op, map, "epsilon", Some(self.epsilon))?;
        Ok(())
    }

    fn kernel<T: Float, P: Pass<T>>(&self, step: &Step, pass: P) -> P::Output {
        pass.run::<1, _>(AdagradKernel {
            lr: T::from_f64(step.lr),
            eps: T::from_f64(self.epsilon),
        })
    }
}

/// Adagrad's update of one element; the slot is the accumulator.
#[derive(Clone, Copy)]
struct AdagradKernel<T> {
    lr: T,
    eps: T,
}

impl<T: Float> Kernel<T, 1> for AdagradKernel<T> {
    #[inline(always)]
    fn step(&self, p: T, g: T, [a]: &mut [T; 1]) -> T {
        *a += g * g;
        p - self.lr * g / (a.sqrt() + self.eps)
    }
}

optimizer!(
    /// Adagrad (Duchi et al., 2011) with PyTorch's update rule (no
    /// learning-rate decay) and Keras's defaults: `learning_rate = 0.001`,
    /// `initial_accumulator_value = 0.1`, `epsilon = 1e-7`.
    ///
    /// For each parameter `p` with gradient `g` (`A` starts at
    /// `initial_accumulator_value`):
    ///
    /// ```text
    /// A ← A + g²
    /// p ← p − lr · g / (√A + ε)
    /// ```
    ///
    /// PyTorch's placement of `ε` (outside the root; Keras adds it under the
    /// root). State: `"accumulator"` (`A`).
    ///
    /// # Errors
    ///
    /// `apply_gradients` fails if `initial_accumulator_value` or `epsilon`
    /// is negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adagrad, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::scalar(1.0f64));
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::scalar(3.0));
    /// let mut opt = Adagrad::new(0.5).initial_accumulator_value(7.0);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// // A = 7 + 9 = 16, so p moves by 0.5·3/4.
    /// assert!((w.value().item()? - 0.625).abs() < 1e-7);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    Adagrad,
    AdagradRule,
    AdagradRule {
        initial_accumulator_value: 0.1,
        epsilon: 1e-7
    },
    0.001
);

impl<T: Float> Adagrad<T> {
    /// Sets the accumulator's starting value (default 0.1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adagrad, Optimizer};
    ///
    /// let opt = Adagrad::<f32>::new(0.01).initial_accumulator_value(0.0);
    /// assert_eq!(opt.config()["initial_accumulator_value"], 0.0);
    /// ```
    pub fn initial_accumulator_value(mut self, value: f64) -> Self {
        self.rule.initial_accumulator_value = value;
        self
    }

    /// Sets `ε` (default 1e-7).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adagrad, Optimizer};
    ///
    /// assert_eq!(Adagrad::<f32>::new(0.01).epsilon(1e-10).config()["epsilon"], 1e-10);
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.rule.epsilon = epsilon;
        self
    }
}
