//! Activation functions on [`Var`], each with its derivative, and the
//! numerically stable softmax and log-softmax along an axis.
//!
//! Every activation propagates NaN (NaN in, NaN out), as PyTorch and NumPy
//! do, so a NaN input never comes out as a clean-looking number; tested for
//! each in `tests/suite/bad_inputs_ops.rs`.

use crate::element::Float;
use crate::error::Result;
use crate::tape::Var;
use crate::tensor::Tensor;

/// SELU's constants (Klambauer et al., 2017), as in Keras and PyTorch.
const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// `ln(1 + eˣ)` without overflow: `max(x, 0) + ln(1 + e^-|x|)`.
pub(crate) fn softplus_scalar<T: Float>(x: T) -> T {
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

use super::elementwise::chain;
use crate::element::par_split;
use crate::tensor::exp_kernel::exp_nonpositive;
use crate::tensor::recycle;
use crate::tensor::sigmoid_scalar;
use crate::tensor::simd::{MapPair, widest};

/// GELU's value `½ x (1 + erf(x / √2))`, with [`Float::erf_kernel`].
#[inline(always)]
pub(super) fn gelu_value<T: Float>(x: T) -> T {
    let half = T::from_f64(0.5);
    half * x * (T::one() + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf_kernel())
}

/// GELU's derivative `Φ(x) + x φ(x)`, the Gaussian `e^(-x²/2)` through
/// the vectorizable [`exp_nonpositive`] (libm's `exp` for `f64`). Plain
/// arithmetic throughout, so the backward loop over it vectorizes.
#[inline(always)]
fn gelu_derivative<T: Float>(x: T) -> T {
    let half = T::from_f64(0.5);
    let cdf = half * (T::one() + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf_kernel());
    cdf + x * T::from_f64(0.398_942_280_401_432_7) * exp_nonpositive(-half * x * x)
}

/// `(gelu_value(x), gelu_derivative(x))` with one `erf`: the same
/// operations as the two functions, so the same bits.
#[inline(always)]
pub(super) fn gelu_value_and_derivative<T: Float>(x: T) -> (T, T) {
    let half = T::from_f64(0.5);
    let one_plus_erf = T::one() + (x * T::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf_kernel();
    let value = half * x * one_plus_erf;
    let cdf = half * one_plus_erf;
    let slope = cdf + x * T::from_f64(0.398_942_280_401_432_7) * exp_nonpositive(-half * x * x);
    (value, slope)
}

/// `gelu(x)` elementwise: split over the pool in fixed pieces
/// ([`par_split`]) and compiled for the widest vector unit ([`widest`]);
/// each element is [`gelu_value`] of its input, so the bits do not depend
/// on the thread count or the instruction set. The output is a large
/// buffer of the buffer cache taken as it is, since every element is
/// written. (Keeping the derivative from this pass, so the backward pass
/// need not compute `erf` again, was measured: its 4 MiB a block pushed the
/// char-GPT step's buffers past the cache's default limit, and the page
/// faults of the misses cost more than the `erf` saved.)
fn gelu_forward<T: Float>(x: &Tensor<T>) -> Tensor<T> {
    let xs = x.as_slice();
    let mut out = recycle::written(xs.len(), T::zero());
    par_split(
        MapPair {
            src: xs,
            dst: &mut out,
        },
        &|w: MapPair<'_, T>| {
            widest(
                #[inline(always)]
                || {
                    for (o, &v) in w.dst.iter_mut().zip(w.src) {
                        *o = gelu_value(v);
                    }
                },
            )
        },
        &|(), ()| (),
    );
    Tensor::from_parts(out, x.shape().to_vec())
}

/// `g ⊙ gelu'(x)` written into `g`, split and compiled as
/// [`gelu_forward`].
fn gelu_backward_in_place<T: Float>(g: &mut [T], x: &[T]) {
    par_split(
        MapPair { src: x, dst: g },
        &|w: MapPair<'_, T>| {
            widest(
                #[inline(always)]
                || {
                    for (g, &v) in w.dst.iter_mut().zip(w.src) {
                        *g *= gelu_derivative(v);
                    }
                },
            )
        },
        &|(), ()| (),
    );
}

