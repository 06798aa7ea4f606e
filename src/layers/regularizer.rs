//! [`Regularizer`]: the L1/L2 weight penalty a layer adds to the loss
//! (Keras's `keras.regularizers.L1`, `L2`, `L1L2`).

use serde_json::{Value, json};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;

/// A weight penalty `l1 · Σ|w| + l2 · Σw²`, as a layer's
/// `kernel_regularizer` setting.
///
/// As in Keras, the L2 term has no factor ½: its gradient is `2 · l2 · w`.
/// The coefficients must be finite and not negative; a layer checks them
/// when it is built.
///
/// # Examples
///
/// ```
/// use tapeflow::layers::Regularizer;
/// use tapeflow::{GradientTape, Tensor};
///
/// let tape = GradientTape::new();
/// let w = tape.watch(&Tensor::from_vec(vec![1.0f32, -2.0], &[2])?);
/// let loss = Regularizer::l1_l2(0.5, 0.1).penalty(w);   // 0.5·3 + 0.1·5
/// assert!((loss.value().item()? - 2.0).abs() < 1e-6);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularizer {
    /// Coefficient of `Σ|w|`.
    pub l1: f64,
    /// Coefficient of `Σw²`.
    pub l2: f64,
}

impl Regularizer {
    /// The L1 penalty `l1 · Σ|w|` (Keras's `L1(l1)`; Keras's default is `0.01`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    ///
    /// assert_eq!(Regularizer::l1(0.01), Regularizer { l1: 0.01, l2: 0.0 });
    /// ```
    pub fn l1(l1: f64) -> Self {
        Regularizer { l1, l2: 0.0 }
    }

    /// The L2 penalty `l2 · Σw²` (Keras's `L2(l2)`; Keras's default is `0.01`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    ///
    /// assert_eq!(Regularizer::l2(0.01), Regularizer { l1: 0.0, l2: 0.01 });
    /// ```
    pub fn l2(l2: f64) -> Self {
        Regularizer { l1: 0.0, l2 }
    }

    /// Both penalties, `l1 · Σ|w| + l2 · Σw²` (Keras's `L1L2(l1, l2)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    ///
    /// assert_eq!(Regularizer::l1_l2(0.1, 0.2), Regularizer { l1: 0.1, l2: 0.2 });
    /// ```
    pub fn l1_l2(l1: f64, l2: f64) -> Self {
        Regularizer { l1, l2 }
    }

    /// The penalty of `w`, recorded on `w`'s tape: a scalar `Var`.
    ///
    /// Gradient: `l1 · sign(w) + 2 · l2 · w` (the gradient of `|w|` at 0 is
    /// whatever [`Var::abs`] gives).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let w = tape.watch(&Tensor::from_vec(vec![3.0f64, -1.0], &[2])?);
    /// let loss = Regularizer::l2(0.5).penalty(w);           // 0.5 · (9 + 1)
    /// assert_eq!(loss.value().item()?, 5.0);
    /// let g = tape.gradient(&loss, [w])?;                  // 2 · 0.5 · w
    /// assert_eq!(g.get(w).unwrap().to_vec(), vec![3.0, -1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn penalty<'t, T: Float>(&self, w: Var<'t, T>) -> Var<'t, T> {
        let l1 = (self.l1 != 0.0).then(|| w.abs().sum().mul_scalar(T::from_f64(self.l1)));
        let l2 = (self.l2 != 0.0).then(|| w.square().sum().mul_scalar(T::from_f64(self.l2)));
        match (l1, l2) {
            (Some(a), Some(b)) => a + b,
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => w.sum().mul_scalar(T::zero()),
        }
    }

    /// Checks that both coefficients are finite and not negative.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `regularizer`) naming the bad coefficient.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    ///
    /// assert!(Regularizer::l2(0.01).validate().is_ok());
    /// assert!(Regularizer::l1(-1.0).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.validate_for::<f64>()
    }

    /// Checks both coefficients for the element type `T`: finite and not
    /// negative, also after conversion to `T` (`1e39` is infinite in `f32`).
    /// [`Dense`](crate::layers::Dense) calls it when it is built.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `regularizer`) naming the coefficient,
    /// the valid range and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    ///
    /// assert!(Regularizer::l2(1e39).validate_for::<f64>().is_ok());
    /// let err = Regularizer::l2(1e39).validate_for::<f32>().unwrap_err();
    /// let want = format!("regularizer: l2 must be finite and >= 0 in f32, got {}", 1e39);
    /// assert_eq!(err.to_string(), want);
    /// ```
    pub fn validate_for<T: Float>(&self) -> Result<()> {
        for (name, x) in [("l1", self.l1), ("l2", self.l2)] {
            if !(x.is_finite() && x >= 0.0 && T::from_f64(x).is_finite()) {
                return Err(Error::InvalidArgument {
                    op: "regularizer",
                    message: format!("{name} must be finite and >= 0 in {}, got {x}", T::NAME),
                });
            }
        }
        Ok(())
    }

    /// The regulariser as JSON: `{"l1": …, "l2": …}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Regularizer;
    ///
    /// let r = Regularizer::l2(0.25);
    /// assert_eq!(r.to_config().to_string(), r#"{"l1":0.0,"l2":0.25}"#);
    /// assert_eq!(Regularizer::from_config(&r.to_config())?, r);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_config(&self) -> Value {
        json!({ "l1": self.l1, "l2": self.l2 })
    }

    /// Reads a regulariser written by [`to_config`](Self::to_config); a
    /// missing coefficient is 0.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `regularizer`) unless the value is an
    /// object whose only keys are `l1` and `l2`, with numbers.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::Regularizer;
    ///
    /// assert_eq!(Regularizer::from_config(&json!({"l1": 0.5}))?, Regularizer::l1(0.5));
    /// assert!(Regularizer::from_config(&json!({"l3": 0.5})).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(value: &Value) -> Result<Self> {
        let bad = |message: String| Error::InvalidArgument {
            op: "regularizer",
            message,
        };
        let map = value
            .as_object()
            .ok_or_else(|| bad(format!("expected an object, got {value}")))?;
        let mut r = Regularizer { l1: 0.0, l2: 0.0 };
        for (key, v) in map {
            let x = v
                .as_f64()
                .ok_or_else(|| bad(format!("{key} must be a number, got {v}")))?;
            match key.as_str() {
                "l1" => r.l1 = x,
                "l2" => r.l2 = x,
                _ => return Err(bad(format!("unknown setting {key:?}"))),
            }
        }
        r.validate()?;
        Ok(r)
    }
}
