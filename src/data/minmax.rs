//! [`MinMaxScaler`]: per-column rescaling to a fixed range.

use serde_json::{Value, json};

use super::dataset::Dataset;
use super::scale::{fit_columns, map_columns, read_numbers, read_state};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Rescales each column linearly so that the column's minimum and maximum
/// learned by [`fit`](Self::fit) map to the ends of `feature_range`
/// (`[0, 1]` unless set with [`with_range`](Self::with_range)), as
/// scikit-learn's `MinMaxScaler`:
/// `x' = (x - data_min) / (data_max - data_min) * (max - min) + min`.
///
/// A constant column (`data_max == data_min`) is treated as having range 1,
/// so its training value maps to the range minimum instead of dividing by
/// zero (scikit-learn does the same).
///
/// Saved and restored with [`to_json`](Self::to_json) /
/// [`from_json`](Self::from_json).
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::MinMaxScaler};
///
/// let x = Tensor::from_vec(vec![1.0f32, 4.0, 3.0, 4.0, 5.0, 4.0], &[3, 2])?;
/// let mut scaler = MinMaxScaler::new();
/// let y = scaler.fit_transform(&x)?;
/// assert_eq!(y.to_vec(), vec![0.0, 0.0, 0.5, 0.0, 1.0, 0.0]);   // column 1 is constant
/// assert_eq!(scaler.inverse_transform(&y)?, x);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct MinMaxScaler {
    range: (f64, f64),
    /// `(data_min, data_max)` per column once fitted.
    fitted: Option<(Vec<f64>, Vec<f64>)>,
}

impl Default for MinMaxScaler {
    /// An unfitted scaler to `[0, 1]`.
    fn default() -> Self {
        MinMaxScaler {
            range: (0.0, 1.0),
            fitted: None,
        }
    }
}

