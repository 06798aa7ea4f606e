//! [`Initializer`]: how a layer fills a new weight tensor (Keras's
//! `keras.initializers`), as a serialisable enum.
//!
//! This module owns the names, defaults and formulas (Keras's); it draws
//! from a seed ([`Initializer::init`]) or from the caller's RNG
//! ([`Initializer::init_with_rng`], what layers use to draw all their
//! weights from one seeded stream) and knows nothing of layers. Values are drawn
//! in `f64` and rounded to the element type, so `f32` and `f64` weights drawn
//! from equally seeded RNGs agree to `f32` precision.
//!
//! Fans are computed as Keras computes them: for a shape `[a, b]` (a Dense
//! kernel `[in, out]`) `fan_in = a`, `fan_out = b`; for `[n]` both are `n`;
//! for a scalar both are 1; for higher ranks the product of all but the last
//! two dimensions (the receptive field) multiplies `shape[-2]` and `shape[-1]`.

use std::fmt;
use std::str::FromStr;

use rand::{SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal, StandardUniform};
use serde_json::{Value, json};

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, checked_numel, try_with_capacity};

/// The standard deviation of a standard normal truncated to `[-2, 2]`:
/// Keras divides by it so that truncated draws have the intended variance.
const TRUNCATED_STD: f64 = 0.879_625_661_034_239_8;

/// A weight initialiser, as a layer's `kernel_initializer` or
/// `bias_initializer` setting.
///
/// Names and defaults follow Keras. The variance-scaling family (Glorot,
/// He, LeCun) uses the fans of the shape (see the [module docs](self)):
///
/// | variant | distribution |
/// |---|---|
/// | `GlorotUniform` | `U(-l, l)`, `l = √(6 / (fan_in + fan_out))` |
/// | `GlorotNormal` | truncated normal, `σ = √(2 / (fan_in + fan_out)) / 0.8796…` |
/// | `HeUniform` | `U(-l, l)`, `l = √(6 / fan_in)` |
/// | `HeNormal` | truncated normal, `σ = √(2 / fan_in) / 0.8796…` |
/// | `LecunUniform` | `U(-l, l)`, `l = √(3 / fan_in)` |
/// | `LecunNormal` | truncated normal, `σ = √(1 / fan_in) / 0.8796…` |
///
/// "Truncated normal" redraws every value more than two standard deviations
/// from the mean; dividing by `0.8796…` (the standard deviation of a unit
/// normal truncated at ±2) makes the variance of the truncated draws exactly
/// the one in the formula, as in Keras.
///
/// # Examples
///
/// ```
/// use tapeflow::initializers::Initializer;
///
/// let w = Initializer::GlorotUniform.init::<f32>(&[2, 3], 0)?;
/// let limit = (6.0f32 / 5.0).sqrt();
/// assert!(w.as_slice().iter().all(|v| v.abs() <= limit));
/// let init: Initializer = "he_normal".parse()?;
/// assert_eq!(init, Initializer::HeNormal);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Initializer {
    /// All zeros (`"zeros"`; Dense's default bias initialiser).
    Zeros,
    /// All ones (`"ones"`).
    Ones,
    /// Every element `value` (`"constant"`, default `value = 0`).
    Constant {
        /// The fill value.
        value: f64,
    },
    /// `N(mean, stddev²)` (`"random_normal"`, defaults `0`, `0.05`).
    RandomNormal {
        /// Mean of the distribution.
        mean: f64,
        /// Standard deviation (`>= 0`).
        stddev: f64,
    },
    /// `U[minval, maxval)` (`"random_uniform"`, defaults `-0.05`, `0.05`).
    RandomUniform {
        /// Lower bound (inclusive).
        minval: f64,
        /// Upper bound (exclusive; `>= minval`).
        maxval: f64,
    },
    /// `N(mean, stddev²)` with values beyond two standard deviations redrawn
    /// (`"truncated_normal"`, defaults `0`, `0.05`). The spread of the result
    /// is about `0.88 · stddev`.
    TruncatedNormal {
        /// Mean of the distribution.
        mean: f64,
        /// Standard deviation before truncation (`>= 0`).
        stddev: f64,
    },
    /// Glorot (Xavier) uniform (`"glorot_uniform"`; Dense's default kernel
    /// initialiser).
    GlorotUniform,
    /// Glorot (Xavier) truncated normal (`"glorot_normal"`).
    GlorotNormal,
    /// He (Kaiming) truncated normal, for ReLU layers (`"he_normal"`).
    HeNormal,
    /// He (Kaiming) uniform (`"he_uniform"`).
    HeUniform,
    /// LeCun truncated normal, for SELU layers (`"lecun_normal"`).
    LecunNormal,
    /// LeCun uniform (`"lecun_uniform"`).
    LecunUniform,
    /// A (semi-)orthogonal matrix times `gain` (`"orthogonal"`, default
    /// `gain = 1`): the shape is viewed as `[rows, shape[-1]]` with `rows` the
    /// product of the other dimensions; the rows (if fewer) or the columns
    /// are orthonormal. Q of the QR decomposition of a standard normal
    /// matrix, signs chosen so that R has a positive diagonal (as Keras and
    /// PyTorch do), which makes Q uniformly distributed.
    Orthogonal {
        /// Multiplier of the orthogonal matrix.
        gain: f64,
    },
}

