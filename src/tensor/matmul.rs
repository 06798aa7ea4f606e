//! Matrix products: [`Tensor::matmul`] and the two transposed variants the
//! backward pass needs, [`Tensor::matmul_tn`] (`aᵀ·b`) and
//! [`Tensor::matmul_nt`] (`a·bᵀ`).
//!
//! All three go through the strided GEMM in [`crate::element`] (products of
//! at most [`SMALL_PRODUCT`] multiply-adds per row through a plain loop,
//! `small_gemm.rs`,
//! where `gemm`'s set-up and packing buffers cost more than the arithmetic);
//! a transposed operand is described by swapping its strides, never copied. This module
//! owns the shape rules (2-D, batched 3-D, 3-D with a shared 2-D right
//! matrix); it knows nothing of gradients.

use rayon::prelude::*;

use super::small_gemm::{SMALL_PRODUCT, SMALL_TN_COLS, SMALL_TN_WORK, small_gemm};
use super::{Shape, Tensor};
use crate::element::{Float, MatRef, gemm, product_enters_pool, split_threads};
use crate::error::{Error, Result};

/// The zeroed output of a product, `shape`'s element count (checked): the
/// pool's threads write the zeros when the output is large enough to split
/// ([`split_threads`]), in at most one piece per thread; else this thread.
/// Zeros are zeros, so the bits do not depend on who writes them.
fn zeros<T: Float>(op: &'static str, shape: &[usize]) -> Result<Vec<T>> {
    let n = super::checked_numel::<T>(op, shape)?;
    let threads = split_threads(n);
    if threads <= 1 {
        // `try_filled`'s reserve and fill, written here so the compiler
        // sees the constant zero and fills with `memset`, not an element
        // loop (`try_filled` is not inlined).
        let mut data = super::try_with_capacity(op, shape, n)?;
        data.resize(n, T::zero());
        return Ok(data);
    }
    let mut data = super::try_with_capacity(op, shape, n)?;
    // `data` already holds room for `n`: collecting reallocates nothing.
    rayon::iter::repeat_n(T::zero(), n)
        .with_min_len(n.div_ceil(threads))
        .collect_into_vec(&mut data);
    Ok(data)
}

/// The output of a product whose every element `gemm` writes before any is
/// read: a kept buffer of the buffer cache as it is (its old elements are
/// overwritten, so no zero fill and no page faults), else [`zeros`]. The
/// element count is checked first, as for [`zeros`].
fn overwritten<T: Float>(op: &'static str, shape: &[usize]) -> Result<Vec<T>> {
    let n = super::checked_numel::<T>(op, shape)?;
    match super::recycle::take_written_counted::<T>(n) {
        Some(mut data) => {
            data.truncate(n);
            // Only when the kept vector was shorter than `n` (a buffer
            // released at a smaller length): fill the rest.
            data.resize(n, T::zero());
            Ok(data)
        }
        None => zeros(op, shape),
    }
}

/// Which product is asked for: whether each operand's last two axes are
/// transposed before multiplying.
#[derive(Clone, Copy)]
struct Layout {
    op: &'static str,
    lhs_t: bool,
    rhs_t: bool,
}

