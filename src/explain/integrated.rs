//! Integrated gradients (Sundararajan, Taly and Yan 2017, "Axiomatic
//! Attribution for Deep Networks"), with Riemann and Gauss–Legendre rules.

use super::{Output, check_batch, check_classes, output_gradient, output_values};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;
use crate::tensor::{Tensor, checked_numel, try_filled};

/// The quadrature rule along the path from the baseline to the input, with
/// Captum's names and nodes (`method=` in `IntegratedGradients.attribute`).
///
/// For `n` steps, nodes `αₖ` in `[0, 1]` and weights `wₖ`:
/// - `RiemannLeft`: `αₖ = k/n`, `k = 0..n`; `wₖ = 1/n`.
/// - `RiemannRight`: `αₖ = (k+1)/n`; `wₖ = 1/n`.
/// - `RiemannMiddle`: `αₖ = (k + ½)/n`; `wₖ = 1/n`.
/// - `RiemannTrapezoid`: `αₖ = k/(n−1)`; `wₖ = 1/(n−1)`, halved at both ends
///   (needs `n ≥ 2`; the textbook rule — Captum's weights `1/n` sum to
///   `(n−1)/n` instead).
/// - `GaussLegendre` (the default, as in Captum): the `n`-point
///   Gauss–Legendre nodes and weights mapped from `[−1, 1]` to `[0, 1]`
///   (NumPy's `leggauss`, computed here by Newton's method on the Legendre
///   polynomial); exact for polynomials of degree `2n − 1`.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::Rule;
///
/// let (nodes, weights) = Rule::GaussLegendre.nodes(2)?;
/// // ±1/√3 mapped to [0, 1]
/// assert!((nodes[0] - (0.5 - 0.5 / 3f64.sqrt())).abs() < 1e-15);
/// assert!(weights.iter().all(|w| (w - 0.5).abs() < 1e-15));
/// assert_eq!(Rule::RiemannRight.nodes(4)?.0, vec![0.25, 0.5, 0.75, 1.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rule {
    /// Left Riemann sum.
    RiemannLeft,
    /// Right Riemann sum.
    RiemannRight,
    /// Midpoint Riemann sum.
    RiemannMiddle,
    /// Trapezoidal rule.
    RiemannTrapezoid,
    /// Gauss–Legendre quadrature.
    #[default]
    GaussLegendre,
}

impl Rule {
    /// The nodes `αₖ` (ascending, in `[0, 1]`) and weights `wₖ` of this
    /// rule with `steps` points.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `integrated_gradients`) if `steps` is
    /// 0, or 1 for the trapezoidal rule.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::Rule;
    ///
    /// let (_, w) = Rule::GaussLegendre.nodes(64)?;
    /// assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// assert!(Rule::RiemannTrapezoid.nodes(1).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn nodes(self, steps: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        let least = if self == Rule::RiemannTrapezoid { 2 } else { 1 };
        if steps < least {
            return Err(Error::InvalidArgument {
                op: "integrated_gradients",
                message: format!("steps must be at least {least} for {self:?}, got {steps}"),
            });
        }
        let n = steps as f64;
        let uniform = |f: &dyn Fn(f64) -> f64| -> (Vec<f64>, Vec<f64>) {
            (
                (0..steps).map(|k| f(k as f64)).collect(),
                vec![1.0 / n; steps],
            )
        };
        Ok(match self {
            Rule::RiemannLeft => uniform(&|k| k / n),
            Rule::RiemannRight => uniform(&|k| (k + 1.0) / n),
            Rule::RiemannMiddle => uniform(&|k| (k + 0.5) / n),
            Rule::RiemannTrapezoid => {
                let h = 1.0 / (n - 1.0);
                let mut w = vec![h; steps];
                w[0] /= 2.0;
                w[steps - 1] /= 2.0;
                ((0..steps).map(|k| k as f64 * h).collect(), w)
            }
            Rule::GaussLegendre => gauss_legendre(steps),
        })
    }
}

