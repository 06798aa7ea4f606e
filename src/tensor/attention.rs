//! The fused scaled dot-product attention kernel on raw storage:
//! `softmax(scale · q kᵀ, mask) v` per (batch, head), forward and backward,
//! with the causal upper triangle skipped rather than computed and masked.
//!
//! Operands are read in place through a [`Heads`] layout, so the heads of a
//! `[batch, time, heads · d]` projection need no split copy. Queries are
//! taken in row blocks of [`BLOCK`]; under a causal mask a block only
//! multiplies the keys its last query may see, so about half of `q kᵀ` and
//! of `p v` (and of their gradients) is never computed. The probabilities
//! are kept block by block for the backward pass.
//!
//! The block products are register tiles of `tile_product`, not `gemm`
//! calls: at these sizes (a 32-query block against up to a few hundred
//! keys, heads of 32) `gemm`'s packing and set-up on each of the thousands
//! of calls a step cost about as much as the arithmetic. The tiles read
//! the projections' rows where they lie and write every head's rows of
//! the outputs and gradients in place, so no head is copied into or out of
//! a scratch matrix; only the keys (forward) and the values (backward) of
//! one head are transposed once, for the products with `kᵀ` and `vᵀ`.
//! Under a causal mask the products also skip, within a block, the keys a
//! band of queries cannot see (their probabilities are exact zeros).
//!
//! Work is split over batch entries on the thread pool; each task owns its
//! entry's rows of the outputs (large buffers of the buffer cache, reused
//! across steps without a zero fill since every element is written) and
//! runs the entry's heads in order. Each (batch, head) pair is computed by
//! the same code in the same order whatever the thread count, and every
//! sum runs in a fixed order, so results are bit-identical for any
//! [`num_threads`](crate::num_threads) and instruction set. This module
//! knows nothing of gradients on the tape.

use rayon::prelude::*;

use super::exp_kernel::exp_nonpositive;
use super::recycle;
use super::simd::{lane_dot, lane_max, lane_sum, widest};
use super::tile_product::tile_product;
use crate::element::{Float, MatRef};

/// Queries per row block: small enough that the causal staircase of blocks
/// skips most of the upper triangle, large enough for few passes over the
/// keys.
const BLOCK: usize = 32;

/// Where an operand's heads lie in its storage: element `(b, h, t, d)` is at
/// `b · batch + h · head + t · row + d`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heads {
    pub batch: usize,
    pub head: usize,
    pub row: usize,
}

impl Heads {
    /// The layout of a contiguous `[batch, time, heads · d]` tensor.
    pub(crate) fn merged(time: usize, heads: usize, d: usize) -> Self {
        Heads {
            batch: time * heads * d,
            head: d,
            row: heads * d,
        }
    }

    fn base(&self, b: usize, h: usize) -> usize {
        b * self.batch + h * self.head
    }
}

/// A keep mask over the last axis (`tk` entries a row, contiguous): row
/// `(b, i)` starts at `b · batch + i · row` (a stride of 0 broadcasts).
/// Non-zero means "attend".
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeepRows<'a, T> {
    pub data: &'a [T],
    pub batch: usize,
    pub row: usize,
}

/// The sizes and rules of one attention call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problem<'a, T> {
    pub batch: usize,
    pub heads: usize,
    /// Queries per batch entry.
    pub tq: usize,
    /// Keys (and values) per batch entry.
    pub tk: usize,
    /// Query and key size per head.
    pub dk: usize,
    /// Value size per head.
    pub dv: usize,
    pub scale: T,
    /// Query `i` attends key `j` only if `j <= i + tk - tq` (requires
    /// `tq <= tk`).
    pub causal: bool,
    pub mask: Option<KeepRows<'a, T>>,
}

/// One row block of queries: rows `r0..r1`, keys `0..cols`, probabilities
/// stored at `offset` as a contiguous `[r1 - r0, cols]` matrix.
#[derive(Clone, Copy, Debug)]
struct Block {
    r0: usize,
    r1: usize,
    cols: usize,
    offset: usize,
}

