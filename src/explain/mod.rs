//! Explanations: which input features a model's output depends on.
//!
//! Every method here takes a *forward function* — any
//! `Fn(Var) -> Result<Var>` that maps a batch of inputs to a batch of
//! outputs on the input's tape, e.g.
//! `|x| model.forward_var(x, Mode::Infer)` — a batch of inputs `x`
//! (`[rows, …features]`) and the [`Output`] to explain, and returns
//! attributions of exactly `x`'s shape. The forward function runs on an
//! inference tape (parameters enter as constants; only the watched input
//! records), so the methods work with every layer, whatever its kind. A
//! closure kept in a variable (to run several methods) goes through
//! [`forward_fn`] first; `Sequential` has the methods built in
//! (`model.attribute`, `model.integrated_gradients`, `model.smooth_grad`).
//!
//! | method | what it is | paper |
//! |---|---|---|
//! | [`gradient`] | `∂f/∂x`, the raw input gradient | Simonyan et al. 2013 |
//! | [`saliency`] | `|∂f/∂x|`, the saliency map (Captum's `Saliency`, `abs=True`) | Simonyan et al. 2013 |
//! | [`gradient_x_input`] | `x ⊙ ∂f/∂x` | Shrikumar et al. 2016 |
//! | [`integrated_gradients`] | `(x − x') ⊙ ∫₀¹ ∂f/∂x(x' + α(x − x')) dα` | Sundararajan et al. 2017 |
//! | [`smooth_grad`] | any of the above averaged over noisy copies of `x` | Smilkov et al. 2017 |
//!
//! Limits, all methods: attributions explain one output of one model on one
//! input locally; they say what the output is *sensitive* to, not what the
//! model "uses" in any causal sense. Gradients saturate (a ReLU that is off,
//! a softmax that is sure) and are noisy; gradient × input and integrated
//! gradients depend on the choice of baseline (zeros, a black image, is a
//! choice, not a neutral truth); SmoothGrad trades that noise for blur and
//! a random seed. See each function for its own limits.
//!
//! This module owns the attribution methods and their settings; it knows
//! nothing of models (`Sequential` offers them as methods) and nothing of
//! attacks ([`adversarial`](crate::adversarial)).

mod integrated;
mod smooth;
#[cfg(feature = "plot")]
mod svg;

pub use integrated::{IgAttribution, IntegratedGradients, Rule, integrated_gradients};
pub use smooth::{Method, SmoothGrad, attribute, smooth_grad};
#[cfg(feature = "plot")]
pub use svg::attribution_svg;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{GradientTape, Var};
use crate::tensor::{Tensor, try_filled};

/// Returns `forward` unchanged, with its signature pinned to the forward
/// functions of [`explain`](self) and [`adversarial`](crate::adversarial):
/// `for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>`. A closure passed straight
/// to those functions needs nothing; one stored in a variable first (to
/// use it twice) needs this, because Rust infers a stored closure's
/// signature for one lifetime only.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{Output, forward_fn, gradient, saliency};
/// use tapeflow::Tensor;
///
/// let f = forward_fn(|v| Ok(v.mul_scalar(-2.0f32)));
/// let x = Tensor::ones(&[1, 2])?;
/// assert_eq!(gradient(&f, &x, &Output::Class(0))?.to_vec(), vec![-2.0, 0.0]);
/// assert_eq!(saliency(&f, &x, &Output::Class(0))?.to_vec(), vec![2.0, 0.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn forward_fn<T, F>(forward: F) -> F
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    forward
}

/// Which output to explain: one scalar per input row, whose gradient the
/// methods take.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::Output;
///
/// let o = Output::Class(3);
/// assert_eq!(o, Output::Class(3));
/// assert_ne!(Output::Value, Output::Classes(vec![0]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// The same class index (output column) for every row, Captum's
    /// `target=c`.
    Class(usize),
    /// One class index per row (e.g. each row's predicted or true class),
    /// Captum's `target=[c₀, c₁, …]`.
    Classes(Vec<usize>),
    /// The output itself, for a model with one output per row (regression,
    /// a single sigmoid unit), Captum's `target=None`.
    Value,
}

