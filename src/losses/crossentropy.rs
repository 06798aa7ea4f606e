//! Cross-entropy losses (binary, categorical, sparse categorical) and the
//! Kullback–Leibler divergence, from probabilities or from logits.

use serde_json::{Value, json};

use super::{EPSILON, Loss, align, check_smoothing, per_sample_mean};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;

/// Reads class indices stored as floats: every value must be an integer in
/// `0..classes`, else an error naming the (flattened) row.
pub(crate) fn class_indices<T: Float>(
    op: &'static str,
    labels: &Tensor<T>,
    classes: usize,
) -> Result<Vec<usize>> {
    labels
        .as_slice()
        .iter()
        .enumerate()
        .map(|(row, &v)| {
            let x = v.to_f64();
            if x.fract() == 0.0 && x >= 0.0 && x < classes as f64 {
                Ok(x as usize)
            } else {
                Err(Error::InvalidArgument {
                    op,
                    message: format!("label {x} in row {row} is not a class index in 0..{classes}"),
                })
            }
        })
        .collect()
}

/// Requires at least `[batch, classes]`.
/// Sparse labels of the wrong shape: say what shape they must have, and
/// point to `CategoricalCrossentropy` when they look one-hot.
fn sparse_label_shape_error(
    op: &'static str,
    p_shape: &[usize],
    t_shape: &[usize],
    axis: usize,
) -> Error {
    let rows = &p_shape[..axis]; // invariant: axis < p_shape.len() (check_rank)
    let mut with_one = rows.to_vec();
    with_one.push(1);
    let hint = if t_shape == p_shape {
        "; these look like one-hot labels: use CategoricalCrossentropy for those"
    } else {
        ""
    };
    Error::InvalidArgument {
        op,
        message: format!(
            "labels must be class indices of shape {rows:?} or {with_one:?} for predictions of shape {p_shape:?}, got labels of shape {t_shape:?}{hint}"
        ),
    }
}

/// Dense (one-hot) labels of the wrong shape: when they have the shape of
/// class indices, say so and point to `SparseCategoricalCrossentropy`.
fn one_hot_label_shape_error<T: Float>(
    op: &'static str,
    y_pred: &Var<'_, T>,
    y_true: &Var<'_, T>,
    axis: usize,
) -> Option<Error> {
    let (p, t) = (y_pred.shape(), y_true.shape());
    let rows = &p[..axis]; // invariant: axis < p.len() (check_rank)
    let looks_sparse = t == rows || (t.len() == p.len() && t[..axis] == *rows && t[axis] == 1);
    (looks_sparse && t != p && p[axis] > 1).then(|| Error::InvalidArgument {
        op,
        message: format!(
            "labels of shape {t:?} look like class indices, but predictions of shape {p:?} need one-hot labels of the same shape; use SparseCategoricalCrossentropy for class indices"
        ),
    })
}

fn check_rank<T: Float>(op: &'static str, y_pred: &Var<'_, T>) -> Result<usize> {
    let shape = y_pred.shape();
    if shape.len() < 2 {
        return Err(Error::RankMismatch {
            op,
            expected: "predictions of shape [batch, ..., classes]",
            shape,
        });
    }
    Ok(shape.len() - 1)
}

/// `-(y ln p + (1 - y) ln(1 - p))` for probabilities clipped to `[ε, 1 - ε]`.
fn bce_from_probs<'t, T: Float>(p: Var<'t, T>, y: Var<'t, T>) -> Result<Var<'t, T>> {
    let eps = T::from_f64(EPSILON);
    let p = p.clip_by_value(eps, T::one() - eps);
    let pos = y.mul(&p.ln())?;
    let neg = y
        .neg()
        .add_scalar(T::one())
        .mul(&p.neg().add_scalar(T::one()).ln())?;
    Ok(pos.add(&neg)?.neg())
}

/// `ln(p / Σ p)` along the last axis, clipped to `[ε, 1 - ε]` before the log.
fn normalized_log_probs<'t, T: Float>(p: Var<'t, T>, axis: usize) -> Result<Var<'t, T>> {
    let eps = T::from_f64(EPSILON);
    let p = p.div(&p.sum_axis(axis, true)?)?;
    Ok(p.clip_by_value(eps, T::one() - eps).ln())
}

