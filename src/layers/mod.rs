//! Layers: the [`Layer`] trait and the built-in layers.
//!
//! A layer owns its [`Param`]s, creates them lazily in [`Layer::build`] once
//! it knows its input shape, and maps a [`Var`] to a [`Var`] in
//! [`Layer::forward`] using only the public `Var` operations. Layers know
//! nothing of optimizers or models.
//!
//! The built-in layers ([`Dense`], [`Dropout`], [`Flatten`], [`Activation`])
//! are generic over the element type with `f32` as the default, and each has
//! a `from_config` that [`from_config`] dispatches to by [`Layer::kind`].
//! Their errors start with the layer's name and kind, as in
//! `dense_2 (Dense): expected input [_, 64], got [32, 10]`.

use rand::rngs::StdRng;
use serde_json::Value;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{GradientTape, Param, Var};

mod activation;
mod attention;
mod cache;
mod config;
mod conv;
mod dense;
mod dropout;
mod embedding;
mod flatten;
mod layer_normalization;
mod norm_affine;
mod normalization;
mod pooling;
mod position_embedding;
mod registry;
mod regularizer;
mod reshape;
mod transformer;

pub use activation::Activation;
pub use attention::MultiHeadAttention;
pub use cache::DecodeCache;
pub use conv::{Conv1D, Conv2D, DepthwiseConv2D};
pub use dense::Dense;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use layer_normalization::LayerNormalization;
pub use normalization::BatchNormalization;
pub use pooling::{
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D,
};
pub use position_embedding::PositionEmbedding;
pub use registry::{
    FromConfigFn, deserialize, nest_params, nested_planned_shapes, register, serialize,
};
pub use regularizer::Regularizer;
pub use reshape::{Reshape, ZeroPadding2D};
pub use transformer::TransformerBlock;

/// What [`Layer::planned_shapes`] returns: each parameter's name and shape,
/// and the layer's output shape (batch dimension excluded).
pub type PlannedShapes = (Vec<(String, Vec<usize>)>, Vec<usize>);

/// Whether a forward pass is for training or for inference (Keras's
/// `training` argument). Dropout is active only in [`Mode::Train`].
///
/// # Examples
///
/// ```
/// use tapeflow::layers::Mode;
///
/// assert_ne!(Mode::Train, Mode::Infer);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Training: stochastic layers (dropout) are active.
    Train,
    /// Inference: every layer is deterministic.
    Infer,
}

