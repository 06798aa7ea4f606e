//! [`LayerNormalization`]: normalizes each sample over its last axis, then
//! scales by `gamma` and shifts by `beta` (Keras's `LayerNormalization`).

use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use super::config::Config;
use super::norm_affine::{AFFINE_KEYS, Affine};
use super::{Layer, Mode, PlannedShapes, batched, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};

/// Layer normalization over the last axis:
/// `y = gamma ⊙ (x - μ) / √(σ² + ε) + beta`, `μ` and the biased variance
/// `σ²` taken over each position's features (Ba et al., 2016; Keras's
/// `LayerNormalization(axis=-1)`, PyTorch's `nn.LayerNorm(n)`).
///
/// Defaults as in Keras: `epsilon = 1e-3` (PyTorch's `nn.LayerNorm` uses
/// `1e-5`: set it to match), `center = true` (a `beta` of zeros),
/// `scale = true` (a `gamma` of ones), name `"layer_normalization"`. The
/// parameters are named `"gamma"` and `"beta"`, `[n]` each. The fused
/// [`Var::layer_norm`] computes forward and backward.
///
/// # Shapes
///
/// Built for `[..., n]`, maps `[batch, ..., n]` to the same shape.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, LayerNormalization, Mode};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut ln = LayerNormalization::<f64>::new().epsilon(0.0);
/// ln.build(&[2], &mut StdRng::seed_from_u64(0))?;
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::from_vec(vec![1.0, 3.0], &[1, 2])?);
/// assert_eq!(ln.forward(x, Mode::Infer)?.value().to_vec(), vec![-1.0, 1.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct LayerNormalization<T: Float = f32> {
    name: String,
    /// `epsilon`, `center`, `scale`, `gamma` and `beta`.
    affine: Affine<T>,
    trainable: bool,
}

impl<T: Float> Default for LayerNormalization<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> LayerNormalization<T> {
    /// A layer normalization with Keras's defaults (above).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, LayerNormalization};
    ///
    /// let ln = LayerNormalization::<f32>::new();
    /// assert_eq!(ln.config()["epsilon"], 1e-3);
    /// ```
    pub fn new() -> Self {
        LayerNormalization {
            name: "layer_normalization".to_string(),
            affine: Affine::new(),
            trainable: true,
        }
    }

    /// Sets `ε`, added to the variance (default `1e-3`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, LayerNormalization};
    ///
    /// assert_eq!(LayerNormalization::<f32>::new().epsilon(1e-5).config()["epsilon"], 1e-5);
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.affine.epsilon = epsilon;
        self
    }

    /// Whether to add the learned offset `beta` (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Layer, LayerNormalization};
    ///
    /// let mut ln = LayerNormalization::<f32>::new().center(false);
    /// ln.build(&[4], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(ln.params().len(), 1);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn center(mut self, center: bool) -> Self {
        self.affine.center = center;
        self
    }

    /// Whether to multiply by the learned scale `gamma` (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Layer, LayerNormalization};
    ///
    /// let mut ln = LayerNormalization::<f32>::new().scale(false).center(false);
    /// ln.build(&[4], &mut StdRng::seed_from_u64(0))?;
    /// assert!(ln.params().is_empty());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn scale(mut self, scale: bool) -> Self {
        self.affine.scale = scale;
        self
    }

    /// Names the layer (default `"layer_normalization"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, LayerNormalization};
    ///
    /// assert_eq!(Layer::<f32>::name(&LayerNormalization::new().name("ln_f")), "ln_f");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds an unbuilt layer from [`Layer::config`]; every setting is
    /// optional.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for an unknown key or a
    /// setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Layer, LayerNormalization};
    ///
    /// let ln = LayerNormalization::<f32>::from_config(&json!({"epsilon": 1e-5, "center": false}))?;
    /// assert_eq!(ln.config()["center"], false);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let keys = [&["name"][..], &AFFINE_KEYS[..]].concat();
        let c = Config::new("LayerNormalization", config, &keys)?;
        let mut ln = LayerNormalization::new();
        if let Some(name) = c.string("name")? {
            ln.name = name;
        }
        ln.affine.read_config(&c)?;
        Ok(ln)
    }

    fn error(&self, message: String) -> Error {
        layer_error("LayerNormalization", &self.name, message)
    }

    fn features(&self) -> Option<usize> {
        self.affine.params().next().map(|p| p.value().len())
    }
}

impl<T: Float> Layer<T> for LayerNormalization<T> {
    fn kind(&self) -> &'static str {
        "LayerNormalization"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let &n = input_shape.last().filter(|&&n| n > 0)?;
        Some((self.affine.planned_shapes(n), input_shape.to_vec()))
    }

    /// Creates `gamma` (ones) and `beta` (zeros), `[n]` for the last input
    /// dimension `n`.
    ///
    /// # Errors
    ///
    /// For an empty input shape, a last dimension of 0, or an `epsilon`
    /// that is negative or not finite.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let _ = rng;
        let epsilon = self.affine.epsilon;
        if !(epsilon >= 0.0 && epsilon.is_finite()) {
            return Err(self.error(format!("epsilon must be finite and >= 0, got {epsilon}")));
        }
        let Some(&n) = input_shape.last().filter(|&&n| n > 0) else {
            return Err(self.error(format!(
                "needs a non-empty last input dimension, got input shape {input_shape:?}"
            )));
        };
        self.affine.build(n);
        self.set_trainable(self.trainable);
        Ok(input_shape.to_vec())
    }

    /// Normalizes `x` over its last axis.
    ///
    /// # Errors
    ///
    /// Before `build` (unless the layer has no parameters) or if the last
    /// axis of `x` is not the built one.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        let shape = x.shape();
        if let Some(n) = self.features() {
            if shape.len() < 2 || shape[shape.len() - 1] != n {
                return Err(self.error(format!("expected input {}, got {shape:?}", batched(&[n]))));
            }
        } else if self.affine.scale || self.affine.center {
            return Err(self.error("forward before build".to_string()));
        }
        let tape = x.tape();
        let gamma = self.affine.gamma.as_ref().map(|p| tape.param(p));
        let beta = self.affine.beta.as_ref().map(|p| tape.param(p));
        x.layer_norm(gamma.as_ref(), beta.as_ref(), self.affine.epsilon)
            .map_err(|e| self.error(e.to_string()))
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.affine.params().collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.affine.params_mut().collect()
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for p in self.affine.params_mut() {
            p.set_trainable(trainable);
        }
    }

    fn config(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".to_string(), json!(self.name));
        self.affine.write_config(&mut map);
        Value::Object(map)
    }
}
