//! Reductions on [`Var`]: full sums and means, and sums, means and maxima
//! along an axis.

use crate::element::Float;
use crate::error::Result;
use crate::tape::Var;
use crate::tensor::Tensor;

/// `g` (reduced along `axis`) spread back over `shape`: the gradient of a
/// sum along `axis`.
fn spread<T: Float>(g: &Tensor<T>, shape: &[usize], axis: usize) -> Tensor<T> {
    let mut keep = shape.to_vec();
    keep[axis] = 1;
    let g = g
        .reshape(&keep)
        .expect("invariant: g has the reduced shape");
    Tensor::filled(shape, T::zero())
        .add(&g)
        .expect("invariant: keepdim shape broadcasts")
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
        let x = self.value();
        let shape = x.shape().to_vec();
        self.tape()
            .record([*self], Tensor::scalar(x.sum()), move |g| {
                [Tensor::filled(&shape, g.as_slice()[0])]
            })
    }

    /// The mean of all elements, a scalar. Gradient: `g / n` everywhere.
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
        let n = T::from_usize(self.value().len());
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
        let x = self.value();
        let y = x.sum_axis(axis, keepdim)?;
        let shape = x.shape().to_vec();
        Ok(self
            .tape()
            .record([*self], y, move |g| [spread(g, &shape, axis)]))
    }

    /// Means along `axis`. Gradient: `g / n` repeated along the axis.
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
    /// let y = x.mean_axis(0, true)?;
    /// assert_eq!(y.value().to_vec(), vec![2.0, 3.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.5; 4]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
        let n = self.value().shape().get(axis).copied().unwrap_or(1);
        Ok(self.sum_axis(axis, keepdim)?.div_scalar(T::from_usize(n)))
    }

    /// Maxima along `axis`. Gradient: `g` to the maximal entries; tied
    /// maxima share it equally.
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
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 5.0, 5.0, 3.0], &[1, 4])?);
    /// let y = x.max_axis(1, false)?;
    /// assert_eq!(y.value().to_vec(), vec![5.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 0.5, 0.5, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Var<'t, T>> {
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
            let share = spread(g, x.shape(), axis)
                .div(&ties)
                .expect("invariant: broadcasts");
            [share.mul(&mask).expect("invariant: same shape")]
        }))
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
