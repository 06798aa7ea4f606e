//! Input validation for `fit`, `evaluate` and `predict`: every bad input
//! becomes an error naming what is wrong and where.

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
    let v = t.as_slice()[i];
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
        check_finite(op, "x", x)?;
        check_finite(op, "y", y)?;
        Ok(nx)
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
            return Err(invalid(
                op,
                format!(
                    "sparse labels must have shape [rows] or [rows, 1], or the output's shape without its class axis, got {:?}",
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
