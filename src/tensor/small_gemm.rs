//! Products too small for `gemm`: at most [`SMALL_PRODUCT`] multiply-adds
//! per output row (or [`SMALL_TN_WORK`] in all for a transposed left
//! operand), by plain loops whose sums run in a fixed order.

use crate::element::{Float, MatRef};

/// Products with at most this many multiply-adds per output row (`k · n`:
/// the 1-16-1 MLP's forward products have 16) skip `gemm`: its dispatch and
/// its four packing-buffer allocations per call cost more than the
/// arithmetic. The choice does not depend on the number of rows, so a row's
/// result is the same whatever the batch it comes in (`predict` in batches
/// equals one forward pass).
pub(super) const SMALL_PRODUCT: usize = 256;

/// Transposed-left products (`lhsᵀ · rhs`, the kernel gradient `xᵀ·g`)
/// with at most this many multiply-adds in all also skip `gemm`, whatever
/// their count per output row: the 1-16-1 MLP's first kernel gradient
/// (`[64, 1]ᵀ·[64, 16]`, 1,024 multiply-adds in one output row) cost three
/// times as much in `gemm`'s set-up and packing as in this loop. The rows
/// of such a product's operands are the batch, so its bits depend on the
/// batch size anyway; a `[n, k]ᵀ` with `n · k · out` above this goes to
/// `gemm` as before.
pub(super) const SMALL_TN_WORK: usize = 16 * SMALL_PRODUCT;

/// The fewest output columns for [`SMALL_TN_WORK`]'s rule: a narrower
/// product (`xᵀ·g` of a `Dense(1)`, one dot product over the batch) is a
/// chain of dependent additions here, where `gemm` keeps several sums
/// going (its bits then depend on its kernel, as before).
pub(super) const SMALL_TN_COLS: usize = 8;

/// Output columns kept in registers across the whole sum by
/// [`small_gemm`]'s general loop (four 4-lane vectors of `f32`).
const BLOCK: usize = 16;

