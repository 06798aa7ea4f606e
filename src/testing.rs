//! A finite-difference gradient checker, public so that users can verify
//! their own compositions and ops the way tapeflow verifies its own.
//!
//! This module owns [`check_gradient`] and its report; it uses only the
//! public [`GradientTape`] API.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::error::{Error, Result};
use crate::tape::{GradientTape, Var};
use crate::tensor::Tensor;

/// Settings for [`check_gradient`]; `Default` suits smooth functions of
/// inputs of order 1 in `f64`.
///
/// # Examples
///
/// ```
/// use tapeflow::testing::GradCheck;
///
/// let opts = GradCheck { epsilon: 1e-5, ..GradCheck::default() };
/// assert_eq!(opts.rtol, 1e-5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheck {
    /// Step of the central difference `(f(x + ε) - f(x - ε)) / 2ε`. Default `1e-6`.
    pub epsilon: f64,
    /// Absolute tolerance. Default `1e-6`.
    pub atol: f64,
    /// Relative tolerance (of the larger magnitude of the two gradients). Default `1e-5`.
    pub rtol: f64,
    /// Seed of the random cotangent. Default `0`.
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            epsilon: 1e-6,
            atol: 1e-6,
            rtol: 1e-5,
            seed: 0,
        }
    }
}

/// The outcome of a successful [`check_gradient`]: the worst disagreement seen.
///
/// # Examples
///
/// ```
/// use tapeflow::Tensor;
/// use tapeflow::testing::{check_gradient, GradCheck};
///
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], &[3])?;
/// let report = check_gradient(|_, v| Ok(v[0].tanh()), &[x], GradCheck::default())?;
/// assert!(report.max_abs_error < 1e-6);
/// assert_eq!(report.checked, 3);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradCheckReport {
    /// Largest `|analytic - numeric|` over all input elements.
    pub max_abs_error: f64,
    /// Number of input elements checked.
    pub checked: usize,
}

/// Checks the tape's gradients of `f` against central finite differences.
///
/// `f` builds an output from `Var`s of `inputs` (in order). A random
/// cotangent `r` with the output's shape is drawn (uniform in `[-1, 1]`,
/// seeded), and the gradient of `L = Σ rᵢ·f(x)ᵢ` with respect to every input
/// element is compared with `(L(x + ε) - L(x - ε)) / 2ε`. A random
/// cotangent, not a plain sum, is what makes the check meaningful for ops
/// like softmax whose outputs sum to a constant.
///
/// # Errors
///
/// Whatever `f` returns; and [`Error::InvalidArgument`] (op
/// `check_gradient`) for an `epsilon` that is not finite and `> 0` or a
/// tolerance that is not finite and `>= 0`, or naming the input, the
/// element, both gradients and the tolerance at the first element that
/// disagrees.
///
/// # Examples
///
/// ```
/// use tapeflow::Tensor;
/// use tapeflow::testing::{check_gradient, GradCheck};
///
/// // f(a, b) = softmax(a ⊙ b) along the last axis, b broadcast over rows
/// let a = Tensor::from_vec(vec![0.1, 0.5, -0.3, 0.8, 0.2, -0.6], &[2, 3])?;
/// let b = Tensor::from_vec(vec![1.5, -0.5, 2.0], &[3])?;
/// check_gradient(|_, v| v[0].mul(&v[1])?.softmax(1), &[a, b], GradCheck::default())?;
///
/// // A wrong derivative is caught: x²·stop(x) has the value x³ but the
/// // tape's gradient 2x², not 3x².
/// let x = Tensor::from_vec(vec![0.7], &[1])?;
/// let wrong = check_gradient(|_, v| v[0].square().mul(&v[0].detach()), &[x], GradCheck::default());
/// assert!(wrong.is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn check_gradient<F>(
    f: F,
    inputs: &[Tensor<f64>],
    options: GradCheck,
) -> Result<GradCheckReport>
where
    F: for<'t> Fn(&'t GradientTape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    for (name, x, ok) in [
        ("epsilon", options.epsilon, options.epsilon > 0.0),
        ("atol", options.atol, options.atol >= 0.0),
        ("rtol", options.rtol, options.rtol >= 0.0),
    ] {
        if !(ok && x.is_finite()) {
            let range = if name == "epsilon" { "> 0" } else { ">= 0" };
            return Err(Error::InvalidArgument {
                op: "check_gradient",
                message: format!("{name} must be finite and {range}, got {x}"),
            });
        }
    }
    // Analytic gradients of L = Σ r·f(x).
    let tape = GradientTape::new();
    let vars: Vec<Var<'_, f64>> = inputs.iter().map(|x| tape.watch(x)).collect();
    let out = f(&tape, &vars)?;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let out_shape = out.shape();
    let r_data = (0..out_shape.iter().product::<usize>())
        .map(|_| rng.random_range(-1.0..=1.0))
        .collect();
    let r = Tensor::from_vec(r_data, &out_shape)?;
    let grads = tape.gradient_with(&out, &r, vars.iter())?;

    // L at perturbed inputs.
    let loss_at = |xs: &[Tensor<f64>]| -> Result<f64> {
        let tape = GradientTape::new();
        let vars: Vec<Var<'_, f64>> = xs.iter().map(|x| tape.constant(x)).collect();
        let y = f(&tape, &vars)?.value();
        Ok(y.as_slice()
            .iter()
            .zip(r.as_slice())
            .map(|(a, b)| a * b)
            .sum())
    };

    let mut report = GradCheckReport {
        max_abs_error: 0.0,
        checked: 0,
    };
    let mut xs: Vec<Tensor<f64>> = inputs.to_vec();
    for (which, var) in vars.iter().enumerate() {
        let analytic = grads
            .get(var)
            .expect("invariant: every input was asked for")
            .clone();
        for k in 0..inputs[which].len() {
            let x0 = inputs[which].as_slice()[k];
            xs[which].as_mut_slice()[k] = x0 + options.epsilon;
            let plus = loss_at(&xs)?;
            xs[which].as_mut_slice()[k] = x0 - options.epsilon;
            let minus = loss_at(&xs)?;
            xs[which].as_mut_slice()[k] = x0;
            let numeric = (plus - minus) / (2.0 * options.epsilon);
            let got = analytic.as_slice()[k];
            let err = (got - numeric).abs();
            let tol = options.atol + options.rtol * got.abs().max(numeric.abs());
            if err > tol || err.is_nan() {
                return Err(Error::InvalidArgument {
                    op: "check_gradient",
                    message: format!(
                        "input {which} element {k}: analytic {got:e}, numeric {numeric:e}, \
                         difference {err:e} exceeds tolerance {tol:e}"
                    ),
                });
            }
            report.max_abs_error = report.max_abs_error.max(err);
            report.checked += 1;
        }
    }
    Ok(report)
}
