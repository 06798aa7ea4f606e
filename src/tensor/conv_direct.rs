//! Direct convolution (crate-internal): the forward product of a 2-D
//! convolution with one group computed from the NHWC input in place, with
//! no column matrix (`im2col`) and no packing of it by `gemm`.
//!
//! The kernel is packed once per call into blocks of `NB` filters
//! (`[taps, ⌈run⌉, NB]` each, zero past the last filter): a tap is a kernel
//! row (`kw · channels` input elements adjacent in NHWC) when the kernel's
//! columns are adjacent (width dilation 1), else one kernel element
//! (`channels` elements). A tile of [`P`] output positions of one image
//! (consecutive in the image's row-major order, so a tile may run over the
//! end of an output row) times one block of filters is summed in
//! registers: each step broadcasts one input element per position against
//! one packed weight row. `NB` fills four vector registers on AVX-512 (64
//! `f32`, 32 `f64`) and two on AVX2, so the `P · NB` accumulators stay in
//! registers; [`CB`] channels of a tap are summed per step, their input
//! values first copied into a fixed-size block so the inner loops have
//! constant bounds.
//!
//! Each output element is one fused multiply-add chain over `(ky, kx, c)`
//! in that order, then the bias: its bits depend neither on the tile, nor
//! the instruction set, nor the thread count (they differ in the last bits
//! from the GEMM lowering's, which sums in `gemm`'s order). The fused
//! multiply-add needs AVX2 with FMA or AVX-512: without them
//! ([`applies`]) the GEMM lowering runs.
//!
//! Measured against `im2col` + `gemm` in `docs/performance.md` ("Issue 12:
//! convolution, fifth pass").

use super::conv::Conv2dGeometry;
use super::conv_gemm::written_output;
use super::recycle;
use crate::element::{Float, num_threads};
use crate::error::Result;

/// Output positions per tile: with four registers of filters, 24
/// accumulators of the 32 vector registers of AVX-512 (the weight row and
/// the broadcast take five more).
pub(crate) const P: usize = 6;

/// Channels of a tap summed per step of [`tile`] (each tap's rows are
/// padded with zeros to a multiple of it): 16 measured faster than 8 or 32
/// on the MNIST-like second layer.
pub(crate) const CB: usize = 16;

/// Filters per block for the widest instruction set this CPU has, or
/// `None` without a fused multiply-add (the GEMM lowering then runs).
fn block_width<T: Float>() -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        let lanes_512 = 64 / std::mem::size_of::<T>();
        if pulp::x86::V4::try_new().is_some() {
            return Some(4 * lanes_512);
        }
        if pulp::x86::V3::try_new().is_some() {
            return Some(lanes_512);
        }
    }
    None
}

/// The taps of `g`'s kernel (offsets in a row-major image `row` elements
/// wide, `[h, row / channels, channels]`) and the input elements each
/// spans.
fn taps(g: &Conv2dGeometry, row: usize) -> (Vec<usize>, usize) {
    let c = g.channels;
    let adjacent = g.w.dilation == 1;
    let per_row = if adjacent { 1 } else { g.w.kernel };
    let mut taps = Vec::with_capacity(g.h.kernel * per_row);
    for ky in 0..g.h.kernel {
        for kx in 0..per_row {
            taps.push(ky * g.h.dilation * row + kx * g.w.dilation * c);
        }
    }
    (taps, if adjacent { g.w.kernel * c } else { c })
}

/// Whether [`forward`] computes `g`'s forward pass: one group, not a 1×1
/// convolution with stride 1 and no padding (a plain product already),
/// taps whose padding to [`CB`] wastes at most a quarter, and a CPU with
/// a fused multiply-add.
pub(crate) fn applies<T: Float>(g: &Conv2dGeometry) -> bool {
    let run = taps(g, 0).1;
    g.groups == 1
        && !super::conv_gemm::is_pointwise(g)
        && run > 0
        && run.next_multiple_of(CB) * 4 <= run * 5
        && block_width::<T>().is_some()
}

/// The kernel `[taps · run, filters]` (row-major) packed into
/// `⌈filters / nb⌉` blocks of `[taps, ⌈run⌉, nb]`: each tap's `run` rows
/// followed by zero rows up to a multiple of [`CB`], zero past the last
/// filter.
fn pack_weights<T: Float>(w: &[T], taps: usize, run: usize, filters: usize, nb: usize) -> Vec<T> {
    let padded = run.next_multiple_of(CB);
    let mut packed = recycle::filled(filters.div_ceil(nb) * taps * padded * nb, T::zero());
    for (b, block) in packed.chunks_exact_mut(taps * padded * nb).enumerate() {
        let f0 = b * nb;
        let width = nb.min(filters - f0);
        for (dst, src) in block
            .chunks_exact_mut(padded * nb)
            .zip(w.chunks_exact(run * filters))
        {
            for (row, s) in dst.chunks_exact_mut(nb).zip(src.chunks_exact(filters)) {
                row[..width].copy_from_slice(&s[f0..f0 + width]);
            }
        }
    }
    packed
}

