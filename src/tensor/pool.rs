//! Pooling kernels on NHWC data (crate-internal): max and average over 2-D
//! windows, forward and the adjoint the backward pass needs. No gradients
//! here; [`ops::pool`](crate::ops) records them.
//!
//! Each output row `(b, oy, ox)` is a contiguous run of channels, and so is
//! each input row it reads, so the inner loops run over contiguous slices.
//! The batch is cut into chunks of whole images fixed by the shapes (not by
//! the thread count), which run in parallel on the pool when more than one
//! thread is allowed; each element is computed by the same code either way.

use super::conv::Axis;
use super::conv_gemm::run_tasks;
use super::try_filled;
use crate::element::Float;
use crate::error::Result;

/// The geometry of a pooling window over `[batch, h, w, channels]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolGeometry {
    pub batch: usize,
    pub channels: usize,
    pub h: Axis,
    pub w: Axis,
}

impl PoolGeometry {
    /// The output shape `[batch, out_h, out_w, channels]`.
    pub(crate) fn output_shape(&self) -> Vec<usize> {
        vec![self.batch, self.h.output, self.w.output, self.channels]
    }

    /// Input elements per image.
    fn image_in(&self) -> usize {
        self.h.input * self.w.input * self.channels
    }

    /// Output elements per image.
    fn image_out(&self) -> usize {
        self.h.output * self.w.output * self.channels
    }

    /// Images per chunk: about 16k output elements, at least one image.
    fn chunk_images(&self) -> usize {
        (CHUNK_OUT / self.image_out().max(1)).max(1)
    }

    /// Calls `f(out_offset, in_offset)` for every output row of `images`
    /// images and each input row of its window that lies inside the input
    /// (padding is skipped); offsets count from the first of those images.
    fn for_each_tap(&self, images: usize, mut f: impl FnMut(usize, usize)) {
        let (hh, ww, c) = (self.h.input, self.w.input, self.channels);
        let mut out = 0;
        for b in 0..images {
            for oy in 0..self.h.output {
                for ox in 0..self.w.output {
                    for ky in 0..self.h.kernel {
                        let Some(iy) = self.h.source(oy, ky) else {
                            continue;
                        };
                        for kx in 0..self.w.kernel {
                            if let Some(ix) = self.w.source(ox, kx) {
                                f(out, ((b * hh + iy) * ww + ix) * c);
                            }
                        }
                    }
                    out += c;
                }
            }
        }
    }
}

/// Output elements a chunk of images aims at.
const CHUNK_OUT: usize = 1 << 14;

/// Whether `v` replaces the running maximum `m`: larger, or the first NaN
/// (a NaN is kept once taken). Branch-free, so the channel loop vectorizes.
#[inline]
fn takes<T: Float>(v: T, m: T) -> bool {
    (v > m) | (v.is_nan() & !m.is_nan())
}

/// Max pooling: `y[b, oy, ox, c]` is the maximum of the window's input
/// elements (the first NaN if there is one). Every window holds at least
/// one input element (padding is smaller than the window), so no `-∞` of
/// the initial fill survives unless the input holds it. No argmax is
/// stored: [`max_pool2d_backward`] finds the first maximal tap again from
/// `x` and `y`, which costs less than writing and reading an index per
/// output. Ties go to the first maximum in window order, as PyTorch and
/// TensorFlow choose.
///
/// # Errors
///
/// If the output cannot be allocated (named `max_pool2d`).
pub(crate) fn max_pool2d<T: Float>(x: &[T], g: &PoolGeometry) -> Result<Vec<T>> {
    let c = g.channels;
    let shape = g.output_shape();
    let mut out = try_filled("max_pool2d", &shape, T::neg_infinity())?;
    let (images, image_in) = (g.chunk_images(), g.image_in());
    let len = (images * g.image_out()).max(1);
    let tasks: Vec<_> = out.chunks_mut(len).enumerate().collect();
    run_tasks(tasks, |(chunk, out)| {
        let x = &x[chunk * images * image_in..];
        let n = out.len() / g.image_out().max(1);
        let mut first = true;
        let mut last_out = usize::MAX;
        g.for_each_tap(n, |o, i| {
            // The first tap of each window is copied (so an all -inf or
            // NaN window keeps its value), later taps compared.
            first = o != last_out;
            last_out = o;
            let (out, src) = (&mut out[o..o + c], &x[i..i + c]);
            if first {
                out.copy_from_slice(src);
            } else {
                for (m, &v) in out.iter_mut().zip(src) {
                    *m = if takes(v, *m) { v } else { *m };
                }
            }
        });
    });
    Ok(out)
}

