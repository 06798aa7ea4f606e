//! Convolution lowered onto GEMM, chunk by chunk of whole images
//! (crate-internal): the forward product and, in one sweep, the input,
//! kernel and bias gradients of a 2-D convolution on NHWC data with an
//! HWIO kernel.
//!
//! The batch is cut into chunks of whole images whose size depends only on
//! the geometry ([`chunk_images`]), never on the thread count. Each chunk
//! unrolls its patches (`im2col`) into a scratch buffer that stays in cache
//! and multiplies them at once; chunks run in parallel on the pool when
//! more than one thread is allowed ([`crate::set_num_threads`]). The
//! forward pass keeps no columns: the backward pass unrolls each chunk
//! again (a copy, cheap next to the product) rather than writing and
//! reading back a column matrix `kh·kw` times the input's size. Every output
//! element is computed by the same code in the same order whatever the
//! thread count, and the kernel and bias gradients (sums over the batch)
//! are summed over fixed runs of consecutive chunks, then the runs' partial
//! sums are added in order, so 1 and 2 threads give the same bits.
//!
//! A 1×1 convolution with stride 1, no padding and one group is a plain
//! matrix product of the input: it skips `im2col` and `col2im`.

use rayon::prelude::*;

use super::conv::{Conv2dGeometry, col2im_add, im2col};
use super::recycle::{self, Buffer};
use super::{try_alloc, try_filled};
use crate::element::{Float, MatRef, gemm, num_threads};
use crate::error::{Error, Result};

/// Rows of the column matrix (output pixels) a chunk aims at at most: a
/// few thousand gives a batch of 32-64 images tens of chunks to share
/// between threads.
const CHUNK_ROWS: usize = 2048;

/// Elements of one chunk's column matrix aimed at at most (1 MiB of `f32`,
/// the size of a core's second-level cache on the machine of
/// `docs/performance.md`): the unrolled patches are multiplied while they
/// are still in cache. At least one image per chunk whatever its size.
const CHUNK_COLS: usize = 1 << 18;

/// Images per chunk for `g` (at least 1): fixed by the geometry alone.
pub(crate) fn chunk_images(g: &Conv2dGeometry) -> usize {
    let per_image = (g.h.output * g.w.output).max(1);
    let by_rows = CHUNK_ROWS / per_image;
    let by_cols = CHUNK_COLS / per_image.saturating_mul(g.group_cols()).max(1);
    by_rows.min(by_cols).clamp(1, g.batch.max(1))
}

/// Whether the convolution is the plain product `x · w` of the input seen
/// as a `[batch·h·w, channels]` matrix: a 1×1 kernel, stride 1, no padding,
/// one group.
pub(crate) fn is_pointwise(g: &Conv2dGeometry) -> bool {
    g.h.kernel == 1
        && g.w.kernel == 1
        && g.h.stride == 1
        && g.w.stride == 1
        && g.h.pad_before == 0
        && g.w.pad_before == 0
        && g.groups == 1
}

/// Runs `f` on every task, in parallel on the pool when more than one
/// thread is allowed (at most that many pieces), and returns the results in
/// task order.
pub(crate) fn run_tasks<W: Send, R: Send>(
    tasks: Vec<W>,
    f: impl Fn(W) -> R + Sync + Send,
) -> Vec<R> {
    let threads = num_threads();
    if threads > 1 && tasks.len() > 1 {
        let per_piece = tasks.len().div_ceil(threads);
        tasks
            .into_par_iter()
            .with_min_len(per_piece)
            .map(f)
            .collect()
    } else {
        tasks.into_iter().map(f).collect()
    }
}

/// As [`run_tasks`], with a scratch value made by `init` once per piece of
/// work (once in all on one thread) and lent to each of its tasks in turn.
pub(crate) fn run_tasks_with<W: Send, R: Send, S>(
    tasks: Vec<W>,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, W) -> R + Sync + Send,
) -> Vec<R> {
    let threads = num_threads();
    if threads > 1 && tasks.len() > 1 {
        let per_piece = tasks.len().div_ceil(threads);
        tasks
            .into_par_iter()
            .with_min_len(per_piece)
            .map_init(init, f)
            .collect()
    } else {
        let mut scratch = init();
        tasks.into_iter().map(|w| f(&mut scratch, w)).collect()
    }
}

