//! Matrix products on [`Var`]: `matmul` (2-D, batched 3-D, shared right
//! matrix) and the fused `linear` (`x · W + b`) behind Dense layers.

use crate::element::Float;
use crate::element::split_threads;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::simd::widest;
use rayon::prelude::*;

/// The widest one-row kernel [`one_row_product`] takes: up to here
/// `Tensor::matmul` runs its plain loop (at most 256 multiply-adds per
/// output row), whose bits `one_row_product` reproduces; beyond, `gemm`.
const ONE_ROW_MAX: usize = 256;

/// Output columns [`one_row_product`] writes at a time, with their kernel
/// elements kept in registers (four 4-lane vectors of `f32`).
const ROW_BLOCK: usize = 16;

/// Up to this many rows (so at most 16,384 outputs, `matmul`'s own bound
/// for a one-block output) [`one_row_product`] builds its output in one
/// allocation; beyond, a fallible vector.
const ONE_BLOCK_ROWS: usize = 64;

/// `x · w` for a kernel of one row (`[…, 1] · [1, n]`, a `Dense` layer on
/// one feature): every output is one product, computed as `0 + x·w`, the
/// same operations (and bits, `-0` included) as `Tensor::matmul`'s plain
/// loop, in one pass over `x` with no per-row loop set-up.
///
/// # Errors
///
/// [`Error::SizeOverflow`] or [`Error::OutOfMemory`] if the output does not
/// fit in memory.
fn one_row_product<T: Float>(x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
    let (xs, ws) = (x.as_slice(), w.as_slice());
    let mut shape = x.shape().to_vec();
    if let Some(last) = shape.last_mut() {
        *last = ws.len();
    }
    if let [c] = ws {
        let data = xs.iter().map(|&a| T::zero() + a * *c);
        return Ok(Tensor::from_iter_exact(data, shape));
    }
    if xs.len() <= ONE_BLOCK_ROWS {
        // One allocation (count and elements together), as `matmul` makes.
        let mut y = Tensor::filled(&shape, T::zero());
        let ys = y
            .unique_mut()
            .expect("invariant: a new tensor has one owner");
        let n = ws.len();
        // [`ROW_BLOCK`] columns at a time, their kernel elements held in
        // registers over every row.
        let mut done = 0;
        while done + ROW_BLOCK <= n {
            let wb: [T; ROW_BLOCK] = ws[done..done + ROW_BLOCK]
                .try_into()
                .expect("invariant: a slice of ROW_BLOCK elements");
            for (row, &a) in ys.chunks_exact_mut(n).zip(xs) {
                let d: &mut [T; ROW_BLOCK] = (&mut row[done..done + ROW_BLOCK])
                    .try_into()
                    .expect("invariant: a slice of ROW_BLOCK elements");
                for (d, &b) in d.iter_mut().zip(&wb) {
                    *d = T::zero() + a * b;
                }
            }
            done += ROW_BLOCK;
        }
        if done < n {
            for (row, &a) in ys.chunks_exact_mut(n).zip(xs) {
                for (d, &b) in row[done..].iter_mut().zip(&ws[done..]) {
                    *d = T::zero() + a * b;
                }
            }
        }
        return Ok(y);
    }
    let mut data = crate::tensor::try_alloc("linear", &shape)?;
    for &a in xs {
        data.extend(ws.iter().map(|&b| T::zero() + a * b));
    }
    Ok(Tensor::from_parts(data, shape))
}

/// `d rhs` of `lhs · rhs` given the upstream `g`: `lhsᵀ · g`, summed over the
/// batch when a 2-D `rhs` was shared by a 3-D `lhs`.
pub(super) fn rhs_grad<T: Float>(lhs: &Tensor<T>, rhs_shape: &[usize], g: &Tensor<T>) -> Tensor<T> {
    let shared = lhs.ndim() == 3 && rhs_shape.len() == 2;
    let product = if shared {
        // invariant: the forward product accepted a 3-D lhs and gave a 3-D g.
        let (b, m, k) = (lhs.shape()[0], lhs.shape()[1], lhs.shape()[2]);
        let n = g.shape()[2];
        let l = lhs
            .reshape(&[b * m, k])
            .expect("invariant: same element count");
        let g = g
            .reshape(&[b * m, n])
            .expect("invariant: same element count");
        l.matmul_tn(&g)
    } else {
        lhs.matmul_tn(g)
    };
    product.expect("invariant: shapes checked by the forward product")
}