impl<T: Float> Problem<'_, T> {
    /// The row blocks and the number of stored probabilities per head.
    fn blocks(&self) -> (Vec<Block>, usize) {
        let mut blocks = Vec::with_capacity(self.tq.div_ceil(BLOCK));
        let mut offset = 0;
        let mut r0 = 0;
        while r0 < self.tq {
            let r1 = (r0 + BLOCK).min(self.tq);
            let cols = if self.causal {
                (r1 + self.tk - self.tq).min(self.tk)
            } else {
                self.tk
            };
            blocks.push(Block {
                r0,
                r1,
                cols,
                offset,
            });
            offset += (r1 - r0) * cols;
            r0 = r1;
        }
        (blocks, offset)
    }

    /// The first `cols` keys query `i` of batch entry `b` may see, and
    /// whether key `j` of them is kept by the mask.
    fn visible(&self, i: usize, cols: usize) -> usize {
        if self.causal {
            (i + 1 + self.tk - self.tq).min(cols)
        } else {
            cols
        }
    }

    /// The first query of the block starting at `r0`, counted from `r0`,
    /// that may see key `j` (0 without a causal mask).
    fn first_seeing(&self, j: usize, r0: usize) -> usize {
        if self.causal {
            (j + self.tq).saturating_sub(self.tk + r0)
        } else {
            0
        }
    }

    fn kept(&self, b: usize, i: usize) -> Option<&[T]> {
        self.mask.map(|m| {
            let start = b * m.batch + i * m.row;
            &m.data[start..start + self.tk]
        })
    }

    /// Runs `task(b, parts)` for every batch entry `b`, where `parts[i]` is
    /// entry `b`'s chunk of `outs[i]` (`per[i]` elements each), on the
    /// pool when more than one thread is allowed. Each entry is computed
    /// by the same code whatever the thread count.
    fn each_batch<const N: usize>(
        &self,
        outs: [&mut [T]; N],
        per: [usize; N],
        task: impl Fn(usize, [&mut [T]; N]) + Sync,
    ) {
        let mut rest = outs;
        let mut parts = Vec::with_capacity(self.batch);
        for b in 0..self.batch {
            let chunk: [&mut [T]; N] = std::array::from_fn(|i| {
                let (head, tail) = std::mem::take(&mut rest[i]).split_at_mut(per[i]);
                rest[i] = tail;
                head
            });
            parts.push((b, chunk));
        }
        // Each entry's loops compiled for the widest vector unit (same bits).
        let run = |(b, chunk): (usize, [&mut [T]; N])| {
            widest(
                #[inline(always)]
                || task(b, chunk),
            )
        };
        if crate::num_threads() > 1 && self.batch > 1 {
            crate::in_pool(|| parts.into_par_iter().for_each(run));
        } else {
            parts.into_iter().for_each(run);
        }
    }
}

/// A `[rows, cols]` view of one head's rows `r0..` in `data`.
fn rows_of<T>(
    data: &[T],
    layout: Heads,
    base: usize,
    r0: usize,
    rows: usize,
    cols: usize,
) -> MatRef<'_, T> {
    MatRef {
        data: &data[base + r0 * layout.row..],
        rows,
        cols,
        row_stride: layout.row,
        col_stride: 1,
    }
}

/// A `[rows, cols]` matrix with contiguous rows `row_stride` apart.
fn dense<T>(data: &[T], rows: usize, cols: usize, row_stride: usize) -> MatRef<'_, T> {
    MatRef {
        data,
        rows,
        cols,
        row_stride,
        col_stride: 1,
    }
}

/// The transpose of a `[cols, rows]` matrix with contiguous rows
/// `row_stride` apart: `[rows, cols]`.
fn transposed<T>(data: &[T], rows: usize, cols: usize, row_stride: usize) -> MatRef<'_, T> {
    MatRef {
        data,
        rows,
        cols,
        row_stride: 1,
        col_stride: row_stride,
    }
}

/// Writes one head's `[t, d]` rows (at `base` in `src`) transposed into
/// `dst` as a contiguous `[d, t]` matrix.
fn transpose_into<T: Copy>(
    dst: &mut [T],
    src: &[T],
    layout: Heads,
    base: usize,
    t: usize,
    d: usize,
) {
    for (j, row) in (0..t).map(|j| (j, &src[base + j * layout.row..][..d])) {
        for (c, &x) in row.iter().enumerate() {
            dst[c * t + j] = x;
        }
    }
}