impl MinMaxScaler {
    /// An unfitted scaler to `[0, 1]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::MinMaxScaler;
    ///
    /// assert_eq!(MinMaxScaler::new().feature_range(), (0.0, 1.0));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An unfitted scaler to `[min, max]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `min < max`, both finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::with_range(-1.0, 1.0)?;
    /// let y = s.fit_transform(&Tensor::from_vec(vec![0.0f32, 5.0, 10.0], &[3, 1])?)?;
    /// assert_eq!(y.to_vec(), vec![-1.0, 0.0, 1.0]);
    /// assert!(MinMaxScaler::with_range(1.0, 1.0).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn with_range(min: f64, max: f64) -> Result<Self> {
        if !(min.is_finite() && max.is_finite() && min < max) {
            return Err(Error::InvalidArgument {
                op: "MinMaxScaler::with_range",
                message: format!("needs finite min < max, got min {min}, max {max}"),
            });
        }
        Ok(MinMaxScaler {
            range: (min, max),
            fitted: None,
        })
    }

    /// The target range `(min, max)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::MinMaxScaler;
    ///
    /// assert_eq!(MinMaxScaler::with_range(-1.0, 1.0)?.feature_range(), (-1.0, 1.0));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn feature_range(&self) -> (f64, f64) {
        self.range
    }

    /// Learns each column's minimum and maximum from `x` (`[n, d]`).
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] unless `x` is 2-D; [`Error::InvalidArgument`]
    /// for no rows or a non-finite value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::new();
    /// s.fit(&Tensor::from_vec(vec![3.0f32, -1.0], &[2, 1])?)?;
    /// assert_eq!((s.data_min(), s.data_max()), (Some(&[-1.0][..]), Some(&[3.0][..])));
    /// assert!(s.fit(&Tensor::from_vec(vec![f32::NAN], &[1, 1])?).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fit<T: Float>(&mut self, x: &Tensor<T>) -> Result<()> {
        let cols = fit_columns("MinMaxScaler::fit", x)?;
        let min = cols
            .iter()
            .map(|c| c.iter().copied().fold(f64::INFINITY, f64::min));
        let max = cols
            .iter()
            .map(|c| c.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        self.fitted = Some((min.collect(), max.collect()));
        Ok(())
    }

    /// Per column: `(data_min, data_max)`, with a constant column's range
    /// taken as 1 (`max = min + 1`, written as half-ranges below).
    ///
    /// Every formula works on halves (`b/2 - a/2`, never `b - a`), so a
    /// column spanning `-1e308..1e308` is scaled instead of overflowing to
    /// an infinite range that would flatten it.
    fn affine(&self) -> Vec<(f64, f64)> {
        self.fitted.as_ref().map_or_else(Vec::new, |(dmin, dmax)| {
            dmin.iter()
                .zip(dmax)
                .map(|(&a, &b)| (a, if b > a { b / 2.0 - a / 2.0 } else { 0.5 }))
                .collect()
        })
    }

    /// Rescales `x` with the fitted minimum and maximum.
    ///
    /// Values outside the training range map outside `feature_range` (no clipping).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before [`fit`](Self::fit) or if `x` is not a
    /// 2-D table with the fitted number of columns.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::new();
    /// assert!(s.transform(&Tensor::<f32>::zeros(&[1, 1])?).is_err());
    /// s.fit(&Tensor::from_vec(vec![0.0f32, 10.0], &[2, 1])?)?;
    /// assert_eq!(s.transform(&Tensor::from_vec(vec![20.0f32], &[1, 1])?)?.to_vec(), vec![2.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let (lo, hi) = self.range;
        let ab = self.affine();
        map_columns("MinMaxScaler::transform", x, self.n_features(), |j, v| {
            // t = (v - min) / (max - min), then lo + t (hi - lo), on halves.
            let t = (v / 2.0 - ab[j].0 / 2.0) / ab[j].1;
            t * hi + (1.0 - t) * lo
        })
    }

    /// [`fit`](Self::fit) on `x`, then [`transform`](Self::transform) it.
    ///
    /// # Errors
    ///
    /// As [`fit`](Self::fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let y = MinMaxScaler::new().fit_transform(&Tensor::from_vec(vec![2.0f64, 4.0], &[2, 1])?)?;
    /// assert_eq!(y.to_vec(), vec![0.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fit_transform<T: Float>(&mut self, x: &Tensor<T>) -> Result<Tensor<T>> {
        self.fit(x)?;
        self.transform(x)
    }

    /// Fits on the features of `train` only, then scales the features of
    /// both `train` and `test` (targets unchanged): the usual
    /// `scaler.fit_transform(X_train)`, `scaler.transform(X_test)` of
    /// scikit-learn in one call, so no statistic of the test data leaks into
    /// training. The fitted scaler stays in `self` (to save it, or to scale
    /// new data the same way).
    ///
    /// # Errors
    ///
    /// As [`fit`](Self::fit) on `train`'s features and
    /// [`transform`](Self::transform) on `test`'s.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::{Dataset, MinMaxScaler}};
    ///
    /// let train = Dataset::new(Tensor::from_vec(vec![0.0f32, 4.0], &[2, 1])?, Tensor::zeros(&[2, 1])?)?;
    /// let test = Dataset::new(Tensor::from_vec(vec![2.0f32, 8.0], &[2, 1])?, Tensor::ones(&[2, 1])?)?;
    /// let (train, test) = MinMaxScaler::new().fit_transform_split(&train, &test)?;
    /// assert_eq!(train.features().to_vec(), vec![0.0, 1.0]);
    /// assert_eq!(test.features().to_vec(), vec![0.5, 2.0]);    // train's range: test may leave [0, 1]
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fit_transform_split<T: Float>(
        &mut self,
        train: &Dataset<T>,
        test: &Dataset<T>,
    ) -> Result<(Dataset<T>, Dataset<T>)> {
        let x_train = self.fit_transform(train.features())?;
        let x_test = self.transform(test.features())?;
        Ok((train.with_features(x_train)?, test.with_features(x_test)?))
    }

    /// Undoes [`transform`](Self::transform).
    ///
    /// # Errors
    ///
    /// As [`transform`](Self::transform).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::new();
    /// s.fit(&Tensor::from_vec(vec![0.0f32, 10.0], &[2, 1])?)?;
    /// assert_eq!(s.inverse_transform(&Tensor::from_vec(vec![0.5f32], &[1, 1])?)?.to_vec(), vec![5.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn inverse_transform<T: Float>(&self, y: &Tensor<T>) -> Result<Tensor<T>> {
        let (lo, hi) = self.range;
        let ab = self.affine();
        map_columns(
            "MinMaxScaler::inverse_transform",
            y,
            self.n_features(),
            // t = (v - lo) / (hi - lo), then min + t (max - min), on halves.
            |j, v| {
                let t = (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0);
                ab[j].0 + t * ab[j].1 + t * ab[j].1
            },
        )
    }

    /// The fitted per-column minimums, or `None` before [`fit`](Self::fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::new();
    /// s.fit(&Tensor::from_vec(vec![2.0f32, 1.0], &[1, 2])?)?;
    /// assert_eq!(s.data_min(), Some(&[2.0, 1.0][..]));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn data_min(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|(a, _)| a.as_slice())
    }

    /// The fitted per-column maximums, or `None` before [`fit`](Self::fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::new();
    /// s.fit(&Tensor::from_vec(vec![2.0f32, 5.0], &[2, 1])?)?;
    /// assert_eq!(s.data_max(), Some(&[5.0][..]));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn data_max(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|(_, b)| b.as_slice())
    }

    /// The number of columns seen by [`fit`](Self::fit), or `None` before it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::new();
    /// s.fit(&Tensor::<f32>::ones(&[2, 3])?)?;
    /// assert_eq!(s.n_features(), Some(3));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn n_features(&self) -> Option<usize> {
        self.fitted.as_ref().map(|(a, _)| a.len())
    }

    /// The scaler's state as a small JSON document with the keys `kind`
    /// (`"MinMaxScaler"`), `version` (1), `feature_range`, `data_min` and `data_max`
    /// (`null` arrays when unfitted), numbers written exactly.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::MinMaxScaler};
    ///
    /// let mut s = MinMaxScaler::with_range(-1.0, 1.0)?;
    /// s.fit(&Tensor::from_vec(vec![0.25f32, 2.0], &[2, 1])?)?;
    /// assert!(s.to_json().contains(r#""feature_range":[-1.0,1.0]"#));
    /// assert_eq!(MinMaxScaler::from_json(&s.to_json())?, s);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        let (dmin, dmax) = match &self.fitted {
            Some((a, b)) => (json!(a), json!(b)),
            None => (Value::Null, Value::Null),
        };
        json!({
            "kind": "MinMaxScaler",
            "version": 1,
            "feature_range": [self.range.0, self.range.1],
            "data_min": dmin,
            "data_max": dmax,
        })
        .to_string()
    }

    /// Restores a scaler saved by [`to_json`](Self::to_json).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] saying what is wrong for text that is not
    /// JSON, another kind or version, a bad `feature_range`, arrays of
    /// different lengths, or a minimum above its maximum.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::MinMaxScaler;
    ///
    /// let text = r#"{"kind":"MinMaxScaler","version":1,"feature_range":[0,1],"data_min":[2],"data_max":[1]}"#;
    /// let err = MinMaxScaler::from_json(text).unwrap_err();
    /// assert!(err.to_string().starts_with("MinMaxScaler::from_json: "));
    /// assert!(MinMaxScaler::from_json(r#"{"kind":"StandardScaler","version":1}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        const OP: &str = "MinMaxScaler::from_json";
        let doc = read_state(OP, text, "MinMaxScaler")?;
        let bad = |message: &str| Error::InvalidArgument {
            op: OP,
            message: message.to_string(),
        };
        let range = match read_numbers(OP, &doc, "feature_range")?.as_deref() {
            Some(&[lo, hi]) if lo < hi => (lo, hi),
            _ => return Err(bad("\"feature_range\" must be [min, max] with min < max")),
        };
        let fitted = match (
            read_numbers(OP, &doc, "data_min")?,
            read_numbers(OP, &doc, "data_max")?,
        ) {
            (None, None) => None,
            (Some(a), Some(b)) if a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x <= y) => {
                Some((a, b))
            }
            _ => {
                return Err(bad(
                    "\"data_min\" and \"data_max\" must both be null or arrays of equal length with data_min <= data_max",
                ));
            }
        };
        Ok(MinMaxScaler { range, fitted })
    }
}
