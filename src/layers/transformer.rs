//! [`TransformerBlock`]: a composite layer of attention and a position-wise
//! MLP, each in a residual branch with layer normalization.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{
    DecodeCache, Dense, Dropout, Layer, LayerNormalization, Mode, MultiHeadAttention,
    PlannedShapes, layer_error, nest_params, nested_planned_shapes,
};
use crate::activations::Activation;
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};

/// The sub-layers of a built block.
#[derive(Debug)]
struct Parts<T: Float> {
    attention: MultiHeadAttention<T>,
    norm_1: LayerNormalization<T>,
    norm_2: LayerNormalization<T>,
    mlp_1: Dense<T>,
    mlp_2: Dense<T>,
    dropout: Dropout<T>,
}

/// A transformer block (Vaswani et al., 2017) over `[batch, t, d]`:
/// self-attention then a two-layer MLP, each in a residual branch.
///
/// - Pre-norm (default, GPT-2): `x += drop(attn(ln₁(x)))`,
///   `x += drop(mlp(ln₂(x)))`.
/// - Post-norm (`norm_first(false)`, the original paper, PyTorch's
///   `TransformerEncoderLayer` default): `x = ln₁(x + drop(attn(x)))`,
///   `x = ln₂(x + drop(mlp(x)))`.
///
/// `mlp(x) = activation(x · W₁ + b₁) · W₂ + b₂` with a hidden size of
/// `mlp_ratio · d`. Settings and defaults: `num_heads` (required; `d` must
/// be divisible by it, each head of size `d / num_heads`), `causal = false`,
/// `mlp_ratio = 4`, `activation = gelu`, `dropout = 0`, `norm_first =
/// true`, `layer_norm_epsilon = 1e-5` (KerasHub's and PyTorch's). Sub-layers
/// and their nested parameter names: `attention` ([`MultiHeadAttention`],
/// e.g. `"attention/query/kernel"`), `norm_1`, `norm_2`
/// ([`LayerNormalization`]), `mlp_1`, `mlp_2` ([`Dense`]).
///
/// # Shapes
///
/// Built for `[t, d]`; maps `[batch, t, d]` to the same shape.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, Mode, TransformerBlock};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut block = TransformerBlock::<f32>::new(2).causal(true);
/// assert_eq!(block.build(&[4, 8], &mut StdRng::seed_from_u64(0))?, vec![4, 8]);
/// assert_eq!(block.params()[0].name(), "attention/query/kernel");
/// let tape = GradientTape::new();
/// let y = block.forward(tape.constant(&Tensor::ones(&[2, 4, 8])?), Mode::Infer)?;
/// assert_eq!(y.shape(), vec![2, 4, 8]);
/// let mut odd = TransformerBlock::<f32>::new(3).name("blk");
/// assert_eq!(
///     odd.build(&[4, 8], &mut StdRng::seed_from_u64(0)).unwrap_err().to_string(),
///     "blk (TransformerBlock): the model width 8 is not num_heads x key_dim for num_heads = 3"
/// );
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct TransformerBlock<T: Float = f32> {
    name: String,
    num_heads: usize,
    causal: bool,
    mlp_ratio: usize,
    activation: Activation,
    dropout: f64,
    norm_first: bool,
    layer_norm_epsilon: f64,
    parts: Option<Parts<T>>,
    trainable: bool,
}

impl<T: Float> TransformerBlock<T> {
    /// A block with `num_heads` heads and the defaults above.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// assert_eq!(TransformerBlock::<f32>::new(4).config()["mlp_ratio"], 4);
    /// ```
    pub fn new(num_heads: usize) -> Self {
        TransformerBlock {
            name: "transformer_block".to_string(),
            num_heads,
            causal: false,
            mlp_ratio: 4,
            activation: Activation::Gelu,
            dropout: 0.0,
            norm_first: true,
            layer_norm_epsilon: 1e-5,
            parts: None,
            trainable: true,
        }
    }

    /// Whether attention is causal (default `false`; `true` for a GPT).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// assert_eq!(TransformerBlock::<f32>::new(1).causal(true).config()["causal"], true);
    /// ```
    pub fn causal(mut self, causal: bool) -> Self {
        self.causal = causal;
        self
    }

    /// Sets the MLP's hidden size as a multiple of the width (default 4).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// assert_eq!(TransformerBlock::<f32>::new(1).mlp_ratio(2).config()["mlp_ratio"], 2);
    /// ```
    pub fn mlp_ratio(mut self, ratio: usize) -> Self {
        self.mlp_ratio = ratio;
        self
    }

