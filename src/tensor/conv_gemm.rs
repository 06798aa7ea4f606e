//! Convolution lowered onto GEMM, chunk by chunk of whole images
//! (crate-internal): the forward product, and the input, kernel and bias
//! gradients of a 2-D convolution on NHWC data with an HWIO kernel.
//!
//! The batch is cut into chunks of whole images whose size depends only on
//! the geometry ([`chunk_images`]), never on the thread count. Each chunk
//! unrolls its patches (`im2col`) into a buffer that stays in cache and
//! multiplies them at once; chunks run in parallel on the pool when more
//! than one thread is allowed ([`crate::set_num_threads`]). The column
//! matrix is never stored whole: the backward pass unrolls each chunk again
//! and computes all the gradients it needs in the same sweep, one hand-over
//! to the pool per pass. Every output element is computed by the same code
//! in the same order whatever the thread count, and the kernel and bias
//! gradients (sums over the batch) add the chunks' partial sums in chunk
//! order, so 1 and 2 threads give the same bits.
//!
//! A 1×1 convolution with stride 1, no padding and one group is a plain
//! matrix product of the input: it skips `im2col` and `col2im`.

use rayon::prelude::*;

use super::conv::{Conv2dGeometry, col2im_add, im2col};
use super::try_filled;
use crate::element::{Float, MatRef, gemm, num_threads};
use crate::error::Result;

/// Elements of the column matrix a chunk aims at (all groups): 64 Ki
/// elements (256 KiB of `f32`) stay within the second-level cache while the
/// chunk's product reads them, and give a batch of 32-64 images tens of
/// chunks to share between threads. A chunk holds at least one image.
const CHUNK_COL_ELEMS: usize = 1 << 16;

/// Images per chunk for `g` (at least 1): fixed by the geometry alone.
pub(crate) fn chunk_images(g: &Conv2dGeometry) -> usize {
    let per_image = (g.h.output * g.w.output)
        .saturating_mul(g.groups * g.group_cols())
        .max(1);
    (CHUNK_COL_ELEMS / per_image).clamp(1, g.batch.max(1))
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

/// `y = conv(x, w) + bias`. Each chunk unrolls its patches into a column
/// buffer of its own piece of work (reused by the piece's chunks, so it
/// stays in cache) and multiplies them; nothing is kept for the backward
/// pass, which unrolls them again ([`backward`]): rereading a chunk's
/// columns from cache costs less than writing the whole column matrix to
/// memory and reading it back. The output is allocated fallibly (errors
/// name `op`).
pub(crate) fn forward<T: Float>(
    op: &'static str,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
) -> Result<Vec<T>> {
    let (kg, cg, f) = (g.group_cols(), g.group_filters(), g.filters);
    let s = Sizes::of(g);
    let pointwise = is_pointwise(g);
    let mut y = try_filled(op, &g.output_shape(), T::zero())?;
    let y_chunk = s.images * s.image_rows * f;
    let tasks: Vec<_> = y.chunks_mut(y_chunk.max(1)).enumerate().collect();
    run_tasks_with(
        tasks,
        || (Vec::new(), Vec::new()),
        |(cols, tmp): &mut (Vec<T>, Vec<T>), (i, y_c)| {
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
            // Every entry is overwritten by `im2col` and the product, so
            // the buffers need no clearing between chunks.
            cols.resize(m * kg, T::zero());
            let c = &mut cols[..m * kg];
            if g.groups > 1 {
                tmp.resize(m * cg, T::zero());
            }
            for group in 0..g.groups {
                im2col(x_c, &sg, group, c);
                let lhs = block(c, m, kg, kg, 0);
                let rhs = block(w, kg, cg, f, group * cg);
                if g.groups == 1 {
                    gemm(y_c, lhs, rhs, acc);
                } else {
                    gemm(&mut tmp[..m * cg], lhs, rhs, false);
                    scatter_cols(&tmp[..m * cg], cg, y_c, f, group * cg);
                }
            }
            if let (true, Some(b)) = (g.groups > 1, bias) {
                add_rows(y_c, b);
            }
        },
    );
    Ok(y)
}

/// Which gradients [`backward`] computes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Needs {
    /// `d x`.
    pub x: bool,
    /// `d w`.
    pub w: bool,
    /// `d bias`.
    pub bias: bool,
}

/// The gradients [`backward`] computed (`None` where not needed).
pub(crate) struct Grads<T> {
    /// `d x`, the input's shape.
    pub x: Option<Vec<T>>,
    /// `d w` in the kernel's `[kg, filters]` layout.
    pub w: Option<Vec<T>>,
    /// `d bias`, `[filters]`.
    pub bias: Option<Vec<T>>,
}

