//! [`Embedding`]: a learned lookup table from token ids to vectors.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::tape::{Param, Var};
use crate::tensor::Tensor;

/// Maps integer token ids to learned vectors: `y[…, :] = embeddings[id, :]`
/// (Keras's `Embedding`, PyTorch's `nn.Embedding`).
///
/// The ids arrive as a float tensor (as every model input does); each must
/// be a whole number in `0..input_dim`. The table `"embeddings"` is
/// `[input_dim, output_dim]`, initialised `random_uniform(-0.05, 0.05)` as in
/// Keras. Defaults: `mask_zero = false`, name `"embedding"`.
///
/// `mask_zero = true` declares id 0 as padding, as in Keras: it is stored in
/// the config and [`compute_mask`](Embedding::compute_mask) gives the keep
/// mask for attention. A [`Sequential`](crate::Sequential) does not carry
/// masks between layers; pass the mask to
/// [`MultiHeadAttention::attend`](super::MultiHeadAttention::attend) in a
/// custom model.
///
/// A character vocabulary may be stored with the layer
/// ([`vocabulary`](Embedding::vocabulary)), so a saved model carries its
/// tokenizer (see [`CharTokenizer`](crate::data::CharTokenizer)).
///
/// # Shapes
///
/// Built for `[t]`, maps `[batch, t]` ids to `[batch, t, output_dim]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Embedding, Layer, Mode};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut emb = Embedding::<f32>::new(10, 4);
/// assert_eq!(emb.build(&[3], &mut StdRng::seed_from_u64(0))?, vec![3, 4]);
/// let tape = GradientTape::new();
/// let ids = tape.constant(&Tensor::from_vec(vec![1.0, 9.0, 1.0], &[1, 3])?);
/// let y = emb.forward(ids, Mode::Infer)?.value();
/// assert_eq!(y.shape(), &[1, 3, 4]);
/// assert_eq!(y.as_slice()[..4], y.as_slice()[8..]);
/// let bad = tape.constant(&Tensor::from_vec(vec![1.0, 10.0, 0.5], &[1, 3])?);
/// assert_eq!(
///     emb.forward(bad, Mode::Infer).unwrap_err().to_string(),
///     "embedding (Embedding): token id 10 at index 1 is not an integer in 0..10"
/// );
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Embedding<T: Float = f32> {
    name: String,
    input_dim: usize,
    output_dim: usize,
    mask_zero: bool,
    initializer: Initializer,
    vocabulary: Option<String>,
    embeddings: Option<Param<T>>,
    trainable: bool,
}

impl<T: Float> Embedding<T> {
    /// An embedding of `input_dim` ids (the vocabulary size) into vectors of
    /// `output_dim`. Zero sizes are reported by [`build`](Layer::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Embedding, Layer};
    ///
    /// let e = Embedding::<f32>::new(65, 128);
    /// assert_eq!(e.config()["input_dim"], 65);
    /// ```
    pub fn new(input_dim: usize, output_dim: usize) -> Self {
        Embedding {
            name: "embedding".to_string(),
            input_dim,
            output_dim,
            mask_zero: false,
            initializer: Initializer::RandomUniform {
                minval: -0.05,
                maxval: 0.05,
            },
            vocabulary: None,
            embeddings: None,
            trainable: true,
        }
    }

    /// Declares id 0 as padding (Keras's `mask_zero`, default `false`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Embedding, Layer};
    ///
    /// assert_eq!(Embedding::<f32>::new(5, 2).mask_zero(true).config()["mask_zero"], true);
    /// ```
    pub fn mask_zero(mut self, mask_zero: bool) -> Self {
        self.mask_zero = mask_zero;
        self
    }

