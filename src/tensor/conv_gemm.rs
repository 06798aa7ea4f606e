//! Convolution lowered onto GEMM, chunk by chunk of whole images
//! (crate-internal): the forward product, the input gradient and the
//! kernel gradient of a 2-D convolution on NHWC data with an HWIO kernel.
//!
//! The batch is cut into chunks of whole images whose size depends only on
//! the geometry ([`chunk_images`]), never on the thread count. Each chunk
//! unrolls its patches (`im2col`) and multiplies them while they are still
//! in cache; chunks run in parallel on the pool when more than one thread
//! is allowed ([`crate::set_num_threads`]). Every output element is computed
//! by the same code in the same order whatever the thread count, and the
//! kernel gradient (a sum over the batch) adds the chunks' partial sums in
//! chunk order, so 1 and 2 threads give the same bits.
//!
//! A 1×1 convolution with stride 1, no padding and one group is a plain
//! matrix product of the input: it skips `im2col` and `col2im`.

use rayon::prelude::*;

use super::conv::{Conv2dGeometry, col2im_add, im2col};
use super::try_filled;
use crate::element::{Float, MatRef, gemm, num_threads};
use crate::error::Result;

/// Rows of the column matrix (output pixels) a chunk aims at: a few
/// thousand keeps a chunk's columns (`rows × kh·kw·channels`) within the
/// second-level cache for the small channel counts of image models, and
/// gives a batch of 32-64 images tens of chunks to share between threads.
const CHUNK_ROWS: usize = 2048;

/// Images per chunk for `g` (at least 1): fixed by the geometry alone.
pub(crate) fn chunk_images(g: &Conv2dGeometry) -> usize {
    let per_image = (g.h.output * g.w.output).max(1);
    (CHUNK_ROWS / per_image).clamp(1, g.batch.max(1))
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
}

/// The elements the column matrices of `g` take when kept for the
/// backward pass (0 for a pointwise convolution, which reads the input).
pub(crate) fn kept_cols_len(g: &Conv2dGeometry) -> usize {
    if is_pointwise(g) {
        0
    } else {
        g.groups * g.rows() * g.group_cols()
    }
}

/// `y = conv(x, w) + bias`, and the column matrices when `keep_cols` (in
/// chunk order, each chunk `[groups, rows, group_cols]`), for
/// [`kernel_grad`]. A pointwise convolution keeps nothing: its columns are
/// `x`. The two large buffers are allocated fallibly (errors name `op`).
pub(crate) fn forward<T: Float>(
    op: &'static str,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
    keep_cols: bool,
) -> Result<(Vec<T>, Vec<T>)> {
    let (kg, cg, f) = (g.group_cols(), g.group_filters(), g.filters);
    let s = Sizes::of(g);
    let pointwise = is_pointwise(g);
    let keep = keep_cols && !pointwise;
    let mut y = try_filled(op, &g.output_shape(), T::zero())?;
    let mut cols = try_filled(op, &[if keep { kept_cols_len(g) } else { 0 }], T::zero())?;
    let y_chunk = s.images * s.image_rows * f;
    let cols_chunk = s.images * s.image_rows * g.groups * kg;
    let n = s.count(g);
    let mut col_chunks: Vec<&mut [T]> = if keep {
        cols.chunks_mut(cols_chunk.max(1)).collect()
    } else {
        (0..n).map(|_| &mut [][..]).collect()
    };
    col_chunks.resize_with(n, || &mut [][..]);
    let tasks: Vec<_> = y
        .chunks_mut(y_chunk.max(1))
        .zip(col_chunks)
        .enumerate()
        .collect();
    run_tasks(tasks, |(i, (y_c, cols_c))| {
        let images = s.images_in(g, i);
        let sg = Conv2dGeometry {
            batch: images,
            ..*g
        };
        let m = images * s.image_rows;
        let x0 = i * s.images * s.image_in;
        let x_c = &x[x0..x0 + images * s.image_in];
        let fused_bias = bias.filter(|_| g.groups == 1);
        if let Some(b) = fused_bias {
            for row in y_c.chunks_exact_mut(f.max(1)) {
                row.copy_from_slice(b);
            }
        }
        let acc = fused_bias.is_some();
        if pointwise {
            gemm(y_c, block(x_c, m, kg, kg, 0), block(w, kg, f, f, 0), acc);
            return;
        }
        let mut scratch = if cols_c.is_empty() {
            vec![T::zero(); m * kg]
        } else {
            Vec::new()
        };
        let mut tmp = vec![T::zero(); if g.groups > 1 { m * cg } else { 0 }];
        for group in 0..g.groups {
            let c: &mut [T] = if cols_c.is_empty() {
                &mut scratch
            } else {
                &mut cols_c[group * m * kg..(group + 1) * m * kg]
            };
            im2col(x_c, &sg, group, c);
            let lhs = block(c, m, kg, kg, 0);
            let rhs = block(w, kg, cg, f, group * cg);
            if g.groups == 1 {
                gemm(y_c, lhs, rhs, acc);
            } else {
                gemm(&mut tmp, lhs, rhs, false);
                scatter_cols(&tmp, cg, y_c, f, group * cg);
            }
        }
        if let (true, Some(b)) = (g.groups > 1, bias) {
            add_rows(y_c, b);
        }
    });
    Ok((y, cols))
}