/// Per-piece scratch of [`backward`]: the columns, `d cols` and a group's
/// kernel gradient.
type Scratch<T> = (Vec<T>, Vec<T>, Vec<T>);

/// The backward pass in one sweep over the chunks: for each chunk,
/// `d w += colsᵀ · g` (the chunk's columns unrolled again from `x`, or `x`
/// itself for a pointwise convolution), `d x = col2im(g · wᵀ)` (each chunk
/// owns its images of `d x`) and `d bias += Σ g`, each only when `needs`
/// asks. The kernel and bias gradients are one partial sum per chunk,
/// added in chunk order, so any thread count gives the same bits.
pub(crate) fn backward<T: Float>(
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
    let mut dx = if needs.x {
        vec![T::zero(); g.batch * s.image_in]
    } else {
        Vec::new()
    };
    let mut dx_chunks: Vec<Option<&mut [T]>> = dx
        .chunks_mut((s.images * s.image_in).max(1))
        .map(Some)
        .collect();
    dx_chunks.resize_with(n, || None);
    let gy_chunk = (s.images * s.image_rows * f).max(1);
    let tasks: Vec<_> = dx_chunks
        .into_iter()
        .zip(gy.chunks(gy_chunk))
        .enumerate()
        .collect();
    let partials = run_tasks_with(
        tasks,
        || (Vec::new(), Vec::new(), Vec::new()),
        |(cols, dcols, tmp): &mut Scratch<T>, (i, (dx_c, gy_c))| {
            let images = s.images_in(g, i);
            let sg = Conv2dGeometry {
                batch: images,
                ..*g
            };
            let m = images * s.image_rows;
            let x0 = i * s.images * s.image_in;
            let x_c = &x[x0..x0 + images * s.image_in];
            let db = needs.bias.then(|| bias_grad(gy_c, f));
            let mut dw = needs.w.then(|| vec![T::zero(); kg * f]);
            if pointwise {
                if let Some(dw) = dw.as_mut() {
                    let lhs = block_t(x_c, m, kg, kg, 0);
                    gemm(dw, lhs, block(gy_c, m, f, f, 0), false);
                }
                if let Some(dx_c) = dx_c {
                    let rhs = block_t(w, kg, f, f, 0);
                    gemm(dx_c, block(gy_c, m, f, f, 0), rhs, false);
                }
                return (dw, db);
            }
            // Overwritten before each use (`im2col`, the products), so the
            // buffers need no clearing between chunks.
            if needs.w {
                cols.resize(m * kg, T::zero());
                if g.groups > 1 {
                    tmp.resize(kg * cg, T::zero());
                }
            }
            if needs.x {
                dcols.resize(m * kg, T::zero());
            }
            let mut dx_c = dx_c;
            for group in 0..g.groups {
                if let Some(dw) = dw.as_mut() {
                    let c = &mut cols[..m * kg];
                    im2col(x_c, &sg, group, c);
                    let lhs = block_t(c, m, kg, kg, 0);
                    let rhs = block(gy_c, m, cg, f, group * cg);
                    if g.groups == 1 {
                        gemm(dw, lhs, rhs, false);
                    } else {
                        gemm(&mut tmp[..kg * cg], lhs, rhs, false);
                        scatter_cols(&tmp[..kg * cg], cg, dw, f, group * cg);
                    }
                }
                if let Some(dx_c) = dx_c.as_deref_mut() {
                    let d = &mut dcols[..m * kg];
                    let lhs = block(gy_c, m, cg, f, group * cg);
                    let rhs = block_t(w, kg, cg, f, group * cg);
                    gemm(d, lhs, rhs, false);
                    col2im_add(d, &sg, group, dx_c);
                }
            }
            (dw, db)
        },
    );
    let (dws, dbs): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
    Grads {
        x: needs.x.then_some(dx),
        w: needs
            .w
            .then(|| sum_in_order(dws.into_iter().flatten(), kg * f)),
        bias: needs
            .bias
            .then(|| sum_in_order(dbs.into_iter().flatten(), f)),
    }
}

/// The sum of `parts`, added in order (zeros of `len` when there are none).
fn sum_in_order<T: Float>(parts: impl Iterator<Item = Vec<T>>, len: usize) -> Vec<T> {
    let mut parts = parts;
    let mut total = parts.next().unwrap_or_else(|| vec![T::zero(); len]);
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// `Σ g` over every row of a `[rows, f]` gradient.
fn bias_grad<T: Float>(gy: &[T], f: usize) -> Vec<T> {
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
