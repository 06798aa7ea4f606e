//! [`Activation`]: the activation functions as a serialisable enum that maps
//! each variant to its differentiable op on [`Var`].
//!
//! This module owns the names and defaults (Keras's); the maths and
//! gradients live in [`ops`](crate::ops).

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::Var;

/// An activation function, as a layer's `activation` setting.
///
/// Names follow Keras (`"relu"`, `"swish"` is an alias of `"silu"`).
/// Softmax and log-softmax act along the last axis.
///
/// # Examples
///
/// ```
/// use tapeflow::{Activation, GradientTape, Tensor};
///
/// let act: Activation = "relu".parse()?;
/// assert_eq!(act, Activation::Relu);
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::from_vec(vec![-1.0f32, 2.0], &[1, 2])?);
/// assert_eq!(act.apply(x)?.value().to_vec(), vec![0.0, 2.0]);
/// assert_eq!(Activation::Softmax.apply(x)?.value().sum(), 1.0);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum Activation {
    /// The identity, `x` (Keras's `"linear"`, the default).
    #[default]
    Linear,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// Softmax along the last axis.
    Softmax,
    /// Log-softmax along the last axis.
    LogSoftmax,
    /// `x` for `x > 0`, else `alpha · x` (Keras's default `alpha = 0.2`).
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f64,
    },
    /// `x` for `x > 0`, else `alpha (eˣ - 1)` (default `alpha = 1`).
    Elu {
        /// Scale of the negative part.
        alpha: f64,
    },
    /// Scaled ELU with the self-normalising constants.
    Selu,
    /// GELU, exact erf form.
    Gelu,
    /// `x · σ(x)`, also called swish.
    Silu,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `clamp(x / 6 + 1/2, 0, 1)`.
    HardSigmoid,
}

