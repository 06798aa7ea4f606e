//! [`Var::scaled_dot_product_attention`]: the whole of attention's core,
//! `softmax(q kᵀ / √d, mask) v` over every head, as one node on the tape,
//! computed by the fused kernel of `tensor::attention`.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::attention::{self as kernel, Heads, KeepRows, Problem};

const OP: &str = "scaled_dot_product_attention";

/// The keep mask's strides over `[batch, tq, tk]`, if its shape broadcasts
/// to that with its last axis exactly `tk`.
fn mask_strides(shape: &[usize], b: usize, tq: usize, tk: usize) -> Option<(usize, usize)> {
    let (mb, mq, mk) = match *shape {
        [q, k] => (1, q, k),
        [bb, q, k] => (bb, q, k),
        _ => return None,
    };
    let fits = |d: usize, t: usize| d == t || d == 1;
    if mk != tk || !fits(mb, b) || !fits(mq, tq) {
        return None;
    }
    let row = if mq == 1 { 0 } else { tk };
    let batch = if mb == 1 { 0 } else { mq * tk };
    Some((batch, row))
}

/// `sizes` with the keep mask `(mask, batch stride, row stride)`.
fn with_mask<'a, T: Float>(
    sizes: Problem<'static, T>,
    mask: Option<&'a (Tensor<T>, usize, usize)>,
) -> Problem<'a, T> {
    Problem {
        mask: mask.map(|(m, batch, row)| KeepRows {
            data: m.as_slice(),
            batch: *batch,
            row: *row,
        }),
        ..sizes
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Scaled dot-product attention over `num_heads` heads, fused:
    /// `headₕ = softmax(qₕ kₕᵀ / √d_k, mask) vₕ`, the heads read from and
    /// written to the last axis in place (`[batch, t, heads · d]`, the
    /// layout of a Dense projection), with no split or merge copy.
    ///
    /// `mask` is a keep mask (non-zero: attend; Keras's `attention_mask`)
    /// broadcast to `[batch, t_q, t_k]`; `causal` lets query `i` attend key
    /// `j` only if `j <= i + t_k - t_q` (the usual lower triangle when
    /// `t_q == t_k`; the cached queries of generation otherwise), and the
    /// kernel never computes the masked upper triangle. A query with no key
    /// left gives zeros and a zero gradient, as `softmax_masked` (PyTorch's
    /// `F.scaled_dot_product_attention` since 2.5 does the same). The result
    /// equals `split_heads`, `bmm_nt`, scaling, `softmax_masked`, `bmm` and
    /// `merge_heads` in turn, to rounding.
    ///
    /// Gradient (per head, `p` the probabilities, `g` the output gradient):
    /// `dv = pᵀ g`, `ds = p ⊙ (g vᵀ - rowsum(p ⊙ g vᵀ)) / √d_k`,
    /// `dq = ds k`, `dk = dsᵀ q`. Computed per (batch, head) pair on the
    /// thread pool; the result is bit-identical for any thread count.
    ///
    /// # Shapes
    ///
    /// `self` (queries) `[batch, t_q, heads · d_k]`, `key`
    /// `[batch, t_k, heads · d_k]`, `value` `[batch, t_k, heads · d_v]`;
    /// `mask` `[t_q, t_k]` or `[batch or 1, t_q or 1, t_k]`; result
    /// `[batch, t_q, heads · d_v]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `scaled_dot_product_attention`) if
    /// `num_heads` is 0 or does not divide the feature axes, or `causal`
    /// with more queries than keys; [`Error::ShapeMismatch`] for operands of
    /// other shapes or a mask that does not broadcast;
    /// [`Error::TapeMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::<f64>::new();
    /// let q = tape.watch(&Tensor::zeros(&[1, 2, 4])?);
    /// let v = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[1, 2, 4])?);
    /// // Two heads of size 2; equal logits: query 0 sees key 0 only, query 1 both.
    /// let y = q.scaled_dot_product_attention(&q, &v, 2, None, true)?;
    /// assert_eq!(y.value().to_vec(), vec![1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 5.0, 6.0]);
    /// let g = tape.gradient(&y.sum(), [v])?;
    /// assert_eq!(g.get(v).unwrap().to_vec(), vec![1.5, 1.5, 1.5, 1.5, 0.5, 0.5, 0.5, 0.5]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn scaled_dot_product_attention(
        &self,
        key: &Var<'_, T>,
        value: &Var<'_, T>,
        num_heads: usize,
        mask: Option<&Tensor<T>>,
        causal: bool,
    ) -> Result<Var<'t, T>> {
        self.same_tape(OP, key)?;
        self.same_tape(OP, value)?;
        let (qv, kv, vv) = (self.value(), key.value(), value.value());
        let mismatch = |other: &Tensor<T>| Error::ShapeMismatch {
            op: OP,
            lhs: qv.shape().to_vec(),
            rhs: other.shape().to_vec(),
        };
        let (&[b, tq, fq], &[kb, tk, fk], &[vb, tv, fv]) = (qv.shape(), kv.shape(), vv.shape())
        else {
            let odd = [&kv, &vv]
                .into_iter()
                .find(|t| t.ndim() != 3)
                .unwrap_or(&qv);
            return Err(mismatch(odd));
        };
        if kb != b || fk != fq {
            return Err(mismatch(&kv));
        }
        if vb != b || tv != tk {
            return Err(mismatch(&vv));
        }
        if num_heads == 0 || fq % num_heads != 0 || fv % num_heads != 0 {
            return Err(Error::InvalidArgument {
                op: OP,
                message: format!(
                    "{num_heads} heads do not divide the query/key features {fq} and value features {fv}"
                ),
            });
        }
        if causal && tq > tk {
            return Err(Error::InvalidArgument {
                op: OP,
                message: format!("{tq} causal queries for {tk} keys; a causal query needs its key"),
            });
        }
        let mask = match mask {
            None => None,
            Some(m) => {
                let (batch, row) =
                    mask_strides(m.shape(), b, tq, tk).ok_or_else(|| Error::ShapeMismatch {
                        op: OP,
                        lhs: vec![b, tq, tk],
                        rhs: m.shape().to_vec(),
                    })?;
                Some((m.clone(), batch, row))
            }
        };
        let (dk, dv) = (fq / num_heads, fv / num_heads);
        let sizes = Problem {
            batch: b,
            heads: num_heads,
            tq,
            tk,
            dk,
            dv,
            scale: T::from_f64(1.0 / (dk as f64).sqrt()),
            causal,
            mask: None,
        };
        let (lq, lk, lv) = (
            Heads::merged(tq, num_heads, dk),
            Heads::merged(tk, num_heads, dk),
            Heads::merged(tk, num_heads, dv),
        );
        let empty = b == 0 || tq == 0 || tk == 0;
        let (y, probs) = if empty {
            // Nothing to attend (or nobody asking): zeros, as a fully masked
            // row; the kernel is not called on empty storage.
            (vec![T::zero(); b * tq * fv], None)
        } else {
            let (y, p) = kernel::forward(
                &with_mask(sizes, mask.as_ref()),
                (qv.as_slice(), lq),
                (kv.as_slice(), lk),
                (vv.as_slice(), lv),
            );
            (y, Some(p))
        };
        let y = Tensor::from_parts(y, vec![b, tq, fv]);
        let needs = [
            self.requires_grad(),
            key.requires_grad(),
            value.requires_grad(),
        ];
        let (key, value) = (
            Var::new(self.tape(), key.index()),
            Var::new(self.tape(), value.index()),
        );
        Ok(self
            .tape()
            .record_partial([*self, key, value], y, move |g| {
                let grads = match &probs {
                    Some(p) => kernel::backward(
                        &with_mask(sizes, mask.as_ref()),
                        p,
                        g.as_slice(),
                        (qv.as_slice(), lq),
                        (kv.as_slice(), lk),
                        (vv.as_slice(), lv),
                    ),
                    None => [
                        vec![T::zero(); qv.len()],
                        vec![T::zero(); kv.len()],
                        vec![T::zero(); vv.len()],
                    ],
                };
                let mut out = [None, None, None];
                for (((slot, grad), need), like) in
                    out.iter_mut().zip(grads).zip(needs).zip([&qv, &kv, &vv])
                {
                    if need {
                        *slot = Some(Tensor::from_parts(grad, like.shape().to_vec()));
                    }
                }
                out
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::mask_strides;

    #[test]
    fn mask_strides_broadcast_batch_and_rows() {
        assert_eq!(mask_strides(&[3, 4], 2, 3, 4), Some((0, 4)));
        assert_eq!(mask_strides(&[2, 1, 4], 2, 3, 4), Some((4, 0)));
        assert_eq!(mask_strides(&[1, 3, 4], 2, 3, 4), Some((0, 4)));
        assert_eq!(mask_strides(&[2, 3, 5], 2, 3, 4), None);
        assert_eq!(mask_strides(&[4], 2, 3, 4), None);
    }
}
