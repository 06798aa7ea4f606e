//! Convolution layers: [`Conv2D`], [`Conv1D`] and [`DepthwiseConv2D`]
//! (Keras's names, defaults and configs), all on [`Var::conv2d`].
//!
//! Images are NHWC (`channels_last`, Keras's default) and sequences
//! `[batch, steps, channels]`; kernels are HWIO (`[kh, kw, in / groups,
//! filters]`, Keras's layout; PyTorch's `Conv2d.weight` is OIHW and is
//! converted on import by `WeightMap::pytorch_conv2d`). The three share one
//! implementation ([`ConvCore`]); each public type adds its constructor and
//! the settings that differ.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, Regularizer, layer_error};
use crate::activations::Activation;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::ConvSpec;
use crate::tape::{GradientTape, Param, Var};
use crate::tensor::Padding;
use crate::tensor::conv::{Window, conv2d_geometry};

/// Which of the three layers a [`ConvCore`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flavour {
    Conv1D,
    Conv2D,
    Depthwise,
}

/// The state and behaviour shared by the convolution layers. For a
/// depthwise layer `filters` is the depth multiplier.
#[derive(Debug)]
struct ConvCore<T: Float> {
    flavour: Flavour,
    name: String,
    filters: usize,
    kernel_size: [usize; 2],
    strides: [usize; 2],
    padding: Padding,
    dilation: [usize; 2],
    groups: usize,
    activation: Activation,
    use_bias: bool,
    kernel_initializer: Initializer,
    bias_initializer: Initializer,
    kernel_regularizer: Option<Regularizer>,
    kernel: Option<Param<T>>,
    bias: Option<Param<T>>,
    trainable: bool,
}

impl<T: Float> ConvCore<T> {
    fn new(flavour: Flavour, name: &str, filters: usize, kernel_size: [usize; 2]) -> Self {
        ConvCore {
            flavour,
            name: name.to_string(),
            filters,
            kernel_size,
            strides: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
            groups: 1,
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

    fn kind(&self) -> &'static str {
        match self.flavour {
            Flavour::Conv1D => "Conv1D",
            Flavour::Conv2D => "Conv2D",
            Flavour::Depthwise => "DepthwiseConv2D",
        }
    }

    fn kernel_name(&self) -> &'static str {
        match self.flavour {
            Flavour::Depthwise => "depthwise_kernel",
            _ => "kernel",
        }
    }

    fn error(&self, message: String) -> Error {
        layer_error(self.kind(), &self.name, message)
    }

    /// The rank of one sample: `[steps, channels]` or `[h, w, channels]`.
    fn sample_rank(&self) -> usize {
        if self.flavour == Flavour::Conv1D {
            2
        } else {
            3
        }
    }

    /// The input seen as `[batch, h, w, c]` (a sequence has `h = 1`).
    fn as_image(&self, batched_shape: &[usize]) -> Vec<usize> {
        match *batched_shape {
            [n, l, c] if self.flavour == Flavour::Conv1D => vec![n, 1, l, c],
            _ => batched_shape.to_vec(),
        }
    }

    /// The stored kernel's shape for `channels` inputs (Keras's layout).
    fn kernel_shape(&self, channels: usize) -> Vec<usize> {
        let [kh, kw] = self.kernel_size;
        match self.flavour {
            Flavour::Conv1D => vec![kw, channels / self.groups.max(1), self.filters],
            Flavour::Conv2D => vec![kh, kw, channels / self.groups.max(1), self.filters],
            Flavour::Depthwise => vec![kh, kw, channels, self.filters],
        }
    }

    /// The op's settings and the kernel seen as HWIO `[kh, kw, c / groups, out]`.
    fn op_view(&self, channels: usize) -> (ConvSpec, Vec<usize>) {
        let groups = if self.flavour == Flavour::Depthwise {
            channels
        } else {
            self.groups
        };
        let [kh, kw] = self.kernel_size;
        let spec = ConvSpec::new()
            .strides(self.strides)
            .padding(self.padding)
            .dilation(self.dilation)
            .groups(groups);
        let shape = match self.flavour {
            Flavour::Depthwise => vec![kh, kw, 1, channels.saturating_mul(self.filters)],
            _ => vec![kh, kw, channels / groups.max(1), self.filters],
        };
        (spec, shape)
    }

