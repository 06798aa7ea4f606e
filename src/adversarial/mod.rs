//! Adversarial robustness: attacks that perturb inputs to change a model's
//! output (FGSM, PGD under L∞ and L2), robust accuracy, and the settings of
//! adversarial training.
//!
//! | attack | what it does | paper |
//! |---|---|---|
//! | [`Attack::fgsm`] | one step `x + ε·sign(∇ₓL)` | Goodfellow, Shlens and Szegedy 2014 |
//! | [`Attack::pgd`] | `steps` projected steps of size `α` in the ε-ball, optionally from a random start | Madry et al. 2017 |
//!
//! Like [`explain`](crate::explain), attacks are written against a forward
//! function (`Fn(Var) -> Result<Var>`, e.g. `|x| model.forward_var(x,
//! Mode::Infer)`), so they work with every layer; the loss they ascend is
//! the cross-entropy of the forward function's outputs taken as logits
//! ([`Attack::perturb`]) or any per-sample loss the caller gives
//! ([`Attack::perturb_with_loss`]; `Sequential` passes its compiled loss).
//! The model runs on an inference tape (dropout off, parameters constant).
//!
//! Limits: robust accuracy under an attack is an *upper bound* on the true
//! robust accuracy — a stronger attack (more steps, restarts, other losses)
//! may find more adversarial examples; PGD's guarantee is empirical, not a
//! certificate. Gradient masking (a model whose gradients are useless,
//! not one that is robust) fools gradient attacks.
//!
//! This module owns the attacks and their settings; it knows nothing of
//! models or training loops (`Sequential` and `FitOptions` use it).

mod robust;

pub use robust::{AdversarialTraining, RobustAccuracy, evaluate_robust};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardNormal, StandardUniform};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::explain::check_batch;
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

/// The norm of the perturbation ball.
///
/// # Examples
///
/// ```
/// use tapeflow::adversarial::Norm;
///
/// assert_ne!(Norm::Linf, Norm::L2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `‖δ‖∞ ≤ ε`: every feature moves by at most ε; steps are `α·sign(g)`.
    Linf,
    /// `‖δ‖₂ ≤ ε` per input row; steps are `α·g/‖g‖₂`.
    L2,
}

/// An attack's settings: FGSM or PGD, the norm, ε, the step size α, the
/// number of steps, the random start and its seed, the valid input range
/// and whether the attack is targeted.
///
/// PGD (Madry et al. 2017, "Towards Deep Learning Models Resistant to
/// Adversarial Attacks"): from `x⁰ = x` (or `x` plus a uniform draw from the
/// ε-ball, clipped to the range), repeat `steps` times
/// `xᵏ⁺¹ = clip(Π_ε(xᵏ + α·s(∇ₓL(xᵏ))))` where `s` is `sign` under L∞ and
/// `g/max(‖g‖₂, 10⁻¹²)` per row under L2, `Π_ε` projects onto the ε-ball
/// around `x` (clamping for L∞, rescaling for L2) and `clip` onto the valid
/// range. A targeted attack descends the loss of the target classes
/// instead. FGSM (Goodfellow et al. 2014) is one L∞ step with `α = ε`.
///
/// Defaults: no random start, seed 0, valid range `[0, 1]` (pixels),
/// untargeted.
///
/// # Examples
///
/// ```
/// use tapeflow::adversarial::{Attack, Norm};
///
/// let pgd = Attack::pgd(Norm::Linf, 0.1, 0.01, 20).random_start(true).seed(7);
/// assert_eq!(pgd.name(), "pgd");
/// assert_eq!(Attack::fgsm(0.1).name(), "fgsm");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Attack {
    name: &'static str,
    norm: Norm,
    epsilon: f64,
    step_size: f64,
    steps: usize,
    random_start: bool,
    seed: u64,
    range: Option<(f64, f64)>,
    targeted: bool,
}

impl Attack {
    /// The fast gradient sign method, `x' = clip(x ± ε·sign(∇ₓL))`
    /// (Goodfellow, Shlens and Szegedy 2014, "Explaining and Harnessing
    /// Adversarial Examples"): one L∞ step of size ε.
    ///
    /// Limits: a single linearisation; weak against models trained on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert_eq!(Attack::fgsm(0.3).get_epsilon(), 0.3);
    /// ```
    pub fn fgsm(epsilon: f64) -> Self {
        Attack {
            name: "fgsm",
            norm: Norm::Linf,
            epsilon,
            step_size: epsilon,
            steps: 1,
            random_start: false,
            seed: 0,
            range: Some((0.0, 1.0)),
            targeted: false,
        }
    }

