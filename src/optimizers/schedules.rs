//! [`LearningRateSchedule`]: learning rates that change with the step (the
//! four Keras 3 schedules, JSON-serialisable).
//!
//! A schedule is evaluated at the optimizer's step count *before* the step
//! (0 on the first update), as Keras does. This module knows nothing of
//! parameters or gradients.

use std::f64::consts::PI;

use serde_json::{Map, Value, json};

use super::json::{bool_field, f64_field, object, u64_field};
use crate::error::{Error, Result};

/// A learning rate as a function of the step, with Keras 3's definitions.
///
/// `step` is the number of updates already made (`0` on the first one).
///
/// - `ExponentialDecay`: `initial · decay_rate^(step / decay_steps)`; with
///   `staircase`, the exponent is floored.
/// - `PiecewiseConstantDecay`: `values[0]` while `step <= boundaries[0]`,
///   `values[i]` while `boundaries[i-1] < step <= boundaries[i]`, and the last
///   value after the last boundary (`values.len() == boundaries.len() + 1`).
/// - `CosineDecay`: without warm-up (`warmup_target: None`),
///   `initial · ((1 - alpha) · ½(1 + cos(π · min(step, decay_steps) / decay_steps)) + alpha)`.
///   With a warm-up, the rate rises linearly from `initial` to `warmup_target`
///   over `warmup_steps`, then decays from `warmup_target` by the cosine
///   above, counted from the end of the warm-up.
/// - `InverseTimeDecay`: `initial / (1 + decay_rate · step / decay_steps)`;
///   with `staircase`, `step / decay_steps` is floored.
///
/// # Examples
///
/// ```
/// use tapeflow::optimizers::LearningRateSchedule;
///
/// let s = LearningRateSchedule::ExponentialDecay {
///     initial_learning_rate: 0.1,
///     decay_steps: 10,
///     decay_rate: 0.5,
///     staircase: true,
/// };
/// assert_eq!(s.learning_rate(9), 0.1);
/// assert_eq!(s.learning_rate(10), 0.05);
/// let again = LearningRateSchedule::from_config(&s.to_config())?;
/// assert_eq!(again, s);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum LearningRateSchedule {
    /// `initial_learning_rate · decay_rate^(step / decay_steps)`.
    ExponentialDecay {
        /// The rate at step 0.
        initial_learning_rate: f64,
        /// Steps per decay period (> 0).
        decay_steps: u64,
        /// Factor per period (> 0).
        decay_rate: f64,
        /// Whether to decay in whole periods (floored exponent).
        staircase: bool,
    },
    /// A step function of the step count.
    PiecewiseConstantDecay {
        /// Increasing step boundaries.
        boundaries: Vec<u64>,
        /// One more value than boundaries.
        values: Vec<f64>,
    },
    /// Cosine decay with an optional linear warm-up (Keras 3 `CosineDecay`).
    CosineDecay {
        /// The rate at step 0.
        initial_learning_rate: f64,
        /// Steps over which to decay (> 0), after the warm-up.
        decay_steps: u64,
        /// The final rate as a fraction of the decayed-from rate.
        alpha: f64,
        /// The rate reached at the end of the warm-up; `None` for no warm-up.
        warmup_target: Option<f64>,
        /// Length of the warm-up in steps (used only with a `warmup_target`).
        warmup_steps: u64,
    },
    /// `initial_learning_rate / (1 + decay_rate · step / decay_steps)`.
    InverseTimeDecay {
        /// The rate at step 0.
        initial_learning_rate: f64,
        /// Steps per decay unit (> 0).
        decay_steps: u64,
        /// Decay per unit (>= 0).
        decay_rate: f64,
        /// Whether to floor `step / decay_steps`.
        staircase: bool,
    },
}

