//! [`StandardScaler`]: per-column standardisation, and the pieces the
//! scalers share (table checks, applying per-column maps, JSON state).
//!
//! Scalers keep their statistics in `f64` whatever the element type, so a
//! scaler fitted on `f32` data can transform `f64` data and its saved state
//! does not depend on the element type.

use super::dataset::Dataset;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use serde_json::{Value, json};

/// Checks for a 2-D `[n, d]` table with `n >= 1` finite values; returns its
/// columns as `f64` (column-major) for the statistics.
pub(super) fn fit_columns<T: Float>(op: &'static str, x: &Tensor<T>) -> Result<Vec<Vec<f64>>> {
    let &[n, d] = x.shape() else {
        return Err(Error::RankMismatch {
            op,
            expected: "a 2-d table [rows, columns]",
            shape: x.shape().to_vec(),
        });
    };
    if n == 0 {
        return Err(Error::InvalidArgument {
            op,
            message: format!("needs at least one row, got shape {:?}", x.shape()),
        });
    }
    let xs = x.as_slice();
    let mut cols = vec![Vec::with_capacity(n); d];
    for (k, &v) in xs.iter().enumerate() {
        if !v.is_finite() {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "row {}, column {} is {v}; impute or drop missing values first",
                    k / d.max(1),
                    k % d.max(1)
                ),
            });
        }
        cols[k % d].push(v.to_f64());
    }
    Ok(cols)
}

/// Applies `f(column, value)` to every element of a `[n, d]` table whose
/// column count must equal the fitted one.
pub(super) fn map_columns<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    fitted: Option<usize>,
    f: impl Fn(usize, f64) -> f64,
) -> Result<Tensor<T>> {
    let Some(d) = fitted else {
        return Err(Error::InvalidArgument {
            op,
            message: "the scaler is not fitted; call fit first".to_string(),
        });
    };
    match x.shape() {
        &[_, cols] if cols == d => {}
        s => {
            return Err(Error::InvalidArgument {
                op,
                message: format!("the scaler was fitted on {d} columns, got shape {s:?}"),
            });
        }
    }
    let d = d.max(1);
    let mut data: Vec<T> = crate::tensor::try_alloc(op, x.shape())?;
    for (k, &v) in x.as_slice().iter().enumerate() {
        let y = T::from_f64(f(k % d, v.to_f64()));
        // A finite value must map to a finite one: far outside the fitted
        // range, or in `f32`, the result can overflow the element type.
        if v.is_finite() && !y.is_finite() {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "row {}, column {}: {v} maps to {y}, outside the range of {}",
                    k / d,
                    k % d,
                    T::NAME
                ),
            });
        }
        data.push(y);
    }
    Tensor::from_vec(data, x.shape())
}

/// Reads the saved state: checks `kind` and `version`, returns the document.
pub(super) fn read_state(op: &'static str, text: &str, kind: &str) -> Result<Value> {
    let bad = |message: String| Error::InvalidArgument { op, message };
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    match doc.get("kind") {
        Some(Value::String(k)) if k == kind => {}
        other => return Err(bad(format!("expected kind {kind:?}, got {other:?}"))),
    }
    match doc.get("version").and_then(Value::as_u64) {
        Some(1) => Ok(doc),
        other => Err(bad(format!("unsupported version {other:?}, expected 1"))),
    }
}

/// A member that is `null` (unfitted) or an array of numbers.
pub(super) fn read_numbers(op: &'static str, doc: &Value, key: &str) -> Result<Option<Vec<f64>>> {
    let bad = |what: &str| Error::InvalidArgument {
        op,
        message: format!("{key:?} {what}"),
    };
    match doc.get(key) {
        Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| bad("must hold only finite numbers"))
            })
            .collect::<Result<Vec<f64>>>()
            .map(Some),
        Some(_) => Err(bad("must be an array of numbers or null")),
        None => Err(bad("is missing")),
    }
}

/// The mean and the standard deviation (1 for a constant column) of a
/// non-empty column of finite values, without overflow.
///
/// The column is first divided by a power of two `s` at least its largest
/// magnitude (exact: only exponents change), so every value is in `[-1, 1]`,
/// the sum of `n` of them is at most `n` and every square at most 4; the
/// moments are then multiplied back by `s`. Squaring `1e200` directly would
/// give an infinite variance and leave the column unscaled.
pub(super) fn column_moments(col: &[f64]) -> (f64, f64) {
    let big = col.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if big == 0.0 {
        return (0.0, 1.0);
    }
    // 2^e >= big, kept within the normal exponents so that s is neither
    // infinite (e = 1024) nor zero.
    let e = big.log2().ceil().clamp(-1022.0, 1023.0) as i32;
    let s = 2f64.powi(e);
    let n = col.len() as f64;
    let m = col.iter().map(|v| v / s).sum::<f64>() / n;
    let var = col.iter().map(|v| (v / s - m) * (v / s - m)).sum::<f64>() / n;
    // scikit-learn's bound on the rounding error of a constant column's
    // variance; both sides scale by s², so it holds on the scaled column.
    let eps = f64::EPSILON;
    let constant = var <= n * eps * var + (n * m * eps).powi(2);
    (m * s, if constant { 1.0 } else { var.sqrt() * s })
}

