//! Callbacks: hooks into [`Sequential::fit`](crate::Sequential::fit)'s loop
//! (the [`Callback`] trait) and the built-in callbacks.
//!
//! A callback sees the training loop through [`TrainingContext`], which the
//! loop implements: it can stop training, read and set the learning rate,
//! and read and set the model's weights. It never sees the model type
//! itself, so this module does not depend on [`models`](crate::models).
//!
//! Built-in callbacks, with Keras's names and defaults:
//!
//! | callback | what it does |
//! |---|---|
//! | [`EarlyStopping`] | stops when a monitored value stops improving; can restore the best weights |
//! | [`ReduceLrOnPlateau`] | lowers the learning rate when a monitored value stops improving |
//! | [`LearningRateScheduler`] | sets the learning rate from a function of the epoch at each epoch's start |
//! | [`CsvLogger`] | writes each epoch's logs as a CSV row |
//! | [`TerminateOnNan`] | stops when a batch loss is NaN or infinite |
//! | [`LambdaCallback`] | runs closures at each hook |
//! | [`ModelCheckpoint`] | saves the model every epoch, or when a monitored value improves |
//!
//! A callback that watches a value in the logs ([`EarlyStopping`],
//! [`ReduceLrOnPlateau`]) returns an error naming the value and the names
//! available when the value is missing, where Keras only warns: a misspelt
//! monitor would otherwise silently do nothing.

// The mock training loop (`Ctx`) hidden in the callbacks' doc examples;
// each callback's file adds the runner that drives its callback through it.
// Defined before the submodules so that they can use it.
macro_rules! doc_mock_ctx {
    () => {
        concat!(
            "# use tapeflow::{Result, Tensor};\n",
            "# use tapeflow::callbacks::{Callback, Logs, TrainingContext};\n",
            "# #[derive(Default)]\n",
            "# struct Ctx { stop: bool, lr: f64, weights: Vec<Tensor> }\n",
            "# impl TrainingContext for Ctx {\n",
            "#     fn stop_training(&mut self) { self.stop = true }\n",
            "#     fn should_stop(&self) -> bool { self.stop }\n",
            "#     fn learning_rate(&self) -> f64 { self.lr }\n",
            "#     fn set_learning_rate(&mut self, lr: f64) -> Result<()> { self.lr = lr; Ok(()) }\n",
            "#     fn get_weights(&self) -> Vec<Tensor> { self.weights.clone() }\n",
            "#     fn set_weights(&mut self, w: Vec<Tensor>) -> Result<()> { self.weights = w; Ok(()) }\n",
            "#     fn save(&self, _: &std::path::Path) -> Result<()> { Ok(()) }\n",
            "# }\n",
        )
    };
}

mod csv_logger;
mod early_stopping;
mod lambda;
mod model_checkpoint;
mod reduce_lr;
mod scheduler;
mod terminate_on_nan;

pub use csv_logger::CsvLogger;
pub use early_stopping::EarlyStopping;
pub use lambda::LambdaCallback;
pub use model_checkpoint::ModelCheckpoint;
pub use reduce_lr::ReduceLrOnPlateau;
pub use scheduler::LearningRateScheduler;
pub use terminate_on_nan::TerminateOnNan;

use crate::element::Float;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Whether a monitored value should go down ([`Min`](MonitorMode::Min)) or
/// up ([`Max`](MonitorMode::Max)); [`Auto`](MonitorMode::Auto) decides from
/// its name.
///
/// `Auto` maximises a value whose name contains `acc`, `auc`, `precision`
/// or `recall` (`accuracy`, `val_binary_accuracy`, `val_auc`, …) and
/// minimises everything else (`loss`, `val_loss`, `mean_absolute_error`, …).
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::MonitorMode;
///
/// assert!(MonitorMode::Auto.maximizes("val_accuracy"));
/// assert!(!MonitorMode::Auto.maximizes("val_loss"));
/// assert!(MonitorMode::Max.maximizes("val_loss"));
/// assert!(!MonitorMode::Min.maximizes("accuracy"));
/// assert_eq!(MonitorMode::default(), MonitorMode::Auto);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MonitorMode {
    /// Decide from the monitored value's name (the default).
    #[default]
    Auto,
    /// Lower is better.
    Min,
    /// Higher is better.
    Max,
}

