//! [`Tensor::permute`]: reorders a tensor's axes (NumPy's `transpose(axes)`,
//! PyTorch's `permute`) into a new contiguous tensor.
//!
//! The copy walks the output in order and reads the input with strides, so
//! the innermost loop is a contiguous run whenever the last axis stays last
//! (the head split and merge of attention). Gradients live in
//! [`ops`](crate::ops).

use super::Tensor;
use crate::element::Float;
use crate::error::{Error, Result};

/// Checks that `axes` is a permutation of `0..rank`.
fn check_permutation(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<()> {
    let mut seen = vec![false; shape.len()];
    for &a in axes {
        match seen.get_mut(a) {
            Some(s) if !*s => *s = true,
            _ => {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "axes {axes:?} are not a permutation of the {} axes of shape {shape:?}",
                        shape.len()
                    ),
                });
            }
        }
    }
    if axes.len() != shape.len() {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "axes {axes:?} are not a permutation of the {} axes of shape {shape:?}",
                shape.len()
            ),
        });
    }
    Ok(())
}

/// The permutation that undoes `axes`.
pub(crate) fn inverse_permutation(axes: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; axes.len()];
    for (i, &a) in axes.iter().enumerate() {
        inv[a] = i;
    }
    inv
}

impl<T: Float> Tensor<T> {
    /// The tensor with its axes reordered: output axis `i` is input axis
    /// `axes[i]`, so `y[j₀, …] = x[…]` with `x`'s index `axes[i]` equal to
    /// `jᵢ` (NumPy's `np.transpose(x, axes)`, PyTorch's `x.permute(axes)`).
    /// The result is a new contiguous tensor.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `permute`) if `axes` is not a
    /// permutation of `0..ndim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[1, 2, 3])?;
    /// let y = x.permute(&[2, 0, 1])?;
    /// assert_eq!(y.shape(), &[3, 1, 2]);
    /// assert_eq!(y.to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    /// assert!(x.permute(&[0, 0, 1]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn permute(&self, axes: &[usize]) -> Result<Tensor<T>> {
        check_permutation("permute", self.shape(), axes)?;
        let shape = self.shape();
        let rank = shape.len();
        let out_shape: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
        if axes.iter().enumerate().all(|(i, &a)| i == a) || self.is_empty() {
            return self.reshape(&out_shape);
        }
        // Input strides (row-major), seen in output-axis order.
        let mut in_strides = vec![1usize; rank];
        for i in (0..rank.saturating_sub(1)).rev() {
            in_strides[i] = in_strides[i + 1] * shape[i + 1];
        }
        let strides: Vec<usize> = axes.iter().map(|&a| in_strides[a]).collect();
        let src = self.as_slice();
        let mut out = Vec::with_capacity(src.len());
        let inner = out_shape[rank - 1];
        let inner_stride = strides[rank - 1];
        let outer: usize = out_shape[..rank - 1].iter().product();
        let mut index = vec![0usize; rank - 1];
        let mut base = 0usize;
        for _ in 0..outer {
            if inner_stride == 1 {
                out.extend_from_slice(&src[base..base + inner]);
            } else {
                out.extend((0..inner).map(|j| src[base + j * inner_stride]));
            }
            // Advance the multi-index over the outer output axes.
            for ax in (0..rank - 1).rev() {
                index[ax] += 1;
                base += strides[ax];
                if index[ax] < out_shape[ax] {
                    break;
                }
                base -= strides[ax] * out_shape[ax];
                index[ax] = 0;
            }
        }
        Ok(Tensor::from_parts(out, out_shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_matches_an_index_by_index_copy() {
        let x = Tensor::from_vec((0..24).map(|v| v as f64).collect(), &[2, 3, 4]).unwrap();
        let y = x.permute(&[1, 2, 0]).unwrap();
        assert_eq!(y.shape(), &[3, 4, 2]);
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..4 {
                    assert_eq!(y.get(&[j, k, i]), x.get(&[i, j, k]));
                }
            }
        }
        let back = y.permute(&inverse_permutation(&[1, 2, 0])).unwrap();
        assert_eq!(back.to_vec(), x.to_vec());
    }

    #[test]
    fn permute_rejects_a_wrong_axis_list() {
        let x = Tensor::<f32>::zeros(&[2, 3]).unwrap();
        let err = x.permute(&[0]).unwrap_err().to_string();
        assert_eq!(
            err,
            "permute: axes [0] are not a permutation of the 2 axes of shape [2, 3]"
        );
        assert!(x.permute(&[0, 2]).is_err());
    }
}
