//! The perturbation itself: PGD's steps and projections (FGSM is its
//! one-step case), on [`Attack`].

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};

use super::{Attack, Norm, check_labels};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::explain::check_batch;
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

impl Attack {
    /// The adversarial examples for inputs `x` whose classes are `labels`
    /// (for a targeted attack: the classes to reach), ascending the
    /// cross-entropy of `forward`'s outputs taken as logits (the softmax is
    /// applied inside the loss; a model ending in a softmax should use
    /// [`perturb_with_loss`](Self::perturb_with_loss)).
    ///
    /// # Shapes
    ///
    /// `x`: `[rows, …features]`; `labels`: `[rows]`; `forward(x)`:
    /// `[rows, classes]`; result: `x`'s shape.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `fgsm` or `pgd`) for ε or the step
    /// size negative, NaN or infinite, zero steps, a bad clip range, an
    /// empty batch or a non-finite input, a label count other than `rows`,
    /// a label outside the model's outputs; any error of `forward`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    /// use tapeflow::Tensor;
    ///
    /// // Two logits, z = [x, −x]: class 0 loses when x falls.
    /// let f = tapeflow::explain::forward_fn(|v| tapeflow::Var::concat(&[v, v.neg()], 1));
    /// let x = Tensor::from_vec(vec![0.5f32], &[1, 1])?;
    /// let adv = Attack::fgsm(0.1).perturb(&f, &x, &[0])?;
    /// assert!((adv.to_vec()[0] - 0.4).abs() < 1e-6);
    /// let err = Attack::fgsm(f64::NAN).perturb(&f, &x, &[0]).unwrap_err();
    /// assert_eq!(err.to_string(), "fgsm: epsilon must be finite and >= 0, got NaN");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn perturb<T, F>(&self, forward: F, x: &Tensor<T>, labels: &[usize]) -> Result<Tensor<T>>
    where
        T: Float,
        F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
    {
        let name = self.name;
        let rows = x.shape().first().copied().unwrap_or(0);
        if labels.len() != rows {
            return Err(Error::InvalidArgument {
                op: name,
                message: format!(
                    "needs one label per row, got {} for {rows} rows",
                    labels.len()
                ),
            });
        }
        self.perturb_with_loss(x, |v| {
            let z = forward(v)?;
            check_labels(name, &z.shape(), labels)?;
            z.sparse_softmax_cross_entropy_with_logits(labels)
        })
    }

    /// The adversarial examples for inputs `x` that ascend (or, targeted,
    /// descend) `loss`: any function from the input batch to per-sample
    /// losses (or one scalar), whose sum is differentiated.
    ///
    /// # Shapes
    ///
    /// `x`: `[rows, …features]`; result: `x`'s shape.
    ///
    /// # Errors
    ///
    /// As [`perturb`](Self::perturb), for the settings and `x`; any error of `loss`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{Attack, Norm};
    /// use tapeflow::Tensor;
    ///
    /// // L = Σ x: the L2 step moves along (1, 1)/√2, projected to ‖δ‖ ≤ 0.5.
    /// let x = Tensor::from_vec(vec![0.0f64, 0.0], &[1, 2])?;
    /// let a = Attack::pgd(Norm::L2, 0.5, 1.0, 3).no_clip();
    /// let adv = a.perturb_with_loss(&x, |v| Ok(v.sum()))?;
    /// let s = 0.5 / 2f64.sqrt();
    /// assert!(adv.to_vec().iter().all(|v| (v - s).abs() < 1e-12));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn perturb_with_loss<T, L>(&self, x: &Tensor<T>, loss: L) -> Result<Tensor<T>>
    where
        T: Float,
        L: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
    {
        self.check()?;
        let rows = check_batch(self.name, x)?;
        let width = x.len() / rows;
        let mut adv = x.to_vec();
        if self.random_start {
            self.random_start_into(&mut adv, width);
            self.project(x.as_slice(), &mut adv, width);
        }
        let alpha = self.step_size;
        for step in 0..self.steps {
            let current = Tensor::from_vec(adv.clone(), x.shape())?;
            let tape = GradientTape::inference();
            let xv = tape.watch(&current);
            let total = loss(xv)?.sum();
            let grads = tape.gradient(&total, [xv])?;
            let g = grads
                .get(xv)
                .expect("invariant: the watched input was a target")
                .as_slice()
                .iter()
                .map(|&v| {
                    let v = Float::to_f64(v);
                    if self.targeted { -v } else { v }
                })
                .collect::<Vec<f64>>();
            if g.iter().any(|v| !v.is_finite()) {
                return Err(Error::InvalidArgument {
                    op: self.name,
                    message: format!("the loss gradient is not finite at step {step}"),
                });
            }
            match self.norm {
                Norm::Linf => {
                    for (a, gi) in adv.iter_mut().zip(&g) {
                        *a += T::from_f64(alpha * sign(*gi));
                    }
                }
                Norm::L2 => {
                    for (row, grow) in adv.chunks_mut(width).zip(g.chunks(width)) {
                        let n = grow.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                        for (a, gi) in row.iter_mut().zip(grow) {
                            *a += T::from_f64(alpha * gi / n);
                        }
                    }
                }
            }
            self.project(x.as_slice(), &mut adv, width);
        }
        Tensor::from_vec(adv, x.shape())
    }

