//! Optimizers: the [`Optimizer`] trait, the built-in optimizers ([`Sgd`],
//! [`Adam`], [`AdamW`], [`Nadam`], [`RmsProp`], [`Adagrad`], [`Adadelta`],
//! [`Lion`]), gradient clipping and learning-rate schedules.
//!
//! An optimizer takes [`Gradients`] from a tape and updates [`Param`]s in
//! place. It knows nothing of layers or models: it sees a slice of
//! parameters and looks each one's gradient up by [`ParamId`](crate::ParamId).
//!
//! Conventions, shared by every optimizer:
//!
//! - **Defaults** are Keras's (e.g. `epsilon = 1e-7`); **update formulas** are
//!   PyTorch's documented ones (Lion: the paper's), written in each
//!   optimizer's docs. Weight decay is PyTorch's: L2 added to the gradient
//!   (`Sgd`, `Adam`), decoupled (`AdamW`, `Lion`).
//! - **Step count.** One per [`apply_gradients`](Optimizer::apply_gradients)
//!   call, shared by all parameters (as in Keras; PyTorch counts per
//!   parameter, which is the same when every parameter gets a gradient every
//!   step). Bias corrections use `t = iterations + 1`; a schedule is
//!   evaluated at `iterations` (0 on the first step).
//! - **Skipped parameters.** Frozen ones (`!trainable()`) and those without a
//!   gradient in `grads` are left alone and their state does not change.
//! - **Clipping** (`clip_norm`, `clip_value`, `global_clip_norm` builders, as
//!   Keras's `clipnorm`, `clipvalue`, `global_clipnorm`) is applied to the
//!   gradients before the update; at most one kind may be set. `clip_norm`
//!   scales each tensor `g` to `g · c / max(‖g‖₂, c)`; `global_clip_norm`
//!   scales all gradients applied in the step by one factor `c / max(n, c)`,
//!   `n` their joint L2 norm; `clip_value` clamps elements to `[-c, c]`.
//! - **Validation.** Builders never fail; the settings are checked by every
//!   `apply_gradients` call (and by [`from_config`]), when the element type
//!   is known: each setting in `f64` and again after conversion to the
//!   element type (`Sgd::new(1e39)` is infinite in `f32`; an `epsilon` of 0,
//!   or one that rounds to 0, would make a zero gradient element `0 / 0`).
//!   A schedule's learning rate is checked at every step (an
//!   `ExponentialDecay` with a rate above 1 reaches infinity eventually).
//!   Errors are [`Error::InvalidArgument`] naming the optimizer, the setting,
//!   the valid range and the value, before anything is touched.
//! - **All or nothing.** `apply_gradients` refuses a non-finite gradient
//!   (naming the parameter) and computes every new parameter value and
//!   optimizer state before committing any: if one would be non-finite (a
//!   huge learning rate overflowing a finite gradient), it returns an error
//!   naming the first such parameter, and the parameters, the state and
//!   the step count are exactly as before the call
//!   ([`Optimizer::refused_param`] says which parameter). This costs no
//!   copy: each update is one fused pass over the parameter's slices, run
//!   twice, first to check every value it would write (storing none), then,
//!   once all passed, to write them in place.
//! - **In place.** The update writes into the parameter's own storage, so a
//!   step allocates and copies nothing. Tensors share storage, though, and
//!   copy it before a write while another handle holds it (copy on write):
//!   a [`GradientTape`](crate::GradientTape) that is still alive holds every
//!   parameter put on it, so a step taken then copies each parameter once.
//!   Let the tape go (end its scope, or `drop` it) before
//!   `apply_gradients`, as `Sequential::fit` does; the gradients do not
//!   borrow it. The example below does so.
//! - **Speed and bits.** The fused passes run in blocks that the compiler
//!   vectorizes, dispatched at run time to AVX2 or AVX-512 where the CPU
//!   has them. Every lane does the scalar formula's operations in the same
//!   order (no fused multiply-add), so the results are bit for bit the same
//!   whatever the instruction set, and the same for a seed whatever the
//!   thread count (an update runs on one thread).
//! - **Saving.** [`Optimizer::state`] keys each state tensor by slot name and
//!   the parameter's *position* in the `params` slice of the last step
//!   (`"velocity/3"`), since [`ParamId`](crate::ParamId)s do not survive the
//!   process; pass parameters in the same order after loading.
//!
//! # Examples
//!
//! ```
//! use tapeflow::optimizers::{Optimizer, Sgd};
//! use tapeflow::{GradientTape, Param, Tensor};
//!
//! // Minimise (w - 3)² by gradient descent.
//! let mut w = Param::new("w", Tensor::scalar(0.0f64));
//! let mut opt = Sgd::new(0.1).momentum(0.5);
//! for _ in 0..100 {
//!     let grads = {
//!         let tape = GradientTape::new();
//!         let loss = tape.param(&w).sub_scalar(3.0).square().sum();
//!         tape.gradient(&loss, [&w])?
//!     }; // the tape, and its handle on w, end here
//!     let storage = w.value().as_slice().as_ptr();
//!     opt.apply_gradients(&grads, &mut [&mut w])?;
//!     assert_eq!(w.value().as_slice().as_ptr(), storage); // updated in place
//! }
//! assert!((w.value().item()? - 3.0).abs() < 1e-6);
//! assert_eq!(opt.iterations(), 100);
//! # Ok::<(), tapeflow::Error>(())
//! ```

