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

mod pgd;
mod robust;

pub use robust::{AdversarialTraining, RobustAccuracy, evaluate_robust};

use crate::error::{Error, Result};

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
        if let Some((lo, hi)) = self.range
            && !(lo.is_finite() && hi.is_finite() && lo <= hi)
        {
            return bad(format!(
                "the clip range needs finite min <= max, got [{lo}, {hi}]"
            ));
        }
        Ok(())
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
