//! [`MultiHeadAttention`]: scaled dot-product attention over several heads
//! (Vaswani et al., 2017), Keras's `MultiHeadAttention`, built from four
//! [`Dense`] sub-layers.

use rand::rngs::StdRng;
use serde_json::{Value, json};

use super::config::Config;
use super::{
    DecodeCache, Dense, Dropout, Layer, Mode, PlannedShapes, layer_error, nest_params,
    nested_planned_shapes,
};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::ops::{SoftmaxMask, causal_mask};
use crate::tape::{Param, Var};
use crate::tensor::Tensor;

/// Multi-head attention: for each head `i`,
/// `headᵢ = softmax(qᵢ kᵢᵀ / √key_dim + mask) vᵢ`, with `q = query · W_q + b_q`
/// (likewise `k`, `v`), and the output `concat(heads) · W_o + b_o`
/// (Vaswani et al., 2017; Keras's `MultiHeadAttention`).
///
/// Settings (Keras's names and defaults): `num_heads`, `key_dim`,
/// `value_dim` (default `key_dim`), `dropout` on the attention weights
/// (default 0, active in training only), `use_bias` (default `true`),
/// `output_shape` (default: the query's last dimension), and
/// `use_causal_mask` (default `false`; position `i` attends positions
/// `<= i`). Keras passes `use_causal_mask` at call time; here it is a
/// setting, so the layer works as self-attention inside a
/// [`Sequential`](crate::Sequential) (`forward(x)` attends `x` to itself).
/// Cross-attention and explicit masks go through
/// [`attend`](Self::attend).
///
/// Sub-layers, as named in a saved model: `query`, `key`, `value` and
/// `attention_output`, each a [`Dense`] whose parameters are nested
/// (`"query/kernel"`, `"query/bias"`, …). Kernels are 2-D,
/// `[features, num_heads · key_dim]` (Keras's `EinsumDense` keeps
/// `[features, num_heads, key_dim]`: the same numbers, reshaped). A row
/// whose every key is masked gives a zero context (see
/// [`Var::softmax_masked`]).
///
/// # Shapes
///
/// Built for `[t, features]`, maps `[batch, t, features]` to
/// `[batch, t, output_shape]`.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{Layer, Mode, MultiHeadAttention};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut mha = MultiHeadAttention::<f32>::new(2, 4).use_causal_mask(true);
/// assert_eq!(mha.build(&[5, 8], &mut StdRng::seed_from_u64(0))?, vec![5, 8]);
/// let names: Vec<&str> = mha.params().iter().map(|p| p.name()).collect();
/// assert_eq!(names[..2], ["query/kernel", "query/bias"]);
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::ones(&[3, 5, 8])?);
/// assert_eq!(mha.forward(x, Mode::Infer)?.shape(), vec![3, 5, 8]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct MultiHeadAttention<T: Float = f32> {
    name: String,
    num_heads: usize,
    key_dim: usize,
    value_dim: Option<usize>,
    dropout: f64,
    use_bias: bool,
    output_shape: Option<usize>,
    use_causal_mask: bool,
    /// `query`, `key`, `value`, `attention_output`, once built.
    dense: Option<[Dense<T>; 4]>,
    attention_dropout: Dropout<T>,
    trainable: bool,
}

impl<T: Float> MultiHeadAttention<T> {
    /// Attention with `num_heads` heads of size `key_dim` and the defaults
    /// above. Zero sizes are reported by [`build`](Layer::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// let mha = MultiHeadAttention::<f32>::new(4, 32);
    /// assert_eq!(mha.config()["value_dim"], 32);
    /// ```
    pub fn new(num_heads: usize, key_dim: usize) -> Self {
        MultiHeadAttention {
            name: "multi_head_attention".to_string(),
            num_heads,
            key_dim,
            value_dim: None,
            dropout: 0.0,
            use_bias: true,
            output_shape: None,
            use_causal_mask: false,
            dense: None,
            attention_dropout: Dropout::new(0.0).name("dropout"),
            trainable: true,
        }
    }

    /// Sets the size of each value head (default `key_dim`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// assert_eq!(MultiHeadAttention::<f32>::new(2, 4).value_dim(6).config()["value_dim"], 6);
    /// ```
    pub fn value_dim(mut self, value_dim: usize) -> Self {
        self.value_dim = Some(value_dim);
        self
    }

    /// Sets the dropout rate on the attention weights (default 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// assert_eq!(MultiHeadAttention::<f32>::new(2, 4).dropout(0.1).config()["dropout"], 0.1);
    /// ```
    pub fn dropout(mut self, rate: f64) -> Self {
        self.dropout = rate;
        self.attention_dropout = Dropout::new(rate).name("dropout");
        self
    }