    /// Projected gradient descent on the negative loss (Madry, Makelov,
    /// Schmidt, Tsipras and Vladu 2017), `steps` steps of size `step_size`
    /// in the `norm` ball of radius `epsilon`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{Attack, Norm};
    ///
    /// let a = Attack::pgd(Norm::L2, 1.5, 0.25, 10);
    /// assert_eq!(a.get_steps(), 10);
    /// ```
    pub fn pgd(norm: Norm, epsilon: f64, step_size: f64, steps: usize) -> Self {
        Attack {
            name: "pgd",
            norm,
            step_size,
            steps,
            ..Attack::fgsm(epsilon)
        }
    }

    /// Start from a uniform draw in the ε-ball (clipped to the range)
    /// instead of `x`. Default false.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{Attack, Norm};
    ///
    /// let a = Attack::pgd(Norm::Linf, 0.1, 0.01, 5).random_start(true);
    /// assert!(format!("{a:?}").contains("random_start: true"));
    /// ```
    pub fn random_start(mut self, yes: bool) -> Self {
        self.random_start = yes;
        self
    }

    /// Seed of the random start; the same seed gives the same perturbation.
    /// Default 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert_ne!(Attack::fgsm(0.1).seed(1), Attack::fgsm(0.1).seed(2));
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The valid input range: every perturbed value is clipped to
    /// `[min, max]`. Default `[0, 1]`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// let a = Attack::fgsm(0.1).clip_range(-1.0, 1.0);
    /// assert!(format!("{a:?}").contains("-1.0"));
    /// ```
    pub fn clip_range(mut self, min: f64, max: f64) -> Self {
        self.range = Some((min, max));
        self
    }

    /// No valid range: perturbed values are not clipped.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert!(format!("{:?}", Attack::fgsm(0.1).no_clip()).contains("range: None"));
    /// ```
    pub fn no_clip(mut self) -> Self {
        self.range = None;
        self
    }

    /// Targeted: the labels given to [`perturb`](Self::perturb) are the
    /// classes to reach, and the attack descends their loss. Default false.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert!(format!("{:?}", Attack::fgsm(0.1).targeted(true)).contains("targeted: true"));
    /// ```
    pub fn targeted(mut self, yes: bool) -> Self {
        self.targeted = yes;
        self
    }

    /// `"fgsm"` or `"pgd"`: the op name in this attack's errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert_eq!(Attack::fgsm(0.1).name(), "fgsm");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// ε, the radius of the ball.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert_eq!(Attack::fgsm(0.25).get_epsilon(), 0.25);
    /// ```
    pub fn get_epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The number of gradient steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert_eq!(Attack::fgsm(0.25).get_steps(), 1);
    /// ```
    pub fn get_steps(&self) -> usize {
        self.steps
    }

    /// Whether the attack is targeted.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert!(Attack::fgsm(0.1).targeted(true).is_targeted());
    /// ```
    pub fn is_targeted(&self) -> bool {
        self.targeted
    }

    /// The seed of the random start.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::Attack;
    ///
    /// assert_eq!(Attack::fgsm(0.1).seed(9).get_seed(), 9);
    /// ```
    pub fn get_seed(&self) -> u64 {
        self.seed
    }

    /// Checks the settings, naming the offending one.
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |message: String| {
            Err(Error::InvalidArgument {
                op: self.name,
                message,
            })
        };
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return bad(format!(
                "epsilon must be finite and >= 0, got {}",
                self.epsilon
            ));
        }
        if !(self.step_size.is_finite() && self.step_size >= 0.0) {
            return bad(format!(
                "step_size must be finite and >= 0, got {}",
                self.step_size
            ));
        }
        if self.steps == 0 {
            return bad("steps must be at least 1, got 0".to_string());
        }
        if let Some((lo, hi)) = self.range {
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                return bad(format!(
                    "the clip range needs finite min <= max, got [{lo}, {hi}]"
                ));
            }
        }
        Ok(())
    }

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

/// Checks class labels against logits of shape `shape` (`[rows, classes]`).
pub(crate) fn check_labels(op: &'static str, shape: &[usize], labels: &[usize]) -> Result<()> {
    let classes = match shape {
        [_, c] => *c,
        _ => {
            return Err(Error::InvalidArgument {
                op,
                message: format!("needs model outputs [rows, classes], got shape {shape:?}"),
            });
        }
    };
    if let Some((row, c)) = labels.iter().enumerate().find(|(_, c)| **c >= classes) {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "class {c} (row {row}) is out of range for a model with {classes} outputs"
            ),
        });
    }
    Ok(())
}
