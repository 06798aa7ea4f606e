//! Embedding lookup on [`Var`]: gathers rows of a table, and scatters the
//! gradient back by adding into the rows that were used.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::{Tensor, checked_numel};

impl<'t, T: Float> Var<'t, T> {
    /// Looks up rows of this table `[vocab, dim]` for integer `ids` laid out
    /// as `ids_shape`: `y[i…, :] = table[ids[i…], :]` (PyTorch's
    /// `F.embedding`, Keras's `Embedding`).
    ///
    /// Gradient: scatter-add, `d table[v] = Σ_{i : ids[i] = v} g[i]`; rows
    /// never looked up get zero.
    ///
    /// # Shapes
    ///
    /// `self`: `[vocab, dim]`; `ids`: as many as `ids_shape` holds; result:
    /// `ids_shape ++ [dim]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `embedding`) if the table is not 2-D;
    /// [`Error::ElementCount`] if `ids` does not fill `ids_shape`;
    /// [`Error::IndexOutOfRange`] for an id `>= vocab`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let table = tape.watch(&Tensor::from_vec(vec![0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2])?);
    /// let y = table.embedding(&[2, 0, 2], &[1, 3])?;
    /// assert_eq!(y.shape(), vec![1, 3, 2]);
    /// assert_eq!(y.value().to_vec(), vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
    /// let g = tape.gradient(&y.sum(), [table])?;
    /// assert_eq!(g.get(table).unwrap().to_vec(), vec![1.0, 1.0, 0.0, 0.0, 2.0, 2.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn embedding(&self, ids: &[usize], ids_shape: &[usize]) -> Result<Var<'t, T>> {
        const OP: &str = "embedding";
        let table = self.value();
        let [vocab, dim] = *table.shape() else {
            return Err(Error::RankMismatch {
                op: OP,
                expected: "a 2-d [vocab, dim] table",
                shape: table.shape().to_vec(),
            });
        };
        let expected = checked_numel::<T>(OP, ids_shape)?;
        if ids.len() != expected {
            return Err(Error::ElementCount {
                op: OP,
                shape: ids_shape.to_vec(),
                expected,
                got: ids.len(),
            });
        }
        if let Some(&bad) = ids.iter().find(|&&i| i >= vocab) {
            return Err(Error::IndexOutOfRange {
                op: OP,
                index: bad,
                len: vocab,
            });
        }
        let src = table.as_slice();
        let mut shape = ids_shape.to_vec();
        shape.push(dim);
        let mut out = Vec::with_capacity(checked_numel::<T>(OP, &shape)?);
        for &i in ids {
            out.extend_from_slice(&src[i * dim..(i + 1) * dim]);
        }
        let y = Tensor::from_parts(out, shape);
        let ids = ids.to_vec();
        Ok(self.tape().record([*self], y, move |g| {
            let mut d = vec![T::zero(); vocab * dim];
            for (&i, gr) in ids.iter().zip(g.as_slice().chunks(dim.max(1))) {
                for (a, &b) in d[i * dim..(i + 1) * dim].iter_mut().zip(gr) {
                    *a += b;
                }
            }
            [Tensor::from_parts(d, vec![vocab, dim])]
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientTape, Tensor};

    #[test]
    fn embedding_rejects_an_id_past_the_table() {
        let tape = GradientTape::<f32>::new();
        let table = tape.watch(&Tensor::zeros(&[3, 2]).unwrap());
        let err = table.embedding(&[0, 3], &[2]).unwrap_err().to_string();
        assert_eq!(err, "embedding: index 3 out of range for length 3");
        assert!(table.embedding(&[0, 1], &[3]).is_err());
    }
}
