//! Robust accuracy ([`evaluate_robust`]) and the settings of adversarial
//! training ([`AdversarialTraining`], taken by `FitOptions`).

use super::{Attack, check_labels};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::explain::check_batch;
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

/// Rows attacked at once in [`evaluate_robust`].
const ROBUST_BATCH: usize = 256;

/// Clean and robust accuracy, from [`evaluate_robust`].
///
/// # Examples
///
/// ```
/// use tapeflow::adversarial::RobustAccuracy;
///
/// let r = RobustAccuracy { clean: 0.98, robust: 0.85 };
/// assert!(r.robust <= r.clean);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RobustAccuracy {
    /// The share of rows whose clean input is classified correctly.
    pub clean: f64,
    /// The share of rows whose adversarial example (from the attack) is
    /// still classified correctly.
    pub robust: f64,
}

/// The clean accuracy and the robust accuracy under `attack` of a
/// classifier given as a forward function returning logits, on inputs `x`
/// with classes `labels`; the attack runs untargeted on batches of 256
/// rows. The predicted class is the argmax of each output row.
///
/// Robust accuracy here is the accuracy on the attack's adversarial
/// examples: an upper bound on the true robust accuracy (a stronger
/// attack may do better).
///
/// # Shapes
///
/// `x`: `[rows, …features]`; `labels`: `[rows]`; `forward(x)`: `[rows, classes]`.
///
/// # Errors
///
/// As [`Attack::perturb`]; [`Error::InvalidArgument`] for a targeted attack.
///
/// # Examples
///
/// ```
/// use tapeflow::adversarial::{Attack, evaluate_robust};
/// use tapeflow::{Tensor, Var};
///
/// // Logits [x, −x]: class 0 iff x > 0; ε = 0.2 flips the rows with x < 0.2
/// // (no clipping: these inputs are not pixels).
/// let f = tapeflow::explain::forward_fn(|v| Var::concat(&[v, v.neg()], 1));
/// let x = Tensor::from_vec(vec![0.1f32, 0.5, 0.9, 0.05], &[4, 1])?;
/// let r = evaluate_robust(&f, &Attack::fgsm(0.2).no_clip(), &x, &[0, 0, 0, 0])?;
/// assert_eq!((r.clean, r.robust), (1.0, 0.5));
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn evaluate_robust<T, F>(
    forward: F,
    attack: &Attack,
    x: &Tensor<T>,
    labels: &[usize],
) -> Result<RobustAccuracy>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    const OP: &str = "evaluate_robust";
    if attack.targeted {
        return Err(Error::InvalidArgument {
            op: OP,
            message: "robust accuracy needs an untargeted attack".to_string(),
        });
    }
    attack.check()?;
    let rows = check_batch(OP, x)?;
    if labels.len() != rows {
        return Err(Error::InvalidArgument {
            op: OP,
            message: format!(
                "needs one label per row, got {} for {rows} rows",
                labels.len()
            ),
        });
    }
    let (mut clean, mut robust) = (0usize, 0usize);
    for start in (0..rows).step_by(ROBUST_BATCH) {
        let range = start..(start + ROBUST_BATCH).min(rows);
        let xb = x.slice_rows(range.clone())?;
        // `range` ends at `rows`, and `labels.len() == rows` was checked above.
        let lb = &labels[range];
        clean += correct(OP, &forward, &xb, lb)?;
        let adv = attack.perturb(&forward, &xb, lb)?;
        robust += correct(OP, &forward, &adv, lb)?;
    }
    Ok(RobustAccuracy {
        clean: clean as f64 / rows as f64,
        robust: robust as f64 / rows as f64,
    })
}

/// The number of rows of `x` whose output's argmax is their label.
fn correct<T, F>(op: &'static str, forward: &F, x: &Tensor<T>, labels: &[usize]) -> Result<usize>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    let tape = GradientTape::inference();
    let z = forward(tape.constant(x))?.value();
    check_labels(op, z.shape(), labels)?;
    Ok(argmax_rows(&z)
        .iter()
        .zip(labels)
        .filter(|(p, l)| p == l)
        .count())
}

