//! The differentiable pieces of attention on [`Var`]: axis permutation, the
//! head split and merge, batched matrix products over any leading axes, and
//! softmax over the last axis under a mask.
//!
//! Conventions, decided once:
//! - Masks follow Keras's `attention_mask`: in a [`SoftmaxMask::Keep`] mask a
//!   non-zero entry means "attend", zero means "masked out". An
//!   [`SoftmaxMask::Additive`] mask is added to the logits (`-∞` masks).
//! - A row whose every position is masked gives **zeros** (and a zero
//!   gradient), never NaN. This matches PyTorch's
//!   `F.scaled_dot_product_attention` math path since 2.5 (its
//!   `_safe_softmax`); plain `torch.softmax` over a row of `-inf`, and
//!   `nn.MultiheadAttention` in many versions, give NaN instead. The library
//!   promises no silent NaN, so zeros it is.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::{Tensor, inverse_permutation};

/// A mask for [`Var::softmax_masked`], broadcast to the logits' shape by
/// NumPy's rules (e.g. `[t_q, t_k]` for every batch and head, or
/// `[batch, 1, 1, t_k]` for padding).
///
/// # Examples
///
/// ```
/// use tapeflow::ops::SoftmaxMask;
/// use tapeflow::Tensor;
///
/// let keep = Tensor::from_vec(vec![1.0f32, 0.0], &[2])?;
/// assert!(matches!(SoftmaxMask::Keep(&keep), SoftmaxMask::Keep(_)));
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub enum SoftmaxMask<'a, T: Float = f32> {
    /// Non-zero: attend; zero: masked out (Keras's boolean `attention_mask`).
    Keep(&'a Tensor<T>),
    /// Added to the logits before the softmax; `-∞` masks a position
    /// (PyTorch's float `attn_mask`).
    Additive(&'a Tensor<T>),
}

/// A causal (lower-triangular) keep mask `[queries, keys]` for queries that
/// are the last `queries` of `keys` positions: query `i` attends key `j` iff
/// `j <= i + keys - queries`. With `queries == keys` it is the usual
/// lower-triangular mask; with one query it attends every cached key.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `causal_mask`) if `queries > keys` or the
/// size overflows.
///
/// # Examples
///
/// ```
/// use tapeflow::ops::causal_mask;
///
/// let m = causal_mask::<f32>(2, 3)?;
/// assert_eq!(m.to_vec(), vec![1.0, 1.0, 0.0, 1.0, 1.0, 1.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn causal_mask<T: Float>(queries: usize, keys: usize) -> Result<Tensor<T>> {
    const OP: &str = "causal_mask";
    if queries > keys {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!("{queries} queries for {keys} keys; a causal query needs its key"),
        });
    }
    let n = queries
        .checked_mul(keys)
        .ok_or_else(|| Error::InvalidArgument {
            op: OP,
            message: format!("a [{queries}, {keys}] mask is too large"),
        })?;
    let offset = keys - queries;
    let mut data = Vec::with_capacity(n);
    for i in 0..queries {
        data.extend((0..keys).map(|j| if j <= i + offset { T::one() } else { T::zero() }));
    }
    Tensor::from_vec(data, &[queries, keys])
}

/// Views `a [..., m, k]` and `b [..., k', n]` with equal leading axes as
/// 3-D batches, checking the leading axes.
fn batch_views<T: Float>(
    op: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
) -> Result<(Tensor<T>, Tensor<T>, Vec<usize>)> {
    let mismatch = || Error::ShapeMismatch {
        op,
        lhs: a.shape().to_vec(),
        rhs: b.shape().to_vec(),
    };
    let (ra, rb) = (a.ndim(), b.ndim());
    if ra < 2 || ra != rb || a.shape()[..ra - 2] != b.shape()[..rb - 2] {
        return Err(mismatch());
    }
    let lead = a.shape()[..ra - 2].to_vec();
    let batch: usize = lead.iter().product();
    let a3 = a.reshape(&[batch, a.shape()[ra - 2], a.shape()[ra - 1]])?;
    let b3 = b.reshape(&[batch, b.shape()[rb - 2], b.shape()[rb - 1]])?;
    Ok((a3, b3, lead))
}

