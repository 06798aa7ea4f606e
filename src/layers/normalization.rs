//! [`BatchNormalization`]: normalizes each channel (the last axis) with the
//! batch's statistics while training and with moving averages of them at
//! inference, Keras's `BatchNormalization`.

use std::sync::{Mutex, PoisonError};

use rand::rngs::StdRng;
use serde_json::{Map, Value, json};

use super::config::Config;
use super::norm_affine::{AFFINE_KEYS, Affine};
use super::{Layer, Mode, PlannedShapes, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};
use crate::tensor::Tensor;

/// Batch normalization over the last (channel) axis (Keras's
/// `BatchNormalization` with `axis=-1`; PyTorch's `BatchNorm1d`/`BatchNorm2d`
/// on channels-last data).
///
/// `y = γ · (x - μ) / √(σ² + ε) + β` per channel, where in [`Mode::Train`]
/// `μ, σ²` are the batch's mean and biased variance over every other axis,
/// and in [`Mode::Infer`] they are the moving averages. Parameters, in
/// Keras's order: `gamma` and `beta` (trainable, `[channels]`), then
/// `moving_mean` and `moving_variance` (never trainable: no optimizer
/// touches them, and [`set_trainable`](Layer::set_trainable) leaves them
/// frozen; they are saved and loaded like any parameter and counted as
/// non-trainable in `summary`).
///
/// **State updates.** A training forward pass of a trainable layer keeps the
/// batch statistics; [`apply_state_updates`](Layer::apply_state_updates)
/// (called by `fit` after each optimizer step, and by
/// `Sequential::apply_state_updates` in a custom loop) commits them:
/// `moving = moving · momentum + batch · (1 - momentum)`, the batch
/// variance being the biased one, as Keras does. PyTorch updates its
/// `running_var` with the unbiased variance and writes `momentum` the other
/// way round (`0.1` there is `0.9` here); both use the stored variance as is
/// at inference, so imported `running_var` needs no conversion. A frozen
/// layer (`set_trainable(false)`) runs in inference mode even while
/// training, and never updates its statistics (Keras's behaviour since
/// TensorFlow 2.0); `Mode::Infer` never updates them either.
///
/// Defaults (Keras's): `momentum 0.99`, `epsilon 1e-3` (PyTorch's is
/// `1e-5`: set it when importing PyTorch weights), `center` and `scale`
/// true, `beta` zeros, `gamma` ones, moving mean zeros, moving variance
/// ones, name `"batch_normalization"`.
///
/// # Shapes
///
/// Any input of rank >= 2 (`[batch, features]`, `[batch, steps, c]`,
/// `[batch, h, w, c]`); the output has the input's shape.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{BatchNormalization, Layer, Mode};
/// use tapeflow::{GradientTape, Tensor};
///
/// let mut bn = BatchNormalization::<f64>::new().momentum(0.5);
/// bn.build(&[1], &mut StdRng::seed_from_u64(0))?;
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::from_vec(vec![1.0, 3.0], &[2, 1])?);
/// let y = bn.forward(x, Mode::Train)?;           // batch mean 2, variance 1
/// let s = 1.0 / (1.0f64 + 1e-3).sqrt();
/// assert_eq!(y.value().to_vec(), vec![-s, s]);
/// bn.apply_state_updates()?;                     // moving = 0.5 · old + 0.5 · batch
/// assert_eq!(bn.params()[2].value().to_vec(), vec![1.0]);
/// assert_eq!(bn.params()[3].value().to_vec(), vec![1.0]);
/// assert_eq!(bn.param_count(), 4);
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct BatchNormalization<T: Float = f32> {
    name: String,
    momentum: f64,
    /// `epsilon`, `center`, `scale`, `gamma` and `beta`.
    affine: Affine<T>,
    moving_mean: Option<Param<T>>,
    moving_variance: Option<Param<T>>,
    trainable: bool,
    /// Batch statistics of the last training forward pass, not yet committed.
    pending: Mutex<Option<(Tensor<T>, Tensor<T>)>>,
}

impl<T: Float> Default for BatchNormalization<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Float> BatchNormalization<T> {
    /// A layer with Keras's defaults.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// let bn = BatchNormalization::<f32>::new();
    /// assert_eq!(bn.config()["momentum"], 0.99);
    /// assert_eq!(bn.config()["epsilon"], 0.001);
    /// ```
    pub fn new() -> Self {
        BatchNormalization {
            name: "batch_normalization".to_string(),
            momentum: 0.99,
            affine: Affine::new(),
            moving_mean: None,
            moving_variance: None,
            trainable: true,
            pending: Mutex::new(None),
        }
    }

