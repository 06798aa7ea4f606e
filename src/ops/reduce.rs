//! Reductions on [`Var`]: full sums and means, and sums, means and maxima
//! along an axis.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Grad, Var};
use crate::tensor::Tensor;

/// `g` (reduced along `axis`) spread back over `shape`: the gradient of a
/// sum along `axis`.
fn spread<T: Float>(g: Tensor<T>, shape: &[usize], axis: usize) -> Tensor<T> {
    // invariant: the forward checked the axis, and g holds shape without it.
    let n = shape[axis];
    if n == 1 {
        // A length-1 axis (the mean over `[rows, 1]`): the same elements.
        return g
            .reshape(shape)
            .expect("invariant: g has the reduced shape");
    }
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let gs = g.as_slice();
    debug_assert_eq!(
        gs.len(),
        outer * inner,
        "invariant: g has the reduced shape"
    );
    let mut data = Vec::with_capacity(outer * n * inner);
    if inner == 1 {
        // The trailing axis: each element of g repeated n times.
        for &x in gs.iter().take(outer) {
            data.extend(std::iter::repeat_n(x, n));
        }
    } else {
        for row in gs.chunks_exact(inner.max(1)).take(outer) {
            for _ in 0..n {
                data.extend_from_slice(&row[..inner]);
            }
        }
    }
    Tensor::from_parts(data, shape)
}

impl<'t, T: Float> Var<'t, T> {
    /// The sum of all elements, a scalar. Gradient: `g` everywhere.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::<f32>::ones(&[2, 3])?);
    /// let y = x.sum();
    /// assert_eq!(y.value().item()?, 6.0);
    /// assert_eq!(tape.gradient(&y, [x])?.get(x).unwrap().to_vec(), vec![1.0; 6]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sum(&self) -> Var<'t, T> {
        let y = Tensor::scalar(self.with_value(Tensor::sum));
        // `g` spread over the input: a fill, written out only where a rule
        // or the result needs it as a tensor.
        self.tape().record_rule([*self], y, |g, _, sink| {
            let v = match g {
                Grad::Fill(v) => v,
                Grad::Tensor(g) => g.as_slice()[0],
            };
            sink(0, Grad::Fill(v));
        })
    }

    /// The mean of all elements, a scalar. Gradient: `g / n` everywhere.
    ///
    /// An empty tensor has no mean: this returns NaN there (NumPy's and
    /// PyTorch's answer), so callers that can meet empty input should use
    /// [`mean_axis`](Self::mean_axis), which returns an error instead; the
    /// losses refuse an empty batch before taking a mean.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::<f32>::ones(&[4])?);
    /// let g = tape.gradient(&x.mean(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.25; 4]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mean(&self) -> Var<'t, T> {
        let n = T::from_usize(self.with_value(Tensor::len));
        self.sum().div_scalar(n)
    }

    /// Sums along `axis` (kept with extent 1 when `keepdim`). Gradient: `g`
    /// repeated along the axis.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) if `axis >= ndim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?);
    /// let y = x.sum_axis(1, false)?;
    /// assert_eq!(y.value().to_vec(), vec![3.0, 7.0]);
    /// let r = Tensor::from_vec(vec![1.0f32, 10.0], &[2])?;
    /// let g = tape.gradient_with(&y, &r, [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![1.0, 1.0, 10.0, 10.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
        let y = self.with_value(|x| x.sum_axis(axis, keepdim))?;
        Ok(self.tape().record_with([*self], y, move |g, io| {
            [Some(spread(g, io.x(0).shape(), axis))]
        }))
    }

    /// Means along `axis`. Gradient: `g / n` repeated along the axis.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) if `axis >= ndim`;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if the axis
    /// is empty (NumPy and PyTorch give NaN there; this crate never returns
    /// a silent NaN).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?);
    /// let y = x.mean_axis(0, true)?;
    /// assert_eq!(y.value().to_vec(), vec![2.0, 3.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.5; 4]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
        let n = self.non_empty_axis("mean_axis", axis)?;
        Ok(self.sum_axis(axis, keepdim)?.div_scalar(T::from_usize(n)))
    }

    /// Maxima along `axis`. Gradient: `g` to the maximal entries; tied
    /// maxima share it equally (as `torch.amax`). NaN propagates.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) if `axis >= ndim`;
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) if the axis
    /// is empty (NumPy raises there, PyTorch too).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 5.0, 5.0, 3.0], &[1, 4])?);
    /// let y = x.max_axis(1, false)?;
    /// assert_eq!(y.value().to_vec(), vec![5.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 0.5, 0.5, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
        self.non_empty_axis("max_axis", axis)?;
        let x = self.value();
        let m = x.max_axis(axis, true)?;
        let y = if keepdim {
            m.clone()
        } else {
            x.max_axis(axis, false)?
        };
        Ok(self.tape().record([*self], y, move |g| {
            let mask = x.zip_map(&m, |a, b| if a == b { T::one() } else { T::zero() });
            let mask = mask.expect("invariant: keepdim max broadcasts");
            let ties = mask.sum_axis(axis, true).expect("invariant: axis checked");
            let share = spread(g.clone(), x.shape(), axis)
                .div(&ties)
                .expect("invariant: broadcasts");
            [share.mul(&mask).expect("invariant: same shape")]
        }))
    }
}

impl<T: Float> Var<'_, T> {
    /// The length of `axis`, or an error naming `op` if the axis does not
    /// exist or is empty.
    fn non_empty_axis(&self, op: &'static str, axis: usize) -> Result<usize> {
        // The shape is copied out only for an error.
        if let Some(n) = self.with_value(|x| x.shape().get(axis).copied().filter(|&n| n > 0)) {
            return Ok(n);
        }
        let shape = self.shape();
        match shape.get(axis) {
            None => Err(Error::AxisOutOfRange { op, axis, shape }),
            Some(0) => Err(Error::InvalidArgument {
                op,
                message: format!(
                    "axis {axis} of shape {shape:?} is empty, so it has no {}",
                    if op == "mean_axis" { "mean" } else { "maximum" }
                ),
            }),
            Some(&n) => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientTape, Tensor};

    #[test]
    fn max_axis_ties_share_the_gradient_equally() {
        // Row 0 has a three-way tie, row 1 a unique maximum; upstream [3, 1].
        let tape = GradientTape::<f64>::new();
        let x = tape.watch(&Tensor::from_vec(vec![2.0, 2.0, 2.0, 0.0, 1.0, 4.0], &[2, 3]).unwrap());
        let y = x.max_axis(1, true).unwrap();
        let r = Tensor::from_vec(vec![3.0, 1.0], &[2, 1]).unwrap();
        let g = tape.gradient_with(&y, &r, [x]).unwrap();
        assert_eq!(
            g.get(x).unwrap().to_vec(),
            vec![1.0, 1.0, 1.0, 0.0, 0.0, 1.0]
        );
    }
}
