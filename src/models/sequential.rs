//! [`Sequential`]: a stack of layers, its building (shape inference and
//! checking), naming, summary table, forward pass and parameter access.

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::training::Compiled;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::layers::{Layer, Mode};
use crate::tape::Var;

/// Layer names the model file reserves: a layer may not be named one of
/// these, nor start with one followed by `/`, because `save` stores the
/// optimizer's state as tensors `"optimizer/<slot>/<position>"` beside the
/// parameters `"<layer>/<param>"`. [`Sequential::build`] refuses them.
///
/// # Examples
///
/// ```
/// use tapeflow::prelude::*;
/// use tapeflow::models::RESERVED_LAYER_NAMES;
///
/// for name in RESERVED_LAYER_NAMES {
///     let mut model = Sequential::new(&[1]).add(Dense::new(1).name(name));
///     assert!(model.build().unwrap_err().to_string().contains("is reserved"));
/// }
/// ```
pub const RESERVED_LAYER_NAMES: &[&str] = &["optimizer"];

/// The seed a model draws its initial weights from unless told otherwise.
pub(crate) const DEFAULT_SEED: u64 = 0;

/// A linear stack of layers, Keras's `Sequential`.
///
/// The everyday path, in the order of this page: [`new`](Sequential::new)
/// (the input shape without the batch dimension), [`add`](Self::add),
/// [`compile`](Self::compile), [`fit`](Self::fit), then
/// [`evaluate`](Self::evaluate), [`predict`](Self::predict) or
/// [`predict_proba`](Self::predict_proba), [`save`](Self::save) and
/// [`load`](Sequential::load). Models are `f32` unless asked otherwise
/// ([`new_typed`](Self::new_typed), [`load_typed`](Self::load_typed) for
/// `f64`), as in Keras and PyTorch. Shapes are inferred and checked when
/// the model is built (by [`build`](Self::build) or
/// [`compile`](Self::compile); [`predict`](Self::predict) needs a built
/// model). Weights are drawn from a seeded RNG
/// ([`seed`](Self::seed), default 0), so the same code gives the same model.
///
/// # Examples
///
/// ```
/// use tapeflow::prelude::*;
///
/// let mut model = Sequential::new(&[4])
///     .add(Dense::new(8).activation(Activation::Relu))
///     .add(Dense::new(3).activation(Activation::Softmax));
/// model.build()?;
/// assert_eq!(model.output_shape()?, vec![3]);
/// assert_eq!(model.param_count(), 4 * 8 + 8 + 8 * 3 + 3);
/// let y = model.predict(&Tensor::zeros(&[2, 4])?)?;
/// assert_eq!(y.shape(), &[2, 3]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub struct Sequential<T: Float = f32> {
    pub(crate) input_shape: Vec<usize>,
    pub(crate) layers: Vec<Box<dyn Layer<T>>>,
    /// Output shape of each layer, filled in by `build`.
    pub(crate) shapes: Vec<Vec<usize>>,
    pub(crate) seed: u64,
    pub(crate) name: String,
    pub(crate) compiled: Option<Compiled<T>>,
}

impl<T: Float> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("name", &self.name)
            .field("input_shape", &self.input_shape)
            .field(
                "layers",
                &self
                    .layers
                    .iter()
                    .map(|l| l.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .field("built", &self.is_built())
            .field("compiled", &self.compiled.is_some())
            .finish()
    }
}

impl Sequential<f32> {
    /// An empty `f32` model taking inputs of `input_shape` (batch dimension
    /// excluded), Keras's `Sequential` with an `Input(shape)`.
    ///
    /// Everyday models are `f32`, as in Keras and PyTorch, so no type needs
    /// writing; for `f64` or generic code use
    /// [`new_typed`](Sequential::new_typed).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let model = Sequential::new(&[28, 28]);
    /// assert_eq!(model.input_shape(), &[28, 28]);
    /// assert!(model.layers().is_empty());
    /// let _: &Sequential<f32> = &model;   // f32 without an annotation
    /// ```
    pub fn new(input_shape: &[usize]) -> Self {
        Sequential::new_typed(input_shape)
    }
}

