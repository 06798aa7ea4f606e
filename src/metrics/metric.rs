//! [`Metric`]: the serialisable choice of metric that `compile` takes.

use serde_json::{Value, json};

use super::{
    Auc, BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError, MeanSquaredError, MetricState,
    Precision, Recall, SparseCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A metric to report during `fit` and `evaluate`, by Keras name.
///
/// [`build`](Self::build) makes its accumulator. `Accuracy` is resolved as
/// Keras does: from the loss name first (`binary_crossentropy` → binary,
/// `categorical_crossentropy` → categorical,
/// `sparse_categorical_crossentropy` → sparse categorical), otherwise from
/// the shapes (Keras 3's `is_binary_or_sparse_categorical`): binary when
/// `y_pred`'s last dimension is 1 (or `y_pred` is 1-D), sparse when `y_true`
/// has fewer dimensions than `y_pred` or a last dimension of 1 against
/// more classes, else categorical.
///
/// The reported name ([`name`](Self::name), the history key) is the name
/// the user chose, as in Keras 3: `Metric::Accuracy` reports `"accuracy"`
/// whatever it resolves to; the others report their Keras class's default
/// name (`"mean_absolute_error"`, `"auc"`, …).
///
/// # Examples
///
/// ```
/// use tapeflow::{Metric, Tensor};
///
/// let mut acc = Metric::Accuracy.build::<f32>("sparse_categorical_crossentropy", &[2, 3], &[2])?;
/// let y_pred = Tensor::from_vec(vec![0.1, 0.8, 0.1, 0.6, 0.3, 0.1], &[2, 3])?;
/// acc.update(&y_pred, &Tensor::from_vec(vec![1.0, 2.0], &[2])?, None)?;
/// assert_eq!((acc.name(), acc.result()), ("accuracy".to_string(), 0.5));
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// Accuracy of the kind the loss (or the shapes) imply; see the type's docs.
    Accuracy,
    /// [`BinaryAccuracy`] at threshold 0.5.
    BinaryAccuracy,
    /// [`CategoricalAccuracy`].
    CategoricalAccuracy,
    /// [`SparseCategoricalAccuracy`].
    SparseCategoricalAccuracy,
    /// [`TopKCategoricalAccuracy`] with this `k`.
    TopKCategoricalAccuracy(usize),
    /// [`SparseTopKCategoricalAccuracy`] with this `k`.
    SparseTopKCategoricalAccuracy(usize),
    /// [`MeanSquaredError`](super::MeanSquaredError).
    MeanSquaredError,
    /// [`MeanAbsoluteError`](super::MeanAbsoluteError).
    MeanAbsoluteError,
    /// [`Precision`] at threshold 0.5.
    Precision,
    /// [`Recall`] at threshold 0.5.
    Recall,
    /// [`Auc`]: exact ROC AUC.
    Auc,
}