/// The `n`-point Gauss–Legendre rule on `[0, 1]`, nodes ascending: Newton's
/// method on `Pₙ` from the Tricomi initial guesses, weights
/// `2 / ((1 − x²) Pₙ'(x)²)` on `[−1, 1]`, halved for `[0, 1]`.
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut nodes, mut weights) = (vec![0.0; n], vec![0.0; n]);
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        // The i-th largest root, refined until it stops moving.
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        let mut dp = 1.0;
        for _ in 0..100 {
            let (p, d) = legendre(n, x);
            dp = d;
            let dx = p / d;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        let (_, d) = legendre(n, x);
        if d != 0.0 {
            dp = d;
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        // Roots come in ± pairs; store ascending on [0, 1].
        nodes[n - 1 - i] = 0.5 * (1.0 + x);
        nodes[i] = 0.5 * (1.0 - x);
        weights[n - 1 - i] = 0.5 * w;
        weights[i] = 0.5 * w;
    }
    (nodes, weights)
}

/// `Pₙ(x)` and `Pₙ'(x)` by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    if n == 0 {
        return (1.0, 0.0);
    }
    for k in 2..=n {
        let k = k as f64;
        let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
    }
    let nf = n as f64;
    (p1, nf * (x * p1 - p0) / (x * x - 1.0))
}

/// The settings of [`integrated_gradients`]: the baseline (default zeros),
/// the number of steps (default 50, as Captum), the [`Rule`] (default
/// Gauss–Legendre, as Captum), and how many path points go through the
/// model at once (default: all of them).
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{IntegratedGradients, Rule};
///
/// let ig = IntegratedGradients::<f32>::default().steps(64).rule(Rule::RiemannMiddle);
/// assert_eq!(ig.get_steps(), 64);
/// ```
#[derive(Clone, Debug)]
pub struct IntegratedGradients<T: Float = f32> {
    baseline: Option<Tensor<T>>,
    steps: usize,
    rule: Rule,
    internal_batch_size: Option<usize>,
}

impl<T: Float> Default for IntegratedGradients<T> {
    fn default() -> Self {
        IntegratedGradients {
            baseline: None,
            steps: 50,
            rule: Rule::GaussLegendre,
            internal_batch_size: None,
        }
    }
}

impl<T: Float> IntegratedGradients<T> {
    /// The baseline `x'`: the shape of the inputs, or of one input row
    /// (then shared by all rows). Default: zeros.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::IntegratedGradients;
    /// use tapeflow::Tensor;
    ///
    /// let ig = IntegratedGradients::default().baseline(Tensor::full(&[784], 0.5f32)?);
    /// assert_eq!(ig.get_steps(), 50);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn baseline(mut self, baseline: Tensor<T>) -> Self {
        self.baseline = Some(baseline);
        self
    }

    /// Points on the path (Captum's `n_steps`). Default 50.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::IntegratedGradients;
    ///
    /// assert_eq!(IntegratedGradients::<f64>::default().steps(8).get_steps(), 8);
    /// ```
    pub fn steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// The quadrature rule. Default [`Rule::GaussLegendre`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::{IntegratedGradients, Rule};
    ///
    /// let ig = IntegratedGradients::<f32>::default().rule(Rule::RiemannTrapezoid);
    /// assert!(format!("{ig:?}").contains("RiemannTrapezoid"));
    /// ```
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rule = rule;
        self
    }

    /// At most this many rows (path points × input rows) per forward pass
    /// (Captum's `internal_batch_size`); at least one whole batch of input
    /// rows always goes at once. Default: the whole path in one pass.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::IntegratedGradients;
    ///
    /// let ig = IntegratedGradients::<f32>::default().internal_batch_size(512);
    /// assert!(format!("{ig:?}").contains("512"));
    /// ```
    pub fn internal_batch_size(mut self, rows: usize) -> Self {
        self.internal_batch_size = Some(rows);
        self
    }

    /// The number of steps set.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::explain::IntegratedGradients;
    ///
    /// assert_eq!(IntegratedGradients::<f32>::default().get_steps(), 50);
    /// ```
    pub fn get_steps(&self) -> usize {
        self.steps
    }
}

