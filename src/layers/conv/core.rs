//! The state and behaviour shared by the convolution layers ([`ConvCore`]),
//! and the Keras config helpers they use.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::super::config::Config;
use super::super::{PlannedShapes, Regularizer, layer_error};
use crate::activations::Activation;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::initializers::Initializer;
use crate::ops::ConvSpec;
use crate::tape::{Param, Var};
use crate::tensor::Padding;
use crate::tensor::conv::{Window, conv2d_geometry};

/// Which of the three layers a [`ConvCore`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavour {
    Conv1D,
    Conv2D,
    Depthwise,
}

/// The state and behaviour shared by the convolution layers. For a
/// depthwise layer `filters` is the depth multiplier.
#[derive(Debug)]
pub(super) struct ConvCore<T: Float> {
    pub(super) flavour: Flavour,
    pub(super) name: String,
    pub(super) filters: usize,
    pub(super) kernel_size: [usize; 2],
    pub(super) strides: [usize; 2],
    pub(super) padding: Padding,
    pub(super) dilation: [usize; 2],
    pub(super) groups: usize,
    pub(super) activation: Activation,
    pub(super) use_bias: bool,
    pub(super) kernel_initializer: Initializer,
    pub(super) bias_initializer: Initializer,
    pub(super) kernel_regularizer: Option<Regularizer>,
    pub(super) kernel: Option<Param<T>>,
    pub(super) bias: Option<Param<T>>,
    pub(super) trainable: bool,
}

impl<T: Float> ConvCore<T> {
    pub(super) fn new(
        flavour: Flavour,
        name: &str,
        filters: usize,
        kernel_size: [usize; 2],
    ) -> Self {
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

    pub(super) fn kind(&self) -> &'static str {
        match self.flavour {
            Flavour::Conv1D => "Conv1D",
            Flavour::Conv2D => "Conv2D",
            Flavour::Depthwise => "DepthwiseConv2D",
        }
    }

    pub(super) fn kernel_name(&self) -> &'static str {
        match self.flavour {
            Flavour::Depthwise => "depthwise_kernel",
            _ => "kernel",
        }
    }

    pub(super) fn error(&self, message: String) -> Error {
        layer_error(self.kind(), &self.name, message)
    }

    /// The rank of one sample: `[steps, channels]` or `[h, w, channels]`.
    pub(super) fn sample_rank(&self) -> usize {
        if self.flavour == Flavour::Conv1D {
            2
        } else {
            3
        }
    }

    /// The input seen as `[batch, h, w, c]` (a sequence has `h = 1`).
    pub(super) fn as_image(&self, batched_shape: &[usize]) -> Vec<usize> {
        match *batched_shape {
            [n, l, c] if self.flavour == Flavour::Conv1D => vec![n, 1, l, c],
            _ => batched_shape.to_vec(),
        }
    }

    /// The stored kernel's shape for `channels` inputs (Keras's layout).
    pub(super) fn kernel_shape(&self, channels: usize) -> Vec<usize> {
        let [kh, kw] = self.kernel_size;
        match self.flavour {
            Flavour::Conv1D => vec![kw, channels / self.groups.max(1), self.filters],
            Flavour::Conv2D => vec![kh, kw, channels / self.groups.max(1), self.filters],
            Flavour::Depthwise => vec![kh, kw, channels, self.filters],
        }
    }

    /// The op's settings and the kernel seen as HWIO `[kh, kw, c / groups, out]`.
    pub(super) fn op_view(&self, channels: usize) -> (ConvSpec, Vec<usize>) {
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
    pub(super) fn plan(&self, input_shape: &[usize]) -> Result<(Vec<usize>, usize, Vec<usize>)> {
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

    pub(super) fn planned(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let (kernel, bias, out) = self.plan(input_shape).ok()?;
        let mut params = vec![(self.kernel_name().to_string(), kernel)];
        if self.use_bias {
            params.push(("bias".to_string(), vec![bias]));
        }
        Some((params, out))
    }

    pub(super) fn setting_error(&self, setting: &str, err: Error) -> Error {
        match err {
            Error::InvalidArgument { message, .. } => self.error(format!("{setting}: {message}")),
            other => other,
        }
    }

    pub(super) fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
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

    pub(super) fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for p in self.kernel.iter_mut().chain(self.bias.iter_mut()) {
            p.set_trainable(trainable);
        }
    }

    pub(super) fn forward<'t>(&self, x: Var<'t, T>) -> Result<Var<'t, T>> {
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

    pub(super) fn config(&self) -> Value {
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

    pub(super) fn from_config(flavour: Flavour, config: &Value) -> Result<Self> {
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
pub(super) fn op_message(e: Error) -> String {
    e.to_string()
}

/// A Keras integer-or-tuple setting: `3` or `[3, 3]` (rank 2), `3` or `[3]`
/// (rank 1), returned as `[h, w]` with `h = 1` for rank 1.
pub(super) fn dims(c: &Config<'_>, key: &str, rank: usize) -> Result<Option<[usize; 2]>> {
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
