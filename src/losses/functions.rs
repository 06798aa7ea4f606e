//! Plain loss functions for custom training loops: each is the batch mean
//! of the loss struct of the same name, taking `(y_pred, y_true)`.

use super::{
    BinaryCrossentropy, CategoricalCrossentropy, Huber, KLDivergence, Loss, MeanAbsoluteError,
    MeanSquaredError, SparseCategoricalCrossentropy,
};
use crate::element::Float;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::tape::Var;

/// What `y_pred` holds, for the plain cross-entropy functions: Keras's
/// `from_logits` argument as a named choice, so a call reads
/// `losses::binary_crossentropy(&z, &y, Predictions::Logits)` rather than
/// ending in a bare `true`.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::Predictions;
///
/// assert_eq!(Predictions::default(), Predictions::Probabilities);   // Keras's default
/// assert!(Predictions::Logits.from_logits());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Predictions {
    /// Probabilities (after a sigmoid or softmax), clipped to `[ε, 1 - ε]`
    /// before the logarithm: Keras's `from_logits=False`.
    #[default]
    Probabilities,
    /// Logits (before the activation), in the stable log-sigmoid or
    /// log-sum-exp form: Keras's `from_logits=True`.
    Logits,
}

impl Predictions {
    /// Whether these are logits: the loss structs' `from_logits` field.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::Predictions;
    ///
    /// assert!(!Predictions::Probabilities.from_logits());
    /// ```
    pub fn from_logits(self) -> bool {
        self == Predictions::Logits
    }
}

/// Mean squared error of `y_pred` against `y_true`, averaged over all
/// elements: `mean((y_pred - y_true)²)`. See [`MeanSquaredError`].
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes differ (beyond `[n]` vs `[n, 1]`).
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let pred = tape.watch(&Tensor::from_vec(vec![1.0f32, 3.0], &[2, 1])?);
/// let loss = losses::mse(&pred, &tape.constant(&Tensor::from_vec(vec![0.0, 1.0], &[2])?))?;
/// assert_eq!(loss.value().item()?, 2.5);                 // (1 + 4) / 2
/// let g = tape.gradient(&loss, [pred])?;                  // (y_pred - y_true)
/// assert_eq!(g.get(pred).unwrap().to_vec(), vec![1.0, 2.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn mse<'t, T: Float>(y_pred: &Var<'t, T>, y_true: &Var<'t, T>) -> Result<Var<'t, T>> {
    MeanSquaredError.call(*y_pred, *y_true)
}

/// Mean absolute error `mean(|y_pred - y_true|)`. See [`MeanAbsoluteError`].
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes differ (beyond `[n]` vs `[n, 1]`).
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let pred = tape.watch(&Tensor::from_vec(vec![1.0f32, -3.0], &[2])?);
/// let loss = losses::mae(&pred, &tape.constant(&Tensor::zeros(&[2])?))?;
/// assert_eq!(loss.value().item()?, 2.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn mae<'t, T: Float>(y_pred: &Var<'t, T>, y_true: &Var<'t, T>) -> Result<Var<'t, T>> {
    MeanAbsoluteError.call(*y_pred, *y_true)
}

/// Huber loss with threshold `delta`, averaged over all elements. See [`Huber`].
///
/// # Errors
///
/// As [`Huber`]: shapes, and `delta` must be positive and finite.
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let pred = tape.watch(&Tensor::from_vec(vec![0.5f32, 3.0], &[2])?);
/// let loss = losses::huber(&pred, &tape.constant(&Tensor::zeros(&[2])?), 1.0)?;
/// assert_eq!(loss.value().item()?, (0.125 + 2.5) / 2.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn huber<'t, T: Float>(
    y_pred: &Var<'t, T>,
    y_true: &Var<'t, T>,
    delta: f64,
) -> Result<Var<'t, T>> {
    Huber { delta }.call(*y_pred, *y_true)
}

