//! [`Activation`]: a layer that applies an activation function.

use std::marker::PhantomData;

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, layer_error};
use crate::activations;
use crate::element::Float;
use crate::error::Result;
use crate::tape::{Param, Var};

/// A layer that applies an [`activations::Activation`] elementwise (softmax
/// and log-softmax along the last axis); Keras's `layers.Activation`.
///
/// It has no parameters and keeps the input's shape. Default name
/// `"activation"`; the builder [`name`](Activation::name) shadows
/// [`Layer::name`]. Its name clashes with [`crate::Activation`] (the enum):
/// import one of them under another name, as below.
///
/// # Shapes
///
/// Any shape (softmax needs at least one dimension); output = input.
///
/// # Examples
///
/// ```
/// use tapeflow::layers::{self, Layer, Mode};
/// use tapeflow::{Activation, GradientTape, Tensor};
///
/// let relu = layers::Activation::new(Activation::Relu);
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::from_vec(vec![-1.0f32, 2.0], &[1, 2])?);
/// assert_eq!(relu.forward(x, Mode::Infer)?.value().to_vec(), vec![0.0, 2.0]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Activation<T: Float = f32> {
    name: String,
    activation: activations::Activation,
    _element: PhantomData<fn() -> T>,
}

impl<T: Float> Activation<T> {
    /// A layer applying `activation`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{self, Layer};
    /// use tapeflow::Activation;
    ///
    /// let layer = layers::Activation::<f32>::new(Activation::Tanh);
    /// assert_eq!(layer.activation(), Activation::Tanh);
    /// assert_eq!(Layer::name(&layer), "activation");
    /// ```
    pub fn new(activation: activations::Activation) -> Self {
        Activation {
            name: "activation".to_string(),
            activation,
            _element: PhantomData,
        }
    }

    /// Names the layer (default `"activation"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{self, Layer};
    /// use tapeflow::Activation;
    ///
    /// let layer = layers::Activation::<f32>::new(Activation::Relu).name("act");
    /// assert_eq!(Layer::name(&layer), "act");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The activation function the layer applies.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers;
    /// use tapeflow::Activation;
    ///
    /// let layer = layers::Activation::<f64>::new(Activation::Gelu);
    /// assert_eq!(layer.activation(), Activation::Gelu);
    /// ```
    pub fn activation(&self) -> activations::Activation {
        self.activation
    }

    /// Rebuilds a layer from [`Layer::config`]: `activation` is required,
    /// `name` optional.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) (op
    /// `from_config`) for a missing activation, an unknown key or a name that
    /// is not a string; the activation's own error for an unknown activation.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{self, Layer};
    ///
    /// let layer = layers::Activation::<f32>::from_config(&json!({"activation": "softmax"}))?;
    /// assert_eq!(layer.config(), json!({"name": "activation", "activation": "softmax"}));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new("Activation", config, &["name", "activation"])?;
        let v = c.required("activation", c.get("activation"))?;
        let mut layer = Activation::new(activations::Activation::from_config(v)?);
        if let Some(name) = c.string("name")? {
            layer.name = name;
        }
        Ok(layer)
    }
}

impl<T: Float> Layer<T> for Activation<T> {
    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        Some((Vec::new(), input_shape.to_vec()))
    }

    fn kind(&self) -> &'static str {
        "Activation"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        self.activation
            .validate::<T>()
            .map_err(|e| layer_error("Activation", &self.name, e.to_string()))?;
        Ok(input_shape.to_vec())
    }

    /// # Errors
    ///
    /// Softmax or log-softmax of a scalar.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        self.activation
            .apply(x)
            .map_err(|e| layer_error("Activation", &self.name, e.to_string()))
    }

    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    fn config(&self) -> Value {
        json!({ "name": self.name, "activation": self.activation.to_config() })
    }
}
