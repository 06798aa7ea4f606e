//! [`Dropout`]: inverted dropout, active only while training.

use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, StandardUniform};
use serde_json::{Value, json};

use super::config::Config;
use super::{Layer, Mode, PlannedShapes, layer_error};
use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Param, Var};
use crate::tensor::Tensor;

/// Inverted dropout (Keras's `Dropout`, PyTorch's `nn.Dropout`): in
/// [`Mode::Train`] each element is zeroed with probability `rate` and the
/// kept ones are scaled by `1 / (1 - rate)`, so the expected output is the
/// input; in [`Mode::Infer`] it is the identity.
///
/// The mask is drawn from the layer's own RNG (kept in a `Mutex` so that
/// `forward(&self)` can draw): with [`seed`](Dropout::seed) it starts from
/// that seed (and restarts from it on each [`build`](Layer::build)), else
/// `build` seeds it from the model's RNG. Either way the same seed gives the
/// same sequence of masks. On the tape the mask is a constant: the gradient
/// is the upstream gradient times the mask.
///
/// `rate` must be in `[0, 1)`; it is checked by `build` and by `forward`
/// (construction cannot fail, so that the builder chains). Keras also
/// accepts `rate = 1` (all zeros); tapeflow does not, as `1 / (1 - rate)`
/// is infinite. Default name `"dropout"`. Like [`Dense::name`](super::Dense::name),
/// the builder [`name`](Dropout::name) shadows [`Layer::name`].
///
/// # Shapes
///
/// Any shape; the output has the input's shape.
///
/// # Examples
///
/// ```
/// use tapeflow::layers::{Dropout, Layer, Mode};
/// use tapeflow::{GradientTape, Tensor};
///
/// let dropout = Dropout::new(0.5).seed(42);
/// let tape = GradientTape::new();
/// let x = tape.constant(&Tensor::<f32>::ones(&[1, 1000])?);
/// assert_eq!(dropout.forward(x, Mode::Infer)?.value(), x.value());
/// let y = dropout.forward(x, Mode::Train)?.value();
/// assert!(y.as_slice().iter().all(|&v| v == 0.0 || v == 2.0));
/// let kept = y.as_slice().iter().filter(|&&v| v != 0.0).count();
/// assert!((400..600).contains(&kept));
/// # Ok::<(), tapeflow::Error>(())
/// ```
#[derive(Debug)]
pub struct Dropout<T: Float = f32> {
    name: String,
    rate: f64,
    seed: Option<u64>,
    rng: Mutex<Option<StdRng>>,
    _element: PhantomData<fn() -> T>,
}

impl<T: Float> Dropout<T> {
    /// Dropout that zeroes a fraction `rate` of the inputs while training.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Dropout;
    ///
    /// assert_eq!(Dropout::<f32>::new(0.2).rate(), 0.2);
    /// ```
    pub fn new(rate: f64) -> Self {
        Dropout {
            name: "dropout".to_string(),
            rate,
            seed: None,
            rng: Mutex::new(None),
            _element: PhantomData,
        }
    }

