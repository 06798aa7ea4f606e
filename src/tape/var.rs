//! [`Var`]: a `Copy` handle to a node of a [`GradientTape`], and its
//! operator sugar. The operations themselves live in [`ops`](crate::ops).

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::GradientTape;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// A value on a [`GradientTape`]: a cheap `Copy` handle (the tape and the
/// node's index) whose operations record themselves for differentiation.
///
/// Operations that can fail on shapes (`add`, `matmul`, `reshape`, …) return
/// [`Result`]; elementwise unary operations and full reductions cannot fail
/// and return a `Var`. The arithmetic operators `+ - * /` are sugar for the
/// named methods and panic where those return an error.
///
/// # Examples
///
/// ```
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let x = tape.watch(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?);
/// let y = (x * x + x).sum();                   // Σ x² + x
/// assert_eq!(y.value().item()?, 20.0);
/// let g = tape.gradient(&y, [x])?;             // 2x + 1
/// assert_eq!(g.get(x).unwrap().to_vec(), vec![3.0, 5.0, 7.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub struct Var<'t, T: Float = f32> {
    tape: &'t GradientTape<T>,
    index: usize,
}

impl<T: Float> Clone for Var<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Float> Copy for Var<'_, T> {}

impl<T: Float> std::fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Var")
            .field("index", &self.index)
            .field("shape", &self.shape())
            .field("requires_grad", &self.requires_grad())
            .finish()
    }
}

impl<'t, T: Float> Var<'t, T> {
    pub(crate) fn new(tape: &'t GradientTape<T>, index: usize) -> Self {
        Var { tape, index }
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn tape_id(&self) -> u64 {
        self.tape.id()
    }

    /// The tape this value lives on.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let c = x.tape().constant(&Tensor::scalar(2.0));
    /// assert_eq!(x.mul(&c)?.value().item()?, 2.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn tape(&self) -> &'t GradientTape<T> {
        self.tape
    }

    /// The computed value (shares storage with the tape; no copy).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::scalar(0.0f64));
    /// assert_eq!(x.exp().value().item()?, 1.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn value(&self) -> Tensor<T> {
        self.tape.value_of(self.index)
    }

    /// Runs `f` on the value in place, without cloning its handle (a
    /// kernel that only reads its operand). `f` must not record on the tape.
    #[inline]
    pub(crate) fn with_value<R>(&self, f: impl FnOnce(&Tensor<T>) -> R) -> R {
        self.tape.with_value(self.index, f)
    }

    /// [`with_value`](Self::with_value) on this value and `rhs`, which must
    /// be on the same tape (checked by the caller with `same_tape`).
    #[inline]
    pub(crate) fn with_values<R>(
        &self,
        rhs: &Var<'_, T>,
        f: impl FnOnce(&Tensor<T>, &Tensor<T>) -> R,
    ) -> R {
        self.tape.with_values(self.index, rhs.index(), f)
    }

    /// The value's shape.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// assert_eq!(tape.constant(&Tensor::<f32>::zeros(&[2, 5])?).shape(), vec![2, 5]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn shape(&self) -> Vec<usize> {
        self.tape.shape_of(self.index)
    }

    /// Whether a gradient flows into this value (it depends on a watched
    /// input or a trainable parameter).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(1.0f32));
    /// let c = tape.constant(&Tensor::scalar(1.0f32));
    /// assert!(x.exp().requires_grad());
    /// assert!(!c.exp().requires_grad());
    /// ```
    pub fn requires_grad(&self) -> bool {
        self.tape.requires_grad_of(self.index)
    }

    /// The same value with gradients stopped: the result is a constant, so
    /// nothing flows back through it (`tf.stop_gradient`, `Tensor.detach`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// // y = x · stop(x): dy/dx = stop(x) = 3, not 2x = 6
    /// let tape = GradientTape::new();
    /// let x = tape.watch(&Tensor::scalar(3.0f32));
    /// let y = x.mul(&x.detach())?;
    /// assert_eq!(tape.gradient(&y, [x])?.get(x).unwrap().item()?, 3.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn detach(&self) -> Var<'t, T> {
        self.tape.constant(&self.value())
    }

    /// Checks that `other` is on the same tape, for binary op `op`.
    pub(crate) fn same_tape(&self, op: &'static str, other: &Var<'_, T>) -> Result<()> {
        if self.tape_id() == other.tape_id() {
            Ok(())
        } else {
            Err(Error::TapeMismatch { op })
        }
    }
}

/// Implements `a op b` and `a op scalar` for `Var`s.
macro_rules! operator {
    ($trait:ident, $method:ident, $scalar:ident) => {
        impl<'t, T: Float> $trait<Var<'t, T>> for Var<'t, T> {
            type Output = Var<'t, T>;
            /// Broadcasting elementwise operator.
            ///
            /// # Panics
            ///
            /// If the shapes do not broadcast or the operands are on
            /// different tapes, with the message of the named method's error.
            #[track_caller]
            fn $method(self, rhs: Var<'t, T>) -> Var<'t, T> {
                // A `match`, not `unwrap_or_else(|e| panic!(..))`: a closure
                // is not `#[track_caller]`, so its panic would point here.
                match Var::$method(&self, &rhs) {
                    Ok(v) => v,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        impl<'t, T: Float> $trait<&Var<'t, T>> for &Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $method(self, rhs: &Var<'t, T>) -> Var<'t, T> {
                match Var::$method(self, rhs) {
                    Ok(v) => v,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        impl<'t, T: Float> $trait<T> for Var<'t, T> {
            type Output = Var<'t, T>;
            fn $method(self, rhs: T) -> Var<'t, T> {
                self.$scalar(rhs)
            }
        }
    };
}

operator!(Add, add, add_scalar);
operator!(Sub, sub, sub_scalar);
operator!(Mul, mul, mul_scalar);
operator!(Div, div, div_scalar);

impl<'t, T: Float> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    fn neg(self) -> Var<'t, T> {
        Var::neg(&self)
    }
}

impl<'t, T: Float> Neg for &Var<'t, T> {
    type Output = Var<'t, T>;
    fn neg(self) -> Var<'t, T> {
        Var::neg(self)
    }
}
