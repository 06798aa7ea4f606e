//! Elementwise kernels: binary ops with NumPy broadcasting, scalar ops,
//! unary math, and the arithmetic operator sugar.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::Tensor;
use super::broadcast::zip_broadcast;
use super::par_map::map_in_place;
use super::par_map::map_into;
use crate::element::{Float, map_wide, split_threads};
use crate::error::Result;

/// Defines a broadcasting binary method that returns `Result`.
macro_rules! binary_method {
    ($(#[$doc:meta])* $name:ident, $f:expr) => {
        $(#[$doc])*
        ///
        /// # Errors
        ///
        /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast;
        /// [`Error::SizeOverflow`](crate::Error::SizeOverflow) or
        /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) if the broadcast
        /// output (`[n, 1]` with `[1, m]` holds `n·m`) cannot be held.
        pub fn $name(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
            zip_broadcast(stringify!($name), self, rhs, $f)
        }
    };
}

/// The length from which [`Tensor::map`] runs its loop compiled for the
/// widest instruction set: below it, zeroing the output first and the
/// dispatch cost more than the wider lanes save (the 1-16-1 MLP's
/// `[64, 16]` `tanh` is above it; docs/performance.md).
const WIDE_MAP_MIN: usize = 128;

/// Defines a unary elementwise method.
macro_rules! unary_method {
    ($(#[$doc:meta])* $name:ident, $f:expr) => {
        $(#[$doc])*
        pub fn $name(&self) -> Tensor<T> {
            self.map_split($f)
        }
    };
}

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![1.0f32, -2.0], &[2])?;
    /// assert_eq!(t.map(|x| x * 10.0).to_vec(), vec![10.0, -20.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn map(&self, f: impl Fn(T) -> T) -> Tensor<T> {
        if self.len() >= WIDE_MAP_MIN {
            // By the loop compiled for the widest instruction set: the same
            // bits, 2-4 times the lanes of the baseline build for a kernel
            // such as `tanh`. The output starts as a copy of the input (a
            // `memcpy`, which costs less than writing zeros element by
            // element), each element then overwritten by `f` of the input.
            let mut out = self.clone();
            map_wide(self.as_slice(), out.as_mut_slice(), f);
            return out;
        }
        let data = self.as_slice().iter().map(|&x| f(x));
        Tensor::from_iter_exact(data, self.shape.clone())
    }

    /// [`map`](Self::map) for a function that threads may share: a large
    /// tensor (see [`par_split`]) is mapped by the pool's threads, in
    /// pieces whose bounds do not depend on the thread count (each element
    /// is its own, so the bits do not either).
    pub(crate) fn map_split(&self, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
        if split_threads(self.len()) <= 1 {
            return self.map(f);
        }
        let mut out = Tensor::filled(self.shape(), T::zero());
        let dst = out
            .unique_mut()
            .expect("invariant: a fresh tensor owns its storage");
        map_into(self.as_slice(), dst, &f);
        out
    }

    /// [`map_split`](Self::map_split) taking `self` by value: writes into
    /// its buffer when no other tensor holds it, else allocates as `map`
    /// does.
    pub(crate) fn map_owned(mut self, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
        match self.unique_mut() {
            Some(xs) => {
                map_in_place(xs, &f);
                self
            }
            None => self.map_split(f),
        }
    }

    /// `self · c`, reusing `self`'s buffer when it is the only owner.
    pub(crate) fn mul_scalar_owned(self, c: T) -> Tensor<T> {
        self.map_owned(|x| x * c)
    }

    /// Applies `f` to every element in place (copying first if shared).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let mut t = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// t.map_inplace(|x| x + 1.0);
    /// assert_eq!(t.to_vec(), vec![2.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn map_inplace(&mut self, f: impl Fn(T) -> T) {
        for x in self.as_mut_slice() {
            *x = f(*x);
        }
    }

    /// Applies `f` to pairs of elements of `self` and `rhs`, broadcast
    /// against each other by NumPy's rules.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) if the shapes do not broadcast.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let a = Tensor::from_vec(vec![1.0f32, 5.0], &[2, 1])?;
    /// let b = Tensor::from_vec(vec![2.0f32, 3.0, 4.0], &[3])?;
    /// let hypot = a.zip_map(&b, |x, y| (x * x + y * y).sqrt())?;
    /// assert_eq!(hypot.shape(), &[2, 3]);
    /// assert_eq!(hypot.get(&[1, 0]), Some(29.0f32.sqrt()));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn zip_map(&self, rhs: &Tensor<T>, f: impl Fn(T, T) -> T) -> Result<Tensor<T>> {
        zip_broadcast("zip_map", self, rhs, f)
    }

    binary_method!(
        /// Elementwise sum, broadcasting.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
        /// let bias = Tensor::from_vec(vec![10.0f32, 20.0], &[2])?;
        /// assert_eq!(a.add(&bias)?.to_vec(), vec![11.0, 22.0, 13.0, 24.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        add,
        |x, y| x + y
    );
    binary_method!(
        /// Elementwise difference, broadcasting.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let a = Tensor::from_vec(vec![5.0f32, 7.0], &[2])?;
        /// assert_eq!(a.sub(&Tensor::scalar(1.0))?.to_vec(), vec![4.0, 6.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        sub,
        |x, y| x - y
    );
    binary_method!(
        /// Elementwise product, broadcasting.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1])?;
        /// let b = Tensor::from_vec(vec![3.0f32, 4.0], &[1, 2])?;
        /// assert_eq!(a.mul(&b)?.to_vec(), vec![3.0, 4.0, 6.0, 8.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        mul,
        |x, y| x * y
    );
    binary_method!(
        /// Elementwise quotient, broadcasting (IEEE: `x / 0` is ±inf or NaN).
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let a = Tensor::from_vec(vec![1.0f32, 3.0], &[2])?;
        /// assert_eq!(a.div(&Tensor::scalar(2.0))?.to_vec(), vec![0.5, 1.5]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        div,
        |x, y| x / y
    );
    binary_method!(
        /// Elementwise maximum, broadcasting (NaN if either is NaN).
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let a = Tensor::from_vec(vec![1.0f32, 5.0], &[2])?;
        /// assert_eq!(a.maximum(&Tensor::scalar(3.0))?.to_vec(), vec![3.0, 5.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        maximum,
        |x: T, y: T| if x.is_nan() || y.is_nan() { T::nan() } else { x.max(y) }
    );
    binary_method!(
        /// Elementwise minimum, broadcasting (NaN if either is NaN).
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let a = Tensor::from_vec(vec![1.0f32, 5.0], &[2])?;
        /// assert_eq!(a.minimum(&Tensor::scalar(3.0))?.to_vec(), vec![1.0, 3.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        minimum,
        |x: T, y: T| if x.is_nan() || y.is_nan() { T::nan() } else { x.min(y) }
    );

    /// Adds `c` to every element.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::ones(&[2])?.add_scalar(2.0).to_vec(), vec![3.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn add_scalar(&self, c: T) -> Tensor<T> {
        self.map_split(|x| x + c)
    }

    /// Subtracts `c` from every element.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::ones(&[2])?.sub_scalar(2.0).to_vec(), vec![-1.0, -1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn sub_scalar(&self, c: T) -> Tensor<T> {
        self.map_split(|x| x - c)
    }

    /// Multiplies every element by `c`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::ones(&[2])?.mul_scalar(3.0).to_vec(), vec![3.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn mul_scalar(&self, c: T) -> Tensor<T> {
        self.map_split(|x| x * c)
    }

    /// Divides every element by `c`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// assert_eq!(Tensor::<f32>::ones(&[2])?.div_scalar(4.0).to_vec(), vec![0.25, 0.25]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn div_scalar(&self, c: T) -> Tensor<T> {
        self.map_split(|x| x / c)
    }

    /// Raises every element to the power `p`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![4.0f32, 9.0], &[2])?;
    /// assert_eq!(t.powf(0.5).to_vec(), vec![2.0, 3.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn powf(&self, p: T) -> Tensor<T> {
        self.map_split(|x| x.powf(p))
    }

    /// Clamps every element into `[min, max]` (NaN stays NaN).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Tensor;
    ///
    /// let t = Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3])?;
    /// assert_eq!(t.clamp(0.0, 1.0).to_vec(), vec![0.0, 0.5, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn clamp(&self, min: T, max: T) -> Tensor<T> {
        self.map_split(|x| {
            if x < min {
                min
            } else if x > max {
                max
            } else {
                x
            }
        })
    }

    unary_method!(
        /// `-x`, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::<f32>::ones(&[1])?.neg().to_vec(), vec![-1.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        neg,
        |x: T| -x
    );
    unary_method!(
        /// `eˣ`, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::<f64>::zeros(&[1])?.exp().to_vec(), vec![1.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        exp,
        |x: T| x.exp()
    );
    unary_method!(
        /// Natural logarithm, elementwise (`ln 0 = -inf`).
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::<f64>::ones(&[1])?.ln().to_vec(), vec![0.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        ln,
        |x: T| x.ln()
    );
    unary_method!(
        /// Square root, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::full(&[1], 16.0f32)?.sqrt().to_vec(), vec![4.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        sqrt,
        |x: T| x.sqrt()
    );
    unary_method!(
        /// `x²`, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::full(&[1], -3.0f32)?.square().to_vec(), vec![9.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        square,
        |x: T| x * x
    );
    unary_method!(
        /// `|x|`, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::full(&[1], -3.0f32)?.abs().to_vec(), vec![3.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        abs,
        |x: T| x.abs()
    );
    unary_method!(
        /// Hyperbolic tangent, elementwise ([`Float::tanh_kernel`]: for `f32`
        /// a vectorized rational approximation within 8 ulp).
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::<f32>::zeros(&[1])?.tanh().to_vec(), vec![0.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        tanh,
        |x: T| x.tanh_kernel()
    );
    unary_method!(
        /// `1 / x`, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// assert_eq!(Tensor::full(&[1], 4.0f32)?.recip().to_vec(), vec![0.25]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        recip,
        |x: T| x.recip()
    );
    unary_method!(
        /// The sign of each element: -1, 0 or 1 (NaN stays NaN).
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let t = Tensor::from_vec(vec![-2.0f32, 0.0, 5.0], &[3])?;
        /// assert_eq!(t.signum().to_vec(), vec![-1.0, 0.0, 1.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        signum,
        |x: T| if x == T::zero() { x } else { x.signum() }
    );
    unary_method!(
        /// Logistic sigmoid `1 / (1 + e⁻ˣ)`, elementwise, computed without overflow.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let t = Tensor::from_vec(vec![0.0f32, -1000.0, 1000.0], &[3])?;
        /// assert_eq!(t.sigmoid().to_vec(), vec![0.5, 0.0, 1.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        sigmoid,
        sigmoid_scalar
    );
    unary_method!(
        /// Rectified linear unit `max(x, 0)`, elementwise.
        ///
        /// # Examples
        ///
        /// ```
        /// use tapeflow::Tensor;
        ///
        /// let t = Tensor::from_vec(vec![-1.0f32, 2.0], &[2])?;
        /// assert_eq!(t.relu().to_vec(), vec![0.0, 2.0]);
        /// # Ok::<(), tapeflow::Error>(())
        /// ```
        relu,
        |x: T| if x > T::zero() { x } else { T::zero() }
    );
}

/// `1 / (1 + e^-x)` without overflow for large `|x|`.
pub(crate) fn sigmoid_scalar<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// Implements `&a op &b`, `a op b`, `&a op c` and `a op c` for tensors.
macro_rules! operator {
    ($trait:ident, $method:ident, $scalar:ident) => {
        impl<T: Float> $trait<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            /// Broadcasting elementwise operator.
            ///
            /// # Panics
            ///
            /// If the shapes do not broadcast (or the broadcast output
            /// cannot be allocated); the message is the one the named
            /// method returns as an error, and the panic's location is the
            /// line of the operator in the caller's code.
            #[track_caller]
            fn $method(self, rhs: &Tensor<T>) -> Tensor<T> {
                // A `match`, not `unwrap_or_else(|e| panic!(..))`: a closure
                // is not `#[track_caller]`, so its panic would point here
                // instead of at the caller's line.
                match Tensor::$method(self, rhs) {
                    Ok(t) => t,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        impl<T: Float> $trait<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $method(self, rhs: Tensor<T>) -> Tensor<T> {
                match Tensor::$method(&self, &rhs) {
                    Ok(t) => t,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        impl<T: Float> $trait<T> for &Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.$scalar(rhs)
            }
        }
        impl<T: Float> $trait<T> for Tensor<T> {
            type Output = Tensor<T>;
            fn $method(self, rhs: T) -> Tensor<T> {
                self.$scalar(rhs)
            }
        }
    };
}

operator!(Add, add, add_scalar);
operator!(Sub, sub, sub_scalar);
operator!(Mul, mul, mul_scalar);
operator!(Div, div, div_scalar);

impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(self)
    }
}

impl<T: Float> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        Tensor::neg(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_broadcast_and_match_methods() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let b = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        assert_eq!((&a + &b).to_vec(), vec![2.0, 4.0, 4.0, 6.0]);
        assert_eq!((&a - &b).to_vec(), vec![0.0, 0.0, 2.0, 2.0]);
        assert_eq!((&a * 2.0).to_vec(), vec![2.0, 4.0, 6.0, 8.0]);
        assert_eq!((-&b).to_vec(), vec![-1.0, -2.0]);
    }

    #[test]
    #[should_panic(expected = "add: shape mismatch, lhs [2], rhs [3]")]
    fn operator_panics_with_the_error_message() {
        let _ = &Tensor::<f32>::zeros(&[2]).unwrap() + &Tensor::zeros(&[3]).unwrap();
    }

    #[test]
    fn maximum_propagates_nan() {
        let a = Tensor::from_vec(vec![f32::NAN, 1.0], &[2]).unwrap();
        let m = a.maximum(&Tensor::scalar(0.0)).unwrap();
        assert!(m.as_slice()[0].is_nan());
        assert_eq!(m.as_slice()[1], 1.0);
    }
}
