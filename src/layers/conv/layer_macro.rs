//! The `Layer` impl and builder methods common to the convolution layers
//! (the `conv_layer!` macro), expanded once in each layer's file.

/// The `Layer` impl and the builder methods common to the three layers.
macro_rules! conv_layer {
    ($ty:ident, $kind:literal, $flavour:expr, $example:literal) => {
        impl<T: Float> $ty<T> {
            /// Sets the padding (default [`Padding::Valid`]).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::layers::Layer;
            /// use tapeflow::tensor::Padding;
            ///
            /// assert_eq!(layer.padding(Padding::Same).config()["padding"], "same");
            /// ```
            pub fn padding(mut self, padding: Padding) -> Self {
                self.core.padding = padding;
                self
            }

            /// Sets the activation applied after the convolution (default linear).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::layers::Layer;
            /// use tapeflow::Activation;
            ///
            /// assert_eq!(layer.activation(Activation::Relu).config()["activation"], "relu");
            /// ```
            pub fn activation(mut self, activation: Activation) -> Self {
                self.core.activation = activation;
                self
            }

            /// Whether the layer adds a bias per output channel (default `true`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::layers::Layer;
            ///
            /// assert_eq!(layer.use_bias(false).config()["use_bias"], false);
            /// ```
            pub fn use_bias(mut self, use_bias: bool) -> Self {
                self.core.use_bias = use_bias;
                self
            }

            /// Sets how the kernel is initialised (default `glorot_uniform`,
            /// fans from the HWIO shape as Keras computes them).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::initializers::Initializer;
            /// use tapeflow::layers::Layer;
            ///
            /// let layer = layer.kernel_initializer(Initializer::HeNormal);
            /// assert!(layer.config().to_string().contains("he_normal"));
            /// ```
            pub fn kernel_initializer(mut self, init: Initializer) -> Self {
                self.core.kernel_initializer = init;
                self
            }

            /// Sets how the bias is initialised (default `zeros`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::initializers::Initializer;
            /// use tapeflow::layers::Layer;
            ///
            /// let layer = layer.bias_initializer(Initializer::Ones);
            /// assert_eq!(layer.config()["bias_initializer"], "ones");
            /// ```
            pub fn bias_initializer(mut self, init: Initializer) -> Self {
                self.core.bias_initializer = init;
                self
            }

            /// Adds a penalty on the kernel to the loss (default none).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::layers::{Layer, Regularizer};
            ///
            /// let layer = layer.kernel_regularizer(Regularizer::l2(0.5));
            /// assert!(layer.config().to_string().contains("\"l2\":0.5"));
            /// ```
            pub fn kernel_regularizer(mut self, regularizer: Regularizer) -> Self {
                self.core.kernel_regularizer = Some(regularizer);
                self
            }

            /// Names the layer; shadows [`Layer::name`] on this type.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::layers::Layer;
            ///
            /// assert_eq!(Layer::name(&layer.name("features")), "features");
            /// ```
            pub fn name(mut self, name: &str) -> Self {
                self.core.name = name.to_string();
                self
            }

            /// The kernel (Keras's layout), once built.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// assert!(layer.kernel().is_none());
            /// ```
            pub fn kernel(&self) -> Option<&Param<T>> {
                self.core.kernel.as_ref()
            }

            /// The bias `[out channels]`, once built and if the layer has one.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// assert!(layer.bias().is_none());
            /// ```
            pub fn bias(&self) -> Option<&Param<T>> {
                self.core.bias.as_ref()
            }

            /// Rebuilds an (unbuilt) layer from [`Layer::config`]; missing
            /// settings take the defaults. Integer-or-list settings
            /// (`kernel_size`, `strides`, `dilation_rate`) accept either form.
            ///
            /// # Errors
            ///
            /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) (op `from_config`) for a missing
            /// required setting, an unknown key or a setting of the wrong type.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = $example]
            /// use tapeflow::layers::Layer;
            ///
            /// let again = tapeflow::layers::from_config::<f32>(layer.kind(), &layer.config())?;
            /// assert_eq!(again.config(), layer.config());
            /// # Ok::<(), tapeflow::Error>(())
            /// ```
            pub fn from_config(config: &Value) -> Result<Self> {
                Ok($ty {
                    core: ConvCore::from_config($flavour, config)?,
                })
            }
        }

        impl<T: Float> Layer<T> for $ty<T> {
            fn kind(&self) -> &'static str {
                $kind
            }

            fn name(&self) -> &str {
                &self.core.name
            }

            fn set_name(&mut self, name: &str) {
                self.core.name = name.to_string();
            }

            /// Creates the kernel (drawn first) and the bias.
            ///
            /// # Errors
            ///
            /// If the input shape has the wrong rank, a setting is 0, the
            /// kernel is larger than the padded input, or the groups do not
            /// divide the channels and filters; the message names the layer
            /// and the shapes.
            fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
                self.core.build(input_shape, rng)
            }

            /// # Errors
            ///
            /// Before `build`, or if `x` does not have the built channel
            /// count and rank, or the op fails (a kernel larger than a
            /// smaller input); messages name the layer and the shapes.
            fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
                let _ = mode;
                self.core.forward(x)
            }

            fn params(&self) -> Vec<&Param<T>> {
                self.core.kernel.iter().chain(&self.core.bias).collect()
            }

            fn params_mut(&mut self) -> Vec<&mut Param<T>> {
                self.core
                    .kernel
                    .iter_mut()
                    .chain(&mut self.core.bias)
                    .collect()
            }

            fn config(&self) -> Value {
                self.core.config()
            }

            fn regularization_loss<'t>(
                &self,
                tape: &'t GradientTape<T>,
            ) -> Result<Option<Var<'t, T>>> {
                Ok(match (&self.core.kernel_regularizer, &self.core.kernel) {
                    (Some(r), Some(kernel)) => Some(r.penalty(tape.param(kernel))),
                    _ => None,
                })
            }

            fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
                self.core.planned(input_shape)
            }

            /// Freezes or unfreezes the kernel and bias, also before `build`.
            fn set_trainable(&mut self, trainable: bool) {
                self.core.set_trainable(trainable);
            }
        }
    };
}