    /// Sets the momentum of the moving averages (default 0.99; in `[0, 1]`,
    /// checked by `build`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// assert_eq!(BatchNormalization::<f32>::new().momentum(0.9).config()["momentum"], 0.9);
    /// ```
    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets ε, added to the variance (default 1e-3; must be finite and > 0).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// assert_eq!(BatchNormalization::<f32>::new().epsilon(1e-5).config()["epsilon"], 1e-5);
    /// ```
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.affine.epsilon = epsilon;
        self
    }

    /// Whether to add the learned offset `beta` (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// let mut bn = BatchNormalization::<f32>::new().center(false);
    /// bn.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(bn.params().len(), 3);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn center(mut self, center: bool) -> Self {
        self.affine.center = center;
        self
    }

    /// Whether to multiply by the learned scale `gamma` (default `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// let mut bn = BatchNormalization::<f32>::new().scale(false);
    /// bn.build(&[3], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(bn.params()[0].name(), "beta");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn scale(mut self, scale: bool) -> Self {
        self.affine.scale = scale;
        self
    }

    /// Names the layer; shadows [`Layer::name`] on this type.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// assert_eq!(Layer::name(&BatchNormalization::<f32>::new().name("bn")), "bn");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The moving mean `[channels]`, once built.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// let mut bn = BatchNormalization::<f32>::new();
    /// bn.build(&[2], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(bn.moving_mean().unwrap().value().to_vec(), vec![0.0, 0.0]);
    /// assert!(!bn.moving_mean().unwrap().trainable());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn moving_mean(&self) -> Option<&Param<T>> {
        self.moving_mean.as_ref()
    }

    /// The moving variance `[channels]`, once built.
    ///
    /// # Examples
    ///
    /// ```
    /// use rand::{SeedableRng, rngs::StdRng};
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// let mut bn = BatchNormalization::<f32>::new();
    /// bn.build(&[2], &mut StdRng::seed_from_u64(0))?;
    /// assert_eq!(bn.moving_variance().unwrap().value().to_vec(), vec![1.0, 1.0]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn moving_variance(&self) -> Option<&Param<T>> {
        self.moving_variance.as_ref()
    }

    /// Rebuilds an (unbuilt) layer from [`Layer::config`]; missing settings
    /// take the defaults.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for an unknown key or a
    /// setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{BatchNormalization, Layer};
    ///
    /// let bn = BatchNormalization::<f32>::from_config(&json!({"momentum": 0.9}))?;
    /// assert_eq!(bn.config()["momentum"], 0.9);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let keys = [
            &["name", "axis", "momentum"][..],
            &AFFINE_KEYS[..],
            &["trainable"][..],
        ]
        .concat();
        let c = Config::new("BatchNormalization", config, &keys)?;
        let mut bn = BatchNormalization::new();
        if let Some(name) = c.string("name")? {
            bn.name = name;
        }
        if let Some(axis) = c.get("axis")
            && axis.as_i64() != Some(-1)
        {
            return Err(c.bad(format!(
                "only axis -1 (channels last) is supported, got {axis}"
            )));
        }
        if let Some(m) = c.f64("momentum")? {
            bn.momentum = m;
        }
        bn.affine.read_config(&c)?;
        if let Some(t) = c.bool("trainable")? {
            bn.trainable = t;
        }
        Ok(bn)
    }

    fn error(&self, message: String) -> Error {
        layer_error("BatchNormalization", &self.name, message)
    }

    fn check_settings(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(self.error(format!("momentum must be in [0, 1], got {}", self.momentum)));
        }
        let epsilon = self.affine.epsilon;
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(self.error(format!("epsilon must be finite and > 0, got {epsilon}")));
        }
        Ok(())
    }

    /// Whether training updates this layer: not frozen, through the flag or
    /// through its trainable parameters (as restored by `load`).
    fn is_trainable(&self) -> bool {
        self.trainable && self.affine.params().all(|p| p.trainable())
    }
}