/// Binary cross-entropy, elementwise, averaged per sample (Keras
/// `BinaryCrossentropy`):
/// `ℓ = -(y ln p + (1 - y) ln(1 - p))`.
///
/// - `from_logits = false`: `p = clip(y_pred, ε, 1 - ε)`, `ε = 1e-7`
///   (Keras's rule; PyTorch's `BCELoss` clamps `ln` at -100 instead).
/// - `from_logits = true`: `ℓ = max(z, 0) - z·y + ln(1 + e^-|z|)` in one node
///   ([`Var::sigmoid_cross_entropy_with_logits`]), PyTorch's
///   `BCEWithLogitsLoss`.
/// - `label_smoothing = s`: `y ← y (1 - s) + s / 2` first.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{BinaryCrossentropy, Loss};
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let p = tape.watch(&Tensor::from_vec(vec![1.0f64, 0.0], &[2])?);
/// let y = tape.constant(&Tensor::from_vec(vec![1.0, 1.0], &[2])?);
/// let per = BinaryCrossentropy::default().per_sample(p, y)?.value().to_vec();
/// assert!(per[0] < 1e-6 && (per[1] + 1e-7f64.ln()).abs() < 1e-9);  // finite at p = 0
/// let logits = BinaryCrossentropy::from_logits();
/// let z = tape.watch(&Tensor::from_vec(vec![-100.0f64, 100.0], &[2])?);
/// assert_eq!(logits.per_sample(z, y)?.value().to_vec()[0], 100.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BinaryCrossentropy {
    /// Whether `y_pred` holds logits rather than probabilities. Default `false`.
    pub from_logits: bool,
    /// Label smoothing `s` in `[0, 1]`. Default `0`.
    pub label_smoothing: f64,
}

impl BinaryCrossentropy {
    /// Binary cross-entropy on probabilities (a sigmoid output), no label
    /// smoothing: Keras's `BinaryCrossentropy()`, the same as
    /// `BinaryCrossentropy::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::BinaryCrossentropy;
    ///
    /// let loss = BinaryCrossentropy::new();
    /// assert_eq!(loss, BinaryCrossentropy { from_logits: false, label_smoothing: 0.0 });
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Binary cross-entropy on logits (a linear output), computed in the
    /// stable log-sigmoid form: Keras's
    /// `BinaryCrossentropy(from_logits=True)`, PyTorch's `BCEWithLogitsLoss`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::{BinaryCrossentropy, Loss};
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let loss = BinaryCrossentropy::from_logits();
    /// assert_eq!(loss, BinaryCrossentropy { from_logits: true, label_smoothing: 0.0 });
    /// let tape = GradientTape::new();
    /// let z = tape.constant(&Tensor::from_vec(vec![0.0f32], &[1, 1])?);
    /// let y = tape.constant(&Tensor::from_vec(vec![1.0f32], &[1, 1])?);
    /// assert_eq!(loss.call(z, y)?.value().item()?, 2f32.ln());   // -ln σ(0)
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_logits() -> Self {
        BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }
    }

    /// Sets label smoothing `s` (Keras's `label_smoothing`, default 0):
    /// labels become `y (1 - s) + s / 2`.
    ///
    /// # Errors
    ///
    /// None here; an `s` outside `[0, 1]` makes the loss return
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when used.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::BinaryCrossentropy;
    ///
    /// let loss = BinaryCrossentropy::from_logits().label_smoothing(0.1);
    /// assert_eq!(loss, BinaryCrossentropy { from_logits: true, label_smoothing: 0.1 });
    /// ```
    pub fn label_smoothing(mut self, s: f64) -> Self {
        self.label_smoothing = s;
        self
    }
}