    /// Whether the four projections have biases (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// let mut mha = MultiHeadAttention::<f32>::new(2, 2).use_bias(false);
    /// mha.build(&[3, 4], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(mha.params().len(), 4);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    /// Sets the output's last dimension (default: the query's).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// let mut mha = MultiHeadAttention::<f32>::new(2, 2).output_shape(3);
    /// assert_eq!(mha.build(&[5, 4], &mut StdRng::seed_from_u64(0))?, vec![5, 3]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn output_shape(mut self, output_shape: usize) -> Self {
        self.output_shape = Some(output_shape);
        self
    }

    /// Whether position `i` attends only positions `<= i` (default `false`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// assert_eq!(MultiHeadAttention::<f32>::new(1, 2).use_causal_mask(true).config()["use_causal_mask"], true);
    /// ```
    pub fn use_causal_mask(mut self, causal: bool) -> Self {
        self.use_causal_mask = causal;
        self
    }

    /// Names the layer (default `"multi_head_attention"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// assert_eq!(Layer::<f32>::name(&MultiHeadAttention::new(1, 2).name("attn")), "attn");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Rebuilds an unbuilt layer from [`Layer::config`]; `num_heads` and
    /// `key_dim` are required.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing size, an
    /// unknown key or a setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Layer, MultiHeadAttention};
    ///
    /// let m = MultiHeadAttention::<f32>::from_config(&json!({"num_heads": 2, "key_dim": 8}))?;
    /// assert_eq!(m.config()["use_bias"], true);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new(
            "MultiHeadAttention",
            config,
            &[
                "name",
                "num_heads",
                "key_dim",
                "value_dim",
                "dropout",
                "use_bias",
                "output_shape",
                "use_causal_mask",
            ],
        )?;
        let mut m = MultiHeadAttention::new(
            c.required("num_heads", c.usize("num_heads")?)?,
            c.required("key_dim", c.usize("key_dim")?)?,
        );
        if let Some(name) = c.string("name")? {
            m.name = name;
        }
        m.value_dim = c.usize("value_dim")?;
        if let Some(rate) = c.f64("dropout")? {
            m = m.dropout(rate);
        }
        if let Some(b) = c.bool("use_bias")? {
            m.use_bias = b;
        }
        m.output_shape = c.usize("output_shape")?;
        if let Some(b) = c.bool("use_causal_mask")? {
            m.use_causal_mask = b;
        }
        Ok(m)
    }

    fn error(&self, message: String) -> Error {
        layer_error("MultiHeadAttention", &self.name, message)
    }

    fn value_size(&self) -> usize {
        self.value_dim.unwrap_or(self.key_dim)
    }

    /// The four projections, unbuilt, for inputs of `features`.
    fn projections(&self, features: usize) -> Result<[Dense<T>; 4]> {
        let h = self.num_heads;
        let qk = h.checked_mul(self.key_dim);
        let v = h.checked_mul(self.value_size());
        let (Some(qk), Some(v)) = (qk, v) else {
            return Err(self.error(format!(
                "num_heads x key_dim = {h} x {} is too large",
                self.key_dim
            )));
        };
        let out = self.output_shape.unwrap_or(features);
        let dense = |units, name| Dense::new(units).use_bias(self.use_bias).name(name);
        Ok([
            dense(qk, "query"),
            dense(qk, "key"),
            dense(v, "value"),
            dense(out, "attention_output"),
        ])
    }

    fn check_sizes(&self) -> Result<()> {
        if self.num_heads == 0 || self.key_dim == 0 || self.value_size() == 0 {
            return Err(self.error(format!(
                "num_heads, key_dim and value_dim must be > 0, got {}, {} and {}",
                self.num_heads,
                self.key_dim,
                self.value_size()
            )));
        }
        Ok(())
    }

    fn built(&self) -> Result<&[Dense<T>; 4]> {
        self.dense
            .as_ref()
            .ok_or_else(|| self.error("forward before build".to_string()))
    }

    /// Attends `query` to `value` (keys from `key`, default `value`) under
    /// an optional keep mask (non-zero = attend; Keras's `attention_mask`)
    /// combined with the causal mask when `use_causal_mask` is set.
    ///
    /// # Shapes
    ///
    /// `query`: `[batch, t_q, features]`, `value` and `key`:
    /// `[batch, t_v, features]` (the features the layer was built for);
    /// `attention_mask`: broadcasts to `[batch, t_q, t_v]` (rank 2 or 3);
    /// result: `[batch, t_q, output_shape]`.
    ///
    /// # Errors
    ///
    /// Before `build`; for inputs of other shapes or a mask that does not
    /// broadcast, naming the layer and the shapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{Layer, Mode, MultiHeadAttention};
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let mut mha = MultiHeadAttention::<f64>::new(2, 3).name("mha");
    /// mha.build(&[4, 6], &mut StdRng::seed_from_u64(0))?;
    /// let tape = GradientTape::new();
    /// let q = tape.constant(&Tensor::ones(&[1, 2, 6])?);
    /// let v = tape.constant(&Tensor::ones(&[1, 4, 6])?);
    /// let pad = Tensor::from_vec(vec![1.0, 1.0, 0.0, 0.0], &[1, 1, 4])?;
    /// assert_eq!(mha.attend(q, v, None, Some(&pad), Mode::Infer)?.shape(), vec![1, 2, 6]);
    /// let bad = Tensor::ones(&[1, 3])?;
    /// assert_eq!(
    ///     mha.attend(q, v, None, Some(&bad), Mode::Infer).unwrap_err().to_string(),
    ///     "mha (MultiHeadAttention): attention_mask of shape [1, 3] does not broadcast to [1, 2, 4]"
    /// );
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn attend<'t>(
        &self,
        query: Var<'t, T>,
        value: Var<'t, T>,
        key: Option<Var<'t, T>>,
        attention_mask: Option<&Tensor<T>>,
        mode: Mode,
    ) -> Result<Var<'t, T>> {
        let [wq, wk, wv, wo] = self.built()?;
        let key = key.unwrap_or(value);
        let features = wq.kernel().map_or(0, |k| k.value().shape()[0]);
        let (qs, vs, ks) = (query.shape(), value.shape(), key.shape());
        let fits = |s: &[usize]| s.len() == 3 && s[2] == features && s[0] == qs[0];
        if !fits(&qs) || !fits(&vs) || !fits(&ks) || vs[1] != ks[1] {
            return Err(self.error(format!(
                "expected query, value and key [batch, _, {features}] with one batch size and value and key of one length, got {qs:?}, {vs:?} and {ks:?}"
            )));
        }
        let (b, tq, tv) = (qs[0], qs[1], vs[1]);
        let mask = self.user_mask(attention_mask, b, tq, tv)?;
        let q = wq.forward(query, mode)?;
        let k = wk.forward(key, mode)?;
        let v = wv.forward(value, mode)?;
        let context = self.weigh(q, k, v, mask.as_ref(), mode)?;
        wo.forward(context, mode)
    }

    /// `softmax(q kᵀ / √key_dim, mask) v` over the heads of the projected
    /// `q`, `k`, `v` (`[batch, t, heads · d]`), heads merged; the causal
    /// rule applies to queries that are the last `t_q` of the `t_v`
    /// positions. Without active dropout this is the fused kernel; with it,
    /// the unfused ops, so the dropout can act on the probabilities.
    fn weigh<'t>(
        &self,
        q: Var<'t, T>,
        k: Var<'t, T>,
        v: Var<'t, T>,
        mask: Option<&Tensor<T>>,
        mode: Mode,
    ) -> Result<Var<'t, T>> {
        let h = self.num_heads;
        let causal = self.use_causal_mask;
        if self.dropout == 0.0 || mode == Mode::Infer {
            return q.scaled_dot_product_attention(&k, &v, h, mask, causal);
        }
        let (tq, tv) = (q.shape()[1], k.shape()[1]);
        let keep = match (mask, causal) {
            (Some(m), true) => Some(m.mul(&causal_mask(tq, tv)?)?),
            (Some(m), false) => Some(m.clone()),
            (None, true) => Some(causal_mask(tq, tv)?),
            (None, false) => None,
        };
        let keep = keep
            .map(|m| match *m.shape() {
                [mb, mq, _] => m.reshape(&[mb, 1, mq, tv]),
                _ => m.reshape(&[1, 1, tq, tv]),
            })
            .transpose()?;
        let scale = T::from_f64(1.0 / (self.key_dim as f64).sqrt());
        let scores = q
            .split_heads(h)?
            .bmm_nt(&k.split_heads(h)?)?
            .mul_scalar(scale);
        let probs = match &keep {
            Some(m) => scores.softmax_masked(SoftmaxMask::Keep(m))?,
            None => scores.softmax(3)?,
        };
        let probs = self.attention_dropout.forward(probs, mode)?;
        probs.bmm(&v.split_heads(h)?)?.merge_heads()
    }

    /// The user's keep mask as `[b or 1, t_q or 1, t_v]`, checked against
    /// `[b, t_q, t_v]`.
    fn user_mask(
        &self,
        user: Option<&Tensor<T>>,
        b: usize,
        tq: usize,
        tv: usize,
    ) -> Result<Option<Tensor<T>>> {
        let Some(m) = user else { return Ok(None) };
        let s = m.shape();
        let target = [b, tq, tv];
        let pad = 3usize.saturating_sub(s.len());
        let fits = (2..=3).contains(&s.len())
            && s.iter()
                .zip(&target[pad..])
                .all(|(&d, &t)| d == t || d == 1);
        if !fits {
            return Err(self.error(format!(
                "attention_mask of shape {s:?} does not broadcast to {target:?}"
            )));
        }
        let mb = if s.len() == 3 { s[0] } else { 1 };
        let m = m.reshape(&[mb, s[s.len() - 2], s[s.len() - 1]])?;
        // The kernel reads whole key rows: a mask broadcast over the keys
        // is widened to them.
        if m.shape()[2] == tv {
            Ok(Some(m))
        } else {
            Ok(Some(m.mul(&Tensor::ones(&[tv])?)?))
        }
    }
}

