//! Metrics: stateful accumulators ([`MetricState`]) that see one batch at a
//! time and report a running result, and the [`Metric`] enum that
//! `compile` takes and turns into accumulators; and whole-dataset summaries
//! on class indices ([`confusion_matrix`], [`classification_report`]).
//!
//! This module owns how metrics are accumulated; it computes on plain
//! [`Tensor`]s (metrics are not differentiated) and knows nothing of models.
//!
//! # Conventions (Keras's)
//!
//! - Arguments are `(y_pred, y_true, sample_weight)`, the order of
//!   [`losses`](crate::losses).
//! - Mean metrics (accuracies, MSE, MAE) compute one value per sample (the
//!   mean over its non-batch elements) and report
//!   `Σ wᵢ vᵢ / Σ wᵢ` over every sample seen since the last
//!   [`reset`](MetricState::reset), so accumulating batches equals one big
//!   batch. `sample_weight` has shape `[batch]` or `[batch, 1]`; `None`
//!   means weight 1.
//! - A result with nothing accumulated (or zero total weight, or a zero
//!   denominator) is `0.0`, as Keras's `divide_no_nan`. One exception:
//!   [`Auc`] over samples of a single class is undefined and reports NaN,
//!   as scikit-learn (see [`Auc::checked_result`] for an error instead).
//! - `sample_weight` must be finite and `>= 0`: a NaN or negative weight is
//!   an error naming the row, not a NaN result later.
//! - `y_pred` `[batch]` and `y_true` `[batch, 1]` (or the reverse) are
//!   accepted together; other shape differences are errors.

mod accuracy;
mod confusion;
mod metric;
mod report;

pub use accuracy::{
    BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
};
pub use confusion::{Auc, Precision, Recall};
pub use metric::Metric;
pub use report::{classification_report, confusion_matrix};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A metric accumulator: feed batches with [`update`](Self::update), read
/// [`result`](Self::result), start over with [`reset`](Self::reset).
/// Dyn-compatible, so models keep `Box<dyn MetricState<T>>`.
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{BinaryAccuracy, MetricState};
/// use tapeflow::Tensor;
///
/// let mut acc: Box<dyn MetricState> = Box::new(BinaryAccuracy::default());
/// let y_pred = Tensor::from_vec(vec![0.9, 0.2, 0.6, 0.4], &[4, 1])?;
/// let y_true = Tensor::from_vec(vec![1.0, 0.0, 0.0, 0.0], &[4, 1])?;
/// acc.update(&y_pred, &y_true, None)?;
/// assert_eq!(acc.result(), 0.75);
/// assert_eq!(acc.name(), "binary_accuracy");
/// acc.reset();
/// assert_eq!(acc.result(), 0.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub trait MetricState<T: Float = f32>: std::fmt::Debug + Send + Sync {
    /// Accumulates one batch.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op: the metric's name, lhs `y_pred`, rhs
    /// `y_true` or the weights) when the shapes do not fit;
    /// [`Error::InvalidArgument`] for bad labels or settings. The state is
    /// unchanged on error.
    fn update(
        &mut self,
        y_pred: &Tensor<T>,
        y_true: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()>;

    /// The metric over everything accumulated since the last reset (`0.0`
    /// when nothing has been).
    fn result(&self) -> f64;

    /// Forgets everything accumulated.
    fn reset(&mut self);

    /// The name under which the result is reported (the Keras history key).
    fn name(&self) -> String;
}

/// A weighted running mean of per-sample values.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Mean {
    total: f64,
    count: f64,
}

impl Mean {
    pub(crate) fn add(&mut self, values: &[f64], weights: &[f64]) {
        for (v, w) in values.iter().zip(weights) {
            self.total += v * w;
            self.count += w;
        }
    }

    pub(crate) fn result(&self) -> f64 {
        divide_no_nan(self.total, self.count)
    }
}