/// Rows of a piece when a row-wise pass of `linear` is split over the
/// pool (the bias add, the bias gradient's partial sums).
const PIECE_ROWS: usize = 64;

/// Columns of `d bias` summed at a time by [`column_sums`], their sums kept
/// in registers over every row (one AVX-512 register of `f32`).
const SUM_BLOCK: usize = 16;

/// Writes into `dst` the column sums of `rows` (row-major, `dst.len()`
/// columns): each `0 + r₀ + r₁ + …` in order of the rows. The columns go
/// [`SUM_BLOCK`] at a time with their sums held in a local block, so a row
/// costs one load and one add per column and no load or store of the sums.
#[inline(always)]
fn column_sums<T: Float>(rows: &[T], dst: &mut [T]) {
    let out = dst.len();
    let mut done = 0;
    while done + SUM_BLOCK <= out {
        let mut acc = [T::zero(); SUM_BLOCK];
        for row in rows.chunks_exact(out) {
            for (s, &v) in acc.iter_mut().zip(&row[done..done + SUM_BLOCK]) {
                *s += v;
            }
        }
        dst[done..done + SUM_BLOCK].copy_from_slice(&acc);
        done += SUM_BLOCK;
    }
    if done < out {
        let rest = &mut dst[done..];
        rest.fill(T::zero());
        for row in rows.chunks_exact(out) {
            for (s, &v) in rest.iter_mut().zip(&row[done..]) {
                *s += v;
            }
        }
    }
}

/// The widest `d bias` [`bias_grad`] sums on the stack when `g` is one
/// piece: its result is then built in one allocation.
const STACK_BIAS: usize = 64;

/// `d bias` of `linear`: the column sums of `g` (`[…, out]`) over every
/// axis but the last. Each piece of [`PIECE_ROWS`] rows sums its rows in
/// order, and the pieces' sums are added in order to zeros: the same bits
/// for any thread count, with the pieces split over the pool. The loops are
/// compiled for the widest vector unit.
fn bias_grad<T: Float>(g: &Tensor<T>, bias_shape: &[usize]) -> Tensor<T> {
    let out = bias_shape.iter().product::<usize>();
    if out < 2 {
        // One column: `sum_to_shape`'s own (pairwise) sum of the slice.
        return g
            .sum_to_shape(bias_shape)
            .expect("invariant: g ends in out");
    }
    let gs = g.as_slice();
    let len = PIECE_ROWS.saturating_mul(out);
    if gs.len() <= len && out <= STACK_BIAS {
        // One piece (a small layer's batch): its sums on the stack, added
        // to zeros as the pieces are below, and one allocation for the
        // result (a vector and its handle would be two, plus the pieces').
        let mut sums = [T::zero(); STACK_BIAS];
        let sums = &mut sums[..out];
        widest(
            #[inline(always)]
            || column_sums(gs, sums),
        );
        return Tensor::from_iter_exact(sums.iter().map(|&s| T::zero() + s), bias_shape);
    }
    let piece = |rows: &[T]| {
        widest(
            #[inline(always)]
            || {
                let mut sums = vec![T::zero(); out];
                column_sums(rows, &mut sums);
                sums
            },
        )
    };
    let partials: Vec<Vec<T>> = if split_threads(gs.len()) > 1 {
        crate::in_pool(|| gs.par_chunks(len).map(piece).collect())
    } else {
        gs.chunks(len).map(piece).collect()
    };
    let mut sums = vec![T::zero(); out];
    for p in &partials {
        for (s, &v) in sums.iter_mut().zip(p) {
            *s += v;
        }
    }
    Tensor::from_parts(sums, bias_shape.to_vec())
}

