//! Probabilities from scores on plain tensors, without a tape:
//! [`Tensor::softmax`] and [`Tensor::log_softmax`] along an axis (the
//! elementwise [`Tensor::sigmoid`] lives with the other unary kernels).
//! For gradients use the same names on [`Var`](crate::Var).
//!
//! Axes here may be negative and count from the end, as PyTorch's
//! `dim=-1`: `softmax(-1)` is the last axis whatever the rank.

use super::Tensor;
use crate::element::Float;
use crate::error::{Error, Result};

/// The axis `axis` names in a tensor of `shape`: `0..ndim` as is,
/// `-ndim..0` counted from the end.
fn resolve_axis(op: &'static str, axis: isize, shape: &[usize]) -> Result<usize> {
    let ndim = shape.len();
    let resolved = if axis < 0 {
        ndim.checked_sub(axis.unsigned_abs())
    } else {
        Some(axis.unsigned_abs()).filter(|&a| a < ndim)
    };
    resolved.ok_or_else(|| Error::InvalidArgument {
        op,
        message: format!("axis {axis} out of range for shape {shape:?} (rank {ndim})"),
    })
}

impl<T: Float> Tensor<T> {
    /// Softmax along `axis`: `e^(x - max) / Σ e^(x - max)`, so every slice
    /// along the axis is non-negative and sums to 1. Subtracting the
    /// slice's maximum first keeps large inputs from overflowing (logits of
    /// 1000 give 0.5/0.5, not NaN). No tape is involved: this turns a
    /// trained model's logits into probabilities, PyTorch's
    /// `torch.softmax(x, dim)`; for gradients use
    /// [`Var::softmax`](crate::Var::softmax).
    ///
    /// `axis` may be negative, counting from the end as PyTorch's `dim`
    /// does: `-1` is the last axis (the class axis of `[batch, classes]`).
    ///
    /// # Shapes
    ///
    /// Output: the shape of `self`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `softmax`) if `axis` is not in
    /// `-ndim..ndim`, naming the axis and the shape.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let logits = Tensor::from_vec(vec![0.0, 2f32.ln(), 1000.0, 1000.0], &[2, 2])?;
    /// let p = logits.softmax(-1)?;
    /// assert_eq!(p.to_vec(), vec![1.0 / 3.0, 2.0 / 3.0, 0.5, 0.5]);
    /// for row in p.to_vec().chunks(2) {
    ///     assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    /// }
    /// assert_eq!(logits.softmax(1)?, p);                       // -1 is axis 1 here
    /// assert!(logits.softmax(2).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn softmax(&self, axis: isize) -> Result<Tensor<T>> {
        let axis = resolve_axis("softmax", axis, self.shape())?;
        self.softmax_along(axis)
    }

    /// Softmax along a resolved axis (max subtracted first): the one kernel
    /// behind [`Tensor::softmax`] and the tape's `softmax`.
    pub(crate) fn softmax_along(&self, axis: usize) -> Result<Tensor<T>> {
        let m = self.max_axis(axis, true)?;
        let e = self.zip_map(&m, |a, b| (a - b).exp())?;
        let s = e.sum_axis(axis, true)?;
        e.div(&s)
    }

    /// Log-softmax along `axis`: `x - max - ln Σ e^(x - max)`, the log of
    /// [`softmax`](Self::softmax) computed without taking the log of a
    /// rounded-to-zero probability (so `log_softmax` of logits `[0, -200]`
    /// is `[0, -200]`, not `[0, -inf]`). PyTorch's `torch.log_softmax`;
    /// `axis` may be negative as in [`softmax`](Self::softmax).
    ///
    /// # Shapes
    ///
    /// Output: the shape of `self`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `log_softmax`) if `axis` is not in
    /// `-ndim..ndim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let x = Tensor::from_vec(vec![0.0f64, -200.0], &[1, 2])?;
    /// let lp = x.log_softmax(-1)?.to_vec();
    /// assert!(lp[0].abs() < 1e-12 && (lp[1] + 200.0).abs() < 1e-12);
    /// assert_eq!(x.log_softmax(-1)?.exp(), x.softmax(-1)?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn log_softmax(&self, axis: isize) -> Result<Tensor<T>> {
        let axis = resolve_axis("log_softmax", axis, self.shape())?;
        self.log_softmax_along(axis)
    }

    /// Log-softmax along a resolved axis: the one kernel behind
    /// [`Tensor::log_softmax`] and the tape's `log_softmax`.
    pub(crate) fn log_softmax_along(&self, axis: usize) -> Result<Tensor<T>> {
        let m = self.max_axis(axis, true)?;
        let shifted = self.zip_map(&m, |a, b| a - b)?;
        let lse = shifted.exp().sum_axis(axis, true)?.ln();
        shifted.sub(&lse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_axes_count_from_the_end() {
        let shape = [2, 3, 4];
        assert_eq!(resolve_axis("softmax", -1, &shape).unwrap(), 2);
        assert_eq!(resolve_axis("softmax", -3, &shape).unwrap(), 0);
        assert_eq!(resolve_axis("softmax", 1, &shape).unwrap(), 1);
        let err = resolve_axis("softmax", -4, &shape).unwrap_err();
        assert_eq!(
            err.to_string(),
            "softmax: axis -4 out of range for shape [2, 3, 4] (rank 3)"
        );
        assert!(resolve_axis("softmax", 3, &shape).is_err());
        assert!(resolve_axis("softmax", -1, &[]).is_err());
    }

    #[test]
    fn softmax_along_the_first_axis_normalises_columns() {
        // Column 0: [0, ln 3] → [1/4, 3/4]; column 1: [5, 5] → [1/2, 1/2].
        let x = Tensor::from_vec(vec![0.0, 5.0, 3f64.ln(), 5.0], &[2, 2]).unwrap();
        let p = x.softmax(0).unwrap().to_vec();
        let want = [0.25, 0.5, 0.75, 0.5];
        for (g, w) in p.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{p:?}");
        }
    }

    #[test]
    fn softmax_of_an_empty_batch_is_empty() {
        let x = Tensor::<f32>::from_vec(vec![], &[0, 3]).unwrap();
        assert_eq!(x.softmax(-1).unwrap().shape(), &[0, 3]);
        assert_eq!(x.log_softmax(-1).unwrap().shape(), &[0, 3]);
    }
}