impl LearningRateSchedule {
    /// Keras's `CosineDecay(initial, decay_steps)` with its defaults
    /// (`alpha = 0`, no warm-up).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::LearningRateSchedule;
    ///
    /// let s = LearningRateSchedule::cosine_decay(1.0, 100);
    /// assert_eq!(s.learning_rate(0), 1.0);
    /// assert!((s.learning_rate(50) - 0.5).abs() < 1e-12);
    /// assert!(s.learning_rate(100).abs() < 1e-12);
    /// ```
    pub fn cosine_decay(initial_learning_rate: f64, decay_steps: u64) -> Self {
        LearningRateSchedule::CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            warmup_target: None,
            warmup_steps: 0,
        }
    }

    /// The learning rate after `step` updates.
    ///
    /// Call [`validate`](Self::validate) first for untrusted settings: with a
    /// zero `decay_steps` the result is not finite.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::LearningRateSchedule;
    ///
    /// let s = LearningRateSchedule::PiecewiseConstantDecay {
    ///     boundaries: vec![10, 20],
    ///     values: vec![1.0, 0.5, 0.1],
    /// };
    /// assert_eq!(s.learning_rate(10), 1.0);
    /// assert_eq!(s.learning_rate(11), 0.5);
    /// assert_eq!(s.learning_rate(21), 0.1);
    /// ```
    pub fn learning_rate(&self, step: u64) -> f64 {
        let s = step as f64;
        match self {
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = s / *decay_steps as f64;
                if *staircase {
                    p = p.floor();
                }
                initial_learning_rate * decay_rate.powf(p)
            }
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                let i = boundaries.iter().take_while(|&&b| step > b).count();
                values.get(i).copied().unwrap_or(f64::NAN)
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => {
                let d = *decay_steps as f64;
                let cosine = |step: f64, from: f64| {
                    let decayed = 0.5 * (1.0 + (PI * step / d).cos());
                    from * ((1.0 - alpha) * decayed + alpha)
                };
                match warmup_target {
                    None => cosine(s.min(d), *initial_learning_rate),
                    Some(target) => {
                        let w = *warmup_steps as f64;
                        let s = s.min(d + w);
                        if s < w {
                            (target - initial_learning_rate) * (s / w) + initial_learning_rate
                        } else {
                            cosine(s - w, *target)
                        }
                    }
                }
            }
            LearningRateSchedule::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => {
                let mut p = s / *decay_steps as f64;
                if *staircase {
                    p = p.floor();
                }
                initial_learning_rate / (1.0 + decay_rate * p)
            }
        }
    }

    /// Keras's class name of the schedule, e.g. `"ExponentialDecay"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::LearningRateSchedule;
    ///
    /// assert_eq!(LearningRateSchedule::cosine_decay(0.1, 10).class_name(), "CosineDecay");
    /// ```
    pub fn class_name(&self) -> &'static str {
        match self {
            LearningRateSchedule::ExponentialDecay { .. } => "ExponentialDecay",
            LearningRateSchedule::PiecewiseConstantDecay { .. } => "PiecewiseConstantDecay",
            LearningRateSchedule::CosineDecay { .. } => "CosineDecay",
            LearningRateSchedule::InverseTimeDecay { .. } => "InverseTimeDecay",
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op = the class name) if a rate is negative
    /// or not finite, `decay_steps` is 0, `decay_rate` is not positive
    /// (exponential) or negative (inverse time), `alpha` is outside `[0, 1]`,
    /// a warm-up has 0 steps, or the boundaries are not increasing or do not
    /// number one less than the values.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::LearningRateSchedule;
    ///
    /// let bad = LearningRateSchedule::cosine_decay(0.1, 0);
    /// let err = bad.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "CosineDecay: decay_steps must be > 0, got 0");
    /// ```
    pub fn validate(&self) -> Result<()> {
        let op = self.class_name();
        let bad = |message: String| Err(Error::InvalidArgument { op, message });
        let rate = |name: &str, x: f64| {
            if x.is_finite() && x >= 0.0 {
                Ok(())
            } else {
                bad(format!("{name} must be finite and >= 0, got {x}"))
            }
        };
        let steps = |x: u64| {
            if x > 0 {
                Ok(())
            } else {
                bad("decay_steps must be > 0, got 0".to_string())
            }
        };
        match self {
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                ..
            } => {
                rate("initial_learning_rate", *initial_learning_rate)?;
                steps(*decay_steps)?;
                if !(decay_rate.is_finite() && *decay_rate > 0.0) {
                    return bad(format!(
                        "decay_rate must be finite and > 0, got {decay_rate}"
                    ));
                }
                Ok(())
            }
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                if values.len() != boundaries.len() + 1 {
                    return bad(format!(
                        "needs one more value than boundaries, got {} boundaries and {} values",
                        boundaries.len(),
                        values.len()
                    ));
                }
                if boundaries.windows(2).any(|w| w[0] >= w[1]) {
                    return bad(format!("boundaries must increase, got {boundaries:?}"));
                }
                values.iter().try_for_each(|&v| rate("values", v))
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => {
                rate("initial_learning_rate", *initial_learning_rate)?;
                steps(*decay_steps)?;
                if !(0.0..=1.0).contains(alpha) {
                    return bad(format!("alpha must be in [0, 1], got {alpha}"));
                }
                if let Some(target) = warmup_target {
                    rate("warmup_target", *target)?;
                    if *warmup_steps == 0 {
                        return bad("warmup_steps must be > 0 with a warmup_target".to_string());
                    }
                }
                Ok(())
            }
            LearningRateSchedule::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                ..
            } => {
                rate("initial_learning_rate", *initial_learning_rate)?;
                steps(*decay_steps)?;
                rate("decay_rate", *decay_rate)
            }
        }
    }

    /// The schedule as Keras serialises it:
    /// `{"class_name": "...", "config": {...}}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::optimizers::LearningRateSchedule;
    ///
    /// let s = LearningRateSchedule::InverseTimeDecay {
    ///     initial_learning_rate: 0.5, decay_steps: 2, decay_rate: 1.0, staircase: false,
    /// };
    /// assert_eq!(s.to_config()["config"]["decay_steps"], json!(2));
    /// ```
    pub fn to_config(&self) -> Value {
        let config = match self {
            LearningRateSchedule::ExponentialDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            }
            | LearningRateSchedule::InverseTimeDecay {
                initial_learning_rate,
                decay_steps,
                decay_rate,
                staircase,
            } => json!({
                "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps,
                "decay_rate": decay_rate,
                "staircase": staircase,
            }),
            LearningRateSchedule::PiecewiseConstantDecay { boundaries, values } => {
                json!({ "boundaries": boundaries, "values": values })
            }
            LearningRateSchedule::CosineDecay {
                initial_learning_rate,
                decay_steps,
                alpha,
                warmup_target,
                warmup_steps,
            } => json!({
                "initial_learning_rate": initial_learning_rate,
                "decay_steps": decay_steps,
                "alpha": alpha,
                "warmup_target": warmup_target,
                "warmup_steps": warmup_steps,
            }),
        };
        json!({ "class_name": self.class_name(), "config": config })
    }

    /// Rebuilds a schedule from [`to_config`](Self::to_config)'s JSON and
    /// validates it. Missing optional keys take Keras's defaults.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for an unknown class
    /// name, a missing or mistyped key; any error of [`validate`](Self::validate).
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::optimizers::LearningRateSchedule;
    ///
    /// let s = LearningRateSchedule::from_config(&json!({
    ///     "class_name": "CosineDecay",
    ///     "config": { "initial_learning_rate": 0.1, "decay_steps": 100 },
    /// }))?;
    /// assert_eq!(s, LearningRateSchedule::cosine_decay(0.1, 100));
    /// assert!(LearningRateSchedule::from_config(&json!({ "class_name": "Nope" })).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let op = "from_config";
        let outer = object(op, config)?;
        let class = outer
            .get("class_name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let empty = Map::new();
        let c = match outer.get("config") {
            Some(v) => object(op, v)?,
            None => &empty,
        };
        if let Some(key) = outer.keys().find(|k| *k != "class_name" && *k != "config") {
            return Err(Error::InvalidArgument {
                op,
                message: format!("a learning rate schedule has no key '{key}'"),
            });
        }
        let allowed: &[&str] = match class {
            "ExponentialDecay" | "InverseTimeDecay" => &[
                "initial_learning_rate",
                "decay_steps",
                "decay_rate",
                "staircase",
                "name",
            ],
            "PiecewiseConstantDecay" => &["boundaries", "values", "name"],
            "CosineDecay" => &[
                "initial_learning_rate",
                "decay_steps",
                "alpha",
                "warmup_target",
                "warmup_steps",
                "name",
            ],
            _ => &[],
        };
        if let Some(key) = c.keys().find(|k| !allowed.contains(&k.as_str()))
            && !allowed.is_empty()
        {
            return Err(Error::InvalidArgument {
                op,
                message: format!("{class} has no setting '{key}'"),
            });
        }
        let required = |key: &str| f64_field(op, c, key, None);
        let steps = |key: &str| u64_field(op, c, key, None);
        let schedule = match class {
            "ExponentialDecay" | "InverseTimeDecay" => {
                let initial_learning_rate = required("initial_learning_rate")?;
                let decay_steps = steps("decay_steps")?;
                let decay_rate = required("decay_rate")?;
                let staircase = bool_field(op, c, "staircase", false)?;
                if class == "ExponentialDecay" {
                    LearningRateSchedule::ExponentialDecay {
                        initial_learning_rate,
                        decay_steps,
                        decay_rate,
                        staircase,
                    }
                } else {
                    LearningRateSchedule::InverseTimeDecay {
                        initial_learning_rate,
                        decay_steps,
                        decay_rate,
                        staircase,
                    }
                }
            }
            "PiecewiseConstantDecay" => {
                let list = |key: &str| -> Result<Vec<Value>> {
                    c.get(key)
                        .and_then(Value::as_array)
                        .cloned()
                        .ok_or_else(|| Error::InvalidArgument {
                            op,
                            message: format!("'{key}' must be an array"),
                        })
                };
                let boundaries = list("boundaries")?
                    .iter()
                    .map(|v| v.as_u64())
                    .collect::<Option<Vec<_>>>();
                let values = list("values")?
                    .iter()
                    .map(Value::as_f64)
                    .collect::<Option<Vec<_>>>();
                match (boundaries, values) {
                    (Some(boundaries), Some(values)) => {
                        LearningRateSchedule::PiecewiseConstantDecay { boundaries, values }
                    }
                    _ => {
                        return Err(Error::InvalidArgument {
                            op,
                            message: "boundaries must be step counts and values numbers"
                                .to_string(),
                        });
                    }
                }
            }
            "CosineDecay" => LearningRateSchedule::CosineDecay {
                initial_learning_rate: required("initial_learning_rate")?,
                decay_steps: steps("decay_steps")?,
                alpha: f64_field(op, c, "alpha", Some(0.0))?,
                warmup_target: match c.get("warmup_target") {
                    None | Some(Value::Null) => None,
                    Some(_) => Some(required("warmup_target")?),
                },
                warmup_steps: u64_field(op, c, "warmup_steps", Some(0))?,
            },
            other => {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!("unknown learning rate schedule '{other}'"),
                });
            }
        };
        schedule.validate()?;
        Ok(schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_hand_computed_values() {
        use LearningRateSchedule::*;
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let exp = |staircase| ExponentialDecay {
            initial_learning_rate: 0.1,
            decay_steps: 10,
            decay_rate: 0.5,
            staircase,
        };
        close(exp(false).learning_rate(5), 0.1 * 0.5f64.sqrt());
        close(exp(false).learning_rate(20), 0.025);
        close(exp(true).learning_rate(15), 0.05);
        let pw = PiecewiseConstantDecay {
            boundaries: vec![2, 5],
            values: vec![1.0, 0.5, 0.1],
        };
        let got: Vec<f64> = (0..8).map(|s| pw.learning_rate(s)).collect();
        assert_eq!(got, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]);
        // (1 − α)·½(1 + cos(π/2)) + α = 0.9·0.5 + 0.1 at the half-way step.
        let cos = CosineDecay {
            initial_learning_rate: 2.0,
            decay_steps: 10,
            alpha: 0.1,
            warmup_target: None,
            warmup_steps: 0,
        };
        close(cos.learning_rate(0), 2.0);
        close(cos.learning_rate(5), 2.0 * 0.55);
        close(cos.learning_rate(50), 2.0 * 0.1);
        let warm = CosineDecay {
            initial_learning_rate: 0.0,
            decay_steps: 10,
            alpha: 0.0,
            warmup_target: Some(1.0),
            warmup_steps: 4,
        };
        close(warm.learning_rate(1), 0.25);
        close(warm.learning_rate(4), 1.0);
        close(warm.learning_rate(9), 0.5);
        close(warm.learning_rate(100), 0.0);
        let inv = |staircase| InverseTimeDecay {
            initial_learning_rate: 1.0,
            decay_steps: 2,
            decay_rate: 0.5,
            staircase,
        };
        close(inv(false).learning_rate(3), 1.0 / 1.75);
        close(inv(true).learning_rate(3), 1.0 / 1.5);
        for s in [exp(true), pw, cos, warm, inv(false)] {
            assert_eq!(
                LearningRateSchedule::from_config(&s.to_config()).expect("round trip"),
                s
            );
        }
    }
}