/// A building block of a model: maps an input `Var` to an output `Var`.
///
/// Shapes passed to [`build`](Layer::build) exclude the batch dimension, as
/// in Keras; `forward` receives and returns batched values.
///
/// # Examples
///
/// A layer that scales its input by a learned scalar:
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use serde_json::{Value, json};
/// use tapeflow::layers::{Layer, Mode};
/// use tapeflow::{Param, Result, Tensor, Var};
///
/// #[derive(Debug)]
/// struct Scale { name: String, k: Param }
///
/// impl Layer for Scale {
///     fn kind(&self) -> &'static str { "Scale" }
///     fn name(&self) -> &str { &self.name }
///     fn set_name(&mut self, name: &str) { self.name = name.to_string() }
///     fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
///         Ok(input_shape.to_vec())
///     }
///     fn forward<'t>(&self, x: Var<'t>, _mode: Mode) -> Result<Var<'t>> {
///         x.mul(&x.tape().param(&self.k))
///     }
///     fn params(&self) -> Vec<&Param> { vec![&self.k] }
///     fn params_mut(&mut self) -> Vec<&mut Param> { vec![&mut self.k] }
///     fn config(&self) -> Value { json!({ "name": self.name }) }
/// }
///
/// let mut layer = Scale { name: "scale".into(), k: Param::new("k", Tensor::scalar(3.0)) };
/// assert_eq!(layer.build(&[2], &mut StdRng::seed_from_u64(0))?, vec![2]);
/// let tape = tapeflow::GradientTape::new();
/// let x = tape.constant(&Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?);
/// assert_eq!(layer.forward(x, Mode::Infer)?.value().to_vec(), vec![3.0, 6.0]);
/// assert_eq!(layer.param_count(), 1);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub trait Layer<T: Float = f32>: std::fmt::Debug + Send {
    /// The layer's type as Keras prints it in a summary, e.g. `"Dense"`.
    fn kind(&self) -> &'static str;

    /// The layer's name, e.g. `"dense_1"`.
    fn name(&self) -> &str;

    /// Renames the layer (models give unnamed layers Keras-style names).
    fn set_name(&mut self, name: &str);

    /// Creates the parameters for inputs of `input_shape` (batch dimension
    /// excluded), drawing random initial values from `rng`, and returns the
    /// output shape (batch dimension excluded).
    ///
    /// # Errors
    ///
    /// If the layer cannot take inputs of this shape; the message names the
    /// layer and both the expected and the actual shape.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>>;

    /// Computes the output for a batch `x`, recording on `x`'s tape.
    ///
    /// # Errors
    ///
    /// If `x` does not have the shape the layer was built for, or the layer
    /// was not built.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>>;

    /// The output before the layer's final activation, with that
    /// activation: `Some((z, a))` such that `forward(x)` is `a.apply(z)`.
    /// `Ok(None)`, the default, for a layer that does not end in an
    /// [`Activation`](crate::activations::Activation) it can split off.
    /// [`Dense`] implements it. `fit` and `evaluate` use it to compute a
    /// probability loss behind a sigmoid or softmax from the logits (see
    /// `Sequential::fit`, "Loss from logits"), so a layer that implements
    /// it gets that for free.
    ///
    /// # Errors
    ///
    /// As [`forward`](Layer::forward).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::activations::Activation;
    /// use tapeflow::layers::{Dense, Layer, Mode};
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let mut dense = Dense::<f32>::new(2).activation(Activation::Sigmoid);
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::ones(&[1, 3])?);
    /// let (z, a) = dense.forward_pre_activation(x, Mode::Train)?.expect("Dense splits");
    /// assert_eq!(a, Activation::Sigmoid);
    /// let y = dense.forward(x, Mode::Train)?;
    /// assert_eq!(a.apply(z)?.value().to_vec(), y.value().to_vec());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn forward_pre_activation<'t>(
        &self,
        x: Var<'t, T>,
        mode: Mode,
    ) -> Result<Option<(Var<'t, T>, crate::activations::Activation)>> {
        let _ = (x, mode);
        Ok(None)
    }

    /// The layer's parameters, trainable or not, in a fixed order.
    fn params(&self) -> Vec<&Param<T>>;

    /// The layer's parameters for updating, in the order of [`params`](Layer::params).
    fn params_mut(&mut self) -> Vec<&mut Param<T>>;

    /// The layer's settings as JSON (Keras's `get_config`): enough, with its
    /// [`kind`](Layer::kind), to rebuild the layer before loading weights.
    fn config(&self) -> Value;

    /// The layer's regularisation penalty (e.g. L2 on a kernel) recorded on
    /// `tape`, to be added to the loss; `None` if it has none.
    ///
    /// # Errors
    ///
    /// If the penalty cannot be computed (a shape error in a custom layer).
    fn regularization_loss<'t>(&self, tape: &'t GradientTape<T>) -> Result<Option<Var<'t, T>>> {
        let _ = tape;
        Ok(None)
    }

    /// The parameters `build` would create for `input_shape` — each as
    /// `(name, shape)`, in [`params`](Layer::params) order — and the output
    /// shape, worked out without allocating anything. `None` (the default)
    /// when the layer cannot tell without building, or when `build` would
    /// fail. Loaders use it to check a file against the architecture before
    /// building, so a corrupt configuration cannot make them allocate more
    /// than the file holds.
    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let _ = input_shape;
        None
    }

    /// The total number of parameter elements.
    fn param_count(&self) -> usize {
        self.params().iter().map(|p| p.value().len()).sum()
    }

    /// Freezes (`false`) or unfreezes (`true`) every parameter of the layer.
    fn set_trainable(&mut self, trainable: bool) {
        for p in self.params_mut() {
            p.set_trainable(trainable);
        }
    }

    /// Commits state that a training forward pass computed but that is not
    /// learned by gradients, such as
    /// [`BatchNormalization`]'s moving mean and variance (Keras 1's
    /// `layer.updates`). The default does nothing.
    ///
    /// `forward` takes `&self`, so a layer with such state keeps what a
    /// [`Mode::Train`] pass computed (only when the layer is trainable) and
    /// applies it here. `fit` calls this on every layer after each
    /// successful optimizer step; a custom training loop calls
    /// `Sequential::apply_state_updates` after its own step. A frozen layer
    /// and a [`Mode::Infer`] pass leave nothing to apply, so calling this
    /// after them changes nothing.
    ///
    /// # Errors
    ///
    /// If the pending state is not finite (the state is left unchanged).
    fn apply_state_updates(&mut self) -> Result<()> {
        Ok(())
    }

    /// One step of incremental inference (generation): `x` holds only the
    /// new positions, and `cache` the state of earlier steps (see
    /// [`DecodeCache`]). The default, right for every position-wise layer,
    /// is [`forward`](Layer::forward) in [`Mode::Infer`]; attention layers,
    /// position embeddings and composites holding them override it.
    ///
    /// # Errors
    ///
    /// As [`forward`](Layer::forward); a position embedding also when the
    /// positions run past its table.
    fn forward_cached<'t>(&self, x: Var<'t, T>, cache: &mut DecodeCache<T>) -> Result<Var<'t, T>> {
        let _ = cache;
        self.forward(x, Mode::Infer)
    }

    /// The longest sequence the layer accepts (a position table's length),
    /// or `None` (the default) when it has no limit.
    fn max_sequence_length(&self) -> Option<usize> {
        None
    }
}

