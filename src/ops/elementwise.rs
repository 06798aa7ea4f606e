//! Elementwise arithmetic on [`Var`]: broadcasting binary ops, scalar ops and
//! unary math.

use crate::element::{Float, zip3_wide};
use crate::error::Result;
use crate::tape::{Grad, Var};
use crate::tensor::Tensor;

/// `g ⊙ d(x, y)` for a unary op with input `x` and output `y`.
pub(crate) fn chain<T: Float>(
    g: &Tensor<T>,
    x: &Tensor<T>,
    y: &Tensor<T>,
    d: impl Fn(T, T) -> T,
) -> Tensor<T> {
    let data = g
        .as_slice()
        .iter()
        .zip(x.as_slice().iter().zip(y.as_slice()))
        .map(|(&g, (&x, &y))| g * d(x, y));
    Tensor::from_iter_exact(data, g.shape())
}

/// [`chain`] taking the gradient by value: written into `g`'s own buffer
/// when no one else holds it (the common case in a backward sweep), so the
/// rule allocates nothing.
pub(crate) fn chain_owned<T: Float>(
    mut g: Tensor<T>,
    x: &Tensor<T>,
    y: &Tensor<T>,
    d: impl Fn(T, T) -> T,
) -> Tensor<T> {
    match g.unique_mut() {
        Some(gs) => {
            let (xs, ys) = (x.as_slice(), y.as_slice());
            if gs.len() >= 128 {
                // `g · d(x, y)` per element, compiled for the widest
                // instruction set (the same bits: `element::zip3_wide`).
                zip3_wide(gs, xs, ys, |g, x, y| g * d(x, y));
            } else {
                for (g, (&x, &y)) in gs.iter_mut().zip(xs.iter().zip(ys)) {
                    *g *= d(x, y);
                }
            }
            g
        }
        None => chain(&g, x, y, d),
    }
}

/// `g ⊙ x` where `g` has the broadcast shape of a product and `x` is one of
/// its operands: written into `g`'s own buffer when `x` has `g`'s shape and
/// no one else holds `g`, else a new tensor (the same products either way).
fn times_owned<T: Float>(mut g: Tensor<T>, x: &Tensor<T>) -> Tensor<T> {
    if crate::tensor::same_shape(g.shape(), x.shape())
        && let Some(gs) = g.unique_mut()
    {
        for (g, &x) in gs.iter_mut().zip(x.as_slice()) {
            *g *= x;
        }
        return g;
    }
    g.mul(x)
        .expect("invariant: g has the broadcast shape of the product")
}

/// Whether a binary op's operands both have its result's shape (neither
/// was broadcast), so a fill over the result is one over each operand.
#[inline(always)]
fn same_shapes<T: Float>(io: &crate::tape::Inputs<'_, T>) -> bool {
    let y = io.y().shape();
    crate::tensor::same_shape(io.x(0).shape(), y) && crate::tensor::same_shape(io.x(1).shape(), y)
}

/// Sends the fills `a` and `b` to a binary op's two operands.
#[inline]
fn both<T: Float>(sink: crate::tape::Sink<'_, T>, a: T, b: T) {
    sink(0, Grad::Fill(a));
    sink(1, Grad::Fill(b));
}