    /// Sets the MLP's activation (default GELU, exact).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    /// use tapeflow::Activation;
    ///
    /// let b = TransformerBlock::<f32>::new(1).activation(Activation::Relu);
    /// assert_eq!(b.config()["activation"], "relu");
    /// ```
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the dropout rate on the attention weights and on both residual
    /// branches (default 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// assert_eq!(TransformerBlock::<f32>::new(1).dropout(0.1).config()["dropout"], 0.1);
    /// ```
    pub fn dropout(mut self, rate: f64) -> Self {
        self.dropout = rate;
        self
    }

    /// Pre-norm (`true`, default) or post-norm (`false`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// assert_eq!(TransformerBlock::<f32>::new(1).norm_first(false).config()["norm_first"], false);
    /// ```
    pub fn norm_first(mut self, norm_first: bool) -> Self {
        self.norm_first = norm_first;
        self
    }

    /// Sets both layer norms' `ε` (default `1e-5`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// let b = TransformerBlock::<f32>::new(1).layer_norm_epsilon(1e-3);
    /// assert_eq!(b.config()["layer_norm_epsilon"], 1e-3);
    /// ```
    pub fn layer_norm_epsilon(mut self, epsilon: f64) -> Self {
        self.layer_norm_epsilon = epsilon;
        self
    }

    /// Names the layer (default `"transformer_block"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// assert_eq!(Layer::<f32>::name(&TransformerBlock::new(1).name("block_1")), "block_1");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds an unbuilt block from [`Layer::config`]; `num_heads` is
    /// required.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing
    /// `num_heads`, an unknown key or a setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Layer, TransformerBlock};
    ///
    /// let b = TransformerBlock::<f32>::from_config(&json!({"num_heads": 2, "causal": true}))?;
    /// assert_eq!(b.config()["norm_first"], true);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new(
            "TransformerBlock",
            config,
            &[
                "name",
                "num_heads",
                "causal",
                "mlp_ratio",
                "activation",
                "dropout",
                "norm_first",
                "layer_norm_epsilon",
            ],
        )?;
        let mut b = TransformerBlock::new(c.required("num_heads", c.usize("num_heads")?)?);
        if let Some(name) = c.string("name")? {
            b.name = name;
        }
        if let Some(v) = c.bool("causal")? {
            b.causal = v;
        }
        if let Some(v) = c.usize("mlp_ratio")? {
            b.mlp_ratio = v;
        }
        if let Some(v) = c.get("activation") {
            b.activation = Activation::from_config(v)?;
        }
        if let Some(v) = c.f64("dropout")? {
            b.dropout = v;
        }
        if let Some(v) = c.bool("norm_first")? {
            b.norm_first = v;
        }
        if let Some(v) = c.f64("layer_norm_epsilon")? {
            b.layer_norm_epsilon = v;
        }
        Ok(b)
    }

    fn error(&self, message: String) -> Error {
        layer_error("TransformerBlock", &self.name, message)
    }

    /// The unbuilt sub-layers for width `d`.
    fn parts(&self, d: usize) -> Result<Parts<T>> {
        if self.num_heads == 0 || !d.is_multiple_of(self.num_heads) {
            return Err(self.error(format!(
                "the model width {d} is not num_heads x key_dim for num_heads = {}",
                self.num_heads
            )));
        }
        let hidden = d
            .checked_mul(self.mlp_ratio)
            .filter(|&h| h > 0)
            .ok_or_else(|| {
                self.error(format!(
                    "mlp_ratio {} gives no usable hidden size for width {d}",
                    self.mlp_ratio
                ))
            })?;
        let norm = |name| {
            LayerNormalization::new()
                .epsilon(self.layer_norm_epsilon)
                .name(name)
        };
        Ok(Parts {
            attention: MultiHeadAttention::new(self.num_heads, d / self.num_heads)
                .dropout(self.dropout)
                .use_causal_mask(self.causal)
                .name("attention"),
            norm_1: norm("norm_1"),
            norm_2: norm("norm_2"),
            mlp_1: Dense::new(hidden).activation(self.activation).name("mlp_1"),
            mlp_2: Dense::new(d).name("mlp_2"),
            dropout: Dropout::new(self.dropout).name("dropout"),
        })
    }

    /// The block's computation; `cache` selects incremental inference.
    fn run<'t>(
        &self,
        x: Var<'t, T>,
        mode: Mode,
        cache: Option<&mut DecodeCache<T>>,
    ) -> Result<Var<'t, T>> {
        let Some(p) = &self.parts else {
            return Err(self.error("forward before build".to_string()));
        };
        let d = p.mlp_2.units();
        let s = x.shape();
        if s.len() != 3 || s[2] != d {
            return Err(self.error(format!("expected input [_, _, {d}], got {s:?}")));
        }
        let attend = |h: Var<'t, T>, cache: Option<&mut DecodeCache<T>>| match cache {
            Some(c) => p.attention.forward_cached(h, c),
            None => p.attention.forward(h, mode),
        };
        let mlp = |h: Var<'t, T>| p.mlp_2.forward(p.mlp_1.forward(h, mode)?, mode);
        let drop = |h: Var<'t, T>| p.dropout.forward(h, mode);
        if self.norm_first {
            let a = drop(attend(p.norm_1.forward(x, mode)?, cache)?)?;
            let x = x.add(&a)?;
            let m = drop(mlp(p.norm_2.forward(x, mode)?)?)?;
            x.add(&m)
        } else {
            let a = drop(attend(x, cache)?)?;
            let x = p.norm_1.forward(x.add(&a)?, mode)?;
            let m = drop(mlp(x)?)?;
            p.norm_2.forward(x.add(&m)?, mode)
        }
    }
}