impl Output {
    /// Checks this choice against a model output of shape `shape` for
    /// `rows` input rows; returns the number of outputs per row.
    fn check(&self, op: &'static str, shape: &[usize], rows: usize) -> Result<usize> {
        let total = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Error::InvalidArgument {
                op,
                message: format!("the model output shape {shape:?} is too large to count"),
            })?;
        if shape.first() != Some(&rows) || rows == 0 {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "the model must give one output row per input row, {rows} rows in, output shape {shape:?}"
                ),
            });
        }
        let width = total / rows;
        match self {
            Output::Value if width != 1 => Err(Error::InvalidArgument {
                op,
                message: format!(
                    "Output::Value needs one output per row, the model gives shape {shape:?}; choose a class"
                ),
            }),
            Output::Class(c) if *c >= width => Err(Error::InvalidArgument {
                op,
                message: format!(
                    "target class {c} is out of range for a model with {width} outputs"
                ),
            }),
            Output::Classes(cs) => {
                if let Some((row, c)) = cs.iter().enumerate().find(|(_, c)| **c >= width) {
                    return Err(Error::InvalidArgument {
                        op,
                        message: format!(
                            "target class {c} (row {row}) is out of range for a model with {width} outputs"
                        ),
                    });
                }
                Ok(width)
            }
            _ => Ok(width),
        }
    }

    /// The chosen column for the output row `row`, whose input row is
    /// `row % rows` (paths and noisy copies repeat the batch).
    fn column(&self, row: usize, rows: usize) -> usize {
        match self {
            Output::Class(c) => *c,
            // `check` made sure there is one class per input row.
            Output::Classes(cs) => cs[row % rows],
            Output::Value => 0,
        }
    }
}

/// Checks a batch of inputs: at least one dimension, at least one row,
/// every value finite; returns the number of rows.
pub(crate) fn check_batch<T: Float>(op: &'static str, x: &Tensor<T>) -> Result<usize> {
    let rows = match x.shape().first() {
        Some(&r) if r > 0 => r,
        _ => {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "needs a batch of at least one row, got shape {:?}",
                    x.shape()
                ),
            });
        }
    };
    let width = x.len() / rows;
    if let Some(i) = x.as_slice().iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument {
            op,
            message: format!(
                "input row {} holds a non-finite value ({})",
                i / width.max(1),
                x.as_slice()[i]
            ),
        });
    }
    Ok(rows)
}

/// Checks `output` against `x`'s row count, given that `forward` is applied
/// to `x`.
fn check_classes(op: &'static str, output: &Output, rows: usize) -> Result<()> {
    match output {
        Output::Classes(cs) if cs.len() != rows => Err(Error::InvalidArgument {
            op,
            message: format!(
                "Output::Classes needs one class per row, got {} for {rows} rows",
                cs.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// Runs `forward` on `x` (whose rows repeat an input batch of `rows` rows)
/// on an inference tape; returns each row's chosen output and the gradient
/// of their sum with respect to `x`. Rows do not interact in inference, so
/// row `i` of the gradient is the gradient of row `i`'s output alone.
pub(crate) fn output_gradient<T, F>(
    op: &'static str,
    forward: &F,
    x: &Tensor<T>,
    output: &Output,
    rows: usize,
) -> Result<(Vec<T>, Tensor<T>)>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    let tape = GradientTape::inference();
    let xv = tape.watch(x);
    let y = forward(xv)?;
    // `x` has a batch axis: callers built it from a batch `check_batch` passed.
    let (values, cotangent) = select(op, &y.value(), x.shape()[0], output, rows)?;
    let grads = tape.gradient_with(&y, &cotangent, [xv])?;
    let g = grads
        .get(xv)
        .cloned()
        .expect("invariant: the watched input was a target");
    if !g.all_finite() || values.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument {
            op,
            message: "the model's output or its input gradient is not finite".to_string(),
        });
    }
    Ok((values, g))
}

/// Each output row's chosen value, and the one-hot cotangent choosing it.
fn select<T: Float>(
    op: &'static str,
    y: &Tensor<T>,
    out_rows: usize,
    output: &Output,
    rows: usize,
) -> Result<(Vec<T>, Tensor<T>)> {
    let width = output.check(op, y.shape(), out_rows)?;
    let mut cot = try_filled(op, y.shape(), T::zero())?;
    let mut values = Vec::with_capacity(out_rows);
    for r in 0..out_rows {
        let k = r * width + output.column(r, rows);
        cot[k] = T::one();
        values.push(y.as_slice()[k]);
    }
    Ok((values, Tensor::from_vec(cot, y.shape())?))
}

/// Runs `forward` on `x` (no gradient) and returns each row's chosen output.
pub(crate) fn output_values<T, F>(
    op: &'static str,
    forward: &F,
    x: &Tensor<T>,
    output: &Output,
    rows: usize,
) -> Result<Vec<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    let tape = GradientTape::inference();
    let y = forward(tape.constant(x))?;
    // `x` has a batch axis: callers built it from a batch `check_batch` passed.
    let values = select(op, &y.value(), x.shape()[0], output, rows)?.0;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument {
            op,
            message: "the model's output is not finite".to_string(),
        });
    }
    Ok(values)
}