    /// Seeds the mask RNG: the same seed gives the same sequence of masks,
    /// whatever RNG the layer is built with.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Dropout, Layer, Mode};
    /// use tapeflow::{GradientTape, Tensor};
    ///
    /// let (a, b) = (Dropout::new(0.5).seed(7), Dropout::new(0.5).seed(7));
    /// let tape = GradientTape::new();
    /// let x = tape.constant(&Tensor::<f64>::ones(&[4, 8])?);
    /// assert_eq!(a.forward(x, Mode::Train)?.value(), b.forward(x, Mode::Train)?.value());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self.rng = Mutex::new(Some(StdRng::seed_from_u64(seed)));
        self
    }

    /// Names the layer (default `"dropout"`); shadows [`Layer::name`] on a
    /// `Dropout` value.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::{Dropout, Layer};
    ///
    /// assert_eq!(Layer::name(&Dropout::<f32>::new(0.1).name("drop")), "drop");
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The fraction of inputs zeroed while training.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::layers::Dropout;
    ///
    /// assert_eq!(Dropout::<f64>::new(0.3).rate(), 0.3);
    /// ```
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Rebuilds a layer from [`Layer::config`]: `rate` is required, `name`
    /// and `seed` (`null` for none) are optional.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `from_config`) for a missing `rate`, an
    /// unknown key or a setting of the wrong type.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::layers::{Dropout, Layer};
    ///
    /// let d = Dropout::<f32>::from_config(&json!({"rate": 0.25, "seed": 3}))?;
    /// assert_eq!(d.config(), json!({"name": "dropout", "rate": 0.25, "seed": 3}));
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    pub fn from_config(config: &Value) -> Result<Self> {
        let c = Config::new("Dropout", config, &["name", "rate", "seed"])?;
        let mut d = Dropout::new(c.required("rate", c.f64("rate")?)?);
        if let Some(name) = c.string("name")? {
            d.name = name;
        }
        if let Some(seed) = c.u64("seed")? {
            d = d.seed(seed);
        }
        Ok(d)
    }

    fn error(&self, message: String) -> Error {
        layer_error("Dropout", &self.name, message)
    }

    fn check_rate(&self) -> Result<()> {
        if (0.0..1.0).contains(&self.rate) {
            Ok(())
        } else {
            Err(self.error(format!("rate must be in [0, 1), got {}", self.rate)))
        }
    }
}

impl<T: Float> Layer<T> for Dropout<T> {
    fn planned_shapes(&self, input_shape: &[usize]) -> Option<PlannedShapes> {
        Some((Vec::new(), input_shape.to_vec()))
    }

    fn kind(&self) -> &'static str {
        "Dropout"
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn set_name(&mut self, name: &str) {
        self.name = name.to_string();
    }

    /// Checks the rate and (re)starts the mask RNG: from the seed if one was
    /// set, else from one `u64` drawn from `rng`.
    ///
    /// # Errors
    ///
    /// If `rate` is not in `[0, 1)`.
    fn build(&mut self, input_shape: &[usize], rng: &mut StdRng) -> Result<Vec<usize>> {
        self.check_rate()?;
        let seed = match self.seed {
            Some(seed) => seed,
            None => StandardUniform.sample(rng),
        };
        *self.rng.get_mut().unwrap_or_else(PoisonError::into_inner) =
            Some(StdRng::seed_from_u64(seed));
        Ok(input_shape.to_vec())
    }

    /// # Errors
    ///
    /// If `rate` is not in `[0, 1)`; in [`Mode::Train`] with `rate > 0`, if
    /// the layer has neither a seed nor been built.
    fn forward<'t>(&self, x: Var<'t, T>, mode: Mode) -> Result<Var<'t, T>> {
        self.check_rate()?;
        if mode == Mode::Infer || self.rate == 0.0 {
            return Ok(x);
        }
        let mut guard = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(rng) = guard.as_mut() else {
            return Err(self.error(
                "forward in Train mode before build (build the layer or give it a seed)"
                    .to_string(),
            ));
        };
        let shape = x.shape();
        let scale = T::from_f64(1.0 / (1.0 - self.rate));
        let mask: Vec<T> = (0..shape.iter().product::<usize>())
            .map(|_| {
                let u: f64 = StandardUniform.sample(rng);
                if u >= self.rate { scale } else { T::zero() }
            })
            .collect();
        drop(guard);
        let mask = Tensor::from_vec(mask, &shape)?;
        x.mul(&x.tape().constant(&mask))
    }

    fn params(&self) -> Vec<&Param<T>> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<&mut Param<T>> {
        Vec::new()
    }

    fn config(&self) -> Value {
        json!({ "name": self.name, "rate": self.rate, "seed": self.seed })
    }
}