impl<'t, T: Float> Var<'t, T> {
    /// Rectified linear unit `max(x, 0)`. Gradient: 1 where `x > 0`, else 0
    /// (0 at 0, as in PyTorch and TensorFlow). NaN in gives NaN out, as
    /// PyTorch and NumPy (a plain `max` would turn it into 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3])?);
    /// let y = x.relu();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 0.0, 2.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 0.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn relu(&self) -> Var<'t, T> {
        // `x <= 0` is false for NaN, so NaN passes through as NaN.
        self.unary(
            |x| if x <= T::zero() { T::zero() } else { x },
            |x, _| {
                if x > T::zero() {
                    T::one()
                } else if x.is_nan() {
                    x
                } else {
                    T::zero()
                }
            },
        )
    }

    /// Logistic sigmoid `1 / (1 + e⁻ˣ)`. Gradient: `y (1 - y)` from the saved output.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(0.0f32));
    /// let y = x.sigmoid();
    /// assert_eq!(y.value().item()?, 0.5);
    /// assert_eq!(tape.gradient(&y, [x])?.get(x).unwrap().item()?, 0.25);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sigmoid(&self) -> Var<'t, T> {
        self.unary(sigmoid_scalar, |_, y| y * (T::one() - y))
    }

    /// Hyperbolic tangent. Gradient: `1 - y²`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(0.0f32));
    /// assert_eq!(tape.gradient(&x.tanh(), [x])?.get(x).unwrap().item()?, 1.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn tanh(&self) -> Var<'t, T> {
        self.unary(|x| x.tanh_kernel(), |_, y| T::one() - y * y)
    }

    /// Leaky ReLU: `x` for `x > 0`, else `alpha · x`. Gradient: 1 or `alpha`
    /// (`alpha` at 0, as PyTorch). NaN in gives NaN out. `alpha` is used as
    /// given; [`Activation`](crate::activations::Activation) checks it.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![-2.0f32, 3.0], &[2])?);
    /// let y = x.leaky_relu(0.1);
    /// assert_eq!(y.value().to_vec(), vec![-0.2, 3.0]);
    /// assert_eq!(tape.gradient(&y.sum(), [x])?.get(x).unwrap().to_vec(), vec![0.1, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn leaky_relu(&self, alpha: T) -> Var<'t, T> {
        self.unary(
            move |x| if x > T::zero() { x } else { alpha * x },
            move |x, _| if x > T::zero() { T::one() } else { alpha },
        )
    }

    /// Exponential linear unit: `x` for `x > 0`, else `alpha (eˣ - 1)`.
    /// Gradient: 1, or `y + alpha = alpha · eˣ` for `x <= 0` (`alpha` at 0,
    /// as PyTorch). NaN in gives NaN out.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(0.0f64));
    /// let y = x.elu(1.0);
    /// assert_eq!(y.value().item()?, 0.0);
    /// assert_eq!(tape.gradient(&y, [x])?.get(x).unwrap().item()?, 1.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn elu(&self, alpha: T) -> Var<'t, T> {
        self.unary(
            move |x| if x > T::zero() { x } else { alpha * x.exp_m1() },
            move |x, y| if x > T::zero() { T::one() } else { y + alpha },
        )
    }

    /// Scaled ELU, `scale · elu(x, alpha)` with Klambauer et al.'s constants
    /// (`alpha ≈ 1.6733`, `scale ≈ 1.0507`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f64));
    /// let g = tape.gradient(&x.selu(), [x])?;
    /// assert!((g.get(x).unwrap().item()? - 1.0507009873554805).abs() < 1e-15);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn selu(&self) -> Var<'t, T> {
        let (alpha, scale) = (T::from_f64(SELU_ALPHA), T::from_f64(SELU_SCALE));
        self.unary(
            move |x| {
                if x > T::zero() {
                    scale * x
                } else {
                    scale * alpha * x.exp_m1()
                }
            },
            move |x, y| {
                if x > T::zero() {
                    scale
                } else {
                    y + scale * alpha
                }
            },
        )
    }

    /// GELU, exact form `x · Φ(x) = ½ x (1 + erf(x / √2))` (PyTorch's default,
    /// Keras's `approximate=False`). Gradient: `Φ(x) + x φ(x)`.
    ///
    /// `erf` is [`Float::erf_kernel`]: libm's `erf` in `f64`; in `f32` a
    /// vectorizable rational approximation at most 4.8e-7 from the exact
    /// value, and the Gaussian of the gradient a vectorizable `exp` within
    /// 2 ulp (PyTorch computes the `f32` GELU with vectorized kernels too).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f64));
    /// let y = x.gelu();
    /// assert!((y.value().item()? - 0.8413447460685429).abs() < 1e-12);
    /// let g = tape.gradient(&y, [x])?;
    /// assert!((g.get(x).unwrap().item()? - 1.0833154705876864).abs() < 1e-12);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn gelu(&self) -> Var<'t, T> {
        let y = self.with_value(gelu_forward);
        self.tape().record_with([*self], y, |mut g, io| {
            let x = io.x(0);
            // Written into the gradient's own buffer when no one else holds
            // it (the common case in a backward sweep), as `unary` does.
            let g = match g.unique_mut() {
                Some(gs) => {
                    gelu_backward_in_place(gs, x.as_slice());
                    g
                }
                None => chain(&g, x, io.y(), |x, _| gelu_derivative(x)),
            };
            [Some(g)]
        })
    }

    /// SiLU (swish), `x · σ(x)`. Gradient: `σ(x) (1 + x (1 - σ(x)))`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(0.0f32));
    /// assert_eq!(tape.gradient(&x.silu(), [x])?.get(x).unwrap().item()?, 0.5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn silu(&self) -> Var<'t, T> {
        self.unary(
            |x| x * sigmoid_scalar(x),
            |x, _| {
                let s = sigmoid_scalar(x);
                s * (T::one() + x * (T::one() - s))
            },
        )
    }

    /// Softplus `ln(1 + eˣ)`, computed without overflow. Gradient: `σ(x)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![0.0f64, 1000.0], &[2])?);
    /// let y = x.softplus();
    /// assert_eq!(y.value().to_vec(), vec![2f64.ln(), 1000.0]);
    /// assert_eq!(tape.gradient(&y.sum(), [x])?.get(x).unwrap().to_vec(), vec![0.5, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn softplus(&self) -> Var<'t, T> {
        self.unary(softplus_scalar, |x, _| sigmoid_scalar(x))
    }

    /// Softsign `x / (1 + |x|)`. Gradient: `1 / (1 + |x|)²`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let y = x.softsign();
    /// assert_eq!(y.value().item()?, 0.5);
    /// assert_eq!(tape.gradient(&y, [x])?.get(x).unwrap().item()?, 0.25);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn softsign(&self) -> Var<'t, T> {
        self.unary(
            |x| x / (T::one() + x.abs()),
            |x, _| {
                let d = T::one() + x.abs();
                (d * d).recip()
            },
        )
    }

    /// Hard sigmoid, Keras 3's definition `clamp(x / 6 + 1/2, 0, 1)` (as
    /// PyTorch's `hardsigmoid`). Gradient: `1/6` inside `(-3, 3)`, else 0
    /// (0 at ±3, as PyTorch). NaN in gives NaN out.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![-4.0f64, 0.0, 4.0], &[3])?);
    /// let y = x.hard_sigmoid();
    /// assert_eq!(y.value().to_vec(), vec![0.0, 0.5, 1.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 1.0 / 6.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn hard_sigmoid(&self) -> Var<'t, T> {
        let (sixth, half, three) = (T::from_f64(1.0 / 6.0), T::from_f64(0.5), T::from_f64(3.0));
        self.unary(
            move |x| {
                let y = x * sixth + half;
                // Comparisons, not `max`/`min`, so NaN passes through.
                if y <= T::zero() {
                    T::zero()
                } else if y >= T::one() {
                    T::one()
                } else {
                    y
                }
            },
            move |x, _| {
                if x > -three && x < three {
                    sixth
                } else if x.is_nan() {
                    x
                } else {
                    T::zero()
                }
            },
        )
    }

    /// Softmax along `axis`: `eˣ / Σ eˣ`, computed as `e^(x - max)` so large
    /// inputs do not overflow. Gradient: `y ⊙ (g - Σ_axis g ⊙ y)`.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) if `axis >= ndim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![1000.0f64, 1000.0], &[1, 2])?);
    /// let y = x.softmax(1)?;
    /// assert_eq!(y.value().to_vec(), vec![0.5, 0.5]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn softmax(&self, axis: usize) -> Result<Var<'t, T>> {
        let y = softmax_tensor(&self.value(), axis, "softmax")?;
        let saved = y.clone();
        Ok(self.tape().record([*self], y, move |g| {
            let gy = g.mul(&saved).expect("invariant: same shape");
            let s = gy.sum_axis(axis, true).expect("invariant: axis checked");
            [saved
                .mul(&g.sub(&s).expect("invariant: broadcasts"))
                .expect("invariant: same shape")]
        }))
    }

    /// Log-softmax along `axis`: `x - max - ln Σ e^(x - max)`, stable for
    /// any input. Gradient: `g - softmax(x) ⊙ Σ_axis g`.
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`](crate::Error::AxisOutOfRange) if `axis >= ndim`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![0.0f64, 0.0], &[2])?);
    /// let y = x.log_softmax(0)?;
    /// assert_eq!(y.value().to_vec(), vec![-2f64.ln(), -2f64.ln()]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn log_softmax(&self, axis: usize) -> Result<Var<'t, T>> {
        let y = log_softmax_tensor(&self.value(), axis, "log_softmax")?;
        let probs = y.exp();
        Ok(self.tape().record([*self], y, move |g| {
            let s = g.sum_axis(axis, true).expect("invariant: axis checked");
            [g.sub(&probs.mul(&s).expect("invariant: broadcasts"))
                .expect("invariant: same shape")]
        }))
    }
}

/// Softmax of a tensor along `axis`, stable for large inputs.
pub(crate) fn softmax_tensor<T: Float>(
    x: &Tensor<T>,
    axis: usize,
    op: &'static str,
) -> Result<Tensor<T>> {
    x.softmax_along(axis).map_err(|e| rename(e, op))
}

/// Log-softmax of a tensor along `axis`, stable for large inputs.
pub(crate) fn log_softmax_tensor<T: Float>(
    x: &Tensor<T>,
    axis: usize,
    op: &'static str,
) -> Result<Tensor<T>> {
    x.log_softmax_along(axis).map_err(|e| rename(e, op))
}

/// Reports a kernel's axis error under the name of the op the user called.
fn rename(e: crate::Error, op: &'static str) -> crate::Error {
    match e {
        crate::Error::AxisOutOfRange { axis, shape, .. } => {
            crate::Error::AxisOutOfRange { op, axis, shape }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientTape, Tensor};

    #[test]
    fn softmax_gradient_through_non_uniform_upstream() {
        // y = softmax([0, ln 3]) = [1/4, 3/4]; with upstream r = [1, 0]:
        // dx = y ⊙ (r - r·y) = [1/4 · 3/4, 3/4 · (-1/4)] = [3/16, -3/16]
        let tape = GradientTape::<f64>::new();
        let x = tape.watch(&Tensor::from_vec(vec![0.0, 3f64.ln()], &[2]).unwrap());
        let y = x.softmax(0).unwrap();
        let r = Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap();
        let g = tape.gradient_with(&y, &r, [x]).unwrap();
        let got = g.get(x).unwrap().to_vec();
        assert!((got[0] - 3.0 / 16.0).abs() < 1e-12 && (got[1] + 3.0 / 16.0).abs() < 1e-12);
    }

    #[test]
    fn softmax_rejects_bad_axis_with_its_own_name() {
        let tape = GradientTape::<f32>::new();
        let x = tape.watch(&Tensor::zeros(&[2, 3]).unwrap());
        let err = x.log_softmax(2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "log_softmax: axis 2 out of range for shape [2, 3]"
        );
    }

    #[test]
    fn relu_gradient_is_zero_at_zero() {
        let tape = GradientTape::<f32>::new();
        let x = tape.watch(&Tensor::scalar(0.0));
        assert_eq!(
            tape.gradient(&x.relu(), [x])
                .unwrap()
                .get(x)
                .unwrap()
                .item()
                .unwrap(),
            0.0
        );
    }
}