/// A row-major `[rows, cols]` block of a wider row-major matrix whose rows
/// are `stride` long, starting at column `col0`.
fn block<T>(data: &[T], rows: usize, cols: usize, stride: usize, col0: usize) -> MatRef<'_, T> {
    MatRef {
        data: &data[col0.min(data.len())..],
        rows,
        cols,
        row_stride: stride,
        col_stride: 1,
    }
}

/// The transpose of [`block`].
fn block_t<T>(data: &[T], rows: usize, cols: usize, stride: usize, col0: usize) -> MatRef<'_, T> {
    MatRef {
        data: &data[col0.min(data.len())..],
        rows: cols,
        cols: rows,
        row_stride: 1,
        col_stride: stride,
    }
}

/// Copies a contiguous `[rows, width]` matrix into columns `col0..` of a
/// row-major matrix whose rows are `stride` long.
fn scatter_cols<T: Copy>(src: &[T], width: usize, dst: &mut [T], stride: usize, col0: usize) {
    if width == 0 {
        return;
    }
    for (s, d) in src.chunks_exact(width).zip(dst.chunks_exact_mut(stride)) {
        d[col0..col0 + width].copy_from_slice(s);
    }
}

/// Adds a contiguous `[rows, width]` matrix onto columns `col0..` of a
/// row-major matrix whose rows are `stride` long.
fn scatter_add_cols<T: Float>(src: &[T], width: usize, dst: &mut [T], stride: usize, col0: usize) {
    if width == 0 {
        return;
    }
    for (s, d) in src.chunks_exact(width).zip(dst.chunks_exact_mut(stride)) {
        for (d, &v) in d[col0..col0 + width].iter_mut().zip(s) {
            *d += v;
        }
    }
}

/// Adds `bias` to every `bias.len()`-long row of `y`.
fn add_rows<T: Float>(y: &mut [T], bias: &[T]) {
    if bias.is_empty() {
        return;
    }
    for row in y.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// Adds every `acc.len()`-long row of `rows` onto `acc`.
fn sum_rows<T: Float>(rows: &[T], acc: &mut [T]) {
    if acc.is_empty() {
        return;
    }
    for row in rows.chunks_exact(acc.len()) {
        for (d, &v) in acc.iter_mut().zip(row) {
            *d += v;
        }
    }
}

/// Kernel-gradient partial sums of the backward pass at most: each sums a
/// run of consecutive chunks (its products accumulate into it, no zeroed
/// partial per chunk and no addition pass per chunk); enough runs to share
/// between two threads evenly.
const PARTIALS: usize = 8;

/// Chunk lengths (in elements) of the per-image arrays of a convolution.
struct Sizes {
    /// Images per chunk.
    images: usize,
    /// Input elements per image.
    image_in: usize,
    /// Output rows (pixels) per image.
    image_rows: usize,
}

impl Sizes {
    fn of(g: &Conv2dGeometry) -> Self {
        Sizes {
            images: chunk_images(g),
            image_in: g.h.input * g.w.input * g.channels,
            image_rows: g.h.output * g.w.output,
        }
    }

    /// The number of chunks.
    fn count(&self, g: &Conv2dGeometry) -> usize {
        g.batch.div_ceil(self.images)
    }

    /// Images in chunk `i`.
    fn images_in(&self, g: &Conv2dGeometry, i: usize) -> usize {
        self.images.min(g.batch - i * self.images)
    }

    /// The elements of one chunk's column matrix (one group's).
    fn cols(&self, g: &Conv2dGeometry) -> usize {
        self.images * self.image_rows * g.group_cols()
    }

    /// Chunk `i`'s geometry (its images only) and its input.
    fn chunk<'a, T>(&self, g: &Conv2dGeometry, i: usize, x: &'a [T]) -> (Conv2dGeometry, &'a [T]) {
        let images = self.images_in(g, i);
        let x0 = i * self.images * self.image_in;
        let sg = Conv2dGeometry {
            batch: images,
            ..*g
        };
        (sg, &x[x0..x0 + images * self.image_in])
    }
}