/// Gives a 3-D product back its leading axes.
fn unbatch<T: Float>(y: Tensor<T>, lead: &[usize]) -> Tensor<T> {
    let mut shape = lead.to_vec();
    shape.extend_from_slice(&y.shape()[1..]);
    y.reshape(&shape).expect("invariant: same element count")
}

/// How [`Var::batched_product`] reads its right operand.
#[derive(Clone, Copy)]
enum Rhs {
    /// `[..., k, n]`, as stored.
    AsIs,
    /// `[..., n, k]`, read transposed through strides.
    Transposed,
}

impl<'t, T: Float> Var<'t, T> {
    /// Reorders the axes: output axis `i` is input axis `axes[i]`
    /// (PyTorch's `permute`, NumPy's `transpose(axes)`).
    ///
    /// Gradient: `g` permuted by the inverse permutation.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `permute`) if `axes` is not a
    /// permutation of `0..ndim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[1, 2, 3])?);
    /// let y = x.permute(&[0, 2, 1])?;
    /// assert_eq!(y.value().to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().shape(), &[1, 2, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn permute(&self, axes: &[usize]) -> Result<Var<'t, T>> {
        let y = self.value().permute(axes)?;
        let inverse = inverse_permutation(axes);
        Ok(self.tape().record([*self], y, move |g| {
            [g.permute(&inverse)
                .expect("invariant: a permutation of g's axes")]
        }))
    }

    /// Splits the last axis into `num_heads` heads and moves the head axis
    /// before time: `[batch, time, heads · d] → [batch, heads, time, d]`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `split_heads`) unless the value is 3-D
    /// with a last axis divisible by `num_heads > 0`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec((0..8).map(|v| v as f32).collect(), &[1, 2, 4])?);
    /// let h = x.split_heads(2)?;
    /// assert_eq!(h.shape(), vec![1, 2, 2, 2]);
    /// assert_eq!(h.value().to_vec(), vec![0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]);
    /// assert_eq!(h.merge_heads()?.value().to_vec(), x.value().to_vec());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn split_heads(&self, num_heads: usize) -> Result<Var<'t, T>> {
        let shape = self.shape();
        match *shape.as_slice() {
            [b, t, f] if num_heads > 0 && f % num_heads == 0 => self
                .reshape(&[b, t, num_heads, f / num_heads])?
                .permute(&[0, 2, 1, 3]),
            _ => Err(Error::InvalidArgument {
                op: "split_heads",
                message: format!(
                    "expected [batch, time, features] with features divisible by {num_heads} heads, got {shape:?}"
                ),
            }),
        }
    }

    /// Undoes [`split_heads`](Self::split_heads):
    /// `[batch, heads, time, d] → [batch, time, heads · d]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `merge_heads`) unless the value is 4-D.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::<f32>::zeros(&[2, 4, 3, 5])?);
    /// assert_eq!(x.merge_heads()?.shape(), vec![2, 3, 20]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn merge_heads(&self) -> Result<Var<'t, T>> {
        let shape = self.shape();
        let [b, h, t, d] = *shape.as_slice() else {
            return Err(Error::RankMismatch {
                op: "merge_heads",
                expected: "[batch, heads, time, d]",
                shape,
            });
        };
        self.permute(&[0, 2, 1, 3])?.reshape(&[b, t, h * d])
    }

    /// Batched matrix product over any leading axes:
    /// `[..., m, k] · [..., k, n] → [..., m, n]`, the leading axes equal
    /// (PyTorch's `torch.matmul` without broadcasting). The leading axes are
    /// folded into one batch axis for free and the product runs on the
    /// strided GEMM.
    ///
    /// Gradient: `d self = g · rhsᵀ`, `d rhs = selfᵀ · g`, no transposed copy.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op `bmm`) if either is below 2-D, the ranks
    /// or leading axes differ, or the inner dimensions differ;
    /// [`Error::TapeMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::<f64>::ones(&[2, 3, 4, 5])?);
    /// let b = tape.watch(&Tensor::<f64>::ones(&[2, 3, 5, 6])?);
    /// let y = a.bmm(&b)?;
    /// assert_eq!(y.shape(), vec![2, 3, 4, 6]);
    /// assert_eq!(y.value().to_vec()[0], 5.0);
    /// let g = tape.gradient(&y.sum(), [a])?;
    /// assert_eq!(g.get(a).unwrap().to_vec()[0], 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn bmm(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.batched_product("bmm", rhs, Rhs::AsIs)
    }

    /// Batched product with the right operand transposed:
    /// `[..., m, k] · [..., n, k]ᵀ → [..., m, n]` (attention's `q · kᵀ`),
    /// reading the transpose through strides, never copying it.
    ///
    /// Gradient: `d self = g · rhs`, `d rhs = gᵀ · self`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op `bmm_nt`) as [`bmm`](Self::bmm), with the
    /// last axes of both operands as the inner dimension.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let q = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0], &[1, 1, 1, 2])?);
    /// let k = tape.watch(&Tensor::from_vec(vec![3.0f32, 4.0, 5.0, 6.0], &[1, 1, 2, 2])?);
    /// let s = q.bmm_nt(&k)?;
    /// assert_eq!(s.value().to_vec(), vec![11.0, 17.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn bmm_nt(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.batched_product("bmm_nt", rhs, Rhs::Transposed)
    }

    /// [`bmm`](Self::bmm) (`rhs` as is) and [`bmm_nt`](Self::bmm_nt) (`rhs`
    /// read transposed): the product of the 3-D batch views and its
    /// gradient rule, `op` naming the op in errors.
    fn batched_product(&self, op: &'static str, rhs: &Var<'_, T>, form: Rhs) -> Result<Var<'t, T>> {
        self.same_tape(op, rhs)?;
        let (a, b, lead) = batch_views(op, &self.value(), &rhs.value())?;
        let y = match form {
            Rhs::AsIs => a.matmul(&b),
            Rhs::Transposed => a.matmul_nt(&b),
        };
        let y = y.map_err(|_| Error::ShapeMismatch {
            op,
            lhs: self.shape(),
            rhs: rhs.shape(),
        })?;
        let y = unbatch(y, &lead);
        let (la, lb) = (self.requires_grad(), rhs.requires_grad());
        let rhs = Var::new(self.tape(), rhs.index());
        let (sa, sb) = (self.shape(), rhs.shape());
        // The product's last axis: `b`'s columns, or its rows if transposed.
        let n = match form {
            Rhs::AsIs => b.shape()[2],
            Rhs::Transposed => b.shape()[1],
        };
        Ok(self.tape().record_partial([*self, rhs], y, move |g| {
            let g3 = g
                .reshape(&[a.shape()[0], a.shape()[1], n])
                .expect("invariant: the product's shape");
            // y = a·b: da = g·bᵀ, db = aᵀ·g; y = a·bᵀ: da = g·b, db = gᵀ·a.
            let (da, db) = match form {
                Rhs::AsIs => (la.then(|| g3.matmul_nt(&b)), lb.then(|| a.matmul_tn(&g3))),
                Rhs::Transposed => (la.then(|| g3.matmul(&b)), lb.then(|| g3.matmul_tn(&a))),
            };
            let back = |d: Result<Tensor<T>>, shape: &[usize]| {
                d.and_then(|d| d.reshape(shape))
                    .expect("invariant: checked by the forward")
            };
            [da.map(|d| back(d, &sa)), db.map(|d| back(d, &sb))]
        }))
    }

    /// Softmax over the last axis under a mask:
    /// `yⱼ = keepⱼ e^(zⱼ + aⱼ) / Σₖ keepₖ e^(zₖ + aₖ)`, stable for any input.
    /// A row with nothing left to attend (all kept entries zero, or all
    /// additive entries `-∞`) gives zeros and a zero gradient, not NaN (see
    /// the module docs for PyTorch's behaviour).
    ///
    /// Gradient: `dz = y ⊙ (g - Σ y ⊙ g)`, zero at masked positions.
    ///
    /// # Shapes
    ///
    /// `self`: `[..., n]`; the mask broadcasts to `self`'s shape; result:
    /// `self`'s shape.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op `softmax_masked`) if the mask does not
    /// broadcast to the logits' shape; [`Error::RankMismatch`] for a scalar.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::ops::{SoftmaxMask, causal_mask};
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let z = tape.watch(&Tensor::<f64>::zeros(&[2, 2])?);
    /// let mask = causal_mask(2, 2)?;
    /// let y = z.softmax_masked(SoftmaxMask::Keep(&mask))?;
    /// assert_eq!(y.value().to_vec(), vec![1.0, 0.0, 0.5, 0.5]);
    /// let none = Tensor::from_vec(vec![0.0, 0.0], &[2])?;
    /// let y = z.softmax_masked(SoftmaxMask::Keep(&none))?;
    /// assert_eq!(y.value().to_vec(), vec![0.0; 4]);       // zeros, not NaN
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn softmax_masked(&self, mask: SoftmaxMask<'_, T>) -> Result<Var<'t, T>> {
        const OP: &str = "softmax_masked";
        let z = self.value();
        let Some(&n) = z.shape().last() else {
            return Err(Error::RankMismatch {
                op: OP,
                expected: "logits of at least 1 dimension",
                shape: z.shape().to_vec(),
            });
        };
        let m = match mask {
            SoftmaxMask::Keep(m) | SoftmaxMask::Additive(m) => m,
        };
        let mismatch = || Error::ShapeMismatch {
            op: OP,
            lhs: z.shape().to_vec(),
            rhs: m.shape().to_vec(),
        };
        // A mask that only repeats over the leading axes (a causal
        // `[t_q, t_k]`) is read cyclically; any other mask is broadcast to
        // the logits' shape once (a mask larger than the logits is an error,
        // not a broadcast of the logits).
        let rank = z.ndim();
        let cyclic = m.ndim() <= rank
            && m.ndim() >= 1
            && m.shape()[m.ndim() - 1] == n
            && (m.ndim() == 1 || m.shape()[m.ndim() - 2] == z.shape()[rank - 2])
            && m.shape()[..m.ndim().saturating_sub(2)]
                .iter()
                .all(|&d| d == 1);
        let full = if cyclic {
            m.clone()
        } else {
            let full = z.zip_map(m, |_, v| v).map_err(|_| mismatch())?;
            if full.shape() != z.shape() {
                return Err(mismatch());
            }
            full
        };
        let mask_rows = full.as_slice();
        let keep = matches!(mask, SoftmaxMask::Keep(_));
        let mut y = Vec::with_capacity(z.len());
        if n > 0 {
            for (zr, mr) in z.as_slice().chunks(n).zip(mask_rows.chunks(n).cycle()) {
                let logit = |j: usize| {
                    if keep {
                        if mr[j] != T::zero() {
                            zr[j]
                        } else {
                            T::neg_infinity()
                        }
                    } else {
                        zr[j] + mr[j]
                    }
                };
                let max = (0..n).map(logit).fold(T::neg_infinity(), T::max);
                if max == T::neg_infinity() {
                    y.extend(std::iter::repeat_n(T::zero(), n));
                    continue;
                }
                let start = y.len();
                y.extend((0..n).map(|j| (logit(j) - max).exp()));
                let s: T = y[start..].iter().copied().sum();
                for v in &mut y[start..] {
                    *v /= s;
                }
            }
        }
        let shape = z.shape().to_vec();
        let y = Tensor::from_parts(y, shape.clone());
        let saved = y.clone();
        Ok(self.tape().record([*self], y, move |g| {
            let mut dz = Vec::with_capacity(saved.len());
            if n > 0 {
                for (yr, gr) in saved.as_slice().chunks(n).zip(g.as_slice().chunks(n)) {
                    let dot: T = yr.iter().zip(gr).map(|(&a, &b)| a * b).sum();
                    dz.extend(yr.iter().zip(gr).map(|(&a, &b)| a * (b - dot)));
                }
            }
            [Tensor::from_parts(dz, shape.clone())]
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::SoftmaxMask;
    use crate::{GradientTape, Tensor};

    #[test]
    fn additive_minus_infinity_masks_like_keep_zero() {
        // Row [0, ln 3, x]: masking x leaves softmax([0, ln 3]) = [1/4, 3/4].
        let tape = GradientTape::<f64>::new();
        let z = tape.watch(&Tensor::from_vec(vec![0.0, 3f64.ln(), 9.0], &[1, 3]).unwrap());
        let add = Tensor::from_vec(vec![0.0, 0.0, f64::NEG_INFINITY], &[3]).unwrap();
        let y = z.softmax_masked(SoftmaxMask::Additive(&add)).unwrap();
        let v = y.value().to_vec();
        assert!((v[0] - 0.25).abs() < 1e-15 && (v[1] - 0.75).abs() < 1e-15);
        assert_eq!(v[2], 0.0);
        // dz = y (g - y·g) with g = [1, 0, 5]: y·g = 1/4; dz = [3/16, -3/16, 0].
        let r = Tensor::from_vec(vec![1.0, 0.0, 5.0], &[1, 3]).unwrap();
        let g = tape.gradient_with(&y, &r, [z]).unwrap();
        let g = g.get(z).unwrap().to_vec();
        assert!((g[0] - 3.0 / 16.0).abs() < 1e-15 && (g[1] + 3.0 / 16.0).abs() < 1e-15);
        assert_eq!(g[2], 0.0);
    }

    #[test]
    fn fully_masked_rows_give_zero_value_and_gradient() {
        let tape = GradientTape::<f64>::new();
        let z = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
        let add = Tensor::from_vec(vec![f64::NEG_INFINITY; 2], &[2]).unwrap();
        let y = z.softmax_masked(SoftmaxMask::Additive(&add)).unwrap();
        assert_eq!(y.value().to_vec(), vec![0.0; 4]);
        let g = tape.gradient(&y.sum(), [z]).unwrap();
        assert_eq!(g.get(z).unwrap().to_vec(), vec![0.0; 4]);
    }

    #[test]
    fn mask_of_the_wrong_shape_is_an_error() {
        let tape = GradientTape::<f32>::new();
        let z = tape.watch(&Tensor::zeros(&[2, 3]).unwrap());
        let m = Tensor::zeros(&[2]).unwrap();
        let err = z.softmax_masked(SoftmaxMask::Keep(&m)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "softmax_masked: shape mismatch, lhs [2, 3], rhs [2]"
        );
        let big = Tensor::zeros(&[4, 2, 3]).unwrap();
        assert!(z.softmax_masked(SoftmaxMask::Keep(&big)).is_err());
    }

    #[test]
    fn bmm_rejects_different_leading_axes() {
        let tape = GradientTape::<f32>::new();
        let a = tape.watch(&Tensor::zeros(&[2, 3, 4, 5]).unwrap());
        let b = tape.watch(&Tensor::zeros(&[3, 2, 5, 4]).unwrap());
        let err = a.bmm(&b).unwrap_err().to_string();
        assert_eq!(
            err,
            "bmm: shape mismatch, lhs [2, 3, 4, 5], rhs [3, 2, 5, 4]"
        );
        let c = tape.watch(&Tensor::zeros(&[2, 3, 4, 4]).unwrap());
        assert!(a.bmm_nt(&c).is_err());
    }
}