/// The adjoint of [`max_pool2d`]: each output's gradient goes to the first
/// tap of its window that holds the output's value (the tap the forward
/// pass took: the first maximum, or the first NaN).
pub(crate) fn max_pool2d_backward<T: Float>(
    gy: &[T],
    x: &[T],
    y: &[T],
    g: &PoolGeometry,
) -> Vec<T> {
    let c = g.channels;
    let (images, image_in) = (g.chunk_images(), g.image_in());
    let mut dx = crate::tensor::recycle::filled(g.batch * image_in, T::zero());
    let out_len = (images * g.image_out()).max(1);
    let tasks: Vec<_> = dx
        .chunks_mut((images * image_in).max(1))
        .zip(gy.chunks(out_len).zip(y.chunks(out_len)))
        .enumerate()
        .collect();
    run_tasks(tasks, |(chunk, (dx, (gy, y)))| {
        let x = &x[chunk * images * image_in..];
        let n = gy.len() / g.image_out().max(1);
        // `rest[k]`: the gradient channel k of the current window has yet
        // to hand to its first maximal tap (zero once handed). Adding a
        // zero to `d x` changes no bits (it never holds -0), so the loop is
        // branch-free and vectorizes.
        let mut rest = vec![T::zero(); c];
        let mut last_out = usize::MAX;
        g.for_each_tap(n, |o, i| {
            if o != last_out {
                rest.copy_from_slice(&gy[o..o + c]);
                last_out = o;
            }
            route_tap(&mut dx[i..i + c], &mut rest, &x[i..i + c], &y[o..o + c]);
        });
    });
    dx
}

/// One tap of [`max_pool2d_backward`] over the channels: where the tap
/// holds the window's maximum (or both are NaN) and `rest` still holds the
/// gradient, it moves to `d`. A function of its own so that the four
/// slices are known not to overlap and the branch-free loop vectorizes.
#[inline(never)]
fn route_tap<T: Float>(d: &mut [T], rest: &mut [T], x: &[T], y: &[T]) {
    let c = d.len().min(rest.len()).min(x.len()).min(y.len());
    let (d, rest, x, y) = (&mut d[..c], &mut rest[..c], &x[..c], &y[..c]);
    for k in 0..c {
        let (v, m, r) = (x[k], y[k], rest[k]);
        let hit = (v == m) | (v.is_nan() & m.is_nan());
        d[k] += if hit { r } else { T::zero() };
        rest[k] = if hit { T::zero() } else { r };
    }
}

/// The number of input elements in each output window (padding excluded),
/// per output position `(b, oy, ox)`.
fn window_counts(g: &PoolGeometry) -> Vec<usize> {
    let mut counts = vec![0usize; g.h.output * g.w.output];
    g.for_each_tap(1, |o, _| counts[o / g.channels.max(1)] += 1);
    counts
}

/// Multiplies each output row of `rows` (whole images) by one over its
/// window's count.
fn divide_by_counts<T: Float>(rows: &mut [T], g: &PoolGeometry) {
    let c = g.channels;
    if c == 0 {
        return;
    }
    let inv: Vec<T> = window_counts(g)
        .into_iter()
        .map(|n| T::one() / T::from_usize(n.max(1)))
        .collect();
    for (row, &inv) in rows.chunks_exact_mut(c).zip(inv.iter().cycle()) {
        row.iter_mut().for_each(|v| *v *= inv);
    }
}

/// Average pooling; the divisor is the number of input elements in the
/// window, padding excluded (Keras/TensorFlow; PyTorch's
/// `count_include_pad=False`).
///
/// # Errors
///
/// If the output cannot be allocated (named `avg_pool2d`).
pub(crate) fn avg_pool2d<T: Float>(x: &[T], g: &PoolGeometry) -> Result<Vec<T>> {
    let c = g.channels;
    let mut out = try_filled("avg_pool2d", &g.output_shape(), T::zero())?;
    let (images, image_in) = (g.chunk_images(), g.image_in());
    let tasks: Vec<_> = out
        .chunks_mut((images * g.image_out()).max(1))
        .enumerate()
        .collect();
    run_tasks(tasks, |(chunk, out)| {
        let x = &x[chunk * images * image_in..];
        let n = out.len() / g.image_out().max(1);
        g.for_each_tap(n, |o, i| {
            for (s, &v) in out[o..o + c].iter_mut().zip(&x[i..i + c]) {
                *s += v;
            }
        });
    });
    divide_by_counts(&mut out, g);
    Ok(out)
}