/// The argmax of each row of a `[rows, classes]` tensor (first on ties).
pub(crate) fn argmax_rows<T: Float>(z: &Tensor<T>) -> Vec<usize> {
    let width = z.shape().last().copied().unwrap_or(1).max(1);
    z.as_slice()
        .chunks(width)
        .map(|row| crate::tensor::argmax_slice(row))
        .collect()
}

/// Adversarial training (Madry et al. 2017; Goodfellow et al. 2014's mixed
/// objective when `share < 1`): in each training batch, the first
/// `⌈share · rows⌉` rows (the batch is shuffled) are replaced by their
/// adversarial examples under `attack`, made against the model's current
/// weights with its compiled loss, before the gradient step. With
/// [`validate`](Self::validate), each epoch also records the robust
/// accuracy on the validation data as `val_robust_accuracy` (and the clean
/// one as `val_clean_accuracy`) in the History.
///
/// The attack's seed is mixed with the epoch and batch numbers, so each
/// batch gets its own random start and a seeded run repeats exactly.
///
/// # Examples
///
/// ```
/// use tapeflow::adversarial::{AdversarialTraining, Attack, Norm};
///
/// let at = AdversarialTraining::new(Attack::pgd(Norm::Linf, 0.1, 0.025, 7).random_start(true), 1.0)
///     .validate(true);
/// assert_eq!(at.get_share(), 1.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AdversarialTraining {
    pub(crate) attack: Attack,
    pub(crate) share: f64,
    pub(crate) validate: bool,
}

impl AdversarialTraining {
    /// Perturbs the share `share` (in `[0, 1]`) of each batch with `attack`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{AdversarialTraining, Attack};
    ///
    /// assert_eq!(AdversarialTraining::new(Attack::fgsm(0.1), 0.5).get_share(), 0.5);
    /// ```
    pub fn new(attack: Attack, share: f64) -> Self {
        AdversarialTraining {
            attack,
            share,
            validate: false,
        }
    }

    /// Record `val_robust_accuracy` and `val_clean_accuracy` each epoch
    /// (needs validation data). Default false.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{AdversarialTraining, Attack};
    ///
    /// let at = AdversarialTraining::new(Attack::fgsm(0.1), 1.0).validate(true);
    /// assert!(format!("{at:?}").contains("validate: true"));
    /// ```
    pub fn validate(mut self, yes: bool) -> Self {
        self.validate = yes;
        self
    }

    /// The share of each batch perturbed.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{AdversarialTraining, Attack};
    ///
    /// assert_eq!(AdversarialTraining::new(Attack::fgsm(0.1), 1.0).get_share(), 1.0);
    /// ```
    pub fn get_share(&self) -> f64 {
        self.share
    }

    /// Whether robust validation accuracy is recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{AdversarialTraining, Attack};
    ///
    /// assert!(!AdversarialTraining::new(Attack::fgsm(0.1), 1.0).get_validate());
    /// ```
    pub fn get_validate(&self) -> bool {
        self.validate
    }

    /// The attack.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::adversarial::{AdversarialTraining, Attack};
    ///
    /// assert_eq!(AdversarialTraining::new(Attack::fgsm(0.1), 1.0).attack().name(), "fgsm");
    /// ```
    pub fn attack(&self) -> &Attack {
        &self.attack
    }

    /// Checks the share and the attack (and that there is validation data
    /// when robust validation is asked), with op `fit`.
    pub(crate) fn check(&self, has_validation: bool) -> Result<()> {
        if self.validate && !has_validation {
            return Err(Error::InvalidArgument {
                op: "fit",
                message:
                    "robust validation needs validation data (validation_data or validation_split)"
                        .to_string(),
            });
        }
        if !(0.0..=1.0).contains(&self.share) {
            return Err(Error::InvalidArgument {
                op: "fit",
                message: format!(
                    "the adversarial share must be in [0, 1], got {}",
                    self.share
                ),
            });
        }
        self.attack.check()?;
        if self.attack.targeted {
            return Err(Error::InvalidArgument {
                op: "fit",
                message: "adversarial training needs an untargeted attack".to_string(),
            });
        }
        Ok(())
    }

    /// The rows of a batch of `rows` to perturb.
    pub(crate) fn rows(&self, rows: usize) -> usize {
        ((self.share * rows as f64).ceil() as usize).min(rows)
    }
}
