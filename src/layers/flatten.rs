//! [`Flatten`]: merges every dimension of a sample into one.

use std::marker::PhantomData;

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, batched, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};

/// Flattens each sample: `[batch, d1, d2, …]` to `[batch, d1 · d2 · …]`
/// (Keras's `Flatten`; PyTorch's `nn.Flatten()` with its defaults).
///
/// A reshape on the tape, so the gradient is the upstream gradient reshaped
/// back. Built for a shape, `forward` checks that each sample has that shape;
/// unbuilt, it flattens whatever it gets. A `[batch]` input becomes
/// `[batch, 1]`, as in Keras. Default name `"flatten"`; the builder
/// [`name`](Flatten::name) shadows [`Layer::name`].
///
/// # Shapes
///
/// `[batch, d1, …, dk]` to `[batch, d1 · … · dk]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Flatten, Layer, Mode};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut flatten = Flatten::new();
/// assert_eq!(flatten.build(&[3, 4], &mut StdRng::seed_from_u64(0))?, vec![12]);
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::<f32>::zeros(&[2, 3, 4])?);
/// assert_eq!(flatten.forward(x, Mode::Infer)?.shape(), vec![2, 12]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Flatten<T: Float = f32> {
    name: String,
    input_shape: Option<Vec<usize>>,
    _element: PhantomData<fn() -> T>,
}

impl<T: Float> Default for Flatten<T> {
    fn default() -> Self {
        Flatten::new()
    }
}

impl<T: Float> Flatten<T> {
    /// A flatten layer named `"flatten"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Flatten, Layer};
    ///
    /// assert_eq!(Layer::name(&Flatten::<f32>::new()), "flatten");
    /// ```
    pub fn new() -> Self {
        Flatten {
            name: "flatten".to_string(),
            input_shape: None,
            _element: PhantomData,
        }
    }

    /// Names the layer (default `"flatten"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Flatten, Layer};
    ///
    /// assert_eq!(Layer::name(&Flatten::<f32>::new().name("flat")), "flat");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds a layer from [`Layer::config`] (`{"name": …}`, optional).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for an unknown key or a
    /// name that is not a string.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Flatten, Layer};
    ///
    /// let f = Flatten::<f32>::from_config(&json!({"name": "flat"}))?;
    /// assert_eq!(f.config(), json!({"name": "flat"}));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new("Flatten", config, &["name"])?;
        let mut f = Flatten::new();
        if let Some(name) = c.string("name")? {
            f.name = name;
        }
        Ok(f)
    }

    fn error(&self, message: String) -> Error {
        layer_error("Flatten", &self.name, message)
    }
}

impl<T: Float> Layer<T> for Flatten<T> {
    fn kind(&self) -> &'static str {
        "Flatten"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// # Errors
    ///
    /// If the product of `input_shape` overflows `usize`.
    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        let (_, out) = Layer::<T>::planned_shapes(self, input_shape)
            .ok_or_else(|| self.error(format!("flattening {input_shape:?} overflows")))?;
        self.input_shape = Some(input_shape.to_vec());
        Ok(out)
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let n = input_shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))?;
        Some((Vec::new(), vec![n]))
    }

    /// # Errors
    ///
    /// If `x` is a scalar, or the layer was built and a sample of `x` does
    /// not have the built shape: `flatten (Flatten): expected input [_, 3, 4], got [2, 12]`.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        let shape = x.shape();
        let fits = match (&self.input_shape, shape.split_first()) {
            (_, None) => false,
            (Some(built), Some((_, sample))) => built == sample,
            (None, Some(_)) => true,
        };
        if !fits {
            let expected = self
                .input_shape
                .as_deref()
                .map_or("[_, …]".to_string(), batched);
            return Err(self.error(format!("expected input {expected}, got {shape:?}")));
        }
        x.reshape(&[shape[0], shape[1..].iter().product()])
    }

    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    fn config(&self) -> Value {
        json!({ "name": self.name })
    }
}
