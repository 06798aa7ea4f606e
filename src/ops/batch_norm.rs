//! Batch normalization on [`Var`] over the last (channel) axis, fused into
//! one node each for training (batch statistics) and inference (given
//! statistics), as Keras's `BatchNormalization` and PyTorch's `batch_norm`
//! compute it.
//!
//! Every axis but the last is reduced: `[batch, features]`,
//! `[batch, steps, channels]` and NHWC `[batch, h, w, channels]` alike.
//!
//! Training mode reads the input twice (the mean, then the squared
//! deviations) and writes the output once; its backward pass reads the
//! gradient and the input once for both sums and once for `d x`. Each pass
//! runs over contiguous rows with per-channel accumulators, in chunks of
//! whole rows fixed by the shape (not by the thread count) that run on the
//! pool when more than one thread is allowed; partial sums are added in
//! chunk order, so 1 and 2 threads give the same bits.

use std::ops::Range;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::conv_gemm::run_tasks;
use crate::tensor::{Tensor, try_filled};

/// Checks `x` (rank >= 2), `gamma` and `beta` (`[channels]`) and epsilon;
/// returns the channel count.
fn check<T: Float>(
    op: &'static str,
    x: &Var<'_, T>,
    gamma: &Var<'_, T>,
    beta: &Var<'_, T>,
    epsilon: f64,
) -> Result<usize> {
    x.same_tape(op, gamma)?;
    x.same_tape(op, beta)?;
    let shape = x.shape();
    let Some(&c) = shape.last().filter(|_| shape.len() >= 2) else {
        return Err(Error::RankMismatch {
            op,
            expected: "an input of rank >= 2 with channels last",
            shape,
        });
    };
    for p in [gamma, beta] {
        if p.shape() != [c] {
            return Err(Error::ShapeMismatch {
                op,
                lhs: shape,
                rhs: p.shape(),
            });
        }
    }
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(Error::InvalidArgument {
            op,
            message: format!("epsilon must be finite and > 0, got {epsilon}"),
        });
    }
    Ok(c)
}

/// Per-channel sums of `f(row element, channel)` over the rows of `[rows, c]`.
/// Elements a chunk of rows holds (rounded down to whole rows): the sums
/// and maps below cut the data into chunks fixed by the shape, never by the
/// thread count, so results are the same bits on 1 thread and on 2.
const CHUNK_ELEMS: usize = 1 << 15;

/// Elements per chunk for rows of `c` channels (at least one row).
fn chunk_len(c: usize) -> usize {
    (CHUNK_ELEMS / c.max(1)).max(1) * c.max(1)
}

/// Per-channel sums over the rows of `len` elements: `f(range, acc)` adds
/// the elements `range` (whole rows) into `acc` (`width` sums); the chunks'
/// partial sums are added in chunk order.
fn channel_reduce<T: Float>(
    len: usize,
    c: usize,
    width: usize,
    f: impl Fn(Range<usize>, &mut [T]) + Sync + Send,
) -> Vec<T> {
    let step = chunk_len(c);
    let tasks: Vec<Range<usize>> = (0..len)
        .step_by(step)
        .map(|s| s..(s + step).min(len))
        .collect();
    let parts = run_tasks(tasks, |r| {
        let mut acc = vec![T::zero(); width];
        f(r, &mut acc);
        acc
    });
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![T::zero(); width]);
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// Fills `out` chunk by chunk of whole rows: `f(start, chunk)` writes the
/// elements from `start`.
fn channel_map<T: Float>(out: &mut [T], c: usize, f: impl Fn(usize, &mut [T]) + Sync + Send) {
    let step = chunk_len(c);
    let tasks: Vec<_> = out.chunks_mut(step).enumerate().collect();
    run_tasks(tasks, |(i, o)| f(i * step, o));
}

/// `Σ x` per channel (nothing for no channels).
fn sums<T: Float>(xs: &[T], c: usize) -> Vec<T> {
    if c == 0 {
        return Vec::new();
    }
    channel_reduce::<T>(xs.len(), c, c, |r, acc| {
        for row in xs[r].chunks_exact(c) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
    })
}