/// A scratch buffer of `len` elements for one piece of work of the
/// backward pass, allocated through the crate's fallible allocation. The
/// tape's backward closures cannot return an error, so a refusal panics
/// (the plain allocation this replaced aborted); the forward pass of the
/// same convolution allocated scratch of the same size, and `d x` has the
/// length of the input it already holds.
fn scratch<T: Float>(op: &'static str, len: usize) -> Buffer<T> {
    Buffer::new(try_filled(op, &[len], T::zero()).unwrap_or_else(|e| panic!("{e} (backward pass)")))
}

/// A scratch buffer of the forward pass, or `None` when the allocator
/// refuses it (the forward pass then returns [`out_of_memory`]).
fn try_scratch<T: Float>(op: &'static str, len: usize) -> Option<Buffer<T>> {
    try_filled(op, &[len], T::zero()).ok().map(Buffer::new)
}

/// The error of a refused scratch buffer of `shape`.
fn out_of_memory<T>(op: &'static str, shape: Vec<usize>) -> Error {
    let bytes = shape
        .iter()
        .fold(std::mem::size_of::<T>(), |a, &d| a.saturating_mul(d));
    Error::OutOfMemory { op, shape, bytes }
}

/// `y = conv(x, w) + bias`: the direct kernel
/// ([`conv_direct`](super::conv_direct)) where it applies, else the GEMM
/// lowering ([`forward_gemm`]).
pub(crate) fn forward<T: Float>(
    op: &'static str,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
) -> Result<Vec<T>> {
    if super::conv_direct::applies::<T>(g) {
        return super::conv_direct::forward(op, x, w, bias, g);
    }
    forward_gemm(op, x, w, bias, g)
}

/// `y = conv(x, w) + bias` lowered onto GEMM. The output and the scratch
/// buffers are allocated fallibly (errors name `op`); each chunk's product
/// overwrites its rows, and the bias is added to them while they are in
/// cache.
pub(crate) fn forward_gemm<T: Float>(
    op: &'static str,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
) -> Result<Vec<T>> {
    let (kg, cg, f) = (g.group_cols(), g.group_filters(), g.filters);
    let s = Sizes::of(g);
    let pointwise = is_pointwise(g);
    let shape = g.output_shape();
    let y_chunk = (s.images * s.image_rows * f).max(1);
    let cols_len = if pointwise { 0 } else { s.cols(g) };
    let tmp_len = if g.groups > 1 {
        s.images * s.image_rows * cg
    } else {
        0
    };
    let init = || {
        (
            try_scratch::<T>(op, cols_len),
            try_scratch::<T>(op, tmp_len),
        )
    };
    let body = |(cols, tmp): &mut (Option<Buffer<T>>, Option<Buffer<T>>),
                (i, y_c): (usize, &mut [T])| {
        let (Some(cols), Some(tmp)) = (cols, tmp) else {
            return false;
        };
        let (sg, x_c) = s.chunk(g, i, x);
        let m = sg.rows();
        if pointwise {
            gemm(y_c, block(x_c, m, kg, kg, 0), block(w, kg, f, f, 0), false);
        }
        for group in (0..g.groups).filter(|_| !pointwise) {
            let c = &mut cols[..m * kg];
            im2col(x_c, &sg, group, c);
            let lhs = block(c, m, kg, kg, 0);
            let rhs = block(w, kg, cg, f, group * cg);
            if g.groups == 1 {
                gemm(y_c, lhs, rhs, false);
            } else {
                gemm(&mut tmp[..m * cg], lhs, rhs, false);
                scatter_cols(&tmp[..m * cg], cg, y_c, f, group * cg);
            }
        }
        // The bias is added while the chunk's rows are still in cache.
        if let Some(b) = bias {
            add_rows(y_c, b);
        }
        true
    };
    let oom = || out_of_memory::<T>(op, vec![s.images * s.image_rows, kg]);
    let split = num_threads() > 1 && s.count(g) > 1;
    written_output(op, &shape, y_chunk, split, init, body)?.ok_or_else(oom)
}