/// What [`integrated_gradients`] returns: the attributions (the inputs'
/// shape) and each row's convergence delta.
#[derive(Clone, Debug, PartialEq)]
pub struct IgAttribution<T: Float = f32> {
    /// `(x − x') ⊙ Σₖ wₖ ∂f/∂x(x' + αₖ(x − x'))`, the inputs' shape.
    pub attributions: Tensor<T>,
    /// Per row, `Σ attributions − (f(x) − f(x'))`: zero for exact
    /// integration (the completeness axiom), so its size measures the
    /// quadrature error. Shape `[rows]`.
    pub delta: Tensor<T>,
}

/// Integrated gradients of the chosen output (Sundararajan, Taly and Yan
/// 2017, "Axiomatic Attribution for Deep Networks"), matching Captum's
/// `IntegratedGradients.attribute(..., return_convergence_delta=True)`.
///
/// `IGᵢ(x) = (xᵢ − x'ᵢ) ∫₀¹ ∂f/∂xᵢ(x' + α(x − x')) dα`, the integral
/// computed by the settings' [`Rule`]. The path points of all rows go
/// through `forward` as batches (step-major: rows `k·n .. (k+1)·n` are
/// step `k`), not one input at a time.
///
/// Limits: the attributions sum to `f(x) − f(x')` (completeness) only up
/// to the quadrature error the delta reports — raise `steps` if it is not
/// small; they explain the difference from the baseline, so a baseline
/// that carries signal (a zero pixel that matters) hides it; the path is a
/// straight line through inputs the model may never have seen. Stacked
/// normalizations (layer normalization after attention whose biases are
/// still zero) can make `f` swing within the first millionths of the path
/// from a zero baseline; no practical `steps` resolves that, and the delta
/// stays large: choose a baseline away from zero for such models.
///
/// # Shapes
///
/// `x`: `[rows, …features]`; the baseline: `x`'s shape or `x`'s shape
/// without the batch axis; `forward(x)`: `[rows, outputs…]`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `integrated_gradients`) for the cases of
/// [`gradient`](super::gradient), for zero steps (one for the trapezoidal
/// rule), a zero `internal_batch_size`, a non-finite baseline;
/// [`Error::ShapeMismatch`] for a baseline of the wrong shape.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{IntegratedGradients, Output, integrated_gradients};
/// use tapeflow::Tensor;
///
/// // f(x) = Σ x², baseline 0: IGᵢ = xᵢ · ∫ 2αxᵢ dα = xᵢ², exact with 2 Gauss points
/// let x = Tensor::from_vec(vec![1.0f64, -2.0], &[1, 2])?;
/// let ig = IntegratedGradients::default().steps(2);
/// let out = integrated_gradients(|v| v.square().sum_axis(1, true), &x, &Output::Value, &ig)?;
/// let a = out.attributions.to_vec();
/// assert!((a[0] - 1.0).abs() < 1e-12 && (a[1] - 4.0).abs() < 1e-12);
/// assert!(out.delta.to_vec()[0].abs() < 1e-12);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn integrated_gradients<T, F>(
    forward: F,
    x: &Tensor<T>,
    output: &Output,
    settings: &IntegratedGradients<T>,
) -> Result<IgAttribution<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    integrated_op("integrated_gradients", &forward, x, output, settings)
}