pub(crate) fn divide_no_nan(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Checks that `y_pred` and `y_true` have the same shape (or `[n]` against
/// `[n, 1]`) and a batch axis; returns the batch size.
pub(crate) fn same_shape<T: Float>(
    op: &'static str,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
) -> Result<usize> {
    let (p, t) = (y_pred.shape(), y_true.shape());
    let squeeze = |s: &[usize]| -> Vec<usize> {
        if s.len() == 2 && s[1] == 1 {
            vec![s[0]]
        } else {
            s.to_vec()
        }
    };
    if p.is_empty() {
        return Err(Error::RankMismatch {
            op,
            expected: "predictions with a batch axis",
            shape: p.to_vec(),
        });
    }
    if p != t && squeeze(p) != squeeze(t) {
        return Err(Error::ShapeMismatch {
            op,
            lhs: p.to_vec(),
            rhs: t.to_vec(),
        });
    }
    Ok(p[0])
}

/// The per-sample weights: all ones, or `sample_weight` of shape `[batch]`
/// or `[batch, 1]`.
pub(crate) fn weights<T: Float>(
    op: &'static str,
    y_pred: &Tensor<T>,
    sample_weight: Option<&Tensor<T>>,
    batch: usize,
) -> Result<Vec<f64>> {
    match sample_weight {
        None => Ok(vec![1.0; batch]),
        Some(w) => {
            let ok = w.shape() == [batch] || w.shape() == [batch, 1];
            if !ok {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: y_pred.shape().to_vec(),
                    rhs: w.shape().to_vec(),
                });
            }
            let w: Vec<f64> = w.as_slice().iter().map(|v| Float::to_f64(*v)).collect();
            // A NaN or negative weight would turn every later result into
            // NaN or a value outside the metric's range.
            if let Some((row, v)) = w
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "sample_weight of row {row} is {v}, expected a finite weight >= 0"
                    ),
                });
            }
            Ok(w)
        }
    }
}

/// Per-sample means of per-element (or per-row) values laid out sample by
/// sample.
pub(crate) fn sample_means(values: &[f64], batch: usize) -> Vec<f64> {
    if batch == 0 {
        return Vec::new();
    }
    let per = values.len() / batch;
    values
        .chunks(per.max(1))
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// Implements a weighted-mean metric from a per-sample value function.
macro_rules! mean_metric {
    ($ty:ty, $name:expr, $values:expr) => {
        impl<T: Float> MetricState<T> for $ty {
            fn update(
                &mut self,
                y_pred: &Tensor<T>,
                y_true: &Tensor<T>,
                sample_weight: Option<&Tensor<T>>,
            ) -> Result<()> {
                let values: Vec<f64> = $values(&*self, y_pred, y_true)?;
                let w = weights($name, y_pred, sample_weight, values.len())?;
                self.mean.add(&values, &w);
                Ok(())
            }

            fn result(&self) -> f64 {
                self.mean.result()
            }

            fn reset(&mut self) {
                self.mean = Mean::default();
            }

            fn name(&self) -> String {
                $name.to_string()
            }
        }
    };
}
pub(crate) use mean_metric;

/// The doc-example lines for one metric's inherent `result` and `reset`:
/// a batch whose result is known, fed to `m`, and that result asserted.
macro_rules! inherent_case {
    (@lines $pred:literal, $true_:literal, $shape:literal, $expected:literal) => {
        concat!(
            "let y_pred = Tensor::from_vec(vec!", $pred, ", &", $shape, ")?;\n",
            "let y_true = Tensor::from_vec(vec!", $true_, ", &", $shape, ")?;\n",
            "m.update(&y_pred, &y_true, None)?;\n",
            "assert_eq!(m.result(), ", $expected, ");\n"
        )
    };
    (MeanSquaredError) => {
        $crate::metrics::inherent_case!(@lines "[1.0, 2.0]", "[1.0, 4.0]", "[1, 2]", "2.0")
    };
    (MeanAbsoluteError) => {
        $crate::metrics::inherent_case!(@lines "[1.0, 2.0]", "[1.0, 4.0]", "[1, 2]", "1.0")
    };
    (BinaryAccuracy) => {
        $crate::metrics::inherent_case!(@lines "[0.9, 0.2, 0.7, 0.4]", "[1.0, 0.0, 0.0, 0.0]", "[4, 1]", "0.75")
    };
    (CategoricalAccuracy) => {
        $crate::metrics::inherent_case!(@lines "[0.1, 0.9, 0.8, 0.2]", "[0.0, 1.0, 0.0, 1.0]", "[2, 2]", "0.5")
    };
    (TopKCategoricalAccuracy) => {
        $crate::metrics::inherent_case!(CategoricalAccuracy)
    };
    (SparseCategoricalAccuracy) => {
        concat!(
            "let y_pred = Tensor::from_vec(vec![0.1, 0.9, 0.8, 0.2], &[2, 2])?;\n",
            "let y_true = Tensor::from_vec(vec![1.0, 1.0], &[2])?;\n",
            "m.update(&y_pred, &y_true, None)?;\n",
            "assert_eq!(m.result(), 0.5);\n"
        )
    };
    (SparseTopKCategoricalAccuracy) => {
        $crate::metrics::inherent_case!(SparseCategoricalAccuracy)
    };
    (Precision) => {
        $crate::metrics::inherent_case!(@lines "[0.9, 0.8, 0.2]", "[1.0, 0.0, 1.0]", "[3]", "0.5")
    };
    (Recall) => {
        $crate::metrics::inherent_case!(Precision)
    };
    (Auc) => {
        $crate::metrics::inherent_case!(@lines "[0.1, 0.4, 0.35, 0.8]", "[0.0, 0.0, 1.0, 1.0]", "[4]", "0.75")
    };
}
pub(crate) use inherent_case;

/// Gives a metric struct inherent `result` and `reset` (the trait's, for
/// any element type), so they can be called without naming the element type.
/// Each type needs an arm in [`inherent_case`] for the doc examples.
macro_rules! inherent {
    ($ty:ident, $ctor:literal) => {
        impl $ty {
            #[doc = concat!(
                "The running result, as [`MetricState::result`](crate::metrics::MetricState::result) ",
                "(which this struct implements for every element type).\n\n",
                "# Examples\n\n```\nuse tapeflow::metrics::{", stringify!($ty), ", MetricState};\n",
                "use tapeflow::Tensor;\n\nlet mut m = ", $ctor, ";\n",
                "assert_eq!(m.result(), 0.0); // nothing seen yet\n",
                $crate::metrics::inherent_case!($ty),
                "# Ok::<(), tapeflow::Error>(())\n```"
            )]
            pub fn result(&self) -> f64 {
                crate::metrics::MetricState::<f64>::result(self)
            }

            #[doc = concat!(
                "Forgets everything accumulated, as [`MetricState::reset`](crate::metrics::MetricState::reset).\n\n",
                "# Examples\n\n```\nuse tapeflow::metrics::{", stringify!($ty), ", MetricState};\n",
                "use tapeflow::Tensor;\n\nlet mut m = ", $ctor, ";\n",
                $crate::metrics::inherent_case!($ty),
                "m.reset();\nassert_eq!(m.result(), 0.0);\n",
                "assert_eq!(m, ", $ctor, "); // as good as new\n",
                "# Ok::<(), tapeflow::Error>(())\n```"
            )]
            pub fn reset(&mut self) {
                crate::metrics::MetricState::<f64>::reset(self)
            }
        }
    };
}
pub(crate) use inherent;