/// A convolution's output of `shape`, written chunk by chunk (`chunk`
/// elements each, the last shorter) by `body`, which must write every
/// element of its chunk before anything reads it. `Ok(None)` when a
/// `body` returned `false`.
///
/// A kept buffer of the cache serves as it is, with no fill (every element
/// is overwritten); the chunks then run on the pool, as they do when
/// `split`. Otherwise (one thread, no kept buffer: a first step) the output
/// grows chunk by chunk, each zeroed just before `body` overwrites it,
/// while it is in cache, rather than the whole output zeroed first and
/// written again later.
pub(crate) fn written_output<T: Float, S>(
    op: &'static str,
    shape: &[usize],
    chunk: usize,
    split: bool,
    init: impl Fn() -> S + Sync + Send,
    body: impl Fn(&mut S, (usize, &mut [T])) -> bool + Sync + Send,
) -> Result<Option<Vec<T>>> {
    let total = super::checked_numel::<T>(op, shape)?;
    let chunk = chunk.max(1);
    let kept = recycle::take_written_counted::<T>(total);
    if kept.is_some() || split {
        let mut y = match kept {
            Some(mut y) => {
                y.truncate(total);
                // Only when the kept vector was released shorter.
                y.resize(total, T::zero());
                y
            }
            None => try_filled(op, shape, T::zero())?,
        };
        let tasks: Vec<_> = y.chunks_mut(chunk).enumerate().collect();
        let ok = run_tasks_with(tasks, init, body).into_iter().all(|ok| ok);
        return Ok(ok.then_some(y));
    }
    let mut y = try_alloc::<T>(op, shape)?;
    let mut scratch = init();
    let mut i = 0;
    while y.len() < total {
        let start = y.len();
        y.resize(start + chunk.min(total - start), T::zero());
        if !body(&mut scratch, (i, &mut y[start..])) {
            return Ok(None);
        }
        i += 1;
    }
    Ok(Some(y))
}

/// The gradients of a convolution that the tape asks for.
pub(crate) struct Grads<T> {
    /// `d x = col2im(g · wᵀ)`, in `x`'s layout.
    pub dx: Option<Vec<T>>,
    /// `d w = colsᵀ · g`, in the kernel's `[kg, filters]` layout.
    pub dw: Option<Vec<T>>,
    /// `d bias = Σ g` over every output row.
    pub db: Option<Vec<T>>,
}

/// Which gradients [`backward`] computes.
#[derive(Clone, Copy)]
pub(crate) struct Needs {
    pub dx: bool,
    pub dw: bool,
    pub db: bool,
}

