//! Accuracy metrics: binary, categorical, sparse categorical and top-k.

use super::{Mean, MetricState, inherent, mean_metric, same_shape, sample_means, weights};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::losses::class_indices;
use crate::tensor::Tensor;

/// Binary accuracy: an element is correct when `(y_pred > threshold)`
/// equals `y_true` (labels 0 or 1); per sample the mean over its elements.
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{BinaryAccuracy, MetricState};
/// use tapeflow::Tensor;
///
/// let mut acc = BinaryAccuracy::default();
/// assert_eq!(acc.threshold, 0.5);
/// let y_pred = Tensor::from_vec(vec![0.7, 0.5, 0.1], &[3])?;   // 0.5 is not > 0.5
/// let y_true = Tensor::from_vec(vec![1.0, 1.0, 0.0], &[3])?;
/// acc.update(&y_pred, &y_true, None)?;
/// assert!((acc.result() - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinaryAccuracy {
    /// Predictions strictly above it count as 1. Default `0.5`.
    pub threshold: f64,
    mean: Mean,
}

impl Default for BinaryAccuracy {
    fn default() -> Self {
        BinaryAccuracy::new(0.5)
    }
}

impl BinaryAccuracy {
    /// Binary accuracy with the given threshold.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::metrics::{BinaryAccuracy, MetricState};
    /// use tapeflow::Tensor;
    ///
    /// let mut acc = BinaryAccuracy::new(0.0);     // for logits
    /// acc.update(&Tensor::from_vec(vec![2.0, -1.0], &[2])?, &Tensor::ones(&[2])?, None)?;
    /// assert_eq!(acc.result(), 0.5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new(threshold: f64) -> Self {
        BinaryAccuracy {
            threshold,
            mean: Mean::default(),
        }
    }
}

fn binary<T: Float>(
    m: &BinaryAccuracy,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
) -> Result<Vec<f64>> {
    let batch = same_shape("binary_accuracy", y_pred, y_true)?;
    let hits: Vec<f64> = y_pred
        .as_slice()
        .iter()
        .zip(y_true.as_slice())
        .map(|(p, t)| {
            let predicted = if Float::to_f64(*p) > m.threshold {
                1.0
            } else {
                0.0
            };
            if predicted == Float::to_f64(*t) {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    Ok(sample_means(&hits, batch))
}

mean_metric!(BinaryAccuracy, "binary_accuracy", binary);

/// Categorical accuracy: a row is correct when `argmax(y_pred)` equals
/// `argmax(y_true)` over the last axis (ties go to the first index).
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{CategoricalAccuracy, MetricState};
/// use tapeflow::Tensor;
///
/// let mut acc = CategoricalAccuracy::default();
/// let y_pred = Tensor::from_vec(vec![0.1, 0.9, 0.8, 0.2], &[2, 2])?;
/// let y_true = Tensor::from_vec(vec![0.0, 1.0, 0.0, 1.0], &[2, 2])?;
/// acc.update(&y_pred, &y_true, None)?;
/// assert_eq!(acc.result(), 0.5);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CategoricalAccuracy {
    mean: Mean,
}

fn class_rank<T: Float>(op: &'static str, y_pred: &Tensor<T>) -> Result<usize> {
    match y_pred.shape() {
        [_, .., c] if *c > 0 => Ok(*c),
        s => Err(Error::RankMismatch {
            op,
            expected: "predictions of shape [batch, ..., classes]",
            shape: s.to_vec(),
        }),
    }
}

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = j;
        }
    }
    best
}

/// Whether class `target` is among the `k` largest of `row`: fewer than `k`
/// scores are strictly larger (ties at the boundary count as inside, as
/// TensorFlow's `in_top_k`).
fn in_top_k(row: &[f64], target: usize, k: usize) -> bool {
    let s = row[target];
    !s.is_nan() && row.iter().filter(|&&v| v > s).count() < k
}

