//! Loss functions: the [`Loss`] trait, one struct per loss with its settings
//! (Keras's names and defaults), plain functions for custom training loops
//! ([`mse`], [`binary_crossentropy`], …) and [`from_config`].
//!
//! This module owns the loss formulas and their conventions; the fused,
//! numerically stable kernels they use (softmax and sigmoid cross-entropy
//! from logits, squared difference) are ops on [`Var`] in
//! [`ops`](crate::ops). It uses only the public `Var` API.
//!
//! # Conventions (Keras's)
//!
//! - **Argument order** is `(y_pred, y_true)` everywhere, as in
//!   `losses::mse(&pred, &tape.constant(&y))` (Keras writes `(y_true, y_pred)`;
//!   PyTorch writes `(input, target)`, which is our order).
//! - **Reduction**: [`Loss::per_sample`] gives one value per sample, shape
//!   `[batch]`: the mean over every non-batch axis of the elementwise loss
//!   (for the cross-entropies over a class axis, the sum over the last axis
//!   first). [`Loss::call`] and the plain functions return the mean over the
//!   batch: Keras's default `"sum_over_batch_size"` reduction, PyTorch's
//!   `reduction="mean"`.
//! - **Shapes**: `y_pred` and `y_true` must have the same shape, except that
//!   `[batch]` and `[batch, 1]` are accepted together (the labels are
//!   reshaped to the prediction's shape, like Keras's
//!   `squeeze_or_expand_to_same_rank`; NumPy broadcasting would silently
//!   make a `[batch, batch]` loss).
//! - **Probabilities** (`from_logits = false`) are clipped to
//!   `[ε, 1 - ε]` with `ε = 1e-7` ([`EPSILON`]) before the logarithm, so
//!   probabilities of exactly 0 or 1 give finite losses (PyTorch's
//!   `BCELoss` instead clamps the log at -100). The gradient is zero where
//!   clipping is active.
//! - **Logits** (`from_logits = true`) use the log-sum-exp and log-sigmoid
//!   forms, so logits of ±100 give finite, exact losses and gradients.
//! - **Label smoothing** (Keras): binary `y ← y (1 - s) + s / 2`;
//!   categorical `y ← y (1 - s) + s / classes`.

mod crossentropy;
mod functions;
mod regression;

use serde_json::Value;

pub use crossentropy::{
    BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, SparseCategoricalCrossentropy,
};
pub use functions::{
    Predictions, binary_crossentropy, categorical_crossentropy, huber, kl_divergence, mae, mse,
    sparse_categorical_crossentropy,
};
pub use regression::{Huber, MeanAbsoluteError, MeanSquaredError};

pub(crate) use crossentropy::class_indices;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;

/// The clipping constant for probabilities, Keras's `backend.epsilon()`.
///
/// # Examples
///
/// ```
/// assert_eq!(tapeflow::losses::EPSILON, 1e-7);
/// ```
pub const EPSILON: f64 = 1e-7;

/// A loss function: per-sample values and their batch mean, a Keras name
/// and a JSON config. Dyn-compatible, so models store `Box<dyn Loss<T>>`.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{self, Loss, MeanSquaredError};
/// use tapeflow::{GradientTape, Tensor};
///
/// let loss: Box<dyn Loss> = Box::new(MeanSquaredError);
/// let tape = GradientTape::new();
/// let y_pred = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 5.0], &[2, 2])?);
/// let y_true = tape.constant(&Tensor::from_vec(vec![1.0, 0.0, 3.0, 4.0], &[2, 2])?);
/// // per sample: mean over the last axis of (y_pred - y_true)²
/// assert_eq!(loss.per_sample(y_pred, y_true)?.value().to_vec(), vec![2.0, 0.5]);
/// assert_eq!(loss.call(y_pred, y_true)?.value().item()?, 1.25);
/// assert_eq!(loss.name(), "mean_squared_error");
/// let again: Box<dyn Loss> = losses::from_config(loss.name(), &loss.config())?;
/// assert_eq!(again.name(), "mean_squared_error");
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub trait Loss<T: Float = f32>: std::fmt::Debug + Send + Sync {
    /// The Keras name in snake case, e.g. `"mean_squared_error"`; also the
    /// name [`from_config`] takes.
    fn name(&self) -> &'static str;

    /// The loss of each sample, shape `[batch]`: the elementwise loss of
    /// `y_pred` against `y_true`, averaged over every non-batch axis.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op: the loss name, lhs `y_pred`, rhs
    /// `y_true`) if the shapes do not fit; [`Error::RankMismatch`] for a
    /// scalar `y_pred`; [`Error::InvalidArgument`] for bad settings or labels.
    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>>;

    /// The scalar loss: the mean of [`per_sample`](Self::per_sample) over
    /// the batch.
    ///
    /// # Errors
    ///
    /// As [`per_sample`](Self::per_sample), and
    /// [`Error::InvalidArgument`] for an empty batch (whose mean would be
    /// `0 / 0`; PyTorch returns NaN there, this crate an error).
    fn call<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        let per = self.per_sample(y_pred, y_true)?;
        if per.shape().first() == Some(&0) {
            return Err(Error::InvalidArgument {
                op: self.name(),
                message: format!(
                    "empty batch (y_pred shape {:?}) has no mean loss",
                    y_pred.shape()
                ),
            });
        }
        Ok(per.mean())
    }

    /// The settings as JSON (Keras's `get_config`), e.g.
    /// `{"name": "huber", "delta": 1.0}`; [`from_config`] reads it back.
    fn config(&self) -> Value;
}