/// The gradients `needs` asks for, in one sweep over the chunks: each
/// chunk unrolls its patches again and adds `colsᵀ · g` to its run's
/// kernel-gradient partial (the product accumulates in place), adds its
/// rows of `g` to the run's bias-gradient partial while they are in cache,
/// then writes `g · wᵀ` into the same scratch and folds it back into its
/// own images of `d x`. The runs of chunks ([`PARTIALS`]) are fixed by the
/// chunk count and their partials are added in run order, so the thread
/// count never changes a bit.
pub(crate) fn backward<T: Float>(
    op: &'static str,
    gy: &[T],
    x: &[T],
    w: &[T],
    g: &Conv2dGeometry,
    needs: Needs,
) -> Grads<T> {
    let (kg, cg, f) = (g.group_cols(), g.group_filters(), g.filters);
    let s = Sizes::of(g);
    let pointwise = is_pointwise(g);
    let n = s.count(g);
    let mut dx = needs
        .dx
        .then(|| scratch::<T>(op, g.batch * s.image_in).into_inner());
    let mut dx_chunks: Vec<&mut [T]> = match &mut dx {
        Some(dx) => dx.chunks_mut((s.images * s.image_in).max(1)).collect(),
        None => Vec::new(),
    };
    dx_chunks.resize_with(n, || &mut [][..]);
    let gy_chunk = (s.images * s.image_rows * f).max(1);
    let chunks: Vec<_> = dx_chunks
        .into_iter()
        .zip(gy.chunks(gy_chunk))
        .enumerate()
        .collect();
    // Consecutive chunks share one kernel-gradient partial, accumulated
    // by the products themselves: the groups depend on the chunk count
    // only, never on the thread count, so the sums keep their order.
    let per_group = n.div_ceil(PARTIALS).max(1);
    let mut tasks: Vec<Vec<_>> = Vec::with_capacity(PARTIALS);
    for (i, chunk) in chunks.into_iter().enumerate() {
        if i % per_group == 0 {
            tasks.push(Vec::with_capacity(per_group));
        }
        if let Some(group) = tasks.last_mut() {
            group.push(chunk);
        }
    }
    let cols_len = if pointwise || !(needs.dx || needs.dw) {
        0
    } else {
        s.cols(g)
    };
    let tmp_len = if g.groups > 1 && needs.dw { kg * cg } else { 0 };
    let partials = run_tasks_with(
        tasks,
        || (scratch::<T>(op, cols_len), scratch::<T>(op, tmp_len)),
        |(cols, tmp), group_chunks| {
            // Products overwrite the partial on a run's first chunk and
            // add to it after; the grouped-convolution path adds its
            // per-group products to the zeroed partial.
            let mut dw = needs.dw.then(|| recycle::filled(kg * f, T::zero()));
            let mut db = needs.db.then(|| vec![T::zero(); f]);
            for (j, (i, (dx_c, gy_c))) in group_chunks.into_iter().enumerate() {
                let (sg, x_c) = s.chunk(g, i, x);
                let m = sg.rows();
                let add = j > 0;
                if let Some(dw) = &mut dw {
                    if pointwise {
                        gemm(dw, block_t(x_c, m, kg, kg, 0), block(gy_c, m, f, f, 0), add);
                    }
                    for group in (0..g.groups).filter(|_| !pointwise) {
                        let c = &mut cols[..m * kg];
                        im2col(x_c, &sg, group, c);
                        let lhs = block_t(c, m, kg, kg, 0);
                        let rhs = block(gy_c, m, cg, f, group * cg);
                        if g.groups == 1 {
                            gemm(dw, lhs, rhs, add);
                        } else {
                            gemm(tmp, lhs, rhs, false);
                            scatter_add_cols(tmp, cg, dw, f, group * cg);
                        }
                    }
                }
                if let Some(db) = &mut db {
                    sum_rows(gy_c, db);
                }
                if needs.dx {
                    let wt = |group: usize| block_t(w, kg, cg, f, group * cg);
                    if pointwise {
                        gemm(dx_c, block(gy_c, m, f, f, 0), wt(0), false);
                    }
                    for group in (0..g.groups).filter(|_| !pointwise) {
                        // The product overwrites the scratch: no clearing.
                        let dcols = &mut cols[..m * kg];
                        gemm(dcols, block(gy_c, m, cg, f, group * cg), wt(group), false);
                        col2im_add(dcols, &sg, group, dx_c);
                    }
                }
            }
            (dw, db)
        },
    );
    let mut dw: Option<Vec<T>> = None;
    let mut db: Option<Vec<T>> = None;
    for (pw, pb) in partials {
        for (acc, part) in [(&mut dw, pw), (&mut db, pb)] {
            let Some(part) = part else { continue };
            match acc {
                // The first group's partial becomes the sum.
                None => *acc = Some(part),
                Some(acc) => {
                    for (d, v) in acc.iter_mut().zip(&part) {
                        *d += *v;
                    }
                    recycle::give_back(part);
                }
            }
        }
    }
    // No chunks (an empty batch): the gradients are zero.
    let dw = needs
        .dw
        .then(|| dw.unwrap_or_else(|| recycle::filled(kg * f, T::zero())));
    let db = needs.db.then(|| db.unwrap_or_else(|| vec![T::zero(); f]));
    Grads { dx, dw, db }
}
