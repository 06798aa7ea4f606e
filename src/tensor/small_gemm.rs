//! Products too small for `gemm`: at most [`SMALL_PRODUCT`] multiply-adds
//! per output row, by plain loops whose sums run in a fixed order.

use crate::element::{Float, MatRef};

/// Products with at most this many multiply-adds per output row (`k · n`:
/// the 1-16-1 MLP's forward products have 16) skip `gemm`: its dispatch and
/// its four packing-buffer allocations per call cost more than the
/// arithmetic. The choice does not depend on the number of rows, so a row's
/// result is the same whatever the batch it comes in (`predict` in batches
/// equals one forward pass).
pub(super) const SMALL_PRODUCT: usize = 256;

/// `dst = lhs · rhs` by a plain loop, for products of at most
/// [`SMALL_PRODUCT`] multiply-adds per row; `dst` (row-major `[m, n]`)
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
            // contiguous, so add `lhs[.., p] · rhs[p]` to every output.
            for p in 0..k {
                let b = rhs.data[p * rhs.row_stride];
                let start = p * lhs.col_stride;
                // invariant: the caller checked the shapes against the slices.
                for (d, &a) in dst.iter_mut().zip(&lhs.data[start..start + m]) {
                    *d += a * b;
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
                let (mut s0, mut s1, mut s2, mut s3) = (d[0], d[1], d[2], d[3]);
                for ((((&a0, &a1), &a2), &a3), &b) in r0.iter().zip(r1).zip(r2).zip(r3).zip(w) {
                    s0 += a0 * b;
                    s1 += a1 * b;
                    s2 += a2 * b;
                    s3 += a3 * b;
                }
                d.copy_from_slice(&[s0, s1, s2, s3]);
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
    for (i, row) in dst.chunks_exact_mut(n).take(m).enumerate() {
        for p in 0..k {
            // invariant: the caller checked the shapes against the slices.
            let a = lhs.data[i * lhs.row_stride + p * lhs.col_stride];
            let start = p * rhs.row_stride;
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