/// Standardises each column: `z = (x - mean) / std`, with the mean and the
/// population standard deviation (divisor `n`) of the column learned by
/// [`fit`](Self::fit), as scikit-learn's `StandardScaler`.
///
/// A constant column (variance zero up to rounding) gets scale 1, so it comes
/// out centred at 0 rather than divided by zero, as in scikit-learn.
///
/// Saved and restored with [`to_json`](Self::to_json) /
/// [`from_json`](Self::from_json), so a deployed model applies exactly the
/// scaling it was trained with.
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::StandardScaler};
///
/// let x = Tensor::from_vec(vec![1.0f32, 5.0, 3.0, 5.0], &[2, 2])?;
/// let mut scaler = StandardScaler::new();
/// let z = scaler.fit_transform(&x)?;
/// assert_eq!(z.to_vec(), vec![-1.0, 0.0, 1.0, 0.0]);   // column 1 is constant
/// assert_eq!(scaler.mean(), Some(&[2.0, 5.0][..]));
/// assert_eq!(scaler.scale(), Some(&[1.0, 1.0][..]));
/// assert_eq!(scaler.inverse_transform(&z)?, x);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StandardScaler {
    /// `(mean, scale)` per column once fitted.
    fitted: Option<(Vec<f64>, Vec<f64>)>,
}