    /// Checks the settings against an input sample shape; returns the
    /// kernel shape, the bias length and the output sample shape.
    fn plan(&self, input_shape: &[usize]) -> Result<(Vec<usize>, usize, Vec<usize>)> {
        if input_shape.len() != self.sample_rank() {
            let want = if self.sample_rank() == 2 {
                "[steps, channels]"
            } else {
                "[height, width, channels]"
            };
            return Err(self.error(format!(
                "expected an input shape {want} (batch excluded), got {input_shape:?}"
            )));
        }
        if self.filters == 0 {
            let what = if self.flavour == Flavour::Depthwise {
                "depth_multiplier"
            } else {
                "filters"
            };
            return Err(self.error(format!("{what} must be > 0, got 0")));
        }
        if self.padding == Padding::Causal && self.flavour != Flavour::Conv1D {
            return Err(self.error("causal padding is for Conv1D only".to_string()));
        }
        let mut batched_shape = vec![1];
        batched_shape.extend_from_slice(input_shape);
        let image = self.as_image(&batched_shape);
        let channels = image[3];
        let (spec, op_kernel) = self.op_view(channels);
        let window = Window {
            strides: spec.get_strides(),
            dilation: spec.get_dilation(),
            padding: spec.get_padding(),
        };
        let g = conv2d_geometry("conv2d", &image, &op_kernel, window, spec.get_groups())
            .map_err(|e| self.error(op_message(e)))?;
        let out_c = g.filters;
        let out = if self.flavour == Flavour::Conv1D {
            vec![g.w.output, out_c]
        } else {
            vec![g.h.output, g.w.output, out_c]
        };
        Ok((self.kernel_shape(channels), out_c, out))
    }

    fn planned(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let (kernel, bias, out) = self.plan(input_shape).ok()?;
        let mut params = vec![(self.kernel_name().to_string(), kernel)];
        if self.use_bias {
            params.push(("bias".to_string(), vec![bias]));
        }
        Some((params, out))
    }

