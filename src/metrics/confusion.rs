//! Confusion-matrix metrics for binary classification: precision, recall
//! and the exact ROC AUC.
//!
//! Every element of `y_pred` is one binary decision (a multi-label output
//! counts each label); `y_true` is positive when nonzero (Keras casts it to
//! `bool`); a sample's weight applies to all of its elements.

use super::{MetricState, divide_no_nan, inherent, same_shape, weights};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// `(score, positive, weight)` for every element of a batch.
fn decisions<T: Float>(
    op: &'static str,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
    sample_weight: Option<&Tensor<T>>,
) -> Result<Vec<(f64, bool, f64)>> {
    let batch = same_shape(op, y_pred, y_true)?;
    let w = weights(op, y_pred, sample_weight, batch)?;
    let per = y_pred.len().checked_div(batch).unwrap_or(0);
    Ok(y_pred
        .as_slice()
        .iter()
        .zip(y_true.as_slice())
        .enumerate()
        .map(|(k, (p, t))| {
            (
                Float::to_f64(*p),
                Float::to_f64(*t) != 0.0,
                w[k / per.max(1)],
            )
        })
        .collect())
}

/// Weighted counts of true positives, false positives and false negatives
/// at a threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Counts {
    tp: f64,
    fp: f64,
    fn_: f64,
}

impl Counts {
    fn add(&mut self, batch: &[(f64, bool, f64)], threshold: f64) {
        for &(score, positive, w) in batch {
            match (score > threshold, positive) {
                (true, true) => self.tp += w,
                (true, false) => self.fp += w,
                (false, true) => self.fn_ += w,
                (false, false) => {}
            }
        }
    }
}

/// Precision `TP / (TP + FP)`: of the elements predicted positive
/// (`y_pred > threshold`), the weighted share that are positive.
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MetricState, Precision};
/// use tapeflow::Tensor;
///
/// let mut p = Precision::default();
/// let y_pred = Tensor::from_vec(vec![0.9, 0.8, 0.7, 0.1], &[4])?;
/// let y_true = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0], &[4])?;
/// p.update(&y_pred, &y_true, None)?;
/// assert!((p.result() - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Precision {
    /// Scores strictly above it are predicted positive. Default `0.5`.
    pub threshold: f64,
    counts: Counts,
}

impl Default for Precision {
    fn default() -> Self {
        Precision {
            threshold: 0.5,
            counts: Counts::default(),
        }
    }
}

impl<T: Float> MetricState<T> for Precision {
    fn update(
        &mut self,
        y_pred: &Tensor<T>,
        y_true: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let batch = decisions("precision", y_pred, y_true, sample_weight)?;
        self.counts.add(&batch, self.threshold);
        Ok(())
    }

    fn result(&self) -> f64 {
        divide_no_nan(self.counts.tp, self.counts.tp + self.counts.fp)
    }

    fn reset(&mut self) {
        self.counts = Counts::default();
    }

    fn name(&self) -> String {
        "precision".to_string()
    }
}

/// Recall `TP / (TP + FN)`: of the positive elements, the weighted share
/// predicted positive (`y_pred > threshold`).
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MetricState, Recall};
/// use tapeflow::Tensor;
///
/// let mut r = Recall::default();
/// let y_pred = Tensor::from_vec(vec![0.9, 0.8, 0.7, 0.1], &[4])?;
/// let y_true = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0], &[4])?;
/// r.update(&y_pred, &y_true, None)?;
/// assert!((r.result() - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recall {
    /// Scores strictly above it are predicted positive. Default `0.5`.
    pub threshold: f64,
    counts: Counts,
}

impl Default for Recall {
    fn default() -> Self {
        Recall {
            threshold: 0.5,
            counts: Counts::default(),
        }
    }
}

impl<T: Float> MetricState<T> for Recall {
    fn update(
        &mut self,
        y_pred: &Tensor<T>,
        y_true: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let batch = decisions("recall", y_pred, y_true, sample_weight)?;
        self.counts.add(&batch, self.threshold);
        Ok(())
    }

    fn result(&self) -> f64 {
        divide_no_nan(self.counts.tp, self.counts.tp + self.counts.fn_)
    }

    fn reset(&mut self) {
        self.counts = Counts::default();
    }

    fn name(&self) -> String {
        "recall".to_string()
    }
}