/// Defines an optimizer struct around a [`core::Rule`]: the struct, `new`,
/// `Default`, the clipping builders and the [`Optimizer`] impl.
macro_rules! optimizer {
    ($(#[$doc:meta])* $name:ident, $rule:ident, $init:expr, $default_lr:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name<T: $crate::element::Float = f32> {
            rule: $rule,
            core: $crate::optimizers::core::Core<T>,
        }

        impl<T: $crate::element::Float> $name<T> {
            #[doc = concat!("A `", stringify!($name), "` with this learning rate (a number or a")]
            /// [`LearningRateSchedule`](crate::optimizers::LearningRateSchedule))
            /// and the default hyperparameters.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f64>::new(0.5);")]
            /// assert_eq!(opt.learning_rate(), 0.5);
            /// ```
            pub fn new(learning_rate: impl Into<$crate::optimizers::LearningRate>) -> Self {
                $name {
                    rule: $init,
                    core: $crate::optimizers::core::Core::new(learning_rate.into()),
                }
            }

            /// Clips each gradient tensor to an L2 norm of at most `c`
            /// (Keras's `clipnorm`; see the [module docs](crate::optimizers)).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.1).clip_norm(1.0);")]
            /// assert_eq!(opt.config()["clip_norm"], 1.0);
            /// ```
            pub fn clip_norm(mut self, c: f64) -> Self {
                self.core.clipping.clip_norm = Some(c);
                self
            }

            /// Clamps every gradient element to `[-c, c]` (Keras's `clipvalue`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.1).clip_value(0.5);")]
            /// assert_eq!(opt.config()["clip_value"], 0.5);
            /// ```
            pub fn clip_value(mut self, c: f64) -> Self {
                self.core.clipping.clip_value = Some(c);
                self
            }

            /// Scales all gradients of a step by one factor so that their
            /// joint L2 norm is at most `c` (Keras's `global_clipnorm`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("use tapeflow::optimizers::{Optimizer, ", stringify!($name), "};")]
            ///
            #[doc = concat!("let opt = ", stringify!($name), "::<f32>::new(0.1).global_clip_norm(5.0);")]
            /// assert_eq!(opt.config()["global_clip_norm"], 5.0);
            /// ```
            pub fn global_clip_norm(mut self, c: f64) -> Self {
                self.core.clipping.global_clip_norm = Some(c);
                self
            }

            /// Runs the update passes on `isa` (tests compare them).
            #[cfg(test)]
            pub(crate) fn isa(mut self, isa: $crate::optimizers::kernels::Isa) -> Self {
                self.core.isa = isa;
                self
            }

            /// Builds from a config map (absent keys keep their defaults).
            pub(crate) fn from_map(
                map: &serde_json::Map<String, serde_json::Value>,
            ) -> $crate::error::Result<Self> {
                let mut opt = Self::default();
                $crate::optimizers::core::Rule::read_config(&mut opt.rule, map)?;
                let op = $crate::optimizers::core::Rule::name(&opt.rule);
                opt.core.read_config(op, map)?;
                $crate::optimizers::core::Rule::validate::<T>(&opt.rule)?;
                opt.core.learning_rate.validate()?;
                opt.core.learning_rate.checked_at::<T>(op, 0)?;
                opt.core.clipping.validate::<T>(op)?;
                Ok(opt)
            }
        }

        impl<T: $crate::element::Float> Default for $name<T> {
            fn default() -> Self {
                Self::new($default_lr)
            }
        }

        impl<T: $crate::element::Float> $crate::optimizers::Optimizer<T> for $name<T> {
            fn apply_gradients(
                &mut self,
                grads: &$crate::tape::Gradients<T>,
                params: &mut [&mut $crate::tape::Param<T>],
            ) -> $crate::error::Result<()> {
                self.core.apply(&mut self.rule, grads, params)
            }
            fn learning_rate(&self) -> f64 {
                self.core.learning_rate.at(self.core.iterations)
            }
            fn set_learning_rate(&mut self, learning_rate: f64) {
                self.core.learning_rate = $crate::optimizers::LearningRate::Constant(learning_rate);
            }
            fn iterations(&self) -> u64 {
                self.core.iterations
            }
            fn name(&self) -> &'static str {
                $crate::optimizers::core::Rule::name(&self.rule)
            }
            fn config(&self) -> serde_json::Value {
                self.core.config(&self.rule)
            }
            fn state(&self) -> Vec<(String, $crate::tensor::Tensor<T>)> {
                self.core.state(&self.rule)
            }
            fn load_state(
                &mut self,
                state: &[(String, $crate::tensor::Tensor<T>)],
            ) -> $crate::error::Result<()> {
                self.core.load_state(&self.rule, state)
            }
            fn all_or_nothing(&self) -> bool {
                true
            }
            fn refused_param(&self) -> Option<(usize, String)> {
                self.core.refusal.clone()
            }
        }
    };
}