/// The three families of the variance-scaling initialisers.
#[derive(Clone, Copy)]
enum Fan {
    In,
    Avg,
}

impl Initializer {
    /// Draws a tensor of `shape` from this initialiser, with the RNG
    /// `StdRng::seed_from_u64(seed)` (Keras's `initializer(shape)` with
    /// `seed=`): the same seed gives the same weights. To draw several
    /// tensors from one random stream (as a layer does for its kernel and
    /// bias) use [`init_with_rng`](Self::init_with_rng).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `initializer`) for a non-finite
    /// setting (also after conversion to `T`: `1e39` is infinite in `f32`),
    /// a negative `stddev`, `minval > maxval`, a draw that is not finite in
    /// `T`, or an orthogonal initialiser for a shape of fewer than two
    /// dimensions; [`Error::SizeOverflow`] or [`Error::OutOfMemory`] (op:
    /// the initialiser's name) if the shape's element count overflows or
    /// its memory cannot be allocated. Sizes are computed with checked
    /// arithmetic and the storage is reserved fallibly, so an impossible
    /// shape is an error, never an abort.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::initializers::Initializer;
    ///
    /// let b = Initializer::Constant { value: 0.5 }.init::<f64>(&[3], 1)?;
    /// assert_eq!(b.to_vec(), vec![0.5; 3]);
    /// let w = Initializer::HeNormal.init::<f32>(&[4, 2], 7)?;
    /// assert_eq!(w, Initializer::HeNormal.init::<f32>(&[4, 2], 7)?);
    /// let bad = Initializer::RandomNormal { mean: 0.0, stddev: -1.0 };
    /// assert!(bad.init::<f32>(&[3], 1).is_err());
    /// assert!(Initializer::Orthogonal { gain: 1.0 }.init::<f32>(&[3], 1).is_err());
    /// assert!(Initializer::Ones.init::<f32>(&[usize::MAX, 2], 1).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn init<T: Float>(&self, shape: &[usize], seed: u64) -> Result<Tensor<T>> {
        self.init_with_rng(shape, &mut StdRng::seed_from_u64(seed))
    }

    /// Draws a tensor of `shape` from this initialiser, taking the random
    /// numbers from `rng` (the [`rand`] crate's `StdRng`, as
    /// re-exported by tapeflow). Layers draw all their weights from one
    /// seeded RNG this way; `init(shape, seed)` equals
    /// `init_with_rng(shape, &mut StdRng::seed_from_u64(seed))`.
    ///
    /// # Errors
    ///
    /// As [`init`](Self::init).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::initializers::Initializer;
    /// use tapeflow::rand::{SeedableRng, rngs::StdRng};
    ///
    /// let mut rng = StdRng::seed_from_u64(3);
    /// let kernel = Initializer::GlorotUniform.init_with_rng::<f32>(&[3, 2], &mut rng)?;
    /// let other = Initializer::GlorotUniform.init_with_rng::<f32>(&[3, 2], &mut rng)?;
    /// assert_ne!(kernel, other);                      // the stream moves on
    /// assert_eq!(kernel, Initializer::GlorotUniform.init::<f32>(&[3, 2], 3)?);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn init_with_rng<T: Float>(&self, shape: &[usize], rng: &mut StdRng) -> Result<Tensor<T>> {
        self.validate()?;
        self.validate_in::<T>()?;
        let op = self.name();
        let n = checked_numel::<T>(op, shape)?;
        let mut data: Vec<T> = try_with_capacity(op, shape, n)?;
        let (fan_in, fan_out) = fans(shape);
        let mut push = |x: f64| data.push(T::from_f64(x));
        match *self {
            Initializer::Zeros => (0..n).for_each(|_| push(0.0)),
            Initializer::Ones => (0..n).for_each(|_| push(1.0)),
            Initializer::Constant { value } => (0..n).for_each(|_| push(value)),
            Initializer::RandomNormal { mean, stddev } => (0..n).for_each(|_| {
                let z: f64 = StandardNormal.sample(rng);
                push(mean + stddev * z);
            }),
            Initializer::RandomUniform { minval, maxval } => {
                uniform(n, minval, maxval, rng, &mut push);
            }
            Initializer::TruncatedNormal { mean, stddev } => {
                truncated(n, mean, stddev, rng, &mut push);
            }
            Initializer::GlorotUniform => {
                scaled(n, 1.0, Fan::Avg, false, (fan_in, fan_out), rng, &mut push);
            }
            Initializer::GlorotNormal => {
                scaled(n, 1.0, Fan::Avg, true, (fan_in, fan_out), rng, &mut push);
            }
            Initializer::HeNormal => {
                scaled(n, 2.0, Fan::In, true, (fan_in, fan_out), rng, &mut push)
            }
            Initializer::HeUniform => {
                scaled(n, 2.0, Fan::In, false, (fan_in, fan_out), rng, &mut push);
            }
            Initializer::LecunNormal => {
                scaled(n, 1.0, Fan::In, true, (fan_in, fan_out), rng, &mut push);
            }
            Initializer::LecunUniform => {
                scaled(n, 1.0, Fan::In, false, (fan_in, fan_out), rng, &mut push);
            }
            Initializer::Orthogonal { gain } => {
                orthogonal(shape, gain, rng)?.into_iter().for_each(push)
            }
        }
        if let Some(bad_value) = data.iter().find(|v| !v.is_finite()) {
            return Err(bad(format!(
                "{op} drew {bad_value}, which is not finite in {} (settings {})",
                T::NAME,
                self.to_config()
            )));
        }
        Ok(Tensor::from_parts(data, shape.to_vec()))
    }

    /// Checks the settings after conversion to `T`.
    fn validate_in<T: Float>(&self) -> Result<()> {
        let settings: &[(&str, f64)] = match self {
            Initializer::Constant { value } => &[("value", *value)],
            Initializer::RandomNormal { mean, stddev }
            | Initializer::TruncatedNormal { mean, stddev } => {
                &[("mean", *mean), ("stddev", *stddev)]
            }
            Initializer::RandomUniform { minval, maxval } => {
                &[("minval", *minval), ("maxval", *maxval)]
            }
            Initializer::Orthogonal { gain } => &[("gain", *gain)],
            _ => &[],
        };
        for &(key, x) in settings {
            if !T::from_f64(x).is_finite() {
                return Err(bad(format!(
                    "{}: {key} must be finite in {}, got {x}",
                    self.name(),
                    T::NAME
                )));
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        let problem = match *self {
            Initializer::Constant { value } if !value.is_finite() => {
                format!("constant value must be finite, got {value}")
            }
            Initializer::RandomNormal { mean, stddev }
            | Initializer::TruncatedNormal { mean, stddev }
                if !(mean.is_finite() && stddev.is_finite() && stddev >= 0.0) =>
            {
                format!(
                    "{} needs a finite mean and a finite stddev >= 0, got mean {mean}, stddev {stddev}",
                    self.name()
                )
            }
            Initializer::RandomUniform { minval, maxval }
                if !(minval.is_finite() && maxval.is_finite() && minval <= maxval) =>
            {
                format!(
                    "random_uniform needs finite minval <= maxval, got minval {minval}, maxval {maxval}"
                )
            }
            Initializer::Orthogonal { gain } if !gain.is_finite() => {
                format!("orthogonal gain must be finite, got {gain}")
            }
            _ => return Ok(()),
        };
        Err(bad(problem))
    }

    /// The Keras name: `"glorot_uniform"`, `"random_normal"`, ….
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::initializers::Initializer;
    ///
    /// assert_eq!(Initializer::Orthogonal { gain: 2.0 }.name(), "orthogonal");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Initializer::Zeros => "zeros",
            Initializer::Ones => "ones",
            Initializer::Constant { .. } => "constant",
            Initializer::RandomNormal { .. } => "random_normal",
            Initializer::RandomUniform { .. } => "random_uniform",
            Initializer::TruncatedNormal { .. } => "truncated_normal",
            Initializer::GlorotUniform => "glorot_uniform",
            Initializer::GlorotNormal => "glorot_normal",
            Initializer::HeNormal => "he_normal",
            Initializer::HeUniform => "he_uniform",
            Initializer::LecunNormal => "lecun_normal",
            Initializer::LecunUniform => "lecun_uniform",
            Initializer::Orthogonal { .. } => "orthogonal",
        }
    }

    /// The initialiser as JSON: its name as a string, or an object with the
    /// name and its settings for the parameterised ones, e.g.
    /// `{"name": "random_normal", "mean": 0.0, "stddev": 0.05}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::initializers::Initializer;
    ///
    /// assert_eq!(Initializer::HeUniform.to_config().to_string(), r#""he_uniform""#);
    /// let init = Initializer::RandomUniform { minval: -1.0, maxval: 2.0 };
    /// assert_eq!(Initializer::from_config(&init.to_config())?, init);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn to_config(&self) -> Value {
        let name = self.name();
        match *self {
            Initializer::Constant { value } => json!({ "name": name, "value": value }),
            Initializer::RandomNormal { mean, stddev }
            | Initializer::TruncatedNormal { mean, stddev } => {
                json!({ "name": name, "mean": mean, "stddev": stddev })
            }
            Initializer::RandomUniform { minval, maxval } => {
                json!({ "name": name, "minval": minval, "maxval": maxval })
            }
            Initializer::Orthogonal { gain } => json!({ "name": name, "gain": gain }),
            _ => Value::String(name.to_string()),
        }
    }

    /// Reads an initialiser written by [`to_config`](Self::to_config). A
    /// name alone, or an object missing a setting, takes Keras's default.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `initializer`) for an unknown name, an
    /// unknown or non-numeric setting, or a value that is neither a string
    /// nor an object.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::initializers::Initializer;
    ///
    /// let init = Initializer::from_config(&json!({"name": "truncated_normal", "stddev": 0.1}))?;
    /// assert_eq!(init, Initializer::TruncatedNormal { mean: 0.0, stddev: 0.1 });
    /// assert!(Initializer::from_config(&json!({"name": "zeros", "value": 1.0})).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(value: &Value) -> Result<Self> {
        let map = match value {
            Value::String(name) => return name.parse(),
            Value::Object(map) => map,
            other => return Err(bad(format!("expected a name or an object, got {other}"))),
        };
        let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
        let mut init: Initializer = name.parse()?;
        for (key, v) in map.iter().filter(|(k, _)| k.as_str() != "name") {
            let x = v
                .as_f64()
                .ok_or_else(|| bad(format!("{name}: {key} must be a number, got {v}")))?;
            let slot = match (&mut init, key.as_str()) {
                (Initializer::Constant { value }, "value") => value,
                (Initializer::RandomNormal { mean, .. }, "mean")
                | (Initializer::TruncatedNormal { mean, .. }, "mean") => mean,
                (Initializer::RandomNormal { stddev, .. }, "stddev")
                | (Initializer::TruncatedNormal { stddev, .. }, "stddev") => stddev,
                (Initializer::RandomUniform { minval, .. }, "minval") => minval,
                (Initializer::RandomUniform { maxval, .. }, "maxval") => maxval,
                (Initializer::Orthogonal { gain }, "gain") => gain,
                _ => return Err(bad(format!("{name} takes no setting {key:?}"))),
            };
            *slot = x;
        }
        init.validate()?;
        Ok(init)
    }
}