impl MonitorMode {
    /// Whether higher values of `monitor` count as better in this mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::MonitorMode;
    ///
    /// assert!(MonitorMode::Auto.maximizes("val_precision"));
    /// assert!(MonitorMode::Auto.maximizes("auc"));
    /// assert!(!MonitorMode::Auto.maximizes("mean_absolute_error"));
    /// assert!(!MonitorMode::Min.maximizes("val_accuracy")); // an explicit mode wins
    /// ```
    pub fn maximizes(self, monitor: &str) -> bool {
        match self {
            MonitorMode::Min => false,
            MonitorMode::Max => true,
            MonitorMode::Auto => ["acc", "auc", "precision", "recall"]
                .iter()
                .any(|k| monitor.contains(k)),
        }
    }

    /// Whether `value` of `monitor` improves on `best` by more than
    /// `min_delta`: `value - min_delta >
    /// best` when maximising, `value + min_delta < best` when minimising.
    /// A NaN never improves; with no best yet, any other value does. The one
    /// rule behind `EarlyStopping`, `ReduceLrOnPlateau` and `ModelCheckpoint`.
    pub(crate) fn improves(
        self,
        monitor: &str,
        value: f64,
        best: Option<f64>,
        min_delta: f64,
    ) -> bool {
        match best {
            _ if value.is_nan() => false,
            None => true,
            Some(best) if self.maximizes(monitor) => value - min_delta > best,
            Some(best) => value + min_delta < best,
        }
    }
}

/// The value of `monitor` in `logs`, or an error naming it and the names
/// that are there.
fn monitored(op: &'static str, monitor: &str, logs: &Logs) -> Result<f64> {
    logs.get(monitor).ok_or_else(|| {
        let names: Vec<&str> = logs.iter().map(|(n, _)| n).collect();
        Error::InvalidArgument {
            op,
            message: format!(
                "monitor \"{monitor}\" is not in the logs; available: [{}]",
                names.join(", ")
            ),
        }
    })
}

/// The values logged for a batch or an epoch, in order: `loss`, then each
/// metric, then (at epoch end, with validation data) `val_loss` and each
/// `val_` metric.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::Logs;
///
/// let mut logs = Logs::default();
/// logs.push("loss", 0.5);
/// logs.push("val_loss", 0.7);
/// assert_eq!(logs.get("val_loss"), Some(0.7));
/// assert_eq!(logs.get("accuracy"), None);
/// assert_eq!(logs.iter().count(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    entries: Vec<(String, f64)>,
}

impl Logs {
    /// Appends (or replaces) a named value.
    ///
    /// A name already logged keeps its place; its value is replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    ///
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// logs.push("accuracy", 0.75);
    /// logs.push("loss", 0.25);
    /// assert_eq!(logs.get("loss"), Some(0.25));
    /// let names: Vec<&str> = logs.iter().map(|(name, _)| name).collect();
    /// assert_eq!(names, ["loss", "accuracy"]);
    /// ```
    pub fn push(&mut self, name: impl Into<String>, value: f64) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The value logged under `name`; `None` if nothing was.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    ///
    /// let mut logs = Logs::default();
    /// logs.push("val_loss", 0.7);
    /// assert_eq!(logs.get("val_loss"), Some(0.7));
    /// assert_eq!(logs.get("val_accuracy"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }

    /// The entries in the order they were logged.
    ///
    /// # Examples
    ///
    /// ```
    /// use tapeflow::callbacks::Logs;
    ///
    /// let mut logs = Logs::default();
    /// logs.push("loss", 0.5);
    /// logs.push("val_loss", 0.75);
    /// let entries: Vec<(&str, f64)> = logs.iter().collect();
    /// assert_eq!(entries, [("loss", 0.5), ("val_loss", 0.75)]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), *v))
    }
}