mod adadelta;
mod adagrad;
mod adam;
mod clipping;
mod core;
mod json;
mod kernels;
mod learning_rate;
mod lion;
mod nadam;
mod rmsprop;
mod schedules;
mod sgd;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use learning_rate::LearningRate;
pub use lion::Lion;
pub use nadam::Nadam;
pub use rmsprop::RmsProp;
pub use schedules::LearningRateSchedule;
pub use sgd::Sgd;

use serde_json::Value;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tape::{Gradients, Param};
use crate::tensor::Tensor;

/// Something that updates parameters from their gradients.
///
/// Dyn-compatible: models keep a `Box<dyn Optimizer<T>>`. See the
/// [module docs](self) for the conventions every built-in optimizer follows.
///
/// # Examples
///
/// ```
/// use tapeflow::optimizers::{Adam, Optimizer, Sgd};
/// use tapeflow::{Gradients, Param, Tensor};
///
/// let mut w = Param::new("w", Tensor::from_vec(vec![1.0f64, 2.0], &[2])?);
/// let mut grads = Gradients::default();
/// grads.insert_param(w.id(), Tensor::from_vec(vec![1.0, -1.0], &[2])?);
/// let mut opts: Vec<Box<dyn Optimizer<f64>>> = vec![Box::new(Sgd::new(0.5)), Box::new(Adam::new(0.5))];
/// for opt in &mut opts {
///     opt.apply_gradients(&grads, &mut [&mut w])?;
/// }
/// // SGD moves by 0.5·g; Adam's first step moves by lr·sign(g) (nearly).
/// assert!((w.value().to_vec()[0] - 0.0).abs() < 1e-6);
/// assert!((w.value().to_vec()[1] - 3.0).abs() < 1e-6);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub trait Optimizer<T: Float = f32>: std::fmt::Debug + Send {
    /// Updates every trainable parameter of `params` that has a gradient in
    /// `grads`, then advances the step count by one.
    ///
    /// Frozen parameters and parameters without a gradient are skipped.
    /// The order of `params` is what [`state`](Self::state) keys saved
    /// state by: keep it stable (e.g. a model's `params_mut()`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op = the optimizer's [`name`](Self::name))
    /// if a hyperparameter, the learning rate or the clipping is invalid, if
    /// a gradient's shape differs from its parameter's (the message names the
    /// parameter and both shapes), or if state loaded by
    /// [`load_state`](Self::load_state) does not fit `params`. On error
    /// nothing is updated and the step count does not advance.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::from_vec(vec![1.0f64, 2.0], &[2])?);
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::from_vec(vec![1.0, 1.0, 1.0], &[3])?);
    /// let err = Sgd::new(0.1).apply_gradients(&grads, &mut [&mut w]).unwrap_err();
    /// assert_eq!(err.to_string(), "sgd: gradient shape [3] does not match param \"w\" shape [2]");
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn apply_gradients(&mut self, grads: &Gradients<T>, params: &mut [&mut Param<T>])
    -> Result<()>;

    /// The learning rate the next step will use (a schedule evaluated at
    /// [`iterations`](Self::iterations)).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adam, Optimizer};
    ///
    /// assert_eq!(Adam::<f32>::default().learning_rate(), 0.001);
    /// ```
    fn learning_rate(&self) -> f64;

    /// Sets a constant learning rate (for `ReduceLrOnPlateau`). If the
    /// optimizer had a schedule, the schedule is dropped and replaced by this
    /// constant. The value is checked at the next step.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{LearningRateSchedule, Optimizer, Sgd};
    ///
    /// let mut opt = Sgd::<f32>::new(LearningRateSchedule::cosine_decay(1.0, 10));
    /// opt.set_learning_rate(0.5);
    /// assert_eq!(opt.learning_rate(), 0.5);
    /// assert_eq!(opt.config()["learning_rate"], 0.5);
    /// ```
    fn set_learning_rate(&mut self, learning_rate: f64);

    /// The number of steps made (successful `apply_gradients` calls, plus
    /// any count restored by [`load_state`](Self::load_state)).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    /// use tapeflow::Gradients;
    ///
    /// let mut opt = Sgd::<f32>::new(0.1);
    /// opt.apply_gradients(&Gradients::default(), &mut [])?;
    /// assert_eq!(opt.iterations(), 1);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn iterations(&self) -> u64;

    /// The optimizer's name, lower-case as Keras's default names: `"sgd"`,
    /// `"adam"`, `"adamw"`, `"nadam"`, `"rmsprop"`, `"adagrad"`,
    /// `"adadelta"`, `"lion"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, RmsProp};
    ///
    /// assert_eq!(RmsProp::<f32>::default().name(), "rmsprop");
    /// ```
    fn name(&self) -> &'static str;

    /// Every setting as JSON: `name`, `learning_rate` (a number or a
    /// schedule's config), the hyperparameters and the three clipping keys
    /// (`null` when unset). [`from_config`] rebuilds the optimizer from it.
    ///
    /// # Examples
    ///
    /// ```
    /// use serde_json::json;
    /// use tapeflow::optimizers::{Adam, Optimizer};
    ///
    /// let c = Adam::<f32>::new(0.01).amsgrad(true).config();
    /// assert_eq!(c["name"], json!("adam"));
    /// assert_eq!(c["amsgrad"], json!(true));
    /// assert_eq!(c["epsilon"], json!(1e-7));
    /// ```
    fn config(&self) -> Value;

    /// The optimizer's state for saving: `"iterations"` (a `[2]` tensor
    /// `[n mod 2^24, n div 2^24]`, exact in `f32`) and, for every parameter
    /// with state, one tensor per slot keyed `"slot/position"`, `position`
    /// being the parameter's index in the `params` slice of the last step
    /// (e.g. `"momentum/0"`, `"velocity/3"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adam, Optimizer};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut w = Param::new("w", Tensor::<f32>::zeros(&[2])?);
    /// let mut grads = Gradients::default();
    /// grads.insert_param(w.id(), Tensor::ones(&[2])?);
    /// let mut opt = Adam::new(0.1);
    /// opt.apply_gradients(&grads, &mut [&mut w])?;
    /// let keys: Vec<String> = opt.state().into_iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["iterations", "momentum/0", "velocity/0"]);
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn state(&self) -> Vec<(String, Tensor<T>)>;

    /// Replaces the optimizer's state by one saved with [`state`](Self::state)
    /// (from an optimizer of the same kind and settings). The step count is
    /// restored at once; the per-parameter tensors are matched to parameters
    /// by position at the next [`apply_gradients`](Self::apply_gradients),
    /// which fails if a position is out of range or a shape differs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] (op `load_state`) for a key this optimizer
    /// does not keep, a missing `iterations`, a parameter lacking one of its
    /// slots, or slots of one parameter with different shapes.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    /// use tapeflow::Tensor;
    ///
    /// let mut opt = Sgd::<f32>::new(0.1).momentum(0.9);
    /// opt.load_state(&[
    ///     ("iterations".into(), Tensor::from_vec(vec![7.0, 0.0], &[2])?),
    ///     ("momentum/0".into(), Tensor::zeros(&[3])?),
    /// ])?;
    /// assert_eq!(opt.iterations(), 7);
    /// assert!(opt.load_state(&[("velocity/0".into(), Tensor::zeros(&[3])?)]).is_err());
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn load_state(&mut self, state: &[(String, Tensor<T>)]) -> Result<()>;

    /// Whether this optimizer keeps the all-or-nothing promise of the
    /// [module docs](self): a step that would commit a non-finite parameter
    /// or state value is refused and changes nothing, and
    /// [`refused_param`](Self::refused_param) then names the parameter.
    /// `Sequential::fit` relies on it instead of keeping its own copy of
    /// the weights and the state to roll a step back. Every built-in
    /// optimizer returns `true`; the default is `false`, for optimizers
    /// written outside the crate, which `fit` checks after each step and
    /// rolls back itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Adam, Optimizer};
    ///
    /// assert!(Adam::<f32>::default().all_or_nothing());
    /// ```
    fn all_or_nothing(&self) -> bool {
        false
    }

    /// After an [`apply_gradients`](Self::apply_gradients) refused because
    /// a gradient, or a value the update would write, is not finite: the
    /// position in `params` of the (first) parameter at fault and what was
    /// not finite, e.g. `"its gradient holds inf at index 3"`. `None` after
    /// a step that succeeded or failed for another reason, and always for
    /// an optimizer that is not [`all_or_nothing`](Self::all_or_nothing)
    /// (the default).
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::optimizers::{Optimizer, Sgd};
    /// use tapeflow::{Gradients, Param, Tensor};
    ///
    /// let mut a = Param::new("a", Tensor::from_vec(vec![1.0f32], &[1])?);
    /// let mut b = Param::new("b", Tensor::from_vec(vec![1.0f32, 2.0], &[2])?);
    /// let mut grads = Gradients::default();
    /// grads.insert_param(a.id(), Tensor::from_vec(vec![1.0], &[1])?);
    /// grads.insert_param(b.id(), Tensor::from_vec(vec![0.0, f32::NAN], &[2])?);
    /// let mut opt = Sgd::new(0.1);
    /// assert!(opt.apply_gradients(&grads, &mut [&mut a, &mut b]).is_err());
    /// assert_eq!(opt.refused_param(), Some((1, "its gradient holds NaN at index 1".to_string())));
    /// assert_eq!(a.value().to_vec(), vec![1.0]);   // nothing was updated
    /// # Ok::<(), tapeflow::Error>(())
    /// ```
    fn refused_param(&self) -> Option<(usize, String)> {
        None
    }
}