fn to_f64<T: Float>(t: &Tensor<T>) -> Vec<f64> {
    t.as_slice().iter().map(|v| Float::to_f64(*v)).collect()
}

/// Per-sample mean of `hit(pred_row, true_row)` over dense label rows.
fn dense_rows<T: Float>(
    op: &'static str,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
    hit: impl Fn(&[f64], &[f64]) -> bool,
) -> Result<Vec<f64>> {
    let classes = class_rank(op, y_pred)?;
    let batch = same_shape(op, y_pred, y_true)?;
    let (p, t) = (to_f64(y_pred), to_f64(y_true));
    let hits: Vec<f64> = p
        .chunks(classes)
        .zip(t.chunks(classes))
        .map(|(pr, tr)| if hit(pr, tr) { 1.0 } else { 0.0 })
        .collect();
    Ok(sample_means(&hits, batch))
}

/// Per-sample mean of `hit(pred_row, label)` over class-index labels.
fn sparse_rows<T: Float>(
    op: &'static str,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
    hit: impl Fn(&[f64], usize) -> bool,
) -> Result<Vec<f64>> {
    let classes = class_rank(op, y_pred)?;
    let (ps, ts) = (y_pred.shape(), y_true.shape());
    let rows = &ps[..ps.len() - 1];
    let fits =
        ts == rows || (ts.len() == ps.len() && &ts[..rows.len()] == rows && ts[rows.len()] == 1);
    if !fits {
        return Err(Error::ShapeMismatch {
            op,
            lhs: ps.to_vec(),
            rhs: ts.to_vec(),
        });
    }
    let labels = class_indices(op, y_true, classes)?;
    let p = to_f64(y_pred);
    let hits: Vec<f64> = p
        .chunks(classes)
        .zip(labels)
        .map(|(pr, l)| if hit(pr, l) { 1.0 } else { 0.0 })
        .collect();
    Ok(sample_means(&hits, ps[0]))
}

fn categorical<T: Float>(
    _: &CategoricalAccuracy,
    p: &Tensor<T>,
    t: &Tensor<T>,
) -> Result<Vec<f64>> {
    dense_rows("categorical_accuracy", p, t, |pr, tr| {
        argmax(pr) == argmax(tr)
    })
}

mean_metric!(CategoricalAccuracy, "categorical_accuracy", categorical);

/// Sparse categorical accuracy: a row is correct when `argmax(y_pred)`
/// equals the class index in `y_true` (`[batch]` or `[batch, 1]`).
///
/// # Errors (of `update`)
///
/// [`Error::InvalidArgument`] naming the row of a label that is not an
/// integer in `0..classes` (Keras would count it as a miss; we report it).
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MetricState, SparseCategoricalAccuracy};
/// use tapeflow::Tensor;
///
/// let mut acc = SparseCategoricalAccuracy::default();
/// let y_pred = Tensor::from_vec(vec![0.1, 0.9, 0.8, 0.2], &[2, 2])?;
/// acc.update(&y_pred, &Tensor::from_vec(vec![1.0, 0.0], &[2])?, None)?;
/// assert_eq!(acc.result(), 1.0);
/// assert!(acc.update(&y_pred, &Tensor::from_vec(vec![1.0, 2.0], &[2])?, None).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SparseCategoricalAccuracy {
    mean: Mean,
}

fn sparse<T: Float>(
    _: &SparseCategoricalAccuracy,
    p: &Tensor<T>,
    t: &Tensor<T>,
) -> Result<Vec<f64>> {
    sparse_rows("sparse_categorical_accuracy", p, t, |pr, l| argmax(pr) == l)
}

mean_metric!(
    SparseCategoricalAccuracy,
    "sparse_categorical_accuracy",
    sparse
);