impl<'t, T: Float> Var<'t, T> {
    /// Batch normalization with the batch's own statistics (training mode):
    /// `y = γ · (x - μ) / √(σ² + ε) + β`, with `μ` and `σ²` the mean and the
    /// biased variance of each channel over every other axis. Returns `y`
    /// and the batch statistics `(μ, σ²)` (for a layer's moving averages).
    ///
    /// Gradient (one node), with `x̂ = (x - μ) / √(σ² + ε)` and `N` rows:
    /// `d x = γ / (N √(σ² + ε)) · (N g - Σ g - x̂ Σ g x̂)`, `d γ = Σ g x̂`,
    /// `d β = Σ g`, sums over the rows.
    ///
    /// # Shapes
    ///
    /// `self`: `[..., channels]` (rank >= 2); `gamma`, `beta`: `[channels]`;
    /// the result has `self`'s shape; the statistics are `[channels]`.
    ///
    /// # Errors
    ///
    /// [`Error::RankMismatch`] (op `batch_norm`) for an input of rank < 2
    /// or with no rows; [`Error::ShapeMismatch`] for `gamma` or `beta` not
    /// `[channels]`; [`Error::InvalidArgument`] for `epsilon <= 0` or not
    /// finite; [`Error::TapeMismatch`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![1.0f64, 3.0], &[2, 1])?);
    /// let (gamma, beta) = (tape.constant(&Tensor::ones(&[1])?), tape.constant(&Tensor::zeros(&[1])?));
    /// let (y, mean, var) = x.batch_norm_training(&gamma, &beta, 1e-3)?;
    /// assert_eq!((mean.to_vec(), var.to_vec()), (vec![2.0], vec![1.0]));
    /// let s = 1.0 / (1.0f64 + 1e-3).sqrt();
    /// assert_eq!(y.value().to_vec(), vec![-s, s]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn batch_norm_training(
        &self,
        gamma: &Var<'_, T>,
        beta: &Var<'_, T>,
        epsilon: f64,
    ) -> Result<(Var<'t, T>, Tensor<T>, Tensor<T>)> {
        const OP: &str = "batch_norm";
        let c = check(OP, self, gamma, beta, epsilon)?;
        let x = self.value();
        let rows = x.len().checked_div(c).unwrap_or(0);
        if rows == 0 {
            return Err(Error::RankMismatch {
                op: OP,
                expected: "an input with at least one row per channel",
                shape: x.shape().to_vec(),
            });
        }
        let n = T::from_usize(rows);
        let xs = x.as_slice();
        let mean: Vec<T> = sums(xs, c).iter().map(|&s| s / n).collect();
        // Two passes (the mean, then squared deviations) for accuracy.
        let var: Vec<T> = channel_reduce::<T>(xs.len(), c, c, |r, acc| {
            for row in xs[r].chunks_exact(c) {
                for ((a, &v), &m) in acc.iter_mut().zip(row).zip(&mean) {
                    *a += (v - m) * (v - m);
                }
            }
        })
        .iter()
        .map(|&s| s / n)
        .collect();
        let eps = T::from_f64(epsilon);
        let inv_std: Vec<T> = var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect();
        let (gv, bv) = (gamma.value(), beta.value());
        let (gs, bs) = (gv.as_slice(), bv.as_slice());
        let scale: Vec<T> = gs.iter().zip(&inv_std).map(|(&g, &s)| g * s).collect();
        let mut y = try_filled(OP, x.shape(), T::zero())?;
        channel_map(&mut y, c, |start, out| {
            let src = &xs[start..start + out.len()];
            for (o, v) in out.chunks_exact_mut(c).zip(src.chunks_exact(c)) {
                for ((((o, &v), &m), &s), &b) in o.iter_mut().zip(v).zip(&mean).zip(&scale).zip(bs)
                {
                    *o = (v - m) * s + b;
                }
            }
        });
        let shape = x.shape().to_vec();
        let y = Tensor::from_parts(y, shape.clone());
        let (gamma_v, beta_v) = (
            Var::new(self.tape(), gamma.index()),
            Var::new(self.tape(), beta.index()),
        );
        let (lx, lg, lb) = (
            self.requires_grad(),
            gamma_v.requires_grad(),
            beta_v.requires_grad(),
        );
        let mean_k = mean.clone();
        let out = self
            .tape()
            .record_partial([*self, gamma_v, beta_v], y, move |g| {
                let (g, xs, mean) = (g.as_slice(), x.as_slice(), &mean_k);
                // [Σ g | Σ g (x - μ)] per channel, in one pass.
                let both = channel_reduce::<T>(g.len(), c, 2 * c, |r, acc| {
                    let (sg, sgx) = acc.split_at_mut(c);
                    for (gr, xr) in g[r.clone()].chunks_exact(c).zip(xs[r].chunks_exact(c)) {
                        for ((((a, b), &gv), &xv), &m) in
                            sg.iter_mut().zip(sgx.iter_mut()).zip(gr).zip(xr).zip(mean)
                        {
                            *a += gv;
                            *b += gv * (xv - m);
                        }
                    }
                });
                let (sum_g, sum_gxc) = both.split_at(c);
                // d γ = Σ g x̂ = inv_std · Σ g (x - μ).
                let sum_gx: Vec<T> = sum_gxc.iter().zip(&inv_std).map(|(&a, &s)| a * s).collect();
                let dx = lx.then(|| {
                    // d x = a g + b (x - μ) + c0 per channel, from
                    // γ / (N σ̂) · (N g - Σ g - x̂ Σ g x̂).
                    let a: Vec<T> = scale.clone();
                    let b: Vec<T> = (0..c)
                        .map(|k| -scale[k] * inv_std[k] * sum_gx[k] / n)
                        .collect();
                    let c0: Vec<T> = (0..c).map(|k| -scale[k] * sum_g[k] / n).collect();
                    let mut dx = crate::tensor::recycle::filled(g.len(), T::zero());
                    channel_map(&mut dx, c, |start, out| {
                        let (gr, xr) =
                            (&g[start..start + out.len()], &xs[start..start + out.len()]);
                        for ((o, gv), xv) in out
                            .chunks_exact_mut(c)
                            .zip(gr.chunks_exact(c))
                            .zip(xr.chunks_exact(c))
                        {
                            let coef = a.iter().zip(&b).zip(&c0).zip(mean);
                            for ((o, (&gv, &xv)), (((&a, &b), &c0), &m)) in
                                o.iter_mut().zip(gv.iter().zip(xv)).zip(coef)
                            {
                                *o = a * gv + b * (xv - m) + c0;
                            }
                        }
                    });
                    Tensor::from_parts(dx, shape.clone())
                });
                [
                    dx,
                    lg.then(|| Tensor::from_parts(sum_gx.clone(), vec![c])),
                    lb.then(|| Tensor::from_parts(sum_g.to_vec(), vec![c])),
                ]
            });
        Ok((
            out,
            Tensor::from_parts(mean, vec![c]),
            Tensor::from_parts(var, vec![c]),
        ))
    }

    /// Batch normalization with given statistics (inference mode):
    /// `y = γ · (x - mean) / √(variance + ε) + β` per channel.
    ///
    /// Gradient: `d x = g γ / √(variance + ε)`, `d γ = Σ g (x - mean) / √(variance + ε)`,
    /// `d β = Σ g`; the statistics are constants.
    ///
    /// # Shapes
    ///
    /// As [`batch_norm_training`](Var::batch_norm_training); `mean` and
    /// `variance` are `[channels]`.
    ///
    /// # Errors
    ///
    /// As [`batch_norm_training`](Var::batch_norm_training) (without the
    /// row requirement), and [`Error::ShapeMismatch`] for statistics that are
    /// not `[channels]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::from_vec(vec![4.0f64, 6.0], &[2, 1])?);
    /// let (gamma, beta) = (tape.constant(&Tensor::full(&[1], 2.0)?), tape.constant(&Tensor::ones(&[1])?));
    /// let (mean, var) = (Tensor::full(&[1], 5.0)?, Tensor::full(&[1], 4.0 - 0.5)?);
    /// let y = x.batch_norm_inference(&gamma, &beta, &mean, &var, 0.5)?;
    /// assert_eq!(y.value().to_vec(), vec![0.0, 2.0]);   // 2 · (x - 5) / 2 + 1
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn batch_norm_inference(
        &self,
        gamma: &Var<'_, T>,
        beta: &Var<'_, T>,
        mean: &Tensor<T>,
        variance: &Tensor<T>,
        epsilon: f64,
    ) -> Result<Var<'t, T>> {
        const OP: &str = "batch_norm";
        let c = check(OP, self, gamma, beta, epsilon)?;
        for s in [mean, variance] {
            if s.shape() != [c] {
                return Err(Error::ShapeMismatch {
                    op: OP,
                    lhs: self.shape(),
                    rhs: s.shape().to_vec(),
                });
            }
        }
        let x = self.value();
        let eps = T::from_f64(epsilon);
        let inv_std: Vec<T> = variance
            .as_slice()
            .iter()
            .map(|&v| T::one() / (v + eps).sqrt())
            .collect();
        let (gv, bv) = (gamma.value(), beta.value());
        let (gs, bs, ms) = (gv.as_slice(), bv.as_slice(), mean.to_vec());
        let scale: Vec<T> = gs.iter().zip(&inv_std).map(|(&g, &s)| g * s).collect();
        let mut y = Vec::with_capacity(x.len());
        if c > 0 {
            for row in x.as_slice().chunks_exact(c) {
                for k in 0..c {
                    y.push((row[k] - ms[k]) * scale[k] + bs[k]);
                }
            }
        }
        let shape = x.shape().to_vec();
        let y = Tensor::from_parts(y, shape.clone());
        let (gamma_v, beta_v) = (
            Var::new(self.tape(), gamma.index()),
            Var::new(self.tape(), beta.index()),
        );
        let (lx, lg, lb) = (
            self.requires_grad(),
            gamma_v.requires_grad(),
            beta_v.requires_grad(),
        );
        Ok(self
            .tape()
            .record_partial([*self, gamma_v, beta_v], y, move |g| {
                let gsl = g.as_slice();
                let dx = lx.then(|| {
                    let mut dx = Vec::with_capacity(gsl.len());
                    for row in gsl.chunks_exact(c.max(1)) {
                        dx.extend(row.iter().zip(&scale).map(|(&a, &s)| a * s));
                    }
                    Tensor::from_parts(dx, shape.clone())
                });
                let dg = lg.then(|| {
                    let mut d = vec![T::zero(); c];
                    for (gr, xr) in gsl
                        .chunks_exact(c.max(1))
                        .zip(x.as_slice().chunks_exact(c.max(1)))
                    {
                        for k in 0..c {
                            d[k] += gr[k] * (xr[k] - ms[k]) * inv_std[k];
                        }
                    }
                    Tensor::from_parts(d, vec![c])
                });
                let db = lb.then(|| Tensor::from_parts(sums(gsl, c), vec![c]));
                [dx, dg, db]
            }))
    }
}