/// Builds an optimizer from its name and its [`Optimizer::config`].
///
/// `name` is matched without regard to case (`"SGD"`, `"Adam"`, `"RMSprop"`
/// and `"rmsprop"` all work). Keys absent from `config` take their defaults;
/// the settings are validated.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `from_config`, or the optimizer's name for
/// an invalid setting) for an unknown name, a config that is not an object,
/// a key the optimizer does not have, or a mistyped or invalid value.
///
/// # Examples
///
/// ```
/// use serde_json::json;
/// use tapeflow::optimizers::{self, Optimizer, Sgd};
///
/// let sgd = Sgd::<f32>::new(0.1).momentum(0.9).nesterov(true);
/// let again = optimizers::from_config::<f32>("sgd", &sgd.config())?;
/// assert_eq!(again.config(), sgd.config());
/// let adam = optimizers::from_config::<f32>("Adam", &json!({ "beta_1": 0.8 }))?;
/// assert_eq!(adam.config()["beta_1"], json!(0.8));
/// assert!(optimizers::from_config::<f32>("adam", &json!({ "beta1": 0.8 })).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn from_config<T: Float>(name: &str, config: &Value) -> Result<Box<dyn Optimizer<T>>> {
    let op = "from_config";
    let map = json::object(op, config)?;
    let opt: Box<dyn Optimizer<T>> = match name.to_ascii_lowercase().as_str() {
        "sgd" => Box::new(Sgd::from_map(map)?),
        "adam" => Box::new(Adam::from_map(map)?),
        "adamw" => Box::new(AdamW::from_map(map)?),
        "nadam" => Box::new(Nadam::from_map(map)?),
        "rmsprop" => Box::new(RmsProp::from_map(map)?),
        "adagrad" => Box::new(Adagrad::from_map(map)?),
        "adadelta" => Box::new(Adadelta::from_map(map)?),
        "lion" => Box::new(Lion::from_map(map)?),
        _ => {
            return Err(Error::InvalidArgument {
                op,
                message: format!("unknown optimizer '{name}'"),
            });
        }
    };
    let known = opt.config();
    if let Some(key) = map.keys().find(|k| known.get(k.as_str()).is_none()) {
        return Err(Error::InvalidArgument {
            op,
            message: format!("{} has no setting '{key}'", opt.name()),
        });
    }
    if let Some(name_in_config) = map.get("name").and_then(Value::as_str)
        && !name_in_config.eq_ignore_ascii_case(opt.name())
    {
        return Err(Error::InvalidArgument {
            op,
            message: format!("config is for '{name_in_config}', not '{}'", opt.name()),
        });
    }
    Ok(opt)
}