    fn setting_error(&self, setting: &str, err: Error) -> Error {
        match err {
            Error::InvalidArgument { message, .. } => self.error(format!("{setting}: {message}")),
            other => other,
        }
    }

    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let (kernel_shape, bias_len, out) = self.plan(input_shape)?;
        if let Some(r) = self.kernel_regularizer {
            r.validate()
                .map_err(|e| self.setting_error("kernel_regularizer", e))?;
        }
        let kernel = self
            .kernel_initializer
            .init_with_rng(&kernel_shape, rng)
            .map_err(|e| self.setting_error("kernel_initializer", e))?;
        let bias = if self.use_bias {
            let b = self
                .bias_initializer
                .init_with_rng(&[bias_len], rng)
                .map_err(|e| self.setting_error("bias_initializer", e))?;
            Some(Param::new("bias", b))
        } else {
            None
        };
        self.kernel = Some(Param::new(self.kernel_name(), kernel));
        self.bias = bias;
        self.set_trainable(self.trainable);
        Ok(out)
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for p in self.kernel.iter_mut().chain(self.bias.iter_mut()) {
            p.set_trainable(trainable);
        }
    }

    fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let Some(kernel) = &self.kernel else {
            return Err(self.error("forward before build".to_string()));
        };
        let shape = x.shape();
        let ks = kernel.value().shape();
        // The built kernel fixes the channel count (its second-last axis,
        // times the groups for Conv2D/Conv1D; its third axis for depthwise).
        let channels = match self.flavour {
            Flavour::Depthwise => ks[2],
            _ => ks[ks.len() - 2] * self.groups,
        };
        if shape.len() != self.sample_rank() + 1 || shape[shape.len() - 1] != channels {
            let want = if self.sample_rank() == 2 {
                "[_, steps, {c}]"
            } else {
                "[_, height, width, {c}]"
            };
            return Err(self.error(format!(
                "expected input {}, got {shape:?}",
                want.replace("{c}", &channels.to_string())
            )));
        }
        let tape = x.tape();
        let (spec, op_kernel) = self.op_view(channels);
        let w = tape.param(kernel).reshape(&op_kernel)?;
        let b = self.bias.as_ref().map(|b| tape.param(b));
        let image = x.reshape(&self.as_image(&shape))?;
        let y = image
            .conv2d(&w, b.as_ref(), spec)
            .map_err(|e| self.error(op_message(e)))?;
        let y = if self.flavour == Flavour::Conv1D {
            let s = y.shape();
            y.reshape(&[s[0], s[2], s[3]])?
        } else {
            y
        };
        self.activation.apply(y)
    }

    fn config(&self) -> Value {
        let [kh, kw] = self.kernel_size;
        let pair = |a: [usize; 2]| -> Value {
            if self.flavour == Flavour::Conv1D {
                json!([a[1]])
            } else {
                json!(a)
            }
        };
        let mut c = json!({
            "name": self.name,
            "kernel_size": if self.flavour == Flavour::Conv1D { json!([kw]) } else { json!([kh, kw]) },
            "strides": pair(self.strides),
            "padding": self.padding.name(),
            "dilation_rate": pair(self.dilation),
            "activation": self.activation.to_config(),
            "use_bias": self.use_bias,
            "bias_initializer": self.bias_initializer.to_config(),
        });
        let m = c.as_object_mut().expect("invariant: json! of an object");
        if self.flavour == Flavour::Depthwise {
            m.insert("depth_multiplier".into(), json!(self.filters));
            m.insert(
                "depthwise_initializer".into(),
                self.kernel_initializer.to_config(),
            );
            m.insert(
                "depthwise_regularizer".into(),
                json!(self.kernel_regularizer.map(|r| r.to_config())),
            );
        } else {
            m.insert("filters".into(), json!(self.filters));
            m.insert("groups".into(), json!(self.groups));
            m.insert(
                "kernel_initializer".into(),
                self.kernel_initializer.to_config(),
            );
            m.insert(
                "kernel_regularizer".into(),
                json!(self.kernel_regularizer.map(|r| r.to_config())),
            );
        }
        c
    }

    fn from_config(flavour: Flavour, config: &Value) -> Result<Self> {
        let depthwise = flavour == Flavour::Depthwise;
        let kind = ConvCore::<T>::new(flavour, "", 0, [1, 1]).kind();
        let mut keys = vec![
            "name",
            "kernel_size",
            "strides",
            "padding",
            "dilation_rate",
            "activation",
            "use_bias",
            "bias_initializer",
        ];
        keys.extend(if depthwise {
            [
                "depth_multiplier",
                "depthwise_initializer",
                "depthwise_regularizer",
            ]
        } else {
            ["filters", "kernel_initializer", "kernel_regularizer"]
        });
        if !depthwise {
            keys.push("groups");
        }
        let c = Config::new(kind, config, &keys)?;
        let rank = if flavour == Flavour::Conv1D { 1 } else { 2 };
        let kernel_size = c.required("kernel_size", dims(&c, "kernel_size", rank)?)?;
        let filters = if depthwise {
            c.usize("depth_multiplier")?.unwrap_or(1)
        } else {
            c.required("filters", c.usize("filters")?)?
        };
        let default_name = match flavour {
            Flavour::Conv1D => "conv1d",
            Flavour::Conv2D => "conv2d",
            Flavour::Depthwise => "depthwise_conv2d",
        };
        let mut core = ConvCore::new(flavour, default_name, filters, kernel_size);
        if let Some(name) = c.string("name")? {
            core.name = name;
        }
        if let Some(s) = dims(&c, "strides", rank)? {
            core.strides = s;
        }
        if let Some(d) = dims(&c, "dilation_rate", rank)? {
            core.dilation = d;
        }
        if let Some(p) = c.string("padding")? {
            core.padding = Padding::from_name(&p).map_err(|e| c.bad(op_message(e)))?;
        }
        if let Some(g) = c.usize("groups")? {
            core.groups = g;
        }
        if let Some(v) = c.get("activation") {
            core.activation = Activation::from_config(v)?;
        }
        if let Some(b) = c.bool("use_bias")? {
            core.use_bias = b;
        }
        let (init_key, reg_key) = if depthwise {
            ("depthwise_initializer", "depthwise_regularizer")
        } else {
            ("kernel_initializer", "kernel_regularizer")
        };
        if let Some(v) = c.get(init_key) {
            core.kernel_initializer = Initializer::from_config(v)?;
        }
        if let Some(v) = c.get("bias_initializer") {
            core.bias_initializer = Initializer::from_config(v)?;
        }
        core.kernel_regularizer = c.get(reg_key).map(Regularizer::from_config).transpose()?;
        Ok(core)
    }
}

/// An op error's message without its op prefix duplicated by the layer.
fn op_message(e: Error) -> String {
    e.to_string()
}