impl<T: Float> Layer<T> for MultiHeadAttention<T> {
    fn kind(&self) -> &'static str {
        "MultiHeadAttention"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let &[t, f] = input_shape else { return None };
        self.check_sizes().ok()?;
        let dense = self.projections(f).ok()?;
        let mut params = Vec::new();
        let mut out = Vec::new();
        for (i, d) in dense.iter().enumerate() {
            let input = if i == 3 {
                vec![t, self.num_heads * self.value_size()]
            } else {
                vec![t, f]
            };
            let (p, o) = nested_planned_shapes(d, &input)?;
            params.extend(p);
            out = o;
        }
        Some((params, out))
    }

    /// Builds the four projections for `[t, features]` inputs.
    ///
    /// # Errors
    ///
    /// Unless the input shape is `[t, features]`; for a zero size or a
    /// dropout rate outside `[0, 1)`.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        self.check_sizes()?;
        let &[t, f] = input_shape else {
            return Err(self.error(format!(
                "needs an input shape [time, features] (batch excluded), got {input_shape:?}"
            )));
        };
        let mut dense = self.projections(f)?;
        let heads_v = self.num_heads * self.value_size();
        let mut out = Vec::new();
        for (i, d) in dense.iter_mut().enumerate() {
            let input = if i == 3 { [t, heads_v] } else { [t, f] };
            out = d
                .build(&input, rng)
                .map_err(|e| self.error(e.to_string()))?;
            nest_params(d);
        }
        self.attention_dropout
            .build(&[self.num_heads, t, t], rng)
            .map_err(|e| self.error(e.to_string()))?;
        self.dense = Some(dense);
        self.set_trainable(self.trainable);
        Ok(out)
    }

    /// Self-attention: `attend(x, x, None, None, mode)`.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        self.attend(x, x, None, None, mode)
    }

    /// Self-attention of the new positions to every cached one: appends the
    /// new keys and values to this layer's slot of `cache`.
    fn forward_cached<'t>(&self, x: Var<'t, T>, cache: &mut DecodeCache<T>) -> Result<Var<'t, T>> {
        let [wq, wk, wv, wo] = self.built()?;
        let features = wq.kernel().map_or(0, |k| k.value().shape()[0]);
        let s = x.shape();
        if s.len() != 3 || s[2] != features {
            return Err(self.error(format!("expected input [_, _, {features}], got {s:?}")));
        }
        let mode = Mode::Infer;
        let q = wq.forward(x, mode)?;
        let k_new = wk.forward(x, mode)?.value();
        let v_new = wv.forward(x, mode)?.value();
        // Keys and values are cached as projected, `[batch, t, heads · d]`.
        let slot = cache.next_slot();
        let (k_all, v_all) = match slot.take() {
            Some((k, v)) if k.shape()[0] == s[0] => (
                Tensor::concat(&[&k, &k_new], 1)?,
                Tensor::concat(&[&v, &v_new], 1)?,
            ),
            _ => (k_new, v_new),
        };
        *slot = Some((k_all.clone(), v_all.clone()));
        let tape = x.tape();
        let context = self.weigh(q, tape.constant(&k_all), tape.constant(&v_all), None, mode)?;
        wo.forward(context, mode)
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.dense
            .iter()
            .flat_map(|d| d.iter().flat_map(|l| l.params()))
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.dense
            .iter_mut()
            .flat_map(|d| d.iter_mut().flat_map(|l| l.params_mut()))
            .collect()
    }

    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for d in self.dense.iter_mut().flatten() {
            d.set_trainable(trainable);
        }
    }

    fn config(&self) -> Value {
        json!({
            "name": self.name,
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "value_dim": self.value_size(),
            "dropout": self.dropout,
            "use_bias": self.use_bias,
            "output_shape": self.output_shape,
            "use_causal_mask": self.use_causal_mask,
        })
    }
}