/// One tile: `acc[p][l] = Σ_{tap, c} w[tap, c][l] · x[offs[p] + taps[tap] + c]`
/// over the `run` channels of each tap, as fused multiply-adds in that
/// order; `w` is one packed block of `NB` filters.
#[inline(always)]
fn tile<T: Float, const NB: usize>(
    x: &[T],
    offs: &[usize; P],
    taps: &[usize],
    run: usize,
    w: &[T],
) -> [[T; NB]; P] {
    let mut acc = [[T::zero(); NB]; P];
    let padded = run.next_multiple_of(CB);
    for (&tap, w_tap) in taps.iter().zip(w.chunks_exact(padded * NB)) {
        for (c0, w_c) in (0..run).step_by(CB).zip(w_tap.chunks_exact(CB * NB)) {
            let n = CB.min(run - c0);
            let mut xb = [[T::zero(); CB]; P];
            for (b, &o) in xb.iter_mut().zip(offs) {
                // In range by the geometry. `get` rather than indexing, and
                // fixed-size copies rather than `memcpy`: a panic path or a
                // call in the loop made the accumulators leave their
                // registers (stored back at every step).
                let at = o + tap + c0;
                let src = x.get(at..at + n).unwrap_or_default();
                match <&[T; CB]>::try_from(src) {
                    Ok(src) => *b = *src,
                    Err(_) => {
                        for (i, d) in b.iter_mut().enumerate() {
                            *d = src.get(i).copied().unwrap_or_else(T::zero);
                        }
                    }
                }
            }
            let Ok(w_c) = <&[[T; NB]; CB]>::try_from(w_c.as_chunks::<NB>().0) else {
                continue;
            };
            for (c, wr) in w_c.iter().enumerate() {
                // Index loops: the same loops written with iterators
                // (`zip` over the accumulators) ran three times slower, the
                // accumulators kept in memory.
                #[allow(clippy::needless_range_loop)]
                for p in 0..P {
                    let v = xb[p][c];
                    for l in 0..NB {
                        acc[p][l] = wr[l].mul_add(v, acc[p][l]);
                    }
                }
            }
        }
    }
    acc
}

/// [`tile`] compiled for the widest instruction set. Not inlined: its
/// caller reads the accumulators with run-time indices, which inlined would
/// keep them in memory rather than in registers.
#[inline(never)]
fn wide_tile<T: Float, const NB: usize>(
    x: &[T],
    offs: &[usize; P],
    taps: &[usize],
    run: usize,
    w: &[T],
) -> [[T; NB]; P] {
    super::simd::widest(
        #[inline(always)]
        || tile::<T, NB>(x, offs, taps, run, w),
    )
}

/// The geometry of one image as the kernel reads it.
struct Plan<'a, T> {
    packed: &'a [T],
    taps: &'a [usize],
    run: usize,
    /// Elements of one row of the (padded) image.
    row: usize,
    bias: Option<&'a [T]>,
}

/// The forward product of one image: `x` is its (padded) input, rows
/// `plan.row` long, `y` its output `[out_h, out_w, filters]`, every element
/// written.
fn image<T: Float, const NB: usize>(x: &[T], plan: &Plan<'_, T>, g: &Conv2dGeometry, y: &mut [T]) {
    let (c, ow, f) = (g.channels, g.w.output, g.filters);
    let positions = g.h.output * ow;
    let block = plan.taps.len() * plan.run.next_multiple_of(CB) * NB;
    for (b, wb) in plan.packed.chunks_exact(block).enumerate() {
        let f0 = b * NB;
        let width = NB.min(f - f0);
        for q0 in (0..positions).step_by(P) {
            let offs: [usize; P] = std::array::from_fn(|p| {
                // Past the last position, repeat it (computed, not written).
                let q = (q0 + p).min(positions - 1);
                let (oy, ox) = (q / ow, q % ow);
                oy * g.h.stride * plan.row + ox * g.w.stride * c
            });
            let acc = wide_tile::<T, NB>(x, &offs, plan.taps, plan.run, wb);
            for (p, a) in acc.iter().enumerate().take(positions - q0) {
                let at = (q0 + p) * f + f0;
                let out = &mut y[at..at + width];
                out.copy_from_slice(&a[..width]);
                if let Some(bias) = plan.bias {
                    for (v, &bv) in out.iter_mut().zip(&bias[f0..f0 + width]) {
                        *v += bv;
                    }
                }
            }
        }
    }
}