/// A Keras integer-or-tuple setting: `3` or `[3, 3]` (rank 2), `3` or `[3]`
/// (rank 1), returned as `[h, w]` with `h = 1` for rank 1.
fn dims(c: &Config<'_>, key: &str, rank: usize) -> Result<Option<[usize; 2]>> {
    let Some(v) = c.get(key) else {
        return Ok(None);
    };
    let as_usize = |v: &Value| v.as_u64().and_then(|n| usize::try_from(n).ok());
    let list: Option<Vec<usize>> = match v {
        Value::Array(a) => a.iter().map(as_usize).collect(),
        other => as_usize(other).map(|n| vec![n; rank]),
    };
    match list.as_deref() {
        Some(&[k]) if rank == 1 => Ok(Some([1, k])),
        Some(&[h, w]) if rank == 2 => Ok(Some([h, w])),
        _ => Err(c.bad(format!(
            "{key} must be a non-negative integer or a list of {rank}, got {v}"
        ))),
    }
}

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
            /// [`Error::InvalidArgument`] (op `from_config`) for a missing
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

/// A 2-D convolution layer over NHWC images (Keras's `Conv2D`, PyTorch's
/// `nn.Conv2d` on channels-last data): `y = activation(conv2d(x, kernel) + bias)`.
///
/// The kernel is `[kh, kw, channels / groups, filters]` (HWIO) and named
/// `"kernel"`; the bias `[filters]`, `"bias"`. Defaults: strides `(1, 1)`,
/// `valid` padding, dilation `(1, 1)`, groups 1, no activation, a bias,
/// `glorot_uniform` kernel, `zeros` bias, name `"conv2d"`.
///
/// # Shapes
///
/// `[batch, h, w, channels]` to `[batch, out_h, out_w, filters]`, lengths as
/// in [`Padding`].
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Conv2D, Layer, Mode};
/// use tapeflow::tensor::Padding;
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut conv = Conv2D::new(8, [3, 3]).padding(Padding::Same);
/// assert_eq!(conv.build(&[28, 28, 1], &mut StdRng::seed_from_u64(0))?, vec![28, 28, 8]);
/// assert_eq!(conv.param_count(), 3 * 3 * 1 * 8 + 8);
/// let tape = GradientTape::new();
/// let y = conv.forward(tape.constant(&Tensor::<f32>::ones(&[2, 28, 28, 1])?), Mode::Infer)?;
/// assert_eq!(y.shape(), vec![2, 28, 28, 8]);
/// let err = conv.forward(tape.constant(&Tensor::ones(&[2, 28, 28, 3])?), Mode::Infer).unwrap_err();
/// assert_eq!(err.to_string(), "conv2d (Conv2D): expected input [_, height, width, 1], got [2, 28, 28, 3]");
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Conv2D<T: Float = f32> {
    core: ConvCore<T>,
}

impl<T: Float> Conv2D<T> {
    /// A layer of `filters` output channels and a `kernel_size = [kh, kw]`
    /// window, with the defaults above. Zero sizes are reported by `build`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// let conv = Conv2D::<f32>::new(32, [3, 3]);
    /// assert_eq!(conv.config()["filters"], 32);
    /// ```
    pub fn new(filters: usize, kernel_size: [usize; 2]) -> Self {
        Conv2D {
            core: ConvCore::new(Flavour::Conv2D, "conv2d", filters, kernel_size),
        }
    }

    /// Sets the strides `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// assert_eq!(Conv2D::<f32>::new(4, [3, 3]).strides([2, 2]).config()["strides"], serde_json::json!([2, 2]));
    /// ```
    pub fn strides(mut self, strides: [usize; 2]) -> Self {
        self.core.strides = strides;
        self
    }

    /// Sets the dilation `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// assert_eq!(Conv2D::<f32>::new(4, [3, 3]).dilation_rate([2, 2]).config()["dilation_rate"], serde_json::json!([2, 2]));
    /// ```
    pub fn dilation_rate(mut self, dilation: [usize; 2]) -> Self {
        self.core.dilation = dilation;
        self
    }

    /// Sets the number of groups (default 1); it must divide the input
    /// channels and the filters.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv2D, Layer};
    ///
    /// assert_eq!(Conv2D::<f32>::new(4, [3, 3]).groups(2).config()["groups"], 2);
    /// ```
    pub fn groups(mut self, groups: usize) -> Self {
        self.core.groups = groups;
        self
    }
}

conv_layer!(
    Conv2D,
    "Conv2D",
    Flavour::Conv2D,
    "let layer = tapeflow::layers::Conv2D::<f32>::new(4, [3, 3]);"
);