impl StandardScaler {
    /// An unfitted scaler.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::StandardScaler;
    ///
    /// assert_eq!(StandardScaler::new().mean(), None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns each column's mean and standard deviation from `x` (`[n, d]`).
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] unless `x` is 2-D; [`Error::InvalidArgument`]
    /// for no rows or a non-finite value (missing values must be imputed or
    /// dropped first).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// s.fit(&Tensor::from_vec(vec![0.0f64, 2.0], &[2, 1])?)?;
    /// assert_eq!((s.mean(), s.scale()), (Some(&[1.0][..]), Some(&[1.0][..])));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fit<T: Float>(&mut self, x: &Tensor<T>) -> Result<()> {
        let cols = fit_columns("StandardScaler::fit", x)?;
        let (mut mean, mut scale) = (Vec::new(), Vec::new());
        for col in &cols {
            let (m, s) = column_moments(col);
            mean.push(m);
            scale.push(s);
        }
        self.fitted = Some((mean, scale));
        Ok(())
    }

    /// Standardises `x` with the fitted statistics: `(x - mean) / scale`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] before [`fit`](Self::fit) or if `x` is not a
    /// 2-D table with the fitted number of columns.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// assert!(s.transform(&Tensor::<f32>::zeros(&[1, 1])?).is_err());
    /// s.fit(&Tensor::from_vec(vec![0.0f32, 2.0], &[2, 1])?)?;
    /// assert_eq!(s.transform(&Tensor::from_vec(vec![3.0f32], &[1, 1])?)?.to_vec(), vec![2.0]);
    /// assert!(s.transform(&Tensor::<f32>::zeros(&[1, 2])?).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let (mean, scale) = self.parts();
        map_columns("StandardScaler::transform", x, self.n_features(), |j, v| {
            let z = (v - mean[j]) / scale[j];
            if z.is_finite() || !v.is_finite() {
                z
            } else {
                // On halves: `v - mean` overflows for v = 1e308, mean = -1e308.
                (v / 2.0 - mean[j] / 2.0) / scale[j] * 2.0
            }
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
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let z = StandardScaler::new().fit_transform(&Tensor::from_vec(vec![1.0f32, 3.0], &[2, 1])?)?;
    /// assert_eq!(z.to_vec(), vec![-1.0, 1.0]);
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
    /// use tapeflow::{Tensor, data::{Dataset, StandardScaler}};
    ///
    /// let train = Dataset::new(Tensor::from_vec(vec![1.0f32, 3.0], &[2, 1])?, Tensor::zeros(&[2, 1])?)?;
    /// let test = Dataset::new(Tensor::from_vec(vec![5.0f32], &[1, 1])?, Tensor::ones(&[1, 1])?)?;
    /// let mut scaler = StandardScaler::new();
    /// let (train, test) = scaler.fit_transform_split(&train, &test)?;
    /// assert_eq!(train.features().to_vec(), vec![-1.0, 1.0]);   // mean 2, std 1
    /// assert_eq!(test.features().to_vec(), vec![3.0]);          // scaled by train's statistics
    /// assert_eq!(test.targets().to_vec(), vec![1.0]);
    /// assert_eq!(scaler.mean(), Some(&[2.0][..]));
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

    /// Undoes [`transform`](Self::transform): `z * scale + mean`.
    ///
    /// # Errors
    ///
    /// As [`transform`](Self::transform).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// s.fit(&Tensor::from_vec(vec![1.0f32, 3.0], &[2, 1])?)?;
    /// // mean 2, std 1: 2 * 1 + 2
    /// assert_eq!(s.inverse_transform(&Tensor::from_vec(vec![2.0f32], &[1, 1])?)?.to_vec(), vec![4.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn inverse_transform<T: Float>(&self, z: &Tensor<T>) -> Result<Tensor<T>> {
        let (mean, scale) = self.parts();
        map_columns(
            "StandardScaler::inverse_transform",
            z,
            self.n_features(),
            |j, v| {
                let x = v * scale[j] + mean[j];
                if x.is_finite() || !v.is_finite() {
                    x
                } else {
                    // As mean + v·scale/2 + v·scale/2, so that a value near
                    // the range of f64 does not overflow halfway.
                    mean[j] + v * (scale[j] / 2.0) + v * (scale[j] / 2.0)
                }
            },
        )
    }

    fn parts(&self) -> (&[f64], &[f64]) {
        self.fitted
            .as_ref()
            .map_or((&[], &[]), |(m, s)| (m.as_slice(), s.as_slice()))
    }

    /// The fitted per-column means, or `None` before [`fit`](Self::fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// s.fit(&Tensor::from_vec(vec![1.0f32, 3.0], &[2, 1])?)?;
    /// assert_eq!(s.mean(), Some(&[2.0][..]));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mean(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|(m, _)| m.as_slice())
    }

    /// The fitted per-column scales (standard deviations, 1 for a constant
    /// column), or `None` before [`fit`](Self::fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// s.fit(&Tensor::from_vec(vec![7.0f32, 7.0], &[2, 1])?)?;
    /// assert_eq!(s.scale(), Some(&[1.0][..]));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn scale(&self) -> Option<&[f64]> {
        self.fitted.as_ref().map(|(_, s)| s.as_slice())
    }

    /// The number of columns seen by [`fit`](Self::fit), or `None` before it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// s.fit(&Tensor::<f32>::ones(&[2, 3])?)?;
    /// assert_eq!(s.n_features(), Some(3));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn n_features(&self) -> Option<usize> {
        self.fitted.as_ref().map(|(m, _)| m.len())
    }

    /// The scaler's state as a small JSON document with the keys `kind`
    /// (`"StandardScaler"`), `version` (1), `mean` and `scale`
    /// (`null` arrays when unfitted). Numbers are written exactly (shortest
    /// round-trip form), so [`from_json`](Self::from_json) restores an
    /// identical scaler.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Tensor, data::StandardScaler};
    ///
    /// let mut s = StandardScaler::new();
    /// s.fit(&Tensor::from_vec(vec![0.1f64, 0.7], &[2, 1])?)?;
    /// let text = s.to_json();
    /// assert!(text.contains(r#""mean":[0.39999999999999997]"#));
    /// assert_eq!(StandardScaler::from_json(&text)?, s);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        let (mean, scale) = match &self.fitted {
            Some((m, s)) => (json!(m), json!(s)),
            None => (Value::Null, Value::Null),
        };
        json!({ "kind": "StandardScaler", "version": 1, "mean": mean, "scale": scale }).to_string()
    }

    /// Restores a scaler saved by [`to_json`](Self::to_json).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] saying what is wrong for text that is not
    /// JSON, another kind or version, arrays of different lengths, or a scale
    /// that is not positive.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::StandardScaler;
    ///
    /// let s = StandardScaler::from_json(r#"{"kind":"StandardScaler","version":1,"mean":[1.0],"scale":[2.0]}"#)?;
    /// assert_eq!(s.scale(), Some(&[2.0][..]));
    /// assert!(StandardScaler::from_json(r#"{"kind":"StandardScaler","version":1,"mean":[1.0],"scale":[0.0]}"#).is_err());
    /// assert!(StandardScaler::from_json("{\"kind\":").is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Self> {
        const OP: &str = "StandardScaler::from_json";
        let doc = read_state(OP, text, "StandardScaler")?;
        let fitted = match (
            read_numbers(OP, &doc, "mean")?,
            read_numbers(OP, &doc, "scale")?,
        ) {
            (None, None) => None,
            (Some(mean), Some(scale))
                if mean.len() == scale.len() && scale.iter().all(|&s| s > 0.0) =>
            {
                Some((mean, scale))
            }
            _ => {
                return Err(Error::InvalidArgument {
                    op: OP,
                    message: "\"mean\" and \"scale\" must both be null or arrays of equal length with positive scales".to_string(),
                });
            }
        };
        Ok(StandardScaler { fitted })
    }
}