/// Rebuilds a layer from its [`kind`](Layer::kind) and
/// [`config`](Layer::config) (Keras's `layers.deserialize`). The layer comes
/// back unbuilt: call [`Layer::build`], then load its weights.
///
/// Known kinds: the built-in layers ([`BUILT_IN_KINDS`]) and any kind added
/// with [`register`].
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `from_config`) for an unknown kind (the
/// message says how to register it), or a
/// config that is not an object, misses a required setting, has a setting of
/// the wrong type or one the layer does not know.
///
/// # Examples
///
/// ```
/// use tapeflow::layers::{self, Dense, Layer};
///
/// let dense = Dense::<f32>::new(4).name("hidden");
/// let again = layers::from_config::<f32>(dense.kind(), &dense.config())?;
/// assert_eq!(again.name(), "hidden");
/// assert_eq!(again.config(), dense.config());
/// assert!(layers::from_config::<f32>("Conv9D", &dense.config()).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn from_config<T: Float>(kind: &str, config: &Value) -> Result<Box<dyn Layer<T>>> {
    Ok(match kind {
        "Dense" => Box::new(Dense::<T>::from_config(config)?),
        "Dropout" => Box::new(Dropout::<T>::from_config(config)?),
        "Flatten" => Box::new(Flatten::<T>::from_config(config)?),
        "Activation" => Box::new(Activation::<T>::from_config(config)?),
        "Conv2D" => Box::new(Conv2D::<T>::from_config(config)?),
        "Conv1D" => Box::new(Conv1D::<T>::from_config(config)?),
        "DepthwiseConv2D" => Box::new(DepthwiseConv2D::<T>::from_config(config)?),
        "MaxPooling2D" => Box::new(MaxPooling2D::<T>::from_config(config)?),
        "AveragePooling2D" => Box::new(AveragePooling2D::<T>::from_config(config)?),
        "MaxPooling1D" => Box::new(MaxPooling1D::<T>::from_config(config)?),
        "GlobalAveragePooling2D" => Box::new(GlobalAveragePooling2D::<T>::from_config(config)?),
        "GlobalMaxPooling2D" => Box::new(GlobalMaxPooling2D::<T>::from_config(config)?),
        "BatchNormalization" => Box::new(BatchNormalization::<T>::from_config(config)?),
        "Reshape" => Box::new(Reshape::<T>::from_config(config)?),
        "ZeroPadding2D" => Box::new(ZeroPadding2D::<T>::from_config(config)?),
        "Embedding" => Box::new(Embedding::<T>::from_config(config)?),
        "PositionEmbedding" => Box::new(PositionEmbedding::<T>::from_config(config)?),
        "LayerNormalization" => Box::new(LayerNormalization::<T>::from_config(config)?),
        "MultiHeadAttention" => Box::new(MultiHeadAttention::<T>::from_config(config)?),
        "TransformerBlock" => Box::new(TransformerBlock::<T>::from_config(config)?),
        other => match registry::lookup::<T>(other) {
            Some(f) => f(config)?,
            None => {
                return Err(Error::InvalidArgument {
                    op: "from_config",
                    message: format!(
                        "unknown layer kind {other:?}; register it with tapeflow::layers::register::<{}>({other:?}, ...) before loading",
                        T::NAME
                    ),
                });
            }
        },
    })
}

/// The layer kinds [`from_config`] knows without registration.
pub const BUILT_IN_KINDS: [&str; 20] = [
    "Dense",
    "Dropout",
    "Flatten",
    "Activation",
    "Conv2D",
    "Conv1D",
    "DepthwiseConv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "MaxPooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "BatchNormalization",
    "Reshape",
    "ZeroPadding2D",
    "Embedding",
    "PositionEmbedding",
    "LayerNormalization",
    "MultiHeadAttention",
    "TransformerBlock",
];

/// An error raised by a layer, displayed as `"{name} ({kind}): {message}"`;
/// a model adds the layer's position.
pub(crate) fn layer_error(kind: &'static str, name: &str, message: String) -> Error {
    Error::Layer {
        layer: name.to_string(),
        kind,
        position: None,
        source: Box::new(Error::Invalid { message }),
    }
}

/// `[_, d1, …]`: a batched shape as error messages print it, `_` standing
/// for the batch (and any other free leading) dimensions.
pub(crate) fn batched(dims: &[usize]) -> String {
    let mut s = String::from("[_");
    for d in dims {
        s.push_str(&format!(", {d}"));
    }
    s.push(']');
    s
}
