//! Layer normalization on [`Var`] over the last axis, forward and backward
//! fused in one node (Ba, Kiros and Hinton, 2016, "Layer Normalization").

use crate::element::Float;
use crate::element::split_threads;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;
use crate::tensor::recycle;
use crate::tensor::simd::{lane_dot, lane_sum, widest};
use rayon::prelude::*;

/// Rows a piece of the pass holds when it is split over the pool: the
/// rows of a piece are done in order by one thread, and `dγ`, `dβ` are
/// summed per piece, then over the pieces in order, so the bits do not
/// depend on the thread count. 64 rows of 128 are the 8,192 elements of
/// the elementwise passes' pieces.
const PIECE_ROWS: usize = 64;

/// A forward piece: the input rows, their `x̂`, their output, their `1/σ`.
type ForwardPiece<'a, T> = (((&'a [T], &'a mut [T]), &'a mut [T]), &'a mut [T]);

/// A backward piece: the upstream rows, their `x̂`, their `1/σ`, their `dx`.
type BackwardPiece<'a, T> = (((&'a [T], &'a [T]), &'a [T]), &'a mut [T]);

impl<'t, T: Float> Var<'t, T> {
    /// Normalizes each row over the last axis, then scales and shifts:
    /// `x̂ = (x - μ) / √(σ² + ε)`, `y = γ ⊙ x̂ + β`, with `μ` and the biased
    /// variance `σ²` of the row (PyTorch's `F.layer_norm`, Keras's
    /// `LayerNormalization` with `axis = -1`). `γ` and `β` are optional.
    ///
    /// Gradient (one pass per row, `ĝ = g ⊙ γ`, means over the row):
    /// `dx = (ĝ - mean(ĝ) - x̂ ⊙ mean(ĝ ⊙ x̂)) / √(σ² + ε)`,
    /// `dγ = Σ_rows g ⊙ x̂`, `dβ = Σ_rows g`.
    ///
    /// # Shapes
    ///
    /// `self`: `[..., n]`; `gamma`, `beta`: `[n]`; result: `self`'s shape.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `layer_norm`) for a scalar or an empty
    /// last axis; [`Error::ShapeMismatch`] if `gamma` or `beta` is not
    /// `[n]`; [`Error::InvalidArgument`] for an `epsilon` that is negative
    /// or not finite; [`Error::TapeMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1.0f64, 3.0], &[1, 2])?);
    /// let y = x.layer_norm(None, None, 0.0)?;
    /// assert_eq!(y.value().to_vec(), vec![-1.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn layer_norm(
        &self,
        gamma: Option<&Var<'_, T>>,
        beta: Option<&Var<'_, T>>,
        epsilon: f64,
    ) -> Result<Var<'t, T>> {
        const OP: &str = "layer_norm";
        let x = self.value();
        let n = match x.shape().last() {
            Some(&n) if n > 0 => n,
            _ => {
                return Err(Error::RankMismatch {
                    op: OP,
                    expected: "a non-empty last axis",
                    shape: x.shape().to_vec(),
                });
            }
        };
        if !(epsilon >= 0.0 && epsilon.is_finite()) {
            return Err(Error::InvalidArgument {
                op: OP,
                message: format!("epsilon must be finite and >= 0, got {epsilon}"),
            });
        }
        let mut parents = vec![*self];
        let mut affine = Vec::new();
        for p in [gamma, beta].into_iter().flatten() {
            self.same_tape(OP, p)?;
            let v = p.value();
            if v.shape() != [n] {
                return Err(Error::ShapeMismatch {
                    op: OP,
                    lhs: x.shape().to_vec(),
                    rhs: v.shape().to_vec(),
                });
            }
            parents.push(Var::new(self.tape(), p.index()));
            affine.push(v);
        }
        let g_val = gamma.map(|_| affine[0].clone());
        let b_val = beta.map(|_| affine[affine.len() - 1].clone());
        let eps = T::from_f64(epsilon);
        let inv_n = T::from_f64(1.0 / n as f64);
        let rows = x.len() / n;
        // Every element of both is written below (each row's pass), so
        // large buffers of the buffer cache are taken as they are.
        let mut xhat = recycle::written(x.len(), T::zero());
        let mut y = recycle::written(x.len(), T::zero());
        let mut rstd = vec![T::zero(); rows];
        let (gs, bs) = (g_val.as_ref(), b_val.as_ref());
        // One piece of `PIECE_ROWS` rows; every row is its own, so the
        // bits do not depend on how the pieces are shared out.
        let piece = |(((row, xr), yr), rr): ForwardPiece<'_, T>| {
            // The rows' loops compiled for the widest vector unit (same bits).
            widest(
                #[inline(always)]
                || {
                    for (((row, xr), yr), r_out) in row
                        .chunks_exact(n)
                        .zip(xr.chunks_exact_mut(n))
                        .zip(yr.chunks_exact_mut(n))
                        .zip(rr.iter_mut())
                    {
                        let mean = lane_sum(row, |v| v) * inv_n;
                        let var = lane_sum(row, |v| (v - mean) * (v - mean)) * inv_n;
                        let r = T::one() / (var + eps).sqrt();
                        *r_out = r;
                        for (h, &v) in xr.iter_mut().zip(row) {
                            *h = (v - mean) * r;
                        }
                        // One pass for `γ ⊙ x̂ + β`, whichever of the two are present.
                        match (gs, bs) {
                            (Some(g), Some(b)) => {
                                for ((o, &h), (&g, &b)) in yr
                                    .iter_mut()
                                    .zip(&*xr)
                                    .zip(g.as_slice().iter().zip(b.as_slice()))
                                {
                                    *o = h * g + b;
                                }
                            }
                            (Some(g), None) => {
                                for ((o, &h), &g) in yr.iter_mut().zip(&*xr).zip(g.as_slice()) {
                                    *o = h * g;
                                }
                            }
                            (None, Some(b)) => {
                                for ((o, &h), &b) in yr.iter_mut().zip(&*xr).zip(b.as_slice()) {
                                    *o = h + b;
                                }
                            }
                            (None, None) => yr.copy_from_slice(xr),
                        }
                    }
                },
            )
        };
        let len = PIECE_ROWS.saturating_mul(n);
        if split_threads(x.len()) > 1 {
            crate::in_pool(|| {
                x.as_slice()
                    .par_chunks(len)
                    .zip(xhat.par_chunks_mut(len))
                    .zip(y.par_chunks_mut(len))
                    .zip(rstd.par_chunks_mut(PIECE_ROWS))
                    .for_each(piece)
            });
        } else {
            x.as_slice()
                .chunks(len)
                .zip(xhat.chunks_mut(len))
                .zip(y.chunks_mut(len))
                .zip(rstd.chunks_mut(PIECE_ROWS))
                .for_each(piece);
        }
        let shape = x.shape().to_vec();
        let y = Tensor::from_parts(y, shape.clone());
        let (has_gamma, has_beta) = (gamma.is_some(), beta.is_some());
        Ok(self.tape().record_many(&parents, y, move |g| {
            let gs = g.as_slice();
            // Every row of `dx` is written below.
            let mut dx = recycle::written(gs.len(), T::zero());
            // One piece of `PIECE_ROWS` rows: its rows' `dx`, and its own
            // partial sums of `dγ` and `dβ` (rows added in order).
            let piece = |(((gp, xp), rp), dp): BackwardPiece<'_, T>| {
                widest(
                    #[inline(always)]
                    || {
                        let mut dgamma = vec![T::zero(); n];
                        let mut dbeta = vec![T::zero(); n];
                        let mut ghat = vec![T::zero(); n];
                        for (((gr, xr), &r), dr) in gp
                            .chunks_exact(n)
                            .zip(xp.chunks_exact(n))
                            .zip(rp)
                            .zip(dp.chunks_exact_mut(n))
                        {
                            match &g_val {
                                Some(s) => {
                                    for ((h, &g), &s) in ghat.iter_mut().zip(gr).zip(s.as_slice()) {
                                        *h = g * s;
                                    }
                                }
                                None => ghat.copy_from_slice(gr),
                            }
                            for ((dg, db), (&g, &h)) in dgamma
                                .iter_mut()
                                .zip(dbeta.iter_mut())
                                .zip(gr.iter().zip(xr))
                            {
                                *dg += g * h;
                                *db += g;
                            }
                            let m1 = lane_sum(&ghat, |v| v) * inv_n;
                            let m2 = lane_dot(&ghat, xr) * inv_n;
                            for ((d, &h), &xv) in dr.iter_mut().zip(&ghat).zip(xr) {
                                *d = (h - m1 - xv * m2) * r;
                            }
                        }
                        (dgamma, dbeta)
                    },
                )
            };
            let len = PIECE_ROWS.saturating_mul(n);
            let partials: Vec<(Vec<T>, Vec<T>)> = if split_threads(gs.len()) > 1 {
                crate::in_pool(|| {
                    gs.par_chunks(len)
                        .zip(xhat.par_chunks(len))
                        .zip(rstd.par_chunks(PIECE_ROWS))
                        .zip(dx.par_chunks_mut(len))
                        .map(piece)
                        .collect()
                })
            } else {
                gs.chunks(len)
                    .zip(xhat.chunks(len))
                    .zip(rstd.chunks(PIECE_ROWS))
                    .zip(dx.chunks_mut(len))
                    .map(piece)
                    .collect()
            };
            // The pieces' partial sums added in piece order, whatever the
            // thread count.
            let mut dgamma = vec![T::zero(); n];
            let mut dbeta = vec![T::zero(); n];
            for (pg, pb) in &partials {
                for ((dg, db), (&a, &b)) in dgamma
                    .iter_mut()
                    .zip(dbeta.iter_mut())
                    .zip(pg.iter().zip(pb))
                {
                    *dg += a;
                    *db += b;
                }
            }
            let mut grads = vec![Tensor::from_parts(dx, shape.clone())];
            if has_gamma {
                grads.push(Tensor::from_parts(dgamma, vec![n]));
            }
            if has_beta {
                grads.push(Tensor::from_parts(dbeta, vec![n]));
            }
            grads
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientTape, Tensor};

    #[test]
    fn layer_norm_golden_forward_and_backward() {
        // Row [1, 2, 3]: μ = 2, σ² = 2/3, ε = 0: x̂ = [-1, 0, 1]·√1.5.
        // γ = [1, 2, 3], β = [0, 0, 1]: y = [-√1.5, 0, 3√1.5 + 1].
        // Upstream g = [1, 0, 0]: dβ = g, dγ = g ⊙ x̂ = [-√1.5, 0, 0].
        let tape = GradientTape::<f64>::new();
        let x = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0], &[1, 3]).unwrap());
        let gamma = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3]).unwrap());
        let beta = tape.watch(&Tensor::from_vec(vec![0.0, 0.0, 1.0], &[3]).unwrap());
        let y = x.layer_norm(Some(&gamma), Some(&beta), 0.0).unwrap();
        let s = 1.5f64.sqrt();
        let v = y.value().to_vec();
        for (a, b) in v.iter().zip([-s, 0.0, 3.0 * s + 1.0]) {
            assert!((a - b).abs() < 1e-12, "{v:?}");
        }
        let r = Tensor::from_vec(vec![1.0, 0.0, 0.0], &[1, 3]).unwrap();
        let g = tape.gradient_with(&y, &r, [x, gamma, beta]).unwrap();
        assert_eq!(g.get(beta).unwrap().to_vec(), vec![1.0, 0.0, 0.0]);
        let dg = g.get(gamma).unwrap().to_vec();
        assert!((dg[0] + s).abs() < 1e-12 && dg[1].abs() < 1e-12);
        // dx sums to zero over the row (normalization removes the mean).
        assert!(g.get(x).unwrap().sum().abs() < 1e-12);
    }

    #[test]
    fn layer_norm_rejects_a_bad_gamma_and_epsilon() {
        let tape = GradientTape::<f32>::new();
        let x = tape.watch(&Tensor::zeros(&[2, 3]).unwrap());
        let g = tape.watch(&Tensor::zeros(&[4]).unwrap());
        let err = x.layer_norm(Some(&g), None, 1e-3).unwrap_err().to_string();
        assert_eq!(err, "layer_norm: shape mismatch, lhs [2, 3], rhs [4]");
        assert!(x.layer_norm(None, None, -1.0).is_err());
        assert!(x.layer_norm(None, None, f64::NAN).is_err());
    }
}
