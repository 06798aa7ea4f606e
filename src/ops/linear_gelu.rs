//! `gelu(x · kernel + bias)` as one node on the tape: a `Dense` layer with
//! the GELU activation (the transformer MLP's first layer) in fewer passes
//! over its `[rows, units]` output than `linear` followed by `gelu`.
//!
//! Forward: after the product, one pass adds the bias and computes GELU's
//! value (the output) and its derivative, which overwrites the product's
//! buffer and is all the backward rule keeps (so no more memory than the
//! two nodes kept: their product and their output). Backward: one pass
//! gives `d pre-activation = g ⊙ gelu'` (in `g`'s own buffer when no one
//! else holds it) and the bias gradient's column sums. The two nodes took
//! four passes (bias add, GELU, GELU's backward with a second `erf`, the
//! column sums) and one `erf` more.
//!
//! Every element is computed by the same operations as `linear` then
//! `gelu` ([`gelu_value_and_derivative`] repeats their expressions), and
//! the column sums run in the same pieces and order as `linear`'s bias
//! gradient, so the results are the same bits as the two nodes, for any
//! thread count. Tested in `tests/suite/linear_gelu_fused.rs`.

use super::activation::{gelu_value, gelu_value_and_derivative};
use super::matmul::rhs_grad;
use crate::element::{Float, split_threads};
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::recycle;
use crate::tensor::simd::widest;
use rayon::prelude::*;

/// Rows of a piece when a pass is split over the pool: `linear`'s, so the
/// bias gradient's partial sums are the same.
const PIECE_ROWS: usize = 64;

/// Adds the bias to every row of `z` and writes `gelu` of the sum into
/// `h` and `gelu'` of it into `z`.
fn forward_rows<T: Float>(z: &mut [T], h: &mut [T], bias: &[T]) {
    let out = bias.len();
    let piece = |(zp, hp): (&mut [T], &mut [T])| {
        widest(
            #[inline(always)]
            || {
                for (zr, hr) in zp.chunks_exact_mut(out).zip(hp.chunks_exact_mut(out)) {
                    for ((z, h), &c) in zr.iter_mut().zip(hr.iter_mut()).zip(bias) {
                        let (value, slope) = gelu_value_and_derivative(*z + c);
                        *h = value;
                        *z = slope;
                    }
                }
            },
        )
    };
    let len = PIECE_ROWS.saturating_mul(out);
    if split_threads(z.len()) > 1 {
        crate::in_pool(|| {
            z.par_chunks_mut(len)
                .zip(h.par_chunks_mut(len))
                .for_each(piece)
        });
    } else {
        z.chunks_mut(len).zip(h.chunks_mut(len)).for_each(piece);
    }
}

/// `gelu(z + bias)` written into `z`, for a forward pass that records no
/// gradient.
fn forward_rows_in_place<T: Float>(z: &mut [T], bias: &[T]) {
    let out = bias.len();
    let piece = |zp: &mut [T]| {
        widest(
            #[inline(always)]
            || {
                for zr in zp.chunks_exact_mut(out) {
                    for (z, &c) in zr.iter_mut().zip(bias) {
                        *z = gelu_value(*z + c);
                    }
                }
            },
        )
    };
    let len = PIECE_ROWS.saturating_mul(out);
    if split_threads(z.len()) > 1 {
        crate::in_pool(|| z.par_chunks_mut(len).for_each(piece));
    } else {
        z.chunks_mut(len).for_each(piece);
    }
}