/// Top-k categorical accuracy: a row is correct when the class of
/// `argmax(y_true)` is among the `k` highest scores of `y_pred` (ties at
/// the boundary count as inside, as TensorFlow's `in_top_k`).
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MetricState, TopKCategoricalAccuracy};
/// use tapeflow::Tensor;
///
/// let mut top2 = TopKCategoricalAccuracy::new(2);
/// let y_pred = Tensor::from_vec(vec![0.5, 0.3, 0.2, 0.5, 0.3, 0.2], &[2, 3])?;
/// let y_true = Tensor::from_vec(vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0], &[2, 3])?;
/// top2.update(&y_pred, &y_true, None)?;
/// assert_eq!(top2.result(), 0.5);                 // class 1 is 2nd, class 2 is 3rd
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopKCategoricalAccuracy {
    /// How many of the highest scores count; at least 1. Keras's default is 5.
    pub k: usize,
    mean: Mean,
}

impl TopKCategoricalAccuracy {
    /// Top-`k` accuracy.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::metrics::TopKCategoricalAccuracy;
    ///
    /// assert_eq!(TopKCategoricalAccuracy::new(3).k, 3);
    /// ```
    pub fn new(k: usize) -> Self {
        TopKCategoricalAccuracy {
            k,
            mean: Mean::default(),
        }
    }
}

fn check_k(op: &'static str, k: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::InvalidArgument {
            op,
            message: "k must be at least 1, got 0".to_string(),
        });
    }
    Ok(())
}

fn top_k<T: Float>(m: &TopKCategoricalAccuracy, p: &Tensor<T>, t: &Tensor<T>) -> Result<Vec<f64>> {
    const OP: &str = "top_k_categorical_accuracy";
    check_k(OP, m.k)?;
    dense_rows(OP, p, t, |pr, tr| in_top_k(pr, argmax(tr), m.k))
}

mean_metric!(TopKCategoricalAccuracy, "top_k_categorical_accuracy", top_k);

/// Sparse top-k categorical accuracy: as [`TopKCategoricalAccuracy`] with
/// class indices in `y_true` (`[batch]` or `[batch, 1]`).
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MetricState, SparseTopKCategoricalAccuracy};
/// use tapeflow::Tensor;
///
/// let mut top2 = SparseTopKCategoricalAccuracy::new(2);
/// let y_pred = Tensor::from_vec(vec![0.5, 0.3, 0.2, 0.5, 0.3, 0.2], &[2, 3])?;
/// top2.update(&y_pred, &Tensor::from_vec(vec![1.0, 2.0], &[2])?, None)?;
/// assert_eq!(top2.result(), 0.5);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SparseTopKCategoricalAccuracy {
    /// How many of the highest scores count; at least 1. Keras's default is 5.
    pub k: usize,
    mean: Mean,
}

impl SparseTopKCategoricalAccuracy {
    /// Sparse top-`k` accuracy.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::metrics::SparseTopKCategoricalAccuracy;
    ///
    /// assert_eq!(SparseTopKCategoricalAccuracy::new(5).k, 5);
    /// ```
    pub fn new(k: usize) -> Self {
        SparseTopKCategoricalAccuracy {
            k,
            mean: Mean::default(),
        }
    }
}

fn sparse_top_k<T: Float>(
    m: &SparseTopKCategoricalAccuracy,
    p: &Tensor<T>,
    t: &Tensor<T>,
) -> Result<Vec<f64>> {
    const OP: &str = "sparse_top_k_categorical_accuracy";
    check_k(OP, m.k)?;
    sparse_rows(OP, p, t, |pr, l| in_top_k(pr, l, m.k))
}

mean_metric!(
    SparseTopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy",
    sparse_top_k
);

inherent!(BinaryAccuracy, "BinaryAccuracy::default()");
inherent!(CategoricalAccuracy, "CategoricalAccuracy::default()");
inherent!(
    SparseCategoricalAccuracy,
    "SparseCategoricalAccuracy::default()"
);
inherent!(TopKCategoricalAccuracy, "TopKCategoricalAccuracy::new(1)");
inherent!(
    SparseTopKCategoricalAccuracy,
    "SparseTopKCategoricalAccuracy::new(1)"
);