/// Mean squared error metric: per sample `mean((y_pred - y_true)²)`,
/// weighted mean over samples.
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MeanSquaredError, MetricState};
/// use tapeflow::Tensor;
///
/// let mut mse = MeanSquaredError::default();
/// let y_pred = Tensor::from_vec(vec![1.0, 2.0, 3.0, 3.0], &[2, 2])?;
/// let y_true = Tensor::from_vec(vec![1.0, 0.0, 3.0, 4.0], &[2, 2])?;
/// let w = Tensor::from_vec(vec![1.0, 3.0], &[2])?;
/// mse.update(&y_pred, &y_true, Some(&w))?;
/// assert_eq!(mse.result(), (1.0 * 2.0 + 3.0 * 0.5) / 4.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanSquaredError {
    mean: Mean,
}

/// Mean absolute error metric: per sample `mean(|y_pred - y_true|)`,
/// weighted mean over samples.
///
/// # Examples
///
/// ```
/// use tapeflow::metrics::{MeanAbsoluteError, MetricState};
/// use tapeflow::Tensor;
///
/// let mut mae = MeanAbsoluteError::default();
/// let y_pred = Tensor::from_vec(vec![1.0, -2.0], &[2])?;
/// mae.update(&y_pred, &Tensor::zeros(&[2])?, None)?;
/// assert_eq!(mae.result(), 1.5);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanAbsoluteError {
    mean: Mean,
}

fn elementwise<T: Float>(
    op: &'static str,
    y_pred: &Tensor<T>,
    y_true: &Tensor<T>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Vec<f64>> {
    let batch = same_shape(op, y_pred, y_true)?;
    let values: Vec<f64> = y_pred
        .as_slice()
        .iter()
        .zip(y_true.as_slice())
        .map(|(p, t)| f(Float::to_f64(*p), Float::to_f64(*t)))
        .collect();
    Ok(sample_means(&values, batch))
}

mean_metric!(
    MeanSquaredError,
    "mean_squared_error",
    |_: &MeanSquaredError, p, t| elementwise("mean_squared_error", p, t, |p, t| (p - t) * (p - t))
);
mean_metric!(
    MeanAbsoluteError,
    "mean_absolute_error",
    |_: &MeanAbsoluteError, p, t| elementwise("mean_absolute_error", p, t, |p, t| (p - t).abs())
);

inherent!(MeanSquaredError, "MeanSquaredError::default()");
inherent!(MeanAbsoluteError, "MeanAbsoluteError::default()");