    /// Sets how the table is initialised (default `random_uniform(-0.05, 0.05)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::initializers::Initializer;
    /// use tapeflow::layers::{Embedding, Layer};
    ///
    /// let mut e = Embedding::<f32>::new(3, 2).embeddings_initializer(Initializer::Ones);
    /// e.build(&[1], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(e.params()[0].value().sum(), 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn embeddings_initializer(mut self, init: Initializer) -> Self {
        self.initializer = init;
        self
    }

    /// Stores a character vocabulary with the layer (saved in its config),
    /// so a saved model carries its tokenizer.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Embedding;
    ///
    /// let e = Embedding::<f32>::new(3, 2).vocabulary("abc");
    /// assert_eq!(e.stored_vocabulary(), Some("abc"));
    /// ```
    pub fn vocabulary(mut self, vocabulary: &str) -> Self {
        self.vocabulary = Some(vocabulary.to_string());
        self
    }

    /// The vocabulary stored with [`vocabulary`](Self::vocabulary), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Embedding;
    ///
    /// assert_eq!(Embedding::<f32>::new(3, 2).stored_vocabulary(), None);
    /// ```
    pub fn stored_vocabulary(&self) -> Option<&str> {
        self.vocabulary.as_deref()
    }

    /// Names the layer (default `"embedding"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Embedding, Layer};
    ///
    /// assert_eq!(Layer::<f32>::name(&Embedding::new(3, 2).name("tok")), "tok");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The keep mask of a batch of ids under `mask_zero`: 1 where the id is
    /// not 0, else 0 (all ones without `mask_zero`), shaped as `ids`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Embedding;
    /// use tapeflow::Tensor;
    ///
    /// let e = Embedding::<f32>::new(5, 2).mask_zero(true);
    /// let ids = Tensor::from_vec(vec![3.0, 0.0], &[1, 2])?;
    /// assert_eq!(e.compute_mask(&ids).to_vec(), vec![1.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn compute_mask(&self, ids: &Tensor<T>) -> Tensor<T> {
        let mask_zero = self.mask_zero;
        ids.map(|v| {
            if mask_zero && v == T::zero() {
                T::zero()
            } else {
                T::one()
            }
        })
    }

    /// Rebuilds an unbuilt layer from [`Layer::config`]; `input_dim` and
    /// `output_dim` are required.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing size, an
    /// unknown key or a setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Embedding, Layer};
    ///
    /// let e = Embedding::<f32>::from_config(&json!({"input_dim": 5, "output_dim": 2}))?;
    /// assert_eq!(e.config()["output_dim"], 2);
    /// assert!(Embedding::<f32>::from_config(&json!({"input_dim": 5})).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new(
            "Embedding",
            config,
            &[
                "name",
                "input_dim",
                "output_dim",
                "mask_zero",
                "embeddings_initializer",
                "vocabulary",
            ],
        )?;
        let mut e = Embedding::new(
            c.required("input_dim", c.usize("input_dim")?)?,
            c.required("output_dim", c.usize("output_dim")?)?,
        );
        if let Some(name) = c.string("name")? {
            e.name = name;
        }
        if let Some(b) = c.bool("mask_zero")? {
            e.mask_zero = b;
        }
        if let Some(v) = c.get("embeddings_initializer") {
            e.initializer = Initializer::from_config(v)?;
        }
        e.vocabulary = c.string("vocabulary")?;
        Ok(e)
    }

    fn error(&self, message: String) -> Error {
        layer_error("Embedding", &self.name, message)
    }

    /// The ids of `x` as indices, each checked to be a whole number in
    /// `0..input_dim`.
    fn ids(&self, x: &Tensor<T>) -> Result<Vec<usize>> {
        x.as_slice()
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let f = Float::to_f64(v);
                if f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < self.input_dim as f64 {
                    Ok(f as usize)
                } else {
                    Err(self.error(format!(
                        "token id {v} at index {i} is not an integer in 0..{}",
                        self.input_dim
                    )))
                }
            })
            .collect()
    }
}

impl<T: Float> Layer<T> for Embedding<T> {
    fn kind(&self) -> &'static str {
        "Embedding"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        if self.input_dim == 0
            || self.output_dim == 0
            || self.input_dim.checked_mul(self.output_dim).is_none()
        {
            return None;
        }
        let mut out = input_shape.to_vec();
        out.push(self.output_dim);
        Some((
            vec![(
                "embeddings".to_string(),
                vec![self.input_dim, self.output_dim],
            )],
            out,
        ))
    }

    /// Creates the table `[input_dim, output_dim]`.
    ///
    /// # Errors
    ///
    /// If a size is 0, the table is too large to count, or the initialiser
    /// setting is invalid.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        if self.input_dim == 0 || self.output_dim == 0 {
            return Err(self.error(format!(
                "input_dim and output_dim must be > 0, got {} and {}",
                self.input_dim, self.output_dim
            )));
        }
        if self.input_dim.checked_mul(self.output_dim).is_none() {
            return Err(self.error(format!(
                "a table of {} x {} elements is too large",
                self.input_dim, self.output_dim
            )));
        }
        let table = self
            .initializer
            .init_with_rng(&[self.input_dim, self.output_dim], rng)
            .map_err(|e| self.error(format!("embeddings_initializer: {e}")))?;
        self.embeddings = Some(Param::new("embeddings", table));
        self.set_trainable(self.trainable);
        let mut out = input_shape.to_vec();
        out.push(self.output_dim);
        Ok(out)
    }

    /// Looks up each id of `x` (`[batch, …]`).
    ///
    /// # Errors
    ///
    /// Before `build`; for an id that is negative, fractional, not finite or
    /// `>= input_dim`, naming the id and its flat index.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        let Some(table) = &self.embeddings else {
            return Err(self.error("forward before build".to_string()));
        };
        let ids = self.ids(&x.value())?;
        x.tape().param(table).embedding(&ids, &x.shape())
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
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "mask_zero": self.mask_zero,
            "embeddings_initializer": self.initializer.to_config(),
            "vocabulary": self.vocabulary,
        })
    }
}
