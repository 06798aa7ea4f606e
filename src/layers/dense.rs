//! [`Dense`]: the fully connected layer `activation(x · kernel + bias)`.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, Regularizer, batched, layer_error};
use crate::activations::Activation;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::tape::{GradientTape, Param, Var};

/// A fully connected layer: `y = activation(x · kernel + bias)` (Keras's
/// `Dense`, PyTorch's `nn.Linear` followed by an activation).
///
/// The kernel is `[in, units]` as in Keras (PyTorch's `nn.Linear.weight`
/// is its transpose, `[units, in]`); the bias is `[units]`. The parameters
/// are named `"kernel"` and `"bias"` and are created by
/// [`build`](Layer::build). Defaults: no activation (linear), a bias,
/// `glorot_uniform` kernel, `zeros` bias, no regulariser, name `"dense"`.
///
/// The builder method [`name`](Dense::name) shadows [`Layer::name`] on a
/// `Dense` value; read the name with `Layer::name(&dense)`.
///
/// # Shapes
///
/// Acts on the last axis: built for `[in]` it maps `[batch, in]` to
/// `[batch, units]`; built for `[t, in]` it maps `[batch, t, in]` to
/// `[batch, t, units]`. Only the last dimension is checked, as in Keras.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Dense, Layer, Mode};
/// use tapeflow::{Activation, GradientTape, Tensor};
///
/// let mut dense = Dense::new(3).activation(Activation::Relu).name("hidden");
/// assert_eq!(dense.build(&[4], &mut StdRng::seed_from_u64(0))?, vec![3]);
/// assert_eq!(dense.param_count(), 4 * 3 + 3);
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::ones(&[2, 4])?);
/// let y = dense.forward(x, Mode::Infer)?;
/// assert_eq!(y.shape(), vec![2, 3]);
/// assert!(y.value().as_slice().iter().all(|&v: &f32| v >= 0.0));
/// let err = dense.forward(tape.constant(&Tensor::ones(&[2, 5])?), Mode::Infer).unwrap_err();
/// assert_eq!(err.to_string(), "hidden (Dense): expected input [_, 4], got [2, 5]");
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Dense<T: Float = f32> {
    name: String,
    units: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
    /// Kept so that freezing before `build` holds for the params it creates.
    trainable: bool,
}

impl<T: Float> Dense<T> {
    /// A dense layer with `units` outputs and the defaults above. `units = 0`
    /// is reported by [`build`](Layer::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Dense;
    ///
    /// let dense = Dense::<f32>::new(8);
    /// assert_eq!(dense.units(), 8);
    /// assert!(dense.kernel().is_none());   // not built yet
    /// ```
    pub fn new(units: usize) -> Self {
        Dense {
            name: "dense".to_string(),
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            kernel_regularizer: None,
            kernel: None,
            bias: None,
            trainable: true,
        }
    }

    /// Sets the activation applied after the affine map (default linear).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Dense, Layer};
    /// use tapeflow::Activation;
    ///
    /// let dense = Dense::<f32>::new(2).activation(Activation::Tanh);
    /// assert_eq!(dense.config()["activation"], "tanh");
    /// ```
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether the layer has a bias (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let mut dense = Dense::<f32>::new(2).use_bias(false);
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(dense.params().len(), 1);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// Sets how the kernel is initialised (default `glorot_uniform`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::initializers::Initializer;
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let mut dense = Dense::<f32>::new(2).kernel_initializer(Initializer::Ones);
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(dense.kernel().unwrap().value().sum(), 6.0);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
        self
    }

    /// Sets how the bias is initialised (default `zeros`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::initializers::Initializer;
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let mut dense = Dense::<f32>::new(2).bias_initializer(Initializer::Constant { value: 0.1 });
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(dense.bias().unwrap().value().to_vec(), vec![0.1, 0.1]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.bias_initializer = init;
        self
    }

    /// Adds a penalty on the kernel to the loss, through
    /// [`Layer::regularization_loss`] (default none).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::initializers::Initializer;
    /// use tapeflow::layers::{Dense, Layer, Regularizer};
    /// use tapeflow::GradientTape;
    ///
    /// let mut dense = Dense::<f64>::new(2)
    ///     .kernel_initializer(Initializer::Ones)
    ///     .kernel_regularizer(Regularizer::l2(0.5));
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// let tape = GradientTape::new();
    /// let penalty = dense.regularization_loss(&tape)?.unwrap();
    /// assert_eq!(penalty.value().item()?, 3.0);   // 0.5 · 6 ones²
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn kernel_regularizer(mut self, regularizer: Regularizer) -> Self {
        self.kernel_regularizer = Some(regularizer);
        self
    }

    /// Names the layer (default `"dense"`). This builder shadows
    /// [`Layer::name`] on a `Dense` value: read it with `Layer::name(&dense)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let dense = Dense::<f32>::new(2).name("output");
    /// assert_eq!(Layer::name(&dense), "output");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The number of outputs.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Dense;
    ///
    /// assert_eq!(Dense::<f64>::new(5).units(), 5);
    /// ```
    pub fn units(&self) -> usize {
        self.units
    }