/// The forward pass: the output `[batch, tq, heads · dv]` (merged heads) and
/// the probabilities kept for [`backward`].
///
/// Every index is in bounds when the slices hold the sizes `problem` and the
/// layouts describe (the caller checks the shapes). Both results are large
/// buffers of the buffer cache taken as they are: every element is written
/// here before it is read (each block's logits by its product, the keys a
/// query does not see by the softmax, every head's rows of the output).
pub(crate) fn forward<T: Float>(
    p: &Problem<'_, T>,
    q: (&[T], Heads),
    k: (&[T], Heads),
    v: (&[T], Heads),
) -> (Vec<T>, Probabilities<T>) {
    let (blocks, per_head) = p.blocks();
    let out_layout = Heads::merged(p.tq, p.heads, p.dv);
    let per_out = p.tq * p.heads * p.dv;
    let mut out = recycle::written(p.batch * per_out, T::zero());
    let mut probs = recycle::written(p.batch * p.heads * per_head, T::zero());
    p.each_batch(
        [&mut out, &mut probs],
        [per_out, p.heads * per_head],
        #[inline(always)]
        |b, [out_b, probs_b]| {
            // One head's keys transposed, `[dk, tk]`: the logits' right
            // operand with contiguous rows.
            let mut kt = vec![T::zero(); p.dk * p.tk];
            for (h, probs) in probs_b.chunks_mut(per_head.max(1)).enumerate() {
                let (qb, kb, vb) = (q.1.base(b, h), k.1.base(b, h), v.1.base(b, h));
                transpose_into(&mut kt, k.0, k.1, kb, p.tk, p.dk);
                for blk in &blocks {
                    let rows = blk.r1 - blk.r0;
                    let s = &mut probs[blk.offset..blk.offset + rows * blk.cols];
                    tile_product::<_, true>(
                        s,
                        blk.cols,
                        rows_of(q.0, q.1, qb, blk.r0, rows, p.dk),
                        dense(&kt, p.dk, blk.cols, p.tk),
                        false,
                        |_, _| (0, p.dk),
                    );
                    for (r, srow) in s.chunks_mut(blk.cols.max(1)).enumerate().take(rows) {
                        softmax_row(p, b, blk.r0 + r, srow);
                    }
                    let at = out_layout.base(0, h) + blk.r0 * out_layout.row;
                    tile_product::<_, true>(
                        &mut out_b[at..],
                        out_layout.row,
                        dense(s, rows, blk.cols, blk.cols),
                        rows_of(v.0, v.1, vb, 0, blk.cols, p.dv),
                        false,
                        // Keys past the band's last visible one have p = 0.
                        |_, i1| (0, p.visible(blk.r0 + i1 - 1, blk.cols)),
                    );
                }
            }
        },
    );
    (
        out,
        Probabilities {
            data: recycle::Buffer::new(probs),
        },
    )
}

/// In place: the scaled logits of query `i` over the row's keys become
/// probabilities, masked keys (and a row with no key left) zero.
#[inline(always)]
fn softmax_row<T: Float>(p: &Problem<'_, T>, b: usize, i: usize, row: &mut [T]) {
    let visible = p.visible(i, row.len());
    let keep = p.kept(b, i);
    if keep.is_none() {
        // No padding mask: keys `0..visible` are attended, the rest are
        // not. Straight loops the compiler vectorizes: the maximum and the
        // sum in eight lanes, `exp` of a non-positive argument as
        // arithmetic (`exp_nonpositive`).
        let (seen, hidden) = row.split_at_mut(visible);
        hidden.fill(T::zero());
        let scale = p.scale;
        let max = lane_max(seen, |s| s * scale);
        if max == T::neg_infinity() {
            seen.fill(T::zero());
            return;
        }
        for s in seen.iter_mut() {
            *s = exp_nonpositive(*s * scale - max);
        }
        let inv = T::one() / lane_sum(seen, |v| v);
        for s in seen.iter_mut() {
            *s *= inv;
        }
        return;
    }
    let allowed = |j: usize| keep.is_none_or(|m| m[j] != T::zero());
    let mut max = T::neg_infinity();
    for (j, &s) in row[..visible].iter().enumerate() {
        if allowed(j) {
            max = max.max(s * p.scale);
        }
    }
    if max == T::neg_infinity() {
        row.fill(T::zero());
        return;
    }
    let mut sum = T::zero();
    for (j, s) in row.iter_mut().enumerate() {
        *s = if j < visible && allowed(j) {
            (*s * p.scale - max).exp()
        } else {
            T::zero()
        };
        sum += *s;
    }
    let inv = T::one() / sum;
    for s in row.iter_mut() {
        *s *= inv;
    }
}

/// The attention probabilities of every (batch, head) pair, in the row
/// block layout of the forward pass: pair `b · heads + h` at
/// `data[pair · per_head..]` (`per_head` from [`Problem::blocks`]).
pub(crate) struct Probabilities<T: 'static> {
    data: super::recycle::Buffer<T>,
}