impl<T: Float> Loss<T> for BinaryCrossentropy {
    fn name(&self) -> &'static str {
        "binary_crossentropy"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        const OP: &str = "binary_crossentropy";
        check_smoothing(OP, self.label_smoothing)?;
        let mut y = align(OP, y_pred, y_true)?;
        if self.label_smoothing > 0.0 {
            let s = self.label_smoothing;
            y = y
                .mul_scalar(T::from_f64(1.0 - s))
                .add_scalar(T::from_f64(0.5 * s));
        }
        let elementwise = if self.from_logits {
            y_pred.sigmoid_cross_entropy_with_logits(&y)?
        } else {
            bce_from_probs(y_pred, y)?
        };
        per_sample_mean(elementwise)
    }

    fn config(&self) -> Value {
        json!({
            "name": "binary_crossentropy",
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        })
    }
}

/// Categorical cross-entropy against one-hot or soft labels (Keras
/// `CategoricalCrossentropy`): per row `ℓ = -Σⱼ yⱼ ln pⱼ` over the last
/// (class) axis, averaged over any further non-batch axes.
///
/// - `from_logits = false`: `p = clip(y_pred / Σ y_pred, ε, 1 - ε)` (Keras
///   renormalises, then clips).
/// - `from_logits = true`: `ℓ = Σⱼ yⱼ (lse(z) - zⱼ)` in one node
///   ([`Var::softmax_cross_entropy_with_logits`]), PyTorch's
///   `CrossEntropyLoss` with probability targets.
/// - `label_smoothing = s`: `y ← y (1 - s) + s / classes` first.
///
/// # Shapes
///
/// `y_pred`, `y_true`: `[batch, ..., classes]`; per sample: `[batch]`.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{CategoricalCrossentropy, Loss};
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let p = tape.watch(&Tensor::from_vec(vec![0.25f64, 0.75, 1.0, 0.0], &[2, 2])?);
/// let y = tape.constant(&Tensor::from_vec(vec![0.0, 1.0, 0.0, 1.0], &[2, 2])?);
/// let per = CategoricalCrossentropy::default().per_sample(p, y)?.value().to_vec();
/// assert!((per[0] + 0.75f64.ln()).abs() < 1e-12);
/// assert!((per[1] + 1e-7f64.ln()).abs() < 1e-9);               // clipped, finite
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CategoricalCrossentropy {
    /// Whether `y_pred` holds logits rather than probabilities. Default `false`.
    pub from_logits: bool,
    /// Label smoothing `s` in `[0, 1]`. Default `0`.
    pub label_smoothing: f64,
}

impl CategoricalCrossentropy {
    /// Categorical cross-entropy on probabilities (a softmax output), no
    /// label smoothing: Keras's `CategoricalCrossentropy()`, the same as
    /// `CategoricalCrossentropy::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::CategoricalCrossentropy;
    ///
    /// let loss = CategoricalCrossentropy::new();
    /// assert_eq!(loss, CategoricalCrossentropy { from_logits: false, label_smoothing: 0.0 });
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Categorical cross-entropy on logits (a linear output), computed with
    /// the log-sum-exp: Keras's `CategoricalCrossentropy(from_logits=True)`,
    /// PyTorch's `CrossEntropyLoss` with probability targets.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::{CategoricalCrossentropy, Loss};
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let loss = CategoricalCrossentropy::from_logits();
    /// assert_eq!(loss, CategoricalCrossentropy { from_logits: true, label_smoothing: 0.0 });
    /// let tape = GradientTape::new();
    /// let z = tape.constant(&Tensor::from_vec(vec![0.0f32, 0.0], &[1, 2])?);
    /// let y = tape.constant(&Tensor::from_vec(vec![0.0f32, 1.0], &[1, 2])?);
    /// assert_eq!(loss.call(z, y)?.value().item()?, 2f32.ln());   // -ln ½
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_logits() -> Self {
        CategoricalCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        }
    }

    /// Sets label smoothing `s` (Keras's `label_smoothing`, default 0):
    /// labels become `y (1 - s) + s / classes`.
    ///
    /// # Errors
    ///
    /// None here; an `s` outside `[0, 1]` makes the loss return
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when used.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::CategoricalCrossentropy;
    ///
    /// let loss = CategoricalCrossentropy::new().label_smoothing(0.2);
    /// assert_eq!(loss, CategoricalCrossentropy { from_logits: false, label_smoothing: 0.2 });
    /// ```
    pub fn label_smoothing(mut self, s: f64) -> Self {
        self.label_smoothing = s;
        self
    }
}

