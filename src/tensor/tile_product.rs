//! The fused attention's block products without `gemm`: register tiles of
//! [`ROWS`] × [`COLS`] outputs, by plain loops the compiler vectorizes.
//!
//! Attention multiplies small matrices (a 32-query block against up to a
//! few hundred keys, 32-wide heads) thousands of times a step. `gemm`
//! packs both operands and sets up its blocking on every call, about as
//! long as the arithmetic of such a product; these loops read the operands
//! where they lie (rows of the `[batch, t, heads · d]` projections, the
//! kept probabilities) and write the output in place, strided.
//!
//! Each output is `init + Σ_p lhs[i, p] · rhs[p, j]`, its terms added in
//! order of `p`, with a separate multiply and add (Rust never fuses them):
//! the bits depend neither on the tile sizes nor on the instruction set the
//! caller's [`widest`](super::simd::widest) picked, nor on the thread count.
//! The caller may narrow the sum to the `p` where `lhs` can be non-zero
//! (the causal staircase); the terms left out are exact zeros.

use crate::element::{Float, MatRef};

/// Output rows a tile keeps in registers (at most 8: [`Tile::tile`]'s
/// rows are written out).
const ROWS: usize = 8;

/// Output columns a tile keeps in registers: one AVX-512 register of `f32`
/// a row. The tile's loops (`ROWS × COLS` multiply-adds a step) must stay
/// small enough for the compiler to unroll them fully, which is what keeps
/// the sums in registers: with 32 columns it did not, and the sums went
/// through memory at twice the step's time.
const COLS: usize = 16;

/// `dst[i · ld + j] = init + Σ_{p ∈ span(i0, i1)} lhs[i, p] · rhs[p, j]` for
/// every `i < lhs.rows`, `j < rhs.cols`, where `init` is the element's old
/// value when `accumulate`, else zero, and `span(i0, i1)` (a range within
/// `0..lhs.cols`) holds every `p` with a non-zero `lhs[i, p]` for the rows
/// `i0..i1` of a tile.
///
/// `rhs` must have contiguous rows (`col_stride == 1`). `ROW_MAJOR` says
/// that `lhs` has contiguous rows too (`col_stride == 1`); otherwise it
/// must have contiguous columns (`row_stride == 1`, a transposed operand).
///
/// # Panics
///
/// If an index falls outside a slice (the caller's invariant: it checked
/// the shapes).
#[inline(always)]
pub(super) fn tile_product<T: Float, const ROW_MAJOR: bool>(
    dst: &mut [T],
    ld: usize,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
    span: impl Fn(usize, usize) -> (usize, usize),
) {
    assert!(
        rhs.col_stride == 1
            && lhs.cols == rhs.rows
            && if ROW_MAJOR {
                lhs.col_stride == 1
            } else {
                lhs.row_stride == 1
            },
        "invariant: tile_product operands agree"
    );
    let (m, n) = (lhs.rows, rhs.cols);
    let mut i0 = 0;
    while i0 < m {
        // Bands of [`ROWS`], then one of 4, then single rows.
        let rows = match m - i0 {
            r if r >= ROWS => ROWS,
            r if r >= 4 => 4,
            _ => 1,
        };
        let (p0, p1) = span(i0, i0 + rows);
        let t = Tile {
            lhs: &lhs,
            rhs: &rhs,
            i0,
            p0,
            p1: p1.max(p0),
            accumulate,
        };
        match rows {
            ROWS => t.columns::<ROWS, ROW_MAJOR>(dst, ld, n),
            4 => t.columns::<4, ROW_MAJOR>(dst, ld, n),
            _ => t.columns::<1, ROW_MAJOR>(dst, ld, n),
        }
        i0 += rows;
    }
}

/// One band of output rows `i0..i0 + R` and its sum's range `p0..p1`.
#[derive(Clone, Copy)]
struct Tile<'m, 'a, T> {
    lhs: &'m MatRef<'a, T>,
    rhs: &'m MatRef<'a, T>,
    i0: usize,
    p0: usize,
    p1: usize,
    accumulate: bool,
}

impl<T: Float> Tile<'_, '_, T> {
    /// The band's columns in tiles of [`COLS`], then 8 and 1.
    #[inline(always)]
    fn columns<const R: usize, const ROW_MAJOR: bool>(self, dst: &mut [T], ld: usize, n: usize) {
        let mut j0 = 0;
        while j0 + COLS <= n {
            self.tile::<R, COLS, ROW_MAJOR>(dst, ld, j0);
            j0 += COLS;
        }
        if j0 + 8 <= n {
            self.tile::<R, 8, ROW_MAJOR>(dst, ld, j0);
            j0 += 8;
        }
        while j0 < n {
            self.tile::<R, 1, ROW_MAJOR>(dst, ld, j0);
            j0 += 1;
        }
    }