impl FromStr for Initializer {
    type Err = Error;

    /// Parses a Keras initialiser name (`"normal"` and `"uniform"` are
    /// Keras's aliases of `"random_normal"` and `"random_uniform"`);
    /// parameterised initialisers get Keras's defaults.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "zeros" => Initializer::Zeros,
            "ones" => Initializer::Ones,
            "constant" => Initializer::Constant { value: 0.0 },
            "random_normal" | "normal" => Initializer::RandomNormal {
                mean: 0.0,
                stddev: 0.05,
            },
            "random_uniform" | "uniform" => Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
            },
            "truncated_normal" => Initializer::TruncatedNormal {
                mean: 0.0,
                stddev: 0.05,
            },
            "glorot_uniform" => Initializer::GlorotUniform,
            "glorot_normal" => Initializer::GlorotNormal,
            "he_normal" => Initializer::HeNormal,
            "he_uniform" => Initializer::HeUniform,
            "lecun_normal" => Initializer::LecunNormal,
            "lecun_uniform" => Initializer::LecunUniform,
            "orthogonal" => Initializer::Orthogonal { gain: 1.0 },
            other => return Err(bad(format!("unknown initializer {other:?}"))),
        })
    }
}

impl fmt::Display for Initializer {
    /// The Keras name (the settings are in [`to_config`](Initializer::to_config)).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn bad(message: String) -> Error {
    Error::InvalidArgument {
        op: "initializer",
        message,
    }
}