/// A row-major `[rows, cols]` matrix stored in `data`, seen as itself or as
/// its transpose through the strides.
fn mat_ref<T>(data: &[T], rows: usize, cols: usize, transposed: bool) -> MatRef<'_, T> {
    if transposed {
        MatRef {
            data,
            rows: cols,
            cols: rows,
            row_stride: 1,
            col_stride: cols,
        }
    } else {
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Matrix product `self · rhs`, over the last two axes.
    ///
    /// # Shapes
    ///
    /// - `[m, k] · [k, n] → [m, n]`
    /// - `[b, m, k] · [b, k, n] → [b, m, n]` (one product per batch entry)
    /// - `[b, m, k] · [k, n] → [b, m, n]` (the right matrix is shared by every
    ///   batch entry, as a Dense layer applied to a sequence)
    ///
    /// An inner dimension `k = 0` gives zeros; `m = 0` or `n = 0` gives an
    /// empty tensor. Uses up to [`num_threads`](crate::num_threads) threads.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] for any other combination: inner dimensions
    /// that differ, batch sizes that differ, a 2-D left with a 3-D right, or
    /// an operand that is not 2-D or 3-D (1-D vectors and scalars included:
    /// reshape a vector to `[1, k]` or `[k, 1]` first).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let b = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
    /// let c = a.matmul(&b)?;
    /// assert_eq!(c.shape(), &[2, 2]);
    /// assert_eq!(c.to_vec(), vec![4.0, 5.0, 10.0, 11.0]);
    ///
    /// // A batch of two [1, 3] rows times a shared [3, 2] matrix.
    /// let seq = a.reshape(&[2, 1, 3])?;
    /// assert_eq!(seq.matmul(&b)?.shape(), &[2, 1, 2]);
    ///
    /// assert_eq!(
    ///     a.matmul(&a).err().expect("inner dims differ").to_string(),
    ///     "matmul: shape mismatch, lhs [2, 3], rhs [2, 3]"
    /// );
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn matmul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.product(
            rhs,
            Layout {
                op: "matmul",
                lhs_t: false,
                rhs_t: false,
            },
        )
    }

    /// Matrix product `selfᵀ · rhs`, where `ᵀ` swaps the last two axes,
    /// without copying the transpose.
    ///
    /// This is the right-hand gradient of [`matmul`](Tensor::matmul):
    /// `d rhs = lhsᵀ · g`. For a shared right matrix (`[b, m, k] · [k, n]`),
    /// reshape `lhs` to `[b·m, k]` and `g` to `[b·m, n]` (free) and call this
    /// on the 2-D views to sum over the batch in one product.
    ///
    /// # Shapes
    ///
    /// - `[k, m]ᵀ · [k, n] → [m, n]`
    /// - `[b, k, m]ᵀ · [b, k, n] → [b, m, n]`
    /// - `[b, k, m]ᵀ · [k, n] → [b, m, n]`
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] under the same rules as
    /// [`matmul`](Tensor::matmul), with the leading axis of each `self`
    /// matrix as the inner dimension.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// // a is [3, 2]; aᵀ = [[1, 3, 5], [2, 4, 6]].
    /// let a = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    /// let b = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
    /// let c = a.matmul_tn(&b)?;
    /// assert_eq!(c.to_vec(), vec![6.0, 8.0, 8.0, 10.0]);
    /// assert_eq!(c.to_vec(), a.transpose()?.matmul(&b)?.to_vec());
    /// assert_eq!(
    ///     a.matmul_tn(&Tensor::zeros(&[2, 2])?).err().expect("3 != 2").to_string(),
    ///     "matmul_tn: shape mismatch, lhs [3, 2], rhs [2, 2]"
    /// );
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn matmul_tn(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.product(
            rhs,
            Layout {
                op: "matmul_tn",
                lhs_t: true,
                rhs_t: false,
            },
        )
    }

    /// Matrix product `self · rhsᵀ`, where `ᵀ` swaps the last two axes,
    /// without copying the transpose.
    ///
    /// This is the left-hand gradient of [`matmul`](Tensor::matmul):
    /// `d lhs = g · rhsᵀ`, for every batching rule.
    ///
    /// # Shapes
    ///
    /// - `[m, k] · [n, k]ᵀ → [m, n]`
    /// - `[b, m, k] · [b, n, k]ᵀ → [b, m, n]`
    /// - `[b, m, k] · [n, k]ᵀ → [b, m, n]`
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] under the same rules as
    /// [`matmul`](Tensor::matmul), with the last axis of each `rhs` matrix
    /// as the inner dimension.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// // a · aᵀ is the Gram matrix of a's rows.
    /// let g = a.matmul_nt(&a)?;
    /// assert_eq!(g.to_vec(), vec![14.0, 32.0, 32.0, 77.0]);
    /// assert_eq!(
    ///     a.matmul_nt(&Tensor::zeros(&[2, 2])?).err().expect("3 != 2").to_string(),
    ///     "matmul_nt: shape mismatch, lhs [2, 3], rhs [2, 2]"
    /// );
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn matmul_nt(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        self.product(
            rhs,
            Layout {
                op: "matmul_nt",
                lhs_t: false,
                rhs_t: true,
            },
        )
    }

    /// The shared implementation: checks shapes, then one GEMM per batch
    /// entry on sub-slices of the operands (or a single GEMM when the batch
    /// folds into the rows).
    fn product(&self, rhs: &Tensor<T>, layout: Layout) -> Result<Tensor<T>> {
        self.product_on(rhs, layout, true)
    }

    /// [`product`](Self::product); `may_enter`: whether it may enter the
    /// pool first (false once it has, so it never enters twice).
    fn product_on(&self, rhs: &Tensor<T>, layout: Layout, may_enter: bool) -> Result<Tensor<T>> {
        let mismatch = || Error::ShapeMismatch {
            op: layout.op,
            lhs: self.shape().to_vec(),
            rhs: rhs.shape().to_vec(),
        };
        // (batch, stored rows, stored cols) of each operand.
        let (lhs_batch, lr, lc) = match *self.shape() {
            [r, c] => (None, r, c),
            [b, r, c] => (Some(b), r, c),
            _ => return Err(mismatch()),
        };
        let (rhs_batch, rr, rc) = match *rhs.shape() {
            [r, c] => (None, r, c),
            [b, r, c] => (Some(b), r, c),
            _ => return Err(mismatch()),
        };
        let batch = match (lhs_batch, rhs_batch) {
            (None, None) => None,
            (Some(b), None) => Some(b),
            (Some(b), Some(c)) if b == c => Some(b),
            _ => return Err(mismatch()),
        };
        let (m, k) = if layout.lhs_t { (lc, lr) } else { (lr, lc) };
        let (rhs_k, n) = if layout.rhs_t { (rc, rr) } else { (rr, rc) };
        if k != rhs_k {
            return Err(mismatch());
        }

        let count = batch.unwrap_or(1);
        let shape = match batch {
            Some(b) => Shape::from([b, m, n]),
            None => Shape::from([m, n]),
        };
        // `k > 0`: with k = 0 there is nothing to multiply, only zeros to fill.
        let work = count.saturating_mul(m).saturating_mul(k).saturating_mul(n);
        // A kernel gradient `xᵀ·g` of a small layer (`[64, 1]ᵀ·[64, 16]`)
        // has its batch as `k`: small in all, though not per row.
        let small = k > 0
            && (k.saturating_mul(n) <= SMALL_PRODUCT
                || (layout.lhs_t && n >= SMALL_TN_COLS && work <= SMALL_TN_WORK));
        if may_enter && !small && product_enters_pool(work) {
            // A product large enough to split, called from outside the
            // pool: enter it once for the whole product (the output's
            // zero-fill, every batch entry's GEMM), not once per GEMM.
            return crate::in_pool(|| self.product_on(rhs, layout, false));
        }
        let elements = count.saturating_mul(m).saturating_mul(n);
        let mut out = if small && elements <= SMALL_PRODUCT * 64 {
            // A small output (at most 16,384 elements): one block.
            Tensor::filled(&shape, T::zero())
        } else if !small && k > 0 {
            // `gemm` overwrites every element (`accumulate` false, and each
            // batch entry's block is written): no zero fill needed.
            Tensor::from_parts(overwritten(layout.op, &shape)?, shape)
        } else {
            // The output is the one user-sized allocation: [2^40, 0]·[0, 2^40]
            // holds no element but asks for 2^80.
            Tensor::from_parts(zeros(layout.op, &shape)?, shape)
        };
        if out.is_empty() {
            return Ok(out);
        }
        let (a, b) = (self.as_slice(), rhs.as_slice());
        let shared_rhs = rhs_batch.is_none();
        let dst = out
            .unique_mut()
            .expect("invariant: a fresh tensor owns its storage");
        let mul = |dst: &mut [T], lhs: MatRef<'_, T>, rhs: MatRef<'_, T>| {
            if small {
                small_gemm(dst, lhs, rhs);
            } else {
                gemm(dst, lhs, rhs, false);
            }
        };

        if shared_rhs && !layout.lhs_t {
            // A contiguous [count, m, k] is already a row-major [count·m, k]:
            // one product over all rows keeps GEMM's blocks full.
            let lhs = mat_ref(a, count * lr, lc, false);
            mul(dst, lhs, mat_ref(b, rr, rc, layout.rhs_t));
        } else {
            let (a_size, b_size, out_size) = (lr * lc, rr * rc, m * n);
            for i in 0..count {
                let a_i = &a[i * a_size..(i + 1) * a_size];
                let b_i = if shared_rhs {
                    b
                } else {
                    &b[i * b_size..(i + 1) * b_size]
                };
                mul(
                    &mut dst[i * out_size..(i + 1) * out_size],
                    mat_ref(a_i, lr, lc, layout.lhs_t),
                    mat_ref(b_i, rr, rc, layout.rhs_t),
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
