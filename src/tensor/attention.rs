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
//! Work is split over batch entries on the thread pool; each task owns its
//! entry's rows of the outputs (large buffers of the buffer cache, reused
//! across steps without a zero fill since every element is written) and
//! runs the entry's heads in order. Each (batch, head) pair is computed by
//! the same code in the same order whatever the thread count,
//! and the strided GEMM splits only output blocks, so results are
//! bit-identical for any [`num_threads`](crate::num_threads). This module
//! knows nothing of gradients on the tape.

use rayon::prelude::*;

use super::exp_kernel::exp_nonpositive;
use super::recycle;
use super::simd::{lane_dot, lane_max, lane_sum, widest};
use crate::element::{Float, MatRef, gemm};

/// Queries per row block: small enough that the causal staircase of blocks
/// skips most of the upper triangle, large enough to keep GEMM efficient.
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

/// The transpose of [`rows_of`]: `[cols, rows]`.
fn rows_of_t<T>(data: &[T], layout: Heads, base: usize, rows: usize, cols: usize) -> MatRef<'_, T> {
    MatRef {
        data: &data[base..],
        rows: cols,
        cols: rows,
        row_stride: 1,
        col_stride: layout.row,
    }
}

/// A contiguous `[rows, cols]` matrix, or its transpose.
fn dense<T>(data: &[T], rows: usize, cols: usize, transposed: bool) -> MatRef<'_, T> {
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

/// Writes one head's contiguous `[t, d]` rows into a merged
/// `[batch, t, heads · d]` buffer.
fn scatter<T: Copy>(dst: &mut [T], layout: Heads, base: usize, src: &[T], d: usize) {
    for (t, row) in src.chunks(d.max(1)).enumerate() {
        let start = base + t * layout.row;
        dst[start..start + d].copy_from_slice(&row[..d]);
    }
}

/// The forward pass: the output `[batch, tq, heads · dv]` (merged heads) and
/// the probabilities kept for [`backward`].
///
/// Every index is in bounds when the slices hold the sizes `problem` and the
/// layouts describe (the caller checks the shapes). Both results are large
/// buffers of the buffer cache taken as they are: every element is written
/// here before it is read (each block's logits by `gemm`, the keys a query
/// does not see by the softmax, every head's rows of the output).
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
            // One head's `[tq, dv]` output, then copied into its columns.
            let mut o = vec![T::zero(); p.tq * p.dv];
            for (h, probs) in probs_b.chunks_mut(per_head.max(1)).enumerate() {
                let (qb, kb, vb) = (q.1.base(b, h), k.1.base(b, h), v.1.base(b, h));
                for blk in &blocks {
                    let rows = blk.r1 - blk.r0;
                    let s = &mut probs[blk.offset..blk.offset + rows * blk.cols];
                    gemm(
                        s,
                        rows_of(q.0, q.1, qb, blk.r0, rows, p.dk),
                        rows_of_t(k.0, k.1, kb, blk.cols, p.dk),
                        false,
                    );
                    for (r, srow) in s.chunks_mut(blk.cols.max(1)).enumerate().take(rows) {
                        softmax_row(p, b, blk.r0 + r, srow);
                    }
                    gemm(
                        &mut o[blk.r0 * p.dv..blk.r1 * p.dv],
                        dense(s, rows, blk.cols, false),
                        rows_of(v.0, v.1, vb, 0, blk.cols, p.dv),
                        false,
                    );
                }
                scatter(out_b, out_layout, out_layout.base(0, h), &o, p.dv);
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
            // One head's gradients, then copied into their columns.
            let mut dq = vec![T::zero(); p.tq * p.dk];
            let mut dk = vec![T::zero(); p.tk * p.dk];
            let mut dv = vec![T::zero(); p.tk * p.dv];
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
                // `dk` and `dv` accumulate over the blocks; every block
                // writes its own rows of `dq`.
                dk.fill(T::zero());
                dv.fill(T::zero());
                for blk in &blocks {
                    let (rows, cols) = (blk.r1 - blk.r0, blk.cols);
                    let pb = &probs[blk.offset..blk.offset + rows * cols];
                    let gr = rows_of(g, g_layout, gb, blk.r0, rows, p.dv);
                    let ds = &mut ds[..rows * cols];
                    gemm(
                        &mut dv[..cols * p.dv],
                        dense(pb, rows, cols, true),
                        gr,
                        true,
                    );
                    gemm(ds, gr, rows_of_t(v.0, v.1, vb, cols, p.dv), false);
                    for (dsr, pr) in ds.chunks_mut(cols.max(1)).zip(pb.chunks(cols.max(1))) {
                        let dot = lane_dot(dsr, pr);
                        for (d, &pv) in dsr.iter_mut().zip(pr) {
                            *d = p.scale * pv * (*d - dot);
                        }
                    }
                    gemm(
                        &mut dq[blk.r0 * p.dk..blk.r1 * p.dk],
                        dense(ds, rows, cols, false),
                        rows_of(k.0, k.1, kb, 0, cols, p.dk),
                        false,
                    );
                    gemm(
                        &mut dk[..cols * p.dk],
                        dense(ds, rows, cols, true),
                        rows_of(q.0, q.1, qb, blk.r0, rows, p.dk),
                        true,
                    );
                }
                scatter(gq_b, lq, lq.base(0, h), &dq, p.dk);
                scatter(gk_b, lk, lk.base(0, h), &dk, p.dk);
                scatter(gv_b, lv, lv.base(0, h), &dv, p.dv);
            }
        },
    );
    [gq, gk, gv]
}
