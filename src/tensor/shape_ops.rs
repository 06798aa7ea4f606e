//! Shape operations: reshape, transpose, row selection and slicing,
//! concatenation.

use std::ops::Range;

use super::{Tensor, checked_numel, try_alloc, try_with_capacity};
use crate::element::Float;
use crate::error::{Error, Result};

impl<T: Float> Tensor<T> {
    /// The same elements under a new shape with the same number of elements.
    /// Copies nothing.
    ///
    /// # Errors
    ///
    /// [`Error::ElementCount`] if the new shape holds a different number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::<f32>::zeros(&[2, 3])?;
    /// assert_eq!(t.reshape(&[3, 2])?.shape(), &[3, 2]);
    /// assert_eq!(
    ///     t.reshape(&[4]).unwrap_err().to_string(),
    ///     "reshape: shape [4] needs 4 elements, got 6"
    /// );
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor<T>> {
        let expected = checked_numel::<T>("reshape", shape)?;
        if expected != self.len() {
            return Err(Error::ElementCount {
                op: "reshape",
                shape: shape.to_vec(),
                expected,
                got: self.len(),
            });
        }
        Ok(Tensor {
            data: self.data.clone(),
            offset: self.offset,
            shape: shape.into(),
        })
    }

    /// Swaps the last two axes: the matrix transpose of a 2-D tensor, and of
    /// every matrix in a batched 3-D tensor `[b, m, n] → [b, n, m]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] if the tensor is not 2-D or 3-D.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let tt = t.transpose()?;
    /// assert_eq!(tt.shape(), &[3, 2]);
    /// assert_eq!(tt.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn transpose(&self) -> Result<Tensor<T>> {
        let (batch, m, n) = match *self.shape() {
            [m, n] => (1, m, n),
            [b, m, n] => (b, m, n),
            _ => {
                return Err(Error::RankMismatch {
                    op: "transpose",
                    expected: "a 2-d or 3-d tensor",
                    shape: self.shape().to_vec(),
                });
            }
        };
        let xs = self.as_slice();
        let mut out = try_with_capacity("transpose", self.shape(), xs.len())?;
        for mat in xs.chunks_exact((m * n).max(1)).take(batch) {
            for j in 0..n {
                out.extend((0..m).map(|i| mat[i * n + j]));
            }
        }
        let mut shape = self.shape().to_vec();
        let r = shape.len();
        shape.swap(r - 2, r - 1);
        Ok(Tensor::from_parts(out, shape))
    }

    /// Gathers rows (entries of the first axis) by index, in the order given;
    /// indices may repeat.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] for a scalar; [`Error::IndexOutOfRange`] for an
    /// index beyond the first axis.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// assert_eq!(t.select_rows(&[2, 0])?.to_vec(), vec![5.0, 6.0, 1.0, 2.0]);
    /// assert!(t.select_rows(&[3]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn select_rows(&self, indices: &[usize]) -> Result<Tensor<T>> {
        let rows = self.rows("select_rows")?;
        if let Some(&i) = indices.iter().find(|&&i| i >= rows) {
            return Err(Error::IndexOutOfRange {
                op: "select_rows",
                index: i,
                len: rows,
            });
        }
        // The row length is a partial product of an existing shape: it fits.
        let row_len = self.shape()[1..].iter().product::<usize>();
        let mut shape = self.shape().to_vec();
        shape[0] = indices.len();
        // Repeating rows can ask for more than memory: a checked, fallible
        // allocation of the output.
        let mut out = try_alloc("select_rows", &shape)?;
        let xs = self.as_slice();
        if row_len == 1 {
            // A column (`[n, 1]` targets, one feature): a gather, not a
            // `memcpy` call per element. `i < rows == xs.len()`, checked above.
            out.extend(indices.iter().map(|&i| xs[i]));
            return Ok(Tensor::from_parts(out, shape));
        }
        for &i in indices {
            // `i < rows` was checked above, so the row lies inside `xs`.
            let row = &xs[i * row_len..(i + 1) * row_len];
            if row_len <= 8 {
                // Short rows: copied in line, cheaper than a `memcpy` call.
                out.extend(row.iter().copied());
            } else {
                out.extend_from_slice(row);
            }
        }
        Ok(Tensor::from_parts(out, shape))
    }

    /// A contiguous range of rows, sharing this tensor's storage (no copy):
    /// how a batch is taken from a dataset.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] for a scalar; [`Error::IndexOutOfRange`] if the
    /// range ends beyond the first axis or starts after it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// let batch = t.slice_rows(1..3)?;
    /// assert_eq!(batch.shape(), &[2, 2]);
    /// assert_eq!(batch.to_vec(), vec![3.0, 4.0, 5.0, 6.0]);
    /// assert!(batch.shares_storage(&t));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn slice_rows(&self, range: Range<usize>) -> Result<Tensor<T>> {
        let rows = self.rows("slice_rows")?;
        if range.end > rows || range.start > range.end {
            return Err(Error::IndexOutOfRange {
                op: "slice_rows",
                index: if range.end > rows {
                    range.end
                } else {
                    range.start
                },
                len: rows,
            });
        }
        let row_len = self.shape()[1..].iter().product::<usize>();
        let mut shape = self.shape.clone();
        shape.as_mut_slice()[0] = range.len();
        Ok(Tensor {
            data: self.data.clone(),
            offset: self.offset + range.start * row_len,
            shape,
        })
    }

    /// Joins tensors along `axis`; all other extents must agree.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for an empty list; [`Error::AxisOutOfRange`]
    /// if `axis` is beyond the first tensor's rank; [`Error::ShapeMismatch`]
    /// naming the first tensor and the first one that does not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2])?;
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0, 5.0, 6.0], &[2, 2])?;
    /// assert_eq!(Tensor::concat(&[&a, &b], 0)?.shape(), &[3, 2]);
    /// let c = Tensor::concat(&[&a, &a], 1)?;
    /// assert_eq!(c.to_vec(), vec![1.0, 2.0, 1.0, 2.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn concat(tensors: &[&Tensor<T>], axis: usize) -> Result<Tensor<T>> {
        let first = tensors.first().ok_or_else(|| Error::InvalidArgument {
            op: "concat",
            message: "needs at least one tensor".to_string(),
        })?;
        let shape0 = first.shape();
        if axis >= shape0.len() {
            return Err(Error::AxisOutOfRange {
                op: "concat",
                axis,
                shape: shape0.to_vec(),
            });
        }
        let mut total: usize = 0;
        for t in tensors {
            let s = t.shape();
            let fits = s.len() == shape0.len()
                && s.iter()
                    .zip(shape0)
                    .enumerate()
                    .all(|(d, (a, b))| d == axis || a == b);
            if !fits {
                return Err(Error::ShapeMismatch {
                    op: "concat",
                    lhs: shape0.to_vec(),
                    rhs: s.to_vec(),
                });
            }
            total = total
                .checked_add(s[axis])
                .ok_or_else(|| Error::SizeOverflow {
                    op: "concat",
                    shape: s.to_vec(),
                })?;
        }
        let mut shape = shape0.to_vec();
        shape[axis] = total;
        // Partial products of the first (existing) shape fit in `usize`.
        let outer: usize = shape0[..axis].iter().product();
        let inner: usize = shape0[axis + 1..].iter().product();
        let mut out = try_alloc("concat", &shape)?;
        for o in 0..outer {
            for t in tensors {
                let block = t.shape()[axis] * inner;
                out.extend_from_slice(&t.as_slice()[o * block..(o + 1) * block]);
            }
        }
        Ok(Tensor::from_parts(out, shape))
    }

    /// The extent of the first axis, or an error for a scalar.
    fn rows(&self, op: &'static str) -> Result<usize> {
        self.shape()
            .first()
            .copied()
            .ok_or_else(|| Error::RankMismatch {
                op,
                expected: "a tensor of rank 1 or more",
                shape: Vec::new(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_swaps_last_two_axes_of_3d() {
        let t = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[2, 2, 3]).unwrap();
        let tt = t.transpose().unwrap();
        assert_eq!(tt.shape(), &[2, 3, 2]);
        assert_eq!(tt.get(&[1, 2, 0]), t.get(&[1, 0, 2]));
        assert_eq!(tt.transpose().unwrap(), t);
    }

    #[test]
    fn shape_errors_name_op_and_shapes() {
        let t = Tensor::<f32>::zeros(&[4]).unwrap();
        assert_eq!(
            t.transpose().unwrap_err().to_string(),
            "transpose: expected a 2-d or 3-d tensor, got shape [4]"
        );
        assert_eq!(
            t.slice_rows(2..5).unwrap_err().to_string(),
            "slice_rows: index 5 out of range for length 4"
        );
        let a = Tensor::<f32>::zeros(&[2, 3]).unwrap();
        let b = Tensor::<f32>::zeros(&[2, 4]).unwrap();
        assert_eq!(
            Tensor::concat(&[&a, &b], 0).unwrap_err().to_string(),
            "concat: shape mismatch, lhs [2, 3], rhs [2, 4]"
        );
        assert_eq!(
            Tensor::<f32>::scalar(1.0)
                .select_rows(&[0])
                .unwrap_err()
                .to_string(),
            "select_rows: expected a tensor of rank 1 or more, got shape []"
        );
    }

    #[test]
    fn slice_of_slice_keeps_offsets() {
        let t = Tensor::from_vec((0..10).map(|v| v as f32).collect(), &[5, 2]).unwrap();
        let s = t.slice_rows(1..4).unwrap().slice_rows(1..3).unwrap();
        assert_eq!(s.to_vec(), vec![4.0, 5.0, 6.0, 7.0]);
        assert_eq!(s.reshape(&[4]).unwrap().to_vec(), vec![4.0, 5.0, 6.0, 7.0]);
    }
}
