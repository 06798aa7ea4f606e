//! Regression losses: mean squared error, mean absolute error and Huber.

use serde_json::{Value, json};

use super::{Loss, align, check_delta, per_sample_mean};
use crate::element::Float;
use crate::error::Result;
use crate::tape::Var;

/// Mean squared error: per sample `mean((y_pred - y_true)²)` over the
/// non-batch axes (Keras `MeanSquaredError`, PyTorch `MSELoss`). The squared
/// difference is one fused node ([`Var::squared_difference`]).
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{Loss, MeanSquaredError};
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let y_pred = tape.watch(&Tensor::from_vec(vec![0.0f32, 2.0], &[2, 1])?);
/// let y_true = tape.constant(&Tensor::from_vec(vec![1.0f32, 0.0], &[2, 1])?);
/// assert_eq!(MeanSquaredError.call(y_pred, y_true)?.value().item()?, 2.5);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanSquaredError;

impl<T: Float> Loss<T> for MeanSquaredError {
    fn name(&self) -> &'static str {
        "mean_squared_error"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        let y_true = align("mean_squared_error", y_pred, y_true)?;
        per_sample_mean(y_pred.squared_difference(&y_true)?)
    }

    fn config(&self) -> Value {
        json!({ "name": "mean_squared_error" })
    }
}

/// Mean absolute error: per sample `mean(|y_pred - y_true|)` (Keras
/// `MeanAbsoluteError`, PyTorch `L1Loss`). The gradient at `y_pred == y_true`
/// is 0.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{Loss, MeanAbsoluteError};
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let y_pred = tape.watch(&Tensor::from_vec(vec![0.0f32, 2.0, 1.0, 1.0], &[2, 2])?);
/// let y_true = tape.constant(&Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 1.0], &[2, 2])?);
/// let per = MeanAbsoluteError.per_sample(y_pred, y_true)?;
/// assert_eq!(per.value().to_vec(), vec![1.5, 0.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanAbsoluteError;

impl<T: Float> Loss<T> for MeanAbsoluteError {
    fn name(&self) -> &'static str {
        "mean_absolute_error"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        let y_true = align("mean_absolute_error", y_pred, y_true)?;
        per_sample_mean(y_pred.sub(&y_true)?.abs())
    }

    fn config(&self) -> Value {
        json!({ "name": "mean_absolute_error" })
    }
}

/// Huber loss: with `e = y_pred - y_true`, elementwise `½ e²` where
/// `|e| <= delta` and `delta · (|e| - ½ delta)` elsewhere, averaged per
/// sample (Keras `Huber`, PyTorch `HuberLoss`; the two agree).
///
/// Computed as `½ q² + delta · (|e| - q)` with `q = min(|e|, delta)`, whose
/// gradient is `e` inside and `delta · sign(e)` outside.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{Huber, Loss};
/// use tapeflow::{GradientTape, Tensor};
///
/// assert_eq!(Huber::default().delta, 1.0);
/// let tape = GradientTape::new();
/// let y_pred = tape.watch(&Tensor::from_vec(vec![0.5f64, -3.0], &[2])?);
/// let y_true = tape.constant(&Tensor::zeros(&[2])?);
/// let per = Huber::new(2.0).per_sample(y_pred, y_true)?;
/// assert_eq!(per.value().to_vec(), vec![0.125, 4.0]);       // ½·0.25; 2·(3 - 1)
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Huber {
    /// The threshold between the quadratic and the linear part; positive.
    /// Default `1.0`.
    pub delta: f64,
}

impl Default for Huber {
    fn default() -> Self {
        Huber { delta: 1.0 }
    }
}

impl Huber {
    /// The Huber loss with threshold `delta` (Keras's `Huber(delta)`,
    /// PyTorch's `HuberLoss(delta=...)`; [`Huber::default`] has
    /// `delta = 1`).
    ///
    /// # Errors
    ///
    /// None here; a `delta` that is not positive and finite makes the loss
    /// return [`Error::InvalidArgument`](crate::Error::InvalidArgument)
    /// when used.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::Huber;
    ///
    /// assert_eq!(Huber::new(2.0), Huber { delta: 2.0 });
    /// assert_eq!(Huber::new(1.0), Huber::default());
    /// ```
    pub fn new(delta: f64) -> Self {
        Huber { delta }
    }
}

impl<T: Float> Loss<T> for Huber {
    fn name(&self) -> &'static str {
        "huber"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        check_delta::<T>("huber", self.delta)?;
        let y_true = align("huber", y_pred, y_true)?;
        let delta = T::from_f64(self.delta);
        let a = y_pred.sub(&y_true)?.abs();
        let q = a.clip_by_value(T::zero(), delta);
        let linear = a.sub(&q)?.mul_scalar(delta);
        per_sample_mean(q.square().mul_scalar(T::from_f64(0.5)).add(&linear)?)
    }

    fn config(&self) -> Value {
        json!({ "name": "huber", "delta": self.delta })
    }
}