/// Copies image `x` (`[h, w, channels]`) into `pad`, the zero-padded image
/// `[rows, cols, channels]` the kernel reads, `g`'s padding before it.
fn pad_image<T: Float>(x: &[T], g: &Conv2dGeometry, cols: usize, pad: &mut [T]) {
    let c = g.channels;
    pad.fill(T::zero());
    // `max(1)`: an empty image row (width 0 under `same` padding) copies nothing.
    for (iy, src) in x.chunks_exact((g.w.input * c).max(1)).enumerate() {
        let at = ((iy + g.h.pad_before) * cols + g.w.pad_before) * c;
        if let Some(dst) = pad.get_mut(at..at + src.len()) {
            dst.copy_from_slice(src);
        }
    }
}

/// Runs [`image`] with `NB` filters a block on the images of `y`, the
/// first being image `image_index`.
fn images<T: Float, const NB: usize>(
    x: &[T],
    plan: &Plan<'_, T>,
    g: &Conv2dGeometry,
    padded: Option<(usize, usize)>,
    y: &mut [T],
    image_index: usize,
    pad: &mut [T],
) {
    let image_in = g.h.input * g.w.input * g.channels;
    let image_out = g.h.output * g.w.output * g.filters;
    for (i, y_i) in y.chunks_exact_mut(image_out.max(1)).enumerate() {
        let b = image_index + i;
        let x_i = &x[b * image_in..(b + 1) * image_in];
        let src = match padded {
            Some((_, cols)) => {
                pad_image(x_i, g, cols, pad);
                &*pad
            }
            None => x_i,
        };
        image::<T, NB>(src, plan, g, y_i);
    }
}

/// `y = conv(x, w) + bias` for a geometry where [`applies`] holds; the
/// output is allocated fallibly (errors name `op`). Images are shared
/// between threads; each is computed the same way whatever their number.
pub(crate) fn forward<T: Float>(
    op: &'static str,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
) -> Result<Vec<T>> {
    forward_blocks(op, x, w, bias, g, block_width::<T>().unwrap_or(16))
}