/// `g ⊙ slope` written into `g`, and, if `sums`, the column sums of the
/// result (`out` columns): each piece of [`PIECE_ROWS`] rows sums its rows
/// in order from zero, and the pieces' sums are added in order from zero,
/// as `linear`'s bias gradient does.
fn backward_rows<T: Float>(g: &mut [T], slope: &[T], out: usize, sums: bool) -> Vec<T> {
    let piece = |(gp, sp): (&mut [T], &[T])| {
        widest(
            #[inline(always)]
            || {
                if !sums {
                    for (g, &s) in gp.iter_mut().zip(sp) {
                        *g *= s;
                    }
                    return Vec::new();
                }
                let mut acc = vec![T::zero(); out];
                for (gr, sr) in gp.chunks_exact_mut(out).zip(sp.chunks_exact(out)) {
                    for ((a, g), &s) in acc.iter_mut().zip(gr.iter_mut()).zip(sr) {
                        *g *= s;
                        *a += *g;
                    }
                }
                acc
            },
        )
    };
    let len = PIECE_ROWS.saturating_mul(out);
    let partials: Vec<Vec<T>> = if split_threads(g.len()) > 1 {
        crate::in_pool(|| {
            g.par_chunks_mut(len)
                .zip(slope.par_chunks(len))
                .map(piece)
                .collect()
        })
    } else {
        g.chunks_mut(len)
            .zip(slope.chunks(len))
            .map(piece)
            .collect()
    };
    let mut total = vec![T::zero(); if sums { out } else { 0 }];
    for p in &partials {
        for (t, &v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

impl<'t, T: Float> Var<'t, T> {
    /// `gelu(self · kernel + bias)` in one node, the same values and
    /// gradients (to the bit) as `self.linear(kernel, Some(bias))?.gelu()`,
    /// which it falls back to for a one-row kernel or a single output.
    ///
    /// # Errors
    ///
    /// As [`Var::linear`].
    pub(crate) fn linear_gelu(&self, kernel: &Var<'_, T>, bias: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.same_tape("linear", kernel)?;
        self.same_tape("linear", bias)?;
        let (w_shape, b_shape) = (kernel.shape(), bias.shape());
        let out = match w_shape.as_slice() {
            [rows, out] if *rows > 1 && *out > 1 => *out,
            _ => return Ok(self.linear(kernel, Some(bias))?.gelu()),
        };
        let shape = self.shape();
        if shape.len() < 2 || shape.last() != w_shape.first() {
            return Err(Error::ShapeMismatch {
                op: "linear",
                lhs: shape,
                rhs: w_shape,
            });
        }
        if b_shape != [out] {
            return Err(Error::ShapeMismatch {
                op: "linear",
                lhs: vec![out],
                rhs: b_shape,
            });
        }
        let mut z = self.with_values(kernel, |x, w| x.matmul(w))?;
        let b = bias.value();
        let tape = self.tape();
        let (kernel, bias) = (Var::new(tape, kernel.index()), Var::new(tape, bias.index()));
        if !(self.requires_grad() || kernel.requires_grad() || bias.requires_grad()) {
            forward_rows_in_place(z.as_mut_slice(), b.as_slice());
            // No operand needs a gradient: the tape keeps the value alone.
            return Ok(tape.record_with([*self, kernel, bias], z, |_, _| [None, None, None]));
        }
        let mut h = recycle::written(z.len(), T::zero());
        forward_rows(z.as_mut_slice(), &mut h, b.as_slice());
        let y = Tensor::from_parts(h, z.shape().to_vec());
        let slope = z;
        Ok(
            tape.record_with([*self, kernel, bias], y, move |mut g, io| {
                let (x, w) = (io.x(0), io.x(1));
                if g.unique_mut().is_none() {
                    // Someone else holds the gradient: work on a copy.
                    g = Tensor::from_parts(g.as_slice().to_vec(), g.shape().to_vec());
                }
                let gs = g
                    .unique_mut()
                    .expect("invariant: a new or unshared tensor has one owner");
                let sums = backward_rows(gs, slope.as_slice(), out, io.needs(2));
                [
                    io.needs(0)
                        .then(|| g.matmul_nt(w).expect("invariant: checked by the forward")),
                    io.needs(1).then(|| rhs_grad(x, w.shape(), &g)),
                    io.needs(2).then(|| Tensor::from_parts(sums, vec![out])),
                ]
            }),
        )
    }
}
