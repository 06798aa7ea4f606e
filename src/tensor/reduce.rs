//! Reductions: over all elements (plain values) and along one axis, with
//! `keepdim` as in PyTorch.

use super::Tensor;
use crate::element::Float;
use crate::error::{Error, Result};

/// How many partial sums [`sum_slice`] keeps: two SSE registers of `f32`.
const SUM_LANES: usize = 8;

/// The sum of `xs` in a fixed order: element `i` goes into partial sum
/// `i % 8`, the eight partial sums are added pairwise, then the last
/// `len % 8` elements one by one.
///
/// The order is written out, not left to the compiler, so the result has the
/// same bits on every machine and at every instruction-set width; it is what
/// lets the loop vectorize (a one-accumulator float sum cannot be reordered).
/// It differs from a left-to-right sum in the last bits only.
pub(crate) fn sum_slice<T: Float>(xs: &[T]) -> T {
    let mut acc = [T::zero(); SUM_LANES];
    let mut chunks = xs.chunks_exact(SUM_LANES);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    let mut s = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7));
    for &x in chunks.remainder() {
        s += x;
    }
    s
}

impl<T: Float> Tensor<T> {
    /// Splits the shape around `axis` into `(outer, axis_len, inner)`, and the
    /// output shape with or without the reduced dimension.
    fn axis_split(
        &self,
        op: &'static str,
        axis: usize,
        keepdim: bool,
    ) -> Result<(usize, usize, usize, Vec<usize>)> {
        let shape = self.shape();
        if axis >= shape.len() {
            return Err(Error::AxisOutOfRange {
                op,
                axis,
                shape: shape.to_vec(),
            });
        }
        // Partial products of an existing tensor's shape fit in `usize`
        // (`checked_numel` refuses any shape whose non-zero dims overflow).
        let outer = shape[..axis].iter().product();
        let inner = shape[axis + 1..].iter().product();
        let mut out = shape.to_vec();
        if keepdim {
            out[axis] = 1;
        } else {
            out.remove(axis);
        }
        Ok((outer, shape[axis], inner, out))
    }

    /// The error of a reduction without identity (max, min, argmax, mean)
    /// over an empty axis, as NumPy raises `ValueError` there.
    fn empty_axis(&self, op: &'static str, axis: usize) -> Error {
        Error::InvalidArgument {
            op,
            message: format!(
                "axis {axis} is empty in shape {:?}, and the reduction has no value for it",
                self.shape()
            ),
        }
    }