/// `(fan_in, fan_out)` as Keras's `compute_fans`.
fn fans(shape: &[usize]) -> (f64, f64) {
    // In f64: the products of a user's shape can overflow usize.
    match shape {
        [] => (1.0, 1.0),
        [n] => (*n as f64, *n as f64),
        [a, b] => (*a as f64, *b as f64),
        [rest @ .., a, b] => {
            let field: f64 = rest.iter().map(|&d| d as f64).product();
            (*a as f64 * field, *b as f64 * field)
        }
    }
}

fn uniform(n: usize, lo: f64, hi: f64, rng: &mut StdRng, push: &mut impl FnMut(f64)) {
    for _ in 0..n {
        let u: f64 = StandardUniform.sample(rng);
        push(lo + (hi - lo) * u);
    }
}

fn truncated(n: usize, mean: f64, stddev: f64, rng: &mut StdRng, push: &mut impl FnMut(f64)) {
    for _ in 0..n {
        let z = loop {
            let z: f64 = StandardNormal.sample(rng);
            if z.abs() <= 2.0 {
                break z;
            }
        };
        push(mean + stddev * z);
    }
}

fn scaled(
    n: usize,
    scale: f64,
    fan: Fan,
    normal: bool,
    (fan_in, fan_out): (f64, f64),
    rng: &mut StdRng,
    push: &mut impl FnMut(f64),
) {
    let fan = match fan {
        Fan::In => fan_in,
        Fan::Avg => (fan_in + fan_out) / 2.0,
    };
    let variance = scale / fan.max(1.0);
    if normal {
        truncated(n, 0.0, variance.sqrt() / TRUNCATED_STD, rng, push);
    } else {
        let limit = (3.0 * variance).sqrt();
        uniform(n, -limit, limit, rng, push);
    }
}