    /// The kernel `[in, units]`, once built.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let mut dense = Dense::<f32>::new(2);
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(dense.kernel().unwrap().value().shape(), &[3, 2]);
    /// assert_eq!(dense.kernel().unwrap().name(), "kernel");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn kernel(&self) -> Option<&Param<T>> {
        self.kernel.as_ref()
    }

    /// The bias `[units]`, once built and if the layer has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let mut dense = Dense::<f32>::new(2);
    /// dense.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(dense.bias().unwrap().value().to_vec(), vec![0.0, 0.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    /// Rebuilds an (unbuilt) layer from [`Layer::config`]. Only `units` is
    /// required; missing settings take the defaults.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing `units`, an
    /// unknown key or a setting of the wrong type; the activation's,
    /// initialisers' or regulariser's own errors for a bad value.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Dense, Layer};
    ///
    /// let dense = Dense::<f32>::from_config(&json!({"units": 3, "activation": "relu"}))?;
    /// assert_eq!(dense.units(), 3);
    /// assert_eq!(dense.config()["use_bias"], true);
    /// assert!(Dense::<f32>::from_config(&json!({"activation": "relu"})).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new(
            "Dense",
            config,
            &[
                "name",
                "units",
                "activation",
                "use_bias",
                "kernel_initializer",
                "bias_initializer",
                "kernel_regularizer",
            ],
        )?;
        let mut dense = Dense::new(c.required("units", c.usize("units")?)?);
        if let Some(name) = c.string("name")? {
            dense.name = name;
        }
        if let Some(v) = c.get("activation") {
            dense.activation = Activation::from_config(v)?;
        }
        if let Some(b) = c.bool("use_bias")? {
            dense.use_bias = b;
        }
        if let Some(v) = c.get("kernel_initializer") {
            dense.kernel_initializer = Initializer::from_config(v)?;
        }
        if let Some(v) = c.get("bias_initializer") {
            dense.bias_initializer = Initializer::from_config(v)?;
        }
        dense.kernel_regularizer = c
            .get("kernel_regularizer")
            .map(Regularizer::from_config)
            .transpose()?;
        Ok(dense)
    }

    fn error(&self, message: String) -> Error {
        layer_error("Dense", &self.name, message)
    }

    /// An initialiser's or regulariser's error, re-labelled with this layer
    /// and the setting (`kernel_initializer: …`).
    fn setting_error(&self, setting: &str, err: Error) -> Error {
        match err {
            Error::InvalidArgument { message, .. } => self.error(format!("{setting}: {message}")),
            other => Error::Layer {
                layer: self.name.clone(),
                kind: "Dense",
                position: None,
                source: Box::new(other),
            },
        }
    }

    /// Checks that the parameters still have the shapes the layer needs for
    /// an input whose last dimension is `input_dim` (a kernel replaced
    /// through [`Param::value_mut`] may not).
    fn check_params(&self, kernel: &Param<T>, input_dim: usize) -> Result<()> {
        let want = [input_dim, self.units];
        if kernel.value().shape() != want {
            return Err(self.error(format!(
                "kernel has shape {:?}, but an input of last dimension {input_dim} needs {want:?}",
                kernel.value().shape()
            )));
        }
        if let Some(bias) = &self.bias
            && bias.value().shape() != [self.units]
        {
            return Err(self.error(format!(
                "bias has shape {:?}, but the layer needs [{}]",
                bias.value().shape(),
                self.units
            )));
        }
        Ok(())
    }
}

impl<T: Float> Dense<T> {
    /// The kernel, after checking `x` and the parameters.
    fn checked_kernel(&self, x: &Var<'_, T>) -> Result<&Param<T>> {
        let Some(kernel) = &self.kernel else {
            return Err(self.error("forward before build".to_string()));
        };
        let shape = x.shape();
        let Some(&input_dim) = kernel.value().shape().first() else {
            return Err(self.error(format!(
                "kernel has shape {:?}, but the layer needs [in, {}]",
                kernel.value().shape(),
                self.units
            )));
        };
        if shape.len() < 2 || shape.last() != Some(&input_dim) {
            return Err(self.error(format!(
                "expected input {}, got {shape:?}",
                batched(&[input_dim])
            )));
        }
        self.check_params(kernel, input_dim)?;
        Ok(kernel)
    }

    /// `x · kernel + bias` through the fused [`Var::linear`], after
    /// checking `x` and the parameters.
    fn linear<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let kernel = self.checked_kernel(&x)?;
        let tape = x.tape();
        let w = tape.param(kernel);
        let b = self.bias.as_ref().map(|b| tape.param(b));
        x.linear(&w, b.as_ref())
    }

    /// `gelu(x · kernel + bias)` through the fused `Var::linear_gelu` (one
    /// node, the same bits as [`linear`](Self::linear) then `gelu`), after
    /// the same checks; without a bias, `linear` then `gelu`.
    fn linear_gelu<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let Some(bias) = &self.bias else {
            return Ok(self.linear(x)?.gelu());
        };
        let kernel = self.checked_kernel(&x)?;
        let tape = x.tape();
        x.linear_gelu(&tape.param(kernel), &tape.param(bias))
    }
}