/// The input gradient `∂f/∂x` of the chosen output, one row per input row
/// (Simonyan et al. 2013, "Deep Inside Convolutional Networks", without the
/// absolute value).
///
/// # Shapes
///
/// `x`: `[rows, …features]`; `forward(x)`: `[rows, outputs…]`; result: `x`'s shape.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `gradient`) for an empty batch, a
/// non-finite input (naming the row), a class outside the model's outputs,
/// `Output::Value` on a model with several outputs per row, or
/// `Output::Classes` of the wrong length; any error of `forward`.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{Output, gradient};
/// use tapeflow::Tensor;
///
/// // f(x) = Σ x², so ∂f/∂x = 2x
/// let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, 0.5], &[2, 2])?;
/// let g = gradient(|v| v.square().sum_axis(1, true), &x, &Output::Value)?;
/// assert_eq!(g.to_vec(), vec![2.0, -4.0, 6.0, 1.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn gradient<T, F>(forward: F, x: &Tensor<T>, output: &Output) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    gradient_op("gradient", &forward, x, output)
}

pub(crate) fn gradient_op<T, F>(
    op: &'static str,
    forward: &F,
    x: &Tensor<T>,
    output: &Output,
) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    let rows = check_batch(op, x)?;
    check_classes(op, output, rows)?;
    Ok(output_gradient(op, forward, x, output, rows)?.1)
}

/// The saliency map `|∂f/∂x|` of the chosen output (Simonyan, Vedaldi and
/// Zisserman 2013, "Deep Inside Convolutional Networks: Visualising Image
/// Classification Models and Saliency Maps"); matches Captum's `Saliency`
/// with its default `abs=True`.
///
/// Limits: a first-order, local view — it says how the output changes for
/// an infinitesimal change of each feature, which saturated units hide and
/// which is visually noisy; it is not an additive decomposition of the output.
///
/// # Shapes
///
/// As [`gradient`].
///
/// # Errors
///
/// As [`gradient`], with op `saliency`.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{Output, saliency};
/// use tapeflow::Tensor;
///
/// // f(x) = Σ x², |∂f/∂x| = |2x|
/// let x = Tensor::from_vec(vec![1.0f32, -2.0], &[1, 2])?;
/// let s = saliency(|v| v.square().sum_axis(1, true), &x, &Output::Value)?;
/// assert_eq!(s.to_vec(), vec![2.0, 4.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn saliency<T, F>(forward: F, x: &Tensor<T>, output: &Output) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    Ok(gradient_op("saliency", &forward, x, output)?.map(|g| g.abs()))
}

/// Gradient × input, `x ⊙ ∂f/∂x` (Shrikumar et al. 2016, "Not Just a Black
/// Box"), Captum's `InputXGradient`: integrated gradients with a zero
/// baseline and a one-point rule.
///
/// Limits: exact (the attributions sum to `f(x) − f(0)`) only for a linear
/// model; a zero feature gets zero attribution whatever its importance.
///
/// # Shapes
///
/// As [`gradient`].
///
/// # Errors
///
/// As [`gradient`], with op `gradient_x_input`.
///
/// # Examples
///
/// ```
/// use tapeflow::explain::{Output, gradient_x_input};
/// use tapeflow::Tensor;
///
/// // f(x) = Σ x², x ⊙ 2x = 2x²
/// let x = Tensor::from_vec(vec![1.0f32, -2.0], &[1, 2])?;
/// let a = gradient_x_input(|v| v.square().sum_axis(1, true), &x, &Output::Value)?;
/// assert_eq!(a.to_vec(), vec![2.0, 8.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn gradient_x_input<T, F>(forward: F, x: &Tensor<T>, output: &Output) -> Result<Tensor<T>>
where
    T: Float,
    F: for<'t> Fn(Var<'t, T>) -> Result<Var<'t, T>>,
{
    gradient_op("gradient_x_input", &forward, x, output)?.mul(x)
}
