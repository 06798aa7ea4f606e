//! Class labels: [`one_hot`] / [`to_categorical`], [`class_indices`] (the
//! way back from a target tensor) and [`LabelEncoder`] for string classes.

use std::collections::HashMap;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One-hot encodes class indices: row `i` is all zeros except a one at
/// column `labels[i]`.
///
/// # Shapes
///
/// `labels: n` gives `[n, classes]`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] naming the row if a label is `>= classes`;
/// [`Error::SizeOverflow`] / [`Error::OutOfMemory`] naming the shape
/// `[labels.len(), classes]` if the table cannot be held
/// (`one_hot(&[0, 1], usize::MAX)`).
///
/// # Examples
///
/// ```
/// use tapeflow::data::one_hot;
///
/// let y = one_hot::<f32>(&[2, 0], 3)?;
/// assert_eq!(y.shape(), &[2, 3]);
/// assert_eq!(y.to_vec(), vec![0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
/// let err = one_hot::<f32>(&[0, 3], 3).unwrap_err();
/// assert_eq!(err.to_string(), "one_hot: row 1 has label 3, expected a label below 3 classes");
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn one_hot<T: Float>(labels: &[usize], classes: usize) -> Result<Tensor<T>> {
    if let Some((row, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= classes) {
        return Err(Error::InvalidArgument {
            op: "one_hot",
            message: format!(
                "row {row} has label {label}, expected a label below {classes} classes"
            ),
        });
    }
    let shape = [labels.len(), classes];
    let mut data = crate::tensor::try_filled("one_hot", &shape, T::zero())?;
    for (row, &label) in labels.iter().enumerate() {
        // label < classes (checked above) and row < labels.len(), so the
        // index is inside the [labels.len(), classes] table.
        data[row * classes + label] = T::one();
    }
    Tensor::from_vec(data, &shape)
}

/// Keras's name for [`one_hot`]: `to_categorical(y, num_classes)`.
///
/// # Errors
///
/// As [`one_hot`].
///
/// # Examples
///
/// ```
/// use tapeflow::data::to_categorical;
///
/// let y = to_categorical::<f64>(&[1], 2)?;
/// assert_eq!(y.to_vec(), vec![0.0, 1.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn to_categorical<T: Float>(labels: &[usize], num_classes: usize) -> Result<Tensor<T>> {
    one_hot(labels, num_classes)
}

/// The largest whole number every float of 53 bits of mantissa holds exactly.
const MAX_EXACT: f64 = 9_007_199_254_740_992.0;

/// Reads class indices out of a target tensor: either a column of whole
/// numbers (`[n]` or `[n, 1]`) or one-hot / probability rows (`[n, c]`,
/// `c > 1`, where the class is the column of the row's maximum).
///
/// # Errors
///
/// [`Error::RankMismatch`] for other shapes; [`Error::InvalidArgument`]
/// naming the row for a class value that is negative, fractional, not
/// finite, or above 2^53 (beyond the whole numbers a float holds exactly; a
/// larger value would be saturated, not converted).
///
/// # Examples
///
/// ```
/// use tapeflow::{Tensor, data::class_indices};
///
/// let col = Tensor::from_vec(vec![2.0f32, 0.0, 1.0], &[3, 1])?;
/// assert_eq!(class_indices(&col)?, vec![2, 0, 1]);
/// let hot = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0], &[2, 2])?;
/// assert_eq!(class_indices(&hot)?, vec![1, 0]);
/// assert!(class_indices(&Tensor::from_vec(vec![0.5f32], &[1])?).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn class_indices<T: Float>(targets: &Tensor<T>) -> Result<Vec<usize>> {
    let shape = targets.shape();
    let xs = targets.as_slice();
    match shape {
        [_] | [_, 1] => xs
            .iter()
            .enumerate()
            .map(|(row, &v)| {
                let f = v.to_f64();
                if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= MAX_EXACT {
                    Ok(f as usize)
                } else {
                    Err(Error::InvalidArgument {
                        op: "class_indices",
                        message: format!(
                            "row {row} has target {v}, expected a class index (a whole number >= 0)"
                        ),
                    })
                }
            })
            .collect(),
        [_, c] if *c > 1 => Ok(xs
            .chunks(*c)
            .map(|row| {
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best
            })
            .collect()),
        _ => Err(Error::RankMismatch {
            op: "class_indices",
            expected: "class indices [n] or [n, 1], or one-hot rows [n, c]",
            shape: shape.to_vec(),
        }),
    }
}