impl<T: Float> Layer<T> for Dense<T> {
    fn kind(&self) -> &'static str {
        "Dense"
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let (&input_dim, lead) = input_shape.split_last()?;
        if self.units == 0 || input_dim == 0 || input_dim.checked_mul(self.units).is_none() {
            return None; // `build` reports it
        }
        let mut params = vec![("kernel".to_string(), vec![input_dim, self.units])];
        if self.use_bias {
            params.push(("bias".to_string(), vec![self.units]));
        }
        let mut out = lead.to_vec();
        out.push(self.units);
        Some((params, out))
    }

    /// Freezes or unfreezes the kernel and bias, also when called before
    /// `build` (the flag is kept and applied to the params `build` creates).
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for p in self.kernel.iter_mut().chain(self.bias.iter_mut()) {
            p.set_trainable(trainable);
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// Creates the kernel `[in, units]` (drawn first) and the bias `[units]`,
    /// `in` being the last input dimension; rebuilding makes new parameters.
    ///
    /// # Errors
    ///
    /// If `units` is 0, the input shape is empty or ends in 0, an
    /// initialiser setting is invalid, or the regulariser has a negative or
    /// non-finite coefficient.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        if self.units == 0 {
            return Err(self.error("units must be > 0, got 0".to_string()));
        }
        let Some((&input_dim, lead)) = input_shape.split_last() else {
            return Err(self.error(
                "needs an input shape of at least 1 dimension (batch excluded), got []".to_string(),
            ));
        };
        if input_dim == 0 {
            return Err(self.error(format!(
                "last input dimension must be > 0, got input shape {input_shape:?}"
            )));
        }
        if input_dim.checked_mul(self.units).is_none() {
            return Err(self.error(format!(
                "a kernel of {input_dim} x {} elements is too large",
                self.units
            )));
        }
        if let Some(r) = self.kernel_regularizer {
            r.validate_for::<T>()
                .map_err(|e| self.setting_error("kernel_regularizer", e))?;
        }
        self.activation
            .validate::<T>()
            .map_err(|e| self.setting_error("activation", e))?;
        let kernel = self
            .kernel_initializer
            .init_with_rng(&[input_dim, self.units], rng)
            .map_err(|e| self.setting_error("kernel_initializer", e))?;
        let bias = if self.use_bias {
            let b = self
                .bias_initializer
                .init_with_rng(&[self.units], rng)
                .map_err(|e| self.setting_error("bias_initializer", e))?;
            Some(Param::new("bias", b))
        } else {
            None
        };
        self.kernel = Some(Param::new("kernel", kernel));
        self.bias = bias;
        self.set_trainable(self.trainable);
        let mut out = lead.to_vec();
        out.push(self.units);
        Ok(out)
    }

    /// `activation(x · kernel + bias)` through the fused [`Var::linear`].
    ///
    /// # Errors
    ///
    /// Before [`build`](Layer::build); if `x` has fewer than 2 dimensions or
    /// its last is not the built `in`:
    /// `dense (Dense): expected input [_, 4], got [2, 5]`.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let _ = mode;
        if self.activation == Activation::Gelu {
            return self.linear_gelu(x);
        }
        self.activation.apply(self.linear(x)?)
    }

    /// `(x · kernel + bias, activation)`: the logits and the activation
    /// [`forward`](Layer::forward) applies to them.
    ///
    /// # Errors
    ///
    /// As [`forward`](Layer::forward).
    fn forward_pre_activation<'t>(
        &self,
        x: Var<'t, T>,
        mode: Mode,
    ) -> Result<Option<(Var<'t, T>, Activation)>> {
        let _ = mode;
        Ok(Some((self.linear(x)?, self.activation)))
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.kernel.iter().chain(&self.bias).collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.kernel.iter_mut().chain(&mut self.bias).collect()
    }

    fn config(&self) -> Value {
        json!({
            "name": self.name,
            "units": self.units,
            "activation": self.activation.to_config(),
            "use_bias": self.use_bias,
            "kernel_initializer": self.kernel_initializer.to_config(),
            "bias_initializer": self.bias_initializer.to_config(),
            "kernel_regularizer": self.kernel_regularizer.map(|r| r.to_config()),
        })
    }

    /// The kernel regulariser's penalty on the kernel; `None` without a
    /// regulariser or before `build`.
    fn regularization_loss<'t>(&self, tape: &'t GradientTape<T>) -> Result<Option<Var<'t, T>>> {
        Ok(match (&self.kernel_regularizer, &self.kernel) {
            (Some(r), Some(kernel)) => Some(r.penalty(tape.param(kernel))),
            _ => None,
        })
    }
}