impl<T: Float> Sequential<T> {
    /// An empty model of element type `T` taking inputs of `input_shape`
    /// (batch dimension excluded): [`new`](Sequential::new) for `f64` and
    /// generic code, as `Sequential::<f64>::new_typed(&[4])`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::<f64>::new_typed(&[2]).add(Dense::new(1));
    /// model.build()?;
    /// let y: Tensor<f64> = model.predict(&Tensor::ones(&[3, 2])?)?;
    /// assert_eq!(y.shape(), &[3, 1]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn new_typed(input_shape: &[usize]) -> Self {
        Sequential {
            input_shape: input_shape.to_vec(),
            layers: Vec::new(),
            shapes: Vec::new(),
            seed: DEFAULT_SEED,
            name: "sequential".to_string(),
            compiled: None,
        }
    }

    /// Appends a layer. A layer whose name is empty, or still its type's
    /// default, gets a unique Keras-style name (`dense`, `dense_1`, …).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let model = Sequential::new(&[2]).add(Dense::new(3)).add(Dense::new(1));
    /// let names: Vec<&str> = model.layers().iter().map(|l| l.name()).collect();
    /// assert_eq!(names, ["dense", "dense_1"]);
    /// ```
    #[allow(
        clippy::should_implement_trait,
        reason = "Keras's name; a model is not a number to add"
    )]
    pub fn add(mut self, layer: impl Layer<T> + 'static) -> Self {
        self.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer (for layers chosen at run time), naming it as
    /// [`add`](Self::add) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    /// use tapeflow::layers::Layer;
    ///
    /// let mut model = Sequential::new(&[2]);
    /// let layer: Box<dyn Layer> = Box::new(Dense::new(1));
    /// model.push(layer);
    /// assert_eq!(model.layers().len(), 1);
    /// ```
    pub fn push(&mut self, mut layer: Box<dyn Layer<T>>) {
        let base = default_name(layer.kind());
        if layer.name().is_empty() || layer.name() == base {
            let taken: HashMap<&str, ()> = self.layers.iter().map(|l| (l.name(), ())).collect();
            let mut name = base.clone();
            let mut k = 0;
            while taken.contains_key(name.as_str()) {
                k += 1;
                name = format!("{base}_{k}");
            }
            layer.set_name(&name);
        }
        self.layers.push(layer);
    }

    /// Sets the seed of the RNG that initial weights are drawn from
    /// (default 0). Takes effect when the model is built.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut a = Sequential::new(&[2]).add(Dense::new(2)).seed(7);
    /// let mut b = Sequential::new(&[2]).add(Dense::new(2)).seed(7);
    /// a.build()?;
    /// b.build()?;
    /// assert_eq!(a.get_weights(), b.get_weights());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Renames the model (the title of its summary).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let model = Sequential::new(&[1]).name("regressor");
    /// assert!(model.summary().starts_with("Model: \"regressor\""));
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The input shape, batch dimension excluded.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// assert_eq!(Sequential::new(&[3]).input_shape(), &[3]);
    /// ```
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The layers, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let model = Sequential::new(&[3]).add(Dense::new(2));
    /// assert_eq!(model.layers()[0].kind(), "Dense");
    /// ```
    pub fn layers(&self) -> &[Box<dyn Layer<T>>] {
        &self.layers
    }

    /// The layers for changing them (renaming, freezing). Changing a
    /// layer's shape settings after building is not supported.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[3]).add(Dense::new(2)).add(Dense::new(1));
    /// model.build()?;
    /// model.layers_mut()[0].set_trainable(false);     // freeze the first layer
    /// assert_eq!(model.trainable_params().len(), 2);  // the second layer's kernel and bias
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer<T>>] {
        &mut self.layers
    }

    /// Whether every layer has been built.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[3]).add(Dense::new(2));
    /// assert!(!model.is_built());
    /// model.build()?;
    /// assert!(model.is_built());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn is_built(&self) -> bool {
        self.shapes.len() == self.layers.len() && !self.layers.is_empty()
    }

    /// Builds every layer in order, inferring each one's output shape from
    /// the previous one, and drawing initial weights from the model's seed.
    /// Building a built model does nothing; after [`add`](Self::add) on a
    /// built model only the new layers are built (the others keep their
    /// weights, as in Keras).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `build`) for a model without layers,
    /// with two layers of the same name, or with a layer whose name is empty
    /// or reserved ([`RESERVED_LAYER_NAMES`]); [`Error::Layer`] naming the layer,
    /// its position and the shapes when a layer cannot take its input.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut bad = Sequential::new(&[]).add(Dense::new(2));
    /// let err = bad.build().unwrap_err();
    /// assert!(err.to_string().starts_with("dense (Dense) at position 0:"));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn build(&mut self) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        if self.layers.is_empty() {
            return Err(Error::InvalidArgument {
                op: "build",
                message: format!(
                    "model {:?} has no layers; add one with Sequential::add",
                    self.name
                ),
            });
        }
        self.check_layer_names("build")?;
        // Parameters are saved as "<layer name>/<param name>": two layers
        // of one name would overwrite each other's weights in the file.
        for (i, layer) in self.layers.iter().enumerate() {
            if let Some(j) = self.layers[..i]
                .iter()
                .position(|l| l.name() == layer.name())
            {
                return Err(Error::InvalidArgument {
                    op: "build",
                    message: format!(
                        "layer name {:?} is used at positions {j} and {i}; layer names must be unique",
                        layer.name()
                    ),
                });
            }
        }
        // Layers built before (a model grown after building) keep their
        // weights: only the layers added since are built, each from the
        // output shape before it. The seed is offset by the first new
        // position so a layer added later does not repeat the first
        // layer's initial weights.
        let start = self.shapes.len();
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_add(start as u64));
        let mut shape = self
            .shapes
            .last()
            .cloned()
            .unwrap_or_else(|| self.input_shape.clone());
        for (position, layer) in self.layers.iter_mut().enumerate().skip(start) {
            shape = layer
                .build(&shape, &mut rng)
                .map_err(|e| at_position(e, layer.as_ref(), position))?;
            self.shapes.push(shape.clone());
        }
        Ok(())
    }

    /// The model's output shape (batch dimension excluded).
    ///
    /// # Errors
    ///
    /// It does not build the model: on a built model it cannot fail; on an
    /// unbuilt one it reports [`Error::InvalidArgument`] (op
    /// `output_shape`) saying to call `build` or `compile` first.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::prelude::*;
    ///
    /// let mut model = Sequential::new(&[5]).add(Dense::new(2));
    /// assert!(model.output_shape().is_err());
    /// model.build()?;
    /// assert_eq!(model.output_shape()?, vec![2]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn output_shape(&self) -> Result<Vec<usize>> {
        match self.shapes.last() {
            Some(shape) if self.is_built() => Ok(shape.clone()),
            _ => Err(self.not_built("output_shape")),
        }
    }

    pub(crate) fn not_built(&self, op: &'static str) -> Error {
        Error::InvalidArgument {
            op,
            message: format!(
                "model {:?} is not built; call build or compile first",
                self.name
            ),
        }
    }

    /// Runs the first `count` layers on `x` (already checked against the
    /// input shape), naming the layer and its position on error.
    pub(crate) fn forward_layers<'t>(
        &self,
        x: Var<'t, T>,
        mode: Mode,
        count: usize,
    ) -> Result<Var<'t, T>> {
        if !self.is_built() {
            return Err(self.not_built("forward"));
        }
        let mut h = x;
        for (position, layer) in self.layers.iter().enumerate().take(count) {
            h = layer
                .forward(h, mode)
                .map_err(|e| at_position(e, layer.as_ref(), position))?;
        }
        Ok(h)
    }

    /// Checks a batch's shape against the input shape, naming the first
    /// layer; a batch that lacks only the batch axis is told to add one.
    pub(crate) fn check_input(&self, shape: &[usize]) -> Result<()> {
        if shape.len() == self.input_shape.len() + 1 && shape[1..] == self.input_shape[..] {
            return Ok(());
        }
        let Some(first) = self.layers.first() else {
            return Err(self.not_built("forward"));
        };
        let dims = |d: &[usize]| {
            d.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut message = format!(
            "expected input [_, {}], got {shape:?}",
            dims(&self.input_shape)
        );
        if self.input_shape.is_empty() {
            message = format!("expected input [_], got {shape:?}");
        }
        if shape == self.input_shape.as_slice() {
            message.push_str(&format!(
                ": add a batch axis (reshape to [1, {}])",
                dims(shape)
            ));
        }
        Err(Error::Layer {
            layer: first.name().to_string(),
            kind: first.kind(),
            position: Some(0),
            source: Box::new(Error::Invalid { message }),
        })
    }

    /// Checks that no layer name is reserved by the model file (see
    /// [`RESERVED_LAYER_NAMES`]) or empty.
    pub(crate) fn check_layer_names(&self, op: &'static str) -> Result<()> {
        for (position, layer) in self.layers.iter().enumerate() {
            let name = layer.name();
            if name.is_empty() {
                return Err(Error::InvalidArgument {
                    op,
                    message: format!(
                        "the layer at position {position} ({}) has an empty name",
                        layer.kind()
                    ),
                });
            }
            for reserved in RESERVED_LAYER_NAMES {
                let prefixed = name
                    .strip_prefix(reserved)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
                if prefixed {
                    return Err(Error::InvalidArgument {
                        op,
                        message: format!(
                            "layer name {name:?} at position {position} is reserved: the model file stores {reserved:?}/… tensors; rename the layer"
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Adds a layer's position to its error, or wraps another error with the
/// layer's name, type and position.
pub(crate) fn at_position<T: Float>(e: Error, layer: &dyn Layer<T>, position: usize) -> Error {
    match e {
        Error::Layer {
            layer: name,
            kind,
            position: None,
            source,
        } if name == layer.name() => Error::Layer {
            layer: name,
            kind,
            position: Some(position),
            source,
        },
        other => Error::Layer {
            layer: layer.name().to_string(),
            kind: layer.kind(),
            position: Some(position),
            source: Box::new(other),
        },
    }
}

/// Keras's default layer name for a layer type: `Dense` → `dense`,
/// `BatchNormalization` → `batch_normalization`, `Conv2D` → `conv2d`
/// (an underscore before a capital that follows a lower-case letter or
/// starts a capitalised word, as Keras's `to_snake_case`).
fn default_name(kind: &str) -> String {
    let chars: Vec<char> = kind.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let after_lower = i > 0 && chars[i - 1].is_lowercase();
            let starts_word = i > 0 && chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if after_lower || starts_word {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_snake_case() {
        assert_eq!(default_name("Dense"), "dense");
        assert_eq!(default_name("BatchNormalization"), "batch_normalization");
        assert_eq!(default_name("Conv2D"), "conv2d");
        assert_eq!(default_name("MaxPooling2D"), "max_pooling2d");
        assert_eq!(
            default_name("GlobalAveragePooling2D"),
            "global_average_pooling2d"
        );
    }
}