impl Activation {
    /// Applies the activation to `x`, recording it on `x`'s tape. NaN in
    /// `x` comes out as NaN for every activation (PyTorch's and NumPy's
    /// behaviour).
    ///
    /// # Errors
    ///
    /// [`Error::AxisOutOfRange`] for softmax or log-softmax of a scalar;
    /// [`Error::InvalidArgument`] if `alpha` is invalid for the element
    /// type (see [`validate`](Self::validate)).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::{Activation, GradientTape, Tensor};
    ///
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::scalar(0.0f64));
    /// assert_eq!(Activation::Sigmoid.apply(x)?.value().item()?, 0.5);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn apply<'t, T: Float>(self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.validate::<T>()?;
        let last = x.shape().len().checked_sub(1);
        let axis = || {
            last.ok_or(Error::AxisOutOfRange {
                op: "softmax",
                axis: 0,
                shape: Vec::new(),
            })
        };
        Ok(match self {
            Activation::Linear => x,
            Activation::Relu => x.relu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Softmax => x.softmax(axis()?)?,
            Activation::LogSoftmax => x.log_softmax(axis()?)?,
            Activation::LeakyRelu { alpha } => x.leaky_relu(T::from_f64(alpha)),
            Activation::Elu { alpha } => x.elu(T::from_f64(alpha)),
            Activation::Selu => x.selu(),
            Activation::Gelu => x.gelu(),
            Activation::Silu => x.silu(),
            Activation::Softplus => x.softplus(),
            Activation::Softsign => x.softsign(),
            Activation::HardSigmoid => x.hard_sigmoid(),
        })
    }

    /// Checks the settings for the element type `T`: `LeakyRelu`'s `alpha`
    /// must be finite and `>= 0` (Keras's `LeakyReLU` rule) and `Elu`'s
    /// finite, both also after conversion to `T` (`1e39` is finite in `f64`
    /// but infinite in `f32`). Called by [`apply`](Self::apply), by
    /// [`from_config`](Self::from_config) (for `f64`) and by the layers
    /// when they are built.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] naming the activation, `alpha`, the valid
    /// range and the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Activation;
    ///
    /// assert!(Activation::LeakyRelu { alpha: 0.2 }.validate::<f32>().is_ok());
    /// let err = Activation::LeakyRelu { alpha: 1e39 }.validate::<f32>().unwrap_err();
    /// let want = format!("leaky_relu: alpha must be finite and >= 0 in f32, got {}", 1e39);
    /// assert_eq!(err.to_string(), want);
    /// assert!(Activation::Elu { alpha: f64::NAN }.validate::<f64>().is_err());
    /// ```
    pub fn validate<T: Float>(self) -> Result<()> {
        let (alpha, ok, range) = match self {
            Activation::LeakyRelu { alpha } => (alpha, alpha >= 0.0, "finite and >= 0"),
            Activation::Elu { alpha } => (alpha, true, "finite"),
            _ => return Ok(()),
        };
        if ok && alpha.is_finite() && T::from_f64(alpha).is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidArgument {
                op: self.name(),
                message: format!("alpha must be {range} in {}, got {alpha}", T::NAME),
            })
        }
    }

    /// The Keras name: `"relu"`, `"leaky_relu"`, ….
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Activation;
    ///
    /// assert_eq!(Activation::LeakyRelu { alpha: 0.1 }.name(), "leaky_relu");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::LogSoftmax => "log_softmax",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Gelu => "gelu",
            Activation::Silu => "silu",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::HardSigmoid => "hard_sigmoid",
        }
    }

    /// The activation as JSON: its name as a string, or
    /// `{"name": …, "alpha": …}` for the parameterised ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::Activation;
    ///
    /// assert_eq!(Activation::Relu.to_config().to_string(), r#""relu""#);
    /// let leaky = Activation::LeakyRelu { alpha: 0.1 };
    /// assert_eq!(Activation::from_config(&leaky.to_config())?, leaky);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_config(self) -> Value {
        match self {
            Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
                json!({ "name": self.name(), "alpha": alpha })
            }
            _ => Value::String(self.name().to_string()),
        }
    }

    /// Reads an activation written by [`to_config`](Self::to_config).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `activation`) for an unknown name or a
    /// malformed value.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::Activation;
    ///
    /// assert_eq!(Activation::from_config(&json!("tanh"))?, Activation::Tanh);
    /// assert!(Activation::from_config(&json!("tanhh")).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(value: &Value) -> Result<Self> {
        let act = match value {
            Value::String(name) => name.parse()?,
            Value::Object(map) => {
                if let Some(key) = map.keys().find(|k| *k != "name" && *k != "alpha") {
                    return Err(bad(format!("unknown setting {key:?}")));
                }
                let name = match map.get("name") {
                    Some(Value::String(name)) => name.as_str(),
                    Some(other) => return Err(bad(format!("name must be a string, got {other}"))),
                    None => return Err(bad("missing \"name\"".to_string())),
                };
                let alpha =
                    match map.get("alpha") {
                        None => None,
                        Some(v) => Some(v.as_f64().ok_or_else(|| {
                            bad(format!("{name}: alpha must be a number, got {v}"))
                        })?),
                    };
                match (name.parse()?, alpha) {
                    (Activation::LeakyRelu { .. }, Some(alpha)) => Activation::LeakyRelu { alpha },
                    (Activation::Elu { .. }, Some(alpha)) => Activation::Elu { alpha },
                    (other, None) => other,
                    (other, Some(_)) => {
                        return Err(bad(format!("{} takes no alpha", other.name())));
                    }
                }
            }
            other => return Err(bad(format!("expected a name or an object, got {other}"))),
        };
        act.validate::<f64>()?;
        Ok(act)
    }
}

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "activation",
        message,
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parses a Keras activation name; parameterised activations get Keras's
    /// defaults (`leaky_relu`: alpha 0.2; `elu`: alpha 1).
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "linear" | "identity" => Activation::Linear,
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "softmax" => Activation::Softmax,
            "log_softmax" => Activation::LogSoftmax,
            "leaky_relu" => Activation::LeakyRelu { alpha: 0.2 },
            "elu" => Activation::Elu { alpha: 1.0 },
            "selu" => Activation::Selu,
            "gelu" => Activation::Gelu,
            "silu" | "swish" => Activation::Silu,
            "softplus" => Activation::Softplus,
            "softsign" => Activation::Softsign,
            "hard_sigmoid" => Activation::HardSigmoid,
            other => return Err(bad(format!("unknown activation {other:?}"))),
        })
    }
}

impl fmt::Display for Activation {
    /// The Keras name, with `alpha` in parentheses where it applies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu { alpha } | Activation::Elu { alpha } => {
                write!(f, "{}(alpha={alpha})", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GradientTape, Tensor};

    const ALL: [Activation; 14] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softmax,
        Activation::LogSoftmax,
        Activation::LeakyRelu { alpha: 0.3 },
        Activation::Elu { alpha: 0.5 },
        Activation::Selu,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::HardSigmoid,
    ];

    #[test]
    fn every_activation_round_trips_through_config() {
        for act in ALL {
            assert_eq!(Activation::from_config(&act.to_config()).unwrap(), act);
        }
    }

    #[test]
    fn softmax_of_a_scalar_is_an_error() {
        let tape = GradientTape::<f32>::new();
        let x = tape.constant(&Tensor::scalar(1.0));
        assert!(Activation::Softmax.apply(x).is_err());
    }

    #[test]
    fn unknown_name_is_named_in_the_error() {
        let err = "relu6".parse::<Activation>().unwrap_err();
        assert_eq!(err.to_string(), "activation: unknown activation \"relu6\"");
    }
}