/// Binary cross-entropy (no label smoothing), averaged over all elements.
/// See [`BinaryCrossentropy`].
/// `y_pred_is` says whether `y_pred` holds probabilities or logits
/// ([`Predictions`], Keras's `from_logits`).
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes differ (beyond `[n]` vs `[n, 1]`).
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
/// use tapeflow::losses::Predictions;
///
/// let tape = GradientTape::new();
/// let logits = tape.watch(&Tensor::from_vec(vec![0.0f64, 100.0], &[2])?);
/// let y = tape.constant(&Tensor::from_vec(vec![1.0, 0.0], &[2])?);
/// let loss = losses::binary_crossentropy(&logits, &y, Predictions::Logits)?;
/// assert!((loss.value().item()? - (2f64.ln() + 100.0) / 2.0).abs() < 1e-12);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn binary_crossentropy<'t, T: Float>(
    y_pred: &Var<'t, T>,
    y_true: &Var<'t, T>,
    y_pred_is: Predictions,
) -> Result<Var<'t, T>> {
    BinaryCrossentropy {
        from_logits: y_pred_is.from_logits(),
        label_smoothing: 0.0,
    }
    .call(*y_pred, *y_true)
}

/// Categorical cross-entropy against one-hot (or soft) labels, averaged
/// over the batch. See [`CategoricalCrossentropy`].
/// `y_pred_is` says whether `y_pred` holds probabilities or logits
/// ([`Predictions`], Keras's `from_logits`).
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes differ; [`Error::RankMismatch`]
/// for inputs of fewer than 2 dimensions.
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
/// use tapeflow::losses::Predictions;
///
/// let tape = GradientTape::new();
/// let logits = tape.watch(&Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2])?);
/// let y = tape.constant(&Tensor::from_vec(vec![0.0, 1.0], &[1, 2])?);
/// let loss = losses::categorical_crossentropy(&logits, &y, Predictions::Logits)?;
/// assert_eq!(loss.value().item()?, 2f64.ln());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn categorical_crossentropy<'t, T: Float>(
    y_pred: &Var<'t, T>,
    y_true: &Var<'t, T>,
    y_pred_is: Predictions,
) -> Result<Var<'t, T>> {
    CategoricalCrossentropy {
        from_logits: y_pred_is.from_logits(),
        label_smoothing: 0.0,
    }
    .call(*y_pred, *y_true)
}

/// Categorical cross-entropy against class indices (floats holding
/// integers), averaged over the batch. See [`SparseCategoricalCrossentropy`].
/// `y_pred_is` says whether `y_pred` holds probabilities or logits
/// ([`Predictions`], Keras's `from_logits`).
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if `y_true` is not `[batch]` or `[batch, 1]` for
/// `y_pred` `[batch, classes]`; [`Error::InvalidArgument`] naming the row
/// of a label that is not an integer in `0..classes`.
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
/// use tapeflow::losses::Predictions;
///
/// let tape = GradientTape::new();
/// let logits = tape.watch(&Tensor::from_vec(vec![0.0f64, 0.0, 0.0, 0.0], &[2, 2])?);
/// let y = tape.constant(&Tensor::from_vec(vec![1.0, 0.0], &[2])?);
/// let loss = losses::sparse_categorical_crossentropy(&logits, &y, Predictions::Logits)?;
/// assert_eq!(loss.value().item()?, 2f64.ln());
/// let bad = tape.constant(&Tensor::from_vec(vec![1.0, 2.0], &[2])?);
/// assert!(losses::sparse_categorical_crossentropy(&logits, &bad, Predictions::Logits).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn sparse_categorical_crossentropy<'t, T: Float>(
    y_pred: &Var<'t, T>,
    y_true: &Var<'t, T>,
    y_pred_is: Predictions,
) -> Result<Var<'t, T>> {
    SparseCategoricalCrossentropy {
        from_logits: y_pred_is.from_logits(),
    }
    .call(*y_pred, *y_true)
}

/// Kullback–Leibler divergence `Σ y_true · ln(y_true / y_pred)` over the
/// last axis, averaged over the rest. See [`KLDivergence`].
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if the shapes differ.
///
/// # Examples
///
/// ```
/// use tapeflow::{losses, GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let p = tape.watch(&Tensor::from_vec(vec![0.5f64, 0.5], &[1, 2])?);
/// let loss = losses::kl_divergence(&p, &p)?;
/// assert_eq!(loss.value().item()?, 0.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn kl_divergence<'t, T: Float>(y_pred: &Var<'t, T>, y_true: &Var<'t, T>) -> Result<Var<'t, T>> {
    KLDivergence.call(*y_pred, *y_true)
}