/// Builds a loss from its name (Keras snake case such as
/// `"binary_crossentropy"`, the class name such as `"BinaryCrossentropy"`,
/// or a Keras alias: `"mse"`, `"mae"`, `"kld"`) and its config (an object
/// with any of the loss's settings, missing ones taking their defaults; or
/// `null`).
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `losses::from_config`) for an unknown
/// name, an unknown or mistyped setting, or an out-of-range value.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use tapeflow::losses::{self, Huber, Loss};
///
/// let loss = losses::from_config::<f32>("huber", &json!({"delta": 2.0}))?;
/// assert_eq!(loss.config(), Loss::<f32>::config(&Huber::new(2.0)));
/// assert!(losses::from_config::<f32>("huber", &json!({"delta": -1.0})).is_err());
/// assert!(losses::from_config::<f32>("hubber", &json!(null)).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn from_config<T: Float>(name: &str, config: &Value) -> Result<Box<dyn Loss<T>>> {
    let settings = Settings::new(config)?;
    let loss: Box<dyn Loss<T>> = match name {
        "mean_squared_error" | "MeanSquaredError" | "mse" => {
            settings.only(&[])?;
            Box::new(MeanSquaredError)
        }
        "mean_absolute_error" | "MeanAbsoluteError" | "mae" => {
            settings.only(&[])?;
            Box::new(MeanAbsoluteError)
        }
        "huber" | "Huber" => {
            settings.only(&["delta"])?;
            let delta = settings.f64("delta", 1.0)?;
            check_delta::<T>("losses::from_config", delta)?;
            Box::new(Huber { delta })
        }
        "binary_crossentropy" | "BinaryCrossentropy" => {
            settings.only(&["from_logits", "label_smoothing"])?;
            let loss = BinaryCrossentropy {
                from_logits: settings.bool("from_logits")?,
                label_smoothing: settings.f64("label_smoothing", 0.0)?,
            };
            check_smoothing("losses::from_config", loss.label_smoothing)?;
            Box::new(loss)
        }
        "categorical_crossentropy" | "CategoricalCrossentropy" => {
            settings.only(&["from_logits", "label_smoothing"])?;
            let loss = CategoricalCrossentropy {
                from_logits: settings.bool("from_logits")?,
                label_smoothing: settings.f64("label_smoothing", 0.0)?,
            };
            check_smoothing("losses::from_config", loss.label_smoothing)?;
            Box::new(loss)
        }
        "sparse_categorical_crossentropy" | "SparseCategoricalCrossentropy" => {
            settings.only(&["from_logits"])?;
            Box::new(SparseCategoricalCrossentropy {
                from_logits: settings.bool("from_logits")?,
            })
        }
        "kl_divergence" | "KLDivergence" | "kld" | "kullback_leibler_divergence" => {
            settings.only(&[])?;
            Box::new(KLDivergence)
        }
        other => return Err(config_error(format!("unknown loss {other:?}"))),
    };
    Ok(loss)
}

/// The loss that gives the same value as `loss` applied after
/// `activation`, but computed from the activation's input (the logits):
/// `Some` for [`BinaryCrossentropy`] after [`Activation::Sigmoid`](crate::activations::Activation::Sigmoid), and for
/// [`CategoricalCrossentropy`] and [`SparseCategoricalCrossentropy`] after
/// [`Activation::Softmax`](crate::activations::Activation::Softmax), each with `from_logits = false` (its other
/// settings kept); `None` otherwise.
///
/// This is what Keras does when a probability loss follows the matching
/// output activation: the fused form stays exact where the activation
/// saturates (in `f32`, `sigmoid(20)` is exactly 1, so the probability
/// form's gradient is exactly 0 and a confidently wrong prediction is never
/// corrected; the logits form's gradient is `σ(z) - y`). A training loop
/// calls it once at compile time and, when it gives `Some`, feeds the
/// layer's pre-activation output to the returned loss.
///
/// # Errors
///
/// [`Error::InvalidArgument`] only if `loss`'s config cannot be read back
/// (a custom loss whose config names a built-in one wrongly).
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{self, BinaryCrossentropy, MeanSquaredError};
/// use tapeflow::{Activation, GradientTape, Tensor};
///
/// let bce = BinaryCrossentropy::default();
/// let fused = losses::logits_form::<f32>(&bce, Activation::Sigmoid)?.expect("bce after sigmoid");
/// assert_eq!(fused.config()["from_logits"], true);
/// assert!(losses::logits_form::<f32>(&MeanSquaredError, Activation::Sigmoid)?.is_none());
///
/// // Logit 20 with label 0: the probability form has lost the gradient.
/// let tape = GradientTape::new();
/// let z = tape.watch(&Tensor::from_vec(vec![20.0f32], &[1, 1])?);
/// let y = tape.constant(&Tensor::from_vec(vec![0.0f32], &[1, 1])?);
/// let g = tape.gradient(&fused.call(z, y)?, [z])?;
/// assert_eq!(g.get(z).unwrap().item()?, 1.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn logits_form<T: Float>(
    loss: &dyn Loss<T>,
    activation: crate::activations::Activation,
) -> Result<Option<Box<dyn Loss<T>>>> {
    use crate::activations::Activation;
    let matches = matches!(
        (loss.name(), activation),
        ("binary_crossentropy", Activation::Sigmoid)
            | ("categorical_crossentropy", Activation::Softmax)
            | ("sparse_categorical_crossentropy", Activation::Softmax)
    );
    let mut config = loss.config();
    if !matches || config.get("from_logits") != Some(&Value::Bool(false)) {
        return Ok(None);
    }
    config["from_logits"] = Value::Bool(true);
    from_config(loss.name(), &config).map(Some)
}