impl<T: Float> Loss<T> for CategoricalCrossentropy {
    fn name(&self) -> &'static str {
        "categorical_crossentropy"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        const OP: &str = "categorical_crossentropy";
        check_smoothing(OP, self.label_smoothing)?;
        let axis = check_rank(OP, &y_pred)?;
        if let Some(err) = one_hot_label_shape_error(OP, &y_pred, &y_true, axis) {
            return Err(err);
        }
        let mut y = align(OP, y_pred, y_true)?;
        if self.label_smoothing > 0.0 {
            let s = self.label_smoothing;
            let classes = y_pred.shape()[axis] as f64; // invariant: axis < ndim (check_rank)
            y = y
                .mul_scalar(T::from_f64(1.0 - s))
                .add_scalar(T::from_f64(s / classes));
        }
        let rows = if self.from_logits {
            y_pred.softmax_cross_entropy_with_logits(&y)?
        } else {
            let log_p = normalized_log_probs(y_pred, axis)?;
            y.mul(&log_p)?.sum_axis(axis, false)?.neg()
        };
        per_sample_mean(rows)
    }

    fn config(&self) -> Value {
        json!({
            "name": "categorical_crossentropy",
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        })
    }
}

/// Categorical cross-entropy against integer class indices stored as floats
/// (Keras `SparseCategoricalCrossentropy`, PyTorch `CrossEntropyLoss` with
/// class targets): per row `ℓ = -ln p[label]`.
///
/// - `from_logits = false`: `p = clip(y_pred / Σ y_pred, ε, 1 - ε)`.
/// - `from_logits = true`: `ℓ = lse(z) - z[label]` in one node
///   ([`Var::sparse_softmax_cross_entropy_with_logits`]).
///
/// # Shapes
///
/// `y_pred`: `[batch, ..., classes]`; `y_true`: `[batch, ...]` or
/// `[batch, ..., 1]`; per sample: `[batch]`.
///
/// # Errors (of [`Loss::per_sample`])
///
/// [`Error::InvalidArgument`] naming the row of a label that is not an
/// integer in `0..classes`; [`Error::ShapeMismatch`] for other label shapes.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{Loss, SparseCategoricalCrossentropy};
/// use tapeflow::{GradientTape, Tensor};
///
/// let loss = SparseCategoricalCrossentropy::from_logits();
/// let tape = GradientTape::new();
/// let z = tape.watch(&Tensor::from_vec(vec![100.0f64, -100.0, 0.0, 0.0], &[2, 2])?);
/// let y = tape.constant(&Tensor::from_vec(vec![1.0, 0.0], &[2, 1])?);
/// let per = loss.per_sample(z, y)?.value().to_vec();
/// assert_eq!(per, vec![200.0, 2f64.ln()]);
/// let bad = tape.constant(&Tensor::from_vec(vec![1.0, 0.5], &[2])?);
/// let err = loss.per_sample(z, bad).unwrap_err().to_string();
/// assert_eq!(err, "sparse_categorical_crossentropy: label 0.5 in row 1 is not a class index in 0..2");
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SparseCategoricalCrossentropy {
    /// Whether `y_pred` holds logits rather than probabilities. Default `false`.
    pub from_logits: bool,
}

impl SparseCategoricalCrossentropy {
    /// Sparse categorical cross-entropy on probabilities (a softmax
    /// output): Keras's `SparseCategoricalCrossentropy()`, the same as
    /// `SparseCategoricalCrossentropy::default()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::losses::SparseCategoricalCrossentropy;
    ///
    /// assert_eq!(SparseCategoricalCrossentropy::new(), SparseCategoricalCrossentropy { from_logits: false });
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sparse categorical cross-entropy on logits (a linear output),
    /// computed with the log-sum-exp: Keras's
    /// `SparseCategoricalCrossentropy(from_logits=True)`, PyTorch's
    /// `CrossEntropyLoss` with class targets.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let loss = SparseCategoricalCrossentropy::from_logits();
    /// assert_eq!(loss, SparseCategoricalCrossentropy { from_logits: true });
    /// let mut model = Sequential::new(&[4]).add(Dense::new(3));   // logits out
    /// model.compile(Adam::new(0.01), loss, &[Metric::Accuracy])?;
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_logits() -> Self {
        SparseCategoricalCrossentropy { from_logits: true }
    }
}