impl<'t, T: Float> Var<'t, T> {
    /// Records a unary elementwise op: value `f(x)`, gradient `g · df(x, y)`
    /// where `y = f(x)` is the saved output.
    pub(crate) fn unary(&self, f: impl Fn(T) -> T, df: impl Fn(T, T) -> T + 'static) -> Var<'t, T> {
        let y = self.with_value(|x| x.map(f));
        self.tape().record_with([*self], y, move |g, io| {
            [Some(chain_owned(g, io.x(0), io.y(), &df))]
        })
    }

    /// Elementwise sum, broadcasting.
    ///
    /// Gradient: `g` to both sides (summed back over broadcast dimensions).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do
    /// not broadcast; [`Error::TapeMismatch`](crate::Error::TapeMismatch) if
    /// the operands are on different tapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::<f32>::ones(&[2, 3])?);
    /// let b = tape.watch(&Tensor::<f32>::zeros(&[3])?);
    /// let y = x.add(&b)?.sum();
    /// let g = tape.gradient(&y, [b])?;
    /// assert_eq!(g.get(b).unwrap().to_vec(), vec![2.0; 3]);   // summed over rows
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn add(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.same_tape("add", rhs)?;
        let y = self.with_values(rhs, |a, b| a.add(b))?;
        Ok(self
            .tape()
            .record_rule([*self, self.rebind(rhs)], y, |g, io, sink| {
                // A fill passes through to an operand of the result's shape
                // (one not broadcast); else it is written out first.
                let g = match g {
                    Grad::Fill(v) if same_shapes(io) => return both(sink, v, v),
                    g => g.into_tensor(io.y().shape()),
                };
                sink(0, Grad::Tensor(g.clone()));
                sink(1, Grad::Tensor(g));
            }))
    }

    /// Elementwise difference, broadcasting.
    ///
    /// Gradient: `g` and `-g`.
    ///
    /// # Errors
    ///
    /// As for [`add`](Self::add).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::scalar(5.0f32));
    /// let b = tape.watch(&Tensor::scalar(3.0f32));
    /// let g = tape.gradient(&a.sub(&b)?, [a, b])?;
    /// assert_eq!((g.get(a).unwrap().item()?, g.get(b).unwrap().item()?), (1.0, -1.0));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sub(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.same_tape("sub", rhs)?;
        let y = self.with_values(rhs, |a, b| a.sub(b))?;
        Ok(self
            .tape()
            .record_rule([*self, self.rebind(rhs)], y, |g, io, sink| {
                let g = match g {
                    Grad::Fill(v) if same_shapes(io) => return both(sink, v, -v),
                    g => g.into_tensor(io.y().shape()),
                };
                let neg = g.neg();
                sink(0, Grad::Tensor(g));
                sink(1, Grad::Tensor(neg));
            }))
    }