/// Area under the ROC curve, computed exactly from every accumulated score
/// (not with Keras's 200 thresholds, whose trapezoids only approximate it):
/// the weighted probability that a random positive scores above a random
/// negative, ties counting one half,
/// `AUC = Σ_{i pos, j neg} wᵢ wⱼ ([sᵢ > sⱼ] + ½ [sᵢ = sⱼ]) / (W₊ W₋)`
/// (the Mann–Whitney statistic; scikit-learn's `roc_auc_score`).
///
/// Memory grows with the number of elements seen (two `f64` and a flag
/// each); `result` sorts them, `O(n log n)`.
///
/// With nothing accumulated the result is `0.0` (the module's convention).
/// With samples of only one class (no positive or no negative weight) the
/// AUC is undefined: `result` is NaN, as scikit-learn's `roc_auc_score`
/// (which adds a warning), not Keras's `0.0`, which reads as "always
/// wrong"; [`Auc::checked_result`] returns an error saying so instead.
///
/// # Errors (of `update`)
///
/// [`Error::InvalidArgument`] for a NaN score, naming the row.
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{Auc, MetricState};
/// use tapeflow::Tensor;
///
/// let mut auc = Auc::default();
/// let y_pred = Tensor::from_vec(vec![0.1, 0.4, 0.35, 0.8], &[4])?;
/// let y_true = Tensor::from_vec(vec![0.0, 0.0, 1.0, 1.0], &[4])?;
/// auc.update(&y_pred, &y_true, None)?;
/// assert_eq!(auc.result(), 0.75);               // scikit-learn's example
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Auc {
    seen: Vec<(f64, bool, f64)>,
}

impl<T: Float> MetricState<T> for Auc {
    fn update(
        &mut self,
        y_pred: &Tensor<T>,
        y_true: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        let batch = decisions("auc", y_pred, y_true, sample_weight)?;
        if let Some(k) = batch.iter().position(|d| d.0.is_nan()) {
            let row = k / (y_pred.len() / y_pred.shape()[0]).max(1);
            return Err(Error::InvalidArgument {
                op: "auc",
                message: format!("prediction in row {row} is NaN"),
            });
        }
        self.seen.extend(batch);
        Ok(())
    }

    fn result(&self) -> f64 {
        let mut seen = self.seen.clone();
        seen.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (mut area, mut neg_below, mut pos_total) = (0.0, 0.0, 0.0);
        let mut i = 0;
        while i < seen.len() {
            let (mut pos, mut neg) = (0.0, 0.0);
            let mut j = i;
            while j < seen.len() && seen[j].0 == seen[i].0 {
                if seen[j].1 {
                    pos += seen[j].2;
                } else {
                    neg += seen[j].2;
                }
                j += 1;
            }
            area += pos * (neg_below + 0.5 * neg);
            neg_below += neg;
            pos_total += pos;
            i = j;
        }
        if seen.is_empty() {
            0.0
        } else if pos_total == 0.0 || neg_below == 0.0 {
            f64::NAN
        } else {
            area / (pos_total * neg_below)
        }
    }

    fn reset(&mut self) {
        self.seen.clear();
    }

    fn name(&self) -> String {
        "auc".to_string()
    }
}

inherent!(Precision, "Precision::default()");
inherent!(Recall, "Recall::default()");
inherent!(Auc, "Auc::default()");

impl Auc {
    /// The AUC, or an error when it is undefined: with samples of only one
    /// class, where [`result`](Auc::result) is NaN.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the positive and negative weight
    /// seen when one of them is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::metrics::{Auc, MetricState};
    /// use tapeflow::Tensor;
    ///
    /// let mut auc = Auc::default();
    /// auc.update(&Tensor::from_vec(vec![0.2, 0.9], &[2])?, &Tensor::from_vec(vec![1.0, 1.0], &[2])?, None)?;
    /// assert!(auc.result().is_nan());
    /// let err = auc.checked_result().unwrap_err();
    /// assert_eq!(err.to_string(), "auc: undefined with one class in y_true (positive weight 2, negative weight 0)");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn checked_result(&self) -> Result<f64> {
        let (pos, neg) =
            self.seen.iter().fold(
                (0.0, 0.0),
                |(p, n), d| {
                    if d.1 { (p + d.2, n) } else { (p, n + d.2) }
                },
            );
        if !self.seen.is_empty() && (pos == 0.0 || neg == 0.0) {
            return Err(Error::InvalidArgument {
                op: "auc",
                message: format!(
                    "undefined with one class in y_true (positive weight {pos}, negative weight {neg})"
                ),
            });
        }
        Ok(self.result())
    }
}