// ---------------------------------------------------------------------------
// Shared helpers.

/// Returns `y_true` with `y_pred`'s shape: equal shapes pass, `[n]` and
/// `[n, 1]` are reshaped into each other; anything else is a shape error
/// naming the loss and both shapes.
pub(crate) fn align<'t, T: Float>(
    op: &'static str,
    y_pred: Var<'t, T>,
    y_true: Var<'t, T>,
) -> Result<Var<'t, T>> {
    let (p, t) = (y_pred.shape(), y_true.shape());
    if p.is_empty() {
        return Err(Error::RankMismatch {
            op,
            expected: "predictions with a batch axis",
            shape: p,
        });
    }
    let squeezed = |s: &[usize]| -> Vec<usize> {
        let mut s = s.to_vec();
        if s.len() == 2 && s[1] == 1 {
            s.pop();
        }
        s
    };
    if p == t {
        Ok(y_true)
    } else if squeezed(&p) == squeezed(&t) {
        y_true.reshape(&p)
    } else {
        Err(Error::ShapeMismatch { op, lhs: p, rhs: t })
    }
}

/// `[batch, ...]` → `[batch]`: the mean over every non-batch axis.
///
/// One value per sample (`[batch, 1]`, a one-output model's loss) is its
/// own mean: reshaped to `[batch]`, one op on the tape instead of three (a
/// reshape, a sum over the length-1 axis, a division by 1), with the same
/// values and gradients, except that a sample's `-0.0` stays `-0.0` where
/// the sum (`0 + x`) made it `0.0`; the batch's mean is the same either way.
pub(crate) fn per_sample_mean<'t, T: Float>(values: Var<'t, T>) -> Result<Var<'t, T>> {
    let shape = values.shape();
    match shape.len() {
        0 => values.reshape(&[1]),
        1 => Ok(values),
        _ => {
            // invariant: rank >= 2 here; an existing tensor's counts.
            let rest: usize = shape[1..].iter().product();
            if rest == 1 {
                return values.reshape(&[shape[0]]);
            }
            values.reshape(&[shape[0], rest])?.mean_axis(1, false)
        }
    }
}

pub(crate) fn check_smoothing(op: &'static str, s: f64) -> Result<()> {
    if (0.0..=1.0).contains(&s) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            message: format!("label_smoothing must be in [0, 1], got {s}"),
        })
    }
}

pub(crate) fn check_delta<T: Float>(op: &'static str, delta: f64) -> Result<()> {
    if delta > 0.0 && delta.is_finite() && T::from_f64(delta).is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            message: format!(
                "delta must be positive and finite in {}, got {delta}",
                T::NAME
            ),
        })
    }
}

fn config_error(message: String) -> Error {
    Error::InvalidArgument {
        op: "losses::from_config",
        message,
    }
}

/// A loss config object, read key by key.
struct Settings<'a>(Option<&'a serde_json::Map<String, Value>>);

impl<'a> Settings<'a> {
    fn new(config: &'a Value) -> Result<Self> {
        match config {
            Value::Null => Ok(Settings(None)),
            Value::Object(map) => Ok(Settings(Some(map))),
            other => Err(config_error(format!(
                "config must be an object, got {other}"
            ))),
        }
    }

    /// Rejects keys other than `allowed` (and `name`, which Keras also writes).
    fn only(&self, allowed: &[&str]) -> Result<()> {
        for key in self.0.into_iter().flat_map(|m| m.keys()) {
            if key != "name" && !allowed.contains(&key.as_str()) {
                return Err(config_error(format!("unknown setting {key:?}")));
            }
        }
        Ok(())
    }

    fn f64(&self, key: &str, default: f64) -> Result<f64> {
        match self.0.and_then(|m| m.get(key)) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| config_error(format!("{key} must be a number, got {v}"))),
        }
    }

    fn bool(&self, key: &str) -> Result<bool> {
        match self.0.and_then(|m| m.get(key)) {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| config_error(format!("{key} must be a boolean, got {v}"))),
        }
    }
}