fn orthogonal(shape: &[usize], gain: f64, rng: &mut StdRng) -> Result<Vec<f64>> {
    let Some((&cols, lead)) = shape.split_last().filter(|(_, lead)| !lead.is_empty()) else {
        return Err(bad(format!(
            "orthogonal needs a shape of at least 2 dimensions, got {shape:?}"
        )));
    };
    // The caller checked the shape's element count, so these cannot overflow.
    let rows: usize = lead.iter().product();
    let (m, n) = (rows.max(cols), rows.min(cols));
    // The normal [m, n] matrix, drawn row-major, kept as its n columns.
    let mut a: Vec<f64> = try_with_capacity("orthogonal", shape, m * n)?;
    a.extend((0..m * n).map(|_| -> f64 { StandardNormal.sample(rng) }));
    let mut q: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| a[i * n + j]).collect())
        .collect();
    // Modified Gram-Schmidt, run twice per column ("twice is enough") so the
    // columns stay orthogonal to rounding even for ill-conditioned draws.
    // R's diagonal is each column's norm, positive: the sign correction
    // Keras applies after a Householder QR is built in.
    for j in 0..n {
        let (done, rest) = q.split_at_mut(j);
        let v = &mut rest[0];
        for _ in 0..2 {
            for qi in done.iter() {
                let r: f64 = qi.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(qi).for_each(|(x, &y)| *x -= r * y);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm <= 1e-12 || norm.is_nan() {
            return Err(bad(format!(
                "orthogonal: degenerate random draw for shape {shape:?}"
            )));
        }
        v.iter_mut().for_each(|x| *x /= norm);
    }
    // Q is [m, n] with q[j][i] = Q[i, j]; the result is [rows, cols]:
    // Q itself when rows >= cols, else Qᵀ.
    let mut out = vec![0.0; rows * cols];
    for (j, col) in q.iter().enumerate() {
        for (i, &x) in col.iter().enumerate() {
            let (r, c) = if rows >= cols { (i, j) } else { (j, i) };
            out[r * cols + c] = gain * x;
        }
    }
    Ok(out)
}