/// A 1-D convolution layer over `[batch, steps, channels]` sequences
/// (Keras's `Conv1D`): the kernel is `[k, channels / groups, filters]`.
/// Same defaults as [`Conv2D`] (name `"conv1d"`); padding may also be
/// [`Padding::Causal`].
///
/// # Shapes
///
/// `[batch, steps, channels]` to `[batch, out_steps, filters]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Conv1D, Layer};
/// use tapeflow::tensor::Padding;
///
/// let mut conv = Conv1D::<f32>::new(16, 5).padding(Padding::Causal);
/// assert_eq!(conv.build(&[100, 3], &mut StdRng::seed_from_u64(0))?, vec![100, 16]);
/// assert_eq!(conv.kernel().unwrap().value().shape(), &[5, 3, 16]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Conv1D<T: Float = f32> {
    core: ConvCore<T>,
}

impl<T: Float> Conv1D<T> {
    /// A layer of `filters` output channels and a window of `kernel_size` steps.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).config()["kernel_size"], serde_json::json!([3]));
    /// ```
    pub fn new(filters: usize, kernel_size: usize) -> Self {
        Conv1D {
            core: ConvCore::new(Flavour::Conv1D, "conv1d", filters, [1, kernel_size]),
        }
    }

    /// Sets the stride (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).strides(2).config()["strides"], serde_json::json!([2]));
    /// ```
    pub fn strides(mut self, stride: usize) -> Self {
        self.core.strides = [1, stride];
        self
    }

    /// Sets the dilation (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).dilation_rate(2).config()["dilation_rate"], serde_json::json!([2]));
    /// ```
    pub fn dilation_rate(mut self, dilation: usize) -> Self {
        self.core.dilation = [1, dilation];
        self
    }

    /// Sets the number of groups (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Conv1D, Layer};
    ///
    /// assert_eq!(Conv1D::<f32>::new(8, 3).groups(2).config()["groups"], 2);
    /// ```
    pub fn groups(mut self, groups: usize) -> Self {
        self.core.groups = groups;
        self
    }
}

conv_layer!(
    Conv1D,
    "Conv1D",
    Flavour::Conv1D,
    "let layer = tapeflow::layers::Conv1D::<f32>::new(4, 3);"
);

/// A depthwise 2-D convolution (Keras's `DepthwiseConv2D`; PyTorch's
/// `nn.Conv2d` with `groups = in_channels`): each input channel is convolved
/// with its own `depth_multiplier` filters, output channel
/// `c · depth_multiplier + m`.
///
/// The kernel is `[kh, kw, channels, depth_multiplier]` (Keras's layout),
/// named `"depthwise_kernel"`. Defaults as [`Conv2D`], depth multiplier 1,
/// name `"depthwise_conv2d"`.
///
/// # Shapes
///
/// `[batch, h, w, c]` to `[batch, out_h, out_w, c · depth_multiplier]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{DepthwiseConv2D, Layer};
///
/// let mut dw = DepthwiseConv2D::<f32>::new([3, 3]).depth_multiplier(2);
/// assert_eq!(dw.build(&[8, 8, 4], &mut StdRng::seed_from_u64(0))?, vec![6, 6, 8]);
/// assert_eq!(dw.param_count(), 3 * 3 * 4 * 2 + 8);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct DepthwiseConv2D<T: Float = f32> {
    core: ConvCore<T>,
}

impl<T: Float> DepthwiseConv2D<T> {
    /// A depthwise layer with a `kernel_size = [kh, kw]` window.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).config()["depth_multiplier"], 1);
    /// ```
    pub fn new(kernel_size: [usize; 2]) -> Self {
        DepthwiseConv2D {
            core: ConvCore::new(Flavour::Depthwise, "depthwise_conv2d", 1, kernel_size),
        }
    }

    /// Sets the number of filters per input channel (default 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).depth_multiplier(3).config()["depth_multiplier"], 3);
    /// ```
    pub fn depth_multiplier(mut self, multiplier: usize) -> Self {
        self.core.filters = multiplier;
        self
    }

    /// Sets the strides `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).strides([2, 2]).config()["strides"], serde_json::json!([2, 2]));
    /// ```
    pub fn strides(mut self, strides: [usize; 2]) -> Self {
        self.core.strides = strides;
        self
    }

    /// Sets the dilation `(h, w)` (default `(1, 1)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{DepthwiseConv2D, Layer};
    ///
    /// assert_eq!(DepthwiseConv2D::<f32>::new([3, 3]).dilation_rate([2, 1]).config()["dilation_rate"], serde_json::json!([2, 1]));
    /// ```
    pub fn dilation_rate(mut self, dilation: [usize; 2]) -> Self {
        self.core.dilation = dilation;
        self
    }
}

conv_layer!(
    DepthwiseConv2D,
    "DepthwiseConv2D",
    Flavour::Depthwise,
    "let layer = tapeflow::layers::DepthwiseConv2D::<f32>::new([3, 3]);"
);