impl<T: Float> Layer<T> for BatchNormalization<T> {
    fn kind(&self) -> &'static str {
        "BatchNormalization"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// Creates `gamma` (ones), `beta` (zeros), `moving_mean` (zeros) and
    /// `moving_variance` (ones), each `[channels]`.
    ///
    /// # Errors
    ///
    /// For an empty input shape (a batch of scalars has no channel axis), a
    /// momentum outside `[0, 1]` or an epsilon that is not finite and > 0.
    fn build(&mut self, input_shape: &[usize], _rng: &mut StdRng) -> Result<Vec<usize>> {
        self.check_settings()?;
        let Some(&c) = input_shape.last() else {
            return Err(self.error(
                "needs an input shape of at least 1 dimension (batch excluded), got []".to_string(),
            ));
        };
        self.affine.build(c);
        let full = |v: f64| Tensor::from_parts(vec![T::from_f64(v); c], vec![c]);
        let mut mean = Param::new("moving_mean", full(0.0));
        let mut var = Param::new("moving_variance", full(1.0));
        mean.set_trainable(false);
        var.set_trainable(false);
        self.moving_mean = Some(mean);
        self.moving_variance = Some(var);
        self.set_trainable(self.trainable);
        Ok(input_shape.to_vec())
    }

    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        let &c = input_shape.last()?;
        let mut params = self.affine.planned_shapes(c);
        params.push(("moving_mean".to_string(), vec![c]));
        params.push(("moving_variance".to_string(), vec![c]));
        Some((params, input_shape.to_vec()))
    }

    /// Normalizes with the batch statistics (and keeps them for
    /// [`apply_state_updates`](Layer::apply_state_updates)) in
    /// [`Mode::Train`] when trainable, else with the moving statistics.
    ///
    /// # Errors
    ///
    /// Before `build`; if `x`'s last axis is not the built channel count:
    /// `batch_normalization (BatchNormalization): expected input [_, …, 3], got [2, 4]`.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        let (Some(mean), Some(var)) = (&self.moving_mean, &self.moving_variance) else {
            return Err(self.error("forward before build".to_string()));
        };
        self.check_settings()?;
        let c = mean.value().len();
        let shape = x.shape();
        if shape.len() < 2 || shape[shape.len() - 1] != c {
            return Err(self.error(format!("expected input [_, …, {c}], got {shape:?}")));
        }
        let tape = x.tape();
        let gamma = match &self.affine.gamma {
            Some(p) => tape.param(p),
            None => tape.constant(&Tensor::from_parts(vec![T::one(); c], vec![c])),
        };
        let beta = match &self.affine.beta {
            Some(p) => tape.param(p),
            None => tape.constant(&Tensor::from_parts(vec![T::zero(); c], vec![c])),
        };
        if mode == Mode::Train && self.is_trainable() {
            let (y, batch_mean, batch_var) = x
                .batch_norm_training(&gamma, &beta, self.affine.epsilon)
                .map_err(|e| self.error(e.to_string()))?;
            *self.pending.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((batch_mean, batch_var));
            Ok(y)
        } else {
            x.batch_norm_inference(
                &gamma,
                &beta,
                mean.value(),
                var.value(),
                self.affine.epsilon,
            )
            .map_err(|e| self.error(e.to_string()))
        }
    }

    fn params(&self) -> Vec<&Param<T>> {
        self.affine
            .params()
            .chain(&self.moving_mean)
            .chain(&self.moving_variance)
            .collect()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        self.affine
            .params_mut()
            .chain(&mut self.moving_mean)
            .chain(&mut self.moving_variance)
            .collect()
    }

    fn config(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".to_string(), json!(self.name));
        map.insert("axis".to_string(), json!(-1));
        map.insert("momentum".to_string(), json!(self.momentum));
        self.affine.write_config(&mut map);
        map.insert("trainable".to_string(), json!(self.trainable));
        Value::Object(map)
    }

    /// Freezes or unfreezes `gamma` and `beta` (also before `build`); the
    /// moving statistics stay non-trainable either way. A frozen layer
    /// normalizes with its moving statistics and does not update them.
    fn set_trainable(&mut self, trainable: bool) {
        self.trainable = trainable;
        for p in self.affine.params_mut() {
            p.set_trainable(trainable);
        }
        if !trainable {
            *self
                .pending
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    /// Commits the batch statistics of the last training forward pass into
    /// the moving averages (`moving · momentum + batch · (1 - momentum)`),
    /// then forgets them; does nothing if there are none.
    ///
    /// # Errors
    ///
    /// If a batch statistic is NaN or infinite (the moving averages are
    /// left unchanged).
    fn apply_state_updates(&mut self) -> Result<()> {
        let pending = self
            .pending
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (Some((batch_mean, batch_var)), Some(mean), Some(var)) = (
            pending,
            self.moving_mean.as_ref(),
            self.moving_variance.as_ref(),
        ) else {
            return Ok(());
        };
        if !(batch_mean.all_finite() && batch_var.all_finite()) {
            return Err(self.error(
                "the batch statistics are not finite; the moving statistics are unchanged"
                    .to_string(),
            ));
        }
        if batch_mean.shape() != mean.value().shape() || batch_var.shape() != var.value().shape() {
            return Err(self.error(format!(
                "batch statistics {:?} do not match the moving statistics {:?}",
                batch_mean.shape(),
                mean.value().shape()
            )));
        }
        let m = T::from_f64(self.momentum);
        let blend = |old: &Tensor<T>, new: &Tensor<T>| {
            let data = old
                .as_slice()
                .iter()
                .zip(new.as_slice())
                .map(|(&o, &n)| o * m + n * (T::one() - m))
                .collect();
            Tensor::from_parts(data, old.shape().to_vec())
        };
        let (new_mean, new_var) = (
            blend(mean.value(), &batch_mean),
            blend(var.value(), &batch_var),
        );
        let mean = self.moving_mean.as_mut().expect("invariant: checked above");
        mean.set_value(new_mean)?;
        let var = self
            .moving_variance
            .as_mut()
            .expect("invariant: checked above");
        var.set_value(new_var)
    }
}
