//! Input validation for `fit`, `evaluate` and `predict`: every bad input
//! becomes an error naming what is wrong and where.

use std::collections::HashMap;

use super::Sequential;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

fn invalid(op: &'static str, message: String) -> Error {
    Error::InvalidArgument { op, message }
}

/// Checks that a tensor holds only finite values, naming the first bad row
/// and column otherwise.
pub(crate) fn check_finite<T: Float>(op: &'static str, what: &str, t: &Tensor<T>) -> Result<()> {
    let Some(i) = t.as_slice().iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let row_len = t.shape().iter().skip(1).product::<usize>().max(1);
    let v = t.as_slice()[i]; // `i` came from `position` on this slice
    Err(invalid(
        op,
        format!(
            "{what} holds {v} at row {}, column {}; clean or impute the data first",
            i / row_len,
            i % row_len
        ),
    ))
}

/// The number of rows of a batch-first tensor.
fn rows<T: Float>(op: &'static str, what: &str, t: &Tensor<T>) -> Result<usize> {
    t.shape().first().copied().ok_or_else(|| {
        invalid(
            op,
            format!("{what} must have a batch dimension, got shape []"),
        )
    })
}

impl<T: Float> Sequential<T> {
    /// Checks a pair of inputs and targets: same number of rows, not empty,
    /// inputs of the model's feature shape, all values finite.
    pub(crate) fn check_data(
        &self,
        op: &'static str,
        x: &Tensor<T>,
        y: &Tensor<T>,
    ) -> Result<usize> {
        let (nx, ny) = (rows(op, "x", x)?, rows(op, "y", y)?);
        if nx != ny {
            return Err(invalid(
                op,
                format!(
                    "x has {nx} rows but y has {ny}; x {:?}, y {:?}",
                    x.shape(),
                    y.shape()
                ),
            ));
        }
        if nx == 0 {
            return Err(invalid(op, "no data: x and y have 0 rows".to_string()));
        }
        self.check_input(x.shape())?;
        self.check_target_shape(op, y)?;
        check_finite(op, "x", x)?;
        check_finite(op, "y", y)?;
        Ok(nx)
    }