/// What a callback may do to the training in progress.
///
/// [`Sequential::fit`](crate::Sequential::fit) implements it for its loop.
/// Implementing it yourself gives a stand-in for the loop, e.g. to test a
/// callback without training a model.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use tapeflow::callbacks::{Callback, Logs, ReduceLrOnPlateau, TrainingContext};
/// use tapeflow::{Result, Tensor};
///
/// /// A stand-in for the training loop.
/// #[derive(Default)]
/// struct Mock { stop: bool, lr: f64, weights: Vec<Tensor> }
///
/// impl TrainingContext for Mock {
///     fn stop_training(&mut self) { self.stop = true }
///     fn should_stop(&self) -> bool { self.stop }
///     fn learning_rate(&self) -> f64 { self.lr }
///     fn set_learning_rate(&mut self, rate: f64) -> Result<()> { self.lr = rate; Ok(()) }
///     fn get_weights(&self) -> Vec<Tensor> { self.weights.clone() }
///     fn set_weights(&mut self, w: Vec<Tensor>) -> Result<()> { self.weights = w; Ok(()) }
///     fn save(&self, _path: &Path) -> Result<()> { Ok(()) }
/// }
///
/// // Check that a plateau halves the rate, without a model.
/// let mut ctx = Mock { lr: 0.1, ..Mock::default() };
/// let mut cb = ReduceLrOnPlateau::new().monitor("loss").patience(1).factor(0.5);
/// let mut logs = Logs::default();
/// logs.push("loss", 1.0);
/// Callback::<f32>::on_train_begin(&mut cb, &mut ctx)?;
/// for epoch in 0..2 {
///     Callback::<f32>::on_epoch_end(&mut cb, epoch, &logs, &mut ctx)?;
/// }
/// assert_eq!(ctx.learning_rate(), 0.05);
/// assert!(!ctx.should_stop());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub trait TrainingContext<T: Float = f32> {
    /// Asks the loop to stop after the current batch (Keras's
    /// `model.stop_training = True`).
    fn stop_training(&mut self);

    /// Whether a stop has been requested.
    fn should_stop(&self) -> bool;

    /// The optimizer's current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the optimizer's learning rate.
    ///
    /// # Errors
    ///
    /// If the rate is not a finite non-negative number.
    fn set_learning_rate(&mut self, rate: f64) -> Result<()>;

    /// A copy of the model's parameter values, in layer order.
    fn get_weights(&self) -> Vec<Tensor<T>>;

    /// Replaces the model's parameter values, in layer order.
    ///
    /// # Errors
    ///
    /// If the count or a shape differs from the model's.
    fn set_weights(&mut self, weights: Vec<Tensor<T>>) -> Result<()>;

    /// Saves the whole model to `path` (used by `ModelCheckpoint`).
    ///
    /// # Errors
    ///
    /// If the file cannot be written.
    fn save(&self, path: &std::path::Path) -> Result<()>;

    /// Saves the model's weights alone to `path` (`ModelCheckpoint` with
    /// `save_weights_only`). By default it saves the whole model, which
    /// `load_weights` reads too.
    ///
    /// # Errors
    ///
    /// If the file cannot be written.
    fn save_weights(&self, path: &std::path::Path) -> Result<()> {
        self.save(path)
    }
}

/// A hook into the training loop; every method does nothing by default.
///
/// Epochs and batches are numbered from 0.
///
/// # Examples
///
/// ```
/// use tapeflow::callbacks::{Callback, Logs, TrainingContext};
///
/// /// Stops once the loss falls below a target.
/// struct StopBelow(f64);
///
/// impl Callback for StopBelow {
///     fn on_epoch_end(&mut self, _epoch: usize, logs: &Logs, ctx: &mut dyn TrainingContext) -> tapeflow::Result<()> {
///         if logs.get("loss").is_some_and(|l| l < self.0) {
///             ctx.stop_training();
///         }
///         Ok(())
///     }
/// }
/// let _cb: Box<dyn Callback> = Box::new(StopBelow(1e-3));
/// ```
pub trait Callback<T: Float = f32> {
    /// Before the first epoch.
    ///
    /// # Errors
    ///
    /// An error stops training and is returned by `fit`.
    fn on_train_begin(&mut self, ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Before each epoch.
    ///
    /// # Errors
    ///
    /// An error stops training and is returned by `fit`.
    fn on_epoch_begin(&mut self, epoch: usize, ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        let _ = (epoch, ctx);
        Ok(())
    }

    /// After each training batch, with its `loss` and metrics so far in the
    /// epoch. Called before the update is applied when the loss is not
    /// finite, so a callback that stops training then keeps the weights.
    ///
    /// # Errors
    ///
    /// An error stops training and is returned by `fit`.
    fn on_batch_end(
        &mut self,
        batch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        let _ = (batch, logs, ctx);
        Ok(())
    }

    /// After each epoch (and its validation), with the epoch's logs.
    ///
    /// # Errors
    ///
    /// An error stops training and is returned by `fit`.
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &Logs,
        ctx: &mut dyn TrainingContext<T>,
    ) -> Result<()> {
        let _ = (epoch, logs, ctx);
        Ok(())
    }

    /// After the last epoch, or when training stops early.
    ///
    /// # Errors
    ///
    /// An error is returned by `fit`.
    fn on_train_end(&mut self, ctx: &mut dyn TrainingContext<T>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }
}