/// Maps string class names to indices `0..k` and back, in sorted order of
/// the names (as scikit-learn's `LabelEncoder`).
///
/// # Examples
///
/// ```
/// use tapeflow::data::LabelEncoder;
///
/// let mut enc = LabelEncoder::new();
/// let y = enc.fit_transform(&["virginica", "setosa", "virginica"])?;
/// assert_eq!(enc.classes(), &["setosa".to_string(), "virginica".to_string()]);
/// assert_eq!(y, vec![1, 0, 1]);
/// assert_eq!(enc.inverse_transform(&[0])?, vec!["setosa".to_string()]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelEncoder {
    classes: Vec<String>,
    index: HashMap<String, usize>,
}

impl LabelEncoder {
    /// An encoder that knows no class yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// assert!(LabelEncoder::new().classes().is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An encoder with the given classes, in the given order (class `i` is
    /// `classes[i]`): how a saved encoder is restored.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming a class that appears twice.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// let enc = LabelEncoder::from_classes(vec!["no".into(), "yes".into()])?;
    /// assert_eq!(enc.transform(&["yes"])?, vec![1]);
    /// assert!(LabelEncoder::from_classes(vec!["a".into(), "a".into()]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_classes(classes: Vec<String>) -> Result<Self> {
        let mut index = HashMap::with_capacity(classes.len());
        for (i, c) in classes.iter().enumerate() {
            if index.insert(c.clone(), i).is_some() {
                return Err(Error::InvalidArgument {
                    op: "LabelEncoder::from_classes",
                    message: format!("class {c:?} appears more than once"),
                });
            }
        }
        Ok(LabelEncoder { classes, index })
    }

    /// Learns the classes: the distinct labels, sorted. Replaces any earlier fit.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// let mut enc = LabelEncoder::new();
    /// enc.fit(&["b", "a", "b"]);
    /// assert_eq!(enc.classes().len(), 2);
    /// ```
    pub fn fit<S: AsRef<str>>(&mut self, labels: &[S]) {
        let mut classes: Vec<String> = labels.iter().map(|s| s.as_ref().to_string()).collect();
        classes.sort();
        classes.dedup();
        *self = Self::from_classes(classes).expect("invariant: deduplicated classes are unique");
    }

    /// The class index of each label.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the row and the label for a label
    /// not seen by [`fit`](Self::fit).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// let mut enc = LabelEncoder::new();
    /// enc.fit(&["cat", "dog"]);
    /// assert_eq!(enc.transform(&["dog", "cat"])?, vec![1, 0]);
    /// let err = enc.transform(&["cat", "emu"]).unwrap_err();
    /// assert_eq!(err.to_string(), "LabelEncoder::transform: row 1 has unknown label \"emu\", known classes [\"cat\", \"dog\"]");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn transform<S: AsRef<str>>(&self, labels: &[S]) -> Result<Vec<usize>> {
        labels
            .iter()
            .enumerate()
            .map(|(row, s)| {
                self.index
                    .get(s.as_ref())
                    .copied()
                    .ok_or_else(|| Error::InvalidArgument {
                        op: "LabelEncoder::transform",
                        message: format!(
                            "row {row} has unknown label {:?}, known classes {:?}",
                            s.as_ref(),
                            self.classes
                        ),
                    })
            })
            .collect()
    }

    /// [`fit`](Self::fit) then [`transform`](Self::transform).
    ///
    /// # Errors
    ///
    /// None in practice (every label was just fitted); the `Result` mirrors
    /// [`transform`](Self::transform).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// assert_eq!(LabelEncoder::new().fit_transform(&["b", "a"])?, vec![1, 0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn fit_transform<S: AsRef<str>>(&mut self, labels: &[S]) -> Result<Vec<usize>> {
        self.fit(labels);
        self.transform(labels)
    }

    /// The class name of each index.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] for an index `>= classes().len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// let mut enc = LabelEncoder::new();
    /// enc.fit(&["x", "y"]);
    /// assert_eq!(enc.inverse_transform(&[1, 1])?, vec!["y".to_string(), "y".to_string()]);
    /// assert!(enc.inverse_transform(&[2]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn inverse_transform(&self, indices: &[usize]) -> Result<Vec<String>> {
        indices
            .iter()
            .map(|&i| {
                self.classes.get(i).cloned().ok_or(Error::IndexOutOfRange {
                    op: "LabelEncoder::inverse_transform",
                    index: i,
                    len: self.classes.len(),
                })
            })
            .collect()
    }

    /// The known classes; class `i` is `classes()[i]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::data::LabelEncoder;
    ///
    /// let mut enc = LabelEncoder::new();
    /// enc.fit(&["b", "a"]);
    /// assert_eq!(enc.classes(), &["a".to_string(), "b".to_string()]);
    /// ```
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}