/// `d x = col2im(g · wᵀ)`, chunk by chunk (each chunk owns its images of
/// `d x`); a pointwise convolution's `d x` is `g · wᵀ` itself.
pub(crate) fn input_grad<T: Float>(gy: &[T], w: &[T], g: &Conv2dGeometry) -> Vec<T> {
    let (kg, cg, f) = (g.group_cols(), g.group_filters(), g.filters);
    let s = Sizes::of(g);
    let pointwise = is_pointwise(g);
    let mut dx = vec![T::zero(); g.batch * s.image_in];
    let gy_chunk = (s.images * s.image_rows * f).max(1);
    let tasks: Vec<_> = dx
        .chunks_mut((s.images * s.image_in).max(1))
        .zip(gy.chunks(gy_chunk))
        .enumerate()
        .collect();
    // One `d cols` buffer per piece of work, reused by its chunks: the
    // product overwrites it, so it needs no clearing between chunks.
    run_tasks_with(tasks, Vec::new, |dcols: &mut Vec<T>, (i, (dx_c, gy_c))| {
        let images = s.images_in(g, i);
        let sg = Conv2dGeometry {
            batch: images,
            ..*g
        };
        let m = images * s.image_rows;
        if pointwise {
            gemm(
                dx_c,
                block(gy_c, m, f, f, 0),
                block_t(w, kg, f, f, 0),
                false,
            );
            return;
        }
        dcols.resize(m * kg, T::zero());
        let dcols = &mut dcols[..m * kg];
        for group in 0..g.groups {
            let lhs = block(gy_c, m, cg, f, group * cg);
            let rhs = block_t(w, kg, cg, f, group * cg);
            gemm(dcols, lhs, rhs, false);
            col2im_add(dcols, &sg, group, dx_c);
        }
    });
    dx
}

/// `d w = colsᵀ · g` in the kernel's `[kg, filters]` layout: one partial
/// sum per chunk, added in chunk order. `cols` is what [`forward`] kept, or
/// the input itself for a pointwise convolution.
pub(crate) fn kernel_grad<T: Float>(gy: &[T], cols: &[T], g: &Conv2dGeometry) -> Vec<T> {
    let (kg, cg, f) = (g.group_cols(), g.group_filters(), g.filters);
    let s = Sizes::of(g);
    let gy_chunk = (s.images * s.image_rows * f).max(1);
    let cols_chunk = (s.images * s.image_rows * g.groups * kg).max(1);
    let tasks: Vec<_> = gy.chunks(gy_chunk).zip(cols.chunks(cols_chunk)).collect();
    let partials = run_tasks(tasks, |(gy_c, cols_c)| {
        let m = gy_c.len() / f.max(1);
        let mut dw = vec![T::zero(); kg * f];
        let mut tmp = vec![T::zero(); if g.groups > 1 { kg * cg } else { 0 }];
        for group in 0..g.groups {
            let c = &cols_c[group * m * kg..(group + 1) * m * kg];
            let lhs = block_t(c, m, kg, kg, 0);
            let rhs = block(gy_c, m, cg, f, group * cg);
            if g.groups == 1 {
                gemm(&mut dw, lhs, rhs, false);
            } else {
                gemm(&mut tmp, lhs, rhs, false);
                scatter_cols(&tmp, cg, &mut dw, f, group * cg);
            }
        }
        dw
    });
    let mut parts = partials.into_iter();
    let mut dw = parts.next().unwrap_or_else(|| vec![T::zero(); kg * f]);
    for p in parts {
        for (d, v) in dw.iter_mut().zip(p) {
            *d += v;
        }
    }
    dw
}

/// `Σ g` over every row of a `[rows, f]` gradient.
pub(crate) fn bias_grad<T: Float>(gy: &[T], f: usize) -> Vec<T> {
    let mut db = vec![T::zero(); f];
    if f > 0 {
        for row in gy.chunks_exact(f) {
            for (d, &v) in db.iter_mut().zip(row) {
                *d += v;
            }
        }
    }
    db
}
