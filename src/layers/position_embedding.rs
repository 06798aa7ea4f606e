//! [`PositionEmbedding`]: a learned vector per position, added to the input.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{DecodeCache, Layer, Mode, PlannedShapes, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::tape::{Param, Var};

/// A learned embedding per position, added to the input:
/// `y[b, t, :] = x[b, t, :] + embeddings[t, :]`, for sequences up to
/// `sequence_length` (GPT-2's learned positions).
///
/// KerasHub's `PositionEmbedding` returns the position embeddings for the
/// caller to add; this layer adds them, so it fits in a
/// [`Sequential`](crate::Sequential) after an
/// [`Embedding`](super::Embedding). The table
/// `"embeddings"` is `[sequence_length, features]`, initialised
/// `glorot_uniform` (KerasHub's default). Default name
/// `"position_embedding"`.
///
/// # Shapes
///
/// Built for `[t, features]` with `t <= sequence_length`; maps
/// `[batch, t, features]` to the same shape.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, Mode, PositionEmbedding};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut pos = PositionEmbedding::<f32>::new(4);
/// pos.build(&[4, 2], &mut StdRng::seed_from_u64(0))?;
/// let tape = GradientTape::new();
/// let y = pos.forward(tape.constant(&Tensor::zeros(&[1, 3, 2])?), Mode::Infer)?;
/// assert_eq!(y.value().to_vec(), pos.params()[0].value().to_vec()[..6]);
/// let long = tape.constant(&Tensor::zeros(&[1, 5, 2])?);
/// assert_eq!(
///     pos.forward(long, Mode::Infer).unwrap_err().to_string(),
///     "position_embedding (PositionEmbedding): sequence of length 5 is longer than the position table (4)"
/// );
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct PositionEmbedding<T: Float = f32> {
    name: String,
    sequence_length: usize,
    initializer: Initializer,
    embeddings: Option<Param<T>>,
    trainable: bool,
}

impl<T: Float> PositionEmbedding<T> {
    /// Position embeddings for sequences of up to `sequence_length`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, PositionEmbedding};
    ///
    /// assert_eq!(PositionEmbedding::<f32>::new(128).max_sequence_length(), Some(128));
    /// ```
    pub fn new(sequence_length: usize) -> Self {
        PositionEmbedding {
            name: "position_embedding".to_string(),
            sequence_length,
            initializer: Initializer::GlorotUniform,
            embeddings: None,
            trainable: true,
        }
    }

    /// Sets how the table is initialised (default `glorot_uniform`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::initializers::Initializer;
    /// use tapeflow::layers::{Layer, PositionEmbedding};
    ///
    /// let p = PositionEmbedding::<f32>::new(8).embeddings_initializer(Initializer::Zeros);
    /// assert_eq!(p.config()["embeddings_initializer"], "zeros");
    /// ```
    pub fn embeddings_initializer(mut self, init: Initializer) -> Self {
        self.initializer = init;
        self
    }

    /// Names the layer (default `"position_embedding"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, PositionEmbedding};
    ///
    /// assert_eq!(Layer::<f32>::name(&PositionEmbedding::new(8).name("pos")), "pos");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds an unbuilt layer from [`Layer::config`]; `sequence_length`
    /// is required.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing length, an
    /// unknown key or a setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Layer, PositionEmbedding};
    ///
    /// let p = PositionEmbedding::<f32>::from_config(&json!({"sequence_length": 16}))?;
    /// assert_eq!(p.max_sequence_length(), Some(16));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new(
            "PositionEmbedding",
            config,
            &["name", "sequence_length", "embeddings_initializer"],
        )?;
        let mut p =
            PositionEmbedding::new(c.required("sequence_length", c.usize("sequence_length")?)?);
        if let Some(name) = c.string("name")? {
            p.name = name;
        }
        if let Some(v) = c.get("embeddings_initializer") {
            p.initializer = Initializer::from_config(v)?;
        }
        Ok(p)
    }

    fn error(&self, message: String) -> Error {
        layer_error("PositionEmbedding", &self.name, message)
    }

    /// Adds the embeddings of positions `start..start + t` to `x`.
    fn add_positions<'t>(&self, x: Var<'t, T>, start: usize) -> Result<Var<'t, T>> {
        let Some(table) = &self.embeddings else {
            return Err(self.error("forward before build".to_string()));
        };
        let features = table.value().shape()[1];
        let shape = x.shape();
        if shape.len() != 3 || shape[2] != features {
            return Err(self.error(format!("expected input [_, _, {features}], got {shape:?}")));
        }
        let t = shape[1];
        let end = start.saturating_add(t);
        if end > self.sequence_length {
            return Err(self.error(if start == 0 {
                format!(
                    "sequence of length {t} is longer than the position table ({})",
                    self.sequence_length
                )
            } else {
                format!(
                    "positions {start}..{end} run past the position table ({})",
                    self.sequence_length
                )
            }));
        }
        let ids: Vec<usize> = (start..end).collect();
        let pos = x.tape().param(table).embedding(&ids, &[t])?;
        x.add(&pos)
    }
}

impl<T: Float> Layer<T> for PositionEmbedding<T> {
    fn kind(&self) -> &'static str {
        "PositionEmbedding"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    fn max_sequence_length(&self) -> Option<usize> {
        Some(self.sequence_length)
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let [t, f] = *input_shape else { return None };
        if t > self.sequence_length || f == 0 || self.sequence_length.checked_mul(f).is_none() {
            return None;
        }
        Some((
            vec![("embeddings".to_string(), vec![self.sequence_length, f])],
            input_shape.to_vec(),
        ))
    }

    /// Creates the table `[sequence_length, features]`.
    ///
    /// # Errors
    ///
    /// Unless the input shape is `[t, features]` with
    /// `t <= sequence_length` and both sizes non-zero.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let &[t, f] = input_shape else {
            return Err(self.error(format!(
                "needs an input shape [time, features] (batch excluded), got {input_shape:?}"
            )));
        };
        if self.sequence_length == 0 || f == 0 {
            return Err(self.error(format!(
                "sequence_length and features must be > 0, got {} and {f}",
                self.sequence_length
            )));
        }
        if t > self.sequence_length {
            return Err(self.error(format!(
                "sequence of length {t} is longer than the position table ({})",
                self.sequence_length
            )));
        }
        if self.sequence_length.checked_mul(f).is_none() {
            return Err(self.error(format!(
                "a table of {} x {f} elements is too large",
                self.sequence_length
            )));
        }
        let table = self
            .initializer
            .init_with_rng(&[self.sequence_length, f], rng)
            .map_err(|e| self.error(format!("embeddings_initializer: {e}")))?;
        self.embeddings = Some(Param::new("embeddings", table));
        self.set_trainable(self.trainable);
        Ok(input_shape.to_vec())
    }

    /// Adds the embeddings of positions `0..t`.
    ///
    /// # Errors
    ///
    /// Before `build`; if `x` is not `[batch, t, features]`, or `t` exceeds
    /// `sequence_length` (naming both).
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        self.add_positions(x, 0)
    }

    /// Adds the embeddings of the positions after those already cached.
    fn forward_cached<'t>(&self, x: Var<'t, T>, cache: &mut DecodeCache<T>) -> Result<Var<'t, T>> {
        self.add_positions(x, cache.position())
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.embeddings.iter().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.embeddings.iter_mut().collect()
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        if let Some(p) = &mut self.embeddings {
            p.set_trainable(trainable);
        }
    }

    fn config(&self) -> Value {
        json!({
            "name": self.name,
            "sequence_length": self.sequence_length,
            "embeddings_initializer": self.initializer.to_config(),
        })
    }
}