impl<T: Float> Layer<T> for TransformerBlock<T> {
    fn kind(&self) -> &'static str {
        "TransformerBlock"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let &[t, d] = input_shape else { return None };
        let p = self.parts(d).ok()?;
        let hidden = d * self.mlp_ratio;
        let mut params = Vec::new();
        params.extend(nested_planned_shapes(&p.attention, input_shape)?.0);
        params.extend(nested_planned_shapes(&p.norm_1, input_shape)?.0);
        params.extend(nested_planned_shapes(&p.norm_2, input_shape)?.0);
        params.extend(nested_planned_shapes(&p.mlp_1, input_shape)?.0);
        params.extend(nested_planned_shapes(&p.mlp_2, &[t, hidden])?.0);
        Some((params, input_shape.to_vec()))
    }

    /// Builds the sub-layers for `[t, d]` inputs.
    ///
    /// # Errors
    ///
    /// Unless the input is `[t, d]` with `d` divisible by `num_heads`; for a
    /// zero `mlp_ratio`, a bad dropout rate or epsilon.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        let &[t, d] = input_shape else {
            return Err(self.error(format!(
                "needs an input shape [time, features] (batch excluded), got {input_shape:?}"
            )));
        };
        let mut p = self.parts(d)?;
        let hidden = d * self.mlp_ratio;
        let wrap = |e: Error| self.error(e.to_string());
        p.attention.build(input_shape, rng).map_err(wrap)?;
        p.norm_1.build(input_shape, rng).map_err(wrap)?;
        p.norm_2.build(input_shape, rng).map_err(wrap)?;
        p.mlp_1.build(input_shape, rng).map_err(wrap)?;
        p.mlp_2.build(&[t, hidden], rng).map_err(wrap)?;
        p.dropout.build(input_shape, rng).map_err(wrap)?;
        nest_params(&mut p.attention);
        nest_params(&mut p.norm_1);
        nest_params(&mut p.norm_2);
        nest_params(&mut p.mlp_1);
        nest_params(&mut p.mlp_2);
        self.parts = Some(p);
        self.set_trainable(self.trainable);
        Ok(input_shape.to_vec())
    }

    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        self.run(x, mode, None)
    }

    fn forward_cached<'t>(&self, x: Var<'t, T>, cache: &mut DecodeCache<T>) -> Result<Var<'t, T>> {
        self.run(x, Mode::Infer, Some(cache))
    }

    fn params(&self) -> Vec<&Param<T>> {
        let Some(p) = &self.parts else {
            return Vec::new();
        };
        let mut out = p.attention.params();
        out.extend(p.norm_1.params());
        out.extend(p.norm_2.params());
        out.extend(p.mlp_1.params());
        out.extend(p.mlp_2.params());
        out
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        let Some(p) = &mut self.parts else {
            return Vec::new();
        };
        let mut out = p.attention.params_mut();
        out.extend(p.norm_1.params_mut());
        out.extend(p.norm_2.params_mut());
        out.extend(p.mlp_1.params_mut());
        out.extend(p.mlp_2.params_mut());
        out
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        if let Some(p) = &mut self.parts {
            p.attention.set_trainable(trainable);
            p.norm_1.set_trainable(trainable);
            p.norm_2.set_trainable(trainable);
            p.mlp_1.set_trainable(trainable);
            p.mlp_2.set_trainable(trainable);
        }
    }

    fn config(&self) -> Value {
        json!({
            "name": self.name,
            "num_heads": self.num_heads,
            "causal": self.causal,
            "mlp_ratio": self.mlp_ratio,
            "activation": self.activation.to_config(),
            "dropout": self.dropout,
            "norm_first": self.norm_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        })
    }
}
