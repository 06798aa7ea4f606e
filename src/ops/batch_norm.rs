//! Batch normalization on [`Var`] over the last (channel) axis, fused into
//! one node each for training (batch statistics) and inference (given
//! statistics), as Keras's `BatchNormalization` and PyTorch's `batch_norm`
//! compute it.
//!
//! Every axis but the last is reduced: `[batch, features]`,
//! `[batch, steps, channels]` and NHWC `[batch, h, w, channels]` alike.

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::Tensor;

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
fn channel_sums<T: Float>(data: &[T], c: usize, f: impl Fn(T, usize) -> T) -> Vec<T> {
    let mut s = vec![T::zero(); c];
    for row in data.chunks_exact(c) {
        for (k, (acc, &v)) in s.iter_mut().zip(row).enumerate() {
            *acc += f(v, k);
        }
    }
    s
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
        let mean: Vec<T> = channel_sums(xs, c, |v, _| v)
            .iter()
            .map(|&s| s / n)
            .collect();
        let var: Vec<T> = channel_sums(xs, c, |v, k| (v - mean[k]) * (v - mean[k]))
            .iter()
            .map(|&s| s / n)
            .collect();
        let eps = T::from_f64(epsilon);
        let inv_std: Vec<T> = var.iter().map(|&v| T::one() / (v + eps).sqrt()).collect();
        let (gv, bv) = (gamma.value(), beta.value());
        let (gs, bs) = (gv.as_slice(), bv.as_slice());
        let mut xhat = Vec::with_capacity(xs.len());
        let mut y = Vec::with_capacity(xs.len());
        for row in xs.chunks_exact(c) {
            for (k, &v) in row.iter().enumerate() {
                let h = (v - mean[k]) * inv_std[k];
                xhat.push(h);
                y.push(gs[k] * h + bs[k]);
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
        let out = self
            .tape()
            .record_partial([*self, gamma_v, beta_v], y, move |g| {
                let g = g.as_slice();
                let sum_g = channel_sums(g, c, |v, _| v);
                let mut sum_gx = vec![T::zero(); c];
                for (gr, hr) in g.chunks_exact(c).zip(xhat.chunks_exact(c)) {
                    for ((s, &a), &b) in sum_gx.iter_mut().zip(gr).zip(hr) {
                        *s += a * b;
                    }
                }
                let dx = lx.then(|| {
                    let mut dx = Vec::with_capacity(g.len());
                    for (gr, hr) in g.chunks_exact(c).zip(xhat.chunks_exact(c)) {
                        for k in 0..c {
                            let scale = gv.as_slice()[k] * inv_std[k] / n;
                            dx.push(scale * (n * gr[k] - sum_g[k] - hr[k] * sum_gx[k]));
                        }
                    }
                    Tensor::from_parts(dx, shape.clone())
                });
                [
                    dx,
                    lg.then(|| Tensor::from_parts(sum_gx.clone(), vec![c])),
                    lb.then(|| Tensor::from_parts(sum_g.clone(), vec![c])),
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
                let db = lb.then(|| {
                    Tensor::from_parts(channel_sums(gsl, c.max(1), |v, _| v)[..c].to_vec(), vec![c])
                });
                [dx, dg, db]
            }))
    }
}