impl<T: Float> Loss<T> for SparseCategoricalCrossentropy {
    fn name(&self) -> &'static str {
        "sparse_categorical_crossentropy"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        const OP: &str = "sparse_categorical_crossentropy";
        let axis = check_rank(OP, &y_pred)?;
        let (p_shape, t_shape) = (y_pred.shape(), y_true.shape());
        let rows_shape = &p_shape[..axis];
        let fits = t_shape == rows_shape
            || (t_shape.len() == p_shape.len()
                && t_shape[..axis] == *rows_shape
                && t_shape[axis] == 1);
        if !fits {
            return Err(sparse_label_shape_error(OP, &p_shape, &t_shape, axis));
        }
        let classes = p_shape[axis]; // invariant: axis < ndim (check_rank)
        let labels = class_indices(OP, &y_true.value(), classes)?;
        let rows = if self.from_logits {
            y_pred.sparse_softmax_cross_entropy_with_logits(&labels)?
        } else {
            let mut one_hot = vec![T::zero(); labels.len() * classes];
            for (r, &l) in labels.iter().enumerate() {
                one_hot[r * classes + l] = T::one(); // invariant: l < classes (class_indices)
            }
            let one_hot = y_pred
                .tape()
                .constant(&Tensor::from_vec(one_hot, &p_shape)?);
            let log_p = normalized_log_probs(y_pred, axis)?;
            one_hot.mul(&log_p)?.sum_axis(axis, false)?.neg()
        };
        per_sample_mean(rows)
    }

    fn config(&self) -> Value {
        json!({ "name": "sparse_categorical_crossentropy", "from_logits": self.from_logits })
    }
}

/// Kullback–Leibler divergence of `y_pred` from `y_true` (Keras
/// `KLDivergence`): per row `Σⱼ tⱼ ln(tⱼ / pⱼ)` over the last axis with
/// `t = clip(y_true, ε, 1)`, `p = clip(y_pred, ε, 1)`, averaged over any
/// further non-batch axes.
///
/// PyTorch's `KLDivLoss` differs: it takes log-probabilities, does not clip,
/// and its default reduction is the mean over all elements (use
/// `reduction="batchmean"` to match this loss).
///
/// # Shapes
///
/// `y_pred`, `y_true`: `[batch, ..., classes]`; per sample: `[batch]`.
///
/// # Examples
///
/// ```
/// use tapeflow::losses::{KLDivergence, Loss};
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let p = tape.watch(&Tensor::from_vec(vec![0.5f64, 0.5], &[1, 2])?);
/// let t = tape.constant(&Tensor::from_vec(vec![1.0, 0.0], &[1, 2])?);
/// let kl = KLDivergence.call(p, t)?.value().item()?;
/// assert!((kl - (2f64.ln() + 1e-7 * (2e-7f64).ln())).abs() < 1e-12);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KLDivergence;

impl<T: Float> Loss<T> for KLDivergence {
    fn name(&self) -> &'static str {
        "kl_divergence"
    }

    fn per_sample<'t>(&self, y_pred: Var<'t, T>, y_true: Var<'t, T>) -> Result<Var<'t, T>> {
        const OP: &str = "kl_divergence";
        let axis = check_rank(OP, &y_pred)?;
        let y_true = align(OP, y_pred, y_true)?;
        let eps = T::from_f64(EPSILON);
        let t = y_true.clip_by_value(eps, T::one());
        let p = y_pred.clip_by_value(eps, T::one());
        let rows = t.mul(&t.ln().sub(&p.ln())?)?.sum_axis(axis, false)?;
        per_sample_mean(rows)
    }

    fn config(&self) -> Value {
        json!({ "name": "kl_divergence" })
    }
}
