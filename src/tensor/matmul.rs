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
mod tests {
    use super::*;

    fn t(data: &[f64], shape: &[usize]) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), shape).expect("test data matches shape")
    }

    /// Asserts equal shapes and elements (`Tensor` need not be `Debug`).
    #[track_caller]
    fn same(got: &Tensor<f64>, want: &Tensor<f64>) {
        assert_eq!(got.shape(), want.shape());
        assert_eq!(got.to_vec(), want.to_vec());
    }

    fn seq(shape: &[usize]) -> Tensor<f64> {
        let n: usize = shape.iter().product();
        t(&(0..n).map(|i| i as f64 - 2.0).collect::<Vec<_>>(), shape)
    }

    #[test]
    fn matmul_2d_golden() {
        // [[1,2],[3,4]]·[[5,6],[7,8]] = [[19,22],[43,50]]
        let c = t(&[1., 2., 3., 4.], &[2, 2])
            .matmul(&t(&[5., 6., 7., 8.], &[2, 2]))
            .unwrap();
        assert_eq!(c.to_vec(), vec![19., 22., 43., 50.]);
    }

    #[test]
    fn batched_matmul_multiplies_each_pair() {
        let a = seq(&[3, 2, 4]);
        let b = seq(&[3, 4, 5]);
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[3, 2, 5]);
        for i in 0..3 {
            let ai = a.slice_rows(i..i + 1).unwrap().reshape(&[2, 4]).unwrap();
            let bi = b.slice_rows(i..i + 1).unwrap().reshape(&[4, 5]).unwrap();
            let ci = c.slice_rows(i..i + 1).unwrap().reshape(&[2, 5]).unwrap();
            same(&ci, &ai.matmul(&bi).unwrap());
        }
    }

    #[test]
    fn shared_rhs_matmul_equals_flattened_rows() {
        let a = seq(&[3, 2, 4]);
        let w = seq(&[4, 5]);
        let c = a.matmul(&w).unwrap();
        assert_eq!(c.shape(), &[3, 2, 5]);
        let flat = a.reshape(&[6, 4]).unwrap().matmul(&w).unwrap();
        assert_eq!(c.to_vec(), flat.to_vec());
    }

    #[test]
    fn transposed_variants_match_explicit_transpose() {
        let a = seq(&[4, 3]);
        let b = seq(&[4, 5]);
        let want = a.transpose().unwrap().matmul(&b).unwrap();
        same(&a.matmul_tn(&b).unwrap(), &want);
        let c = seq(&[5, 3]);
        let want = a.matmul(&c.transpose().unwrap()).unwrap();
        same(&a.matmul_nt(&c).unwrap(), &want);
        // Batched and shared-rhs forms.
        let a3 = seq(&[2, 4, 3]);
        let b3 = seq(&[2, 4, 5]);
        let tn = a3.matmul_tn(&b3).unwrap();
        same(&tn, &a3.transpose().unwrap().matmul(&b3).unwrap());
        assert_eq!(tn.shape(), &[2, 3, 5]);
        let tn_shared = a3.matmul_tn(&b).unwrap();
        same(&tn_shared, &a3.transpose().unwrap().matmul(&b).unwrap());
        let nt_shared = seq(&[2, 4, 3]).matmul_nt(&c).unwrap();
        same(
            &nt_shared,
            &seq(&[2, 4, 3]).matmul(&c.transpose().unwrap()).unwrap(),
        );
    }

    #[test]
    fn shared_rhs_gradient_is_flattened_matmul_tn() {
        // y = a·w with a [b, m, k], w [k, n]; dw = Σ_b a_bᵀ·g_b.
        let a = seq(&[3, 2, 4]);
        let g = seq(&[3, 2, 5]).mul_scalar(0.5);
        let dw = a
            .reshape(&[6, 4])
            .unwrap()
            .matmul_tn(&g.reshape(&[6, 5]).unwrap())
            .unwrap();
        let per_batch = a.matmul_tn(&g).unwrap().sum_axis(0, false).unwrap();
        same(&dw, &per_batch);
    }

    /// The exact product of small integers by a plain loop, as `f32`.
    fn exact(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize), nt: bool) -> Vec<f32> {
        let mut out = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let bv = if nt { b[j * k + p] } else { b[p * n + j] };
                    s += f64::from(a[i * k + p]) * f64::from(bv);
                }
                out[i * n + j] = s as f32;
            }
        }
        out
    }

    #[test]
    fn outputs_taken_from_the_buffer_cache_are_overwritten_on_every_gemm_path() {
        // `gemm` writes a product's output without reading it, so a kept
        // buffer full of NaN must not show through, on each of its paths:
        // depth 1 and 2 (`gevv`), one output column (`gemv`), small blocks
        // per batch entry (the horizontal kernels), and the main loop.
        let ints = |n: usize, seed: usize| -> Vec<f32> {
            (0..n).map(|i| ((i * 7 + seed) % 7) as f32 - 3.0).collect()
        };
        // (batch, m, k, n, transposed rhs)
        let cases = [
            (1, 64, 1, 300, false),
            (1, 100, 2, 200, false),
            (1, 17_000, 300, 1, false),
            (300, 8, 40, 8, true),
            (1, 160, 160, 160, false),
        ];
        for (batch, m, k, n, nt) in cases {
            let out = batch * m * n;
            for len in [out, out + out / 8] {
                drop(Tensor::<f32>::full(&[len], f32::NAN).expect("poison"));
            }
            let a = ints(batch * m * k, 1);
            let b = ints(batch * k * n, 2);
            let lhs = Tensor::from_vec(a.clone(), &[batch, m, k]).expect("lhs");
            let got = if nt {
                let rhs = Tensor::from_vec(b.clone(), &[batch, n, k]).expect("rhs");
                lhs.matmul_nt(&rhs).expect("product")
            } else {
                let rhs = Tensor::from_vec(b.clone(), &[batch, k, n]).expect("rhs");
                lhs.matmul(&rhs).expect("product")
            };
            let mut want = Vec::with_capacity(out);
            for e in 0..batch {
                want.extend(exact(
                    &a[e * m * k..(e + 1) * m * k],
                    &b[e * k * n..(e + 1) * k * n],
                    (m, k, n),
                    nt,
                ));
            }
            assert_eq!(got.to_vec(), want, "batch {batch}, [{m}, {k}] x [{k}, {n}]");
        }
    }

    #[test]
    fn zero_inner_dimension_gives_zeros() {
        let c = Tensor::<f32>::zeros(&[2, 0])
            .unwrap()
            .matmul(&Tensor::zeros(&[0, 3]).unwrap())
            .unwrap();
        assert_eq!(c.shape(), &[2, 3]);
        assert_eq!(c.to_vec(), vec![0.0; 6]);
        let c = Tensor::<f32>::zeros(&[2, 0, 3])
            .unwrap()
            .matmul_tn(&Tensor::zeros(&[2, 0, 4]).unwrap())
            .unwrap();
        assert_eq!(c.to_vec(), vec![0.0; 24]);
    }

    #[test]
    fn empty_outer_dimensions_give_empty_results() {
        let c = Tensor::<f32>::zeros(&[0, 3])
            .unwrap()
            .matmul(&Tensor::ones(&[3, 4]).unwrap())
            .unwrap();
        assert_eq!(c.shape(), &[0, 4]);
        let c = Tensor::<f32>::ones(&[2, 3])
            .unwrap()
            .matmul_nt(&Tensor::ones(&[0, 3]).unwrap())
            .unwrap();
        assert_eq!(c.shape(), &[2, 0]);
        let c = Tensor::<f32>::zeros(&[0, 2, 3])
            .unwrap()
            .matmul(&Tensor::zeros(&[0, 3, 4]).unwrap())
            .unwrap();
        assert_eq!(c.shape(), &[0, 2, 4]);
    }

    #[test]
    fn operands_may_be_row_slices_of_larger_storage() {
        let big = seq(&[4, 3]);
        let rows = big.slice_rows(1..3).unwrap();
        let c = rows.matmul(&seq(&[3, 2])).unwrap();
        let copied = t(&rows.to_vec(), &[2, 3]).matmul(&seq(&[3, 2])).unwrap();
        same(&c, &copied);
    }

    fn message(r: Result<Tensor<f64>>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(t) => panic!(
                "shape error expected, got a result of shape {:?}",
                t.shape()
            ),
        }
    }

    #[test]
    fn matmul_rejects_mismatched_inner_dims() {
        let Err(err) = seq(&[2, 3]).matmul(&seq(&[4, 5])) else {
            panic!("inner dims 3 and 4 differ");
        };
        assert!(matches!(err, Error::ShapeMismatch { op: "matmul", .. }));
        assert_eq!(
            err.to_string(),
            "matmul: shape mismatch, lhs [2, 3], rhs [4, 5]"
        );
        assert_eq!(
            message(seq(&[2, 2, 3]).matmul(&seq(&[2, 4, 5]))),
            "matmul: shape mismatch, lhs [2, 2, 3], rhs [2, 4, 5]"
        );
        assert_eq!(
            message(seq(&[2, 2, 3]).matmul(&seq(&[4, 5]))),
            "matmul: shape mismatch, lhs [2, 2, 3], rhs [4, 5]"
        );
    }

    #[test]
    fn matmul_rejects_mismatched_batches() {
        assert_eq!(
            message(seq(&[2, 2, 3]).matmul(&seq(&[3, 3, 4]))),
            "matmul: shape mismatch, lhs [2, 2, 3], rhs [3, 3, 4]"
        );
        assert_eq!(
            message(seq(&[2, 3]).matmul(&seq(&[2, 3, 4]))),
            "matmul: shape mismatch, lhs [2, 3], rhs [2, 3, 4]"
        );
    }

    #[test]
    fn matmul_rejects_vectors_scalars_and_rank_4() {
        assert_eq!(
            message(seq(&[3]).matmul(&seq(&[3, 2]))),
            "matmul: shape mismatch, lhs [3], rhs [3, 2]"
        );
        assert_eq!(
            message(seq(&[2, 3]).matmul(&seq(&[3]))),
            "matmul: shape mismatch, lhs [2, 3], rhs [3]"
        );
        assert_eq!(
            message(Tensor::scalar(1.0).matmul(&Tensor::scalar(2.0))),
            "matmul: shape mismatch, lhs [], rhs []"
        );
        assert_eq!(
            message(seq(&[1, 2, 2, 3]).matmul(&seq(&[3, 2]))),
            "matmul: shape mismatch, lhs [1, 2, 2, 3], rhs [3, 2]"
        );
    }

    #[test]
    fn transposed_variants_reject_bad_shapes_with_their_own_name() {
        // matmul_tn: the inner dimension is self's leading matrix axis.
        assert_eq!(
            message(seq(&[2, 3]).matmul_tn(&seq(&[3, 4]))),
            "matmul_tn: shape mismatch, lhs [2, 3], rhs [3, 4]"
        );
        assert_eq!(
            message(seq(&[2, 4, 3]).matmul_tn(&seq(&[3, 4, 5]))),
            "matmul_tn: shape mismatch, lhs [2, 4, 3], rhs [3, 4, 5]"
        );
        assert_eq!(
            message(seq(&[4]).matmul_tn(&seq(&[4, 1]))),
            "matmul_tn: shape mismatch, lhs [4], rhs [4, 1]"
        );
        // matmul_nt: the inner dimension is rhs's last axis.
        assert_eq!(
            message(seq(&[2, 3]).matmul_nt(&seq(&[3, 4]))),
            "matmul_nt: shape mismatch, lhs [2, 3], rhs [3, 4]"
        );
        assert_eq!(
            message(seq(&[2, 3]).matmul_nt(&seq(&[1, 4, 3]))),
            "matmul_nt: shape mismatch, lhs [2, 3], rhs [1, 4, 3]"
        );
        assert_eq!(
            message(seq(&[2, 2, 3]).matmul_nt(&seq(&[4]))),
            "matmul_nt: shape mismatch, lhs [2, 2, 3], rhs [4]"
        );
    }
}
