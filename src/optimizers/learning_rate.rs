//! [`LearningRate`]: what an optimizer accepts as its learning rate, a
//! constant or a [`LearningRateSchedule`].

use serde_json::{Value, json};

use super::core::type_name;
use super::schedules::LearningRateSchedule;
use crate::element::Float;
use crate::error::{Error, Result};

/// What an optimizer's learning rate is: a constant or a
/// [`LearningRateSchedule`] evaluated at the optimizer's step count.
///
/// Optimizer constructors take `impl Into<LearningRate>`, so both
/// `Adam::new(0.01)` and `Adam::new(schedule)` work.
///
/// # Examples
///
/// ```
/// use tapeflow::optimizers::{LearningRate, LearningRateSchedule};
///
/// assert_eq!(LearningRate::from(0.1).at(1000), 0.1);
/// let s = LearningRate::from(LearningRateSchedule::cosine_decay(0.1, 10));
/// assert!(s.at(10).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRate {
    /// The same rate at every step.
    Constant(f64),
    /// A rate that depends on the step.
    Schedule(LearningRateSchedule),
}

impl LearningRate {
    /// The rate after `step` updates.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::LearningRate;
    ///
    /// assert_eq!(LearningRate::Constant(0.5).at(7), 0.5);
    /// ```
    pub fn at(&self, step: u64) -> f64 {
        match self {
            LearningRate::Constant(lr) => *lr,
            LearningRate::Schedule(s) => s.learning_rate(step),
        }
    }

    /// The JSON form: a number, or the schedule's
    /// [`to_config`](LearningRateSchedule::to_config).
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::optimizers::LearningRate;
    ///
    /// assert_eq!(LearningRate::Constant(0.5).to_config(), json!(0.5));
    /// ```
    pub fn to_config(&self) -> Value {
        match self {
            LearningRate::Constant(lr) => json!(lr),
            LearningRate::Schedule(s) => s.to_config(),
        }
    }

    /// Reads the JSON form written by [`to_config`](Self::to_config).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) if the value is neither
    /// a number nor a valid schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::optimizers::LearningRate;
    ///
    /// assert_eq!(LearningRate::from_config(&json!(0.25))?, LearningRate::Constant(0.25));
    /// assert!(LearningRate::from_config(&json!("fast")).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        match config {
            Value::Number(n) => Ok(LearningRate::Constant(n.as_f64().unwrap_or(f64::NAN))),
            Value::Object(_) => {
                LearningRateSchedule::from_config(config).map(LearningRate::Schedule)
            }
            other => Err(Error::InvalidArgument {
                op: "from_config",
                message: format!("learning_rate must be a number or a schedule, got {other}"),
            }),
        }
    }

    /// Checks that a schedule's settings are valid. A constant rate (and
    /// the value a schedule gives) is checked for the element type by
    /// [`checked_at`](Self::checked_at) at every step.
    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            LearningRate::Constant(_) => Ok(()),
            LearningRate::Schedule(s) => s.validate(),
        }
    }
}

impl LearningRate {
    /// The learning rate for the update at `step`, checked: it must be
    /// finite and `>= 0` in `f64` and after conversion to the element type
    /// `T`. A schedule is checked at every step, since one whose value
    /// grows (an `ExponentialDecay` with a rate above 1) can reach
    /// infinity long after it was accepted.
    pub(crate) fn checked_at<T: Float>(&self, op: &'static str, step: u64) -> Result<f64> {
        let lr = self.at(step);
        if lr.is_finite() && lr >= 0.0 && T::from_f64(lr).is_finite() {
            return Ok(lr);
        }
        let ty = type_name::<T>();
        let message = match self {
            LearningRate::Constant(_) => {
                format!("learning_rate must be finite and >= 0 in {ty}, got {lr}")
            }
            LearningRate::Schedule(s) => format!(
                "learning rate schedule {} gives {lr} at step {step}; it must be finite and >= 0 in {ty}",
                s.class_name()
            ),
        };
        Err(Error::InvalidArgument { op, message })
    }
}

impl From<f64> for LearningRate {
    fn from(lr: f64) -> Self {
        LearningRate::Constant(lr)
    }
}

impl From<LearningRateSchedule> for LearningRate {
    fn from(s: LearningRateSchedule) -> Self {
        LearningRate::Schedule(s)
    }
}