/// The backward pass: given the output gradient `g` (merged heads, as the
/// forward output), the gradients of `q`, `k` and `v`, each in the merged
/// `[batch, t, heads · d]` layout.
///
/// With `y = p v` and `p = softmax(scale · s)`: `dv = pᵀ g`, `dp = g vᵀ`,
/// `ds = scale · p ⊙ (dp - rowsum(p ⊙ dp))`, `dq = ds k`, `dk = dsᵀ q`.
/// Masked keys have `p = 0`, so they get no gradient.
pub(crate) fn backward<T: Float>(
    p: &Problem<'_, T>,
    probs: &Probabilities<T>,
    g: &[T],
    q: (&[T], Heads),
    k: (&[T], Heads),
    v: (&[T], Heads),
) -> [Vec<T>; 3] {
    let (blocks, per_head) = p.blocks();
    let g_layout = Heads::merged(p.tq, p.heads, p.dv);
    let widest = blocks
        .iter()
        .map(|b| (b.r1 - b.r0) * b.cols)
        .max()
        .unwrap_or(0);
    let lq = Heads::merged(p.tq, p.heads, p.dk);
    let lk = Heads::merged(p.tk, p.heads, p.dk);
    let lv = Heads::merged(p.tk, p.heads, p.dv);
    let per = [
        p.tq * p.heads * p.dk,
        p.tk * p.heads * p.dk,
        p.tk * p.heads * p.dv,
    ];
    // Every element is written below (each head's rows of each gradient).
    let [mut gq, mut gk, mut gv] = per.map(|n| recycle::written(p.batch * n, T::zero()));
    p.each_batch(
        [&mut gq, &mut gk, &mut gv],
        per,
        #[inline(always)]
        |b, [gq_b, gk_b, gv_b]| {
            // One head's values transposed, `[dv, tk]`, and one block's `ds`.
            let mut vt = vec![T::zero(); p.dv * p.tk];
            let mut ds = vec![T::zero(); widest];
            for h in 0..p.heads {
                let (qb, kb, vb, gb) = (
                    q.1.base(b, h),
                    k.1.base(b, h),
                    v.1.base(b, h),
                    g_layout.base(b, h),
                );
                let pair = b * p.heads + h;
                let probs = &probs.data[pair * per_head..(pair + 1) * per_head];
                transpose_into(&mut vt, v.0, v.1, vb, p.tk, p.dv);
                let (dq_at, dk_at, dv_at) = (lq.base(0, h), lk.base(0, h), lv.base(0, h));
                // Keys `0..done` already hold a sum from an earlier block;
                // a block adds to those and writes the rest of its keys.
                let mut done = 0;
                for blk in &blocks {
                    let (rows, cols) = (blk.r1 - blk.r0, blk.cols);
                    let pb = &probs[blk.offset..blk.offset + rows * cols];
                    let gr = rows_of(g, g_layout, gb, blk.r0, rows, p.dv);
                    let ds = &mut ds[..rows * cols];
                    // dv += pᵀ g and dk += dsᵀ q over this block's queries.
                    key_grad(p, blk, done, (gv_b, dv_at, lv.row), pb, gr);
                    tile_product::<_, true>(
                        ds,
                        cols,
                        gr,
                        dense(&vt, p.dv, cols, p.tk),
                        false,
                        |_, _| (0, p.dv),
                    );
                    for (dsr, pr) in ds.chunks_mut(cols.max(1)).zip(pb.chunks(cols.max(1))) {
                        let dot = lane_dot(dsr, pr);
                        for (d, &pv) in dsr.iter_mut().zip(pr) {
                            *d = p.scale * pv * (*d - dot);
                        }
                    }
                    tile_product::<_, true>(
                        &mut gq_b[dq_at + blk.r0 * lq.row..],
                        lq.row,
                        dense(ds, rows, cols, cols),
                        rows_of(k.0, k.1, kb, 0, cols, p.dk),
                        false,
                        |_, i1| (0, p.visible(blk.r0 + i1 - 1, cols)),
                    );
                    let qr = rows_of(q.0, q.1, qb, blk.r0, rows, p.dk);
                    key_grad(p, blk, done, (gk_b, dk_at, lk.row), ds, qr);
                    done = done.max(cols);
                }
                // Keys no query sees (none without queries) get no gradient.
                for j in done..p.tk {
                    gk_b[dk_at + j * lk.row..][..p.dk].fill(T::zero());
                    gv_b[dv_at + j * lv.row..][..p.dv].fill(T::zero());
                }
            }
        },
    );
    [gq, gk, gv]
}

/// A key-side gradient of one block, `dst += tᵀ rhs` for the block's keys
/// (`t` its `[rows, cols]` probabilities or `ds`, `rhs` its queries' rows):
/// keys `0..done` already hold a sum from an earlier block and get this
/// block's terms added; keys `done..cols` are written.
#[inline(always)]
fn key_grad<T: Float>(
    p: &Problem<'_, T>,
    blk: &Block,
    done: usize,
    (dst, at, ld): (&mut [T], usize, usize),
    t: &[T],
    rhs: MatRef<'_, T>,
) {
    let (rows, cols) = (blk.r1 - blk.r0, blk.cols);
    for (j0, j1, accumulate) in [(0, done, true), (done, cols, false)] {
        if j0 == j1 {
            continue;
        }
        tile_product::<_, false>(
            &mut dst[at + j0 * ld..],
            ld,
            transposed(&t[j0..], j1 - j0, rows, cols),
            rhs,
            accumulate,
            // Queries before the first that sees key `j0 + i0` have p = 0
            // there.
            |i0, _| (p.first_seeing(j0 + i0, blk.r0).min(rows), rows),
        );
    }
}