    /// Adds a uniform draw from the ε-ball to every row of `adv`: uniform
    /// per feature for L∞; for L2 a Gaussian direction scaled to radius
    /// `ε·u^(1/d)`, which is uniform in the ball.
    fn random_start_into<T: Float>(&self, adv: &mut [T], width: usize) {
        let mut rng = StdRng::seed_from_u64(self.seed);
        let eps = self.epsilon;
        match self.norm {
            Norm::Linf => {
                for a in adv.iter_mut() {
                    let u: f64 = StandardUniform.sample(&mut rng);
                    *a += T::from_f64(eps * (2.0 * u - 1.0));
                }
            }
            Norm::L2 => {
                for row in adv.chunks_mut(width) {
                    let dir: Vec<f64> = (0..width)
                        .map(|_| StandardNormal.sample(&mut rng))
                        .collect();
                    let n = dir.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
                    let u: f64 = StandardUniform.sample(&mut rng);
                    let r = eps * u.powf(1.0 / width as f64);
                    for (a, d) in row.iter_mut().zip(&dir) {
                        *a += T::from_f64(r * d / n);
                    }
                }
            }
        }
    }

    /// Projects `adv` onto the ε-ball around `x` and then the valid range.
    fn project<T: Float>(&self, x: &[T], adv: &mut [T], width: usize) {
        let eps = T::from_f64(self.epsilon);
        match self.norm {
            Norm::Linf => {
                for (a, &xi) in adv.iter_mut().zip(x) {
                    *a = a.max(xi - eps).min(xi + eps);
                }
            }
            Norm::L2 => {
                for (row, xrow) in adv.chunks_mut(width).zip(x.chunks(width)) {
                    let n = row
                        .iter()
                        .zip(xrow)
                        .map(|(a, xi)| (*a - *xi).to_f64().powi(2))
                        .sum::<f64>()
                        .sqrt();
                    if n > self.epsilon {
                        let scale = T::from_f64(self.epsilon / n);
                        for (a, &xi) in row.iter_mut().zip(xrow) {
                            *a = xi + (*a - xi) * scale;
                        }
                    }
                }
            }
        }
        if let Some((lo, hi)) = self.range {
            let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
            for a in adv.iter_mut() {
                *a = a.max(lo).min(hi);
            }
        }
    }
}

/// `sign(g)`, with `sign(0) = 0` as PyTorch's `torch.sign` (Rust's
/// `signum(0.0)` is 1).
fn sign(g: f64) -> f64 {
    if g > 0.0 {
        1.0
    } else if g < 0.0 {
        -1.0
    } else {
        0.0
    }
}
