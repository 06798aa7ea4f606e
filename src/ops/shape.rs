//! Shape operations on [`Var`]: reshape, transpose, row selection,
//! concatenation.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;

impl<'t, T: Float> Var<'t, T> {
    /// The same elements under a new shape. Gradient: `g` reshaped back.
    ///
    /// # Errors
    ///
    /// [`Error::ElementCount`] if the element counts differ.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::<f32>::ones(&[2, 3])?);
    /// let y = x.reshape(&[6])?;
    /// assert_eq!(y.shape(), vec![6]);
    /// assert_eq!(tape.gradient(&y.sum(), [x])?.get(x).unwrap().shape(), &[2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Var<'t, T>> {
        let y = self.value().reshape(shape)?;
        Ok(self.tape().record_with([*self], y, |g, io| {
            [Some(
                g.reshape(io.x(0).shape())
                    .expect("invariant: same element count"),
            )]
        }))
    }

    /// Swaps the last two axes (2-D or batched 3-D). Gradient: `gᵀ`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] unless the value is 2-D or 3-D.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?);
    /// let y = x.transpose()?;
    /// assert_eq!(y.value().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn transpose(&self) -> Result<Var<'t, T>> {
        let y = self.value().transpose()?;
        Ok(self.tape().record([*self], y, |g| {
            [g.transpose().expect("invariant: same rank as the forward")]
        }))
    }

    /// Gathers rows by index (repeats allowed). Gradient: each row of `g`
    /// added back into the row it came from.
    ///
    /// # Errors
    ///
    /// [`Error::IndexOutOfRange`] for an index beyond the first axis;
    /// [`Error::RankMismatch`] for a scalar.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?);
    /// let y = x.select_rows(&[2, 2, 0])?;
    /// assert_eq!(y.value().to_vec(), vec![3.0, 3.0, 1.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![1.0, 0.0, 2.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn select_rows(&self, indices: &[usize]) -> Result<Var<'t, T>> {
        let x = self.value();
        let y = x.select_rows(indices)?;
        let shape = x.shape().to_vec();
        let indices = indices.to_vec();
        Ok(self.tape().record([*self], y, move |g| {
            // invariant: select_rows succeeded, so x has a row axis; the
            // products are the element counts of existing tensors.
            let row = shape[1..].iter().product::<usize>();
            let mut out = vec![T::zero(); shape.iter().product()];
            for (k, &i) in indices.iter().enumerate() {
                let src = &g.as_slice()[k * row..(k + 1) * row];
                for (o, &v) in out[i * row..(i + 1) * row].iter_mut().zip(src) {
                    *o += v;
                }
            }
            [Tensor::from_parts(out, shape.clone())]
        }))
    }

    /// Joins values along `axis`; all other extents must agree. Gradient:
    /// `g` cut back into the pieces.
    ///
    /// # Errors
    ///
    /// As [`Tensor::concat`], and [`Error::TapeMismatch`] if the values are on
    /// different tapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor, Var};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2])?);
    /// let b = tape.watch(&Tensor::from_vec(vec![3.0f32, 4.0], &[1, 2])?);
    /// let y = Var::concat(&[a, b], 1)?;
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    /// let r = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 4])?;
    /// let g = tape.gradient_with(&y, &r, [a, b])?;
    /// assert_eq!(g.get(b).unwrap().to_vec(), vec![3.0, 4.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn concat(vars: &[Var<'t, T>], axis: usize) -> Result<Var<'t, T>> {
        let first = vars.first().ok_or_else(|| Error::InvalidArgument {
            op: "concat",
            message: "needs at least one tensor".to_string(),
        })?;
        for v in vars {
            first.same_tape("concat", v)?;
        }
        let values: Vec<Tensor<T>> = vars.iter().map(|v| v.value()).collect();
        let refs: Vec<&Tensor<T>> = values.iter().collect();
        let y = Tensor::concat(&refs, axis)?;
        // invariant: Tensor::concat accepted `axis` for every input.
        let extents: Vec<usize> = values.iter().map(|v| v.shape()[axis]).collect();
        let shapes: Vec<Vec<usize>> = values.iter().map(|v| v.shape().to_vec()).collect();
        Ok(first.tape().record_many(vars, y, move |g| {
            let outer: usize = g.shape()[..axis].iter().product();
            let inner: usize = g.shape()[axis + 1..].iter().product();
            let total: usize = extents.iter().sum();
            let mut start = 0;
            let mut pieces = Vec::with_capacity(extents.len());
            for (ext, shape) in extents.iter().zip(&shapes) {
                let mut data = Vec::with_capacity(outer * ext * inner);
                for o in 0..outer {
                    let base = (o * total + start) * inner;
                    data.extend_from_slice(&g.as_slice()[base..base + ext * inner]);
                }
                pieces.push(Tensor::from_parts(data, shape.clone()));
                start += ext;
            }
            pieces
        }))
    }
}