    /// The `R × C` outputs at row `i0`, column `j0`, kept in registers over
    /// the whole sum.
    // Step `q` reads element `q` of `R` row slices at once.
    #[allow(clippy::needless_range_loop)]
    #[inline(always)]
    fn tile<const R: usize, const C: usize, const ROW_MAJOR: bool>(
        self,
        dst: &mut [T],
        ld: usize,
        j0: usize,
    ) {
        let (lhs, rhs) = (self.lhs, self.rhs);
        let mut acc = [[T::zero(); C]; R];
        if self.accumulate {
            for (r, a) in acc.iter_mut().enumerate() {
                a.copy_from_slice(&dst[(self.i0 + r) * ld + j0..][..C]);
            }
        }
        let len = self.p1 - self.p0;
        let b_row = |p: usize| -> &[T; C] {
            (&rhs.data[p * rhs.row_stride + j0..][..C])
                .try_into()
                .expect("invariant: a slice of C elements")
        };
        // `acc[r] += x · b`, its loop small enough to be unrolled and kept
        // in registers; the rows are written out one by one below (a loop
        // over them was not unrolled).
        #[inline(always)]
        fn row<T: Float, const C: usize>(acc: &mut [T; C], x: T, b: &[T; C]) {
            for (s, &y) in acc.iter_mut().zip(b) {
                *s += x * y;
            }
        }
        macro_rules! rows {
            ($x:expr, $b:expr) => {
                row(&mut acc[0], $x(0), $b);
                if R > 1 {
                    row(&mut acc[1], $x(1), $b);
                }
                if R > 2 {
                    row(&mut acc[2], $x(2), $b);
                }
                if R > 3 {
                    row(&mut acc[3], $x(3), $b);
                }
                if R > 4 {
                    row(&mut acc[4], $x(4), $b);
                }
                if R > 5 {
                    row(&mut acc[5], $x(5), $b);
                }
                if R > 6 {
                    row(&mut acc[6], $x(6), $b);
                }
                if R > 7 {
                    row(&mut acc[7], $x(7), $b);
                }
            };
        }
        if ROW_MAJOR {
            // Row `r` of `lhs` over `p0..p1`, for every `r < R` (the rest
            // empty and never read).
            let mut a: [&[T]; 8] = [&[]; 8];
            for (r, slot) in a.iter_mut().enumerate().take(R) {
                *slot = &lhs.data[(self.i0 + r) * lhs.row_stride + self.p0..][..len];
            }
            for q in 0..len {
                let b = b_row(self.p0 + q);
                rows!(|r: usize| a[r][q], b);
            }
        } else {
            // The `R` values of step `p` side by side.
            for p in self.p0..self.p1 {
                let b = b_row(p);
                let col: &[T; R] = (&lhs.data[p * lhs.col_stride + self.i0..][..R])
                    .try_into()
                    .expect("invariant: a slice of R elements");
                rows!(|r: usize| col[r], b);
            }
        }
        for (r, a) in acc.iter().enumerate() {
            dst[(self.i0 + r) * ld + j0..][..C].copy_from_slice(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ_p a[i, p] · b[p, j]` in order of `p` over `span`, as the
    /// definition says.
    fn naive(
        a: &MatRef<'_, f32>,
        b: &MatRef<'_, f32>,
        init: &[f32],
        ld: usize,
        span: impl Fn(usize, usize) -> (usize, usize),
        tile_of: impl Fn(usize) -> (usize, usize),
    ) -> Vec<f32> {
        let mut out = init.to_vec();
        for i in 0..a.rows {
            let (t0, t1) = tile_of(i);
            let (p0, p1) = span(t0, t1);
            for j in 0..b.cols {
                let mut s = init[i * ld + j];
                for p in p0..p1 {
                    s += a.data[i * a.row_stride + p * a.col_stride] * b.data[p * b.row_stride + j];
                }
                out[i * ld + j] = s;
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 250.0
                    - 2.0
            })
            .collect()
    }

    #[test]
    fn tiles_match_the_ordered_sum_bit_for_bit() {
        // Odd sizes reach every tile width and the single-row band; the
        // three `lhs` layouts; a narrowed span; accumulate and overwrite.
        for (m, k, n) in [(39, 29, 61), (8, 32, 32), (13, 5, 3), (1, 40, 33)] {
            let a_data = values(m * k, 7);
            let b_data = values(k * (n + 5), 11);
            let b = MatRef {
                data: &b_data,
                rows: k,
                cols: n,
                row_stride: n + 5,
                col_stride: 1,
            };
            let layouts = [
                (k, 1), // rows contiguous
                (1, m), // columns contiguous
            ];
            for (rs, cs) in layouts {
                let a = MatRef {
                    data: &a_data,
                    rows: m,
                    cols: k,
                    row_stride: rs,
                    col_stride: cs,
                };
                let ld = n + 3;
                let init = values(m * ld, 5);
                let span = |i0: usize, i1: usize| (i0.min(k) / 2, (i1 + 3).min(k));
                // The band of rows a row is computed in.
                let full = m - m % ROWS;
                let tile_of = |i: usize| {
                    if i < full {
                        (i - i % ROWS, i - i % ROWS + ROWS)
                    } else if m - full >= 4 && i < full + 4 {
                        (full, full + 4)
                    } else {
                        (i, i + 1)
                    }
                };
                for accumulate in [false, true] {
                    let mut dst = init.clone();
                    if cs == 1 {
                        tile_product::<_, true>(&mut dst, ld, a, b, accumulate, span);
                    } else {
                        tile_product::<_, false>(&mut dst, ld, a, b, accumulate, span);
                    }
                    let zero;
                    let start = if accumulate {
                        &init
                    } else {
                        zero = {
                            let mut z = init.clone();
                            for i in 0..m {
                                z[i * ld..i * ld + n].fill(0.0);
                            }
                            z
                        };
                        &zero
                    };
                    let want = naive(&a, &b, start, ld, span, tile_of);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&dst),
                        bits(&want),
                        "{m}x{k}x{n} {rs} {cs} {accumulate}"
                    );
                }
            }
        }
    }
}