/// `dst = lhs · rhs` by a plain loop, for products of at most
/// [`SMALL_PRODUCT`] multiply-adds per row (or [`SMALL_TN_WORK`] in all for
/// a transposed `lhs`); `dst` (row-major `[m, n]`)
/// holds zeros.
///
/// Each output is `Σ_p lhs[i, p] · rhs[p, j]` added in order of `p`, without
/// fused multiply-adds: the same bits on every machine and thread count. (A
/// larger product's bits depend on `gemm`'s kernel, chosen at run time.)
pub(super) fn small_gemm<T: Float>(dst: &mut [T], lhs: MatRef<'_, T>, rhs: MatRef<'_, T>) {
    let (k, n) = (lhs.cols, rhs.cols);
    let m = lhs.rows.min(dst.len().checked_div(n).unwrap_or(0));
    if n == 1 {
        // A matrix times a column: one dot product per row. Every output
        // is still its own sum in order of `p`; the loops below only
        // interleave independent sums, so that they do not wait on one
        // another's additions (the bits are those of one row at a time).
        let dst = &mut dst[..m];
        if lhs.row_stride == 1 && m > 0 {
            // A transposed `lhs` (`xᵀ · g`): column `p` of the rows is
            // contiguous, so add `lhs[.., p] · rhs[p]` to every output;
            // [`BLOCK`] outputs at a time kept in registers over every `p`.
            let mut blocks = dst.chunks_exact_mut(BLOCK);
            let mut done = 0;
            for d in blocks.by_ref() {
                let mut acc = [T::zero(); BLOCK];
                acc.copy_from_slice(d);
                for p in 0..k {
                    let b = rhs.data[p * rhs.row_stride];
                    let start = p * lhs.col_stride + done;
                    // invariant: the caller checked the shapes against the slices.
                    for (s, &a) in acc.iter_mut().zip(&lhs.data[start..start + BLOCK]) {
                        *s += a * b;
                    }
                }
                d.copy_from_slice(&acc);
                done += BLOCK;
            }
            let rest = blocks.into_remainder();
            let left = rest.len();
            if left > 0 {
                for p in 0..k {
                    let b = rhs.data[p * rhs.row_stride];
                    let start = p * lhs.col_stride + done;
                    for (d, &a) in rest.iter_mut().zip(&lhs.data[start..start + left]) {
                        *d += a * b;
                    }
                }
            }
            return;
        }
        if lhs.col_stride == 1 && rhs.row_stride == 1 {
            // Contiguous rows: four rows at a time.
            let w = &rhs.data[..k];
            let row = |i: usize| &lhs.data[i * lhs.row_stride..i * lhs.row_stride + k];
            let mut quads = dst.chunks_exact_mut(4);
            for (q, d) in quads.by_ref().enumerate() {
                let i = 4 * q;
                let (r0, r1, r2, r3) = (row(i), row(i + 1), row(i + 2), row(i + 3));
                let mut s = [d[0], d[1], d[2], d[3]];
                // Four terms of each row at a time: the four rows' loads are
                // whole vectors, turned into the terms' columns in registers.
                let whole = k - k % 4;
                for ((((a0, a1), a2), a3), b) in r0[..whole]
                    .chunks_exact(4)
                    .zip(r1[..whole].chunks_exact(4))
                    .zip(r2[..whole].chunks_exact(4))
                    .zip(r3[..whole].chunks_exact(4))
                    .zip(w[..whole].chunks_exact(4))
                {
                    for j in 0..4 {
                        let col = [a0[j], a1[j], a2[j], a3[j]];
                        for (s, c) in s.iter_mut().zip(col) {
                            *s += c * b[j];
                        }
                    }
                }
                for p in whole..k {
                    let col = [r0[p], r1[p], r2[p], r3[p]];
                    for (s, c) in s.iter_mut().zip(col) {
                        *s += c * w[p];
                    }
                }
                d.copy_from_slice(&s);
            }
            let done = m - m % 4;
            for (i, d) in quads.into_remainder().iter_mut().enumerate() {
                let mut s = *d;
                for (&a, &b) in row(done + i).iter().zip(w) {
                    s += a * b;
                }
                *d = s;
            }
            return;
        }
        for (i, d) in dst.iter_mut().enumerate() {
            let start = i * lhs.row_stride;
            let mut s = *d;
            for p in 0..k {
                s += lhs.data[start + p * lhs.col_stride] * rhs.data[p * rhs.row_stride];
            }
            *d = s;
        }
        return;
    }
    if k == 1 && rhs.col_stride == 1 {
        // A column times a row (the backward `g · wᵀ` of a one-unit
        // layer): each output row is one multiple of the row, added to
        // its zeros.
        let w = &rhs.data[..n];
        // [`BLOCK`] columns at a time, their row of `rhs` held in
        // registers over every output row.
        let mut done = 0;
        while done + BLOCK <= n {
            let wb: [T; BLOCK] = w[done..done + BLOCK]
                .try_into()
                .expect("invariant: a slice of BLOCK elements");
            for (i, row) in dst.chunks_exact_mut(n).take(m).enumerate() {
                // invariant: the caller checked the shapes against the slices.
                let a = lhs.data[i * lhs.row_stride];
                let d: &mut [T; BLOCK] = (&mut row[done..done + BLOCK])
                    .try_into()
                    .expect("invariant: a slice of BLOCK elements");
                for (d, &b) in d.iter_mut().zip(&wb) {
                    *d += a * b;
                }
            }
            done += BLOCK;
        }
        if done < n {
            for (i, row) in dst.chunks_exact_mut(n).take(m).enumerate() {
                let a = lhs.data[i * lhs.row_stride];
                for (d, &b) in row[done..].iter_mut().zip(&w[done..]) {
                    *d += a * b;
                }
            }
        }
        return;
    }
    for (i, row) in dst.chunks_exact_mut(n).take(m).enumerate() {
        let mut done = 0;
        if rhs.col_stride == 1 {
            // [`BLOCK`] outputs at a time, their sums kept in registers
            // over every `p` (each still added in order of `p`): one load
            // and one store per output instead of one per `p`.
            let mut blocks = row.chunks_exact_mut(BLOCK);
            for d in blocks.by_ref() {
                let mut acc = [T::zero(); BLOCK];
                acc.copy_from_slice(d);
                for p in 0..k {
                    // invariant: the caller checked the shapes against the slices.
                    let a = lhs.data[i * lhs.row_stride + p * lhs.col_stride];
                    let start = p * rhs.row_stride + done;
                    for (s, &b) in acc.iter_mut().zip(&rhs.data[start..start + BLOCK]) {
                        *s += a * b;
                    }
                }
                d.copy_from_slice(&acc);
                done += BLOCK;
            }
            if done == n {
                continue;
            }
        }
        let row = &mut row[done..];
        let n = n - done;
        for p in 0..k {
            // invariant: the caller checked the shapes against the slices.
            let a = lhs.data[i * lhs.row_stride + p * lhs.col_stride];
            let start = p * rhs.row_stride + done;
            if rhs.col_stride == 1 {
                for (d, &b) in row.iter_mut().zip(&rhs.data[start..start + n]) {
                    *d += a * b;
                }
            } else {
                for (j, d) in row.iter_mut().enumerate() {
                    *d += a * rhs.data[start + j * rhs.col_stride];
                }
            }
        }
    }
}