impl<'t, T: Float> Var<'t, T> {
    /// Matrix product: `[m, k] · [k, n] → [m, n]`, batched
    /// `[b, m, k] · [b, k, n] → [b, m, n]`, or a shared right matrix
    /// `[b, m, k] · [k, n] → [b, m, n]`.
    ///
    /// Gradient: `d lhs = g · rhsᵀ`, `d rhs = lhsᵀ · g` (summed over the batch
    /// for a shared right matrix), by strided products that copy no
    /// transpose; each side is computed only if it needs a gradient.
    ///
    /// # Shapes
    ///
    /// As [`Tensor::matmul`].
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the shapes do not chain;
    /// [`Error::TapeMismatch`] if the operands are on different tapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?);
    /// let b = tape.watch(&Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 1.0], &[2, 2])?);
    /// let y = a.matmul(&b)?;
    /// assert_eq!(y.value().to_vec(), vec![3.0, 2.0, 7.0, 4.0]);
    /// let g = tape.gradient(&y.sum(), [a, b])?;
    /// assert_eq!(g.get(a).unwrap().to_vec(), vec![1.0, 2.0, 1.0, 2.0]);  // 1·bᵀ
    /// assert_eq!(g.get(b).unwrap().to_vec(), vec![4.0, 4.0, 6.0, 6.0]);  // aᵀ·1
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn matmul(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.same_tape("matmul", rhs)?;
        let y = self.with_values(rhs, |a, b| a.matmul(b))?;
        let rhs = Var::new(self.tape(), rhs.index());
        Ok(self.tape().record_with([*self, rhs], y, |g, io| {
            let (a, b) = (io.x(0), io.x(1));
            [
                io.needs(0).then(|| {
                    g.matmul_nt(b)
                        .expect("invariant: shapes checked by the forward product")
                }),
                io.needs(1).then(|| rhs_grad(a, b.shape(), &g)),
            ]
        }))
    }

    /// Fused affine map `x · kernel + bias`, one node on the tape: a Dense
    /// layer's core. `x` is `[batch, in]` (or `[b, t, in]`), `kernel`
    /// `[in, out]` (Keras's layout), `bias` `[out]`.
    ///
    /// Gradient: `d x = g · kernelᵀ`, `d kernel = xᵀ · g`, `d bias = Σ g`
    /// over every axis but the last.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] (op `linear`) if the kernel does not chain
    /// with `x` or the bias is not `[out]`; [`Error::TapeMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2])?);
    /// let w = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?);
    /// let b = tape.watch(&Tensor::from_vec(vec![0.5f32, 0.5, 0.5], &[3])?);
    /// let y = x.linear(&w, Some(&b))?;
    /// assert_eq!(y.value().to_vec(), vec![9.5, 12.5, 15.5]);
    /// let g = tape.gradient(&y.sum(), [w, b])?;
    /// assert_eq!(g.get(w).unwrap().to_vec(), vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// assert_eq!(g.get(b).unwrap().to_vec(), vec![1.0, 1.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn linear(&self, kernel: &Var<'_, T>, bias: Option<&Var<'_, T>>) -> Result<Var<'t, T>> {
        self.same_tape("linear", kernel)?;
        // Read in place on the tape: no handle of the operands is cloned.
        let (mut y, out) = self.with_values(kernel, |x, w| {
            // The indexing runs only after the rank checks (short-circuit `||`).
            if w.ndim() != 2 || x.ndim() < 2 || x.shape()[x.ndim() - 1] != w.shape()[0] {
                return Err(Error::ShapeMismatch {
                    op: "linear",
                    lhs: x.shape().to_vec(),
                    rhs: w.shape().to_vec(),
                });
            }
            // invariant: w is 2-D, checked above
            let out = w.shape()[1];
            let y = if w.shape()[0] == 1 && out <= ONE_ROW_MAX {
                one_row_product(x, w)?
            } else {
                x.matmul(w)?
            };
            Ok((y, out))
        })?;
        let kernel = Var::new(self.tape(), kernel.index());
        let Some(bias) = bias else {
            return Ok(self.tape().record_with([*self, kernel], y, |g, io| {
                let (x, w) = (io.x(0), io.x(1));
                [
                    io.needs(0)
                        .then(|| g.matmul_nt(w).expect("invariant: checked by the forward")),
                    io.needs(1).then(|| rhs_grad(x, w.shape(), &g)),
                ]
            }));
        };
        self.same_tape("linear", bias)?;
        bias.with_value(|b| {
            if b.shape() != [out] {
                return Err(Error::ShapeMismatch {
                    op: "linear",
                    lhs: vec![out],
                    rhs: b.shape().to_vec(),
                });
            }
            // The product is fresh and unshared: the bias is added in place.
            if let [c] = b.as_slice() {
                // One output column (`Dense(1)`): one pass, not a row at a time.
                for v in y.as_mut_slice() {
                    *v += *c;
                }
            } else {
                let (ys, bs) = (y.as_mut_slice(), b.as_slice());
                let add = |rows: &mut [T]| {
                    widest(
                        #[inline(always)]
                        || {
                            for row in rows.chunks_exact_mut(out.max(1)) {
                                for (v, &c) in row.iter_mut().zip(bs) {
                                    *v += c;
                                }
                            }
                        },
                    )
                };
                // Every element is its own: split over the pool in whole
                // rows, the same bits for any thread count.
                if split_threads(ys.len()) > 1 {
                    let len = PIECE_ROWS.saturating_mul(out.max(1));
                    crate::in_pool(|| ys.par_chunks_mut(len).for_each(add));
                } else {
                    add(ys);
                }
            }
            Ok(())
        })?;
        let bias = Var::new(self.tape(), bias.index());
        Ok(self.tape().record_with([*self, kernel, bias], y, |g, io| {
            let (x, w, b) = (io.x(0), io.x(1), io.x(2));
            [
                io.needs(0)
                    .then(|| g.matmul_nt(w).expect("invariant: checked by the forward")),
                io.needs(1).then(|| rhs_grad(x, w.shape(), &g)),
                io.needs(2).then(|| bias_grad(&g, b.shape())),
            ]
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientTape, Tensor};

    #[test]
    fn a_one_row_kernel_gives_the_bits_of_the_plain_product() {
        // Signed zeros, subnormals and ordinary values, on 1 and 5 outputs:
        // `linear`'s one-pass product must match `Tensor::matmul` bit for bit.
        let xs = vec![0.0f32, -0.0, 1.5, -2.25, 1e-39, -3.0e38, 7.0, -1.0];
        let x = Tensor::from_vec(xs, &[8, 1]).unwrap();
        for ws in [vec![-0.5f32], vec![0.0, -0.0, 3.0, -1e-5, 2.0]] {
            let n = ws.len();
            let w = Tensor::from_vec(ws, &[1, n]).unwrap();
            let fast = super::one_row_product(&x, &w).unwrap();
            let plain = x.matmul(&w).unwrap();
            assert_eq!(fast.shape(), plain.shape());
            let bits =
                |t: &Tensor<f32>| t.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&plain), "w has {n} columns");
        }
    }