/// [`forward`] with `nb` (8, 16, 32 or 64) filters a block.
fn forward_blocks<T: Float>(
    op: &'static str,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Conv2dGeometry,
    nb: usize,
) -> Result<Vec<T>> {
    // The padded image the kernel reads: as many rows and columns as the
    // last output position reaches.
    let reach = |a: &super::conv::Axis| (a.output - 1) * a.stride + (a.kernel - 1) * a.dilation + 1;
    let (rows, cols) = (reach(&g.h), reach(&g.w));
    let padded = (g.h.pad_before > 0 || g.w.pad_before > 0 || rows > g.h.input || cols > g.w.input)
        .then_some((rows, cols));
    let row = padded.map_or(g.w.input, |(_, c)| c) * g.channels;
    let (taps, run) = taps(g, row);
    let packed = pack_weights(w, taps.len(), run, g.filters, nb);
    let plan = Plan {
        packed: &packed,
        taps: &taps,
        run,
        row,
        bias,
    };
    let shape = g.output_shape();
    let image_out = (g.h.output * g.w.output * g.filters).max(1);
    let pad_len = padded.map_or(0, |(r, c)| r * c * g.channels);
    let body = |pad: &mut Vec<T>, (i, y_i): (usize, &mut [T])| {
        match nb {
            64 => images::<T, 64>(x, &plan, g, padded, y_i, i, pad),
            32 => images::<T, 32>(x, &plan, g, padded, y_i, i, pad),
            8 => images::<T, 8>(x, &plan, g, padded, y_i, i, pad),
            _ => images::<T, 16>(x, &plan, g, padded, y_i, i, pad),
        }
        true
    };
    let init = || vec![T::zero(); pad_len];
    let split = num_threads() > 1 && g.batch > 1;
    let y = written_output(op, &shape, image_out, split, init, body)?
        .expect("invariant: every chunk's body returns true");
    recycle::give_back(packed);
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::conv::{Padding, Window, conv2d_geometry};
    use crate::tensor::conv_gemm::forward_gemm;

    /// Values in `[-1, 1)` from a seed (xorshift).
    fn values<T: Float>(n: usize, seed: u64) -> Vec<T> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                T::from_f64((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
            })
            .collect()
    }

    /// `(input [n, h, w, c], kernel [kh, kw, filters], strides, dilation,
    /// padding)`: positions per image not multiples of [`P`], filters not
    /// multiples of a block, taps not multiples of [`CB`], padding, strides
    /// and width dilation (one-element taps).
    #[allow(clippy::type_complexity)]
    fn cases() -> Vec<([usize; 4], [usize; 3], [usize; 2], [usize; 2], Padding)> {
        vec![
            ([3, 9, 8, 32], [3, 3, 64], [1, 1], [1, 1], Padding::Valid),
            ([2, 7, 9, 5], [3, 3, 70], [1, 1], [1, 1], Padding::Valid),
            ([2, 6, 7, 3], [3, 2, 9], [1, 1], [1, 1], Padding::Same),
            ([2, 11, 10, 17], [3, 3, 33], [2, 1], [1, 1], Padding::Same),
            ([1, 12, 13, 6], [2, 3, 20], [1, 2], [2, 2], Padding::Valid),
            ([2, 9, 9, 20], [5, 4, 7], [3, 2], [1, 1], Padding::Same),
            ([1, 5, 5, 1], [1, 3, 1], [1, 1], [1, 1], Padding::Valid),
            // An empty image row: `same` padding alone gives one column.
            ([1, 4, 0, 32], [3, 3, 5], [1, 1], [1, 1], Padding::Same),
        ]
    }

    /// The direct kernel against the GEMM lowering, with every block width
    /// (the AVX-512 and AVX2 ones of `f32` and `f64`), with and without a
    /// bias, on 1 and 2 threads (the same bits).
    fn matches_gemm<T: Float>(tol: f64) {
        if block_width::<T>().is_none() {
            // No fused multiply-add: `applies` is false, the kernel never runs.
            return;
        }
        for (i, (xs, [kh, kw, f], strides, dilation, padding)) in cases().into_iter().enumerate() {
            let window = Window {
                strides,
                dilation,
                padding,
            };
            let g = conv2d_geometry("t", &xs, &[kh, kw, xs[3], f], window, 1).expect("fits");
            let seed = i as u64 * 3;
            let x = values::<T>(xs.iter().product(), seed + 1);
            let w = values::<T>(kh * kw * xs[3] * f, seed + 2);
            let b = values::<T>(f, seed + 3);
            for bias in [None, Some(&b[..])] {
                let want = forward_gemm("t", &x, &w, bias, &g).expect("fits");
                let scale = want
                    .iter()
                    .fold(1.0f64, |m, &v| m.max(Float::to_f64(v).abs()));
                for nb in [8, 16, 32, 64] {
                    let mut runs = Vec::new();
                    for threads in [1, 2] {
                        crate::set_num_threads(threads);
                        runs.push(forward_blocks("t", &x, &w, bias, &g, nb).expect("fits"));
                    }
                    crate::set_num_threads(1);
                    let bits = |v: &[T]| {
                        v.iter()
                            .map(|&x| Float::to_f64(x).to_bits())
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(bits(&runs[0]), bits(&runs[1]), "case {i}, nb {nb}: threads");
                    assert_eq!(runs[0].len(), want.len(), "case {i}");
                    for (j, (a, e)) in runs[0].iter().zip(&want).enumerate() {
                        let d = (Float::to_f64(*a) - Float::to_f64(*e)).abs();
                        assert!(
                            d <= tol * scale,
                            "case {i}, nb {nb}, element {j}: {a} against {e}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn direct_forward_matches_the_gemm_lowering_f32() {
        matches_gemm::<f32>(1e-5);
    }

    #[test]
    fn direct_forward_matches_the_gemm_lowering_f64() {
        matches_gemm::<f64>(1e-13);
    }

    #[test]
    fn applies_to_one_group_with_few_padded_rows() {
        let window = Window {
            strides: [1, 1],
            dilation: [1, 1],
            padding: Padding::Same,
        };
        let geometry = |input: &[usize], kernel: &[usize], groups| {
            conv2d_geometry("t", input, kernel, window, groups).expect("fits")
        };
        let wide = block_width::<f32>().is_some();
        // A kernel row of 3 · 32 channels: 96 rows, no padding to 16.
        assert_eq!(
            applies::<f32>(&geometry(&[2, 8, 8, 32], &[3, 3, 32, 64], 1)),
            wide
        );
        // 3 · 3 channels padded to 16: the GEMM lowering.
        assert!(!applies::<f32>(&geometry(&[2, 8, 8, 3], &[3, 3, 3, 64], 1)));
        // Groups and 1x1 kernels keep their paths.
        assert!(!applies::<f32>(&geometry(
            &[2, 8, 8, 32],
            &[3, 3, 16, 64],
            2
        )));
        assert!(!applies::<f32>(&geometry(
            &[2, 8, 8, 32],
            &[1, 1, 32, 64],
            1
        )));
    }
}