    /// For the built-in losses that compare `y` with the output element by
    /// element, checks before anything runs that a row of `y` has the
    /// shape of a row of the model's output (`[rows]` and `[rows, 1]` pass
    /// together, as the losses accept them). Sparse labels are checked by
    /// [`check_sparse_labels`](Self::check_sparse_labels); a user's own
    /// loss may read `y` as it likes and is not checked here.
    fn check_target_shape(&self, op: &'static str, y: &Tensor<T>) -> Result<()> {
        const ELEMENTWISE: [&str; 6] = [
            "mean_squared_error",
            "mean_absolute_error",
            "huber",
            "binary_crossentropy",
            "categorical_crossentropy",
            "kl_divergence",
        ];
        let Some(loss) = self.compiled.as_ref().map(|c| c.loss.name()) else {
            return Ok(());
        };
        if !ELEMENTWISE.contains(&loss) {
            return Ok(());
        }
        // An unbuilt model is refused by `check_input` with its own message.
        let Ok(out) = self.output_shape() else {
            return Ok(());
        };
        let row = y.shape().get(1..).unwrap_or(&[]);
        let same = row == out.as_slice() || (row.is_empty() && out.as_slice() == [1]);
        if same {
            return Ok(());
        }
        let dims = |s: &[usize]| {
            std::iter::once("rows".to_string())
                .chain(s.iter().map(usize::to_string))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(invalid(
            op,
            format!(
                "y has shape {:?} but the model's output has shape [{}]; {loss} needs y of shape [{}]",
                y.shape(),
                dims(&out),
                dims(&out)
            ),
        ))
    }

    /// For a sparse categorical loss, checks every label is an integer in
    /// `0..classes`, naming the first bad row.
    pub(crate) fn check_sparse_labels(&self, op: &'static str, y: &Tensor<T>) -> Result<()> {
        let out = self.output_shape()?;
        let classes = out.last().copied().unwrap_or(1);
        let row_len = y.shape().iter().skip(1).product::<usize>().max(1);
        // Per-position labels (`[rows, time]` for `[rows, time, classes]`
        // outputs, a language model's next tokens) are also sparse labels.
        let positions = &out[..out.len().saturating_sub(1)];
        let per_position = !positions.is_empty() && y.shape().get(1..) == Some(positions);
        if row_len != 1 && !per_position {
            let positional = if positions.is_empty() {
                String::new()
            } else {
                format!(
                    ", or [rows, {}]",
                    positions
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(invalid(
                op,
                format!(
                    "sparse labels must have shape [rows] or [rows, 1]{positional}, got {:?}",
                    y.shape()
                ),
            ));
        }
        for (i, &v) in y.as_slice().iter().enumerate() {
            let row = i / row_len;
            let ok = v.fract() == T::zero() && v >= T::zero() && v < T::from_usize(classes);
            if !ok {
                return Err(invalid(
                    op,
                    format!("label {v} at row {row} is not a class index in 0..{classes}"),
                ));
            }
        }
        Ok(())
    }
}

/// Checks the numeric settings of `fit` before anything runs.
pub(crate) fn check_settings(
    epochs: usize,
    initial_epoch: usize,
    batch_size: usize,
    validation_split: f64,
    verbose: Option<u8>,
) -> Result<()> {
    if let Some(v) = verbose.filter(|&v| v > 2) {
        return Err(invalid(
            "fit",
            format!(
                "verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), got {v}"
            ),
        ));
    }
    if epochs == 0 {
        return Err(invalid(
            "fit",
            "epochs must be at least 1, got 0".to_string(),
        ));
    }
    if initial_epoch >= epochs {
        return Err(invalid(
            "fit",
            format!(
                "initial_epoch {initial_epoch} is not below epochs {epochs}: training runs epochs initial_epoch..epochs, so nothing would run"
            ),
        ));
    }
    if batch_size == 0 {
        return Err(invalid(
            "fit",
            "batch_size must be at least 1, got 0".to_string(),
        ));
    }
    // `contains` is false for NaN.
    if !(0.0..1.0).contains(&validation_split) {
        return Err(invalid(
            "fit",
            format!("validation_split must be in [0, 1), got {validation_split}"),
        ));
    }
    Ok(())
}

/// Checks `sample_weight` (shape `[rows]`, finite, non-negative) and
/// `class_weight` (finite, non-negative, for a class below `classes`),
/// naming the offending entry.
pub(crate) fn check_weights<T: Float>(
    rows: usize,
    classes: usize,
    sample_weight: Option<&Tensor<T>>,
    class_weight: Option<&HashMap<usize, f64>>,
) -> Result<()> {
    if let Some(w) = sample_weight {
        if w.len() != rows || w.ndim() != 1 {
            return Err(invalid(
                "fit",
                format!(
                    "sample_weight must have shape [{rows}], got {:?}",
                    w.shape()
                ),
            ));
        }
        check_finite("fit", "sample_weight", w)?;
        if let Some(i) = w.as_slice().iter().position(|&v| v < T::zero()) {
            return Err(invalid(
                "fit",
                format!(
                    "sample_weight must be >= 0, got {} at row {i}",
                    w.as_slice()[i] // `i` came from `position`
                ),
            ));
        }
    }
    if let Some(cw) = class_weight {
        let mut classes_given: Vec<_> = cw.iter().collect();
        classes_given.sort_by_key(|&(&c, _)| c);
        for (&class, &v) in classes_given {
            if class >= classes {
                return Err(invalid(
                    "fit",
                    format!(
                        "class_weight names class {class}, but the model's output has {classes} classes (0..{classes})"
                    ),
                ));
            }
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(
                    "fit",
                    format!("class_weight must be finite and >= 0, got {v} for class {class}"),
                ));
            }
            if !T::from_f64(v).is_finite() {
                return Err(invalid(
                    "fit",
                    format!("class_weight {v:e} for class {class} overflows {}", T::NAME),
                ));
            }
        }
    }
    Ok(())
}

/// Per-row weights from `sample_weight` and `class_weight`, or `None` when
/// every row weighs 1. The inputs were checked by [`check_weights`].
pub(crate) fn row_weights<T: Float>(
    y: &Tensor<T>,
    sample_weight: Option<&Tensor<T>>,
    class_weight: Option<&HashMap<usize, f64>>,
) -> Option<Vec<T>> {
    if sample_weight.is_none() && class_weight.is_none() {
        return None;
    }
    let n = y.shape().first().copied().unwrap_or(0);
    let mut w: Vec<T> = match sample_weight {
        Some(s) => s.to_vec(),
        None => vec![T::one(); n],
    };
    if let Some(cw) = class_weight {
        let row_len = y.len() / n.max(1);
        for (wi, row) in w.iter_mut().zip(y.as_slice().chunks(row_len.max(1))) {
            // Sparse label (checked finite), or the argmax of a one-hot /
            // probability row; `j` and `b` stay below `row.len()`.
            let class = if row.len() == 1 {
                row[0].to_f64().max(0.0) as usize
            } else {
                crate::tensor::argmax_slice(row)
            };
            if let Some(&c) = cw.get(&class) {
                *wi *= T::from_f64(c);
            }
        }
    }
    Some(w)
}