    /// Elementwise product, broadcasting.
    ///
    /// Gradient: `g ⊙ rhs` and `g ⊙ lhs`.
    ///
    /// # Errors
    ///
    /// As for [`add`](Self::add).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::scalar(5.0f32));
    /// let b = tape.watch(&Tensor::scalar(3.0f32));
    /// let g = tape.gradient(&a.mul(&b)?, [a, b])?;
    /// assert_eq!((g.get(a).unwrap().item()?, g.get(b).unwrap().item()?), (3.0, 5.0));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mul(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.same_tape("mul", rhs)?;
        let y = self.with_values(rhs, |a, b| a.mul(b))?;
        Ok(self
            .tape()
            .record_rule([*self, self.rebind(rhs)], y, |g, io, sink| {
                let g = match g {
                    // `g ⊙ rhs` and `g ⊙ lhs` for `g` one value over
                    // operands of the result's shape (a product's sum):
                    // each side one pass over the other operand, no fill
                    // written out.
                    Grad::Fill(v) if same_shapes(io) => {
                        let scaled = |x: &Tensor<T>| {
                            Tensor::from_iter_exact(x.as_slice().iter().map(|&x| v * x), x.shape())
                        };
                        let gb = io.needs(1).then(|| scaled(io.x(0)));
                        if io.needs(0) {
                            sink(0, Grad::Tensor(scaled(io.x(1))));
                        }
                        if let Some(gb) = gb {
                            sink(1, Grad::Tensor(gb));
                        }
                        return;
                    }
                    g => g.into_tensor(io.y().shape()),
                };
                let gb = io.needs(1).then(|| {
                    g.mul(io.x(0))
                        .expect("invariant: g has the broadcast shape")
                });
                // The lhs side last, so it may take `g`'s own buffer.
                if io.needs(0) {
                    sink(0, Grad::Tensor(times_owned(g, io.x(1))));
                }
                if let Some(gb) = gb {
                    sink(1, Grad::Tensor(gb));
                }
            }))
    }

    /// Elementwise quotient, broadcasting.
    ///
    /// Gradient: `g / rhs` and `-g ⊙ lhs / rhs²`.
    ///
    /// # Errors
    ///
    /// As for [`add`](Self::add).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let a = tape.watch(&Tensor::scalar(6.0f32));
    /// let b = tape.watch(&Tensor::scalar(2.0f32));
    /// let g = tape.gradient(&a.div(&b)?, [a, b])?;
    /// assert_eq!((g.get(a).unwrap().item()?, g.get(b).unwrap().item()?), (0.5, -1.5));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn div(&self, rhs: &Var<'_, T>) -> Result<Var<'t, T>> {
        self.same_tape("div", rhs)?;
        let (a, b) = (self.value(), rhs.value());
        let y = a.div(&b)?;
        let (la, lb) = (self.requires_grad(), rhs.requires_grad());
        let q = y.clone();
        Ok(self
            .tape()
            .record_partial([*self, self.rebind(rhs)], y, move |g| {
                let ga = g.div(&b).expect("invariant: g has the broadcast shape");
                // d rhs = -g·a/b² = -(g/b)·(a/b)
                let gb = lb.then(|| ga.mul(&q).expect("invariant: same shape").neg());
                [la.then_some(ga), gb]
            }))
    }

    /// The same handle typed with this tape's lifetime (both are known to be
    /// on the same tape).
    fn rebind(&self, other: &Var<'_, T>) -> Var<'t, T> {
        Var::new(self.tape(), other.index())
    }

    /// Adds a constant.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// assert_eq!(x.add_scalar(2.0).value().item()?, 3.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn add_scalar(&self, c: T) -> Var<'t, T> {
        let y = self.with_value(|x| x.add_scalar(c));
        // The gradient passes through as it is, a fill too.
        self.tape().record_rule([*self], y, |g, _, sink| sink(0, g))
    }

    /// Subtracts a constant.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// assert_eq!(x.sub_scalar(2.0).value().item()?, -1.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sub_scalar(&self, c: T) -> Var<'t, T> {
        self.add_scalar(-c)
    }

    /// Multiplies by a constant. Gradient: `c · g`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let g = tape.gradient(&x.mul_scalar(3.0), [x])?;
    /// assert_eq!(g.get(x).unwrap().item()?, 3.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mul_scalar(&self, c: T) -> Var<'t, T> {
        let y = self.with_value(|x| x.mul_scalar(c));
        self.tape().record_rule([*self], y, move |g, _, sink| {
            let g = match g {
                // `g · c` for every element: one product.
                Grad::Fill(v) => Grad::Fill(v * c),
                Grad::Tensor(g) => Grad::Tensor(g.mul_scalar_owned(c)),
            };
            sink(0, g);
        })
    }

    /// Divides by a constant. Gradient: `g / c`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let g = tape.gradient(&x.div_scalar(4.0), [x])?;
    /// assert_eq!(g.get(x).unwrap().item()?, 0.25);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn div_scalar(&self, c: T) -> Var<'t, T> {
        self.mul_scalar(T::one() / c)
    }

    /// `xᵖ`, elementwise. Gradient: `p · xᵖ⁻¹`, and exactly 0 when `p = 0`
    /// (PyTorch's `pow` rule: `d/dx x⁰ = 0` everywhere, also at `x = 0`
    /// where `0 · 0⁻¹` would be NaN). At `x = 0`: `p = 1` gives 1, `p > 1`
    /// gives 0, `0 < p < 1` gives `+inf` and `p < 0` gives `-inf` (as
    /// PyTorch). NaN in `x` gives NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(4.0f64));
    /// let g = tape.gradient(&x.powf(1.5), [x])?;   // 1.5 · √4 = 3
    /// assert_eq!(g.get(x).unwrap().item()?, 3.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn powf(&self, p: T) -> Var<'t, T> {
        self.unary(
            move |x| x.powf(p),
            move |x, _| {
                if p == T::zero() {
                    T::zero()
                } else {
                    p * x.powf(p - T::one())
                }
            },
        )
    }

    /// `-x`. Gradient: `-g`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(2.0f32));
    /// assert_eq!(tape.gradient(&x.neg(), [x])?.get(x).unwrap().item()?, -1.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn neg(&self) -> Var<'t, T> {
        self.mul_scalar(-T::one())
    }

    /// `eˣ`. Gradient: `eˣ` (the saved output).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(0.0f64));
    /// assert_eq!(tape.gradient(&x.exp(), [x])?.get(x).unwrap().item()?, 1.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn exp(&self) -> Var<'t, T> {
        self.unary(|x| x.exp(), |_, y| y)
    }

    /// Natural logarithm. Gradient: `1 / x`: `+inf` at `x = 0` (where the
    /// value is `-inf`), as PyTorch; NaN for `x < 0` (value NaN).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(4.0f64));
    /// assert_eq!(tape.gradient(&x.ln(), [x])?.get(x).unwrap().item()?, 0.25);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn ln(&self) -> Var<'t, T> {
        self.unary(|x| x.ln(), |x, _| x.recip())
    }

    /// Square root. Gradient: `1 / (2√x)`: `+inf` at `x = 0`, as PyTorch;
    /// NaN for `x < 0` (value NaN).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(4.0f64));
    /// assert_eq!(tape.gradient(&x.sqrt(), [x])?.get(x).unwrap().item()?, 0.25);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sqrt(&self) -> Var<'t, T> {
        self.unary(|x| x.sqrt(), |_, y| (y + y).recip())
    }

    /// `x²`. Gradient: `2x`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(3.0f32));
    /// assert_eq!(tape.gradient(&x.square(), [x])?.get(x).unwrap().item()?, 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn square(&self) -> Var<'t, T> {
        self.unary(|x| x * x, |x, _| x + x)
    }

    /// `|x|`. Gradient: the sign of `x`, and 0 at 0 (PyTorch's `sgn(0) = 0`);
    /// NaN in, NaN out (value and gradient).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![-2.0f32, 0.0, 3.0], &[3])?);
    /// let g = tape.gradient(&x.abs().sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![-1.0, 0.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn abs(&self) -> Var<'t, T> {
        self.unary(
            |x| x.abs(),
            |x, _| if x == T::zero() { x } else { x.signum() },
        )
    }

    /// Clamps into `[min, max]`, as PyTorch's `clamp`: `min(max(x, min), max)`,
    /// so with `min > max` every element becomes `max`. NaN in `x` (or a
    /// NaN bound) gives NaN, as PyTorch and NumPy.
    ///
    /// Gradient: `g` where `min < x < max`, else 0: at a bound the gradient
    /// is 0, as in PyTorch 2 with number bounds (checked against torch 2.15
    /// by `tests/golden/edge_gradients.py`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3])?);
    /// let y = x.clamp(0.0, 1.0);
    /// assert_eq!(y.value().to_vec(), vec![0.0, 0.5, 1.0]);
    /// let g = tape.gradient(&y.sum(), [x])?;
    /// assert_eq!(g.get(x).unwrap().to_vec(), vec![0.0, 1.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn clamp(&self, min: T, max: T) -> Var<'t, T> {
        self.clamp_with(min, max, false)
    }

    /// Clamps like [`clamp`](Self::clamp), but passes the gradient at the
    /// bounds too (`min <= x <= max`): TensorFlow's `clip_by_value` rule,
    /// which the Keras losses' probability clipping follows.
    pub(crate) fn clip_by_value(&self, min: T, max: T) -> Var<'t, T> {
        self.clamp_with(min, max, true)
    }

    fn clamp_with(&self, min: T, max: T, bounds_pass: bool) -> Var<'t, T> {
        let inside = move |x: T, _| {
            let pass = if bounds_pass {
                x >= min && x <= max
            } else {
                x > min && x < max
            };
            if pass { T::one() } else { T::zero() }
        };
        let bad_bound = min.is_nan() || max.is_nan();
        self.unary(
            move |x| {
                if bad_bound {
                    return T::nan();
                }
                // Comparisons that are false for NaN, so NaN passes through.
                let y = if x < min { min } else { x };
                if y > max { max } else { y }
            },
            inside,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::{GradientTape, Tensor};

    #[test]
    fn mul_broadcast_gradient_through_non_uniform_upstream() {
        // y = a ⊙ b with a [2, 2], b [2] broadcast over rows; upstream r.
        // d a = r ⊙ b; d b = Σ_rows r ⊙ a.
        let tape = GradientTape::<f64>::new();
        let a = tape.watch(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
        let b = tape.watch(&Tensor::from_vec(vec![10.0, 20.0], &[2]).unwrap());
        let y = a.mul(&b).unwrap();
        let r = Tensor::from_vec(vec![1.0, 0.5, -1.0, 2.0], &[2, 2]).unwrap();
        let g = tape.gradient_with(&y, &r, [a, b]).unwrap();
        assert_eq!(g.get(a).unwrap().to_vec(), vec![10.0, 10.0, -10.0, 40.0]);
        assert_eq!(g.get(b).unwrap().to_vec(), vec![1.0 - 3.0, 1.0 + 8.0]);
    }

    #[test]
    fn div_gradient_matches_hand_derivation() {
        // y = a / b: dy/da = 1/b = 0.25, dy/db = -a/b² = -3/16
        let tape = GradientTape::<f64>::new();
        let a = tape.watch(&Tensor::scalar(3.0));
        let b = tape.watch(&Tensor::scalar(4.0));
        let g = tape.gradient(&a.div(&b).unwrap(), [a, b]).unwrap();
        assert_eq!(g.get(a).unwrap().item().unwrap(), 0.25);
        assert_eq!(g.get(b).unwrap().item().unwrap(), -3.0 / 16.0);
    }
}