    #[test]
    fn linear_with_one_output_adds_the_bias_to_every_row() {
        // y = x·w + b with w [2, 1], b [1]: the single-column bias path.
        let tape = GradientTape::<f32>::new();
        let x = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]).unwrap());
        let w = tape.watch(&Tensor::from_vec(vec![0.5, -1.0], &[2, 1]).unwrap());
        let b = tape.watch(&Tensor::from_vec(vec![0.25], &[1]).unwrap());
        let y = x.linear(&w, Some(&b)).unwrap();
        assert_eq!(y.shape(), vec![3, 1]);
        assert_eq!(y.value().to_vec(), vec![-1.25, -2.25, -3.25]);
        let g = tape.gradient(&y.sum(), [b]).unwrap();
        assert_eq!(g.get(b).unwrap().to_vec(), vec![3.0]);
    }

    #[test]
    fn shared_rhs_gradient_sums_over_the_batch() {
        // a [2, 1, 2] · b [2, 1]; y_b = a_b · b; d b = Σ_b a_bᵀ g_b.
        let tape = GradientTape::<f64>::new();
        let a = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 1, 2]).unwrap());
        let b = tape.watch(&Tensor::from_vec(vec![10.0, 100.0], &[2, 1]).unwrap());
        let y = a.matmul(&b).unwrap();
        assert_eq!(y.value().to_vec(), vec![210.0, 430.0]);
        let r = Tensor::from_vec(vec![1.0, -1.0], &[2, 1, 1]).unwrap();
        let g = tape.gradient_with(&y, &r, [a, b]).unwrap();
        assert_eq!(g.get(b).unwrap().to_vec(), vec![1.0 - 3.0, 2.0 - 4.0]);
        assert_eq!(g.get(a).unwrap().to_vec(), vec![10.0, 100.0, -10.0, -100.0]);
    }

    #[test]
    fn linear_rejects_a_bias_of_the_wrong_length() {
        let tape = GradientTape::<f32>::new();
        let x = tape.constant(&Tensor::zeros(&[4, 2]).unwrap());
        let w = tape.watch(&Tensor::zeros(&[2, 3]).unwrap());
        let b = tape.watch(&Tensor::zeros(&[2]).unwrap());
        let err = x.linear(&w, Some(&b)).unwrap_err();
        assert_eq!(err.to_string(), "linear: shape mismatch, lhs [3], rhs [2]");
        let err = x.linear(&b, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linear: shape mismatch, lhs [4, 2], rhs [2]"
        );
    }

    #[test]
    fn matmul_of_constants_records_nothing() {
        let tape = GradientTape::<f32>::new();
        let a = tape.constant(&Tensor::ones(&[2, 2]).unwrap());
        let _ = a.matmul(&a).unwrap();
        assert_eq!(tape.recorded_ops(), 0);
    }
}