impl Metric {
    /// The Keras name: the history key and the config name.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Metric;
    ///
    /// assert_eq!(Metric::Accuracy.name(), "accuracy");
    /// assert_eq!(Metric::MeanAbsoluteError.name(), "mean_absolute_error");
    /// assert_eq!(Metric::TopKCategoricalAccuracy(3).name(), "top_k_categorical_accuracy");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::BinaryAccuracy => "binary_accuracy",
            Metric::CategoricalAccuracy => "categorical_accuracy",
            Metric::SparseCategoricalAccuracy => "sparse_categorical_accuracy",
            Metric::TopKCategoricalAccuracy(_) => "top_k_categorical_accuracy",
            Metric::SparseTopKCategoricalAccuracy(_) => "sparse_top_k_categorical_accuracy",
            Metric::MeanSquaredError => "mean_squared_error",
            Metric::MeanAbsoluteError => "mean_absolute_error",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::Auc => "auc",
        }
    }

    /// The concrete metric `Accuracy` stands for, given the loss name and the
    /// shapes of `y_pred` and `y_true` (rules in the type's docs); any other
    /// metric is returned unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Metric;
    ///
    /// assert_eq!(Metric::Accuracy.resolve("binary_crossentropy", &[8, 3], &[8, 3]),
    ///            Metric::BinaryAccuracy);
    /// assert_eq!(Metric::Accuracy.resolve("mean_squared_error", &[8, 1], &[8, 1]),
    ///            Metric::BinaryAccuracy);
    /// assert_eq!(Metric::Accuracy.resolve("mean_squared_error", &[8, 3], &[8]),
    ///            Metric::SparseCategoricalAccuracy);
    /// assert_eq!(Metric::Accuracy.resolve("mean_squared_error", &[8, 3], &[8, 3]),
    ///            Metric::CategoricalAccuracy);
    /// assert_eq!(Metric::Auc.resolve("binary_crossentropy", &[8, 1], &[8, 1]), Metric::Auc);
    /// ```
    pub fn resolve(
        &self,
        loss_name: &str,
        y_pred_shape: &[usize],
        y_true_shape: &[usize],
    ) -> Metric {
        if *self != Metric::Accuracy {
            return *self;
        }
        match loss_name {
            "binary_crossentropy" => return Metric::BinaryAccuracy,
            "categorical_crossentropy" => return Metric::CategoricalAccuracy,
            "sparse_categorical_crossentropy" => return Metric::SparseCategoricalAccuracy,
            _ => {}
        }
        let p_last = y_pred_shape.last().copied().unwrap_or(1);
        let t_last = y_true_shape.last().copied().unwrap_or(1);
        let is_binary = y_pred_shape.len() <= 1 || p_last == 1;
        let is_sparse = y_true_shape.len() < y_pred_shape.len() || (t_last == 1 && p_last > 1);
        if is_binary {
            Metric::BinaryAccuracy
        } else if is_sparse {
            Metric::SparseCategoricalAccuracy
        } else {
            Metric::CategoricalAccuracy
        }
    }

    /// Builds the accumulator, resolving `Accuracy` with
    /// [`resolve`](Self::resolve); it reports under [`name`](Self::name).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `metric`) for a top-k metric with `k = 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Metric, Tensor};
    ///
    /// let mut mae = Metric::MeanAbsoluteError.build::<f64>("mean_squared_error", &[2], &[2])?;
    /// mae.update(&Tensor::from_vec(vec![1.0, 3.0], &[2])?, &Tensor::zeros(&[2])?, None)?;
    /// assert_eq!((mae.name(), mae.result()), ("mean_absolute_error".to_string(), 2.0));
    /// assert!(Metric::TopKCategoricalAccuracy(0).build::<f32>("", &[2, 3], &[2, 3]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn build<T: Float>(
        &self,
        loss_name: &str,
        y_pred_shape: &[usize],
        y_true_shape: &[usize],
    ) -> Result<Box<dyn MetricState<T>>> {
        let inner: Box<dyn MetricState<T>> =
            match self.resolve(loss_name, y_pred_shape, y_true_shape) {
                Metric::TopKCategoricalAccuracy(0) | Metric::SparseTopKCategoricalAccuracy(0) => {
                    return Err(Error::InvalidArgument {
                        op: "metric",
                        message: format!("{} needs k >= 1, got 0", self.name()),
                    });
                }
                Metric::Accuracy | Metric::BinaryAccuracy => Box::new(BinaryAccuracy::default()),
                Metric::CategoricalAccuracy => Box::new(CategoricalAccuracy::default()),
                Metric::SparseCategoricalAccuracy => Box::new(SparseCategoricalAccuracy::default()),
                Metric::TopKCategoricalAccuracy(k) => Box::new(TopKCategoricalAccuracy::new(k)),
                Metric::SparseTopKCategoricalAccuracy(k) => {
                    Box::new(SparseTopKCategoricalAccuracy::new(k))
                }
                Metric::MeanSquaredError => Box::new(MeanSquaredError::default()),
                Metric::MeanAbsoluteError => Box::new(MeanAbsoluteError::default()),
                Metric::Precision => Box::new(Precision::default()),
                Metric::Recall => Box::new(Recall::default()),
                Metric::Auc => Box::new(Auc::default()),
            };
        Ok(Box::new(Named {
            name: self.name(),
            inner,
        }))
    }

    /// The metric as JSON: its name, or `{"name": ..., "k": k}` for top-k.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Metric;
    ///
    /// assert_eq!(Metric::Auc.to_config().to_string(), r#""auc""#);
    /// let top3 = Metric::TopKCategoricalAccuracy(3);
    /// assert_eq!(Metric::from_config(&top3.to_config())?, top3);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_config(&self) -> Value {
        match self {
            Metric::TopKCategoricalAccuracy(k) | Metric::SparseTopKCategoricalAccuracy(k) => {
                json!({ "name": self.name(), "k": k })
            }
            _ => Value::String(self.name().to_string()),
        }
    }

    /// Reads a metric written by [`to_config`](Self::to_config). Also takes
    /// Keras's aliases `"acc"`, `"mse"`, `"mae"`, and a top-k name without
    /// `k` (Keras's default, 5).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `metric`) for an unknown name, an
    /// unknown key (only `"name"` and `"k"` exist), a `"name"` that is
    /// missing or not a string, a `"k"` that is not a whole number `>= 1`,
    /// or a `"k"` given to a metric without one; the message names the key
    /// and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::Metric;
    ///
    /// assert_eq!(Metric::from_config(&json!("mae"))?, Metric::MeanAbsoluteError);
    /// assert!(Metric::from_config(&json!("f1")).is_err());
    /// let err = Metric::from_config(&json!({"name": "auc", "curve": "PR"})).unwrap_err();
    /// assert!(err.to_string().starts_with("metric: unknown key \"curve\""));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(value: &Value) -> Result<Metric> {
        let bad = |message: String| Error::InvalidArgument {
            op: "metric",
            message,
        };
        let (name, k) = match value {
            Value::String(name) => (name.as_str(), None),
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| !matches!(k.as_str(), "name" | "k")) {
                    return Err(bad(format!(
                        "unknown key {key:?} in {value}; a metric object has the keys \"name\" and \"k\""
                    )));
                }
                let name = match map.get("name") {
                    Some(Value::String(name)) => name.as_str(),
                    Some(other) => {
                        return Err(bad(format!("key \"name\" must be a string, got {other}")));
                    }
                    None => return Err(bad(format!("key \"name\" is missing in {value}"))),
                };
                let k = match map.get("k") {
                    None => None,
                    Some(k) => Some(
                        k.as_u64()
                            .filter(|&k| k >= 1)
                            .and_then(|k| usize::try_from(k).ok())
                            .ok_or_else(|| {
                                bad(format!("key \"k\" must be a whole number >= 1, got {k}"))
                            })?,
                    ),
                };
                (name, k)
            }
            other => return Err(bad(format!("expected a name or an object, got {other}"))),
        };
        let metric = match name {
            "accuracy" | "acc" => Metric::Accuracy,
            "binary_accuracy" => Metric::BinaryAccuracy,
            "categorical_accuracy" => Metric::CategoricalAccuracy,
            "sparse_categorical_accuracy" => Metric::SparseCategoricalAccuracy,
            "top_k_categorical_accuracy" => Metric::TopKCategoricalAccuracy(k.unwrap_or(5)),
            "sparse_top_k_categorical_accuracy" => {
                Metric::SparseTopKCategoricalAccuracy(k.unwrap_or(5))
            }
            "mean_squared_error" | "mse" => Metric::MeanSquaredError,
            "mean_absolute_error" | "mae" => Metric::MeanAbsoluteError,
            "precision" => Metric::Precision,
            "recall" => Metric::Recall,
            "auc" => Metric::Auc,
            other => return Err(bad(format!("unknown metric {other:?}"))),
        };
        let takes_k = matches!(
            metric,
            Metric::TopKCategoricalAccuracy(_) | Metric::SparseTopKCategoricalAccuracy(_)
        );
        if k.is_some() && !takes_k {
            return Err(bad(format!("{} takes no k", metric.name())));
        }
        Ok(metric)
    }
}

/// An accumulator reported under the name the user chose.
#[derive(Debug)]
struct Named<T: Float> {
    name: &'static str,
    inner: Box<dyn MetricState<T>>,
}

impl<T: Float> MetricState<T> for Named<T> {
    fn update(
        &mut self,
        y_pred: &Tensor<T>,
        y_true: &Tensor<T>,
        sample_weight: Option<&Tensor<T>>,
    ) -> Result<()> {
        self.inner.update(y_pred, y_true, sample_weight)
    }

    fn result(&self) -> f64 {
        self.inner.result()
    }

    fn reset(&mut self) {
        self.inner.reset();
    }

    fn name(&self) -> String {
        self.name.to_string()
    }
}