pub(crate) fn integrated_op<T, F>(
    op: &'static str,
    forward: &F,
    x: &Tensor<T>,
    output: &Output,
    settings: &IntegratedGradients<T>,
) -> Result<IgAttribution<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    let rows = check_batch(op, x)?;
    check_classes(op, output, rows)?;
    let (alphas, weights) = settings.rule.nodes(settings.steps)?;
    let baseline = full_baseline(op, x, settings.baseline.as_ref())?;
    let per_pass = match settings.internal_batch_size {
        Some(0) => {
            return Err(Error::InvalidArgument {
                op,
                message: "internal_batch_size must be at least 1, got 0".to_string(),
            });
        }
        Some(b) => (b / rows).max(1),
        None => alphas.len(),
    };
    // The largest pass holds `per_pass` path points of every row: check its size.
    let mut pass_shape = x.shape().to_vec();
    pass_shape[0] = per_pass
        .min(alphas.len())
        .checked_mul(rows)
        .ok_or_else(|| Error::SizeOverflow {
            op,
            shape: x.shape().to_vec(),
        })?;
    checked_numel::<T>(op, &pass_shape)?;
    let diff = x.sub(&baseline)?;
    let mut total = try_filled(op, x.shape(), T::zero())?;
    for (alpha_chunk, weight_chunk) in alphas.chunks(per_pass).zip(weights.chunks(per_pass)) {
        let points: Vec<Tensor<T>> = alpha_chunk
            .iter()
            .map(|&a| baseline.add(&diff.mul_scalar(T::from_f64(a))))
            .collect::<Result<_>>()?;
        let refs: Vec<&Tensor<T>> = points.iter().collect();
        let path = Tensor::concat(&refs, 0)?;
        let (_, grads) = output_gradient(op, forward, &path, output, rows)?;
        for (k, &w) in weight_chunk.iter().enumerate() {
            let w = T::from_f64(w);
            let block = &grads.as_slice()[k * x.len()..(k + 1) * x.len()];
            for (t, &g) in total.iter_mut().zip(block) {
                *t += w * g;
            }
        }
    }
    let attributions = Tensor::from_vec(total, x.shape())?.mul(&diff)?;
    let ends = Tensor::concat(&[x, &baseline], 0)?;
    let f = output_values(op, forward, &ends, output, rows)?;
    let width = x.len() / rows;
    let delta = (0..rows)
        .map(|i| {
            let sum: T = attributions.as_slice()[i * width..(i + 1) * width]
                .iter()
                .copied()
                .sum();
            sum - (f[i] - f[rows + i])
        })
        .collect();
    Ok(IgAttribution {
        attributions,
        delta: Tensor::from_vec(delta, &[rows])?,
    })
}

/// The baseline at `x`'s full shape: zeros, the given one, or one row
/// repeated for every row.
fn full_baseline<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    baseline: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let Some(b) = baseline else {
        return Tensor::from_vec(try_filled(op, x.shape(), T::zero())?, x.shape());
    };
    if b.shape() == x.shape() || b.shape() == &x.shape()[1..] {
        if let Some(v) = b.as_slice().iter().find(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument {
                op,
                message: format!("the baseline holds a non-finite value ({v})"),
            });
        }
        let zeros = Tensor::from_vec(try_filled(op, x.shape(), T::zero())?, x.shape())?;
        return zeros.add(b);
    }
    Err(Error::ShapeMismatch {
        op,
        lhs: x.shape().to_vec(),
        rhs: b.shape().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_matches_known_nodes_and_integrates_degree_2n_minus_1() {
        // 3 points on [-1, 1]: 0, ±√(3/5); weights 8/9, 5/9.
        let (x, w) = gauss_legendre(3);
        let s = (0.6f64).sqrt();
        let expect_x = [0.5 * (1.0 - s), 0.5, 0.5 * (1.0 + s)];
        let expect_w = [5.0 / 18.0, 8.0 / 18.0, 5.0 / 18.0];
        for k in 0..3 {
            assert!((x[k] - expect_x[k]).abs() < 1e-15, "{x:?}");
            assert!((w[k] - expect_w[k]).abs() < 1e-15, "{w:?}");
        }
        // ∫₀¹ α⁹ dα = 1/10, exact with 5 points.
        let (x, w) = gauss_legendre(5);
        let q: f64 = x.iter().zip(&w).map(|(a, b)| b * a.powi(9)).sum();
        assert!((q - 0.1).abs() < 1e-15, "{q}");
        // Odd n has the midpoint as a node.
        assert!((gauss_legendre(7).0[3] - 0.5).abs() < 1e-16);
    }

    #[test]
    fn riemann_rules_place_their_nodes() {
        assert_eq!(
            Rule::RiemannLeft.nodes(4).unwrap().0,
            [0.0, 0.25, 0.5, 0.75]
        );
        assert_eq!(Rule::RiemannMiddle.nodes(2).unwrap().0, [0.25, 0.75]);
        let (x, w) = Rule::RiemannTrapezoid.nodes(3).unwrap();
        assert_eq!(x, [0.0, 0.5, 1.0]);
        assert_eq!(w, [0.25, 0.5, 0.25]);
        assert!(Rule::GaussLegendre.nodes(0).is_err());
    }
}