    /// [`Error::AxisOutOfRange`] if `axis` is not an axis, else the
    /// [`empty_axis`](Self::empty_axis) error if it has extent 0.
    fn nonempty_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        match self.shape().get(axis) {
            None => Err(Error::AxisOutOfRange {
                op,
                axis,
                shape: self.shape().to_vec(),
            }),
            Some(0) => Err(self.empty_axis(op, axis)),
            Some(_) => Ok(()),
        }
    }

    /// Folds along `axis`: `out[o, i] = fold(init, x[o, 0, i], x[o, 1, i], …)`.
    fn fold_axis(
        &self,
        op: &'static str,
        axis: usize,
        keepdim: bool,
        init: T,
        f: impl Fn(T, T) -> T,
    ) -> Result<Tensor<T>> {
        let (outer, n, inner, shape) = self.axis_split(op, axis, keepdim)?;
        let xs = self.as_slice();
        // Summing the empty axis of [2^40, 0] asks for 2^40 zeros: fallible.
        let mut out = super::try_filled(op, &shape, init)?;
        if inner == 1 && n > 0 {
            // The trailing axis (a `[rows, 1]` column's too): each output is
            // one contiguous fold, in the same order as the general loop, so
            // the bits are the same; no per-element slicing.
            for (s, row) in out.iter_mut().zip(xs.chunks_exact(n)) {
                *s = row.iter().fold(*s, |acc, &x| f(acc, x));
            }
            return Ok(Tensor::from_parts(out, shape));
        }
        for o in 0..outer {
            let acc = &mut out[o * inner..(o + 1) * inner];
            for a in 0..n {
                let row = &xs[(o * n + a) * inner..(o * n + a + 1) * inner];
                for (s, &x) in acc.iter_mut().zip(row) {
                    *s = f(*s, x);
                }
            }
        }
        Ok(Tensor::from_parts(out, shape))
    }

    /// The sum of all elements (0 for an empty tensor, as NumPy and PyTorch).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::ones(&[2, 3])?.sum(), 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sum(&self) -> T {
        sum_slice(self.as_slice())
    }

    /// The mean of all elements.
    ///
    /// An empty tensor has no mean: the value is NaN, as in NumPy (which
    /// also warns) and PyTorch. Full reductions return plain values, so
    /// this one cannot report the error: check [`is_empty`](Tensor::is_empty)
    /// first, or use [`mean_axis`](Tensor::mean_axis), which returns one.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 6.0], &[2, 2])?;
    /// assert_eq!(t.mean(), 3.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mean(&self) -> T {
        self.sum() / T::from_usize(self.len())
    }

    /// The largest element (NaN if any is NaN).
    ///
    /// For an empty tensor NumPy raises; this plain-value reduction returns
    /// `-inf`, the identity of `max`. Check [`is_empty`](Tensor::is_empty)
    /// first, or use [`max_axis`](Tensor::max_axis), which returns an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 7.0, -3.0], &[3])?;
    /// assert_eq!(t.max(), 7.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn max(&self) -> T {
        self.as_slice()
            .iter()
            .fold(T::neg_infinity(), |m, &x| nan_max(m, x))
    }

    /// The smallest element (NaN if any is NaN).
    ///
    /// For an empty tensor NumPy raises; this plain-value reduction returns
    /// `+inf`, the identity of `min`. Check [`is_empty`](Tensor::is_empty)
    /// first, or use [`min_axis`](Tensor::min_axis), which returns an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 7.0, -3.0], &[3])?;
    /// assert_eq!(t.min(), -3.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn min(&self) -> T {
        self.as_slice()
            .iter()
            .fold(T::infinity(), |m, &x| nan_min(m, x))
    }

    /// The flat (row-major) index of the largest element; the first one on
    /// ties; `None` for an empty tensor.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 7.0, 7.0], &[3])?;
    /// assert_eq!(t.argmax(), Some(1));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn argmax(&self) -> Option<usize> {
        let xs = self.as_slice();
        (0..xs.len()).reduce(|best, i| if xs[i] > xs[best] { i } else { best })
    }

    /// Sums along `axis`; with `keepdim` the axis stays with extent 1.
    ///
    /// The sum over an empty axis is 0, as in NumPy and PyTorch.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`] if `axis >= self.ndim()`;
    /// [`Error::OutOfMemory`] if the output (large when the summed axis is
    /// empty: `[2^40, 0]` along axis 1) cannot be allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(t.sum_axis(0, false)?.to_vec(), vec![5.0, 7.0, 9.0]);
    /// assert_eq!(t.sum_axis(1, true)?.shape(), &[2, 1]);
    /// assert_eq!(t.sum_axis(1, true)?.to_vec(), vec![6.0, 15.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        self.sum_fold("sum_axis", axis, keepdim)
    }

    /// The sum along `axis`: over the trailing axis each output is a
    /// [`sum_slice`] of one contiguous row; over a length-1 axis it is the
    /// input itself (`0 + x`, so `-0.0` becomes `0.0` as in the general
    /// loop); otherwise [`fold_axis`](Self::fold_axis).
    fn sum_fold(&self, op: &'static str, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        let (_, n, inner, shape) = self.axis_split(op, axis, keepdim)?;
        let xs = self.as_slice();
        if n == 1 {
            let data = xs.iter().map(|&x| T::zero() + x);
            return Ok(Tensor::from_iter_exact(data, shape));
        }
        if inner == 1 && n > 0 {
            let data = xs.chunks_exact(n).map(sum_slice);
            // `chunks_exact` is not a trusted-length iterator: collect into
            // the output vector (checked above: its length is the row count).
            let mut out = super::try_with_capacity(op, &shape, xs.len() / n)?;
            out.extend(data);
            return Ok(Tensor::from_parts(out, shape));
        }
        self.fold_axis(op, axis, keepdim, T::zero(), |s, x| s + x)
    }

    /// Means along `axis`.
    ///
    /// Over an empty axis NumPy and PyTorch return NaN (NumPy with a
    /// warning); without a way to warn that NaN would be silent, so this is
    /// an error instead.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`] if `axis >= self.ndim()`;
    /// [`Error::InvalidArgument`] naming the axis and the shape if the axis is
    /// empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.mean_axis(0, false)?.to_vec(), vec![2.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        self.nonempty_axis("mean_axis", axis)?;
        let s = self.sum_fold("mean_axis", axis, keepdim)?;
        Ok(s.div_scalar(T::from_usize(self.shape()[axis])))
    }

    /// Maxima along `axis` (NaN propagates).
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`] if `axis >= self.ndim()`;
    /// [`Error::InvalidArgument`] naming the axis and the shape if the axis is
    /// empty (NumPy: "zero-size array to reduction operation maximum which
    /// has no identity"), even when the output is empty too.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 9.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.max_axis(1, false)?.to_vec(), vec![9.0, 4.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        self.nonempty_axis("max_axis", axis)?;
        self.fold_axis("max_axis", axis, keepdim, T::neg_infinity(), nan_max)
    }

    /// Minima along `axis` (NaN propagates).
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`] if `axis >= self.ndim()`;
    /// [`Error::InvalidArgument`] naming the axis and the shape if the axis is
    /// empty, as NumPy.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, 9.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.min_axis(0, false)?.to_vec(), vec![1.0, 4.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn min_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        self.nonempty_axis("min_axis", axis)?;
        self.fold_axis("min_axis", axis, keepdim, T::infinity(), nan_min)
    }

    /// Index of the largest element along `axis` (the first on ties), stored
    /// as a float (exact for indices below 2²⁴ in `f32`).
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`] if `axis >= self.ndim()`;
    /// [`Error::InvalidArgument`] if the axis is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![0.1f32, 0.7, 0.2, 0.9, 0.05, 0.05], &[2, 3])?;
    /// assert_eq!(t.argmax_axis(1, false)?.to_vec(), vec![1.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn argmax_axis(&self, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
        let (outer, n, inner, shape) = self.axis_split("argmax_axis", axis, keepdim)?;
        if n == 0 {
            return Err(self.empty_axis("argmax_axis", axis));
        }
        let xs = self.as_slice();
        let mut best = super::try_filled("argmax_axis", &shape, 0usize)?;
        for o in 0..outer {
            for a in 1..n {
                for i in 0..inner {
                    let slot = &mut best[o * inner + i];
                    if xs[(o * n + a) * inner + i] > xs[(o * n + *slot) * inner + i] {
                        *slot = a;
                    }
                }
            }
        }
        let mut data = super::try_alloc("argmax_axis", &shape)?;
        data.extend(best.into_iter().map(T::from_usize));
        Ok(Tensor::from_parts(data, shape))
    }
}

/// The index of the largest element of a non-empty row, the first on ties
/// (as `argmax_axis`); 0 for an empty row. The one row argmax behind
/// predicted classes, class weights and robust accuracy.
pub(crate) fn argmax_slice<T: Float>(row: &[T]) -> usize {
    (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b })
}

fn nan_max<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else {
        a.max(b)
    }
}

fn nan_min<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        T::nan()
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_axis_fast_path_matches_a_left_fold_bit_for_bit() {
        // Values whose sum depends on the order, so a reordering would show.
        let data: Vec<f32> = (0..35)
            .map(|i| 1.0 / (1.0 + i as f32) * 1e3f32.powi(i % 3))
            .collect();
        let t = Tensor::from_vec(data.clone(), &[5, 7]).unwrap();
        let want: Vec<u32> = data
            .chunks(7)
            .map(|r| r.iter().fold(0.0f32, |a, &x| a + x).to_bits())
            .collect();
        let got = t.sum_axis(1, false).unwrap();
        assert_eq!(got.shape(), &[5]);
        assert_eq!(
            got.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want
        );
        // Rows of 8 or more follow `sum_slice`'s documented order: element
        // i into partial sum i % 8, the partial sums pairwise, then the tail.
        let long = Tensor::from_vec(data.clone(), &[1, 35]).unwrap();
        let mut lanes = [0.0f32; 8];
        for (i, &x) in data[..32].iter().enumerate() {
            lanes[i % 8] += x;
        }
        let mut want = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
            + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
        for &x in &data[32..] {
            want += x;
        }
        let got = long.sum_axis(1, false).unwrap().item().unwrap();
        assert_eq!(got.to_bits(), want.to_bits());
        assert_eq!(long.sum().to_bits(), want.to_bits());
        let left = data.iter().fold(0.0f32, |a, &x| a + x);
        assert!((got - left).abs() <= 1e-6 * left.abs());
        // A [rows, 1] column: the mean over its length-1 axis is the column.
        let col = Tensor::from_vec(data[..5].to_vec(), &[5, 1]).unwrap();
        let mean = col.mean_axis(1, true).unwrap();
        assert_eq!(mean.shape(), &[5, 1]);
        assert_eq!(mean.to_vec(), data[..5].to_vec());
        // An empty trailing axis keeps the fold's start value.
        let empty = Tensor::<f32>::zeros(&[3, 0]).unwrap();
        assert_eq!(empty.sum_axis(1, false).unwrap().to_vec(), vec![0.0; 3]);
    }

    #[test]
    fn axis_reductions_on_3d() {
        // shape [2, 3, 2], values 0..12
        let t = Tensor::from_vec((0..12).map(|v| v as f64).collect(), &[2, 3, 2]).unwrap();
        assert_eq!(
            t.sum_axis(1, false).unwrap().to_vec(),
            vec![6.0, 9.0, 24.0, 27.0]
        );
        assert_eq!(t.max_axis(0, true).unwrap().shape(), &[1, 3, 2]);
        assert_eq!(t.argmax_axis(2, false).unwrap().to_vec(), vec![1.0; 6]);
        assert_eq!(
            t.min_axis(1, false).unwrap().to_vec(),
            vec![0.0, 1.0, 6.0, 7.0]
        );
    }

    #[test]
    fn axis_out_of_range_is_an_error_naming_the_shape() {
        let err = Tensor::<f32>::zeros(&[3, 4])
            .unwrap()
            .sum_axis(2, false)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "sum_axis: axis 2 out of range for shape [3, 4]"
        );
    }
}