/// The adjoint of [`avg_pool2d`]: each output gradient, divided by its
/// window's count, is added to every input element of the window.
pub(crate) fn avg_pool2d_backward<T: Float>(gy: &[T], g: &PoolGeometry) -> Vec<T> {
    let c = g.channels;
    let mut scaled = gy.to_vec();
    divide_by_counts(&mut scaled, g);
    let (images, image_in) = (g.chunk_images(), g.image_in());
    let mut dx = crate::tensor::recycle::filled(g.batch * image_in, T::zero());
    let tasks: Vec<_> = dx
        .chunks_mut((images * image_in).max(1))
        .zip(scaled.chunks((images * g.image_out()).max(1)))
        .collect();
    run_tasks(tasks, |(dx, scaled)| {
        let n = scaled.len() / g.image_out().max(1);
        g.for_each_tap(n, |o, i| {
            for (d, &v) in dx[i..i + c].iter_mut().zip(&scaled[o..o + c]) {
                *d += v;
            }
        });
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::conv::Padding;

    fn geometry(h: usize, w: usize, k: usize, s: usize, padding: Padding) -> PoolGeometry {
        PoolGeometry {
            batch: 1,
            channels: 1,
            h: Axis::new(h, k, s, 1, padding).unwrap(),
            w: Axis::new(w, k, s, 1, padding).unwrap(),
        }
    }

    #[test]
    fn max_pool_picks_window_maxima_and_routes_gradients() {
        // 4x4 input 0..16, 2x2 windows stride 2: maxima 5, 7, 13, 15.
        let x: Vec<f64> = (0..16).map(f64::from).collect();
        let g = geometry(4, 4, 2, 2, Padding::Valid);
        let y = max_pool2d(&x, &g).unwrap();
        assert_eq!(y, vec![5.0, 7.0, 13.0, 15.0]);
        let dx = max_pool2d_backward(&[1.0, 2.0, 3.0, 4.0], &x, &y, &g);
        assert_eq!((dx[5], dx[7], dx[13], dx[15]), (1.0, 2.0, 3.0, 4.0));
        assert_eq!(dx.iter().sum::<f64>(), 10.0);
    }

    #[test]
    fn max_pool_takes_the_first_nan_and_the_first_of_equal_maxima() {
        // One 2x2 window per channel, 3 channels, taps in order 0..4:
        // channel 0: 1, NaN, 5, NaN -> NaN from tap 1;
        // channel 1: 2, 7, 7, 3 -> 7 from tap 1 (the first of two);
        // channel 2: -inf everywhere -> -inf from tap 0.
        let inf = f64::INFINITY;
        let x = vec![
            1.0,
            2.0,
            -inf,
            f64::NAN,
            7.0,
            -inf,
            5.0,
            7.0,
            -inf,
            f64::NAN,
            3.0,
            -inf,
        ];
        let g = PoolGeometry {
            channels: 3,
            ..geometry(2, 2, 2, 2, Padding::Valid)
        };
        let y = max_pool2d(&x, &g).unwrap();
        assert!(y[0].is_nan());
        assert_eq!((y[1], y[2]), (7.0, -inf));
        let dx = max_pool2d_backward(&[10.0, 20.0, 30.0], &x, &y, &g);
        let mut want = vec![0.0; 12];
        want[3] = 10.0; // channel 0, tap 1
        want[4] = 20.0; // channel 1, tap 1
        want[2] = 30.0; // channel 2, tap 0
        assert_eq!(dx, want);
    }

    #[test]
    fn avg_pool_same_excludes_padding_from_the_count() {
        // 3x3 of ones, 2x2 windows stride 2 same: out 2x2, every average 1.
        let g = geometry(3, 3, 2, 2, Padding::Same);
        assert_eq!(avg_pool2d(&[1.0f64; 9], &g).unwrap(), vec![1.0; 4]);
        // Windows hold 4, 2, 2, 1 elements.
        let dx = avg_pool2d_backward(&[4.0f64, 2.0, 2.0, 1.0], &g);
        assert_eq!(dx, vec![1.0; 9]);
    }
}
